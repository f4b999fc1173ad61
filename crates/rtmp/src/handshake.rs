//! The RTMP handshake (spec section 5.2), server side, with the digest variant.
//!
//! Flash-era clients and several encoders send a C1 carrying an HMAC-SHA256 digest ("complex
//! handshake") and expect S1/S2 digests in return; others send random bytes. The server detects
//! the digest in either of the two known layouts and answers in kind, else answers plainly
//! (S2 echoes C1).

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::RtmpError;

/// Size of C1/S1/C2/S2.
pub const HANDSHAKE_SIZE: usize = 1536;
const DIGEST_LEN: usize = 32;

/// The client key prefix, `Genuine Adobe Flash Player 001`.
const FP_KEY: &[u8] = b"Genuine Adobe Flash Player 001";
/// The server key prefix, `Genuine Adobe Flash Media Server 001`.
const FMS_KEY_TEXT: &[u8] = b"Genuine Adobe Flash Media Server 001";
/// The 32 bytes appended to both keys in the full form.
const KEY_TAIL: [u8; 32] = [
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
    0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
];

/// Where a handshake stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeState {
    /// Waiting for C0 and C1.
    WaitC0C1,
    /// S0, S1, S2 sent; waiting for C2.
    WaitC2,
    /// Done; following bytes are chunks.
    Done,
}

/// Server side of the handshake. Feed bytes; it says how many it consumed and what to send.
#[derive(Debug)]
pub struct ServerHandshake {
    state: HandshakeState,
    /// Whether the client used the digest handshake.
    pub digest: bool,
}

impl Default for ServerHandshake {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerHandshake {
    /// A fresh handshake waiting for C0+C1.
    pub fn new() -> Self {
        Self {
            state: HandshakeState::WaitC0C1,
            digest: false,
        }
    }

    /// Current state.
    pub fn state(&self) -> HandshakeState {
        self.state
    }

