//! YOLOv8 / YOLO11 (Ultralytics): one output `[1, 4 + C, N]`, column-major per anchor:
//! `[cx, cy, w, h, cls…]` in input pixels, class scores sigmoided, no objectness. Input: RGB /255,
//! centred letterbox padded with 114.

use super::{single_3d, ultralytics_spec, Layout, LayoutKind, Output};
use crate::analytics::ebike::nms::Detection;
use crate::analytics::ebike::preprocess::PreSpec;

pub struct Yolov8 {
    pub classes: usize,
}

impl Layout for Yolov8 {
    fn kind(&self) -> LayoutKind {
        LayoutKind::Yolov8
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
        let (rows, n, data) = single_3d(outputs)?;
        if rows != 4 + self.classes {
            return Err(format!(
                "YOLOv8 has {rows} rows, expected {}",
                4 + self.classes
            ));
        }
        // Best class per anchor, scanning class planes row by row (contiguous reads).
        let mut best = vec![(0usize, f32::NEG_INFINITY); n];
        for c in 0..self.classes {
            let plane = &data[(4 + c) * n..(5 + c) * n];
            for (b, &v) in best.iter_mut().zip(plane) {
                if v > b.1 {
                    *b = (c, v);
                }
            }
        }
        for (j, &(c, score)) in best.iter().enumerate() {
            if score < min_score {
                continue;
            }
            let (cx, cy, w, h) = (data[j], data[n + j], data[2 * n + j], data[3 * n + j]);
            out.push(Detection {
                class_id: c,
                score,
                bbox: [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0],
            });
        }
        Ok(())
    }
}
