//! The RTMP client session against the server session, entirely in memory: bytes are pumped
//! both ways in pieces of any size, down to one byte.

use bytes::Bytes;
use proptest::prelude::*;
use weir_flv::amf0::Amf0Value;
use weir_rtmp::chunk::{ChunkDecoder, RawMessage};
use weir_rtmp::handshake::HANDSHAKE_SIZE;
use weir_rtmp::message::type_id;
use weir_rtmp::{
    ClientConfig, ClientEvent, ClientSession, RtmpError, ServerEvent, ServerSession, SessionConfig,
};

/// Decodes one direction of a connection (after its handshake bytes), following Set Chunk
/// Size, to see the protocol messages a side sent.
struct Tap {
    skip: usize,
    dec: ChunkDecoder,
    msgs: Vec<RawMessage>,
}

impl Tap {
    /// `handshake`: bytes before the chunk stream (C0+C1+C2 or S0+S1+S2).
    fn new(handshake: usize) -> Self {
        Self {
            skip: handshake,
            dec: ChunkDecoder::new(),
            msgs: Vec::new(),
        }
    }
    fn feed(&mut self, mut b: &[u8]) {
        let k = self.skip.min(b.len());
        self.skip -= k;
        b = &b[k..];
        self.dec.push(b);
        while let Some(m) = self.dec.next_message().unwrap() {
            if m.type_id == type_id::SET_CHUNK_SIZE {
                let p = &m.payload;
                self.dec
                    .set_chunk_size(u32::from_be_bytes([p[0], p[1], p[2], p[3]]))
                    .unwrap();
            }
            self.msgs.push(m);
        }
    }
    fn count(&self, t: u8) -> usize {
        self.msgs.iter().filter(|m| m.type_id == t).count()
    }
}

/// A client and a server session joined in memory.
struct Link {
    client: ClientSession,
    server: ServerSession,
    /// Sizes of the pieces bytes travel in, used in turn.
    sizes: Vec<usize>,
    next: usize,
    client_events: Vec<ClientEvent>,
    server_events: Vec<ServerEvent>,
    /// What the client sent, decoded.
    up: Tap,
    /// What the server sent, decoded.
    down: Tap,
}

impl Link {
    fn new(server_cfg: SessionConfig, sizes: Vec<usize>) -> Self {
        Self {
            client: ClientSession::new(ClientConfig::new(
                "live?token=abc",
                "rtmp://127.0.0.1:1935/live?token=abc",
            )),
            server: ServerSession::new(server_cfg),
            sizes,
            next: 0,
            client_events: Vec::new(),
            server_events: Vec::new(),
            up: Tap::new(1 + 2 * HANDSHAKE_SIZE),
            down: Tap::new(1 + 2 * HANDSHAKE_SIZE),
        }
    }

    fn piece(&mut self) -> usize {
        let n = self.sizes[self.next % self.sizes.len()];
        self.next += 1;
        n.max(1)
    }

    /// Moves bytes both ways until both sides are quiet. `serve` answers each server event
    /// (and sees it before it is recorded).
    fn pump(&mut self, mut serve: impl FnMut(&mut ServerSession, &ServerEvent)) {
        loop {
            let up = self.client.take_output();
            let down = self.server.take_output();
            if up.is_empty() && down.is_empty() {
                break;
            }
            self.up.feed(&up);
            self.down.feed(&down);
            let mut rest = &up[..];
            while !rest.is_empty() {
                let n = self.piece().min(rest.len());
                self.server.handle_input(&rest[..n]).unwrap();
                rest = &rest[n..];
                while let Some(ev) = self.server.poll_event() {
                    serve(&mut self.server, &ev);
                    self.server_events.push(ev);
                }
            }
            let mut rest = &down[..];
            while !rest.is_empty() {
                let n = self.piece().min(rest.len());
                self.client.handle_input(&rest[..n]).unwrap();
                rest = &rest[n..];
                while let Some(ev) = self.client.poll_event() {
                    self.client_events.push(ev);
                }
            }
        }
    }
}

