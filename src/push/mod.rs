//! Push delivery: webhooks (and MQTT, [`mqtt`]) fed from the store's durable outbox.
//!
//! Every event change writes an outbox row in the same transaction as the change. Each
//! subscriber has a cursor in the store; its worker sends notices strictly in order, retries
//! the head notice with capped exponential backoff until it succeeds (so a later notice
//! never overtakes an earlier one), and advances the cursor only after a 2xx. A crash
//! between delivery and cursor update re-sends that notice: delivery is at least once;
//! receivers de-duplicate on `X-Vigil-Delivery`.

pub mod mqtt;

use std::sync::atomic::Ordering;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::task::JoinHandle;

use crate::config::WebhookConfig;
use crate::service::EventBus;
use crate::store::{OutboxNotice, Store, StoreError};

/// The bytes a webhook signature covers: `"<timestamp>.<delivery id>."` then the body. The
/// timestamp (Unix seconds, `X-Vigil-Timestamp`) and delivery id (`X-Vigil-Delivery`) are
/// signed too, so a captured request cannot be replayed later or under another id: a receiver
/// checks the signature, refuses timestamps older than a few minutes, and remembers delivery
/// ids it has seen in that window (re-sends of one delivery keep its id).
fn signed_bytes(timestamp: i64, delivery: i64, body: &[u8]) -> Vec<u8> {
    let mut v = format!("{timestamp}.{delivery}.").into_bytes();
    v.extend_from_slice(body);
    v
}

/// `sha256=<hex>` HMAC-SHA256 under `secret` (the `X-Vigil-Signature` value).
pub fn sign(secret: &[u8], timestamp: i64, delivery: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(&signed_bytes(timestamp, delivery, body));
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Check a signature header in constant time (for receivers and tests).
pub fn verify_signature(
    secret: &[u8],
    timestamp: i64,
    delivery: i64,
    body: &[u8],
    header: &str,
) -> bool {
    let Some(hex_sig) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(&signed_bytes(timestamp, delivery, body));
    mac.verify_slice(&sig).is_ok()
}

/// Retry delay after `attempts` consecutive failures: 0.5 s doubling, capped.
pub fn backoff(attempts: i64, cap_s: f64) -> Duration {
    let exp = attempts.clamp(1, 30) - 1;
    let s = (0.5 * 2f64.powi(exp as i32)).min(cap_s.max(0.1));
    Duration::from_secs_f64(s)
}

fn wants(h: &WebhookConfig, n: &OutboxNotice) -> bool {
    h.events.contains(&n.phase) && (h.cameras.is_empty() || h.cameras.contains(&n.camera))
}

fn deliver(agent: &ureq::Agent, h: &WebhookConfig, n: &OutboxNotice) -> Result<(), String> {
    let ts = crate::store::now_ms() / 1000;
    let sig = sign(h.secret.as_bytes(), ts, n.seq, n.payload.as_bytes());
    let res = agent
        .post(&h.url)
        .set("Content-Type", "application/json")
        .set("X-Vigil-Timestamp", &ts.to_string())
        .set("X-Vigil-Signature", &sig)
        .set("X-Vigil-Delivery", &n.seq.to_string())
        .set("X-Vigil-Event", &n.phase)
        .send_string(&n.payload);
    match res {
        Ok(r) if (200..300).contains(&r.status()) => Ok(()),
        Ok(r) => Err(format!("HTTP {}", r.status())),
        Err(ureq::Error::Status(code, _)) => Err(format!("HTTP {code}")),
        // Not `e.to_string()`: ureq's message repeats the URL, which may carry a token.
        Err(ureq::Error::Transport(t)) => Err(t.kind().to_string()),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    crate::service::blocking(f, StoreError::Invalid).await
}

/// Start one delivery task per valid webhook. Invalid configs are logged and skipped.
/// Abort the returned handles to stop (a notice in flight is re-sent on the next start).
pub fn spawn_webhook_worker(
    store: Store,
    hooks: Vec<WebhookConfig>,
    bus: &EventBus,
) -> Vec<JoinHandle<()>> {
    hooks
        .into_iter()
        .filter(|h| match h.validate() {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(url = %crate::ingest::redact_url(&h.url), error = %e, "webhook disabled");
                false
            }
        })
        .map(|h| {
            let store = store.clone();
            let bus = bus.clone();
            tokio::spawn(async move {
                if let Err(e) = run_hook(store, h.clone(), bus).await {
                    tracing::error!(url = %crate::ingest::redact_url(&h.url), error = %e, "webhook worker stopped");
                }
            })
        })
        .collect()
}

async fn run_hook(store: Store, h: WebhookConfig, bus: EventBus) -> Result<(), StoreError> {
    let sub = h.subscriber();
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs_f64(h.timeout_s))
        .redirects(0)
        .build();
    let wake = bus.wake_handle();
    let metrics = bus.metrics.clone();
    let mut cursor = {
        let (st, s) = (store.clone(), sub.clone());
        blocking(move || st.outbox_cursor(&s)).await?
    };
    tracing::info!(subscriber = %sub, cursor, "webhook worker started");
    loop {
        // Registered before the query so a publish in between is not missed.
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let batch = {
            let st = store.clone();
            blocking(move || st.outbox_after(cursor, 100)).await?
        };
        if batch.is_empty() {
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
            continue;
        }
        for n in batch {
            let want = wants(&h, &n);
            // Retry the head notice until it is delivered: later ones must not overtake it.
            if want {
                deliver_until_ok(&store, &h, &sub, &agent, &metrics, &n).await?;
            }
            let (st, s, seq) = (store.clone(), sub.clone(), n.seq);
            blocking(move || st.outbox_advance(&s, seq, want)).await?;
            cursor = n.seq;
        }
    }
}

