//! The facade scene: camera, towers, sky, falling objects and distractors, frame by frame.

use rand::Rng;

use super::building::{random_style, Bay, Facade};
use super::camera::Camera;
use super::distractors::{shutter_times, Dynamics, Plan, Sprite};
use super::lens::Lens;
use super::noise::{fbm, gaussian_table, hash_u32, rng, smoothstep};
use super::physics::{simulate, Fall, Flutter, ObjectKind, G};
use super::raster::{blur_steps, draw_blurred, luma, Canvas, Pose, Shape};
use super::truth::{DistractorTruth, DropEnd, DropTruth, FacadeTruth};
use super::{Distractor, FacadeSpec, SynthError, SynthFrame};
use crate::config::facade::{CalibPoint, FacadeConfig};
use crate::config::{CameraConfig, CameraKind};

/// A window whose light switches during the clip.
struct Toggle {
    id: u32,
    /// Switch times; the state flips at each.
    times: Vec<f64>,
    /// Pixels of the window pane and `on - off` colour per pixel (already weighted by coverage).
    pixels: Vec<(u32, [f32; 3])>,
    /// Lit in the background image.
    lit0: bool,
}

/// Curtain or laundry hanging from a window top, swaying.
struct Cloth {
    cx: f64,
    top: f64,
    half_w: f64,
    len: f64,
    amp: f64,
    freq: f64,
    phase: f64,
    color: [f32; 3],
    stripes: bool,
    bbox: [usize; 4],
}

struct Drop {
    kind: ObjectKind,
    fall: Fall,
    size_m: f64,
    color: [f32; 3],
    spin: f64,
    angle0: f64,
    aspect: f64,
    /// Brightness flicker while tumbling: relative amplitude, rate (Hz), phase.
    glint: f64,
    glint_hz: f64,
    glint_phase: f64,
}

/// A drop's object drawn before the camera is placed (so the zoom can be fitted to it).
#[derive(Clone, Copy, Debug)]
struct Aim {
    kind: ObjectKind,
    size_m: f64,
    mass_kg: f64,
    cd: f64,
    /// Wanted apparent size at release (None: the plan forced the size in metres).
    target_px: Option<f64>,
}

pub struct FacadeScene {
    spec: FacadeSpec,
    cam: Camera,
    main: Facade,
    bg: Canvas,
    /// Sky pixels: index, sky fraction, cloud-free sky colour (for drifting clouds).
    sky: Vec<(u32, f32, [f32; 3])>,
    cloud_tex: Vec<f32>,
    cloud_tex_w: usize,
    cloud_speed: f64,
    cloud_color: [f32; 3],
    cloud_amount: f32,
    /// Facade-plane coordinates of each pixel centre on the main facade (NaN elsewhere).
    fxy: Vec<[f32; 2]>,
    toggles: Vec<Toggle>,
    cloths: Vec<Cloth>,
    drops: Vec<Drop>,
    dyn_: Dynamics,
    noise_sigma: f32,
    gauss: Vec<f32>,
    truth: FacadeTruth,
    aims: Vec<Aim>,
    lens: Lens,
    /// Pinhole source position of each output pixel (None: no distortion).
    src_map: Option<Vec<[f32; 2]>>,
    /// Vignetting gain per output pixel.
    vig: Vec<f32>,
    haze: f32,
    haze_col: [f32; 3],
    /// Noise sigma by luma (0..=255).
    sigma_lut: Vec<f32>,
    /// Working canvas, reused frame to frame.
    work: Canvas,
}

