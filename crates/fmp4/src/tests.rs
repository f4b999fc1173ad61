//! Unit tests: init segment layout, codec strings, errors, hold-back and finish, prft, styp.

use std::time::{Duration, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use weir_media::{
    AacConfig, Av1Config, CodecConfig, Frame, H264Config, H265Config, MediaKind, OpusConfig, Track,
};

#[path = "../tests/common/mod.rs"]
mod common;

use crate::*;
use common::{boxes, check_tree, child, parse_fragment};

const SPS: &[u8] = &[
    0x67, 0x64, 0x00, 0x0d, 0xac, 0xd9, 0x41, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10,
    0x00, 0x00, 0x03, 0x03, 0x20, 0xf1, 0x42, 0x99, 0x60,
];
const PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];

/// x265 parameter sets, Main profile, level 1 (30), 64x64 (from weir-media's tests).
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

fn h264() -> Track {
    let c = H264Config::from_parameter_sets(
        vec![Bytes::from_static(SPS)],
        vec![Bytes::from_static(PPS)],
    )
    .unwrap();
    Track {
        id: 0,
        timescale: 1000,
        codec: CodecConfig::H264(c),
    }
}

fn h265() -> Track {
    let c = H265Config::from_parameter_sets(
        vec![Bytes::from_static(HEVC_VPS)],
        vec![Bytes::from_static(HEVC_SPS)],
        vec![Bytes::from_static(HEVC_PPS)],
    )
    .unwrap();
    Track {
        id: 0,
        timescale: 90_000,
        codec: CodecConfig::H265(c),
    }
}

fn aac() -> Track {
    Track {
        id: 1,
        timescale: 1000,
        codec: CodecConfig::Aac(AacConfig::from_fields(2, 4, 2).unwrap()),
    }
}

fn opus(channels: u8) -> Track {
    Track {
        id: 2,
        timescale: 48_000,
        codec: CodecConfig::Opus(OpusConfig {
            channels,
            sample_rate: 48_000,
            pre_skip: 312,
        }),
    }
}

fn nals(units: &[&[u8]]) -> Bytes {
    let mut b = BytesMut::new();
    for u in units {
        b.put_u32(u.len() as u32);
        b.put_slice(u);
    }
    b.freeze()
}

/// A video frame at `ms` milliseconds.
fn video(ms: i64, keyframe: bool) -> Frame {
    let slice: &[u8] = if keyframe {
        &[0x65, 0x88, 0x80]
    } else {
        &[0x41, 0x9a]
    };
    Frame {
        track: 0,
        kind: MediaKind::Video,
        pts: ms,
        dts: ms,
        timescale: 1000,
        keyframe,
        data: nals(&[slice]),
    }
}

fn audio(ms: i64) -> Frame {
    Frame {
        track: 1,
        kind: MediaKind::Audio,
        pts: ms,
        dts: ms,
        timescale: 1000,
        keyframe: true,
        data: Bytes::from_static(&[0x21, 0x10, 0x04]),
    }
}

fn single(track: Track) -> Fmp4Muxer {
    Fmp4Muxer::new(&[track], Fmp4Options::default()).unwrap()
}

