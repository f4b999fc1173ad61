//! The MPEG-TS demuxer on arbitrary bytes: never panics; the output (events and counters) does
//! not depend on how the input is split; frames only follow the announcement of their track;
//! nothing is buffered without bound.
//!
//! Seeds: `fuzz/seeds/ts_demux/` (written by `crates/mpegts/tests/fuzz_seeds.rs`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_mpegts::{DemuxEvent, DemuxStats, TsDemuxer};

fuzz_target!(|data: &[u8]| {
    let whole = demux(data, &[data.len().max(1)]);
    // The first and last bytes pick the split sizes (and stay part of the stream).
    let a = data.first().map_or(1, |&b| usize::from(b));
    let b = data.last().map_or(1, |&b| usize::from(b));
    let pieces = demux(data, &[1 + a % 200, 1 + (a * b) % 1500, 188, 1]);
    assert_eq!(whole, pieces);
});

fn demux(data: &[u8], sizes: &[usize]) -> (Vec<DemuxEvent>, DemuxStats) {
    let mut d = TsDemuxer::new();
    let mut events = Vec::new();
    let mut rest = data;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].clamp(1, rest.len());
        d.push(&rest[..n]);
        rest = &rest[n..];
        i += 1;
        while let Some(e) = d.poll_event() {
            events.push(e);
        }
    }
    d.flush();
    while let Some(e) = d.poll_event() {
        events.push(e);
    }
    // Frames only after a Tracks event that lists their track.
    let mut info = None;
    let mut frames = 0;
    for e in &events {
        match e {
            DemuxEvent::Tracks(i) => info = Some(i),
            DemuxEvent::Frame(f) => {
                frames += 1;
                let track = info.and_then(|i| i.track(f.track));
                assert!(
                    track.is_some_and(|t| t.kind() == f.kind),
                    "frame before its track"
                );
                assert!(!f.data.is_empty() && f.data.len() <= 2 * data.len());
            }
        }
    }
    assert_eq!(d.stats().frames, frames);
    (events, d.stats().clone())
}
