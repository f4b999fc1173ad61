//! A tiny, strict ISOBMFF box walker for the tests: every box's size must equal its real
//! length, children must fill their parents exactly, and fragments are parsed into their
//! `mfhd`/`tfhd`/`tfdt`/`trun` fields with each sample's bytes located through `data_offset`.

#![allow(dead_code)]

/// One box: its type, where it starts in the walked buffer, its whole length and its body.
#[derive(Debug, Clone)]
pub struct Bx<'a> {
    pub typ: [u8; 4],
    pub start: usize,
    pub size: usize,
    pub body: &'a [u8],
    /// Offset of the body in the walked buffer.
    pub body_start: usize,
}

impl Bx<'_> {
    pub fn name(&self) -> String {
        String::from_utf8_lossy(&self.typ).into_owned()
    }
}

fn be(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |v, &x| (v << 8) | u64::from(x))
}

/// The boxes laid end to end in `data[..]` (`base` is the offset of `data` in the file).
/// Fails unless they fill `data` exactly.
pub fn boxes(data: &[u8], base: usize) -> Result<Vec<Bx<'_>>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let rest = &data[pos..];
        if rest.len() < 8 {
            return Err(format!("{} trailing bytes at {}", rest.len(), base + pos));
        }
        let mut size = be(&rest[..4]) as usize;
        let typ: [u8; 4] = rest[4..8].try_into().unwrap();
        let mut header = 8;
        if size == 1 {
            if rest.len() < 16 {
                return Err("truncated largesize".into());
            }
            size = be(&rest[8..16]) as usize;
            header = 16;
        }
        if size < header || size > rest.len() {
            return Err(format!(
                "box '{}' at {} has size {size} but {} bytes remain",
                String::from_utf8_lossy(&typ),
                base + pos,
                rest.len()
            ));
        }
        out.push(Bx {
            typ,
            start: base + pos,
            size,
            body: &rest[header..size],
            body_start: base + pos + header,
        });
        pos += size;
    }
    Ok(out)
}

/// Boxes whose body is a sequence of boxes.
const CONTAINERS: &[&[u8; 4]] = &[
    b"moov", b"trak", b"mdia", b"minf", b"dinf", b"stbl", b"mvex", b"moof", b"traf", b"edts",
];

/// Checks a whole buffer recursively: containers, `stsd`/`dref` entries, sample entries and
/// their child boxes, `esds` descriptors. Returns every box type seen, depth-first, with its
/// path (`moov/trak/mdia/...`).
pub fn check_tree(data: &[u8]) -> Result<Vec<String>, String> {
    let mut seen = Vec::new();
    walk(data, 0, "", &mut seen)?;
    Ok(seen)
}

fn walk(data: &[u8], base: usize, path: &str, seen: &mut Vec<String>) -> Result<(), String> {
    for b in boxes(data, base)? {
        let p = if path.is_empty() {
            b.name()
        } else {
            format!("{path}/{}", b.name())
        };
        seen.push(p.clone());
        let children = |skip: usize| -> Result<&[u8], String> {
            b.body
                .get(skip..)
                .ok_or_else(|| format!("{p}: body shorter than {skip}"))
        };
        match &b.typ {
            t if CONTAINERS.contains(&t) => walk(b.body, b.body_start, &p, seen)?,
            b"stsd" | b"dref" => {
                let count = be(&b.body[4..8]) as usize;
                let entries = boxes(children(8)?, b.body_start + 8)?;
                if entries.len() != count {
                    return Err(format!(
                        "{p}: entry_count {count}, {} entries",
                        entries.len()
                    ));
                }
                walk(children(8)?, b.body_start + 8, &p, seen)?;
            }
            b"avc1" | b"avc3" | b"hvc1" | b"hev1" => {
                walk(children(78)?, b.body_start + 78, &p, seen)?
            }
            b"mp4a" | b"Opus" => walk(children(28)?, b.body_start + 28, &p, seen)?,
            b"esds" => check_descriptors(children(4)?, &p)?,
            _ => {}
        }
    }
    Ok(())
}

