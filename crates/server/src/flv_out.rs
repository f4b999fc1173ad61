//! HTTP-FLV: a live FLV file per viewer, streamed with chunked transfer encoding.

use std::collections::VecDeque;

use bytes::Bytes;
use futures_util::Stream;
use weir_flv::{amf0, tag};
use weir_hub::{Reader, ReaderEvent};

use crate::rtmp::FlvEgress;

/// Most hub events batched into one wake-up.
const MAX_BATCH: usize = 128;
/// Payloads at least this large go out by reference to the frame's bytes, shared by every
/// viewer (each becomes its own HTTP chunk); smaller ones are copied next to their tag headers.
const SHARE_MIN: usize = 1024;

/// The body of one HTTP-FLV response: the FLV header, metadata, decoder configurations, then
/// frames as they arrive. Ends when the publisher ends.
///
/// Each wake-up yields a few chunks: tag headers and small payloads copied together, large
/// payloads as references to the hub's frames. hyper writes the chunks it has with one
/// `writev` and holds at most 16 of them for a viewer that does not read, so a stalled viewer
/// pins shared frames, not a private copy of the stream.
pub(crate) fn body(
    reader: Reader,
    conn: u64,
    peer: std::net::SocketAddr,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let st = BodyState {
        egress: FlvEgress::new(reader.info().clone()),
        reader: Viewer { reader, conn, peer },
        started: false,
        header: false,
        done: false,
        chunks: VecDeque::new(),
        small: Vec::new(),
    };
    futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if let Some(b) = st.chunks.pop_front() {
                return Some((Ok(b), st));
            }
            if st.done {
                return None;
            }
            // The GOP-cache burst at the start queues a hundred chunks or more; keep little.
            if st.chunks.capacity() > 16 {
                st.chunks.shrink_to(8);
            }
            st.next_batch().await;
        }
    })
}

struct BodyState {
    reader: Viewer,
    egress: FlvEgress,
    /// The metadata and decoder configurations went out.
    started: bool,
    /// The FLV file header went out.
    header: bool,
    /// The stream ended: no batch after the one queued.
    done: bool,
    /// Chunks ready to go.
    chunks: VecDeque<Bytes>,
    /// Small bytes gathered for the next chunk.
    small: Vec<u8>,
}

impl BodyState {
    /// Waits for the next hub event, then queues it and whatever else is ready as chunks.
    async fn next_batch(&mut self) {
        if !self.started && !self.egress.info().tracks.is_empty() {
            write_start(&mut self.small, &self.egress, &mut self.header);
            self.started = true;
        }
        let mut next = Some(self.reader.recv().await);
        let mut batched = 0;
        while let Some(ev) = next.take() {
            match ev {
                ReaderEvent::Frame(f) => {
                    if self.started {
                        self.queue_frame(&f);
                    }
                }
                ReaderEvent::Tracks(info) => {
                    self.egress.set_info(info);
                    write_start(&mut self.small, &self.egress, &mut self.header);
                    self.started = true;
                }
                ReaderEvent::Ended(_) => {
                    self.done = true;
                    break;
                }
            }
            batched += 1;
            if batched < MAX_BATCH {
                next = self.reader.try_recv();
            }
        }
        self.flush_small();
    }

    fn queue_frame(&mut self, f: &weir_media::Frame) {
        let Some((ts, header)) = self.egress.frame_header(f) else {
            return;
        };
        let prefix = header.as_slice();
        let len = prefix.len() + f.data.len();
        let t = if f.is_video() {
            tag::TAG_VIDEO
        } else {
            tag::TAG_AUDIO
        };
        let Some(tag_header) = tag::tag_header(t, ts, len) else {
            return;
        };
        self.small.extend_from_slice(&tag_header);
        self.small.extend_from_slice(prefix);
        if f.data.len() >= SHARE_MIN {
            self.flush_small();
            self.chunks.push_back(f.data.clone());
        } else {
            self.small.extend_from_slice(&f.data);
        }
        self.small.extend_from_slice(&tag::prev_tag_size(len));
    }

    fn flush_small(&mut self) {
        if !self.small.is_empty() {
            self.chunks
                .push_back(Bytes::from(std::mem::take(&mut self.small)));
        }
    }
}

fn write_start(out: &mut Vec<u8>, egress: &FlvEgress, header_written: &mut bool) {
    if !*header_written {
        *header_written = true;
        let info = egress.info();
        out.extend_from_slice(&tag::file_header(
            info.audio().is_some(),
            info.video().is_some(),
        ));
    }
    tag::write_tag(
        out,
        tag::TAG_SCRIPT,
        0,
        &amf0::encode_all(&egress.metadata()),
    );
    for (video, body) in egress.configs() {
        tag::write_tag(
            out,
            if video {
                tag::TAG_VIDEO
            } else {
                tag::TAG_AUDIO
            },
            0,
            &body,
        );
    }
}

/// The reader of one HTTP-FLV viewer; logs when the viewer goes.
struct Viewer {
    reader: Reader,
    conn: u64,
    peer: std::net::SocketAddr,
}

impl std::ops::Deref for Viewer {
    type Target = Reader;
    fn deref(&self) -> &Reader {
        &self.reader
    }
}

impl std::ops::DerefMut for Viewer {
    fn deref_mut(&mut self) -> &mut Reader {
        &mut self.reader
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        tracing::info!(
            conn = self.conn,
            proto = "http-flv",
            path = %self.reader.path(),
            peer = %self.peer,
            dropped = self.reader.dropped(),
            "viewer left"
        );
    }
}
