//! Seeded scene generator: H.264 clips with ground truth and a matching camera config.
//!
//! **Facade model.** A pinhole camera stands on the ground (eye height ~1.5 m, 20-60 m from the
//! facade), pitched up 20-45°, with a horizontal FOV of 50-90° and a little yaw and roll. The
//! tower is a plane (`z = 0` in the facade frame: `x` along the facade, `y` up, `z` towards the
//! camera) with floors, a window / balcony / AC-unit grid, tiled or stained walls and a parapet;
//! parallel neighbour towers stand further back and the sky (clear, hazy or overcast, with
//! clouds) fills the rest. The static background is ray-cast once per clip with 2×2
//! supersampling, so perspective is exact: upper floors shrink and verticals converge.
//!
//! **Physics.** The object kind is drawn first (dense: bottle, can, phone, fruit, shoe, brick,
//! flowerpot; light: bag, paper, cardboard, clothing, cigarette butt), with a physical size,
//! mass and drag coefficient whose terminal velocity follows (`vt = √(2mg / ρ·Cd·A)`: dense
//! ~15-60 m/s, bag / paper ~1.5-6); the apparent size is then set by where it is released and,
//! with [`FacadeSpec::fit_zoom`], by the camera's zoom, so size and kind are independent. Objects
//! are let go or thrown out (0.5-4 m/s) from a window or balcony and fall under gravity with
//! quadratic drag against gusty wind; light ones flutter sideways. Each frame integrates the
//! projected object over the shutter (motion blur) with anti-aliased, tumbling outlines and a
//! flickering brightness; its contrast against the wall is drawn at random, light or dark,
//! including low-contrast cases.
//!
//! **Distractors.** Birds (flapping, gliding, diving that pull out, landing on a sill and taking
//! off, flocks), rain (streaks at all depths), leaves (slow flutter, drift), insects at the lens
//! (big defocused erratic blobs), window lights switching, curtains / laundry swaying, drifting
//! clouds, camera shake, exposure steps, sensor noise; night mode (dark walls lit from below, lit
//! windows, more noise).
//!
//! **Camera look** ([`Look`]): sensor noise, vignetting, mild barrel distortion (truth and
//! calibration go through the same map, [`lens`]), haze, auto-exposure wander, pole vibration,
//! and the H.264 CRF / preset / GOP.
//!
//! **Simplifications.** Balconies, sills and AC units are painted on the facade plane (no
//! relief, no shadows cast by the objects); the sky is not ray-traced (clouds are an image-space
//! texture that drifts sideways); birds, leaves and rain are not occluded by anything; rolling
//! shutter and chroma noise are not modelled; sensor noise is Gaussian, luma only. Objects
//! vanish when they reach the ground.
//!
//! Frames are a pure function of the seed and the frame index ([`FacadeScene::frame`]), so the
//! analytics can be unit-tested without encoding.

// Pixel loops index several parallel buffers; iterator chains would only obscure them.
#![allow(clippy::needless_range_loop)]

pub mod building;
pub mod camera;
pub mod distractors;
pub mod elevator;
pub mod encode;
pub mod facade;
pub mod lens;
pub mod noise;
pub mod physics;
pub mod raster;
pub mod truth;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use elevator::ElevatorScene;
pub use facade::FacadeScene;
pub use physics::{ObjectClass, ObjectKind};

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("invalid scene spec: {0}")]
    Spec(String),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("encoding {path}: {message}")]
    Encode { path: PathBuf, message: String },
    #[error("serialising {what}: {message}")]
    Serialize { what: String, message: String },
}

/// A distractor that can be switched on in a facade scene.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distractor {
    Birds,
    Rain,
    Leaves,
    Insects,
    Lights,
    Laundry,
    Clouds,
    Jitter,
    Exposure,
    Noise,
}

