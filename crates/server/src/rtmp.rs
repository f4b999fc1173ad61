//! RTMP listener: publishers into the hub, players out of it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tracing::{Instrument, debug, info, warn};
use weir_flv::amf0::Amf0Value;
use weir_flv::tag;
use weir_hub::{HubError, LagPolicy, Publisher, PublisherInfo, Reader, ReaderEvent};
use weir_media::{CodecConfig, MediaInfo, StreamPath};
use weir_rtmp::chunk::ChunkPiece;
use weir_rtmp::ingest::{FlvIngest, IngestEvent};
use weir_rtmp::{RtmpError, ServerEvent, ServerSession, SessionConfig};

use crate::Ctx;
use crate::outq::OutQueue;

/// Read buffer size per connection.
const READ_BUF: usize = 64 * 1024;
/// Read buffer of a connection once it plays.
const PLAYER_READ_BUF: usize = 4 * 1024;
/// Most hub events a player batches into one socket write.
const MAX_BATCH: usize = 128;

/// Why an RTMP connection ended.
#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error(transparent)]
    Rtmp(#[from] RtmpError),
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("handshake and connect not finished within {0:?}")]
    HandshakeTimeout(Duration),
    #[error("no data from publisher for {0:?}")]
    Idle(Duration),
    #[error("player socket blocked for {0:?}")]
    WriteTimeout(Duration),
    #[error("{0}")]
    Rejected(String),
}

