//! The e-bike analytic on generated elevator clips: real H.264 clips from `synth`, decoded by
//! `ingest`, fed to `EbikeAnalytic` with the real detector. Positives (an e-bike ridden in; an
//! e-bike already standing in a still car at start) and the in-car negative set (bicycle,
//! stroller, wheelchair, trolley pushed in; people only). Every detector run's detections are
//! kept, so the fusion's operating point (bicycle weight, person context, threshold) is swept
//! offline on the same runs and fixed here, on generated data only.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::analytics::ebike::analytic::in_zone;
use crate::analytics::ebike::rules::{Confirm, Transition};
use crate::analytics::ebike::score::{fuse, FusionParams};
use crate::analytics::ebike::{Detection, Detector, EbikeAnalytic, ElevatorConfig};
use crate::analytics::Analytic;
use crate::config::Config;
use crate::ingest::{Counters, MediaSource};
use crate::synth::{render_elevator, ElevatorSpec, Negative};

#[derive(Debug, thiserror::Error)]
pub enum EbikeEvalError {
    #[error("rendering {name}: {reason}")]
    Render { name: String, reason: String },
    #[error("{0}")]
    Other(String),
}

fn other(e: impl std::fmt::Display) -> EbikeEvalError {
    EbikeEvalError::Other(e.to_string())
}

/// What a generated clip holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClipKind {
    /// An e-bike ridden into the car.
    Ebike,
    /// An e-bike standing in a still car from frame 0 (door shut for 4 s).
    EbikeAtStart,
    /// A negative object pushed in.
    Negative(Negative),
    /// Two people, nothing else.
    People,
}

impl ClipKind {
    pub fn positive(&self) -> bool {
        matches!(self, ClipKind::Ebike | ClipKind::EbikeAtStart)
    }
    pub fn name(&self) -> String {
        match self {
            ClipKind::Ebike => "ebike".into(),
            ClipKind::EbikeAtStart => "ebike_at_start".into(),
            ClipKind::Negative(n) => n.as_str().into(),
            ClipKind::People => "people".into(),
        }
    }
}

/// One detector run: media time and every detection (before fusion).
#[derive(Clone, Debug)]
pub struct Run {
    pub t: f64,
    pub dets: Vec<Detection>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ClipResult {
    pub name: String,
    pub kind: ClipKind,
    pub seed: u64,
    /// When the e-bike / object is fully inside (truth).
    pub inside_s: Option<f64>,
    pub frames: u64,
    pub detector_runs: u64,
    pub model_runs: u64,
    /// Detector time (pre + inference + post, all regions) per analysed frame, ms.
    pub detect_ms_per_frame: f64,
    /// Per model run, ms.
    pub ms_per_model_run: f64,
    #[serde(skip)]
    pub runs: Vec<Run>,
    #[serde(skip)]
    pub zone: Vec<[f64; 2]>,
}

/// One operating point of the fusion.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Point {
    pub bicycle_weight: f32,
    pub context_bonus: f32,
    pub threshold: f32,
}

