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
    if password.chars().count() < 8 {
        return Err(AuthError::Invalid(
            "password shorter than 8 characters".into(),
        ));
    }
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
