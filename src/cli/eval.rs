//! `vigil eval <analytic>`: seeded synthetic suites, scored against their truth.

use std::path::PathBuf;

use anyhow::Result;

use vigil::analytics::falling::eval::{
    breakdown, breakdown_text, run_suite, summary_text, Renderer, SuiteOptions,
};

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub what: EvalWhat,
}

#[derive(clap::Subcommand, Debug)]
pub enum EvalWhat {
    /// High-altitude throwing: drops of several sizes and floors, distractor-only clips.
    Falling(FallingEvalArgs),
}

#[derive(clap::Args, Debug)]
pub struct FallingEvalArgs {
    /// Suite size: each seed gives one clip with two drops and one distractor-only clip.
    #[arg(long, default_value_t = 8)]
    pub seeds: usize,
    /// Base seed of the suite.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Larger suite (4x the clips).
    #[arg(long)]
    pub full: bool,
    /// Where report.json, per-clip truth/events and the clips go (default: a scratch folder,
    /// removed afterwards).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, default_value_t = 1280)]
    pub width: u32,
    #[arg(long, default_value_t = 720)]
    pub height: u32,
    /// Scene renderer: `synth` (vigil::synth facade scenes, H.264, the real pipeline) or `sim`
    /// (the analytic's own simple renderer, frames fed directly).
    #[arg(long, value_enum, default_value_t = RendererArg::Synth)]
    pub renderer: RendererArg,
    /// Clip length in seconds (synth renderer).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Sim renderer only: pass every clip through H.264 (ffmpeg CLI) before analysis. Needs
    /// --out. (Synth clips are always H.264.)
    #[arg(long)]
    pub codec: bool,
    /// Sim renderer only: physics layer alone (the synth path runs the pipeline as configured).
    #[arg(long)]
    pub no_model: bool,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RendererArg {
    Synth,
    Sim,
}

pub fn run(args: EvalArgs) -> Result<()> {
    match args.what {
        EvalWhat::Falling(a) => run_falling(a),
    }
}

fn run_falling(a: FallingEvalArgs) -> Result<()> {
    let opts = SuiteOptions {
        seeds: if a.full { a.seeds * 4 } else { a.seeds },
        seed: a.seed,
        width: a.width,
        height: a.height,
        codec: a.codec,
        use_model: !a.no_model,
        jobs: a.jobs,
        out: a.out.clone(),
        renderer: match a.renderer {
            RendererArg::Synth => Renderer::Synth,
            RendererArg::Sim => Renderer::Sim,
        },
        duration_s: a.duration,
    };
    let (s, clips) = run_suite(&opts, &|line| eprintln!("{line}"))?;
    print!("{}", summary_text(&s));
    print!("{}", breakdown_text(&breakdown(&clips)));
    if let Some(d) = &a.out {
        println!("report: {}", d.join("report.json").display());
    }
    Ok(())
}
