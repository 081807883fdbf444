//! `[mqtt]` settings (the publisher is `push::mqtt`).

use serde::{Deserialize, Serialize};

/// `[mqtt]`: where and how to publish. The section's presence turns publishing on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// Broker host name or address.
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    /// Default: `vigil-<node.name>`, or `vigil-<random>` without a name.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Default: `vigil/<node.name>` (`vigil/vigil` without a name).
    #[serde(default)]
    pub topic_prefix: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// QoS of events and the status topic (0, 1 or 2).
    #[serde(default = "default_qos")]
    pub qos: u8,
    #[serde(default = "default_keep_alive")]
    pub keep_alive_s: u64,
    /// How often per-camera stats are published (0 = never).
    #[serde(default = "default_stats_interval")]
    pub stats_interval_s: f64,
    /// Cap of the reconnect backoff.
    #[serde(default = "default_reconnect_max")]
    pub reconnect_max_s: f64,
}

fn default_port() -> u16 {
    1883
}
fn default_qos() -> u8 {
    1
}
fn default_keep_alive() -> u64 {
    30
}
fn default_stats_interval() -> f64 {
    10.0
}
fn default_reconnect_max() -> f64 {
    30.0
}

fn valid_topic_part(s: &str) -> bool {
    !s.is_empty() && !s.contains(['+', '#', '\0'])
}

impl MqttConfig {
    /// A config with defaults for `host:port` (tests, programmatic use).
    pub fn new(host: &str, port: u16) -> Self {
        MqttConfig {
            host: host.into(),
            port,
            client_id: None,
            topic_prefix: None,
            username: None,
            password: None,
            qos: default_qos(),
            keep_alive_s: default_keep_alive(),
            stats_interval_s: default_stats_interval(),
            reconnect_max_s: default_reconnect_max(),
        }
    }

    /// `Err((field, reason))`.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |f: &str, r: String| Err((f.to_string(), r));
        if self.host.trim().is_empty() {
            return bad("host", "must not be empty".into());
        }
        if self.port == 0 {
            return bad("port", "must be 1..65535".into());
        }
        if self.qos > 2 {
            return bad("qos", format!("must be 0, 1 or 2, got {}", self.qos));
        }
        if !(5..=3600).contains(&self.keep_alive_s) {
            return bad(
                "keep_alive_s",
                format!("must be within 5..3600 s, got {}", self.keep_alive_s),
            );
        }
        if !(self.stats_interval_s == 0.0
            || (self.stats_interval_s >= 1.0 && self.stats_interval_s.is_finite()))
        {
            return bad(
                "stats_interval_s",
                format!("must be 0 or at least 1 s, got {}", self.stats_interval_s),
            );
        }
        if !(self.reconnect_max_s >= 0.5 && self.reconnect_max_s <= 3600.0) {
            return bad(
                "reconnect_max_s",
                format!("must be within 0.5..3600 s, got {}", self.reconnect_max_s),
            );
        }
        if let Some(p) = &self.topic_prefix {
            if !valid_topic_part(p) || p.starts_with('/') || p.ends_with('/') {
                return bad(
                    "topic_prefix",
                    "must be non-empty, without '+', '#' or a leading/trailing '/'".into(),
                );
            }
        }
        if let Some(id) = &self.client_id {
            if id.is_empty() || id.len() > 128 {
                return bad("client_id", "must be 1..128 characters".into());
            }
        }
        if self.password.is_some() && self.username.is_none() {
            return bad("password", "needs a username".into());
        }
        Ok(())
    }

    /// The topic prefix for a node called `node_name`.
    pub fn prefix(&self, node_name: Option<&str>) -> String {
        match &self.topic_prefix {
            Some(p) => p.clone(),
            None => format!("vigil/{}", node_name.unwrap_or("vigil")),
        }
    }
}
