//! What operators see of the node (issue 9): a request id and one log line per request, and
//! `GET /metrics` in the OpenMetrics text format that Prometheus scrapes.
//!
//! Requests are counted and timed by method, route *template* (`/api/v1/cases/{id}`, never
//! the path itself: paths and queries may hold names) and status. At each scrape the app's
//! numbers are read: the federation outbox by state (its backlog and dead letters), the
//! database's connection pools, failed sign-ins. Nothing here is about a person.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use enlace_app::App;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tracing::Instrument;

/// The header carrying a request's id (taken from the client when it is a plain token).
pub const REQUEST_ID: &str = "x-request-id";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: String,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// The node's metrics: those the requests feed, and those read from the app at each scrape.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    outbox: Family<StateLabels, Gauge>,
    pool_open: Family<PoolLabels, Gauge>,
    pool_idle: Family<PoolLabels, Gauge>,
    login_failures: Gauge,
    /// One scrape at a time sets the gauges and encodes them.
    scrape: Mutex<()>,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("enlace");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            requests.clone(),
        );
        let latency =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register("http_request_duration_seconds", "Time to answer a request", latency.clone());
        let outbox = Family::<StateLabels, Gauge>::default();
        registry.register(
            "federation_outbox_messages",
            "Federation messages in the outbox by state (pending: the backlog; dead: dead letters)",
            outbox.clone(),
        );
        let pool_open = Family::<PoolLabels, Gauge>::default();
        registry.register("db_pool_connections", "Database connections open, by pool", pool_open.clone());
        let pool_idle = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_idle_connections",
            "Database connections idle, by pool",
            pool_idle.clone(),
        );
        let login_failures = Gauge::default();
        registry.register(
            "login_failures",
            "Failed sign-ins since the process started (each is in the audit log)",
            login_failures.clone(),
        );
        Arc::new(Metrics {
            registry,
            requests,
            latency,
            outbox,
            pool_open,
            pool_idle,
            login_failures,
            scrape: Mutex::new(()),
        })
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let (method, route) = (method.to_string(), route.to_string());
        self.latency
            .get_or_create(&RouteLabels { method: method.clone(), route: route.clone() })
            .observe(seconds);
        self.requests.get_or_create(&RequestLabels { method, route, status: status.to_string() }).inc();
    }

    /// The metrics as text, the app's numbers read now.
    async fn render(&self, app: &App) -> Result<String, enlace_app::AppError> {
        let ops = app.ops_snapshot().await?;
        let _one = self.scrape.lock().expect("scrape lock");
        // States no longer present read 0 (a backlog that drained).
        for s in ["pending", "sent", "dead"] {
            self.outbox.get_or_create(&StateLabels { state: s.into() }).set(0);
        }
        for (state, n) in &ops.outbox {
            self.outbox.get_or_create(&StateLabels { state: state.clone() }).set(*n);
        }
        for p in &ops.pools {
            self.pool_open.get_or_create(&PoolLabels { pool: p.name.into() }).set(i64::from(p.size));
            self.pool_idle.get_or_create(&PoolLabels { pool: p.name.into() }).set(i64::from(p.idle));
        }
        self.login_failures.set(i64::try_from(ops.login_failures).unwrap_or(i64::MAX));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .map_err(|e| enlace_app::AppError::Rule(format!("cannot encode the metrics: {e}")))?;
        Ok(out)
    }
}

/// A client's request id when it is a plain token (letters, digits, `-`, `_`, `.`; at most
/// 64), else a new UUIDv7.
fn request_id(req: &Request) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// Gives each request an id (in its log span and its answer's `x-request-id`), counts and
/// times it, and logs one line when it is answered: method, route template, status, time.
pub async fn track(State(m): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = request_id(&req);
    let method = req.method().to_string();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    let route = route.unwrap_or_else(|| "unmatched".to_string());
    let span = tracing::info_span!("request", id = %id, method = %method, route = %route);
    let mut res = next.run(req).instrument(span.clone()).await;
    let seconds = start.elapsed().as_secs_f64();
    let status = res.status().as_u16();
    m.observe(&method, &route, status, seconds);
    span.in_scope(|| {
        let ms = (seconds * 1000.0 * 10.0).round() / 10.0;
        if matches!(route.as_str(), "/healthz" | "/readyz" | "/metrics") {
            tracing::debug!(status, ms, "answered");
        } else {
            tracing::info!(status, ms, "answered");
        }
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    res
}

/// `GET /metrics`: the node's metrics in the OpenMetrics text format.
#[utoipa::path(get, path = "/metrics", tag = "meta",
    responses((status = 200, description = "The metrics (OpenMetrics text format)", content_type = "application/openmetrics-text")))]
pub async fn metrics(State((m, app)): State<(Arc<Metrics>, App)>) -> Response {
    match m.render(&app).await {
        Ok(text) => {
            ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text)
                .into_response()
        }
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}
