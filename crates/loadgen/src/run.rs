//! One bounded run: ramp players up, warm up, measure a window, stop, and report.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio::time::sleep_until;

use crate::clients::{PlayerCtx, PlayerOutcome, run_player};
use crate::latency::{LatencyDist, LatencyHistogram};
use crate::media::{Counters, Snapshot};
use crate::procfs::{self, ProcSample};
use crate::stats::{
    Dist, KEEP_UP, LoadgenReport, REPORT_VERSION, Report, ServerReport, TargetReport,
};
use crate::target::Target;

/// Most players one run may start, all targets together.
pub const MAX_PLAYERS: usize = 20_000;
/// Longest run.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// How long after the end stragglers get before they are aborted.
const JOIN_GRACE: Duration = Duration::from_secs(5);

/// What to run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Targets; each gets `players` players, started round-robin.
    pub targets: Vec<Target>,
    /// Players per target.
    pub players: usize,
    /// Stalled players per target, besides `players`: they read nothing once the play is
    /// accepted and are reported as a target of their own (`rtmp+stalled`, ...).
    pub stalled: usize,
    /// Whole run, warm-up included.
    pub duration: Duration,
    /// Time before the measurement window opens.
    pub warmup: Duration,
    /// Players started per second.
    pub ramp_per_sec: f64,
    /// The server to read from `/proc`.
    pub server_pid: Option<u32>,
    /// Allow non-loopback targets.
    pub allow_remote: bool,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Timestamp steps back tolerated, ms.
    pub ts_tolerance_ms: u32,
    /// Runtime worker threads (reported only).
    pub threads: usize,
}

impl RunConfig {
    /// Checks the bounds: player count, duration, warm-up, ramp.
    pub fn validate(&self) -> Result<(), String> {
        let total = (self.players.saturating_add(self.stalled)).saturating_mul(self.targets.len());
        if self.targets.is_empty() {
            return Err("no target URL".into());
        }
        if self.players == 0 || total > MAX_PLAYERS {
            return Err(format!(
                "{total} players: between 1 and {MAX_PLAYERS} in all, please"
            ));
        }
        if self.duration.is_zero() || self.duration > MAX_DURATION {
            return Err(format!(
                "duration must be more than 0 and at most {} s",
                MAX_DURATION.as_secs()
            ));
        }
        if self.warmup >= self.duration {
            return Err("warm-up must be shorter than the duration".into());
        }
        if !(self.ramp_per_sec > 0.0 && self.ramp_per_sec <= 100_000.0) {
            return Err("ramp must be more than 0 and at most 100000 players per second".into());
        }
        Ok(())
    }
}

struct Slot {
    target: usize,
    counters: Arc<Counters>,
    handle: JoinHandle<PlayerOutcome>,
}

/// What is read when the window opens: every player's counters, the server, the load generator,
/// each target's latency histogram.
type WindowStart = (
    Vec<Snapshot>,
    Option<Result<ProcSample, String>>,
    ProcSample,
    Vec<Vec<u64>>,
);

fn server_sample(pid: Option<u32>) -> Option<Result<ProcSample, String>> {
    pid.map(|p| procfs::sample(&p.to_string()).map_err(|e| format!("/proc/{p}: {e}")))
}

