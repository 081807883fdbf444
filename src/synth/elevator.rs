//! Elevator-car scenes: a fixed camera high in the car looking at the door, the door opening
//! and closing, people walking in and out, optionally an e-bike wheeled in. Simple 2.5D shapes;
//! enough to exercise the elevator pipeline end to end.

use rand::Rng;

use super::noise::{fbm, gaussian_table, rng, value};
use super::raster::{draw_blurred, Canvas, Pose, Shape};
use super::truth::{ElevatorTruth, EntryTruth};
use super::{check_video, ElevatorSpec, Negative, SynthError, SynthFrame};
use crate::config::ElevatorConfig;
use crate::config::{CameraConfig, CameraKind};

/// What a mover brings into the car besides themselves.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Vehicle {
    /// A step-through e-scooter (the common Chinese 电动车), ridden in.
    Ebike,
    /// One of the in-car negatives, pushed or (wheelchair) sat in.
    Other(Negative),
}

/// Someone (with an e-bike or another object) moving between the door (`s = 0`) and a spot in
/// the car (`s > 0`).
struct Mover {
    vehicle: Option<Vehicle>,
    /// Which way the vehicle faces in the picture (+1 right, −1 left).
    facing: f64,
    /// Body colour of the vehicle.
    body: [f32; 3],
    /// Lateral position at the spot, -1..1 across the car.
    lateral: f64,
    spot: f64,
    enter_s: f64,
    walk_s: f64,
    exit_s: Option<f64>,
    shirt: [f32; 3],
    trousers: [f32; 3],
    hair: [f32; 3],
    /// For an e-bike: the person pushing it walks beside it.
    height: f64,
}

impl Mover {
    /// Depth `s` (0 door .. spot) at `t`; None when outside the car.
    fn s(&self, t: f64) -> Option<f64> {
        if t < self.enter_s - 0.6 {
            return None;
        }
        if let Some(x) = self.exit_s {
            if t > x + 0.6 {
                return None;
            }
            if t > x - self.walk_s {
                let k = ((x - t) / self.walk_s).clamp(-0.6 / self.walk_s, 1.0);
                return Some(self.spot * k);
            }
        }
        let k = ((t - self.enter_s) / self.walk_s).clamp(-0.6 / self.walk_s, 1.0);
        Some(self.spot * k)
    }
}

pub struct ElevatorScene {
    spec: ElevatorSpec,
    bg: Canvas,
    lobby: Canvas,
    cycles: Vec<[f64; 2]>,
    movers: Vec<Mover>,
    gauss: Vec<f32>,
    truth: ElevatorTruth,
    zone: Vec<[f64; 2]>,
    /// Box-blur radius of the lens softness (three passes ≈ a Gaussian of σ ≈ 2.5 px at 360 lines).
    blur_r: usize,
}

/// Car geometry in fractions of the image.
const FAR_X0: f64 = 0.27;
const FAR_X1: f64 = 0.73;
const FAR_Y0: f64 = 0.06;
const FAR_Y1: f64 = 0.58;
const DOOR_X0: f64 = 0.36;
const DOOR_X1: f64 = 0.64;
const DOOR_Y0: f64 = 0.13;
/// Depth past the door line (fraction of the car) at which a vehicle counts as fully inside.
const INSIDE_DEPTH: f64 = 0.2;