/// MPEG-4 descriptors (tag, expandable size) must fill their parent exactly.
fn check_descriptors(data: &[u8], path: &str) -> Result<(), String> {
    let mut pos = 0;
    while pos < data.len() {
        let tag = data[pos];
        pos += 1;
        let mut size = 0usize;
        loop {
            let b = *data
                .get(pos)
                .ok_or(format!("{path}: truncated descriptor size"))?;
            pos += 1;
            size = (size << 7) | usize::from(b & 0x7F);
            if b & 0x80 == 0 {
                break;
            }
        }
        let body = data
            .get(pos..pos + size)
            .ok_or(format!("{path}: descriptor {tag} of {size} bytes overruns"))?;
        match tag {
            3 => check_descriptors(&body[3..], path)?,
            4 => check_descriptors(&body[13..], path)?,
            _ => {}
        }
        pos += size;
    }
    Ok(())
}

/// The child of `b` with type `typ` (the first one).
pub fn child<'a>(b: &Bx<'a>, typ: &[u8; 4]) -> Option<Bx<'a>> {
    boxes(b.body, b.body_start)
        .ok()?
        .into_iter()
        .find(|c| &c.typ == typ)
}

/// One sample of a `trun`, with its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunSample {
    pub duration: u32,
    pub size: u32,
    /// The sample's flags (per-sample, or the tfhd default).
    pub flags: u32,
    pub cts: i32,
    pub data: Vec<u8>,
}

impl TrunSample {
    pub fn is_sync(&self) -> bool {
        self.flags & 0x0001_0000 == 0
    }
}

/// One `traf`.
#[derive(Debug, Clone)]
pub struct Traf {
    pub track_id: u32,
    pub tfhd_flags: u32,
    pub tfdt_version: u8,
    pub base_decode_time: u64,
    pub trun_version: u8,
    pub data_offset: i32,
    pub samples: Vec<TrunSample>,
}

/// A parsed fragment.
#[derive(Debug, Clone)]
pub struct ParsedFragment {
    /// Major and compatible brands of the `styp`, if any.
    pub styp: Option<Vec<String>>,
    /// (flags, version, reference_track_ID, ntp_timestamp, media_time) of the `prft`, if any.
    pub prft: Option<(u32, u8, u32, u64, u64)>,
    pub sequence_number: u32,
    pub trafs: Vec<Traf>,
    /// Where the mdat payload lies in the fragment.
    pub mdat: std::ops::Range<usize>,
    /// Top-level box order.
    pub order: Vec<String>,
}

