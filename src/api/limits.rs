//! Per-node protections the handlers share: login throttling and a cap on concurrent password
//! hashes, one audit record per evidence download session, and a cache of evidence files
//! whose SHA-256 was checked against the index.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::auth::LoginThrottle;

/// Password hashes (Argon2id, ~19 MiB and tens of ms each) run at most this many at once.
pub const MAX_HASHES: usize = 2;
/// Logins waiting for a hash slot at most; more are refused at once (429).
const MAX_HASH_WAITERS: usize = 64;
/// Ranged requests for one file by one user within this time are one download session.
pub const DOWNLOAD_SESSION: Duration = Duration::from_secs(10 * 60);
const MAX_SESSIONS: usize = 10_000;

/// A file version (size, modification time) and the SHA-256 found for it.
type Checked = (u64, Option<SystemTime>, String);

pub struct Guards {
    pub throttle: LoginThrottle,
    hashes: Arc<Semaphore>,
    hash_waiters: AtomicUsize,
    downloads: Mutex<HashMap<(String, i64, &'static str), Instant>>,
    verified: Mutex<HashMap<PathBuf, Checked>>,
}

impl Default for Guards {
    fn default() -> Self {
        Guards {
            throttle: LoginThrottle::default(),
            hashes: Arc::new(Semaphore::new(MAX_HASHES)),
            hash_waiters: AtomicUsize::new(0),
            downloads: Mutex::default(),
            verified: Mutex::default(),
        }
    }
}

impl Guards {
    /// A slot to hash a password in, waiting at most `wait`; `None` when the node is busy.
    /// A password-hashing slot, or the 429 every password route answers when none is free
    /// within 5 s.
    pub(crate) async fn password_slot(&self) -> Result<OwnedSemaphorePermit, super::ApiError> {
        self.hash_slot(Duration::from_secs(5)).await.ok_or_else(|| {
            super::ApiError::too_many("server busy checking passwords", Duration::from_secs(1))
        })
    }

    pub async fn hash_slot(&self, wait: Duration) -> Option<OwnedSemaphorePermit> {
        if self.hash_waiters.fetch_add(1, Ordering::SeqCst) >= MAX_HASH_WAITERS {
            self.hash_waiters.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        let permit = tokio::time::timeout(wait, self.hashes.clone().acquire_owned()).await;
        self.hash_waiters.fetch_sub(1, Ordering::SeqCst);
        permit.ok().and_then(Result::ok)
    }

    /// Whether this request starts a new download session of `user` for the event's file
    /// (and so must be audited): the first request, whatever its range, and again after
    /// [`DOWNLOAD_SESSION`] without one.
    pub fn new_download(&self, user: &str, event: i64, kind: &'static str, now: Instant) -> bool {
        let Ok(mut m) = self.downloads.lock() else {
            return true;
        };
        if m.len() >= MAX_SESSIONS {
            m.retain(|_, t| now.saturating_duration_since(*t) < DOWNLOAD_SESSION);
            if m.len() >= MAX_SESSIONS {
                m.clear();
            }
        }
        let key = (user.to_string(), event, kind);
        let new = m.get(&key).map_or(true, |t| {
            now.saturating_duration_since(*t) >= DOWNLOAD_SESSION
        });
        m.insert(key, now);
        new
    }

    /// Whether the file at `path` still has the SHA-256 it was indexed with. Checked once per
    /// file version (size and modification time), so a player's many Range requests cost one
    /// hash.
    pub fn matches_index(&self, path: &Path, indexed: &str) -> std::io::Result<bool> {
        let meta = std::fs::metadata(path)?;
        let (len, mtime) = (meta.len(), meta.modified().ok());
        if let Ok(m) = self.verified.lock() {
            if let Some((l, t, sha)) = m.get(path) {
                if *l == len && *t == mtime && mtime.is_some() {
                    return Ok(sha.eq_ignore_ascii_case(indexed));
                }
            }
        }
        let mut f = std::fs::File::open(path)?;
        let mut h = Sha256::new();
        std::io::copy(&mut f, &mut h)?;
        let sha = hex::encode(h.finalize());
        let ok = sha.eq_ignore_ascii_case(indexed);
        if let Ok(mut m) = self.verified.lock() {
            if m.len() >= MAX_SESSIONS {
                m.clear();
            }
            m.insert(path.to_path_buf(), (len, mtime, sha));
        }
        Ok(ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_sessions_are_audited_once_whatever_the_range() {
        let g = Guards::default();
        let t0 = Instant::now();
        assert!(g.new_download("guard1", 7, "clip", t0));
        assert!(!g.new_download("guard1", 7, "clip", t0 + Duration::from_secs(5)));
        assert!(g.new_download("guard2", 7, "clip", t0), "another user");
        assert!(g.new_download("guard1", 7, "snapshot", t0), "another file");
        assert!(g.new_download(
            "guard1",
            7,
            "clip",
            t0 + Duration::from_secs(5) + DOWNLOAD_SESSION
        ));
    }

    #[test]
    fn files_are_checked_against_their_indexed_hash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("clip.mp4");
        std::fs::write(&p, b"genuine").expect("write");
        let sha = hex::encode(Sha256::digest(b"genuine"));
        let g = Guards::default();
        assert!(g.matches_index(&p, &sha).expect("read"));
        assert!(g.matches_index(&p, &sha).expect("cached"));
        // Replaced by other bytes of another length: detected despite the cache.
        std::fs::write(&p, b"forged!!").expect("write");
        assert!(!g.matches_index(&p, &sha).expect("read"));
    }
}
