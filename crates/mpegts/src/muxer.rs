//! The transport stream muxer: PSI tables, PES packetization and the TS packet layer.

use bytes::Bytes;
use weir_media::codec::{h264, h265, nal};
use weir_media::{AacConfig, CodecConfig, Frame, MediaInfo, MediaKind, TrackId, rescale};

use crate::crc::crc32_mpeg2;
use crate::{TS_PACKET_SIZE, TsError};

/// PID of the program association table.
pub const PAT_PID: u16 = 0x0000;
/// PID of the program map table.
pub const PMT_PID: u16 = 0x1000;
/// PID of the (first) video elementary stream.
pub const VIDEO_PID: u16 = 0x0100;
/// PID of the (first) audio elementary stream.
pub const AUDIO_PID: u16 = 0x0101;

/// Stream type of H.264 video (ISO/IEC 13818-1 Table 2-34).
pub const STREAM_TYPE_H264: u8 = 0x1B;
/// Stream type of H.265 video.
pub const STREAM_TYPE_H265: u8 = 0x24;
/// Stream type of AAC audio with ADTS transport syntax (ISO/IEC 13818-7).
pub const STREAM_TYPE_AAC: u8 = 0x0F;
/// Stream type of PES packets with private data (used for Opus).
pub const STREAM_TYPE_PRIVATE: u8 = 0x06;

/// How far the PCR runs behind the DTS of the frame it is derived from, in 90 kHz ticks
/// (100 ms). This gives decoders a small buffering margin.
pub const PCR_OFFSET_90K: i64 = 9_000;

/// The longest gap between two PCRs, in 90 kHz ticks (ISO/IEC 13818-1 requires at most 100 ms).
const PCR_MAX_INTERVAL_90K: i64 = 9_000;

/// Timestamps and PCR bases are 33-bit counters.
const TS_MASK: i64 = 0x1_FFFF_FFFF;

/// The null PID, used as PCR_PID when the program has no PCR.
const NULL_PID: u16 = 0x1FFF;

const STREAM_ID_VIDEO: u8 = 0xE0;
const STREAM_ID_AUDIO: u8 = 0xC0;
const STREAM_ID_PRIVATE_1: u8 = 0xBD;

/// Largest raw AAC frame that an ADTS header (13-bit frame length) can describe.
const MAX_ADTS_PAYLOAD: usize = 0x1FFF - 7;

/// The elementary stream payload of one PES packet is at most this much when its length is
/// signalled (PES_packet_length counts the 3 header bytes after it as well).
const MAX_PES_PACKET_LENGTH: usize = 0xFFFF;

/// Codec-specific state of one elementary stream.
#[derive(Debug, Clone)]
enum EsCodec {
    H264 {
        sps: Vec<Bytes>,
        pps: Vec<Bytes>,
    },
    H265 {
        vps: Vec<Bytes>,
        sps: Vec<Bytes>,
        pps: Vec<Bytes>,
    },
    Aac(AacConfig),
    Opus {
        channels: u8,
    },
}

impl EsCodec {
    fn from_config(codec: &CodecConfig) -> Option<Self> {
        match codec {
            CodecConfig::H264(c) => Some(Self::H264 {
                sps: c.sps.clone(),
                pps: c.pps.clone(),
            }),
            CodecConfig::H265(c) => Some(Self::H265 {
                vps: c.vps.clone(),
                sps: c.sps.clone(),
                pps: c.pps.clone(),
            }),
            CodecConfig::Aac(c) => Some(Self::Aac(c.clone())),
            // Channel configuration codes 1..=8 (mapping family 0/1); others are not supported.
            CodecConfig::Opus(c) if (1..=8).contains(&c.channels) => Some(Self::Opus {
                channels: c.channels,
            }),
            CodecConfig::Opus(_) | CodecConfig::Av1(_) => None,
        }
    }

    fn stream_type(&self) -> u8 {
        match self {
            Self::H264 { .. } => STREAM_TYPE_H264,
            Self::H265 { .. } => STREAM_TYPE_H265,
            Self::Aac(_) => STREAM_TYPE_AAC,
            Self::Opus { .. } => STREAM_TYPE_PRIVATE,
        }
    }

    fn stream_id(&self) -> u8 {
        match self {
            Self::H264 { .. } | Self::H265 { .. } => STREAM_ID_VIDEO,
            Self::Aac(_) => STREAM_ID_AUDIO,
            Self::Opus { .. } => STREAM_ID_PRIVATE_1,
        }
    }

