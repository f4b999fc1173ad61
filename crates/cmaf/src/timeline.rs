//! What the manifests describe: the segments and parts of one live CMAF presentation.

/// One track as the manifests describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackDesc {
    /// ISOBMFF track id (1-based).
    pub id: u32,
    /// True for video.
    pub video: bool,
    /// RFC 6381 codec string (`avc1.64001f`, `mp4a.40.2`).
    pub codec: String,
    /// Media timescale of the track's fragments.
    pub timescale: u32,
    /// Width and height (video).
    pub width: u32,
    /// Height (video).
    pub height: u32,
    /// Frames per second (video; 0 when unknown).
    pub frame_rate: f64,
    /// Sample rate (audio).
    pub sample_rate: u32,
    /// Channels (audio).
    pub channels: u8,
    /// Measured bit rate, bits per second (0 before the first segment).
    pub bandwidth: u64,
}

/// One part (LL-HLS partial segment): a run of CMAF chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartDesc {
    /// Duration in microseconds.
    pub duration_us: u64,
    /// Starts with a video keyframe (or the stream has no video).
    pub independent: bool,
}

/// Where a track's media of one segment lies on its own media timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrackSpan {
    /// `tfdt` of the track's first sample in the segment.
    pub start: u64,
    /// Sum of the track's sample durations in the segment.
    pub duration: u64,
}

/// One segment (complete, or the one being written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentDesc {
    /// Media sequence number (and DASH `$Number$`).
    pub msn: u64,
    /// Preceded by `EXT-X-DISCONTINUITY`.
    pub discontinuity: bool,
    /// Wall clock (Unix ms) of its first frame: `EXT-X-PROGRAM-DATE-TIME`.
    pub pdt_unix_ms: i64,
    /// Duration in microseconds (0 while open).
    pub duration_us: u64,
    /// Its parts so far, in order.
    pub parts: Vec<PartDesc>,
    /// Per track (in [`Timeline::tracks`] order), its span; `duration` 0 while open.
    pub spans: Vec<TrackSpan>,
    /// Whether it is complete.
    pub complete: bool,
}

/// A snapshot of one live presentation, enough to write every manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    /// The tracks, video first.
    pub tracks: Vec<TrackDesc>,
    /// Listed segments, oldest first; the last one may be open (`complete == false`).
    pub segments: Vec<SegmentDesc>,
    /// `EXT-X-TARGETDURATION`, seconds (the longest segment, rounded up, never below the
    /// configured target).
    pub target_duration_s: u64,
    /// `EXT-X-PART-INF:PART-TARGET`, microseconds.
    pub part_target_us: u64,
    /// `EXT-X-DISCONTINUITY-SEQUENCE` of the first listed segment.
    pub discontinuity_sequence: u64,
    /// The publisher ended: `EXT-X-ENDLIST`.
    pub ended: bool,
    /// Wall clock (Unix ms) at which this presentation's media time zero was (DASH
    /// `availabilityStartTime`).
    pub availability_start_unix_ms: i64,
    /// Per track, the media time (track timescale) that maps to `availability_start_unix_ms`
    /// (DASH `presentationTimeOffset`).
    pub time_offsets: Vec<u64>,
    /// A version that changes with every new part or segment (for ETags).
    pub version: u64,
}

impl Timeline {
    /// The complete segments.
    pub fn complete(&self) -> impl Iterator<Item = &SegmentDesc> {
        self.segments.iter().filter(|s| s.complete)
    }

    /// The open segment, if any.
    pub fn open(&self) -> Option<&SegmentDesc> {
        self.segments.last().filter(|s| !s.complete)
    }

    /// The last complete part, as (msn, part index): what `_HLS_msn`/`_HLS_part` wait for.
    pub fn last_part(&self) -> Option<(u64, usize)> {
        self.segments
            .iter()
            .rev()
            .find(|s| !s.parts.is_empty())
            .map(|s| (s.msn, s.parts.len() - 1))
    }

    /// True when the playlist already holds segment `msn` (complete), or, with `part`, that part
    /// of it (complete segments hold all their parts).
    pub fn has(&self, msn: u64, part: Option<usize>) -> bool {
        let Some(seg) = self.segments.iter().find(|s| s.msn == msn) else {
            return self.segments.iter().any(|s| s.msn > msn && s.complete)
                || self.segments.first().is_some_and(|s| s.msn > msn);
        };
        match part {
            None => seg.complete,
            Some(p) => seg.complete || p < seg.parts.len(),
        }
    }

    /// The msn the next segment will have (the open one's, or one past the last).
    pub fn next_msn(&self) -> u64 {
        self.segments
            .last()
            .map_or(0, |s| if s.complete { s.msn + 1 } else { s.msn })
    }
}
