//! What every player does with the media it receives, whatever the protocol: parse each FLV
//! video/audio body, count bytes, frames and keyframes, check timestamp continuity, note
//! when the first keyframe arrived, and read the publisher's latency stamp ([`crate::sei`]) in
//! every video frame.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use weir_flv::{TagBody, parse_audio, parse_video};

use crate::latency::LatencyHistogram;
use crate::sei;

/// Running totals of one player, shared with the coordinator, which snapshots them at the
/// start and the end of the measurement window.
#[derive(Debug, Default)]
pub struct Counters {
    /// Bytes received from the socket (protocol overhead included).
    pub bytes: AtomicU64,
    /// Video frames (sequence headers not counted).
    pub video_frames: AtomicU64,
    /// Audio frames (sequence headers not counted).
    pub audio_frames: AtomicU64,
    /// Video keyframes.
    pub keyframes: AtomicU64,
    /// Video frames with a latency stamp.
    pub stamped: AtomicU64,
    /// Video frames without one.
    pub unstamped: AtomicU64,
}

/// A point-in-time copy of [`Counters`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// Bytes.
    pub bytes: u64,
    /// Video frames.
    pub video_frames: u64,
    /// Audio frames.
    pub audio_frames: u64,
    /// Keyframes.
    pub keyframes: u64,
    /// Video frames with a latency stamp.
    pub stamped: u64,
    /// Video frames without one.
    pub unstamped: u64,
}

impl Counters {
    /// Reads the counters.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            bytes: self.bytes.load(Ordering::Relaxed),
            video_frames: self.video_frames.load(Ordering::Relaxed),
            audio_frames: self.audio_frames.load(Ordering::Relaxed),
            keyframes: self.keyframes.load(Ordering::Relaxed),
            stamped: self.stamped.load(Ordering::Relaxed),
            unstamped: self.unstamped.load(Ordering::Relaxed),
        }
    }
}

impl std::ops::Sub for Snapshot {
    type Output = Snapshot;
    fn sub(self, o: Snapshot) -> Snapshot {
        Snapshot {
            bytes: self.bytes.saturating_sub(o.bytes),
            video_frames: self.video_frames.saturating_sub(o.video_frames),
            audio_frames: self.audio_frames.saturating_sub(o.audio_frames),
            keyframes: self.keyframes.saturating_sub(o.keyframes),
            stamped: self.stamped.saturating_sub(o.stamped),
            unstamped: self.unstamped.saturating_sub(o.unstamped),
        }
    }
}

/// A forward step this large (in ms) on one track counts as a gap (frames skipped).
pub const GAP_MS: i64 = 1000;

/// Per-player media checks.
#[derive(Debug)]
pub struct MediaCheck {
    counters: Arc<Counters>,
    latency: Arc<LatencyHistogram>,
    started: Instant,
    tolerance_ms: i64,
    last_ts: [Option<u32>; 2],
    /// Time from the start of the connection attempt to the first video keyframe.
    pub first_keyframe: Option<Duration>,
    /// Steps back in time of more than the tolerance, on either track.
    pub backjumps: u64,
    /// Steps forward of more than [`GAP_MS`], on either track.
    pub gaps: u64,
    /// Bodies that could not be parsed.
    pub parse_errors: u64,
    /// Sequence headers (decoder configurations) received.
    pub configs: u64,
}

impl MediaCheck {
    /// Checks for a player whose connection attempt started at `started`; timestamps may step
    /// back by `tolerance_ms` without counting (audio/video interleave). Latency samples (receive
    /// time minus stamp, µs) go to `latency`, shared by the players of a target.
    pub fn new(
        counters: Arc<Counters>,
        latency: Arc<LatencyHistogram>,
        started: Instant,
        tolerance_ms: u32,
    ) -> Self {
        Self {
            counters,
            latency,
            started,
            tolerance_ms: tolerance_ms as i64,
            last_ts: [None; 2],
            first_keyframe: None,
            backjumps: 0,
            gaps: 0,
            parse_errors: 0,
            configs: 0,
        }
    }

