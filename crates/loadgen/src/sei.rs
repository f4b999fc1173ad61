//! The latency stamp: an H.264 SEI `user_data_unregistered` NAL unit carrying the wall-clock
//! time at which the publisher handed the access unit to its socket.
//!
//! The NAL unit (36 bytes, behind a 4-byte length prefix) is
//!
//! ```text
//! 06                      nal_unit_type 6 (SEI), nal_ref_idc 0
//! 05                      payload_type 5: user_data_unregistered
//! 20                      payload_size 32
//! STAMP_UUID              16 bytes, uuid_iso_iec_11578
//! 16 ASCII hex digits     the send time in Unix microseconds, lower case, zero-padded
//! 80                      rbsp_trailing_bits
//! ```
//!
//! Hex digits are 0x30..=0x39 and 0x61..=0x66 and the UUID has no zero byte, so the NAL unit
//! never needs emulation prevention: it survives any server that forwards NAL units unchanged,
//! and a player can read it back without trusting the server's timestamps. The publisher
//! inserts it as the first NAL unit of every access unit, after an access unit delimiter if
//! there is one.
//!
//! Everything here works on 4-byte length-prefixed NAL units (the FLV/RTMP form) and never
//! panics on malformed input; reading allocates nothing.

use std::time::{SystemTime, UNIX_EPOCH};

/// The UUID that marks a `weir-loadgen` latency stamp: the fixed, randomly chosen version-4 UUID
/// `3f5c9a1e-8b2d-4e71-a6c4-d2e9b0f7513a` (no zero byte, so no emulation prevention).
pub const STAMP_UUID: [u8; 16] = [
    0x3f, 0x5c, 0x9a, 0x1e, 0x8b, 0x2d, 0x4e, 0x71, 0xa6, 0xc4, 0xd2, 0xe9, 0xb0, 0xf7, 0x51, 0x3a,
];

/// Hex digits of the time.
pub const STAMP_DIGITS: usize = 16;
/// SEI payload size: UUID + digits.
const PAYLOAD_SIZE: usize = 16 + STAMP_DIGITS;
/// The SEI NAL unit's length (without its length prefix).
pub const STAMP_NAL_LEN: usize = 3 + PAYLOAD_SIZE + 1;
/// H.264 NAL unit types.
const NAL_SEI: u8 = 6;
const NAL_AUD: u8 = 9;
/// SEI payload type `user_data_unregistered`.
const PAYLOAD_USER_DATA_UNREGISTERED: u32 = 5;
/// FLV legacy video header: codec id 7 (AVC), AVC packet type 1 (NAL units).
const CODEC_AVC: u8 = 7;
const AVC_NALU: u8 = 1;
/// FLV AVC video header: frame type/codec, packet type, composition time (3 bytes).
const AVC_HEADER_LEN: usize = 5;

/// The current wall-clock time in Unix microseconds (0 before 1970).
pub fn now_unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Writes `us` as [`STAMP_DIGITS`] lower-case hex digits.
fn write_hex(out: &mut [u8], us: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, d) in out.iter_mut().take(STAMP_DIGITS).enumerate() {
        *d = HEX[((us >> (4 * (STAMP_DIGITS - 1 - i))) & 0xf) as usize];
    }
}

/// Appends the stamp NAL unit with its 4-byte length prefix.
pub fn write_stamp_nal(out: &mut Vec<u8>, us: u64) {
    out.extend_from_slice(&(STAMP_NAL_LEN as u32).to_be_bytes());
    out.extend_from_slice(&[
        NAL_SEI,
        PAYLOAD_USER_DATA_UNREGISTERED as u8,
        PAYLOAD_SIZE as u8,
    ]);
    out.extend_from_slice(&STAMP_UUID);
    let at = out.len();
    out.resize(at + STAMP_DIGITS, b'0');
    write_hex(&mut out[at..], us);
    out.push(0x80);
}

/// If `body` is an FLV/RTMP video body with H.264 NAL units (legacy codec id 7, packet type 1),
/// writes it to `out` (cleared first) with a stamp of time `us` inserted as the first NAL unit
/// (after an access unit delimiter) and returns true. Otherwise (sequence header, HEVC,
/// Enhanced RTMP, truncated) leaves `out` empty and returns false: send `body` unchanged.
pub fn stamp_flv_video(body: &[u8], us: u64, out: &mut Vec<u8>) -> bool {
    out.clear();
    let &[b0, packet_type, ..] = body else {
        return false;
    };
    if b0 & 0x80 != 0 || b0 & 0x0f != CODEC_AVC || packet_type != AVC_NALU {
        return false;
    }
    let Some(nals) = body.get(AVC_HEADER_LEN..) else {
        return false;
    };
    // After an AUD that is the first NAL unit, else at the front.
    let mut split = 0;
    if let Some(first) = length_prefixed(nals).next()
        && first.first().is_some_and(|h| h & 0x1f == NAL_AUD)
    {
        split = 4 + first.len();
    }
    out.reserve(body.len() + 4 + STAMP_NAL_LEN);
    out.extend_from_slice(&body[..AVC_HEADER_LEN]);
    out.extend_from_slice(&nals[..split]);
    write_stamp_nal(out, us);
    out.extend_from_slice(&nals[split..]);
    true
}

