//! The running configuration: read it, reload it from its file (like SIGHUP).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::extract::{blocking, require, ApiResult};
use super::{ApiError, AppState, ErrorBody};
use crate::audit::{self, AuditEntry};
use crate::auth::{Action, Principal};
use crate::service::{ConfigReloader, ReloadError, ReloadReport};

fn reloader(state: &AppState) -> ApiResult<Arc<dyn ConfigReloader>> {
    state.reloader.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_implemented",
            "configuration reload is not available on this server",
        )
    })
}

/// The running configuration's cameras and analytic settings, with the reload generation
/// (admin, audited; no source URLs or credentials): `{ "generation": n, "cameras": [...] }`.
#[utoipa::path(get, path = "/config", tag = "config",
    responses((status = 200, body = serde_json::Value),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 501, body = ErrorBody)))]
pub(crate) async fn config_get(
    State(state): State<AppState>,
    p: Principal,
) -> ApiResult<Json<serde_json::Value>> {
    require(&state, &p, Action::ManageConfig, "config").await?;
    let r = reloader(&state)?;
    let store = state.store.clone();
    Ok(Json(
        blocking(move || {
            audit::append(
                &store,
                &AuditEntry::new(&p.name, p.role.as_str(), "config.read", "config"),
            )?;
            Ok(r.effective())
        })
        .await?,
    ))
}

/// Re-read the config file (like SIGHUP; admin, audited): zones, masks, thresholds and actions
/// apply without a restart; other changes are listed as needing one. An invalid file is refused
/// (422) and the running configuration is kept.
#[utoipa::path(post, path = "/config/reload", tag = "config",
    responses((status = 200, body = ReloadReport),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 501, body = ErrorBody)))]
pub(crate) async fn config_reload(
    State(state): State<AppState>,
    p: Principal,
) -> ApiResult<Json<ReloadReport>> {
    require(&state, &p, Action::ManageConfig, "config").await?;
    let r = reloader(&state)?;
    let store = state.store.clone();
    blocking(move || {
        let (res, audited) =
            crate::service::status::reload_audited(r.as_ref(), &store, &p.name, p.role.as_str());
        audited?;
        match res {
            Ok(rep) => Ok(Json(rep)),
            Err(e @ ReloadError::Unavailable(_)) => Err(ApiError::internal(e.to_string())),
            Err(e) => {
                tracing::warn!(user = %p.name, error = %e, "configuration reload rejected; the running configuration is unchanged");
                Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_config",
                    e.to_string(),
                ))
            }
        }
    })
    .await
}
