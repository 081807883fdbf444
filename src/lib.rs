//! vigil — a video-analytics node.
//!
//! Data flows one way: `ingest` (demux, decode, packet ring) → `frame` → `analytics`
//! → `events` → `evidence` (clips, pictures). `pipeline` wires one camera's flow and is the
//! single entry used by `vigil analyze`, `vigil bench` and the service; `service` runs the
//! cameras and owns the one path from an event to the store, the live notices and the actions;
//! `api`, `console` and `cli` sit on top. The layers and the check that keeps imports going one
//! way (`tests/layers.rs`) are in ARCHITECTURE.md.

pub mod analytics;
pub mod api;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod eval;
pub mod events;
pub mod evidence;
pub mod frame;
pub mod infer;
pub mod ingest;
pub mod pipeline;
pub mod push;
pub mod service;
pub mod store;
pub mod synth;
