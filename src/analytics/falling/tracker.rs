//! Multi-object tracker for accelerating objects.
//!
//! Each axis runs an independent constant-acceleration Kalman filter (position, velocity,
//! acceleration; white-jerk process noise). Each track takes the nearest detection inside its
//! gate (Mahalanobis distance); detections are *not* exclusive. Exclusive assignment let a
//! wandering clutter track (laundry, noise) capture a falling object's detections and bury
//! them under its own erratic history, so the object never got a clean track of its own.
//! Instead, a detection that no established track predicted closely starts a new track as
//! well, and the physics judges every track on its own history. Tracks survive a few missed
//! frames (compression, duplicated frames, the object crossing a masked strip).

// Small fixed-size matrix code reads best with explicit indices.
#![allow(clippy::needless_range_loop)]

use super::blobs::Blob;
use super::physics::fit_poly;

/// Detections two tracks must share, most recent first, to count as one object.
const DUP_OBS: usize = 4;

/// Residual (px) of quadratic fits in x and y over a track's last 20 detections.
fn recent_rms(obs: &[Obs]) -> f64 {
    let o = &obs[obs.len().saturating_sub(20)..];
    let ts: Vec<f64> = o.iter().map(|o| o.t).collect();
    let xs: Vec<f64> = o.iter().map(|o| o.x).collect();
    let ys: Vec<f64> = o.iter().map(|o| o.y).collect();
    match (fit_poly(&ts, &xs, 2), fit_poly(&ts, &ys, 2)) {
        (Some(a), Some(b)) => a.rms.hypot(b.rms),
        _ => f64::INFINITY,
    }
}

/// One observation kept in a track's history.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Obs {
    pub t: f64,
    pub x: f64,
    pub y: f64,
    pub area: u32,
}

#[derive(Clone, Debug)]
struct Axis {
    s: [f64; 3],
    p: [[f64; 3]; 3],
}

impl Axis {
    fn new(pos: f64, vel_sd: f64, acc_sd: f64, pos_sd: f64) -> Self {
        Axis {
            s: [pos, 0.0, 0.0],
            p: [
                [pos_sd * pos_sd, 0.0, 0.0],
                [0.0, vel_sd * vel_sd, 0.0],
                [0.0, 0.0, acc_sd * acc_sd],
            ],
        }
    }

    fn predict(&mut self, dt: f64, jerk: f64) {
        let f = [[1.0, dt, 0.5 * dt * dt], [0.0, 1.0, dt], [0.0, 0.0, 1.0]];
        let s = self.s;
        for (i, row) in f.iter().enumerate() {
            self.s[i] = row[0] * s[0] + row[1] * s[1] + row[2] * s[2];
        }
        // P = F P F^T + Q
        let mut fp = [[0.0; 3]; 3];
        for i in 0..3 {
            for j in 0..3 {
                fp[i][j] = (0..3).map(|k| f[i][k] * self.p[k][j]).sum();
            }
        }
        let mut np = [[0.0; 3]; 3];
        for i in 0..3 {
            for j in 0..3 {
                np[i][j] = (0..3).map(|k| fp[i][k] * f[j][k]).sum();
            }
        }
        // White-jerk noise, discretised.
        let q = jerk * jerk;
        let (d2, d3, d4, d5) = (dt * dt, dt * dt * dt, dt.powi(4), dt.powi(5));
        let qm = [
            [d5 / 20.0, d4 / 8.0, d3 / 6.0],
            [d4 / 8.0, d3 / 3.0, d2 / 2.0],
            [d3 / 6.0, d2 / 2.0, dt],
        ];
        for i in 0..3 {
            for j in 0..3 {
                np[i][j] += q * qm[i][j];
            }
        }
        self.p = np;
    }

    fn innov_var(&self, r: f64) -> f64 {
        self.p[0][0] + r
    }

