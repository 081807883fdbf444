//! `vigil audit verify --db FILE`: check the SM3 audit chain; exit non-zero naming the first
//! bad record.

use std::path::PathBuf;

use anyhow::{bail, Result};

use vigil::audit::{self, AuditError};
use vigil::store::Store;

#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub what: AuditWhat,
}

#[derive(clap::Subcommand, Debug)]
pub enum AuditWhat {
    /// Verify every record's hash link and the stored heads.
    Verify {
        /// The node database (its `.audit-head` file is read from beside it).
        #[arg(long)]
        db: PathBuf,
    },
}

pub fn run(args: AuditArgs) -> Result<()> {
    match args.what {
        AuditWhat::Verify { db } => {
            if !db.exists() {
                bail!("no database at {}", db.display());
            }
            let store = Store::open(&db)?;
            match audit::verify(&store) {
                Ok(n) => {
                    println!("audit log OK: {n} records");
                    Ok(())
                }
                Err(AuditError::Break(b)) => {
                    bail!("audit log BROKEN at record {}: {}", b.seq, b.reason)
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}
