//! HTTP for the CMAF outputs: fMP4 HLS, LL-HLS (blocking reload, delta updates, preload-hinted
//! parts streamed as they are written) and DASH.
//!
//! Waiting requests (a blocking playlist reload, a part not finished yet) park on the stream's
//! `watch` channel: a thousand of them are a thousand idle futures, woken together when the
//! packager adds a chunk, part or segment.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use weir_cmaf::mpd::{MpdOptions, mpd};
use weir_cmaf::playlist::{PlaylistOptions, media_playlist};
use weir_media::{Query, StreamPath};

use crate::Ctx;
use crate::hls::Entry;

/// A CMAF URL under `/APP/STREAM/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CmafRequest {
    /// `fmp4.m3u8` (`ll == false`) or `ll.m3u8`.
    Playlist { ll: bool },
    /// `index.mpd`.
    Mpd,
    /// `init.mp4`: every track.
    Init,
    /// `seg{msn}.m4s`.
    Segment(u64),
    /// `part{msn}.{index}.m4s`.
    Part(u64, usize),
    /// `dash/{track}/init.mp4`.
    TrackInit(u32),
    /// `dash/{track}/seg{msn}.m4s`.
    TrackSegment(u32, u64),
}

/// Splits `APP/STREAM/<file>` into the stream path and the request, if it is a CMAF URL.
pub(crate) fn parse(p: &str) -> Option<(&str, CmafRequest)> {
    let (rest, file) = p.rsplit_once('/')?;
    let num = |s: &str| s.parse::<u64>().ok();
    // DASH per-track files: APP/STREAM/dash/{track}/{file}
    if let Some((head, track)) = rest.rsplit_once('/')
        && let Some(stream) = head.strip_suffix("/dash")
        && let Ok(track) = track.parse::<u32>()
    {
        if file == "init.mp4" {
            return Some((stream, CmafRequest::TrackInit(track)));
        }
        let n = file
            .strip_prefix("seg")?
            .strip_suffix(".m4s")
            .and_then(num)?;
        return Some((stream, CmafRequest::TrackSegment(track, n)));
    }
    let req = match file {
        "fmp4.m3u8" => CmafRequest::Playlist { ll: false },
        "ll.m3u8" => CmafRequest::Playlist { ll: true },
        "index.mpd" => CmafRequest::Mpd,
        "init.mp4" => CmafRequest::Init,
        f => {
            let stem = f.strip_suffix(".m4s")?;
            if let Some(n) = stem.strip_prefix("seg") {
                CmafRequest::Segment(num(n)?)
            } else {
                let (msn, idx) = stem.strip_prefix("part")?.split_once('.')?;
                CmafRequest::Part(num(msn)?, idx.parse().ok()?)
            }
        }
    };
    Some((rest, req))
}

fn text(status: StatusCode, msg: impl Into<String>) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        msg.into(),
    )
        .into_response()
}

const MP4: &str = "video/mp4";
/// Media segments and parts never change once written (their numbers are not reused).
const IMMUTABLE: &str = "public, max-age=3600";
/// Longest a part or segment is streamed while it is being written.
const GROW_TIMEOUT: Duration = Duration::from_secs(15);

