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

/// Frames during which quiet pixels learn every frame (the deviation is still learning fast).
const YOUNG_FRAMES: u64 = 40;

/// Quiet pixels (see [`Background::apply`]) learn on every `QUIET_EVERY`-th frame only, then
/// taking `QUIET_EVERY` model steps on that frame (as if it had been seen that many times).
/// Every 2nd frame keeps the model within a few per cent of per-frame learning on real
/// footage; every 4th was measurably further off for little extra speed.
const QUIET_EVERY: usize = 2;

/// Rows of one band of the quiet-learning schedule (one band in `QUIET_EVERY` per frame).
const QUIET_BAND: usize = 16;

/// Background model for one camera at one resolution.
pub struct Background {
    pub width: usize,
    pub height: usize,
    params: ForegroundParams,
    bg: Vec<i16>,
    dev: Vec<i16>,
    prev: Vec<u8>,
    /// Signed difference from the background before this frame's update, ¼ levels. Valid
    /// where the last [`apply`](Self::apply) ran the kernel with the faint pass on.
    dq: Vec<i16>,
    /// Signed change from the previous frame, levels (valid where `dq` is).
    sq: Vec<i16>,
    /// 255 = analysed, 0 = masked out.
    mask: Vec<u8>,
    /// Number of unmasked pixels.
    active: usize,
    frames: u64,
    /// Prepare `dq`/`sq` for [`add_faint`](Self::add_faint) (default on).
    faint: bool,
    /// Skip the kernel on quiet pixels (default on; off = process every pixel every frame).
    skip_quiet: bool,
    /// Width of the column segments of `act` (32 × a power of two, ≤ 64 segments).
    seg_w: usize,
    /// Per row, bit `s`: some pixel of segment `s` changed from the previous frame by more
    /// than `quiet_step()` levels.
    act: Vec<u64>,
    /// The last `apply` processed every pixel (`dq`/`sq` valid everywhere).
    all_done: bool,
    /// The last `apply` left `dq`/`sq` for the faint pass.
    faint_ready: bool,
    /// `act` was found by [`changed_pixels`](Self::changed_pixels) for the
    /// frame at this (address, length) against the previous frame of model frame `.2`.
    act_key: Option<(usize, usize, u64)>,
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
            faint: true,
            skip_quiet: true,
            seg_w: 32 * width.div_ceil(32 * 64).max(1).next_power_of_two(),
            act: vec![0; height],
            all_done: true,
            faint_ready: false,
            act_key: None,
        }
    }

    pub fn frames(&self) -> u64 {
        self.frames
    }

    pub fn active_pixels(&self) -> usize {
        self.active
    }

    /// Whether [`apply`](Self::apply) prepares the faint pass ([`add_faint`](Self::add_faint),
    /// which finds nothing after an `apply` with this off). On by default; turning it off
    /// saves work where the faint pass is not used.
    pub fn set_faint_pass(&mut self, on: bool) {
        self.faint = on;
    }

    /// Whether [`apply`](Self::apply) may skip quiet pixels (on by default). Off processes
    /// every pixel every frame: the reference behaviour, for tests and benchmarks.
    pub fn set_skip_quiet(&mut self, on: bool) {
        self.skip_quiet = on;
    }

    /// Number of pixels of `gray` that differ from the previous frame (the one last given
    /// to [`apply`](Self::apply) or [`reset_to`](Self::reset_to)) by more than `min_change`
    /// levels; `None` before the first frame or when the size does not match.
    ///
    /// The same pass finds the quiet parts of the frame for `apply`: when `apply` is called
    /// next with the same (unmodified) slice, it does not compare the frames again.
    pub fn changed_pixels(&mut self, gray: &[u8], min_change: u8) -> Option<usize> {
        self.act_key = None;
        if self.frames == 0 || gray.len() != self.prev.len() {
            return None;
        }
        let changed = self.activity(gray, min_change);
        self.act_key = Some((gray.as_ptr() as usize, gray.len(), self.frames));
        Some(changed)
    }

    /// Forget the background and start again from `gray` (after a global change).
    pub fn reset_to(&mut self, gray: &[u8]) {
        self.act_key = None;
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
    ///
    /// Most of a fixed camera's picture does not change between frames (static facade,
    /// H.264 skip blocks), and a pixel can only be foreground when it changed by more than
    /// `min_step` — or, for the faint pass, when some pixel of its 3×3 neighbourhood changed
    /// by more than `faint_step`. So a cheap pass finds the 32-px row segments where some pixel changed by more than
    /// [`quiet_step`](Self::quiet_step); the full kernel runs only on those (with the faint
    /// pass on: also rows ±2 and a 2-px margin, which its 3×3 sums read), and every other
    /// pixel is background by construction. Quiet pixels still learn: while the model is
    /// young (`YOUNG_FRAMES`) one step every frame, exactly as the full kernel; then, so slow
    /// light changes are still followed at a fraction of the cost, bands of `QUIET_BAND`
    /// rows take turns, each updated every `QUIET_EVERY`-th frame with `QUIET_EVERY` steps.
    pub fn apply(&mut self, gray: &[u8], fg: &mut Vec<u8>) -> usize {
        let n = self.width * self.height;
        fg.resize(n, 0);
        self.faint_ready = false;
        let key = self.act_key.take();
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
        let (w, h) = (self.width, self.height);
        let bs = self.params.bg_shift;
        // Learn the noise level fast while the model is young.
        let young = self.frames < YOUNG_FRAMES;
        let ds = if young {
            self.params.dev_shift.min(3)
        } else {
            self.params.dev_shift
        };
        let k = Kernel {
            min_diff: self.params.min_diff * SCALE,
            mult_q: self.params.dev_mult_q,
            min_step: self.params.min_step,
            bs,
            ds,
        };
        let faint = self.faint;
        self.faint_ready = faint;
        if !self.skip_quiet {
            self.all_done = true;
            let mut count = 0;
            for y in 0..h {
                count += self.run(gray, fg, y * w, y * w + w, &k, faint);
            }
            return count;
        }
        self.all_done = false;
        if key != Some((gray.as_ptr() as usize, gray.len(), self.frames - 1)) {
            self.activity(gray, u8::MAX);
        }
        let phase = (self.frames as usize) % QUIET_EVERY;
        let pass = RowPass {
            k,
            faint,
            young,
            phase,
        };
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2 (checked just above).
                return unsafe { self.rows_avx2(gray, fg, &pass) };
            }
        }
        self.rows(gray, fg, &pass)
    }

    /// [`rows`](Self::rows) compiled for AVX2, so the kernels inline into one loop.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn rows_avx2(&mut self, gray: &[u8], fg: &mut [u8], pass: &RowPass) -> usize {
        self.rows(gray, fg, pass)
    }

    /// Every row of a settled model: the full kernel on the busy runs, the quiet rest
    /// learning on its schedule.
    #[inline(always)]
    fn rows(&mut self, gray: &[u8], fg: &mut [u8], pass: &RowPass) -> usize {
        let (w, h) = (self.width, self.height);
        let k = &pass.k;
        let pad = if pass.faint { 2 } else { 0 };
        let masked = self.active < self.mask.len();
        let mut count = 0;
        for y in 0..h {
            let busy = if pass.faint {
                self.act[y.saturating_sub(2)..(y + 3).min(h)]
                    .iter()
                    .fold(0, |a, &m| a | m)
            } else {
                self.act[y]
            };
            // While young every quiet pixel takes its one model step every frame (exactly
            // what the full kernel would do); later, bands take turns.
            let reps = if pass.young {
                1
            } else if (y / QUIET_BAND + pass.phase) % QUIET_EVERY == 0 {
                QUIET_EVERY
            } else {
                0
            };
            let row = y * w;
            let mut x = 0;
            for (x0, x1) in seg_runs(busy, self.seg_w, w, pad) {
                self.quiet_run(gray, fg, row + x..row + x0, k, reps);
                let r = row + x0..row + x1;
                count += match (masked, pass.faint) {
                    (false, false) => fg_kernel::<false, false>(self.io(gray, fg, r, false), k),
                    (false, true) => fg_kernel::<false, true>(self.io(gray, fg, r, true), k),
                    (true, false) => fg_kernel::<true, false>(self.io(gray, fg, r, false), k),
                    (true, true) => fg_kernel::<true, true>(self.io(gray, fg, r, true), k),
                };
                x = x1;
            }
            self.quiet_run(gray, fg, row + x..row + w, k, reps);
        }
        count
    }

    /// The kernel's slices for pixels `r`.
    #[inline(always)]
    fn io<'a>(
        &'a mut self,
        gray: &'a [u8],
        fg: &'a mut [u8],
        r: std::ops::Range<usize>,
        dq: bool,
    ) -> KernelIo<'a> {
        let masked = self.active < self.mask.len();
        let (q, s) = if dq {
            (&mut self.dq[r.clone()], &mut self.sq[r.clone()])
        } else {
            (&mut [][..], &mut [][..])
        };
        KernelIo {
            g: &gray[r.clone()],
            b: &mut self.bg[r.clone()],
            d: &mut self.dev[r.clone()],
            p: &mut self.prev[r.clone()],
            m: if masked {
                &self.mask[r.clone()]
            } else {
                &[][..]
            },
            f: &mut fg[r],
            dq: q,
            sq: s,
        }
    }

    /// A pixel is quiet when it changed from the previous frame by at most this many levels
    /// (compression noise, H.264 skip blocks): never foreground (that takes more than
    /// `min_step`), nor next to a faint-pass hit (a 3×3 sum of steps over `9·faint_step`).
    fn quiet_step(&self) -> u8 {
        self.params
            .faint_step
            .min(self.params.min_step)
            .clamp(0, 255) as u8
    }

    /// Fill `act` for `gray` against the previous frame; returns the number of pixels that
    /// changed by more than `min_change`.
    fn activity(&mut self, gray: &[u8], min_change: u8) -> usize {
        let w = self.width;
        let t = self.quiet_step();
        let shift = self.seg_w.trailing_zeros() - 5;
        let mut changed = 0;
        for ((g, p), act) in gray
            .chunks_exact(w)
            .zip(self.prev.chunks_exact(w))
            .zip(self.act.iter_mut())
        {
            let strong;
            (*act, strong) = row_activity_dispatch(g, p, shift, t, min_change);
            // Segments with strong changes are few: count those exactly.
            for (x0, x1) in seg_runs(strong, self.seg_w, w, 0) {
                changed += g[x0..x1]
                    .iter()
                    .zip(&p[x0..x1])
                    .map(|(&a, &b)| (a.abs_diff(b) > min_change) as u16)
                    .sum::<u16>() as usize;
            }
        }
        changed
    }

    /// The full kernel over pixels `i0..i1` (within one row). Returns the foreground count.
    fn run(
        &mut self,
        gray: &[u8],
        fg: &mut [u8],
        i0: usize,
        i1: usize,
        k: &Kernel,
        dq: bool,
    ) -> usize {
        if i0 >= i1 {
            return 0;
        }
        let r = i0..i1;
        let masked = self.active < self.mask.len();
        let (g, b, d, p, f) = (
            &gray[r.clone()],
            &mut self.bg[r.clone()],
            &mut self.dev[r.clone()],
            &mut self.prev[r.clone()],
            &mut fg[r.clone()],
        );
        let m = if masked {
            &self.mask[r.clone()]
        } else {
            &[][..]
        };
        let (q, s) = if dq {
            (&mut self.dq[r.clone()], &mut self.sq[r])
        } else {
            (&mut [][..], &mut [][..])
        };
        let io = KernelIo {
            g,
            b,
            d,
            p,
            m,
            f,
            dq: q,
            sq: s,
        };
        match (masked, dq) {
            (false, false) => fg_kernel_dispatch::<false, false>(io, k),
            (false, true) => fg_kernel_dispatch::<false, true>(io, k),
            (true, false) => fg_kernel_dispatch::<true, false>(io, k),
            (true, true) => fg_kernel_dispatch::<true, true>(io, k),
        }
    }

    /// Quiet pixels `r`: background by construction. They take the new frame as the
    /// previous one and make `reps` model steps (0, 1 or `QUIET_EVERY`).
    #[inline(always)]
    fn quiet_run(
        &mut self,
        gray: &[u8],
        fg: &mut [u8],
        r: std::ops::Range<usize>,
        k: &Kernel,
        reps: usize,
    ) {
        if r.is_empty() {
            return;
        }
        if reps == 0 {
            self.prev[r.clone()].copy_from_slice(&gray[r.clone()]);
            fg[r].fill(0);
            return;
        }
        let (g, b, d, p, f) = (
            &gray[r.clone()],
            &mut self.bg[r.clone()],
            &mut self.dev[r.clone()],
            &mut self.prev[r.clone()],
            &mut fg[r],
        );
        if reps == 1 {
            learn_kernel::<1>(g, b, d, p, f, k);
        } else {
            learn_kernel::<QUIET_EVERY>(g, b, d, p, f, k);
        }
    }
}

