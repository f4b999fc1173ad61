//! `weir-loadgen`: many concurrent RTMP and HTTP-FLV players against one server, for a bounded
//! time, with a report of what they received and what the server spent; and
//! `weir-loadgen publish`, which publishes a pre-encoded FLV in real time with a latency stamp in
//! every H.264 access unit. See `bench/README.md`.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use weir_loadgen::publish::{PublishConfig, publish};
use weir_loadgen::run::{RunConfig, run};
use weir_loadgen::target::Target;

/// Plays live streams with many concurrent clients that parse what they receive, and reports
/// delivered bitrate, keep-up share, time to first keyframe, and the server's CPU and RSS.
#[derive(Debug, Parser)]
#[command(
    name = "weir-loadgen",
    version,
    subcommand_negates_reqs = true,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// A stream to play: rtmp://HOST[:PORT]/APP/STREAM or http://HOST[:PORT]/APP/STREAM.flv
    /// (HTTP-FLV). Repeat for several targets; each gets --players players.
    #[arg(long = "url", required = true, value_name = "URL")]
    urls: Vec<String>,
    /// Players per URL.
    #[arg(short = 'n', long, default_value_t = 10)]
    players: usize,
    /// Stalled players per URL, besides --players: once the server accepts the play they read
    /// nothing more; at the end each reports whether the server closed it. Reported as a
    /// target of their own (`rtmp+stalled`, `http-flv+stalled`).
    #[arg(long, default_value_t = 0, value_name = "N")]
    stalled: usize,
    /// Length of the whole run in seconds, warm-up included; the run stops by itself then.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    duration: f64,
    /// Seconds before the measurement window opens (let the ramp finish within it).
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    warmup: f64,
    /// Players started per second, round-robin over the URLs.
    #[arg(long, default_value_t = 200.0, value_name = "N")]
    ramp_per_sec: f64,
    /// PID of the server: its CPU seconds and RSS are read from /proc at the start and the end
    /// of the window.
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// Print the report as one JSON line on stdout (the table goes to stderr).
    #[arg(long)]
    json: bool,
    /// Allow hosts that are not loopback addresses.
    #[arg(long)]
    allow_remote: bool,
    /// Runtime worker threads (1 keeps the load generator on one core).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// TCP connect timeout in milliseconds.
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    connect_timeout_ms: u64,
    /// Timestamp steps back up to this many milliseconds are not counted as discontinuities.
    #[arg(long, default_value_t = 50, value_name = "MS")]
    ts_tolerance_ms: u32,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Publishes a pre-encoded FLV over RTMP, paced in real time by its timestamps, with the
    /// wall-clock send time in an SEI NAL unit at the start of every H.264 access unit.
    Publish(PublishArgs),
}

#[derive(Debug, clap::Args)]
struct PublishArgs {
    /// Where to publish: rtmp://HOST[:PORT]/APP/STREAM.
    #[arg(long, value_name = "URL")]
    url: String,
    /// The FLV file to publish (H.264 and/or AAC).
    #[arg(long, value_name = "FILE")]
    input: std::path::PathBuf,
    /// Stop after this many seconds (at most 3600). Without it the publisher stops at the end
    /// of the file, or after 3600 s with --loop.
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
    /// Start over at the end of the file, with timestamps that keep increasing.
    #[arg(long = "loop")]
    looped: bool,
    /// Allow a host that is not a loopback address.
    #[arg(long)]
    allow_remote: bool,
    /// Longest wait for the connection and NetStream.Publish.Start, in milliseconds.
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    connect_timeout_ms: u64,
    /// Print the summary as one JSON line on stdout.
    #[arg(long)]
    json: bool,
}

fn run_publish(a: &PublishArgs) -> ExitCode {
    let duration = match a.duration.map(Duration::try_from_secs_f64).transpose() {
        Ok(d) => d,
        Err(_) => {
            eprintln!("weir-loadgen publish: --duration is not a duration");
            return ExitCode::from(2);
        }
    };
    let cfg = PublishConfig {
        url: a.url.clone(),
        input: a.input.clone(),
        duration,
        looped: a.looped,
        allow_remote: a.allow_remote,
        connect_timeout: Duration::from_millis(a.connect_timeout_ms),
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("weir-loadgen publish: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let r = match rt.block_on(publish(cfg)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("weir-loadgen publish: {e}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "weir-loadgen publish: {} for {:.1} s (connected in {:.3} s): {} video frames ({} stamped), {} audio frames, {} bytes, {} pass(es), latest frame {:.1} ms behind its time{}",
        r.url,
        r.elapsed_s,
        r.connect_s,
        r.video_frames,
        r.stamped_frames,
        r.audio_frames,
        r.bytes,
        r.loops,
        r.max_late_ms,
        r.error
            .as_deref()
            .map(|e| format!("; stopped: {e}"))
            .unwrap_or_default()
    );
    if a.json {
        let line = serde_json::to_string(&r).unwrap_or_default();
        if writeln!(std::io::stdout().lock(), "{line}").is_err() {
            return ExitCode::from(1);
        }
    }
    if r.error.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The soft limit on open files, from /proc/self/limits.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn config(cli: &Cli) -> Result<RunConfig, String> {
    let targets = cli
        .urls
        .iter()
        .map(|u| Target::parse(u).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let secs = |v: f64, what: &str| {
        Duration::try_from_secs_f64(v).map_err(|_| format!("{what}: {v} is not a duration"))
    };
    if !(1..=64).contains(&cli.threads) {
        return Err("--threads must be 1 to 64".into());
    }
    let cfg = RunConfig {
        targets,
        players: cli.players,
        stalled: cli.stalled,
        duration: secs(cli.duration, "--duration")?,
        warmup: secs(cli.warmup, "--warmup")?,
        ramp_per_sec: cli.ramp_per_sec,
        server_pid: cli.server_pid,
        allow_remote: cli.allow_remote,
        connect_timeout: Duration::from_millis(cli.connect_timeout_ms),
        ts_tolerance_ms: cli.ts_tolerance_ms,
        threads: cli.threads,
    };
    cfg.validate()?;
    let total = ((cfg.players + cfg.stalled) * cfg.targets.len()) as u64;
    if let Some(limit) = open_files_limit()
        && total + 32 > limit
    {
        return Err(format!(
            "{total} players need more open files than the limit of {limit}; raise it (ulimit -n {})",
            total + 256
        ));
    }
    Ok(cfg)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Cmd::Publish(a)) = &cli.command {
        return run_publish(a);
    }
    let cfg = match config(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("weir-loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("weir-loadgen: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let report = match rt.block_on(run(cfg)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("weir-loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    // Players that did not stop are aborted; do not wait for their sockets.
    rt.shutdown_timeout(Duration::from_secs(1));
    let table = report.render();
    let mut stdout = std::io::stdout().lock();
    let written = if cli.json {
        eprint!("{table}");
        writeln!(stdout, "{}", report.to_json())
    } else {
        write!(stdout, "{table}")
    };
    if written.is_err() {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
