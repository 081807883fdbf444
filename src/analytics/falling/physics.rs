//! Physics layer: image ↔ facade homography, least-squares fits of the track, and the
//! "is this a falling object" judgement in metres (calibrated) or pixels (uncalibrated).

// Small fixed-size matrix code reads best with explicit indices.
#![allow(clippy::needless_range_loop)]

use super::tracker::Obs;

/// Planar homography (row-major 3×3) mapping image pixels to facade metres `[x, h]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Homography {
    pub h: [[f64; 3]; 3],
    pub inv: [[f64; 3]; 3],
    /// Where the camera stands, once the image size is known ([`Homography::set_image_size`]).
    pub pose: Option<CameraPose>,
}

/// The camera's position in facade coordinates: `along_m` / `height_m` in the facade plane's
/// axes, `dist_m` in front of it. Recovered from the calibration, so an object thrown out
/// towards the camera can be projected back onto the facade.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CameraPose {
    pub along_m: f64,
    pub height_m: f64,
    pub dist_m: f64,
    pub focal_px: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalibError {
    #[error("needs at least 4 calibration points, got {0}")]
    TooFew(usize),
    #[error("calibration {0} points are (nearly) collinear")]
    Collinear(&'static str),
    #[error("calibration points are not finite numbers")]
    NotFinite,
    #[error("calibration is degenerate (the homography cannot be solved)")]
    Degenerate,
}

fn apply(h: &[[f64; 3]; 3], x: f64, y: f64) -> Option<(f64, f64)> {
    let w = h[2][0] * x + h[2][1] * y + h[2][2];
    if w.abs() < 1e-12 {
        return None;
    }
    Some((
        (h[0][0] * x + h[0][1] * y + h[0][2]) / w,
        (h[1][0] * x + h[1][1] * y + h[1][2]) / w,
    ))
}

fn mat_mul(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut o = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            o[i][j] = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    o
}

fn inverse3(m: &[[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    if !det.is_finite() || det.abs() < 1e-15 {
        return None;
    }
    let c =
        |r0: usize, c0: usize, r1: usize, c1: usize| m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0];
    Some([
        [
            c(1, 1, 2, 2) / det,
            -c(0, 1, 2, 2) / det,
            c(0, 1, 1, 2) / det,
        ],
        [
            -c(1, 0, 2, 2) / det,
            c(0, 0, 2, 2) / det,
            -c(0, 0, 1, 2) / det,
        ],
        [
            c(1, 0, 2, 1) / det,
            -c(0, 0, 2, 1) / det,
            c(0, 0, 1, 1) / det,
        ],
    ])
}

/// Hartley normalisation: centroid to origin, mean distance √2. Also returns the smaller /
/// larger eigenvalue ratio of the point scatter (≈0 for collinear points).
fn normaliser(pts: &[[f64; 2]]) -> ([[f64; 3]; 3], f64) {
    let n = pts.len() as f64;
    let cx = pts.iter().map(|p| p[0]).sum::<f64>() / n;
    let cy = pts.iter().map(|p| p[1]).sum::<f64>() / n;
    let md = pts
        .iter()
        .map(|p| ((p[0] - cx).powi(2) + (p[1] - cy).powi(2)).sqrt())
        .sum::<f64>()
        / n;
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for p in pts {
        let (dx, dy) = (p[0] - cx, p[1] - cy);
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    let tr = sxx + syy;
    let det = sxx * syy - sxy * sxy;
    let disc = (tr * tr / 4.0 - det).max(0.0).sqrt();
    let l1 = tr / 2.0 + disc;
    let l2 = tr / 2.0 - disc;
    let ratio = if l1 > 0.0 { (l2 / l1).max(0.0) } else { 0.0 };
    let s = if md > 0.0 { 2f64.sqrt() / md } else { 1.0 };
    (
        [[s, 0.0, -s * cx], [0.0, s, -s * cy], [0.0, 0.0, 1.0]],
        ratio,
    )
}

/// Solve `a x = b` (n×n) by Gaussian elimination with partial pivoting.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    let scale = a
        .iter()
        .flat_map(|r| r.iter())
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(1e-300);
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-10 * scale {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        for r in col + 1..n {
            let f = a[r][col] / a[col][col];
            if f == 0.0 {
                continue;
            }
            for c in col..n {
                a[r][c] -= f * a[col][c];
            }
            b[r] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|j| a[i][j] * x[j]).sum();
        x[i] = (b[i] - s) / a[i][i];
    }
    if x.iter().all(|v| v.is_finite()) {
        Some(x)
    } else {
        None
    }
}

impl Homography {
    /// Least-squares DLT (h33 = 1) on Hartley-normalised points.
    pub fn from_points(img: &[[f64; 2]], world: &[[f64; 2]]) -> Result<Homography, CalibError> {
        let n = img.len().min(world.len());
        if n < 4 {
            return Err(CalibError::TooFew(n));
        }
        if img
            .iter()
            .chain(world)
            .any(|p| !p[0].is_finite() || !p[1].is_finite())
        {
            return Err(CalibError::NotFinite);
        }
        let (ti, ri) = normaliser(img);
        let (tw, rw) = normaliser(world);
        if ri < 1e-4 {
            return Err(CalibError::Collinear("image (px)"));
        }
        if rw < 1e-4 {
            return Err(CalibError::Collinear("facade (m)"));
        }
        let a_pts: Vec<(f64, f64)> = img.iter().filter_map(|p| apply(&ti, p[0], p[1])).collect();
        let b_pts: Vec<(f64, f64)> = world
            .iter()
            .filter_map(|p| apply(&tw, p[0], p[1]))
            .collect();
        // Normal equations of the 2n×8 system.
        let mut ata = vec![vec![0.0; 8]; 8];
        let mut atb = vec![0.0; 8];
        for (&(x, y), &(u, v)) in a_pts.iter().zip(&b_pts) {
            let rows = [
                ([x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y], u),
                ([0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y], v),
            ];
            for (r, rhs) in rows {
                for i in 0..8 {
                    for j in 0..8 {
                        ata[i][j] += r[i] * r[j];
                    }
                    atb[i] += r[i] * rhs;
                }
            }
        }
        let sol = solve(ata, atb).ok_or(CalibError::Degenerate)?;
        let hn = [
            [sol[0], sol[1], sol[2]],
            [sol[3], sol[4], sol[5]],
            [sol[6], sol[7], 1.0],
        ];
        let tw_inv = inverse3(&tw).ok_or(CalibError::Degenerate)?;
        let h = mat_mul(&mat_mul(&tw_inv, &hn), &ti);
        let inv = inverse3(&h).ok_or(CalibError::Degenerate)?;
        // Every calibration point must map in front of the camera and reasonably close.
        for (p, w) in img.iter().zip(world) {
            let (u, v) = apply(&h, p[0], p[1]).ok_or(CalibError::Degenerate)?;
            if !u.is_finite()
                || !v.is_finite()
                || ((u - w[0]).powi(2) + (v - w[1]).powi(2)).sqrt() > 1e3
            {
                return Err(CalibError::Degenerate);
            }
        }
        Ok(Homography { h, inv, pose: None })
    }

    /// Recover the camera pose for an image of `width`×`height` px (square pixels, principal
    /// point at the centre): the facade→image homography is `K [r1 r2 t]`, and r1 ⟂ r2 with
    /// |r1| = |r2| give the focal length. `None` when the calibration cannot say (e.g. a
    /// fronto-parallel view, where the focal length is unobservable) or the result is absurd.
    pub fn camera_pose(&self, width: f64, height: f64) -> Option<CameraPose> {
        let (cx, cy) = (0.5 * (width - 1.0), 0.5 * (height - 1.0));
        let m = &self.inv;
        // Columns of T·M, T moving the principal point to the origin.
        let col = |j: usize| [m[0][j] - cx * m[2][j], m[1][j] - cy * m[2][j], m[2][j]];
        let (a, b, c) = (col(0), col(1), col(2));
        // Two linear equations in w = 1/f², p·w + q = 0: orthogonality and equal norms of r1,
        // r2. Either can be degenerate (no yaw makes the first 0 = 0, no pitch the second), so
        // each is solved alone and weighted by how well it is conditioned.
        let (aa, bb) = (a[0] * a[0] + a[1] * a[1], b[0] * b[0] + b[1] * b[1]);
        let eqs = [
            (a[0] * b[0] + a[1] * b[1], a[2] * b[2], (aa * bb).sqrt()),
            (aa - bb, a[2] * a[2] - b[2] * b[2], aa + bb),
        ];
        let (mut sw, mut sum) = (0.0, 0.0);
        for (p, q, scale) in eqs {
            let cond = (p / scale.max(1e-300)).powi(2);
            let w = -q / p;
            if cond > 1e-8 && w.is_finite() && w > 0.0 {
                sw += cond;
                sum += cond * w;
            }
        }
        if sw <= 0.0 {
            return None;
        }
        let w = sum / sw;
        let f = 1.0 / w.sqrt();
        if !(0.15 * width..=8.0 * width).contains(&f) {
            return None;
        }
        let r1 = [a[0] / f, a[1] / f, a[2]];
        let r2 = [b[0] / f, b[1] / f, b[2]];
        let mut t = [c[0] / f, c[1] / f, c[2]];
        let norm = |v: [f64; 3]| (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        let lam = 2.0 / (norm(r1) + norm(r2));
        // The facade is in front of the camera: positive depth of the world origin.
        let sign = if t[2] < 0.0 { -lam } else { lam };
        let r1 = r1.map(|v| v * sign);
        let r2 = r2.map(|v| v * sign);
        t = t.map(|v| v * sign);
        let r3 = [
            r1[1] * r2[2] - r1[2] * r2[1],
            r1[2] * r2[0] - r1[0] * r2[2],
            r1[0] * r2[1] - r1[1] * r2[0],
        ];
        // C = −Rᵀ t.
        let dot = |r: [f64; 3]| r[0] * t[0] + r[1] * t[1] + r[2] * t[2];
        let pose = CameraPose {
            along_m: -dot(r1),
            height_m: -dot(r2),
            dist_m: dot(r3).abs(),
            focal_px: f,
        };
        // A camera below ground or far above the roofs means the lens bends the calibration more
        // than a pinhole explains (wide-angle barrel distortion): no pose then.
        (pose.dist_m > 1.0
            && pose.dist_m < 2000.0
            && (-3.0..=80.0).contains(&pose.height_m)
            && pose.along_m.is_finite())
        .then_some(pose)
    }

    /// Compute [`pose`](Self::pose) for this image size.
    pub fn set_image_size(&mut self, width: u32, height: u32) {
        self.pose = self.camera_pose(width as f64, height as f64);
    }

    pub fn to_world(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        apply(&self.h, x, y)
    }

    pub fn to_image(&self, x: f64, h: f64) -> Option<(f64, f64)> {
        apply(&self.inv, x, h)
    }
}

/// Quadratic least-squares fit `v(t) = c0 + c1 τ + c2 τ²` with τ = t − t0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quad {
    pub t0: f64,
    pub c: [f64; 3],
    pub rms: f64,
    /// `(AᵀA)⁻¹` entry of the highest coefficient: its variance per unit noise variance.
    pub top_var: f64,
    pub n: usize,
}

impl Quad {
    pub fn at(&self, t: f64) -> f64 {
        let u = t - self.t0;
        self.c[0] + self.c[1] * u + self.c[2] * u * u
    }
    pub fn vel(&self, t: f64) -> f64 {
        self.c[1] + 2.0 * self.c[2] * (t - self.t0)
    }
    /// Second derivative.
    pub fn acc(&self) -> f64 {
        2.0 * self.c[2]
    }
    /// Standard deviation of [`acc`](Self::acc), with the noise taken as the larger of the
    /// fit residual and `floor_sd` (measurement quantisation).
    pub fn acc_sd(&self, floor_sd: f64) -> f64 {
        let dof = self.n.saturating_sub(3).max(1) as f64;
        let sd = (self.rms * (self.n as f64 / dof).sqrt()).max(floor_sd);
        2.0 * sd * self.top_var.max(0.0).sqrt()
    }
}

/// Least-squares polynomial of degree `deg` (1 or 2).
pub fn fit_poly(ts: &[f64], vs: &[f64], deg: usize) -> Option<Quad> {
    let n = ts.len().min(vs.len());
    let k = deg + 1;
    if n < k + 1 || !(1..=2).contains(&deg) {
        return None;
    }
    let t0 = ts[0];
    let mut a = vec![vec![0.0; k]; k];
    let mut b = vec![0.0; k];
    for i in 0..n {
        let u = ts[i] - t0;
        let pw = [1.0, u, u * u];
        for r in 0..k {
            for c in 0..k {
                a[r][c] += pw[r] * pw[c];
            }
            b[r] += pw[r] * vs[i];
        }
    }
    let mut e = vec![0.0; k];
    e[k - 1] = 1.0;
    let top_var = solve(a.clone(), e)?[k - 1];
    let sol = solve(a, b)?;
    let mut c = [0.0; 3];
    c[..k].copy_from_slice(&sol);
    let q0 = Quad {
        t0,
        c,
        rms: 0.0,
        top_var,
        n,
    };
    let rms = ((0..n).map(|i| (q0.at(ts[i]) - vs[i]).powi(2)).sum::<f64>() / n as f64).sqrt();
    Some(Quad { rms, ..q0 })
}

/// Physics thresholds.
#[derive(Clone, Debug)]
pub struct PhysicsParams {
    pub min_points: usize,
    pub min_duration_s: f64,
    /// Accepted downward acceleration in m/s² (gravity minus drag .. gravity plus noise).
    pub acc_min: f64,
    pub acc_max: f64,
    /// Minimum fall seen, metres (calibrated).
    pub min_drop_m: f64,
    /// A dense object's fall seen over less than `min_drop_m` but at least this much (a low
    /// floor seen by a close camera passes through the picture in half a second) is judged
    /// "short drop": falling, but only alarmed when the learned model agrees strongly.
    pub short_drop_m: f64,
    /// Fastest fall (m/s): a brick from the top of a 100 m tower stays below this with drag;
    /// anything faster on the facade plane is a streak near the lens, not a falling object.
    pub max_speed_mps: f64,
    /// Largest horizontal speed along the facade, m/s.
    pub max_vx_m: f64,
    /// Largest fit rms relative to the drop.
    pub max_rel_rms: f64,
    /// Uncalibrated: minimum drop as a fraction of the frame height.
    pub min_drop_frac: f64,
    /// Uncalibrated: minimum track duration (s).
    pub min_duration_uncal_s: f64,
    /// Uncalibrated: minimum relative speed-up a·T / v̄.
    pub min_rel_acc: f64,
    /// Fraction of steps that must go down.
    pub min_monotonic: f64,
    /// The fitted acceleration must exceed this many standard deviations.
    pub min_acc_sigmas: f64,
    /// The fitted apex (zero vertical speed) may lie at most this far inside the track (s).
    pub max_apex_inside_s: f64,
    /// The release point is extrapolated from the first this-many seconds of the track.
    pub origin_fit_s: f64,
    /// Lowest terminal speed of a light falling object (m/s); leaves and snow are slower.
    pub drag_vt_min: f64,
    /// A sideways swing back by more than this (m, plus 1.5 px) is leaf-like.
    pub swing_m: f64,
    /// Largest sideways acceleration (m/s²) of a light object's fall (drag model).
    pub drag_max_side_acc: f64,
    /// A steady (no speed-up seen) descent must last this long (s)...
    pub steady_min_s: f64,
    /// ...at no more than this speed (m/s): faster steady movers are not light objects.
    pub steady_vt_max: f64,
    /// An object judged as thrown out towards the camera must fall at no more than this
    /// (m/s²) in the facade plane after the correction...
    pub thrown_acc_max: f64,
    /// ...over at least this many detections.
    pub thrown_min_points: usize,
}

impl Default for PhysicsParams {
    fn default() -> Self {
        PhysicsParams {
            min_points: 6,
            min_duration_s: 0.2,
            acc_min: 5.0,
            acc_max: 14.0,
            min_drop_m: 2.0,
            short_drop_m: 1.0,
            max_speed_mps: 55.0,
            max_vx_m: 4.0,
            max_rel_rms: 0.08,
            min_drop_frac: 0.10,
            min_duration_uncal_s: 0.4,
            min_rel_acc: 0.25,
            min_monotonic: 0.85,
            min_acc_sigmas: 3.0,
            max_apex_inside_s: 0.12,
            origin_fit_s: 1.0,
            drag_vt_min: 1.5,
            swing_m: 0.3,
            drag_max_side_acc: 2.0,
            steady_min_s: 1.0,
            steady_vt_max: 12.0,
            thrown_acc_max: 11.0,
            thrown_min_points: 8,
        }
    }
}

impl PhysicsParams {
    /// The same fits with every gate open: a curve to draw for a track that was alarmed but
    /// is no longer judged a fall (the picture still needs one). Kept beside the defaults so a
    /// new gate is opened here too.
    pub fn without_gates(&self) -> PhysicsParams {
        PhysicsParams {
            min_monotonic: 0.0,
            max_rel_rms: 10.0,
            min_rel_acc: -1e9,
            acc_min: -1e9,
            acc_max: 1e9,
            min_drop_m: -1e9,
            short_drop_m: -1e9,
            max_speed_mps: 1e9,
            min_drop_frac: -1.0,
            min_duration_uncal_s: 0.0,
            max_vx_m: 1e9,
            min_acc_sigmas: -1e9,
            max_apex_inside_s: 1e9,
            swing_m: 1e9,
            drag_max_side_acc: 1e9,
            ..self.clone()
        }
    }
}

/// Result of the physics judgement of one track.
#[derive(Clone, Debug)]
pub struct Judgement {
    /// Physics says "falling object".
    pub falling: bool,
    /// 0..1 physics plausibility.
    pub score: f64,
    pub reason: &'static str,
    /// Release time (s), release pixel, and (when calibrated) height / facade x in metres.
    pub t_release: f64,
    pub origin_px: (f64, f64),
    pub height_m: Option<f64>,
    pub facade_x_m: Option<f64>,
    /// Fitted downward acceleration (m/s² when calibrated, px/s² otherwise).
    pub acc: f64,
    /// Fitted image-space curves x(t), y(t) for drawing.
    pub fit_x: Option<Quad>,
    pub fit_y: Option<Quad>,
}

impl Judgement {
    fn reject(reason: &'static str) -> Judgement {
        Judgement {
            falling: false,
            score: 0.0,
            reason,
            t_release: 0.0,
            origin_px: (0.0, 0.0),
            height_m: None,
            facade_x_m: None,
            acc: 0.0,
            fit_x: None,
            fit_y: None,
        }
    }
}

const G: f64 = 9.81;

/// `ln cosh x`, stable for large |x|.
fn ln_cosh(x: f64) -> f64 {
    let a = x.abs();
    a + (-2.0 * a).exp().ln_1p() - std::f64::consts::LN_2
}

/// A fall under gravity and quadratic drag, from rest at time `tau`:
/// `h(t) = h0 − (vt²/g)·ln cosh(g·(t − τ)/vt)`. Light objects (bags, paper, cardboard) reach
/// their terminal speed `vt` (2–6 m/s) within half a second, so a quadratic fit sees almost no
/// acceleration; this model sees a fall that starts like gravity and levels off.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DragFit {
    pub h0: f64,
    pub tau: f64,
    pub vt: f64,
    pub rms: f64,
}

impl DragFit {
    pub fn at(&self, t: f64) -> f64 {
        self.h0 - self.vt * self.vt / G * ln_cosh(G * (t - self.tau) / self.vt)
    }
    /// Downward speed at `t` (negative before `tau`: still rising).
    pub fn speed(&self, t: f64) -> f64 {
        self.vt * (G * (t - self.tau) / self.vt).tanh()
    }
}

fn drag_eval(ts: &[f64], hs: &[f64], tau: f64, vt: f64) -> (f64, f64) {
    let k = vt * vt / G;
    let mut sum = 0.0;
    let mut sum2 = 0.0;
    for (&t, &h) in ts.iter().zip(hs) {
        let r = h + k * ln_cosh(G * (t - tau) / vt);
        sum += r;
        sum2 += r * r;
    }
    let n = ts.len().max(1) as f64;
    let h0 = sum / n;
    (h0, (sum2 / n - h0 * h0).max(0.0).sqrt())
}

/// Least-squares [`DragFit`] of heights `hs` (metres, up positive) over `ts`, with the
/// release time searched in `tau_lo..=tau_hi` and the terminal speed in `vt_lo..=vt_hi`.
/// Coarse grid, then a finer one around the best cell (the problem is 2-D and smooth).
pub fn fit_drag(
    ts: &[f64],
    hs: &[f64],
    (tau_lo, tau_hi): (f64, f64),
    (vt_lo, vt_hi): (f64, f64),
) -> Option<DragFit> {
    let n = ts.len().min(hs.len());
    // NaN bounds fail these comparisons too.
    let ordered = tau_hi > tau_lo && vt_hi > vt_lo && vt_lo > 0.0;
    if n < 4 || !ordered {
        return None;
    }
    // At most ~24 points: the shape is smooth, more only costs time (this runs for every
    // slowly-accelerating candidate track on every frame).
    let step = n.div_ceil(24);
    let (ts, hs): (Vec<f64>, Vec<f64>) = (0..n).step_by(step).map(|i| (ts[i], hs[i])).unzip();
    let mut best: Option<DragFit> = None;
    let consider = |best: &mut Option<DragFit>, tau: f64, vt: f64| {
        let (h0, rms) = drag_eval(&ts, &hs, tau, vt);
        if best.map_or(true, |b| rms < b.rms) {
            *best = Some(DragFit { h0, tau, vt, rms });
        }
    };
    let n_vt = 14;
    let r = (vt_hi / vt_lo).ln();
    let n_tau = (((tau_hi - tau_lo) / 0.1).ceil() as usize).clamp(2, 100);
    let dtau = (tau_hi - tau_lo) / n_tau as f64;
    for i in 0..=n_vt {
        let vt = vt_lo * (r * i as f64 / n_vt as f64).exp();
        for j in 0..=n_tau {
            consider(&mut best, tau_lo + dtau * j as f64, vt);
        }
    }
    // Pattern search: τ and vt trade off along a valley, so refine around the best point a few
    // times with shrinking steps rather than once.
    // times: keep the step while the best point moves, halve it when it stays.
    let (mut lvt, mut st) = (r / n_vt as f64, dtau);
    for _ in 0..24 {
        let b = best?;
        for i in -2..=2 {
            let vt = (b.vt * (lvt * i as f64 / 2.0).exp()).clamp(vt_lo, vt_hi);
            for j in -2..=2 {
                let tau = (b.tau + st * j as f64 / 2.0).clamp(tau_lo, tau_hi);
                consider(&mut best, tau, vt);
            }
        }
        if best.is_some_and(|n| n.tau == b.tau && n.vt == b.vt) {
            lvt *= 0.5;
            st *= 0.5;
            if st < 1e-3 {
                break;
            }
        }
    }
    best
}

/// Reversals of direction in `xs` (smoothed over 5 samples) where the motion on both sides
/// of the turn exceeds `a`.
fn sideways_reversals(xs: &[f64], a: f64) -> usize {
    let k = 2usize;
    let sm: Vec<f64> = (0..xs.len())
        .map(|i| {
            let (lo, hi) = (i.saturating_sub(k), (i + k + 1).min(xs.len()));
            xs[lo..hi].iter().sum::<f64>() / (hi - lo) as f64
        })
        .collect();
    let Some(&first) = sm.first() else {
        return 0;
    };
    // Hysteresis: direction is set once the series moved more than `a` from the last extreme.
    let (mut lo, mut hi) = (first, first);
    let mut dir = 0i8;
    let mut reversals = 0;
    for &v in &sm[1..] {
        match dir {
            0 => {
                if v > first + a {
                    dir = 1;
                    hi = v;
                } else if v < first - a {
                    dir = -1;
                    lo = v;
                }
            }
            1 => {
                hi = hi.max(v);
                if v < hi - a {
                    reversals += 1;
                    dir = -1;
                    lo = v;
                }
            }
            _ => {
                lo = lo.min(v);
                if v > lo + a {
                    reversals += 1;
                    dir = 1;
                    hi = v;
                }
            }
        }
    }
    reversals
}

fn monotonic_fraction(vs: &[f64]) -> f64 {
    if vs.len() < 2 {
        return 0.0;
    }
    let down = vs.windows(2).filter(|w| w[1] >= w[0] - 0.5).count();
    down as f64 / (vs.len() - 1) as f64
}

/// Reason of a calibrated fall seen over less than `min_drop_m` (see `short_drop_m`).
pub const SHORT_DROP: &str = "short drop";

/// Judge a track. `frame_h` is the analysis height in px.
pub fn judge(obs: &[Obs], hom: Option<&Homography>, frame_h: f64, p: &PhysicsParams) -> Judgement {
    let j = judge_whole(obs, hom, frame_h, p);
    if j.falling
        || hom.is_none()
        || !matches!(
            j.reason,
            "not monotonic" | "not descending" | "rising at the start"
        )
    {
        return j;
    }
    // Thrown up: the object rises to an apex and then falls. Only the fall after the apex has
    // to look like one; the rise is where it came from. Calibrated cameras only: without the
    // metric gates a glint that rises and sinks on the glazing passed (real office footage).
    match apex_index(obs) {
        Some(k) if obs.len() - k >= p.min_points => {
            let js = judge_whole(&obs[k..], hom, frame_h, p);
            if js.falling {
                js
            } else {
                j
            }
        }
        _ => j,
    }
}

/// Index of the apex of a track that rises first (image y falls) and then comes down, or
/// `None` when it does not: the highest point (3-point median), with a clear rise before it.
fn apex_index(obs: &[Obs]) -> Option<usize> {
    let n = obs.len();
    if n < 5 {
        return None;
    }
    let med = |i: usize| {
        let (a, b, c) = (obs[i - 1].y, obs[i].y, obs[i + 1].y);
        a.max(b).min(a.min(b).max(c))
    };
    let k = (1..n - 1).min_by(|&a, &b| med(a).total_cmp(&med(b)))?;
    let rise = obs[0].y - med(k);
    let fall = obs[n - 1].y - med(k);
    // Two pixels and a tenth of the fall: more than centroid jitter.
    (k >= 2 && rise > 2.0 + 0.1 * fall && fall > 0.0).then_some(k)
}

fn judge_whole(
    obs: &[Obs],
    hom: Option<&Homography>,
    frame_h: f64,
    p: &PhysicsParams,
) -> Judgement {
    let j = judge_plane(obs, hom, frame_h, p);
    if j.falling {
        return j;
    }
    match hom {
        Some(h) if h.pose.is_some() && perspective_sensitive(j.reason) => {
            judge_thrown_out(obs, h, frame_h, p).unwrap_or(j)
        }
        _ => j,
    }
}

/// Rejections an object thrown out towards the camera can cause: seen from below, it climbs
/// the facade's projection as it nears the camera (a false "rise" at the start, a weaker
/// apparent gravity).
fn perspective_sensitive(reason: &str) -> bool {
    matches!(reason, "not monotonic" | "rising at the start")
}

/// Outward speeds tried (m/s), smallest first: the slowest throw that explains the track wins.
const OUTWARD_MPS: [f64; 8] = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0];

