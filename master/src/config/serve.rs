//! The `[serve]` section: the master's HTTP server (REST API, web UI, `/metrics`).
//!
//! Safe by default: it binds to the loopback interface, and mutations (maintenance, dry-run,
//! decommission, plan approval) are refused until a bearer token is configured, inline or in a
//! file (the file is better: the config can then be world-readable).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The HTTP server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Whether the master serves HTTP at all.
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// Address and port to listen on. Loopback by default; bind a routable address only behind
    /// a proxy that does TLS.
    #[serde(default = "default_bind")]
    pub bind: SocketAddr,
    /// The bearer token that mutations need (`Authorization: Bearer <token>`). Prefer
    /// `token_file`. With neither, every mutation is refused (reads stay open).
    #[serde(default)]
    pub token: Option<String>,
    /// A file holding the bearer token (surrounding whitespace ignored), read at start-up.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            enabled: default_enabled(),
            bind: default_bind(),
            token: None,
            token_file: None,
        }
    }
}

fn default_enabled() -> bool {
    true
}

/// The default listen address: loopback, port 9464.
pub fn default_bind() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9464))
}

impl ServeConfig {
    /// Checks the section; the error names the key and the fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.token.is_some() && self.token_file.is_some() {
            return Err(
                "serve: set token or token_file, not both (token_file is better: the \
                        config file can then be readable by others)"
                    .into(),
            );
        }
        if let Some(t) = &self.token {
            check_token(t, "serve.token")?;
        }
        // The token file is read here too, so a bad one stops `check-config` and `run` before
        // anything is opened (the action log would fence the running master).
        self.resolve_token()?;
        Ok(())
    }

    /// The mutation token: `token`, or the contents of `token_file` (trimmed). `Ok(None)` when
    /// neither is set (mutations are then refused).
    pub fn resolve_token(&self) -> Result<Option<String>, String> {
        if let Some(t) = &self.token {
            return Ok(Some(t.clone()));
        }
        let Some(path) = &self.token_file else {
            return Ok(None);
        };
        let t = read_token(path)?;
        check_token(&t, &format!("serve.token_file {}", path.display()))?;
        Ok(Some(t))
    }
}

fn read_token(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| {
            format!(
                "serve.token_file {}: cannot read it: {e}; fix the path or its permissions",
                path.display()
            )
        })
}

fn check_token(t: &str, key: &str) -> Result<(), String> {
    if t.trim().len() < 16 {
        return Err(format!(
            "{key}: the token must be at least 16 characters (for example the output of \
             `openssl rand -hex 32`)"
        ));
    }
    if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{key}: the token must not contain whitespace or control characters"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_loopback_and_no_token() {
        let c = ServeConfig::default();
        assert!(c.bind.ip().is_loopback());
        assert_eq!(c.resolve_token(), Ok(None));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn bad_tokens_name_the_key() {
        let short = ServeConfig {
            token: Some("abc".into()),
            ..ServeConfig::default()
        };
        assert!(short.validate().unwrap_err().contains("serve.token"));
        let both = ServeConfig {
            token: Some("a".repeat(20)),
            token_file: Some("/x".into()),
            ..ServeConfig::default()
        };
        assert!(both.validate().unwrap_err().contains("not both"));
        let missing = ServeConfig {
            token_file: Some("/nonexistent/kmedic-token".into()),
            ..ServeConfig::default()
        };
        assert!(missing
            .resolve_token()
            .unwrap_err()
            .contains("serve.token_file /nonexistent/kmedic-token"));
    }

    /// A bad token file fails the config check, so `check-config` says so and `run` stops
    /// before it opens the action log (found by the end-to-end run: a 15-character token passed
    /// `check-config`, and `run` fenced the running master before failing on it).
    #[test]
    fn a_short_or_missing_token_file_fails_validation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("token");
        std::fs::write(&p, "0123456789abcde\n").expect("write");
        let short = ServeConfig {
            token_file: Some(p),
            ..ServeConfig::default()
        };
        assert!(short
            .validate()
            .unwrap_err()
            .contains("at least 16 characters"));
        let missing = ServeConfig {
            token_file: Some(dir.path().join("absent")),
            ..ServeConfig::default()
        };
        assert!(missing.validate().unwrap_err().contains("cannot read it"));
    }

    #[test]
    fn token_file_is_trimmed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("token");
        std::fs::write(&p, "0123456789abcdef0123\n").expect("write");
        let c = ServeConfig {
            token_file: Some(p),
            ..ServeConfig::default()
        };
        assert_eq!(c.resolve_token(), Ok(Some("0123456789abcdef0123".into())));
    }

    #[test]
    fn example_config_shows_the_defaults() {
        let example = include_str!("../../../deploy/master/master.example.toml");
        let cfg: crate::config::MasterConfig = toml::from_str(example).expect("example parses");
        assert_eq!(cfg.serve, ServeConfig::default());
    }
}
