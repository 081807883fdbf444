//! Decode throughput of a generated 1280x720 H.264 clip: decode only, and decode + grey.
//!
//! `cargo bench --bench decode`; each iteration reads the whole clip (50 frames).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vigil::ingest::{Counters, IngestOptions, MediaSource};

const FRAMES: u64 = 50;

fn make_clip(path: &Path) {
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=1280x720:rate=25")
        .args([
            "-frames:v",
            &FRAMES.to_string(),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
        ])
        .args(["-g", "25", "-pix_fmt", "yuv420p"])
        .arg(path)
        .status()
        .expect("the ffmpeg CLI is needed to generate the bench clip");
    assert!(status.success(), "ffmpeg failed");
}

fn read_all(path: &str, opts: &IngestOptions) -> u64 {
    let mut s = MediaSource::open(path, opts, Arc::new(Counters::default())).expect("open");
    let mut n = 0;
    while let Some(f) = s.next_frame().expect("frame") {
        n += 1;
        criterion::black_box(&f);
    }
    n
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let clip = dir.path().join("720p.mp4");
    make_clip(&clip);
    let path = clip.to_string_lossy().to_string();
    let mut g = c.benchmark_group("decode_720p");
    g.sample_size(10);
    g.throughput(Throughput::Elements(FRAMES));
    let cases = [
        (
            "decode_only",
            IngestOptions {
                convert: false,
                ..Default::default()
            },
        ),
        ("decode_grey", IngestOptions::default()),
        (
            "decode_grey_640x360",
            IngestOptions {
                analysis_size: Some((640, 360)),
                ..Default::default()
            },
        ),
        (
            "decode_grey_rgb",
            IngestOptions {
                want_rgb: true,
                ..Default::default()
            },
        ),
    ];
    for (name, opts) in cases {
        g.bench_function(name, |b| {
            b.iter(|| assert_eq!(read_all(&path, &opts), FRAMES))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