/// Judge the track as an object thrown out from the facade at speed `v` towards the camera:
/// project each sighting from the camera through the facade plane back to the object's
/// distance `v·(t − t_release)` in front of it, then judge that in-plane track as usual.
fn judge_thrown_out(
    obs: &[Obs],
    hom: &Homography,
    frame_h: f64,
    p: &PhysicsParams,
) -> Option<Judgement> {
    let pose = hom.pose?;
    // Too short to be accepted as thrown whatever the speed: skip the refits.
    if obs.len() < p.thrown_min_points {
        return None;
    }
    let first = obs.first()?;
    let last = obs.last()?;
    // Still going down the picture overall: the correction only bends the start.
    if last.y - first.y <= 0.0 {
        return None;
    }
    let plane: Vec<Option<(f64, f64)>> = obs.iter().map(|o| hom.to_world(o.x, o.y)).collect();
    for &v in &OUTWARD_MPS {
        // Release time: at the first sighting, then where the corrected fall says.
        let mut t_rel = first.t;
        for _ in 0..2 {
            let moved = unproject(obs, &plane, hom, &pose, v, t_rel)?;
            let j = judge_plane(&moved, Some(hom), frame_h, p);
            // Two more free parameters (speed, release time) buy some clutter a fit: ask for
            // a dense object's fall (gravity, nothing faster) seen over enough points.
            if j.falling
                && j.reason == "ok"
                && j.acc <= p.thrown_acc_max
                && moved.len() >= p.thrown_min_points
            {
                return Some(Judgement {
                    reason: "thrown outward",
                    ..j
                });
            }
            // Released before the track started: move the release back and retry once.
            if j.t_release < first.t - 0.02 && j.t_release > first.t - 1.5 {
                t_rel = j.t_release;
            } else {
                let probe = judge_plane(&moved, Some(hom), frame_h, &p.without_gates());
                if probe.t_release < first.t - 0.02 && probe.t_release > first.t - 1.5 {
                    t_rel = probe.t_release;
                } else {
                    break;
                }
            }
        }
    }
    None
}

