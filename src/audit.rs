//! Append-only audit log: a hash chain, keyed with HMAC-SM3 when the node has an audit key,
//! with heads published outside the node ("anchors").
//!
//! Record `n` stores `hash_n = link(hash_{n-1}, record_n)`, where the record's canonical form
//! is the length-prefixed concatenation of seq, ts, actor, role, action, target and the exact
//! stored detail JSON (and, for keyed records, the node name and key id); `hash_0` is 32 zero
//! bytes.
//! - **Keyed records** (`key_id` set): `link = HMAC-SM3(key, hash_{n-1} || canon)`. The key
//!   lives outside the data directory (a 0600 file), so someone who can write the database
//!   but not read the key cannot edit, insert or re-chain records: every forged record fails.
//! - **Legacy records** (`key_id` empty, written before a key was configured):
//!   `link = SM3(hash_{n-1} || canon)`. With a key, they are accepted only as a prefix that a
//!   keyed record after them seals.
//! - **Truncation** (deleting the newest records, or everything) cannot be seen from a chain
//!   alone, keyed or not. The head is kept in the `audit_head` table and a file beside the
//!   database (cheap checks against careless edits), and — the real protection — published
//!   periodically as an **anchor** (`seq`, `hash`, time, node) to places the node cannot
//!   rewrite later: an append-only file outside the data directory and/or syslog. `verify`
//!   given those anchors fails when the log no longer contains an anchored record.
//!
//! Several nodes may append to one store (a fleet): each record names its node, appends are
//! serialised by the store's write transaction, and one key verifies the one chain.

use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use sm3::{Digest, Sm3};

use crate::store::{now_ms, AuditSigning, Store, StoreError};

type HmacSm3 = Hmac<Sm3>;

/// What an audit record says happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub actor: String,
    pub role: String,
    pub action: String,
    pub target: String,
    pub detail: serde_json::Value,
}

impl AuditEntry {
    pub fn new(actor: &str, role: &str, action: &str, target: &str) -> AuditEntry {
        AuditEntry {
            actor: actor.into(),
            role: role.into(),
            action: action.into(),
            target: target.into(),
            detail: serde_json::Value::Null,
        }
    }
    pub fn detail(mut self, d: serde_json::Value) -> AuditEntry {
        self.detail = d;
        self
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditRecord {
    pub seq: i64,
    pub ts_ms: i64,
    pub actor: String,
    pub role: String,
    pub action: String,
    pub target: String,
    /// Detail JSON exactly as stored (and hashed).
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
    /// Id of the audit key that signed this record; empty for a legacy (unkeyed) record.
    #[serde(default)]
    pub key_id: String,
    /// The node that appended it.
    #[serde(default)]
    pub node: String,
}

/// The first record where verification failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuditBreak {
    pub seq: i64,
    pub reason: String,
}

impl std::fmt::Display for AuditBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "audit record {}: {}", self.seq, self.reason)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Break(AuditBreak),
    #[error("audit head file {path}: {reason}")]
    HeadFile { path: PathBuf, reason: String },
    #[error("audit key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("audit anchors {path}: {reason}")]
    Anchors { path: PathBuf, reason: String },
}

impl From<rusqlite::Error> for AuditError {
    fn from(e: rusqlite::Error) -> Self {
        AuditError::Store(StoreError::Sql(e))
    }
}

const ZERO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Feed the previous hash and the length-prefixed fields into a link hash (SM3 or HMAC-SM3).
fn feed_link(h: &mut impl sm3::digest::Update, prev_hash: &str, fields: &[&str]) {
    // A malformed stored prev_hash still hashes deterministically (as its text bytes), so
    // tampering with it is caught by the link check rather than panicking here.
    match hex::decode(prev_hash) {
        Ok(b) => h.update(&b),
        Err(_) => h.update(prev_hash.as_bytes()),
    }
    for field in fields {
        h.update(&(field.len() as u64).to_le_bytes());
        h.update(field.as_bytes());
    }
}

/// SM3 link hash of a record given the previous hash (hex).
pub fn chain_hash(prev_hash: &str, r: &AuditRecord) -> String {
    let mut h = Sm3::new();
    let (seq, ts) = (r.seq.to_string(), r.ts_ms.to_string());
    let fields = [
        seq.as_str(),
        ts.as_str(),
        &r.actor,
        &r.role,
        &r.action,
        &r.target,
        &r.detail,
    ];
    feed_link(&mut h, prev_hash, &fields);
    hex::encode(h.finalize())
}

