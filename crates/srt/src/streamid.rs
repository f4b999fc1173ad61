//! The SRT `streamid`: what a caller asks for, parsed without I/O.
//!
//! Two syntaxes are accepted:
//!
//! - the SRT Access Control syntax (SRT RFC draft, section "Stream ID"; Haivision's
//!   `AccessControl.md`): `#!::r=live/venue,m=publish,u=alice`. Keys: `r` resource (required),
//!   `m` mode (`request` (default) or `publish`; `bidirectional` is refused), `u` user, `s`
//!   session, `t` type (`stream` only), `h` host. Unknown keys are ignored, as the spec allows.
//! - the short forms `publish:live/venue` and `read:live/venue` (also `play:`/`request:`).
//!
//! A bare `live/venue` is a read request (the spec's default mode). The resource may carry a
//! query (`publish:live/venue?key=...`), kept in [`StreamId::query`] for access control.

use crate::RejectReason;

/// Longest streamid SRT carries (the handshake extension holds at most 512 bytes).
pub const MAX_STREAMID_LEN: usize = 512;

/// What the caller wants to do with the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Send media into the server (`m=publish`).
    Publish,
    /// Receive media from the server (`m=request`, `read:`).
    Read,
}

/// A parsed streamid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamId {
    /// Publish or read.
    pub mode: Mode,
    /// The resource name (`live/venue`), without any query.
    pub resource: String,
    /// The query string after `?` in the resource, without the `?` (empty when none).
    pub query: String,
    /// The `u=` user name, if any.
    pub user: Option<String>,
    /// The `s=` session id, if any.
    pub session: Option<String>,
}

/// Why a streamid was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamIdError {
    /// No streamid was sent.
    #[error("empty streamid")]
    Empty,
    /// Longer than [`MAX_STREAMID_LEN`].
    #[error("streamid longer than {MAX_STREAMID_LEN} bytes")]
    TooLong,
    /// Not UTF-8, a key without `=`, a repeated key, or no resource.
    #[error("malformed streamid: {0}")]
    Syntax(String),
    /// `m=` names a mode Weir does not serve.
    #[error("unsupported mode {0:?}")]
    Mode(String),
    /// `t=` names a type other than `stream`.
    #[error("unsupported type {0:?}")]
    Type(String),
}

impl StreamIdError {
    /// The SRT rejection reason that matches this error.
    pub fn reject_reason(&self) -> RejectReason {
        match self {
            Self::Mode(_) => RejectReason::BadMode,
            Self::Type(_) => RejectReason::UnsupportedMedia,
            _ => RejectReason::BadRequest,
        }
    }
}

impl StreamId {
    /// Parses a streamid as received in the handshake.
    pub fn parse(raw: &str) -> Result<Self, StreamIdError> {
        if raw.is_empty() {
            return Err(StreamIdError::Empty);
        }
        if raw.len() > MAX_STREAMID_LEN {
            return Err(StreamIdError::TooLong);
        }
        if raw.chars().any(char::is_control) {
            return Err(StreamIdError::Syntax("control character".into()));
        }
        // Some tools send the streamid percent-encoded as it was written in a URL.
        let decoded;
        let raw = if raw.starts_with("%23!::") {
            decoded =
                percent_decode(raw).ok_or_else(|| StreamIdError::Syntax("bad %-escape".into()))?;
            decoded.as_str()
        } else {
            raw
        };
        if let Some(body) = raw.strip_prefix("#!::") {
            return Self::parse_keyed(body);
        }
        let (mode, rest) = match raw.split_once(':') {
            Some((m, rest)) => (short_mode(m)?, rest),
            None => (Mode::Read, raw),
        };
        Self::new(mode, rest, None, None)
    }