#[test]
fn init_segment_layout() {
    let mux = Fmp4Muxer::new(&[h264(), aac()], Fmp4Options::default()).unwrap();
    let init = mux.init_segment();
    let paths = check_tree(&init).unwrap();
    let trak = |kind: &str, entry: &[&str]| {
        let mut v = vec![
            "moov/trak".to_owned(),
            "moov/trak/tkhd".to_owned(),
            "moov/trak/mdia".to_owned(),
            "moov/trak/mdia/mdhd".to_owned(),
            "moov/trak/mdia/hdlr".to_owned(),
            "moov/trak/mdia/minf".to_owned(),
            format!("moov/trak/mdia/minf/{kind}"),
            "moov/trak/mdia/minf/dinf".to_owned(),
            "moov/trak/mdia/minf/dinf/dref".to_owned(),
            "moov/trak/mdia/minf/dinf/dref/url ".to_owned(),
            "moov/trak/mdia/minf/stbl".to_owned(),
            "moov/trak/mdia/minf/stbl/stsd".to_owned(),
        ];
        v.extend(
            entry
                .iter()
                .map(|e| format!("moov/trak/mdia/minf/stbl/stsd/{e}")),
        );
        for b in ["stts", "stsc", "stsz", "stco"] {
            v.push(format!("moov/trak/mdia/minf/stbl/{b}"));
        }
        v
    };
    let mut want = vec!["ftyp".to_owned(), "moov".to_owned(), "moov/mvhd".to_owned()];
    want.extend(trak("vmhd", &["avc1", "avc1/avcC"]));
    want.extend(trak("smhd", &["mp4a", "mp4a/esds"]));
    want.extend(["moov/mvex", "moov/mvex/trex", "moov/mvex/trex"].map(String::from));
    assert_eq!(paths, want);

    // ftyp: iso6, and no cmfc for a muxed file.
    let top = boxes(&init, 0).unwrap();
    assert_eq!(top[0].body, b"iso6\0\0\0\0iso6mp41");
    let single = single(h264()).init_segment();
    assert_eq!(boxes(&single, 0).unwrap()[0].body, b"iso6\0\0\0\0iso6cmfc");

    // Track ids, timescales and the sample entries' fields.
    let moov = &top[1];
    let traks: Vec<_> = boxes(moov.body, moov.body_start)
        .unwrap()
        .into_iter()
        .filter(|b| &b.typ == b"trak")
        .collect();
    let tkhd = child(&traks[0], b"tkhd").unwrap();
    assert_eq!(&tkhd.body[12..16], &1u32.to_be_bytes()); // track_ID = Weir id 0 + 1
    assert_eq!(&tkhd.body[76..84], &[1, 64, 0, 0, 0, 240, 0, 0]); // 320x240 in 16.16
    let mdhd = |t| child(&child(t, b"mdia").unwrap(), b"mdhd").unwrap();
    assert_eq!(&mdhd(&traks[0]).body[12..16], &90_000u32.to_be_bytes());
    assert_eq!(&mdhd(&traks[1]).body[12..16], &44_100u32.to_be_bytes());
    let mvhd = child(moov, b"mvhd").unwrap();
    assert_eq!(&mvhd.body[96..100], &3u32.to_be_bytes()); // next_track_ID
}

#[test]
fn codec_strings() {
    let mux = Fmp4Muxer::new(&[h264(), aac(), opus(2)], Fmp4Options::default()).unwrap();
    assert_eq!(mux.codecs(), "avc1.64000d,mp4a.40.2,opus");
    assert_eq!(mux.codec_string(0), Some("avc1.64000d"));
    assert_eq!(mux.codec_string(9), None);
    // Equal to weir-media's for H.264, AAC and Opus.
    for t in [h264(), aac(), opus(2)] {
        assert_eq!(
            single(t.clone()).codec_string(t.id).unwrap(),
            t.codec.rfc6381()
        );
    }
    let in_band = Fmp4Options {
        parameter_sets: ParameterSets::InBand,
    };
    let avc3 = Fmp4Muxer::new(&[h264()], in_band).unwrap();
    assert_eq!(avc3.codecs(), "avc3.64000d");
    // HEVC (ISO/IEC 14496-15 E.3): Main (1), compatibility flags 0x60000000 reversed (6), Main
    // tier level 30, constraint byte 0x90 (progressive, frame only).
    assert_eq!(single(h265()).codecs(), "hvc1.1.6.L30.90");
    assert_eq!(
        Fmp4Muxer::new(&[h265()], in_band).unwrap().codecs(),
        "hev1.1.6.L30.90"
    );
}

