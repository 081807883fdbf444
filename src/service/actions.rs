//! HTTP actions on alarm and clear (relay module, elevator gateway, webhook): a sink of the
//! service, fed with committed alarms ([`CameraActions`]); each camera's calls go out from one
//! background thread so neither the cameras nor the event writer wait on the network.
//!
//! The analytics never call these: `vigil analyze`, `bench` and `eval` run a production config
//! without touching the real relay.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::config::elevator::{ActionConfig, ActionTrigger};
use crate::config::Config;
use crate::events::Event;

/// Jobs waiting beyond this are dropped (with a warning) rather than queued without bound.
const QUEUE: usize = 64;
/// On shutdown, wait at most this long for queued calls to finish.
const DRAIN_WAIT: Duration = Duration::from_secs(3);

/// What the placeholders of a body template are filled with.
#[derive(Clone, Debug)]
pub struct ActionContext {
    pub camera: String,
    pub event_id: u64,
    pub label: String,
    /// Media time of the alarm/clear (seconds).
    pub media_s: f64,
    pub phase: ActionTrigger,
}

/// Counters, shared with the worker.
#[derive(Debug, Default)]
pub struct ActionStats {
    /// Calls that got a 2xx/3xx answer.
    pub sent: AtomicU64,
    /// Calls that failed after all retries.
    pub failed: AtomicU64,
    /// Calls dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Attempts (including retries).
    pub attempts: AtomicU64,
}

struct Job {
    action: ActionConfig,
    body: Option<String>,
}

pub struct ActionRunner {
    actions: Vec<ActionConfig>,
    tx: Option<SyncSender<Job>>,
    /// Signalled when the worker has sent everything (in a mutex only so the runner is `Sync`).
    done: Mutex<Receiver<()>>,
    handle: Option<JoinHandle<()>>,
    stats: Arc<ActionStats>,
}

/// A string as the inside of a JSON string literal (quotes, backslashes, control characters).
fn json_escape(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

fn phase_name(p: ActionTrigger) -> &'static str {
    match p {
        ActionTrigger::Alarm => "alarm",
        ActionTrigger::Clear => "clear",
    }
}

fn now_rfc3339() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

/// The body sent when an action names none.
pub fn default_body(ctx: &ActionContext) -> String {
    serde_json::json!({
        "camera": ctx.camera,
        "event_id": ctx.event_id,
        "label": ctx.label,
        "phase": phase_name(ctx.phase),
        "time": now_rfc3339(),
        // Three decimals, as a number.
        "media_s": (ctx.media_s * 1000.0).round() / 1000.0,
    })
    .to_string()
}

/// Fill `{camera}`, `{event_id}`, `{label}`, `{phase}`, `{time}` (wall clock, RFC 3339) and
/// `{media_s}`. String values are JSON-escaped when `json` is set.
pub fn render(template: &str, ctx: &ActionContext, json: bool) -> String {
    let esc = |s: &str| if json { json_escape(s) } else { s.to_string() };
    let phase = phase_name(ctx.phase);
    template
        .replace("{camera}", &esc(&ctx.camera))
        .replace("{event_id}", &ctx.event_id.to_string())
        .replace("{label}", &esc(&ctx.label))
        .replace("{phase}", phase)
        .replace("{time}", &now_rfc3339())
        .replace("{media_s}", &format!("{:.3}", ctx.media_s))
}

fn send(job: &Job, stats: &ActionStats) -> bool {
    let a = &job.action;
    let timeout = Duration::from_secs_f64(a.timeout_s.clamp(0.01, 60.0));
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(timeout)
        .timeout(timeout)
        .build();
    let attempts = a.retries as u64 + 1;
    for attempt in 0..attempts {
        stats.attempts.fetch_add(1, Ordering::Relaxed);
        let req = agent
            .request(&a.method.to_ascii_uppercase(), &a.url)
            .set("User-Agent", "vigil");
        let res = match &job.body {
            Some(b) => req.set("Content-Type", &a.content_type).send_string(b),
            None => req.call(),
        };
        match res {
            Ok(r) => {
                tracing::info!(url = %crate::ingest::redact_url(&a.url), status = r.status(), "elevator action sent");
                return true;
            }
            Err(e) => {
                // Not `e` itself: ureq's message repeats the URL, which may carry credentials.
                let why = match &e {
                    ureq::Error::Status(code, _) => format!("HTTP {code}"),
                    ureq::Error::Transport(t) => t.kind().to_string(),
                };
                tracing::warn!(url = %crate::ingest::redact_url(&a.url), attempt = attempt + 1, of = attempts, error = %why, "elevator action failed");
                if attempt + 1 < attempts {
                    // Exponential backoff: 0.2 s, 0.4 s, 0.8 s … capped at 5 s.
                    let back = 0.2 * 2f64.powi(attempt.min(5) as i32);
                    std::thread::sleep(Duration::from_secs_f64(back.min(5.0)));
                }
            }
        }
    }
    false
}

