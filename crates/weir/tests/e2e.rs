//! End-to-end tests with real peers: ffmpeg publishes over RTMP; ffmpeg/ffprobe read back over
//! RTMP, HTTP-FLV and HLS.

use std::path::PathBuf;
use std::time::Duration;

use weir_testkit::{self as tk, FPS, GOP, Weir};

fn weir(name: &str) -> Weir {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    Weir::start(env!("CARGO_BIN_EXE_weir"), &dir, "")
}

#[test]
fn rtmp_publish_plays_over_rtmp_flv_and_hls() {
    tk::require("ffmpeg");
    let _p = tk::heavy();
    let mut w = weir("publish_plays");
    let _pub = tk::publish(&w.rtmp("live/mystream"));
    w.wait_live("live/mystream");
    tk::assert_plays(&w.rtmp("live/mystream"), 6);
    tk::assert_plays(&w.http("live/mystream.flv"), 6);
    w.wait_http_ok("/live/mystream/index.m3u8", Duration::from_secs(15));
    tk::assert_plays(&w.http("live/mystream/index.m3u8"), 6);
    assert!(w.alive());
}

#[test]
fn hls_headers_segments_and_errors() {
    tk::require("ffprobe");
    let _p = tk::heavy();
    let w = weir("hls_headers");
    let _pub = tk::publish(&w.rtmp("live/h"));
    w.wait_live("live/h");
    // Wait for three segments.
    let ok = tk::wait_until(Duration::from_secs(20), || {
        let (s, _, b) = w.get("/live/h/index.m3u8");
        s == 200 && String::from_utf8_lossy(&b).matches("#EXTINF").count() >= 3
    });
    assert!(ok, "no 3 segments; log:\n{}", w.log_text());
    let (status, head, body) = w.get("/live/h/index.m3u8");
    assert_eq!(status, 200);
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("content-type: application/vnd.apple.mpegurl"),
        "{head}"
    );
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
    assert!(head.contains("cache-control: max-age=1"), "{head}");
    let pl = String::from_utf8(body).unwrap();
    assert!(pl.starts_with("#EXTM3U"));
    let seg = pl
        .lines()
        .find(|l| l.ends_with(".ts"))
        .expect("a segment URI")
        .to_owned();
    let (status, head, ts) = w.get(&format!("/live/h/{seg}"));
    assert_eq!(status, 200);
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-type: video/mp2t"), "{head}");
    assert!(head.contains("cache-control: public"), "{head}");
    assert!(head.contains("last-modified: "), "{head}");
    assert_eq!(ts.len() % 188, 0);
    // Each segment is accepted by ffprobe with zero errors and starts on a keyframe.
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hls_headers/seg.ts");
    std::fs::write(&file, &ts).unwrap();
    let out = tk::run_bounded(
        std::process::Command::new("ffprobe")
            .args(["-v", "error", "-count_frames", "-show_entries"])
            .arg("stream=codec_name,width,height,nb_read_frames")
            .args([
                "-show_entries",
                "frame=key_frame,pict_type",
                "-select_streams",
                "v",
                "-read_intervals",
                "%+#1",
                "-of",
                "json",
            ])
            .arg(&file),
        Duration::from_secs(30),
    );
    assert!(
        out.stderr.trim().is_empty(),
        "ffprobe errors on a segment: {}",
        out.stderr
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["streams"][0]["codec_name"], "h264");
    assert_eq!(
        j["frames"][0]["key_frame"], 1,
        "segment does not start on a keyframe: {j}"
    );
    let d = tk::decode(file.to_str().unwrap(), 30);
    assert!(d.errors.trim().is_empty(), "{}", d.errors);
    assert!(
        d.video_frames >= 50,
        "a 2 s segment has {} frames",
        d.video_frames
    );
    // Missing streams and segments: a clear 404.
    let (status, _, body) = w.get("/live/nope/index.m3u8");
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("not found"));
    let (status, _, _) = w.get("/live/h/seg999999.ts");
    assert_eq!(status, 404);
    let (status, _, _) = w.get("/live/nope.flv");
    assert_eq!(status, 404);
}

#[test]
fn two_streams_at_once() {
    tk::require("ffmpeg");
    let _p = tk::heavy();
    let w = weir("two_streams");
    let _a = tk::publish(&w.rtmp("live/one"));
    let _b = tk::publish(&w.rtmp("live/two"));
    w.wait_live("live/one");
    w.wait_live("live/two");
    let one = w.rtmp("live/one");
    let two = w.http("live/two.flv");
    let t = std::thread::spawn(move || tk::assert_plays(&one, 5));
    tk::assert_plays(&two, 5);
    t.join().expect("stream one plays");
}

#[test]
fn late_joiner_starts_within_one_gop() {
    tk::require("ffmpeg");
    let _p = tk::heavy();
    let w = weir("late_joiner");
    let _pub = tk::publish(&w.rtmp("live/late"));
    w.wait_live("live/late");
    std::thread::sleep(Duration::from_millis(2500)); // join mid-GOP, well after the start
    for url in [w.rtmp("live/late"), w.http("live/late.flv")] {
        let start = std::time::Instant::now();
        let d = tk::decode(&url, 2);
        assert!(d.errors.trim().is_empty(), "{url}: {}", d.errors);
        // A player starting at the cached keyframe decodes its first frame at once, and receives
        // at least the frames of the current GOP immediately (the cache is sent in one burst).
        assert!(
            d.video_frames >= (2 * FPS - GOP / 2) as u64,
            "{url}: {} frames",
            d.video_frames
        );
        assert!(
            start.elapsed() < Duration::from_secs(2 + 1 + GOP as u64 / FPS as u64),
            "{url}: slow start {:?}",
            start.elapsed()
        );
    }
}

