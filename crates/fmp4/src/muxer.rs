//! The muxer: buffering samples and writing fragments (`styp`, `prft`, `moof`, `mdat`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use weir_media::codec::{h264, h265, nal};
use weir_media::{Frame, MediaKind, Track, TrackId, rescale};

use crate::Fmp4Error;
use crate::init::{self, Entry, TrackSetup};
use crate::writer::BoxWriter;

/// The most samples of one track that a fragment may hold; [`Fmp4Muxer::push`] answers
/// [`Fmp4Error::FragmentFull`] beyond it. This bounds the `moof` (16 bytes per video sample).
pub const MAX_FRAGMENT_SAMPLES: usize = 1 << 16;

/// The most sample bytes (all tracks together) that a fragment may hold; [`Fmp4Muxer::push`]
/// answers [`Fmp4Error::FragmentFull`] beyond it. This bounds the muxer's memory and keeps
/// every box below 4 GiB.
pub const MAX_FRAGMENT_BYTES: usize = 512 << 20;

/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// `sample_depends_on` = 2: the sample does not depend on others (a sync sample).
const SAMPLE_FLAGS_SYNC: u32 = 0x0200_0000;
/// `sample_depends_on` = 1 and `sample_is_non_sync_sample` = 1.
const SAMPLE_FLAGS_NON_SYNC: u32 = 0x0101_0000;

const TFHD_DEFAULT_SAMPLE_FLAGS: u32 = 0x00_0020;
const TFHD_DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;
const TRUN_DATA_OFFSET: u32 = 0x00_0001;
const TRUN_SAMPLE_DURATION: u32 = 0x00_0100;
const TRUN_SAMPLE_SIZE: u32 = 0x00_0200;
const TRUN_SAMPLE_FLAGS: u32 = 0x00_0400;
const TRUN_SAMPLE_CTS: u32 = 0x00_0800;

/// Where parameter sets (H.264 SPS/PPS, H.265 VPS/SPS/PPS) go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ParameterSets {
    /// In the sample entry only: `avc1`/`hvc1` (with `array_completeness` set in `hvcC`).
    /// In-band parameter sets are removed from samples; one that differs from the sample
    /// entry's is rejected with [`Fmp4Error::ParameterSetsChanged`].
    #[default]
    OutOfBand,
    /// In the sample entry and wherever the frames carry them: `avc3`/`hev1`. A stream whose
    /// parameter sets change mid-stream needs no new initialization segment.
    InBand,
}

/// How a muxer is set up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Fmp4Options {
    /// Sample entry type for H.264/H.265 and what happens to in-band parameter sets.
    pub parameter_sets: ParameterSets,
}

/// What a wall-clock time given with a fragment stands for: the `flags` of the
/// ProducerReferenceTimeBox (ISO/IEC 14496-12 8.16.5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ProducerTimeSource {
    /// The frame was input to the encoder (flags 0).
    EncoderInput,
    /// The frame was output by the encoder (flags 1): for a server, when the frame arrived.
    #[default]
    EncoderOutput,
    /// The `moof` was finalized (flags 2).
    Packaged,
    /// The frame was captured (flags 24).
    Captured,
}

impl ProducerTimeSource {
    fn flags(self) -> u32 {
        match self {
            Self::EncoderInput => 0,
            Self::EncoderOutput => 1,
            Self::Packaged => 2,
            Self::Captured => 24,
        }
    }
}

/// A wall-clock time for the first sample (in decode order) of a fragment's reference track,
/// written as a `prft` box so that DASH and LL-HLS players can measure their latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProducerTime {
    /// The wall-clock time of the sample.
    pub wall_clock: SystemTime,
    /// What the time stands for.
    pub source: ProducerTimeSource,
}

impl ProducerTime {
    /// `wall_clock` as the time the frame left the encoder (arrived at the server).
    pub fn new(wall_clock: SystemTime) -> Self {
        Self {
            wall_clock,
            source: ProducerTimeSource::default(),
        }
    }
}

/// Per-fragment choices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FragmentOpts {
    /// The fragment starts a segment (an HLS segment, a DASH media segment; it should begin
    /// with a keyframe): it is preceded by a `styp` box (major brand `msdh`; compatible `msdh`
    /// and, for a CMAF track file, `cmfs`). LL-HLS parts after the first of a segment leave it
    /// false.
    pub segment_start: bool,
    /// When set, a `prft` box (version 1) precedes the `moof`.
    pub prft: Option<ProducerTime>,
}