/// Serves one CMAF request.
pub(crate) async fn serve(
    ctx: Arc<Ctx>,
    path: StreamPath,
    req: CmafRequest,
    query: &str,
    headers: &HeaderMap,
    host: Option<&str>,
) -> Response {
    let Some(entry) = ctx.hls.get(&path) else {
        let why = if ctx.hub.is_live(&path) {
            "is live but not packaged yet; retry shortly"
        } else {
            "not found"
        };
        return text(StatusCode::NOT_FOUND, format!("stream {path} {why}\n"));
    };
    match req {
        CmafRequest::Playlist { ll } => playlist(&ctx, &entry, ll, query, headers).await,
        CmafRequest::Mpd => {
            let t = entry.cmaf().timeline();
            if t.segments.iter().all(|s| !s.complete) {
                return not_ready(&path);
            }
            let base = host.map_or_else(String::new, |h| format!("http://{h}"));
            let body = mpd(
                &t,
                &MpdOptions {
                    utc_timing_url: format!("{base}/api/v1/time"),
                    now_unix_ms: unix_ms(),
                    low_latency: ctx.cfg.hls.dash_low_latency,
                    target_latency_ms: 3 * ctx.cfg.hls.part_target_ms.max(500),
                },
            );
            with_etag(
                headers,
                "application/dash+xml",
                "max-age=1, must-revalidate",
                t.version,
                body,
            )
        }
        CmafRequest::Init => match entry.cmaf().init_segment() {
            Some(b) => bytes(MP4, "no-cache", b),
            None => not_ready(&path),
        },
        CmafRequest::TrackInit(track) => match entry.cmaf().track_init_segment(track) {
            Some(b) => bytes(MP4, "no-cache", b),
            None => text(
                StatusCode::NOT_FOUND,
                format!("no track {track} in {path}\n"),
            ),
        },
        CmafRequest::Segment(msn) => grow(entry, msn, None, None).await,
        CmafRequest::Part(msn, idx) => grow(entry, msn, Some(idx), None).await,
        CmafRequest::TrackSegment(track, msn) => {
            let idx = entry
                .cmaf()
                .timeline()
                .tracks
                .iter()
                .position(|t| t.id == track);
            match idx {
                Some(i) => grow(entry, msn, None, Some(i)).await,
                None => text(
                    StatusCode::NOT_FOUND,
                    format!("no track {track} in {path}\n"),
                ),
            }
        }
    }
}

fn not_ready(path: &StreamPath) -> Response {
    (
        StatusCode::NOT_FOUND,
        [
            (header::CACHE_CONTROL, "no-cache"),
            (header::RETRY_AFTER, "1"),
        ],
        format!("stream {path} is live but its first segment is not ready yet; retry shortly\n"),
    )
        .into_response()
}

fn bytes(ct: &'static str, cache: &'static str, b: Bytes) -> Response {
    (
        [(header::CONTENT_TYPE, ct), (header::CACHE_CONTROL, cache)],
        b,
    )
        .into_response()
}

