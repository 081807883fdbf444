//! One e-bike score from a generic detector's classes and their context.
//!
//! A COCO detector has no "e-bike" class: it calls an e-scooter a motorcycle, a step-through
//! e-bike a bicycle, often both (two boxes on one object), and each weakly when a person hides
//! part of it. This module merges overlapping two-wheeler boxes of the alarm classes into one
//! candidate, combines their scores as independent evidence (`1 − Π(1 − wᵢ·sᵢ)`), and adds the
//! context of a person beside or on it (someone wheeling or riding it in): `fused = 1 − (1 −
//! base)(1 − bonus·p)`. Each class only contributes above its own threshold
//! (`class_thresholds`), the alarm takes `fused ≥ score_threshold`.

use super::nms::{iou, Detection};

/// What the fusion needs to know about the model's classes and the operating point.
#[derive(Clone, Debug, PartialEq)]
pub struct FusionParams {
    /// `(class id, weight, class threshold)` of every class that is evidence of an e-bike.
    pub classes: Vec<(usize, f32, f32)>,
    /// The person class, if the model has one (context).
    pub person: Option<usize>,
    /// Minimum person score that counts as context.
    pub person_min: f32,
    /// Weight of a person beside the two-wheeler (0 = no context).
    pub context_bonus: f32,
}

/// One fused e-bike candidate in frame pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// The strongest box of the merged ones.
    pub bbox: [f32; 4],
    /// The fused e-bike score (0..1).
    pub score: f32,
    /// Class of the strongest contributing box (for the label).
    pub class_id: usize,
    /// Score of that box.
    pub class_score: f32,
    /// Best person score counted as context (0 when none).
    pub person: f32,
}

impl Candidate {
    pub fn as_detection(&self) -> Detection {
        Detection {
            class_id: self.class_id,
            score: self.score,
            bbox: self.bbox,
        }
    }
}

fn inter(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    (a[2].min(b[2]) - a[0].max(b[0])).max(0.0) * (a[3].min(b[3]) - a[1].max(b[1])).max(0.0)
}

fn area(a: &[f32; 4]) -> f32 {
    (a[2] - a[0]).max(0.0) * (a[3] - a[1]).max(0.0)
}

/// Two boxes of one object: IoU ≥ 0.45, or one mostly (≥ 70 %) inside the other.
fn same_object(a: &[f32; 4], b: &[f32; 4]) -> bool {
    let i = inter(a, b);
    iou(a, b) >= 0.45 || i >= 0.7 * area(a).min(area(b))
}

/// A person next to or on the two-wheeler: the boxes overlap, or the gap between them is under
/// a quarter of the two-wheeler's width with their vertical extents overlapping by half.
fn beside(bike: &[f32; 4], person: &[f32; 4]) -> bool {
    let bw = (bike[2] - bike[0]).max(1.0);
    let gap = (person[0] - bike[2]).max(bike[0] - person[2]).max(0.0);
    let vov = (bike[3].min(person[3]) - bike[1].max(person[1])).max(0.0);
    let vmin = (bike[3] - bike[1]).min(person[3] - person[1]).max(1.0);
    (inter(bike, person) > 0.0 || gap <= 0.25 * bw) && vov >= 0.5 * vmin
}

