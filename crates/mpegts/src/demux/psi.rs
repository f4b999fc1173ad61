//! Program-specific information: section reassembly (pointer_field, sections spanning packets),
//! the CRC check, and the PAT and PMT.

use crate::crc::crc32_mpeg2;

/// Longest section accepted: PAT and PMT sections are at most 1024 bytes (section_length at most
/// 1021); private sections may reach 4096, and nothing longer exists.
const MAX_SECTION: usize = 4096;

/// Why a section was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SectionError {
    /// Malformed: pointer_field past the payload, a length beyond the maximum, or a section cut
    /// off by the start of the next one.
    Framing,
}

/// Reassembles the sections of one PID from the payloads of its packets.
#[derive(Debug, Default)]
pub(super) struct SectionReader {
    buf: Vec<u8>,
    /// A section is being collected in `buf`.
    active: bool,
}

impl SectionReader {
    /// Forgets a partly collected section (after a continuity error).
    pub(super) fn reset(&mut self) {
        self.buf.clear();
        self.active = false;
    }

    /// Feeds the payload of one packet; completed sections are appended to `out`, framing
    /// errors to `errors`.
    pub(super) fn feed(
        &mut self,
        payload: &[u8],
        pusi: bool,
        out: &mut Vec<Vec<u8>>,
        errors: &mut Vec<SectionError>,
    ) {
        if !pusi {
            if self.active {
                self.take(payload, out, errors);
            }
            return;
        }
        let Some((&pointer, rest)) = payload.split_first() else {
            self.reset();
            errors.push(SectionError::Framing);
            return;
        };
        let pointer = usize::from(pointer);
        if pointer > rest.len() {
            self.reset();
            errors.push(SectionError::Framing);
            return;
        }
        let (tail, mut rest) = rest.split_at(pointer);
        if self.active {
            self.take(tail, out, errors);
            if self.active {
                // The previous section should have ended before the new one starts.
                self.reset();
                errors.push(SectionError::Framing);
            }
        }
        // One or more sections start here; 0xFF is stuffing up to the end of the packet.
        while let Some(&first) = rest.first() {
            if first == 0xFF {
                break;
            }
            self.buf.clear();
            self.active = true;
            let used = self.take(rest, out, errors);
            rest = rest.get(used..).unwrap_or_default();
            if self.active {
                break; // continues in the next packet
            }
        }
    }

    /// Appends bytes of the current section from `data`; returns how many were used.
    fn take(
        &mut self,
        data: &[u8],
        out: &mut Vec<Vec<u8>>,
        errors: &mut Vec<SectionError>,
    ) -> usize {
        let mut used = 0;
        if self.buf.len() < 3 {
            let n = (3 - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            used = n;
            if self.buf.len() < 3 {
                return used;
            }
        }
        let section_length = (usize::from(self.buf[1] & 0x0F) << 8) | usize::from(self.buf[2]);
        let total = 3 + section_length;
        if total > MAX_SECTION {
            self.reset();
            errors.push(SectionError::Framing);
            return data.len();
        }
        let n = total.saturating_sub(self.buf.len()).min(data.len() - used);
        self.buf.extend_from_slice(&data[used..used + n]);
        used += n;
        if self.buf.len() == total {
            out.push(std::mem::take(&mut self.buf));
            self.active = false;
        }
        used
    }
}

/// A long-form PSI section (section_syntax_indicator 1) whose CRC checked.
#[derive(Debug, Clone, Copy)]
pub(super) struct Section<'a> {
    pub(super) table_id: u8,
    /// transport_stream_id (PAT) or program_number (PMT).
    pub(super) id: u16,
    pub(super) current: bool,
    pub(super) number: u8,
    pub(super) last_number: u8,
    /// The bytes after the 8-byte header, before the CRC.
    pub(super) body: &'a [u8],
}

/// Why a section could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ParseError {
    /// Not a long-form section, or too short.
    Malformed,
    /// The CRC-32 does not match.
    Crc,
}

/// Parses a complete long-form section and checks its CRC.
pub(super) fn parse_section(s: &[u8]) -> Result<Section<'_>, ParseError> {
    if s.len() < 12 || s[1] & 0x80 == 0 {
        return Err(ParseError::Malformed);
    }
    if crc32_mpeg2(s) != 0 {
        return Err(ParseError::Crc);
    }
    Ok(Section {
        table_id: s[0],
        id: u16::from_be_bytes([s[3], s[4]]),
        current: s[5] & 1 == 1,
        number: s[6],
        last_number: s[7],
        body: &s[8..s.len() - 4],
    })
}

/// The (program_number, PMT PID) pairs of a PAT section body, without the network PID entry
/// (program 0).
pub(super) fn pat_programs(body: &[u8]) -> impl Iterator<Item = (u16, u16)> + '_ {
    body.chunks_exact(4)
        .map(|e| {
            (
                u16::from_be_bytes([e[0], e[1]]),
                u16::from_be_bytes([e[2] & 0x1F, e[3]]),
            )
        })
        .filter(|&(program, _)| program != 0)
}

/// One elementary stream entry of a PMT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PmtStream {
    pub(super) stream_type: u8,
    pub(super) pid: u16,
    /// The ES_info descriptors.
    pub(super) descriptors: Vec<u8>,
}

