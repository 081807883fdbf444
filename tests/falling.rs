//! Falling-object analytic: in-memory rendered scenes (textured facade, sensor noise, real
//! physics), fed frame by frame; plus the trajectory model on unseen trajectories.

use vigil::analytics::falling::background::{rasterize_masks, Background, ForegroundParams};
use vigil::analytics::falling::blobs::Labeller;
use vigil::analytics::falling::config::CalibPoint;
use vigil::analytics::falling::physics::Homography;
use vigil::analytics::falling::{FacadeConfig, FallingAnalytic, FallingError};
use vigil::analytics::Analytic;
use vigil::events::{EventUpdate, Phase};
use vigil::frame::Frame;

const W: u32 = 640;
const H: u32 = 480;
const FPS: f64 = 25.0;
/// px per metre of the test camera (a fronto-parallel view of the facade).
const PPM: f64 = 20.0;
const GROUND_Y: f64 = 460.0;

/// Tiny deterministic PRNG (xorshift) so the scenes are reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn noise(&mut self, amp: f64) -> f64 {
        (self.unit() + self.unit() + self.unit() - 1.5) * amp
    }
}

fn calibrated() -> FacadeConfig {
    let pt = |x: f64, h: f64| CalibPoint {
        px: [100.0 + PPM * x, GROUND_Y - PPM * h],
        m: [x, h],
    };
    FacadeConfig {
        floor_height_m: 3.0,
        calibration: vec![
            pt(0.0, 0.0),
            pt(20.0, 0.0),
            pt(20.0, 21.0),
            pt(0.0, 21.0),
            pt(10.0, 10.0),
        ],
        masks: Vec::new(),
        ..FacadeConfig::default()
    }
}

/// Facade texture: walls with darker windows per 3 m storey.
fn facade() -> Vec<u8> {
    let mut img = vec![0u8; (W * H) as usize];
    for y in 0..H {
        for x in 0..W {
            let hm = (GROUND_Y - y as f64) / PPM;
            let xm = (x as f64 - 100.0) / PPM;
            let win = hm.rem_euclid(3.0) > 1.0
                && hm.rem_euclid(3.0) < 2.4
                && xm.rem_euclid(4.0) > 1.0
                && xm.rem_euclid(4.0) < 3.0;
            let v = if y as f64 > GROUND_Y {
                90.0
            } else if win {
                110.0
            } else {
                170.0 + 10.0 * ((x / 7 + y / 5) % 3) as f64
            };
            img[(y * W + x) as usize] = v as u8;
        }
    }
    img
}

/// Something drawn on a frame at time t: a square of `size` px, luma `luma`, at pixel (x, y).
type Obj = Box<dyn Fn(f64) -> Option<(f64, f64)>>;

struct Scene {
    objects: Vec<(Obj, u32, u8)>,
    dur: f64,
    noise: f64,
    /// Brightness offset over time (light switching on etc.).
    gain: Box<dyn Fn(f64) -> f64>,
}

fn render(scene: &Scene, seed: u64) -> Vec<Frame> {
    let base = facade();
    let mut rng = Rng(seed | 1);
    let n = (scene.dur * FPS) as u64;
    let mut frames = Vec::new();
    for i in 0..n {
        let t = i as f64 / FPS;
        let off = (scene.gain)(t);
        let mut g: Vec<u8> = base
            .iter()
            .map(|&v| (v as f64 + off + rng.noise(scene.noise)).clamp(0.0, 255.0) as u8)
            .collect();
        for (pos, size, luma) in &scene.objects {
            if let Some((cx, cy)) = pos(t) {
                let s = *size as f64;
                let (x0, y0) = ((cx - s / 2.0).round() as i64, (cy - s / 2.0).round() as i64);
                for yy in y0..y0 + *size as i64 {
                    for xx in x0..x0 + *size as i64 {
                        if xx >= 0 && yy >= 0 && (xx as u32) < W && (yy as u32) < H {
                            g[(yy as u32 * W + xx as u32) as usize] = *luma;
                        }
                    }
                }
            }
        }
        frames.push(Frame {
            index: i,
            pts_s: t,
            width: W,
            height: H,
            gray: g,
            rgb: None,
        });
    }
    frames
}

/// A drop from rest at facade (x_m, h0_m), released at `t0`, with mild drag.
fn drop(x_m: f64, h0: f64, t0: f64) -> Obj {
    Box::new(move |t| {
        if t < t0 {
            return None;
        }
        let u = t - t0;
        let h = h0 - 0.5 * 9.0 * u * u;
        if h < 0.0 {
            return None;
        }
        Some((100.0 + PPM * x_m, GROUND_Y - PPM * h))
    })
}

