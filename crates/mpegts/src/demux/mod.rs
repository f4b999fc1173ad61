//! The transport stream demuxer: packet synchronisation, PSI, PES reassembly and elementary
//! streams, turned into [`Frame`]s and [`MediaInfo`].

mod es;
mod pes;
mod psi;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use bytes::Bytes;
use weir_media::{CodecConfig, Frame, MediaInfo, MediaKind, Track, TrackId};

use crate::TS_PACKET_SIZE;
use es::{AacEs, EsFrame, EsIssues, OpusEs, TIMESCALE, VideoEs};
use psi::{Pmt, PmtStream, SectionReader};

/// Track id of the video track (as in `weir_rtmp::ingest`).
pub const VIDEO_TRACK: TrackId = 0;
/// Track id of the audio track.
pub const AUDIO_TRACK: TrackId = 1;

/// How long [`TsDemuxer`] waits, in 90 kHz ticks of frame timestamps, for the configuration of
/// every stream of the program before it announces the tracks it knows (1 s).
pub const TRACK_WAIT_90K: i64 = 90_000;

/// The largest PES packet reassembled (16 MiB); a larger one is dropped and counted.
pub const MAX_PES_SIZE: usize = 16 << 20;

/// At most this many frames wait for the first announcement of the tracks.
const MAX_QUEUED_FRAMES: usize = 1024;
/// At most this many payload bytes wait for the first announcement of the tracks.
const MAX_QUEUED_BYTES: usize = 16 << 20;

const SYNC: u8 = 0x47;
const PAT_PID: u16 = 0x0000;
const NULL_PID: u16 = 0x1FFF;
/// 33-bit timestamps (PTS, DTS, PCR base).
const WRAP: i64 = 1 << 33;

/// What the demuxer produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemuxEvent {
    /// The program's tracks: sent before the first frame, then whenever a track is added,
    /// removed or changes configuration. Frames that follow belong to these tracks.
    Tracks(MediaInfo),
    /// One access unit (video) or one audio frame.
    Frame(Frame),
}

/// Counters of what the demuxer saw, skipped and dropped. All counters only grow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemuxStats {
    /// Transport packets read (all PIDs, including ones that are ignored).
    pub packets: u64,
    /// Bytes skipped while looking for packet sync: garbage before the first packet and between
    /// packets, and packets cut short.
    pub bytes_skipped: u64,
    /// Times the packet sync was lost after it had been found.
    pub sync_losses: u64,
    /// Packets dropped because their transport_error_indicator was set or their adaptation
    /// field was malformed.
    pub transport_errors: u64,
    /// Packets of a demuxed PID that were scrambled (their payload cannot be read).
    pub scrambled_packets: u64,
    /// Continuity counter gaps on the PIDs that are demuxed (PAT, PMT, the audio and video
    /// streams); one repeated packet is a legal duplicate and is ignored, and the
    /// discontinuity_indicator is honoured.
    pub continuity_errors: u64,
    /// PAT and PMT sections dropped: CRC mismatch, malformed framing or contents.
    pub psi_errors: u64,
    /// PES packets dropped (a continuity error or lost packet inside, truncated, larger than
    /// [`MAX_PES_SIZE`], malformed header) or holding unparseable elementary stream bytes.
    pub pes_errors: u64,
    /// Frames emitted.
    pub frames: u64,
    /// Frames not emitted: video before its parameter sets or before the first keyframe (also
    /// after a loss), one per dropped PES packet, audio frames without a usable timestamp or
    /// header.
    pub frames_dropped: u64,
    /// Elementary streams of the program that are not demuxed: codecs other than H.264, H.265,
    /// AAC (ADTS) and Opus, and further video or audio streams beyond the first of each.
    /// Counted each time a PMT is applied.
    pub unsupported_streams: u64,
    /// PMTs applied after the first one because their content changed.
    pub pmt_changes: u64,
    /// The last program clock reference, in 27 MHz ticks, unwrapped (like PTS and DTS) into a
    /// monotonically extending value: `base * 300 + extension`.
    pub last_pcr: Option<i64>,
}