impl Distractor {
    pub const ALL: [Distractor; 10] = [
        Distractor::Birds,
        Distractor::Rain,
        Distractor::Leaves,
        Distractor::Insects,
        Distractor::Lights,
        Distractor::Laundry,
        Distractor::Clouds,
        Distractor::Jitter,
        Distractor::Exposure,
        Distractor::Noise,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Distractor::Birds => "birds",
            Distractor::Rain => "rain",
            Distractor::Leaves => "leaves",
            Distractor::Insects => "insects",
            Distractor::Lights => "lights",
            Distractor::Laundry => "laundry",
            Distractor::Clouds => "clouds",
            Distractor::Jitter => "jitter",
            Distractor::Exposure => "exposure",
            Distractor::Noise => "noise",
        }
    }

    /// Parse a comma list; `mixed` or `all` means every distractor, `none` or `` nothing.
    pub fn parse_list(s: &str) -> Result<Vec<Distractor>, SynthError> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let p = part.to_ascii_lowercase();
            if p == "mixed" || p == "all" {
                return Ok(Distractor::ALL.to_vec());
            }
            if p == "none" {
                continue;
            }
            match Distractor::ALL.iter().find(|d| d.name() == p) {
                Some(d) if !out.contains(d) => out.push(*d),
                Some(_) => {}
                None => {
                    return Err(SynthError::Spec(format!(
                        "unknown distractor '{part}' (expected one of: {}, mixed)",
                        Distractor::ALL.map(|d| d.name()).join(", ")
                    )))
                }
            }
        }
        Ok(out)
    }
}

/// How rain looks (with the `rain` distractor). `Streaks` is the original rendering (drops at
/// all depths, one frame each); the others were added after independent footage showed rain
/// defeating the analytic: all of them put drops near the lens and let a share of the streaks
/// show on two consecutive frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RainKind {
    Streaks,
    /// Light rain: few short faint streaks.
    Drizzle,
    /// Downpour: thousands of streaks, near-lens smears, a thick veil.
    Heavy,
    /// Wind-driven: strongly slanted streaks whose angle gusts frame to frame.
    Wind,
    /// At night under lamps: short bright near-parallel streaks all over the frame, near the
    /// lens (the scene is rendered at night).
    NightLights,
}

impl RainKind {
    pub const ALL: [RainKind; 5] = [
        RainKind::Streaks,
        RainKind::Drizzle,
        RainKind::Heavy,
        RainKind::Wind,
        RainKind::NightLights,
    ];
    /// The kinds the harder generator draws from (all but the original).
    pub const HARD: [RainKind; 4] = [
        RainKind::Drizzle,
        RainKind::Heavy,
        RainKind::Wind,
        RainKind::NightLights,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RainKind::Streaks => "streaks",
            RainKind::Drizzle => "drizzle",
            RainKind::Heavy => "heavy",
            RainKind::Wind => "wind",
            RainKind::NightLights => "night_lights",
        }
    }

    pub fn parse(s: &str) -> Result<RainKind, SynthError> {
        RainKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                SynthError::Spec(format!(
                    "unknown rain kind '{s}' (expected one of: {})",
                    RainKind::ALL.map(|k| k.name()).join(", ")
                ))
            })
    }
}

/// Force parts of one drop; anything left `None` is drawn at random.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DropPlan {
    /// Release floor, 1 = ground floor (must be ≥ 2).
    pub floor: Option<u32>,
    pub release_s: Option<f64>,
    /// Largest dimension in metres (0.03-0.40).
    pub size_m: Option<f64>,
    /// Terminal velocity in m/s (sets how draggy the object is).
    pub terminal_velocity_mps: Option<f64>,
    /// Signed luma contrast against the wall at release (0-255 scale).
    pub contrast: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FacadeSpec {
    pub seed: u64,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub duration_s: f64,
    /// Number of falling objects (ignored when `plan` is not empty).
    pub drops: usize,
    pub distractors: Vec<Distractor>,
    pub night: bool,
    /// Range of the objects' apparent size at release (px).
    pub min_size_px: f64,
    pub max_size_px: f64,
    /// Exposure time for motion blur.
    pub shutter_s: f64,
    /// Explicit drops (overrides `drops`).
    pub plan: Vec<DropPlan>,
    /// Tower height in floors (default: random 18-33).
    pub floors: Option<u32>,
    /// Camera distance from the facade (default: random 20-60 m).
    pub distance_m: Option<f64>,
    pub pitch_deg: Option<f64>,
    pub hfov_deg: Option<f64>,
    /// Object kinds of the drops in order (cycled); empty: drawn at random. The kind sets the
    /// physics; the apparent size comes from where the object is released and the zoom.
    #[serde(default)]
    pub objects: Vec<ObjectKind>,
    /// Choose the zoom (when `hfov_deg` is not fixed) so that the first drop's object can show
    /// at a size drawn from `min_size_px..max_size_px`; otherwise the FOV is drawn in 50-90°.
    #[serde(default)]
    pub fit_zoom: bool,
    /// Camera, sensor, lens and codec appearance.
    #[serde(default)]
    pub look: Look,
    /// How the rain looks when the `rain` distractor is on (None: the original streaks).
    #[serde(default)]
    pub rain_kind: Option<RainKind>,
    /// Draw every drop's contrast magnitude (luma against the wall at release) from this
    /// range, sign at random (a drop plan's contrast still wins).
    #[serde(default)]
    pub contrast_range: Option<[f64; 2]>,
}