impl FragmentOpts {
    /// Options for a fragment that starts a segment.
    pub fn segment() -> Self {
        Self {
            segment_start: true,
            prft: None,
        }
    }

    /// Options for a fragment inside a segment (an LL-HLS part or CMAF chunk).
    pub fn part() -> Self {
        Self::default()
    }

    /// The same options with a `prft` box for `wall_clock` (see [`ProducerTime::new`]).
    pub fn with_prft(self, wall_clock: SystemTime) -> Self {
        Self {
            prft: Some(ProducerTime::new(wall_clock)),
            ..self
        }
    }
}

/// One track's part of a [`Fragment`]. Times are in the track's timescale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackFragment {
    /// The track.
    pub track: TrackId,
    /// Video or audio.
    pub kind: MediaKind,
    /// Ticks per second of the times below (the track's MP4 timescale).
    pub timescale: u32,
    /// Decode time of the first sample (`tfdt` baseMediaDecodeTime).
    pub base_decode_time: u64,
    /// Sum of the sample durations; the next fragment of the track starts at
    /// `base_decode_time + duration`.
    pub duration: u64,
    /// Number of samples.
    pub sample_count: u32,
    /// Presentation time of the first sample in decode order.
    pub first_pts: i64,
    /// The earliest presentation time of any sample (what DASH calls the segment's earliest
    /// presentation time).
    pub earliest_pts: i64,
    /// The first sample is a sync sample (a keyframe; audio samples always are).
    pub starts_with_keyframe: bool,
    /// Number of sync samples.
    pub keyframes: u32,
}

impl TrackFragment {
    /// [`TrackFragment::duration`] as a [`Duration`].
    pub fn duration_time(&self) -> Duration {
        ticks_to_duration(self.duration, self.timescale)
    }
}

/// A fragment: optional `styp` and `prft`, then `moof` and `mdat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// The bytes, ready to be served or appended to the previous fragments.
    pub data: Bytes,
    /// The `mfhd` sequence number (1 for the first fragment of a muxer, then one more each).
    pub sequence_number: u32,
    /// Whether a `styp` was written ([`FragmentOpts::segment_start`]).
    pub segment_start: bool,
    /// The tracks with samples in this fragment, in the muxer's track order.
    pub tracks: Vec<TrackFragment>,
}

impl Fragment {
    /// The part of track `id`, if it has samples in this fragment.
    pub fn track(&self, id: TrackId) -> Option<&TrackFragment> {
        self.tracks.iter().find(|t| t.track == id)
    }

    /// The reference track's part: the first video track with samples, else the first track.
    pub fn main(&self) -> Option<&TrackFragment> {
        self.tracks
            .iter()
            .find(|t| t.kind == MediaKind::Video)
            .or_else(|| self.tracks.first())
    }

    /// Duration of the reference track's part ([`Fragment::main`]): an HLS part's or segment's
    /// duration.
    pub fn duration(&self) -> Duration {
        self.main()
            .map_or(Duration::ZERO, TrackFragment::duration_time)
    }

    /// Every track's part starts with a sync sample: the fragment can be decoded on its own
    /// (`INDEPENDENT=YES` for an LL-HLS part).
    pub fn starts_with_keyframe(&self) -> bool {
        self.tracks.iter().all(|t| t.starts_with_keyframe)
    }
}

/// One buffered sample. Times in the track's timescale.
#[derive(Debug, Clone)]
struct Sample {
    dts: i64,
    /// `pts - dts`.
    cts: i32,
    /// Known once the next sample arrives (or at [`Fmp4Muxer::finish`]).
    duration: u32,
    sync: bool,
    data: Bytes,
}

#[derive(Debug, Clone)]
struct TrackState {
    setup: TrackSetup,
    /// Buffered samples in decode order; the last one has no duration yet.
    samples: Vec<Sample>,
    /// Decode time of the last sample pushed, even if it was already written.
    last_dts: Option<i64>,
    /// Duration of the last sample whose duration is known.
    last_duration: Option<u32>,
}

