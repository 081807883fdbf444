//! The node's camera supervisor: one thread per camera running the pipeline on a live source.
//! A failing camera logs, reconnects with backoff and never stops the others.
//!
//! Each camera thread also keeps a small JPEG of its latest analysed frame (the health board's
//! thumbnail) and takes new analytic settings from a configuration reload between two frames
//! ([`NodeControl::reload`]): zones, masks, thresholds and actions change without a restart;
//! what needs one (sources, addresses, data dir, cameras added or removed) is reported.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::actions::CameraActions;
use super::queue::{frame_queue, FrameReceiver, Pushed, StageCounters, ANALYSIS_QUEUE_FRAMES};
use super::status::{CameraState, CameraStatus, ReloadError, ReloadReport, Thumbnail};
use crate::analytics::Analytic;
use crate::clock::Clock;
use crate::config::{CameraConfig, Config};
use crate::events::{Event, EventUpdate, Phase};
use crate::evidence::crypt::EvidenceKey;
use crate::frame::Frame;
use crate::ingest::{CounterSnapshot, Counters, LiveOptions, LiveSource};
use crate::pipeline::{build_analytics, ingest_options, EventAssembler, EventSink};

/// How often a camera refreshes its thumbnail.
pub const THUMBNAIL_EVERY: Duration = Duration::from_secs(3);
/// Longest side of a thumbnail, in pixels.
pub const THUMBNAIL_MAX_SIDE: u32 = 320;
/// A camera whose last frame is older than this does not count as online.
const FRESH_S: f64 = 5.0;
/// How often a camera's rates (fps, inference time) are recomputed.
const RATE_WINDOW: Duration = Duration::from_secs(2);
/// Test-only: milliseconds of sleep added to every frame's analysis, to make a camera fall
/// behind its source on purpose (`tests/api.rs::a_camera_that_falls_behind_drops_frames`).
pub const ANALYSIS_DELAY_ENV: &str = "VIGIL_TEST_ANALYSIS_DELAY_MS";
/// Test setting `CAMERA:N`: that camera's analysis panics at its N-th frame after every
/// (re)start, so a fault test can watch the supervisor in a real process while the other
/// cameras keep running.
pub const PANIC_CAMERA_ENV: &str = "VIGIL_TEST_PANIC_CAMERA";

/// What a camera thread reports upward.
#[derive(Clone, Debug)]
pub enum NodeEvent {
    /// An alarm, as soon as it is raised.
    Alarm(Event),
    /// The analytic ended the event (its clip waits for the post-roll): clear actions fire now.
    Ended(Event),
    /// The complete event with its evidence.
    Complete(Event),
}

/// Live per-camera figures for the API and metrics.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CameraLive {
    pub name: String,
    pub kind: String,
    /// The thread's own state.
    pub state: ThreadState,
    pub input_fps: f64,
    pub analysed_fps: f64,
    /// Mean model inference time per run over the last window with runs.
    pub infer_ms: Option<f64>,
    pub last_error: Option<String>,
    /// Configuration generation whose analytic settings this camera runs.
    pub generation: u64,
    /// Times the camera thread panicked and was restarted since the node started.
    pub restarts: u64,
    /// The last picture-vs-calibration check (facade cameras).
    pub calibration: Option<crate::analytics::drift::Drift>,
}

/// What a camera thread is doing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ThreadState {
    #[default]
    Starting,
    Online,
    /// After a panic, waiting to start the camera again.
    Restarting,
    /// The source ended (a file without `loop`).
    Ended,
    /// The source failed for good or the node is stopping.
    Stopped,
    /// The camera's analytics could not start.
    Error,
}

/// The state the API shows: `online`, `reconnecting` or `offline`.
pub fn camera_state(live: &CameraLive, snap: &CounterSnapshot) -> CameraState {
    use ThreadState as T;
    if matches!(live.state, T::Ended | T::Stopped | T::Error) {
        return CameraState::Offline;
    }
    // A camera thread that panicked is being restarted: the same as a source being retried.
    if live.state == T::Restarting {
        return CameraState::Reconnecting;
    }
    let fresh = snap.last_frame_age_s.is_some_and(|a| a < FRESH_S);
    if snap.online && fresh {
        CameraState::Online
    } else if snap.reconnecting() {
        CameraState::Reconnecting
    } else {
        CameraState::Offline
    }
}

/// New analytic settings for one camera, built and checked before they are sent.
struct CameraUpdate {
    generation: u64,
    analytics: Vec<Box<dyn Analytic>>,
    /// What they were built from, for a camera thread restarted after a panic.
    settings: Arc<Applied>,
}

/// The configuration a camera's analytics were last built from by a reload.
struct Applied {
    generation: u64,
    cfg: Config,
    cam: CameraConfig,
}

/// What the API and the status task may read about one camera (cheap to clone).
#[derive(Clone)]
pub struct CameraProbe {
    pub name: String,
    pub counters: Arc<Counters>,
    pub stages: Arc<StageCounters>,
    pub live: Arc<Mutex<CameraLive>>,
    pub thumbnail: Arc<Mutex<Option<Thumbnail>>>,
}

impl CameraProbe {
    /// The camera's status as `/api/v1/cameras` shows it.
    pub fn status(&self) -> CameraStatus {
        let snap = self.counters.snapshot();
        let st = self.stages.snapshot();
        let l = self.live.lock().map(|l| l.clone()).unwrap_or_default();
        let state = camera_state(&l, &snap);
        let online = state == CameraState::Online;
        CameraStatus {
            name: self.name.clone(),
            kind: l.kind.clone(),
            online,
            input_fps: if online { l.input_fps } else { 0.0 },
            analysed_fps: if online { l.analysed_fps } else { 0.0 },
            decode_errors: snap.decode_errors,
            reconnects: snap.reconnects,
            restarts: l.restarts,
            last_frame_age_s: snap.last_frame_age_s,
            queue_depth: st.queue_depth,
            infer_ms: l.infer_ms,
            frames_received: st.received,
            frames_analysed: st.analysed,
            frames_dropped: st.dropped,
            analysis_s: st.analysis_s,
            inference_runs: st.inference_runs,
            inference_s: st.inference_s,
            state,
            last_error: l.last_error.clone(),
            calibration_check: l.calibration,
            thumbnail_url: None,
            thumbnail_at_ms: None,
            config_generation: l.generation,
        }
    }