/// Sightings re-projected as if the object moved in the facade plane: for an object `z` m in
/// front of the facade, the camera's ray meets the facade at `C + (P − C)·D/(D − z)`.
fn unproject(
    obs: &[Obs],
    plane: &[Option<(f64, f64)>],
    hom: &Homography,
    pose: &CameraPose,
    v: f64,
    t_rel: f64,
) -> Option<Vec<Obs>> {
    let d = pose.dist_m;
    let mut out = Vec::with_capacity(obs.len());
    for (o, w) in obs.iter().zip(plane) {
        let Some((xw, hw)) = *w else { continue };
        let z = v * (o.t - t_rel).max(0.0);
        if z > 0.8 * d {
            return None;
        }
        let k = (d - z) / d;
        let xt = pose.along_m + (xw - pose.along_m) * k;
        let ht = pose.height_m + (hw - pose.height_m) * k;
        let (x, y) = hom.to_image(xt, ht)?;
        out.push(Obs { x, y, ..*o });
    }
    Some(out)
}

fn judge_plane(
    obs: &[Obs],
    hom: Option<&Homography>,
    frame_h: f64,
    p: &PhysicsParams,
) -> Judgement {
    if obs.len() < p.min_points {
        return Judgement::reject("too few points");
    }
    let t0 = obs[0].t;
    let t1 = obs[obs.len() - 1].t;
    let dur = t1 - t0;
    if dur < p.min_duration_s {
        return Judgement::reject("too short");
    }
    let ts: Vec<f64> = obs.iter().map(|o| o.t).collect();
    let xs: Vec<f64> = obs.iter().map(|o| o.x).collect();
    let ys: Vec<f64> = obs.iter().map(|o| o.y).collect();
    let (fx, fy) = match (fit_poly(&ts, &xs, 2), fit_poly(&ts, &ys, 2)) {
        (Some(a), Some(b)) => (a, b),
        _ => return Judgement::reject("fit failed"),
    };
    // Image-space checks apply in both modes: an object falling down the facade moves down
    // the image (y grows) for a camera below looking up.
    let drop_px = ys[ys.len() - 1] - ys[0];
    if drop_px <= 0.0 {
        return Judgement::reject("not descending");
    }
    if monotonic_fraction(&ys) < p.min_monotonic {
        return Judgement::reject("not monotonic");
    }
    let dx_px = (xs[xs.len() - 1] - xs[0]).abs();
    // Calibrated, the metric gates bound the sideways speed; in the picture a throw seen
    // briefly from close by can cross more than it falls.
    let sideways = if hom.is_some() { 2.0 } else { 0.8 };
    if dx_px > sideways * drop_px + 10.0 {
        return Judgement::reject("mostly horizontal");
    }
    // Sideways motion of a falling object is near-uniform: no back-and-forth (insects,
    // leaves, birds turning), and far less sideways than downward acceleration.
    let x_path: f64 = xs.windows(2).map(|w| (w[1] - w[0]).abs()).sum();
    if x_path > dx_px + 1.0 * xs.len() as f64 + 0.1 * drop_px {
        return Judgement::reject("sideways back-and-forth");
    }
    match hom {
        Some(h) => judge_metric(obs, h, fx, fy, p),
        None => judge_image(&ts, &ys, fx, fy, drop_px, frame_h, p),
    }
}

