//! Real-peer tests: ffmpeg encodes 2 s of 320x240 video and a 48 kHz sine into MPEG-TS
//! (H.264 with B-frames + AAC, H.265 + AAC, H.264 + Opus), `weir_mpegts::TsDemuxer` turns it
//! into frames, `Fmp4Muxer` packages them (CMAF track files, one per track, and a muxed file;
//! segments cut at keyframes, LL-HLS-style parts in between, `prft` on parts), and then:
//!
//! - ffprobe (`-v error`) reads `init + fragments` without a word, reports the right streams,
//!   and the same packets as the input: count, PTS/DTS, keyframe flags;
//! - ffmpeg decodes every frame without an error;
//! - mp4box.js (GPAC's JavaScript parser, `tests/js`, installed with `npm ci`) parses the init
//!   segment and the fragments one by one without errors or warnings and reports the codec
//!   strings `Fmp4Muxer` announces and every sample with the same timestamps and sync flags.
//!
//! Needs `ffmpeg` and `ffprobe` (with libx264, libx265 and libopus): the tests fail without
//! them. The mp4box.js part is skipped, with a message, when `npm` is not installed.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;
use weir_fmp4::{Fmp4Muxer, Fmp4Options, Fragment, FragmentOpts, ParameterSets};
use weir_media::{CodecConfig, Frame, MediaInfo, MediaKind, Track, rescale};
use weir_mpegts::{DemuxEvent, TsDemuxer};

fn run(cmd: &str, args: &[&str]) -> (String, String) {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| {
        panic!("cannot run `{cmd}` ({e}): these tests need ffmpeg and ffprobe on the PATH")
    });
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "`{cmd} {}` failed: {stderr}",
        args.join(" ")
    );
    (stdout, stderr)
}

