//! What the service shows about itself: camera status and thumbnails (filled by the camera
//! supervisor, read by the API, MQTT and the health sampler) and configuration reload.
//! Defined here, below the API, so that the node never imports the API.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use crate::pipeline::PipelineError;

/// Live state of one camera, as shown by `/cameras` and `/metrics`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CameraStatus {
    pub name: String,
    /// `facade` or `elevator`.
    pub kind: String,
    pub online: bool,
    /// Decoded frames per second handed to analysis (last few seconds).
    pub input_fps: f64,
    /// Frames per second the analytics ran on; below `input_fps` when frames are dropped.
    pub analysed_fps: f64,
    pub decode_errors: u64,
    pub reconnects: u64,
    /// Times the camera's thread panicked and was restarted by the supervisor.
    #[serde(default)]
    pub restarts: u64,
    /// Seconds since the last decoded frame (`None` before the first).
    pub last_frame_age_s: Option<f64>,
    /// Frames waiting for analysis now (bounded; a full queue drops frames).
    pub queue_depth: u64,
    /// Mean model inference time per run (the e-bike detector) over the last few seconds with
    /// runs; `None` for a camera without a model or before its first run.
    pub infer_ms: Option<f64>,
    /// Decoded frames handed to analysis since the node started.
    #[serde(default)]
    pub frames_received: u64,
    /// Frames the analytics ran on since the node started.
    #[serde(default)]
    pub frames_analysed: u64,
    /// Frames dropped because analysis fell behind a live source, since the node started.
    #[serde(default)]
    pub frames_dropped: u64,
    /// Seconds spent in the analytics since the node started.
    #[serde(default)]
    pub analysis_s: f64,
    /// Model inference runs and seconds spent in them since the node started.
    #[serde(default)]
    pub inference_runs: u64,
    #[serde(default)]
    pub inference_s: f64,
    /// `online` (frames arriving), `reconnecting` (the source failed and is being retried) or
    /// `offline` (not connected yet, ended, stopped, or its analytics could not start).
    #[serde(default)]
    pub state: CameraState,
    /// The last error the camera reported, if any.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Facade cameras: the last check of the picture against the one the calibration was made
    /// on (taken at start and after each reload); `moved` = the calibration looks wrong (the
    /// camera was knocked or re-aimed), confirmed by two checks in a row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration_check: Option<crate::analytics::drift::Drift>,
    /// Where the latest small picture of the camera is (`None` until one exists).
    #[serde(default)]
    pub thumbnail_url: Option<String>,
    /// When that picture was taken (Unix ms).
    #[serde(default)]
    pub thumbnail_at_ms: Option<i64>,
    /// How many configuration reloads this camera's analytics have applied.
    #[serde(default)]
    pub config_generation: u64,
}

/// A camera's state as the API and the health board show it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CameraState {
    /// Frames are arriving.
    Online,
    /// The source failed and is being retried (or the camera thread is being restarted).
    Reconnecting,
    /// Not connected yet, ended, stopped, or its analytics could not start.
    #[default]
    Offline,
}

/// A camera's latest analysed frame, downscaled and JPEG-encoded.
#[derive(Clone, Debug, PartialEq)]
pub struct Thumbnail {
    pub jpeg: Arc<Vec<u8>>,
    /// Unix ms when the frame was analysed.
    pub at_ms: i64,
    pub width: u32,
    pub height: u32,
    /// The same frame at the analysed size (JPEG), for calibration by clicking on it; `None`
    /// when it could not be encoded.
    pub full: Option<Arc<Vec<u8>>>,
    /// Size of `full` (the analysed picture) `[width, height]`.
    pub full_size: [u32; 2],
}

/// `/api/v1/cameras/{name}/thumbnail.jpg`, with the name percent-encoded.
pub fn thumbnail_path(camera: &str) -> String {
    let mut out = String::from("/api/v1/cameras/");
    for b in camera.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.push_str("/thumbnail.jpg");
    out
}

/// Source of camera status; the node's `serve` implements it or feeds [`SharedCameras`].
pub trait CameraRegistry: Send + Sync {
    fn cameras(&self) -> Vec<CameraStatus>;
    fn camera(&self, name: &str) -> Option<CameraStatus> {
        self.cameras().into_iter().find(|c| c.name == name)
    }
    /// The camera's latest thumbnail (`None`: unknown camera or none taken yet).
    fn thumbnail(&self, _name: &str) -> Option<Thumbnail> {
        None
    }
}

