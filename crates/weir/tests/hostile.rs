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
