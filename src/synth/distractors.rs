//! Moving distractors that are not part of the facade: birds (flapping, gliding, diving, landing
//! on a sill and taking off again, flocks), leaves, insects at the lens, rain, camera shake and
//! exposure changes; plus the look's pole vibration and auto-exposure wander.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::camera::{Camera, V3};
use super::noise::rng;
use super::raster::{blur_steps, draw_blurred, Canvas, Pose, Shape};
use super::truth::DistractorTruth;

/// Something to draw this frame, sorted far to near.
pub struct Sprite {
    pub depth: f64,
    pub poses: Vec<Pose>,
    pub color: [f32; 3],
    pub opacity: f32,
    pub shade: f32,
}

/// Sub-instants of a box shutter centred on `t`.
pub fn shutter_times(t: f64, shutter: f64, n: usize) -> impl Iterator<Item = f64> {
    (0..n).map(move |k| t - shutter / 2.0 + shutter * (k as f64 + 0.5) / n as f64)
}

/// Sampled path (`dt` apart from `t0`), linearly interpolated.
#[derive(Clone, Debug)]
pub struct Path3 {
    pub t0: f64,
    pub dt: f64,
    pub pts: Vec<V3>,
}

impl Path3 {
    pub fn at(&self, t: f64) -> Option<V3> {
        let s = (t - self.t0) / self.dt;
        if s < 0.0 {
            return None;
        }
        let i = s.floor() as usize;
        if i + 1 >= self.pts.len() {
            return None;
        }
        let f = s - i as f64;
        let (a, b) = (self.pts[i], self.pts[i + 1]);
        Some([
            a[0] + (b[0] - a[0]) * f,
            a[1] + (b[1] - a[1]) * f,
            a[2] + (b[2] - a[2]) * f,
        ])
    }
    pub fn end(&self) -> f64 {
        self.t0 + self.dt * (self.pts.len().saturating_sub(1)) as f64
    }
}

pub struct Bird {
    pub path: Path3,
    pub span_m: f64,
    pub body_m: f64,
    pub flap_hz: f64,
    pub flapping: Vec<(f64, f64)>,
    pub luma: f32,
}

pub struct Leaf {
    pub path: Path3,
    pub size_m: f64,
    pub spin_hz: f64,
    pub color: [f32; 3],
}

/// Insect near the lens: image-space path (x, y, unused).
pub struct Insect {
    pub path: Path3,
    pub sigma_px: f64,
    pub opacity: f32,
    pub luma: f32,
}

pub struct Rain {
    pub kind: super::RainKind,
    pub per_frame: usize,
    pub slant: f64,
    pub bright: f32,
    pub max_depth: f64,
    /// Nearest drop distance (m): near-lens streaks are big, blurred and fast.
    pub min_depth: f64,
    /// Share of drops still in the picture on the next frame (seen twice).
    pub two_frame: f64,
    /// Streak length cap (px; lamps light only the drops near them, so streaks stay short).
    pub max_len_px: f64,
    /// Gusts: slant wanders this much (rad) frame to frame.
    pub gust: f64,
}

pub struct Dynamics {
    pub birds: Vec<Bird>,
    pub leaves: Vec<Leaf>,
    pub insects: Vec<Insect>,
    pub rain: Option<Rain>,
    /// Frame interval (s), for drops seen on two frames.
    pub frame_dt: f64,
    /// Per-frame camera shake offset (px).
    pub shake: Vec<(f64, f64)>,
    /// Per-frame exposure gain.
    pub gain: Vec<f32>,
    pub truth: Vec<DistractorTruth>,
}

fn span(kind: &str, a: f64, b: f64, detail: &str) -> DistractorTruth {
    DistractorTruth {
        kind: kind.into(),
        start_s: a,
        end_s: b,
        detail: detail.into(),
        track: Vec::new(),
    }
}

/// Image-space track of a 3D path at frame times.
fn track(path: &Path3, cam: &Camera, fps: f64, frames: u64) -> Vec<[f64; 3]> {
    let mut out = Vec::new();
    for i in 0..frames {
        let t = i as f64 / fps;
        if let Some(p) = path.at(t) {
            if let Some((x, y, _)) = cam.project(p) {
                if cam.in_frame(x, y) {
                    out.push([t, x, y]);
                }
            }
        }
    }
    out
}

