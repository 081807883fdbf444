//! Versioned schema migrations. Each entry runs once, in order, inside one transaction;
//! `schema_version` records the highest applied version. Never edit a released entry:
//! append a new one.

pub const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    camera      TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    start_s     REAL    NOT NULL,
    end_s       REAL    NOT NULL,
    alarm_s     REAL    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    confidence  REAL    NOT NULL,
    origin      TEXT,
    bbox        TEXT,
    label       TEXT,
    trajectory  TEXT,
    phase       TEXT    NOT NULL DEFAULT 'open',
    state       TEXT    NOT NULL DEFAULT 'new'
);
CREATE INDEX events_camera ON events(camera, id);
CREATE INDEX events_kind ON events(kind, id);
CREATE INDEX events_state ON events(state, id);
CREATE INDEX events_created ON events(created_at);

CREATE TABLE event_notes (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id  INTEGER NOT NULL REFERENCES events(id),
    ts        INTEGER NOT NULL,
    user      TEXT    NOT NULL,
    text      TEXT    NOT NULL
);
CREATE INDEX event_notes_event ON event_notes(event_id);

CREATE TABLE evidence (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id    INTEGER NOT NULL REFERENCES events(id),
    kind        TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    bytes       INTEGER NOT NULL,
    sha256      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    gone        INTEGER NOT NULL DEFAULT 0,
    UNIQUE(event_id, kind)
);
CREATE INDEX evidence_live ON evidence(gone, created_at);

CREATE TABLE camera_health (
    camera         TEXT    NOT NULL,
    ts             INTEGER NOT NULL,
    online         INTEGER NOT NULL,
    image_ok       INTEGER NOT NULL,
    input_fps      REAL    NOT NULL,
    analysed_fps   REAL    NOT NULL,
    decode_errors  INTEGER NOT NULL,
    reconnects     INTEGER NOT NULL
);
CREATE INDEX camera_health_cam_ts ON camera_health(camera, ts);

CREATE TABLE users (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    role        TEXT    NOT NULL,
    pw_hash     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    disabled    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    token_hash  TEXT    NOT NULL UNIQUE,
    kind        TEXT    NOT NULL,
    label       TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER
);

CREATE TABLE audit (
    seq        INTEGER PRIMARY KEY,
    ts         INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    target     TEXT    NOT NULL,
    detail     TEXT    NOT NULL,
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL
);
-- Append-only in normal operation; a determined attacker can drop these, which is what
-- the SM3 chain and the head file are for.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT    NOT NULL
);

-- Durable outbox: one row per event notice, written in the same transaction as the event
-- change; each push subscriber keeps its own cursor.
CREATE TABLE outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id    INTEGER NOT NULL,
    phase       TEXT    NOT NULL,
    camera      TEXT    NOT NULL,
    payload     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE TABLE outbox_cursor (
    subscriber    TEXT    PRIMARY KEY,
    last_seq      INTEGER NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    failures      INTEGER NOT NULL DEFAULT 0,
    delivered     INTEGER NOT NULL DEFAULT 0
);
"#,
    ),
    (
        2,
        r#"
-- Keyed audit chain (HMAC-SM3): the id of the key that signed a record ('' = the legacy,
-- unkeyed SM3 link) and the node that appended it (one chain for a fleet of nodes).
ALTER TABLE audit ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN node TEXT NOT NULL DEFAULT '';
"#,
    ),
];
