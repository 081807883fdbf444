//! `[camera.facade]` settings (read by `analytics::falling`).

use serde::{Deserialize, Serialize};

/// One calibration point: image pixel and its facade-plane position in metres
/// (`m = [x along the facade, h above ground]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibPoint {
    pub px: [f64; 2],
    pub m: [f64; 2],
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FacadeConfig {
    /// Storey height in metres (floor 1 = ground floor).
    #[serde(default = "default_floor_height")]
    pub floor_height_m: f64,
    /// At least four non-collinear points; without it no floor is reported.
    #[serde(default)]
    pub calibration: Vec<CalibPoint>,
    /// Polygons (analysis pixels) excluded from detection: trees, roads, sky.
    #[serde(default)]
    pub masks: Vec<Vec<[f64; 2]>>,
}

fn default_floor_height() -> f64 {
    3.0
}

impl Default for FacadeConfig {
    fn default() -> Self {
        FacadeConfig {
            floor_height_m: default_floor_height(),
            calibration: Vec::new(),
            masks: Vec::new(),
        }
    }
}

impl FacadeConfig {
    /// Semantic checks; returns (field, reason) of the first problem.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if !(self.floor_height_m > 1.0 && self.floor_height_m < 10.0) {
            return Err((
                "facade.floor_height_m".into(),
                format!("must be between 1 and 10 m, got {}", self.floor_height_m),
            ));
        }
        if !self.calibration.is_empty() && self.calibration.len() < 4 {
            return Err((
                "facade.calibration".into(),
                format!("needs at least 4 points, got {}", self.calibration.len()),
            ));
        }
        for (i, m) in self.masks.iter().enumerate() {
            if m.len() < 3 {
                return Err((
                    format!("facade.masks[{i}]"),
                    "a polygon needs at least 3 points".into(),
                ));
            }
        }
        Ok(())
    }
}
