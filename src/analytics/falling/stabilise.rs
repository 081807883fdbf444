//! Camera-motion compensation for facade cameras on poles and walls.
//!
//! Wind sways a pole-mounted camera by a few pixels, often continuously. Without
//! compensation every edge of the facade lights up, the frame counts as a global change and
//! detection stops for as long as the wind blows. The stabiliser estimates the integer
//! translation between the current frame and the background model from a sparse set of
//! textured background points (sum of absolute differences, coarse-to-fine), and hands the
//! background a copy of the frame moved back into the model's coordinates. Tracks are then
//! kept in those (scene-fixed) coordinates, so the calibration stays valid while the camera
//! shakes. It only runs while there are signs of motion, so a steady camera pays nothing.

use super::background::Background;

/// Largest shift searched, px at 1280 px width (scaled with the frame width).
const MAX_SHIFT_720P: i32 = 8;
/// Frames without motion before the stabiliser goes idle again.
const IDLE_AFTER: u32 = 50;

pub struct Stabiliser {
    width: usize,
    height: usize,
    max_shift: i32,
    /// Textured background points (pixel indices), refreshed when motion mode starts.
    samples: Vec<usize>,
    /// Motion mode: estimate every frame while set.
    active: bool,
    still_frames: u32,
    /// Shift of the last frame: frame pixel (x, y) shows model pixel (x + dx, y + dy).
    pub shift: (i32, i32),
    buf: Vec<u8>,
    /// Frames that were moved back (diagnostics).
    pub compensated_frames: u64,
}

impl Stabiliser {
    pub fn new(width: usize, height: usize) -> Self {
        let max_shift = ((MAX_SHIFT_720P as f64 * width as f64 / 1280.0).round() as i32).max(3);
        Stabiliser {
            width,
            height,
            max_shift,
            samples: Vec::new(),
            active: false,
            still_frames: 0,
            shift: (0, 0),
            buf: Vec::new(),
            compensated_frames: 0,
        }
    }

    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Signs of camera motion were seen (edges lit up, a global change): estimate from the
    /// next frame on.
    pub fn wake(&mut self, bg: &Background) {
        if !self.active {
            self.active = true;
            self.still_frames = 0;
            self.pick_samples(bg);
        }
    }

    /// Up to one textured point per 16×16 cell: the pixel with the largest background
    /// gradient, if that gradient is clear of noise.
    fn pick_samples(&mut self, bg: &Background) {
        let (w, h) = (self.width, self.height);
        let m = self.max_shift as usize + 2;
        self.samples.clear();
        if w <= 2 * m + 16 || h <= 2 * m + 16 {
            return;
        }
        let cell = 16;
        let mut y0 = m;
        while y0 + cell <= h - m {
            let mut x0 = m;
            while x0 + cell <= w - m {
                let mut best = (0i32, 0usize);
                for y in (y0..y0 + cell).step_by(2) {
                    for x in (x0..x0 + cell).step_by(2) {
                        let i = y * w + x;
                        let gx = bg.luma_at(i + 1) as i32 - bg.luma_at(i - 1) as i32;
                        let gy = bg.luma_at(i + w) as i32 - bg.luma_at(i - w) as i32;
                        let g = gx.abs() + gy.abs();
                        if g > best.0 {
                            best = (g, i);
                        }
                    }
                }
                if best.0 >= 12 {
                    self.samples.push(best.1);
                }
                x0 += cell;
            }
            y0 += cell;
        }
    }

    /// Sum of absolute differences between background points `(index, luma)` and the frame
    /// shifted by `d` (frame pixel p - d shows model pixel p).
    fn sad(&self, points: &[(isize, i32)], gray: &[u8], d: (i32, i32)) -> u64 {
        let off = d.1 as isize * self.width as isize + d.0 as isize;
        points
            .iter()
            .map(|&(i, b)| (b - gray[(i - off) as usize] as i32).unsigned_abs() as u64)
            .sum()
    }

