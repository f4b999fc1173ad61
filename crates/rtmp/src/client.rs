//! The client side of one RTMP connection, sans-IO: play a stream or publish one.
//!
//! [`ClientSession`] mirrors [`ServerSession`](crate::ServerSession): the caller owns the socket,
//! feeds every received byte to [`ClientSession::handle_input`], writes whatever
//! [`ClientSession::take_output`] returns, and reads [`ClientEvent`]s from
//! [`ClientSession::poll_event`]. Nothing here touches a socket or a clock, so timeouts (connect,
//! handshake, idle) are the caller's.
//!
//! # What it sends
//!
//! 1. C0 and a plain C1 (time 0, zero field 0, random bytes) at once, from [`ClientSession::new`].
//! 2. Once S0, S1 and S2 are in: C2 (an echo of S1; S2 is not checked, as most clients do
//!    not), Set Chunk Size ([`ClientConfig::chunk_size`]) and `connect` with `app`, `tcUrl`,
//!    `flashVer` and the capabilities Flash players announce.
//! 3. When the server accepts `connect` and [`ClientSession::play`] or
//!    [`ClientSession::publish`] has been called (before or after): for publishing
//!    `releaseStream` and `FCPublish` (as OBS and ffmpeg do), then `createStream`, then either
//!    `play(name, -2000)` and Set Buffer Length, or `publish(name, "live")`.
//! 4. Protocol housekeeping: an Acknowledgement each time the bytes received since the last one
//!    reach the server's Window Acknowledgement Size; a Window Acknowledgement Size in answer
//!    to Set Peer Bandwidth (spec 5.4.5); Ping Responses.
//!
//! # Limits
//!
//! The chunk stream is decoded by the same [`ChunkDecoder`] as the server's, so the same limits
//! hold: messages of at most [`MAX_MESSAGE_LEN`](crate::chunk::MAX_MESSAGE_LEN) bytes, at most
//! [`MAX_CHUNK_STREAMS`](crate::chunk::MAX_CHUNK_STREAMS) chunk streams and
//! [`MAX_PENDING_BYTES`](crate::chunk::MAX_PENDING_BYTES) in partly received messages; AMF0 is
//! bounded by `weir-flv`. A violation is an [`RtmpError`], after which the connection must be
//! closed. A refusal by the server (`_error`, or an `onStatus` of level `error` such as
//! `NetStream.Play.StreamNotFound` or `NetStream.Publish.BadName`) is not an `RtmpError` but a
//! [`ClientEvent::Error`]; the session is then [failed](ClientSession::failed).
//!
//! # Example: a player
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::io::{Read, Write};
//! use weir_rtmp::client::{ClientEvent, ClientSession, RtmpUrl};
//!
//! let url = RtmpUrl::parse("rtmp://127.0.0.1:1935/live/mystream")?;
//! let mut sock = std::net::TcpStream::connect((url.host.as_str(), url.port))?;
//! let mut session = ClientSession::new(url.config());
//! session.play(&url.stream)?;
//! let mut buf = vec![0u8; 64 * 1024];
//! loop {
//!     sock.write_all(&session.take_output())?;
//!     let n = sock.read(&mut buf)?;
//!     if n == 0 {
//!         break;
//!     }
//!     session.handle_input(&buf[..n])?;
//!     while let Some(ev) = session.poll_event() {
//!         match ev {
//!             ClientEvent::Video { timestamp, body } => { /* weir_flv::parse_video(body) */ }
//!             ClientEvent::StreamEof { .. } | ClientEvent::Error { .. } => return Ok(()),
//!             _ => {}
//!         }
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! A publisher calls [`ClientSession::publish`] instead, waits for
//! [`ClientEvent::PublishStarted`], then sends [`ClientSession::send_metadata`] and FLV tag
//! bodies with [`ClientSession::send_video`] and [`ClientSession::send_audio`] (decoder
//! configurations first), and ends with [`ClientSession::close`].

use std::collections::VecDeque;

use bytes::Bytes;
use rand::RngCore;
use weir_flv::amf0::{self, Amf0Value};

use crate::RtmpError;
use crate::chunk::{ChunkDecoder, ChunkEncoder, RawMessage};
use crate::handshake::HANDSHAKE_SIZE;
use crate::message::{Message, control, type_id, user_control};

