//! `vigil serve`: every configured camera through the pipeline, the event store, the HTTP API,
//! live events, webhooks and the console, in one process.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::api::{self, AppState};
use crate::auth::{self, Role};
use crate::config::Config;
use crate::service::actions::CameraActions;
use crate::service::events::EventWriter;
use crate::service::node::{FileReloader, Node};
use crate::service::{EventBus, SharedCameras};
use crate::store::Store;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// vigil TOML config (cameras, node, api, webhooks, retention).
    #[arg(long)]
    pub config: PathBuf,
    /// Override `node.api_addr`.
    #[arg(long)]
    pub addr: Option<String>,
}

/// First start: create an `admin` user with a random password, written (mode 0600) beside the
/// database, so a fresh node is never open and never has a known default password.
fn bootstrap_admin(store: &Store, data_dir: &std::path::Path) -> Result<()> {
    if auth::user_count(store).context("counting users")? > 0 {
        // A password changed while the node was down (CLI) retires the file here.
        auth::retire_bootstrap_password(store, data_dir)
            .context("checking the bootstrap password")?;
        return Ok(());
    }
    let password: String = {
        use rand::Rng;
        const CHARS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let mut rng = rand::thread_rng();
        (0..16)
            .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
            .collect()
    };
    auth::add_user(store, "admin", Role::Admin, &password).context("creating the admin user")?;
    let path = data_dir.join(auth::BOOTSTRAP_PASSWORD_FILE);
    // 0600 from creation: there is no moment in which others could read it. A file left from
    // a database that no longer exists is stale.
    let _ = std::fs::remove_file(&path);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    {
        use std::io::Write;
        opts.open(&path)
            .and_then(|mut f| f.write_all(format!("{password}\n").as_bytes()))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    tracing::warn!(file = %path.display(), "created user 'admin'; its password is in this file");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing events and clips");
}

/// SIGHUP re-reads the config file like `POST /api/v1/config/reload` (audited as `SIGHUP`).
fn spawn_sighup_reload(
    reloader: Arc<dyn crate::service::ConfigReloader>,
    store: Store,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let Ok(mut hup) = signal(SignalKind::hangup()) else {
                tracing::warn!("cannot listen for SIGHUP; reload through the API instead");
                return;
            };
            while hup.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading the configuration");
                let (r, st) = (reloader.clone(), store.clone());
                let res = tokio::task::spawn_blocking(move || {
                    let (res, audited) =
                        crate::service::status::reload_audited(r.as_ref(), &st, "SIGHUP", "-");
                    if let Err(e) = audited {
                        tracing::error!(error = %e, "cannot audit the reload");
                    }
                    res
                })
                .await;
                match res {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "configuration reload rejected; the running configuration is unchanged")
                    }
                    Err(e) => tracing::error!(error = %e, "reload task failed"),
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = (reloader, store);
        }
    })
}

