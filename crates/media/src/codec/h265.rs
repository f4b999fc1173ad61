//! H.265 / HEVC (ITU-T H.265): SPS parsing and the HEVCDecoderConfigurationRecord.

use bytes::{BufMut, Bytes, BytesMut};

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
    let f = parse_sps_fields(nal)?;
    Ok(SpsInfo {
        profile: f.ptl[0] & 0x1f,
        level: f.ptl[11],
        width: f.width,
        height: f.height,
    })
}

/// The SPS fields that the SPS info and the HEVCDecoderConfigurationRecord need.
struct SpsFields {
    /// The 12 bytes of the general profile_tier_level: profile space, tier and profile idc;
    /// 32 compatibility flags; 48 constraint flags; level idc.
    ptl: [u8; 12],
    max_sub_layers_minus1: u8,
    temporal_id_nesting: bool,
    chroma_format_idc: u32,
    /// bit_depth_luma_minus8 and bit_depth_chroma_minus8, unless the SPS ends before them.
    bit_depths_minus8: Option<(u32, u32)>,
    width: u32,
    height: u32,
}

/// Reads the SPS up to the sequence parameter set id.
fn parse_sps_head(r: &mut BitReader<'_>) -> Result<(u8, bool, [u8; 12], u32), CodecError> {
    r.bits(4)?; // sps_video_parameter_set_id
    let max_sub_layers_minus1 = r.bits(3)? as usize;
    let temporal_id_nesting = r.bit()?;
    // profile_tier_level(1, max_sub_layers_minus1): the general part is 12 whole bytes.
    let mut ptl = [0u8; 12];
    for b in &mut ptl {
        *b = r.bits(8)? as u8;
    }
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
    let sps_id = r.ue()?;
    Ok((
        max_sub_layers_minus1 as u8,
        temporal_id_nesting,
        ptl,
        sps_id,
    ))
}

fn parse_sps_fields(nal: &[u8]) -> Result<SpsFields, CodecError> {
    if nal_type(nal) != NAL_SPS {
        return Err(CodecError::Invalid("not an H.265 SPS"));
    }
    let data = rbsp(nal.get(2..).unwrap_or_default());
    let mut r = BitReader::new(&data);
    let (max_sub_layers_minus1, temporal_id_nesting, ptl, _sps_id) = parse_sps_head(&mut r)?;
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
    let bit_depths_minus8 = match (r.ue(), r.ue()) {
        (Ok(luma), Ok(chroma)) => Some((luma, chroma)),
        _ => None,
    };
    Ok(SpsFields {
        ptl,
        max_sub_layers_minus1,
        temporal_id_nesting,
        chroma_format_idc,
        bit_depths_minus8,
        width: width as u32,
        height: height as u32,
    })
}

/// The id of a VPS (vps_video_parameter_set_id), SPS (sps_seq_parameter_set_id) or PPS
/// (pps_pic_parameter_set_id); `None` for other NAL units or when the unit is too short.
pub fn parameter_set_id(nal: &[u8]) -> Option<u32> {
    let body = nal.get(2..)?;
    match nal_type(nal) {
        NAL_VPS => body.first().map(|b| u32::from(b >> 4)),
        NAL_SPS => {
            // The id follows the profile_tier_level, whose length depends on the sub-layers.
            let data = rbsp(body);
            parse_sps_head(&mut BitReader::new(&data)).ok().map(|h| h.3)
        }
        NAL_PPS => {
            let data = rbsp(body.get(..body.len().min(16))?);
            BitReader::new(&data).ue().ok()
        }
        _ => None,
    }
}

