//! Events, notes, evidence index and outbox notices.

use std::io::Read;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{now_ms, Store, StoreError};
use crate::events::{Event, EventKind, Origin, Phase};

/// Handling state of an alarm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventState {
    New,
    Acknowledged,
    FalseAlarm,
}

impl EventState {
    pub fn as_str(self) -> &'static str {
        match self {
            EventState::New => "new",
            EventState::Acknowledged => "acknowledged",
            EventState::FalseAlarm => "false_alarm",
        }
    }
    pub fn parse(s: &str) -> Option<EventState> {
        match s {
            "new" => Some(EventState::New),
            "acknowledged" => Some(EventState::Acknowledged),
            "false_alarm" => Some(EventState::FalseAlarm),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    Clip,
    Snapshot,
    Trajectory,
}

impl EvidenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::Clip => "clip",
            EvidenceKind::Snapshot => "snapshot",
            EvidenceKind::Trajectory => "trajectory",
        }
    }
    pub fn parse(s: &str) -> Option<EvidenceKind> {
        match s {
            "clip" => Some(EvidenceKind::Clip),
            "snapshot" => Some(EvidenceKind::Snapshot),
            "trajectory" => Some(EvidenceKind::Trajectory),
            _ => None,
        }
    }
    /// Evidence kind for a picture file name such as `trajectory.png`.
    pub fn from_file_name(name: &str) -> Option<EvidenceKind> {
        let stem = name.split('.').next().unwrap_or(name);
        EvidenceKind::parse(stem)
    }
}

pub(crate) fn kind_str(k: EventKind) -> &'static str {
    match k {
        EventKind::FallingObject => "falling_object",
        EventKind::EbikeInElevator => "ebike_in_elevator",
    }
}

pub(crate) fn parse_kind(s: &str) -> Option<EventKind> {
    match s {
        "falling_object" => Some(EventKind::FallingObject),
        "ebike_in_elevator" => Some(EventKind::EbikeInElevator),
        _ => None,
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Note {
    pub ts_ms: i64,
    pub user: String,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EvidenceInfo {
    pub kind: EvidenceKind,
    #[serde(skip)]
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
    pub gone: bool,
}

/// An event as stored (the analytic's event plus node-side id, times and handling state).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Event)]
pub struct EventRecord {
    /// Store id, unique for the node's lifetime.
    pub id: i64,
    /// The analytic's per-camera sequence number.
    pub seq: u64,
    pub camera: String,
    pub kind: EventKind,
    pub start_s: f64,
    pub end_s: f64,
    pub alarm_s: f64,
    /// Wall clock, Unix milliseconds.
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub confidence: f64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub origin: Option<Origin>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub bbox: Option<[f64; 4]>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub trajectory: Option<Vec<[f64; 3]>>,
    /// `open` while the analytic may still update it, `ended` after its end.
    pub phase: String,
    pub state: EventState,
    #[serde(default)]
    pub notes: Vec<Note>,
    #[serde(default)]
    pub evidence: Vec<EvidenceInfo>,
}

/// Filters for [`Store::list_events`]. Times are wall clock, Unix milliseconds.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub camera: Option<String>,
    pub kind: Option<EventKind>,
    pub state: Option<EventState>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct EventPage {
    pub events: Vec<EventRecord>,
    /// Pass back as `cursor` for the next (older) page; `None` at the end.
    pub next_cursor: Option<String>,
}

/// One outbox row: a notice about an event change.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OutboxNotice {
    pub seq: i64,
    pub event_id: i64,
    /// `new`, `update`, `end` or `state`.
    pub phase: String,
    pub camera: String,
    /// JSON body delivered to subscribers.
    pub payload: String,
}

pub(crate) fn phase_str(p: Phase) -> &'static str {
    match p {
        Phase::New => "new",
        Phase::Update => "update",
        Phase::End => "end",
    }
}

const EVENT_COLS: &str = "id, seq, camera, kind, start_s, end_s, alarm_s, created_at, updated_at, \
     confidence, origin, bbox, label, trajectory, phase, state";

fn row_to_record(r: &Row<'_>) -> rusqlite::Result<EventRecord> {
    let kind: String = r.get(3)?;
    let origin: Option<String> = r.get(10)?;
    let bbox: Option<String> = r.get(11)?;
    let traj: Option<String> = r.get(13)?;
    let state: String = r.get(15)?;
    let bad = |i: usize, what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("bad {what}").into(),
        )
    };
    Ok(EventRecord {
        id: r.get(0)?,
        seq: r.get::<_, i64>(1)? as u64,
        camera: r.get(2)?,
        kind: parse_kind(&kind).ok_or_else(|| bad(3, "kind"))?,
        start_s: r.get(4)?,
        end_s: r.get(5)?,
        alarm_s: r.get(6)?,
        created_at_ms: r.get(7)?,
        updated_at_ms: r.get(8)?,
        confidence: r.get(9)?,
        origin: origin
            .map(|s| serde_json::from_str(&s))
            .transpose()
            .map_err(|_| bad(10, "origin"))?,
        bbox: bbox
            .map(|s| serde_json::from_str(&s))
            .transpose()
            .map_err(|_| bad(11, "bbox"))?,
        label: r.get(12)?,
        trajectory: traj
            .map(|s| serde_json::from_str(&s))
            .transpose()
            .map_err(|_| bad(13, "trajectory"))?,
        phase: r.get(14)?,
        state: EventState::parse(&state).ok_or_else(|| bad(15, "state"))?,
        notes: Vec::new(),
        evidence: Vec::new(),
    })
}

