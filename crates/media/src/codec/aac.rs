//! AAC (ISO/IEC 14496-3): AudioSpecificConfig and ADTS headers.

use bytes::Bytes;

use super::CodecError;
use super::bits::BitReader;

/// Sample rates by sampling frequency index.
pub const SAMPLE_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// Fields of an AudioSpecificConfig.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asc {
    /// Audio object type.
    pub object_type: u8,
    /// Sampling frequency index (15 = explicit).
    pub sampling_index: u8,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channel configuration.
    pub channels: u8,
}

/// Parses an AudioSpecificConfig.
pub fn parse_asc(asc: &[u8]) -> Result<Asc, CodecError> {
    let mut r = BitReader::new(asc);
    let mut object_type = r.bits(5)? as u8;
    if object_type == 31 {
        object_type = 32 + r.bits(6)? as u8;
    }
    if object_type == 0 {
        return Err(CodecError::Invalid("AAC object type 0"));
    }
    let sampling_index = r.bits(4)? as u8;
    let sample_rate = match sampling_index {
        15 => r.bits(24)?,
        i => *SAMPLE_RATES
            .get(i as usize)
            .ok_or(CodecError::Invalid("reserved AAC sampling index"))?,
    };
    let channels = r.bits(4)? as u8;
    Ok(Asc {
        object_type,
        sampling_index,
        sample_rate,
        channels,
    })
}

/// Builds a two-byte AudioSpecificConfig.
pub fn build_asc(object_type: u8, sampling_index: u8, channels: u8) -> Result<Bytes, CodecError> {
    if object_type == 0 || object_type > 30 || sampling_index > 12 || channels > 15 {
        return Err(CodecError::Invalid("AAC configuration fields out of range"));
    }
    let v: u16 = (object_type as u16) << 11 | (sampling_index as u16) << 7 | (channels as u16) << 3;
    Ok(Bytes::copy_from_slice(&v.to_be_bytes()))
}

/// The 7-byte ADTS header (no CRC) for a raw AAC frame of `payload_len` bytes.
pub fn adts_header(
    object_type: u8,
    sampling_index: u8,
    channels: u8,
    payload_len: usize,
) -> [u8; 7] {
    let len = (payload_len + 7).min(0x1fff) as u32;
    let profile = object_type.saturating_sub(1) & 3;
    [
        0xff,
        0xf1,
        (profile << 6) | ((sampling_index & 0xf) << 2) | ((channels >> 2) & 1),
        ((channels & 3) << 6) | ((len >> 11) as u8 & 3),
        (len >> 3) as u8,
        (((len & 7) as u8) << 5) | 0x1f,
        0xfc,
    ]
}

/// A parsed ADTS header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Adts {
    /// Audio object type (profile + 1).
    pub object_type: u8,
    /// Sampling frequency index.
    pub sampling_index: u8,
    /// Channel configuration.
    pub channels: u8,
    /// Header length (7, or 9 with CRC).
    pub header_len: usize,
    /// Whole frame length including the header.
    pub frame_len: usize,
}

/// Parses the ADTS header at the start of `data`.
pub fn parse_adts(data: &[u8]) -> Result<Adts, CodecError> {
    if data.len() < 7 {
        return Err(CodecError::Truncated("ADTS header"));
    }
    if data[0] != 0xff || data[1] & 0xf0 != 0xf0 {
        return Err(CodecError::Invalid("ADTS sync word missing"));
    }
    let header_len = if data[1] & 1 == 1 { 7 } else { 9 };
    let frame_len =
        ((data[3] as usize & 3) << 11) | ((data[4] as usize) << 3) | (data[5] as usize >> 5);
    if frame_len < header_len {
        return Err(CodecError::Invalid("ADTS frame shorter than its header"));
    }
    Ok(Adts {
        object_type: (data[2] >> 6) + 1,
        sampling_index: (data[2] >> 2) & 0xf,
        channels: ((data[2] & 1) << 2) | (data[3] >> 6),
        header_len,
        frame_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asc_lc_44100_stereo() {
        let asc = parse_asc(&[0x12, 0x10]).unwrap();
        assert_eq!(
            asc,
            Asc {
                object_type: 2,
                sampling_index: 4,
                sample_rate: 44100,
                channels: 2
            }
        );
        assert_eq!(&build_asc(2, 4, 2).unwrap()[..], &[0x12, 0x10]);
    }

    #[test]
    fn adts_round_trip() {
        let h = adts_header(2, 3, 2, 300);
        let p = parse_adts(&h).unwrap();
        assert_eq!(
            (
                p.object_type,
                p.sampling_index,
                p.channels,
                p.header_len,
                p.frame_len
            ),
            (2, 3, 2, 7, 307)
        );
    }

    #[test]
    fn bad_asc_rejected() {
        assert!(parse_asc(&[0x00, 0x00]).is_err());
        assert!(parse_asc(&[0x16]).is_err());
    }
}
