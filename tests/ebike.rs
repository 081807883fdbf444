//! E-bike-in-elevator analytic: the ONNX detector against a Python onnxruntime reference, the
//! elevator rules, the full analytic on rendered scenes with the real default model, HTTP
//! actions against a real server on 127.0.0.1 (fired by the service, never by the analytic or
//! `vigil analyze`), and the VOC evaluation.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::Duration;

use image::{Rgb, RgbImage};
use vigil::analytics::ebike::config::{ActionConfig, ActionTrigger};
use vigil::analytics::ebike::detector::{Detector, DetectorOptions};
use vigil::analytics::ebike::layouts::LayoutKind;
use vigil::analytics::ebike::nms::{iou, nms, Detection};
use vigil::analytics::ebike::rules::{
    point_in_polygon, Confirm, MotionGate, Scheduler, Transition,
};
use vigil::analytics::ebike::{EbikeAnalytic, EbikeError, ElevatorConfig};
use vigil::analytics::Analytic;
use vigil::config::Config;
use vigil::events::{EventKind, EventUpdate, Phase};
use vigil::evidence::draw;
use vigil::frame::Frame;
use vigil::service::actions::{ActionContext, ActionRunner, CameraActions};

const W: u32 = 640;
const H: u32 = 360;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The default model, or None (test skipped) when setup has not placed it.
fn model(name: &str) -> Option<PathBuf> {
    let p = root().join("models").join(name);
    if p.is_file() {
        Some(p)
    } else {
        eprintln!("SKIP: {} missing (run scripts/setup.sh)", p.display());
        None
    }
}

/// Empty elevator-ish scene: a vertical gradient wall with a floor line.
fn background() -> RgbImage {
    let mut img = RgbImage::new(W, H);
    for (_, y, px) in img.enumerate_pixels_mut() {
        let v = y * 60 / H;
        *px = Rgb([
            (150 + v) as u8,
            (140 + v * 5 / 6) as u8,
            (120 + v * 2 / 3) as u8,
        ]);
    }
    draw::draw_line(
        &mut img,
        (0.0, 320.0),
        (W as f64, 320.0),
        Rgb([90, 90, 90]),
        3,
    );
    img
}

/// A line-drawn bicycle (two wheels, red frame, saddle, handlebar) centred at (cx, cy).
fn draw_bicycle(img: &mut RgbImage, cx: f64, cy: f64) {
    let dark = Rgb([20, 20, 20]);
    let red = Rgb([180, 20, 20]);
    for wx in [cx - 70.0, cx + 70.0] {
        for r in 0..8 {
            draw::draw_circle(img, wx, cy, 46.0 + r as f64, dark, false);
        }
    }
    let pts = [
        (cx - 70.0, cy),
        (cx, cy - 60.0),
        (cx + 70.0, cy),
        (cx - 10.0, cy),
        (cx - 70.0, cy),
    ];
    draw::draw_polyline(img, &pts, red, 8);
    draw::draw_line(img, (cx, cy - 60.0), (cx + 50.0, cy - 90.0), dark, 6);
    draw::draw_line(img, (cx - 10.0, cy), (cx - 30.0, cy - 70.0), red, 8);
    for y in (cy - 80.0) as i64..(cy - 70.0) as i64 {
        draw::draw_line(img, (cx - 50.0, y as f64), (cx - 10.0, y as f64), dark, 1);
    }
}

/// Bicycles banned; the line-drawn bicycle scores about 0.27–0.35 with YOLOX-Nano, so the
/// tests use a 0.2 threshold to keep a margin.
fn bike_cfg() -> ElevatorConfig {
    ElevatorConfig {
        ban_bicycles: true,
        score_threshold: 0.2,
        ..Default::default()
    }
}

fn scene(bike_at: Option<(f64, f64)>) -> RgbImage {
    let mut img = background();
    if let Some((x, y)) = bike_at {
        draw_bicycle(&mut img, x, y);
    }
    img
}

fn frame(img: &RgbImage, index: u64, fps: f64) -> Frame {
    let gray = img
        .pixels()
        .map(|p| ((p[0] as u32 * 77 + p[1] as u32 * 150 + p[2] as u32 * 29) >> 8) as u8)
        .collect();
    Frame {
        index,
        pts_s: index as f64 / fps,
        width: img.width(),
        height: img.height(),
        gray,
        rgb: Some(img.as_raw().clone()),
    }
}

fn opts() -> DetectorOptions {
    DetectorOptions {
        threads: 1,
        nms_iou: 0.45,
        ..Default::default()
    }
}

// ---------------------------------------------------------------- detector vs reference

fn python_ok() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import onnxruntime, numpy, PIL"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("SKIP: python3 with onnxruntime, numpy, pillow not available");
    }
    ok
}

#[derive(Debug)]
struct RefDet {
    class_id: usize,
    score: f32,
    bbox: [f32; 4],
}

