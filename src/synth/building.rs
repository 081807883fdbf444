//! Procedural tower facades: wall texture, floor slabs, window / balcony grid, AC units,
//! night lighting. Facades are planes `z = const` in the facade frame.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::noise::{fbm, hash_u32, hashf, smoothstep, value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bay {
    Window,
    Balcony,
    Small,
    Blank,
}

#[derive(Clone, Debug)]
pub struct Style {
    pub wall: [f32; 3],
    pub accent: [f32; 3],
    pub frame: [f32; 3],
    pub rail_solid: bool,
    pub tile_m: f64,
    pub bay_w: f64,
    pub win_w: f64,
    pub win_h: f64,
    pub sill: f64,
    pub pattern: Vec<Bay>,
    pub stain: f32,
    pub light: f32,
    pub lit_frac: f32,
    pub seed: u32,
}

#[derive(Clone, Debug)]
pub struct Facade {
    pub z: f64,
    pub x_min: f64,
    pub x_max: f64,
    pub floors: u32,
    pub fh: f64,
    pub style: Style,
}

/// One glass sample: window id and its unlit / lit colours.
#[derive(Clone, Copy, Debug)]
pub struct Glass {
    pub id: u32,
    pub off: [f32; 3],
    pub on: [f32; 3],
}

fn mul(c: [f32; 3], k: f32) -> [f32; 3] {
    [c[0] * k, c[1] * k, c[2] * k]
}
fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

pub fn random_style(r: &mut ChaCha8Rng, seed: u32, night: bool) -> Style {
    const WALLS: [[f32; 3]; 7] = [
        [196.0, 186.0, 168.0],
        [176.0, 176.0, 172.0],
        [206.0, 196.0, 186.0],
        [160.0, 150.0, 140.0],
        [188.0, 170.0, 160.0],
        [140.0, 142.0, 146.0],
        [214.0, 210.0, 200.0],
    ];
    let wall = WALLS[r.gen_range(0..WALLS.len())];
    let j = r.gen_range(0.85..1.1f32);
    let wall = mul(wall, j);
    let accent = mix(wall, [120.0, 110.0, 105.0], r.gen_range(0.1..0.6));
    let frame = if r.gen_bool(0.6) {
        [225.0, 225.0, 222.0]
    } else {
        [70.0, 72.0, 76.0]
    };
    let mut pattern = Vec::new();
    let plen = r.gen_range(3..=6);
    for _ in 0..plen {
        let u: f64 = r.gen();
        pattern.push(if u < 0.4 {
            Bay::Window
        } else if u < 0.7 {
            Bay::Balcony
        } else if u < 0.85 {
            Bay::Small
        } else {
            Bay::Blank
        });
    }
    if !pattern.contains(&Bay::Window) {
        pattern[0] = Bay::Window;
    }
    Style {
        wall,
        accent,
        frame,
        rail_solid: r.gen_bool(0.5),
        tile_m: if r.gen_bool(0.4) {
            r.gen_range(0.1..0.25)
        } else {
            0.0
        },
        bay_w: r.gen_range(3.2..4.4),
        win_w: r.gen_range(1.3..1.9),
        win_h: r.gen_range(1.4..1.8),
        sill: r.gen_range(0.8..1.0),
        pattern,
        stain: r.gen_range(0.1..0.6),
        light: if night { 1.0 } else { r.gen_range(0.78..1.12) },
        lit_frac: r.gen_range(0.2..0.55),
        seed,
    }
}

impl Facade {
    pub fn top(&self) -> f64 {
        self.floors as f64 * self.fh + 1.2
    }

    /// Bay index and type at `x`.
    pub fn bay(&self, x: f64) -> (i64, Bay) {
        let k = ((x - self.x_min) / self.style.bay_w).floor() as i64;
        let n = self.style.pattern.len() as i64;
        (k, self.style.pattern[k.rem_euclid(n) as usize])
    }