    /// Consumes what it can from `input`, appending any reply to `out`. Returns bytes consumed;
    /// 0 means more input is needed.
    pub fn handle(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, RtmpError> {
        match self.state {
            HandshakeState::WaitC0C1 => {
                if let Some(&v) = input.first()
                    && v != 3
                {
                    return Err(RtmpError::BadVersion(v));
                }
                let Some(c1) = input.get(1..1 + HANDSHAKE_SIZE) else {
                    return Ok(0);
                };
                self.reply(c1, out);
                self.state = HandshakeState::WaitC2;
                Ok(1 + HANDSHAKE_SIZE)
            }
            HandshakeState::WaitC2 => {
                if input.len() < HANDSHAKE_SIZE {
                    return Ok(0);
                }
                // C2 is not validated: many clients send arbitrary bytes here.
                self.state = HandshakeState::Done;
                Ok(HANDSHAKE_SIZE)
            }
            HandshakeState::Done => Ok(0),
        }
    }

    fn reply(&mut self, c1: &[u8], out: &mut Vec<u8>) {
        let mut rng = rand::rng();
        out.reserve(1 + 2 * HANDSHAKE_SIZE);
        out.push(3);
        let client_digest = find_digest(c1, FP_KEY);
        let mut s1 = vec![0u8; HANDSHAKE_SIZE];
        rng.fill_bytes(&mut s1[8..]);
        match client_digest {
            Some((scheme, digest)) => {
                self.digest = true;
                // S1: time 0, server version 4.0.0.1, digest at the same scheme's offset.
                s1[..8].copy_from_slice(&[0, 0, 0, 0, 4, 0, 0, 1]);
                let off = digest_offset(&s1, scheme);
                let d = hmac_excluding(&s1, off, FMS_KEY_TEXT);
                s1[off..off + DIGEST_LEN].copy_from_slice(&d);
                out.extend_from_slice(&s1);
                // S2: random, whose last 32 bytes are HMAC(key = HMAC(full FMS key, C1 digest)).
                let mut s2 = vec![0u8; HANDSHAKE_SIZE];
                rng.fill_bytes(&mut s2);
                let mut full_key = FMS_KEY_TEXT.to_vec();
                full_key.extend_from_slice(&KEY_TAIL);
                let key = hmac(&full_key, &[&digest]);
                let sig = hmac(&key, &[&s2[..HANDSHAKE_SIZE - DIGEST_LEN]]);
                s2[HANDSHAKE_SIZE - DIGEST_LEN..].copy_from_slice(&sig);
                out.extend_from_slice(&s2);
            }
            None => {
                // Plain: S1 time and zero field 0, S2 echoes C1.
                out.extend_from_slice(&s1);
                out.extend_from_slice(c1);
            }
        }
    }
}

/// Offset of the digest in a 1536-byte block for scheme 0 (offset bytes at 8..12) or
/// scheme 1 (offset bytes at 772..776).
fn digest_offset(block: &[u8], scheme: usize) -> usize {
    let base = if scheme == 0 { 8 } else { 772 };
    let sum: usize = block[base..base + 4].iter().map(|&b| b as usize).sum();
    sum % 728 + base + 4
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// HMAC over `block` without the 32 digest bytes at `off`.
fn hmac_excluding(block: &[u8], off: usize, key: &[u8]) -> [u8; 32] {
    hmac(key, &[&block[..off], &block[off + DIGEST_LEN..]])
}

/// Finds a valid client digest in C1, trying both schemes.
fn find_digest(c1: &[u8], key: &[u8]) -> Option<(usize, [u8; 32])> {
    if c1.len() != HANDSHAKE_SIZE {
        return None;
    }
    (0..2).find_map(|scheme| {
        let off = digest_offset(c1, scheme);
        let expected = hmac_excluding(c1, off, key);
        (c1[off..off + DIGEST_LEN] == expected).then_some((scheme, expected))
    })
}

/// Builds a digest C1 as Flash Player would (for tests and the RTMP client).
pub fn client_c1_with_digest(scheme: usize) -> Vec<u8> {
    let mut c1 = vec![0u8; HANDSHAKE_SIZE];
    rand::rng().fill_bytes(&mut c1[8..]);
    c1[4..8].copy_from_slice(&[9, 0, 124, 2]);
    let off = digest_offset(&c1, scheme);
    let d = hmac_excluding(&c1, off, FP_KEY);
    c1[off..off + DIGEST_LEN].copy_from_slice(&d);
    c1
}

/// Checks the S2 a server sent in reply to a digest C1 (for tests and the RTMP client).
pub fn verify_s2(c1: &[u8], s2: &[u8]) -> bool {
    let Some((_, digest)) = find_digest(c1, FP_KEY) else {
        return false;
    };
    if s2.len() != HANDSHAKE_SIZE {
        return false;
    }
    let mut full_key = FMS_KEY_TEXT.to_vec();
    full_key.extend_from_slice(&KEY_TAIL);
    let key = hmac(&full_key, &[&digest]);
    hmac(&key, &[&s2[..HANDSHAKE_SIZE - DIGEST_LEN]])[..] == s2[HANDSHAKE_SIZE - DIGEST_LEN..]
}

/// Checks the digest of an S1 (for tests and the RTMP client).
pub fn verify_s1(s1: &[u8]) -> bool {
    find_digest(s1, FMS_KEY_TEXT).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(c1: &[u8]) -> (ServerHandshake, Vec<u8>) {
        let mut hs = ServerHandshake::new();
        let mut input = vec![3];
        input.extend_from_slice(c1);
        let mut out = Vec::new();
        assert_eq!(hs.handle(&input[..100], &mut out).unwrap(), 0);
        assert_eq!(hs.handle(&input, &mut out).unwrap(), 1 + HANDSHAKE_SIZE);
        assert_eq!(out.len(), 1 + 2 * HANDSHAKE_SIZE);
        assert_eq!(
            hs.handle(&[0; HANDSHAKE_SIZE], &mut Vec::new()).unwrap(),
            HANDSHAKE_SIZE
        );
        assert_eq!(hs.state(), HandshakeState::Done);
        (hs, out)
    }

    #[test]
    fn plain_handshake_echoes_c1() {
        let c1 = vec![7u8; HANDSHAKE_SIZE];
        let (hs, out) = run(&c1);
        assert!(!hs.digest);
        assert_eq!(&out[1 + HANDSHAKE_SIZE..], &c1[..]);
    }

    #[test]
    fn digest_handshake_both_schemes() {
        for scheme in 0..2 {
            let c1 = client_c1_with_digest(scheme);
            let (hs, out) = run(&c1);
            assert!(hs.digest, "scheme {scheme} detected");
            assert!(verify_s1(&out[1..1 + HANDSHAKE_SIZE]));
            assert!(verify_s2(&c1, &out[1 + HANDSHAKE_SIZE..]));
        }
    }

    #[test]
    fn garbage_is_rejected_at_once() {
        let mut hs = ServerHandshake::new();
        assert!(matches!(
            hs.handle(b"GET / HTTP/1.1\r\n", &mut Vec::new()),
            Err(RtmpError::BadVersion(b'G'))
        ));
    }
}
