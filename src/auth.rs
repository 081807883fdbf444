//! Users, roles and tokens.
//!
//! Passwords are hashed with Argon2id (PHC string, per-user salt). Tokens are 32 random
//! bytes shown once (`vgl_<hex>`); only their SHA-256 is stored, which suffices because
//! they carry full entropy (unlike passwords).

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use rand::RngCore;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{now_ms, Store, StoreError};

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

/// Things a caller may do; each API route checks one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    ViewEvents,
    ViewCameras,
    ViewMetrics,
    DownloadEvidence,
    HandleAlarm,
    ViewAudit,
    ManageUsers,
    ManageConfig,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
    /// The permission table.
    pub fn allows(self, a: Action) -> bool {
        match a {
            Action::ViewEvents | Action::ViewCameras | Action::ViewMetrics => true,
            Action::DownloadEvidence | Action::HandleAlarm => self >= Role::Operator,
            Action::ViewAudit | Action::ManageUsers | Action::ManageConfig => self == Role::Admin,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("unknown or wrong token")]
    BadToken,
    #[error("token expired")]
    Expired,
    #[error("wrong user name or password")]
    BadCredentials,
    #[error("user '{0}' exists")]
    UserExists(String),
    #[error("password hashing: {0}")]
    Hash(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("no user '{0}'")]
    NoSuchUser(String),
    #[error("'{0}' is the last enabled admin; add or enable another admin first")]
    LastAdmin(String),
}

impl From<rusqlite::Error> for AuthError {
    fn from(e: rusqlite::Error) -> Self {
        AuthError::Store(StoreError::Sql(e))
    }
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub user_id: i64,
    pub name: String,
    pub role: Role,
}

#[derive(Clone, Debug, Serialize)]
pub struct IssuedToken {
    /// The secret; shown once, never stored.
    pub token: String,
    pub expires_at_ms: Option<i64>,
}

pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    format!("vgl_{}", hex::encode(b))
}

/// The one password rule: at least 8 characters (length beats composition rules).
fn check_password_rules(password: &str) -> Result<(), AuthError> {
    if password.chars().count() < 8 {
        return Err(AuthError::Invalid(
            "password shorter than 8 characters".into(),
        ));
    }
    Ok(())
}

/// Create a user. Names are 1..=64 chars of `[A-Za-z0-9_.@-]`; passwords at least 8 chars.
pub fn add_user(store: &Store, name: &str, role: Role, password: &str) -> Result<i64, AuthError> {
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.@-".contains(c));
    if !name_ok {
        return Err(AuthError::Invalid(format!("bad user name '{name}'")));
    }
    check_password_rules(password)?;
    let hash = hash_password(password)?;
    store.write(|c| {
        let exists: Option<i64> = c
            .query_row("SELECT id FROM users WHERE name=?1", [name], |r| r.get(0))
            .optional()?;
        if exists.is_some() {
            return Ok(Err(AuthError::UserExists(name.into())));
        }
        c.execute(
            "INSERT INTO users (name, role, pw_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![name, role.as_str(), hash, now_ms()],
        )?;
        Ok(Ok(c.last_insert_rowid()))
    })?
}

fn load_user(store: &Store, name: &str) -> Result<Option<(Principal, String)>, AuthError> {
    Ok(store
        .read(|c| {
            Ok(c.query_row(
                "SELECT id, name, role, pw_hash FROM users WHERE name=?1 AND disabled=0",
                [name],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                },
            )
            .optional()?)
        })?
        .and_then(|(id, name, role, hash)| {
            Role::parse(&role).map(|role| {
                (
                    Principal {
                        user_id: id,
                        name,
                        role,
                    },
                    hash,
                )
            })
        }))
}

/// Check a password (Argon2 takes tens of milliseconds: call from a blocking thread).
pub fn check_password(store: &Store, name: &str, password: &str) -> Result<Principal, AuthError> {
    let Some((p, hash)) = load_user(store, name)? else {
        // Spend the same effort for unknown users so timing does not reveal names.
        let _ = hash_password(password);
        return Err(AuthError::BadCredentials);
    };
    let parsed = PasswordHash::new(&hash).map_err(|e| AuthError::Hash(e.to_string()))?;
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .map_err(|_| AuthError::BadCredentials)?;
    Ok(p)
}

