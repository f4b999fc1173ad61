//! Codec bitstream helpers: NAL unit framing, parameter-set parsing, AAC configuration.
//!
//! Everything here parses untrusted bytes: no panics, no unchecked indexing.

pub mod aac;
pub mod bits;
pub mod h264;
pub mod h265;
pub mod nal;

/// Why a codec bitstream could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The data ended before a field.
    #[error("codec data truncated while reading {0}")]
    Truncated(&'static str),
    /// A field holds an impossible value.
    #[error("invalid codec data: {0}")]
    Invalid(&'static str),
    /// Valid but not supported by Weir.
    #[error("unsupported codec feature: {0}")]
    Unsupported(String),
}