/// How the camera renders: sensor noise, vignetting, lens distortion, haze, auto-exposure,
/// pole vibration and the H.264 encoding. [`Look::default`] is the plain look (mild noise and
/// vignetting, no distortion, CRF 23); [`Look::random`] draws a varied one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Look {
    /// Base sensor noise sigma (luma, 0-255 scale); the `noise` distractor adds more.
    pub noise_sigma: f32,
    /// Extra noise at night (gain).
    pub night_noise: f32,
    /// Brightness lost in the image corners (0-0.6).
    pub vignette: f32,
    /// Barrel distortion strength, 0-0.08 (see [`lens::Lens`]).
    pub barrel_k: f64,
    /// Haze / low contrast: the picture is mixed this much towards a flat veil (0-0.6).
    pub haze: f32,
    /// Slow auto-exposure wander: relative gain amplitude (0-0.2).
    pub ae_drift: f32,
    /// Camera-pole vibration: amplitude in px (at 1280 px width) and frequency (Hz).
    pub vibration_px: f64,
    pub vibration_hz: f64,
    /// H.264 constant rate factor (0-51; IP cameras at low bit rates look like 30-35).
    pub crf: u32,
    /// x264 preset (`ultrafast` … `medium`).
    pub preset: String,
    /// Keyframe interval (s).
    pub gop_s: f64,
}

impl Default for Look {
    fn default() -> Self {
        Look {
            noise_sigma: 1.2,
            night_noise: 2.5,
            vignette: 0.18,
            barrel_k: 0.0,
            haze: 0.0,
            ae_drift: 0.0,
            vibration_px: 0.0,
            vibration_hz: 2.0,
            crf: 23,
            preset: "veryfast".into(),
            gop_s: 2.0,
        }
    }
}

impl Look {
    /// A varied look drawn from `r`: noise 0.8-4 (night +2-7), vignetting 0-0.45, barrel
    /// 0-0.05 (a third undistorted), haze 0-0.45 (half clear), auto-exposure wander 0-8 %,
    /// pole vibration 0-2.5 px at 0.8-4 Hz (half still), CRF 18-35 (a quarter at 32-35),
    /// GOP 1-4 s.
    pub fn random(r: &mut rand_chacha::ChaCha8Rng) -> Look {
        use rand::Rng;
        let crf = if r.gen_bool(0.25) {
            r.gen_range(32..=35)
        } else {
            r.gen_range(18..=31)
        };
        Look {
            noise_sigma: r.gen_range(0.8..4.0),
            night_noise: r.gen_range(2.0..7.0),
            vignette: r.gen_range(0.0..0.45),
            barrel_k: if r.gen_bool(0.33) {
                0.0
            } else {
                r.gen_range(0.0..0.05)
            },
            haze: if r.gen_bool(0.5) {
                0.0
            } else {
                r.gen_range(0.0..0.45)
            },
            ae_drift: r.gen_range(0.0..0.08),
            vibration_px: if r.gen_bool(0.5) {
                0.0
            } else {
                r.gen_range(0.2..2.5)
            },
            vibration_hz: r.gen_range(0.8..4.0),
            crf,
            preset: if r.gen_bool(0.5) {
                "veryfast"
            } else {
                "superfast"
            }
            .into(),
            gop_s: [1.0, 2.0, 2.0, 4.0][r.gen_range(0..4)],
        }
    }