    /// Estimate this frame's shift: every integer shift within range on a subset of the
    /// points (sharp facade edges leave no smooth basin for a coarse grid to find), then the
    /// best few on all points. A shift counts only when it explains the frame clearly better
    /// than none.
    pub fn estimate(&mut self, gray: &[u8], bg: &Background) -> (i32, i32) {
        if !self.active || self.samples.len() < 24 || gray.len() != self.width * self.height {
            self.shift = (0, 0);
            return self.shift;
        }
        let r = self.max_shift;
        let points: Vec<(isize, i32)> = self
            .samples
            .iter()
            .map(|&i| (i as isize, bg.luma_at(i) as i32))
            .collect();
        let stride = points.len().div_ceil(768);
        let sub: Vec<(isize, i32)> = points.iter().step_by(stride).copied().collect();
        let mut ranked: Vec<((i32, i32), u64)> =
            Vec::with_capacity(((2 * r + 1) * (2 * r + 1)) as usize);
        for dy in -r..=r {
            for dx in -r..=r {
                ranked.push(((dx, dy), self.sad(&sub, gray, (dx, dy))));
            }
        }
        ranked.sort_by_key(|&(_, c)| c);
        let zero = self.sad(&points, gray, (0, 0));
        let mut best = ((0, 0), zero);
        for &(d, _) in ranked.iter().take(4) {
            let c = self.sad(&points, gray, d);
            if c < best.1 {
                best = (d, c);
            }
        }
        let d = if best.0 != (0, 0) && (best.1 as f64) < 0.85 * zero as f64 {
            best.0
        } else {
            (0, 0)
        };
        if d == (0, 0) {
            self.still_frames += 1;
            if self.still_frames > IDLE_AFTER {
                self.active = false;
            }
        } else {
            self.still_frames = 0;
        }
        self.shift = d;
        d
    }

    /// The frame moved into model coordinates (pixels the camera did not see this frame take
    /// the background's value, so they never count as foreground).
    pub fn compensate(&mut self, gray: &[u8], bg: &Background) -> Vec<u8> {
        let (w, h) = (self.width, self.height);
        let (dx, dy) = self.shift;
        let mut out = std::mem::take(&mut self.buf);
        out.resize(w * h, 0);
        for y in 0..h {
            let sy = y as i32 - dy;
            let row = &mut out[y * w..(y + 1) * w];
            if sy < 0 || sy >= h as i32 {
                for (x, v) in row.iter_mut().enumerate() {
                    *v = bg.luma_at(y * w + x);
                }
                continue;
            }
            let src = &gray[sy as usize * w..(sy as usize + 1) * w];
            // Model x shows frame x - dx.
            let (x0, x1) = ((dx.max(0)) as usize, (w as i32 + dx.min(0)) as usize);
            row[x0..x1].copy_from_slice(&src[(x0 as i32 - dx) as usize..(x1 as i32 - dx) as usize]);
            for x in (0..x0).chain(x1..w) {
                row[x] = bg.luma_at(y * w + x);
            }
        }
        self.compensated_frames += 1;
        out
    }

    /// Give a buffer from [`compensate`](Self::compensate) back for the next frame.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        self.buf = buf;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::falling::background::{Background, ForegroundParams};

    fn texture(w: usize, h: usize, ox: i32, oy: i32) -> Vec<u8> {
        let mut v = vec![0u8; w * h];
        for y in 0..h {
            for x in 0..w {
                let (sx, sy) = (x as i32 + ox, y as i32 + oy);
                // Window grid with some irregularity: strong edges in both directions.
                let win = (sx.rem_euclid(37) < 20) && (sy.rem_euclid(29) < 14);
                let n = ((sx * 7919 + sy * 104_729).rem_euclid(23)) as u8;
                v[y * w + x] = if win { 60 + n } else { 170 + n };
            }
        }
        v
    }

    #[test]
    fn finds_the_shift_and_moves_the_frame_back() {
        let (w, h) = (320, 200);
        let mut bg = Background::new(w, h, vec![255; w * h], ForegroundParams::default());
        let mut fg = Vec::new();
        let still = texture(w, h, 0, 0);
        for _ in 0..5 {
            bg.apply(&still, &mut fg);
        }
        let mut st = Stabiliser::new(w, h);
        st.wake(&bg);
        assert!(st.is_active());
        // The camera moved: frame pixel (x, y) now shows scene pixel (x + 3, y - 2).
        let moved = texture(w, h, 3, -2);
        assert_eq!(st.estimate(&moved, &bg), (3, -2));
        let back = st.compensate(&moved, &bg);
        let same = back
            .iter()
            .zip(&still)
            .filter(|(a, b)| a.abs_diff(**b) <= 1)
            .count();
        assert!(same as f64 > 0.97 * (w * h) as f64, "{same} of {}", w * h);
        // A still frame: no shift.
        assert_eq!(st.estimate(&still, &bg), (0, 0));
    }
}