pub(crate) async fn serve(listener: TcpListener, ctx: Arc<Ctx>) {
    let active = Arc::new(AtomicUsize::new(0));
    loop {
        let accepted = tokio::select! {
            _ = ctx.cancel.cancelled() => break,
            a = listener.accept() => a,
        };
        let (sock, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                warn!(error = %e, "RTMP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let id = ctx.conn_id();
        if active.load(Ordering::Relaxed) >= ctx.cfg.rtmp.max_connections {
            warn!(conn = id, peer = %peer, limit = ctx.cfg.rtmp.max_connections, "RTMP connection limit reached; closing");
            continue;
        }
        active.fetch_add(1, Ordering::Relaxed);
        let span = tracing::info_span!("conn", id, proto = "rtmp", peer = %peer, path = tracing::field::Empty);
        let ctx2 = ctx.clone();
        let active2 = active.clone();
        ctx.tracker.spawn(
            async move {
                let _ = sock.set_nodelay(true);
                crate::limit_unsent(&sock);
                match connection(sock, peer, &ctx2).await {
                    Ok(()) => info!("connection closed"),
                    Err(e) => {
                        if let ConnError::WriteTimeout(_) = e {
                            ctx2.stalled.rtmp.fetch_add(1, Ordering::Relaxed);
                        }
                        warn!(error = %e, "connection closed with error")
                    }
                }
                active2.fetch_sub(1, Ordering::Relaxed);
            }
            .instrument(span),
        );
    }
}

/// What the connection became after connect.
enum Role {
    Publisher {
        publisher: Publisher,
        stream_id: u32,
    },
    Player {
        reader: Reader,
        stream_id: u32,
        name: String,
    },
}

async fn connection(sock: TcpStream, peer: SocketAddr, ctx: &Ctx) -> Result<(), ConnError> {
    let (mut rd, mut wr) = sock.into_split();
    let mut session = ServerSession::new(SessionConfig {
        chunk_size: ctx.cfg.rtmp.chunk_size,
        ..SessionConfig::default()
    });
    let mut buf = vec![0u8; READ_BUF];
    let hs_timeout = Duration::from_millis(ctx.cfg.rtmp.handshake_timeout_ms);
    let deadline = tokio::time::Instant::now() + hs_timeout;
    let mut app = String::new();
    // Phase 1: handshake, connect, and a publish or play request.
    let role = loop {
        let n = tokio::select! {
            _ = ctx.cancel.cancelled() => return Ok(()),
            r = tokio::time::timeout_at(deadline, rd.read(&mut buf)) => r.map_err(|_| ConnError::HandshakeTimeout(hs_timeout))??,
        };
        if n == 0 {
            debug!("peer closed before publishing or playing");
            return Ok(());
        }
        let res = session.handle_input(&buf[..n]);
        flush(&mut wr, &mut session).await?;
        res?;
        // Replies (including a rejection) go out before any error closes the connection.
        let role = handle_setup_events(&mut session, &mut app, peer, ctx);
        flush(&mut wr, &mut session).await?;
        if let Some(role) = role? {
            break role;
        }
    };
    match role {
        Role::Publisher {
            publisher,
            stream_id,
        } => publish_loop(rd, wr, session, publisher, stream_id, buf, ctx).await,
        Role::Player {
            reader,
            stream_id,
            name,
        } => {
            // A player only sends acknowledgements and the odd command: give back most of the
            // read buffer, which thousands of players would otherwise each keep.
            let mut buf = buf;
            buf.truncate(PLAYER_READ_BUF);
            buf.shrink_to_fit();
            play_loop(rd, wr, session, reader, stream_id, name, buf, ctx).await
        }
    }
}

fn stream_path(app: &str, name: &str) -> Result<StreamPath, ConnError> {
    StreamPath::from_app_stream(app, name).map_err(|e| ConnError::Rejected(e.to_string()))
}

fn handle_setup_events(
    session: &mut ServerSession,
    app: &mut String,
    peer: SocketAddr,
    ctx: &Ctx,
) -> Result<Option<Role>, ConnError> {
    while let Some(ev) = session.poll_event() {
        match ev {
            ServerEvent::Connected { app: a, tc_url, .. } => {
                debug!(app = %a, tc_url = tc_url.as_deref().unwrap_or(""), digest = session.digest_handshake(), "connect");
                *app = a;
            }
            ServerEvent::PublishRequest {
                stream_id,
                name,
                query,
            } => {
                let path = match stream_path(app, &name) {
                    Ok(p) => p,
                    Err(e) => {
                        session.reject(stream_id, "NetStream.Publish.BadName", &e.to_string());
                        return Err(e);
                    }
                };
                tracing::Span::current().record("path", path.as_str());
                match ctx.hub.publish(
                    path.clone(),
                    PublisherInfo {
                        protocol: "rtmp",
                        remote: peer.to_string(),
                    },
                ) {
                    Ok(publisher) => {
                        session.accept_publish(stream_id, &name);
                        info!(params = query.pairs().len(), "publishing");
                        return Ok(Some(Role::Publisher {
                            publisher,
                            stream_id,
                        }));
                    }
                    Err(e @ HubError::AlreadyPublishing(_)) => {
                        session.reject(
                            stream_id,
                            "NetStream.Publish.BadName",
                            "already publishing",
                        );
                        return Err(ConnError::Rejected(e.to_string()));
                    }
                    Err(e) => return Err(ConnError::Rejected(e.to_string())),
                }
            }
            ServerEvent::PlayRequest {
                stream_id, name, ..
            } => {
                let path = match stream_path(app, &name) {
                    Ok(p) => p,
                    Err(e) => {
                        session.reject(stream_id, "NetStream.Play.StreamNotFound", &e.to_string());
                        return Err(e);
                    }
                };
                tracing::Span::current().record("path", path.as_str());
                match ctx.hub.subscribe(&path, LagPolicy::SkipToKeyframe) {
                    Ok(reader) => {
                        session.accept_play(stream_id, &name);
                        info!("playing");
                        return Ok(Some(Role::Player {
                            reader,
                            stream_id,
                            name,
                        }));
                    }
                    Err(e) => {
                        session.reject(
                            stream_id,
                            "NetStream.Play.StreamNotFound",
                            &format!("{path} is not live"),
                        );
                        return Err(ConnError::Rejected(e.to_string()));
                    }
                }
            }
            ServerEvent::StreamClosed { .. } | ServerEvent::Metadata(_) => {}
            ServerEvent::Audio { .. } | ServerEvent::Video { .. } => {
                debug!("media before publish; ignored");
            }
        }
    }
    Ok(None)
}

/// Writes what the session holds (handshake and command replies, publisher acks). A peer that
/// takes none of it for [`CONTROL_WRITE_TIMEOUT`] is dropped.
async fn flush(wr: &mut OwnedWriteHalf, session: &mut ServerSession) -> Result<(), ConnError> {
    if session.has_output() {
        let out = session.take_output();
        match tokio::time::timeout(CONTROL_WRITE_TIMEOUT, wr.write_all(&out)).await {
            Ok(r) => r?,
            Err(_) => return Err(ConnError::WriteTimeout(CONTROL_WRITE_TIMEOUT)),
        }
    }
    Ok(())
}

/// How long a control reply may wait for the peer to read.
const CONTROL_WRITE_TIMEOUT: Duration = Duration::from_secs(20);

async fn publish_loop(
    mut rd: OwnedReadHalf,
    mut wr: OwnedWriteHalf,
    mut session: ServerSession,
    publisher: Publisher,
    stream_id: u32,
    mut buf: Vec<u8>,
    ctx: &Ctx,
) -> Result<(), ConnError> {
    let idle = Duration::from_millis(ctx.cfg.rtmp.idle_timeout_ms);
    let mut ingest = FlvIngest::new();
    let mut publisher = Some(publisher);
    let mut media_errors = 0u64;
    loop {
        let n = tokio::select! {
            _ = ctx.cancel.cancelled() => return Ok(()),
            r = tokio::time::timeout(idle, rd.read(&mut buf)) => r.map_err(|_| ConnError::Idle(idle))??,
        };
        if n == 0 {
            return Ok(());
        }
        let res = session.handle_input(&buf[..n]);
        flush(&mut wr, &mut session).await?;
        res?;
        while let Some(ev) = session.poll_event() {
            let Some(p) = &publisher else { continue };
            let converted = match ev {
                ServerEvent::Video { timestamp, body } => ingest.video(timestamp, body),
                ServerEvent::Audio { timestamp, body } => ingest.audio(timestamp, body),
                ServerEvent::Metadata(values) => {
                    log_metadata(&values);
                    continue;
                }
                ServerEvent::StreamClosed { stream_id: id } if id == stream_id || id == 0 => {
                    info!("publisher closed the stream");
                    publisher = None;
                    continue;
                }
                ServerEvent::PublishRequest { stream_id, .. } => {
                    session.reject(
                        stream_id,
                        "NetStream.Publish.BadName",
                        "already publishing on this connection",
                    );
                    continue;
                }
                _ => continue,
            };
            match converted {
                Ok(IngestEvent::Tracks(info)) => {
                    info!(tracks = %describe(&info), "tracks");
                    p.set_tracks(info);
                }
                Ok(IngestEvent::Frame(f)) => p.push(f),
                Ok(IngestEvent::Skip) => {}
                Err(e) => {
                    media_errors += 1;
                    if media_errors == 1 || media_errors.is_power_of_two() {
                        warn!(error = %e, count = media_errors, "unusable media message dropped");
                    }
                }
            }
        }
        flush(&mut wr, &mut session).await?;
    }
}

fn log_metadata(values: &[Amf0Value]) {
    let meta = values.get(1);
    let get = |k: &str| {
        meta.and_then(|m| m.get(k)).and_then(|v| {
            v.as_str()
                .map(str::to_owned)
                .or(v.as_f64().map(|f| f.to_string()))
        })
    };
    debug!(
        encoder = get("encoder").unwrap_or_default(),
        width = get("width").unwrap_or_default(),
        height = get("height").unwrap_or_default(),
        "onMetaData"
    );
}

/// `h264 1280x720, aac 44100 Hz 2 ch`.
pub(crate) fn describe(info: &MediaInfo) -> String {
    info.tracks
        .iter()
        .map(|t| match &t.codec {
            CodecConfig::H264(c) => format!("h264 {}x{}", c.width, c.height),
            CodecConfig::H265(c) => format!("hevc {}x{}", c.width, c.height),
            CodecConfig::Aac(c) => format!("aac {} Hz {} ch", c.sample_rate, c.channels),
            other => other.name().to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Per-player conversion from hub frames to RTMP messages.
pub(crate) struct FlvEgress {
    info: std::sync::Arc<MediaInfo>,
    base_ms: Option<i64>,
}

impl FlvEgress {
    pub(crate) fn new(info: std::sync::Arc<MediaInfo>) -> Self {
        Self {
            info,
            base_ms: None,
        }
    }

    pub(crate) fn set_info(&mut self, info: std::sync::Arc<MediaInfo>) {
        self.info = info;
    }

    pub(crate) fn info(&self) -> &MediaInfo {
        &self.info
    }

    /// `onMetaData` describing the tracks.
    pub(crate) fn metadata(&self) -> Vec<Amf0Value> {
        let mut props = Vec::new();
        let num = |v: f64| Amf0Value::Number(v);
        for t in &self.info.tracks {
            match &t.codec {
                CodecConfig::H264(c) => {
                    props.push(("width".to_owned(), num(c.width as f64)));
                    props.push(("height".to_owned(), num(c.height as f64)));
                    props.push(("videocodecid".to_owned(), num(7.0)));
                }
                CodecConfig::H265(c) => {
                    props.push(("width".to_owned(), num(c.width as f64)));
                    props.push(("height".to_owned(), num(c.height as f64)));
                    props.push(("videocodecid".to_owned(), Amf0Value::String("hvc1".into())));
                }
                CodecConfig::Aac(c) => {
                    props.push(("audiocodecid".to_owned(), num(10.0)));
                    props.push(("audiosamplerate".to_owned(), num(c.sample_rate as f64)));
                    props.push(("audiochannels".to_owned(), num(c.channels as f64)));
                    props.push(("stereo".to_owned(), Amf0Value::Boolean(c.channels == 2)));
                }
                _ => {}
            }
        }
        props.push((
            "encoder".to_owned(),
            Amf0Value::String(concat!("Weir ", env!("CARGO_PKG_VERSION")).into()),
        ));
        vec![
            Amf0Value::String("onMetaData".into()),
            Amf0Value::EcmaArray(props),
        ]
    }

    /// Decoder configuration bodies: (is_video, body).
    pub(crate) fn configs(&self) -> Vec<(bool, bytes::Bytes)> {
        self.info
            .tracks
            .iter()
            .filter_map(|t| {
                tag::config_body(&t.codec).map(|b| (t.kind() == weir_media::MediaKind::Video, b))
            })
            .collect()
    }

    /// Timestamp and the FLV body header of a frame, whose body is that header followed by
    /// `f.data` (for senders that do not copy the payload); `None` for tracks FLV cannot carry.
    pub(crate) fn frame_header(&mut self, f: &weir_media::Frame) -> Option<(u32, tag::BodyHeader)> {
        let track = self.info.track(f.track)?;
        let header = tag::frame_body_header(&track.codec, f)?;
        let dts = f.dts_ms();
        let base = *self.base_ms.get_or_insert(dts);
        Some(((dts - base).max(0) as u32, header))
    }
}

/// Queues one frame for a player: chunk headers and the FLV body header inline, the payload as
/// references to the frame's shared bytes (no copy per player).
fn queue_frame(
    q: &mut OutQueue,
    session: &mut ServerSession,
    stream_id: u32,
    egress: &mut FlvEgress,
    f: &weir_media::Frame,
) {
    let Some((ts, header)) = egress.frame_header(f) else {
        return;
    };
    if session.has_output() {
        q.push_shared(session.take_output().into());
    }
    let prefix = header.as_slice();
    let plen = prefix.len();
    session.media_pieces(
        stream_id,
        f.is_video(),
        ts,
        plen + f.data.len(),
        |piece| match piece {
            ChunkPiece::Header(h) => q.push_small(h),
            ChunkPiece::Payload(r) => {
                if r.start < plen {
                    q.push_small(&prefix[r.start..r.end.min(plen)]);
                }
                if r.end > plen {
                    q.push_shared(f.data.slice(r.start.max(plen) - plen..r.end - plen));
                }
            }
        },
    );
}

/// Writes what the session and the queue hold, in that order.
async fn flush_queue(
    wr: &mut OwnedWriteHalf,
    session: &mut ServerSession,
    q: &mut OutQueue,
    timeout: Duration,
) -> Result<(), ConnError> {
    if session.has_output() {
        q.push_shared(session.take_output().into());
    }
    match q.send_to(wr.as_ref(), timeout).await {
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
            crate::reset_on_close(wr.as_ref());
            Err(ConnError::WriteTimeout(timeout))
        }
        r => Ok(r?),
    }
}

#[allow(clippy::too_many_arguments)]
async fn play_loop(
    mut rd: OwnedReadHalf,
    mut wr: OwnedWriteHalf,
    mut session: ServerSession,
    mut reader: Reader,
    stream_id: u32,
    name: String,
    mut buf: Vec<u8>,
    ctx: &Ctx,
) -> Result<(), ConnError> {
    let mut egress = FlvEgress::new(reader.info().clone());
    let mut q = OutQueue::default();
    // A player that takes no byte for this long is dropped (and counted as stalled); one that
    // reads slowly falls behind the ring and skips to the next keyframe instead.
    let write_timeout = Duration::from_millis(ctx.cfg.rtmp.write_timeout_ms);
    let start = |session: &mut ServerSession, egress: &FlvEgress| {
        session.send_data(stream_id, &egress.metadata());
        for (video, body) in egress.configs() {
            session.send_media(stream_id, video, 0, &body);
        }
    };
    if !egress.info().tracks.is_empty() {
        start(&mut session, &egress);
    }
    flush_queue(&mut wr, &mut session, &mut q, write_timeout).await?;
    // Made once: a fresh `cancelled()` per wake-up would lock the token's waiter list twice.
    let cancelled = ctx.cancel.cancelled();
    let mut cancelled = std::pin::pin!(cancelled);
    loop {
        tokio::select! {
            _ = &mut cancelled => return Ok(()),
            r = rd.read(&mut buf) => {
                let n = r?;
                if n == 0 {
                    return Ok(());
                }
                session.handle_input(&buf[..n])?;
                while let Some(ev) = session.poll_event() {
                    if let ServerEvent::StreamClosed { .. } = ev {
                        info!("player closed the stream");
                        return Ok(());
                    }
                }
            }
            ev = reader.recv() => {
                let mut next = Some(ev);
                let mut batched = 0;
                while let Some(ev) = next.take() {
                    match ev {
                        ReaderEvent::Frame(f) => {
                            queue_frame(&mut q, &mut session, stream_id, &mut egress, &f);
                        }
                        ReaderEvent::Tracks(info) => {
                            egress.set_info(info);
                            start(&mut session, &egress);
                        }
                        ReaderEvent::Ended(reason) => {
                            session.end_play(stream_id, &name);
                            flush_queue(&mut wr, &mut session, &mut q, write_timeout).await?;
                            info!(?reason, "stream ended");
                            return Ok(());
                        }
                    }
                    batched += 1;
                    if batched < MAX_BATCH {
                        next = reader.try_recv();
                    }
                }
            }
        }
        flush_queue(&mut wr, &mut session, &mut q, write_timeout).await?;
    }
}
