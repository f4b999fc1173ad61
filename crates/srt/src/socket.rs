//! Async SRT sockets: caller, listener, and the connected socket both produce.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::engine::{Readiness, engine};
use crate::streamid::StreamId;
use crate::{RejectReason, SrtError, SrtStats, sys};

/// Encryption and latency settings shared by callers and listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtOptions {
    /// Receiver latency (TSBPD delay) in milliseconds; also offered as the peer latency.
    pub latency_ms: u32,
    /// Passphrase (10 to 79 characters) enabling AES encryption, or `None`.
    pub passphrase: Option<String>,
    /// AES key length in bytes: 16, 24 or 32 (used only with a passphrase; the caller's
    /// choice wins when a listener has none set).
    pub pbkeylen: u8,
}

impl Default for SrtOptions {
    fn default() -> Self {
        Self {
            latency_ms: 120,
            passphrase: None,
            pbkeylen: 16,
        }
    }
}

/// A connected SRT socket in live mode: one message per call, each at most
/// [`MAX_PAYLOAD`](crate::MAX_PAYLOAD) bytes (seven 188-byte TS packets are customary).
///
/// Dropping it closes the connection.
pub struct SrtSocket {
    id: sys::SRTSOCKET,
    ready: Arc<Readiness>,
    peer: Option<SocketAddr>,
    streamid: String,
}

impl std::fmt::Debug for SrtSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtSocket")
            .field("id", &self.id)
            .field("peer", &self.peer)
            .field("streamid", &self.streamid)
            .finish()
    }
}

impl Drop for SrtSocket {
    fn drop(&mut self) {
        if let Ok(engine) = engine() {
            engine.close(self.id);
        }
    }
}

impl SrtSocket {
    fn wrap(id: sys::SRTSOCKET, ready: Arc<Readiness>) -> Self {
        let peer = sockaddr_of(id, sys::srt_getpeername);
        let streamid = get_string(id, sys::SRTO_STREAMID).unwrap_or_default();
        Self {
            id,
            ready,
            peer,
            streamid,
        }
    }

    /// The remote address.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The streamid the caller sent (or that this caller sent).
    pub fn streamid(&self) -> &str {
        &self.streamid
    }

    /// Receives one message into `buf` (give it at least 1500 bytes) and returns its length.
    /// Returns [`SrtError::Closed`] when the peer closes or the connection breaks.
    pub async fn recv(&self, buf: &mut [u8]) -> Result<usize, SrtError> {
        loop {
            let len = buf.len().min(i32::MAX as usize) as c_int;
            // SAFETY: `buf` is valid and writable for `len` bytes; a null msgctrl is allowed.
            let n = unsafe {
                sys::srt_recvmsg2(
                    self.id,
                    buf.as_mut_ptr().cast::<c_char>(),
                    len,
                    std::ptr::null_mut(),
                )
            };
            if n > 0 {
                return Ok(n as usize);
            }
            match last_error() {
                sys::SRT_EASYNCRCV if !self.ready.failed() => self.ready.read.notified().await,
                // The socket reported an error but may still hold data; after that, it is gone.
                sys::SRT_EASYNCRCV => return Err(SrtError::Closed),
                code if is_closed(code) || n == 0 => return Err(SrtError::Closed),
                _ => return Err(SrtError::last("srt_recvmsg2")),
            }
        }
    }

    /// Sends one message (at most [`MAX_PAYLOAD`](crate::MAX_PAYLOAD) bytes). Waits while
    /// libsrt's send buffer is full.
    pub async fn send(&self, data: &[u8]) -> Result<(), SrtError> {
        if data.len() > crate::MAX_PAYLOAD {
            return Err(SrtError::TooLarge(data.len()));
        }
        loop {
            if self.ready.failed() {
                return Err(SrtError::Closed);
            }
            // SAFETY: `data` is valid for its length; a null msgctrl is allowed.
            let n = unsafe {
                sys::srt_sendmsg2(
                    self.id,
                    data.as_ptr().cast::<c_char>(),
                    data.len() as c_int,
                    std::ptr::null_mut(),
                )
            };
            if n >= 0 {
                return Ok(());
            }
            match last_error() {
                sys::SRT_EASYNCSND => self.ready.write.notified().await,
                code if is_closed(code) => return Err(SrtError::Closed),
                _ => return Err(SrtError::last("srt_sendmsg2")),
            }
        }
    }

