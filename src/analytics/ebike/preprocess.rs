//! Frame → network tensor: resize (letterbox or stretch), channel order, normalisation, all in
//! one pass straight into the NCHW `f32` buffer.

use ndarray::Array4;

/// How the frame is fitted into the network input.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Resize {
    /// Keep the aspect ratio; pad with `pad`. `centered` = Ultralytics style, else top-left
    /// (YOLOX style).
    Letterbox { pad: f32, centered: bool },
    /// Stretch to the input size (NanoDet).
    Stretch,
}

/// Everything the input transform needs.
#[derive(Clone, Debug, PartialEq)]
pub struct PreSpec {
    pub width: u32,
    pub height: u32,
    pub resize: Resize,
    /// Feed channels as B, G, R (else R, G, B).
    pub bgr: bool,
    /// Per input channel (in network order): value = (pixel − mean) · scale.
    pub mean: [f32; 3],
    pub scale: [f32; 3],
}

/// Maps network-input pixels back to frame pixels: frame = (net − offset) / scale.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transform {
    pub sx: f32,
    pub sy: f32,
    pub ox: f32,
    pub oy: f32,
}

impl Transform {
    #[inline]
    pub fn to_frame(&self, b: [f32; 4]) -> [f32; 4] {
        [
            (b[0] - self.ox) / self.sx,
            (b[1] - self.oy) / self.sy,
            (b[2] - self.ox) / self.sx,
            (b[3] - self.oy) / self.sy,
        ]
    }
}

/// Bilinear sampling table for one axis (half-pixel centres, like OpenCV `INTER_LINEAR`).
fn axis_table(src: u32, dst: u32) -> Vec<(usize, usize, f32)> {
    let scale = src as f32 / dst as f32;
    let max = src.saturating_sub(1) as usize;
    (0..dst)
        .map(|d| {
            let s = ((d as f32 + 0.5) * scale - 0.5).max(0.0);
            let i0 = (s.floor() as usize).min(max);
            let i1 = (i0 + 1).min(max);
            let f = (s - i0 as f32).clamp(0.0, 1.0);
            (i0, i1, f)
        })
        .collect()
}

/// Write `rgb` (packed RGB24, `w`×`h`) into `out` (shape `[1, 3, spec.height, spec.width]`,
/// reallocated if needed). Returns the transform back to frame pixels.
pub fn preprocess(rgb: &[u8], w: u32, h: u32, spec: &PreSpec, out: &mut Array4<f32>) -> Transform {
    let (nw_full, nh_full) = (spec.width as usize, spec.height as usize);
    if out.shape() != [1, 3, nh_full, nw_full] {
        *out = Array4::zeros((1, 3, nh_full, nw_full));
    }
    let (rw, rh, ox, oy, sx, sy) = match spec.resize {
        Resize::Stretch => (
            spec.width,
            spec.height,
            0u32,
            0u32,
            spec.width as f32 / w.max(1) as f32,
            spec.height as f32 / h.max(1) as f32,
        ),
        Resize::Letterbox { centered, .. } => {
            let r = (spec.width as f32 / w.max(1) as f32).min(spec.height as f32 / h.max(1) as f32);
            let rw = ((w as f32 * r) as u32).clamp(1, spec.width);
            let rh = ((h as f32 * r) as u32).clamp(1, spec.height);
            let (ox, oy) = if centered {
                ((spec.width - rw) / 2, (spec.height - rh) / 2)
            } else {
                (0, 0)
            };
            (rw, rh, ox, oy, r, r)
        }
    };
    // Channel source index in RGB for each network channel.
    let src_ch: [usize; 3] = if spec.bgr { [2, 1, 0] } else { [0, 1, 2] };
    let buf = match out.as_slice_mut() {
        Some(b) => b,
        None => {
            return Transform {
                sx,
                sy,
                ox: ox as f32,
                oy: oy as f32,
            }
        }
    };
    let plane = nw_full * nh_full;
    if let Resize::Letterbox { pad, .. } = spec.resize {
        for c in 0..3 {
            let v = (pad - spec.mean[c]) * spec.scale[c];
            buf[c * plane..(c + 1) * plane].fill(v);
        }
    }
    let ok = rgb.len() >= (w as usize) * (h as usize) * 3 && w > 0 && h > 0;
    if ok {
        let xt = axis_table(w, rw);
        let yt = axis_table(h, rh);
        let stride = w as usize * 3;
        let (p0, rest) = buf.split_at_mut(plane);
        let (p1, p2) = rest.split_at_mut(plane);
        let mut row = vec![0f32; rw as usize * 3];
        let [m0, m1, m2] = spec.mean;
        let [s0, s1, s2] = spec.scale;
        let [c0, c1, c2] = src_ch;
        for (dy, &(y0, y1, fy)) in yt.iter().enumerate() {
            let r0 = &rgb[y0 * stride..y0 * stride + stride];
            let r1 = &rgb[y1 * stride..y1 * stride + stride];
            for (dx, &(x0, x1, fx)) in xt.iter().enumerate() {
                for c in 0..3 {
                    let a = r0[x0 * 3 + c] as f32;
                    let b = r0[x1 * 3 + c] as f32;
                    let cc = r1[x0 * 3 + c] as f32;
                    let d = r1[x1 * 3 + c] as f32;
                    let top = a + (b - a) * fx;
                    let bot = cc + (d - cc) * fx;
                    row[dx * 3 + c] = top + (bot - top) * fy;
                }
            }
            let base = (dy + oy as usize) * nw_full + ox as usize;
            let n = rw as usize;
            let (d0, d1, d2) = (
                &mut p0[base..base + n],
                &mut p1[base..base + n],
                &mut p2[base..base + n],
            );
            for (dx, px) in row.chunks_exact(3).enumerate() {
                d0[dx] = (px[c0] - m0) * s0;
                d1[dx] = (px[c1] - m1) * s1;
                d2[dx] = (px[c2] - m2) * s2;
            }
        }
    }
    Transform {
        sx,
        sy,
        ox: ox as f32,
        oy: oy as f32,
    }
}
