//! Ingest and evidence clips against real H.264 files made with the ffmpeg CLI at test time.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use vigil::evidence::clip::write_mp4;
use vigil::frame::Frame;
use vigil::ingest::{Counters, IngestError, IngestOptions, LiveOptions, LiveSource, MediaSource};

/// Run the ffmpeg CLI (`-v error -y` + args); panics with its stderr on failure.
fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("the ffmpeg CLI is needed for these tests");
    assert!(
        out.status.success(),
        "ffmpeg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An H.264 MP4 from a lavfi source (`testsrc2=...`, `color=...`).
fn make_clip(dir: &Path, name: &str, lavfi: &str, secs: f64, extra: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let t = secs.to_string();
    let mut args = vec![
        "-f", "lavfi", "-i", lavfi, "-t", &t, "-c:v", "libx264", "-preset", "veryfast", "-g", "25",
        "-pix_fmt", "yuv420p",
    ];
    args.extend_from_slice(extra);
    let p = path.to_string_lossy().to_string();
    args.push(&p);
    ffmpeg(&args);
    path
}

fn testsrc(dir: &Path, name: &str, secs: f64, extra: &[&str]) -> PathBuf {
    make_clip(dir, name, "testsrc2=size=320x240:rate=25", secs, extra)
}

fn open(path: &Path, opts: &IngestOptions) -> (MediaSource, Arc<Counters>) {
    let c = Arc::new(Counters::default());
    let s = MediaSource::open(&path.to_string_lossy(), opts, c.clone()).expect("open");
    (s, c)
}

fn read_all(s: &mut MediaSource) -> Vec<Frame> {
    let mut v = Vec::new();
    while let Some(f) = s.next_frame().expect("next_frame") {
        v.push(f);
    }
    v
}

fn mean(v: &[u8]) -> f64 {
    v.iter().map(|&x| x as f64).sum::<f64>() / v.len().max(1) as f64
}

#[test]
fn frames_counts_and_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let clip = testsrc(dir.path(), "a.mp4", 4.0, &[]);
    let (mut s, c) = open(&clip, &IngestOptions::default());
    let info = s.info().clone();
    assert_eq!((info.width, info.height), (320, 240));
    assert_eq!((info.analysis_width, info.analysis_height), (320, 240));
    assert!((info.fps - 25.0).abs() < 1e-6, "fps {}", info.fps);
    assert_eq!(info.codec, "h264");
    let d = info.duration_s.expect("duration");
    assert!((d - 4.0).abs() < 0.1, "duration {d}");

    let frames = read_all(&mut s);
    assert_eq!(frames.len(), 100);
    assert!(
        frames[0].pts_s.abs() < 1e-6,
        "first pts {}",
        frames[0].pts_s
    );
    for (i, w) in frames.windows(2).enumerate() {
        assert_eq!(w[0].index, i as u64);
        let dt = w[1].pts_s - w[0].pts_s;
        assert!((dt - 0.04).abs() < 1e-3, "frame {i}: spacing {dt}");
    }
    for f in &frames {
        assert_eq!(f.gray.len(), 320 * 240);
        assert!(f.rgb.is_none());
    }
    // The test pattern moves: consecutive frames differ.
    assert_ne!(frames[0].gray, frames[10].gray);
    // Drained: stays at the end.
    assert!(s.next_frame().unwrap().is_none());
    let snap = c.snapshot();
    assert_eq!(snap.frames_decoded, 100);
    assert_eq!(snap.frames_in, 100);
    assert_eq!(snap.decode_errors, 0);
    assert!(snap.online);
    let t = s.times();
    assert!(t.decode > std::time::Duration::ZERO);
}

