//! Scoring falling-object events against truth drops: recall by size, false alarms per hour,
//! floor accuracy, alarm latency.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::sim::{suite, Scene, SceneSpec, TruthDrop};
use super::{FallingAnalytic, FallingParams};
use crate::analytics::Analytic;
use crate::events::{Event, EventUpdate, Phase};
use crate::frame::Frame;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{0}")]
    Io(String),
    #[error("ffmpeg: {0}")]
    Ffmpeg(String),
    #[error(transparent)]
    Analytic(#[from] super::FallingError),
}

fn io<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> EvalError + '_ {
    move |e| EvalError::Io(format!("{what}: {e}"))
}

/// What `vigil eval falling` runs.
#[derive(Clone, Debug)]
pub struct SuiteOptions {
    /// Each seed gives one clip with drops and one distractor-only clip.
    pub seeds: usize,
    pub seed: u64,
    pub width: u32,
    pub height: u32,
    /// Pass clips through H.264 (ffmpeg CLI) before analysis.
    pub codec: bool,
    pub use_model: bool,
    pub jobs: usize,
    /// Report, per-clip truth/events and (with `codec`) the clips.
    pub out: Option<PathBuf>,
}

/// Matching tolerances.
#[derive(Clone, Debug, Serialize)]
pub struct MatchParams {
    /// Event and drop visibility intervals must overlap, with this slack (s).
    pub time_slack_s: f64,
    /// Event origin x within this many px of the drop's x along the path.
    pub origin_tol_px: f64,
}