/// HMAC-SM3 link of a keyed record.
fn keyed_hash(key: &[u8; 32], prev_hash: &str, r: &AuditRecord) -> String {
    let mut m = <HmacSm3 as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    let (seq, ts) = (r.seq.to_string(), r.ts_ms.to_string());
    let fields = [
        "vigil-audit-v2",
        seq.as_str(),
        ts.as_str(),
        &r.actor,
        &r.role,
        &r.action,
        &r.target,
        &r.detail,
        &r.node,
        &r.key_id,
    ];
    feed_link(&mut m, prev_hash, &fields);
    hex::encode(m.finalize().into_bytes())
}

/// The audit chain's HMAC-SM3 key: 32 random bytes, stored as 64 hex digits in a file that
/// only the node's user can read, outside the data directory.
#[derive(Clone)]
pub struct AuditKey {
    key: [u8; 32],
    id: String,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditKey(id {})", self.id)
    }
}

impl AuditKey {
    pub fn from_bytes(key: [u8; 32]) -> AuditKey {
        // The id names the key in records and reports without revealing it.
        let mut m = <HmacSm3 as Mac>::new_from_slice(&key).expect("HMAC accepts any key length");
        m.update(b"vigil audit key id v1");
        let id = hex::encode(&m.finalize().into_bytes()[..8]);
        AuditKey { key, id }
    }

    pub fn from_hex(text: &str) -> Option<AuditKey> {
        let b = hex::decode(text.trim()).ok()?;
        let key: [u8; 32] = b.try_into().ok()?;
        Some(AuditKey::from_bytes(key))
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Read the key file. Refused: a file others can read or write (mode & 077), a file
    /// inside `data_dir` (whoever can rewrite the log could read the key beside it), or
    /// anything but 64 hex digits.
    pub fn load(path: &Path, data_dir: Option<&Path>) -> Result<AuditKey, AuditError> {
        let err = |reason: String| AuditError::Key {
            path: path.to_path_buf(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(err(format!(
                    "mode {mode:o} lets other users read or change it; chmod 600"
                )));
            }
        }
        #[cfg(not(unix))]
        let _ = meta;
        if let Some(data) = data_dir {
            let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            if canon(path).starts_with(canon(data)) {
                return Err(err(format!(
                    "it is inside the data directory {}; keep it elsewhere (e.g. /etc/vigil/)",
                    data.display()
                )));
            }
        }
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        AuditKey::from_hex(&text).ok_or_else(|| err("not 64 hex digits".into()))
    }

    /// Make a new random key file (mode 0600 from creation; an existing file is never replaced).
    pub fn generate(path: &Path) -> Result<AuditKey, AuditError> {
        use rand::RngCore;
        use std::io::Write;
        let err = |reason: String| AuditError::Key {
            path: path.to_path_buf(),
            reason,
        };
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let mut f = private_options()
            .create_new(true)
            .open(path)
            .map_err(|e| err(e.to_string()))?;
        f.write_all(format!("{}\n", hex::encode(key)).as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| err(e.to_string()))?;
        Ok(AuditKey::from_bytes(key))
    }

    /// The signing settings for a store, for records appended by `node`.
    pub fn signing(&self, node: &str) -> AuditSigning {
        AuditSigning {
            key: self.key,
            key_id: self.id.clone(),
            node: node.to_string(),
        }
    }
}

/// Path of the head file kept beside the database.
pub fn head_file(store: &Store) -> PathBuf {
    let mut p = store.path().as_os_str().to_owned();
    p.push(".audit-head");
    PathBuf::from(p)
}

fn write_head_file(store: &Store, seq: i64, hash: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let path = head_file(store);
    // A temporary name of its own per write: concurrent appends never share one.
    let tmp = path.with_extension(format!(
        "audit-head.{}.{}.tmp",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let res = write_private(&tmp, format!("{seq} {hash}\n").as_bytes())
        .and_then(|()| std::fs::rename(&tmp, &path));
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    if let Err(e) = res {
        // The database head is authoritative for appends; a stale file is tolerated by
        // verify as long as it names a record on the chain.
        tracing::warn!(path = %path.display(), error = %e, "cannot write audit head file");
    }
}

/// Write a new file readable by its owner only (0600 from creation, not chmod-ed after).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = private_options().truncate(true).create(true).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Options for a file only its owner may read: mode 0600 from creation on Unix.
fn private_options() -> std::fs::OpenOptions {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts
}

/// Append a record. The chain link and the head are written in one transaction. Signed with
/// the store's audit key when it has one ([`Store::set_audit_signing`]).
pub fn append(store: &Store, e: &AuditEntry) -> Result<AuditRecord, AuditError> {
    let detail = serde_json::to_string(&e.detail).map_err(StoreError::Json)?;
    let rec = store.write(|c| {
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let head: Option<(i64, String)> = tx
            .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let (last_seq, prev) = head.unwrap_or((0, ZERO_HASH.to_string()));
        let signing = store.audit_signing();
        let mut rec = AuditRecord {
            seq: last_seq + 1,
            ts_ms: now_ms(),
            actor: e.actor.clone(),
            role: e.role.clone(),
            action: e.action.clone(),
            target: e.target.clone(),
            detail: detail.clone(),
            prev_hash: prev.clone(),
            hash: String::new(),
            key_id: signing
                .as_ref()
                .map(|s| s.key_id.clone())
                .unwrap_or_default(),
            node: signing.as_ref().map(|s| s.node.clone()).unwrap_or_default(),
        };
        rec.hash = match &signing {
            Some(s) => keyed_hash(&s.key, &prev, &rec),
            None => chain_hash(&prev, &rec),
        };
        tx.execute(
            "INSERT INTO audit (seq, ts, actor, role, action, target, detail, prev_hash, hash, \
             key_id, node) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                rec.seq,
                rec.ts_ms,
                rec.actor,
                rec.role,
                rec.action,
                rec.target,
                rec.detail,
                rec.prev_hash,
                rec.hash,
                rec.key_id,
                rec.node
            ],
        )?;
        tx.execute(
            "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?1, ?2) \
             ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            params![rec.seq, rec.hash],
        )?;
        tx.commit()?;
        Ok(rec)
    })?;
    write_head_file(store, rec.seq, &rec.hash);
    Ok(rec)
}

/// Records with `seq > after`, oldest first, at most `limit`.
pub fn list(store: &Store, after: i64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
    store.read(|c| {
        let mut st = c.prepare_cached(
            "SELECT seq, ts, actor, role, action, target, detail, prev_hash, hash, key_id, node \
             FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = st
            .query_map(params![after, limit as i64], row_to_rec)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    })
}

fn row_to_rec(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        seq: r.get(0)?,
        ts_ms: r.get(1)?,
        actor: r.get(2)?,
        role: r.get(3)?,
        action: r.get(4)?,
        target: r.get(5)?,
        detail: r.get(6)?,
        prev_hash: r.get(7)?,
        hash: r.get(8)?,
        key_id: r.get(9)?,
        node: r.get(10)?,
    })
}

fn brk(seq: i64, reason: impl Into<String>) -> AuditError {
    AuditError::Break(AuditBreak {
        seq,
        reason: reason.into(),
    })
}

/// The head the `audit_head` table holds: (last seq, its hash).
fn stored_head(store: &Store) -> Result<Option<(i64, String)>, StoreError> {
    store.read(|c| {
        Ok(
            c.query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?,
        )
    })
}

/// A published head of the chain: the log must still contain record `seq` with `hash`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub seq: i64,
    pub hash: String,
    pub ts_ms: i64,
    #[serde(default)]
    pub node: String,
}

