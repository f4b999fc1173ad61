//! A lenient reader of what an LL-HLS/DASH poller fetches: the track kinds and timescales of an
//! init segment (`moov`), and the samples of media fragments (`moof` + `mdat`, any number of
//! them back to back, as in a CMAF part). Bounds are checked everywhere: bad input is an error,
//! never a panic.

use std::collections::HashMap;

/// A track of the init segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackInfo {
    /// `vide` handler.
    pub video: bool,
    /// `mdhd` timescale.
    pub timescale: u32,
}

/// One sample of a fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample<'a> {
    /// `tfhd` track id.
    pub track_id: u32,
    /// Decode time, in the track's timescale.
    pub dts: u64,
    /// A sync sample.
    pub keyframe: bool,
    /// The sample's bytes.
    pub data: &'a [u8],
}

fn be(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |v, &x| (v << 8) | u64::from(x))
}

/// A box: its type, where it starts in the walked buffer, its body.
type BoxRef<'a> = ([u8; 4], usize, &'a [u8]);

/// The boxes laid end to end in `data`.
fn boxes(data: &[u8]) -> Result<Vec<BoxRef<'_>>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let rest = &data[pos..];
        if rest.len() < 8 {
            return Err("truncated box header".into());
        }
        let mut size = be(&rest[..4]) as usize;
        let typ: [u8; 4] = [rest[4], rest[5], rest[6], rest[7]];
        let mut header = 8;
        if size == 1 {
            size = be(rest.get(8..16).ok_or("truncated largesize")?) as usize;
            header = 16;
        } else if size == 0 {
            size = rest.len();
        }
        if size < header || size > rest.len() {
            return Err(format!(
                "box {} of size {size} with {} bytes left",
                String::from_utf8_lossy(&typ),
                rest.len()
            ));
        }
        out.push((typ, pos, &rest[header..size]));
        pos += size;
    }
    Ok(out)
}

fn child<'a>(body: &'a [u8], typ: &[u8; 4]) -> Result<Option<&'a [u8]>, String> {
    Ok(boxes(body)?
        .into_iter()
        .find(|(t, _, _)| t == typ)
        .map(|(_, _, b)| b))
}

/// Tracks of an init segment, by track id.
pub fn parse_init(data: &[u8]) -> Result<HashMap<u32, TrackInfo>, String> {
    let moov = child(data, b"moov")?.ok_or("no moov")?;
    let mut tracks = HashMap::new();
    for (t, _, trak) in boxes(moov)? {
        if &t != b"trak" {
            continue;
        }
        let tkhd = child(trak, b"tkhd")?.ok_or("no tkhd")?;
        let id_at = if tkhd.first() == Some(&1) { 20 } else { 12 };
        let id = be(tkhd.get(id_at..id_at + 4).ok_or("short tkhd")?) as u32;
        let mdia = child(trak, b"mdia")?.ok_or("no mdia")?;
        let mdhd = child(mdia, b"mdhd")?.ok_or("no mdhd")?;
        let ts_at = if mdhd.first() == Some(&1) { 20 } else { 12 };
        let timescale = be(mdhd.get(ts_at..ts_at + 4).ok_or("short mdhd")?) as u32;
        let hdlr = child(mdia, b"hdlr")?.ok_or("no hdlr")?;
        let video = hdlr.get(8..12) == Some(b"vide");
        tracks.insert(id, TrackInfo { video, timescale });
    }
    Ok(tracks)
}

/// Every sample of every fragment in `data`, in order.
pub fn parse_fragments(data: &[u8]) -> Result<Vec<Sample<'_>>, String> {
    let mut out = Vec::new();
    for (t, moof_start, moof) in boxes(data)? {
        if &t != b"moof" {
            continue;
        }
        for (t, _, traf) in boxes(moof)? {
            if &t != b"traf" {
                continue;
            }
            traf_samples(data, moof_start, traf, &mut out)?;
        }
    }
    Ok(out)
}

