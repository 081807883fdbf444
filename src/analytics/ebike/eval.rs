//! Evaluation on labelled images (Pascal VOC XML) and on image sequences: per-class
//! precision/recall/AP at IoU ≥ 0.5, and the alarm latency of the full elevator logic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use image::RgbImage;
use serde::Serialize;

use super::analytic::EbikeAnalytic;
use super::config::ElevatorConfig;
use super::detector::Detector;
use super::nms::iou;
use super::EbikeError;
use crate::analytics::Analytic;
use crate::events::Phase;
use crate::frame::Frame;

#[derive(Clone, Debug, PartialEq)]
pub struct VocObject {
    pub name: String,
    pub bbox: [f32; 4],
    pub difficult: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct VocAnnotation {
    pub filename: Option<String>,
    pub size: Option<(u32, u32)>,
    pub objects: Vec<VocObject>,
}

fn child<'a>(n: roxmltree::Node<'a, 'a>, tag: &str) -> Option<roxmltree::Node<'a, 'a>> {
    n.children().find(|c| c.has_tag_name(tag))
}

fn text_of(n: roxmltree::Node<'_, '_>, tag: &str) -> Option<String> {
    child(n, tag)
        .and_then(|c| c.text())
        .map(|t| t.trim().to_string())
}

/// Parse one VOC annotation. Boxes must have finite xmin < xmax, ymin < ymax.
pub fn parse_voc(xml: &str) -> Result<VocAnnotation, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| e.to_string())?;
    let root = doc.root_element();
    if !root.has_tag_name("annotation") {
        return Err(format!(
            "root element is <{}>, not <annotation>",
            root.tag_name().name()
        ));
    }
    let size = child(root, "size").and_then(|s| {
        let w = text_of(s, "width")?.parse::<f64>().ok()?;
        let h = text_of(s, "height")?.parse::<f64>().ok()?;
        Some((w as u32, h as u32))
    });
    let mut objects = Vec::new();
    for o in root.children().filter(|c| c.has_tag_name("object")) {
        let name = text_of(o, "name").ok_or("<object> without <name>")?;
        let bb = child(o, "bndbox").ok_or_else(|| format!("object {name} without <bndbox>"))?;
        let mut v = [0f32; 4];
        for (i, tag) in ["xmin", "ymin", "xmax", "ymax"].iter().enumerate() {
            v[i] = text_of(bb, tag)
                .and_then(|t| t.parse::<f32>().ok())
                .filter(|x| x.is_finite())
                .ok_or_else(|| format!("object {name}: bad or missing <{tag}>"))?;
        }
        if v[0] >= v[2] || v[1] >= v[3] {
            return Err(format!("object {name}: empty box {v:?}"));
        }
        let difficult = text_of(o, "difficult").is_some_and(|d| d == "1");
        objects.push(VocObject {
            name,
            bbox: v,
            difficult,
        });
    }
    Ok(VocAnnotation {
        filename: text_of(root, "filename"),
        size,
        objects,
    })
}

/// Precision/recall of one evaluation class.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ClassScore {
    pub class: String,
    /// Ground-truth boxes (not difficult).
    pub gt: usize,
    /// At the operating thresholds.
    pub tp: usize,
    pub fp: usize,
    pub precision: f64,
    pub recall: f64,
    /// VOC all-point average precision over every detection (score ≥ 0.01).
    pub ap: f64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ImagesReport {
    pub images: usize,
    pub classes: Vec<ClassScore>,
    /// Mean detector time per image (pre + inference + post), ms.
    pub mean_ms: f64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct SequenceReport {
    pub frames: usize,
    pub fps: f64,
    /// Media time from which the e-bike is visible (first frame, or first labelled frame).
    pub visible_from_s: f64,
    /// Detector runs with an e-bike above threshold.
    pub positive_runs: u64,
    pub detector_runs: u64,
    pub alarm_s: Option<f64>,
    /// `alarm_s − visible_from_s`.
    pub latency_s: Option<f64>,
    pub alarms: usize,
    pub best_score: Option<f64>,
}

/// A frame (grey plane included) from an RGB image.
pub fn frame_from_rgb(img: &RgbImage, index: u64, pts_s: f64) -> Frame {
    let gray = img
        .pixels()
        .map(|p| ((p[0] as u32 * 77 + p[1] as u32 * 150 + p[2] as u32 * 29) >> 8) as u8)
        .collect();
    Frame {
        index,
        pts_s,
        width: img.width(),
        height: img.height(),
        gray,
        rgb: Some(img.as_raw().clone()),
    }
}

/// Load an image whatever its extension says (some "jpg" files are PNGs).
pub fn load_rgb(path: &Path) -> Result<RgbImage, EbikeError> {
    let io = |reason: String| EbikeError::Io {
        path: path.to_path_buf(),
        reason,
    };
    Ok(image::ImageReader::open(path)
        .map_err(|e| io(e.to_string()))?
        .with_guessed_format()
        .map_err(|e| io(e.to_string()))?
        .decode()
        .map_err(|e| io(e.to_string()))?
        .to_rgb8())
}

/// Image files of `dir`, sorted by name.
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>, EbikeError> {
    let rd = std::fs::read_dir(dir).map_err(|e| EbikeError::Io {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                matches!(
                    e.to_ascii_lowercase().as_str(),
                    "jpg" | "jpeg" | "png" | "bmp"
                )
            })
        })
        .collect();
    v.sort();
    Ok(v)
}