    pub fn bay_center(&self, k: i64) -> f64 {
        self.x_min + (k as f64 + 0.5) * self.style.bay_w
    }

    pub fn window_id(floor0: i64, k: i64) -> u32 {
        ((floor0 as u32) << 16) | ((k + 1000) as u32 & 0xffff)
    }

    /// Glass rectangle `[x0, x1, y0, y1]` (m) of floor `floor0` (0-based), bay `k`.
    pub fn glass_rect(&self, floor0: i64, k: i64) -> Option<[f64; 4]> {
        let s = &self.style;
        let n = s.pattern.len() as i64;
        let c = self.bay_center(k);
        let base = floor0 as f64 * self.fh;
        match s.pattern[k.rem_euclid(n) as usize] {
            Bay::Window => Some([
                c - s.win_w / 2.0,
                c + s.win_w / 2.0,
                base + s.sill,
                base + s.sill + s.win_h,
            ]),
            Bay::Balcony => Some([c - 1.1, c + 1.1, base + 0.22, base + 2.5]),
            Bay::Small => Some([c - 0.35, c + 0.35, base + 1.4, base + 2.2]),
            Bay::Blank => None,
        }
    }

    /// Whether window `id` is lit at night in the static scene.
    pub fn lit(&self, id: u32) -> bool {
        (hash_u32(id ^ self.style.seed.wrapping_mul(0x2545_f491)) >> 8) as f32 / 16_777_216.0
            < self.style.lit_frac
    }

    /// Colour at facade point `(x, y)` (m), plus glass info when the point is on a window pane.
    pub fn sample(&self, x: f64, y: f64, night: bool) -> ([f32; 3], Option<Glass>) {
        let s = &self.style;
        let sd = s.seed;
        let (xf, yf) = (x as f32, y as f32);
        let var = 0.88 + 0.24 * fbm(xf * 0.12, yf * 0.12, sd, 3);
        let streak = smoothstep(0.55, 0.85, fbm(xf * 2.2, yf * 0.18, sd ^ 0x51, 3)) * s.stain;
        let grain = 0.94 + 0.12 * value(xf * 9.0, yf * 9.0, sd ^ 0x77);
        let mut wall = mul(s.wall, var * grain * (1.0 - 0.35 * streak));
        if s.tile_m > 0.0 {
            let fx = (x / s.tile_m).fract();
            let fy = (y / s.tile_m).fract();
            if fx < 0.07 || fy < 0.07 {
                wall = mul(wall, 0.88);
            }
        }
        let top_wall = self.floors as f64 * self.fh;
        let n = (y / self.fh).floor() as i64;
        let ly = y - n as f64 * self.fh;
        let light = |c: [f32; 3]| -> [f32; 3] {
            if night {
                // Street lights from below, fading with height; the sky is dark.
                let street = 0.3 * (-(y as f32) / 14.0).exp();
                [
                    c[0] * (0.05 + street * 1.0),
                    c[1] * (0.05 + street * 0.75),
                    c[2] * (0.06 + street * 0.5),
                ]
            } else {
                mul(c, s.light)
            }
        };
        if y >= top_wall || ly < 0.22 {
            let mut c = mul(s.accent, var * grain);
            if ly < 0.03 && y < top_wall {
                c = mul(c, 0.72);
            }
            return (light(c), None);
        }
        let (k, bay) = self.bay(x);
        let lx = x - self.bay_center(k);
        let id = Self::window_id(n, k);
        let rect = self.glass_rect(n, k);
        let in_glass = |r: [f64; 4]| x >= r[0] && x <= r[1] && y >= r[2] && y <= r[3];
        match (bay, rect) {
            (Bay::Balcony, Some(r)) => {
                let half = s.bay_w / 2.0 - 0.12;
                if lx.abs() <= half && ly <= 1.1 {
                    // Railing in front of the balcony door.
                    if s.rail_solid {
                        let c = mul(s.accent, 0.95 * var);
                        let c = if ly > 1.04 { mul(c, 0.8) } else { c };
                        return (light(c), None);
                    }
                    let bar = ((lx + half) / 0.11).fract() < 0.2 || !(0.3..=1.05).contains(&ly);
                    if bar {
                        return (light(mul([60.0, 62.0, 66.0], var)), None);
                    }
                }
                if lx.abs() <= half && ly > self.fh - 0.3 {
                    // Soffit shadow under the balcony above.
                    return (light(mul(wall, 0.62)), None);
                }
                if in_glass(r) {
                    return self.glass(x, y, r, id, night, light);
                }
                if lx.abs() <= half {
                    return (light(mul(wall, 0.8)), None);
                }
                (light(wall), None)
            }
            (_, Some(r)) => {
                if in_glass(r) {
                    return self.glass(x, y, r, id, night, light);
                }
                // Sill shadow just below the window.
                if x >= r[0] && x <= r[1] && y < r[2] && y > r[2] - 0.08 {
                    return (light(mul(s.accent, 0.8)), None);
                }
                (light(wall), None)
            }
            (_, None) => {
                // Blank bay: an air-conditioner unit.
                let (ax, ay) = (lx - 0.3, ly - 0.5);
                if ax.abs() < 0.42 && (0.0..0.55).contains(&ay) {
                    let grille = ((ax * 14.0).fract().abs() < 0.35) as i32 as f32;
                    let c = mul([206.0, 206.0, 200.0], 1.0 - 0.15 * grille);
                    let c = if ay < 0.04 { mul(c, 0.6) } else { c };
                    return (light(c), None);
                }
                (light(wall), None)
            }
        }
    }

