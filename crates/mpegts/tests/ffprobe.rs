//! Real-peer test: a stream encoded by ffmpeg (x264 + AAC) is muxed by `TsMuxer` and the result
//! is probed and decoded by ffprobe/ffmpeg, which must report the right streams, every frame and
//! no errors.
//!
//! Needs `ffmpeg` and `ffprobe` on the PATH (with libx264); the test fails if they are missing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;
use weir_media::codec::{aac, h264, nal};
use weir_media::{AacConfig, CodecConfig, Frame, H264Config, MediaInfo, MediaKind, Track, rescale};
use weir_mpegts::{TS_PACKET_SIZE, TsMuxer};

/// Start of the stream's timestamps: streams may begin anywhere, not at zero.
const OFFSET_SECS: i64 = 10;

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

fn work_dir(case: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("weir-mpegts-ffprobe-{case}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

fn p(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

/// Encodes the test video (4 s, 30 fps, 640x360) with `bframes` B-frames. Returns the access
/// units (Annex B, split at the AUDs ffmpeg inserts) and their (dts, pts) in the returned
/// timescale, in decode order.
fn encode_video(dir: &Path, bframes: u32) -> (Vec<Vec<u8>>, Vec<(i64, i64)>, u32) {
    let nut = dir.join("v.nut");
    let raw = dir.join("v.h264");
    let bf = bframes.to_string();
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
            "-t",
            "4",
            "-c:v",
            "libx264",
            "-g",
            "30",
            "-bf",
            &bf,
            "-x264-params",
            "repeat-headers=1",
            "-f",
            "nut",
            p(&nut),
        ],
    );
    run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-y",
            "-i",
            p(&nut),
            "-c",
            "copy",
            "-bsf:v",
            "h264_metadata=aud=insert",
            "-f",
            "h264",
            p(&raw),
        ],
    );
    // Packet timestamps, in the same (decode) order as the raw stream.
    let (crc, _) = run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            p(&nut),
            "-c",
            "copy",
            "-f",
            "framecrc",
            "-",
        ],
    );
    let crc = String::from_utf8(crc).expect("framecrc is text");
    let mut timescale = 0u32;
    let mut stamps = Vec::new();
    for line in crc.lines() {
        if let Some(tb) = line.strip_prefix("#tb 0: 1/") {
            timescale = tb.trim().parse().expect("time base");
        } else if !line.starts_with('#') {
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            stamps.push((
                f[1].parse::<i64>().expect("dts"),
                f[2].parse::<i64>().expect("pts"),
            ));
        }
    }
    assert!(timescale > 0, "no time base in framecrc output:\n{crc}");

    let data = std::fs::read(&raw).expect("read raw H.264");
    let mut aus: Vec<Vec<u8>> = Vec::new();
    for unit in nal::split_annexb(&data) {
        if h264::nal_type(unit) == h264::NAL_AUD || aus.is_empty() {
            aus.push(Vec::new());
        }
        if let Some(au) = aus.last_mut() {
            au.extend_from_slice(&[0, 0, 0, 1]);
            au.extend_from_slice(unit);
        }
    }
    assert_eq!(aus.len(), stamps.len(), "access units vs packets");
    (aus, stamps, timescale)
}

fn encode_audio(dir: &Path) -> Vec<Vec<u8>> {
    let adts = dir.join("a.aac");
    run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine=f=440:sample_rate=48000",
            "-t",
            "4",
            "-c:a",
            "aac",
            "-f",
            "adts",
            p(&adts),
        ],
    );
    split_adts(&std::fs::read(&adts).expect("read ADTS"))
}

/// Splits an ADTS stream into whole ADTS frames.
fn split_adts(mut rest: &[u8]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    while !rest.is_empty() {
        let h = aac::parse_adts(rest).expect("ADTS header");
        frames.push(rest[..h.frame_len].to_vec());
        rest = &rest[h.frame_len..];
    }
    frames
}

