//! NanoDet (GFL head, ONNX export with per-stride outputs): `cls_pred_stride_{8,16,32}`
//! `[1, N, C]` (sigmoided) and `dis_pred_stride_{8,16,32}` `[1, N, 4·(R+1)]` — per side a
//! distribution over R+1 bins; distance = Σ softmax·bin × stride from the cell centre
//! `(col·s + (s−1)/2, row·s + (s−1)/2)`. Input: BGR, (x − mean)/std, plain resize.

use super::{best_class, Layout, LayoutKind, Output};
use crate::analytics::ebike::nms::Detection;
use crate::analytics::ebike::preprocess::{PreSpec, Resize};

pub const STRIDES: [u32; 3] = [8, 16, 32];

pub struct Nanodet {
    pub classes: usize,
    pub width: u32,
    pub height: u32,
}

/// Index of the output named `<prefix><stride>`.
fn find<'a>(outputs: &'a [Output<'a>], prefix: &str, s: u32) -> Result<&'a Output<'a>, String> {
    let name = format!("{prefix}{s}");
    outputs
        .iter()
        .find(|o| o.name == name)
        .ok_or_else(|| format!("NanoDet output {name} missing"))
}

/// Whether output names look like a NanoDet export.
pub fn matches(names: &[&str]) -> bool {
    STRIDES.iter().all(|s| {
        names.contains(&format!("cls_pred_stride_{s}").as_str())
            && names.contains(&format!("dis_pred_stride_{s}").as_str())
    })
}

impl Layout for Nanodet {
    fn kind(&self) -> LayoutKind {
        LayoutKind::Nanodet
    }
    fn num_classes(&self) -> usize {
        self.classes
    }
    fn pre_spec(&self, w: u32, h: u32) -> PreSpec {
        let std = [57.375f32, 57.12, 58.395];
        PreSpec {
            width: w,
            height: h,
            resize: Resize::Stretch,
            bgr: true,
            mean: [103.53, 116.28, 123.675],
            scale: [1.0 / std[0], 1.0 / std[1], 1.0 / std[2]],
        }
    }
    fn decode(
        &self,
        outputs: &[Output<'_>],
        min_score: f32,
        out: &mut Vec<Detection>,
    ) -> Result<(), String> {
        for s in STRIDES {
            let cls = find(outputs, "cls_pred_stride_", s)?;
            let dis = find(outputs, "dis_pred_stride_", s)?;
            let gw = self.width.div_ceil(s) as usize;
            let gh = self.height.div_ceil(s) as usize;
            let n = gw * gh;
            if cls.data.len() != n * self.classes {
                return Err(format!(
                    "{} has {} values, expected {}×{}",
                    cls.name,
                    cls.data.len(),
                    n,
                    self.classes
                ));
            }
            if dis.data.len() % (4 * n) != 0 || dis.data.len() < 8 * n {
                return Err(format!(
                    "{} has {} values for {} cells",
                    dis.name,
                    dis.data.len(),
                    n
                ));
            }
            let bins = dis.data.len() / (4 * n);
            let sf = s as f32;
            for i in 0..n {
                let (c, score) = best_class(&cls.data[i * self.classes..(i + 1) * self.classes]);
                if score < min_score {
                    continue;
                }
                let (row, col) = ((i / gw) as f32, (i % gw) as f32);
                let cx = col * sf + (sf - 1.0) / 2.0;
                let cy = row * sf + (sf - 1.0) / 2.0;
                let d = &dis.data[i * 4 * bins..(i + 1) * 4 * bins];
                let mut dist = [0f32; 4];
                for (k, side) in d.chunks_exact(bins).enumerate() {
                    let m = side.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let mut z = 0f32;
                    let mut e = 0f32;
                    for (b, &v) in side.iter().enumerate() {
                        let p = (v - m).exp();
                        z += p;
                        e += p * b as f32;
                    }
                    dist[k] = e / z * sf;
                }
                out.push(Detection {
                    class_id: c,
                    score,
                    bbox: [cx - dist[0], cy - dist[1], cx + dist[2], cy + dist[3]],
                });
            }
        }
        Ok(())
    }
}