impl Default for MatchParams {
    fn default() -> Self {
        MatchParams {
            time_slack_s: 0.5,
            origin_tol_px: 60.0,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DropResult {
    pub clip: String,
    pub size_px: u32,
    pub floor: i32,
    pub detected: bool,
    pub event_floor: Option<i32>,
    pub latency_s: Option<f64>,
    pub event_id: Option<u64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ClipResult {
    pub clip: String,
    pub duration_s: f64,
    pub distractors: Vec<String>,
    pub night: bool,
    pub drops: Vec<DropResult>,
    pub false_alarms: usize,
    /// Start times of the unmatched events (for looking at them).
    pub false_alarm_times: Vec<f64>,
}

/// Match the completed events of one clip to its truth drops (greedy, earliest alarm first).
pub fn score_clip(
    clip: &str,
    duration_s: f64,
    events: &[Event],
    truth: &[TruthDrop],
    p: &MatchParams,
) -> ClipResult {
    let mut used = vec![false; events.len()];
    let mut drops = Vec::new();
    // Drops that never showed in the picture (fell outside the view) cannot be detected.
    for d in truth.iter().filter(|d| !d.trajectory.is_empty()) {
        let mut best: Option<(usize, f64)> = None;
        for (i, e) in events.iter().enumerate() {
            if used[i] {
                continue;
            }
            let overlap = e.start_s <= d.last_visible_s + p.time_slack_s
                && e.end_s >= d.first_visible_s - p.time_slack_s;
            if !overlap {
                continue;
            }
            // Distance from the event's track to the drop's path, at the event's first point.
            let dist = match (&e.trajectory, d.trajectory.is_empty()) {
                (Some(tr), false) if !tr.is_empty() => {
                    let [t, x, _] = tr[0];
                    let near = d
                        .trajectory
                        .iter()
                        .min_by(|a, b| (a[0] - t).abs().total_cmp(&(b[0] - t).abs()))
                        .map(|q| (q[1] - x).abs())
                        .unwrap_or(f64::MAX);
                    near
                }
                _ => e
                    .origin
                    .as_ref()
                    .map(|o| (o.x - d.release_px[0]).abs())
                    .unwrap_or(f64::MAX),
            };
            if dist <= p.origin_tol_px && best.map_or(true, |(_, bd)| dist < bd) {
                best = Some((i, dist));
            }
        }
        let r = match best {
            Some((i, _)) => {
                used[i] = true;
                let e = &events[i];
                DropResult {
                    clip: clip.to_string(),
                    size_px: d.size_px,
                    floor: d.floor,
                    detected: true,
                    event_floor: e.origin.as_ref().and_then(|o| o.floor),
                    latency_s: Some(e.alarm_s - d.first_visible_s),
                    event_id: Some(e.id),
                }
            }
            None => DropResult {
                clip: clip.to_string(),
                size_px: d.size_px,
                floor: d.floor,
                detected: false,
                event_floor: None,
                latency_s: None,
                event_id: None,
            },
        };
        drops.push(r);
    }
    let fa: Vec<f64> = events
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(e, _)| e.start_s)
        .collect();
    ClipResult {
        clip: clip.to_string(),
        duration_s,
        distractors: Vec::new(),
        night: false,
        drops,
        false_alarms: fa.len(),
        false_alarm_times: fa,
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Summary {
    pub clips: usize,
    pub video_hours: f64,
    pub drops: usize,
    pub recall: f64,
    pub recall_small_3_4px: f64,
    pub drops_small: usize,
    pub recall_large_5px: f64,
    pub drops_large: usize,
    pub false_alarms: usize,
    pub false_alarms_per_hour: f64,
    /// Distractor-only clips alone.
    pub distractor_hours: f64,
    pub distractor_false_alarms: usize,
    pub distractor_false_alarms_per_hour: f64,
    pub floor_exact: f64,
    pub floor_within_1: f64,
    pub latency_p50_s: f64,
    pub latency_p90_s: f64,
    pub latency_max_s: f64,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        f64::NAN
    } else {
        a as f64 / b as f64
    }
}

fn percentile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    v[i.min(v.len() - 1)]
}

pub fn summarise(clips: &[ClipResult]) -> Summary {
    let all: Vec<&DropResult> = clips.iter().flat_map(|c| c.drops.iter()).collect();
    let small: Vec<&&DropResult> = all.iter().filter(|d| d.size_px <= 4).collect();
    let large: Vec<&&DropResult> = all.iter().filter(|d| d.size_px >= 5).collect();
    let det: Vec<&&DropResult> = all.iter().filter(|d| d.detected).collect();
    let with_floor: Vec<(i32, i32)> = det
        .iter()
        .filter_map(|d| d.event_floor.map(|f| (f, d.floor)))
        .collect();
    let mut lat: Vec<f64> = det.iter().filter_map(|d| d.latency_s).collect();
    let hours: f64 = clips.iter().map(|c| c.duration_s).sum::<f64>() / 3600.0;
    let neg: Vec<&ClipResult> = clips.iter().filter(|c| c.drops.is_empty()).collect();
    let neg_hours: f64 = neg.iter().map(|c| c.duration_s).sum::<f64>() / 3600.0;
    let neg_fa: usize = neg.iter().map(|c| c.false_alarms).sum();
    let fa: usize = clips.iter().map(|c| c.false_alarms).sum();
    Summary {
        clips: clips.len(),
        video_hours: hours,
        drops: all.len(),
        recall: ratio(det.len(), all.len()),
        recall_small_3_4px: ratio(small.iter().filter(|d| d.detected).count(), small.len()),
        drops_small: small.len(),
        recall_large_5px: ratio(large.iter().filter(|d| d.detected).count(), large.len()),
        drops_large: large.len(),
        false_alarms: fa,
        false_alarms_per_hour: if hours > 0.0 {
            fa as f64 / hours
        } else {
            f64::NAN
        },
        distractor_hours: neg_hours,
        distractor_false_alarms: neg_fa,
        distractor_false_alarms_per_hour: if neg_hours > 0.0 {
            neg_fa as f64 / neg_hours
        } else {
            f64::NAN
        },
        floor_exact: ratio(
            with_floor.iter().filter(|(a, b)| a == b).count(),
            with_floor.len(),
        ),
        floor_within_1: ratio(
            with_floor
                .iter()
                .filter(|(a, b)| (a - b).abs() <= 1)
                .count(),
            with_floor.len(),
        ),
        latency_p50_s: percentile(&mut lat, 0.5),
        latency_p90_s: percentile(&mut lat, 0.9),
        latency_max_s: percentile(&mut lat, 1.0),
    }
}

fn encode_decode(scene: &mut Scene, dir: &Path, name: &str) -> Result<Vec<Vec<u8>>, EvalError> {
    let (w, h) = (scene.spec.width, scene.spec.height);
    let mp4 = dir.join(format!("{name}.mp4"));
    let mut enc = Command::new("ffmpeg")
        .args([
            "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "gray", "-s",
        ])
        .arg(format!("{w}x{h}"))
        .args([
            "-r",
            &format!("{}", scene.spec.fps),
            "-i",
            "-",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
        ])
        .args(["-crf", "23", "-pix_fmt", "yuv420p"])
        .arg(&mp4)
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| EvalError::Ffmpeg(format!("cannot run ffmpeg: {e}")))?;
    if let Some(stdin) = enc.stdin.as_mut() {
        for i in 0..scene.frames() {
            stdin
                .write_all(&scene.frame(i))
                .map_err(io("writing to ffmpeg"))?;
        }
    }
    drop(enc.stdin.take());
    let st = enc.wait().map_err(io("ffmpeg"))?;
    if !st.success() {
        return Err(EvalError::Ffmpeg(format!(
            "encoding {} failed",
            mp4.display()
        )));
    }
    let mut dec = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&mp4)
        .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| EvalError::Ffmpeg(format!("cannot run ffmpeg: {e}")))?;
    let mut out = Vec::new();
    let n = (w * h) as usize;
    if let Some(stdout) = dec.stdout.as_mut() {
        loop {
            let mut buf = vec![0u8; n];
            match stdout.read_exact(&mut buf) {
                Ok(()) => out.push(buf),
                Err(_) => break,
            }
        }
    }
    let _ = dec.wait();
    Ok(out)
}

