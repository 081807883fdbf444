//! Float RGB canvas and anti-aliased, motion-blurred sprite drawing.

/// RGB, 0-255 scale, row-major, interleaved.
#[derive(Clone, Debug)]
pub struct Canvas {
    pub w: usize,
    pub h: usize,
    pub px: Vec<f32>,
}

impl Canvas {
    pub fn new(w: usize, h: usize) -> Canvas {
        Canvas {
            w,
            h,
            px: vec![0.0; w * h * 3],
        }
    }

    #[inline]
    pub fn get(&self, x: usize, y: usize) -> [f32; 3] {
        let i = (y * self.w + x) * 3;
        [self.px[i], self.px[i + 1], self.px[i + 2]]
    }

    /// Mean luma (BT.601 weights) in a square window around `(x, y)`.
    pub fn mean_luma(&self, x: f64, y: f64, r: i64) -> f32 {
        let (cx, cy) = (x.round() as i64, y.round() as i64);
        let mut s = 0.0;
        let mut n = 0.0;
        for yy in (cy - r).max(0)..=(cy + r).min(self.h as i64 - 1) {
            for xx in (cx - r).max(0)..=(cx + r).min(self.w as i64 - 1) {
                let p = self.get(xx as usize, yy as usize);
                s += luma(p);
                n += 1.0;
            }
        }
        if n > 0.0 {
            s / n
        } else {
            128.0
        }
    }

    /// Translate the whole image by a sub-pixel offset (bilinear, edges clamped).
    pub fn shifted(&self, dx: f64, dy: f64) -> Canvas {
        let mut out = Canvas::new(self.w, self.h);
        let (ix, iy) = (dx.floor(), dy.floor());
        let (fx, fy) = ((dx - ix) as f32, (dy - iy) as f32);
        let (ix, iy) = (ix as i64, iy as i64);
        let cl = |v: i64, m: usize| v.clamp(0, m as i64 - 1) as usize;
        for y in 0..self.h {
            let y0 = cl(y as i64 - iy - 1, self.h);
            let y1 = cl(y as i64 - iy, self.h);
            for x in 0..self.w {
                let x0 = cl(x as i64 - ix - 1, self.w);
                let x1 = cl(x as i64 - ix, self.w);
                let o = (y * self.w + x) * 3;
                for c in 0..3 {
                    let p00 = self.px[(y0 * self.w + x0) * 3 + c];
                    let p01 = self.px[(y0 * self.w + x1) * 3 + c];
                    let p10 = self.px[(y1 * self.w + x0) * 3 + c];
                    let p11 = self.px[(y1 * self.w + x1) * 3 + c];
                    let top = p00 * fx + p01 * (1.0 - fx);
                    let bot = p10 * fx + p11 * (1.0 - fx);
                    out.px[o + c] = top * fy + bot * (1.0 - fy);
                }
            }
        }
        out
    }
}

#[inline]
pub fn luma(p: [f32; 3]) -> f32 {
    0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]
}

/// A sprite outline in pixels; `angle` of a [`Pose`] rotates its local `u` axis.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// Semi-axes along `u` and `v`.
    Ellipse { a: f64, b: f64 },
    /// Half sizes along `u` and `v`.
    Rect { a: f64, b: f64 },
    /// Gaussian spot (defocused things).
    Blob { sigma: f64 },
    /// Capsule along `u`.
    Segment { half_len: f64, r: f64 },
    /// Body ellipse plus two wings; `flap` in radians changes the wing silhouette.
    Bird { body: f64, span: f64, flap: f64 },
}

impl Shape {
    fn radius(&self) -> f64 {
        match *self {
            Shape::Ellipse { a, b } => a.max(b),
            Shape::Rect { a, b } => (a * a + b * b).sqrt(),
            Shape::Blob { sigma } => 3.0 * sigma,
            Shape::Segment { half_len, r } => half_len + r,
            Shape::Bird { body, span, .. } => body.max(span * 0.6),
        }
    }