fn run(a: &mut FallingAnalytic, frames: &[Frame]) -> Vec<EventUpdate> {
    let mut out = Vec::new();
    for f in frames {
        out.extend(a.on_frame(f));
    }
    out.extend(a.finish());
    out
}

fn news(ups: &[EventUpdate]) -> Vec<&EventUpdate> {
    ups.iter().filter(|u| u.phase == Phase::New).collect()
}

fn quiet() -> Box<dyn Fn(f64) -> f64> {
    Box::new(|_| 0.0)
}

#[test]
fn calibrated_drop_reports_floor_trajectory_and_picture() {
    // Release from 19.5 m (floor 7 with 3 m storeys), first visible at release.
    let scene = Scene {
        objects: vec![(drop(8.0, 19.5, 2.0), 4, 40)],
        dur: 5.0,
        noise: 6.0,
        gain: quiet(),
    };
    let frames = render(&scene, 7);
    let mut a = FallingAnalytic::new("cam-test", &calibrated()).expect("valid config");
    assert!(a.is_calibrated());
    let ups = run(&mut a, &frames);
    let new = news(&ups);
    assert_eq!(
        new.len(),
        1,
        "exactly one alarm: {:?}",
        ups.iter()
            .map(|u| (u.phase, u.event.id))
            .collect::<Vec<_>>()
    );
    let ev = &new[0].event;
    assert!(
        ev.alarm_s - 2.0 <= 1.0,
        "alarm at {} s, released at 2.0 s",
        ev.alarm_s
    );
    let end: Vec<_> = ups.iter().filter(|u| u.phase == Phase::End).collect();
    assert_eq!(end.len(), 1);
    let e = &end[0].event;
    assert_eq!(e.id, ev.id);
    let o = e.origin.as_ref().expect("origin");
    let floor = o.floor.expect("calibrated camera reports a floor");
    assert!((6..=8).contains(&floor), "floor {floor}");
    let h = o.height_m.expect("height");
    assert!((h - 19.5).abs() < 3.0, "height {h}");
    let fx = o.facade_x_m.expect("facade x");
    assert!((fx - 8.0).abs() < 1.5, "facade x {fx}");
    let traj = e.trajectory.as_ref().expect("trajectory");
    assert!(traj.len() >= 15, "trajectory has {} points", traj.len());
    assert!(traj.windows(2).all(|w| w[1][0] > w[0][0]));
    let pic = end[0]
        .pictures
        .iter()
        .find(|p| p.name == "trajectory.png")
        .expect("picture");
    assert_eq!((pic.image.width(), pic.image.height()), (W, H));
    // The picture is not just the background: trajectory marks are coloured.
    let coloured = pic
        .image
        .pixels()
        .filter(|p| p.0[0] != p.0[1] || p.0[1] != p.0[2])
        .count();
    assert!(coloured > 100, "coloured pixels {coloured}");
    assert!(e.confidence > 0.0 && e.confidence <= 1.0);
}

#[test]
fn uncalibrated_drop_alarms_without_floor() {
    let scene = Scene {
        objects: vec![(drop(5.0, 18.0, 2.0), 4, 40)],
        dur: 5.0,
        noise: 4.0,
        gain: quiet(),
    };
    let frames = render(&scene, 11);
    let mut a = FallingAnalytic::new("cam-u", &FacadeConfig::default()).expect("valid");
    let ups = run(&mut a, &frames);
    let new = news(&ups);
    assert_eq!(new.len(), 1);
    let o = new[0].event.origin.as_ref().expect("origin");
    assert!(o.floor.is_none() && o.height_m.is_none());
    // The pixel origin is near the release point (x = 200 px, y = 460 − 18·20 = 100 px).
    assert!(
        (o.x - 200.0).abs() < 15.0 && (o.y - 100.0).abs() < 60.0,
        "origin {o:?}"
    );
}

#[test]
fn tiny_three_pixel_object_is_found() {
    let scene = Scene {
        objects: vec![(drop(12.0, 21.0, 2.0), 3, 60)],
        dur: 5.0,
        noise: 4.0,
        gain: quiet(),
    };
    let frames = render(&scene, 5);
    let mut a = FallingAnalytic::new("cam", &calibrated()).expect("valid");
    let ups = run(&mut a, &frames);
    assert_eq!(news(&ups).len(), 1);
}

