//! Generates and checks the fuzzing seeds in `fuzz/seeds/` (see `fuzz/Cargo.toml`).
//!
//! The seed files are committed; this test fails when they differ from what the code below
//! builds. To rewrite them: `WEIR_WRITE_FUZZ_SEEDS=1 cargo test -p weir-flv --test fuzz_seeds`.

use std::path::PathBuf;

use bytes::Bytes;
use weir_flv::amf0::{self, Amf0Value};
use weir_flv::{
    TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO, TagBody, config_body, file_header, frame_body, parse_audio,
    parse_video, write_tag,
};
use weir_media::{AacConfig, CodecConfig, Frame, H264Config, MediaKind};

const SPS: &[u8] = &[
    0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
    0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x83, 0x19, 0x60,
];
const PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];

fn obj(pairs: Vec<(&str, Amf0Value)>) -> Vec<(String, Amf0Value)> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn connect() -> Vec<Amf0Value> {
    vec![
        "connect".into(),
        1.0.into(),
        Amf0Value::Object(obj(vec![
            ("app", "live".into()),
            ("type", "nonprivate".into()),
            ("flashVer", "FMLE/3.0 (compatible; FMSc/1.0)".into()),
            ("tcUrl", "rtmp://localhost:1935/live".into()),
            ("fpad", false.into()),
            ("capabilities", 15.0.into()),
            ("audioCodecs", 4071.0.into()),
            ("videoCodecs", 252.0.into()),
            ("videoFunction", 1.0.into()),
            (
                "fourCcList",
                Amf0Value::StrictArray(vec!["hvc1".into(), "avc1".into()]),
            ),
        ])),
    ]
}

fn metadata() -> Vec<Amf0Value> {
    vec![
        "@setDataFrame".into(),
        "onMetaData".into(),
        Amf0Value::EcmaArray(obj(vec![
            ("duration", 0.0.into()),
            ("width", 1280.0.into()),
            ("height", 720.0.into()),
            ("videocodecid", 7.0.into()),
            ("framerate", 30.0.into()),
            ("audiocodecid", 10.0.into()),
            ("audiosamplerate", 44100.0.into()),
            ("stereo", true.into()),
            (
                "encoder",
                "obs-output module (libobs version 30.0.0)".into(),
            ),
        ])),
    ]
}

/// Every marker the decoder knows.
fn all_markers() -> Vec<Amf0Value> {
    vec![
        "_result".into(),
        2.0.into(),
        Amf0Value::Null,
        Amf0Value::Undefined,
        Amf0Value::Object(obj(vec![
            ("level", "status".into()),
            ("code", "NetConnection.Connect.Success".into()),
            (
                "when",
                Amf0Value::Date {
                    millis: 1.7e12,
                    tz: 0,
                },
            ),
            ("note", Amf0Value::LongString("long".into())),
        ])),
        Amf0Value::StrictArray(vec![
            Amf0Value::EcmaArray(vec![]),
            Amf0Value::Boolean(false),
        ]),
    ]
}

fn h264() -> CodecConfig {
    let cfg = H264Config::from_parameter_sets(
        vec![Bytes::from_static(SPS)],
        vec![Bytes::from_static(PPS)],
    );
    CodecConfig::H264(cfg.expect("valid parameter sets"))
}

fn aac() -> CodecConfig {
    CodecConfig::Aac(AacConfig::from_asc(Bytes::from_static(&[0x12, 0x10])).expect("valid ASC"))
}

fn video_frame() -> Frame {
    Frame {
        track: 0,
        kind: MediaKind::Video,
        pts: 1040,
        dts: 1000,
        timescale: 1000,
        keyframe: true,
        data: Bytes::from_static(&[0, 0, 0, 3, 0x65, 0x88, 0x84]),
    }
}

fn small_flv() -> Vec<u8> {
    let mut out = file_header(true, true).to_vec();
    write_tag(&mut out, TAG_SCRIPT, 0, &amf0::encode_all(&metadata()[1..]));
    write_tag(
        &mut out,
        TAG_VIDEO,
        0,
        &config_body(&h264()).unwrap_or_default(),
    );
    write_tag(
        &mut out,
        TAG_AUDIO,
        0,
        &config_body(&aac()).unwrap_or_default(),
    );
    write_tag(
        &mut out,
        TAG_VIDEO,
        0x0100_0000,
        &frame_body(&h264(), &video_frame()).unwrap_or_default(),
    );
    out
}

fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("amf0/connect.bin", amf0::encode_all(&connect())),
        ("amf0/set_data_frame.bin", amf0::encode_all(&metadata())),
        ("amf0/all_markers.bin", amf0::encode_all(&all_markers())),
        (
            "flv_tag/avc_sequence_header.bin",
            config_body(&h264()).unwrap_or_default().to_vec(),
        ),
        (
            "flv_tag/aac_sequence_header.bin",
            config_body(&aac()).unwrap_or_default().to_vec(),
        ),
        ("flv_tag/small.flv", small_flv()),
    ]
}

#[test]
fn seeds_are_valid_inputs() {
    for (name, bytes) in seeds() {
        if let Some(rest) = name.strip_prefix("amf0/") {
            assert!(amf0::decode_all(&bytes).is_ok(), "{rest}");
        }
    }
    assert!(matches!(
        parse_video(Bytes::from(seeds()[3].1.clone())),
        Ok(TagBody::Config(_))
    ));
    assert!(matches!(
        parse_audio(Bytes::from(seeds()[4].1.clone())),
        Ok(TagBody::Config(_))
    ));
    let mut reader = weir_flv::FlvReader::new();
    reader.push(&small_flv());
    let mut n = 0;
    while let Ok(Some(_)) = reader.next_tag() {
        n += 1;
    }
    assert_eq!((n, reader.buffered()), (4, 0));
}

#[test]
fn seed_files_are_current() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    let write = std::env::var_os("WEIR_WRITE_FUZZ_SEEDS").is_some();
    for (name, bytes) in seeds() {
        let path = dir.join(name);
        if write {
            std::fs::write(&path, &bytes).expect("write seed");
            continue;
        }
        let on_disk = std::fs::read(&path).unwrap_or_default();
        assert!(
            on_disk == bytes,
            "{} is missing or stale; rerun with WEIR_WRITE_FUZZ_SEEDS=1",
            path.display()
        );
    }
}
