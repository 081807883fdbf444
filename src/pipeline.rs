//! One camera's pipeline: ingest → analytics → events → evidence.
//!
//! `vigil analyze`, `vigil bench`, `vigil eval` and the service all drive this same code; only
//! the frame source differs (a file read as fast as it decodes, a paced file, a live stream).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::analytics::ebike::EbikeAnalytic;
use crate::analytics::falling::FallingAnalytic;
use crate::analytics::Analytic;
use crate::config::{CameraConfig, CameraKind, Config};
use crate::events::{Event, EventKind, EventUpdate, EvidencePaths, Phase};
use crate::evidence::{self, clip::write_mp4, crypt::EvidenceKey};
use crate::frame::Frame;
use crate::ingest::{Counters, IngestError, IngestOptions, MediaSource, PacketRing, StageTimes};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error("camera '{camera}': cannot start analytic {analytic}: {reason}")]
    Analytic {
        camera: String,
        analytic: &'static str,
        reason: String,
    },
    #[error("evidence dir {path}: {reason}")]
    EvidenceDir { path: PathBuf, reason: String },
}

/// Build the analytics a camera's kind asks for.
pub fn build_analytics(
    cfg: &Config,
    cam: &CameraConfig,
) -> Result<Vec<Box<dyn Analytic>>, PipelineError> {
    let mut out: Vec<Box<dyn Analytic>> = Vec::new();
    match cam.kind {
        CameraKind::Facade => {
            let a = FallingAnalytic::new(&cam.name, &cam.facade_or_default()).map_err(|e| {
                PipelineError::Analytic {
                    camera: cam.name.clone(),
                    analytic: "falling_object",
                    reason: e.to_string(),
                }
            })?;
            out.push(Box::new(a));
        }
        CameraKind::Elevator => {
            let a = EbikeAnalytic::new(&cam.name, &cam.elevator_or_default(), &cfg.base_dir)
                .map_err(|e| PipelineError::Analytic {
                    camera: cam.name.clone(),
                    analytic: "ebike_in_elevator",
                    reason: e.to_string(),
                })?;
            out.push(Box::new(a));
        }
    }
    Ok(out)
}

/// Ingest options for a camera (analysis size, colour if any analytic needs it).
pub fn ingest_options(
    cfg: &Config,
    cam: &CameraConfig,
    analytics: &[Box<dyn Analytic>],
) -> IngestOptions {
    IngestOptions {
        analysis_size: cam.analysis_size.map(|[w, h]| (w, h)),
        want_rgb: analytics.iter().any(|a| a.needs_rgb()),
        convert: true,
        realtime: cam.realtime,
        io_timeout_s: cam.io_timeout_s,
        decode_threads: cam.decode_threads,
        // The ring must hold pre-roll + a long event + post-roll.
        ring_s: cfg
            .node
            .ring_s
            .max(cfg.node.pre_roll_s + cfg.node.post_roll_s + 10.0),
    }
}

/// Receives what the pipeline produces.
pub trait EventSink {
    /// The alarm, as soon as an analytic raises it (no evidence yet).
    fn on_alarm(&mut self, _event: &Event) {}
    /// The analytic ended the event; its evidence (the clip's post-roll) is still to come.
    fn on_end(&mut self, _event: &Event) {}
    /// The complete event, after its evidence is written (or failed to be written).
    fn on_complete(&mut self, event: &Event);
}

impl<F: FnMut(&Event)> EventSink for F {
    fn on_complete(&mut self, event: &Event) {
        self(event)
    }
}

/// Time spent per stage, and counts, for one run.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RunStats {
    pub frames: u64,
    pub media_s: f64,
    pub wall_s: f64,
    pub demux_s: f64,
    pub decode_s: f64,
    pub convert_s: f64,
    /// Per analytic: (name, seconds).
    pub analyse_s: Vec<(String, f64)>,
    pub evidence_s: f64,
    pub events: u64,
    pub decode_errors: u64,
    pub width: u32,
    pub height: u32,
}

impl RunStats {
    pub fn fps(&self) -> f64 {
        if self.wall_s > 0.0 {
            self.frames as f64 / self.wall_s
        } else {
            0.0
        }
    }
}

struct PendingClip {
    event: Event,
    dir: Option<PathBuf>,
    clip_from: f64,
    clip_to: f64,
}

/// Turns analytic updates into complete events with evidence. Owns no frame source, so the
/// same code serves files and live cameras.
pub struct EventAssembler {
    camera: String,
    pre_roll_s: f64,
    post_roll_s: f64,
    evidence_dir: Option<PathBuf>,
    pending: Vec<PendingClip>,
    /// Evidence encryption key (`[evidence] encrypt = "sm4"`); `None`: plaintext evidence.
    seal: Option<Arc<EvidenceKey>>,
    pub evidence_time: Duration,
    pub events: u64,
}