/// Chunk stream for protocol control messages.
const CSID_CONTROL: u32 = 2;
/// Chunk stream for NetConnection commands.
const CSID_COMMAND: u32 = 3;
/// Chunk stream for audio.
const CSID_AUDIO: u32 = 4;
/// Chunk stream for NetStream commands and data.
const CSID_STREAM: u32 = 5;
/// Chunk stream for video.
const CSID_VIDEO: u32 = 6;
/// Length of S0 + S1 + S2.
const SERVER_HANDSHAKE_LEN: usize = 1 + 2 * HANDSHAKE_SIZE;

/// The default RTMP port.
pub const DEFAULT_PORT: u16 = 1935;
/// The `flashVer` sent by default (the one ffmpeg sends when it plays).
pub const DEFAULT_FLASH_VER: &str = "LNX 9,0,124,2";

/// Settings of a client session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// The `app` of `connect`, with any `?query` (for example `live?token=x`).
    pub app: String,
    /// The `tcUrl` of `connect`: `rtmp://host:port/app`.
    pub tc_url: String,
    /// The `flashVer` of `connect`.
    pub flash_ver: String,
    /// Outgoing chunk size, announced with Set Chunk Size right after the handshake.
    pub chunk_size: u32,
    /// Buffer length in milliseconds announced with Set Buffer Length when playing.
    pub buffer_ms: u32,
}

impl ClientConfig {
    /// Settings for `app` at `tc_url`, with the defaults for the rest.
    pub fn new(app: &str, tc_url: &str) -> Self {
        Self {
            app: app.to_owned(),
            tc_url: tc_url.to_owned(),
            flash_ver: DEFAULT_FLASH_VER.to_owned(),
            chunk_size: 4096,
            buffer_ms: 1000,
        }
    }
}

/// Why an `rtmp://` URL could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// The URL does not start with `rtmp://`.
    #[error("not an rtmp:// URL: {0:?}")]
    Scheme(String),
    /// No host, or a bad port.
    #[error("bad host or port in {0:?}")]
    Authority(String),
    /// No `/app/stream` path.
    #[error("no /app/stream path in {0:?}")]
    Path(String),
}

/// An `rtmp://host[:port]/app/stream` URL, split the way ffmpeg and OBS split it: the first path
/// segment is the application, the rest (which may hold more `/` and a `?query`) the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmpUrl {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port ([`DEFAULT_PORT`] when absent).
    pub port: u16,
    /// Application, with any query.
    pub app: String,
    /// Stream name, with any query.
    pub stream: String,
}

impl RtmpUrl {
    /// Parses `rtmp://host[:port]/app/stream`.
    pub fn parse(url: &str) -> Result<RtmpUrl, UrlError> {
        let rest = url
            .get(..7)
            .filter(|s| s.eq_ignore_ascii_case("rtmp://"))
            .map(|_| &url[7..])
            .ok_or_else(|| UrlError::Scheme(url.to_owned()))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let bad_auth = || UrlError::Authority(url.to_owned());
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(bad_auth)?;
            match after.strip_prefix(':') {
                Some(p) => (h, Some(p)),
                None if after.is_empty() => (h, None),
                None => return Err(bad_auth()),
            }
        } else {
            match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad_auth());
        }
        let port = match port {
            Some(p) => p.parse().ok().filter(|&p| p != 0).ok_or_else(bad_auth)?,
            None => DEFAULT_PORT,
        };
        let (app, stream) = path
            .split_once('/')
            .filter(|(a, s)| !a.is_empty() && !s.is_empty())
            .ok_or_else(|| UrlError::Path(url.to_owned()))?;
        Ok(RtmpUrl {
            host: host.to_owned(),
            port,
            app: app.to_owned(),
            stream: stream.to_owned(),
        })
    }

    /// `rtmp://host:port/app`, the `tcUrl` a client sends.
    pub fn tc_url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("rtmp://{host}:{}/{}", self.port, self.app)
    }

    /// A [`ClientConfig`] for this URL, with the defaults for the rest.
    pub fn config(&self) -> ClientConfig {
        ClientConfig::new(&self.app, &self.tc_url())
    }
}