    fn is_video(&self) -> bool {
        matches!(self, Self::H264 { .. } | Self::H265 { .. })
    }

    /// Appends the ES_info descriptors of the PMT entry.
    fn write_descriptors(&self, out: &mut Vec<u8>) {
        if let Self::Opus { channels } = self {
            // registration_descriptor (tag 5) with format_identifier 'Opus'.
            out.extend_from_slice(&[0x05, 4, b'O', b'p', b'u', b's']);
            // extension_descriptor (tag 0x7F), extension tag 0x80: channel_config_code.
            out.extend_from_slice(&[0x7F, 2, 0x80, *channels]);
        }
    }
}

/// One muxed elementary stream.
#[derive(Debug, Clone)]
struct Stream {
    track: TrackId,
    pid: u16,
    codec: EsCodec,
    /// Continuity counter of the next packet with payload.
    cc: u8,
}

/// An MPEG-2 transport stream muxer for one program (ISO/IEC 13818-1).
///
/// The first supported video track goes to PID 0x100, the first supported audio track to PID
/// 0x101, the PMT to PID 0x1000. The PCR is carried on the video PID, or on the audio PID when
/// there is no video. Tracks with other codecs (and further tracks of a kind) are skipped;
/// frames of skipped tracks are rejected with [`TsError::UnknownTrack`].
///
/// PTS and DTS are the frames' timestamps converted to 90 kHz and wrapped to 33 bits. The PCR is
/// derived from the DTS of the frame it precedes minus [`PCR_OFFSET_90K`]. It never starts a time
/// base below zero (for non-negative DTS) and never goes backwards, except after a backward DTS
/// jump of more than one second, which is signalled with the discontinuity indicator.
#[derive(Debug, Clone)]
pub struct TsMuxer {
    video: Option<Stream>,
    audio: Option<Stream>,
    pcr_pid: u16,
    pat_cc: u8,
    pmt_cc: u8,
    /// The last PCR written, unwrapped, in 90 kHz ticks.
    last_pcr: Option<i64>,
    /// Scratch buffer holding the PES packet being built.
    pes: Vec<u8>,
}

/// Contents of the adaptation field of the first packet of a PES packet.
#[derive(Debug, Clone, Copy, Default)]
struct AdaptationHead {
    discontinuity: bool,
    random_access: bool,
    pcr: Option<i64>,
}

impl AdaptationHead {
    fn is_empty(&self) -> bool {
        !self.discontinuity && !self.random_access && self.pcr.is_none()
    }

    /// Writes the adaptation field body (flags and optional fields) into `buf`; returns its
    /// length.
    fn encode(&self, buf: &mut [u8; 7]) -> usize {
        let mut flags = 0u8;
        if self.discontinuity {
            flags |= 0x80;
        }
        if self.random_access {
            flags |= 0x40;
        }
        buf[0] = flags;
        match self.pcr {
            Some(pcr) => {
                buf[0] |= 0x10;
                let base = (pcr & TS_MASK) as u64;
                // program_clock_reference_base (33), reserved (6), extension (9) = 0.
                buf[1] = (base >> 25) as u8;
                buf[2] = (base >> 17) as u8;
                buf[3] = (base >> 9) as u8;
                buf[4] = (base >> 1) as u8;
                buf[5] = (((base & 1) as u8) << 7) | 0x7E;
                buf[6] = 0;
                7
            }
            None => 1,
        }
    }
}

impl TsMuxer {
    /// Sets up PIDs for the tracks of `info`: first supported video track -> PID 0x100, first
    /// supported audio track -> 0x101, PMT on 0x1000, PCR on the video PID (or on the audio PID
    /// when there is no video).
    ///
    /// Stream types: H.264 0x1B, H.265 0x24, AAC (ADTS) 0x0F, Opus 0x06 with a registration
    /// descriptor `Opus` and the extension descriptor 0x80 (channel configuration; Opus tracks
    /// with more than 8 channels are skipped). Tracks with other codecs are skipped.
    pub fn new(info: &MediaInfo) -> Self {
        let mut video = None;
        let mut audio = None;
        for track in &info.tracks {
            let slot = match track.kind() {
                MediaKind::Video => &mut video,
                MediaKind::Audio => &mut audio,
            };
            if slot.is_some() {
                continue;
            }
            if let Some(codec) = EsCodec::from_config(&track.codec) {
                let pid = if codec.is_video() {
                    VIDEO_PID
                } else {
                    AUDIO_PID
                };
                *slot = Some(Stream {
                    track: track.id,
                    pid,
                    codec,
                    cc: 0,
                });
            }
        }
        let pcr_pid = video
            .as_ref()
            .or(audio.as_ref())
            .map_or(NULL_PID, |s| s.pid);
        Self {
            video,
            audio,
            pcr_pid,
            pat_cc: 0,
            pmt_cc: 0,
            last_pcr: None,
            pes: Vec::new(),
        }
    }

