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
    /// SRT listener, pulled inputs and push outputs.
    pub srt: SrtConfig,
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
    /// A player whose socket accepts no byte for this long (ms) is disconnected and counted.
    pub write_timeout_ms: u64,
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
            write_timeout_ms: 10_000,
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
    /// A client that accepts no byte of a response for this long (ms) is disconnected and
    /// counted (a stalled HTTP-FLV viewer, say).
    pub write_timeout_ms: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            cors_allow_origin: "*".into(),
            write_timeout_ms: 10_000,
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
    /// LL-HLS part target, in ms.
    pub part_target_ms: u64,
    /// What `/APP/STREAM/index.m3u8` serves.
    pub default_variant: HlsVariant,
    /// Low-latency DASH (announce and stream the segment being written).
    pub dash_low_latency: bool,
}

/// The HLS flavour behind `index.m3u8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum HlsVariant {
    /// MPEG-TS segments (`ts.m3u8`).
    #[default]
    Ts,
    /// fMP4 segments (`fmp4.m3u8`).
    Fmp4,
    /// Low-Latency HLS (`ll.m3u8`).
    Ll,
}

impl Default for HlsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            target_duration_ms: 2000,
            window_segments: 6,
            max_stream_bytes: 64 * 1024 * 1024,
            idle_timeout_ms: 30_000,
            part_target_ms: 334,
            default_variant: HlsVariant::Ts,
            dash_low_latency: false,
        }
    }
}

/// `[srt]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SrtConfig {
    /// Whether to listen.
    pub enabled: bool,
    /// Listen address (UDP).
    pub listen: SocketAddr,
    /// Receiver latency (TSBPD delay), in ms.
    pub latency_ms: u32,
    /// Passphrase for AES encryption; empty for none.
    pub passphrase: String,
    /// AES key length in bytes (16, 24 or 32).
    pub pbkeylen: u8,
    /// Connection limit.
    pub max_connections: usize,
    /// A publisher that sends nothing for this long (ms) is disconnected.
    pub idle_timeout_ms: u64,
    /// Per-path overrides of latency and passphrase.
    pub paths: Vec<SrtPathConfig>,
    /// Remote SRT sources pulled into local paths.
    pub pull: Vec<SrtPullConfig>,
    /// Local paths pushed to remote SRT listeners.
    pub push: Vec<SrtPushConfig>,
}

impl Default for SrtConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([0, 0, 0, 0], 8890)),
            latency_ms: 120,
            passphrase: String::new(),
            pbkeylen: 16,
            max_connections: 1024,
            idle_timeout_ms: 10_000,
            paths: Vec::new(),
            pull: Vec::new(),
            push: Vec::new(),
        }
    }
}

/// `[[srt.paths]]`: settings for the streams a pattern matches.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SrtPathConfig {
    /// `app/stream` exactly, or a prefix ending in `/*` (`live/*`).
    pub path: String,
    /// Latency for these streams, in ms.
    #[serde(default)]
    pub latency_ms: Option<u32>,
    /// Passphrase for these streams; empty string for none (overriding a global one).
    #[serde(default)]
    pub passphrase: Option<String>,
}

impl SrtPathConfig {
    /// True when the pattern matches `path`.
    pub fn matches(&self, path: &str) -> bool {
        match self.path.strip_suffix("/*") {
            Some(prefix) => path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/')),
            None => self.path == path,
        }
    }
}

/// `[[srt.pull]]`: a remote SRT source published into a local path.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SrtPullConfig {
    /// `srt://host:port?streamid=...` (caller mode).
    pub url: String,
    /// Local path (`app/stream`).
    pub path: String,
}

/// `[[srt.push]]`: a local path sent to a remote SRT listener while it is live.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SrtPushConfig {
    /// Local path (`app/stream`).
    pub path: String,
    /// `srt://host:port?streamid=...` (caller mode).
    pub url: String,
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
        for (key, v) in [
            ("rtmp.write_timeout_ms", self.rtmp.write_timeout_ms),
            ("http.write_timeout_ms", self.http.write_timeout_ms),
        ] {
            if !(100..=600_000).contains(&v) {
                return bad(key, format!("{v} is outside 100..=600000"));
            }
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
        let passphrase_ok = |p: &str| p.is_empty() || (10..=79).contains(&p.len());
        if !passphrase_ok(&self.srt.passphrase) {
            return bad(
                "srt.passphrase",
                "must be empty or 10 to 79 characters".into(),
            );
        }
        if ![16, 24, 32].contains(&self.srt.pbkeylen) {
            return bad(
                "srt.pbkeylen",
                format!("{} is not 16, 24 or 32", self.srt.pbkeylen),
            );
        }
        if self.srt.latency_ms > 60_000 {
            return bad(
                "srt.latency_ms",
                format!("{} is above 60000", self.srt.latency_ms),
            );
        }
        if self.srt.max_connections == 0 {
            return bad("srt.max_connections", "must be at least 1".into());
        }
        for (i, p) in self.srt.paths.iter().enumerate() {
            if p.path.is_empty() || p.path.starts_with('/') {
                return bad(
                    &format!("srt.paths[{i}].path"),
                    format!("{:?} is not app/stream or app/*", p.path),
                );
            }
            if p.passphrase.as_deref().is_some_and(|s| !passphrase_ok(s)) {
                return bad(
                    &format!("srt.paths[{i}].passphrase"),
                    "must be empty or 10 to 79 characters".into(),
                );
            }
        }
        for (i, p) in self.srt.pull.iter().enumerate() {
            if !p.url.starts_with("srt://") {
                return bad(
                    &format!("srt.pull[{i}].url"),
                    "must start with srt://".into(),
                );
            }
        }
        for (i, p) in self.srt.push.iter().enumerate() {
            if !p.url.starts_with("srt://") {
                return bad(
                    &format!("srt.push[{i}].url"),
                    "must start with srt://".into(),
                );
            }
        }
        if !(100..=2000).contains(&self.hls.part_target_ms) {
            return bad(
                "hls.part_target_ms",
                format!("{} is outside 100..=2000", self.hls.part_target_ms),
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
    fn srt_sections() {
        let cfg = Config::from_toml(
            "[srt]\npassphrase = \"0123456789\"\n\
             [[srt.paths]]\npath = \"live/*\"\nlatency_ms = 500\n\
             [[srt.paths]]\npath = \"open/a\"\npassphrase = \"\"\n\
             [[srt.pull]]\nurl = \"srt://10.0.0.1:9000?streamid=read:cam\"\npath = \"live/cam\"\n",
        )
        .unwrap();
        assert!(cfg.srt.paths[0].matches("live/venue"));
        assert!(!cfg.srt.paths[0].matches("livex/venue"));
        assert!(cfg.srt.paths[1].matches("open/a"));
        assert_eq!(cfg.srt.pull[0].path, "live/cam");
        let e = Config::from_toml("[srt]\npassphrase = \"short\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("srt.passphrase"), "{e}");
        let e = Config::from_toml("[[srt.push]]\npath = \"a/b\"\nurl = \"rtmp://x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("srt.push[0].url"), "{e}");
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