/// What the session tells its caller.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// The server accepted `connect` (`NetConnection.Connect.Success`).
    Connected,
    /// `createStream` returned this message stream id.
    StreamCreated {
        /// The message stream id.
        stream_id: u32,
    },
    /// `onStatus` `NetStream.Play.Start`: media follows.
    PlayStarted {
        /// The message stream id.
        stream_id: u32,
    },
    /// `onStatus` `NetStream.Publish.Start`: send metadata and media now.
    PublishStarted {
        /// The message stream id.
        stream_id: u32,
    },
    /// `onMetaData`, with any `@setDataFrame` wrapper removed: the first value is the string
    /// `onMetaData`, the second its properties (as [`ServerEvent::Metadata`]).
    ///
    /// [`ServerEvent::Metadata`]: crate::ServerEvent::Metadata
    Metadata(Vec<Amf0Value>),
    /// A video message (an FLV video tag body, e.g. for `weir_flv::parse_video`).
    Video {
        /// Timestamp in milliseconds (32-bit, wraps).
        timestamp: u32,
        /// Tag body.
        body: Bytes,
    },
    /// An audio message (an FLV audio tag body).
    Audio {
        /// Timestamp in milliseconds (32-bit, wraps).
        timestamp: u32,
        /// Tag body.
        body: Bytes,
    },
    /// Any other `onStatus` of level `status` or `warning` (for example
    /// `NetStream.Play.Reset`).
    Status {
        /// `level`.
        level: String,
        /// `code`.
        code: String,
        /// `description`.
        description: String,
    },
    /// `onStatus` `NetStream.Play.UnpublishNotify`: the publisher stopped.
    Unpublished {
        /// The message stream id.
        stream_id: u32,
    },
    /// User Control Stream EOF: the server ended the stream.
    StreamEof {
        /// The message stream id.
        stream_id: u32,
    },
    /// The server refused a command: an `_error` reply, or an `onStatus` of level `error`
    /// (`NetStream.Play.StreamNotFound`, `NetStream.Publish.BadName`, ...). The session is
    /// [failed](ClientSession::failed) afterwards.
    Error {
        /// The status code, e.g. `NetStream.Publish.BadName` (empty when the server sent none).
        code: String,
        /// The server's description.
        description: String,
    },
}

/// What the caller asked the session to do once connected.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    Play(String),
    Publish(String),
}

/// Where the session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Waiting for S0, S1 and S2.
    Handshake,
    /// `connect` sent.
    Connecting,
    /// Connected; no stream requested yet.
    Connected,
    /// `createStream` sent.
    CreatingStream,
    /// `play` or `publish` sent.
    Starting,
    /// Playing or publishing.
    Active,
    /// The server refused something.
    Failed,
    /// [`ClientSession::close`] was called.
    Closed,
}

/// What a transaction id was sent for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Connect,
    CreateStream,
    Other,
}

/// Most transactions remembered while waiting for their replies (the session itself sends at
/// most five).
const MAX_PENDING_TX: usize = 16;

/// One RTMP connection, client side. See the [module docs](self) for the protocol and a run
/// loop.
pub struct ClientSession {
    cfg: ClientConfig,
    stage: Stage,
    role: Option<Role>,
    stream_id: Option<u32>,
    decoder: ChunkDecoder,
    encoder: ChunkEncoder,
    out: Vec<u8>,
    events: VecDeque<ClientEvent>,
    hs_buf: Vec<u8>,
    next_tx: f64,
    pending: Vec<(f64, Pending)>,
    received: u64,
    last_ack: u64,
    peer_window: u32,
    window_sent: Option<u32>,
}

impl ClientSession {
    /// A session whose C0 and C1 are already in the output: write [`take_output`] to the
    /// socket as soon as it connects.
    ///
    /// [`take_output`]: ClientSession::take_output
    pub fn new(cfg: ClientConfig) -> Self {
        let mut out = Vec::with_capacity(1 + HANDSHAKE_SIZE);
        out.push(3);
        let mut c1 = [0u8; HANDSHAKE_SIZE];
        rand::rng().fill_bytes(&mut c1[8..]);
        out.extend_from_slice(&c1);
        Self {
            cfg,
            stage: Stage::Handshake,
            role: None,
            stream_id: None,
            decoder: ChunkDecoder::new(),
            encoder: ChunkEncoder::new(),
            out,
            events: VecDeque::new(),
            hs_buf: Vec::with_capacity(SERVER_HANDSHAKE_LEN),
            next_tx: 1.0,
            pending: Vec::new(),
            received: 0,
            last_ack: 0,
            peer_window: 0,
            window_sent: None,
        }
    }

