//! Track-before-detect for faint and small falling objects.
//!
//! At night (sensor noise σ 5-10), under a rain veil or at low contrast the object is often
//! below the per-pixel foreground threshold on most frames, so the blob tracker never sees
//! it. Here the frame is reduced to cell means (`cell`×`cell` px, which cuts white noise
//! `cell`-fold) and each cell keeps its own background and its own temporal noise level (a
//! running mean absolute frame-to-frame change, clipped so passing objects barely move it):
//! lit windows, dark walls and sky each get their own level. The signed, noise-normalised
//! difference `z` of every cell is the evidence (either sign along one path: an object
//! crossing from a dark window onto a light wall changes sign).
//!
//! Cells well above their noise that changed since the last frame (local maxima) are
//! *seeds*. Pairs of seeds on consecutive frames start path hypotheses; a hypothesis is
//! extended along its predicted ballistic path (constant velocity plus the image-plane
//! gravity that the calibration gives at that place while young, a quadratic fit once it
//! has four points), taking a seed in its gate or, failing that, *sub-threshold* evidence
//! at the predicted cell. So evidence accumulates along the path over many
//! frames, and a hypothesis survives short gaps (the object passing a wall of its own
//! brightness, a window frame). Rain streaks do not line up on one parabola for ten frames,
//! and random noise seeds rarely do: a hypothesis is only offered for judgement once it
//! has enough points, enough seeds and enough mean evidence. The analytic then judges it
//! with the same physics, rain and model tests as a blob track.
//!
//! Pure computation on the frame; no I/O.

use super::physics::{fit_poly, Homography};
use super::tracker::Obs;

#[derive(Clone, Debug)]
pub struct TbdParams {
    /// Cell size in px; 0 = about width / 320 (3 px at 960, 4 at 1280, 6 at 1920).
    pub cell: usize,
    /// A seed is at least this many noise levels from the cell's background...
    pub seed_z: f32,
    /// ...and changed from the previous frame by this many noise levels (×√2).
    pub step_z: f32,
    /// Sub-threshold evidence that extends a hypothesis at its predicted place.
    pub weak_z: f32,
    /// Noise level floor (levels of a cell mean): H.264 flattens static areas to no noise.
    pub noise_floor: f32,
    /// Smallest background difference of a seed (levels).
    pub seed_min_levels: f32,
    /// Most seeds per frame (the strongest).
    pub max_seeds: usize,
    /// Most live hypotheses (the best scoring are kept).
    pub max_hyps: usize,
    /// Largest image speed of a falling object (px/s at 1280 px width).
    pub max_speed_px_s: f64,
    /// A hypothesis is offered for judgement with at least this many points...
    pub min_points: usize,
    /// ...of which this many are seeds...
    pub min_seeds: usize,
    /// ...and this mean |z| over its points.
    pub min_mean_z: f32,
    /// Frames without evidence a hypothesis of ≥ 4 points survives.
    pub max_misses: u32,
    /// A cell that held a seed on more than this share of recent frames (≈ 1/32 decay)
    /// seeds nothing: flicker, swaying edges.
    pub max_hot: f32,
    /// No path starts before the cells' noise levels have settled: this many frames...
    pub warmup_frames: u64,
    /// ...and this long (s) after the first frame. The levels start from a guess and the
    /// background from the first frame, so early `z` values are not noise-normalised yet.
    pub warmup_s: f64,
}

