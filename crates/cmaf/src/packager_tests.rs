//! The packager on synthetic streams: boundaries, parts, the window, restarts, growing parts.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use weir_media::{AacConfig, CodecConfig, Frame, H264Config, MediaInfo, MediaKind, Track};

use crate::packager::{CmafPackager, PackagerConfig};

const SPS: &[u8] = &[
    0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
    0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x83, 0x19, 0x60,
];
const PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];

fn info() -> MediaInfo {
    let video = H264Config::from_parameter_sets(
        vec![Bytes::from_static(SPS)],
        vec![Bytes::from_static(PPS)],
    )
    .unwrap();
    let audio = AacConfig::from_asc(Bytes::from_static(&[0x12, 0x10])).unwrap(); // AAC-LC 44.1 kHz stereo
    MediaInfo {
        tracks: vec![
            Track {
                id: 0,
                timescale: 1000,
                codec: CodecConfig::H264(video),
            },
            Track {
                id: 1,
                timescale: 1000,
                codec: CodecConfig::Aac(audio),
            },
        ],
    }
}

fn video(i: i64) -> Frame {
    let key = i % 30 == 0;
    let nal: &[u8] = if key {
        &[0x65, 0x88, 0x84, 0x00]
    } else {
        &[0x41, 0x9a, 0x02, 0x00]
    };
    let mut data = (nal.len() as u32).to_be_bytes().to_vec();
    data.extend_from_slice(nal);
    let t = i * 1000 / 30;
    Frame {
        track: 0,
        kind: MediaKind::Video,
        pts: t,
        dts: t,
        timescale: 1000,
        keyframe: key,
        data: data.into(),
    }
}

fn audio(i: i64) -> Frame {
    let t = i * 1024 * 1000 / 44_100;
    Frame {
        track: 1,
        kind: MediaKind::Audio,
        pts: t,
        dts: t,
        timescale: 1000,
        keyframe: true,
        data: Bytes::from_static(&[0x21, 0x00, 0x49, 0x90]),
    }
}

/// Feeds `seconds` of interleaved 30 fps video and 44.1 kHz AAC, starting at frame offsets.
fn feed(p: &mut CmafPackager, from_s: i64, seconds: i64, t0: SystemTime) {
    let (mut v, mut a) = (from_s * 30, from_s * 44_100 / 1024);
    while v < (from_s + seconds) * 30 {
        let vt = video(v).dts;
        while audio(a).dts <= vt {
            p.push(&audio(a), t0 + Duration::from_millis(audio(a).dts as u64));
            a += 1;
        }
        p.push(&video(v), t0 + Duration::from_millis(vt as u64));
        v += 1;
    }
}

#[test]
fn segments_start_on_keyframes_and_parts_respect_the_target() {
    let mut p = CmafPackager::new(
        PackagerConfig {
            window_segments: 5,
            ..PackagerConfig::default()
        },
        100,
    );
    assert!(p.start(&info()));
    feed(
        &mut p,
        0,
        9,
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000),
    );
    let t = p.timeline();
    let complete: Vec<_> = t.segments.iter().filter(|s| s.complete).collect();
    assert_eq!(complete.len(), 4, "{t:#?}");
    assert_eq!(complete[0].msn, 100);
    for s in &complete {
        assert_eq!(
            s.duration_us / 1000,
            2000,
            "segment {} lasts {} µs",
            s.msn,
            s.duration_us
        );
        assert!(s.parts[0].independent);
        assert_eq!(
            s.parts.iter().map(|p| p.duration_us).sum::<u64>(),
            s.duration_us
        );
        for part in &s.parts {
            assert!(part.duration_us <= 334_000, "{part:?}");
        }
        // Video spans tile the timeline; audio follows within a frame.
        assert_eq!(s.spans[0].duration, 180_000);
    }
    for w in complete.windows(2) {
        for k in 0..2 {
            assert_eq!(
                w[0].spans[k].start + w[0].spans[k].duration,
                w[1].spans[k].start,
                "track {k}"
            );
        }
    }
    assert_eq!(t.target_duration_s, 2);
    assert_eq!(t.tracks[0].codec, "avc1.64001f");
    assert_eq!(t.tracks[1].codec, "mp4a.40.2");
    // HLS bytes of a segment: styp first, then one moof per chunk and track.
    let seg = p.segment(101).unwrap();
    assert_eq!(&seg[4..8], b"styp");
    let moofs = seg.windows(4).filter(|b| *b == b"moof").count();
    assert_eq!(moofs, 60 * 2, "60 chunks with video and audio");
    assert!(p.segment(99).is_none() && p.segment(999).is_none());
}

#[test]
fn the_open_part_grows_and_the_next_is_awaited() {
    let mut p = CmafPackager::new(PackagerConfig::default(), 7);
    p.start(&info());
    feed(&mut p, 0, 3, SystemTime::UNIX_EPOCH);
    let t = p.timeline();
    let open = t.open().expect("an open segment");
    let hinted = open.parts.len();
    let now = p
        .progress(open.msn, Some(hinted), None, 0)
        .expect("the open part");
    assert!(!now.done);
    // Nothing beyond the hinted part, or two segments ahead.
    assert!(p.progress(open.msn, Some(hinted + 1), None, 0).is_none());
    assert!(p.progress(open.msn + 2, None, None, 0).is_none());
    // The next segment is awaited, empty.
    let next = p
        .progress(open.msn + 1, Some(0), None, 0)
        .expect("the next segment");
    assert!(next.is_empty() && !next.done);
    assert!(!t.has(open.msn, Some(hinted)) && t.has(open.msn, Some(hinted.saturating_sub(1))));
    // DASH: one track's bytes only.
    let v = p.progress(7, None, Some(0), 0).unwrap().to_bytes();
    let all = p.progress(7, None, None, 0).unwrap().to_bytes();
    assert_eq!(all, p.progress(7, None, None, 0).unwrap().pieces.concat());
    assert!(v.len() < all.len() && !v.is_empty());
}

#[test]
fn window_is_bounded_and_restarts_mark_discontinuities() {
    let cfg = PackagerConfig {
        window_segments: 3,
        retained_segments: 1,
        ..PackagerConfig::default()
    };
    let mut p = CmafPackager::new(cfg, 0);
    p.start(&info());
    let t0 = SystemTime::UNIX_EPOCH;
    feed(&mut p, 0, 20, t0);
    assert!(p.timeline().segments.iter().filter(|s| s.complete).count() <= 3);
    let held = p.stored_bytes();
    feed(&mut p, 20, 20, t0);
    assert!(
        p.stored_bytes() <= held * 3 / 2,
        "{} > {held}",
        p.stored_bytes()
    );
    // A publisher comes back: new tracks, timestamps from zero again.
    p.start(&info());
    feed(&mut p, 0, 5, t0 + Duration::from_secs(60));
    let t = p.timeline();
    let disc: Vec<_> = t
        .segments
        .iter()
        .filter(|s| s.discontinuity)
        .map(|s| s.msn)
        .collect();
    assert_eq!(disc.len(), 1, "{t:#?}");
    // Push the discontinuity out of the window: the sequence counts it.
    feed(&mut p, 5, 10, t0 + Duration::from_secs(65));
    let t = p.timeline();
    assert!(t.segments.iter().all(|s| !s.discontinuity));
    assert_eq!(t.discontinuity_sequence, 1);
    p.end();
    let t = p.timeline();
    assert!(t.ended && t.open().is_none());
}