fn reference(model: &Path, image: &Path, min_score: f32) -> Vec<RefDet> {
    let out = std::process::Command::new("python3")
        .arg(root().join("tests/support/ref_decode.py"))
        .arg("--model")
        .arg(model)
        .arg("--image")
        .arg(image)
        .arg("--min-score")
        .arg(min_score.to_string())
        .output()
        .expect("run ref_decode.py");
    assert!(
        out.status.success(),
        "ref_decode.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("reference JSON");
    v["detections"]
        .as_array()
        .expect("detections")
        .iter()
        .map(|d| {
            let b: Vec<f32> = d["bbox"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect();
            RefDet {
                class_id: d["class_id"].as_u64().unwrap() as usize,
                score: d["score"].as_f64().unwrap() as f32,
                bbox: [b[0], b[1], b[2], b[3]],
            }
        })
        .collect()
}

/// Every detection above `solid` on either side has a twin on the other (same class,
/// IoU > 0.9, score within 1e-3). Returns how many were matched.
fn compare(ours: &[Detection], theirs: &[RefDet], solid: f32) -> usize {
    let mut matched = 0;
    for r in theirs.iter().filter(|r| r.score >= solid) {
        let twin = ours.iter().find(|d| {
            d.class_id == r.class_id
                && iou(&d.bbox, &r.bbox) > 0.9
                && (d.score - r.score).abs() < 1e-3
        });
        assert!(twin.is_some(), "reference {r:?} has no twin in {ours:?}");
        matched += 1;
    }
    for d in ours.iter().filter(|d| d.score >= solid) {
        let twin = theirs.iter().find(|r| {
            d.class_id == r.class_id
                && iou(&d.bbox, &r.bbox) > 0.9
                && (d.score - r.score).abs() < 1e-3
        });
        assert!(
            twin.is_some(),
            "ours {d:?} has no twin in the reference {theirs:?}"
        );
    }
    matched
}

fn check_against_reference(model_name: &str, expect: LayoutKind) {
    let Some(model) = model(model_name) else {
        return;
    };
    if !python_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut det = Detector::load(&model, &opts()).expect("load detector");
    assert_eq!(det.layout(), expect);
    assert_eq!(det.class_names().len(), 80);
    assert_eq!(det.class_names()[3], "motorcycle");
    let mut images: Vec<PathBuf> = Vec::new();
    // Rendered scenes: landscape (letterbox pads the bottom) and portrait (pads the right).
    for (i, img) in [
        scene(Some((300.0, 250.0))),
        image::imageops::rotate90(&scene(Some((400.0, 200.0)))),
        scene(None),
    ]
    .iter()
    .enumerate()
    {
        let p = dir.path().join(format!("scene{i}.png"));
        img.save(&p).unwrap();
        images.push(p);
    }
    // A real photo when the evaluation material is present (read only, never copied).
    let real = std::env::var("VIGIL_REAL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join("../shared/real"));
    let door = real.join("ebike/memd_door_view.jpg");
    if door.is_file() {
        images.push(door);
    }
    let mut matched = 0;
    for p in &images {
        let img = image::ImageReader::open(p)
            .unwrap()
            .with_guessed_format()
            .unwrap()
            .decode()
            .unwrap()
            .to_rgb8();
        let ours = det
            .detect(img.as_raw(), img.width(), img.height(), 0.05)
            .unwrap();
        let theirs = reference(&model, p, 0.05);
        // Borderline scores (within 1e-3 of the cut) may fall on either side; compare above 0.06.
        matched += compare(&ours, &theirs, 0.06);
    }
    assert!(
        matched >= 1,
        "nothing was detected on the test images; the comparison proved nothing"
    );
    eprintln!("{model_name}: {matched} detections matched the Python reference");
}

#[test]
fn yolox_matches_python_reference() {
    check_against_reference("yolox_nano.onnx", LayoutKind::Yolox);
}

#[test]
fn nanodet_matches_python_reference() {
    check_against_reference("nanodet_m_416.onnx", LayoutKind::Nanodet);
}

#[test]
fn yolox_sees_the_rendered_bicycle_where_it_was_drawn() {
    let Some(model) = model("yolox_nano.onnx") else {
        return;
    };
    let mut det = Detector::load(&model, &opts()).unwrap();
    let img = scene(Some((300.0, 250.0)));
    let dets = det.detect(img.as_raw(), W, H, 0.2).unwrap();
    let bike = dets
        .iter()
        .find(|d| det.class_names()[d.class_id] == "bicycle")
        .expect("a bicycle");
    // Wheels span x 184..416, y 196..304.
    assert!(
        iou(&bike.bbox, &[184.0, 150.0, 416.0, 304.0]) > 0.6,
        "{bike:?}"
    );
    let empty = scene(None);
    let dets = det.detect(empty.as_raw(), W, H, 0.2).unwrap();
    assert!(
        dets.iter()
            .all(|d| det.class_names()[d.class_id] != "bicycle"),
        "{dets:?}"
    );
}

// ---------------------------------------------------------------- bad input

#[test]
fn missing_corrupt_and_unknown_models_are_clear_errors() {
    if model("yolox_nano.onnx").is_none() {
        return; // also implies ONNX Runtime may be absent
    }
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.onnx");
    let e = Detector::load(&missing, &opts())
        .err()
        .expect("missing model must fail");
    assert!(e.to_string().contains("nope.onnx"), "{e}");

    let corrupt = dir.path().join("corrupt.onnx");
    std::fs::write(&corrupt, b"this is not an onnx model at all").unwrap();
    let e = Detector::load(&corrupt, &opts())
        .err()
        .expect("corrupt model must fail");
    assert!(e.to_string().contains("corrupt.onnx"), "{e}");

    // A real ONNX model with a non-detector output: the falling-object trajectory classifier.
    let traj = root().join("models/trajectory.onnx");
    if traj.is_file() {
        let e = Detector::load(&traj, &opts())
            .err()
            .expect("unknown layout must fail");
        let m = e.to_string();
        assert!(
            m.contains("trajectory.onnx") && m.contains("not an image detector"),
            "{m}"
        );
    }
}

#[test]
fn labels_file_must_match_class_count() {
    let Some(model) = model("yolox_nano.onnx") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let labels = dir.path().join("labels.txt");
    std::fs::write(&labels, "person\nbicycle\ncar\n").unwrap();
    let o = DetectorOptions {
        labels: Some(labels.clone()),
        ..opts()
    };
    let e = Detector::load(&model, &o)
        .err()
        .expect("3 labels for 80 classes must fail");
    assert!(matches!(e, EbikeError::Labels { .. }), "{e}");
    assert!(
        e.to_string().contains("3 names") && e.to_string().contains("80 classes"),
        "{e}"
    );

    // The committed COCO list works and renames nothing.
    let o = DetectorOptions {
        labels: Some(root().join("models/coco80_labels.txt")),
        ..opts()
    };
    let d = Detector::load(&model, &o).unwrap();
    assert_eq!(d.class_names()[1], "bicycle");
}

#[test]
fn analytic_construction_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ElevatorConfig {
        model: "missing/model.onnx".into(),
        ..Default::default()
    };
    let e = EbikeAnalytic::new("lift-1", &cfg, dir.path())
        .err()
        .expect("missing model");
    assert!(e.to_string().contains("model.onnx"), "{e}");

    if model("yolox_nano.onnx").is_none() {
        return;
    }
    let cfg = ElevatorConfig {
        ebike_classes: vec!["e-bike".into()],
        ..Default::default()
    };
    let e = EbikeAnalytic::new("lift-1", &cfg, dir.path())
        .err()
        .expect("unknown class");
    assert!(
        e.to_string().contains("ebike_classes") && e.to_string().contains("e-bike"),
        "{e}"
    );

    let cfg = ElevatorConfig {
        ebike_classes: vec!["person".into()],
        ..Default::default()
    };
    let e = EbikeAnalytic::new("lift-1", &cfg, dir.path())
        .err()
        .expect("person");
    assert!(e.to_string().contains("person"), "{e}");
}

// ---------------------------------------------------------------- config

#[test]
fn elevator_config_parses_with_defaults_and_actions() {
    let toml = r#"
[[camera]]
name = "lift-2"
kind = "elevator"
source = "lift.mp4"
[camera.elevator]
ban_bicycles = true
k = 2
n = 4
class_thresholds = { motorcycle = 0.4 }
zone = [[0, 0], [600, 0], [600, 350], [0, 350]]
[[camera.elevator.actions]]
on = "alarm"
url = "http://127.0.0.1:9/relay/on"
body = '{"cam":"{camera}"}'
[[camera.elevator.actions]]
on = "clear"
method = "GET"
url = "http://127.0.0.1:9/relay/off?cam={camera}"
"#;
    let cfg = Config::parse(toml).expect("valid");
    let e = cfg.cameras[0].elevator_or_default();
    assert_eq!(e.model, "models/yolox_nano.onnx");
    assert_eq!((e.k, e.n), (2, 4));
    assert_eq!(e.detect_fps, 5.0);
    assert_eq!(
        e.alarm_classes(),
        vec!["motorcycle".to_string(), "bicycle".to_string()]
    );
    assert_eq!(e.threshold_for("motorcycle"), 0.4);
    assert_eq!(e.threshold_for("bicycle"), e.score_threshold);
    assert_eq!(e.actions.len(), 2);
    assert_eq!(e.actions[1].on, ActionTrigger::Clear);
    assert_eq!(e.actions[0].method, "POST");

    let bad = |from: &str, to: &str| {
        let t = toml.replace(from, to);
        assert_ne!(t, toml, "replacement {from:?} did not apply");
        Config::parse(&t)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let e = bad("k = 2", "k = 5");
    assert!(e.contains("lift-2") && e.contains("elevator.k"), "{e}");
    let e = bad("k = 2", "colour = 2");
    assert!(e.contains("colour"), "{e}");
    let e = bad("http://127.0.0.1:9/relay/on", "ftp://x");
    assert!(e.contains("actions[0].url"), "{e}");
    let e = bad("motorcycle = 0.4", "motorcycle = 1.4");
    assert!(e.contains("class_thresholds.motorcycle"), "{e}");
    let e = bad("ban_bicycles = true", "ebike_classes = [\"person\"]");
    assert!(e.contains("ebike_classes"), "{e}");
}

// ---------------------------------------------------------------- rules

#[test]
fn k_of_n_confirms_once_per_entry_and_clears() {
    let mut c = Confirm::new(3, 5, 3.0, 2.0);
    let dt = 0.2;
    let clock = std::cell::Cell::new(0.0f64);
    let step = |c: &mut Confirm, present: bool| {
        let r = c.observe(clock.get(), present);
        clock.set(clock.get() + dt);
        r
    };
    // Flicker: 2 hits out of 5 never alarms.
    for p in [true, false, false, true, false, false, false] {
        assert_eq!(step(&mut c, p), None);
    }
    // Entry at t=1.4: hits at 1.4, 1.6, (miss) 1.8, 2.0 → alarm on the third hit.
    assert_eq!(step(&mut c, true), None);
    assert_eq!(step(&mut c, true), None);
    assert_eq!(step(&mut c, false), None);
    let a = step(&mut c, true);
    match a {
        Some(Transition::Alarm { first_seen_s }) => assert!((first_seen_s - 1.4).abs() < 1e-9),
        other => panic!("expected an alarm, got {other:?}"),
    }
    // Staying in the car (with missed detections) never alarms again.
    for i in 0..30 {
        assert_eq!(step(&mut c, i % 3 != 0), None);
    }
    // Gone: clears once clear_after_s (3 s) has passed since the last hit.
    let last_hit = clock.get() - dt; // i = 29 was a hit
    let mut cleared = None;
    for _ in 0..30 {
        if let Some(tr) = step(&mut c, false) {
            cleared = Some((clock.get() - dt, tr));
            break;
        }
    }
    let (when, tr) = cleared.expect("cleared");
    assert_eq!(
        tr,
        Transition::Clear {
            last_seen_s: last_hit
        }
    );
    assert!(when - last_hit >= 3.0 && when - last_hit < 3.0 + dt + 1e-9);
    // A new entry alarms again, after k fresh hits.
    assert_eq!(step(&mut c, true), None);
    assert_eq!(step(&mut c, true), None);
    assert!(matches!(step(&mut c, true), Some(Transition::Alarm { .. })));
}

#[test]
fn sparse_runs_do_not_add_up_to_an_alarm() {
    // Hits 2 s apart (idle runs) are older than the window's max age: no alarm.
    let mut c = Confirm::new(3, 5, 3.0, 2.0);
    for i in 0..10 {
        assert_eq!(c.observe(i as f64 * 2.1, true), None, "run {i}");
    }
}

#[test]
fn scheduler_runs_at_detect_fps_on_motion_and_every_idle_interval() {
    let mut s = Scheduler::new(5.0, 2.0);
    let fps = 25.0;
    let mut slots = 0;
    let mut runs_idle = Vec::new();
    for i in 0..250 {
        let t = i as f64 / fps;
        if s.tick(t) {
            slots += 1;
            if s.should_run(t, false, false) {
                runs_idle.push(t);
            }
        }
    }
    assert_eq!(slots, 50, "10 s at 5 fps");
    assert_eq!(
        runs_idle.len(),
        5,
        "idle: t = 0, 2, 4, 6, 8 → {runs_idle:?}"
    );
    let mut s = Scheduler::new(5.0, 2.0);
    let runs = (0..250)
        .filter(|&i| {
            let t = i as f64 / fps;
            s.tick(t) && s.should_run(t, true, false)
        })
        .count();
    assert_eq!(runs, 50, "moving: every slot");
}

#[test]
fn motion_gate_sees_change_inside_the_zone_only() {
    let zone = [[0.0, 0.0], [320.0, 0.0], [320.0, 360.0], [0.0, 360.0]];
    assert!(point_in_polygon(10.0, 10.0, &zone) && !point_in_polygon(330.0, 10.0, &zone));
    let mut g = MotionGate::new(&zone);
    let bg = frame(&background(), 0, 25.0);
    assert_eq!(
        g.update(&bg.gray, W, H),
        1.0,
        "first frame counts as motion"
    );
    assert_eq!(g.update(&bg.gray, W, H), 0.0);
    // Change on the right half (outside the zone): nothing.
    let right = frame(&scene(Some((480.0, 250.0))), 1, 25.0);
    let f = g.update(&right.gray, W, H);
    assert!(f < 0.005, "{f}");
    // Change on the left half: motion.
    let left = frame(&scene(Some((150.0, 250.0))), 2, 25.0);
    let f = g.update(&left.gray, W, H);
    assert!(f > 0.01, "{f}");
}

#[test]
fn nms_is_class_wise() {
    let d = |c, s, x: f32| Detection {
        class_id: c,
        score: s,
        bbox: [x, 0.0, x + 10.0, 10.0],
    };
    let kept = nms(
        vec![
            d(0, 0.9, 0.0),
            d(0, 0.8, 1.0),
            d(1, 0.7, 1.0),
            d(0, 0.6, 50.0),
        ],
        0.45,
        100,
    );
    assert_eq!(kept.len(), 3);
    assert_eq!(kept[0].score, 0.9);
    assert!(kept.iter().any(|k| k.class_id == 1));
}

// ---------------------------------------------------------------- the analytic on rendered scenes

/// 25 fps: 2 s empty car, bike wheeled in (moving left→right, 3 s), 5 s empty again.
fn run_scenario(cfg: &ElevatorConfig) -> Option<(Vec<EventUpdate>, f64, EbikeAnalytic)> {
    model("yolox_nano.onnx")?;
    let mut a = EbikeAnalytic::new("lift-1", cfg, &root()).expect("analytic");
    assert!(a.needs_rgb());
    let fps = 25.0;
    let mut out = Vec::new();
    let enter = 50u64;
    let leave = 125u64;
    let empty = scene(None);
    for i in 0..250u64 {
        let img = if (enter..leave).contains(&i) {
            scene(Some((220.0 + (i - enter) as f64 * 2.0, 250.0)))
        } else {
            empty.clone()
        };
        out.extend(a.on_frame(&frame(&img, i, fps)));
    }
    out.extend(a.finish());
    Some((out, enter as f64 / fps, a))
}

#[test]
fn banned_bicycle_alarms_once_then_clears_with_snapshot() {
    let cfg = bike_cfg();
    let Some((ups, entered, a)) = run_scenario(&cfg) else {
        return;
    };
    let news: Vec<_> = ups.iter().filter(|u| u.phase == Phase::New).collect();
    let ends: Vec<_> = ups.iter().filter(|u| u.phase == Phase::End).collect();
    assert_eq!(news.len(), 1, "{ups:?}");
    assert_eq!(ends.len(), 1);
    let ev = &news[0].event;
    assert_eq!(ev.kind, EventKind::EbikeInElevator);
    assert_eq!(ev.label.as_deref(), Some("bicycle"));
    assert_eq!(ev.camera, "lift-1");
    let latency = ev.alarm_s - entered;
    // k = 3 runs at 5 fps: the third run after entry, 0.4 s.
    assert!(
        (0.0..=1.0).contains(&latency),
        "alarm {latency} s after entry"
    );
    let b = ev.bbox.expect("bbox");
    assert!(
        b[0] < b[2] && b[1] < b[3] && b[2] <= W as f64 && b[3] <= H as f64,
        "{b:?}"
    );
    assert!(ev.confidence >= 0.2);
    let pic = news[0]
        .pictures
        .iter()
        .find(|p| p.name == "snapshot.jpg")
        .expect("snapshot");
    let clean = news[0]
        .pictures
        .iter()
        .find(|p| p.name == "frame.jpg")
        .expect("clean frame");
    assert_ne!(
        clean.image, pic.image,
        "the box is drawn on the snapshot only"
    );
    assert_eq!((pic.image.width(), pic.image.height()), (W, H));
    // The box is drawn in red on the snapshot.
    let p = pic.image.get_pixel(
        ((b[0] + b[2]) / 2.0) as u32,
        b[3].round().min(H as f64 - 1.0) as u32,
    );
    assert_eq!(*p, draw::RED, "box edge drawn");
    let end = &ends[0].event;
    assert_eq!(end.id, ev.id);
    assert!(
        ends[0].pictures.iter().any(|p| p.name == "snapshot.jpg"),
        "End carries the evidence"
    );
    // Bike left at 5.0 s: cleared from the last sighting (≤ 5 s), not at the end of the clip.
    assert!(
        end.end_s > ev.alarm_s && end.end_s <= 5.0 + 1e-9,
        "{}",
        end.end_s
    );
    let s = a.stats();
    assert_eq!(s.frames, 250);
    assert!(
        s.skipped_idle > 0,
        "the empty car must skip detector runs: {s:?}"
    );
}

#[test]
fn bicycles_are_ignored_unless_banned_and_zone_excludes() {
    let Some((ups, _, a)) = run_scenario(&ElevatorConfig::default()) else {
        return;
    };
    assert!(
        ups.is_empty(),
        "motorcycle-only config alarmed on a bicycle: {ups:?}"
    );
    // Idle car: 2 s before and ~5 s after the bike; detector runs are far fewer than slots.
    let s = a.stats();
    assert!(s.detector_runs < 50 && s.skipped_idle > 0, "{s:?}");

    let cfg = ElevatorConfig {
        zone: vec![[500.0, 0.0], [640.0, 0.0], [640.0, 360.0], [500.0, 360.0]],
        ..bike_cfg()
    };
    let Some((ups, _, _)) = run_scenario(&cfg) else {
        return;
    };
    assert!(ups.is_empty(), "bike outside the car zone alarmed: {ups:?}");
}

// ---------------------------------------------------------------- actions against a real server

struct Req {
    request_line: String,
    body: String,
}

/// Minimal HTTP/1.1 server: answers `status` to every request and reports it on a channel.
fn serve(status: u16) -> (String, mpsc::Receiver<Req>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", l.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; len];
            let _ = r.read_exact(&mut body);
            let _ = write!(
                s,
                "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            );
            let _ = tx.send(Req {
                request_line: line.trim().to_string(),
                body: String::from_utf8_lossy(&body).into(),
            });
        }
    });
    (addr, rx)
}

fn action(on: ActionTrigger, url: String) -> ActionConfig {
    ActionConfig {
        on,
        method: "POST".into(),
        url,
        body: None,
        content_type: "application/json".into(),
        timeout_s: 2.0,
        retries: 2,
    }
}

fn ctx(phase: ActionTrigger) -> ActionContext {
    ActionContext {
        camera: "lift-1".into(),
        event_id: 7,
        label: "motor\"cycle".into(),
        media_s: 12.5,
        phase,
    }
}

#[test]
fn actions_fire_on_alarm_and_clear_against_a_real_server() {
    let (addr, rx) = serve(200);
    let mut on_clear = action(
        ActionTrigger::Clear,
        format!("{addr}/relay/off?cam={{camera}}&id={{event_id}}"),
    );
    on_clear.method = "GET".into();
    let mut templ = action(ActionTrigger::Alarm, format!("{addr}/hook"));
    templ.body = Some("cam={camera} id={event_id} label={label}".into());
    templ.content_type = "text/plain".into();
    let runner = ActionRunner::start(&[
        action(ActionTrigger::Alarm, format!("{addr}/relay/on")),
        on_clear,
        templ,
    ])
    .unwrap();
    runner.fire(&ctx(ActionTrigger::Alarm));
    let wait = Duration::from_secs(20);
    let a = rx.recv_timeout(wait).expect("alarm call");
    assert_eq!(a.request_line, "POST /relay/on HTTP/1.1");
    let v: serde_json::Value = serde_json::from_str(&a.body).expect("default body is JSON");
    assert_eq!(v["camera"], "lift-1");
    assert_eq!(v["event_id"], 7);
    assert_eq!(v["label"], "motor\"cycle");
    assert_eq!(v["phase"], "alarm");
    let b = rx.recv_timeout(wait).expect("webhook call");
    assert_eq!(b.request_line, "POST /hook HTTP/1.1");
    assert_eq!(b.body, "cam=lift-1 id=7 label=motor\"cycle");
    runner.fire(&ctx(ActionTrigger::Clear));
    let c = rx.recv_timeout(wait).expect("clear call");
    assert_eq!(c.request_line, "GET /relay/off?cam=lift-1&id=7 HTTP/1.1");
    let stats = runner.stats();
    drop(runner); // drains the queue
    assert_eq!(stats.sent.load(Ordering::Relaxed), 3);
    assert_eq!(stats.failed.load(Ordering::Relaxed), 0);
    assert!(rx.try_recv().is_err(), "no extra calls");
}

#[test]
fn failing_actions_retry_then_give_up_without_blocking() {
    let (addr, rx) = serve(503);
    let mut a = action(ActionTrigger::Alarm, format!("{addr}/relay/on"));
    a.retries = 2;
    // Nothing listens on this port (bound then closed): connection refused.
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut b = action(ActionTrigger::Alarm, format!("http://{dead}/x"));
    b.retries = 1;
    let runner = ActionRunner::start(&[a, b]).unwrap();
    runner.fire(&ctx(ActionTrigger::Alarm)); // returns at once: the calls run on the worker
    for _ in 0..3 {
        let r = rx.recv_timeout(Duration::from_secs(20)).expect("attempt");
        assert_eq!(r.request_line, "POST /relay/on HTTP/1.1");
    }
    let stats = runner.stats();
    drop(runner);
    assert!(rx.try_recv().is_err(), "exactly 1 + retries attempts");
    assert_eq!(stats.failed.load(Ordering::Relaxed), 2);
    assert_eq!(stats.sent.load(Ordering::Relaxed), 0);
    assert_eq!(stats.attempts.load(Ordering::Relaxed), 3 + 2);
}

/// The analytic is pure: with actions configured it raises its alarm and calls nobody; the
/// service's `CameraActions`, fed with that alarm, makes exactly the configured calls.
#[test]
fn the_service_fires_actions_for_the_analytics_events() {
    if model("yolox_nano.onnx").is_none() {
        return;
    }
    let (addr, rx) = serve(200);
    let cfg = ElevatorConfig {
        actions: vec![
            action(ActionTrigger::Alarm, format!("{addr}/on")),
            action(ActionTrigger::Clear, format!("{addr}/off")),
        ],
        ..bike_cfg()
    };
    let Some((ups, _, a)) = run_scenario(&cfg) else {
        return;
    };
    drop(a);
    let new = ups
        .iter()
        .find(|u| u.phase == Phase::New)
        .expect("an alarm");
    let end = ups.iter().find(|u| u.phase == Phase::End).expect("an end");
    let id = new.event.id;
    let config = Config::parse(&format!(
        "[[camera]]\nname = \"lift-1\"\nkind = \"elevator\"\nsource = \"x.mp4\"\n\
         [[camera.elevator.actions]]\non = \"alarm\"\nurl = \"{addr}/on\"\n\
         [[camera.elevator.actions]]\non = \"clear\"\nurl = \"{addr}/off\"\n"
    ))
    .expect("config");
    let actions = CameraActions::from_config(&config);
    actions.alarm(&new.event);
    actions.clear(&end.event);
    let stats = actions.stats("lift-1").expect("lift-1 has actions");
    drop(actions); // drains the queue
    let on = rx.recv_timeout(Duration::from_secs(20)).expect("on");
    let off = rx.recv_timeout(Duration::from_secs(20)).expect("off");
    assert_eq!(on.request_line, "POST /on HTTP/1.1");
    assert_eq!(off.request_line, "POST /off HTTP/1.1");
    let v: serde_json::Value = serde_json::from_str(&off.body).unwrap();
    assert_eq!(v["event_id"], id);
    assert_eq!(v["phase"], "clear");
    assert_eq!(stats.sent.load(Ordering::Relaxed), 2);
    assert!(rx.try_recv().is_err(), "the analytic itself made no call");
}

/// `vigil serve`'s event path: the writer commits the alarm, then fires the alarm action; the
/// analytic's end fires the clear action; the complete event (after the clip) adds no call and
/// closes the stored event. Real SQLite file, real HTTP listener.
#[test]
fn the_event_writer_fires_actions_for_committed_alarms() {
    use vigil::events::Event;
    use vigil::service::events::EventWriter;
    use vigil::service::node::NodeEvent;
    use vigil::service::EventBus;
    use vigil::store::Store;

    let (addr, rx) = serve(200);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("vigil.db")).unwrap();
    let config = Config::parse(&format!(
        "[[camera]]\nname = \"lift-1\"\nkind = \"elevator\"\nsource = \"x.mp4\"\n\
         [[camera.elevator.actions]]\non = \"alarm\"\nurl = \"{addr}/on\"\n\
         [[camera.elevator.actions]]\non = \"clear\"\nurl = \"{addr}/off\"\n"
    ))
    .expect("config");
    let actions = std::sync::Arc::new(CameraActions::from_config(&config));
    let mut writer = EventWriter::new(store.clone(), EventBus::new(16), actions.clone());
    let mut ev = Event::new(4, EventKind::EbikeInElevator, "lift-1", 12.0, 0.8);
    ev.label = Some("bicycle".into());
    writer.handle(NodeEvent::Alarm(ev.clone()));
    let on = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("alarm call");
    assert_eq!(on.request_line, "POST /on HTTP/1.1");
    let stored = |store: &Store| -> Vec<(String, u64, String)> {
        let page = store
            .list_events(&vigil::store::EventFilter::default(), None, 10)
            .unwrap();
        page.events
            .into_iter()
            .map(|e| (e.camera, e.seq, e.phase))
            .collect()
    };
    assert_eq!(
        stored(&store),
        vec![("lift-1".to_string(), 4, "open".to_string())]
    );
    ev.end_s = 15.0;
    writer.handle(NodeEvent::Ended(ev.clone()));
    let off = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("clear call");
    assert_eq!(off.request_line, "POST /off HTTP/1.1");
    writer.handle(NodeEvent::Complete(ev));
    drop(writer);
    let stats = actions.stats("lift-1").expect("stats");
    drop(actions); // drains the queue
    assert_eq!(stats.sent.load(Ordering::Relaxed), 2);
    assert!(
        rx.try_recv().is_err(),
        "one alarm and one clear call, nothing more"
    );
    assert_eq!(
        stored(&store),
        vec![("lift-1".to_string(), 4, "ended".to_string())]
    );
}