/// Fuse class-wise NMS'd detections into e-bike candidates, best first.
pub fn fuse(dets: &[Detection], p: &FusionParams) -> Vec<Candidate> {
    let weight = |c: usize| p.classes.iter().find(|x| x.0 == c).map(|x| (x.1, x.2));
    let mut two: Vec<(&Detection, f32)> = dets
        .iter()
        .filter_map(|d| match weight(d.class_id) {
            Some((w, thr)) if w > 0.0 && d.score >= thr => Some((d, w)),
            _ => None,
        })
        .collect();
    two.sort_by(|a, b| (b.0.score * b.1).total_cmp(&(a.0.score * a.1)));
    let persons: Vec<&Detection> = dets
        .iter()
        .filter(|d| Some(d.class_id) == p.person && d.score >= p.person_min)
        .collect();
    let mut used = vec![false; two.len()];
    let mut out = Vec::new();
    for (i, &(lead, lw)) in two.iter().enumerate() {
        if used[i] {
            continue;
        }
        used[i] = true;
        // Best weighted score per class in this cluster.
        let mut best: Vec<(usize, f32)> = vec![(lead.class_id, lead.score * lw)];
        for (j, &(d, w)) in two.iter().enumerate().skip(i + 1) {
            if used[j] || !same_object(&lead.bbox, &d.bbox) {
                continue;
            }
            used[j] = true;
            match best.iter_mut().find(|b| b.0 == d.class_id) {
                Some(b) => b.1 = b.1.max(d.score * w),
                None => best.push((d.class_id, d.score * w)),
            }
        }
        let base = 1.0
            - best
                .iter()
                .map(|b| 1.0 - b.1.clamp(0.0, 1.0))
                .product::<f32>();
        let person = persons
            .iter()
            .filter(|q| beside(&lead.bbox, &q.bbox))
            .map(|q| q.score)
            .fold(0.0f32, f32::max);
        let bonus = (p.context_bonus * person).clamp(0.0, 1.0);
        let score = 1.0 - (1.0 - base) * (1.0 - bonus);
        out.push(Candidate {
            bbox: lead.bbox,
            score,
            class_id: lead.class_id,
            class_score: lead.score,
            person,
        });
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(class_id: usize, score: f32, bbox: [f32; 4]) -> Detection {
        Detection {
            class_id,
            score,
            bbox,
        }
    }

    fn params(bonus: f32) -> FusionParams {
        FusionParams {
            classes: vec![(3, 1.0, 0.1), (1, 0.5, 0.1)],
            person: Some(0),
            person_min: 0.3,
            context_bonus: bonus,
        }
    }

    #[test]
    fn overlapping_motorcycle_and_bicycle_are_one_candidate_with_combined_evidence() {
        let dets = [
            d(3, 0.4, [100.0, 100.0, 200.0, 180.0]),
            d(1, 0.4, [105.0, 102.0, 198.0, 182.0]),
        ];
        let c = fuse(&dets, &params(0.0));
        assert_eq!(c.len(), 1, "{c:?}");
        // 1 − (1 − 0.4)(1 − 0.5·0.4) = 0.52
        assert!((c[0].score - 0.52).abs() < 1e-5, "{}", c[0].score);
        assert_eq!(c[0].class_id, 3);
    }

    #[test]
    fn a_person_beside_raises_the_score_a_distant_one_does_not() {
        let bike = d(3, 0.3, [100.0, 100.0, 200.0, 180.0]);
        let near = d(0, 0.8, [60.0, 40.0, 110.0, 180.0]);
        let far = d(0, 0.8, [400.0, 40.0, 450.0, 180.0]);
        let c = fuse(&[bike.clone(), near], &params(0.25));
        // 1 − 0.7·(1 − 0.2) = 0.44
        assert!((c[0].score - 0.44).abs() < 1e-5, "{c:?}");
        assert_eq!(c[0].person, 0.8);
        let c = fuse(&[bike, far], &params(0.25));
        assert!((c[0].score - 0.3).abs() < 1e-6, "{c:?}");
    }

    #[test]
    fn classes_below_their_threshold_or_without_weight_do_not_count() {
        let p = FusionParams {
            classes: vec![(3, 1.0, 0.35), (1, 0.0, 0.1)],
            ..params(0.25)
        };
        let dets = [
            d(3, 0.3, [0.0, 0.0, 10.0, 10.0]),
            d(1, 0.9, [50.0, 0.0, 60.0, 10.0]),
            d(0, 0.9, [0.0, 0.0, 10.0, 10.0]),
        ];
        assert!(fuse(&dets, &p).is_empty());
    }
}
