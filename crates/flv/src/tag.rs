//! FLV video/audio tag bodies (as carried in RTMP messages) and FLV file framing.
//!
//! Video: legacy AVC (codec id 7), legacy HEVC (codec id 12, same layout as AVC, as sent by
//! some encoders) and Enhanced RTMP v1 (`IsExHeader` bit, FourCC `avc1` / `hvc1`; `av01` is
//! recognised and ignored). Enhanced RTMP v2 `ModEx` wrappers are skipped (their data, e.g. a
//! nanosecond timestamp offset, is dropped) and multitrack packets are ignored.
//!
//! Audio: AAC (sound format 10).
//!
//! Frame payloads are in Weir's canonical form, which is what FLV carries already: 4-byte
//! length-prefixed NAL units for H.264/H.265 (the configuration records are required to declare
//! 4-byte lengths) and raw AAC access units. Parsing slices the message body without copying.

use bytes::{Buf, Bytes, BytesMut};
use weir_media::codec::CodecError;
use weir_media::{AacConfig, CodecConfig, Frame, H264Config, H265Config, MediaKind};

/// FLV tag type of audio tags.
pub const TAG_AUDIO: u8 = 8;
/// FLV tag type of video tags.
pub const TAG_VIDEO: u8 = 9;
/// FLV tag type of script data (AMF0) tags.
pub const TAG_SCRIPT: u8 = 18;

/// Largest tag body an FLV tag can carry (24-bit size field): 16 MiB - 1.
pub const MAX_TAG_SIZE: usize = 0xff_ffff;

/// Legacy FLV video codec id of AVC / H.264.
pub const VIDEO_CODEC_AVC: u8 = 7;
/// Non-standard legacy FLV video codec id used for HEVC by some encoders.
pub const VIDEO_CODEC_HEVC: u8 = 12;
/// FLV sound format of AAC.
pub const SOUND_FORMAT_AAC: u8 = 10;

/// Video frame type: keyframe.
const FRAME_KEY: u8 = 1;
/// Video frame type: inter frame.
const FRAME_INTER: u8 = 2;
/// Video frame type: video info / command frame.
const FRAME_COMMAND: u8 = 5;

/// Enhanced RTMP `IsExHeader` flag of the first video byte.
const EX_HEADER: u8 = 0x80;
// Enhanced RTMP video packet types.
const PT_SEQUENCE_START: u8 = 0;
const PT_CODED_FRAMES: u8 = 1;
const PT_CODED_FRAMES_X: u8 = 3;
const PT_MULTITRACK: u8 = 6;
const PT_MOD_EX: u8 = 7;

// Legacy AVC packet types.
const AVC_SEQUENCE_HEADER: u8 = 0;
const AVC_NALU: u8 = 1;

// AAC packet types.
const AAC_SEQUENCE_HEADER: u8 = 0;
const AAC_RAW: u8 = 1;
/// First byte of AAC audio tags: AAC, 44 kHz, 16-bit, stereo (the flags are fixed for AAC).
const AAC_TAG_BYTE: u8 = 0xaf;

const FOURCC_AVC1: [u8; 4] = *b"avc1";
const FOURCC_HVC1: [u8; 4] = *b"hvc1";
const FOURCC_AV01: [u8; 4] = *b"av01";

/// Composition time offsets are signed 24-bit.
const SI24_MIN: i64 = -0x80_0000;
const SI24_MAX: i64 = 0x7f_ffff;

/// FLV header size for version 1.
const FLV_HEADER_LEN: usize = 9;
/// The largest FLV header the reader accepts (and skips the rest of).
const MAX_FLV_HEADER_LEN: u32 = 1024;
/// Length of a tag header.
const TAG_HEADER_LEN: usize = 11;
/// Length of a PreviousTagSize field.
const PREV_TAG_SIZE_LEN: usize = 4;

