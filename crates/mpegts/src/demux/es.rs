//! Elementary stream parsers: Annex B video to length-prefixed access units, ADTS to raw AAC
//! frames, and Opus packets behind their `opus_control_header`.

use std::collections::BTreeMap;

use bytes::{BufMut, Bytes, BytesMut};
use weir_media::codec::{aac, h264, h265, nal};
use weir_media::{AacConfig, CodecConfig, H264Config, H265Config, OpusConfig, rescale};

/// Timescale of every timestamp the demuxer produces.
pub(super) const TIMESCALE: u32 = 90_000;

/// Largest amount of non-picture NAL units kept for the next access unit (a PES with parameter
/// sets but no picture).
const MAX_CARRY: usize = 1 << 20;

/// One frame from an elementary stream, before it is given a track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EsFrame {
    pub(super) pts: i64,
    pub(super) dts: i64,
    pub(super) keyframe: bool,
    pub(super) data: Bytes,
    /// A new decoder configuration that applies from this frame on.
    pub(super) config: Option<CodecConfig>,
}

/// What went wrong while splitting one PES payload (counted by the caller).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct EsIssues {
    /// The payload held bytes that could not be parsed (skipped).
    pub(super) malformed: bool,
    /// Frames that were recognised but not delivered.
    pub(super) dropped: u64,
}

// ---------------------------------------------------------------------------------------------
// Video

/// State of an H.264 or H.265 elementary stream.
#[derive(Debug)]
pub(super) struct VideoEs {
    hevc: bool,
    vps: BTreeMap<u32, Bytes>,
    sps: BTreeMap<u32, Bytes>,
    pps: BTreeMap<u32, Bytes>,
    /// Length-prefixed NAL units of a PES without a picture, prepended to the next access unit.
    carry: Vec<u8>,
    /// The configuration last built from the parameter sets.
    built: Option<CodecConfig>,
    /// `built` changed and has not been reported with a frame yet.
    changed: bool,
}

/// A video access unit in Weir's form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AccessUnit {
    pub(super) data: Bytes,
    pub(super) keyframe: bool,
    pub(super) config: Option<CodecConfig>,
}

impl VideoEs {
    pub(super) fn new(hevc: bool) -> Self {
        Self {
            hevc,
            vps: BTreeMap::new(),
            sps: BTreeMap::new(),
            pps: BTreeMap::new(),
            carry: Vec::new(),
            built: None,
            changed: false,
        }
    }

    /// Forgets data carried between PES packets (after a loss).
    pub(super) fn reset(&mut self) {
        self.carry.clear();
    }

    fn nal_type(&self, nal: &[u8]) -> u8 {
        if self.hevc {
            h265::nal_type(nal)
        } else {
            h264::nal_type(nal)
        }
    }

    /// Converts the Annex B payload of one PES packet (one access unit) to 4-byte
    /// length-prefixed NAL units without access unit delimiters and filler data. Parameter sets
    /// stay in the access unit and update the configuration. Returns `None` when the payload
    /// has no picture (its NAL units are kept for the next access unit).
    pub(super) fn access_unit(&mut self, annexb: &[u8]) -> Option<AccessUnit> {
        let nals = nal::split_annexb(annexb);
        let mut out = BytesMut::with_capacity(self.carry.len() + annexb.len() + 4 * nals.len());
        out.put_slice(&self.carry);
        self.carry.clear();
        let (mut picture, mut keyframe) = (false, false);
        let mut sets: [Vec<(u32, &[u8])>; 3] = Default::default(); // VPS, SPS, PPS
        for unit in nals {
            let t = self.nal_type(unit);
            let (aud, filler, vcl, key, set) = if self.hevc {
                (
                    t == h265::NAL_AUD,
                    t == 38,
                    t < 32,
                    h265::is_irap(t),
                    match t {
                        h265::NAL_VPS => Some(0),
                        h265::NAL_SPS => Some(1),
                        h265::NAL_PPS => Some(2),
                        _ => None,
                    },
                )
            } else {
                (
                    t == h264::NAL_AUD,
                    t == 12,
                    (1..=5).contains(&t),
                    t == h264::NAL_IDR,
                    match t {
                        h264::NAL_SPS => Some(1),
                        h264::NAL_PPS => Some(2),
                        _ => None,
                    },
                )
            };
            if aud || filler {
                continue;
            }
            picture |= vcl;
            keyframe |= key;
            if let Some(kind) = set {
                let id = if self.hevc {
                    h265::parameter_set_id(unit)
                } else {
                    h264::parameter_set_id(unit)
                };
                let max = match (self.hevc, kind) {
                    (true, 0) | (true, 1) => 15,
                    (true, _) => 63,
                    (false, 1) => 31,
                    (false, _) => 255,
                };
                if let Some(id) = id.filter(|&id| id <= max) {
                    sets[kind].push((id, unit));
                }
            }
            out.put_u32(unit.len() as u32);
            out.put_slice(unit);
        }
        self.update_sets(&sets);
        if !picture {
            if out.len() <= MAX_CARRY {
                self.carry = out.to_vec();
            }
            return None;
        }
        Some(AccessUnit {
            data: out.freeze(),
            keyframe,
            config: if std::mem::take(&mut self.changed) {
                self.built.clone()
            } else {
                None
            },
        })
    }