#[test]
fn two_simultaneous_drops_from_different_floors() {
    let scene = Scene {
        objects: vec![
            (drop(3.0, 20.0, 2.0), 5, 30),
            (drop(15.0, 11.0, 2.2), 5, 30),
        ],
        dur: 5.0,
        noise: 4.0,
        gain: quiet(),
    };
    let frames = render(&scene, 3);
    let mut a = FallingAnalytic::new("cam", &calibrated()).expect("valid");
    let ups = run(&mut a, &frames);
    let ends: Vec<_> = ups.iter().filter(|u| u.phase == Phase::End).collect();
    assert_eq!(ends.len(), 2, "two events");
    let mut floors: Vec<i32> = ends
        .iter()
        .filter_map(|u| u.event.origin.as_ref().and_then(|o| o.floor))
        .collect();
    floors.sort();
    assert_eq!(floors.len(), 2);
    assert!(
        (3..=5).contains(&floors[0]) && (6..=8).contains(&floors[1]),
        "floors {floors:?}"
    );
    assert_ne!(ends[0].event.id, ends[1].event.id);
}

#[test]
fn distractors_raise_no_alarm() {
    // A bird crossing with a wavy path, a rain-like streak at constant speed, an insect
    // jittering, and a leaf drifting down slowly with lateral swings.
    let bird: Obj = Box::new(|t| Some((20.0 + 120.0 * t, 150.0 + 15.0 * (t * 6.0).sin())));
    let rain: Obj = Box::new(|t| {
        let u = (t * 1.3).fract();
        Some((400.0, 20.0 + 440.0 * u))
    });
    let insect: Obj = Box::new(|t| {
        Some((
            500.0 + 30.0 * (t * 7.0).sin(),
            300.0 + 25.0 * (t * 5.3).cos(),
        ))
    });
    let leaf: Obj = Box::new(|t| Some((300.0 + 40.0 * (t * 2.0).sin(), 80.0 + 20.0 * t)));
    let scene = Scene {
        objects: vec![
            (bird, 6, 30),
            (rain, 3, 220),
            (insect, 8, 20),
            (leaf, 5, 60),
        ],
        dur: 8.0,
        noise: 5.0,
        gain: quiet(),
    };
    let frames = render(&scene, 9);
    for cfg in [calibrated(), FacadeConfig::default()] {
        let mut a = FallingAnalytic::new("cam", &cfg).expect("valid");
        let ups = run(&mut a, &frames);
        assert!(
            news(&ups).is_empty(),
            "false alarms: {:?}",
            news(&ups).iter().map(|u| &u.event).collect::<Vec<_>>()
        );
    }
}

#[test]
fn light_switch_and_exposure_jump_suppress_rather_than_trigger() {
    let scene = Scene {
        objects: vec![],
        dur: 5.0,
        noise: 4.0,
        gain: Box::new(|t| {
            if t > 2.0 {
                45.0
            } else if t > 1.0 {
                -30.0
            } else {
                0.0
            }
        }),
    };
    let frames = render(&scene, 13);
    let mut a = FallingAnalytic::new("cam", &calibrated()).expect("valid");
    let ups = run(&mut a, &frames);
    assert!(news(&ups).is_empty());
    assert!(
        a.global_frames >= 2,
        "global changes seen: {}",
        a.global_frames
    );
}

#[test]
fn black_frozen_and_noisy_streams_do_not_alarm() {
    let mut a = FallingAnalytic::new("cam", &calibrated()).expect("valid");
    let mut ups = Vec::new();
    let mut rng = Rng(99);
    for i in 0..150u64 {
        let gray = match i {
            0..=49 => vec![0u8; (W * H) as usize],
            50..=99 => vec![128u8; (W * H) as usize],
            _ => (0..W * H).map(|_| (rng.next() & 0xff) as u8).collect(),
        };
        let f = Frame {
            index: i,
            pts_s: i as f64 / FPS,
            width: W,
            height: H,
            gray,
            rgb: None,
        };
        ups.extend(a.on_frame(&f));
    }
    // A frame with a wrong buffer size is ignored, not a panic.
    let bad = Frame {
        index: 150,
        pts_s: 6.0,
        width: W,
        height: H,
        gray: vec![1, 2, 3],
        rgb: None,
    };
    ups.extend(a.on_frame(&bad));
    ups.extend(a.finish());
    assert!(news(&ups).is_empty());
}

