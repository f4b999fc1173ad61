//! H.265 / HEVC (ITU-T H.265): SPS parsing and the HEVCDecoderConfigurationRecord.

use bytes::Bytes;

use super::CodecError;
use super::bits::{BitReader, rbsp};

/// NAL unit type: video parameter set.
pub const NAL_VPS: u8 = 32;
/// NAL unit type: sequence parameter set.
pub const NAL_SPS: u8 = 33;
/// NAL unit type: picture parameter set.
pub const NAL_PPS: u8 = 34;
/// NAL unit type: access unit delimiter.
pub const NAL_AUD: u8 = 35;

/// The NAL unit type of an H.265 NAL unit (first byte, bits 1..7).
pub fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| (b >> 1) & 0x3f)
}

/// True for IRAP pictures (BLA, IDR, CRA: types 16..=23).
pub fn is_irap(nal_type: u8) -> bool {
    (16..=23).contains(&nal_type)
}

/// True when a length-prefixed access unit contains an IRAP slice.
pub fn is_keyframe(au: &[u8]) -> bool {
    super::nal::iter_length_prefixed(au, 4).any(|n| matches!(n, Ok(n) if is_irap(nal_type(n))))
}

/// Fields of an SPS that Weir needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpsInfo {
    /// general_profile_idc.
    pub profile: u8,
    /// general_level_idc.
    pub level: u8,
    /// Width after the conformance window.
    pub width: u32,
    /// Height after the conformance window.
    pub height: u32,
}

/// Parses an SPS NAL unit (with its two-byte header).
pub fn parse_sps(nal: &[u8]) -> Result<SpsInfo, CodecError> {
    if nal_type(nal) != NAL_SPS {
        return Err(CodecError::Invalid("not an H.265 SPS"));
    }
    let data = rbsp(nal.get(2..).unwrap_or_default());
    let mut r = BitReader::new(&data);
    r.bits(4)?; // sps_video_parameter_set_id
    let max_sub_layers_minus1 = r.bits(3)? as usize;
    r.bit()?; // sps_temporal_id_nesting_flag
    // profile_tier_level(1, max_sub_layers_minus1)
    r.bits(3)?; // general_profile_space, general_tier_flag
    let profile = r.bits(5)? as u8;
    r.skip(32 + 48)?; // compatibility flags, constraint flags
    let level = r.bits(8)? as u8;
    let mut sub_profile = [false; 8];
    let mut sub_level = [false; 8];
    for i in 0..max_sub_layers_minus1 {
        sub_profile[i] = r.bit()?;
        sub_level[i] = r.bit()?;
    }
    if max_sub_layers_minus1 > 0 {
        r.skip(2 * (8 - max_sub_layers_minus1))?;
    }
    for i in 0..max_sub_layers_minus1 {
        if sub_profile[i] {
            r.skip(88)?;
        }
        if sub_level[i] {
            r.skip(8)?;
        }
    }
    r.ue()?; // sps_seq_parameter_set_id
    let chroma_format_idc = r.ue()?;
    if chroma_format_idc == 3 {
        r.bit()?;
    }
    let mut width = r.ue()? as u64;
    let mut height = r.ue()? as u64;
    if r.bit()? {
        let (sub_w, sub_h) = match chroma_format_idc {
            1 => (2, 2),
            2 => (2, 1),
            _ => (1, 1),
        };
        let (l, rr, t, b) = (
            r.ue()? as u64,
            r.ue()? as u64,
            r.ue()? as u64,
            r.ue()? as u64,
        );
        width = width.saturating_sub(sub_w * (l + rr));
        height = height.saturating_sub(sub_h * (t + b));
    }
    if width == 0 || height == 0 || width > 16384 || height > 16384 {
        return Err(CodecError::Invalid("H.265 SPS picture size out of range"));
    }
    Ok(SpsInfo {
        profile,
        level,
        width: width as u32,
        height: height as u32,
    })
}

/// The parameter sets and NAL length size of an HEVCDecoderConfigurationRecord.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HvccRecord {
    /// VPS NAL units.
    pub vps: Vec<Bytes>,
    /// SPS NAL units.
    pub sps: Vec<Bytes>,
    /// PPS NAL units.
    pub pps: Vec<Bytes>,
    /// Bytes in each NAL unit length prefix.
    pub nal_length_size: usize,
}

/// Parses an HEVCDecoderConfigurationRecord.
pub fn parse_hvcc(rec: &[u8]) -> Result<HvccRecord, CodecError> {
    let t = || CodecError::Truncated("HEVCDecoderConfigurationRecord");
    if rec.len() < 23 {
        return Err(t());
    }
    let mut out = HvccRecord {
        nal_length_size: (rec[21] & 3) as usize + 1,
        ..Default::default()
    };
    let arrays = rec[22] as usize;
    let mut pos = 23;
    for _ in 0..arrays {
        let head = rec.get(pos..pos + 3).ok_or_else(t)?;
        let ty = head[0] & 0x3f;
        let n = u16::from_be_bytes([head[1], head[2]]) as usize;
        pos += 3;
        for _ in 0..n {
            let lb = rec.get(pos..pos + 2).ok_or_else(t)?;
            let len = u16::from_be_bytes([lb[0], lb[1]]) as usize;
            let nal = Bytes::copy_from_slice(rec.get(pos + 2..pos + 2 + len).ok_or_else(t)?);
            pos += 2 + len;
            match ty {
                NAL_VPS => out.vps.push(nal),
                NAL_SPS => out.sps.push(nal),
                NAL_PPS => out.pps.push(nal),
                _ => {}
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_hvcc_is_an_error() {
        assert!(parse_hvcc(&[1; 10]).is_err());
        let mut rec = vec![0u8; 23];
        rec[21] = 3;
        rec[22] = 1;
        rec.extend_from_slice(&[NAL_SPS, 0, 1, 0, 50, 1]);
        assert!(parse_hvcc(&rec).is_err());
    }
}