/// A point seen at image `(x, y)` at `dist` metres from the camera.
fn point_at(cam: &Camera, x: f64, y: f64, dist: f64) -> V3 {
    let d = cam.ray(x, y);
    let n = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
    [
        cam.pos[0] + d[0] / n * dist,
        cam.pos[1] + d[1] / n * dist,
        cam.pos[2] + d[2] / n * dist,
    ]
}

pub struct Plan<'a> {
    pub seed: u64,
    pub cam: &'a Camera,
    pub fps: f64,
    pub frames: u64,
    pub duration: f64,
    pub distance: f64,
    pub night: bool,
}

impl Dynamics {
    pub fn none(frames: u64) -> Dynamics {
        Dynamics {
            birds: Vec::new(),
            leaves: Vec::new(),
            insects: Vec::new(),
            rain: None,
            frame_dt: 0.04,
            shake: vec![(0.0, 0.0); frames as usize],
            gain: vec![1.0; frames as usize],
            truth: Vec::new(),
        }
    }

    pub fn add_birds(&mut self, p: &Plan) {
        let mut r = rng(p.seed, 0xB1_2D);
        let n = if p.night {
            r.gen_range(1..=2)
        } else {
            r.gen_range(2..=5)
        };
        let (w, h) = (p.cam.width as f64, p.cam.height as f64);
        for b in 0..n {
            let mode = match r.gen_range(0..12) {
                0..=2 => "flap",
                3..=4 => "glide",
                5..=6 => "dive",
                7..=8 => "land",
                _ => "flock",
            };
            if mode == "land" {
                self.add_landing_bird(p, &mut r);
                continue;
            }
            let dist = r.gen_range(8.0..(p.distance - 2.0).max(9.0));
            let from_left = r.gen_bool(0.5);
            let y0 = r.gen_range(0.05..0.7) * h;
            let x0 = if from_left { -20.0 } else { w + 20.0 };
            let start = point_at(p.cam, x0, y0, dist);
            let speed = r.gen_range(6.0..14.0);
            let dir = if from_left { 1.0 } else { -1.0 };
            let mut v: V3 = [dir * speed, r.gen_range(-1.5..1.5), r.gen_range(-2.0..2.0)];
            let t_start = r.gen_range(0.0..(p.duration - 1.0).max(0.1));
            // Dives begin once the bird is well inside the frame.
            let t_dive = r.gen_range(0.6..2.0);
            let dive_len = r.gen_range(0.35..0.9);
            let dive_acc = r.gen_range(4.0..9.0);
            let pull_len = r.gen_range(0.4..0.8);
            let dt = 0.01;
            let mut pts = vec![start];
            let mut pos = start;
            let mut t = 0.0;
            let mut out_frames = 0;
            while t < 30.0 {
                if mode == "dive" {
                    if t >= t_dive && t < t_dive + dive_len {
                        v[1] -= dive_acc * dt;
                        v[0] += dir * 1.5 * dt;
                    } else if t >= t_dive + dive_len && t < t_dive + dive_len + pull_len {
                        // Pull out: vertical speed turns into forward speed and some climb.
                        let k = dt / pull_len * 1.6;
                        let vy = v[1];
                        v[1] -= vy * k;
                        v[0] += dir * vy.abs() * k * 0.6;
                    }
                } else if mode == "glide" {
                    v[1] -= 0.3 * dt;
                } else {
                    v[1] += 0.6 * (6.0 * t).sin() * dt;
                }
                for i in 0..3 {
                    pos[i] += v[i] * dt;
                }
                pts.push(pos);
                t += dt;
                let vis = p.cam.project(pos).is_some_and(|(x, y, _)| {
                    x > -60.0 && x < w + 60.0 && y > -60.0 && y < h + 60.0
                });
                if !vis && t > 0.5 {
                    out_frames += 1;
                    if out_frames > 10 {
                        break;
                    }
                }
                if pos[1] < 0.5 {
                    break;
                }
            }
            let path = Path3 {
                t0: t_start,
                dt,
                pts,
            };
            let body_m = r.gen_range(0.15..0.4);
            let bird = Bird {
                span_m: body_m * r.gen_range(2.0..3.2),
                body_m,
                flap_hz: r.gen_range(3.0..7.0),
                flapping: if mode == "glide" {
                    Vec::new()
                } else {
                    vec![(t_start, path.end())]
                },
                path,
                luma: if p.night {
                    r.gen_range(20.0..60.0)
                } else {
                    r.gen_range(25.0..90.0)
                },
            };
            let members = if mode == "flock" {
                r.gen_range(4..=12)
            } else {
                1
            };
            let detail = if mode == "flock" {
                format!("flock of {members}")
            } else {
                mode.to_string()
            };
            let mut tr = span(
                "birds",
                bird.path.t0,
                bird.path.end().min(p.duration),
                &detail,
            );
            tr.track = track(&bird.path, p.cam, p.fps, p.frames);
            if let (Some(a), Some(b)) = (tr.track.first(), tr.track.last()) {
                tr.start_s = a[0];
                tr.end_s = b[0];
            }
            let _ = b;
            self.truth.push(tr);
            // Flock members: the leader's path, offset a little in space and time.
            for _ in 1..members {
                let off = [
                    r.gen_range(-3.0..3.0),
                    r.gen_range(-2.0..2.0),
                    r.gen_range(-2.0..2.0),
                ];
                let pts = bird
                    .path
                    .pts
                    .iter()
                    .map(|q| [q[0] + off[0], q[1] + off[1], q[2] + off[2]])
                    .collect();
                let path = Path3 {
                    t0: bird.path.t0 + r.gen_range(-0.3..0.3),
                    dt: bird.path.dt,
                    pts,
                };
                let body_m = bird.body_m * r.gen_range(0.85..1.15);
                self.birds.push(Bird {
                    span_m: body_m * r.gen_range(2.0..3.2),
                    body_m,
                    flap_hz: r.gen_range(3.0..7.0),
                    flapping: vec![(path.t0, path.end())],
                    path,
                    luma: bird.luma * r.gen_range(0.9..1.1),
                });
            }
            self.birds.push(bird);
        }
    }

