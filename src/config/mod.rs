//! TOML configuration: node settings and `[[camera]]` tables, with every section's types.
//!
//! Parsing rejects unknown keys and wrong types (serde reports the key and line); semantic
//! validation then names the camera and the field.
//!
//! This module is a leaf: it imports nothing else of vigil, so every layer can read its
//! settings from here (`facade` and `elevator` for the analytics, `service` for the API,
//! webhooks and retention, `mqtt`, `evidence`).

pub mod elevator;
pub mod evidence;
pub mod facade;
pub mod mqtt;
pub mod service;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use elevator::ElevatorConfig;
pub use evidence::{Encrypt, EvidenceConfig};
pub use facade::{BuildingModel, CalibPoint, Column, ColumnRef, FacadeConfig, WindowRef};
pub use mqtt::MqttConfig;
pub use service::{ApiConfig, RetentionConfig, WebhookConfig};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config: camera '{camera}', field '{field}': {reason}")]
    Invalid {
        camera: String,
        field: String,
        reason: String,
    },
    #[error("config: node field '{field}': {reason}")]
    Node { field: String, reason: String },
    #[error("config: no camera named '{0}'")]
    NoSuchCamera(String),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    #[serde(default = "default_api_addr")]
    pub api_addr: String,
    /// Evidence clip pre-roll before the event start.
    #[serde(default = "default_pre_roll")]
    pub pre_roll_s: f64,
    /// Evidence clip post-roll after the event end.
    #[serde(default = "default_post_roll")]
    pub post_roll_s: f64,
    /// How much compressed video each camera keeps in memory for clips.
    #[serde(default = "default_ring")]
    pub ring_s: f64,
    /// This node's name (MQTT topic prefix and client id); letters, digits, '-', '_', '.'.
    #[serde(default)]
    pub name: Option<String>,
}

/// `[audit]`: how the tamper-evident audit log is protected (see `crate::audit`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// HMAC-SM3 key file (64 hex digits, mode 0600, outside `data_dir`; make one with
    /// `vigil audit keygen --out FILE`). Absent: the chain is an unkeyed SM3 chain.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Append-only file outside `data_dir` that receives the chain's head periodically.
    #[serde(default)]
    pub anchor_file: Option<PathBuf>,
    /// Also send anchors to the local syslog (`/dev/log`, facility authpriv).
    #[serde(default)]
    pub anchor_syslog: bool,
    /// How often the head is published when it moved (seconds).
    #[serde(default = "default_anchor_interval")]
    pub anchor_interval_s: f64,
}

