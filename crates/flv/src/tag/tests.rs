use bytes::Bytes;
use proptest::prelude::*;
use weir_media::{
    AacConfig, Av1Config, CodecConfig, Frame, H264Config, H265Config, MediaKind, OpusConfig,
};

use super::*;

const SPS: &[u8] = &[
    0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
    0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x83, 0x19, 0x60,
];
const PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];

fn h264() -> H264Config {
    H264Config::from_parameter_sets(vec![Bytes::from_static(SPS)], vec![Bytes::from_static(PPS)])
        .expect("valid parameter sets")
}

fn aac() -> AacConfig {
    AacConfig::from_asc(Bytes::from_static(&[0x12, 0x10])).expect("valid ASC")
}

/// MSB-first bit writer with Exp-Golomb codes, to build an H.265 SPS.
#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    n: usize,
}

impl BitWriter {
    fn bit(&mut self, b: bool) {
        if self.n & 7 == 0 {
            self.out.push(0);
        }
        if let (true, Some(last)) = (b, self.out.last_mut()) {
            *last |= 0x80 >> (self.n % 8);
        }
        self.n += 1;
    }

    fn bits(&mut self, v: u64, n: u32) {
        for i in (0..n).rev() {
            self.bit((v >> i) & 1 == 1);
        }
    }

    fn ue(&mut self, v: u32) {
        let x = u64::from(v) + 1;
        let len = 64 - x.leading_zeros();
        self.bits(0, len - 1);
        self.bits(x, len);
    }
}

/// An H.265 Main profile, level 3.1, 1280x720 SPS NAL unit (with its 2-byte header).
fn hevc_sps() -> Vec<u8> {
    let mut w = BitWriter::default();
    w.bits(0x4201, 16); // nal_unit_type 33, layer 0, tid 1
    w.bits(0, 4); // sps_video_parameter_set_id
    w.bits(0, 3); // sps_max_sub_layers_minus1
    w.bits(1, 1); // sps_temporal_id_nesting_flag
    w.bits(0, 2); // general_profile_space
    w.bits(0, 1); // general_tier_flag
    w.bits(1, 5); // general_profile_idc: Main
    w.bits(0x6000_0000, 32); // general_profile_compatibility_flags
    w.bits(0x9000_0000_0000, 48); // progressive, frame only
    w.bits(93, 8); // general_level_idc: 3.1
    w.ue(0); // sps_seq_parameter_set_id
    w.ue(1); // chroma_format_idc: 4:2:0
    w.ue(1280);
    w.ue(720);
    w.bit(false); // conformance_window_flag
    w.bit(true); // rbsp stop bit (the parser reads no further)
    w.out
}

/// An HEVCDecoderConfigurationRecord with 4-byte NAL lengths.
fn hvcc() -> Bytes {
    let mut rec = vec![
        1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 93, 0xf0, 0x00, 0xfc, 0xfd, 0xf8, 0xf8, 0, 0,
        0x0f, // 1 temporal layer, nested, lengthSizeMinusOne = 3
        3,    // arrays
    ];
    let vps: &[u8] = &[0x40, 0x01, 0x0c, 0x01, 0xff, 0xff];
    let sps = hevc_sps();
    let pps: &[u8] = &[0x44, 0x01, 0xc1, 0x72, 0xb4, 0x62, 0x40];
    for (ty, nal) in [(32u8, vps), (33, &sps), (34, pps)] {
        rec.push(0x80 | ty);
        rec.extend_from_slice(&1u16.to_be_bytes());
        rec.extend_from_slice(&(nal.len() as u16).to_be_bytes());
        rec.extend_from_slice(nal);
    }
    Bytes::from(rec)
}

fn h265() -> H265Config {
    H265Config::from_hvcc(hvcc()).expect("valid hvcC")
}

fn frame(kind: MediaKind, keyframe: bool, dts: i64, pts: i64, timescale: u32) -> Frame {
    Frame {
        track: 0,
        kind,
        pts,
        dts,
        timescale,
        keyframe,
        data: Bytes::from_static(&[0, 0, 0, 2, 0x65, 0x88]),
    }
}

