//! E-bikes entering elevators (电动车进电梯).
//!
//! `detector` runs a YOLO-family ONNX model through `ort`; `rules` turns per-run detections into
//! one alarm per entry (k-of-n confirmation, clear after the e-bike is gone, motion gating);
//! `eval` scores the detector and the alarm logic against Pascal VOC labels. The HTTP actions
//! on alarm and clear (relay, elevator gateway) are the service's (`crate::service::actions`):
//! the analytic only reports events, so `vigil analyze` or `eval` never call a real relay.

pub mod analytic;
pub mod dataset;
pub mod detector;
pub mod eval;
pub mod layouts;
pub mod nms;
pub mod preprocess;
pub mod rules;
pub mod score;

use std::path::PathBuf;

/// `[camera.elevator]` settings live with the other config types (`crate::config::elevator`).
pub use crate::config::elevator as config;
pub use crate::config::elevator::ElevatorConfig;
pub use analytic::EbikeAnalytic;
pub use detector::{Detector, DetectorOptions};
pub use nms::Detection;

#[derive(Debug, thiserror::Error)]
pub enum EbikeError {
    #[error(transparent)]
    Infer(#[from] crate::infer::InferError),
    #[error("detector model {path}: {reason}")]
    Model { path: PathBuf, reason: String },
    #[error("labels file {path}: {reason}")]
    Labels { path: PathBuf, reason: String },
    #[error("elevator config: {field}: {reason}")]
    Config { field: String, reason: String },
    #[error("detector run failed: {0}")]
    Run(String),
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
}