    /// Reads libsrt's statistics. With `reset_interval`, the per-interval figures (rates,
    /// retransmissions received) restart from this call; the totals never reset.
    pub fn stats(&self, reset_interval: bool) -> Result<SrtStats, SrtError> {
        let mut raw = sys::SRT_TRACEBSTATS::default();
        // SAFETY: `raw` is a correctly laid out, writable SRT_TRACEBSTATS (checked by a test).
        if unsafe { sys::srt_bstats(self.id, &mut raw, c_int::from(reset_interval)) } < 0 {
            return Err(SrtError::last("srt_bstats"));
        }
        Ok(SrtStats::from_raw(&raw))
    }
}

/// Settings of an SRT caller (client).
#[derive(Debug, Clone)]
pub struct CallerConfig {
    /// Remote listener.
    pub remote: SocketAddr,
    /// The streamid to send (for example `publish:live/venue` or `#!::r=live/venue,m=request`).
    pub streamid: String,
    /// Latency and encryption.
    pub options: SrtOptions,
    /// How long to wait for the handshake.
    pub connect_timeout: Duration,
}

/// Connects to a remote SRT listener in caller mode.
pub async fn connect(cfg: &CallerConfig) -> Result<SrtSocket, SrtError> {
    let engine = engine()?;
    let id = new_socket(&cfg.options)?;
    let guard = CloseOnDrop(id);
    if !cfg.streamid.is_empty() {
        set_bytes(
            id,
            sys::SRTO_STREAMID,
            cfg.streamid.as_bytes(),
            "SRTO_STREAMID",
        )?;
    }
    let timeo = c_int::try_from(cfg.connect_timeout.as_millis())
        .unwrap_or(c_int::MAX)
        .max(100);
    set_int(id, sys::SRTO_CONNTIMEO, timeo, "SRTO_CONNTIMEO")?;
    let ready = engine.register(id)?;
    let (storage, len) = to_sockaddr(cfg.remote);
    // SAFETY: `storage` holds a valid sockaddr of `len` bytes.
    if unsafe { sys::srt_connect(id, (&raw const storage).cast(), len) } < 0 {
        return Err(connect_error(id));
    }
    let wait = async {
        loop {
            match state(id) {
                sys::SRTS_CONNECTED => return Ok(()),
                s if s > sys::SRTS_CONNECTED || ready.failed() => return Err(connect_error(id)),
                _ => ready.write.notified().await,
            }
        }
    };
    match tokio::time::timeout(cfg.connect_timeout + Duration::from_millis(500), wait).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(SrtError::Timeout),
    }
    std::mem::forget(guard);
    Ok(SrtSocket::wrap(id, ready))
}

fn connect_error(id: sys::SRTSOCKET) -> SrtError {
    // SAFETY: plain call on a socket id.
    let code = unsafe { sys::srt_getrejectreason(id) };
    if code > 0 {
        SrtError::Rejected {
            code,
            reason: crate::describe_reject(code),
        }
    } else {
        SrtError::last("srt_connect")
    }
}

/// What a listener's admission function sees of a connecting caller.
#[derive(Debug)]
pub struct AdmitRequest<'a> {
    /// The caller's address.
    pub peer: Option<SocketAddr>,
    /// The raw streamid.
    pub raw_streamid: &'a str,
    /// The parsed streamid.
    pub streamid: StreamId,
}

/// Per-connection settings an admission function may choose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Admitted {
    /// Overrides the listener's latency for this connection.
    pub latency_ms: Option<u32>,
    /// Overrides the listener's passphrase for this connection (`Some(None)`: no encryption).
    pub passphrase: Option<Option<String>>,
}

/// Decides, during the handshake, whether a caller may connect. It runs on a libsrt thread,
/// so it must be quick and must not block.
pub type AdmitFn = dyn Fn(&AdmitRequest<'_>) -> Result<Admitted, Rejection> + Send + Sync;

/// A refusal: the SRT code the caller gets, and the reason Weir logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The code sent to the caller.
    pub reason: RejectReason,
    /// Why, for the log (`stream live/x is already being published`).
    pub message: String,
}