#[test]
fn h264_config_round_trip() {
    let cfg = h264();
    assert_eq!((cfg.width, cfg.height), (1280, 720));
    let codec = CodecConfig::H264(cfg.clone());
    let body = config_body(&codec).expect("AVC has a sequence header");
    assert_eq!(&body[..5], &[0x17, 0, 0, 0, 0]);
    assert_eq!(&body[5..], &cfg.avcc[..]);
    assert_eq!(parse_video(body), Ok(TagBody::Config(codec)));
}

#[test]
fn aac_config_round_trip() {
    let codec = CodecConfig::Aac(aac());
    let body = config_body(&codec).expect("AAC has a sequence header");
    assert_eq!(&body[..], &[0xaf, 0, 0x12, 0x10]);
    let Ok(TagBody::Config(CodecConfig::Aac(parsed))) = parse_audio(body) else {
        panic!("not an AAC config")
    };
    assert_eq!(
        (parsed.sample_rate, parsed.channels, parsed.object_type),
        (44_100, 2, 2)
    );
    assert_eq!(CodecConfig::Aac(parsed), codec);
}

#[test]
fn h265_config_round_trip_via_enhanced_rtmp() {
    let cfg = h265();
    assert_eq!(
        (cfg.width, cfg.height, cfg.profile, cfg.level),
        (1280, 720, 1, 93)
    );
    let codec = CodecConfig::H265(cfg.clone());
    let body = config_body(&codec).expect("HEVC is carried with E-RTMP");
    assert_eq!(&body[..5], b"\x90hvc1");
    assert_eq!(parse_video(body), Ok(TagBody::Config(codec)));
}

#[test]
fn legacy_hevc_codec_id_12() {
    let mut body = vec![0x1c, 0, 0, 0, 0];
    body.extend_from_slice(&hvcc());
    assert_eq!(
        parse_video(Bytes::from(body)),
        Ok(TagBody::Config(CodecConfig::H265(h265())))
    );
    let body = Bytes::from_static(&[0x2c, 1, 0xff, 0xff, 0xfe, 0, 0, 0, 1, 0x02]);
    assert_eq!(
        parse_video(body),
        Ok(TagBody::Media {
            kind: MediaKind::Video,
            keyframe: false,
            cts_ms: -2,
            data: Bytes::from_static(&[0, 0, 0, 1, 0x02]),
        })
    );
}

#[test]
fn enhanced_rtmp_avc1_sequence_start() {
    let cfg = h264();
    let mut body = b"\x90avc1".to_vec();
    body.extend_from_slice(&cfg.avcc);
    assert_eq!(
        parse_video(Bytes::from(body)),
        Ok(TagBody::Config(CodecConfig::H264(cfg)))
    );
}

#[test]
fn video_frame_round_trip_with_cts() {
    for codec in [CodecConfig::H264(h264()), CodecConfig::H265(h265())] {
        for (keyframe, cts) in [
            (true, 0i64),
            (false, 40),
            (false, -40),
            (true, -8_388_608),
            (false, 8_388_607),
        ] {
            let f = frame(MediaKind::Video, keyframe, 10_000, 10_000 + cts, 1000);
            let body = frame_body(&codec, &f).expect("video codec");
            let mut written = vec![0xee];
            assert!(write_frame_body(&codec, &f, &mut written));
            assert_eq!(
                &written[1..],
                &body[..],
                "write_frame_body appends the same bytes"
            );
            let want = TagBody::Media {
                kind: MediaKind::Video,
                keyframe,
                cts_ms: cts as i32,
                data: f.data.clone(),
            };
            assert_eq!(parse_video(body), Ok(want), "{} cts {cts}", codec.name());
        }
    }
}

