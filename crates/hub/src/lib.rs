//! The Weir stream hub: one registry of live streams, keyed by [`StreamPath`].
//!
//! - **Lease.** [`Hub::publish`] grants one [`Publisher`] per path; a second publisher to a live
//!   path gets [`HubError::AlreadyPublishing`]. Dropping the publisher ends the stream.
//! - **Fan-out.** Frames go into one bounded ring per stream (a `VecDeque` under an `RwLock`,
//!   numbered by a sequence), and every reader keeps its own cursor into it. Payloads are
//!   reference-counted [`bytes::Bytes`], never copied per reader, and no async lock is taken per
//!   reader. Readers wait on one `tokio::sync::Notify`, woken for every video frame; audio
//!   frames of a stream with video ride along with the next video frame (up to 40 ms of media
//!   time), so a player wakes, and writes to its socket, about once per video frame.
//! - **Never block the publisher.** [`Publisher::push`] is synchronous and never waits. A reader
//!   that falls more than the ring's capacity behind loses frames: it is told how many, the drop
//!   is counted and logged at a limited rate, and it resumes at the next video keyframe
//!   ([`LagPolicy::SkipToKeyframe`]) or is ended ([`LagPolicy::Disconnect`]).
//! - **GOP cache.** The stream keeps the frames since the last keyframe (bounded in frames and
//!   bytes), so a new reader starts at once with a decodable picture.
//! - **End.** When the publisher goes, every reader gets [`ReaderEvent::Ended`] after the frames
//!   already queued for it.
//!
//! See `docs/adr/0003-hub-ring.md` for the alternatives considered.

mod link;
mod reader;
mod stream;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;
pub use weir_media::StreamPath;

pub use link::LinkStats;
pub use reader::{EndReason, LagPolicy, Reader, ReaderEvent};
use stream::StreamShared;
pub use stream::{Publisher, StreamStats, StreamSummary};

/// Sizes of the hub's bounded buffers.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Capacity of each stream's fan-out ring, in frames (rounded up to a power of two).
    pub queue_frames: usize,
    /// Most frames in a GOP cache; beyond it the cache is cleared until the next keyframe.
    pub gop_max_frames: usize,
    /// Most payload bytes in a GOP cache.
    pub gop_max_bytes: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            queue_frames: 512,
            gop_max_frames: 1500,
            gop_max_bytes: 32 * 1024 * 1024,
        }
    }
}

/// Why a hub operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubError {
    /// Another publisher holds the path.
    #[error("stream {0} is already publishing")]
    AlreadyPublishing(StreamPath),
    /// No live stream at the path.
    #[error("stream {0} not found")]
    NotFound(StreamPath),
}

/// Who is publishing a stream, for logs, the API and the landing page.
#[derive(Debug, Clone)]
pub struct PublisherInfo {
    /// Ingest protocol (`rtmp`, `srt`, ...).
    pub protocol: &'static str,
    /// Peer address or source URL.
    pub remote: String,
}

/// A change in the set of live streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubNotice {
    /// A publisher took the path.
    Published(StreamPath),
    /// The publisher of the path ended.
    Unpublished(StreamPath),
}

struct HubInner {
    cfg: HubConfig,
    streams: Mutex<HashMap<StreamPath, Arc<StreamShared>>>,
    notices: broadcast::Sender<HubNotice>,
    next_id: AtomicU64,
}

/// The registry of live streams. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

impl Hub {
    /// An empty hub.
    pub fn new(cfg: HubConfig) -> Self {
        let (notices, _) = broadcast::channel(1024);
        Self {
            inner: Arc::new(HubInner {
                cfg,
                streams: Mutex::new(HashMap::new()),
                notices,
                next_id: AtomicU64::new(1),
            }),
        }
    }

    /// Takes the publisher lease on `path`.
    pub fn publish(&self, path: StreamPath, who: PublisherInfo) -> Result<Publisher, HubError> {
        let mut streams = self.inner.streams.lock().unwrap_or_else(|e| e.into_inner());
        if streams.contains_key(&path) {
            return Err(HubError::AlreadyPublishing(path));
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(StreamShared::new(id, path.clone(), who, &self.inner.cfg));
        streams.insert(path.clone(), shared.clone());
        drop(streams);
        let _ = self.inner.notices.send(HubNotice::Published(path));
        Ok(Publisher::new(shared, self.clone()))
    }

    /// Opens a reader on the live stream at `path`, positioned at the GOP cache.
    pub fn subscribe(&self, path: &StreamPath, policy: LagPolicy) -> Result<Reader, HubError> {
        let shared = self
            .lookup(path)
            .ok_or_else(|| HubError::NotFound(path.clone()))?;
        Reader::open(shared, policy).ok_or_else(|| HubError::NotFound(path.clone()))
    }

    /// True when `path` has a publisher.
    pub fn is_live(&self, path: &StreamPath) -> bool {
        self.lookup(path).is_some()
    }

    /// Notices of streams starting and ending.
    pub fn notices(&self) -> broadcast::Receiver<HubNotice> {
        self.inner.notices.subscribe()
    }

    /// A summary of every live stream, sorted by path.
    pub fn streams(&self) -> Vec<StreamSummary> {
        let streams = self.inner.streams.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = streams.values().map(|s| s.summary()).collect();
        drop(streams);
        v.sort_by(|a, b| a.path.cmp(&b.path));
        v
    }

    fn lookup(&self, path: &StreamPath) -> Option<Arc<StreamShared>> {
        self.inner
            .streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(path)
            .cloned()
    }

    /// Removes the stream if it is still the one with `id` (called when its publisher drops).
    fn remove(&self, path: &StreamPath, id: u64) {
        let mut streams = self.inner.streams.lock().unwrap_or_else(|e| e.into_inner());
        if streams.get(path).is_some_and(|s| s.id == id) {
            streams.remove(path);
            drop(streams);
            let _ = self
                .inner
                .notices
                .send(HubNotice::Unpublished(path.clone()));
        }
    }
}

#[cfg(test)]
mod tests;
