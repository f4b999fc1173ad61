//! Every socket of Weir. One module per protocol, each a thin async shell around a sans-IO core.
//!
//! [`Server::bind`] opens the listeners (so that a busy port is reported before anything runs);
//! [`Server::run`] serves until the cancellation token fires, then drains: listeners stop, every
//! connection task is told to finish, HLS packagers flush, and `run` returns when all supervised
//! tasks are done.

mod cmaf_http;
mod flv_out;
mod hls;
mod http;
mod outq;
mod rtmp;
mod srt;
mod stall;
mod web;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use weir_config::Config;
use weir_hub::{Hub, HubConfig};

pub use hls::HlsStore;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A listener could not bind.
    #[error("cannot listen for {what} on {addr}: {source}")]
    Bind {
        /// Which listener.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The SRT listener could not start.
    #[error("cannot listen for SRT on {addr}: {source}")]
    SrtBind {
        /// The address.
        addr: SocketAddr,
        /// libsrt's error.
        source: weir_srt::SrtError,
    },
    /// A setting that the config file check cannot catch alone (a pull or push URL).
    #[error("config key {key}: {message}")]
    Config {
        /// Dotted key path.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// State shared by every connection.
pub(crate) struct Ctx {
    pub cfg: Config,
    pub hub: Hub,
    pub hls: Arc<HlsStore>,
    pub next_conn: AtomicU64,
    pub rtmp_port: u16,
    pub srt_port: Option<u16>,
    pub cancel: CancellationToken,
    pub tracker: TaskTracker,
    /// Connections closed because the peer stopped reading.
    pub stalled: StalledCounters,
}

/// Most unsent bytes the kernel may hold for a viewer's socket (`TCP_NOTSENT_LOWAT`): beyond
/// it the socket is not writable, so a viewer that stops reading is seen as stalled after this
/// much instead of after the kernel's autotuned send buffer (up to 4 MiB, 12 s of a 2.7 Mbit/s
/// stream on Linux), and what waits stays in Weir's queues, where it can be skipped. Data in
/// flight is not counted, so throughput is not limited.
pub(crate) const NOTSENT_LOWAT: u32 = 256 * 1024;

/// Sets [`NOTSENT_LOWAT`] on a viewer's socket (best effort: not every kernel has it).
pub(crate) fn limit_unsent(sock: &tokio::net::TcpStream) {
    let _ = socket2::SockRef::from(sock).set_tcp_notsent_lowat(NOTSENT_LOWAT);
}

/// Makes the coming close of a stalled viewer's socket abortive (`SO_LINGER` 0: a reset): what
/// it still holds is dropped at once instead of lingering in the kernel, unsendable, in an
/// orphaned socket.
pub(crate) fn reset_on_close(sock: &impl std::os::fd::AsFd) {
    let _ = socket2::SockRef::from(sock).set_linger(Some(std::time::Duration::ZERO));
}

/// Connections closed because the peer accepted nothing for the write timeout.
#[derive(Default)]
pub(crate) struct StalledCounters {
    pub rtmp: AtomicU64,
    pub http: AtomicU64,
}

impl Ctx {
    pub fn conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }
}

/// A bound, not yet running server.
pub struct Server {
    ctx: Arc<Ctx>,
    rtmp: Option<TcpListener>,
    http: Option<TcpListener>,
    srt: Option<(weir_srt::SrtListener, Arc<srt::ConnCount>)>,
    srt_pulls: Vec<(srt::Remote, weir_media::StreamPath)>,
    srt_pushes: Vec<(weir_media::StreamPath, srt::Remote)>,
}

impl Server {
    /// Binds the configured listeners.
    pub async fn bind(cfg: Config) -> Result<Server, ServerError> {
        let rtmp = if cfg.rtmp.enabled {
            let addr = cfg.rtmp.listen;
            Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| ServerError::Bind {
                        what: "RTMP",
                        addr,
                        source,
                    })?,
            )
        } else {
            None
        };
        let http = if cfg.http.enabled {
            let addr = cfg.http.listen;
            Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| ServerError::Bind {
                        what: "HTTP",
                        addr,
                        source,
                    })?,
            )
        } else {
            None
        };
        let hub = Hub::new(HubConfig {
            queue_frames: cfg.hub.queue_frames,
            gop_max_frames: cfg.hub.gop_max_frames,
            gop_max_bytes: cfg.hub.gop_max_bytes,
        });
        let config_err = |key: String, message: String| ServerError::Config { key, message };
        let path_of = |key: String, p: &str| {
            weir_media::StreamPath::new(p).map_err(|e| config_err(key, e.to_string()))
        };
        let mut srt_pulls = Vec::new();
        for (i, p) in cfg.srt.pull.iter().enumerate() {
            let remote = srt::Remote::parse(&p.url)
                .map_err(|m| config_err(format!("srt.pull[{i}].url"), m))?;
            srt_pulls.push((remote, path_of(format!("srt.pull[{i}].path"), &p.path)?));
        }
        let mut srt_pushes = Vec::new();
        for (i, p) in cfg.srt.push.iter().enumerate() {
            let remote = srt::Remote::parse(&p.url)
                .map_err(|m| config_err(format!("srt.push[{i}].url"), m))?;
            srt_pushes.push((path_of(format!("srt.push[{i}].path"), &p.path)?, remote));
        }
        let srt = if cfg.srt.enabled {
            Some(
                srt::bind(&cfg.srt, hub.clone()).map_err(|source| ServerError::SrtBind {
                    addr: cfg.srt.listen,
                    source,
                })?,
            )
        } else {
            None
        };
        let rtmp_port = rtmp
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map_or(cfg.rtmp.listen.port(), |a| a.port());
        let ctx = Arc::new(Ctx {
            hls: Arc::new(HlsStore::new(&cfg.hls)),
            cfg,
            hub,
            next_conn: AtomicU64::new(1),
            rtmp_port,
            srt_port: srt
                .as_ref()
                .and_then(|(l, _)| l.local_addr())
                .map(|a| a.port()),
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
            stalled: StalledCounters::default(),
        });
        Ok(Server {
            ctx,
            rtmp,
            http,
            srt,
            srt_pulls,
            srt_pushes,
        })
    }

    /// The hub, for embedding and tests.
    pub fn hub(&self) -> &Hub {
        &self.ctx.hub
    }

    /// Address of the RTMP listener.
    pub fn rtmp_addr(&self) -> Option<SocketAddr> {
        self.rtmp.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Address of the SRT listener (UDP).
    pub fn srt_addr(&self) -> Option<SocketAddr> {
        self.srt.as_ref().and_then(|(l, _)| l.local_addr())
    }

    /// Address of the HTTP listener.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` is cancelled, then drains for at most the configured timeout.
    pub async fn run(self, shutdown: CancellationToken) {
        let ctx = self.ctx;
        if !web::HLSJS_BUNDLED {
            tracing::warn!(
                "the hls.js player library is not bundled: the landing page can only play HLS natively (Safari). \
                 Run `./weir.sh setup` (npm install in web/) and rebuild to bundle it"
            );
        }
        if let Some(l) = self.rtmp {
            tracing::info!(addr = %l.local_addr().map(|a| a.to_string()).unwrap_or_default(), "RTMP listening");
            ctx.tracker.spawn(rtmp::serve(l, ctx.clone()));
        }
        if let Some(l) = self.http {
            tracing::info!(addr = %l.local_addr().map(|a| a.to_string()).unwrap_or_default(), "HTTP listening");
            ctx.tracker.spawn(http::serve(l, ctx.clone()));
        }
        if let Some((l, count)) = self.srt {
            tracing::info!(
                addr = %l.local_addr().map(|a| a.to_string()).unwrap_or_default(),
                libsrt = %weir_srt::version(),
                "SRT listening"
            );
            ctx.tracker.spawn(srt::serve(l, count, ctx.clone()));
        }
        for (remote, path) in self.srt_pulls {
            ctx.tracker.spawn(srt::pull(ctx.clone(), remote, path));
        }
        for (path, remote) in self.srt_pushes {
            ctx.tracker.spawn(srt::push(ctx.clone(), path, remote));
        }
        if ctx.cfg.hls.enabled {
            ctx.tracker.spawn(hls::run_manager(ctx.clone()));
        }
        shutdown.cancelled().await;
        tracing::info!("shutting down: draining connections");
        ctx.cancel.cancel();
        ctx.tracker.close();
        let grace = std::time::Duration::from_millis(ctx.cfg.server.drain_timeout_ms);
        if tokio::time::timeout(grace, ctx.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                remaining = ctx.tracker.len(),
                "drain timeout: closing remaining connections"
            );
        } else {
            tracing::info!("drained");
        }
    }
}