#[test]
fn cts_in_90khz_and_clamped() {
    let codec = CodecConfig::H264(h264());
    // 3003 ticks at 90 kHz = 33.37 ms -> 33 ms (floor of pts_ms - floor of dts_ms).
    let f = frame(MediaKind::Video, false, 90_000, 93_003, 90_000);
    let Ok(TagBody::Media { cts_ms, .. }) = parse_video(frame_body(&codec, &f).unwrap_or_default())
    else {
        panic!("not a frame")
    };
    assert_eq!(cts_ms, 33);
    // Beyond the SI24 range: clamped, not wrapped.
    let f = frame(MediaKind::Video, false, 0, 10_000_000, 1000);
    let Ok(TagBody::Media { cts_ms, .. }) = parse_video(frame_body(&codec, &f).unwrap_or_default())
    else {
        panic!("not a frame")
    };
    assert_eq!(cts_ms, 8_388_607);
}

#[test]
fn h264_frame_header_bytes() {
    let codec = CodecConfig::H264(h264());
    let body = frame_body(&codec, &frame(MediaKind::Video, true, 0, 67, 1000)).unwrap_or_default();
    assert_eq!(&body[..5], &[0x17, 1, 0, 0, 67]);
    let body = frame_body(&codec, &frame(MediaKind::Video, false, 67, 0, 1000)).unwrap_or_default();
    assert_eq!(&body[..5], &[0x27, 1, 0xff, 0xff, 0xbd]);
    let codec = CodecConfig::H265(h265());
    let body = frame_body(&codec, &frame(MediaKind::Video, false, 0, 1, 1000)).unwrap_or_default();
    assert_eq!(&body[..8], b"\xa1hvc1\x00\x00\x01");
}

#[test]
fn aac_frame_round_trip() {
    let codec = CodecConfig::Aac(aac());
    let mut f = frame(MediaKind::Audio, true, 0, 0, 44_100);
    f.data = Bytes::from_static(&[0x21, 0x10, 0x04]);
    let body = frame_body(&codec, &f).expect("AAC");
    assert_eq!(&body[..], &[0xaf, 1, 0x21, 0x10, 0x04]);
    assert_eq!(
        parse_audio(body),
        Ok(TagBody::Media {
            kind: MediaKind::Audio,
            keyframe: true,
            cts_ms: 0,
            data: f.data
        })
    );
}

#[test]
fn codecs_flv_cannot_carry() {
    let opus = CodecConfig::Opus(OpusConfig {
        channels: 2,
        sample_rate: 48_000,
        pre_skip: 312,
    });
    let av1 = CodecConfig::Av1(Av1Config {
        av1c: Bytes::from_static(&[0x81, 0, 0, 0]),
    });
    for codec in [opus, av1] {
        assert_eq!(config_body(&codec), None);
        let f = frame(codec.kind(), true, 0, 0, 1000);
        assert_eq!(frame_body(&codec, &f), None);
        let mut out = vec![1];
        assert!(!write_frame_body(&codec, &f, &mut out));
        assert_eq!(out, [1]);
    }
}

#[test]
fn frame_kind_must_match_codec() {
    let f = frame(MediaKind::Audio, true, 0, 0, 1000);
    assert_eq!(frame_body(&CodecConfig::H264(h264()), &f), None);
    let f = frame(MediaKind::Video, true, 0, 0, 1000);
    assert_eq!(frame_body(&CodecConfig::Aac(aac()), &f), None);
}