    /// The latest thumbnail, if one was taken.
    pub fn thumbnail(&self) -> Option<Thumbnail> {
        self.thumbnail.lock().ok().and_then(|t| t.clone())
    }
}

pub struct CameraHandle {
    pub name: String,
    pub counters: Arc<Counters>,
    pub stages: Arc<StageCounters>,
    pub live: Arc<Mutex<CameraLive>>,
    pub thumbnail: Arc<Mutex<Option<Thumbnail>>>,
    thread: Option<JoinHandle<()>>,
}

impl CameraHandle {
    pub fn probe(&self) -> CameraProbe {
        CameraProbe {
            name: self.name.clone(),
            counters: self.counters.clone(),
            stages: self.stages.clone(),
            live: self.live.clone(),
            thumbnail: self.thumbnail.clone(),
        }
    }
}

pub struct Node {
    pub cameras: Vec<CameraHandle>,
    stop: Arc<AtomicBool>,
    control: Arc<NodeControl>,
}

/// The decode stage's sink: sends ends and complete events upward and forgets completed
/// alarms. Alarms themselves are sent by the analysis stage the moment they are raised (the
/// decode stage may be waiting on the camera).
struct ChannelSink<'a> {
    tx: Sender<NodeEvent>,
    shared: &'a Mutex<OpenAlarms>,
}

impl EventSink for ChannelSink<'_> {
    fn on_alarm(&mut self, _event: &Event) {}
    fn on_end(&mut self, event: &Event) {
        let _ = self.tx.send(NodeEvent::Ended(event.clone()));
    }
    fn on_complete(&mut self, event: &Event) {
        if let Ok(mut s) = self.shared.lock() {
            s.open.remove(&event.id);
        }
        let _ = self.tx.send(NodeEvent::Complete(event.clone()));
    }
}

impl Node {
    /// Start every camera. Cameras whose analytics cannot start are reported and skipped.
    /// `seal`: the evidence encryption key when `[evidence] encrypt = "sm4"`.
    pub fn start(
        cfg: &Config,
        evidence_dir: PathBuf,
        seal: Option<Arc<EvidenceKey>>,
        tx: Sender<NodeEvent>,
    ) -> Node {
        let stop = Arc::new(AtomicBool::new(false));
        let mut cameras = Vec::new();
        let mut senders = HashMap::new();
        let analysis_delay = std::env::var(ANALYSIS_DELAY_ENV)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_millis)
            .unwrap_or_default();
        if !analysis_delay.is_zero() {
            tracing::warn!(delay = ?analysis_delay, "{ANALYSIS_DELAY_ENV} is set: every frame's analysis is slowed down (a test setting)");
        }
        let panic_camera: Option<(String, u64)> =
            std::env::var(PANIC_CAMERA_ENV).ok().and_then(|v| {
                let (name, n) = v.rsplit_once(':')?;
                Some((name.to_string(), n.parse().ok()?))
            });
        if let Some((name, n)) = &panic_camera {
            tracing::warn!(camera = %name, frame = n, "{PANIC_CAMERA_ENV} is set: that camera's analysis panics (a test setting)");
        }
        for cam in &cfg.cameras {
            let counters = Arc::new(Counters::default());
            let stages = Arc::new(StageCounters::default());
            let live = Arc::new(Mutex::new(CameraLive {
                name: cam.name.clone(),
                kind: cam.kind.as_str().into(),
                state: ThreadState::Starting,
                ..Default::default()
            }));
            let thumbnail = Arc::new(Mutex::new(None));
            let (utx, urx) = std::sync::mpsc::channel();
            senders.insert(cam.name.clone(), utx);
            let ctx = CameraContext {
                cfg: cfg.clone(),
                cam: cam.clone(),
                counters: counters.clone(),
                stages: stages.clone(),
                live: live.clone(),
                thumbnail: thumbnail.clone(),
                stop: stop.clone(),
                tx: tx.clone(),
                evidence_dir: evidence_dir.clone(),
                seal: seal.clone(),
                updates: Mutex::new(urx),
                analysis_delay,
                clock: crate::clock::system(),
                panic_at: panic_camera
                    .as_ref()
                    .filter(|(name, _)| *name == cam.name)
                    .map(|(_, n)| *n),
            };
            let thread = std::thread::Builder::new()
                .name(format!("cam-{}", cam.name))
                .spawn(move || supervise_camera(ctx))
                .ok();
            if thread.is_none() {
                tracing::error!(camera = %cam.name, "cannot spawn camera thread");
            }
            cameras.push(CameraHandle {
                name: cam.name.clone(),
                counters,
                stages,
                live,
                thumbnail,
                thread,
            });
        }
        let control = Arc::new(NodeControl {
            state: Mutex::new(ControlState {
                effective: cfg.clone(),
                generation: 0,
                senders,
            }),
        });
        Node {
            cameras,
            stop,
            control,
        }
    }

    pub fn camera_status(&self) -> HashMap<String, (CameraLive, CounterSnapshot)> {
        self.cameras
            .iter()
            .map(|c| {
                let live = c.live.lock().map(|l| l.clone()).unwrap_or_default();
                (c.name.clone(), (live, c.counters.snapshot()))
            })
            .collect()
    }

    /// Read access to every camera, for the status task.
    pub fn probes(&self) -> Vec<CameraProbe> {
        self.cameras.iter().map(CameraHandle::probe).collect()
    }

    /// The handle that reloads configuration into the running cameras.
    pub fn control(&self) -> Arc<NodeControl> {
        self.control.clone()
    }

    /// Ask every camera to stop and wait for them (they flush pending clips first).
    pub fn shutdown(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for c in &mut self.cameras {
            if let Some(t) = c.thread.take() {
                let _ = t.join();
            }
        }
    }
}

// ---------- configuration reload ----------