#[test]
fn bad_calibration_is_a_clear_error() {
    let mut cfg = calibrated();
    cfg.calibration.truncate(3);
    let e = FallingAnalytic::new("cam", &cfg)
        .err()
        .expect("too few points rejected");
    assert!(e.to_string().contains("at least 4"), "{e}");
    let collinear = FacadeConfig {
        calibration: (0..5)
            .map(|i| CalibPoint {
                px: [100.0 + 10.0 * i as f64, 400.0 - 30.0 * i as f64],
                m: [i as f64, 3.0 * i as f64],
            })
            .collect(),
        ..FacadeConfig::default()
    };
    let e = FallingAnalytic::new("cam", &collinear)
        .err()
        .expect("collinear rejected");
    assert!(matches!(e, FallingError::Calibration { .. }), "{e}");
    assert!(e.to_string().contains("collinear"), "{e}");
}

#[test]
fn homography_recovers_a_perspective_mapping() {
    // A camera below looking up: a projective map with foreshortening.
    let truth = |x: f64, h: f64| {
        let w = 1.0 + 0.02 * h;
        ((320.0 + 25.0 * (x - 5.0)) / w, (470.0 - 30.0 * h) / w)
    };
    let pts: Vec<(f64, f64)> = vec![
        (0.0, 0.0),
        (10.0, 0.0),
        (10.0, 30.0),
        (0.0, 30.0),
        (5.0, 12.0),
        (2.0, 20.0),
    ];
    let img: Vec<[f64; 2]> = pts
        .iter()
        .map(|&(x, h)| {
            let p = truth(x, h);
            [p.0, p.1]
        })
        .collect();
    let world: Vec<[f64; 2]> = pts.iter().map(|&(x, h)| [x, h]).collect();
    let hom = Homography::from_points(&img, &world).expect("solvable");
    let (px, py) = truth(7.0, 25.0);
    let (x, h) = hom.to_world(px, py).expect("maps");
    assert!((x - 7.0).abs() < 1e-6 && (h - 25.0).abs() < 1e-6, "{x} {h}");
    let (bx, by) = hom.to_image(7.0, 25.0).expect("maps back");
    assert!((bx - px).abs() < 1e-6 && (by - py).abs() < 1e-6);
}

#[test]
fn masks_exclude_their_area() {
    // The drop happens inside a masked polygon: no alarm.
    let mut cfg = calibrated();
    cfg.masks = vec![vec![
        [220.0, 0.0],
        [300.0, 0.0],
        [300.0, 480.0],
        [220.0, 480.0],
    ]];
    let scene = Scene {
        objects: vec![(drop(8.0, 19.5, 2.0), 5, 40)],
        dur: 5.0,
        noise: 4.0,
        gain: quiet(),
    };
    let frames = render(&scene, 21);
    let mut a = FallingAnalytic::new("cam", &cfg).expect("valid");
    assert!(news(&run(&mut a, &frames)).is_empty());
    let m = rasterize_masks(W as usize, H as usize, &cfg.masks);
    assert_eq!(m[(100 * W + 260) as usize], 0);
    assert_eq!(m[(100 * W + 100) as usize], 255);
}

#[test]
fn foreground_finds_a_two_pixel_blob_in_noise() {
    let base = facade();
    let mut bg = Background::new(
        W as usize,
        H as usize,
        Vec::new(),
        ForegroundParams::default(),
    );
    let mut fg = Vec::new();
    let mut rng = Rng(1234);
    for _ in 0..30 {
        let g: Vec<u8> = base
            .iter()
            .map(|&v| (v as f64 + rng.noise(4.0)).clamp(0.0, 255.0) as u8)
            .collect();
        bg.apply(&g, &mut fg);
    }
    let mut g: Vec<u8> = base
        .iter()
        .map(|&v| (v as f64 + rng.noise(4.0)).clamp(0.0, 255.0) as u8)
        .collect();
    g[(200 * W + 300) as usize] = 20;
    g[(201 * W + 301) as usize] = 20; // diagonal neighbour: 8-connectivity joins them
    bg.apply(&g, &mut fg);
    let blobs = Labeller::default()
        .label(&fg, W as usize, H as usize, 2, 100, 10_000)
        .expect("not a global change");
    assert_eq!(blobs.len(), 1, "{blobs:?}");
    assert_eq!(blobs[0].area, 2);
    assert!((blobs[0].x - 301.0).abs() < 1.0 && (blobs[0].y - 201.0).abs() < 1.0);
}

fn track(
    f: impl Fn(f64) -> (f64, f64),
    t0: f64,
    t1: f64,
) -> Vec<vigil::analytics::falling::tracker::Obs> {
    let n = ((t1 - t0) * FPS) as usize;
    (0..=n)
        .map(|i| {
            let t = t0 + i as f64 / FPS;
            let (x, y) = f(t);
            vigil::analytics::falling::tracker::Obs { t, x, y, area: 12 }
        })
        .collect()
}

