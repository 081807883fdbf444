//! `EbikeAnalytic`: the elevator camera's state machine (detector + rules). Pure: frames in,
//! event updates out; the actions configured for its alarms are fired by the service.

use std::path::{Path, PathBuf};

use image::RgbImage;

use super::detector::{Detector, DetectorOptions, Timings};
use super::nms::{nms, Detection};
use super::rules::{point_in_polygon, Confirm, MotionGate, Scheduler, Transition};
use super::score::{fuse, FusionParams};
use super::EbikeError;
use crate::analytics::Analytic;
use crate::config::ElevatorConfig;
use crate::events::{Event, EventKind, EventUpdate, Phase, Picture};
use crate::evidence::draw;
use crate::frame::Frame;

/// Resolve a model/labels path: absolute as is; relative against `base_dir`, then the working
/// directory, then the project root (so the default `models/…` works from anywhere in a checkout).
pub fn resolve_path(p: &str, base_dir: &Path) -> PathBuf {
    let path = PathBuf::from(p);
    if path.is_absolute() {
        return path;
    }
    let mut cands = vec![base_dir.join(&path)];
    if let Ok(cwd) = std::env::current_dir() {
        cands.extend(cwd.ancestors().take(4).map(|a| a.join(&path)));
    }
    cands.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(&path));
    cands
        .iter()
        .find(|c| c.exists())
        .cloned()
        .unwrap_or_else(|| base_dir.join(&path))
}

/// Detector options from the elevator config (paths resolved against `base_dir`).
pub fn detector_options(cfg: &ElevatorConfig, base_dir: &Path) -> DetectorOptions {
    DetectorOptions {
        provider: cfg.provider,
        threads: cfg.threads,
        labels: cfg.labels.as_deref().map(|l| resolve_path(l, base_dir)),
        input_size: cfg.input_size,
        layout: cfg.layout,
        nms_iou: cfg.nms_iou,
    }
}

/// A person box counts as context from this score on.
pub const PERSON_MIN: f32 = 0.3;

/// The best sighting of the current entry.
struct Best {
    t: f64,
    det: Detection,
    image: RgbImage,
}

struct Open {
    event: Event,
}

/// Counters for benchmarks and evaluation.
#[derive(Clone, Copy, Debug, Default)]
pub struct EbikeStats {
    pub frames: u64,
    pub detector_runs: u64,
    pub skipped_idle: u64,
    pub detect_errors: u64,
    /// Detector runs that returned and the time spent in the model (ONNX Runtime) in them.
    pub inference_runs: u64,
    pub inference: std::time::Duration,
    /// Of `detector_runs`, those that also ran the two tiles (motion or burst).
    pub tiled_runs: u64,
    /// Pre + inference + post time of every model run (zone crop and tiles), for ms/frame.
    pub detect_total: std::time::Duration,
}

