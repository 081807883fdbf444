//! ONNX detector on `ort`: loads a YOLO-family model, recognises its layout, and turns RGB
//! frames into class-wise-NMS'd detections in frame pixels.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ndarray::Array4;

use super::layouts::{nanodet, yolox, Layout, LayoutKind, Output};
use super::nms::{nms, Detection};
use super::preprocess::{preprocess, PreSpec};
use super::EbikeError;
use crate::infer::{Provider, SessionOptions};

/// COCO-80 class names (the default models' classes), embedded so a missing file cannot break
/// start-up.
pub const COCO80: &str = include_str!("../../../models/coco80_labels.txt");

/// How to load a detector.
#[derive(Clone, Debug, Default)]
pub struct DetectorOptions {
    pub provider: Provider,
    pub threads: usize,
    /// Class-names file; must list exactly the model's class count.
    pub labels: Option<PathBuf>,
    /// Input `[w, h]` for models with a dynamic input size.
    pub input_size: Option<[u32; 2]>,
    /// Force a layout instead of recognising it.
    pub layout: Option<LayoutKind>,
    /// IoU threshold of the class-wise NMS.
    pub nms_iou: f32,
}

/// Time spent in each stage of one `detect_timed` call, in milliseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timings {
    pub pre_ms: f64,
    pub infer_ms: f64,
    pub post_ms: f64,
}

pub struct Detector {
    session: ort::session::Session,
    layout: Box<dyn Layout>,
    spec: PreSpec,
    input_name: String,
    output_names: Vec<String>,
    names: Vec<String>,
    buf: Array4<f32>,
    nms_iou: f32,
    path: PathBuf,
}

