//! Fragmented MP4 / CMAF muxing for Weir (sans-IO).
//!
//! One packaging pass feeds HLS with fMP4 segments, Low-Latency HLS parts and live DASH. The
//! output follows ISO/IEC 14496-12 (ISOBMFF: `ftyp`, `moov` with `mvex`, `styp`, `prft`, `moof`
//! with `mfhd`/`traf`/`tfhd`/`tfdt`/`trun`, `mdat`), ISO/IEC 23000-19 (CMAF track files: one
//! track per file, brand `cmfc`, fragments with `default-base-is-moof`, version 1 `tfdt` and
//! `trun`), ISO/IEC 14496-15 (`avc1`/`avc3` with `avcC`, `hvc1`/`hev1` with `hvcC`), ISO/IEC
//! 14496-14 (`mp4a` with `esds`) and "Encapsulation of Opus in ISO Base Media File Format"
//! (`Opus` with `dOps`).
//!
//! [`Fmp4Muxer`] takes [`weir_media::Frame`]s and gives bytes; the caller decides when a
//! fragment ends (at each LL-HLS part boundary, at each keyframe that starts a segment) and
//! where the bytes go:
//!
//! ```
//! use weir_fmp4::{Fmp4Muxer, Fmp4Options, FragmentOpts};
//! use weir_media::{AacConfig, CodecConfig, Frame, MediaKind, Track};
//!
//! let aac = AacConfig::from_fields(2, 3, 2).unwrap(); // AAC-LC, 48 kHz, stereo
//! let track = Track { id: 1, timescale: 48_000, codec: CodecConfig::Aac(aac) };
//! let mut mux = Fmp4Muxer::new(&[track], Fmp4Options::default()).unwrap();
//! let init = mux.init_segment(); // serve as the HLS EXT-X-MAP / DASH initialization
//! assert_eq!(&init[4..8], b"ftyp");
//! assert_eq!(mux.codecs(), "mp4a.40.2");
//! for i in 0..10 {
//!     let frame = Frame {
//!         track: 1,
//!         kind: MediaKind::Audio,
//!         pts: i * 1024,
//!         dts: i * 1024,
//!         timescale: 48_000,
//!         keyframe: true,
//!         data: vec![0x21; 10].into(),
//!     };
//!     mux.push(&frame).unwrap();
//! }
//! // Every sample but the last pushed one (whose duration is not known yet).
//! let frag = mux.fragment(&FragmentOpts::segment()).unwrap();
//! assert_eq!(frag.tracks[0].sample_count, 9);
//! assert_eq!(frag.tracks[0].base_decode_time, 0);
//! assert_eq!(frag.tracks[0].duration, 9 * 1024);
//! let last = mux.finish(&FragmentOpts::part()).unwrap(); // end of stream
//! assert_eq!(last.tracks[0].base_decode_time, 9 * 1024);
//! ```
//!
//! # Decisions
//!
//! - **Sample durations: the last sample is held back.** The duration of a sample is the next
//!   sample's DTS minus its own, so [`Fmp4Muxer::fragment`] emits every buffered sample of a
//!   track except the most recently pushed one, which opens the next fragment. Durations are
//!   therefore exact, and the next fragment's `tfdt` is always the previous `tfdt` plus the
//!   durations of its `trun`. The cost is one frame of latency (33 ms at 30 fps, 21 ms for AAC
//!   at 48 kHz). To cut at a keyframe, push the keyframe, then call `fragment`: that fragment
//!   ends with the frame before the keyframe (it closes the segment), and the keyframe, held
//!   back, opens the next fragment, the one to write with [`FragmentOpts::segment`].
//!   [`Fmp4Muxer::finish`] ends the stream and gives the very last sample the duration of the
//!   one before it.
//! - **`avc1`/`hvc1`, parameter sets out of band** (the default, [`ParameterSets::OutOfBand`]):
//!   what browsers and Apple's players like best. In-band SPS/PPS/VPS NAL units are removed
//!   from samples; one that differs from the sample entry's is rejected with
//!   [`Fmp4Error::ParameterSetsChanged`], so that the caller can start a new muxer (a new init
//!   segment and an `EXT-X-DISCONTINUITY` / a new DASH period). [`ParameterSets::InBand`]
//!   writes `avc3`/`hev1` and keeps the parameter sets in the samples instead.
//! - **One track per muxer for CMAF; several for muxed HLS.** A muxer with one track writes a
//!   CMAF track file (brand `cmfc`), which DASH and LL-HLS with separate audio renditions
//!   want. A muxer with several tracks writes one `trak` per track, and each fragment has one
//!   `traf` per track with samples (the samples of each track contiguous in `mdat`), which
//!   simple HLS players with muxed audio find easier; such a file is ISOBMFF but not a CMAF
//!   track file, so it does not claim `cmfc`.
//! - **Timescales**: video 90 kHz, AAC its sample rate, Opus 48 kHz. Frame timestamps are
//!   converted from their own timescale one by one (absolute values, never deltas, so rounding
//!   does not accumulate) with [`weir_media::rescale`].
//! - **No edit lists.** Presentation times are `tfdt` plus sample durations plus `trun`
//!   composition offsets (`pts - dts`, signed, `trun` version 1); the Opus pre-skip is carried
//!   in `dOps` only. Live players join mid-stream, where an edit list would not apply anyway.
//! - MP4 track ids are Weir's [`TrackId`] + 1 (MP4 track ids start at 1).
//!
//! Nothing here panics on odd input: zero-length frames, timestamps going backwards, unknown
//! tracks, malformed NAL units and oversized fragments are errors, and a rejected frame leaves
//! the muxer unchanged. The crate has no fuzz target: it parses no container, only the NAL
//! length prefixes of frames, which its property tests exercise with arbitrary payloads.