#[test]
fn grey_and_rgb_values_of_a_solid_colour() {
    let dir = tempfile::tempdir().unwrap();
    // Limited-range BT.601: grey 128 → Y 126; red → Y 81.
    for (colour, y, rgb) in [
        ("0x808080", 126.0, [128.0, 128.0, 128.0]),
        ("0xFF0000", 81.0, [255.0, 0.0, 0.0]),
    ] {
        let clip = make_clip(
            dir.path(),
            &format!("{colour}.mp4"),
            &format!("color=c={colour}:size=320x240:rate=25"),
            0.4,
            &[],
        );
        for size in [None, Some((160u32, 120u32)), Some((400, 300))] {
            let opts = IngestOptions {
                analysis_size: size,
                want_rgb: true,
                ..Default::default()
            };
            let (mut s, _) = open(&clip, &opts);
            let frames = read_all(&mut s);
            assert_eq!(frames.len(), 10);
            let (w, h) = size.unwrap_or((320, 240));
            let f = &frames[5];
            assert_eq!((f.width, f.height), (w, h));
            assert_eq!(f.gray.len(), (w * h) as usize);
            let m = mean(&f.gray);
            assert!(
                (m - y).abs() <= 2.0,
                "{colour} {size:?}: Y mean {m}, want {y}"
            );
            let px = f.gray[(h / 2 * w + w / 2) as usize] as f64;
            assert!((px - y).abs() <= 2.0, "{colour} {size:?}: centre Y {px}");
            let rgbv = f.rgb.as_ref().expect("rgb");
            assert_eq!(rgbv.len(), (w * h * 3) as usize);
            for (ch, want) in rgb.iter().enumerate() {
                let vals: Vec<u8> = rgbv.iter().skip(ch).step_by(3).copied().collect();
                let m = mean(&vals);
                assert!(
                    (m - want).abs() <= 6.0,
                    "{colour} {size:?}: channel {ch} mean {m}"
                );
            }
        }
    }
}

#[test]
fn downscaled_grey_matches_full_size_grey() {
    let dir = tempfile::tempdir().unwrap();
    let clip = testsrc(dir.path(), "a.mp4", 0.4, &[]);
    let (mut full, _) = open(&clip, &IngestOptions::default());
    let half = IngestOptions {
        analysis_size: Some((160, 120)),
        ..Default::default()
    };
    let (mut small, _) = open(&clip, &half);
    assert_eq!(small.info().analysis_width, 160);
    let a = read_all(&mut full);
    let b = read_all(&mut small);
    assert_eq!(a.len(), b.len());
    // Area-average the full frame 2x2 and compare with swscale's output.
    let f = &a[3];
    let g = &b[3];
    let mut err = 0.0;
    for y in 0..120u32 {
        for x in 0..160u32 {
            let s: u32 = [(0, 0), (1, 0), (0, 1), (1, 1)]
                .iter()
                .map(|(dx, dy)| f.luma(2 * x + dx, 2 * y + dy) as u32)
                .sum();
            err += (s as f64 / 4.0 - g.luma(x, y) as f64).abs();
        }
    }
    let mae = err / (160.0 * 120.0);
    assert!(mae < 3.0, "mean abs difference {mae}");
}

#[test]
fn decode_only_leaves_grey_empty() {
    let dir = tempfile::tempdir().unwrap();
    let clip = testsrc(dir.path(), "a.mp4", 0.4, &[]);
    let opts = IngestOptions {
        convert: false,
        want_rgb: true,
        ..Default::default()
    };
    let (mut s, _) = open(&clip, &opts);
    let frames = read_all(&mut s);
    assert_eq!(frames.len(), 10);
    assert!(frames.iter().all(|f| f.gray.is_empty() && f.rgb.is_none()));

    let bad = IngestOptions {
        analysis_size: Some((0, 120)),
        ..Default::default()
    };
    let err = MediaSource::open(&clip.to_string_lossy(), &bad, Arc::new(Counters::default()))
        .err()
        .expect("zero analysis size is refused");
    assert!(err.to_string().contains("analysis size"), "{err}");
}

