//! The web console for security staff: static assets compiled into the binary.
//!
//! `router()` serves the single page at `/` (and `/console/`) and its assets under
//! `/console/`. Everything the page shows comes from the HTTP API under `/api/v1`, which is
//! merged beside this router by `vigil serve`; the console holds no state of its own. The
//! one thing the API does not say is the node's time zone, so `/console/node.json` tells it
//! (the page shows every time in the node's zone, with its UTC offset).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Offset;

/// One embedded file.
struct Asset {
    path: &'static str,
    mime: &'static str,
    body: &'static str,
}

const INDEX_HTML: &str = include_str!("assets/index.html");

const ASSETS: &[Asset] = &[
    Asset {
        path: "app.js",
        mime: "text/javascript; charset=utf-8",
        body: include_str!("assets/app.js"),
    },
    Asset {
        path: "app.css",
        mime: "text/css; charset=utf-8",
        body: include_str!("assets/app.css"),
    },
    Asset {
        path: "i18n.js",
        mime: "text/javascript; charset=utf-8",
        body: include_str!("assets/i18n.js"),
    },
    Asset {
        path: "sound.js",
        mime: "text/javascript; charset=utf-8",
        body: include_str!("assets/sound.js"),
    },
    Asset {
        path: "favicon.svg",
        mime: "image/svg+xml",
        body: include_str!("assets/favicon.svg"),
    },
];

/// Only our own origin: no CDN, no inline script; media and pictures come from the API.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; media-src 'self'; connect-src 'self'; \
object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Routes for the console. Merge it with the API router: `api.merge(console::router())`.
pub fn router() -> Router {
    Router::new()
        .route("/", get(index))
        .route("/console", get(index))
        .route("/console/", get(index))
        .route("/console/node.json", get(node_info))
        .route("/console/{file}", get(asset))
}

/// Names of the embedded assets (for tests and the README).
pub fn asset_names() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|a| a.path)
}

async fn index() -> Response {
    with_headers(
        StatusCode::OK,
        "text/html; charset=utf-8",
        INDEX_HTML,
        // The page names its assets by version query, so the page itself must not be cached.
        "no-cache",
    )
}

async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.path == file) {
        Some(a) => with_headers(StatusCode::OK, a.mime, a.body, "no-cache"),
        None => with_headers(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found",
            "no-store",
        ),
    }
}

/// The node's current UTC offset and, when the environment names it, its IANA zone.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NodeInfo {
    pub utc_offset_s: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    pub version: &'static str,
}

/// What `/console/node.json` reports.
pub fn node_info_now() -> NodeInfo {
    let utc_offset_s = chrono::Local::now().offset().fix().local_minus_utc();
    // An IANA name lets the browser apply daylight-saving rules; an offset alone cannot.
    let tz = std::env::var("TZ")
        .ok()
        .map(|t| t.trim_start_matches(':').to_string())
        .filter(|t| t.contains('/') && !t.starts_with('/'))
        .or_else(|| {
            std::fs::read_to_string("/etc/timezone")
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|t| t.contains('/'))
        });
    NodeInfo {
        utc_offset_s,
        tz,
        version: env!("CARGO_PKG_VERSION"),
    }
}

async fn node_info() -> Response {
    let body = serde_json::to_string(&node_info_now()).unwrap_or_else(|_| "{}".into());
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn with_headers(
    status: StatusCode,
    mime: &'static str,
    body: &'static str,
    cache: &'static str,
) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_are_not_empty_and_index_names_them() {
        for a in ASSETS {
            assert!(!a.body.trim().is_empty(), "{} is empty", a.path);
            if a.path != "favicon.svg" {
                assert!(
                    INDEX_HTML.contains(&format!("/console/{}", a.path)),
                    "index.html does not load {}",
                    a.path
                );
            }
        }
    }

    #[test]
    fn no_external_urls_in_assets() {
        // The console must work in a control room without internet.
        for body in ASSETS.iter().map(|a| a.body).chain([INDEX_HTML]) {
            for bad in ["http://", "https://", "//cdn", "@import"] {
                let hits: Vec<&str> = body
                    .lines()
                    .filter(|l| l.contains(bad) && !l.contains("www.w3.org/2000/svg"))
                    .collect();
                assert!(hits.is_empty(), "external reference {bad}: {hits:?}");
            }
        }
    }

    #[test]
    fn node_info_offset_is_sane() {
        let n = node_info_now();
        assert!(n.utc_offset_s.abs() <= 14 * 3600);
    }
}
