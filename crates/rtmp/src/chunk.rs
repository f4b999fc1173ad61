//! The RTMP chunk stream (spec section 5.3): decoding with limits, and encoding.

use std::collections::HashMap;

use bytes::{Buf, Bytes, BytesMut};

/// Default chunk size before any Set Chunk Size (spec 5.4.1).
pub const DEFAULT_CHUNK_SIZE: usize = 128;
/// Largest chunk size the spec allows (31 bits).
pub const MAX_CHUNK_SIZE: u32 = 0x7FFF_FFFF;
/// Chunk sizes above this are clamped: no message can be longer (24-bit length).
pub const EFFECTIVE_MAX_CHUNK_SIZE: usize = 0xFF_FFFF;
/// Largest message Weir accepts (8 MiB); a bigger declared length ends the connection.
pub const MAX_MESSAGE_LEN: u32 = 8 * 1024 * 1024;
/// Most chunk streams one connection may have open at once.
pub const MAX_CHUNK_STREAMS: usize = 64;
/// Most bytes held in partly received messages across all chunk streams of a connection.
pub const MAX_PENDING_BYTES: usize = 16 * 1024 * 1024;

/// Why the chunk stream cannot be decoded; each variant ends the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// Set Chunk Size of 0 or with the reserved top bit set.
    #[error("invalid chunk size {0} (must be 1..={MAX_CHUNK_SIZE})")]
    BadChunkSize(u32),
    /// A message header declared a length above [`MAX_MESSAGE_LEN`].
    #[error(
        "chunk stream {csid}: message length {len} exceeds the limit of {MAX_MESSAGE_LEN} bytes"
    )]
    MessageTooLong {
        /// Chunk stream id.
        csid: u32,
        /// Declared length.
        len: u32,
    },
    /// More than [`MAX_CHUNK_STREAMS`] chunk streams.
    #[error("more than {MAX_CHUNK_STREAMS} chunk streams open (chunk stream {csid})")]
    TooManyChunkStreams {
        /// The chunk stream that would exceed the limit.
        csid: u32,
    },
    /// Partly received messages hold more than [`MAX_PENDING_BYTES`].
    #[error("partly received messages exceed {MAX_PENDING_BYTES} bytes")]
    TooMuchPending,
    /// A format 1/2/3 chunk on a chunk stream that never had a format 0 header.
    #[error("chunk stream {csid}: format {fmt} header without a previous header, at byte {offset}")]
    MissingHeader {
        /// Chunk stream id.
        csid: u32,
        /// Header format.
        fmt: u8,
        /// Offset of the chunk in the connection's chunk stream.
        offset: u64,
    },
}

/// A complete RTMP message reassembled from chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// Chunk stream it arrived on.
    pub csid: u32,
    /// Absolute timestamp in milliseconds (32-bit, wraps).
    pub timestamp: u32,
    /// Message type id.
    pub type_id: u8,
    /// Message stream id.
    pub stream_id: u32,
    /// Payload.
    pub payload: Bytes,
}

#[derive(Debug, Default)]
struct CsState {
    has_header: bool,
    timestamp: u32,
    delta: u32,
    length: u32,
    type_id: u8,
    stream_id: u32,
    extended: bool,
    partial: Option<BytesMut>,
}

/// Reassembles messages from a chunk stream. Sans-IO: push bytes, pull messages.
#[derive(Debug)]
pub struct ChunkDecoder {
    buf: BytesMut,
    chunk_size: usize,
    streams: HashMap<u32, CsState>,
    pending: usize,
    offset: u64,
}

