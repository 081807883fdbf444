//! The bounded queue between a camera's decode stage and its analysis stage, and the counters
//! that say how far analysis keeps up.
//!
//! A live source (a network camera, or a file paced in real time) does not wait for vigil: when
//! analysis falls behind, a frame that finds the queue full is dropped and counted, so memory
//! stays bounded and the decoder keeps reading the stream. A file read as fast as it decodes
//! loses nothing by waiting, so its decode stage blocks on a full queue instead.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

use crate::frame::Frame;

/// Frames a camera holds between decoding and analysis.
pub const ANALYSIS_QUEUE_FRAMES: usize = 8;

/// Per-camera pipeline counters (monotonic since the node started, across thread restarts).
#[derive(Debug, Default)]
pub struct StageCounters {
    /// Decoded frames handed to the analysis queue (queued or dropped).
    pub received: AtomicU64,
    /// Frames the analytics ran on.
    pub analysed: AtomicU64,
    /// Frames dropped at a full queue.
    pub dropped: AtomicU64,
    queued: AtomicU64,
    taken: AtomicU64,
    /// Time spent in the analytics (all of them), nanoseconds.
    pub analysis_ns: AtomicU64,
    /// Model inference runs (the e-bike detector) and their time, nanoseconds.
    pub inference_runs: AtomicU64,
    pub inference_ns: AtomicU64,
}

/// A copy of [`StageCounters`] for reporting.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StageSnapshot {
    pub received: u64,
    pub analysed: u64,
    pub dropped: u64,
    /// Frames waiting for analysis now.
    pub queue_depth: u64,
    pub analysis_s: f64,
    pub inference_runs: u64,
    pub inference_s: f64,
}

impl StageCounters {
    pub fn snapshot(&self) -> StageSnapshot {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StageSnapshot {
            received: r(&self.received),
            analysed: r(&self.analysed),
            dropped: r(&self.dropped),
            // `taken` can pass `queued` for a moment (the receiver counts first).
            queue_depth: r(&self.queued).saturating_sub(r(&self.taken)),
            analysis_s: r(&self.analysis_ns) as f64 / 1e9,
            inference_runs: r(&self.inference_runs),
            inference_s: r(&self.inference_ns) as f64 / 1e9,
        }
    }

    pub fn add_analysis(&self, d: Duration) {
        self.analysed.fetch_add(1, Ordering::Relaxed);
        self.analysis_ns
            .fetch_add(d.as_nanos().min(u64::MAX as u128) as u64, Ordering::Relaxed);
    }

    pub fn add_inference(&self, runs: u64, d: Duration) {
        self.inference_runs.fetch_add(runs, Ordering::Relaxed);
        self.inference_ns
            .fetch_add(d.as_nanos().min(u64::MAX as u128) as u64, Ordering::Relaxed);
    }
}

/// What became of a pushed frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// The queue was full (live source): the frame is gone, counted in `dropped`.
    Dropped,
    /// The analysis stage is gone (it ended or panicked).
    Closed,
}

/// The decode stage's end.
pub struct FrameSender {
    tx: SyncSender<Frame>,
    drop_when_full: bool,
    counters: Arc<StageCounters>,
}

/// The analysis stage's end.
pub struct FrameReceiver {
    rx: Receiver<Frame>,
    counters: Arc<StageCounters>,
}

/// A queue of `capacity` frames (at least 1). `drop_when_full`: a live source; otherwise
/// [`FrameSender::push`] waits for room.
pub fn frame_queue(
    capacity: usize,
    drop_when_full: bool,
    counters: Arc<StageCounters>,
) -> (FrameSender, FrameReceiver) {
    let (tx, rx) = std::sync::mpsc::sync_channel(capacity.max(1));
    (
        FrameSender {
            tx,
            drop_when_full,
            counters: counters.clone(),
        },
        FrameReceiver { rx, counters },
    )
}

impl FrameSender {
    pub fn push(&self, frame: Frame) -> Pushed {
        let c = &self.counters;
        c.received.fetch_add(1, Ordering::Relaxed);
        let res = if self.drop_when_full {
            match self.tx.try_send(frame) {
                Ok(()) => Pushed::Queued,
                Err(TrySendError::Full(_)) => {
                    c.dropped.fetch_add(1, Ordering::Relaxed);
                    Pushed::Dropped
                }
                Err(TrySendError::Disconnected(_)) => Pushed::Closed,
            }
        } else {
            match self.tx.send(frame) {
                Ok(()) => Pushed::Queued,
                Err(_) => Pushed::Closed,
            }
        };
        if res == Pushed::Queued {
            c.queued.fetch_add(1, Ordering::Relaxed);
        }
        res
    }
}

impl FrameReceiver {
    /// The next frame; `None` once the decode stage is gone and the queue is empty.
    pub fn recv(&self) -> Option<Frame> {
        let f = self.rx.recv().ok()?;
        self.counters.taken.fetch_add(1, Ordering::Relaxed);
        Some(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(i: u64) -> Frame {
        Frame {
            index: i,
            pts_s: i as f64 * 0.04,
            width: 2,
            height: 2,
            gray: vec![0; 4],
            rgb: None,
        }
    }

    #[test]
    fn a_live_queue_drops_when_full_and_counts_it() {
        let c = Arc::new(StageCounters::default());
        let (tx, rx) = frame_queue(2, true, c.clone());
        assert_eq!(tx.push(frame(0)), Pushed::Queued);
        assert_eq!(tx.push(frame(1)), Pushed::Queued);
        assert_eq!(tx.push(frame(2)), Pushed::Dropped);
        let s = c.snapshot();
        assert_eq!((s.received, s.dropped, s.queue_depth), (3, 1, 2));
        assert_eq!(rx.recv().map(|f| f.index), Some(0));
        assert_eq!(c.snapshot().queue_depth, 1);
        assert_eq!(tx.push(frame(3)), Pushed::Queued);
        drop(rx);
        assert_eq!(tx.push(frame(4)), Pushed::Closed);
    }

    #[test]
    fn a_file_queue_waits_instead_of_dropping() {
        let c = Arc::new(StageCounters::default());
        let (tx, rx) = frame_queue(1, false, c.clone());
        let reader = std::thread::spawn(move || {
            let mut n = 0;
            while rx.recv().is_some() {
                n += 1;
            }
            n
        });
        for i in 0..50 {
            assert_eq!(tx.push(frame(i)), Pushed::Queued);
        }
        drop(tx);
        assert_eq!(reader.join().expect("reader"), 50);
        let s = c.snapshot();
        assert_eq!((s.received, s.dropped, s.queue_depth), (50, 0, 0));
    }
}