/// Issue a token for a user. `kind` is `session` (login) or `api` (integrations);
/// `ttl_ms = None` never expires.
pub fn issue_token(
    store: &Store,
    user_id: i64,
    kind: &str,
    label: &str,
    ttl_ms: Option<i64>,
) -> Result<IssuedToken, AuthError> {
    let token = new_token();
    let now = now_ms();
    let expires = ttl_ms.map(|t| now.saturating_add(t));
    store.write(|c| {
        c.execute(
            "INSERT INTO tokens (user_id, token_hash, kind, label, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![user_id, token_hash(&token), kind, label, now, expires],
        )?;
        Ok(())
    })?;
    Ok(IssuedToken {
        token,
        expires_at_ms: expires,
    })
}

/// Issue an API token for a named user.
pub fn issue_token_for(
    store: &Store,
    name: &str,
    label: &str,
    ttl_ms: Option<i64>,
) -> Result<IssuedToken, AuthError> {
    let (p, _) = load_user(store, name)?.ok_or(AuthError::BadCredentials)?;
    issue_token(store, p.user_id, "api", label, ttl_ms)
}

/// Resolve a bearer token to its user.
pub fn authenticate(store: &Store, token: &str) -> Result<Principal, AuthError> {
    let (p, expires) = lookup_token(store, token)?;
    if expires.is_some_and(|e| e <= now_ms()) {
        return Err(AuthError::Expired);
    }
    Ok(p)
}

/// A token's user and expiry (Unix ms), expired or not.
pub fn lookup_token(store: &Store, token: &str) -> Result<(Principal, Option<i64>), AuthError> {
    if token.is_empty() || token.len() > 200 {
        return Err(AuthError::BadToken);
    }
    let row: Option<(i64, String, String, Option<i64>)> = store.read(|c| {
        Ok(c.prepare_cached(
            "SELECT u.id, u.name, u.role, t.expires_at FROM tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = ?1 AND u.disabled = 0",
        )?
        .query_row([token_hash(token)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?)
    })?;
    let (user_id, name, role, expires) = row.ok_or(AuthError::BadToken)?;
    let role = Role::parse(&role).ok_or(AuthError::BadToken)?;
    Ok((
        Principal {
            user_id,
            name,
            role,
        },
        expires,
    ))
}

/// (user, expiry in Unix ms, when cached)
type CachedToken = (Principal, Option<i64>, std::time::Instant);

/// Short-lived in-memory cache of token lookups, so busy clients do not cost a database
/// read per request. Expiry is still checked on every use; revocation through
/// [`TokenCache::forget`] is immediate, other changes (user disabled, token deleted
/// elsewhere) take effect within `ttl`.
pub struct TokenCache {
    ttl: std::time::Duration,
    map: std::sync::Mutex<std::collections::HashMap<String, CachedToken>>,
}

impl TokenCache {
    pub fn new(ttl: std::time::Duration) -> TokenCache {
        TokenCache {
            ttl,
            map: Default::default(),
        }
    }

    /// A cached answer, without touching the database (`None`: not cached).
    pub fn peek(&self, token: &str) -> Option<Result<Principal, AuthError>> {
        let (p, expires) = self.map.lock().ok().and_then(|m| {
            m.get(token)
                .filter(|(_, _, at)| at.elapsed() < self.ttl)
                .map(|(p, e, _)| (p.clone(), *e))
        })?;
        if expires.is_some_and(|e| e <= now_ms()) {
            return Some(Err(AuthError::Expired));
        }
        Some(Ok(p))
    }

    pub fn authenticate(&self, store: &Store, token: &str) -> Result<Principal, AuthError> {
        let hit = self.map.lock().ok().and_then(|m| {
            m.get(token)
                .filter(|(_, _, at)| at.elapsed() < self.ttl)
                .map(|(p, e, _)| (p.clone(), *e))
        });
        let (p, expires) = match hit {
            Some(v) => v,
            None => {
                let (p, e) = lookup_token(store, token)?;
                if let Ok(mut m) = self.map.lock() {
                    if m.len() > 10_000 {
                        m.clear();
                    }
                    m.insert(token.to_string(), (p.clone(), e, std::time::Instant::now()));
                }
                (p, e)
            }
        };
        if expires.is_some_and(|e| e <= now_ms()) {
            return Err(AuthError::Expired);
        }
        Ok(p)
    }

    pub fn forget(&self, token: &str) {
        if let Ok(mut m) = self.map.lock() {
            m.remove(token);
        }
    }

    /// Drop every cached token of a user (password changed, disabled, deleted, revoked), so
    /// the change takes effect on this node's next request, not after the cache's ttl.
    pub fn forget_user(&self, user_id: i64) {
        if let Ok(mut m) = self.map.lock() {
            m.retain(|_, (p, _, _)| p.user_id != user_id);
        }
    }
}

/// Revoke a token (logout).
pub fn revoke(store: &Store, token: &str) -> Result<bool, AuthError> {
    Ok(store.write(|c| {
        Ok(c.execute(
            "DELETE FROM tokens WHERE token_hash=?1",
            [token_hash(token)],
        )?)
    })? > 0)
}

// ---------- account lifecycle ----------
//
// Every change that takes rights away (password change, disable, delete, role change) revokes
// the user's tokens in the same transaction, so no session outlives it. The caller audits.

/// A user as an administrator sees it (never the password hash).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UserInfo {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at_ms: i64,
    /// Tokens that have not expired.
    pub active_tokens: i64,
}

/// A token as an administrator sees it (never the secret or its hash).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    pub id: i64,
    pub user: String,
    /// `session` (console login) or `api` (integration).
    pub kind: String,
    pub label: String,
    pub created_at_ms: i64,
    pub expires_at_ms: Option<i64>,
}

