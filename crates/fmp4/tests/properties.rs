//! Property tests: random streams (B-frame patterns, timestamp jitter, in-band parameter sets,
//! muxed and single-track, random cut points) are muxed, and every output is parsed back by a
//! strict box walker (tests/common): box sizes add up, `tfdt` is continuous, cuts at keyframes
//! start with sync samples, `data_offset` points at the sample data, `mdat` holds exactly the
//! samples, and every sample comes back with its bytes, flags and timestamps.

mod common;

use std::time::{Duration, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;
use weir_fmp4::{Fmp4Muxer, Fmp4Options, FragmentOpts, ParameterSets, ntp_timestamp};
use weir_media::{AacConfig, CodecConfig, Frame, H264Config, MediaKind, Track, TrackId, rescale};

use common::{check_tree, parse_fragment};

/// SPS and PPS of x264 for 320x240 (`ffmpeg -f lavfi -i testsrc2=s=320x240 -c:v libx264`).
const SPS: &[u8] = &[
    0x67, 0x64, 0x00, 0x0d, 0xac, 0xd9, 0x41, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10,
    0x00, 0x00, 0x03, 0x03, 0x20, 0xf1, 0x42, 0x99, 0x60,
];
const PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];

const VIDEO: TrackId = 0;
const AUDIO: TrackId = 1;

fn video_track() -> Track {
    let cfg = H264Config::from_parameter_sets(
        vec![Bytes::from_static(SPS)],
        vec![Bytes::from_static(PPS)],
    )
    .unwrap();
    Track {
        id: VIDEO,
        timescale: 90_000,
        codec: CodecConfig::H264(cfg),
    }
}

fn audio_track() -> Track {
    Track {
        id: AUDIO,
        timescale: 48_000,
        codec: CodecConfig::Aac(AacConfig::from_fields(2, 3, 2).unwrap()),
    }
}

/// One video frame of the plan, in decode order.
#[derive(Debug, Clone)]
struct PlannedVideo {
    in_band_sets: bool,
    sei: bool,
    slice: Vec<u8>,
}

/// Builds video frames: mini-GOPs of an anchor followed (in decode order) by `b` B-frames that
/// precede it in display order.
fn video_frames(
    gops: &[(bool, usize)],
    deltas: &[u32],
    payloads: &[PlannedVideo],
    timescale: u32,
    start: i64,
) -> Vec<Frame> {
    let n: usize = gops.iter().map(|(_, b)| 1 + b).sum();
    let max_delta = i64::from(*deltas.iter().max().unwrap_or(&1));
    // Display-time grid.
    let mut t = Vec::with_capacity(n);
    let mut now = start + max_delta;
    for i in 0..n {
        t.push(now);
        now += i64::from(deltas[i % deltas.len()]);
    }
    let mut frames = Vec::with_capacity(n);
    let mut k = 0;
    for (gi, &(key, b)) in gops.iter().enumerate() {
        // Decode order: the anchor (display k + b), then the B-frames (display k .. k + b).
        let order = std::iter::once(k + b).chain(k..k + b);
        for (j, display) in order.enumerate() {
            let pos = k + j;
            let p = &payloads[pos % payloads.len()];
            let keyframe = j == 0 && (gi == 0 || key);
            let mut data = BytesMut::new();
            let mut put = |nal: &[u8]| {
                data.put_u32(nal.len() as u32);
                data.put_slice(nal);
            };
            if keyframe && p.in_band_sets {
                put(SPS);
                put(PPS);
            }
            if p.sei {
                put(&[0x06, 0x05, 0x01, 0xAA, 0x80]);
            }
            let mut slice = vec![if keyframe { 0x65 } else { 0x41 }];
            slice.extend_from_slice(&p.slice);
            put(&slice);
            frames.push(Frame {
                track: VIDEO,
                kind: MediaKind::Video,
                pts: t[display],
                dts: t[pos] - max_delta,
                timescale,
                keyframe,
                data: data.freeze(),
            });
        }
        k += 1 + b;
    }
    frames
}

fn audio_frames(
    count: usize,
    deltas: &[u32],
    sizes: &[usize],
    timescale: u32,
    start: i64,
) -> Vec<Frame> {
    let mut now = start;
    (0..count)
        .map(|i| {
            let f = Frame {
                track: AUDIO,
                kind: MediaKind::Audio,
                pts: now,
                dts: now,
                timescale,
                keyframe: true,
                data: Bytes::from(vec![(i % 251) as u8; sizes[i % sizes.len()]]),
            };
            now += i64::from(deltas[i % deltas.len()]);
            f
        })
        .collect()
}

