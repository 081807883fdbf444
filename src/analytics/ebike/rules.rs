//! Elevator rules: car zone, motion gating of the detector, and k-of-n confirmation with one
//! alarm per entry and a clear after the e-bike has been gone for a while.

use std::collections::VecDeque;

/// Even-odd point-in-polygon test; an empty polygon is the whole frame.
pub fn point_in_polygon(x: f64, y: f64, poly: &[[f64; 2]]) -> bool {
    if poly.len() < 3 {
        return true;
    }
    let mut inside = false;
    let mut j = poly.len() - 1;
    for i in 0..poly.len() {
        let ([xi, yi], [xj, yj]) = (poly[i], poly[j]);
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// Pixel change in the car zone between successive samples, on a sparse grid (every 4th
/// pixel both ways) so an idle camera costs almost nothing.
pub struct MotionGate {
    step: u32,
    /// Offsets into the grey plane of the sampled zone pixels, for the current frame size.
    idx: Vec<usize>,
    size: (u32, u32),
    prev: Vec<u8>,
    zone: Vec<[f64; 2]>,
}

/// Luma difference that counts as a changed pixel.
const DIFF: i16 = 15;

impl MotionGate {
    pub fn new(zone: &[[f64; 2]]) -> MotionGate {
        MotionGate {
            step: 4,
            idx: Vec::new(),
            size: (0, 0),
            prev: Vec::new(),
            zone: zone.to_vec(),
        }
    }

    /// Fraction (0..1) of sampled zone pixels that changed since the previous call; 1.0 on the
    /// first frame or after a size change.
    pub fn update(&mut self, gray: &[u8], w: u32, h: u32) -> f64 {
        if self.size != (w, h) || gray.len() < w as usize * h as usize {
            self.size = (w, h);
            self.idx.clear();
            self.prev.clear();
            if gray.len() < w as usize * h as usize {
                return 1.0;
            }
            let mut y = self.step / 2;
            while y < h {
                let mut x = self.step / 2;
                while x < w {
                    if point_in_polygon(x as f64, y as f64, &self.zone) {
                        self.idx.push((y * w + x) as usize);
                    }
                    x += self.step;
                }
                y += self.step;
            }
        }
        if self.idx.is_empty() {
            return 0.0;
        }
        let first = self.prev.is_empty();
        if first {
            self.prev = self.idx.iter().map(|&i| gray[i]).collect();
            return 1.0;
        }
        let mut changed = 0usize;
        for (p, &i) in self.prev.iter_mut().zip(&self.idx) {
            let v = gray[i];
            if (v as i16 - *p as i16).abs() > DIFF {
                changed += 1;
            }
            *p = v;
        }
        changed as f64 / self.idx.len() as f64
    }
}

/// When to run the detector: at most `detect_fps`, only on motion (or while an alarm is open),
/// and at least every `idle_interval_s` — except in a burst: the first `burst_runs` slots after
/// start, after a stream discontinuity and after the last motion all run, so a still car is
/// checked k-of-n at once.
pub struct Scheduler {
    period: f64,
    idle_interval: f64,
    last_tick: Option<f64>,
    last_frame: Option<f64>,
    last_run: Option<f64>,
    burst_runs: usize,
    burst_left: usize,
}

/// A media-time gap (or any step back) larger than this is a discontinuity: a reconnect, a
/// looped file, a stalled stream that came back.
pub const DISCONTINUITY_S: f64 = 1.0;

impl Scheduler {
    pub fn new(detect_fps: f64, idle_interval_s: f64) -> Scheduler {
        Scheduler::with_burst(detect_fps, idle_interval_s, 0)
    }

    pub fn with_burst(detect_fps: f64, idle_interval_s: f64, burst_runs: usize) -> Scheduler {
        Scheduler {
            period: 1.0 / detect_fps.max(1e-3),
            idle_interval: idle_interval_s,
            last_tick: None,
            last_frame: None,
            last_run: None,
            burst_runs,
            burst_left: burst_runs,
        }
    }

    /// Whether the start-up / reconnect burst is still running.
    pub fn in_burst(&self) -> bool {
        self.burst_left > 0
    }

    /// Whether a detector slot falls on this frame (the detector rate). Call once per frame.
    pub fn tick(&mut self, t: f64) -> bool {
        if let Some(l) = self.last_frame {
            if t < l || t - l > DISCONTINUITY_S {
                self.burst_left = self.burst_runs;
            }
        }
        self.last_frame = Some(t);
        // Half a frame of slack at 25–30 fps so 5 fps lands on every 5th/6th frame.
        let due = match self.last_tick {
            None => true,
            Some(l) => t < l || t - l >= self.period - 0.015,
        };
        if due {
            self.last_tick = Some(t);
        }
        due
    }

    /// Whether to run in this slot, given the motion verdict and alarm state.
    pub fn should_run(&mut self, t: f64, moving: bool, alarmed: bool) -> bool {
        // Motion hangover: keep checking for a burst after the car goes still, so an e-bike
        // parked right after it came in is confirmed from sharp, still frames.
        if moving && self.burst_runs > 0 {
            self.burst_left = self.burst_runs;
        }
        let run = match self.last_run {
            None => true,
            Some(l) => {
                self.burst_left > 0
                    || moving
                    || alarmed
                    || t < l
                    || t - l >= self.idle_interval - 0.015
            }
        };
        if run {
            self.last_run = Some(t);
            self.burst_left = self.burst_left.saturating_sub(1);
        }
        run
    }
}

/// Alarm-state change.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Transition {
    /// Confirmed: `first_seen_s` is the earliest positive run in the confirming window.
    Alarm { first_seen_s: f64 },
    /// Gone for `clear_after_s`; `last_seen_s` is the last positive run.
    Clear { last_seen_s: f64 },
}

/// k-of-n confirmation over detector runs.
pub struct Confirm {
    k: usize,
    n: usize,
    clear_after: f64,
    max_age: f64,
    window: VecDeque<(f64, bool)>,
    alarmed: bool,
    last_seen: f64,
}

impl Confirm {
    /// `max_age_s`: runs older than this drop out of the window (motion gating can leave gaps).
    pub fn new(k: usize, n: usize, clear_after_s: f64, max_age_s: f64) -> Confirm {
        Confirm {
            k: k.max(1),
            n: n.max(1),
            clear_after: clear_after_s,
            max_age: max_age_s,
            window: VecDeque::new(),
            alarmed: false,
            last_seen: f64::NEG_INFINITY,
        }
    }

    pub fn alarmed(&self) -> bool {
        self.alarmed
    }

    pub fn last_seen(&self) -> f64 {
        self.last_seen
    }

    /// Number of positive runs in the current window.
    pub fn hits(&self) -> usize {
        self.window.iter().filter(|(_, p)| *p).count()
    }

    /// Feed one detector run at media time `t`.
    pub fn observe(&mut self, t: f64, present: bool) -> Option<Transition> {
        if present {
            self.last_seen = t;
        }
        if self.alarmed {
            if !present && t - self.last_seen >= self.clear_after {
                self.alarmed = false;
                self.window.clear();
                return Some(Transition::Clear {
                    last_seen_s: self.last_seen,
                });
            }
            return None;
        }
        self.window.push_back((t, present));
        while self.window.len() > self.n {
            self.window.pop_front();
        }
        while self
            .window
            .front()
            .is_some_and(|(t0, _)| t - *t0 > self.max_age)
        {
            self.window.pop_front();
        }
        if self.hits() >= self.k {
            self.alarmed = true;
            let first = self
                .window
                .iter()
                .find(|(_, p)| *p)
                .map(|(t0, _)| *t0)
                .unwrap_or(t);
            self.window.clear();
            return Some(Transition::Alarm {
                first_seen_s: first,
            });
        }
        None
    }
}