impl Default for TbdParams {
    fn default() -> Self {
        TbdParams {
            cell: 0,
            seed_z: 4.0,
            step_z: 0.75,
            weak_z: 2.5,
            noise_floor: 0.6,
            seed_min_levels: 3.0,
            max_seeds: 400,
            max_hyps: 3000,
            max_speed_px_s: 2400.0,
            min_points: 7,
            min_seeds: 3,
            min_mean_z: 3.5,
            max_misses: 2,
            max_hot: 0.06,
            warmup_frames: 50,
            warmup_s: 2.0,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Seed {
    cx: usize,
    cy: usize,
    x: f64,
    y: f64,
    z: f32,
    area: u32,
}

#[derive(Clone, Copy, Debug)]
struct Pt {
    t: f64,
    x: f64,
    y: f64,
    area: u32,
}

/// One path hypothesis.
#[derive(Clone, Debug)]
pub struct Hyp {
    pub id: u64,
    pts: Vec<Pt>,
    misses: u32,
    nseed: usize,
    zsum: f32,
    /// Seed index taken this frame (dedup of hypotheses that share their last points).
    last_seed: Option<usize>,
    prev_seed: Option<usize>,
    /// Set by the analytic once it raised an alarm for this hypothesis.
    pub alarmed: Option<u64>,
    /// Set when the analytic decided this is not a falling object.
    pub rejected: bool,
}

impl Hyp {
    pub fn len(&self) -> usize {
        self.pts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.pts.is_empty()
    }
    pub fn misses(&self) -> u32 {
        self.misses
    }
    /// The path as tracker observations (full-resolution pixels).
    pub fn obs(&self) -> Vec<Obs> {
        self.pts
            .iter()
            .map(|p| Obs {
                t: p.t,
                x: p.x,
                y: p.y,
                area: p.area,
            })
            .collect()
    }
    pub fn last_t(&self) -> f64 {
        self.pts.last().map_or(0.0, |p| p.t)
    }
    fn score(&self) -> f32 {
        self.zsum + 2.0 * self.nseed as f32
    }
}

pub struct Tbd {
    p: TbdParams,
    cell: usize,
    cw: usize,
    ch: usize,
    /// Cells that contain a masked pixel take no part.
    ok: Vec<bool>,
    mean: Vec<f32>,
    prev: Vec<f32>,
    bg: Vec<f32>,
    /// Running mean |frame-to-frame change| of the cell mean (≈ 1.13 σ for white noise).
    mad: Vec<f32>,
    /// Running mean |difference from the background| (≈ 0.8 σ): also sees what the frame
    /// difference misses — sub-pixel sway of edges, exposure drift, temporally correlated
    /// (compressed) noise.
    dev: Vec<f32>,
    /// How often the cell held a seed lately: window edges under sway and flicker do so
    /// again and again, a falling object once.
    hot: Vec<f32>,
    z: Vec<f32>,
    frames: u64,
    seeds: Vec<Seed>,
    prev_seeds: Vec<Seed>,
    /// Seed index per cell for this frame's seeds (u32::MAX = none).
    seed_at: Vec<u32>,
    prev_seed_at: Vec<u32>,
    typical_seeds: f32,
    pub hyps: Vec<Hyp>,
    next_id: u64,
    last_t: Option<f64>,
    /// Media time of the first frame since the last reset.
    start_t: Option<f64>,
    /// Speed scale for this resolution (width / 1280).
    px_scale: f64,
    row: Vec<u32>,
}

impl Tbd {
    /// `mask`: 255 = analysed (width·height, as the background's), or empty for none.
    /// `level` keeps hypothesis ids of several instances apart.
    pub fn new(width: usize, height: usize, mask: &[u8], p: TbdParams, level: u64) -> Tbd {
        let cell = if p.cell > 0 {
            p.cell
        } else {
            ((width as f64 / 320.0).round() as usize).clamp(2, 8)
        };
        let cw = (width / cell).max(1);
        let ch = (height / cell).max(1);
        let mut ok = vec![true; cw * ch];
        if mask.len() == width * height {
            for (i, &m) in mask.iter().enumerate() {
                if m == 0 {
                    let (x, y) = (i % width, i / width);
                    let (cx, cy) = (x / cell, y / cell);
                    if cx < cw && cy < ch {
                        ok[cy * cw + cx] = false;
                    }
                }
            }
        }
        let n = cw * ch;
        Tbd {
            p,
            cell,
            cw,
            ch,
            ok,
            mean: vec![0.0; n],
            prev: vec![0.0; n],
            bg: vec![0.0; n],
            mad: vec![1.0; n],
            dev: vec![1.0; n],
            hot: vec![0.0; n],
            z: vec![0.0; n],
            frames: 0,
            seeds: Vec::new(),
            prev_seeds: Vec::new(),
            seed_at: vec![u32::MAX; n],
            prev_seed_at: vec![u32::MAX; n],
            typical_seeds: 0.0,
            hyps: Vec::new(),
            next_id: 1 + (level << 40),
            last_t: None,
            start_t: None,
            px_scale: width as f64 / 1280.0,
            row: vec![0; cw],
        }
    }

    pub fn cell(&self) -> usize {
        self.cell
    }

    /// Forget the background (after a global change); hypotheses are returned to be ended.
    pub fn reset(&mut self) -> Vec<Hyp> {
        self.frames = 0;
        self.last_t = None;
        self.start_t = None;
        self.seeds.clear();
        self.prev_seeds.clear();
        self.seed_at.iter_mut().for_each(|s| *s = u32::MAX);
        self.prev_seed_at.iter_mut().for_each(|s| *s = u32::MAX);
        std::mem::take(&mut self.hyps)
    }

    /// Cell means of `gray` (width·height), the noise-normalised difference and this frame's
    /// seeds. Cheap: one pass of sums over the frame and one over the cells.
    pub fn observe(&mut self, gray: &[u8], width: usize) {
        let c = self.cell;
        let (cw, ch) = (self.cw, self.ch);
        if width < cw * c || gray.len() < width * ch * c {
            return;
        }
        let inv = 1.0 / (c * c) as f32;
        for cy in 0..ch {
            self.row.iter_mut().for_each(|v| *v = 0);
            for y in cy * c..cy * c + c {
                let r = &gray[y * width..y * width + cw * c];
                for (acc, px) in self.row.iter_mut().zip(r.chunks_exact(c)) {
                    *acc += px.iter().map(|&v| v as u32).sum::<u32>();
                }
            }
            for (m, &s) in self.mean[cy * cw..cy * cw + cw].iter_mut().zip(&self.row) {
                *m = s as f32 * inv;
            }
        }
        std::mem::swap(&mut self.seeds, &mut self.prev_seeds);
        std::mem::swap(&mut self.seed_at, &mut self.prev_seed_at);
        for s in &self.seeds {
            self.seed_at[s.cy * cw + s.cx] = u32::MAX;
        }
        self.seeds.clear();
        if self.frames == 0 {
            self.bg.copy_from_slice(&self.mean);
            self.prev.copy_from_slice(&self.mean);
            self.mad.iter_mut().for_each(|m| *m = 1.0);
            self.dev.iter_mut().for_each(|m| *m = 1.0);
            self.hot.iter_mut().for_each(|m| *m = 0.0);
            self.z.iter_mut().for_each(|z| *z = 0.0);
            self.frames = 1;
            return;
        }
        self.frames += 1;
        // The noise estimate settles fast while young, then follows slowly.
        let (ka, kb) = if self.frames < 25 {
            (0.2, 0.2)
        } else {
            (1.0 / 32.0, 1.0 / 16.0)
        };
        let floor = self.p.noise_floor;
        let step_k = self.p.step_z * std::f32::consts::SQRT_2;
        let mut cand: Vec<(usize, f32)> = Vec::new();
        for i in 0..cw * ch {
            let m = self.mean[i];
            let sd = (self.mad[i] * (1.0 / 1.128))
                .max(self.dev[i] * 1.25)
                .max(floor);
            let d = m - self.bg[i];
            let z = if self.ok[i] { d / sd } else { 0.0 };
            self.z[i] = z;
            let step = (m - self.prev[i]).abs();
            let strong = z.abs() >= self.p.seed_z
                && d.abs() >= self.p.seed_min_levels
                && step >= step_k * sd;
            if strong && self.hot[i] < self.p.max_hot {
                cand.push((i, z));
            }
            self.hot[i] += ((strong as u8 as f32) - self.hot[i]) * (1.0 / 32.0);
            // Clipped so an object crossing the cell barely raises the noise level.
            self.mad[i] += (step.min(4.0 * self.mad[i] + 1.0) - self.mad[i]) * ka;
            self.dev[i] += (d.abs().min(4.0 * self.dev[i] + 1.0) - self.dev[i]) * ka;
            // Slower where something stands out, so a brief object is not learnt.
            let kbg = if z.abs() > self.p.seed_z {
                kb * 0.25
            } else {
                kb
            };
            self.bg[i] += d * kbg;
            self.prev[i] = m;
        }
        // Local maxima of |z| (3×3), strongest first.
        let zz = &self.z;
        let mut seeds: Vec<(usize, f32)> = cand
            .into_iter()
            .filter(|&(i, z)| {
                let (cx, cy) = (i % cw, i / cw);
                let a = z.abs();
                for ny in cy.saturating_sub(1)..(cy + 2).min(ch) {
                    for nx in cx.saturating_sub(1)..(cx + 2).min(cw) {
                        let j = ny * cw + nx;
                        let b = zz[j].abs();
                        if j != i && (b > a || (b == a && j < i)) {
                            return false;
                        }
                    }
                }
                true
            })
            .collect();
        seeds.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        seeds.truncate(self.p.max_seeds);
        for (i, z) in seeds {
            let (cx, cy) = (i % cw, i / cw);
            let (x, y, area) = self.centroid(cx, cy, z.signum());
            self.seed_at[i] = self.seeds.len() as u32;
            self.seeds.push(Seed {
                cx,
                cy,
                x,
                y,
                z,
                area,
            });
        }
    }

    /// Evidence-weighted centroid (px) of the 3×3 cells around `(cx, cy)` for sign `s`, and
    /// the area (px) of the cells with evidence.
    fn centroid(&self, cx: usize, cy: usize, s: f32) -> (f64, f64, u32) {
        let (cw, ch) = (self.cw, self.ch);
        let (mut sw, mut sx, mut sy, mut n) = (0.0f64, 0.0f64, 0.0f64, 0u32);
        for ny in cy.saturating_sub(1)..(cy + 2).min(ch) {
            for nx in cx.saturating_sub(1)..(cx + 2).min(cw) {
                let v = s * self.z[ny * cw + nx];
                if v > 1.5 {
                    let w = (v - 1.5) as f64;
                    sw += w;
                    sx += w * nx as f64;
                    sy += w * ny as f64;
                }
                if v >= self.p.weak_z {
                    n += 1;
                }
            }
        }
        let c = self.cell as f64;
        let (fx, fy) = if sw > 0.0 {
            (sx / sw, sy / sw)
        } else {
            (cx as f64, cy as f64)
        };
        (
            (fx + 0.5) * c,
            (fy + 0.5) * c,
            (n.max(1) * (self.cell * self.cell) as u32).max(1),
        )
    }

    /// Image-plane acceleration (px/s²) of a free fall at `(x, y)`, from the calibration.
    fn gravity(hom: Option<&Homography>, x: f64, y: f64) -> (f64, f64) {
        hom.and_then(|h| {
            let (wx, wh) = h.to_world(x, y)?;
            let (u, v) = h.to_image(wx, wh - 1.0)?;
            let (ax, ay) = ((u - x) * 9.81, (v - y) * 9.81);
            (ax.is_finite() && ay.is_finite() && ay > 0.0).then_some((ax, ay))
        })
        .unwrap_or((0.0, 0.0))
    }

    /// Advance the hypotheses to time `t` with this frame's seeds and evidence. `busy(x, y)`
    /// marks places where clutter (foliage, laundry) lives: no seed there starts a path.
    /// Returns the hypotheses that ended: alarmed ones (to close their events) and long ones.
    pub fn track(
        &mut self,
        t: f64,
        hom: Option<&Homography>,
        seeding: bool,
        busy: &dyn Fn(f64, f64) -> bool,
    ) -> Vec<Hyp> {
        let start = *self.start_t.get_or_insert(t);
        let seeding =
            seeding && self.frames >= self.p.warmup_frames && t - start >= self.p.warmup_s;
        let dt = match self.last_t {
            Some(lt) if t > lt => t - lt,
            _ => {
                self.last_t = Some(t);
                return Vec::new();
            }
        };
        self.last_t = Some(t);
        let c = self.cell as f64;
        let cw = self.cw;
        let ns = self.seeds.len() as f32;
        // An I-frame pulse or a flash lights up seeds everywhere: no path starts from it.
        let burst = ns > 60.0 && ns > 4.0 * self.typical_seeds + 30.0;
        self.typical_seeds += 0.05 * (ns.min(4.0 * self.typical_seeds + 40.0) - self.typical_seeds);
        let mut taken = vec![false; self.seeds.len()];
        let mut ended = Vec::new();
        let mut hyps = std::mem::take(&mut self.hyps);
        for h in hyps.iter_mut() {
            let n = h.pts.len();
            let Some(&last) = h.pts.last() else {
                continue;
            };
            let (px, py, gate) = if n >= 4 {
                let k = n.saturating_sub(10);
                let ts: Vec<f64> = h.pts[k..].iter().map(|p| p.t).collect();
                let xs: Vec<f64> = h.pts[k..].iter().map(|p| p.x).collect();
                let ys: Vec<f64> = h.pts[k..].iter().map(|p| p.y).collect();
                match (fit_poly(&ts, &xs, 2), fit_poly(&ts, &ys, 2)) {
                    (Some(fx), Some(fy)) => {
                        let rms = fx.rms.hypot(fy.rms);
                        if rms > 1.5 * c {
                            // Not one parabola: seeds strung together by chance. A gate that
                            // grew with the residual would only catch more of them.
                            h.misses = u32::MAX / 2;
                            continue;
                        }
                        let ahead = t - last.t;
                        let g = 1.2 * c + 2.0 * rms + 0.03 * fx.vel(t).hypot(fy.vel(t)) * ahead;
                        (fx.at(t), fy.at(t), g)
                    }
                    _ => (last.x, last.y, 2.0 * c),
                }
            } else if n >= 2 {
                let q = h.pts[n - 2];
                let dtp = (last.t - q.t).max(1e-3);
                let (vx, vy) = ((last.x - q.x) / dtp, (last.y - q.y) / dtp);
                let (ax, ay) = Self::gravity(hom, last.x, last.y);
                let ahead = t - last.t;
                let a2 = 0.5 * ahead * ahead;
                let g = 1.5 * c + 0.5 * ax.hypot(ay) * a2 + 0.25 * vx.hypot(vy) * ahead;
                (
                    last.x + vx * ahead + 0.5 * ax * a2,
                    last.y + vy * ahead + 0.5 * ay * a2,
                    g,
                )
            } else {
                (last.x, last.y, 0.0)
            };
            // Nearest seed in the gate.
            let mut best: Option<(usize, f64)> = None;
            if n >= 2 {
                let r = (gate / c).ceil() as isize + 1;
                let (pcx, pcy) = ((px / c) as isize, (py / c) as isize);
                for ny in (pcy - r).max(0)..(pcy + r + 1).min(self.ch as isize) {
                    for nx in (pcx - r).max(0)..(pcx + r + 1).min(cw as isize) {
                        let si = self.seed_at[ny as usize * cw + nx as usize];
                        if si == u32::MAX {
                            continue;
                        }
                        let s = &self.seeds[si as usize];
                        let d = (s.x - px).hypot(s.y - py);
                        if d <= gate && best.map_or(true, |(_, bd)| d < bd) {
                            best = Some((si as usize, d));
                        }
                    }
                }
            }
            h.prev_seed = h.last_seed;
            h.last_seed = None;
            if let Some((si, _)) = best {
                let s = self.seeds[si];
                if n >= 5 {
                    taken[si] = true;
                }
                h.pts.push(Pt {
                    t,
                    x: s.x,
                    y: s.y,

                    area: s.area,
                });
                h.nseed += 1;
                h.zsum += s.z.abs();
                h.last_seed = Some(si);
                h.misses = 0;
                continue;
            }
            // No seed: sub-threshold evidence where the path says.
            if n >= 3 && px >= 0.0 && py >= 0.0 {
                let (pcx, pcy) = ((px / c) as usize, (py / c) as usize);
                if pcx < cw && pcy < self.ch {
                    let mut bz = 0.0f32;
                    let mut bi = (pcx, pcy);
                    for ny in pcy.saturating_sub(1)..(pcy + 2).min(self.ch) {
                        for nx in pcx.saturating_sub(1)..(pcx + 2).min(cw) {
                            let v = self.z[ny * cw + nx].abs();
                            if v > bz {
                                bz = v;
                                bi = (nx, ny);
                            }
                        }
                    }
                    if bz >= self.p.weak_z {
                        let sign = self.z[bi.1 * cw + bi.0].signum();
                        let (x, y, area) = self.centroid(bi.0, bi.1, sign);
                        if (x - px).hypot(y - py) <= gate.max(1.5 * c) {
                            h.pts.push(Pt { t, x, y, area });
                            h.zsum += bz;
                            h.misses = 0;
                            continue;
                        }
                    }
                }
            }
            h.misses += 1;
        }
        // End hypotheses that lost their path (young ones at the first miss).
        let maxm = self.p.max_misses;
        let mut live = Vec::with_capacity(hyps.len());
        for h in hyps {
            let dead = (h.pts.len() < 4 && h.misses > 0) || h.misses > maxm || h.pts.len() > 600;
            if dead {
                // Alarmed paths close their event; long unalarmed ones are history that a
                // path picking the same object up again is judged with.
                if h.alarmed.is_some()
                    || (h.pts.len() >= self.p.min_points && h.nseed >= self.p.min_seeds)
                {
                    ended.push(h);
                }
            } else {
                live.push(h);
            }
        }
        // Hypotheses that took the same seeds on the last two frames follow one object: keep
        // the best.
        live.sort_by(|a, b| b.score().total_cmp(&a.score()));
        let mut seen: std::collections::HashSet<(usize, usize)> = Default::default();
        let mut kept = Vec::with_capacity(live.len());
        for h in live {
            if let (Some(a), Some(b)) = (h.last_seed, h.prev_seed) {
                if h.alarmed.is_none() && !seen.insert((a, b)) {
                    continue;
                }
            }
            kept.push(h);
        }
        // New pairs: a previous-frame seed and a seed now, moving as a falling object can.
        if seeding && !burst {
            let vmax = self.p.max_speed_px_s * self.px_scale.max(0.25);
            let rmax = vmax * dt;
            for (si, s) in self.seeds.iter().enumerate() {
                if taken[si] || busy(s.x, s.y) {
                    continue;
                }
                let mut pairs: Vec<(usize, f32)> = Vec::new();
                // A falling object moves down (or a little up just after a throw).
                for (pi, q) in self.prev_seeds.iter().enumerate() {
                    let (dx, dy) = (s.x - q.x, s.y - q.y);
                    if dy < -2.0 * c || dx.hypot(dy) > rmax || dx.abs() > dy.max(0.0) + 4.0 * c {
                        continue;
                    }
                    pairs.push((pi, q.z.abs()));
                }
                pairs.sort_by(|a, b| b.1.total_cmp(&a.1));
                for &(pi, _) in pairs.iter().take(4) {
                    if !seen.insert((si, pi)) {
                        continue;
                    }
                    let q = self.prev_seeds[pi];
                    let id = self.next_id;
                    self.next_id += 1;
                    kept.push(Hyp {
                        id,
                        pts: vec![
                            Pt {
                                t: t - dt,
                                x: q.x,
                                y: q.y,

                                area: q.area,
                            },
                            Pt {
                                t,
                                x: s.x,
                                y: s.y,

                                area: s.area,
                            },
                        ],
                        misses: 0,
                        nseed: 2,
                        zsum: q.z.abs() + s.z.abs(),
                        last_seed: Some(si),
                        prev_seed: Some(pi),
                        alarmed: None,
                        rejected: false,
                    });
                }
            }
        }
        if kept.len() > self.p.max_hyps {
            // Keep alarmed and the longest / strongest.
            kept.sort_by(|a, b| {
                (b.alarmed.is_some(), b.score())
                    .partial_cmp(&(a.alarmed.is_some(), a.score()))
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            for h in kept.drain(self.p.max_hyps..) {
                if h.alarmed.is_some() {
                    ended.push(h);
                }
            }
        }
        tracing::trace!(target: "vigil::falling::tbd", t, seeds = self.seeds.len(), hyps = kept.len(), burst, "track-before-detect");
        self.hyps = kept;
        ended
    }

    /// Indices of live hypotheses worth judging now: long enough, seen this frame, strong
    /// enough on average, not yet alarmed or rejected.
    pub fn candidates(&self) -> Vec<usize> {
        let p = &self.p;
        self.hyps
            .iter()
            .enumerate()
            .filter(|(_, h)| {
                h.alarmed.is_none()
                    && !h.rejected
                    && h.misses == 0
                    && h.pts.len() >= p.min_points
                    && h.nseed >= p.min_seeds
                    && h.zsum / h.pts.len() as f32 >= p.min_mean_z
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// Drain every hypothesis (end of stream).
    pub fn drain(&mut self) -> Vec<Hyp> {
        std::mem::take(&mut self.hyps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A faint object (8 levels, 4×4 px) falling through σ 8 noise: below any per-pixel test,
    /// found as one path by accumulating cell evidence.
    #[test]
    fn faint_object_in_heavy_noise_is_one_path() {
        let (w, h) = (320usize, 240usize);
        let mut tbd = Tbd::new(w, h, &[], TbdParams::default(), 0);
        let mut rng = 12345u64;
        let mut noise = || {
            // Sum of uniforms: roughly Gaussian, σ ≈ 8.
            let mut s = 0.0f64;
            for _ in 0..4 {
                rng = rng
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                s += (rng >> 33) as f64 / (1u64 << 31) as f64 - 0.5;
            }
            s * 8.0 * (3.0f64).sqrt()
        };
        let fps = 25.0;
        let mut best = 0usize;
        for f in 0..100 {
            let t = f as f64 / fps;
            let mut g = vec![0u8; w * h];
            for v in g.iter_mut() {
                *v = (100.0 + noise()).clamp(0.0, 255.0) as u8;
            }
            if f >= 60 {
                let tf = (f - 60) as f64 / fps;
                let (ox, oy) = (150.0 + 20.0 * tf, 20.0 + 60.0 * tf + 0.5 * 300.0 * tf * tf);
                for y in oy as usize..oy as usize + 4 {
                    for x in ox as usize..ox as usize + 4 {
                        if y < h && x < w {
                            g[y * w + x] = g[y * w + x].saturating_add(20);
                        }
                    }
                }
            }
            tbd.observe(&g, w);
            tbd.track(t, None, true, &|_, _| false);
            for i in tbd.candidates() {
                best = best.max(tbd.hyps[i].len());
            }
        }
        assert!(best >= 12, "longest path {best}");
    }
}