    /// The id of the muxed video track, if any.
    pub fn video_track(&self) -> Option<TrackId> {
        self.video.as_ref().map(|s| s.track)
    }

    /// The id of the muxed audio track, if any.
    pub fn audio_track(&self) -> Option<TrackId> {
        self.audio.as_ref().map(|s| s.track)
    }

    /// True when frames of `track` are muxed (and not rejected as unknown).
    pub fn handles(&self, track: TrackId) -> bool {
        self.video_track() == Some(track) || self.audio_track() == Some(track)
    }

    /// The PID carrying the PCR, or `None` when the program has no elementary stream.
    pub fn pcr_pid(&self) -> Option<u16> {
        (self.pcr_pid != NULL_PID).then_some(self.pcr_pid)
    }

    /// Writes the PAT and the PMT (one 188-byte packet each) to `out`. Call it at the start of
    /// every segment so that each segment can be decoded on its own.
    pub fn write_tables(&mut self, out: &mut Vec<u8>) {
        let pat = self.pat_section();
        write_section(out, PAT_PID, &mut self.pat_cc, &pat);
        let pmt = self.pmt_section();
        write_section(out, PMT_PID, &mut self.pmt_cc, &pmt);
    }

    /// Muxes one frame as one PES packet into `out` (a whole number of 188-byte packets).
    ///
    /// Video access units are converted to Annex B with an access unit delimiter first; the
    /// track's parameter sets are inserted before keyframes unless the access unit carries them.
    /// PTS and DTS (DTS only when it differs) are written, the random access indicator is set on
    /// keyframes, and a PCR is written with every PES packet on the PCR PID (plus PCR-only
    /// packets when another PID's frames would otherwise leave a gap of more than 100 ms).
    /// AAC frames get an ADTS header.
    ///
    /// On error nothing is written and the muxer state is unchanged.
    pub fn write_frame(&mut self, frame: &Frame, out: &mut Vec<u8>) -> Result<(), TsError> {
        let is_video = match (&self.video, &self.audio) {
            (Some(v), _) if v.track == frame.track => true,
            (_, Some(a)) if a.track == frame.track => false,
            _ => return Err(TsError::UnknownTrack(frame.track)),
        };
        if frame.timescale == 0 {
            return Err(TsError::ZeroTimescale);
        }
        if frame.data.is_empty() {
            return Err(TsError::EmptyFrame);
        }
        let pts = rescale(frame.pts, frame.timescale, 90_000);
        let dts = rescale(frame.dts, frame.timescale, 90_000);

        // Build the whole PES packet first so that errors leave everything untouched.
        let mut pes = std::mem::take(&mut self.pes);
        pes.clear();
        let built = {
            let stream = if is_video {
                self.video.as_ref()
            } else {
                self.audio.as_ref()
            };
            match stream {
                Some(s) => build_pes(&mut pes, &s.codec, frame, pts, dts),
                None => Err(TsError::UnknownTrack(frame.track)),
            }
        };
        if let Err(e) = built {
            self.pes = pes;
            return Err(e);
        }

        let pid = if is_video { VIDEO_PID } else { AUDIO_PID };
        let on_pcr_pid = pid == self.pcr_pid;
        let random_access = frame.keyframe && (is_video || on_pcr_pid);
        let mut head = AdaptationHead {
            random_access,
            ..Default::default()
        };
        if on_pcr_pid {
            let (pcr, discontinuity) = self.next_pcr(dts);
            head.pcr = Some(pcr);
            head.discontinuity = discontinuity;
        } else if self.pcr_pid != NULL_PID {
            let due = match self.last_pcr {
                None => true,
                Some(last) => {
                    dts.wrapping_sub(PCR_OFFSET_90K).wrapping_sub(last) >= PCR_MAX_INTERVAL_90K
                }
            };
            if due {
                let (pcr, discontinuity) = self.next_pcr(dts);
                let cc = self.pcr_stream_cc();
                write_pcr_only(out, self.pcr_pid, cc, pcr, discontinuity);
            }
        }

        let stream = if is_video {
            self.video.as_mut()
        } else {
            self.audio.as_mut()
        };
        if let Some(s) = stream {
            packetize(out, s.pid, &mut s.cc, &pes, head);
        }
        self.pes = pes;
        Ok(())
    }

