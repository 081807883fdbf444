//! HTTP API (axum) under `/api/v1` and live events (SSE), one file per resource: `auth`,
//! `cameras`, `events`, `evidence`, `live` (SSE), `audit`, `config`, `metrics` (+ `/healthz`);
//! `router` holds the route table, `openapi` the generated document (`/api/v1/openapi.json`).
//!
//! The API reads what the service layer fills (`crate::service`: the event bus, camera status,
//! configuration reload) and the store; it never feeds the cameras. Wiring it up:
//! ```ignore
//! let store = Store::open(data_dir.join("vigil.db"))?;
//! let bus = EventBus::new(1024);                 // service::bus
//! let cams = SharedCameras::default();           // service::status; cams.set(CameraStatus{..})
//! let state = AppState::new(store.clone(), bus.clone(), Arc::new(cams.clone()), ApiConfig::default());
//! // events reach the store and the bus through service::events::EventWriter
//! axum::serve(listener, router(state)).await?;
//! ```

// One file per resource; `router.rs` lists the routes, `openapi.rs` the document's frame.
mod audit;
mod auth;
mod calibration;
mod cameras;
mod config;
mod error;
mod events;
mod evidence;
mod extract;
pub mod limits;
mod live;
mod metrics;
mod openapi;
mod router;
pub mod server;
mod users;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

pub use error::{ApiError, ErrorBody};
pub use evidence::{parse_range, ByteRange};
pub use openapi::openapi_document;
pub use router::router;

use crate::config::service::ApiConfig;
use crate::service::{CameraRegistry, ConfigReloader, EventBus};
use crate::store::Store;

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
    /// Key that opens sealed evidence for download; `None`: sealed files cannot be served.
    pub evidence_key: Option<Arc<crate::evidence::crypt::EvidenceKey>>,
    /// Encryption is on: an unsealed evidence file is refused as tampered.
    pub require_sealed: bool,
    /// Data directory holding the bootstrap admin password file, retired once the password
    /// no longer opens the account; `None`: not managed here.
    pub bootstrap_dir: Option<std::path::PathBuf>,
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
            evidence_key: None,
            require_sealed: false,
            bootstrap_dir: None,
        }
    }

    /// Serve sealed evidence decrypted with `key`.
    pub fn with_evidence_key(
        mut self,
        key: Option<Arc<crate::evidence::crypt::EvidenceKey>>,
    ) -> Self {
        self.evidence_key = key;
        self
    }

    /// Refuse evidence files that are not sealed (evidence encryption on).
    pub fn with_require_sealed(mut self, on: bool) -> Self {
        self.require_sealed = on;
        self
    }

    /// Remove `dir`'s bootstrap admin password file once a change makes it stale.
    pub fn with_bootstrap_dir(mut self, dir: std::path::PathBuf) -> Self {
        self.bootstrap_dir = Some(dir);
        self
    }

    /// Enable `POST /api/v1/config/reload` and `GET /api/v1/config`.
    pub fn with_reloader(mut self, r: Arc<dyn ConfigReloader>) -> Self {
        self.reloader = Some(r);
        self
    }
}

/// Counter helper for metrics.
pub(crate) fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}
