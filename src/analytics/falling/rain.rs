//! Rain as a scene state.
//!
//! Rain streaks are short, thin, near-parallel, seen on one or two frames and spread over the
//! whole picture (the drops that show are near the lens, not on the facade). Per frame we
//! measure the shape of every foreground blob (second moments: length, width, orientation),
//! and keep running estimates of how many streaks a frame holds (per megapixel), their common
//! direction and their typical length and width. While it rains, a blob shaped like the
//! current streaks is rain: it starts no track, does not feed the busy-cell map (rain would
//! mark every cell busy and hide a falling object everywhere) and only an established track
//! that predicted it closely may take it (a falling object smeared by a long night shutter
//! looks like a streak too). The analytic is never switched off.

use super::blobs::Blob;

/// Shape of a blob from the second moments of its foreground pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shape {
    /// Length and width (px) of the uniform bar with the same second moments.
    pub len: f64,
    pub width: f64,
    /// Direction of the long axis from the image vertical (rad, −π/2..π/2; positive leans
    /// right going down).
    pub angle: f64,
}

impl Shape {
    pub fn elongation(&self) -> f64 {
        self.len / self.width.max(1.0)
    }
}

/// The shape of `b` from the pixels of `fg` (non-zero = foreground) inside its box. Pixels of
/// another blob inside the box count too; rain blobs are thin, so that rarely matters.
pub fn blob_shape(fg: &[u8], width: usize, b: &Blob) -> Shape {
    let (mut n, mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0.0f64, 0.0, 0.0, 0.0, 0.0, 0.0);
    for y in b.y0..=b.y1 {
        let row = y as usize * width;
        for x in b.x0..=b.x1 {
            if fg.get(row + x as usize).is_some_and(|&v| v != 0) {
                let (xf, yf) = (x as f64, y as f64);
                n += 1.0;
                sx += xf;
                sy += yf;
                sxx += xf * xf;
                syy += yf * yf;
                sxy += xf * yf;
            }
        }
    }
    if n < 1.0 {
        return Shape {
            len: 1.0,
            width: 1.0,
            angle: 0.0,
        };
    }
    let (mx, my) = (sx / n, sy / n);
    // Pixels are unit squares: add their own 1/12 variance.
    let cxx = sxx / n - mx * mx + 1.0 / 12.0;
    let cyy = syy / n - my * my + 1.0 / 12.0;
    let cxy = sxy / n - mx * my;
    let mean = 0.5 * (cxx + cyy);
    let d = (0.25 * (cxx - cyy).powi(2) + cxy * cxy).sqrt();
    let (l1, l2) = (mean + d, (mean - d).max(1.0 / 12.0));
    // Long-axis direction from the x axis, then from the vertical.
    let theta = 0.5 * (2.0 * cxy).atan2(cxx - cyy);
    let mut angle = theta - std::f64::consts::FRAC_PI_2;
    if angle <= -std::f64::consts::FRAC_PI_2 {
        angle += std::f64::consts::PI;
    }
    if angle > std::f64::consts::FRAC_PI_2 {
        angle -= std::f64::consts::PI;
    }
    Shape {
        len: (12.0 * l1).sqrt(),
        width: (12.0 * l2).sqrt(),
        angle,
    }
}

/// Tunables of the rain state.
#[derive(Clone, Debug)]
pub struct RainParams {
    /// A blob is a streak candidate when at least this elongated...
    pub min_elongation: f64,
    /// ...this long (px)...
    pub min_len: f64,
    /// ...and within this angle of the vertical (rad; wind-driven rain leans far).
    pub max_tilt: f64,
    /// Streaks per megapixel per frame (smoothed) that start / end the rain state.
    pub on_density: f64,
    pub off_density: f64,
    /// Alignment (mean resultant length of the doubled angles, 0-1) rain needs.
    pub min_alignment: f64,
    /// Smoothing per frame.
    pub alpha: f64,
    /// While raining, a streak within this angle (rad) of the rain direction...
    pub angle_tol: f64,
    /// ...no wider than this many times the typical streak width (or 2.5 px)...
    pub width_factor: f64,
    /// ...is rain.
    pub rain_elongation: f64,
}

impl Default for RainParams {
    fn default() -> Self {
        RainParams {
            min_elongation: 2.5,
            min_len: 4.0,
            max_tilt: 1.0,
            on_density: 12.0,
            off_density: 6.0,
            min_alignment: 0.6,
            alpha: 0.15,
            angle_tol: 0.35,
            width_factor: 1.6,
            rain_elongation: 2.0,
        }
    }
}

