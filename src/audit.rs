//! Append-only audit log, hash-chained with SM3 (GB/T 32905).
//!
//! Record `n` stores `hash_n = SM3(hash_{n-1} || canon(record_n))`, where `canon` is the
//! length-prefixed concatenation of seq, ts, actor, role, action, target and the exact
//! stored detail JSON; `hash_0` is 32 zero bytes. Editing or inserting a record breaks the
//! chain at that record; deleting one leaves a sequence gap or a broken link. Deleting the
//! *last* records cannot be seen from the chain alone, so the head (last seq and hash) is
//! also kept in the `audit_head` table and in a file beside the database
//! (`<db>.audit-head`); an attacker must rewrite both the database and that file (keep the
//! file on write-once or separately backed-up storage for real protection).

use std::path::PathBuf;

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use sm3::{Digest, Sm3};

use crate::store::{now_ms, Store, StoreError};

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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
}

/// The first record where verification failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
}

impl From<rusqlite::Error> for AuditError {
    fn from(e: rusqlite::Error) -> Self {
        AuditError::Store(StoreError::Sql(e))
    }
}

const ZERO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// SM3 link hash of a record given the previous hash (hex).
pub fn chain_hash(prev_hash: &str, r: &AuditRecord) -> String {
    let mut h = Sm3::new();
    // A malformed stored prev_hash still hashes deterministically (as its text bytes), so
    // tampering with it is caught by the link check rather than panicking here.
    match hex::decode(prev_hash) {
        Ok(b) => h.update(&b),
        Err(_) => h.update(prev_hash.as_bytes()),
    }
    let seq = r.seq.to_string();
    let ts = r.ts_ms.to_string();
    for field in [
        seq.as_str(),
        ts.as_str(),
        &r.actor,
        &r.role,
        &r.action,
        &r.target,
        &r.detail,
    ] {
        h.update((field.len() as u64).to_le_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Path of the head file kept beside the database.
pub fn head_file(store: &Store) -> PathBuf {
    let mut p = store.path().as_os_str().to_owned();
    p.push(".audit-head");
    PathBuf::from(p)
}

fn write_head_file(store: &Store, seq: i64, hash: &str) {
    let path = head_file(store);
    let tmp = path.with_extension("audit-head.tmp");
    let res =
        std::fs::write(&tmp, format!("{seq} {hash}\n")).and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(e) = res {
        // The database head is authoritative for appends; a stale file is tolerated by
        // verify as long as it names a record on the chain.
        tracing::warn!(path = %path.display(), error = %e, "cannot write audit head file");
    }
}

/// Append a record. The chain link and the head are written in one transaction.
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
        };
        rec.hash = chain_hash(&prev, &rec);
        tx.execute(
            "INSERT INTO audit (seq, ts, actor, role, action, target, detail, prev_hash, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                rec.seq,
                rec.ts_ms,
                rec.actor,
                rec.role,
                rec.action,
                rec.target,
                rec.detail,
                rec.prev_hash,
                rec.hash
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
            "SELECT seq, ts, actor, role, action, target, detail, prev_hash, hash FROM audit \
             WHERE seq > ?1 ORDER BY seq LIMIT ?2",
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
    })
}

fn brk(seq: i64, reason: impl Into<String>) -> AuditError {
    AuditError::Break(AuditBreak {
        seq,
        reason: reason.into(),
    })
}

/// Verify the whole chain and both heads. Returns the number of records on success;
/// otherwise `AuditError::Break` names the first bad record.
pub fn verify(store: &Store) -> Result<u64, AuditError> {
    let mut expected_seq = 1i64;
    let mut prev = ZERO_HASH.to_string();
    let mut hashes: Vec<String> = Vec::new();
    store.read(|c| {
        let mut st = c.prepare(
            "SELECT seq, ts, actor, role, action, target, detail, prev_hash, hash FROM audit ORDER BY seq",
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
            let want = chain_hash(&prev, &r);
            if want != r.hash {
                return Ok(Err(brk(r.seq, "content does not match its hash (record edited)")));
            }
            prev = r.hash.clone();
            hashes.push(r.hash);
            expected_seq += 1;
        }
        Ok(Ok(()))
    })??;
    let last_seq = expected_seq - 1;
    let head: Option<(i64, String)> = store.read(|c| {
        Ok(
            c.query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?,
        )
    })?;
    match head {
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
    Ok(last_seq.max(0) as u64)
}