struct ControlState {
    /// The running configuration: the start-up one with reloaded analytic settings.
    effective: Config,
    generation: u64,
    senders: HashMap<String, Sender<CameraUpdate>>,
}

/// Applies configuration reloads to a running node.
pub struct NodeControl {
    state: Mutex<ControlState>,
}

/// Keys of a camera table that apply live: the analytic settings.
const LIVE_CAMERA_KEYS: [&str; 2] = ["facade", "elevator"];

fn as_object(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// Keys of two objects whose values differ (a key on one side only counts).
fn changed_keys(
    old: &serde_json::Map<String, serde_json::Value>,
    new: &serde_json::Map<String, serde_json::Value>,
) -> Vec<String> {
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .cloned()
        .collect()
}

/// Compare the running configuration with a new one: which settings apply live, which need a
/// restart, and the new analytic settings per camera.
fn diff_configs(old: &Config, new: &Config) -> (Vec<String>, Vec<String>, Vec<CameraConfig>) {
    let (mut applied, mut restart, mut cams) = (Vec::new(), Vec::new(), Vec::new());
    let ov = as_object(serde_json::to_value(old).unwrap_or_default());
    let nv = as_object(serde_json::to_value(new).unwrap_or_default());
    for key in changed_keys(&ov, &nv) {
        if key == "camera" {
            continue;
        }
        match (ov.get(&key), nv.get(&key)) {
            (Some(serde_json::Value::Object(a)), Some(serde_json::Value::Object(b))) => {
                restart.extend(changed_keys(a, b).into_iter().map(|k| format!("{key}.{k}")));
            }
            _ => restart.push(key),
        }
    }
    for c in &old.cameras {
        if !new.cameras.iter().any(|n| n.name == c.name) {
            restart.push(format!("camera.{} (removed)", c.name));
        }
    }
    for n in &new.cameras {
        let Some(o) = old.cameras.iter().find(|o| o.name == n.name) else {
            restart.push(format!("camera.{} (added)", n.name));
            continue;
        };
        let a = as_object(serde_json::to_value(o).unwrap_or_default());
        let b = as_object(serde_json::to_value(n).unwrap_or_default());
        let keys = changed_keys(&a, &b);
        // Another kind is another analytic and pipeline: all of it waits for a restart.
        let kind_changed = o.kind != n.kind;
        let mut live = false;
        for k in keys {
            if !kind_changed && LIVE_CAMERA_KEYS.contains(&k.as_str()) {
                applied.push(format!("camera.{}.{k}", n.name));
                live = true;
            } else {
                restart.push(format!("camera.{}.{k}", n.name));
            }
        }
        if live {
            let mut next = o.clone();
            next.facade = n.facade.clone();
            next.elevator = n.elevator.clone();
            cams.push(next);
        }
    }
    (applied, restart, cams)
}

impl NodeControl {
    /// Apply `new` (already parsed and validated): analytic settings of existing cameras go to
    /// their threads; everything else is reported as needing a restart. Nothing changes when a
    /// camera's new analytics cannot be built.
    pub fn reload(&self, new: &Config) -> Result<ReloadReport, ReloadError> {
        let mut st = self
            .state
            .lock()
            .map_err(|_| ReloadError::Unavailable("node state poisoned".into()))?;
        let (applied, restart_required, cams) = diff_configs(&st.effective, new);
        // Build everything first: a camera whose analytics fail leaves all cameras as they are.
        let mut effective = st.effective.clone();
        let mut built = Vec::new();
        for cam in &cams {
            if let Some(slot) = effective.cameras.iter_mut().find(|c| c.name == cam.name) {
                *slot = cam.clone();
            }
        }
        for cam in &cams {
            built.push((cam.clone(), build_analytics(&effective, cam)?));
        }
        if !applied.is_empty() {
            st.generation += 1;
        }
        let generation = st.generation;
        for (cam, analytics) in built {
            let name = cam.name.clone();
            let sent = st.senders.get(&name).map(|tx| {
                tx.send(CameraUpdate {
                    generation,
                    analytics,
                    settings: Arc::new(Applied {
                        generation,
                        cfg: effective.clone(),
                        cam,
                    }),
                })
            });
            if !matches!(sent, Some(Ok(()))) {
                tracing::warn!(camera = %name, "camera is not running; new settings take effect at the next start");
            }
        }
        st.effective = effective;
        let report = ReloadReport {
            generation,
            applied,
            restart_required,
        };
        tracing::info!(generation, applied = ?report.applied, "configuration reloaded");
        if !report.restart_required.is_empty() {
            tracing::warn!(settings = ?report.restart_required, "changed settings need a restart to take effect");
        }
        Ok(report)
    }

    /// Read, validate and apply the config file at `path`.
    pub fn reload_file(&self, path: &Path) -> Result<ReloadReport, ReloadError> {
        let new = Config::load(path)?;
        self.reload(&new)
    }

    /// The running configuration (start-up settings with the reloaded analytic ones).
    pub fn effective_config(&self) -> Option<Config> {
        self.state.lock().ok().map(|st| st.effective.clone())
    }

    /// The running configuration's cameras and their analytic settings (no source URLs, no
    /// credentials in action URLs).
    pub fn effective(&self) -> serde_json::Value {
        let Ok(st) = self.state.lock() else {
            return serde_json::json!({ "error": "node state poisoned" });
        };
        let cameras: Vec<serde_json::Value> = st
            .effective
            .cameras
            .iter()
            .map(|c| {
                let mut elevator = serde_json::to_value(&c.elevator).unwrap_or_default();
                if let Some(actions) = elevator
                    .get_mut("actions")
                    .and_then(serde_json::Value::as_array_mut)
                {
                    for a in actions {
                        if let Some(u) = a.get("url").and_then(serde_json::Value::as_str) {
                            let r = crate::ingest::redact_url(u);
                            a["url"] = serde_json::Value::String(r);
                        }
                        if let Some(o) = a.as_object_mut() {
                            o.remove("body");
                        }
                    }
                }
                serde_json::json!({
                    "name": c.name,
                    "kind": c.kind,
                    "facade": c.facade,
                    "elevator": elevator,
                })
            })
            .collect();
        serde_json::json!({ "generation": st.generation, "cameras": cameras })
    }
}

/// [`crate::service::ConfigReloader`] over a config file.
/// The cameras' actions are reloaded with their analytic settings.
pub struct FileReloader {
    pub path: PathBuf,
    pub control: Arc<NodeControl>,
    pub actions: Arc<CameraActions>,
}

impl crate::service::ConfigReloader for FileReloader {
    fn reload(&self) -> Result<ReloadReport, ReloadError> {
        let report = self.control.reload_file(&self.path)?;
        // Outside the node's lock: retiring a runner waits for its queued calls.
        if let Some(cfg) = self.control.effective_config() {
            self.actions.update(&cfg);
        }
        Ok(report)
    }
    fn effective(&self) -> serde_json::Value {
        self.control.effective()
    }
    fn config_path(&self) -> Option<PathBuf> {
        Some(self.path.clone())
    }
    fn current(&self) -> Option<Config> {
        self.control.effective_config()
    }
}

// ---------- thumbnails ----------

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// How often a facade camera's picture is compared with its calibration's: every minute, or
/// `VIGIL_DRIFT_EVERY_S` seconds (tests).
fn drift_interval() -> Duration {
    std::env::var("VIGIL_DRIFT_EVERY_S")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.1)
        .map_or(Duration::from_secs(60), Duration::from_secs_f64)
}