/// Running estimate of rain in the picture.
#[derive(Clone, Debug, Default)]
pub struct RainState {
    pub params: RainParams,
    /// Streak candidates per megapixel per frame (smoothed).
    pub density: f64,
    /// Smoothed doubled-angle vector of the streaks (direction and alignment).
    c2: f64,
    s2: f64,
    /// Typical streak length and width (px, smoothed).
    pub len: f64,
    pub width: f64,
    pub raining: bool,
    frames: u64,
    /// Coarse grid (cells of [`CELL`] px) of the frame on which a streak candidate last sat
    /// there (+1; 0 = never): rain never repeats a streak in place, flickering window edges
    /// and railings do.
    seen: Vec<u32>,
}

/// Cell size (px) of the persistence grid.
const CELL: usize = 8;

/// A candidate within this many frames in the same cell is persistent. Same cell only and a
/// short memory, so that dense rain (a streak in a fair share of the cells every frame) is
/// not taken for persistent edges.
const PERSIST_FRAMES: u32 = 4;

impl RainState {
    pub fn new(params: RainParams) -> RainState {
        RainState {
            params,
            ..RainState::default()
        }
    }

    /// Common streak direction from the vertical (rad).
    pub fn angle(&self) -> f64 {
        0.5 * self.s2.atan2(self.c2)
    }

    /// How well the streaks line up (0: any direction, 1: all parallel).
    pub fn alignment(&self) -> f64 {
        self.c2.hypot(self.s2)
    }

    fn is_candidate(&self, s: &Shape) -> bool {
        s.elongation() >= self.params.min_elongation
            && s.len >= self.params.min_len
            && s.angle.abs() <= self.params.max_tilt
    }

    /// Take this frame's blobs and their shapes (`width` × `height`: the picture). Only
    /// candidates that did not sit in the same place a few frames ago count as rain.
    pub fn update_at(&mut self, blobs: &[Blob], shapes: &[Shape], width: usize, height: usize) {
        let cols = width.div_ceil(CELL).max(1);
        let rows = height.div_ceil(CELL).max(1);
        if self.seen.len() != cols * rows {
            self.seen = vec![0; cols * rows];
        }
        let now = self.frames as u32 + 1;
        let mut fresh = Vec::with_capacity(shapes.len());
        for (b, s) in blobs.iter().zip(shapes) {
            if !self.is_candidate(s) {
                continue;
            }
            let cx = (b.x.max(0.0) as usize / CELL).min(cols - 1);
            let cy = (b.y.max(0.0) as usize / CELL).min(rows - 1);
            let f = self.seen[cy * cols + cx];
            let persistent = f > 0 && now - f <= PERSIST_FRAMES;
            self.seen[cy * cols + cx] = now;
            if !persistent {
                fresh.push(*s);
            }
        }
        self.update(&fresh, width * height);
    }

    /// Take this frame's (fresh) blob shapes (`pixels`: the picture's size in pixels).
    pub fn update(&mut self, shapes: &[Shape], pixels: usize) {
        let mpx = (pixels as f64 / 1e6).max(1e-3);
        let (mut n, mut c2, mut s2) = (0usize, 0.0, 0.0);
        let mut lens = Vec::new();
        let mut widths = Vec::new();
        for s in shapes.iter().filter(|s| self.is_candidate(s)) {
            n += 1;
            c2 += (2.0 * s.angle).cos();
            s2 += (2.0 * s.angle).sin();
            lens.push(s.len);
            widths.push(s.width);
        }
        let a = if self.frames == 0 {
            1.0
        } else {
            self.params.alpha
        };
        self.frames += 1;
        self.density += a * (n as f64 / mpx - self.density);
        if n >= 3 {
            let k = n as f64;
            self.c2 += a * (c2 / k - self.c2);
            self.s2 += a * (s2 / k - self.s2);
            let med = |v: &mut Vec<f64>| {
                v.sort_by(|a, b| a.total_cmp(b));
                v[v.len() / 2]
            };
            let (l, w) = (med(&mut lens), med(&mut widths));
            if self.len == 0.0 {
                self.len = l;
                self.width = w;
            } else {
                self.len += a * (l - self.len);
                self.width += a * (w - self.width);
            }
        } else {
            // No streaks this frame: the direction estimate fades.
            self.c2 *= 1.0 - a;
            self.s2 *= 1.0 - a;
        }
        let aligned = self.alignment() >= self.params.min_alignment;
        self.raining = if self.raining {
            self.density >= self.params.off_density && aligned
        } else {
            self.density >= self.params.on_density && aligned
        };
    }

