//! Evaluations that drive the real pipeline on labelled clips (above `pipeline`, so the
//! analytics they measure never import what measures them). The e-bike evaluation stays in
//! `analytics::ebike::eval`: it calls the detector and alarm logic directly, on images.

pub mod falling;
