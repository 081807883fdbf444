//! A small seeded facade-scene renderer used by `vigil eval falling` and the tests until the
//! project-wide generator (`vigil::synth`) is wired in: a perspective camera below a tower
//! facade, objects dropped from windows with gravity and drag, and distractors (birds, rain,
//! leaves, lights, laundry, camera jitter, insects), day or night, with sensor noise.
//! Frames come out as luma; truth comes with them.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::config::{CalibPoint, FacadeConfig};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distractor {
    Birds,
    Rain,
    Leaves,
    Lights,
    Laundry,
    Jitter,
    Insects,
}

pub const ALL_DISTRACTORS: [Distractor; 7] = [
    Distractor::Birds,
    Distractor::Rain,
    Distractor::Leaves,
    Distractor::Lights,
    Distractor::Laundry,
    Distractor::Jitter,
    Distractor::Insects,
];

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DropSpec {
    /// Release floor (1 = ground).
    pub floor: i32,
    pub release_s: f64,
    /// Object diameter in pixels.
    pub size_px: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SceneSpec {
    pub seed: u64,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub duration_s: f64,
    pub night: bool,
    pub floors: i32,
    pub drops: Vec<DropSpec>,
    pub distractors: Vec<Distractor>,
}

/// Truth of one drop.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TruthDrop {
    pub floor: i32,
    pub release_s: f64,
    pub first_visible_s: f64,
    pub last_visible_s: f64,
    pub size_px: u32,
    pub release_px: [f64; 2],
    pub release_height_m: f64,
    /// `[t, x, y]` per frame while visible.
    pub trajectory: Vec<[f64; 3]>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Truth {
    pub spec: SceneSpec,
    pub drops: Vec<TruthDrop>,
}

/// Camera on the ground looking up at the facade plane (X along, h up, Z out of the facade).
#[derive(Clone, Debug)]
struct Cam {
    w: f64,
    h: f64,
    f: f64,
    d: f64,
    cam_h: f64,
    tilt: f64,
    x_c: f64,
}

impl Cam {
    fn project(&self, x: f64, hm: f64, z: f64) -> (f64, f64) {
        let dx = x - self.x_c;
        let dy = hm - self.cam_h;
        let dz = self.d - z;
        let (ct, st) = (self.tilt.cos(), self.tilt.sin());
        let zc = (dz * ct + dy * st).max(0.1);
        let yc = -(dy * ct - dz * st);
        (
            self.f * dx / zc + self.w / 2.0,
            self.f * yc / zc + self.h / 2.0,
        )
    }

    /// Back-project a pixel onto the facade plane (Z = 0).
    fn unproject(&self, u: f64, v: f64) -> Option<(f64, f64)> {
        let (ct, st) = (self.tilt.cos(), self.tilt.sin());
        let a = (u - self.w / 2.0) / self.f; // dx / zc
        let b = (v - self.h / 2.0) / self.f; // yc / zc
                                             // yc = -(dy ct - d st), zc = d ct + dy st, yc = b zc → solve for dy.
        let den = ct + b * st;
        if den.abs() < 1e-9 {
            return None;
        }
        let dy = self.d * (st - b * ct) / den;
        let zc = self.d * ct + dy * st;
        if zc <= 0.0 {
            return None;
        }
        Some((a * zc + self.x_c, dy + self.cam_h))
    }
}

const FLOOR_H: f64 = 3.0;
const WIN_PITCH: f64 = 3.5;

struct Mover {
    kind: u8,
    p: [f64; 2],
    v: [f64; 2],
    size: f64,
    luma: i16,
    phase: f64,
    t0: f64,
}

/// A rendered scene: call [`Scene::frame`] for each index.
pub struct Scene {
    pub spec: SceneSpec,
    pub config: FacadeConfig,
    pub truth: Truth,
    base: Vec<u8>,
    cam: Cam,
    rng: ChaCha8Rng,
    movers: Vec<Mover>,
    /// Windows (pixel rect) whose light toggles: (x0, y0, x1, y1, on_at, off_at, delta).
    lights: Vec<(usize, usize, usize, usize, f64, f64, i16)>,
    drops: Vec<(DropSpec, f64, f64, f64, f64)>, // spec, x_m, h0, drag k, vz
    noise: f64,
    jitter: bool,
}

fn fall_h(h0: f64, k: f64, t: f64) -> f64 {
    // Quadratic drag from rest: h = h0 − vt²/g · ln cosh(g t / vt).
    let g = 9.81;
    if k <= 1e-6 {
        return h0 - 0.5 * g * t * t;
    }
    let vt = (g / k).sqrt();
    let x = g * t / vt;
    // ln cosh x, stable for large x.
    let lc = x.abs() + (1.0 + (-2.0 * x.abs()).exp()).ln() - std::f64::consts::LN_2;
    h0 - vt * vt / g * lc
}

impl Scene {
    pub fn new(spec: SceneSpec) -> Scene {
        let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
        let (w, h) = (spec.width as f64, spec.height as f64);
        let top = spec.floors as f64 * FLOOR_H + 1.0;
        // Pick a camera that sees the facade from the ground to the roof.
        let tilt = rng.gen_range(20f64..45.0).to_radians();
        let d = rng.gen_range(20.0..45.0);
        let mut cam = Cam {
            w,
            h,
            f: w,
            d,
            cam_h: 1.5,
            tilt,
            x_c: rng.gen_range(-3.0..3.0),
        };
        // Focal length so that the roof sits near the top and the ground near the bottom.
        for _ in 0..40 {
            let (_, v_top) = cam.project(0.0, top, 0.0);
            let (_, v_bot) = cam.project(0.0, 0.0, 0.0);
            let span = v_bot - v_top;
            let want = 0.9 * h;
            cam.f *= (want / span.max(1.0)).clamp(0.5, 2.0);
            // Re-centre with the tilt.
            let mid = (v_top + v_bot) / 2.0;
            cam.tilt += ((mid - h / 2.0) / cam.f).atan() * -0.8;
        }
        let night = spec.night;
        let (wall, win_day, sky) = if night {
            (35i16, 20i16, 15i16)
        } else {
            (165, 95, 215)
        };
        let bw = 2.0
            * (cam
                .unproject(w, h / 2.0)
                .map(|p| p.0 - cam.x_c)
                .unwrap_or(30.0))
            .abs()
            * 0.85;
        let mut lit: Vec<bool> = Vec::new();
        let n_cols = (bw / WIN_PITCH) as usize + 2;
        for _ in 0..(n_cols * (spec.floors as usize + 2)) {
            lit.push(rng.gen_bool(0.35));
        }
        let mut base = vec![0u8; (spec.width * spec.height) as usize];
        for y in 0..spec.height as usize {
            for x in 0..spec.width as usize {
                let val = match cam.unproject(x as f64 + 0.5, y as f64 + 0.5) {
                    Some((xm, hm)) if hm >= 0.0 && hm <= top && xm.abs() <= bw / 2.0 => {
                        let fl = (hm / FLOOR_H).floor();
                        let fh = hm - fl * FLOOR_H;
                        let col = ((xm + bw / 2.0) / WIN_PITCH).floor();
                        let xw = (xm + bw / 2.0) - col * WIN_PITCH;
                        let in_win =
                            (0.9..2.4).contains(&fh) && (0.9..2.6).contains(&xw) && fl >= 1.0;
                        if in_win {
                            let i = (col as usize) * (spec.floors as usize + 2) + fl as usize;
                            if night && lit.get(i).copied().unwrap_or(false) {
                                190
                            } else {
                                win_day
                            }
                        } else {
                            // Slight brick texture.
                            wall + ((x / 3 + y / 2) % 4) as i16 * 2
                        }
                    }
                    Some((_, hm)) if hm < 0.0 => {
                        if night {
                            25
                        } else {
                            110
                        }
                    }
                    _ => sky - (y as f64 / h * 20.0) as i16,
                };
                base[y * spec.width as usize + x] = val.clamp(0, 255) as u8;
            }
        }
        // Calibration: building corners and mid points, as an installer would measure them.
        let mut calibration = Vec::new();
        for &(xm, hm) in &[
            (-bw / 2.0 + 1.0, 0.0),
            (bw / 2.0 - 1.0, 0.0),
            (bw / 2.0 - 1.0, top - 1.0),
            (-bw / 2.0 + 1.0, top - 1.0),
            (0.0, top / 2.0),
        ] {
            let (u, v) = cam.project(xm, hm, 0.0);
            calibration.push(CalibPoint {
                px: [u, v],
                m: [xm + bw / 2.0, hm],
            });
        }
        let config = FacadeConfig {
            floor_height_m: FLOOR_H,
            calibration,
            masks: Vec::new(),
        };
        let mut drops = Vec::new();
        let mut truth_drops = Vec::new();
        for ds in &spec.drops {
            let col = rng.gen_range(0..(n_cols.saturating_sub(2)).max(1)) as f64;
            let xm = -bw / 2.0 + col * WIN_PITCH + 1.75;
            let h0 = (ds.floor - 1) as f64 * FLOOR_H + 1.2;
            let k = if rng.gen_bool(0.5) {
                0.0
            } else {
                rng.gen_range(0.0..0.05)
            };
            let vz = rng.gen_range(0.0..1.0);
            let mut traj = Vec::new();
            let nf = (spec.duration_s * spec.fps) as usize;
            for i in 0..nf {
                let t = i as f64 / spec.fps;
                if t < ds.release_s {
                    continue;
                }
                let u = t - ds.release_s;
                let hh = fall_h(h0, k, u);
                if hh < 0.0 {
                    break;
                }
                let (px, py) = cam.project(xm, hh, vz * u);
                if px >= 0.0 && py >= 0.0 && px < w && py < h {
                    traj.push([t, px, py]);
                }
            }
            let (rx, ry) = cam.project(xm, h0, 0.0);
            truth_drops.push(TruthDrop {
                floor: ds.floor,
                release_s: ds.release_s,
                first_visible_s: traj.first().map(|p| p[0]).unwrap_or(ds.release_s),
                last_visible_s: traj.last().map(|p| p[0]).unwrap_or(ds.release_s),
                size_px: ds.size_px,
                release_px: [rx, ry],
                release_height_m: h0,
                trajectory: traj,
            });
            drops.push((ds.clone(), xm, h0, k, vz));
        }
        // Distractors.
        let mut movers = Vec::new();
        let mut lights = Vec::new();
        let mut jitter = false;
        let dur = spec.duration_s;
        for dk in &spec.distractors {
            match dk {
                Distractor::Birds => {
                    for _ in 0..rng.gen_range(1..6) {
                        let dir = if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
                        movers.push(Mover {
                            kind: 0,
                            p: [
                                if dir > 0.0 { -20.0 } else { w + 20.0 },
                                rng.gen_range(0.05..0.8) * h,
                            ],
                            v: [
                                dir * rng.gen_range(120.0..420.0),
                                rng.gen_range(-60.0..60.0),
                            ],
                            size: rng.gen_range(4.0..10.0),
                            luma: if night { 60 } else { 40 },
                            phase: rng.gen_range(0.0..6.0),
                            t0: rng.gen_range(0.0..dur * 0.7),
                        });
                    }
                }
                Distractor::Rain => {
                    for _ in 0..rng.gen_range(30..80) {
                        movers.push(Mover {
                            kind: 1,
                            p: [rng.gen_range(0.0..w), rng.gen_range(0.0..h)],
                            v: [rng.gen_range(-80.0..80.0), rng.gen_range(600.0..1300.0)],
                            size: rng.gen_range(4.0..10.0),
                            luma: 30,
                            phase: 0.0,
                            t0: 0.0,
                        });
                    }
                }
                Distractor::Leaves => {
                    for _ in 0..rng.gen_range(1..5) {
                        movers.push(Mover {
                            kind: 2,
                            p: [rng.gen_range(0.1..0.9) * w, rng.gen_range(0.0..0.5) * h],
                            v: [rng.gen_range(-15.0..15.0), rng.gen_range(15.0..70.0)],
                            size: rng.gen_range(4.0..8.0),
                            luma: if night { 50 } else { 70 },
                            phase: rng.gen_range(0.0..6.0),
                            t0: rng.gen_range(0.0..dur * 0.6),
                        });
                    }
                }
                Distractor::Laundry => {
                    for _ in 0..rng.gen_range(1..4) {
                        movers.push(Mover {
                            kind: 3,
                            p: [rng.gen_range(0.1..0.9) * w, rng.gen_range(0.1..0.8) * h],
                            v: [rng.gen_range(3.0..10.0), rng.gen_range(0.5..2.0)],
                            size: rng.gen_range(8.0..16.0),
                            luma: if night { 90 } else { 230 },
                            phase: rng.gen_range(0.0..6.0),
                            t0: 0.0,
                        });
                    }
                }
                Distractor::Insects => {
                    for _ in 0..rng.gen_range(1..3) {
                        movers.push(Mover {
                            kind: 4,
                            p: [rng.gen_range(0.2..0.8) * w, rng.gen_range(0.2..0.8) * h],
                            v: [0.0, 0.0],
                            size: rng.gen_range(8.0..24.0),
                            luma: if night { 200 } else { 60 },
                            phase: 0.0,
                            t0: rng.gen_range(0.0..dur * 0.5),
                        });
                    }
                }
                Distractor::Lights => {
                    for _ in 0..rng.gen_range(3..8) {
                        let cx = rng.gen_range(0.1..0.9) * w;
                        let cy = rng.gen_range(0.05..0.85) * h;
                        let (ww, hh) = (rng.gen_range(10.0..40.0), rng.gen_range(8.0..30.0));
                        let on = rng.gen_range(0.5..dur);
                        let off = on + rng.gen_range(0.5..dur);
                        lights.push((
                            cx as usize,
                            cy as usize,
                            ((cx + ww) as usize).min(spec.width as usize),
                            ((cy + hh) as usize).min(spec.height as usize),
                            on,
                            off,
                            if night { 150 } else { 60 },
                        ));
                    }
                }
                Distractor::Jitter => jitter = true,
            }
        }
        let noise = if night { 6.0 } else { 3.0 };
        let truth = Truth {
            spec: spec.clone(),
            drops: truth_drops,
        };
        Scene {
            spec,
            config,
            truth,
            base,
            cam,
            rng,
            movers,
            lights,
            drops,
            noise,
            jitter,
        }
    }

    pub fn frames(&self) -> u64 {
        (self.spec.duration_s * self.spec.fps) as u64
    }

    /// Render frame `i` (call in order: insects and noise are stateful).
    pub fn frame(&mut self, i: u64) -> Vec<u8> {
        let t = i as f64 / self.spec.fps;
        let (w, h) = (self.spec.width as usize, self.spec.height as usize);
        let mut g = self.base.clone();
        // Camera jitter: shift the whole picture by a pixel or two now and then.
        if self.jitter && self.rng.gen_bool(0.3) {
            let dx: i64 = self.rng.gen_range(-2..=2);
            let dy: i64 = self.rng.gen_range(-1..=1);
            let src = g.clone();
            for y in 0..h as i64 {
                let sy = (y + dy).clamp(0, h as i64 - 1) as usize;
                for x in 0..w as i64 {
                    let sx = (x + dx).clamp(0, w as i64 - 1) as usize;
                    g[y as usize * w + x as usize] = src[sy * w + sx];
                }
            }
        }
        for &(x0, y0, x1, y1, on, off, delta) in &self.lights {
            if t >= on && t < off {
                for y in y0..y1 {
                    for v in &mut g[y * w + x0..y * w + x1] {
                        *v = (*v as i16 + delta).clamp(0, 255) as u8;
                    }
                }
            }
        }
        let dt = 1.0 / self.spec.fps;
        for m in self.movers.iter_mut() {
            if t < m.t0 {
                continue;
            }
            let u = t - m.t0;
            let (x, y, sz) = match m.kind {
                0 => (
                    m.p[0] + m.v[0] * u,
                    m.p[1] + m.v[1] * u + 8.0 * (u * 9.0 + m.phase).sin(),
                    m.size * (1.0 + 0.3 * (u * 18.0).sin()),
                ),
                1 => {
                    let yy = (m.p[1] + m.v[1] * t).rem_euclid(h as f64 + 40.0) - 20.0;
                    let xx = (m.p[0] + m.v[0] * t).rem_euclid(w as f64);
                    // A streak: thin and long.
                    for k in 0..m.size as i64 {
                        let (px, py) = (xx as i64, yy as i64 + k);
                        if px >= 0 && py >= 0 && (px as usize) < w && (py as usize) < h {
                            let p = &mut g[py as usize * w + px as usize];
                            *p = (*p as i16 + m.luma).clamp(0, 255) as u8;
                        }
                    }
                    continue;
                }
                2 => (
                    m.p[0] + m.v[0] * u + 35.0 * (u * 1.7 + m.phase).sin(),
                    m.p[1] + m.v[1] * u + 6.0 * (u * 3.4).sin(),
                    m.size,
                ),
                3 => (
                    m.p[0] + m.v[0] * (u * 2.0 + m.phase).sin(),
                    m.p[1] + m.v[1] * (u * 3.1).sin(),
                    m.size,
                ),
                _ => {
                    // Insect near the lens: momentum random walk.
                    m.v[0] = 0.85 * m.v[0] + self.rng.gen_range(-90.0..90.0);
                    m.v[1] = 0.85 * m.v[1] + self.rng.gen_range(-90.0..90.0);
                    m.p[0] = (m.p[0] + m.v[0] * dt).clamp(0.0, w as f64);
                    m.p[1] = (m.p[1] + m.v[1] * dt).clamp(0.0, h as f64);
                    (m.p[0], m.p[1], m.size)
                }
            };
            disc(&mut g, w, h, x, y, sz, m.luma as u8);
        }
        let night = self.spec.night;
        for (ds, xm, h0, k, vz) in &self.drops {
            if t < ds.release_s {
                continue;
            }
            let u = t - ds.release_s;
            let hh = fall_h(*h0, *k, u);
            if hh < 0.0 {
                continue;
            }
            let (px, py) = self.cam.project(*xm, hh, vz * u);
            let luma = if night { 170 } else { 45 };
            disc(&mut g, w, h, px, py, ds.size_px as f64, luma);
        }
        // Sensor noise (cheap: a triangular distribution from one random word per 4 px).
        let amp = self.noise;
        let mut k = 0usize;
        while k < g.len() {
            let r: u64 = self.rng.gen();
            for j in 0..4 {
                if k + j >= g.len() {
                    break;
                }
                let a = ((r >> (16 * j)) & 0xff) as f64;
                let b = ((r >> (16 * j + 8)) & 0xff) as f64;
                let n = (a + b - 255.0) / 255.0 * amp * 1.7;
                let v = &mut g[k + j];
                *v = (*v as f64 + n).round().clamp(0.0, 255.0) as u8;
            }
            k += 4;
        }
        g
    }
}

/// Anti-aliased-ish filled disc of diameter `d` (pixels partly covered get blended).
fn disc(g: &mut [u8], w: usize, h: usize, cx: f64, cy: f64, d: f64, luma: u8) {
    let r = (d / 2.0).max(0.5);
    let (x0, x1) = ((cx - r - 1.0).floor() as i64, (cx + r + 1.0).ceil() as i64);
    let (y0, y1) = ((cy - r - 1.0).floor() as i64, (cy + r + 1.0).ceil() as i64);
    for y in y0..=y1 {
        for x in x0..=x1 {
            if x < 0 || y < 0 || x as usize >= w || y as usize >= h {
                continue;
            }
            let dist = ((x as f64 + 0.5 - cx).powi(2) + (y as f64 + 0.5 - cy).powi(2)).sqrt();
            let cover = (r + 0.5 - dist).clamp(0.0, 1.0);
            if cover <= 0.0 {
                continue;
            }
            let p = &mut g[y as usize * w + x as usize];
            *p = (*p as f64 * (1.0 - cover) + luma as f64 * cover).round() as u8;
        }
    }
}

/// The default evaluation suite: drops of both size classes from various floors (day and
/// night) plus distractor-only clips. `n` scales the number of clips.
pub fn suite(seed: u64, n: usize, width: u32, height: u32) -> Vec<SceneSpec> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    for i in 0..n {
        let floors = rng.gen_range(12..26);
        let night = i % 3 == 2;
        // Positive clip: one or two drops, one small (3–4 px) and/or one larger.
        let mut drops = Vec::new();
        let nd = if rng.gen_bool(0.3) { 2 } else { 1 };
        for k in 0..nd {
            let size = if (i + k) % 2 == 0 {
                rng.gen_range(3..=4)
            } else {
                rng.gen_range(5..=10)
            };
            drops.push(DropSpec {
                floor: rng.gen_range(3..=floors),
                release_s: rng.gen_range(2.5..5.0) + k as f64 * rng.gen_range(0.0..1.5),
                size_px: size,
            });
        }
        let mut distractors = Vec::new();
        if rng.gen_bool(0.5) {
            distractors.push(ALL_DISTRACTORS[rng.gen_range(0..ALL_DISTRACTORS.len())]);
        }
        out.push(SceneSpec {
            seed: rng.gen(),
            width,
            height,
            fps: 25.0,
            duration_s: 9.0,
            night,
            floors,
            drops,
            distractors,
        });
        // Distractor-only clip (each kind in turn, sometimes two at once).
        let d0 = ALL_DISTRACTORS[i % ALL_DISTRACTORS.len()];
        let mut ds = vec![d0];
        if rng.gen_bool(0.4) {
            let d1 = ALL_DISTRACTORS[rng.gen_range(0..ALL_DISTRACTORS.len())];
            if d1 != d0 {
                ds.push(d1);
            }
        }
        out.push(SceneSpec {
            seed: rng.gen(),
            width,
            height,
            fps: 25.0,
            duration_s: 20.0,
            night: rng.gen_bool(0.35),
            floors,
            drops: Vec::new(),
            distractors: ds,
        });
    }
    out
}