#[test]
fn enhanced_rtmp_packet_types() {
    let data = Bytes::from_static(&[0, 0, 0, 1, 0x26]);
    let media = |keyframe, cts_ms| TagBody::Media {
        kind: MediaKind::Video,
        keyframe,
        cts_ms,
        data: data.clone(),
    };
    let with = |head: &[u8]| {
        let mut v = head.to_vec();
        v.extend_from_slice(&data);
        parse_video(Bytes::from(v))
    };
    // CodedFramesX: no composition time.
    assert_eq!(with(b"\xa3hvc1"), Ok(media(false, 0)));
    assert_eq!(with(b"\x93avc1"), Ok(media(true, 0)));
    // CodedFrames.
    assert_eq!(with(b"\x91avc1\xff\xff\xf6"), Ok(media(true, -10)));
    // SequenceEnd, Metadata, MPEG2TSSequenceStart, reserved: ignored.
    for pt in [2u8, 4, 5, 8, 15] {
        assert_eq!(
            with(&[&[0x90 | pt][..], b"hvc1"].concat()),
            Ok(TagBody::Ignore),
            "{pt}"
        );
    }
    // Command frame and multitrack: ignored.
    assert_eq!(with(b"\xd1hvc1\x00"), Ok(TagBody::Ignore));
    assert_eq!(with(b"\x96\x00hvc1"), Ok(TagBody::Ignore));
    // AV1 ignored for now; other FourCCs are errors.
    assert_eq!(with(b"\x91av01"), Ok(TagBody::Ignore));
    assert_eq!(
        with(b"\x91vp09\0\0\0"),
        Err(TagError::UnsupportedFourCc(*b"vp09"))
    );
    // Truncated headers.
    assert_eq!(
        parse_video(Bytes::from_static(b"\x91hvc")),
        Err(TagError::Truncated("E-RTMP video FourCC"))
    );
    assert!(matches!(
        parse_video(Bytes::from_static(b"\x91hvc1\0\0")),
        Err(TagError::Truncated(_))
    ));
    // Empty payloads are ignored.
    assert_eq!(
        parse_video(Bytes::from_static(b"\x91hvc1\0\0\0")),
        Ok(TagBody::Ignore)
    );
    assert_eq!(
        parse_video(Bytes::from_static(b"\x93hvc1")),
        Ok(TagBody::Ignore)
    );
}

#[test]
fn enhanced_rtmp_mod_ex_is_skipped() {
    // ModEx with 3 bytes of TimestampOffsetNano data, then CodedFrames.
    let body = b"\x97\x02\x00\x01\x02\x01hvc1\x00\x00\x05\x00\x00\x00\x01\x26";
    assert_eq!(
        parse_video(Bytes::from_static(body)),
        Ok(TagBody::Media {
            kind: MediaKind::Video,
            keyframe: true,
            cts_ms: 5,
            data: Bytes::from_static(&[0, 0, 0, 1, 0x26]),
        })
    );
    // 16-bit ModEx size (UI8 = 255 -> UI16 + 1 follows), 2 bytes of data.
    let body = b"\x97\xff\x00\x01\xaa\xbb\x03hvc1\x00\x00\x00\x01\x26";
    assert!(matches!(
        parse_video(Bytes::from_static(body)),
        Ok(TagBody::Media { cts_ms: 0, .. })
    ));
    // Size beyond the body.
    assert!(matches!(
        parse_video(Bytes::from_static(b"\x97\x09\x00")),
        Err(TagError::Truncated(_))
    ));
}

#[test]
fn legacy_video_edge_cases() {
    assert_eq!(
        parse_video(Bytes::new()),
        Err(TagError::Truncated("video tag header"))
    );
    assert_eq!(
        parse_video(Bytes::from_static(&[0x17, 1, 0, 0])),
        Err(TagError::Truncated("AVC video tag header"))
    );
    // End of sequence.
    assert_eq!(
        parse_video(Bytes::from_static(&[0x17, 2, 0, 0, 0])),
        Ok(TagBody::Ignore)
    );
    // Unknown AVC packet type.
    assert_eq!(
        parse_video(Bytes::from_static(&[0x17, 9, 0, 0, 0, 1])),
        Ok(TagBody::Ignore)
    );
    // Video info / command frame.
    assert_eq!(
        parse_video(Bytes::from_static(&[0x57, 0])),
        Ok(TagBody::Ignore)
    );
    // Sorenson H.263, VP6.
    assert_eq!(
        parse_video(Bytes::from_static(&[0x12, 0])),
        Err(TagError::UnsupportedVideoCodec(2))
    );
    assert_eq!(
        parse_video(Bytes::from_static(&[0x24, 0])),
        Err(TagError::UnsupportedVideoCodec(4))
    );
    // Bad sequence header.
    assert!(matches!(
        parse_video(Bytes::from_static(&[0x17, 0, 0, 0, 0, 1, 0x64])),
        Err(TagError::BadConfig(_))
    ));
    // Inter frame flag.
    assert!(matches!(
        parse_video(Bytes::from_static(&[0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x41])),
        Ok(TagBody::Media {
            keyframe: false,
            cts_ms: 0,
            ..
        })
    ));
}