impl Default for ChunkDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkDecoder {
    /// A decoder at the default chunk size.
    pub fn new() -> Self {
        Self {
            buf: BytesMut::new(),
            chunk_size: DEFAULT_CHUNK_SIZE,
            streams: HashMap::new(),
            pending: 0,
            offset: 0,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered but not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Applies a Set Chunk Size from the peer.
    pub fn set_chunk_size(&mut self, size: u32) -> Result<(), ChunkError> {
        if size == 0 || size > MAX_CHUNK_SIZE {
            return Err(ChunkError::BadChunkSize(size));
        }
        self.chunk_size = (size as usize).min(EFFECTIVE_MAX_CHUNK_SIZE);
        Ok(())
    }

    /// Applies an Abort Message: drops the partly received message on `csid`.
    pub fn abort(&mut self, csid: u32) {
        if let Some(st) = self.streams.get_mut(&csid)
            && let Some(p) = st.partial.take()
        {
            self.pending -= p.len();
        }
    }

    /// Decodes the next complete message, or `None` when more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<RawMessage>, ChunkError> {
        loop {
            match self.next_chunk()? {
                None => return Ok(None),
                Some(Some(msg)) => return Ok(Some(msg)),
                Some(None) => continue,
            }
        }
    }

    /// Decodes one chunk. `Ok(None)`: need more bytes; `Ok(Some(None))`: consumed a chunk that
    /// did not complete a message.
    fn next_chunk(&mut self) -> Result<Option<Option<RawMessage>>, ChunkError> {
        let b = &self.buf[..];
        let Some(&b0) = b.first() else {
            return Ok(None);
        };
        let fmt = b0 >> 6;
        let (csid, mut pos) = match b0 & 0x3f {
            0 => match b.get(1) {
                Some(&x) => (64 + x as u32, 2),
                None => return Ok(None),
            },
            1 => match (b.get(1), b.get(2)) {
                (Some(&x), Some(&y)) => (64 + x as u32 + ((y as u32) << 8), 3),
                _ => return Ok(None),
            },
            n => (n as u32, 1),
        };
        let header_len = [11, 7, 3, 0][fmt as usize];
        let Some(h) = b.get(pos..pos + header_len) else {
            return Ok(None);
        };
        pos += header_len;
        if !self.streams.contains_key(&csid) && self.streams.len() >= MAX_CHUNK_STREAMS {
            return Err(ChunkError::TooManyChunkStreams { csid });
        }
        let prev = self.streams.get(&csid);
        if fmt != 0 && !prev.is_some_and(|p| p.has_header) {
            return Err(ChunkError::MissingHeader {
                csid,
                fmt,
                offset: self.offset,
            });
        }
        let u24 = |s: &[u8]| (s[0] as u32) << 16 | (s[1] as u32) << 8 | s[2] as u32;
        let ts_field = if fmt < 3 { u24(&h[0..3]) } else { 0 };
        let extended = if fmt < 3 {
            ts_field == 0xFF_FFFF
        } else {
            prev.is_some_and(|p| p.extended)
        };
        let ext_ts = if extended {
            let Some(e) = b.get(pos..pos + 4) else {
                return Ok(None);
            };
            pos += 4;
            u32::from_be_bytes([e[0], e[1], e[2], e[3]])
        } else {
            0
        };
        let ts_value = if extended { ext_ts } else { ts_field };
        // Work out the header this chunk implies without committing it yet.
        let mut st_length = prev.map_or(0, |p| p.length);
        let mut st_type = prev.map_or(0, |p| p.type_id);
        let mut st_stream = prev.map_or(0, |p| p.stream_id);
        if fmt <= 1 {
            st_length = u24(&h[3..6]);
            st_type = h[6];
        }
        if fmt == 0 {
            st_stream = u32::from_le_bytes([h[7], h[8], h[9], h[10]]);
        }
        if st_length > MAX_MESSAGE_LEN {
            return Err(ChunkError::MessageTooLong {
                csid,
                len: st_length,
            });
        }
        let have = prev.and_then(|p| p.partial.as_ref()).map_or(0, |p| p.len());
        // A new header (fmt 0/1/2) in the middle of a message restarts the message.
        let restarting = fmt < 3 && have > 0;
        let have = if restarting { 0 } else { have };
        let want = (st_length as usize - have.min(st_length as usize)).min(self.chunk_size);
        if b.len() < pos + want {
            return Ok(None);
        }
        // Commit.
        let st = self.streams.entry(csid).or_default();
        if restarting && let Some(p) = st.partial.take() {
            self.pending -= p.len();
        }
        let starting = st.partial.is_none();
        match fmt {
            0 => {
                st.timestamp = ts_value;
                st.delta = ts_value;
            }
            1 | 2 => {
                st.delta = ts_value;
                st.timestamp = st.timestamp.wrapping_add(ts_value);
            }
            _ => {
                if starting {
                    st.timestamp = st.timestamp.wrapping_add(st.delta);
                }
            }
        }
        st.has_header = true;
        st.length = st_length;
        st.type_id = st_type;
        st.stream_id = st_stream;
        st.extended = extended;
        self.buf.advance(pos);
        self.offset += pos as u64;
        let data = self.buf.split_to(want);
        self.offset += want as u64;
        if starting && want == st_length as usize {
            return Ok(Some(Some(RawMessage {
                csid,
                timestamp: st.timestamp,
                type_id: st.type_id,
                stream_id: st.stream_id,
                payload: data.freeze(),
            })));
        }
        let partial = st.partial.get_or_insert_with(BytesMut::new);
        partial.extend_from_slice(&data);
        self.pending += data.len();
        if self.pending > MAX_PENDING_BYTES {
            return Err(ChunkError::TooMuchPending);
        }
        if partial.len() >= st.length as usize {
            let payload = st.partial.take().unwrap_or_default();
            self.pending -= payload.len();
            return Ok(Some(Some(RawMessage {
                csid,
                timestamp: st.timestamp,
                type_id: st.type_id,
                stream_id: st.stream_id,
                payload: payload.freeze(),
            })));
        }
        Ok(Some(None))
    }
}

#[derive(Debug, Clone, Copy)]
struct OutState {
    timestamp: u32,
    stream_id: u32,
}

/// One piece of a chunked message, in the order it goes on the wire: chunk header bytes, or a
/// range of the message payload. See [`ChunkEncoder::write_pieces`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkPiece<'a> {
    /// Header bytes (a message header, or a continuation chunk's basic header).
    Header(&'a [u8]),
    /// This range of the payload.
    Payload(std::ops::Range<usize>),
}

/// Splits messages into chunks. Uses format 0 for the first message on a chunk stream, format 1
/// (delta timestamp) after it when the stream id is the same, and format 3 for continuations.
#[derive(Debug)]
pub struct ChunkEncoder {
    chunk_size: usize,
    /// The last message header sent on each chunk stream (a handful: a short list beats a map).
    last: Vec<(u32, OutState)>,
}

impl Default for ChunkEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkEncoder {
    /// An encoder at the default chunk size.
    pub fn new() -> Self {
        Self {
            chunk_size: DEFAULT_CHUNK_SIZE,
            last: Vec::new(),
        }
    }

