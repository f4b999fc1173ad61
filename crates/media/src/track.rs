use bytes::Bytes;

use crate::codec::{self, CodecError};
use crate::{MediaKind, TrackId};

/// Everything a consumer needs to set up decoders or muxers for a stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaInfo {
    /// The tracks, indexed by [`Track::id`].
    pub tracks: Vec<Track>,
}

impl MediaInfo {
    /// The first video track.
    pub fn video(&self) -> Option<&Track> {
        self.tracks.iter().find(|t| t.kind() == MediaKind::Video)
    }

    /// The first audio track.
    pub fn audio(&self) -> Option<&Track> {
        self.tracks.iter().find(|t| t.kind() == MediaKind::Audio)
    }

    /// The track with id `id`.
    pub fn track(&self, id: TrackId) -> Option<&Track> {
        self.tracks.iter().find(|t| t.id == id)
    }

    /// Inserts or replaces the track with the same id.
    pub fn upsert(&mut self, track: Track) {
        match self.tracks.iter_mut().find(|t| t.id == track.id) {
            Some(t) => *t = track,
            None => {
                self.tracks.push(track);
                self.tracks.sort_by_key(|t| t.id);
            }
        }
    }
}

/// One elementary stream of a [`MediaInfo`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    /// Index of the track; frames carry it in [`crate::Frame::track`].
    pub id: TrackId,
    /// Ticks per second of the frames' timestamps.
    pub timescale: u32,
    /// Codec and its decoder configuration.
    pub codec: CodecConfig,
}

impl Track {
    /// Video or audio, from the codec.
    pub fn kind(&self) -> MediaKind {
        self.codec.kind()
    }
}

/// Codec and decoder configuration of a track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecConfig {
    /// H.264 / AVC.
    H264(H264Config),
    /// H.265 / HEVC.
    H265(H265Config),
    /// AAC (MPEG-4 audio).
    Aac(AacConfig),
    /// Opus.
    Opus(OpusConfig),
    /// AV1.
    Av1(Av1Config),
}

impl CodecConfig {
    /// Video or audio.
    pub fn kind(&self) -> MediaKind {
        match self {
            CodecConfig::H264(_) | CodecConfig::H265(_) | CodecConfig::Av1(_) => MediaKind::Video,
            CodecConfig::Aac(_) | CodecConfig::Opus(_) => MediaKind::Audio,
        }
    }

    /// Short codec name as ffprobe prints it (`h264`, `hevc`, `aac`, `opus`, `av1`).
    pub fn name(&self) -> &'static str {
        match self {
            CodecConfig::H264(_) => "h264",
            CodecConfig::H265(_) => "hevc",
            CodecConfig::Aac(_) => "aac",
            CodecConfig::Opus(_) => "opus",
            CodecConfig::Av1(_) => "av1",
        }
    }

    /// RFC 6381 codec string for playlists and MSE (`avc1.64001f`, `mp4a.40.2`, ...).
    pub fn rfc6381(&self) -> String {
        match self {
            CodecConfig::H264(c) => {
                format!("avc1.{:02x}{:02x}{:02x}", c.profile, c.compat, c.level)
            }
            CodecConfig::H265(c) => codec::h265::rfc6381("hvc1", &c.hvcc)
                .unwrap_or_else(|| format!("hvc1.{}.6.L{}.B0", c.profile, c.level)),
            CodecConfig::Aac(c) => format!("mp4a.40.{}", c.object_type),
            CodecConfig::Opus(_) => "opus".to_owned(),
            CodecConfig::Av1(_) => "av01.0.08M.08".to_owned(),
        }
    }
}

/// H.264 decoder configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H264Config {
    /// The AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1).
    pub avcc: Bytes,
    /// Sequence parameter sets (NAL units without start codes).
    pub sps: Vec<Bytes>,
    /// Picture parameter sets.
    pub pps: Vec<Bytes>,
    /// profile_idc.
    pub profile: u8,
    /// constraint flags byte.
    pub compat: u8,
    /// level_idc.
    pub level: u8,
    /// Coded width in pixels after cropping.
    pub width: u32,
    /// Coded height in pixels after cropping.
    pub height: u32,
}

impl H264Config {
    /// Parses an AVCDecoderConfigurationRecord. Frames are expected with 4-byte lengths; a record
    /// declaring another length size is rejected.
    pub fn from_avcc(avcc: Bytes) -> Result<Self, CodecError> {
        let (sps, pps, nal_len) = codec::h264::parse_avcc(&avcc)?;
        if nal_len != 4 {
            return Err(CodecError::Unsupported(format!(
                "AVC NAL length size {nal_len} (only 4 is supported)"
            )));
        }
        Self::build(avcc, sps, pps)
    }