/// The frame downscaled to at most [`THUMBNAIL_MAX_SIDE`] and encoded as JPEG (colour when the
/// frame carries colour, grey otherwise). `None` for an empty or inconsistent frame.
pub fn make_thumbnail(frame: &Frame) -> Option<Thumbnail> {
    let (w, h) = (frame.width, frame.height);
    if w == 0 || h == 0 {
        return None;
    }
    let scale = (THUMBNAIL_MAX_SIDE as f64 / w.max(h) as f64).min(1.0);
    let tw = ((w as f64 * scale).round() as u32).max(1);
    let th = ((h as f64 * scale).round() as u32).max(1);
    let mut jpeg = Vec::new();
    let mut full = Vec::new();
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 75);
    let mut enc_full = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut full, 85);
    let (res, full_ok) = match &frame.rgb {
        Some(rgb) => {
            let img = image::RgbImage::from_raw(w, h, rgb.clone())?;
            let small = image::imageops::thumbnail(&img, tw, th);
            (
                enc.encode_image(&small),
                enc_full.encode_image(&img).is_ok(),
            )
        }
        None => {
            let img = image::GrayImage::from_raw(w, h, frame.gray.clone())?;
            let small = image::imageops::thumbnail(&img, tw, th);
            (
                enc.encode_image(&small),
                enc_full.encode_image(&img).is_ok(),
            )
        }
    };
    if let Err(e) = res {
        tracing::debug!(error = %e, "cannot encode thumbnail");
        return None;
    }
    Some(Thumbnail {
        jpeg: Arc::new(jpeg),
        at_ms: now_ms(),
        width: tw,
        height: th,
        full: full_ok.then(|| Arc::new(full)),
        full_size: [w, h],
    })
}

// ---------- the camera thread ----------

fn set_state(live: &Mutex<CameraLive>, f: impl FnOnce(&mut CameraLive)) {
    if let Ok(mut l) = live.lock() {
        f(&mut l);
    }
}

struct CameraContext {
    cfg: Config,
    cam: CameraConfig,
    counters: Arc<Counters>,
    stages: Arc<StageCounters>,
    live: Arc<Mutex<CameraLive>>,
    thumbnail: Arc<Mutex<Option<Thumbnail>>>,
    stop: Arc<AtomicBool>,
    tx: Sender<NodeEvent>,
    evidence_dir: PathBuf,
    /// Evidence encryption key, when encryption is on.
    seal: Option<Arc<EvidenceKey>>,
    /// Reloaded analytic settings; read by the analysis stage (a thread of its own).
    updates: Mutex<Receiver<CameraUpdate>>,
    /// Test-only slowdown of every frame's analysis ([`ANALYSIS_DELAY_ENV`]).
    analysis_delay: Duration,
    /// Restart backoff, reconnect backoff and stall detection run on it.
    clock: Arc<dyn Clock>,
    /// Test setting ([`PANIC_CAMERA_ENV`]): panic at this frame of every run.
    panic_at: Option<u64>,
}

/// Event numbers stay unique across analytic rebuilds: a rebuilt analytic counts from 1
/// again, so its ids are shifted past every id handed out before.
#[derive(Default)]
struct IdShift {
    offset: u64,
    max_seen: u64,
}

impl IdShift {
    fn apply(&mut self, ups: &mut [EventUpdate]) {
        for u in ups {
            u.event.id += self.offset;
            self.max_seen = self.max_seen.max(u.event.id);
        }
    }
}

/// What outlives one run of a camera thread's body: event numbering (the store keys events
/// by camera and number, so a restarted body must not reuse numbers) and the alarms still open.
#[derive(Default)]
struct Supervision {
    ids: IdShift,
    /// Shared by the decode and analysis stages.
    shared: Mutex<OpenAlarms>,
    /// The last reload's settings: a restarted body builds its analytics from these, not from
    /// the start-up configuration.
    applied: Option<Arc<Applied>>,
}

/// Alarms raised and not complete yet, and the media time of the last analysed frame.
#[derive(Default)]
struct OpenAlarms {
    open: HashMap<u64, Event>,
    last_pts: f64,
}