#[test]
fn committed_trajectory_model_separates_unseen_tracks() {
    use vigil::analytics::falling::classifier::{default_model_path, TrajectoryModel};
    let Some(path) = default_model_path() else {
        panic!("models/trajectory.onnx must be committed");
    };
    let mut m = match TrajectoryModel::load(&path) {
        Ok(m) => m,
        Err(e) => {
            // ONNX Runtime missing on this machine: the analytic falls back to physics.
            eprintln!("skipping: {e}");
            return;
        }
    };
    // Hand-made tracks (not from the training simulator): a drop seen by a tilted camera
    // (foreshortened: pixel acceleration shrinks with height), a bird, rain, a hovering insect.
    let fall = track(
        |t| {
            (
                640.0 + 8.0 * t,
                80.0 + 0.5 * 9.8 * 40.0 * t * t / (1.0 + 0.1 * t),
            )
        },
        0.0,
        1.2,
    );
    let bird = track(
        |t| (100.0 + 300.0 * t, 200.0 + 20.0 * (5.0 * t).sin()),
        0.0,
        1.5,
    );
    let rain = track(|t| (300.0 + 20.0 * t, 50.0 + 500.0 * t), 0.0, 0.8);
    let insect = track(
        |t| {
            (
                500.0 + 60.0 * (7.0 * t).sin(),
                300.0 + 50.0 * (4.3 * t).cos(),
            )
        },
        0.0,
        1.5,
    );
    let p = |m: &mut TrajectoryModel, o: &[vigil::analytics::falling::tracker::Obs]| {
        m.p_falling(o, 720.0).expect("runs").expect("long enough")
    };
    let pf = p(&mut m, &fall);
    assert!(pf > 0.6, "falling scored {pf}");
    for (name, o) in [("bird", &bird), ("rain", &rain), ("insect", &insect)] {
        let q = p(&mut m, o);
        assert!(q < 0.35, "{name} scored {q} as falling");
    }
}

#[test]
fn analytic_loads_the_model_or_falls_back() {
    let a = FallingAnalytic::new("cam", &FacadeConfig::default()).expect("valid");
    let b = vigil::analytics::falling::FallingAnalytic::with_params(
        "cam",
        &FacadeConfig::default(),
        Default::default(),
        false,
    )
    .expect("valid");
    assert!(!b.has_model());
    if vigil::infer::find_library().is_ok() {
        assert!(
            a.has_model(),
            "ONNX Runtime is present, so the model must load"
        );
    }
}

// The CLI's eval command (a library module, `vigil::cli`).
use vigil::cli::eval as cli_eval;

