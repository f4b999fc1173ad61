//! Frames in; CMAF chunks, parts and segments out.
//!
//! A **chunk** is cut each time a frame of the main track (video, or audio when there is no
//! video) arrives: it holds the main track's previous frame (whose duration that arrival
//! reveals) and the other track's frames up to then, one fMP4 fragment per track. Chunks are
//! grouped into **parts** of at most [`PackagerConfig::part_target_ms`], and parts into
//! **segments**, which start on video keyframes once the current one has lasted
//! [`PackagerConfig::target_duration_ms`]. The segment being written, and its part being
//! written, are visible with their chunks so far: LL-HLS preload-hinted parts and low-latency
//! DASH segments are served as they grow.

use std::collections::VecDeque;
use std::time::{Duration, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use weir_fmp4::{Fmp4Error, Fmp4Muxer, Fmp4Options, Fragment, FragmentOpts};
use weir_media::{Frame, MediaInfo, MediaKind, Track, TrackId, rescale};

use crate::timeline::{PartDesc, SegmentDesc, Timeline, TrackDesc, TrackSpan};

/// Packager settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackagerConfig {
    /// Segments start at the first keyframe after this long (ms).
    pub target_duration_ms: u64,
    /// Parts are closed before they would exceed this (ms).
    pub part_target_ms: u64,
    /// Complete segments listed in manifests.
    pub window_segments: usize,
    /// Complete segments kept beyond the window, for players still fetching them.
    pub retained_segments: usize,
    /// Cut a segment without a keyframe once it reaches this long (ms).
    pub max_segment_ms: u64,
}

impl Default for PackagerConfig {
    fn default() -> Self {
        Self {
            target_duration_ms: 2000,
            part_target_ms: 334,
            window_segments: 10,
            retained_segments: 3,
            max_segment_ms: 10_000,
        }
    }
}

/// One chunk: a fragment per track (empty when a track had no sample in it).
#[derive(Debug, Clone)]
pub struct Chunk {
    /// Per track (in [`Timeline::tracks`] order), the fragment bytes.
    pub tracks: Vec<Bytes>,
}

impl Chunk {
    /// The chunk as HLS serves it: every track's fragment, in track order.
    pub fn muxed_len(&self) -> usize {
        self.tracks.iter().map(Bytes::len).sum()
    }
}

#[derive(Debug, Clone)]
struct Part {
    chunks: Vec<Chunk>,
    duration_us: u64,
    independent: bool,
}

#[derive(Debug, Clone)]
struct Segment {
    msn: u64,
    discontinuity: bool,
    pdt_unix_ms: i64,
    /// Start of the main track (its rebased DTS, µs).
    start_us: i64,
    duration_us: u64,
    /// Complete parts, then (while open) the part being written as `open_part`.
    parts: Vec<Part>,
    open_part: Option<Part>,
    spans: Vec<TrackSpan>,
    complete: bool,
    bytes: usize,
}

/// What the packager muxes, set at [`CmafPackager::start`].
struct Session {
    /// One muxer per track (CMAF track files), in `tracks` order.
    muxers: Vec<Fmp4Muxer>,
    /// Weir track ids, in order (video first).
    ids: Vec<TrackId>,
    descs: Vec<TrackDesc>,
    /// Init segment with every track (HLS).
    init_all: Bytes,
    /// Init segment per track (DASH).
    init_track: Vec<Bytes>,
    /// Index of the main track.
    main: usize,
    has_video: bool,
    /// Rebasing: the first main keyframe's DTS, and its timescale.
    base: Option<(i64, u32)>,
    /// The main track's last DTS (µs, rebased) and its typical frame duration.
    last_main_us: Option<i64>,
    frame_us: i64,
    /// The next chunk starts a segment.
    chunk_starts_segment: bool,
    /// Wall clock of the main frame that the next chunk starts with.
    chunk_wall_ms: i64,
    bytes_per_track: Vec<u64>,
    duration_per_track_us: Vec<u64>,
}