    fn validate(&self) -> Result<(), SynthError> {
        let ok = (0.0..=40.0).contains(&self.noise_sigma)
            && (0.0..=40.0).contains(&self.night_noise)
            && (0.0..=0.6).contains(&self.vignette)
            && (0.0..=0.08).contains(&self.barrel_k)
            && (0.0..=0.6).contains(&self.haze)
            && (0.0..=0.2).contains(&self.ae_drift)
            && (0.0..=10.0).contains(&self.vibration_px)
            && (0.05..=20.0).contains(&self.vibration_hz)
            && self.crf <= 51
            && (0.1..=20.0).contains(&self.gop_s);
        const PRESETS: [&str; 6] = [
            "ultrafast",
            "superfast",
            "veryfast",
            "faster",
            "fast",
            "medium",
        ];
        if !ok || !PRESETS.contains(&self.preset.as_str()) {
            return Err(SynthError::Spec(format!("look out of range: {self:?}")));
        }
        Ok(())
    }
}

impl Default for FacadeSpec {
    fn default() -> Self {
        FacadeSpec {
            seed: 1,
            width: 1280,
            height: 720,
            fps: 25.0,
            duration_s: 12.0,
            drops: 1,
            distractors: Vec::new(),
            night: false,
            min_size_px: 3.0,
            max_size_px: 30.0,
            shutter_s: 1.0 / 50.0,
            plan: Vec::new(),
            floors: None,
            distance_m: None,
            pitch_deg: None,
            hfov_deg: None,
            objects: Vec::new(),
            fit_zoom: false,
            look: Look::default(),
            rain_kind: None,
            contrast_range: None,
        }
    }
}

impl FacadeSpec {
    pub fn frame_count(&self) -> u64 {
        (self.duration_s * self.fps).round().max(0.0) as u64
    }

    fn validate(&self) -> Result<(), SynthError> {
        check_video(self.width, self.height, self.fps, self.duration_s)?;
        self.look.validate()?;
        if !(self.min_size_px > 0.5
            && self.max_size_px >= self.min_size_px
            && self.max_size_px <= 200.0)
        {
            return Err(SynthError::Spec(format!(
                "object size range {}..{} px is not within 0.5..200",
                self.min_size_px, self.max_size_px
            )));
        }
        if !(self.shutter_s > 0.0 && self.shutter_s <= 1.0 / self.fps + 1e-9) {
            return Err(SynthError::Spec(format!(
                "shutter {} s must be positive and at most one frame interval",
                self.shutter_s
            )));
        }
        if self.drops > 64 || self.plan.len() > 64 {
            return Err(SynthError::Spec("at most 64 drops per clip".into()));
        }
        if let Some(f) = self.floors {
            if !(3..=80).contains(&f) {
                return Err(SynthError::Spec(format!("floors {f} not within 3..80")));
            }
        }
        for p in &self.plan {
            if let Some(f) = p.floor {
                if f < 2 || self.floors.is_some_and(|n| f > n) {
                    return Err(SynthError::Spec(format!(
                        "drop floor {f} is not a valid upper floor"
                    )));
                }
            }
            if let Some(s) = p.size_m {
                if !(0.01..=1.0).contains(&s) {
                    return Err(SynthError::Spec(format!(
                        "drop size {s} m not within 0.01..1"
                    )));
                }
            }
            if let Some(v) = p.terminal_velocity_mps {
                if !(1.0..=80.0).contains(&v) {
                    return Err(SynthError::Spec(format!(
                        "terminal velocity {v} not within 1..80"
                    )));
                }
            }
        }
        if let Some([a, b]) = self.contrast_range {
            if !(a >= 1.0 && b >= a && b <= 200.0) {
                return Err(SynthError::Spec(format!(
                    "contrast range {a}..{b} not within 1..200"
                )));
            }
        }
        if let Some(d) = self.distance_m {
            if !(5.0..=200.0).contains(&d) {
                return Err(SynthError::Spec(format!(
                    "distance {d} m not within 5..200"
                )));
            }
        }
        if let Some(p) = self.pitch_deg {
            if !(0.0..=80.0).contains(&p) {
                return Err(SynthError::Spec(format!("pitch {p}° not within 0..80")));
            }
        }
        if let Some(h) = self.hfov_deg {
            if !(20.0..=120.0).contains(&h) {
                return Err(SynthError::Spec(format!("hfov {h}° not within 20..120")));
            }
        }
        Ok(())
    }
}

