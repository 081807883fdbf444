//! `vigil eval-ebike`: the e-bike detector and the elevator alarm logic over a folder of images
//! — per-class precision/recall/AP against Pascal VOC boxes, or alarm latency for a sequence.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::analytics::ebike::analytic::{detector_options, resolve_path};
use crate::analytics::ebike::eval::{evaluate_images, evaluate_sequence, list_images};
use crate::analytics::ebike::{Detector, ElevatorConfig};

#[derive(clap::Args, Debug)]
pub struct EvalEbikeArgs {
    /// Folder of images (.jpg/.png), each optionally with a Pascal VOC .xml beside it.
    #[arg(long)]
    pub images: PathBuf,
    /// Detector model (ONNX).
    #[arg(long, default_value = "models/yolox_nano.onnx")]
    pub model: String,
    /// Class-names file (default: model metadata or COCO-80).
    #[arg(long)]
    pub labels: Option<String>,
    /// Intra-op threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Comma-separated detector classes that mean "e-bike".
    #[arg(long, default_value = "motorcycle")]
    pub ebike_classes: String,
    /// Count bicycles as e-bikes too.
    #[arg(long)]
    pub ban_bicycles: bool,
    /// Operating score threshold.
    #[arg(long, default_value_t = 0.3)]
    pub score_threshold: f32,
    /// IoU for a match.
    #[arg(long, default_value_t = 0.5)]
    pub iou: f32,
    /// Treat the folder as a clip (sorted names) and report the alarm latency. Default: on
    /// when the folder has no .xml files.
    #[arg(long)]
    pub sequence: bool,
    /// Frame rate of the sequence.
    #[arg(long, default_value_t = 2.0)]
    pub fps: f64,
    /// k of n confirmation for the sequence.
    #[arg(long, default_value_t = 3)]
    pub k: usize,
    #[arg(long, default_value_t = 5)]
    pub n: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: EvalEbikeArgs) -> Result<()> {
    let cfg = ElevatorConfig {
        model: args.model.clone(),
        labels: args.labels.clone(),
        threads: args.threads,
        ebike_classes: args
            .ebike_classes
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        ban_bicycles: args.ban_bicycles,
        score_threshold: args.score_threshold,
        k: args.k,
        n: args.n,
        ..Default::default()
    };
    cfg.validate()
        .map_err(|(f, r)| anyhow::anyhow!("{f}: {r}"))?;
    let cwd = std::env::current_dir().context("current directory")?;
    let model = resolve_path(&cfg.model, &cwd);
    let opts = detector_options(&cfg, &cwd);
    let files = list_images(&args.images)?;
    let has_xml = files.iter().any(|p| p.with_extension("xml").is_file());
    let model_name = model
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();

    let mut out = serde_json::Map::new();
    out.insert("model".into(), model_name.clone().into());
    out.insert(
        "images_dir".into(),
        args.images.display().to_string().into(),
    );
    if has_xml {
        let mut det = Detector::load(&model, &opts)?;
        let rep = evaluate_images(&mut det, &cfg, &args.images, args.iou)?;
        if !args.json {
            println!(
                "{model_name} on {} labelled images (IoU ≥ {}, threshold {}; e-bike = {:?}), {:.1} ms/image",
                rep.images,
                args.iou,
                args.score_threshold,
                cfg.alarm_classes(),
                rep.mean_ms
            );
            println!(
                "{:<10} {:>5} {:>5} {:>5} {:>9} {:>7} {:>6}",
                "class", "gt", "tp", "fp", "precision", "recall", "AP"
            );
            for c in &rep.classes {
                println!(
                    "{:<10} {:>5} {:>5} {:>5} {:>9.3} {:>7.3} {:>6.3}",
                    c.class, c.gt, c.tp, c.fp, c.precision, c.recall, c.ap
                );
            }
        }
        out.insert("images".into(), serde_json::to_value(&rep)?);
    }
    if args.sequence || !has_xml {
        let det = Detector::load(&model, &opts)?;
        let rep = evaluate_sequence(det, &cfg, &args.images, args.fps)?;
        if !args.json {
            let f = |v: Option<f64>| {
                v.map(|x| format!("{x:.2} s"))
                    .unwrap_or_else(|| "none".into())
            };
            println!(
                "{model_name} sequence: {} frames at {} fps, e-bike visible from {:.2} s; {} of {} detector runs positive (best {}); alarm at {}, latency {} ({} alarm(s), k={} of n={})",
                rep.frames,
                rep.fps,
                rep.visible_from_s,
                rep.positive_runs,
                rep.detector_runs,
                rep.best_score.map(|s| format!("{s:.2}")).unwrap_or_else(|| "-".into()),
                f(rep.alarm_s),
                f(rep.latency_s),
                rep.alarms,
                args.k,
                args.n
            );
        }
        out.insert("sequence".into(), serde_json::to_value(&rep)?);
    }
    if args.json {
        println!("{}", serde_json::Value::Object(out));
    }
    Ok(())
}