    /// Builds the configuration (and its AVCDecoderConfigurationRecord) from parameter sets.
    pub fn from_parameter_sets(sps: Vec<Bytes>, pps: Vec<Bytes>) -> Result<Self, CodecError> {
        let avcc = codec::h264::build_avcc(&sps, &pps)?;
        Self::build(avcc, sps, pps)
    }

    fn build(avcc: Bytes, sps: Vec<Bytes>, pps: Vec<Bytes>) -> Result<Self, CodecError> {
        let first = sps
            .first()
            .ok_or(CodecError::Invalid("AVC configuration without SPS"))?;
        let info = codec::h264::parse_sps(first)?;
        Ok(Self {
            avcc,
            sps,
            pps,
            profile: info.profile,
            compat: info.compat,
            level: info.level,
            width: info.width,
            height: info.height,
        })
    }
}

/// H.265 decoder configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H265Config {
    /// The HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1).
    pub hvcc: Bytes,
    /// Video parameter sets.
    pub vps: Vec<Bytes>,
    /// Sequence parameter sets.
    pub sps: Vec<Bytes>,
    /// Picture parameter sets.
    pub pps: Vec<Bytes>,
    /// general_profile_idc.
    pub profile: u8,
    /// general_level_idc.
    pub level: u8,
    /// Width in pixels after the conformance window.
    pub width: u32,
    /// Height in pixels after the conformance window.
    pub height: u32,
}

impl H265Config {
    /// Parses an HEVCDecoderConfigurationRecord; frames are expected with 4-byte lengths.
    pub fn from_hvcc(hvcc: Bytes) -> Result<Self, CodecError> {
        let rec = codec::h265::parse_hvcc(&hvcc)?;
        if rec.nal_length_size != 4 {
            return Err(CodecError::Unsupported(format!(
                "HEVC NAL length size {} (only 4 is supported)",
                rec.nal_length_size
            )));
        }
        Self::build(hvcc, rec.vps, rec.sps, rec.pps)
    }

    /// Builds the configuration (and its HEVCDecoderConfigurationRecord, see
    /// [`codec::h265::build_hvcc`]) from parameter sets (NAL units without start codes). The
    /// first SPS must parse.
    pub fn from_parameter_sets(
        vps: Vec<Bytes>,
        sps: Vec<Bytes>,
        pps: Vec<Bytes>,
    ) -> Result<Self, CodecError> {
        let hvcc = codec::h265::build_hvcc(&vps, &sps, &pps)?;
        Self::build(hvcc, vps, sps, pps)
    }

    fn build(
        hvcc: Bytes,
        vps: Vec<Bytes>,
        sps: Vec<Bytes>,
        pps: Vec<Bytes>,
    ) -> Result<Self, CodecError> {
        let first = sps
            .first()
            .ok_or(CodecError::Invalid("HEVC configuration without SPS"))?;
        let info = codec::h265::parse_sps(first)?;
        Ok(Self {
            hvcc,
            vps,
            sps,
            pps,
            profile: info.profile,
            level: info.level,
            width: info.width,
            height: info.height,
        })
    }
}

/// AAC decoder configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AacConfig {
    /// The AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1).
    pub asc: Bytes,
    /// Audio object type (2 = AAC-LC).
    pub object_type: u8,
    /// Sampling frequency index (0..=12), or 15 for an explicit rate.
    pub sampling_index: u8,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channel configuration (1 = mono, 2 = stereo, ...).
    pub channels: u8,
}

impl AacConfig {
    /// Parses an AudioSpecificConfig.
    pub fn from_asc(asc: Bytes) -> Result<Self, CodecError> {
        let p = codec::aac::parse_asc(&asc)?;
        Ok(Self {
            asc,
            object_type: p.object_type,
            sampling_index: p.sampling_index,
            sample_rate: p.sample_rate,
            channels: p.channels,
        })
    }

    /// Builds the configuration from the fields of an ADTS header.
    pub fn from_fields(
        object_type: u8,
        sampling_index: u8,
        channels: u8,
    ) -> Result<Self, CodecError> {
        let asc = codec::aac::build_asc(object_type, sampling_index, channels)?;
        Self::from_asc(asc)
    }

    /// The 7-byte ADTS header for a raw frame of `payload_len` bytes.
    pub fn adts_header(&self, payload_len: usize) -> [u8; 7] {
        codec::aac::adts_header(
            self.object_type,
            self.sampling_index,
            self.channels,
            payload_len,
        )
    }
}

/// Opus configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusConfig {
    /// Channel count.
    pub channels: u8,
    /// Input sample rate (informational; Opus always decodes at 48 kHz).
    pub sample_rate: u32,
    /// Samples to drop at the start.
    pub pre_skip: u16,
}

/// AV1 configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Av1Config {
    /// The AV1CodecConfigurationRecord.
    pub av1c: Bytes,
}
