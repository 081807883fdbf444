//! HTTP API (axum) under `/api/v1`, live events (SSE) and the event bus.
//!
//! Feeding it from the node:
//! ```ignore
//! let store = Store::open(data_dir.join("vigil.db"))?;
//! let bus = EventBus::new(1024);
//! let cams = SharedCameras::default();           // update with cams.set(CameraStatus{..})
//! let state = AppState::new(store.clone(), bus.clone(), Arc::new(cams.clone()), ApiConfig::default());
//! let id = commit_update(&store, &bus, &mut ids, &update)?; // store first, then notify
//! axum::serve(listener, router(state)).await?;
//! ```

pub mod config;
mod error;
mod handlers;
pub mod limits;
mod openapi;
pub mod server;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, Notify};

pub use config::{ApiConfig, RetentionConfig, ServiceConfig, WebhookConfig};
pub use error::ApiError;
pub use handlers::{parse_range, router, ByteRange};
pub use openapi::openapi_document;

use crate::events::{EventUpdate, Phase};
use crate::store::{EventRecord, Store, StoreError};

/// Live state of one camera, as shown by `/cameras` and `/metrics`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CameraStatus {
    pub name: String,
    /// `facade` or `elevator`.
    pub kind: String,
    pub online: bool,
    pub input_fps: f64,
    pub analysed_fps: f64,
    pub decode_errors: u64,
    pub reconnects: u64,
    /// Seconds since the last decoded frame (`None` before the first).
    pub last_frame_age_s: Option<f64>,
    /// Frames waiting for analysis.
    pub queue_depth: u64,
    /// Mean detector inference time over the last period.
    pub infer_ms: Option<f64>,
    /// `online` (frames arriving), `reconnecting` (the source failed and is being retried) or
    /// `offline` (not connected yet, ended, stopped, or its analytics could not start).
    #[serde(default = "default_state")]
    pub state: String,
    /// The last error the camera reported, if any.
    #[serde(default)]
    pub last_error: Option<String>,
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

fn default_state() -> String {
    "offline".into()
}

/// A camera's latest analysed frame, downscaled and JPEG-encoded.
#[derive(Clone, Debug, PartialEq)]
pub struct Thumbnail {
    pub jpeg: Arc<Vec<u8>>,
    /// Unix ms when the frame was analysed.
    pub at_ms: i64,
    pub width: u32,
    pub height: u32,
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
    fn reload(&self) -> Result<crate::node::ReloadReport, crate::node::ReloadError>;
    /// The configuration in effect (no secrets, no source URLs).
    fn effective(&self) -> serde_json::Value;
}

/// A change to an event, as broadcast to SSE clients (`phase`: new, update, end, state).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EventNotice {
    pub phase: String,
    pub event: EventRecord,
}

/// Counters shown by `/metrics`.
#[derive(Default)]
pub struct Metrics {
    pub http_requests: AtomicU64,
    pub sse_clients: AtomicI64,
    pub sse_lagged: AtomicU64,
    pub webhook_delivered: AtomicU64,
    pub webhook_failures: AtomicU64,
    /// (camera, kind) → new events published since start.
    pub events: Mutex<BTreeMap<(String, String), u64>>,
}

/// Fan-out of committed event changes to SSE clients, and wake-up of push workers.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<EventNotice>,
    wake: Arc<Notify>,
    pub metrics: Arc<Metrics>,
}

impl EventBus {
    /// `capacity`: notices a slow SSE client may fall behind before it is told it lagged.
    pub fn new(capacity: usize) -> EventBus {
        let (tx, _) = broadcast::channel(capacity.max(16));
        EventBus {
            tx,
            wake: Arc::new(Notify::new()),
            metrics: Arc::new(Metrics::default()),
        }
    }

    /// Publish a notice. Call only after the change is committed to the store.
    pub fn publish(&self, n: EventNotice) {
        if n.phase == "new" {
            if let Ok(mut m) = self.metrics.events.lock() {
                let key = (
                    n.event.camera.clone(),
                    crate::store::kind_name(n.event.kind).to_string(),
                );
                *m.entry(key).or_insert(0) += 1;
            }
        }
        // No receivers is fine: nobody is listening.
        let _ = self.tx.send(n);
        self.wake.notify_waiters();
    }

