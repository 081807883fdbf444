//! Detector cost: full `detect` (pre + ort inference + decode/NMS) for 1 and 2 intra-op
//! threads, preprocessing alone, and a stage split (pre / inference / post) printed first.
//!
//! `cargo bench --bench detector` (models from `scripts/setup.sh`; skipped when absent).

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, Criterion};
use image::{Rgb, RgbImage};
use ndarray::Array4;
use vigil::analytics::ebike::detector::{Detector, DetectorOptions};
use vigil::analytics::ebike::preprocess::preprocess;

const MODELS: [&str; 2] = ["yolox_nano.onnx", "nanodet_m_416.onnx"];

/// A 640×360 sub-stream-sized frame with some texture.
fn frame() -> RgbImage {
    RgbImage::from_fn(640, 360, |x, y| {
        Rgb([
            (x * 255 / 640) as u8,
            (y * 255 / 360) as u8,
            ((x ^ y) & 0xff) as u8,
        ])
    })
}

fn model(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(name);
    p.is_file().then_some(p)
}

fn load(name: &str, threads: usize) -> Option<Detector> {
    let p = model(name)?;
    match Detector::load(
        &p,
        &DetectorOptions {
            threads,
            nms_iou: 0.45,
            ..Default::default()
        },
    ) {
        Ok(d) => Some(d),
        Err(e) => {
            eprintln!("skip {name}: {e}");
            None
        }
    }
}

/// Mean stage times over 60 runs (after 5 warm-up runs).
fn stage_split() {
    let img = frame();
    for name in MODELS {
        for threads in [1, 2] {
            let Some(mut d) = load(name, threads) else {
                continue;
            };
            for _ in 0..5 {
                let _ = d.detect(img.as_raw(), img.width(), img.height(), 0.3);
            }
            let (mut pre, mut inf, mut post) = (0.0, 0.0, 0.0);
            let mut infs = Vec::new();
            let n = 100;
            for _ in 0..n {
                if let Ok((_, t)) = d.detect_timed(img.as_raw(), img.width(), img.height(), 0.3) {
                    pre += t.pre_ms;
                    inf += t.infer_ms;
                    post += t.post_ms;
                    infs.push(t.infer_ms);
                }
            }
            infs.sort_by(f64::total_cmp);
            let n = n as f64;
            // Median and minimum resist load from other processes better than the mean.
            println!(
                "stage split {name} threads={threads}: pre {:.2} ms, inference {:.2} ms (median {:.2}, min {:.2}), post {:.2} ms; pre+post = {:.1}% of inference",
                pre / n,
                inf / n,
                infs.get(infs.len() / 2).copied().unwrap_or(0.0),
                infs.first().copied().unwrap_or(0.0),
                post / n,
                100.0 * (pre + post) / inf
            );
        }
    }
}

fn benches(c: &mut Criterion) {
    let img = frame();
    for name in MODELS {
        for threads in [1, 2] {
            let Some(mut d) = load(name, threads) else {
                continue;
            };
            c.bench_function(&format!("{name}/detect/threads={threads}"), |b| {
                b.iter(|| black_box(d.detect(img.as_raw(), img.width(), img.height(), 0.3)))
            });
        }
        let Some(d) = load(name, 1) else { continue };
        let spec = d.pre_spec().clone();
        let mut buf = Array4::<f32>::zeros((1, 3, 416, 416));
        c.bench_function(&format!("{name}/preprocess"), |b| {
            b.iter(|| {
                black_box(preprocess(
                    img.as_raw(),
                    img.width(),
                    img.height(),
                    &spec,
                    &mut buf,
                ))
            })
        });
    }
}

criterion_group! {
    name = group;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(4));
    targets = benches
}

fn main() {
    stage_split();
    group();
    Criterion::default().configure_from_args().final_summary();
}
