//! Store on a real SQLite file: events, filters, pagination, evidence, health, retention,
//! outbox, reopen and kill -9 durability.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use vigil::events::{Event, EventKind, Origin, Phase};
use vigil::store::{EventFilter, EventState, EvidenceKind, HealthSample, Store};

fn ev(i: u64, cam: &str, kind: EventKind) -> Event {
    let mut e = Event::new(i, kind, cam, i as f64, 0.9);
    e.origin = Some(Origin {
        x: 10.0,
        y: 20.0,
        floor: Some(7),
        height_m: Some(19.5),
        facade_x_m: None,
        column: Some(3),
        column_name: Some("03".into()),
        window: Some("7-03".into()),
        window_distance_m: Some(0.4),
    });
    e.trajectory = Some(vec![[0.0, 1.0, 2.0], [0.1, 1.5, 3.0]]);
    e.bbox = Some([1.0, 2.0, 3.0, 4.0]);
    e.label = Some("box".into());
    e
}

#[test]
fn filters_and_keyset_pagination() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("vigil.db")).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        vigil::store::schema::MIGRATIONS
            .last()
            .map(|m| m.0)
            .unwrap_or(0)
    );
    let base = 1_700_000_000_000i64;
    let mut ids = Vec::new();
    for i in 0..230u64 {
        let cam = if i % 2 == 0 { "east" } else { "lift1" };
        let kind = if i % 2 == 0 {
            EventKind::FallingObject
        } else {
            EventKind::EbikeInElevator
        };
        ids.push(
            store
                .insert_event(&ev(i, cam, kind), base + i as i64 * 1000)
                .unwrap(),
        );
    }
    // Every page newest first, no overlaps, everything reached.
    let f = EventFilter {
        camera: Some("east".into()),
        ..Default::default()
    };
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store.list_events(&f, cursor.as_deref(), 40).unwrap();
        pages += 1;
        assert!(page
            .events
            .iter()
            .all(|e| e.camera == "east" && e.kind == EventKind::FallingObject));
        seen.extend(page.events.iter().map(|e| e.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 115);
    assert_eq!(pages, 3);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats"
    );
    // Time range: [base+10s, base+20s) holds i = 10..20.
    let f = EventFilter {
        since_ms: Some(base + 10_000),
        until_ms: Some(base + 20_000),
        ..Default::default()
    };
    let page = store.list_events(&f, None, 100).unwrap();
    let got: HashSet<u64> = page.events.iter().map(|e| e.seq).collect();
    assert_eq!(got, (10..20).collect::<HashSet<u64>>());
    // Kind + state.
    store
        .set_state(ids[3], Some(EventState::FalseAlarm), Some("pigeon"), "op")
        .unwrap();
    let f = EventFilter {
        kind: Some(EventKind::EbikeInElevator),
        state: Some(EventState::FalseAlarm),
        ..Default::default()
    };
    let page = store.list_events(&f, None, 100).unwrap();
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].id, ids[3]);
    assert!(store
        .list_events(&EventFilter::default(), Some("x1"), 10)
        .is_err());
}

#[test]
fn event_roundtrip_update_notes_evidence_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vigil.db");
    let store = Store::open(&db).unwrap();
    let e = ev(5, "east", EventKind::FallingObject);
    let id = store.insert_event(&e, 1_700_000_000_000).unwrap();
    let mut e2 = e.clone();
    e2.end_s = 9.5;
    e2.confidence = 0.97;
    store.update_event(id, &e2, Phase::End).unwrap();
    let clip = dir.path().join("clip.mp4");
    std::fs::write(&clip, b"not really mp4 but bytes").unwrap();
    let info = store
        .attach_evidence(id, EvidenceKind::Clip, &clip)
        .unwrap();
    assert_eq!(info.bytes, 24);
    // sha256 of the content, checked independently with the sha2 crate.
    use sha2::Digest;
    assert_eq!(
        info.sha256,
        hex::encode(sha2::Sha256::digest(b"not really mp4 but bytes"))
    );
    let r = store
        .set_state(
            id,
            Some(EventState::Acknowledged),
            Some("seen on site"),
            "alice",
        )
        .unwrap();
    assert_eq!(r.state, EventState::Acknowledged);
    drop(store);

    let store = Store::open(&db).unwrap();
    let r = store.get_event(id).unwrap().unwrap();
    assert_eq!(r.end_s, 9.5);
    assert_eq!(r.phase, "ended");
    assert_eq!(r.origin.as_ref().and_then(|o| o.floor), Some(7));
    assert_eq!(r.trajectory.as_ref().map(|t| t.len()), Some(2));
    assert_eq!(r.notes.len(), 1);
    assert_eq!(r.notes[0].user, "alice");
    assert_eq!(r.evidence.len(), 1);
    assert!(store.get_event(id + 100).unwrap().is_none());
    let notices = store.outbox_after(0, 10).unwrap();
    let phases: Vec<&str> = notices.iter().map(|n| n.phase.as_str()).collect();
    assert_eq!(phases, ["new", "end", "state"]);
    assert!(notices.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(store
        .set_state(id + 100, Some(EventState::New), None, "x")
        .is_err());
}

