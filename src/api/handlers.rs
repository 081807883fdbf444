//! Routes and handlers.

use std::convert::Infallible;
use std::io::{Read, Seek, SeekFrom};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;

use super::{inc, ApiError, AppState};
use crate::audit::{self, AuditEntry};
use crate::auth::{self, Action, Principal, Role};
use crate::events::EventKind;
use crate::store::{EventFilter, EventState, EvidenceKind};

type ApiResult<T> = Result<T, ApiError>;

/// Run blocking store work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("worker failed: {e}")))?
}

/// Build the router: `/api/v1/...`, plus `/healthz` and `/metrics` at the root.
pub fn router(state: AppState) -> Router {
    let timeout = Duration::from_secs_f64(state.config.request_timeout_s.clamp(0.1, 3600.0));
    let v1 = Router::new()
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/users", post(add_user))
        .route("/cameras", get(list_cameras))
        .route("/cameras/{name}/status", get(camera_status))
        .route("/cameras/{name}/health", get(camera_health))
        .route("/cameras/{name}/thumbnail.jpg", get(camera_thumbnail))
        .route("/config", get(config_get))
        .route("/config/reload", post(config_reload))
        .route("/events", get(list_events))
        .route("/events/stream", get(stream_events))
        .route("/events/{id}", get(get_event))
        .route("/events/{id}/clip.mp4", get(clip))
        .route("/events/{id}/snapshot.jpg", get(snapshot))
        .route("/events/{id}/trajectory.png", get(trajectory))
        .route("/events/{id}/ack", post(ack))
        .route("/events/{id}/false_alarm", post(false_alarm))
        .route("/events/{id}/note", post(note))
        .route("/audit", get(audit_list))
        .route("/audit/verify", get(audit_verify))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi));
    Router::new()
        .nest("/api/v1", v1)
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
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

// ---------- authentication ----------

/// The token of an `Authorization: Bearer …` header (the scheme is case-insensitive).
fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let h = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim_start();
    let (scheme, t) = h.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

fn bearer(parts: &Parts) -> Option<String> {
    bearer_token(&parts.headers)
}

/// Routes that take the token as `?access_token=`: the SSE stream (browsers' EventSource
/// cannot set headers), evidence files and camera thumbnails (so `<video>` streams and seeks
/// with Range requests and `<img>` loads directly). Role checks and auditing are the same as
/// with the header; the token is never logged.
fn takes_query_token(path: &str) -> bool {
    // Inside the nested `/api/v1` router the prefix is already stripped.
    let rest = path.strip_prefix("/api/v1").unwrap_or(path);
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    if rest == "events/stream" {
        return true;
    }
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        ["events", _, file] => matches!(*file, "clip.mp4" | "snapshot.jpg" | "trajectory.png"),
        ["cameras", _, "thumbnail.jpg"] => true,
        _ => false,
    }
}

/// Percent-decode a query value (`+` is a space in form encoding; tokens have neither).
fn pct_decode(v: &str) -> Option<String> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn query_token(parts: &Parts) -> Option<String> {
    if !takes_query_token(parts.uri.path()) {
        return None;
    }
    parts
        .uri
        .query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix("access_token="))
        .and_then(pct_decode)
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)
            .or_else(|| query_token(parts))
            .ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
        if let Some(hit) = state.tokens.peek(&token) {
            return hit.map_err(ApiError::from);
        }
        let (store, cache) = (state.store.clone(), state.tokens.clone());
        blocking(move || cache.authenticate(&store, &token).map_err(ApiError::from)).await
    }
}

