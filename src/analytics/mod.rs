//! Analytics: per-camera state machines fed one frame at a time.

pub mod calibrate;
pub mod coverage;
pub mod drift;
pub mod ebike;
pub mod falling;

use crate::events::EventUpdate;
use crate::frame::Frame;

/// One analytic running on one camera. It sees every decoded frame in order.
pub trait Analytic: Send {
    fn name(&self) -> &'static str;
    /// Whether frames must carry `rgb` (colour conversion costs time; grey is always there).
    fn needs_rgb(&self) -> bool {
        false
    }
    fn on_frame(&mut self, frame: &Frame) -> Vec<EventUpdate>;
    /// End of stream: close open events.
    fn finish(&mut self) -> Vec<EventUpdate> {
        Vec::new()
    }
    /// Model inference since this analytic was built: runs and time spent in the model
    /// (`None`: it runs no model). The service turns it into the camera's inference metrics.
    fn inference(&self) -> Option<(u64, std::time::Duration)> {
        None
    }
}