/// Parses one fragment (optional `styp`, `prft`, then exactly one `moof` and one `mdat`) and
/// checks that each `trun`'s samples lie inside the `mdat` payload, that the `traf`s' sample
/// data runs tile the payload exactly, in order, without gaps or overlap.
pub fn parse_fragment(data: &[u8]) -> Result<ParsedFragment, String> {
    check_tree(data)?;
    let top = boxes(data, 0)?;
    let order: Vec<String> = top.iter().map(Bx::name).collect();
    let moof = top.iter().find(|b| &b.typ == b"moof").ok_or("no moof")?;
    let mdat = top.iter().find(|b| &b.typ == b"mdat").ok_or("no mdat")?;
    let mut styp = None;
    let mut prft = None;
    for b in &top {
        match &b.typ {
            b"styp" => {
                styp = Some(
                    b.body
                        .chunks(4)
                        .enumerate()
                        .filter(|(i, _)| *i != 1)
                        .map(|(_, c)| String::from_utf8_lossy(c).into_owned())
                        .collect(),
                )
            }
            b"prft" => {
                let v = b.body[0];
                let flags = be(&b.body[1..4]) as u32;
                let track = be(&b.body[4..8]) as u32;
                let ntp = be(&b.body[8..16]);
                let media = if v == 1 {
                    be(&b.body[16..24])
                } else {
                    be(&b.body[16..20])
                };
                if b.body.len() != if v == 1 { 24 } else { 20 } {
                    return Err("prft size".into());
                }
                prft = Some((flags, v, track, ntp, media));
            }
            b"moof" | b"mdat" => {}
            other => return Err(format!("unexpected top-level box {:?}", other)),
        }
    }
    let mfhd = child(moof, b"mfhd").ok_or("no mfhd")?;
    if mfhd.body.len() != 8 {
        return Err("mfhd size".into());
    }
    let sequence_number = be(&mfhd.body[4..8]) as u32;
    let mut trafs = Vec::new();
    let mut cursor = mdat.body_start;
    for traf in boxes(moof.body, moof.body_start)?
        .into_iter()
        .filter(|b| &b.typ == b"traf")
    {
        let tfhd = child(&traf, b"tfhd").ok_or("no tfhd")?;
        let tfhd_flags = be(&tfhd.body[1..4]) as u32;
        let track_id = be(&tfhd.body[4..8]) as u32;
        let mut p = 8;
        let mut field = |present: bool, n: usize| -> Option<u64> {
            if !present {
                return None;
            }
            let v = be(&tfhd.body[p..p + n]);
            p += n;
            Some(v)
        };
        field(tfhd_flags & 0x01 != 0, 8); // base_data_offset
        field(tfhd_flags & 0x02 != 0, 4); // sample_description_index
        let default_duration = field(tfhd_flags & 0x08 != 0, 4);
        let default_size = field(tfhd_flags & 0x10 != 0, 4);
        let default_flags = field(tfhd_flags & 0x20 != 0, 4);
        if p != tfhd.body.len() {
            return Err(format!(
                "tfhd: {p} bytes of fields in a {}-byte body",
                tfhd.body.len()
            ));
        }
        if tfhd_flags & 0x02_0000 == 0 {
            return Err("tfhd without default-base-is-moof".into());
        }
        let tfdt = child(&traf, b"tfdt").ok_or("no tfdt")?;
        let tfdt_version = tfdt.body[0];
        let base_decode_time = if tfdt_version == 1 {
            if tfdt.body.len() != 12 {
                return Err("tfdt v1 size".into());
            }
            be(&tfdt.body[4..12])
        } else {
            be(&tfdt.body[4..8])
        };
        let trun = child(&traf, b"trun").ok_or("no trun")?;
        let trun_version = trun.body[0];
        let flags = be(&trun.body[1..4]) as u32;
        let count = be(&trun.body[4..8]) as usize;
        let mut p = 8;
        let rd = |p: &mut usize| -> Result<u32, String> {
            let v = trun
                .body
                .get(*p..*p + 4)
                .ok_or("trun truncated")
                .map(|b| be(b) as u32)?;
            *p += 4;
            Ok(v)
        };
        if flags & 0x01 == 0 {
            return Err("trun without data_offset".into());
        }
        let data_offset = rd(&mut p)? as i32;
        let first_flags = if flags & 0x04 != 0 {
            Some(rd(&mut p)?)
        } else {
            None
        };
        let start = moof.start as i64 + i64::from(data_offset);
        if start != cursor as i64 {
            return Err(format!(
                "traf of track {track_id}: data_offset points at {start}, the sample data starts at {cursor}"
            ));
        }
        let mut samples = Vec::with_capacity(count);
        let mut at = start as usize;
        for i in 0..count {
            let duration = if flags & 0x100 != 0 {
                rd(&mut p)?
            } else {
                default_duration.ok_or("no duration")? as u32
            };
            let size = if flags & 0x200 != 0 {
                rd(&mut p)?
            } else {
                default_size.ok_or("no size")? as u32
            };
            let sflags = if flags & 0x400 != 0 {
                rd(&mut p)?
            } else if i == 0 && first_flags.is_some() {
                first_flags.unwrap()
            } else {
                default_flags.ok_or("no sample flags")? as u32
            };
            let cts = if flags & 0x800 != 0 {
                rd(&mut p)? as i32
            } else {
                0
            };
            if trun_version == 0 && cts < 0 {
                return Err("negative cts in trun v0".into());
            }
            let end = at + size as usize;
            if end > mdat.start + mdat.size {
                return Err(format!("sample {i} of track {track_id} overruns the mdat"));
            }
            samples.push(TrunSample {
                duration,
                size,
                flags: sflags,
                cts,
                data: data[at..end].to_vec(),
            });
            at = end;
        }
        if p != trun.body.len() {
            return Err(format!(
                "trun: {p} bytes of fields in a {}-byte body",
                trun.body.len()
            ));
        }
        cursor = at;
        trafs.push(Traf {
            track_id,
            tfhd_flags,
            tfdt_version,
            base_decode_time,
            trun_version,
            data_offset,
            samples,
        });
    }
    if cursor != mdat.start + mdat.size {
        return Err(format!(
            "sample data ends at {cursor}, the mdat at {}",
            mdat.start + mdat.size
        ));
    }
    Ok(ParsedFragment {
        styp,
        prft,
        sequence_number,
        trafs,
        mdat: mdat.body_start..mdat.start + mdat.size,
        order,
    })
}