/// Builds an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1) with 4-byte NAL lengths.
///
/// The general profile, tier, compatibility and constraint flags and level, the chroma format,
/// the bit depths, the number of temporal layers and the temporal id nesting flag are taken from
/// the first SPS. `min_spatial_segmentation_idc`, `parallelismType`, `avgFrameRate` and
/// `constantFrameRate` are written as 0 (unknown). One array per non-empty list (VPS, SPS, PPS,
/// in that order), each with `array_completeness` 0: frames may repeat parameter sets in-band.
pub fn build_hvcc(vps: &[Bytes], sps: &[Bytes], pps: &[Bytes]) -> Result<Bytes, CodecError> {
    let first = sps
        .first()
        .ok_or(CodecError::Invalid("HEVC configuration without SPS"))?;
    let f = parse_sps_fields(first)?;
    let (luma, chroma) = f
        .bit_depths_minus8
        .ok_or(CodecError::Truncated("H.265 SPS bit depths"))?;
    if f.chroma_format_idc > 3 || luma > 8 || chroma > 8 {
        return Err(CodecError::Invalid(
            "H.265 SPS chroma format or bit depth out of range",
        ));
    }
    let mut b = BytesMut::with_capacity(
        23 + 9
            + [vps, sps, pps]
                .iter()
                .flat_map(|l| l.iter())
                .map(|n| 2 + n.len())
                .sum::<usize>(),
    );
    b.put_u8(1); // configurationVersion
    b.put_slice(&f.ptl[..11]); // profile space/tier/idc, compatibility and constraint flags
    b.put_u8(f.ptl[11]); // general_level_idc
    b.put_u16(0xF000); // reserved, min_spatial_segmentation_idc = 0
    b.put_u8(0xFC); // reserved, parallelismType = 0
    b.put_u8(0xFC | f.chroma_format_idc as u8);
    b.put_u8(0xF8 | luma as u8);
    b.put_u8(0xF8 | chroma as u8);
    b.put_u16(0); // avgFrameRate
    // constantFrameRate 0, numTemporalLayers, temporalIdNested, lengthSizeMinusOne = 3.
    b.put_u8(((f.max_sub_layers_minus1 + 1) << 3) | (u8::from(f.temporal_id_nesting) << 2) | 3);
    let arrays = [(NAL_VPS, vps), (NAL_SPS, sps), (NAL_PPS, pps)];
    b.put_u8(arrays.iter().filter(|(_, l)| !l.is_empty()).count() as u8);
    for (ty, list) in arrays {
        if list.is_empty() {
            continue;
        }
        let count = u16::try_from(list.len())
            .map_err(|_| CodecError::Invalid("too many HEVC parameter sets"))?;
        b.put_u8(ty); // array_completeness 0, reserved 0, NAL_unit_type
        b.put_u16(count);
        for nal in list {
            let len = u16::try_from(nal.len())
                .map_err(|_| CodecError::Invalid("HEVC parameter set longer than 65535 bytes"))?;
            b.put_u16(len);
            b.put_slice(nal);
        }
    }
    Ok(b.freeze())
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

/// The RFC 6381 codec string of an HEVC sample entry (ISO/IEC 14496-15 Annex E.3):
/// `{fourcc}.{profile space}{profile}.{compatibility flags, bit-reversed, hex}.{tier}{level}`
/// followed by the constraint bytes, trailing zero bytes omitted (`hvc1.1.6.L93.B0`).
/// `None` when `hvcc` is shorter than its fixed header.
pub fn rfc6381(fourcc: &str, hvcc: &[u8]) -> Option<String> {
    if hvcc.len() < 13 {
        return None;
    }
    let space = ["", "A", "B", "C"][usize::from(hvcc[1] >> 6)];
    let tier = if hvcc[1] & 0x20 != 0 { 'H' } else { 'L' };
    let profile = hvcc[1] & 0x1F;
    let compat = u32::from_be_bytes([hvcc[2], hvcc[3], hvcc[4], hvcc[5]]).reverse_bits();
    let level = hvcc[12];
    let mut s = format!("{fourcc}.{space}{profile}.{compat:X}.{tier}{level}");
    let constraints = &hvcc[6..12];
    let used = constraints
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |p| p + 1);
    for b in &constraints[..used] {
        s.push_str(&format!(".{b:X}"));
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parameter sets of x265 (`ffmpeg -f lavfi -i testsrc2=s=64x64 -c:v libx265`), Main
    /// profile, level 1 (30), 64x64.
    pub const VPS: &[u8] = &[
        0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00,
        0x03, 0x00, 0x00, 0x03, 0x00, 0x1e, 0x95, 0x98, 0x09,
    ];
    /// See [`VPS`].
    pub const SPS: &[u8] = &[
        0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00,
        0x03, 0x00, 0x1e, 0xa0, 0x20, 0x81, 0x05, 0x96, 0x56, 0x69, 0x24, 0xca, 0xf0, 0x16, 0x80,
        0x80, 0x00, 0x00, 0x03, 0x00, 0x80, 0x00, 0x00, 0x0c, 0x84,
    ];
    /// See [`VPS`].
    pub const PPS: &[u8] = &[0x44, 0x01, 0xc1, 0x72, 0xb4, 0x22, 0x40];

    /// The hvcC box body ffmpeg writes for these parameter sets (`-c copy -tag:v hvc1` to MP4).
    const FFMPEG_HVCC: &[u8] = &[
        0x01, 0x01, 0x60, 0x00, 0x00, 0x00, 0x90, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1e, 0xf0, 0x00,
        0xfc, 0xfd, 0xf8, 0xf8, 0x00, 0x00, 0x0f, 0x03,
    ];

    #[test]
    fn parses_x265_sps_and_ids() {
        let info = parse_sps(SPS).unwrap();
        assert_eq!(
            info,
            SpsInfo {
                profile: 1,
                level: 30,
                width: 64,
                height: 64
            }
        );
        assert_eq!(parameter_set_id(VPS), Some(0));
        assert_eq!(parameter_set_id(SPS), Some(0));
        assert_eq!(parameter_set_id(PPS), Some(0));
        assert_eq!(parameter_set_id(&[0x26, 0x01, 0xaf]), None);
        assert_eq!(parameter_set_id(&[0x42]), None);
        // pps_pic_parameter_set_id 5 (ue: 00110), sps id 0.
        assert_eq!(parameter_set_id(&[0x44, 0x01, 0b0011_0100]), Some(5));
    }

    #[test]
    fn hvcc_matches_ffmpeg_and_round_trips() {
        let (vps, sps, pps) = (
            vec![Bytes::from_static(VPS)],
            vec![Bytes::from_static(SPS)],
            vec![Bytes::from_static(PPS)],
        );
        let rec = build_hvcc(&vps, &sps, &pps).unwrap();
        // The fixed part is what ffmpeg writes.
        assert_eq!(&rec[..23], FFMPEG_HVCC);
        // Then the arrays: VPS, SPS, PPS (array_completeness 0, where ffmpeg's MP4 muxer writes 1
        // for hvc1).
        let mut want = FFMPEG_HVCC.to_vec();
        for (ty, nal) in [(NAL_VPS, VPS), (NAL_SPS, SPS), (NAL_PPS, PPS)] {
            want.extend_from_slice(&[ty, 0, 1]);
            want.extend_from_slice(&(nal.len() as u16).to_be_bytes());
            want.extend_from_slice(nal);
        }
        assert_eq!(&rec[..], &want[..]);
        let parsed = parse_hvcc(&rec).unwrap();
        assert_eq!(
            parsed,
            HvccRecord {
                vps,
                sps,
                pps,
                nal_length_size: 4
            }
        );
    }

    #[test]
    fn config_from_parameter_sets_equals_config_from_its_record() {
        let cfg = crate::H265Config::from_parameter_sets(
            vec![Bytes::from_static(VPS)],
            vec![Bytes::from_static(SPS)],
            vec![Bytes::from_static(PPS)],
        )
        .unwrap();
        assert_eq!(
            (cfg.profile, cfg.level, cfg.width, cfg.height),
            (1, 30, 64, 64)
        );
        assert_eq!(crate::H265Config::from_hvcc(cfg.hvcc.clone()).unwrap(), cfg);
        assert!(crate::H265Config::from_parameter_sets(vec![], vec![], vec![]).is_err());
    }

    #[test]
    fn hvcc_needs_a_valid_sps() {
        assert!(build_hvcc(&[], &[], &[]).is_err());
        assert!(build_hvcc(&[], &[Bytes::from_static(&SPS[..10])], &[]).is_err());
        assert!(build_hvcc(&[], &[Bytes::from_static(PPS)], &[]).is_err());
        // Without VPS and PPS: one array.
        let rec = build_hvcc(&[], &[Bytes::from_static(SPS)], &[]).unwrap();
        assert_eq!(rec[22], 1);
        assert_eq!(parse_hvcc(&rec).unwrap().sps.len(), 1);
    }

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
