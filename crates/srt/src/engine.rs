//! The process-wide libsrt instance and its one epoll thread.
//!
//! libsrt runs its own threads (receive queue, send queue, TSBPD). Every Weir socket is
//! non-blocking and registered, edge-triggered, in one SRT epoll. A dedicated OS thread waits
//! on that epoll and turns readiness into [`tokio::sync::Notify`] wake-ups; the async side then
//! makes the (non-blocking) libsrt call itself. No blocking call ever runs on the tokio runtime,
//! and no data is copied through an intermediate channel.

use std::collections::HashMap;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::Notify;

use crate::SrtError;
use crate::sys;

/// Wake-ups for one socket, set by the epoll thread.
#[derive(Default)]
pub(crate) struct Readiness {
    pub read: Notify,
    pub write: Notify,
    /// The socket reported an error (broken, closed by the peer, or rejected).
    pub error: AtomicBool,
}

impl Readiness {
    pub fn failed(&self) -> bool {
        self.error.load(Ordering::Acquire)
    }
}

pub(crate) struct Engine {
    eid: c_int,
    sockets: Mutex<HashMap<sys::SRTSOCKET, Arc<Readiness>>>,
}

static ENGINE: OnceLock<Result<Engine, SrtError>> = OnceLock::new();

/// The engine, started on first use.
pub(crate) fn engine() -> Result<&'static Engine, SrtError> {
    ENGINE
        .get_or_init(Engine::start)
        .as_ref()
        .map_err(Clone::clone)
}

impl Engine {
    fn start() -> Result<Self, SrtError> {
        // SAFETY: plain library calls without pointers; srt_startup may be called more than once.
        let eid = unsafe {
            if sys::srt_startup() < 0 {
                return Err(SrtError::last("srt_startup"));
            }
            sys::srt_setloghandler(std::ptr::null_mut(), Some(log_handler));
            sys::srt_setloglevel(sys::LOG_WARNING);
            let eid = sys::srt_epoll_create();
            if eid < 0 {
                return Err(SrtError::last("srt_epoll_create"));
            }
            // Waiting on an empty epoll times out instead of failing.
            sys::srt_epoll_set(eid, sys::SRT_EPOLL_ENABLE_EMPTY);
            eid
        };
        std::thread::Builder::new()
            .name("srt-epoll".into())
            .spawn(move || epoll_loop(eid))
            .map_err(|e| SrtError::Call {
                call: "spawn srt-epoll thread",
                code: 0,
                message: e.to_string(),
            })?;
        tracing::debug!(version = %version(), "libsrt started");
        Ok(Self {
            eid,
            sockets: Mutex::new(HashMap::new()),
        })
    }

    /// Adds a socket to the epoll (edge-triggered, in/out/error) and returns its wake-ups.
    pub fn register(&self, sock: sys::SRTSOCKET) -> Result<Arc<Readiness>, SrtError> {
        let ready = Arc::new(Readiness::default());
        self.sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sock, ready.clone());
        let events =
            sys::SRT_EPOLL_IN | sys::SRT_EPOLL_OUT | sys::SRT_EPOLL_ERR | sys::SRT_EPOLL_ET;
        // SAFETY: `events` outlives the call; libsrt copies it.
        if unsafe { sys::srt_epoll_add_usock(self.eid, sock, &events) } < 0 {
            let err = SrtError::last("srt_epoll_add_usock");
            self.forget(sock);
            return Err(err);
        }
        Ok(ready)
    }

    fn forget(&self, sock: sys::SRTSOCKET) {
        self.sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&sock);
    }

    /// Removes a socket from the epoll and closes it. Sockets are created with linger 0, so
    /// `srt_close` does not wait for unsent data.
    pub fn close(&self, sock: sys::SRTSOCKET) {
        self.forget(sock);
        // SAFETY: plain calls on a socket id; unknown ids only produce an error code.
        unsafe {
            sys::srt_epoll_remove_usock(self.eid, sock);
            sys::srt_close(sock);
        }
    }

    fn wake(&self, events: &[sys::SRT_EPOLL_EVENT]) {
        let sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        for ev in events {
            let Some(ready) = sockets.get(&ev.fd) else {
                continue;
            };
            if ev.events & sys::SRT_EPOLL_ERR != 0 {
                ready.error.store(true, Ordering::Release);
                ready.read.notify_waiters();
                ready.write.notify_waiters();
            }
            // notify_one keeps a permit when nobody waits yet, so no wake-up is lost between
            // a failed non-blocking call and the wait that follows it.
            if ev.events & (sys::SRT_EPOLL_IN | sys::SRT_EPOLL_ERR) != 0 {
                ready.read.notify_one();
            }
            if ev.events & (sys::SRT_EPOLL_OUT | sys::SRT_EPOLL_ERR) != 0 {
                ready.write.notify_one();
            }
        }
    }
}

fn epoll_loop(eid: c_int) {
    let mut events = vec![sys::SRT_EPOLL_EVENT::default(); 256];
    loop {
        // SAFETY: `events` is a valid, writable array of the given length.
        let n =
            unsafe { sys::srt_epoll_uwait(eid, events.as_mut_ptr(), events.len() as c_int, 1000) };
        if n <= 0 {
            continue; // timeout (or a transient error): wait again
        }
        let n = (n as usize).min(events.len());
        if let Some(Ok(engine)) = ENGINE.get() {
            engine.wake(&events[..n]);
        }
    }
}

/// libsrt's version as `major.minor.patch`.
pub fn version() -> String {
    // SAFETY: no arguments.
    let v = unsafe { sys::srt_getversion() };
    format!("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff)
}

unsafe extern "C" fn log_handler(
    _opaque: *mut c_void,
    level: c_int,
    _file: *const c_char,
    _line: c_int,
    area: *const c_char,
    message: *const c_char,
) {
    let text = |p: *const c_char| {
        if p.is_null() {
            String::new()
        } else {
            // SAFETY: libsrt passes NUL-terminated strings valid for the call.
            unsafe { CStr::from_ptr(p) }
                .to_string_lossy()
                .trim_end()
                .to_owned()
        }
    };
    let (area, message) = (text(area), text(message));
    // libsrt reports an empty non-blocking accept as an error; it is not one here.
    if message.contains("no pending connection available") {
        return;
    }
    if message.contains("reject") {
        // For example a wrong or missing passphrase, which libsrt refuses on its own.
        tracing::warn!(target: "libsrt", area, "SRT handshake rejected by libsrt: {message}");
    } else if level <= sys::LOG_ERR {
        tracing::info!(target: "libsrt", area, "{message}");
    } else {
        tracing::debug!(target: "libsrt", area, "{message}");
    }
}