/// `vigil analyze` on a clip that raises an e-bike alarm, with a config whose actions point at
/// a listener on 127.0.0.1: the alarm is printed and the listener is never called.
#[test]
fn analyze_with_elevator_actions_calls_nothing() {
    if model("yolox_nano.onnx").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("lift.mp4");
    // The scene of `run_scenario`, encoded as H.264 by the ffmpeg CLI.
    let mut ff = std::process::Command::new("ffmpeg")
        .args([
            "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
        ])
        .args(["-s", &format!("{W}x{H}"), "-r", "25", "-i", "-"])
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        ])
        .arg(&clip)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("the ffmpeg CLI");
    {
        let mut stdin = ff.stdin.take().expect("stdin");
        let empty = scene(None);
        for i in 0..250u64 {
            let img = if (50..125).contains(&i) {
                scene(Some((220.0 + (i - 50) as f64 * 2.0, 250.0)))
            } else {
                empty.clone()
            };
            stdin.write_all(img.as_raw()).expect("frame to ffmpeg");
        }
    }
    assert!(ff.wait().expect("ffmpeg").success());
    // Never accepted: a connection attempt would wait in the backlog and show up below.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let cfg = dir.path().join("lift.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[camera]]\nname = \"lift-1\"\nkind = \"elevator\"\nsource = \"lift.mp4\"\n\
             [camera.elevator]\nmodel = \"{}\"\nban_bicycles = true\nscore_threshold = 0.2\n\
             [[camera.elevator.actions]]\non = \"alarm\"\nurl = \"http://{addr}/relay/on\"\n\
             [[camera.elevator.actions]]\non = \"clear\"\nurl = \"http://{addr}/relay/off\"\n",
            root().join("models/yolox_nano.onnx").display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("analyze")
        .arg(&clip)
        .arg("--config")
        .arg(&cfg)
        .env("VIGIL_LOG", "warn")
        .output()
        .expect("run vigil");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("\"ebike_in_elevator\""),
        "the clip must raise an alarm for this test to mean anything: {stdout}"
    );
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Ok((_, peer)) => panic!("vigil analyze called the action listener (from {peer})"),
        Err(e) => panic!("accept: {e}"),
    }
}