#[test]
fn hvc1_sets_array_completeness_and_hev1_keeps_the_record() {
    let CodecConfig::H265(cfg) = h265().codec else {
        unreachable!()
    };
    let find_hvcc = |init: &[u8]| -> Vec<u8> {
        let pos = init.windows(4).position(|w| w == b"hvcC").unwrap();
        let size = u32::from_be_bytes(init[pos - 4..pos].try_into().unwrap()) as usize;
        init[pos + 4..pos - 4 + size].to_vec()
    };
    let hvc1 = find_hvcc(&single(h265()).init_segment());
    assert_eq!(hvc1.len(), cfg.hvcc.len());
    assert_eq!(&hvc1[..23], &cfg.hvcc[..23]);
    let array_types: Vec<u8> = [
        23,
        23 + 5 + HEVC_VPS.len(),
        23 + 10 + HEVC_VPS.len() + HEVC_SPS.len(),
    ]
    .iter()
    .map(|&p| hvc1[p])
    .collect();
    assert_eq!(array_types, [0x80 | 32, 0x80 | 33, 0x80 | 34]);
    let in_band = Fmp4Options {
        parameter_sets: ParameterSets::InBand,
    };
    let hev1 = find_hvcc(&Fmp4Muxer::new(&[h265()], in_band).unwrap().init_segment());
    assert_eq!(&hev1[..], &cfg.hvcc[..]);
}

#[test]
fn audio_sample_entries() {
    let init = single(opus(2)).init_segment();
    check_tree(&init).unwrap();
    let pos = init.windows(4).position(|w| w == b"dOps").unwrap();
    // Version 0, 2 channels, pre-skip 312, input rate 48000, gain 0, mapping family 0.
    assert_eq!(
        &init[pos - 4..pos + 15],
        &[
            0, 0, 0, 19, b'd', b'O', b'p', b's', 0, 2, 0x01, 0x38, 0, 0, 0xBB, 0x80, 0, 0, 0
        ]
    );
    let entry = init.windows(4).position(|w| w == b"Opus").unwrap();
    // channelcount 2, samplesize 16, samplerate 48000 << 16.
    assert_eq!(&init[entry + 20..entry + 24], &[0, 2, 0, 16]);
    assert_eq!(&init[entry + 28..entry + 32], &[0xBB, 0x80, 0, 0]);

    let init = single(aac()).init_segment();
    let esds = init.windows(4).position(|w| w == b"esds").unwrap();
    let asc = [0x12, 0x10]; // AAC-LC, 44.1 kHz, stereo
    let body = &init[esds + 8..];
    assert_eq!(body[0], 0x03);
    let dsi = body
        .windows(6)
        .position(|w| w == [0x05, 0x80, 0x80, 0x80, 2, 0x12])
        .unwrap();
    assert_eq!(&body[dsi + 5..dsi + 7], &asc);
}

#[test]
fn setup_errors() {
    assert_eq!(
        Fmp4Muxer::new(&[], Fmp4Options::default()).unwrap_err(),
        Fmp4Error::NoTracks
    );
    assert_eq!(
        Fmp4Muxer::new(&[h264(), h264()], Fmp4Options::default()).unwrap_err(),
        Fmp4Error::DuplicateTrack(0)
    );
    let av1 = Track {
        id: 3,
        timescale: 90_000,
        codec: CodecConfig::Av1(Av1Config {
            av1c: Bytes::from_static(&[0x81, 0, 0, 0]),
        }),
    };
    assert!(matches!(
        Fmp4Muxer::new(&[av1], Fmp4Options::default()),
        Err(Fmp4Error::UnsupportedCodec { track: 3, .. })
    ));
    assert!(matches!(
        Fmp4Muxer::new(&[opus(6)], Fmp4Options::default()),
        Err(Fmp4Error::UnsupportedCodec { track: 2, .. })
    ));
    assert!(matches!(
        Fmp4Muxer::new(&[opus(0)], Fmp4Options::default()),
        Err(Fmp4Error::InvalidConfig { track: 2, .. })
    ));
    let mut bad = h264();
    if let CodecConfig::H264(c) = &mut bad.codec {
        let mut avcc = c.avcc.to_vec();
        avcc[4] = 0xFD; // 2-byte NAL lengths
        c.avcc = avcc.into();
    }
    assert!(matches!(
        Fmp4Muxer::new(&[bad], Fmp4Options::default()),
        Err(Fmp4Error::InvalidConfig { track: 0, .. })
    ));
    let mut bad = aac();
    if let CodecConfig::Aac(c) = &mut bad.codec {
        c.asc = Bytes::from_static(&[0, 0]);
    }
    assert!(matches!(
        Fmp4Muxer::new(&[bad], Fmp4Options::default()),
        Err(Fmp4Error::InvalidConfig { track: 1, .. })
    ));
    let mut bad = h265();
    if let CodecConfig::H265(c) = &mut bad.codec {
        c.hvcc = c.hvcc.slice(..30);
    }
    assert!(matches!(
        Fmp4Muxer::new(&[bad], Fmp4Options::default()),
        Err(Fmp4Error::InvalidConfig { track: 0, .. })
    ));
}

