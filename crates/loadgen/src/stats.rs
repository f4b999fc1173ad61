//! The per-run report: distributions over players, per target, plus the server's and the
//! load generator's own CPU and memory. Rendered as a human table or one JSON line.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::latency::LatencyDist;

/// Version of the JSON report; bumped when a field changes meaning.
pub const REPORT_VERSION: u32 = 1;

/// A distribution of one figure over players. All zeros when `n` is 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Dist {
    /// Number of values.
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Minimum.
    pub min: f64,
    /// 5th percentile (nearest rank).
    pub p5: f64,
    /// Median (nearest rank).
    pub p50: f64,
    /// 95th percentile (nearest rank).
    pub p95: f64,
    /// Maximum.
    pub max: f64,
}

impl Dist {
    /// The distribution of `values` (NaNs are dropped).
    pub fn of(values: impl IntoIterator<Item = f64>) -> Dist {
        let mut v: Vec<f64> = values.into_iter().filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            return Dist::default();
        }
        v.sort_by(f64::total_cmp);
        Dist {
            n: v.len(),
            mean: v.iter().sum::<f64>() / v.len() as f64,
            min: v[0],
            p5: percentile(&v, 5.0),
            p50: percentile(&v, 50.0),
            p95: percentile(&v, 95.0),
            max: v[v.len() - 1],
        }
    }
}

/// Nearest-rank percentile of sorted, non-empty `v`.
pub fn percentile(v: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// Figures for one target URL.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TargetReport {
    /// The URL.
    pub url: String,
    /// `rtmp` or `http-flv`.
    pub protocol: String,
    /// Players asked for.
    pub players_requested: usize,
    /// Players started (fewer when the ramp did not finish before the end).
    pub players_started: usize,
    /// Players whose play the server accepted.
    pub players_connected: usize,
    /// Players connected and still playing at the end.
    pub players_alive: usize,
    /// Delivered kbit/s per connected player over the window (from when it connected, if
    /// later), socket bytes.
    pub kbps: Dist,
    /// Video frames per connected player in the window.
    pub video_frames: Dist,
    /// Audio frames per connected player in the window.
    pub audio_frames: Dist,
    /// The most video frames any player of this target got in the window.
    pub best_video_frames: u64,
    /// Players that got at least [`KEEP_UP`] of `best_video_frames`.
    pub kept_up: usize,
    /// `kept_up / players_started` (0 when none started).
    pub kept_up_share: f64,
    /// Milliseconds from the start of the attempt to the play being accepted.
    pub connect_ms: Dist,
    /// Milliseconds from the start of the attempt to the first video keyframe.
    pub first_keyframe_ms: Dist,
    /// Connected players that never got a keyframe.
    pub no_keyframe: usize,
    /// Timestamp steps back beyond the tolerance, all players.
    pub ts_backjumps: u64,
    /// Timestamp steps forward of more than a second, all players.
    pub ts_gaps: u64,
    /// Video/audio bodies that could not be parsed, all players.
    pub parse_errors: u64,
    /// Server-added latency in ms: receive time minus the publisher's SEI send time, over
    /// every stamped video frame all players of this target received in the window.
    pub latency_ms: LatencyDist,
    /// Stamped video frames received in the window, all players.
    pub stamped_frames: u64,
    /// Video frames without a stamp received in the window, all players.
    pub unstamped_frames: u64,
    /// Connected players that received at least one stamped frame in the window.
    pub players_stamped: usize,
    /// Why players stopped early, with counts.
    pub errors: BTreeMap<String, usize>,
}

/// Share of the best player's frames a player must get to have kept up.
pub const KEEP_UP: f64 = 0.95;

/// The server process, from `/proc/<pid>`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerReport {
    /// Its PID.
    pub pid: u32,
    /// CPU seconds (user + system, all threads) over the window.
    pub cpu_s: f64,
    /// `cpu_s` / window seconds: 1.0 is one core.
    pub cpu_share: f64,
    /// CPU milliseconds per alive player per second of window (not marginal: the 0-player
    /// baseline is not subtracted).
    pub cpu_ms_per_player_s: f64,
    /// RSS before the first player started, KiB.
    pub rss_before_kb: u64,
    /// RSS at the start of the window, KiB.
    pub rss_start_kb: u64,
    /// RSS at the end of the window, KiB.
    pub rss_end_kb: u64,
    /// `rss_end_kb - rss_start_kb`.
    pub rss_delta_kb: i64,
    /// `rss_end_kb - rss_before_kb`: growth with all players connected.
    pub rss_growth_kb: i64,
    /// Highest RSS seen over the run (sampled every 250 ms), KiB.
    pub rss_max_kb: u64,
    /// Threads at the end.
    pub threads: u64,
}

/// The load generator itself, from `/proc/self`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadgenReport {
    /// CPU seconds over the window.
    pub cpu_s: f64,
    /// `cpu_s` / window seconds; near `threads` means the load generator was saturated.
    pub cpu_share: f64,
    /// CPU seconds over the whole run.
    pub cpu_total_s: f64,
    /// RSS at the end, KiB.
    pub rss_kb: u64,
    /// Runtime worker threads.
    pub threads: usize,
}

