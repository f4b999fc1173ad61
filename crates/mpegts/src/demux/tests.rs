//! Tests of the demuxer: round trips through [`TsMuxer`], hand-built streams for what the muxer
//! never writes, damage of every kind.

use std::collections::HashMap;

use bytes::Bytes;
use proptest::prelude::*;
use weir_media::codec::h265;
use weir_media::{
    AacConfig, CodecConfig, Frame, H264Config, H265Config, MediaInfo, MediaKind, OpusConfig, Track,
    rescale,
};

use crate::crc::crc32_mpeg2;
use crate::*;

/// SPS of x264, High profile level 3.1, 1280x720.
const SPS: &[u8] = &[
    0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
    0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x83, 0x19, 0x60,
];
const PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];

/// Parameter sets of x265, Main profile, 64x64.
const HEVC_VPS: &[u8] = &[
    0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03,
    0x00, 0x00, 0x03, 0x00, 0x1e, 0x95, 0x98, 0x09,
];
const HEVC_SPS: &[u8] = &[
    0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03,
    0x00, 0x1e, 0xa0, 0x20, 0x81, 0x05, 0x96, 0x56, 0x69, 0x24, 0xca, 0xf0, 0x16, 0x80, 0x80, 0x00,
    0x00, 0x03, 0x00, 0x80, 0x00, 0x00, 0x0c, 0x84,
];
const HEVC_PPS: &[u8] = &[0x44, 0x01, 0xc1, 0x72, 0xb4, 0x22, 0x40];

const WRAP: i64 = 1 << 33;

fn h264_config(sps: &[u8]) -> CodecConfig {
    CodecConfig::H264(
        H264Config::from_parameter_sets(
            vec![Bytes::copy_from_slice(sps)],
            vec![Bytes::from_static(PPS)],
        )
        .expect("valid SPS"),
    )
}

fn h265_config() -> CodecConfig {
    CodecConfig::H265(
        H265Config::from_parameter_sets(
            vec![Bytes::from_static(HEVC_VPS)],
            vec![Bytes::from_static(HEVC_SPS)],
            vec![Bytes::from_static(HEVC_PPS)],
        )
        .expect("valid HEVC parameter sets"),
    )
}

fn aac_config(sampling_index: u8) -> CodecConfig {
    CodecConfig::Aac(AacConfig::from_fields(2, sampling_index, 2).expect("valid AAC fields"))
}

fn opus_config(channels: u8, pre_skip: u16) -> CodecConfig {
    CodecConfig::Opus(OpusConfig {
        channels,
        sample_rate: 48_000,
        pre_skip,
    })
}

fn track(id: u8, timescale: u32, codec: CodecConfig) -> Track {
    Track {
        id,
        timescale,
        codec,
    }
}

/// A length-prefixed access unit from NAL units.
fn au(nals: &[&[u8]]) -> Bytes {
    let mut v = Vec::new();
    for n in nals {
        v.extend_from_slice(&(n.len() as u32).to_be_bytes());
        v.extend_from_slice(n);
    }
    Bytes::from(v)
}

/// A slice NAL unit with a recognisable body (no zero bytes, so no start code emulation).
fn slice(header: &[u8], size: usize, seed: usize) -> Vec<u8> {
    let mut v = header.to_vec();
    v.extend((0..size).map(|i| ((i * 7 + seed * 13) % 251) as u8 | 1));
    v
}

