//! Real-peer test: an x264 + AAC stream (timestamps in milliseconds, as from RTMP) is segmented
//! by `HlsSegmenter`; ffprobe must read the whole playlist without errors and ffmpeg must decode
//! every segment on its own.
//!
//! Needs `ffmpeg` and `ffprobe` on the PATH (with libx264); the test fails if they are missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;
use weir_hls::{HlsConfig, HlsSegmenter};
use weir_media::codec::{aac, h264, nal};
use weir_media::{AacConfig, CodecConfig, Frame, H264Config, MediaInfo, MediaKind, Track};

const SECONDS: i64 = 8;
const START_MS: i64 = 3_600_000;

fn run(cmd: &str, args: &[&str]) -> (Vec<u8>, String) {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| {
        panic!("cannot run `{cmd}` ({e}): this test needs ffmpeg and ffprobe (with libx264) on the PATH")
    });
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "`{cmd} {}` failed: {stderr}",
        args.join(" ")
    );
    (out.stdout, stderr)
}

fn p(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

fn frames(dir: &Path) -> (MediaInfo, Vec<Frame>, usize, usize) {
    let raw = dir.join("v.h264");
    let adts = dir.join("a.aac");
    let secs = SECONDS.to_string();
    run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=640x360:r=30",
            "-f",
            "lavfi",
            "-i",
            "sine=f=440:sample_rate=48000",
            "-t",
            &secs,
            "-map",
            "0:v",
            "-c:v",
            "libx264",
            "-g",
            "30",
            "-bf",
            "0",
            "-x264-params",
            "repeat-headers=1",
            "-bsf:v",
            "h264_metadata=aud=insert",
            "-f",
            "h264",
            p(&raw),
            "-t",
            &secs,
            "-map",
            "1:a",
            "-c:a",
            "aac",
            "-f",
            "adts",
            p(&adts),
        ],
    );

    // Video: split at AUDs, keep SPS/PPS in the configuration only.
    let data = std::fs::read(&raw).expect("read H.264");
    let mut aus: Vec<Vec<&[u8]>> = Vec::new();
    for unit in nal::split_annexb(&data) {
        if h264::nal_type(unit) == h264::NAL_AUD || aus.is_empty() {
            aus.push(Vec::new());
        }
        if let Some(au) = aus.last_mut() {
            au.push(unit);
        }
    }
    let (mut sps, mut pps) = (Vec::new(), Vec::new());
    let mut out = Vec::new();
    for (i, au) in aus.iter().enumerate() {
        let mut lp = Vec::new();
        let mut keyframe = false;
        for unit in au {
            match h264::nal_type(unit) {
                h264::NAL_SPS if sps.is_empty() => sps.push(Bytes::copy_from_slice(unit)),
                h264::NAL_PPS if pps.is_empty() => pps.push(Bytes::copy_from_slice(unit)),
                h264::NAL_SPS | h264::NAL_PPS | h264::NAL_AUD => {}
                t => {
                    keyframe |= t == h264::NAL_IDR;
                    lp.extend_from_slice(&(unit.len() as u32).to_be_bytes());
                    lp.extend_from_slice(unit);
                }
            }
        }
        let ts = START_MS + i as i64 * 1000 / 30;
        out.push(Frame {
            track: 0,
            kind: MediaKind::Video,
            pts: ts,
            dts: ts,
            timescale: 1000,
            keyframe,
            data: Bytes::from(lp),
        });
    }
    let video_frames = out.len();
    assert_eq!(video_frames, 30 * SECONDS as usize);

    // Audio: raw AAC frames, timestamps rounded to milliseconds.
    let data = std::fs::read(&adts).expect("read ADTS");
    let mut rest = &data[..];
    let mut acfg = None;
    let mut n = 0i64;
    while !rest.is_empty() {
        let h = aac::parse_adts(rest).expect("ADTS");
        if acfg.is_none() {
            acfg = Some(
                AacConfig::from_fields(h.object_type, h.sampling_index, h.channels)
                    .expect("AAC config"),
            );
        }
        let ts = START_MS + n * 1024 * 1000 / 48_000;
        out.push(Frame {
            track: 1,
            kind: MediaKind::Audio,
            pts: ts,
            dts: ts,
            timescale: 1000,
            keyframe: true,
            data: Bytes::copy_from_slice(&rest[h.header_len..h.frame_len]),
        });
        rest = &rest[h.frame_len..];
        n += 1;
    }
    out.sort_by_key(|f| f.dts);
    let info = MediaInfo {
        tracks: vec![
            Track {
                id: 0,
                timescale: 1000,
                codec: CodecConfig::H264(
                    H264Config::from_parameter_sets(sps, pps).expect("H.264 config"),
                ),
            },
            Track {
                id: 1,
                timescale: 1000,
                codec: CodecConfig::Aac(acfg.expect("audio frames")),
            },
        ],
    };
    (info, out, video_frames, n as usize)
}

#[test]
fn ffmpeg_plays_the_playlist_and_each_segment() {
    let dir: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("weir-hls-ffmpeg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (info, frames, video_frames, audio_frames) = frames(&dir);

    let mut hls = HlsSegmenter::new(HlsConfig {
        window_segments: 10,
        ..HlsConfig::default()
    });
    hls.start(&info);
    for f in &frames {
        hls.push(f, 1_700_000_000_000 + f.dts - START_MS);
    }
    hls.flush();
    let segments: Vec<_> = hls.segments().cloned().collect();
    assert_eq!(segments.len(), 4);
    let durations: Vec<u64> = segments.iter().map(|s| s.duration_ms).collect();
    assert_eq!(durations, vec![2_000, 2_000, 2_000, 1_999]);
    for s in &segments {
        std::fs::write(dir.join(format!("seg{}.ts", s.sequence)), &s.data).expect("write segment");
    }
    let playlist = dir.join("index.m3u8");
    std::fs::write(&playlist, hls.playlist(true)).expect("write playlist");

    let (json, stderr) = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-count_frames",
            "-show_streams",
            "-of",
            "json",
            p(&playlist),
        ],
    );
    assert!(stderr.is_empty(), "ffprobe reported errors:\n{stderr}");
    let json = String::from_utf8_lossy(&json);
    assert!(
        json.contains("\"codec_name\": \"h264\"") && json.contains("\"codec_name\": \"aac\""),
        "{json}"
    );
    for n in [video_frames, audio_frames] {
        assert!(
            json.contains(&format!("\"nb_read_frames\": \"{n}\"")),
            "all {n} frames read:\n{json}"
        );
    }

    for s in &segments {
        let seg = dir.join(format!("seg{}.ts", s.sequence));
        let (_, stderr) = run("ffmpeg", &["-v", "error", "-i", p(&seg), "-f", "null", "-"]);
        assert!(
            stderr.is_empty(),
            "segment {} does not decode on its own:\n{stderr}",
            s.sequence
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
