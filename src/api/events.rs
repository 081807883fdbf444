//! Events: listing (keyset pages), one event, and the operator's handling (acknowledge, false
//! alarm, note), each audited and announced on the live stream.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::extract::{blocking, event_id, parse_json, query, require, ApiResult};
use super::{ApiError, AppState, ErrorBody};
use crate::audit::{self, AuditEntry};
use crate::auth::{Action, Principal};
use crate::events::EventKind;
use crate::service::{EventNotice, NoticePhase};
use crate::store::{EventFilter, EventPage, EventRecord, EventState};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Camera name.
    camera: Option<String>,
    kind: Option<EventKind>,
    /// Handling state.
    state: Option<EventState>,
    /// Created at or after (Unix seconds, wall clock).
    since: Option<f64>,
    /// Created before (Unix seconds).
    until: Option<f64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1..=1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

fn secs_to_ms(s: f64, what: &str) -> ApiResult<i64> {
    if !(0.0..=1e11).contains(&s) {
        return Err(ApiError::bad_request(format!(
            "{what} must be Unix seconds"
        )));
    }
    Ok((s * 1000.0) as i64)
}

/// List events, newest first, keyset pagination.
#[utoipa::path(get, path = "/events", tag = "events",
    params(ListQuery),
    responses((status = 200, body = EventPage),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub(crate) async fn list_events(
    State(state): State<AppState>,
    p: Principal,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Json<EventPage>> {
    require(&state, &p, Action::ViewEvents, "events").await?;
    let q = query(q)?;
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::bad_request("limit must be 1..=1000"));
    }
    let filter = EventFilter {
        camera: q.camera,
        kind: q.kind,
        state: q.state,
        since_ms: q.since.map(|s| secs_to_ms(s, "since")).transpose()?,
        until_ms: q.until.map(|s| secs_to_ms(s, "until")).transpose()?,
    };
    let store = state.store.clone();
    let page =
        blocking(move || Ok(store.list_events(&filter, q.cursor.as_deref(), limit)?)).await?;
    Ok(Json(page))
}

/// One event with notes and evidence index.
#[utoipa::path(get, path = "/events/{id}", tag = "events",
    params(("id" = i64, Path, minimum = 1, description = "event id")),
    responses((status = 200, body = EventRecord),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_event(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<EventRecord>> {
    require(&state, &p, Action::ViewEvents, "events").await?;
    let id = event_id(&id)?;
    let store = state.store.clone();
    blocking(move || {
        store
            .get_event(id)?
            .ok_or_else(|| ApiError::not_found(format!("no event {id}")))
    })
    .await
    .map(Json)
}

/// Optional body of `ack` and `false_alarm`.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StateBody {
    #[schema(max_length = 4000)]
    note: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoteBody {
    #[schema(max_length = 4000)]
    text: String,
}

const MAX_NOTE: usize = 4000;

async fn change_state(
    state: AppState,
    p: Principal,
    id: &str,
    new_state: Option<EventState>,
    note: Option<String>,
    action: &'static str,
) -> ApiResult<Json<EventRecord>> {
    let id = event_id(id)?;
    require(&state, &p, Action::HandleAlarm, &format!("event/{id}")).await?;
    if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE) {
        return Err(ApiError::bad_request(format!(
            "note longer than {MAX_NOTE} characters"
        )));
    }
    let store = state.store.clone();
    let rec = blocking(move || {
        let rec = store.set_state(id, new_state, note.as_deref(), &p.name)?;
        let e = AuditEntry::new(&p.name, p.role.as_str(), action, &format!("event/{id}"))
            .detail(serde_json::json!({ "state": new_state, "note": note }));
        audit::append(&store, &e)?;
        Ok(rec)
    })
    .await?;
    state.bus.publish(EventNotice {
        phase: NoticePhase::State,
        event: rec.clone(),
    });
    Ok(Json(rec))
}

/// Acknowledge (operator+, audited).
#[utoipa::path(post, path = "/events/{id}/ack", tag = "events",
    params(("id" = i64, Path, minimum = 1, description = "event id")),
    request_body(content = Option<StateBody>, description = "optional note"),
    responses((status = 200, body = EventRecord),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub(crate) async fn ack(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<EventRecord>> {
    let b: StateBody = parse_json(&headers, body, true)?.unwrap_or_default();
    change_state(
        state,
        p,
        &id,
        Some(EventState::Acknowledged),
        b.note,
        "event.ack",
    )
    .await
}

/// Mark false alarm (operator+, audited).
#[utoipa::path(post, path = "/events/{id}/false_alarm", tag = "events",
    params(("id" = i64, Path, minimum = 1, description = "event id")),
    request_body(content = Option<StateBody>, description = "optional note"),
    responses((status = 200, body = EventRecord),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub(crate) async fn false_alarm(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<EventRecord>> {
    let b: StateBody = parse_json(&headers, body, true)?.unwrap_or_default();
    change_state(
        state,
        p,
        &id,
        Some(EventState::FalseAlarm),
        b.note,
        "event.false_alarm",
    )
    .await
}

/// Add an operator note (operator+, audited).
#[utoipa::path(post, path = "/events/{id}/note", tag = "events",
    params(("id" = i64, Path, minimum = 1, description = "event id")),
    request_body = NoteBody,
    responses((status = 200, body = EventRecord),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub(crate) async fn note(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<EventRecord>> {
    let b: NoteBody =
        parse_json(&headers, body, false)?.ok_or_else(|| ApiError::bad_request("empty body"))?;
    if b.text.trim().is_empty() {
        return Err(ApiError::bad_request("note text is empty"));
    }
    change_state(state, p, &id, None, Some(b.text), "event.note").await
}