mod init;
mod muxer;
mod writer;

#[cfg(test)]
mod tests;

pub use init::{OPUS_TIMESCALE, VIDEO_TIMESCALE};
pub use muxer::{
    Fmp4Muxer, Fmp4Options, Fragment, FragmentOpts, MAX_FRAGMENT_BYTES, MAX_FRAGMENT_SAMPLES,
    ParameterSets, ProducerTime, ProducerTimeSource, TrackFragment, ntp_timestamp,
};

use weir_media::TrackId;
use weir_media::codec::CodecError;

/// Why a muxer could not be set up or a frame could not be muxed. When [`Fmp4Muxer::push`]
/// returns an error the frame was not buffered and the muxer is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fmp4Error {
    /// [`Fmp4Muxer::new`] was given no track.
    #[error("no tracks to mux")]
    NoTracks,
    /// Two tracks have the same id.
    #[error("track {0} given twice")]
    DuplicateTrack(TrackId),
    /// The codec (or this configuration of it) cannot be carried.
    #[error("track {track}: unsupported codec {codec}")]
    UnsupportedCodec {
        /// The track.
        track: TrackId,
        /// What is not supported.
        codec: &'static str,
    },
    /// The track's decoder configuration is malformed.
    #[error("track {track}: invalid codec configuration: {reason}")]
    InvalidConfig {
        /// The track.
        track: TrackId,
        /// What is wrong.
        reason: &'static str,
    },
    /// The frame belongs to no muxed track.
    #[error("track {0} is not muxed")]
    UnknownTrack(TrackId),
    /// The frame's kind (audio/video) is not its track's.
    #[error("track {0}: frame kind does not match the track")]
    KindMismatch(TrackId),
    /// The frame's timescale is zero, so its timestamps mean nothing.
    #[error("track {0}: frame timescale is zero")]
    ZeroTimescale(TrackId),
    /// The frame has no payload (or a video frame has no NAL unit left once parameter sets and
    /// empty units are removed).
    #[error("track {0}: empty frame")]
    EmptyFrame(TrackId),
    /// A video frame is not valid 4-byte length-prefixed NAL data.
    #[error("track {track}: malformed NAL unit data: {error}")]
    Nal {
        /// The track.
        track: TrackId,
        /// What is wrong.
        error: CodecError,
    },
    /// The frame's decode time, in the track's timescale, is negative: `tfdt` is unsigned.
    /// Shift the stream's timestamps first.
    #[error("track {track}: negative decode time {dts}")]
    NegativeTimestamp {
        /// The track.
        track: TrackId,
        /// The decode time in the track's timescale.
        dts: i64,
    },
    /// The frame's decode time (in the track's timescale) is not after the previous frame's.
    #[error("track {track}: decode time {dts} not after the previous {previous}")]
    DtsNotIncreasing {
        /// The track.
        track: TrackId,
        /// The previous frame's decode time.
        previous: i64,
        /// This frame's decode time.
        dts: i64,
    },
    /// The gap to the previous frame does not fit a 32-bit sample duration.
    #[error("track {track}: {gap}-tick gap after the previous frame")]
    TimestampGap {
        /// The track.
        track: TrackId,
        /// The gap in the track's timescale.
        gap: i64,
    },
    /// `pts - dts` does not fit a 32-bit composition time offset.
    #[error("track {track}: composition offset {offset} out of range")]
    CompositionOffset {
        /// The track.
        track: TrackId,
        /// `pts - dts` in the track's timescale.
        offset: i64,
    },
    /// The first frame of a video track is not a keyframe: nothing could decode it.
    #[error("track {0}: waiting for a keyframe")]
    NoKeyframeYet(TrackId),
    /// An in-band parameter set differs from the sample entry's (out-of-band mode only). Start
    /// a new muxer with the new configuration (a new initialization segment).
    #[error("track {0}: in-band parameter sets differ from the initialization segment")]
    ParameterSetsChanged(TrackId),
    /// The pending fragment already holds [`MAX_FRAGMENT_SAMPLES`] samples of this track or
    /// [`MAX_FRAGMENT_BYTES`] bytes: call [`Fmp4Muxer::fragment`] first.
    #[error("track {0}: fragment full")]
    FragmentFull(TrackId),
}
