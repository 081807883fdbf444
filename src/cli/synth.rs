//! `vigil synth`: render seeded synthetic clips (H.264 MP4 + truth JSON + camera config TOML).

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::synth::{
    render_elevator, render_facade, Distractor, ElevatorSpec, FacadeSpec, Look, Negative,
    ObjectKind,
};

#[derive(clap::Args, Debug)]
pub struct SynthArgs {
    #[command(subcommand)]
    pub what: SynthWhat,
}

#[derive(clap::Subcommand, Debug)]
pub enum SynthWhat {
    /// A tower facade seen from the ground, with objects falling from windows.
    Facade(FacadeArgs),
    /// An elevator car with people and optionally an e-bike coming in.
    Elevator(ElevatorArgs),
}

#[derive(clap::Args, Debug)]
pub struct Common {
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output directory (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Clip name (files `<name>.mp4`, `<name>.truth.json`, `<name>.toml`); default from the seed.
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub fps: Option<f64>,
    #[arg(long)]
    pub duration: Option<f64>,
    /// Render several clips with consecutive seeds.
    #[arg(long, default_value_t = 1)]
    pub count: u64,
}

#[derive(clap::Args, Debug)]
pub struct FacadeArgs {
    #[command(flatten)]
    pub common: Common,
    #[arg(long, default_value_t = 1280)]
    pub width: u32,
    #[arg(long, default_value_t = 720)]
    pub height: u32,
    /// Number of falling objects.
    #[arg(long, default_value_t = 1)]
    pub drops: usize,
    /// Comma list: birds, rain, leaves, insects, lights, laundry, clouds, jitter, exposure,
    /// noise; or `mixed` for all.
    #[arg(long, default_value = "")]
    pub distractors: String,
    #[arg(long)]
    pub night: bool,
    #[arg(long, default_value_t = 3.0)]
    pub min_size: f64,
    #[arg(long, default_value_t = 30.0)]
    pub max_size: f64,
    /// Tower height in floors (default random 18-33).
    #[arg(long)]
    pub floors: Option<u32>,
    /// Camera distance to the facade in metres (default random 20-60).
    #[arg(long)]
    pub distance: Option<f64>,
    /// Comma list of object kinds for the drops, in order (cycled): bottle, can, phone, fruit,
    /// shoe, cigarette_butt, brick, flowerpot, bag, paper, cardboard, clothing. Default random.
    #[arg(long, default_value = "")]
    pub objects: String,
    /// Zoom the camera so the first object shows at a size within --min-size..--max-size.
    #[arg(long)]
    pub fit_zoom: bool,
    /// Camera look: `plain` (CRF 23, mild noise, no lens distortion) or `varied` (seeded random
    /// noise, vignetting, barrel distortion, haze, exposure wander, vibration, CRF 18-35).
    #[arg(long, default_value = "plain")]
    pub look: String,
}

#[derive(clap::Args, Debug)]
pub struct ElevatorArgs {
    #[command(flatten)]
    pub common: Common,
    #[arg(long, default_value_t = 640)]
    pub width: u32,
    #[arg(long, default_value_t = 480)]
    pub height: u32,
    #[arg(long, default_value_t = 1)]
    pub people: usize,
    /// Leave the e-bike out.
    #[arg(long)]
    pub no_ebike: bool,
    /// Wheel in a non-e-bike object instead: bicycle, stroller, wheelchair or trolley.
    #[arg(long)]
    pub negative: Option<String>,
    /// The e-bike (or object) already stands in the car at frame 0; the door stays shut 4 s.
    #[arg(long)]
    pub at_start: bool,
}

pub fn run(args: SynthArgs) -> Result<()> {
    match args.what {
        SynthWhat::Facade(a) => {
            let base = FacadeSpec::default();
            let mut objects = Vec::new();
            for o in a
                .objects
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
            {
                match ObjectKind::parse(o) {
                    Some(k) => objects.push(k),
                    None => anyhow::bail!(
                        "unknown object '{o}' (expected one of: {})",
                        ObjectKind::ALL.map(|k| k.name()).join(", ")
                    ),
                }
            }
            let varied = match a.look.as_str() {
                "plain" => false,
                "varied" => true,
                other => anyhow::bail!("unknown look '{other}' (expected plain or varied)"),
            };
            let spec = FacadeSpec {
                objects,
                fit_zoom: a.fit_zoom,
                seed: a.common.seed,
                width: a.width,
                height: a.height,
                fps: a.common.fps.unwrap_or(base.fps),
                duration_s: a.common.duration.unwrap_or(base.duration_s),
                drops: a.drops,
                distractors: Distractor::parse_list(&a.distractors)?,
                night: a.night,
                min_size_px: a.min_size,
                max_size_px: a.max_size,
                floors: a.floors,
                distance_m: a.distance,
                ..base
            };
            for k in 0..a.common.count {
                let seed = spec.seed + k;
                let look = if varied {
                    Look::random(&mut crate::synth::noise::rng(seed, 0x100C))
                } else {
                    Look::default()
                };
                let s = FacadeSpec {
                    seed,
                    look,
                    ..spec.clone()
                };
                let name = clip_name(&a.common.name, "facade", s.seed, a.common.count, k);
                let t = std::time::Instant::now();
                let out = render_facade(&s, &a.common.out, &name)
                    .with_context(|| format!("rendering facade clip {name}"))?;
                println!(
                    "{} {} {} ({:.1} s)",
                    out.video.display(),
                    out.truth.display(),
                    out.config.display(),
                    t.elapsed().as_secs_f64()
                );
            }
        }
        SynthWhat::Elevator(a) => {
            let base = ElevatorSpec::default();
            for k in 0..a.common.count {
                let spec = ElevatorSpec {
                    seed: a.common.seed + k,
                    width: a.width,
                    height: a.height,
                    fps: a.common.fps.unwrap_or(base.fps),
                    duration_s: a.common.duration.unwrap_or(base.duration_s),
                    ebike: !a.no_ebike,
                    people: a.people,
                    negative: match a.negative.as_deref() {
                        None => None,
                        Some(n) => Some(Negative::parse(n).with_context(|| {
                            format!(
                                "--negative {n}: expected bicycle, stroller, wheelchair or trolley"
                            )
                        })?),
                    },
                    at_start: a.at_start,
                };
                let name = clip_name(&a.common.name, "elevator", spec.seed, a.common.count, k);
                let out = render_elevator(&spec, &a.common.out, &name)
                    .with_context(|| format!("rendering elevator clip {name}"))?;
                println!(
                    "{} {} {}",
                    out.video.display(),
                    out.truth.display(),
                    out.config.display()
                );
            }
        }
    }
    Ok(())
}

fn clip_name(name: &Option<String>, kind: &str, seed: u64, count: u64, k: u64) -> String {
    match name {
        Some(n) if count <= 1 => n.clone(),
        Some(n) => format!("{n}-{k}"),
        None => format!("{kind}-{seed}"),
    }
}