/// A ready-made registry: a shared map the pipeline updates.
#[derive(Clone, Default)]
pub struct SharedCameras {
    status: Arc<RwLock<BTreeMap<String, CameraStatus>>>,
    thumbs: Arc<RwLock<BTreeMap<String, Thumbnail>>>,
}

impl SharedCameras {
    pub fn set(&self, s: CameraStatus) {
        if let Ok(mut m) = self.status.write() {
            m.insert(s.name.clone(), s);
        }
    }
    pub fn remove(&self, name: &str) {
        if let Ok(mut m) = self.status.write() {
            m.remove(name);
        }
        if let Ok(mut m) = self.thumbs.write() {
            m.remove(name);
        }
    }
    /// Keep `t` as the camera's thumbnail; its status then points at it.
    pub fn set_thumbnail(&self, name: &str, t: Thumbnail) {
        if let Ok(mut m) = self.thumbs.write() {
            m.insert(name.to_string(), t);
        }
    }
}

impl CameraRegistry for SharedCameras {
    fn cameras(&self) -> Vec<CameraStatus> {
        let thumbs = self.thumbs.read().ok();
        self.status
            .read()
            .map(|m| {
                m.values()
                    .cloned()
                    .map(|mut c| {
                        if let Some(t) = thumbs.as_ref().and_then(|t| t.get(&c.name)) {
                            // The time in the URL makes browsers fetch each new picture.
                            c.thumbnail_url =
                                Some(format!("{}?t={}", thumbnail_path(&c.name), t.at_ms));
                            c.thumbnail_at_ms = Some(t.at_ms);
                        }
                        c
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
    fn thumbnail(&self, name: &str) -> Option<Thumbnail> {
        self.status.read().ok()?.get(name)?;
        self.thumbs.read().ok()?.get(name).cloned()
    }
}

/// Re-reads the node's configuration and applies what can change without a restart.
pub trait ConfigReloader: Send + Sync {
    /// Re-read the config file. `Err` (nothing changed): the new file is unreadable or invalid.
    fn reload(&self) -> Result<ReloadReport, ReloadError>;
    /// The configuration in effect (no secrets, no source URLs).
    fn effective(&self) -> serde_json::Value;
    /// The file the configuration is read from (`None`: not file-backed; nothing can be
    /// written back).
    fn config_path(&self) -> Option<std::path::PathBuf> {
        None
    }
    /// The configuration in effect, typed.
    fn current(&self) -> Option<crate::config::Config> {
        None
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The new file cannot be read or is invalid; the running configuration is unchanged.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The new settings are valid TOML but a camera's analytics cannot be built from them.
    #[error(transparent)]
    Analytic(#[from] PipelineError),
    #[error("configuration reload is not available: {0}")]
    Unavailable(String),
}

/// What a reload did.
#[derive(
    Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct ReloadReport {
    /// Generation now in effect (unchanged when nothing was applied).
    pub generation: u64,
    /// Settings now applied, e.g. `camera.tower.facade`.
    pub applied: Vec<String>,
    /// Settings that differ from the running ones but take effect only after a restart, e.g.
    /// `camera.tower.source`, `node.api_addr`, `camera.new-cam (added)`.
    pub restart_required: Vec<String>,
}

/// Reload through `reloader` and record the attempt in the audit log as done by `actor`
/// (`role`), whether it worked or not. The one reload path of `POST /config/reload` and SIGHUP.
/// Returns the reload's result and the audit append's separately: the API fails the request
/// when the audit cannot be written, SIGHUP can only log it.
pub fn reload_audited(
    reloader: &dyn ConfigReloader,
    store: &crate::store::Store,
    actor: &str,
    role: &str,
) -> (
    Result<ReloadReport, ReloadError>,
    Result<(), crate::audit::AuditError>,
) {
    let res = reloader.reload();
    let detail = match &res {
        Ok(rep) => serde_json::json!({
            "ok": true,
            "generation": rep.generation,
            "applied": rep.applied,
            "restart_required": rep.restart_required,
        }),
        Err(e) => serde_json::json!({ "ok": false, "error": e.to_string() }),
    };
    let entry =
        crate::audit::AuditEntry::new(actor, role, "config.reload", "config").detail(detail);
    let audited = crate::audit::append(store, &entry).map(|_| ());
    (res, audited)
}
