//! `vigil user …` and `vigil token …`: manage users and API tokens in the node database, on
//! the machine itself (every change audited as actor `cli`). A running node sees a change at
//! its next request, except for tokens it looked up in the last 5 s (its token cache).

use std::path::{Path, PathBuf};

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
    /// List users (name, role, state, unexpired tokens).
    List {
        #[arg(long)]
        db: PathBuf,
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Set a user's password; every token of the user is revoked.
    Passwd {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        name: String,
        /// File whose first line is the new password.
        #[arg(long)]
        password_file: PathBuf,
    },
    /// Disable a user (cannot log in; every token revoked).
    Disable {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        name: String,
    },
    /// Enable a disabled user again.
    Enable {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        name: String,
    },
    /// Change a user's role (tokens are revoked when rights shrink).
    Role {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        name: String,
        /// admin, operator or viewer.
        #[arg(long)]
        role: String,
    },
    /// Delete a user and their tokens (audit records keep the name).
    Delete {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        name: String,
    },
}

#[derive(clap::Args, Debug)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub what: TokenWhat,
}

/// Lifetime of an API token made without `--ttl-days`: long enough for an integration, short
/// enough that a forgotten token does not work forever.
pub const DEFAULT_TOKEN_TTL_DAYS: f64 = 90.0;

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
        /// Lifetime in days (default 90).
        #[arg(long, conflicts_with = "no_expiry")]
        ttl_days: Option<f64>,
        /// A token that never expires (revoke it by hand when no longer needed).
        #[arg(long)]
        no_expiry: bool,
    },
    /// List unexpired tokens (never their secrets).
    List {
        #[arg(long)]
        db: PathBuf,
        /// Only this user's tokens.
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke one token (by the id `token list` shows) or every token of a user.
    Revoke {
        #[arg(long)]
        db: PathBuf,
        #[arg(long, required_unless_present = "name", conflicts_with = "name")]
        id: Option<i64>,
        #[arg(long)]
        name: Option<String>,
    },
}

fn parse_role(role: &str) -> Result<Role> {
    Role::parse(role).ok_or_else(|| anyhow!("role '{role}' is not one of admin, operator, viewer"))
}

fn read_password(file: &Path) -> Result<String> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    Ok(text.lines().next().unwrap_or("").to_string())
}

fn record(store: &Store, action: &str, target: &str, detail: serde_json::Value) -> Result<()> {
    audit::append(
        store,
        &AuditEntry::new("cli", "admin", action, target).detail(detail),
    )?;
    Ok(())
}

fn when(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "never".into())
}

pub fn run(args: UserArgs) -> Result<()> {
    match args.what {
        UserWhat::Add {
            db,
            name,
            role,
            password_file,
        } => {
            let role = parse_role(&role)?;
            let password = read_password(&password_file)?;
            let store = Store::open(&db)?;
            let id = auth::add_user(&store, &name, role, &password)?;
            record(
                &store,
                "user.add",
                &name,
                serde_json::json!({ "role": role }),
            )?;
            println!("user {name} ({}) created with id {id}", role.as_str());
        }
        UserWhat::List { db, json } => {
            let store = Store::open(&db)?;
            let users = auth::list_users(&store)?;
            for u in users {
                if json {
                    println!("{}", serde_json::to_string(&u)?);
                } else {
                    println!(
                        "{:<24} {:<9} {:<9} tokens {}",
                        u.name,
                        u.role.as_str(),
                        if u.disabled { "disabled" } else { "enabled" },
                        u.active_tokens
                    );
                }
            }
        }
        UserWhat::Passwd {
            db,
            name,
            password_file,
        } => {
            let password = read_password(&password_file)?;
            let store = Store::open(&db)?;
            let ch = auth::set_password(&store, &name, &password)?;
            record(
                &store,
                "user.password",
                &name,
                serde_json::json!({ "tokens_revoked": ch.tokens_revoked }),
            )?;
            if let Some(dir) = db.parent() {
                auth::retire_bootstrap_password(&store, dir)?;
            }
            println!(
                "password of {name} changed; {} token(s) revoked",
                ch.tokens_revoked
            );
        }
        UserWhat::Disable { db, name } => set_disabled(&db, &name, true)?,
        UserWhat::Enable { db, name } => set_disabled(&db, &name, false)?,
        UserWhat::Role { db, name, role } => {
            let role = parse_role(&role)?;
            let store = Store::open(&db)?;
            let ch = auth::set_role(&store, &name, role)?;
            record(
                &store,
                "user.role",
                &name,
                serde_json::json!({ "role": role, "tokens_revoked": ch.tokens_revoked }),
            )?;
            println!(
                "{name} is now {}; {} token(s) revoked",
                role.as_str(),
                ch.tokens_revoked
            );
        }
        UserWhat::Delete { db, name } => {
            let store = Store::open(&db)?;
            let ch = auth::delete_user(&store, &name)?;
            record(
                &store,
                "user.delete",
                &name,
                serde_json::json!({ "tokens_revoked": ch.tokens_revoked }),
            )?;
            if let Some(dir) = db.parent() {
                auth::retire_bootstrap_password(&store, dir)?;
            }
            println!(
                "user {name} deleted; {} token(s) revoked",
                ch.tokens_revoked
            );
        }
    }
    Ok(())
}