#[test]
fn audio_edge_cases() {
    assert_eq!(
        parse_audio(Bytes::new()),
        Err(TagError::Truncated("audio tag header"))
    );
    assert_eq!(
        parse_audio(Bytes::from_static(&[0xaf])),
        Err(TagError::Truncated("AAC packet type"))
    );
    assert_eq!(
        parse_audio(Bytes::from_static(&[0x2f, 1, 2])),
        Err(TagError::UnsupportedAudioCodec(2))
    );
    assert_eq!(
        parse_audio(Bytes::from_static(&[0x9f, 1, 2])),
        Err(TagError::UnsupportedAudioCodec(9))
    );
    assert!(matches!(
        parse_audio(Bytes::from_static(&[0xaf, 0])),
        Err(TagError::BadConfig(_))
    ));
    assert_eq!(
        parse_audio(Bytes::from_static(&[0xaf, 1])),
        Ok(TagBody::Ignore)
    );
    assert_eq!(
        parse_audio(Bytes::from_static(&[0xaf, 2, 1])),
        Ok(TagBody::Ignore)
    );
    // The rate/size/type bits are not checked for AAC.
    assert!(matches!(
        parse_audio(Bytes::from_static(&[0xa0, 1, 5])),
        Ok(TagBody::Media { .. })
    ));
}

#[test]
fn file_header_bytes() {
    assert_eq!(
        file_header(true, true),
        *b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"
    );
    assert_eq!(file_header(false, true)[4], 1);
    assert_eq!(file_header(true, false)[4], 4);
    assert_eq!(file_header(false, false)[4], 0);
}

#[test]
fn write_tag_layout() {
    let mut out = Vec::new();
    write_tag(&mut out, TAG_VIDEO, 0x1234_5678, &[0xaa, 0xbb]);
    assert_eq!(
        out,
        [
            9, 0, 0, 2, 0x34, 0x56, 0x78, 0x12, 0, 0, 0, 0xaa, 0xbb, 0, 0, 0, 13
        ]
    );
}

#[test]
fn oversized_tag_is_not_written() {
    let mut out = vec![7];
    write_tag(&mut out, TAG_VIDEO, 0, &vec![0; MAX_TAG_SIZE + 1]);
    assert_eq!(out, [7]);
}

fn sample_tags() -> Vec<FlvTag> {
    let ts = [0u32, 1, 1000, 0xff_ffff, 0x100_0000, 0x1234_5678, u32::MAX];
    ts.iter()
        .enumerate()
        .map(|(i, &timestamp_ms)| FlvTag {
            tag_type: [TAG_AUDIO, TAG_VIDEO, TAG_SCRIPT][i % 3],
            timestamp_ms,
            body: Bytes::from((0..i * 7).map(|b| b as u8).collect::<Vec<u8>>()),
        })
        .collect()
}

fn sample_file() -> Vec<u8> {
    let mut file = file_header(true, true).to_vec();
    for t in sample_tags() {
        write_tag(&mut file, t.tag_type, t.timestamp_ms, &t.body);
    }
    file
}

/// Pulls tags until more input is needed or the reader fails (then returns the error).
fn drain(reader: &mut FlvReader) -> (Vec<FlvTag>, Option<TagError>) {
    let mut tags = Vec::new();
    loop {
        match reader.next_tag() {
            Ok(Some(t)) => tags.push(t),
            Ok(None) => return (tags, None),
            Err(e) => return (tags, Some(e)),
        }
    }
}

fn read_all(reader: &mut FlvReader) -> Vec<FlvTag> {
    let mut tags = Vec::new();
    while let Ok(Some(t)) = reader.next_tag() {
        tags.push(t);
    }
    tags
}

#[test]
fn reader_round_trip_at_once() {
    let mut r = FlvReader::new();
    r.push(&sample_file());
    assert_eq!(read_all(&mut r), sample_tags());
    assert_eq!(r.next_tag(), Ok(None));
    assert_eq!(r.buffered(), 0);
}