/// Marks an anchor line in syslog or a file (so `verify --anchors` can read a syslog file).
pub const ANCHOR_MARK: &str = "vigil-audit-anchor";

/// Anchors from a file of lines `… vigil-audit-anchor {json}` (what [`publish_anchor`]
/// writes, to a file or through syslog) or bare JSON lines. Other lines are skipped, so a
/// whole syslog file can be given.
pub fn read_anchors(path: &Path) -> Result<Vec<Anchor>, AuditError> {
    let text = std::fs::read_to_string(path).map_err(|e| AuditError::Anchors {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let json = match line.find(ANCHOR_MARK) {
            Some(p) => &line[p + ANCHOR_MARK.len()..],
            None if line.trim_start().starts_with('{') => line,
            None => continue,
        };
        let a: Anchor = serde_json::from_str(json.trim()).map_err(|e| AuditError::Anchors {
            path: path.to_path_buf(),
            reason: format!("line {}: {e}", i + 1),
        })?;
        out.push(a);
    }
    Ok(out)
}

/// What `verify` checks beyond the chain itself.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// The audit key; without it keyed records cannot be checked and verification fails.
    pub key: Option<AuditKey>,
    /// Heads published earlier; each must still be on the chain.
    pub anchors: Vec<Anchor>,
}

/// What a successful verification covered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub records: u64,
    /// Records signed with the key (the rest are legacy records sealed by a keyed one).
    pub keyed: u64,
    pub anchors_checked: usize,
    /// The newest anchored seq, if anchors were given.
    pub latest_anchor: Option<i64>,
}

