//! Authentication: who is calling (bearer token, or `?access_token=` where a browser cannot set
//! headers), logging in and out, and user creation.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{blocking, parse_json, require, ApiResult};
use super::{ApiError, AppState, ErrorBody};
use crate::audit::{self, AuditEntry};
use crate::auth::{self, Action, Principal, Role};

/// The token of an `Authorization: Bearer …` header (the scheme is case-insensitive).
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<String> {
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
        ["cameras", _, file] => matches!(*file, "thumbnail.jpg" | "snapshot.jpg"),
        _ => false,
    }
}

fn query_token(parts: &Parts) -> Option<String> {
    if !takes_query_token(parts.uri.path()) {
        return None;
    }
    // Form decoding: `%XX` escapes, `+` as a space (tokens have neither).
    url::form_urlencoded::parse(parts.uri.query()?.as_bytes())
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers)
            .or_else(|| query_token(parts))
            .ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
        if let Some(hit) = state.tokens.peek(&token) {
            return hit.map_err(ApiError::from);
        }
        let (store, cache) = (state.store.clone(), state.tokens.clone());
        blocking(move || cache.authenticate(&store, &token).map_err(ApiError::from)).await
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginBody {
    name: String,
    password: String,
}

/// A session token, shown once.
#[derive(Serialize, ToSchema)]
pub(crate) struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    token: String,
    /// Unix ms; `null`: does not expire.
    expires_at_ms: Option<i64>,
    user: String,
    role: Role,
}

/// Log in; returns a session bearer token. Failed logins are audited and throttled per user
/// and client address (429 with `Retry-After`).
#[utoipa::path(post, path = "/auth/login", tag = "auth", security(()),
    request_body = LoginBody,
    responses(
        (status = 200, body = LoginResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 429, body = ErrorBody),
    ))]
pub(crate) async fn login(
    State(state): State<AppState>,
    client: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<LoginResponse>> {
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
    let slot = guards.password_slot().await?;
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
    Ok(Json(LoginResponse {
        token: t.token,
        expires_at_ms: t.expires_at_ms,
        user: p.name,
        role: p.role,
    }))
}

/// Revoke the calling token.
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    responses((status = 204, description = "revoked"), (status = 401, body = ErrorBody)))]
pub(crate) async fn logout(
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUser {
    name: String,
    role: Role,
    /// At least 8 characters.
    #[schema(min_length = 8)]
    password: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct UserCreated {
    id: i64,
}

/// Create a user (admin, audited).
#[utoipa::path(post, path = "/users", tag = "auth",
    request_body = NewUser,
    responses(
        (status = 201, body = UserCreated),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
    ))]
pub(crate) async fn add_user(
    State(state): State<AppState>,
    p: Principal,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<UserCreated>)> {
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
    Ok((StatusCode::CREATED, Json(UserCreated { id })))
}