#[test]
fn eval_cli_parses_and_a_tiny_suite_runs() {
    use clap::Parser;
    #[derive(clap::Parser)]
    struct Top {
        #[command(subcommand)]
        cmd: Cmd,
    }
    #[derive(clap::Subcommand)]
    enum Cmd {
        Eval(cli_eval::EvalArgs),
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("ev");
    let top = Top::try_parse_from([
        "vigil",
        "eval",
        "falling",
        "--seeds",
        "1",
        "--distractor-minutes",
        "0.05",
        "--duration",
        "4",
        "--width",
        "480",
        "--height",
        "360",
        "--fps",
        "15",
        "--out",
        out.to_str().expect("utf8"),
    ])
    .expect("parses");
    let Cmd::Eval(args) = top.cmd;
    cli_eval::run(args).expect("suite runs");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report written"))
            .expect("json");
    assert_eq!(report["summary"]["clips"], 2);
    assert!(report["summary"]["drops"].as_u64().expect("drops") >= 1);
    // Per-clip truth, config and events stay next to the report.
    for f in [
        "drop000.truth.json",
        "drop000.toml",
        "drop000.events.json",
        "distr000.events.json",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
}

/// The evaluator's real path: a `vigil::synth` clip (H.264, calibrated config) through
/// `pipeline::analyze_file`, scored against the clip's truth file.
#[test]
fn synth_clip_through_the_pipeline_finds_the_drop_and_ignores_distractors() {
    use vigil::eval::falling::run_synth_clip;
    use vigil::synth::{Distractor, DropPlan, FacadeSpec};
    let dir = tempfile::tempdir().expect("tempdir");
    let base = FacadeSpec {
        seed: 11,
        width: 640,
        height: 360,
        duration_s: 6.0,
        floors: Some(16),
        distance_m: Some(25.0),
        ..FacadeSpec::default()
    };
    let drop = FacadeSpec {
        plan: vec![DropPlan {
            floor: Some(9),
            release_s: Some(1.0),
            size_m: Some(0.6),
            terminal_velocity_mps: Some(30.0),
            contrast: Some(-70.0),
        }],
        ..base.clone()
    };
    let r = run_synth_clip("drop", &drop, dir.path(), true).expect("drop clip runs");
    assert_eq!(r.drops.len(), 1, "the drop is visible: {r:?}");
    let d = &r.drops[0];
    assert!(d.detected, "drop not found: {r:?}");
    let f = d.event_floor.expect("calibrated camera reports a floor");
    assert!((f - d.floor).abs() <= 1, "floor {f} vs truth {}", d.floor);
    assert_eq!(r.false_alarms, 0, "{r:?}");
    assert!(dir.path().join("drop.events.json").exists());

    let quiet = FacadeSpec {
        seed: 12,
        drops: 0,
        distractors: vec![Distractor::Birds, Distractor::Leaves, Distractor::Rain],
        ..base
    };
    let r = run_synth_clip("quiet", &quiet, dir.path(), false).expect("distractor clip runs");
    assert!(r.drops.is_empty());
    assert_eq!(
        r.false_alarms, 0,
        "distractors raised alarms at {:?}",
        r.false_alarm_times
    );
    assert!(
        !dir.path().join("quiet.mp4").exists(),
        "scratch clip removed"
    );
}

/// The default evaluation (slow; `cargo test --release --test falling -- --ignored --nocapture`).
#[test]
#[ignore]
fn eval_default_suite() {
    use vigil::eval::falling::{run_suite, summary_text, SuiteOptions};
    let seeds = std::env::var("EVAL_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let opts = SuiteOptions {
        seeds,
        out: Some(std::path::PathBuf::from(
            std::env::var("EVAL_OUT").unwrap_or("/tmp/vigil-eval".into()),
        )),
        ..SuiteOptions::default()
    };
    let (s, _) = run_suite(&opts, &|l| eprintln!("{l}")).expect("runs");
    println!("{}", summary_text(&s));
}

/// Debug one clip of the default suite (rendered in memory, fed to the analytic directly):
/// `CLIP=10 cargo test --release --test falling -- --ignored debug_clip --nocapture`.
#[test]
#[ignore]
fn debug_clip() {
    use vigil::eval::falling::{synth_suite, SuiteOptions};
    use vigil::synth::FacadeScene;
    let _ = tracing_subscriber::fmt()
        .with_env_filter("vigil=debug")
        .with_test_writer()
        .try_init();
    let idx: usize = std::env::var("CLIP")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let seeds: usize = std::env::var("EVAL_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let opts = SuiteOptions {
        seeds,
        ..SuiteOptions::default()
    };
    let spec = synth_suite(&opts).remove(idx).spec;
    let mut scene = FacadeScene::new(&spec).expect("valid spec");
    for d in &scene.truth().drops {
        let tr = &d.trajectory;
        eprintln!(
            "truth {} floor {} size {:.1} visible {:?}..{:?} from {:?} to {:?}",
            d.object,
            d.floor,
            d.size_px,
            d.first_visible_s,
            d.last_visible_s,
            tr.first(),
            tr.last()
        );
    }
    let config = scene
        .camera_config("dbg", "dbg.mp4")
        .facade
        .expect("facade camera");
    let (w, h, fps) = (spec.width, spec.height, spec.fps);
    let mut a = FallingAnalytic::new("dbg", &config).expect("valid");
    let mut bg = Background::new(
        w as usize,
        h as usize,
        Vec::new(),
        ForegroundParams::default(),
    );
    let mut fg = Vec::new();
    let truth = scene.truth().drops.clone();
    for i in 0..scene.frame_count() {
        let f = Frame {
            index: i,
            pts_s: i as f64 / fps,
            width: w,
            height: h,
            gray: scene.frame(i).gray(),
            rgb: None,
        };
        if std::env::var("BLOBS").is_ok() {
            bg.apply(&f.gray, &mut fg);
            let blobs = Labeller::default()
                .label(&fg, w as usize, h as usize, 2, 4000, 40000)
                .unwrap_or_default();
            for d in &truth {
                if let Some(p) = d.trajectory.iter().find(|p| (p[0] - f.pts_s).abs() < 1e-6) {
                    let near: Vec<_> = blobs
                        .iter()
                        .filter(|b| (b.x - p[1]).abs() < 30.0 && (b.y - p[2]).abs() < 40.0)
                        .map(|b| (b.x as i64, b.y as i64, b.area))
                        .collect();
                    let px = f.gray[(p[2] as usize) * w as usize + p[1] as usize];
                    eprintln!(
                        "t={:.2} truth ({:.0},{:.0}) luma {} blobs {:?}",
                        f.pts_s, p[1], p[2], px, near
                    );
                }
            }
        }
        for u in a.on_frame(&f) {
            eprintln!(
                "{:?} {} t={:.2} origin {:?}",
                u.phase, u.event.id, u.event.alarm_s, u.event.origin
            );
        }
    }
    a.finish();
}

/// Real footage (evaluation only; skipped when absent):
/// `cargo test --release --test falling -- --ignored real_footage --nocapture`.
/// Decodes with the ffmpeg CLI to luma and prints the events next to PROVENANCE.md's windows.
#[test]
#[ignore]
fn real_footage() {
    use std::io::Read;
    if std::env::var("DEBUG").is_ok() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("vigil=debug")
            .with_test_writer()
            .try_init();
    }
    let dir = std::path::PathBuf::from(
        std::env::var("VIGIL_REAL_DIR").unwrap_or("../shared/real".into()),
    );
    if !dir.is_dir() {
        eprintln!("skipping: {} not found", dir.display());
        return;
    }
    let mut clips: Vec<std::path::PathBuf> = Vec::new();
    for sub in ["falling", "negatives"] {
        if let Ok(rd) = std::fs::read_dir(dir.join(sub)) {
            for e in rd.flatten() {
                let p = e.path();
                let only = std::env::var("ONLY").unwrap_or_default();
                if matches!(
                    p.extension().and_then(|x| x.to_str()),
                    Some("mp4") | Some("avi")
                ) && p.to_string_lossy().contains(&only)
                {
                    clips.push(p);
                }
            }
        }
    }
    clips.sort();
    for clip in clips {
        let probe = std::process::Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=width,height,avg_frame_rate",
                "-of",
                "csv=p=0",
            ])
            .arg(&clip)
            .output()
            .expect("ffprobe");
        let s = String::from_utf8_lossy(&probe.stdout).to_string();
        let parts: Vec<&str> = s.trim().split(',').collect();
        let (w, h): (u32, u32) = (parts[0].parse().expect("w"), parts[1].parse().expect("h"));
        let fr: Vec<f64> = parts[2]
            .split('/')
            .map(|v| v.parse().unwrap_or(1.0))
            .collect();
        let fps = fr[0] / fr.get(1).copied().unwrap_or(1.0).max(1e-9);
        let mut child = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(&clip)
            .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("ffmpeg");
        let mut out = child.stdout.take().expect("stdout");
        let mut a = FallingAnalytic::new("real", &FacadeConfig::default()).expect("valid");
        let mut ups = Vec::new();
        let mut i = 0u64;
        let t0 = std::time::Instant::now();
        loop {
            let mut buf = vec![0u8; (w * h) as usize];
            if out.read_exact(&mut buf).is_err() {
                break;
            }
            let f = Frame {
                index: i,
                pts_s: i as f64 / fps,
                width: w,
                height: h,
                gray: buf,
                rgb: None,
            };
            ups.extend(a.on_frame(&f));
            i += 1;
        }
        ups.extend(a.finish());
        let _ = child.wait();
        println!(
            "{}: {} frames {}x{} ({:.1} ms/frame analytic+decode), dup frames {}, global {}",
            clip.file_name().and_then(|n| n.to_str()).unwrap_or("?"),
            i,
            w,
            h,
            t0.elapsed().as_secs_f64() * 1000.0 / i.max(1) as f64,
            a.duplicate_frames,
            a.global_frames
        );
        for u in ups.iter().filter(|u| u.phase == Phase::End) {
            let e = &u.event;
            let tr = e.trajectory.as_deref().unwrap_or(&[]);
            let (f, l) = (
                tr.first().copied().unwrap_or_default(),
                tr.last().copied().unwrap_or_default(),
            );
            println!(
                "   event {} {:.2}-{:.2}s alarm {:.2}s conf {:.2} from ({:.0},{:.0}) to ({:.0},{:.0}) n={}",
                e.id, e.start_s, e.end_s, e.alarm_s, e.confidence, f[1], f[2], l[1], l[2], tr.len()
            );
            if std::env::var("TRAJ").is_ok() {
                println!(
                    "      {:?}",
                    tr.iter()
                        .map(|p| (p[0] * 100.0).round() / 100.0)
                        .zip(tr.iter().map(|p| (p[1] as i64, p[2] as i64)))
                        .collect::<Vec<_>>()
                );
            }
            if let (Ok(d), Some(p)) = (std::env::var("REAL_PICS"), u.pictures.first()) {
                let name = format!(
                    "{}/{}-{}.png",
                    d,
                    clip.file_stem().and_then(|n| n.to_str()).unwrap_or("x"),
                    e.id
                );
                let _ = p.image.save(&name);
            }
        }
    }
}

