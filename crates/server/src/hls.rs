//! HLS packaging: one packager task per live stream reads the hub and feeds a sans-IO
//! [`HlsSegmenter`]; HTTP handlers read playlists and segments from the [`HlsStore`].
//!
//! A stream's segmenter outlives its publisher for `hls.idle_timeout_ms`, so a publisher that
//! comes back continues the same playlist with `EXT-X-DISCONTINUITY`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::broadcast::error::RecvError;
use tracing::{Instrument, debug, info, warn};
use weir_cmaf::{CmafPackager, PackagerConfig};
use weir_hls::{HlsConfig, HlsSegmenter};
use weir_hub::{HubNotice, LagPolicy, Reader, ReaderEvent};
use weir_media::StreamPath;

use crate::Ctx;

/// How often expired streams are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

pub(crate) struct Entry {
    seg: Mutex<HlsSegmenter>,
    /// The CMAF packager (fMP4 HLS, LL-HLS, DASH), fed by the same reader.
    pub(crate) cmaf: Mutex<CmafPackager>,
    /// The CMAF packager's version, sent on every new chunk, part and segment: blocking
    /// playlist requests and growing parts wait on it (one parked future each, no polling).
    pub(crate) changed: tokio::sync::watch::Sender<u64>,
    state: Mutex<Liveness>,
}

impl Entry {
    /// Locks the CMAF packager.
    pub(crate) fn cmaf(&self) -> std::sync::MutexGuard<'_, CmafPackager> {
        self.cmaf.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish_version(&self) {
        let v = self.cmaf().version();
        self.changed.send_if_modified(|old| {
            let changed = *old != v;
            *old = v;
            changed
        });
    }
}

#[derive(Clone, Copy)]
struct Liveness {
    live: bool,
    packager_running: bool,
    since: Instant,
}

/// Playlists and segments of every packaged stream, in memory and bounded per stream.
pub struct HlsStore {
    cfg: HlsConfig,
    cmaf_cfg: PackagerConfig,
    idle: Duration,
    streams: RwLock<HashMap<StreamPath, Arc<Entry>>>,
}

impl HlsStore {
    pub(crate) fn new(cfg: &weir_config::HlsConfig) -> Self {
        let hls = HlsConfig {
            target_duration_ms: cfg.target_duration_ms,
            window_segments: cfg.window_segments,
            max_bytes: cfg.max_stream_bytes,
            ..HlsConfig::default()
        };
        Self {
            cmaf_cfg: PackagerConfig {
                target_duration_ms: cfg.target_duration_ms,
                part_target_ms: cfg.part_target_ms,
                window_segments: cfg.window_segments.max(4),
                ..PackagerConfig::default()
            },
            cfg: hls,
            idle: Duration::from_millis(cfg.idle_timeout_ms),
            streams: RwLock::new(HashMap::new()),
        }
    }

    pub(crate) fn get(&self, path: &StreamPath) -> Option<Arc<Entry>> {
        self.streams
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(path)
            .cloned()
    }

    /// The media playlist of `path`, if it is packaged and has at least one segment.
    pub fn playlist(&self, path: &StreamPath) -> Option<String> {
        let e = self.get(path)?;
        let live = e.state.lock().unwrap_or_else(|e| e.into_inner()).live;
        let seg = e.seg.lock().unwrap_or_else(|e| e.into_inner());
        if seg.is_empty() {
            return None;
        }
        Some(seg.playlist(!live))
    }

    /// Whether `path` is packaged at all (live or recently live).
    pub fn contains(&self, path: &StreamPath) -> bool {
        self.get(path).is_some()
    }

    /// Segment `sequence` of `path`, with the wall clock (Unix ms) at which it was complete.
    pub fn segment(&self, path: &StreamPath, sequence: u64) -> Option<(Bytes, Option<i64>)> {
        let e = self.get(path)?;
        let seg = e.seg.lock().unwrap_or_else(|e| e.into_inner());
        seg.segment(sequence).map(|s| {
            let written = s.program_date_time_ms.map(|t| t + s.duration_ms as i64);
            (s.data.clone(), written)
        })
    }

    /// Claims the packager slot for `path`; `None` if a packager already runs for it.
    fn claim(&self, path: &StreamPath) -> Option<Arc<Entry>> {
        let mut map = self.streams.write().unwrap_or_else(|e| e.into_inner());
        let e = map
            .entry(path.clone())
            .or_insert_with(|| {
                let first = (unix_ms() / 1000) as u64;
                Arc::new(Entry {
                    cmaf: Mutex::new(CmafPackager::new(self.cmaf_cfg.clone(), first)),
                    changed: tokio::sync::watch::channel(0).0,
                    // Sequence numbers start at the Unix time, so a segment URL is never reused
                    // for different content (caches in front may keep segments for an hour).
                    seg: Mutex::new(HlsSegmenter::with_first_sequence(self.cfg.clone(), first)),
                    state: Mutex::new(Liveness {
                        live: false,
                        packager_running: false,
                        since: Instant::now(),
                    }),
                })
            })
            .clone();
        let mut st = e.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.packager_running {
            return None;
        }
        *st = Liveness {
            live: true,
            packager_running: true,
            since: Instant::now(),
        };
        drop(st);
        Some(e)
    }

