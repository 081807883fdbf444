//! Output layouts of YOLO-family detectors: each turns raw output tensors into boxes in
//! network-input pixels.

pub mod nanodet;
pub mod yolov5;
pub mod yolov8;
pub mod yolox;

use super::nms::Detection;
use super::preprocess::{PreSpec, Resize};

/// One output tensor: its shape and data.
pub struct Output<'a> {
    pub name: &'a str,
    pub shape: &'a [i64],
    pub data: &'a [f32],
}

pub use crate::config::elevator::LayoutKind;

/// Decoding of one family.
pub trait Layout: Send {
    fn kind(&self) -> LayoutKind;
    fn num_classes(&self) -> usize;
    /// Input transform the family was trained with, for an input of `w`×`h`.
    fn pre_spec(&self, w: u32, h: u32) -> PreSpec;
    /// Boxes (network-input pixels) with score ≥ `min_score`, before NMS.
    fn decode(
        &self,
        outputs: &[Output<'_>],
        min_score: f32,
        out: &mut Vec<Detection>,
    ) -> Result<(), String>;
}

/// Ultralytics style input: centred letterbox, RGB, /255.
pub(crate) fn ultralytics_spec(w: u32, h: u32) -> PreSpec {
    PreSpec {
        width: w,
        height: h,
        resize: Resize::Letterbox {
            pad: 114.0,
            centered: true,
        },
        bgr: false,
        mean: [0.0; 3],
        scale: [1.0 / 255.0; 3],
    }
}

/// Find the single output of shape `[1, a, b]` (or `[a, b]`); returns (a, b, data).
pub(crate) fn single_3d<'a>(
    outputs: &'a [Output<'a>],
) -> Result<(usize, usize, &'a [f32]), String> {
    let o = outputs.first().ok_or("model has no outputs")?;
    let dims: Vec<i64> = o.shape.iter().copied().skip_while(|&d| d == 1).collect();
    let (a, b) = match (o.shape.len(), dims.as_slice()) {
        (3, _) if o.shape[0] == 1 => (o.shape[1], o.shape[2]),
        (2, _) => (o.shape[0], o.shape[1]),
        _ => {
            return Err(format!(
                "output {} has shape {:?}, expected [1, A, B]",
                o.name, o.shape
            ))
        }
    };
    if a <= 0 || b <= 0 || (a * b) as usize != o.data.len() {
        return Err(format!(
            "output {} shape {:?} does not match its data",
            o.name, o.shape
        ));
    }
    Ok((a as usize, b as usize, o.data))
}

/// Arg-max over class scores.
#[inline]
pub(crate) fn best_class(cls: &[f32]) -> (usize, f32) {
    let mut best = (0usize, f32::NEG_INFINITY);
    for (i, &v) in cls.iter().enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best
}