/// The source frames of a test stream and their expected demuxed form.
struct Stream {
    info: MediaInfo,
    frames: Vec<Frame>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Video {
    None,
    H264,
    H265,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Audio {
    None,
    Aac,
    Opus,
}

/// `seconds` of 25 fps video (GOP of 25, B-frame-like composition offsets) and audio, in
/// decode order interleaved by DTS, starting at `start_90k`.
fn stream(video: Video, audio: Audio, seconds: i64, start_90k: i64) -> Stream {
    let mut tracks = Vec::new();
    match video {
        Video::None => {}
        Video::H264 => tracks.push(track(0, 90_000, h264_config(SPS))),
        Video::H265 => tracks.push(track(0, 90_000, h265_config())),
    }
    match audio {
        Audio::None => {}
        Audio::Aac => tracks.push(track(1, 48_000, aac_config(3))),
        Audio::Opus => tracks.push(track(1, 48_000, opus_config(2, 0))),
    }
    let mut frames = Vec::new();
    if video != Video::None {
        for i in 0..seconds * 25 {
            let key = i % 25 == 0;
            let header: &[u8] = match (video, key) {
                (Video::H264, true) => &[0x65, 0x88],
                (Video::H264, false) => &[0x41, 0x9a],
                (_, true) => &[0x26, 0x01],  // IDR_W_RADL
                (_, false) => &[0x02, 0x01], // TRAIL_R
            };
            let size = if key {
                3000
            } else {
                200 + (i as usize * 37) % 900
            };
            let dts = start_90k + i * 3600;
            // Composition offsets as with B-frames: 0 for keyframes, then 2 or 1 frames ahead.
            let cts = if key { 0 } else { 3600 * (1 + i % 2) };
            frames.push(Frame {
                track: 0,
                kind: MediaKind::Video,
                pts: dts + cts + 7200,
                dts: dts + 7200,
                timescale: 90_000,
                keyframe: key,
                data: au(&[&slice(header, size, i as usize)]),
            });
        }
    }
    if audio != Audio::None {
        let (step, n) = match audio {
            Audio::Aac => (1024, seconds * 48_000 / 1024),
            _ => (960, seconds * 50),
        };
        for i in 0..n {
            let mut data = vec![if audio == Audio::Opus { 0xFC } else { 0x21 }];
            data.extend((0..150 + (i as usize * 11) % 200).map(|k| (k % 200) as u8 + 1));
            let ts = start_90k * 48_000 / 90_000 + i * step;
            frames.push(Frame {
                track: 1,
                kind: MediaKind::Audio,
                pts: ts,
                dts: ts,
                timescale: 48_000,
                keyframe: true,
                data: Bytes::from(data),
            });
        }
    }
    frames.sort_by_key(|f| rescale(f.dts, f.timescale, 90_000));
    Stream {
        info: MediaInfo { tracks },
        frames,
    }
}

/// Muxes a stream with tables before every video keyframe (and at the start).
fn mux(s: &Stream) -> Vec<u8> {
    mux_with_tables(s, usize::MAX)
}

/// Muxes a stream with tables at the start, before every video keyframe and every
/// `every` frames.
fn mux_with_tables(s: &Stream, every: usize) -> Vec<u8> {
    let mut m = TsMuxer::new(&s.info);
    let mut out = Vec::new();
    m.write_tables(&mut out);
    for (i, f) in s.frames.iter().enumerate() {
        if (f.is_video() && f.keyframe) || i % every == every - 1 {
            m.write_tables(&mut out);
        }
        m.write_frame(f, &mut out).expect("mux");
    }
    out
}

/// What the demuxer should give for a source frame: 90 kHz, and the parameter sets that the
/// muxer inserted before keyframes.
fn expected(s: &Stream, f: &Frame) -> Frame {
    let mut data = f.data.clone();
    if f.is_video() && f.keyframe {
        let sets: Vec<&[u8]> = match &s.info.tracks[0].codec {
            CodecConfig::H264(c) => c.sps.iter().chain(&c.pps).map(|b| &b[..]).collect(),
            CodecConfig::H265(c) => c
                .vps
                .iter()
                .chain(&c.sps)
                .chain(&c.pps)
                .map(|b| &b[..])
                .collect(),
            _ => unreachable!(),
        };
        let mut v = au(&sets).to_vec();
        v.extend_from_slice(&data);
        data = Bytes::from(v);
    }
    Frame {
        pts: rescale(f.pts, f.timescale, 90_000),
        dts: rescale(f.dts, f.timescale, 90_000),
        timescale: 90_000,
        data,
        ..f.clone()
    }
}

/// The tracks the demuxer should announce for a source stream.
fn expected_info(s: &Stream) -> MediaInfo {
    MediaInfo {
        tracks: s
            .info
            .tracks
            .iter()
            .map(|t| Track {
                timescale: 90_000,
                ..t.clone()
            })
            .collect(),
    }
}

fn drain(d: &mut TsDemuxer, events: &mut Vec<DemuxEvent>) {
    while let Some(e) = d.poll_event() {
        events.push(e);
    }
}

/// Demuxes `ts` pushed in pieces of the given sizes (cycled), then flushes.
fn demux_split(ts: &[u8], sizes: &[usize]) -> (Vec<DemuxEvent>, DemuxStats) {
    let mut d = TsDemuxer::new();
    let mut events = Vec::new();
    let mut rest = ts;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes
            .get(i % sizes.len().max(1))
            .copied()
            .unwrap_or(rest.len())
            .clamp(1, rest.len());
        d.push(&rest[..n]);
        drain(&mut d, &mut events);
        rest = &rest[n..];
        i += 1;
    }
    d.flush();
    drain(&mut d, &mut events);
    check_invariants(&events, d.stats());
    (events, d.stats().clone())
}

fn demux(ts: &[u8]) -> (Vec<DemuxEvent>, DemuxStats) {
    demux_split(ts, &[ts.len().max(1)])
}

/// Frames only after a Tracks event that has their track; the counters agree.
fn check_invariants(events: &[DemuxEvent], stats: &DemuxStats) {
    let mut info: Option<&MediaInfo> = None;
    let mut n = 0;
    for e in events {
        match e {
            DemuxEvent::Tracks(i) => info = Some(i),
            DemuxEvent::Frame(f) => {
                n += 1;
                let t = info
                    .and_then(|i| i.track(f.track))
                    .expect("frame before its track was announced");
                assert_eq!(t.kind(), f.kind);
                assert_eq!(f.timescale, 90_000);
                assert!(!f.data.is_empty());
            }
        }
    }
    assert_eq!(stats.frames, n);
}

fn frames_of(events: &[DemuxEvent], track: u8) -> Vec<Frame> {
    events
        .iter()
        .filter_map(|e| match e {
            DemuxEvent::Frame(f) if f.track == track => Some(f.clone()),
            _ => None,
        })
        .collect()
}

fn tracks_events(events: &[DemuxEvent]) -> Vec<MediaInfo> {
    events
        .iter()
        .filter_map(|e| match e {
            DemuxEvent::Tracks(i) => Some(i.clone()),
            _ => None,
        })
        .collect()
}

fn expected_of(s: &Stream, track: u8) -> Vec<Frame> {
    s.frames
        .iter()
        .filter(|f| f.track == track)
        .map(|f| expected(s, f))
        .collect()
}

/// Checks a clean round trip: one Tracks event first, every frame exact, no error counted.
fn assert_round_trip(s: &Stream) {
    let ts = mux(s);
    let (events, stats) = demux(&ts);
    assert_eq!(
        events.first(),
        Some(&DemuxEvent::Tracks(expected_info(s))),
        "tracks first"
    );
    assert_eq!(tracks_events(&events).len(), 1);
    for t in &s.info.tracks {
        assert_eq!(
            frames_of(&events, t.id),
            expected_of(s, t.id),
            "track {}",
            t.id
        );
    }
    assert_eq!(
        stats,
        DemuxStats {
            packets: (ts.len() / TS_PACKET_SIZE) as u64,
            frames: s.frames.len() as u64,
            last_pcr: stats.last_pcr,
            ..DemuxStats::default()
        }
    );
    assert!(stats.last_pcr.is_some());
}

#[test]
fn round_trip_h264_aac() {
    assert_round_trip(&stream(Video::H264, Audio::Aac, 3, 900_000));
}

#[test]
fn round_trip_h265_aac() {
    assert_round_trip(&stream(Video::H265, Audio::Aac, 2, 0));
}

#[test]
fn round_trip_h264_opus_and_single_tracks() {
    assert_round_trip(&stream(Video::H264, Audio::Opus, 2, 90_000));
    assert_round_trip(&stream(Video::None, Audio::Opus, 2, 90_000));
    assert_round_trip(&stream(Video::None, Audio::Aac, 2, 90_000));
    assert_round_trip(&stream(Video::H265, Audio::None, 2, 90_000));
}

#[test]
fn large_video_frames_and_flush() {
    // Frames beyond the 65535 bytes of a bounded PES, and a last frame completed by flush().
    let mut s = stream(Video::H264, Audio::None, 1, 0);
    for (i, f) in s.frames.iter_mut().enumerate() {
        if i % 5 == 0 {
            let header: &[u8] = if f.keyframe {
                &[0x65, 0x88]
            } else {
                &[0x41, 0x9a]
            };
            f.data = au(&[
                &slice(header, 70_000 + i * 1000, i),
                &slice(&[0x06, 5], 20, 1),
            ]);
        }
    }
    assert_round_trip(&s);
    let ts = mux(&s);
    let mut d = TsDemuxer::new();
    d.push(&ts);
    let mut events = Vec::new();
    drain(&mut d, &mut events);
    assert_eq!(
        frames_of(&events, 0).len(),
        s.frames.len() - 1,
        "the last one waits"
    );
    d.flush();
    drain(&mut d, &mut events);
    assert_eq!(frames_of(&events, 0).len(), s.frames.len());
}

// ---------------------------------------------------------------------------------------------
// Hand-built streams

/// Writes transport packets with correct continuity counters.
#[derive(Default)]
struct Writer {
    out: Vec<u8>,
    cc: HashMap<u16, u8>,
}

impl Writer {
    fn next_cc(&mut self, pid: u16) -> u8 {
        let cc = self.cc.entry(pid).or_insert(0);
        let now = *cc;
        *cc = (*cc + 1) & 0x0F;
        now
    }

    /// Splits `data` into packets of `pid`, the first with PUSI (and `af_flags` in an adaptation
    /// field, if any), stuffing the last.
    fn packets(&mut self, pid: u16, data: &[u8], af_flags: Option<u8>) {
        let mut rest = data;
        let mut first = true;
        while first || !rest.is_empty() {
            let flags = if first { af_flags } else { None };
            let min_af = if flags.is_some() { 2 } else { 0 };
            let room = 184 - min_af;
            let n = rest.len().min(room);
            let af_len = if n < room || flags.is_some() {
                (184 - n).max(min_af)
            } else {
                0
            };
            let cc = self.next_cc(pid);
            let start = self.out.len();
            self.out.extend_from_slice(&[
                0x47,
                if first { 0x40 } else { 0 } | (pid >> 8) as u8,
                pid as u8,
                if af_len > 0 { 0x30 } else { 0x10 } | cc,
            ]);
            if af_len > 0 {
                self.out.push((af_len - 1) as u8);
                if af_len > 1 {
                    self.out.push(flags.unwrap_or(0));
                    self.out.resize(start + 4 + af_len, 0xFF);
                }
            }
            self.out.extend_from_slice(&rest[..n]);
            assert_eq!(self.out.len() - start, TS_PACKET_SIZE);
            rest = &rest[n..];
            first = false;
        }
    }