#[test]
fn truncated_file_ends_cleanly_with_fewer_frames() {
    let dir = tempfile::tempdir().unwrap();
    let clip = testsrc(dir.path(), "a.mp4", 4.0, &["-movflags", "+faststart"]);
    let bytes = std::fs::read(&clip).unwrap();
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() * 6 / 10]).unwrap();
    let (mut s, _) = open(&cut, &IngestOptions::default());
    let frames = read_all(&mut s);
    assert!(
        frames.len() > 20 && frames.len() < 100,
        "{} frames",
        frames.len()
    );
    assert!(frames.windows(2).all(|w| w[1].pts_s > w[0].pts_s));

    // Without faststart the index is at the end: cutting it off makes the file unreadable.
    let plain = testsrc(dir.path(), "b.mp4", 1.0, &[]);
    let bytes = std::fs::read(&plain).unwrap();
    let cut2 = dir.path().join("cut2.mp4");
    std::fs::write(&cut2, &bytes[..bytes.len() / 2]).unwrap();
    let err = MediaSource::open(
        &cut2.to_string_lossy(),
        &IngestOptions::default(),
        Arc::new(Counters::default()),
    )
    .err()
    .expect("a file without its index cannot open");
    let msg = err.to_string();
    assert!(matches!(err, IngestError::Open { .. }), "{msg}");
    assert!(
        msg.contains("cut2.mp4") && msg.contains("truncated"),
        "{msg}"
    );
}

#[test]
fn garbage_missing_and_audio_only_files_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let opts = IngestOptions::default();
    let c = || Arc::new(Counters::default());

    let missing = dir.path().join("nope.mp4");
    let err = MediaSource::open(&missing.to_string_lossy(), &opts, c())
        .err()
        .unwrap();
    assert!(matches!(err, IngestError::Open { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("nope.mp4") && msg.contains("no such file"),
        "{msg}"
    );

    // Deterministic pseudo-random bytes.
    let mut x: u32 = 0x1234_5678;
    let junk: Vec<u8> = (0..100_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect();
    let garbage = dir.path().join("garbage.mp4");
    std::fs::write(&garbage, &junk).unwrap();
    let err = MediaSource::open(&garbage.to_string_lossy(), &opts, c())
        .err()
        .unwrap();
    assert!(
        matches!(err, IngestError::Open { .. } | IngestError::NoVideo { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("garbage.mp4"), "{err}");

    let empty = dir.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    let err = MediaSource::open(&empty.to_string_lossy(), &opts, c())
        .err()
        .unwrap();
    assert!(err.to_string().contains("empty"), "{err}");

    let wav = dir.path().join("tone.wav");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=0.5",
        &wav.to_string_lossy(),
    ]);
    let err = MediaSource::open(&wav.to_string_lossy(), &opts, c())
        .err()
        .unwrap();
    assert!(matches!(err, IngestError::NoVideo { .. }), "{err}");
    assert!(err.to_string().contains("tone.wav"), "{err}");
}

#[test]
fn corrupted_middle_keeps_decoding_and_counts_errors() {
    let dir = tempfile::tempdir().unwrap();
    let clip = testsrc(dir.path(), "a.mp4", 4.0, &["-movflags", "+faststart"]);
    let mut bytes = std::fs::read(&clip).unwrap();
    let n = bytes.len();
    // Scribble over a stretch of the media data in the middle.
    let mut x: u32 = 7;
    for b in &mut bytes[n / 2..n / 2 + 3000] {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        *b = (x >> 16) as u8;
    }
    let bad = dir.path().join("bad.mp4");
    std::fs::write(&bad, &bytes).unwrap();
    let (mut s, c) = open(&bad, &IngestOptions::default());
    let frames = read_all(&mut s);
    assert!(frames.len() >= 90, "{} frames", frames.len());
    assert!(frames.windows(2).all(|w| w[1].pts_s > w[0].pts_s));
    let snap = c.snapshot();
    assert!(snap.decode_errors >= 1, "{snap:?}");
}

/// `ffprobe` one video stream; returns its stdout.
fn ffprobe(args: &[&str], path: &Path) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0"])
        .args(args)
        .arg(path)
        .output()
        .expect("ffprobe");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn ring_cut_remuxes_a_playable_clip_matching_the_frames() {
    let dir = tempfile::tempdir().unwrap();
    let clip = testsrc(dir.path(), "a.mp4", 10.0, &[]);
    let (mut s, _) = open(&clip, &IngestOptions::default());
    let frames = read_all(&mut s);
    assert_eq!(frames.len(), 250);
    let ring = s.ring();
    let (a, b) = ring.span().unwrap();
    assert!(a.abs() < 1e-6 && (b - 9.96).abs() < 1e-3, "span {a}..{b}");

    let cut = ring.cut(4.3, 6.5).expect("cut");
    assert!((cut.start_s - 4.0).abs() < 1e-6, "start {}", cut.start_s);
    assert!(cut.packets[0].is_key());
    assert!(cut.end_s >= 6.5, "end {}", cut.end_s);
    let out = dir.path().join("ev/clip.mp4");
    let info = write_mp4(&out, &cut, None).expect("write clip");
    assert_eq!(info.packets, cut.packets.len());
    assert!(info.bytes > 1000 && info.bytes == std::fs::metadata(&out).unwrap().len());
    assert!(!dir.path().join("ev/clip.mp4.part").exists());

    // Plays without errors.
    let o = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(&out)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Starts at 0 on a keyframe and covers 4.0 ..= 6.5 s (63 frames).
    let probe = ffprobe(
        &[
            "-show_entries",
            "frame=key_frame,pts_time",
            "-of",
            "csv=p=0",
        ],
        &out,
    );
    let rows: Vec<(u32, f64)> = probe
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut it = l.split(',');
            let k = it.next().unwrap().trim().parse().unwrap();
            let t = it.next().unwrap().trim().parse().unwrap();
            (k, t)
        })
        .collect();
    assert_eq!(rows.len(), 63, "{probe}");
    assert_eq!(rows[0].0, 1, "first frame must be a keyframe");
    assert!(rows[0].1.abs() < 1e-3, "first pts {}", rows[0].1);
    let dur = ffprobe(
        &["-show_entries", "format=duration", "-of", "csv=p=0"],
        &out,
    );
    let dur: f64 = dur.trim().parse().unwrap();
    assert!((2.5 - 1e-3..2.7).contains(&dur), "duration {dur}");

    // The clip shows exactly the frames the analytics saw at those times.
    let (mut cs, _) = open(&out, &IngestOptions::default());
    let cf = read_all(&mut cs);
    assert_eq!(cf.len(), 63);
    for (k, f) in cf.iter().enumerate() {
        assert_eq!(f.gray, frames[100 + k].gray, "clip frame {k}");
    }
}