fn judge_image(
    ts: &[f64],
    ys: &[f64],
    fx: Quad,
    fy: Quad,
    drop_px: f64,
    frame_h: f64,
    p: &PhysicsParams,
) -> Judgement {
    let t0 = ts[0];
    let t1 = ts[ts.len() - 1];
    let dur = t1 - t0;
    if drop_px < p.min_drop_frac * frame_h {
        return Judgement::reject("drop too small");
    }
    // Without a scale, a short track can be anything: ask for a longer look.
    if dur < p.min_duration_uncal_s {
        return Judgement::reject("too short (uncalibrated)");
    }
    // Keystone (a camera looking up) slants vertical falls, so some sideways acceleration
    // proportional to the downward one is expected; more than that is not a fall.
    if fx.acc().abs() > fy.acc().abs() + 2.0 * fx.acc_sd(0.5) {
        return Judgement::reject("sideways acceleration");
    }
    let a = fy.acc();
    let vmean = drop_px / dur;
    let rel_acc = a * dur / vmean.max(1e-6);
    if rel_acc < p.min_rel_acc {
        return Judgement::reject("no acceleration");
    }
    if rel_acc > 4.0 {
        return Judgement::reject("implausible acceleration");
    }
    if a < p.min_acc_sigmas * fy.acc_sd(0.5) {
        return Judgement::reject("acceleration not significant");
    }
    if fy.rms > p.max_rel_rms * drop_px + 1.5 {
        return Judgement::reject("inconsistent fit");
    }
    let _ = ys;
    // Release: where the fitted vertical speed is zero (dropped from rest), if it lies
    // before the track start within a physically sensible time, else the track start.
    let mut tr = t0;
    if a > 0.0 {
        let tz = fy.t0 - fy.c[1] / a;
        if tz > t0 + p.max_apex_inside_s {
            return Judgement::reject("rising at the start");
        }
        if tz <= t0 && tz > t0 - 3.0 {
            tr = tz;
        }
    }
    let score = (0.5
        + 0.25 * (rel_acc / 1.0).min(1.0)
        + 0.25 * (1.0 - fy.rms / (p.max_rel_rms * drop_px + 1.5)))
        .clamp(0.0, 1.0);
    Judgement {
        falling: true,
        score,
        reason: "ok",
        t_release: tr,
        origin_px: (fx.at(tr), fy.at(tr)),
        height_m: None,
        facade_x_m: None,
        acc: a,
        fit_x: Some(fx),
        fit_y: Some(fy),
    }
}