impl TrackState {
    /// Samples that [`Fmp4Muxer::fragment`] would write: all but the held-back last one.
    fn ready(&self) -> usize {
        self.samples.len().saturating_sub(1)
    }

    fn ready_ticks(&self) -> u64 {
        self.samples[..self.ready()]
            .iter()
            .map(|s| u64::from(s.duration))
            .sum()
    }

    /// The duration given to the very last sample at [`Fmp4Muxer::finish`]: the previous
    /// sample's, else a typical frame (30 fps video, 1024-sample AAC, 20 ms Opus).
    fn final_duration(&self) -> u32 {
        self.last_duration.unwrap_or(match self.setup.entry {
            Entry::Avc { .. } | Entry::Hevc { .. } => init::VIDEO_TIMESCALE / 30,
            Entry::Aac { .. } => 1024,
            Entry::Opus { .. } => init::OPUS_TIMESCALE / 50,
        })
    }
}

/// A fragmented MP4 muxer for one or more tracks (see the crate documentation for the
/// decisions it makes).
///
/// Typical use for CMAF tracks with LL-HLS parts: one muxer per track; `push` every frame;
/// when the frame just pushed is a keyframe that begins a new segment, call `fragment` to
/// close the current segment (its last part; the keyframe stays buffered), and write the next
/// fragment, which begins with that keyframe, with [`FragmentOpts::segment`]; whenever
/// [`Fmp4Muxer::pending_duration`] reaches the part target, call `fragment` (with
/// [`FragmentOpts::part`] inside a segment).
#[derive(Debug, Clone)]
pub struct Fmp4Muxer {
    tracks: Vec<TrackState>,
    init: Bytes,
    sequence_number: u32,
    pending_bytes: usize,
}

impl Fmp4Muxer {
    /// Sets up a muxer for `tracks`: one track gives a CMAF track file, several a muxed file
    /// with one `trak` per track (in the given order).
    ///
    /// Supported: H.264, H.265 (timescale 90 kHz), AAC (timescale = sample rate), Opus with one
    /// or two channels (48 kHz). AV1 and Opus with more channels are
    /// [`Fmp4Error::UnsupportedCodec`].
    pub fn new(tracks: &[Track], opts: Fmp4Options) -> Result<Self, Fmp4Error> {
        if tracks.is_empty() {
            return Err(Fmp4Error::NoTracks);
        }
        let mut states: Vec<TrackState> = Vec::with_capacity(tracks.len());
        for track in tracks {
            if states.iter().any(|s| s.setup.id == track.id) {
                return Err(Fmp4Error::DuplicateTrack(track.id));
            }
            states.push(TrackState {
                setup: TrackSetup::new(track, opts.parameter_sets)?,
                samples: Vec::new(),
                last_dts: None,
                last_duration: None,
            });
        }
        let setups: Vec<TrackSetup> = states.iter().map(|s| s.setup.clone()).collect();
        Ok(Self {
            init: init::init_segment(&setups),
            tracks: states,
            sequence_number: 1,
            pending_bytes: 0,
        })
    }

    /// The initialization segment (`ftyp` + `moov`): HLS `EXT-X-MAP`, DASH initialization.
    pub fn init_segment(&self) -> Bytes {
        self.init.clone()
    }

    /// The RFC 6381 codec string of track `id` as derived from its sample entry:
    /// `avc1.64001f` (`avc3.…` in band), `hvc1.1.6.L93.B0` (`hev1.…`), `mp4a.40.2`, `opus`.
    pub fn codec_string(&self, id: TrackId) -> Option<&str> {
        self.state(id).map(|s| s.setup.codec_string.as_str())
    }

    /// The codec strings of all tracks, comma-separated in track order: an HLS `CODECS`
    /// attribute or the `codecs` parameter of a MIME type.
    pub fn codecs(&self) -> String {
        let strings: Vec<&str> = self
            .tracks
            .iter()
            .map(|t| t.setup.codec_string.as_str())
            .collect();
        strings.join(",")
    }

    /// The MP4 timescale of track `id` (ticks per second of its [`TrackFragment`] times).
    pub fn timescale(&self, id: TrackId) -> Option<u32> {
        self.state(id).map(|s| s.setup.timescale)
    }

