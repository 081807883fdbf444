//! Camera health history: periodic samples and window rates.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};

/// One periodic sample of a camera's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthSample {
    pub camera: String,
    /// Wall clock, Unix milliseconds.
    pub ts_ms: i64,
    /// The source is connected.
    pub online: bool,
    /// Decoded frames arrived during the sample period (image availability, 出图率).
    pub image_ok: bool,
    pub input_fps: f64,
    pub analysed_fps: f64,
    pub decode_errors: u64,
    pub reconnects: u64,
}

/// Rates over a window of samples (each sample weighs the same).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HealthWindow {
    pub camera: String,
    pub since_ms: i64,
    pub samples: u64,
    /// Fraction of samples with the camera online; `None` without samples.
    pub online_rate: Option<f64>,
    /// Fraction of samples with images arriving; `None` without samples.
    pub image_availability_rate: Option<f64>,
    pub mean_input_fps: Option<f64>,
}

impl Store {
    pub fn record_health(&self, s: &HealthSample) -> Result<(), StoreError> {
        self.write(|c| {
            c.prepare_cached(
                "INSERT INTO camera_health (camera, ts, online, image_ok, input_fps, analysed_fps, \
                 decode_errors, reconnects) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                s.camera,
                s.ts_ms,
                s.online,
                s.image_ok,
                s.input_fps,
                s.analysed_fps,
                s.decode_errors as i64,
                s.reconnects as i64
            ])?;
            Ok(())
        })
    }

    pub fn health_window(&self, camera: &str, since_ms: i64) -> Result<HealthWindow, StoreError> {
        self.read(|c| {
            let (n, online, image, fps): (i64, Option<f64>, Option<f64>, Option<f64>) = c
                .query_row(
                "SELECT COUNT(*), AVG(online), AVG(image_ok), AVG(input_fps) FROM camera_health \
                     WHERE camera = ?1 AND ts >= ?2",
                params![camera, since_ms],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
            Ok(HealthWindow {
                camera: camera.to_string(),
                since_ms,
                samples: n.max(0) as u64,
                online_rate: online,
                image_availability_rate: image,
                mean_input_fps: fps,
            })
        })
    }
}
