//! Live HLS for Weir (sans-IO): cuts a stream of [`Frame`]s into MPEG-TS segments and writes the
//! media playlist.
//!
//! Implements the server side of HTTP Live Streaming as specified by RFC 8216 for live (sliding
//! window) media playlists with MPEG-2 transport stream segments (RFC 8216 section 3.2, muxed by
//! `weir-mpegts` per ISO/IEC 13818-1): `EXTM3U`, `EXT-X-VERSION` 3, `EXT-X-TARGETDURATION`,
//! `EXT-X-MEDIA-SEQUENCE`, `EXT-X-DISCONTINUITY-SEQUENCE`, `EXTINF` with millisecond decimal
//! durations, `EXT-X-DISCONTINUITY`, `EXT-X-PROGRAM-DATE-TIME` and `EXT-X-ENDLIST`.
//!
//! Nothing here performs I/O or reads a clock: the caller feeds frames with the current wall
//! clock time and serves [`HlsSegmenter::playlist`] and [`HlsSegmenter::segment`] over HTTP
//! (segment URIs are `seg{sequence}.ts`, relative to the playlist).
//!
//! ```
//! use weir_hls::{HlsConfig, HlsSegmenter};
//! # let info = weir_media::MediaInfo::default();
//! let mut hls = HlsSegmenter::new(HlsConfig::default());
//! hls.start(&info);
//! // for each frame: if hls.push(&frame, now_unix_ms) { /* playlist changed */ }
//! let m3u8 = hls.playlist(false);
//! assert!(m3u8.starts_with("#EXTM3U\n"));
//! ```

mod date;

use std::collections::VecDeque;
use std::fmt::Write as _;

use bytes::Bytes;
use weir_media::{Frame, MediaInfo, TrackId};
use weir_mpegts::{TS_PACKET_SIZE, TsMuxer};

pub use date::format_program_date_time;

/// Segments older than the playlist window that are still kept (for players that fetched the
/// previous playlist and are still downloading), subject to [`HlsConfig::max_bytes`].
pub const RETAINED_BEYOND_WINDOW: usize = 3;

/// Configuration of a live HLS segmenter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HlsConfig {
    /// Target segment duration in milliseconds: a segment is cut at the first keyframe once it
    /// is at least this long.
    pub target_duration_ms: u64,
    /// Number of segments listed in the playlist.
    pub window_segments: usize,
    /// Bound on the bytes stored per stream (completed segments plus the open one). The open
    /// segment is limited to half of it.
    pub max_bytes: usize,
    /// Force a cut if no keyframe arrives for this long (video streams); the segment after such a
    /// cut does not start with a keyframe. Streams without video are cut on any frame once the
    /// target duration is reached.
    pub max_segment_ms: u64,
}

impl Default for HlsConfig {
    /// 2 s target, 6 segments listed, 64 MiB stored at most, forced cut after 6 s.
    fn default() -> Self {
        Self {
            target_duration_ms: 2_000,
            window_segments: 6,
            max_bytes: 64 << 20,
            max_segment_ms: 6_000,
        }
    }
}

/// One completed media segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Media sequence number; the segment's URI is `seg{sequence}.ts`.
    pub sequence: u64,
    /// Duration in milliseconds: the next segment's first DTS minus this segment's first DTS.
    pub duration_ms: u64,
    /// Preceded by `EXT-X-DISCONTINUITY` (first segment after a publisher restart, or after
    /// frames had to be dropped).
    pub discontinuity: bool,
    /// The MPEG-TS bytes (PAT and PMT first).
    pub data: Bytes,
    /// Wall clock time (Unix milliseconds) at which the segment's first frame was pushed, written
    /// as `EXT-X-PROGRAM-DATE-TIME` when known (always `Some` for segments of
    /// [`HlsSegmenter`]).
    pub program_date_time_ms: Option<i64>,
}