/// Which detector classes stand for each evaluation class: VOC `ebike` (and `e-bike`,
/// `electric_bike`, `motorbike`) ↔ the configured e-bike classes; any other VOC name ↔ the
/// detector class of the same name.
pub fn eval_class_of(voc_name: &str) -> String {
    match voc_name.to_ascii_lowercase().as_str() {
        "ebike" | "e-bike" | "e_bike" | "electric_bike" | "electromobile" | "motorbike" => {
            "ebike".into()
        }
        other => other.to_string(),
    }
}

/// VOC all-point interpolated AP from (score, is_tp) pairs and the ground-truth count.
pub fn average_precision(mut hits: Vec<(f32, bool)>, gt: usize) -> f64 {
    if gt == 0 {
        return 0.0;
    }
    hits.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut pr: Vec<(f64, f64)> = Vec::with_capacity(hits.len());
    for (_, ok) in &hits {
        if *ok {
            tp += 1;
        } else {
            fp += 1;
        }
        pr.push((tp as f64 / gt as f64, tp as f64 / (tp + fp) as f64));
    }
    // Precision envelope, then area under the step curve.
    let mut ap = 0.0;
    let mut prev_r = 0.0;
    for i in 0..pr.len() {
        let p_max = pr[i..].iter().map(|x| x.1).fold(0.0, f64::max);
        ap += (pr[i].0 - prev_r) * p_max;
        prev_r = pr[i].0;
    }
    ap
}

/// Greedy matching of score-sorted detections to ground truth at `iou_thr`; difficult boxes
/// neither count nor penalise. Returns per-detection TP flags (None = ignored).
pub fn match_detections(
    gt: &[VocObject],
    dets: &[(f32, [f32; 4])],
    iou_thr: f32,
) -> Vec<Option<bool>> {
    let mut order: Vec<usize> = (0..dets.len()).collect();
    order.sort_by(|&a, &b| dets[b].0.total_cmp(&dets[a].0));
    let mut used = vec![false; gt.len()];
    let mut out = vec![Some(false); dets.len()];
    for i in order {
        let mut best: Option<(usize, f32)> = None;
        for (j, g) in gt.iter().enumerate() {
            let v = iou(&dets[i].1, &g.bbox);
            if v >= iou_thr && best.is_none_or_gt(v) {
                best = Some((j, v));
            }
        }
        if let Some((j, _)) = best {
            if gt[j].difficult {
                out[i] = None;
            } else if !used[j] {
                used[j] = true;
                out[i] = Some(true);
            }
        }
    }
    out
}

trait BestExt {
    fn is_none_or_gt(&self, v: f32) -> bool;
}
impl BestExt for Option<(usize, f32)> {
    fn is_none_or_gt(&self, v: f32) -> bool {
        match self {
            None => true,
            Some((_, b)) => v > *b,
        }
    }
}

