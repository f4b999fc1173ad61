//! HTTP connections whose peer stops reading: a write that makes no progress for
//! `http.write_timeout_ms` fails, hyper closes the connection, and the close is counted
//! (`stalled_closed.http` in `/api/v1/streams`). Idle keep-alive connections and requests that
//! wait for media (LL-HLS blocking reloads) write nothing, so they are not affected.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use tracing::warn;

use crate::Ctx;

/// The HTTP listener: accepts TCP connections with `TCP_NODELAY` and wraps them in
/// [`StallGuard`].
pub(crate) struct GuardedListener {
    pub(crate) inner: TcpListener,
    pub(crate) ctx: Arc<Ctx>,
}

impl axum::serve::Listener for GuardedListener {
    type Io = StallGuard<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((sock, peer)) => {
                    // Live bodies go out frame by frame: no Nagle delay behind a delayed ACK.
                    let _ = sock.set_nodelay(true);
                    crate::limit_unsent(&sock);
                    let stall = Duration::from_millis(self.ctx.cfg.http.write_timeout_ms);
                    return (StallGuard::new(sock, stall, self.ctx.clone(), peer), peer);
                }
                Err(e) => {
                    warn!(error = %e, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// An I/O stream whose writes fail with [`io::ErrorKind::TimedOut`] once the peer has taken no
/// byte for `stall`.
pub(crate) struct StallGuard<T> {
    io: T,
    stall: Duration,
    /// Made on the first write that waits, then re-armed.
    timer: Option<Pin<Box<Sleep>>>,
    armed: bool,
    ctx: Arc<Ctx>,
    peer: SocketAddr,
}

impl<T: std::os::fd::AsFd> StallGuard<T> {
    fn new(io: T, stall: Duration, ctx: Arc<Ctx>, peer: SocketAddr) -> Self {
        Self {
            io,
            stall,
            timer: None,
            armed: false,
            ctx,
            peer,
        }
    }

    fn guard<R>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        if !r.is_pending() {
            self.armed = false;
            return r;
        }
        let deadline = Instant::now() + self.stall;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if !self.armed {
            timer.as_mut().reset(deadline);
            self.armed = true;
        }
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.ctx.stalled.http.fetch_add(1, Ordering::Relaxed);
        crate::reset_on_close(&self.io);
        warn!(peer = %self.peer, timeout = ?self.stall, "HTTP client took nothing; closing the connection");
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the peer took nothing for {:?}", self.stall),
        )))
    }
}

impl<T: AsyncRead + Unpin + std::os::fd::AsFd> AsyncRead for StallGuard<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin + std::os::fd::AsFd> AsyncWrite for StallGuard<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        self.guard(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.guard(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