#[test]
fn retention_under_small_disk_budget_marks_gone_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("vigil.db")).unwrap();
    let mut files = Vec::new();
    for i in 0..5u64 {
        let id = store
            .insert_event(&ev(i, "east", EventKind::FallingObject), 1_000 + i as i64)
            .unwrap();
        let p = dir.path().join(format!("clip{i}.mp4"));
        std::fs::write(&p, vec![i as u8; 1000]).unwrap();
        store.attach_evidence(id, EvidenceKind::Clip, &p).unwrap();
        files.push((id, p));
    }
    // Generous age limit: nothing is old enough.
    let r = store
        .enforce_retention(Some(std::time::Duration::from_secs(3600)), None)
        .unwrap();
    assert_eq!(r.files_removed, 0);
    let r = store.enforce_retention(None, Some(2500)).unwrap();
    assert_eq!(r.files_removed, 3);
    assert_eq!(r.bytes_freed, 3000);
    assert_eq!(r.bytes_kept, 2000);
    for (i, (id, p)) in files.iter().enumerate() {
        let info = store.evidence(*id, EvidenceKind::Clip).unwrap().unwrap();
        let gone = i < 3;
        assert_eq!(info.gone, gone, "file {i}");
        assert_eq!(p.exists(), !gone, "file {i}");
        // Event rows stay.
        assert!(store.get_event(*id).unwrap().is_some());
    }
    // A file already missing on disk is still marked gone.
    std::fs::remove_file(&files[3].1).unwrap();
    let r = store.enforce_retention(None, Some(500)).unwrap();
    assert_eq!(r.files_removed, 2);
    assert!(
        store
            .evidence(files[3].0, EvidenceKind::Clip)
            .unwrap()
            .unwrap()
            .gone
    );
}

#[test]
fn health_window_rates() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("vigil.db")).unwrap();
    let now = vigil::store::now_ms();
    for i in 0..8i64 {
        store
            .record_health(&HealthSample {
                camera: "east".into(),
                ts_ms: now - 1000 * (8 - i),
                online: i != 0 && i != 1,
                image_ok: i >= 4,
                input_fps: 25.0,
                analysed_fps: 25.0,
                decode_errors: 0,
                reconnects: 0,
            })
            .unwrap();
    }
    let w = store.health_window("east", now - 60_000).unwrap();
    assert_eq!(w.samples, 8);
    assert_eq!(w.online_rate, Some(0.75));
    assert_eq!(w.image_availability_rate, Some(0.5));
    let w = store.health_window("nobody", now - 60_000).unwrap();
    assert_eq!(w.samples, 0);
    assert_eq!(w.online_rate, None);
}

/// Child side of the kill -9 test: insert events forever, printing each committed id.
#[test]
#[ignore]
fn child_writer() {
    let Ok(db) = std::env::var("VIGIL_CHILD_DB") else {
        return;
    };
    let store = Store::open(db).unwrap();
    let mut out = std::io::stdout();
    for i in 0.. {
        let id = store
            .insert_event(&ev(i, "east", EventKind::FallingObject), 1_000)
            .unwrap();
        writeln!(out, "{id}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn kill_9_loses_no_committed_event() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vigil.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_writer",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("VIGIL_CHILD_DB", &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut committed = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while committed.len() < 200 {
        let line = lines.next().expect("child ended early").unwrap();
        if let Ok(id) = line.trim().parse::<i64>() {
            committed.push(id);
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let store = Store::open(&db).unwrap();
    for id in &committed {
        assert!(store.get_event(*id).unwrap().is_some(), "event {id} lost");
    }
    assert!(store.count_events().unwrap() >= committed.len() as i64);
    let ok: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}

/// Retention by age on a simulated clock: evidence a day and a half old under a one-day limit
/// goes, younger evidence stays; no real time passes.
#[test]
fn retention_by_age_on_simulated_time() {
    use std::time::Duration;
    use vigil::clock::ManualClock;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("vigil.db")).unwrap();
    let clock = ManualClock::new();
    let day = Duration::from_secs(86_400);
    let attach = |i: u64| {
        let id = store
            .insert_event(&ev(i, "east", EventKind::FallingObject), 1_000 + i as i64)
            .unwrap();
        let p = dir.path().join(format!("clip{i}.mp4"));
        std::fs::write(&p, vec![1u8; 100]).unwrap();
        store.attach_evidence(id, EvidenceKind::Clip, &p).unwrap();
        (id, p)
    };
    let old = attach(0);
    let r = store.enforce_retention_at(&clock, Some(day), None).unwrap();
    assert_eq!(r.files_removed, 0, "fresh evidence stays");
    clock.advance(day * 3 / 2);
    let r = store.enforce_retention_at(&clock, Some(day), None).unwrap();
    assert_eq!((r.files_removed, r.bytes_freed), (1, 100));
    assert!(
        store
            .evidence(old.0, EvidenceKind::Clip)
            .unwrap()
            .unwrap()
            .gone
    );
    assert!(!old.1.exists());
}