// ---------------------------------------------------------------- evaluation and dataset export

use vigil::analytics::ebike::dataset::{export_yolo, yolo_line, ExportOptions};
use vigil::analytics::ebike::eval::{
    average_precision, evaluate_images, evaluate_sequence, match_detections, parse_voc, VocObject,
};

fn voc(file: &str, w: u32, h: u32, objects: &[(&str, [u32; 4])]) -> String {
    let mut s = format!(
        "<annotation><filename>{file}</filename><size><width>{w}</width><height>{h}</height><depth>3</depth></size>"
    );
    for (name, b) in objects {
        s += &format!(
            "<object><name>{name}</name><difficult>0</difficult><bndbox><xmin>{}</xmin><ymin>{}</ymin><xmax>{}</xmax><ymax>{}</ymax></bndbox></object>",
            b[0], b[1], b[2], b[3]
        );
    }
    s + "</annotation>"
}

#[test]
fn voc_parsing_and_matching() {
    let a = parse_voc(&voc(
        "a.png",
        640,
        360,
        &[("ebike", [10, 20, 110, 220]), ("person", [5, 5, 50, 90])],
    ))
    .unwrap();
    assert_eq!(a.size, Some((640, 360)));
    assert_eq!(a.objects.len(), 2);
    assert_eq!(a.objects[0].bbox, [10.0, 20.0, 110.0, 220.0]);
    assert!(parse_voc("<annotation><object><name>x</name></object></annotation>").is_err());
    assert!(parse_voc("<html/>").is_err());
    assert!(parse_voc("not xml").is_err());
    assert!(
        parse_voc(&voc("a.png", 1, 1, &[("ebike", [50, 20, 10, 220])])).is_err(),
        "empty box"
    );

    let gt = vec![VocObject {
        name: "ebike".into(),
        bbox: [0.0, 0.0, 100.0, 100.0],
        difficult: false,
    }];
    // Two overlapping detections: only the higher-scoring one is a TP; the duplicate is an FP.
    let flags = match_detections(
        &gt,
        &[
            (0.5, [5.0, 0.0, 100.0, 100.0]),
            (0.9, [0.0, 0.0, 100.0, 95.0]),
        ],
        0.5,
    );
    assert_eq!(flags, vec![Some(false), Some(true)]);
    assert!((average_precision(vec![(0.9, true), (0.5, false)], 1) - 1.0).abs() < 1e-9);
    assert!((average_precision(vec![(0.9, false), (0.5, true)], 1) - 0.5).abs() < 1e-9);
    assert_eq!(average_precision(vec![(0.9, false)], 2), 0.0);
}

