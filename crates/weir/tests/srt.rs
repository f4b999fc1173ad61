//! SRT with real peers: ffmpeg and srt-live-transmit publish and read; the output is checked
//! over every protocol Weir serves.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use weir_testkit::{self as tk, Proc, Weir};

fn weir(name: &str, extra: &str) -> Weir {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("srt-{name}"));
    Weir::start(env!("CARGO_BIN_EXE_weir"), &dir, extra)
}

/// ffmpeg sends the fixture clip, in real time and in a loop, as MPEG-TS over SRT.
fn publish_srt(url: &str) -> Proc {
    Proc::spawn(
        "ffmpeg SRT publisher",
        Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-re", "-stream_loop", "-1", "-i"])
            .arg(tk::clip())
            .args(["-c", "copy", "-f", "mpegts", url])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
}

/// ffmpeg writes the clip, in real time and in a loop, as MPEG-TS to a pipe.
fn ts_pipe() -> Proc {
    Proc::spawn(
        "ffmpeg TS pipe",
        Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-re", "-stream_loop", "-1", "-i"])
            .arg(tk::clip())
            .args(["-c", "copy", "-f", "mpegts", "pipe:1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    )
}

/// srt-live-transmit from stdin (fed by `source`) to `output`.
fn slt_from(source: &mut Proc, output: &str) -> Proc {
    let stdin = source.child.stdout.take().expect("piped stdout");
    Proc::spawn(
        "srt-live-transmit",
        Command::new("srt-live-transmit")
            .args(["-q", "-loglevel:error", "file://con", output])
            .stdin(Stdio::from(stdin))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
}

/// srt-live-transmit from `input` into a file (stdout).
fn slt_to_file(input: &str, out: &std::path::Path) -> Proc {
    let file = std::fs::File::create(out).expect("create recording");
    Proc::spawn(
        "srt-live-transmit to file",
        Command::new("srt-live-transmit")
            .args(["-q", "-loglevel:error", input, "file://con"])
            .stdout(file)
            .stderr(Stdio::null()),
    )
}

/// Stops a recorder and checks the first `seconds` of what it wrote: clean, at least 90 % of
/// the clip's video frames. Only the start is read: the file ends mid-frame, where it was cut.
fn assert_recording(mut recorder: Proc, out: &std::path::Path, seconds: u32) -> tk::Decoded {
    recorder.signal("INT");
    recorder.wait_timeout(Duration::from_secs(3));
    drop(recorder);
    let d = tk::decode(out.to_str().expect("utf-8 path"), seconds);
    let expected = u64::from(seconds * tk::FPS) * 9 / 10;
    assert!(
        d.video_frames >= expected,
        "{} of {expected} frames; {}",
        d.video_frames,
        d.errors
    );
    assert!(
        d.errors.trim().is_empty(),
        "decode errors in {}: {}",
        out.display(),
        d.errors
    );
    d
}

fn api_stream(w: &Weir, path: &str) -> serde_json::Value {
    let (_, _, body) = w.get("/api/v1/streams");
    let j: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    j["streams"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["path"] == path).cloned())
        .unwrap_or_default()
}

#[test]
fn srt_publish_plays_over_rtmp_flv_hls_and_srt() {
    tk::require("ffmpeg");
    let _p = tk::heavy();
    let mut w = weir("publish", "");
    let _pub = publish_srt(&w.srt("publish:live/venue"));
    w.wait_live("live/venue");
    let s = api_stream(&w, "live/venue");
    assert_eq!(s["protocol"], "srt", "{s}");
    tk::assert_plays(&w.srt("read:live/venue"), 6);
    tk::assert_plays(&w.rtmp("live/venue"), 6);
    tk::assert_plays(&w.http("live/venue.flv"), 5);
    w.wait_http_ok("/live/venue/index.m3u8", Duration::from_secs(15));
    tk::assert_plays(&w.http("live/venue/index.m3u8"), 5);
    // The publisher's link statistics reach the API.
    let s = api_stream(&w, "live/venue");
    let ingest = &s["ingest"];
    assert_eq!(ingest["protocol"], "srt", "{s}");
    assert!(
        ingest["packets_received"].as_u64().unwrap_or(0) > 1000,
        "{s}"
    );
    assert_eq!(ingest["continuity_errors"], 0, "{s}");
    assert_eq!(ingest["latency_ms"], 120, "{s}");
    assert!(w.alive());
}

#[test]
fn rtmp_publish_plays_over_srt_with_access_control_streamid() {
    tk::require("ffmpeg");
    let _p = tk::heavy();
    let mut w = weir("rtmp-in", "");
    let _pub = tk::publish(&w.rtmp("live/studio"));
    w.wait_live("live/studio");
    tk::assert_plays(&w.srt("#!::r=live/studio,m=request"), 6);
    assert!(w.alive());
}

#[test]
fn srt_live_transmit_publishes_and_reads() {
    tk::require("ffmpeg");
    tk::require_cmd("srt-live-transmit", &["-version"]);
    let _p = tk::heavy();
    let mut w = weir("slt", "");
    let mut pipe = ts_pipe();
    let _slt = slt_from(&mut pipe, &w.srt("publish:live/slt"));
    w.wait_live("live/slt");
    tk::assert_plays(&w.http("live/slt.flv"), 6);

    // srt-live-transmit reads it back into a file, which must hold ≥ 4 s of clean H.264 + AAC.
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("srt-slt-read.ts");
    let reader = slt_to_file(&w.srt("read:live/slt"), &out);
    std::thread::sleep(Duration::from_secs(6));
    let d = assert_recording(reader, &out, 4);
    assert!(
        d.audio_frames >= 4 * 43 * 9 / 10,
        "{} audio frames",
        d.audio_frames
    );
    assert!(w.alive());
}

#[test]
fn bad_callers_are_rejected_and_the_live_stream_goes_on() {
    tk::require("ffmpeg");
    let _p = tk::heavy();
    let mut w = weir(
        "reject",
        "[[srt.paths]]\npath = \"secure/*\"\npassphrase = \"correct-horse-battery\"\n",
    );
    let _pub = publish_srt(&w.srt("publish:live/main"));
    w.wait_live("live/main");
    let watcher = {
        let url = w.rtmp("live/main");
        std::thread::spawn(move || tk::decode(&url, 10))
    };
    let ffmpeg_fails = |url: &str| {
        let out = tk::run_bounded(
            Command::new("ffmpeg").args([
                "-nostdin", "-v", "error", "-i", url, "-t", "1", "-f", "null", "-",
            ]),
            Duration::from_secs(20),
        );
        assert!(!out.status_ok, "{url} was accepted");
    };
    // A passphrase-protected path: no passphrase, then a wrong one.
    let _secure = publish_srt(&format!(
        "{}&passphrase=correct-horse-battery",
        w.srt("publish:secure/cam")
    ));
    w.wait_live("secure/cam");
    ffmpeg_fails(&w.srt("read:secure/cam"));
    ffmpeg_fails(&format!(
        "{}&passphrase=wrong-passphrase",
        w.srt("read:secure/cam")
    ));
    // Bad streamids, an unknown stream, a busy path.
    ffmpeg_fails(&w.srt("delete:live/main"));
    ffmpeg_fails(&w.srt("read:../etc"));
    ffmpeg_fails(&w.srt("read:live/nothing"));
    let busy = tk::run_bounded(
        Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-re", "-t", "2", "-i"])
            .arg(tk::clip())
            .args(["-c", "copy", "-f", "mpegts", &w.srt("publish:live/main")]),
        Duration::from_secs(20),
    );
    assert!(
        !busy.status_ok,
        "a second publisher to live/main was accepted"
    );
    // The right passphrase plays.
    tk::assert_plays(
        &format!(
            "{}&passphrase=correct-horse-battery",
            w.srt("read:secure/cam")
        ),
        3,
    );

    let d = watcher.join().unwrap();
    assert!(
        d.video_frames >= 9 * tk::FPS as u64,
        "watcher got {} frames",
        d.video_frames
    );
    assert!(d.errors.trim().is_empty(), "watcher errors: {}", d.errors);
    let log = w.log_text();
    for reason in [
        "(bad mode)",
        "(bad request)",
        "(not found)",
        "(conflict)",
        "SRT handshake rejected by libsrt",
    ] {
        assert!(
            log.contains(reason),
            "no rejection logged as {reason:?}:\n{log}"
        );
    }
    assert!(w.alive());
}

#[test]
fn garbage_datagrams_do_not_disturb_a_live_stream() {
    tk::require("ffmpeg");
    let _p = tk::heavy();
    let mut w = weir("garbage", "");
    let _pub = publish_srt(&w.srt("publish:live/g"));
    w.wait_live("live/g");
    let port = w.srt_port;
    let spray = std::thread::spawn(move || {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut x: u32 = 12345;
        for i in 0..3000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let len = (x as usize % 1500) + 1;
            let mut d: Vec<u8> = (0..len).map(|j| (x >> (j % 24)) as u8 ^ j as u8).collect();
            if i % 3 == 0 && d.len() >= 16 {
                // Looks like an SRT control packet (handshake / keep-alive / shutdown).
                d[0] = 0x80;
                d[1] = [0, 1, 5][i as usize % 3];
            }
            let _ = s.send_to(&d, ("127.0.0.1", port));
            if i % 100 == 0 {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    });
    tk::assert_plays(&w.http("live/g.flv"), 8);
    spray.join().unwrap();
    let s = api_stream(&w, "live/g");
    assert_eq!(s["ingest"]["continuity_errors"], 0, "{s}");
    assert!(w.alive());
}

#[test]
fn five_percent_loss_at_200ms_latency_stays_clean() {
    tk::require("ffmpeg");
    let _p = tk::heavy();
    let mut w = weir("loss", "[srt]\nlatency_ms = 200\n");
    let relay = tk::LossyRelay::start(
        ([127, 0, 0, 1], w.srt_port).into(),
        5,
        Duration::from_millis(20),
        Duration::from_secs(90),
    );
    // ffmpeg's latency option is in microseconds.
    let url = format!(
        "srt://{}?streamid=publish:live/lossy&latency=200000",
        relay.addr
    );
    let _pub = publish_srt(&url);
    w.wait_live("live/lossy");
    tk::assert_plays(&w.rtmp("live/lossy"), 10);
    let lost = relay.dropped.load(std::sync::atomic::Ordering::Relaxed);
    let s = api_stream(&w, "live/lossy");
    let ingest = &s["ingest"];
    assert!(lost > 100, "the relay dropped only {lost} datagrams");
    assert!(ingest["packets_lost"].as_u64().unwrap_or(0) > 0, "{s}");
    assert!(
        ingest["packets_retransmitted"].as_u64().unwrap_or(0) > 0,
        "{s}"
    );
    assert_eq!(ingest["continuity_errors"], 0, "{s}");
    assert_eq!(ingest["packets_dropped"], 0, "{s}");
    assert!(ingest["rtt_ms"].as_f64().unwrap_or(0.0) >= 30.0, "{s}");
    assert!(w.alive());
}

#[test]
fn pull_from_and_push_to_remote_srt_listeners() {
    tk::require("ffmpeg");
    tk::require_cmd("srt-live-transmit", &["-version"]);
    let _p = tk::heavy();
    // A remote source: srt-live-transmit listening, fed by ffmpeg.
    let src_port = tk::free_udp_port();
    let mut pipe = ts_pipe();
    let _source = slt_from(
        &mut pipe,
        &format!("srt://127.0.0.1:{src_port}?mode=listener"),
    );
    // A remote destination: srt-live-transmit listening, writing what it gets to a file.
    let dst_port = tk::free_udp_port();
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("srt-push-received.ts");
    let dest = slt_to_file(&format!("srt://127.0.0.1:{dst_port}?mode=listener"), &out);
    let mut w = weir(
        "pullpush",
        &format!(
            "[[srt.pull]]\nurl = \"srt://127.0.0.1:{src_port}?latency=120\"\npath = \"live/pulled\"\n\
             [[srt.push]]\npath = \"live/pulled\"\nurl = \"srt://127.0.0.1:{dst_port}?streamid=publish:live/pulled\"\n"
        ),
    );
    w.wait_live("live/pulled");
    assert_eq!(api_stream(&w, "live/pulled")["protocol"], "srt-pull");
    tk::assert_plays(&w.http("live/pulled.flv"), 6);
    assert_recording(dest, &out, 3);
    assert!(w.alive());
}

#[test]
fn h265_and_opus_over_srt_come_back_out_over_srt_and_hls() {
    tk::require("ffmpeg");
    let _p = tk::heavy();
    let mut w = weir("hevc-opus", "");
    // A live encode (small, so that it keeps up): H.265 with B-frames and Opus audio.
    let _pub = Proc::spawn(
        "ffmpeg H.265/Opus SRT publisher",
        Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-re"])
            .args(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"])
            .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
            .args([
                "-c:v",
                "libx265",
                "-preset",
                "ultrafast",
                "-x265-params",
                "log-level=error:keyint=25:bframes=2",
            ])
            .args(["-c:a", "libopus", "-b:a", "64k", "-t", "60", "-f", "mpegts"])
            .arg(w.srt("publish:live/hevc"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    w.wait_live("live/hevc");
    let s = api_stream(&w, "live/hevc");
    let codecs: Vec<&str> = s["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["codec"].as_str())
        .collect();
    assert_eq!(codecs, ["hevc", "opus"], "{s}");
    for url in [w.srt("read:live/hevc"), w.http("live/hevc/index.m3u8")] {
        if url.ends_with(".m3u8") {
            w.wait_http_ok("/live/hevc/index.m3u8", Duration::from_secs(20));
        }
        let streams = tk::probe(&url);
        let v = streams
            .iter()
            .find(|s| s.kind == "video")
            .unwrap_or_else(|| panic!("{url}: {streams:?}"));
        assert_eq!(
            (v.codec.as_str(), v.width, v.height),
            ("hevc", 320, 240),
            "{url}"
        );
        assert!(
            streams.iter().any(|s| s.codec == "opus"),
            "{url}: {streams:?}"
        );
        let d = tk::decode(&url, 4);
        assert!(
            d.video_frames >= 4 * 25 * 9 / 10,
            "{url}: {} video frames; {}",
            d.video_frames,
            d.errors
        );
        // Opus frames are 20 ms.
        assert!(
            d.audio_frames >= 4 * 50 * 9 / 10,
            "{url}: {} audio frames",
            d.audio_frames
        );
        assert!(d.errors.trim().is_empty(), "{url}: {}", d.errors);
    }
    assert!(w.alive());
}
