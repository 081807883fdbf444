//! `vigil user add …` and `vigil token create …`: manage users and API tokens in the node
//! database (both audited as actor `cli`).

use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};

use crate::audit::{self, AuditEntry};
use crate::auth::{self, Role};
use crate::store::Store;

#[derive(clap::Args, Debug)]
pub struct UserArgs {
    #[command(subcommand)]
    pub what: UserWhat,
}

#[derive(clap::Subcommand, Debug)]
pub enum UserWhat {
    /// Create a user.
    Add {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        name: String,
        /// admin, operator or viewer.
        #[arg(long)]
        role: String,
        /// File whose first line is the password (kept off the command line).
        #[arg(long)]
        password_file: PathBuf,
    },
}

#[derive(clap::Args, Debug)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub what: TokenWhat,
}

#[derive(clap::Subcommand, Debug)]
pub enum TokenWhat {
    /// Issue an API token for a user; prints it once.
    Create {
        #[arg(long)]
        db: PathBuf,
        /// User the token acts as (its role applies).
        #[arg(long)]
        name: String,
        /// What the token is for.
        #[arg(long, default_value = "")]
        label: String,
        /// Lifetime in days (default: no expiry).
        #[arg(long)]
        ttl_days: Option<f64>,
    },
}

pub fn run(args: UserArgs) -> Result<()> {
    match args.what {
        UserWhat::Add {
            db,
            name,
            role,
            password_file,
        } => {
            let role = Role::parse(&role)
                .ok_or_else(|| anyhow!("role '{role}' is not one of admin, operator, viewer"))?;
            let text = std::fs::read_to_string(&password_file)
                .with_context(|| format!("reading {}", password_file.display()))?;
            let password = text.lines().next().unwrap_or("").to_string();
            let store = Store::open(&db)?;
            let id = auth::add_user(&store, &name, role, &password)?;
            audit::append(
                &store,
                &AuditEntry::new("cli", "admin", "user.add", &name)
                    .detail(serde_json::json!({ "role": role })),
            )?;
            println!("user {name} ({}) created with id {id}", role.as_str());
            Ok(())
        }
    }
}

pub fn run_token(args: TokenArgs) -> Result<()> {
    match args.what {
        TokenWhat::Create {
            db,
            name,
            label,
            ttl_days,
        } => {
            let ttl_ms = match ttl_days {
                Some(d) if d.is_finite() && d > 0.0 => Some((d * 86_400_000.0) as i64),
                Some(d) => return Err(anyhow!("ttl-days must be > 0, got {d}")),
                None => None,
            };
            let store = Store::open(&db)?;
            let t = auth::issue_token_for(&store, &name, &label, ttl_ms)
                .map_err(|e| anyhow!("cannot issue token for '{name}': {e}"))?;
            audit::append(
                &store,
                &AuditEntry::new("cli", "admin", "token.create", &name).detail(
                    serde_json::json!({ "label": label, "expires_at_ms": t.expires_at_ms }),
                ),
            )?;
            println!("{}", t.token);
            Ok(())
        }
    }
}
