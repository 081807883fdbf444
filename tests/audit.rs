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
    c.execute_batch(
        "DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;",
    )
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
        ..Default::default()
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

// The CLI commands (a library module, `vigil::cli`).
use vigil::cli::audit as cli_audit;
use vigil::cli::user as cli_user;

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
            no_expiry: false,
        },
    })
    .unwrap();
    let verify = || {
        cli_audit::run(cli_audit::AuditArgs {
            what: cli_audit::AuditWhat::Verify {
                db: db.clone(),
                key: None,
                anchors: None,
            },
        })
    };
    verify().unwrap();
    attacker(&db)
        .execute("UPDATE audit SET actor='x' WHERE seq=2", [])
        .unwrap();
    let err = verify().unwrap_err().to_string();
    assert!(err.contains("record 2"), "{err}");
}

// ---------- keyed chain and anchors ----------

/// A keyed log of `n` records with an anchor published after every record; the key file
/// lives outside the data directory, as the node requires.
struct Keyed {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    key: audit::AuditKey,
    anchors: Vec<audit::Anchor>,
}

fn keyed(n: usize) -> Keyed {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = data.join("vigil.db");
    let key = audit::AuditKey::generate(&dir.path().join("audit.key")).unwrap();
    let store = Store::open(&db).unwrap();
    store.set_audit_signing(Some(key.signing("node-a")));
    let mut anchors = Vec::new();
    for i in 0..n {
        audit::append(
            &store,
            &AuditEntry::new("alice", "operator", "event.ack", &format!("event/{i}")),
        )
        .unwrap();
        anchors.push(audit::current_anchor(&store).unwrap().unwrap());
    }
    Keyed {
        _dir: dir,
        db,
        key,
        anchors,
    }
}

