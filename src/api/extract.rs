//! What every resource's handlers share: running store work off the async threads, the role
//! check (refusals audited), and JSON body / query parsing that answers with JSON errors.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::Query;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use super::{ApiError, AppState};
use crate::audit::{self, AuditEntry};
use crate::auth::{Action, Principal};

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// Run blocking store work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> ApiResult<T> {
    crate::service::blocking(f, ApiError::internal).await
}

/// Check a permission; refusals are audited.
pub(crate) async fn require(
    state: &AppState,
    p: &Principal,
    action: Action,
    target: &str,
) -> ApiResult<()> {
    if p.role.allows(action) {
        return Ok(());
    }
    let entry = AuditEntry::new(&p.name, p.role.as_str(), "denied", target)
        .detail(serde_json::json!({ "wanted": format!("{action:?}") }));
    let store = state.store.clone();
    blocking(move || audit::append(&store, &entry).map_err(ApiError::from)).await?;
    Err(ApiError::forbidden(format!(
        "role {} may not {action:?}",
        p.role.as_str()
    )))
}

/// A JSON body (`Content-Type: application/json`); `Ok(None)` for an empty body when
/// `allow_empty`.
pub(crate) fn parse_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    allow_empty: bool,
) -> ApiResult<Option<T>> {
    let body = body.map_err(|e| {
        let status = e.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(status, "too_large", "request body too large")
        } else {
            ApiError::new(status, "bad_body", e.body_text())
        }
    })?;
    if body.is_empty() && allow_empty {
        return Ok(None);
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected Content-Type: application/json",
        ));
    }
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

pub(crate) fn query<T>(q: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    q.map(|Query(v)| v)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

/// An event id from the path: a positive integer.
pub(crate) fn event_id(s: &str) -> ApiResult<i64> {
    s.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| ApiError::bad_request(format!("event id '{s}' is not a positive integer")))
}