/// The segment being written.
#[derive(Debug)]
struct OpenSegment {
    /// DTS (ms) of the first frame.
    start_ms: i64,
    /// Largest DTS (ms) of the main track's frames.
    last_main_ms: i64,
    program_date_time_ms: i64,
    discontinuity: bool,
    buf: Vec<u8>,
}

/// A live segmenter for one stream path. Sans-IO: the caller supplies frames and the time.
///
/// Segments start on keyframes of the video track (frames before the first keyframe are
/// dropped), or on any frame when the stream has no (muxable) video. A segment is closed when a
/// keyframe arrives and the segment is at least [`HlsConfig::target_duration_ms`] long by DTS,
/// or on any frame once it reaches [`HlsConfig::max_segment_ms`].
///
/// Memory is bounded by [`HlsConfig::max_bytes`]: when the open segment would exceed half of it,
/// it is **force-cut** at the current frame (the next segment then starts without a keyframe);
/// a single frame that does not fit in half of the budget is dropped, and the segmenter waits
/// for the next keyframe and marks a discontinuity. Completed segments are evicted oldest first
/// to stay within the bound (even if still listed, in which case they leave the playlist).
#[derive(Debug)]
pub struct HlsSegmenter {
    cfg: HlsConfig,
    muxer: Option<TsMuxer>,
    /// The track whose frames start segments and time them: video if muxed, else audio.
    main_track: Option<TrackId>,
    has_video: bool,
    open: Option<OpenSegment>,
    segments: VecDeque<Segment>,
    /// Bytes of `segments`.
    completed_bytes: usize,
    next_sequence: u64,
    discontinuity_sequence: u64,
    pending_discontinuity: bool,
    completed_since_start: bool,
    /// Longest segment produced so far (ms); the target duration never shrinks.
    longest_ms: u64,
    /// DTS (ms) of the previous main-track frame and the last positive step between two.
    last_main_dts_ms: Option<i64>,
    main_frame_ms: i64,
    scratch: Vec<u8>,
}

impl HlsSegmenter {
    /// Creates a segmenter; nothing is segmented until [`HlsSegmenter::start`].
    pub fn new(cfg: HlsConfig) -> Self {
        Self {
            cfg,
            muxer: None,
            main_track: None,
            has_video: false,
            open: None,
            segments: VecDeque::new(),
            completed_bytes: 0,
            next_sequence: 0,
            discontinuity_sequence: 0,
            pending_discontinuity: false,
            completed_since_start: false,
            longest_ms: 0,
            last_main_dts_ms: None,
            main_frame_ms: 0,
            scratch: Vec::new(),
        }
    }

    /// Creates a segmenter whose first segment has media sequence number `first`. Choose a value
    /// not used before for the same URL (for example the current Unix time in seconds), so that
    /// HTTP caches never serve an old segment for a new stream at the same path.
    pub fn with_first_sequence(cfg: HlsConfig, first: u64) -> Self {
        let mut s = Self::new(cfg);
        s.next_sequence = first;
        s
    }

    /// Starts (or restarts after a publisher comes back) with new tracks.
    ///
    /// An open segment of the previous run is closed first (as by [`HlsSegmenter::flush`]).
    /// After a restart the next segment gets `discontinuity = true` (`EXT-X-DISCONTINUITY`);
    /// media sequence numbers keep increasing.
    pub fn start(&mut self, info: &MediaInfo) {
        self.flush();
        let muxer = TsMuxer::new(info);
        self.has_video = muxer.video_track().is_some();
        self.main_track = muxer.video_track().or(muxer.audio_track());
        self.muxer = Some(muxer);
        self.pending_discontinuity |= self.completed_since_start;
        self.completed_since_start = false;
        self.last_main_dts_ms = None;
        self.main_frame_ms = 0;
    }

