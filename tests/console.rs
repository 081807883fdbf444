//! The web console end to end, against a real `vigil serve` child process.
//!
//! The test generates a tower-facade clip with the project's own generator (`vigil synth`,
//! thrown objects the falling-object analytic finds), writes a config with that clip paced as
//! a live camera (`realtime`, `loop`, so alarms keep arriving while the page is open) and a
//! dead RTSP camera (so the health board shows a reconnecting camera), spawns the built
//! `vigil` binary on a free port, logs in as the bootstrapped admin (password file), creates an
//! operator and a viewer through the API, checks the embedded assets over HTTP, and then runs
//! `node --test tests/console/e2e.test.mjs`, which drives Debian's headless Chromium through
//! playwright-core. The browser part skips, saying why, only when /usr/bin/chromium, node or
//! tests/console/node_modules is missing (`scripts/setup.sh --test` installs them). The server
//! is stopped with SIGTERM at the end and must exit cleanly.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{synth_facade, synth_facade_table, Server};

const OPERATOR: (&str, &str) = ("guard1", "guard1-password");
const VIEWER: (&str, &str) = ("watcher", "watcher-password");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Why the browser tests cannot run here, if they cannot.
fn browser_missing() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!("{chromium} not found (apt-get install chromium)"));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node not found".into());
    }
    let pw = repo().join("tests/console/node_modules/playwright-core");
    if !pw.exists() {
        return Some(format!(
            "{} missing (npm ci --prefix tests/console)",
            pw.display()
        ));
    }
    None
}

/// A demo-like node: the tower clip as a live camera, plus a camera that never connects.
fn start_server(dir: &Path) -> Server {
    // Seed 3, 8 s, two drops: the analytic finds at least one throw per loop (tests/cli.rs).
    let clip = synth_facade(dir, "tower", 3, &["--duration", "8", "--drops", "2"]);
    let facade = synth_facade_table(dir, "tower");
    // Default pre/post-roll: clips are cut from the ring at an IDR (see ingest::ring), so
    // they start decoding in Chromium wherever the event falls in the looping file.
    let config = format!(
        "[node]\ndata_dir = \"data\"\n\n\
         [[camera]]\nname = \"tower\"\nkind = \"facade\"\nsource = \"{}\"\nrealtime = true\nloop = true\n\
         [camera.facade]\n{facade}\n\n\
         [[camera]]\nname = \"gate-dead\"\nkind = \"facade\"\nsource = \"rtsp://127.0.0.1:9/none\"\n\
         io_timeout_s = 1.0\nreconnect_max_s = 2.0\n",
        clip.display()
    );
    let srv = Server::start(dir, &config);
    srv.add_user(OPERATOR.0, "operator", OPERATOR.1);
    srv.add_user(VIEWER.0, "viewer", VIEWER.1);
    srv
}

fn check_assets(srv: &Server) {
    let agent = common::agent();
    let get = |path: &str| match agent.get(&srv.url(path)).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {path}: {e}"),
    };
    let r = get("/");
    assert_eq!(r.status(), 200);
    assert!(r.content_type().starts_with("text/html"));
    let csp = r
        .header("content-security-policy")
        .unwrap_or_default()
        .to_string();
    assert!(csp.contains("default-src 'self'"), "CSP: {csp}");
    let body = r.into_string().expect("index body");
    assert!(body.contains("/console/app.js") && body.contains("lang=\"zh-CN\""));
    for name in vigil::console::asset_names() {
        let r = get(&format!("/console/{name}"));
        assert_eq!(r.status(), 200, "{name}");
        assert!(r.header("content-type").is_some(), "{name}");
        assert!(!r.into_string().unwrap_or_default().is_empty(), "{name}");
    }
    assert_eq!(get("/console/nope.js").status(), 404);
    let r = get("/console/node.json");
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.into_json().expect("node.json is JSON");
    assert!(v["utc_offset_s"].is_i64());
    // The API answers beside the console (and wants a token).
    assert_eq!(get("/api/v1/events").status(), 401);
}

#[test]
fn console_end_to_end_against_vigil_serve() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut srv = start_server(dir.path());
    check_assets(&srv);

    match browser_missing() {
        Some(why) => eprintln!("SKIP console browser tests: {why}"),
        None => {
            let shots =
                std::env::var("VIGIL_SHOTS").unwrap_or_else(|_| "/tmp/console-shots".into());
            let out = Command::new("node")
                .args(["--test", "--test-reporter=spec", "e2e.test.mjs"])
                .current_dir(repo().join("tests/console"))
                .env("VIGIL_URL", srv.url(""))
                .env("VIGIL_OPERATOR", format!("{}:{}", OPERATOR.0, OPERATOR.1))
                .env("VIGIL_VIEWER", format!("{}:{}", VIEWER.0, VIEWER.1))
                .env("VIGIL_ADMIN", format!("admin:{}", srv.admin_password))
                .env("VIGIL_SHOTS", &shots)
                .output()
                .expect("run node");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            println!("{stdout}");
            eprintln!("{stderr}");
            if !out.status.success() {
                eprintln!("--- serve log ---\n{}", srv.log_text());
            }
            assert!(
                out.status.success(),
                "browser tests failed (see output above)"
            );
            assert!(
                stdout.contains("pass 5") || stdout.contains("ℹ pass 5"),
                "expected 5 passing browser tests"
            );
        }
    }

    // SIGTERM: cameras finish their clips, the writer drains, the process exits 0.
    let status = srv.stop();
    let log = srv.log_text();
    assert!(
        status.is_some_and(|s| s.success()),
        "vigil serve did not exit cleanly: {status:?}\n{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
    // Give the OS a moment to release the port before the tempdir goes.
    std::thread::sleep(Duration::from_millis(50));
}