    fn update(&mut self, z: f64, r: f64) {
        let s = self.p[0][0] + r;
        if s <= 0.0 {
            return;
        }
        let k = [self.p[0][0] / s, self.p[1][0] / s, self.p[2][0] / s];
        let y = z - self.s[0];
        for i in 0..3 {
            self.s[i] += k[i] * y;
        }
        let p0 = self.p[0];
        for i in 0..3 {
            for j in 0..3 {
                self.p[i][j] -= k[i] * p0[j];
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct TrackerParams {
    /// Measurement noise (px, 1 sd).
    pub meas_sd: f64,
    /// Initial velocity uncertainty (px/s).
    pub vel_sd: f64,
    /// Initial acceleration uncertainty (px/s²).
    pub acc_sd: f64,
    /// Process noise (px/s³).
    pub jerk: f64,
    /// Gate in Mahalanobis units (per-axis combined).
    pub gate: f64,
    /// Extra gate radius in px (objects change shape).
    pub gate_px: f64,
    /// Track dies after this long without a detection (s).
    pub max_gap_s: f64,
    /// At most this many live tracks (the rest are ignored: clutter).
    pub max_tracks: usize,
    /// Largest area ratio between consecutive detections of one track.
    pub max_area_ratio: f64,
    /// A detection counts as explained (starts no new track) when an established track
    /// predicted it within this many px (or half the blob's width, if larger).
    pub explain_px: f64,
    /// A frame with more detections than this, and several times the scene's usual count, is
    /// a clutter burst (an I-frame pulse, a gust through foliage): no track starts from it
    /// and only established tracks use it.
    pub burst_blobs: usize,
    /// A weak detection (a rain streak) continues an established track only this close to
    /// its prediction (px).
    pub weak_px: f64,
}

impl Default for TrackerParams {
    fn default() -> Self {
        TrackerParams {
            meas_sd: 1.5,
            vel_sd: 700.0,
            acc_sd: 1500.0,
            jerk: 1500.0,
            gate: 3.5,
            gate_px: 4.0,
            max_gap_s: 0.3,
            max_tracks: 500,
            max_area_ratio: 3.0,
            explain_px: 4.0,
            burst_blobs: 40,
            weak_px: 8.0,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Track {
    pub id: u64,
    x: Axis,
    y: Axis,
    pub obs: Vec<Obs>,
    pub last_t: f64,
    pub misses: u32,
    /// Set by the analytic once it raised an alarm for this track.
    pub alarmed: Option<u64>,
    /// Set when the analytic decided this track is not a falling object (stop re-scoring).
    pub rejected: bool,
}

impl Track {
    pub fn position(&self) -> (f64, f64) {
        (self.x.s[0], self.y.s[0])
    }
    pub fn velocity(&self) -> (f64, f64) {
        (self.x.s[1], self.y.s[1])
    }
    pub fn acceleration(&self) -> (f64, f64) {
        (self.x.s[2], self.y.s[2])
    }
    pub fn first_t(&self) -> f64 {
        self.obs.first().map(|o| o.t).unwrap_or(self.last_t)
    }

    /// A track made from a path found elsewhere (track-before-detect), for judging and
    /// for the event; its filter state sits at the last observation.
    pub fn from_obs(id: u64, obs: Vec<Obs>) -> Track {
        let (x, y, t) = obs.last().map_or((0.0, 0.0, 0.0), |o| (o.x, o.y, o.t));
        Track {
            id,
            x: Axis::new(x, 0.0, 0.0, 1.0),
            y: Axis::new(y, 0.0, 0.0, 1.0),
            obs,
            last_t: t,
            misses: 0,
            alarmed: None,
            rejected: false,
        }
    }
}

pub struct Tracker {
    pub params: TrackerParams,
    pub tracks: Vec<Track>,
    next_id: u64,
    last_t: Option<f64>,
    /// Running mean of detections per frame.
    typical_blobs: f64,
}

impl Tracker {
    pub fn new(params: TrackerParams) -> Self {
        Tracker {
            params,
            tracks: Vec::new(),
            next_id: 1,
            last_t: None,
            typical_blobs: 0.0,
        }
    }

    /// Advance to time `t` with this frame's blobs. Returns the tracks that ended (too long
    /// without a detection).
    pub fn step(&mut self, t: f64, blobs: &[Blob]) -> Vec<Track> {
        self.step_weak(t, blobs, &[])
    }

    /// Like [`step`](Self::step), with `weak[i]` marking detections that are probably clutter
    /// of a known kind (rain streaks): they start no track, and only an established track that
    /// predicted one within [`TrackerParams::weak_px`] takes it.
    pub fn step_weak(&mut self, t: f64, blobs: &[Blob], weak: &[bool]) -> Vec<Track> {
        let is_weak = |i: usize| weak.get(i).copied().unwrap_or(false);
        let dt = match self.last_t {
            Some(lt) if t > lt => t - lt,
            Some(_) => 1e-3,
            None => 0.04,
        };
        self.last_t = Some(t);
        let p = self.params.clone();
        for tr in &mut self.tracks {
            tr.x.predict(dt, p.jerk);
            tr.y.predict(dt, p.jerk);
        }
        let r = p.meas_sd * p.meas_sd;
        // A burst is judged against the scene's usual clutter (rain keeps it high all along).
        let n = blobs.len() as f64;
        let burst = blobs.len() > p.burst_blobs && n > 4.0 * self.typical_blobs + 20.0;
        self.typical_blobs += 0.05 * (n.min(4.0 * self.typical_blobs + 40.0) - self.typical_blobs);
        // Each track takes its nearest detection inside the gate; detections are shared.
        let mut explained = vec![false; blobs.len()];
        let mut took: Vec<Option<usize>> = vec![None; self.tracks.len()];
        for (ti, tr) in self.tracks.iter_mut().enumerate() {
            let established = tr.obs.len() >= 3;
            if burst && !established {
                tr.misses += 1;
                continue;
            }
            let (px, py) = tr.position();
            let sx = tr.x.innov_var(r).sqrt();
            let sy = tr.y.innov_var(r).sqrt();
            let mut gx = p.gate * sx + p.gate_px;
            let mut gy = p.gate * sy + p.gate_px;
            if tr.obs.len() >= 4 {
                // An established track's object moves on predictably: across a gap its gate
                // grows with the distance it covers, not with the filter's young-track
                // acceleration uncertainty (which let it jump onto clutter far off its path).
                let (vx, vy) = tr.velocity();
                let cap = 10.0 + 0.5 * vx.hypot(vy) * (t - tr.last_t);
                gx = gx.min(cap);
                gy = gy.min(cap);
            }
            // Typical recent size of the track's object.
            let last_area = tr.obs.last().map(|o| o.area).unwrap_or(1) as f64;
            let mut best: Option<(f64, usize)> = None;
            for (bi, b) in blobs.iter().enumerate() {
                let dx = (b.x - px).abs();
                let dy = (b.y - py).abs();
                if dx > gx || dy > gy {
                    continue;
                }
                if is_weak(bi) && (!established || dx.hypot(dy) > p.weak_px) {
                    continue;
                }
                // Sizes must be compatible (a raindrop does not continue a bottle's track);
                // tiny blobs vary a lot from frame to frame, so allow slack there.
                let (lo, hi) = (last_area.min(b.area as f64), last_area.max(b.area as f64));
                if hi > p.max_area_ratio * lo + 6.0 {
                    continue;
                }
                let d = (dx / gx).powi(2) + (dy / gy).powi(2) + 0.1 * (hi / lo).ln();
                if !matches!(best, Some((bd, _)) if bd <= d) {
                    best = Some((d, bi));
                }
            }
            let Some((_, bi)) = best else {
                tr.misses += 1;
                continue;
            };
            took[ti] = Some(bi);
            let b = &blobs[bi];
            if established {
                let near = (b.x - px).hypot(b.y - py);
                if near <= p.explain_px.max(0.5 * (b.area as f64).sqrt()) {
                    explained[bi] = true;
                }
            }
            tr.x.update(b.x, r);
            tr.y.update(b.y, r);
            tr.obs.push(Obs {
                t,
                x: b.x,
                y: b.y,
                area: b.area,
            });
            tr.last_t = t;
            tr.misses = 0;
        }
        let dead = self.duplicates(&took);
        let mut ended = Vec::new();
        let mut keep = Vec::with_capacity(self.tracks.len());
        for (ti, tr) in self.tracks.drain(..).enumerate() {
            if dead[ti] {
                continue;
            }
            if t - tr.last_t > p.max_gap_s {
                ended.push(tr);
            } else {
                keep.push(tr);
            }
        }
        self.tracks = keep;
        for (bi, b) in blobs.iter().enumerate() {
            if burst || explained[bi] || is_weak(bi) || self.tracks.len() >= p.max_tracks {
                continue;
            }
            let id = self.next_id;
            self.next_id += 1;
            self.tracks.push(Track {
                id,
                x: Axis::new(b.x, p.vel_sd, p.acc_sd, p.meas_sd),
                y: Axis::new(b.y, p.vel_sd, p.acc_sd, p.meas_sd),
                obs: vec![Obs {
                    t,
                    x: b.x,
                    y: b.y,
                    area: b.area,
                }],
                last_t: t,
                misses: 0,
                alarmed: None,
                rejected: false,
            });
        }
        ended
    }

    /// Tracks that took the same detections for the last [`DUP_OBS`] frames follow one object:
    /// keep one. A clutter track that captured the object carries its erratic past into the
    /// recent window, so the smoother recent path wins; among equally smooth ones the longest
    /// (earliest alarm). Alarmed tracks are never dropped. Returns a drop flag per track.
    fn duplicates(&self, took: &[Option<usize>]) -> Vec<bool> {
        let mut dead = vec![false; self.tracks.len()];
        let mut order: Vec<(usize, usize)> = took
            .iter()
            .enumerate()
            .filter_map(|(ti, b)| b.map(|b| (b, ti)))
            .filter(|&(_, ti)| self.tracks[ti].obs.len() >= DUP_OBS)
            .collect();
        order.sort_unstable();
        for group in order.chunk_by(|a, b| a.0 == b.0) {
            if group.len() < 2 {
                continue;
            }
            let tail = |ti: usize| {
                let o = &self.tracks[ti].obs;
                &o[o.len() - DUP_OBS..]
            };
            let first = tail(group[0].1);
            let same: Vec<usize> = group
                .iter()
                .map(|&(_, ti)| ti)
                .filter(|&ti| tail(ti) == first)
                .collect();
            if same.len() < 2 {
                continue;
            }
            let keeper = match same.iter().find(|&&ti| self.tracks[ti].alarmed.is_some()) {
                Some(&ti) => ti,
                None => {
                    let rough: Vec<f64> = same
                        .iter()
                        .map(|&ti| recent_rms(&self.tracks[ti].obs))
                        .collect();
                    let best = rough.iter().cloned().fold(f64::INFINITY, f64::min);
                    let mut k = same[0];
                    let mut k_len = 0;
                    for (&ti, &r) in same.iter().zip(&rough) {
                        let len = self.tracks[ti].obs.len();
                        if r <= 1.5 * best + 0.5 && len > k_len {
                            k = ti;
                            k_len = len;
                        }
                    }
                    k
                }
            };
            for &ti in &same {
                if ti != keeper && self.tracks[ti].alarmed.is_none() {
                    dead[ti] = true;
                }
            }
        }
        dead
    }

    /// End every track (end of stream or after a global change).
    pub fn drain(&mut self) -> Vec<Track> {
        self.last_t = None;
        std::mem::take(&mut self.tracks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(x: f64, y: f64, area: u32) -> Blob {
        let r = ((area as f64).sqrt() / 2.0).max(1.0);
        Blob {
            x,
            y,
            area,
            x0: (x - r) as u32,
            y0: (y - r) as u32,
            x1: (x + r) as u32,
            y1: (y + r) as u32,
        }
    }

    /// Laundry flapping next to a window has an established, erratic track when a bottle
    /// falls past it: the bottle must still get a track of its own that holds all of its
    /// detections and none of the laundry's.
    #[test]
    fn a_clutter_track_does_not_capture_a_falling_object() {
        let mut tr = Tracker::new(TrackerParams::default());
        let dt = 0.04;
        let mut object = Vec::new();
        for i in 0..60 {
            let t = i as f64 * dt;
            let mut blobs = Vec::new();
            // Laundry: jumps about (±6 px) around (300, 200) every frame.
            let j = ((i * 7919) % 13) as f64 - 6.0;
            blobs.push(blob(300.0 + j, 200.0 - 0.5 * j, 12));
            // The bottle: let go at (306, 195) at t = 1 s, 250 px/s² in the image.
            if t >= 1.0 {
                let u = t - 1.0;
                let p = (306.0 + 5.0 * u, 195.0 + 125.0 * u * u);
                object.push((t, p.0, p.1));
                blobs.push(blob(p.0, p.1, 10));
            }
            tr.step(t, &blobs);
        }
        let best = tr
            .tracks
            .iter()
            .map(|k| {
                let hits = object
                    .iter()
                    .filter(|(t, x, y)| {
                        k.obs.iter().any(|o| {
                            (o.t - t).abs() < 1e-9
                                && (o.x - x).abs() < 1e-6
                                && (o.y - y).abs() < 1e-6
                        })
                    })
                    .count();
                (hits, k)
            })
            .max_by_key(|(h, _)| *h)
            .expect("tracks");
        assert!(
            best.0 + 2 >= object.len(),
            "object track holds {} of {}",
            best.0,
            object.len()
        );
        let clutter = best.1.obs.iter().filter(|o| o.t < 1.0).count();
        assert_eq!(
            clutter, 0,
            "object track starts with {clutter} laundry detections"
        );
        // And only one track carries the object (duplicates are pruned).
        let carriers = tr
            .tracks
            .iter()
            .filter(|k| {
                k.obs.len() >= 10
                    && k.obs
                        .last()
                        .is_some_and(|o| (o.y - object[object.len() - 1].2).abs() < 1e-6)
            })
            .count();
        assert_eq!(carriers, 1);
    }
}