/// Render (and optionally encode/decode) one scene, run the analytic, score it.
pub fn run_clip(spec: SceneSpec, idx: usize, opts: &SuiteOptions) -> Result<ClipResult, EvalError> {
    let name = format!("clip{idx:03}");
    let mut scene = Scene::new(spec);
    let mut analytic = FallingAnalytic::with_params(
        &name,
        &scene.config,
        FallingParams::default(),
        opts.use_model,
    )?;
    let fps = scene.spec.fps;
    let (w, h) = (scene.spec.width, scene.spec.height);
    let mut events: Vec<Event> = Vec::new();
    let mut handle = |ups: Vec<EventUpdate>| {
        for u in ups {
            if u.phase == Phase::End {
                events.push(u.event);
            }
        }
    };
    let feed = |i: usize, gray: Vec<u8>, a: &mut FallingAnalytic| {
        let f = Frame {
            index: i as u64,
            pts_s: i as f64 / fps,
            width: w,
            height: h,
            gray,
            rgb: None,
        };
        a.on_frame(&f)
    };
    match (&opts.out, opts.codec) {
        (Some(d), true) => {
            for (i, g) in encode_decode(&mut scene, d, &name)?.into_iter().enumerate() {
                handle(feed(i, g, &mut analytic));
            }
        }
        (None, true) => return Err(EvalError::Io("--codec needs --out".into())),
        _ => {
            for i in 0..scene.frames() {
                let g = scene.frame(i);
                handle(feed(i as usize, g, &mut analytic));
            }
        }
    }
    handle(analytic.finish());
    let mut r = score_clip(
        &name,
        scene.spec.duration_s,
        &events,
        &scene.truth.drops,
        &MatchParams::default(),
    );
    r.night = scene.spec.night;
    r.distractors = scene
        .spec
        .distractors
        .iter()
        .map(|d| format!("{d:?}").to_lowercase())
        .collect();
    if let Some(d) = &opts.out {
        let j = serde_json::json!({ "truth": scene.truth, "config": scene.config, "events": events, "result": r });
        let bytes = serde_json::to_vec_pretty(&j).map_err(io("json"))?;
        std::fs::write(d.join(format!("{name}.json")), bytes).map_err(io("writing clip json"))?;
    }
    Ok(r)
}