/// What one RTMP/FLV video or audio message body means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagBody {
    /// Decoder configuration: AVC/HEVC sequence header or AAC AudioSpecificConfig.
    Config(CodecConfig),
    /// A coded frame.
    Media {
        /// Video or audio.
        kind: MediaKind,
        /// For video, the tag's frame type is 1 (keyframe); audio frames are always keyframes.
        keyframe: bool,
        /// Composition time offset (pts - dts) in milliseconds; 0 for audio.
        cts_ms: i32,
        /// The codec's canonical payload: 4-byte length-prefixed NAL units for H.264/H.265 (as
        /// in FLV), one raw AAC access unit for audio.
        data: Bytes,
    },
    /// End of sequence, an empty frame, or a packet type Weir ignores (video info/command
    /// frames, E-RTMP metadata and multitrack packets, AV1, unknown AVC/AAC packet types).
    Ignore,
}

/// Why a tag body or an FLV file could not be read.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum TagError {
    /// The data ended before the named field.
    #[error("FLV tag truncated: {0}")]
    Truncated(&'static str),
    /// A legacy video codec id other than AVC (7) and HEVC (12).
    #[error("unsupported FLV video codec id {0}")]
    UnsupportedVideoCodec(u8),
    /// A sound format other than AAC (10).
    #[error("unsupported FLV audio sound format {0}")]
    UnsupportedAudioCodec(u8),
    /// An Enhanced RTMP video FourCC other than `avc1`, `hvc1` and `av01`.
    #[error("unsupported Enhanced RTMP video FourCC '{}'", .0.escape_ascii())]
    UnsupportedFourCc([u8; 4]),
    /// The sequence header's decoder configuration could not be parsed.
    #[error("bad decoder configuration in sequence header: {0}")]
    BadConfig(#[from] CodecError),
    /// An FLV file does not start with `FLV`.
    #[error("not an FLV file: signature '{}'", .0.escape_ascii())]
    BadSignature([u8; 3]),
    /// The FLV header declares an impossible size (less than 9 or more than 1024 bytes).
    #[error("FLV header size {0} out of range")]
    BadHeaderSize(u32),
    /// An FLV tag with the filter (encryption) bit set.
    #[error("encrypted (filtered) FLV tag of type {0}")]
    Encrypted(u8),
}

/// The first `N` bytes of `data`.
fn head<const N: usize>(data: &[u8], what: &'static str) -> Result<[u8; N], TagError> {
    data.get(..N)
        .and_then(|s| s.try_into().ok())
        .ok_or(TagError::Truncated(what))
}

/// `body` from offset `from` on, without copying.
fn tail(body: &Bytes, from: usize, what: &'static str) -> Result<Bytes, TagError> {
    if from > body.len() {
        return Err(TagError::Truncated(what));
    }
    Ok(body.slice(from..))
}

/// Decodes a signed 24-bit big-endian integer.
fn si24(b: [u8; 3]) -> i32 {
    i32::from_be_bytes([b[0], b[1], b[2], 0]) >> 8
}

/// Encodes `v` as a signed 24-bit big-endian integer, clamped to its range.
fn si24_bytes(v: i64) -> [u8; 3] {
    let b = (v.clamp(SI24_MIN, SI24_MAX) as i32).to_be_bytes();
    [b[1], b[2], b[3]]
}

/// A video frame, or `Ignore` when its payload is empty.
fn video_frame(keyframe: bool, cts_ms: i32, data: Bytes) -> TagBody {
    if data.is_empty() {
        return TagBody::Ignore;
    }
    TagBody::Media {
        kind: MediaKind::Video,
        keyframe,
        cts_ms,
        data,
    }
}

/// Parses the body of an RTMP video message / FLV video tag.
pub fn parse_video(body: Bytes) -> Result<TagBody, TagError> {
    let [b0] = head(&body, "video tag header")?;
    if b0 & EX_HEADER != 0 {
        return parse_ex_video(&body, b0);
    }
    let frame_type = b0 >> 4;
    if frame_type == FRAME_COMMAND {
        return Ok(TagBody::Ignore);
    }
    let hevc = match b0 & 0x0f {
        VIDEO_CODEC_AVC => false,
        VIDEO_CODEC_HEVC => true,
        other => return Err(TagError::UnsupportedVideoCodec(other)),
    };
    let [_, packet_type, c0, c1, c2] = head(&body, "AVC video tag header")?;
    match packet_type {
        AVC_SEQUENCE_HEADER => {
            let rec = tail(&body, 5, "decoder configuration record")?;
            Ok(TagBody::Config(if hevc {
                CodecConfig::H265(H265Config::from_hvcc(rec)?)
            } else {
                CodecConfig::H264(H264Config::from_avcc(rec)?)
            }))
        }
        AVC_NALU => {
            let data = tail(&body, 5, "AVC NAL units")?;
            Ok(video_frame(
                frame_type == FRAME_KEY,
                si24([c0, c1, c2]),
                data,
            ))
        }
        _ => Ok(TagBody::Ignore),
    }
}

/// Parses an Enhanced RTMP video body whose first byte is `b0` (with `IsExHeader` set).
fn parse_ex_video(body: &Bytes, b0: u8) -> Result<TagBody, TagError> {
    let frame_type = (b0 >> 4) & 0x07;
    let mut packet_type = b0 & 0x0f;
    let mut pos = 1usize;
    while packet_type == PT_MOD_EX {
        let [size] = head(body.get(pos..).unwrap_or_default(), "E-RTMP ModEx size")?;
        pos += 1;
        let mut size = usize::from(size) + 1;
        if size == 256 {
            let wide = head::<2>(body.get(pos..).unwrap_or_default(), "E-RTMP ModEx size")?;
            pos += 2;
            size = usize::from(u16::from_be_bytes(wide)) + 1;
        }
        pos += size;
        let [next] = head(
            body.get(pos..).unwrap_or_default(),
            "E-RTMP ModEx packet type",
        )?;
        pos += 1;
        // The high nibble is the ModEx type (e.g. TimestampOffsetNano); its data is dropped.
        packet_type = next & 0x0f;
    }
    if frame_type == FRAME_COMMAND || packet_type == PT_MULTITRACK {
        return Ok(TagBody::Ignore);
    }
    let fourcc: [u8; 4] = head(body.get(pos..).unwrap_or_default(), "E-RTMP video FourCC")?;
    pos += 4;
    let hevc = match fourcc {
        FOURCC_AVC1 => false,
        FOURCC_HVC1 => true,
        FOURCC_AV01 => return Ok(TagBody::Ignore),
        other => return Err(TagError::UnsupportedFourCc(other)),
    };
    let keyframe = frame_type == FRAME_KEY;
    match packet_type {
        PT_SEQUENCE_START => {
            let rec = tail(body, pos, "decoder configuration record")?;
            Ok(TagBody::Config(if hevc {
                CodecConfig::H265(H265Config::from_hvcc(rec)?)
            } else {
                CodecConfig::H264(H264Config::from_avcc(rec)?)
            }))
        }
        PT_CODED_FRAMES => {
            let cts = head(
                body.get(pos..).unwrap_or_default(),
                "E-RTMP composition time",
            )?;
            Ok(video_frame(
                keyframe,
                si24(cts),
                tail(body, pos + 3, "E-RTMP coded frames")?,
            ))
        }
        PT_CODED_FRAMES_X => Ok(video_frame(
            keyframe,
            0,
            tail(body, pos, "E-RTMP coded frames")?,
        )),
        // SequenceEnd, Metadata, MPEG2TSSequenceStart, reserved.
        _ => Ok(TagBody::Ignore),
    }
}

/// Parses the body of an RTMP audio message / FLV audio tag.
pub fn parse_audio(body: Bytes) -> Result<TagBody, TagError> {
    let [b0] = head(&body, "audio tag header")?;
    let format = b0 >> 4;
    if format != SOUND_FORMAT_AAC {
        return Err(TagError::UnsupportedAudioCodec(format));
    }
    let [_, packet_type] = head(&body, "AAC packet type")?;
    match packet_type {
        AAC_SEQUENCE_HEADER => {
            let asc = tail(&body, 2, "AudioSpecificConfig")?;
            Ok(TagBody::Config(CodecConfig::Aac(AacConfig::from_asc(asc)?)))
        }
        AAC_RAW => {
            let data = tail(&body, 2, "AAC frame")?;
            if data.is_empty() {
                return Ok(TagBody::Ignore);
            }
            Ok(TagBody::Media {
                kind: MediaKind::Audio,
                keyframe: true,
                cts_ms: 0,
                data,
            })
        }
        _ => Ok(TagBody::Ignore),
    }
}

/// Builds the message body for a decoder config: legacy AVC sequence header, AAC sequence
/// header, or H.265 as an Enhanced RTMP `hvc1` SequenceStart.
///
/// `None` for codecs FLV can't carry (Opus and AV1 for now).
pub fn config_body(codec: &CodecConfig) -> Option<Bytes> {
    let mut out = Vec::new();
    match codec {
        CodecConfig::H264(c) => {
            out.reserve(5 + c.avcc.len());
            out.extend_from_slice(&[
                (FRAME_KEY << 4) | VIDEO_CODEC_AVC,
                AVC_SEQUENCE_HEADER,
                0,
                0,
                0,
            ]);
            out.extend_from_slice(&c.avcc);
        }
        CodecConfig::H265(c) => {
            out.reserve(5 + c.hvcc.len());
            out.push(EX_HEADER | (FRAME_KEY << 4) | PT_SEQUENCE_START);
            out.extend_from_slice(&FOURCC_HVC1);
            out.extend_from_slice(&c.hvcc);
        }
        CodecConfig::Aac(c) => {
            out.reserve(2 + c.asc.len());
            out.extend_from_slice(&[AAC_TAG_BYTE, AAC_SEQUENCE_HEADER]);
            out.extend_from_slice(&c.asc);
        }
        CodecConfig::Opus(_) | CodecConfig::Av1(_) => return None,
    }
    Some(Bytes::from(out))
}

/// Builds the message body for a frame of a track with codec `codec`: a legacy AVC NALU packet
/// with the composition time, a raw AAC packet, or H.265 as Enhanced RTMP CodedFrames with its
/// SI24 composition time.
///
/// The composition time is `frame.cts_ms()`, clamped to the signed 24-bit range. `None` for
/// codecs FLV can't carry, or when the frame's kind does not match the codec.
pub fn frame_body(codec: &CodecConfig, frame: &Frame) -> Option<Bytes> {
    let mut out = Vec::with_capacity(frame_header_len(codec) + frame.data.len());
    write_frame_body(codec, frame, &mut out).then(|| Bytes::from(out))
}

/// Bytes [`write_frame_body`] writes before the payload.
fn frame_header_len(codec: &CodecConfig) -> usize {
    match codec {
        CodecConfig::H264(_) => 5,
        CodecConfig::H265(_) => 8,
        CodecConfig::Aac(_) => 2,
        CodecConfig::Opus(_) | CodecConfig::Av1(_) => 0,
    }
}

/// The bytes that precede a frame's payload in its FLV body (at most 8: the tag byte, or the
/// Enhanced RTMP header with its FourCC, then the packet type and composition time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyHeader {
    buf: [u8; 8],
    len: u8,
}

