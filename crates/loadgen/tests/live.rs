//! The load generator against the real `weir` binary: `weir-loadgen publish` publishes the
//! fixture clip with latency stamps, 10 RTMP and 10 HTTP-FLV players play it for 6 seconds and
//! read the stamps back. Needs ffmpeg (to make the clip and check the stamped stream decodes)
//! and a built server: `cargo build -p weir` first.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use weir_testkit::{self as tk, FPS, Proc, Weir};

const LOADGEN: &str = env!("CARGO_BIN_EXE_weir-loadgen");
const PLAYERS: u64 = 10;

/// `target/<profile>/weir`, beside this test's `deps/` directory.
fn weir_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>");
    let bin = profile_dir.join("weir");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p weir` first",
        bin.display()
    );
    bin
}

/// A fresh Weir (in a directory named after `tag`) with `weir-loadgen publish` looping the
/// fixture clip, stamped, into `path`; returns once the stream is live.
fn weir_with_publisher(tag: &str, path: &str) -> (Weir, Proc) {
    let bin = weir_bin();
    let clip = tk::clip();
    let dir = std::env::temp_dir().join(format!("weir-loadgen-{tag}-{}", std::process::id()));
    let w = Weir::start(bin.to_str().expect("utf-8 path"), &dir, "");
    let publish_url = w.rtmp(path);
    let publisher = Proc::spawn(
        "weir-loadgen publish",
        Command::new(LOADGEN)
            .args(["publish", "--url", &publish_url, "--input"])
            .arg(&clip)
            .args(["--loop", "--duration", "40"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    );
    w.wait_live(path);
    (w, publisher)
}

#[test]
fn loadgen_publishes_stamped_and_plays_rtmp_and_http_flv_from_weir() {
    tk::require("ffmpeg");
    let _permit = tk::heavy();
    let (mut w, mut publisher) = weir_with_publisher("flv", "live/load");
    let pid = w.proc.child.id().to_string();
    let rtmp = w.rtmp("live/load");
    let flv = w.http("live/load.flv");
    let out = tk::run_bounded(
        Command::new(LOADGEN).args([
            "--url",
            &rtmp,
            "--url",
            &flv,
            "--players",
            &PLAYERS.to_string(),
            "--duration",
            "6",
            "--warmup",
            "1",
            "--ramp-per-sec",
            "200",
            "--server-pid",
            &pid,
            "--json",
        ]),
        Duration::from_secs(60),
    );
    assert!(
        out.status_ok,
        "weir-loadgen failed: {}\nserver log:\n{}",
        out.stderr,
        w.log_text()
    );
    let line = String::from_utf8_lossy(&out.stdout);
    let j: serde_json::Value = serde_json::from_str(line.trim())
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {line}\n{}", out.stderr));
    let table = &out.stderr;
    assert_eq!(j["version"], 1, "{table}");
    let window = j["window_s"].as_f64().unwrap();
    assert!((4.5..=5.5).contains(&window), "window {window}\n{table}");
    // The first second of the window may be short of frames while the GOP cache drains; ask
    // for 90 % of the clip's frame rate over the window.
    let expected = window * FPS as f64 * 0.9;
    let targets = j["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2);
    for (t, proto) in targets.iter().zip(["rtmp", "http-flv"]) {
        let ctx = format!("{proto}: {t}\n{table}");
        assert_eq!(t["protocol"], proto, "{ctx}");
        for k in ["players_started", "players_connected", "players_alive"] {
            assert_eq!(t[k], PLAYERS, "{k} {ctx}");
        }
        assert!(t["errors"].as_object().unwrap().is_empty(), "{ctx}");
        assert!(
            t["video_frames"]["min"].as_f64().unwrap() >= expected,
            "{ctx}"
        );
        assert!(t["kbps"]["min"].as_f64().unwrap() > 1500.0, "{ctx}");
        assert!(
            t["first_keyframe_ms"]["max"].as_f64().unwrap() < 1000.0,
            "{ctx}"
        );
        assert_eq!(t["first_keyframe_ms"]["n"], PLAYERS, "{ctx}");
        assert_eq!(t["parse_errors"], 0, "{ctx}");
        assert_eq!(t["kept_up_share"], 1.0, "{ctx}");
        // Every player read the publisher's stamps: every frame in the window had one.
        assert_eq!(t["players_stamped"], PLAYERS, "{ctx}");
        assert_eq!(t["unstamped_frames"], 0, "{ctx}");
        let stamped = t["stamped_frames"].as_u64().unwrap();
        assert!(stamped as f64 >= PLAYERS as f64 * expected, "{ctx}");
        let lat = &t["latency_ms"];
        assert_eq!(lat["n"].as_u64().unwrap(), stamped, "{ctx}");
        assert!(lat["p95"].as_f64().unwrap() < 200.0, "{ctx}");
        assert!(
            lat["p50"].as_f64().unwrap() <= lat["p99"].as_f64().unwrap(),
            "{ctx}"
        );
    }
    let server = &j["server"];
    assert_eq!(server["pid"].as_u64().unwrap().to_string(), pid, "{table}");
    assert!(server["cpu_s"].as_f64().unwrap() > 0.0, "{table}");
    assert!(server["rss_end_kb"].as_u64().unwrap() > 0, "{table}");
    assert!(j["loadgen"]["cpu_s"].as_f64().unwrap() > 0.0, "{table}");
    // The stamped stream still decodes cleanly.
    let d = tk::decode(&rtmp, 3);
    assert!(d.errors.trim().is_empty(), "decode errors: {}", d.errors);
    assert!(d.video_frames >= 60 && d.audio_frames > 0, "{d:?}");
    assert!(publisher.running(), "the publisher stopped early");
    publisher.signal("TERM");
    assert!(w.alive(), "server still running");
}

#[test]
fn loadgen_polls_hls_and_ll_hls_from_weir() {
    tk::require("ffmpeg");
    let _permit = tk::heavy();
    let (mut w, mut publisher) = weir_with_publisher("hls", "live/poll");
    w.wait_http_ok("/live/poll/ll.m3u8", Duration::from_secs(15));
    let pid = w.proc.child.id().to_string();
    let ts = w.http("live/poll/ts.m3u8");
    let ll = w.http("live/poll/ll.m3u8");
    let out = tk::run_bounded(
        Command::new(LOADGEN).args([
            "--url",
            &ts,
            "--url",
            &ll,
            "--players",
            "4",
            "--duration",
            "8",
            "--warmup",
            "2",
            "--server-pid",
            &pid,
            "--json",
        ]),
        Duration::from_secs(60),
    );
    assert!(out.status_ok, "weir-loadgen failed: {}", out.stderr);
    let line = String::from_utf8_lossy(&out.stdout);
    let j: serde_json::Value = serde_json::from_str(line.trim())
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {line}\n{}", out.stderr));
    let table = &out.stderr;
    let window = j["window_s"].as_f64().unwrap();
    let targets = j["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2, "{table}");
    // (protocol, least share of the clip's frames in the window, latency p50 bound in ms): a TS
    // poller gets whole segments (the test clip has a 1 s GOP), an LL-HLS poller parts.
    for (t, (proto, share, p50_max)) in targets
        .iter()
        .zip([("hls", 0.5, 4000.0), ("ll-hls", 0.8, 1500.0)])
    {
        let ctx = format!("{proto}: {t}\n{table}");
        assert_eq!(t["protocol"], proto, "{ctx}");
        for k in ["players_started", "players_connected", "players_alive"] {
            assert_eq!(t[k], 4, "{k} {ctx}");
        }
        assert!(t["errors"].as_object().unwrap().is_empty(), "{ctx}");
        assert_eq!(t["parse_errors"], 0, "{ctx}");
        assert_eq!(t["ts_backjumps"], 0, "{ctx}");
        assert!(
            t["video_frames"]["min"].as_f64().unwrap() >= window * FPS as f64 * share,
            "{ctx}"
        );
        assert!(t["audio_frames"]["min"].as_f64().unwrap() > 0.0, "{ctx}");
        assert_eq!(t["players_stamped"], 4, "{ctx}");
        assert_eq!(t["unstamped_frames"], 0, "{ctx}");
        let p50 = t["latency_ms"]["p50"].as_f64().unwrap();
        assert!(p50 > 0.0 && p50 < p50_max, "{ctx}");
    }
    assert!(publisher.running(), "the publisher stopped early");
    publisher.signal("TERM");
    assert!(w.alive(), "server still running");
}