/// Longest wait between two restarts of a camera thread that keeps panicking.
const RESTART_MAX: Duration = Duration::from_secs(30);

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Run `body` until it returns; a panic in it is logged with the camera's name, its open
/// alarms are closed (ended at the last media time seen, without evidence), and it is started
/// again after a backoff (1 s doubling to [`RESTART_MAX`]) unless the node is stopping. One
/// camera's bad stream or bug never takes the others down, and never leaves alarms open.
fn supervise(
    name: &str,
    live: &Mutex<CameraLive>,
    stop: &AtomicBool,
    tx: &Sender<NodeEvent>,
    clock: &dyn Clock,
    mut body: impl FnMut(&mut Supervision),
) {
    let mut sup = Supervision::default();
    let mut backoff = Duration::from_secs(1);
    loop {
        let started = clock.now();
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&mut sup)));
        let Err(payload) = res else { return };
        let msg = panic_message(payload.as_ref());
        let restarts = {
            let mut n = 0;
            set_state(live, |l| {
                l.restarts += 1;
                n = l.restarts;
                l.state = ThreadState::Restarting;
                l.last_error = Some(format!("camera thread panicked: {msg}"));
            });
            n
        };
        tracing::error!(camera = %name, panic = %msg, restarts, "camera thread panicked; restarting it");
        // A panic while the lock was held leaves the map as it was; it is still the best record.
        let shared = sup.shared.get_mut().unwrap_or_else(|p| p.into_inner());
        let last_pts = shared.last_pts;
        let mut open: Vec<Event> = shared.open.drain().map(|(_, e)| e).collect();
        open.sort_by_key(|e| e.id);
        for mut ev in open {
            ev.end_s = ev.end_s.max(last_pts);
            ev.evidence = None;
            tracing::warn!(camera = %name, event = ev.id, "closing an alarm the crashed camera left open");
            let _ = tx.send(NodeEvent::Complete(ev));
        }
        // Numbers handed out before the panic stay used.
        sup.ids.offset = sup.ids.max_seen;
        // A body that ran a good while before failing starts over with a short wait.
        if clock.now().saturating_duration_since(started) > RESTART_MAX * 4 {
            backoff = Duration::from_secs(1);
        }
        let until = clock.now() + backoff;
        loop {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let left = until.saturating_duration_since(clock.now());
            if left.is_zero() {
                break;
            }
            clock.sleep(left.min(Duration::from_millis(50)));
        }
        backoff = (backoff * 2).min(RESTART_MAX);
    }
}

fn supervise_camera(ctx: CameraContext) {
    let name = ctx.cam.name.clone();
    let (live, stop, tx) = (ctx.live.clone(), ctx.stop.clone(), ctx.tx.clone());
    let clock = ctx.clock.clone();
    supervise(&name, &live, &stop, &tx, clock.as_ref(), |sup| {
        run_camera(&ctx, sup)
    });
}

fn run_camera(ctx: &CameraContext, sup: &mut Supervision) {
    let CameraContext {
        counters,
        stages,
        live,
        stop,
        tx,
        evidence_dir,
        seal,
        ..
    } = ctx;
    // After a panic, the settings of the last reload (if any) are the camera's settings.
    let applied = sup.applied.clone();
    let (cfg, cam, generation) = match &applied {
        Some(a) => (&a.cfg, &a.cam, a.generation),
        None => (&ctx.cfg, &ctx.cam, 0),
    };
    set_state(live, |l| l.generation = generation);
    let analytics = match build_analytics(cfg, cam) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(camera = %cam.name, error = %e, "camera disabled");
            set_state(live, |l| {
                l.state = ThreadState::Error;
                l.last_error = Some(e.to_string());
            });
            return;
        }
    };
    let opts = ingest_options(cfg, cam, &analytics);
    let url = if cam.is_network() {
        cam.source.clone()
    } else {
        cfg.resolve(&cam.source).to_string_lossy().to_string()
    };
    let mut source = LiveSource::new(
        &url,
        opts,
        LiveOptions {
            stall_timeout_s: cam.stall_timeout_s,
            reconnect_max_s: cam.reconnect_max_s,
            loop_file: cam.loop_file,
        },
        counters.clone(),
        stop.clone(),
    )
    .with_clock(ctx.clock.clone());
    let mut asm =
        EventAssembler::new(cfg, &cam.name, Some(evidence_dir.clone())).with_seal_key(seal.clone());
    // A camera does not wait for us (nor does a file paced in real time): frames that find the
    // queue full are dropped. A file read as fast as it decodes waits instead.
    let drop_when_full = cam.is_network() || cam.realtime;
    let (frames, frames_rx) = frame_queue(ANALYSIS_QUEUE_FRAMES, drop_when_full, stages.clone());
    let (results_tx, results) = std::sync::mpsc::channel::<Vec<EventUpdate>>();
    let Supervision {
        ids,
        shared,
        applied,
    } = sup;
    let shared: &Mutex<OpenAlarms> = shared;
    let last_pts = || shared.lock().map(|s| s.last_pts).unwrap_or(0.0);
    std::thread::scope(|scope| {
        let stage = AnalysisStage {
            ctx,
            shared,
            ids,
            applied,
            results: results_tx,
        };
        let analysis = std::thread::Builder::new()
            .name(format!("ana-{}", cam.name))
            .spawn_scoped(scope, move || stage.run(frames_rx, analytics));
        let analysis = match analysis {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(camera = %cam.name, error = %e, "cannot start the analysis thread");
                set_state(live, |l| {
                    l.state = ThreadState::Error;
                    l.last_error = Some(format!("cannot start the analysis thread: {e}"));
                });
                return;
            }
        };
        let mut sink = ChannelSink {
            tx: tx.clone(),
            shared,
        };
        let mut window = (Instant::now(), stages.snapshot());
        loop {
            // What the analysis stage produced meanwhile: pictures now, clips after the post-roll.
            for ups in results.try_iter() {
                asm.handle(ups, &mut sink);
            }
            asm.flush(last_pts(), source.ring(), false, &mut sink);
            match source.next_frame() {
                Ok(Some(frame)) => {
                    if frames.push(frame) == Pushed::Closed {
                        break; // the analysis stage is gone (a panic, re-raised below)
                    }
                    update_rates(live, stages, &mut window);
                }
                Ok(None) => {
                    tracing::info!(camera = %cam.name, "source ended");
                    set_state(live, |l| l.state = ThreadState::Ended);
                    break;
                }
                Err(e) => {
                    if !stop.load(Ordering::SeqCst) {
                        tracing::error!(camera = %cam.name, error = %e, "camera stopped");
                    }
                    set_state(live, |l| {
                        l.state = ThreadState::Stopped;
                        l.last_error = Some(e.to_string());
                    });
                    break;
                }
            }
        }
        // End of stream: the analysis stage drains the queue and closes open events; then every
        // pending clip is cut.
        drop(frames);
        let joined = analysis.join();
        for ups in results.try_iter() {
            asm.handle(ups, &mut sink);
        }
        if let Err(payload) = joined {
            std::panic::resume_unwind(payload);
        }
        asm.flush(last_pts(), source.ring(), true, &mut sink);
    });
}

