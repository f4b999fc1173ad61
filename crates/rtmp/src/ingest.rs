//! Turns the audio/video messages of an RTMP publisher into [`Frame`]s and tracks.
//!
//! Track 0 is video and track 1 audio. Timestamps are unwrapped from RTMP's 32-bit milliseconds
//! into monotonic 64-bit values in a 1/1000 timescale.

use bytes::Bytes;
use weir_flv::tag::{self, TagBody, TagError};
use weir_media::{CodecConfig, Frame, MediaInfo, MediaKind, Track};

/// Track id used for video.
pub const VIDEO_TRACK: u8 = 0;
/// Track id used for audio.
pub const AUDIO_TRACK: u8 = 1;

/// What one message meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestEvent {
    /// The set of tracks changed (a sequence header arrived).
    Tracks(MediaInfo),
    /// A frame.
    Frame(Frame),
    /// Nothing to forward (end of sequence, or a frame before its track's configuration).
    Skip,
}

/// Per-publisher conversion state.
#[derive(Debug, Default)]
pub struct FlvIngest {
    info: MediaInfo,
    last_ts: Option<u32>,
    ext_ts: i64,
    /// Frames dropped because they arrived before their codec configuration.
    pub dropped_before_config: u64,
}

impl FlvIngest {
    /// A fresh converter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Current tracks.
    pub fn info(&self) -> &MediaInfo {
        &self.info
    }

    fn unwrap_ts(&mut self, ts: u32) -> i64 {
        match self.last_ts {
            None => self.ext_ts = ts as i64,
            Some(last) => self.ext_ts += ts.wrapping_sub(last) as i32 as i64,
        }
        self.last_ts = Some(ts);
        self.ext_ts
    }

    /// Converts one video message body.
    pub fn video(&mut self, timestamp: u32, body: Bytes) -> Result<IngestEvent, TagError> {
        let parsed = tag::parse_video(body)?;
        self.convert(timestamp, parsed, VIDEO_TRACK)
    }

    /// Converts one audio message body.
    pub fn audio(&mut self, timestamp: u32, body: Bytes) -> Result<IngestEvent, TagError> {
        let parsed = tag::parse_audio(body)?;
        self.convert(timestamp, parsed, AUDIO_TRACK)
    }

    fn convert(
        &mut self,
        timestamp: u32,
        body: TagBody,
        track: u8,
    ) -> Result<IngestEvent, TagError> {
        match body {
            TagBody::Config(codec) => {
                let new = Track {
                    id: track,
                    timescale: 1000,
                    codec,
                };
                if self.info.track(track) == Some(&new) {
                    return Ok(IngestEvent::Skip);
                }
                self.info.upsert(new);
                Ok(IngestEvent::Tracks(self.info.clone()))
            }
            TagBody::Media {
                kind,
                keyframe,
                cts_ms,
                data,
            } => {
                let dts = self.unwrap_ts(timestamp);
                if self.info.track(track).is_none() {
                    self.dropped_before_config += 1;
                    return Ok(IngestEvent::Skip);
                }
                Ok(IngestEvent::Frame(Frame {
                    track,
                    kind,
                    pts: dts + cts_ms as i64,
                    dts,
                    timescale: 1000,
                    keyframe: keyframe || kind == MediaKind::Audio,
                    data,
                }))
            }
            TagBody::Ignore => Ok(IngestEvent::Skip),
        }
    }
}

/// Whether FLV/RTMP can carry this codec to a player.
pub fn playable(codec: &CodecConfig) -> bool {
    tag::config_body(codec).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_unwrap_across_32_bits() {
        let mut ing = FlvIngest::new();
        assert_eq!(ing.unwrap_ts(u32::MAX - 10), (u32::MAX - 10) as i64);
        assert_eq!(ing.unwrap_ts(20), u32::MAX as i64 + 21);
        // A small step back (audio/video interleave) stays a small step back.
        assert_eq!(ing.unwrap_ts(15), u32::MAX as i64 + 16);
    }
}