/// A sans-IO MPEG-2 transport stream demuxer (ISO/IEC 13818-1) for the first program of the
/// stream.
///
/// Feed it bytes with [`push`](Self::push) (any split, not necessarily packet-aligned) and take
/// [`DemuxEvent`]s with [`poll_event`](Self::poll_event); call [`flush`](Self::flush) at the end
/// of the input.
///
/// The first H.264 (stream type 0x1B) or H.265 (0x24) stream of the PMT becomes video track
/// [`VIDEO_TRACK`], the first AAC-in-ADTS (0x0F) or Opus (0x06 with the `Opus` registration
/// descriptor) stream becomes audio track [`AUDIO_TRACK`]; all timestamps are in 90 kHz. Frames
/// follow `docs/adr/0002-frame-format.md`: video access units as 4-byte length-prefixed NAL
/// units (access unit delimiters and filler data removed, in-band parameter sets kept), AAC as
/// raw frames (one per ADTS frame), Opus as raw packets (one per `opus_control_header`).
///
/// Frames of one track come in decode order. Across tracks they come in the order their PES
/// packets end: a video PES without a length (the usual case) ends only when the next one
/// starts, so video is one frame behind audio.
///
/// Nothing in the input makes it panic or buffer without bound (except the events, until they
/// are polled): damaged parts are skipped and counted in [`DemuxStats`].
#[derive(Debug)]
pub struct TsDemuxer {
    /// Input not yet processed: less than two packets.
    buf: Vec<u8>,
    synced: bool,
    pat: Psi,
    program: Option<Program>,
    /// The last PMT section applied.
    pmt: Option<Vec<u8>>,
    pcr_pid: Option<u16>,
    video: Option<Slot>,
    audio: Option<Slot>,
    clock: Unwrapper,
    pcr_clock: Unwrapper,
    announced: Option<MediaInfo>,
    /// A slot's configuration or the slots changed since the last announcement.
    tracks_dirty: bool,
    /// Frames waiting for the first announcement.
    queue: VecDeque<Frame>,
    queue_bytes: usize,
    queue_dts: Option<(i64, i64)>,
    events: VecDeque<DemuxEvent>,
    stats: DemuxStats,
}

impl Default for TsDemuxer {
    fn default() -> Self {
        Self::new()
    }
}

/// Section reassembly and continuity of one PSI PID.
#[derive(Debug)]
struct Psi {
    pid: u16,
    reader: SectionReader,
    cc: Continuity,
}

impl Psi {
    fn new(pid: u16) -> Self {
        Self {
            pid,
            reader: SectionReader::default(),
            cc: Continuity::default(),
        }
    }
}

/// The program being demuxed.
#[derive(Debug)]
struct Program {
    number: u16,
    pmt: Psi,
}

/// A codec the demuxer understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EsCodec {
    H264,
    H265,
    Aac,
    Opus { channels: u8 },
}

impl EsCodec {
    fn kind(self) -> MediaKind {
        match self {
            Self::H264 | Self::H265 => MediaKind::Video,
            Self::Aac | Self::Opus { .. } => MediaKind::Audio,
        }
    }
}

#[derive(Debug)]
enum EsState {
    Video(VideoEs),
    Aac(AacEs),
    Opus(OpusEs),
}

/// A PES packet being reassembled.
#[derive(Debug)]
struct PesBuf {
    data: Vec<u8>,
    /// Packets of it were lost.
    broken: bool,
}

/// One demuxed elementary stream.
#[derive(Debug)]
struct Slot {
    pid: u16,
    codec: EsCodec,
    track: TrackId,
    cc: Continuity,
    pes: Option<PesBuf>,
    es: EsState,
    /// The current decoder configuration, once known.
    config: Option<CodecConfig>,
    /// Video: drop frames until a keyframe (at the start and after a loss).
    need_keyframe: bool,
    /// Video: the last DTS and the last DTS step, for a PES without timestamps.
    last_dts: Option<i64>,
    dts_step: i64,
}

impl Slot {
    fn new(pid: u16, codec: EsCodec) -> Self {
        let kind = codec.kind();
        let es = match codec {
            EsCodec::H264 => EsState::Video(VideoEs::new(false)),
            EsCodec::H265 => EsState::Video(VideoEs::new(true)),
            EsCodec::Aac => EsState::Aac(AacEs::default()),
            EsCodec::Opus { channels } => EsState::Opus(OpusEs::new(channels)),
        };
        Self {
            pid,
            codec,
            track: match kind {
                MediaKind::Video => VIDEO_TRACK,
                MediaKind::Audio => AUDIO_TRACK,
            },
            cc: Continuity::default(),
            pes: None,
            es,
            config: None,
            need_keyframe: kind == MediaKind::Video,
            last_dts: None,
            dts_step: 0,
        }
    }

