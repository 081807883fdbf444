//! Per-pixel foreground model over `Frame.gray`.
//!
//! Running-average background plus a per-pixel mean-absolute-deviation estimate, both in
//! 12.4 fixed point (`i16`) so the inner loop vectorises on plain SSE2 (8 lanes). A pixel is
//! foreground when it differs from the background by more than `min_diff + k·dev` *and*
//! from the previous frame by more than `min_step` — the second test drops ghosts and
//! anything that is not moving right now. Busy pixels (foliage, flicker) grow a large `dev`
//! and stop firing on their own.

/// Fixed-point scale of `bg` and `dev` (4 fractional bits).
const SCALE: i16 = 16;

#[derive(Clone, Debug)]
pub struct ForegroundParams {
    /// Minimum luma difference from the background (levels).
    pub min_diff: i16,
    /// Multiplier on the per-pixel deviation, in quarters (12 = 3.0·dev).
    pub dev_mult_q: i16,
    /// Minimum luma change from the previous frame (levels).
    pub min_step: i16,
    /// Background learning rate as a right shift (5 = 1/32 per frame).
    pub bg_shift: u32,
    /// Deviation learning rate as a right shift (6 = 1/64 per frame).
    pub dev_shift: u32,
    /// Faint-object pass (`Background::add_faint`): minimum 3×3-mean difference (levels)...
    pub faint_min: i16,
    /// ...plus this many quarters of the per-pixel deviation (8 = 2.0·dev)...
    pub faint_dev_q: i16,
    /// ...and a 3×3-mean change from the previous frame of the same sign (levels).
    pub faint_step: i16,
}

impl Default for ForegroundParams {
    fn default() -> Self {
        ForegroundParams {
            min_diff: 12,
            dev_mult_q: 14,
            min_step: 7,
            bg_shift: 5,
            dev_shift: 6,
            faint_min: 4,
            faint_dev_q: 8,
            faint_step: 2,
        }
    }
}

/// Background model for one camera at one resolution.
pub struct Background {
    pub width: usize,
    pub height: usize,
    params: ForegroundParams,
    bg: Vec<i16>,
    dev: Vec<i16>,
    prev: Vec<u8>,
    /// Signed difference from the background before this frame's update, ¼ levels.
    dq: Vec<i16>,
    /// Signed change from the previous frame, levels.
    sq: Vec<i16>,
    /// 255 = analysed, 0 = masked out.
    mask: Vec<u8>,
    /// Number of unmasked pixels.
    active: usize,
    frames: u64,
}

impl Background {
    pub fn new(width: usize, height: usize, mask: Vec<u8>, params: ForegroundParams) -> Self {
        let n = width * height;
        let mask = if mask.len() == n { mask } else { vec![255; n] };
        let active = mask.iter().filter(|&&m| m != 0).count();
        Background {
            width,
            height,
            params,
            bg: vec![0; n],
            // Start with a modest noise estimate; it settles within a second or two.
            dev: vec![2 * SCALE; n],
            prev: vec![0; n],
            dq: vec![0; n],
            sq: vec![0; n],
            mask,
            active,
            frames: 0,
        }
    }

    pub fn frames(&self) -> u64 {
        self.frames
    }

    pub fn active_pixels(&self) -> usize {
        self.active
    }

    /// Forget the background and start again from `gray` (after a global change).
    pub fn reset_to(&mut self, gray: &[u8]) {
        for ((b, p), &g) in self.bg.iter_mut().zip(self.prev.iter_mut()).zip(gray) {
            *b = g as i16 * SCALE;
            *p = g;
        }
    }

    /// Background luma at pixel index `i` (0 outside the image).
    #[inline]
    pub fn luma_at(&self, i: usize) -> u8 {
        self.bg
            .get(i)
            .map_or(0, |&b| ((b + SCALE / 2) / SCALE).clamp(0, 255) as u8)
    }

    /// Background estimate as luma (for the evidence picture).
    pub fn background_luma(&self) -> Vec<u8> {
        self.bg
            .iter()
            .map(|&b| ((b + SCALE / 2) / SCALE).clamp(0, 255) as u8)
            .collect()
    }

    /// Mean luma of the background estimate over the analysed pixels.
    pub fn mean_dev(&self) -> f64 {
        let s: i64 = self.dev.iter().map(|&d| d as i64).sum();
        s as f64 / (self.dev.len().max(1) as f64 * SCALE as f64)
    }

