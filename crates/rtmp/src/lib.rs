//! RTMP for Weir, sans-IO: handshake, chunk stream, messages, AMF0 commands, a server session
//! and a client session (to play or publish, see [`client`]).
//!
//! Implements the Adobe RTMP specification 1.0 (December 2012): the plain handshake and the
//! digest ("complex") handshake some encoders send, all four chunk header formats, extended
//! timestamps, Set Chunk Size, Abort, Acknowledgement, Window Acknowledgement Size, Set Peer
//! Bandwidth and User Control ping; and the NetConnection/NetStream commands used by OBS, ffmpeg
//! and players. Enhanced RTMP (H.265) tag bodies are handled by `weir-flv`.
//!
//! Nothing here touches a socket or a clock. The run loop of a connection is:
//!
//! ```text
//! loop {
//!     let n = socket.read(&mut buf)?;            // the I/O shell reads
//!     session.handle_input(&buf[..n])?;           // bytes in
//!     socket.write_all(&session.take_output())?;  // bytes out (handshake, replies, acks)
//!     while let Some(ev) = session.poll_event() { /* publish/play requests, media */ }
//! }
//! ```

pub mod chunk;
pub mod client;
pub mod command;
mod error;
pub mod handshake;
pub mod ingest;
pub mod message;
pub mod session;

pub use client::{ClientConfig, ClientEvent, ClientSession, RtmpUrl};
pub use error::RtmpError;
pub use session::{ServerEvent, ServerSession, SessionConfig};