fn opt_json<T: Serialize>(v: &Option<T>) -> Result<Option<String>, StoreError> {
    Ok(v.as_ref().map(serde_json::to_string).transpose()?)
}

fn load_full(conn: &Connection, id: i64) -> Result<Option<EventRecord>, StoreError> {
    let sql = format!("SELECT {EVENT_COLS} FROM events WHERE id = ?1");
    let Some(mut rec) = conn.query_row(&sql, [id], row_to_record).optional()? else {
        return Ok(None);
    };
    let mut st = conn
        .prepare_cached("SELECT ts, user, text FROM event_notes WHERE event_id = ?1 ORDER BY id")?;
    rec.notes = st
        .query_map([id], |r| {
            Ok(Note {
                ts_ms: r.get(0)?,
                user: r.get(1)?,
                text: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    rec.evidence = load_evidence(conn, id)?;
    Ok(Some(rec))
}

fn load_evidence(conn: &Connection, id: i64) -> Result<Vec<EvidenceInfo>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT kind, path, bytes, sha256, gone FROM evidence WHERE event_id = ?1 ORDER BY id",
    )?;
    let rows = st.query_map([id], |r| {
        let k: String = r.get(0)?;
        Ok((
            k,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, bool>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (k, path, bytes, sha256, gone) = row?;
        if let Some(kind) = EvidenceKind::parse(&k) {
            out.push(EvidenceInfo {
                kind,
                path,
                bytes: bytes.max(0) as u64,
                sha256,
                gone,
            });
        }
    }
    Ok(out)
}

/// Fill `evidence` of a page of events with one query.
fn attach_evidence_batch(conn: &Connection, events: &mut [EventRecord]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let marks = vec!["?"; events.len()].join(",");
    let sql = format!(
        "SELECT event_id, kind, path, bytes, sha256, gone FROM evidence \
         WHERE event_id IN ({marks}) ORDER BY id"
    );
    let mut st = conn.prepare_cached(&sql)?;
    let rows = st.query_map(
        rusqlite::params_from_iter(events.iter().map(|e| e.id)),
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, bool>(5)?,
            ))
        },
    )?;
    let mut by_id: std::collections::HashMap<i64, Vec<EvidenceInfo>> = Default::default();
    for row in rows {
        let (eid, k, path, bytes, sha256, gone) = row?;
        if let Some(kind) = EvidenceKind::parse(&k) {
            by_id.entry(eid).or_default().push(EvidenceInfo {
                kind,
                path,
                bytes: bytes.max(0) as u64,
                sha256,
                gone,
            });
        }
    }
    for e in events.iter_mut() {
        if let Some(v) = by_id.remove(&e.id) {
            e.evidence = v;
        }
    }
    Ok(())
}

/// Write the outbox notice for the event's current row inside `tx`.
fn add_notice(tx: &Transaction<'_>, id: i64, phase: &str) -> Result<(), StoreError> {
    let rec = load_full(tx, id)?.ok_or_else(|| StoreError::NotFound(format!("event {id}")))?;
    let payload = serde_json::to_string(&serde_json::json!({ "phase": phase, "event": rec }))?;
    tx.execute(
        "INSERT INTO outbox (event_id, phase, camera, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, phase, rec.camera, payload, now_ms()],
    )?;
    Ok(())
}

fn sha256_file(path: &Path) -> Result<(u64, String), StoreError> {
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        h.update(&buf[..n]);
    }
    Ok((total, hex::encode(h.finalize())))
}

impl Store {
    /// Insert a new event (phase `open`, state `new`) and its `new` outbox notice in one
    /// transaction. Returns the store id.
    pub fn insert_event(&self, ev: &Event, created_at_ms: i64) -> Result<i64, StoreError> {
        let origin = opt_json(&ev.origin)?;
        let bbox = opt_json(&ev.bbox)?;
        let traj = opt_json(&ev.trajectory)?;
        self.write(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO events (camera, seq, kind, start_s, end_s, alarm_s, created_at, updated_at, \
                 confidence, origin, bbox, label, trajectory) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    ev.camera,
                    ev.id as i64,
                    kind_str(ev.kind),
                    ev.start_s,
                    ev.end_s,
                    ev.alarm_s,
                    created_at_ms,
                    ev.confidence,
                    origin,
                    bbox,
                    ev.label,
                    traj
                ],
            )?;
            let id = tx.last_insert_rowid();
            add_notice(&tx, id, "new")?;
            tx.commit()?;
            Ok(id)
        })
    }

    /// Replace the analytic's fields of event `id` (times, confidence, geometry) after an
    /// `Update` or `End`; `End` closes the event. Writes the matching outbox notice.
    pub fn update_event(&self, id: i64, ev: &Event, phase: Phase) -> Result<(), StoreError> {
        let origin = opt_json(&ev.origin)?;
        let bbox = opt_json(&ev.bbox)?;
        let traj = opt_json(&ev.trajectory)?;
        let phase_s = phase_str(phase);
        self.write(|c| {
            let tx = c.transaction()?;
            let n = tx.execute(
                "UPDATE events SET start_s=?2, end_s=?3, alarm_s=?4, confidence=?5, origin=?6, bbox=?7, \
                 label=?8, trajectory=?9, updated_at=?10, \
                 phase = CASE WHEN ?11 = 'end' THEN 'ended' ELSE phase END WHERE id=?1",
                params![
                    id,
                    ev.start_s,
                    ev.end_s,
                    ev.alarm_s,
                    ev.confidence,
                    origin,
                    bbox,
                    ev.label,
                    traj,
                    now_ms(),
                    phase_s
                ],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("event {id}")));
            }
            add_notice(&tx, id, phase_s)?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Record an evidence file for an event (size and SHA-256 are read from the file).
    /// Re-attaching the same kind replaces the earlier entry.
    pub fn attach_evidence(
        &self,
        event_id: i64,
        kind: EvidenceKind,
        path: &Path,
    ) -> Result<EvidenceInfo, StoreError> {
        let (bytes, sha256) = sha256_file(path)?;
        let path_s = path
            .to_str()
            .ok_or_else(|| StoreError::Invalid(format!("non-UTF-8 path {}", path.display())))?
            .to_string();
        self.write(|c| {
            let exists: Option<i64> = c
                .query_row("SELECT id FROM events WHERE id=?1", [event_id], |r| r.get(0))
                .optional()?;
            if exists.is_none() {
                return Err(StoreError::NotFound(format!("event {event_id}")));
            }
            c.execute(
                "INSERT INTO evidence (event_id, kind, path, bytes, sha256, created_at, gone) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0) \
                 ON CONFLICT(event_id, kind) DO UPDATE SET path=excluded.path, bytes=excluded.bytes, \
                 sha256=excluded.sha256, created_at=excluded.created_at, gone=0",
                params![event_id, kind.as_str(), path_s, bytes as i64, sha256, now_ms()],
            )?;
            Ok(())
        })?;
        Ok(EvidenceInfo {
            kind,
            path: path_s,
            bytes,
            sha256,
            gone: false,
        })
    }

    pub fn get_event(&self, id: i64) -> Result<Option<EventRecord>, StoreError> {
        self.read(|c| load_full(c, id))
    }

    pub fn evidence(
        &self,
        id: i64,
        kind: EvidenceKind,
    ) -> Result<Option<EvidenceInfo>, StoreError> {
        Ok(self
            .read(|c| load_evidence(c, id))?
            .into_iter()
            .find(|e| e.kind == kind))
    }

    /// Newest first, keyset pagination on the store id. `limit` is clamped to 1..=1000.
    pub fn list_events(
        &self,
        f: &EventFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<EventPage, StoreError> {
        let limit = limit.clamp(1, 1000);
        let before: Option<i64> = match cursor {
            None | Some("") => None,
            Some(c) => Some(
                c.parse::<i64>()
                    .map_err(|_| StoreError::Invalid(format!("bad cursor '{c}'")))?,
            ),
        };
        let mut sql = format!("SELECT {EVENT_COLS} FROM events WHERE 1=1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        use rusqlite::types::Value as V;
        if let Some(b) = before {
            sql.push_str(" AND id < ?");
            args.push(V::Integer(b));
        }
        if let Some(cam) = &f.camera {
            sql.push_str(" AND camera = ?");
            args.push(V::Text(cam.clone()));
        }
        if let Some(k) = f.kind {
            sql.push_str(" AND kind = ?");
            args.push(V::Text(kind_str(k).into()));
        }
        if let Some(s) = f.state {
            sql.push_str(" AND state = ?");
            args.push(V::Text(s.as_str().into()));
        }
        if let Some(t) = f.since_ms {
            sql.push_str(" AND created_at >= ?");
            args.push(V::Integer(t));
        }
        if let Some(t) = f.until_ms {
            sql.push_str(" AND created_at < ?");
            args.push(V::Integer(t));
        }
        sql.push_str(" ORDER BY id DESC LIMIT ?");
        // One extra row tells whether another page exists.
        args.push(V::Integer(limit as i64 + 1));
        self.read(|c| {
            let mut st = c.prepare_cached(&sql)?;
            let mut events: Vec<EventRecord> = st
                .query_map(rusqlite::params_from_iter(args.iter()), row_to_record)?
                .collect::<Result<_, _>>()?;
            let more = events.len() > limit;
            events.truncate(limit);
            attach_evidence_batch(c, &mut events)?;
            let next_cursor = if more {
                events.last().map(|e| e.id.to_string())
            } else {
                None
            };
            Ok(EventPage {
                events,
                next_cursor,
            })
        })
    }

    /// Change the handling state (and/or add a note). Returns the updated record.
    pub fn set_state(
        &self,
        id: i64,
        state: Option<EventState>,
        note: Option<&str>,
        user: &str,
    ) -> Result<EventRecord, StoreError> {
        self.write(|c| {
            let tx = c.transaction()?;
            let now = now_ms();
            let n = match state {
                Some(s) => tx.execute(
                    "UPDATE events SET state=?2, updated_at=?3 WHERE id=?1",
                    params![id, s.as_str(), now],
                )?,
                None => tx.execute(
                    "UPDATE events SET updated_at=?2 WHERE id=?1",
                    params![id, now],
                )?,
            };
            if n == 0 {
                return Err(StoreError::NotFound(format!("event {id}")));
            }
            if let Some(text) = note {
                tx.execute(
                    "INSERT INTO event_notes (event_id, ts, user, text) VALUES (?1, ?2, ?3, ?4)",
                    params![id, now, user, text],
                )?;
            }
            add_notice(&tx, id, "state")?;
            let rec =
                load_full(&tx, id)?.ok_or_else(|| StoreError::NotFound(format!("event {id}")))?;
            tx.commit()?;
            Ok(rec)
        })
    }

    /// Total number of events (for metrics).
    pub fn count_events(&self) -> Result<i64, StoreError> {
        self.read(|c| Ok(c.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?))
    }

    /// Latest outbox sequence number (0 when empty).
    pub fn outbox_head(&self) -> Result<i64, StoreError> {
        self.read(
            |c| Ok(c.query_row("SELECT COALESCE(MAX(seq), 0) FROM outbox", [], |r| r.get(0))?),
        )
    }

    /// Outbox notices after `after_seq`, oldest first.
    pub fn outbox_after(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<OutboxNotice>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT seq, event_id, phase, camera, payload FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = st
                .query_map(params![after_seq, limit as i64], |r| {
                    Ok(OutboxNotice {
                        seq: r.get(0)?,
                        event_id: r.get(1)?,
                        phase: r.get(2)?,
                        camera: r.get(3)?,
                        payload: r.get(4)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
    }

    /// A subscriber's cursor; a subscriber seen for the first time starts at the current head
    /// (it gets what happens from now on, not the whole history).
    pub fn outbox_cursor(&self, subscriber: &str) -> Result<i64, StoreError> {
        self.write(|c| {
            c.execute(
                "INSERT OR IGNORE INTO outbox_cursor (subscriber, last_seq) \
                 VALUES (?1, (SELECT COALESCE(MAX(seq), 0) FROM outbox))",
                [subscriber],
            )?;
            Ok(c.query_row(
                "SELECT last_seq FROM outbox_cursor WHERE subscriber=?1",
                [subscriber],
                |r| r.get(0),
            )?)
        })
    }

    /// Move a subscriber's cursor forward after a delivery (or a notice it does not want).
    pub fn outbox_advance(
        &self,
        subscriber: &str,
        seq: i64,
        delivered: bool,
    ) -> Result<(), StoreError> {
        self.write(|c| {
            c.execute(
                "UPDATE outbox_cursor SET last_seq = MAX(last_seq, ?2), attempts = 0, last_error = NULL, \
                 delivered = delivered + ?3 WHERE subscriber = ?1",
                params![subscriber, seq, delivered as i64],
            )?;
            Ok(())
        })
    }

    /// Record a failed delivery attempt; returns the attempt count.
    pub fn outbox_failed(&self, subscriber: &str, error: &str) -> Result<i64, StoreError> {
        self.write(|c| {
            c.execute(
                "UPDATE outbox_cursor SET attempts = attempts + 1, failures = failures + 1, last_error = ?2 \
                 WHERE subscriber = ?1",
                params![subscriber, error],
            )?;
            Ok(c.query_row(
                "SELECT attempts FROM outbox_cursor WHERE subscriber=?1",
                [subscriber],
                |r| r.get(0),
            )?)
        })
    }

    /// Pending notices per subscriber: (subscriber, pending, failures, delivered).
    pub fn outbox_depths(&self) -> Result<Vec<(String, i64, i64, i64)>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT subscriber, (SELECT COUNT(*) FROM outbox o WHERE o.seq > oc.last_seq), failures, delivered \
                 FROM outbox_cursor oc ORDER BY subscriber",
            )?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
    }
}
