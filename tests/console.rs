//! The web console: embedded assets over real HTTP, then browser end-to-end tests.
//!
//! The browser part starts a real vigil HTTP service on 127.0.0.1 (SQLite store in a tempdir,
//! real users with Argon2 passwords, the API router with the console merged in, the health
//! sampler) and an alarm publisher that commits a new event every few seconds the way the
//! pipeline does (new → evidence written → end), with a real H.264 clip made by ffmpeg. Then
//! it runs `node --test tests/console/e2e.test.mjs`, which drives Debian's headless Chromium
//! through playwright-core. It skips, saying why, only when /usr/bin/chromium, node or
//! tests/console/node_modules is missing (`scripts/setup.sh --test` installs them).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use vigil::api::{self, ApiConfig, AppState, CameraStatus, EventBus, EventIds, SharedCameras};
use vigil::auth::{self, Role};
use vigil::events::{Event, EventKind, EventUpdate, Origin, Phase};
use vigil::store::{EvidenceKind, Store};

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

fn make_clip(dir: &Path) -> PathBuf {
    let clip = dir.join("clip.mp4");
    // A real H.264 MP4 with the index up front, like the node's evidence clips.
    let out = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc=size=640x360:rate=25")
        .args([
            "-t", "4", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "25",
        ])
        .args(["-movflags", "+faststart"])
        .arg(&clip)
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    clip
}

fn make_pictures(dir: &Path) -> (PathBuf, PathBuf) {
    let (w, h) = (640u32, 360u32);
    let mut traj = image::RgbImage::from_pixel(w, h, image::Rgb([40, 44, 52]));
    // A falling arc, drawn as the trajectory picture would show it.
    for i in 0..200u32 {
        let t = i as f64 / 200.0;
        let x = 300.0 + 60.0 * t;
        let y = 40.0 + 300.0 * t * t;
        for dx in 0..4u32 {
            for dy in 0..4u32 {
                let (px, py) = (x as u32 + dx, y as u32 + dy);
                if px < w && py < h {
                    traj.put_pixel(px, py, image::Rgb([255, 80, 40]));
                }
            }
        }
    }
    let tp = dir.join("trajectory.png");
    traj.save(&tp).expect("write trajectory.png");
    let mut snap = image::RgbImage::from_pixel(w, h, image::Rgb([90, 90, 96]));
    for x in 200..420u32 {
        for y in [80u32, 81, 300, 301] {
            snap.put_pixel(x, y, image::Rgb([0, 255, 0]));
        }
    }
    for y in 80..302u32 {
        for x in [200u32, 201, 418, 419] {
            snap.put_pixel(x, y, image::Rgb([0, 255, 0]));
        }
    }
    let sp = dir.join("snapshot.jpg");
    snap.save(&sp).expect("write snapshot.jpg");
    (tp, sp)
}

fn event(seq: u64, kind: EventKind) -> Event {
    let camera = match kind {
        EventKind::FallingObject => "tower-a",
        EventKind::EbikeInElevator => "lift-1",
    };
    let mut e = Event::new(seq, kind, camera, 3.0, 0.87);
    e.end_s = 3.8;
    match kind {
        EventKind::FallingObject => {
            e.origin = Some(Origin {
                x: 320.0,
                y: 60.0,
                floor: Some(12),
                height_m: Some(33.5),
                facade_x_m: Some(7.2),
            });
            e.trajectory = Some(vec![[3.0, 320.0, 60.0], [3.4, 330.0, 200.0]]);
        }
        EventKind::EbikeInElevator => {
            e.bbox = Some([200.0, 80.0, 420.0, 300.0]);
            e.label = Some("ebike".into());
        }
    }
    e
}

/// Commit one alarm the way the pipeline does: new, then its evidence, then end.
fn raise(store: &Store, bus: &EventBus, ids: &mut EventIds, ev: &Event, files: &Files) -> i64 {
    let upd = |phase| EventUpdate {
        phase,
        event: ev.clone(),
        pictures: Vec::new(),
    };
    let id = api::commit_update(store, bus, ids, &upd(Phase::New)).expect("commit new");
    let pic = match ev.kind {
        EventKind::FallingObject => (EvidenceKind::Trajectory, &files.trajectory),
        EventKind::EbikeInElevator => (EvidenceKind::Snapshot, &files.snapshot),
    };
    store
        .attach_evidence(id, pic.0, pic.1)
        .expect("attach picture");
    store
        .attach_evidence(id, EvidenceKind::Clip, &files.clip)
        .expect("attach clip");
    api::commit_update(store, bus, ids, &upd(Phase::End)).expect("commit end");
    id
}

struct Files {
    clip: PathBuf,
    trajectory: PathBuf,
    snapshot: PathBuf,
}