/// Run the detector over every image of `dir` that has a VOC `.xml` beside it.
pub fn evaluate_images(
    detector: &mut Detector,
    cfg: &ElevatorConfig,
    dir: &Path,
    iou_thr: f32,
) -> Result<ImagesReport, EbikeError> {
    let alarm: Vec<String> = cfg.alarm_classes();
    // Eval class of each detector class id.
    let det_eval: Vec<String> = detector
        .class_names()
        .iter()
        .map(|n| {
            if alarm.contains(n) {
                "ebike".to_string()
            } else {
                n.clone()
            }
        })
        .collect();
    let thresholds: Vec<f32> = detector
        .class_names()
        .iter()
        .map(|n| cfg.threshold_for(n))
        .collect();
    let mut hits: BTreeMap<String, Vec<(f32, bool, bool)>> = BTreeMap::new(); // (score, tp, above thr)
    let mut gts: BTreeMap<String, usize> = BTreeMap::new();
    let mut images = 0usize;
    let mut total_ms = 0.0;
    for img_path in list_images(dir)? {
        let xml_path = img_path.with_extension("xml");
        let Ok(xml) = std::fs::read_to_string(&xml_path) else {
            continue;
        };
        let ann = parse_voc(&xml).map_err(|reason| EbikeError::Io {
            path: xml_path.clone(),
            reason,
        })?;
        let img = load_rgb(&img_path)?;
        let (dets, t) = detector.detect_timed(img.as_raw(), img.width(), img.height(), 0.01)?;
        total_ms += t.pre_ms + t.infer_ms + t.post_ms;
        images += 1;
        let mut by_class: BTreeMap<String, Vec<VocObject>> = BTreeMap::new();
        for o in ann.objects {
            let c = eval_class_of(&o.name);
            if !o.difficult {
                *gts.entry(c.clone()).or_default() += 1;
            }
            by_class.entry(c).or_default().push(o);
        }
        for c in by_class.keys() {
            hits.entry(c.clone()).or_default();
        }
        for (class, gt) in by_class.iter() {
            let mine: Vec<(f32, [f32; 4], bool)> = dets
                .iter()
                .filter(|d| det_eval.get(d.class_id) == Some(class))
                .map(|d| {
                    (
                        d.score,
                        d.bbox,
                        d.score >= thresholds.get(d.class_id).copied().unwrap_or(1.0),
                    )
                })
                .collect();
            let pairs: Vec<(f32, [f32; 4])> = mine.iter().map(|m| (m.0, m.1)).collect();
            let flags = match_detections(gt, &pairs, iou_thr);
            let h = hits.entry(class.clone()).or_default();
            for (m, f) in mine.iter().zip(flags) {
                if let Some(tp) = f {
                    h.push((m.0, tp, m.2));
                }
            }
        }
        // Detections of an evaluated class in an image without such objects are false positives.
        for (class, h) in hits.iter_mut() {
            if by_class.contains_key(class) {
                continue;
            }
            for d in dets
                .iter()
                .filter(|d| det_eval.get(d.class_id) == Some(class))
            {
                let above = d.score >= thresholds.get(d.class_id).copied().unwrap_or(1.0);
                h.push((d.score, false, above));
            }
        }
    }
    let classes = hits
        .into_iter()
        .map(|(class, h)| {
            let gt = gts.get(&class).copied().unwrap_or(0);
            let tp = h.iter().filter(|x| x.1 && x.2).count();
            let fp = h.iter().filter(|x| !x.1 && x.2).count();
            ClassScore {
                ap: average_precision(h.iter().map(|x| (x.0, x.1)).collect(), gt),
                precision: if tp + fp > 0 {
                    tp as f64 / (tp + fp) as f64
                } else {
                    0.0
                },
                recall: if gt > 0 { tp as f64 / gt as f64 } else { 0.0 },
                class,
                gt,
                tp,
                fp,
            }
        })
        .collect();
    Ok(ImagesReport {
        images,
        classes,
        mean_ms: if images > 0 {
            total_ms / images as f64
        } else {
            0.0
        },
    })
}

/// Feed the images of `dir` (sorted by name) as a clip at `fps` through the full elevator
/// logic. The e-bike counts as visible from the first frame whose VOC file has an `ebike`
/// object, or from the first frame when there are no labels.
pub fn evaluate_sequence(
    detector: Detector,
    cfg: &ElevatorConfig,
    dir: &Path,
    fps: f64,
) -> Result<SequenceReport, EbikeError> {
    let mut a = EbikeAnalytic::with_detector("eval", cfg, detector)?;
    let files = list_images(dir)?;
    let mut visible_from: Option<f64> = None;
    let mut any_xml = false;
    let mut rep = SequenceReport {
        frames: files.len(),
        fps,
        ..Default::default()
    };
    for (i, p) in files.iter().enumerate() {
        let t = i as f64 / fps;
        if let Ok(xml) = std::fs::read_to_string(p.with_extension("xml")) {
            any_xml = true;
            let ann = parse_voc(&xml).map_err(|reason| EbikeError::Io {
                path: p.with_extension("xml"),
                reason,
            })?;
            if visible_from.is_none()
                && ann
                    .objects
                    .iter()
                    .any(|o| eval_class_of(&o.name) == "ebike")
            {
                visible_from = Some(t);
            }
        }
        let img = load_rgb(p)?;
        let ups = a.on_frame(&frame_from_rgb(&img, i as u64, t));
        if !a.last_detections().is_empty() && a.stats().detector_runs > rep.detector_runs {
            rep.positive_runs += 1;
            let s = a.last_detections()[0].score as f64;
            rep.best_score = Some(rep.best_score.map_or(s, |b: f64| b.max(s)));
        }
        rep.detector_runs = a.stats().detector_runs;
        for u in ups.iter().filter(|u| u.phase == Phase::New) {
            rep.alarms += 1;
            if rep.alarm_s.is_none() {
                rep.alarm_s = Some(u.event.alarm_s);
            }
        }
    }
    a.finish();
    rep.visible_from_s = if any_xml {
        visible_from.unwrap_or(0.0)
    } else {
        0.0
    };
    rep.latency_s = rep.alarm_s.map(|t| t - rep.visible_from_s);
    Ok(rep)
}