    /// While it rains: is a blob of this shape a rain streak?
    pub fn is_rain(&self, s: &Shape) -> bool {
        if !self.raining {
            return false;
        }
        let mut d = (s.angle - self.angle()).abs();
        if d > std::f64::consts::FRAC_PI_2 {
            d = std::f64::consts::PI - d;
        }
        s.elongation() >= self.params.rain_elongation
            && d <= self.params.angle_tol
            && s.width <= (self.params.width_factor * self.width).max(2.5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask_with_segment(w: usize, h: usize, x0: f64, y0: f64, len: f64, tilt: f64) -> Vec<u8> {
        let mut fg = vec![0u8; w * h];
        let steps = (len * 4.0) as usize;
        for k in 0..=steps {
            let u = k as f64 / steps as f64 * len;
            let x = (x0 + u * tilt.sin()).round() as usize;
            let y = (y0 + u * tilt.cos()).round() as usize;
            if x < w && y < h {
                fg[y * w + x] = 255;
            }
        }
        fg
    }

    #[test]
    fn a_slanted_thin_streak_measures_long_thin_and_slanted() {
        let (w, h) = (64, 64);
        let fg = mask_with_segment(w, h, 20.0, 10.0, 20.0, 0.3);
        let lab = super::super::blobs::Labeller::default().label(&fg, w, h, 1, 1000, 1000);
        let b = lab.expect("labelled").into_iter().next().expect("one blob");
        let s = blob_shape(&fg, w, &b);
        assert!((s.len - 20.0).abs() < 4.0, "{s:?}");
        assert!(s.width < 2.0, "{s:?}");
        assert!(
            (s.angle + 0.3).abs() < 0.12 || (s.angle - 0.3).abs() < 0.12,
            "{s:?}"
        );
    }

    #[test]
    fn many_parallel_streaks_are_rain_and_a_compact_blob_is_not() {
        let mut st = RainState::new(RainParams::default());
        let streak = Shape {
            len: 12.0,
            width: 1.3,
            angle: 0.2,
        };
        for _ in 0..10 {
            st.update(&vec![streak; 40], 1280 * 720);
        }
        assert!(st.raining);
        assert!((st.angle() - 0.2).abs() < 0.02);
        assert!(st.is_rain(&streak));
        let object = Shape {
            len: 7.0,
            width: 6.0,
            angle: 0.0,
        };
        assert!(!st.is_rain(&object));
        // Crossing the rain direction: not rain.
        let across = Shape {
            len: 12.0,
            width: 1.3,
            angle: -0.6,
        };
        assert!(!st.is_rain(&across));
        // Randomly oriented streaks (foliage, noise) do not make rain.
        let mut dry = RainState::new(RainParams::default());
        for f in 0..10 {
            let v: Vec<Shape> = (0..40)
                .map(|k| Shape {
                    len: 10.0,
                    width: 2.0,
                    angle: ((k * 37 + f * 11) % 180) as f64 / 180.0 * 2.0 - 1.0,
                })
                .collect();
            dry.update(&v, 1280 * 720);
        }
        assert!(!dry.raining, "alignment {}", dry.alignment());
    }

    /// Window edges that flicker in place every other frame (codec pulses, vibration) are
    /// streak-shaped and parallel, but they do not move: not rain.
    #[test]
    fn streaks_that_stay_in_place_are_not_rain() {
        let streak = Shape {
            len: 12.0,
            width: 1.3,
            angle: 0.0,
        };
        let blobs: Vec<Blob> = (0..60)
            .map(|k| {
                let (x, y) = (
                    20.0 + 20.0 * (k % 30) as f64,
                    40.0 + 200.0 * (k / 30) as f64,
                );
                Blob {
                    x,
                    y,
                    area: 12,
                    x0: x as u32,
                    y0: y as u32 - 6,
                    x1: x as u32,
                    y1: y as u32 + 6,
                }
            })
            .collect();
        let mut st = RainState::new(RainParams::default());
        for f in 0..20 {
            if f % 2 == 0 {
                st.update_at(&blobs, &vec![streak; blobs.len()], 640, 480);
            } else {
                st.update_at(&[], &[], 640, 480);
            }
        }
        assert!(!st.raining, "density {}", st.density);
    }
}