    /// Current outgoing chunk size.
    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    /// Changes the outgoing chunk size. Send a Set Chunk Size message with the same value first.
    pub fn set_chunk_size(&mut self, size: usize) {
        self.chunk_size = size.clamp(1, EFFECTIVE_MAX_CHUNK_SIZE);
    }

    /// Appends `payload` as one message, in chunks, to `out`.
    pub fn write(
        &mut self,
        out: &mut Vec<u8>,
        csid: u32,
        timestamp: u32,
        type_id: u8,
        stream_id: u32,
        payload: &[u8],
    ) {
        out.reserve(payload.len() + 18 + payload.len() / self.chunk_size * 8);
        self.write_pieces(
            csid,
            timestamp,
            type_id,
            stream_id,
            payload.len(),
            |piece| match piece {
                ChunkPiece::Header(h) => out.extend_from_slice(h),
                ChunkPiece::Payload(r) => out.extend_from_slice(&payload[r]),
            },
        );
    }

    /// Chunks one message of `payload_len` bytes without touching the payload: `emit` gets the
    /// header bytes and the payload ranges in wire order, so that a caller can send a payload
    /// shared by many connections with one vectored write and no copy. The encoder's state
    /// advances exactly as [`write`](Self::write) would advance it.
    pub fn write_pieces(
        &mut self,
        csid: u32,
        timestamp: u32,
        type_id: u8,
        stream_id: u32,
        payload_len: usize,
        mut emit: impl FnMut(ChunkPiece<'_>),
    ) {
        let state = OutState {
            timestamp,
            stream_id,
        };
        let prev = match self.last.iter_mut().find(|(c, _)| *c == csid) {
            Some((_, last)) => Some(std::mem::replace(last, state)),
            None => {
                self.last.push((csid, state));
                None
            }
        };
        let (fmt, ts_field) = match prev {
            Some(p) if p.stream_id == stream_id && timestamp >= p.timestamp => {
                (1u8, timestamp - p.timestamp)
            }
            _ => (0u8, timestamp),
        };
        let extended = ts_field >= 0xFF_FFFF;
        let mut hdr = HeaderBuf::default();
        hdr.basic(fmt, csid);
        let f = if extended { 0xFF_FFFF } else { ts_field };
        hdr.put(&f.to_be_bytes()[1..]);
        hdr.put(&(payload_len as u32).to_be_bytes()[1..]);
        hdr.put(&[type_id]);
        if fmt == 0 {
            hdr.put(&stream_id.to_le_bytes());
        }
        if extended {
            hdr.put(&ts_field.to_be_bytes());
        }
        emit(ChunkPiece::Header(hdr.as_slice()));
        let mut at = 0;
        while at < payload_len || at == 0 {
            if at > 0 {
                let mut cont = HeaderBuf::default();
                cont.basic(3, csid);
                if extended {
                    cont.put(&ts_field.to_be_bytes());
                }
                emit(ChunkPiece::Header(cont.as_slice()));
            }
            let end = (at + self.chunk_size).min(payload_len);
            if end > at {
                emit(ChunkPiece::Payload(at..end));
            }
            if end == payload_len {
                break;
            }
            at = end;
        }
    }
}

/// A chunk header on the stack (at most 3 + 11 + 4 bytes).
#[derive(Default)]
struct HeaderBuf {
    buf: [u8; 18],
    len: usize,
}

impl HeaderBuf {
    fn put(&mut self, b: &[u8]) {
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
    }