    /// Classify `gray` into `fg` (0/255) and update the model. Returns the number of
    /// foreground pixels. `gray` must be `width*height` bytes.
    pub fn apply(&mut self, gray: &[u8], fg: &mut Vec<u8>) -> usize {
        let n = self.width * self.height;
        fg.resize(n, 0);
        if gray.len() != n {
            fg.iter_mut().for_each(|v| *v = 0);
            return 0;
        }
        if self.frames == 0 {
            self.reset_to(gray);
            self.frames = 1;
            fg.iter_mut().for_each(|v| *v = 0);
            return 0;
        }
        self.frames += 1;
        let min_diff = self.params.min_diff * SCALE;
        let mult = self.params.dev_mult_q;
        let min_step = self.params.min_step;
        let bs = self.params.bg_shift;
        // Learn the noise level fast while the model is young.
        let ds = if self.frames < 40 {
            self.params.dev_shift.min(3)
        } else {
            self.params.dev_shift
        };
        // Process row-sized chunks so the compiler sees equal-length slices (no bounds checks).
        let mut count = 0usize;
        for (((((g, b), d), p), (m, f)), (dq, sq)) in gray
            .chunks(4096)
            .zip(self.bg.chunks_mut(4096))
            .zip(self.dev.chunks_mut(4096))
            .zip(self.prev.chunks_mut(4096))
            .zip(self.mask.chunks(4096).zip(fg.chunks_mut(4096)))
            .zip(self.dq.chunks_mut(4096).zip(self.sq.chunks_mut(4096)))
        {
            let k = Kernel {
                min_diff,
                mult_q: mult,
                min_step,
                bs,
                ds,
            };
            count += fg_kernel_dispatch(g, b, d, p, m, f, dq, sq, &k);
        }
        count
    }
}

/// [`fg_kernel`] compiled for AVX2 (twice the lanes of the SSE2 baseline), chosen at run time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn fg_kernel_avx2(
    g: &[u8],
    b: &mut [i16],
    d: &mut [i16],
    p: &mut [u8],
    m: &[u8],
    f: &mut [u8],
    dq: &mut [i16],
    sq: &mut [i16],
    k: &Kernel,
) -> usize {
    fg_kernel(g, b, d, p, m, f, dq, sq, k)
}

#[allow(clippy::too_many_arguments)]
#[inline]
fn fg_kernel_dispatch(
    g: &[u8],
    b: &mut [i16],
    d: &mut [i16],
    p: &mut [u8],
    m: &[u8],
    f: &mut [u8],
    dq: &mut [i16],
    sq: &mut [i16],
    k: &Kernel,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { fg_kernel_avx2(g, b, d, p, m, f, dq, sq, k) };
        }
    }
    fg_kernel(g, b, d, p, m, f, dq, sq, k)
}

/// One row of the faint pass: vertical 3-sums of `dq` into `vd`, then `hit[x]` = the 3×3 sum
/// exceeds the pixel's threshold.
#[inline(always)]
fn faint_row(rows: [&[i16]; 3], dev: &[i16], fmin: i32, fdev: i32, vd: &mut [i16], hit: &mut [u8]) {
    let w = vd.len().min(hit.len()).min(dev.len());
    let (a, b, c) = (&rows[0][..w], &rows[1][..w], &rows[2][..w]);
    for x in 0..w {
        vd[x] = a[x].saturating_add(b[x]).saturating_add(c[x]);
    }
    for x in 1..w.saturating_sub(1) {
        let sd = vd[x - 1] as i32 + vd[x] as i32 + vd[x + 1] as i32;
        let thr = fmin + ((fdev * dev[x] as i32) >> 4);
        hit[x] = (sd.abs() > thr) as u8;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn faint_row_avx2(
    rows: [&[i16]; 3],
    dev: &[i16],
    fmin: i32,
    fdev: i32,
    vd: &mut [i16],
    hit: &mut [u8],
) {
    faint_row(rows, dev, fmin, fdev, vd, hit)
}

fn faint_row_dispatch(
    rows: [&[i16]; 3],
    dev: &[i16],
    fmin: i32,
    fdev: i32,
    vd: &mut [i16],
    hit: &mut [u8],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { faint_row_avx2(rows, dev, fmin, fdev, vd, hit) };
        }
    }
    faint_row(rows, dev, fmin, fdev, vd, hit)
}

