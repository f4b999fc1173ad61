//! SRT (Secure Reliable Transport) for Weir.
//!
//! The protocol engine is Debian's libsrt 1.5 (`libsrt-openssl-dev`), reached through a small
//! hand-written FFI ([`sys`](crate) is private) and bridged to tokio by one epoll thread; see
//! `docs/adr/0004-srt-libsrt.md` for why and for the measurement behind the choice. The
//! streamid grammar ([`StreamId`]) is pure Rust and fuzzable.
//!
//! - [`SrtListener`] binds a UDP port and admits callers during the handshake through an
//!   [`AdmitFn`], which sees the parsed streamid and may set a per-connection passphrase and
//!   latency, or reject with an SRT [`RejectReason`].
//! - [`connect`] is the caller (client) side, used to pull remote sources and push to remote
//!   listeners.
//! - [`SrtSocket`] sends and receives live-mode messages and reports [`SrtStats`].

mod engine;
mod socket;
mod streamid;
mod sys;
mod url;

pub use engine::version;
pub use socket::{
    AdmitFn, AdmitRequest, Admitted, CallerConfig, ListenerConfig, Rejection, SrtListener,
    SrtOptions, SrtSocket, connect,
};
pub use streamid::{MAX_STREAMID_LEN, Mode, StreamId, StreamIdError};
pub use url::{SrtUrl, SrtUrlError};

/// Largest payload of one live-mode message (1500-byte MTU minus UDP/IP and SRT headers).
pub const MAX_PAYLOAD: usize = sys::SRT_LIVE_MAX_PLSIZE;

/// The customary payload: seven 188-byte MPEG-TS packets.
pub const TS_PAYLOAD: usize = 1316;

/// An SRT failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SrtError {
    /// A libsrt call failed.
    #[error("{call} failed: {message} (libsrt error {code})")]
    Call {
        /// The function or option.
        call: &'static str,
        /// libsrt's error code (`SRT_ERRNO`).
        code: i32,
        /// libsrt's message.
        message: String,
    },
    /// The listener rejected the connection.
    #[error("connection rejected: {reason} ({code})")]
    Rejected {
        /// The rejection code: below 1000 libsrt's own (`SRT_REJ_*`), 1000 and above the
        /// application's (`SRT_REJX_*`, HTTP-like).
        code: i32,
        /// Its description.
        reason: String,
    },
    /// The connection was closed or broke.
    #[error("connection closed")]
    Closed,
    /// The handshake did not finish in time.
    #[error("connection timed out")]
    Timeout,
    /// A message larger than [`MAX_PAYLOAD`].
    #[error("message of {0} bytes exceeds the SRT live payload limit")]
    TooLarge(usize),
}

impl SrtError {
    /// The calling thread's last libsrt error, attributed to `call`.
    pub(crate) fn last(call: &'static str) -> Self {
        Self::Call {
            call,
            code: socket::last_error(),
            message: socket::last_error_str(),
        }
    }
}

/// Rejection reasons an admission function can give, from SRT's access-control codes
/// (`SRT_REJX_*` in `<srt/access_control.h>`, modelled on HTTP status codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum RejectReason {
    /// 1400: the streamid is malformed (or the path is invalid).
    BadRequest = 1400,
    /// 1401: authentication failed (bad stream key or token).
    Unauthorized = 1401,
    /// 1402: too many connections.
    Overload = 1402,
    /// 1403: access denied.
    Forbidden = 1403,
    /// 1404: no such stream to read.
    NotFound = 1404,
    /// 1405: the `m=` mode is not supported.
    BadMode = 1405,
    /// 1409: the path is already being published.
    Conflict = 1409,
    /// 1415: the `t=` type is not supported.
    UnsupportedMedia = 1415,
    /// 1500: an internal error.
    Internal = 1500,
    /// 1503: the service is shutting down.
    Unavailable = 1503,
}

