//! Learned layer: the ONNX trajectory classifier (`models/trajectory.onnx`).
//!
//! Input `features` `[N, 40]` f32 (see [`features`]; `models/trajectory/train.py` computes the
//! same thing in numpy), output `probs` `[N, 6]` softmax over
//! `falling, bird, rain, leaf, insect, other` (lights, laundry, people...).

use std::path::{Path, PathBuf};

use super::physics::fit_poly;
use super::tracker::Obs;

pub const N_SAMPLES: usize = 16;
pub const N_FEATURES: usize = 2 * N_SAMPLES + 8;
pub const CLASSES: [&str; 6] = ["falling", "bird", "rain", "leaf", "insect", "other"];

/// Normalised features of a track; `None` for tracks too short to describe.
pub fn features(obs: &[Obs], frame_h: f64) -> Option<[f32; N_FEATURES]> {
    if obs.len() < 3 {
        return None;
    }
    let t0 = obs[0].t;
    let t1 = obs[obs.len() - 1].t;
    let dur = t1 - t0;
    if dur <= 0.0 || frame_h <= 0.0 {
        return None;
    }
    let (x0, y0) = (obs[0].x, obs[0].y);
    let (mut xmin, mut xmax, mut ymin, mut ymax) = (x0, x0, y0, y0);
    for o in obs {
        xmin = xmin.min(o.x);
        xmax = xmax.max(o.x);
        ymin = ymin.min(o.y);
        ymax = ymax.max(o.y);
    }
    let s = (xmax - xmin).max(ymax - ymin).max(1.0);
    let mut f = [0f32; N_FEATURES];
    // Resample uniformly in time by linear interpolation.
    let mut j = 0usize;
    for k in 0..N_SAMPLES {
        let t = t0 + dur * k as f64 / (N_SAMPLES - 1) as f64;
        while j + 2 < obs.len() && obs[j + 1].t < t {
            j += 1;
        }
        let (a, b) = (obs[j], obs[(j + 1).min(obs.len() - 1)]);
        let w = if b.t > a.t {
            ((t - a.t) / (b.t - a.t)).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let x = a.x + w * (b.x - a.x);
        let y = a.y + w * (b.y - a.y);
        f[2 * k] = ((x - x0) / s) as f32;
        f[2 * k + 1] = ((y - y0) / s) as f32;
    }
    let ts: Vec<f64> = obs.iter().map(|o| o.t).collect();
    let ys: Vec<f64> = obs.iter().map(|o| o.y).collect();
    let (rms, curv) = match fit_poly(&ts, &ys, 2) {
        Some(q) => (q.rms / s, q.acc() * dur * dur / s),
        None => (1.0, 0.0),
    };
    let mean_area = obs.iter().map(|o| o.area as f64).sum::<f64>() / obs.len() as f64;
    let b = 2 * N_SAMPLES;
    f[b] = (dur.min(5.0) / 2.0) as f32;
    f[b + 1] = (s / frame_h).max(1e-4).ln() as f32;
    f[b + 2] = ((obs.len() as f64 / (dur * 25.0)).min(1.5)) as f32;
    f[b + 3] = (mean_area.max(1.0).ln() / 5.0) as f32;
    f[b + 4] = rms.min(1.0) as f32;
    f[b + 5] = curv.clamp(-10.0, 10.0) as f32 / 4.0;
    f[b + 6] = ((xmax - xmin) / s) as f32;
    f[b + 7] = ((ymax - ymin) / s) as f32;
    Some(f)
}

#[derive(Debug, thiserror::Error)]
pub enum ClassifierError {
    #[error(transparent)]
    Infer(#[from] crate::infer::InferError),
    #[error("trajectory model: {0}")]
    Run(String),
}

pub struct TrajectoryModel {
    session: ort::session::Session,
    pub path: PathBuf,
}

/// Where the committed model is looked for: `$VIGIL_TRAJECTORY_MODEL`, then
/// `models/trajectory.onnx` under the working directory, the executable's folders and the crate.
pub fn default_model_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("VIGIL_TRAJECTORY_MODEL") {
        return Some(PathBuf::from(p));
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Ok(c) = std::env::current_dir() {
        roots.push(c);
    }
    if let Ok(e) = std::env::current_exe() {
        if let Some(d) = e.parent() {
            roots.push(d.to_path_buf());
        }
    }
    roots.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    for r in roots {
        for a in r.ancestors().take(5) {
            let p = a.join("models").join("trajectory.onnx");
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

impl TrajectoryModel {
    pub fn load(path: &Path) -> Result<Self, ClassifierError> {
        let session = crate::infer::session(path, &crate::infer::SessionOptions::default())?;
        Ok(TrajectoryModel {
            session,
            path: path.to_path_buf(),
        })
    }

    /// Class probabilities for one feature vector.
    pub fn probs(&mut self, f: &[f32; N_FEATURES]) -> Result<[f32; 6], ClassifierError> {
        let input = ort::value::TensorRef::from_array_view(([1usize, N_FEATURES], &f[..]))
            .map_err(|e| ClassifierError::Run(e.to_string()))?;
        let out = self
            .session
            .run(ort::inputs!["features" => input])
            .map_err(|e| ClassifierError::Run(e.to_string()))?;
        let (_, data) = out["probs"]
            .try_extract_tensor::<f32>()
            .map_err(|e| ClassifierError::Run(e.to_string()))?;
        if data.len() < 6 {
            return Err(ClassifierError::Run(format!(
                "expected 6 outputs, got {}",
                data.len()
            )));
        }
        let mut p = [0f32; 6];
        p.copy_from_slice(&data[..6]);
        Ok(p)
    }

    /// Probability of "falling object".
    pub fn p_falling(&mut self, obs: &[Obs], frame_h: f64) -> Result<Option<f32>, ClassifierError> {
        match features(obs, frame_h) {
            Some(f) => Ok(Some(self.probs(&f)?[0])),
            None => Ok(None),
        }
    }
}