/// Check a permission; refusals are audited.
async fn require(state: &AppState, p: &Principal, action: Action, target: &str) -> ApiResult<()> {
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

// ---------- body / query parsing with JSON errors ----------

fn parse_json<T: DeserializeOwned>(
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

fn query<T>(q: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    q.map(|Query(v)| v)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

fn event_id(s: &str) -> ApiResult<i64> {
    s.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| ApiError::bad_request(format!("event id '{s}' is not a positive integer")))
}

// ---------- auth routes ----------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    name: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    client: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let b: LoginBody =
        parse_json(&headers, body, false)?.ok_or_else(|| ApiError::bad_request("empty body"))?;
    let addr = client.map(|axum::Extension(axum::extract::ConnectInfo(a))| a.ip());
    let name = b.name.clone();
    let shown = auth::loggable_name(&name);
    let guards = state.guards.clone();
    if let Err(wait) = guards
        .throttle
        .check(&name, addr, std::time::Instant::now())
    {
        tracing::warn!(user = %shown, client = ?addr, wait_s = wait.as_secs(), "login throttled");
        return Err(ApiError::too_many(
            "too many failed logins; wait before trying again",
            wait,
        ));
    }
    // Bounded password hashing: a flood of logins queues here instead of each taking a
    // blocking thread and Argon2's memory.
    let Some(slot) = guards.hash_slot(Duration::from_secs(5)).await else {
        return Err(ApiError::too_many(
            "server busy checking passwords",
            Duration::from_secs(1),
        ));
    };
    let store = state.store.clone();
    let ttl = (state.config.session_ttl_s as i64).saturating_mul(1000);
    let res = blocking(move || {
        let p = match auth::check_password(&store, &b.name, &b.password) {
            Ok(p) => p,
            Err(e) => {
                let entry = AuditEntry::new(&b.name, "-", "login.failed", "auth");
                audit::append(&store, &entry)?;
                return Err(ApiError::from(e));
            }
        };
        let t = auth::issue_token(&store, p.user_id, "session", "login", Some(ttl))?;
        audit::append(
            &store,
            &AuditEntry::new(&p.name, p.role.as_str(), "login", "auth"),
        )?;
        Ok((p, t))
    })
    .await;
    drop(slot);
    match &res {
        Ok(_) => guards.throttle.succeeded(&name),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            guards
                .throttle
                .failed(&name, addr, std::time::Instant::now())
        }
        Err(_) => {}
    }
    let (p, t) =
        res.inspect_err(|e| tracing::info!(user = %shown, code = e.code, "login refused"))?;
    Ok(Json(serde_json::json!({
        "token": t.token,
        "expires_at_ms": t.expires_at_ms,
        "user": p.name,
        "role": p.role,
    })))
}

async fn logout(
    State(state): State<AppState>,
    p: Principal,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let token = bearer_token(&headers).unwrap_or_default();
    let store = state.store.clone();
    state.tokens.forget(&token);
    blocking(move || {
        auth::revoke(&store, &token)?;
        audit::append(
            &store,
            &AuditEntry::new(&p.name, p.role.as_str(), "logout", "auth"),
        )?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    role: Role,
    password: String,
}

async fn add_user(
    State(state): State<AppState>,
    p: Principal,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    require(&state, &p, Action::ManageUsers, "users").await?;
    let u: NewUser =
        parse_json(&headers, body, false)?.ok_or_else(|| ApiError::bad_request("empty body"))?;
    let store = state.store.clone();
    let id = blocking(move || {
        let id = auth::add_user(&store, &u.name, u.role, &u.password)?;
        let e = AuditEntry::new(&p.name, p.role.as_str(), "user.add", &u.name)
            .detail(serde_json::json!({ "role": u.role }));
        audit::append(&store, &e)?;
        Ok(id)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "id": id }))))
}

// ---------- cameras ----------

async fn list_cameras(
    State(state): State<AppState>,
    p: Principal,
) -> ApiResult<Json<serde_json::Value>> {
    require(&state, &p, Action::ViewCameras, "cameras").await?;
    Ok(Json(
        serde_json::json!({ "cameras": state.cameras.cameras() }),
    ))
}

async fn camera_status(
    State(state): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
) -> ApiResult<Json<super::CameraStatus>> {
    require(&state, &p, Action::ViewCameras, "cameras").await?;
    state
        .cameras
        .camera(&name)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no camera '{name}'")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HealthQuery {
    window_s: Option<f64>,
}

async fn camera_health(
    State(state): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
    q: Result<Query<HealthQuery>, QueryRejection>,
) -> ApiResult<Json<crate::store::HealthWindow>> {
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

async fn camera_thumbnail(
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

// ---------- configuration ----------

fn reloader(state: &AppState) -> ApiResult<std::sync::Arc<dyn super::ConfigReloader>> {
    state.reloader.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_implemented",
            "configuration reload is not available on this server",
        )
    })
}

