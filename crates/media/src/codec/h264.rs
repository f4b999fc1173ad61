//! H.264 / AVC (ISO/IEC 14496-10): SPS parsing and the AVCDecoderConfigurationRecord.

use bytes::{BufMut, Bytes, BytesMut};

use super::CodecError;
use super::bits::{BitReader, rbsp};

/// NAL unit type: coded slice of an IDR picture.
pub const NAL_IDR: u8 = 5;
/// NAL unit type: supplemental enhancement information.
pub const NAL_SEI: u8 = 6;
/// NAL unit type: sequence parameter set.
pub const NAL_SPS: u8 = 7;
/// NAL unit type: picture parameter set.
pub const NAL_PPS: u8 = 8;
/// NAL unit type: access unit delimiter.
pub const NAL_AUD: u8 = 9;

/// The NAL unit type of an H.264 NAL unit (first byte, low 5 bits).
pub fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| b & 0x1f)
}

/// Fields of an SPS that Weir needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpsInfo {
    /// profile_idc.
    pub profile: u8,
    /// constraint_set flags.
    pub compat: u8,
    /// level_idc.
    pub level: u8,
    /// Width after cropping.
    pub width: u32,
    /// Height after cropping.
    pub height: u32,
}

/// Parses an SPS NAL unit (with its one-byte header).
pub fn parse_sps(nal: &[u8]) -> Result<SpsInfo, CodecError> {
    if nal_type(nal) != NAL_SPS {
        return Err(CodecError::Invalid("not an H.264 SPS"));
    }
    let data = rbsp(nal.get(1..).unwrap_or_default());
    let mut r = BitReader::new(&data);
    let profile = r.bits(8)? as u8;
    let compat = r.bits(8)? as u8;
    let level = r.bits(8)? as u8;
    r.ue()?; // seq_parameter_set_id
    let mut chroma_format_idc = 1;
    if matches!(
        profile,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format_idc = r.ue()?;
        if chroma_format_idc == 3 {
            r.bit()?; // separate_colour_plane_flag
        }
        r.ue()?; // bit_depth_luma_minus8
        r.ue()?; // bit_depth_chroma_minus8
        r.bit()?; // qpprime_y_zero_transform_bypass_flag
        if r.bit()? {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.bit()? {
                    skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        0 => {
            r.ue()?; // log2_max_pic_order_cnt_lsb_minus4
        }
        1 => {
            r.bit()?;
            r.se()?;
            r.se()?;
            let n = r.ue()?;
            if n > 255 {
                return Err(CodecError::Invalid(
                    "num_ref_frames_in_pic_order_cnt_cycle > 255",
                ));
            }
            for _ in 0..n {
                r.se()?;
            }
        }
        _ => {}
    }
    r.ue()?; // max_num_ref_frames
    r.bit()?; // gaps_in_frame_num_value_allowed_flag
    let w_mbs = r.ue()? as u64 + 1;
    let h_map = r.ue()? as u64 + 1;
    let frame_mbs_only = r.bit()? as u64;
    if frame_mbs_only == 0 {
        r.bit()?; // mb_adaptive_frame_field_flag
    }
    r.bit()?; // direct_8x8_inference_flag
    let (mut cl, mut cr, mut ct, mut cb) = (0u64, 0u64, 0u64, 0u64);
    if r.bit()? {
        cl = r.ue()? as u64;
        cr = r.ue()? as u64;
        ct = r.ue()? as u64;
        cb = r.ue()? as u64;
    }
    let (sub_w, sub_h) = match chroma_format_idc {
        0 => (1, 1),
        1 => (2, 2),
        2 => (2, 1),
        _ => (1, 1),
    };
    let crop_x = sub_w;
    let crop_y = sub_h * (2 - frame_mbs_only);
    let width = (w_mbs * 16).checked_sub(crop_x * (cl + cr));
    let height = ((2 - frame_mbs_only) * h_map * 16).checked_sub(crop_y * (ct + cb));
    match (width, height) {
        (Some(w), Some(h)) if w > 0 && h > 0 && w <= 16384 && h <= 16384 => Ok(SpsInfo {
            profile,
            compat,
            level,
            width: w as u32,
            height: h as u32,
        }),
        _ => Err(CodecError::Invalid("H.264 SPS picture size out of range")),
    }
}

fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Result<(), CodecError> {
    let (mut last, mut next) = (8i64, 8i64);
    for _ in 0..size {
        if next != 0 {
            // delta_scale is -128..=127 in a valid stream; a hostile one may say anything.
            let delta = r.se()? as i64;
            next = (last + delta).rem_euclid(256);
        }
        last = if next == 0 { last } else { next };
    }
    Ok(())
}

/// Parses an AVCDecoderConfigurationRecord into (SPS list, PPS list, NAL length size).
pub fn parse_avcc(rec: &[u8]) -> Result<(Vec<Bytes>, Vec<Bytes>, usize), CodecError> {
    let t = CodecError::Truncated("AVCDecoderConfigurationRecord");
    if rec.len() < 6 {
        return Err(t);
    }
    if rec[0] != 1 {
        return Err(CodecError::Invalid(
            "AVCDecoderConfigurationRecord version is not 1",
        ));
    }
    let nal_len = (rec[4] & 3) as usize + 1;
    let mut pos = 5;
    let read_sets = |count: usize, pos: &mut usize| -> Result<Vec<Bytes>, CodecError> {
        let mut v = Vec::with_capacity(count);
        for _ in 0..count {
            let len_bytes = rec.get(*pos..*pos + 2).ok_or(t.clone())?;
            let len = u16::from_be_bytes([len_bytes[0], len_bytes[1]]) as usize;
            let nal = rec.get(*pos + 2..*pos + 2 + len).ok_or(t.clone())?;
            v.push(Bytes::copy_from_slice(nal));
            *pos += 2 + len;
        }
        Ok(v)
    };
    let n_sps = (rec[5] & 0x1f) as usize;
    pos += 1;
    let sps = read_sets(n_sps, &mut pos)?;
    let n_pps = *rec
        .get(pos)
        .ok_or(CodecError::Truncated("AVCDecoderConfigurationRecord"))? as usize;
    pos += 1;
    let pps = read_sets(n_pps, &mut pos)?;
    Ok((sps, pps, nal_len))
}

/// Builds an AVCDecoderConfigurationRecord with 4-byte NAL lengths.
pub fn build_avcc(sps: &[Bytes], pps: &[Bytes]) -> Result<Bytes, CodecError> {
    let first = sps
        .first()
        .ok_or(CodecError::Invalid("AVC configuration without SPS"))?;
    if first.len() < 4 || sps.len() > 31 || pps.len() > 255 {
        return Err(CodecError::Invalid("AVC parameter sets out of range"));
    }
    let mut b = BytesMut::new();
    b.put_u8(1);
    b.put_slice(&first[1..4]);
    b.put_u8(0xff); // 6 reserved bits + lengthSizeMinusOne = 3
    b.put_u8(0xe0 | sps.len() as u8);
    for s in sps {
        b.put_u16(s.len() as u16);
        b.put_slice(s);
    }
    b.put_u8(pps.len() as u8);
    for p in pps {
        b.put_u16(p.len() as u16);
        b.put_slice(p);
    }
    Ok(b.freeze())
}

/// The id of an SPS (seq_parameter_set_id) or PPS (pic_parameter_set_id); `None` for other NAL
/// units or when the unit is too short.
pub fn parameter_set_id(nal: &[u8]) -> Option<u32> {
    let body = nal.get(1..)?;
    let data = rbsp(body.get(..body.len().min(16))?);
    let mut r = BitReader::new(&data);
    match nal_type(nal) {
        NAL_SPS => {
            r.skip(24).ok()?; // profile_idc, constraint flags, level_idc
            r.ue().ok()
        }
        NAL_PPS => r.ue().ok(),
        _ => None,
    }
}

/// True when a length-prefixed access unit contains an IDR slice.
pub fn is_keyframe(au: &[u8]) -> bool {
    super::nal::iter_length_prefixed(au, 4).any(|n| matches!(n, Ok(n) if nal_type(n) == NAL_IDR))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPS of x264, High profile level 3.1, 1280x720 (`ffmpeg -f lavfi -i testsrc2=s=1280x720`).
    pub const SPS_720P: &[u8] = &[
        0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10, 0x00, 0x00, 0x03,
        0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x83, 0x19, 0x60,
    ];

    #[test]
    fn parses_720p_sps() {
        let info = parse_sps(SPS_720P).unwrap();
        assert_eq!((info.width, info.height), (1280, 720));
        assert_eq!((info.profile, info.level), (100, 31));
    }

    #[test]
    fn parameter_set_ids() {
        assert_eq!(parameter_set_id(SPS_720P), Some(0));
        assert_eq!(parameter_set_id(&[0x68, 0xeb, 0xe3, 0xcb]), Some(0));
        // pic_parameter_set_id 3 (ue: 00100), seq_parameter_set_id 0.
        assert_eq!(parameter_set_id(&[0x68, 0b0010_0110]), Some(3));
        assert_eq!(parameter_set_id(&[0x67, 0x64, 0x00]), None);
        assert_eq!(parameter_set_id(&[0x65, 0x88]), None);
        assert_eq!(parameter_set_id(&[]), None);
    }

    #[test]
    fn avcc_round_trip() {
        let sps = vec![Bytes::from_static(SPS_720P)];
        let pps = vec![Bytes::from_static(&[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0])];
        let rec = build_avcc(&sps, &pps).unwrap();
        let (s, p, n) = parse_avcc(&rec).unwrap();
        assert_eq!((s, p, n), (sps, pps, 4));
    }

    /// Found by the `flv_tag` fuzz target: a scaling-list delta near `i32::MAX` overflowed.
    #[test]
    fn hostile_scaling_list_does_not_overflow() {
        let sps = [
            0x67, 0x64, 0x00, 0x2d, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0xff, 0xff,
            0xff, 0xdd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0x80, 0x03, 0xf8, 0xff, 0xff, 0x2f,
        ];
        let _ = parse_sps(&sps);
    }

    #[test]
    fn truncated_inputs_are_errors() {
        assert!(parse_sps(&SPS_720P[..6]).is_err());
        assert!(parse_avcc(&[1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 30, 0x67]).is_err());
    }
}
