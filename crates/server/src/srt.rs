//! SRT: the listener (publish and read, chosen by streamid), pulled inputs and push outputs.
//!
//! Ingest demuxes MPEG-TS into frames for the hub; egress muxes any hub stream, whatever
//! protocol published it, into MPEG-TS sent as 1316-byte messages. Admission happens during
//! the SRT handshake (see [`admit`]), so a refused caller gets an SRT rejection reason instead
//! of a connection that closes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tracing::{Instrument, debug, info, info_span, warn};
use weir_config::SrtConfig;
use weir_hub::{Hub, LagPolicy, LinkStats, Publisher, PublisherInfo, Reader, ReaderEvent};
use weir_media::{MediaKind, StreamPath};
use weir_mpegts::{DemuxEvent, TS_PACKET_SIZE, TsDemuxer, TsMuxer};
use weir_srt::{
    AdmitRequest, Admitted, CallerConfig, ListenerConfig, Mode, RejectReason, Rejection, SrtError,
    SrtListener, SrtOptions, SrtSocket, SrtStats, SrtUrl, StreamId,
};

use crate::Ctx;
use crate::rtmp::describe;

/// How often connection statistics are copied into the hub.
const STATS_EVERY: Duration = Duration::from_secs(1);
/// Hub events muxed into one batch of messages.
const MAX_BATCH: usize = 128;
/// Longest gap between PAT/PMT repetitions on SRT output (they also precede every keyframe).
const TABLES_EVERY_MS: i64 = 500;
/// Reconnect backoff of pulled inputs and push outputs.
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Counts open SRT connections, for the admission limit.
pub(crate) struct ConnCount(AtomicUsize);

struct ConnGuard(Arc<ConnCount>);