/// A parsed PMT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pmt {
    pub(super) pcr_pid: u16,
    /// The program_info descriptors.
    pub(super) descriptors: Vec<u8>,
    pub(super) streams: Vec<PmtStream>,
}

/// Parses the body of a PMT section; `None` when a length points past the end.
pub(super) fn parse_pmt(body: &[u8]) -> Option<Pmt> {
    let head = body.get(..4)?;
    let pcr_pid = u16::from_be_bytes([head[0] & 0x1F, head[1]]);
    let info_len = usize::from(u16::from_be_bytes([head[2] & 0x0F, head[3]]));
    let descriptors = body.get(4..4 + info_len)?.to_vec();
    let mut rest = body.get(4 + info_len..)?;
    let mut streams = Vec::new();
    while !rest.is_empty() {
        let e = rest.get(..5)?;
        let es_len = usize::from(u16::from_be_bytes([e[3] & 0x0F, e[4]]));
        streams.push(PmtStream {
            stream_type: e[0],
            pid: u16::from_be_bytes([e[1] & 0x1F, e[2]]),
            descriptors: rest.get(5..5 + es_len)?.to_vec(),
        });
        rest = rest.get(5 + es_len..)?;
    }
    Some(Pmt {
        pcr_pid,
        descriptors,
        streams,
    })
}

/// Iterates (tag, body) over a descriptor loop, stopping at a truncated descriptor.
pub(super) fn descriptors(mut data: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        let (&tag, rest) = data.split_first()?;
        let (&len, rest) = rest.split_first()?;
        let body = rest.get(..usize::from(len))?;
        data = &rest[usize::from(len)..];
        Some((tag, body))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(table_id: u8, body: &[u8]) -> Vec<u8> {
        let mut s = vec![table_id, 0, 0, 0, 1, 0xC1, 0, 0];
        s.extend_from_slice(body);
        let len = s.len() - 3 + 4;
        s[1] = 0xB0 | (len >> 8) as u8;
        s[2] = len as u8;
        let crc = crc32_mpeg2(&s);
        s.extend_from_slice(&crc.to_be_bytes());
        s
    }

    #[test]
    fn sections_across_packets_and_several_per_packet() {
        let a = section(0x02, &[0xAA; 300]);
        let b = section(0x00, &[0, 1, 0xF0, 0]);
        let c = section(0x42, &[7; 10]);
        let mut r = SectionReader::default();
        let (mut out, mut errs) = (Vec::new(), Vec::new());
        // Packet 1: pointer 0, first 150 bytes of `a`.
        let mut p1 = vec![0];
        p1.extend_from_slice(&a[..150]);
        r.feed(&p1, true, &mut out, &mut errs);
        assert!(out.is_empty());
        // Packet 2 (no PUSI): the next 100 bytes.
        r.feed(&a[150..250], false, &mut out, &mut errs);
        // Packet 3: the rest of `a` before the pointer, then `b` and `c`, then stuffing.
        let tail = &a[250..];
        let mut p3 = vec![tail.len() as u8];
        p3.extend_from_slice(tail);
        p3.extend_from_slice(&b);
        p3.extend_from_slice(&c);
        p3.extend_from_slice(&[0xFF; 20]);
        r.feed(&p3, true, &mut out, &mut errs);
        assert_eq!(out, vec![a.clone(), b.clone(), c.clone()]);
        assert!(errs.is_empty());
        let s = parse_section(&out[1]).unwrap();
        assert_eq!(pat_programs(s.body).collect::<Vec<_>>(), vec![(1, 0x1000)]);

        // A corrupted section fails its CRC; a section cut short by the next one is an error.
        let mut bad = b.clone();
        bad[9] ^= 0x10;
        assert_eq!(parse_section(&bad).unwrap_err(), ParseError::Crc);
        out.clear();
        let mut p = vec![0];
        p.extend_from_slice(&a[..100]);
        r.feed(&p, true, &mut out, &mut errs);
        let mut p = vec![0];
        p.extend_from_slice(&b);
        r.feed(&p, true, &mut out, &mut errs);
        assert_eq!(out, vec![b.clone()]);
        assert_eq!(errs, vec![SectionError::Framing]);
        // A pointer past the end.
        r.feed(&[200, 1, 2], true, &mut out, &mut errs);
        assert_eq!(errs.len(), 2);
    }

    #[test]
    fn pmt_parsing_and_descriptors() {
        let body = [
            0xE1, 0x00, 0xF0, 0x02, 0x99, 0x00, // PCR PID 0x100, one empty descriptor
            0x1B, 0xE1, 0x00, 0xF0, 0x00, // H.264 on 0x100
            0x06, 0xE1, 0x01, 0xF0, 0x06, 0x05, 0x04, b'O', b'p', b'u', b's',
        ];
        let pmt = parse_pmt(&body).unwrap();
        assert_eq!(pmt.pcr_pid, 0x100);
        assert_eq!(pmt.streams.len(), 2);
        assert_eq!(pmt.streams[1].pid, 0x101);
        let d: Vec<_> = descriptors(&pmt.streams[1].descriptors).collect();
        assert_eq!(d, vec![(5, &b"Opus"[..])]);
        assert!(parse_pmt(&body[..body.len() - 1]).is_none());
        assert_eq!(descriptors(&[5, 9, 1]).count(), 0);
    }
}