fn with_etag(
    headers: &HeaderMap,
    ct: &'static str,
    cache: &'static str,
    version: u64,
    body: String,
) -> Response {
    let etag = format!("\"v{version}\"");
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag)
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let mut res = (
        [(header::CONTENT_TYPE, ct), (header::CACHE_CONTROL, cache)],
        body,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The fMP4 or LL-HLS media playlist, blocking when the client asks for a future part.
async fn playlist(
    ctx: &Ctx,
    entry: &Arc<Entry>,
    ll: bool,
    query: &str,
    headers: &HeaderMap,
) -> Response {
    let q = Query::parse(query);
    let number = |key: &str| {
        q.get(key)
            .map(|v| v.parse::<u64>().map_err(|_| key.to_owned()))
    };
    let (msn, part) = match (
        number("_HLS_msn").transpose(),
        number("_HLS_part").transpose(),
    ) {
        (Ok(m), Ok(p)) => (m, p.map(|p| usize::try_from(p).unwrap_or(usize::MAX))),
        (Err(k), _) | (_, Err(k)) => {
            return text(StatusCode::BAD_REQUEST, format!("{k} must be a number\n"));
        }
    };
    let skip = q.get("_HLS_skip").is_some_and(|v| v == "YES" || v == "v2");
    if ll && q.get("_HLS_part").is_some() && msn.is_none() {
        return text(StatusCode::BAD_REQUEST, "_HLS_part needs _HLS_msn\n");
    }
    let blocking = ll && msn.is_some();
    if let Some(msn) = msn.filter(|_| ll) {
        let mut rx = entry.changed.subscribe();
        let t = entry.cmaf().timeline();
        let last_msn = t.next_msn();
        // RFC 8216bis 6.2.5.2: more than two segments past the last one, or a part index beyond the
        // advance limit, is a bad request.
        let too_far = msn > last_msn + 2
            || part.is_some_and(|p| {
                let known = if msn == last_msn {
                    t.open().map_or(0, |o| o.parts.len())
                } else {
                    0
                };
                p > known + 3 && msn >= last_msn
            });
        if too_far {
            return text(
                StatusCode::BAD_REQUEST,
                format!(
                    "_HLS_msn={msn} is too far ahead of the playlist (last segment {last_msn})\n"
                ),
            );
        }
        let deadline =
            tokio::time::Instant::now() + Duration::from_secs(3 * t.target_duration_s.max(1));
        loop {
            let ready = {
                let c = entry.cmaf();
                let t = c.timeline();
                t.has(msn, part) || t.ended
            };
            if ready {
                break;
            }
            tokio::select! {
                _ = ctx.cancel.cancelled() => return text(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n"),
                r = tokio::time::timeout_at(deadline, rx.changed()) => match r {
                    Ok(Ok(())) => {}
                    // Timed out, or the packager is gone.
                    _ => return text(StatusCode::SERVICE_UNAVAILABLE, "the requested part did not appear in time\n"),
                },
            }
        }
    }
    let t = entry.cmaf().timeline();
    if t.segments.iter().all(|s| !s.complete) && !(ll && t.last_part().is_some()) {
        return (
            StatusCode::NOT_FOUND,
            [
                (header::CACHE_CONTROL, "no-cache"),
                (header::RETRY_AFTER, "1"),
            ],
            "the first segment is not ready yet; retry shortly\n",
        )
            .into_response();
    }
    let opts = PlaylistOptions {
        low_latency: ll,
        skip: ll && skip,
        rendition_reports: Vec::new(),
    };
    let body = media_playlist(&t, &opts);
    // A blocking response names a point in time in its URL, so caches may keep it.
    let cache = if blocking {
        "public, max-age=6"
    } else {
        "max-age=1, must-revalidate"
    };
    with_etag(
        headers,
        "application/vnd.apple.mpegurl",
        cache,
        t.version,
        body,
    )
}

/// A segment or part: at once when complete, else streamed chunk by chunk as it is written.
async fn grow(entry: Arc<Entry>, msn: u64, part: Option<usize>, track: Option<usize>) -> Response {
    let rx = entry.changed.subscribe();
    let first = entry.cmaf().progress(msn, part, track, 0);
    let Some(first) = first else {
        return text(
            StatusCode::NOT_FOUND,
            format!(
                "{} {msn} not found (expired or too far ahead)\n",
                if part.is_some() {
                    "part of segment"
                } else {
                    "segment"
                }
            ),
        );
    };
    if first.done {
        // The fragments go out as they are stored: no copy into one buffer per request.
        let len = first.len();
        let body = Body::from_stream(futures_util::stream::iter(
            first.pieces.into_iter().map(Ok::<Bytes, std::io::Error>),
        ));
        let mut res = (
            [
                (header::CONTENT_TYPE, MP4),
                (header::CACHE_CONTROL, IMMUTABLE),
            ],
            body,
        )
            .into_response();
        res.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        let modified =
            SystemTime::UNIX_EPOCH + Duration::from_millis(first.modified_unix_ms.max(0) as u64);
        if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(modified)) {
            res.headers_mut().insert(header::LAST_MODIFIED, v);
        }
        return res;
    }
    // State: the receiver (None once the last bytes went out), chunks sent, bytes to send.
    let state = (Some(rx), first.chunks, Some(first.to_bytes()));
    let stream = futures_util::stream::unfold(state, move |(rx, seen, initial)| {
        let entry = entry.clone();
        async move {
            let mut rx = rx?;
            if let Some(data) = initial {
                return Some((Ok::<Bytes, std::io::Error>(data), (Some(rx), seen, None)));
            }
            loop {
                let deadline = tokio::time::Instant::now() + GROW_TIMEOUT;
                match tokio::time::timeout_at(deadline, rx.changed()).await {
                    Ok(Ok(())) => {}
                    _ => return None,
                }
                let next = entry.cmaf().progress(msn, part, track, seen);
                match next {
                    Some(n) if n.done => return Some((Ok(n.to_bytes()), (None, n.chunks, None))),
                    Some(n) if !n.is_empty() => {
                        return Some((Ok(n.to_bytes()), (Some(rx), n.chunks, None)));
                    }
                    Some(_) => {}
                    None => return None,
                }
            }
        }
    });
    (
        [
            (header::CONTENT_TYPE, MP4),
            (header::CACHE_CONTROL, IMMUTABLE),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}