impl BodyHeader {
    fn new(parts: &[&[u8]]) -> Self {
        let mut h = Self {
            buf: [0; 8],
            len: 0,
        };
        for p in parts {
            let at = h.len as usize;
            h.buf[at..at + p.len()].copy_from_slice(p);
            h.len += p.len() as u8;
        }
        h
    }

    /// The header bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

/// The header of the body [`frame_body`] would build: the body is this header followed by
/// `frame.data` unchanged, so a caller can send the payload without copying it. `None` where
/// `frame_body` returns `None`.
pub fn frame_body_header(codec: &CodecConfig, frame: &Frame) -> Option<BodyHeader> {
    if frame.kind != codec.kind() {
        return None;
    }
    let frame_type = if frame.keyframe {
        FRAME_KEY
    } else {
        FRAME_INTER
    };
    match codec {
        CodecConfig::H264(_) => Some(BodyHeader::new(&[
            &[(frame_type << 4) | VIDEO_CODEC_AVC, AVC_NALU],
            &si24_bytes(frame.cts_ms()),
        ])),
        CodecConfig::H265(_) => Some(BodyHeader::new(&[
            &[EX_HEADER | (frame_type << 4) | PT_CODED_FRAMES],
            &FOURCC_HVC1,
            &si24_bytes(frame.cts_ms()),
        ])),
        CodecConfig::Aac(_) => Some(BodyHeader::new(&[&[AAC_TAG_BYTE, AAC_RAW]])),
        CodecConfig::Opus(_) | CodecConfig::Av1(_) => None,
    }
}

/// Appends to `out` the body [`frame_body`] would build (header and payload), without an
/// intermediate allocation. Returns `false`, with `out` untouched, where `frame_body` returns
/// `None`.
pub fn write_frame_body(codec: &CodecConfig, frame: &Frame, out: &mut Vec<u8>) -> bool {
    let Some(h) = frame_body_header(codec, frame) else {
        return false;
    };
    out.reserve(h.as_slice().len() + frame.data.len());
    out.extend_from_slice(h.as_slice());
    out.extend_from_slice(&frame.data);
    true
}

/// The 9-byte FLV header plus the first PreviousTagSize0 (13 bytes total).
pub fn file_header(has_audio: bool, has_video: bool) -> [u8; 13] {
    let flags = if has_audio { 0x04 } else { 0 } | if has_video { 0x01 } else { 0 };
    [
        b'F',
        b'L',
        b'V',
        1,
        flags,
        0,
        0,
        0,
        FLV_HEADER_LEN as u8,
        0,
        0,
        0,
        0,
    ]
}

/// Appends one FLV tag (11-byte header, body, 4-byte PreviousTagSize) to `out`.
///
/// `timestamp_ms` is written as 24 bits plus the extended byte (its upper 8 bits). A body
/// larger than [`MAX_TAG_SIZE`] cannot be framed; nothing is written for it.
pub fn write_tag(out: &mut Vec<u8>, tag_type: u8, timestamp_ms: u32, body: &[u8]) {
    write_tag_parts(out, tag_type, timestamp_ms, &[body]);
}

/// [`write_tag`] for a body given in parts (a [`BodyHeader`] and a frame's payload, say), so the
/// caller needs no intermediate copy of the body.
pub fn write_tag_parts(out: &mut Vec<u8>, tag_type: u8, timestamp_ms: u32, body: &[&[u8]]) {
    let len: usize = body.iter().map(|p| p.len()).sum();
    let Some(header) = tag_header(tag_type, timestamp_ms, len) else {
        return;
    };
    out.reserve(TAG_HEADER_LEN + len + PREV_TAG_SIZE_LEN);
    out.extend_from_slice(&header);
    for p in body {
        out.extend_from_slice(p);
    }
    out.extend_from_slice(&prev_tag_size(len));
}

/// The 11-byte header of a tag with a body of `body_len` bytes (`None` above [`MAX_TAG_SIZE`]).
/// The tag is this header, the body, then [`prev_tag_size`] of the same length.
pub fn tag_header(tag_type: u8, timestamp_ms: u32, body_len: usize) -> Option<[u8; 11]> {
    if body_len > MAX_TAG_SIZE {
        return None;
    }
    let size = (body_len as u32).to_be_bytes();
    let ts = timestamp_ms.to_be_bytes();
    // Stream id (the last three bytes) is always 0.
    Some([
        tag_type, size[1], size[2], size[3], ts[1], ts[2], ts[3], ts[0], 0, 0, 0,
    ])
}

/// The PreviousTagSize that follows a tag with a body of `body_len` bytes.
pub fn prev_tag_size(body_len: usize) -> [u8; 4] {
    ((TAG_HEADER_LEN + body_len) as u32).to_be_bytes()
}

/// One tag read from an FLV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlvTag {
    /// [`TAG_AUDIO`], [`TAG_VIDEO`], [`TAG_SCRIPT`] or another 5-bit type.
    pub tag_type: u8,
    /// Timestamp in milliseconds (24 bits plus the extended byte).
    pub timestamp_ms: u32,
    /// The tag body (e.g. for [`parse_video`]).
    pub body: Bytes,
}