/// Clip-level outcome of an operating point.
#[derive(Clone, Debug, Serialize)]
pub struct PointResult {
    pub point: Point,
    pub positives: usize,
    pub positives_alarmed: usize,
    /// Detector runs with the e-bike inside that were positive / all such runs.
    pub run_recall: f64,
    pub negative_clips: usize,
    pub negative_alarms: usize,
    /// Per negative kind: (clips, clips that alarmed).
    pub negatives_by_kind: Vec<(String, usize, usize)>,
    /// Alarm time − `inside_s` of the ridden-in e-bikes, seconds, sorted.
    pub latencies_s: Vec<f64>,
    /// Alarm time of the e-bikes standing in the car at start (media seconds), sorted.
    pub at_start_alarm_s: Vec<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct GenReport {
    pub clips: Vec<ClipResult>,
    /// Every grid point, in grid order.
    pub sweep: Vec<PointResult>,
    /// The chosen operating point: no alarm on any negative clip, then the most e-bike clips
    /// alarmed, then the most positive runs, then the highest threshold (margin).
    pub chosen: Option<PointResult>,
    /// The configured operating point (defaults) replayed on the same runs.
    pub configured: PointResult,
    pub mean_ms_per_model_run: f64,
}

pub struct GenOptions {
    pub out_dir: PathBuf,
    pub seed0: u64,
    pub seeds: u64,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    /// The operating point in use (and everything else: model, k, n, multi_scale).
    pub cfg: ElevatorConfig,
    /// Which clips per seed.
    pub kinds: Vec<ClipKind>,
}

pub fn default_kinds() -> Vec<ClipKind> {
    let mut v = vec![ClipKind::Ebike, ClipKind::EbikeAtStart];
    v.extend(Negative::ALL.into_iter().map(ClipKind::Negative));
    v.push(ClipKind::People);
    v
}

fn spec_for(kind: ClipKind, seed: u64, o: &GenOptions) -> ElevatorSpec {
    let base = ElevatorSpec {
        seed,
        width: o.width,
        height: o.height,
        fps: o.fps,
        duration_s: 9.0,
        ..Default::default()
    };
    match kind {
        ClipKind::Ebike => ElevatorSpec { people: 0, ..base },
        ClipKind::EbikeAtStart => ElevatorSpec {
            people: 0,
            at_start: true,
            duration_s: 4.0,
            ..base
        },
        ClipKind::Negative(n) => ElevatorSpec {
            people: 0,
            ebike: false,
            negative: Some(n),
            ..base
        },
        ClipKind::People => ElevatorSpec {
            people: 2,
            ebike: false,
            ..base
        },
    }
}

/// Recording config: decode low-scoring boxes too (bicycle and motorcycle from 0.05) so the
/// sweep can replay lower class thresholds; the alarm logic itself is the configured one.
fn recording_cfg(cfg: &ElevatorConfig) -> ElevatorConfig {
    let mut c = cfg.clone();
    for k in c.alarm_classes() {
        c.class_thresholds.insert(k, 0.05);
    }
    c.class_thresholds.insert("bicycle".into(), 0.05);
    c.bicycle_weight = c.bicycle_weight.max(0.05);
    c.context_bonus = c.context_bonus.max(0.05);
    c
}

/// Render, decode and analyse one clip, keeping every run's detections.
pub fn run_clip(
    kind: ClipKind,
    seed: u64,
    o: &GenOptions,
    detector: Detector,
) -> Result<(ClipResult, Detector), EbikeEvalError> {
    let name = format!("{}-s{seed}", kind.name());
    let spec = spec_for(kind, seed, o);
    let out = render_elevator(&spec, &o.out_dir, &name).map_err(|e| EbikeEvalError::Render {
        name: name.clone(),
        reason: e.to_string(),
    })?;
    let truth: crate::synth::truth::ElevatorTruth =
        serde_json::from_str(&std::fs::read_to_string(&out.truth).map_err(other)?)
            .map_err(other)?;
    let inside_s = truth
        .entries
        .iter()
        .filter(|e| e.object != "person")
        .filter_map(|e| e.inside_s)
        .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.min(v))));
    let mut cfg = recording_cfg(&o.cfg);
    cfg.zone = truth.zone.clone();
    let mut a = EbikeAnalytic::with_detector("eval", &cfg, detector).map_err(other)?;
    let node = Config::default();
    let cam = crate::config::CameraConfig::new(
        "eval",
        crate::config::CameraKind::Elevator,
        &out.video.to_string_lossy(),
    );
    let boxed: Vec<Box<dyn Analytic>> = Vec::new();
    let mut iopts = crate::pipeline::ingest_options(&node, &cam, &boxed);
    iopts.want_rgb = true;
    iopts.realtime = false;
    let mut src = MediaSource::open(
        &out.video.to_string_lossy(),
        &iopts,
        std::sync::Arc::new(Counters::default()),
    )
    .map_err(other)?;
    let mut runs = Vec::new();
    let mut frames = 0u64;
    let mut last_runs = 0u64;
    while let Some(f) = src.next_frame().map_err(other)? {
        frames += 1;
        a.on_frame(&f);
        let st = a.stats();
        if st.detector_runs > last_runs {
            last_runs = st.detector_runs;
            runs.push(Run {
                t: f.pts_s,
                dets: a.last_raw().to_vec(),
            });
        }
    }
    a.finish();
    let st = a.stats();
    let total_ms = st.detect_total.as_secs_f64() * 1e3;
    let res = ClipResult {
        name,
        kind,
        seed,
        inside_s,
        frames,
        detector_runs: st.detector_runs,
        model_runs: st.inference_runs,
        detect_ms_per_frame: if frames > 0 {
            total_ms / frames as f64
        } else {
            0.0
        },
        ms_per_model_run: if st.inference_runs > 0 {
            total_ms / st.inference_runs as f64
        } else {
            0.0
        },
        runs,
        zone: truth.zone,
    };
    Ok((res, a.into_detector()))
}