/// What [`Background::rows`] does on this frame.
struct RowPass {
    k: Kernel,
    faint: bool,
    young: bool,
    phase: usize,
}

/// Pixel ranges `[x0, x1)` of the runs of set bits in `mask` (segments `seg_w` wide), each
/// widened by `pad` px on both sides and clipped to `0..w`. Runs are at least one segment
/// apart, so with `2·pad < seg_w` the ranges do not overlap.
fn seg_runs(mask: u64, seg_w: usize, w: usize, pad: usize) -> impl Iterator<Item = (usize, usize)> {
    let mut m = mask;
    std::iter::from_fn(move || {
        if m == 0 {
            return None;
        }
        let s0 = m.trailing_zeros();
        let len = (!(m >> s0)).trailing_zeros();
        let s1 = s0 + len;
        m = if s1 >= 64 { 0 } else { m & (!0u64 << s1) };
        let x0 = (s0 as usize * seg_w).saturating_sub(pad).min(w);
        let x1 = (s1 as usize * seg_w + pad).min(w);
        Some((x0, x1))
    })
    .filter(|&(x0, x1)| x0 < x1)
}

/// Per column segment of one row (`32 << seg_shift` px), whether some |g − p| exceeds
/// `t`, and whether some exceeds `t_strong`, as two bit masks.
#[inline(always)]
fn row_activity(g: &[u8], p: &[u8], seg_shift: u32, t: u8, t_strong: u8) -> (u64, u64) {
    let (mut act, mut strong) = (0u64, 0u64);
    let mut gc = g.chunks_exact(32);
    let mut pc = p.chunks_exact(32);
    let mut c = 0usize;
    for (a, b) in (&mut gc).zip(&mut pc) {
        let (a, b): (&[u8; 32], &[u8; 32]) = match (a.try_into(), b.try_into()) {
            (Ok(a), Ok(b)) => (a, b),
            _ => break,
        };
        // Fixed 32 lanes: one vector, the any-reductions become mask tests.
        let (mut on, mut st) = (false, false);
        for j in 0..32 {
            let d = a[j].abs_diff(b[j]);
            on |= d > t;
            st |= d > t_strong;
        }
        let s = (c >> seg_shift) & 63;
        act |= (on as u64) << s;
        strong |= (st as u64) << s;
        c += 1;
    }
    let s = (c >> seg_shift) & 63;
    for (a, b) in gc.remainder().iter().zip(pc.remainder()) {
        let d = a.abs_diff(*b);
        act |= ((d > t) as u64) << s;
        strong |= ((d > t_strong) as u64) << s;
    }
    (act, strong)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn row_activity_avx2(g: &[u8], p: &[u8], seg_shift: u32, t: u8, t_strong: u8) -> (u64, u64) {
    row_activity(g, p, seg_shift, t, t_strong)
}

fn row_activity_dispatch(g: &[u8], p: &[u8], seg_shift: u32, t: u8, t_strong: u8) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { row_activity_avx2(g, p, seg_shift, t, t_strong) };
        }
    }
    row_activity(g, p, seg_shift, t, t_strong)
}