/// One run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// [`REPORT_VERSION`].
    pub version: u32,
    /// Run length, seconds.
    pub duration_s: f64,
    /// Warm-up before the window, seconds.
    pub warmup_s: f64,
    /// Measurement window, seconds.
    pub window_s: f64,
    /// When the last player started, seconds after the start.
    pub ramp_end_s: f64,
    /// Players started, all targets.
    pub players_started: usize,
    /// Players connected, all targets.
    pub players_connected: usize,
    /// Players alive at the end, all targets.
    pub players_alive: usize,
    /// Per target.
    pub targets: Vec<TargetReport>,
    /// The server, when `--server-pid` was given and readable.
    pub server: Option<ServerReport>,
    /// Why the server could not be read, if it could not.
    pub server_error: Option<String>,
    /// The load generator.
    pub loadgen: LoadgenReport,
}

impl Report {
    /// One JSON line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// A human-readable table.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "weir-loadgen: {:.1} s run, {:.1} s warm-up, {:.1} s window; last player started at {:.2} s",
            self.duration_s, self.warmup_s, self.window_s, self.ramp_end_s
        );
        let _ = writeln!(
            s,
            "{:<9} {:>7} {:>5} {:>5} | {:>8} {:>8} {:>8} | {:>7} | {:>7} {:>7} {:>7} | {:>6} {:>6} | {:>5} {:>5} | {:>7} {:>7} {:>7} {:>7}",
            "protocol",
            "started",
            "conn",
            "alive",
            "kbps avg",
            "kbps min",
            "kbps p5",
            "kept-up",
            "kf p50",
            "kf p95",
            "kf max",
            "vf min",
            "vf avg",
            "ts-bk",
            "gaps",
            "lat p50",
            "lat p95",
            "lat p99",
            "lat max"
        );
        for t in &self.targets {
            let _ = writeln!(
                s,
                "{:<9} {:>7} {:>5} {:>5} | {:>8.0} {:>8.0} {:>8.0} | {:>6.1}% | {:>5.1}ms {:>5.1}ms {:>5.1}ms | {:>6.0} {:>6.1} | {:>5} {:>5} | {:>5.1}ms {:>5.1}ms {:>5.1}ms {:>5.1}ms",
                t.protocol,
                t.players_started,
                t.players_connected,
                t.players_alive,
                t.kbps.mean,
                t.kbps.min,
                t.kbps.p5,
                t.kept_up_share * 100.0,
                t.first_keyframe_ms.p50,
                t.first_keyframe_ms.p95,
                t.first_keyframe_ms.max,
                t.video_frames.min,
                t.video_frames.mean,
                t.ts_backjumps,
                t.ts_gaps,
                t.latency_ms.p50,
                t.latency_ms.p95,
                t.latency_ms.p99,
                t.latency_ms.max
            );
        }
        for t in &self.targets {
            let _ = writeln!(s, "  {} {}", t.protocol, t.url);
            let _ = writeln!(
                s,
                "    latency {} stamped frames (mean {:.1} ms, min {:.1} ms), {} without a stamp; {}/{} connected players got stamps",
                t.stamped_frames,
                t.latency_ms.mean,
                t.latency_ms.min,
                t.unstamped_frames,
                t.players_stamped,
                t.players_connected
            );
            if t.no_keyframe > 0 || t.parse_errors > 0 {
                let _ = writeln!(
                    s,
                    "    {} connected players never got a keyframe; {} bodies did not parse",
                    t.no_keyframe, t.parse_errors
                );
            }
            for (e, n) in &t.errors {
                let _ = writeln!(s, "    {n} x {e}");
            }
        }
        match (&self.server, &self.server_error) {
            (Some(sv), _) => {
                let _ = writeln!(
                    s,
                    "server pid {}: {:.2} CPU s in the window ({:.1} % of a core, {:.3} ms per player-second), RSS {} -> {} KiB ({:+} KiB in the window, {:+} KiB since before the first player, peak {} KiB), {} threads",
                    sv.pid,
                    sv.cpu_s,
                    sv.cpu_share * 100.0,
                    sv.cpu_ms_per_player_s,
                    sv.rss_start_kb,
                    sv.rss_end_kb,
                    sv.rss_delta_kb,
                    sv.rss_growth_kb,
                    sv.rss_max_kb,
                    sv.threads
                );
            }
            (None, Some(e)) => {
                let _ = writeln!(s, "server: not measured ({e})");
            }
            (None, None) => {}
        }
        let l = &self.loadgen;
        let _ = writeln!(
            s,
            "loadgen: {:.2} CPU s in the window ({:.1} % of a core, {} thread(s)), {:.2} s in all, RSS {} KiB",
            l.cpu_s,
            l.cpu_share * 100.0,
            l.threads,
            l.cpu_total_s,
            l.rss_kb
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distributions() {
        let d = Dist::of((1..=100).map(|x| x as f64));
        assert_eq!(
            (d.n, d.min, d.p5, d.p50, d.p95, d.max),
            (100, 1.0, 5.0, 50.0, 95.0, 100.0)
        );
        assert_eq!(d.mean, 50.5);
        let d = Dist::of([3.0]);
        assert_eq!((d.p5, d.p95), (3.0, 3.0));
        assert_eq!(Dist::of([]), Dist::default());
    }

    #[test]
    fn renders_and_serializes() {
        let r = Report {
            version: REPORT_VERSION,
            targets: vec![TargetReport {
                protocol: "rtmp".into(),
                errors: [("HTTP 404".to_owned(), 2)].into_iter().collect(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(r.render().contains("2 x HTTP 404"));
        let j: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(j["targets"][0]["errors"]["HTTP 404"], 2);
        assert_eq!(j["targets"][0]["latency_ms"]["p99"], 0.0);
        assert_eq!(j["targets"][0]["stamped_frames"], 0);
        assert!(!r.to_json().contains('\n'));
    }
}