impl ConnGuard {
    fn new(count: &Arc<ConnCount>) -> Self {
        count.0.fetch_add(1, Ordering::Relaxed);
        Self(count.clone())
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Options of the listener itself (defaults for every connection).
pub(crate) fn listener_options(cfg: &SrtConfig) -> SrtOptions {
    SrtOptions {
        latency_ms: cfg.latency_ms,
        passphrase: (!cfg.passphrase.is_empty()).then(|| cfg.passphrase.clone()),
        pbkeylen: cfg.pbkeylen,
    }
}

/// Binds the listener with the admission function.
pub(crate) fn bind(cfg: &SrtConfig, hub: Hub) -> Result<(SrtListener, Arc<ConnCount>), SrtError> {
    let count = Arc::new(ConnCount(AtomicUsize::new(0)));
    let admit_cfg = cfg.clone();
    let admit_count = count.clone();
    let listener = SrtListener::bind(
        &ListenerConfig {
            bind: cfg.listen,
            options: listener_options(cfg),
            backlog: 64,
        },
        Arc::new(move |req: &AdmitRequest<'_>| admit(req, &admit_cfg, &hub, &admit_count)),
    )?;
    Ok((listener, count))
}

/// Decides during the handshake: a valid path, room for one more connection, a free path to
/// publish to or a live path to read, then the path's latency and passphrase.
fn admit(
    req: &AdmitRequest<'_>,
    cfg: &SrtConfig,
    hub: &Hub,
    count: &ConnCount,
) -> Result<Admitted, Rejection> {
    let path = StreamPath::new(&req.streamid.resource)
        .map_err(|e| Rejection::new(RejectReason::BadRequest, format!("invalid path: {e}")))?;
    if count.0.load(Ordering::Relaxed) >= cfg.max_connections {
        return Err(Rejection::new(
            RejectReason::Overload,
            format!("{} SRT connections already open", cfg.max_connections),
        ));
    }
    match req.streamid.mode {
        Mode::Publish if hub.is_live(&path) => {
            return Err(Rejection::new(
                RejectReason::Conflict,
                format!("stream {path} is already being published"),
            ));
        }
        Mode::Read if !hub.is_live(&path) => {
            return Err(Rejection::new(
                RejectReason::NotFound,
                format!("stream {path} is not live"),
            ));
        }
        _ => {}
    }
    let mut admitted = Admitted::default();
    if let Some(p) = cfg.paths.iter().find(|p| p.matches(path.as_str())) {
        admitted.latency_ms = p.latency_ms;
        admitted.passphrase = p
            .passphrase
            .as_ref()
            .map(|s| (!s.is_empty()).then(|| s.clone()));
    }
    Ok(admitted)
}

/// Accepts callers until shutdown.
pub(crate) async fn serve(listener: SrtListener, count: Arc<ConnCount>, ctx: Arc<Ctx>) {
    loop {
        let sock = tokio::select! {
            _ = ctx.cancel.cancelled() => return,
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    warn!(error = %e, "SRT accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let guard = ConnGuard::new(&count);
        let conn = ctx.conn_id();
        let peer = sock
            .peer_addr()
            .map_or_else(|| "?".into(), |a| a.to_string());
        let span = info_span!("srt", conn, %peer);
        let task_ctx = ctx.clone();
        ctx.tracker.spawn(
            async move {
                connection(sock, &task_ctx).await;
                drop(guard);
            }
            .instrument(span),
        );
    }
}

async fn connection(sock: SrtSocket, ctx: &Ctx) {
    // Admission already parsed it; parse again to act on it.
    let Ok(sid) = StreamId::parse(sock.streamid()) else {
        return;
    };
    let Ok(path) = StreamPath::new(&sid.resource) else {
        return;
    };
    let remote = sock.peer_addr().map_or_else(String::new, |a| a.to_string());
    match sid.mode {
        Mode::Publish => {
            let publisher = match ctx.hub.publish(
                path.clone(),
                PublisherInfo {
                    protocol: "srt",
                    remote: remote.clone(),
                },
            ) {
                Ok(p) => p,
                Err(e) => {
                    // Lost a race with another publisher admitted at the same moment.
                    warn!(%path, error = %e, "SRT publish refused after the handshake");
                    return;
                }
            };
            info!(%path, latency_ms = latency(&sock), "SRT publisher connected");
            let idle = Duration::from_millis(ctx.cfg.srt.idle_timeout_ms);
            let end = ingest(&sock, publisher, &remote, idle, ctx).await;
            info!(%path, end = %end, "SRT publisher left");
        }
        Mode::Read => {
            let reader = match ctx.hub.subscribe(&path, LagPolicy::SkipToKeyframe) {
                Ok(r) => r,
                Err(e) => {
                    warn!(%path, error = %e, "SRT read refused after the handshake");
                    return;
                }
            };
            info!(%path, latency_ms = latency(&sock), "SRT reader connected");
            let end = egress(&sock, reader, &remote, ctx).await;
            info!(%path, end = %end, "SRT reader left");
        }
    }
}

fn latency(sock: &SrtSocket) -> i32 {
    sock.stats(false).map_or(0, |s| s.receive_latency_ms)
}

/// Why an SRT connection's loop ended (for the log line).
pub(crate) enum End {
    Closed,
    Idle(Duration),
    Shutdown,
    StreamEnded,
    Error(SrtError),
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::Closed => f.write_str("peer closed"),
            End::Idle(d) => write!(f, "no data for {} ms", d.as_millis()),
            End::Shutdown => f.write_str("server shutting down"),
            End::StreamEnded => f.write_str("stream ended"),
            End::Error(e) => write!(f, "{e}"),
        }
    }
}

fn link_stats(s: &SrtStats, remote: &str, continuity_errors: u64) -> LinkStats {
    LinkStats {
        protocol: "srt",
        remote: remote.to_owned(),
        rtt_ms: s.rtt_ms,
        packets_received: s.packets_received.max(0) as u64,
        packets_sent: s.packets_sent.max(0) as u64,
        packets_lost: s.packets_lost.max(0) as u64,
        packets_retransmitted: s.packets_retransmitted.max(0) as u64
            + s.packets_retransmitted_received.max(0) as u64,
        packets_dropped: (s.packets_dropped + s.packets_send_dropped).max(0) as u64,
        receive_kbps: s.receive_mbps * 1000.0,
        send_kbps: s.send_mbps * 1000.0,
        buffer_ms: s.receive_buffer_ms.max(s.send_buffer_ms).max(0) as u32,
        latency_ms: s.receive_latency_ms.max(0) as u32,
        continuity_errors,
        updated: SystemTime::now(),
    }
}

/// Receives MPEG-TS from `sock` into the hub until the peer goes, goes quiet, or shutdown.
pub(crate) async fn ingest(
    sock: &SrtSocket,
    publisher: Publisher,
    remote: &str,
    idle: Duration,
    ctx: &Ctx,
) -> End {
    let mut demux = TsDemuxer::new();
    let mut buf = vec![0u8; 1500];
    let mut next_stats = Instant::now() + STATS_EVERY;
    let mut retrans_received = 0u64;
    let end = loop {
        let n = tokio::select! {
            _ = ctx.cancel.cancelled() => break End::Shutdown,
            r = tokio::time::timeout(idle, sock.recv(&mut buf)) => match r {
                Err(_) => break End::Idle(idle),
                Ok(Err(SrtError::Closed)) => break End::Closed,
                Ok(Err(e)) => break End::Error(e),
                Ok(Ok(n)) => n,
            },
        };
        demux.push(&buf[..n]);
        drain(&mut demux, &publisher);
        if Instant::now() >= next_stats {
            next_stats = Instant::now() + STATS_EVERY;
            if let Ok(s) = sock.stats(true) {
                retrans_received += s.packets_retransmitted_received.max(0) as u64;
                let mut l = link_stats(&s, remote, demux.stats().continuity_errors);
                l.packets_retransmitted = s.packets_retransmitted.max(0) as u64 + retrans_received;
                publisher.set_link_stats(l);
            }
        }
    };
    demux.flush();
    drain(&mut demux, &publisher);
    let st = demux.stats();
    if let Ok(s) = sock.stats(false) {
        info!(
            packets = s.packets_received,
            lost = s.packets_lost,
            dropped = s.packets_dropped,
            continuity_errors = st.continuity_errors,
            "SRT ingest totals"
        );
    }
    end
}

fn drain(demux: &mut TsDemuxer, publisher: &Publisher) {
    while let Some(ev) = demux.poll_event() {
        match ev {
            DemuxEvent::Tracks(info) => {
                info!(tracks = %describe(&info), "tracks");
                publisher.set_tracks(info);
            }
            DemuxEvent::Frame(f) => publisher.push(f),
        }
    }
}

/// Sends a hub stream to `sock` as MPEG-TS until it ends, the peer goes, or shutdown.
pub(crate) async fn egress(sock: &SrtSocket, mut reader: Reader, remote: &str, ctx: &Ctx) -> End {
    let mut out = TsOut::new(reader.info());
    let mut next_stats = Instant::now() + STATS_EVERY;
    loop {
        let ev = tokio::select! {
            _ = ctx.cancel.cancelled() => return End::Shutdown,
            ev = reader.recv() => ev,
        };
        let mut next = Some(ev);
        let mut batched = 0;
        let mut ended = false;
        while let Some(ev) = next.take() {
            match ev {
                ReaderEvent::Frame(f) => out.frame(&f),
                ReaderEvent::Tracks(info) => out = TsOut::new(&info),
                ReaderEvent::Ended(_) => {
                    ended = true;
                    break;
                }
            }
            batched += 1;
            if batched < MAX_BATCH {
                next = reader.try_recv();
            }
        }
        if let Err(e) = out.send(sock).await {
            return match e {
                SrtError::Closed => End::Closed,
                e => End::Error(e),
            };
        }
        if ended {
            return End::StreamEnded;
        }
        if Instant::now() >= next_stats {
            next_stats = Instant::now() + STATS_EVERY;
            if let Ok(s) = sock.stats(true) {
                reader.set_link_stats(link_stats(&s, remote, 0));
            }
        }
    }
}

/// MPEG-TS for one SRT reader: tables at the start, before every keyframe and at least every
/// [`TABLES_EVERY_MS`]; sent as messages of whole TS packets.
struct TsOut {
    mux: Option<TsMuxer>,
    buf: Vec<u8>,
    last_tables_ms: Option<i64>,
}

impl TsOut {
    fn new(info: &weir_media::MediaInfo) -> Self {
        let mux = (!info.tracks.is_empty()).then(|| TsMuxer::new(info));
        Self {
            mux,
            buf: Vec::with_capacity(64 * 1024),
            last_tables_ms: None,
        }
    }

    fn frame(&mut self, f: &weir_media::Frame) {
        let Some(mux) = self.mux.as_mut() else {
            return;
        };
        if !mux.handles(f.track) {
            return;
        }
        let ms = f.dts_ms();
        let due = self
            .last_tables_ms
            .is_none_or(|t| ms - t >= TABLES_EVERY_MS || ms < t);
        if due || (f.kind == MediaKind::Video && f.keyframe) {
            mux.write_tables(&mut self.buf);
            self.last_tables_ms = Some(ms);
        }
        if let Err(e) = mux.write_frame(f, &mut self.buf) {
            debug!(error = %e, "frame not muxed");
        }
    }

    async fn send(&mut self, sock: &SrtSocket) -> Result<(), SrtError> {
        for msg in self.buf.chunks(weir_srt::TS_PAYLOAD) {
            debug_assert_eq!(msg.len() % TS_PACKET_SIZE, 0);
            sock.send(msg).await?;
        }
        self.buf.clear();
        Ok(())
    }
}

/// A configured caller: the remote address and what to say to it.
#[derive(Clone)]
pub(crate) struct Remote {
    url: SrtUrl,
}

impl Remote {
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        SrtUrl::parse(url)
            .map(|url| Self { url })
            .map_err(|e| e.to_string())
    }

    /// The URL without its passphrase, for logs and the API.
    fn display(&self) -> String {
        format!(
            "srt://{}:{} ({})",
            self.url.host, self.url.port, self.url.streamid
        )
    }

    async fn connect(&self) -> Result<SrtSocket, String> {
        let addr: SocketAddr = tokio::net::lookup_host((self.url.host.as_str(), self.url.port))
            .await
            .map_err(|e| format!("cannot resolve {}: {e}", self.url.host))?
            .next()
            .ok_or_else(|| format!("{} has no address", self.url.host))?;
        weir_srt::connect(&CallerConfig {
            remote: addr,
            streamid: self.url.streamid.clone(),
            options: self.url.options.clone(),
            connect_timeout: self.url.connect_timeout,
        })
        .await
        .map_err(|e| e.to_string())
    }
}

/// Sleeps for the backoff (or until shutdown, returning false) and doubles it.
async fn backoff(ctx: &Ctx, delay: &mut Duration) -> bool {
    let d = *delay;
    *delay = (*delay * 2).min(BACKOFF_MAX);
    tokio::select! {
        _ = ctx.cancel.cancelled() => false,
        _ = tokio::time::sleep(d) => true,
    }
}

/// Pulls a remote SRT source into `path`, reconnecting with backoff until shutdown.
pub(crate) async fn pull(ctx: Arc<Ctx>, remote: Remote, path: StreamPath) {
    let mut delay = BACKOFF_MIN;
    let idle = Duration::from_millis(ctx.cfg.srt.idle_timeout_ms);
    loop {
        if ctx.cancel.is_cancelled() {
            return;
        }
        let sock = match remote.connect().await {
            Ok(s) => s,
            Err(e) => {
                warn!(%path, remote = %remote.display(), error = %e, retry_in_ms = delay.as_millis() as u64, "SRT pull: cannot connect");
                if !backoff(&ctx, &mut delay).await {
                    return;
                }
                continue;
            }
        };
        let who = PublisherInfo {
            protocol: "srt-pull",
            remote: remote.display(),
        };
        let publisher = match ctx.hub.publish(path.clone(), who) {
            Ok(p) => p,
            Err(e) => {
                warn!(%path, error = %e, "SRT pull: cannot publish; retrying");
                drop(sock);
                if !backoff(&ctx, &mut delay).await {
                    return;
                }
                continue;
            }
        };
        info!(%path, remote = %remote.display(), "SRT pull connected");
        let started = Instant::now();
        let end = ingest(&sock, publisher, &remote.display(), idle, &ctx).await;
        info!(%path, end = %end, "SRT pull ended");
        if matches!(end, End::Shutdown) {
            return;
        }
        if started.elapsed() > BACKOFF_MAX {
            delay = BACKOFF_MIN;
        }
        if !backoff(&ctx, &mut delay).await {
            return;
        }
    }
}

/// Pushes `path` to a remote SRT listener whenever it is live, reconnecting with backoff.
pub(crate) async fn push(ctx: Arc<Ctx>, path: StreamPath, remote: Remote) {
    let mut delay = BACKOFF_MIN;
    let mut notices = ctx.hub.notices();
    loop {
        // Wait for the path to be live.
        while !ctx.hub.is_live(&path) {
            tokio::select! {
                _ = ctx.cancel.cancelled() => return,
                _ = notices.recv() => {}
            }
        }
        let sock = match remote.connect().await {
            Ok(s) => s,
            Err(e) => {
                warn!(%path, remote = %remote.display(), error = %e, retry_in_ms = delay.as_millis() as u64, "SRT push: cannot connect");
                if !backoff(&ctx, &mut delay).await {
                    return;
                }
                continue;
            }
        };
        let Ok(reader) = ctx.hub.subscribe(&path, LagPolicy::SkipToKeyframe) else {
            continue; // the stream ended in the meantime
        };
        info!(%path, remote = %remote.display(), "SRT push connected");
        let started = Instant::now();
        let end = egress(&sock, reader, &remote.display(), &ctx).await;
        info!(%path, end = %end, "SRT push ended");
        match end {
            End::Shutdown => return,
            End::StreamEnded => delay = BACKOFF_MIN,
            _ => {
                if started.elapsed() > BACKOFF_MAX {
                    delay = BACKOFF_MIN;
                }
                if !backoff(&ctx, &mut delay).await {
                    return;
                }
            }
        }
    }
}