impl ElevatorScene {
    pub fn new(spec: &ElevatorSpec) -> Result<ElevatorScene, SynthError> {
        check_video(spec.width, spec.height, spec.fps, spec.duration_s)?;
        if spec.people > 8 {
            return Err(SynthError::Spec(
                "at most 8 people per elevator clip".into(),
            ));
        }
        let frames = spec.frame_count();
        let dur = frames as f64 / spec.fps;
        let mut r = rng(spec.seed, 2);
        let (w, h) = (spec.width as usize, spec.height as usize);
        let (wf, hf) = (w as f64, h as f64);
        let seed = spec.seed as u32;
        let wall = [
            r.gen_range(150.0..200.0),
            r.gen_range(150.0..195.0),
            r.gen_range(150.0..190.0f32),
        ];
        let floor_c = [
            r.gen_range(60.0..120.0),
            r.gen_range(60.0..110.0),
            r.gen_range(60.0..100.0f32),
        ];
        let mut bg = Canvas::new(w, h);
        let mut lobby = Canvas::new(w, h);
        for y in 0..h {
            for x in 0..w {
                let (u, v) = (x as f64 / wf, y as f64 / hf);
                // Side walls converge to the far wall; the floor is the trapezoid below it.
                let far = (FAR_X0..=FAR_X1).contains(&u) && (FAR_Y0..=FAR_Y1).contains(&v);
                let lx = FAR_X0 * (1.0 - (v - FAR_Y1).max(0.0) / (1.0 - FAR_Y1));
                let rx = 1.0 - lx;
                let c: [f32; 3] = if far {
                    let brushed = 0.92 + 0.08 * value(x as f32 * 0.8, y as f32 * 0.02, seed);
                    [wall[0] * brushed, wall[1] * brushed, wall[2] * brushed]
                } else if v > FAR_Y1 && u > lx && u < rx {
                    let tile = if ((u - 0.5) / (v + 0.2) * 8.0).fract().abs() < 0.03 {
                        0.8
                    } else {
                        1.0
                    };
                    let n = 0.85 + 0.3 * fbm(x as f32 * 0.05, y as f32 * 0.05, seed ^ 3, 3);
                    [
                        floor_c[0] * n * tile,
                        floor_c[1] * n * tile,
                        floor_c[2] * n * tile,
                    ]
                } else if v < FAR_Y0 * (1.0 - (u - 0.5).abs() * 0.0)
                    && (FAR_X0..=FAR_X1).contains(&u)
                {
                    [230.0, 230.0, 225.0]
                } else {
                    // Side walls / ceiling corners: mirror-polished steel, darker.
                    let brushed = 0.8 + 0.15 * value(x as f32 * 0.03, y as f32 * 1.0, seed ^ 5);
                    [
                        wall[0] * 0.75 * brushed,
                        wall[1] * 0.75 * brushed,
                        wall[2] * 0.78 * brushed,
                    ]
                };
                let o = (y * w + x) * 3;
                bg.px[o..o + 3].copy_from_slice(&c);
                let n = 0.9 + 0.2 * fbm(x as f32 * 0.02, y as f32 * 0.02, seed ^ 7, 3);
                let lc = [200.0 * n, 195.0 * n, 180.0 * n];
                lobby.px[o..o + 3].copy_from_slice(&lc);
            }
        }

        // Door cycles: people enter in the first, some leave in a second one.
        let mut cycles = Vec::new();
        let mut open1 = r.gen_range(0.5..1.5f64).min(dur * 0.2);
        if spec.at_start {
            // Nothing moves for the first 4 s: only the idle start-up burst can see the e-bike.
            open1 += 3.5;
        }
        let close1 = (open1 + r.gen_range(5.0..7.0)).min(dur);
        cycles.push([open1, close1]);
        let second = close1 + 2.0 < dur - 3.0;
        if second {
            let open2 = r.gen_range(close1 + 1.5..(dur - 3.0).max(close1 + 1.6));
            cycles.push([open2, (open2 + 4.0).min(dur)]);
        }
        let mut movers = Vec::new();
        let vehicle = match (spec.negative, spec.ebike) {
            (Some(neg), _) => Some(Vehicle::Other(neg)),
            (None, true) => Some(Vehicle::Ebike),
            (None, false) => None,
        };
        let n = spec.people + vehicle.is_some() as usize;
        for k in 0..n {
            // The vehicle comes last, or (at_start) is already standing in the car.
            let veh = if k == n - 1 { vehicle } else { None };
            let mut enter_s = open1 + 1.0 + k as f64 * r.gen_range(0.8..1.4);
            let leaves = second && r.gen_bool(0.5) && !(spec.at_start && veh.is_some());
            let walk_s = r.gen_range(1.3..2.2);
            if spec.at_start && veh.is_some() {
                enter_s = -walk_s - 1.0;
            }
            const BODIES: [[f32; 3]; 4] = [
                [38.0, 38.0, 42.0],
                [228.0, 228.0, 230.0],
                [40.0, 70.0, 150.0],
                [225.0, 226.0, 222.0],
            ];
            let body = BODIES[r.gen_range(0..BODIES.len())];
            let facing = if r.gen_bool(0.5) { 1.0 } else { -1.0 };
            const SHIRTS: [[f32; 3]; 6] = [
                [40.0, 50.0, 90.0],
                [160.0, 40.0, 40.0],
                [220.0, 220.0, 215.0],
                [30.0, 30.0, 30.0],
                [90.0, 120.0, 70.0],
                [200.0, 170.0, 60.0],
            ];
            movers.push(Mover {
                vehicle: veh,
                facing,
                body,
                lateral: r.gen_range(-0.7..0.7),
                spot: r.gen_range(0.35..0.8),
                enter_s,
                walk_s,
                exit_s: if leaves {
                    Some(cycles[1][0] + 1.0 + walk_s + k as f64 * 0.5)
                } else {
                    None
                },
                shirt: SHIRTS[r.gen_range(0..SHIRTS.len())],
                trousers: [r.gen_range(20.0..80.0f32); 3],
                hair: [r.gen_range(10.0..60.0f32); 3],
                height: r.gen_range(0.9..1.05),
            });
        }
        let zone = vec![
            [FAR_X0 * wf, FAR_Y1 * hf],
            [FAR_X1 * wf, FAR_Y1 * hf],
            [wf - 1.0, hf - 1.0],
            [0.0, hf - 1.0],
        ];
        let entries = movers
            .iter()
            .enumerate()
            .map(|(i, m)| EntryTruth {
                id: i as u32,
                object: match m.vehicle {
                    Some(Vehicle::Ebike) => "ebike".into(),
                    Some(Vehicle::Other(n)) => n.as_str().into(),
                    None => "person".into(),
                },
                enter_s: m.enter_s.max(0.0),
                exit_s: m.exit_s.map(|x| x + 0.6),
                inside_s: m
                    .vehicle
                    .map(|_| (m.enter_s + m.walk_s * (INSIDE_DEPTH / m.spot).min(1.0)).max(0.0)),
            })
            .collect();
        let truth = ElevatorTruth {
            kind: "elevator".into(),
            seed: spec.seed,
            width: spec.width,
            height: spec.height,
            fps: spec.fps,
            duration_s: dur,
            frames,
            zone: zone.clone(),
            door_cycles: cycles.clone(),
            entries,
        };
        Ok(ElevatorScene {
            spec: spec.clone(),
            bg,
            lobby,
            cycles,
            movers,
            gauss: gaussian_table(spec.seed, 1 << 18),
            truth,
            zone,
            blur_r: blur_radius(2.5 * spec.height as f64 / 360.0),
        })
    }

