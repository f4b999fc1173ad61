//! `weir-loadgen`: a load generator for live media servers (Weir, nginx-rtmp, SRS, ...).
//!
//! It opens many concurrent players from one process and every player really parses what it
//! receives: RTMP through the sans-IO client of `weir-rtmp`, HTTP-FLV through a small HTTP/1.1
//! reader and the FLV reader of `weir-flv`. Each counts bytes, video/audio frames and
//! keyframes, checks timestamp continuity and notes the time to the first keyframe. A run is
//! bounded in players and time, loopback-only unless told otherwise, and stops by itself; it
//! reads the server's CPU and RSS from `/proc/<pid>` so the figures do not depend on the client.
//!
//! Modules: [`clients`] (one per protocol), [`media`] (what every player checks), [`stats`]
//! (the report), [`run`] (ramp, window, join), [`procfs`], [`http`], [`target`].

pub mod clients;
pub mod http;
pub mod media;
pub mod procfs;
pub mod run;
pub mod stats;
pub mod target;