fn body(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| seed.wrapping_add(i as u8)).collect()
}

fn meta() -> Vec<Amf0Value> {
    vec![
        Amf0Value::String("onMetaData".into()),
        Amf0Value::EcmaArray(vec![
            ("width".into(), Amf0Value::Number(1280.0)),
            ("height".into(), Amf0Value::Number(720.0)),
        ]),
    ]
}

/// The media a test server plays or a test client publishes: (video?, timestamp, body).
/// Bodies up to 10 000 bytes span several chunks at any chunk size used here.
fn media() -> Vec<(bool, u32, Vec<u8>)> {
    let mut v = Vec::new();
    for i in 0..12u32 {
        v.push((
            true,
            i * 33,
            body(i as u8, if i % 6 == 0 { 10_000 } else { 700 }),
        ));
        v.push((false, i * 23, body(100 + i as u8, 300)));
    }
    v
}

/// Answers a play request the way Weir's server does, plays [`media`] and ends the stream.
fn serve_play(server: &mut ServerSession, ev: &ServerEvent) {
    if let ServerEvent::PlayRequest {
        stream_id, name, ..
    } = ev
    {
        server.accept_play(*stream_id, name);
        server.send_data(*stream_id, &meta());
        for (video, ts, b) in media() {
            server.send_media(*stream_id, video, ts, &b);
        }
        server.end_play(*stream_id, name);
    }
}

fn serve_publish(server: &mut ServerSession, ev: &ServerEvent) {
    if let ServerEvent::PublishRequest {
        stream_id, name, ..
    } = ev
    {
        server.accept_publish(*stream_id, name);
    }
}

fn expected_play_events() -> Vec<ClientEvent> {
    let mut v = vec![
        ClientEvent::Connected,
        ClientEvent::StreamCreated { stream_id: 1 },
        ClientEvent::Status {
            level: "status".into(),
            code: "NetStream.Play.Reset".into(),
            description: "Playing and resetting cam.".into(),
        },
        ClientEvent::PlayStarted { stream_id: 1 },
        ClientEvent::Metadata(meta()),
    ];
    for (video, timestamp, b) in media() {
        let body = Bytes::from(b);
        v.push(if video {
            ClientEvent::Video { timestamp, body }
        } else {
            ClientEvent::Audio { timestamp, body }
        });
    }
    v.push(ClientEvent::Unpublished { stream_id: 1 });
    v.push(ClientEvent::StreamEof { stream_id: 1 });
    v
}

fn play_run(sizes: Vec<usize>) -> Link {
    let mut link = Link::new(SessionConfig::default(), sizes);
    link.client.play("cam?x=1").unwrap();
    link.pump(serve_play);
    link
}

#[test]
fn plays_from_the_server_session_byte_by_byte() {
    let link = play_run(vec![1]);
    assert_eq!(link.client_events, expected_play_events());
    assert!(link.client.active() && link.client.connected());
    assert_eq!(link.client.stream_id(), Some(1));
    match &link.server_events[..] {
        [
            ServerEvent::Connected {
                app, query, tc_url, ..
            },
            ServerEvent::PlayRequest {
                stream_id: 1,
                name,
                query: q2,
            },
        ] => {
            assert_eq!(app, "live");
            assert_eq!(query.get("token"), Some("abc"));
            assert_eq!(
                tc_url.as_deref(),
                Some("rtmp://127.0.0.1:1935/live?token=abc")
            );
            assert_eq!(name, "cam");
            assert_eq!(q2.get("x"), Some("1"));
        }
        other => panic!("{other:?}"),
    }
    // Set Chunk Size, Set Buffer Length, then the client answered Set Peer Bandwidth.
    assert_eq!(link.up.count(type_id::SET_CHUNK_SIZE), 1);
    assert_eq!(link.up.count(type_id::WINDOW_ACK_SIZE), 1);
    assert_eq!(link.up.count(type_id::USER_CONTROL), 1);
}

