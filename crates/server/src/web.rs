//! The landing page: live streams, a player (hls.js, served by Weir itself) and the URLs to copy.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;
use weir_media::CodecConfig;

use crate::Ctx;

/// Whether hls.js was installed (by the project's setup, from npm) when this binary was built.
pub(crate) const HLSJS_BUNDLED: bool = cfg!(weir_hlsjs);

const HLSJS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/hls.min.js"));
const INDEX_HTML: &str = include_str!("../assets/index.html");

pub(crate) async fn landing() -> Html<&'static str> {
    Html(INDEX_HTML)
}

pub(crate) async fn hlsjs() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        HLSJS,
    )
        .into_response()
}

#[derive(Serialize)]
struct StreamsJson {
    rtmp_port: u16,
    hls_enabled: bool,
    player_bundled: bool,
    streams: Vec<StreamJson>,
}

#[derive(Serialize)]
struct StreamJson {
    path: String,
    protocol: &'static str,
    remote: String,
    started_unix_ms: u64,
    readers: usize,
    bytes_in: u64,
    frames_dropped: u64,
    tracks: Vec<TrackJson>,
}

#[derive(Serialize)]
struct TrackJson {
    codec: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sample_rate: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channels: Option<u8>,
}

pub(crate) async fn streams_json(State(ctx): State<Arc<Ctx>>) -> Response {
    let streams = ctx
        .hub
        .streams()
        .into_iter()
        .map(|s| StreamJson {
            path: s.path.to_string(),
            protocol: s.protocol,
            remote: s.remote,
            started_unix_ms: s
                .started
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            readers: s.readers,
            bytes_in: s.bytes_in,
            frames_dropped: s.frames_dropped,
            tracks: s
                .info
                .tracks
                .iter()
                .map(|t| {
                    let mut j = TrackJson {
                        codec: t.codec.name(),
                        width: None,
                        height: None,
                        sample_rate: None,
                        channels: None,
                    };
                    match &t.codec {
                        CodecConfig::H264(c) => {
                            (j.width, j.height) = (Some(c.width), Some(c.height))
                        }
                        CodecConfig::H265(c) => {
                            (j.width, j.height) = (Some(c.width), Some(c.height))
                        }
                        CodecConfig::Aac(c) => {
                            (j.sample_rate, j.channels) = (Some(c.sample_rate), Some(c.channels))
                        }
                        _ => {}
                    }
                    j
                })
                .collect(),
        })
        .collect();
    let body = StreamsJson {
        rtmp_port: ctx.rtmp_port,
        hls_enabled: ctx.cfg.hls.enabled,
        player_bundled: HLSJS_BUNDLED,
        streams,
    };
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        serde_json::to_string(&body).unwrap_or_default(),
    )
        .into_response()
}