/// Run the whole suite on `opts.jobs` threads; `progress` gets one line per clip.
pub fn run_suite(
    opts: &SuiteOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(Summary, Vec<ClipResult>), EvalError> {
    let specs = suite(opts.seed, opts.seeds, opts.width, opts.height);
    if let Some(d) = &opts.out {
        std::fs::create_dir_all(d).map_err(io("creating the output folder"))?;
    }
    let work: Mutex<Vec<(usize, SceneSpec)>> =
        Mutex::new(specs.into_iter().enumerate().rev().collect());
    let results: Mutex<Vec<(usize, ClipResult)>> = Mutex::new(Vec::new());
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|sc| {
        for _ in 0..opts.jobs.max(1) {
            sc.spawn(|| loop {
                let next = work.lock().ok().and_then(|mut w| w.pop());
                let Some((i, spec)) = next else { break };
                match run_clip(spec, i, opts) {
                    Ok(r) => {
                        progress(&format!(
                            "clip{i:03}: drops {}/{} detected, {} false alarm(s){}",
                            r.drops.iter().filter(|d| d.detected).count(),
                            r.drops.len(),
                            r.false_alarms,
                            if r.drops.is_empty() {
                                format!(" [{}]", r.distractors.join("+"))
                            } else {
                                String::new()
                            }
                        ));
                        if let Ok(mut v) = results.lock() {
                            v.push((i, r));
                        }
                    }
                    Err(e) => {
                        if let Ok(mut v) = errors.lock() {
                            v.push(format!("clip{i:03}: {e}"));
                        }
                    }
                }
            });
        }
    });
    let errs = errors.into_inner().unwrap_or_default();
    if !errs.is_empty() {
        return Err(EvalError::Io(errs.join("; ")));
    }
    let mut res = results.into_inner().unwrap_or_default();
    res.sort_by_key(|(i, _)| *i);
    let clips: Vec<ClipResult> = res.into_iter().map(|(_, r)| r).collect();
    let s = summarise(&clips);
    if let Some(d) = &opts.out {
        let report = serde_json::json!({ "summary": s, "clips": clips, "codec": opts.codec, "model": opts.use_model });
        let bytes = serde_json::to_vec_pretty(&report).map_err(io("json"))?;
        std::fs::write(d.join("report.json"), bytes).map_err(io("writing report.json"))?;
    }
    Ok((s, clips))
}

fn fmt(v: f64) -> String {
    if v.is_nan() {
        "n/a".into()
    } else {
        format!("{v:.3}")
    }
}

/// The human-readable summary, with the targets next to the numbers.
pub fn summary_text(s: &Summary) -> String {
    let mut o = String::new();
    o += &format!(
        "falling-object evaluation: {} clips, {:.3} h of video\n",
        s.clips, s.video_hours
    );
    o += &format!(
        "  recall            {}  ({} drops)\n",
        fmt(s.recall),
        s.drops
    );
    o += &format!(
        "    >= 5 px         {}  ({} drops)   target >= 0.97\n",
        fmt(s.recall_large_5px),
        s.drops_large
    );
    o += &format!(
        "    3-4 px          {}  ({} drops)   target >= 0.85\n",
        fmt(s.recall_small_3_4px),
        s.drops_small
    );
    o += &format!(
        "  false alarms      {} in all clips ({:.2}/h); distractor-only: {} in {:.3} h = {:.2}/h   target <= 1/h\n",
        s.false_alarms, s.false_alarms_per_hour, s.distractor_false_alarms, s.distractor_hours, s.distractor_false_alarms_per_hour
    );
    o += &format!(
        "  floor exact       {}   target >= 0.80\n",
        fmt(s.floor_exact)
    );
    o += &format!(
        "  floor +-1         {}   target >= 0.95\n",
        fmt(s.floor_within_1)
    );
    o += &format!(
        "  alarm latency     p50 {} s, p90 {} s, max {} s (alarm - first visible)   target p50 <= 1 s\n",
        fmt(s.latency_p50_s),
        fmt(s.latency_p90_s),
        fmt(s.latency_max_s)
    );
    o
}