    /// A PSI section with pointer_field 0.
    fn section(&mut self, pid: u16, section: &[u8]) {
        let mut data = vec![0];
        data.extend_from_slice(section);
        // PSI packets are filled with 0xFF rather than adaptation stuffing.
        let mut rest = &data[..];
        let mut first = true;
        while !rest.is_empty() {
            let n = rest.len().min(184);
            let cc = self.next_cc(pid);
            let start = self.out.len();
            self.out.extend_from_slice(&[
                0x47,
                if first { 0x40 } else { 0 } | (pid >> 8) as u8,
                pid as u8,
                0x10 | cc,
            ]);
            self.out.extend_from_slice(&rest[..n]);
            self.out.resize(start + TS_PACKET_SIZE, 0xFF);
            rest = &rest[n..];
            first = false;
        }
    }

    fn pat(&mut self, program: u16, pmt_pid: u16, version: u8) {
        let body = [
            (program >> 8) as u8,
            program as u8,
            0xE0 | (pmt_pid >> 8) as u8,
            pmt_pid as u8,
        ];
        let s = section(0x00, 1, version, &body);
        self.section(0, &s);
    }

    fn pmt(
        &mut self,
        pmt_pid: u16,
        program: u16,
        version: u8,
        pcr_pid: u16,
        streams: &[(u8, u16, &[u8])],
    ) {
        let s = pmt_section(program, version, pcr_pid, streams);
        self.section(pmt_pid, &s);
    }