/// Frames of the test facade with a field of rain streaks (near-parallel, thin, 1-2 frames
/// each, all over the picture, brighter than the wall) and optionally one falling object.
fn rain_frames(seed: u64, dur: f64, streaks: usize, object: Option<(Obj, u32, u8)>) -> Vec<Frame> {
    let base = facade();
    let mut rng = Rng(seed | 1);
    let n = (dur * FPS) as u64;
    let mut frames = Vec::new();
    // Streaks of the previous frame, some seen again moved on (x, y, len).
    let mut prev: Vec<(f64, f64, f64)> = Vec::new();
    let slant: f64 = 0.25;
    for i in 0..n {
        let t = i as f64 / FPS;
        let mut g: Vec<u8> = base
            .iter()
            .map(|&v| (v as f64 + rng.noise(4.0)).clamp(0.0, 255.0) as u8)
            .collect();
        let mut now: Vec<(f64, f64, f64)> = (0..streaks)
            .map(|_| {
                (
                    rng.unit() * W as f64,
                    rng.unit() * H as f64,
                    8.0 + 14.0 * rng.unit(),
                )
            })
            .collect();
        for &(x, y, l) in &prev {
            if rng.unit() < 0.4 {
                now.push((x + 30.0 * slant.sin(), y + 30.0 * slant.cos(), l));
            }
        }
        for &(x, y, l) in &now {
            let steps = (l * 2.0) as usize;
            for k in 0..=steps {
                let u = k as f64 / 2.0;
                let (xx, yy) = (
                    (x + u * slant.sin()).round() as i64,
                    (y + u * slant.cos()).round() as i64,
                );
                if xx >= 0 && yy >= 0 && (xx as u32) < W && (yy as u32) < H {
                    let p = &mut g[(yy as u32 * W + xx as u32) as usize];
                    *p = p.saturating_add(45);
                }
            }
        }
        prev = now;
        if let Some((pos, size, luma)) = &object {
            if let Some((cx, cy)) = pos(t) {
                let s = *size as f64;
                let (x0, y0) = ((cx - s / 2.0).round() as i64, (cy - s / 2.0).round() as i64);
                for yy in y0..y0 + *size as i64 {
                    for xx in x0..x0 + *size as i64 {
                        if xx >= 0 && yy >= 0 && (xx as u32) < W && (yy as u32) < H {
                            g[(yy as u32 * W + xx as u32) as usize] = *luma;
                        }
                    }
                }
            }
        }
        frames.push(Frame {
            index: i,
            pts_s: t,
            width: W,
            height: H,
            gray: g,
            rgb: None,
        });
    }
    frames
}