/// Recompute a camera's rates once per [`RATE_WINDOW`]: frames received and analysed per
/// second, and the mean inference time of the window's model runs.
fn update_rates(
    live: &Mutex<CameraLive>,
    stages: &StageCounters,
    window: &mut (Instant, super::queue::StageSnapshot),
) {
    let el = window.0.elapsed();
    if el < RATE_WINDOW {
        return;
    }
    let now = stages.snapshot();
    let prev = window.1;
    let secs = el.as_secs_f64();
    let input = now.received.saturating_sub(prev.received) as f64 / secs;
    let analysed = now.analysed.saturating_sub(prev.analysed) as f64 / secs;
    let runs = now.inference_runs.saturating_sub(prev.inference_runs);
    let infer_ms = (runs > 0).then(|| (now.inference_s - prev.inference_s) * 1e3 / runs as f64);
    set_state(live, |l| {
        l.state = ThreadState::Online;
        l.input_fps = input;
        l.analysed_fps = analysed;
        if infer_ms.is_some() {
            l.infer_ms = infer_ms;
        }
    });
    *window = (Instant::now(), now);
}

/// The analysis stage of one camera: frames from the queue through the analytics; alarms go
/// upward at once, every update to the decode stage (which owns the packet ring the clips are
/// cut from).
struct AnalysisStage<'a> {
    ctx: &'a CameraContext,
    shared: &'a Mutex<OpenAlarms>,
    ids: &'a mut IdShift,
    applied: &'a mut Option<Arc<Applied>>,
    results: Sender<Vec<EventUpdate>>,
}

impl AnalysisStage<'_> {
    fn run(mut self, frames: FrameReceiver, mut analytics: Vec<Box<dyn Analytic>>) {
        let ctx = self.ctx;
        let mut seen = inference_totals(&analytics);
        let mut last_thumb: Option<Instant> = None;
        let mut run_frames = 0u64;
        // The picture the calibration belongs to, and when it was last compared.
        let watch_drift = ctx.cam.kind == crate::config::CameraKind::Facade;
        let drift_every = drift_interval();
        let mut drift_ref: Option<crate::analytics::drift::EdgeMap> = None;
        let mut last_drift: Option<Instant> = None;
        let mut moved_streak = 0u32;
        while let Some(frame) = frames.recv() {
            // New analytic settings from a reload: close the old analytics' open events (their
            // clips are still cut with the full post-roll), then continue with the new ones.
            let update = ctx.updates.lock().ok().and_then(|rx| rx.try_iter().last());
            if let Some(u) = update {
                self.finish(&mut analytics);
                analytics = u.analytics;
                *self.applied = Some(u.settings);
                seen = inference_totals(&analytics);
                self.ids.offset = self.ids.max_seen;
                set_state(&ctx.live, |l| {
                    l.generation = u.generation;
                    l.calibration = None;
                });
                // A new calibration (or settings) is made on today's picture: a new reference.
                drift_ref = None;
                moved_streak = 0;
                tracing::info!(camera = %ctx.cam.name, generation = u.generation, "new analytic settings in effect");
            }
            if !ctx.analysis_delay.is_zero() {
                std::thread::sleep(ctx.analysis_delay);
            }
            #[cfg(test)]
            tests::maybe_panic(&ctx.cam.name);
            run_frames += 1;
            if ctx.panic_at == Some(run_frames) {
                panic!("{PANIC_CAMERA_ENV}: injected panic at frame {run_frames}");
            }
            let t0 = Instant::now();
            let mut ups = Vec::new();
            for a in analytics.iter_mut() {
                ups.extend(a.on_frame(&frame));
            }
            ctx.stages.add_analysis(t0.elapsed());
            for (a, s) in analytics.iter().zip(seen.iter_mut()) {
                if let Some((runs, time)) = a.inference() {
                    ctx.stages
                        .add_inference(runs.saturating_sub(s.0), time.saturating_sub(s.1));
                    *s = (runs, time);
                }
            }
            if let Ok(mut sh) = self.shared.lock() {
                sh.last_pts = frame.pts_s;
            }
            self.emit(ups);
            if last_thumb.map_or(true, |t| t.elapsed() >= THUMBNAIL_EVERY) {
                last_thumb = Some(Instant::now());
                if let Some(t) = make_thumbnail(&frame) {
                    if let Ok(mut slot) = ctx.thumbnail.lock() {
                        *slot = Some(t);
                    }
                }
            }
            if watch_drift && last_drift.map_or(true, |t| t.elapsed() >= drift_every) {
                use crate::analytics::drift;
                last_drift = Some(Instant::now());
                let map = drift::edge_map(&frame.gray, frame.width, frame.height);
                match (&drift_ref, map) {
                    (None, Some(m)) => drift_ref = Some(m),
                    (Some(r), Some(m)) => match drift::compare(r, &m) {
                        Some(mut d) => {
                            moved_streak = if d.moved { moved_streak + 1 } else { 0 };
                            // One odd frame (a bird, a flash) is not a knocked camera.
                            d.moved = moved_streak >= 2;
                            if d.moved && moved_streak == 2 {
                                tracing::warn!(camera = %ctx.cam.name, shift_x = d.shift_px[0], shift_y = d.shift_px[1], match_in_place = d.match_in_place, "the picture no longer matches the calibration: the camera moved; floors may be wrong");
                            }
                            set_state(&ctx.live, |l| l.calibration = Some(d));
                        }
                        None => drift_ref = Some(m),
                    },
                    _ => {}
                }
            }
        }
        // End of stream: close open events (ids shifted like the rest).
        self.finish(&mut analytics);
    }

    fn finish(&mut self, analytics: &mut [Box<dyn Analytic>]) {
        let mut ups = Vec::new();
        for a in analytics.iter_mut() {
            ups.extend(a.finish());
        }
        self.emit(ups);
    }

    /// Number the updates, send alarms upward now, and hand everything to the decode stage.
    fn emit(&mut self, mut ups: Vec<EventUpdate>) {
        if ups.is_empty() {
            return;
        }
        self.ids.apply(&mut ups);
        for u in ups.iter().filter(|u| u.phase == Phase::New) {
            if let Ok(mut sh) = self.shared.lock() {
                sh.open.insert(u.event.id, u.event.clone());
            }
            let _ = self.ctx.tx.send(NodeEvent::Alarm(u.event.clone()));
        }
        let _ = self.results.send(ups);
    }
}