async fn deliver_until_ok(
    store: &Store,
    h: &WebhookConfig,
    sub: &str,
    agent: &ureq::Agent,
    metrics: &crate::service::Metrics,
    n: &OutboxNotice,
) -> Result<(), StoreError> {
    loop {
        let (a, hc, nc) = (agent.clone(), h.clone(), n.clone());
        let res = tokio::task::spawn_blocking(move || deliver(&a, &hc, &nc))
            .await
            .unwrap_or_else(|e| Err(format!("delivery task failed: {e}")));
        match res {
            Ok(()) => {
                metrics.webhook_delivered.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            Err(err) => {
                metrics.webhook_failures.fetch_add(1, Ordering::Relaxed);
                let (st, s, e2) = (store.clone(), sub.to_string(), err.clone());
                let attempts = blocking(move || st.outbox_failed(&s, &e2)).await?;
                let wait = backoff(attempts, h.max_backoff_s);
                tracing::warn!(subscriber = %sub, seq = n.seq, attempts, error = %err, ?wait, "webhook delivery failed");
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// Run retention every `cfg.interval_s`.
pub fn spawn_retention(store: Store, cfg: crate::config::RetentionConfig) -> JoinHandle<()> {
    tokio::spawn(async move {
        let enforce = cfg.max_age_days.is_some() || cfg.max_bytes.is_some();
        let age = cfg
            .max_age_days
            .filter(|d| d.is_finite() && *d > 0.0)
            .map(|d| Duration::from_secs_f64(d * 86_400.0));
        // Without a retention policy only the bookkeeping tables are trimmed, hourly.
        let every = if enforce {
            cfg.interval_s.max(1.0)
        } else {
            3600.0
        };
        let mut tick = tokio::time::interval(Duration::from_secs_f64(every));
        loop {
            tick.tick().await;
            let st = store.clone();
            let max_bytes = cfg.max_bytes;
            let res = blocking(move || {
                if !enforce {
                    st.housekeeping()?;
                    return Ok(());
                }
                let report = st.enforce_retention(age, max_bytes)?;
                // Deleting evidence is an action on personal data: audited like an operator's.
                if report.files_removed > 0 {
                    let entry = crate::audit::AuditEntry::new(
                        "retention",
                        "system",
                        "evidence.retention",
                        "evidence",
                    )
                    .detail(serde_json::json!({
                        "files_removed": report.files_removed,
                        "bytes_freed": report.bytes_freed,
                        "bytes_kept": report.bytes_kept,
                        "max_age_days": cfg.max_age_days,
                        "max_bytes": max_bytes,
                    }));
                    if let Err(e) = crate::audit::append(&st, &entry) {
                        tracing::error!(error = %e, "cannot audit a retention run");
                    }
                }
                Ok(())
            })
            .await;
            if let Err(e) = res {
                tracing::warn!(error = %e, "retention run failed");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_roundtrip() {
        let s = sign(b"secret-key", 1_700_000_000, 42, b"{\"a\":1}");
        assert!(s.starts_with("sha256="));
        assert!(verify_signature(
            b"secret-key",
            1_700_000_000,
            42,
            b"{\"a\":1}",
            &s
        ));
        assert!(!verify_signature(
            b"other-key",
            1_700_000_000,
            42,
            b"{\"a\":1}",
            &s
        ));
        assert!(!verify_signature(
            b"secret-key",
            1_700_000_000,
            42,
            b"{\"a\":2}",
            &s
        ));
        // Timestamp and delivery id are covered: no replay later or under another id.
        assert!(!verify_signature(
            b"secret-key",
            1_700_000_300,
            42,
            b"{\"a\":1}",
            &s
        ));
        assert!(!verify_signature(
            b"secret-key",
            1_700_000_000,
            43,
            b"{\"a\":1}",
            &s
        ));
    }

    #[test]
    fn backoff_is_capped() {
        assert_eq!(backoff(1, 60.0), Duration::from_millis(500));
        assert_eq!(backoff(2, 60.0), Duration::from_secs(1));
        assert_eq!(backoff(40, 60.0), Duration::from_secs(60));
    }
}