impl EventAssembler {
    pub fn new(cfg: &Config, camera: &str, evidence_dir: Option<PathBuf>) -> Self {
        EventAssembler {
            camera: camera.to_string(),
            pre_roll_s: cfg.node.pre_roll_s,
            post_roll_s: cfg.node.post_roll_s,
            evidence_dir,
            pending: Vec::new(),
            seal: None,
            evidence_time: Duration::ZERO,
            events: 0,
        }
    }

    /// Claim this event's evidence folder: `<camera>/<kind>-<id>-<UTC time>`, created
    /// exclusively (see [`evidence::claim_event_dir`]) so that no restart can write into an
    /// older event's folder. A folder that cannot be made leaves the event without evidence
    /// (logged), never without its alarm.
    /// Seal every evidence file written from now on with `key` (`None`: plaintext).
    pub fn with_seal_key(mut self, key: Option<Arc<EvidenceKey>>) -> Self {
        self.seal = key;
        self
    }

    fn event_dir(&self, ev: &Event) -> Option<PathBuf> {
        let kind = match ev.kind {
            EventKind::FallingObject => "falling",
            EventKind::EbikeInElevator => "ebike",
        };
        let parent = self.evidence_dir.as_ref()?.join(&self.camera);
        match evidence::claim_event_dir(
            &parent,
            &format!("{kind}-{:04}", ev.id),
            chrono::Utc::now(),
        ) {
            Ok(dir) => Some(dir),
            Err(e) => {
                tracing::error!(camera = %self.camera, event = ev.id, error = %e, "cannot create the evidence folder; event kept without evidence");
                None
            }
        }
    }

    /// Handle one analytic's updates (pictures are saved now; clips wait for the post-roll).
    pub fn handle(&mut self, updates: Vec<EventUpdate>, sink: &mut dyn EventSink) {
        for u in updates {
            match u.phase {
                Phase::New => sink.on_alarm(&u.event),
                Phase::Update => {}
                Phase::End => {
                    sink.on_end(&u.event);
                    let t0 = Instant::now();
                    let mut event = u.event;
                    let dir = self.event_dir(&event);
                    if let Some(dir) = &dir {
                        let mut paths = EvidencePaths::default();
                        for pic in &u.pictures {
                            let path = dir.join(&pic.name);
                            match evidence::draw::save_picture(
                                &path,
                                &pic.image,
                                self.seal.as_ref(),
                            ) {
                                Ok(_) => {
                                    let s = path.display().to_string();
                                    // Other pictures (e.g. the clean frame kept for
                                    // dataset export) are saved but not indexed.
                                    if pic.name.starts_with("trajectory") {
                                        paths.trajectory = Some(s);
                                    } else if pic.name.starts_with("snapshot") {
                                        paths.snapshot = Some(s);
                                    }
                                }
                                Err(e) => {
                                    tracing::error!(camera = %self.camera, error = %e, "cannot save evidence picture")
                                }
                            }
                        }
                        event.evidence = Some(paths);
                    }
                    self.evidence_time += t0.elapsed();
                    self.pending.push(PendingClip {
                        clip_from: event.start_s - self.pre_roll_s,
                        clip_to: event.end_s + self.post_roll_s,
                        event,
                        dir,
                    });
                }
            }
        }
    }