struct Node {
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

/// Start the service on 127.0.0.1 with two cameras, two earlier alarms and a publisher.
async fn start_node(publish_every: Option<Duration>) -> Node {
    let dir = tempfile::tempdir().expect("tempdir");
    let clip = make_clip(dir.path());
    let (trajectory, snapshot) = make_pictures(dir.path());
    let files = Arc::new(Files {
        clip,
        trajectory,
        snapshot,
    });
    let store = Store::open(dir.path().join("vigil.db")).expect("open store");
    auth::add_user(&store, OPERATOR.0, Role::Operator, OPERATOR.1).expect("add operator");
    auth::add_user(&store, VIEWER.0, Role::Viewer, VIEWER.1).expect("add viewer");
    let bus = EventBus::new(1024);
    let cams = SharedCameras::default();
    cams.set(CameraStatus {
        name: "tower-a".into(),
        kind: "facade".into(),
        online: true,
        input_fps: 25.0,
        analysed_fps: 25.0,
        last_frame_age_s: Some(0.04),
        ..Default::default()
    });
    cams.set(CameraStatus {
        name: "lift-1".into(),
        kind: "elevator".into(),
        online: false,
        input_fps: 0.0,
        analysed_fps: 0.0,
        decode_errors: 3,
        reconnects: 2,
        last_frame_age_s: Some(42.0),
        ..Default::default()
    });
    let registry: Arc<dyn api::CameraRegistry> = Arc::new(cams.clone());
    api::spawn_health_sampler(store.clone(), registry.clone(), Duration::from_millis(500));

    let mut ids = EventIds::new();
    let first = raise(
        &store,
        &bus,
        &mut ids,
        &event(1, EventKind::FallingObject),
        &files,
    );
    raise(
        &store,
        &bus,
        &mut ids,
        &event(2, EventKind::EbikeInElevator),
        &files,
    );
    store
        .set_state(
            first,
            Some(vigil::store::EventState::Acknowledged),
            Some("seeded"),
            "seed",
        )
        .ok();

    let state = AppState::new(store.clone(), bus.clone(), registry, ApiConfig::default());
    let app = api::router(state).merge(vigil::console::router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("server stopped: {e}");
        }
    });

    if let Some(every) = publish_every {
        tokio::spawn(async move {
            let mut seq = 10u64;
            loop {
                tokio::time::sleep(every).await;
                seq += 1;
                let kind = if seq % 2 == 0 {
                    EventKind::FallingObject
                } else {
                    EventKind::EbikeInElevator
                };
                let (s, b, f) = (store.clone(), bus.clone(), files.clone());
                let mut local = ids.clone();
                let res = tokio::task::spawn_blocking(move || {
                    raise(&s, &b, &mut local, &event(seq, kind), &f);
                    local
                })
                .await;
                match res {
                    Ok(l) => ids = l,
                    Err(e) => eprintln!("publisher: {e}"),
                }
            }
        });
    }
    Node { addr, _dir: dir }
}

async fn get(addr: SocketAddr, path: &str) -> (u16, Vec<(String, String)>, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

fn header<'a>(h: &'a [(String, String)], k: &str) -> Option<&'a str> {
    h.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_assets_are_served_with_the_api() {
    let node = start_node(None).await;
    let (status, h, body) = get(node.addr, "/").await;
    assert_eq!(status, 200);
    assert!(header(&h, "content-type").is_some_and(|v| v.starts_with("text/html")));
    let csp = header(&h, "content-security-policy").unwrap_or_default();
    assert!(csp.contains("default-src 'self'"), "CSP: {csp}");
    assert!(body.contains("/console/app.js") && body.contains("lang=\"zh-CN\""));
    for name in vigil::console::asset_names() {
        let (status, h, body) = get(node.addr, &format!("/console/{name}")).await;
        assert_eq!(status, 200, "{name}");
        assert!(!body.is_empty(), "{name}");
        assert!(header(&h, "content-type").is_some(), "{name}");
    }
    let (status, _, _) = get(node.addr, "/console/nope.js").await;
    assert_eq!(status, 404);
    let (status, _, body) = get(node.addr, "/console/node.json").await;
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).expect("node.json is JSON");
    assert!(v["utc_offset_s"].is_i64());
    // The API still answers beside the console (and wants a token).
    let (status, _, _) = get(node.addr, "/api/v1/events").await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_headless_chromium() {
    if let Some(why) = browser_missing() {
        eprintln!("SKIP console browser tests: {why}");
        return;
    }
    let node = start_node(Some(Duration::from_secs(2))).await;
    let url = format!("http://{}", node.addr);
    let shots = std::env::var("VIGIL_SHOTS").unwrap_or_else(|_| "/tmp/console-shots".into());
    let dir = repo().join("tests/console");
    let out = tokio::process::Command::new("node")
        .args(["--test", "--test-reporter=spec", "e2e.test.mjs"])
        .current_dir(&dir)
        .env("VIGIL_URL", &url)
        .env("VIGIL_OPERATOR", format!("{}:{}", OPERATOR.0, OPERATOR.1))
        .env("VIGIL_VIEWER", format!("{}:{}", VIEWER.0, VIEWER.1))
        .env("VIGIL_SHOTS", &shots)
        .kill_on_drop(true)
        .output()
        .await
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        out.status.success(),
        "browser tests failed (see output above)"
    );
    assert!(
        stdout.contains("pass 4") || stdout.contains("ℹ pass 4"),
        "expected 4 passing browser tests"
    );
}