#[derive(Debug)]
enum ReadState {
    /// Waiting for the FLV header.
    Header,
    /// Discarding the rest of the header and PreviousTagSize0.
    Skip(usize),
    /// Reading tags.
    Tags,
    /// A fatal error; returned again on every call.
    Failed(TagError),
}

/// Incremental FLV file reader (sans-IO): push bytes, pull tags.
///
/// Tag bodies are at most [`MAX_TAG_SIZE`] bytes (the size field is 24 bits), so the reader
/// buffers at most one tag plus whatever was pushed beyond it. PreviousTagSize fields are not
/// checked. After an error (bad signature, bad header size, encrypted tag) the reader stays
/// failed and drops further input.
#[derive(Debug)]
pub struct FlvReader {
    buf: BytesMut,
    state: ReadState,
}

impl Default for FlvReader {
    fn default() -> Self {
        Self::new()
    }
}

impl FlvReader {
    /// A reader expecting the FLV header first.
    pub fn new() -> Self {
        Self {
            buf: BytesMut::new(),
            state: ReadState::Header,
        }
    }

    /// Appends input.
    pub fn push(&mut self, data: &[u8]) {
        if !matches!(self.state, ReadState::Failed(_)) {
            self.buf.extend_from_slice(data);
        }
    }

    /// Bytes pushed but not consumed yet (non-zero at the end of a file means it was cut).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete tag, `Ok(None)` when more input is needed.
    pub fn next_tag(&mut self) -> Result<Option<FlvTag>, TagError> {
        loop {
            match self.state {
                ReadState::Failed(ref e) => return Err(e.clone()),
                ReadState::Header => match self.read_header() {
                    Ok(true) => {}
                    Ok(false) => return Ok(None),
                    Err(e) => return Err(self.fail(e)),
                },
                ReadState::Skip(n) => {
                    let k = n.min(self.buf.len());
                    self.buf.advance(k);
                    if k < n {
                        self.state = ReadState::Skip(n - k);
                        return Ok(None);
                    }
                    self.state = ReadState::Tags;
                }
                ReadState::Tags => return self.read_tag().map_err(|e| self.fail(e)),
            }
        }
    }

