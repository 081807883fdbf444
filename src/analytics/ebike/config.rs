//! `[camera.elevator]` settings.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElevatorConfig {
    /// Car zone polygon (analysis pixels); empty = whole frame.
    #[serde(default)]
    pub zone: Vec<[f64; 2]>,
    /// Detector model path (ONNX).
    #[serde(default = "default_model")]
    pub model: String,
}

fn default_model() -> String {
    "models/yolox_nano.onnx".into()
}

impl Default for ElevatorConfig {
    fn default() -> Self {
        ElevatorConfig {
            zone: Vec::new(),
            model: default_model(),
        }
    }
}

impl ElevatorConfig {
    pub fn validate(&self) -> Result<(), (String, String)> {
        if !self.zone.is_empty() && self.zone.len() < 3 {
            return Err((
                "elevator.zone".into(),
                "a polygon needs at least 3 points".into(),
            ));
        }
        Ok(())
    }
}
