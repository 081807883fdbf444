//! Falling-object physics: gravity plus quadratic drag relative to the (gusty) air, with
//! flutter for light sheets and bags. Integrated once per drop at 1 kHz; frames interpolate.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::camera::V3;

pub const G: f64 = 9.81;
/// Integration step.
pub const DT: f64 = 0.001;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    Bottle,
    Brick,
    Stone,
    Can,
    Fruit,
    CigaretteBox,
    Paper,
    Bag,
}

impl ObjectKind {
    pub fn name(self) -> &'static str {
        match self {
            ObjectKind::Bottle => "bottle",
            ObjectKind::Brick => "brick",
            ObjectKind::Stone => "stone",
            ObjectKind::Can => "can",
            ObjectKind::Fruit => "fruit",
            ObjectKind::CigaretteBox => "cigarette_box",
            ObjectKind::Paper => "paper",
            ObjectKind::Bag => "bag",
        }
    }

    /// Plausible largest dimension range (m).
    pub fn size_range(self) -> (f64, f64) {
        match self {
            ObjectKind::Bottle => (0.18, 0.33),
            ObjectKind::Brick => (0.10, 0.24),
            ObjectKind::Stone => (0.03, 0.10),
            ObjectKind::Can => (0.10, 0.13),
            ObjectKind::Fruit => (0.06, 0.12),
            ObjectKind::CigaretteBox => (0.08, 0.10),
            ObjectKind::Paper => (0.15, 0.40),
            ObjectKind::Bag => (0.20, 0.40),
        }
    }

    /// Terminal velocity range (m/s).
    pub fn vt_range(self) -> (f64, f64) {
        match self {
            ObjectKind::Bottle | ObjectKind::Brick => (30.0, 40.0),
            ObjectKind::Stone => (25.0, 35.0),
            ObjectKind::Can | ObjectKind::Fruit => (20.0, 30.0),
            ObjectKind::CigaretteBox => (10.0, 15.0),
            ObjectKind::Paper | ObjectKind::Bag => (3.0, 6.0),
        }
    }

    /// Light objects flutter and drift with the wind.
    pub fn flutters(self) -> bool {
        matches!(self, ObjectKind::Paper | ObjectKind::Bag)
    }

    /// Pick a kind whose size range holds `size_m` (or the nearest one).
    pub fn for_size(size_m: f64, r: &mut ChaCha8Rng) -> ObjectKind {
        const ALL: [ObjectKind; 8] = [
            ObjectKind::Bottle,
            ObjectKind::Brick,
            ObjectKind::Stone,
            ObjectKind::Can,
            ObjectKind::Fruit,
            ObjectKind::CigaretteBox,
            ObjectKind::Paper,
            ObjectKind::Bag,
        ];
        let fits: Vec<ObjectKind> = ALL
            .iter()
            .copied()
            .filter(|k| {
                let (a, b) = k.size_range();
                size_m >= a && size_m <= b
            })
            .collect();
        if !fits.is_empty() {
            return fits[r.gen_range(0..fits.len())];
        }
        if size_m < 0.05 {
            ObjectKind::Stone
        } else {
            ObjectKind::Bag
        }
    }
}

/// One simulated fall.
#[derive(Clone, Debug)]
pub struct Fall {
    pub release_s: f64,
    /// Positions `[x, h, z]` every `DT` from release until the ground.
    pub path: Vec<V3>,
    pub lands_s: f64,
}

impl Fall {
    /// Position at clip time `t`; None before release or after landing.
    pub fn pos(&self, t: f64) -> Option<V3> {
        let s = (t - self.release_s) / DT;
        if s < 0.0 || self.path.is_empty() {
            return None;
        }
        let i = s.floor() as usize;
        if i + 1 >= self.path.len() {
            return None;
        }
        let f = s - i as f64;
        let (a, b) = (self.path[i], self.path[i + 1]);
        Some([
            a[0] + (b[0] - a[0]) * f,
            a[1] + (b[1] - a[1]) * f,
            a[2] + (b[2] - a[2]) * f,
        ])
    }
}

/// Flutter of light objects: a sideways force oscillating at `freq_hz` with `amp` m/s².
#[derive(Clone, Copy, Debug, Default)]
pub struct Flutter {
    pub amp: f64,
    pub freq_hz: f64,
    pub phase: f64,
}

/// Integrate from `p0` with velocity `v0` until the ground (or `max_s`).
pub fn simulate(
    release_s: f64,
    p0: V3,
    v0: V3,
    vt: f64,
    wind: V3,
    flutter: Flutter,
    max_s: f64,
) -> Fall {
    let k = G / (vt * vt);
    let mut p = p0;
    let mut v = v0;
    let n = (max_s / DT) as usize;
    let mut path = Vec::with_capacity(n.min(40_000));
    path.push(p);
    let mut t = 0.0;
    for _ in 0..n {
        // Gusts: the wind felt by light objects wanders slowly.
        let rel = [v[0] - wind[0], v[1] - wind[1], v[2] - wind[2]];
        let sp = (rel[0] * rel[0] + rel[1] * rel[1] + rel[2] * rel[2]).sqrt();
        let mut a = [-k * sp * rel[0], -G - k * sp * rel[1], -k * sp * rel[2]];
        if flutter.amp > 0.0 {
            let w = std::f64::consts::TAU * flutter.freq_hz * t + flutter.phase;
            a[0] += flutter.amp * w.sin();
            a[2] += 0.5 * flutter.amp * (0.7 * w).cos();
            // Sheets side-slip: vertical speed pulses as the sheet swings.
            a[1] += 0.4 * flutter.amp * (2.0 * w).sin();
        }
        for i in 0..3 {
            v[i] += a[i] * DT;
            p[i] += v[i] * DT;
        }
        // Objects cannot pass through the facade.
        if p[2] < 0.05 {
            p[2] = 0.05;
            v[2] = v[2].abs() * 0.3;
        }
        t += DT;
        if p[1] <= 0.0 {
            let prev = path.last().copied().unwrap_or(p);
            let f = if (prev[1] - p[1]).abs() > 1e-12 {
                prev[1] / (prev[1] - p[1])
            } else {
                1.0
            };
            path.push([
                prev[0] + (p[0] - prev[0]) * f,
                0.0,
                prev[2] + (p[2] - prev[2]) * f,
            ]);
            break;
        }
        path.push(p);
    }
    let lands_s = release_s + (path.len().saturating_sub(1)) as f64 * DT;
    Fall {
        release_s,
        path,
        lands_s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_object_falls_like_free_fall_then_saturates() {
        let f = simulate(
            0.0,
            [0.0, 80.0, 1.0],
            [0.0; 3],
            35.0,
            [0.0; 3],
            Flutter::default(),
            20.0,
        );
        let h = f.pos(0.5).unwrap()[1];
        let drop = 80.0 - h;
        assert!(
            (drop - 0.5 * G * 0.25).abs() / (0.5 * G * 0.25) < 0.02,
            "drop {drop}"
        );
        let light = simulate(
            0.0,
            [0.0, 80.0, 1.0],
            [0.0; 3],
            4.0,
            [0.0; 3],
            Flutter::default(),
            40.0,
        );
        // A sheet at 4 m/s terminal speed needs about 20 s for 80 m.
        assert!(
            light.lands_s > 18.0 && light.lands_s < 22.0,
            "{}",
            light.lands_s
        );
        assert!(f.lands_s < 5.0);
    }
}