    /// The settings this session was made with.
    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    /// Asks to play `name` (with any `?query`). May be called before the connection is up; the
    /// request goes out once `connect` succeeds. Fails when a play or publish was already asked
    /// for.
    pub fn play(&mut self, name: &str) -> Result<(), RtmpError> {
        self.set_role(Role::Play(name.to_owned()))
    }

    /// Asks to publish `name` (with any `?query`) as a live stream. May be called before the
    /// connection is up. Wait for [`ClientEvent::PublishStarted`] before sending media.
    pub fn publish(&mut self, name: &str) -> Result<(), RtmpError> {
        self.set_role(Role::Publish(name.to_owned()))
    }

    fn set_role(&mut self, role: Role) -> Result<(), RtmpError> {
        if let Some(r) = &self.role {
            return Err(RtmpError::Protocol(format!(
                "this session already asked to {r:?}"
            )));
        }
        self.role = Some(role);
        if self.stage == Stage::Connected {
            self.start_stream();
        }
        Ok(())
    }

    /// True once S0, S1 and S2 have arrived.
    pub fn handshake_done(&self) -> bool {
        self.stage != Stage::Handshake
    }

    /// True once the server accepted `connect` (and until the session fails or closes).
    pub fn connected(&self) -> bool {
        matches!(
            self.stage,
            Stage::Connected | Stage::CreatingStream | Stage::Starting | Stage::Active
        )
    }

    /// True after [`ClientEvent::PlayStarted`] or [`ClientEvent::PublishStarted`].
    pub fn active(&self) -> bool {
        self.stage == Stage::Active
    }

    /// True after a [`ClientEvent::Error`].
    pub fn failed(&self) -> bool {
        self.stage == Stage::Failed
    }

    /// The message stream id `createStream` returned, once known.
    pub fn stream_id(&self) -> Option<u32> {
        self.stream_id
    }

    /// Bytes received so far, handshake included (what Acknowledgements count).
    pub fn bytes_received(&self) -> u64 {
        self.received
    }

