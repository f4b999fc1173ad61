//! Unit tests of the segmenter and playlist writer.

use std::collections::BTreeMap;

use bytes::Bytes;
use proptest::prelude::*;
use weir_media::{AacConfig, CodecConfig, Frame, H264Config, MediaInfo, MediaKind, Track};
use weir_mpegts::{TS_PACKET_SIZE, crc32_mpeg2};

use crate::*;

const SPS: &[u8] = &[
    0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
    0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x83, 0x19, 0x60,
];
const PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];
const WALL: i64 = 1_700_000_000_000;

fn av_info() -> MediaInfo {
    let v = H264Config::from_parameter_sets(
        vec![Bytes::from_static(SPS)],
        vec![Bytes::from_static(PPS)],
    )
    .expect("valid SPS");
    let a = AacConfig::from_fields(2, 3, 2).expect("valid AAC");
    MediaInfo {
        tracks: vec![
            Track {
                id: 0,
                timescale: 1000,
                codec: CodecConfig::H264(v),
            },
            Track {
                id: 1,
                timescale: 1000,
                codec: CodecConfig::Aac(a),
            },
        ],
    }
}

fn audio_info() -> MediaInfo {
    MediaInfo {
        tracks: vec![av_info().tracks[1].clone()],
    }
}

fn video(dts: i64, keyframe: bool, size: usize) -> Frame {
    let mut nal = vec![if keyframe { 0x65 } else { 0x41 }];
    nal.resize(size.max(2), 0x5A);
    let mut data = (nal.len() as u32).to_be_bytes().to_vec();
    data.extend_from_slice(&nal);
    Frame {
        track: 0,
        kind: MediaKind::Video,
        pts: dts,
        dts,
        timescale: 1000,
        keyframe,
        data: Bytes::from(data),
    }
}

fn audio(dts: i64) -> Frame {
    Frame {
        track: 1,
        kind: MediaKind::Audio,
        pts: dts,
        dts,
        timescale: 1000,
        keyframe: true,
        data: Bytes::from_static(&[0x21; 64]),
    }
}

/// Feeds `secs` seconds of 25 fps video (keyframe every `gop` frames) starting at DTS
/// `start_ms`, with AAC-like audio every 21 ms, arriving at wall clock `wall + t + 7`.
/// Returns how many pushes completed a segment.
fn feed(h: &mut HlsSegmenter, start_ms: i64, secs: i64, gop: i64, wall: i64) -> usize {
    let mut completed = 0;
    let mut next_audio = 0;
    for i in 0..secs * 25 {
        let t = i * 40;
        completed += usize::from(h.push(&video(start_ms + t, i % gop == 0, 300), wall + t + 7));
        while next_audio < t + 40 {
            completed += usize::from(h.push(&audio(start_ms + next_audio), wall + next_audio + 7));
            next_audio += 21;
        }
    }
    completed
}

fn playlist_value(m3u8: &str, tag: &str) -> u64 {
    m3u8.lines()
        .find_map(|l| l.strip_prefix(tag).and_then(|v| v.strip_prefix(':')))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{tag} missing in\n{m3u8}"))
}

