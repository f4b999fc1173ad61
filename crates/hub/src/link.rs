//! Transport statistics of the connections attached to a stream.

use std::time::SystemTime;

/// Transport-level statistics of one connection (the publisher's ingest link, or one
/// reader's egress link), as its protocol reports them. Fields a protocol does not measure
/// stay zero. Updated by the connection about once a second.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkStats {
    /// Protocol (`srt`, ...).
    pub protocol: &'static str,
    /// Peer address.
    pub remote: String,
    /// Smoothed round-trip time, milliseconds.
    pub rtt_ms: f64,
    /// Packets received.
    pub packets_received: u64,
    /// Packets sent.
    pub packets_sent: u64,
    /// Packets found missing on receive (before any retransmission).
    pub packets_lost: u64,
    /// Packets retransmitted (sent again by this side, or, for a receiver, asked for again).
    pub packets_retransmitted: u64,
    /// Packets given up on: too late to play (receive) or to send.
    pub packets_dropped: u64,
    /// Receive rate, kbit/s.
    pub receive_kbps: f64,
    /// Send rate, kbit/s.
    pub send_kbps: f64,
    /// Data held in the receive (or send) buffer, milliseconds.
    pub buffer_ms: u32,
    /// Negotiated latency, milliseconds.
    pub latency_ms: u32,
    /// Container-level continuity errors found in what was received (MPEG-TS CC errors).
    pub continuity_errors: u64,
    /// When these figures were taken.
    pub updated: SystemTime,
}
