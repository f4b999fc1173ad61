use std::cell::Cell;
use std::time::Duration;

use bytes::Bytes;
use weir_media::{AacConfig, CodecConfig, Frame, H264Config, MediaInfo, MediaKind, Track};

use super::*;

const SPS: &[u8] = &[
    0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
    0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x83, 0x19, 0x60,
];
const PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];
const GOP: i64 = 30;

fn info() -> MediaInfo {
    let v = H264Config::from_parameter_sets(
        vec![Bytes::from_static(SPS)],
        vec![Bytes::from_static(PPS)],
    )
    .unwrap();
    let a = AacConfig::from_fields(2, 4, 2).unwrap();
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

/// Frame `i` of a 30 fps video with a keyframe every GOP frames; every third frame is audio.
fn frame(i: i64) -> Frame {
    let audio = i % 3 == 2;
    Frame {
        track: if audio { 1 } else { 0 },
        kind: if audio {
            MediaKind::Audio
        } else {
            MediaKind::Video
        },
        pts: i * 33,
        dts: i * 33,
        timescale: 1000,
        keyframe: audio || i % GOP == 0,
        data: Bytes::from_owner(Tracked::new()),
    }
}

thread_local! {
    /// Payloads alive, per test thread (each tokio test runs on its own thread).
    static LIVE: Cell<usize> = const { Cell::new(0) };
}

/// A payload that counts how many of its kind are alive.
struct Tracked(Vec<u8>);

impl Tracked {
    fn new() -> Self {
        LIVE.with(|l| l.set(l.get() + 1));
        Tracked(vec![0u8; 1000])
    }
}

impl AsRef<[u8]> for Tracked {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        LIVE.with(|l| l.set(l.get() - 1));
    }
}

fn path(s: &str) -> StreamPath {
    StreamPath::new(s).unwrap()
}

fn who() -> PublisherInfo {
    PublisherInfo {
        protocol: "test",
        remote: "127.0.0.1:1".into(),
    }
}

#[tokio::test(start_paused = true)]
async fn stalled_reader_neither_blocks_publisher_nor_grows() {
    let hub = Hub::new(HubConfig {
        queue_frames: 64,
        ..HubConfig::default()
    });
    let p = hub.publish(path("live/a"), who()).unwrap();
    p.set_tracks(info());
    let mut stalled = hub
        .subscribe(&path("live/a"), LagPolicy::SkipToKeyframe)
        .unwrap();
    let mut healthy = hub
        .subscribe(&path("live/a"), LagPolicy::SkipToKeyframe)
        .unwrap();
    let mut healthy_frames = 0;
    let mut max_pending = 0;
    // The publisher pushes 10 000 frames with no await in between: it cannot wait on anyone.
    let pushed = tokio::time::timeout(Duration::from_secs(1), async {
        for i in 0..10_000 {
            p.push(frame(i));
            max_pending = max_pending.max(stalled.pending());
            while let Some(ReaderEvent::Frame(_)) = healthy.try_recv() {
                healthy_frames += 1;
            }
        }
    })
    .await;
    assert!(pushed.is_ok(), "publisher blocked");
    assert_eq!(healthy_frames, 10_000, "the healthy reader lost frames");
    assert!(
        max_pending <= 64,
        "stalled reader held {max_pending} frames, more than the ring"
    );
    // Memory: count the payloads still alive anywhere (ring, GOP cache, readers).
    let live = LIVE.with(Cell::get);
    assert!(
        live <= 64 + GOP as usize + 2,
        "{live} payloads alive after 10 000 pushes"
    );
    // When it wakes, it has lost frames and resumes at a keyframe.
    match stalled.recv().await {
        ReaderEvent::Frame(f) => assert!(
            f.is_video() && f.keyframe,
            "resumed on a non-keyframe: {f:?}"
        ),
        other => panic!("expected a frame, got {other:?}"),
    }
    assert!(stalled.dropped() > 9_000);
    assert_eq!(hub.streams()[0].frames_dropped, stalled.dropped());
    assert_eq!(healthy.dropped(), 0);
}