#[test]
fn odd_frames_are_errors_and_change_nothing() {
    let mut mux = Fmp4Muxer::new(&[h264(), aac()], Fmp4Options::default()).unwrap();
    assert_eq!(mux.push(&video(0, false)), Err(Fmp4Error::NoKeyframeYet(0)));
    mux.push(&video(100, true)).unwrap();
    mux.push(&audio(100)).unwrap();
    let reference = mux.clone();

    let mut f = video(200, false);
    f.track = 7;
    assert_eq!(mux.push(&f), Err(Fmp4Error::UnknownTrack(7)));
    let mut f = audio(200);
    f.track = 0;
    assert_eq!(mux.push(&f), Err(Fmp4Error::KindMismatch(0)));
    let mut f = video(200, false);
    f.timescale = 0;
    assert_eq!(mux.push(&f), Err(Fmp4Error::ZeroTimescale(0)));
    let mut f = video(200, false);
    f.data = Bytes::new();
    assert_eq!(mux.push(&f), Err(Fmp4Error::EmptyFrame(0)));
    let mut f = video(200, false);
    f.data = nals(&[&[]]);
    assert_eq!(mux.push(&f), Err(Fmp4Error::EmptyFrame(0)));
    let mut f = video(200, false);
    f.data = nals(&[SPS, PPS]);
    assert_eq!(mux.push(&f), Err(Fmp4Error::EmptyFrame(0)));
    let mut f = video(200, false);
    f.data = Bytes::from_static(&[0, 0, 0, 9, 0x41]);
    assert!(matches!(mux.push(&f), Err(Fmp4Error::Nal { track: 0, .. })));
    assert_eq!(
        mux.push(&video(100, false)),
        Err(Fmp4Error::DtsNotIncreasing {
            track: 0,
            previous: 9000,
            dts: 9000
        })
    );
    assert!(matches!(
        mux.push(&video(50, false)),
        Err(Fmp4Error::DtsNotIncreasing { .. })
    ));
    assert!(matches!(
        mux.push(&audio(99)),
        Err(Fmp4Error::DtsNotIncreasing { track: 1, .. })
    ));
    let mut f = video(200, false);
    f.pts = 200 + 24 * 3600 * 1000;
    assert!(matches!(
        mux.push(&f),
        Err(Fmp4Error::CompositionOffset { track: 0, .. })
    ));
    assert!(matches!(
        mux.push(&video(100 + 14 * 3600 * 1000, false)),
        Err(Fmp4Error::TimestampGap { track: 0, .. })
    ));
    // A parameter set that is not the sample entry's.
    let mut f = video(200, true);
    f.data = nals(&[&[0x67, 0x42, 0x00, 0x1e, 0xab], PPS, &[0x65, 0x88]]);
    assert_eq!(mux.push(&f), Err(Fmp4Error::ParameterSetsChanged(0)));

    // Nothing changed: the same output as a muxer that never saw those frames.
    let (mut a, mut b) = (mux, reference);
    for m in [&mut a, &mut b] {
        m.push(&video(200, false)).unwrap();
        m.push(&audio(200)).unwrap();
    }
    assert_eq!(
        a.fragment(&FragmentOpts::segment()),
        b.fragment(&FragmentOpts::segment())
    );

    // Negative decode times cannot be written.
    let mut m = single(h264());
    assert_eq!(
        m.push(&video(-1, true)),
        Err(Fmp4Error::NegativeTimestamp { track: 0, dts: -90 })
    );
}

