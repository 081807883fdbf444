//! YOLOv5 (classic export): one output `[1, N, 5 + C]` already decoded to input pixels,
//! rows `[cx, cy, w, h, obj, cls…]` (sigmoided), N = 3 anchors × grid cells. Input: RGB /255,
//! centred letterbox padded with 114.

use super::{best_class, single_3d, ultralytics_spec, Layout, LayoutKind, Output};
use crate::analytics::ebike::nms::Detection;
use crate::analytics::ebike::preprocess::PreSpec;

pub struct Yolov5 {
    pub classes: usize,
}

impl Layout for Yolov5 {
    fn kind(&self) -> LayoutKind {
        LayoutKind::Yolov5
    }
    fn num_classes(&self) -> usize {
        self.classes
    }
    fn pre_spec(&self, w: u32, h: u32) -> PreSpec {
        ultralytics_spec(w, h)
    }
    fn decode(
        &self,
        outputs: &[Output<'_>],
        min_score: f32,
        out: &mut Vec<Detection>,
    ) -> Result<(), String> {
        let (_, row, data) = single_3d(outputs)?;
        if row != 5 + self.classes {
            return Err(format!(
                "YOLOv5 row length {row}, expected {}",
                5 + self.classes
            ));
        }
        for r in data.chunks_exact(row) {
            let obj = r[4];
            if obj < min_score {
                continue;
            }
            let (c, p) = best_class(&r[5..]);
            let score = obj * p;
            if score < min_score {
                continue;
            }
            let (cx, cy, w, h) = (r[0], r[1], r[2], r[3]);
            out.push(Detection {
                class_id: c,
                score,
                bbox: [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0],
            });
        }
        Ok(())
    }
}