fn judge_metric(obs: &[Obs], hom: &Homography, fx: Quad, fy: Quad, p: &PhysicsParams) -> Judgement {
    let mut ts = Vec::with_capacity(obs.len());
    let mut wx = Vec::with_capacity(obs.len());
    let mut wh = Vec::with_capacity(obs.len());
    for o in obs {
        if let Some((x, h)) = hom.to_world(o.x, o.y) {
            ts.push(o.t);
            wx.push(x);
            wh.push(h);
        }
    }
    if ts.len() < p.min_points {
        return Judgement::reject("outside calibration");
    }
    let (qx, qh, qx2) = match (
        fit_poly(&ts, &wx, 1),
        fit_poly(&ts, &wh, 2),
        fit_poly(&ts, &wx, 2),
    ) {
        (Some(a), Some(b), Some(c)) => (a, b, c),
        _ => return Judgement::reject("fit failed"),
    };
    let drop_m = wh[0] - wh[wh.len() - 1];
    let short = drop_m < p.min_drop_m;
    if drop_m < p.short_drop_m.min(p.min_drop_m) {
        return Judgement::reject("drop too small");
    }
    // Half a pixel of quantisation, in metres at the track's scale.
    let m_per_px = drop_m / (obs[obs.len() - 1].y - obs[0].y).abs().max(1.0);
    // Leaves and feathers swing from side to side as they fall; a thrown or dropped object
    // drifts one way. One clear reversal of the (lightly smoothed) sideways motion is enough.
    let swing = p.swing_m + 1.5 * m_per_px;
    if sideways_reversals(&wx, swing) > 0 {
        return Judgement::reject("sideways swing (leaf-like)");
    }
    let a = -qh.acc(); // downward positive
    if -qh.vel(ts[ts.len() - 1]) > p.max_speed_mps {
        return Judgement::reject("faster than a fall");
    }
    if short && a < p.acc_min {
        // A light object needs the longer look (see `judge_drag`).
        return Judgement::reject("drop too small");
    }
    if a < p.acc_min {
        // Too little acceleration for a dense object: maybe a light one at terminal speed.
        let m = MetricTrack {
            ts: &ts,
            wx: &wx,
            wh: &wh,
            qx,
            qx2,
            drop_m,
            m_per_px,
        };
        return judge_drag(obs, hom, &m, fx, fy, p);
    }
    if a > p.acc_max {
        return Judgement::reject("acceleration not gravity-like");
    }
    if a < p.min_acc_sigmas * qh.acc_sd(0.5 * m_per_px) {
        return Judgement::reject("acceleration not significant");
    }
    if qx.c[1].abs() > p.max_vx_m {
        return Judgement::reject("horizontal speed too high");
    }
    // On the facade plane the sideways motion of a falling object is near-uniform.
    if qx2.acc().abs() > 0.5 * a + 2.0 * qx2.acc_sd(0.5 * m_per_px) {
        return Judgement::reject("sideways acceleration");
    }
    if qh.rms > p.max_rel_rms * drop_m + 0.15 {
        return Judgement::reject("inconsistent fit");
    }
    let t0 = ts[0];
    // dh/dt = c1 + 2 c2 τ = 0 → release from rest.
    let mut tr = t0;
    let tz = qh.t0 - qh.c[1] / (2.0 * qh.c[2]);
    if tz > t0 + p.max_apex_inside_s {
        return Judgement::reject("rising at the start");
    }
    if tz <= t0 && tz > t0 - 3.0 {
        tr = tz;
    }
    // Extrapolate the release from the early part of the fall only: over a long track drag
    // flattens the quadratic and pushes the fitted apex too high.
    let (mut h0, mut x0) = (qh.at(tr), qx.at(tr));
    let early = ts.iter().take_while(|&&t| t <= t0 + p.origin_fit_s).count();
    if early >= p.min_points && early < ts.len() {
        if let (Some(eh), Some(ex)) = (
            fit_poly(&ts[..early], &wh[..early], 2),
            fit_poly(&ts[..early], &wx[..early], 1),
        ) {
            if eh.c[2] < 0.0 {
                let tze = eh.t0 - eh.c[1] / (2.0 * eh.c[2]);
                let tre = if tze <= t0 && tze > t0 - 3.0 { tze } else { t0 };
                tr = tre;
                h0 = eh.at(tre);
                x0 = ex.at(tre);
            }
        }
    }
    let origin_px = hom.to_image(x0, h0).unwrap_or((fx.at(tr), fy.at(tr)));
    let g_like = 1.0 - ((a - 9.0).abs() / 6.0).min(1.0);
    let fit_q = 1.0 - (qh.rms / (p.max_rel_rms * drop_m + 0.15)).min(1.0);
    let score = (0.5 + 0.3 * g_like + 0.2 * fit_q).clamp(0.0, 1.0);
    Judgement {
        falling: true,
        score,
        reason: if short { SHORT_DROP } else { "ok" },
        t_release: tr,
        origin_px,
        height_m: Some(h0),
        facade_x_m: Some(x0),
        acc: a,
        fit_x: Some(fx),
        fit_y: Some(fy),
    }
}