    /// A bird that flies in, comes down onto a sill or railing (descending for a second or
    /// two, like a falling object would), sits, and may take off again.
    fn add_landing_bird(&mut self, p: &Plan, r: &mut ChaCha8Rng) {
        let (w, h) = (p.cam.width as f64, p.cam.height as f64);
        let Some((px, py, _)) = (0..20).find_map(|_| {
            p.cam
                .hit_plane_z(r.gen_range(0.1..0.9) * w, r.gen_range(0.25..0.85) * h, 0.0)
        }) else {
            return;
        };
        let perch = [px, py.max(3.0), r.gen_range(0.2..0.6)];
        let dir = sign(r);
        let start = [
            perch[0] - dir * r.gen_range(6.0..14.0),
            perch[1] + r.gen_range(3.0..9.0),
            perch[2] + r.gen_range(2.0..8.0),
        ];
        let ctrl = [
            perch[0] - dir * r.gen_range(1.0..3.0),
            perch[1] + r.gen_range(2.0..5.0),
            perch[2] + r.gen_range(1.0..3.0),
        ];
        let speed = r.gen_range(5.0..9.0);
        let len = ((start[0] - perch[0]).powi(2)
            + (start[1] - perch[1]).powi(2)
            + (start[2] - perch[2]).powi(2))
        .sqrt();
        let fly = (len / speed).max(0.8);
        let sit = r.gen_range(1.0..8.0);
        let leave = r.gen_bool(0.6);
        let dt = 0.01;
        let mut pts = Vec::new();
        let mut t = 0.0;
        while t <= fly {
            // Quadratic Bézier with an easing that slows down for the landing.
            let u = t / fly;
            let s = 1.0 - (1.0 - u) * (1.0 - u);
            let a = (1.0 - s) * (1.0 - s);
            let b = 2.0 * (1.0 - s) * s;
            let c = s * s;
            pts.push([
                a * start[0] + b * ctrl[0] + c * perch[0],
                a * start[1] + b * ctrl[1] + c * perch[1],
                a * start[2] + b * ctrl[2] + c * perch[2],
            ]);
            t += dt;
        }
        let mut tt = 0.0;
        while tt < sit {
            pts.push(perch);
            tt += dt;
        }
        if leave {
            let mut q = perch;
            let mut v = [dir * 1.0, 1.5, 1.0];
            let mut tl = 0.0;
            while tl < 3.0 {
                v[0] += dir * 4.0 * dt;
                v[1] += 2.0 * dt;
                v[2] += 1.0 * dt;
                for i in 0..3 {
                    q[i] += v[i] * dt;
                }
                pts.push(q);
                tl += dt;
            }
        }
        let t0 = r.gen_range(-1.0..(p.duration - 1.0).max(0.0));
        let path = Path3 { t0, dt, pts };
        let sit_end = t0 + fly + sit;
        let mut flapping = vec![(t0, t0 + fly)];
        if leave {
            flapping.push((sit_end, path.end()));
        }
        let body_m = r.gen_range(0.15..0.35);
        let bird = Bird {
            span_m: body_m * r.gen_range(2.0..3.2),
            body_m,
            flap_hz: r.gen_range(3.0..7.0),
            flapping,
            path,
            luma: if p.night {
                r.gen_range(20.0..60.0)
            } else {
                r.gen_range(25.0..90.0)
            },
        };
        let mut tr = span(
            "birds",
            t0.max(0.0),
            bird.path.end().min(p.duration),
            if leave { "land and take off" } else { "land" },
        );
        tr.track = track(&bird.path, p.cam, p.fps, p.frames);
        if let (Some(a), Some(b)) = (tr.track.first(), tr.track.last()) {
            tr.start_s = a[0];
            tr.end_s = b[0];
        }
        self.truth.push(tr);
        self.birds.push(bird);
    }

