//! Unit tests of the muxer, checked with a small independent TS parser.

use std::collections::HashMap;

use bytes::Bytes;
use proptest::prelude::*;
use weir_media::codec::h264;
use weir_media::{
    AacConfig, CodecConfig, Frame, H264Config, H265Config, MediaInfo, MediaKind, OpusConfig, Track,
};

use crate::*;

/// SPS of x264, High profile level 3.1, 1280x720.
const SPS: &[u8] = &[
    0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
    0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x83, 0x19, 0x60,
];
const PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];

fn h264_track(id: u8) -> Track {
    let cfg = H264Config::from_parameter_sets(
        vec![Bytes::from_static(SPS)],
        vec![Bytes::from_static(PPS)],
    )
    .expect("valid SPS");
    Track {
        id,
        timescale: 1000,
        codec: CodecConfig::H264(cfg),
    }
}

fn aac_track(id: u8) -> Track {
    let cfg = AacConfig::from_fields(2, 3, 2).expect("valid AAC fields");
    Track {
        id,
        timescale: 48_000,
        codec: CodecConfig::Aac(cfg),
    }
}

fn av_info() -> MediaInfo {
    MediaInfo {
        tracks: vec![h264_track(0), aac_track(1)],
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

fn slice_nal(keyframe: bool, size: usize) -> Vec<u8> {
    let mut v = vec![if keyframe { 0x65 } else { 0x41 }];
    v.extend((0..size).map(|i| (i % 251) as u8 | 1));
    v
}

fn video(track: u8, ts_ms: i64, cts_ms: i64, keyframe: bool, size: usize) -> Frame {
    Frame {
        track,
        kind: MediaKind::Video,
        pts: ts_ms + cts_ms,
        dts: ts_ms,
        timescale: 1000,
        keyframe,
        data: au(&[&slice_nal(keyframe, size)]),
    }
}

fn audio(track: u8, ts: i64, timescale: u32, size: usize) -> Frame {
    Frame {
        track,
        kind: MediaKind::Audio,
        pts: ts,
        dts: ts,
        timescale,
        keyframe: true,
        data: Bytes::from(vec![0x21; size]),
    }
}

// ---------------------------------------------------------------------------------------------
// A minimal transport stream parser used as an oracle.

#[derive(Debug, Clone)]
struct Packet {
    pid: u16,
    pusi: bool,
    cc: u8,
    has_payload: bool,
    random_access: bool,
    discontinuity: bool,
    pcr: Option<u64>,
    payload: Vec<u8>,
}

fn parse_packets(ts: &[u8]) -> Vec<Packet> {
    assert_eq!(
        ts.len() % TS_PACKET_SIZE,
        0,
        "stream is not a whole number of packets"
    );
    ts.chunks(TS_PACKET_SIZE)
        .map(|p| {
            assert_eq!(p[0], 0x47, "sync byte");
            let pid = u16::from_be_bytes([p[1] & 0x1F, p[2]]);
            let afc = (p[3] >> 4) & 3;
            assert_ne!(afc, 0, "reserved adaptation_field_control");
            let mut pos = 4;
            let (mut random_access, mut discontinuity, mut pcr) = (false, false, None);
            if afc & 2 != 0 {
                let len = p[4] as usize;
                assert!(len <= 183);
                if afc == 2 {
                    assert_eq!(len, 183, "adaptation-only packet must fill the packet");
                }
                if len > 0 {
                    let flags = p[5];
                    discontinuity = flags & 0x80 != 0;
                    random_access = flags & 0x40 != 0;
                    if flags & 0x10 != 0 {
                        let b = &p[6..12];
                        let base = (u64::from(b[0]) << 25)
                            | (u64::from(b[1]) << 17)
                            | (u64::from(b[2]) << 9)
                            | (u64::from(b[3]) << 1)
                            | (u64::from(b[4]) >> 7);
                        assert_eq!(b[4] & 0x7E, 0x7E, "PCR reserved bits");
                        pcr = Some(base);
                    }
                    // Everything after the fields we write must be stuffing.
                    let used = if flags & 0x10 != 0 { 7 } else { 1 };
                    assert!(
                        p[5 + used..5 + len].iter().all(|&b| b == 0xFF),
                        "stuffing bytes"
                    );
                }
                pos = 5 + len;
            }
            Packet {
                pid,
                pusi: p[1] & 0x40 != 0,
                cc: p[3] & 0x0F,
                has_payload: afc & 1 != 0,
                random_access,
                discontinuity,
                pcr,
                payload: if afc & 1 != 0 {
                    p[pos..].to_vec()
                } else {
                    Vec::new()
                },
            }
        })
        .collect()
}

/// Checks the continuity counters of every PID; returns the number of payload packets per PID.
fn check_continuity(packets: &[Packet]) -> HashMap<u16, usize> {
    let mut last: HashMap<u16, u8> = HashMap::new();
    let mut counts: HashMap<u16, usize> = HashMap::new();
    for p in packets {
        if let Some(&prev) = last.get(&p.pid) {
            let expect = if p.has_payload {
                (prev + 1) & 0x0F
            } else {
                prev
            };
            assert_eq!(p.cc, expect, "continuity counter of PID {:#x}", p.pid);
        }
        last.insert(p.pid, p.cc);
        if p.has_payload {
            *counts.entry(p.pid).or_default() += 1;
        }
    }
    counts
}

#[derive(Debug)]
struct Pes {
    stream_id: u8,
    length_field: u16,
    pts: Option<u64>,
    dts: Option<u64>,
    data: Vec<u8>,
    random_access: bool,
    pcr: Option<u64>,
}

fn parse_timestamp(b: &[u8], prefix: u8) -> u64 {
    assert_eq!(b[0] >> 4, prefix, "timestamp prefix");
    assert!(
        b[0] & 1 == 1 && b[2] & 1 == 1 && b[4] & 1 == 1,
        "marker bits"
    );
    (u64::from(b[0] >> 1 & 7) << 30)
        | (u64::from(b[1]) << 22)
        | (u64::from(b[2] >> 1) << 15)
        | (u64::from(b[3]) << 7)
        | u64::from(b[4] >> 1)
}

/// Reassembles the PES packets of `pid`.
fn pes_packets(packets: &[Packet], pid: u16) -> Vec<Pes> {
    let mut out: Vec<Pes> = Vec::new();
    let mut cur: Option<(Vec<u8>, bool, Option<u64>)> = None;
    let finish = |buf: Vec<u8>, ra: bool, pcr: Option<u64>, out: &mut Vec<Pes>| {
        assert_eq!(&buf[..3], &[0, 0, 1], "PES start code");
        let length_field = u16::from_be_bytes([buf[4], buf[5]]);
        if length_field != 0 {
            assert_eq!(length_field as usize, buf.len() - 6, "PES_packet_length");
        }
        assert_eq!(buf[6] & 0xC0, 0x80);
        let flags = buf[7] >> 6;
        let hlen = buf[8] as usize;
        let (pts, dts) = match flags {
            2 => (Some(parse_timestamp(&buf[9..14], 2)), None),
            3 => (
                Some(parse_timestamp(&buf[9..14], 3)),
                Some(parse_timestamp(&buf[14..19], 1)),
            ),
            _ => panic!("PES without PTS"),
        };
        out.push(Pes {
            stream_id: buf[3],
            length_field,
            pts,
            dts,
            data: buf[9 + hlen..].to_vec(),
            random_access: ra,
            pcr,
        });
    };
    for p in packets.iter().filter(|p| p.pid == pid && p.has_payload) {
        if p.pusi {
            if let Some((buf, ra, pcr)) = cur.take() {
                finish(buf, ra, pcr, &mut out);
            }
            cur = Some((p.payload.clone(), p.random_access, p.pcr));
        } else {
            cur.as_mut()
                .expect("continuation without start")
                .0
                .extend_from_slice(&p.payload);
        }
    }
    if let Some((buf, ra, pcr)) = cur.take() {
        finish(buf, ra, pcr, &mut out);
    }
    out
}

/// Parses the PSI section in a packet with PUSI, verifying its CRC.
fn section(p: &Packet) -> Vec<u8> {
    assert!(p.pusi);
    let pointer = p.payload[0] as usize;
    let s = &p.payload[1 + pointer..];
    let len = u16::from_be_bytes([s[1] & 0x0F, s[2]]) as usize;
    let sec = s[..3 + len].to_vec();
    assert_eq!(crc32_mpeg2(&sec), 0, "section CRC");
    sec
}

// ---------------------------------------------------------------------------------------------

fn mux_av(n_video: usize, video_size: usize) -> Vec<u8> {
    let mut m = TsMuxer::new(&av_info());
    let mut out = Vec::new();
    m.write_tables(&mut out);
    let mut a = 0i64;
    for i in 0..n_video {
        let t = 5_000 + i as i64 * 40;
        m.write_frame(&video(0, t, 0, i % 25 == 0, video_size + i * 37), &mut out)
            .unwrap();
        while a * 1024 * 1000 / 48_000 < t - 5_000 + 40 {
            m.write_frame(
                &audio(1, 240_000 + a * 1024, 48_000, 200 + (a as usize % 50)),
                &mut out,
            )
            .unwrap();
            a += 1;
        }
    }
    out
}

#[test]
fn packets_are_188_bytes_with_sync() {
    let out = mux_av(50, 3000);
    assert!(!out.is_empty());
    assert_eq!(out.len() % TS_PACKET_SIZE, 0);
    for p in out.chunks(TS_PACKET_SIZE) {
        assert_eq!(p.len(), TS_PACKET_SIZE);
        assert_eq!(p[0], 0x47);
    }
    parse_packets(&out);
}

#[test]
fn continuity_counters_increase_and_wrap() {
    let out = mux_av(200, 5000);
    let packets = parse_packets(&out);
    let counts = check_continuity(&packets);
    assert!(counts[&VIDEO_PID] > 100, "long enough to wrap many times");
    assert!(counts[&AUDIO_PID] > 16, "audio wraps too");
    // Continuity also holds across segments (tables written again).
    let mut m = TsMuxer::new(&av_info());
    let mut out = Vec::new();
    for seg in 0..20 {
        m.write_tables(&mut out);
        m.write_frame(&video(0, seg * 40, 0, true, 100), &mut out)
            .unwrap();
    }
    let counts = check_continuity(&parse_packets(&out));
    assert_eq!(counts[&PAT_PID], 20);
    assert_eq!(counts[&PMT_PID], 20);
}

#[test]
fn pat_and_pmt_are_valid() {
    let mut m = TsMuxer::new(&av_info());
    let mut out = Vec::new();
    m.write_tables(&mut out);
    let packets = parse_packets(&out);
    assert_eq!(packets.len(), 2);
    assert_eq!(packets[0].pid, PAT_PID);
    let pat = section(&packets[0]);
    assert_eq!(pat[0], 0x00);
    assert_eq!(
        &pat[8..12],
        &[0x00, 0x01, 0xF0, 0x00],
        "program 1 -> PMT PID 0x1000"
    );
    assert_eq!(packets[1].pid, PMT_PID);
    let pmt = section(&packets[1]);
    assert_eq!(pmt[0], 0x02);
    assert_eq!(
        u16::from_be_bytes([pmt[8] & 0x1F, pmt[9]]),
        VIDEO_PID,
        "PCR PID"
    );
    // Two ES entries without descriptors, then the CRC.
    assert_eq!(&pmt[12..17], &[0x1B, 0xE1, 0x00, 0xF0, 0x00]);
    assert_eq!(&pmt[17..22], &[0x0F, 0xE1, 0x01, 0xF0, 0x00]);
    assert_eq!(pmt.len(), 22 + 4);

    // Corrupting a byte breaks the CRC.
    let mut bad = pat.clone();
    bad[4] ^= 1;
    assert_ne!(crc32_mpeg2(&bad), 0);
}

#[test]
fn audio_only_and_opus_and_hevc_tables() {
    let opus = Track {
        id: 3,
        timescale: 48_000,
        codec: CodecConfig::Opus(OpusConfig {
            channels: 2,
            sample_rate: 48_000,
            pre_skip: 312,
        }),
    };
    let hevc = Track {
        id: 2,
        timescale: 90_000,
        codec: CodecConfig::H265(H265Config {
            hvcc: Bytes::new(),
            vps: vec![Bytes::from_static(&[0x40, 0x01, 0xAA])],
            sps: vec![Bytes::from_static(&[0x42, 0x01, 0xBB])],
            pps: vec![Bytes::from_static(&[0x44, 0x01, 0xCC])],
            profile: 1,
            level: 93,
            width: 640,
            height: 360,
        }),
    };
    let mut m = TsMuxer::new(&MediaInfo {
        tracks: vec![hevc, opus],
    });
    let mut out = Vec::new();
    m.write_tables(&mut out);
    let pmt = section(&parse_packets(&out)[1]);
    assert_eq!(&pmt[12..17], &[0x24, 0xE1, 0x00, 0xF0, 0x00]);
    assert_eq!(&pmt[17..22], &[0x06, 0xE1, 0x01, 0xF0, 10]);
    assert_eq!(
        &pmt[22..32],
        &[0x05, 4, b'O', b'p', b'u', b's', 0x7F, 2, 0x80, 2]
    );

    // An HEVC keyframe gets AUD + VPS/SPS/PPS; Opus gets its control header.
    out.clear();
    let idr = [0x26, 0x01, 0x11, 0x22];
    let f = Frame {
        track: 2,
        kind: MediaKind::Video,
        pts: 9000,
        dts: 9000,
        timescale: 90_000,
        keyframe: true,
        data: au(&[&idr]),
    };
    m.write_frame(&f, &mut out).unwrap();
    let f = audio(3, 960, 48_000, 300);
    m.write_frame(&f, &mut out).unwrap();
    let packets = parse_packets(&out);
    let v = pes_packets(&packets, VIDEO_PID);
    assert_eq!(
        v[0].data,
        [
            &[0, 0, 0, 1, 0x46, 0x01, 0x50][..],
            &[0, 0, 0, 1, 0x40, 0x01, 0xAA],
            &[0, 0, 0, 1, 0x42, 0x01, 0xBB],
            &[0, 0, 0, 1, 0x44, 0x01, 0xCC],
            &[0, 0, 0, 1, 0x26, 0x01, 0x11, 0x22]
        ]
        .concat()
    );
    let a = pes_packets(&packets, AUDIO_PID);
    assert_eq!(a[0].stream_id, 0xBD);
    assert_eq!(&a[0].data[..4], &[0x7F, 0xE0, 0xFF, 45]);
    assert_eq!(a[0].data.len(), 4 + 300);
    assert_eq!(a[0].pts, Some(1800));

    // Audio only: PCR on the audio PID.
    let m = TsMuxer::new(&MediaInfo {
        tracks: vec![aac_track(0)],
    });
    assert_eq!(m.pcr_pid(), Some(AUDIO_PID));
    // Nothing muxable: no PCR PID, and frames are rejected.
    let av1 = Track {
        id: 0,
        timescale: 1000,
        codec: CodecConfig::Av1(weir_media::Av1Config { av1c: Bytes::new() }),
    };
    let mut m = TsMuxer::new(&MediaInfo { tracks: vec![av1] });
    assert_eq!(m.pcr_pid(), None);
    assert!(matches!(
        m.write_frame(&video(0, 0, 0, true, 10), &mut out),
        Err(TsError::UnknownTrack(0))
    ));
}

#[test]
fn keyframes_get_aud_parameter_sets_rai_and_pcr() {
    let mut m = TsMuxer::new(&av_info());
    let mut out = Vec::new();
    m.write_tables(&mut out);
    m.write_frame(&video(0, 1000, 0, true, 500), &mut out)
        .unwrap();
    m.write_frame(&video(0, 1040, 0, false, 500), &mut out)
        .unwrap();
    // A keyframe that already carries its parameter sets gets no extra copies.
    let idr = slice_nal(true, 100);
    let inband = Frame {
        data: au(&[&[9, 0x10], SPS, PPS, &idr]),
        ..video(0, 1080, 0, true, 0)
    };
    m.write_frame(&inband, &mut out).unwrap();
    let packets = parse_packets(&out);
    let pes = pes_packets(&packets, VIDEO_PID);
    assert_eq!(pes.len(), 3);

    let aud = [0u8, 0, 0, 1, 9, 0xF0];
    let nals = |d: &[u8]| {
        weir_media::codec::nal::split_annexb(d)
            .iter()
            .map(|n| h264::nal_type(n))
            .collect::<Vec<_>>()
    };
    assert_eq!(&pes[0].data[..6], &aud);
    assert_eq!(nals(&pes[0].data), vec![9, 7, 8, 5]);
    assert!(pes[0].random_access);
    assert_eq!(nals(&pes[1].data), vec![9, 1]);
    assert!(!pes[1].random_access);
    assert_eq!(
        nals(&pes[2].data),
        vec![9, 7, 8, 5],
        "in-band AUD replaced, sets not duplicated"
    );
    assert!(pes[2].random_access);

    for (p, t) in pes.iter().zip([1000u64, 1040, 1080]) {
        assert_eq!(p.stream_id, 0xE0);
        assert_eq!(p.pts, Some(t * 90));
        assert_eq!(p.dts, None, "no DTS when equal to PTS");
        assert_eq!(
            p.pcr,
            Some(t * 90 - PCR_OFFSET_90K as u64),
            "PCR on every video PES"
        );
        assert_eq!(p.length_field as usize, p.data.len() + 3 + 5);
    }
}

#[test]
fn pts_differs_from_dts_with_composition_offset() {
    let mut m = TsMuxer::new(&av_info());
    let mut out = Vec::new();
    m.write_frame(&video(0, 0, 80, true, 50), &mut out).unwrap();
    let pes = pes_packets(&parse_packets(&out), VIDEO_PID);
    assert_eq!(pes[0].pts, Some(80 * 90));
    assert_eq!(pes[0].dts, Some(0));
    assert_eq!(pes[0].pcr, Some(0), "first PCR is not negative");
}

#[test]
fn timestamps_wrap_at_33_bits() {
    let mut m = TsMuxer::new(&av_info());
    let mut out = Vec::new();
    let wrap: i64 = 1 << 33;
    for (i, dts) in [wrap - 3600, wrap, wrap + 3600, 3 * wrap + 7]
        .into_iter()
        .enumerate()
    {
        let f = Frame {
            timescale: 90_000,
            ..video(0, dts, 1800, i == 0, 50)
        };
        m.write_frame(&f, &mut out).unwrap();
    }
    let pes = pes_packets(&parse_packets(&out), VIDEO_PID);
    let got: Vec<_> = pes
        .iter()
        .map(|p| (p.pts.unwrap(), p.dts.unwrap(), p.pcr.unwrap()))
        .collect();
    let mask = (wrap - 1) as u64;
    assert_eq!(
        got,
        vec![
            (
                (wrap - 1800) as u64,
                (wrap - 3600) as u64,
                (wrap - 3600 - PCR_OFFSET_90K) as u64
            ),
            (1800, 0, (wrap - PCR_OFFSET_90K) as u64 & mask),
            (5400, 3600, (wrap + 3600 - PCR_OFFSET_90K) as u64 & mask),
            (1807, 7, (wrap - PCR_OFFSET_90K + 7) as u64),
        ]
    );
    // Negative timestamps wrap as well.
    let mut out = Vec::new();
    m.write_frame(
        &Frame {
            timescale: 90_000,
            ..video(0, -90, 0, false, 10)
        },
        &mut out,
    )
    .unwrap();
    assert_eq!(
        pes_packets(&parse_packets(&out), VIDEO_PID)[0].pts,
        Some((wrap - 90) as u64)
    );
}

#[test]
fn large_video_pes_is_unbounded_and_audio_is_bounded() {
    let mut m = TsMuxer::new(&av_info());
    let mut out = Vec::new();
    m.write_frame(&video(0, 0, 0, true, 70_000), &mut out)
        .unwrap();
    m.write_frame(&video(0, 40, 0, false, 65_000), &mut out)
        .unwrap();
    m.write_frame(&audio(1, 0, 48_000, 8000), &mut out).unwrap();
    let packets = parse_packets(&out);
    let v = pes_packets(&packets, VIDEO_PID);
    assert_eq!(v[0].length_field, 0);
    assert!(v[0].data.len() > 70_000);
    assert_eq!(v[1].length_field as usize, 3 + 5 + v[1].data.len());
    let a = pes_packets(&packets, AUDIO_PID);
    assert_eq!(a[0].stream_id, 0xC0);
    assert_eq!(a[0].length_field as usize, 3 + 5 + 7 + 8000);
    let adts = weir_media::codec::aac::parse_adts(&a[0].data).unwrap();
    assert_eq!(
        (adts.frame_len, adts.sampling_index, adts.channels),
        (8007, 3, 2)
    );
    assert!(a[0].data[7..].iter().all(|&b| b == 0x21));
}

#[test]
fn errors_write_nothing() {
    let mut m = TsMuxer::new(&av_info());
    let mut out = Vec::new();
    m.write_frame(&video(0, 0, 0, true, 10), &mut out).unwrap();
    let before = out.clone();
    let bad_nal = Frame {
        data: Bytes::from_static(&[0, 0, 0, 9, 0x65, 1]),
        ..video(0, 40, 0, false, 0)
    };
    assert!(matches!(
        m.write_frame(&bad_nal, &mut out),
        Err(TsError::Nal(_))
    ));
    let only_aud = Frame {
        data: au(&[&[9, 0xF0]]),
        ..video(0, 40, 0, false, 0)
    };
    assert!(matches!(
        m.write_frame(&only_aud, &mut out),
        Err(TsError::EmptyFrame)
    ));
    assert!(matches!(
        m.write_frame(&video(7, 40, 0, false, 10), &mut out),
        Err(TsError::UnknownTrack(7))
    ));
    let empty = Frame {
        data: Bytes::new(),
        ..video(0, 40, 0, false, 0)
    };
    assert!(matches!(
        m.write_frame(&empty, &mut out),
        Err(TsError::EmptyFrame)
    ));
    let zero = Frame {
        timescale: 0,
        ..video(0, 40, 0, false, 10)
    };
    assert!(matches!(
        m.write_frame(&zero, &mut out),
        Err(TsError::ZeroTimescale)
    ));
    assert!(matches!(
        m.write_frame(&audio(1, 0, 48_000, 9000), &mut out),
        Err(TsError::FrameTooLarge {
            size: 9000,
            max: 8184
        })
    ));
    assert_eq!(out, before);
    // The state is intact: the next frame continues the counters.
    m.write_frame(&video(0, 40, 0, false, 10), &mut out)
        .unwrap();
    check_continuity(&parse_packets(&out));
}

#[test]
fn pcr_interval_is_bounded_with_sparse_video() {
    // One video frame per second, audio every ~21 ms: PCR-only packets fill the gaps.
    let mut m = TsMuxer::new(&av_info());
    let mut out = Vec::new();
    m.write_tables(&mut out);
    // Audio before the first video frame also gets a PCR.
    m.write_frame(&audio(1, 0, 48_000, 100), &mut out).unwrap();
    for a in 1..470i64 {
        if a % 47 == 0 {
            m.write_frame(&video(0, a * 1024 * 1000 / 48_000, 0, true, 2000), &mut out)
                .unwrap();
        }
        m.write_frame(&audio(1, a * 1024, 48_000, 100), &mut out)
            .unwrap();
    }
    let packets = parse_packets(&out);
    check_continuity(&packets);
    let pcrs: Vec<(u64, bool)> = packets
        .iter()
        .filter(|p| p.pid == VIDEO_PID)
        .filter_map(|p| p.pcr.map(|c| (c, p.has_payload)))
        .collect();
    assert!(
        pcrs.iter().any(|&(_, payload)| !payload),
        "PCR-only packets"
    );
    assert!(packets.iter().all(|p| !p.discontinuity));
    for w in pcrs.windows(2) {
        assert!(w[1].0 >= w[0].0, "PCR monotonic");
        assert!(
            w[1].0 - w[0].0 <= 9000 + 2 * 1920,
            "PCR gap {} too large",
            w[1].0 - w[0].0
        );
    }
    assert!(pcrs.last().unwrap().0 > 9 * 90_000);
}

#[test]
fn pcr_backward_jump_sets_discontinuity() {
    let mut m = TsMuxer::new(&av_info());
    let mut out = Vec::new();
    m.write_frame(&video(0, 100_000, 0, true, 10), &mut out)
        .unwrap();
    m.write_frame(&video(0, 100_040, 0, false, 10), &mut out)
        .unwrap();
    m.write_frame(&video(0, 0, 0, true, 10), &mut out).unwrap();
    let packets = parse_packets(&out);
    let flags: Vec<_> = packets
        .iter()
        .filter(|p| p.pcr.is_some())
        .map(|p| (p.pcr.unwrap(), p.discontinuity))
        .collect();
    assert_eq!(flags[2], (0, true));
    assert!(!flags[0].1 && !flags[1].1);
}

// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct ArbFrame {
    video: bool,
    dts: i64,
    cts: i64,
    timescale: u32,
    keyframe: bool,
    /// Either well-formed NAL units of these sizes, or raw bytes.
    nal_sizes: Vec<usize>,
    raw: Option<Vec<u8>>,
}

fn arb_frame() -> impl Strategy<Value = ArbFrame> {
    (
        any::<bool>(),
        prop_oneof![
            any::<i64>(),
            -100_000i64..100_000,
            (1i64 << 33) - 50_000..(1i64 << 33) + 50_000
        ],
        prop_oneof![Just(0i64), -1000i64..1000],
        prop_oneof![Just(1000u32), Just(90_000), Just(48_000), 0u32..200_000],
        any::<bool>(),
        proptest::collection::vec(
            prop_oneof![0usize..200, 0usize..20_000, 60_000usize..70_000],
            0..4,
        ),
        proptest::option::weighted(0.2, proptest::collection::vec(any::<u8>(), 0..400)),
    )
        .prop_map(
            |(video, dts, cts, timescale, keyframe, nal_sizes, raw)| ArbFrame {
                video,
                dts,
                cts,
                timescale,
                keyframe,
                nal_sizes,
                raw,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_and_keeps_continuity(frames in proptest::collection::vec(arb_frame(), 1..40)) {
        let mut m = TsMuxer::new(&av_info());
        let mut out = Vec::new();
        m.write_tables(&mut out);
        for (i, f) in frames.iter().enumerate() {
            let data = match &f.raw {
                Some(raw) => Bytes::from(raw.clone()),
                None if f.video => {
                    let nals: Vec<Vec<u8>> = f.nal_sizes.iter().map(|&s| slice_nal(f.keyframe, s)).collect();
                    let refs: Vec<&[u8]> = nals.iter().map(|n| n.as_slice()).collect();
                    au(&refs)
                }
                None => Bytes::from(vec![0x55; f.nal_sizes.iter().sum::<usize>() % 10_000]),
            };
            let frame = Frame {
                track: if f.video { 0 } else { 1 },
                kind: if f.video { MediaKind::Video } else { MediaKind::Audio },
                pts: f.dts.saturating_add(f.cts),
                dts: f.dts,
                timescale: f.timescale,
                keyframe: f.keyframe,
                data,
            };
            let before = out.len();
            if m.write_frame(&frame, &mut out).is_err() {
                prop_assert_eq!(out.len(), before);
            }
            if i % 7 == 0 {
                m.write_tables(&mut out);
            }
        }
        prop_assert_eq!(out.len() % TS_PACKET_SIZE, 0);
        let packets = parse_packets(&out);
        check_continuity(&packets);
        // Every PES reassembles.
        pes_packets(&packets, VIDEO_PID);
        pes_packets(&packets, AUDIO_PID);
    }
}