#[test]
fn evaluation_on_rendered_labelled_images_and_sequence() {
    let Some(model) = model("yolox_nano.onnx") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Two positives (the drawn bicycle labelled as an e-bike) and one empty car.
    scene(Some((300.0, 250.0)))
        .save(dir.path().join("a.png"))
        .unwrap();
    std::fs::write(
        dir.path().join("a.xml"),
        voc("a.png", W, H, &[("ebike", [184, 150, 416, 304])]),
    )
    .unwrap();
    scene(Some((250.0, 240.0)))
        .save(dir.path().join("b.png"))
        .unwrap();
    std::fs::write(
        dir.path().join("b.xml"),
        voc("b.png", W, H, &[("ebike", [134, 140, 366, 294])]),
    )
    .unwrap();
    scene(None).save(dir.path().join("c.png")).unwrap();
    std::fs::write(dir.path().join("c.xml"), voc("c.png", W, H, &[])).unwrap();
    let cfg = bike_cfg();
    let mut det = Detector::load(&model, &opts()).unwrap();
    let rep = evaluate_images(&mut det, &cfg, dir.path(), 0.5).unwrap();
    assert_eq!(rep.images, 3);
    let e = rep
        .classes
        .iter()
        .find(|c| c.class == "ebike")
        .expect("ebike row");
    assert_eq!((e.gt, e.tp, e.fp), (2, 2, 0), "{e:?}");
    assert!(e.ap > 0.99);
    // Without the bicycle ban the drawn bicycle is not an e-bike: recall 0.
    let rep = evaluate_images(&mut det, &ElevatorConfig::default(), dir.path(), 0.5).unwrap();
    let e = rep
        .classes
        .iter()
        .find(|c| c.class == "ebike")
        .expect("ebike row");
    assert_eq!((e.gt, e.tp), (2, 0), "{e:?}");

    // Sequence: 2 empty frames, then 6 with the bike (labelled from frame 2), at 2 fps.
    let seq = tempfile::tempdir().unwrap();
    for i in 0..8u32 {
        let p = seq.path().join(format!("f{i:02}.png"));
        let bike = i >= 2;
        scene(bike.then_some((200.0 + 20.0 * i as f64, 250.0)))
            .save(&p)
            .unwrap();
        let objs: Vec<(&str, [u32; 4])> = if bike {
            vec![("ebike", [0, 0, 10, 10])]
        } else {
            vec![]
        };
        std::fs::write(p.with_extension("xml"), voc("x", W, H, &objs)).unwrap();
    }
    let det = Detector::load(&model, &opts()).unwrap();
    let rep = evaluate_sequence(det, &cfg, seq.path(), 2.0).unwrap();
    assert_eq!(rep.frames, 8);
    assert_eq!(rep.visible_from_s, 1.0);
    assert_eq!(rep.alarms, 1);
    // k = 3 consecutive 0.5 s frames: alarm on the third, 1.0 s after the first.
    assert_eq!(rep.latency_s, Some(1.0), "{rep:?}");
}

