use weir_flv::amf0::Amf0Error;

/// Everything that ends an RTMP connection, with enough context to find the offending bytes.
#[derive(Debug, thiserror::Error)]
pub enum RtmpError {
    /// C0 carried a version other than 3: this is not an RTMP client.
    #[error("handshake: version byte {0:#04x} is not RTMP (3); not an RTMP client")]
    BadVersion(u8),
    /// A chunk-stream error.
    #[error(transparent)]
    Chunk(#[from] crate::chunk::ChunkError),
    /// A protocol control or command message was malformed.
    #[error("message type {type_id} on chunk stream {csid}: {reason}")]
    BadMessage {
        /// Message type id.
        type_id: u8,
        /// Chunk stream id.
        csid: u32,
        /// What was wrong.
        reason: String,
    },
    /// An AMF0 payload could not be decoded.
    #[error("AMF0 in message type {type_id} on chunk stream {csid}: {source}")]
    Amf0 {
        /// Message type id.
        type_id: u8,
        /// Chunk stream id.
        csid: u32,
        /// The decoding error, with its byte offset.
        source: Amf0Error,
    },
    /// The peer broke the command sequence (e.g. publish before connect).
    #[error("protocol violation: {0}")]
    Protocol(String),
}
