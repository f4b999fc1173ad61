//! HLS pollers over one keep-alive HTTP/1.1 connection each.
//!
//! - `…/ts.m3u8` (or any other `.m3u8`): reloads the media playlist about twice per target
//!   duration, fetches every segment that appeared since the last one, starting at the newest,
//!   and demuxes it (`weir_mpegts::TsDemuxer`).
//! - `…/ll.m3u8`: LL-HLS. Fetches `init.mp4` once, then asks for the next part with a blocking
//!   reload (`_HLS_msn`/`_HLS_part`), fetches every part listed since the last one and reads its
//!   fragments' samples ([`crate::fmp4`]).
//!
//! Both feed every frame to the player's [`MediaCheck`](crate::media::MediaCheck): frames,
//! keyframes, timestamp continuity and the SEI latency stamp (received when the segment or part
//! is parsed, so the figure includes the packaging delay: a segment is listed when it is
//! complete, a part when it is).

use std::collections::HashMap;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use weir_media::MediaKind;
use weir_mpegts::{DemuxEvent, TsDemuxer};

use super::{PlayerCtx, PlayerState, READ_BUF, connect};
use crate::fmp4;
use crate::http::{BodyDecoder, Framing, parse_head};

/// Largest playlist, segment or part body accepted.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// One keep-alive connection, reopened when the server closes it.
struct Conn {
    sock: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Conn {
    /// GET `path`; returns the status and the whole body.
    async fn get(
        &mut self,
        ctx: &PlayerCtx,
        st: &mut PlayerState,
        path: &str,
    ) -> Result<(u16, Vec<u8>), String> {
        let sock = match &mut self.sock {
            Some(s) => s,
            None => self.sock.insert(connect(ctx).await?),
        };
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: weir-loadgen\r\nAccept: */*\r\n\r\n",
            ctx.target.host_header()
        );
        sock.write_all(req.as_bytes())
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut head = Vec::new();
        let mut body = Vec::new();
        let mut dec: Option<(u16, BodyDecoder)> = None;
        loop {
            let n = sock
                .read(&mut self.buf)
                .await
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                self.sock = None;
                return match dec {
                    Some((status, d)) if d.done() || d.framing() == Framing::Close => {
                        Ok((status, body))
                    }
                    _ => Err("server closed the connection".into()),
                };
            }
            st.media.bytes(n);
            let mut data = &self.buf[..n];

            if dec.is_none() {
                head.extend_from_slice(data);
                let Some((h, len)) = parse_head(&head).map_err(|e| format!("http: {e}"))? else {
                    continue;
                };
                let consumed_before = head.len() - data.len();
                data = &data[len - consumed_before..];
                dec = Some((h.status, BodyDecoder::new(h.framing)));
            }
            let Some((status, d)) = &mut dec else {
                continue;
            };
            d.feed(data, |b| body.extend_from_slice(b))
                .map_err(|e| format!("http: {e}"))?;
            if body.len() > MAX_BODY {
                return Err("response body too large".into());
            }
            if d.done() {
                return Ok((*status, body));
            }
        }
    }
}

/// What a poller needs from a media playlist.
#[derive(Debug, Default)]
struct Playlist {
    media_sequence: u64,
    target_duration_s: f64,
    /// (msn, uri) of the complete segments.
    segments: Vec<(u64, String)>,
    /// (msn, part index, uri) of the parts listed.
    parts: Vec<(u64, usize, String)>,
    ended: bool,
}

fn parse_playlist(text: &str) -> Playlist {
    let mut p = Playlist::default();
    let mut msn = None;
    let mut part_idx = 0;
    for line in text.lines() {
        let line = line.trim();
        if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            p.media_sequence = v.parse().unwrap_or(0);
            msn = Some(p.media_sequence);
        } else if let Some(v) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
            p.target_duration_s = v.parse().unwrap_or(2.0);
        } else if line.starts_with("#EXT-X-ENDLIST") {
            p.ended = true;
        } else if let Some(v) = line.strip_prefix("#EXT-X-PART:") {
            let m = msn.unwrap_or(p.media_sequence);
            if let Some(uri) = attr(v, "URI") {
                p.parts.push((m, part_idx, uri));
            }
            part_idx += 1;
        } else if !line.is_empty() && !line.starts_with('#') {
            let m = msn.unwrap_or(p.media_sequence);
            p.segments.push((m, line.to_owned()));
            msn = Some(m + 1);
            part_idx = 0;
        }
    }
    p
}

/// The value of `NAME="…"` or `NAME=…` in an attribute list.
fn attr(list: &str, name: &str) -> Option<String> {
    let i = list.find(&format!("{name}="))? + name.len() + 1;
    let rest = &list[i..];
    Some(match rest.strip_prefix('"') {
        Some(q) => q.split('"').next()?.to_owned(),
        None => rest.split(',').next()?.to_owned(),
    })
}

/// The directory part of a request path, with its trailing slash.
fn dir_of(path: &str) -> &str {
    let file = path.split('?').next().unwrap_or(path);
    &file[..file.rfind('/').map_or(0, |i| i + 1)]
}

/// Polls until the stream ends or fails (`Err` with the reason); the caller's deadline stops it
/// otherwise.
pub async fn play(ctx: &PlayerCtx, st: &mut PlayerState) -> Result<(), String> {
    let mut conn = Conn {
        sock: None,
        buf: vec![0u8; READ_BUF],
    };
    if ctx.target.ll {
        play_ll(ctx, st, &mut conn).await
    } else {
        play_ts(ctx, st, &mut conn).await
    }
}

/// Fetches the playlist, waiting while the stream is not there yet (404).
async fn playlist(
    ctx: &PlayerCtx,
    st: &mut PlayerState,
    conn: &mut Conn,
    path: &str,
) -> Result<Playlist, String> {
    loop {
        let (status, body) = conn.get(ctx, st, path).await?;
        match status {
            200 => {
                st.connected();
                return Ok(parse_playlist(&String::from_utf8_lossy(&body)));
            }
            // Not live yet; or (503) a blocking reload that timed out.
            404 | 503 => tokio::time::sleep(Duration::from_millis(200)).await,
            s => return Err(format!("HTTP {s}")),
        }
    }
}

async fn play_ts(ctx: &PlayerCtx, st: &mut PlayerState, conn: &mut Conn) -> Result<(), String> {
    let dir = dir_of(&ctx.target.path).to_owned();
    let mut next: Option<u64> = None;
    let mut demux = TsDemuxer::new();
    let mut kinds: HashMap<u8, MediaKind> = HashMap::new();
    loop {
        let pl = playlist(ctx, st, conn, &ctx.target.path).await?;
        let from = next.unwrap_or_else(|| pl.segments.last().map_or(0, |s| s.0));
        let mut fetched = false;
        for (msn, uri) in pl.segments.iter().filter(|s| s.0 >= from) {
            let (status, body) = conn.get(ctx, st, &format!("{dir}{uri}")).await?;
            next = Some(msn + 1);
            if status != 200 {
                // Fell out of the window (a slow poller): move on.
                continue;
            }
            fetched = true;
            demux.push(&body);
            while let Some(ev) = demux.poll_event() {
                match ev {
                    DemuxEvent::Tracks(info) => {
                        kinds = info.tracks.iter().map(|t| (t.id, t.kind())).collect();
                    }
                    DemuxEvent::Frame(f) => {
                        let ts = f.dts_ms() as u32;
                        match kinds.get(&f.track) {
                            Some(MediaKind::Video) => st.media.video_frame(ts, f.keyframe, &f.data),
                            Some(_) => st.media.audio_frame(ts),
                            None => st.media.parse_error(),
                        }
                    }
                }
            }
        }
        if pl.ended {
            return Ok(());
        }
        if !fetched {
            let wait = (pl.target_duration_s / 4.0).clamp(0.1, 2.0);
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
    }
}

async fn play_ll(ctx: &PlayerCtx, st: &mut PlayerState, conn: &mut Conn) -> Result<(), String> {
    let dir = dir_of(&ctx.target.path).to_owned();
    let file = ctx
        .target
        .path
        .split('?')
        .next()
        .unwrap_or_default()
        .to_owned();
    let pl = playlist(ctx, st, conn, &file).await?;
    let (status, init) = conn.get(ctx, st, &format!("{dir}init.mp4")).await?;
    if status != 200 {
        return Err(format!("init.mp4: HTTP {status}"));
    }
    let tracks = fmp4::parse_init(&init).map_err(|e| format!("init.mp4: {e}"))?;
    // Start with the part after the newest one listed.
    let mut last = pl.parts.last().map(|p| (p.0, p.1));
    let mut want = last.map_or(
        (pl.media_sequence + pl.segments.len() as u64, 0),
        |(m, p)| (m, p + 1),
    );
    loop {
        let pl = playlist(
            ctx,
            st,
            conn,
            &format!("{file}?_HLS_msn={}&_HLS_part={}", want.0, want.1),
        )
        .await?;
        if pl.ended {
            return Ok(());
        }
        let newer: Vec<_> = pl
            .parts
            .iter()
            .filter(|x| last.is_none_or(|l| (x.0, x.1) > l))
            .cloned()
            .collect();
        if newer.is_empty() {
            // Segment want.0 closed after the part we have: the next part opens the next one.
            if pl.segments.iter().any(|s| s.0 == want.0) {
                want = (want.0 + 1, 0);
            }
            continue;
        }
        for (pm, pi, uri) in newer {
            let (status, body) = conn.get(ctx, st, &format!("{dir}{uri}")).await?;
            last = Some((pm, pi));
            want = (pm, pi + 1);
            if status != 200 {
                continue;
            }
            match fmp4::parse_fragments(&body) {
                Ok(samples) => {
                    for s in samples {
                        let Some(t) = tracks.get(&s.track_id) else {
                            st.media.parse_error();
                            continue;
                        };
                        let ts = (u128::from(s.dts) * 1000 / u128::from(t.timescale.max(1))) as u32;
                        if t.video {
                            st.media.video_frame(ts, s.keyframe, s.data);
                        } else {
                            st.media.audio_frame(ts);
                        }
                    }
                }
                Err(_) => st.media.parse_error(),
            }
        }
    }
}
