//! A minimal HTTP/1.1 response reader, sans-IO: the response head, then a body framed by
//! chunked transfer encoding, `Content-Length`, or the end of the connection.
//!
//! Enough for HTTP-FLV (a chunked, endless body) and, later, HLS pollers (playlists and
//! segments with a length). Not a general client: no redirects, no keep-alive bookkeeping.

/// Longest response head accepted.
pub const MAX_HEAD: usize = 16 * 1024;

/// Why a response could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// No end of the head within [`MAX_HEAD`] bytes.
    #[error("response head longer than {MAX_HEAD} bytes")]
    HeadTooLong,
    /// The status line is not `HTTP/1.x NNN ...`.
    #[error("bad status line {0:?}")]
    BadStatusLine(String),
    /// A bad chunk-size line or chunk terminator.
    #[error("bad chunked encoding: {0}")]
    BadChunk(&'static str),
}

/// How the body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// `Content-Length`.
    Length(u64),
    /// Until the server closes the connection.
    Close,
}

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// Status code.
    pub status: u16,
    /// Body framing.
    pub framing: Framing,
    /// `Content-Type`, if sent.
    pub content_type: Option<String>,
}

/// Parses the head at the start of `buf`: `Ok(None)` when it is not complete yet, else the
/// head and its length in bytes (the body starts there).
pub fn parse_head(buf: &[u8]) -> Result<Option<(ResponseHead, usize)>, HttpError> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > MAX_HEAD {
            return Err(HttpError::HeadTooLong);
        }
        return Ok(None);
    };
    if end > MAX_HEAD {
        return Err(HttpError::HeadTooLong);
    }
    let text = String::from_utf8_lossy(&buf[..end]);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.split_whitespace();
    let status = match (parts.next(), parts.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/1.") && code.len() == 3 => code.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| HttpError::BadStatusLine(status_line.to_owned()))?;
    let mut framing = Framing::Close;
    let mut content_type = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            if value.to_ascii_lowercase().contains("chunked") {
                framing = Framing::Chunked;
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            if framing != Framing::Chunked
                && let Ok(n) = value.parse()
            {
                framing = Framing::Length(n);
            }
        } else if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.to_owned());
        }
    }
    Ok(Some((
        ResponseHead {
            status,
            framing,
            content_type,
        },
        end + 4,
    )))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading the hex size (`digits` read so far).
    Size { size: u64, digits: u8 },
    /// Skipping a chunk extension up to CR.
    Ext { size: u64 },
    /// Expecting LF after the size line.
    SizeLf { size: u64 },
    /// Chunk data left.
    Data(u64),
    /// Expecting CR after the data.
    DataCr,
    /// Expecting LF after the data.
    DataLf,
    /// Trailer lines after the last chunk; `len` of the current line.
    Trailer { len: usize },
    /// The body is complete.
    Done,
}

/// Decodes a body framed by [`Framing`], handing body bytes to a callback without copying.
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    framing: Framing,
    state: ChunkState,
    left: u64,
}

impl BodyDecoder {
    /// A decoder for a body framed by `framing`.
    pub fn new(framing: Framing) -> Self {
        Self {
            framing,
            state: ChunkState::Size { size: 0, digits: 0 },
            left: match framing {
                Framing::Length(n) => n,
                _ => 0,
            },
        }
    }

    /// How the body is delimited.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// True once a chunked or sized body has ended (never for [`Framing::Close`]).
    pub fn done(&self) -> bool {
        match self.framing {
            Framing::Chunked => self.state == ChunkState::Done,
            Framing::Length(_) => self.left == 0,
            Framing::Close => false,
        }
    }