    /// Data of this stream was lost: the PES being collected is broken, data carried between
    /// PES packets is forgotten, and video waits for the next keyframe.
    fn lost(&mut self) {
        if let Some(p) = &mut self.pes {
            p.broken = true;
        }
        self.reset_es();
    }

    fn reset_es(&mut self) {
        match &mut self.es {
            EsState::Video(v) => {
                v.reset();
                self.need_keyframe = true;
            }
            EsState::Aac(a) => a.reset(),
            EsState::Opus(_) => {}
        }
    }
}

/// Outcome of a continuity check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cc {
    Ok,
    Duplicate,
    Error,
}

/// Continuity counter state of one PID (ISO/IEC 13818-1 2.4.3.3).
#[derive(Debug, Default)]
struct Continuity {
    last: Option<u8>,
    duplicate_seen: bool,
}

impl Continuity {
    /// Checks the counter of a packet with payload.
    fn check(&mut self, cc: u8, discontinuity: bool) -> Cc {
        let result = match self.last {
            _ if discontinuity => Cc::Ok,
            None => Cc::Ok,
            Some(last) if cc == (last + 1) & 0x0F => Cc::Ok,
            Some(last) if cc == last && !self.duplicate_seen => {
                self.duplicate_seen = true;
                return Cc::Duplicate;
            }
            Some(_) => Cc::Error,
        };
        self.last = Some(cc);
        self.duplicate_seen = false;
        result
    }
}

/// Extends 33-bit timestamps into a monotonically extending `i64`: each value is placed within
/// ±2^32 ticks of the previous one.
#[derive(Debug, Default)]
struct Unwrapper {
    last: Option<i64>,
}

impl Unwrapper {
    fn unwrap(&mut self, ts: u64) -> i64 {
        let ts = (ts as i64) & (WRAP - 1);
        let value = match self.last {
            None => ts,
            Some(last) => {
                let mut delta = ts.wrapping_sub(last) & (WRAP - 1);
                if delta >= WRAP / 2 {
                    delta -= WRAP;
                }
                last.saturating_add(delta)
            }
        };
        self.last = Some(value);
        value
    }
}

/// Parsed fields of a transport packet header and adaptation field.
struct PacketHeader {
    pusi: bool,
    pid: u16,
    scrambled: bool,
    cc: u8,
    discontinuity: bool,
    pcr: Option<(u64, u16)>,
    /// Offset of the payload; `None` when the packet has none.
    payload: Option<usize>,
}

/// Parses a packet header; `None` for a packet to drop (transport error, malformed adaptation
/// field, reserved adaptation_field_control).
fn packet_header(p: &[u8]) -> Option<PacketHeader> {
    let h = p.get(..4)?;
    if h[1] & 0x80 != 0 {
        return None;
    }
    let afc = (h[3] >> 4) & 3;
    if afc == 0 {
        return None;
    }
    let mut header = PacketHeader {
        pusi: h[1] & 0x40 != 0,
        pid: u16::from_be_bytes([h[1] & 0x1F, h[2]]),
        scrambled: h[3] >> 6 != 0,
        cc: h[3] & 0x0F,
        discontinuity: false,
        pcr: None,
        payload: (afc & 1 != 0).then_some(4),
    };
    if afc & 2 != 0 {
        let len = usize::from(*p.get(4)?);
        let af = p.get(5..5 + len)?;
        if let Some(&flags) = af.first() {
            header.discontinuity = flags & 0x80 != 0;
            if flags & 0x10 != 0 {
                let b = af.get(1..7)?;
                let base = u64::from(b[0]) << 25
                    | u64::from(b[1]) << 17
                    | u64::from(b[2]) << 9
                    | u64::from(b[3]) << 1
                    | u64::from(b[4]) >> 7;
                let ext = u16::from(b[4] & 1) << 8 | u16::from(b[5]);
                header.pcr = Some((base, ext));
            }
        }
        header.payload = header.payload.map(|_| 5 + len);
    }
    Some(header)
}