    /// Fraction of the pixel at local offset `(u, v)` covered (area-preserving for sub-pixel
    /// sizes) and the normalised `v` used for shading.
    #[inline]
    fn coverage(&self, u: f64, v: f64) -> f64 {
        const MIN: f64 = 0.6;
        match *self {
            Shape::Ellipse { a, b } => {
                let (ae, be) = (a.max(MIN), b.max(MIN));
                let k = ((u / ae).powi(2) + (v / be).powi(2)).sqrt();
                let g = ((u / (ae * ae)).powi(2) + (v / (be * be)).powi(2)).sqrt();
                let sd = if g > 1e-9 && k > 1e-9 {
                    (k - 1.0) * k / g
                } else {
                    -ae.min(be)
                };
                (0.5 - sd).clamp(0.0, 1.0) * (a * b) / (ae * be)
            }
            Shape::Rect { a, b } => {
                let (ae, be) = (a.max(MIN), b.max(MIN));
                let sd = (u.abs() - ae).max(v.abs() - be);
                (0.5 - sd).clamp(0.0, 1.0) * (a * b) / (ae * be)
            }
            Shape::Blob { sigma } => (-(u * u + v * v) / (2.0 * sigma * sigma)).exp(),
            Shape::Segment { half_len, r } => {
                let re = r.max(MIN);
                let cu = u.clamp(-half_len, half_len);
                let d = ((u - cu).powi(2) + v * v).sqrt() - re;
                (0.5 - d).clamp(0.0, 1.0) * r / re
            }
            Shape::Bird { body, span, flap } => {
                let bodyc = Shape::Ellipse {
                    a: body * 0.5,
                    b: body * 0.17,
                }
                .coverage(u, v);
                let r = (body * 0.1).max(0.35);
                let reach = span * 0.5 * (0.3 + 0.7 * flap.cos().abs());
                let sweep = span * 0.18 * flap.sin();
                let mut best = bodyc;
                for side in [-1.0, 1.0] {
                    let (tu, tv) = (-body * 0.15 + sweep, side * reach);
                    // Distance from (u, v) to the segment (0,0)-(tu,tv).
                    let l2 = tu * tu + tv * tv;
                    let t = if l2 > 1e-9 {
                        ((u * tu + v * tv) / l2).clamp(0.0, 1.0)
                    } else {
                        0.0
                    };
                    let d = ((u - t * tu).powi(2) + (v - t * tv).powi(2)).sqrt();
                    // Wings taper towards the tips.
                    let rr = r * (1.3 - 0.8 * t);
                    let c = (0.5 - (d - rr.max(0.6))).clamp(0.0, 1.0) * (rr / rr.max(0.6));
                    best = best.max(c);
                }
                best
            }
        }
    }
}

/// Position and orientation of a sprite at one sub-instant of the shutter.
#[derive(Clone, Copy, Debug)]
pub struct Pose {
    pub x: f64,
    pub y: f64,
    pub angle: f64,
    /// Shape at this instant (lets wings flap and objects change aspect within the shutter).
    pub shape: Shape,
}

/// Draw a sprite integrated over the given poses (equal weights = a box shutter), blended over
/// the canvas with `opacity`. `shade` darkens one side and lightens the other (simple lighting).
pub fn draw_blurred(
    canvas: &mut Canvas,
    poses: &[Pose],
    color: [f32; 3],
    opacity: f32,
    shade: f32,
) {
    if poses.is_empty() || opacity <= 0.0 {
        return;
    }
    let mut x0 = f64::INFINITY;
    let mut y0 = f64::INFINITY;
    let mut x1 = f64::NEG_INFINITY;
    let mut y1 = f64::NEG_INFINITY;
    for p in poses {
        let r = p.shape.radius() + 1.5;
        x0 = x0.min(p.x - r);
        y0 = y0.min(p.y - r);
        x1 = x1.max(p.x + r);
        y1 = y1.max(p.y + r);
    }
    let bx0 = x0.floor().max(0.0) as i64;
    let by0 = y0.floor().max(0.0) as i64;
    let bx1 = (x1.ceil() as i64).min(canvas.w as i64 - 1);
    let by1 = (y1.ceil() as i64).min(canvas.h as i64 - 1);
    if bx1 < bx0 || by1 < by0 || !x0.is_finite() || !y0.is_finite() {
        return;
    }
    let bw = (bx1 - bx0 + 1) as usize;
    let bh = (by1 - by0 + 1) as usize;
    // Guard against absurd sizes from a degenerate projection.
    if bw * bh > 4_000_000 {
        return;
    }
    let mut cov = vec![0.0f64; bw * bh];
    let mut sh = vec![0.0f64; bw * bh];
    let wgt = 1.0 / poses.len() as f64;
    for p in poses {
        let r = p.shape.radius() + 1.5;
        let (sa, ca) = p.angle.sin_cos();
        let px0 = ((p.x - r).floor() as i64).max(bx0);
        let px1 = ((p.x + r).ceil() as i64).min(bx1);
        let py0 = ((p.y - r).floor() as i64).max(by0);
        let py1 = ((p.y + r).ceil() as i64).min(by1);
        let rmax = p.shape.radius().max(0.5);
        for y in py0..=py1 {
            for x in px0..=px1 {
                let dx = x as f64 - p.x;
                let dy = y as f64 - p.y;
                let u = dx * ca + dy * sa;
                let v = -dx * sa + dy * ca;
                let c = p.shape.coverage(u, v);
                if c > 0.0 {
                    let i = (y - by0) as usize * bw + (x - bx0) as usize;
                    cov[i] += c * wgt;
                    sh[i] += c * wgt * (v / rmax).clamp(-1.0, 1.0);
                }
            }
        }
    }
    for yy in 0..bh {
        for xx in 0..bw {
            let i = yy * bw + xx;
            let c = cov[i];
            if c <= 1e-4 {
                continue;
            }
            let a = (c.min(1.0) as f32) * opacity;
            let s = 1.0 + shade * (sh[i] / c) as f32;
            let o = ((by0 as usize + yy) * canvas.w + bx0 as usize + xx) * 3;
            for ch in 0..3 {
                let col = (color[ch] * s).clamp(0.0, 255.0);
                canvas.px[o + ch] = canvas.px[o + ch] * (1.0 - a) + col * a;
            }
        }
    }
}

/// Motion-blur sub-sample count for a sprite that moves `dist_px` during the shutter.
pub fn blur_steps(dist_px: f64) -> usize {
    ((dist_px / 0.5).ceil() as usize).clamp(3, 48)
}
