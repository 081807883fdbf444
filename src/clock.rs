//! Time, injected: a [`Clock`] gives the monotonic time, the wall clock and sleeping. The node
//! runs on [`SystemClock`]; tests of reconnect backoff, stall detection, camera restarts and
//! retention run on a [`ManualClock`], so they take no real seconds and are deterministic.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Monotonic time.
    fn now(&self) -> Instant;
    /// Wall clock, Unix milliseconds.
    fn unix_ms(&self) -> i64;
    /// Block the calling thread for `d` of this clock's time.
    fn sleep(&self, d: Duration);
}

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn unix_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// The real clock, shared.
pub fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// Simulated time, moved only by [`ManualClock::advance`] (or, when built with
/// [`ManualClock::auto`], by every `sleep`, which then returns at once).
#[derive(Debug)]
pub struct ManualClock {
    base: Instant,
    unix_base_ms: i64,
    auto: bool,
    state: Mutex<ManualState>,
    moved: Condvar,
}

#[derive(Debug, Default)]
struct ManualState {
    elapsed: Duration,
    /// Threads blocked in `sleep` now.
    sleepers: usize,
    /// Calls of `sleep` so far.
    sleeps: u64,
}

impl ManualClock {
    /// A clock whose sleepers wait until the test advances it past their wake-up time.
    pub fn new() -> ManualClock {
        ManualClock::build(false)
    }

    /// A clock where `sleep(d)` moves time forward by `d` and returns immediately.
    pub fn auto() -> ManualClock {
        ManualClock::build(true)
    }

    fn build(auto: bool) -> ManualClock {
        ManualClock {
            base: Instant::now(),
            unix_base_ms: SystemClock.unix_ms(),
            auto,
            state: Mutex::new(ManualState::default()),
            moved: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ManualState> {
        // The state is two numbers; a panic elsewhere cannot leave them inconsistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Move time forward and wake the sleepers that are due.
    pub fn advance(&self, d: Duration) {
        self.lock().elapsed += d;
        self.moved.notify_all();
    }

    /// Simulated time since the clock was made.
    pub fn elapsed(&self) -> Duration {
        self.lock().elapsed
    }

    /// Calls of `sleep` so far.
    pub fn sleeps(&self) -> u64 {
        self.lock().sleeps
    }

    /// Wait (real time, at most `limit`) until `n` threads are blocked in `sleep`; false if
    /// they never were. Lets a test advance time exactly when the code under test waits on it.
    pub fn wait_for_sleepers(&self, n: usize, limit: Duration) -> bool {
        self.wait_until(limit, |st| st.sleepers >= n)
    }

    /// Wait (real time, at most `limit`) until `sleep` has been called `n` times and a thread
    /// is blocked in it; false if that never happened.
    pub fn wait_for_sleep(&self, n: u64, limit: Duration) -> bool {
        self.wait_until(limit, |st| st.sleeps >= n && st.sleepers > 0)
    }

    fn wait_until(&self, limit: Duration, done: impl Fn(&ManualState) -> bool) -> bool {
        let until = Instant::now() + limit;
        let mut st = self.lock();
        while !done(&st) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = self
                .moved
                .wait_timeout(st, left.min(Duration::from_millis(10)))
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        true
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.base + self.elapsed()
    }
    fn unix_ms(&self) -> i64 {
        self.unix_base_ms + self.elapsed().as_millis().min(i64::MAX as u128) as i64
    }
    fn sleep(&self, d: Duration) {
        if self.auto {
            self.advance(d);
            return;
        }
        let mut st = self.lock();
        let wake = st.elapsed + d;
        st.sleepers += 1;
        st.sleeps += 1;
        self.moved.notify_all();
        while st.elapsed < wake {
            st = self.moved.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        st.sleepers -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_sleeper_wakes_when_time_is_advanced_past_it() {
        let clock = Arc::new(ManualClock::new());
        let t0 = clock.now();
        let c = clock.clone();
        let sleeper = std::thread::spawn(move || {
            c.sleep(Duration::from_secs(10));
            c.now()
        });
        assert!(clock.wait_for_sleepers(1, Duration::from_secs(10)));
        clock.advance(Duration::from_secs(4));
        assert!(
            clock.wait_for_sleepers(1, Duration::from_secs(1)),
            "still asleep"
        );
        clock.advance(Duration::from_secs(6));
        let woke = sleeper.join().expect("sleeper");
        assert_eq!(woke - t0, Duration::from_secs(10));
    }

    #[test]
    fn an_auto_clock_jumps_on_sleep() {
        let clock = ManualClock::auto();
        let (t0, w0) = (clock.now(), clock.unix_ms());
        clock.sleep(Duration::from_secs(3600));
        assert_eq!(clock.now() - t0, Duration::from_secs(3600));
        assert_eq!(clock.unix_ms() - w0, 3_600_000);
    }
}
