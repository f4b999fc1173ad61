//! Codec-neutral media model shared by every Weir protocol.
//!
//! Every protocol converts at its own edge to and from [`Frame`]; no container format (FLV, TS,
//! fMP4) is the internal format. A stream has one name, [`StreamPath`], whatever protocol
//! published it.
//!
//! Payload conventions (see `docs/adr/0002-frame-format.md`):
//! - H.264 / H.265: access unit as 4-byte length-prefixed NAL units (AVCC/HVCC style). Parameter
//!   sets live in the [`Track`]'s [`CodecConfig`]; they may also appear in-band.
//! - AAC: one raw access unit, without ADTS header.
//! - Opus: one raw Opus packet.

pub mod codec;
mod frame;
mod path;
mod track;

pub use frame::{Frame, MediaKind, TrackId, rescale};
pub use path::{MAX_PATH_LEN, MAX_PATH_SEGMENTS, PathError, Query, StreamPath};
pub use track::{
    AacConfig, Av1Config, CodecConfig, H264Config, H265Config, MediaInfo, OpusConfig, Track,
};
