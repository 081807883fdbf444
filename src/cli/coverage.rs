//! `vigil coverage`: for each facade camera, which floors and windows are in view and how
//! large objects appear there, and per building a verdict against the estate standard (every
//! window from floor 3 up watched). See `analytics::coverage`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};

use crate::analytics::coverage::{self, CameraCoverage, MIN_RELIABLE_PX};
use crate::config::{CameraKind, Config};
use crate::ingest::{Counters, IngestOptions, MediaSource};

#[derive(clap::Args, Debug)]
pub struct CoverageArgs {
    /// vigil TOML config.
    #[arg(long)]
    pub config: PathBuf,
    /// Only this camera (and the verdict of its building over the cameras given).
    #[arg(long)]
    pub camera: Option<String>,
    /// The analysed picture size as WIDTHxHEIGHT (default: opened from the camera's source).
    #[arg(long, value_parser = parse_size)]
    pub size: Option<(u32, u32)>,
    /// JSON for integrators instead of the text report.
    #[arg(long)]
    pub json: bool,
    /// Also write pictures into this folder: `camera-<name>.png` (the window grid over a
    /// snapshot of the camera, coloured by the smallest object seen) and `building-<name>.png`
    /// (an elevation coloured by the best camera).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("'{s}' is not WIDTHxHEIGHT"))?;
    let p = |v: &str| {
        v.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (16..=16384).contains(n))
    };
    match (p(w), p(h)) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err(format!("'{s}' is not WIDTHxHEIGHT (16-16384 each)")),
    }
}

/// The picture size the analytics see: the camera's `analysis_size`, else the source's size.
fn picture_size(cfg: &Config, cam: &crate::config::CameraConfig) -> Result<(u32, u32)> {
    if let Some([w, h]) = cam.analysis_size {
        return Ok((w, h));
    }
    let url = if cam.is_network() {
        cam.source.clone()
    } else {
        cfg.resolve(&cam.source).to_string_lossy().to_string()
    };
    let opts = IngestOptions {
        io_timeout_s: cam.io_timeout_s.min(10.0),
        ..IngestOptions::default()
    };
    let ms = MediaSource::open(&url, &opts, Arc::new(Counters::default())).with_context(|| {
        format!(
            "camera '{}': cannot open its source to learn the picture size (give --size WxH)",
            cam.name
        )
    })?;
    let i = ms.info();
    Ok((i.analysis_width, i.analysis_height))
}

pub fn run(args: CoverageArgs) -> Result<()> {
    let cfg = Config::load(&args.config)?;
    let mut plans: Vec<CameraCoverage> = Vec::new();
    for cam in &cfg.cameras {
        if cam.kind != CameraKind::Facade {
            continue;
        }
        if args.camera.as_deref().is_some_and(|n| n != cam.name) {
            continue;
        }
        let facade = cam.facade.clone().unwrap_or_default();
        let (w, h) = match args.size {
            Some(s) => s,
            None => picture_size(&cfg, cam)?,
        };
        plans.push(coverage::plan_camera(&cam.name, &facade, w, h)?);
    }
    if plans.is_empty() {
        match &args.camera {
            Some(n) => bail!("no facade camera '{n}' in {}", args.config.display()),
            None => bail!("no facade cameras in {}", args.config.display()),
        }
    }
    let verdicts = coverage::verdicts(&plans);
    let pictures = match &args.out {
        Some(dir) => super::coverage_picture::write_all(dir, &cfg, &plans, &verdicts)?,
        None => Vec::new(),
    };
    if args.json {
        let mut doc = serde_json::json!({
            "min_reliable_px": MIN_RELIABLE_PX,
            "object_sizes_m": coverage::OBJECT_SIZES_M,
            "cameras": plans,
            "buildings": verdicts,
        });
        if args.out.is_some() {
            doc["pictures"] = serde_json::to_value(&pictures)?;
        }
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return verdict_status(&verdicts);
    }
    for p in &plans {
        println!(
            "camera {} (building {}, {}×{}):",
            p.camera, p.building, p.image_size[0], p.image_size[1]
        );
        if p.floors_in_view.is_empty() {
            println!("  no floor in view");
            continue;
        }
        println!("  floors in view: {}", ranges(&p.floors_in_view));
        println!("  floor  windows in view   10 cm object   smallest seen at {MIN_RELIABLE_PX} px");
        for f in &p.floors_in_view {
            let ws: Vec<_> = p
                .windows
                .iter()
                .filter(|v| v.floor == *f && v.in_view)
                .collect();
            let px: Vec<f64> = ws.iter().map(|v| v.object_px[1]).collect();
            let (lo, hi) = (
                px.iter().cloned().fold(f64::INFINITY, f64::min),
                px.iter().cloned().fold(0.0, f64::max),
            );
            let min_obj = ws
                .iter()
                .map(|v| v.min_object_m)
                .fold(f64::INFINITY, f64::min);
            let names: Vec<&str> = ws.iter().map(|v| v.column_name.as_str()).collect();
            println!(
                "  {f:>5}  {:<18} {lo:>4.1}-{hi:<4.1} px    {:.0} cm",
                names.join(","),
                min_obj * 100.0
            );
        }
        let masked = p.windows.iter().filter(|v| v.in_image && v.masked).count();
        if masked > 0 {
            println!("  {masked} window(s) in the picture are under a mask");
        }
    }
    for v in &verdicts {
        println!(
            "building {}: {} — {} ({} of {} windows covered by {})",
            v.building,
            v.verdict.to_uppercase(),
            v.rule,
            v.windows_covered,
            v.windows_required,
            v.cameras.join(", ")
        );
        if let Some(r) = &v.reason {
            println!("  {r}: add [camera.facade.building] storeys, facade_x_m and columns");
        }
        if !v.uncovered.is_empty() && v.reason.is_none() {
            let shown: Vec<&str> = v.uncovered.iter().take(40).map(String::as_str).collect();
            let more = v.uncovered.len().saturating_sub(shown.len());
            println!(
                "  not covered: {}{}",
                shown.join(" "),
                if more > 0 {
                    format!(" … and {more} more")
                } else {
                    String::new()
                }
            );
        }
    }
    for p in &pictures {
        match p.backdrop {
            Some(b) => println!("picture: {} ({b:?})", p.path.display()),
            None => println!("picture: {}", p.path.display()),
        }
    }
    verdict_status(&verdicts)
}

/// A planning tool in a script: a non-zero status when a building does not meet the standard.
fn verdict_status(verdicts: &[coverage::BuildingVerdict]) -> Result<()> {
    let failed: Vec<&str> = verdicts
        .iter()
        .filter(|v| v.verdict == "not met")
        .map(|v| v.building.as_str())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(anyhow!(
            "coverage does not meet the standard for building(s) {}",
            failed.join(", ")
        ))
    }
}

fn ranges(fs: &[i32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < fs.len() {
        let mut j = i;
        while j + 1 < fs.len() && fs[j + 1] == fs[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            fs[i].to_string()
        } else {
            format!("{}-{}", fs[i], fs[j])
        });
        i = j + 1;
    }
    out.join(", ")
}
