use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::broadcast::{self, error::TryRecvError};
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

/// One consumer of a stream. Bounded: it holds at most the ring's capacity of frames behind the
/// publisher, plus the GOP snapshot it started with.
pub struct Reader {
    shared: Arc<StreamShared>,
    rx: broadcast::Receiver<Msg>,
    backlog: VecDeque<Frame>,
    info: Arc<MediaInfo>,
    policy: LagPolicy,
    skipping: bool,
    ended: Option<EndReason>,
    dropped: u64,
    last_log: Option<Instant>,
    /// Key of this reader's entry in the stream's egress link statistics, once it reports.
    link_id: Option<u64>,
}

enum Got {
    Msg(Msg),
    Lagged(u64),
    Closed,
    Empty,
}

impl Reader {
    pub(crate) fn open(shared: Arc<StreamShared>, policy: LagPolicy) -> Option<Self> {
        let st = shared.lock();
        let rx = st.tx.as_ref()?.subscribe();
        let backlog = st.gop.iter().cloned().collect();
        let info = st.info.clone();
        drop(st);
        shared.stats.readers.fetch_add(1, Ordering::Relaxed);
        Some(Self {
            shared,
            rx,
            backlog,
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
    /// the ring's capacity; older messages are already overwritten) plus its GOP snapshot.
    pub fn pending(&self) -> usize {
        self.rx.len().min(self.shared.capacity) + self.backlog.len()
    }

    /// Waits for the next event.
    pub async fn recv(&mut self) -> ReaderEvent {
        loop {
            if let Some(ev) = self.ready() {
                return ev;
            }
            let got = match self.rx.recv().await {
                Ok(m) => Got::Msg(m),
                Err(broadcast::error::RecvError::Lagged(n)) => Got::Lagged(n),
                Err(broadcast::error::RecvError::Closed) => Got::Closed,
            };
            if let Some(ev) = self.handle(got) {
                return ev;
            }
        }
    }

    /// The next event if one is ready, without waiting (to batch writes).
    pub fn try_recv(&mut self) -> Option<ReaderEvent> {
        loop {
            if let Some(ev) = self.ready() {
                return Some(ev);
            }
            let got = match self.rx.try_recv() {
                Ok(m) => Got::Msg(m),
                Err(TryRecvError::Lagged(n)) => Got::Lagged(n),
                Err(TryRecvError::Closed) => Got::Closed,
                Err(TryRecvError::Empty) => Got::Empty,
            };
            if matches!(got, Got::Empty) {
                return None;
            }
            if let Some(ev) = self.handle(got) {
                return Some(ev);
            }
        }
    }

    fn ready(&mut self) -> Option<ReaderEvent> {
        if let Some(r) = self.ended {
            return Some(ReaderEvent::Ended(r));
        }
        self.backlog.pop_front().map(ReaderEvent::Frame)
    }

    fn handle(&mut self, got: Got) -> Option<ReaderEvent> {
        match got {
            Got::Msg(Msg::Frame(f)) => {
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
            Got::Msg(Msg::Tracks(info)) => {
                self.info = info.clone();
                Some(ReaderEvent::Tracks(info))
            }
            Got::Lagged(n) => {
                self.count_drop(n);
                if self.policy == LagPolicy::Disconnect {
                    tracing::warn!(path = %self.shared.path, dropped = n, "reader fell behind; disconnecting it");
                    self.ended = Some(EndReason::Lagged);
                    return Some(ReaderEvent::Ended(EndReason::Lagged));
                }
                self.skipping = self.info.video().is_some();
                None
            }
            Got::Closed => {
                self.ended = Some(EndReason::PublisherGone);
                Some(ReaderEvent::Ended(EndReason::PublisherGone))
            }
            Got::Empty => None,
        }
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
