//! The server side of one RTMP connection, sans-IO.

use std::collections::VecDeque;

use bytes::Bytes;
use weir_flv::amf0::{self, Amf0Value};
use weir_media::Query;

use crate::RtmpError;
use crate::chunk::{ChunkDecoder, ChunkEncoder, RawMessage};
use crate::command::{self, Command};
use crate::handshake::{HandshakeState, ServerHandshake};
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
/// Most message streams a client may create.
pub const MAX_STREAMS: u32 = 16;

/// Settings for a server session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Outgoing chunk size, announced with Set Chunk Size after connect.
    pub chunk_size: u32,
    /// Window Acknowledgement Size announced to the client.
    pub window_ack_size: u32,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            chunk_size: 4096,
            window_ack_size: 2_500_000,
        }
    }
}

/// What the session tells the server. The server answers publish and play requests with
/// [`ServerSession::accept_publish`], [`ServerSession::reject`] and friends.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEvent {
    /// `connect` was accepted.
    Connected {
        /// Application name, without its query.
        app: String,
        /// Query parameters of the app (`rtmp://host/live?token=x`).
        query: Query,
        /// `tcUrl`, if sent.
        tc_url: Option<String>,
    },
    /// The client asks to publish.
    PublishRequest {
        /// Message stream id to answer on.
        stream_id: u32,
        /// Stream name without query.
        name: String,
        /// Query of the stream name merged after the app's query.
        query: Query,
    },
    /// The client asks to play.
    PlayRequest {
        /// Message stream id to answer on.
        stream_id: u32,
        /// Stream name without query.
        name: String,
        /// Query of the stream name merged after the app's query.
        query: Query,
    },
    /// An audio message (FLV audio tag body).
    Audio {
        /// Timestamp in ms.
        timestamp: u32,
        /// Tag body.
        body: Bytes,
    },
    /// A video message (FLV video tag body).
    Video {
        /// Timestamp in ms.
        timestamp: u32,
        /// Tag body.
        body: Bytes,
    },
    /// `onMetaData` (with any `@setDataFrame` wrapper removed).
    Metadata(Vec<Amf0Value>),
    /// The client closed a stream (`deleteStream`, `closeStream` or `FCUnpublish`).
    StreamClosed {
        /// The message stream id.
        stream_id: u32,
    },
}

enum Phase {
    Handshake(ServerHandshake),
    Chunks,
}

/// One RTMP connection, server side. See the crate docs for the run loop.
pub struct ServerSession {
    cfg: SessionConfig,
    phase: Phase,
    decoder: ChunkDecoder,
    encoder: ChunkEncoder,
    out: Vec<u8>,
    events: VecDeque<ServerEvent>,
    connected: bool,
    app_query: Query,
    streams_created: u32,
    received: u64,
    last_ack: u64,
    peer_window: u32,
    hs_buf: Vec<u8>,
    digest: bool,
}

impl ServerSession {
    /// A session waiting for the handshake.
    pub fn new(cfg: SessionConfig) -> Self {
        Self {
            cfg,
            phase: Phase::Handshake(ServerHandshake::new()),
            decoder: ChunkDecoder::new(),
            encoder: ChunkEncoder::new(),
            out: Vec::new(),
            events: VecDeque::new(),
            connected: false,
            app_query: Query::default(),
            streams_created: 0,
            received: 0,
            last_ack: 0,
            peer_window: 0,
            hs_buf: Vec::new(),
            digest: false,
        }
    }

    /// True once the handshake is complete.
    pub fn handshake_done(&self) -> bool {
        matches!(self.phase, Phase::Chunks)
    }

    /// Whether the client used the digest handshake (known after C1).
    pub fn digest_handshake(&self) -> bool {
        self.digest
    }