struct Kernel {
    min_diff: i16,
    mult_q: i16,
    min_step: i16,
    bs: u32,
    ds: u32,
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn fg_kernel(
    g: &[u8],
    b: &mut [i16],
    d: &mut [i16],
    p: &mut [u8],
    m: &[u8],
    f: &mut [u8],
    dq: &mut [i16],
    sq: &mut [i16],
    k: &Kernel,
) -> usize {
    let len = g
        .len()
        .min(b.len())
        .min(d.len())
        .min(p.len())
        .min(m.len())
        .min(f.len())
        .min(dq.len())
        .min(sq.len());
    let (g, b, d, p, m, f, dq, sq) = (
        &g[..len],
        &mut b[..len],
        &mut d[..len],
        &mut p[..len],
        &m[..len],
        &mut f[..len],
        &mut dq[..len],
        &mut sq[..len],
    );
    let (min_diff, mult_q, min_step, bs, ds) = (k.min_diff, k.mult_q, k.min_step, k.bs, k.ds);
    let mut count = 0u32;
    for i in 0..len {
        let gi = g[i] as i16;
        let v = gi * SCALE;
        let bi = b[i];
        let di = d[i];
        let diff = v - bi;
        let adiff = diff.abs();
        // dev·mult/4 in 12.4 fixed point; dev ≤ 4080 so dev*mult_q/4 stays < 32767 for mult_q ≤ 28.
        let thr = min_diff.saturating_add(((di as i32 * mult_q as i32) >> 2).min(16000) as i16);
        let stepv = gi - p[i] as i16;
        let step = stepv.abs();
        let on = m[i] != 0;
        let is_fg = (adiff > thr) & (step > min_step) & on;
        f[i] = if is_fg { 255 } else { 0 };
        count += is_fg as u32;
        // Masked pixels contribute nothing to the faint pass's 3×3 sums.
        dq[i] = if on { diff >> 2 } else { 0 };
        sq[i] = if on { stepv } else { 0 };
        b[i] = bi + (diff >> bs);
        d[i] = di + ((adiff - di) >> ds);
        p[i] = g[i];
    }
    count as usize
}

impl Background {
    /// Faint-object pass, after [`apply`](Self::apply): a pixel whose 3×3 neighbourhood
    /// differs from the background *on average* by more than `faint_min + faint_dev·dev`, and
    /// changed since the previous frame in the same direction, is foreground too. Averaging
    /// nine pixels cuts the noise about threefold, so low-contrast or motion-blurred objects a
    /// few pixels wide (a falling bottle smeared into a faint streak) come through that the
    /// per-pixel test misses. Neighbourhoods that match the background shifted by up to `r`
    /// px (camera shake on textured facades) are left out. Returns the pixels added.
    pub fn add_faint(&self, gray: &[u8], fg: &mut [u8], r: usize) -> usize {
        let (w, h) = (self.width, self.height);
        if w < 3 || h < 3 || gray.len() != w * h || fg.len() != w * h || self.frames < 2 {
            return 0;
        }
        let pm = &self.params;
        let fmin = 36 * pm.faint_min as i32;
        let fdev = 9 * pm.faint_dev_q as i32; // (9·q/4)·dev(12.4) = 36·(q/4)·dev/16
        let fstep = 9 * pm.faint_step as i32;
        let mut vd = vec![0i16; w];
        let mut hit = vec![0u8; w];
        let mut added = 0;
        let mut cand: Vec<(usize, usize, i32)> = Vec::new();
        for y in 1..h - 1 {
            let (r0, r1, r2) = ((y - 1) * w, y * w, (y + 1) * w);
            // Branch-free candidate test over the row (vectorises); the rare hits are checked
            // in full below.
            faint_row_dispatch(
                [
                    &self.dq[r0..r0 + w],
                    &self.dq[r1..r1 + w],
                    &self.dq[r2..r2 + w],
                ],
                &self.dev[r1..r1 + w],
                fmin,
                fdev,
                &mut vd,
                &mut hit,
            );
            for (x8, chunk) in hit.chunks(8).enumerate() {
                if let Ok(b) = <[u8; 8]>::try_from(chunk) {
                    if u64::from_ne_bytes(b) == 0 {
                        continue;
                    }
                }
                for (k, &v) in chunk.iter().enumerate() {
                    let x = x8 * 8 + k;
                    if v == 0 || fg[r1 + x] != 0 || self.mask[r1 + x] == 0 {
                        continue;
                    }
                    let sd = vd[x - 1] as i32 + vd[x] as i32 + vd[x + 1] as i32;
                    let mut ss = 0i32;
                    for row in [r0, r1, r2] {
                        ss += self.sq[row + x - 1] as i32
                            + self.sq[row + x] as i32
                            + self.sq[row + x + 1] as i32;
                    }
                    if ss * sd.signum() > fstep {
                        cand.push((x, y, sd));
                    }
                }
            }
        }
        for (x, y, sd) in cand {
            if !self.box_matches_shifted(gray, x, y, r, sd) {
                fg[y * w + x] = 255;
                added += 1;
            }
        }
        added
    }

