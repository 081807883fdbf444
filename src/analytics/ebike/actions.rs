//! HTTP actions on alarm and clear (relay module, elevator gateway, webhook), sent from one
//! background thread so the pipeline never waits on the network.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::config::{ActionConfig, ActionTrigger};

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
    done: Receiver<()>,
    handle: Option<JoinHandle<()>>,
    stats: Arc<ActionStats>,
}

const DEFAULT_BODY: &str = r#"{"camera":"{camera}","event_id":{event_id},"label":"{label}","phase":"{phase}","time":"{time}","media_s":{media_s}}"#;

fn json_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o
}

/// Fill `{camera}`, `{event_id}`, `{label}`, `{phase}`, `{time}` (wall clock, RFC 3339) and
/// `{media_s}`. String values are JSON-escaped when `json` is set.
pub fn render(template: &str, ctx: &ActionContext, json: bool) -> String {
    let esc = |s: &str| if json { json_escape(s) } else { s.to_string() };
    let phase = match ctx.phase {
        ActionTrigger::Alarm => "alarm",
        ActionTrigger::Clear => "clear",
    };
    template
        .replace("{camera}", &esc(&ctx.camera))
        .replace("{event_id}", &ctx.event_id.to_string())
        .replace("{label}", &esc(&ctx.label))
        .replace("{phase}", phase)
        .replace(
            "{time}",
            &chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
        )
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
            done,
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
                (None, false) => Some(render(DEFAULT_BODY, ctx, true)),
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
        match self.done.recv_timeout(DRAIN_WAIT) {
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