    /// Feeds received bytes. An error means the connection must be closed (after sending any
    /// pending output, which may hold an `_error` reply).
    pub fn handle_input(&mut self, mut data: &[u8]) -> Result<(), RtmpError> {
        self.received += data.len() as u64;
        if let Phase::Handshake(hs) = &mut self.phase {
            self.hs_buf.extend_from_slice(data);
            data = &[];
            let mut off = 0;
            while hs.state() != HandshakeState::Done {
                let n = hs.handle(&self.hs_buf[off..], &mut self.out)?;
                if n == 0 {
                    break;
                }
                off += n;
            }
            self.hs_buf.drain(..off);
            if hs.state() != HandshakeState::Done {
                return Ok(());
            }
            self.digest = hs.digest;
            self.phase = Phase::Chunks;
            let rest = std::mem::take(&mut self.hs_buf);
            self.decoder.push(&rest);
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

    /// The next event for the server.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// Bytes to send to the client; empty when there is nothing.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// True when output is waiting.
    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    fn handle_message(&mut self, raw: &RawMessage) -> Result<(), RtmpError> {
        match Message::parse(raw)? {
            Message::SetChunkSize(n) => self.decoder.set_chunk_size(n)?,
            Message::Abort(csid) => self.decoder.abort(csid),
            Message::Ack(_) | Message::SetPeerBandwidth { .. } | Message::Unknown(_) => {}
            Message::WindowAckSize(n) => self.peer_window = n,
            Message::UserControl { event, data } => {
                if event == user_control::PING_REQUEST {
                    let mut v = user_control::PING_RESPONSE.to_be_bytes().to_vec();
                    v.extend_from_slice(&data);
                    self.send_control((type_id::USER_CONTROL, v));
                }
            }
            Message::Audio(body) => self.events.push_back(ServerEvent::Audio {
                timestamp: raw.timestamp,
                body,
            }),
            Message::Video(body) => self.events.push_back(ServerEvent::Video {
                timestamp: raw.timestamp,
                body,
            }),
            Message::Data(values) => {
                let values = match values.first().and_then(Amf0Value::as_str) {
                    Some("@setDataFrame") => values[1..].to_vec(),
                    _ => values,
                };
                if values.first().and_then(Amf0Value::as_str) == Some("onMetaData") {
                    self.events.push_back(ServerEvent::Metadata(values));
                }
            }
            Message::Command(values) => self.handle_command(raw, &values)?,
        }
        Ok(())
    }

    fn handle_command(&mut self, raw: &RawMessage, values: &[Amf0Value]) -> Result<(), RtmpError> {
        let cmd = match Command::parse(values) {
            Ok(c) => c,
            Err(e) => {
                self.send_command(
                    raw.stream_id,
                    &command::error(e.tx, "NetConnection.Call.Failed", &e.to_string()),
                );
                return Err(RtmpError::Protocol(e.to_string()));
            }
        };
        if !self.connected && !matches!(cmd, Command::Connect { .. }) {
            let msg = "command before connect";
            self.send_command(0, &command::error(0.0, "NetConnection.Call.Failed", msg));
            return Err(RtmpError::Protocol(format!("{msg}: {cmd:?}")));
        }
        match cmd {
            Command::Connect {
                tx, app, tc_url, ..
            } => {
                if self.connected {
                    return Err(RtmpError::Protocol(
                        "second connect on one connection".into(),
                    ));
                }
                self.connected = true;
                let (app, query) = Query::split(&app);
                self.app_query = query.clone();
                self.send_control(control::window_ack_size(self.cfg.window_ack_size));
                self.send_control(control::set_peer_bandwidth(self.cfg.window_ack_size, 2));
                self.send_control(control::set_chunk_size(self.cfg.chunk_size));
                self.encoder.set_chunk_size(self.cfg.chunk_size as usize);
                self.send_command(0, &command::connect_result(tx));
                self.events.push_back(ServerEvent::Connected {
                    app: app.to_owned(),
                    query,
                    tc_url,
                });
            }
            Command::ReleaseStream { tx, .. }
            | Command::FcPublish { tx, .. }
            | Command::FcUnpublish { tx, .. } => {
                if tx != 0.0 {
                    self.send_command(0, &command::result(tx, Amf0Value::Undefined));
                }
            }
            Command::CreateStream { tx } => {
                if self.streams_created >= MAX_STREAMS {
                    self.send_command(
                        0,
                        &command::error(tx, "NetConnection.Call.Failed", "too many streams"),
                    );
                    return Err(RtmpError::Protocol(format!(
                        "more than {MAX_STREAMS} createStream calls"
                    )));
                }
                self.streams_created += 1;
                let id = self.streams_created;
                self.send_command(0, &command::result(tx, Amf0Value::Number(id as f64)));
            }
            Command::Publish { name, .. } => {
                let (name, q) = Query::split(&name);
                let mut query = self.app_query.clone();
                query.extend(q);
                self.events.push_back(ServerEvent::PublishRequest {
                    stream_id: raw.stream_id,
                    name: name.to_owned(),
                    query,
                });
            }
            Command::Play { name, .. } => {
                let (name, q) = Query::split(&name);
                let mut query = self.app_query.clone();
                query.extend(q);
                self.events.push_back(ServerEvent::PlayRequest {
                    stream_id: raw.stream_id,
                    name: name.to_owned(),
                    query,
                });
            }
            Command::DeleteStream { stream_id, .. } => self
                .events
                .push_back(ServerEvent::StreamClosed { stream_id }),
            Command::CloseStream { .. } => self.events.push_back(ServerEvent::StreamClosed {
                stream_id: raw.stream_id,
            }),
            Command::GetStreamLength { tx } => {
                self.send_command(0, &command::result(tx, Amf0Value::Number(0.0)))
            }
            Command::Other { name, tx } => {
                if tx != 0.0 {
                    self.send_command(
                        0,
                        &command::error(
                            tx,
                            "NetConnection.Call.Failed",
                            &format!("Method not found ({name})"),
                        ),
                    );
                }
            }
        }
        Ok(())
    }

    /// Tells the client its publish started.
    pub fn accept_publish(&mut self, stream_id: u32, name: &str) {
        self.send_status(
            stream_id,
            "status",
            "NetStream.Publish.Start",
            &format!("{name} is now published."),
        );
    }

    /// Refuses a publish or play with an error status (e.g. `NetStream.Publish.BadName`,
    /// "already publishing"). The server should close the connection afterwards.
    pub fn reject(&mut self, stream_id: u32, code: &str, description: &str) {
        self.send_status(stream_id, "error", code, description);
    }

    /// Starts playback on `stream_id`: Stream Begin, `Play.Reset`, `Play.Start` and
    /// `|RtmpSampleAccess`. Send metadata, decoder configuration and frames next.
    pub fn accept_play(&mut self, stream_id: u32, name: &str) {
        self.send_control(control::user_control(user_control::STREAM_BEGIN, stream_id));
        self.send_status(
            stream_id,
            "status",
            "NetStream.Play.Reset",
            &format!("Playing and resetting {name}."),
        );
        self.send_status(
            stream_id,
            "status",
            "NetStream.Play.Start",
            &format!("Started playing {name}."),
        );
        let access = [
            Amf0Value::String("|RtmpSampleAccess".into()),
            Amf0Value::Boolean(true),
            Amf0Value::Boolean(true),
        ];
        self.send_data(stream_id, &access);
    }

    /// Tells a player that the publisher stopped: `Play.UnpublishNotify` and Stream EOF.
    pub fn end_play(&mut self, stream_id: u32, name: &str) {
        self.send_status(
            stream_id,
            "status",
            "NetStream.Play.UnpublishNotify",
            &format!("{name} is now unpublished."),
        );
        self.send_control(control::user_control(user_control::STREAM_EOF, stream_id));
    }

    /// Sends an `onStatus`.
    pub fn send_status(&mut self, stream_id: u32, level: &str, code: &str, description: &str) {
        self.send_command(stream_id, &command::on_status(level, code, description));
    }

    /// Sends an AMF0 data message (such as `onMetaData`) on `stream_id`.
    pub fn send_data(&mut self, stream_id: u32, values: &[Amf0Value]) {
        let payload = amf0::encode_all(values);
        self.encoder.write(
            &mut self.out,
            CSID_STREAM,
            0,
            type_id::DATA_AMF0,
            stream_id,
            &payload,
        );
    }

    /// Sends an audio or video message (FLV tag body) with a millisecond timestamp.
    pub fn send_media(&mut self, stream_id: u32, video: bool, timestamp: u32, body: &[u8]) {
        let (csid, t) = if video {
            (CSID_VIDEO, type_id::VIDEO)
        } else {
            (CSID_AUDIO, type_id::AUDIO)
        };
        self.encoder
            .write(&mut self.out, csid, timestamp, t, stream_id, body);
    }

    /// Like [`send_media`](Self::send_media) for a body of `body_len` bytes, but writes nothing
    /// itself: `emit` gets the chunk headers and body ranges in wire order (see
    /// [`ChunkEncoder::write_pieces`](crate::chunk::ChunkEncoder::write_pieces)), so a player's
    /// connection can point a vectored write at a payload shared by every player. Whatever
    /// [`take_output`](Self::take_output) holds must go on the wire before these pieces.
    pub fn media_pieces(
        &mut self,
        stream_id: u32,
        video: bool,
        timestamp: u32,
        body_len: usize,
        emit: impl FnMut(crate::chunk::ChunkPiece<'_>),
    ) {
        let (csid, t) = if video {
            (CSID_VIDEO, type_id::VIDEO)
        } else {
            (CSID_AUDIO, type_id::AUDIO)
        };
        self.encoder
            .write_pieces(csid, timestamp, t, stream_id, body_len, emit);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::ChunkDecoder;
    use crate::handshake::{HANDSHAKE_SIZE, client_c1_with_digest, verify_s2};

    fn s(v: &str) -> Amf0Value {
        Amf0Value::String(v.into())
    }

    /// A scripted client: encodes commands, decodes the server's replies.
    struct Client {
        enc: ChunkEncoder,
        dec: ChunkDecoder,
    }

    impl Client {
        fn new() -> Self {
            Self {
                enc: ChunkEncoder::new(),
                dec: ChunkDecoder::new(),
            }
        }
        fn cmd(&mut self, stream_id: u32, values: &[Amf0Value]) -> Vec<u8> {
            let mut out = Vec::new();
            self.enc.write(
                &mut out,
                3,
                0,
                type_id::COMMAND_AMF0,
                stream_id,
                &amf0::encode_all(values),
            );
            out
        }
        /// Decodes server output into (type id, AMF values or raw payload).
        fn replies(&mut self, bytes: &[u8]) -> Vec<(u8, Vec<Amf0Value>, Bytes)> {
            self.dec.push(bytes);
            let mut v = Vec::new();
            while let Some(m) = self.dec.next_message().unwrap() {
                if m.type_id == type_id::SET_CHUNK_SIZE {
                    let n = u32::from_be_bytes([
                        m.payload[0],
                        m.payload[1],
                        m.payload[2],
                        m.payload[3],
                    ]);
                    self.dec.set_chunk_size(n).unwrap();
                }
                let vals = if matches!(m.type_id, type_id::COMMAND_AMF0 | type_id::DATA_AMF0) {
                    amf0::decode_all(&m.payload).unwrap()
                } else {
                    Vec::new()
                };
                v.push((m.type_id, vals, m.payload));
            }
            v
        }
    }

    fn code(values: &[Amf0Value]) -> Option<&str> {
        values
            .get(3)
            .and_then(|o| o.get("code"))
            .and_then(Amf0Value::as_str)
    }

    fn connected(digest: bool) -> (ServerSession, Client) {
        let mut sess = ServerSession::new(SessionConfig::default());
        let c1 = if digest {
            client_c1_with_digest(1)
        } else {
            vec![0u8; HANDSHAKE_SIZE]
        };
        let mut c0c1 = vec![3u8];
        c0c1.extend_from_slice(&c1);
        // Byte by byte: the handshake must cope with any fragmentation.
        for b in &c0c1 {
            sess.handle_input(std::slice::from_ref(b)).unwrap();
        }
        let out = sess.take_output();
        assert_eq!(out.len(), 1 + 2 * HANDSHAKE_SIZE);
        if digest {
            assert!(verify_s2(&c1, &out[1 + HANDSHAKE_SIZE..]));
        }
        let mut client = Client::new();
        // C2 and connect in one read, as ffmpeg sends them.
        let mut input = vec![0u8; HANDSHAKE_SIZE];
        let app = Amf0Value::Object(vec![
            ("app".into(), s("live?token=abc")),
            ("tcUrl".into(), s("rtmp://h/live")),
        ]);
        input.extend(client.cmd(0, &[s("connect"), Amf0Value::Number(1.0), app]));
        sess.handle_input(&input).unwrap();
        assert!(sess.handshake_done());
        assert_eq!(sess.digest_handshake(), digest);
        let replies = client.replies(&sess.take_output());
        let types: Vec<u8> = replies.iter().map(|r| r.0).collect();
        assert_eq!(
            types,
            vec![
                type_id::WINDOW_ACK_SIZE,
                type_id::SET_PEER_BANDWIDTH,
                type_id::SET_CHUNK_SIZE,
                type_id::COMMAND_AMF0
            ]
        );
        assert_eq!(replies[3].1[0], s("_result"));
        assert_eq!(code(&replies[3].1), Some("NetConnection.Connect.Success"));
        match sess.poll_event() {
            Some(ServerEvent::Connected { app, query, .. }) => {
                assert_eq!(app, "live");
                assert_eq!(query.get("token"), Some("abc"));
            }
            other => panic!("{other:?}"),
        }
        (sess, client)
    }

    #[test]
    fn obs_style_publish_sequence() {
        for digest in [false, true] {
            let (mut sess, mut client) = connected(digest);
            let mut input = client.cmd(
                0,
                &[
                    s("releaseStream"),
                    Amf0Value::Number(2.0),
                    Amf0Value::Null,
                    s("key"),
                ],
            );
            input.extend(client.cmd(
                0,
                &[
                    s("FCPublish"),
                    Amf0Value::Number(3.0),
                    Amf0Value::Null,
                    s("key"),
                ],
            ));
            input.extend(client.cmd(
                0,
                &[s("createStream"), Amf0Value::Number(4.0), Amf0Value::Null],
            ));
            input.extend(client.cmd(
                1,
                &[
                    s("publish"),
                    Amf0Value::Number(5.0),
                    Amf0Value::Null,
                    s("key?x=1"),
                    s("live"),
                ],
            ));
            sess.handle_input(&input).unwrap();
            let replies = client.replies(&sess.take_output());
            assert_eq!(replies.len(), 3, "three _result replies");
            assert_eq!(
                replies[2].1[3],
                Amf0Value::Number(1.0),
                "createStream returns stream 1"
            );
            match sess.poll_event() {
                Some(ServerEvent::PublishRequest {
                    stream_id,
                    name,
                    query,
                }) => {
                    assert_eq!((stream_id, name.as_str()), (1, "key"));
                    assert_eq!(query.get("token"), Some("abc"));
                    assert_eq!(query.get("x"), Some("1"));
                }
                other => panic!("{other:?}"),
            }
            sess.accept_publish(1, "key");
            let replies = client.replies(&sess.take_output());
            assert_eq!(code(&replies[0].1), Some("NetStream.Publish.Start"));
        }
    }

    #[test]
    fn ping_is_answered_and_acks_follow_the_window() {
        let (mut sess, mut client) = connected(false);
        let mut input = Vec::new();
        client.enc.write(
            &mut input,
            2,
            0,
            type_id::WINDOW_ACK_SIZE,
            0,
            &1000u32.to_be_bytes(),
        );
        client.enc.write(
            &mut input,
            2,
            0,
            type_id::USER_CONTROL,
            0,
            &[0, 6, 0, 0, 0x12, 0x34],
        );
        sess.handle_input(&input).unwrap();
        let replies = client.replies(&sess.take_output());
        assert!(
            replies
                .iter()
                .any(|r| r.0 == type_id::USER_CONTROL && r.2[..] == [0, 7, 0, 0, 0x12, 0x34])
        );
        assert!(
            replies.iter().any(|r| r.0 == type_id::ACK),
            "bytes received exceed the window: an ack is due"
        );
    }

    #[test]
    fn unknown_command_gets_error_and_session_continues() {
        let (mut sess, mut client) = connected(false);
        let input = client.cmd(0, &[s("_checkbw"), Amf0Value::Number(7.0), Amf0Value::Null]);
        sess.handle_input(&input).unwrap();
        let replies = client.replies(&sess.take_output());
        assert_eq!(replies[0].1[0], s("_error"));
        let input = client.cmd(
            0,
            &[s("createStream"), Amf0Value::Number(8.0), Amf0Value::Null],
        );
        sess.handle_input(&input).unwrap();
        assert_eq!(client.replies(&sess.take_output())[0].1[0], s("_result"));
    }

    #[test]
    fn publish_before_connect_is_refused() {
        let mut sess = ServerSession::new(SessionConfig::default());
        let mut input = vec![3u8];
        input.extend_from_slice(&[0u8; 2 * HANDSHAKE_SIZE]);
        let mut client = Client::new();
        input.extend(client.cmd(
            1,
            &[
                s("publish"),
                Amf0Value::Number(0.0),
                Amf0Value::Null,
                s("x"),
            ],
        ));
        assert!(matches!(
            sess.handle_input(&input),
            Err(RtmpError::Protocol(_))
        ));
    }
}