#[tokio::test(start_paused = true)]
async fn late_joiner_starts_at_keyframe() {
    let hub = Hub::new(HubConfig::default());
    let p = hub.publish(path("live/b"), who()).unwrap();
    p.set_tracks(info());
    for i in 0..(GOP + 15) {
        p.push(frame(i));
    }
    let mut r = hub
        .subscribe(&path("live/b"), LagPolicy::SkipToKeyframe)
        .unwrap();
    assert_eq!(r.info().tracks.len(), 2);
    let ReaderEvent::Frame(first) = r.recv().await else {
        panic!("expected a frame")
    };
    assert!(first.is_video() && first.keyframe);
    assert_eq!(
        first.dts,
        GOP * 33,
        "starts at the last keyframe, not the first"
    );
    // It then receives the rest of the cached GOP and live frames in order.
    let mut last = first.dts;
    for _ in 0..14 {
        let ReaderEvent::Frame(f) = r.recv().await else {
            panic!()
        };
        assert!(f.dts > last);
        last = f.dts;
    }
    p.push(frame(GOP + 15));
    let ReaderEvent::Frame(f) = r.recv().await else {
        panic!()
    };
    assert_eq!(f.dts, (GOP + 15) * 33);
}

#[tokio::test(start_paused = true)]
async fn ending_the_publisher_ends_every_reader() {
    let hub = Hub::new(HubConfig::default());
    let mut notices = hub.notices();
    let p = hub.publish(path("live/c"), who()).unwrap();
    assert_eq!(
        notices.recv().await.unwrap(),
        HubNotice::Published(path("live/c"))
    );
    p.set_tracks(info());
    let mut readers: Vec<_> = (0..5)
        .map(|_| {
            hub.subscribe(&path("live/c"), LagPolicy::SkipToKeyframe)
                .unwrap()
        })
        .collect();
    for i in 0..10 {
        p.push(frame(i));
    }
    drop(p);
    for r in &mut readers {
        let mut frames = 0;
        loop {
            match tokio::time::timeout(Duration::from_secs(1), r.recv())
                .await
                .expect("reader hung")
            {
                ReaderEvent::Frame(_) => frames += 1,
                ReaderEvent::Tracks(_) => {}
                ReaderEvent::Ended(reason) => {
                    assert_eq!(reason, EndReason::PublisherGone);
                    break;
                }
            }
        }
        assert_eq!(frames, 10, "queued frames are delivered before the end");
    }
    assert!(!hub.is_live(&path("live/c")));
    assert_eq!(
        notices.recv().await.unwrap(),
        HubNotice::Unpublished(path("live/c"))
    );
    assert!(matches!(
        hub.subscribe(&path("live/c"), LagPolicy::SkipToKeyframe),
        Err(HubError::NotFound(_))
    ));
    // The path is free again.
    assert!(hub.publish(path("live/c"), who()).is_ok());
}

#[tokio::test(start_paused = true)]
async fn one_publisher_per_path() {
    let hub = Hub::new(HubConfig::default());
    let _p = hub.publish(path("live/d"), who()).unwrap();
    assert_eq!(
        hub.publish(path("live/d"), who()).err(),
        Some(HubError::AlreadyPublishing(path("live/d")))
    );
    assert!(hub.publish(path("live/e"), who()).is_ok());
}

#[tokio::test(start_paused = true)]
async fn disconnect_policy_ends_a_lagging_reader() {
    let hub = Hub::new(HubConfig {
        queue_frames: 8,
        ..HubConfig::default()
    });
    let p = hub.publish(path("live/f"), who()).unwrap();
    p.set_tracks(info());
    let mut r = hub
        .subscribe(&path("live/f"), LagPolicy::Disconnect)
        .unwrap();
    for i in 0..100 {
        p.push(frame(i));
    }
    assert!(matches!(
        r.recv().await,
        ReaderEvent::Ended(EndReason::Lagged)
    ));
}

