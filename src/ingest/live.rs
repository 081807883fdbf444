//! A camera that keeps coming back: `MediaSource` plus reconnect with capped exponential
//! backoff, stall detection, and media time that stays monotonic across sessions.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::counters::Counters;
use super::ring::PacketRing;
use super::source::{is_network_url, redact_url, IngestOptions, MediaSource, StreamInfo};
use super::IngestError;
use crate::clock::Clock;
use crate::frame::Frame;

#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// Reconnect when no frame arrived for this long.
    pub stall_timeout_s: f64,
    /// Upper bound of the reconnect backoff.
    pub reconnect_max_s: f64,
    /// Restart a file source at its end instead of ending.
    pub loop_file: bool,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            stall_timeout_s: 10.0,
            reconnect_max_s: 30.0,
            loop_file: false,
        }
    }
}

const BACKOFF_START_S: f64 = 0.5;
/// How often a backoff sleep looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(100);

/// A source that reconnects on failure; connects lazily on the first `next_frame`.
pub struct LiveSource {
    url: String,
    /// `url` without credentials: the only form logs and errors show.
    shown: String,
    opts: IngestOptions,
    live: LiveOptions,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    is_network: bool,
    src: Option<MediaSource>,
    backoff_s: f64,
    next_index: u64,
    last_pts_s: Option<f64>,
    frame_dur_s: f64,
    /// The ring of the pass that just ended, for the next pass of a looping file.
    loop_ring: Option<PacketRing>,
    /// Backoff waits and stall detection run on it.
    clock: Arc<dyn Clock>,
}

impl LiveSource {
    pub fn new(
        url: &str,
        opts: IngestOptions,
        live: LiveOptions,
        counters: Arc<Counters>,
        stop: Arc<AtomicBool>,
    ) -> Self {
        LiveSource {
            url: url.to_string(),
            shown: redact_url(url),
            is_network: is_network_url(url),
            opts,
            live,
            counters,
            stop,
            src: None,
            backoff_s: BACKOFF_START_S,
            next_index: 0,
            last_pts_s: None,
            frame_dur_s: 0.04,
            loop_ring: None,
            clock: crate::clock::system(),
        }
    }

