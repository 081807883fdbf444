//! `vigil eval-ebike`: the e-bike detector and the elevator alarm logic over a folder of images
//! — per-class precision/recall/AP against Pascal VOC boxes, or alarm latency for a sequence.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::analytics::ebike::analytic::{detector_options, resolve_path};
use crate::analytics::ebike::eval::{
    evaluate_images, evaluate_images_fused, evaluate_sequence, list_images,
};
use crate::analytics::ebike::{Detector, ElevatorConfig};
use crate::eval::ebike::{default_kinds, evaluate_generated, GenOptions, PointResult};

#[derive(clap::Args, Debug)]
pub struct EvalEbikeArgs {
    /// Folder of images (.jpg/.png), each optionally with a Pascal VOC .xml beside it.
    #[arg(long, required_unless_present = "generated")]
    pub images: Option<PathBuf>,
    /// Instead of images: render this many seeds of generated elevator clips (e-bike ridden
    /// in, e-bike standing in the car at start, bicycle / stroller / wheelchair / trolley
    /// pushed in, people only), run the analytic on the H.264 clips, sweep the fusion's
    /// operating point and report alarm latency, start-up alarm time and false alarms.
    #[arg(long)]
    pub generated: Option<u64>,
    /// First seed of the generated clips.
    #[arg(long, default_value_t = 1000)]
    pub seed: u64,
    /// Where generated clips are written.
    #[arg(long, default_value = "out/eval-ebike")]
    pub out: PathBuf,
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
    /// Operating threshold of the fused e-bike score (default: the config default).
    #[arg(long)]
    pub score_threshold: Option<f32>,
    /// Weight of bicycle boxes as e-bike evidence (default: the config default).
    #[arg(long)]
    pub bicycle_weight: Option<f32>,
    /// Weight of a person beside the two-wheeler (default: the config default).
    #[arg(long)]
    pub context_bonus: Option<f32>,
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
    let d = ElevatorConfig::default();
    let cfg = ElevatorConfig {
        bicycle_weight: args.bicycle_weight.unwrap_or(d.bicycle_weight),
        context_bonus: args.context_bonus.unwrap_or(d.context_bonus),
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
        score_threshold: args.score_threshold.unwrap_or(d.score_threshold),
        k: args.k,
        n: args.n,
        ..Default::default()
    };
    cfg.validate()
        .map_err(|(f, r)| anyhow::anyhow!("{f}: {r}"))?;
    if let Some(seeds) = args.generated {
        return run_generated(&args, cfg, seeds);
    }
    let Some(images) = args.images.clone() else {
        anyhow::bail!("--images DIR or --generated N");
    };
    let cwd = std::env::current_dir().context("current directory")?;
    let model = resolve_path(&cfg.model, &cwd);
    let opts = detector_options(&cfg, &cwd);
    let files = list_images(&images)?;
    let has_xml = files.iter().any(|p| p.with_extension("xml").is_file());
    let model_name = model
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();

    let mut out = serde_json::Map::new();
    out.insert("model".into(), model_name.clone().into());
    out.insert("images_dir".into(), images.display().to_string().into());
    if has_xml {
        let mut det = Detector::load(&model, &opts)?;
        let rep = evaluate_images(&mut det, &cfg, &images, args.iou)?;
        if !args.json {
            println!(
                "{model_name} on {} labelled images (IoU ≥ {}, threshold {}; e-bike = {:?}), {:.1} ms/image",
                rep.images,
                args.iou,
                cfg.score_threshold,
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
        let mut fused = Vec::new();
        for tiled in [false, true] {
            let f = evaluate_images_fused(&mut det, &cfg, &images, args.iou, tiled)?;
            if !args.json {
                println!(
                    "e-bike score {:<11} (bicycle weight {}, person context {}): threshold {:.2}: tp {} fp {} of {} → precision {:.3} recall {:.3}, AP {:.3}; {:.1} ms/image ({:.0} model runs)",
                    f.variant,
                    cfg.bicycle_weight,
                    cfg.context_bonus,
                    f.threshold,
                    f.tp,
                    f.fp,
                    f.gt,
                    f.precision,
                    f.recall,
                    f.ap,
                    f.mean_ms,
                    f.model_runs_per_image
                );
                let pts: Vec<String> = f
                    .curve
                    .iter()
                    .map(|c| format!("{:.2}:{:.2}/{:.2}", c.threshold, c.precision, c.recall))
                    .collect();
                println!("  curve threshold:precision/recall  {}", pts.join("  "));
            }
            fused.push(f);
        }
        out.insert("fused".into(), serde_json::to_value(&fused)?);
    }
    if args.sequence || !has_xml {
        let det = Detector::load(&model, &opts)?;
        let rep = evaluate_sequence(det, &cfg, &images, args.fps)?;
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

fn describe(r: &PointResult) -> String {
    let lat = |v: &[f64]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            format!("p50 {:.2} s, max {:.2} s", v[v.len() / 2], v[v.len() - 1])
        }
    };
    let negs: Vec<String> = r
        .negatives_by_kind
        .iter()
        .map(|(k, n, a)| format!("{k} {a}/{n}"))
        .collect();
    format!(
        "bicycle weight {}, person context {}, threshold {:.2}: e-bike clips alarmed {}/{} (runs with the e-bike inside positive {:.2}); negative clips alarmed {}/{} [{}]; latency after fully inside {}; at-start alarm {}",
        r.point.bicycle_weight,
        r.point.context_bonus,
        r.point.threshold,
        r.positives_alarmed,
        r.positives,
        r.run_recall,
        r.negative_alarms,
        r.negative_clips,
        negs.join(", "),
        lat(&r.latencies_s),
        lat(&r.at_start_alarm_s),
    )
}

fn run_generated(args: &EvalEbikeArgs, cfg: ElevatorConfig, seeds: u64) -> Result<()> {
    let o = GenOptions {
        out_dir: args.out.clone(),
        seed0: args.seed,
        seeds,
        width: 640,
        height: 480,
        fps: 15.0,
        cfg,
        kinds: default_kinds(),
    };
    let rep = evaluate_generated(&o)?;
    if args.json {
        println!("{}", serde_json::to_string(&rep)?);
        return Ok(());
    }
    println!(
        "{} generated clips ({} seeds from {}), detector {:.1} ms per model run",
        rep.clips.len(),
        seeds,
        args.seed,
        rep.mean_ms_per_model_run
    );
    for c in &rep.clips {
        println!(
            "  {:<22} runs {:>3} (model runs {:>3}), detector {:.2} ms/frame",
            c.name, c.detector_runs, c.model_runs, c.detect_ms_per_frame
        );
    }
    println!("configured: {}", describe(&rep.configured));
    match &rep.chosen {
        Some(c) => println!("chosen:     {}", describe(c)),
        None => println!("chosen:     none of the grid points is free of negative alarms"),
    }
    Ok(())
}