impl Rejection {
    /// A refusal with its log message.
    pub fn new(reason: RejectReason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }
}

/// Settings of an SRT listener.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// Address to bind (UDP).
    pub bind: SocketAddr,
    /// Default latency and encryption for accepted connections.
    pub options: SrtOptions,
    /// Pending-connection backlog.
    pub backlog: u16,
}

struct ListenShared {
    admit: Mutex<Option<Arc<AdmitFn>>>,
}

/// A bound SRT listener. Callers are admitted (or rejected with a reason) by the
/// [`AdmitFn`] during the handshake, then returned by [`accept`](Self::accept).
pub struct SrtListener {
    socket: SrtSocket,
    shared: *const ListenShared,
    local: Option<SocketAddr>,
}

// SAFETY: `shared` points to a leaked, never freed `ListenShared`, which is Sync.
unsafe impl Send for SrtListener {}
// SAFETY: as above; the pointer is only read.
unsafe impl Sync for SrtListener {}

impl Drop for SrtListener {
    fn drop(&mut self) {
        // The callback may still be running on a libsrt thread, so the small shared block is
        // leaked rather than freed; dropping the admission function releases what it holds.
        // SAFETY: `shared` was leaked in `bind` and is never freed.
        let shared = unsafe { &*self.shared };
        shared
            .admit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }
}

impl std::fmt::Debug for SrtListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtListener")
            .field("local", &self.local)
            .finish()
    }
}

impl SrtListener {
    /// Binds and starts listening.
    pub fn bind(cfg: &ListenerConfig, admit: Arc<AdmitFn>) -> Result<Self, SrtError> {
        let engine = engine()?;
        let id = new_socket(&cfg.options)?;
        let guard = CloseOnDrop(id);
        let (storage, len) = to_sockaddr(cfg.bind);
        // SAFETY: `storage` holds a valid sockaddr of `len` bytes.
        if unsafe { sys::srt_bind(id, (&raw const storage).cast(), len) } < 0 {
            return Err(SrtError::last("srt_bind"));
        }
        let shared: *const ListenShared = Box::into_raw(Box::new(ListenShared {
            admit: Mutex::new(Some(admit)),
        }));
        // SAFETY: the callback receives `shared`, which is never freed (see Drop).
        if unsafe { sys::srt_listen_callback(id, Some(listen_callback), shared as *mut c_void) } < 0
        {
            return Err(SrtError::last("srt_listen_callback"));
        }
        // SAFETY: plain call on a bound socket.
        if unsafe { sys::srt_listen(id, c_int::from(cfg.backlog.max(1))) } < 0 {
            return Err(SrtError::last("srt_listen"));
        }
        let ready = engine.register(id)?;
        std::mem::forget(guard);
        let local = sockaddr_of(id, sys::srt_getsockname);
        Ok(Self {
            socket: SrtSocket {
                id,
                ready,
                peer: None,
                streamid: String::new(),
            },
            shared,
            local,
        })
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }

    /// Waits for the next admitted, connected caller.
    pub async fn accept(&self) -> Result<SrtSocket, SrtError> {
        let engine = engine()?;
        loop {
            let mut storage: libc::sockaddr_storage = zeroed_storage();
            let mut len = size_of::<libc::sockaddr_storage>() as c_int;
            // SAFETY: `storage` is writable for `len` bytes.
            let id =
                unsafe { sys::srt_accept(self.socket.id, (&raw mut storage).cast(), &mut len) };
            if id != sys::SRT_INVALID_SOCK {
                let ready = engine.register(id)?;
                return Ok(SrtSocket::wrap(id, ready));
            }
            match last_error() {
                sys::SRT_EASYNCRCV => self.socket.ready.read.notified().await,
                _ => return Err(SrtError::last("srt_accept")),
            }
        }
    }
}

