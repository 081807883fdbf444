//! Class-wise non-maximum suppression.

/// One detection in frame pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct Detection {
    pub class_id: usize,
    pub score: f32,
    /// `[x1, y1, x2, y2]`.
    pub bbox: [f32; 4],
}

impl Detection {
    pub fn area(&self) -> f32 {
        (self.bbox[2] - self.bbox[0]).max(0.0) * (self.bbox[3] - self.bbox[1]).max(0.0)
    }
}

/// Intersection over union of two `[x1, y1, x2, y2]` boxes (0 when either is empty).
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let ua = (a[2] - a[0]).max(0.0) * (a[3] - a[1]).max(0.0)
        + (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0)
        - inter;
    if ua > 0.0 {
        inter / ua
    } else {
        0.0
    }
}

/// Keep the best box of each overlapping same-class group; result sorted by score, best first.
/// At most `max_candidates` boxes enter the quadratic pass (highest scores first).
pub fn nms(mut dets: Vec<Detection>, iou_threshold: f32, max_candidates: usize) -> Vec<Detection> {
    dets.retain(|d| d.score.is_finite() && d.bbox.iter().all(|v| v.is_finite()));
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    dets.truncate(max_candidates);
    let mut keep: Vec<Detection> = Vec::new();
    for d in dets {
        if keep
            .iter()
            .all(|k| k.class_id != d.class_id || iou(&k.bbox, &d.bbox) <= iou_threshold)
        {
            keep.push(d);
        }
    }
    keep
}