/// What a PMT entry is, if the demuxer handles it.
fn classify(stream: &PmtStream, program_descriptors: &[u8]) -> Option<EsCodec> {
    match stream.stream_type {
        0x1B => Some(EsCodec::H264),
        0x24 => Some(EsCodec::H265),
        0x0F => Some(EsCodec::Aac),
        0x06 => {
            let registered = psi::descriptors(&stream.descriptors)
                .chain(psi::descriptors(program_descriptors))
                .any(|(tag, body)| tag == 0x05 && body.starts_with(b"Opus"));
            if !registered {
                return None;
            }
            // extension_descriptor (0x7F) with extension tag 0x80: channel_config_code. 0 is
            // dual mono (2 channels), 1..=8 the channel count; other codes (mapping family
            // 255) are not supported. Without the descriptor: stereo.
            let code = psi::descriptors(&stream.descriptors)
                .find(|&(tag, body)| tag == 0x7F && body.first() == Some(&0x80))
                .and_then(|(_, body)| body.get(1).copied());
            let channels = match code {
                None | Some(0) => 2,
                Some(c @ 1..=8) => c,
                Some(_) => return None,
            };
            Some(EsCodec::Opus { channels })
        }
        _ => None,
    }
}

impl TsDemuxer {
    /// A demuxer waiting for the first packets.
    pub fn new() -> Self {
        Self {
            buf: Vec::new(),
            synced: false,
            pat: Psi::new(PAT_PID),
            program: None,
            pmt: None,
            pcr_pid: None,
            video: None,
            audio: None,
            clock: Unwrapper::default(),
            pcr_clock: Unwrapper::default(),
            announced: None,
            tracks_dirty: false,
            queue: VecDeque::new(),
            queue_bytes: 0,
            queue_dts: None,
            events: VecDeque::new(),
            stats: DemuxStats::default(),
        }
    }

    /// Feeds bytes of the transport stream, split anywhere.
    ///
    /// Packets are found by their sync byte: at the start, and after the sync is lost, a 0x47
    /// byte followed by another one 188 bytes later. A packet is processed once the byte after
    /// it is known (so that a packet cut short is recognised and dropped); the last one waits
    /// for more input or for [`flush`](Self::flush). Skipped bytes are counted in
    /// [`DemuxStats::bytes_skipped`]. How the input is split never changes the output.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
        self.process(false);
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<DemuxEvent> {
        self.events.pop_front()
    }

    /// The end of the input: processes the last packet, completes the pending PES packets (a
    /// video PES without a length otherwise ends only at the next one), and announces the
    /// known tracks if that was still waiting. The demuxer can be fed again afterwards.
    pub fn flush(&mut self) {
        self.process(true);
        for kind in [MediaKind::Video, MediaKind::Audio] {
            let Some(slot) = self.slot_mut(kind) else {
                continue;
            };
            if let Some(pes) = slot.pes.take() {
                self.finish_pes(kind, pes);
            }
        }
        if self.announced.is_none() && !self.queue.is_empty() {
            self.announce_first();
        }
    }

    /// The counters.
    pub fn stats(&self) -> &DemuxStats {
        &self.stats
    }

    /// The tracks last announced with [`DemuxEvent::Tracks`], if any.
    pub fn tracks(&self) -> Option<&MediaInfo> {
        self.announced.as_ref()
    }

    // -----------------------------------------------------------------------------------------
    // Packet synchronisation

