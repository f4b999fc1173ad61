//! FLV tags and AMF0 for Weir (sans-IO).
//!
//! - [`amf0`]: AMF0 values for RTMP commands and FLV script data.
//! - [`tag`] (re-exported at the crate root): the meaning of RTMP/FLV video and audio message
//!   bodies ([`parse_video`], [`parse_audio`]), building them from Weir frames
//!   ([`config_body`], [`frame_body`], [`write_frame_body`]), and FLV file framing
//!   ([`file_header`], [`write_tag`], [`FlvReader`]).
//!
//! Nothing here does I/O; every parser takes untrusted bytes and never panics on them.

pub mod amf0;
pub mod tag;

pub use tag::*;
