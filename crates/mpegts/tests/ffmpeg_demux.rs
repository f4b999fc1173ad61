//! Real-peer test of the demuxer: ffmpeg writes MPEG-TS files (H.264 with B-frames + AAC,
//! H.265 + AAC, H.264 + Opus), `TsDemuxer` reads them, and what it produces is compared with
//! what `ffprobe -show_packets` reports for the same files: every packet accounted for, the
//! same keyframe flags, the same timestamps (rebased to the first video DTS), the same sizes.
//!
//! Needs `ffmpeg` (with libx264, libx265 and libopus) and `ffprobe`; when ffmpeg is not
//! installed the tests print a message and pass.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use weir_media::codec::{h264, h265, nal};
use weir_media::{CodecConfig, Frame, MediaInfo};
use weir_mpegts::{AUDIO_TRACK, DemuxEvent, DemuxStats, TsDemuxer, VIDEO_TRACK};

fn have_ffmpeg() -> bool {
    let ok = |cmd: &str| {
        Command::new(cmd)
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if ok("ffmpeg") && ok("ffprobe") {
        true
    } else {
        eprintln!(
            "SKIPPED: ffmpeg/ffprobe not found on the PATH (install ffmpeg to run this test)"
        );
        false
    }
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{cmd}`: {e}"));
    assert!(
        out.status.success(),
        "`{cmd} {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn work_dir(case: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("weir-mpegts-demux-{case}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Encodes 2 s of 320x240 test video at 25 fps and a 48 kHz sine into an MPEG-TS file.
fn encode(dir: &Path, video: &[&str], audio: &[&str]) -> PathBuf {
    let out = dir.join("in.ts");
    let mut args = vec![
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x240:r=25",
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:sample_rate=48000",
        "-t",
        "2",
        "-pix_fmt",
        "yuv420p",
    ];
    args.extend_from_slice(video);
    args.extend_from_slice(audio);
    args.extend_from_slice(&["-f", "mpegts", out.to_str().expect("UTF-8 path")]);
    run("ffmpeg", &args);
    out
}

/// One packet as ffprobe reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Probed {
    stream: usize,
    pts: i64,
    dts: i64,
    size: usize,
    key: bool,
}

/// `key=value|key=value` lines of ffprobe's compact output.
fn compact(out: &str) -> Vec<HashMap<String, String>> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split('|')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

fn probe(path: &Path) -> (Vec<HashMap<String, String>>, Vec<Probed>) {
    let p = path.to_str().expect("UTF-8 path");
    let streams = compact(&run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "stream=index,codec_type,codec_name,width,height,sample_rate,channels",
            "-of",
            "compact=p=0",
            p,
        ],
    ));
    let packets = compact(&run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "packet=stream_index,pts,dts,size,flags",
            "-of",
            "compact=p=0",
            p,
        ],
    ))
    .into_iter()
    .filter(|m| m.contains_key("stream_index"))
    .map(|m| {
        let num = |k: &str| -> i64 {
            m[k].parse()
                .unwrap_or_else(|_| panic!("ffprobe {k}={} in {m:?}", m[k]))
        };
        Probed {
            stream: num("stream_index") as usize,
            pts: num("pts"),
            dts: num("dts"),
            size: num("size") as usize,
            key: m["flags"].starts_with('K'),
        }
    })
    .collect();
    (streams, packets)
}

/// Demuxes a file fed in 1316-byte datagrams (7 packets, as SRT carries them).
fn demux(ts: &[u8]) -> (Vec<DemuxEvent>, DemuxStats) {
    let mut d = TsDemuxer::new();
    let mut events = Vec::new();
    for chunk in ts.chunks(1316) {
        d.push(chunk);
        while let Some(e) = d.poll_event() {
            events.push(e);
        }
    }
    d.flush();
    while let Some(e) = d.poll_event() {
        events.push(e);
    }
    (events, d.stats().clone())
}

fn frames(events: &[DemuxEvent], track: u8) -> Vec<Frame> {
    events
        .iter()
        .filter_map(|e| match e {
            DemuxEvent::Frame(f) if f.track == track => Some(f.clone()),
            _ => None,
        })
        .collect()
}