    /// The look's camera-pole vibration (continuous, gusty) and auto-exposure wander.
    pub fn add_look(&mut self, p: &Plan, look: &super::Look) {
        let mut r = rng(p.seed, 0x10C);
        let tau = std::f64::consts::TAU;
        if look.vibration_px > 0.0 {
            let amp = look.vibration_px * p.cam.width as f64 / 1280.0;
            let f1 = look.vibration_hz;
            let f2 = f1 * r.gen_range(1.3..2.1);
            let gust = r.gen_range(3.0..12.0);
            let (ph1, ph2, ph3) = (
                r.gen_range(0.0..tau),
                r.gen_range(0.0..tau),
                r.gen_range(0.0..tau),
            );
            for i in 0..p.frames as usize {
                let t = i as f64 / p.fps;
                let g = 0.6 + 0.4 * (tau * t / gust + ph3).sin();
                self.shake[i].0 += amp * g * (tau * f1 * t + ph1).sin();
                self.shake[i].1 += 0.6 * amp * g * (tau * f2 * t + ph2).sin();
            }
            self.truth.push(span(
                "vibration",
                0.0,
                p.duration,
                &format!("{amp:.1} px at {f1:.1} Hz"),
            ));
        }
        if look.ae_drift > 0.0 {
            let a = look.ae_drift as f64;
            let (p1, p2) = (r.gen_range(4.0..20.0), r.gen_range(1.5..6.0));
            let (ph1, ph2) = (r.gen_range(0.0..tau), r.gen_range(0.0..tau));
            for i in 0..p.frames as usize {
                let t = i as f64 / p.fps;
                let g =
                    1.0 + a * (0.7 * (tau * t / p1 + ph1).sin() + 0.3 * (tau * t / p2 + ph2).sin());
                self.gain[i] *= g as f32;
            }
            self.truth.push(span(
                "ae_drift",
                0.0,
                p.duration,
                &format!("{:.0} %", a * 100.0),
            ));
        }
    }