#[test]
fn plays_in_one_piece_too() {
    assert_eq!(
        play_run(vec![usize::MAX]).client_events,
        expected_play_events()
    );
}

#[test]
fn publishes_to_the_server_session_byte_by_byte() {
    for sizes in [vec![1], vec![usize::MAX], vec![7, 1, 300, 4096]] {
        let mut link = Link::new(SessionConfig::default(), sizes);
        link.client.publish("key?x=1").unwrap();
        link.pump(serve_publish);
        assert_eq!(
            link.client_events,
            vec![
                ClientEvent::Connected,
                ClientEvent::StreamCreated { stream_id: 1 },
                ClientEvent::PublishStarted { stream_id: 1 },
            ]
        );
        let props = meta()[1].clone();
        link.client.send_metadata(props).unwrap();
        for (video, ts, b) in media() {
            if video {
                link.client.send_video(ts, &b).unwrap();
            } else {
                link.client.send_audio(ts, &b).unwrap();
            }
        }
        link.pump(|_, _| {});
        link.client.close();
        assert!(link.client.send_video(1000, &[1]).is_err(), "closed");
        link.pump(|_, _| {});
        let mut expected = vec![ServerEvent::Metadata(meta())];
        for (video, timestamp, b) in media() {
            let body = Bytes::from(b);
            expected.push(if video {
                ServerEvent::Video { timestamp, body }
            } else {
                ServerEvent::Audio { timestamp, body }
            });
        }
        expected.push(ServerEvent::StreamClosed { stream_id: 1 });
        // Connected and PublishRequest come first.
        assert!(matches!(
            &link.server_events[..2],
            [
                ServerEvent::Connected { .. },
                ServerEvent::PublishRequest { stream_id: 1, name, .. }
            ] if name == "key"
        ));
        assert_eq!(link.server_events[2..], expected[..]);
    }
}

#[test]
fn acknowledgements_follow_the_windows_both_ways() {
    let cfg = SessionConfig {
        window_ack_size: 1000,
        ..SessionConfig::default()
    };
    // Playing: the server announces a 1000-byte window; the client acks about every 1000 bytes.
    let mut link = Link::new(cfg.clone(), vec![333]);
    link.client.play("cam").unwrap();
    link.pump(serve_play);
    let acks: Vec<u32> = link
        .up
        .msgs
        .iter()
        .filter(|m| m.type_id == type_id::ACK)
        .map(|m| u32::from_be_bytes([m.payload[0], m.payload[1], m.payload[2], m.payload[3]]))
        .collect();
    let received = link.client.bytes_received();
    assert!(
        acks.len() as u64 >= received / 1400,
        "{} acks for {received} bytes",
        acks.len()
    );
    assert!(acks.windows(2).all(|w| w[1] >= w[0] + 1000));
    assert!(*acks.last().unwrap() as u64 <= received);
    // Publishing: the client answers Set Peer Bandwidth with the same window, so the server acks.
    let mut link = Link::new(cfg, vec![500]);
    link.client.publish("cam").unwrap();
    link.pump(serve_publish);
    for (video, ts, b) in media() {
        if video {
            link.client.send_video(ts, &b).unwrap();
        } else {
            link.client.send_audio(ts, &b).unwrap();
        }
    }
    link.pump(|_, _| {});
    let window = link
        .up
        .msgs
        .iter()
        .find(|m| m.type_id == type_id::WINDOW_ACK_SIZE)
        .expect("window ack size sent");
    assert_eq!(&window.payload[..], &1000u32.to_be_bytes());
    assert!(link.down.count(type_id::ACK) >= 10);
}

#[test]
fn a_refused_play_is_an_error_event() {
    let mut link = Link::new(SessionConfig::default(), vec![5]);
    link.client.play("missing").unwrap();
    link.pump(|server, ev| {
        if let ServerEvent::PlayRequest { stream_id, .. } = ev {
            server.reject(
                *stream_id,
                "NetStream.Play.StreamNotFound",
                "live/missing is not live",
            );
        }
    });
    assert_eq!(
        link.client_events.last(),
        Some(&ClientEvent::Error {
            code: "NetStream.Play.StreamNotFound".into(),
            description: "live/missing is not live".into(),
        })
    );
    assert!(link.client.failed() && !link.client.active());
}

