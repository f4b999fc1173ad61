//! Generates and checks the fuzzing seeds in `fuzz/seeds/ts_demux/` (see `fuzz/Cargo.toml`).
//!
//! The seed files are committed; this test fails when they differ from what the code below
//! builds. To rewrite them: `WEIR_WRITE_FUZZ_SEEDS=1 cargo test -p weir-mpegts --test fuzz_seeds`.

use std::path::PathBuf;

use bytes::Bytes;
use weir_media::{
    AacConfig, CodecConfig, Frame, H264Config, H265Config, MediaInfo, MediaKind, OpusConfig, Track,
};
use weir_mpegts::{DemuxEvent, TsDemuxer, TsMuxer};

const SPS: &[u8] = &[
    0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
    0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x83, 0x19, 0x60,
];
const PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];
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

fn lp(nals: &[&[u8]]) -> Bytes {
    let mut v = Vec::new();
    for n in nals {
        v.extend_from_slice(&(n.len() as u32).to_be_bytes());
        v.extend_from_slice(n);
    }
    Bytes::from(v)
}

fn video(ts: i64, cts: i64, keyframe: bool, nal: &[u8]) -> Frame {
    Frame {
        track: 0,
        kind: MediaKind::Video,
        pts: ts + cts,
        dts: ts,
        timescale: 90_000,
        keyframe,
        data: lp(&[nal]),
    }
}

fn audio(ts: i64, data: &[u8]) -> Frame {
    Frame {
        track: 1,
        kind: MediaKind::Audio,
        pts: ts,
        dts: ts,
        timescale: 48_000,
        keyframe: true,
        data: Bytes::copy_from_slice(data),
    }
}

/// A few frames of each track, muxed with tables at the start.
fn muxed(info: &MediaInfo, frames: &[Frame]) -> Vec<u8> {
    let mut m = TsMuxer::new(info);
    let mut out = Vec::new();
    m.write_tables(&mut out);
    for f in frames {
        m.write_frame(f, &mut out).expect("mux seed frame");
    }
    out
}

fn h264_aac() -> Vec<u8> {
    let info = MediaInfo {
        tracks: vec![
            Track {
                id: 0,
                timescale: 90_000,
                codec: CodecConfig::H264(
                    H264Config::from_parameter_sets(
                        vec![Bytes::from_static(SPS)],
                        vec![Bytes::from_static(PPS)],
                    )
                    .expect("valid parameter sets"),
                ),
            },
            Track {
                id: 1,
                timescale: 48_000,
                codec: CodecConfig::Aac(AacConfig::from_fields(2, 3, 2).expect("valid AAC")),
            },
        ],
    };
    let frames = [
        video(9000, 7200, true, &[0x65, 0x88, 0x84, 0x21, 0x43]),
        audio(4800, &[0x21, 0x10, 0x05]),
        video(12_600, 3600, false, &[0x41, 0x9a, 0x02]),
        audio(5824, &[0x21, 0x10, 0x06, 0x07]),
        video(16_200, 0, false, &[0x01, 0x9e, 0x03]),
        audio(6848, &[0x21, 0x10, 0x08]),
    ];
    muxed(&info, &frames)
}

fn h265_opus() -> Vec<u8> {
    let info = MediaInfo {
        tracks: vec![
            Track {
                id: 0,
                timescale: 90_000,
                codec: CodecConfig::H265(
                    H265Config::from_parameter_sets(
                        vec![Bytes::from_static(HEVC_VPS)],
                        vec![Bytes::from_static(HEVC_SPS)],
                        vec![Bytes::from_static(HEVC_PPS)],
                    )
                    .expect("valid parameter sets"),
                ),
            },
            Track {
                id: 1,
                timescale: 48_000,
                codec: CodecConfig::Opus(OpusConfig {
                    channels: 2,
                    sample_rate: 48_000,
                    pre_skip: 312,
                }),
            },
        ],
    };
    let frames = [
        video(0, 0, true, &[0x26, 0x01, 0xAF, 0x11]),
        audio(0, &[0xFC, 0xFF, 0xFE]),
        video(3600, 0, false, &[0x02, 0x01, 0xD0, 0x22]),
        audio(960, &[0xFC, 0x01, 0x02]),
    ];
    muxed(&info, &frames)
}

fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("ts_demux/h264_aac.ts", h264_aac()),
        ("ts_demux/h265_opus.ts", h265_opus()),
    ]
}

#[test]
fn seeds_are_valid_inputs() {
    for (name, bytes) in seeds() {
        let mut d = TsDemuxer::new();
        d.push(&bytes);
        d.flush();
        let mut tracks = 0;
        let mut frames = 0;
        while let Some(e) = d.poll_event() {
            match e {
                DemuxEvent::Tracks(i) => {
                    assert_eq!(i.tracks.len(), 2, "{name}");
                    tracks += 1;
                }
                DemuxEvent::Frame(_) => frames += 1,
            }
        }
        assert_eq!(tracks, 1, "{name}");
        assert!(frames >= 4, "{name}: {frames} frames");
        assert_eq!(d.stats().frames_dropped, 0, "{name}");
    }
}

#[test]
fn seed_files_are_current() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    let write = std::env::var_os("WEIR_WRITE_FUZZ_SEEDS").is_some();
    for (name, bytes) in seeds() {
        let path = dir.join(name);
        if write {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("create seed directory");
            }
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