#[test]
fn in_band_parameter_sets_are_stripped_or_kept() {
    let key = Frame {
        data: nals(&[SPS, PPS, &[0x06, 0x05, 0x80], &[0x65, 0x88, 0x80]]),
        ..video(0, true)
    };
    let mut out_of_band = single(h264());
    out_of_band.push(&key).unwrap();
    let frag = out_of_band.finish(&FragmentOpts::part()).unwrap();
    let parsed = parse_fragment(&frag.data).unwrap();
    assert_eq!(
        parsed.trafs[0].samples[0].data,
        nals(&[&[0x06, 0x05, 0x80], &[0x65, 0x88, 0x80]]).to_vec()
    );

    // Trailing zero bytes do not make a parameter set different.
    let mut sps = SPS.to_vec();
    sps.extend_from_slice(&[0, 0]);
    let mut m = single(h264());
    m.push(&Frame {
        data: nals(&[&sps, &[0x65, 0x88]]),
        ..video(0, true)
    })
    .unwrap();

    let mut in_band = Fmp4Muxer::new(
        &[h264()],
        Fmp4Options {
            parameter_sets: ParameterSets::InBand,
        },
    )
    .unwrap();
    in_band.push(&key).unwrap();
    // Any parameter sets are fine in band.
    in_band
        .push(&Frame {
            data: nals(&[&[0x67, 0x42, 0x00, 0x1e, 0xab], PPS, &[0x65, 0x88]]),
            ..video(40, true)
        })
        .unwrap();
    let frag = in_band.finish(&FragmentOpts::part()).unwrap();
    let parsed = parse_fragment(&frag.data).unwrap();
    assert_eq!(parsed.trafs[0].samples[0].data, key.data.to_vec());
}

#[test]
fn hold_back_and_finish() {
    let mut m = single(h264());
    assert_eq!(m.fragment(&FragmentOpts::part()), None);
    m.push(&video(1000, true)).unwrap();
    // One sample: its duration is unknown, nothing to write yet.
    assert_eq!(m.pending_duration(), Duration::ZERO);
    assert_eq!(m.fragment(&FragmentOpts::part()), None);
    m.push(&video(1040, false)).unwrap();
    m.push(&video(1080, false)).unwrap();
    assert_eq!(m.pending_duration(), Duration::from_millis(80));
    assert_eq!(m.pending_ticks(0), Some(7200));
    m.push(&video(1120, true)).unwrap();
    assert_eq!(m.sequence_number(), 1);
    let f = m.fragment(&FragmentOpts::segment()).unwrap();
    assert_eq!(
        f.tracks,
        vec![TrackFragment {
            track: 0,
            kind: MediaKind::Video,
            timescale: 90_000,
            base_decode_time: 90_000,
            duration: 3 * 3600,
            sample_count: 3,
            first_pts: 90_000,
            earliest_pts: 90_000,
            starts_with_keyframe: true,
            keyframes: 1,
        }]
    );
    assert_eq!(f.duration(), Duration::from_millis(120));
    assert!(f.starts_with_keyframe());
    assert_eq!(f.sequence_number, 1);
    let parsed = parse_fragment(&f.data).unwrap();
    assert_eq!(parsed.styp.unwrap(), ["msdh", "msdh", "cmfs"]);
    let flags: Vec<u32> = parsed.trafs[0].samples.iter().map(|s| s.flags).collect();
    assert_eq!(flags, [0x0200_0000, 0x0101_0000, 0x0101_0000]);

    // The keyframe pushed before the cut starts the next fragment; finish gives the last
    // sample the previous duration.
    m.push(&video(1150, false)).unwrap();
    let f = m.finish(&FragmentOpts::part()).unwrap();
    assert_eq!(f.sequence_number, 2);
    let t = &f.tracks[0];
    assert_eq!(
        (
            t.base_decode_time,
            t.sample_count,
            t.duration,
            t.starts_with_keyframe
        ),
        (90_000 + 3 * 3600, 2, 2 * 2700, true)
    );
    let parsed = parse_fragment(&f.data).unwrap();
    assert_eq!(parsed.styp, None);

    // A lone sample gets a typical duration.
    let mut m = single(aac());
    m.push(&audio(0)).unwrap();
    let f = m.finish(&FragmentOpts::part()).unwrap();
    assert_eq!(f.tracks[0].duration, 1024);
    assert_eq!(single(opus(1)).finish(&FragmentOpts::part()), None);
}

