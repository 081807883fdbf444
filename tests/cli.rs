//! The `vigil` binary's stable interfaces: `synth` → `analyze` (JSON Lines on stdout, evidence,
//! exit codes on bad input) and `serve` (API up, camera online, clean shutdown on SIGTERM).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::VIGIL;

fn vigil(args: &[&str]) -> std::process::Output {
    Command::new(VIGIL)
        .args(args)
        .env("VIGIL_LOG", "warn")
        .output()
        .expect("run vigil")
}

/// `vigil synth facade` (the shared helper), with the config file it writes next to the clip.
fn synth_facade(dir: &Path, name: &str, seed: u64, extra: &[&str]) -> (PathBuf, PathBuf) {
    let clip = common::synth_facade(dir, name, seed, extra);
    (clip, dir.join(format!("{name}.toml")))
}

#[test]
fn analyze_prints_json_lines_with_evidence_that_plays() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Seed 3: two bags from floors 6 and 7 (see its truth JSON); at least one is found.
    let (clip, cfg) = synth_facade(dir.path(), "tower", 3, &["--duration", "8", "--drops", "2"]);
    let ev_dir = dir.path().join("evidence");
    let out = vigil(&[
        "analyze",
        clip.to_str().expect("utf-8"),
        "--config",
        cfg.to_str().expect("utf-8"),
        "--evidence-dir",
        ev_dir.to_str().expect("utf-8"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "analyze failed: {stderr}");
    let stdout = String::from_utf8(out.stdout).expect("utf-8 stdout");
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    assert!(
        !events.is_empty(),
        "expected at least one falling_object event"
    );
    for e in &events {
        assert_eq!(e["kind"], "falling_object");
        assert_eq!(e["camera"], "tower");
        let (start, end, alarm) = (
            e["start_s"].as_f64().expect("start_s"),
            e["end_s"].as_f64().expect("end_s"),
            e["alarm_s"].as_f64().expect("alarm_s"),
        );
        assert!(start <= alarm && alarm <= end, "{e}");
        let c = e["confidence"].as_f64().expect("confidence");
        assert!((0.0..=1.0).contains(&c));
        assert!(
            e["origin"]["floor"].as_i64().is_some(),
            "calibrated camera reports a floor"
        );
        assert!(e["trajectory"].as_array().is_some_and(|t| t.len() >= 3));
        let clip = e["evidence"]["clip"].as_str().expect("clip path");
        let pic = e["evidence"]["trajectory"]
            .as_str()
            .expect("trajectory path");
        assert!(Path::new(pic).is_file());
        // The clip plays without errors and covers the event (pre-roll 5 s, post-roll 3 s).
        let play = Command::new("ffmpeg")
            .args(["-v", "error", "-i", clip, "-f", "null", "-"])
            .output()
            .expect("ffmpeg");
        assert!(
            play.status.success() && play.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&play.stderr)
        );
        let probe = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "format=duration:stream=start_time",
                "-of",
                "default=nw=1:nk=1",
                clip,
            ])
            .output()
            .expect("ffprobe");
        let vals: Vec<f64> = String::from_utf8_lossy(&probe.stdout)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        let dur = vals.last().copied().unwrap_or(0.0);
        assert!(
            dur + 0.1 >= end - start,
            "clip {dur:.2}s shorter than the event {start:.2}..{end:.2}"
        );
        assert!(
            vals.first().is_some_and(|s| s.abs() < 0.05),
            "clip starts at 0: {vals:?}"
        );
    }
}

