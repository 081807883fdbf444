//! Stateless hashing noise (value noise, fBm) and the seeded RNG streams.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A ChaCha stream of the clip seed; each subsystem (and each frame) uses its own stream so
/// adding one random draw somewhere does not reshuffle everything else.
pub fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

#[inline]
pub fn hash_u32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

#[inline]
pub fn hash2(x: i32, y: i32, s: u32) -> u32 {
    hash_u32(
        (x as u32).wrapping_mul(0x9e37_79b1) ^ hash_u32((y as u32) ^ s.wrapping_mul(0x85eb_ca6b)),
    )
}

/// Uniform in [0, 1) from a lattice point.
#[inline]
pub fn hashf(x: i32, y: i32, s: u32) -> f32 {
    (hash2(x, y, s) >> 8) as f32 / 16_777_216.0
}

/// Smooth value noise in [0, 1].
#[inline]
pub fn value(x: f32, y: f32, s: u32) -> f32 {
    let xf = x.floor();
    let yf = y.floor();
    let (ix, iy) = (xf as i32, yf as i32);
    let (fx, fy) = (x - xf, y - yf);
    let ux = fx * fx * (3.0 - 2.0 * fx);
    let uy = fy * fy * (3.0 - 2.0 * fy);
    let a = hashf(ix, iy, s);
    let b = hashf(ix + 1, iy, s);
    let c = hashf(ix, iy + 1, s);
    let d = hashf(ix + 1, iy + 1, s);
    let top = a + (b - a) * ux;
    let bot = c + (d - c) * ux;
    top + (bot - top) * uy
}

/// Fractal sum of `oct` octaves, normalised to [0, 1].
pub fn fbm(x: f32, y: f32, s: u32, oct: u32) -> f32 {
    let mut sum = 0.0;
    let mut amp = 1.0;
    let mut norm = 0.0;
    let (mut x, mut y) = (x, y);
    for o in 0..oct {
        sum += amp * value(x, y, s.wrapping_add(o.wrapping_mul(7919)));
        norm += amp;
        amp *= 0.5;
        x *= 2.03;
        y *= 2.03;
    }
    sum / norm
}

/// Standard normal table, filled once per clip; per-frame sensor noise reads it at random
/// offsets (drawing ~1M normals per frame would dominate render time).
pub fn gaussian_table(seed: u64, n: usize) -> Vec<f32> {
    use rand::Rng;
    let mut r = rng(seed, 0xF00D);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let u1: f64 = r.gen_range(1e-12..1.0);
        let u2: f64 = r.gen();
        let m = (-2.0 * u1.ln()).sqrt();
        let a = std::f64::consts::TAU * u2;
        out.push((m * a.cos()) as f32);
        out.push((m * a.sin()) as f32);
    }
    out.truncate(n);
    out
}

pub fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}
