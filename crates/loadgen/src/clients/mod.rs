//! Player clients, one module per protocol. Each one connects, plays until the run's deadline,
//! and feeds every video/audio body it receives to a [`MediaCheck`].
//!
//! A new protocol (HLS/LL-HLS pollers, WHEP viewers) adds a module with a
//! `play(&PlayerCtx, &mut PlayerState) -> Result<(), String>` and a [`Protocol`] variant; a
//! The SEI-stamping publisher is [`crate::publish`].

pub mod hls;
pub mod http_flv;
pub mod rtmp;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::latency::LatencyHistogram;
use crate::media::{Counters, MediaCheck};
use crate::target::{Protocol, Target};

/// Size of each player's read buffer.
pub const READ_BUF: usize = 16 * 1024;

/// What a player needs to run.
#[derive(Debug, Clone)]
pub struct PlayerCtx {
    /// The target.
    pub target: Arc<Target>,
    /// Its resolved address.
    pub addr: SocketAddr,
    /// Where the player counts what it receives.
    pub counters: Arc<Counters>,
    /// Where the players of this target record latency samples.
    pub latency: Arc<LatencyHistogram>,
    /// When the run ends; the player stops by itself then.
    pub deadline: tokio::time::Instant,
    /// Longest wait for the TCP connection.
    pub connect_timeout: Duration,
    /// Timestamp steps back up to this many ms are not counted.
    pub ts_tolerance_ms: u32,
}

/// A player's state while it runs.
#[derive(Debug)]
pub struct PlayerState {
    /// When the connection attempt started.
    pub started: Instant,
    /// When the server accepted the play (RTMP `NetStream.Play.Start`, HTTP 200).
    pub connected_at: Option<Instant>,
    /// Media checks.
    pub media: MediaCheck,
}

impl PlayerState {
    /// Marks the play accepted.
    pub fn connected(&mut self) {
        self.connected_at.get_or_insert_with(Instant::now);
    }
}

/// How a player's run went.
#[derive(Debug, Clone, Default)]
pub struct PlayerOutcome {
    /// When the play was accepted.
    pub connected_at: Option<Instant>,
    /// From the start of the attempt to the play being accepted.
    pub connect_time: Option<Duration>,
    /// From the start of the attempt to the first video keyframe.
    pub first_keyframe: Option<Duration>,
    /// Connected and still playing when the run ended.
    pub alive_at_end: bool,
    /// Why it stopped early, if it did.
    pub error: Option<String>,
    /// Timestamp steps back beyond the tolerance.
    pub backjumps: u64,
    /// Timestamp steps forward beyond [`crate::media::GAP_MS`].
    pub gaps: u64,
    /// Bodies that could not be parsed.
    pub parse_errors: u64,
}

/// Runs one player until the deadline, an error, or the end of the stream.
pub async fn run_player(ctx: PlayerCtx) -> PlayerOutcome {
    let started = Instant::now();
    let mut st = PlayerState {
        started,
        connected_at: None,
        media: MediaCheck::new(
            ctx.counters.clone(),
            ctx.latency.clone(),
            started,
            ctx.ts_tolerance_ms,
        ),
    };
    let res = tokio::time::timeout_at(ctx.deadline, async {
        match ctx.target.protocol {
            Protocol::Rtmp => rtmp::play(&ctx, &mut st).await,
            Protocol::HttpFlv => http_flv::play(&ctx, &mut st).await,
            Protocol::Hls => hls::play(&ctx, &mut st).await,
        }
    })
    .await;
    let (alive_at_end, error) = match res {
        Err(_) if st.connected_at.is_some() => (true, None),
        Err(_) => (
            false,
            Some("not connected by the end of the run".to_owned()),
        ),
        Ok(Err(e)) => (false, Some(e)),
        Ok(Ok(())) => (false, Some("stream ended".to_owned())),
    };
    PlayerOutcome {
        connected_at: st.connected_at,
        connect_time: st.connected_at.map(|t| t - started),
        first_keyframe: st.media.first_keyframe,
        alive_at_end,
        error,
        backjumps: st.media.backjumps,
        gaps: st.media.gaps,
        parse_errors: st.media.parse_errors,
    }
}

/// Outcome of a stalled player whose connection the server closed.
pub const STALL_CLOSED: &str = "stalled: closed by the server";
/// Outcome of a stalled player whose connection was still open at the end.
pub const STALL_OPEN: &str = "stalled: still open at the end";

/// A stalled player, once the play is accepted: reads nothing until shortly before the
/// deadline, then drains what the kernel holds to see whether the server closed the
/// connection (EOF or reset) or still keeps it ([`STALL_CLOSED`] or [`STALL_OPEN`], as `Err`).
pub async fn stall(sock: &mut TcpStream, ctx: &PlayerCtx) -> Result<(), String> {
    use tokio::io::AsyncReadExt;
    let check = ctx.deadline - Duration::from_millis(1500);
    tokio::time::sleep_until(check).await;
    let mut buf = vec![0u8; 64 * 1024];
    let until = check + Duration::from_millis(1000);
    loop {
        match tokio::time::timeout_at(until, sock.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Err(STALL_CLOSED.into()),
            Ok(Ok(_)) => {}
            Err(_) => return Err(STALL_OPEN.into()),
        }
    }
}

/// Receive buffer of a stalled player: small, so the server meets a full window at once, as it
/// would behind a client that stopped reading long ago.
const STALL_RCVBUF: u32 = 4096;

/// Opens the TCP connection (with `TCP_NODELAY`) within the connect timeout.
pub async fn connect(ctx: &PlayerCtx) -> Result<TcpStream, String> {
    let socket = if ctx.addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(|e| format!("socket: {e}"))?;
    if ctx.target.stall {
        let _ = socket.set_recv_buffer_size(STALL_RCVBUF);
    }
    let sock = tokio::time::timeout(ctx.connect_timeout, socket.connect(ctx.addr))
        .await
        .map_err(|_| format!("connect: timed out after {:?}", ctx.connect_timeout))?
        .map_err(|e| format!("connect: {e}"))?;
    let _ = sock.set_nodelay(true);
    Ok(sock)
}
