//! Account lifecycle (admin): list users, change role, disable / enable, delete, reset a
//! password, list and revoke tokens; and a user's own password change. Every change is audited
//! and revokes the user's tokens at once (store and this node's token cache) when it takes
//! rights away, so no session outlives it.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{blocking, parse_json, query, require, ApiResult};
use super::{ApiError, AppState, ErrorBody};
use crate::audit::{self, AuditEntry};
use crate::auth::{self, Action, Change, Principal, Role, TokenInfo, UserInfo};

#[derive(Serialize, ToSchema)]
pub(crate) struct UserList {
    users: Vec<UserInfo>,
}

/// Users with their role, state and number of unexpired tokens (admin).
#[utoipa::path(get, path = "/users", tag = "auth",
    responses(
        (status = 200, body = UserList),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ))]
pub(crate) async fn list_users(
    State(state): State<AppState>,
    p: Principal,
) -> ApiResult<Json<UserList>> {
    require(&state, &p, Action::ManageUsers, "users").await?;
    let store = state.store.clone();
    let users = blocking(move || Ok(auth::list_users(&store)?)).await?;
    Ok(Json(UserList { users }))
}

/// What a lifecycle change did.
#[derive(Serialize, ToSchema)]
pub(crate) struct ChangeResult {
    user: String,
    /// Tokens (sessions and API tokens) revoked by the change.
    tokens_revoked: usize,
}

/// Audit the change, drop the user's cached tokens, answer.
fn finish(
    state: &AppState,
    p: &Principal,
    action: &str,
    ch: Change,
    mut detail: serde_json::Value,
) -> ApiResult<Json<ChangeResult>> {
    state.tokens.forget_user(ch.user_id);
    detail["tokens_revoked"] = ch.tokens_revoked.into();
    let e = AuditEntry::new(&p.name, p.role.as_str(), action, &ch.user).detail(detail);
    audit::append(&state.store, &e)?;
    if let Some(dir) = &state.bootstrap_dir {
        auth::retire_bootstrap_password(&state.store, dir)?;
    }
    Ok(Json(ChangeResult {
        user: ch.user,
        tokens_revoked: ch.tokens_revoked,
    }))
}

/// Fields to change; absent ones stay.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserPatch {
    role: Option<Role>,
    disabled: Option<bool>,
}

/// Change a user's role and/or disable or enable them (admin). Disabling, and lowering the
/// role, revoke every token of the user; the last enabled admin cannot be disabled or demoted
/// (409 `last_admin`).
#[utoipa::path(patch, path = "/users/{name}", tag = "auth",
    params(("name" = String, Path, description = "user name")),
    request_body = UserPatch,
    responses(
        (status = 200, body = ChangeResult),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 415, body = ErrorBody),
    ))]
pub(crate) async fn patch_user(
    State(state): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<ChangeResult>> {
    require(&state, &p, Action::ManageUsers, "users").await?;
    let u: UserPatch =
        parse_json(&headers, body, false)?.ok_or_else(|| ApiError::bad_request("empty body"))?;
    if u.role.is_none() && u.disabled.is_none() {
        return Err(ApiError::bad_request(
            "nothing to change: give role and/or disabled",
        ));
    }
    let st = state.clone();
    blocking(move || {
        let mut out = None;
        if let Some(role) = u.role {
            let ch = auth::set_role(&st.store, &name, role)?;
            out = Some(finish(
                &st,
                &p,
                "user.role",
                ch,
                serde_json::json!({ "role": role }),
            )?);
        }
        if let Some(d) = u.disabled {
            let ch = auth::set_disabled(&st.store, &name, d)?;
            let action = if d { "user.disable" } else { "user.enable" };
            let r = finish(&st, &p, action, ch, serde_json::json!({}))?;
            // Report every token the request revoked.
            let before = out
                .as_ref()
                .map_or(0, |o: &Json<ChangeResult>| o.tokens_revoked);
            out = Some(Json(ChangeResult {
                user: r.0.user,
                tokens_revoked: r.0.tokens_revoked + before,
            }));
        }
        out.ok_or_else(|| ApiError::bad_request("nothing to change"))
    })
    .await
}

/// Delete a user and their tokens (admin). The audit log keeps the name in its records; the
/// last enabled admin cannot be deleted (409 `last_admin`).
#[utoipa::path(delete, path = "/users/{name}", tag = "auth",
    params(("name" = String, Path, description = "user name")),
    responses(
        (status = 200, body = ChangeResult),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    ))]
pub(crate) async fn delete_user(
    State(state): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
) -> ApiResult<Json<ChangeResult>> {
    require(&state, &p, Action::ManageUsers, "users").await?;
    let st = state.clone();
    blocking(move || {
        let ch = auth::delete_user(&st.store, &name)?;
        finish(&st, &p, "user.delete", ch, serde_json::json!({}))
    })
    .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewPassword {
    /// At least 8 characters.
    #[schema(min_length = 8)]
    password: String,
}

/// Set another user's password (admin); every token of the user is revoked.
#[utoipa::path(put, path = "/users/{name}/password", tag = "auth",
    params(("name" = String, Path, description = "user name")),
    request_body = NewPassword,
    responses(
        (status = 200, body = ChangeResult),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 415, body = ErrorBody),
    ))]