    fn process(&mut self, at_end: bool) {
        let buf = std::mem::take(&mut self.buf);
        let mut pos = 0;
        // Whether a packet starts at `q` of `rest` and the next one right after it (or the
        // input ends exactly there).
        let chain = |rest: &[u8], q: usize| {
            rest.get(q) == Some(&SYNC)
                && match rest.get(q + TS_PACKET_SIZE) {
                    Some(&b) => b == SYNC,
                    None => at_end && rest.len() == q + TS_PACKET_SIZE,
                }
        };
        loop {
            let rest = buf.get(pos..).unwrap_or_default();
            if self.synced {
                if rest.len() < TS_PACKET_SIZE || (rest.len() == TS_PACKET_SIZE && !at_end) {
                    break;
                }
                if rest[0] != SYNC {
                    self.synced = false;
                    self.stats.sync_losses += 1;
                    continue;
                }
                if rest.get(TS_PACKET_SIZE).is_none_or(|&b| b == SYNC) {
                    self.packet(&rest[..TS_PACKET_SIZE]);
                    pos += TS_PACKET_SIZE;
                    continue;
                }
                // The next packet is not where it should be. If packets resume inside this one,
                // it was cut short: drop it. Otherwise garbage follows it.
                if rest.len() < 2 * TS_PACKET_SIZE && !at_end {
                    break;
                }
                self.stats.sync_losses += 1;
                match (1..TS_PACKET_SIZE).find(|&q| chain(rest, q)) {
                    Some(q) => {
                        self.stats.bytes_skipped += q as u64;
                        pos += q;
                    }
                    None => {
                        self.packet(&rest[..TS_PACKET_SIZE]);
                        pos += TS_PACKET_SIZE;
                        self.synced = false;
                    }
                }
            } else {
                let Some(i) = rest.iter().position(|&b| b == SYNC) else {
                    self.stats.bytes_skipped += rest.len() as u64;
                    pos = buf.len();
                    break;
                };
                self.stats.bytes_skipped += i as u64;
                pos += i;
                let rest = &rest[i..];
                if rest.len() <= TS_PACKET_SIZE && !at_end {
                    break;
                }
                if chain(rest, 0) {
                    self.synced = true;
                } else {
                    self.stats.bytes_skipped += 1;
                    pos += 1;
                }
            }
        }
        if at_end {
            // Less than a packet is left.
            self.stats.bytes_skipped += buf.len().saturating_sub(pos) as u64;
            pos = buf.len();
        }
        let mut buf = buf;
        buf.drain(..pos.min(buf.len()));
        self.buf = buf;
    }

    // -----------------------------------------------------------------------------------------
    // Packets

    fn packet(&mut self, p: &[u8]) {
        self.stats.packets += 1;
        let Some(h) = packet_header(p) else {
            self.stats.transport_errors += 1;
            return;
        };
        if h.pid == NULL_PID {
            return;
        }
        if let Some((base, ext)) = h.pcr
            && Some(h.pid) == self.pcr_pid
        {
            let base = self.pcr_clock.unwrap(base);
            self.stats.last_pcr = Some(base.saturating_mul(300).saturating_add(i64::from(ext)));
        }
        let Some(payload) = h.payload.and_then(|at| p.get(at..)) else {
            return;
        };
        if h.pid == PAT_PID {
            self.psi_packet(true, &h, payload);
        } else if self.program.as_ref().is_some_and(|p| p.pmt.pid == h.pid) {
            self.psi_packet(false, &h, payload);
        } else if self.video.as_ref().is_some_and(|s| s.pid == h.pid) {
            self.es_packet(MediaKind::Video, &h, payload);
        } else if self.audio.as_ref().is_some_and(|s| s.pid == h.pid) {
            self.es_packet(MediaKind::Audio, &h, payload);
        }
    }

    fn psi_packet(&mut self, pat: bool, h: &PacketHeader, payload: &[u8]) {
        let psi = if pat {
            &mut self.pat
        } else {
            match &mut self.program {
                Some(p) => &mut p.pmt,
                None => return,
            }
        };
        match psi.cc.check(h.cc, h.discontinuity) {
            Cc::Duplicate => return,
            Cc::Error => {
                self.stats.continuity_errors += 1;
                psi.reader.reset();
            }
            Cc::Ok => {}
        }
        if h.scrambled {
            self.stats.scrambled_packets += 1;
            psi.reader.reset();
            return;
        }
        let (mut sections, mut errors) = (Vec::new(), Vec::new());
        psi.reader.feed(payload, h.pusi, &mut sections, &mut errors);
        self.stats.psi_errors += errors.len() as u64;
        for s in sections {
            if pat {
                self.on_pat(&s);
            } else {
                self.on_pmt(&s);
            }
        }
    }

