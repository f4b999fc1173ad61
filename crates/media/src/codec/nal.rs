//! NAL unit framing: 4-byte length prefixes (Weir's canonical form) and Annex B start codes.

use bytes::{BufMut, Bytes, BytesMut};

use super::CodecError;

/// Iterates the NAL units of a length-prefixed access unit with `len_size`-byte lengths.
pub fn iter_length_prefixed(
    data: &[u8],
    len_size: usize,
) -> impl Iterator<Item = Result<&[u8], CodecError>> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        if rest.len() < len_size || !(1..=4).contains(&len_size) {
            rest = &[];
            return Some(Err(CodecError::Truncated("NAL unit length")));
        }
        let mut len = 0usize;
        for &b in &rest[..len_size] {
            len = (len << 8) | b as usize;
        }
        let body = &rest[len_size..];
        if body.len() < len {
            rest = &[];
            return Some(Err(CodecError::Truncated("NAL unit")));
        }
        let (nal, tail) = body.split_at(len);
        rest = tail;
        Some(Ok(nal))
    })
}

/// Splits an Annex B byte stream (`00 00 01` / `00 00 00 01` start codes) into NAL units.
/// Trailing zero bytes of each unit are trimmed.
pub fn split_annexb(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut start: Option<usize> = None;
    while i + 2 < data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            if let Some(s) = start {
                push_trimmed(&mut out, &data[s..i]);
            }
            i += 3;
            start = Some(i);
        } else {
            i += 1;
        }
    }
    if let Some(s) = start {
        push_trimmed(&mut out, &data[s..]);
    }
    out
}

fn push_trimmed<'a>(out: &mut Vec<&'a [u8]>, nal: &'a [u8]) {
    let end = nal.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    if end > 0 {
        out.push(&nal[..end]);
    }
}

/// Converts Annex B NAL units into Weir's 4-byte length-prefixed form.
pub fn annexb_to_length_prefixed(data: &[u8]) -> Bytes {
    let nals = split_annexb(data);
    let mut out = BytesMut::with_capacity(data.len() + nals.len() * 4);
    for nal in nals {
        out.put_u32(nal.len() as u32);
        out.put_slice(nal);
    }
    out.freeze()
}

/// Appends `nals` to `out` as an Annex B byte stream with 4-byte start codes.
pub fn write_annexb<'a>(out: &mut Vec<u8>, nals: impl IntoIterator<Item = &'a [u8]>) {
    for nal in nals {
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(nal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annexb_round_trip() {
        let annexb = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4, 5, 0,
        ];
        let nals = split_annexb(&annexb);
        assert_eq!(
            nals,
            vec![&[0x67, 1, 2][..], &[0x68, 3][..], &[0x65, 4, 5][..]]
        );
        let lp = annexb_to_length_prefixed(&annexb);
        let back: Vec<&[u8]> = iter_length_prefixed(&lp, 4).map(|r| r.unwrap()).collect();
        assert_eq!(back, nals);
    }

    #[test]
    fn truncated_length_prefixed_is_an_error() {
        let v: Vec<_> = iter_length_prefixed(&[0, 0, 0, 9, 1, 2], 4).collect();
        assert_eq!(v, vec![Err(CodecError::Truncated("NAL unit"))]);
        let v: Vec<_> = iter_length_prefixed(&[0, 0], 4).collect();
        assert_eq!(v.len(), 1);
        assert!(v[0].is_err());
    }
}