/// Rewrites the time of the first stamp found in the first `search` bytes of `buf` (for
/// example an RTMP chunk stream about to be written) to `us`; returns whether one was found.
/// This lets the stamp be taken immediately before the bytes go to the socket.
pub fn restamp(buf: &mut [u8], search: usize, us: u64) -> bool {
    let end = buf.len().min(search + STAMP_UUID.len() + STAMP_DIGITS);
    let Some(pos) = buf[..end]
        .windows(STAMP_UUID.len())
        .position(|w| w == STAMP_UUID)
    else {
        return false;
    };
    let at = pos + STAMP_UUID.len();
    match buf.get_mut(at..at + STAMP_DIGITS) {
        Some(d) if d.iter().all(u8::is_ascii_hexdigit) => {
            write_hex(d, us);
            true
        }
        _ => false,
    }
}

/// The NAL units of 4-byte length-prefixed `data`; stops at the first truncated one.
fn length_prefixed(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        let (len, tail) = rest.split_first_chunk::<4>()?;
        let len = u32::from_be_bytes(*len) as usize;
        if tail.len() < len {
            rest = &[];
            return None;
        }
        let (nal, tail) = tail.split_at(len);
        rest = tail;
        Some(nal)
    })
}

/// Reads an SEI `ff ff .. xx` coded value (payload type or size).
fn sei_value(data: &[u8], pos: &mut usize) -> Option<u32> {
    let mut v: u32 = 0;
    loop {
        let b = *data.get(*pos)?;
        *pos += 1;
        v = v.checked_add(b as u32)?;
        if b != 0xff {
            return Some(v);
        }
    }
}

/// The stamp in one SEI NAL unit (header byte included), if it carries one.
pub fn stamp_in_sei(nal: &[u8]) -> Option<u64> {
    if nal.first()? & 0x1f != NAL_SEI {
        return None;
    }
    let mut pos = 1;
    // Several SEI messages may share a NAL unit; stop at the trailing bits.
    while pos < nal.len() && nal[pos] != 0x80 {
        let ptype = sei_value(nal, &mut pos)?;
        let size = sei_value(nal, &mut pos)? as usize;
        let payload = nal.get(pos..pos.checked_add(size)?)?;
        pos += size;
        if ptype != PAYLOAD_USER_DATA_UNREGISTERED {
            continue;
        }
        let Some(digits) = payload.strip_prefix(&STAMP_UUID) else {
            continue;
        };
        return parse_hex(digits);
    }
    None
}

/// 1 to 16 hex digits (either case).
fn parse_hex(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > STAMP_DIGITS {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &c| {
        let d = (c as char).to_digit(16)?;
        Some(acc << 4 | d as u64)
    })
}