async fn config_get(
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

async fn config_reload(
    State(state): State<AppState>,
    p: Principal,
) -> ApiResult<Json<crate::service::ReloadReport>> {
    require(&state, &p, Action::ManageConfig, "config").await?;
    let r = reloader(&state)?;
    let store = state.store.clone();
    blocking(move || {
        let (res, audited) =
            crate::service::status::reload_audited(r.as_ref(), &store, &p.name, p.role.as_str());
        audited?;
        match res {
            Ok(rep) => Ok(Json(rep)),
            Err(e @ crate::service::ReloadError::Unavailable(_)) => Err(ApiError::internal(e.to_string())),
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

// ---------- events ----------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    camera: Option<String>,
    kind: Option<EventKind>,
    state: Option<EventState>,
    /// Unix seconds (wall clock).
    since: Option<f64>,
    until: Option<f64>,
    cursor: Option<String>,
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

async fn list_events(
    State(state): State<AppState>,
    p: Principal,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Json<crate::store::EventPage>> {
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

async fn get_event(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<crate::store::EventRecord>> {
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

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StateBody {
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
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
) -> ApiResult<Json<crate::store::EventRecord>> {
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
    state.bus.publish(super::EventNotice {
        phase: crate::service::NoticePhase::State,
        event: rec.clone(),
    });
    Ok(Json(rec))
}

async fn ack(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<crate::store::EventRecord>> {
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

async fn false_alarm(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<crate::store::EventRecord>> {
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

async fn note(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<crate::store::EventRecord>> {
    let b: NoteBody =
        parse_json(&headers, body, false)?.ok_or_else(|| ApiError::bad_request("empty body"))?;
    if b.text.trim().is_empty() {
        return Err(ApiError::bad_request("note text is empty"));
    }
    change_state(state, p, &id, None, Some(b.text), "event.note").await
}

// ---------- evidence ----------

/// A satisfiable single byte range, inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

/// Parse a `Range` header against a file of `len` bytes. `Ok(None)`: serve the whole file
/// (no header, another unit, or several ranges — allowed by RFC 9110). `Err(())`:
/// unsatisfiable or malformed byte range (416).
#[allow(clippy::result_unit_err)]
pub fn parse_range(h: Option<&str>, len: u64) -> Result<Option<ByteRange>, ()> {
    let Some(h) = h else { return Ok(None) };
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let r = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 || len == 0 {
            return Err(());
        }
        ByteRange {
            start: len.saturating_sub(n),
            end: len - 1,
        }
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end: u64 = if b.is_empty() {
            len.saturating_sub(1)
        } else {
            b.parse::<u64>().map_err(|_| ())?.min(len.saturating_sub(1))
        };
        if start >= len || (!b.is_empty() && b.parse::<u64>().map_err(|_| ())? < start) {
            return Err(());
        }
        ByteRange { start, end }
    };
    Ok(Some(r))
}

async fn clip(
    state: State<AppState>,
    p: Principal,
    id: Path<String>,
    h: HeaderMap,
) -> ApiResult<Response> {
    evidence(state, p, id, h, EvidenceKind::Clip, "video/mp4").await
}
async fn snapshot(
    state: State<AppState>,
    p: Principal,
    id: Path<String>,
    h: HeaderMap,
) -> ApiResult<Response> {
    evidence(state, p, id, h, EvidenceKind::Snapshot, "image/jpeg").await
}
async fn trajectory(
    state: State<AppState>,
    p: Principal,
    id: Path<String>,
    h: HeaderMap,
) -> ApiResult<Response> {
    evidence(state, p, id, h, EvidenceKind::Trajectory, "image/png").await
}

/// Largest single response body read into memory; longer ranges are cut (the client asks
/// for the rest).
const MAX_CHUNK: u64 = 64 * 1024 * 1024;

async fn evidence(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    kind: EvidenceKind,
    mime: &'static str,
) -> ApiResult<Response> {
    let id = event_id(&id)?;
    let target = format!("event/{id}/{}", kind.as_str());
    require(&state, &p, Action::DownloadEvidence, &target).await?;
    let range_h = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.to_string());
    let store = state.store.clone();
    let guards = state.guards.clone();
    let key = state.evidence_key.clone();
    let require_sealed = state.require_sealed;
    blocking(move || {
        if store.get_event(id)?.is_none() {
            return Err(ApiError::not_found(format!("no event {id}")));
        }
        let ev = store
            .evidence(id, kind)?
            .ok_or_else(|| ApiError::not_found(format!("event {id} has no {}", kind.as_str())))?;
        if ev.gone {
            return Err(ApiError::new(
                StatusCode::GONE,
                "gone",
                "evidence removed by retention",
            ));
        }
        // The file must still be what was indexed: a replaced, swapped (another event's) or
        // truncated file is refused, never served.
        match guards.matches_index(std::path::Path::new(&ev.path), &ev.sha256) {
            Ok(true) => {}
            Ok(false) => {
                tracing::error!(path = %ev.path, event = id, "evidence does not match its indexed SHA-256");
                let e = AuditEntry::new(&p.name, p.role.as_str(), "evidence.tampered", &target)
                    .detail(serde_json::json!({ "indexed_sha256": ev.sha256 }));
                audit::append(&store, &e)?;
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "evidence_tampered",
                    "the evidence file no longer matches its indexed checksum",
                ));
            }
            Err(_) => {
                return Err(ApiError::new(StatusCode::GONE, "gone", "evidence file missing"))
            }
        }
        let mut f = std::fs::File::open(&ev.path)
            .map_err(|_| ApiError::new(StatusCode::GONE, "gone", "evidence file missing"))?;
        // SM4-sealed evidence is served decrypted: length and ranges are plaintext offsets, and
        // every chunk read is verified (HMAC-SM3) first. Plaintext files are served as stored.
        let sealed_err = |e: crate::evidence::crypt::CryptError| {
            use crate::evidence::crypt::CryptError as C;
            tracing::error!(path = %ev.path, error = %e, "cannot read encrypted evidence");
            let code = match e {
                C::Tampered(_) | C::Malformed(_) => "evidence_corrupt",
                C::NoKey | C::WrongKey | C::Version(_) | C::Key(_) => "evidence_key",
                _ => "internal",
            };
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, code, e.to_string())
        };
        // Sealed for this place: a file sealed for another event fails its first tag.
        let ctx = crate::evidence::crypt::context_of(std::path::Path::new(&ev.path));
        let sealed = crate::evidence::crypt::Sealed::detect_for(&mut f, key, &ctx)
            .map_err(sealed_err)?;
        if sealed.is_none() && require_sealed {
            tracing::error!(path = %ev.path, event = id, "unsealed evidence while encryption is on");
            let e = AuditEntry::new(&p.name, p.role.as_str(), "evidence.tampered", &target)
                .detail(serde_json::json!({ "reason": "not sealed" }));
            audit::append(&store, &e)?;
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "evidence_tampered",
                "the evidence file is not sealed, but evidence encryption is on \
                 ([evidence] allow_unsealed = true serves files from before it was turned on)",
            ));
        }
        let len = match &sealed {
            Some(s) => s.plain_len(),
            None => f
                .metadata()
                .map(|m| m.len())
                .map_err(|e| ApiError::internal(e.to_string()))?,
        };
        let range = parse_range(range_h.as_deref(), len);
        let Ok(range) = range else {
            let mut r = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "bad_range",
                "range not satisfiable",
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(r);
        };
        let (start, end) = match range {
            Some(r) => (r.start, r.end.min(r.start + MAX_CHUNK - 1)),
            None => (0, len.saturating_sub(1)),
        };
        if range.is_none() && len > MAX_CHUNK {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "evidence too large for one response; use Range requests",
            ));
        }
        let n = if len == 0 { 0 } else { end - start + 1 };
        let buf = match &sealed {
            Some(s) => s.read_range(&mut f, start, n).map_err(sealed_err)?,
            None => {
                let mut buf = vec![0u8; n as usize];
                f.seek(SeekFrom::Start(start))
                    .and_then(|_| f.read_exact(&mut buf))
                    .map_err(|e| ApiError::internal(format!("read evidence: {e}")))?;
                buf
            }
        };
        // One record per download session, whatever ranges a player asks for.
        if guards.new_download(&p.name, id, kind.as_str(), std::time::Instant::now()) {
            let e = AuditEntry::new(&p.name, p.role.as_str(), "evidence.download", &target)
                .detail(serde_json::json!({ "sha256": ev.sha256, "bytes": ev.bytes }));
            audit::append(&store, &e)?;
        }
        let mut resp = Response::new(Body::from(buf));
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        if let Ok(v) = HeaderValue::from_str(&ev.sha256) {
            // The index's checksum is of the file at rest, so it is the body's only when the
            // file is not sealed.
            let name = if sealed.is_some() {
                "x-stored-sha256"
            } else {
                "x-content-sha256"
            };
            h.insert(name, v);
        }
        if range.is_some() {
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
        }
        Ok(resp)
    })
    .await
}

// ---------- SSE ----------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamQuery {
    camera: Option<String>,
    kind: Option<EventKind>,
    #[allow(dead_code)]
    access_token: Option<String>,
}

/// Decrements the SSE client gauge when the stream is dropped.
struct ClientGuard(std::sync::Arc<super::Metrics>);
impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0
            .sse_clients
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

async fn stream_events(
    State(state): State<AppState>,
    p: Principal,
    q: Result<Query<StreamQuery>, QueryRejection>,
) -> ApiResult<impl IntoResponse> {
    require(&state, &p, Action::ViewEvents, "events").await?;
    let q = query(q)?;
    let metrics = state.bus.metrics.clone();
    let max = state.config.max_sse_subscribers.max(1) as i64;
    let taken = metrics.sse_clients.fetch_update(
        std::sync::atomic::Ordering::SeqCst,
        std::sync::atomic::Ordering::SeqCst,
        |n| (n < max).then_some(n + 1),
    );
    if taken.is_err() {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_subscribers",
            format!("the live stream has its maximum of {max} subscribers"),
        );
        e.retry_after_s = Some(5);
        return Err(e);
    }
    let guard = ClientGuard(metrics.clone());
    let rx = state.bus.subscribe();
    let events = BroadcastStream::new(rx).filter_map(move |r| {
        let _keep = &guard;
        match r {
            Ok(n) => {
                if q.camera.as_ref().is_some_and(|c| *c != n.event.camera)
                    || q.kind.is_some_and(|k| k != n.event.kind)
                {
                    return None;
                }
                let ev = SseEvent::default()
                    .event(n.phase.as_str())
                    .id(format!("{}-{}", n.event.id, n.event.updated_at_ms))
                    .json_data(&n)
                    .unwrap_or_else(|_| SseEvent::default().comment("unserialisable notice"));
                Some(Ok::<_, Infallible>(ev))
            }
            Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(k)) => {
                inc(&metrics.sse_lagged);
                // The client missed notices; it should re-list events.
                Some(Ok(SseEvent::default().event("lagged").data(k.to_string())))
            }
        }
    });
    // A first comment tells the client it is subscribed.
    let hello = tokio_stream::once(Ok::<_, Infallible>(
        SseEvent::default().comment("connected"),
    ));
    let hb = Duration::from_secs_f64(state.config.sse_heartbeat_s.clamp(0.5, 3600.0));
    Ok(Sse::new(hello.chain(events)).keep_alive(KeepAlive::new().interval(hb).text("heartbeat")))
}

// ---------- audit ----------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    after: Option<i64>,
    limit: Option<usize>,
}

async fn audit_list(
    State(state): State<AppState>,
    p: Principal,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    require(&state, &p, Action::ViewAudit, "audit").await?;
    let q = query(q)?;
    let store = state.store.clone();
    let recs = blocking(move || {
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
    Ok(Json(serde_json::json!({ "records": recs })))
}

async fn audit_verify(
    State(state): State<AppState>,
    p: Principal,
) -> ApiResult<Json<serde_json::Value>> {
    require(&state, &p, Action::ViewAudit, "audit").await?;
    let store = state.store.clone();
    blocking(move || match audit::verify(&store) {
        Ok(n) => Ok(Json(serde_json::json!({ "ok": true, "records": n }))),
        Err(audit::AuditError::Break(b)) => {
            Ok(Json(serde_json::json!({ "ok": false, "first_bad": b })))
        }
        Err(e) => Err(e.into()),
    })
    .await
}

// ---------- health, metrics, openapi ----------

async fn healthz(State(state): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    let store = state.store.clone();
    let ok = blocking(move || Ok(store.schema_version().is_ok())).await?;
    if !ok {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "store unavailable",
        ));
    }
    Ok(Json(serde_json::json!({
        "status": "ok",
        "uptime_s": state.started.elapsed().as_secs_f64(),
        "cameras": state.cameras.cameras().len(),
    })))
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

async fn metrics(State(state): State<AppState>, p: Principal) -> ApiResult<Response> {
    require(&state, &p, Action::ViewMetrics, "metrics").await?;
    use std::fmt::Write;
    use std::sync::atomic::Ordering::Relaxed;
    let store = state.store.clone();
    let (total, depths) =
        blocking(move || Ok((store.count_events()?, store.outbox_depths()?))).await?;
    let m = &state.bus.metrics;
    let mut o = String::new();
    let cams = state.cameras.cameras();
    let mut gauge = |name: &str, help: &str, vals: &mut dyn Iterator<Item = (String, f64)>| {
        let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (labels, v) in vals {
            let _ = writeln!(o, "{name}{labels} {v}");
        }
    };
    let lab = |c: &str| format!("{{camera=\"{}\"}}", esc(c));
    gauge(
        "vigil_camera_online",
        "1 when the camera is connected",
        &mut cams
            .iter()
            .map(|c| (lab(&c.name), f64::from(u8::from(c.online)))),
    );
    gauge(
        "vigil_camera_input_fps",
        "decoded frames per second",
        &mut cams.iter().map(|c| (lab(&c.name), c.input_fps)),
    );
    gauge(
        "vigil_camera_analysed_fps",
        "analysed frames per second",
        &mut cams.iter().map(|c| (lab(&c.name), c.analysed_fps)),
    );
    gauge(
        "vigil_camera_decode_errors",
        "decode errors since start",
        &mut cams.iter().map(|c| (lab(&c.name), c.decode_errors as f64)),
    );
    gauge(
        "vigil_camera_reconnects",
        "reconnects since start",
        &mut cams.iter().map(|c| (lab(&c.name), c.reconnects as f64)),
    );
    gauge(
        "vigil_camera_queue_depth",
        "frames waiting for analysis",
        &mut cams.iter().map(|c| (lab(&c.name), c.queue_depth as f64)),
    );
    gauge(
        "vigil_camera_infer_ms",
        "mean detector inference time",
        &mut cams
            .iter()
            .filter_map(|c| c.infer_ms.map(|v| (lab(&c.name), v))),
    );
    gauge(
        "vigil_camera_last_frame_age_seconds",
        "seconds since the last frame",
        &mut cams
            .iter()
            .filter_map(|c| c.last_frame_age_s.map(|v| (lab(&c.name), v))),
    );
    let ev: Vec<_> = m
        .events
        .lock()
        .map(|g| g.clone().into_iter().collect())
        .unwrap_or_default();
    let _ = writeln!(o, "# HELP vigil_events_total new events published since start\n# TYPE vigil_events_total counter");
    for ((cam, kind), n) in ev {
        let _ = writeln!(
            o,
            "vigil_events_total{{camera=\"{}\",kind=\"{}\"}} {n}",
            esc(&cam),
            esc(&kind)
        );
    }
    let _ = writeln!(o, "# HELP vigil_events_stored events in the store\n# TYPE vigil_events_stored gauge\nvigil_events_stored {total}");
    let _ = writeln!(o, "# HELP vigil_webhook_failures_total failed webhook deliveries\n# TYPE vigil_webhook_failures_total counter\nvigil_webhook_failures_total {}", m.webhook_failures.load(Relaxed));
    let _ = writeln!(o, "# HELP vigil_webhook_delivered_total delivered webhook notices\n# TYPE vigil_webhook_delivered_total counter\nvigil_webhook_delivered_total {}", m.webhook_delivered.load(Relaxed));
    let _ = writeln!(o, "# HELP vigil_webhook_queue_depth notices waiting per subscriber\n# TYPE vigil_webhook_queue_depth gauge");
    for (sub, pending, _, _) in depths {
        let _ = writeln!(
            o,
            "vigil_webhook_queue_depth{{subscriber=\"{}\"}} {pending}",
            esc(&sub)
        );
    }
    let _ = writeln!(o, "# HELP vigil_sse_clients connected SSE clients\n# TYPE vigil_sse_clients gauge\nvigil_sse_clients {}", m.sse_clients.load(Relaxed));
    let _ = writeln!(o, "# HELP vigil_http_requests_total HTTP requests\n# TYPE vigil_http_requests_total counter\nvigil_http_requests_total {}", m.http_requests.load(Relaxed));
    let mut r = Response::new(Body::from(o));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(r)
}

async fn openapi() -> Json<serde_json::Value> {
    Json(super::openapi_document())
}