/// The live packager of one stream. Sans-IO: frames and the wall clock in, bytes and manifests
/// out.
pub struct CmafPackager {
    cfg: PackagerConfig,
    session: Option<Session>,
    segments: VecDeque<Segment>,
    next_msn: u64,
    discontinuity_sequence: u64,
    pending_discontinuity: bool,
    ended: bool,
    version: u64,
    availability_start_unix_ms: i64,
    /// Frames refused by the muxer (bad timestamps, changed parameter sets), for the logs.
    pub rejected_frames: u64,
    last_error: Option<Fmp4Error>,
}

impl std::fmt::Debug for CmafPackager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CmafPackager")
            .field("segments", &self.segments.len())
            .field("next_msn", &self.next_msn)
            .finish()
    }
}

fn unix_ms(t: std::time::SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl CmafPackager {
    /// A packager whose first segment will have media sequence number `first_msn`.
    pub fn new(cfg: PackagerConfig, first_msn: u64) -> Self {
        Self {
            cfg,
            session: None,
            segments: VecDeque::new(),
            next_msn: first_msn,
            discontinuity_sequence: 0,
            pending_discontinuity: false,
            ended: false,
            version: 0,
            availability_start_unix_ms: 0,
            rejected_frames: 0,
            last_error: None,
        }
    }

    /// (Re)starts with the tracks of `info`: the first video and the first audio track that
    /// fMP4 can carry. What was packaged before stays listed, and the next segment is marked
    /// as a discontinuity. Returns false when no track can be packaged.
    pub fn start(&mut self, info: &MediaInfo) -> bool {
        self.close_open();
        let mut chosen: Vec<&Track> = Vec::new();
        for kind in [MediaKind::Video, MediaKind::Audio] {
            if let Some(t) = info.tracks.iter().find(|t| {
                t.kind() == kind && Fmp4Muxer::new(&[(*t).clone()], Fmp4Options::default()).is_ok()
            }) {
                chosen.push(t);
            }
        }
        let owned: Vec<Track> = chosen.iter().map(|t| (*t).clone()).collect();
        let Ok(all) = Fmp4Muxer::new(&owned, Fmp4Options::default()) else {
            self.session = None;
            return false;
        };
        let mut muxers = Vec::new();
        let mut descs = Vec::new();
        for t in &owned {
            let Ok(m) = Fmp4Muxer::new(std::slice::from_ref(t), Fmp4Options::default()) else {
                continue;
            };
            descs.push(describe(t, &m));
            muxers.push(m);
        }
        let has_video = owned.first().is_some_and(|t| t.kind() == MediaKind::Video);
        self.pending_discontinuity |= self.segments.iter().any(|s| s.complete);
        self.session = Some(Session {
            init_all: all.init_segment(),
            init_track: muxers.iter().map(Fmp4Muxer::init_segment).collect(),
            ids: owned.iter().map(|t| t.id).collect(),
            bytes_per_track: vec![0; owned.len()],
            duration_per_track_us: vec![0; owned.len()],
            muxers,
            descs,
            main: 0,
            has_video,
            base: None,
            last_main_us: None,
            frame_us: if has_video { 33_333 } else { 21_333 },
            chunk_starts_segment: true,
            chunk_wall_ms: 0,
        });
        self.ended = false;
        self.version += 1;
        true
    }

    /// The init segment with every track (HLS `EXT-X-MAP`).
    pub fn init_segment(&self) -> Option<Bytes> {
        self.session.as_ref().map(|s| s.init_all.clone())
    }

    /// The init segment of one track (DASH), by its ISOBMFF track id.
    pub fn track_init_segment(&self, track_id: u32) -> Option<Bytes> {
        let s = self.session.as_ref()?;
        let i = s.descs.iter().position(|d| d.id == track_id)?;
        s.init_track.get(i).cloned()
    }

    /// A number that changes whenever a part or segment is added (for waiters and ETags).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The last muxing error, taken (for rate-limited logs).
    pub fn take_error(&mut self) -> Option<Fmp4Error> {
        self.last_error.take()
    }

    /// Packages one frame. `now` is the wall clock at its arrival. Returns true when a part
    /// or segment was completed (manifests changed).
    pub fn push(&mut self, frame: &Frame, now: std::time::SystemTime) -> bool {
        let Some(s) = self.session.as_mut() else {
            return false;
        };
        let Some(ti) = s.ids.iter().position(|id| *id == frame.track) else {
            return false;
        };
        let is_main = ti == s.main;
        if frame.timescale == 0 {
            return false;
        }
        // Rebase so that the stream starts at zero: the first main keyframe is time 0.
        let (base, base_ts) = match s.base {
            Some(b) => b,
            None => {
                if !(is_main && (frame.keyframe || !s.has_video)) {
                    return false; // wait for the first keyframe of the main track
                }
                s.base = Some((frame.dts, frame.timescale));
                (frame.dts, frame.timescale)
            }
        };
        let shift = rescale(base, base_ts, frame.timescale);
        let mut f = frame.clone();
        f.dts -= shift;
        f.pts -= shift;
        if f.dts < 0 {
            return false;
        }
        let dts_us = rescale(f.dts, f.timescale, 1_000_000);
        if !is_main {
            if let Err(e) = s.muxers[ti].push(&f) {
                self.rejected_frames += 1;
                self.last_error = Some(e);
            }
            return false;
        }
        if let Err(e) = s.muxers[ti].push(&f) {
            self.rejected_frames += 1;
            self.last_error = Some(e);
            return false;
        }
        let wall_ms = unix_ms(now);
        let Some(prev_us) = s.last_main_us.replace(dts_us) else {
            // The very first frame: it opens the first segment.
            s.chunk_wall_ms = wall_ms;
            self.open_segment(0, wall_ms);
            return false;
        };
        let step = dts_us - prev_us;
        if step > 0 && step < 1_000_000 {
            s.frame_us = step;
        }
        // Cut the chunk that ends at this frame.
        let opts = if s.chunk_starts_segment {
            FragmentOpts::segment()
        } else {
            FragmentOpts::part()
        }
        .with_prft(UNIX_EPOCH + Duration::from_millis(s.chunk_wall_ms.max(0) as u64));
        let mut tracks = Vec::with_capacity(s.muxers.len());
        let mut frags: Vec<Option<Fragment>> = Vec::with_capacity(s.muxers.len());
        for m in &mut s.muxers {
            let fr = m.fragment(&opts);
            tracks.push(fr.as_ref().map_or_else(Bytes::new, |f| f.data.clone()));
            frags.push(fr);
        }
        s.chunk_starts_segment = false;
        s.chunk_wall_ms = wall_ms;
        let chunk = Chunk { tracks };
        let frame_us = s.frame_us;
        let keyframe = frame.keyframe || !s.has_video;
        let mut changed = self.add_chunk(chunk, &frags, dts_us);
        // Decide the boundaries before this frame.
        let Some(open) = self.segments.back() else {
            return changed;
        };
        let seg_us = dts_us - open.start_us;
        let seg_target = self.cfg.target_duration_ms as i64 * 1000;
        let cut_segment =
            (keyframe && seg_us >= seg_target) || seg_us >= self.cfg.max_segment_ms as i64 * 1000;
        let part_us = open.open_part.as_ref().map_or(0, |p| p.duration_us) as i64;
        if cut_segment {
            self.complete_segment(dts_us);
            if let Some(s) = self.session.as_mut() {
                s.chunk_starts_segment = true;
            }
            self.open_segment(dts_us, wall_ms);
            changed = true;
        } else if part_us + frame_us > self.cfg.part_target_ms as i64 * 1000 + 500 {
            self.complete_part();
            changed = true;
        }
        if changed {
            self.version += 1;
        }
        changed
    }

    fn add_chunk(&mut self, chunk: Chunk, frags: &[Option<Fragment>], end_us: i64) -> bool {
        let Some(s) = self.session.as_mut() else {
            return false;
        };
        let Some(seg) = self.segments.back_mut().filter(|g| !g.complete) else {
            return false;
        };
        for (i, fr) in frags.iter().enumerate() {
            if let Some(tf) = fr.as_ref().and_then(|f| f.tracks.first()) {
                let span = &mut seg.spans[i];
                if span.duration == 0 && span.start == 0 {
                    span.start = tf.base_decode_time;
                }
                span.duration += tf.duration;
                s.bytes_per_track[i] += fr.as_ref().map_or(0, |f| f.data.len() as u64);
                s.duration_per_track_us[i] +=
                    tf.duration * 1_000_000 / u64::from(tf.timescale.max(1));
            }
        }
        let main_start = frags
            .get(s.main)
            .and_then(|f| f.as_ref())
            .and_then(|f| f.tracks.first())
            .map(|t| t.starts_with_keyframe)
            .unwrap_or(true);
        seg.bytes += chunk.muxed_len();
        let part = seg.open_part.get_or_insert_with(|| Part {
            chunks: Vec::new(),
            duration_us: 0,
            independent: main_start,
        });
        part.chunks.push(chunk);
        let part_start = seg.start_us + seg.parts.iter().map(|p| p.duration_us as i64).sum::<i64>();
        part.duration_us = (end_us - part_start).max(0) as u64;
        self.version += 1;
        false
    }

    fn open_segment(&mut self, start_us: i64, wall_ms: i64) {
        let n = self.session.as_ref().map_or(0, |s| s.muxers.len());
        if self.segments.iter().all(|s| s.complete) && self.segments.is_empty() {
            self.availability_start_unix_ms = wall_ms - start_us / 1000;
        }
        let msn = self.next_msn;
        self.next_msn += 1;
        self.segments.push_back(Segment {
            msn,
            discontinuity: std::mem::take(&mut self.pending_discontinuity),
            pdt_unix_ms: wall_ms,
            start_us,
            duration_us: 0,
            parts: Vec::new(),
            open_part: None,
            spans: vec![TrackSpan::default(); n],
            complete: false,
            bytes: 0,
        });
    }

    fn complete_part(&mut self) {
        if let Some(seg) = self.segments.back_mut().filter(|g| !g.complete)
            && let Some(p) = seg.open_part.take()
        {
            seg.parts.push(p);
        }
    }

    fn complete_segment(&mut self, end_us: i64) {
        self.complete_part();
        if let Some(seg) = self.segments.back_mut().filter(|g| !g.complete) {
            seg.duration_us = (end_us - seg.start_us).max(0) as u64;
            seg.complete = !seg.parts.is_empty();
            if !seg.complete {
                self.segments.pop_back();
            }
        }
        // Keep the window plus the retained segments.
        let keep = self.cfg.window_segments + self.cfg.retained_segments;
        while self.segments.iter().filter(|s| s.complete).count() > keep {
            if let Some(old) = self.segments.pop_front()
                && old.discontinuity
            {
                self.discontinuity_sequence += 1;
            }
        }
    }

    /// Closes what is open when the stream stops or restarts (the open segment is completed
    /// if it holds any part).
    fn close_open(&mut self) {
        if let Some(s) = self.session.as_mut() {
            let opts = FragmentOpts::part();
            let mut frags = Vec::new();
            let mut tracks = Vec::new();
            for m in std::mem::take(&mut s.muxers) {
                let fr = m.finish(&opts);
                tracks.push(fr.as_ref().map_or_else(Bytes::new, |f| f.data.clone()));
                frags.push(fr);
            }
            let end = s.last_main_us.map_or(0, |l| l + s.frame_us);
            s.muxers = Vec::new();
            if frags.iter().any(Option::is_some) {
                self.add_chunk(Chunk { tracks }, &frags, end);
            }
            self.complete_segment(end);
            self.version += 1;
        }
        self.session = None;
    }

    /// The publisher ended: completes what is open and marks the presentation ended.
    pub fn end(&mut self) {
        self.close_open();
        self.ended = true;
        self.version += 1;
    }

    fn listed(&self) -> impl Iterator<Item = &Segment> {
        let complete = self.segments.iter().filter(|s| s.complete).count();
        let skip = complete.saturating_sub(self.cfg.window_segments);
        self.segments.iter().skip(skip)
    }

    /// A snapshot for the manifest writers.
    pub fn timeline(&self) -> Timeline {
        let mut descs = self
            .session
            .as_ref()
            .map(|s| s.descs.clone())
            .unwrap_or_default();
        if let Some(s) = &self.session {
            for (i, d) in descs.iter_mut().enumerate() {
                if let Some(bw) =
                    (s.bytes_per_track[i] * 8 * 1_000_000).checked_div(s.duration_per_track_us[i])
                {
                    d.bandwidth = bw;
                }
            }
        }
        let segments: Vec<SegmentDesc> = self
            .listed()
            .map(|g| SegmentDesc {
                msn: g.msn,
                discontinuity: g.discontinuity,
                pdt_unix_ms: g.pdt_unix_ms,
                duration_us: g.duration_us,
                parts: g
                    .parts
                    .iter()
                    .map(|p| PartDesc {
                        duration_us: p.duration_us,
                        independent: p.independent,
                    })
                    .collect(),
                spans: g.spans.clone(),
                complete: g.complete,
            })
            .collect();
        let max_seg_us = segments.iter().map(|s| s.duration_us).max().unwrap_or(0);
        // RFC 8216 4.3.3.1: every EXTINF, rounded to the nearest integer, is at most the target.
        let target = ((self.cfg.target_duration_ms + 500) / 1000)
            .max((max_seg_us + 500_000) / 1_000_000)
            .max(1);
        // Timestamps are rebased so that media time 0 is the first keyframe, which arrived at
        // the availability start time: every track's presentation time offset is 0.
        let time_offsets = vec![0; descs.len()];
        Timeline {
            tracks: descs,
            segments,
            target_duration_s: target,
            part_target_us: self.cfg.part_target_ms * 1000,
            // Discontinuities before the first listed segment: those evicted, plus those of the
            // segments still held but no longer listed.
            discontinuity_sequence: self.discontinuity_sequence
                + self
                    .segments
                    .iter()
                    .take(self.segments.len() - self.listed().count())
                    .filter(|s| s.discontinuity)
                    .count() as u64,
            ended: self.ended,
            availability_start_unix_ms: self.availability_start_unix_ms,
            time_offsets,
            version: self.version,
        }
    }

    fn find(&self, msn: u64) -> Option<&Segment> {
        self.segments.iter().find(|s| s.msn == msn)
    }

    /// A complete segment as HLS serves it (every track, chunk by chunk).
    pub fn segment(&self, msn: u64) -> Option<Bytes> {
        let seg = self.find(msn).filter(|s| s.complete)?;
        Some(concat(seg.parts.iter().flat_map(|p| &p.chunks), None))
    }

    /// A complete part as HLS serves it.
    pub fn part(&self, msn: u64, index: usize) -> Option<Bytes> {
        let seg = self.find(msn)?;
        let p = seg.parts.get(index)?;
        Some(concat(&p.chunks, None))
    }

    /// Where a requested part or segment stands: its bytes so far and whether more will come.
    /// `track` selects one track's fragments (DASH) instead of all (HLS); `index` selects a
    /// part instead of the whole segment. `None`: unknown (expired, or too far ahead).
    pub fn progress(
        &self,
        msn: u64,
        index: Option<usize>,
        track: Option<usize>,
        from_chunk: usize,
    ) -> Option<Progress> {
        let seg = match self.find(msn) {
            Some(s) => s,
            // The next part or segment, not started yet: wait for it.
            None if msn == self.next_msn && !self.ended => {
                return Some(Progress {
                    pieces: Vec::new(),
                    chunks: 0,
                    done: false,
                    modified_unix_ms: 0,
                });
            }
            None => return None,
        };
        let chunks: Vec<&Chunk> = match index {
            Some(i) if i < seg.parts.len() => seg.parts[i].chunks.iter().collect(),
            Some(i) if i == seg.parts.len() && !seg.complete => {
                seg.open_part.iter().flat_map(|p| &p.chunks).collect()
            }
            Some(_) => return None,
            None => seg
                .parts
                .iter()
                .chain(seg.open_part.iter())
                .flat_map(|p| &p.chunks)
                .collect(),
        };
        let done = seg.complete || matches!(index, Some(i) if i < seg.parts.len()) || self.ended;
        let from = from_chunk.min(chunks.len());
        // When what was asked for was last written to: its end on the segment's wall clock.
        let written_us: u64 = match index {
            Some(i) => seg.parts.iter().take(i + 1).map(|p| p.duration_us).sum(),
            None => seg.duration_us,
        };
        Some(Progress {
            pieces: pieces(chunks[from..].iter().copied(), track),
            chunks: chunks.len(),
            done,
            modified_unix_ms: seg.pdt_unix_ms + (written_us / 1000) as i64,
        })
    }

    /// Bytes of segments held.
    pub fn stored_bytes(&self) -> usize {
        self.segments.iter().map(|s| s.bytes).sum()
    }
}

/// A part or segment being served while it is written.
#[derive(Debug, Clone)]
pub struct Progress {
    /// The fragments of the chunks from the requested one on, in order: served as they are,
    /// without copying them into one buffer.
    pub pieces: Vec<Bytes>,
    /// Chunks written so far in total.
    pub chunks: usize,
    /// Nothing more will be added.
    pub done: bool,
    /// Wall clock (Unix ms) of the end of what was written: `Last-Modified`.
    pub modified_unix_ms: i64,
}

impl Progress {
    /// Total length of [`Progress::pieces`].
    pub fn len(&self) -> usize {
        self.pieces.iter().map(Bytes::len).sum()
    }

    /// True when there are no bytes (yet).
    pub fn is_empty(&self) -> bool {
        self.pieces.iter().all(Bytes::is_empty)
    }

    /// The pieces copied into one buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.len());
        self.pieces.iter().for_each(|b| out.extend_from_slice(b));
        out.freeze()
    }
}

