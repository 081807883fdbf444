//! Ground truth written next to each clip (`<name>.truth.json`); the evaluator reads it back.
//!
//! Pixel coordinates use the convention of the analytics: the centre of pixel column `i` is at
//! `x = i` (row likewise), in the output picture (after camera shake and lens distortion).
//! Times are media seconds from the first frame (`t = index / fps`).

use serde::{Deserialize, Serialize};

/// Camera pose in the facade frame: `x` along the facade, `y` up (height above ground), `z` out of
/// the facade towards the camera (the facade plane is `z = 0`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CameraTruth {
    /// Camera centre `[x, y, z]` in metres.
    pub position_m: [f64; 3],
    pub pitch_deg: f64,
    pub yaw_deg: f64,
    pub roll_deg: f64,
    pub hfov_deg: f64,
    pub focal_px: f64,
    /// Principal point `[cx, cy]` in pixels.
    pub principal_px: [f64; 2],
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FacadeTruth {
    pub kind: String,
    pub seed: u64,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub duration_s: f64,
    pub frames: u64,
    pub night: bool,
    /// Exposure time used for motion blur.
    pub shutter_s: f64,
    pub camera: CameraTruth,
    pub floors: u32,
    pub floor_height_m: f64,
    /// Facade extent along x `[min, max]` in metres.
    pub facade_x_m: [f64; 2],
    pub distance_m: f64,
    pub distractors: Vec<DistractorTruth>,
    pub drops: Vec<DropTruth>,
    /// Sensor, lens and codec settings the clip was rendered with.
    #[serde(default)]
    pub look: super::Look,
}

/// Why a drop's visible track ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropEnd {
    /// Reached the ground inside the frame.
    Landed,
    /// Left the frame (usually through the bottom edge) before landing.
    LeftFrame,
    /// The clip ended first.
    ClipEnd,
    /// Never inside the frame while the clip ran.
    NotVisible,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DropTruth {
    pub id: u32,
    /// Object kind: bottle, can, phone, fruit, shoe, cigarette_butt, brick, flowerpot, bag,
    /// paper, cardboard, clothing.
    pub object: String,
    /// `dense` (≳ 12 m/s terminal velocity) or `light` (drag-limited, flutters).
    #[serde(default)]
    pub class: String,
    #[serde(default)]
    pub mass_kg: f64,
    #[serde(default)]
    pub drag_coefficient: f64,
    /// Release floor, 1 = ground floor.
    pub floor: u32,
    pub release_s: f64,
    /// Release point `[x along the facade, h above ground, z out of the facade]` in metres.
    pub release_m: [f64; 3],
    /// Release velocity `[vx, vy (up), vz (out)]` in m/s.
    pub release_velocity_mps: [f64; 3],
    /// Release point projected into the image.
    pub release_px: [f64; 2],
    /// Whether the release point lies inside the frame.
    pub release_in_frame: bool,
    /// First frame time with the object's centre inside the frame (None: never visible).
    pub first_visible_s: Option<f64>,
    /// Last frame time with the object's centre inside the frame.
    pub last_visible_s: Option<f64>,
    /// Time the object reaches the ground (may lie after the clip's end).
    pub lands_s: f64,
    pub end: DropEnd,
    /// Largest dimension in metres.
    pub size_m: f64,
    /// Approximate largest dimension in pixels at the release point (pinhole; barrel distortion
    /// changes it by at most a few per cent).
    pub size_px: f64,
    pub terminal_velocity_mps: f64,
    /// Luma contrast of the object against the wall at release (signed, 0-255 scale).
    pub contrast: f64,
    /// `[t, x, y]` of the object's centre for each frame while visible (frame time, mid-shutter).
    pub trajectory: Vec<[f64; 3]>,
    /// `[t, x, h, z]` in metres for the same frames.
    pub trajectory_m: Vec<[f64; 4]>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DistractorTruth {
    /// birds, rain, leaves, insects, lights, laundry, clouds, jitter, exposure, noise.
    #[serde(rename = "type")]
    pub kind: String,
    pub start_s: f64,
    pub end_s: f64,
    /// Free-form detail, e.g. `"dive"` for a diving bird.
    #[serde(default)]
    pub detail: String,
    /// Image-space `[t, x, y]` samples (one per frame) for moving distractors, when known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track: Vec<[f64; 3]>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ElevatorTruth {
    pub kind: String,
    pub seed: u64,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub duration_s: f64,
    pub frames: u64,
    /// Car floor polygon in pixels (also the config's zone).
    pub zone: Vec<[f64; 2]>,
    /// Door `[open_start_s, close_end_s]` cycles.
    pub door_cycles: Vec<[f64; 2]>,
    pub entries: Vec<EntryTruth>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryTruth {
    pub id: u32,
    /// `person` or `ebike` (an e-bike is wheeled in by a person, who gets an entry of their own).
    pub object: String,
    /// Time the object starts crossing the door line into the car.
    pub enter_s: f64,
    /// Time it is fully out again (None: still inside at the end).
    pub exit_s: Option<f64>,
    /// Time it is fully inside the car (past the door line by a fifth of the car's depth);
    /// written for e-bikes and the negative objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inside_s: Option<f64>,
}
