//! RTMP message types (spec sections 5.4, 6.2 and 7.1) parsed from [`RawMessage`]s.

use bytes::Bytes;
use weir_flv::amf0::{self, Amf0Value};

use crate::RtmpError;
use crate::chunk::RawMessage;

/// Message type ids.
pub mod type_id {
    /// Set Chunk Size.
    pub const SET_CHUNK_SIZE: u8 = 1;
    /// Abort Message.
    pub const ABORT: u8 = 2;
    /// Acknowledgement.
    pub const ACK: u8 = 3;
    /// User Control Message.
    pub const USER_CONTROL: u8 = 4;
    /// Window Acknowledgement Size.
    pub const WINDOW_ACK_SIZE: u8 = 5;
    /// Set Peer Bandwidth.
    pub const SET_PEER_BANDWIDTH: u8 = 6;
    /// Audio data.
    pub const AUDIO: u8 = 8;
    /// Video data.
    pub const VIDEO: u8 = 9;
    /// Data message, AMF3.
    pub const DATA_AMF3: u8 = 15;
    /// Command message, AMF3.
    pub const COMMAND_AMF3: u8 = 17;
    /// Data message, AMF0.
    pub const DATA_AMF0: u8 = 18;
    /// Command message, AMF0.
    pub const COMMAND_AMF0: u8 = 20;
}

/// User Control event types (spec 7.1.7).
pub mod user_control {
    /// Stream Begin.
    pub const STREAM_BEGIN: u16 = 0;
    /// Stream EOF.
    pub const STREAM_EOF: u16 = 1;
    /// Stream Dry.
    pub const STREAM_DRY: u16 = 2;
    /// Set Buffer Length.
    pub const SET_BUFFER_LENGTH: u16 = 3;
    /// Stream Is Recorded.
    pub const STREAM_IS_RECORDED: u16 = 4;
    /// Ping Request.
    pub const PING_REQUEST: u16 = 6;
    /// Ping Response.
    pub const PING_RESPONSE: u16 = 7;
}

/// A parsed RTMP message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Set Chunk Size.
    SetChunkSize(u32),
    /// Abort the message on a chunk stream.
    Abort(u32),
    /// Acknowledgement with the peer's received byte count.
    Ack(u32),
    /// User Control event with its data.
    UserControl {
        /// Event type.
        event: u16,
        /// Event data (stream id, timestamp, ...).
        data: Bytes,
    },
    /// Window Acknowledgement Size.
    WindowAckSize(u32),
    /// Set Peer Bandwidth.
    SetPeerBandwidth {
        /// Window size.
        size: u32,
        /// Limit type (0 hard, 1 soft, 2 dynamic).
        limit: u8,
    },
    /// Audio data (an FLV audio tag body).
    Audio(Bytes),
    /// Video data (an FLV video tag body).
    Video(Bytes),
    /// A data message (`@setDataFrame`, `onMetaData`, ...).
    Data(Vec<Amf0Value>),
    /// A command message.
    Command(Vec<Amf0Value>),
    /// A message type Weir does not handle; ignored.
    Unknown(u8),
}

impl Message {
    /// Parses a raw message.
    pub fn parse(raw: &RawMessage) -> Result<Message, RtmpError> {
        let p = &raw.payload[..];
        let bad = |reason: &str| RtmpError::BadMessage {
            type_id: raw.type_id,
            csid: raw.csid,
            reason: reason.to_owned(),
        };
        let u32_at = |i: usize| -> Result<u32, RtmpError> {
            p.get(i..i + 4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or_else(|| bad("truncated"))
        };
        let amf = |data: &[u8]| {
            amf0::decode_all(data).map_err(|source| RtmpError::Amf0 {
                type_id: raw.type_id,
                csid: raw.csid,
                source,
            })
        };
        use type_id::*;
        Ok(match raw.type_id {
            SET_CHUNK_SIZE => Message::SetChunkSize(u32_at(0)?),
            ABORT => Message::Abort(u32_at(0)?),
            ACK => Message::Ack(u32_at(0)?),
            USER_CONTROL => {
                let ev = p.get(0..2).ok_or_else(|| bad("truncated user control"))?;
                Message::UserControl {
                    event: u16::from_be_bytes([ev[0], ev[1]]),
                    data: raw.payload.slice(2..),
                }
            }
            WINDOW_ACK_SIZE => Message::WindowAckSize(u32_at(0)?),
            SET_PEER_BANDWIDTH => Message::SetPeerBandwidth {
                size: u32_at(0)?,
                limit: *p.get(4).ok_or_else(|| bad("truncated"))?,
            },
            AUDIO => Message::Audio(raw.payload.clone()),
            VIDEO => Message::Video(raw.payload.clone()),
            DATA_AMF0 => Message::Data(amf(p)?),
            COMMAND_AMF0 => Message::Command(amf(p)?),
            // AMF3 messages whose body starts with a 0 format byte carry AMF0 (as ffmpeg and
            // Flash send them when objectEncoding is 3).
            DATA_AMF3 | COMMAND_AMF3 => {
                let body = match p.first() {
                    Some(0) => &p[1..],
                    _ => p,
                };
                if raw.type_id == DATA_AMF3 {
                    Message::Data(amf(body)?)
                } else {
                    Message::Command(amf(body)?)
                }
            }
            t => Message::Unknown(t),
        })
    }
}

/// Builders for outgoing protocol control messages: (type id, payload).
pub mod control {
    use super::type_id;

    /// Set Chunk Size.
    pub fn set_chunk_size(size: u32) -> (u8, Vec<u8>) {
        (
            type_id::SET_CHUNK_SIZE,
            (size & 0x7FFF_FFFF).to_be_bytes().to_vec(),
        )
    }
    /// Window Acknowledgement Size.
    pub fn window_ack_size(size: u32) -> (u8, Vec<u8>) {
        (type_id::WINDOW_ACK_SIZE, size.to_be_bytes().to_vec())
    }
    /// Set Peer Bandwidth (limit 2 = dynamic).
    pub fn set_peer_bandwidth(size: u32, limit: u8) -> (u8, Vec<u8>) {
        let mut v = size.to_be_bytes().to_vec();
        v.push(limit);
        (type_id::SET_PEER_BANDWIDTH, v)
    }
    /// Acknowledgement.
    pub fn ack(sequence: u32) -> (u8, Vec<u8>) {
        (type_id::ACK, sequence.to_be_bytes().to_vec())
    }
    /// User Control event with a 4-byte argument.
    pub fn user_control(event: u16, arg: u32) -> (u8, Vec<u8>) {
        let mut v = event.to_be_bytes().to_vec();
        v.extend_from_slice(&arg.to_be_bytes());
        (type_id::USER_CONTROL, v)
    }
}