impl Keyed {
    fn verify(&self, anchors: &[audit::Anchor]) -> Result<audit::VerifyReport, AuditError> {
        // A fresh store without signing: the verifier has only the key and the anchors.
        let store = Store::open(&self.db).unwrap();
        audit::verify_with(
            &store,
            &audit::VerifyOptions {
                key: Some(self.key.clone()),
                anchors: anchors.to_vec(),
            },
        )
    }
    fn first_bad(&self, anchors: &[audit::Anchor]) -> i64 {
        match self.verify(anchors) {
            Err(AuditError::Break(b)) => b.seq,
            other => panic!("tampering not detected: {other:?}"),
        }
    }
    /// The attacker also rewrites both heads to match what they left.
    fn fix_heads(&self) {
        let c = attacker(&self.db);
        let head: Option<(i64, String)> = c
            .query_row(
                "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok();
        match head {
            Some((s, h)) => {
                c.execute("UPDATE audit_head SET seq=?1, hash=?2", params![s, h])
                    .unwrap();
                std::fs::write(
                    self.db.with_extension("db.audit-head"),
                    format!("{s} {h}\n"),
                )
                .unwrap();
            }
            None => {
                c.execute("DELETE FROM audit_head", []).unwrap();
                let _ = std::fs::remove_file(self.db.with_extension("db.audit-head"));
            }
        }
    }
}

#[test]
fn keyed_chain_verifies_with_its_key_and_anchors() {
    let k = keyed(6);
    let r = k.verify(&k.anchors).unwrap();
    assert_eq!((r.records, r.keyed, r.anchors_checked), (6, 6, 6));
    assert_eq!(r.latest_anchor, Some(6));
    let store = Store::open(&k.db).unwrap();
    let recs = audit::list(&store, 0, 10).unwrap();
    assert!(recs
        .iter()
        .all(|r| r.key_id == k.key.id() && r.node == "node-a"));
    // Without the key, keyed records cannot be checked.
    assert!(matches!(audit::verify(&store), Err(AuditError::Break(_))));
    // Another key is not this chain's key.
    let other = audit::AuditKey::from_bytes([7u8; 32]);
    let bad = audit::verify_with(
        &store,
        &audit::VerifyOptions {
            key: Some(other),
            anchors: vec![],
        },
    );
    assert!(matches!(bad, Err(AuditError::Break(b)) if b.seq == 1));
}

#[test]
fn rewriting_the_chain_from_record_2_needs_the_key() {
    // The attacker rewrites records 2.. with forged content, re-chained without the key.
    let k = keyed(8);
    let c = attacker(&k.db);
    let recs: Vec<audit::AuditRecord> = {
        let store = Store::open(&k.db).unwrap();
        audit::list(&store, 0, 100).unwrap()
    };
    let mut prev = recs[0].hash.clone();
    for r in &recs[1..] {
        let mut f = r.clone();
        f.actor = "mallory".into();
        f.prev_hash = prev.clone();
        f.key_id = String::new();
        f.hash = audit::chain_hash(&prev, &f);
        c.execute(
            "UPDATE audit SET actor=?1, prev_hash=?2, hash=?3, key_id='' WHERE seq=?4",
            params![f.actor, f.prev_hash, f.hash, f.seq],
        )
        .unwrap();
        prev = f.hash;
    }
    k.fix_heads();
    // Caught by the key alone, without any anchor.
    assert_eq!(k.first_bad(&[]), 2);
}

#[test]
fn removing_the_tail_is_caught_by_anchors() {
    let k = keyed(10);
    attacker(&k.db)
        .execute("DELETE FROM audit WHERE seq > 7", [])
        .unwrap();
    k.fix_heads();
    // A keyed chain that ends early still links: only a published head shows the loss.
    assert!(k.verify(&[]).is_ok());
    assert_eq!(k.first_bad(&k.anchors), 8);
    // An anchor published before the cut is still satisfied.
    assert!(k.verify(&k.anchors[..7]).is_ok());
}

#[test]
fn cutting_568_records_to_5_is_caught_by_anchors() {
    let k = keyed(568);
    attacker(&k.db)
        .execute("DELETE FROM audit WHERE seq > 5", [])
        .unwrap();
    k.fix_heads();
    // Only the newest anchor is needed.
    assert_eq!(k.first_bad(&k.anchors[567..]), 6);
}

#[test]
fn deleting_everything_is_caught_by_anchors() {
    let k = keyed(5);
    attacker(&k.db).execute("DELETE FROM audit", []).unwrap();
    k.fix_heads();
    assert_eq!(k.first_bad(&k.anchors[4..]), 1);
}

#[test]
fn unkeyed_records_after_keyed_ones_are_refused() {
    let k = keyed(3);
    // Someone appends through a store that has no key (e.g. a copied database).
    let store = Store::open(&k.db).unwrap();
    audit::append(
        &store,
        &AuditEntry::new("mallory", "admin", "user.add", "m"),
    )
    .unwrap();
    assert_eq!(k.first_bad(&[]), 4);
}

#[test]
fn a_legacy_prefix_is_sealed_by_the_first_keyed_record() {
    let (d, db) = setup(4);
    let key = audit::AuditKey::generate(&d.path().join("k")).unwrap();
    let store = Store::open(&db).unwrap();
    store.set_audit_signing(Some(key.signing("n")));
    audit::append(
        &store,
        &AuditEntry::new("vigil", "system", "audit.key_in_use", "n"),
    )
    .unwrap();
    let opts = audit::VerifyOptions {
        key: Some(key.clone()),
        anchors: vec![],
    };
    let r = audit::verify_with(&store, &opts).unwrap();
    assert_eq!((r.records, r.keyed), (5, 1));
    drop(store);
    // Rewriting the legacy prefix (even re-chained) breaks the keyed record's link.
    let c = attacker(&db);
    let store = Store::open(&db).unwrap();
    let mut r2 = audit::list(&store, 1, 1).unwrap().remove(0);
    r2.actor = "mallory".into();
    let h = audit::chain_hash(&r2.prev_hash, &r2);
    c.execute(
        "UPDATE audit SET actor=?1, hash=?2 WHERE seq=2",
        params![r2.actor, h],
    )
    .unwrap();
    let mut prev = h;
    for seq in 3..=4 {
        let mut r = audit::list(&store, seq - 1, 1).unwrap().remove(0);
        r.prev_hash = prev.clone();
        let h = audit::chain_hash(&prev, &r);
        c.execute(
            "UPDATE audit SET prev_hash=?1, hash=?2 WHERE seq=?3",
            params![r.prev_hash, h, seq],
        )
        .unwrap();
        prev = h;
    }
    match audit::verify_with(&store, &opts) {
        Err(AuditError::Break(b)) => assert_eq!(b.seq, 5),
        other => panic!("rewritten legacy prefix not detected: {other:?}"),
    }
}

#[test]
fn key_files_must_be_private_and_outside_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let inside = data.join("audit.key");
    audit::AuditKey::generate(&inside).unwrap();
    let e = audit::AuditKey::load(&inside, Some(&data)).unwrap_err();
    assert!(e.to_string().contains("inside the data directory"), "{e}");
    let outside = dir.path().join("audit.key");
    let k = audit::AuditKey::generate(&outside).unwrap();
    // Never overwritten.
    assert!(audit::AuditKey::generate(&outside).is_err());
    assert_eq!(
        audit::AuditKey::load(&outside, Some(&data)).unwrap().id(),
        k.id()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&outside).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = audit::AuditKey::load(&outside, Some(&data)).unwrap_err();
        assert!(e.to_string().contains("chmod 600"), "{e}");
    }
}

#[test]
fn anchors_round_trip_through_a_file_and_syslog_style_lines() {
    let k = keyed(3);
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("anchors.log");
    let sinks = audit::AnchorSinks {
        file: Some(f.clone()),
        syslog: false,
    };
    for a in &k.anchors {
        audit::publish_anchor(a, &sinks).unwrap();
    }
    // A syslog file holds other lines too.
    let mut text = std::fs::read_to_string(&f).unwrap();
    text.insert_str(0, "Dec  3 08:00:00 host sshd[1]: unrelated\n");
    std::fs::write(&f, text).unwrap();
    let read = audit::read_anchors(&f).unwrap();
    assert_eq!(read, k.anchors);
    assert!(k.verify(&read).is_ok());
}
