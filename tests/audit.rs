//! SM3 audit chain on a real SQLite file: tampering by edit, insertion, deletion and
//! truncation is detected and the first bad record named.

use rusqlite::{params, Connection};
use vigil::audit::{self, AuditEntry, AuditError};
use vigil::store::Store;

fn setup(n: usize) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vigil.db");
    let store = Store::open(&db).unwrap();
    for i in 0..n {
        audit::append(
            &store,
            &AuditEntry::new("alice", "operator", "event.ack", &format!("event/{i}"))
                .detail(serde_json::json!({ "note": format!("n{i}") })),
        )
        .unwrap();
    }
    assert_eq!(audit::verify(&store).unwrap(), n as u64);
    (dir, db)
}

/// Raw connection of an attacker who also removes the append-only triggers.
fn attacker(db: &std::path::Path) -> Connection {
    let c = Connection::open(db).unwrap();
    c.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
        .unwrap();
    c
}

fn first_bad(db: &std::path::Path) -> i64 {
    let store = Store::open(db).unwrap();
    match audit::verify(&store) {
        Err(AuditError::Break(b)) => b.seq,
        other => panic!("tampering not detected: {other:?}"),
    }
}

#[test]
fn chain_links_and_sm3_known_answer() {
    // GB/T 32905 test vector: SM3("abc").
    use sm3::Digest;
    assert_eq!(
        hex::encode(sm3::Sm3::digest(b"abc")),
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    );
    let (_d, db) = setup(3);
    let store = Store::open(&db).unwrap();
    let recs = audit::list(&store, 0, 10).unwrap();
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[1].prev_hash, recs[0].hash);
    assert_eq!(recs[2].hash, audit::chain_hash(&recs[1].hash, &recs[2]));
}

#[test]
fn triggers_refuse_plain_edits() {
    let (_d, db) = setup(2);
    let c = Connection::open(&db).unwrap();
    assert!(c
        .execute("UPDATE audit SET actor='mallory' WHERE seq=1", [])
        .is_err());
    assert!(c.execute("DELETE FROM audit WHERE seq=2", []).is_err());
}

#[test]
fn edited_record_is_named() {
    let (_d, db) = setup(10);
    attacker(&db)
        .execute(
            "UPDATE audit SET detail='{\"note\":\"forged\"}' WHERE seq=4",
            [],
        )
        .unwrap();
    assert_eq!(first_bad(&db), 4);
}

#[test]
fn edited_and_rehashed_record_breaks_the_next_link() {
    let (_d, db) = setup(10);
    let store = Store::open(&db).unwrap();
    let mut r = audit::list(&store, 3, 1).unwrap().remove(0);
    drop(store);
    r.actor = "mallory".into();
    let h = audit::chain_hash(&r.prev_hash, &r);
    attacker(&db)
        .execute(
            "UPDATE audit SET actor=?1, hash=?2 WHERE seq=4",
            params![r.actor, h],
        )
        .unwrap();
    assert_eq!(first_bad(&db), 5);
}

#[test]
fn deleted_record_is_named() {
    let (_d, db) = setup(10);
    attacker(&db)
        .execute("DELETE FROM audit WHERE seq=6", [])
        .unwrap();
    assert_eq!(first_bad(&db), 6);
}

#[test]
fn inserted_record_is_detected() {
    let (_d, db) = setup(6);
    let c = attacker(&db);
    // Shift 4.. up by one and slip a forged, correctly chained record in as seq 4.
    c.execute("UPDATE audit SET seq = seq + 100 WHERE seq >= 4", [])
        .unwrap();
    c.execute("UPDATE audit SET seq = seq - 99 WHERE seq >= 100", [])
        .unwrap();
    let (prev, ts): (String, i64) = c
        .query_row("SELECT hash, ts FROM audit WHERE seq=3", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let mut forged = audit::AuditRecord {
        seq: 4,
        ts_ms: ts,
        actor: "mallory".into(),
        role: "admin".into(),
        action: "user.add".into(),
        target: "mallory".into(),
        detail: "null".into(),
        prev_hash: prev.clone(),
        hash: String::new(),
    };
    forged.hash = audit::chain_hash(&prev, &forged);
    c.execute(
        "INSERT INTO audit (seq, ts, actor, role, action, target, detail, prev_hash, hash) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
        params![forged.seq, forged.ts_ms, forged.actor, forged.role, forged.action, forged.target, forged.detail, forged.prev_hash, forged.hash],
    )
    .unwrap();
    // The forged record links correctly; the displaced original no longer does.
    assert_eq!(first_bad(&db), 5);
}

#[test]
fn truncation_detected_by_head_table_then_head_file() {
    let (_d, db) = setup(5);
    let c = attacker(&db);
    c.execute("DELETE FROM audit WHERE seq=5", []).unwrap();
    assert_eq!(first_bad(&db), 5);
    // Also rewrite the head table: the head file beside the database still knows.
    let h4: String = c
        .query_row("SELECT hash FROM audit WHERE seq=4", [], |r| r.get(0))
        .unwrap();
    c.execute("UPDATE audit_head SET seq=4, hash=?1", [h4])
        .unwrap();
    assert_eq!(first_bad(&db), 5);
}

#[test]
fn appends_continue_the_chain_after_reopen() {
    let (_d, db) = setup(3);
    let store = Store::open(&db).unwrap();
    let r = audit::append(&store, &AuditEntry::new("bob", "admin", "login", "auth")).unwrap();
    assert_eq!(r.seq, 4);
    assert_eq!(audit::verify(&store).unwrap(), 4);
}

// The CLI commands, compiled here so they are exercised before main.rs registers them.
#[allow(dead_code)]
#[path = "../src/cli/audit.rs"]
mod cli_audit;
#[allow(dead_code)]
#[path = "../src/cli/user.rs"]
mod cli_user;

#[test]
fn cli_verify_names_first_bad_record_and_user_tools_work() {
    let (d, db) = setup(4);
    let pw = d.path().join("pw");
    std::fs::write(&pw, "correct horse battery\n").unwrap();
    cli_user::run(cli_user::UserArgs {
        what: cli_user::UserWhat::Add {
            db: db.clone(),
            name: "carol".into(),
            role: "operator".into(),
            password_file: pw.clone(),
        },
    })
    .unwrap();
    let bad_role = cli_user::run(cli_user::UserArgs {
        what: cli_user::UserWhat::Add {
            db: db.clone(),
            name: "dave".into(),
            role: "root".into(),
            password_file: pw,
        },
    });
    assert!(bad_role.is_err());
    cli_user::run_token(cli_user::TokenArgs {
        what: cli_user::TokenWhat::Create {
            db: db.clone(),
            name: "carol".into(),
            label: "vms".into(),
            ttl_days: Some(1.0),
        },
    })
    .unwrap();
    let verify = || {
        cli_audit::run(cli_audit::AuditArgs {
            what: cli_audit::AuditWhat::Verify { db: db.clone() },
        })
    };
    verify().unwrap();
    attacker(&db)
        .execute("UPDATE audit SET actor='x' WHERE seq=2", [])
        .unwrap();
    let err = verify().unwrap_err().to_string();
    assert!(err.contains("record 2"), "{err}");
}