/// What a lifecycle change did, for the caller's audit record and cache.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub user_id: i64,
    pub user: String,
    pub tokens_revoked: usize,
}

pub fn list_users(store: &Store) -> Result<Vec<UserInfo>, AuthError> {
    let now = now_ms();
    Ok(store.read(|c| {
        let mut st = c.prepare_cached(
            "SELECT u.id, u.name, u.role, u.disabled, u.created_at, \
               (SELECT COUNT(*) FROM tokens t WHERE t.user_id = u.id \
                  AND (t.expires_at IS NULL OR t.expires_at > ?1)) \
             FROM users u ORDER BY u.name",
        )?;
        let rows = st.query_map([now], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, name, role, disabled, created_at_ms, active_tokens) = row?;
            // A row with an unknown role can only come from outside vigil: show it as a viewer
            // would be wrong, so skip it rather than guess.
            if let Some(role) = Role::parse(&role) {
                out.push(UserInfo {
                    id,
                    name,
                    role,
                    disabled: disabled != 0,
                    created_at_ms,
                    active_tokens,
                });
            }
        }
        Ok(out)
    })?)
}

/// Unexpired tokens, optionally of one user, newest first.
pub fn list_tokens(store: &Store, user: Option<&str>) -> Result<Vec<TokenInfo>, AuthError> {
    let now = now_ms();
    Ok(store.read(|c| {
        let mut st = c.prepare_cached(
            "SELECT t.id, u.name, t.kind, t.label, t.created_at, t.expires_at \
             FROM tokens t JOIN users u ON u.id = t.user_id \
             WHERE (t.expires_at IS NULL OR t.expires_at > ?1) AND (?2 IS NULL OR u.name = ?2) \
             ORDER BY t.id DESC",
        )?;
        let rows = st.query_map(params![now, user], |r| {
            Ok(TokenInfo {
                id: r.get(0)?,
                user: r.get(1)?,
                kind: r.get(2)?,
                label: r.get(3)?,
                created_at_ms: r.get(4)?,
                expires_at_ms: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    })?)
}

/// (id, role, disabled) of a user, inside a write transaction.
fn user_row(c: &rusqlite::Connection, name: &str) -> Result<(i64, Role, bool), AuthError> {
    let row: Option<(i64, String, i64)> = c
        .query_row(
            "SELECT id, role, disabled FROM users WHERE name=?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let (id, role, disabled) = row.ok_or_else(|| AuthError::NoSuchUser(name.into()))?;
    let role = Role::parse(&role).ok_or_else(|| AuthError::NoSuchUser(name.into()))?;
    Ok((id, role, disabled != 0))
}

/// Refuse a change that would leave the node without an enabled admin (nobody could manage
/// users any more except through the CLI on the machine itself).
fn keep_an_admin(
    c: &rusqlite::Connection,
    name: &str,
    id: i64,
    role: Role,
) -> Result<(), AuthError> {
    if role != Role::Admin {
        return Ok(());
    }
    let others: i64 = c.query_row(
        "SELECT COUNT(*) FROM users WHERE role='admin' AND disabled=0 AND id<>?1",
        [id],
        |r| r.get(0),
    )?;
    if others == 0 {
        return Err(AuthError::LastAdmin(name.into()));
    }
    Ok(())
}

/// Run `f` in one write transaction, committed only when it succeeds.
fn in_tx<T>(
    store: &Store,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T, AuthError>,
) -> Result<T, AuthError> {
    store.write(|c| {
        let tx = c.transaction()?;
        let res = f(&tx);
        if res.is_ok() {
            tx.commit()?;
        }
        Ok(res)
    })?
}

fn delete_tokens(c: &rusqlite::Connection, user_id: i64) -> Result<usize, AuthError> {
    Ok(c.execute("DELETE FROM tokens WHERE user_id=?1", [user_id])?)
}

/// Set a new password and revoke every token of the user (the caller hands the user a fresh
/// session if it was a self-service change).
pub fn set_password(store: &Store, name: &str, password: &str) -> Result<Change, AuthError> {
    check_password_rules(password)?;
    // Hash outside the write transaction: Argon2 takes tens of milliseconds.
    let hash = hash_password(password)?;
    in_tx(store, |c| {
        let (id, _, _) = user_row(c, name)?;
        c.execute("UPDATE users SET pw_hash=?1 WHERE id=?2", params![hash, id])?;
        Ok(Change {
            user_id: id,
            user: name.into(),
            tokens_revoked: delete_tokens(c, id)?,
        })
    })
}

/// Disable (revoking every token) or enable a user. Disabling the last enabled admin is
/// refused.
pub fn set_disabled(store: &Store, name: &str, disabled: bool) -> Result<Change, AuthError> {
    in_tx(store, |c| {
        let (id, role, _) = user_row(c, name)?;
        let mut n = 0;
        if disabled {
            keep_an_admin(c, name, id, role)?;
            n = delete_tokens(c, id)?;
        }
        c.execute(
            "UPDATE users SET disabled=?1 WHERE id=?2",
            params![disabled as i64, id],
        )?;
        Ok(Change {
            user_id: id,
            user: name.into(),
            tokens_revoked: n,
        })
    })
}

/// Change a user's role; taking admin away from the last enabled admin is refused. Tokens
/// are revoked when rights shrink, so a demoted user logs in again under the new role.
pub fn set_role(store: &Store, name: &str, role: Role) -> Result<Change, AuthError> {
    in_tx(store, |c| {
        let (id, old, _) = user_row(c, name)?;
        let mut n = 0;
        if role < old {
            keep_an_admin(c, name, id, old)?;
            n = delete_tokens(c, id)?;
        }
        c.execute(
            "UPDATE users SET role=?1 WHERE id=?2",
            params![role.as_str(), id],
        )?;
        Ok(Change {
            user_id: id,
            user: name.into(),
            tokens_revoked: n,
        })
    })
}

/// Delete a user and their tokens. The audit log keeps their name in its records (it is
/// append-only); deleting the last enabled admin is refused.
pub fn delete_user(store: &Store, name: &str) -> Result<Change, AuthError> {
    in_tx(store, |c| {
        let (id, role, disabled) = user_row(c, name)?;
        if !disabled {
            keep_an_admin(c, name, id, role)?;
        }
        let n = delete_tokens(c, id)?;
        c.execute("DELETE FROM users WHERE id=?1", [id])?;
        Ok(Change {
            user_id: id,
            user: name.into(),
            tokens_revoked: n,
        })
    })
}

/// Revoke every token of a user (sign them out everywhere).
pub fn revoke_user_tokens(store: &Store, name: &str) -> Result<Change, AuthError> {
    in_tx(store, |c| {
        let (id, _, _) = user_row(c, name)?;
        let n = delete_tokens(c, id)?;
        Ok(Change {
            user_id: id,
            user: name.into(),
            tokens_revoked: n,
        })
    })
}

/// Revoke one token by its id (from [`list_tokens`]); `None` when there is no such token.
pub fn revoke_token_id(store: &Store, id: i64) -> Result<Option<Change>, AuthError> {
    Ok(store.write(|c| {
        let row: Option<(i64, String)> = c
            .query_row(
                "SELECT u.id, u.name FROM tokens t JOIN users u ON u.id=t.user_id WHERE t.id=?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((user_id, user)) = row else {
            return Ok(None);
        };
        c.execute("DELETE FROM tokens WHERE id=?1", [id])?;
        Ok(Some(Change {
            user_id,
            user,
            tokens_revoked: 1,
        }))
    })?)
}

/// Whether `password` is still `name`'s password (used to retire the bootstrap password
/// file once the admin has changed it).
pub fn password_still_valid(store: &Store, name: &str, password: &str) -> Result<bool, AuthError> {
    match check_password(store, name, password) {
        Ok(_) => Ok(true),
        Err(AuthError::BadCredentials) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Name of the file, in the data directory, holding the password of the `admin` user a fresh
/// node creates.
pub const BOOTSTRAP_PASSWORD_FILE: &str = "initial-admin-password";

/// Delete the bootstrap password file once it no longer opens the `admin` account (its
/// password was changed, or the user disabled or deleted): a secret that is no longer needed
/// must not stay on disk. Returns whether the file was removed.
pub fn retire_bootstrap_password(
    store: &Store,
    data_dir: &std::path::Path,
) -> Result<bool, AuthError> {
    let path = data_dir.join(BOOTSTRAP_PASSWORD_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(false);
    };
    let password = text.lines().next().unwrap_or("");
    if password_still_valid(store, "admin", password)? {
        return Ok(false);
    }
    std::fs::remove_file(&path)
        .map_err(|e| AuthError::Invalid(format!("cannot remove {}: {e}", path.display())))?;
    tracing::info!(file = %path.display(), "the bootstrap admin password was changed; its file is removed");
    Ok(true)
}

/// Number of users (a fresh node has none and bootstraps an admin).
pub fn user_count(store: &Store) -> Result<i64, AuthError> {
    Ok(store.read(|c| Ok(c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?))?)
}

// ---------- login throttling ----------

/// Failures allowed for one user name or one client address before waits begin.
const FREE_FAILURES: u32 = 5;
/// Failures from one address (over all user names) before it waits too.
const FREE_FAILURES_ADDR: u32 = 20;
/// Longest wait imposed; also how long an idle record is remembered.
const MAX_LOCK: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// Records kept at most (oldest idle ones go first), so a flood of names cannot grow memory.
const MAX_RECORDS: usize = 20_000;

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: std::time::Instant,
    locked_until: std::time::Instant,
}

/// Per-user-name and per-address login throttling with exponential backoff: after
/// [`FREE_FAILURES`] failures for a name (or [`FREE_FAILURES_ADDR`] from one address) each
/// further failure doubles the wait (1 s, 2 s, 4 s … up to [`MAX_LOCK`]). A success clears the
/// name's record. Time is passed in, so tests need no sleeping.
#[derive(Default)]
pub struct LoginThrottle {
    map: std::sync::Mutex<std::collections::HashMap<String, Failures>>,
}

fn throttle_keys(user: &str, addr: Option<std::net::IpAddr>) -> [Option<String>; 2] {
    [
        Some(format!("u:{}", user.to_lowercase())),
        addr.map(|a| format!("a:{a}")),
    ]
}

impl LoginThrottle {
    /// `Err(wait)` when this name or address must wait before trying again.
    pub fn check(
        &self,
        user: &str,
        addr: Option<std::net::IpAddr>,
        now: std::time::Instant,
    ) -> Result<(), std::time::Duration> {
        let Ok(m) = self.map.lock() else {
            return Ok(());
        };
        let wait = throttle_keys(user, addr)
            .into_iter()
            .flatten()
            .filter_map(|k| m.get(&k))
            .map(|f| f.locked_until.saturating_duration_since(now))
            .max()
            .unwrap_or_default();
        if wait.is_zero() {
            Ok(())
        } else {
            Err(wait)
        }
    }

    /// Count a failed login for the name and the address.
    pub fn failed(&self, user: &str, addr: Option<std::net::IpAddr>, now: std::time::Instant) {
        let Ok(mut m) = self.map.lock() else {
            return;
        };
        if m.len() >= MAX_RECORDS {
            m.retain(|_, f| now.saturating_duration_since(f.last) < MAX_LOCK);
            if m.len() >= MAX_RECORDS {
                // Still full of fresh records: drop the oldest half.
                let mut lasts: Vec<_> = m.values().map(|f| f.last).collect();
                lasts.sort();
                let cut = lasts[lasts.len() / 2];
                m.retain(|_, f| f.last > cut);
            }
        }
        for (k, free) in throttle_keys(user, addr)
            .into_iter()
            .zip([FREE_FAILURES, FREE_FAILURES_ADDR])
            .filter_map(|(k, f)| k.map(|k| (k, f)))
        {
            let f = m.entry(k).or_insert(Failures {
                count: 0,
                last: now,
                locked_until: now,
            });
            // A record idle for longer than the longest wait starts over.
            if now.saturating_duration_since(f.last) >= MAX_LOCK {
                f.count = 0;
            }
            f.count = f.count.saturating_add(1);
            f.last = now;
            if f.count > free {
                let exp = (f.count - free - 1).min(20);
                let wait = std::time::Duration::from_secs(1u64 << exp).min(MAX_LOCK);
                f.locked_until = now + wait;
            }
        }
    }

    /// A successful login clears the name's failures (not the address's: one good account
    /// must not unlock guessing at the others from the same address).
    pub fn succeeded(&self, user: &str) {
        if let Ok(mut m) = self.map.lock() {
            m.remove(&format!("u:{}", user.to_lowercase()));
        }
    }
}

/// A user name as it may appear in a log line: control characters (a newline would forge a
/// line) are escaped, and the length is bounded.
pub fn loggable_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .take(64)
        .flat_map(char::escape_default)
        .collect();
    if name.chars().count() > 64 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path().join("vigil.db")).expect("store");
        (dir, store)
    }

    #[test]
    fn lifecycle_changes_revoke_tokens_and_keep_an_admin() {
        let (_d, st) = store();
        add_user(&st, "root", Role::Admin, "admin-password").unwrap();
        let op = add_user(&st, "ops", Role::Operator, "operator-pw").unwrap();
        let t1 = issue_token(&st, op, "session", "login", None).unwrap();
        let t2 = issue_token(&st, op, "api", "nvr", Some(60_000)).unwrap();
        assert_eq!(authenticate(&st, &t1.token).unwrap().name, "ops");
        let users = list_users(&st).unwrap();
        assert_eq!(
            users
                .iter()
                .find(|u| u.name == "ops")
                .unwrap()
                .active_tokens,
            2
        );

        // A password change revokes every token; the old password stops working.
        let ch = set_password(&st, "ops", "a-new-password").unwrap();
        assert_eq!(ch.tokens_revoked, 2);
        assert!(matches!(
            authenticate(&st, &t1.token),
            Err(AuthError::BadToken)
        ));
        assert!(matches!(
            authenticate(&st, &t2.token),
            Err(AuthError::BadToken)
        ));
        assert!(check_password(&st, "ops", "operator-pw").is_err());
        assert!(check_password(&st, "ops", "a-new-password").is_ok());
        assert!(matches!(
            set_password(&st, "ops", "short"),
            Err(AuthError::Invalid(_))
        ));
        assert!(matches!(
            set_password(&st, "nobody", "long-enough"),
            Err(AuthError::NoSuchUser(_))
        ));

        // Disabling revokes too, and a disabled user cannot log in until enabled again.
        let t3 = issue_token(&st, op, "api", "x", None).unwrap();
        assert_eq!(set_disabled(&st, "ops", true).unwrap().tokens_revoked, 1);
        assert!(authenticate(&st, &t3.token).is_err());
        assert!(check_password(&st, "ops", "a-new-password").is_err());
        set_disabled(&st, "ops", false).unwrap();
        assert!(check_password(&st, "ops", "a-new-password").is_ok());

        // The last enabled admin can be neither disabled, demoted nor deleted.
        assert!(matches!(
            set_disabled(&st, "root", true),
            Err(AuthError::LastAdmin(_))
        ));
        assert!(matches!(
            set_role(&st, "root", Role::Viewer),
            Err(AuthError::LastAdmin(_))
        ));
        assert!(matches!(
            delete_user(&st, "root"),
            Err(AuthError::LastAdmin(_))
        ));
        set_role(&st, "ops", Role::Admin).unwrap();
        set_disabled(&st, "root", true).unwrap();
        assert!(matches!(
            delete_user(&st, "ops"),
            Err(AuthError::LastAdmin(_))
        ));
        // A refused change changed nothing.
        assert!(
            !list_users(&st)
                .unwrap()
                .iter()
                .find(|u| u.name == "ops")
                .unwrap()
                .disabled
        );

        // Revoking one token by id, and all of a user's tokens.
        let a = issue_token(&st, op, "api", "a", None).unwrap();
        let b = issue_token(&st, op, "api", "b", None).unwrap();
        let listed = list_tokens(&st, Some("ops")).unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].label, "b");
        let ch = revoke_token_id(&st, listed[0].id).unwrap().unwrap();
        assert_eq!(ch.user, "ops");
        assert!(authenticate(&st, &b.token).is_err());
        assert!(authenticate(&st, &a.token).is_ok());
        assert!(revoke_token_id(&st, listed[0].id).unwrap().is_none());
        assert_eq!(revoke_user_tokens(&st, "ops").unwrap().tokens_revoked, 1);
        assert!(authenticate(&st, &a.token).is_err());

        // Delete: the user and their tokens are gone; the name can be reused.
        set_disabled(&st, "root", false).unwrap();
        let c = issue_token(&st, op, "api", "c", None).unwrap();
        assert_eq!(delete_user(&st, "ops").unwrap().tokens_revoked, 1);
        assert!(authenticate(&st, &c.token).is_err());
        assert!(list_users(&st).unwrap().iter().all(|u| u.name != "ops"));
        add_user(&st, "ops", Role::Viewer, "reused-name").unwrap();
    }

    #[test]
    fn token_cache_forgets_a_users_tokens_at_once() {
        let (_d, st) = store();
        let id = add_user(&st, "ops", Role::Operator, "operator-pw").unwrap();
        let t = issue_token(&st, id, "session", "login", None).unwrap();
        let cache = TokenCache::new(std::time::Duration::from_secs(3600));
        assert!(cache.authenticate(&st, &t.token).is_ok());
        set_disabled(&st, "ops", true).unwrap();
        // Still cached: the store change alone is seen only after the ttl …
        assert!(cache.peek(&t.token).is_some());
        // … forgetting the user makes it immediate.
        cache.forget_user(id);
        assert!(cache.authenticate(&st, &t.token).is_err());
    }

    #[test]
    fn permission_table() {
        assert!(!Role::Viewer.allows(Action::DownloadEvidence));
        assert!(!Role::Viewer.allows(Action::HandleAlarm));
        assert!(Role::Viewer.allows(Action::ViewEvents));
        assert!(Role::Operator.allows(Action::DownloadEvidence));
        assert!(!Role::Operator.allows(Action::ManageUsers));
        assert!(Role::Admin.allows(Action::ManageUsers));
        assert!(Role::Admin.allows(Action::HandleAlarm));
    }

    #[test]
    fn failed_logins_back_off_per_name_and_address() {
        use std::time::Duration;
        let t = LoginThrottle::default();
        let a: std::net::IpAddr = [10, 0, 0, 1].into();
        let b: std::net::IpAddr = [10, 0, 0, 2].into();
        let t0 = std::time::Instant::now();
        for _ in 0..FREE_FAILURES {
            assert!(t.check("alice", Some(a), t0).is_ok());
            t.failed("alice", Some(a), t0);
        }
        assert!(t.check("alice", Some(a), t0).is_ok(), "free failures");
        t.failed("alice", Some(a), t0);
        assert_eq!(t.check("alice", Some(a), t0), Err(Duration::from_secs(1)));
        // The name is locked from any address; the address can still try other names.
        assert!(t.check("ALICE", Some(b), t0).is_err());
        assert!(t.check("bob", Some(a), t0).is_ok());
        t.failed("alice", Some(b), t0);
        assert_eq!(t.check("alice", None, t0), Err(Duration::from_secs(2)));
        assert!(t.check("alice", None, t0 + Duration::from_secs(3)).is_ok());
        // A success clears the name.
        t.succeeded("alice");
        assert!(t.check("alice", Some(b), t0).is_ok());
        // Guessing many names from one address locks the address.
        for i in 0..=FREE_FAILURES_ADDR {
            t.failed(&format!("user{i}"), Some(b), t0);
        }
        assert!(t.check("carol", Some(b), t0).is_err());
        assert!(t.check("carol", Some(a), t0).is_ok());
        // The wait is capped.
        for _ in 0..40 {
            t.failed("dave", None, t0);
        }
        assert_eq!(t.check("dave", None, t0), Err(MAX_LOCK));
    }

    #[test]
    fn names_in_logs_cannot_forge_lines() {
        assert_eq!(loggable_name("eve\nINFO forged"), "eve\\nINFO forged");
        assert_eq!(loggable_name(&"x".repeat(100)).chars().count(), 65);
    }
}
