//! Track setup (sample entries, timescales, codec strings) and the initialization segment.

use bytes::Bytes;
use weir_media::{CodecConfig, MediaKind, Track, TrackId};

use crate::writer::BoxWriter;
use crate::{Fmp4Error, ParameterSets};

/// Timescale of video tracks (ticks per second).
pub const VIDEO_TIMESCALE: u32 = 90_000;
/// Timescale of Opus tracks: Opus always decodes at 48 kHz.
pub const OPUS_TIMESCALE: u32 = 48_000;

/// The sample entry of one track and what it needs at mux time.
#[derive(Debug, Clone)]
pub(crate) enum Entry {
    /// `avc1` (parameter sets out of band) or `avc3` (in band) with `avcC`.
    Avc {
        avcc: Bytes,
        width: u16,
        height: u16,
    },
    /// `hvc1` or `hev1` with `hvcC`.
    Hevc {
        hvcc: Bytes,
        width: u16,
        height: u16,
    },
    /// `mp4a` with `esds`.
    Aac {
        asc: Bytes,
        sample_rate: u32,
        channels: u16,
    },
    /// `Opus` with `dOps`.
    Opus {
        channels: u8,
        pre_skip: u16,
        input_sample_rate: u32,
    },
}

/// One muxed track: its ids, timescale, sample entry and codec string.
#[derive(Debug, Clone)]
pub(crate) struct TrackSetup {
    /// Weir's id of the track.
    pub(crate) id: TrackId,
    /// The MP4 `track_ID` (Weir's id + 1: MP4 track ids start at 1).
    pub(crate) mp4_id: u32,
    pub(crate) kind: MediaKind,
    pub(crate) timescale: u32,
    pub(crate) entry: Entry,
    /// The parameter sets of the sample entry (H.264: SPS, PPS; H.265: VPS, SPS, PPS), which
    /// in-band copies must equal when they are stripped from samples.
    pub(crate) parameter_sets: Vec<Bytes>,
    /// Whether parameter sets are kept in samples (`avc3`/`hev1`).
    pub(crate) in_band: bool,
    pub(crate) codec_string: String,
}

impl TrackSetup {
    pub(crate) fn new(track: &Track, mode: ParameterSets) -> Result<Self, Fmp4Error> {
        let id = track.id;
        let invalid = |reason: &'static str| Fmp4Error::InvalidConfig { track: id, reason };
        let in_band = mode == ParameterSets::InBand;
        let dimension = |v: u32| u16::try_from(v).ok().filter(|&v| v > 0);
        let (timescale, entry, parameter_sets) = match &track.codec {
            CodecConfig::H264(c) => {
                let a = &c.avcc;
                if a.len() < 7 || a[0] != 1 {
                    return Err(invalid("malformed AVCDecoderConfigurationRecord"));
                }
                if a[4] & 3 != 3 {
                    return Err(invalid("AVC NAL length size is not 4"));
                }
                let (width, height) = dimension(c.width)
                    .zip(dimension(c.height))
                    .ok_or(invalid("picture size out of range"))?;
                let sets = c.sps.iter().chain(&c.pps).cloned().collect();
                let entry = Entry::Avc {
                    avcc: c.avcc.clone(),
                    width,
                    height,
                };
                (VIDEO_TIMESCALE, entry, sets)
            }
            CodecConfig::H265(c) => {
                let h = &c.hvcc;
                if h.len() < 23 || h[0] != 1 {
                    return Err(invalid("malformed HEVCDecoderConfigurationRecord"));
                }
                if h[21] & 3 != 3 {
                    return Err(invalid("HEVC NAL length size is not 4"));
                }
                let (width, height) = dimension(c.width)
                    .zip(dimension(c.height))
                    .ok_or(invalid("picture size out of range"))?;
                let hvcc = if in_band {
                    c.hvcc.clone()
                } else {
                    hvcc_complete_arrays(h).ok_or(invalid("truncated HEVC parameter set arrays"))?
                };
                let sets = c.vps.iter().chain(&c.sps).chain(&c.pps).cloned().collect();
                let entry = Entry::Hevc {
                    hvcc,
                    width,
                    height,
                };
                (VIDEO_TIMESCALE, entry, sets)
            }
            CodecConfig::Aac(c) => {
                if c.sample_rate == 0 || weir_media::codec::aac::parse_asc(&c.asc).is_err() {
                    return Err(invalid(
                        "AAC without a valid AudioSpecificConfig or sample rate",
                    ));
                }
                let entry = Entry::Aac {
                    asc: c.asc.clone(),
                    sample_rate: c.sample_rate,
                    channels: aac_channel_count(c.channels),
                };
                (c.sample_rate, entry, Vec::new())
            }
            CodecConfig::Opus(c) => {
                if c.channels == 0 {
                    return Err(invalid("Opus with zero channels"));
                }
                if c.channels > 2 {
                    // Mapping family 1 needs the stream counts and channel mapping table, which
                    // OpusConfig does not carry.
                    return Err(Fmp4Error::UnsupportedCodec {
                        track: id,
                        codec: "Opus with more than 2 channels",
                    });
                }
                let entry = Entry::Opus {
                    channels: c.channels,
                    pre_skip: c.pre_skip,
                    input_sample_rate: c.sample_rate,
                };
                (OPUS_TIMESCALE, entry, Vec::new())
            }
            CodecConfig::Av1(_) => {
                return Err(Fmp4Error::UnsupportedCodec {
                    track: id,
                    codec: "av1",
                });
            }
        };
        let mut setup = Self {
            id,
            mp4_id: u32::from(id) + 1,
            kind: track.kind(),
            timescale,
            entry,
            parameter_sets,
            in_band,
            codec_string: String::new(),
        };
        setup.codec_string = setup.rfc6381();
        Ok(setup)
    }

