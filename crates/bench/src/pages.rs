//! The web interface's pages (issue 4): server time per page and what a page transfers.
//!
//! Signs in through the sign-in form like a browser (cookie session, anti-forgery token),
//! then requests the worklist, list pages (the same filter and search shapes as the API list
//! runs), and case pages, measuring each request's latency on loopback. Sizes: the bytes of
//! each page's HTML, plus, for a first load, the stylesheet and script it references (later
//! loads take those from the browser's cache: they are served immutable).

use anyhow::{Context, Result, bail};
use serde::Serialize;

/// A signed-in browser session.
#[derive(Clone)]
pub struct Session {
    pub cookie: String,
}

fn attr_after<'a>(html: &'a str, marker: &str) -> Option<&'a str> {
    let i = html.find(marker)? + marker.len();
    let rest = &html[i..];
    Some(&rest[..rest.find('"')?])
}

/// Signs in through `/login` (no second factor: the account must not need one).
pub async fn sign_in(_: &reqwest::Client, base: &str, user: &str, password: &str) -> Result<Session> {
    // The session cookie comes with the redirect: do not follow it.
    let client = &reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let r = client.get(format!("{base}/login")).send().await?;
    let pre = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("__Host-enlace-pre="))
        .and_then(|c| c.split(';').next())
        .context("no anti-forgery cookie")?
        .to_string();
    let html = r.text().await?;
    let token = attr_after(&html, "name=\"_csrf\" value=\"").context("no token in the form")?.to_string();
    let body = serde_urlencoded::to_string([
        ("_csrf", token.as_str()),
        ("username", user),
        ("password", password),
        ("next", "/"),
    ])?;
    let r = client
        .post(format!("{base}/login"))
        .header("cookie", &pre)
        .header("origin", base)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await?;
    if r.status().as_u16() != 303 {
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        let why = body.split("role=\"alert\"").nth(1).unwrap_or(&body);
        bail!("sign-in of {user} through the form failed: {status}: {}", &why[..why.len().min(300)]);
    }
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("__Host-enlace-session="))
        .and_then(|c| c.split(';').next())
        .context("no session cookie")?
        .to_string();
    Ok(Session { cookie: session })
}

/// The transfer of one page: its HTML, and the assets a first load also fetches.
#[derive(Debug, Clone, Serialize)]
pub struct PageSize {
    pub page: String,
    pub html_bytes: usize,
    pub first_load_bytes: usize,
    pub later_load_bytes: usize,
    /// Requests a first load makes (the page and its assets; no request for data).
    pub first_load_requests: usize,
}

/// Measures what each page transfers (uncompressed: the client asks for no encoding).
pub async fn sizes(
    client: &reqwest::Client,
    base: &str,
    s: &Session,
    pages: &[(&str, String)],
) -> Result<Vec<PageSize>> {
    let mut out = Vec::new();
    for (name, path) in pages {
        let r = client.get(format!("{base}{path}")).header("cookie", &s.cookie).send().await?;
        if !r.status().is_success() {
            bail!("{path}: {}", r.status());
        }
        let html = r.text().await?;
        let mut assets = Vec::new();
        for marker in ["<link rel=\"stylesheet\" href=\"", "<script src=\""] {
            let mut rest = html.as_str();
            while let Some(i) = rest.find(marker) {
                let after = &rest[i + marker.len()..];
                let end = after.find('"').unwrap_or(0);
                assets.push(after[..end].to_string());
                rest = &after[end..];
            }
        }
        let mut total = html.len();
        for a in &assets {
            let b = client.get(format!("{base}{a}")).send().await?.bytes().await?;
            total += b.len();
        }
        out.push(PageSize {
            page: name.to_string(),
            html_bytes: html.len(),
            first_load_bytes: total,
            later_load_bytes: html.len(),
            first_load_requests: 1 + assets.len(),
        });
    }
    Ok(out)
}