/// Checks the TS of a segment: whole packets, PAT (with valid CRC) at offset 0, PMT next, then
/// a PES start on `first_pid` (any elementary PID if `None`) before any other payload, returning
/// whether its random access indicator is set.
fn check_segment_ts(data: &[u8], first_pid: Option<u16>) -> bool {
    assert!(data.len() >= 3 * TS_PACKET_SIZE);
    assert_eq!(data.len() % TS_PACKET_SIZE, 0);
    assert!(data.chunks(TS_PACKET_SIZE).all(|p| p[0] == 0x47));
    // PAT: PID 0, PUSI, pointer_field 0, table_id 0, CRC.
    assert_eq!(
        &data[..5],
        &[0x47, 0x40, 0x00, 0x10 | (data[3] & 0x0F), 0x00]
    );
    assert_eq!(data[5], 0x00);
    let len = (usize::from(data[6] & 0x0F) << 8) | usize::from(data[7]);
    assert_eq!(crc32_mpeg2(&data[5..8 + len]), 0, "PAT CRC");
    let pmt = &data[TS_PACKET_SIZE..];
    assert_eq!(u16::from_be_bytes([pmt[1] & 0x1F, pmt[2]]), 0x1000);
    assert_eq!(pmt[5], 0x02);
    let len = (usize::from(pmt[6] & 0x0F) << 8) | usize::from(pmt[7]);
    assert_eq!(crc32_mpeg2(&pmt[5..8 + len]), 0, "PMT CRC");
    // The first packet with payload (PCR-only packets may come first).
    let es = data[2 * TS_PACKET_SIZE..]
        .chunks(TS_PACKET_SIZE)
        .find(|p| p[3] & 0x10 != 0)
        .expect("a packet with payload");
    let pid = u16::from_be_bytes([es[1] & 0x1F, es[2]]);
    match first_pid {
        Some(want) => assert_eq!(pid, want),
        None => assert!(pid == 0x100 || pid == 0x101),
    }
    assert!(es[1] & 0x40 != 0, "PES starts the packet");
    let has_af = es[3] & 0x20 != 0;
    let payload = if has_af { 5 + usize::from(es[4]) } else { 4 };
    assert_eq!(&es[payload..payload + 3], &[0, 0, 1], "PES start code");
    has_af && es[4] > 0 && es[5] & 0x40 != 0
}

#[test]
fn golden_playlist() {
    let cfg = HlsConfig {
        window_segments: 3,
        ..HlsConfig::default()
    };
    let mut h = HlsSegmenter::new(cfg);
    h.start(&av_info());
    assert_eq!(feed(&mut h, 123_000, 7, 25, WALL), 3);
    assert!(h.flush());
    h.start(&av_info());
    assert_eq!(feed(&mut h, 0, 3, 25, WALL + 10_000), 1);
    assert!(h.flush());
    assert!(!h.flush());
    let expected = "\
#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:3
#EXT-X-DISCONTINUITY-SEQUENCE:0
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:26.007Z
#EXTINF:1.000,
seg3.ts
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:30.007Z
#EXTINF:2.000,
seg4.ts
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:32.007Z
#EXTINF:1.000,
seg5.ts
#EXT-X-ENDLIST
";
    assert_eq!(h.playlist(true), expected);
    assert_eq!(h.playlist(false), expected.replace("#EXT-X-ENDLIST\n", ""));
    assert_eq!(h.len(), 3);
    // Older segments are still retrievable for a while.
    assert!(h.segment(0).is_some());
    assert!(h.segment(6).is_none());
}

#[test]
fn empty_playlist_is_valid() {
    let mut h = HlsSegmenter::new(HlsConfig::default());
    assert!(h.is_empty());
    assert_eq!(
        h.playlist(false),
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n"
    );
    // Frames before start() are ignored.
    assert!(!h.push(&video(0, true, 10), WALL));
    assert_eq!(h.stored_bytes(), 0);
}

#[test]
fn segments_start_on_keyframes_and_frames_before_the_first_are_dropped() {
    let mut h = HlsSegmenter::new(HlsConfig::default());
    h.start(&av_info());
    // Audio and non-keyframes before the first keyframe are dropped.
    assert!(!h.push(&audio(0), WALL));
    assert!(!h.push(&video(0, false, 100), WALL));
    assert_eq!(h.stored_bytes(), 0);
    feed(&mut h, 40, 20, 15, WALL);
    h.flush();
    assert!(h.len() >= 6);
    for s in h.segments() {
        assert!(
            check_segment_ts(&s.data, Some(0x100)),
            "segment {} starts with a keyframe",
            s.sequence
        );
    }
}

