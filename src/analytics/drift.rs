//! "Does the picture still match its calibration?": the facade's edges in a reference frame
//! (taken when the camera started or was calibrated) against the current frame's. A camera
//! knocked or re-aimed moves every edge; floors from the stale calibration would be wrong.
//! Pure: frames in, a verdict out (the service schedules it and shows it in the camera status).

use serde::{Deserialize, Serialize};

/// Longest side of the edge maps (px): small enough to compare in a few milliseconds.
const MAX_SIDE: u32 = 320;
/// Shift searched either way, in edge-map pixels.
const SEARCH: i32 = 12;

/// Strong edges of one frame, downscaled.
#[derive(Clone, Debug, PartialEq)]
pub struct EdgeMap {
    pub width: u32,
    pub height: u32,
    /// Frame pixels per edge-map pixel.
    pub factor: u32,
    /// 1 where a strong edge is.
    pub bits: Vec<u8>,
}

/// The comparison of a current frame's edges with the reference's.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Drift {
    /// The shift (frame px) that best lines up the current edges with the reference's.
    pub shift_px: [f64; 2],
    /// Share of reference edges found again (within 1 px) without a shift, and at the best
    /// shift.
    pub match_in_place: f64,
    pub match_best: f64,
    /// The picture moved (or changed so much that it cannot be matched): the calibration
    /// looks wrong.
    pub moved: bool,
}

/// The edge map of a `width` × `height` luma frame; `None` for an inconsistent or featureless
/// one.
pub fn edge_map(gray: &[u8], width: u32, height: u32) -> Option<EdgeMap> {
    if width < 16 || height < 16 || gray.len() != (width * height) as usize {
        return None;
    }
    let factor = width.max(height).div_ceil(MAX_SIDE).max(1);
    let (w, h) = (width / factor, height / factor);
    // Box-average downscale.
    let mut small = vec![0f32; (w * h) as usize];
    for y in 0..h {
        for x in 0..w {
            let mut s = 0u32;
            for dy in 0..factor {
                let row = ((y * factor + dy) * width) as usize;
                for dx in 0..factor {
                    s += gray[row + (x * factor + dx) as usize] as u32;
                }
            }
            small[(y * w + x) as usize] = s as f32 / (factor * factor) as f32;
        }
    }
    // Sobel magnitude.
    let mut mag = vec![0f32; (w * h) as usize];
    let at = |x: u32, y: u32| small[(y * w + x) as usize];
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let gx = at(x + 1, y - 1) + 2.0 * at(x + 1, y) + at(x + 1, y + 1)
                - at(x - 1, y - 1)
                - 2.0 * at(x - 1, y)
                - at(x - 1, y + 1);
            let gy = at(x - 1, y + 1) + 2.0 * at(x, y + 1) + at(x + 1, y + 1)
                - at(x - 1, y - 1)
                - 2.0 * at(x, y - 1)
                - at(x + 1, y - 1);
            mag[(y * w + x) as usize] = (gx * gx + gy * gy).sqrt();
        }
    }
    // The strongest 12 % of the picture, and never below a contrast a sensor's noise makes.
    let mut sorted: Vec<f32> = mag.iter().copied().filter(|m| *m > 0.0).collect();
    if sorted.len() < 100 {
        return None;
    }
    sorted.sort_by(|a, b| a.total_cmp(b));
    let thr = sorted[(sorted.len() as f64 * 0.88) as usize].max(40.0);
    let bits: Vec<u8> = mag.iter().map(|&m| u8::from(m >= thr)).collect();
    if bits.iter().filter(|&&b| b == 1).count() < 50 {
        return None;
    }
    Some(EdgeMap {
        width: w,
        height: h,
        factor,
        bits,
    })
}

/// Share of `reference` edges that `current` has within 1 px after shifting by (dx, dy).
fn overlap(reference: &EdgeMap, near: &[u8], dx: i32, dy: i32) -> f64 {
    let (w, h) = (reference.width as i32, reference.height as i32);
    let (mut hit, mut total) = (0u32, 0u32);
    for y in 0..h {
        let cy = y + dy;
        for x in 0..w {
            if reference.bits[(y * w + x) as usize] == 0 {
                continue;
            }
            let cx = x + dx;
            if cx < 0 || cy < 0 || cx >= w || cy >= h {
                continue;
            }
            total += 1;
            hit += u32::from(near[(cy * w + cx) as usize]);
        }
    }
    if total == 0 {
        0.0
    } else {
        hit as f64 / total as f64
    }
}

