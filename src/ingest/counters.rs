//! Per-camera health counters, shared via `Arc` between the ingest thread and the API.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Lock-free counters; ingest writes, anyone reads a [`CounterSnapshot`].
#[derive(Debug, Default)]
pub struct Counters {
    /// Video packets read from the demuxer.
    pub frames_in: AtomicU64,
    pub frames_decoded: AtomicU64,
    pub decode_errors: AtomicU64,
    pub reconnects: AtomicU64,
    /// Wall clock of the last decoded frame (0 = never).
    last_frame_unix_ms: AtomicU64,
    online: AtomicBool,
}

/// A consistent-enough copy of the counters for reporting.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CounterSnapshot {
    pub frames_in: u64,
    pub frames_decoded: u64,
    pub decode_errors: u64,
    pub reconnects: u64,
    /// Seconds since the last decoded frame; `None` before the first.
    pub last_frame_age_s: Option<f64>,
    pub online: bool,
}

fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl CounterSnapshot {
    /// The source failed and is being retried: it is offline after at least one reconnect
    /// (`LiveSource` marks the source offline and counts a reconnect before every backoff, and
    /// online again at the next decoded frame). Before the first failure a source that has not
    /// produced a frame yet is just offline.
    pub fn reconnecting(&self) -> bool {
        !self.online && self.reconnects > 0
    }
}

impl Counters {
    /// Record a decoded frame: bumps `frames_decoded`, stamps the time and marks the source online.
    pub fn mark_frame(&self) {
        self.frames_decoded.fetch_add(1, Ordering::Relaxed);
        self.last_frame_unix_ms
            .store(now_unix_ms().max(1), Ordering::Relaxed);
        self.online.store(true, Ordering::Relaxed);
    }

    pub fn set_online(&self, on: bool) {
        self.online.store(on, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> CounterSnapshot {
        let last = self.last_frame_unix_ms.load(Ordering::Relaxed);
        let last_frame_age_s =
            (last > 0).then(|| now_unix_ms().saturating_sub(last) as f64 / 1000.0);
        CounterSnapshot {
            frames_in: self.frames_in.load(Ordering::Relaxed),
            frames_decoded: self.frames_decoded.load(Ordering::Relaxed),
            decode_errors: self.decode_errors.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            last_frame_age_s,
            online: self.online.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_reflects_marks() {
        let c = Counters::default();
        let s = c.snapshot();
        assert_eq!(s.frames_decoded, 0);
        assert!(s.last_frame_age_s.is_none());
        assert!(!s.online);
        c.mark_frame();
        c.frames_in.fetch_add(2, Ordering::Relaxed);
        let s = c.snapshot();
        assert_eq!(s.frames_decoded, 1);
        assert_eq!(s.frames_in, 2);
        assert!(s.online);
        assert!(s.last_frame_age_s.is_some_and(|a| a >= 0.0));
        c.set_online(false);
        assert!(!c.snapshot().online);
        assert!(
            !c.snapshot().reconnecting(),
            "offline without a retry is not reconnecting"
        );
        c.reconnects.fetch_add(1, Ordering::Relaxed);
        assert!(c.snapshot().reconnecting());
        c.mark_frame();
        assert!(!c.snapshot().reconnecting(), "a frame ends the reconnect");
    }
}