    fn basic(&mut self, fmt: u8, csid: u32) {
        match csid {
            2..=63 => self.put(&[fmt << 6 | csid as u8]),
            64..=319 => self.put(&[fmt << 6, (csid - 64) as u8]),
            _ => {
                let c = csid.clamp(320, 65599) - 64;
                self.put(&[fmt << 6 | 1, c as u8, (c >> 8) as u8]);
            }
        }
    }

    fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

#[cfg(test)]
fn write_basic_header(out: &mut Vec<u8>, fmt: u8, csid: u32) {
    let mut h = HeaderBuf::default();
    h.basic(fmt, csid);
    out.extend_from_slice(h.as_slice());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(dec: &mut ChunkDecoder) -> Vec<RawMessage> {
        let mut v = Vec::new();
        while let Some(m) = dec.next_message().unwrap() {
            v.push(m);
        }
        v
    }

    #[test]
    fn all_header_formats_by_hand() {
        // fmt 0 on csid 4: ts 1000, len 3, type 9, stream 1.
        let mut b = vec![0x04, 0, 0x03, 0xe8, 0, 0, 3, 9, 1, 0, 0, 0, 1, 2, 3];
        // fmt 1: delta 40, len 2, type 8.
        b.extend_from_slice(&[0x44, 0, 0, 40, 0, 0, 2, 8, 4, 5]);
        // fmt 2: delta 33.
        b.extend_from_slice(&[0x84, 0, 0, 33, 6, 7]);
        // fmt 3: new message, reuses delta 33 and length 2.
        b.extend_from_slice(&[0xc4, 8, 9]);
        let mut dec = ChunkDecoder::new();
        dec.push(&b);
        let m = decode_all(&mut dec);
        let ts: Vec<u32> = m.iter().map(|m| m.timestamp).collect();
        assert_eq!(ts, vec![1000, 1040, 1073, 1106]);
        assert_eq!(m[1].type_id, 8);
        assert_eq!(&m[3].payload[..], &[8, 9]);
        assert!(m.iter().all(|m| m.stream_id == 1));
    }

    #[test]
    fn extended_timestamp_on_continuations() {
        let mut enc = ChunkEncoder::new();
        let mut out = Vec::new();
        let payload = vec![0xaa; 300];
        enc.write(&mut out, 6, 0x0100_0000, 9, 1, &payload);
        let mut dec = ChunkDecoder::new();
        dec.push(&out);
        let m = decode_all(&mut dec);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].timestamp, 0x0100_0000);
        assert_eq!(m[0].payload.len(), 300);
    }

