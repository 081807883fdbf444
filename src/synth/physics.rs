//! Falling-object physics: gravity plus quadratic drag relative to the (gusty) air, with
//! flutter for light sheets and bags. Integrated once per drop at 1 kHz; frames interpolate.
//!
//! Each object kind has a physical size, mass, mean tumbling cross-section and drag
//! coefficient; the terminal velocity follows from them, `vt = sqrt(2 m g / (ρ Cd A))`, so the
//! planner picks the kind first and the apparent size afterwards from where it is released and
//! how the camera is zoomed (size and kind are independent).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::camera::V3;

pub const G: f64 = 9.81;
/// Air density (kg/m³).
pub const RHO_AIR: f64 = 1.2;
/// Integration step.
pub const DT: f64 = 0.001;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Bottle,
    Can,
    Phone,
    Fruit,
    Shoe,
    CigaretteButt,
    Brick,
    Flowerpot,
    Bag,
    Paper,
    Cardboard,
    Clothing,
}

/// Physical make-up of a kind: ranges drawn uniformly per object.
#[derive(Clone, Copy, Debug)]
pub struct Build {
    /// Largest dimension (m).
    pub size_m: (f64, f64),
    /// Mass (kg).
    pub mass_kg: (f64, f64),
    /// Mean tumbling cross-section as a fraction of `size²`.
    pub area_frac: f64,
    /// Drag coefficient.
    pub cd: (f64, f64),
    /// Shape aspect (small / large dimension) as drawn.
    pub aspect: (f64, f64),
}

/// Dense objects fall fast (≳ 12 m/s terminal); light ones are drag-limited and flutter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectClass {
    Dense,
    Light,
}