/// Fusion parameters for a point on `detector`'s classes.
pub fn params_at(cfg: &ElevatorConfig, names: &[String], p: Point) -> FusionParams {
    let id = |n: &str| names.iter().position(|x| x == n);
    // The point's threshold is also the class threshold of the alarm classes (as
    // `threshold_for` makes it in the analytic), unless `class_thresholds` names one.
    let c = ElevatorConfig {
        bicycle_weight: p.bicycle_weight,
        context_bonus: p.context_bonus,
        score_threshold: p.threshold,
        ..cfg.clone()
    };
    let mut classes: Vec<(usize, f32, f32)> = Vec::new();
    for (n, w, t) in c.evidence_classes() {
        if let Some(i) = id(&n) {
            if !classes.iter().any(|x| x.0 == i) {
                classes.push((i, w, t));
            }
        }
    }
    FusionParams {
        classes,
        person: id("person").filter(|_| p.context_bonus > 0.0),
        person_min: crate::analytics::ebike::analytic::PERSON_MIN,
        context_bonus: p.context_bonus,
    }
}

/// Replay the alarm logic of one clip at one point: first alarm time, positive runs after
/// `inside_s`, runs after `inside_s`.
pub fn replay(
    clip: &ClipResult,
    cfg: &ElevatorConfig,
    fp: &FusionParams,
    threshold: f32,
) -> (Option<f64>, usize, usize) {
    let max_age = 2.0 * cfg.n as f64 / cfg.detect_fps;
    let mut confirm = Confirm::new(cfg.k, cfg.n, cfg.clear_after_s, max_age);
    let mut alarm = None;
    let (mut pos, mut all) = (0usize, 0usize);
    for r in &clip.runs {
        let present = fuse(&r.dets, fp)
            .iter()
            .any(|c| c.score >= threshold && in_zone(&c.bbox, &clip.zone));
        if clip.inside_s.is_some_and(|s| r.t >= s) {
            all += 1;
            pos += present as usize;
        }
        if let Some(Transition::Alarm { .. }) = confirm.observe(r.t, present) {
            alarm.get_or_insert(r.t);
        }
    }
    (alarm, pos, all)
}

pub fn score_point(
    clips: &[ClipResult],
    cfg: &ElevatorConfig,
    names: &[String],
    p: Point,
) -> PointResult {
    let fp = params_at(cfg, names, p);
    let mut r = PointResult {
        point: p,
        positives: 0,
        positives_alarmed: 0,
        run_recall: 0.0,
        negative_clips: 0,
        negative_alarms: 0,
        negatives_by_kind: Vec::new(),
        latencies_s: Vec::new(),
        at_start_alarm_s: Vec::new(),
    };
    let (mut pos_runs, mut all_runs) = (0usize, 0usize);
    for c in clips {
        let (alarm, pos, all) = replay(c, cfg, &fp, p.threshold);
        if c.kind.positive() {
            r.positives += 1;
            pos_runs += pos;
            all_runs += all;
            if let Some(t) = alarm {
                r.positives_alarmed += 1;
                match c.kind {
                    ClipKind::EbikeAtStart => r.at_start_alarm_s.push(t),
                    _ => r.latencies_s.push(t - c.inside_s.unwrap_or(0.0)),
                }
            }
        } else {
            r.negative_clips += 1;
            let k = c.kind.name();
            let alarmed = alarm.is_some() as usize;
            r.negative_alarms += alarmed;
            match r.negatives_by_kind.iter_mut().find(|x| x.0 == k) {
                Some(x) => {
                    x.1 += 1;
                    x.2 += alarmed;
                }
                None => r.negatives_by_kind.push((k, 1, alarmed)),
            }
        }
    }
    r.run_recall = if all_runs > 0 {
        pos_runs as f64 / all_runs as f64
    } else {
        0.0
    };
    r.latencies_s.sort_by(f64::total_cmp);
    r.at_start_alarm_s.sort_by(f64::total_cmp);
    r
}