    pub fn frame_count(&self) -> u64 {
        self.truth.frames
    }

    pub fn truth(&self) -> &ElevatorTruth {
        &self.truth
    }

    pub fn camera_config(&self, name: &str, source: &str) -> CameraConfig {
        let mut c = CameraConfig::new(name, CameraKind::Elevator, source);
        c.elevator = Some(ElevatorConfig {
            zone: self.zone.clone(),
            ..Default::default()
        });
        c
    }

    /// Door opening 0 (closed) .. 1 (open) at `t`.
    fn door(&self, t: f64) -> f64 {
        let mut o: f64 = 0.0;
        for &[a, b] in &self.cycles {
            let open = ((t - a) / 1.0).clamp(0.0, 1.0);
            let close = ((t - (b - 1.0)) / 1.0).clamp(0.0, 1.0);
            if t >= a && t <= b {
                o = o.max(open.min(1.0 - close));
            }
        }
        o
    }

    pub fn frame(&mut self, i: u64) -> SynthFrame {
        let t = i as f64 / self.spec.fps;
        let (w, h) = (self.bg.w, self.bg.h);
        let (wf, hf) = (w as f64, h as f64);
        let mut c = self.bg.clone();
        let o = self.door(t);
        let (dx0, dx1) = ((DOOR_X0 * wf) as usize, (DOOR_X1 * wf) as usize);
        let (dy0, dy1) = ((DOOR_Y0 * hf) as usize, (FAR_Y1 * hf) as usize);
        let mid = (dx0 + dx1) as f64 / 2.0;
        let half_open = o * (dx1 - dx0) as f64 / 2.0;
        for y in dy0..dy1 {
            for x in dx0..dx1 {
                let idx = (y * w + x) * 3;
                let xf = x as f64;
                if (xf - mid).abs() < half_open {
                    c.px[idx..idx + 3].copy_from_slice(&self.lobby.px[idx..idx + 3]);
                } else {
                    let seam = if ((xf - mid).abs() - half_open).abs() < 1.5 {
                        0.6
                    } else {
                        0.97
                    };
                    for ch in 0..3 {
                        c.px[idx + ch] = 175.0 * seam;
                    }
                }
            }
        }
        // Far first.
        let mut order: Vec<(f64, usize)> = self
            .movers
            .iter()
            .enumerate()
            .filter_map(|(k, m)| m.s(t).map(|s| (s, k)))
            .collect();
        order.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (s, k) in order {
            let m = &self.movers[k];
            // Before the door line (s < 0) they are in the lobby: only visible through the door.
            if s < 0.0 && o < 0.3 {
                continue;
            }
            let sc = 1.0 + 0.9 * s.max(0.0);
            let foot_y = (FAR_Y1 + (1.0 - FAR_Y1 - 0.04) * s.max(0.0)) * hf;
            let x = wf * (0.5 + m.lateral * 0.18 * s.max(0.0) * 2.0);
            let ph = 0.3 * hf * sc * m.height;
            let walking = (t - m.enter_s) < m.walk_s || m.exit_s.is_some_and(|e| t > e - m.walk_s);
            let swing = if walking { (t * 9.0).sin() * 0.25 } else { 0.0 };
            match m.vehicle {
                Some(v) => draw_vehicle(&mut c, v, m, x, foot_y, ph, swing),
                None => draw_person(&mut c, m, x, foot_y, ph, swing),
            }
        }
        soften(&mut c, self.blur_r);
        // Noise.
        let mut r = rng(self.spec.seed, 0x2000_0000 + i);
        let n = self.gauss.len();
        let mut rgb = vec![0u8; c.px.len()];
        for y in 0..h {
            let off = r.gen_range(0..n - w - 1);
            for x in 0..w {
                let o = (y * w + x) * 3;
                let nz = self.gauss[off + x] * 2.0;
                for ch in 0..3 {
                    rgb[o + ch] = (c.px[o + ch] + nz).round().clamp(0.0, 255.0) as u8;
                }
            }
        }
        SynthFrame {
            index: i,
            t_s: t,
            width: self.spec.width,
            height: self.spec.height,
            rgb,
        }
    }
}