#[test]
fn durations_are_close_to_target() {
    // Keyframes every 0.6 s: segments are cut at the first keyframe at or after 2 s.
    let mut h = HlsSegmenter::new(HlsConfig {
        window_segments: 100,
        ..HlsConfig::default()
    });
    h.start(&av_info());
    feed(&mut h, 5_000, 30, 15, WALL);
    assert!(h.len() >= 10);
    for s in h.segments() {
        assert_eq!(s.duration_ms, 2_400, "segment {}", s.sequence);
        assert!(!s.discontinuity);
    }
    assert_eq!(h.target_duration_secs(), 3);
    assert_eq!(
        playlist_value(&h.playlist(false), "#EXT-X-TARGETDURATION"),
        3
    );
    // Program date times follow the arrival times of the first frames.
    let pdts: Vec<i64> = h
        .segments()
        .filter_map(|s| s.program_date_time_ms)
        .collect();
    assert!(pdts.windows(2).all(|w| w[1] - w[0] == 2_400));
}

#[test]
fn sequence_numbers_grow_and_window_slides() {
    let mut h = HlsSegmenter::new(HlsConfig::default());
    h.start(&av_info());
    let mut last_seq = None;
    let mut last_media_seq = 0;
    for round in 0..5 {
        feed(&mut h, round * 100_000, 10, 25, WALL + round * 100_000);
        h.flush();
        let m3u8 = h.playlist(false);
        let media_seq = playlist_value(&m3u8, "#EXT-X-MEDIA-SEQUENCE");
        assert!(media_seq >= last_media_seq);
        last_media_seq = media_seq;
        let seqs: Vec<u64> = h.segments().map(|s| s.sequence).collect();
        assert_eq!(seqs.first(), Some(&media_seq));
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
        if let Some(l) = last_seq {
            assert!(seqs.last().copied() > Some(l));
        }
        last_seq = seqs.last().copied();
        let listed = (5 * (round as usize + 1)).min(6);
        assert_eq!(h.len(), listed);
        assert_eq!(m3u8.matches("#EXTINF:").count(), listed);
        for s in &seqs {
            assert!(m3u8.contains(&format!("\nseg{s}.ts\n")));
        }
    }
    // 5 rounds of 5 segments; the window plus 3 more are kept.
    let last = last_seq.expect("segments");
    assert_eq!(last, 24);
    assert!(h.segment(last - 8).is_some());
    assert!(h.segment(last - 9).is_none());
    assert!(h.segment(last + 1).is_none());
    assert!(h.segment(u64::MAX).is_none());
}

#[test]
fn discontinuity_after_restart_and_its_sequence_when_it_slides_out() {
    let mut h = HlsSegmenter::new(HlsConfig {
        window_segments: 3,
        ..HlsConfig::default()
    });
    h.start(&av_info());
    feed(&mut h, 0, 4, 25, WALL);
    // The publisher comes back (without an explicit flush): timestamps restart.
    h.start(&av_info());
    feed(&mut h, 0, 4, 25, WALL + 10_000);
    h.flush();
    let segs: Vec<(u64, bool)> = h
        .segments()
        .map(|s| (s.sequence, s.discontinuity))
        .collect();
    assert_eq!(segs, vec![(1, false), (2, true), (3, false)]);
    let m3u8 = h.playlist(false);
    assert!(m3u8.contains("#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:30.007Z\n#EXTINF:2.000,\nseg2.ts\n"));
    assert_eq!(playlist_value(&m3u8, "#EXT-X-DISCONTINUITY-SEQUENCE"), 0);

    // Without a further restart, the discontinuity slides out and the sequence increments.
    h.start(&av_info());
    for round in 1..4 {
        feed(&mut h, round * 10_000, 4, 25, WALL + round * 10_000);
        h.flush();
    }
    let m3u8 = h.playlist(false);
    let first = playlist_value(&m3u8, "#EXT-X-MEDIA-SEQUENCE");
    assert!(first > 2);
    // Restarts happened before segments 2 and 4 (start() with completed segments); both slid out.
    assert!(!m3u8.contains("#EXT-X-DISCONTINUITY\n"));
    assert_eq!(playlist_value(&m3u8, "#EXT-X-DISCONTINUITY-SEQUENCE"), 2);

    // start() twice without segments in between does not add a discontinuity.
    let mut h = HlsSegmenter::new(HlsConfig::default());
    h.start(&av_info());
    h.start(&av_info());
    feed(&mut h, 0, 3, 25, WALL);
    h.flush();
    assert!(h.segments().all(|s| !s.discontinuity));
}