impl ObjectClass {
    pub fn name(self) -> &'static str {
        match self {
            ObjectClass::Dense => "dense",
            ObjectClass::Light => "light",
        }
    }
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 12] = [
        ObjectKind::Bottle,
        ObjectKind::Can,
        ObjectKind::Phone,
        ObjectKind::Fruit,
        ObjectKind::Shoe,
        ObjectKind::CigaretteButt,
        ObjectKind::Brick,
        ObjectKind::Flowerpot,
        ObjectKind::Bag,
        ObjectKind::Paper,
        ObjectKind::Cardboard,
        ObjectKind::Clothing,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ObjectKind::Bottle => "bottle",
            ObjectKind::Can => "can",
            ObjectKind::Phone => "phone",
            ObjectKind::Fruit => "fruit",
            ObjectKind::Shoe => "shoe",
            ObjectKind::CigaretteButt => "cigarette_butt",
            ObjectKind::Brick => "brick",
            ObjectKind::Flowerpot => "flowerpot",
            ObjectKind::Bag => "bag",
            ObjectKind::Paper => "paper",
            ObjectKind::Cardboard => "cardboard",
            ObjectKind::Clothing => "clothing",
        }
    }

    pub fn parse(s: &str) -> Option<ObjectKind> {
        ObjectKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == s.trim().to_ascii_lowercase())
    }

    /// Filled bottles, cans, phones, fruit, shoes, bricks and flowerpots are dense; bags, paper,
    /// cardboard and clothing are light. A cigarette butt weighs under a gram: physically it
    /// falls at 4-7 m/s, so it is classed light although it is not a sheet.
    pub fn class(self) -> ObjectClass {
        match self {
            ObjectKind::Bottle
            | ObjectKind::Can
            | ObjectKind::Phone
            | ObjectKind::Fruit
            | ObjectKind::Shoe
            | ObjectKind::Brick
            | ObjectKind::Flowerpot => ObjectClass::Dense,
            ObjectKind::CigaretteButt
            | ObjectKind::Bag
            | ObjectKind::Paper
            | ObjectKind::Cardboard
            | ObjectKind::Clothing => ObjectClass::Light,
        }
    }

    pub fn build(self) -> Build {
        let b = |size_m, mass_kg, area_frac, cd, aspect| Build {
            size_m,
            mass_kg,
            area_frac,
            cd,
            aspect,
        };
        match self {
            // Filled PET or glass bottle, tumbling end over end.
            ObjectKind::Bottle => b((0.18, 0.32), (0.35, 1.2), 0.24, (0.8, 1.0), (0.28, 0.38)),
            // Full drink can.
            ObjectKind::Can => b((0.10, 0.17), (0.2, 0.4), 0.45, (0.8, 1.0), (0.5, 0.6)),
            // Phone: a tumbling plate.
            ObjectKind::Phone => b((0.12, 0.17), (0.13, 0.24), 0.3, (1.0, 1.2), (0.45, 0.55)),
            // Apple / orange / pear (mass below is rescaled with size: ~850 kg/m³).
            ObjectKind::Fruit => b((0.06, 0.12), (0.1, 0.3), 0.785, (0.45, 0.55), (0.8, 1.0)),
            ObjectKind::Shoe => b((0.22, 0.30), (0.25, 0.6), 0.3, (0.9, 1.1), (0.35, 0.45)),
            ObjectKind::CigaretteButt => b(
                (0.025, 0.04),
                (0.0003, 0.0008),
                0.25,
                (1.0, 1.2),
                (0.22, 0.3),
            ),
            ObjectKind::Brick => b((0.19, 0.24), (1.8, 3.0), 0.35, (0.9, 1.1), (0.4, 0.55)),
            // Flowerpot with soil.
            ObjectKind::Flowerpot => b((0.12, 0.30), (0.8, 4.0), 0.7, (0.8, 1.0), (0.75, 0.95)),
            // Plastic bag with a little inside.
            ObjectKind::Bag => b((0.25, 0.5), (0.008, 0.06), 0.4, (1.1, 1.3), (0.6, 0.9)),
            // Sheets, folded or crumpled paper.
            ObjectKind::Paper => b((0.2, 0.45), (0.01, 0.05), 0.45, (1.1, 1.3), (0.6, 0.9)),
            ObjectKind::Cardboard => b((0.25, 0.5), (0.08, 0.4), 0.5, (1.0, 1.2), (0.6, 0.85)),
            ObjectKind::Clothing => b((0.25, 0.7), (0.05, 0.3), 0.3, (1.0, 1.2), (0.5, 0.9)),
        }
    }

    /// Draw size (m), mass (kg), drag coefficient; `size_m` forces the size.
    pub fn sample(self, r: &mut ChaCha8Rng, size_m: Option<f64>) -> (f64, f64, f64) {
        let b = self.build();
        let s = size_m.unwrap_or_else(|| r.gen_range(b.size_m.0..=b.size_m.1));
        let mut m = r.gen_range(b.mass_kg.0..=b.mass_kg.1);
        match self {
            // Solid sphere of ~850 kg/m³.
            ObjectKind::Fruit => {
                m = 850.0 * std::f64::consts::PI / 6.0 * s.powi(3) * r.gen_range(0.9..1.1)
            }
            // Pot about as wide as tall, partly filled with wet soil.
            ObjectKind::Flowerpot => m = 480.0 * s.powi(3) * r.gen_range(0.6..1.0),
            _ if size_m.is_some() => {
                // Keep the density plausible when the size is forced.
                let mid = (b.size_m.0 + b.size_m.1) / 2.0;
                let e = if self.class() == ObjectClass::Dense {
                    3.0
                } else {
                    2.0
                };
                m *= (s / mid).powf(e).clamp(0.2, 5.0);
            }
            _ => {}
        }
        let cd = r.gen_range(b.cd.0..=b.cd.1);
        (s, m, cd)
    }

    /// Terminal velocity (m/s) of an object of this kind.
    pub fn terminal_velocity(self, size_m: f64, mass_kg: f64, cd: f64) -> f64 {
        let area = self.build().area_frac * size_m * size_m;
        (2.0 * mass_kg * G / (RHO_AIR * cd * area)).sqrt()
    }

    /// Light objects flutter and drift with the wind (amplitude scale 0..1).
    pub fn flutter_strength(self) -> f64 {
        match self {
            ObjectKind::Paper | ObjectKind::Cardboard => 1.0,
            ObjectKind::Bag | ObjectKind::Clothing => 0.6,
            ObjectKind::CigaretteButt => 0.15,
            _ => 0.0,
        }
    }

    pub fn flutters(self) -> bool {
        self.flutter_strength() > 0.0
    }

    /// Glint strength while tumbling (bottles, cans and phones catch the light).
    pub fn glint(self) -> f64 {
        match self {
            ObjectKind::Bottle | ObjectKind::Can | ObjectKind::Phone => 0.45,
            ObjectKind::Bag => 0.3,
            ObjectKind::Paper | ObjectKind::Cardboard => 0.25,
            _ => 0.12,
        }
    }

    /// Relative draw frequency when nothing is forced.
    pub fn weight(self) -> f64 {
        match self {
            ObjectKind::CigaretteButt => 0.5,
            _ => 1.0,
        }
    }

    /// A kind for a forced terminal velocity (plans that fix `terminal_velocity_mps`).
    pub fn for_terminal_velocity(v: f64) -> ObjectKind {
        if v < 8.0 {
            ObjectKind::Paper
        } else if v < 18.0 {
            ObjectKind::Shoe
        } else if v < 35.0 {
            ObjectKind::Bottle
        } else {
            ObjectKind::Brick
        }
    }

    /// Weighted random kind among `allowed` (all when empty).
    pub fn pick(r: &mut ChaCha8Rng, allowed: &[ObjectKind]) -> ObjectKind {
        let set: &[ObjectKind] = if allowed.is_empty() {
            &ObjectKind::ALL
        } else {
            allowed
        };
        let total: f64 = set.iter().map(|k| k.weight()).sum();
        let mut u = r.gen_range(0.0..total);
        for k in set {
            if u < k.weight() {
                return *k;
            }
            u -= k.weight();
        }
        set[set.len() - 1]
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

    #[test]
    fn terminal_velocities_follow_from_mass_and_drag() {
        use rand::SeedableRng;
        let mut r = ChaCha8Rng::seed_from_u64(5);
        for k in ObjectKind::ALL {
            let mut vs = Vec::new();
            for _ in 0..400 {
                let (s, m, cd) = k.sample(&mut r, None);
                vs.push(k.terminal_velocity(s, m, cd));
            }
            vs.sort_by(f64::total_cmp);
            let med = vs[vs.len() / 2];
            match k {
                ObjectKind::Bag | ObjectKind::Paper => {
                    assert!((1.5..=6.0).contains(&med), "{} median vt {med}", k.name())
                }
                ObjectKind::CigaretteButt | ObjectKind::Cardboard | ObjectKind::Clothing => {
                    assert!((3.0..=12.0).contains(&med), "{} median vt {med}", k.name())
                }
                _ => {
                    assert_eq!(k.class(), ObjectClass::Dense);
                    assert!((15.0..=60.0).contains(&med), "{} median vt {med}", k.name())
                }
            }
        }
    }
}