/// Verify the chain and the heads with the store's own key (if it has one) and no anchors.
/// Returns the number of records; otherwise `AuditError::Break` names the first bad record.
pub fn verify(store: &Store) -> Result<u64, AuditError> {
    let key = store.audit_signing().map(|s| AuditKey::from_bytes(s.key));
    verify_with(
        store,
        &VerifyOptions {
            key,
            anchors: Vec::new(),
        },
    )
    .map(|r| r.records)
}

/// Verify every record's link, the stored heads and the given anchors.
pub fn verify_with(store: &Store, opts: &VerifyOptions) -> Result<VerifyReport, AuditError> {
    let mut expected_seq = 1i64;
    let mut prev = ZERO_HASH.to_string();
    let mut hashes: Vec<String> = Vec::new();
    let mut keyed = 0u64;
    let mut last_keyed = false;
    store.read(|c| {
        let mut st = c.prepare(
            "SELECT seq, ts, actor, role, action, target, detail, prev_hash, hash, key_id, node \
             FROM audit ORDER BY seq",
        )?;
        let rows = st.query_map([], row_to_rec)?;
        for row in rows {
            let r = row?;
            if r.seq != expected_seq {
                return Ok(Err(brk(
                    expected_seq,
                    format!("missing: next stored record is seq {}", r.seq),
                )));
            }
            if r.prev_hash != prev {
                return Ok(Err(brk(
                    r.seq,
                    "prev_hash does not match the previous record's hash (record inserted, removed or altered before it)",
                )));
            }
            let want = if r.key_id.is_empty() {
                if keyed > 0 {
                    return Ok(Err(brk(
                        r.seq,
                        "unkeyed record after keyed ones (written without the audit key)",
                    )));
                }
                chain_hash(&prev, &r)
            } else {
                let Some(k) = &opts.key else {
                    return Ok(Err(brk(
                        r.seq,
                        format!("record is signed with audit key {}; give the key to verify it", r.key_id),
                    )));
                };
                if k.id() != r.key_id {
                    return Ok(Err(brk(
                        r.seq,
                        format!("signed with audit key {}, not with the given key {}", r.key_id, k.id()),
                    )));
                }
                keyed += 1;
                keyed_hash(&k.key, &prev, &r)
            };
            if want != r.hash {
                return Ok(Err(brk(r.seq, "content does not match its hash (record edited or forged)")));
            }
            last_keyed = !r.key_id.is_empty();
            prev = r.hash.clone();
            hashes.push(r.hash);
            expected_seq += 1;
        }
        Ok(Ok(()))
    })??;
    let last_seq = expected_seq - 1;
    // With a key, the newest record must be signed: legacy records are accepted only as a
    // prefix sealed by a keyed record after them (else the whole log could be rewritten
    // unkeyed).
    if opts.key.is_some() && last_seq > 0 && !last_keyed {
        return Err(brk(
            last_seq,
            "the newest record is not signed with the audit key (log rewritten without the key, or keyed records removed)",
        ));
    }
    // Anchors: each published head must still be on the chain.
    let mut latest_anchor = None;
    for a in &opts.anchors {
        latest_anchor = latest_anchor.max(Some(a.seq));
        let when = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(a.ts_ms)
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| a.ts_ms.to_string());
        if a.seq > last_seq {
            return Err(brk(
                last_seq + 1,
                format!(
                    "missing: the log ends at seq {last_seq} but the head published at {when} was seq {} (records removed)",
                    a.seq
                ),
            ));
        }
        let on_chain = usize::try_from(a.seq - 1)
            .ok()
            .and_then(|i| hashes.get(i))
            .is_some_and(|h| *h == a.hash);
        if a.seq >= 1 && !on_chain {
            return Err(brk(
                a.seq,
                format!("does not match the head published at {when} (log rewritten)"),
            ));
        }
    }
    match stored_head(store)? {
        None if last_seq > 0 => return Err(brk(last_seq, "audit head missing")),
        None => {}
        Some((hs, hh)) => {
            if hs > last_seq {
                return Err(brk(
                    last_seq + 1,
                    format!("missing: head says the log ends at seq {hs}"),
                ));
            }
            if hs < last_seq {
                return Err(brk(
                    hs + 1,
                    format!("record after the head (seq {hs}) appended outside the log"),
                ));
            }
            if hs > 0 && hh != prev {
                return Err(brk(hs, "last record does not match the audit head"));
            }
        }
    }
    // The file may lag the database by a crash between commit and write, but it must name a
    // record on the chain and never be ahead of it.
    let path = head_file(store);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let mut it = text.split_whitespace();
            let fs: Option<i64> = it.next().and_then(|s| s.parse().ok());
            let fh = it.next().unwrap_or("");
            let Some(fs) = fs else {
                return Err(AuditError::HeadFile {
                    path,
                    reason: "unreadable content".into(),
                });
            };
            if fs > last_seq {
                return Err(brk(
                    last_seq + 1,
                    format!("missing: head file says the log ends at seq {fs}"),
                ));
            }
            if fs >= 1 {
                let on_chain = usize::try_from(fs - 1)
                    .ok()
                    .and_then(|i| hashes.get(i))
                    .is_some_and(|h| h == fh);
                if !on_chain {
                    return Err(brk(fs, "record does not match the head file"));
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && last_seq == 0 => {}
        Err(e) => {
            return Err(AuditError::HeadFile {
                path,
                reason: e.to_string(),
            })
        }
    }
    Ok(VerifyReport {
        records: last_seq.max(0) as u64,
        keyed,
        anchors_checked: opts.anchors.len(),
        latest_anchor,
    })
}