    fn fail(&mut self, e: TagError) -> TagError {
        self.state = ReadState::Failed(e.clone());
        self.buf = BytesMut::new();
        e
    }

    /// Consumes the FLV header when complete; `Ok(false)` when more input is needed.
    fn read_header(&mut self) -> Result<bool, TagError> {
        // Reject a wrong signature as soon as its first byte is there.
        let seen = self.buf.len().min(3);
        if self.buf.get(..seen) != b"FLV".get(..seen) {
            let mut sig = [0u8; 3];
            for (d, s) in sig.iter_mut().zip(self.buf.iter()) {
                *d = *s;
            }
            return Err(TagError::BadSignature(sig));
        }
        let Ok(h) = head::<FLV_HEADER_LEN>(&self.buf, "FLV header") else {
            return Ok(false);
        };
        let size = u32::from_be_bytes([h[5], h[6], h[7], h[8]]);
        if !(FLV_HEADER_LEN as u32..=MAX_FLV_HEADER_LEN).contains(&size) {
            return Err(TagError::BadHeaderSize(size));
        }
        self.buf.advance(FLV_HEADER_LEN);
        self.state = ReadState::Skip(size as usize - FLV_HEADER_LEN + PREV_TAG_SIZE_LEN);
        Ok(true)
    }

    fn read_tag(&mut self) -> Result<Option<FlvTag>, TagError> {
        let Ok(h) = head::<TAG_HEADER_LEN>(&self.buf, "FLV tag header") else {
            return Ok(None);
        };
        if h[0] & 0x20 != 0 {
            return Err(TagError::Encrypted(h[0] & 0x1f));
        }
        let size = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
        let total = TAG_HEADER_LEN + size + PREV_TAG_SIZE_LEN;
        if self.buf.len() < total {
            return Ok(None);
        }
        let tag = self.buf.split_to(total).freeze();
        Ok(Some(FlvTag {
            tag_type: h[0] & 0x1f,
            timestamp_ms: u32::from_be_bytes([h[7], h[4], h[5], h[6]]),
            body: tag.slice(TAG_HEADER_LEN..TAG_HEADER_LEN + size),
        }))
    }
}

#[cfg(test)]
mod tests;