impl RejectReason {
    /// A short name for logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::BadRequest => "bad request",
            Self::Unauthorized => "unauthorized",
            Self::Overload => "overload",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not found",
            Self::BadMode => "bad mode",
            Self::Conflict => "conflict",
            Self::UnsupportedMedia => "unsupported media",
            Self::Internal => "internal error",
            Self::Unavailable => "unavailable",
        }
    }

    /// The reason for a numeric code, if it is one of ours.
    pub fn from_code(code: i32) -> Option<Self> {
        [
            Self::BadRequest,
            Self::Unauthorized,
            Self::Overload,
            Self::Forbidden,
            Self::NotFound,
            Self::BadMode,
            Self::Conflict,
            Self::UnsupportedMedia,
            Self::Internal,
            Self::Unavailable,
        ]
        .into_iter()
        .find(|r| *r as i32 == code)
    }
}

/// Describes a rejection code: libsrt's own text below 1000, the access-control name above.
pub fn describe_reject(code: i32) -> String {
    if let Some(r) = RejectReason::from_code(code) {
        return r.name().to_owned();
    }
    if code < 1000 {
        // SAFETY: libsrt returns a static NUL-terminated string for any id.
        let p = unsafe { sys::srt_rejectreason_str(code) };
        if !p.is_null() {
            // SAFETY: as above.
            return unsafe { std::ffi::CStr::from_ptr(p) }
                .to_string_lossy()
                .into_owned();
        }
    }
    format!("rejection code {code}")
}

/// Statistics of one SRT connection (from `srt_bstats`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SrtStats {
    /// Smoothed round-trip time, milliseconds.
    pub rtt_ms: f64,
    /// Data packets received (including retransmissions).
    pub packets_received: i64,
    /// Data packets sent (including retransmissions).
    pub packets_sent: i64,
    /// Packets detected lost on receive.
    pub packets_lost: i64,
    /// Packets reported lost by the receiver on send.
    pub packets_send_lost: i64,
    /// Packets retransmitted by this side.
    pub packets_retransmitted: i64,
    /// Retransmitted packets received in the current interval.
    pub packets_retransmitted_received: i64,
    /// Packets dropped on receive because they arrived too late to play.
    pub packets_dropped: i64,
    /// Packets dropped on send because they were too late to send.
    pub packets_send_dropped: i64,
    /// Packets that could not be decrypted.
    pub packets_undecrypted: i64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Payload bytes sent.
    pub bytes_sent: u64,
    /// Receive rate over the current interval, Mbit/s.
    pub receive_mbps: f64,
    /// Send rate over the current interval, Mbit/s.
    pub send_mbps: f64,
    /// Estimated link bandwidth, Mbit/s.
    pub bandwidth_mbps: f64,
    /// Data waiting in the receive buffer, milliseconds (the buffer delay).
    pub receive_buffer_ms: i32,
    /// Negotiated receive latency (TSBPD delay), milliseconds.
    pub receive_latency_ms: i32,
    /// Unacknowledged data in the send buffer, milliseconds.
    pub send_buffer_ms: i32,
}

impl SrtStats {
    fn from_raw(r: &sys::SRT_TRACEBSTATS) -> Self {
        Self {
            rtt_ms: r.msRTT,
            packets_received: r.pktRecvTotal,
            packets_sent: r.pktSentTotal,
            packets_lost: i64::from(r.pktRcvLossTotal),
            packets_send_lost: i64::from(r.pktSndLossTotal),
            packets_retransmitted: i64::from(r.pktRetransTotal),
            packets_retransmitted_received: i64::from(r.pktRcvRetrans),
            packets_dropped: i64::from(r.pktRcvDropTotal),
            packets_send_dropped: i64::from(r.pktSndDropTotal),
            packets_undecrypted: i64::from(r.pktRcvUndecryptTotal),
            bytes_received: r.byteRecvTotal,
            bytes_sent: r.byteSentTotal,
            receive_mbps: r.mbpsRecvRate,
            send_mbps: r.mbpsSendRate,
            bandwidth_mbps: r.mbpsBandwidth,
            receive_buffer_ms: r.msRcvBuf,
            receive_latency_ms: r.msRcvTsbPdDelay,
            send_buffer_ms: r.msSndBuf,
        }
    }
}
