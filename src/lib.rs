//! vigil — a video-analytics node.
//!
//! Data flows one way: `ingest` (demux, decode, packet ring) → `frame` → `analytics`
//! → `events` → `evidence` (clips, pictures). `pipeline` wires one camera's flow and is the
//! single entry used by `vigil analyze`, `vigil bench` and the service.

pub mod analytics;
pub mod api;
pub mod audit;
pub mod auth;
pub mod config;
pub mod console;
pub mod events;
pub mod evidence;
pub mod frame;
pub mod infer;
pub mod ingest;
pub mod node;
pub mod pipeline;
pub mod push;
pub mod store;
pub mod synth;