    /// Feeds received bytes; `body` gets each run of body bytes. Bytes after the end of the
    /// body are ignored.
    pub fn feed(&mut self, input: &[u8], mut body: impl FnMut(&[u8])) -> Result<(), HttpError> {
        match self.framing {
            Framing::Close => {
                body(input);
                return Ok(());
            }
            Framing::Length(_) => {
                let n = (self.left.min(input.len() as u64)) as usize;
                self.left -= n as u64;
                if n > 0 {
                    body(&input[..n]);
                }
                return Ok(());
            }
            Framing::Chunked => {}
        }
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            self.state = match self.state {
                ChunkState::Size { size, digits } => match b {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        if digits >= 15 {
                            return Err(HttpError::BadChunk("chunk size too long"));
                        }
                        let d = (b as char).to_digit(16).unwrap_or(0) as u64;
                        ChunkState::Size {
                            size: size << 4 | d,
                            digits: digits + 1,
                        }
                    }
                    _ if digits == 0 => return Err(HttpError::BadChunk("no chunk size")),
                    b';' | b' ' | b'\t' => ChunkState::Ext { size },
                    b'\r' => ChunkState::SizeLf { size },
                    b'\n' => after_size(size),
                    _ => return Err(HttpError::BadChunk("bad character in chunk size")),
                },
                ChunkState::Ext { size } => match b {
                    b'\r' => ChunkState::SizeLf { size },
                    b'\n' => after_size(size),
                    _ => ChunkState::Ext { size },
                },
                ChunkState::SizeLf { size } => match b {
                    b'\n' => after_size(size),
                    _ => return Err(HttpError::BadChunk("CR without LF after chunk size")),
                },
                ChunkState::Data(left) => {
                    let n = left.min((input.len() - i) as u64) as usize;
                    body(&input[i..i + n]);
                    i += n;
                    self.state = if left == n as u64 {
                        ChunkState::DataCr
                    } else {
                        ChunkState::Data(left - n as u64)
                    };
                    continue;
                }
                ChunkState::DataCr => match b {
                    b'\r' => ChunkState::DataLf,
                    b'\n' => ChunkState::Size { size: 0, digits: 0 },
                    _ => return Err(HttpError::BadChunk("no CRLF after chunk data")),
                },
                ChunkState::DataLf => match b {
                    b'\n' => ChunkState::Size { size: 0, digits: 0 },
                    _ => return Err(HttpError::BadChunk("no LF after chunk data")),
                },
                ChunkState::Trailer { len } => match b {
                    b'\n' if len == 0 => ChunkState::Done,
                    b'\n' => ChunkState::Trailer { len: 0 },
                    b'\r' => ChunkState::Trailer { len },
                    _ => ChunkState::Trailer { len: len + 1 },
                },
                ChunkState::Done => return Ok(()),
            };
            i += 1;
        }
        Ok(())
    }
}

fn after_size(size: u64) -> ChunkState {
    if size == 0 {
        ChunkState::Trailer { len: 0 }
    } else {
        ChunkState::Data(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_and_framing() {
        let r =
            b"HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nTransfer-Encoding: chunked\r\n\r\nXY";
        assert_eq!(parse_head(&r[..20]).unwrap(), None);
        let (h, n) = parse_head(r).unwrap().unwrap();
        assert_eq!(h.status, 200);
        assert_eq!(h.framing, Framing::Chunked);
        assert_eq!(h.content_type.as_deref(), Some("video/x-flv"));
        assert_eq!(&r[n..], b"XY");
        let (h, _) = parse_head(b"HTTP/1.1 404 Not Found\r\ncontent-length: 12\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((h.status, h.framing), (404, Framing::Length(12)));
        assert!(matches!(
            parse_head(b"RTMP/1.0 200\r\n\r\n"),
            Err(HttpError::BadStatusLine(_))
        ));
        assert_eq!(
            parse_head(&vec![b'a'; MAX_HEAD + 1]),
            Err(HttpError::HeadTooLong)
        );
    }

    fn dechunk(input: &[u8], piece: usize) -> Result<(Vec<u8>, bool), HttpError> {
        let mut d = BodyDecoder::new(Framing::Chunked);
        let mut out = Vec::new();
        for p in input.chunks(piece) {
            d.feed(p, |b| out.extend_from_slice(b))?;
        }
        Ok((out, d.done()))
    }

    #[test]
    fn chunked_bodies_in_any_pieces() {
        let body = b"5\r\nhello\r\nB;ext=1\r\n, world!!!!\r\n0\r\nX-T: 1\r\n\r\nignored";
        for piece in 1..body.len() {
            let (out, done) = dechunk(body, piece).unwrap();
            assert_eq!(out, b"hello, world!!!!");
            assert!(done);
        }
        let (out, done) = dechunk(b"3\r\nabc\r\n", 2).unwrap();
        assert_eq!((out.as_slice(), done), (&b"abc"[..], false));
        assert!(dechunk(b"zz\r\n", 1).is_err());
        assert!(dechunk(b"3\r\nabcX", 1).is_err());
        assert!(dechunk(b"1234567890abcdef0\r\n", 4).is_err());
    }

    #[test]
    fn sized_and_closed_bodies() {
        let mut d = BodyDecoder::new(Framing::Length(4));
        let mut out = Vec::new();
        d.feed(b"ab", |b| out.extend_from_slice(b)).unwrap();
        assert!(!d.done());
        d.feed(b"cdef", |b| out.extend_from_slice(b)).unwrap();
        assert!(d.done());
        assert_eq!(out, b"abcd");
        let mut d = BodyDecoder::new(Framing::Close);
        d.feed(b"xyz", |b| out.extend_from_slice(b)).unwrap();
        assert!(!d.done());
        assert_eq!(out, b"abcdxyz");
    }
}