fn set_disabled(db: &Path, name: &str, disabled: bool) -> Result<()> {
    let store = Store::open(db)?;
    let ch = auth::set_disabled(&store, name, disabled)?;
    let action = if disabled {
        "user.disable"
    } else {
        "user.enable"
    };
    record(
        &store,
        action,
        name,
        serde_json::json!({ "tokens_revoked": ch.tokens_revoked }),
    )?;
    if disabled {
        if let Some(dir) = db.parent() {
            auth::retire_bootstrap_password(&store, dir)?;
        }
        println!("{name} disabled; {} token(s) revoked", ch.tokens_revoked);
    } else {
        println!("{name} enabled");
    }
    Ok(())
}

pub fn run_token(args: TokenArgs) -> Result<()> {
    match args.what {
        TokenWhat::Create {
            db,
            name,
            label,
            ttl_days,
            no_expiry,
        } => {
            let ttl_ms = match (ttl_days, no_expiry) {
                (_, true) => None,
                (Some(d), _) if d.is_finite() && d > 0.0 => Some((d * 86_400_000.0) as i64),
                (Some(d), _) => return Err(anyhow!("ttl-days must be > 0, got {d}")),
                (None, false) => Some((DEFAULT_TOKEN_TTL_DAYS * 86_400_000.0) as i64),
            };
            let store = Store::open(&db)?;
            let t = auth::issue_token_for(&store, &name, &label, ttl_ms)
                .map_err(|e| anyhow!("cannot issue token for '{name}': {e}"))?;
            record(
                &store,
                "token.create",
                &name,
                serde_json::json!({ "label": label, "expires_at_ms": t.expires_at_ms }),
            )?;
            eprintln!("expires: {}", when(t.expires_at_ms));
            println!("{}", t.token);
        }
        TokenWhat::List { db, name, json } => {
            let store = Store::open(&db)?;
            for t in auth::list_tokens(&store, name.as_deref())? {
                if json {
                    println!("{}", serde_json::to_string(&t)?);
                } else {
                    println!(
                        "{:>6} {:<24} {:<8} expires {:<22} {}",
                        t.id,
                        t.user,
                        t.kind,
                        when(t.expires_at_ms),
                        t.label
                    );
                }
            }
        }
        TokenWhat::Revoke { db, id, name } => {
            let store = Store::open(&db)?;
            let ch = match (id, name) {
                (Some(id), _) => auth::revoke_token_id(&store, id)?
                    .ok_or_else(|| anyhow!("no token with id {id}"))?,
                (None, Some(name)) => auth::revoke_user_tokens(&store, &name)?,
                (None, None) => return Err(anyhow!("give --id or --name")),
            };
            record(
                &store,
                "token.revoke",
                &ch.user,
                serde_json::json!({ "id": id, "tokens_revoked": ch.tokens_revoked }),
            )?;
            println!("{} token(s) of {} revoked", ch.tokens_revoked, ch.user);
        }
    }
    Ok(())
}
