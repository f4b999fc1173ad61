//! HTTP: landing page, JSON stream list, HTTP-FLV, HLS playlists and segments.
//!
//! Media URLs (stable, documented in the README):
//! - `/APP/STREAM.flv`: HTTP-FLV
//! - `/APP/STREAM/index.m3u8`: HLS in the default variant (today MPEG-TS)
//! - `/APP/STREAM/ts.m3u8`: HLS media playlist with MPEG-TS segments
//! - `/APP/STREAM/seg{N}.ts`: HLS segment

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tracing::{info, warn};
use weir_hub::LagPolicy;
use weir_media::StreamPath;

use axum::serve::ListenerExt;

use crate::{Ctx, cmaf_http, flv_out, stall, web};

pub(crate) async fn serve(listener: TcpListener, ctx: Arc<Ctx>) {
    let cors = HeaderValue::from_str(&ctx.cfg.http.cors_allow_origin)
        .unwrap_or(HeaderValue::from_static("*"));
    let app = Router::new()
        .route("/", get(web::landing))
        .route("/assets/hls.min.js", get(web::hlsjs))
        .route("/assets/dash.all.min.js", get(web::dashjs))
        .route("/play/{*path}", get(web::play))
        .route("/api/v1/streams", get(web::streams_json))
        .route("/api/v1/time", get(web::time))
        .fallback(media)
        .layer(axum::middleware::map_response(move |mut res: Response| {
            let cors = cors.clone();
            async move {
                let h = res.headers_mut();
                h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, cors);
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static("GET, HEAD, OPTIONS"),
                );
                h.insert(
                    header::ACCESS_CONTROL_EXPOSE_HEADERS,
                    HeaderValue::from_static("Content-Length, Content-Type"),
                );
                res
            }
        }))
        .with_state(ctx.clone());
    let cancel = ctx.cancel.clone();
    // tap_io: axum provides ConnectInfo<SocketAddr> for any listener wrapped this way.
    let listener = stall::GuardedListener {
        inner: listener,
        ctx: ctx.clone(),
    }
    .tap_io(|_| {});
    let res = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { cancel.cancelled().await })
    .await;
    if let Err(e) = res {
        warn!(error = %e, "HTTP server stopped");
    }
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

/// What a media URL asks for.
#[derive(Debug, PartialEq, Eq)]
enum MediaRequest {
    Flv(StreamPath),
    Playlist(StreamPath),
    Segment(StreamPath, u64),
    Cmaf(StreamPath, cmaf_http::CmafRequest),
}

/// Why a media URL was refused.
#[derive(Debug, PartialEq, Eq)]
enum UrlError {
    /// A `..` or `.` segment, an encoded dot or slash, or a backslash.
    Traversal,
    /// Not a media URL.
    Unknown,
    /// A stream path that is not valid.
    BadPath(String),
}

fn parse_media(path: &str) -> Result<MediaRequest, UrlError> {
    let lower = path.to_ascii_lowercase();
    if path.split('/').any(|s| s == ".." || s == ".")
        || lower.contains("%2e")
        || lower.contains("%2f")
        || path.contains('\\')
    {
        return Err(UrlError::Traversal);
    }
    let p = path.trim_start_matches('/');
    let sp = |s: &str| StreamPath::new(s).map_err(|e| UrlError::BadPath(e.to_string()));
    if let Some(s) = p.strip_suffix(".flv") {
        return Ok(MediaRequest::Flv(sp(s)?));
    }
    if let Some(s) = p
        .strip_suffix("/index.m3u8")
        .or_else(|| p.strip_suffix("/ts.m3u8"))
    {
        return Ok(MediaRequest::Playlist(sp(s)?));
    }
    if let Some((s, req)) = cmaf_http::parse(p) {
        return Ok(MediaRequest::Cmaf(sp(s)?, req));
    }
    if let Some((s, file)) = p.rsplit_once('/')
        && let Some(n) = file.strip_prefix("seg").and_then(|f| f.strip_suffix(".ts"))
        && let Ok(n) = n.parse::<u64>()
    {
        return Ok(MediaRequest::Segment(sp(s)?, n));
    }
    Err(UrlError::Unknown)
}

