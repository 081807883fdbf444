//! `EbikeAnalytic`: the elevator camera's state machine (detector + rules). Pure: frames in,
//! event updates out; the actions configured for its alarms are fired by the service.

use std::path::{Path, PathBuf};

use image::RgbImage;

use super::detector::{Detector, DetectorOptions};
use super::nms::Detection;
use super::rules::{point_in_polygon, Confirm, MotionGate, Scheduler, Transition};
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
}

pub struct EbikeAnalytic {
    camera: String,
    cfg: ElevatorConfig,
    detector: Detector,
    /// Per class id: score threshold if the class raises the alarm.
    alarm_threshold: Vec<Option<f32>>,
    min_score: f32,
    gate: MotionGate,
    sched: Scheduler,
    confirm: Confirm,
    next_id: u64,
    best: Option<Best>,
    open: Option<Open>,
    stats: EbikeStats,
    last_dets: Vec<Detection>,
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
        let mut alarm_threshold = vec![None; names.len()];
        let mut missing = Vec::new();
        for c in cfg.alarm_classes() {
            match detector.class_id(&c) {
                Some(id) => alarm_threshold[id] = Some(cfg.threshold_for(&c)),
                None => missing.push(c),
            }
        }
        if alarm_threshold.iter().all(Option::is_none) {
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
        let min_score = alarm_threshold
            .iter()
            .flatten()
            .copied()
            .fold(1.0f32, f32::min);
        // Entries older than ~2 windows drop out, so gated (sparse) runs cannot add up.
        let max_age = 2.0 * cfg.n as f64 / cfg.detect_fps;
        Ok(EbikeAnalytic {
            camera: camera.to_string(),
            gate: MotionGate::new(&cfg.zone),
            sched: Scheduler::new(cfg.detect_fps, cfg.idle_interval_s),
            confirm: Confirm::new(cfg.k, cfg.n, cfg.clear_after_s, max_age),
            cfg: cfg.clone(),
            detector,
            alarm_threshold,
            min_score,
            next_id: 1,
            best: None,
            open: None,
            stats: EbikeStats::default(),
            last_dets: Vec::new(),
        })
    }

    pub fn stats(&self) -> EbikeStats {
        self.stats
    }

    /// Alarm-class detections in the zone from the last detector run.
    pub fn last_detections(&self) -> &[Detection] {
        &self.last_dets
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
        let dets = match self
            .detector
            .detect_timed(rgb, frame.width, frame.height, self.min_score)
        {
            Ok((d, t)) => {
                self.stats.inference_runs += 1;
                self.stats.inference += std::time::Duration::from_secs_f64(t.infer_ms / 1e3);
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
        self.last_dets = dets
            .into_iter()
            .filter(|d| {
                let thr = self.alarm_threshold.get(d.class_id).copied().flatten();
                let cx = (d.bbox[0] + d.bbox[2]) as f64 / 2.0;
                let cy = (d.bbox[1] + d.bbox[3]) as f64 / 2.0;
                thr.is_some_and(|th| d.score >= th) && point_in_polygon(cx, cy, &self.cfg.zone)
            })
            .collect();
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