    /// Feeds one frame; `now_unix_ms` is the wall clock time, used for
    /// `EXT-X-PROGRAM-DATE-TIME`. Returns true when a segment was completed (the playlist
    /// changed).
    ///
    /// Frames of tracks that are not muxed, frames the muxer rejects (malformed data) and frames
    /// pushed before [`HlsSegmenter::start`] are ignored.
    pub fn push(&mut self, frame: &Frame, now_unix_ms: i64) -> bool {
        let Some(muxer) = self.muxer.as_mut() else {
            return false;
        };
        if !muxer.handles(frame.track) || frame.timescale == 0 {
            return false;
        }
        let dts_ms = frame.dts_ms();
        let is_main = self.main_track == Some(frame.track);
        let starts_segment = !self.has_video || (is_main && frame.keyframe);
        let target = i64::try_from(self.cfg.target_duration_ms).unwrap_or(i64::MAX);
        let max_segment = i64::try_from(self.cfg.max_segment_ms).unwrap_or(i64::MAX);
        let mut cut = match &self.open {
            None if !starts_segment => return false,
            None => false,
            Some(open) => {
                let elapsed = dts_ms.saturating_sub(open.start_ms);
                (starts_segment && elapsed >= target) || elapsed >= max_segment
            }
        };

        self.scratch.clear();
        if muxer.write_frame(frame, &mut self.scratch).is_err() {
            return false;
        }
        let open_limit = self.cfg.max_bytes / 2;
        if let Some(open) = &self.open {
            // Bound the open segment: force-cut here rather than grow past the limit.
            cut |= open.buf.len().saturating_add(self.scratch.len()) > open_limit;
        }
        let completed = cut && self.close_open(dts_ms);

        match self.open.as_mut() {
            Some(open) => open.buf.extend_from_slice(&self.scratch),
            None if 2 * TS_PACKET_SIZE + self.scratch.len() > open_limit => {
                // The frame alone exceeds the budget of a segment: drop it, and resume cleanly.
                self.pending_discontinuity = true;
                self.last_main_dts_ms = None;
                self.enforce_max_bytes();
                return completed;
            }
            None => {
                let mut buf = Vec::with_capacity(2 * TS_PACKET_SIZE + self.scratch.len());
                if let Some(muxer) = self.muxer.as_mut() {
                    muxer.write_tables(&mut buf);
                }
                buf.extend_from_slice(&self.scratch);
                self.open = Some(OpenSegment {
                    start_ms: dts_ms,
                    last_main_ms: dts_ms,
                    program_date_time_ms: now_unix_ms,
                    discontinuity: std::mem::take(&mut self.pending_discontinuity),
                    buf,
                });
            }
        }
        if is_main {
            if let Some(prev) = self.last_main_dts_ms {
                let step = dts_ms.saturating_sub(prev);
                if step > 0 {
                    self.main_frame_ms = step.min(target.max(1));
                }
            }
            self.last_main_dts_ms = Some(dts_ms);
            if let Some(open) = self.open.as_mut() {
                open.last_main_ms = open.last_main_ms.max(dts_ms);
            }
        }
        self.enforce_max_bytes();
        completed
    }

    /// Closes the open segment (the publisher ended), keeping what was written. Its duration
    /// runs to the last DTS of the main track plus one typical frame duration. Returns true if
    /// a segment was completed.
    pub fn flush(&mut self) -> bool {
        let Some(open) = &self.open else { return false };
        let end = open.last_main_ms.saturating_add(self.main_frame_ms);
        let completed = self.close_open(end);
        self.last_main_dts_ms = None;
        completed
    }