    fn on_pat(&mut self, raw: &[u8]) {
        let Ok(s) = psi::parse_section(raw) else {
            self.stats.psi_errors += 1;
            return;
        };
        if s.table_id != 0x00 || !s.current {
            return;
        }
        let mut programs =
            psi::pat_programs(s.body).filter(|&(_, pid)| pid != PAT_PID && pid != NULL_PID);
        let chosen = match &self.program {
            Some(current) => match psi::pat_programs(s.body).find(|&(n, _)| n == current.number) {
                Some(entry) => Some(entry),
                // A single-section PAT without our program: take its first one.
                None if s.number == 0 && s.last_number == 0 => programs.next(),
                None => None,
            },
            None => programs.next(),
        };
        let Some((number, pmt_pid)) = chosen else {
            return;
        };
        if pmt_pid == PAT_PID || pmt_pid == NULL_PID {
            return;
        }
        if self
            .program
            .as_ref()
            .is_some_and(|p| p.number == number && p.pmt.pid == pmt_pid)
        {
            return;
        }
        // A new program or PMT PID: the streams stay mapped until its PMT arrives (and a PMT
        // identical to the last one applied changes nothing).
        self.program = Some(Program {
            number,
            pmt: Psi::new(pmt_pid),
        });
    }

    fn on_pmt(&mut self, raw: &[u8]) {
        let Ok(s) = psi::parse_section(raw) else {
            self.stats.psi_errors += 1;
            return;
        };
        // Other tables may share the PID; only the current PMT of our program matters.
        if s.table_id != 0x02 || !s.current {
            return;
        }
        if self.program.as_ref().map(|p| p.number) != Some(s.id) {
            return;
        }
        if self.pmt.as_deref() == Some(raw) {
            return;
        }
        let Some(pmt) = psi::parse_pmt(s.body) else {
            self.stats.psi_errors += 1;
            return;
        };
        if self.pmt.is_some() {
            self.stats.pmt_changes += 1;
        }
        self.pmt = Some(raw.to_vec());
        self.apply_pmt(&pmt);
    }

    /// Maps the first video and the first audio stream of the PMT to the tracks.
    fn apply_pmt(&mut self, pmt: &Pmt) {
        self.pcr_pid = (pmt.pcr_pid != NULL_PID).then_some(pmt.pcr_pid);
        let pmt_pid = self.program.as_ref().map(|p| p.pmt.pid);
        let (mut video, mut audio) = (None, None);
        for stream in &pmt.streams {
            let usable =
                stream.pid >= 0x10 && stream.pid != NULL_PID && Some(stream.pid) != pmt_pid;
            let taken = [&video, &audio]
                .into_iter()
                .flatten()
                .any(|&(pid, _)| pid == stream.pid);
            let codec = classify(stream, &pmt.descriptors).filter(|_| usable && !taken);
            let slot = match codec.map(EsCodec::kind) {
                Some(MediaKind::Video) => &mut video,
                Some(MediaKind::Audio) => &mut audio,
                None => {
                    self.stats.unsupported_streams += 1;
                    continue;
                }
            };
            match codec {
                Some(c) if slot.is_none() => *slot = Some((stream.pid, c)),
                _ => self.stats.unsupported_streams += 1,
            }
        }
        self.remap(MediaKind::Video, video);
        self.remap(MediaKind::Audio, audio);
        if self.announced.is_some() {
            self.announce_if_changed();
        } else {
            self.try_first_announce();
        }
    }

    /// Points the track of `kind` at a new stream (or none); a stream whose PID and codec stay
    /// keeps its state.
    fn remap(&mut self, kind: MediaKind, new: Option<(u16, EsCodec)>) {
        let current = self.slot_mut(kind).map(|s| (s.pid, s.codec));
        if current == new {
            return;
        }
        // Finish what the old stream had (its frames still belong to the old mapping).
        if let Some(pes) = self.slot_mut(kind).and_then(|s| s.pes.take()) {
            self.finish_pes(kind, pes);
        }
        let track = match kind {
            MediaKind::Video => VIDEO_TRACK,
            MediaKind::Audio => AUDIO_TRACK,
        };
        if self.announced.is_none() {
            // Queued frames of the replaced stream would be announced with the new one.
            let before = self.queue.len();
            self.queue.retain(|f| f.track != track);
            self.stats.frames_dropped += (before - self.queue.len()) as u64;
            self.queue_bytes = self.queue.iter().map(|f| f.data.len()).sum();
            self.queue_dts = self.queue.iter().fold(None, |range, f| {
                Some(range.map_or((f.dts, f.dts), |(lo, hi): (i64, i64)| {
                    (lo.min(f.dts), hi.max(f.dts))
                }))
            });
        }
        let slot = new.map(|(pid, codec)| Slot::new(pid, codec));
        match kind {
            MediaKind::Video => self.video = slot,
            MediaKind::Audio => self.audio = slot,
        }
        self.tracks_dirty = true;
    }