fn tracks(events: &[DemuxEvent]) -> Vec<MediaInfo> {
    events
        .iter()
        .filter_map(|e| match e {
            DemuxEvent::Tracks(i) => Some(i.clone()),
            _ => None,
        })
        .collect()
}

/// The NAL units of a video frame.
fn nal_units(f: &Frame) -> Vec<&[u8]> {
    nal::iter_length_prefixed(&f.data, 4)
        .map(|n| n.expect("well-formed length-prefixed frame"))
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Audio {
    Aac,
    Opus,
}

/// Demuxes `ts` and checks the result against ffprobe's packets of the same file.
fn check(case: &str, ts: &[u8], probed: &[Probed], video_codec: &str, audio: Audio) {
    let (events, stats) = demux(ts);
    assert!(
        matches!(events.first(), Some(DemuxEvent::Tracks(_))),
        "{case}: tracks first"
    );
    let infos = tracks(&events);
    assert_eq!(infos.len(), 1, "{case}: one announcement: {infos:?}");
    let info = &infos[0];
    let v = info.track(VIDEO_TRACK).expect("video track");
    let a = info.track(AUDIO_TRACK).expect("audio track");
    assert_eq!(v.codec.name(), video_codec, "{case}");
    match &v.codec {
        CodecConfig::H264(c) => assert_eq!((c.width, c.height), (320, 240)),
        CodecConfig::H265(c) => {
            assert_eq!((c.width, c.height), (320, 240));
            assert_eq!(
                CodecConfig::H265(weir_media::H265Config::from_hvcc(c.hvcc.clone()).unwrap()),
                v.codec,
                "{case}: the built hvcC parses back"
            );
        }
        other => panic!("{case}: video codec {other:?}"),
    }
    match (&a.codec, audio) {
        (CodecConfig::Aac(c), Audio::Aac) => {
            assert_eq!((c.sample_rate, c.channels, c.object_type), (48_000, 1, 2));
        }
        (CodecConfig::Opus(c), Audio::Opus) => {
            assert_eq!((c.channels, c.sample_rate, c.pre_skip), (1, 48_000, 312));
        }
        (other, _) => panic!("{case}: audio codec {other:?}"),
    }

    let video = frames(&events, VIDEO_TRACK);
    let audio_frames = frames(&events, AUDIO_TRACK);
    let pv: Vec<&Probed> = probed.iter().filter(|p| p.stream == 0).collect();
    let pa: Vec<&Probed> = probed.iter().filter(|p| p.stream == 1).collect();
    assert!(
        video.len() >= 40 && audio_frames.len() >= 40,
        "{case}: too few frames"
    );

    // Video: every packet, in order, with its keyframe flag and timestamps. The demuxer's
    // first frame is the first keyframe ffprobe reports.
    let skip = pv.iter().position(|p| p.key).expect("a keyframe");
    let pv = &pv[skip..];
    assert_eq!(video.len(), pv.len(), "{case}: video frames");
    let base_ours = video[0].dts;
    let base_probe = pv[0].dts;
    for (i, (f, p)) in video.iter().zip(pv).enumerate() {
        assert_eq!(
            (f.keyframe, f.pts - base_ours, f.dts - base_ours),
            (p.key, p.pts - base_probe, p.dts - base_probe),
            "{case}: video frame {i}"
        );
        // The payload is the access unit without its AUD: the same NAL units ffmpeg wrote.
        let units = nal_units(f);
        assert!(!units.is_empty());
        let aud = |n: &[u8]| {
            if video_codec == "hevc" {
                h265::nal_type(n) == h265::NAL_AUD
            } else {
                h264::nal_type(n) == h264::NAL_AUD
            }
        };
        assert!(!units.iter().any(|n| aud(n)), "{case}: AUD removed");
        let annexb: usize = units.iter().map(|n| n.len() + 3).sum();
        assert!(
            p.size >= annexb && p.size <= annexb + 4 * units.len() + 12,
            "{case}: video frame {i}: {} bytes of NAL units in a {}-byte packet",
            annexb,
            p.size
        );
    }
    if video_codec == "h264" {
        assert!(
            video.iter().any(|f| f.pts != f.dts),
            "{case}: B-frames reorder"
        );
    }

    // Audio: every frame, with the packet's timestamp and size.
    let audio_base = audio_frames[0].pts - base_ours;
    let first = pa
        .iter()
        .position(|p| p.pts - base_probe == audio_base)
        .unwrap_or_else(|| panic!("{case}: first audio frame at {audio_base} not probed"));
    let pa = &pa[first..];
    assert_eq!(audio_frames.len(), pa.len(), "{case}: audio frames");
    for (i, (f, p)) in audio_frames.iter().zip(pa).enumerate() {
        // ffprobe counts the ADTS header of AAC packets; Opus packets are raw.
        let header = if audio == Audio::Aac { 7 } else { 0 };
        assert_eq!(
            (
                f.pts - base_ours,
                f.dts - base_ours,
                f.data.len() + header,
                f.keyframe
            ),
            (p.pts - base_probe, p.dts - base_probe, p.size, true),
            "{case}: audio frame {i}"
        );
    }

    assert_eq!(
        (
            stats.continuity_errors,
            stats.pes_errors,
            stats.psi_errors,
            stats.transport_errors,
            stats.unsupported_streams
        ),
        (0, 0, 0, 0, 0),
        "{case}: {stats:?}"
    );
    assert_eq!(stats.bytes_skipped, 0, "{case}");
    assert!(stats.last_pcr.is_some(), "{case}: PCR");
}

fn case(name: &str, video: &[&str], audio_args: &[&str], video_codec: &str, audio: Audio) {
    if !have_ffmpeg() {
        return;
    }
    let dir = work_dir(name);
    let path = encode(&dir, video, audio_args);
    let (mut streams, packets) = probe(&path);
    // ffprobe lists the streams again under their program.
    let mut seen = std::collections::HashSet::new();
    streams.retain(|s| seen.insert(s["index"].clone()));
    assert_eq!(streams.len(), 2, "{streams:?}");
    assert_eq!(streams[0]["codec_name"], video_codec);
    let ts = std::fs::read(&path).expect("read TS");
    assert_eq!(ts.len() % 188, 0);

    // The whole file: nothing dropped.
    check(name, &ts, &packets, video_codec, audio);
    let (_, stats) = demux(&ts);
    assert_eq!(stats.frames_dropped, 0, "{name}: {stats:?}");
    assert_eq!(stats.frames as usize, packets.len(), "{name}: all frames");

    // Joining mid-stream, in the middle of a packet: video starts at the next keyframe; what
    // comes after matches ffprobe's view of the whole file.
    let cut = ts.len() * 2 / 5 + 101;
    let (events, stats) = demux(&ts[cut..]);
    let video = frames(&events, VIDEO_TRACK);
    assert!(
        video[0].keyframe,
        "{name}: mid-stream start begins with a keyframe"
    );
    assert!(
        stats.frames_dropped > 0 && stats.bytes_skipped > 0,
        "{name}: {stats:?}"
    );
    let all = demux(&ts).0;
    let whole = frames(&all, VIDEO_TRACK);
    let at = whole
        .iter()
        .position(|f| f == &video[0])
        .expect("the keyframe is in the whole file");
    assert_eq!(&whole[at..], &video[..], "{name}: video after joining");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ffmpeg_h264_with_b_frames_and_aac() {
    case(
        "h264-aac",
        &["-c:v", "libx264", "-bf", "2", "-g", "25"],
        &["-c:a", "aac"],
        "h264",
        Audio::Aac,
    );
}

#[test]
fn ffmpeg_h265_and_aac() {
    case(
        "h265-aac",
        &[
            "-c:v",
            "libx265",
            "-x265-params",
            "log-level=none:keyint=25",
        ],
        &["-c:a", "aac"],
        "hevc",
        Audio::Aac,
    );
}

#[test]
fn ffmpeg_h264_and_opus() {
    case(
        "h264-opus",
        &["-c:v", "libx264", "-bf", "2", "-g", "25"],
        &["-c:a", "libopus"],
        "h264",
        Audio::Opus,
    );
}