    /// The sequence number the next fragment will carry.
    pub fn sequence_number(&self) -> u32 {
        self.sequence_number
    }

    /// Duration of what [`Fmp4Muxer::fragment`] would write now for the reference track (the
    /// first video track, else the first track): its buffered samples but the last.
    pub fn pending_duration(&self) -> Duration {
        let main = self
            .tracks
            .iter()
            .find(|t| t.setup.kind == MediaKind::Video)
            .or_else(|| self.tracks.first());
        main.map_or(Duration::ZERO, |t| {
            ticks_to_duration(t.ready_ticks(), t.setup.timescale)
        })
    }

    /// Like [`Fmp4Muxer::pending_duration`] for track `id`, in its timescale.
    pub fn pending_ticks(&self, id: TrackId) -> Option<u64> {
        self.state(id).map(TrackState::ready_ticks)
    }

    fn state(&self, id: TrackId) -> Option<&TrackState> {
        self.tracks.iter().find(|t| t.setup.id == id)
    }

    /// Buffers one frame. Its duration becomes known when the next frame of its track arrives.
    ///
    /// Errors leave the muxer unchanged (see [`Fmp4Error`]): the frame's track must be muxed
    /// and of the frame's kind, its payload non-empty (video: valid 4-byte length-prefixed NAL
    /// units), its decode time non-negative and after the previous frame's (in the track's
    /// timescale), the first frame of a video track a keyframe.
    pub fn push(&mut self, frame: &Frame) -> Result<(), Fmp4Error> {
        let id = frame.track;
        let index = self
            .tracks
            .iter()
            .position(|t| t.setup.id == id)
            .ok_or(Fmp4Error::UnknownTrack(id))?;
        let pending_bytes = self.pending_bytes;
        let state = &mut self.tracks[index];
        let setup = &state.setup;
        if frame.kind != setup.kind {
            return Err(Fmp4Error::KindMismatch(id));
        }
        if frame.timescale == 0 {
            return Err(Fmp4Error::ZeroTimescale(id));
        }
        if frame.data.is_empty() {
            return Err(Fmp4Error::EmptyFrame(id));
        }
        let dts = rescale(frame.dts, frame.timescale, setup.timescale);
        let pts = rescale(frame.pts, frame.timescale, setup.timescale);
        if dts < 0 {
            return Err(Fmp4Error::NegativeTimestamp { track: id, dts });
        }
        let previous_duration = match state.last_dts {
            Some(previous) if dts <= previous => {
                return Err(Fmp4Error::DtsNotIncreasing {
                    track: id,
                    previous,
                    dts,
                });
            }
            Some(previous) => {
                Some(
                    u32::try_from(dts - previous).map_err(|_| Fmp4Error::TimestampGap {
                        track: id,
                        gap: dts - previous,
                    })?,
                )
            }
            None => None,
        };
        let offset = pts - dts;
        let cts = i32::try_from(offset)
            .map_err(|_| Fmp4Error::CompositionOffset { track: id, offset })?;
        let video = setup.kind == MediaKind::Video;
        if video && state.last_dts.is_none() && !frame.keyframe {
            return Err(Fmp4Error::NoKeyframeYet(id));
        }
        let data = if video {
            video_sample(setup, &frame.data)?
        } else {
            frame.data.clone()
        };
        if state.samples.len() >= MAX_FRAGMENT_SAMPLES
            || pending_bytes + data.len() > MAX_FRAGMENT_BYTES
        {
            return Err(Fmp4Error::FragmentFull(id));
        }

        if let (Some(d), Some(last)) = (previous_duration, state.samples.last_mut()) {
            last.duration = d;
        }
        if previous_duration.is_some() {
            state.last_duration = previous_duration;
        }
        state.last_dts = Some(dts);
        self.pending_bytes += data.len();
        state.samples.push(Sample {
            dts,
            cts,
            duration: 0,
            sync: frame.keyframe || !video,
            data,
        });
        Ok(())
    }

    /// Writes a fragment with every buffered sample whose duration is known: all but the last
    /// pushed sample of each track, which starts the next fragment. `None` when there is none.
    ///
    /// To cut before a keyframe (a segment boundary), push the keyframe first: the fragment
    /// ends with the frame before it, and the keyframe begins the next fragment. The `mfhd`
    /// sequence number grows by one per fragment.
    pub fn fragment(&mut self, opts: &FragmentOpts) -> Option<Fragment> {
        let counts: Vec<usize> = self.tracks.iter().map(TrackState::ready).collect();
        self.write(&counts, opts)
    }

