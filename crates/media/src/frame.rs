use bytes::Bytes;

/// Index of a track within a stream's [`crate::MediaInfo`].
pub type TrackId = u8;

/// Whether a track carries video or audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// Video frames.
    Video,
    /// Audio frames.
    Audio,
}

/// One access unit of one track.
///
/// Timestamps are in the track's timescale (ticks per second), kept with the frame so that any
/// consumer can convert without looking the track up. PTS and DTS are separate; for codecs
/// without reordering they are equal. Timestamps are unwrapped (monotonic 64-bit) by the
/// protocol edge that produced them.
///
/// Cloning a frame is cheap: the payload is a reference-counted [`Bytes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Track this frame belongs to.
    pub track: TrackId,
    /// Video or audio.
    pub kind: MediaKind,
    /// Presentation timestamp in `timescale` units.
    pub pts: i64,
    /// Decode timestamp in `timescale` units.
    pub dts: i64,
    /// Ticks per second of `pts` and `dts`.
    pub timescale: u32,
    /// A random access point: a video IDR/IRAP frame. Audio frames are always `true`.
    pub keyframe: bool,
    /// The payload, in the codec's canonical form (see crate docs).
    pub data: Bytes,
}

impl Frame {
    /// Rescales a timestamp from this frame's timescale to `to`, rounding toward negative infinity.
    pub fn rescale(&self, ts: i64, to: u32) -> i64 {
        rescale(ts, self.timescale, to)
    }

    /// DTS in milliseconds.
    pub fn dts_ms(&self) -> i64 {
        self.rescale(self.dts, 1000)
    }

    /// PTS in milliseconds.
    pub fn pts_ms(&self) -> i64 {
        self.rescale(self.pts, 1000)
    }

    /// `pts - dts` in milliseconds (the composition time offset used by FLV/RTMP).
    pub fn cts_ms(&self) -> i64 {
        self.pts_ms() - self.dts_ms()
    }

    /// True for video frames.
    pub fn is_video(&self) -> bool {
        self.kind == MediaKind::Video
    }
}

/// Rescales `ts` from timescale `from` to `to` without overflow for realistic values.
pub fn rescale(ts: i64, from: u32, to: u32) -> i64 {
    if from == to || from == 0 {
        return ts;
    }
    let v = (ts as i128) * (to as i128);
    v.div_euclid(from as i128) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescale_ms_to_90k_and_back() {
        assert_eq!(rescale(1000, 1000, 90_000), 90_000);
        assert_eq!(rescale(90_000, 90_000, 1000), 1000);
        assert_eq!(rescale(-1, 1000, 90_000), -90);
        assert_eq!(rescale(1, 90_000, 1000), 0);
    }
}