    /// Counts bytes read from the socket.
    pub fn bytes(&self, n: usize) {
        self.counters.bytes.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// One video body with its millisecond timestamp.
    pub fn video(&mut self, timestamp: u32, body: Bytes) {
        match parse_video(body) {
            Ok(TagBody::Media { keyframe, data, .. }) => {
                self.video_frame(timestamp, keyframe, &data)
            }
            Ok(TagBody::Config(_)) => self.configs += 1,
            Ok(TagBody::Ignore) => {}
            Err(_) => self.parse_errors += 1,
        }
    }

    /// One video access unit (length-prefixed NAL units, as in FLV, MP4 and the hub) with its
    /// millisecond timestamp, from a container the caller parsed (HLS segments and parts).
    pub fn video_frame(&mut self, timestamp: u32, keyframe: bool, data: &[u8]) {
        match sei::find_stamp(data) {
            Some(sent_us) => {
                // Same clock as the publisher's on loopback; a step back of the clock reads as 0.
                let us = sei::now_unix_us().saturating_sub(sent_us);
                self.latency.record(us);
                self.counters.stamped.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                self.counters.unstamped.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.step(0, timestamp);
        self.counters.video_frames.fetch_add(1, Ordering::Relaxed);
        if keyframe {
            self.counters.keyframes.fetch_add(1, Ordering::Relaxed);
            if self.first_keyframe.is_none() {
                self.first_keyframe = Some(self.started.elapsed());
            }
        }
    }

    /// One audio frame with its millisecond timestamp, from a container the caller parsed.
    pub fn audio_frame(&mut self, timestamp: u32) {
        self.step(1, timestamp);
        self.counters.audio_frames.fetch_add(1, Ordering::Relaxed);
    }

    /// A container or stream the caller could not parse.
    pub fn parse_error(&mut self) {
        self.parse_errors += 1;
    }

    /// One audio body with its millisecond timestamp.
    pub fn audio(&mut self, timestamp: u32, body: Bytes) {
        match parse_audio(body) {
            Ok(TagBody::Media { .. }) => self.audio_frame(timestamp),
            Ok(TagBody::Config(_)) => self.configs += 1,
            Ok(TagBody::Ignore) => {}
            Err(_) => self.parse_errors += 1,
        }
    }

    fn step(&mut self, track: usize, ts: u32) {
        if let Some(last) = self.last_ts[track] {
            let d = ts.wrapping_sub(last) as i32 as i64;
            if d < -self.tolerance_ms {
                self.backjumps += 1;
            } else if d > GAP_MS {
                self.gaps += 1;
            }
        }
        self.last_ts[track] = Some(ts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn avc_frame(key: bool) -> Bytes {
        let b0 = if key { 0x17 } else { 0x27 };
        Bytes::from(vec![b0, 1, 0, 0, 0, 0, 0, 0, 1, 0x65])
    }

    #[test]
    fn counts_and_continuity() {
        let c = Arc::new(Counters::default());
        let h = Arc::new(LatencyHistogram::default());
        let mut m = MediaCheck::new(c.clone(), h, Instant::now(), 50);
        m.bytes(100);
        m.video(0, avc_frame(false));
        assert_eq!(m.first_keyframe, None);
        m.video(33, avc_frame(true));
        assert!(m.first_keyframe.is_some());
        m.video(10, avc_frame(false)); // back 23 ms: within tolerance
        m.video(0xFFFF_FFF0, avc_frame(false)); // back 26 ms through the wrap: within
        m.video(5, avc_frame(false)); // forward through the wrap
        m.video(2000, avc_frame(false)); // a gap
        m.video(1000, avc_frame(false)); // a jump back
        m.audio(0, Bytes::from_static(&[0xaf, 1, 0x21]));
        m.audio(0, Bytes::from_static(&[0x2f, 1]));
        assert_eq!(
            c.snapshot(),
            Snapshot {
                bytes: 100,
                video_frames: 7,
                audio_frames: 1,
                keyframes: 1,
                stamped: 0,
                unstamped: 7,
            }
        );
        assert_eq!((m.backjumps, m.gaps, m.parse_errors), (1, 1, 1));
    }

    #[test]
    fn reads_latency_stamps() {
        let c = Arc::new(Counters::default());
        let h = Arc::new(LatencyHistogram::default());
        let mut m = MediaCheck::new(c.clone(), h.clone(), Instant::now(), 50);
        let start = h.snapshot();
        let mut body = Vec::new();
        let sent = sei::now_unix_us() - 20_000;
        assert!(sei::stamp_flv_video(&avc_frame(true), sent, &mut body));
        m.video(0, Bytes::from(body));
        m.video(33, avc_frame(false));
        let s = c.snapshot();
        assert_eq!((s.video_frames, s.stamped, s.unstamped), (2, 1, 1));
        let d = crate::latency::LatencyDist::between(&start, &h.snapshot());
        assert_eq!(d.n, 1);
        assert!((20.0..1000.0).contains(&d.p50), "{d:?}");
    }
}