/// Compare the current frame's edges with the reference's. `None` when the two maps are of
/// different pictures sizes (the camera's resolution changed: start a new reference).
pub fn compare(reference: &EdgeMap, current: &EdgeMap) -> Option<Drift> {
    if (reference.width, reference.height, reference.factor)
        != (current.width, current.height, current.factor)
    {
        return None;
    }
    let (w, h) = (current.width as i32, current.height as i32);
    // Current edges dilated by one pixel: compression and noise move an edge a little.
    let mut near = vec![0u8; current.bits.len()];
    for y in 0..h {
        for x in 0..w {
            if current.bits[(y * w + x) as usize] == 0 {
                continue;
            }
            for ny in (y - 1).max(0)..=(y + 1).min(h - 1) {
                for nx in (x - 1).max(0)..=(x + 1).min(w - 1) {
                    near[(ny * w + nx) as usize] = 1;
                }
            }
        }
    }
    let in_place = overlap(reference, &near, 0, 0);
    let (mut best, mut bd) = (in_place, (0, 0));
    for dy in -SEARCH..=SEARCH {
        for dx in -SEARCH..=SEARCH {
            if (dx, dy) == (0, 0) {
                continue;
            }
            let o = overlap(reference, &near, dx, dy);
            // A shift must explain clearly more than standing still.
            if o > best + 1e-9 {
                best = o;
                bd = (dx, dy);
            }
        }
    }
    let f = current.factor as f64;
    let shift = [bd.0 as f64 * f, bd.1 as f64 * f];
    let moved_by = shift[0].hypot(shift[1]);
    // Moved: the edges line up better somewhere else by more than ~6 frame px, or the picture
    // no longer matches at all (re-aimed beyond the search, zoomed, rotated).
    let moved = (moved_by > 6.0 && best > in_place + 0.15) || in_place < 0.35;
    Some(Drift {
        shift_px: shift,
        match_in_place: (in_place * 1000.0).round() / 1000.0,
        match_best: (best * 1000.0).round() / 1000.0,
        moved,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A facade-like picture: a grid of dark windows on a lighter wall, with mild noise.
    fn facade(w: u32, h: u32, ox: i32, oy: i32, seed: u32) -> Vec<u8> {
        let mut g = vec![0u8; (w * h) as usize];
        let mut s = seed.wrapping_mul(2654435761).max(1);
        for y in 0..h as i32 {
            for x in 0..w as i32 {
                let (u, v) = ((x - ox).rem_euclid(64), (y - oy).rem_euclid(48));
                let win = (12..40).contains(&u) && (10..34).contains(&v);
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                let n = (s % 9) as i32 - 4;
                let base = if win { 60 } else { 170 };
                g[(y as u32 * w + x as u32) as usize] = (base + n).clamp(0, 255) as u8;
            }
        }
        g
    }

    #[test]
    fn a_still_camera_matches_and_a_knocked_one_does_not() {
        let (w, h) = (640, 360);
        let r = edge_map(&facade(w, h, 0, 0, 1), w, h).unwrap();
        // The same view, other noise: in place.
        let same = compare(&r, &edge_map(&facade(w, h, 0, 0, 2), w, h).unwrap()).unwrap();
        assert!(!same.moved, "{same:?}");
        assert!(same.match_in_place > 0.8, "{same:?}");
        // A 1 px wobble is not a move.
        let wob = compare(&r, &edge_map(&facade(w, h, 1, 0, 3), w, h).unwrap()).unwrap();
        assert!(!wob.moved, "{wob:?}");
        // Knocked 14 px right and 10 px down: moved, and by about that much.
        let k = compare(&r, &edge_map(&facade(w, h, 14, 10, 4), w, h).unwrap()).unwrap();
        assert!(k.moved, "{k:?}");
        assert!(
            (k.shift_px[0] - 14.0).abs() <= 2.0 && (k.shift_px[1] - 10.0).abs() <= 2.0,
            "{k:?}"
        );
        // A flat picture has no edges to compare.
        assert!(edge_map(&vec![128u8; (w * h) as usize], w, h).is_none());
    }
}