    fn fourcc(&self) -> &'static [u8; 4] {
        match (&self.entry, self.in_band) {
            (Entry::Avc { .. }, false) => b"avc1",
            (Entry::Avc { .. }, true) => b"avc3",
            (Entry::Hevc { .. }, false) => b"hvc1",
            (Entry::Hevc { .. }, true) => b"hev1",
            (Entry::Aac { .. }, _) => b"mp4a",
            (Entry::Opus { .. }, _) => b"Opus",
        }
    }

    /// The RFC 6381 codec string, derived from the sample entry as ISO/IEC 14496-15 Annex E
    /// (AVC, HEVC) and RFC 6381 3.3 (`mp4a`) define it.
    fn rfc6381(&self) -> String {
        let fourcc = String::from_utf8_lossy(self.fourcc()).into_owned();
        match &self.entry {
            Entry::Avc { avcc, .. } => {
                format!("{fourcc}.{:02x}{:02x}{:02x}", avcc[1], avcc[2], avcc[3])
            }
            Entry::Hevc { hvcc, .. } => weir_media::codec::h265::rfc6381(&fourcc, hvcc)
                .unwrap_or_else(|| format!("{fourcc}.1.6.L93.B0")),
            Entry::Aac { asc, .. } => {
                // The object type as the AudioSpecificConfig says it (it parsed in `new`).
                let object_type =
                    weir_media::codec::aac::parse_asc(asc).map_or(2, |a| a.object_type);
                format!("mp4a.40.{object_type}")
            }
            // The sample entry is `Opus`; browsers and HLS playlists use the lower-case name.
            Entry::Opus { .. } => "opus".to_owned(),
        }
    }
}

/// The channel count of an AudioSampleEntry for an AAC channel configuration (ISO/IEC 14496-3
/// Table 1.19); 0 (configuration in a program config element) is written as 2.
fn aac_channel_count(config: u8) -> u16 {
    match config {
        1..=6 => u16::from(config),
        7 | 12 | 14 => 8,
        11 => 7,
        13 => 24,
        _ => 2,
    }
}

/// A copy of an HEVCDecoderConfigurationRecord with `array_completeness` set on every array, as
/// `hvc1` requires (ISO/IEC 14496-15 8.4.1.1.2). `None` when the arrays are truncated.
fn hvcc_complete_arrays(rec: &[u8]) -> Option<Bytes> {
    let mut out = rec.to_vec();
    let arrays = *out.get(22)?;
    let mut pos = 23;
    for _ in 0..arrays {
        let head = out.get_mut(pos..pos + 3)?;
        head[0] |= 0x80;
        let n = u16::from_be_bytes([head[1], head[2]]);
        pos += 3;
        for _ in 0..n {
            let len = out.get(pos..pos + 2)?;
            pos += 2 + usize::from(u16::from_be_bytes([len[0], len[1]]));
        }
        if pos > out.len() {
            return None;
        }
    }
    Some(Bytes::from(out))
}