#[test]
fn dataset_export_writes_yolo_labels_and_hard_negatives() {
    assert_eq!(
        yolo_line([0.0, 0.0, 320.0, 180.0], 640, 360).unwrap(),
        "0 0.250000 0.250000 0.500000 0.500000"
    );
    assert!(yolo_line([10.0, 10.0, 10.0, 20.0], 640, 360).is_none());
    let ev_dir = tempfile::tempdir().unwrap();
    let write_event = |name: &str, id: u64, bbox: [f64; 4], verdict: Option<&str>, clean: bool| {
        let d = ev_dir.path().join("lift-1").join(name);
        std::fs::create_dir_all(&d).unwrap();
        let mut ev = vigil::events::Event::new(id, EventKind::EbikeInElevator, "lift-1", 3.0, 0.8);
        ev.bbox = Some(bbox);
        ev.label = Some("motorcycle".into());
        std::fs::write(d.join("event.json"), serde_json::to_vec(&ev).unwrap()).unwrap();
        let img = scene(Some((300.0, 250.0)));
        img.save(d.join(if clean { "frame.jpg" } else { "snapshot.jpg" }))
            .unwrap();
        if let Some(v) = verdict {
            std::fs::write(d.join("verdict.json"), format!("{{\"verdict\":\"{v}\"}}")).unwrap();
        }
    };
    write_event("e1", 1, [184.0, 150.0, 416.0, 304.0], None, true);
    write_event(
        "e2",
        2,
        [10.0, 10.0, 100.0, 100.0],
        Some("false_alarm"),
        true,
    );
    write_event(
        "e3",
        3,
        [10.0, 10.0, 100.0, 100.0],
        Some("true_alarm"),
        false,
    );
    let out = tempfile::tempdir().unwrap();
    let rep = export_yolo(ev_dir.path(), out.path(), &ExportOptions::default()).unwrap();
    assert_eq!(
        (
            rep.events_seen,
            rep.positives,
            rep.negatives,
            rep.skipped.len()
        ),
        (3, 1, 1, 1),
        "{rep:?}"
    );
    let l1 = std::fs::read_to_string(out.path().join("labels/lift-1_1_3000.txt")).unwrap();
    assert_eq!(l1.trim(), "0 0.468750 0.630556 0.362500 0.427778");
    let l2 = std::fs::read_to_string(out.path().join("labels/lift-1_2_3000.txt")).unwrap();
    assert!(l2.is_empty(), "false alarm = hard negative");
    assert!(out.path().join("images/lift-1_1_3000.jpg").is_file());
    let yaml = std::fs::read_to_string(out.path().join("data.yaml")).unwrap();
    assert!(
        yaml.contains("nc: 1") && yaml.contains("names: ['ebike']"),
        "{yaml}"
    );
    // Verified only: the unverdicted event is skipped; annotated snapshots allowed on request.
    let out2 = tempfile::tempdir().unwrap();
    let rep = export_yolo(
        ev_dir.path(),
        out2.path(),
        &ExportOptions {
            verified_only: true,
            allow_annotated: true,
        },
    )
    .unwrap();
    assert_eq!((rep.positives, rep.negatives), (1, 1), "{rep:?}");
    assert!(out2.path().join("labels/lift-1_3_3000.txt").is_file());
}

// ---------------------------------------------------------------- end to end through the pipeline

