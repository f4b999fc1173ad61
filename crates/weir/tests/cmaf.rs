//! CMAF outputs with real peers: fMP4 HLS, LL-HLS and DASH decoded by ffmpeg; LL-HLS blocking
//! reload, delta updates and preload-hinted parts over raw HTTP.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use weir_testkit::{self as tk, Weir};

fn weir(name: &str, extra: &str) -> Weir {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cmaf-{name}"));
    Weir::start(env!("CARGO_BIN_EXE_weir"), &dir, extra)
}

fn get_text(w: &Weir, path: &str) -> (u16, String) {
    let (status, _, body) = w.get(path);
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The last complete part of the open segment, from the preload hint: (msn, next part index).
fn preload_hint(playlist: &str) -> (u64, usize) {
    let line = playlist
        .lines()
        .find(|l| l.starts_with("#EXT-X-PRELOAD-HINT"))
        .unwrap_or_else(|| panic!("no preload hint in\n{playlist}"));
    let uri = line
        .split("URI=\"")
        .nth(1)
        .and_then(|s| s.strip_suffix('"'))
        .expect("hint URI");
    let (msn, idx) = uri
        .strip_prefix("part")
        .and_then(|s| s.strip_suffix(".m4s"))
        .and_then(|s| s.split_once('.'))
        .expect("part URI");
    (msn.parse().unwrap(), idx.parse().unwrap())
}

#[test]
fn fmp4_hls_ll_hls_and_dash_decode_cleanly() {
    tk::require("ffmpeg");
    let _p = tk::heavy();
    let mut w = weir("decode", "");
    let _pub = tk::publish(&w.rtmp("live/c"));
    w.wait_live("live/c");
    for (name, path) in [
        ("fMP4 HLS", "/live/c/fmp4.m3u8"),
        ("LL-HLS", "/live/c/ll.m3u8"),
        ("DASH", "/live/c/index.mpd"),
    ] {
        w.wait_http_ok(path, Duration::from_secs(15));
        let url = w.http(path.trim_start_matches('/'));
        tk::assert_plays(&url, 5);
        eprintln!("{name} plays");
    }
    // Init segments and DASH per-track files are fMP4 with the right brands and boxes.
    let (status, headers, init) = w.get("/live/c/init.mp4");
    assert_eq!(status, 200);
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("content-type: video/mp4"),
        "{headers}"
    );
    assert_eq!(&init[4..8], b"ftyp");
    // HTTP/2 (prior knowledge, as CDNs and curl use it) and HTTP/1.1 keep-alive both work.
    let out = tk::run_bounded(
        std::process::Command::new("curl").args([
            "-s",
            "--http2-prior-knowledge",
            "-o",
            "/dev/null",
            "-w",
            "%{http_version} %{response_code}",
            &w.http("live/c/fmp4.m3u8"),
        ]),
        Duration::from_secs(10),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "2 200",
        "{}",
        out.stderr
    );
    // Completed segments carry Last-Modified and an immutable cache lifetime.
    let (_, pl) = get_text(&w, "/live/c/fmp4.m3u8");
    let seg = pl.lines().find(|l| l.ends_with(".m4s")).expect("a segment");
    let (status, headers, _) = w.get(&format!("/live/c/{seg}"));
    assert_eq!(status, 200);
    let h = headers.to_ascii_lowercase();
    assert!(
        h.contains("last-modified: ") && h.contains("cache-control: public, max-age=3600"),
        "{headers}"
    );
    let (_, headers, _) = w.get("/live/c/fmp4.m3u8");
    assert!(
        headers.to_ascii_lowercase().contains("etag: \"v"),
        "{headers}"
    );
    let (status, headers, _) = w.get("/live/c/dash/1/init.mp4");
    assert_eq!(status, 200, "{headers}");
    let (status, _, v_init) = w.get("/live/c/dash/1/init.mp4");
    assert_eq!(status, 200);
    assert!(v_init.windows(4).any(|b| b == b"avc1"));
    assert!(
        !v_init.windows(4).any(|b| b == b"mp4a"),
        "the video init holds audio too"
    );
    assert!(w.alive());
}