/// Unity transformation matrix (ISO/IEC 14496-12 8.2.2.3).
const MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

/// Brands of the `ftyp` box: `iso6` (ISO/IEC 14496-12 with `tfdt` and signed composition
/// offsets) and, for a single-track file, `cmfc` (a CMAF track file, ISO/IEC 23000-19 7.2).
pub(crate) fn ftyp(w: &mut BoxWriter, single_track: bool) {
    w.boxed(b"ftyp", |w| {
        w.bytes(b"iso6");
        w.u32(0);
        w.bytes(b"iso6");
        if single_track {
            w.bytes(b"cmfc");
        } else {
            w.bytes(b"mp41");
        }
    });
}

/// Writes the initialization segment: `ftyp` and `moov` with one `trak` per track, empty sample
/// tables, and `mvex` with one `trex` per track.
pub(crate) fn init_segment(tracks: &[TrackSetup]) -> Bytes {
    let mut w = BoxWriter::with_capacity(1024);
    ftyp(&mut w, tracks.len() == 1);
    w.boxed(b"moov", |w| {
        w.full(b"mvhd", 0, 0, |w| {
            w.u32(0); // creation_time
            w.u32(0); // modification_time
            w.u32(1000); // timescale
            w.u32(0); // duration: unknown (fragmented)
            w.u32(0x0001_0000); // rate 1.0
            w.u16(0x0100); // volume 1.0
            w.zeros(2 + 8); // reserved
            MATRIX.iter().for_each(|&m| w.u32(m));
            w.zeros(24); // pre_defined
            let next = tracks.iter().map(|t| t.mp4_id).max().unwrap_or(0) + 1;
            w.u32(next); // next_track_ID
        });
        for t in tracks {
            trak(w, t);
        }
        w.boxed(b"mvex", |w| {
            for t in tracks {
                w.full(b"trex", 0, 0, |w| {
                    w.u32(t.mp4_id);
                    w.u32(1); // default_sample_description_index
                    w.u32(0); // default_sample_duration
                    w.u32(0); // default_sample_size
                    w.u32(0); // default_sample_flags
                });
            }
        });
    });
    Bytes::from(w.into_vec())
}

fn trak(w: &mut BoxWriter, t: &TrackSetup) {
    let video = t.kind == MediaKind::Video;
    let (width, height) = match t.entry {
        Entry::Avc { width, height, .. } | Entry::Hevc { width, height, .. } => (width, height),
        _ => (0, 0),
    };
    w.boxed(b"trak", |w| {
        // track_enabled | track_in_movie
        w.full(b"tkhd", 0, 0x000003, |w| {
            w.u32(0); // creation_time
            w.u32(0); // modification_time
            w.u32(t.mp4_id);
            w.u32(0); // reserved
            w.u32(0); // duration
            w.zeros(8); // reserved
            w.u16(0); // layer
            w.u16(0); // alternate_group
            w.u16(if video { 0 } else { 0x0100 }); // volume
            w.u16(0); // reserved
            MATRIX.iter().for_each(|&m| w.u32(m));
            w.u32(u32::from(width) << 16);
            w.u32(u32::from(height) << 16);
        });
        w.boxed(b"mdia", |w| {
            w.full(b"mdhd", 0, 0, |w| {
                w.u32(0); // creation_time
                w.u32(0); // modification_time
                w.u32(t.timescale);
                w.u32(0); // duration
                w.u16(0x55C4); // language: 'und' (ISO 639-2/T, packed)
                w.u16(0); // pre_defined
            });
            w.full(b"hdlr", 0, 0, |w| {
                w.u32(0); // pre_defined
                w.bytes(if video { b"vide" } else { b"soun" });
                w.zeros(12); // reserved
                w.bytes(if video {
                    b"VideoHandler\0"
                } else {
                    b"SoundHandler\0"
                });
            });
            w.boxed(b"minf", |w| {
                if video {
                    w.full(b"vmhd", 0, 1, |w| w.zeros(8)); // graphicsmode, opcolor
                } else {
                    w.full(b"smhd", 0, 0, |w| w.zeros(4)); // balance, reserved
                }
                w.boxed(b"dinf", |w| {
                    w.full(b"dref", 0, 0, |w| {
                        w.u32(1);
                        w.full(b"url ", 0, 1, |_| {}); // media data in this file
                    });
                });
                w.boxed(b"stbl", |w| {
                    w.full(b"stsd", 0, 0, |w| {
                        w.u32(1);
                        sample_entry(w, t);
                    });
                    w.full(b"stts", 0, 0, |w| w.u32(0));
                    w.full(b"stsc", 0, 0, |w| w.u32(0));
                    w.full(b"stsz", 0, 0, |w| {
                        w.u32(0); // sample_size
                        w.u32(0); // sample_count
                    });
                    w.full(b"stco", 0, 0, |w| w.u32(0));
                });
            });
        });
    });
}

