//! `weir-loadgen`: a load generator for live media servers (Weir, nginx-rtmp, SRS, ...).
//!
//! It opens many concurrent players from one process and every player really parses what it
//! receives: RTMP through the sans-IO client of `weir-rtmp`, HTTP-FLV through a small HTTP/1.1
//! reader and the FLV reader of `weir-flv`. Each counts bytes, video/audio frames and
//! keyframes, checks timestamp continuity and notes the time to the first keyframe. A run is
//! bounded in players and time, loopback-only unless told otherwise, and stops by itself; it
//! reads the server's CPU and RSS from `/proc/<pid>` so the figures do not depend on the client.
//!
//! A publisher ([`publish`]) paces a pre-encoded FLV in real time and stamps every H.264 access
//! unit with its wall-clock send time in an SEI NAL unit ([`sei`]); every player reads the stamp
//! back, so the server-added latency is measured without trusting the server's timestamps.
//!
//! Modules: [`clients`] (one per protocol: RTMP, HTTP-FLV, HLS/LL-HLS pollers), [`fmp4`] (what LL-HLS
//! pollers parse), [`media`] (what every player checks), [`sei`] (the
//! stamp), [`latency`] (the shared histogram), [`publish`], [`stats`] (the report), [`run`]
//! (ramp, window, join), [`procfs`], [`http`], [`target`].

pub mod clients;
pub mod fmp4;
pub mod http;
pub mod latency;
pub mod media;
pub mod procfs;
pub mod publish;
pub mod run;
pub mod sei;
pub mod stats;
pub mod target;