#[test]
fn pipeline_on_an_h264_elevator_clip_emits_event_with_evidence() {
    if model("yolox_nano.onnx").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("lift.mp4");
    let fps = 15.0;
    let mut wr = vigil::synth::encode::VideoWriter::create(&clip, W, H, fps).expect("encoder");
    let empty = scene(None);
    for i in 0..90u32 {
        // Bike wheeled in at 1 s, parked, wheeled out at 3 s.
        let img = if (15..45).contains(&i) {
            scene(Some((200.0 + 3.0 * (i.min(35) - 15) as f64, 250.0)))
        } else {
            empty.clone()
        };
        wr.write_rgb(img.as_raw()).unwrap();
    }
    wr.finish().unwrap();
    let toml = r#"
[[camera]]
name = "lift-9"
kind = "elevator"
source = "lift.mp4"
[camera.elevator]
ban_bicycles = true
score_threshold = 0.2
"#;
    let cfg = Config::parse(toml).unwrap();
    let cam = cfg.cameras[0].clone();
    let ev_dir = dir.path().join("evidence");
    let mut events = Vec::new();
    let mut sink = |e: &vigil::events::Event| events.push(e.clone());
    let stats = vigil::pipeline::analyze_file(
        &cfg,
        &cam,
        &clip,
        &vigil::pipeline::AnalyzeOptions::full(Some(ev_dir.clone())),
        &mut sink,
    )
    .expect("analyze");
    assert_eq!(stats.frames, 90);
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e.kind, EventKind::EbikeInElevator);
    assert_eq!(e.label.as_deref(), Some("bicycle"));
    assert!(
        e.alarm_s >= 1.0 && e.alarm_s <= 2.0,
        "alarm at {}",
        e.alarm_s
    );
    assert!(e.end_s > e.alarm_s && e.end_s < 3.2, "end {}", e.end_s);
    // Evidence: snapshot, clean frame and event.json in the event's folder.
    let ev = e.evidence.as_ref().expect("evidence paths");
    let snap = PathBuf::from(ev.snapshot.as_ref().expect("snapshot path"));
    assert!(snap.is_file(), "{snap:?}");
    let folder = snap.parent().unwrap();
    assert!(folder.join("frame.jpg").is_file());
    assert!(folder.join("event.json").is_file());
    // And the dataset export takes it from there.
    let out = dir.path().join("dataset");
    let rep = export_yolo(&ev_dir, &out, &ExportOptions::default()).unwrap();
    assert_eq!(rep.positives, 1, "{rep:?}");
}

// ---------------------------------------------------------------- other layouts (generated models)

/// Constant-output YOLOv8 / YOLOv5 / unknown-layout models from tests/support, or None (skip).
fn fake_detectors() -> Option<tempfile::TempDir> {
    model("yolox_nano.onnx")?; // ONNX Runtime set up
    let dir = tempfile::tempdir().unwrap();
    let ok = std::process::Command::new("python3")
        .arg(root().join("tests/support/make_fake_detectors.py"))
        .arg(dir.path())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("SKIP: python3 with onnx and numpy not available (pip install onnx numpy)");
        return None;
    }
    Some(dir)
}

#[test]
fn yolov8_and_yolov5_layouts_decode_through_centred_letterbox() {
    let Some(dir) = fake_detectors() else { return };
    // 128×64 frame → 64×64 input: scale 0.5, centred, 16 px bands top and bottom.
    let img = RgbImage::from_pixel(128, 64, Rgb([90, 90, 90]));
    let want_moto = [48.0, 38.0, 80.0, 58.0];

    let mut v8 = Detector::load(&dir.path().join("yolov8.onnx"), &opts()).expect("yolov8");
    assert_eq!(v8.layout(), LayoutKind::Yolov8);
    assert_eq!(
        v8.class_names(),
        ["person", "bicycle", "motorcycle"],
        "names from metadata"
    );
    let d = v8.detect(img.as_raw(), 128, 64, 0.3).unwrap();
    let moto: Vec<_> = d.iter().filter(|x| x.class_id == 2).collect();
    assert_eq!(
        moto.len(),
        1,
        "NMS keeps one of the two overlapping boxes: {d:?}"
    );
    assert!((moto[0].score - 0.9).abs() < 1e-6);
    assert!(iou(&moto[0].bbox, &want_moto) > 0.99, "{:?}", moto[0].bbox);

    let labels = dir.path().join("labels.txt");
    std::fs::write(&labels, "person\nbicycle\nmotorcycle\n").unwrap();
    let mut v5 = Detector::load(
        &dir.path().join("yolov5.onnx"),
        &DetectorOptions {
            labels: Some(labels),
            ..opts()
        },
    )
    .expect("yolov5");
    assert_eq!(v5.layout(), LayoutKind::Yolov5);
    let d5 = v5.detect(img.as_raw(), 128, 64, 0.3).unwrap();
    assert_eq!(d5.len(), d.len(), "{d5:?} vs {d:?}");
    for (a, b) in d5.iter().zip(&d) {
        assert_eq!(a.class_id, b.class_id);
        assert!((a.score - b.score).abs() < 1e-6 && iou(&a.bbox, &b.bbox) > 0.999);
    }
    // Without labels or metadata a 3-class model gets placeholder names (not COCO).
    let v5 = Detector::load(&dir.path().join("yolov5.onnx"), &opts()).unwrap();
    assert_eq!(v5.class_names()[2], "class2");

    // The e-bike analytic refuses a model without the configured class…
    let cfg = ElevatorConfig {
        model: dir.path().join("yolov5.onnx").display().to_string(),
        ..Default::default()
    };
    assert!(EbikeAnalytic::new("lift-1", &cfg, dir.path()).is_err());
    // …and takes a site model whose class is named in the config.
    let cfg = ElevatorConfig {
        model: "yolov8.onnx".into(), // relative to base_dir
        ..Default::default()
    };
    let a = EbikeAnalytic::new("lift-1", &cfg, dir.path()).expect("site model");
    assert_eq!(a.detector().layout(), LayoutKind::Yolov8);

    let e = Detector::load(&dir.path().join("weird.onnx"), &opts())
        .err()
        .expect("unknown layout");
    assert!(e.to_string().contains("unknown detector layout"), "{e}");
    // Forcing a layout that does not fit is an error too, not a panic later.
    let e = Detector::load(
        &dir.path().join("weird.onnx"),
        &DetectorOptions {
            layout: Some(LayoutKind::Yolox),
            ..opts()
        },
    )
    .err()
    .expect("forced yolox on a 10x10 output");
    assert!(e.to_string().contains("weird.onnx"), "{e}");
}

// ---------------------------------------------------------------- issue 15: burst, crop, generated clips

#[test]
fn burst_runs_every_slot_after_start_and_after_a_discontinuity() {
    let mut s = Scheduler::with_burst(5.0, 2.0, 5);
    let fps = 25.0;
    let mut runs = Vec::new();
    // 4 s of a still car, then the stream comes back 10 s later (a reconnect), 4 s more.
    for i in (0..100).chain(350..450) {
        let t = i as f64 / fps;
        if s.tick(t) && s.should_run(t, false, false) {
            runs.push(t);
        }
    }
    let first: Vec<f64> = runs.iter().copied().filter(|t| *t < 4.0).collect();
    // Burst: 0, 0.2, 0.4, 0.6, 0.8, then idle every 2 s: 2.8.
    assert_eq!(first.len(), 6, "{first:?}");
    assert!((first[4] - 0.8).abs() < 1e-9, "{first:?}");
    let after: Vec<f64> = runs.iter().copied().filter(|t| *t >= 14.0).collect();
    assert!(after.len() >= 5, "burst after the gap: {after:?}");
    assert!((after[4] - after[0] - 0.8).abs() < 1e-9, "{after:?}");
    // A looped file (time going back) also starts a burst.
    let mut s = Scheduler::with_burst(5.0, 2.0, 3);
    let mut n = 0;
    for t in [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 0.0, 0.2, 0.4, 0.6] {
        if s.tick(t) && s.should_run(t, false, false) {
            n += 1;
        }
    }
    assert_eq!(n, 6, "3 at start, 3 after the loop");
    // Off: the old behaviour.
    let mut s = Scheduler::with_burst(5.0, 2.0, 0);
    let n = (0..50)
        .filter(|&i| {
            let t = i as f64 / fps;
            s.tick(t) && s.should_run(t, false, false)
        })
        .count();
    assert_eq!(n, 1);
}

