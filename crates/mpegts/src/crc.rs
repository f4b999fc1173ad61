//! CRC-32/MPEG-2, the checksum of PSI sections (ISO/IEC 13818-1 Annex A).
//!
//! Polynomial 0x04C11DB7, initial value 0xFFFFFFFF, no input or output reflection, no final XOR.

const POLY: u32 = 0x04C1_1DB7;

const fn make_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u32) << 24;
        let mut k = 0;
        while k < 8 {
            c = if c & 0x8000_0000 != 0 {
                (c << 1) ^ POLY
            } else {
                c << 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static TABLE: [u32; 256] = make_table();

/// Computes the CRC-32/MPEG-2 of `data`.
///
/// A PSI section followed by its own CRC (big-endian) checks to zero.
pub fn crc32_mpeg2(data: &[u8]) -> u32 {
    data.iter().fold(0xFFFF_FFFF, |crc, &b| {
        let idx = ((crc >> 24) as u8 ^ b) as usize;
        (crc << 8) ^ TABLE[idx]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value() {
        // The catalogued check value of CRC-32/MPEG-2.
        assert_eq!(crc32_mpeg2(b"123456789"), 0x0376_E6E7);
        assert_eq!(crc32_mpeg2(b""), 0xFFFF_FFFF);
    }

    #[test]
    fn data_followed_by_crc_checks_to_zero() {
        let mut data = b"weir section".to_vec();
        let crc = crc32_mpeg2(&data);
        data.extend_from_slice(&crc.to_be_bytes());
        assert_eq!(crc32_mpeg2(&data), 0);
    }
}