/// What the muxer should write for a frame: its NAL units without parameter sets (out of band).
fn expected_payload(f: &Frame, in_band: bool) -> Vec<u8> {
    if f.kind == MediaKind::Audio || in_band {
        return f.data.to_vec();
    }
    let mut out = Vec::new();
    for nal in weir_media::codec::nal::iter_length_prefixed(&f.data, 4) {
        let nal = nal.unwrap();
        if !matches!(nal[0] & 0x1F, 7 | 8) {
            out.extend_from_slice(&(nal.len() as u32).to_be_bytes());
            out.extend_from_slice(nal);
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Video,
    Audio,
    Muxed,
}

#[derive(Debug, Clone)]
struct Case {
    layout: Layout,
    in_band: bool,
    gops: Vec<(bool, usize)>,
    video_deltas: Vec<u32>,
    video_payloads: Vec<PlannedVideo>,
    video_timescale: u32,
    video_start: i64,
    audio_count: usize,
    audio_deltas: Vec<u32>,
    audio_sizes: Vec<usize>,
    audio_timescale: u32,
    audio_start: i64,
    /// Per pushed frame: (cut at a keyframe, cut a part, with prft).
    cuts: Vec<(bool, bool, bool)>,
}

fn planned_video() -> impl Strategy<Value = PlannedVideo> {
    (
        any::<bool>(),
        prop::bool::weighted(0.3),
        prop::collection::vec(any::<u8>(), 1..120),
    )
        .prop_map(|(in_band_sets, sei, slice)| PlannedVideo {
            in_band_sets,
            sei,
            slice,
        })
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop_oneof![
            Just(Layout::Video),
            Just(Layout::Audio),
            Just(Layout::Muxed)
        ],
        any::<bool>(),
        prop::collection::vec((prop::bool::weighted(0.15), 0usize..=3), 1..40),
        prop_oneof![Just(90_000u32), Just(1000u32), Just(30_000u32)],
        prop::collection::vec(planned_video(), 1..8),
        0i64..10_000_000,
        (
            0usize..150,
            prop_oneof![Just(48_000u32), Just(90_000u32), Just(44_100u32)],
        ),
        prop::collection::vec(1usize..400, 1..6),
        0i64..10_000_000,
        prop::collection::vec(
            (
                prop::bool::weighted(0.7),
                prop::bool::weighted(0.15),
                any::<bool>(),
            ),
            1..64,
        ),
        any::<bool>(),
    )
        .prop_flat_map(
            |(
                layout,
                in_band,
                gops,
                vts,
                payloads,
                vstart,
                (acount, ats),
                sizes,
                astart,
                cuts,
                jitter,
            )| {
                // Frame durations: 20..50 ms with optional jitter, in each track's timescale.
                let vbase = (vts / 30).max(1);
                let vdeltas = if jitter {
                    prop::collection::vec((vbase / 2)..=(vbase * 2), 1..10).boxed()
                } else {
                    Just(vec![vbase]).boxed()
                };
                let abase = (ats as u64 * 1024 / 48_000) as u32;
                let adeltas = if jitter {
                    prop::collection::vec((abase - 2)..=(abase + 2), 1..10).boxed()
                } else {
                    Just(vec![abase]).boxed()
                };
                (vdeltas, adeltas).prop_map(move |(video_deltas, audio_deltas)| Case {
                    layout,
                    in_band,
                    gops: gops.clone(),
                    video_deltas,
                    video_payloads: payloads.clone(),
                    video_timescale: vts,
                    video_start: vstart,
                    audio_count: acount,
                    audio_deltas,
                    audio_sizes: sizes.clone(),
                    audio_timescale: ats,
                    audio_start: astart,
                    cuts: cuts.clone(),
                })
            },
        )
}

/// One sample as the muxer should write it, in the track's timescale.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Want {
    dts: i64,
    cts: i64,
    sync: bool,
    data: Vec<u8>,
}

/// One sample as parsed back.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Got {
    dts: i64,
    cts: i64,
    sync: bool,
    data: Vec<u8>,
}