    /// The current media playlist (RFC 8216). `ended` adds `EXT-X-ENDLIST`.
    pub fn playlist(&self, ended: bool) -> String {
        let mut m = String::with_capacity(256 + 128 * self.len());
        let first = self
            .listed()
            .next()
            .map_or(self.next_sequence, |s| s.sequence);
        // Writing to a String cannot fail.
        let _ = write!(
            m,
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:{}\n\
             #EXT-X-DISCONTINUITY-SEQUENCE:{}\n",
            self.target_duration_secs(),
            first,
            self.discontinuity_sequence
        );
        for s in self.listed() {
            if s.discontinuity {
                m.push_str("#EXT-X-DISCONTINUITY\n");
            }
            if let Some(t) = s.program_date_time_ms {
                let _ = writeln!(
                    m,
                    "#EXT-X-PROGRAM-DATE-TIME:{}",
                    format_program_date_time(t)
                );
            }
            let _ = write!(
                m,
                "#EXTINF:{}.{:03},\nseg{}.ts\n",
                s.duration_ms / 1000,
                s.duration_ms % 1000,
                s.sequence
            );
        }
        if ended {
            m.push_str("#EXT-X-ENDLIST\n");
        }
        m
    }

    /// Looks up a stored segment by sequence number. Segments that just left the playlist
    /// window stay available for [`RETAINED_BEYOND_WINDOW`] more segments, subject to
    /// [`HlsConfig::max_bytes`].
    pub fn segment(&self, sequence: u64) -> Option<&Segment> {
        let first = self.segments.front()?.sequence;
        let idx = usize::try_from(sequence.checked_sub(first)?).ok()?;
        self.segments.get(idx).filter(|s| s.sequence == sequence)
    }

    /// The completed segments currently listed in the playlist, oldest first.
    pub fn segments(&self) -> impl Iterator<Item = &Segment> {
        self.listed()
    }

    /// Number of completed segments currently listed.
    pub fn len(&self) -> usize {
        self.segments.len().min(self.window())
    }

    /// True when no segment is listed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total bytes currently stored (completed segments plus the open segment's buffer).
    pub fn stored_bytes(&self) -> usize {
        self.completed_bytes + self.open.as_ref().map_or(0, |o| o.buf.len())
    }

    /// The `EXT-X-TARGETDURATION` value: the longest segment so far (or the configured target,
    /// if longer) rounded up to whole seconds. It never decreases, so the value stays stable
    /// over the life of a live playlist.
    pub fn target_duration_secs(&self) -> u64 {
        self.longest_ms
            .max(self.cfg.target_duration_ms)
            .div_ceil(1000)
            .max(1)
    }

    fn window(&self) -> usize {
        self.cfg.window_segments.max(1)
    }

    fn listed(&self) -> impl Iterator<Item = &Segment> {
        self.segments
            .iter()
            .skip(self.segments.len().saturating_sub(self.window()))
    }

    /// Completes the open segment with its end at DTS `end_ms`.
    fn close_open(&mut self, end_ms: i64) -> bool {
        let Some(open) = self.open.take() else {
            return false;
        };
        let duration_ms = u64::try_from(end_ms.saturating_sub(open.start_ms)).unwrap_or(0);
        let window = self.window();
        // The segment that slides out of the listed window.
        if self.segments.len() >= window
            && self
                .segments
                .get(self.segments.len() - window)
                .is_some_and(|s| s.discontinuity)
        {
            self.discontinuity_sequence += 1;
        }
        self.completed_bytes += open.buf.len();
        self.longest_ms = self.longest_ms.max(duration_ms);
        self.segments.push_back(Segment {
            sequence: self.next_sequence,
            duration_ms,
            discontinuity: open.discontinuity,
            data: Bytes::from(open.buf),
            program_date_time_ms: Some(open.program_date_time_ms),
        });
        self.next_sequence += 1;
        self.completed_since_start = true;
        while self.segments.len() > window + RETAINED_BEYOND_WINDOW {
            self.evict_oldest();
        }
        true
    }

    fn evict_oldest(&mut self) {
        let listed = self.segments.len() <= self.window();
        if let Some(s) = self.segments.pop_front() {
            self.completed_bytes -= s.data.len();
            if listed && s.discontinuity {
                self.discontinuity_sequence += 1;
            }
        }
    }

    fn enforce_max_bytes(&mut self) {
        while self.stored_bytes() > self.cfg.max_bytes && !self.segments.is_empty() {
            self.evict_oldest();
        }
    }
}

#[cfg(test)]
mod tests;
