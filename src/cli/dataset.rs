//! `vigil dataset export`: stored e-bike events → YOLO dataset for fine-tuning a site model.

use std::path::PathBuf;

use anyhow::Result;

use crate::analytics::ebike::dataset::{export_yolo, ExportOptions};

#[derive(clap::Args, Debug)]
pub struct DatasetArgs {
    #[command(subcommand)]
    pub what: DatasetWhat,
}

#[derive(clap::Subcommand, Debug)]
pub enum DatasetWhat {
    /// Write images/, labels/ and data.yaml from an evidence folder (`vigil analyze --evidence-dir`).
    Export(ExportArgs),
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Evidence folder holding one sub-folder per event (event.json, frame.jpg, snapshot.jpg).
    #[arg(long)]
    pub evidence: PathBuf,
    /// Output dataset folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Only events an operator marked (verdict.json).
    #[arg(long)]
    pub verified_only: bool,
    /// Fall back to the annotated snapshot.jpg when no clean frame.jpg exists.
    #[arg(long)]
    pub allow_annotated: bool,
}

pub fn run(args: DatasetArgs) -> Result<()> {
    match args.what {
        DatasetWhat::Export(a) => {
            let rep = export_yolo(
                &a.evidence,
                &a.out,
                &ExportOptions {
                    verified_only: a.verified_only,
                    allow_annotated: a.allow_annotated,
                },
            )?;
            println!(
                "{} e-bike events: {} positives, {} hard negatives, {} skipped → {}",
                rep.events_seen,
                rep.positives,
                rep.negatives,
                rep.skipped.len(),
                a.out.join("data.yaml").display()
            );
            for (dir, why) in &rep.skipped {
                println!("  skipped {dir}: {why}");
            }
            Ok(())
        }
    }
}
