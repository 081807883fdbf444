//! Falling-object analytic speed at 1280×720 on one core, and OpenCV MOG2 for comparison.
//!
//! `cargo bench --bench falling`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
#[cfg(feature = "opencv")]
use opencv::core::{Mat, Scalar, CV_8UC1};
#[cfg(feature = "opencv")]
use opencv::prelude::*;

use vigil::analytics::falling::background::{Background, ForegroundParams};
use vigil::analytics::falling::blobs::Labeller;
use vigil::analytics::falling::{FacadeConfig, FallingAnalytic};
use vigil::analytics::Analytic;
use vigil::frame::Frame;
use vigil::synth::{Distractor, DropPlan, FacadeScene, FacadeSpec};

const W: u32 = 1280;
const H: u32 = 720;

fn frames(n: u64) -> Vec<Frame> {
    let mut scene = FacadeScene::new(&FacadeSpec {
        seed: 42,
        width: W,
        height: H,
        fps: 25.0,
        duration_s: n as f64 / 25.0,
        floors: Some(20),
        plan: vec![DropPlan {
            floor: Some(15),
            release_s: Some(1.0),
            ..Default::default()
        }],
        min_size_px: 5.0,
        max_size_px: 5.0,
        distractors: vec![Distractor::Birds, Distractor::Leaves],
        ..FacadeSpec::default()
    })
    .expect("valid scene");
    (0..n).map(|i| scene.frame(i).to_frame(false)).collect()
}

fn bench(c: &mut Criterion) {
    let fr = frames(60);
    let mut g = c.benchmark_group("falling_1280x720");
    g.sample_size(20);

    g.bench_function("foreground", |b| {
        let mut bg = Background::new(
            W as usize,
            H as usize,
            Vec::new(),
            ForegroundParams::default(),
        );
        let mut fg = Vec::new();
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % fr.len();
            black_box(bg.apply(&fr[i].gray, &mut fg));
        })
    });

    // Every pixel every frame (the model before quiet-pixel skipping), for comparison.
    g.bench_function("foreground_full", |b| {
        let mut bg = Background::new(
            W as usize,
            H as usize,
            Vec::new(),
            ForegroundParams::default(),
        );
        bg.set_skip_quiet(false);
        let mut fg = Vec::new();
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % fr.len();
            black_box(bg.apply(&fr[i].gray, &mut fg));
        })
    });

    // What a calibrated camera runs: repeat check, model, shift test and faint pass.
    g.bench_function("foreground+faint", |b| {
        let mut bg = Background::new(
            W as usize,
            H as usize,
            Vec::new(),
            ForegroundParams::default(),
        );
        let mut fg = Vec::new();
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % fr.len();
            let g = &fr[i].gray;
            black_box(bg.changed_pixels(g, 12));
            bg.apply(g, &mut fg);
            black_box(bg.suppress_shifted(g, &mut fg, 2));
            black_box(bg.add_faint(g, &mut fg, 2));
        })
    });

    g.bench_function("foreground+components", |b| {
        let mut bg = Background::new(
            W as usize,
            H as usize,
            Vec::new(),
            ForegroundParams::default(),
        );
        let mut fg = Vec::new();
        let mut lab = Labeller::default();
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % fr.len();
            bg.apply(&fr[i].gray, &mut fg);
            black_box(lab.label(&fg, W as usize, H as usize, 1, 4000, 40_000));
        })
    });

    g.bench_function("analytic_on_frame", |b| {
        // Physics only, so the number is the pixel pipeline plus tracking.
        let mut a = FallingAnalytic::with_params(
            "bench",
            &FacadeConfig::default(),
            Default::default(),
            false,
        )
        .expect("valid config");
        let mut i = 0u64;
        b.iter(|| {
            // Keep time moving forward so the tracker sees a continuous stream.
            let k = (i % fr.len() as u64) as usize;
            let mut f = fr[k].clone();
            f.pts_s = i as f64 / 25.0;
            f.index = i;
            i += 1;
            black_box(a.on_frame(&f));
        })
    });

    // OpenCV baseline: `--features opencv` (see Cargo.toml).
    #[cfg(feature = "opencv")]
    g.bench_function("opencv_mog2", |b| {
        let mut mog =
            opencv::video::create_background_subtractor_mog2(500, 16.0, false).expect("mog2");
        let mats: Vec<Mat> = fr
            .iter()
            .map(|f| {
                let mut m =
                    Mat::new_rows_cols_with_default(H as i32, W as i32, CV_8UC1, Scalar::all(0.0))
                        .expect("mat");
                m.data_bytes_mut().expect("bytes").copy_from_slice(&f.gray);
                m
            })
            .collect();
        let mut out = Mat::default();
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % mats.len();
            BackgroundSubtractorMOG2Trait::apply(&mut mog, &mats[i], &mut out, -1.0)
                .expect("apply");
            black_box(&out);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