    pub fn add_leaves(&mut self, p: &Plan) {
        let mut r = rng(p.seed, 0x1EAF);
        let n = r.gen_range(3..=8);
        let (w, h) = (p.cam.width as f64, p.cam.height as f64);
        for _ in 0..n {
            let dist = r.gen_range(3.0..18.0);
            let start = point_at(p.cam, r.gen_range(0.0..w), r.gen_range(-0.1..0.6) * h, dist);
            let vs = r.gen_range(0.7..2.0);
            let wind = r.gen_range(-1.2..1.2);
            let amp = r.gen_range(0.2..0.8);
            let f = r.gen_range(0.3..0.9);
            let ph = r.gen_range(0.0..std::f64::consts::TAU);
            let dt = 0.02;
            let t0 = r.gen_range(-3.0..p.duration);
            let mut pts = Vec::new();
            let mut t = 0.0;
            while t < 25.0 {
                let w_ = std::f64::consts::TAU * f * t + ph;
                // Falling leaves sway like a pendulum and sink faster when edge-on.
                let pos = [
                    start[0] + wind * t + amp * w_.sin(),
                    start[1] - vs * t - 0.15 * amp * (2.0 * w_).cos(),
                    start[2] + 0.3 * amp * w_.cos(),
                ];
                pts.push(pos);
                if pos[1] < 0.0 {
                    break;
                }
                t += dt;
            }
            let path = Path3 { t0, dt, pts };
            const COLS: [[f32; 3]; 4] = [
                [150.0, 120.0, 40.0],
                [110.0, 80.0, 40.0],
                [80.0, 110.0, 40.0],
                [190.0, 150.0, 60.0],
            ];
            let leaf = Leaf {
                size_m: r.gen_range(0.04..0.1),
                spin_hz: r.gen_range(0.5..2.0),
                color: COLS[r.gen_range(0..COLS.len())],
                path,
            };
            let mut tr = span(
                "leaves",
                leaf.path.t0.max(0.0),
                leaf.path.end().min(p.duration),
                "",
            );
            tr.track = track(&leaf.path, p.cam, p.fps, p.frames);
            if let (Some(a), Some(b)) = (tr.track.first(), tr.track.last()) {
                tr.start_s = a[0];
                tr.end_s = b[0];
                self.truth.push(tr);
            }
            self.leaves.push(leaf);
        }
    }

    pub fn add_insects(&mut self, p: &Plan) {
        let mut r = rng(p.seed, 0x1A5E);
        let n = r.gen_range(1..=3);
        let (w, h) = (p.cam.width as f64, p.cam.height as f64);
        for _ in 0..n {
            let t0 = r.gen_range(0.0..(p.duration - 0.5).max(0.1));
            let life = r.gen_range(1.0..4.0);
            let dt = 0.01;
            let mut pos = [r.gen_range(0.1..0.9) * w, r.gen_range(0.1..0.9) * h, 0.0];
            let mut vel = [0.0, 0.0, 0.0];
            let mut next_turn = 0.0;
            let mut pts = Vec::new();
            let mut t = 0.0;
            let scale = w / 1280.0;
            while t < life {
                if t >= next_turn {
                    let a: f64 = r.gen_range(0.0..std::f64::consts::TAU);
                    let s = r.gen_range(100.0..900.0) * scale;
                    vel = [s * a.cos(), s * a.sin(), 0.0];
                    next_turn = t + r.gen_range(0.04..0.25);
                }
                for i in 0..2 {
                    pos[i] += vel[i] * dt;
                }
                pts.push(pos);
                t += dt;
            }
            let ins = Insect {
                path: Path3 { t0, dt, pts },
                sigma_px: r.gen_range(6.0..22.0) * scale,
                opacity: r.gen_range(0.25..0.6),
                luma: if p.night {
                    r.gen_range(150.0..230.0)
                } else {
                    r.gen_range(20.0..80.0)
                },
            };
            let mut tr = span("insects", t0, (t0 + life).min(p.duration), "");
            for i in 0..p.frames {
                let t = i as f64 / p.fps;
                if let Some(q) = ins.path.at(t) {
                    tr.track.push([t, q[0], q[1]]);
                }
            }
            self.truth.push(tr);
            self.insects.push(ins);
        }
    }