#[test]
fn publisher_disconnect_ends_readers_and_reconnect_marks_discontinuity() {
    tk::require("ffmpeg");
    let _p = tk::heavy();
    let w = weir("reconnect");
    let mut publisher = tk::publish(&w.rtmp("live/re"));
    w.wait_live("live/re");
    w.wait_http_ok("/live/re/index.m3u8", Duration::from_secs(15));
    // A reader that asks for far more than will come must end cleanly when the publisher goes.
    let url = w.rtmp("live/re");
    let reader = std::thread::spawn(move || tk::decode(&url, 60));
    let flv_url = w.http("live/re.flv");
    let flv_reader = std::thread::spawn(move || tk::decode(&flv_url, 60));
    std::thread::sleep(Duration::from_secs(3));
    publisher.signal("KILL");
    let _ = publisher.wait_timeout(Duration::from_secs(5));
    for (name, r) in [("rtmp", reader), ("http-flv", flv_reader)] {
        let d = r.join().unwrap();
        assert!(
            d.elapsed < Duration::from_secs(30),
            "{name} reader did not end after the publisher left: {:?}",
            d.elapsed
        );
        assert!(
            d.video_frames > 30,
            "{name} reader got {} frames",
            d.video_frames
        );
    }
    let (_, _, before) = w.get("/live/re/index.m3u8");
    assert!(!String::from_utf8_lossy(&before).contains("#EXT-X-DISCONTINUITY\n"));
    // The publisher comes back: the playlist continues, with a discontinuity.
    let _again = tk::publish(&w.rtmp("live/re"));
    let ok = tk::wait_until(Duration::from_secs(20), || {
        let (s, _, b) = w.get("/live/re/index.m3u8");
        let pl = String::from_utf8_lossy(&b).into_owned();
        s == 200
            && pl.lines().any(|l| l == "#EXT-X-DISCONTINUITY")
            && pl.lines().last().is_some_and(|l| l.ends_with(".ts"))
    });
    assert!(
        ok,
        "no discontinuity after reconnect: {}",
        String::from_utf8_lossy(&w.get("/live/re/index.m3u8").2)
    );
    let (_, _, after) = w.get("/live/re/index.m3u8");
    let after = String::from_utf8_lossy(&after);
    let seq = |pl: &str| {
        pl.lines()
            .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
            .and_then(|v| v.parse::<u64>().ok())
    };
    assert!(
        seq(&after) >= seq(&String::from_utf8_lossy(&before)),
        "media sequence went back"
    );
    // And the new session plays.
    tk::assert_plays(&w.rtmp("live/re"), 3);
}

#[test]
fn second_publisher_is_rejected_and_first_keeps_flowing() {
    tk::require("ffmpeg");
    let _p = tk::heavy();
    let w = weir("second_publisher");
    let _first = tk::publish(&w.rtmp("live/busy"));
    w.wait_live("live/busy");
    let clip = tk::clip();
    let out = tk::run_bounded(
        std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-re", "-i"])
            .arg(&clip)
            .args(["-t", "3", "-c", "copy", "-f", "flv"])
            .arg(w.rtmp("live/busy")),
        Duration::from_secs(20),
    );
    assert!(!out.stderr.is_empty(), "second publisher was not refused");
    assert!(
        w.log_text().contains("already publishing"),
        "log:\n{}",
        w.log_text()
    );
    tk::assert_plays(&w.rtmp("live/busy"), 3);
}

/// The landing page lists the stream and its hls.js player plays it in headless Chromium: the
/// video element's clock (mirrored into `data-time` by the page) advances.
#[test]
fn landing_page_plays_in_chromium() {
    tk::require("ffmpeg");
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .output()
                .is_ok()
        })
        .expect("chromium is not installed; run ./weir.sh setup");
    let _p = tk::heavy();
    let w = weir("landing_chromium");
    let _pub = tk::publish(&w.rtmp("live/page"));
    w.wait_live("live/page");
    // Headless Chromium runs on virtual time, which races ahead while the player waits for the
    // network: give the player four segments to play through.
    let ready = tk::wait_until(Duration::from_secs(25), || {
        let (s, _, b) = w.get("/live/page/index.m3u8");
        s == 200 && String::from_utf8_lossy(&b).matches("#EXTINF").count() >= 4
    });
    assert!(ready, "no four HLS segments; log:\n{}", w.log_text());
    let profile = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("landing_chromium/profile");
    let _ = std::fs::remove_dir_all(&profile);
    let out = tk::run_bounded(
        std::process::Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
            ])
            .args([
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ])
            .args([
                "--autoplay-policy=no-user-gesture-required",
                "--virtual-time-budget=30000",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(w.http("?play=live/page")),
        Duration::from_secs(90),
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let video = dom
        .split("<video")
        .nth(1)
        .and_then(|v| v.split('>').next())
        .unwrap_or_else(|| panic!("no video element:\n{dom}"));
    assert!(
        video.contains("src=\"blob:"),
        "hls.js did not attach (MSE): {video}"
    );
    let time: f64 = video
        .split("data-time=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "the player never reported a time: {video}\nlog:\n{}",
                w.log_text()
            )
        });
    assert!(
        time >= 2.0,
        "the browser player's clock advanced only to {time} s"
    );
    assert!(dom.contains("rtmp://127.0.0.1"), "the RTMP URL is shown");
}