#[test]
fn ring_keeps_about_ring_s_starting_on_a_keyframe() {
    let dir = tempfile::tempdir().unwrap();
    let clip = testsrc(dir.path(), "a.mp4", 10.0, &[]);
    let opts = IngestOptions {
        ring_s: 3.0,
        ..Default::default()
    };
    let (mut s, _) = open(&clip, &opts);
    read_all(&mut s);
    let ring = s.ring();
    assert!(ring.starts_on_key());
    let (a, b) = ring.span().unwrap();
    assert!(b - a >= 3.0 && b - a < 4.0 + 1e-6, "span {a}..{b}");
    // from_s before the ring → oldest keyframe.
    let cut = ring.cut(0.0, 100.0).unwrap();
    assert!((cut.start_s - a).abs() < 1e-9);
    assert_eq!(cut.packets.len(), ring.len());
    assert!(ring.cut(0.0, a - 1.0).is_none());
}

#[test]
fn clip_write_failure_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let clip = testsrc(dir.path(), "a.mp4", 2.0, &[]);
    let (mut s, _) = open(&clip, &IngestOptions::default());
    read_all(&mut s);
    let cut = s.ring().cut(0.0, 1.0).unwrap();
    // The target name is taken by a directory: the rename fails.
    let target = dir.path().join("taken.mp4");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), b"x").unwrap();
    assert!(write_mp4(&target, &cut, None).is_err());
    assert!(!dir.path().join("taken.mp4.part").exists());
    // Parent is a file: cannot even create the directory.
    let blocked = dir.path().join("a.mp4").join("clip.mp4");
    assert!(write_mp4(&blocked, &cut, None).is_err());
}

