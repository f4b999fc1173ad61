//! Golden manifests for a fixed timeline, compared whole.

use crate::mpd::{MpdOptions, mpd};
use crate::playlist::{PlaylistOptions, RenditionReport, media_playlist};
use crate::timeline::{PartDesc, SegmentDesc, Timeline, TrackDesc, TrackSpan};

const T0: i64 = 1_795_400_000_000; // 2026-11-23T02:13:20.000Z

fn tracks() -> Vec<TrackDesc> {
    vec![
        TrackDesc {
            id: 1,
            video: true,
            codec: "avc1.64001f".into(),
            timescale: 90_000,
            width: 1280,
            height: 720,
            frame_rate: 30.0,
            sample_rate: 0,
            channels: 0,
            bandwidth: 2_600_000,
        },
        TrackDesc {
            id: 2,
            video: false,
            codec: "mp4a.40.2".into(),
            timescale: 44_100,
            width: 0,
            height: 0,
            frame_rate: 0.0,
            sample_rate: 44_100,
            channels: 2,
            bandwidth: 130_000,
        },
    ]
}

/// `n` complete 2 s segments of six parts (1/3 s each), then an open one with `open_parts`.
fn timeline(n: u64, open_parts: usize) -> Timeline {
    let part = PartDesc {
        duration_us: 333_333,
        independent: false,
    };
    let parts = |k: usize| {
        (0..k)
            .map(|i| PartDesc {
                independent: i == 0,
                ..part
            })
            .collect::<Vec<_>>()
    };
    let mut segments: Vec<SegmentDesc> = (0..n)
        .map(|i| SegmentDesc {
            msn: 100 + i,
            discontinuity: false,
            pdt_unix_ms: T0 + 2000 * i as i64,
            duration_us: 2_000_000,
            parts: parts(6),
            spans: vec![
                TrackSpan {
                    start: 180_000 * i,
                    duration: 180_000,
                },
                TrackSpan {
                    start: 88_064 * i,
                    duration: 88_064,
                },
            ],
            complete: true,
        })
        .collect();
    segments.push(SegmentDesc {
        msn: 100 + n,
        discontinuity: false,
        pdt_unix_ms: T0 + 2000 * n as i64,
        duration_us: 0,
        parts: parts(open_parts),
        spans: vec![TrackSpan::default(); 2],
        complete: false,
    });
    Timeline {
        tracks: tracks(),
        segments,
        target_duration_s: 2,
        part_target_us: 333_334,
        discontinuity_sequence: 0,
        ended: false,
        availability_start_unix_ms: T0,
        time_offsets: vec![0, 0],
        version: 1,
    }
}

#[test]
fn fmp4_playlist_golden() {
    let got = media_playlist(&timeline(3, 2), &PlaylistOptions::default());
    let want = "#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:100
#EXT-X-DISCONTINUITY-SEQUENCE:0
#EXT-X-MAP:URI=\"init.mp4\"
#EXT-X-PROGRAM-DATE-TIME:2026-11-23T02:13:20.000Z
#EXTINF:2.000,
seg100.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-11-23T02:13:22.000Z
#EXTINF:2.000,
seg101.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-11-23T02:13:24.000Z
#EXTINF:2.000,
seg102.m4s
";
    assert_eq!(got, want);
}

#[test]
fn ll_hls_playlist_golden() {
    let opts = PlaylistOptions {
        low_latency: true,
        skip: false,
        rendition_reports: vec![RenditionReport {
            uri: "../720p/ll.m3u8".into(),
            last_msn: 103,
            last_part: 1,
        }],
    };
    let got = media_playlist(&timeline(4, 2), &opts);
    // Parts are listed only for the segments that end within 3 target durations (6 s) of the
    // end of the complete segments: not for seg100, which ends 6 s before it.
    let want = "#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.000,PART-HOLD-BACK=1.000
#EXT-X-PART-INF:PART-TARGET=0.333
#EXT-X-MEDIA-SEQUENCE:100
#EXT-X-DISCONTINUITY-SEQUENCE:0
#EXT-X-MAP:URI=\"init.mp4\"
#EXT-X-PROGRAM-DATE-TIME:2026-11-23T02:13:20.000Z
#EXTINF:2.000,
seg100.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-11-23T02:13:22.000Z
#EXT-X-PART:DURATION=0.333,URI=\"part101.0.m4s\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.333,URI=\"part101.1.m4s\"
#EXT-X-PART:DURATION=0.333,URI=\"part101.2.m4s\"
#EXT-X-PART:DURATION=0.333,URI=\"part101.3.m4s\"
#EXT-X-PART:DURATION=0.333,URI=\"part101.4.m4s\"
#EXT-X-PART:DURATION=0.333,URI=\"part101.5.m4s\"
#EXTINF:2.000,
seg101.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-11-23T02:13:24.000Z
#EXT-X-PART:DURATION=0.333,URI=\"part102.0.m4s\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.333,URI=\"part102.1.m4s\"
#EXT-X-PART:DURATION=0.333,URI=\"part102.2.m4s\"
#EXT-X-PART:DURATION=0.333,URI=\"part102.3.m4s\"
#EXT-X-PART:DURATION=0.333,URI=\"part102.4.m4s\"
#EXT-X-PART:DURATION=0.333,URI=\"part102.5.m4s\"
#EXTINF:2.000,
seg102.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-11-23T02:13:26.000Z
#EXT-X-PART:DURATION=0.333,URI=\"part103.0.m4s\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.333,URI=\"part103.1.m4s\"
#EXT-X-PART:DURATION=0.333,URI=\"part103.2.m4s\"
#EXT-X-PART:DURATION=0.333,URI=\"part103.3.m4s\"
#EXT-X-PART:DURATION=0.333,URI=\"part103.4.m4s\"
#EXT-X-PART:DURATION=0.333,URI=\"part103.5.m4s\"
#EXTINF:2.000,
seg103.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-11-23T02:13:28.000Z
#EXT-X-PART:DURATION=0.333,URI=\"part104.0.m4s\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.333,URI=\"part104.1.m4s\"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part104.2.m4s\"
#EXT-X-RENDITION-REPORT:URI=\"../720p/ll.m3u8\",LAST-MSN=103,LAST-PART=1
";
    assert_eq!(got, want);
}