// ---------------------------------------------------------------- sprites

/// A capsule from `p` to `q` of radius `r`.
fn seg(c: &mut Canvas, p: (f64, f64), q: (f64, f64), r: f64, col: [f32; 3]) {
    let (dx, dy) = (q.0 - p.0, q.1 - p.1);
    let pose = Pose {
        x: (p.0 + q.0) / 2.0,
        y: (p.1 + q.1) / 2.0,
        angle: dy.atan2(dx),
        shape: Shape::Segment {
            half_len: (dx * dx + dy * dy).sqrt() / 2.0,
            r,
        },
    };
    draw_blurred(c, &[pose], col, 1.0, 0.0);
}

/// An axis-aligned ellipse (rotated by `angle`).
fn ell(c: &mut Canvas, p: (f64, f64), a: f64, b: f64, angle: f64, col: [f32; 3]) {
    let pose = Pose {
        x: p.0,
        y: p.1,
        angle,
        shape: Shape::Ellipse { a, b },
    };
    draw_blurred(c, &[pose], col, 1.0, 0.0);
}

/// A ring (tyre) drawn as short capsules around the circle.
fn ring(c: &mut Canvas, p: (f64, f64), rx: f64, ry: f64, th: f64, col: [f32; 3]) {
    const N: usize = 20;
    let (rx, ry) = (rx - th / 2.0, ry - th / 2.0);
    for k in 0..N {
        let a0 = k as f64 * std::f64::consts::TAU / N as f64;
        let a1 = (k + 1) as f64 * std::f64::consts::TAU / N as f64;
        seg(
            c,
            (p.0 + rx * a0.cos(), p.1 + ry * a0.sin()),
            (p.0 + rx * a1.cos(), p.1 + ry * a1.sin()),
            th / 2.0,
            col,
        );
    }
}