    fn parse_keyed(body: &str) -> Result<Self, StreamIdError> {
        let (mut resource, mut mode, mut user, mut session) = (None, None, None, None);
        for pair in body.split(',') {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| StreamIdError::Syntax(format!("{pair:?} is not key=value")))?;
            let slot = match key {
                "r" => &mut resource,
                "m" => &mut mode,
                "u" => &mut user,
                "s" => &mut session,
                "t" => {
                    if value != "stream" {
                        return Err(StreamIdError::Type(value.to_owned()));
                    }
                    continue;
                }
                _ => continue,
            };
            if slot.replace(value.to_owned()).is_some() {
                return Err(StreamIdError::Syntax(format!("key {key:?} repeated")));
            }
        }
        let mode = match mode.as_deref() {
            None | Some("request") => Mode::Read,
            Some("publish") => Mode::Publish,
            Some(other) => return Err(StreamIdError::Mode(other.to_owned())),
        };
        let resource = resource.ok_or_else(|| StreamIdError::Syntax("no r= resource".into()))?;
        Self::new(mode, &resource, user, session)
    }

    fn new(
        mode: Mode,
        resource: &str,
        user: Option<String>,
        session: Option<String>,
    ) -> Result<Self, StreamIdError> {
        let (path, query) = resource.split_once('?').unwrap_or((resource, ""));
        let path = path.trim_matches('/');
        if path.is_empty() {
            return Err(StreamIdError::Syntax("empty resource".into()));
        }
        Ok(Self {
            mode,
            resource: path.to_owned(),
            query: query.to_owned(),
            user,
            session,
        })
    }
}

/// Decodes `%XX` escapes; `None` when one is malformed or the result is not UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn short_mode(m: &str) -> Result<Mode, StreamIdError> {
    match m {
        "publish" => Ok(Mode::Publish),
        "read" | "play" | "request" => Ok(Mode::Read),
        other => Err(StreamIdError::Mode(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> StreamId {
        StreamId::parse(raw).unwrap_or_else(|e| panic!("{raw:?}: {e}"))
    }

    #[test]
    fn short_forms() {
        let s = ok("publish:live/venue");
        assert_eq!((s.mode, s.resource.as_str()), (Mode::Publish, "live/venue"));
        let s = ok("read:live/venue?token=abc");
        assert_eq!(
            (s.mode, s.resource.as_str(), s.query.as_str()),
            (Mode::Read, "live/venue", "token=abc")
        );
        assert_eq!(ok("live/venue").mode, Mode::Read);
        assert_eq!(ok("play:/live/venue/").resource, "live/venue");
    }

    #[test]
    fn access_control_syntax() {
        let s = ok("#!::r=live/venue,m=publish,u=alice,s=42,t=stream,h=example.com,x=ignored");
        assert_eq!(s.mode, Mode::Publish);
        assert_eq!(s.resource, "live/venue");
        assert_eq!(s.user.as_deref(), Some("alice"));
        assert_eq!(s.session.as_deref(), Some("42"));
        let s = ok("#!::m=request,r=live/venue");
        assert_eq!(s.mode, Mode::Read);
        assert_eq!(ok("#!::r=a/b").mode, Mode::Read);
        let s = ok("%23!::r=live/venue%2Cm=publish");
        assert_eq!((s.mode, s.resource.as_str()), (Mode::Publish, "live/venue"));
    }

    #[test]
    fn rejections_map_to_reasons() {
        let cases = [
            ("", RejectReason::BadRequest),
            ("#!::m=publish", RejectReason::BadRequest),
            ("#!::r", RejectReason::BadRequest),
            ("#!::r=a,r=b", RejectReason::BadRequest),
            ("#!::r=a,m=bidirectional", RejectReason::BadMode),
            ("#!::r=a,t=file", RejectReason::UnsupportedMedia),
            ("delete:live/x", RejectReason::BadMode),
            ("publish:", RejectReason::BadRequest),
            ("publish:live/\u{1}", RejectReason::BadRequest),
            ("%23!::r=live/x%2", RejectReason::BadRequest),
        ];
        for (raw, reason) in cases {
            let err = StreamId::parse(raw).expect_err(raw);
            assert_eq!(err.reject_reason(), reason, "{raw:?}: {err}");
        }
        let long = format!("publish:{}", "a".repeat(MAX_STREAMID_LEN));
        assert_eq!(StreamId::parse(&long), Err(StreamIdError::TooLong));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(raw in ".{0,600}") {
            let _ = StreamId::parse(&raw);
        }
    }
}
