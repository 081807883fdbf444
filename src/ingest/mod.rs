//! Ingest: demux + decode with ffmpeg, per-camera counters, and the compressed-packet ring
//! that evidence clips are cut from (fed by the same demux as the decoder, so clip time and
//! detection time cannot drift).
//!
//! `MediaSource` reads one file or stream once; `LiveSource` wraps it with reconnect,
//! capped exponential backoff and stall detection for cameras.

pub mod counters;
pub mod live;
pub mod ring;
pub mod source;

pub use counters::{CounterSnapshot, Counters};
pub use live::{LiveOptions, LiveSource};
pub use ring::{ClipPackets, PacketRing};
pub use source::{redact_url, IngestOptions, MediaSource, StageTimes, StreamInfo};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot open '{source_name}': {reason}")]
    Open { source_name: String, reason: String },
    #[error("'{source_name}' has no video stream")]
    NoVideo { source_name: String },
    #[error("'{source_name}': unsupported video codec: {reason}")]
    Codec { source_name: String, reason: String },
    #[error("'{source_name}': read failed: {reason}")]
    Read { source_name: String, reason: String },
    #[error("'{source_name}': no frame for {seconds:.1} s (stalled)")]
    Stalled { source_name: String, seconds: f64 },
    #[error("'{source_name}': stopped")]
    Stopped { source_name: String },
}

/// Initialise FFmpeg once per process (idempotent) and quiet its logging.
pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ffmpeg_next::init();
        // Fatal only: corrupt camera streams would flood stderr; errors are counted and reported
        // through our own error types and tracing instead.
        ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Fatal);
    });
}