#[test]
fn analyze_bad_input_fails_clearly_without_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let garbage = dir.path().join("garbage.mp4");
    std::fs::write(&garbage, vec![0x5au8; 10_000]).expect("write");
    let missing = dir.path().join("missing.mp4");
    for p in [&garbage, &missing] {
        let out = vigil(&["analyze", p.to_str().expect("utf-8")]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "must fail on {}", p.display());
        assert!(out.stdout.is_empty(), "nothing on stdout");
        assert!(
            err.contains(p.file_name().and_then(|f| f.to_str()).unwrap_or("?")),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    // A malformed config names the field.
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "[[camera]]\nname = \"a\"\nkind = \"facade\"\nsource = \"x.mp4\"\nfps = 3\n",
    )
    .expect("write");
    let out = vigil(&[
        "analyze",
        garbage.to_str().expect("utf-8"),
        "--config",
        cfg.to_str().expect("utf-8"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("fps"), "{err}");
    // An unwritable evidence dir is a clear error (a file stands where the dir should be).
    let (clip, _) = synth_facade(
        dir.path(),
        "short",
        5,
        &[
            "--duration",
            "1",
            "--width",
            "320",
            "--height",
            "240",
            "--drops",
            "0",
        ],
    );
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, b"x").expect("write");
    let out = vigil(&[
        "analyze",
        clip.to_str().expect("utf-8"),
        "--evidence-dir",
        blocker.join("ev").to_str().expect("utf-8"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("evidence dir"),
        "{err}"
    );
}

use common::free_port;

fn http_get(url: &str, token: Option<&str>) -> Option<(u16, String)> {
    let mut req = ureq::get(url).timeout(Duration::from_secs(5));
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    match req.call() {
        Ok(r) => Some((r.status(), r.into_string().unwrap_or_default())),
        Err(ureq::Error::Status(code, r)) => Some((code, r.into_string().unwrap_or_default())),
        Err(_) => None,
    }
}

#[test]
fn serve_runs_cameras_and_stops_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (clip, _) = synth_facade(
        dir.path(),
        "tower",
        3,
        &["--duration", "4", "--width", "640", "--height", "360"],
    );
    let port = free_port();
    let cfg = dir.path().join("vigil.toml");
    std::fs::write(
        &cfg,
        format!(
            "[node]\ndata_dir = \"data\"\napi_addr = \"127.0.0.1:{port}\"\n\n\
             [[camera]]\nname = \"tower\"\nkind = \"facade\"\nsource = \"{}\"\nrealtime = true\nloop = true\n\n\
             [[camera]]\nname = \"dead\"\nkind = \"facade\"\nsource = \"rtsp://127.0.0.1:9/nothing\"\nio_timeout_s = 1.0\n",
            clip.display()
        ),
    )
    .expect("write config");
    let mut child = Command::new(VIGIL)
        .args(["serve", "--config", cfg.to_str().expect("utf-8")])
        .env("VIGIL_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let pw_file = dir.path().join("data/initial-admin-password");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut token = None;
    let mut tower_online = false;
    while Instant::now() < deadline && !tower_online {
        std::thread::sleep(Duration::from_millis(300));
        if token.is_none() {
            let Ok(pw) = std::fs::read_to_string(&pw_file) else {
                continue;
            };
            let body = serde_json::json!({"name": "admin", "password": pw.trim()});
            if let Ok(r) = ureq::post(&format!("{base}/auth/login")).send_json(body) {
                let v: serde_json::Value = r.into_json().expect("login json");
                token = v["token"].as_str().map(str::to_string);
            }
            continue;
        }
        if let Some((200, body)) = http_get(&format!("{base}/cameras"), token.as_deref()) {
            let v: serde_json::Value = serde_json::from_str(&body).expect("cameras json");
            let list = v
                .as_array()
                .cloned()
                .or_else(|| v["cameras"].as_array().cloned())
                .unwrap_or_default();
            tower_online = list
                .iter()
                .any(|c| c["name"] == "tower" && c["online"] == true);
            // The dead RTSP camera is listed and offline; it does not stop the other one.
            if tower_online {
                assert!(
                    list.iter()
                        .any(|c| c["name"] == "dead" && c["online"] == false),
                    "{body}"
                );
            }
        }
    }
    assert!(
        token.is_some(),
        "could not log in as the bootstrapped admin"
    );
    assert!(tower_online, "the file camera never came online");
    // Without a token the API refuses.
    assert_eq!(
        http_get(&format!("{base}/events"), None).map(|r| r.0),
        Some(401)
    );
    // Graceful shutdown on SIGTERM.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let t0 = Instant::now();
    let status = loop {
        if let Ok(Some(s)) = child.try_wait() {
            break Some(s);
        }
        if t0.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    assert!(
        status.is_some_and(|s| s.success()),
        "serve did not exit cleanly: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(dir.path().join("data/vigil.db").is_file());
}
