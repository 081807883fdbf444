//! The hash-chained audit log: reading it (itself audited) and verifying the chain.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{blocking, query, require, ApiResult};
use super::{AppState, ErrorBody};
use crate::audit::{self, AuditBreak, AuditEntry, AuditRecord};
use crate::auth::{Action, Principal};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// Records after this sequence number (default 0).
    after: Option<i64>,
    /// At most this many, 1..=1000 (default 100).
    limit: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct AuditPage {
    records: Vec<AuditRecord>,
}

/// Audit records in sequence order (admin; the read is recorded too).
#[utoipa::path(get, path = "/audit", tag = "audit",
    params(AuditQuery),
    responses((status = 200, body = AuditPage),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub(crate) async fn audit_list(
    State(state): State<AppState>,
    p: Principal,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> ApiResult<Json<AuditPage>> {
    require(&state, &p, Action::ViewAudit, "audit").await?;
    let q = query(q)?;
    let store = state.store.clone();
    let records = blocking(move || {
        let (after, limit) = (q.after.unwrap_or(0), q.limit.unwrap_or(100).clamp(1, 1000));
        // Reading the log is itself recorded (it holds personal data).
        audit::append(
            &store,
            &AuditEntry::new(&p.name, p.role.as_str(), "audit.read", "audit")
                .detail(serde_json::json!({ "after": after, "limit": limit })),
        )?;
        Ok(audit::list(&store, after, limit)?)
    })
    .await?;
    Ok(Json(AuditPage { records }))
}

/// The chain's verdict: `{ok: true, records}` or `{ok: false, first_bad}`.
#[derive(Serialize, ToSchema)]
pub(crate) struct AuditVerdict {
    ok: bool,
    /// Records verified (when `ok`).
    #[serde(skip_serializing_if = "Option::is_none")]
    records: Option<u64>,
    /// The first record that fails (when not `ok`).
    #[serde(skip_serializing_if = "Option::is_none")]
    first_bad: Option<AuditBreak>,
}

/// Verify the SM3 audit chain (admin).
#[utoipa::path(get, path = "/audit/verify", tag = "audit",
    responses((status = 200, body = AuditVerdict),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn audit_verify(
    State(state): State<AppState>,
    p: Principal,
) -> ApiResult<Json<AuditVerdict>> {
    require(&state, &p, Action::ViewAudit, "audit").await?;
    let store = state.store.clone();
    blocking(move || match audit::verify(&store) {
        Ok(n) => Ok(Json(AuditVerdict {
            ok: true,
            records: Some(n),
            first_bad: None,
        })),
        Err(audit::AuditError::Break(b)) => Ok(Json(AuditVerdict {
            ok: false,
            records: None,
            first_bad: Some(b),
        })),
        Err(e) => Err(e.into()),
    })
    .await
}