    #[test]
    fn limits_trigger() {
        let mut dec = ChunkDecoder::new();
        assert_eq!(dec.set_chunk_size(0), Err(ChunkError::BadChunkSize(0)));
        assert_eq!(
            dec.set_chunk_size(0x8000_0000),
            Err(ChunkError::BadChunkSize(0x8000_0000))
        );
        assert!(dec.set_chunk_size(MAX_CHUNK_SIZE).is_ok());
        // Declared length 9 MiB.
        let mut dec = ChunkDecoder::new();
        dec.push(&[0x04, 0, 0, 0, 0x90, 0, 0, 9, 1, 0, 0, 0]);
        assert!(matches!(
            dec.next_message(),
            Err(ChunkError::MessageTooLong { csid: 4, .. })
        ));
        // fmt 1 without a previous header.
        let mut dec = ChunkDecoder::new();
        dec.push(&[0x45, 0, 0, 0, 0, 0, 1, 9, 0]);
        assert!(matches!(
            dec.next_message(),
            Err(ChunkError::MissingHeader {
                csid: 5,
                fmt: 1,
                ..
            })
        ));
        // Too many chunk streams, each holding a partial message.
        let mut dec = ChunkDecoder::new();
        let mut err = None;
        for csid in 3..200u32 {
            let mut b = Vec::new();
            write_basic_header(&mut b, 0, csid);
            b.extend_from_slice(&[0, 0, 0, 0, 1, 0, 9, 1, 0, 0, 0]);
            b.extend_from_slice(&[0; 128]);
            dec.push(&b);
            if let Err(e) = dec.next_message() {
                err = Some(e);
                break;
            }
        }
        assert!(matches!(err, Some(ChunkError::TooManyChunkStreams { .. })));
    }

    #[test]
    fn pending_bytes_are_bounded() {
        let mut dec = ChunkDecoder::new();
        dec.set_chunk_size(1024 * 1024).unwrap();
        let mut err = None;
        for csid in 3..40u32 {
            let mut b = Vec::new();
            write_basic_header(&mut b, 0, csid);
            // 8 MiB declared, 1 MiB sent.
            b.extend_from_slice(&[0, 0, 0, 0x80, 0, 0, 9, 1, 0, 0, 0]);
            b.extend_from_slice(&vec![0; 1024 * 1024]);
            dec.push(&b);
            if let Err(e) = dec.next_message() {
                err = Some(e);
                break;
            }
        }
        assert_eq!(err, Some(ChunkError::TooMuchPending));
    }

    #[test]
    fn abort_drops_partial() {
        let mut enc = ChunkEncoder::new();
        let mut out = Vec::new();
        enc.write(&mut out, 4, 0, 9, 1, &[1; 200]);
        let mut dec = ChunkDecoder::new();
        dec.push(&out[..12 + 128]);
        assert_eq!(dec.next_message().unwrap(), None);
        dec.abort(4);
        assert_eq!(dec.pending, 0);
    }