fn model_err(path: &Path, reason: impl Into<String>) -> EbikeError {
    EbikeError::Model {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Parse Ultralytics' `names` metadata: `{0: 'person', 1: 'bicycle', …}`.
pub fn parse_names_metadata(s: &str) -> Option<Vec<String>> {
    let inner = s.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut out: Vec<(usize, String)> = Vec::new();
    // Split on commas that follow a closing quote, so names with commas survive.
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let colon = rest.find(':')?;
        let idx: usize = rest[..colon].trim().parse().ok()?;
        let after = rest[colon + 1..].trim_start();
        let q = after.chars().next()?;
        if q != '\'' && q != '"' {
            return None;
        }
        let end = after[1..].find(q)? + 1;
        out.push((idx, after[1..end].to_string()));
        rest = after[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    out.sort_by_key(|(i, _)| *i);
    if out.iter().enumerate().any(|(k, (i, _))| k != *i) {
        return None;
    }
    Some(out.into_iter().map(|(_, n)| n).collect())
}

/// Class names from a labels file (one per line, blank lines ignored).
pub fn read_labels(path: &Path) -> Result<Vec<String>, EbikeError> {
    let text = std::fs::read_to_string(path).map_err(|e| EbikeError::Labels {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(parse_labels(&text))
}

pub fn parse_labels(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// Pick the layout from the outputs' names and (real) shapes.
fn recognise(
    forced: Option<LayoutKind>,
    outs: &[(String, Vec<i64>)],
    has_names_meta: bool,
    w: u32,
    h: u32,
) -> Result<Box<dyn Layout>, String> {
    let names: Vec<&str> = outs.iter().map(|(n, _)| n.as_str()).collect();
    if forced == Some(LayoutKind::Nanodet) || (forced.is_none() && nanodet::matches(&names)) {
        let cls = outs
            .iter()
            .find(|(n, _)| n == "cls_pred_stride_8")
            .ok_or("NanoDet layout needs output cls_pred_stride_8")?;
        let classes = *cls.1.last().ok_or("cls_pred_stride_8 has no shape")? as usize;
        return Ok(Box::new(nanodet::Nanodet {
            classes,
            width: w,
            height: h,
        }));
    }
    let shapes: Vec<String> = outs.iter().map(|(n, s)| format!("{n} {s:?}")).collect();
    let unknown = || {
        format!(
            "not an image detector: unknown detector layout (outputs: {}); expected YOLOX/YOLOv5 [1,N,5+C], YOLOv8 [1,4+C,N] or NanoDet cls_pred/dis_pred",
            shapes.join(", ")
        )
    };
    if outs.len() != 1 {
        return Err(unknown());
    }
    let s = &outs[0].1;
    let (a, b) = match s.as_slice() {
        [1, a, b] => (*a as usize, *b as usize),
        _ => return Err(unknown()),
    };
    let kind = match forced {
        Some(k) => k,
        None if a < b => LayoutKind::Yolov8,
        None if has_names_meta => LayoutKind::Yolov5,
        None if a == yolox::grid_len(w, h, 1) => LayoutKind::Yolox,
        None if a == yolox::grid_len(w, h, 3) => LayoutKind::Yolov5,
        None => return Err(unknown()),
    };
    Ok(match kind {
        LayoutKind::Yolov8 if a > 4 => Box::new(super::layouts::yolov8::Yolov8 { classes: a - 4 }),
        LayoutKind::Yolox if b > 5 => Box::new(yolox::Yolox {
            classes: b - 5,
            width: w,
            height: h,
        }),
        LayoutKind::Yolov5 if b > 5 => Box::new(super::layouts::yolov5::Yolov5 { classes: b - 5 }),
        _ => return Err(unknown()),
    })
}

impl Detector {
    /// Load `path`, recognise its layout and class names. All problems are errors here, so
    /// `detect` never fails on a model mismatch later.
    pub fn load(path: &Path, opts: &DetectorOptions) -> Result<Detector, EbikeError> {
        let mut session = crate::infer::session(
            path,
            &SessionOptions {
                provider: opts.provider,
                threads: opts.threads,
            },
        )?;
        let input = session
            .inputs()
            .first()
            .ok_or_else(|| model_err(path, "model has no inputs"))?;
        let input_name = input.name().to_string();
        let ishape: Vec<i64> = input
            .dtype()
            .tensor_shape()
            .map(|s| s.to_vec())
            .ok_or_else(|| model_err(path, "input is not a tensor"))?;
        if ishape.len() != 4 || (ishape[1] != 3 && ishape[1] > 0) {
            return Err(model_err(path, format!("not an image detector: input {input_name} has shape {ishape:?}, expected [1,3,H,W]")));
        }
        let (w, h) = match (ishape[3], ishape[2], opts.input_size) {
            (w, h, Some([cw, ch])) if w > 0 && h > 0 && (w as u32 != cw || h as u32 != ch) => {
                return Err(model_err(
                    path,
                    format!("input_size {cw}x{ch} does not match the model's fixed input {w}x{h}"),
                ));
            }
            (w, h, _) if w > 0 && h > 0 => (w as u32, h as u32),
            (_, _, Some([cw, ch])) => (cw, ch),
            _ => (640, 640),
        };
        let meta = session.metadata().ok();
        let names_meta = meta.as_ref().and_then(|m| m.custom("names"));
        drop(meta);

        // One dry run on a grey image gives the real output shapes (dynamic axes resolved)
        // and warms the session up.
        let mut buf = Array4::<f32>::zeros((1, 3, h as usize, w as usize));
        buf.fill(114.0);
        let (outs, layout) = {
            let data = buf
                .as_slice()
                .ok_or_else(|| model_err(path, "input buffer"))?;
            let t =
                ort::value::TensorRef::from_array_view(([1usize, 3, h as usize, w as usize], data))
                    .map_err(|e| model_err(path, e.to_string()))?;
            let res = session
                .run(ort::inputs![input_name.as_str() => t])
                .map_err(|e| model_err(path, format!("test inference failed: {e}")))?;
            let mut outs: Vec<(String, Vec<i64>)> = Vec::new();
            let mut datas: Vec<&[f32]> = Vec::new();
            for (name, val) in res.iter() {
                let (shape, _) = val
                    .try_extract_tensor::<f32>()
                    .map_err(|e| model_err(path, format!("output {name}: {e}")))?;
                outs.push((name.to_string(), shape.to_vec()));
            }
            for (name, _) in &outs {
                let val = res
                    .get(name)
                    .ok_or_else(|| model_err(path, format!("output {name} missing")))?;
                let (_, d) = val
                    .try_extract_tensor::<f32>()
                    .map_err(|e| model_err(path, format!("output {name}: {e}")))?;
                datas.push(d);
            }
            let layout = recognise(opts.layout, &outs, names_meta.is_some(), w, h)
                .map_err(|r| model_err(path, r))?;
            // Decode the dry run too, so a layout that does not fit fails here, not per frame.
            let views: Vec<Output<'_>> = outs
                .iter()
                .zip(&datas)
                .map(|((name, shape), data)| Output { name, shape, data })
                .collect();
            layout
                .decode(&views, f32::INFINITY, &mut Vec::new())
                .map_err(|r| {
                    model_err(
                        path,
                        format!("{} layout does not fit: {r}", layout.kind().as_str()),
                    )
                })?;
            (outs, layout)
        };
        let classes = layout.num_classes();
        let names = match (&opts.labels, &names_meta) {
            (Some(lp), _) => {
                let n = read_labels(lp)?;
                if n.len() != classes {
                    return Err(EbikeError::Labels {
                        path: lp.clone(),
                        reason: format!("{} names for a model with {classes} classes", n.len()),
                    });
                }
                n
            }
            (None, Some(m)) => match parse_names_metadata(m) {
                Some(n) if n.len() == classes => n,
                _ => {
                    return Err(model_err(
                        path,
                        format!("metadata 'names' does not list {classes} classes"),
                    ))
                }
            },
            (None, None) if classes == 80 => parse_labels(COCO80),
            (None, None) => (0..classes).map(|i| format!("class{i}")).collect(),
        };
        let spec = layout.pre_spec(w, h);
        tracing::info!(model = %path.display(), layout = layout.kind().as_str(), classes, input = %format!("{w}x{h}"), "detector loaded");
        Ok(Detector {
            session,
            layout,
            spec,
            input_name,
            output_names: outs.iter().map(|(n, _)| n.clone()).collect(),
            names,
            buf,
            nms_iou: if opts.nms_iou > 0.0 {
                opts.nms_iou
            } else {
                0.45
            },
            path: path.to_path_buf(),
        })
    }

    pub fn layout(&self) -> LayoutKind {
        self.layout.kind()
    }
    pub fn class_names(&self) -> &[String] {
        &self.names
    }
    pub fn class_id(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
    pub fn input_size(&self) -> (u32, u32) {
        (self.spec.width, self.spec.height)
    }
    /// The input transform in use.
    pub fn pre_spec(&self) -> &PreSpec {
        &self.spec
    }
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Detections with score ≥ `min_score` on a packed RGB24 image, boxes in image pixels.
    pub fn detect(
        &mut self,
        rgb: &[u8],
        w: u32,
        h: u32,
        min_score: f32,
    ) -> Result<Vec<Detection>, EbikeError> {
        self.detect_timed(rgb, w, h, min_score).map(|(d, _)| d)
    }

    /// Detections inside the sub-rectangle `roi = [x0, y0, x1, y1]` (frame pixels, clamped to
    /// the image) of a packed RGB image: only that region is scaled to the network input, so a
    /// small car zone or a tile gets the network's whole resolution. Boxes come back in frame
    /// pixels.
    pub fn detect_region(
        &mut self,
        rgb: &[u8],
        w: u32,
        h: u32,
        roi: [u32; 4],
        min_score: f32,
    ) -> Result<(Vec<Detection>, Timings), EbikeError> {
        if w == 0 || h == 0 || rgb.len() < w as usize * h as usize * 3 {
            return Err(EbikeError::Run(format!(
                "image {w}x{h} with {} bytes of RGB",
                rgb.len()
            )));
        }
        let x0 = roi[0].min(w - 1);
        let y0 = roi[1].min(h - 1);
        let x1 = roi[2].clamp(x0 + 1, w);
        let y1 = roi[3].clamp(y0 + 1, h);
        if (x0, y0, x1, y1) == (0, 0, w, h) {
            return self.detect_timed(rgb, w, h, min_score);
        }
        let t0 = Instant::now();
        let (cw, ch) = (x1 - x0, y1 - y0);
        let stride = w as usize * 3;
        let mut crop = Vec::with_capacity(cw as usize * ch as usize * 3);
        for y in y0..y1 {
            let o = y as usize * stride + x0 as usize * 3;
            crop.extend_from_slice(&rgb[o..o + cw as usize * 3]);
        }
        let copy_ms = t0.elapsed().as_secs_f64() * 1e3;
        let (mut dets, mut t) = self.detect_timed(&crop, cw, ch, min_score)?;
        t.pre_ms += copy_ms;
        for d in dets.iter_mut() {
            d.bbox[0] += x0 as f32;
            d.bbox[1] += y0 as f32;
            d.bbox[2] += x0 as f32;
            d.bbox[3] += y0 as f32;
        }
        Ok((dets, t))
    }

    /// `detect`, also returning the time of each stage.
    pub fn detect_timed(
        &mut self,
        rgb: &[u8],
        w: u32,
        h: u32,
        min_score: f32,
    ) -> Result<(Vec<Detection>, Timings), EbikeError> {
        if w == 0 || h == 0 || rgb.len() < w as usize * h as usize * 3 {
            return Err(EbikeError::Run(format!(
                "image {w}x{h} with {} bytes of RGB",
                rgb.len()
            )));
        }
        let t0 = Instant::now();
        let tf = preprocess(rgb, w, h, &self.spec, &mut self.buf);
        let t1 = Instant::now();
        let (ww, hh) = (self.spec.width as usize, self.spec.height as usize);
        let data = self
            .buf
            .as_slice()
            .ok_or_else(|| EbikeError::Run("input buffer not contiguous".into()))?;
        let t = ort::value::TensorRef::from_array_view(([1usize, 3, hh, ww], data))
            .map_err(|e| EbikeError::Run(e.to_string()))?;
        let res = self
            .session
            .run(ort::inputs![self.input_name.as_str() => t])
            .map_err(|e| EbikeError::Run(e.to_string()))?;
        let t2 = Instant::now();
        let mut raw = Vec::new();
        {
            let mut views = Vec::with_capacity(res.len());
            for name in &self.output_names {
                let val = res
                    .get(name)
                    .ok_or_else(|| EbikeError::Run(format!("output {name} missing")))?;
                let (shape, data) = val
                    .try_extract_tensor::<f32>()
                    .map_err(|e| EbikeError::Run(format!("output {name}: {e}")))?;
                views.push(Output { name, shape, data });
            }
            self.layout
                .decode(&views, min_score, &mut raw)
                .map_err(EbikeError::Run)?;
        }
        drop(res);
        let (fw, fh) = (w as f32, h as f32);
        for d in raw.iter_mut() {
            let b = tf.to_frame(d.bbox);
            d.bbox = [
                b[0].clamp(0.0, fw),
                b[1].clamp(0.0, fh),
                b[2].clamp(0.0, fw),
                b[3].clamp(0.0, fh),
            ];
        }
        raw.retain(|d| d.area() > 0.0);
        let dets = nms(raw, self.nms_iou, 3000);
        let t3 = Instant::now();
        let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
        Ok((
            dets,
            Timings {
                pre_ms: ms(t0, t1),
                infer_ms: ms(t1, t2),
                post_ms: ms(t2, t3),
            },
        ))
    }
}
