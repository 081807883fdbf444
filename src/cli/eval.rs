//! `vigil eval <analytic>`: seeded synthetic suites, scored against their truth.

use std::path::PathBuf;

use anyhow::Result;

use vigil::analytics::falling::eval::{run_suite, summary_text, SuiteOptions};

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
    /// Suite size: each seed gives one clip with drops and one distractor-only clip.
    #[arg(long, default_value_t = 7)]
    pub seeds: usize,
    /// Base seed of the suite.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Larger suite (4x the clips).
    #[arg(long)]
    pub full: bool,
    /// Where report.json, per-clip truth/events and (with --codec) the clips go.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, default_value_t = 1280)]
    pub width: u32,
    #[arg(long, default_value_t = 720)]
    pub height: u32,
    /// Pass every clip through H.264 (ffmpeg CLI, libx264 CRF 23) before analysis, so the
    /// analytic sees compression artifacts as from a real camera. Needs --out.
    #[arg(long)]
    pub codec: bool,
    /// Physics layer only (do not load the trajectory model).
    #[arg(long)]
    pub no_model: bool,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
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
    };
    let (s, _) = run_suite(&opts, &|line| eprintln!("{line}"))?;
    print!("{}", summary_text(&s));
    if let Some(d) = &a.out {
        println!("report: {}", d.join("report.json").display());
    }
    Ok(())
}