/// Filled polygon, 4 samples per pixel, with a top-light vertical shading of strength `shade`.
fn poly(c: &mut Canvas, pts: &[(f64, f64)], col: [f32; 3], shade: f32) {
    if pts.len() < 3 {
        return;
    }
    let poly: Vec<[f64; 2]> = pts.iter().map(|&(x, y)| [x, y]).collect();
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for &(x, y) in pts {
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    let bx0 = x0.floor().max(0.0) as usize;
    let by0 = y0.floor().max(0.0) as usize;
    let bx1 = (x1.ceil().max(0.0) as usize).min(c.w.saturating_sub(1));
    let by1 = (y1.ceil().max(0.0) as usize).min(c.h.saturating_sub(1));
    let span = (y1 - y0).max(1.0);
    for y in by0..=by1 {
        for x in bx0..=bx1 {
            let mut cov = 0.0f32;
            for (sx, sy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                if inside(x as f64 + sx - 0.5, y as f64 + sy - 0.5, &poly) {
                    cov += 0.25;
                }
            }
            if cov <= 0.0 {
                continue;
            }
            let k = 1.0 + shade * (0.5 - ((y as f64 - y0) / span) as f32);
            let o = (y * c.w + x) * 3;
            for ch in 0..3 {
                let v = (col[ch] * k).clamp(0.0, 255.0);
                c.px[o + ch] = c.px[o + ch] * (1.0 - cov) + v * cov;
            }
        }
    }
}

/// Even-odd point-in-polygon (the analytics' own copy lives a layer up).
fn inside(x: f64, y: f64, poly: &[[f64; 2]]) -> bool {
    let mut inside = false;
    let mut j = poly.len() - 1;
    for i in 0..poly.len() {
        let ([xi, yi], [xj, yj]) = (poly[i], poly[j]);
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// A spoked wheel: tyre, rim, spokes, hub. `f` squeezes it horizontally (seen at an angle).
fn wheel(c: &mut Canvas, p: (f64, f64), r: f64, f: f64) {
    ell(c, p, r * f, r, 0.0, [15.0, 15.0, 18.0]);
    ell(c, p, r * 0.72 * f, r * 0.72, 0.0, [70.0, 70.0, 75.0]);
    ell(c, p, r * 0.62 * f, r * 0.62, 0.0, [175.0, 178.0, 185.0]);
    for k in 0..5 {
        let a = k as f64 * std::f64::consts::TAU / 5.0;
        seg(
            c,
            p,
            (p.0 + a.cos() * r * 0.6 * f, p.1 + a.sin() * r * 0.6),
            r * 0.07,
            [60.0, 60.0, 65.0],
        );
    }
    ell(c, p, r * 0.18 * f, r * 0.18, 0.0, [90.0, 90.0, 95.0]);
}

/// A standing person (legs, body, head) with feet at `(px, foot_y)`.
fn draw_person(c: &mut Canvas, m: &Mover, px: f64, foot_y: f64, ph: f64, swing: f64) {
    for side in [-1.0, 1.0] {
        let leg = Pose {
            x: px + side * ph * 0.05 + side * swing * ph * 0.1,
            y: foot_y - ph * 0.22,
            angle: std::f64::consts::FRAC_PI_2 + side * swing * 0.3,
            shape: Shape::Segment {
                half_len: ph * 0.2,
                r: ph * 0.04,
            },
        };
        draw_blurred(c, &[leg], m.trousers, 1.0, 0.1);
    }
    let body = Pose {
        x: px,
        y: foot_y - ph * 0.6,
        angle: std::f64::consts::FRAC_PI_2,
        shape: Shape::Ellipse {
            a: ph * 0.2,
            b: ph * 0.12,
        },
    };
    draw_blurred(c, &[body], m.shirt, 1.0, 0.2);
    let head = Pose {
        x: px,
        y: foot_y - ph * 0.88,
        angle: 0.0,
        shape: Shape::Ellipse {
            a: ph * 0.065,
            b: ph * 0.08,
        },
    };
    draw_blurred(c, &[head], m.hair, 1.0, 0.1);
}

/// A person sitting (on a scooter's seat or in a wheelchair), hip at `hip`, facing `d`.
fn draw_seated(c: &mut Canvas, m: &Mover, hip: (f64, f64), ph: f64, d: f64, reach: f64) {
    let knee = (hip.0 + d * 0.15 * ph, hip.1 + 0.05 * ph);
    seg(c, hip, knee, 0.045 * ph, m.trousers);
    seg(
        c,
        knee,
        (knee.0 + d * 0.02 * ph, knee.1 + 0.25 * ph),
        0.04 * ph,
        m.trousers,
    );
    ell(
        c,
        (hip.0 + d * 0.02 * ph, hip.1 - 0.22 * ph),
        0.11 * ph,
        0.19 * ph,
        d * 0.15,
        m.shirt,
    );
    seg(
        c,
        (hip.0 + d * 0.05 * ph, hip.1 - 0.32 * ph),
        (hip.0 + d * reach * ph, hip.1 - 0.2 * ph),
        0.03 * ph,
        m.shirt,
    );
    ell(
        c,
        (hip.0 + d * 0.05 * ph, hip.1 - 0.48 * ph),
        0.065 * ph,
        0.08 * ph,
        0.0,
        m.hair,
    );
}

/// The vehicle a mover brings, with its person, centred at `x` on the floor line `foot`.
fn draw_vehicle(c: &mut Canvas, v: Vehicle, m: &Mover, x: f64, foot: f64, ph: f64, swing: f64) {
    let d = m.facing;
    let dark = [22.0, 22.0, 25.0];
    match v {
        Vehicle::Ebike => {
            // Side view of a step-through e-scooter with its rider on the seat.
            let rr = 0.18;
            let l = 0.74 * ph;
            let p = |t: f64, yy: f64| (x + d * t * l, foot - yy * ph);
            ell(
                c,
                (x, foot + 2.0),
                0.7 * ph,
                0.05 * ph,
                0.0,
                [50.0, 46.0, 42.0],
            );
            let r = rr;
            let body = [
                p(-0.68, 2.0 * r),
                p(-0.6, 2.7 * r),
                p(-0.1, 3.35 * r),
                p(0.0, 3.2 * r),
                p(0.02, 1.35 * r),
                p(0.26, 1.35 * r),
                p(0.36, 2.6 * r),
                p(0.33, 4.3 * r),
                p(0.42, 4.35 * r),
                p(0.52, 2.5 * r),
                p(0.48, 2.0 * r),
                p(0.35, 1.0 * r),
                p(-0.2, 0.8 * r),
                p(-0.4, 1.6 * r),
                p(-0.62, 1.6 * r),
            ];
            poly(c, &body, m.body, 0.35);
            let fender = [
                p(0.36, 1.95 * r),
                p(0.5, 2.25 * r),
                p(0.66, 1.9 * r),
                p(0.6, 1.75 * r),
                p(0.5, 1.95 * r),
                p(0.4, 1.8 * r),
            ];
            poly(c, &fender, m.body, 0.2);
            let seat = [
                p(-0.55, 2.75 * r),
                p(-0.5, 3.05 * r),
                p(-0.05, 3.55 * r),
                p(0.03, 3.35 * r),
                p(-0.1, 3.25 * r),
            ];
            poly(c, &seat, dark, 0.0);
            seg(c, p(0.37, 4.3 * r), p(0.35, 4.9 * r), 0.02 * ph, [40.0; 3]);
            seg(c, p(0.25, 4.95 * r), p(0.45, 4.9 * r), 0.02 * ph, dark);
            ell(
                c,
                p(0.45, 4.55 * r),
                0.035 * ph,
                0.03 * ph,
                0.0,
                [250.0, 245.0, 210.0],
            );
            for t in [0.3, 0.42] {
                seg(c, p(t, 4.9 * r), p(t - 0.03, 5.5 * r), 0.007 * ph, dark);
            }
            ell(
                c,
                p(-0.66, 2.3 * r),
                0.02 * ph,
                0.02 * ph,
                0.0,
                [230.0, 40.0, 40.0],
            );
            for t in [-0.5, 0.5] {
                wheel(c, p(t, r), r * ph, 1.0);
            }
            draw_seated(c, m, (x - d * 0.12 * ph, foot - 0.5 * ph), ph, d, 0.28);
        }
        Vehicle::Other(Negative::Bicycle) => {
            // A plain diamond-frame bicycle pushed by a person walking beside it.
            draw_person(c, m, x - d * 0.5 * ph, foot, ph, swing);
            let r = 0.19 * ph;
            let l = 0.62 * ph;
            let rw = (x - d * l / 2.0, foot - r);
            let fw = (x + d * l / 2.0, foot - r);
            for w in [rw, fw] {
                ring(c, w, r, r, 0.045 * ph, [20.0; 3]);
                for k in 0..12 {
                    let a = k as f64 * std::f64::consts::PI / 6.0;
                    seg(
                        c,
                        w,
                        (w.0 + a.cos() * r * 0.9, w.1 + a.sin() * r * 0.9),
                        0.8,
                        [120.0; 3],
                    );
                }
            }
            let bb = (x - d * 0.05 * ph, foot - r * 0.9);
            let seat = (x - d * 0.12 * ph, foot - 0.5 * ph);
            let head = (x + d * 0.22 * ph, foot - 0.52 * ph);
            seg(c, rw, bb, 0.018 * ph, m.body);
            seg(c, bb, seat, 0.02 * ph, m.body);
            seg(c, seat, head, 0.02 * ph, m.body);
            seg(c, bb, head, 0.022 * ph, m.body);
            seg(c, rw, seat, 0.016 * ph, m.body);
            seg(c, head, fw, 0.018 * ph, [60.0; 3]);
            seg(c, head, (head.0, head.1 - 0.08 * ph), 0.015 * ph, [60.0; 3]);
            seg(
                c,
                (head.0 - d * 0.07 * ph, head.1 - 0.08 * ph),
                (head.0 + d * 0.05 * ph, head.1 - 0.1 * ph),
                0.015 * ph,
                dark,
            );
            seg(
                c,
                (seat.0 - 0.06 * ph, seat.1),
                (seat.0 + 0.06 * ph, seat.1),
                0.022 * ph,
                dark,
            );
        }
        Vehicle::Other(Negative::Stroller) => {
            // A baby stroller: four small wheels, a fabric seat with a hood, a push handle.
            let wr = 0.05 * ph;
            for t in [-0.17, 0.17] {
                ell(c, (x + d * t * ph, foot - wr), wr, wr, 0.0, [25.0; 3]);
            }
            let fab = m.body;
            let seat = [
                (x - d * 0.18 * ph, foot - 0.2 * ph),
                (x + d * 0.2 * ph, foot - 0.22 * ph),
                (x + d * 0.16 * ph, foot - 0.45 * ph),
                (x - d * 0.12 * ph, foot - 0.42 * ph),
            ];
            poly(c, &seat, fab, 0.3);
            ell(
                c,
                (x - d * 0.08 * ph, foot - 0.5 * ph),
                0.15 * ph,
                0.12 * ph,
                0.0,
                [fab[0] * 0.7, fab[1] * 0.7, fab[2] * 0.7],
            );
            seg(
                c,
                (x - d * 0.17 * ph, foot - wr),
                (x + d * 0.17 * ph, foot - 0.2 * ph),
                0.012 * ph,
                [50.0; 3],
            );
            seg(
                c,
                (x + d * 0.17 * ph, foot - wr),
                (x - d * 0.17 * ph, foot - 0.2 * ph),
                0.012 * ph,
                [50.0; 3],
            );
            seg(
                c,
                (x - d * 0.15 * ph, foot - 0.3 * ph),
                (x - d * 0.3 * ph, foot - 0.62 * ph),
                0.014 * ph,
                [50.0; 3],
            );
            draw_person(c, m, x - d * 0.45 * ph, foot, ph, swing);
        }
        Vehicle::Other(Negative::Wheelchair) => {
            // A manual wheelchair with its user: two large wheels, small front casters.
            let r = 0.2 * ph;
            let hub = (x - d * 0.05 * ph, foot - r);
            ring(c, hub, r, r, 0.035 * ph, [30.0; 3]);
            for k in 0..8 {
                let a = k as f64 * std::f64::consts::PI / 4.0;
                seg(
                    c,
                    hub,
                    (hub.0 + a.cos() * r * 0.9, hub.1 + a.sin() * r * 0.9),
                    0.7,
                    [150.0; 3],
                );
            }
            ell(
                c,
                (x + d * 0.22 * ph, foot - 0.04 * ph),
                0.04 * ph,
                0.04 * ph,
                0.0,
                [25.0; 3],
            );
            seg(
                c,
                (x - d * 0.12 * ph, foot - 0.33 * ph),
                (x + d * 0.18 * ph, foot - 0.33 * ph),
                0.02 * ph,
                [60.0; 3],
            );
            seg(
                c,
                (x - d * 0.12 * ph, foot - 0.33 * ph),
                (x - d * 0.15 * ph, foot - 0.65 * ph),
                0.02 * ph,
                [60.0; 3],
            );
            seg(
                c,
                (x + d * 0.18 * ph, foot - 0.33 * ph),
                (x + d * 0.22 * ph, foot - 0.06 * ph),
                0.015 * ph,
                [60.0; 3],
            );
            draw_seated(c, m, (x - d * 0.05 * ph, foot - 0.36 * ph), ph, d, 0.15);
        }
        Vehicle::Other(Negative::Trolley) => {
            // A wire shopping / luggage trolley pushed by a person.
            let wr = 0.035 * ph;
            for t in [-0.2, 0.2] {
                ell(c, (x + d * t * ph, foot - wr), wr, wr, 0.0, [25.0; 3]);
            }
            let (bx0, bx1) = (x - d * 0.25 * ph, x + d * 0.25 * ph);
            let (by0, by1) = (foot - 0.55 * ph, foot - 0.2 * ph);
            let grey = [150.0, 152.0, 158.0];
            for k in 0..=6 {
                let xx = bx0 + (bx1 - bx0) * k as f64 / 6.0;
                seg(c, (xx, by0), (xx, by1), 0.008 * ph, grey);
            }
            for k in 0..=4 {
                let yy = by0 + (by1 - by0) * k as f64 / 4.0;
                seg(c, (bx0, yy), (bx1, yy), 0.008 * ph, grey);
            }
            seg(
                c,
                (bx0, by1),
                (x - d * 0.2 * ph, foot - wr),
                0.012 * ph,
                grey,
            );
            seg(
                c,
                (bx1, by1),
                (x + d * 0.2 * ph, foot - wr),
                0.012 * ph,
                grey,
            );
            seg(
                c,
                (bx0, by0),
                (bx0 - d * 0.08 * ph, by0 - 0.08 * ph),
                0.014 * ph,
                [200.0, 40.0, 40.0],
            );
            draw_person(c, m, x - d * 0.48 * ph, foot, ph, swing);
        }
    }
}

/// Box-blur radius whose three passes approximate a Gaussian of `sigma`.
fn blur_radius(sigma: f64) -> usize {
    (((1.0 + 4.0 * sigma * sigma).sqrt() - 1.0) / 2.0)
        .round()
        .max(0.0) as usize
}

/// Lens softness: three separable box blurs of radius `r` (edges clamped).
fn soften(c: &mut Canvas, r: usize) {
    if r == 0 {
        return;
    }
    let (w, h) = (c.w, c.h);
    let mut tmp = vec![0f32; c.px.len()];
    let norm = 1.0 / (2 * r + 1) as f32;
    for _ in 0..3 {
        // Horizontal: px -> tmp.
        for y in 0..h {
            for ch in 0..3 {
                let at = |x: i64| c.px[(y * w + x.clamp(0, w as i64 - 1) as usize) * 3 + ch];
                let mut acc: f32 = (-(r as i64)..=r as i64).map(at).sum();
                for x in 0..w {
                    tmp[(y * w + x) * 3 + ch] = acc * norm;
                    acc += at(x as i64 + r as i64 + 1) - at(x as i64 - r as i64);
                }
            }
        }
        // Vertical: tmp -> px.
        for x in 0..w {
            for ch in 0..3 {
                let at = |y: i64| tmp[(y.clamp(0, h as i64 - 1) as usize * w + x) * 3 + ch];
                let mut acc: f32 = (-(r as i64)..=r as i64).map(at).sum();
                for y in 0..h {
                    c.px[(y * w + x) * 3 + ch] = acc * norm;
                    acc += at(y as i64 + r as i64 + 1) - at(y as i64 - r as i64);
                }
            }
        }
    }
}