#[test]
fn reader_round_trip_byte_by_byte() {
    let mut r = FlvReader::new();
    let mut tags = Vec::new();
    for b in sample_file() {
        r.push(&[b]);
        while let Some(t) = r.next_tag().expect("valid file") {
            tags.push(t);
        }
    }
    assert_eq!(tags, sample_tags());
    assert_eq!(r.buffered(), 0);
}

#[test]
fn reader_skips_a_longer_header() {
    let mut file = b"FLV\x01\x05\x00\x00\x00\x0cXYZ\x00\x00\x00\x00".to_vec();
    write_tag(&mut file, TAG_SCRIPT, 5, b"hi");
    let mut r = FlvReader::new();
    r.push(&file);
    let want = FlvTag {
        tag_type: TAG_SCRIPT,
        timestamp_ms: 5,
        body: Bytes::from_static(b"hi"),
    };
    assert_eq!(r.next_tag(), Ok(Some(want)));
}

#[test]
fn reader_rejects_bad_signature_early_and_stays_failed() {
    let mut r = FlvReader::new();
    r.push(b"G");
    assert_eq!(r.next_tag(), Err(TagError::BadSignature(*b"G\0\0")));
    r.push(&sample_file());
    assert_eq!(r.next_tag(), Err(TagError::BadSignature(*b"G\0\0")));
    assert_eq!(r.buffered(), 0);

    let mut r = FlvReader::new();
    r.push(b"FLX\x01\x05\x00\x00\x00\x09");
    assert_eq!(r.next_tag(), Err(TagError::BadSignature(*b"FLX")));
}

#[test]
fn reader_rejects_bad_header_size_and_encrypted_tags() {
    let mut r = FlvReader::new();
    r.push(b"FLV\x01\x05\x00\x00\x00\x08");
    assert_eq!(r.next_tag(), Err(TagError::BadHeaderSize(8)));
    let mut r = FlvReader::new();
    r.push(b"FLV\x01\x05\xff\xff\xff\xff");
    assert_eq!(r.next_tag(), Err(TagError::BadHeaderSize(u32::MAX)));

    let mut file = file_header(true, true).to_vec();
    write_tag(&mut file, TAG_VIDEO | 0x20, 0, b"x");
    let mut r = FlvReader::new();
    r.push(&file);
    assert_eq!(r.next_tag(), Err(TagError::Encrypted(TAG_VIDEO)));
}

#[test]
fn reader_waits_for_a_large_tag() {
    let mut r = FlvReader::new();
    r.push(&file_header(true, true));
    r.push(&[9, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]);
    assert_eq!(r.next_tag(), Ok(None));
    assert_eq!(r.buffered(), 14);
}

#[test]
fn reader_and_tag_bodies_together() {
    let video = CodecConfig::H264(h264());
    let audio = CodecConfig::Aac(aac());
    let mut file = file_header(true, true).to_vec();
    write_tag(
        &mut file,
        TAG_VIDEO,
        0,
        &config_body(&video).unwrap_or_default(),
    );
    write_tag(
        &mut file,
        TAG_AUDIO,
        0,
        &config_body(&audio).unwrap_or_default(),
    );
    let f = frame(MediaKind::Video, true, 0, 80, 1000);
    let mut body = Vec::new();
    assert!(write_frame_body(&video, &f, &mut body));
    write_tag(&mut file, TAG_VIDEO, 0, &body);
    let mut r = FlvReader::new();
    r.push(&file);
    let tags = read_all(&mut r);
    assert_eq!(tags.len(), 3);
    let parsed: Vec<_> = tags
        .into_iter()
        .map(|t| {
            if t.tag_type == TAG_VIDEO {
                parse_video(t.body)
            } else {
                parse_audio(t.body)
            }
        })
        .collect();
    assert_eq!(parsed[0], Ok(TagBody::Config(video)));
    assert_eq!(parsed[1], Ok(TagBody::Config(audio)));
    assert!(matches!(
        parsed[2],
        Ok(TagBody::Media {
            keyframe: true,
            cts_ms: 80,
            ..
        })
    ));
}