pub(crate) async fn set_password(
    State(state): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<ChangeResult>> {
    require(&state, &p, Action::ManageUsers, "users").await?;
    let b: NewPassword =
        parse_json(&headers, body, false)?.ok_or_else(|| ApiError::bad_request("empty body"))?;
    let slot = state.guards.password_slot().await?;
    let st = state.clone();
    let res = blocking(move || {
        let ch = auth::set_password(&st.store, &name, &b.password)?;
        finish(
            &st,
            &p,
            "user.password",
            ch,
            serde_json::json!({ "by": "admin" }),
        )
    })
    .await;
    drop(slot);
    res
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OwnPassword {
    current_password: String,
    /// At least 8 characters.
    #[schema(min_length = 8)]
    new_password: String,
}

/// A fresh session after a self-service password change (all earlier tokens are revoked).
#[derive(Serialize, ToSchema)]
pub(crate) struct PasswordChanged {
    token: String,
    expires_at_ms: Option<i64>,
    tokens_revoked: usize,
}

/// Change your own password (any role). The current password is checked (a wrong one counts
/// as a failed login for throttling); every token of the account is revoked, this one
/// included, and a new session token is returned.
#[utoipa::path(post, path = "/auth/password", tag = "auth",
    request_body = OwnPassword,
    responses(
        (status = 200, body = PasswordChanged),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 429, body = ErrorBody),
    ))]
pub(crate) async fn change_own_password(
    State(state): State<AppState>,
    p: Principal,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<PasswordChanged>> {
    let b: OwnPassword =
        parse_json(&headers, body, false)?.ok_or_else(|| ApiError::bad_request("empty body"))?;
    let now = std::time::Instant::now();
    if let Err(wait) = state.guards.throttle.check(&p.name, None, now) {
        return Err(ApiError::too_many("too many failed password checks", wait));
    }
    let slot = state.guards.password_slot().await?;
    let st = state.clone();
    let who = p.clone();
    let ttl = (state.config.session_ttl_s as i64).saturating_mul(1000);
    let res = blocking(move || {
        if let Err(e) = auth::check_password(&st.store, &who.name, &b.current_password) {
            let entry = AuditEntry::new(
                &who.name,
                who.role.as_str(),
                "user.password.failed",
                &who.name,
            );
            audit::append(&st.store, &entry)?;
            return Err(ApiError::from(e));
        }
        let ch = auth::set_password(&st.store, &who.name, &b.new_password)?;
        let r = finish(
            &st,
            &who,
            "user.password",
            ch,
            serde_json::json!({ "by": "self" }),
        )?;
        let t = auth::issue_token(&st.store, who.user_id, "session", "login", Some(ttl))?;
        Ok((r.0.tokens_revoked, t))
    })
    .await;
    drop(slot);
    match &res {
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            state.guards.throttle.failed(&p.name, None, now)
        }
        Ok(_) => state.guards.throttle.succeeded(&p.name),
        Err(_) => {}
    }
    let (tokens_revoked, t) = res?;
    Ok(Json(PasswordChanged {
        token: t.token,
        expires_at_ms: t.expires_at_ms,
        tokens_revoked,
    }))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct TokenList {
    tokens: Vec<TokenInfo>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenQuery {
    /// Only this user's tokens.
    user: Option<String>,
}

/// Unexpired tokens (never their secrets), newest first (admin).
#[utoipa::path(get, path = "/tokens", tag = "auth",
    params(TokenQuery),
    responses(
        (status = 200, body = TokenList),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    ))]
pub(crate) async fn list_tokens(
    State(state): State<AppState>,
    p: Principal,
    q: Result<Query<TokenQuery>, QueryRejection>,
) -> ApiResult<Json<TokenList>> {
    require(&state, &p, Action::ManageUsers, "tokens").await?;
    let q = query(q)?;
    let store = state.store.clone();
    let tokens = blocking(move || Ok(auth::list_tokens(&store, q.user.as_deref())?)).await?;
    Ok(Json(TokenList { tokens }))
}

/// Revoke one token by id (admin).
#[utoipa::path(delete, path = "/tokens/{id}", tag = "auth",
    params(("id" = i64, Path, description = "token id from GET /tokens")),
    responses(
        (status = 200, body = ChangeResult),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<ChangeResult>> {
    require(&state, &p, Action::ManageUsers, "tokens").await?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("bad token id '{id}'")))?;
    let st = state.clone();
    blocking(move || {
        let ch = auth::revoke_token_id(&st.store, id)?
            .ok_or_else(|| ApiError::not_found(format!("no token {id}")))?;
        finish(&st, &p, "token.revoke", ch, serde_json::json!({ "id": id }))
    })
    .await
}

/// Revoke every token of a user: sign them out everywhere (admin).
#[utoipa::path(post, path = "/users/{name}/revoke_tokens", tag = "auth",
    params(("name" = String, Path, description = "user name")),
    responses(
        (status = 200, body = ChangeResult),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub(crate) async fn revoke_user_tokens(
    State(state): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
) -> ApiResult<Json<ChangeResult>> {
    require(&state, &p, Action::ManageUsers, "users").await?;
    let st = state.clone();
    blocking(move || {
        let ch = auth::revoke_user_tokens(&st.store, &name)?;
        finish(
            &st,
            &p,
            "token.revoke",
            ch,
            serde_json::json!({ "all": true }),
        )
    })
    .await
}