#[test]
fn play_may_be_asked_for_after_connect() {
    let mut link = Link::new(SessionConfig::default(), vec![64]);
    link.pump(serve_play);
    assert_eq!(link.client_events, vec![ClientEvent::Connected]);
    link.client.play("cam").unwrap();
    link.pump(serve_play);
    assert_eq!(link.client_events, expected_play_events());
}

#[test]
fn server_pings_are_answered() {
    let mut link = Link::new(SessionConfig::default(), vec![usize::MAX]);
    link.pump(|_, _| {});
    // A Ping Request, sent by hand on the control chunk stream (fmt 0, csid 2).
    let mut ping = vec![0x02, 0, 0, 0, 0, 0, 6, type_id::USER_CONTROL, 0, 0, 0, 0];
    ping.extend_from_slice(&[0, 6, 0, 0, 0x12, 0x34]);
    link.client.handle_input(&ping).unwrap();
    let out = link.client.take_output();
    link.up.feed(&out);
    let last = link.up.msgs.last().unwrap();
    assert_eq!(last.type_id, type_id::USER_CONTROL);
    assert_eq!(&last.payload[..], &[0, 7, 0, 0, 0x12, 0x34]);
}

#[test]
fn the_decoder_limits_hold_for_the_client() {
    let mut c = ClientSession::new(ClientConfig::new("live", "rtmp://h/live"));
    let mut input = vec![3u8];
    input.extend_from_slice(&[0u8; 2 * HANDSHAKE_SIZE]);
    c.handle_input(&input).unwrap();
    assert!(c.handshake_done());
    // A video message declaring 9 MiB.
    let r = c.handle_input(&[0x06, 0, 0, 0, 0x90, 0, 0, 9, 1, 0, 0, 0]);
    assert!(matches!(r, Err(RtmpError::Chunk(_))), "{r:?}");
    // A bad Set Chunk Size.
    let mut c = ClientSession::new(ClientConfig::new("live", "rtmp://h/live"));
    c.handle_input(&input).unwrap();
    let r = c.handle_input(&[0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert!(matches!(r, Err(RtmpError::Chunk(_))), "{r:?}");
    // Undecodable AMF0 in a command.
    let mut c = ClientSession::new(ClientConfig::new("live", "rtmp://h/live"));
    c.handle_input(&input).unwrap();
    let r = c.handle_input(&[
        0x03,
        0,
        0,
        0,
        0,
        0,
        1,
        type_id::COMMAND_AMF0,
        0,
        0,
        0,
        0,
        0x0d,
    ]);
    assert!(matches!(r, Err(RtmpError::Amf0 { .. })), "{r:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_splits_do_not_change_the_events(
        sizes in proptest::collection::vec(1usize..5000, 1..40),
    ) {
        let link = play_run(sizes.clone());
        prop_assert_eq!(link.client_events, expected_play_events());
        let mut link = Link::new(SessionConfig::default(), sizes);
        link.client.publish("key").unwrap();
        link.pump(serve_publish);
        for (video, ts, b) in media() {
            if video {
                link.client.send_video(ts, &b).unwrap();
            } else {
                link.client.send_audio(ts, &b).unwrap();
            }
        }
        link.pump(|_, _| {});
        let got: Vec<(u32, usize)> = link.server_events.iter().filter_map(|e| match e {
            ServerEvent::Video { timestamp, body } | ServerEvent::Audio { timestamp, body } => {
                Some((*timestamp, body.len()))
            }
            _ => None,
        }).collect();
        let want: Vec<(u32, usize)> = media().iter().map(|(_, t, b)| (*t, b.len())).collect();
        prop_assert_eq!(got, want);
    }
}
