//! MPEG-2 transport stream muxing and demuxing for Weir (sans-IO).
//!
//! Implements the transport stream and PES layers of ISO/IEC 13818-1 (MPEG-2 Systems): 188-byte
//! transport packets with adaptation fields (PCR, random access indicator, stuffing), PES
//! packets with 33-bit PTS/DTS, and the PAT and PMT program-specific information sections with
//! their CRC-32 (Annex A). Elementary streams are carried as:
//!
//! - H.264 (stream type 0x1B) and H.265 (0x24) as Annex B byte streams (ITU-T H.264 Annex B /
//!   H.265 Annex B), each access unit starting with an access unit delimiter, parameter sets
//!   repeated before every random access point;
//! - AAC (0x0F) with an ADTS header per frame (ISO/IEC 13818-7 / 14496-3);
//! - Opus (0x06, PES private_stream_1 with a registration descriptor `Opus` and the Opus
//!   extension descriptor 0x80 carrying the channel configuration), each packet preceded by the
//!   `opus_control_header`, following the ETSI draft "Encapsulation of Opus in MPEG-2 Transport
//!   Stream" (v0.1.3, published by the Opus project).
//!
//! Nothing here performs I/O. [`TsMuxer`] appends packets to a caller-supplied `Vec<u8>`:
//!
//! ```
//! use weir_mpegts::{TsMuxer, TS_PACKET_SIZE};
//! # let info = weir_media::MediaInfo::default();
//! let mut mux = TsMuxer::new(&info);
//! let mut out = Vec::new();
//! mux.write_tables(&mut out); // at the start of every segment
//! assert_eq!(out.len(), 2 * TS_PACKET_SIZE);
//! // for each frame: mux.write_frame(&frame, &mut out)?;
//! ```
//!
//! [`TsDemuxer`] takes bytes split anywhere and gives [`DemuxEvent`]s: the tracks of the first
//! program (video as track [`VIDEO_TRACK`], audio as [`AUDIO_TRACK`]) and their frames, in
//! Weir's frame format with 90 kHz timestamps. It tolerates what live transport brings:
//! garbage and cut packets (resynchronisation), lost and duplicated packets (continuity
//! counters), streams joined mid-GOP, PMT changes and the 33-bit timestamp wrap, and counts it
//! all in [`DemuxStats`]:
//!
//! ```
//! use weir_mpegts::{DemuxEvent, TsDemuxer};
//! # let received: Vec<Vec<u8>> = Vec::new();
//! let mut demux = TsDemuxer::new();
//! for datagram in &received {
//!     demux.push(datagram);
//!     while let Some(event) = demux.poll_event() {
//!         match event {
//!             DemuxEvent::Tracks(_info) => { /* (re)configure the stream */ }
//!             DemuxEvent::Frame(_frame) => { /* forward it */ }
//!         }
//!     }
//! }
//! demux.flush(); // at the end: the last video frame, then poll again
//! assert_eq!(demux.stats().continuity_errors, 0);
//! ```

mod crc;
mod demux;
mod muxer;

#[cfg(test)]
mod tests;

pub use crc::crc32_mpeg2;
pub use demux::{
    AUDIO_TRACK, DemuxEvent, DemuxStats, MAX_PES_SIZE, TRACK_WAIT_90K, TsDemuxer, VIDEO_TRACK,
};
pub use muxer::{
    AUDIO_PID, PAT_PID, PCR_OFFSET_90K, PMT_PID, STREAM_TYPE_AAC, STREAM_TYPE_H264,
    STREAM_TYPE_H265, STREAM_TYPE_PRIVATE, TsMuxer, VIDEO_PID,
};

use weir_media::TrackId;
use weir_media::codec::CodecError;

/// Size of one transport stream packet in bytes.
pub const TS_PACKET_SIZE: usize = 188;

/// Why a frame could not be muxed. When [`TsMuxer::write_frame`] returns an error it has written
/// nothing and its state (continuity counters, PCR) is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum TsError {
    /// The frame's track is not part of the muxed program (unknown id, or a codec that cannot be
    /// carried, or a second track of the same kind).
    #[error("track {0} is not muxed")]
    UnknownTrack(TrackId),
    /// The frame has an empty payload (or a video access unit without any NAL unit).
    #[error("empty frame")]
    EmptyFrame,
    /// The frame's timescale is zero, so its timestamps mean nothing.
    #[error("frame timescale is zero")]
    ZeroTimescale,
    /// The video access unit is not valid 4-byte length-prefixed NAL data.
    #[error("malformed NAL unit data: {0}")]
    Nal(#[from] CodecError),
    /// The frame is larger than its container allows (an ADTS frame is at most 8191 bytes, an
    /// audio PES packet at most 65535).
    #[error("frame of {size} bytes exceeds the maximum of {max}")]
    FrameTooLarge {
        /// Payload size of the frame.
        size: usize,
        /// Largest payload that fits.
        max: usize,
    },
}
