//! Live CMAF packaging for Weir (sans-IO).
//!
//! One packaging pass per stream serves three outputs:
//!
//! - HLS with fMP4 segments (RFC 8216, `EXT-X-MAP`), [`playlist::media_playlist`];
//! - Low-Latency HLS (draft-pantos-hls-rfc8216bis): parts, `EXT-X-PRELOAD-HINT`,
//!   `EXT-X-SERVER-CONTROL` for blocking reload and delta updates, rendition reports;
//! - live MPEG-DASH (ISO/IEC 23009-1), [`mpd::mpd`], optionally low-latency.
//!
//! The packager ([`packager::CmafPackager`]) cuts frames into CMAF chunks (one video frame and
//! the audio up to it), groups chunks into parts (about [`PackagerConfig::part_target_ms`]) and
//! parts into segments (starting on keyframes), and keeps a bounded window of them. Each chunk
//! keeps one fragment per track: HLS serves a chunk as the concatenation of its tracks'
//! fragments (a muxed segment, with an init segment declaring every track), DASH serves each
//! track's fragments on their own (one adaptation set per track). Nothing here does I/O or reads
//! a clock; the caller passes the wall-clock time.

pub mod mpd;
pub mod packager;
pub mod playlist;
pub mod timeline;

pub use packager::{CmafPackager, PackagerConfig};
pub use timeline::{PartDesc, SegmentDesc, Timeline, TrackDesc, TrackSpan};

#[cfg(test)]
mod tests;

#[cfg(test)]
mod packager_tests;