fn work_dir(case: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("weir-fmp4-{case}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

fn p(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

/// Encodes 2 s of 320x240 test video at 25 fps and a 48 kHz mono sine into an MPEG-TS file
/// and demuxes it: the stream's tracks and frames (90 kHz timestamps).
fn encode(dir: &Path, video: &[&str], audio: &[&str]) -> (MediaInfo, Vec<Frame>) {
    let ts = dir.join("in.ts");
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
    args.extend_from_slice(&["-f", "mpegts", p(&ts)]);
    run("ffmpeg", &args);
    let data = std::fs::read(&ts).expect("read TS");
    let mut demux = TsDemuxer::new();
    let (mut info, mut frames) = (None, Vec::new());
    let mut take = |demux: &mut TsDemuxer| {
        while let Some(e) = demux.poll_event() {
            match e {
                DemuxEvent::Tracks(i) => info = Some(i),
                DemuxEvent::Frame(f) => frames.push(f),
            }
        }
    };
    demux.push(&data);
    take(&mut demux);
    demux.flush();
    take(&mut demux);
    (info.expect("tracks announced"), frames)
}

/// The output of one muxer: init segment, fragments, and everything concatenated.
struct Output {
    name: String,
    codecs: String,
    tracks: Vec<Track>,
    frames: Vec<Frame>,
    files: Vec<PathBuf>,
    whole: PathBuf,
    fragments: Vec<Fragment>,
}

/// Muxes `frames` of `tracks` as an LL-HLS packager would: a new segment at every video
/// keyframe (every second for audio only), a part whenever 200 ms are pending, `prft` on every
/// other fragment. When a keyframe arrives, the fragment before it closes the old segment and
/// the keyframe (held back) opens the next fragment, which starts the new segment.
fn mux(dir: &Path, name: &str, tracks: &[Track], all: &[Frame], opts: Fmp4Options) -> Output {
    let mut m = Fmp4Muxer::new(tracks, opts).expect("muxer");
    let frames: Vec<Frame> = all
        .iter()
        .filter(|f| tracks.iter().any(|t| t.id == f.track))
        .cloned()
        .collect();
    let has_video = tracks.iter().any(|t| t.kind() == MediaKind::Video);
    let mut fragments: Vec<Fragment> = Vec::new();
    let mut in_segment = Duration::ZERO;
    // The first fragment starts the first segment.
    let mut segment_next = true;
    for (i, f) in frames.iter().enumerate() {
        m.push(f)
            .unwrap_or_else(|e| panic!("{name}: frame {i}: {e}"));
        let wall =
            UNIX_EPOCH + Duration::from_secs(1_800_000_000) + Duration::from_millis(i as u64);
        let pending = m.pending_duration();
        let segment_boundary = if has_video {
            f.is_video() && f.keyframe
        } else {
            in_segment + pending >= Duration::from_secs(1)
        };
        if !segment_boundary && pending < Duration::from_millis(200) {
            continue;
        }
        let mut opts = FragmentOpts {
            segment_start: segment_next,
            prft: None,
        };
        if fragments.len().is_multiple_of(2) {
            opts = opts.with_prft(wall);
        }
        if let Some(frag) = m.fragment(&opts) {
            in_segment = if opts.segment_start {
                frag.duration()
            } else {
                in_segment + frag.duration()
            };
            segment_next = false;
            fragments.push(frag);
        }
        if segment_boundary {
            segment_next = true;
        }
    }
    let codecs = m.codecs();
    let init = m.init_segment();
    fragments.extend(m.finish(&FragmentOpts {
        segment_start: segment_next,
        prft: None,
    }));
    assert!(
        fragments.len() >= 6,
        "{name}: {} fragments",
        fragments.len()
    );

    let mut files = vec![dir.join(format!("{name}-init.mp4"))];
    std::fs::write(&files[0], &init).unwrap();
    let mut whole = init.to_vec();
    for (i, frag) in fragments.iter().enumerate() {
        common::parse_fragment(&frag.data).unwrap_or_else(|e| panic!("{name}: fragment {i}: {e}"));
        let path = dir.join(format!("{name}-{i}.m4s"));
        std::fs::write(&path, &frag.data).unwrap();
        files.push(path);
        whole.extend_from_slice(&frag.data);
    }
    common::check_tree(&whole).unwrap();
    let whole_path = dir.join(format!("{name}.mp4"));
    std::fs::write(&whole_path, &whole).unwrap();
    Output {
        name: name.to_owned(),
        codecs,
        tracks: tracks.to_vec(),
        frames,
        files,
        whole: whole_path,
        fragments,
    }
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

/// The MP4 timescale of a track (what ffprobe's time base will be).
fn timescale(t: &Track) -> u32 {
    match &t.codec {
        CodecConfig::H264(_) | CodecConfig::H265(_) => 90_000,
        CodecConfig::Aac(c) => c.sample_rate,
        _ => 48_000,
    }
}

/// ffprobe and ffmpeg: no complaints, the right streams, every packet with its timestamps and
/// flags, every frame decoded.
fn check_ffprobe(out: &Output) {
    let name = &out.name;
    let file = p(&out.whole);
    let (stdout, stderr) = run("ffprobe", &["-v", "error", file]);
    assert_eq!(
        (stdout.trim(), stderr.trim()),
        ("", ""),
        "{name}: ffprobe -v error"
    );

    let (streams, stderr) = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=index,codec_name,codec_tag_string,width,height,sample_rate,channels,time_base,nb_read_frames",
            "-of",
            "compact=p=0",
            file,
        ],
    );
    assert_eq!(stderr.trim(), "", "{name}: decoding while counting frames");
    let streams = compact(&streams);
    assert_eq!(streams.len(), out.tracks.len(), "{name}: {streams:?}");
    for (s, t) in streams.iter().zip(&out.tracks) {
        let count = out.frames.iter().filter(|f| f.track == t.id).count();
        assert_eq!(s["codec_name"], t.codec.name(), "{name}: {s:?}");
        assert_eq!(s["time_base"], format!("1/{}", timescale(t)), "{name}");
        assert_eq!(
            s["nb_read_frames"],
            count.to_string(),
            "{name}: every frame of stream {} decoded",
            s["index"]
        );
        match &t.codec {
            CodecConfig::H264(_) | CodecConfig::H265(_) => {
                assert_eq!((s["width"].as_str(), s["height"].as_str()), ("320", "240"));
            }
            CodecConfig::Aac(c) => {
                assert_eq!(s["sample_rate"], c.sample_rate.to_string());
                assert_eq!(s["channels"], c.channels.to_string());
            }
            CodecConfig::Opus(c) => {
                assert_eq!(s["sample_rate"], "48000");
                assert_eq!(s["channels"], c.channels.to_string());
            }
            CodecConfig::Av1(_) => unreachable!(),
        }
    }

    let (packets, _) = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "packet=stream_index,pts,dts,size,flags",
            "-of",
            "compact=p=0",
            file,
        ],
    );
    let packets = compact(&packets);
    for (index, t) in out.tracks.iter().enumerate() {
        let ts = timescale(t);
        let ours: Vec<&Frame> = out.frames.iter().filter(|f| f.track == t.id).collect();
        let theirs: Vec<&HashMap<String, String>> = packets
            .iter()
            .filter(|m| m["stream_index"] == index.to_string())
            .collect();
        assert_eq!(
            theirs.len(),
            ours.len(),
            "{name}: packets of stream {index}"
        );
        let num = |m: &HashMap<String, String>, k: &str| -> i64 {
            m[k].parse()
                .unwrap_or_else(|_| panic!("{name}: ffprobe {k}={} in {m:?}", m[k]))
        };
        for (i, (f, m)) in ours.iter().zip(&theirs).enumerate() {
            // Absolute times: the muxer writes the frames' own timestamps (no rebasing), and
            // ffprobe reports them as they are.
            let (pts, dts) = (
                rescale(f.pts, f.timescale, ts),
                rescale(f.dts, f.timescale, ts),
            );
            assert_eq!(
                (num(m, "pts"), num(m, "dts"), m["flags"].starts_with('K')),
                (pts, dts, f.keyframe),
                "{name}: stream {index} packet {i}"
            );
        }
    }

    let (_, stderr) = run("ffmpeg", &["-v", "error", "-i", file, "-f", "null", "-"]);
    assert_eq!(stderr.trim(), "", "{name}: ffmpeg decode");
}

