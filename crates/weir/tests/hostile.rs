//! Bad input: hostile RTMP and HTTP clients while a real stream flows. Each gets a clear error
//! and a closed connection; the stream keeps playing and the server stays up.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use weir_flv::amf0::{self, Amf0Value};
use weir_rtmp::chunk::{ChunkDecoder, ChunkEncoder, RawMessage};
use weir_rtmp::handshake::HANDSHAKE_SIZE;
use weir_testkit::{self as tk, Weir};

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads until the server closes the connection; returns what it sent and how long it took.
fn read_until_closed(s: &mut TcpStream) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("server did not close the connection: {e}"),
        }
    }
    (all, start.elapsed())
}

/// Completes a plain handshake and returns the stream (S0+S1+S2 consumed).
fn handshake(port: u16) -> TcpStream {
    let mut s = connect(port);
    let mut c0c1 = vec![3u8];
    c0c1.extend_from_slice(&[0u8; HANDSHAKE_SIZE]);
    s.write_all(&c0c1).unwrap();
    let mut s0s1s2 = vec![0u8; 1 + 2 * HANDSHAKE_SIZE];
    s.read_exact(&mut s0s1s2).unwrap();
    s.write_all(&[0u8; HANDSHAKE_SIZE]).unwrap();
    s
}

fn command(enc: &mut ChunkEncoder, out: &mut Vec<u8>, stream_id: u32, values: &[Amf0Value]) {
    enc.write(out, 3, 0, 20, stream_id, &amf0::encode_all(values));
}

fn s(v: &str) -> Amf0Value {
    Amf0Value::String(v.into())
}

fn messages(bytes: &[u8]) -> Vec<RawMessage> {
    let mut dec = ChunkDecoder::new();
    dec.push(bytes);
    let mut v = Vec::new();
    while let Ok(Some(m)) = dec.next_message() {
        if m.type_id == 1 {
            let size = u32::from_be_bytes([m.payload[0], m.payload[1], m.payload[2], m.payload[3]]);
            let _ = dec.set_chunk_size(size);
        }
        v.push(m);
    }
    v
}

fn status_codes(bytes: &[u8]) -> Vec<String> {
    messages(bytes)
        .iter()
        .filter(|m| m.type_id == 20)
        .filter_map(|m| amf0::decode_all(&m.payload).ok())
        .filter_map(|v| {
            v.get(3)
                .and_then(|o| o.get("code"))
                .and_then(|c| c.as_str())
                .map(str::to_owned)
        })
        .collect()
}

