//! Test harness: a real node on port 0 against a fresh database, on SQLite or PostgreSQL.
//!
//! PostgreSQL comes from `ENLACE_TEST_PG_URL` (default: the local server with trust auth).
//! Without it the PostgreSQL half is skipped with a loud message, unless
//! `ENLACE_REQUIRE_POSTGRES=1` (set by `.ci/run`), which makes a missing server a failure.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use enlace_app::auth::NewUser;
use enlace_app::{App, Db, Settings};
use enlace_domain::country::CountryCode;
use enlace_domain::post::PostCode;
use enlace_domain::role::Role;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const PASSWORD: &str = "una clave de prueba";

pub fn pg_admin_url() -> String {
    std::env::var("ENLACE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn pg_required() -> bool {
    std::env::var("ENLACE_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

/// Writes to the real stderr, past the test runner's capture.
fn loud(msg: &str) {
    let _ = std::io::stderr().write_all(msg.as_bytes());
}

static PG_WARNED: OnceLock<()> = OnceLock::new();

pub struct TestDb {
    pub url: Option<String>,
    pub dir: tempfile::TempDir,
    pg_name: Option<String>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Drop the per-test database on a thread of its own: Drop cannot await.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                rt.block_on(async {
                    use sqlx::Connection;
                    if let Ok(mut c) = sqlx::PgConnection::connect(&pg_admin_url()).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        )))
                        .execute(&mut c)
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh, empty database; `None` when PostgreSQL is wanted but not there (and not required).
pub async fn fresh_db(backend: Backend) -> Option<TestDb> {
    let dir = tempfile::tempdir().expect("temp dir");
    match backend {
        Backend::Sqlite => Some(TestDb { url: None, dir, pg_name: None }),
        Backend::Postgres => {
            use sqlx::Connection;
            let admin = pg_admin_url();
            let mut c = match sqlx::PgConnection::connect(&admin).await {
                Ok(c) => c,
                Err(e) if !pg_required() => {
                    PG_WARNED.get_or_init(|| {
                        loud(&format!(
                            "\n*** WARNING: PostgreSQL is not reachable at {admin} ({e}).\n\
                             *** The PostgreSQL half of the storage tests was NOT run.\n\
                             *** Start PostgreSQL or set ENLACE_TEST_PG_URL; CI sets ENLACE_REQUIRE_POSTGRES=1.\n\n"
                        ))
                    });
                    return None;
                }
                Err(e) => panic!(
                    "PostgreSQL is required (ENLACE_REQUIRE_POSTGRES=1) but not reachable at {admin}: {e}"
                ),
            };
            let name = format!(
                "enlace_it_{}_{}_{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::SeqCst),
                fastrand::u32(..)
            );
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                .execute(&mut c)
                .await
                .expect("create test database");
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b).to_string();
            Some(TestDb { url: Some(format!("{base}/{name}")), dir, pg_name: Some(name) })
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub app: App,
    /// Kept for the life of the node: dropping it removes the database.
    #[allow(dead_code)]
    pub db: TestDb,
    shutdown: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.lock().expect("lock").take() {
            let _ = tx.send(());
        }
    }
}

/// Starts a node on 127.0.0.1:0 over a fresh database, with one user per role for HN, a GT
/// supervisor and officers at HN-TAPACHULA and GT-TAPACHULA.
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    // Two-factor enrolment is enforced in its own tests (tests/it/mfa.rs); here the
    // harness's supervisors, administrators and auditors sign in with passwords only.
    spawn_app_with(backend, Settings { enforce_mfa: false, ..Settings::default() }).await
}

/// [`spawn_app`] with other settings (short session timeouts, say).
pub async fn spawn_app_with(backend: Backend, settings: Settings) -> Option<TestApp> {
    spawn_node(backend, settings, None).await
}

/// [`spawn_app_with`], serving `/fed/v1` over mutual TLS with `tls` on the same port when given.
pub async fn spawn_node(
    backend: Backend,
    settings: Settings,
    tls: Option<enlace_net::TlsIdentity>,
) -> Option<TestApp> {
    let db = fresh_db(backend).await?;
    let database = Db::connect(db.url.as_deref(), db.dir.path()).await.expect("connect");
    let app = App::new(database, settings);
    app.prepare().await.expect("prepare");
    let users: &[(&str, Role, &str, Option<&str>)] = &[
        ("officer.hn", Role::ConsularOfficer, "HN", Some("HN-TAPACHULA")),
        ("officer.hn2", Role::ConsularOfficer, "HN", Some("HN-HOUSTON")),
        ("officer.gt", Role::ConsularOfficer, "GT", Some("GT-TAPACHULA")),
        ("supervisor.hn", Role::ProtectionSupervisor, "HN", None),
        ("supervisor.gt", Role::ProtectionSupervisor, "GT", None),
        ("admin.hn", Role::CountryAdministrator, "HN", None),
        ("liaison.hn", Role::LiaisonOfficer, "HN", None),
        ("auditor.hn", Role::Auditor, "HN", None),
        ("analyst", Role::RegionalAnalyst, "HN", None),
        ("partner", Role::CivilSocietyPartner, "HN", None),
    ];
    for (u, role, state, post) in users {
        app.create_user(
            None,
            NewUser {
                username: u.to_string(),
                display_name: None,
                role: *role,
                state: CountryCode::parse(state).unwrap(),
                post: post.map(|p| PostCode::parse(p).unwrap()),
                password: PASSWORD.into(),
                sensitive_access: *role == Role::ProtectionSupervisor,
            },
        )
        .await
        .expect("create user");
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let served = app.clone();
    tokio::spawn(async move {
        let shutdown = async {
            let _ = rx.await;
        };
        match tls {
            Some(identity) => enlace_web::serve_federated(listener, served, identity, shutdown).await,
            None => enlace_web::serve(listener, served, shutdown).await,
        }
        .expect("serve");
    });
    Some(TestApp {
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
        app,
        db,
        shutdown: Mutex::new(Some(tx)),
    })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A bearer token for a user of the harness.
    pub async fn token(&self, username: &str) -> String {
        let r = self
            .client
            .post(self.url("/api/v1/auth/token"))
            .json(&json!({"username": username, "password": PASSWORD}))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200, "login of {username}");
        r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string()
    }

    pub async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        let r = self.client.get(self.url(path)).bearer_auth(token).send().await.expect("send");
        let status = r.status().as_u16();
        (status, r.json::<Value>().await.unwrap_or(Value::Null))
    }

    pub async fn send(&self, method: &str, token: &str, path: &str, body: &Value) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r =
            self.client.request(m, self.url(path)).bearer_auth(token).json(body).send().await.expect("send");
        let status = r.status().as_u16();
        (status, r.json::<Value>().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> (u16, Value) {
        self.send("POST", token, path, body).await
    }

    /// A POST whose answer is a file: status, headers and the bytes.
    pub async fn post_for_bytes(
        &self,
        token: &str,
        path: &str,
        body: &Value,
    ) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let r = self.client.post(self.url(path)).bearer_auth(token).json(body).send().await.expect("send");
        let (status, headers) = (r.status().as_u16(), r.headers().clone());
        (status, headers, r.bytes().await.expect("body").to_vec())
    }

    /// Creates a case and returns its JSON, asserting 201.
    pub async fn create_case(&self, token: &str, body: &Value) -> Value {
        let (s, v) = self.post(token, "/api/v1/cases", body).await;
        assert_eq!(s, 201, "create case: {v}");
        v
    }

    /// Adds HN's second supervisor, `supervisor.hn.b`, without the sensitive-data permission.
    pub async fn add_supervisor_without_sensitive_access(&self) {
        self.app
            .create_user(
                None,
                NewUser {
                    username: "supervisor.hn.b".into(),
                    display_name: None,
                    role: Role::ProtectionSupervisor,
                    state: CountryCode::parse("HN").unwrap(),
                    post: None,
                    password: PASSWORD.into(),
                    sensitive_access: false,
                },
            )
            .await
            .expect("create supervisor.hn.b");
    }

    /// How many audit events the node holds.
    pub async fn audit_len(&self) -> usize {
        self.audit_actions().await.len()
    }

    /// The actions of every audit event, in chain order.
    pub async fn audit_actions(&self) -> Vec<String> {
        self.app.flush_audit().await.unwrap();
        let events = enlace_store::audit::events_after(self.app.db(), 0, 1_000_000).await.unwrap();
        events.into_iter().map(|e| e.event.action).collect()
    }

    /// How many audit events record a change (not a read, a listing or a denial).
    pub async fn change_events(&self) -> usize {
        self.audit_actions().await.iter().filter(|a| !is_read_or_denial(a)).count()
    }
}

/// Audit actions that record reading or a refused attempt rather than a change.
pub fn is_read_or_denial(action: &str) -> bool {
    matches!(
        action,
        "case.read"
            | "case.list"
            | "audit.view"
            | "audit.export"
            | "access.denied"
            | "person.candidates"
            | "match.list"
    )
}

/// A valid new-case body for a Honduran adult in Mexico, with the given names.
pub fn new_case(given: &[&str], surnames: &[&str]) -> Value {
    json!({
        "person": {"given_names": given, "surnames": surnames, "sex": "female",
                   "birth": {"kind": "year", "year": 1990}, "nationalities": ["HN"]},
        "host_state": "MX", "category": "migration", "subtype": "documentation",
        "protection": {"state": "accepted", "at": "2026-01-05T10:00:00Z"},
        "legal_basis": "consent"
    })
}

/// Runs an async test body against both backends.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if let Some(app) = $crate::harness::spawn_app($crate::harness::Backend::Sqlite).await {
                        super::$name(app).await;
                    }
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = $crate::harness::spawn_app($crate::harness::Backend::Postgres).await {
                        super::$name(app).await;
                    }
                }
            }
        )+
    };
}