impl ActionRunner {
    /// Start the worker; `None` when there are no actions.
    pub fn start(actions: &[ActionConfig]) -> Option<ActionRunner> {
        if actions.is_empty() {
            return None;
        }
        let (tx, rx) = mpsc::sync_channel::<Job>(QUEUE);
        let (done_tx, done) = mpsc::channel();
        let stats = Arc::new(ActionStats::default());
        let st = stats.clone();
        let handle = std::thread::Builder::new()
            .name("ebike-actions".into())
            .spawn(move || {
                for job in rx {
                    if send(&job, &st) {
                        st.sent.fetch_add(1, Ordering::Relaxed);
                    } else {
                        st.failed.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(url = %crate::ingest::redact_url(&job.action.url), "elevator action gave up after retries");
                    }
                }
                let _ = done_tx.send(());
            });
        let handle = match handle {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "cannot start the elevator action thread; actions disabled");
                return None;
            }
        };
        Some(ActionRunner {
            actions: actions.to_vec(),
            tx: Some(tx),
            done: Mutex::new(done),
            handle: Some(handle),
            stats,
        })
    }

    pub fn stats(&self) -> Arc<ActionStats> {
        self.stats.clone()
    }

    /// Queue every action configured for `ctx.phase`. Never blocks.
    pub fn fire(&self, ctx: &ActionContext) {
        let Some(tx) = &self.tx else { return };
        for a in self.actions.iter().filter(|a| a.on == ctx.phase) {
            let json = a.content_type.contains("json");
            let body = match (&a.body, a.method.eq_ignore_ascii_case("GET")) {
                (Some(t), _) if t.is_empty() => None,
                (Some(t), _) => Some(render(t, ctx, json)),
                (None, true) => None,
                (None, false) => Some(default_body(ctx)),
            };
            let mut action = a.clone();
            action.url = render(&a.url, ctx, false);
            match tx.try_send(Job { action, body }) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(url = %crate::ingest::redact_url(&a.url), "elevator action queue full; call dropped");
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(url = %crate::ingest::redact_url(&a.url), "elevator action thread gone; call dropped");
                }
            }
        }
    }
}

impl Drop for ActionRunner {
    fn drop(&mut self) {
        // Close the queue and give in-flight calls a moment; never hang the caller.
        self.tx = None;
        let done = match self.done.get_mut() {
            Ok(d) => d,
            Err(p) => p.into_inner(),
        };
        match done.recv_timeout(DRAIN_WAIT) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                if let Some(h) = self.handle.take() {
                    let _ = h.join();
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                tracing::warn!("elevator actions still pending at shutdown; leaving them");
            }
        }
    }
}

/// The actions of every elevator camera, keyed by camera name. The service feeds it: the alarm
/// once it is committed to the store, the clear when the analytic ends that event.
#[derive(Default)]
pub struct CameraActions {
    runners: Mutex<HashMap<String, Runner>>,
}

/// A camera's actions and the runner sending them.
type Runner = (Vec<ActionConfig>, Arc<ActionRunner>);

impl CameraActions {
    /// Runners for the cameras of `cfg` that configure actions.
    pub fn from_config(cfg: &Config) -> CameraActions {
        let a = CameraActions::default();
        a.update(cfg);
        a
    }

    /// Take the actions of `cfg` (a configuration reload): cameras whose list changed get a new
    /// runner; the old one drains its queue (a few seconds at most) outside the lock.
    pub fn update(&self, cfg: &Config) {
        let mut retired = Vec::new();
        if let Ok(mut map) = self.runners.lock() {
            let wanted: HashMap<&str, &[ActionConfig]> = cfg
                .cameras
                .iter()
                .filter_map(|c| {
                    let acts = c.elevator.as_ref().map(|e| e.actions.as_slice())?;
                    (!acts.is_empty()).then_some((c.name.as_str(), acts))
                })
                .collect();
            let names: Vec<String> = map.keys().cloned().collect();
            for name in names {
                let same = wanted
                    .get(name.as_str())
                    .is_some_and(|w| map.get(&name).is_some_and(|(old, _)| old.as_slice() == *w));
                if !same {
                    retired.extend(map.remove(&name));
                }
            }
            for (name, acts) in wanted {
                if map.contains_key(name) {
                    continue;
                }
                if let Some(r) = ActionRunner::start(acts) {
                    map.insert(name.to_string(), (acts.to_vec(), Arc::new(r)));
                }
            }
        }
        drop(retired);
    }

    fn runner(&self, camera: &str) -> Option<Arc<ActionRunner>> {
        let map = self.runners.lock().ok()?;
        map.get(camera).map(|(_, r)| r.clone())
    }

    /// A committed alarm: fire the camera's `on = "alarm"` actions.
    pub fn alarm(&self, ev: &Event) {
        self.fire(ev, ActionTrigger::Alarm, ev.alarm_s);
    }

    /// The analytic ended an alarmed event: fire the camera's `on = "clear"` actions.
    pub fn clear(&self, ev: &Event) {
        self.fire(ev, ActionTrigger::Clear, ev.end_s);
    }

    fn fire(&self, ev: &Event, phase: ActionTrigger, media_s: f64) {
        if let Some(r) = self.runner(&ev.camera) {
            r.fire(&ActionContext {
                camera: ev.camera.clone(),
                event_id: ev.id,
                label: ev.label.clone().unwrap_or_default(),
                media_s,
                phase,
            });
        }
    }

    /// The camera's action counters (`None`: no actions configured).
    pub fn stats(&self, camera: &str) -> Option<Arc<ActionStats>> {
        self.runner(camera).map(|r| r.stats())
    }
}