    /// Wait out backoffs and detect stalls on `clock` instead of the real one.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn stopped(&self) -> IngestError {
        IngestError::Stopped {
            source_name: self.shown.clone(),
        }
    }

    /// Blocks until a frame arrives, reconnecting on open/read errors, end of a network stream
    /// and stalls. `Err(Stopped)` once `stop` is set; `Ok(None)` at the end of a non-looping file.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, IngestError> {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                self.counters.set_online(false);
                return Err(self.stopped());
            }
            let src = match self.src.as_mut() {
                Some(s) => s,
                None => match self.connect() {
                    Ok(()) => continue,
                    Err(IngestError::Stopped { .. }) => return Err(self.stopped()),
                    Err(e) => {
                        self.retry(&e)?;
                        continue;
                    }
                },
            };
            match src.next_frame() {
                Ok(Some(mut f)) => {
                    f.index = self.next_index;
                    self.next_index += 1;
                    self.last_pts_s = Some(f.pts_s);
                    self.backoff_s = BACKOFF_START_S;
                    return Ok(Some(f));
                }
                Ok(None) if !self.is_network => {
                    if !self.live.loop_file {
                        self.counters.set_online(false);
                        return Ok(None);
                    }
                    tracing::debug!(source = %self.shown, "end of file; looping");
                    // The ring lives on, so clips around the loop point keep their pre-roll.
                    self.loop_ring = self.src.take().map(MediaSource::into_ring);
                }
                Ok(None) => {
                    let e = IngestError::Read {
                        source_name: self.shown.clone(),
                        reason: "stream ended".into(),
                    };
                    self.retry(&e)?;
                }
                Err(IngestError::Stopped { .. }) => {
                    self.counters.set_online(false);
                    return Err(self.stopped());
                }
                Err(e) => self.retry(&e)?,
            }
        }
    }

    fn connect(&mut self) -> Result<(), IngestError> {
        let mut s = MediaSource::open_with_stop(
            &self.url,
            &self.opts,
            self.counters.clone(),
            Some(self.stop.clone()),
        )?;
        self.frame_dur_s = 1.0 / s.info().fps.max(1.0);
        // The new session's clock starts at 0; continue after the last frame we gave out.
        let offset = self.last_pts_s.map_or(0.0, |p| p + self.frame_dur_s);
        s.set_time_offset(offset);
        if let Some(ring) = self.loop_ring.take() {
            s.continue_ring(ring);
        }
        s.set_clock(self.clock.clone());
        s.set_stall_timeout(Some(self.live.stall_timeout_s));
        tracing::info!(source = %self.shown, offset_s = offset, "connected");
        self.src = Some(s);
        Ok(())
    }

    /// Drop the session, count a reconnect, and sleep the backoff (waking for `stop`).
    fn retry(&mut self, why: &IngestError) -> Result<(), IngestError> {
        self.src = None;
        self.counters.set_online(false);
        self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
        let wait = self.backoff_s;
        tracing::warn!(source = %self.shown, error = %why, retry_in_s = wait, "source lost; reconnecting");
        self.backoff_s = (self.backoff_s * 2.0).min(self.live.reconnect_max_s.max(BACKOFF_START_S));
        let until = self.clock.now() + Duration::from_secs_f64(wait);
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Err(self.stopped());
            }
            let left = until.saturating_duration_since(self.clock.now());
            if left.is_zero() {
                return Ok(());
            }
            self.clock.sleep(left.min(STOP_POLL));
        }
    }

    /// The current session's ring (`None` while disconnected).
    pub fn ring(&self) -> Option<&PacketRing> {
        self.src.as_ref().map(|s| s.ring())
    }

    /// The current session's stream info (`None` while disconnected).
    pub fn info(&self) -> Option<&StreamInfo> {
        self.src.as_ref().map(|s| s.info())
    }

    /// Stage times of the current session.
    pub fn times(&self) -> Option<super::source::StageTimes> {
        self.src.as_ref().map(|s| s.times())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>() {}

    #[test]
    fn live_source_is_send() {
        assert_send::<LiveSource>();
    }

    /// Reconnect backoff on simulated time: 0.5 s, doubling, capped at `reconnect_max_s`;
    /// each retry waits its full backoff and not longer. No real seconds pass.
    #[test]
    fn backoff_doubles_to_its_cap_on_simulated_time() {
        use crate::clock::ManualClock;
        let clock = Arc::new(ManualClock::new());
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let mut s = LiveSource::new(
            "/nonexistent/vigil-test.mp4",
            IngestOptions::default(),
            LiveOptions {
                reconnect_max_s: 2.0,
                ..LiveOptions::default()
            },
            counters.clone(),
            stop.clone(),
        )
        .with_clock(clock.clone());
        let t = std::thread::spawn(move || s.next_frame());
        let reconnects = || counters.snapshot().reconnects;
        let limit = Duration::from_secs(30);
        let ms = Duration::from_millis;
        // Each retry sleeps in steps of STOP_POLL (to look at `stop`): advance step by step,
        // each step waking the sleeper, which sleeps again (the same wait, or the next one
        // after a retry).
        let wait_out = |d: Duration| {
            let mut left = d;
            while !left.is_zero() {
                let n = clock.sleeps();
                let step = left.min(STOP_POLL);
                clock.advance(step);
                left -= step;
                assert!(clock.wait_for_sleep(n + 1, limit), "not waiting again");
            }
        };
        assert!(clock.wait_for_sleep(1, limit));
        assert_eq!(reconnects(), 1);
        for (n, backoff) in [(2, 500), (3, 1000), (4, 2000), (5, 2000)] {
            // Just short of the backoff: still waiting.
            wait_out(ms(backoff - 100));
            assert_eq!(reconnects(), n - 1, "retried early");
            wait_out(ms(100));
            assert_eq!(reconnects(), n, "after {backoff} ms");
        }
        assert_eq!(clock.elapsed(), ms(500 + 1000 + 2000 + 2000));
        stop.store(true, Ordering::Relaxed);
        clock.advance(STOP_POLL);
        let r = t.join().unwrap();
        assert!(matches!(r, Err(IngestError::Stopped { .. })), "{r:?}");
    }

    #[test]
    fn stop_interrupts_backoff_for_missing_source() {
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let clock = Arc::new(crate::clock::ManualClock::new());
        let mut s = LiveSource::new(
            "/nonexistent/vigil-test.mp4",
            IngestOptions::default(),
            LiveOptions::default(),
            counters.clone(),
            stop.clone(),
        )
        .with_clock(clock.clone());
        let t = std::thread::spawn(move || s.next_frame());
        // Wait until it has failed and is waiting out its backoff, then stop it.
        assert!(clock.wait_for_sleepers(1, Duration::from_secs(30)));
        assert_eq!(counters.snapshot().reconnects, 1);
        stop.store(true, Ordering::Relaxed);
        clock.advance(STOP_POLL);
        let r = t.join().unwrap();
        assert!(matches!(r, Err(IngestError::Stopped { .. })), "{r:?}");
    }
}
