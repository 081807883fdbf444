//! Scoring falling-object events against truth drops: recall by size, false alarms per hour,
//! floor accuracy, alarm latency.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::sim::{suite, Scene, SceneSpec};
use super::{FallingAnalytic, FallingParams};
use crate::analytics::Analytic;
use crate::config::Config;
use crate::events::{Event, EventUpdate, Phase};
use crate::frame::Frame;
use crate::pipeline::{analyze_file, AnalyzeOptions};
use crate::synth::truth::FacadeTruth;
use crate::synth::{render_facade, Distractor, FacadeSpec};

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{0}")]
    Io(String),
    #[error("ffmpeg: {0}")]
    Ffmpeg(String),
    #[error(transparent)]
    Analytic(#[from] super::FallingError),
    #[error(transparent)]
    Synth(#[from] crate::synth::SynthError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Pipeline(#[from] crate::pipeline::PipelineError),
}

/// Which scene renderer a suite uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Renderer {
    /// `vigil::synth` facade scenes, encoded to H.264 and run through the real pipeline.
    #[default]
    Synth,
    /// The analytic's own simple renderer (frames fed to the analytic directly).
    Sim,
}

/// A truth drop as the matcher needs it, from either renderer.
#[derive(Clone, Debug)]
pub struct TruthRef {
    pub floor: i32,
    pub size_px: f64,
    pub first_visible_s: f64,
    pub last_visible_s: f64,
    pub release_px: [f64; 2],
    /// `[t, x, y]` per frame while visible (empty: never visible).
    pub trajectory: Vec<[f64; 3]>,
}

impl From<&super::sim::TruthDrop> for TruthRef {
    fn from(d: &super::sim::TruthDrop) -> Self {
        TruthRef {
            floor: d.floor,
            size_px: d.size_px as f64,
            first_visible_s: d.first_visible_s,
            last_visible_s: d.last_visible_s,
            release_px: d.release_px,
            trajectory: d.trajectory.clone(),
        }
    }
}

impl From<&crate::synth::truth::DropTruth> for TruthRef {
    fn from(d: &crate::synth::truth::DropTruth) -> Self {
        TruthRef {
            floor: d.floor as i32,
            size_px: d.size_px,
            first_visible_s: d.first_visible_s.unwrap_or(f64::NAN),
            last_visible_s: d.last_visible_s.unwrap_or(f64::NAN),
            release_px: d.release_px,
            trajectory: if d.first_visible_s.is_some() {
                d.trajectory.clone()
            } else {
                Vec::new()
            },
        }
    }
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
    pub renderer: Renderer,
    /// Clip length (synth renderer).
    pub duration_s: f64,
    /// Report, per-clip truth/events and (with `codec`) the clips.
    pub out: Option<PathBuf>,
}

