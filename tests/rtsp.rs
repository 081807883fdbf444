//! LiveSource against a real RTSP server (GStreamer, tests/support/rtsp_server.py): frames
//! flow, the server dies, LiveSource retries, the server comes back, frames flow again.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use vigil::frame::Frame;
use vigil::ingest::{Counters, IngestError, IngestOptions, LiveOptions, LiveSource};

const PYTHON: &str = "/usr/bin/python3";
/// Hang guard only (not a timing assertion): generous for a loaded 2-core machine.
const GUARD: Duration = Duration::from_secs(60);

fn gst_rtsp_available() -> bool {
    Command::new(PYTHON)
        .args([
            "-c",
            "import gi; gi.require_version('Gst','1.0'); gi.require_version('GstRtspServer','1.0'); \
             from gi.repository import Gst, GstRtspServer; Gst.init(None); \
             assert all(Gst.ElementFactory.find(e) for e in ['qtdemux','h264parse','rtph264pay'])",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

use common::free_port;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start the server and wait until it prints READY.
fn start_server(port: u16, file: &Path) -> Server {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/rtsp_server.py");
    let mut child = Command::new(PYTHON)
        .arg(script)
        .args(["--port", &port.to_string(), "--file"])
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start rtsp server");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read READY");
    assert!(
        line.starts_with("READY"),
        "rtsp server did not start: {line:?}"
    );
    Server(child)
}

fn recv(rx: &mpsc::Receiver<Frame>) -> Frame {
    rx.recv_timeout(GUARD)
        .expect("a frame from the live source")
}

#[test]
fn rtsp_reconnects_after_server_restart() {
    if !gst_rtsp_available() {
        eprintln!("SKIP rtsp test: {PYTHON} cannot import gi / GstRtspServer with qtdemux, h264parse, rtph264pay");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("cam.mp4");
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=160x120:rate=25")
        .args([
            "-t",
            "120",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
        ])
        .args(["-g", "25", "-pix_fmt", "yuv420p"])
        .arg(&clip)
        .output()
        .expect("ffmpeg CLI");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let port = free_port();
    let server = start_server(port, &clip);
    let url = format!("rtsp://127.0.0.1:{port}/stream");
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut live = LiveSource::new(
        &url,
        IngestOptions {
            io_timeout_s: 2.0,
            ..Default::default()
        },
        LiveOptions {
            stall_timeout_s: 3.0,
            reconnect_max_s: 1.0,
            loop_file: false,
        },
        counters.clone(),
        stop.clone(),
    );
    let (tx, rx) = mpsc::channel::<Frame>();
    let reader = std::thread::spawn(move || loop {
        match live.next_frame() {
            Ok(Some(f)) => {
                if tx.send(f).is_err() {
                    return Ok(());
                }
            }
            Ok(None) => return Err("a live network source must not end".to_string()),
            Err(IngestError::Stopped { .. }) => return Ok(()),
            Err(e) => return Err(format!("unexpected error: {e}")),
        }
    });

    let mut frames: Vec<Frame> = (0..25).map(|_| recv(&rx)).collect();
    assert_eq!((frames[0].width, frames[0].height), (160, 120));
    assert_eq!(counters.snapshot().reconnects, 0);

    drop(server);
    // LiveSource notices and retries (connection refused while the server is down).
    let t0 = std::time::Instant::now();
    while counters.snapshot().reconnects < 2 {
        assert!(
            t0.elapsed() < GUARD,
            "no reconnect attempts: {:?}",
            counters.snapshot()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!counters.snapshot().online);
    // Frames decoded before the drop may still be queued.
    while let Ok(f) = rx.try_recv() {
        frames.push(f);
    }
    let before = frames.len();

    let _server = start_server(port, &clip);
    for _ in 0..25 {
        frames.push(recv(&rx));
    }
    let snap = counters.snapshot();
    assert!(snap.reconnects >= 1, "{snap:?}");
    assert!(snap.online);
    for w in frames.windows(2) {
        assert!(
            w[1].pts_s > w[0].pts_s,
            "pts not monotonic: {} then {}",
            w[0].pts_s,
            w[1].pts_s
        );
        assert_eq!(w[1].index, w[0].index + 1);
    }
    // The second session starts from the file's beginning again, but later on our clock.
    assert!(frames[before].pts_s > frames[before - 1].pts_s);

    stop.store(true, Ordering::Relaxed);
    drop(rx);
    let res = reader.join().expect("reader thread");
    assert!(res.is_ok(), "{res:?}");
}

/// A server that accepts connections and never answers: opens time out (no hang), LiveSource
/// keeps retrying, and `stop` ends it even while it is blocked in a read.
#[test]
fn silent_server_times_out_and_stop_interrupts() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let held = Arc::new(std::sync::Mutex::new(Vec::new()));
    let held2 = held.clone();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            // Keep the socket open and silent.
            if let Ok(mut v) = held2.lock() {
                v.push(s);
            }
        }
    });
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut live = LiveSource::new(
        &format!("rtsp://127.0.0.1:{port}/stream"),
        IngestOptions {
            io_timeout_s: 0.5,
            ..Default::default()
        },
        LiveOptions {
            stall_timeout_s: 1.0,
            reconnect_max_s: 0.5,
            loop_file: false,
        },
        counters.clone(),
        stop.clone(),
    );
    let reader = std::thread::spawn(move || live.next_frame());
    let t0 = std::time::Instant::now();
    while counters.snapshot().reconnects < 2 {
        assert!(t0.elapsed() < GUARD, "open never timed out");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Stop while it is (most likely) blocked connecting again.
    let n = held.lock().map(|v| v.len()).unwrap_or(0);
    while held.lock().map(|v| v.len()).unwrap_or(0) == n {
        assert!(t0.elapsed() < GUARD, "no new connection attempt");
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    let res = reader.join().expect("reader thread");
    assert!(matches!(res, Err(IngestError::Stopped { .. })), "{res:?}");
    assert_eq!(counters.snapshot().frames_decoded, 0);
}
