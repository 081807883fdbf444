//! `[evidence]` settings: encryption at rest (the sealing itself is `evidence::crypt`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// How evidence is stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encrypt {
    #[default]
    None,
    Sm4,
}

/// `[evidence]`: encryption at rest. With `encrypt = "none"` a configured key is still loaded
/// so that evidence sealed earlier stays downloadable.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceConfig {
    #[serde(default)]
    pub encrypt: Encrypt,
    /// File holding the key as 32 hex digits (relative paths: against the config file).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Environment variable holding the key as 32 hex digits (e.g. `VIGIL_SM4_KEY`).
    #[serde(default)]
    pub key_env: Option<String>,
    /// With `encrypt = "sm4"`, still serve evidence files that are not sealed (written before
    /// encryption was turned on). Off by default: a plain file where a sealed one should be is
    /// refused as tampered.
    #[serde(default)]
    pub allow_unsealed: bool,
}

impl EvidenceConfig {
    /// Whether the API must refuse an unsealed evidence file.
    pub fn require_sealed(&self) -> bool {
        self.encrypt == Encrypt::Sm4 && !self.allow_unsealed
    }
}

fn cfg_err(field: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Node {
        field: format!("evidence.{field}"),
        reason: reason.into(),
    }
}

impl EvidenceConfig {
    /// Structural checks (no file or environment access).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.key_file.is_some() && self.key_env.is_some() {
            return Err(cfg_err("key_file", "set key_file or key_env, not both"));
        }
        if self.encrypt == Encrypt::Sm4 && self.key_file.is_none() && self.key_env.is_none() {
            return Err(cfg_err(
                "encrypt",
                "\"sm4\" needs a key: key_file = \"…\" or key_env = \"VIGIL_SM4_KEY\"",
            ));
        }
        if let Some(v) = &self.key_env {
            if v.is_empty() || v.contains('=') || v.contains('\0') {
                return Err(cfg_err("key_env", "not a valid environment variable name"));
            }
        }
        Ok(())
    }
}
