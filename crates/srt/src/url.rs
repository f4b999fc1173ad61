//! `srt://host:port?streamid=...&latency=...&passphrase=...&pbkeylen=...` addresses for the
//! caller side (pulled inputs and push destinations), parsed without I/O.
//!
//! Query keys follow libsrt's own URI convention (as `srt-live-transmit` uses it): `latency`
//! is in **milliseconds** (ffmpeg's `latency` option is in microseconds: do not copy it
//! across), `passphrase`, `pbkeylen` (16, 24 or 32), `streamid` (percent-encoded where
//! needed, e.g. `%23!::r=live/x,m=request`), and `conntimeo` in milliseconds. `mode=caller`
//! is accepted; other modes are refused. Unknown keys are errors, so a typo is not silently
//! ignored.

use std::time::Duration;

use crate::SrtOptions;

/// A parsed `srt://` caller address. The host is not resolved here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtUrl {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// UDP port.
    pub port: u16,
    /// The streamid to send, possibly empty.
    pub streamid: String,
    /// Latency and encryption.
    pub options: SrtOptions,
    /// Handshake timeout.
    pub connect_timeout: Duration,
}

/// Why an `srt://` address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid SRT URL: {0}")]
pub struct SrtUrlError(String);

fn err<T>(msg: impl Into<String>) -> Result<T, SrtUrlError> {
    Err(SrtUrlError(msg.into()))
}

impl SrtUrl {
    /// Parses an `srt://` URL.
    pub fn parse(url: &str) -> Result<Self, SrtUrlError> {
        let Some(rest) = url.strip_prefix("srt://") else {
            return err("must start with srt://");
        };
        let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
        let authority = authority.trim_end_matches('/');
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let Some((host, port)) = v6.split_once("]:") else {
                return err("IPv6 host needs [addr]:port");
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some(hp) => hp,
                None => return err("missing :port"),
            }
        };
        if host.is_empty() {
            return err("missing host (a caller needs one)");
        }
        let port: u16 = match port.parse() {
            Ok(p) if p != 0 => p,
            _ => return err(format!("bad port {port:?}")),
        };
        let mut out = SrtUrl {
            host: host.to_owned(),
            port,
            streamid: String::new(),
            options: SrtOptions::default(),
            connect_timeout: Duration::from_secs(3),
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = crate::streamid::percent_decode(value)
                .ok_or_else(|| SrtUrlError("bad percent-encoding".into()))?;
            let number = |what: &str| -> Result<u32, SrtUrlError> {
                value
                    .parse()
                    .map_err(|_| SrtUrlError(format!("{what} must be a number, not {value:?}")))
            };
            match key {
                "streamid" => out.streamid = value.clone(),
                "latency" => out.options.latency_ms = number("latency")?,
                "passphrase" => {
                    if !(10..=79).contains(&value.len()) {
                        return err("passphrase must be 10 to 79 characters");
                    }
                    out.options.passphrase = Some(value.clone());
                }
                "pbkeylen" => match number("pbkeylen")? {
                    n @ (16 | 24 | 32) => out.options.pbkeylen = n as u8,
                    n => return err(format!("pbkeylen must be 16, 24 or 32, not {n}")),
                },
                "conntimeo" => {
                    out.connect_timeout = Duration::from_millis(u64::from(number("conntimeo")?))
                }
                "mode" if value == "caller" => {}
                "mode" => return err(format!("mode {value:?}: only caller is supported here")),
                _ => return err(format!("unknown parameter {key:?}")),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_parameter() {
        let u = SrtUrl::parse(
            "srt://example.com:9000?streamid=%23!::r=live/x,m=request&latency=250\
             &passphrase=0123456789ab&pbkeylen=32&conntimeo=1500&mode=caller",
        )
        .unwrap();
        assert_eq!((u.host.as_str(), u.port), ("example.com", 9000));
        assert_eq!(u.streamid, "#!::r=live/x,m=request");
        assert_eq!(u.options.latency_ms, 250);
        assert_eq!(u.options.passphrase.as_deref(), Some("0123456789ab"));
        assert_eq!(u.options.pbkeylen, 32);
        assert_eq!(u.connect_timeout, Duration::from_millis(1500));
        let u = SrtUrl::parse("srt://[::1]:8890/?streamid=read:live/a").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.streamid.as_str()),
            ("::1", 8890, "read:live/a")
        );
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        for bad in [
            "rtmp://a:1",
            "srt://:8890",
            "srt://host",
            "srt://host:0",
            "srt://host:99999",
            "srt://host:1?latency=abc",
            "srt://host:1?pbkeylen=8",
            "srt://host:1?passphrase=short",
            "srt://host:1?mode=listener",
            "srt://host:1?latncy=200",
            "srt://host:1?streamid=%zz",
        ] {
            assert!(SrtUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