fn sample_entry(w: &mut BoxWriter, t: &TrackSetup) {
    w.boxed(t.fourcc(), |w| {
        w.zeros(6); // reserved
        w.u16(1); // data_reference_index
        match &t.entry {
            Entry::Avc {
                avcc,
                width,
                height,
            } => {
                visual_fields(w, *width, *height);
                w.boxed(b"avcC", |w| w.bytes(avcc));
            }
            Entry::Hevc {
                hvcc,
                width,
                height,
            } => {
                visual_fields(w, *width, *height);
                w.boxed(b"hvcC", |w| w.bytes(hvcc));
            }
            Entry::Aac {
                asc,
                sample_rate,
                channels,
            } => {
                audio_fields(w, *channels, *sample_rate);
                w.full(b"esds", 0, 0, |w| esds(w, asc));
            }
            Entry::Opus {
                channels,
                pre_skip,
                input_sample_rate,
            } => {
                audio_fields(w, u16::from(*channels), OPUS_TIMESCALE);
                // OpusSpecificBox ("Encapsulation of Opus in ISO Base Media File Format" 4.3.2).
                w.boxed(b"dOps", |w| {
                    w.u8(0); // Version
                    w.u8(*channels); // OutputChannelCount
                    w.u16(*pre_skip); // PreSkip
                    w.u32(*input_sample_rate); // InputSampleRate
                    w.i16(0); // OutputGain
                    w.u8(0); // ChannelMappingFamily 0: mono or stereo, no mapping table
                });
            }
        }
    });
}

/// The fields of a VisualSampleEntry after data_reference_index (ISO/IEC 14496-12 12.1.3).
fn visual_fields(w: &mut BoxWriter, width: u16, height: u16) {
    w.u16(0); // pre_defined
    w.u16(0); // reserved
    w.zeros(12); // pre_defined
    w.u16(width);
    w.u16(height);
    w.u32(0x0048_0000); // horizresolution 72 dpi
    w.u32(0x0048_0000); // vertresolution 72 dpi
    w.u32(0); // reserved
    w.u16(1); // frame_count
    w.zeros(32); // compressorname
    w.u16(0x0018); // depth
    w.i16(-1); // pre_defined
}

/// The fields of an AudioSampleEntry (version 0) after data_reference_index (12.2.3).
fn audio_fields(w: &mut BoxWriter, channels: u16, sample_rate: u32) {
    w.zeros(8); // reserved
    w.u16(channels);
    w.u16(16); // samplesize
    w.u16(0); // pre_defined
    w.u16(0); // reserved
    // samplerate as 16.16; rates above 65535 Hz do not fit and are written as 0, as ffmpeg does.
    w.u32(if sample_rate <= 0xFFFF {
        sample_rate << 16
    } else {
        0
    });
}

/// The ES_Descriptor of an `esds` box for AAC (ISO/IEC 14496-1 7.2.6.5, 14496-14 5.6).
fn esds(w: &mut BoxWriter, asc: &[u8]) {
    w.descriptor(0x03, |w| {
        w.u16(0); // ES_ID: 0 as stored in a file (ISO/IEC 14496-14)
        w.u8(0); // no dependsOn, URL or OCR stream; priority 0
        w.descriptor(0x04, |w| {
            w.u8(0x40); // objectTypeIndication: Audio ISO/IEC 14496-3
            w.u8(0x15); // streamType 5 (audio) << 2, upStream 0, reserved 1
            w.bytes(&[0, 0, 0]); // bufferSizeDB: unknown
            w.u32(0); // maxBitrate: unknown
            w.u32(0); // avgBitrate: unknown
            w.descriptor(0x05, |w| w.bytes(asc)); // DecoderSpecificInfo
        });
        w.descriptor(0x06, |w| w.u8(0x02)); // SLConfigDescriptor: predefined, MP4
    });
}