    /// One PES packet; `bounded` writes its length.
    fn pes(
        &mut self,
        pid: u16,
        stream_id: u8,
        pts: Option<i64>,
        dts: Option<i64>,
        es: &[u8],
        bounded: bool,
    ) {
        let p = pes_packet(stream_id, pts, dts, es, bounded);
        self.packets(pid, &p, None);
    }
}

fn section(table_id: u8, id: u16, version: u8, body: &[u8]) -> Vec<u8> {
    let mut s = vec![
        table_id,
        0,
        0,
        (id >> 8) as u8,
        id as u8,
        0xC1 | (version & 0x1F) << 1,
        0,
        0,
    ];
    s.extend_from_slice(body);
    let len = s.len() - 3 + 4;
    s[1] = 0xB0 | (len >> 8) as u8;
    s[2] = len as u8;
    let crc = crc32_mpeg2(&s);
    s.extend_from_slice(&crc.to_be_bytes());
    s
}

fn pmt_section(program: u16, version: u8, pcr_pid: u16, streams: &[(u8, u16, &[u8])]) -> Vec<u8> {
    let mut body = vec![0xE0 | (pcr_pid >> 8) as u8, pcr_pid as u8, 0xF0, 0];
    for &(stream_type, pid, desc) in streams {
        body.extend_from_slice(&[
            stream_type,
            0xE0 | (pid >> 8) as u8,
            pid as u8,
            0xF0 | (desc.len() >> 8) as u8,
            desc.len() as u8,
        ]);
        body.extend_from_slice(desc);
    }
    section(0x02, program, version, &body)
}

fn put_ts(out: &mut Vec<u8>, prefix: u8, ts: i64) {
    let ts = (ts & (WRAP - 1)) as u64;
    out.push((prefix << 4) | (((ts >> 30) as u8 & 7) << 1) | 1);
    out.push((ts >> 22) as u8);
    out.push((((ts >> 15) as u8 & 0x7F) << 1) | 1);
    out.push((ts >> 7) as u8);
    out.push(((ts as u8 & 0x7F) << 1) | 1);
}

fn pes_packet(
    stream_id: u8,
    pts: Option<i64>,
    dts: Option<i64>,
    es: &[u8],
    bounded: bool,
) -> Vec<u8> {
    let mut p = vec![0, 0, 1, stream_id, 0, 0, 0x84];
    match (pts, dts) {
        (Some(pts), Some(dts)) => {
            p.extend_from_slice(&[0xC0, 10]);
            put_ts(&mut p, 3, pts);
            put_ts(&mut p, 1, dts);
        }
        (Some(pts), None) => {
            p.extend_from_slice(&[0x80, 5]);
            put_ts(&mut p, 2, pts);
        }
        _ => p.extend_from_slice(&[0x00, 0]),
    }
    p.extend_from_slice(es);
    if bounded {
        let len = (p.len() - 6) as u16;
        p[4..6].copy_from_slice(&len.to_be_bytes());
    }
    p
}

const OPUS_DESC: &[u8] = &[0x05, 4, b'O', b'p', b'u', b's', 0x7F, 2, 0x80, 6];

/// An Opus access unit with its control header.
fn opus_au(packet: &[u8], start_trim: Option<u16>, extension: &[u8]) -> Vec<u8> {
    let mut flags = 0xE0;
    if start_trim.is_some() {
        flags |= 0x10;
    }
    if !extension.is_empty() {
        flags |= 0x04;
    }
    let mut v = vec![0x7F, flags];
    let mut size = packet.len();
    while size >= 255 {
        v.push(0xFF);
        size -= 255;
    }
    v.push(size as u8);
    if let Some(t) = start_trim {
        v.extend_from_slice(&t.to_be_bytes());
    }
    if !extension.is_empty() {
        v.push(extension.len() as u8);
        v.extend_from_slice(extension);
    }
    v.extend_from_slice(packet);
    v
}

#[test]
fn opus_pes_with_several_packets_trims_and_channels() {
    let mut w = Writer::default();
    w.pat(1, 0x1000, 0);
    w.pmt(0x1000, 1, 0, 0x101, &[(0x06, 0x101, OPUS_DESC)]);
    let p20 = [&[0xFC][..], &[0x55; 299][..]].concat(); // CELT 20 ms, 300 bytes
    let p10 = [0xF0, 1, 2, 3]; // CELT 10 ms
    let p60 = [0x19, 9, 9]; // SILK 60 ms, two frames (code 1) = 120 ms
    let mut es = opus_au(&p20, Some(312), &[]);
    es.extend(opus_au(&p10, None, &[1, 2, 3]));
    es.extend(opus_au(&p60, None, &[]));
    es.extend(opus_au(&[], None, &[])); // an empty packet is skipped
    w.pes(0x101, 0xBD, Some(WRAP - 900), None, &es, true);
    // No PTS: continues after the previous packets.
    w.pes(0x101, 0xBD, None, None, &opus_au(&p10, None, &[]), true);
    let (events, stats) = demux(&w.out);
    assert_eq!(
        events[0],
        DemuxEvent::Tracks(MediaInfo {
            tracks: vec![track(1, 90_000, opus_config(6, 312))]
        })
    );
    let frames = frames_of(&events, 1);
    let got: Vec<(i64, usize)> = frames.iter().map(|f| (f.pts, f.data.len())).collect();
    let base = WRAP - 900;
    assert_eq!(
        got,
        vec![
            (base, 300),
            (base + 1800, 4),
            (base + 2700, 3),
            (base + 2700 + 10_800, 4)
        ]
    );
    assert_eq!(&frames[0].data[..], &p20[..]);
    assert!(frames.iter().all(|f| f.keyframe && f.dts == f.pts));
    assert_eq!((stats.pes_errors, stats.frames_dropped), (0, 0));

    // A broken control header is counted; the packets before it survive.
    let mut w = Writer::default();
    w.pat(1, 0x1000, 0);
    w.pmt(0x1000, 1, 0, 0x101, &[(0x06, 0x101, &OPUS_DESC[..6])]);
    let mut es = opus_au(&p10, None, &[]);
    es.extend_from_slice(&[0x7F, 0xC0, 1, 2]);
    w.pes(0x101, 0xBD, Some(0), None, &es, true);
    let (events, stats) = demux(&w.out);
    assert_eq!(frames_of(&events, 1).len(), 1);
    assert_eq!(stats.pes_errors, 1);
    assert_eq!(
        tracks_events(&events)[0].tracks[0].codec,
        opus_config(2, 0),
        "stereo without the channel descriptor"
    );
}

fn adts_frame(sampling_index: u8, payload_len: usize, fill: u8) -> Vec<u8> {
    let mut v = weir_media::codec::aac::adts_header(2, sampling_index, 2, payload_len).to_vec();
    v.extend(std::iter::repeat_n(fill, payload_len));
    v
}

#[test]
fn aac_pes_with_several_frames_spanning_frames_and_junk() {
    let mut w = Writer::default();
    w.pat(1, 0x1000, 0);
    w.pmt(0x1000, 1, 0, 0x101, &[(0x0F, 0x101, &[])]);
    // 44.1 kHz: frame i is at base + floor(i * 1024 * 90000 / 44100).
    let frames: Vec<Vec<u8>> = (0..5)
        .map(|i| adts_frame(4, 100 + i, i as u8 + 1))
        .collect();
    let all = frames.concat();
    let cut = frames[0].len() + frames[1].len() + 50; // inside frame 2
    w.pes(0x101, 0xC0, Some(1000), None, &all[..cut], true);
    w.pes(0x101, 0xC0, Some(1000 + 3 * 2089), None, &all[cut..], true);
    // Junk between frames, then a frame with a CRC (protection_absent 0).
    let mut es = vec![0x12, 0x34, 0xFF, 0x00];
    let mut crc_frame = adts_frame(4, 20, 0xAB);
    crc_frame[1] &= 0xFE;
    let len = 9 + 20;
    crc_frame[3] = (crc_frame[3] & 0xFC) | (len >> 11) as u8;
    crc_frame[4] = (len >> 3) as u8;
    crc_frame[5] = ((len & 7) << 5) as u8 | 0x1F;
    crc_frame.splice(7..7, [0xC1, 0xC2]);
    es.extend_from_slice(&crc_frame);
    w.pes(0x101, 0xC0, Some(50_000), None, &es, true);
    let (events, stats) = demux(&w.out);
    let got = frames_of(&events, 1);
    let pts: Vec<i64> = got.iter().map(|f| f.pts).collect();
    // Frames 3 and 4 start in the second PES: they count from its PTS.
    assert_eq!(pts, vec![1000, 3089, 5179, 7267, 9356, 50_000]);
    for (f, src) in got.iter().zip(&frames) {
        assert_eq!(&f.data[..], &src[7..]);
    }
    assert_eq!(&got[5].data[..], &[0xAB; 20][..]);
    assert_eq!(stats.pes_errors, 1, "junk counted once");
    assert_eq!(
        tracks_events(&events),
        vec![MediaInfo {
            tracks: vec![track(1, 90_000, aac_config(4))]
        }]
    );
}

#[test]
fn aac_config_change_is_announced() {
    let mut w = Writer::default();
    w.pat(1, 0x1000, 0);
    w.pmt(0x1000, 1, 0, 0x101, &[(0x0F, 0x101, &[])]);
    w.pes(0x101, 0xC0, Some(0), None, &adts_frame(3, 10, 1), true);
    w.pes(0x101, 0xC0, Some(1920), None, &adts_frame(4, 10, 2), true);
    let (events, _) = demux(&w.out);
    let kinds: Vec<String> = events
        .iter()
        .map(|e| match e {
            DemuxEvent::Tracks(i) => format!("tracks {}", i.tracks[0].codec.rfc6381()),
            DemuxEvent::Frame(f) => format!("frame {}", f.pts),
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            "tracks mp4a.40.2",
            "frame 0",
            "tracks mp4a.40.2",
            "frame 1920"
        ]
    );
    let infos = tracks_events(&events);
    assert_eq!(infos[1].tracks[0].codec, aac_config(4));
}

// ---------------------------------------------------------------------------------------------
// Timing

#[test]
fn timestamps_unwrap_across_33_bits() {
    // Video and audio run across 2^33: the output continues past it, exactly.
    let s = stream(Video::H264, Audio::Aac, 4, WRAP - 2 * 90_000);
    let ts = mux(&s);
    let (events, stats) = demux(&ts);
    for t in [0, 1] {
        let got = frames_of(&events, t);
        assert_eq!(got, expected_of(&s, t));
        assert!(got.first().unwrap().dts < WRAP && got.last().unwrap().dts > WRAP);
    }
    assert!(stats.last_pcr.unwrap() > WRAP * 300);

    // Audio starting just after the wrap while video starts just before: one program clock,
    // so the streams stay 100 + 7200 ticks apart whichever side of the wrap they land on.
    let mut w = Writer::default();
    w.pat(1, 0x1000, 0);
    w.pmt(
        0x1000,
        1,
        0,
        0x100,
        &[(0x1B, 0x100, &[]), (0x0F, 0x101, &[])],
    );
    let key = [au(&[SPS, PPS, &slice(&[0x65, 0x88], 50, 0)])];
    let annexb = |lp: &Bytes| {
        let mut v = Vec::new();
        for n in weir_media::codec::nal::iter_length_prefixed(lp, 4) {
            v.extend_from_slice(&[0, 0, 0, 1]);
            v.extend_from_slice(n.unwrap());
        }
        v
    };
    w.pes(
        0x100,
        0xE0,
        Some(WRAP - 3600),
        Some(WRAP - 7200),
        &annexb(&key[0]),
        false,
    );
    w.pes(0x101, 0xC0, Some(100), None, &adts_frame(3, 10, 1), true);
    w.pes(
        0x100,
        0xE0,
        Some(WRAP),
        Some(WRAP - 3600),
        &annexb(&au(&[&slice(&[0x41, 0x9a], 50, 1)])),
        false,
    );
    let (events, _) = demux(&w.out);
    let v = frames_of(&events, 0);
    let a = frames_of(&events, 1);
    let t0 = a[0].pts - 100 - WRAP;
    assert_eq!(
        v.iter()
            .map(|f| (f.pts - t0, f.dts - t0))
            .collect::<Vec<_>>(),
        vec![(WRAP - 3600, WRAP - 7200), (WRAP, WRAP - 3600)]
    );
    assert!(t0 == 0 || t0 == -WRAP);
}

#[test]
fn pes_without_timestamps_continue_the_stream() {
    let mut w = Writer::default();
    w.pat(1, 0x1000, 0);
    w.pmt(0x1000, 1, 0, 0x100, &[(0x1B, 0x100, &[])]);
    let key = [
        &[0, 0, 0, 1][..],
        SPS,
        &[0, 0, 1],
        PPS,
        &[0, 0, 1, 0x65, 0x88, 0x11],
    ]
    .concat();
    let p = [0, 0, 1, 0x41, 0x9a, 0x22];
    w.pes(0x100, 0xE0, None, None, &p, false); // nothing to continue from: dropped
    w.pes(0x100, 0xE0, Some(9000), None, &key, false);
    w.pes(0x100, 0xE0, Some(12_600), None, &p, false);
    w.pes(0x100, 0xE0, None, None, &p, false);
    let (events, stats) = demux(&w.out);
    let v = frames_of(&events, 0);
    assert_eq!(
        v.iter()
            .map(|f| (f.pts, f.dts, f.keyframe))
            .collect::<Vec<_>>(),
        vec![
            (9000, 9000, true),
            (12_600, 12_600, false),
            (16_200, 16_200, false)
        ]
    );
    assert_eq!(stats.frames_dropped, 1);
}

// ---------------------------------------------------------------------------------------------
// Start of stream, waiting for tracks

#[test]
fn mid_gop_start_drops_video_until_a_keyframe() {
    let s = stream(Video::H264, Audio::Aac, 3, 0);
    // Tables every 5 frames (about every 100 ms, as usual), not only at keyframes.
    let ts = mux_with_tables(&s, 5);
    // Start at an arbitrary byte in the middle (not on a packet boundary).
    let cut = ts.len() / 2 + 77;
    let (events, stats) = demux(&ts[cut..]);
    let infos = tracks_events(&events);
    assert_eq!(infos, vec![expected_info(&s)], "both tracks at once");
    let v = frames_of(&events, 0);
    assert!(v[0].keyframe);
    let want = expected_of(&s, 0);
    let at = want
        .iter()
        .position(|f| f == &v[0])
        .expect("first keyframe");
    assert_eq!(&want[at..], &v[..]);
    assert!(stats.frames_dropped > 0);
    assert!(stats.bytes_skipped > 0);
    // Audio from where the stream was cut: all but perhaps the first one, exact.
    let a = frames_of(&events, 1);
    let want = expected_of(&s, 1);
    let at = want.iter().position(|f| f == &a[0]).expect("audio frame");
    assert_eq!(&want[at..], &a[..]);
    assert!(
        a[0].dts < v[0].dts,
        "audio waited for the video configuration"
    );
}

#[test]
fn announces_known_tracks_when_one_never_comes() {
    // The PMT lists video, but only non-keyframes without parameter sets arrive.
    let mut s = stream(Video::H264, Audio::Aac, 3, 0);
    s.frames.retain(|f| !(f.is_video() && f.keyframe));
    let ts = mux(&s);
    let (events, stats) = demux(&ts);
    let aac_only = MediaInfo {
        tracks: vec![track(1, 90_000, aac_config(3))],
    };
    assert_eq!(tracks_events(&events), vec![aac_only]);
    assert_eq!(
        frames_of(&events, 1),
        expected_of(&s, 1),
        "queued audio kept"
    );
    assert_eq!(frames_of(&events, 0), vec![]);
    let video = s.frames.iter().filter(|f| f.is_video()).count() as u64;
    assert_eq!(stats.frames_dropped, video);
    // The announcement came after a second of audio: pushing packet by packet, the frames
    // released with it span just over a second.
    let mut d = TsDemuxer::new();
    let mut released = Vec::new();
    for p in ts.chunks(TS_PACKET_SIZE) {
        d.push(p);
        drain(&mut d, &mut released);
        if !released.is_empty() {
            break;
        }
    }
    let span: Vec<i64> = frames_of(&released, 1).iter().map(|f| f.dts).collect();
    assert!(matches!(released[0], DemuxEvent::Tracks(_)));
    assert_eq!(span[0], 0);
    assert_eq!(
        span[span.len() - 1],
        47 * 1920,
        "the first frame a second after the first"
    );
    let late = s.frames.iter().filter(|f| !f.is_video()).count() as u64;
    assert_eq!(stats.frames, late);
}

#[test]
fn video_arriving_later_is_announced_then() {
    // Audio-only for 2 s, then video with a keyframe: two announcements.
    let s = stream(Video::H264, Audio::Aac, 3, 0);
    let first_video = s.frames.iter().position(|f| f.is_video()).unwrap();
    let mut frames = s.frames.clone();
    frames.retain(|f| !f.is_video() || f.dts >= 7200 + 50 * 3600);
    assert!(frames.iter().find(|f| f.is_video()).unwrap().keyframe);
    assert!(first_video < 5);
    let s2 = Stream {
        info: s.info.clone(),
        frames,
    };
    let ts = mux(&s2);
    let (events, _) = demux(&ts);
    let infos = tracks_events(&events);
    assert_eq!(infos.len(), 2);
    assert_eq!(infos[0].tracks.len(), 1);
    assert_eq!(infos[1], expected_info(&s));
    assert!(frames_of(&events, 0) == expected_of(&s2, 0));
}

// ---------------------------------------------------------------------------------------------
// Damage

/// The offsets of the packets of `pid` in a packet-aligned stream.
fn packets_of(ts: &[u8], pid: u16) -> Vec<usize> {
    (0..ts.len() / TS_PACKET_SIZE)
        .map(|i| i * TS_PACKET_SIZE)
        .filter(|&o| u16::from_be_bytes([ts[o + 1] & 0x1F, ts[o + 2]]) == pid)
        .collect()
}

/// Video frames expected when the video frame with index `lost` (decode order) is lost: the
/// rest of its GOP goes too.
fn video_without_gop_tail(s: &Stream, lost: usize) -> Vec<Frame> {
    expected_of(s, 0)
        .into_iter()
        .enumerate()
        .filter(|&(i, _)| i < lost || i >= (lost / 25 + 1) * 25)
        .map(|(_, f)| f)
        .collect()
}

/// Index (in decode order) of the video frame whose PES contains the packet at `offset`.
fn video_frame_at(ts: &[u8], offset: usize) -> usize {
    packets_of(ts, VIDEO_PID)
        .into_iter()
        .filter(|&o| o <= offset && ts[o + 1] & 0x40 != 0)
        .count()
        - 1
}

#[test]
fn continuity_errors_drop_the_pes_and_video_until_a_keyframe() {
    let s = stream(Video::H264, Audio::Aac, 3, 0);
    let ts = mux(&s);
    let video = packets_of(&ts, VIDEO_PID);
    // A continuation packet in the middle of the second GOP.
    let victim = *video
        .iter()
        .skip(video.len() / 2)
        .find(|&&o| ts[o + 1] & 0x40 == 0)
        .unwrap();
    let lost = video_frame_at(&ts, victim);
    assert!(!lost.is_multiple_of(25));
    let mut damaged = ts[..victim].to_vec();
    damaged.extend_from_slice(&ts[victim + TS_PACKET_SIZE..]);
    let (events, stats) = demux(&damaged);
    assert_eq!(stats.continuity_errors, 1);
    assert_eq!(stats.pes_errors, 1);
    assert_eq!(frames_of(&events, 0), video_without_gop_tail(&s, lost));
    assert_eq!(frames_of(&events, 1), expected_of(&s, 1), "audio untouched");
    let video_frames = expected_of(&s, 0).len();
    assert_eq!(
        stats.frames_dropped as usize,
        video_frames - frames_of(&events, 0).len()
    );

    // A lost audio packet drops its PES only.
    let audio = packets_of(&ts, AUDIO_PID);
    let victim = audio[audio.len() / 2];
    let mut damaged = ts[..victim].to_vec();
    damaged.extend_from_slice(&ts[victim + TS_PACKET_SIZE..]);
    let (events, stats) = demux(&damaged);
    assert_eq!(
        (stats.continuity_errors, stats.pes_errors),
        (1, 0),
        "the whole PES was in the lost packet"
    );
    assert_eq!(frames_of(&events, 1).len(), expected_of(&s, 1).len() - 1);
    assert_eq!(frames_of(&events, 0), expected_of(&s, 0));
}

#[test]
fn duplicates_discontinuity_and_transport_errors() {
    let s = stream(Video::H264, Audio::Aac, 2, 0);
    let ts = mux(&s);
    let clean = demux(&ts).0;
    // Every video packet sent twice: one duplicate each is legal.
    let mut dup = Vec::new();
    for p in ts.chunks(TS_PACKET_SIZE) {
        dup.extend_from_slice(p);
        if u16::from_be_bytes([p[1] & 0x1F, p[2]]) == VIDEO_PID {
            dup.extend_from_slice(p);
        }
    }
    let (events, stats) = demux(&dup);
    assert_eq!(events, clean);
    assert_eq!(stats.continuity_errors, 0);
    // Three copies: the third is an error.
    let video = packets_of(&ts, VIDEO_PID);
    let p = &ts[video[5]..video[5] + TS_PACKET_SIZE];
    let mut tri = ts[..video[5]].to_vec();
    tri.extend_from_slice(p);
    tri.extend_from_slice(p);
    tri.extend_from_slice(&ts[video[5]..]);
    assert_eq!(demux(&tri).1.continuity_errors, 1);

    // A jump of the counter with the discontinuity_indicator set is not an error. The first
    // packet of each video PES has an adaptation field (PCR); shift the counters from the
    // tenth PES on and flag its first packet.
    let starts: Vec<usize> = video
        .iter()
        .copied()
        .filter(|&o| ts[o + 1] & 0x40 != 0)
        .collect();
    let mut jumped = ts.clone();
    for &o in video.iter().filter(|&&o| o >= starts[10]) {
        jumped[o + 3] = (jumped[o + 3] & 0xF0) | ((jumped[o + 3] + 5) & 0x0F);
    }
    assert!(jumped[starts[10] + 3] & 0x20 != 0 && jumped[starts[10] + 4] > 0);
    let (events, stats) = demux(&jumped);
    assert_eq!(stats.continuity_errors, 1, "without the flag");
    assert_ne!(events, clean);
    jumped[starts[10] + 5] |= 0x80;
    let (events, stats) = demux(&jumped);
    assert_eq!(stats.continuity_errors, 0);
    assert_eq!(events, clean);

    // A scrambled packet cannot be read: like a lost one.
    let mut scrambled = ts.clone();
    let victim = video[video.len() / 2 + 1];
    scrambled[victim + 3] |= 0x80;
    let (events, stats) = demux(&scrambled);
    assert_eq!((stats.scrambled_packets, stats.continuity_errors), (1, 0));
    assert_eq!(
        frames_of(&events, 0),
        video_without_gop_tail(&s, video_frame_at(&ts, victim))
    );

    // transport_error_indicator: the packet is dropped (and its PES with it).
    let mut tei = ts.clone();
    let victim = video[video.len() / 2 + 1];
    tei[victim + 1] |= 0x80;
    let (events, stats) = demux(&tei);
    assert_eq!(stats.transport_errors, 1);
    assert_eq!(stats.continuity_errors, 1);
    assert_eq!(
        frames_of(&events, 0),
        video_without_gop_tail(&s, video_frame_at(&ts, victim))
    );
}

#[test]
fn garbage_before_and_between_packets_is_skipped() {
    let s = stream(Video::H264, Audio::Aac, 2, 0);
    let ts = mux(&s);
    let (clean, _) = demux(&ts);
    let garbage: Vec<Vec<u8>> = vec![
        vec![0x47; 3],
        vec![0x00, 0x47, 0x12, 0x47, 0x47, 0xFF],
        (0..400)
            .map(|i| (i * 31 % 256) as u8)
            .filter(|&b| b != 0x47)
            .collect(),
        vec![0x47],
        (0..187)
            .map(|i| if i % 3 == 0 { 0x47 } else { i as u8 | 0x80 })
            .collect(),
    ];
    let n = ts.len() / TS_PACKET_SIZE;
    let mut dirty = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
    let mut inserted = dirty.len();
    let mut between = 0;
    for (i, p) in ts.chunks(TS_PACKET_SIZE).enumerate() {
        dirty.extend_from_slice(p);
        if i % (n / 7) == 3 && i + 1 < n {
            let g = &garbage[between % garbage.len()];
            dirty.extend_from_slice(g);
            inserted += g.len();
            between += 1;
        }
    }
    dirty.extend_from_slice(&[0x47, 1, 2, 3]); // a cut packet at the end
    inserted += 4;
    let (events, stats) = demux(&dirty);
    assert_eq!(events, clean);
    assert_eq!(stats.bytes_skipped, inserted as u64);
    assert_eq!(stats.sync_losses, between as u64);
    assert_eq!(stats.packets, n as u64);
}

#[test]
fn a_packet_cut_short_is_dropped() {
    let s = stream(Video::H264, Audio::Aac, 2, 0);
    let ts = mux(&s);
    let video = packets_of(&ts, VIDEO_PID);
    let victim = *video
        .iter()
        .skip(video.len() / 2)
        .find(|&&o| ts[o + 1] & 0x40 == 0)
        .unwrap();
    // 60 bytes of the packet are lost.
    let mut cut = ts[..victim + 100].to_vec();
    cut.extend_from_slice(&ts[victim + 160..]);
    let (events, stats) = demux(&cut);
    assert_eq!(stats.bytes_skipped, 128);
    assert_eq!((stats.sync_losses, stats.continuity_errors), (1, 1));
    assert_eq!(stats.packets as usize, ts.len() / TS_PACKET_SIZE - 1);
    assert_eq!(
        frames_of(&events, 0),
        video_without_gop_tail(&s, video_frame_at(&ts, victim))
    );
    assert_eq!(frames_of(&events, 1), expected_of(&s, 1));
}

#[test]
fn oversized_and_truncated_pes_are_dropped() {
    let mut w = Writer::default();
    w.pat(1, 0x1000, 0);
    w.pmt(
        0x1000,
        1,
        0,
        0x100,
        &[(0x1B, 0x100, &[]), (0x0F, 0x101, &[])],
    );
    let key = [
        &[0, 0, 0, 1][..],
        SPS,
        &[0, 0, 1],
        PPS,
        &[0, 0, 1, 0x65, 0x88, 0x11],
    ]
    .concat();
    w.pes(0x100, 0xE0, Some(0), None, &key, false);
    // An unbounded PES of more than 16 MiB.
    let mut huge = vec![0, 0, 1, 0x41];
    huge.resize(MAX_PES_SIZE + 1000, 0x33);
    w.pes(0x100, 0xE0, Some(3600), None, &huge, false);
    w.pes(0x100, 0xE0, Some(7200), None, &key, false);
    // A bounded audio PES that says it is longer than it is: truncated at the next start.
    let mut a = pes_packet(0xC0, Some(0), None, &adts_frame(3, 10, 1), true);
    a[5] += 50;
    w.packets(0x101, &a, None);
    w.pes(0x101, 0xC0, Some(1920), None, &adts_frame(3, 10, 2), true);
    w.pes(0x100, 0xE0, Some(10_800), None, &key, false);
    let (events, stats) = demux(&w.out);
    let v: Vec<i64> = frames_of(&events, 0).iter().map(|f| f.pts).collect();
    assert_eq!(v, vec![0, 7200, 10_800]);
    let a: Vec<i64> = frames_of(&events, 1).iter().map(|f| f.pts).collect();
    assert_eq!(a, vec![1920]);
    assert_eq!((stats.pes_errors, stats.frames_dropped), (2, 2));
}

// ---------------------------------------------------------------------------------------------
// PSI

#[test]
fn pmt_change_adds_audio_and_moves_pids() {
    let mut w = Writer::default();
    w.pat(1, 0x1000, 0);
    w.pmt(0x1000, 1, 0, 0x100, &[(0x1B, 0x100, &[])]);
    let key = |n: u8| {
        [
            &[0, 0, 0, 1][..],
            SPS,
            &[0, 0, 1],
            PPS,
            &[0, 0, 1, 0x65, 0x88, n],
        ]
        .concat()
    };
    let p = |n: u8| vec![0, 0, 1, 0x41, 0x9a, n];
    w.pes(0x100, 0xE0, Some(0), None, &key(1), false);
    w.pes(0x100, 0xE0, Some(3600), None, &p(2), false);
    // Version 1: video moves to 0x200, AAC on 0x201, an SCTE-35 stream that is ignored.
    w.pmt(
        0x1000,
        1,
        1,
        0x200,
        &[(0x1B, 0x200, &[]), (0x0F, 0x201, &[]), (0x86, 0x202, &[])],
    );
    w.pes(0x100, 0xE0, Some(7200), None, &p(3), false); // the old PID: ignored now
    w.pes(0x200, 0xE0, Some(10_800), None, &p(4), false); // waits for a keyframe
    w.pes(0x201, 0xC0, Some(10_000), None, &adts_frame(3, 10, 1), true);
    w.pes(0x200, 0xE0, Some(14_400), None, &key(5), false);
    w.pes(0x202, 0xFC, Some(0), None, &[1, 2, 3], true);
    // The same PMT again: nothing changes.
    w.pmt(
        0x1000,
        1,
        1,
        0x200,
        &[(0x1B, 0x200, &[]), (0x0F, 0x201, &[]), (0x86, 0x202, &[])],
    );
    // Version 2: the audio is gone.
    w.pmt(0x1000, 1, 2, 0x200, &[(0x1B, 0x200, &[])]);
    w.pes(0x200, 0xE0, Some(18_000), None, &p(6), false);
    let (events, stats) = demux(&w.out);
    let log: Vec<String> = events
        .iter()
        .map(|e| match e {
            DemuxEvent::Tracks(i) => format!(
                "tracks {:?}",
                i.tracks.iter().map(|t| t.codec.name()).collect::<Vec<_>>()
            ),
            DemuxEvent::Frame(f) => format!("{} {}", f.track, f.pts),
        })
        .collect();
    assert_eq!(
        log,
        vec![
            r#"tracks ["h264"]"#,
            "0 0",
            "0 3600", // completed when the PMT moved the video
            r#"tracks ["h264", "aac"]"#,
            "1 10000",
            // The audio goes away with PMT version 2; the video frame before it was still
            // waiting for the start of the next one.
            r#"tracks ["h264"]"#,
            "0 14400",
            "0 18000",
        ]
    );
    assert_eq!(stats.pmt_changes, 2);
    assert_eq!(stats.unsupported_streams, 1);
    assert_eq!(stats.frames_dropped, 1);
}

#[test]
fn unsupported_streams_are_ignored() {
    let mut w = Writer::default();
    w.pat(1, 0x1000, 0);
    w.pmt(
        0x1000,
        1,
        0,
        0x100,
        &[
            (0x03, 0x104, &[]), // MP3
            (0x81, 0x105, &[]), // AC-3
            (0x06, 0x106, &[0x05, 4, b'A', b'C', b'-', b'3']),
            (0x15, 0x107, &[]), // ID3 metadata
            (0x1B, 0x100, &[]),
            (0x24, 0x108, &[]), // a second video stream
            (0x0F, 0x100, &[]), // a PID already taken
            (
                0x06,
                0x109,
                &[0x05, 4, b'O', b'p', b'u', b's', 0x7F, 2, 0x80, 0x81],
            ),
            (0x0F, 0x101, &[]),
        ],
    );
    for pid in [0x104, 0x105, 0x106, 0x107, 0x108, 0x109] {
        w.pes(pid, 0xC0, Some(0), None, &[0xFF, 0xF1, 0x47, 0x47], true);
    }
    let key = [
        &[0, 0, 0, 1][..],
        SPS,
        &[0, 0, 1],
        PPS,
        &[0, 0, 1, 0x65, 0x88, 1],
    ]
    .concat();
    w.pes(0x100, 0xE0, Some(0), None, &key, false);
    w.pes(0x101, 0xC0, Some(0), None, &adts_frame(3, 10, 1), true);
    let (events, stats) = demux(&w.out);
    assert_eq!(stats.unsupported_streams, 7);
    assert_eq!(frames_of(&events, 0).len(), 1);
    assert_eq!(frames_of(&events, 1).len(), 1);
    assert_eq!(tracks_events(&events)[0].tracks.len(), 2);
    assert_eq!(
        stats.pes_errors + stats.continuity_errors + stats.psi_errors,
        0
    );
}

#[test]
fn psi_across_packets_bad_crc_and_program_choice() {
    let mut w = Writer::default();
    // A PAT whose CRC is wrong is ignored.
    let mut bad = section(0x00, 1, 0, &[0, 1, 0xE0, 0x50]);
    bad[10] ^= 1;
    w.section(0, &bad);
    // Then a PAT with a network PID entry and two programs: the first program is used.
    let s = section(
        0x00,
        1,
        0,
        &[0, 0, 0xE0, 0x10, 0, 7, 0xE0, 0x60, 0, 9, 0xE0, 0x70],
    );
    w.section(0, &s);
    // The PMT of another program on another PID, then ours, spread over two packets by a
    // long descriptor loop, with a private section before it in the same packets.
    w.pmt(0x70, 9, 0, 0x300, &[(0x1B, 0x300, &[])]);
    let pad = [0x99u8; 250];
    let mut desc = vec![0x99, 250];
    desc.extend_from_slice(&pad);
    let pmt = pmt_section(7, 3, 0x100, &[(0x1B, 0x100, &desc), (0x0F, 0x101, &[])]);
    let private = section(0x42, 1, 0, &[1, 2, 3]);
    let mut payload = vec![0];
    payload.extend_from_slice(&private);
    payload.extend_from_slice(&pmt);
    let mut rest = &payload[..];
    let mut first = true;
    while !rest.is_empty() {
        let n = rest.len().min(184);
        let cc = w.next_cc(0x60);
        let start = w.out.len();
        w.out
            .extend_from_slice(&[0x47, if first { 0x40 } else { 0 }, 0x60, 0x10 | cc]);
        w.out.extend_from_slice(&rest[..n]);
        w.out.resize(start + TS_PACKET_SIZE, 0xFF);
        rest = &rest[n..];
        first = false;
    }
    let key = [
        &[0, 0, 0, 1][..],
        SPS,
        &[0, 0, 1],
        PPS,
        &[0, 0, 1, 0x65, 0x88, 1],
    ]
    .concat();
    w.pes(0x100, 0xE0, Some(0), None, &key, false);
    w.pes(0x101, 0xC0, Some(0), None, &adts_frame(3, 10, 1), true);
    w.pes(0x300, 0xE0, Some(0), None, &key, false);
    let (events, stats) = demux(&w.out);
    assert_eq!(stats.psi_errors, 1);
    assert_eq!(tracks_events(&events).len(), 1);
    assert_eq!(tracks_events(&events)[0].tracks.len(), 2);
    assert_eq!(stats.frames, 2);
}

#[test]
fn h264_parameter_set_change_is_announced_before_its_frame() {
    let mut sps2 = SPS.to_vec();
    sps2[3] = 0x28; // level 4.0
    let mut w = Writer::default();
    w.pat(1, 0x1000, 0);
    w.pmt(0x1000, 1, 0, 0x100, &[(0x1B, 0x100, &[])]);
    let key = |sps: &[u8], n: u8| {
        [
            &[0, 0, 0, 1, 9, 0xF0, 0, 0, 0, 1][..],
            sps,
            &[0, 0, 1],
            PPS,
            &[0, 0, 1, 0x65, 0x88, n],
            &[0, 0, 1, 12, 0xFF, 0xFF, 0x80],
        ]
        .concat()
    };
    w.pes(0x100, 0xE0, Some(0), None, &key(SPS, 1), false);
    w.pes(0x100, 0xE0, Some(3600), None, &key(SPS, 2), false);
    w.pes(0x100, 0xE0, Some(7200), None, &key(&sps2, 3), false);
    // Parameter sets alone in a PES: carried into the next access unit.
    w.pes(
        0x100,
        0xE0,
        Some(10_800),
        None,
        &[&[0, 0, 1][..], SPS, &[0, 0, 1], PPS].concat(),
        false,
    );
    w.pes(
        0x100,
        0xE0,
        Some(10_800),
        None,
        &[0, 0, 1, 0x65, 0x88, 4],
        false,
    );
    let (events, _) = demux(&w.out);
    let infos = tracks_events(&events);
    assert_eq!(infos.len(), 3);
    assert_eq!(infos[1].tracks[0].codec, h264_config(&sps2));
    assert_eq!(infos[2].tracks[0].codec, h264_config(SPS));
    // The new configuration comes right before the frame that carries it.
    assert!(matches!(&events[3], DemuxEvent::Tracks(_)));
    assert!(matches!(&events[4], DemuxEvent::Frame(f) if f.pts == 7200));
    let v = frames_of(&events, 0);
    assert_eq!(v.len(), 4);
    // AUD and filler data are removed; the sets stay in the access unit.
    assert_eq!(v[0].data, au(&[SPS, PPS, &[0x65, 0x88, 1]]));
    assert_eq!(v[3].data, au(&[SPS, PPS, &[0x65, 0x88, 4]]));
}

#[test]
fn hevc_config_needs_all_three_sets() {
    let mut w = Writer::default();
    w.pat(1, 0x1000, 0);
    w.pmt(0x1000, 1, 0, 0x100, &[(0x24, 0x100, &[])]);
    let sc = |n: &[u8]| [&[0, 0, 0, 1][..], n].concat();
    let aud = sc(&[0x46, 0x01, 0x50]);
    // SPS and PPS without VPS: no configuration yet, the keyframe is dropped.
    w.pes(
        0x100,
        0xE0,
        Some(0),
        None,
        &[
            aud.clone(),
            sc(HEVC_SPS),
            sc(HEVC_PPS),
            sc(&[0x26, 1, 0xAA]),
        ]
        .concat(),
        false,
    );
    w.pes(
        0x100,
        0xE0,
        Some(3600),
        None,
        &[
            aud.clone(),
            sc(HEVC_VPS),
            sc(HEVC_SPS),
            sc(HEVC_PPS),
            sc(&[0x28, 1, 0xBB]),
        ]
        .concat(),
        false,
    );
    w.pes(
        0x100,
        0xE0,
        Some(7200),
        None,
        &[aud, sc(&[0x02, 1, 0xCC])].concat(),
        false,
    );
    let (events, stats) = demux(&w.out);
    assert_eq!(
        tracks_events(&events),
        vec![MediaInfo {
            tracks: vec![track(0, 90_000, h265_config())]
        }]
    );
    let v = frames_of(&events, 0);
    assert_eq!(v.len(), 2);
    assert!(v[0].keyframe && !v[1].keyframe, "CRA is a keyframe");
    assert_eq!(
        v[0].data,
        au(&[HEVC_VPS, HEVC_SPS, HEVC_PPS, &[0x28, 1, 0xBB]])
    );
    assert_eq!(stats.frames_dropped, 1);
    assert_eq!(h265::nal_type(&v[1].data[4..]), 1);
}

// ---------------------------------------------------------------------------------------------
// Properties

fn garbage_stream() -> Vec<u8> {
    let s = stream(Video::H264, Audio::Aac, 1, 0);
    let ts = mux(&s);
    let mut out = vec![0x47, 0x00, 0x47];
    for (i, p) in ts.chunks(TS_PACKET_SIZE).enumerate() {
        if i == 30 {
            out.extend_from_slice(&p[..100]); // cut short
            continue;
        }
        out.extend_from_slice(p);
        if i % 40 == 7 {
            out.extend_from_slice(&[0x47, 0x47, 0x11, 0x47]);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn split_points_do_not_change_the_output(sizes in proptest::collection::vec(1usize..700, 1..20)) {
        let ts = garbage_stream();
        let whole = demux(&ts);
        let split = demux_split(&ts, &sizes);
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn never_panics_on_damaged_streams(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..64),
        cuts in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..400), 0..4),
        sizes in proptest::collection::vec(1usize..500, 1..4),
    ) {
        let mut ts = garbage_stream();
        for (at, len) in cuts {
            let start = at.index(ts.len());
            let end = (start + len).min(ts.len());
            ts.drain(start..end);
        }
        for (at, b) in edits {
            let i = at.index(ts.len());
            ts[i] = b;
        }
        demux_split(&ts, &sizes);
    }

    #[test]
    fn never_panics_on_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..4000)) {
        // Random bytes with a sync byte every 188, so that packets are parsed.
        let mut ts = data;
        for i in (0..ts.len()).step_by(TS_PACKET_SIZE) {
            ts[i] = 0x47;
            if let Some(b) = ts.get_mut(i + 1) {
                *b &= 0x5F; // no transport error, small PIDs
            }
        }
        demux(&ts);
    }
}