    pub fn add_rain(&mut self, p: &Plan, kind: super::RainKind) {
        use super::RainKind as K;
        let mut r = rng(p.seed, 0x2A1);
        let scale = (p.cam.width as f64 * p.cam.height as f64) / (1280.0 * 720.0);
        let h = p.cam.height as f64;
        let night_bright = |r: &mut ChaCha8Rng| r.gen_range(90.0..140.0);
        let day_bright = |r: &mut ChaCha8Rng| r.gen_range(185.0..225.0);
        let rain = match kind {
            K::Streaks => Rain {
                kind,
                per_frame: (r.gen_range(250.0..900.0) * scale) as usize,
                slant: r.gen_range(-0.25..0.25),
                bright: if p.night {
                    night_bright(&mut r)
                } else {
                    day_bright(&mut r)
                },
                max_depth: p.distance * 1.3,
                min_depth: 1.0,
                two_frame: 0.0,
                max_len_px: f64::INFINITY,
                gust: 0.0,
            },
            K::Drizzle => Rain {
                kind,
                per_frame: (r.gen_range(80.0..300.0) * scale) as usize,
                slant: r.gen_range(-0.15..0.15),
                bright: if p.night {
                    night_bright(&mut r)
                } else {
                    day_bright(&mut r)
                },
                max_depth: p.distance * 1.3,
                min_depth: 0.5,
                two_frame: 0.3,
                max_len_px: 0.04 * h,
                gust: 0.02,
            },
            K::Heavy => Rain {
                kind,
                per_frame: (r.gen_range(1200.0..2500.0) * scale) as usize,
                slant: r.gen_range(-0.2..0.2),
                bright: if p.night {
                    night_bright(&mut r)
                } else {
                    day_bright(&mut r)
                },
                max_depth: p.distance * 1.3,
                min_depth: 0.3,
                two_frame: 0.4,
                max_len_px: f64::INFINITY,
                gust: 0.03,
            },
            K::Wind => Rain {
                kind,
                per_frame: (r.gen_range(400.0..1200.0) * scale) as usize,
                slant: r.gen_range(0.35..0.75) * sign(&mut r),
                bright: if p.night {
                    night_bright(&mut r)
                } else {
                    day_bright(&mut r)
                },
                max_depth: p.distance * 1.3,
                min_depth: 0.3,
                two_frame: 0.4,
                max_len_px: f64::INFINITY,
                gust: 0.08,
            },
            // Rain at night under lamps: only drops near the lights (and the lens) show, as
            // short bright near-parallel streaks all over the picture.
            K::NightLights => Rain {
                kind,
                per_frame: (r.gen_range(300.0..1000.0) * scale) as usize,
                slant: r.gen_range(-0.3..0.3),
                bright: r.gen_range(150.0..235.0),
                max_depth: (p.distance * 0.5).max(4.0),
                min_depth: 0.3,
                two_frame: 0.5,
                max_len_px: r.gen_range(0.015..0.04) * h,
                gust: 0.03,
            },
        };
        self.rain = Some(rain);
        self.truth.push(span("rain", 0.0, p.duration, kind.name()));
    }

    pub fn add_jitter(&mut self, p: &Plan) {
        let mut r = rng(p.seed, 0x717);
        let n = r.gen_range(1..=3);
        for _ in 0..n {
            let t0 = r.gen_range(0.0..p.duration);
            let len = r.gen_range(0.3..1.5);
            let amp = r.gen_range(1.5..5.0) * p.cam.width as f64 / 1280.0;
            let (mut dx, mut dy) = (0.0f64, 0.0f64);
            for i in 0..p.frames as usize {
                let t = i as f64 / p.fps;
                if t >= t0 && t < t0 + len {
                    // Sudden jolts that ring down.
                    dx = 0.4 * dx + r.gen_range(-amp..amp);
                    dy = 0.4 * dy + r.gen_range(-amp..amp);
                    self.shake[i].0 += dx;
                    self.shake[i].1 += dy;
                }
            }
            self.truth.push(span(
                "jitter",
                t0,
                (t0 + len).min(p.duration),
                &format!("{amp:.1} px"),
            ));
        }
    }