    #[derive(Debug, Clone)]
    struct Msg {
        csid: u32,
        ts: u32,
        type_id: u8,
        stream_id: u32,
        payload: Vec<u8>,
    }

    fn msg() -> impl Strategy<Value = Msg> {
        (
            prop_oneof![2u32..64, 64u32..320, 320u32..65599],
            any::<u32>(),
            1u8..30,
            0u32..4,
            proptest::collection::vec(any::<u8>(), 0..2000),
        )
            .prop_map(|(csid, ts, type_id, stream_id, payload)| Msg {
                csid,
                ts,
                type_id,
                stream_id,
                payload,
            })
    }

    proptest! {
        /// The pieces, put back together, are exactly what `write` produces, and both encoders
        /// end in the same state (the next message's header is the same too).
        #[test]
        fn pieces_reassemble_to_write(
            msgs in proptest::collection::vec(
                (2u32..400, prop_oneof![0u32..100_000, 0xFF_FF00u32..0x100_0100], 0usize..9000, 0u32..3),
                1..12,
            ),
            chunk_size in 1usize..5000,
        ) {
            let mut a = ChunkEncoder::new();
            let mut b = ChunkEncoder::new();
            a.set_chunk_size(chunk_size);
            b.set_chunk_size(chunk_size);
            for (i, (csid, ts, len, sid)) in msgs.into_iter().enumerate() {
                let payload: Vec<u8> = (0..len).map(|j| (i * 7 + j) as u8).collect();
                let mut whole = Vec::new();
                a.write(&mut whole, csid, ts, 9, sid, &payload);
                let mut pieced = Vec::new();
                let mut ranges = Vec::new();
                b.write_pieces(csid, ts, 9, sid, len, |p| match p {
                    ChunkPiece::Header(h) => pieced.extend_from_slice(h),
                    ChunkPiece::Payload(r) => {
                        ranges.push(r.clone());
                        pieced.extend_from_slice(&payload[r]);
                    }
                });
                // The ranges tile the payload in order, none empty.
                let mut covered = 0;
                for r in &ranges {
                    prop_assert_eq!(r.start, covered);
                    prop_assert!(r.end > r.start);
                    covered = r.end;
                }
                prop_assert_eq!(covered, len);
                prop_assert_eq!(whole, pieced);
            }
        }

        #[test]
        fn encode_decode_round_trip(
            msgs in proptest::collection::vec(msg(), 1..20),
            chunk_size in 1usize..5000,
            split in 1usize..700,
        ) {
            let mut enc = ChunkEncoder::new();
            enc.set_chunk_size(chunk_size);
            let mut out = Vec::new();
            for m in &msgs {
                enc.write(&mut out, m.csid, m.ts, m.type_id, m.stream_id, &m.payload);
            }
            let mut dec = ChunkDecoder::new();
            dec.set_chunk_size(chunk_size as u32).unwrap();
            let mut got = Vec::new();
            for piece in out.chunks(split) {
                dec.push(piece);
                while let Some(m) = dec.next_message().unwrap() {
                    got.push(m);
                }
            }
            prop_assert_eq!(got.len(), msgs.len());
            for (g, m) in got.iter().zip(&msgs) {
                prop_assert_eq!(g.csid, m.csid);
                prop_assert_eq!(g.timestamp, m.ts);
                prop_assert_eq!(g.type_id, m.type_id);
                prop_assert_eq!(g.stream_id, m.stream_id);
                prop_assert_eq!(&g.payload[..], &m.payload[..]);
            }
        }

        #[test]
        fn decoder_never_panics(data in proptest::collection::vec(any::<u8>(), 0..4000)) {
            let mut dec = ChunkDecoder::new();
            dec.push(&data);
            for _ in 0..100 {
                match dec.next_message() {
                    Ok(Some(_)) => {}
                    _ => break,
                }
            }
        }
    }
}