/// The listen callback: parses the streamid, asks the admission function, and applies the
/// per-connection settings to the new socket or sets the rejection reason.
unsafe extern "C" fn listen_callback(
    opaque: *mut c_void,
    ns: sys::SRTSOCKET,
    _hsversion: c_int,
    peer: *const libc::sockaddr,
    streamid: *const c_char,
) -> c_int {
    // SAFETY: `opaque` is the leaked ListenShared set in `bind`.
    let shared = unsafe { &*(opaque as *const ListenShared) };
    // SAFETY: libsrt passes a valid sockaddr (or null) and a NUL-terminated streamid (or null).
    let (peer, raw) = unsafe {
        (
            from_sockaddr(peer),
            if streamid.is_null() {
                String::new()
            } else {
                CStr::from_ptr(streamid).to_string_lossy().into_owned()
            },
        )
    };
    let reject = |reason: RejectReason, why: &dyn std::fmt::Display| {
        tracing::warn!(
            peer = ?peer, streamid = %raw.escape_debug(), code = reason as i32,
            "SRT connection rejected: {why} ({})", reason.name()
        );
        // SAFETY: plain call on the pending socket.
        unsafe { sys::srt_setrejectreason(ns, reason as c_int) };
        -1
    };
    let Some(admit) = shared
        .admit
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
    else {
        return reject(RejectReason::Unavailable, &"listener is closing");
    };
    let streamid = match StreamId::parse(&raw) {
        Ok(s) => s,
        Err(e) => return reject(e.reject_reason(), &e),
    };
    let req = AdmitRequest {
        peer,
        raw_streamid: &raw,
        streamid,
    };
    let decision = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| admit(&req)));
    match decision {
        Ok(Ok(admitted)) => {
            if let Some(ms) = admitted.latency_ms
                && set_int(ns, sys::SRTO_LATENCY, ms as c_int, "SRTO_LATENCY").is_err()
            {
                return reject(RejectReason::Internal, &"could not set latency");
            }
            if let Some(pass) = admitted.passphrase {
                let bytes = pass.as_deref().unwrap_or("").as_bytes();
                if set_bytes(ns, sys::SRTO_PASSPHRASE, bytes, "SRTO_PASSPHRASE").is_err() {
                    return reject(RejectReason::Internal, &"could not set the passphrase");
                }
            }
            0
        }
        Ok(Err(r)) => reject(r.reason, &r.message),
        Err(_) => reject(RejectReason::Internal, &"admission function panicked"),
    }
}

struct CloseOnDrop(sys::SRTSOCKET);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        match engine() {
            Ok(engine) => engine.close(self.0),
            // SAFETY: plain call on a socket id.
            Err(_) => unsafe {
                sys::srt_close(self.0);
            },
        }
    }
}

fn new_socket(opts: &SrtOptions) -> Result<sys::SRTSOCKET, SrtError> {
    engine()?;
    // SAFETY: no arguments.
    let id = unsafe { sys::srt_create_socket() };
    if id == sys::SRT_INVALID_SOCK {
        return Err(SrtError::last("srt_create_socket"));
    }
    let guard = CloseOnDrop(id);
    set_int(id, sys::SRTO_TRANSTYPE, sys::SRTT_LIVE, "SRTO_TRANSTYPE")?;
    set_int(id, sys::SRTO_RCVSYN, 0, "SRTO_RCVSYN")?;
    set_int(id, sys::SRTO_SNDSYN, 0, "SRTO_SNDSYN")?;
    let linger = libc::linger {
        l_onoff: 0,
        l_linger: 0,
    };
    // SAFETY: `linger` is a valid struct linger for the call.
    if unsafe {
        sys::srt_setsockflag(
            id,
            sys::SRTO_LINGER,
            (&raw const linger).cast(),
            size_of::<libc::linger>() as c_int,
        )
    } < 0
    {
        return Err(SrtError::last("SRTO_LINGER"));
    }
    set_int(
        id,
        sys::SRTO_LATENCY,
        opts.latency_ms.min(i32::MAX as u32) as c_int,
        "SRTO_LATENCY",
    )?;
    if let Some(pass) = &opts.passphrase {
        set_bytes(id, sys::SRTO_PASSPHRASE, pass.as_bytes(), "SRTO_PASSPHRASE")?;
        set_int(
            id,
            sys::SRTO_PBKEYLEN,
            c_int::from(opts.pbkeylen),
            "SRTO_PBKEYLEN",
        )?;
    }
    std::mem::forget(guard);
    Ok(id)
}