#[test]
fn hostile_clients_do_not_disturb_a_live_stream() {
    tk::require("ffmpeg");
    let _p = tk::heavy();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hostile");
    let mut w = Weir::start(
        env!("CARGO_BIN_EXE_weir"),
        &dir,
        "[rtmp]\nhandshake_timeout_ms = 2000\n",
    );
    let port = w.rtmp_port;
    let _pub = tk::publish(&w.rtmp("live/steady"));
    assert!(
        tk::wait_until(Duration::from_secs(15), || w
            .log_text()
            .contains("aac 44100")),
        "{}",
        w.log_text()
    );
    // A reader runs through the whole attack.
    let url = w.rtmp("live/steady");
    let watcher = std::thread::spawn(move || tk::decode(&url, 12));

    // 1. Garbage on the RTMP port.
    let mut c = connect(port);
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let (_, t) = read_until_closed(&mut c);
    assert!(t < Duration::from_secs(2));

    // 2. A handshake cut off halfway, then silence: closed at the handshake timeout.
    let mut c = connect(port);
    c.write_all(&[3u8; 700]).unwrap();
    let (_, t) = read_until_closed(&mut c);
    assert!(t < Duration::from_secs(6), "half handshake held for {t:?}");
    // ...and one that disconnects mid-handshake.
    let mut c = connect(port);
    c.write_all(&[3u8; 100]).unwrap();
    drop(c);

    // 3. Set Chunk Size 0, and above the spec's maximum.
    for size in [0u32, 0x8000_0000] {
        let mut c = handshake(port);
        let mut out = Vec::new();
        ChunkEncoder::new().write(&mut out, 2, 0, 1, 0, &size.to_be_bytes());
        c.write_all(&out).unwrap();
        let (_, t) = read_until_closed(&mut c);
        assert!(t < Duration::from_secs(2));
    }

    // 4. A message length above the limit (12 MiB).
    let mut c = handshake(port);
    c.write_all(&[0x04, 0, 0, 0, 0xC0, 0, 0, 9, 1, 0, 0, 0])
        .unwrap();
    let (_, t) = read_until_closed(&mut c);
    assert!(t < Duration::from_secs(2));

    // 5. An unknown AMF0 marker (0x0D, "unsupported") in a command.
    let mut c = handshake(port);
    let mut payload = amf0::encode_all(&[s("connect"), Amf0Value::Number(1.0)]);
    payload.push(0x0D);
    let mut out = Vec::new();
    ChunkEncoder::new().write(&mut out, 3, 0, 20, 0, &payload);
    c.write_all(&out).unwrap();
    let (_, t) = read_until_closed(&mut c);
    assert!(t < Duration::from_secs(2));

    // 6. A malformed command (connect without an app) gets an _error reply, then the close.
    let mut c = handshake(port);
    let mut out = Vec::new();
    command(
        &mut ChunkEncoder::new(),
        &mut out,
        0,
        &[s("connect"), Amf0Value::Number(1.0), Amf0Value::Null],
    );
    c.write_all(&out).unwrap();
    let (reply, _) = read_until_closed(&mut c);
    let names: Vec<String> = messages(&reply)
        .iter()
        .filter_map(|m| amf0::decode_all(&m.payload).ok())
        .filter_map(|v| v.first().and_then(|n| n.as_str()).map(str::to_owned))
        .collect();
    assert!(
        names.contains(&"_error".to_owned()),
        "no _error reply: {names:?}"
    );

    // 7. Play a stream that does not exist: NetStream.Play.StreamNotFound, then the close.
    let mut c = handshake(port);
    let mut enc = ChunkEncoder::new();
    let mut out = Vec::new();
    let app = Amf0Value::Object(vec![
        ("app".into(), s("live")),
        ("tcUrl".into(), s("rtmp://127.0.0.1/live")),
    ]);
    command(
        &mut enc,
        &mut out,
        0,
        &[s("connect"), Amf0Value::Number(1.0), app],
    );
    command(
        &mut enc,
        &mut out,
        0,
        &[s("createStream"), Amf0Value::Number(2.0), Amf0Value::Null],
    );
    command(
        &mut enc,
        &mut out,
        1,
        &[
            s("play"),
            Amf0Value::Number(0.0),
            Amf0Value::Null,
            s("missing"),
        ],
    );
    c.write_all(&out).unwrap();
    let (reply, _) = read_until_closed(&mut c);
    let codes = status_codes(&reply);
    assert!(
        codes.contains(&"NetConnection.Connect.Success".to_owned()),
        "{codes:?}"
    );
    assert!(
        codes.contains(&"NetStream.Play.StreamNotFound".to_owned()),
        "{codes:?}"
    );

    // 8. HTTP paths with '..' (plain and encoded) get a 400.
    for p in [
        "/live/../../etc/passwd",
        "/live/%2e%2e/steady.flv",
        "/..%2f..%2fetc/passwd",
    ] {
        let (status, _, body) = w.get(p);
        assert_eq!(status, 400, "{p}: {}", String::from_utf8_lossy(&body));
    }
    // 9. A flood of garbage connections.
    for _ in 0..50 {
        let mut c = connect(port);
        let _ = c.write_all(&[0xFFu8; 3000]);
    }

    // The stream kept flowing for the reader, and the server is up.
    let d = watcher.join().unwrap();
    assert!(
        d.errors.trim().is_empty(),
        "the watcher saw errors: {}",
        d.errors
    );
    assert!(
        d.video_frames >= 12 * 30 * 9 / 10,
        "the watcher got {} frames",
        d.video_frames
    );
    assert!(w.alive(), "server died");
    let log = w.log_text();
    for needle in [
        "not RTMP",
        "invalid chunk size",
        "exceeds the limit",
        "AMF0 marker",
        "missing 'app'",
        "live/missing not found",
        "handshake and connect not finished",
    ] {
        assert!(
            log.to_lowercase().contains(&needle.to_lowercase()),
            "no log line with {needle:?}; log:\n{log}"
        );
    }
}