// ---------- anchors ----------

/// Where anchors go: an append-only file outside the data directory and/or the local syslog.
#[derive(Clone, Debug, Default)]
pub struct AnchorSinks {
    pub file: Option<PathBuf>,
    pub syslog: bool,
}

/// The chain's current head as an anchor (`None` for an empty log).
pub fn current_anchor(store: &Store) -> Result<Option<Anchor>, AuditError> {
    let node = store.audit_signing().map(|s| s.node).unwrap_or_default();
    let head = stored_head(store)?;
    Ok(head.map(|(seq, hash)| Anchor {
        seq,
        hash,
        ts_ms: now_ms(),
        node,
    }))
}

/// Publish `a` to every sink; the first failure is returned after trying all of them.
pub fn publish_anchor(a: &Anchor, sinks: &AnchorSinks) -> Result<(), AuditError> {
    let json = serde_json::to_string(a).map_err(StoreError::Json)?;
    let line = format!("{ANCHOR_MARK} {json}");
    let mut first_err = None;
    if let Some(path) = &sinks.file {
        use std::io::Write;
        let res = private_options()
            .append(true)
            .create(true)
            .open(path)
            .and_then(|mut f| {
                f.write_all(format!("{line}\n").as_bytes())?;
                f.sync_all()
            });
        if let Err(e) = res {
            first_err.get_or_insert(AuditError::Anchors {
                path: path.clone(),
                reason: e.to_string(),
            });
        }
    }
    if sinks.syslog {
        if let Err(e) = send_syslog(&line) {
            first_err.get_or_insert(AuditError::Anchors {
                path: PathBuf::from("/dev/log"),
                reason: e.to_string(),
            });
        }
    }
    // Also in the node's own log, which usually leaves the machine (journald, a collector).
    tracing::info!(seq = a.seq, hash = %a.hash, "{line}");
    first_err.map_or(Ok(()), Err)
}

#[cfg(unix)]
fn send_syslog(line: &str) -> std::io::Result<()> {
    // RFC 3164 over the local socket; facility authpriv (10), severity info (6).
    let sock = std::os::unix::net::UnixDatagram::unbound()?;
    sock.send_to(format!("<86>vigil-audit: {line}").as_bytes(), "/dev/log")?;
    Ok(())
}

#[cfg(not(unix))]
fn send_syslog(_line: &str) -> std::io::Result<()> {
    Err(std::io::Error::other("syslog is only available on Unix"))
}

/// Publish the head every `every` when it moved, and once more when `stop` is set.
pub fn spawn_anchor_task(
    store: Store,
    sinks: AnchorSinks,
    every: std::time::Duration,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("audit-anchor".into())
        .spawn(move || {
            let mut last: Option<i64> = None;
            let mut next = std::time::Instant::now();
            loop {
                let stopping = stop.load(std::sync::atomic::Ordering::SeqCst);
                if stopping || std::time::Instant::now() >= next {
                    next = std::time::Instant::now() + every;
                    match current_anchor(&store) {
                        Ok(Some(a)) if last != Some(a.seq) => match publish_anchor(&a, &sinks) {
                            Ok(()) => last = Some(a.seq),
                            Err(e) => {
                                tracing::error!(error = %e, "cannot publish the audit anchor")
                            }
                        },
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "cannot read the audit head"),
                    }
                }
                if stopping {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        })
}