#[tokio::test(start_paused = true)]
async fn gop_cache_is_bounded() {
    let hub = Hub::new(HubConfig {
        gop_max_frames: 10,
        ..HubConfig::default()
    });
    let p = hub.publish(path("live/g"), who()).unwrap();
    p.set_tracks(info());
    for i in 0..25 {
        p.push(frame(i)); // one keyframe, then 24 frames: overflows the cache of 10
    }
    let mut r = hub
        .subscribe(&path("live/g"), LagPolicy::SkipToKeyframe)
        .unwrap();
    assert_eq!(r.pending(), 0, "an overflowing GOP is not cached");
    p.push(frame(GOP));
    let ReaderEvent::Frame(f) = r.recv().await else {
        panic!()
    };
    assert!(f.keyframe && f.is_video());
}

#[tokio::test]
async fn link_stats_follow_their_connections() {
    let hub = Hub::new(HubConfig::default());
    let p = hub.publish(path("live/a"), who()).unwrap();
    let link = |remote: &str, rtt_ms: f64| LinkStats {
        protocol: "srt",
        remote: remote.into(),
        rtt_ms,
        packets_received: 0,
        packets_sent: 0,
        packets_lost: 0,
        packets_retransmitted: 0,
        packets_dropped: 0,
        receive_kbps: 0.0,
        send_kbps: 0.0,
        buffer_ms: 0,
        latency_ms: 120,
        continuity_errors: 0,
        updated: std::time::SystemTime::now(),
    };
    p.set_link_stats(link("pub", 1.0));
    let mut r1 = hub
        .subscribe(&path("live/a"), LagPolicy::SkipToKeyframe)
        .unwrap();
    let mut r2 = hub
        .subscribe(&path("live/a"), LagPolicy::SkipToKeyframe)
        .unwrap();
    r1.set_link_stats(link("r1", 2.0));
    r2.set_link_stats(link("r2", 3.0));
    r1.set_link_stats(link("r1", 4.0)); // an update replaces, never duplicates
    let s = &hub.streams()[0];
    assert_eq!(s.ingest.as_ref().map(|l| l.rtt_ms), Some(1.0));
    let rtts: Vec<f64> = s.egress.iter().map(|l| l.rtt_ms).collect();
    assert_eq!(rtts, [4.0, 3.0]);
    drop(r1);
    let s = &hub.streams()[0];
    assert_eq!(s.egress.len(), 1);
    assert_eq!(s.egress[0].remote, "r2");
}

/// A waker that records whether it was woken.
struct Flag(std::sync::atomic::AtomicBool);

impl std::task::Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Flag {
    fn take(&self) -> bool {
        self.0.swap(false, Ordering::SeqCst)
    }
}

fn av(video: bool, ms: i64, key: bool) -> Frame {
    Frame {
        track: if video { 0 } else { 1 },
        kind: if video {
            MediaKind::Video
        } else {
            MediaKind::Audio
        },
        pts: ms,
        dts: ms,
        timescale: 1000,
        keyframe: key,
        data: Bytes::from_static(b"x"),
    }
}

fn dts_of(ev: Option<ReaderEvent>) -> (bool, i64) {
    match ev {
        Some(ReaderEvent::Frame(f)) => (f.is_video(), f.dts),
        other => panic!("expected a frame, got {other:?}"),
    }
}

