//! The `vigil` command line: argument types and every subcommand. A library module, so tests
//! call the subcommands directly; `src/main.rs` only parses the arguments and calls [`run`].

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{CameraConfig, CameraKind, Config};
use crate::events::Event;
use crate::pipeline::{self, AnalyzeOptions, RunStats};

pub mod audit;
pub mod coverage;
pub mod coverage_picture;
pub mod dataset;
pub mod eval;
pub mod eval_ebike;
pub mod serve;
pub mod synth;
pub mod user;

#[derive(Parser)]
#[command(
    name = "vigil",
    version,
    about = "Video-analytics node: falling objects from towers, e-bikes in elevators"
)]
pub struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Run a camera's analytics on a recorded clip; prints one JSON object per event (JSON Lines).
    Analyze(AnalyzeArgs),
    /// Frames per second and per-stage time on a clip: decode only, decode + convert, + analytics.
    Bench(BenchArgs),
    /// Render seeded synthetic clips (H.264 MP4 + ground truth JSON + camera config).
    Synth(synth::SynthArgs),
    /// Evaluate an analytic on labelled clips (falling: generated suites with ground truth).
    Eval(eval::EvalArgs),
    /// Evaluate the e-bike detector and alarm logic on labelled images (Pascal VOC) or sequences.
    EvalEbike(eval_ebike::EvalEbikeArgs),
    /// Export stored e-bike events as a YOLO dataset for fine-tuning a site model.
    Dataset(dataset::DatasetArgs),
    /// Verify the tamper-evident audit log.
    Audit(audit::AuditArgs),
    /// Run the node: all cameras, the event store, the HTTP API, live events, webhooks, console.
    Serve(serve::ServeArgs),
    /// Coverage planning: floors and windows each facade camera sees, object sizes there, and
    /// per building whether every window from floor 3 up is watched (exit 1 when not).
    Coverage(coverage::CoverageArgs),
    /// Manage users.
    User(user::UserArgs),
    /// Manage API tokens.
    Token(user::TokenArgs),
    /// Check a config file and print the cameras it defines.
    Check {
        #[arg(long)]
        config: PathBuf,
    },
}

#[derive(clap::Args)]
pub struct AnalyzeArgs {
    /// Video file (any container/codec FFmpeg reads; H.264 MP4 typical).
    clip: PathBuf,
    /// vigil TOML config.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Camera whose settings apply (default: the first camera in the config).
    #[arg(long)]
    camera: Option<String>,
    /// Camera kind when no config is given.
    #[arg(long, value_parser = parse_kind, default_value = "facade")]
    kind: CameraKind,
    /// Write evidence (clip.mp4, pictures, event.json) under this directory.
    #[arg(long)]
    evidence_dir: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct BenchArgs {
    clip: PathBuf,
    #[arg(long)]
    config: Option<PathBuf>,
    #[arg(long)]
    camera: Option<String>,
    #[arg(long, value_parser = parse_kind, default_value = "facade")]
    kind: CameraKind,
    /// Decoder thread counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    threads: Vec<usize>,
    /// Print the results as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

fn parse_kind(s: &str) -> Result<CameraKind, String> {
    match s {
        "facade" => Ok(CameraKind::Facade),
        "elevator" => Ok(CameraKind::Elevator),
        _ => Err(format!("unknown camera kind '{s}' (facade | elevator)")),
    }
}

/// The config and camera for a clip: from `--config`, or a default camera of `kind`.
fn camera_for(
    config: &Option<PathBuf>,
    camera: &Option<String>,
    kind: CameraKind,
    clip: &std::path::Path,
) -> anyhow::Result<(Config, CameraConfig)> {
    match config {
        Some(path) => {
            let cfg = Config::load(path)?;
            let cam = cfg.camera(camera.as_deref())?.clone();
            Ok((cfg, cam))
        }
        None => {
            let cfg = Config {
                base_dir: PathBuf::from("."),
                ..Default::default()
            };
            let name = camera.clone().unwrap_or_else(|| "clip".into());
            Ok((cfg, CameraConfig::new(&name, kind, &clip.to_string_lossy())))
        }
    }
}

fn analyze(args: AnalyzeArgs) -> anyhow::Result<()> {
    let (cfg, cam) = camera_for(&args.config, &args.camera, args.kind, &args.clip)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut write_err: Option<std::io::Error> = None;
    let mut sink = |ev: &Event| {
        if write_err.is_some() {
            return;
        }
        let line = match serde_json::to_string(ev) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "cannot serialise event");
                return;
            }
        };
        if let Err(e) = writeln!(out, "{line}").and_then(|_| out.flush()) {
            write_err = Some(e);
        }
    };
    let stats = pipeline::analyze_file(
        &cfg,
        &cam,
        &args.clip,
        &AnalyzeOptions::full(args.evidence_dir.clone()),
        &mut sink,
    )
    .with_context(|| format!("analyze {}", args.clip.display()))?;
    if let Some(e) = write_err {
        return Err(e).context("writing events to stdout");
    }
    tracing::info!(
        camera = %cam.name,
        frames = stats.frames,
        media_s = format!("{:.2}", stats.media_s),
        fps = format!("{:.1}", stats.fps()),
        events = stats.events,
        decode_errors = stats.decode_errors,
        "analyze done"
    );
    if stats.frames == 0 {
        anyhow::bail!("{}: no frame could be decoded", args.clip.display());
    }
    Ok(())
}