    /// Ends the stream: writes every buffered sample, the last of each track with the duration
    /// of the one before it (or a typical frame duration when it is the track's only sample).
    /// `None` when nothing is buffered.
    pub fn finish(mut self, opts: &FragmentOpts) -> Option<Fragment> {
        for t in &mut self.tracks {
            let duration = t.final_duration();
            if let Some(last) = t.samples.last_mut() {
                last.duration = duration;
            }
        }
        let counts: Vec<usize> = self.tracks.iter().map(|t| t.samples.len()).collect();
        self.write(&counts, opts)
    }

    /// Writes the first `counts[i]` samples of track `i` as one fragment and drops them.
    fn write(&mut self, counts: &[usize], opts: &FragmentOpts) -> Option<Fragment> {
        let parts: Vec<(&TrackState, &[Sample])> = self
            .tracks
            .iter()
            .zip(counts)
            .filter(|(_, n)| **n > 0)
            .map(|(t, &n)| (t, &t.samples[..n]))
            .collect();
        if parts.is_empty() {
            return None;
        }
        let single_track = self.tracks.len() == 1;
        let sequence_number = self.sequence_number;
        let payload: usize = parts
            .iter()
            .flat_map(|(_, s)| s.iter())
            .map(|s| s.data.len())
            .sum();
        let mut w = BoxWriter::with_capacity(payload + 256 + 20 * counts.iter().sum::<usize>());

        if opts.segment_start {
            w.boxed(b"styp", |w| {
                w.bytes(b"msdh");
                w.u32(0);
                w.bytes(b"msdh");
                if single_track {
                    w.bytes(b"cmfs");
                }
            });
        }
        let reference = parts
            .iter()
            .find(|(t, _)| t.setup.kind == MediaKind::Video)
            .or_else(|| parts.first());
        if let (Some(p), Some((t, samples))) = (&opts.prft, reference) {
            let first = &samples[0];
            w.full(b"prft", 1, p.source.flags(), |w| {
                w.u32(t.setup.mp4_id);
                w.u64(ntp_timestamp(p.wall_clock));
                // media_time: the sample's presentation time, in the track's timescale.
                w.u64((first.dts + i64::from(first.cts)).max(0) as u64);
            });
        }

        let moof_start = w.len();
        let mut offset_slots = Vec::with_capacity(parts.len());
        w.boxed(b"moof", |w| {
            w.full(b"mfhd", 0, 0, |w| w.u32(sequence_number));
            for (t, samples) in &parts {
                let video = t.setup.kind == MediaKind::Video;
                w.boxed(b"traf", |w| {
                    let flags = if video {
                        TFHD_DEFAULT_BASE_IS_MOOF
                    } else {
                        TFHD_DEFAULT_BASE_IS_MOOF | TFHD_DEFAULT_SAMPLE_FLAGS
                    };
                    w.full(b"tfhd", 0, flags, |w| {
                        w.u32(t.setup.mp4_id);
                        if !video {
                            w.u32(SAMPLE_FLAGS_SYNC);
                        }
                    });
                    w.full(b"tfdt", 1, 0, |w| w.u64(samples[0].dts as u64));
                    let mut flags = TRUN_DATA_OFFSET | TRUN_SAMPLE_DURATION | TRUN_SAMPLE_SIZE;
                    if video {
                        flags |= TRUN_SAMPLE_FLAGS | TRUN_SAMPLE_CTS;
                    }
                    w.full(b"trun", 1, flags, |w| {
                        w.u32(samples.len() as u32);
                        offset_slots.push(w.reserve_u32());
                        for s in samples.iter() {
                            w.u32(s.duration);
                            w.u32(s.data.len() as u32);
                            if video {
                                w.u32(if s.sync {
                                    SAMPLE_FLAGS_SYNC
                                } else {
                                    SAMPLE_FLAGS_NON_SYNC
                                });
                                w.i32(s.cts);
                            }
                        }
                    });
                });
            }
        });
        let mut data_starts = Vec::with_capacity(parts.len());
        w.boxed(b"mdat", |w| {
            for (_, samples) in &parts {
                data_starts.push(w.len());
                samples.iter().for_each(|s| w.bytes(&s.data));
            }
        });
        for (slot, start) in offset_slots.into_iter().zip(data_starts) {
            // The trun's data_offset is relative to the start of the moof (default-base-is-moof).
            w.patch_u32(slot, (start - moof_start) as u32);
        }

        let tracks = parts
            .iter()
            .map(|(t, samples)| TrackFragment {
                track: t.setup.id,
                kind: t.setup.kind,
                timescale: t.setup.timescale,
                base_decode_time: samples[0].dts as u64,
                duration: samples.iter().map(|s| u64::from(s.duration)).sum(),
                sample_count: samples.len() as u32,
                first_pts: samples[0].dts + i64::from(samples[0].cts),
                earliest_pts: samples
                    .iter()
                    .map(|s| s.dts + i64::from(s.cts))
                    .min()
                    .unwrap_or_default(),
                starts_with_keyframe: samples[0].sync,
                keyframes: samples.iter().filter(|s| s.sync).count() as u32,
            })
            .collect();
        let fragment = Fragment {
            data: Bytes::from(w.into_vec()),
            sequence_number,
            segment_start: opts.segment_start,
            tracks,
        };

        for (t, &n) in self.tracks.iter_mut().zip(counts) {
            let removed: usize = t.samples.drain(..n).map(|s| s.data.len()).sum();
            self.pending_bytes -= removed;
        }
        self.sequence_number = self.sequence_number.wrapping_add(1);
        Some(fragment)
    }
}

