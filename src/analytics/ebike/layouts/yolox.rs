//! YOLOX: one output `[1, N, 5 + C]` of raw grid offsets (strides 8/16/32, one anchor per cell),
//! rows `[tx, ty, tw, th, obj, cls…]` with obj and cls already sigmoided. Input: BGR, raw 0..255,
//! letterbox at the top-left padded with 114.

use super::{best_class, single_3d, Layout, LayoutKind, Output};
use crate::analytics::ebike::nms::Detection;
use crate::analytics::ebike::preprocess::{PreSpec, Resize};

pub const STRIDES: [u32; 3] = [8, 16, 32];

/// Grid cells of the three strides for an input of `w`×`h`.
pub fn grid_len(w: u32, h: u32, per_cell: usize) -> usize {
    STRIDES
        .iter()
        .map(|s| (h / s) as usize * (w / s) as usize * per_cell)
        .sum()
}

pub struct Yolox {
    pub classes: usize,
    pub width: u32,
    pub height: u32,
}

impl Layout for Yolox {
    fn kind(&self) -> LayoutKind {
        LayoutKind::Yolox
    }
    fn num_classes(&self) -> usize {
        self.classes
    }
    fn pre_spec(&self, w: u32, h: u32) -> PreSpec {
        PreSpec {
            width: w,
            height: h,
            resize: Resize::Letterbox {
                pad: 114.0,
                centered: false,
            },
            bgr: true,
            mean: [0.0; 3],
            scale: [1.0; 3],
        }
    }
    fn decode(
        &self,
        outputs: &[Output<'_>],
        min_score: f32,
        out: &mut Vec<Detection>,
    ) -> Result<(), String> {
        let (n, row, data) = single_3d(outputs)?;
        if row != 5 + self.classes {
            return Err(format!(
                "YOLOX row length {row}, expected {}",
                5 + self.classes
            ));
        }
        if n != grid_len(self.width, self.height, 1) {
            return Err(format!(
                "YOLOX output has {n} rows; a {}x{} input gives {}",
                self.width,
                self.height,
                grid_len(self.width, self.height, 1)
            ));
        }
        let mut i = 0usize;
        for s in STRIDES {
            let (gw, gh) = (self.width / s, self.height / s);
            let sf = s as f32;
            for gy in 0..gh {
                for gx in 0..gw {
                    let r = &data[i * row..(i + 1) * row];
                    i += 1;
                    let obj = r[4];
                    if obj < min_score {
                        continue; // score = obj·cls ≤ obj
                    }
                    let (c, p) = best_class(&r[5..]);
                    let score = obj * p;
                    if score < min_score {
                        continue;
                    }
                    let cx = (r[0] + gx as f32) * sf;
                    let cy = (r[1] + gy as f32) * sf;
                    let w = r[2].exp() * sf;
                    let h = r[3].exp() * sf;
                    out.push(Detection {
                        class_id: c,
                        score,
                        bbox: [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0],
                    });
                }
            }
        }
        Ok(())
    }
}