/// The slices one kernel call works on (equal lengths; `m` empty without a mask, `dq`/`sq`
/// empty when they are not wanted).
struct KernelIo<'a> {
    g: &'a [u8],
    b: &'a mut [i16],
    d: &'a mut [i16],
    p: &'a mut [u8],
    m: &'a [u8],
    f: &'a mut [u8],
    dq: &'a mut [i16],
    sq: &'a mut [i16],
}

/// [`fg_kernel`] compiled for AVX2 (twice the lanes of the SSE2 baseline), chosen at run time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fg_kernel_avx2<const MASK: bool, const DQ: bool>(io: KernelIo, k: &Kernel) -> usize {
    fg_kernel::<MASK, DQ>(io, k)
}

#[inline]
fn fg_kernel_dispatch<const MASK: bool, const DQ: bool>(io: KernelIo, k: &Kernel) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { fg_kernel_avx2::<MASK, DQ>(io, k) };
        }
    }
    fg_kernel::<MASK, DQ>(io, k)
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

/// Model update of quiet pixels as if the frame had been seen `REPS` times: the same
/// fixed-point steps (and rounding) as `REPS` frames of [`fg_kernel`]. Writes fg = 0 (a quiet
/// pixel is never foreground) and takes the frame as the previous one.
#[inline(always)]
fn learn_kernel<const REPS: usize>(
    g: &[u8],
    b: &mut [i16],
    d: &mut [i16],
    p: &mut [u8],
    f: &mut [u8],
    k: &Kernel,
) {
    let len = g.len().min(b.len()).min(d.len()).min(p.len()).min(f.len());
    let (g, b, d, p, f) = (
        &g[..len],
        &mut b[..len],
        &mut d[..len],
        &mut p[..len],
        &mut f[..len],
    );
    let (bs, ds) = (k.bs, k.ds);
    for i in 0..len {
        let v = g[i] as i16 * SCALE;
        let mut bi = b[i];
        let mut di = d[i];
        for _ in 0..REPS {
            let diff = v - bi;
            bi += diff >> bs;
            di += (diff.abs() - di) >> ds;
        }
        b[i] = bi;
        d[i] = di;
        p[i] = g[i];
        f[i] = 0;
    }
}