/// Peak resident memory of this process (VmHWM), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

#[derive(serde::Serialize)]
struct BenchRow {
    pass: String,
    threads: usize,
    fps: f64,
    stats: RunStats,
}

fn bench(args: BenchArgs) -> anyhow::Result<()> {
    let (cfg, cam) = camera_for(&args.config, &args.camera, args.kind, &args.clip)?;
    let mut rows = Vec::new();
    let mut nop = |_: &Event| {};
    for &t in &args.threads {
        let mut c = cam.clone();
        c.decode_threads = t;
        for (pass, decode_only, analytics) in [
            ("decode", true, false),
            ("decode+convert", false, false),
            ("decode+convert+analytics", false, true),
        ] {
            let opts = AnalyzeOptions {
                evidence_dir: None,
                decode_only,
                analytics,
            };
            let stats = pipeline::analyze_file(&cfg, &c, &args.clip, &opts, &mut nop)
                .with_context(|| format!("bench pass '{pass}' on {}", args.clip.display()))?;
            rows.push(BenchRow {
                pass: pass.into(),
                threads: t,
                fps: stats.fps(),
                stats,
            });
        }
    }
    let peak = peak_rss_mib();
    if args.json {
        let v = serde_json::json!({
            "clip": args.clip.display().to_string(),
            "camera": cam.name,
            "kind": cam.kind,
            "peak_rss_mib": peak,
            "passes": rows,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let first = rows
        .first()
        .map(|r| (r.stats.width, r.stats.height, r.stats.frames));
    if let Some((w, h, n)) = first {
        println!(
            "clip {} ({w}x{h}, {n} frames), camera '{}' ({:?})",
            args.clip.display(),
            cam.name,
            cam.kind
        );
    }
    println!(
        "{:<26} {:>3} {:>8} {:>9} {:>9} {:>9} {:>10} {:>9}",
        "pass", "thr", "fps", "demux ms", "decode ms", "conv ms", "analyse ms", "evid ms"
    );
    for r in &rows {
        let n = r.stats.frames.max(1) as f64;
        let an: f64 = r
            .stats
            .analyse_s
            .iter()
            .map(|(_, s)| s)
            .sum::<f64>()
            .max(0.0);
        println!(
            "{:<26} {:>3} {:>8.1} {:>9.3} {:>9.3} {:>9.3} {:>10.3} {:>9.3}",
            r.pass,
            r.threads,
            r.fps,
            r.stats.demux_s * 1e3 / n,
            r.stats.decode_s * 1e3 / n,
            r.stats.convert_s * 1e3 / n,
            an * 1e3 / n,
            r.stats.evidence_s * 1e3 / n
        );
        for (name, s) in &r.stats.analyse_s {
            println!("{:<30} analytic {name}: {:.3} ms/frame", "", s * 1e3 / n);
        }
    }
    // Ratios within this one run are what to compare (machines are noisy).
    for &t in &args.threads {
        let get = |p: &str| rows.iter().find(|r| r.pass == p && r.threads == t);
        if let (Some(d), Some(a)) = (get("decode"), get("decode+convert+analytics")) {
            let n = a.stats.frames.max(1) as f64;
            let an: f64 = a.stats.analyse_s.iter().map(|(_, s)| s).sum::<f64>() / n;
            let dec = (d.stats.decode_s + d.stats.demux_s) / d.stats.frames.max(1) as f64;
            if an > 0.0 {
                println!(
                    "threads={t}: analytics/decode time ratio {:.2} (analytic runs {:.1}x faster than decode)",
                    an / dec,
                    dec / an
                );
            }
        }
    }
    if let Some(p) = peak {
        println!("peak RSS {p:.0} MiB");
    }
    Ok(())
}

fn check(config: PathBuf) -> anyhow::Result<()> {
    let cfg = Config::load(&config)?;
    for c in &cfg.cameras {
        println!("{}\t{:?}\t{}", c.name, c.kind, c.source);
    }
    eprintln!("{}: ok, {} camera(s)", config.display(), cfg.cameras.len());
    Ok(())
}

/// Logs go to stderr (stdout carries `analyze`'s JSON Lines); `VIGIL_LOG` sets the filter.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VIGIL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Run one parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Analyze(a) => analyze(a),
        Cmd::Bench(a) => bench(a),
        Cmd::Check { config } => check(config),
        Cmd::Synth(a) => synth::run(a),
        Cmd::Eval(a) => eval::run(a),
        Cmd::EvalEbike(a) => eval_ebike::run(a),
        Cmd::Dataset(a) => dataset::run(a),
        Cmd::Audit(a) => audit::run(a),
        Cmd::Serve(a) => serve::run(a),
        Cmd::Coverage(a) => coverage::run(a),
        Cmd::User(a) => user::run(a),
        Cmd::Token(a) => user::run_token(a),
    }
}
