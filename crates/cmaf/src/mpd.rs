//! Live MPEG-DASH manifests (ISO/IEC 23009-1, `isoff-live` profile) over the same CMAF segments
//! as HLS: a dynamic MPD, one adaptation set per track, `SegmentTemplate` with a
//! `SegmentTimeline` (segments follow keyframes, so their durations vary), `UTCTiming`, and
//! optionally the low-latency extensions (`availabilityTimeOffset`, `availabilityTimeComplete`,
//! `ServiceDescription`).
//!
//! Per-track URIs are relative to the MPD: `dash/{track_id}/init.mp4` and
//! `dash/{track_id}/seg$Number$.m4s`.

use std::fmt::Write as _;

use weir_hls::format_program_date_time;

use crate::timeline::Timeline;

/// How the MPD is written.
#[derive(Debug, Clone, PartialEq)]
pub struct MpdOptions {
    /// Absolute URL of the time source for `UTCTiming` (`urn:mpeg:dash:utc:http-iso:2014`).
    pub utc_timing_url: String,
    /// Wall clock now (Unix ms), for `publishTime`.
    pub now_unix_ms: i64,
    /// Low-latency DASH: the segment being written is announced, served as its chunks are made.
    pub low_latency: bool,
    /// Target live latency for low-latency players, ms.
    pub target_latency_ms: u64,
}

fn duration(ms: u64) -> String {
    format!("PT{}.{:03}S", ms / 1000, ms % 1000)
}

/// The URI template of a track's media segments.
pub fn media_template(track_id: u32) -> String {
    format!("dash/{track_id}/seg$Number$.m4s")
}

/// Writes the MPD for `t`.
pub fn mpd(t: &Timeline, o: &MpdOptions) -> String {
    let complete: Vec<_> = t.complete().collect();
    let window_us: u64 = complete.iter().map(|s| s.duration_us).sum();
    let max_seg_ms = complete
        .iter()
        .map(|s| s.duration_us / 1000)
        .max()
        .unwrap_or(t.target_duration_s * 1000);
    let mut m = String::with_capacity(2048);
    m.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        m,
        "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" \
         type=\"{}\" availabilityStartTime=\"{}\" publishTime=\"{}\" minimumUpdatePeriod=\"{}\" \
         minBufferTime=\"{}\" timeShiftBufferDepth=\"{}\" suggestedPresentationDelay=\"{}\" \
         maxSegmentDuration=\"{}\">",
        if t.ended { "static" } else { "dynamic" },
        format_program_date_time(t.availability_start_unix_ms),
        format_program_date_time(o.now_unix_ms),
        duration(1000),
        duration(t.target_duration_s * 1000),
        duration(window_us / 1000),
        duration(if o.low_latency {
            o.target_latency_ms
        } else {
            3 * t.target_duration_s * 1000
        }),
        duration(max_seg_ms),
    );
    if o.low_latency {
        let _ = writeln!(
            m,
            "  <ServiceDescription id=\"0\">\n    <Latency target=\"{}\" min=\"{}\" max=\"{}\"/>\n    \
             <PlaybackRate min=\"0.96\" max=\"1.04\"/>\n  </ServiceDescription>",
            o.target_latency_ms,
            o.target_latency_ms / 2,
            o.target_latency_ms * 3
        );
    }
    m.push_str("  <Period id=\"0\" start=\"PT0S\">\n");
    for (i, tr) in t.tracks.iter().enumerate() {
        let (content, mime) = if tr.video {
            ("video", "video/mp4")
        } else {
            ("audio", "audio/mp4")
        };
        let _ = writeln!(
            m,
            "    <AdaptationSet id=\"{i}\" contentType=\"{content}\" mimeType=\"{mime}\" \
             segmentAlignment=\"true\" startWithSAP=\"1\">"
        );
        let pto = t.time_offsets.get(i).copied().unwrap_or(0);
        let first = complete.first().map_or(t.next_msn(), |s| s.msn);
        let _ = write!(
            m,
            "      <SegmentTemplate timescale=\"{}\" presentationTimeOffset=\"{pto}\" \
             initialization=\"dash/{}/init.mp4\" media=\"{}\" startNumber=\"{first}\"",
            tr.timescale,
            tr.id,
            media_template(tr.id)
        );
        if o.low_latency
            && let Some(last) = complete.last()
        {
            // The open segment may be fetched this long before it is complete: its chunks are
            // sent as they are written.
            let span = last.spans.get(i).copied().unwrap_or_default();
            let offset_s = span.duration as f64 / f64::from(tr.timescale.max(1)) - 0.05;
            let _ = write!(
                m,
                " availabilityTimeOffset=\"{:.3}\" availabilityTimeComplete=\"false\"",
                offset_s.max(0.0)
            );
        }
        m.push_str(">\n        <SegmentTimeline>\n");
        // Runs of equal durations collapse into one S element with a repeat count.
        let mut runs: Vec<(u64, u64, u32)> = Vec::new(); // (t, d, r)
        for s in &complete {
            let span = s.spans.get(i).copied().unwrap_or_default();
            match runs.last_mut() {
                Some((t0, d, r))
                    if *d == span.duration && *t0 + *d * (u64::from(*r) + 1) == span.start =>
                {
                    *r += 1
                }
                _ => runs.push((span.start, span.duration, 0)),
            }
        }
        for (t0, d, r) in runs {
            if r > 0 {
                let _ = writeln!(m, "          <S t=\"{t0}\" d=\"{d}\" r=\"{r}\"/>");
            } else {
                let _ = writeln!(m, "          <S t=\"{t0}\" d=\"{d}\"/>");
            }
        }
        m.push_str("        </SegmentTimeline>\n      </SegmentTemplate>\n");
        let bandwidth = tr.bandwidth.max(1);
        if tr.video {
            let _ = write!(
                m,
                "      <Representation id=\"{}\" codecs=\"{}\" bandwidth=\"{bandwidth}\" width=\"{}\" height=\"{}\"",
                tr.id, tr.codec, tr.width, tr.height
            );
            if tr.frame_rate > 0.0 {
                let _ = write!(
                    m,
                    " frameRate=\"{}\"",
                    (tr.frame_rate * 1000.0).round() / 1000.0
                );
            }
            m.push_str("/>\n");
        } else {
            let _ = writeln!(
                m,
                "      <Representation id=\"{}\" codecs=\"{}\" bandwidth=\"{bandwidth}\" audioSamplingRate=\"{}\">\n        \
                 <AudioChannelConfiguration schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\" value=\"{}\"/>\n      \
                 </Representation>",
                tr.id, tr.codec, tr.sample_rate, tr.channels
            );
        }
        m.push_str("    </AdaptationSet>\n");
    }
    m.push_str("  </Period>\n");
    let _ = writeln!(
        m,
        "  <UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:http-iso:2014\" value=\"{}\"/>",
        o.utc_timing_url
    );
    m.push_str("</MPD>\n");
    m
}
