use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;
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

/// Audio frames of a stream with video wake the readers only once this much media time has
/// passed since the last wake-up; otherwise they ride along with the next video frame.
pub(crate) const AUDIO_WAKE_MS: i64 = 40;

/// The ring of one stream: the last `capacity` messages, numbered by a sequence that never
/// restarts. Readers keep their own cursor into it.
pub(crate) struct Ring {
    pub(crate) msgs: VecDeque<Msg>,
    /// Sequence number of the next message pushed.
    pub(crate) next_seq: u64,
    /// No more messages will come: the publisher is gone.
    pub(crate) closed: bool,
}

impl Ring {
    /// Sequence number of the oldest message still held.
    pub(crate) fn first_seq(&self) -> u64 {
        self.next_seq - self.msgs.len() as u64
    }

    fn push(&mut self, msg: Msg, capacity: usize) {
        if self.msgs.len() >= capacity {
            self.msgs.pop_front();
        }
        self.msgs.push_back(msg);
        self.next_seq += 1;
    }
}

pub(crate) struct State {
    pub(crate) closed: bool,
    pub(crate) info: Arc<MediaInfo>,
    /// The GOP cache, shared with the readers that are still sending it (copied on write only
    /// while one is), so a new reader allocates nothing for it.
    pub(crate) gop: Arc<Vec<Frame>>,
    gop_bytes: usize,
    /// False after the GOP cache overflowed, until the next keyframe.
    gop_caching: bool,
    /// Media time (ms) of the frame that last woke the readers.
    last_wake_ms: Option<i64>,
}

pub(crate) struct StreamShared {
    pub(crate) id: u64,
    pub(crate) path: StreamPath,
    who: PublisherInfo,
    started: SystemTime,
    gop_max_frames: usize,
    gop_max_bytes: usize,
    /// Tracks, GOP cache and wake-up bookkeeping. Taken before `ring` when both are needed.
    state: Mutex<State>,
    /// The fan-out ring: written by the publisher, read by every reader.
    ring: RwLock<Ring>,
    /// Wakes the readers waiting for the ring.
    pub(crate) wake: Notify,
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
        Self {
            id,
            path,
            who,
            started: SystemTime::now(),
            gop_max_frames: cfg.gop_max_frames,
            gop_max_bytes: cfg.gop_max_bytes,
            state: Mutex::new(State {
                closed: false,
                info: Arc::new(MediaInfo::default()),
                gop: Arc::new(Vec::new()),
                gop_bytes: 0,
                gop_caching: true,
                last_wake_ms: None,
            }),
            ring: RwLock::new(Ring {
                msgs: VecDeque::with_capacity(capacity),
                next_seq: 0,
                closed: false,
            }),
            wake: Notify::new(),
            stats: StreamStats::default(),
            capacity,
            links: Mutex::new(Links::default()),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn ring(&self) -> RwLockReadGuard<'_, Ring> {
        self.ring.read().unwrap_or_else(|e| e.into_inner())
    }

    fn ring_mut(&self) -> RwLockWriteGuard<'_, Ring> {
        self.ring.write().unwrap_or_else(|e| e.into_inner())
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
        st.gop = Arc::new(Vec::new());
        st.gop_bytes = 0;
        st.gop_caching = true;
        st.last_wake_ms = None;
        if !st.closed {
            self.shared
                .ring_mut()
                .push(Msg::Tracks(info), self.shared.capacity);
        }
        drop(st);
        self.shared.wake.notify_waiters();
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
                st.gop = Arc::new(Vec::new());
                st.gop_bytes = 0;
                st.gop_caching = true;
            }
            if st.gop_caching && !st.gop.is_empty() || (frame.is_video() && frame.keyframe) {
                if st.gop.len() >= self.shared.gop_max_frames
                    || st.gop_bytes + frame.data.len() > self.shared.gop_max_bytes
                {
                    st.gop = Arc::new(Vec::new());
                    st.gop_bytes = 0;
                    st.gop_caching = false;
                } else {
                    st.gop_bytes += frame.data.len();
                    Arc::make_mut(&mut st.gop).push(frame.clone());
                }
            }
        } else {
            if st.gop.len() >= AUDIO_ONLY_CACHE {
                let old = Arc::make_mut(&mut st.gop).remove(0);
                st.gop_bytes -= old.data.len();
            }
            st.gop_bytes += frame.data.len();
            Arc::make_mut(&mut st.gop).push(frame.clone());
        }
        // Wake the readers for video, and for audio only when a stream with video has sent
        // none for AUDIO_WAKE_MS of media time: audio usually rides along with the next video
        // frame, so a player makes one socket write per video frame instead of one per frame.
        let ms = frame.dts_ms();
        let wake = !has_video
            || frame.is_video()
            || st
                .last_wake_ms
                .is_none_or(|last| ms < last || ms - last >= AUDIO_WAKE_MS);
        if wake {
            st.last_wake_ms = Some(ms);
        }
        if !st.closed {
            self.shared
                .ring_mut()
                .push(Msg::Frame(frame), self.shared.capacity);
        }
        drop(st);
        if wake {
            self.shared.wake.notify_waiters();
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
        st.closed = true;
        st.gop = Arc::new(Vec::new());
        // Readers get Ended after what the ring still holds for them.
        self.shared.ring_mut().closed = true;
        drop(st);
        self.shared.wake.notify_waiters();
        self.hub.remove(&self.shared.path, self.shared.id);
    }
}