/// The fragments of `chunks`: every track's, or only `track`'s (reference-counted, not copied).
fn pieces<'a>(chunks: impl IntoIterator<Item = &'a Chunk>, track: Option<usize>) -> Vec<Bytes> {
    let mut out = Vec::new();
    for c in chunks {
        match track {
            Some(t) => out.extend(c.tracks.get(t).filter(|b| !b.is_empty()).cloned()),
            None => out.extend(c.tracks.iter().filter(|b| !b.is_empty()).cloned()),
        }
    }
    out
}

fn concat<'a>(chunks: impl IntoIterator<Item = &'a Chunk>, track: Option<usize>) -> Bytes {
    let mut out = BytesMut::new();
    for c in chunks {
        match track {
            Some(t) => {
                if let Some(b) = c.tracks.get(t) {
                    out.extend_from_slice(b);
                }
            }
            None => c.tracks.iter().for_each(|b| out.extend_from_slice(b)),
        }
    }
    out.freeze()
}

fn describe(t: &Track, m: &Fmp4Muxer) -> TrackDesc {
    let mut d = TrackDesc {
        id: u32::from(t.id) + 1,
        video: t.kind() == MediaKind::Video,
        codec: m.codec_string(t.id).unwrap_or_default().to_owned(),
        timescale: m.timescale(t.id).unwrap_or(90_000),
        width: 0,
        height: 0,
        frame_rate: 0.0,
        sample_rate: 0,
        channels: 0,
        bandwidth: 0,
    };
    match &t.codec {
        weir_media::CodecConfig::H264(c) => (d.width, d.height) = (c.width, c.height),
        weir_media::CodecConfig::H265(c) => (d.width, d.height) = (c.width, c.height),
        weir_media::CodecConfig::Aac(c) => {
            (d.sample_rate, d.channels) = (c.sample_rate, c.channels)
        }
        weir_media::CodecConfig::Opus(c) => (d.sample_rate, d.channels) = (48_000, c.channels),
        _ => {}
    }
    d
}