/// A 64-bit NTP timestamp (32 bits of seconds since 1900, 32 bits of fraction; RFC 5905) for
/// a wall-clock time. Times before 1970 are written as 1970.
pub fn ntp_timestamp(t: SystemTime) -> u64 {
    let since_unix = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since_unix.as_secs().wrapping_add(NTP_UNIX_OFFSET);
    let fraction = (u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000;
    (seconds << 32) | fraction
}

fn ticks_to_duration(ticks: u64, timescale: u32) -> Duration {
    if timescale == 0 {
        return Duration::ZERO;
    }
    let nanos = u128::from(ticks) * 1_000_000_000 / u128::from(timescale);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Trailing zero bytes (cabac_zero_words, stuffing) do not change a parameter set.
fn trim_zeros(nal: &[u8]) -> &[u8] {
    let end = nal.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    &nal[..end]
}

/// The sample data of a video frame: its NAL units, without empty units and (out of band)
/// without parameter sets, which must equal the sample entry's.
fn video_sample(setup: &TrackSetup, data: &Bytes) -> Result<Bytes, Fmp4Error> {
    let id = setup.id;
    let hevc = matches!(setup.entry, Entry::Hevc { .. });
    let is_parameter_set = |unit: &[u8]| {
        if hevc {
            matches!(
                h265::nal_type(unit),
                h265::NAL_VPS | h265::NAL_SPS | h265::NAL_PPS
            )
        } else {
            matches!(h264::nal_type(unit), h264::NAL_SPS | h264::NAL_PPS)
        }
    };
    let drop = |unit: &[u8]| unit.is_empty() || (!setup.in_band && is_parameter_set(unit));
    let (mut kept, mut dropped) = (0usize, 0usize);
    for unit in nal::iter_length_prefixed(data, 4) {
        let unit = unit.map_err(|error| Fmp4Error::Nal { track: id, error })?;
        if !drop(unit) {
            kept += 1;
            continue;
        }
        dropped += 1;
        if !unit.is_empty()
            && !setup
                .parameter_sets
                .iter()
                .any(|known| trim_zeros(known) == trim_zeros(unit))
        {
            return Err(Fmp4Error::ParameterSetsChanged(id));
        }
    }
    if kept == 0 {
        return Err(Fmp4Error::EmptyFrame(id));
    }
    if dropped == 0 {
        return Ok(data.clone());
    }
    let mut out = BytesMut::with_capacity(data.len());
    for unit in nal::iter_length_prefixed(data, 4).flatten() {
        if !drop(unit) {
            out.put_u32(unit.len() as u32);
            out.put_slice(unit);
        }
    }
    Ok(out.freeze())
}