    /// The PCR for a frame with DTS `dts` (90 kHz, unwrapped), recorded as the last PCR, and
    /// whether it is a time base discontinuity.
    fn next_pcr(&mut self, dts: i64) -> (i64, bool) {
        let mut candidate = dts.saturating_sub(PCR_OFFSET_90K);
        if candidate < 0 && dts >= 0 {
            // Do not start a time base below zero (a wrap right at its start).
            candidate = 0;
        }
        let (pcr, discontinuity) = match self.last_pcr {
            None => (candidate, false),
            Some(last) if candidate < last.saturating_sub(90_000) => (candidate, true),
            Some(last) => (candidate.max(last), false),
        };
        self.last_pcr = Some(pcr);
        (pcr, discontinuity)
    }

    /// The continuity counter for a payload-less packet on the PCR PID: the one of the last
    /// packet with payload (not incremented, ISO/IEC 13818-1 2.4.3.3).
    fn pcr_stream_cc(&self) -> u8 {
        let next = [&self.video, &self.audio]
            .into_iter()
            .flatten()
            .find(|s| s.pid == self.pcr_pid)
            .map_or(0, |s| s.cc);
        next.wrapping_sub(1) & 0x0F
    }

    fn pat_section(&self) -> Vec<u8> {
        let mut s = vec![
            0x00, // table_id: program_association_section
            0,
            0, // section_syntax_indicator, section_length (patched)
            0x00,
            0x01, // transport_stream_id
            0xC1, // reserved, version_number 0, current_next_indicator 1
            0x00, // section_number
            0x00, // last_section_number
            0x00,
            0x01, // program_number 1
            0xE0 | (PMT_PID >> 8) as u8,
            PMT_PID as u8,
        ];
        finish_section(&mut s);
        s
    }

    fn pmt_section(&self) -> Vec<u8> {
        let mut s = vec![
            0x02, // table_id: TS_program_map_section
            0,
            0, // section_syntax_indicator, section_length (patched)
            0x00,
            0x01, // program_number
            0xC1, // reserved, version_number 0, current_next_indicator 1
            0x00,
            0x00,
            0xE0 | (self.pcr_pid >> 8) as u8,
            self.pcr_pid as u8,
            0xF0, // reserved, program_info_length = 0
            0x00,
        ];
        for stream in [&self.video, &self.audio].into_iter().flatten() {
            s.push(stream.codec.stream_type());
            s.push(0xE0 | (stream.pid >> 8) as u8);
            s.push(stream.pid as u8);
            let len_at = s.len();
            s.extend_from_slice(&[0xF0, 0x00]);
            stream.codec.write_descriptors(&mut s);
            let es_info_len = s.len() - len_at - 2;
            if let Some(b) = s.get_mut(len_at..len_at + 2) {
                b[0] = 0xF0 | ((es_info_len >> 8) & 0x0F) as u8;
                b[1] = es_info_len as u8;
            }
        }
        finish_section(&mut s);
        s
    }
}

/// Patches section_length (the 3-byte section header is in place) and appends the CRC.
fn finish_section(s: &mut Vec<u8>) {
    let section_length = s.len() - 3 + 4;
    if let Some(h) = s.get_mut(1..3) {
        h[0] = 0xB0 | ((section_length >> 8) & 0x0F) as u8;
        h[1] = section_length as u8;
    }
    let crc = crc32_mpeg2(s);
    s.extend_from_slice(&crc.to_be_bytes());
}

/// Writes a PSI section (at most 183 bytes) as one packet with pointer_field 0 and 0xFF fill.
fn write_section(out: &mut Vec<u8>, pid: u16, cc: &mut u8, section: &[u8]) {
    let start = out.len();
    out.extend_from_slice(&[
        0x47,
        0x40 | ((pid >> 8) & 0x1F) as u8,
        pid as u8,
        0x10 | *cc,
        0x00,
    ]);
    let room = TS_PACKET_SIZE - 5;
    out.extend_from_slice(section.get(..room).unwrap_or(section));
    out.resize(start + TS_PACKET_SIZE, 0xFF);
    *cc = (*cc + 1) & 0x0F;
}