/// The grid the operating point is chosen from.
pub fn grid() -> Vec<Point> {
    let mut v = Vec::new();
    for bw in [0.0, 0.25, 0.5, 1.0] {
        for cb in [0.0, 0.15, 0.3, 0.5] {
            for k in 2..=12 {
                v.push(Point {
                    bicycle_weight: bw,
                    context_bonus: cb,
                    threshold: k as f32 * 0.05,
                });
            }
        }
    }
    v
}

/// Pick: no alarm on any negative clip, at this threshold and one grid step (0.05) below it
/// (a margin); then the most e-bike clips alarmed, the most positive runs, the lowest
/// threshold (the most sensitive safe point); grid order breaks ties.
pub fn choose(sweep: &[PointResult]) -> Option<PointResult> {
    let safe = |r: &PointResult| {
        r.negative_alarms == 0
            && sweep.iter().all(|o| {
                o.point.bicycle_weight != r.point.bicycle_weight
                    || o.point.context_bonus != r.point.context_bonus
                    || (o.point.threshold - (r.point.threshold - 0.05)).abs() > 1e-4
                    || o.negative_alarms == 0
            })
            && r.point.threshold > 0.1 + 1e-4
    };
    let mut best: Option<&PointResult> = None;
    for r in sweep.iter().filter(|r| safe(r)) {
        let better = match best {
            None => true,
            Some(b) => {
                (r.positives_alarmed, r.run_recall, -r.point.threshold).partial_cmp(&(
                    b.positives_alarmed,
                    b.run_recall,
                    -b.point.threshold,
                )) == Some(std::cmp::Ordering::Greater)
            }
        };
        if better {
            best = Some(r);
        }
    }
    best.cloned()
}

pub fn evaluate_generated(o: &GenOptions) -> Result<GenReport, EbikeEvalError> {
    std::fs::create_dir_all(&o.out_dir).map_err(other)?;
    let model = crate::analytics::ebike::analytic::resolve_path(&o.cfg.model, Path::new("."));
    let mut det = Detector::load(
        &model,
        &crate::analytics::ebike::analytic::detector_options(&o.cfg, Path::new(".")),
    )
    .map_err(other)?;
    let names = det.class_names().to_vec();
    let mut clips = Vec::new();
    for s in 0..o.seeds {
        for &k in &o.kinds {
            let (c, d) = run_clip(k, o.seed0 + s, o, det)?;
            tracing::info!(clip = %c.name, runs = c.runs.len(), "e-bike eval clip done");
            det = d;
            clips.push(c);
        }
    }
    let sweep: Vec<PointResult> = grid()
        .into_iter()
        .map(|p| score_point(&clips, &o.cfg, &names, p))
        .collect();
    let chosen = choose(&sweep);
    let configured = score_point(
        &clips,
        &o.cfg,
        &names,
        Point {
            bicycle_weight: o.cfg.bicycle_weight,
            context_bonus: o.cfg.context_bonus,
            threshold: o.cfg.score_threshold,
        },
    );
    let (ms, n) = clips.iter().fold((0.0, 0u64), |(m, n), c| {
        (
            m + c.ms_per_model_run * c.model_runs as f64,
            n + c.model_runs,
        )
    });
    Ok(GenReport {
        clips,
        sweep,
        chosen,
        configured,
        mean_ms_per_model_run: if n > 0 { ms / n as f64 } else { 0.0 },
    })
}