/// A TCP connection with a small receive buffer, so that a peer that stops reading fills it
/// quickly.
fn small_window_connect(port: u16) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    s.set_recv_buffer_size(4096).unwrap();
    s.connect(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into())
        .unwrap();
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// RTMP play up to NetStream.Play.Start, then the caller stops reading.
fn rtmp_play_then_stall(port: u16, url: &str) -> TcpStream {
    use weir_rtmp::{ClientEvent, ClientSession, RtmpUrl};
    let url = RtmpUrl::parse(url).unwrap();
    let mut s = small_window_connect(port);
    let mut session = ClientSession::new(url.config());
    session.play(&url.stream).unwrap();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "play did not start");
        if session.has_output() {
            s.write_all(&session.take_output()).unwrap();
        }
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "server closed before the play started");
        session.handle_input(&buf[..n]).unwrap();
        while let Some(ev) = session.poll_event() {
            if let ClientEvent::PlayStarted { .. } = ev {
                return s;
            }
        }
    }
}

/// The API's `stalled_closed` counters (RTMP, HTTP).
fn stalled_closed(w: &Weir) -> (u64, u64) {
    let (_, _, body) = w.get("/api/v1/streams");
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let c = &v["stalled_closed"];
    (c["rtmp"].as_u64().unwrap(), c["http"].as_u64().unwrap())
}

/// Viewers that stop reading (an RTMP player and an HTTP-FLV viewer) are disconnected after the
/// write timeout and counted, while a healthy viewer of the same stream decodes throughout.
#[test]
fn stalled_viewers_are_closed_and_counted() {
    tk::require("ffmpeg");
    let _p = tk::heavy();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("stalled");
    let w = Weir::start(
        env!("CARGO_BIN_EXE_weir"),
        &dir,
        "[rtmp]\nwrite_timeout_ms = 1500\n[http]\nwrite_timeout_ms = 1500\n",
    );
    let _pub = tk::publish(&w.rtmp("live/s"));
    w.wait_live("live/s");
    let url = w.http("live/s.flv");
    let watcher = std::thread::spawn(move || tk::decode(&url, 12));

    let _rtmp = rtmp_play_then_stall(w.rtmp_port, &w.rtmp("live/s"));
    let mut http = small_window_connect(w.http_port);
    http.write_all(b"GET /live/s.flv HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut head = [0u8; 512];
    let n = http.read(&mut head).unwrap();
    assert!(
        head[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head[..n])
    );
    // Neither reads from here on.
    assert_eq!(stalled_closed(&w), (0, 0));
    assert!(
        tk::wait_until(Duration::from_secs(20), || stalled_closed(&w) == (1, 1)),
        "stalled viewers not closed and counted: {:?}\n{}",
        stalled_closed(&w),
        w.log_text()
    );
    let log = w.log_text();
    assert!(log.contains("player socket blocked"), "{log}");
    assert!(log.contains("HTTP client took nothing"), "{log}");
    let d = watcher.join().unwrap();
    assert!(
        d.video_frames >= 12 * 30 * 9 / 10 && d.errors.is_empty(),
        "the healthy viewer suffered: {d:?}"
    );
}