fn set_int(
    id: sys::SRTSOCKET,
    opt: c_int,
    value: c_int,
    name: &'static str,
) -> Result<(), SrtError> {
    // SAFETY: `value` is a valid int for the duration of the call.
    let rc = unsafe {
        sys::srt_setsockflag(
            id,
            opt,
            (&raw const value).cast(),
            size_of::<c_int>() as c_int,
        )
    };
    if rc < 0 {
        Err(SrtError::last(name))
    } else {
        Ok(())
    }
}

fn set_bytes(
    id: sys::SRTSOCKET,
    opt: c_int,
    value: &[u8],
    name: &'static str,
) -> Result<(), SrtError> {
    // SAFETY: `value` is valid for its length.
    let rc = unsafe { sys::srt_setsockflag(id, opt, value.as_ptr().cast(), value.len() as c_int) };
    if rc < 0 {
        Err(SrtError::last(name))
    } else {
        Ok(())
    }
}

fn get_string(id: sys::SRTSOCKET, opt: c_int) -> Option<String> {
    let mut buf = [0u8; 600];
    let mut len = buf.len() as c_int;
    // SAFETY: `buf` is writable for `len` bytes.
    let rc = unsafe { sys::srt_getsockflag(id, opt, buf.as_mut_ptr().cast(), &mut len) };
    if rc < 0 {
        return None;
    }
    let len = (len.max(0) as usize).min(buf.len());
    Some(
        String::from_utf8_lossy(&buf[..len])
            .trim_end_matches('\0')
            .to_owned(),
    )
}

fn state(id: sys::SRTSOCKET) -> c_int {
    // SAFETY: plain call on a socket id.
    unsafe { sys::srt_getsockstate(id) }
}

/// The calling thread's last libsrt error code.
pub(crate) fn last_error() -> c_int {
    // SAFETY: a null errno pointer is allowed.
    unsafe { sys::srt_getlasterror(std::ptr::null_mut()) }
}

/// The calling thread's last libsrt error message.
pub(crate) fn last_error_str() -> String {
    // SAFETY: returns a pointer to a thread-local NUL-terminated string (or null).
    unsafe {
        let p = sys::srt_getlasterror_str();
        if p.is_null() {
            String::new()
        } else {
            CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    }
}

fn is_closed(code: c_int) -> bool {
    matches!(
        code,
        sys::SRT_ECONNLOST | sys::SRT_ENOCONN | sys::SRT_EINVSOCK
    )
}

fn zeroed_storage() -> libc::sockaddr_storage {
    // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

fn sockaddr_of(
    id: sys::SRTSOCKET,
    f: unsafe extern "C" fn(sys::SRTSOCKET, *mut libc::sockaddr, *mut c_int) -> c_int,
) -> Option<SocketAddr> {
    let mut storage = zeroed_storage();
    let mut len = size_of::<libc::sockaddr_storage>() as c_int;
    // SAFETY: `storage` is writable for `len` bytes.
    if unsafe { f(id, (&raw mut storage).cast(), &mut len) } < 0 {
        return None;
    }
    // SAFETY: libsrt filled a sockaddr in `storage`.
    unsafe { from_sockaddr((&raw const storage).cast()) }
}

fn to_sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, c_int) {
    let mut storage = zeroed_storage();
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*a.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is large and aligned enough for any sockaddr.
            unsafe { std::ptr::write((&raw mut storage).cast(), sin) };
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above.
            unsafe { std::ptr::write((&raw mut storage).cast(), sin6) };
            size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as c_int)
}

/// Reads a sockaddr written by libsrt or the OS.
///
/// # Safety
/// `p` must be null or point to a valid `sockaddr_in` / `sockaddr_in6` (per its family).
unsafe fn from_sockaddr(p: *const libc::sockaddr) -> Option<SocketAddr> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees a valid sockaddr, whose family tells its real type.
    unsafe {
        match c_int::from((*p).sa_family) {
            libc::AF_INET => {
                let sin = &*(p as *const libc::sockaddr_in);
                let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                Some(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(sin.sin_port),
                )))
            }
            libc::AF_INET6 => {
                let sin6 = &*(p as *const libc::sockaddr_in6);
                let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                Some(SocketAddr::V6(SocketAddrV6::new(
                    ip,
                    u16::from_be(sin6.sin6_port),
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }
}