#[test]
fn delta_update_skips_what_is_older_than_can_skip_until() {
    // 10 segments of 2 s: the 4 oldest end more than 12 s before the edge.
    let t = timeline(10, 1);
    let opts = PlaylistOptions {
        low_latency: true,
        skip: true,
        rendition_reports: vec![],
    };
    let got = media_playlist(&t, &opts);
    assert!(got.contains("#EXT-X-MEDIA-SEQUENCE:100\n"), "{got}");
    assert!(got.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=4\n"), "{got}");
    assert!(!got.contains("seg103.m4s"), "{got}");
    assert!(got.contains("seg104.m4s"), "{got}");
    // Without the request, nothing is skipped.
    let full = media_playlist(
        &t,
        &PlaylistOptions {
            skip: false,
            ..opts
        },
    );
    assert!(
        full.contains("seg100.m4s") && !full.contains("EXT-X-SKIP"),
        "{full}"
    );
}

#[test]
fn mpd_golden() {
    let o = MpdOptions {
        utc_timing_url: "http://127.0.0.1:8080/api/v1/time".into(),
        now_unix_ms: T0 + 7_000,
        low_latency: false,
        target_latency_ms: 3000,
    };
    let got = mpd(&timeline(3, 2), &o);
    let want = r#"<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="dynamic" availabilityStartTime="2026-11-23T02:13:20.000Z" publishTime="2026-11-23T02:13:27.000Z" minimumUpdatePeriod="PT1.000S" minBufferTime="PT2.000S" timeShiftBufferDepth="PT6.000S" suggestedPresentationDelay="PT6.000S" maxSegmentDuration="PT2.000S">
  <Period id="0" start="PT0S">
    <AdaptationSet id="0" contentType="video" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1">
      <SegmentTemplate timescale="90000" presentationTimeOffset="0" initialization="dash/1/init.mp4" media="dash/1/seg$Number$.m4s" startNumber="100">
        <SegmentTimeline>
          <S t="0" d="180000" r="2"/>
        </SegmentTimeline>
      </SegmentTemplate>
      <Representation id="1" codecs="avc1.64001f" bandwidth="2600000" width="1280" height="720" frameRate="30"/>
    </AdaptationSet>
    <AdaptationSet id="1" contentType="audio" mimeType="audio/mp4" segmentAlignment="true" startWithSAP="1">
      <SegmentTemplate timescale="44100" presentationTimeOffset="0" initialization="dash/2/init.mp4" media="dash/2/seg$Number$.m4s" startNumber="100">
        <SegmentTimeline>
          <S t="0" d="88064" r="2"/>
        </SegmentTimeline>
      </SegmentTemplate>
      <Representation id="2" codecs="mp4a.40.2" bandwidth="130000" audioSamplingRate="44100">
        <AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="2"/>
      </Representation>
    </AdaptationSet>
  </Period>
  <UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014" value="http://127.0.0.1:8080/api/v1/time"/>
</MPD>
"#;
    assert_eq!(got, want);
    let ll = mpd(
        &timeline(3, 2),
        &MpdOptions {
            low_latency: true,
            ..o
        },
    );
    assert!(
        ll.contains("availabilityTimeOffset=\"1.950\" availabilityTimeComplete=\"false\""),
        "{ll}"
    );
    assert!(ll.contains("<Latency target=\"3000\""), "{ll}");
}
