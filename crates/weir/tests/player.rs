//! The `/play/APP/STREAM` player page, played in headless Chromium (Playwright from `web/`, the
//! system Chromium) through `weir_testkit::browser_play`.

use std::path::PathBuf;
use std::time::Duration;

use weir_testkit::{self as tk, Weir};

fn dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

fn weir(name: &str) -> Weir {
    Weir::start(env!("CARGO_BIN_EXE_weir"), &dir(name), "")
}

/// The page and the player libraries are served by Weir itself: no CDN.
#[test]
fn play_page_and_player_libraries_are_served() {
    let w = weir("player_page");
    let (status, head, body) = w.get("/play/live/p");
    assert_eq!(status, 200, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/html; charset=utf-8"),
        "{head}"
    );
    let html = String::from_utf8(body).expect("UTF-8 page");
    assert!(
        html.contains(r#"<script src="/assets/hls.min.js">"#),
        "hls.js"
    );
    assert!(
        html.contains(r#"<script src="/assets/dash.all.min.js">"#),
        "dash.js"
    );
    let lower = html.to_ascii_lowercase();
    for remote in ["src=\"http://", "src=\"https://", "src=\"//"] {
        assert!(!lower.contains(remote), "the page loads {remote}…");
    }
    // The same page for any stream, with or without a mode.
    let (status, _, again) = w.get("/play/other/stream?mode=dash");
    assert_eq!((status, again), (200, html.into_bytes()));

    for (asset, min) in [
        ("/assets/dash.all.min.js", 100_000),
        ("/assets/hls.min.js", 100_000),
    ] {
        let (status, head, js) = w.get(asset);
        assert_eq!(status, 200, "{asset}: {head}");
        let head = head.to_ascii_lowercase();
        assert!(head.contains("content-type: text/javascript"), "{head}");
        assert!(
            head.contains("cache-control: public, max-age=86400"),
            "{head}"
        );
        assert!(
            js.len() > min,
            "{asset} is {} bytes: the library was not bundled (run ./weir.sh setup, then rebuild)",
            js.len()
        );
    }
    let (_, _, js) = w.get("/assets/dash.all.min.js");
    assert!(
        String::from_utf8_lossy(&js).contains("dashjs"),
        "not dash.js"
    );

    // The landing page links each stream to its player page.
    let (_, _, landing) = w.get("/");
    assert!(String::from_utf8_lossy(&landing).contains("/play/${s.path}"));
}

/// Plays `/play/live/p?mode=MODE` in Chromium for 8 s and checks the player kept up.
fn assert_mode_plays(w: &Weir, mode: &str, engine: &str) -> tk::BrowserReport {
    let shot = dir("player_modes").join(format!("play-{mode}.png"));
    let _ = std::fs::remove_file(&shot);
    let r = tk::browser_play(&w.http(&format!("play/live/p?mode={mode}")), 8, &shot);
    let ctx = format!("{mode}: report: {:#}\nstderr: {}", r.json, r.stderr);
    assert!(
        r.ready,
        "the player never started: {ctx}\nlog:\n{}",
        w.log_text()
    );
    assert_eq!(r.mode.as_deref(), Some(mode), "{ctx}");
    assert_eq!(r.engine.as_deref(), Some(engine), "{ctx}");
    assert!(
        r.advanced_s >= 6.0,
        "played only {} s in 8 s: {ctx}",
        r.advanced_s
    );
    assert!(r.errors.is_empty(), "player errors: {ctx}");
    assert!(r.ok, "{ctx}");
    // The page measures what it shows.
    assert!(
        r.latency_median.is_some_and(|l| l > 0.0 && l < 30.0),
        "latency: {ctx}"
    );
    assert!(
        r.bitrate_kbps.is_some_and(|b| b > 500.0),
        "bitrate (the fixture is about 2.6 Mbit/s): {ctx}"
    );
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 20_000,
        "screenshot {} is {size} bytes: {ctx}",
        shot.display()
    );
    eprintln!(
        "{mode}: advanced {:.1} s, latency {:?} s",
        r.advanced_s, r.latency_median
    );
    r
}

/// The player page plays HLS (MPEG-TS), HLS (fMP4), LL-HLS and DASH in Chromium, each for 8 s;
/// LL-HLS stays within 2.5 s of live on loopback (wall clock minus EXT-X-PROGRAM-DATE-TIME,
/// corrected for the server's clock).
#[test]
fn play_page_plays_every_mode_in_chromium() {
    tk::require("ffmpeg");
    let _p = tk::heavy();
    let w = Weir::start(env!("CARGO_BIN_EXE_weir"), &dir("player_modes"), "");
    let _pub = tk::publish(&w.rtmp("live/p"));
    w.wait_live("live/p");
    w.wait_http_ok("/live/p/ts.m3u8", Duration::from_secs(20));
    w.wait_http_ok("/live/p/index.mpd", Duration::from_secs(20));
    assert_mode_plays(&w, "hls", "hls.js");
    assert_mode_plays(&w, "fmp4", "hls.js");
    assert_mode_plays(&w, "dash", "dash.js");
    let ll = assert_mode_plays(&w, "ll", "hls.js");
    let latency = ll.latency_median.unwrap_or(f64::MAX);
    assert!(
        latency <= 2.5,
        "LL-HLS latency {latency:.2} s > 2.5 s: {:#}",
        ll.json
    );
}
