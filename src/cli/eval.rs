//! `vigil eval <analytic>`: seeded synthetic suites scored against their truth, and real
//! footage scored against hand-transcribed fall windows.

use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::eval::falling::{
    breakdown, breakdown_text, real_text, run_real, run_suite, summary_text, SuiteOptions,
};

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub what: EvalWhat,
}

#[derive(clap::Subcommand, Debug)]
pub enum EvalWhat {
    /// High-altitude throwing: a stratified suite of generated clips (every object kind at every
    /// apparent size, day/night, floors, varied cameras and codecs) plus distractor-only video,
    /// through the same pipeline as `vigil analyze`. See EVAL.md.
    Falling(FallingEvalArgs),
}

#[derive(clap::Args, Debug)]
pub struct FallingEvalArgs {
    /// Number of clips with drops (18 cover every object kind in every size bucket once).
    #[arg(long)]
    pub seeds: Option<usize>,
    /// Distractor-only video in total, minutes (every alarm on it is a false alarm).
    #[arg(long)]
    pub distractor_minutes: Option<f64>,
    /// Longest distractor-only clip, seconds.
    #[arg(long, default_value_t = 60.0)]
    pub distractor_clip: f64,
    /// Base seed of the suite.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Drops per clip.
    #[arg(long, default_value_t = 2)]
    pub drops_per_clip: usize,
    /// Preset for a long run: 180 drop clips (360 drops) and 240 min of distractor-only video
    /// (about 2.5-3 h on 2 cores); --seeds / --distractor-minutes still override.
    #[arg(long)]
    pub full: bool,
    /// Where report.json and per-clip truth / config / events go (and the videos of clips with
    /// a miss or a false alarm); default: a scratch folder, removed afterwards.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Keep every clip's video under --out.
    #[arg(long)]
    pub keep_videos: bool,
    /// Fixed width (with --height); default: a mix of 1280x720, 1920x1080 and 960x540.
    #[arg(long, requires = "height")]
    pub width: Option<u32>,
    #[arg(long, requires = "width")]
    pub height: Option<u32>,
    /// Fixed frame rate; default: a mix of 15, 20, 25 and 30.
    #[arg(long)]
    pub fps: Option<f64>,
    /// Plain camera look (CRF 23, mild noise, no lens distortion, haze or vibration).
    #[arg(long)]
    pub plain: bool,
    /// Length of each drop clip, seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Stratified drop clips: clip i forces stratum i % 4 (rain of every kind, night with
    /// noise σ 5-10, contrast 25-50, 3-4 px); see EVAL.md for the held-out seed range.
    #[arg(long)]
    pub stratified: bool,
    /// Analyse the clips already rendered under --out (same names) instead of rendering them
    /// again; keeps every video. For before / after runs on identical clips.
    #[arg(long, requires = "out")]
    pub reuse: bool,
    /// Worker threads (one clip each).
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Instead of the generated suite: score the real clips in this folder (e.g.
    /// ../shared/real) against the fall windows in testdata/real_falling.toml. Skips with a
    /// message when the folder is absent.
    #[arg(long)]
    pub real: Option<PathBuf>,
}

pub fn run(args: EvalArgs) -> Result<()> {
    match args.what {
        EvalWhat::Falling(a) => run_falling(a),
    }
}

fn run_falling(a: FallingEvalArgs) -> Result<()> {
    if let Some(root) = &a.real {
        let t = std::time::Instant::now();
        match run_real(root, &|line| eprintln!("{line}"))? {
            None => {
                println!("real footage: {} not found, skipped", root.display());
            }
            Some(s) => {
                print!("{}", real_text(&s));
                println!("took {:.1} s", t.elapsed().as_secs_f64());
                if let Some(d) = &a.out {
                    std::fs::create_dir_all(d)?;
                    std::fs::write(d.join("real.json"), serde_json::to_vec_pretty(&s)?)?;
                    println!("report: {}", d.join("real.json").display());
                }
            }
        }
        return Ok(());
    }
    let base = if a.full {
        SuiteOptions::full()
    } else {
        SuiteOptions::default()
    };
    if !(a.fps.is_none() || a.fps.is_some_and(|f| (1.0..=120.0).contains(&f))) {
        bail!("--fps must be within 1..120");
    }
    let opts = SuiteOptions {
        seeds: a.seeds.unwrap_or(base.seeds),
        distractor_minutes: a.distractor_minutes.unwrap_or(base.distractor_minutes),
        distractor_clip_s: a.distractor_clip,
        seed: a.seed,
        drops_per_clip: a.drops_per_clip,
        duration_s: a.duration,
        size: a.width.zip(a.height),
        fps: a.fps,
        plain: a.plain,
        jobs: a.jobs,
        out: a.out.clone(),
        keep_videos: a.keep_videos,
        stratified: a.stratified,
        reuse: a.reuse,
    };
    let t = std::time::Instant::now();
    let (s, clips) = run_suite(&opts, &|line| eprintln!("{line}"))?;
    print!("{}", summary_text(&s));
    print!("{}", breakdown_text(&breakdown(&clips)));
    println!(
        "took {:.0} s wall on {} job(s) for {:.1} min of video",
        t.elapsed().as_secs_f64(),
        opts.jobs,
        s.video_hours * 60.0
    );
    if let Some(d) = &a.out {
        println!("report: {}", d.join("report.json").display());
    }
    Ok(())
}
