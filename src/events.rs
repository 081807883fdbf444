//! Events: what the analytics raise, in the stable JSON Lines shape of `vigil analyze`.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    FallingObject,
    EbikeInElevator,
}

/// Where a falling object left the facade.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Origin {
    /// Pixel position (analysis resolution) of the extrapolated release point.
    pub x: f64,
    pub y: f64,
    /// Floor, 1 = ground floor. Omitted when the camera is not calibrated.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub floor: Option<i32>,
    /// Release height above ground in metres. Omitted when the camera is not calibrated.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub height_m: Option<f64>,
    /// Horizontal position along the facade in metres, in the calibration's frame (calibrated
    /// cameras only). For integrators; people are shown `window`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub facade_x_m: Option<f64>,
    /// The nearest window / balcony column (1-based, left to right), when the camera's
    /// `[camera.facade.building]` model has columns.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub column: Option<u32>,
    /// That column's name (e.g. the unit number "03").
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub column_name: Option<String>,
    /// The window: `<floor>-<column name>`, e.g. "21-03".
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub window: Option<String>,
    /// Distance along the facade from the release point to that window's centre (m).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub window_distance_m: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EvidencePaths {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub clip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub snapshot: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub trajectory: Option<String>,
}

/// One alarm event. Field names and meaning are a stable interface (see README).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Per-camera sequence number assigned by the analytic (unique within one run).
    pub id: u64,
    pub kind: EventKind,
    pub camera: String,
    pub start_s: f64,
    pub end_s: f64,
    /// Media time at which the alarm was raised.
    pub alarm_s: f64,
    pub confidence: f64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub origin: Option<Origin>,
    /// `[t_s, x, y]` samples of the tracked object (analysis pixels).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub trajectory: Option<Vec<[f64; 3]>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub label: Option<String>,
    /// `[x1, y1, x2, y2]` in analysis pixels.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub bbox: Option<[f64; 4]>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub evidence: Option<EvidencePaths>,
}

impl Event {
    pub fn new(id: u64, kind: EventKind, camera: &str, t: f64, confidence: f64) -> Self {
        Event {
            id,
            kind,
            camera: camera.to_string(),
            start_s: t,
            end_s: t,
            alarm_s: t,
            confidence,
            origin: None,
            trajectory: None,
            label: None,
            bbox: None,
            evidence: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The alarm: first time the event is reported.
    New,
    /// More is known (longer trajectory, better box); same `id`.
    Update,
    /// The event is complete; `end_s` is final.
    End,
}

/// A picture an analytic wants kept as evidence with the event (trajectory picture or
/// annotated snapshot).
#[derive(Clone, Debug)]
pub struct Picture {
    /// File name, e.g. `trajectory.png` or `snapshot.jpg`; the extension picks the encoder.
    pub name: String,
    pub image: image::RgbImage,
}

/// What an analytic emits for one frame.
#[derive(Clone, Debug)]
pub struct EventUpdate {
    pub phase: Phase,
    pub event: Event,
    pub pictures: Vec<Picture>,
}
