//! Elevator-car scenes: a fixed camera high in the car looking at the door, the door opening
//! and closing, people walking in and out, optionally an e-bike wheeled in. Simple 2.5D shapes;
//! enough to exercise the elevator pipeline end to end.

use rand::Rng;

use super::noise::{fbm, gaussian_table, rng, value};
use super::raster::{draw_blurred, Canvas, Pose, Shape};
use super::truth::{ElevatorTruth, EntryTruth};
use super::{check_video, ElevatorSpec, SynthError, SynthFrame};
use crate::config::ElevatorConfig;
use crate::config::{CameraConfig, CameraKind};

/// Someone (or an e-bike) moving between the door (`s = 0`) and a spot in the car (`s > 0`).
struct Mover {
    ebike: bool,
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
}

/// Car geometry in fractions of the image.
const FAR_X0: f64 = 0.27;
const FAR_X1: f64 = 0.73;
const FAR_Y0: f64 = 0.06;
const FAR_Y1: f64 = 0.58;
const DOOR_X0: f64 = 0.36;
const DOOR_X1: f64 = 0.64;
const DOOR_Y0: f64 = 0.13;

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
        let open1 = r.gen_range(0.5..1.5f64).min(dur * 0.2);
        let close1 = (open1 + r.gen_range(5.0..7.0)).min(dur);
        cycles.push([open1, close1]);
        let second = close1 + 2.0 < dur - 3.0;
        if second {
            let open2 = r.gen_range(close1 + 1.5..(dur - 3.0).max(close1 + 1.6));
            cycles.push([open2, (open2 + 4.0).min(dur)]);
        }
        let mut movers = Vec::new();
        let n = spec.people + spec.ebike as usize;
        for k in 0..n {
            let ebike = spec.ebike && k == n - 1;
            let enter_s = open1 + 1.0 + k as f64 * r.gen_range(0.8..1.4);
            let leaves = second && r.gen_bool(0.5);
            let walk_s = r.gen_range(1.3..2.2);
            const SHIRTS: [[f32; 3]; 6] = [
                [40.0, 50.0, 90.0],
                [160.0, 40.0, 40.0],
                [220.0, 220.0, 215.0],
                [30.0, 30.0, 30.0],
                [90.0, 120.0, 70.0],
                [200.0, 170.0, 60.0],
            ];
            movers.push(Mover {
                ebike,
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
                object: if m.ebike {
                    "ebike".into()
                } else {
                    "person".into()
                },
                enter_s: m.enter_s,
                exit_s: m.exit_s.map(|x| x + 0.6),
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
            if m.ebike {
                let wr = 0.075 * hf * sc;
                let len = 0.36 * hf * sc;
                let bx = x + 0.07 * wf * sc;
                for (dx, dy) in [(-0.0, 0.0), (0.0, -len * 0.9)] {
                    // Wheels (seen slightly from the side as the bike is wheeled in).
                    draw_blurred(
                        &mut c,
                        &[Pose {
                            x: bx + dx,
                            y: foot_y - wr + dy * 0.35,
                            angle: 0.0,
                            shape: Shape::Ellipse {
                                a: wr * 0.45,
                                b: wr,
                            },
                        }],
                        [25.0, 25.0, 25.0],
                        1.0,
                        0.0,
                    );
                }
                let frame_pose = Pose {
                    x: bx,
                    y: foot_y - wr - len * 0.2,
                    angle: std::f64::consts::FRAC_PI_2,
                    shape: Shape::Rect {
                        a: len * 0.3,
                        b: wr * 0.3,
                    },
                };
                draw_blurred(&mut c, &[frame_pose], [40.0, 120.0, 170.0], 1.0, 0.2);
                let bar = Pose {
                    x: bx,
                    y: foot_y - wr - len * 0.55,
                    angle: 0.0,
                    shape: Shape::Segment {
                        half_len: wr * 0.7,
                        r: wr * 0.12,
                    },
                };
                draw_blurred(&mut c, &[bar], [30.0, 30.0, 30.0], 1.0, 0.0);
                let battery = Pose {
                    x: bx,
                    y: foot_y - wr - len * 0.1,
                    angle: 0.0,
                    shape: Shape::Rect {
                        a: wr * 0.35,
                        b: wr * 0.5,
                    },
                };
                draw_blurred(&mut c, &[battery], [20.0, 20.0, 24.0], 1.0, 0.1);
            }
            let px = if m.ebike { x - 0.05 * wf * sc } else { x };
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
                draw_blurred(&mut c, &[leg], m.trousers, 1.0, 0.1);
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
            draw_blurred(&mut c, &[body], m.shirt, 1.0, 0.2);
            let head = Pose {
                x: px,
                y: foot_y - ph * 0.88,
                angle: 0.0,
                shape: Shape::Ellipse {
                    a: ph * 0.065,
                    b: ph * 0.08,
                },
            };
            draw_blurred(&mut c, &[head], m.hair, 1.0, 0.1);
        }
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
