//! HTTP-FLV: a live FLV file per viewer, streamed with chunked transfer encoding.

use bytes::Bytes;
use futures_util::Stream;
use weir_flv::{amf0, tag};
use weir_hub::{Reader, ReaderEvent};

use crate::rtmp::FlvEgress;

/// Most hub events batched into one body chunk.
const MAX_BATCH: usize = 128;

/// The body of one HTTP-FLV response: the FLV header, metadata, decoder configurations, then
/// frames as they arrive. Ends when the publisher ends.
pub(crate) fn body(
    reader: Reader,
    conn: u64,
    peer: std::net::SocketAddr,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let egress = FlvEgress::new(reader.info().clone());
    let reader = Viewer { reader, conn, peer };
    futures_util::stream::unfold(
        (reader, egress, false, false),
        |(mut reader, mut egress, mut started, mut header)| async move {
            let mut out = Vec::new();
            if !started && !egress.info().tracks.is_empty() {
                write_start(&mut out, &egress, &mut header);
                started = true;
            }
            let mut next = Some(reader.recv().await);
            let mut batched = 0;
            while let Some(ev) = next.take() {
                match ev {
                    ReaderEvent::Frame(f) => {
                        if started && let Some((ts, header)) = egress.frame_header(&f) {
                            let t = if f.is_video() {
                                tag::TAG_VIDEO
                            } else {
                                tag::TAG_AUDIO
                            };
                            tag::write_tag_parts(&mut out, t, ts, &[header.as_slice(), &f.data]);
                        }
                    }
                    ReaderEvent::Tracks(info) => {
                        egress.set_info(info);
                        write_start(&mut out, &egress, &mut header);
                        started = true;
                    }
                    ReaderEvent::Ended(_) => {
                        if out.is_empty() {
                            return None;
                        }
                        break;
                    }
                }
                batched += 1;
                if batched < MAX_BATCH {
                    next = reader.try_recv();
                }
            }
            Some((Ok(Bytes::from(out)), (reader, egress, started, header)))
        },
    )
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