fn check_video(width: u32, height: u32, fps: f64, duration_s: f64) -> Result<(), SynthError> {
    if width < 64
        || height < 64
        || width > 3840
        || height > 2160
        || width % 2 != 0
        || height % 2 != 0
    {
        return Err(SynthError::Spec(format!(
            "size {width}x{height} must be even and within 64x64..3840x2160"
        )));
    }
    if !(1.0..=120.0).contains(&fps) {
        return Err(SynthError::Spec(format!("fps {fps} not within 1..120")));
    }
    if !(duration_s > 0.0 && duration_s <= 3600.0) || duration_s * fps < 1.0 {
        return Err(SynthError::Spec(format!(
            "duration {duration_s} s must give at least one frame and be at most an hour"
        )));
    }
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ElevatorSpec {
    pub seed: u64,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub duration_s: f64,
    pub ebike: bool,
    pub people: usize,
    /// A non-e-bike object wheeled in instead of the e-bike (the in-car negative set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative: Option<Negative>,
    /// The e-bike (or negative object) is already standing in the car at frame 0 and the door
    /// stays shut for the first 4 s (idle start-up tests).
    #[serde(default)]
    pub at_start: bool,
}

/// Objects that come into a car and must not raise the e-bike alarm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Negative {
    Bicycle,
    Stroller,
    Wheelchair,
    Trolley,
}

impl Negative {
    pub const ALL: [Negative; 4] = [
        Negative::Bicycle,
        Negative::Stroller,
        Negative::Wheelchair,
        Negative::Trolley,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Negative::Bicycle => "bicycle",
            Negative::Stroller => "stroller",
            Negative::Wheelchair => "wheelchair",
            Negative::Trolley => "trolley",
        }
    }

    pub fn parse(s: &str) -> Option<Negative> {
        Negative::ALL.into_iter().find(|n| n.as_str() == s)
    }
}

impl Default for ElevatorSpec {
    fn default() -> Self {
        ElevatorSpec {
            seed: 1,
            width: 640,
            height: 480,
            fps: 15.0,
            duration_s: 12.0,
            ebike: true,
            people: 1,
            negative: None,
            at_start: false,
        }
    }
}

impl ElevatorSpec {
    pub fn frame_count(&self) -> u64 {
        (self.duration_s * self.fps).round().max(0.0) as u64
    }
}

/// One rendered frame: packed RGB24.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthFrame {
    pub index: u64,
    pub t_s: f64,
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl SynthFrame {
    /// Luma as the decoder's Y plane will carry it (BT.601, limited range 16-235), so in-memory
    /// frames and decoded frames agree up to compression error.
    pub fn gray(&self) -> Vec<u8> {
        self.rgb
            .chunks_exact(3)
            .map(|p| encode::y_of(p[0], p[1], p[2]))
            .collect()
    }

    /// As the analytics' frame type (luma always, colour when asked).
    pub fn to_frame(&self, with_rgb: bool) -> crate::frame::Frame {
        crate::frame::Frame {
            index: self.index,
            pts_s: self.t_s,
            width: self.width,
            height: self.height,
            gray: self.gray(),
            rgb: with_rgb.then(|| self.rgb.clone()),
        }
    }
}

/// Files written for one clip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthOutput {
    pub video: PathBuf,
    pub truth: PathBuf,
    pub config: PathBuf,
}

