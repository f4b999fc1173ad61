//! A whole server session (handshake, chunks, messages, commands) on arbitrary bytes after a
//! valid handshake: never panics, and output stays bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_rtmp::handshake::HANDSHAKE_SIZE;
use weir_rtmp::{ServerSession, SessionConfig};

fuzz_target!(|data: &[u8]| {
    let mut s = ServerSession::new(SessionConfig::default());
    let mut hs = vec![3u8];
    hs.extend_from_slice(&[0u8; HANDSHAKE_SIZE * 2]);
    if s.handle_input(&hs).is_err() {
        return;
    }
    for piece in data.chunks(97) {
        if s.handle_input(piece).is_err() {
            break;
        }
        while s.poll_event().is_some() {}
        let out = s.take_output();
        assert!(out.len() < 1 << 20);
    }
});