#[test]
fn live_source_loops_a_file_with_monotonic_time() {
    let dir = tempfile::tempdir().unwrap();
    let clip = testsrc(dir.path(), "a.mp4", 1.0, &[]);
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut live = LiveSource::new(
        &clip.to_string_lossy(),
        IngestOptions::default(),
        LiveOptions {
            stall_timeout_s: 5.0,
            reconnect_max_s: 1.0,
            loop_file: true,
        },
        counters.clone(),
        stop,
    );
    assert!(live.info().is_none(), "connects lazily");
    let mut frames = Vec::new();
    for _ in 0..60 {
        frames.push(live.next_frame().unwrap().expect("looping never ends"));
    }
    for (i, w) in frames.windows(2).enumerate() {
        assert_eq!(w[1].index, w[0].index + 1);
        let dt = w[1].pts_s - w[0].pts_s;
        assert!((dt - 0.04).abs() < 1e-3, "frame {i}: spacing {dt}");
    }
    // Frame 25 is the first of the second pass: same picture as frame 0.
    assert_eq!(frames[25].gray, frames[0].gray);
    assert_eq!(counters.snapshot().reconnects, 0);
    assert!(live.ring().is_some_and(|r| r.starts_on_key()));

    let mut once = LiveSource::new(
        &clip.to_string_lossy(),
        IngestOptions::default(),
        LiveOptions {
            stall_timeout_s: 5.0,
            reconnect_max_s: 1.0,
            loop_file: false,
        },
        Arc::new(Counters::default()),
        Arc::new(AtomicBool::new(false)),
    );
    let mut n = 0;
    while once.next_frame().unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 25);
}