    fn slot_mut(&mut self, kind: MediaKind) -> Option<&mut Slot> {
        match kind {
            MediaKind::Video => self.video.as_mut(),
            MediaKind::Audio => self.audio.as_mut(),
        }
    }

    // -----------------------------------------------------------------------------------------
    // PES packets

    fn es_packet(&mut self, kind: MediaKind, h: &PacketHeader, payload: &[u8]) {
        let Some(slot) = self.slot_mut(kind) else {
            return;
        };
        match slot.cc.check(h.cc, h.discontinuity) {
            Cc::Duplicate => return,
            Cc::Error => {
                slot.lost();
                self.stats.continuity_errors += 1;
            }
            Cc::Ok => {}
        }
        let Some(slot) = self.slot_mut(kind) else {
            return;
        };
        if h.scrambled {
            slot.lost();
            self.stats.scrambled_packets += 1;
            return;
        }
        if h.pusi {
            let old = slot.pes.replace(PesBuf {
                data: payload.to_vec(),
                broken: false,
            });
            if let Some(old) = old {
                // Completes an unbounded PES, or finds a bounded one truncated.
                self.finish_pes(kind, old);
            }
        } else {
            let Some(pes) = &mut slot.pes else {
                return; // the start of this PES was not seen
            };
            if pes.data.len() + payload.len() > MAX_PES_SIZE {
                slot.pes = None;
                slot.reset_es();
                self.stats.pes_errors += 1;
                self.stats.frames_dropped += 1;
                return;
            }
            pes.data.extend_from_slice(payload);
        }
        let Some(slot) = self.slot_mut(kind) else {
            return;
        };
        let complete = slot
            .pes
            .as_ref()
            .and_then(|p| pes::declared_size(&p.data).map(|size| p.data.len() >= size))
            .unwrap_or(false);
        if complete && let Some(pes) = slot.pes.take() {
            self.finish_pes(kind, pes);
        }
    }

