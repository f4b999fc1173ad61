use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;
use weir_media::{Frame, MediaInfo, StreamPath};

use crate::stream::{Msg, StreamShared};

/// What a reader does when it falls behind by more than the ring holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LagPolicy {
    /// Drop frames and resume at the next video keyframe (players).
    #[default]
    SkipToKeyframe,
    /// End the reader with [`EndReason::Lagged`] (consumers that must not have gaps).
    Disconnect,
}

/// Why a reader ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The publisher stopped.
    PublisherGone,
    /// The reader fell behind under [`LagPolicy::Disconnect`].
    Lagged,
}

/// What a reader receives.
#[derive(Debug, Clone)]
pub enum ReaderEvent {
    /// A frame.
    Frame(Frame),
    /// The tracks changed; the new set applies to the frames that follow.
    Tracks(Arc<MediaInfo>),
    /// The stream is over for this reader.
    Ended(EndReason),
}

/// Limits how often a lagging reader logs.
const LAG_LOG_EVERY: Duration = Duration::from_secs(10);

/// Most messages a reader copies out of the ring per lock.
const FETCH_BATCH: usize = 64;
/// Queue capacity a reader keeps while it is current.
const IDLE_QUEUE: usize = 8;

/// One consumer of a stream. Bounded: it holds at most the ring's capacity of frames behind the
/// publisher, plus the GOP snapshot it started with (and one fetch batch).
pub struct Reader {
    shared: Arc<StreamShared>,
    /// Sequence number of the next ring message to fetch.
    cursor: u64,
    /// The GOP snapshot taken at open (shared with the stream) and how much of it was sent.
    gop: Option<(Arc<Vec<Frame>>, usize)>,
    /// Fetched from the ring and not yet delivered.
    queue: VecDeque<Msg>,
    info: Arc<MediaInfo>,
    policy: LagPolicy,
    skipping: bool,
    ended: Option<EndReason>,
    dropped: u64,
    last_log: Option<Instant>,
    /// Key of this reader's entry in the stream's egress link statistics, once it reports.
    link_id: Option<u64>,
}

/// What one look at the ring found.
enum Fetched {
    /// Messages were queued (after `lost` messages that were overwritten before this reader
    /// got to them).
    Some { lost: u64 },
    /// Nothing new yet.
    Empty,
    /// Nothing new, ever: the publisher is gone.
    Closed,
}

impl Reader {
    pub(crate) fn open(shared: Arc<StreamShared>, policy: LagPolicy) -> Option<Self> {
        let st = shared.lock();
        if st.closed {
            return None;
        }
        // The state lock is held, so no frame can slip between the GOP snapshot and the cursor.
        let cursor = shared.ring().next_seq;
        let gop = (!st.gop.is_empty()).then(|| (st.gop.clone(), 0));
        let info = st.info.clone();
        drop(st);
        shared.stats.readers.fetch_add(1, Ordering::Relaxed);
        Some(Self {
            shared,
            cursor,
            gop,
            queue: VecDeque::new(),
            info,
            policy,
            skipping: false,
            ended: None,
            dropped: 0,
            last_log: None,
            link_id: None,
        })
    }

    /// The stream's path.
    pub fn path(&self) -> &StreamPath {
        &self.shared.path
    }

    /// The tracks as of the last event delivered (or at open).
    pub fn info(&self) -> &Arc<MediaInfo> {
        &self.info
    }

    /// Records the transport statistics of this reader's connection (shown in the stream's
    /// [`StreamSummary::egress`](crate::StreamSummary::egress) until the reader is dropped).
    pub fn set_link_stats(&mut self, stats: crate::LinkStats) {
        let mut links = self.shared.links();
        let id = *self.link_id.get_or_insert_with(|| {
            links.next_reader += 1;
            links.next_reader
        });
        links.egress.insert(id, stats);
    }

    /// Frames this reader lost by lagging.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Messages held for this reader: what the ring still has of what it has not read (at most
    /// the ring's capacity; older messages are already overwritten) plus what it has fetched
    /// (at first, its GOP snapshot).
    pub fn pending(&self) -> usize {
        let behind = self.shared.ring().next_seq.saturating_sub(self.cursor);
        let gop = self.gop.as_ref().map_or(0, |(g, i)| g.len() - i);
        (behind as usize).min(self.shared.capacity) + self.queue.len() + gop
    }