/// Each analytic's inference totals so far (zero for one without a model).
fn inference_totals(analytics: &[Box<dyn Analytic>]) -> Vec<(u64, Duration)> {
    analytics
        .iter()
        .map(|a| a.inference().unwrap_or_default())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A camera whose analysis stage panics at its next frame (once).
    static PANIC_CAMERA: Mutex<Option<String>> = Mutex::new(None);

    pub(super) fn maybe_panic(camera: &str) {
        let hit = PANIC_CAMERA
            .lock()
            .map(|mut p| p.take_if(|c| c == camera).is_some())
            .unwrap_or(false);
        if hit {
            panic!("test panic in the analysis of {camera}");
        }
    }

    /// Issue 12: a camera thread restarted after a panic keeps the analytic settings of the
    /// last reload instead of going back to the start-up ones. A real node on an H.264 clip.
    #[test]
    fn a_restarted_camera_keeps_the_reloaded_settings() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clip = dir.path().join("clip.mp4");
        let ok = std::process::Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=320x240:rate=25",
            ])
            .args(["-t", "2", "-pix_fmt", "yuv420p", "-c:v", "libx264"])
            .arg(&clip)
            .status()
            .expect("run ffmpeg");
        assert!(ok.success());
        let text = |floor: &str| {
            format!(
                "[node]\napi_addr = \"127.0.0.1:8080\"\n[[camera]]\nname = \"restarted\"\n\
                 kind = \"facade\"\nsource = \"{}\"\nrealtime = true\nloop = true\n\
                 [camera.facade]\nfloor_height_m = {floor}\n",
                clip.display()
            )
        };
        let (tx, _rx) = std::sync::mpsc::channel();
        let node = Node::start(&cfg(&text("3.0")), dir.path().join("evidence"), None, tx);
        let probe = node.probes().remove(0);
        let wait = |what: &str, f: &dyn Fn(&CameraStatus, &CameraLive) -> bool| {
            let until = Instant::now() + Duration::from_secs(60);
            loop {
                let live = probe.live.lock().map(|l| l.clone()).unwrap_or_default();
                if f(&probe.status(), &live) {
                    return;
                }
                assert!(
                    Instant::now() < until,
                    "timed out waiting for {what}: {live:?}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        wait("frames analysed", &|s, _| s.frames_analysed > 0);
        let r = node.control().reload(&cfg(&text("3.5"))).expect("reload");
        assert_eq!(r.generation, 1);
        wait("the reload applied", &|s, _| s.config_generation == 1);
        let analysed = probe.status().frames_analysed;
        *PANIC_CAMERA.lock().expect("lock") = Some("restarted".into());
        wait("a restart, then frames again", &|s, l| {
            l.restarts == 1 && s.frames_analysed > analysed + 5
        });
        assert_eq!(
            probe.status().config_generation,
            1,
            "the restarted camera runs the reloaded settings"
        );
        node.shutdown();
    }

    fn cfg(text: &str) -> Config {
        Config::parse(text).expect("valid test config")
    }

    const BASE: &str = r#"
[node]
api_addr = "127.0.0.1:8080"
[[camera]]
name = "tower"
kind = "facade"
source = "tower.mp4"
[camera.facade]
floor_height_m = 3.0
[[camera]]
name = "gate"
kind = "facade"
source = "rtsp://10.0.0.2/1"
"#;

    #[test]
    fn diff_separates_live_settings_from_restart_ones() {
        let old = cfg(BASE);
        let same = diff_configs(&old, &cfg(BASE));
        assert_eq!(same, (vec![], vec![], vec![]));

        let new = cfg(&BASE
            .replace(
                "floor_height_m = 3.0",
                "floor_height_m = 3.2\nmasks = [[[0, 0], [10, 0], [10, 10]]]",
            )
            .replace("127.0.0.1:8080", "127.0.0.1:9090")
            .replace("rtsp://10.0.0.2/1", "rtsp://10.0.0.3/1"));
        let (applied, restart, cams) = diff_configs(&old, &new);
        assert_eq!(applied, vec!["camera.tower.facade"]);
        assert_eq!(restart, vec!["node.api_addr", "camera.gate.source"]);
        assert_eq!(cams.len(), 1);
        assert_eq!(cams[0].name, "tower");
        let f = cams[0].facade.as_ref().expect("facade");
        assert_eq!(f.floor_height_m, 3.2);
        assert_eq!(f.masks.len(), 1);
        // The source stays the running one: only the analytic settings move.
        assert_eq!(cams[0].source, "tower.mp4");

        let fewer = cfg(&format!(
            "{}\n[[camera]]\nname = \"lift\"\nkind = \"elevator\"\nsource = \"l.mp4\"\n",
            BASE.split("[[camera]]\nname = \"gate\"")
                .next()
                .unwrap_or("")
        ));
        let (applied, restart, _) = diff_configs(&old, &fewer);
        assert!(applied.is_empty());
        assert_eq!(
            restart,
            vec!["camera.gate (removed)", "camera.lift (added)"]
        );
    }

    #[test]
    fn a_kind_change_waits_for_a_restart() {
        let old = cfg(BASE);
        let new = cfg(&BASE.replacen(
            "kind = \"facade\"\nsource = \"tower.mp4\"\n[camera.facade]\nfloor_height_m = 3.0",
            "kind = \"elevator\"\nsource = \"tower.mp4\"",
            1,
        ));
        let (applied, restart, cams) = diff_configs(&old, &new);
        assert!(applied.is_empty() && cams.is_empty());
        assert!(
            restart.contains(&"camera.tower.kind".to_string()),
            "{restart:?}"
        );
        assert!(
            restart.contains(&"camera.tower.facade".to_string()),
            "{restart:?}"
        );
    }

    #[test]
    fn reload_applies_and_counts_generations() {
        let old = cfg(BASE);
        let (tx, rx) = std::sync::mpsc::channel();
        let control = NodeControl {
            state: Mutex::new(ControlState {
                effective: old,
                generation: 0,
                senders: HashMap::from([("tower".to_string(), tx)]),
            }),
        };
        let r = control
            .reload(&cfg(
                &BASE.replace("floor_height_m = 3.0", "floor_height_m = 4.0")
            ))
            .expect("reload");
        assert_eq!(r.generation, 1);
        assert_eq!(r.applied, vec!["camera.tower.facade"]);
        let u = rx.try_recv().expect("the camera got new analytics");
        assert_eq!((u.generation, u.analytics.len()), (1, 1));
        assert_eq!(
            control.effective()["cameras"][0]["facade"]["floor_height_m"],
            4.0
        );
        // Nothing new: same generation, nothing sent.
        let r = control
            .reload(&cfg(
                &BASE.replace("floor_height_m = 3.0", "floor_height_m = 4.0")
            ))
            .expect("reload");
        assert_eq!((r.generation, r.applied.len()), (1, 0));
        assert!(rx.try_recv().is_err());
        // An invalid file changes nothing.
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("bad.toml");
        std::fs::write(
            &p,
            BASE.replace("floor_height_m = 3.0", "floor_height_m = 50.0"),
        )
        .expect("write");
        let e = control.reload_file(&p).expect_err("invalid config refused");
        assert!(e.to_string().contains("floor_height_m"), "{e}");
        assert_eq!(
            control.effective()["cameras"][0]["facade"]["floor_height_m"],
            4.0
        );
    }

    #[test]
    fn a_panicking_camera_is_restarted_and_its_open_alarms_closed() {
        use crate::events::EventKind;
        let live = Mutex::new(CameraLive::default());
        let stop = AtomicBool::new(false);
        let (tx, rx) = std::sync::mpsc::channel();
        let mut runs = 0;
        // Simulated time: the 1 s restart backoff passes at once.
        let clock = crate::clock::ManualClock::auto();
        supervise("tower", &live, &stop, &tx, &clock, |sup| {
            runs += 1;
            if runs == 1 {
                // An alarm is open when the body dies.
                let ev = Event::new(7, EventKind::FallingObject, "tower", 10.0, 0.9);
                let sh = sup.shared.get_mut().expect("not poisoned");
                sh.open.insert(7, ev);
                sh.last_pts = 12.5;
                sup.ids.max_seen = 7;
                panic!("zero-length SPS");
            }
            // The restarted body numbers its events after the ones already handed out.
            assert_eq!(sup.ids.offset, 7);
            assert!(sup.shared.lock().expect("lock").open.is_empty());
        });
        assert_eq!(runs, 2, "restarted once, then returned normally");
        assert_eq!(
            clock.elapsed(),
            Duration::from_secs(1),
            "after the first backoff"
        );
        let l = live.lock().expect("live").clone();
        assert_eq!(l.restarts, 1);
        assert!(
            l.last_error
                .as_deref()
                .is_some_and(|e| e.contains("zero-length SPS")),
            "{l:?}"
        );
        match rx.try_recv() {
            Ok(NodeEvent::Complete(ev)) => {
                assert_eq!(ev.id, 7);
                assert_eq!(ev.end_s, 12.5);
                assert!(ev.evidence.is_none());
            }
            other => panic!("expected the open alarm to be closed, got {other:?}"),
        }
        assert!(rx.try_recv().is_err(), "nothing else sent");
    }

    #[test]
    fn a_stopping_node_does_not_restart_a_crashed_camera() {
        let live = Mutex::new(CameraLive::default());
        let stop = AtomicBool::new(true);
        let (tx, _rx) = std::sync::mpsc::channel();
        let mut runs = 0;
        supervise(
            "tower",
            &live,
            &stop,
            &tx,
            &crate::clock::SystemClock,
            |_| {
                runs += 1;
                panic!("boom");
            },
        );
        assert_eq!(runs, 1);
        assert_eq!(
            camera_state(&live.lock().expect("live"), &Counters::default().snapshot()),
            CameraState::Reconnecting
        );
    }

    #[test]
    fn states_from_counters() {
        let c = Counters::default();
        let mut live = CameraLive {
            state: ThreadState::Starting,
            ..Default::default()
        };
        assert_eq!(camera_state(&live, &c.snapshot()), CameraState::Offline);
        c.reconnects.fetch_add(1, Ordering::Relaxed);
        assert_eq!(
            camera_state(&live, &c.snapshot()),
            CameraState::Reconnecting
        );
        c.mark_frame();
        assert_eq!(camera_state(&live, &c.snapshot()), CameraState::Online);
        live.state = ThreadState::Ended;
        assert_eq!(camera_state(&live, &c.snapshot()), CameraState::Offline);
    }

    #[test]
    fn thumbnails_are_small_jpegs() {
        let (w, h) = (1280u32, 720u32);
        let gray: Vec<u8> = (0..w * h).map(|i| (i % 251) as u8).collect();
        let mut f = Frame {
            index: 0,
            pts_s: 0.0,
            width: w,
            height: h,
            gray,
            rgb: None,
        };
        let t = make_thumbnail(&f).expect("grey thumbnail");
        assert_eq!((t.width, t.height), (320, 180));
        assert_eq!(&t.jpeg[..2], &[0xFF, 0xD8]);
        f.rgb = Some(vec![128; (w * h * 3) as usize]);
        let t = make_thumbnail(&f).expect("colour thumbnail");
        let img = image::load_from_memory(&t.jpeg).expect("decodes");
        assert_eq!((img.width(), img.height()), (320, 180));
        f.rgb = Some(vec![0; 5]);
        assert!(make_thumbnail(&f).is_none(), "inconsistent frame");
    }
}