/// A PDF checked by `qpdf --check` (its structure), and its text as `pdftotext -layout`
/// extracts it (a table row on one line). Both tools (Debian's qpdf and poppler-utils) are
/// installed by `.ci/run`; without them this fails, naming them.
pub fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("report.pdf");
    std::fs::write(&file, pdf).expect("write the PDF");
    let run = |program: &str, args: &[&std::ffi::OsStr]| {
        std::process::Command::new(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program} (apt-get install qpdf poppler-utils): {e}"))
    };
    let check = run("qpdf", &["--check".as_ref(), file.as_os_str()]);
    let said = String::from_utf8_lossy(&check.stdout).into_owned() + &String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "qpdf --check refuses the PDF:\n{said}");
    assert!(said.contains("No syntax or stream encoding errors"), "qpdf --check:\n{said}");
    let text = run(
        "pdftotext",
        &["-layout".as_ref(), "-enc".as_ref(), "UTF-8".as_ref(), file.as_os_str(), "-".as_ref()],
    );
    assert!(text.status.success(), "pdftotext: {}", String::from_utf8_lossy(&text.stderr));
    String::from_utf8(text.stdout).expect("pdftotext writes UTF-8")
}

/// A one-page PDF showing `lines` in Helvetica (WinAnsi: Spanish and French accents), with a
/// correct cross-reference table: what a word processor's "save as PDF" gives, in small.
pub fn pdf_with_text(lines: &[&str]) -> Vec<u8> {
    padded_pdf(lines, 0)
}

