//! A connection's outgoing bytes as a queue of pieces, written with vectored writes: small
//! headers kept inline, and references into frame payloads shared by every viewer, so fanning
//! a frame out copies nothing per viewer until the kernel does.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::Bytes;

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

    /// Sends everything queued, one vectored `sendmsg` per wake-up of the socket (not
    /// `writev`: a socket send skips the VFS layer, about 5 % of a player's CPU under perf).
    /// Fails with [`TimedOut`](std::io::ErrorKind::TimedOut) when the peer takes no byte for
    /// `stall`.
    pub(crate) async fn send_to(
        &mut self,
        sock: &tokio::net::TcpStream,
        stall: std::time::Duration,
    ) -> std::io::Result<()> {
        use tokio::io::Interest;
        while self.len > 0 {
            let r = sock.try_io(Interest::WRITABLE, || {
                let mut iov = [IoSlice::new(&[]); MAX_IOV];
                let k = self.slices(&mut iov);
                socket2::SockRef::from(sock).send_vectored(&iov[..k])
            });
            match r {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => self.advance(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    tokio::time::timeout(stall, sock.writable())
                        .await
                        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
                }
                Err(e) => return Err(e),
            }
        }
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
    use std::time::Duration;
    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};

    async fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (b, _) = l.accept().await.unwrap();
        (a, b)
    }

    #[tokio::test]
    async fn a_peer_that_takes_nothing_times_out() {
        let (a, _b) = pair().await;
        let mut q = OutQueue::default();
        q.push_shared(Bytes::from(vec![1u8; 64 << 20]));
        let err = q.send_to(&a, Duration::from_millis(300)).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(
            q.len() < 64 << 20,
            "what the kernel took is gone from the queue"
        );
    }

    #[tokio::test]
    async fn partial_sends_deliver_everything_in_order() {
        let (a, mut b) = pair().await;
        let mut q = OutQueue::default();
        let mut want = Vec::new();
        let payload = Bytes::from(
            (0..(1u32 << 20))
                .map(|i| (i % 251) as u8)
                .collect::<Vec<_>>(),
        );
        for i in 0..200usize {
            let hdr = [i as u8; 11];
            q.push_small(&hdr);
            want.extend_from_slice(&hdr);
            q.push_small(&[0xc6]);
            want.push(0xc6);
            // Large pieces, so the socket fills and sends are partial.
            let p = payload.slice(i * 10..i * 10 + 20_000 + i);
            want.extend_from_slice(&p);
            q.push_shared(p);
            q.push_shared(Bytes::new());
            q.push_small(&[]);
        }
        let big = vec![9u8; 100];
        q.push_small(&big);
        want.extend_from_slice(&big);
        assert_eq!(q.len(), want.len());
        let total = want.len();
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 7000];
            while got.len() < total {
                let n = b.read(&mut buf).await.unwrap();
                assert!(n > 0);
                got.extend_from_slice(&buf[..n]);
                // A slow reader: the sender sees WouldBlock and partial sends.
                tokio::time::sleep(Duration::from_micros(50)).await;
            }
            got
        });
        q.send_to(&a, Duration::from_secs(10)).await.unwrap();
        assert_eq!(q.len(), 0);
        let got = reader.await.unwrap();
        assert!(got == want, "bytes differ");
    }

    #[test]
    fn small_pieces_merge() {
        let mut q = OutQueue::default();
        q.push_small(&[1; 12]);
        q.push_small(&[2; 5]);
        q.push_shared(Bytes::from_static(b"data"));
        q.push_small(&[3]);
        q.push_small(&[4; 40]);
        assert_eq!(
            q.pieces.len(),
            4,
            "12 + 5 inline, data, 1 inline, 40 shared"
        );
        let flat: Vec<u8> = {
            let mut iov = [IoSlice::new(&[]); MAX_IOV];
            let k = q.slices(&mut iov);
            iov[..k].iter().flat_map(|s| s.iter().copied()).collect()
        };
        let mut want = vec![1; 12];
        want.extend_from_slice(&[2; 5]);
        want.extend_from_slice(b"data");
        want.push(3);
        want.extend_from_slice(&[4; 40]);
        assert_eq!(flat, want);
        q.advance(15);
        assert_eq!(q.len(), want.len() - 15);
        let mut iov = [IoSlice::new(&[]); MAX_IOV];
        let k = q.slices(&mut iov);
        assert_eq!(&iov[0][..], &[2, 2]);
        assert_eq!(k, 4);
    }
}