#[test]
fn error_messages_name_the_problem() {
    assert_eq!(
        TagError::UnsupportedFourCc(*b"vp09").to_string(),
        "unsupported Enhanced RTMP video FourCC 'vp09'"
    );
    assert_eq!(
        TagError::BadSignature(*b"\x00FL").to_string(),
        "not an FLV file: signature '\\x00FL'"
    );
}

proptest! {
    #[test]
    fn reader_never_panics_and_split_input_changes_nothing(
        data in prop::collection::vec(any::<u8>(), 0..512),
        split in 3usize..64,
        valid_header in any::<bool>(),
    ) {
        let mut data = data;
        if valid_header {
            data.splice(0..0, file_header(true, true));
        }
        let mut whole = FlvReader::new();
        whole.push(&data);
        let (tags, failed) = drain(&mut whole);
        for t in &tags {
            prop_assert!(t.body.len() <= MAX_TAG_SIZE);
        }
        let mut pieces = FlvReader::new();
        let (mut piece_tags, mut piece_failed) = (Vec::new(), None);
        for chunk in data.chunks(split) {
            pieces.push(chunk);
            let (t, f) = drain(&mut pieces);
            piece_tags.extend(t);
            if f.is_some() {
                piece_failed = f;
                break;
            }
        }
        prop_assert_eq!(tags, piece_tags);
        prop_assert_eq!(failed, piece_failed);
    }

    #[test]
    fn reader_after_valid_header_never_panics(data in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut r = FlvReader::new();
        r.push(&file_header(true, true));
        r.push(&data);
        let mut n = 0;
        while let Ok(Some(_)) = r.next_tag() {
            n += 1;
            prop_assert!(n <= data.len());
        }
    }

    #[test]
    fn split_pushes_give_the_same_tags(cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8)) {
        let file = sample_file();
        let mut at: Vec<usize> = cuts.iter().map(|c| c.index(file.len())).collect();
        at.push(0);
        at.push(file.len());
        at.sort_unstable();
        let mut r = FlvReader::new();
        let mut tags = Vec::new();
        for w in at.windows(2) {
            r.push(&file[w[0]..w[1]]);
            tags.extend(read_all(&mut r));
        }
        prop_assert_eq!(tags, sample_tags());
    }

    #[test]
    fn tag_bodies_never_panic(data in prop::collection::vec(any::<u8>(), 0..64)) {
        let body = Bytes::from(data);
        let _ = parse_video(body.clone());
        let _ = parse_audio(body);
    }

    #[test]
    fn video_headers_with_random_payloads_never_panic(
        b0 in prop::sample::select(vec![0x17u8, 0x27, 0x1c, 0x57, 0x90, 0x91, 0x93, 0x97, 0xa1, 0xd1]),
        fourcc in prop::sample::select(vec![*b"avc1", *b"hvc1", *b"av01", *b"vp09"]),
        rest in prop::collection::vec(any::<u8>(), 0..48),
    ) {
        let mut v = vec![b0];
        if b0 & 0x80 != 0 {
            v.extend_from_slice(&fourcc);
        }
        v.extend_from_slice(&rest);
        let _ = parse_video(Bytes::from(v));
    }

    #[test]
    fn frame_round_trip(
        data in prop::collection::vec(any::<u8>(), 1..64),
        keyframe in any::<bool>(),
        dts in -1_000_000i64..1_000_000,
        cts in -8_388_608i64..8_388_608,
        hevc in any::<bool>(),
    ) {
        let codec = if hevc { CodecConfig::H265(h265()) } else { CodecConfig::H264(h264()) };
        let mut f = frame(MediaKind::Video, keyframe, dts, dts + cts, 1000);
        f.data = Bytes::from(data);
        let body = frame_body(&codec, &f).unwrap_or_default();
        prop_assert_eq!(
            parse_video(body),
            Ok(TagBody::Media { kind: MediaKind::Video, keyframe, cts_ms: cts as i32, data: f.data })
        );
    }
}