/// Writes an adaptation-field-only packet carrying a PCR.
fn write_pcr_only(out: &mut Vec<u8>, pid: u16, cc: u8, pcr: i64, discontinuity: bool) {
    let start = out.len();
    out.extend_from_slice(&[
        0x47,
        ((pid >> 8) & 0x1F) as u8,
        pid as u8,
        0x20 | (cc & 0x0F),
        183,
    ]);
    let head = AdaptationHead {
        discontinuity,
        random_access: false,
        pcr: Some(pcr),
    };
    let mut body = [0u8; 7];
    let n = head.encode(&mut body);
    out.extend_from_slice(body.get(..n).unwrap_or(&body));
    out.resize(start + TS_PACKET_SIZE, 0xFF);
}

/// Splits a PES packet into transport packets, the first with `head` in its adaptation field,
/// the last padded with adaptation field stuffing.
fn packetize(out: &mut Vec<u8>, pid: u16, cc: &mut u8, data: &[u8], head: AdaptationHead) {
    let mut rest = data;
    let mut first = true;
    while first || !rest.is_empty() {
        let mut body = [0u8; 7];
        let body_len = if first && !head.is_empty() {
            head.encode(&mut body)
        } else {
            0
        };
        let af_len = if body_len > 0 { 1 + body_len } else { 0 };
        let space = TS_PACKET_SIZE - 4 - af_len;
        let chunk = rest.len().min(space);
        let stuffing = space - chunk;
        let has_af = af_len > 0 || stuffing > 0;
        let pusi = if first { 0x40 } else { 0x00 };
        let afc = if has_af { 0x30 } else { 0x10 };
        out.extend_from_slice(&[
            0x47,
            pusi | ((pid >> 8) & 0x1F) as u8,
            pid as u8,
            afc | (*cc & 0x0F),
        ]);
        if body_len > 0 {
            out.push((body_len + stuffing) as u8);
            out.extend_from_slice(body.get(..body_len).unwrap_or(&body));
            out.resize(out.len() + stuffing, 0xFF);
        } else if stuffing == 1 {
            out.push(0);
        } else if stuffing > 1 {
            out.push((stuffing - 1) as u8);
            out.push(0x00);
            out.resize(out.len() + stuffing - 2, 0xFF);
        }
        let (now, later) = rest.split_at(chunk);
        out.extend_from_slice(now);
        rest = later;
        *cc = (*cc + 1) & 0x0F;
        first = false;
    }
}

/// Builds the PES packet of `frame` into `pes`.
fn build_pes(
    pes: &mut Vec<u8>,
    codec: &EsCodec,
    frame: &Frame,
    pts: i64,
    dts: i64,
) -> Result<(), TsError> {
    let with_dts = codec.is_video() && (pts & TS_MASK) != (dts & TS_MASK);
    let header_data_len = if with_dts { 10 } else { 5 };
    pes.extend_from_slice(&[0x00, 0x00, 0x01, codec.stream_id(), 0, 0]);
    // '10', not scrambled, no priority, data_alignment_indicator 1, no copyright, original.
    pes.push(0x84);
    pes.push(if with_dts { 0xC0 } else { 0x80 });
    pes.push(header_data_len);
    if with_dts {
        put_timestamp(pes, 0b0011, pts);
        put_timestamp(pes, 0b0001, dts);
    } else {
        put_timestamp(pes, 0b0010, pts);
    }
    let data: &[u8] = &frame.data;
    match codec {
        EsCodec::H264 { sps, pps } => write_h264(pes, data, frame.keyframe, sps, pps)?,
        EsCodec::H265 { vps, sps, pps } => write_h265(pes, data, frame.keyframe, vps, sps, pps)?,
        EsCodec::Aac(cfg) => {
            if data.len() > MAX_ADTS_PAYLOAD {
                return Err(TsError::FrameTooLarge {
                    size: data.len(),
                    max: MAX_ADTS_PAYLOAD,
                });
            }
            pes.extend_from_slice(&cfg.adts_header(data.len()));
            pes.extend_from_slice(data);
        }
        EsCodec::Opus { .. } => {
            // opus_control_header: 11-bit prefix 0x3FF, no trim flags, no extension, then
            // au_size as a run of 0xFF bytes and a final byte.
            pes.extend_from_slice(&[0x7F, 0xE0]);
            let mut size = data.len();
            while size >= 255 {
                pes.push(0xFF);
                size -= 255;
            }
            pes.push(size as u8);
            pes.extend_from_slice(data);
        }
    }
    let packet_length = pes.len() - 6;
    let length_field = if packet_length <= MAX_PES_PACKET_LENGTH {
        packet_length as u16
    } else if codec.is_video() {
        0 // unbounded, allowed for video elementary streams in transport streams
    } else {
        let overhead = pes.len() - data.len() - 6;
        return Err(TsError::FrameTooLarge {
            size: data.len(),
            max: MAX_PES_PACKET_LENGTH.saturating_sub(overhead),
        });
    };
    if let Some(l) = pes.get_mut(4..6) {
        l.copy_from_slice(&length_field.to_be_bytes());
    }
    Ok(())
}