#[test]
fn zone_roi_grows_upwards_and_tiles_overlap() {
    use vigil::analytics::ebike::analytic::{tiles, zone_roi};
    let zone = vec![[200.0, 300.0], [440.0, 300.0], [639.0, 479.0], [0.0, 479.0]];
    let r = zone_roi(&zone, 640, 480);
    // 179 px tall zone grows 107 px upwards; full width (with the 5 % margin, clamped).
    assert_eq!(r, [0, 193, 640, 480]);
    let [a, b] = tiles(r);
    assert_eq!(a, [0, 193, 384, 480]);
    assert_eq!(b, [256, 193, 640, 480]);
    assert_eq!(zone_roi(&[], 640, 480), [0, 0, 640, 480]);
    let tall = tiles([10, 0, 110, 400]);
    assert_eq!(tall, [[10, 0, 110, 240], [10, 160, 110, 400]]);
}

#[test]
fn detect_region_returns_frame_coordinates() {
    let Some(model) = model("yolox_nano.onnx") else {
        return;
    };
    let mut det = Detector::load(&model, &opts()).unwrap();
    let img = scene(Some((300.0, 250.0)));
    let (full, _) = det
        .detect_timed(img.as_raw(), W, H, 0.05)
        .expect("full frame");
    let bike = |d: &[Detection]| {
        d.iter()
            .find(|d| d.class_id == 1)
            .cloned()
            .unwrap_or_else(|| panic!("no bicycle in {d:?}"))
    };
    let f = bike(&full);
    let (crop, _) = det
        .detect_region(img.as_raw(), W, H, [32, 32, 640, 360], 0.05)
        .expect("crop");
    let c = bike(&crop);
    // The same bicycle, in frame pixels (offset added back, inside the region).
    assert!(iou(&f.bbox, &c.bbox) > 0.7, "{f:?} vs {c:?}");
    assert!(c.bbox[0] >= 60.0 && c.bbox[2] <= 580.0, "{c:?}");
    // Without the offset it would sit 60 px up and left of the full-frame box.
    let shifted = [
        c.bbox[0] - 60.0,
        c.bbox[1] - 60.0,
        c.bbox[2] - 60.0,
        c.bbox[3] - 60.0,
    ];
    assert!(iou(&f.bbox, &shifted) < iou(&f.bbox, &c.bbox));
}

/// Render a generated elevator clip and analyse it through the real pipeline.
fn generated(
    spec: vigil::synth::ElevatorSpec,
    name: &str,
) -> Option<(
    Vec<vigil::events::Event>,
    vigil::synth::truth::ElevatorTruth,
)> {
    model("yolox_nano.onnx")?;
    let dir = tempfile::tempdir().unwrap();
    let out = vigil::synth::render_elevator(&spec, dir.path(), name).expect("render");
    let truth: vigil::synth::truth::ElevatorTruth =
        serde_json::from_str(&std::fs::read_to_string(&out.truth).unwrap()).unwrap();
    let cfg = Config::load(&out.config).expect("clip config");
    let cam = cfg.cameras[0].clone();
    let mut events = Vec::new();
    let mut sink = |e: &vigil::events::Event| events.push(e.clone());
    vigil::pipeline::analyze_file(
        &cfg,
        &cam,
        &out.video,
        &vigil::pipeline::AnalyzeOptions::full(None),
        &mut sink,
    )
    .expect("analyze");
    Some((events, truth))
}

/// A still H.264 clip with the drawn bicycle (banned) standing in the car from frame 0, analysed
/// through the pipeline; the alarm time in stream seconds.
fn still_bike_alarm(burst_runs: usize) -> Option<Vec<vigil::events::Event>> {
    model("yolox_nano.onnx")?;
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("still.mp4");
    let fps = 15.0;
    let mut wr = vigil::synth::encode::VideoWriter::create(&clip, W, H, fps).expect("encoder");
    let img = scene(Some((300.0, 250.0)));
    for _ in 0..90 {
        wr.write_rgb(img.as_raw()).unwrap();
    }
    wr.finish().unwrap();
    let toml = format!(
        r#"
[[camera]]
name = "lift-still"
kind = "elevator"
source = "still.mp4"
[camera.elevator]
ban_bicycles = true
score_threshold = 0.2
burst_runs = {burst_runs}
"#
    );
    let cfg = Config::parse(&toml).unwrap();
    let cam = cfg.cameras[0].clone();
    let mut events = Vec::new();
    let mut sink = |e: &vigil::events::Event| events.push(e.clone());
    vigil::pipeline::analyze_file(
        &cfg,
        &cam,
        &clip,
        &vigil::pipeline::AnalyzeOptions::full(None),
        &mut sink,
    )
    .expect("analyze");
    Some(events)
}

#[test]
fn a_bike_standing_in_a_still_car_at_start_alarms_within_2_s() {
    let Some(events) = still_bike_alarm(5) else {
        return;
    };
    assert_eq!(events.len(), 1, "{events:?}");
    eprintln!(
        "still car, bike from frame 0: alarm at {} s",
        events[0].alarm_s
    );
    // k = 3 burst runs at 5 fps: 0, 0.2, 0.4 s.
    assert!(
        events[0].alarm_s <= 2.0,
        "alarm at {} s of stream time",
        events[0].alarm_s
    );
    // Without the burst the idle schedule (every 2 s) needs 4 s; the 6 s clip ends first
    // or alarms late — either way not within 2 s.
    let late = still_bike_alarm(0).unwrap();
    assert!(
        late.iter().all(|e| e.alarm_s > 2.0),
        "without the burst: {late:?}"
    );
}

/// The generated e-scooter: YOLOX-Nano does not recognise it yet (issue 15, item 4), so these
/// document the targets rather than guard them.
#[test]
#[ignore = "issue 15 item 4: YOLOX-Nano scores the rendered e-scooter below 0.3"]
fn generated_ebike_standing_in_a_still_car_alarms_within_2_s_of_start() {
    let spec = vigil::synth::ElevatorSpec {
        seed: 11,
        duration_s: 4.0,
        people: 0,
        at_start: true,
        ..Default::default()
    };
    let Some((events, truth)) = generated(spec, "idle-start") else {
        return;
    };
    assert_eq!(truth.door_cycles.first().map(|c| c[0] >= 4.0), Some(true));
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(events[0].alarm_s <= 2.0, "alarm at {} s", events[0].alarm_s);
}

#[test]
#[ignore = "issue 15 item 4: YOLOX-Nano scores the rendered e-scooter below 0.3"]
fn generated_ebike_ridden_in_alarms_within_1_s_of_being_inside() {
    let spec = vigil::synth::ElevatorSpec {
        seed: 3,
        duration_s: 9.0,
        people: 0,
        ..Default::default()
    };
    let Some((events, truth)) = generated(spec, "ride-in") else {
        return;
    };
    let inside = truth
        .entries
        .iter()
        .find(|e| e.object == "ebike")
        .and_then(|e| e.inside_s)
        .expect("inside_s");
    assert_eq!(events.len(), 1, "{events:?}");
    let lat = events[0].alarm_s - inside;
    assert!(lat <= 1.0, "alarm {lat:.2} s after the e-bike is inside");
}

#[test]
fn stroller_wheelchair_and_trolley_raise_no_alarm() {
    for (k, neg) in [
        vigil::synth::Negative::Stroller,
        vigil::synth::Negative::Wheelchair,
        vigil::synth::Negative::Trolley,
    ]
    .into_iter()
    .enumerate()
    {
        let spec = vigil::synth::ElevatorSpec {
            seed: 21 + k as u64,
            duration_s: 8.0,
            people: 1,
            ebike: false,
            negative: Some(neg),
            ..Default::default()
        };
        let Some((events, truth)) = generated(spec, neg.as_str()) else {
            return;
        };
        assert!(truth.entries.iter().any(|e| e.object == neg.as_str()));
        assert!(events.is_empty(), "{}: {events:?}", neg.as_str());
    }
}
