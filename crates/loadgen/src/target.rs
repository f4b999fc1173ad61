//! What the players connect to: an `rtmp://` or `http://…flv` URL, resolved once, and the
//! loopback rule.

use std::net::SocketAddr;

use weir_rtmp::RtmpUrl;

/// A player protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// RTMP play.
    Rtmp,
    /// HTTP-FLV: one long GET.
    HttpFlv,
    /// HLS: a playlist poller fetching MPEG-TS segments, or (`ll.m3u8`) LL-HLS parts.
    Hls,
}

impl Protocol {
    /// Short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Rtmp => "rtmp",
            Protocol::HttpFlv => "http-flv",
            Protocol::Hls => "hls",
        }
    }
}

/// A parsed target URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL as given.
    pub url: String,
    /// Protocol, from the scheme.
    pub protocol: Protocol,
    /// Host as written (without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// For HTTP, the request target (`/live/x.flv?query`); for RTMP, empty.
    pub path: String,
    /// For RTMP, the split URL.
    pub rtmp: Option<RtmpUrl>,
    /// For HLS, an LL-HLS playlist (`ll.m3u8`): blocking reloads and parts.
    pub ll: bool,
    /// Players of this target stall: once the server accepts the play they read nothing more
    /// (the overload case). Set by the run, not by the URL.
    pub stall: bool,
}

/// Why a target cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not a URL this load generator can play.
    #[error("{0}")]
    Url(String),
    /// The host does not resolve.
    #[error("cannot resolve {host}: {reason}")]
    Resolve {
        /// The host.
        host: String,
        /// Why.
        reason: String,
    },
    /// The host is not on loopback and `--allow-remote` was not given.
    #[error(
        "{host} resolves to {addr}, which is not a loopback address; pass --allow-remote to load a remote server"
    )]
    NotLoopback {
        /// The host.
        host: String,
        /// The address it resolved to.
        addr: SocketAddr,
    },
}

impl Target {
    /// Short name for reports: the protocol (`ll-hls` for LL-HLS), `+stalled` for stalling
    /// players.
    pub fn name(&self) -> String {
        let p = if self.ll {
            "ll-hls"
        } else {
            self.protocol.name()
        };
        if self.stall {
            format!("{p}+stalled")
        } else {
            p.to_owned()
        }
    }

    /// Parses `rtmp://host[:port]/app/stream` or `http://host[:port]/path.flv`.
    pub fn parse(url: &str) -> Result<Target, TargetError> {
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("rtmp://") {
            let r = RtmpUrl::parse(url).map_err(|e| TargetError::Url(e.to_string()))?;
            return Ok(Target {
                url: url.to_owned(),
                protocol: Protocol::Rtmp,
                host: r.host.clone(),
                port: r.port,
                path: String::new(),
                rtmp: Some(r),
                ll: false,
                stall: false,
            });
        }
        let Some(rest) = lower.starts_with("http://").then(|| &url[7..]) else {
            return Err(TargetError::Url(format!(
                "{url}: only rtmp:// and http:// (HTTP-FLV) URLs are supported"
            )));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let bad = || TargetError::Url(format!("{url}: bad host or port"));
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(bad)?;
            (h, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port = match port {
            Some(p) => p.parse().ok().filter(|&p: &u16| p != 0).ok_or_else(bad)?,
            None => 80,
        };
        if host.is_empty() {
            return Err(bad());
        }
        let file = path.split('?').next().unwrap_or_default();
        if file.ends_with(".mpd") {
            return Err(TargetError::Url(format!(
                "{url}: DASH pollers are not implemented yet (HTTP-FLV and HLS are)"
            )));
        }
        let hls = file.ends_with(".m3u8");
        Ok(Target {
            url: url.to_owned(),
            protocol: if hls {
                Protocol::Hls
            } else {
                Protocol::HttpFlv
            },
            ll: hls && file.rsplit('/').next() == Some("ll.m3u8"),
            host: host.to_owned(),
            port,
            path: path.to_owned(),
            rtmp: None,
            stall: false,
        })
    }

    /// Resolves the host; refuses non-loopback addresses unless `allow_remote`.
    pub async fn resolve(&self, allow_remote: bool) -> Result<SocketAddr, TargetError> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|e| TargetError::Resolve {
                host: self.host.clone(),
                reason: e.to_string(),
            })?
            .collect();
        let first = *addrs.first().ok_or_else(|| TargetError::Resolve {
            host: self.host.clone(),
            reason: "no addresses".into(),
        })?;
        if !allow_remote && let Some(a) = addrs.iter().find(|a| !a.ip().is_loopback()) {
            return Err(TargetError::NotLoopback {
                host: self.host.clone(),
                addr: *a,
            });
        }
        Ok(first)
    }

    /// The `Host` header value.
    pub fn host_header(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_kinds() {
        let t = Target::parse("rtmp://127.0.0.1:1935/live/x").unwrap();
        assert_eq!(t.protocol, Protocol::Rtmp);
        assert_eq!(t.rtmp.unwrap().stream, "x");
        let t = Target::parse("http://127.0.0.1:8080/live/x.flv?a=1").unwrap();
        assert_eq!(
            (t.protocol, t.host.as_str(), t.port, t.path.as_str()),
            (Protocol::HttpFlv, "127.0.0.1", 8080, "/live/x.flv?a=1")
        );
        let t = Target::parse("http://[::1]/x.flv").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 80));
        assert_eq!(t.host_header(), "[::1]:80");
        assert!(Target::parse("srt://h:1").is_err());
        let t = Target::parse("http://h/live/x/index.m3u8").unwrap();
        assert_eq!(
            (t.protocol, t.ll, t.name().as_str()),
            (Protocol::Hls, false, "hls")
        );
        let t = Target::parse("http://h/live/x/ll.m3u8?x=1").unwrap();
        assert_eq!(
            (t.protocol, t.ll, t.name().as_str()),
            (Protocol::Hls, true, "ll-hls")
        );
        assert!(Target::parse("http://h/live/x/index.mpd").is_err());
        assert!(Target::parse("http://h:99999/x.flv").is_err());
    }

    #[tokio::test]
    async fn loopback_only_unless_allowed() {
        let t = Target::parse("http://127.0.0.1:8080/x.flv").unwrap();
        assert!(t.resolve(false).await.is_ok());
        let t = Target::parse("http://192.0.2.1:8080/x.flv").unwrap();
        assert!(matches!(
            t.resolve(false).await,
            Err(TargetError::NotLoopback { .. })
        ));
        assert!(t.resolve(true).await.is_ok());
    }
}