/// The stamp in a 4-byte length-prefixed H.264 access unit (the payload of an FLV video
/// frame), if any: the first SEI NAL unit with the stamp UUID.
pub fn find_stamp(au: &[u8]) -> Option<u64> {
    length_prefixed(au).find_map(stamp_in_sei)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nal(bytes: &[u8]) -> Vec<u8> {
        let mut v = (bytes.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(bytes);
        v
    }

    fn flv_body(nals: &[&[u8]]) -> Vec<u8> {
        let mut b = vec![0x27, 1, 0, 0, 0x21];
        for n in nals {
            b.extend(nal(n));
        }
        b
    }

    const US: u64 = 0x0006_1a2b_3c4d_5e6f;

    #[test]
    fn stamp_round_trip() {
        let body = flv_body(&[&[0x41, 1, 2, 3], &[0x41, 4]]);
        let mut out = Vec::new();
        assert!(stamp_flv_video(&body, US, &mut out));
        assert_eq!(out.len(), body.len() + 4 + STAMP_NAL_LEN);
        assert_eq!(&out[..5], &body[..5]);
        // The stamp is the first NAL unit, the rest follows unchanged.
        let nals: Vec<&[u8]> = length_prefixed(&out[5..]).collect();
        assert_eq!(nals.len(), 3);
        assert_eq!(nals[0][..3], [6, 5, 32]);
        assert_eq!(&nals[0][19..35], b"00061a2b3c4d5e6f");
        assert_eq!(nals[0][35], 0x80);
        assert_eq!(&out[5 + 4 + STAMP_NAL_LEN..], &body[5..]);
        assert_eq!(find_stamp(&out[5..]), Some(US));
        // No byte pattern that would need emulation prevention.
        assert!(
            !nals[0]
                .windows(3)
                .any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 3)
        );
    }

    #[test]
    fn stamp_goes_after_an_aud() {
        let body = flv_body(&[&[0x09, 0xf0], &[0x65, 9, 9]]);
        let mut out = Vec::new();
        assert!(stamp_flv_video(&body, 7, &mut out));
        let nals: Vec<&[u8]> = length_prefixed(&out[5..]).collect();
        assert_eq!(nals[0], [0x09, 0xf0]);
        assert_eq!(nals[1][0], 6);
        assert_eq!(nals[2], [0x65, 9, 9]);
        assert_eq!(find_stamp(&out[5..]), Some(7));
    }

    #[test]
    fn only_h264_frames_are_stamped() {
        let mut out = vec![1];
        // Sequence header, HEVC, Enhanced RTMP, too short.
        for body in [
            &[0x17, 0, 0, 0, 0, 1, 2][..],
            &[0x2c, 1, 0, 0, 0, 0, 0, 0, 1, 0x26][..],
            &[0x91, b'a', b'v', b'c', b'1'][..],
            &[0x27][..],
            &[][..],
        ] {
            assert!(!stamp_flv_video(body, 1, &mut out), "{body:?}");
            assert!(out.is_empty());
        }
        // An empty frame still gets a stamp (a valid access unit follows the header).
        assert!(stamp_flv_video(&[0x27, 1, 0, 0, 0], 1, &mut out));
        assert_eq!(find_stamp(&out[5..]), Some(1));
    }

    #[test]
    fn restamp_rewrites_the_digits() {
        let body = flv_body(&[&[0x41, 1]]);
        let mut out = Vec::new();
        assert!(stamp_flv_video(&body, 0, &mut out));
        let mut wire = vec![0xaa; 12];
        wire.extend_from_slice(&out);
        assert!(restamp(&mut wire, 64, US));
        assert_eq!(find_stamp(&wire[12 + 5..]), Some(US));
        assert!(!restamp(&mut wire, 4, US + 1), "beyond the search window");
        assert!(!restamp(&mut [0u8; 3], 64, 1));
    }

    #[test]
    fn no_stamp() {
        assert_eq!(find_stamp(&[]), None);
        assert_eq!(find_stamp(&nal(&[0x65, 1, 2, 3])), None);
        // Another user_data_unregistered (x264's own UUID) and a different payload type.
        let mut sei = vec![6, 5, 18];
        sei.extend_from_slice(&[0xdc; 16]);
        sei.extend_from_slice(b"ab");
        sei.extend_from_slice(&[1, 1, 0x42, 0x80]);
        assert_eq!(find_stamp(&nal(&sei)), None);
        // A stamp after other SEI messages in the same NAL unit is found.
        let mut sei2 = vec![6, 1, 1, 0x42, 5, 20];
        sei2.extend_from_slice(&STAMP_UUID);
        sei2.extend_from_slice(b"FfFf");
        sei2.push(0x80);
        assert_eq!(stamp_in_sei(&sei2), Some(0xffff));
    }

    #[test]
    fn corrupted_or_short_never_panics() {
        let mut good = Vec::new();
        write_stamp_nal(&mut good, US);
        assert_eq!(find_stamp(&good), Some(US));
        // Every truncation, with the length prefix fixed up or not.
        for cut in 0..good.len() {
            let _ = find_stamp(&good[..cut]);
            let n = &good[4..cut.max(4)];
            let _ = find_stamp(&nal(n));
            // Without its trailing bits the stamp still reads; any shorter and it does not.
            if cut < good.len() - 1 {
                assert_eq!(stamp_in_sei(n), None, "cut at {cut}");
            }
        }
        // Every single-byte corruption.
        for i in 0..good.len() {
            for v in [0x00, 0x03, 0x80, 0xff, b'g'] {
                let mut bad = good.clone();
                bad[i] = v;
                let _ = find_stamp(&bad);
                let _ = stamp_in_sei(&bad[4..]);
            }
        }
        // Non-hex digits, no digits, huge sizes.
        let mut sei = vec![6, 5, 18];
        sei.extend_from_slice(&STAMP_UUID);
        sei.extend_from_slice(b"zz");
        assert_eq!(stamp_in_sei(&sei), None);
        let mut sei = vec![6, 5, 16];
        sei.extend_from_slice(&STAMP_UUID);
        assert_eq!(stamp_in_sei(&sei), None);
        assert_eq!(stamp_in_sei(&[6, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(stamp_in_sei(&[6, 5, 0xff, 0xff, 0xff, 0x10, 0]), None);
        assert_eq!(find_stamp(&[0xff, 0xff, 0xff, 0xff, 6]), None);
    }
}
