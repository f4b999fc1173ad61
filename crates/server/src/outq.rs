//! A connection's outgoing bytes as a queue of pieces, written with vectored writes: small
//! headers kept inline, and references into frame payloads shared by every viewer, so fanning
//! a frame out copies nothing per viewer until the kernel does.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Bytes a piece holds inline (a chunk header with an FLV body header fits).
const INLINE: usize = 38;
/// Most pieces per `writev`.
const MAX_IOV: usize = 32;

enum Piece {
    Inline { buf: [u8; INLINE], len: u8 },
    Shared(Bytes),
}

impl Piece {
    fn bytes(&self) -> &[u8] {
        match self {
            Piece::Inline { buf, len } => &buf[..*len as usize],
            Piece::Shared(b) => b,
        }
    }
}

/// Outgoing bytes of one connection, in order.
#[derive(Default)]
pub(crate) struct OutQueue {
    pieces: VecDeque<Piece>,
    /// Bytes of the front piece already written.
    head: usize,
    /// Bytes queued and not yet written.
    len: usize,
}

impl OutQueue {
    /// Queues a copy of a few bytes (headers); merged into the last piece when it has room.
    pub(crate) fn push_small(&mut self, b: &[u8]) {
        if b.is_empty() {
            return;
        }
        self.len += b.len();
        if let Some(Piece::Inline { buf, len }) = self.pieces.back_mut() {
            let at = *len as usize;
            if at + b.len() <= INLINE {
                buf[at..at + b.len()].copy_from_slice(b);
                *len += b.len() as u8;
                return;
            }
        }
        if b.len() <= INLINE {
            let mut buf = [0; INLINE];
            buf[..b.len()].copy_from_slice(b);
            self.pieces.push_back(Piece::Inline {
                buf,
                len: b.len() as u8,
            });
        } else {
            self.pieces
                .push_back(Piece::Shared(Bytes::copy_from_slice(b)));
        }
    }

    /// Queues shared bytes without copying them.
    pub(crate) fn push_shared(&mut self, b: Bytes) {
        if !b.is_empty() {
            self.len += b.len();
            self.pieces.push_back(Piece::Shared(b));
        }
    }

    /// Bytes waiting to be written.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    /// Writes everything queued, one vectored write per wake-up of the socket. Fails with
    /// [`TimedOut`](std::io::ErrorKind::TimedOut) when the peer takes no byte for `stall`.
    pub(crate) async fn write_to<W: AsyncWrite + Unpin>(
        &mut self,
        w: &mut W,
        stall: std::time::Duration,
    ) -> std::io::Result<()> {
        while self.len > 0 {
            let n = {
                let mut iov = [IoSlice::new(&[]); MAX_IOV];
                let k = self.slices(&mut iov);
                tokio::time::timeout(stall, w.write_vectored(&iov[..k]))
                    .await
                    .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??
            };
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            self.advance(n);
        }
        // Give back the ring's memory after a burst (a GOP-cache start, a slow patch).
        if self.pieces.capacity() > 4 * MAX_IOV {
            self.pieces.shrink_to(MAX_IOV);
        }
        Ok(())
    }

    fn slices<'a>(&'a self, iov: &mut [IoSlice<'a>]) -> usize {
        let mut k = 0;
        for (i, p) in self.pieces.iter().take(iov.len()).enumerate() {
            let b = p.bytes();
            iov[k] = IoSlice::new(if i == 0 { &b[self.head..] } else { b });
            k += 1;
        }
        k
    }

    fn advance(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            let Some(front) = self.pieces.front() else {
                break;
            };
            let left = front.bytes().len() - self.head;
            if n < left {
                self.head += n;
                return;
            }
            n -= left;
            self.head = 0;
            self.pieces.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// Accepts at most `max` bytes per write, and at most 3 slices.
    struct Trickle {
        got: Vec<u8>,
        max: usize,
        writes: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            let me = self.get_mut();
            let n = buf.len().min(me.max);
            me.got.extend_from_slice(&buf[..n]);
            me.writes += 1;
            Poll::Ready(Ok(n))
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<std::io::Result<usize>> {
            let me = self.get_mut();
            me.writes += 1;
            let mut n = 0;
            for b in bufs.iter().take(3) {
                let take = b.len().min(me.max - n);
                me.got.extend_from_slice(&b[..take]);
                n += take;
                if n == me.max {
                    break;
                }
            }
            Poll::Ready(Ok(n))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_peer_that_takes_nothing_times_out() {
        let (mut a, _b) = tokio::io::duplex(64);
        let mut q = OutQueue::default();
        q.push_shared(Bytes::from(vec![1u8; 1000]));
        let err = q
            .write_to(&mut a, std::time::Duration::from_millis(200))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert_eq!(
            q.len(),
            1000 - 64,
            "what the peer took is gone from the queue"
        );
    }

    #[tokio::test]
    async fn partial_vectored_writes_deliver_everything_in_order() {
        for max in [1, 2, 5, 7, 64, 1 << 20] {
            let mut q = OutQueue::default();
            let mut want = Vec::new();
            let payload = Bytes::from((0..5000u32).map(|i| i as u8).collect::<Vec<_>>());
            for i in 0..40u8 {
                let hdr = [i; 11];
                q.push_small(&hdr);
                want.extend_from_slice(&hdr);
                q.push_small(&[0xc6]);
                want.push(0xc6);
                let p = payload.slice(i as usize * 10..i as usize * 10 + 300 + i as usize);
                want.extend_from_slice(&p);
                q.push_shared(p);
                q.push_shared(Bytes::new());
                q.push_small(&[]);
            }
            let big = vec![9u8; 100];
            q.push_small(&big);
            want.extend_from_slice(&big);
            assert_eq!(q.len(), want.len());
            let mut w = Trickle {
                got: Vec::new(),
                max,
                writes: 0,
            };
            q.write_to(&mut w, std::time::Duration::from_secs(1))
                .await
                .unwrap();
            assert_eq!(q.len(), 0);
            assert_eq!(w.got, want, "max {max}");
            // Small pieces merge: 40 × (11 + 1 header bytes, one payload) + the 100 bytes.
            if max == 1 << 20 {
                assert!(w.writes <= 81 / 3 + 1, "{} writes", w.writes);
            }
        }
    }
}
