//! `vigil audit verify --db FILE [--key FILE] [--anchors FILE]`: check the audit chain (and
//! the published heads); exit non-zero naming the first bad record. `vigil audit keygen`.

use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::audit::{self, AuditError};
use crate::store::Store;

#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub what: AuditWhat,
}

#[derive(clap::Subcommand, Debug)]
pub enum AuditWhat {
    /// Verify every record's hash link, the stored heads and the published anchors.
    Verify {
        /// The node database (its `.audit-head` file is read from beside it).
        #[arg(long)]
        db: PathBuf,
        /// The HMAC-SM3 audit key file (`[audit] key_file`); needed for keyed records.
        #[arg(long)]
        key: Option<PathBuf>,
        /// Published heads (`[audit] anchor_file`, or a syslog file with the anchor lines).
        /// Without anchors, removing the newest records cannot be detected.
        #[arg(long)]
        anchors: Option<PathBuf>,
    },
    /// Make a new audit key file (64 hex digits, mode 0600; never overwrites).
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(args: AuditArgs) -> Result<()> {
    match args.what {
        AuditWhat::Keygen { out } => {
            let k = audit::AuditKey::generate(&out)?;
            println!("audit key {} written to {}", k.id(), out.display());
            Ok(())
        }
        AuditWhat::Verify { db, key, anchors } => {
            if !db.exists() {
                bail!("no database at {}", db.display());
            }
            let store = Store::open(&db)?;
            let opts = audit::VerifyOptions {
                key: key
                    .map(|k| audit::AuditKey::load(&k, db.parent()))
                    .transpose()?,
                anchors: anchors
                    .map(|a| audit::read_anchors(&a))
                    .transpose()?
                    .unwrap_or_default(),
            };
            match audit::verify_with(&store, &opts) {
                Ok(r) => {
                    println!(
                        "audit log OK: {} records ({} signed with the key), {} anchors checked{}",
                        r.records,
                        r.keyed,
                        r.anchors_checked,
                        r.latest_anchor
                            .map(|s| format!(", newest anchored record {s}"))
                            .unwrap_or_default()
                    );
                    if opts.key.is_none() {
                        eprintln!("warning: no --key: an unkeyed chain can be rewritten by anyone who can write the database");
                    }
                    if opts.anchors.is_empty() {
                        eprintln!(
                            "warning: no --anchors: removing the newest records cannot be detected"
                        );
                    }
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