    /// Cut the clips whose post-roll has arrived (`now_s`), or all of them at end of stream.
    pub fn flush(
        &mut self,
        now_s: f64,
        ring: Option<&PacketRing>,
        end_of_stream: bool,
        sink: &mut dyn EventSink,
    ) {
        if self.pending.is_empty() {
            return;
        }
        let t0 = Instant::now();
        let mut keep = Vec::new();
        for mut p in std::mem::take(&mut self.pending) {
            if !end_of_stream && now_s < p.clip_to {
                keep.push(p);
                continue;
            }
            if let (Some(dir), Some(ring)) = (&p.dir, ring) {
                let path = dir.join("clip.mp4");
                match ring.cut(p.clip_from, p.clip_to) {
                    Some(packets) => match write_mp4(&path, &packets, self.seal.as_ref()) {
                        Ok(info) => {
                            tracing::debug!(camera = %self.camera, clip = %info.path.display(), start = info.start_s, end = info.end_s, "clip written");
                            if let Some(ev) = p.event.evidence.as_mut() {
                                ev.clip = Some(path.display().to_string());
                            }
                        }
                        Err(e) => {
                            tracing::error!(camera = %self.camera, error = %e, "cannot write evidence clip")
                        }
                    },
                    None => {
                        tracing::warn!(camera = %self.camera, from = p.clip_from, to = p.clip_to, "no packets in the ring for the clip")
                    }
                }
            }
            if let Some(dir) = &p.dir {
                match serde_json::to_vec_pretty(&p.event) {
                    Ok(bytes) => {
                        if let Err(e) = evidence::write_atomic(&dir.join("event.json"), &bytes) {
                            tracing::error!(camera = %self.camera, error = %e, "cannot write event.json");
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "cannot serialise event"),
                }
            }
            self.events += 1;
            sink.on_complete(&p.event);
        }
        self.pending = keep;
        self.evidence_time += t0.elapsed();
    }
}

#[derive(Clone, Debug, Default)]
pub struct AnalyzeOptions {
    /// Where evidence (clips, pictures, event.json) goes; none = no evidence.
    pub evidence_dir: Option<PathBuf>,
    /// Skip colour/grey conversion and analytics (decode-only benchmark).
    pub decode_only: bool,
    /// Run the camera's analytics (false = decode + convert only).
    pub analytics: bool,
}

impl AnalyzeOptions {
    pub fn full(evidence_dir: Option<PathBuf>) -> Self {
        AnalyzeOptions {
            evidence_dir,
            decode_only: false,
            analytics: true,
        }
    }
}

fn check_evidence_dir(dir: &Path) -> Result<(), PipelineError> {
    let err = |reason: String| PipelineError::EvidenceDir {
        path: dir.to_path_buf(),
        reason,
    };
    std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    let probe = dir.join(".vigil-write-test");
    std::fs::write(&probe, b"ok").map_err(|e| err(format!("not writable: {e}")))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Run a camera's analytics over a recorded clip as fast as it decodes.
pub fn analyze_file(
    cfg: &Config,
    cam: &CameraConfig,
    clip: &Path,
    opts: &AnalyzeOptions,
    sink: &mut dyn EventSink,
) -> Result<RunStats, PipelineError> {
    let mut analytics = if opts.analytics && !opts.decode_only {
        build_analytics(cfg, cam)?
    } else {
        Vec::new()
    };
    if let Some(d) = &opts.evidence_dir {
        check_evidence_dir(d)?;
    }
    let mut iopts = ingest_options(cfg, cam, &analytics);
    iopts.realtime = false;
    iopts.convert = !opts.decode_only;
    let counters = Arc::new(Counters::default());
    let url = clip.to_string_lossy().to_string();
    let mut source = MediaSource::open(&url, &iopts, counters.clone())?;
    let mut asm = EventAssembler::new(cfg, &cam.name, opts.evidence_dir.clone());
    let mut analyse = vec![Duration::ZERO; analytics.len()];
    let mut stats = RunStats {
        width: source.info().analysis_width,
        height: source.info().analysis_height,
        ..Default::default()
    };
    let start = Instant::now();
    let mut last_pts = 0.0;
    while let Some(frame) = source.next_frame()? {
        stats.frames += 1;
        last_pts = frame.pts_s;
        run_analytics(&mut analytics, &frame, &mut analyse, &mut asm, sink);
        asm.flush(frame.pts_s, Some(source.ring()), false, sink);
    }
    finish_analytics(
        &mut analytics,
        &mut analyse,
        &mut asm,
        last_pts,
        Some(source.ring()),
        sink,
    );
    stats.wall_s = start.elapsed().as_secs_f64();
    stats.media_s = last_pts;
    let StageTimes {
        demux,
        decode,
        convert,
    } = source.times();
    stats.demux_s = demux.as_secs_f64();
    stats.decode_s = decode.as_secs_f64();
    stats.convert_s = convert.as_secs_f64();
    stats.analyse_s = analytics
        .iter()
        .zip(&analyse)
        .map(|(a, d)| (a.name().to_string(), d.as_secs_f64()))
        .collect();
    stats.evidence_s = asm.evidence_time.as_secs_f64();
    stats.events = asm.events;
    stats.decode_errors = counters.snapshot().decode_errors;
    Ok(stats)
}

/// Feed one frame to every analytic and hand their updates to the assembler.
pub fn run_analytics(
    analytics: &mut [Box<dyn Analytic>],
    frame: &Frame,
    times: &mut [Duration],
    asm: &mut EventAssembler,
    sink: &mut dyn EventSink,
) {
    for (i, a) in analytics.iter_mut().enumerate() {
        let t0 = Instant::now();
        let ups = a.on_frame(frame);
        times[i] += t0.elapsed();
        if !ups.is_empty() {
            asm.handle(ups, sink);
        }
    }
}

/// End of stream: close every analytic's open events and cut all pending clips.
pub fn finish_analytics(
    analytics: &mut [Box<dyn Analytic>],
    times: &mut [Duration],
    asm: &mut EventAssembler,
    last_pts: f64,
    ring: Option<&PacketRing>,
    sink: &mut dyn EventSink,
) {
    for (i, a) in analytics.iter_mut().enumerate() {
        let t0 = Instant::now();
        let ups = a.finish();
        times[i] += t0.elapsed();
        asm.handle(ups, sink);
    }
    asm.flush(last_pts, ring, true, sink);
}