/// A calibrated track in facade metres with the fits `judge_metric` already made.
#[derive(Clone, Copy)]
struct MetricTrack<'a> {
    ts: &'a [f64],
    wx: &'a [f64],
    wh: &'a [f64],
    /// Linear and quadratic fits of the sideways position.
    qx: Quad,
    qx2: Quad,
    drop_m: f64,
    /// Metres per pixel at the track's scale.
    m_per_px: f64,
}

/// Calibrated judgement of a fall that levels off at a low terminal speed (bags, paper).
/// Either the speed-up from rest is seen (the drag model fits clearly better than uniform
/// motion), or a long, straight, steady descent at a light object's terminal speed is seen.
fn judge_drag(
    obs: &[Obs],
    hom: &Homography,
    m: &MetricTrack,
    fx: Quad,
    fy: Quad,
    p: &PhysicsParams,
) -> Judgement {
    let MetricTrack {
        ts,
        wx,
        wh,
        qx,
        qx2,
        drop_m,
        m_per_px,
    } = *m;
    let t0 = ts[0];
    let t1 = ts[ts.len() - 1];
    let dur = t1 - t0;
    let tol = p.max_rel_rms * drop_m + 0.15;
    if qx.c[1].abs() > p.max_vx_m {
        return Judgement::reject("horizontal speed too high");
    }
    // A bag drifts sideways at a near-steady speed; a swinging leaf speeds up and slows down
    // sideways about as hard as it sinks.
    if qx2.acc().abs() > p.drag_max_side_acc + 2.0 * qx2.acc_sd(0.5 * m_per_px) {
        return Judgement::reject("sideways acceleration (leaf-like)");
    }
    let Some(df) = fit_drag(
        ts,
        wh,
        (t0 - 3.0, t0 + p.max_apex_inside_s),
        (p.drag_vt_min, 60.0),
    ) else {
        return Judgement::reject("fit failed");
    };
    if df.rms > tol {
        return Judgement::reject("inconsistent drag fit");
    }
    let Some(line) = fit_poly(ts, wh, 1) else {
        return Judgement::reject("fit failed");
    };
    let v0 = df.speed(t0);
    let speed_up = v0 < 0.6 * df.vt && line.rms > 1.5 * df.rms + 0.02;
    if !speed_up {
        // Steady descent only: a light object seen after it reached terminal speed. Birds
        // and insects rarely keep a straight, uniform, slow vertical line this long.
        if dur < p.steady_min_s {
            return Judgement::reject("steady descent too short");
        }
        if drop_m < 1.5 * p.min_drop_m {
            return Judgement::reject("drop too small");
        }
        if df.vt > p.steady_vt_max {
            return Judgement::reject("acceleration not gravity-like");
        }
        if qx.c[1].abs() > 0.5 * df.vt.max(1.0) {
            return Judgement::reject("slanted steady descent");
        }
        if line.rms > tol {
            return Judgement::reject("unsteady descent");
        }
    }
    let (tr, h0, x0) = if speed_up && df.tau <= t0 && df.tau > t0 - 3.0 {
        (df.tau, df.h0, qx.at(df.tau))
    } else {
        // Released at or above the first sighting: report that (a lower bound).
        (t0, wh[0], wx[0])
    };
    let origin_px = hom.to_image(x0, h0).unwrap_or((obs[0].x, obs[0].y));
    let fit_q = 1.0 - (df.rms / tol).min(1.0);
    let score = (0.45 + if speed_up { 0.15 } else { 0.0 } + 0.15 * fit_q).clamp(0.0, 1.0);
    Judgement {
        falling: true,
        score,
        reason: if speed_up {
            "drag fall"
        } else {
            "steady descent"
        },
        t_release: tr,
        origin_px,
        height_m: Some(h0),
        facade_x_m: Some(x0),
        acc: G * (1.0 - (v0 / df.vt).powi(2)).max(0.0),
        fit_x: Some(fx),
        fit_y: Some(fy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drag_heights(ts: &[f64], h0: f64, tau: f64, vt: f64) -> Vec<f64> {
        let f = DragFit {
            h0,
            tau,
            vt,
            rms: 0.0,
        };
        ts.iter().map(|&t| f.at(t)).collect()
    }

    #[test]
    fn drag_fit_recovers_terminal_speed_and_release() {
        let ts: Vec<f64> = (0..60).map(|i| 1.0 + i as f64 * 0.04).collect();
        let hs = drag_heights(&ts, 20.0, 0.9, 3.5);
        let f = fit_drag(&ts, &hs, (ts[0] - 3.0, ts[0] + 0.12), (1.5, 60.0)).unwrap();
        assert!((f.vt - 3.5).abs() < 0.2, "{f:?}");
        assert!((f.tau - 0.9).abs() < 0.05, "{f:?}");
        assert!((f.h0 - 20.0).abs() < 0.2, "{f:?}");
        assert!(f.rms < 0.02, "{f:?}");
    }

    /// A plastic bag (terminal speed 3.5 m/s) from 12 m: the quadratic test sees almost no
    /// acceleration, the drag model accepts it and puts the release near 12 m.
    #[test]
    fn a_light_object_at_terminal_speed_is_a_fall() {
        // Identity-like calibration: 10 px per metre, image y down, h = (600 - y) / 10.
        let img = [[0.0, 600.0], [1000.0, 600.0], [1000.0, 0.0], [0.0, 0.0]];
        let world = [[0.0, 0.0], [100.0, 0.0], [100.0, 60.0], [0.0, 60.0]];
        let hom = Homography::from_points(&img, &world).unwrap();
        let ts: Vec<f64> = (0..60).map(|i| 0.08 + i as f64 * 0.04).collect();
        let hs = drag_heights(&ts, 12.0, 0.0, 3.5);
        let obs: Vec<Obs> = ts
            .iter()
            .zip(&hs)
            .map(|(&t, &h)| Obs {
                t,
                x: 300.0 + 2.0 * t,
                y: 600.0 - 10.0 * h,
                area: 12,
            })
            .collect();
        let j = judge(&obs, Some(&hom), 720.0, &PhysicsParams::default());
        assert!(j.falling, "{}", j.reason);
        assert_eq!(j.reason, "drag fall");
        let h = j.height_m.unwrap();
        assert!((h - 12.0).abs() < 0.6, "release height {h}");
        // A uniform descent seen only briefly is not enough.
        let short: Vec<Obs> = (0..15)
            .map(|i| Obs {
                t: i as f64 * 0.04,
                x: 300.0,
                y: 400.0 + 35.0 * i as f64 * 0.04 * 2.0, // 7 m/s, 4.2 m in 0.6 s
                area: 12,
            })
            .collect();
        let j = judge(&short, Some(&hom), 720.0, &PhysicsParams::default());
        assert!(!j.falling, "uniform 0.6 s descent accepted: {}", j.reason);
    }

    /// A pinhole camera on the ground 25 m from the facade, 1.5 m up, pitched 35° up, f = 800 px,
    /// 1280×720. Returns the image point of a world point (along, height, in front of the facade).
    fn pinhole(p: [f64; 3]) -> (f64, f64) {
        let (s, c) = 35f64.to_radians().sin_cos();
        let d = [p[0], p[1] - 1.5, p[2] - 25.0];
        let xc = d[0];
        let yc = -c * d[1] - s * d[2];
        let zc = s * d[1] - c * d[2];
        (639.5 + 800.0 * xc / zc, 359.5 + 800.0 * yc / zc)
    }

    fn pinhole_homography() -> Homography {
        let mut img = Vec::new();
        let mut world = Vec::new();
        for x in [-15.0, -5.0, 5.0, 15.0] {
            for h in [8.0, 18.0, 28.0, 38.0] {
                let (u, v) = pinhole([x, h, 0.0]);
                img.push([u, v]);
                world.push([x, h]);
            }
        }
        let mut hom = Homography::from_points(&img, &world).unwrap();
        hom.set_image_size(1280, 720);
        hom
    }

    #[test]
    fn camera_pose_is_recovered_from_the_calibration() {
        let pose = pinhole_homography().pose.expect("pose");
        assert!((pose.focal_px - 800.0).abs() < 2.0, "{pose:?}");
        assert!((pose.dist_m - 25.0).abs() < 0.1, "{pose:?}");
        assert!((pose.height_m - 1.5).abs() < 0.1, "{pose:?}");
        assert!(pose.along_m.abs() < 0.1, "{pose:?}");
        // A fronto-parallel, affine calibration has no perspective to read a pose from.
        let img = [[0.0, 600.0], [1000.0, 600.0], [1000.0, 0.0], [0.0, 0.0]];
        let world = [[0.0, 0.0], [100.0, 0.0], [100.0, 60.0], [0.0, 60.0]];
        let mut flat = Homography::from_points(&img, &world).unwrap();
        flat.set_image_size(1280, 720);
        assert!(flat.pose.is_none(), "{:?}", flat.pose);
    }

    /// Thrown out at 3 m/s from 30 m: seen from below, the object first climbs the facade's
    /// projection. Judged in the facade plane it "rises at the start"; projected back with
    /// the recovered camera pose it is a fall from about 30 m.
    #[test]
    fn an_object_thrown_towards_the_camera_is_a_fall_from_its_window() {
        let hom = pinhole_homography();
        let obs: Vec<Obs> = (0..40)
            .map(|i| {
                let t = i as f64 * 0.04;
                let p = [3.0 + 0.3 * t, 30.0 + 0.3 * t - 0.5 * G * t * t, 3.0 * t];
                let (x, y) = pinhole(p);
                Obs {
                    t: 2.0 + t,
                    x,
                    y,
                    area: 20,
                }
            })
            .collect();
        let params = PhysicsParams::default();
        let plane = judge_plane(&obs, Some(&hom), 720.0, &params);
        assert!(!plane.falling, "judged in the plane: {}", plane.reason);
        let j = judge(&obs, Some(&hom), 720.0, &params);
        assert!(j.falling, "{}", j.reason);
        assert_eq!(j.reason, "thrown outward");
        let h = j.height_m.unwrap();
        assert!((h - 30.0).abs() < 1.5, "release height {h}");
        assert!((j.acc - G).abs() < 1.5, "acceleration {}", j.acc);
        // The same path without the pose (a calibration that cannot give one) stays rejected.
        let mut no_pose = hom.clone();
        no_pose.pose = None;
        assert!(!judge(&obs, Some(&no_pose), 720.0, &params).falling);
    }
}