/// Runs the load and returns the report. Fails only before any player starts (bad target,
/// unresolvable or non-loopback host).
pub async fn run(cfg: RunConfig) -> Result<Report, String> {
    cfg.validate()?;
    let mut addrs = Vec::new();
    for t in &cfg.targets {
        addrs.push(
            t.resolve(cfg.allow_remote)
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    let mut targets: Vec<Arc<Target>> = cfg.targets.iter().cloned().map(Arc::new).collect();
    // Each target's players, then (a target of their own) its stalled players.
    let mut counts = vec![cfg.players; targets.len()];
    if cfg.stalled > 0 {
        for i in 0..targets.len() {
            let mut t = (*targets[i]).clone();
            t.stall = true;
            targets.push(Arc::new(t));
            addrs.push(addrs[i]);
            counts.push(cfg.stalled);
        }
    }
    // The start order: round-robin over the targets while each has players left.
    let plan: Vec<usize> = (0..counts.iter().copied().max().unwrap_or(0))
        .flat_map(|k| {
            let counts = &counts;
            (0..counts.len()).filter(move |&t| k < counts[t])
        })
        .collect();
    let latency: Vec<Arc<LatencyHistogram>> = targets
        .iter()
        .map(|_| Arc::new(LatencyHistogram::default()))
        .collect();
    let latency_all = || -> Vec<Vec<u64>> { latency.iter().map(|h| h.snapshot()).collect() };
    let self_before = procfs::sample("self").unwrap_or_default();
    let server_before = server_sample(cfg.server_pid);
    let rss_max = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampler = cfg.server_pid.map(|pid| {
        let rss_max = rss_max.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tick.tick().await;
                if let Ok(s) = procfs::sample(&pid.to_string()) {
                    rss_max.fetch_max(s.rss_kb, std::sync::atomic::Ordering::Relaxed);
                }
            }
        })
    });
    let t0 = tokio::time::Instant::now();
    let deadline = t0 + cfg.duration;
    let window_start = t0 + cfg.warmup;
    let total = plan.len();
    let mut slots: Vec<Slot> = Vec::with_capacity(total);
    let mut at_window: Option<WindowStart> = None;
    let snapshot_all =
        |slots: &[Slot]| -> Vec<Snapshot> { slots.iter().map(|s| s.counters.snapshot()).collect() };
    let mut ramp_end = Duration::ZERO;
    for (i, &target) in plan.iter().enumerate() {
        let at = t0 + Duration::from_secs_f64(i as f64 / cfg.ramp_per_sec);
        if at >= deadline {
            break;
        }
        if at_window.is_none() && at >= window_start {
            sleep_until(window_start).await;
            at_window = Some((
                snapshot_all(&slots),
                server_sample(cfg.server_pid),
                procfs::sample("self").unwrap_or_default(),
                latency_all(),
            ));
        }
        sleep_until(at).await;
        let counters = Arc::new(Counters::default());
        let ctx = PlayerCtx {
            target: targets[target].clone(),
            addr: addrs[target],
            counters: counters.clone(),
            latency: latency[target].clone(),
            deadline,
            connect_timeout: cfg.connect_timeout,
            ts_tolerance_ms: cfg.ts_tolerance_ms,
        };
        slots.push(Slot {
            target,
            counters,
            handle: tokio::spawn(run_player(ctx)),
        });
        ramp_end = t0.elapsed();
    }
    let (start_snaps, server_start, self_start, latency_start) = match at_window {
        Some(w) => w,
        None => {
            sleep_until(window_start).await;
            (
                snapshot_all(&slots),
                server_sample(cfg.server_pid),
                procfs::sample("self").unwrap_or_default(),
                latency_all(),
            )
        }
    };
    let window_start_std = Instant::now().min(window_start.into_std());
    sleep_until(deadline).await;
    let end_snaps = snapshot_all(&slots);
    let latency_end = latency_all();
    let server_end = server_sample(cfg.server_pid);
    if let Some(s) = sampler {
        s.abort();
    }
    let self_end = procfs::sample("self").unwrap_or_default();
    let window_end_std = Instant::now();
    let window_s = (window_end_std - window_start_std).as_secs_f64().max(1e-3);

    let mut outcomes = Vec::with_capacity(slots.len());
    let join_by = tokio::time::Instant::now() + JOIN_GRACE;
    for slot in slots.iter_mut() {
        let o = match tokio::time::timeout_at(join_by, &mut slot.handle).await {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => PlayerOutcome {
                error: Some(format!("player task failed: {e}")),
                ..Default::default()
            },
            Err(_) => {
                slot.handle.abort();
                PlayerOutcome {
                    error: Some("player did not stop in time".into()),
                    ..Default::default()
                }
            }
        };
        outcomes.push(o);
    }

    let mut report = Report {
        version: REPORT_VERSION,
        duration_s: cfg.duration.as_secs_f64(),
        warmup_s: cfg.warmup.as_secs_f64(),
        window_s,
        ramp_end_s: ramp_end.as_secs_f64(),
        ..Default::default()
    };
    for (ti, t) in targets.iter().enumerate() {
        let mut tr = TargetReport {
            url: t.url.clone(),
            protocol: t.name(),
            players_requested: counts[ti],
            latency_ms: LatencyDist::between(&latency_start[ti], &latency_end[ti]),
            ..Default::default()
        };
        // (kbps, video frames, audio frames) of each connected player.
        let mut per_player = Vec::new();
        let mut connect_ms = Vec::new();
        let mut first_kf_ms = Vec::new();
        for (i, (slot, o)) in slots.iter().zip(&outcomes).enumerate() {
            if slot.target != ti {
                continue;
            }
            tr.players_started += 1;
            tr.ts_backjumps += o.backjumps;
            tr.ts_gaps += o.gaps;
            tr.parse_errors += o.parse_errors;
            if let Some(e) = &o.error {
                *tr.errors.entry(e.clone()).or_default() += 1;
            }
            let Some(connected_at) = o.connected_at else {
                continue;
            };
            tr.players_connected += 1;
            if o.alive_at_end {
                tr.players_alive += 1;
            }
            let w = end_snaps[i] - start_snaps.get(i).copied().unwrap_or_default();
            tr.stamped_frames += w.stamped;
            tr.unstamped_frames += w.unstamped;
            if w.stamped > 0 {
                tr.players_stamped += 1;
            }
            let from = connected_at.max(window_start_std);
            let secs = window_end_std
                .checked_duration_since(from)
                .unwrap_or_default()
                .as_secs_f64()
                .max(1e-3);
            per_player.push((
                w.bytes as f64 * 8.0 / 1000.0 / secs,
                w.video_frames,
                w.audio_frames,
            ));
            if let Some(c) = o.connect_time {
                connect_ms.push(c.as_secs_f64() * 1000.0);
            }
            match o.first_keyframe {
                Some(k) => first_kf_ms.push(k.as_secs_f64() * 1000.0),
                None => tr.no_keyframe += 1,
            }
        }
        tr.kbps = Dist::of(per_player.iter().map(|p| p.0));
        tr.video_frames = Dist::of(per_player.iter().map(|p| p.1 as f64));
        tr.audio_frames = Dist::of(per_player.iter().map(|p| p.2 as f64));
        tr.best_video_frames = per_player.iter().map(|p| p.1).max().unwrap_or(0);
        let need = tr.best_video_frames as f64 * KEEP_UP;
        tr.kept_up = per_player
            .iter()
            .filter(|p| tr.best_video_frames > 0 && p.1 as f64 >= need)
            .count();
        tr.kept_up_share = if tr.players_started > 0 {
            tr.kept_up as f64 / tr.players_started as f64
        } else {
            0.0
        };
        tr.connect_ms = Dist::of(connect_ms);
        tr.first_keyframe_ms = Dist::of(first_kf_ms);
        report.players_started += tr.players_started;
        report.players_connected += tr.players_connected;
        report.players_alive += tr.players_alive;
        report.targets.push(tr);
    }
    match (cfg.server_pid, server_before, server_start, server_end) {
        (Some(pid), Some(Ok(before)), Some(Ok(start)), Some(Ok(end))) => {
            let cpu_s = (end.cpu_s - start.cpu_s).max(0.0);
            report.server = Some(ServerReport {
                pid,
                cpu_s,
                cpu_share: cpu_s / window_s,
                cpu_ms_per_player_s: if report.players_alive > 0 {
                    cpu_s * 1000.0 / (report.players_alive as f64 * window_s)
                } else {
                    0.0
                },
                rss_before_kb: before.rss_kb,
                rss_start_kb: start.rss_kb,
                rss_end_kb: end.rss_kb,
                rss_delta_kb: end.rss_kb as i64 - start.rss_kb as i64,
                rss_growth_kb: end.rss_kb as i64 - before.rss_kb as i64,
                rss_max_kb: rss_max
                    .load(std::sync::atomic::Ordering::Relaxed)
                    .max(end.rss_kb),
                threads: end.threads,
            });
        }
        (Some(_), a, b, c) => {
            report.server_error = [a, b, c]
                .into_iter()
                .flatten()
                .find_map(Result::err)
                .or(Some("not sampled".into()));
        }
        _ => {}
    }
    let cpu_s = (self_end.cpu_s - self_start.cpu_s).max(0.0);
    report.loadgen = LoadgenReport {
        cpu_s,
        cpu_share: cpu_s / window_s,
        cpu_total_s: (self_end.cpu_s - self_before.cpu_s).max(0.0),
        rss_kb: self_end.rss_kb,
        threads: cfg.threads,
    };
    Ok(report)
}