    /// Records the parameter sets of one access unit. A complete set (VPS for H.265, SPS and
    /// PPS) replaces what was known, so that a restarted encoder leaves no stale sets behind;
    /// otherwise sets are updated by id.
    fn update_sets(&mut self, sets: &[Vec<(u32, &[u8])>; 3]) {
        if sets.iter().all(|s| s.is_empty()) {
            return;
        }
        let complete =
            !sets[1].is_empty() && !sets[2].is_empty() && (!self.hevc || !sets[0].is_empty());
        let maps = [&mut self.vps, &mut self.sps, &mut self.pps];
        for (map, new) in maps.into_iter().zip(sets) {
            if complete {
                map.clear();
            }
            for &(id, unit) in new {
                if map.get(&id).map(|b| &b[..]) != Some(unit) {
                    map.insert(id, Bytes::copy_from_slice(unit));
                }
            }
        }
        let config = self.build_config();
        if config.is_some() && config != self.built {
            self.built = config;
            self.changed = true;
        }
    }

    fn build_config(&self) -> Option<CodecConfig> {
        let list = |m: &BTreeMap<u32, Bytes>| m.values().cloned().collect::<Vec<_>>();
        if self.sps.is_empty() || self.pps.is_empty() {
            return None;
        }
        if self.hevc {
            if self.vps.is_empty() {
                return None;
            }
            H265Config::from_parameter_sets(list(&self.vps), list(&self.sps), list(&self.pps))
                .ok()
                .map(CodecConfig::H265)
        } else {
            H264Config::from_parameter_sets(list(&self.sps), list(&self.pps))
                .ok()
                .map(CodecConfig::H264)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// AAC in ADTS

/// State of an AAC (ADTS) elementary stream.
#[derive(Debug, Default)]
pub(super) struct AacEs {
    /// The start of an ADTS frame that continues in the next PES packet.
    pending: Vec<u8>,
    /// Its PTS.
    pending_pts: i64,
    /// The PTS of the frame after the last one, for PES packets without a PTS.
    next_pts: Option<i64>,
    config: Option<AacConfig>,
}

/// A checked ADTS header.
struct AdtsFrame {
    header_len: usize,
    frame_len: usize,
    raw_blocks: u8,
    fields: (u8, u8, u8),
    sample_rate: u32,
}

/// Parses the ADTS header at the start of `data` (at least 7 bytes), with the checks that tell a
/// real header from payload bytes: sync word, layer 0, a defined sampling frequency.
fn adts(data: &[u8]) -> Option<AdtsFrame> {
    let h = aac::parse_adts(data).ok()?;
    let layer = (data.get(1)? >> 1) & 3;
    let sample_rate = *aac::SAMPLE_RATES.get(usize::from(h.sampling_index))?;
    if layer != 0 {
        return None;
    }
    Some(AdtsFrame {
        header_len: h.header_len,
        frame_len: h.frame_len,
        raw_blocks: (data.get(6)? & 3) + 1,
        fields: (h.object_type, h.sampling_index, h.channels),
        sample_rate,
    })
}

impl AacEs {
    /// Forgets a frame cut by a loss.
    pub(super) fn reset(&mut self) {
        self.pending.clear();
    }

    /// Splits the payload of one PES packet into raw AAC frames: frame `i` starting in this
    /// packet gets `pts + i * 1024` samples (converted to 90 kHz). A frame that continues in the
    /// next packet is completed there with the timestamp it would have had here.
    pub(super) fn pes(
        &mut self,
        pts: Option<i64>,
        payload: &[u8],
        out: &mut Vec<EsFrame>,
        issues: &mut EsIssues,
    ) {
        let mut pos = 0;
        // Complete a frame begun in the previous packet.
        if !self.pending.is_empty() {
            if self.pending.len() < 7 {
                let n = (7 - self.pending.len()).min(payload.len());
                self.pending.extend_from_slice(&payload[..n]);
                pos = n;
            }
            match (self.pending.len() >= 7)
                .then(|| adts(&self.pending))
                .flatten()
            {
                Some(h) => {
                    let n = (h.frame_len - self.pending.len().min(h.frame_len))
                        .min(payload.len() - pos);
                    self.pending.extend_from_slice(&payload[pos..pos + n]);
                    pos += n;
                    if self.pending.len() >= h.frame_len {
                        let frame = std::mem::take(&mut self.pending);
                        self.emit(&frame, &h, self.pending_pts, out, issues);
                    } else {
                        return; // still incomplete (a tiny PES)
                    }
                }
                None if self.pending.len() < 7 => return,
                None => {
                    self.pending.clear();
                    issues.malformed = true;
                }
            }
        }
        let Some(base) = pts.or(self.next_pts) else {
            // No timing at all yet: nothing here can be placed in time.
            if pos < payload.len() {
                issues.dropped += 1;
            }
            return;
        };
        let mut samples = 0u64;
        let mut rate = self.config.as_ref().map_or(48_000, |c| c.sample_rate);
        let at =
            |samples: u64, rate: u32| base.saturating_add(rescale(samples as i64, rate, TIMESCALE));
        while pos < payload.len() {
            let rest = &payload[pos..];
            if rest.len() < 7 {
                if rest.first() == Some(&0xFF) {
                    self.pending = rest.to_vec();
                    self.pending_pts = at(samples, rate);
                } else {
                    issues.malformed = true;
                }
                break;
            }
            let Some(h) = adts(rest) else {
                issues.malformed = true;
                // Resynchronise on the next sync word.
                pos += 1 + rest[1..]
                    .iter()
                    .position(|&b| b == 0xFF)
                    .unwrap_or(rest.len() - 1);
                continue;
            };
            rate = h.sample_rate;
            let frame_pts = at(samples, rate);
            samples += 1024 * u64::from(h.raw_blocks);
            if rest.len() < h.frame_len {
                self.pending = rest.to_vec();
                self.pending_pts = frame_pts;
                break;
            }
            self.emit(&rest[..h.frame_len], &h, frame_pts, out, issues);
            pos += h.frame_len;
        }
        self.next_pts = Some(at(samples, rate));
    }

    fn emit(
        &mut self,
        frame: &[u8],
        h: &AdtsFrame,
        pts: i64,
        out: &mut Vec<EsFrame>,
        issues: &mut EsIssues,
    ) {
        let payload = frame.get(h.header_len..h.frame_len).unwrap_or_default();
        // Several raw data blocks in one ADTS frame are not delimited without parsing the AAC
        // syntax; such frames (rare) are dropped. Empty frames carry nothing.
        if h.raw_blocks != 1 || payload.is_empty() {
            issues.dropped += 1;
            return;
        }
        let config = match &self.config {
            Some(c) if (c.object_type, c.sampling_index, c.channels) == h.fields => None,
            _ => match AacConfig::from_fields(h.fields.0, h.fields.1, h.fields.2) {
                Ok(c) => {
                    self.config = Some(c.clone());
                    Some(CodecConfig::Aac(c))
                }
                Err(_) => {
                    issues.dropped += 1;
                    return;
                }
            },
        };
        out.push(EsFrame {
            pts,
            dts: pts,
            keyframe: true,
            data: Bytes::copy_from_slice(payload),
            config,
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Opus

/// State of an Opus elementary stream (ETSI TS 102 366 draft "Encapsulation of Opus in MPEG-2
/// Transport Stream").
#[derive(Debug)]
pub(super) struct OpusEs {
    channels: u8,
    configured: bool,
    next_pts: Option<i64>,
}

/// Samples (at 48 kHz) of an Opus packet from its TOC byte and frame count (RFC 6716 3.1);
/// `None` for an empty or invalid packet.
pub(super) fn opus_samples(packet: &[u8]) -> Option<u32> {
    let toc = *packet.first()?;
    let config = toc >> 3;
    let frame = match config {
        0..=11 => [480, 960, 1920, 2880][usize::from(config & 3)],
        12..=15 => [480, 960][usize::from(config & 1)],
        _ => [120, 240, 480, 960][usize::from(config & 3)],
    };
    let count = match toc & 3 {
        0 => 1,
        1 | 2 => 2,
        _ => u32::from(packet.get(1)? & 0x3F),
    };
    let total = frame * count;
    (count > 0 && total <= 5760).then_some(total)
}

impl OpusEs {
    pub(super) fn new(channels: u8) -> Self {
        Self {
            channels,
            configured: false,
            next_pts: None,
        }
    }

    /// Splits the payload of one PES packet into Opus packets; each gets the PES PTS plus the
    /// duration of the packets before it.
    pub(super) fn pes(
        &mut self,
        pts: Option<i64>,
        payload: &Bytes,
        out: &mut Vec<EsFrame>,
        issues: &mut EsIssues,
    ) {
        let Some(base) = pts.or(self.next_pts) else {
            if !payload.is_empty() {
                issues.dropped += 1;
            }
            return;
        };
        let mut samples = 0u64;
        let mut pos = 0;
        while pos < payload.len() {
            let Some((packet, start_trim, next)) = control_header(payload, pos) else {
                issues.malformed = true;
                break;
            };
            pos = next;
            let Some(duration) = opus_samples(&payload[packet.clone()]) else {
                issues.dropped += u64::from(!packet.is_empty());
                continue;
            };
            let config = (!self.configured).then(|| {
                self.configured = true;
                CodecConfig::Opus(OpusConfig {
                    channels: self.channels,
                    sample_rate: 48_000,
                    pre_skip: start_trim.unwrap_or(0),
                })
            });
            out.push(EsFrame {
                pts: base.saturating_add(rescale(samples as i64, 48_000, TIMESCALE)),
                dts: base.saturating_add(rescale(samples as i64, 48_000, TIMESCALE)),
                keyframe: true,
                data: payload.slice(packet),
                config,
            });
            samples += u64::from(duration);
        }
        self.next_pts = Some(base.saturating_add(rescale(samples as i64, 48_000, TIMESCALE)));
    }
}

/// Parses the `opus_control_header` at `pos`: returns the range of the Opus packet, the
/// start_trim if present, and the offset after the packet.
fn control_header(
    data: &[u8],
    mut pos: usize,
) -> Option<(std::ops::Range<usize>, Option<u16>, usize)> {
    let head = data.get(pos..pos + 2)?;
    if head[0] != 0x7F || head[1] & 0xE0 != 0xE0 {
        return None;
    }
    let (start_trim_flag, end_trim_flag, extension_flag) = (
        head[1] & 0x10 != 0,
        head[1] & 0x08 != 0,
        head[1] & 0x04 != 0,
    );
    pos += 2;
    let mut size = 0usize;
    loop {
        let b = *data.get(pos)?;
        pos += 1;
        size += usize::from(b);
        if b != 0xFF {
            break;
        }
    }
    let mut start_trim = None;
    if start_trim_flag {
        let t = data.get(pos..pos + 2)?;
        start_trim = Some(u16::from_be_bytes([t[0] & 0x1F, t[1]]));
        pos += 2;
    }
    if end_trim_flag {
        data.get(pos..pos + 2)?;
        pos += 2;
    }
    if extension_flag {
        let len = usize::from(*data.get(pos)?);
        pos += 1 + len;
    }
    let end = pos.checked_add(size)?;
    if end > data.len() {
        return None;
    }
    Some((pos..end, start_trim, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opus_durations() {
        // CELT FB 20 ms, one frame.
        assert_eq!(opus_samples(&[0xFC]), Some(960));
        // SILK NB 10/20/40/60 ms.
        assert_eq!(opus_samples(&[0x00]), Some(480));
        assert_eq!(opus_samples(&[0x18]), Some(2880));
        // Hybrid SWB 10 and 20 ms, two frames.
        assert_eq!(opus_samples(&[0x61]), Some(960));
        assert_eq!(opus_samples(&[0x6A]), Some(1920));
        // CELT 2.5 ms, code 3 with 48 frames = 120 ms (the maximum); 49 is too long.
        assert_eq!(opus_samples(&[0x83, 48]), Some(5760));
        assert_eq!(opus_samples(&[0x83, 49]), None);
        assert_eq!(opus_samples(&[0x83, 0]), None);
        assert_eq!(opus_samples(&[0x83]), None);
        assert_eq!(opus_samples(&[]), None);
    }

    #[test]
    fn control_headers() {
        // au_size 300 = 255 + 45, start and end trim, an extension of 2 bytes.
        let mut d = vec![
            0x7F,
            0xE0 | 0x10 | 0x08 | 0x04,
            0xFF,
            45,
            0x01,
            0x38,
            0x00,
            0x10,
            2,
            9,
            9,
        ];
        let start = d.len();
        d.extend(std::iter::repeat_n(0xFC, 300));
        d.extend_from_slice(&[0x7F, 0xE0, 0]);
        let (range, trim, next) = control_header(&d, 0).unwrap();
        assert_eq!(
            (range, trim, next),
            (start..start + 300, Some(312), start + 300)
        );
        let (range, trim, next) = control_header(&d, next).unwrap();
        assert_eq!((range.len(), trim, next), (0, None, d.len()));
        assert!(control_header(&d[..d.len() - 10], 0).is_none());
        assert!(control_header(&[0x7F, 0xC0, 1, 0], 0).is_none());
    }
}
