//! The service layer of `vigil serve`: what runs between the camera pipelines and the API.
//!
//! - [`bus`]: commit an event change to the store, then publish it (SSE, push workers);
//! - [`node`]: the camera supervisor, one thread per camera running the pipeline (a decode
//!   stage and an analysis stage joined by [`queue`], bounded: a live camera that analysis cannot
//!   keep up with drops frames there, counted);
//! - [`events`]: the event writer, the one path from a camera's event to the store, the live
//!   notices and the actions;
//! - [`status`]: camera status, thumbnails and configuration reload, as the API shows them
//!   (filled by the camera supervisor);
//! - [`health`]: the periodic camera-health sample behind the 24 h rates;
//! - [`actions`]: relay / elevator-gateway calls, fed with committed alarms.
//!
//! Nothing here imports the API: the API reads these types.

pub mod actions;
pub mod bus;
pub mod events;
pub mod health;
pub mod node;
pub mod queue;
pub mod status;

pub use bus::{commit_update, EventBus, EventIds, EventNotice, Metrics, NoticePhase};
pub use health::spawn_health_sampler;
pub use status::{
    thumbnail_path, CameraRegistry, CameraState, CameraStatus, ConfigReloader, ReloadError,
    ReloadReport, SharedCameras, Thumbnail,
};

/// Run blocking work (SQLite, files) off the async threads; a panic in it becomes the error
/// `failed` makes of its message. The one helper of the API handlers and the push workers.
pub async fn blocking<T: Send + 'static, E: Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
    failed: impl FnOnce(String) -> E,
) -> Result<T, E> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| failed(format!("blocking task failed: {e}")))?
}