/// Parses ffprobe's JSON `streams` into one key/value map per stream (top-level scalar fields
/// only; enough for this test without a JSON dependency).
fn probe_streams(json: &str) -> Vec<HashMap<String, String>> {
    let mut streams: Vec<HashMap<String, String>> = Vec::new();
    for line in json.lines() {
        let line = line.trim().trim_end_matches(',');
        let Some((k, v)) = line.split_once(": ") else {
            continue;
        };
        let k = k.trim_matches('"').to_owned();
        let v = v.trim_matches('"').to_owned();
        if k == "index" {
            streams.push(HashMap::new());
        }
        if let Some(s) = streams.last_mut() {
            s.entry(k).or_insert(v);
        }
    }
    streams
}

fn mux_and_probe(case: &str, bframes: u32, strip_parameter_sets: bool) {
    let dir = work_dir(case);
    let (aus, stamps, vts) = encode_video(&dir, bframes);
    let adts = encode_audio(&dir);

    // Build the track configuration from the stream's parameter sets.
    let (mut sps, mut pps) = (Vec::new(), Vec::new());
    for au in &aus {
        for unit in nal::split_annexb(au) {
            match h264::nal_type(unit) {
                h264::NAL_SPS if sps.is_empty() => sps.push(Bytes::copy_from_slice(unit)),
                h264::NAL_PPS if pps.is_empty() => pps.push(Bytes::copy_from_slice(unit)),
                _ => {}
            }
        }
    }
    let vcfg = H264Config::from_parameter_sets(sps, pps).expect("H.264 config");
    assert_eq!((vcfg.width, vcfg.height), (640, 360));
    let first = aac::parse_adts(&adts[0]).expect("ADTS");
    let acfg = AacConfig::from_fields(first.object_type, first.sampling_index, first.channels)
        .expect("AAC config");
    assert_eq!(acfg.sample_rate, 48_000);
    let info = MediaInfo {
        tracks: vec![
            Track {
                id: 0,
                timescale: vts,
                codec: CodecConfig::H264(vcfg),
            },
            Track {
                id: 1,
                timescale: 48_000,
                codec: CodecConfig::Aac(acfg),
            },
        ],
    };

    // Frames in Weir's conventions: length-prefixed video AUs, raw AAC.
    let mut frames: Vec<Frame> = Vec::new();
    for (au, &(dts, pts)) in aus.iter().zip(&stamps) {
        let mut lp = Vec::new();
        let mut keyframe = false;
        for unit in nal::split_annexb(au) {
            let t = h264::nal_type(unit);
            keyframe |= t == h264::NAL_IDR;
            // AUDs are always dropped (the muxer writes its own); parameter sets optionally, so
            // that the muxer must insert them from the configuration.
            if t == h264::NAL_AUD
                || (strip_parameter_sets && (t == h264::NAL_SPS || t == h264::NAL_PPS))
            {
                continue;
            }
            lp.extend_from_slice(&(unit.len() as u32).to_be_bytes());
            lp.extend_from_slice(unit);
        }
        let off = OFFSET_SECS * i64::from(vts);
        frames.push(Frame {
            track: 0,
            kind: MediaKind::Video,
            pts: pts + off,
            dts: dts + off,
            timescale: vts,
            keyframe,
            data: Bytes::from(lp),
        });
    }
    let video_frames = frames.len();
    let keyframes = frames.iter().filter(|f| f.keyframe).count();
    assert_eq!(keyframes, 4, "4 s at one IDR per 30 frames");
    for (i, a) in adts.iter().enumerate() {
        let h = aac::parse_adts(a).expect("ADTS");
        let ts = OFFSET_SECS * 48_000 + i as i64 * 1024;
        frames.push(Frame {
            track: 1,
            kind: MediaKind::Audio,
            pts: ts,
            dts: ts,
            timescale: 48_000,
            keyframe: true,
            data: Bytes::copy_from_slice(&a[h.header_len..h.frame_len]),
        });
    }
    let audio_frames = adts.len();
    // Interleave by DTS (stable: video first at equal times).
    frames.sort_by_key(|f| rescale(f.dts, f.timescale, 90_000));

    let mut mux = TsMuxer::new(&info);
    let mut ts = Vec::new();
    mux.write_tables(&mut ts);
    for f in &frames {
        if f.is_video() && f.keyframe {
            // As a segmenter would: tables again at every keyframe.
            mux.write_tables(&mut ts);
        }
        mux.write_frame(f, &mut ts).expect("mux frame");
    }
    assert_eq!(ts.len() % TS_PACKET_SIZE, 0);
    let out = dir.join("out.ts");
    std::fs::write(&out, &ts).expect("write TS");

    let (json, stderr) = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_streams",
            "-count_frames",
            "-of",
            "json",
            p(&out),
        ],
    );
    assert!(stderr.is_empty(), "ffprobe reported errors:\n{stderr}");
    let json = String::from_utf8(json).expect("ffprobe JSON");
    let streams = probe_streams(&json);
    assert_eq!(streams.len(), 2, "{json}");
    let v = streams
        .iter()
        .find(|s| s["codec_type"] == "video")
        .expect("video stream");
    let a = streams
        .iter()
        .find(|s| s["codec_type"] == "audio")
        .expect("audio stream");
    assert_eq!(v["codec_name"], "h264");
    assert_eq!((v["width"].as_str(), v["height"].as_str()), ("640", "360"));
    assert_eq!(v["id"], "0x100");
    assert_eq!(
        v["nb_read_frames"].parse::<usize>().expect("video count"),
        video_frames,
        "every video frame decodes"
    );
    let start: f64 = v["start_time"].parse().expect("start_time");
    assert!(
        (start - OFFSET_SECS as f64).abs() < 0.1,
        "video start_time {start}"
    );
    assert_eq!(a["codec_name"], "aac");
    assert_eq!(a["id"], "0x101");
    assert_eq!(a["sample_rate"], "48000");
    let nb_audio: usize = a["nb_read_frames"].parse().expect("audio count");
    assert!(
        nb_audio.abs_diff(audio_frames) <= 1,
        "audio frames: {nb_audio} decoded of {audio_frames}"
    );

    // The video timestamps survive exactly (in 90 kHz).
    let (csv, stderr) = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_entries",
            "packet=pts,dts",
            "-of",
            "csv=p=0",
            p(&out),
        ],
    );
    assert!(stderr.is_empty(), "ffprobe reported errors:\n{stderr}");
    let got: Vec<(i64, i64)> = String::from_utf8_lossy(&csv)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            // "pts,dts," (ffprobe prints pts before dts, and an empty side-data column).
            let mut f = l.split(',').map(str::trim);
            let pts = f.next().and_then(|v| v.parse().ok()).expect("pts");
            let dts = f.next().and_then(|v| v.parse().ok()).expect("dts");
            (pts, dts)
        })
        .collect();
    let want: Vec<(i64, i64)> = frames
        .iter()
        .filter(|f| f.is_video())
        .map(|f| {
            (
                rescale(f.pts, f.timescale, 90_000),
                rescale(f.dts, f.timescale, 90_000),
            )
        })
        .collect();
    assert_eq!(got, want);
    if bframes > 0 {
        assert!(
            want.iter().any(|(pts, dts)| pts != dts),
            "B-frames give pts != dts"
        );
    }

    let (_, stderr) = run("ffmpeg", &["-v", "error", "-i", p(&out), "-f", "null", "-"]);
    assert!(
        stderr.is_empty(),
        "ffmpeg decode reported errors:\n{stderr}"
    );

    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ffprobe_reads_muxed_h264_aac() {
    mux_and_probe("nob", 0, true);
}

#[test]
fn ffprobe_reads_muxed_h264_with_b_frames_and_aac() {
    mux_and_probe("bf2", 2, false);
}