    /// Feeds received bytes, in pieces of any size. An error means the connection must be
    /// closed; events queued before it are still available.
    pub fn handle_input(&mut self, mut data: &[u8]) -> Result<(), RtmpError> {
        self.received += data.len() as u64;
        if self.stage == Stage::Handshake {
            let take = (SERVER_HANDSHAKE_LEN - self.hs_buf.len()).min(data.len());
            self.hs_buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if let Some(&v) = self.hs_buf.first()
                && v != 3
            {
                return Err(RtmpError::BadVersion(v));
            }
            if self.hs_buf.len() < SERVER_HANDSHAKE_LEN {
                return Ok(());
            }
            // C2 echoes S1; S2 (an echo of C1 from a plain server, random from a digest one)
            // is not checked.
            self.out
                .extend_from_slice(&self.hs_buf[1..1 + HANDSHAKE_SIZE]);
            self.hs_buf = Vec::new();
            self.stage = Stage::Connecting;
            self.send_control(control::set_chunk_size(self.cfg.chunk_size));
            self.encoder.set_chunk_size(self.cfg.chunk_size as usize);
            self.send_connect();
        }
        self.decoder.push(data);
        while let Some(raw) = self.decoder.next_message()? {
            self.handle_message(&raw)?;
        }
        if self.peer_window > 0 && self.received - self.last_ack >= self.peer_window as u64 {
            self.last_ack = self.received;
            self.send_control(control::ack(self.received as u32));
        }
        Ok(())
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// Bytes to send to the server; empty when there is nothing.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// True when output is waiting.
    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    /// Sends `@setDataFrame("onMetaData", properties)` while publishing; `properties` is an
    /// ECMA array or object (`duration`, `width`, `videocodecid`, ...).
    pub fn send_metadata(&mut self, properties: Amf0Value) -> Result<(), RtmpError> {
        let sid = self.publishing("metadata")?;
        let payload = amf0::encode_all(&[
            Amf0Value::String("@setDataFrame".into()),
            Amf0Value::String("onMetaData".into()),
            properties,
        ]);
        self.encoder.write(
            &mut self.out,
            CSID_STREAM,
            0,
            type_id::DATA_AMF0,
            sid,
            &payload,
        );
        Ok(())
    }

    /// Sends one FLV video tag body (sequence header or frame) with a millisecond timestamp
    /// (the decoding time) while publishing.
    pub fn send_video(&mut self, timestamp: u32, body: &[u8]) -> Result<(), RtmpError> {
        let sid = self.publishing("video")?;
        self.encoder.write(
            &mut self.out,
            CSID_VIDEO,
            timestamp,
            type_id::VIDEO,
            sid,
            body,
        );
        Ok(())
    }

    /// Sends one FLV audio tag body with a millisecond timestamp while publishing.
    pub fn send_audio(&mut self, timestamp: u32, body: &[u8]) -> Result<(), RtmpError> {
        let sid = self.publishing("audio")?;
        self.encoder.write(
            &mut self.out,
            CSID_AUDIO,
            timestamp,
            type_id::AUDIO,
            sid,
            body,
        );
        Ok(())
    }

    fn publishing(&self, what: &str) -> Result<u32, RtmpError> {
        match (self.stage, &self.role, self.stream_id) {
            (Stage::Active, Some(Role::Publish(_)), Some(sid)) => Ok(sid),
            _ => Err(RtmpError::Protocol(format!(
                "cannot send {what}: the session is not publishing"
            ))),
        }
    }

    /// Ends the stream politely: `FCUnpublish` (when publishing) and `deleteStream`. Write the
    /// output, then close the socket. Nothing is sent when no stream was created.
    pub fn close(&mut self) {
        if let Some(sid) = self.stream_id
            && !matches!(self.stage, Stage::Closed)
        {
            if let Some(Role::Publish(name)) = self.role.clone() {
                let tx = self.tx(Pending::Other);
                self.send_command(0, &cmd("FCUnpublish", tx, &[s(&name)]));
            }
            let tx = self.tx(Pending::Other);
            self.send_command(
                0,
                &cmd("deleteStream", tx, &[Amf0Value::Number(sid as f64)]),
            );
        }
        self.stage = Stage::Closed;
    }

    fn tx(&mut self, what: Pending) -> f64 {
        let tx = self.next_tx;
        self.next_tx += 1.0;
        if what != Pending::Other {
            if self.pending.len() >= MAX_PENDING_TX {
                self.pending.remove(0);
            }
            self.pending.push((tx, what));
        }
        tx
    }

    fn send_connect(&mut self) {
        let tx = self.tx(Pending::Connect);
        let n = Amf0Value::Number;
        let props = Amf0Value::object(&[
            ("app", s(&self.cfg.app)),
            ("flashVer", s(&self.cfg.flash_ver)),
            ("tcUrl", s(&self.cfg.tc_url)),
            ("fpad", Amf0Value::Boolean(false)),
            ("capabilities", n(15.0)),
            ("audioCodecs", n(4071.0)),
            ("videoCodecs", n(252.0)),
            ("videoFunction", n(1.0)),
            ("objectEncoding", n(0.0)),
        ]);
        let values = vec![s("connect"), Amf0Value::Number(tx), props];
        self.send_command(0, &values);
    }

    /// Sends what the role needs once connected: `releaseStream`/`FCPublish` for a
    /// publisher, then `createStream`.
    fn start_stream(&mut self) {
        if let Some(Role::Publish(name)) = self.role.clone() {
            let tx = self.tx(Pending::Other);
            self.send_command(0, &cmd("releaseStream", tx, &[s(&name)]));
            let tx = self.tx(Pending::Other);
            self.send_command(0, &cmd("FCPublish", tx, &[s(&name)]));
        }
        let tx = self.tx(Pending::CreateStream);
        self.send_command(0, &cmd("createStream", tx, &[]));
        self.stage = Stage::CreatingStream;
    }

    /// Sends `play` or `publish` on the new stream.
    fn request_stream(&mut self, sid: u32) {
        match self.role.clone() {
            Some(Role::Play(name)) => {
                let mut v = user_control::SET_BUFFER_LENGTH.to_be_bytes().to_vec();
                v.extend_from_slice(&sid.to_be_bytes());
                v.extend_from_slice(&self.cfg.buffer_ms.to_be_bytes());
                let tx = self.tx(Pending::Other);
                self.send_command(
                    sid,
                    &cmd("play", tx, &[s(&name), Amf0Value::Number(-2000.0)]),
                );
                self.send_control((type_id::USER_CONTROL, v));
            }
            Some(Role::Publish(name)) => {
                let tx = self.tx(Pending::Other);
                self.send_command(sid, &cmd("publish", tx, &[s(&name), s("live")]));
            }
            None => return,
        }
        self.stage = Stage::Starting;
    }

    fn fail(&mut self, code: &str, description: &str) {
        self.stage = Stage::Failed;
        self.events.push_back(ClientEvent::Error {
            code: code.to_owned(),
            description: description.to_owned(),
        });
    }

    fn handle_message(&mut self, raw: &RawMessage) -> Result<(), RtmpError> {
        match Message::parse(raw)? {
            Message::SetChunkSize(n) => self.decoder.set_chunk_size(n)?,
            Message::Abort(csid) => self.decoder.abort(csid),
            Message::Ack(_) | Message::Unknown(_) => {}
            Message::WindowAckSize(n) => self.peer_window = n,
            Message::SetPeerBandwidth { size, .. } => {
                if self.window_sent != Some(size) {
                    self.window_sent = Some(size);
                    self.send_control(control::window_ack_size(size));
                }
            }
            Message::UserControl { event, data } => {
                let arg = data
                    .get(..4)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                match event {
                    user_control::PING_REQUEST => {
                        let mut v = user_control::PING_RESPONSE.to_be_bytes().to_vec();
                        v.extend_from_slice(&data);
                        self.send_control((type_id::USER_CONTROL, v));
                    }
                    user_control::STREAM_EOF => self.events.push_back(ClientEvent::StreamEof {
                        stream_id: arg.unwrap_or(0),
                    }),
                    _ => {}
                }
            }
            Message::Audio(body) => self.events.push_back(ClientEvent::Audio {
                timestamp: raw.timestamp,
                body,
            }),
            Message::Video(body) => self.events.push_back(ClientEvent::Video {
                timestamp: raw.timestamp,
                body,
            }),
            Message::Data(values) => {
                let values = match values.first().and_then(Amf0Value::as_str) {
                    Some("@setDataFrame") => values[1..].to_vec(),
                    _ => values,
                };
                if values.first().and_then(Amf0Value::as_str) == Some("onMetaData") {
                    self.events.push_back(ClientEvent::Metadata(values));
                }
            }
            Message::Command(values) => self.handle_command(raw, &values),
        }
        Ok(())
    }

    fn handle_command(&mut self, raw: &RawMessage, values: &[Amf0Value]) {
        let name = values.first().and_then(Amf0Value::as_str).unwrap_or("");
        let tx = values.get(1).and_then(Amf0Value::as_f64).unwrap_or(0.0);
        // `_result`/`_error` carry the information object at index 3; `onStatus` too.
        let info = values.get(3);
        let field = |k: &str| {
            info.and_then(|o| o.get(k))
                .and_then(Amf0Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let pending = self
            .pending
            .iter()
            .position(|(t, _)| *t == tx)
            .map(|i| self.pending.remove(i).1);
        match name {
            "_result" => match pending {
                Some(Pending::Connect) => {
                    let code = field("code");
                    if code.is_empty() || code == "NetConnection.Connect.Success" {
                        self.stage = Stage::Connected;
                        self.events.push_back(ClientEvent::Connected);
                        if self.role.is_some() {
                            self.start_stream();
                        }
                    } else {
                        self.fail(&code, &field("description"));
                    }
                }
                Some(Pending::CreateStream) => {
                    match info.and_then(Amf0Value::as_f64) {
                        Some(id) if id >= 0.0 && id <= u32::MAX as f64 => {
                            let sid = id as u32;
                            self.stream_id = Some(sid);
                            self.events
                                .push_back(ClientEvent::StreamCreated { stream_id: sid });
                            self.request_stream(sid);
                        }
                        _ => {
                            self.fail("", &format!("createStream returned no stream id: {info:?}"))
                        }
                    };
                }
                Some(Pending::Other) | None => {}
            },
            "_error" => {
                let code = field("code");
                let mut description = field("description");
                if description.is_empty() {
                    description = format!("{pending:?} refused (transaction {tx})");
                }
                // A refused releaseStream/FCPublish is harmless (many servers lack them).
                if matches!(pending, Some(Pending::Connect | Pending::CreateStream)) {
                    self.fail(&code, &description);
                }
            }
            "onStatus" => {
                let level = field("level");
                let code = field("code");
                let description = field("description");
                let stream_id = raw.stream_id;
                if level == "error" {
                    self.fail(&code, &description);
                    return;
                }
                match code.as_str() {
                    "NetStream.Play.Start" if self.stage == Stage::Starting => {
                        self.stage = Stage::Active;
                        self.events
                            .push_back(ClientEvent::PlayStarted { stream_id });
                    }
                    "NetStream.Publish.Start" if self.stage == Stage::Starting => {
                        self.stage = Stage::Active;
                        self.events
                            .push_back(ClientEvent::PublishStarted { stream_id });
                    }
                    "NetStream.Play.UnpublishNotify" => self
                        .events
                        .push_back(ClientEvent::Unpublished { stream_id }),
                    _ => self.events.push_back(ClientEvent::Status {
                        level,
                        code,
                        description,
                    }),
                }
            }
            // onBWDone, onFCPublish, onFCUnpublish, _checkbw...: nothing to do.
            _ => {}
        }
    }

    fn send_command(&mut self, stream_id: u32, values: &[Amf0Value]) {
        let payload = amf0::encode_all(values);
        let csid = if stream_id == 0 {
            CSID_COMMAND
        } else {
            CSID_STREAM
        };
        self.encoder.write(
            &mut self.out,
            csid,
            0,
            type_id::COMMAND_AMF0,
            stream_id,
            &payload,
        );
    }

    fn send_control(&mut self, (t, payload): (u8, Vec<u8>)) {
        self.encoder
            .write(&mut self.out, CSID_CONTROL, 0, t, 0, &payload);
    }
}

fn s(v: &str) -> Amf0Value {
    Amf0Value::String(v.to_owned())
}

/// `name(tx, null, args...)`.
fn cmd(name: &str, tx: f64, args: &[Amf0Value]) -> Vec<Amf0Value> {
    let mut v = vec![s(name), Amf0Value::Number(tx), Amf0Value::Null];
    v.extend_from_slice(args);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = RtmpUrl::parse("rtmp://127.0.0.1:1936/live/x?token=1").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.app.as_str(), u.stream.as_str()),
            ("127.0.0.1", 1936, "live", "x?token=1")
        );
        assert_eq!(u.tc_url(), "rtmp://127.0.0.1:1936/live");
        let u = RtmpUrl::parse("RTMP://[::1]/app/a/b").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", DEFAULT_PORT));
        assert_eq!(u.stream, "a/b");
        assert_eq!(u.tc_url(), "rtmp://[::1]:1935/app");
        assert!(matches!(
            RtmpUrl::parse("http://h/a/b"),
            Err(UrlError::Scheme(_))
        ));
        assert!(matches!(
            RtmpUrl::parse("rtmp://h:0/a/b"),
            Err(UrlError::Authority(_))
        ));
        assert!(matches!(
            RtmpUrl::parse("rtmp://:5/a/b"),
            Err(UrlError::Authority(_))
        ));
        assert!(matches!(
            RtmpUrl::parse("rtmp://h/live"),
            Err(UrlError::Path(_))
        ));
        assert!(matches!(
            RtmpUrl::parse("rtmp://h/live/"),
            Err(UrlError::Path(_))
        ));
    }

    #[test]
    fn c0_c1_first_and_bad_s0_is_refused() {
        let mut c = ClientSession::new(ClientConfig::new("live", "rtmp://h/live"));
        let out = c.take_output();
        assert_eq!(out.len(), 1 + HANDSHAKE_SIZE);
        assert_eq!(out[0], 3);
        assert_eq!(&out[1..9], &[0; 8]);
        assert!(matches!(
            c.handle_input(b"HTTP/1.1 400"),
            Err(RtmpError::BadVersion(b'H'))
        ));
    }

    #[test]
    fn second_role_is_refused_and_media_needs_publishing() {
        let mut c = ClientSession::new(ClientConfig::new("live", "rtmp://h/live"));
        c.play("a").unwrap();
        assert!(c.publish("b").is_err());
        assert!(c.send_video(0, &[0x17, 0, 0, 0, 0]).is_err());
        assert!(c.send_metadata(Amf0Value::EcmaArray(vec![])).is_err());
    }
}
