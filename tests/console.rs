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
    let truth = read_truth(dir);
    let config = format!(
        "[node]\ndata_dir = \"data\"\n\n\
         [[camera]]\nname = \"tower\"\nkind = \"facade\"\nsource = \"{}\"\nrealtime = true\nloop = true\n\
         [camera.facade]\n{facade}\n\
         [camera.facade.building]\nname = \"T3\"\nstoreys = {}\nfacade_x_m = [{:.3}, {:.3}]\n\n\
         [[camera]]\nname = \"gate-dead\"\nkind = \"facade\"\nsource = \"rtsp://127.0.0.1:9/none\"\n\
         io_timeout_s = 1.0\nreconnect_max_s = 2.0\n",
        clip.display(),
        truth.floors,
        truth.facade_x_m[0],
        truth.facade_x_m[1]
    );
    let srv = Server::start(dir, &config);
    srv.add_user(OPERATOR.0, "operator", OPERATOR.1);
    srv.add_user(VIEWER.0, "viewer", VIEWER.1);
    srv
}

fn read_truth(dir: &Path) -> vigil::synth::truth::FacadeTruth {
    serde_json::from_slice(&std::fs::read(dir.join("tower.truth.json")).expect("truth"))
        .expect("truth json")
}

/// The tower camera's plan from the calibration in the config file.
fn tower_plan(config: &Path) -> vigil::analytics::coverage::CameraCoverage {
    let cfg = vigil::config::Config::load(config).expect("config");
    let facade = cfg.cameras[0].facade.clone().expect("facade");
    vigil::analytics::coverage::plan_camera("tower", &facade, 1280, 720).expect("plan")
}

/// Points for the browser to click: the floor line under windows of two columns on three
/// floors in view, where the generator's true camera shows them, with floor and column.
fn calibration_clicks(dir: &Path, config: &Path) -> serde_json::Value {
    use vigil::synth::camera::Camera;
    let truth = read_truth(dir);
    let cfg = vigil::config::Config::load(config).expect("config");
    let facade = cfg.cameras[0].facade.clone().expect("facade");
    let plan = tower_plan(config);
    let c = &truth.camera;
    let cam = Camera::new(
        truth.width,
        truth.height,
        c.position_m,
        c.pitch_deg,
        c.yaw_deg,
        c.roll_deg,
        c.hfov_deg,
    );
    let cols = facade.model.columns();
    let seen: Vec<_> = plan.windows.iter().filter(|v| v.in_view).collect();
    let (lo, hi) = (seen[0].floor, seen[seen.len() - 1].floor);
    let mut ids: Vec<u32> = seen
        .iter()
        .filter(|v| v.floor == lo + 1)
        .map(|v| v.column)
        .collect();
    ids.dedup();
    let mut out = Vec::new();
    for floor in [lo + 1, (lo + hi) / 2 + 1, hi] {
        for col in [ids[0], ids[ids.len() - 1]] {
            let x = cols[col as usize - 1].x_m;
            let h = (floor - 1) as f64 * facade.floor_height_m;
            let (px, py, _) = cam.project([x, h, 0.0]).expect("in front");
            out.push(serde_json::json!({ "px": [px, py], "floor": floor, "column": col }));
        }
    }
    serde_json::Value::Array(out)
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

    let before = tower_plan(&srv.config);
    let clicks = calibration_clicks(dir.path(), &srv.config);
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
                .env("VIGIL_CALIB_POINTS", clicks.to_string())
                .env("VIGIL_CALIB_SIZE", "[1280,720]")
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
                stdout.contains("pass 6") || stdout.contains("ℹ pass 6"),
                "expected 6 passing browser tests"
            );
            // The calibration the browser saved gives the floors of the TOML calibration.
            let after = tower_plan(&srv.config);
            let text = std::fs::read_to_string(&srv.config).expect("config");
            assert_eq!(
                text.matches("{ px = [").count(),
                clicks.as_array().map_or(0, Vec::len),
                "the clicked points were saved: {text}"
            );
            assert_eq!(
                after.floors_in_view, before.floors_in_view,
                "floors from the console calibration vs the TOML calibration"
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
