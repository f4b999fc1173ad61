//! The landing page (live streams, a player, the URLs to copy), the `/play/APP/STREAM` player
//! page, and the player libraries (hls.js, dash.js) that Weir serves itself.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::UNIX_EPOCH;

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;
use weir_media::CodecConfig;

use crate::Ctx;

/// Whether hls.js was installed (by the project's setup, from npm) when this binary was built.
pub(crate) const HLSJS_BUNDLED: bool = cfg!(weir_hlsjs);

/// Whether dash.js was installed (by the project's setup, from npm) when this binary was built.
pub(crate) const DASHJS_BUNDLED: bool = cfg!(weir_dashjs);

const HLSJS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/hls.min.js"));
const DASHJS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/dash.all.min.js"));
const INDEX_HTML: &str = include_str!("../assets/index.html");
const PLAY_HTML: &str = include_str!("../assets/play.html");

pub(crate) async fn landing() -> Html<&'static str> {
    Html(INDEX_HTML)
}

/// `GET /play/APP/STREAM`: one static page for every stream; it reads the stream path from
/// `location.pathname` and the protocol from `?mode=`.
pub(crate) async fn play() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PLAY_HTML,
    )
        .into_response()
}

fn script(js: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        js,
    )
        .into_response()
}

/// The server's wall clock as ISO 8601 (DASH `UTCTiming`, `urn:mpeg:dash:utc:http-iso:2014`).
pub(crate) async fn time() -> Response {
    let ms = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache, no-store"),
        ],
        weir_hls::format_program_date_time(ms),
    )
        .into_response()
}

pub(crate) async fn hlsjs() -> Response {
    script(HLSJS)
}

pub(crate) async fn dashjs() -> Response {
    script(DASHJS)
}

#[derive(Serialize)]
struct StreamsJson {
    rtmp_port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    srt_port: Option<u16>,
    hls_enabled: bool,
    player_bundled: bool,
    dash_player_bundled: bool,
    /// Connections closed since start because the peer accepted nothing for the write timeout.
    stalled_closed: StalledJson,
    streams: Vec<StreamJson>,
}

#[derive(Serialize)]
struct StalledJson {
    rtmp: u64,
    http: u64,
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
    /// Transport statistics of the publisher's link (SRT), if measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    ingest: Option<LinkJson>,
    /// Transport statistics of readers that measure them (SRT players).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    egress: Vec<LinkJson>,
}

#[derive(Serialize)]
struct LinkJson {
    protocol: &'static str,
    remote: String,
    rtt_ms: f64,
    packets_received: u64,
    packets_sent: u64,
    packets_lost: u64,
    packets_retransmitted: u64,
    packets_dropped: u64,
    receive_kbps: f64,
    send_kbps: f64,
    buffer_ms: u32,
    latency_ms: u32,
    continuity_errors: u64,
    updated_unix_ms: u64,
}

impl From<weir_hub::LinkStats> for LinkJson {
    fn from(l: weir_hub::LinkStats) -> Self {
        Self {
            protocol: l.protocol,
            remote: l.remote,
            rtt_ms: l.rtt_ms,
            packets_received: l.packets_received,
            packets_sent: l.packets_sent,
            packets_lost: l.packets_lost,
            packets_retransmitted: l.packets_retransmitted,
            packets_dropped: l.packets_dropped,
            receive_kbps: l.receive_kbps,
            send_kbps: l.send_kbps,
            buffer_ms: l.buffer_ms,
            latency_ms: l.latency_ms,
            continuity_errors: l.continuity_errors,
            updated_unix_ms: l
                .updated
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        }
    }
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
            ingest: s.ingest.map(Into::into),
            egress: s.egress.into_iter().map(Into::into).collect(),
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
        srt_port: ctx.srt_port,
        hls_enabled: ctx.cfg.hls.enabled,
        player_bundled: HLSJS_BUNDLED,
        dash_player_bundled: DASHJS_BUNDLED,
        stalled_closed: StalledJson {
            rtmp: ctx.stalled.rtmp.load(Ordering::Relaxed),
            http: ctx.stalled.http.load(Ordering::Relaxed),
        },
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