    fn glass(
        &self,
        x: f64,
        y: f64,
        r: [f64; 4],
        id: u32,
        night: bool,
        light: impl Fn([f32; 3]) -> [f32; 3],
    ) -> ([f32; 3], Option<Glass>) {
        let s = &self.style;
        let fw = 0.055;
        let mid = (r[0] + r[1]) / 2.0;
        let is_frame = x - r[0] < fw
            || r[1] - x < fw
            || y - r[2] < fw
            || r[3] - y < fw
            || ((r[1] - r[0]) > 1.0 && (x - mid).abs() < 0.03);
        if is_frame {
            return (light(s.frame), None);
        }
        let h = |salt: u32| hashf(id as i32, salt as i32, s.seed);
        let vy = ((y - r[2]) / (r[3] - r[2])) as f32;
        let vx = ((x - r[0]) / (r[1] - r[0])) as f32;
        // Curtains: some windows have a pale curtain on one side.
        let curtain_w = if h(1) < 0.45 { 0.2 + 0.6 * h(2) } else { 0.0 };
        let curtain = if h(3) < 0.5 {
            vx < curtain_w
        } else {
            vx > 1.0 - curtain_w
        };
        let base = 25.0 + 60.0 * h(4);
        let refl = 0.6 + 0.6 * vy * h(5) + 0.15 * value(x as f32 * 3.0, y as f32 * 3.0, s.seed ^ 9);
        let mut off = [base * 0.85 * refl, base * 0.92 * refl, base * 1.05 * refl];
        if curtain {
            let cc = 110.0 + 80.0 * h(6);
            off = [cc, cc * 0.95, cc * 0.85];
        }
        let warm = 0.6 + 0.4 * h(7);
        let mut on = [255.0 * warm, 205.0 * warm, 140.0 * warm];
        if curtain {
            on = mul(on, 0.85);
        }
        let off = if night {
            mul(off, 0.08)
        } else {
            mul(off, s.light)
        };
        let on = if night {
            on
        } else {
            // A lit room barely shows in daylight.
            mix(off, on, 0.18)
        };
        let cur = if night && self.lit(id) { on } else { off };
        (cur, Some(Glass { id, off, on }))
    }
}