fn npm_ready() -> Option<PathBuf> {
    static READY: OnceLock<Option<PathBuf>> = OnceLock::new();
    READY
        .get_or_init(|| {
            let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
            let npm_ok = Command::new("npm")
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success());
            if !npm_ok {
                eprintln!("SKIPPED: npm is not installed: the mp4box.js checks do not run");
                return None;
            }
            if !js.join("node_modules/mp4box/package.json").exists() {
                let out = Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                    .current_dir(&js)
                    .output()
                    .expect("run npm ci");
                assert!(
                    out.status.success(),
                    "npm ci in {}: {}",
                    js.display(),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            Some(js)
        })
        .clone()
}

/// mp4box.js: no errors or warnings, the codec strings the muxer announces, every sample.
fn check_mp4box(out: &Output) {
    let Some(js) = npm_ready() else { return };
    let name = &out.name;
    let mut args = vec![js.join("probe.mjs").to_str().unwrap().to_owned()];
    args.extend(out.files.iter().map(|f| p(f).to_owned()));
    let (stdout, _) = run("node", &args.iter().map(String::as_str).collect::<Vec<_>>());
    let v: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{name}: {e}: {stdout}"));
    assert_eq!(
        v["errors"],
        Value::Array(vec![]),
        "{name}: mp4box.js errors"
    );
    // mp4box.js keeps one field per top-level box type and says so when a type repeats, as
    // `styp` and `prft` do once per fragment; that is about its object model, not the file.
    let warnings: Vec<&str> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .filter(|w| {
            !(w.contains("Found multiple boxes of type styp")
                || w.contains("Found multiple boxes of type prft"))
        })
        .collect();
    assert_eq!(warnings, Vec::<&str>::new(), "{name}: mp4box.js warnings");
    assert_eq!(v["fragmented"], Value::Bool(true), "{name}");
    let brands: Vec<&str> = v["brands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap())
        .collect();
    if out.tracks.len() == 1 {
        assert!(brands.contains(&"cmfc"), "{name}: {brands:?}");
    }
    let tracks = v["tracks"].as_array().unwrap();
    assert_eq!(tracks.len(), out.tracks.len(), "{name}");
    let ours: Vec<&str> = out.codecs.split(',').collect();
    for ((jt, t), codec) in tracks.iter().zip(&out.tracks).zip(ours) {
        let theirs = jt["codec"].as_str().unwrap();
        // mp4box.js writes hexadecimal digits in lower case and Opus as its sample entry
        // name (`Opus`); codec strings compare case-insensitively.
        assert!(
            theirs.eq_ignore_ascii_case(codec),
            "{name}: mp4box.js says {theirs}, the muxer {codec}"
        );
        match &t.codec {
            // weir-media's strings name the out-of-band sample entries (`avc1`).
            CodecConfig::H264(_) if codec.starts_with("avc3") => {}
            CodecConfig::H265(_) if codec.starts_with("hev1") => {}
            CodecConfig::H264(_)
            | CodecConfig::H265(_)
            | CodecConfig::Aac(_)
            | CodecConfig::Opus(_) => {
                assert!(
                    theirs.eq_ignore_ascii_case(&t.codec.rfc6381()),
                    "{name}: {theirs}"
                );
            }
            _ => {}
        }
        let ts = timescale(t);
        assert_eq!(jt["timescale"].as_u64(), Some(u64::from(ts)), "{name}");
        let frames: Vec<&Frame> = out.frames.iter().filter(|f| f.track == t.id).collect();
        assert_eq!(
            jt["nb_samples"].as_u64(),
            Some(frames.len() as u64),
            "{name}"
        );
        if t.kind() == MediaKind::Video {
            assert_eq!(
                (jt["width"].as_u64(), jt["height"].as_u64()),
                (Some(320), Some(240))
            );
        } else {
            assert_eq!(jt["sample_rate"].as_u64(), Some(48_000), "{name}");
        }
        let samples = v["samples"][jt["id"].as_u64().unwrap().to_string()]
            .as_array()
            .unwrap();
        assert_eq!(samples.len(), frames.len(), "{name}: samples");
        for (i, (s, f)) in samples.iter().zip(&frames).enumerate() {
            let dts = rescale(f.dts, f.timescale, ts);
            let pts = rescale(f.pts, f.timescale, ts);
            assert_eq!(
                (s["dts"].as_i64(), s["cts"].as_i64(), s["is_sync"].as_bool()),
                (Some(dts), Some(pts), Some(f.keyframe)),
                "{name}: track {} sample {i}",
                t.id
            );
        }
    }
}

fn check_fragments(out: &Output) {
    // Segments start with a keyframe and every fragment's tfdt follows the previous one.
    let mut next: HashMap<u8, u64> = HashMap::new();
    let segments = out.fragments.iter().filter(|f| f.segment_start).count();
    assert!(segments >= 2, "{}: {segments} segments", out.name);
    for (i, f) in out.fragments.iter().enumerate() {
        if f.segment_start {
            assert!(f.starts_with_keyframe(), "{}: segment {i}", out.name);
        }
        for t in &f.tracks {
            if let Some(&want) = next.get(&t.track) {
                assert_eq!(t.base_decode_time, want, "{}: fragment {i}", out.name);
            }
            next.insert(t.track, t.base_decode_time + t.duration);
        }
    }
}

fn case(name: &str, video_args: &[&str], audio_args: &[&str], in_band_too: bool) {
    let dir = work_dir(name);
    let (info, frames) = encode(&dir, video_args, audio_args);
    let video = info.video().expect("video track").clone();
    let audio = info.audio().expect("audio track").clone();
    assert!(frames.iter().any(|f| f.pts != f.dts) || video.codec.name() == "hevc");
    let mut outputs = vec![
        mux(
            &dir,
            "video",
            std::slice::from_ref(&video),
            &frames,
            Fmp4Options::default(),
        ),
        mux(
            &dir,
            "audio",
            std::slice::from_ref(&audio),
            &frames,
            Fmp4Options::default(),
        ),
        mux(
            &dir,
            "muxed",
            &[video.clone(), audio],
            &frames,
            Fmp4Options::default(),
        ),
    ];
    if in_band_too {
        let opts = Fmp4Options {
            parameter_sets: ParameterSets::InBand,
        };
        outputs.push(mux(&dir, "in-band", &[video], &frames, opts));
    }
    for out in &outputs {
        check_fragments(out);
        check_ffprobe(out);
        check_mp4box(out);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn h264_with_b_frames_and_aac() {
    case(
        "h264-aac",
        &["-c:v", "libx264", "-bf", "2", "-g", "25"],
        &["-c:a", "aac"],
        true,
    );
}

#[test]
fn h265_and_aac() {
    case(
        "h265-aac",
        &[
            "-c:v",
            "libx265",
            "-x265-params",
            "log-level=none:keyint=25",
        ],
        &["-c:a", "aac"],
        true,
    );
}

#[test]
fn h264_and_opus() {
    case(
        "h264-opus",
        &["-c:v", "libx264", "-bf", "2", "-g", "25"],
        &["-c:a", "libopus"],
        false,
    );
}
