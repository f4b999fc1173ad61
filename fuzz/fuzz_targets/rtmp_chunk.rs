//! The RTMP chunk decoder on arbitrary bytes: never panics; decoded messages re-encode and decode
//! back to the same messages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_rtmp::chunk::{ChunkDecoder, ChunkEncoder};

fuzz_target!(|data: &[u8]| {
    // The first byte picks a chunk size and how the input is split, to exercise partial reads.
    let Some((&first, rest)) = data.split_first() else { return };
    let mut dec = ChunkDecoder::new();
    let _ = dec.set_chunk_size(1 + (first as u32) * 37);
    let split = 1 + (first as usize % 64);
    let mut msgs = Vec::new();
    'outer: for piece in rest.chunks(split) {
        dec.push(piece);
        loop {
            match dec.next_message() {
                Ok(Some(m)) => msgs.push(m),
                Ok(None) => break,
                Err(_) => break 'outer,
            }
        }
    }
    let mut enc = ChunkEncoder::new();
    enc.set_chunk_size(4096);
    let mut out = Vec::new();
    for m in &msgs {
        enc.write(&mut out, m.csid.max(2), m.timestamp, m.type_id, m.stream_id, &m.payload);
    }
    let mut dec = ChunkDecoder::new();
    dec.set_chunk_size(4096).expect("valid chunk size");
    dec.push(&out);
    for m in &msgs {
        let back = dec.next_message().expect("re-encoded stream decodes").expect("message present");
        assert_eq!(back.payload, m.payload);
        assert_eq!(back.type_id, m.type_id);
        assert_eq!(back.timestamp, m.timestamp);
    }
});