async fn media(
    State(ctx): State<Arc<Ctx>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: axum::http::HeaderMap,
) -> Response {
    if method == Method::OPTIONS {
        return StatusCode::NO_CONTENT.into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD are supported\n",
        );
    }
    let req = match parse_media(uri.path()) {
        Ok(r) => r,
        Err(UrlError::Traversal) => {
            warn!(proto = "http", peer = %peer, url = uri.path(), "refused a path with '..' or encoded separators");
            return text(
                StatusCode::BAD_REQUEST,
                "invalid path: '.', '..' and encoded separators are not allowed\n",
            );
        }
        Err(UrlError::BadPath(e)) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("invalid stream path: {e}\n"),
            );
        }
        Err(UrlError::Unknown) => {
            return text(
                StatusCode::NOT_FOUND,
                format!("not found: {}\n", uri.path()),
            );
        }
    };
    let req = match (req, ctx.cfg.hls.default_variant) {
        (MediaRequest::Playlist(path), v)
            if uri.path().ends_with("/index.m3u8") && v != weir_config::HlsVariant::Ts =>
        {
            MediaRequest::Cmaf(
                path,
                cmaf_http::CmafRequest::Playlist {
                    ll: v == weir_config::HlsVariant::Ll,
                },
            )
        }
        (r, _) => r,
    };
    match req {
        MediaRequest::Cmaf(path, r) => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_owned);
            cmaf_http::serve(ctx.clone(), path, r, uri.query().unwrap_or(""), &headers, host.as_deref()).await
        }
        MediaRequest::Flv(path) => match ctx.hub.subscribe(&path, LagPolicy::SkipToKeyframe) {
            Ok(reader) => {
                let id = ctx.conn_id();
                info!(conn = id, proto = "http-flv", path = %path, peer = %peer, "playing");
                let body = Body::from_stream(flv_out::body(reader, id, peer));
                (
                    [
                        (header::CONTENT_TYPE, "video/x-flv"),
                        (header::CACHE_CONTROL, "no-cache, no-store"),
                    ],
                    body,
                )
                    .into_response()
            }
            Err(_) => text(StatusCode::NOT_FOUND, format!("stream {path} not found\n")),
        },
        MediaRequest::Playlist(path) => match ctx.hls.playlist(&path) {
            Some(pl) => (
                [
                    (header::CONTENT_TYPE, "application/vnd.apple.mpegurl"),
                    (header::CACHE_CONTROL, "max-age=1, must-revalidate"),
                ],
                pl,
            )
                .into_response(),
            None if ctx.hls.contains(&path) || ctx.hub.is_live(&path) => (
                StatusCode::NOT_FOUND,
                [(header::CACHE_CONTROL, "no-cache"), (header::RETRY_AFTER, "1")],
                format!("stream {path} is live but its first HLS segment is not ready yet; retry shortly\n"),
            )
                .into_response(),
            None => text(StatusCode::NOT_FOUND, format!("stream {path} not found\n")),
        },
        MediaRequest::Segment(path, n) => match ctx.hls.segment(&path, n) {
            Some((data, written)) => {
                let mut res = (
                    [
                        (header::CONTENT_TYPE, "video/mp2t"),
                        (header::CACHE_CONTROL, "public, max-age=3600"),
                    ],
                    data,
                )
                    .into_response();
                if let Some(ms) = written {
                    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
                    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(t)) {
                        res.headers_mut().insert(header::LAST_MODIFIED, v);
                    }
                }
                res
            }
            None => text(StatusCode::NOT_FOUND, format!("segment {n} of {path} not found (expired or not yet written)\n")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_urls() {
        let p = |s: &str| StreamPath::new(s).unwrap();
        assert_eq!(
            parse_media("/live/a.flv"),
            Ok(MediaRequest::Flv(p("live/a")))
        );
        assert_eq!(
            parse_media("/live/a/index.m3u8"),
            Ok(MediaRequest::Playlist(p("live/a")))
        );
        assert_eq!(
            parse_media("/live/a/ts.m3u8"),
            Ok(MediaRequest::Playlist(p("live/a")))
        );
        assert_eq!(
            parse_media("/live/a/seg12.ts"),
            Ok(MediaRequest::Segment(p("live/a"), 12))
        );
        assert_eq!(parse_media("/live/../etc/passwd"), Err(UrlError::Traversal));
        assert_eq!(parse_media("/live/%2e%2e/x.flv"), Err(UrlError::Traversal));
        assert_eq!(parse_media("/live/a/segX.ts"), Err(UrlError::Unknown));
        assert!(matches!(
            parse_media("/live/a b.flv"),
            Err(UrlError::BadPath(_))
        ));
    }
}
