//! HLS media playlists over CMAF segments: plain fMP4 (RFC 8216) and Low-Latency HLS
//! (draft-pantos-hls-rfc8216bis: parts, preload hints, blocking reload, delta updates).
//!
//! URIs are relative to the playlist: `init.mp4`, `seg{msn}.m4s`, `part{msn}.{index}.m4s`.

use std::fmt::Write as _;

use weir_hls::format_program_date_time;

use crate::timeline::{SegmentDesc, Timeline};

/// Parts are listed for segments that end within this many target durations of the live edge
/// (RFC 8216bis 4.4.4.9: older parts SHOULD be removed).
pub const PARTS_KEPT_TARGET_DURATIONS: u64 = 3;

/// `CAN-SKIP-UNTIL`, in target durations (the minimum RFC 8216bis allows is 6).
pub const SKIP_UNTIL_TARGET_DURATIONS: u64 = 6;

/// `PART-HOLD-BACK`, in part targets (at least 2 are required; 3 are recommended).
pub const PART_HOLD_BACK_PARTS: u64 = 3;

/// The URI of a segment.
pub fn segment_uri(msn: u64) -> String {
    format!("seg{msn}.m4s")
}

/// The URI of a part.
pub fn part_uri(msn: u64, index: usize) -> String {
    format!("part{msn}.{index}.m4s")
}

/// Another rendition's position, for `EXT-X-RENDITION-REPORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenditionReport {
    /// Its playlist URI, relative to this one.
    pub uri: String,
    /// Its last media sequence number.
    pub last_msn: u64,
    /// Its last part index.
    pub last_part: usize,
}

/// Which playlist to write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlaylistOptions {
    /// Low-Latency HLS: parts, preload hint, server control.
    pub low_latency: bool,
    /// The client asked for a delta update (`_HLS_skip=YES`).
    pub skip: bool,
    /// Other renditions of the presentation.
    pub rendition_reports: Vec<RenditionReport>,
}

fn secs(us: u64) -> String {
    // Three decimals are enough for any duration HLS clients compare.
    let ms = (us + 500) / 1000;
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Writes a media playlist for `t`.
pub fn media_playlist(t: &Timeline, opts: &PlaylistOptions) -> String {
    let complete: Vec<&SegmentDesc> = t.complete().collect();
    let open = t.open().filter(|_| opts.low_latency);
    let mut m = String::with_capacity(512 + 160 * t.segments.len());
    let td = t.target_duration_s.max(1);
    let version = if opts.low_latency { 9 } else { 7 };
    let _ = write!(
        m,
        "#EXTM3U\n#EXT-X-VERSION:{version}\n#EXT-X-TARGETDURATION:{td}\n"
    );
    let skip_until_us = SKIP_UNTIL_TARGET_DURATIONS * td * 1_000_000;
    if opts.low_latency {
        let _ = writeln!(
            m,
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL={},PART-HOLD-BACK={}",
            secs(skip_until_us),
            secs(PART_HOLD_BACK_PARTS * t.part_target_us)
        );
        let _ = writeln!(m, "#EXT-X-PART-INF:PART-TARGET={}", secs(t.part_target_us));
    }
    let first_msn = complete.first().map_or(t.next_msn(), |s| s.msn);
    let _ = write!(
        m,
        "#EXT-X-MEDIA-SEQUENCE:{first_msn}\n#EXT-X-DISCONTINUITY-SEQUENCE:{}\n",
        t.discontinuity_sequence
    );
    m.push_str("#EXT-X-MAP:URI=\"init.mp4\"\n");

    // Segments whose end lies further than CAN-SKIP-UNTIL from the live edge may be skipped.
    let total_us: u64 = complete.iter().map(|s| s.duration_us).sum();
    let mut skipped = 0;
    if opts.low_latency && opts.skip {
        let mut end = 0;
        for s in &complete {
            end += s.duration_us;
            if total_us - end >= skip_until_us && !s.discontinuity {
                skipped += 1;
            } else {
                break;
            }
        }
        if skipped > 0 {
            let _ = writeln!(m, "#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}");
        }
    }
    let parts_from_us = total_us.saturating_sub(PARTS_KEPT_TARGET_DURATIONS * td * 1_000_000);
    let mut start = 0u64;
    for (i, s) in complete.iter().enumerate() {
        let seg_start = start;
        start += s.duration_us;
        if i < skipped {
            continue;
        }
        if s.discontinuity {
            m.push_str("#EXT-X-DISCONTINUITY\n");
        }
        let _ = writeln!(
            m,
            "#EXT-X-PROGRAM-DATE-TIME:{}",
            format_program_date_time(s.pdt_unix_ms)
        );
        if opts.low_latency && start > parts_from_us && seg_start + s.duration_us >= parts_from_us {
            write_parts(&mut m, s);
        }
        let _ = write!(
            m,
            "#EXTINF:{},\n{}\n",
            secs(s.duration_us),
            segment_uri(s.msn)
        );
    }
    if let Some(o) = open {
        if o.discontinuity {
            m.push_str("#EXT-X-DISCONTINUITY\n");
        }
        let _ = writeln!(
            m,
            "#EXT-X-PROGRAM-DATE-TIME:{}",
            format_program_date_time(o.pdt_unix_ms)
        );
        write_parts(&mut m, o);
    }
    if t.ended {
        m.push_str("#EXT-X-ENDLIST\n");
    } else if opts.low_latency {
        let (msn, idx) = match open {
            Some(o) => (o.msn, o.parts.len()),
            None => (t.next_msn(), 0),
        };
        let _ = writeln!(
            m,
            "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{}\"",
            part_uri(msn, idx)
        );
        for r in &opts.rendition_reports {
            let _ = writeln!(
                m,
                "#EXT-X-RENDITION-REPORT:URI=\"{}\",LAST-MSN={},LAST-PART={}",
                r.uri, r.last_msn, r.last_part
            );
        }
    }
    m
}

fn write_parts(m: &mut String, s: &SegmentDesc) {
    for (i, p) in s.parts.iter().enumerate() {
        let _ = write!(
            m,
            "#EXT-X-PART:DURATION={},URI=\"{}\"",
            secs(p.duration_us),
            part_uri(s.msn, i)
        );
        m.push_str(if p.independent {
            ",INDEPENDENT=YES\n"
        } else {
            "\n"
        });
    }
}