fn mix3(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

#[derive(Clone, Copy)]
enum SkyKind {
    Clear,
    Hazy,
    Overcast,
}

impl FacadeScene {
    pub fn new(spec: &FacadeSpec) -> Result<FacadeScene, SynthError> {
        spec.validate()?;
        let seed = spec.seed;
        let frames = spec.frame_count();
        let mut r = rng(seed, 1);
        let has = |d: Distractor| spec.distractors.contains(&d);
        let aims = plan_objects(spec);

        // Camera and main tower; retry until the facade fills a good part of the view.
        let mut attempt = 0;
        let (cam, main) = loop {
            attempt += 1;
            let fh = r.gen_range(2.9..3.1);
            let floors = spec.floors.unwrap_or_else(|| r.gen_range(18..=33));
            let top_m = floors as f64 * fh + 1.2;
            // Low buildings are watched from nearer.
            let dist = spec
                .distance_m
                .unwrap_or_else(|| r.gen_range(20.0..60.0f64).min((top_m * 2.2).max(15.0)));
            let mut pitch = spec.pitch_deg.unwrap_or_else(|| r.gen_range(20.0..45.0));
            let mut dist = dist;
            let hfov = match (spec.hfov_deg, spec.fit_zoom, aims.first()) {
                (Some(h), _, _) => h,
                (None, true, Some(a)) => {
                    let target = a.target_px.unwrap_or(8.0);
                    // Depth of a facade point near the middle of the view, give or take.
                    let cosp = pitch.to_radians().cos().max(0.2);
                    let depth = dist / cosp * r.gen_range(0.85..1.3);
                    let half_w = spec.width as f64 / 2.0;
                    let f_needed = target * depth / a.size_m;
                    let h = 2.0 * (half_w / f_needed).atan().to_degrees();
                    if h < 30.0 && spec.distance_m.is_none() {
                        // Beyond a 30° lens (a view of only a few floors): move the camera
                        // closer instead.
                        let f30 = half_w / 15f64.to_radians().tan();
                        dist = (f30 * a.size_m / target * cosp).clamp(10.0, dist);
                        30.0
                    } else if h > 95.0 && spec.distance_m.is_none() {
                        let f95 = half_w / 47.5f64.to_radians().tan();
                        dist = (f95 * a.size_m / target * cosp).clamp(dist, 120.0);
                        95.0
                    } else {
                        h.clamp(30.0, 95.0)
                    }
                }
                _ => r.gen_range(50.0..90.0),
            };
            if spec.pitch_deg.is_none() {
                // Do not look far over the roof: keep the top of the tower in the upper part of
                // the view.
                let vhalf = ((spec.height as f64 / spec.width as f64)
                    * (hfov.to_radians() / 2.0).tan())
                .atan()
                .to_degrees();
                let top_deg = ((top_m - 1.5) / dist).atan().to_degrees();
                pitch = pitch.min(top_deg - 0.5 * vhalf).max(0.0);
            }
            let yaw = r.gen_range(-6.0..6.0);
            let roll = r.gen_range(-2.0..2.0);
            let cam = Camera::new(
                spec.width,
                spec.height,
                [0.0, 1.5, dist],
                pitch,
                yaw,
                roll,
                hfov,
            );
            let view_w = 2.0 * dist * (hfov.to_radians() / 2.0).tan();
            let bw = (view_w * r.gen_range(0.7..1.3)).max(30.0);
            let off = r.gen_range(-0.25..0.25) * bw;
            let style = random_style(&mut r, hash_u32(seed as u32 ^ 0xFACE), spec.night);
            let main = Facade {
                z: 0.0,
                x_min: off - bw / 2.0,
                x_max: off + bw / 2.0,
                floors,
                fh,
                style,
            };
            // Fraction of a coarse grid that hits the main facade above the first floor.
            let mut hits = 0;
            for gy in 0..8 {
                for gx in 0..8 {
                    let x = (gx as f64 + 0.5) / 8.0 * spec.width as f64;
                    let y = (gy as f64 + 0.5) / 8.0 * spec.height as f64;
                    if let Some((fx, fy, _)) = cam.hit_plane_z(x, y, 0.0) {
                        if fx > main.x_min && fx < main.x_max && fy > fh && fy < main.top() {
                            hits += 1;
                        }
                    }
                }
            }
            if hits >= 28 || attempt >= 40 {
                break (cam, main);
            }
        };
        let dist = cam.pos[2];

        // Neighbour towers further back.
        let mut facades = vec![main.clone()];
        for side in [-1.0, 1.0] {
            if r.gen_bool(0.6) {
                let z = -r.gen_range(10.0..45.0);
                let w = r.gen_range(25.0..50.0);
                let gap = r.gen_range(5.0..25.0);
                let (x_min, x_max) = if side < 0.0 {
                    (main.x_min - gap - w, main.x_min - gap + 10.0)
                } else {
                    (main.x_max + gap - 10.0, main.x_max + gap + w)
                };
                facades.push(Facade {
                    z,
                    x_min,
                    x_max,
                    floors: r.gen_range(10..=34),
                    fh: r.gen_range(2.9..3.1),
                    style: random_style(
                        &mut r,
                        hash_u32(seed as u32 ^ if side < 0.0 { 0xBEEF } else { 0xBEE5 }),
                        spec.night,
                    ),
                });
            }
        }
        let sky_kind = match r.gen_range(0..10) {
            0..=3 => SkyKind::Clear,
            4..=6 => SkyKind::Hazy,
            _ => SkyKind::Overcast,
        };

        // Windows whose lights switch: chosen before rendering so their pixels get recorded.
        let mut toggles = Vec::new();
        let mut r_l = rng(seed, 0x11);
        if has(Distractor::Lights) {
            let n = r_l.gen_range(3..=8);
            for _ in 0..n * 4 {
                if toggles.len() >= n {
                    break;
                }
                let x = r_l.gen_range(0.05..0.95) * spec.width as f64;
                let y = r_l.gen_range(0.05..0.9) * spec.height as f64;
                let Some((fx, fy, _)) = cam.hit_plane_z(x, y, 0.0) else {
                    continue;
                };
                if fx < main.x_min
                    || fx > main.x_max
                    || fy < 0.0
                    || fy > main.floors as f64 * main.fh
                {
                    continue;
                }
                let n0 = (fy / main.fh).floor() as i64;
                let (k, bay) = main.bay(fx);
                if bay == Bay::Blank {
                    continue;
                }
                let id = Facade::window_id(n0, k);
                if toggles.iter().any(|t: &Toggle| t.id == id) {
                    continue;
                }
                let m = r_l.gen_range(1..=2);
                let mut times: Vec<f64> = (0..m)
                    .map(|_| r_l.gen_range(0.3..spec.duration_s.max(0.4)))
                    .collect();
                times.sort_by(f64::total_cmp);
                toggles.push(Toggle {
                    id,
                    times,
                    pixels: Vec::new(),
                    lit0: spec.night && main.lit(id),
                });
            }
        }

        // Static background, 2×2 supersampled.
        let (w, h) = (spec.width as usize, spec.height as usize);
        let mut bg = Canvas::new(w, h);
        let mut fxy = vec![[f32::NAN, f32::NAN]; w * h];
        let mut sky = Vec::new();
        let sky_seed = hash_u32(seed as u32 ^ 0x5C1);
        let haze_col = sky_color(sky_kind, spec.night, 0.05);
        const SS: [(f64, f64); 4] = [(-0.25, -0.25), (0.25, -0.25), (-0.25, 0.25), (0.25, 0.25)];
        for py in 0..h {
            for px in 0..w {
                let mut acc = [0.0f32; 3];
                let mut sky_n = 0.0f32;
                let mut sky_acc = [0.0f32; 3];
                let mut glass_delta: Option<(usize, [f32; 3])> = None;
                for (sx, sy) in SS {
                    let (x, y) = (px as f64 + sx, py as f64 + sy);
                    let d = cam.ray(x, y);
                    let dn = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
                    let mut col = None;
                    let mut t_hit = f64::INFINITY;
                    for (fi, f) in facades.iter().enumerate() {
                        if d[2] >= -1e-9 {
                            break;
                        }
                        let t = (f.z - cam.pos[2]) / d[2];
                        let fx = cam.pos[0] + t * d[0];
                        let fy = cam.pos[1] + t * d[1];
                        if fx >= f.x_min
                            && fx <= f.x_max
                            && (0.0..=f.top()).contains(&fy)
                            && t < t_hit
                        {
                            let (mut c, glass) = f.sample(fx, fy, spec.night);
                            if fi == 0 {
                                if let Some(g) = glass {
                                    if let Some(ti) = toggles.iter().position(|tg| tg.id == g.id) {
                                        let dlt = [
                                            g.on[0] - g.off[0],
                                            g.on[1] - g.off[1],
                                            g.on[2] - g.off[2],
                                        ];
                                        let e = glass_delta.get_or_insert((ti, [0.0; 3]));
                                        for c_ in 0..3 {
                                            e.1[c_] += dlt[c_] / 4.0;
                                        }
                                        c = if toggles[ti].lit0 { g.on } else { g.off };
                                    }
                                }
                            }
                            // Aerial perspective.
                            let fog = (1.0 - (-(t * dn) / 700.0).exp()) as f32;
                            c = mix3(c, haze_col, fog);
                            col = Some(c);
                            t_hit = t;
                        }
                    }
                    if d[1] < 0.0 {
                        let tg = -cam.pos[1] / d[1];
                        if tg < t_hit {
                            let gx = cam.pos[0] + tg * d[0];
                            let gz = cam.pos[2] + tg * d[2];
                            col = Some(ground_color(gx, gz, spec.night, sky_seed));
                        }
                    }
                    match col {
                        Some(c) => {
                            for i in 0..3 {
                                acc[i] += c[i] / 4.0;
                            }
                        }
                        None => {
                            let el = (d[1] / dn).clamp(-1.0, 1.0).asin() as f32;
                            let c = sky_color(sky_kind, spec.night, el);
                            sky_n += 0.25;
                            for i in 0..3 {
                                acc[i] += c[i] / 4.0;
                                sky_acc[i] += c[i] / 4.0;
                            }
                        }
                    }
                }
                let idx = py * w + px;
                if sky_n > 0.0 {
                    sky.push((
                        idx as u32,
                        sky_n,
                        [sky_acc[0] / sky_n, sky_acc[1] / sky_n, sky_acc[2] / sky_n],
                    ));
                }
                if let Some((ti, dl)) = glass_delta {
                    toggles[ti].pixels.push((idx as u32, dl));
                }
                if let Some((fx, fy, _)) = cam.hit_plane_z(px as f64, py as f64, 0.0) {
                    if fx >= main.x_min && fx <= main.x_max && (0.0..=main.top()).contains(&fy) {
                        fxy[idx] = [fx as f32, fy as f32];
                    }
                }
                // Vignetting is applied to the finished picture (in `finish`).
                let o = idx * 3;
                bg.px[o..o + 3].copy_from_slice(&acc);
            }
        }

        // Clouds: an image-space texture, static or drifting.
        let mut r_c = rng(seed, 0xC10D);
        let cloud_speed = if has(Distractor::Clouds) {
            r_c.gen_range(3.0..12.0) * crate::synth::distractors::sign(&mut r_c) * spec.width as f64
                / 1280.0
        } else {
            0.0
        };
        let margin = (cloud_speed.abs() * spec.duration_s).ceil() as usize + 2;
        let cloud_tex_w = w + margin;
        let cloud_amount = match sky_kind {
            SkyKind::Clear => r_c.gen_range(0.2..0.5),
            SkyKind::Hazy => r_c.gen_range(0.4..0.7),
            SkyKind::Overcast => r_c.gen_range(0.5..0.8),
        } + if has(Distractor::Clouds) { 0.2 } else { 0.0 };
        let mut cloud_tex = vec![0.0f32; cloud_tex_w * h];
        let sc = 1.0 / (140.0 * spec.width as f32 / 1280.0);
        let rows_with_sky: std::collections::BTreeSet<usize> =
            sky.iter().map(|s| s.0 as usize / w).collect();
        for &y in &rows_with_sky {
            for x in 0..cloud_tex_w {
                let n = fbm(x as f32 * sc, y as f32 * sc * 2.2, sky_seed, 5);
                cloud_tex[y * cloud_tex_w + x] =
                    smoothstep(1.0 - cloud_amount * 0.75, 1.0 - cloud_amount * 0.25, n);
            }
        }
        let cloud_color = if spec.night {
            [30.0, 28.0, 30.0]
        } else {
            [235.0, 236.0, 238.0]
        };

        let lens = Lens::new(spec.width, spec.height, spec.look.barrel_k);
        let src_map = lens.source_map(spec.width, spec.height);
        let mut vig = Vec::with_capacity(w * h);
        for py in 0..h {
            for px in 0..w {
                let nx = (px as f32 / w as f32 - 0.5) * 2.0;
                let ny = (py as f32 / h as f32 - 0.5) * 2.0;
                vig.push(1.0 - spec.look.vignette * (nx * nx + ny * ny) / 2.0);
            }
        }
        let haze_col = if spec.night {
            [40.0, 40.0, 46.0]
        } else {
            [198.0, 201.0, 205.0]
        };
        let mut scene = FacadeScene {
            aims,
            lens,
            src_map,
            vig,
            haze: spec.look.haze,
            haze_col,
            sigma_lut: Vec::new(),
            work: Canvas::new(0, 0),
            spec: spec.clone(),
            cam,
            main,
            bg,
            sky,
            cloud_tex,
            cloud_tex_w,
            cloud_speed,
            cloud_color,
            cloud_amount,
            fxy,
            toggles,
            cloths: Vec::new(),
            drops: Vec::new(),
            dyn_: Dynamics::none(frames),
            noise_sigma: 0.0,
            gauss: Vec::new(),
            truth: FacadeTruth {
                kind: "facade".into(),
                seed,
                width: spec.width,
                height: spec.height,
                fps: spec.fps,
                duration_s: frames as f64 / spec.fps,
                frames,
                night: spec.night,
                shutter_s: spec.shutter_s,
                camera: Default::default(),
                floors: 0,
                floor_height_m: 0.0,
                facade_x_m: [0.0, 0.0],
                distance_m: dist,
                distractors: Vec::new(),
                drops: Vec::new(),
                look: spec.look.clone(),
            },
        };
        scene.truth.camera = scene.cam.truth();
        scene.truth.floors = scene.main.floors;
        scene.truth.floor_height_m = scene.main.fh;
        scene.truth.facade_x_m = [scene.main.x_min, scene.main.x_max];
        if cloud_speed == 0.0 {
            // Bake static clouds into the background.
            let sky = std::mem::take(&mut scene.sky);
            let mut bg = std::mem::replace(&mut scene.bg, Canvas::new(0, 0));
            scene.apply_clouds(&mut bg, &sky, 0.0);
            scene.bg = bg;
        }
        if has(Distractor::Rain) {
            // Rain veils the scene: lower contrast, greyer.
            let grey = if spec.night { 30.0 } else { 170.0 };
            let veil = match spec.rain_kind {
                Some(crate::synth::RainKind::Heavy) => 0.3,
                Some(crate::synth::RainKind::Drizzle) => 0.07,
                _ => 0.15,
            };
            for v in scene.bg.px.iter_mut() {
                *v = *v * (1.0 - veil) + grey * veil;
            }
        }
        if has(Distractor::Laundry) {
            scene.plan_cloths();
        }
        for tg in &scene.toggles {
            let mut s = 0.0;
            for &t in &tg.times {
                scene.truth.distractors.push(DistractorTruth {
                    kind: "lights".into(),
                    start_s: t,
                    end_s: t + 1.0 / spec.fps,
                    detail: format!(
                        "window {:#x} {}",
                        tg.id,
                        if (s as i32 % 2 == 0) != tg.lit0 {
                            "on"
                        } else {
                            "off"
                        }
                    ),
                    track: Vec::new(),
                });
                s += 1.0;
            }
        }
        if has(Distractor::Clouds) {
            scene.truth.distractors.push(span_all(
                "clouds",
                frames as f64 / spec.fps,
                &format!("{cloud_speed:.1} px/s"),
            ));
        }

        let plan = Plan {
            seed,
            cam: &scene.cam,
            fps: spec.fps,
            frames,
            duration: frames as f64 / spec.fps,
            distance: dist,
            night: spec.night,
        };
        let mut dy = Dynamics::none(frames);
        dy.frame_dt = 1.0 / spec.fps;
        dy.add_look(&plan, &spec.look);
        if has(Distractor::Birds) {
            dy.add_birds(&plan);
        }
        if has(Distractor::Leaves) {
            dy.add_leaves(&plan);
        }
        if has(Distractor::Insects) {
            dy.add_insects(&plan);
        }
        if has(Distractor::Rain) {
            dy.add_rain(
                &plan,
                spec.rain_kind.unwrap_or(crate::synth::RainKind::Streaks),
            );
        }
        if has(Distractor::Jitter) {
            dy.add_jitter(&plan);
        }
        if has(Distractor::Exposure) {
            dy.add_exposure(&plan);
        }
        scene.truth.distractors.append(&mut dy.truth);
        scene.dyn_ = dy;
        let mut r_n = rng(seed, 0x401);
        scene.noise_sigma = spec.look.noise_sigma
            + if has(Distractor::Noise) {
                r_n.gen_range(2.0..6.0)
            } else {
                0.0
            }
            + if spec.night {
                spec.look.night_noise
            } else {
                0.0
            };
        // Shot noise grows with brightness.
        scene.sigma_lut = (0..=255)
            .map(|l| scene.noise_sigma * (0.6 + 0.4 * (l as f32 / 128.0).sqrt()))
            .collect();
        if has(Distractor::Noise) {
            scene.truth.distractors.push(span_all(
                "noise",
                frames as f64 / spec.fps,
                &format!("sigma {:.1}", scene.noise_sigma),
            ));
        }
        scene.gauss = gaussian_table(seed, 1 << 20);
        scene.plan_drops();
        scene.distort_distractor_tracks();
        Ok(scene)
    }

    pub fn frame_count(&self) -> u64 {
        self.truth.frames
    }

    pub fn truth(&self) -> &FacadeTruth {
        &self.truth
    }

    pub fn camera(&self) -> &Camera {
        &self.cam
    }

    /// The static background (no objects, distractors, noise) as the camera shows it (lens,
    /// vignetting, haze), RGB24.
    pub fn background_rgb(&self) -> Vec<u8> {
        self.finish(&self.bg, (0.0, 0.0), 1.0, None)
    }

    /// Output pixel where the pinhole camera puts `(x, y)`, with the frame's shake.
    pub fn to_output(&self, x: f64, y: f64, shake: (f64, f64)) -> (f64, f64) {
        self.lens.distort(x + shake.0, y + shake.1)
    }

    fn shake_at(&self, i: u64) -> (f64, f64) {
        self.dyn_
            .shake
            .get(i as usize)
            .copied()
            .unwrap_or((0.0, 0.0))
    }

    /// Distractor tracks were projected by the pinhole camera: move them to output pixels.
    fn distort_distractor_tracks(&mut self) {
        let fps = self.spec.fps;
        let mut tracks: Vec<Vec<[f64; 3]>> = self
            .truth
            .distractors
            .iter()
            .map(|d| d.track.clone())
            .collect();
        for tr in &mut tracks {
            let mut out = Vec::with_capacity(tr.len());
            for &[t, x, y] in tr.iter() {
                let sh = self.shake_at((t * fps).round() as u64);
                let (a, b) = self.to_output(x, y, sh);
                if self.cam.in_frame(a, b) {
                    out.push([t, a, b]);
                }
            }
            *tr = out;
        }
        for (d, tr) in self.truth.distractors.iter_mut().zip(tracks) {
            d.track = tr;
        }
    }

    /// The camera's processing of a rendered pinhole picture: shake and lens remap, exposure
    /// gain, vignetting, haze, sensor noise (frame `noise`), quantisation to RGB24.
    fn finish(&self, c: &Canvas, shake: (f64, f64), gain: f32, noise: Option<u64>) -> Vec<u8> {
        let (w, h) = (c.w, c.h);
        let mut rgb = vec![0u8; w * h * 3];
        let mut r = rng(self.spec.seed, 0x1000_0000 + noise.unwrap_or(0));
        let n = self.gauss.len();
        let haze = self.haze;
        let hz = [
            self.haze_col[0] * haze,
            self.haze_col[1] * haze,
            self.haze_col[2] * haze,
        ];
        let moved = shake != (0.0, 0.0) || self.src_map.is_some();
        let (sx, sy) = (shake.0 as f32, shake.1 as f32);
        let maxx = (w - 1) as f32;
        let maxy = (h - 1) as f32;
        for y in 0..h {
            // Sensor noise: rows read the Gaussian table at random offsets.
            let off = if noise.is_some() && n > w + 1 {
                r.gen_range(0..n - w - 1)
            } else {
                0
            };
            for x in 0..w {
                let idx = y * w + x;
                let mut p = if moved {
                    let (u, v) = match &self.src_map {
                        Some(m) => (m[idx][0] - sx, m[idx][1] - sy),
                        None => (x as f32 - sx, y as f32 - sy),
                    };
                    let u = u.clamp(0.0, maxx);
                    let v = v.clamp(0.0, maxy);
                    let (x0, y0) = (u.floor() as usize, v.floor() as usize);
                    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
                    let (fx, fy) = (u - x0 as f32, v - y0 as f32);
                    let mut q = [0.0f32; 3];
                    for ch in 0..3 {
                        let a = c.px[(y0 * w + x0) * 3 + ch];
                        let b = c.px[(y0 * w + x1) * 3 + ch];
                        let cc = c.px[(y1 * w + x0) * 3 + ch];
                        let d = c.px[(y1 * w + x1) * 3 + ch];
                        let top = a + (b - a) * fx;
                        let bot = cc + (d - cc) * fx;
                        q[ch] = top + (bot - top) * fy;
                    }
                    q
                } else {
                    let o = idx * 3;
                    [c.px[o], c.px[o + 1], c.px[o + 2]]
                };
                let g = gain * self.vig[idx] * (1.0 - haze);
                for ch in 0..3 {
                    p[ch] = p[ch] * g + hz[ch];
                }
                let nz = if noise.is_some() {
                    let l = luma(p).clamp(0.0, 255.0) as usize;
                    self.gauss[off + x] * self.sigma_lut[l]
                } else {
                    0.0
                };
                let o = idx * 3;
                for ch in 0..3 {
                    // `as` saturates (negative -> 0, > 255 -> 255); +0.5 rounds.
                    rgb[o + ch] = (p[ch] + nz + 0.5) as u8;
                }
            }
        }
        rgb
    }

    /// A `[[camera]]` entry for the clip: facade kind and a calibration of ≥ 6 points.
    pub fn camera_config(&self, name: &str, source: &str) -> CameraConfig {
        let mut c = CameraConfig::new(name, CameraKind::Facade, source);
        c.facade = Some(FacadeConfig {
            floor_height_m: (self.main.fh * 1000.0).round() / 1000.0,
            calibration: self.calibration(),
            ..Default::default()
        });
        c
    }

    /// Image points on the main facade with their facade-plane metres.
    pub fn calibration(&self) -> Vec<CalibPoint> {
        let (w, h) = (self.spec.width as f64, self.spec.height as f64);
        // The first grid whose points on the facade span at least 3 rows and 3 columns (a
        // homography needs them spread out), else the densest.
        let mut fallback = Vec::new();
        for grid in [5usize, 8, 12, 16] {
            let mut pts = Vec::new();
            for gy in 0..grid {
                for gx in 0..grid {
                    let x = ((0.1 + 0.8 * gx as f64 / (grid - 1) as f64) * w).round();
                    let y = ((0.1 + 0.8 * gy as f64 / (grid - 1) as f64) * h).round();
                    let (ux, uy) = self.lens.undistort(x, y);
                    if let Some((fx, fy, _)) = self.cam.hit_plane_z(ux, uy, 0.0) {
                        if fx >= self.main.x_min
                            && fx <= self.main.x_max
                            && fy >= 0.0
                            && fy <= self.main.top()
                        {
                            pts.push(CalibPoint {
                                px: [x, y],
                                m: [
                                    (fx * 1000.0).round() / 1000.0,
                                    (fy * 1000.0).round() / 1000.0,
                                ],
                            });
                        }
                    }
                }
            }
            let distinct = |i: usize| {
                let mut v: Vec<i64> = pts.iter().map(|p| p.px[i] as i64).collect();
                v.sort_unstable();
                v.dedup();
                v.len()
            };
            if pts.len() >= 6 && distinct(0) >= 3 && distinct(1) >= 3 {
                return pts;
            }
            if pts.len() > fallback.len() {
                fallback = pts;
            }
        }
        fallback
    }

    fn apply_clouds(&self, canvas: &mut Canvas, sky: &[(u32, f32, [f32; 3])], t: f64) {
        let shift = -self.cloud_speed * t;
        let base = if self.cloud_speed < 0.0 {
            0.0
        } else {
            (self.cloud_tex_w - self.spec.width as usize) as f64
        };
        let w = self.spec.width as usize;
        for &(idx, frac, sb) in sky {
            let (x, y) = (idx as usize % w, idx as usize / w);
            let u = (x as f64 + base + shift).clamp(0.0, (self.cloud_tex_w - 2) as f64);
            let i0 = u.floor() as usize;
            let f = (u - i0 as f64) as f32;
            let row = y * self.cloud_tex_w;
            let d = self.cloud_tex[row + i0] * (1.0 - f) + self.cloud_tex[row + i0 + 1] * f;
            let k = frac * d * 0.85 * self.cloud_amount.clamp(0.5, 1.0);
            let o = idx as usize * 3;
            for c in 0..3 {
                canvas.px[o + c] += k * (self.cloud_color[c] - sb[c]);
            }
        }
    }

    fn plan_cloths(&mut self) {
        let mut r = rng(self.spec.seed, 0x1A0D);
        let n = r.gen_range(2..=4);
        let (w, h) = (self.spec.width as f64, self.spec.height as f64);
        let mut tries = 0;
        while self.cloths.len() < n && tries < 200 {
            tries += 1;
            let x = r.gen_range(0.05..0.95) * w;
            let y = r.gen_range(0.1..0.9) * h;
            let Some((fx, fy, _)) = self.cam.hit_plane_z(x, y, 0.0) else {
                continue;
            };
            let f = &self.main;
            if fx < f.x_min || fx > f.x_max || fy < f.fh || fy > f.floors as f64 * f.fh {
                continue;
            }
            let n0 = (fy / f.fh).floor() as i64;
            let (k, bay) = f.bay(fx);
            let Some(rect) = f.glass_rect(n0, k) else {
                continue;
            };
            let (top, len) = if bay == Bay::Balcony {
                // Laundry over the balcony railing.
                (n0 as f64 * f.fh + 1.1, r.gen_range(0.5..1.0))
            } else {
                (rect[3] - 0.05, r.gen_range(0.5..1.2))
            };
            let half_w = r.gen_range(0.25..0.6);
            let cx = (rect[0] + rect[1]) / 2.0 + r.gen_range(-0.3..0.3);
            // Image bbox from the corners (with sway room).
            let mut bb = [usize::MAX, usize::MAX, 0usize, 0usize];
            let mut ok = true;
            for (ax, ay) in [(-1.0, 0.0), (1.0, 0.0), (-1.0, -1.3), (1.0, -1.3)] {
                let p = [cx + ax * (half_w + 0.5), top + ay * len, 0.0];
                match self.cam.project(p) {
                    Some((px, py, _)) => {
                        bb[0] = bb[0].min(px.floor().max(0.0) as usize);
                        bb[1] = bb[1].min(py.floor().max(0.0) as usize);
                        bb[2] = bb[2].max((px.ceil().max(0.0) as usize).min(w as usize - 1));
                        bb[3] = bb[3].max((py.ceil().max(0.0) as usize).min(h as usize - 1));
                    }
                    None => ok = false,
                }
            }
            if !ok || bb[2] <= bb[0] || bb[3] <= bb[1] {
                continue;
            }
            const COLS: [[f32; 3]; 5] = [
                [230.0, 230.0, 225.0],
                [200.0, 120.0, 110.0],
                [120.0, 150.0, 200.0],
                [220.0, 200.0, 140.0],
                [90.0, 90.0, 100.0],
            ];
            let mut color = COLS[r.gen_range(0..COLS.len())];
            if self.spec.night {
                color = [color[0] * 0.1, color[1] * 0.1, color[2] * 0.1];
            }
            self.cloths.push(Cloth {
                cx,
                top,
                half_w,
                len,
                amp: r.gen_range(0.06..0.3),
                freq: r.gen_range(0.3..1.2),
                phase: r.gen_range(0.0..std::f64::consts::TAU),
                color,
                stripes: r.gen_bool(0.4),
                bbox: bb,
            });
            self.truth.distractors.push(span_all(
                "laundry",
                self.frame_count() as f64 / self.spec.fps,
                if bay == Bay::Balcony {
                    "balcony laundry"
                } else {
                    "curtain"
                },
            ));
        }
    }

    fn draw_cloths(&self, canvas: &mut Canvas, t: f64) {
        let w = self.spec.width as usize;
        for c in &self.cloths {
            let wv = std::f64::consts::TAU * c.freq * t + c.phase;
            // Gusts: two incommensurate swings.
            let sway = c.amp * (wv.sin() + 0.4 * (2.7 * wv + 1.0).sin());
            for y in c.bbox[1]..=c.bbox[3] {
                for x in c.bbox[0]..=c.bbox[2] {
                    let idx = y * w + x;
                    let [fx, fy] = self.fxy[idx];
                    if fx.is_nan() {
                        continue;
                    }
                    let (fx, fy) = (fx as f64, fy as f64);
                    let s = (c.top - fy) / c.len;
                    let bottom = 1.0 + 0.1 * (fx * 6.0 + wv * 1.3).sin();
                    if s < 0.0 || s > bottom {
                        continue;
                    }
                    let xs = c.cx + sway * s * s;
                    let du = (fx - xs).abs() - c.half_w * (1.0 + 0.08 * s);
                    if du > 0.03 {
                        continue;
                    }
                    let cov = ((0.03 - du) / 0.06).clamp(0.0, 1.0) as f32;
                    let fold = 0.85 + 0.15 * ((fx - xs) * 14.0 + wv).sin() as f32;
                    let stripe = if c.stripes && ((fx - xs) * 8.0).rem_euclid(1.0) < 0.4 {
                        0.75
                    } else {
                        1.0
                    };
                    let o = idx * 3;
                    for ch in 0..3 {
                        let col = c.color[ch] * fold * stripe;
                        canvas.px[o + ch] = canvas.px[o + ch] * (1.0 - cov) + col * cov;
                    }
                }
            }
        }
    }

    fn plan_drops(&mut self) {
        let spec = self.spec.clone();
        let mut r = rng(spec.seed, 0xD209);
        let plans: Vec<super::DropPlan> = if spec.plan.is_empty() {
            vec![Default::default(); spec.drops]
        } else {
            spec.plan.clone()
        };
        let dur = self.truth.duration_s;
        let mut used_floors: Vec<(u32, f64)> = Vec::new();
        for (id, plan) in plans.iter().enumerate() {
            let Some(aim) = self.aims.get(id).copied() else {
                continue;
            };
            let kind = aim.kind;
            let release_s = plan
                .release_s
                .unwrap_or_else(|| r.gen_range(0.5..(dur - 3.0).max(0.6)));
            // Candidate release points; keep the one whose apparent size is nearest the wanted.
            let mut best: Option<(f64, u32, [f64; 3])> = None;
            for _ in 0..80 {
                let (floor, x) = match plan.floor {
                    Some(fl) => {
                        let x = r.gen_range(self.main.x_min + 1.0..self.main.x_max - 1.0);
                        (fl.min(self.main.floors), x)
                    }
                    None => {
                        let px = r.gen_range(0.08..0.92) * spec.width as f64;
                        let py = r.gen_range(0.04..0.75) * spec.height as f64;
                        let (ux, uy) = self.lens.undistort(px, py);
                        let Some((fx, fy, _)) = self.cam.hit_plane_z(ux, uy, 0.0) else {
                            continue;
                        };
                        if fx < self.main.x_min + 0.5 || fx > self.main.x_max - 0.5 {
                            continue;
                        }
                        let fl = (fy / self.main.fh).floor() as i64 + 1;
                        if fl < 2 || fl > self.main.floors as i64 {
                            continue;
                        }
                        (fl as u32, fx)
                    }
                };
                let (k, bay) = self.main.bay(x);
                let cx = self.main.bay_center(k) + r.gen_range(-0.4..0.4);
                let outward = if bay == Bay::Balcony {
                    r.gen_range(0.9..1.4)
                } else {
                    r.gen_range(0.25..0.6)
                };
                let p = [
                    cx,
                    (floor - 1) as f64 * self.main.fh + r.gen_range(0.9..1.3),
                    outward,
                ];
                let Some((ix, iy, depth)) = self.cam.project(p) else {
                    continue;
                };
                let (ox, oy) = self.lens.distort(ix, iy);
                let inframe = self.cam.in_frame(ox, oy);
                let px = aim.size_m * self.cam.f_px / depth;
                let mut cost = aim.target_px.map_or(0.0, |t| (px / t).ln().abs())
                    + if inframe { 0.0 } else { 5.0 };
                // Prefer releases that leave the object time in view: not in the lowest part
                // of the picture, not at a side edge.
                let (wf, hf) = (spec.width as f64, spec.height as f64);
                cost +=
                    4.0 * (oy / hf - 0.6).max(0.0) + 4.0 * (0.12 - ox.min(wf - ox) / wf).max(0.0);
                // Spread simultaneous drops over different floors.
                if used_floors
                    .iter()
                    .any(|&(f, t)| f == floor && (t - release_s).abs() < 3.0)
                {
                    cost += 1.0;
                }
                if best.as_ref().map_or(true, |b| cost < b.0) {
                    best = Some((cost, floor, p));
                }
            }
            let Some((_, floor, p0)) = best else {
                continue;
            };
            used_floors.push((floor, release_s));
            let size_m = aim.size_m;
            let vt = plan
                .terminal_velocity_mps
                .unwrap_or_else(|| kind.terminal_velocity(aim.size_m, aim.mass_kg, aim.cd));
            // Thrown out (0.5-4 m/s horizontally away from the wall, maybe a little up) or let go.
            let thrown = r.gen_bool(0.5);
            let v0 = [
                r.gen_range(-0.8..0.8),
                if thrown { r.gen_range(0.0..1.5) } else { 0.0 },
                if thrown {
                    r.gen_range(0.5..4.0)
                } else {
                    r.gen_range(0.0..0.5)
                },
            ];
            let fs = kind.flutter_strength();
            let (wind, flutter) = if fs > 0.0 {
                (
                    [
                        r.gen_range(-2.0..2.0) * fs.max(0.3),
                        0.0,
                        r.gen_range(-0.3..0.8) * fs.max(0.3),
                    ],
                    Flutter {
                        amp: r.gen_range(2.0..6.0) * fs,
                        freq_hz: r.gen_range(0.4..1.5),
                        phase: r.gen_range(0.0..std::f64::consts::TAU),
                    },
                )
            } else {
                ([r.gen_range(-0.5..0.5), 0.0, 0.0], Flutter::default())
            };
            let fall = simulate(release_s, p0, v0, vt, wind, flutter, 60.0);
            let (ix, iy, depth) = self.cam.project(p0).unwrap_or((-1.0, -1.0, 1.0));
            // Contrast against the wall where it is released: light or dark, often faint.
            let bg_l = self.bg.mean_luma(
                ix.clamp(0.0, spec.width as f64 - 1.0),
                iy.clamp(0.0, spec.height as f64 - 1.0),
                4,
            );
            let u: f64 = r.gen();
            let mut contrast = if u < 0.3 {
                r.gen_range(10.0..25.0)
            } else if u < 0.8 {
                r.gen_range(25.0..60.0)
            } else {
                r.gen_range(60.0..120.0)
            } * crate::synth::distractors::sign(&mut r);
            if spec.night {
                contrast *= 0.7;
            }
            if let Some([a, b]) = spec.contrast_range {
                contrast = contrast.signum() * r.gen_range(a..=b);
            }
            if let Some(c) = plan.contrast {
                contrast = c;
            }
            let mut target = bg_l as f64 + contrast;
            if !(5.0..=250.0).contains(&target) {
                contrast = -contrast;
                target = (bg_l as f64 + contrast).clamp(5.0, 250.0);
            }
            let tint = [
                r.gen_range(0.85..1.15),
                r.gen_range(0.85..1.15),
                r.gen_range(0.85..1.15),
            ];
            let tl = luma([tint[0] as f32, tint[1] as f32, tint[2] as f32]) as f64;
            let color = [
                (target * tint[0] / tl) as f32,
                (target * tint[1] / tl) as f32,
                (target * tint[2] / tl) as f32,
            ];
            let (a0, a1) = kind.build().aspect;
            let aspect = r.gen_range(a0..=a1);
            let spin = if fs > 0.0 {
                r.gen_range(1.0..5.0)
            } else {
                r.gen_range(2.0..14.0)
            } * crate::synth::distractors::sign(&mut r);
            let drop = Drop {
                kind,
                size_m,
                color,
                spin,
                angle0: r.gen_range(0.0..std::f64::consts::TAU),
                aspect,
                glint: kind.glint() * r.gen_range(0.5..1.0),
                glint_hz: spin.abs() / std::f64::consts::TAU * r.gen_range(0.8..1.6),
                glint_phase: r.gen_range(0.0..std::f64::consts::TAU),
                fall,
            };
            let (ox, oy) = self.lens.distort(ix, iy);
            let truth = self.drop_truth(
                id as u32,
                &drop,
                &aim,
                floor,
                p0,
                v0,
                vt,
                [ox, oy],
                depth,
                contrast,
            );
            self.truth.drops.push(truth);
            self.drops.push(drop);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn drop_truth(
        &self,
        id: u32,
        d: &Drop,
        aim: &Aim,
        floor: u32,
        p0: [f64; 3],
        v0: [f64; 3],
        vt: f64,
        px: [f64; 2],
        depth: f64,
        contrast: f64,
    ) -> DropTruth {
        let fps = self.spec.fps;
        let mut traj = Vec::new();
        let mut traj_m = Vec::new();
        let mut last_i = None;
        for i in 0..self.frame_count() {
            let t = i as f64 / fps;
            let Some(p) = d.fall.pos(t) else { continue };
            let Some((x, y, _)) = self.cam.project(p) else {
                continue;
            };
            let (x, y) = self.to_output(x, y, self.shake_at(i));
            if self.cam.in_frame(x, y) {
                traj.push([t, x, y]);
                traj_m.push([t, p[0], p[1], p[2]]);
                last_i = Some(i);
            }
        }
        let end = match last_i {
            None => DropEnd::NotVisible,
            Some(i) if i + 1 == self.frame_count() && d.fall.lands_s > (i as f64) / fps => {
                DropEnd::ClipEnd
            }
            Some(i) => {
                let next = (i + 1) as f64 / fps;
                if d.fall.lands_s <= next {
                    DropEnd::Landed
                } else {
                    DropEnd::LeftFrame
                }
            }
        };
        DropTruth {
            id,
            object: d.kind.name().into(),
            class: d.kind.class().name().into(),
            mass_kg: aim.mass_kg,
            drag_coefficient: aim.cd,
            floor,
            release_s: d.fall.release_s,
            release_m: p0,
            release_velocity_mps: v0,
            release_px: px,
            release_in_frame: self.cam.in_frame(px[0], px[1]),
            first_visible_s: traj.first().map(|p| p[0]),
            last_visible_s: traj.last().map(|p| p[0]),
            lands_s: d.fall.lands_s,
            end,
            size_m: d.size_m,
            size_px: d.size_m * self.cam.f_px / depth,
            terminal_velocity_mps: vt,
            contrast,
            trajectory: traj,
            trajectory_m: traj_m,
        }
    }

    fn drop_sprite(&self, d: &Drop, t: f64) -> Option<Sprite> {
        let sh = self.spec.shutter_s;
        let a = d.fall.pos(t - sh / 2.0).or_else(|| d.fall.pos(t))?;
        let z = d.fall.pos(t + sh / 2.0).or_else(|| d.fall.pos(t))?;
        let pa = self.cam.project(a)?;
        let pz = self.cam.project(z)?;
        let n = blur_steps(((pa.0 - pz.0).powi(2) + (pa.1 - pz.1).powi(2)).sqrt());
        let mut poses = Vec::with_capacity(n);
        for ts in shutter_times(t, sh, n) {
            let Some(p) = d.fall.pos(ts) else { continue };
            let Some((x, y, depth)) = self.cam.project(p) else {
                continue;
            };
            let len = d.size_m * self.cam.f_px / depth;
            let dt = ts - d.fall.release_s;
            let ang = d.angle0 + d.spin * dt;
            // Tumbling in 3D: the visible length changes with the out-of-plane angle.
            let c = (d.angle0 * 1.7 + d.spin * 0.6 * dt).cos().abs();
            // Plates (phones, sheets, cardboard) nearly vanish edge-on.
            let plate = matches!(
                d.kind,
                ObjectKind::Phone | ObjectKind::Paper | ObjectKind::Cardboard
            );
            let fore = if plate {
                0.15 + 0.85 * c
            } else {
                0.35 + 0.65 * c
            };
            let shape = match d.kind {
                ObjectKind::Fruit => Shape::Ellipse {
                    a: len / 2.0,
                    b: len / 2.0 * d.aspect,
                },
                ObjectKind::Bag | ObjectKind::Clothing => Shape::Ellipse {
                    a: len / 2.0 * (0.8 + 0.2 * (dt * 5.0).sin()),
                    b: len / 2.0 * d.aspect * (0.8 + 0.2 * (dt * 3.7).cos()),
                },
                _ => Shape::Rect {
                    a: len / 2.0 * fore,
                    b: len / 2.0 * d.aspect,
                },
            };
            poses.push(Pose {
                x,
                y,
                angle: ang,
                shape,
            });
        }
        if poses.is_empty() {
            return None;
        }
        // Tumbling: the object catches the light and turns its darker side, frame to frame.
        let dt = t - d.fall.release_s;
        let w = std::f64::consts::TAU * d.glint_hz * dt + d.glint_phase;
        let k = (1.0 + d.glint * (0.7 * w.sin() + 0.3 * (2.3 * w).sin())) as f32;
        let color = [d.color[0] * k, d.color[1] * k, d.color[2] * k];
        Some(Sprite {
            depth: pa.2,
            poses,
            color,
            opacity: 1.0,
            shade: 0.15,
        })
    }

    /// Render frame `i` (a pure function of the spec and `i`).
    pub fn frame(&mut self, i: u64) -> SynthFrame {
        let t = i as f64 / self.spec.fps;
        // Reuse the working canvas between frames (no fresh 25 MB allocation per 1080p frame).
        let mut c = std::mem::replace(&mut self.work, Canvas::new(0, 0));
        if c.px.len() == self.bg.px.len() {
            c.px.copy_from_slice(&self.bg.px);
        } else {
            c = self.bg.clone();
        }
        if self.cloud_speed != 0.0 {
            self.apply_clouds(&mut c, &self.sky, t);
        }
        for tg in &self.toggles {
            let flips = tg.times.iter().filter(|&&s| s <= t).count();
            if flips % 2 == 1 {
                let sgn = if tg.lit0 { -1.0 } else { 1.0 };
                for &(idx, dl) in &tg.pixels {
                    let o = idx as usize * 3;
                    for ch in 0..3 {
                        c.px[o + ch] += sgn * dl[ch];
                    }
                }
            }
        }
        self.draw_cloths(&mut c, t);
        let mut sprites = Vec::new();
        for d in &self.drops {
            if let Some(s) = self.drop_sprite(d, t) {
                sprites.push(s);
            }
        }
        self.dyn_
            .sprites(&self.cam, t, self.spec.shutter_s, &mut sprites);
        sprites.sort_by(|a, b| b.depth.total_cmp(&a.depth));
        for s in &sprites {
            draw_blurred(&mut c, &s.poses, s.color, s.opacity, s.shade);
        }
        self.dyn_
            .draw_rain(&mut c, &self.cam, self.spec.seed, i, self.spec.shutter_s);
        self.dyn_.draw_insects(&mut c, t, self.spec.shutter_s);
        let shake = self.shake_at(i);
        let gain = self.dyn_.gain.get(i as usize).copied().unwrap_or(1.0);
        let rgb = self.finish(&c, shake, gain, Some(i));
        self.work = c;
        SynthFrame {
            index: i,
            t_s: t,
            width: self.spec.width,
            height: self.spec.height,
            rgb,
        }
    }

    /// Free-fall check helper: gravity used by the physics.
    pub const GRAVITY: f64 = G;
}

/// Kinds, physical sizes and wanted apparent sizes of the drops, drawn before the camera.
fn plan_objects(spec: &FacadeSpec) -> Vec<Aim> {
    let mut r = rng(spec.seed, 0xD20A);
    let n = if spec.plan.is_empty() {
        spec.drops
    } else {
        spec.plan.len()
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let plan = spec.plan.get(i).cloned().unwrap_or_default();
        let kind = match (plan.terminal_velocity_mps, spec.objects.is_empty()) {
            (Some(v), true) => ObjectKind::for_terminal_velocity(v),
            (_, false) => spec.objects[i % spec.objects.len()],
            (None, true) => ObjectKind::pick(&mut r, &[]),
        };
        let (size_m, mass_kg, cd) = kind.sample(&mut r, plan.size_m);
        let target_px = plan.size_m.is_none().then(|| {
            (spec.min_size_px.ln()
                + r.gen::<f64>() * (spec.max_size_px.ln() - spec.min_size_px.ln()))
            .exp()
        });
        out.push(Aim {
            kind,
            size_m,
            mass_kg,
            cd,
            target_px,
        });
    }
    out
}

fn span_all(kind: &str, dur: f64, detail: &str) -> DistractorTruth {
    DistractorTruth {
        kind: kind.into(),
        start_s: 0.0,
        end_s: dur,
        detail: detail.into(),
        track: Vec::new(),
    }
}

fn sky_color(kind: SkyKind, night: bool, el: f32) -> [f32; 3] {
    let t = (el / 1.2).clamp(0.0, 1.0);
    if night {
        let glow = (1.0 - t).powi(3);
        return [12.0 + 30.0 * glow, 13.0 + 20.0 * glow, 22.0 + 10.0 * glow];
    }
    match kind {
        SkyKind::Clear => mix3([205.0, 215.0, 225.0], [105.0, 145.0, 205.0], t.sqrt()),
        SkyKind::Hazy => mix3([215.0, 218.0, 220.0], [160.0, 180.0, 205.0], t),
        SkyKind::Overcast => mix3([212.0, 213.0, 215.0], [180.0, 182.0, 188.0], t),
    }
}

fn ground_color(x: f64, z: f64, night: bool, seed: u32) -> [f32; 3] {
    let n = fbm(x as f32 * 0.8, z as f32 * 0.8, seed ^ 0x6D, 3);
    let c = if z < 3.5 {
        // Hedge along the tower's base.
        [50.0 + 40.0 * n, 75.0 + 50.0 * n, 40.0 + 20.0 * n]
    } else {
        [95.0 + 40.0 * n, 95.0 + 40.0 * n, 98.0 + 40.0 * n]
    };
    if night {
        [c[0] * 0.2, c[1] * 0.18, c[2] * 0.15]
    } else {
        c
    }
}