fn traf_samples<'a>(
    data: &'a [u8],
    moof_start: usize,
    traf: &[u8],
    out: &mut Vec<Sample<'a>>,
) -> Result<(), String> {
    let tfhd = child(traf, b"tfhd")?.ok_or("no tfhd")?;
    let field = |p: &mut usize, present: bool, n: usize| -> Result<Option<u64>, String> {
        if !present {
            return Ok(None);
        }
        let v = be(tfhd.get(*p..*p + n).ok_or("short tfhd")?);
        *p += n;
        Ok(Some(v))
    };
    let flags = be(tfhd.get(1..4).ok_or("short tfhd")?) as u32;
    let track_id = be(tfhd.get(4..8).ok_or("short tfhd")?) as u32;
    let mut p = 8;
    let base = field(&mut p, flags & 0x01 != 0, 8)?;
    field(&mut p, flags & 0x02 != 0, 4)?;
    let default_duration = field(&mut p, flags & 0x08 != 0, 4)?.unwrap_or(0) as u32;
    let default_size = field(&mut p, flags & 0x10 != 0, 4)?.unwrap_or(0) as u32;
    let default_flags = field(&mut p, flags & 0x20 != 0, 4)?.unwrap_or(0) as u32;
    let base = base.map_or(moof_start, |b| b as usize);
    let mut dts = match child(traf, b"tfdt")? {
        Some(t) if t.first() == Some(&1) => be(t.get(4..12).ok_or("short tfdt")?),
        Some(t) => be(t.get(4..8).ok_or("short tfdt")?),
        None => 0,
    };
    for (t, _, trun) in boxes(traf)? {
        if &t != b"trun" {
            continue;
        }
        let rd = |p: &mut usize| -> Result<u32, String> {
            let v = be(trun.get(*p..*p + 4).ok_or("short trun")?) as u32;
            *p += 4;
            Ok(v)
        };
        let tflags = be(trun.get(1..4).ok_or("short trun")?) as u32;
        let count = be(trun.get(4..8).ok_or("short trun")?) as usize;
        // A sample takes at least a byte of data or of trun fields: more is garbage.
        if count > data.len() + trun.len() {
            return Err(format!("trun of {count} samples in {} bytes", data.len()));
        }
        let mut p = 8;
        let offset = if tflags & 0x01 != 0 {
            rd(&mut p)? as i32 as i64
        } else {
            0
        };
        let first_flags = if tflags & 0x04 != 0 {
            Some(rd(&mut p)?)
        } else {
            None
        };
        let mut at = (base as i64 + offset).max(0) as usize;
        for i in 0..count {
            let duration = if tflags & 0x100 != 0 {
                rd(&mut p)?
            } else {
                default_duration
            };
            let size = if tflags & 0x200 != 0 {
                rd(&mut p)?
            } else {
                default_size
            } as usize;
            let sflags = if tflags & 0x400 != 0 {
                rd(&mut p)?
            } else if i == 0 {
                first_flags.unwrap_or(default_flags)
            } else {
                default_flags
            };
            if tflags & 0x800 != 0 {
                rd(&mut p)?;
            }
            let sample = data.get(at..at + size).ok_or("sample outside the data")?;
            out.push(Sample {
                track_id,
                dts,
                keyframe: sflags & 0x0001_0000 == 0,
                data: sample,
            });
            at += size;
            dts += u64::from(duration);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx(typ: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(typ);
        v.extend_from_slice(body);
        v
    }

    /// moof (one traf: track 1, tfdt 9000, trun with 2 samples of 3 and 2 bytes, durations
    /// 3000, the second non-sync) + mdat.
    fn fragment() -> Vec<u8> {
        let tfhd = bx(b"tfhd", &[0, 0x02, 0, 0, 0, 0, 0, 1]);
        let tfdt = bx(b"tfdt", &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x23, 0x28]);
        let mut trun = vec![0, 0, 0x07, 0x01, 0, 0, 0, 2];
        trun.extend_from_slice(&[0; 4]); // data_offset, patched below
        for (dur, size, flags) in [(3000u32, 3u32, 0u32), (3000, 2, 0x0001_0000)] {
            trun.extend_from_slice(&dur.to_be_bytes());
            trun.extend_from_slice(&size.to_be_bytes());
            trun.extend_from_slice(&flags.to_be_bytes());
        }
        let traf = |trun: &[u8]| {
            bx(
                b"traf",
                &[tfhd.clone(), tfdt.clone(), bx(b"trun", trun)].concat(),
            )
        };
        let moof_len = bx(b"moof", &traf(&trun)).len();
        trun[8..12].copy_from_slice(&((moof_len + 8) as u32).to_be_bytes());
        let mut v = bx(b"moof", &traf(&trun));
        v.extend(bx(b"mdat", &[1, 2, 3, 4, 5]));
        v
    }

    #[test]
    fn samples_of_a_fragment() {
        let f = fragment();
        let s = parse_fragments(&f).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].track_id, s[0].dts, s[0].keyframe, s[0].data),
            (1, 9000, true, &[1, 2, 3][..])
        );
        assert_eq!(
            (s[1].dts, s[1].keyframe, s[1].data),
            (12000, false, &[4, 5][..])
        );
        // Two fragments back to back, as in a part.
        let two = [f.clone(), f.clone()].concat();
        assert_eq!(parse_fragments(&two).unwrap().len(), 4);
    }

    #[test]
    fn cut_or_garbled_input_is_an_error_not_a_panic() {
        let f = fragment();
        for cut in 0..f.len() {
            let _ = parse_fragments(&f[..cut]);
            let _ = parse_init(&f[..cut]);
        }
        let mut x = 0x1234_5678u32;
        for _ in 0..2000 {
            let mut g = f.clone();
            for _ in 0..4 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let i = x as usize % g.len();
                g[i] = (x >> 8) as u8;
            }
            let _ = parse_fragments(&g);
        }
    }
}