#[test]
fn discontinuity_sequence_counts_listed_segments_evicted_for_space() {
    let cfg = HlsConfig {
        max_bytes: 1_000_000,
        ..HlsConfig::default()
    };
    let mut h = HlsSegmenter::new(cfg);
    h.start(&av_info());
    feed(&mut h, 0, 4, 25, WALL);
    h.start(&av_info());
    feed(&mut h, 0, 3, 25, WALL);
    h.flush();
    assert_eq!(
        h.segments().map(|s| s.discontinuity).collect::<Vec<_>>(),
        vec![false, false, true, false]
    );
    // Large frames: the listed segments (including the discontinuity) are evicted to make room,
    // long before they would slide out of the six-segment window.
    for i in 0..12 {
        h.push(&video(10_000 + i * 40, i == 0, 120_000), WALL);
    }
    assert!(h.len() < 6);
    assert!(h.segments().all(|s| s.sequence > 2), "segment 2 evicted");
    assert_eq!(
        playlist_value(&h.playlist(false), "#EXT-X-DISCONTINUITY-SEQUENCE"),
        1
    );
}

#[test]
fn audio_only_streams_cut_on_any_frame() {
    let mut h = HlsSegmenter::new(HlsConfig::default());
    h.start(&audio_info());
    for i in 0..500 {
        h.push(&audio(1_000 + i * 21), WALL + i * 21);
    }
    h.flush();
    let segs: Vec<&Segment> = h.segments().collect();
    assert_eq!(segs.len(), 6);
    for s in &segs[..5] {
        assert_eq!(s.duration_ms, 2_016, "96 frames of 21 ms");
    }
    assert_eq!(segs[5].duration_ms, 420, "flushed: 20 frames");
    for s in &segs {
        assert!(
            check_segment_ts(&s.data, Some(0x101)),
            "audio-only segments start with RAI"
        );
    }
    // Video frames of a track not in the stream are ignored.
    assert!(!h.push(&video(20_000, true, 10), WALL));
}

#[test]
fn forced_cut_without_keyframes() {
    let mut h = HlsSegmenter::new(HlsConfig::default());
    h.start(&av_info());
    h.push(&video(0, true, 100), WALL);
    for i in 1..500 {
        h.push(&video(i * 40, false, 100), WALL + i * 40);
    }
    assert!(h.len() >= 3);
    for s in h.segments() {
        assert_eq!(s.duration_ms, 6_000);
    }
    assert_eq!(h.target_duration_secs(), 6);
}

#[test]
fn max_bytes_bound_holds_under_a_flood_of_huge_frames() {
    let cfg = HlsConfig {
        max_bytes: 2_000_000,
        ..HlsConfig::default()
    };
    let mut h = HlsSegmenter::new(cfg.clone());
    h.start(&av_info());
    let mut completed = 0;
    for i in 0..600i64 {
        // 150 kB frames, keyframe every 30, and a few frames larger than half the budget.
        let size = if i % 97 == 50 { 1_200_000 } else { 150_000 };
        completed += usize::from(h.push(&video(i * 33, i % 30 == 0, size), WALL + i * 33));
        assert!(
            h.stored_bytes() <= cfg.max_bytes,
            "stored {} after frame {i}",
            h.stored_bytes()
        );
        let listed: usize = h.segments().map(|s| s.data.len()).sum();
        assert!(listed <= cfg.max_bytes);
    }
    assert!(completed > 50, "the open segment is force-cut: {completed}");
    assert!(h.segments().all(|s| s.data.len() <= cfg.max_bytes / 2));
    // Dropping a too-large frame marks a discontinuity.
    let mut h = HlsSegmenter::new(cfg.clone());
    h.start(&av_info());
    h.push(&video(0, true, 100), WALL);
    h.push(&video(40, false, 1_500_000), WALL);
    assert_eq!(h.len(), 1, "open segment closed");
    assert_eq!(
        h.stored_bytes(),
        h.segment(0).map_or(0, |s| s.data.len()),
        "frame dropped"
    );
    assert!(
        !h.push(&video(80, false, 100), WALL),
        "waits for a keyframe"
    );
    h.push(&video(120, true, 100), WALL);
    h.flush();
    let d: Vec<bool> = h.segments().map(|s| s.discontinuity).collect();
    assert_eq!(d, vec![false, true]);
}

// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Push {
        video: bool,
        step_ms: i64,
        keyframe: bool,
        size: usize,
    },
    Flush,
    Start,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        40 => (any::<bool>(), prop_oneof![0i64..100, -5_000i64..5_000, Just(10_000i64)], prop::bool::weighted(0.1), prop_oneof![1usize..500, 1usize..300_000])
            .prop_map(|(video, step_ms, keyframe, size)| Op::Push { video, step_ms, keyframe, size }),
        1 => Just(Op::Flush),
        1 => Just(Op::Start),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_for_arbitrary_input(ops in proptest::collection::vec(op(), 1..400), window in 1usize..5) {
        let cfg = HlsConfig { window_segments: window, max_bytes: 1_000_000, target_duration_ms: 500, max_segment_ms: 1_500 };
        let mut h = HlsSegmenter::new(cfg.clone());
        h.start(&av_info());
        let mut t = 0i64;
        let mut seen: BTreeMap<u64, bool> = BTreeMap::new();
        let (mut last_media_seq, mut last_disc_seq) = (0, 0);
        for op in ops {
            match op {
                Op::Push { video: v, step_ms, keyframe, size } => {
                    t = t.saturating_add(step_ms);
                    let f = if v { video(t, keyframe, size) } else { audio(t) };
                    h.push(&f, WALL + t);
                }
                Op::Flush => { h.flush(); }
                Op::Start => h.start(&av_info()),
            }
            prop_assert!(h.stored_bytes() <= cfg.max_bytes);
            prop_assert!(h.len() <= window);
            for s in h.segments() {
                seen.entry(s.sequence).or_insert(s.discontinuity);
            }
            let m3u8 = h.playlist(false);
            let media_seq = playlist_value(&m3u8, "#EXT-X-MEDIA-SEQUENCE");
            let disc_seq = playlist_value(&m3u8, "#EXT-X-DISCONTINUITY-SEQUENCE");
            prop_assert!(media_seq >= last_media_seq && disc_seq >= last_disc_seq);
            (last_media_seq, last_disc_seq) = (media_seq, disc_seq);
            // Every completed segment was observed, and the discontinuity sequence counts the
            // discontinuities that left the playlist.
            if let Some((&max, _)) = seen.last_key_value() {
                prop_assert_eq!(seen.len() as u64, max + 1);
            }
            let gone = seen.range(..media_seq).filter(|(_, d)| **d).count() as u64;
            prop_assert_eq!(disc_seq, gone);
            let listed: Vec<u64> = h.segments().map(|s| s.sequence).collect();
            prop_assert!(listed.windows(2).all(|w| w[1] == w[0] + 1));
            prop_assert_eq!(m3u8.matches("#EXTINF:").count(), listed.len());
            let target = playlist_value(&m3u8, "#EXT-X-TARGETDURATION");
            for s in h.segments() {
                prop_assert!(s.duration_ms.div_ceil(1000) <= target);
                check_segment_ts(&s.data, None);
            }
        }
    }
}

#[test]
fn first_sequence_can_be_chosen() {
    let mut h = HlsSegmenter::with_first_sequence(HlsConfig::default(), 1_790_000_000);
    h.start(&av_info());
    assert!(feed(&mut h, 0, 5, 25, WALL) >= 1);
    assert!(h.segment(1_790_000_000).is_some());
    assert_eq!(
        playlist_value(&h.playlist(false), "#EXT-X-MEDIA-SEQUENCE"),
        1_790_000_000
    );
    assert!(h.playlist(false).contains("seg1790000000.ts"));
}
