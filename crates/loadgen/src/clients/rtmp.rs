//! RTMP players, with the sans-IO client of `weir-rtmp`.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weir_rtmp::{ClientEvent, ClientSession};

use super::{PlayerCtx, PlayerState, READ_BUF, connect};

/// Plays until the stream ends or fails (`Err` with the reason); the caller's deadline stops it
/// otherwise.
pub async fn play(ctx: &PlayerCtx, st: &mut PlayerState) -> Result<(), String> {
    let url = ctx
        .target
        .rtmp
        .as_ref()
        .ok_or_else(|| "not an RTMP target".to_owned())?;
    let mut sock = connect(ctx).await?;
    let mut session = ClientSession::new(url.config());
    session.play(&url.stream).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; READ_BUF];
    loop {
        if session.has_output() {
            sock.write_all(&session.take_output())
                .await
                .map_err(|e| format!("write: {e}"))?;
        }
        let n = sock
            .read(&mut buf)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("server closed the connection".into());
        }
        st.media.bytes(n);
        session
            .handle_input(&buf[..n])
            .map_err(|e| format!("rtmp: {e}"))?;
        while let Some(ev) = session.poll_event() {
            match ev {
                ClientEvent::PlayStarted { .. } => {
                    st.connected();
                    if ctx.target.stall {
                        return super::stall(&mut sock, ctx).await;
                    }
                }
                ClientEvent::Video { timestamp, body } => st.media.video(timestamp, body),
                ClientEvent::Audio { timestamp, body } => st.media.audio(timestamp, body),
                ClientEvent::Unpublished { .. } => return Ok(()),
                ClientEvent::StreamEof { .. } => return Ok(()),
                ClientEvent::Error { code, description } => {
                    return Err(format!("{code}: {description}"));
                }
                ClientEvent::Connected
                | ClientEvent::StreamCreated { .. }
                | ClientEvent::PublishStarted { .. }
                | ClientEvent::Metadata(_)
                | ClientEvent::Status { .. } => {}
            }
        }
    }
}
