//! Evaluations that drive the real pipeline on labelled clips (above `pipeline`, so the
//! analytics they measure never import what measures them). `ebike` renders and decodes
//! generated elevator clips (positives and the in-car negative set) and fixes the e-bike
//! fusion's operating point on them; the image evaluation stays in `analytics::ebike::eval`:
//! it calls the detector and alarm logic directly, on images.

pub mod ebike;
pub mod falling;