#[test]
fn b_frames_get_signed_composition_offsets() {
    let mut m = single(h264());
    // Decode order I P B with pts 0, 80, 40 (ms) and dts -40, 0, 40... shifted to be >= 0.
    for (pts, dts, key) in [
        (40, 0, true),
        (120, 40, false),
        (80, 80, false),
        (100, 120, false),
    ] {
        m.push(&Frame {
            pts,
            dts,
            ..video(0, key)
        })
        .unwrap();
    }
    let f = m.fragment(&FragmentOpts::part()).unwrap();
    let parsed = parse_fragment(&f.data).unwrap();
    let cts: Vec<i32> = parsed.trafs[0].samples.iter().map(|s| s.cts).collect();
    assert_eq!(cts, [3600, 7200, 0]);
    assert_eq!(f.tracks[0].earliest_pts, 3600);
    let mut m = single(h264());
    m.push(&Frame {
        pts: 0,
        dts: 40,
        ..video(0, true)
    })
    .unwrap();
    m.push(&video(80, false)).unwrap();
    let parsed = parse_fragment(&m.fragment(&FragmentOpts::part()).unwrap().data).unwrap();
    assert_eq!(parsed.trafs[0].samples[0].cts, -3600);
    assert_eq!(parsed.trafs[0].trun_version, 1);
}

#[test]
fn prft_carries_ntp_time_and_pts_of_the_reference_track() {
    assert_eq!(ntp_timestamp(UNIX_EPOCH), 2_208_988_800 << 32);
    assert_eq!(
        ntp_timestamp(UNIX_EPOCH + Duration::from_millis(1500)),
        ((2_208_988_801u64) << 32) | 0x8000_0000
    );
    let mut m = Fmp4Muxer::new(&[aac(), h264()], Fmp4Options::default()).unwrap();
    m.push(&audio(10)).unwrap();
    m.push(&Frame {
        pts: 40,
        dts: 20,
        ..video(0, true)
    })
    .unwrap();
    m.push(&audio(33)).unwrap();
    m.push(&video(60, false)).unwrap();
    let wall = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let opts = FragmentOpts::segment().with_prft(wall);
    let f = m.fragment(&opts).unwrap();
    let parsed = parse_fragment(&f.data).unwrap();
    assert_eq!(parsed.order, ["styp", "prft", "moof", "mdat"]);
    // Muxed: no cmfs brand.
    assert_eq!(parsed.styp.as_deref().unwrap(), ["msdh", "msdh"]);
    // flags 1 (encoder output), version 1, the video track (MP4 id 1), pts 40 ms at 90 kHz.
    assert_eq!(parsed.prft, Some((1, 1, 1, ntp_timestamp(wall), 3600)));
    assert_eq!(f.main().unwrap().track, 0);
    // Audio traf first (track order), then video; both data runs inside the mdat.
    let ids: Vec<u32> = parsed.trafs.iter().map(|t| t.track_id).collect();
    assert_eq!(ids, [2, 1]);
    assert_eq!(parsed.trafs[0].tfhd_flags, 0x02_0020);
    assert_eq!(parsed.trafs[1].tfhd_flags, 0x02_0000);
}

#[test]
fn fragment_full_is_an_error() {
    let mut m = single(aac());
    for i in 0..MAX_FRAGMENT_SAMPLES as i64 {
        m.push(&audio(i)).unwrap();
    }
    assert_eq!(
        m.push(&audio(MAX_FRAGMENT_SAMPLES as i64)),
        Err(Fmp4Error::FragmentFull(1))
    );
    let f = m.fragment(&FragmentOpts::part()).unwrap();
    assert_eq!(f.tracks[0].sample_count as usize, MAX_FRAGMENT_SAMPLES - 1);
    m.push(&audio(MAX_FRAGMENT_SAMPLES as i64)).unwrap();
}
