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

/// The admin API and the self-service password change, against a real `vigil serve`.
#[test]
fn api_manages_accounts_and_revokes_at_once() {
    use serde_json::json;
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = common::Server::start(dir.path(), "[node]\ndata_dir = \"data\"\n");
    let boot = dir.path().join("data/initial-admin-password");
    assert!(boot.exists());
    let admin = srv.admin_token.clone();
    srv.add_user("guard", "operator", "guard-pw-1");
    srv.add_user("watch", "viewer", "watch-pw-1");
    let g1 = srv.login("guard", "guard-pw-1");
    let g2 = srv.login("guard", "guard-pw-1");
    let w = srv.login("watch", "watch-pw-1");
    let ok = |t: &str| srv.json("GET", "/api/v1/events", Some(t)).0;
    assert_eq!((ok(&g1), ok(&g2), ok(&w)), (200, 200, 200));

    // Only an admin manages accounts; the refusal is audited.
    let (s, _) = srv.json("GET", "/api/v1/users", Some(&g1));
    assert_eq!(s, 403);
    let (s, b) = srv.req(
        "PATCH",
        "/api/v1/users/watch",
        Some(&w),
        Some(json!({"disabled": true})),
    );
    assert_eq!(s, 403, "{}", String::from_utf8_lossy(&b));

    let (s, v) = srv.json("GET", "/api/v1/users", Some(&admin));
    assert_eq!(s, 200);
    let guard = v["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "guard")
        .unwrap();
    assert_eq!(
        (guard["role"].as_str(), guard["active_tokens"].as_i64()),
        (Some("operator"), Some(2))
    );
    assert!(v.to_string().find("pw_hash").is_none() && v.to_string().find("argon2").is_none());

    // Disable: both sessions die on their next request, not after a cache expiry.
    let (s, b) = srv.req(
        "PATCH",
        "/api/v1/users/guard",
        Some(&admin),
        Some(json!({"disabled": true})),
    );
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    let r: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(r["tokens_revoked"], 2);
    assert_eq!((ok(&g1), ok(&g2)), (401, 401));
    let (s, _) = srv.req(
        "POST",
        "/api/v1/auth/login",
        None,
        Some(json!({"name":"guard","password":"guard-pw-1"})),
    );
    assert_eq!(s, 401, "a disabled user logged in");
    srv.req(
        "PATCH",
        "/api/v1/users/guard",
        Some(&admin),
        Some(json!({"disabled": false})),
    );

    // Admin password reset revokes; the old password stops working.
    let g3 = srv.login("guard", "guard-pw-1");
    let (s, _) = srv.req(
        "PUT",
        "/api/v1/users/guard/password",
        Some(&admin),
        Some(json!({"password": "guard-pw-2"})),
    );
    assert_eq!(s, 200);
    assert_eq!(ok(&g3), 401);
    let (s, _) = srv.req(
        "PUT",
        "/api/v1/users/guard/password",
        Some(&admin),
        Some(json!({"password": "short"})),
    );
    assert_eq!(s, 400);

    // Token list and revocation by id and for all of a user.
    let g4 = srv.login("guard", "guard-pw-2");
    let g5 = srv.login("guard", "guard-pw-2");
    let (_, v) = srv.json("GET", "/api/v1/tokens?user=guard", Some(&admin));
    let toks = v["tokens"].as_array().unwrap().clone();
    assert_eq!(toks.len(), 2, "{v}");
    assert!(!v.to_string().contains("vgl_"), "a token secret was listed");
    let newest = toks[0]["id"].as_i64().unwrap();
    let (s, _) = srv.json("DELETE", &format!("/api/v1/tokens/{newest}"), Some(&admin));
    assert_eq!(s, 200);
    assert_eq!((ok(&g4), ok(&g5)), (200, 401));
    let (s, _) = srv.json("DELETE", &format!("/api/v1/tokens/{newest}"), Some(&admin));
    assert_eq!(s, 404);
    let (s, _) = srv.json("POST", "/api/v1/users/guard/revoke_tokens", Some(&admin));
    assert_eq!(s, 200);
    assert_eq!(ok(&g4), 401);

    // Demotion revokes; role change shows.
    let g6 = srv.login("guard", "guard-pw-2");
    let (s, _) = srv.req(
        "PATCH",
        "/api/v1/users/guard",
        Some(&admin),
        Some(json!({"role": "viewer"})),
    );
    assert_eq!(s, 200);
    assert_eq!(ok(&g6), 401);

    // Self-service: wrong current password refused; right one revokes and hands a new session.
    let wa = srv.login("watch", "watch-pw-1");
    let (s, _) = srv.req(
        "POST",
        "/api/v1/auth/password",
        Some(&w),
        Some(json!({"current_password": "nope-nope", "new_password": "watch-pw-2"})),
    );
    assert_eq!(s, 401);
    let (s, b) = srv.req(
        "POST",
        "/api/v1/auth/password",
        Some(&w),
        Some(json!({"current_password": "watch-pw-1", "new_password": "watch-pw-2"})),
    );
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    let fresh = v["token"].as_str().unwrap().to_string();
    assert_eq!((ok(&w), ok(&wa), ok(&fresh)), (401, 401, 200));

    // The last admin is protected; deleting a user removes them.
    let (s, b) = srv.req(
        "PATCH",
        "/api/v1/users/admin",
        Some(&admin),
        Some(json!({"disabled": true})),
    );
    assert_eq!(s, 409, "{}", String::from_utf8_lossy(&b));
    assert!(String::from_utf8_lossy(&b).contains("last_admin"));
    let (s, _) = srv.json("DELETE", "/api/v1/users/guard", Some(&admin));
    assert_eq!(s, 200);
    let (s, _) = srv.json("DELETE", "/api/v1/users/guard", Some(&admin));
    assert_eq!(s, 404);

    // The admin changes the bootstrap password: its file goes at once.
    let (s, b) = srv.req(
        "POST",
        "/api/v1/auth/password",
        Some(&admin),
        Some(json!({"current_password": srv.admin_password, "new_password": "a-real-admin-pw"})),
    );
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    assert!(
        !boot.exists(),
        "the bootstrap password file outlived its password"
    );

    // Every change is in the audit log, under the acting user.
    let admin2 = srv.login("admin", "a-real-admin-pw");
    let (_, v) = srv.json("GET", "/api/v1/audit?limit=500", Some(&admin2));
    let text = v.to_string();
    for want in [
        "user.disable",
        "user.enable",
        "user.password",
        "token.revoke",
        "user.role",
        "user.delete",
        "user.password.failed",
        "denied",
    ] {
        assert!(text.contains(want), "{want} not audited");
    }
}
