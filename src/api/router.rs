//! The route table (each route's path and method come from its handler's `#[utoipa::path]`,
//! so the router and the OpenAPI document are built from one list) and the middleware every
//! request passes.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::ApiDoc;
use super::{
    audit, auth, calibration, cameras, config, events, evidence, inc, live, metrics, openapi, users,
};
use super::{ApiError, AppState};

/// Every `/api/v1` route, with its part of the OpenAPI document.
pub(crate) fn v1() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::add_user, users::list_users))
        .routes(routes!(users::patch_user, users::delete_user))
        .routes(routes!(users::set_password))
        .routes(routes!(users::change_own_password))
        .routes(routes!(users::revoke_user_tokens))
        .routes(routes!(users::list_tokens))
        .routes(routes!(users::revoke_token))
        .routes(routes!(cameras::list_cameras))
        .routes(routes!(cameras::camera_status))
        .routes(routes!(cameras::camera_health))
        .routes(routes!(cameras::camera_thumbnail))
        .routes(routes!(cameras::camera_snapshot))
        .routes(routes!(calibration::post_calibration))
        .routes(routes!(calibration::get_coverage))
        .routes(routes!(config::config_get))
        .routes(routes!(config::config_reload))
        .routes(routes!(events::list_events))
        .routes(routes!(live::stream_events))
        .routes(routes!(events::get_event))
        .routes(routes!(evidence::clip))
        .routes(routes!(evidence::snapshot))
        .routes(routes!(evidence::trajectory))
        .routes(routes!(events::ack))
        .routes(routes!(events::false_alarm))
        .routes(routes!(events::note))
        .routes(routes!(audit::audit_list))
        .routes(routes!(audit::audit_verify))
        .routes(routes!(metrics::healthz))
        .routes(routes!(metrics::metrics))
        .routes(routes!(openapi::openapi))
}

/// Routes also served outside `/api/v1`, for probes and scrapers that expect them at the root;
/// each is the `/api/v1` route of the same path (the drift test checks both lists).
#[cfg(test)]
pub(crate) const ROOT_ALIASES: &[&str] = &["/healthz", "/metrics"];

/// Build the router: `/api/v1/...`, plus `/healthz` and `/metrics` at the root.
pub fn router(state: AppState) -> Router {
    let timeout = Duration::from_secs_f64(state.config.request_timeout_s.clamp(0.1, 3600.0));
    let (v1, _doc) = v1().split_for_parts();
    Router::new()
        .nest("/api/v1", v1)
        .route("/healthz", get(metrics::healthz))
        .route("/metrics", get(metrics::metrics))
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            (state.clone(), timeout),
            guard,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            ApiError::internal("internal error").into_response()
        }))
        .with_state(state)
}

/// Per-request time limit (as a JSON 503), body size limit for every route, request counting.
///
/// The body is read in full before routing so that a request refused early (401, 403,
/// 404) still leaves the connection clean for keep-alive clients.
async fn guard(
    State((state, timeout)): State<(AppState, Duration)>,
    req: Request,
    next: Next,
) -> Response {
    inc(&state.bus.metrics.http_requests);
    let (parts, body) = req.into_parts();
    let limit = state.config.max_body_bytes;
    let run = async move {
        let bytes = match axum::body::to_bytes(body, limit).await {
            Ok(b) => b,
            Err(_) => {
                let mut r = ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    "request body too large",
                )
                .into_response();
                // The rest of the body is unread: the connection cannot be reused.
                r.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                return r;
            }
        };
        next.run(Request::from_parts(parts, Body::from(bytes)))
            .await
    };
    match tokio::time::timeout(timeout, run).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "request timed out",
        )
        .into_response(),
    }
}

async fn fallback() -> ApiError {
    ApiError::not_found("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed",
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use axum::http::Method;
    use tower::ServiceExt;

    use super::*;
    use crate::service::{EventBus, SharedCameras};
    use crate::store::Store;

    /// The `(method, path)` pairs the OpenAPI document lists, with the `/api/v1` prefix.
    fn documented() -> BTreeSet<(String, String)> {
        let doc = crate::api::openapi_document();
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths").iter() {
            for method in item.as_object().expect("path item").keys() {
                out.insert((method.to_uppercase(), format!("/api/v1{path}")));
            }
        }
        out
    }

    /// The paths registered in an axum router. axum has no public list, but its `Debug` output
    /// prints each route's path as a quoted string beginning with `/` (nested routers are
    /// flattened into it), the routes first, then the fallback router's.
    fn registered_paths(r: &Router) -> BTreeSet<String> {
        let dbg = format!("{r:?}");
        let routes = dbg.split("fallback_router").next().unwrap_or_default();
        routes
            .split('"')
            .skip(1)
            .step_by(2)
            .filter(|s| s.starts_with('/'))
            .map(str::to_string)
            .collect()
    }

    fn concrete(path: &str) -> String {
        path.replace("{name}", "cam").replace("{id}", "1")
    }

    async fn answer(r: &Router, method: &Method, path: &str) -> (StatusCode, String) {
        let req = Request::builder()
            .method(method)
            .uri(concrete(path))
            .body(Body::empty())
            .expect("request");
        let resp = r.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// Every route the router serves is in the OpenAPI document and every documented operation
    /// is served, method and path, so the document cannot drift from the code.
    #[tokio::test]
    async fn router_and_document_agree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path().join("vigil.db")).expect("store");
        let state = AppState::new(
            store,
            EventBus::new(16),
            Arc::new(SharedCameras::default()),
            crate::config::service::ApiConfig::default(),
        );
        let r = router(state);
        let doc = documented();
        let doc_paths: BTreeSet<String> = doc.iter().map(|(_, p)| p.clone()).collect();
        let aliases: BTreeSet<String> = ROOT_ALIASES.iter().map(|s| s.to_string()).collect();

        let paths = registered_paths(&r);
        assert!(paths.len() > 10, "router paths not found in {paths:?}");
        let expected: BTreeSet<String> = doc_paths.union(&aliases).cloned().collect();
        assert_eq!(
            paths, expected,
            "router paths vs documented paths + root aliases"
        );
        for a in ROOT_ALIASES {
            assert!(
                doc_paths.contains(&format!("/api/v1{a}")),
                "alias {a} undocumented"
            );
        }

        // Methods: each registered path answers exactly the documented methods; any other
        // method gets the router's 405.
        let methods = [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
        ];
        for path in &paths {
            let v1 = if path.starts_with("/api/v1") {
                path.clone()
            } else {
                format!("/api/v1{path}")
            };
            for m in &methods {
                let (status, body) = answer(&r, m, path).await;
                assert!(
                    !body.contains("no such route"),
                    "{m} {path}: fell through to the fallback"
                );
                let served = !(status == StatusCode::METHOD_NOT_ALLOWED
                    && body.contains("method_not_allowed"));
                let listed = doc.contains(&(m.to_string(), v1.clone()));
                assert_eq!(
                    served, listed,
                    "{m} {path}: served {served}, documented {listed}"
                );
            }
        }
    }
}