    fn sweep(&self) {
        let mut map = self.streams.write().unwrap_or_else(|e| e.into_inner());
        map.retain(|path, e| {
            let st = *e.state.lock().unwrap_or_else(|e| e.into_inner());
            let keep = st.packager_running || st.since.elapsed() < self.idle;
            if !keep {
                debug!(%path, "HLS stream expired");
            }
            keep
        });
    }
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Starts a packager for every stream that goes live, and sweeps expired ones.
pub(crate) async fn run_manager(ctx: Arc<Ctx>) {
    let mut notices = ctx.hub.notices();
    // Streams already live when the manager starts.
    for s in ctx.hub.streams() {
        start_packager(&ctx, s.path);
    }
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    loop {
        tokio::select! {
            _ = ctx.cancel.cancelled() => return,
            _ = sweep.tick() => ctx.hls.sweep(),
            n = notices.recv() => match n {
                Ok(HubNotice::Published(path)) => start_packager(&ctx, path),
                Ok(HubNotice::Unpublished(_)) => {}
                Err(RecvError::Lagged(_)) => {
                    for s in ctx.hub.streams() {
                        start_packager(&ctx, s.path);
                    }
                }
                Err(RecvError::Closed) => return,
            }
        }
    }
}

/// Feeds the segmenter until the stream ends (`true`) or the server shuts down (`false`).
async fn package(ctx: &Ctx, entry: &Entry, reader: &mut Reader) -> bool {
    let mut started = false;
    if !reader.info().tracks.is_empty() {
        entry
            .seg
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .start(reader.info());
        entry.cmaf().start(reader.info());
        entry.publish_version();
        started = true;
    }
    let mut cmaf_errors = 0u64;
    loop {
        let ev = tokio::select! {
            _ = ctx.cancel.cancelled() => return false,
            ev = reader.recv() => ev,
        };
        match ev {
            ReaderEvent::Frame(f) => {
                if started {
                    entry
                        .seg
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(&f, unix_ms());
                    let mut cmaf = entry.cmaf();
                    cmaf.push(&f, SystemTime::now());
                    if let Some(e) = cmaf.take_error() {
                        cmaf_errors += 1;
                        if cmaf_errors.is_power_of_two() {
                            warn!(error = %e, count = cmaf_errors, "CMAF packager dropped a frame");
                        }
                    }
                    drop(cmaf);
                    entry.publish_version();
                }
            }
            ReaderEvent::Tracks(info) => {
                entry
                    .seg
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .start(&info);
                entry.cmaf().start(&info);
                entry.publish_version();
                started = true;
            }
            ReaderEvent::Ended(reason) => {
                debug!(?reason, "packager: stream ended");
                return true;
            }
        }
    }
}

fn start_packager(ctx: &Arc<Ctx>, path: StreamPath) {
    let Ok(mut reader) = ctx.hub.subscribe(&path, LagPolicy::SkipToKeyframe) else {
        return;
    };
    let Some(entry) = ctx.hls.claim(&path) else {
        return;
    };
    let span = tracing::info_span!("hls", path = %path);
    let ctx2 = ctx.clone();
    ctx.tracker.spawn(
        async move {
            debug!("packager started");
            loop {
                let ended = package(&ctx2, &entry, &mut reader).await;
                entry.seg.lock().unwrap_or_else(|e| e.into_inner()).flush();
                entry.cmaf().end();
                entry.publish_version();
                if reader.dropped() > 0 {
                    warn!(
                        dropped = reader.dropped(),
                        "HLS packager fell behind and skipped frames"
                    );
                }
                // Under the liveness lock, either follow a publisher that is already back, or
                // release the slot so that the manager starts a packager when one comes.
                let mut st = entry.state.lock().unwrap_or_else(|e| e.into_inner());
                if ended && let Ok(r) = ctx2.hub.subscribe(&path, LagPolicy::SkipToKeyframe) {
                    drop(st);
                    info!("publisher is back; continuing the playlist after a discontinuity");
                    reader = r;
                    continue;
                }
                *st = Liveness {
                    live: false,
                    packager_running: false,
                    since: Instant::now(),
                };
                break;
            }
            info!("HLS packager stopped");
        }
        .instrument(span),
    );
}