    /// Waits for the next event. Cancel-safe: dropping the future loses nothing.
    ///
    /// The publisher wakes readers for every video frame but lets audio ride along with the
    /// next video frame (up to 40 ms of media time), so a player wakes, and writes, about once
    /// per video frame.
    pub async fn recv(&mut self) -> ReaderEvent {
        loop {
            if let Some(ev) = self.try_recv() {
                return ev;
            }
            let shared = self.shared.clone();
            let notified = shared.wake.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered from here on: a wake-up between the check below and the await is kept.
            notified.as_mut().enable();
            if let Some(ev) = self.try_recv() {
                return ev;
            }
            notified.await;
        }
    }

    /// The next event if one is ready, without waiting (to batch writes).
    pub fn try_recv(&mut self) -> Option<ReaderEvent> {
        loop {
            if let Some(r) = self.ended {
                return Some(ReaderEvent::Ended(r));
            }
            if let Some((gop, i)) = &mut self.gop {
                if let Some(f) = gop.get(*i) {
                    *i += 1;
                    return Some(ReaderEvent::Frame(f.clone()));
                }
                self.gop = None;
            }
            if let Some(msg) = self.queue.pop_front() {
                if let Some(ev) = self.deliver(msg) {
                    return Some(ev);
                }
                continue;
            }
            // A burst after a lag leaves a large queue behind: give it back once it drains;
            // live fetches are a frame or three.
            if self.queue.capacity() > 4 * IDLE_QUEUE {
                self.queue.shrink_to(IDLE_QUEUE);
            }
            match self.fetch() {
                Fetched::Some { lost } => {
                    if lost > 0
                        && let Some(ev) = self.lagged(lost)
                    {
                        return Some(ev);
                    }
                }
                Fetched::Empty => return None,
                Fetched::Closed => {
                    self.ended = Some(EndReason::PublisherGone);
                }
            }
        }
    }

    /// Copies the next batch of messages out of the ring (under its read lock).
    fn fetch(&mut self) -> Fetched {
        let ring = self.shared.ring();
        let first = ring.first_seq();
        let lost = first.saturating_sub(self.cursor);
        self.cursor = self.cursor.max(first);
        let available = (ring.next_seq - self.cursor) as usize;
        if available == 0 {
            return if ring.closed {
                Fetched::Closed
            } else if lost > 0 {
                Fetched::Some { lost }
            } else {
                Fetched::Empty
            };
        }
        let start = (self.cursor - first) as usize;
        let take = available.min(FETCH_BATCH);
        self.queue
            .extend(ring.msgs.range(start..start + take).cloned());
        self.cursor += take as u64;
        Fetched::Some { lost }
    }

    fn deliver(&mut self, msg: Msg) -> Option<ReaderEvent> {
        match msg {
            Msg::Frame(f) => {
                if self.skipping {
                    if f.is_video() && f.keyframe {
                        self.skipping = false;
                    } else {
                        self.count_drop(1);
                        return None;
                    }
                }
                Some(ReaderEvent::Frame(f))
            }
            Msg::Tracks(info) => {
                self.info = info.clone();
                Some(ReaderEvent::Tracks(info))
            }
        }
    }

    fn lagged(&mut self, n: u64) -> Option<ReaderEvent> {
        self.count_drop(n);
        if self.policy == LagPolicy::Disconnect {
            tracing::warn!(path = %self.shared.path, dropped = n, "reader fell behind; disconnecting it");
            self.ended = Some(EndReason::Lagged);
            return Some(ReaderEvent::Ended(EndReason::Lagged));
        }
        // A change of tracks may have been among the lost messages.
        let current = self.shared.lock().info.clone();
        self.skipping = current.video().is_some();
        if !Arc::ptr_eq(&current, &self.info) {
            self.info = current.clone();
            return Some(ReaderEvent::Tracks(current));
        }
        None
    }

    fn count_drop(&mut self, n: u64) {
        self.dropped += n;
        self.shared
            .stats
            .frames_dropped
            .fetch_add(n, Ordering::Relaxed);
        let now = Instant::now();
        if self
            .last_log
            .is_none_or(|t| now.duration_since(t) >= LAG_LOG_EVERY)
        {
            self.last_log = Some(now);
            tracing::warn!(
                path = %self.shared.path,
                dropped_total = self.dropped,
                "slow reader: dropping frames and skipping to the next keyframe"
            );
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.shared.stats.readers.fetch_sub(1, Ordering::Relaxed);
        if let Some(id) = self.link_id {
            self.shared.links().egress.remove(&id);
        }
    }
}