#[test]
fn audio_rides_along_with_the_next_video_frame() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let hub = Hub::new(HubConfig::default());
    let p = hub.publish(path("live/w"), who()).unwrap();
    p.set_tracks(info());
    p.push(av(true, 0, true));
    let mut r = hub
        .subscribe(&path("live/w"), LagPolicy::SkipToKeyframe)
        .unwrap();
    assert_eq!(dts_of(r.try_recv()), (true, 0), "GOP snapshot first");
    let flag = Arc::new(Flag(Default::default()));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    {
        let mut fut = std::pin::pin!(r.recv());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        // Audio within 40 ms of the last wake-up (the video frame at 0) does not wake...
        p.push(av(false, 10, true));
        p.push(av(false, 33, true));
        assert!(!flag.take(), "audio woke the reader");
        // ...the next video frame does, and the audio comes first, in order.
        p.push(av(true, 40, false));
        assert!(flag.take(), "video did not wake the reader");
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(ReaderEvent::Frame(f)) => assert_eq!((f.is_video(), f.dts), (false, 10)),
            other => panic!("expected the audio frame, got {other:?}"),
        }
    }
    assert_eq!(dts_of(r.try_recv()), (false, 33));
    assert_eq!(dts_of(r.try_recv()), (true, 40));
    assert!(r.try_recv().is_none());
    {
        // Audio 40 ms of media time after the last wake-up wakes the reader by itself (video
        // stalled, or a very low frame rate).
        let mut fut = std::pin::pin!(r.recv());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        p.push(av(false, 60, true));
        assert!(!flag.take());
        p.push(av(false, 80, true));
        assert!(flag.take(), "40 ms of audio did not wake the reader");
        assert!(matches!(fut.as_mut().poll(&mut cx), Poll::Ready(_)));
    }
    assert_eq!(dts_of(r.try_recv()), (false, 80));
    {
        // Ending the stream wakes the reader.
        let mut fut = std::pin::pin!(r.recv());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        drop(p);
        assert!(flag.take(), "the end did not wake the reader");
        assert!(matches!(
            fut.as_mut().poll(&mut cx),
            Poll::Ready(ReaderEvent::Ended(EndReason::PublisherGone))
        ));
    }
}

#[test]
fn audio_only_streams_wake_on_every_frame() {
    use std::future::Future;
    use std::task::{Context, Waker};
    let hub = Hub::new(HubConfig::default());
    let p = hub.publish(path("live/ao"), who()).unwrap();
    let mut only_audio = info();
    only_audio.tracks.remove(0);
    p.set_tracks(only_audio);
    let mut r = hub
        .subscribe(&path("live/ao"), LagPolicy::SkipToKeyframe)
        .unwrap();
    assert!(matches!(r.try_recv(), None | Some(ReaderEvent::Tracks(_))));
    let flag = Arc::new(Flag(Default::default()));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    for ms in [0, 21, 42] {
        let mut fut = std::pin::pin!(r.recv());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        p.push(av(false, ms, true));
        assert!(flag.take(), "audio at {ms} ms did not wake the reader");
        assert!(fut.as_mut().poll(&mut cx).is_ready());
    }
}

#[tokio::test(start_paused = true)]
async fn a_lagging_reader_learns_of_track_changes_it_missed() {
    let hub = Hub::new(HubConfig {
        queue_frames: 8,
        ..HubConfig::default()
    });
    let p = hub.publish(path("live/t"), who()).unwrap();
    p.set_tracks(info());
    let mut r = hub
        .subscribe(&path("live/t"), LagPolicy::SkipToKeyframe)
        .unwrap();
    let mut changed = info();
    changed.tracks.remove(1);
    p.set_tracks(changed);
    // The ring keeps frames 37 to 44, with the keyframe 40.
    for i in 0..45 {
        p.push(av(true, i * 33, i % 10 == 0));
    }
    match r.recv().await {
        ReaderEvent::Tracks(t) => assert_eq!(t.tracks.len(), 1),
        other => panic!("expected the new tracks, got {other:?}"),
    }
    match r.recv().await {
        ReaderEvent::Frame(f) => assert_eq!((f.keyframe, f.dts), (true, 40 * 33)),
        other => panic!("expected a keyframe, got {other:?}"),
    }
}
