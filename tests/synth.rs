//! The scene generator: determinism, the encoded MP4, truth against the pixels, the config,
//! the physics.

use std::path::Path;
use std::process::Command;

use vigil::synth::truth::{DropEnd, ElevatorTruth, FacadeTruth};
use vigil::synth::{
    render_elevator, render_facade, Distractor, DropPlan, ElevatorSpec, FacadeScene, FacadeSpec,
    Look, ObjectKind,
};

// The CLI's synth command (a library module, `vigil::cli`).
use vigil::cli::synth as cli_synth;

fn small(seed: u64) -> FacadeSpec {
    FacadeSpec {
        seed,
        width: 640,
        height: 360,
        fps: 25.0,
        duration_s: 4.0,
        drops: 2,
        min_size_px: 4.0,
        max_size_px: 12.0,
        ..Default::default()
    }
}

fn luma_of(rgb: &[u8]) -> Vec<f32> {
    rgb.chunks_exact(3)
        .map(|p| 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32)
        .collect()
}

fn ffprobe(path: &Path) -> serde_json::Value {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
        ])
        .args([
            "stream=codec_name,width,height,r_frame_rate,nb_read_frames,pix_fmt",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("run ffprobe");
    assert!(
        out.status.success(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["streams"][0].clone()
}

/// All frames' luma (full Y plane) of an MP4, via the ffmpeg CLI.
fn decode_gray(path: &Path, w: usize, h: usize) -> Vec<Vec<u8>> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.chunks_exact(w * h).map(|c| c.to_vec()).collect()
}

#[test]
fn same_seed_same_frames_and_truth() {
    let spec = FacadeSpec {
        distractors: Distractor::ALL.to_vec(),
        ..small(7)
    };
    let mut a = FacadeScene::new(&spec).unwrap();
    let mut b = FacadeScene::new(&spec).unwrap();
    assert_eq!(a.truth(), b.truth());
    for i in [0, 37, 99] {
        assert_eq!(a.frame(i).rgb, b.frame(i).rgb, "frame {i}");
    }
    // Frames are a function of the index: rendering out of order changes nothing.
    let f37 = a.frame(37).rgb;
    assert_eq!(f37, b.frame(37).rgb);
    let mut c = FacadeScene::new(&small(8)).unwrap();
    assert_ne!(c.frame(0).rgb, a.frame(0).rgb);
    assert_ne!(c.truth().drops, a.truth().drops);
}

#[test]
fn drop_is_drawn_where_the_truth_says() {
    // Same seed with and without the drop: everything else (background, noise) is identical,
    // so the difference image is exactly the object.
    let base = FacadeSpec {
        drops: 0,
        distractors: vec![Distractor::Noise],
        distance_m: Some(25.0),
        ..small(21)
    };
    let with = FacadeSpec {
        plan: vec![DropPlan {
            release_s: Some(0.5),
            size_m: Some(0.25),
            contrast: Some(60.0),
            ..Default::default()
        }],
        ..base.clone()
    };
    let mut s0 = FacadeScene::new(&base).unwrap();
    let mut s1 = FacadeScene::new(&with).unwrap();
    let d = s1.truth().drops[0].clone();
    assert!(
        d.trajectory.len() >= 5,
        "drop visible in only {} frames",
        d.trajectory.len()
    );
    let w = base.width as usize;
    let mut checked = 0;
    for &[t, x, y] in d.trajectory.iter().step_by(3) {
        let i = (t * base.fps).round() as u64;
        let a = luma_of(&s0.frame(i).rgb);
        let b = luma_of(&s1.frame(i).rgb);
        let (cx, cy, sw) = diff_centroid(&a, &b, w);
        assert!(sw > 20.0, "frame {i}: object not drawn (diff mass {sw})");
        assert!(
            (cx as f64 - x).abs() < 2.0 && (cy as f64 - y).abs() < 2.0,
            "frame {i}: drawn at ({cx:.1},{cy:.1}), truth ({x:.1},{y:.1})"
        );
        checked += 1;
    }
    assert!(checked >= 2);
    // Before the release nothing differs.
    assert_eq!(s0.frame(0).rgb, s1.frame(0).rgb);
}

#[test]
fn mp4_decodes_with_right_size_rate_and_count_and_shows_the_drop() {
    let dir = tempfile::tempdir().unwrap();
    let spec = FacadeSpec {
        plan: vec![DropPlan {
            release_s: Some(0.4),
            size_m: Some(0.35),
            contrast: Some(-90.0),
            terminal_velocity_mps: Some(35.0),
            ..Default::default()
        }],
        distance_m: Some(22.0),
        ..small(5)
    };
    let out = render_facade(&spec, dir.path(), "clip").unwrap();
    let p = ffprobe(&out.video);
    assert_eq!(p["codec_name"], "h264");
    assert_eq!(p["pix_fmt"], "yuv420p");
    assert_eq!(p["width"], 640);
    assert_eq!(p["height"], 360);
    assert_eq!(p["r_frame_rate"], "25/1");
    assert_eq!(p["nb_read_frames"], "100");

    let frames = decode_gray(&out.video, 640, 360);
    assert_eq!(frames.len(), 100);
    let mut scene = FacadeScene::new(&spec).unwrap();
    // Decoded luma matches the in-memory frame up to compression error.
    let mem = scene.frame(60).gray();
    let mad: f64 = mem
        .iter()
        .zip(&frames[60])
        .map(|(a, b)| (*a as f64 - *b as f64).abs())
        .sum::<f64>()
        / mem.len() as f64;
    let bias: f64 = mem
        .iter()
        .zip(&frames[60])
        .map(|(a, b)| *a as f64 - *b as f64)
        .sum::<f64>()
        / mem.len() as f64;
    // CRF 23 smooths fine texture and noise; a range or matrix mismatch would show as a bias.
    assert!(mad < 6.0, "mean abs diff decoded vs rendered {mad}");
    assert!(bias.abs() < 1.5, "decoded luma bias {bias}");
    // At the truth position the decoded frame departs from the clean background in the sign of
    // the object's contrast (dark objects on bright walls flip to light when the wall is dark).
    let bg = luma_of(&scene.background_rgb());
    let truth: FacadeTruth = serde_json::from_slice(&std::fs::read(&out.truth).unwrap()).unwrap();
    let d = &truth.drops[0];
    let mut hits = 0;
    for &[t, x, y] in &d.trajectory {
        let i = (t * 25.0).round() as usize;
        let (xi, yi) = (x.round() as i64, y.round() as i64);
        let mut best = 0.0f32;
        for dy in -1..=1 {
            for dx in -1..=1 {
                let (xx, yy) = (
                    (xi + dx).clamp(0, 639) as usize,
                    (yi + dy).clamp(0, 359) as usize,
                );
                let dec = frames[i][yy * 640 + xx] as f32;
                // Background luma in the decoder's limited range.
                let b = 16.0 + bg[yy * 640 + xx] * 219.0 / 255.0;
                best = best.max((dec - b) * d.contrast.signum() as f32);
            }
        }
        if best > 12.0 {
            hits += 1;
        }
    }
    assert!(
        hits * 10 >= d.trajectory.len() * 8,
        "object visible at its truth position in only {hits}/{} decoded frames",
        d.trajectory.len()
    );
}

#[test]
fn generated_config_loads_and_calibration_matches_the_camera() {
    let dir = tempfile::tempdir().unwrap();
    let spec = FacadeSpec {
        duration_s: 0.4,
        ..small(11)
    };
    let out = render_facade(&spec, dir.path(), "cam-11").unwrap();
    let cfg = vigil::config::Config::load(&out.config).unwrap();
    let cam = cfg.camera(None).unwrap();
    assert_eq!(cam.name, "cam-11");
    assert_eq!(cam.kind, vigil::config::CameraKind::Facade);
    assert!(cfg.resolve(&cam.source).exists());
    let f = cam.facade.as_ref().expect("facade section");
    assert!(
        f.calibration.len() >= 6,
        "{} calibration points",
        f.calibration.len()
    );
    let truth: FacadeTruth = serde_json::from_slice(&std::fs::read(&out.truth).unwrap()).unwrap();
    assert!((f.floor_height_m - truth.floor_height_m).abs() < 1e-3);
    let c = &truth.camera;
    let model = vigil::synth::camera::Camera::new(
        truth.width,
        truth.height,
        c.position_m,
        c.pitch_deg,
        c.yaw_deg,
        c.roll_deg,
        c.hfov_deg,
    );
    for p in &f.calibration {
        let (x, y, _) = model.project([p.m[0], p.m[1], 0.0]).unwrap();
        assert!(
            (x - p.px[0]).abs() < 0.05 && (y - p.px[1]).abs() < 0.05,
            "{p:?} -> ({x},{y})"
        );
    }
    // Perspective: of two points at the same x, the higher one is nearer the top of the image.
    let (_, y_lo, _) = model.project([0.0, 10.0, 0.0]).unwrap();
    let (_, y_hi, _) = model.project([0.0, 40.0, 0.0]).unwrap();
    assert!(y_hi < y_lo);
}

#[test]
fn physics_free_fall_then_drag_limited() {
    let spec = FacadeSpec {
        duration_s: 8.0,
        plan: vec![
            DropPlan {
                release_s: Some(0.5),
                terminal_velocity_mps: Some(35.0),
                size_m: Some(0.2),
                ..Default::default()
            },
            DropPlan {
                release_s: Some(0.5),
                terminal_velocity_mps: Some(4.0),
                size_m: Some(0.3),
                floor: Some(12),
                ..Default::default()
            },
        ],
        floors: Some(20),
        ..small(3)
    };
    let scene = FacadeScene::new(&spec).unwrap();
    let dense = &scene.truth().drops[0];
    let [_, h0, _] = dense.release_m;
    let vy0 = dense.release_velocity_mps[1];
    let mut checked = 0;
    for &[t, _, h, _] in &dense.trajectory_m {
        let dt = t - dense.release_s;
        if (0.2..=0.5).contains(&dt) {
            let expected = 0.5 * 9.81 * dt * dt - vy0 * dt;
            let fell = h0 - h;
            assert!(
                (fell - expected).abs() <= 0.1 * expected.abs().max(0.2),
                "t+{dt:.2}: fell {fell:.3} m, free fall {expected:.3} m"
            );
            checked += 1;
        }
    }
    assert!(checked >= 3, "only {checked} frames checked");
    // The light object settles near its terminal velocity.
    let light = &scene.truth().drops[1];
    let tm = &light.trajectory_m;
    assert!(tm.len() > 60, "light drop visible for {} frames", tm.len());
    let (a, b) = (tm[tm.len() - 26], tm[tm.len() - 1]);
    let v = (a[2] - b[2]) / (b[0] - a[0]);
    assert!(v > 2.5 && v < 5.5, "light object sinks at {v:.2} m/s");
    assert!(light.lands_s - light.release_s > 5.0);
}

#[test]
fn every_distractor_and_night_render() {
    let spec = FacadeSpec {
        night: true,
        duration_s: 2.0,
        distractors: Distractor::ALL.to_vec(),
        ..small(13)
    };
    let mut s = FacadeScene::new(&spec).unwrap();
    let kinds: std::collections::BTreeSet<String> = s
        .truth()
        .distractors
        .iter()
        .map(|d| d.kind.clone())
        .collect();
    for k in [
        "birds", "rain", "insects", "jitter", "exposure", "noise", "clouds",
    ] {
        assert!(kinds.contains(k), "{k} missing from truth: {kinds:?}");
    }
    let day = FacadeScene::new(&FacadeSpec {
        night: false,
        ..spec.clone()
    })
    .unwrap()
    .frame(10)
    .gray();
    let night = s.frame(10).gray();
    let mean = |v: &[u8]| v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
    assert!(
        mean(&night) < mean(&day) - 40.0,
        "night {} day {}",
        mean(&night),
        mean(&day)
    );
    assert!(
        Distractor::parse_list("birds, rain").unwrap() == vec![Distractor::Birds, Distractor::Rain]
    );
    assert_eq!(
        Distractor::parse_list("mixed").unwrap().len(),
        Distractor::ALL.len()
    );
    assert!(Distractor::parse_list("birds,ufo").is_err());
}

#[test]
fn bad_specs_are_refused() {
    for spec in [
        FacadeSpec {
            width: 641,
            ..small(1)
        },
        FacadeSpec {
            fps: 0.0,
            ..small(1)
        },
        FacadeSpec {
            min_size_px: 10.0,
            max_size_px: 5.0,
            ..small(1)
        },
        FacadeSpec {
            plan: vec![DropPlan {
                floor: Some(1),
                ..Default::default()
            }],
            ..small(1)
        },
    ] {
        assert!(FacadeScene::new(&spec).is_err(), "{spec:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    assert!(render_facade(&small(1), dir.path(), "../evil").is_err());
}

#[test]
fn elevator_clip_with_ebike() {
    let dir = tempfile::tempdir().unwrap();
    let spec = ElevatorSpec {
        width: 320,
        height: 240,
        duration_s: 6.0,
        people: 1,
        ebike: true,
        ..Default::default()
    };
    let out = render_elevator(&spec, dir.path(), "lift").unwrap();
    let p = ffprobe(&out.video);
    assert_eq!(p["width"], 320);
    assert_eq!(p["nb_read_frames"], "90");
    let truth: ElevatorTruth = serde_json::from_slice(&std::fs::read(&out.truth).unwrap()).unwrap();
    assert_eq!(
        truth.entries.iter().filter(|e| e.object == "ebike").count(),
        1
    );
    assert_eq!(
        truth
            .entries
            .iter()
            .filter(|e| e.object == "person")
            .count(),
        1
    );
    let cfg = vigil::config::Config::load(&out.config).unwrap();
    let cam = cfg.camera(None).unwrap();
    assert_eq!(cam.kind, vigil::config::CameraKind::Elevator);
    assert!(cam.elevator.as_ref().unwrap().zone.len() >= 3);
    // The e-bike changes the car's floor area once it is in.
    let mut scene = vigil::synth::ElevatorScene::new(&spec).unwrap();
    let e = truth.entries.iter().find(|e| e.object == "ebike").unwrap();
    let before = scene.frame(0).gray();
    let after = scene.frame(((e.enter_s + 2.5) * spec.fps) as u64).gray();
    let changed = before
        .iter()
        .zip(&after)
        .filter(|(a, b)| (**a as i32 - **b as i32).abs() > 30)
        .count();
    assert!(changed > 2000, "only {changed} pixels changed");
}

#[test]
fn cli_writes_the_three_files() {
    use clap::Parser;
    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: cli_synth::SynthArgs,
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let t = T::try_parse_from([
        "vigil",
        "facade",
        "--seed",
        "4",
        "--out",
        d,
        "--width",
        "320",
        "--height",
        "180",
        "--duration",
        "1",
        "--distractors",
        "mixed",
        "--drops",
        "2",
    ])
    .unwrap();
    cli_synth::run(t.a).unwrap();
    for ext in ["mp4", "truth.json", "toml"] {
        assert!(dir.path().join(format!("facade-4.{ext}")).exists(), "{ext}");
    }
    let t = T::try_parse_from(["vigil", "facade", "--out", d, "--distractors", "ufo"]).unwrap();
    assert!(cli_synth::run(t.a).is_err());
}

#[test]
fn object_kind_and_apparent_size_are_independent() {
    // The same kinds at a small and a large wanted size: the zoom / release point follow the
    // size, the physics follow the kind.
    for (kind, dense) in [
        (ObjectKind::Can, true),
        (ObjectKind::Brick, true),
        (ObjectKind::Paper, false),
        (ObjectKind::Bag, false),
    ] {
        for (lo, hi) in [(3.0, 4.9), (10.0, 30.0)] {
            let mut ok = 0;
            for seed in 0..4 {
                let spec = FacadeSpec {
                    drops: 1,
                    objects: vec![kind],
                    fit_zoom: true,
                    min_size_px: lo,
                    max_size_px: hi,
                    ..small(100 + seed)
                };
                let s = FacadeScene::new(&spec).unwrap();
                let d = &s.truth().drops[0];
                assert_eq!(d.object, kind.name());
                assert_eq!(d.class, if dense { "dense" } else { "light" });
                if dense {
                    assert!(d.terminal_velocity_mps > 15.0, "{d:?}");
                } else {
                    assert!(d.terminal_velocity_mps < 7.0, "{d:?}");
                }
                if d.size_px >= lo * 0.7 && d.size_px <= hi * 1.3 {
                    ok += 1;
                }
            }
            assert!(
                ok >= 3,
                "{}: sizes off target {lo}..{hi} in {} of 4 clips",
                kind.name(),
                4 - ok
            );
        }
    }
}

/// A varied look: barrel distortion, vibration, haze, vignetting and exposure wander, with
/// the truth and the calibration still on the pixels.
#[test]
fn lens_distortion_and_vibration_keep_truth_and_calibration_on_the_pixels() {
    let look = Look {
        barrel_k: 0.05,
        vibration_px: 1.5,
        haze: 0.2,
        vignette: 0.4,
        ae_drift: 0.05,
        crf: 34,
        preset: "superfast".into(),
        ..Look::default()
    };
    let base = FacadeSpec {
        drops: 0,
        distance_m: Some(25.0),
        look,
        ..small(21)
    };
    let with = FacadeSpec {
        plan: vec![DropPlan {
            release_s: Some(0.5),
            size_m: Some(0.25),
            contrast: Some(60.0),
            ..Default::default()
        }],
        ..base.clone()
    };
    let mut s0 = FacadeScene::new(&base).unwrap();
    let mut s1 = FacadeScene::new(&with).unwrap();
    let d = s1.truth().drops[0].clone();
    assert!(d.trajectory.len() >= 5);
    let w = base.width as usize;
    for &[t, x, y] in d.trajectory.iter().step_by(3) {
        let i = (t * base.fps).round() as u64;
        let a = luma_of(&s0.frame(i).rgb);
        let b = luma_of(&s1.frame(i).rgb);
        let (cx, cy, sw) = diff_centroid(&a, &b, w);
        assert!(sw > 10.0, "frame {i}: object not drawn");
        assert!(
            (cx as f64 - x).abs() < 2.0 && (cy as f64 - y).abs() < 2.0,
            "frame {i}: drawn at ({cx:.1},{cy:.1}), truth ({x:.1},{y:.1})"
        );
    }
    // Calibration points: facade metres through the camera and the lens land on their pixels.
    let lens = vigil::synth::lens::Lens::new(base.width, base.height, 0.05);
    let cal = s0.calibration();
    assert!(cal.len() >= 6);
    for p in &cal {
        let (u, v, _) = s0.camera().project([p.m[0], p.m[1], 0.0]).unwrap();
        let (x, y) = lens.distort(u, v);
        assert!(
            (x - p.px[0]).abs() < 0.05 && (y - p.px[1]).abs() < 0.05,
            "{p:?} -> ({x},{y})"
        );
    }
    // The distortion bends straight facade lines: how far a homography fitted to the
    // calibration is off (documented in EVAL.md; mild by design).
    let img: Vec<[f64; 2]> = cal.iter().map(|p| p.px).collect();
    let world: Vec<[f64; 2]> = cal.iter().map(|p| p.m).collect();
    let hmg = vigil::analytics::falling::physics::Homography::from_points(&img, &world)
        .expect("homography fits");
    let worst = cal
        .iter()
        .filter_map(|p| {
            let (fx, fy) = hmg.to_world(p.px[0], p.px[1])?;
            Some(((fx - p.m[0]).powi(2) + (fy - p.m[1]).powi(2)).sqrt())
        })
        .fold(0.0f64, f64::max);
    eprintln!("homography residual at k = 0.05: {worst:.3} m");
    assert!(worst < 1.5, "homography error {worst:.2} m at k = 0.05");
    // Renders, encodes at CRF 34 and decodes.
    let dir = tempfile::tempdir().unwrap();
    let out = render_facade(
        &FacadeSpec {
            duration_s: 1.0,
            ..with
        },
        dir.path(),
        "looked",
    )
    .unwrap();
    assert_eq!(decode_gray(&out.video, 640, 360).len(), 25);
    let truth: FacadeTruth = serde_json::from_slice(&std::fs::read(&out.truth).unwrap()).unwrap();
    assert_eq!(truth.look.crf, 34);
}

#[test]
fn birds_land_and_flock_in_some_scenes() {
    let mut details = std::collections::BTreeSet::new();
    for seed in 0..12 {
        let s = FacadeScene::new(&FacadeSpec {
            drops: 0,
            distractors: vec![Distractor::Birds],
            duration_s: 1.0,
            ..small(300 + seed)
        })
        .unwrap();
        for d in &s.truth().distractors {
            details.insert(d.detail.split(' ').next().unwrap_or("").to_string());
        }
    }
    for m in ["land", "flock", "dive"] {
        assert!(
            details.contains(m),
            "no '{m}' bird in 12 scenes: {details:?}"
        );
    }
}

/// Dump PNGs of a few frames for eyeballing: `VIGIL_SYNTH_DUMP=/tmp/dir cargo test --test synth dump -- --ignored`.
#[test]
#[ignore]
fn dump() {
    let dir = std::env::var("VIGIL_SYNTH_DUMP").unwrap_or_else(|_| "/tmp/synthdump".into());
    std::fs::create_dir_all(&dir).unwrap();
    for (k, (night, d)) in [
        (false, vec![]),
        (false, Distractor::ALL.to_vec()),
        (true, vec![Distractor::Lights, Distractor::Rain]),
    ]
    .into_iter()
    .enumerate()
    {
        let spec = FacadeSpec {
            seed: 10 + k as u64,
            night,
            distractors: d,
            drops: 3,
            ..Default::default()
        };
        let t = std::time::Instant::now();
        let mut scene = FacadeScene::new(&spec).unwrap();
        eprintln!("scene {k}: setup {:.2} s", t.elapsed().as_secs_f64());
        let tr = scene.truth().clone();
        std::fs::write(format!("{dir}/s{k}.json"), serde_json::to_vec(&tr).unwrap()).unwrap();
        let _ = DropEnd::Landed;
        let t = std::time::Instant::now();
        for i in (0..scene.frame_count()).step_by(25) {
            let f = scene.frame(i);
            image::RgbImage::from_raw(f.width, f.height, f.rgb)
                .unwrap()
                .save(format!("{dir}/s{k}_{i:03}.png"))
                .unwrap();
        }
        eprintln!("scene {k}: 12 frames {:.2} s", t.elapsed().as_secs_f64());
        for d in &tr.drops {
            eprintln!(
                "drop {} {} floor {} size {:.2} m {:.1} px vt {:.0} contrast {:.0} vis {:?}..{:?} {:?}",
                d.id, d.object, d.floor, d.size_m, d.size_px, d.terminal_velocity_mps, d.contrast,
                d.first_visible_s, d.last_visible_s, d.end
            );
        }
    }
}

/// Timing of a full-size clip: `cargo test --release --test synth full_size_timing -- --ignored --nocapture`.
#[test]
#[ignore]
fn full_size_timing() {
    let dir = tempfile::tempdir().unwrap();
    for (name, d) in [("plain", vec![]), ("mixed", Distractor::ALL.to_vec())] {
        let spec = FacadeSpec {
            seed: 2,
            drops: 2,
            distractors: d,
            ..Default::default()
        };
        let t = std::time::Instant::now();
        let out = render_facade(&spec, dir.path(), name).unwrap();
        eprintln!(
            "{name}: 1280x720 25 fps 12 s rendered+encoded in {:.1} s ({} bytes)",
            t.elapsed().as_secs_f64(),
            std::fs::metadata(&out.video).unwrap().len()
        );
    }
}

#[test]
#[ignore]
fn dump_elevator() {
    let dir = std::env::var("VIGIL_SYNTH_DUMP").unwrap_or_else(|_| "/tmp/synthdump".into());
    std::fs::create_dir_all(&dir).unwrap();
    let spec = ElevatorSpec {
        people: 2,
        ..Default::default()
    };
    let mut s = vigil::synth::ElevatorScene::new(&spec).unwrap();
    eprintln!("{:?}", s.truth());
    for i in [0u64, 45, 75, 110, 170] {
        let f = s.frame(i);
        image::RgbImage::from_raw(f.width, f.height, f.rgb)
            .unwrap()
            .save(format!("{dir}/e_{i:03}.png"))
            .unwrap();
    }
}

/// Centroid `(x, y)` and mass of the luma difference between two renders of one frame (pixels
/// that differ by more than one level), i.e. where the object was drawn.
fn diff_centroid(a: &[f32], b: &[f32], w: usize) -> (f32, f32, f32) {
    let (mut sx, mut sy, mut sw) = (0.0, 0.0, 0.0);
    for (k, (p, q)) in a.iter().zip(b).enumerate() {
        let dlt = (p - q).abs();
        if dlt > 1.0 {
            sx += (k % w) as f32 * dlt;
            sy += (k / w) as f32 * dlt;
            sw += dlt;
        }
    }
    (sx / sw.max(1e-6), sy / sw.max(1e-6), sw)
}

/// The rain kinds of the harder generator: deterministic, and denser rain changes more of the
/// picture than drizzle (streaks, near-lens smears); a share of the streaks shows on two frames.
#[test]
fn rain_kinds_render_deterministically_and_differ_in_density() {
    use vigil::synth::RainKind;
    let spec = |kind: RainKind| FacadeSpec {
        distractors: vec![Distractor::Rain],
        rain_kind: Some(kind),
        drops: 0,
        duration_s: 1.0,
        night: kind == RainKind::NightLights,
        ..small(31)
    };
    let changed = |kind: RainKind| {
        let mut a = FacadeScene::new(&spec(kind)).expect("scene");
        let mut b = FacadeScene::new(&spec(kind)).expect("scene");
        let (f4, f5) = (a.frame(4), a.frame(5));
        assert_eq!(f5.rgb, b.frame(5).rgb, "{kind:?} is not deterministic");
        let (l4, l5) = (luma_of(&f4.rgb), luma_of(&f5.rgb));
        l4.iter()
            .zip(&l5)
            .filter(|(p, q)| (*p - *q).abs() > 12.0)
            .count()
    };
    let drizzle = changed(RainKind::Drizzle);
    let heavy = changed(RainKind::Heavy);
    assert!(heavy > 2 * drizzle, "heavy {heavy} vs drizzle {drizzle}");
    assert!(changed(RainKind::Wind) > 0 && changed(RainKind::NightLights) > 0);
    assert!(RainKind::parse("night_lights").is_ok() && RainKind::parse("snow").is_err());
}