    /// Load event `id` from the store and publish it with `phase`.
    pub fn publish_from_store(
        &self,
        store: &Store,
        id: i64,
        phase: &str,
    ) -> Result<(), StoreError> {
        let event = store
            .get_event(id)?
            .ok_or_else(|| StoreError::NotFound(format!("event {id}")))?;
        self.publish(EventNotice {
            phase: phase.into(),
            event,
        });
        Ok(())
    }

    pub fn subscribe(&self) -> broadcast::Receiver<EventNotice> {
        self.tx.subscribe()
    }

    /// Notified on every publish (push workers wait on it).
    pub fn wake_handle(&self) -> Arc<Notify> {
        self.wake.clone()
    }
}

/// Maps an analytic's (camera, per-run id) to the store id.
pub type EventIds = HashMap<(String, u64), i64>;

/// Commit an analytic's update to the store, then publish it. Returns the store id.
/// An `Update`/`End` for an unknown id (e.g. after a restart) is stored as a new event.
pub fn commit_update(
    store: &Store,
    bus: &EventBus,
    ids: &mut EventIds,
    upd: &EventUpdate,
) -> Result<i64, StoreError> {
    let key = (upd.event.camera.clone(), upd.event.id);
    let (id, phase) = match (upd.phase, ids.get(&key)) {
        (Phase::New, _) | (_, None) => {
            let id = store.insert_event(&upd.event, crate::store::now_ms())?;
            if upd.phase != Phase::New {
                store.update_event(id, &upd.event, upd.phase)?;
            }
            ids.insert(key.clone(), id);
            (id, "new")
        }
        (p, Some(&id)) => {
            store.update_event(id, &upd.event, p)?;
            (id, crate::store::phase_name(p))
        }
    };
    if upd.phase == Phase::End {
        ids.remove(&key);
    }
    bus.publish_from_store(store, id, phase)?;
    Ok(id)
}

/// Everything the handlers need.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub bus: EventBus,
    pub cameras: Arc<dyn CameraRegistry>,
    pub config: ApiConfig,
    pub started: Instant,
    pub tokens: Arc<crate::auth::TokenCache>,
    /// Configuration reload (`POST /config/reload`); `None`: not available here.
    pub reloader: Option<Arc<dyn ConfigReloader>>,
    /// Login throttling, download sessions, checked evidence hashes.
    pub guards: Arc<limits::Guards>,
}

impl AppState {
    pub fn new(
        store: Store,
        bus: EventBus,
        cameras: Arc<dyn CameraRegistry>,
        config: ApiConfig,
    ) -> Self {
        AppState {
            store,
            bus,
            cameras,
            config,
            started: Instant::now(),
            tokens: Arc::new(crate::auth::TokenCache::new(
                std::time::Duration::from_secs(5),
            )),
            reloader: None,
            guards: Arc::default(),
        }
    }

    /// Enable `POST /api/v1/config/reload` and `GET /api/v1/config`.
    pub fn with_reloader(mut self, r: Arc<dyn ConfigReloader>) -> Self {
        self.reloader = Some(r);
        self
    }
}

/// Record each camera's status into the health history every `interval` (online rate and
/// image availability come from these samples).
pub fn spawn_health_sampler(
    store: Store,
    cameras: Arc<dyn CameraRegistry>,
    interval: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        loop {
            tick.tick().await;
            let now = crate::store::now_ms();
            let stale = interval.as_secs_f64().max(1.0);
            let samples: Vec<_> = cameras
                .cameras()
                .into_iter()
                .map(|c| crate::store::HealthSample {
                    camera: c.name,
                    ts_ms: now,
                    online: c.online,
                    image_ok: c.online && c.last_frame_age_s.is_some_and(|a| a <= stale),
                    input_fps: c.input_fps,
                    analysed_fps: c.analysed_fps,
                    decode_errors: c.decode_errors,
                    reconnects: c.reconnects,
                })
                .collect();
            let st = store.clone();
            let res = tokio::task::spawn_blocking(move || {
                samples.iter().try_for_each(|s| st.record_health(s))
            })
            .await;
            match res {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "cannot record camera health"),
                Err(e) => tracing::warn!(error = %e, "health sampler task failed"),
            }
        }
    })
}

/// Counter helper for metrics.
pub(crate) fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}
