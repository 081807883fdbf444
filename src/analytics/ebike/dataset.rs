//! `vigil dataset export`: e-bike events from an evidence folder → a YOLO-format dataset
//! (images/, labels/, data.yaml) for fine-tuning a site model.
//!
//! Each event folder holds `event.json` and pictures; the clean `frame.jpg` is used when
//! present (the `snapshot.jpg` has the box drawn on it, which would teach the model the box).
//! An optional `verdict.json` (`{"verdict": "true_alarm" | "false_alarm"}`) from the operator
//! turns a false alarm into a hard negative (image with an empty label file).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::EbikeError;
use crate::events::{Event, EventKind};

#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// Only events with an operator verdict.
    pub verified_only: bool,
    /// Also use annotated snapshots when no clean frame exists.
    pub allow_annotated: bool,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ExportReport {
    pub events_seen: usize,
    pub positives: usize,
    pub negatives: usize,
    /// (event folder, reason) for events left out.
    pub skipped: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct Verdict {
    verdict: String,
}

fn io(path: &Path, e: impl ToString) -> EbikeError {
    EbikeError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Folders (up to 4 levels deep) that contain an `event.json`, sorted.
fn event_dirs(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    while let Some((d, depth)) = stack.pop() {
        if d.join("event.json").is_file() {
            out.push(d.clone());
        }
        if depth >= 4 {
            continue;
        }
        if let Ok(rd) = std::fs::read_dir(&d) {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push((e.path(), depth + 1));
                }
            }
        }
    }
    out.sort();
    out
}

/// YOLO label line (class 0) for a pixel box in a `w`×`h` image.
pub fn yolo_line(b: [f64; 4], w: u32, h: u32) -> Option<String> {
    let (w, h) = (w as f64, h as f64);
    let x1 = b[0].clamp(0.0, w);
    let y1 = b[1].clamp(0.0, h);
    let x2 = b[2].clamp(0.0, w);
    let y2 = b[3].clamp(0.0, h);
    if x2 <= x1 || y2 <= y1 || w <= 0.0 || h <= 0.0 {
        return None;
    }
    Some(format!(
        "0 {:.6} {:.6} {:.6} {:.6}",
        (x1 + x2) / 2.0 / w,
        (y1 + y2) / 2.0 / h,
        (x2 - x1) / w,
        (y2 - y1) / h
    ))
}

/// Export every e-bike event under `evidence` into `out` (created; existing files with the
/// same names are overwritten).
pub fn export_yolo(
    evidence: &Path,
    out: &Path,
    opts: &ExportOptions,
) -> Result<ExportReport, EbikeError> {
    if !evidence.is_dir() {
        return Err(io(evidence, "not a directory"));
    }
    let (img_dir, lbl_dir) = (out.join("images"), out.join("labels"));
    std::fs::create_dir_all(&img_dir).map_err(|e| io(&img_dir, e))?;
    std::fs::create_dir_all(&lbl_dir).map_err(|e| io(&lbl_dir, e))?;
    let mut rep = ExportReport::default();
    for dir in event_dirs(evidence) {
        let skip = |rep: &mut ExportReport, why: &str| {
            rep.skipped
                .push((dir.display().to_string(), why.to_string()))
        };
        let Ok(text) = std::fs::read_to_string(dir.join("event.json")) else {
            skip(&mut rep, "unreadable event.json");
            continue;
        };
        let Ok(ev) = serde_json::from_str::<Event>(&text) else {
            skip(&mut rep, "event.json is not an event");
            continue;
        };
        if ev.kind != EventKind::EbikeInElevator {
            continue;
        }
        rep.events_seen += 1;
        let verdict = std::fs::read_to_string(dir.join("verdict.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Verdict>(&t).ok())
            .map(|v| v.verdict);
        let negative = match verdict.as_deref() {
            Some("false_alarm") => true,
            Some("true_alarm") => false,
            Some(other) => {
                skip(&mut rep, &format!("unknown verdict {other:?}"));
                continue;
            }
            None if opts.verified_only => {
                skip(&mut rep, "no operator verdict");
                continue;
            }
            None => false,
        };
        let clean = dir.join("frame.jpg");
        let src = if clean.is_file() {
            clean
        } else if opts.allow_annotated && dir.join("snapshot.jpg").is_file() {
            dir.join("snapshot.jpg")
        } else {
            skip(&mut rep, "no clean frame.jpg");
            continue;
        };
        let Ok((w, h)) = image::image_dimensions(&src) else {
            skip(&mut rep, "unreadable image");
            continue;
        };
        let label = if negative {
            String::new()
        } else {
            match ev.bbox.and_then(|b| yolo_line(b, w, h)) {
                Some(l) => l + "\n",
                None => {
                    skip(&mut rep, "event has no usable bbox");
                    continue;
                }
            }
        };
        let stem: String = format!(
            "{}_{}_{}",
            ev.camera,
            ev.id,
            (ev.alarm_s * 1000.0).round() as i64
        )
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
        let dst = img_dir.join(format!("{stem}.jpg"));
        std::fs::copy(&src, &dst).map_err(|e| io(&dst, e))?;
        let lp = lbl_dir.join(format!("{stem}.txt"));
        std::fs::write(&lp, label).map_err(|e| io(&lp, e))?;
        if negative {
            rep.negatives += 1;
        } else {
            rep.positives += 1;
        }
    }
    let abs = std::fs::canonicalize(out).unwrap_or_else(|_| out.to_path_buf());
    let yaml = format!(
        "# Exported by vigil dataset export: e-bike events (positives) and operator-rejected alarms (empty labels).\npath: {}\ntrain: images\nval: images\nnc: 1\nnames: ['ebike']\n",
        abs.display()
    );
    let yp = out.join("data.yaml");
    std::fs::write(&yp, yaml).map_err(|e| io(&yp, e))?;
    Ok(rep)
}
