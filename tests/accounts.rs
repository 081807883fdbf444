//! Account lifecycle (issue 12, finding 7): password change, disable / enable, role change,
//! delete and token revocation through the CLI and the admin API, each audited, each revoking
//! the user's tokens at once; CLI tokens expire by default; the bootstrap admin password file
//! is removed once it no longer opens the account.

mod common;

use std::path::Path;
use std::process::Command;

const VIGIL: &str = env!("CARGO_BIN_EXE_vigil");

fn vigil(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(VIGIL)
        .args(args)
        .env("VIGIL_LOG", "warn")
        .output()
        .expect("run vigil");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(args: &[&str]) -> String {
    let (ok, out, err) = vigil(args);
    assert!(ok, "vigil {args:?} failed: {err}");
    out
}

fn pw_file(dir: &Path, name: &str, pw: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, format!("{pw}\n")).expect("write password file");
    p.to_string_lossy().into_owned()
}

fn audit_actions(db: &str) -> Vec<String> {
    let c = rusqlite::Connection::open(db).expect("open db");
    let mut st = c
        .prepare("SELECT action || ' ' || target FROM audit ORDER BY seq")
        .expect("prepare");
    let rows = st
        .query_map([], |r| r.get::<_, String>(0))
        .expect("query")
        .collect::<Result<Vec<_>, _>>()
        .expect("rows");
    rows
}

#[test]
fn cli_manages_the_whole_account_lifecycle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let db = d.join("vigil.db").to_string_lossy().into_owned();
    let adm = pw_file(d, "adm", "first-admin-pw");
    let opw = pw_file(d, "op", "operator-pw-1");
    ok(&[
        "user",
        "add",
        "--db",
        &db,
        "--name",
        "boss",
        "--role",
        "admin",
        "--password-file",
        &adm,
    ]);
    ok(&[
        "user",
        "add",
        "--db",
        &db,
        "--name",
        "guard",
        "--role",
        "operator",
        "--password-file",
        &opw,
    ]);

    // Tokens expire after 90 days unless asked otherwise.
    let (_, _, err) = vigil(&[
        "token", "create", "--db", &db, "--name", "guard", "--label", "nvr",
    ]);
    assert!(!err.contains("never"), "{err}");
    ok(&[
        "token",
        "create",
        "--db",
        &db,
        "--name",
        "guard",
        "--no-expiry",
        "--label",
        "forever",
    ]);
    let list = ok(&["token", "list", "--db", &db, "--name", "guard", "--json"]);
    let toks: Vec<serde_json::Value> = list
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(toks.len(), 2, "{list}");
    let now_ms = chrono::Utc::now().timestamp_millis();
    let nvr = toks
        .iter()
        .find(|t| t["label"] == "nvr")
        .expect("nvr token");
    let exp = nvr["expires_at_ms"]
        .as_i64()
        .expect("the default token expires");
    let days = (exp - now_ms) as f64 / 86_400_000.0;
    assert!((89.9..=90.1).contains(&days), "default ttl {days} days");
    assert!(toks
        .iter()
        .any(|t| t["label"] == "forever" && t["expires_at_ms"].is_null()));

    // Revoke one by id.
    let id = nvr["id"].as_i64().expect("id").to_string();
    ok(&["token", "revoke", "--db", &db, "--id", &id]);
    let left = ok(&["token", "list", "--db", &db, "--name", "guard", "--json"]);
    assert_eq!(left.lines().count(), 1, "{left}");

    // A password change revokes the rest.
    let npw = pw_file(d, "op2", "operator-pw-2");
    let out = ok(&[
        "user",
        "passwd",
        "--db",
        &db,
        "--name",
        "guard",
        "--password-file",
        &npw,
    ]);
    assert!(out.contains("1 token(s) revoked"), "{out}");
    assert_eq!(
        ok(&["token", "list", "--db", &db, "--json"])
            .lines()
            .count(),
        0
    );

    // Disable / enable / role / delete; the last admin is protected.
    ok(&["user", "disable", "--db", &db, "--name", "guard"]);
    let users = ok(&["user", "list", "--db", &db]);
    assert!(
        users
            .lines()
            .any(|l| l.starts_with("guard") && l.contains("disabled")),
        "{users}"
    );
    ok(&["user", "enable", "--db", &db, "--name", "guard"]);
    let (refused, _, err) = vigil(&["user", "disable", "--db", &db, "--name", "boss"]);
    assert!(!refused && err.contains("last enabled admin"), "{err}");
    let (refused, _, err) = vigil(&["user", "delete", "--db", &db, "--name", "boss"]);
    assert!(!refused && err.contains("last enabled admin"), "{err}");
    ok(&[
        "user", "role", "--db", &db, "--name", "guard", "--role", "viewer",
    ]);
    ok(&["user", "delete", "--db", &db, "--name", "guard"]);
    assert!(!ok(&["user", "list", "--db", &db]).contains("guard"));
    let (refused, _, err) = vigil(&[
        "user",
        "passwd",
        "--db",
        &db,
        "--name",
        "ghost",
        "--password-file",
        &npw,
    ]);
    assert!(!refused && err.contains("no user 'ghost'"), "{err}");

    let actions = audit_actions(&db);
    for want in [
        "token.create guard",
        "token.revoke guard",
        "user.password guard",
        "user.disable guard",
        "user.enable guard",
        "user.role guard",
        "user.delete guard",
    ] {
        assert!(
            actions.iter().any(|a| a == want),
            "{want} not audited: {actions:?}"
        );
    }
}

#[test]
fn the_bootstrap_password_file_goes_once_the_password_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let db_path = d.join("vigil.db");
    let db = db_path.to_string_lossy().into_owned();
    let boot = d.join("initial-admin-password");
    let adm = pw_file(d, "adm", "bootstrap-pw-123");
    ok(&[
        "user",
        "add",
        "--db",
        &db,
        "--name",
        "admin",
        "--role",
        "admin",
        "--password-file",
        &adm,
    ]);
    std::fs::write(&boot, "bootstrap-pw-123\n").expect("write");
    // Changing another user's password leaves it.
    let other = pw_file(d, "o", "other-user-pw");
    ok(&[
        "user",
        "add",
        "--db",
        &db,
        "--name",
        "ops",
        "--role",
        "operator",
        "--password-file",
        &other,
    ]);
    ok(&[
        "user",
        "passwd",
        "--db",
        &db,
        "--name",
        "ops",
        "--password-file",
        &other,
    ]);
    assert!(boot.exists(), "the file still opens the admin account");
    let new = pw_file(d, "n", "a-better-admin-pw");
    ok(&[
        "user",
        "passwd",
        "--db",
        &db,
        "--name",
        "admin",
        "--password-file",
        &new,
    ]);
    assert!(
        !boot.exists(),
        "the bootstrap password file outlived its password"
    );
}