    pub fn add_exposure(&mut self, p: &Plan) {
        let mut r = rng(p.seed, 0xE4B);
        let n = r.gen_range(1..=2);
        let mut steps: Vec<(f64, f64, f32)> = (0..n)
            .map(|_| {
                (
                    r.gen_range(0.0..p.duration),
                    r.gen_range(0.2..1.0),
                    r.gen_range(0.65..1.45f32),
                )
            })
            .collect();
        steps.sort_by(|a, b| a.0.total_cmp(&b.0));
        for i in 0..p.frames as usize {
            let t = i as f64 / p.fps;
            let mut g = 1.0f32;
            for &(t0, len, target) in &steps {
                if t >= t0 {
                    let k = ((t - t0) / len).min(1.0) as f32;
                    g = g + (target - g) * k;
                }
            }
            self.gain[i] *= g;
        }
        for (t0, len, target) in steps {
            self.truth.push(span(
                "exposure",
                t0,
                (t0 + len).min(p.duration),
                &format!("gain {target:.2}"),
            ));
        }
    }

    /// Birds and leaves visible at `t`, as sprites.
    pub fn sprites(&self, cam: &Camera, t: f64, shutter: f64, out: &mut Vec<Sprite>) {
        for b in &self.birds {
            let (Some(a), Some(z)) = (b.path.at(t - shutter / 2.0), b.path.at(t + shutter / 2.0))
            else {
                continue;
            };
            let (Some(pa), Some(pz)) = (cam.project(a), cam.project(z)) else {
                continue;
            };
            let n = blur_steps(((pa.0 - pz.0).powi(2) + (pa.1 - pz.1).powi(2)).sqrt());
            let heading = (pz.1 - pa.1).atan2(pz.0 - pa.0);
            let flapping = b.flapping.iter().any(|&(s, e)| t >= s && t <= e);
            let mut poses = Vec::with_capacity(n);
            for ts in shutter_times(t, shutter, n) {
                let Some(q) = b.path.at(ts) else { continue };
                let Some((x, y, d)) = cam.project(q) else {
                    continue;
                };
                let k = cam.f_px / d;
                let flap = if flapping {
                    (std::f64::consts::TAU * b.flap_hz * ts).sin() * 1.1
                } else {
                    0.25
                };
                poses.push(Pose {
                    x,
                    y,
                    angle: heading,
                    shape: Shape::Bird {
                        body: b.body_m * k,
                        span: b.span_m * k,
                        flap,
                    },
                });
            }
            out.push(Sprite {
                depth: pa.2,
                poses,
                color: [b.luma, b.luma * 0.97, b.luma * 0.95],
                opacity: 1.0,
                shade: 0.1,
            });
        }
        for l in &self.leaves {
            let (Some(a), Some(z)) = (l.path.at(t - shutter / 2.0), l.path.at(t + shutter / 2.0))
            else {
                continue;
            };
            let (Some(pa), Some(pz)) = (cam.project(a), cam.project(z)) else {
                continue;
            };
            let n = blur_steps(((pa.0 - pz.0).powi(2) + (pa.1 - pz.1).powi(2)).sqrt());
            let mut poses = Vec::with_capacity(n);
            for ts in shutter_times(t, shutter, n) {
                let Some(q) = l.path.at(ts) else { continue };
                let Some((x, y, d)) = cam.project(q) else {
                    continue;
                };
                let k = cam.f_px / d;
                let w_ = std::f64::consts::TAU * l.spin_hz * ts;
                poses.push(Pose {
                    x,
                    y,
                    angle: w_ * 0.7,
                    shape: Shape::Ellipse {
                        a: 0.5 * l.size_m * k,
                        b: 0.5 * l.size_m * k * (0.15 + 0.45 * w_.cos().abs()),
                    },
                });
            }
            out.push(Sprite {
                depth: pa.2,
                poses,
                color: l.color,
                opacity: 1.0,
                shade: 0.2,
            });
        }
    }

    /// Rain streaks of frame `index` (independent per frame; drops move too far between frames
    /// to be tracked anyway).
    pub fn draw_rain(
        &self,
        canvas: &mut Canvas,
        cam: &Camera,
        seed: u64,
        index: u64,
        shutter: f64,
    ) {
        let Some(rain) = &self.rain else { return };
        if rain.kind == super::RainKind::Streaks {
            // The original rain (kept bit-identical for old seeds): one frame per drop.
            self.draw_rain_batch(canvas, cam, rain, seed, index, shutter, 0.0);
            return;
        }
        // Drops spawned this frame, and those of the previous frame still in view (moved on
        // by one frame interval): a share of the streaks is seen twice.
        self.draw_rain_batch(canvas, cam, rain, seed, index, shutter, 0.0);
        if index > 0 {
            self.draw_rain_batch(canvas, cam, rain, seed, index - 1, shutter, 1.0);
        }
    }