fn run(case: &Case) -> Result<(), TestCaseError> {
    let mut tracks = Vec::new();
    let mut frames = Vec::new();
    if case.layout != Layout::Audio {
        tracks.push(video_track());
        frames.extend(video_frames(
            &case.gops,
            &case.video_deltas,
            &case.video_payloads,
            case.video_timescale,
            case.video_start,
        ));
    }
    if case.layout != Layout::Video {
        tracks.push(audio_track());
        frames.extend(audio_frames(
            case.audio_count.max(1),
            &case.audio_deltas,
            &case.audio_sizes,
            case.audio_timescale,
            case.audio_start,
        ));
    }
    // Interleave by decode time (stable: each track stays in decode order).
    frames.sort_by_key(|f| rescale(f.dts, f.timescale, 1_000_000));
    let opts = Fmp4Options {
        parameter_sets: if case.in_band {
            ParameterSets::InBand
        } else {
            ParameterSets::OutOfBand
        },
    };
    let mut mux = Fmp4Muxer::new(&tracks, opts).unwrap();
    let init = mux.init_segment();
    let paths = check_tree(&init).map_err(TestCaseError::fail)?;
    prop_assert_eq!(paths[0].as_str(), "ftyp");
    let entry = if case.in_band { "avc3" } else { "avc1" };
    for t in &tracks {
        let fourcc = if t.kind() == MediaKind::Video {
            entry
        } else {
            "mp4a"
        };
        prop_assert!(
            paths.iter().any(|p| p.ends_with(&format!("stsd/{fourcc}"))),
            "{fourcc} in {paths:?}"
        );
    }
    prop_assert_eq!(
        paths
            .iter()
            .filter(|p| p.as_str() == "moov/mvex/trex")
            .count(),
        tracks.len()
    );

    // Mux, cutting where the plan says. A cut right after a keyframe was pushed closes a
    // segment; the keyframe (held back) opens the next fragment, which starts the next segment.
    let mut fragments = Vec::new();
    // For each fragment: whether it is the first with video after a cut at a keyframe.
    let mut after_keyframe = Vec::new();
    let mut keyframe_cut_pending = false;
    for (i, f) in frames.iter().enumerate() {
        mux.push(f)
            .map_err(|e| TestCaseError::fail(format!("frame {i}: {e}")))?;
        let (at_key, part, prft) = case.cuts[i % case.cuts.len()];
        if !(f.is_video() && f.keyframe && at_key || part) {
            continue;
        }
        let video_in = mux.pending_ticks(VIDEO).is_some_and(|t| t > 0);
        let fo = FragmentOpts {
            segment_start: match case.layout {
                Layout::Audio => at_key,
                _ => keyframe_cut_pending && video_in,
            },
            prft: prft.then(|| {
                weir_fmp4::ProducerTime::new(UNIX_EPOCH + Duration::from_millis(i as u64))
            }),
        };
        let pending = mux.pending_duration();
        if let Some(frag) = mux.fragment(&fo) {
            if tracks.len() == 1 {
                prop_assert_eq!(frag.duration(), pending);
            }
            prop_assert_eq!(frag.track(VIDEO).is_some(), video_in);
            after_keyframe.push(video_in && std::mem::take(&mut keyframe_cut_pending));
            fragments.push((frag, fo));
        }
        if f.is_video() && f.keyframe {
            keyframe_cut_pending = true;
        }
    }
    let timescales: Vec<u32> = tracks
        .iter()
        .map(|t| mux.timescale(t.id).unwrap())
        .collect();
    let last_opts = FragmentOpts::part();
    if let Some(frag) = mux.finish(&last_opts) {
        after_keyframe.push(frag.track(VIDEO).is_some() && keyframe_cut_pending);
        fragments.push((frag, last_opts));
    }
    prop_assert!(!fragments.is_empty());

    // Parse everything back.
    let mut got: Vec<Vec<Got>> = vec![Vec::new(); tracks.len()];
    let mut durations: Vec<Vec<u32>> = vec![Vec::new(); tracks.len()];
    let mut next_tfdt: Vec<Option<u64>> = vec![None; tracks.len()];
    for (k, (frag, fo)) in fragments.iter().enumerate() {
        let parsed = parse_fragment(&frag.data)
            .map_err(|e| TestCaseError::fail(format!("fragment {k}: {e}")))?;
        prop_assert_eq!(parsed.sequence_number, k as u32 + 1);
        prop_assert_eq!(frag.sequence_number, k as u32 + 1);
        // Top-level order: styp?, prft?, moof, mdat.
        let mut want_order = Vec::new();
        if fo.segment_start {
            want_order.push("styp");
        }
        if fo.prft.is_some() {
            want_order.push("prft");
        }
        want_order.extend(["moof", "mdat"]);
        prop_assert_eq!(&parsed.order, &want_order);
        if let Some(brands) = &parsed.styp {
            prop_assert_eq!(&brands[0], "msdh");
        }
        if fo.segment_start {
            prop_assert!(
                frag.starts_with_keyframe(),
                "segment {} starts with a keyframe",
                k
            );
        }
        prop_assert_eq!(parsed.trafs.len(), frag.tracks.len());
        let mut mdat_bytes = 0usize;
        for (traf, tf) in parsed.trafs.iter().zip(&frag.tracks) {
            let ti = tracks.iter().position(|t| t.id == tf.track).unwrap();
            prop_assert_eq!(traf.track_id, u32::from(tf.track) + 1);
            prop_assert_eq!((traf.tfdt_version, traf.trun_version), (1, 1));
            prop_assert_eq!(traf.base_decode_time, tf.base_decode_time);
            prop_assert_eq!(traf.samples.len(), tf.sample_count as usize);
            prop_assert!(!traf.samples.is_empty());
            let sum: u64 = traf.samples.iter().map(|s| u64::from(s.duration)).sum();
            prop_assert_eq!(sum, tf.duration);
            prop_assert_eq!(traf.samples[0].is_sync(), tf.starts_with_keyframe);
            // tfdt continuity.
            if let Some(want) = next_tfdt[ti] {
                prop_assert_eq!(
                    traf.base_decode_time,
                    want,
                    "tfdt of track {} in fragment {}",
                    tf.track,
                    k
                );
            }
            next_tfdt[ti] = Some(traf.base_decode_time + sum);
            let mut dts = traf.base_decode_time as i64;
            for s in &traf.samples {
                prop_assert_eq!(s.size as usize, s.data.len());
                mdat_bytes += s.data.len();
                got[ti].push(Got {
                    dts,
                    cts: i64::from(s.cts),
                    sync: s.is_sync(),
                    data: s.data.clone(),
                });
                durations[ti].push(s.duration);
                dts += i64::from(s.duration);
            }
            if let Some((_, _, track, ntp, media)) = parsed.prft {
                let main = frag.main().unwrap();
                prop_assert_eq!(track, u32::from(main.track) + 1);
                prop_assert_eq!(media as i64, main.first_pts);
                prop_assert_eq!(Some(ntp), fo.prft.map(|p| ntp_timestamp(p.wall_clock)));
            }
        }
        prop_assert_eq!(
            mdat_bytes,
            parsed.mdat.len(),
            "mdat holds exactly the samples"
        );
        // A fragment cut at a keyframe starts with it.
        if after_keyframe[k] {
            let v = parsed
                .trafs
                .iter()
                .find(|t| t.track_id == u32::from(VIDEO) + 1);
            prop_assert!(
                v.is_some_and(|t| t.samples[0].is_sync()),
                "fragment {} after a keyframe cut",
                k
            );
            prop_assert!(frag.track(VIDEO).unwrap().starts_with_keyframe);
        }
    }

    // Every frame came back, in order, with its timestamps, flags and bytes.
    for (ti, t) in tracks.iter().enumerate() {
        let ts = if t.kind() == MediaKind::Video {
            90_000
        } else {
            48_000
        };
        prop_assert_eq!(timescales[ti], ts);
        let want: Vec<Want> = frames
            .iter()
            .filter(|f| f.track == t.id)
            .map(|f| {
                let dts = rescale(f.dts, f.timescale, ts);
                Want {
                    dts,
                    cts: rescale(f.pts, f.timescale, ts) - dts,
                    sync: f.keyframe,
                    data: expected_payload(f, case.in_band),
                }
            })
            .collect();
        let got_as_want: Vec<Want> = got[ti]
            .iter()
            .map(|g| Want {
                dts: g.dts,
                cts: g.cts,
                sync: g.sync,
                data: g.data.clone(),
            })
            .collect();
        prop_assert_eq!(got_as_want.len(), want.len(), "track {} sample count", t.id);
        for (i, (g, w)) in got_as_want.iter().zip(&want).enumerate() {
            prop_assert_eq!(g, w, "track {} sample {}", t.id, i);
        }
        // The last sample lasts as long as the one before it.
        let d = &durations[ti];
        if d.len() >= 2 {
            prop_assert_eq!(d[d.len() - 1], d[d.len() - 2]);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn fragments_parse_back_exactly(case in case()) {
        run(&case)?;
    }

    /// Whatever bytes a video frame carries, push either accepts it (and the output parses) or
    /// rejects it and leaves the muxer as it was.
    #[test]
    fn arbitrary_video_payloads_never_break_the_output(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 1..40),
    ) {
        let mut mux = Fmp4Muxer::new(&[video_track()], Fmp4Options::default()).unwrap();
        let key = Frame {
            track: VIDEO,
            kind: MediaKind::Video,
            pts: 0,
            dts: 0,
            timescale: 90_000,
            keyframe: true,
            data: Bytes::from_static(&[0, 0, 0, 2, 0x65, 0x88]),
        };
        mux.push(&key).unwrap();
        let mut accepted = 1;
        for (i, p) in payloads.iter().enumerate() {
            let f = Frame {
                dts: 3000 * (i as i64 + 1),
                pts: 3000 * (i as i64 + 1),
                keyframe: false,
                data: Bytes::from(p.clone()),
                ..key.clone()
            };
            if mux.push(&f).is_ok() {
                accepted += 1;
            }
        }
        let frag = mux.finish(&FragmentOpts::segment()).unwrap();
        let parsed = parse_fragment(&frag.data).map_err(TestCaseError::fail)?;
        prop_assert_eq!(parsed.trafs[0].samples.len(), accepted);
    }
}