    /// Does the 3×3 mean of `gray` at (x, y) match the background's 3×3 mean at some shift
    /// within `r` px, to within half of its difference `sd` (¼ levels × 9)?
    fn box_matches_shifted(&self, gray: &[u8], x: usize, y: usize, r: usize, sd: i32) -> bool {
        let (w, h) = (self.width, self.height);
        let mut gsum = 0i32;
        for yy in y - 1..=y + 1 {
            for xx in x - 1..=x + 1 {
                gsum += gray[yy * w + xx] as i32;
            }
        }
        let g16 = gsum * SCALE as i32;
        let tol = (sd.abs() * 4 / 2).max(1); // ¼ levels×9 → 1/16 levels×9, halved
        let (y0, y1) = (y.saturating_sub(r).max(1), (y + r).min(h - 2));
        let (x0, x1) = (x.saturating_sub(r).max(1), (x + r).min(w - 2));
        for cy in y0..=y1 {
            for cx in x0..=x1 {
                if cx == x && cy == y {
                    continue;
                }
                let mut bsum = 0i32;
                for yy in cy - 1..=cy + 1 {
                    let row = &self.bg[yy * w + cx - 1..yy * w + cx + 2];
                    bsum += row[0] as i32 + row[1] as i32 + row[2] as i32;
                }
                if (g16 - bsum).abs() <= tol {
                    return true;
                }
            }
        }
        false
    }
}

impl Background {
    /// Clear foreground pixels that match the background somewhere within `r` px: camera
    /// jitter and compression ringing move edges by a pixel or two, a real object does not
    /// look like its surroundings. Runs only on foreground pixels (sparse). Returns the count
    /// of remaining foreground pixels.
    pub fn suppress_shifted(&self, gray: &[u8], fg: &mut [u8], r: usize) -> usize {
        let (w, h) = (self.width, self.height);
        if gray.len() != w * h || fg.len() != w * h {
            return 0;
        }
        let min_diff = self.params.min_diff * SCALE;
        let mut count = 0;
        for y in 0..h {
            let row = y * w;
            let mut x = 0;
            while x < w {
                if x + 8 <= w {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&fg[row + x..row + x + 8]);
                    if u64::from_ne_bytes(b) == 0 {
                        x += 8;
                        continue;
                    }
                }
                let i = row + x;
                if fg[i] != 0 {
                    let v = gray[i] as i16 * SCALE;
                    let (y0, y1) = (y.saturating_sub(r), (y + r).min(h - 1));
                    let (x0, x1) = (x.saturating_sub(r), (x + r).min(w - 1));
                    let mut matched = false;
                    'n: for yy in y0..=y1 {
                        for xx in x0..=x1 {
                            let j = yy * w + xx;
                            if (v - self.bg[j]).abs() <= min_diff + (self.dev[j] >> 1) {
                                matched = true;
                                break 'n;
                            }
                        }
                    }
                    if matched {
                        fg[i] = 0;
                    } else {
                        count += 1;
                    }
                }
                x += 1;
            }
        }
        count
    }
}

/// Rasterise polygon masks (`FacadeConfig.masks`, analysis pixels) into a 0/255 keep-mask.
pub fn rasterize_masks(width: usize, height: usize, polys: &[Vec<[f64; 2]>]) -> Vec<u8> {
    let mut out = vec![255u8; width * height];
    for poly in polys {
        if poly.len() < 3 {
            continue;
        }
        for y in 0..height {
            let yc = y as f64 + 0.5;
            // Even-odd scanline fill: x crossings of the polygon's edges at this row.
            let mut xs: Vec<f64> = Vec::new();
            for i in 0..poly.len() {
                let a = poly[i];
                let b = poly[(i + 1) % poly.len()];
                if (a[1] <= yc && b[1] > yc) || (b[1] <= yc && a[1] > yc) {
                    let t = (yc - a[1]) / (b[1] - a[1]);
                    xs.push(a[0] + t * (b[0] - a[0]));
                }
            }
            xs.sort_by(|a, b| a.total_cmp(b));
            for pair in xs.chunks(2) {
                if pair.len() < 2 {
                    break;
                }
                let x0 = (pair[0] - 0.5).ceil().max(0.0) as usize;
                let x1 = ((pair[1] - 0.5).floor() as i64).min(width as i64 - 1);
                if x1 < x0 as i64 {
                    continue;
                }
                let row = &mut out[y * width..(y + 1) * width];
                for v in &mut row[x0..=x1 as usize] {
                    *v = 0;
                }
            }
        }
    }
    out
}