    /// The drops spawned on frame `spawn`, drawn `age` frames later (0: as spawned; 1: only
    /// the `two_frame` share, moved on).
    #[allow(clippy::too_many_arguments)]
    fn draw_rain_batch(
        &self,
        canvas: &mut Canvas,
        cam: &Camera,
        rain: &Rain,
        seed: u64,
        spawn: u64,
        shutter: f64,
        age: f64,
    ) {
        let mut r = rng(seed, 0x2A1_0000_0000 + spawn);
        let (w, h) = (canvas.w as f64, canvas.h as f64);
        let legacy = rain.kind == super::RainKind::Streaks;
        // Gusts turn the streaks a little from frame to frame, all together.
        let slant = if legacy || rain.gust == 0.0 {
            rain.slant
        } else {
            let mut g = rng(seed, 0x2A2_0000_0000 + spawn);
            rain.slant + g.gen_range(-rain.gust..rain.gust)
        };
        let fps_dt = self.frame_dt;
        for _ in 0..rain.per_frame {
            let u: f64 = r.gen();
            // More distant drops are more numerous per pixel but fainter.
            let d = if legacy {
                1.0 + (rain.max_depth - 1.0) * u.powf(0.8)
            } else {
                rain.min_depth + (rain.max_depth - rain.min_depth) * u.powf(0.8)
            };
            let x = r.gen_range(-20.0..w + 20.0);
            let y = r.gen_range(-60.0..h);
            let fall = r.gen_range(6.5..9.0);
            let second: f64 = if legacy { 1.0 } else { r.gen() };
            if age > 0.0 && second >= rain.two_frame {
                continue;
            }
            let len = (fall * shutter * cam.f_px / d)
                .max(1.0)
                .min(rain.max_len_px.max(1.0));
            let width = (0.0025 * cam.f_px / d).clamp(0.25, 3.0);
            let near_blur = if d < 3.0 { (3.0 - d) * 0.8 } else { 0.0 };
            let alpha = (0.25 + 0.25 / d.max(1.0)) as f32 / (1.0 + near_blur as f32);
            let angle = std::f64::consts::FRAC_PI_2 + slant;
            // Moved on by one frame interval along the streak direction.
            let step = age * fall * fps_dt * cam.f_px / d;
            let (x, y) = (x + step * angle.cos(), y + step * angle.sin());
            let shape = Shape::Segment {
                half_len: len / 2.0,
                r: width / 2.0 + near_blur,
            };
            let pose = Pose { x, y, angle, shape };
            draw_blurred(canvas, &[pose], [rain.bright; 3], alpha, 0.0);
        }
    }

    pub fn draw_insects(&self, canvas: &mut Canvas, t: f64, shutter: f64) {
        for ins in &self.insects {
            let (Some(a), Some(z)) = (
                ins.path.at(t - shutter / 2.0),
                ins.path.at(t + shutter / 2.0),
            ) else {
                continue;
            };
            let n = blur_steps(((a[0] - z[0]).powi(2) + (a[1] - z[1]).powi(2)).sqrt()).min(24);
            let poses: Vec<Pose> = shutter_times(t, shutter, n)
                .filter_map(|ts| ins.path.at(ts))
                .map(|q| Pose {
                    x: q[0],
                    y: q[1],
                    angle: 0.0,
                    shape: Shape::Blob {
                        sigma: ins.sigma_px,
                    },
                })
                .collect();
            draw_blurred(canvas, &poses, [ins.luma; 3], ins.opacity, 0.0);
        }
    }
}

/// Random sign.
pub fn sign(r: &mut ChaCha8Rng) -> f64 {
    if r.gen_bool(0.5) {
        1.0
    } else {
        -1.0
    }
}