/// glibc keeps freed blocks of up to its (self-raising) mmap threshold in per-thread arenas:
/// every blocking thread that ever hashed a password would keep Argon2's 19 MiB resident. A
/// fixed threshold makes such blocks plain mmaps that are returned when freed.
fn bound_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before any other thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Everything the node creates (database, evidence, clips written by ffmpeg, logs of its own)
/// is its owner's alone: people's faces and the audit trail are personal data.
fn private_files() {
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

pub fn run(args: ServeArgs) -> Result<()> {
    bound_allocator();
    private_files();
    let cfg = Config::load(&args.config)?;
    // Evidence encryption: a configured key that is missing or malformed stops start-up here.
    let evidence_key = crate::evidence::crypt::load_key(
        cfg.evidence.key_file.as_deref(),
        cfg.evidence.key_env.as_deref(),
        &cfg.base_dir,
    )?;
    let encrypt = cfg.evidence.encrypt == crate::config::Encrypt::Sm4;
    if let Some(k) = &evidence_key {
        tracing::info!(key_id = %k.id_hex(), encrypt, "evidence key loaded");
    }
    // Passed explicitly: the API opens sealed evidence with it, the cameras seal with it when
    // encryption is on.
    let evidence_key = evidence_key.map(Arc::new);
    let seal_key = if encrypt { evidence_key.clone() } else { None };
    let data_dir = cfg.resolve(&cfg.node.data_dir.to_string_lossy());
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating data dir {}", data_dir.display()))?;
    // The store, evidence and password file are the node's alone: nobody else may even list
    // them (files inside inherit that protection whatever their own mode).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("chmod 700 {}", data_dir.display()))?;
    }
    let store = Store::open(data_dir.join("vigil.db"))?;
    let anchor_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let anchor_task = setup_audit(&cfg, &store, &data_dir, anchor_stop.clone())?;
    bootstrap_admin(&store, &data_dir)?;
    let addr = args
        .addr
        .clone()
        .unwrap_or_else(|| cfg.node.api_addr.clone());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let bus = EventBus::new(1024);
        let cameras = SharedCameras::default();
        let registry: Arc<dyn crate::service::CameraRegistry> = Arc::new(cameras.clone());
        let state = AppState::new(
            store.clone(),
            bus.clone(),
            registry.clone(),
            cfg.api.clone(),
        )
        .with_evidence_key(evidence_key)
        .with_require_sealed(cfg.evidence.require_sealed())
        .with_bootstrap_dir(data_dir.clone());
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("binding the API to {addr}"))?;
        tracing::info!(addr = %addr, "API and console at http://{addr}/");

        let (tx, rx) = std::sync::mpsc::channel();
        let node = Node::start(&cfg, data_dir.join("evidence"), seal_key, tx);
        // Relay / elevator-gateway calls: fed with committed alarms by the event writer.
        let actions = Arc::new(CameraActions::from_config(&cfg));
        let consumer = {
            let writer = EventWriter::new(store.clone(), bus.clone(), actions.clone());
            std::thread::Builder::new()
                .name("events".into())
                .spawn(move || writer.run(rx))
                .context("spawning the event writer")?
        };

        // Configuration reload: `POST /api/v1/config/reload` and SIGHUP.
        let reloader: Arc<dyn crate::service::ConfigReloader> = Arc::new(FileReloader {
            path: args.config.clone(),
            control: node.control(),
            actions,
        });
        let app =
            api::router(state.with_reloader(reloader.clone())).merge(crate::console::router());
        let hup_task = spawn_sighup_reload(reloader, store.clone());

        // Camera figures (state, thumbnail) for the API and health history.
        let probes = node.probes();
        let status_task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                for p in &probes {
                    cameras.set(p.status());
                    if let Some(t) = p.thumbnail() {
                        cameras.set_thumbnail(&p.name, t);
                    }
                }
            }
        });
        // MQTT: availability, committed event notices (from the outbox), camera stats.
        let mqtt = match cfg.mqtt.clone() {
            Some(m) => Some(crate::push::mqtt::spawn(
                m,
                cfg.node.name.as_deref(),
                store.clone(),
                &bus,
                registry.clone(),
            )?),
            None => None,
        };
        let sampler =
            crate::service::spawn_health_sampler(store.clone(), registry, Duration::from_secs(10));
        let hooks = crate::push::spawn_webhook_worker(store.clone(), cfg.webhooks.clone(), &bus);
        let retention = crate::push::spawn_retention(store.clone(), cfg.retention.clone());

        let limits = api::server::ServerLimits {
            max_connections: cfg.api.max_connections,
            header_read_timeout: Duration::from_secs_f64(
                cfg.api.header_read_timeout_s.clamp(0.5, 600.0),
            ),
        };
        let served = api::server::serve(listener, app, limits, shutdown_signal()).await;
        status_task.abort();
        hup_task.abort();
        sampler.abort();
        retention.abort();
        // Cameras flush their pending clips; the writer drains the channel and ends.
        tokio::task::spawn_blocking(move || {
            node.shutdown();
            let _ = consumer.join();
        })
        .await
        .context("stopping cameras")?;
        if let Some(m) = mqtt {
            m.shutdown().await; // the last notices, then `offline` and a clean disconnect
        }
        for h in hooks {
            h.abort();
        }
        // The final head goes out as the last anchor.
        anchor_stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = anchor_task {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        served.context("API server")
    })
}

/// `[audit]`: sign the chain with the key (refused when it is readable by others or lies in
/// the data directory) and publish its head to the anchor sinks.
fn setup_audit(
    cfg: &Config,
    store: &Store,
    data_dir: &std::path::Path,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Result<Option<std::thread::JoinHandle<()>>> {
    use crate::audit;
    let a = &cfg.audit;
    if let Some(kf) = &a.key_file {
        let path = cfg.resolve(&kf.to_string_lossy());
        let key = audit::AuditKey::load(&path, Some(data_dir))?;
        let node = cfg.node.name.clone().unwrap_or_else(|| "node".into());
        store.set_audit_signing(Some(key.signing(&node)));
        // A keyed record now: it seals every earlier (possibly unkeyed) record, and makes the
        // newest record a signed one, which `verify` with the key insists on.
        audit::append(
            store,
            &audit::AuditEntry::new("vigil", "system", "audit.key_in_use", &node)
                .detail(serde_json::json!({ "key_id": key.id() })),
        )?;
        tracing::info!(key_id = %key.id(), "audit chain signed with HMAC-SM3");
    } else {
        tracing::warn!("no [audit] key_file: the audit chain is unkeyed; anyone who can write the database can rewrite it");
    }
    let file = a
        .anchor_file
        .as_ref()
        .map(|p| cfg.resolve(&p.to_string_lossy()));
    if let Some(f) = &file {
        let canon =
            |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let parent = f.parent().map(canon).unwrap_or_default();
        if parent.starts_with(canon(data_dir)) {
            anyhow::bail!(
                "[audit] anchor_file {} is inside the data directory; anchors protect the log only when kept elsewhere",
                f.display()
            );
        }
    }
    if file.is_none() && !a.anchor_syslog {
        return Ok(None);
    }
    let sinks = audit::AnchorSinks {
        file,
        syslog: a.anchor_syslog,
    };
    let every = Duration::from_secs_f64(a.anchor_interval_s);
    Ok(Some(
        audit::spawn_anchor_task(store.clone(), sinks, every, stop)
            .context("starting the audit anchor task")?,
    ))
}