#[test]
fn ll_hls_blocks_streams_parts_and_skips() {
    let _p = tk::heavy();
    // Short segments so that delta updates have something to skip within a few seconds.
    let mut w = weir(
        "ll",
        "[hls]\ntarget_duration_ms = 1000\nwindow_segments = 12\n",
    );
    let _pub = tk::publish(&w.rtmp("live/ll"));
    w.wait_live("live/ll");
    w.wait_http_ok("/live/ll/ll.m3u8", Duration::from_secs(15));
    let (_, pl) = get_text(&w, "/live/ll/ll.m3u8");
    for tag in [
        "#EXT-X-VERSION:9",
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6.000,PART-HOLD-BACK=1.002",
        "#EXT-X-PART-INF:PART-TARGET=0.334",
        "#EXT-X-MAP:URI=\"init.mp4\"",
        "#EXT-X-PROGRAM-DATE-TIME:",
        ",INDEPENDENT=YES",
    ] {
        assert!(pl.contains(tag), "no {tag} in\n{pl}");
    }
    // Every part is at most the part target.
    for l in pl
        .lines()
        .filter(|l| l.starts_with("#EXT-X-PART:DURATION="))
    {
        let d: f64 = l["#EXT-X-PART:DURATION=".len()..]
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!((0.2..=0.334).contains(&d), "{l}");
    }

    // Blocking reload: ask for the part after the hinted one; it comes within about two parts.
    let (msn, idx) = preload_hint(&pl);
    let t = Instant::now();
    let (status, blocked) = get_text(
        &w,
        &format!("/live/ll/ll.m3u8?_HLS_msn={msn}&_HLS_part={}", idx + 1),
    );
    let waited = t.elapsed();
    assert_eq!(status, 200, "{blocked}");
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_millis(1500),
        "blocked {waited:?}"
    );
    let (msn2, idx2) = preload_hint(&blocked);
    assert!(
        (msn2, idx2) > (msn, idx + 1),
        "({msn2},{idx2}) after asking for ({msn},{})",
        idx + 1
    );

    // The preload-hinted part is served as soon as it is written, from a request made before.
    let t = Instant::now();
    let (status, _, part) = w.get(&format!("/live/ll/part{msn2}.{idx2}.m4s"));
    assert_eq!(status, 200);
    assert!(
        t.elapsed() < Duration::from_millis(1000),
        "part took {:?}",
        t.elapsed()
    );
    assert!(part.windows(4).any(|b| b == b"moof") && part.windows(4).any(|b| b == b"mdat"));

    // Malformed numbers: 400.
    for q in ["_HLS_msn=abc", "_HLS_msn=1&_HLS_part=-1", "_HLS_part=2"] {
        let (status, _) = get_text(&w, &format!("/live/ll/ll.m3u8?{q}"));
        assert_eq!(status, 400, "{q}");
    }
    // Far ahead: 400 at once.
    let t = Instant::now();
    let (status, _) = get_text(&w, &format!("/live/ll/ll.m3u8?_HLS_msn={}", msn + 10));
    assert_eq!(status, 400);
    assert!(t.elapsed() < Duration::from_millis(500));

    // Delta update once segments older than CAN-SKIP-UNTIL (6 s) exist.
    let ok = tk::wait_until(Duration::from_secs(20), || {
        get_text(&w, "/live/ll/ll.m3u8?_HLS_skip=YES")
            .1
            .contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=")
    });
    assert!(
        ok,
        "no delta update; last:\n{}",
        get_text(&w, "/live/ll/ll.m3u8?_HLS_skip=YES").1
    );
    assert!(w.alive());
}

/// Opens `n` blocking playlist requests for a part that does not exist yet, checks the server
/// spends almost no CPU while they wait, and that every one is answered once the part appears.
#[test]
fn a_thousand_blocking_requests_are_cheap() {
    let _p = tk::heavy();
    let mut w = weir("thousand", "");
    let _pub = tk::publish(&w.rtmp("live/k"));
    w.wait_live("live/k");
    w.wait_http_ok("/live/k/ll.m3u8", Duration::from_secs(15));
    let (_, pl) = get_text(&w, "/live/k/ll.m3u8");
    let (msn, _) = preload_hint(&pl);
    // The first part of the segment after next: about 2 to 4 s away.
    let target = format!("/live/k/ll.m3u8?_HLS_msn={}&_HLS_part=0", msn + 1);
    let n = 1000;
    let mut socks: Vec<TcpStream> = (0..n)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", w.http_port)).expect("connect");
            write!(
                s,
                "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            s
        })
        .collect();
    let pid = w.proc.child.id();
    let cpu = || tk::proc_cpu_seconds(pid);
    std::thread::sleep(Duration::from_millis(300));
    let c0 = cpu();
    std::thread::sleep(Duration::from_secs(1));
    let idle_cpu = cpu() - c0;
    eprintln!("{n} waiting requests: {idle_cpu:.3} s of server CPU in 1 s");
    // The publisher and packagers use some; a busy loop per request would use far more.
    assert!(
        idle_cpu < 0.25,
        "{n} waiting requests cost {idle_cpu:.2} s of CPU in 1 s"
    );
    let mut ok = 0;
    for s in &mut socks {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        if buf.starts_with(b"HTTP/1.1 200")
            && String::from_utf8_lossy(&buf).contains(&format!("part{}.0.m4s", msn + 1))
        {
            ok += 1;
        }
    }
    assert_eq!(
        ok, n,
        "only {ok} of {n} blocking requests were answered with the part"
    );
    assert!(w.alive());
}

/// Low-latency DASH: the MPD announces the segment being written, which is sent as it grows.
#[test]
fn low_latency_dash_streams_the_open_segment() {
    let _p = tk::heavy();
    let mut w = weir("lldash", "[hls]\ndash_low_latency = true\n");
    let _pub = tk::publish(&w.rtmp("live/d"));
    w.wait_live("live/d");
    let mpd =
        String::from_utf8_lossy(&w.wait_http_ok("/live/d/index.mpd", Duration::from_secs(15)))
            .into_owned();
    for attr in [
        "availabilityTimeComplete=\"false\"",
        "availabilityTimeOffset=",
        "<ServiceDescription",
        "<UTCTiming",
    ] {
        assert!(mpd.contains(attr), "no {attr} in\n{mpd}");
    }
    // The segment after the last listed one is being written: it arrives, complete, in about
    // one segment duration, and starts with styp + moof.
    let start: u64 = mpd
        .split("startNumber=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .parse()
        .unwrap();
    let listed = mpd
        .split("<AdaptationSet")
        .nth(1)
        .unwrap()
        .matches("<S ")
        .count() as u64;
    let repeats: u64 = mpd
        .split("<AdaptationSet")
        .nth(1)
        .unwrap()
        .split(" r=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().parse::<u64>().unwrap())
        .sum();
    let open = start + listed + repeats;
    let t = Instant::now();
    let (status, _, seg) = w.get(&format!("/live/d/dash/1/seg{open}.m4s"));
    assert_eq!(status, 200);
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(&seg[4..8], b"styp");
    assert!(
        seg.windows(4).filter(|b| *b == b"moof").count() > 10,
        "one moof per frame expected"
    );
    assert!(w.alive());
}