    /// Turns a reassembled PES packet into frames.
    fn finish_pes(&mut self, kind: MediaKind, pes: PesBuf) {
        let PesBuf { mut data, broken } = pes;
        let size = pes::declared_size(&data);
        let header = if broken || size.is_some_and(|size| data.len() < size) {
            None
        } else {
            if let Some(size) = size {
                data.truncate(size);
            }
            match pes::parse_header(&data) {
                Ok(Some(h)) => Some(h),
                Ok(None) => return, // padding
                Err(_) => None,
            }
        };
        let Some(header) = header else {
            if let Some(slot) = self.slot_mut(kind) {
                slot.reset_es();
            }
            self.stats.pes_errors += 1;
            self.stats.frames_dropped += 1;
            return;
        };
        let pts = header.pts.map(|t| self.clock.unwrap(t));
        let dts = header.dts.map(|t| self.clock.unwrap(t)).or(pts);
        let start = header.payload_start.min(data.len());
        let mut frames = Vec::new();
        let mut issues = EsIssues::default();
        let Some(slot) = self.slot_mut(kind) else {
            return;
        };
        match &mut slot.es {
            EsState::Video(v) => {
                let payload = data.get(start..).unwrap_or_default();
                if let Some(au) = v.access_unit(payload) {
                    let stamps = match (pts, dts) {
                        (Some(pts), Some(dts)) => Some((pts, dts)),
                        // No timestamps: one frame step after the previous access unit.
                        _ => slot
                            .last_dts
                            .map(|last| (last + slot.dts_step, last + slot.dts_step)),
                    };
                    match stamps {
                        Some((pts, dts)) => {
                            if let Some(last) = slot.last_dts
                                && (1..=TRACK_WAIT_90K).contains(&(dts - last))
                            {
                                slot.dts_step = dts - last;
                            }
                            slot.last_dts = Some(dts);
                            frames.push(EsFrame {
                                pts,
                                dts,
                                keyframe: au.keyframe,
                                data: au.data,
                                config: au.config,
                            });
                        }
                        None => {
                            if let Some(c) = au.config {
                                slot.config = Some(c);
                                self.tracks_dirty = true;
                            }
                            issues.dropped += 1;
                        }
                    }
                }
            }
            EsState::Aac(a) => {
                a.pes(
                    pts,
                    data.get(start..).unwrap_or_default(),
                    &mut frames,
                    &mut issues,
                );
            }
            EsState::Opus(o) => {
                let payload = Bytes::from(data).slice(start..);
                o.pes(pts, &payload, &mut frames, &mut issues);
            }
        }
        if issues.malformed {
            self.stats.pes_errors += 1;
        }
        self.stats.frames_dropped += issues.dropped;
        for f in frames {
            self.deliver(kind, f);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Frames and tracks

    fn deliver(&mut self, kind: MediaKind, f: EsFrame) {
        let Some(slot) = self.slot_mut(kind) else {
            return;
        };
        let mut changed = false;
        if let Some(c) = f.config
            && slot.config.as_ref() != Some(&c)
        {
            slot.config = Some(c);
            changed = true;
        }
        let usable = slot.config.is_some() && (!slot.need_keyframe || f.keyframe);
        if usable {
            slot.need_keyframe = false;
        }
        let track = slot.track;
        self.tracks_dirty |= changed;
        if !usable {
            self.stats.frames_dropped += 1;
            return;
        }
        let frame = Frame {
            track,
            kind,
            pts: f.pts,
            dts: f.dts,
            timescale: TIMESCALE,
            keyframe: f.keyframe || kind == MediaKind::Audio,
            data: f.data,
        };
        if self.announced.is_some() {
            self.announce_if_changed();
            self.emit(frame);
        } else {
            self.queue_bytes += frame.data.len();
            self.queue_dts = Some(match self.queue_dts {
                None => (frame.dts, frame.dts),
                Some((lo, hi)) => (lo.min(frame.dts), hi.max(frame.dts)),
            });
            self.queue.push_back(frame);
            self.try_first_announce();
        }
    }

    fn emit(&mut self, frame: Frame) {
        self.stats.frames += 1;
        self.events.push_back(DemuxEvent::Frame(frame));
    }

    /// The first announcement waits until every stream of the program has its configuration,
    /// or for at most [`TRACK_WAIT_90K`] of queued frames (or the queue limits).
    fn try_first_announce(&mut self) {
        if self.announced.is_some() || self.queue.is_empty() {
            return;
        }
        let all_known = [&self.video, &self.audio]
            .into_iter()
            .flatten()
            .all(|s| s.config.is_some());
        let span = self.queue_dts.map_or(0, |(lo, hi)| hi.saturating_sub(lo));
        if all_known
            || span >= TRACK_WAIT_90K
            || self.queue.len() >= MAX_QUEUED_FRAMES
            || self.queue_bytes >= MAX_QUEUED_BYTES
        {
            self.announce_first();
        }
    }

    fn announce_first(&mut self) {
        let info = self.current_info();
        self.tracks_dirty = false;
        self.events.push_back(DemuxEvent::Tracks(info.clone()));
        let queue = std::mem::take(&mut self.queue);
        self.queue_bytes = 0;
        self.queue_dts = None;
        for frame in queue {
            if info.track(frame.track).is_some() {
                self.emit(frame);
            } else {
                self.stats.frames_dropped += 1;
            }
        }
        self.announced = Some(info);
    }

    fn announce_if_changed(&mut self) {
        if !self.tracks_dirty {
            return;
        }
        self.tracks_dirty = false;
        let info = self.current_info();
        if self.announced.as_ref() != Some(&info) {
            self.events.push_back(DemuxEvent::Tracks(info.clone()));
            self.announced = Some(info);
        }
    }

    /// The tracks as they are now: every mapped stream with a known configuration. A stream
    /// that was just remapped and has no configuration yet keeps the track last announced, so
    /// that the track does not flicker away and back.
    fn current_info(&self) -> MediaInfo {
        let tracks = [&self.video, &self.audio]
            .into_iter()
            .flatten()
            .filter_map(|slot| {
                let codec = slot.config.clone().or_else(|| {
                    self.announced
                        .as_ref()
                        .and_then(|i| i.track(slot.track))
                        .map(|t| t.codec.clone())
                })?;
                Some(Track {
                    id: slot.track,
                    timescale: TIMESCALE,
                    codec,
                })
            })
            .collect();
        MediaInfo { tracks }
    }
}
