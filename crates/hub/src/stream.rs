use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::sync::broadcast;
use weir_media::{Frame, MediaInfo, StreamPath};

use crate::{Hub, HubConfig, LinkStats, PublisherInfo};
use std::collections::BTreeMap;

/// What travels through a stream's ring.
#[derive(Debug, Clone)]
pub(crate) enum Msg {
    Frame(Frame),
    Tracks(Arc<MediaInfo>),
}

/// Counters of one stream, readable at any time.
#[derive(Debug, Default)]
pub struct StreamStats {
    /// Frames pushed by the publisher.
    pub frames_in: AtomicU64,
    /// Payload bytes pushed by the publisher.
    pub bytes_in: AtomicU64,
    /// Readers currently open.
    pub readers: AtomicUsize,
    /// Frames readers lost by lagging, summed over readers.
    pub frames_dropped: AtomicU64,
}

/// A snapshot of one live stream.
#[derive(Debug, Clone)]
pub struct StreamSummary {
    /// The stream's path.
    pub path: StreamPath,
    /// Ingest protocol.
    pub protocol: &'static str,
    /// Publisher address.
    pub remote: String,
    /// When publishing started.
    pub started: SystemTime,
    /// Current tracks.
    pub info: Arc<MediaInfo>,
    /// Readers currently open.
    pub readers: usize,
    /// Frames pushed.
    pub frames_in: u64,
    /// Bytes pushed.
    pub bytes_in: u64,
    /// Frames dropped by lagging readers.
    pub frames_dropped: u64,
    /// Transport statistics of the publisher's connection, when its protocol reports them.
    pub ingest: Option<LinkStats>,
    /// Transport statistics of the readers that report them (SRT players), by reader.
    pub egress: Vec<LinkStats>,
}

pub(crate) struct State {
    pub(crate) tx: Option<broadcast::Sender<Msg>>,
    pub(crate) info: Arc<MediaInfo>,
    pub(crate) gop: Vec<Frame>,
    gop_bytes: usize,
    /// False after the GOP cache overflowed, until the next keyframe.
    gop_caching: bool,
}

pub(crate) struct StreamShared {
    pub(crate) id: u64,
    pub(crate) path: StreamPath,
    who: PublisherInfo,
    started: SystemTime,
    gop_max_frames: usize,
    gop_max_bytes: usize,
    state: Mutex<State>,
    pub(crate) stats: StreamStats,
    /// Capacity of the ring, in messages.
    pub(crate) capacity: usize,
    pub(crate) links: Mutex<Links>,
}

/// Link statistics reported by the publisher and by readers (keyed by reader id).
#[derive(Default)]
pub(crate) struct Links {
    pub(crate) ingest: Option<LinkStats>,
    pub(crate) egress: BTreeMap<u64, LinkStats>,
    pub(crate) next_reader: u64,
}

/// GOP cache length for streams without video: recent audio only.
const AUDIO_ONLY_CACHE: usize = 64;

impl StreamShared {
    pub(crate) fn new(id: u64, path: StreamPath, who: PublisherInfo, cfg: &HubConfig) -> Self {
        let capacity = cfg.queue_frames.max(2).next_power_of_two();
        let (tx, _) = broadcast::channel(capacity);
        Self {
            id,
            path,
            who,
            started: SystemTime::now(),
            gop_max_frames: cfg.gop_max_frames,
            gop_max_bytes: cfg.gop_max_bytes,
            state: Mutex::new(State {
                tx: Some(tx),
                info: Arc::new(MediaInfo::default()),
                gop: Vec::new(),
                gop_bytes: 0,
                gop_caching: true,
            }),
            stats: StreamStats::default(),
            capacity,
            links: Mutex::new(Links::default()),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn links(&self) -> MutexGuard<'_, Links> {
        self.links.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn summary(&self) -> StreamSummary {
        let links = self.links();
        let (ingest, egress) = (
            links.ingest.clone(),
            links.egress.values().cloned().collect(),
        );
        drop(links);
        StreamSummary {
            path: self.path.clone(),
            protocol: self.who.protocol,
            remote: self.who.remote.clone(),
            started: self.started,
            info: self.lock().info.clone(),
            readers: self.stats.readers.load(Ordering::Relaxed),
            frames_in: self.stats.frames_in.load(Ordering::Relaxed),
            bytes_in: self.stats.bytes_in.load(Ordering::Relaxed),
            frames_dropped: self.stats.frames_dropped.load(Ordering::Relaxed),
            ingest,
            egress,
        }
    }
}

/// The lease on a stream path. Push frames with [`Publisher::push`]; drop it to end the stream.
pub struct Publisher {
    shared: Arc<StreamShared>,
    hub: Hub,
}

impl Publisher {
    pub(crate) fn new(shared: Arc<StreamShared>, hub: Hub) -> Self {
        Self { shared, hub }
    }

    /// The path this publisher holds.
    pub fn path(&self) -> &StreamPath {
        &self.shared.path
    }

    /// Counters of the stream.
    pub fn stats(&self) -> &StreamStats {
        &self.shared.stats
    }

    /// Current tracks.
    pub fn info(&self) -> Arc<MediaInfo> {
        self.shared.lock().info.clone()
    }

    /// Announces the stream's tracks (at start, and whenever a decoder configuration changes).
    /// The GOP cache restarts at the next keyframe.
    pub fn set_tracks(&self, info: MediaInfo) {
        let info = Arc::new(info);
        let mut st = self.shared.lock();
        st.info = info.clone();
        st.gop.clear();
        st.gop_bytes = 0;
        st.gop_caching = true;
        if let Some(tx) = &st.tx {
            let _ = tx.send(Msg::Tracks(info));
        }
    }

    /// Pushes one frame to every reader. Never waits.
    pub fn push(&self, frame: Frame) {
        let stats = &self.shared.stats;
        stats.frames_in.fetch_add(1, Ordering::Relaxed);
        stats
            .bytes_in
            .fetch_add(frame.data.len() as u64, Ordering::Relaxed);
        let mut st = self.shared.lock();
        let has_video = st.info.video().is_some();
        if has_video {
            if frame.is_video() && frame.keyframe {
                st.gop.clear();
                st.gop_bytes = 0;
                st.gop_caching = true;
            }
            if st.gop_caching && !st.gop.is_empty() || (frame.is_video() && frame.keyframe) {
                if st.gop.len() >= self.shared.gop_max_frames
                    || st.gop_bytes + frame.data.len() > self.shared.gop_max_bytes
                {
                    st.gop.clear();
                    st.gop_bytes = 0;
                    st.gop_caching = false;
                } else {
                    st.gop_bytes += frame.data.len();
                    st.gop.push(frame.clone());
                }
            }
        } else {
            if st.gop.len() >= AUDIO_ONLY_CACHE {
                let old = st.gop.remove(0);
                st.gop_bytes -= old.data.len();
            }
            st.gop_bytes += frame.data.len();
            st.gop.push(frame.clone());
        }
        if let Some(tx) = &st.tx {
            let _ = tx.send(Msg::Frame(frame));
        }
    }

    /// Records the transport statistics of the publisher's connection.
    pub fn set_link_stats(&self, stats: LinkStats) {
        self.shared.links().ingest = Some(stats);
    }

    /// How long the stream has been live.
    pub fn uptime(&self) -> Duration {
        self.shared.started.elapsed().unwrap_or_default()
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.tx = None; // closes the ring: readers get Ended after what is queued
        st.gop.clear();
        drop(st);
        self.hub.remove(&self.shared.path, self.shared.id);
    }
}
