//! HTTP-FLV players: one HTTP/1.1 GET, then FLV tags parsed from the (chunked) body.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weir_flv::{FlvReader, TAG_AUDIO, TAG_VIDEO};

use super::{PlayerCtx, PlayerState, READ_BUF, connect};
use crate::http::{BodyDecoder, parse_head};

/// Plays until the body ends or fails (`Err` with the reason); the caller's deadline stops it
/// otherwise.
pub async fn play(ctx: &PlayerCtx, st: &mut PlayerState) -> Result<(), String> {
    let mut sock = connect(ctx).await?;
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: weir-loadgen\r\nAccept: */*\r\n\r\n",
        ctx.target.path,
        ctx.target.host_header()
    );
    sock.write_all(req.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = vec![0u8; READ_BUF];
    let mut head = Vec::new();
    let mut reader = FlvReader::new();
    let mut body: Option<BodyDecoder> = None;
    loop {
        let n = sock
            .read(&mut buf)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("server closed the connection".into());
        }
        st.media.bytes(n);
        let mut data = &buf[..n];
        let dec = match &mut body {
            Some(d) => d,
            None => {
                head.extend_from_slice(data);
                let Some((h, len)) = parse_head(&head).map_err(|e| format!("http: {e}"))? else {
                    continue;
                };
                if h.status != 200 {
                    return Err(format!("HTTP {}", h.status));
                }
                st.connected();
                if ctx.target.stall {
                    return super::stall(&mut sock, ctx).await;
                }
                let consumed_before = head.len() - data.len();
                data = &data[len - consumed_before..];
                head = Vec::new();
                body.insert(BodyDecoder::new(h.framing))
            }
        };
        dec.feed(data, |b| reader.push(b))
            .map_err(|e| format!("http: {e}"))?;
        loop {
            match reader.next_tag() {
                Ok(Some(tag)) => match tag.tag_type {
                    TAG_VIDEO => st.media.video(tag.timestamp_ms, tag.body),
                    TAG_AUDIO => st.media.audio(tag.timestamp_ms, tag.body),
                    _ => {}
                },
                Ok(None) => break,
                Err(e) => return Err(format!("flv: {e}")),
            }
        }
        if dec.done() {
            return Ok(());
        }
    }
}