/// Writes a 33-bit PTS or DTS field with its 4-bit prefix and marker bits.
fn put_timestamp(out: &mut Vec<u8>, prefix: u8, ts: i64) {
    let ts = (ts & TS_MASK) as u64;
    out.push((prefix << 4) | (((ts >> 30) as u8 & 0x07) << 1) | 1);
    out.push((ts >> 22) as u8);
    out.push((((ts >> 15) as u8 & 0x7F) << 1) | 1);
    out.push((ts >> 7) as u8);
    out.push(((ts as u8 & 0x7F) << 1) | 1);
}

const START_CODE: [u8; 4] = [0, 0, 0, 1];

fn put_nal(out: &mut Vec<u8>, nal: &[u8]) {
    out.extend_from_slice(&START_CODE);
    out.extend_from_slice(nal);
}

/// Converts an H.264 access unit to Annex B: AUD, parameter sets before keyframes unless
/// present, then the access unit's NAL units (in-band AUDs and empty units dropped).
fn write_h264(
    out: &mut Vec<u8>,
    au: &[u8],
    keyframe: bool,
    sps: &[Bytes],
    pps: &[Bytes],
) -> Result<(), TsError> {
    let (mut has_sps, mut has_pps, mut count) = (false, false, 0usize);
    for unit in nal::iter_length_prefixed(au, 4) {
        let unit = unit?;
        match h264::nal_type(unit) {
            _ if unit.is_empty() => {}
            h264::NAL_AUD => {}
            h264::NAL_SPS => {
                has_sps = true;
                count += 1;
            }
            h264::NAL_PPS => {
                has_pps = true;
                count += 1;
            }
            _ => count += 1,
        }
    }
    if count == 0 {
        return Err(TsError::EmptyFrame);
    }
    // primary_pic_type 7 (any slice type), rbsp_stop_one_bit.
    put_nal(out, &[h264::NAL_AUD, 0xF0]);
    if keyframe && !(has_sps && has_pps) {
        sps.iter()
            .chain(pps)
            .filter(|s| !s.is_empty())
            .for_each(|s| put_nal(out, s));
    }
    for unit in nal::iter_length_prefixed(au, 4).flatten() {
        if !unit.is_empty() && h264::nal_type(unit) != h264::NAL_AUD {
            put_nal(out, unit);
        }
    }
    Ok(())
}

/// Converts an H.265 access unit to Annex B, like [`write_h264`] with VPS/SPS/PPS.
fn write_h265(
    out: &mut Vec<u8>,
    au: &[u8],
    keyframe: bool,
    vps: &[Bytes],
    sps: &[Bytes],
    pps: &[Bytes],
) -> Result<(), TsError> {
    let (mut has_vps, mut has_sps, mut has_pps, mut count) = (false, false, false, 0usize);
    for unit in nal::iter_length_prefixed(au, 4) {
        let unit = unit?;
        match h265::nal_type(unit) {
            _ if unit.is_empty() => {}
            h265::NAL_AUD => {}
            t => {
                has_vps |= t == h265::NAL_VPS;
                has_sps |= t == h265::NAL_SPS;
                has_pps |= t == h265::NAL_PPS;
                count += 1;
            }
        }
    }
    if count == 0 {
        return Err(TsError::EmptyFrame);
    }
    // NAL header: type 35, layer 0, temporal id plus 1 = 1; pic_type 2 (I, P, B), stop bit.
    put_nal(out, &[h265::NAL_AUD << 1, 0x01, 0x50]);
    if keyframe && !(has_vps && has_sps && has_pps) {
        vps.iter()
            .chain(sps)
            .chain(pps)
            .filter(|s| !s.is_empty())
            .for_each(|s| put_nal(out, s));
    }
    for unit in nal::iter_length_prefixed(au, 4).flatten() {
        if !unit.is_empty() && h265::nal_type(unit) != h265::NAL_AUD {
            put_nal(out, unit);
        }
    }
    Ok(())
}
