//! Cameras: live status, the health window (online rate, 出图率) and the latest thumbnail.

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{blocking, query, require, ApiResult};
use super::{ApiError, AppState, ErrorBody};
use crate::auth::{Action, Principal};
use crate::service::CameraStatus;
use crate::store::HealthWindow;

#[derive(Serialize, ToSchema)]
pub(crate) struct CameraList {
    cameras: Vec<CameraStatus>,
}

/// List cameras with live status.
#[utoipa::path(get, path = "/cameras", tag = "cameras",
    responses((status = 200, body = CameraList),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_cameras(
    State(state): State<AppState>,
    p: Principal,
) -> ApiResult<Json<CameraList>> {
    require(&state, &p, Action::ViewCameras, "cameras").await?;
    Ok(Json(CameraList {
        cameras: state.cameras.cameras(),
    }))
}

/// One camera's live status.
#[utoipa::path(get, path = "/cameras/{name}/status", tag = "cameras",
    params(("name" = String, Path, description = "camera name")),
    responses((status = 200, body = CameraStatus),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn camera_status(
    State(state): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
) -> ApiResult<Json<CameraStatus>> {
    require(&state, &p, Action::ViewCameras, "cameras").await?;
    state
        .cameras
        .camera(&name)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no camera '{name}'")))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct HealthQuery {
    /// Window length in seconds (default 86400, at most 366 days).
    window_s: Option<f64>,
}

/// Online rate and image availability rate (出图率) over a window; only the time the node has
/// been watching counts.
#[utoipa::path(get, path = "/cameras/{name}/health", tag = "cameras",
    params(("name" = String, Path, description = "camera name"), HealthQuery),
    responses((status = 200, body = HealthWindow),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn camera_health(
    State(state): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
    q: Result<Query<HealthQuery>, QueryRejection>,
) -> ApiResult<Json<HealthWindow>> {
    require(&state, &p, Action::ViewCameras, "cameras").await?;
    let q = query(q)?;
    let window = q.window_s.unwrap_or(86_400.0);
    if !(window.is_finite() && window > 0.0 && window <= 366.0 * 86_400.0) {
        return Err(ApiError::bad_request("window_s must be in (0, 31622400]"));
    }
    if state.cameras.camera(&name).is_none() {
        return Err(ApiError::not_found(format!("no camera '{name}'")));
    }
    let since = crate::store::now_ms() - (window * 1000.0) as i64;
    let store = state.store.clone();
    let w = blocking(move || Ok(store.health_window(&name, since)?)).await?;
    Ok(Json(w))
}

/// The camera's latest analysed frame, downscaled (longest side 320 px), refreshed every few
/// seconds; 404 until one exists. Header `x-captured-at-ms`: when it was taken.
#[utoipa::path(get, path = "/cameras/{name}/thumbnail.jpg", tag = "cameras",
    params(("name" = String, Path, description = "camera name"),
        ("access_token" = Option<String>, Query, description = "bearer token for `<img>`")),
    responses((status = 200, description = "JPEG", content_type = "image/jpeg", body = Vec<u8>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn camera_thumbnail(
    State(state): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    require(&state, &p, Action::ViewCameras, "cameras").await?;
    if state.cameras.camera(&name).is_none() {
        return Err(ApiError::not_found(format!("no camera '{name}'")));
    }
    let t = state
        .cameras
        .thumbnail(&name)
        .ok_or_else(|| ApiError::not_found(format!("camera '{name}' has no thumbnail yet")))?;
    let mut resp = Response::new(Body::from(t.jpeg.as_ref().clone()));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&t.at_ms.to_string()) {
        h.insert("x-captured-at-ms", v);
    }
    Ok(resp)
}

/// The camera's latest analysed frame at full analysed size (the picture calibration points
/// are placed on; admin), refreshed every few seconds; 404 until one exists. Headers
/// `x-captured-at-ms` and `x-image-size` (`WIDTHxHEIGHT`).
#[utoipa::path(get, path = "/cameras/{name}/snapshot.jpg", tag = "cameras",
    params(("name" = String, Path, description = "camera name"),
        ("access_token" = Option<String>, Query, description = "bearer token for `<img>`")),
    responses((status = 200, description = "JPEG", content_type = "image/jpeg", body = Vec<u8>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn camera_snapshot(
    State(state): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    require(&state, &p, Action::ManageConfig, "cameras").await?;
    if state.cameras.camera(&name).is_none() {
        return Err(ApiError::not_found(format!("no camera '{name}'")));
    }
    let t = state.cameras.thumbnail(&name);
    let Some((full, t)) = t.as_ref().and_then(|t| t.full.clone().map(|f| (f, t))) else {
        return Err(ApiError::not_found(format!(
            "camera '{name}' has no snapshot yet"
        )));
    };
    let mut resp = Response::new(Body::from(full.as_ref().clone()));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&t.at_ms.to_string()) {
        h.insert("x-captured-at-ms", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("{}x{}", t.full_size[0], t.full_size[1])) {
        h.insert("x-image-size", v);
    }
    Ok(resp)
}
