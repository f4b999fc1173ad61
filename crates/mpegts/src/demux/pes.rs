//! PES packet headers (ISO/IEC 13818-1 2.4.3.6).

/// The parts of a PES packet the demuxer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PesHeader {
    /// 33-bit PTS, if present.
    pub(super) pts: Option<u64>,
    /// 33-bit DTS, if present (only together with a PTS).
    pub(super) dts: Option<u64>,
    /// Offset of the elementary stream data.
    pub(super) payload_start: usize,
}

/// The total size (6-byte prefix included) of a PES packet whose PES_packet_length is not zero,
/// once its first 6 bytes are known.
pub(super) fn declared_size(data: &[u8]) -> Option<usize> {
    let len = u16::from_be_bytes([*data.get(4)?, *data.get(5)?]);
    (len != 0).then_some(6 + usize::from(len))
}

/// Why a PES packet was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PesError {
    /// No start code prefix, a header longer than the packet, or MPEG-1 syntax.
    Malformed,
}

/// Parses the header of a complete PES packet. `Ok(None)` for streams without elementary stream
/// data to decode (padding and the other stream ids without the optional header).
pub(super) fn parse_header(data: &[u8]) -> Result<Option<PesHeader>, PesError> {
    let prefix = data.get(..6).ok_or(PesError::Malformed)?;
    if prefix[..3] != [0, 0, 1] {
        return Err(PesError::Malformed);
    }
    // program_stream_map, padding_stream, private_stream_2, ECM, EMM, DSMCC, H.222.1 type E,
    // program_stream_directory: no optional PES header.
    if matches!(
        prefix[3],
        0xBC | 0xBE | 0xBF | 0xF0 | 0xF1 | 0xF2 | 0xF8 | 0xFF
    ) {
        return Ok(None);
    }
    let opt = data.get(6..9).ok_or(PesError::Malformed)?;
    if opt[0] & 0xC0 != 0x80 {
        return Err(PesError::Malformed);
    }
    let header_len = usize::from(opt[2]);
    let payload_start = 9 + header_len;
    let fields = data.get(9..payload_start).ok_or(PesError::Malformed)?;
    let (pts, dts) = match opt[1] >> 6 {
        2 => (fields.get(..5).map(timestamp), None),
        3 => (
            fields.get(..5).map(timestamp),
            fields.get(5..10).map(timestamp),
        ),
        // 1 is forbidden; 0 means no timestamps.
        _ => (None, None),
    };
    if pts.is_none() && opt[1] >> 7 == 1 {
        // PTS_DTS_flags says a PTS is there but the header is too short for it.
        return Err(PesError::Malformed);
    }
    Ok(Some(PesHeader {
        pts,
        dts: if pts.is_some() { dts } else { None },
        payload_start,
    }))
}

/// Reads a 33-bit timestamp from its 5-byte field (marker bits are not checked).
fn timestamp(b: &[u8]) -> u64 {
    let b = |i: usize| u64::from(b.get(i).copied().unwrap_or(0));
    ((b(0) >> 1) & 0x07) << 30 | b(1) << 22 | (b(2) >> 1) << 15 | b(3) << 7 | b(4) >> 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        // PTS 0x1_2345_6789 and DTS 1.
        let pts: u64 = 0x1_2345_6789;
        let enc = |prefix: u8, t: u64| {
            [
                (prefix << 4) | (((t >> 30) as u8 & 7) << 1) | 1,
                (t >> 22) as u8,
                (((t >> 15) as u8 & 0x7F) << 1) | 1,
                (t >> 7) as u8,
                ((t as u8 & 0x7F) << 1) | 1,
            ]
        };
        let mut p = vec![0, 0, 1, 0xE0, 0, 0, 0x80, 0xC0, 10];
        p.extend_from_slice(&enc(3, pts));
        p.extend_from_slice(&enc(1, 1));
        p.extend_from_slice(&[9, 9]);
        let h = parse_header(&p).unwrap().unwrap();
        assert_eq!((h.pts, h.dts, h.payload_start), (Some(pts), Some(1), 19));
        assert_eq!(declared_size(&p), None);
        p[5] = 20;
        assert_eq!(declared_size(&p), Some(26));
        // Header length past the end; no start code; MPEG-1 syntax; padding stream.
        assert!(parse_header(&p[..15]).is_err());
        assert!(parse_header(&[0, 0, 2, 0xE0, 0, 0, 0x80, 0, 0]).is_err());
        assert!(parse_header(&[0, 0, 1, 0xE0, 0, 0, 0x0F, 0, 0]).is_err());
        assert_eq!(parse_header(&[0, 0, 1, 0xBE, 0, 2, 0xFF, 0xFF]), Ok(None));
        // No timestamps.
        let h = parse_header(&[0, 0, 1, 0xC0, 0, 0, 0x80, 0x00, 0, 1])
            .unwrap()
            .unwrap();
        assert_eq!((h.pts, h.dts, h.payload_start), (None, None, 9));
        // PTS flag with a header too short for it.
        assert!(parse_header(&[0, 0, 1, 0xC0, 0, 0, 0x80, 0x80, 2, 0x21, 0]).is_err());
    }
}