/// One point of a precision/recall curve over the fused e-bike score.
#[derive(Clone, Debug, Serialize)]
pub struct CurvePoint {
    pub threshold: f32,
    pub tp: usize,
    pub fp: usize,
    pub precision: f64,
    pub recall: f64,
}

/// The fused e-bike score (`score::fuse`, the analytic's own) on labelled images.
#[derive(Clone, Debug, Serialize)]
pub struct FusedReport {
    /// `fused` (one model run on the image) or `fused+tiles` (and its two tiles).
    pub variant: String,
    pub images: usize,
    pub gt: usize,
    /// At the configured `score_threshold`.
    pub threshold: f32,
    pub tp: usize,
    pub fp: usize,
    pub precision: f64,
    pub recall: f64,
    pub ap: f64,
    pub curve: Vec<CurvePoint>,
    /// Detector time per image (all model runs), ms.
    pub mean_ms: f64,
    pub model_runs_per_image: f64,
}

fn pr(tp: usize, fp: usize, gt: usize) -> (f64, f64) {
    (
        if tp + fp > 0 {
            tp as f64 / (tp + fp) as f64
        } else {
            1.0
        },
        if gt > 0 { tp as f64 / gt as f64 } else { 0.0 },
    )
}

/// Fused e-bike candidates on every labelled image of `dir` (whole image as the zone), matched
/// at `iou_thr` to the VOC e-bike boxes.
pub fn evaluate_images_fused(
    detector: &mut Detector,
    cfg: &ElevatorConfig,
    dir: &Path,
    iou_thr: f32,
    tiled: bool,
) -> Result<FusedReport, EbikeError> {
    let scorer = super::analytic::Scorer::for_config(cfg, detector);
    let mut hits: Vec<(f32, bool)> = Vec::new();
    let (mut gt, mut images, mut runs) = (0usize, 0usize, 0u64);
    let mut total_ms = 0.0;
    for img_path in list_images(dir)? {
        let xml_path = img_path.with_extension("xml");
        let Ok(xml) = std::fs::read_to_string(&xml_path) else {
            continue;
        };
        let ann = parse_voc(&xml).map_err(|reason| EbikeError::Io {
            path: xml_path.clone(),
            reason,
        })?;
        let img = load_rgb(&img_path)?;
        let (w, h) = (img.width(), img.height());
        let (dets, t, n) = scorer.detect(detector, img.as_raw(), w, h, [0, 0, w, h], tiled)?;
        total_ms += t.pre_ms + t.infer_ms + t.post_ms;
        runs += n;
        images += 1;
        let cands = super::score::fuse(&dets, &scorer.fusion);
        let truth: Vec<VocObject> = ann
            .objects
            .into_iter()
            .filter(|o| eval_class_of(&o.name) == "ebike")
            .collect();
        gt += truth.iter().filter(|o| !o.difficult).count();
        let pairs: Vec<(f32, [f32; 4])> = cands.iter().map(|c| (c.score, c.bbox)).collect();
        for (p, f) in pairs.iter().zip(match_detections(&truth, &pairs, iou_thr)) {
            if let Some(tp) = f {
                hits.push((p.0, tp));
            }
        }
    }
    let at = |thr: f32| {
        let tp = hits.iter().filter(|h| h.1 && h.0 >= thr).count();
        let fp = hits.iter().filter(|h| !h.1 && h.0 >= thr).count();
        (tp, fp)
    };
    let curve = (1..20)
        .map(|k| {
            let thr = k as f32 * 0.05;
            let (tp, fp) = at(thr);
            let (precision, recall) = pr(tp, fp, gt);
            CurvePoint {
                threshold: thr,
                tp,
                fp,
                precision,
                recall,
            }
        })
        .collect();
    let (tp, fp) = at(cfg.score_threshold);
    let (precision, recall) = pr(tp, fp, gt);
    Ok(FusedReport {
        variant: if tiled { "fused+tiles" } else { "fused" }.into(),
        images,
        gt,
        threshold: cfg.score_threshold,
        tp,
        fp,
        precision,
        recall,
        ap: average_precision(hits, gt),
        curve,
        mean_ms: if images > 0 {
            total_ms / images as f64
        } else {
            0.0
        },
        model_runs_per_image: if images > 0 {
            runs as f64 / images as f64
        } else {
            0.0
        },
    })
}