fn check_name(name: &str) -> Result<(), SynthError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        || name.starts_with('.')
    {
        return Err(SynthError::Spec(format!(
            "clip name '{name}' must use letters, digits, '-', '_' or '.'"
        )));
    }
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), SynthError> {
    std::fs::write(path, bytes).map_err(|source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn prepare(out_dir: &Path, name: &str) -> Result<SynthOutput, SynthError> {
    check_name(name)?;
    std::fs::create_dir_all(out_dir).map_err(|source| SynthError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    Ok(SynthOutput {
        video: out_dir.join(format!("{name}.mp4")),
        truth: out_dir.join(format!("{name}.truth.json")),
        config: out_dir.join(format!("{name}.toml")),
    })
}

/// A minimal vigil config for one clip: only what the generator knows, so the analytics'
/// defaults stay in force.
pub fn config_toml(camera: &crate::config::CameraConfig) -> String {
    let kind = match camera.kind {
        crate::config::CameraKind::Facade => "facade",
        crate::config::CameraKind::Elevator => "elevator",
    };
    let mut s = String::from("# Generated by `vigil synth`.\n[node]\n\n[[camera]]\n");
    s += &format!(
        "name = {}\nkind = \"{kind}\"\nsource = {}\n",
        toml_str(&camera.name),
        toml_str(&camera.source)
    );
    if let Some(f) = &camera.facade {
        s += &format!("\n[camera.facade]\nfloor_height_m = {}\n", f.floor_height_m);
        s += "# Image pixels (x, y) and facade-plane metres (along, height above ground).\ncalibration = [\n";
        for c in &f.calibration {
            s += &format!(
                "  {{ px = [{:?}, {:?}], m = [{:?}, {:?}] }},\n",
                c.px[0], c.px[1], c.m[0], c.m[1]
            );
        }
        s += "]\n";
    }
    if let Some(e) = &camera.elevator {
        s += "\n[camera.elevator]\nzone = [";
        let pts: Vec<String> = e
            .zone
            .iter()
            .map(|p| format!("[{:?}, {:?}]", p[0], p[1]))
            .collect();
        s += &pts.join(", ");
        s += "]\n";
    }
    s
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn json<T: Serialize>(what: &str, v: &T) -> Result<Vec<u8>, SynthError> {
    serde_json::to_vec_pretty(v).map_err(|e| SynthError::Serialize {
        what: what.into(),
        message: e.to_string(),
    })
}

/// Render a facade clip: `<name>.mp4`, `<name>.truth.json`, `<name>.toml` in `out_dir`.
pub fn render_facade(
    spec: &FacadeSpec,
    out_dir: &Path,
    name: &str,
) -> Result<SynthOutput, SynthError> {
    let out = prepare(out_dir, name)?;
    let mut scene = FacadeScene::new(spec)?;
    let mut enc = encode::VideoWriter::create_with(
        &out.video,
        spec.width,
        spec.height,
        spec.fps,
        &encode::EncodeParams {
            crf: spec.look.crf,
            preset: spec.look.preset.clone(),
            gop: (spec.look.gop_s * spec.fps).round().max(1.0) as u32,
        },
    )?;
    for i in 0..scene.frame_count() {
        let f = scene.frame(i);
        enc.write_rgb(&f.rgb)?;
    }
    enc.finish()?;
    write_file(&out.truth, &json("truth", scene.truth())?)?;
    let source = format!("{name}.mp4");
    write_file(
        &out.config,
        config_toml(&scene.camera_config(name, &source)).as_bytes(),
    )?;
    tracing::info!(video = %out.video.display(), frames = scene.frame_count(), "facade clip written");
    Ok(out)
}

/// Render an elevator clip: `<name>.mp4`, `<name>.truth.json`, `<name>.toml` in `out_dir`.
pub fn render_elevator(
    spec: &ElevatorSpec,
    out_dir: &Path,
    name: &str,
) -> Result<SynthOutput, SynthError> {
    let out = prepare(out_dir, name)?;
    let mut scene = ElevatorScene::new(spec)?;
    let mut enc = encode::VideoWriter::create(&out.video, spec.width, spec.height, spec.fps)?;
    for i in 0..scene.frame_count() {
        let f = scene.frame(i);
        enc.write_rgb(&f.rgb)?;
    }
    enc.finish()?;
    write_file(&out.truth, &json("truth", scene.truth())?)?;
    let source = format!("{name}.mp4");
    write_file(
        &out.config,
        config_toml(&scene.camera_config(name, &source)).as_bytes(),
    )?;
    tracing::info!(video = %out.video.display(), frames = scene.frame_count(), "elevator clip written");
    Ok(out)
}
