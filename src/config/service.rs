//! Service settings: API limits, webhook subscribers, retention. Meant to be embedded in the
//! node's TOML (`[api]`, `[[webhook]]`, `[retention]`).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    #[serde(default)]
    pub api: ApiConfig,
    #[serde(default, rename = "webhook")]
    pub webhooks: Vec<WebhookConfig>,
    #[serde(default)]
    pub retention: RetentionConfig,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Lifetime of login session tokens.
    #[serde(default = "d_session")]
    pub session_ttl_s: u64,
    /// Largest accepted request body.
    #[serde(default = "d_body")]
    pub max_body_bytes: usize,
    /// Time limit for producing a response (streams are not cut once started).
    #[serde(default = "d_timeout")]
    pub request_timeout_s: f64,
    /// Interval of SSE heartbeat comments.
    #[serde(default = "d_heartbeat")]
    pub sse_heartbeat_s: f64,
    /// Open connections at most; more are answered 503 and closed.
    #[serde(default = "d_connections")]
    pub max_connections: usize,
    /// Live-stream (SSE) subscribers at most; more get 503 `too_many_subscribers`.
    #[serde(default = "d_sse")]
    pub max_sse_subscribers: usize,
    /// A request's headers must arrive within this time, or the connection is closed.
    #[serde(default = "d_header_timeout")]
    pub header_read_timeout_s: f64,
}

fn d_session() -> u64 {
    8 * 3600
}
fn d_body() -> usize {
    64 * 1024
}
fn d_timeout() -> f64 {
    30.0
}
fn d_heartbeat() -> f64 {
    15.0
}
fn d_connections() -> usize {
    1024
}
fn d_sse() -> usize {
    512
}
fn d_header_timeout() -> f64 {
    10.0
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            session_ttl_s: d_session(),
            max_body_bytes: d_body(),
            request_timeout_s: d_timeout(),
            sse_heartbeat_s: d_heartbeat(),
            max_connections: d_connections(),
            max_sse_subscribers: d_sse(),
            header_read_timeout_s: d_header_timeout(),
        }
    }
}

/// One webhook subscriber.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Stable name: keys the delivery cursor (default: the URL).
    #[serde(default)]
    pub name: Option<String>,
    /// `http://` URL (plain HTTP only in this build; put TLS in front if needed).
    pub url: String,
    /// HMAC-SHA256 key for `X-Vigil-Signature`.
    pub secret: String,
    /// Which notices to send: any of `new`, `update`, `end`, `state`.
    #[serde(default = "d_events")]
    pub events: Vec<String>,
    /// Only these cameras (empty: all).
    #[serde(default)]
    pub cameras: Vec<String>,
    #[serde(default = "d_hook_timeout")]
    pub timeout_s: f64,
    /// Cap of the exponential retry backoff.
    #[serde(default = "d_backoff")]
    pub max_backoff_s: f64,
}

fn d_events() -> Vec<String> {
    vec!["new".into(), "end".into()]
}
fn d_hook_timeout() -> f64 {
    5.0
}
fn d_backoff() -> f64 {
    60.0
}

impl WebhookConfig {
    pub fn new(url: &str, secret: &str) -> Self {
        WebhookConfig {
            name: None,
            url: url.into(),
            secret: secret.into(),
            events: d_events(),
            cameras: Vec::new(),
            timeout_s: d_hook_timeout(),
            max_backoff_s: d_backoff(),
        }
    }
    pub fn subscriber(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.url.clone())
    }
    /// Check the values serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if !self.url.starts_with("http://") {
            return Err(format!(
                "webhook url '{}': only http:// is supported",
                self.url
            ));
        }
        if self.secret.len() < 8 {
            return Err("webhook secret shorter than 8 bytes".into());
        }
        for e in &self.events {
            if !["new", "update", "end", "state"].contains(&e.as_str()) {
                return Err(format!(
                    "webhook event '{e}' is not one of new, update, end, state"
                ));
            }
        }
        if !(self.timeout_s > 0.0 && self.max_backoff_s > 0.0) {
            return Err("webhook timeout_s and max_backoff_s must be > 0".into());
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    #[serde(default)]
    pub max_age_days: Option<f64>,
    #[serde(default)]
    pub max_bytes: Option<u64>,
    #[serde(default = "d_interval")]
    pub interval_s: f64,
}

fn d_interval() -> f64 {
    300.0
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            max_age_days: None,
            max_bytes: None,
            interval_s: d_interval(),
        }
    }
}