/// Matching tolerances.
#[derive(Clone, Debug, Serialize)]
pub struct MatchParams {
    /// Event and drop visibility intervals must overlap, with this slack (s).
    pub time_slack_s: f64,
    /// Median distance (px) between the event's track and the drop's path at the same times
    /// (or, without a usable track, between the event origin and the release point).
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
    pub size_px: f64,
    pub floor: i32,
    #[serde(default)]
    pub night: bool,
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

/// Distance between an event and a truth drop: the median, over the event's track samples that
/// fall within the drop's visible interval, of the image distance to the drop's centre at the
/// nearest truth time; without such samples, event origin to release point.
fn track_distance(e: &Event, d: &TruthRef) -> f64 {
    let mut ds: Vec<f64> = Vec::new();
    if let Some(tr) = &e.trajectory {
        for &[t, x, y] in tr {
            let near = d
                .trajectory
                .iter()
                .min_by(|a, b| (a[0] - t).abs().total_cmp(&(b[0] - t).abs()));
            if let Some(q) = near {
                // Only compare at (nearly) the same instant: one frame at 10 fps or better.
                if (q[0] - t).abs() <= 0.1 {
                    ds.push(((q[1] - x).powi(2) + (q[2] - y).powi(2)).sqrt());
                }
            }
        }
    }
    if !ds.is_empty() {
        ds.sort_by(|a, b| a.total_cmp(b));
        return ds[ds.len() / 2];
    }
    e.origin
        .as_ref()
        .map(|o| ((o.x - d.release_px[0]).powi(2) + (o.y - d.release_px[1]).powi(2)).sqrt())
        .unwrap_or(f64::MAX)
}

/// Match the completed events of one clip to its truth drops (greedy, nearest track first).
pub fn score_clip(
    clip: &str,
    duration_s: f64,
    events: &[Event],
    truth: &[TruthRef],
    p: &MatchParams,
) -> ClipResult {
    let mut used = vec![false; events.len()];
    let mut drops = Vec::new();
    // Drops that never showed in the picture (fell outside the view) cannot be detected.
    let visible: Vec<&TruthRef> = truth.iter().filter(|d| !d.trajectory.is_empty()).collect();
    // All admissible (drop, event) pairs, assigned nearest first, so that a drop does not take
    // the event of a neighbour that happens to be listed later.
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (di, d) in visible.iter().enumerate() {
        for (i, e) in events.iter().enumerate() {
            let overlap = e.start_s <= d.last_visible_s + p.time_slack_s
                && e.end_s >= d.first_visible_s - p.time_slack_s;
            if !overlap {
                continue;
            }
            let dist = track_distance(e, d);
            if dist <= p.origin_tol_px {
                pairs.push((dist, di, i));
            }
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut assigned: Vec<Option<usize>> = vec![None; visible.len()];
    for (_, di, i) in pairs {
        if assigned[di].is_none() && !used[i] {
            assigned[di] = Some(i);
            used[i] = true;
        }
    }
    for (di, d) in visible.iter().enumerate() {
        let best = assigned[di];
        let r = match best {
            Some(i) => {
                let e = &events[i];
                DropResult {
                    clip: clip.to_string(),
                    size_px: d.size_px,
                    floor: d.floor,
                    night: false,
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
                night: false,
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
    let small: Vec<&&DropResult> = all.iter().filter(|d| d.size_px < 5.0).collect();
    let large: Vec<&&DropResult> = all.iter().filter(|d| d.size_px >= 5.0).collect();
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
        &scene
            .truth
            .drops
            .iter()
            .map(TruthRef::from)
            .collect::<Vec<_>>(),
        &MatchParams::default(),
    );
    r.night = scene.spec.night;
    for d in &mut r.drops {
        d.night = r.night;
    }
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

/// Specs of a synth suite: `n` clips with two drops each (even: 3-4.9 px objects, odd:
/// 5-24 px; every 4th at night; some with clouds/noise or birds on top), then `n`
/// distractor-only clips, two distractor kinds each, cycling through all ten, alternating day
/// and night.
pub fn synth_suite(
    seed: u64,
    n: usize,
    width: u32,
    height: u32,
    duration_s: f64,
) -> Vec<(String, FacadeSpec)> {
    let base = FacadeSpec {
        width,
        height,
        duration_s,
        ..FacadeSpec::default()
    };
    let mut out = Vec::new();
    for i in 0..n {
        let (min, max) = if i % 2 == 0 { (3.0, 4.9) } else { (5.0, 24.0) };
        let distractors = match i % 4 {
            1 => vec![Distractor::Clouds, Distractor::Noise],
            2 => vec![Distractor::Birds],
            _ => Vec::new(),
        };
        out.push((
            format!("drop{i:03}"),
            FacadeSpec {
                seed: seed.wrapping_mul(100_003).wrapping_add(i as u64),
                drops: 2,
                min_size_px: min,
                max_size_px: max,
                night: i % 4 == 3,
                distractors,
                ..base.clone()
            },
        ));
    }
    let all = Distractor::ALL;
    for i in 0..n {
        out.push((
            format!("distr{i:03}"),
            FacadeSpec {
                seed: seed.wrapping_mul(100_003).wrapping_add(50_000 + i as u64),
                drops: 0,
                night: i % 2 == 1,
                distractors: vec![all[(2 * i) % all.len()], all[(2 * i + 1) % all.len()]],
                ..base.clone()
            },
        ));
    }
    out
}

/// Render one synth clip into `dir`, run it through the real pipeline, score it.
pub fn run_synth_clip(
    name: &str,
    spec: &FacadeSpec,
    dir: &Path,
    keep: bool,
) -> Result<ClipResult, EvalError> {
    let files = render_facade(spec, dir, name)?;
    let cfg = Config::load(&files.config)?;
    let cam = cfg.camera(None)?.clone();
    let truth: FacadeTruth =
        serde_json::from_slice(&std::fs::read(&files.truth).map_err(io("reading the truth file"))?)
            .map_err(io("parsing the truth file"))?;
    let mut events: Vec<Event> = Vec::new();
    let mut sink = |ev: &Event| events.push(ev.clone());
    analyze_file(
        &cfg,
        &cam,
        &files.video,
        &AnalyzeOptions::full(None),
        &mut sink,
    )?;
    let drops: Vec<TruthRef> = truth.drops.iter().map(TruthRef::from).collect();
    let mut r = score_clip(
        name,
        truth.duration_s,
        &events,
        &drops,
        &MatchParams::default(),
    );
    r.night = spec.night;
    for d in &mut r.drops {
        d.night = spec.night;
    }
    r.distractors = spec
        .distractors
        .iter()
        .map(|d| d.name().to_string())
        .collect();
    if keep {
        let j = serde_json::json!({ "events": events, "result": r });
        let bytes = serde_json::to_vec_pretty(&j).map_err(io("json"))?;
        std::fs::write(dir.join(format!("{name}.events.json")), bytes)
            .map_err(io("writing clip json"))?;
    } else {
        for p in [&files.video, &files.truth, &files.config] {
            let _ = std::fs::remove_file(p);
        }
    }
    Ok(r)
}

enum Job {
    Sim(usize, SceneSpec),
    Synth(String, FacadeSpec),
}

/// Run the whole suite on `opts.jobs` threads; `progress` gets one line per clip.
pub fn run_suite(
    opts: &SuiteOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(Summary, Vec<ClipResult>), EvalError> {
    if let Some(d) = &opts.out {
        std::fs::create_dir_all(d).map_err(io("creating the output folder"))?;
    }
    // Synth clips need a folder even without --out; a private one, removed afterwards.
    let scratch = match (&opts.out, opts.renderer) {
        (None, Renderer::Synth) => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let d = std::env::temp_dir().join(format!("vigil-eval-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&d).map_err(io("creating a scratch folder"))?;
            Some(d)
        }
        _ => None,
    };
    let dir: Option<PathBuf> = opts.out.clone().or(scratch.clone());
    let jobs: Vec<Job> = match opts.renderer {
        Renderer::Sim => suite(opts.seed, opts.seeds, opts.width, opts.height)
            .into_iter()
            .enumerate()
            .map(|(i, s)| Job::Sim(i, s))
            .collect(),
        Renderer::Synth => synth_suite(
            opts.seed,
            opts.seeds,
            opts.width,
            opts.height,
            opts.duration_s,
        )
        .into_iter()
        .map(|(n, s)| Job::Synth(n, s))
        .collect(),
    };
    let work: Mutex<Vec<(usize, Job)>> = Mutex::new(jobs.into_iter().enumerate().rev().collect());
    let results: Mutex<Vec<(usize, ClipResult)>> = Mutex::new(Vec::new());
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|sc| {
        for _ in 0..opts.jobs.max(1) {
            sc.spawn(|| loop {
                let next = work.lock().ok().and_then(|mut w| w.pop());
                let Some((i, job)) = next else { break };
                let res = match &job {
                    Job::Sim(k, spec) => run_clip(spec.clone(), *k, opts),
                    Job::Synth(name, spec) => match &dir {
                        Some(d) => run_synth_clip(name, spec, d, opts.out.is_some()),
                        None => Err(EvalError::Io("no output folder".into())),
                    },
                };
                match res {
                    Ok(r) => {
                        progress(&format!(
                            "{}: drops {}/{} detected, {} false alarm(s){}{}",
                            r.clip,
                            r.drops.iter().filter(|d| d.detected).count(),
                            r.drops.len(),
                            r.false_alarms,
                            if r.night { " night" } else { " day" },
                            if r.distractors.is_empty() {
                                String::new()
                            } else {
                                format!(" [{}]", r.distractors.join("+"))
                            }
                        ));
                        if let Ok(mut v) = results.lock() {
                            v.push((i, r));
                        }
                    }
                    Err(e) => {
                        if let Ok(mut v) = errors.lock() {
                            v.push(format!("clip {i}: {e}"));
                        }
                    }
                }
            });
        }
    });
    if let Some(d) = &scratch {
        let _ = std::fs::remove_dir_all(d);
    }
    let errs = errors.into_inner().unwrap_or_default();
    if !errs.is_empty() {
        return Err(EvalError::Io(errs.join("; ")));
    }
    let mut res = results.into_inner().unwrap_or_default();
    res.sort_by_key(|(i, _)| *i);
    let clips: Vec<ClipResult> = res.into_iter().map(|(_, r)| r).collect();
    let s = summarise(&clips);
    if let Some(d) = &opts.out {
        let report = serde_json::json!({
            "summary": s,
            "breakdown": breakdown(&clips),
            "clips": clips,
            "renderer": opts.renderer,
            "seed": opts.seed,
            "seeds": opts.seeds,
            "width": opts.width,
            "height": opts.height,
            "codec": opts.codec || opts.renderer == Renderer::Synth,
            "model": opts.use_model,
        });
        let bytes = serde_json::to_vec_pretty(&report).map_err(io("json"))?;
        std::fs::write(d.join("report.json"), bytes).map_err(io("writing report.json"))?;
    }
    Ok((s, clips))
}

/// Failures by category: recall by size x day/night, false alarms per distractor kind.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Breakdown {
    /// `(category, detected, total)`, e.g. `("3-4px day", 5, 6)`.
    pub recall: Vec<(String, usize, usize)>,
    /// `(distractor kind + day/night, false alarms, clips)` over distractor-only clips.
    pub false_alarms: Vec<(String, usize, usize)>,
    /// Missed drops: `clip size_px floor night`.
    pub missed: Vec<String>,
}

pub fn breakdown(clips: &[ClipResult]) -> Breakdown {
    let mut b = Breakdown::default();
    for (small, sname) in [(true, "3-4px"), (false, ">=5px")] {
        for (night, nname) in [(false, "day"), (true, "night")] {
            let ds: Vec<&DropResult> = clips
                .iter()
                .flat_map(|c| c.drops.iter())
                .filter(|d| (d.size_px < 5.0) == small && d.night == night)
                .collect();
            if !ds.is_empty() {
                b.recall.push((
                    format!("{sname} {nname}"),
                    ds.iter().filter(|d| d.detected).count(),
                    ds.len(),
                ));
            }
        }
    }
    for c in clips.iter().filter(|c| c.drops.is_empty()) {
        for k in &c.distractors {
            let key = format!("{k} {}", if c.night { "night" } else { "day" });
            match b.false_alarms.iter_mut().find(|(n, _, _)| *n == key) {
                Some(e) => {
                    e.1 += c.false_alarms;
                    e.2 += 1;
                }
                None => {
                    b.false_alarms.push((key, c.false_alarms, 1));
                }
            }
        }
    }
    b.false_alarms.sort_by(|a, b| a.0.cmp(&b.0));
    for c in clips {
        for d in c.drops.iter().filter(|d| !d.detected) {
            b.missed.push(format!(
                "{} size {:.1}px floor {}{}",
                c.clip,
                d.size_px,
                d.floor,
                if d.night { " night" } else { "" }
            ));
        }
    }
    b
}

/// The breakdown as text lines.
pub fn breakdown_text(b: &Breakdown) -> String {
    let mut o = String::from(
        "  recall by category:
",
    );
    for (n, d, t) in &b.recall {
        o += &format!(
            "    {n:<14} {d}/{t}
"
        );
    }
    o += "  false alarms by distractor (distractor-only clips; a clip has two kinds):
";
    for (n, f, c) in &b.false_alarms {
        o += &format!(
            "    {n:<16} {f} in {c} clip(s)
"
        );
    }
    if !b.missed.is_empty() {
        o += "  missed drops:
";
        for m in &b.missed {
            o += &format!(
                "    {m}
"
            );
        }
    }
    o
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