/// [`pdf_with_text`], made `pad` bytes larger by a comment after its header (as images would).
pub fn padded_pdf(lines: &[&str], pad: usize) -> Vec<u8> {
    let escape = |l: &str| -> String {
        l.chars()
            .map(|c| match c {
                '(' | ')' | '\\' => format!("\\{c}"),
                ' '..='~' => c.to_string(),
                c if (c as u32) < 256 => format!("\\{:03o}", c as u32),
                _ => "?".to_string(),
            })
            .collect()
    };
    let mut content = String::from("BT /F1 12 Tf 72 720 Td 16 TL\n");
    for l in lines {
        content += &format!("({}) Tj T*\n", escape(l));
    }
    content += "ET";
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
            .to_string(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_string(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    if pad > 0 {
        out.push(b'%');
        out.resize(out.len() + pad, b'x');
        out.push(b'\n');
    }
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for o in offsets {
        table += &format!("{o:010} 00000 n \n");
    }
    out.extend_from_slice(table.as_bytes());
    out.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1)
            .as_bytes(),
    );
    out
}

/// A Word document (DOCX) with `paragraphs`, as small as Word still opens.
pub fn docx_with_text(paragraphs: &[&str]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    zip.start_file("[Content_Types].xml", opts).unwrap();
    zip.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#).unwrap();
    zip.start_file("word/document.xml", opts).unwrap();
    let body: String = paragraphs.iter().map(|p| format!("<w:p><w:r><w:t>{p}</w:t></w:r></w:p>")).collect();
    write!(zip, r#"<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>"#).unwrap();
    zip.finish().unwrap().into_inner()
}

/// A 1×1 PNG image.
pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\xdac\xf8\x0f\x04\0\0\t\xfb\x03\xfd\x2a\x86\xe3\x77\0\0\0\0IEND\xaeB`\x82";

/// `text` with every run of white space (line breaks and no-break spaces included) as one
/// space, to find a phrase however it was wrapped or spaced.
pub fn squeeze(text: &str) -> String {
    text.split(|c: char| c.is_whitespace()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// The lines of a report's text that start with `label` (a table row or a chart bar), and
/// the figures on them: each must be 0 or at least 5 (smaller counts are suppressed, "—").
/// Returns how many of those lines show the suppression mark.
pub fn rows_with_suppression(text: &str, label: &str) -> usize {
    let mut marked = 0;
    for line in text.lines().filter(|l| l.trim_start().starts_with(label)) {
        let rest = &line.trim_start()[label.len()..];
        for word in rest.split_whitespace() {
            if let Ok(n) = word.replace([',', '\u{a0}', '\u{202f}'], "").parse::<u64>() {
                assert!(n == 0 || n >= 5, "a small count in the PDF: {line:?}");
            }
        }
        if rest.contains('—') {
            marked += 1;
        }
    }
    marked
}

/// An XLSX workbook's sheet names (in order) and its shared strings (every text cell), read
/// from the zip it is; fails when it is not a workbook.
pub fn xlsx_text(book: &[u8]) -> (Vec<String>, String) {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(book)).expect("an XLSX is a zip");
    let mut workbook = String::new();
    zip.by_name("xl/workbook.xml").expect("a workbook part").read_to_string(&mut workbook).unwrap();
    let sheets = workbook
        .split("<sheet ")
        .skip(1)
        .filter_map(|s| s.split("name=\"").nth(1).and_then(|n| n.split('"').next()))
        .map(|n| n.replace("&amp;", "&").replace("&apos;", "'").replace("&quot;", "\""))
        .collect();
    let mut strings = String::new();
    if let Ok(mut part) = zip.by_name("xl/sharedStrings.xml") {
        part.read_to_string(&mut strings).unwrap();
    }
    (sheets, strings)
}