/// The per-pixel test and update. `MASK`: read the keep-mask (else every pixel is analysed);
/// `DQ`: write `dq`/`sq` for the faint pass.
#[inline(always)]
fn fg_kernel<const MASK: bool, const DQ: bool>(io: KernelIo, k: &Kernel) -> usize {
    let KernelIo {
        g,
        b,
        d,
        p,
        m,
        f,
        dq,
        sq,
    } = io;
    let mut len = g.len().min(b.len()).min(d.len()).min(p.len()).min(f.len());
    if MASK {
        len = len.min(m.len());
    }
    if DQ {
        len = len.min(dq.len()).min(sq.len());
    }
    let (g, b, d, p, f) = (
        &g[..len],
        &mut b[..len],
        &mut d[..len],
        &mut p[..len],
        &mut f[..len],
    );
    let m = if MASK { &m[..len] } else { &m[..0] };
    let (dq, sq) = if DQ {
        (&mut dq[..len], &mut sq[..len])
    } else {
        (&mut dq[..0], &mut sq[..0])
    };
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
        let on = !MASK || m[i] != 0;
        let is_fg = (adiff > thr) & (step > min_step) & on;
        f[i] = if is_fg { 255 } else { 0 };
        count += is_fg as u32;
        if DQ {
            // Masked pixels contribute nothing to the faint pass's 3×3 sums.
            dq[i] = if on { diff >> 2 } else { 0 };
            sq[i] = if on { stepv } else { 0 };
        }
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
    ///
    /// Uses what the last [`apply`](Self::apply) left; finds nothing when that ran with
    /// [`set_faint_pass`](Self::set_faint_pass) off.
    pub fn add_faint(&self, gray: &[u8], fg: &mut [u8], r: usize) -> usize {
        let (w, h) = (self.width, self.height);
        if w < 3
            || h < 3
            || gray.len() != w * h
            || fg.len() != w * h
            || self.frames < 2
            || !self.faint_ready
        {
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
            // Only pixels next to one that changed by more than `faint_step` can pass the
            // step test below (their 3×3 sum of steps would be ≤ 9·faint_step); `apply` left
            // `dq`/`sq` valid 2 px around those.
            let busy = if self.all_done {
                1
            } else {
                self.act[y - 1] | self.act[y] | self.act[y + 1]
            };
            let seg_w = if self.all_done { w } else { self.seg_w };
            for (x0, x1) in seg_runs(busy, seg_w, w, 1) {
                // Candidates x0..x1 (inside 1..w-1); the sums read one pixel either side.
                let (x0, x1) = (x0.max(1), x1.min(w - 1));
                if x0 >= x1 {
                    continue;
                }
                let (base, len) = (x0 - 1, x1 - x0 + 2);
                let (vd, hit) = (&mut vd[..len], &mut hit[..len]);
                // Branch-free candidate test over the run (vectorises); the rare hits are
                // checked in full below.
                faint_row_dispatch(
                    [
                        &self.dq[r0 + base..r0 + base + len],
                        &self.dq[r1 + base..r1 + base + len],
                        &self.dq[r2 + base..r2 + base + len],
                    ],
                    &self.dev[r1 + base..r1 + base + len],
                    fmin,
                    fdev,
                    vd,
                    hit,
                );
                let inner = &hit[1..len - 1];
                for (k8, chunk) in inner.chunks(8).enumerate() {
                    if let Ok(b) = <[u8; 8]>::try_from(chunk) {
                        if u64::from_ne_bytes(b) == 0 {
                            continue;
                        }
                    }
                    for (j, &v) in chunk.iter().enumerate() {
                        let k = 1 + k8 * 8 + j;
                        let x = base + k;
                        if v == 0 || fg[r1 + x] != 0 || self.mask[r1 + x] == 0 {
                            continue;
                        }
                        let sd = vd[k - 1] as i32 + vd[k] as i32 + vd[k + 1] as i32;
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
        // Per centre row: 3-row column sums once, then each 3×3 sum is three of them.
        let mut cols = [0i32; 64];
        let nc = x1 + 3 - x0;
        if nc > cols.len() {
            return self.box_matches_shifted_slow(g16, tol, x, y, (x0, x1), (y0, y1));
        }
        for cy in y0..=y1 {
            let rows = [
                &self.bg[(cy - 1) * w + x0 - 1..(cy - 1) * w + x1 + 2],
                &self.bg[cy * w + x0 - 1..cy * w + x1 + 2],
                &self.bg[(cy + 1) * w + x0 - 1..(cy + 1) * w + x1 + 2],
            ];
            for (j, c) in cols[..nc].iter_mut().enumerate() {
                *c = rows[0][j] as i32 + rows[1][j] as i32 + rows[2][j] as i32;
            }
            for cx in x0..=x1 {
                if cx == x && cy == y {
                    continue;
                }
                let j = cx - x0;
                let bsum = cols[j] + cols[j + 1] + cols[j + 2];
                if (g16 - bsum).abs() <= tol {
                    return true;
                }
            }
        }
        false
    }

    /// [`box_matches_shifted`](Self::box_matches_shifted) for very large `r`.
    fn box_matches_shifted_slow(
        &self,
        g16: i32,
        tol: i32,
        x: usize,
        y: usize,
        (x0, x1): (usize, usize),
        (y0, y1): (usize, usize),
    ) -> bool {
        let w = self.width;
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
            // Most rows have no foreground at all: one vectorised OR over the row says so.
            if fg[row..row + w].iter().fold(0u8, |a, &v| a | v) == 0 {
                continue;
            }
            let mut x = 0;
            while x < w {
                if x + 32 <= w && fg[row + x..row + x + 32].iter().fold(0u8, |a, &v| a | v) == 0 {
                    x += 32;
                    continue;
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Static texture (a facade of windows), brightened by `lift` levels, with a 3×3 dark
    /// square at `obj` if any.
    fn scene(w: usize, h: usize, lift: u8, obj: Option<(usize, usize)>) -> Vec<u8> {
        let mut v = vec![0u8; w * h];
        for y in 0..h {
            for x in 0..w {
                let win = (x % 23 < 12) && (y % 19 < 9);
                let n = ((x * 7919 + y * 104_729) % 17) as u8;
                v[y * w + x] = if win { 70 + n } else { 150 + n }.saturating_add(lift);
            }
        }
        if let Some((ox, oy)) = obj {
            for y in oy - 1..=oy + 1 {
                for x in ox - 1..=ox + 1 {
                    v[y * w + x] = 10;
                }
            }
        }
        v
    }

    #[test]
    fn seg_runs_pads_and_clips() {
        let r: Vec<_> = seg_runs(0b1011, 32, 100, 2).collect();
        assert_eq!(r, vec![(0, 66), (94, 100)]);
        assert_eq!(seg_runs(0, 32, 100, 2).count(), 0);
        assert_eq!(
            seg_runs(1 << 63, 32, 64 * 32, 0).collect::<Vec<_>>(),
            vec![(2016, 2048)]
        );
    }

    /// Skipping quiet pixels keeps a small moving object exactly as the full model sees it,
    /// and the background still follows a slow global brightness ramp (≤ 1 level a frame:
    /// every pixel is quiet).
    #[test]
    fn quiet_skipping_keeps_a_small_mover_and_follows_a_ramp() {
        let (w, h) = (200, 120);
        for faint in [false, true] {
            let mut fast = Background::new(w, h, Vec::new(), ForegroundParams::default());
            let mut full = Background::new(w, h, Vec::new(), ForegroundParams::default());
            fast.set_faint_pass(faint);
            full.set_faint_pass(faint);
            full.set_skip_quiet(false);
            let (mut ff, mut fr) = (Vec::new(), Vec::new());
            let mut seen = 0;
            for t in 0..240usize {
                // +1 level every 3rd frame: 80 levels over the run.
                let lift = (t / 3) as u8;
                // The object crosses the picture from frame 100 on, 1 px right and 2 px down
                // a frame.
                let obj = (100..150)
                    .contains(&t)
                    .then(|| (20 + (t - 100), 10 + 2 * (t - 100)));
                let g = scene(w, h, lift, obj);
                // As `FallingAnalytic` does: the repeat check first, then the model.
                let changed = fast.changed_pixels(&g, 12);
                if t > 0 {
                    assert!(changed.is_some());
                }
                let nf = fast.apply(&g, &mut ff);
                let nr = full.apply(&g, &mut fr);
                if faint {
                    fast.add_faint(&g, &mut ff, 2);
                    full.add_faint(&g, &mut fr, 2);
                }
                assert_eq!(nf > 0, nr > 0, "frame {t}");
                if let Some((ox, oy)) = obj {
                    if t > 100 {
                        let on = |f: &[u8]| {
                            (oy - 2..=oy + 2)
                                .flat_map(|y| (ox - 2..=ox + 2).map(move |x| y * w + x))
                                .filter(|&i| f[i] != 0)
                                .count()
                        };
                        assert!(on(&ff) >= 3, "frame {t}: object lost");
                        assert_eq!(on(&ff), on(&fr), "frame {t}");
                        seen += 1;
                    }
                } else if t > 40 {
                    // The ramp alone is never foreground.
                    assert_eq!(nf, 0, "frame {t}");
                }
            }
            assert_eq!(seen, 49);
            // Both models followed the ramp the same way (away from the object's path).
            let (mut lag, mut gap) = (0f64, 0f64);
            let g = scene(w, h, (239 / 3) as u8, None);
            let mut n = 0;
            for y in 0..h {
                for x in 120..w {
                    let i = y * w + x;
                    lag += g[i] as f64 - fast.luma_at(i) as f64;
                    gap += (fast.luma_at(i) as f64 - full.luma_at(i) as f64).abs();
                    n += 1;
                }
            }
            let (lag, gap) = (lag / n as f64, gap / n as f64);
            // An EMA at 1/32 a frame trails a ⅓-level-a-frame ramp by about 11 levels.
            assert!(lag < 14.0, "background trails the ramp by {lag:.1} levels");
            assert!(
                gap < 1.0,
                "quiet learning is {gap:.2} levels off the full model"
            );
        }
    }

    #[test]
    fn prepared_activity_matches_a_fresh_one() {
        let (w, h) = (96, 64);
        let mut a = Background::new(w, h, Vec::new(), ForegroundParams::default());
        let mut b = Background::new(w, h, Vec::new(), ForegroundParams::default());
        let (mut fa, mut fb) = (Vec::new(), Vec::new());
        for t in 0..60usize {
            let obj = (t >= 45).then(|| (10 + t - 45, 10 + 2 * (t - 45)));
            let g = scene(w, h, 0, obj);
            let ca = a.changed_pixels(&g, 12);
            assert_eq!(a.apply(&g, &mut fa), b.apply(&g, &mut fb));
            assert_eq!(fa, fb, "frame {t}");
            if t > 45 {
                // Two 3×3 squares, one px apart horizontally and two vertically.
                assert!(ca.is_some_and(|c| c >= 6), "frame {t}: {ca:?}");
            }
        }
    }
}