#[test]
fn a_rain_streak_field_raises_no_alarm_and_is_recognised_as_rain() {
    let frames = rain_frames(21, 8.0, 120, None);
    for cfg in [calibrated(), FacadeConfig::default()] {
        let mut a = FallingAnalytic::new("cam", &cfg).expect("valid");
        let mut raining = 0;
        let mut ups = Vec::new();
        for f in &frames {
            ups.extend(a.on_frame(f));
            raining += a.rain_state().raining as usize;
        }
        ups.extend(a.finish());
        assert!(
            news(&ups).is_empty(),
            "false alarms in rain: {:?}",
            news(&ups).iter().map(|u| &u.event).collect::<Vec<_>>()
        );
        assert!(
            raining > frames.len() / 2,
            "rain state on in only {raining} of {} frames",
            frames.len()
        );
        assert!((a.rain_state().angle().abs() - 0.25).abs() < 0.1);
    }
}

#[test]
fn a_faint_object_falling_through_rain_is_still_found() {
    // 5 px, 40 levels darker than the wall (170-190), through the same rain field.
    let frames = rain_frames(22, 6.0, 120, Some((drop(12.0, 21.0, 2.0), 5, 135)));
    let mut a = FallingAnalytic::new("cam", &calibrated()).expect("valid");
    let ups = run(&mut a, &frames);
    let n = news(&ups);
    assert_eq!(
        n.len(),
        1,
        "alarms: {:?}",
        n.iter().map(|u| &u.event).collect::<Vec<_>>()
    );
    let o = n[0].event.origin.as_ref().expect("origin");
    assert!((o.x - (100.0 + PPM * 12.0)).abs() < 15.0, "origin {o:?}");
}