/// Evaluation only: every real video decodes completely (frame count as ffprobe counts it),
/// with monotonic time, and H.264 ones give a playable clip. Skips when the footage is absent.
#[test]
fn real_footage_decodes_fully() {
    let root = std::env::var_os("VIGIL_REAL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/real"));
    let mut videos: Vec<PathBuf> = ["falling", "negatives", "ebike"]
        .iter()
        .filter_map(|d| std::fs::read_dir(root.join(d)).ok())
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == "mp4" || x == "avi" || x == "mkv")
        })
        .collect();
    if videos.is_empty() {
        eprintln!("SKIP real footage: none under {}", root.display());
        return;
    }
    videos.sort();
    let dir = tempfile::tempdir().unwrap();
    for v in &videos {
        let counted: usize = ffprobe(
            &[
                "-count_frames",
                "-show_entries",
                "stream=nb_read_frames",
                "-of",
                "csv=p=0",
            ],
            v,
        )
        .trim()
        .parse()
        .unwrap_or(0);
        let opts = IngestOptions {
            analysis_size: Some((320, 180)),
            ..Default::default()
        };
        let (mut s, c) = open(v, &opts);
        let codec = s.info().codec.clone();
        let frames = read_all(&mut s);
        assert_eq!(frames.len(), counted, "{}: frame count", v.display());
        assert!(frames.windows(2).all(|w| w[1].pts_s > w[0].pts_s));
        assert!(frames.iter().all(|f| f.gray.len() == 320 * 180));
        assert_eq!(c.snapshot().decode_errors, 0, "{}", v.display());
        if codec == "h264" {
            let (a, b) = s.ring().span().unwrap();
            let cut = s.ring().cut(a + (b - a) / 3.0, b).expect("cut");
            // One file per source: evidence writers never overwrite.
            let stem = v
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            let out = dir.path().join(format!("real_clip_{stem}.mp4"));
            let info = write_mp4(&out, &cut, None).expect("clip");
            let o = Command::new("ffmpeg")
                .args(["-nostdin", "-v", "error", "-i"])
                .arg(&info.path)
                .args(["-f", "null", "-"])
                .output()
                .unwrap();
            assert!(
                o.status.success() && o.stderr.is_empty(),
                "{}: {}",
                v.display(),
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}

/// An H.264 clip with B-frames and open GOPs (as `vigil synth` writes them: mid-stream
/// keyframes are recovery-point I-frames followed in decode order by B-frames shown before
/// them, which reference the previous GOP).
fn open_gop_clip(dir: &Path, name: &str, secs: f64) -> PathBuf {
    testsrc(
        dir,
        name,
        secs,
        &["-bf", "3", "-x264-params", "open-gop=1:scenecut=0"],
    )
}

/// (pts, dts, key) of every video packet, in file (decode) order, in stream time-base ticks.
fn probe_packets(path: &Path) -> Vec<(i64, i64, bool)> {
    ffprobe(
        &["-show_entries", "packet=pts,dts,flags", "-of", "csv=p=0"],
        path,
    )
    .lines()
    .filter(|l| !l.trim().is_empty())
    .map(|l| {
        let f: Vec<&str> = l.split(',').map(str::trim).collect();
        let n = |s: &str| {
            s.parse::<i64>()
                .unwrap_or_else(|_| panic!("packet row {l}"))
        };
        (n(f[0]), n(f[1]), f[2].starts_with('K'))
    })
    .collect()
}

/// (key_frame, pts_time) of every decoded frame.
fn probe_frames(path: &Path) -> Vec<(bool, f64)> {
    ffprobe(
        &[
            "-show_entries",
            "frame=key_frame,pts_time",
            "-of",
            "csv=p=0",
        ],
        path,
    )
    .lines()
    .filter(|l| !l.trim().is_empty())
    .map(|l| {
        let mut it = l.split(',').map(str::trim);
        let k = it.next().unwrap() == "1";
        let t = it.next().unwrap().parse().unwrap();
        (k, t)
    })
    .collect()
}

/// `ffmpeg -v error -i clip -f null -` prints nothing.
fn assert_decodes_cleanly(path: &Path) {
    let o = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// What a browser needs of a clip: starts with a keyframe at pts 0, nothing shown before it,
/// dts strictly increasing and never after pts, frames in increasing pts order.
fn assert_browser_friendly(path: &Path) {
    let pk = probe_packets(path);
    assert!(!pk.is_empty());
    let (p0, _, k0) = pk[0];
    assert!(k0, "first packet must be a keyframe: {pk:?}");
    assert_eq!(p0, 0, "first pts must be 0: {pk:?}");
    for (i, &(p, d, _)) in pk.iter().enumerate() {
        assert!(
            p >= p0,
            "packet {i} shown before the first keyframe: {pk:?}"
        );
        assert!(d <= p, "packet {i}: dts {d} > pts {p}");
        if i > 0 {
            assert!(d > pk[i - 1].1, "packet {i}: dts not increasing: {pk:?}");
        }
    }
    let fr = probe_frames(path);
    assert!(fr[0].0, "first frame must be a keyframe");
    assert!(fr[0].1.abs() < 1e-6, "first frame pts {}", fr[0].1);
    assert!(
        fr.windows(2).all(|w| w[1].1 > w[0].1),
        "frame times not increasing: {fr:?}"
    );
    assert_decodes_cleanly(path);
    assert_starts_at_idr(path);
}

/// The clip's first picture is an IDR, so decoders need nothing from before it. Starting at an
/// open-GOP keyframe (non-IDR I), ffmpeg invents the pictures its frame_num skips ("Frame num
/// gap") and conceals that without an error, but Chromium stalls at t=0 with readyState 1.
fn assert_starts_at_idr(path: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-v", "debug", "-threads", "1", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    let log = String::from_utf8_lossy(&out.stderr);
    let first_slice = log
        .lines()
        .find(|l| l.contains("nal_unit_type: 1(") || l.contains("nal_unit_type: 5("))
        .unwrap_or_default();
    assert!(
        first_slice.contains("nal_unit_type: 5("),
        "{}: first slice is not IDR: {first_slice}",
        path.display()
    );
    assert!(
        !log.contains("Frame num gap"),
        "{}: decoder had to invent missing reference pictures",
        path.display()
    );
}

#[test]
fn cut_near_an_open_gop_keyframe_starts_at_the_idr() {
    let dir = tempfile::tempdir().unwrap();
    let src = open_gop_clip(dir.path(), "bf.mp4", 8.0);
    // Precondition: the source really has leading pictures after a mid-stream keyframe.
    let tb = ffprobe(
        &["-show_entries", "stream=time_base", "-of", "csv=p=0"],
        &src,
    );
    let (num, den) = tb.trim().split_once('/').expect("time base");
    let tb = num.parse::<f64>().unwrap() / den.parse::<f64>().unwrap();
    let pk = probe_packets(&src);
    let keys: Vec<usize> = (0..pk.len()).filter(|&i| pk[i].2).collect();
    let leading = |k: usize| {
        pk[k + 1..]
            .iter()
            .take_while(|p| !p.2)
            .any(|p| p.0 < pk[k].0)
    };
    let k = *keys
        .iter()
        .find(|&&k| k > 0 && leading(k) && pk[k].0 as f64 * tb <= 5.0)
        .expect("an open-GOP keyframe with leading B-frames in the first 5 s");
    let key_t = pk[k].0 as f64 * tb - pk[0].0 as f64 * tb;
    let key_frame = (key_t * 25.0).round() as usize;

    let (mut s, _) = open(&src, &IngestOptions::default());
    let frames = read_all(&mut s);
    assert_eq!(frames.len(), 200);
    // Nearer to the open-GOP keyframe than to the file's only IDR (at 0), the clip still
    // starts at the IDR: Chromium cannot start decoding at the open-GOP keyframe.
    let cut = s.ring().cut(key_t + 0.3, key_t + 2.5).expect("cut");
    assert!(
        cut.start_s.abs() < 1e-6,
        "start {} vs IDR at 0",
        cut.start_s
    );
    assert!(cut.packets[0].is_key());
    let out = dir.path().join("clip.mp4");
    write_mp4(&out, &cut, None).expect("write clip");
    assert_browser_friendly(&out);

    // It shows exactly the analysed frames from the IDR on, through key_t + 2.5 s.
    let (mut cs, c) = open(&out, &IngestOptions::default());
    let cf = read_all(&mut cs);
    let need = key_frame + 63;
    assert!(cf.len() >= need, "{} frames, want {need}", cf.len());
    assert_eq!(c.snapshot().decode_errors, 0);
    for (i, f) in cf.iter().take(need).enumerate() {
        assert_eq!(f.gray, frames[i].gray, "clip frame {i}");
    }

    // The same from every keyframe, the first and the last included.
    for &k in &keys {
        let from = pk[k].0 as f64 * tb - pk[0].0 as f64 * tb;
        let cut = s.ring().cut(from, from + 0.9).unwrap();
        assert!(
            cut.start_s.abs() < 1e-6,
            "from {from}: start {}",
            cut.start_s
        );
        let out = dir.path().join(format!("clip-{k}.mp4"));
        write_mp4(&out, &cut, None).unwrap();
        assert_browser_friendly(&out);
    }
}

#[test]
fn ring_survives_the_loop_of_a_file_source() {
    let dir = tempfile::tempdir().unwrap();
    let src = open_gop_clip(dir.path(), "loop.mp4", 3.0);
    let mut live = LiveSource::new(
        &src.to_string_lossy(),
        IngestOptions::default(),
        LiveOptions {
            stall_timeout_s: 5.0,
            reconnect_max_s: 1.0,
            loop_file: true,
        },
        Arc::new(Counters::default()),
        Arc::new(AtomicBool::new(false)),
    );
    // One and a half passes: 0 .. 4.48 s.
    let frames: Vec<Frame> = (0..113)
        .map(|_| live.next_frame().unwrap().expect("frame"))
        .collect();
    assert!((frames[75].pts_s - 3.0).abs() < 1e-6);
    let ring = live.ring().expect("ring");
    let (a, b) = ring.span().unwrap();
    assert!(
        a.abs() < 1e-6,
        "the first pass is still in the ring: {a}..{b}"
    );
    // Packets run a little ahead of the frames (decoder delay).
    assert!((4.48..5.0).contains(&b), "span {a}..{b}");

    // An event at 2.6 .. 3.3 s with 0.5 s pre-roll / 0.6 s post-roll: the pre-roll reaches
    // back over the loop point to the open-GOP keyframe at 2.0 s, which Chromium cannot start
    // at; the loop's IDR (3.0 s) is nearer than pass 1's (0 s), so the clip starts there.
    let cut = ring.cut(2.1, 3.9).expect("cut");
    assert!((cut.start_s - 3.0).abs() < 1e-6, "start {}", cut.start_s);
    assert!(cut.end_s >= 3.9, "end {}", cut.end_s);
    let out = dir.path().join("loop-clip.mp4");
    write_mp4(&out, &cut, None).expect("write clip");
    assert_browser_friendly(&out);

    // Spanning the loop point from pass 1's IDR: pass 1, then pass 2, frame for frame.
    let cut = ring.cut(0.5, 3.9).expect("cut");
    assert!(cut.start_s.abs() < 1e-6, "start {}", cut.start_s);
    let out = dir.path().join("span-clip.mp4");
    write_mp4(&out, &cut, None).expect("write clip");
    assert_browser_friendly(&out);
    let dur: f64 = ffprobe(
        &["-show_entries", "format=duration", "-of", "csv=p=0"],
        &out,
    )
    .trim()
    .parse()
    .unwrap();
    assert!(dur >= 3.9, "duration {dur}");
    let (mut cs, c) = open(&out, &IngestOptions::default());
    let cf = read_all(&mut cs);
    assert!(cf.len() >= 97, "{} frames", cf.len());
    assert_eq!(c.snapshot().decode_errors, 0);
    for (k, f) in cf.iter().take(97).enumerate() {
        assert_eq!(f.gray, frames[k].gray, "clip frame {k}");
    }
    assert_eq!(cf[75].gray, frames[0].gray, "pass 2 starts over");

    // A clip wholly inside pass 2 is unaffected.
    let cut = ring.cut(3.5, 4.2).unwrap();
    assert!((cut.start_s - 3.0).abs() < 1e-6, "start {}", cut.start_s);
    let out = dir.path().join("pass2.mp4");
    write_mp4(&out, &cut, None).unwrap();
    assert_browser_friendly(&out);
}

/// Stall detection on simulated time: a source with no frame for longer than its stall
/// timeout fails with `Stalled` (a live source then reconnects); one within it keeps going.
/// The clock is simulated, so no real second passes.
#[test]
fn stall_detected_on_simulated_time() {
    use std::time::Duration;
    use vigil::clock::ManualClock;
    let dir = tempfile::tempdir().unwrap();
    let clip = testsrc(dir.path(), "a.mp4", 1.0, &[]);

    let clock = Arc::new(ManualClock::new());
    let (mut s, _) = open(&clip, &IngestOptions::default());
    s.set_clock(clock.clone());
    s.set_stall_timeout(Some(1.0));
    clock.advance(Duration::from_millis(500));
    assert!(s.next_frame().unwrap().is_some(), "within the timeout");
    // Quiet for 2 s after that frame: stalled, with the quiet time in the error.
    clock.advance(Duration::from_secs(2));
    let mut res = s.next_frame();
    // Frames already decoded are still handed out; the stall shows once input is needed.
    for _ in 0..10 {
        if !matches!(res, Ok(Some(_))) {
            break;
        }
        clock.advance(Duration::from_secs(2));
        res = s.next_frame();
    }
    match res {
        Err(IngestError::Stalled { seconds, .. }) => assert!(seconds >= 2.0, "{seconds}"),
        other => panic!(
            "expected a stall, got {:?}",
            other.map(|f| f.map(|f| f.index))
        ),
    }
}