fn default_anchor_interval() -> f64 {
    60.0
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            key_file: None,
            anchor_file: None,
            anchor_syslog: false,
            anchor_interval_s: default_anchor_interval(),
        }
    }
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}
fn default_api_addr() -> String {
    "127.0.0.1:8080".into()
}
fn default_pre_roll() -> f64 {
    5.0
}
fn default_post_roll() -> f64 {
    3.0
}
fn default_ring() -> f64 {
    30.0
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            data_dir: default_data_dir(),
            api_addr: default_api_addr(),
            pre_roll_s: default_pre_roll(),
            post_roll_s: default_post_roll(),
            ring_s: default_ring(),
            name: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CameraKind {
    Facade,
    Elevator,
}

impl CameraKind {
    /// The name used in the config and the API (`facade`, `elevator`).
    pub fn as_str(self) -> &'static str {
        match self {
            CameraKind::Facade => "facade",
            CameraKind::Elevator => "elevator",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    pub name: String,
    pub kind: CameraKind,
    /// File path or `rtsp://` URL.
    pub source: String,
    /// Pace a file source at its frame rate (so it stands in for a live camera).
    #[serde(default)]
    pub realtime: bool,
    /// Restart a file source at its end (demo / soak).
    #[serde(default, rename = "loop")]
    pub loop_file: bool,
    /// Analysis size `[width, height]`; default: the coded size.
    #[serde(default)]
    pub analysis_size: Option<[u32; 2]>,
    /// Seconds without a decoded frame before a live source counts as stalled and reconnects.
    #[serde(default = "default_stall")]
    pub stall_timeout_s: f64,
    /// Connect / read timeout for network sources.
    #[serde(default = "default_io_timeout")]
    pub io_timeout_s: f64,
    /// Cap of the exponential reconnect backoff.
    #[serde(default = "default_backoff_max")]
    pub reconnect_max_s: f64,
    /// Decoder threads (0 = let FFmpeg choose).
    #[serde(default)]
    pub decode_threads: usize,
    #[serde(default)]
    pub facade: Option<FacadeConfig>,
    #[serde(default)]
    pub elevator: Option<ElevatorConfig>,
}

fn default_stall() -> f64 {
    10.0
}
fn default_io_timeout() -> f64 {
    5.0
}
fn default_backoff_max() -> f64 {
    30.0
}

impl CameraConfig {
    /// A camera with defaults, for programmatic use (bench, tests).
    pub fn new(name: &str, kind: CameraKind, source: &str) -> Self {
        CameraConfig {
            name: name.into(),
            kind,
            source: source.into(),
            realtime: false,
            loop_file: false,
            analysis_size: None,
            stall_timeout_s: default_stall(),
            io_timeout_s: default_io_timeout(),
            reconnect_max_s: default_backoff_max(),
            decode_threads: 0,
            facade: None,
            elevator: None,
        }
    }

    pub fn is_network(&self) -> bool {
        let s = self.source.to_ascii_lowercase();
        s.starts_with("rtsp://")
            || s.starts_with("rtsps://")
            || s.starts_with("rtmp://")
            || s.starts_with("http://")
            || s.starts_with("https://")
            || s.starts_with("srt://")
    }

    pub fn facade_or_default(&self) -> FacadeConfig {
        self.facade.clone().unwrap_or_default()
    }

    pub fn elevator_or_default(&self) -> ElevatorConfig {
        self.elevator.clone().unwrap_or_default()
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field: &str, reason: String| ConfigError::Invalid {
            camera: self.name.clone(),
            field: field.into(),
            reason,
        };
        if self.name.trim().is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return Err(bad(
                "name",
                "must be non-empty and use letters, digits, '-', '_' or '.'".into(),
            ));
        }
        if self.source.trim().is_empty() {
            return Err(bad("source", "must not be empty".into()));
        }
        if let Some([w, h]) = self.analysis_size {
            if w < 16 || h < 16 || w > 7680 || h > 4320 || w % 2 != 0 || h % 2 != 0 {
                return Err(bad(
                    "analysis_size",
                    format!("{w}x{h} is not an even size between 16x16 and 7680x4320"),
                ));
            }
        }
        for (field, v) in [
            ("stall_timeout_s", self.stall_timeout_s),
            ("io_timeout_s", self.io_timeout_s),
            ("reconnect_max_s", self.reconnect_max_s),
        ] {
            if !(v > 0.0 && v.is_finite()) {
                return Err(bad(field, format!("must be a positive number, got {v}")));
            }
        }
        match self.kind {
            CameraKind::Facade => {
                if self.elevator.is_some() {
                    return Err(bad(
                        "elevator",
                        "a facade camera takes [camera.facade], not [camera.elevator]".into(),
                    ));
                }
                if let Some(f) = &self.facade {
                    f.validate()
                        .map_err(|(field, reason)| bad(&field, reason))?;
                }
            }
            CameraKind::Elevator => {
                if self.facade.is_some() {
                    return Err(bad(
                        "facade",
                        "an elevator camera takes [camera.elevator], not [camera.facade]".into(),
                    ));
                }
                if let Some(e) = &self.elevator {
                    e.validate()
                        .map_err(|(field, reason)| bad(&field, reason))?;
                }
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub node: NodeConfig,
    #[serde(default, rename = "camera")]
    pub cameras: Vec<CameraConfig>,
    /// HTTP API limits (`[api]`).
    #[serde(default)]
    pub api: ApiConfig,
    /// Webhook subscribers (`[[webhook]]`).
    #[serde(default, rename = "webhook")]
    pub webhooks: Vec<WebhookConfig>,
    /// Evidence retention (`[retention]`).
    #[serde(default)]
    pub retention: RetentionConfig,
    /// MQTT publishing (`[mqtt]`); absent: off.
    #[serde(default)]
    pub mqtt: Option<MqttConfig>,
    /// Evidence storage (`[evidence]`): SM4 encryption at rest.
    #[serde(default)]
    pub evidence: EvidenceConfig,
    /// Audit log signing and anchors (`[audit]`).
    #[serde(default)]
    pub audit: AuditConfig,
    /// Directory of the config file; relative paths in it resolve against this.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut cfg = Config::parse(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })?;
        cfg.base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(cfg)
    }

    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("<inline>"),
            message: e.to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let n = &self.node;
        for (field, v) in [("pre_roll_s", n.pre_roll_s), ("post_roll_s", n.post_roll_s)] {
            if !(0.0..=120.0).contains(&v) {
                return Err(ConfigError::Node {
                    field: field.into(),
                    reason: format!("must be within 0..120 s, got {v}"),
                });
            }
        }
        if !(n.ring_s >= 2.0 && n.ring_s <= 600.0) {
            return Err(ConfigError::Node {
                field: "ring_s".into(),
                reason: format!("must be within 2..600 s, got {}", n.ring_s),
            });
        }
        if let Some(name) = &n.name {
            if name.is_empty()
                || name.len() > 64
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
            {
                return Err(ConfigError::Node {
                    field: "name".into(),
                    reason: "must be 1..64 of letters, digits, '-', '_' or '.'".into(),
                });
            }
        }
        if let Some(m) = &self.mqtt {
            m.validate().map_err(|(field, reason)| ConfigError::Node {
                field: format!("mqtt.{field}"),
                reason,
            })?;
        }
        self.evidence.validate()?;
        if !(1.0..=86_400.0).contains(&self.audit.anchor_interval_s) {
            return Err(ConfigError::Node {
                field: "audit.anchor_interval_s".into(),
                reason: format!(
                    "must be within 1..86400 s, got {}",
                    self.audit.anchor_interval_s
                ),
            });
        }
        for (i, w) in self.webhooks.iter().enumerate() {
            w.validate().map_err(|reason| ConfigError::Node {
                field: format!("webhook[{i}]"),
                reason,
            })?;
        }
        let mut seen = std::collections::HashSet::new();
        for c in &self.cameras {
            c.validate()?;
            if !seen.insert(c.name.as_str()) {
                return Err(ConfigError::Invalid {
                    camera: c.name.clone(),
                    field: "name".into(),
                    reason: "duplicate camera name".into(),
                });
            }
        }
        Ok(())
    }

    /// The camera named `name`, or the only camera when `name` is `None`.
    pub fn camera(&self, name: Option<&str>) -> Result<&CameraConfig, ConfigError> {
        match name {
            Some(n) => self
                .cameras
                .iter()
                .find(|c| c.name == n)
                .ok_or_else(|| ConfigError::NoSuchCamera(n.into())),
            None => self
                .cameras
                .first()
                .ok_or_else(|| ConfigError::NoSuchCamera("(none configured)".into())),
        }
    }

    /// Resolve a path from the config relative to the config file's directory.
    pub fn resolve(&self, p: &str) -> PathBuf {
        let path = Path::new(p);
        if path.is_absolute() || self.base_dir.as_os_str().is_empty() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }
}
