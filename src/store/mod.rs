//! Embedded SQLite store: events, evidence index, camera health, users/tokens, audit log
//! and the push outbox.
//!
//! One writer connection behind a mutex plus a few read connections (WAL lets readers run
//! beside the writer). All calls are blocking; async code calls them via `spawn_blocking`.
//! Every event change writes its outbox notice in the same transaction, so a committed
//! event is never lost to subscribers and nobody is notified of an uncommitted one.

mod events;
mod health;
mod retention;
pub mod schema;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use events::{
    EventFilter, EventPage, EventRecord, EventState, EvidenceInfo, EvidenceKind, Note, OutboxNotice,
};
pub use health::{HealthSample, HealthWindow};
pub use retention::RetentionReport;

/// Stable snake_case name of an event kind (`falling_object`, ...).
pub fn kind_name(k: crate::events::EventKind) -> &'static str {
    events::kind_str(k)
}

/// `new`, `update` or `end`.
pub fn phase_name(p: crate::events::Phase) -> &'static str {
    events::phase_str(p)
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("io on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("store lock poisoned")]
    Poisoned,
    #[error("database schema version {found} is newer than this build ({supported})")]
    TooNew { found: i64, supported: i64 },
}

const READERS: usize = 4;

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    audit: std::sync::RwLock<Option<AuditSigning>>,
}

/// How this node signs the audit chain it appends to (see `crate::audit`): the HMAC-SM3 key
/// (kept outside the data directory), its public id, and the node's name, which every record
/// carries so that several nodes can append to one chain.
#[derive(Clone)]
pub struct AuditSigning {
    pub key: [u8; 32],
    pub key_id: String,
    pub node: String,
}

impl std::fmt::Debug for AuditSigning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AuditSigning(key id {}, node {})",
            self.key_id, self.node
        )
    }
}

/// Handle to the store; cheap to clone, shareable across threads.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish()
    }
}

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(Duration::from_secs(5))?;
    // FULL: a committed event survives power loss, not only a process kill.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

impl Store {
    /// Open (creating if needed) the database file and apply pending migrations.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let mut writer = Connection::open(&path)?;
        let mode: String = writer.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(%mode, "sqlite did not switch to WAL");
        }
        configure(&writer)?;
        migrate(&mut writer)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let c = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            c.busy_timeout(Duration::from_secs(5))?;
            readers.push(Mutex::new(c));
        }
        Ok(Store {
            inner: Arc::new(Inner {
                path,
                writer: Mutex::new(writer),
                readers,
                next_reader: AtomicUsize::new(0),
                audit: std::sync::RwLock::new(None),
            }),
        })
    }

    /// Sign every audit record appended through this store from now on.
    pub fn set_audit_signing(&self, s: Option<AuditSigning>) {
        if let Ok(mut g) = self.inner.audit.write() {
            *g = s;
        }
    }

    /// The audit signing in effect, if any.
    pub fn audit_signing(&self) -> Option<AuditSigning> {
        self.inner.audit.read().ok().and_then(|g| g.clone())
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Run `f` on the writer connection.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut g = self.inner.writer.lock().map_err(|_| StoreError::Poisoned)?;
        f(&mut g)
    }

    /// Run `f` on a read connection (round robin; falls back to waiting on one).
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let n = self.inner.readers.len();
        let start = self.inner.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Ok(g) = self.inner.readers[(start + i) % n].try_lock() {
                return f(&g);
            }
        }
        let g: MutexGuard<'_, Connection> = self.inner.readers[start % n]
            .lock()
            .map_err(|_| StoreError::Poisoned)?;
        f(&g)
    }

    /// Highest applied migration.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.read(|c| Ok(c.query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))?))
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    let current: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |r| r.get(0),
    )?;
    let supported = schema::MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
    if current > supported {
        return Err(StoreError::TooNew {
            found: current,
            supported,
        });
    }
    for (version, sql) in schema::MIGRATIONS.iter().filter(|m| m.0 > current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [version],
        )?;
        tx.commit()?;
        tracing::info!(version, "applied schema migration");
    }
    Ok(())
}
