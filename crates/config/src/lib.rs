//! Weir configuration: one schema, and an embedded default file that documents every key.
//!
//! [`DEFAULT_TOML`] is the file `weir config default` prints; a test proves it parses to
//! [`Config::default()`]. Errors name the key path (`rtmp.listen: invalid socket address`).

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

/// The default configuration file, with every key commented.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// TOML syntax error.
    #[error("config syntax error: {0}")]
    Syntax(String),
    /// A key has the wrong type or is unknown.
    #[error("config key {key}: {message}")]
    Key {
        /// Dotted key path.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Logging.
    pub log: LogConfig,
    /// Process-wide settings.
    pub server: ServerConfig,
    /// RTMP listener.
    pub rtmp: RtmpConfig,
    /// HTTP listener.
    pub http: HttpConfig,
    /// Stream hub buffers.
    pub hub: HubConfig,
    /// HLS packaging.
    pub hls: HlsConfig,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Minimum level.
    pub level: String,
    /// Output format.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Grace period on shutdown, in ms.
    pub drain_timeout_ms: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            drain_timeout_ms: 5000,
        }
    }
}

/// `[rtmp]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RtmpConfig {
    /// Whether to listen.
    pub enabled: bool,
    /// Listen address.
    pub listen: SocketAddr,
    /// Outgoing chunk size.
    pub chunk_size: u32,
    /// Connection limit.
    pub max_connections: usize,
    /// Handshake + connect deadline, in ms.
    pub handshake_timeout_ms: u64,
    /// Publisher inactivity limit, in ms.
    pub idle_timeout_ms: u64,
}

impl Default for RtmpConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([0, 0, 0, 0], 1935)),
            chunk_size: 4096,
            max_connections: 4096,
            handshake_timeout_ms: 10_000,
            idle_timeout_ms: 30_000,
        }
    }
}

/// `[http]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Whether to listen.
    pub enabled: bool,
    /// Listen address.
    pub listen: SocketAddr,
    /// Access-Control-Allow-Origin value.
    pub cors_allow_origin: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            cors_allow_origin: "*".into(),
        }
    }
}

/// `[hub]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HubConfig {
    /// Fan-out ring capacity, in frames.
    pub queue_frames: usize,
    /// GOP cache frame limit.
    pub gop_max_frames: usize,
    /// GOP cache byte limit.
    pub gop_max_bytes: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            queue_frames: 512,
            gop_max_frames: 1500,
            gop_max_bytes: 32 * 1024 * 1024,
        }
    }
}

/// `[hls]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HlsConfig {
    /// Whether to package HLS.
    pub enabled: bool,
    /// Target segment duration, in ms.
    pub target_duration_ms: u64,
    /// Segments in the playlist.
    pub window_segments: usize,
    /// Memory bound per stream, in bytes.
    pub max_stream_bytes: usize,
    /// How long a playlist outlives its publisher, in ms.
    pub idle_timeout_ms: u64,
}

impl Default for HlsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            target_duration_ms: 2000,
            window_segments: 6,
            max_stream_bytes: 64 * 1024 * 1024,
            idle_timeout_ms: 30_000,
        }
    }
}

impl Config {
    /// Parses a TOML document and validates it.
    pub fn from_toml(s: &str) -> Result<Config, ConfigError> {
        let de = toml::Deserializer::parse(s).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        let cfg: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let message = e.inner().message().to_owned();
            ConfigError::Key { key, message }
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let s = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&s)
    }

    /// Checks ranges that the types alone do not.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| {
            Err(ConfigError::Key {
                key: key.into(),
                message,
            })
        };
        if !["error", "warn", "info", "debug", "trace"].contains(&self.log.level.as_str()) {
            return bad(
                "log.level",
                format!(
                    "{:?} is not one of error, warn, info, debug, trace",
                    self.log.level
                ),
            );
        }
        if !(128..=65536).contains(&self.rtmp.chunk_size) {
            return bad(
                "rtmp.chunk_size",
                format!("{} is outside 128..=65536", self.rtmp.chunk_size),
            );
        }
        if self.rtmp.max_connections == 0 {
            return bad("rtmp.max_connections", "must be at least 1".into());
        }
        if !(2..=1 << 16).contains(&self.hub.queue_frames) {
            return bad(
                "hub.queue_frames",
                format!("{} is outside 2..=65536", self.hub.queue_frames),
            );
        }
        if !(500..=30_000).contains(&self.hls.target_duration_ms) {
            return bad(
                "hls.target_duration_ms",
                format!("{} is outside 500..=30000", self.hls.target_duration_ms),
            );
        }
        if !(2..=100).contains(&self.hls.window_segments) {
            return bad(
                "hls.window_segments",
                format!("{} is outside 2..=100", self.hls.window_segments),
            );
        }
        if self.hls.max_stream_bytes < 1024 * 1024 {
            return bad(
                "hls.max_stream_bytes",
                "must be at least 1048576 (1 MiB)".into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_file_is_the_default() {
        assert_eq!(Config::from_toml(DEFAULT_TOML).unwrap(), Config::default());
    }

    #[test]
    fn empty_file_is_the_default() {
        assert_eq!(Config::from_toml("").unwrap(), Config::default());
    }

    #[test]
    fn errors_name_the_key() {
        let e = Config::from_toml("[rtmp]\nlisten = \"nope\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("rtmp.listen"), "{e}");
        let e = Config::from_toml("[hls]\nwindow_segments = \"6\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("hls.window_segments"), "{e}");
        let e = Config::from_toml("[rtmp]\nbogus = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bogus"), "{e}");
        let e = Config::from_toml("[rtmp]\nchunk_size = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("rtmp.chunk_size"), "{e}");
        let e = Config::from_toml("[log]\nlevel = \"loud\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("log.level"), "{e}");
        assert!(matches!(
            Config::from_toml("[rtmp"),
            Err(ConfigError::Syntax(_))
        ));
    }

    #[test]
    fn every_default_key_is_commented() {
        let lines: Vec<&str> = DEFAULT_TOML.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.contains(" = ") && !line.starts_with('#') {
                let prev = lines[..i]
                    .iter()
                    .rev()
                    .find(|l| !l.contains(" = ") || l.starts_with('#'));
                assert!(
                    prev.is_some_and(|p| p.starts_with('#')),
                    "key without a comment: {line}"
                );
            }
        }
    }
}