/// The part of a frame the detector looks at: the car zone's bounding box, grown upwards by
/// 60 % of its height (people and bikes stand on the floor polygon and rise above it) and by
/// 5 % of the frame sideways; the whole frame when there is no zone.
pub fn zone_roi(zone: &[[f64; 2]], w: u32, h: u32) -> [u32; 4] {
    if zone.len() < 3 || w == 0 || h == 0 {
        return [0, 0, w, h];
    }
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for &[x, y] in zone {
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    let zh = (y1 - y0).max(1.0);
    let mx = 0.05 * w as f64;
    let cl = |v: f64, m: u32| v.round().clamp(0.0, m as f64) as u32;
    let r = [
        cl(x0 - mx, w),
        cl(y0 - 0.6 * zh, h),
        cl(x1 + mx + 1.0, w),
        cl(y1 + 1.0, h),
    ];
    if r[2] <= r[0] + 8 || r[3] <= r[1] + 8 {
        return [0, 0, w, h];
    }
    r
}

/// How detections become e-bike candidates: which regions run through the model, the minimum
/// score decoded, and the fusion. Shared by the analytic and the image evaluation.
#[derive(Clone, Debug)]
pub struct Scorer {
    pub fusion: FusionParams,
    pub min_score: f32,
    pub nms_iou: f32,
}

impl Scorer {
    /// The fusion and minimum decoded score for `cfg` on `detector`'s classes (no error when
    /// no alarm class is known: the candidates are then empty).
    pub fn for_config(cfg: &ElevatorConfig, detector: &Detector) -> Scorer {
        let mut classes: Vec<(usize, f32, f32)> = Vec::new();
        for (c, w, t) in cfg.evidence_classes() {
            if let Some(id) = detector.class_id(&c) {
                if !classes.iter().any(|x| x.0 == id) {
                    classes.push((id, w, t));
                }
            }
        }
        let fusion = FusionParams {
            person: detector
                .class_id("person")
                .filter(|_| cfg.context_bonus > 0.0),
            person_min: PERSON_MIN,
            context_bonus: cfg.context_bonus,
            classes,
        };
        let mut min_score = fusion.classes.iter().map(|c| c.2).fold(1.0f32, f32::min);
        if fusion.person.is_some() {
            min_score = min_score.min(PERSON_MIN);
        }
        Scorer {
            fusion,
            min_score: min_score.max(0.01),
            nms_iou: cfg.nms_iou,
        }
    }

    /// Run the model on `roi` (and its two tiles when `tiled`), merge with class-wise NMS.
    /// Returns the detections, the summed stage times and the number of model runs.
    pub fn detect(
        &self,
        detector: &mut Detector,
        rgb: &[u8],
        w: u32,
        h: u32,
        roi: [u32; 4],
        tiled: bool,
    ) -> Result<(Vec<Detection>, Timings, u64), EbikeError> {
        let mut regions = vec![roi];
        if tiled {
            regions.extend(tiles(roi));
        }
        let mut all = Vec::new();
        let mut sum = Timings::default();
        for r in &regions {
            let (d, t) = detector.detect_region(rgb, w, h, *r, self.min_score)?;
            sum.pre_ms += t.pre_ms;
            sum.infer_ms += t.infer_ms;
            sum.post_ms += t.post_ms;
            all.extend(d);
        }
        Ok((nms(all, self.nms_iou, 3000), sum, regions.len() as u64))
    }
}

/// Two overlapping tiles (each 60 % of the longer side) covering `roi`.
pub fn tiles(roi: [u32; 4]) -> [[u32; 4]; 2] {
    let [x0, y0, x1, y1] = roi;
    let (w, h) = (x1 - x0, y1 - y0);
    if w >= h {
        let tw = (w as f64 * 0.6).round() as u32;
        [[x0, y0, x0 + tw, y1], [x1 - tw, y0, x1, y1]]
    } else {
        let th = (h as f64 * 0.6).round() as u32;
        [[x0, y0, x1, y0 + th], [x0, y1 - th, x1, y1]]
    }
}

pub struct EbikeAnalytic {
    camera: String,
    cfg: ElevatorConfig,
    detector: Detector,
    scorer: Scorer,
    gate: MotionGate,
    sched: Scheduler,
    confirm: Confirm,
    next_id: u64,
    best: Option<Best>,
    open: Option<Open>,
    stats: EbikeStats,
    last_dets: Vec<Detection>,
    last_raw: Vec<Detection>,
}

/// Standing on the car floor: the box's centre or its bottom centre is in the zone.
pub fn in_zone(b: &[f32; 4], zone: &[[f64; 2]]) -> bool {
    let cx = (b[0] + b[2]) as f64 / 2.0;
    let cy = (b[1] + b[3]) as f64 / 2.0;
    point_in_polygon(cx, cy, zone) || point_in_polygon(cx, b[3] as f64, zone)
}

impl EbikeAnalytic {
    pub fn new(
        camera: &str,
        cfg: &ElevatorConfig,
        base_dir: &Path,
    ) -> Result<EbikeAnalytic, EbikeError> {
        cfg.validate()
            .map_err(|(field, reason)| EbikeError::Config { field, reason })?;
        let model = resolve_path(&cfg.model, base_dir);
        let detector = Detector::load(&model, &detector_options(cfg, base_dir))?;
        Self::with_detector(camera, cfg, detector)
    }

    /// Build around an already loaded detector (evaluation, benchmarks).
    pub fn with_detector(
        camera: &str,
        cfg: &ElevatorConfig,
        detector: Detector,
    ) -> Result<EbikeAnalytic, EbikeError> {
        cfg.validate()
            .map_err(|(field, reason)| EbikeError::Config { field, reason })?;
        let names = detector.class_names();
        let mut classes = Vec::new();
        let mut missing = Vec::new();
        for c in cfg.alarm_classes() {
            match detector.class_id(&c) {
                Some(id) => classes.push((id, 1.0, cfg.threshold_for(&c))),
                None => missing.push(c),
            }
        }
        if classes.is_empty() {
            return Err(EbikeError::Config {
                field: "elevator.ebike_classes".into(),
                reason: format!(
                    "none of {:?} is a class of model {} (classes: {})",
                    missing,
                    detector.path().display(),
                    names
                        .iter()
                        .take(12)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        if !missing.is_empty() {
            tracing::warn!(?missing, "e-bike classes not in the model; ignored");
        }
        let scorer = Scorer::for_config(cfg, &detector);
        // Entries older than ~2 windows drop out, so gated (sparse) runs cannot add up.
        let max_age = 2.0 * cfg.n as f64 / cfg.detect_fps;
        Ok(EbikeAnalytic {
            camera: camera.to_string(),
            gate: MotionGate::new(&cfg.zone),
            sched: Scheduler::with_burst(cfg.detect_fps, cfg.idle_interval_s, cfg.burst_runs),
            confirm: Confirm::new(cfg.k, cfg.n, cfg.clear_after_s, max_age),
            cfg: cfg.clone(),
            detector,
            scorer,
            next_id: 1,
            best: None,
            open: None,
            stats: EbikeStats::default(),
            last_dets: Vec::new(),
            last_raw: Vec::new(),
        })
    }

    pub fn stats(&self) -> EbikeStats {
        self.stats
    }

    /// Alarm-class detections in the zone from the last detector run.
    pub fn last_detections(&self) -> &[Detection] {
        &self.last_dets
    }

    /// Every detection (all classes, class-wise NMS'd, before fusion and zone) of the last
    /// detector run: evaluations replay the fusion on these at other operating points.
    pub fn last_raw(&self) -> &[Detection] {
        &self.last_raw
    }

    /// Give the detector back (evaluations reuse one loaded model across clips).
    pub fn into_detector(self) -> Detector {
        self.detector
    }

    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    fn label_of(&self, d: &Detection) -> String {
        self.detector
            .class_names()
            .get(d.class_id)
            .cloned()
            .unwrap_or_else(|| format!("class{}", d.class_id))
    }

    /// The clean frame (for dataset export) and the annotated snapshot. The snapshot goes
    /// last: the pipeline records the last non-trajectory picture as the event's snapshot.
    fn pictures(&self, b: &Best) -> Vec<Picture> {
        vec![
            Picture {
                name: "frame.jpg".into(),
                image: b.image.clone(),
            },
            self.snapshot(b),
        ]
    }

    fn snapshot(&self, b: &Best) -> Picture {
        let mut img = b.image.clone();
        let [x1, y1, x2, y2] = b.det.bbox;
        let thick = (img.width().max(img.height()) / 320).max(2);
        draw::draw_rect(
            &mut img,
            x1 as f64,
            y1 as f64,
            x2 as f64,
            y2 as f64,
            draw::RED,
            thick,
        );
        let text = format!("{} {:.2}", self.label_of(&b.det), b.det.score);
        let (_, th) = draw::text_size(&text, 2);
        draw::draw_label(
            &mut img,
            x1 as i64,
            y1 as i64 - th as i64 - 4,
            &text,
            draw::WHITE,
            2,
        );
        Picture {
            name: "snapshot.jpg".into(),
            image: img,
        }
    }

    fn close(&mut self, end_s: f64) -> Option<EventUpdate> {
        let mut open = self.open.take()?;
        open.event.end_s = end_s.max(open.event.start_s);
        // The pipeline stores evidence at End, so the final pictures always go with it.
        let pictures = match &self.best {
            Some(b) => self.pictures(b),
            None => Vec::new(),
        };
        self.best = None;
        Some(EventUpdate {
            phase: Phase::End,
            event: open.event,
            pictures,
        })
    }
}

impl Analytic for EbikeAnalytic {
    fn name(&self) -> &'static str {
        "ebike"
    }

    fn needs_rgb(&self) -> bool {
        true
    }

    fn inference(&self) -> Option<(u64, std::time::Duration)> {
        Some((self.stats.inference_runs, self.stats.inference))
    }

    fn on_frame(&mut self, frame: &Frame) -> Vec<EventUpdate> {
        self.stats.frames += 1;
        let t = frame.pts_s;
        if !self.sched.tick(t) {
            return Vec::new();
        }
        let motion = self.gate.update(&frame.gray, frame.width, frame.height);
        let moving = motion >= self.cfg.motion_threshold;
        if !self.sched.should_run(t, moving, self.confirm.alarmed()) {
            self.stats.skipped_idle += 1;
            return Vec::new();
        }
        self.stats.detector_runs += 1;
        let grey_rgb;
        let rgb: &[u8] = match &frame.rgb {
            Some(v) => v,
            None => {
                grey_rgb = frame.to_rgb_image().into_raw();
                &grey_rgb
            }
        };
        let roi = zone_roi(&self.cfg.zone, frame.width, frame.height);
        let tiled = self.cfg.multi_scale && (moving || self.sched.in_burst());
        if tiled {
            self.stats.tiled_runs += 1;
        }
        let dets = match self.scorer.detect(
            &mut self.detector,
            rgb,
            frame.width,
            frame.height,
            roi,
            tiled,
        ) {
            Ok((d, tm, runs)) => {
                self.stats.inference_runs += runs;
                self.stats.inference += std::time::Duration::from_secs_f64(tm.infer_ms / 1e3);
                self.stats.detect_total += std::time::Duration::from_secs_f64(
                    (tm.pre_ms + tm.infer_ms + tm.post_ms) / 1e3,
                );
                d
            }
            Err(e) => {
                self.stats.detect_errors += 1;
                if self.stats.detect_errors.is_power_of_two() {
                    tracing::warn!(camera = %self.camera, error = %e, count = self.stats.detect_errors, "e-bike detector failed on a frame");
                }
                return Vec::new();
            }
        };
        self.last_dets = fuse(&dets, &self.scorer.fusion)
            .into_iter()
            .filter(|c| c.score >= self.cfg.score_threshold && in_zone(&c.bbox, &self.cfg.zone))
            .map(|c| c.as_detection())
            .collect();
        self.last_raw = dets;
        let top = self.last_dets.first().cloned();
        let present = top.is_some();

        // Keep the best sighting of this entry for the snapshot (copying the frame only when
        // it improves). Before the alarm, forget sightings that fell out of the window.
        if self.open.is_none() && self.confirm.hits() == 0 && !present {
            self.best = None;
        }
        if let Some(d) = &top {
            if !matches!(&self.best, Some(b) if d.score <= b.det.score) {
                self.best = Some(Best {
                    t,
                    det: d.clone(),
                    image: frame.to_rgb_image(),
                });
                let label = self.label_of(d);
                if let Some(o) = &mut self.open {
                    o.event.confidence = d.score as f64;
                    o.event.bbox = Some(d.bbox.map(|v| v as f64));
                    o.event.label = Some(label);
                }
            }
        }
        if present {
            if let Some(o) = &mut self.open {
                o.event.end_s = t;
            }
        }

        let mut out = Vec::new();
        match self.confirm.observe(t, present) {
            Some(Transition::Alarm { first_seen_s }) => {
                if let Some(b) = &self.best {
                    let mut ev = Event::new(
                        self.next_id,
                        EventKind::EbikeInElevator,
                        &self.camera,
                        t,
                        b.det.score as f64,
                    );
                    self.next_id += 1;
                    ev.start_s = first_seen_s.min(t);
                    ev.alarm_s = t;
                    ev.end_s = t;
                    ev.label = Some(self.label_of(&b.det));
                    ev.bbox = Some(b.det.bbox.map(|v| v as f64));
                    tracing::info!(camera = %self.camera, id = ev.id, t, label = ?ev.label, score = b.det.score, best_t = b.t, "e-bike in elevator");
                    let pictures = self.pictures(b);
                    out.push(EventUpdate {
                        phase: Phase::New,
                        event: ev.clone(),
                        pictures,
                    });
                    self.open = Some(Open { event: ev });
                }
            }
            Some(Transition::Clear { last_seen_s }) => {
                out.extend(self.close(last_seen_s));
            }
            None => {}
        }
        out
    }

    fn finish(&mut self) -> Vec<EventUpdate> {
        let end = self.confirm.last_seen();
        let end = self
            .open
            .as_ref()
            .map(|o| o.event.end_s.max(end))
            .unwrap_or(end);
        self.close(end).into_iter().collect()
    }
}
