//! The SEI-stamping publisher: reads a pre-encoded FLV file, paces it in real time by its
//! timestamps (looping, with timestamps that keep increasing across loops), and publishes it
//! over RTMP with the client of `weir-rtmp`: metadata and sequence headers first, then every
//! frame at its time. Every H.264 access unit gets a latency stamp ([`crate::sei`]) as its
//! first NAL unit; the time in it is written into the outgoing bytes immediately before they
//! are handed to the socket.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::sleep_until;
use weir_flv::amf0::{self, Amf0Value};
use weir_flv::{FlvReader, TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO, TagBody, parse_audio, parse_video};
use weir_rtmp::{ClientEvent, ClientSession};

use crate::run::MAX_DURATION;
use crate::sei;
use crate::target::{Protocol, Target};

/// Where, in an outgoing RTMP message, the stamp's UUID may start: a chunk header (at most 16
/// bytes), the 5-byte AVC header, an access unit delimiter and the SEI's own header.
const STAMP_SEARCH: usize = 96;
/// How long a write blocked at the deadline, or the polite close, may take.
const HARD_STOP_GRACE: Duration = Duration::from_secs(2);
/// Frame interval assumed when the clip has fewer than two video frames.
const DEFAULT_FRAME_MS: u64 = 33;

/// What to publish.
#[derive(Debug, Clone)]
pub struct PublishConfig {
    /// `rtmp://host[:port]/app/stream`.
    pub url: String,
    /// The FLV file.
    pub input: PathBuf,
    /// Stop after this long (from the start of the connection). `None` means the end of the
    /// file, or [`MAX_DURATION`] when `looped`: a run is always bounded.
    pub duration: Option<Duration>,
    /// Start over at the end of the file.
    pub looped: bool,
    /// Allow a host that is not a loopback address.
    pub allow_remote: bool,
    /// Longest wait for the connection and `NetStream.Publish.Start`.
    pub connect_timeout: Duration,
}

impl PublishConfig {
    /// Checks the bounds.
    pub fn validate(&self) -> Result<(), String> {
        match self.duration {
            Some(d) if d.is_zero() || d > MAX_DURATION => Err(format!(
                "duration must be more than 0 and at most {} s",
                MAX_DURATION.as_secs()
            )),
            _ => Ok(()),
        }
    }
}

/// One tag of the clip, timestamp relative to the clip's first media tag.
#[derive(Debug, Clone)]
struct ClipTag {
    tag_type: u8,
    ts: u64,
    body: Vec<u8>,
}

/// A clip read into memory.
#[derive(Debug, Clone)]
pub struct Clip {
    /// The `onMetaData` properties, if the file has them.
    metadata: Option<Amf0Value>,
    /// Sequence headers found before the first frame, sent once.
    configs: Vec<ClipTag>,
    /// Everything else, in file order.
    media: Vec<ClipTag>,
    /// How far timestamps advance per loop: the clip's span plus one video frame interval.
    loop_ms: u64,
}

impl Clip {
    /// Reads an FLV file's bytes.
    pub fn parse(data: &[u8]) -> Result<Clip, String> {
        let mut r = FlvReader::new();
        r.push(data);
        let mut metadata = None;
        let mut configs = Vec::new();
        let mut raw = Vec::new();
        while let Some(tag) = r.next_tag().map_err(|e| e.to_string())? {
            match tag.tag_type {
                TAG_SCRIPT => {
                    if metadata.is_none()
                        && let Ok(vals) = amf0::decode_all(&tag.body)
                        && vals.first().and_then(Amf0Value::as_str) == Some("onMetaData")
                    {
                        metadata = vals.into_iter().nth(1);
                    }
                }
                TAG_VIDEO | TAG_AUDIO => {
                    let parsed = if tag.tag_type == TAG_VIDEO {
                        parse_video(tag.body.clone())
                    } else {
                        parse_audio(tag.body.clone())
                    };
                    let is_config = matches!(parsed, Ok(TagBody::Config(_)));
                    if is_config && raw.is_empty() {
                        configs.push(ClipTag {
                            tag_type: tag.tag_type,
                            ts: 0,
                            body: tag.body.to_vec(),
                        });
                    } else {
                        raw.push((tag.tag_type, tag.timestamp_ms, tag.body.to_vec()));
                    }
                }
                _ => {}
            }
        }
        if raw.is_empty() {
            return Err("no audio or video frames in the file".into());
        }
        let first = raw.iter().map(|t| t.1).min().unwrap_or(0) as u64;
        let media: Vec<ClipTag> = raw
            .into_iter()
            .map(|(tag_type, ts, body)| ClipTag {
                tag_type,
                ts: ts as u64 - first,
                body,
            })
            .collect();
        let span = media.iter().map(|t| t.ts).max().unwrap_or(0);
        let mut video_ts = media
            .iter()
            .filter(|t| t.tag_type == TAG_VIDEO)
            .map(|t| t.ts);
        let interval = match (video_ts.next(), video_ts.next()) {
            (Some(a), Some(b)) if b > a => b - a,
            _ => DEFAULT_FRAME_MS,
        };
        Ok(Clip {
            metadata,
            configs,
            media,
            loop_ms: span + interval,
        })
    }

    /// Span of one pass, ms.
    pub fn loop_ms(&self) -> u64 {
        self.loop_ms
    }
}

/// What the publisher did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PublishReport {
    /// The URL.
    pub url: String,
    /// Seconds from the start of the connection to the end.
    pub elapsed_s: f64,
    /// Seconds from the start of the connection to `NetStream.Publish.Start`.
    pub connect_s: f64,
    /// Video frames sent (NAL unit packets; sequence headers and end-of-sequence not counted).
    pub video_frames: u64,
    /// Of those, stamped.
    pub stamped_frames: u64,
    /// Audio frames sent.
    pub audio_frames: u64,
    /// Bytes written to the socket.
    pub bytes: u64,
    /// Passes over the clip started.
    pub loops: u64,
    /// The latest a frame went out after its due time, ms (a busy machine shows here).
    pub max_late_ms: f64,
    /// Why the publisher stopped before its end, if it did.
    pub error: Option<String>,
}

/// Connection state shared by the steps of a run.
struct Conn {
    sock: TcpStream,
    session: ClientSession,
    buf: Vec<u8>,
    bytes: u64,
}

impl Conn {
    /// Writes pending output; with `stamp`, writes the send time into the stamp first.
    async fn flush(&mut self, stamp: bool) -> Result<(), String> {
        if !self.session.has_output() {
            return Ok(());
        }
        let mut out = self.session.take_output();
        if stamp {
            sei::restamp(&mut out, STAMP_SEARCH, sei::now_unix_us());
        }
        self.sock
            .write_all(&out)
            .await
            .map_err(|e| format!("write: {e}"))?;
        self.bytes += out.len() as u64;
        Ok(())
    }

    /// Reads once from the socket and handles what came; returns whether publishing started.
    /// Cancel-safe (nothing is written here: [`Conn::flush`] afterwards).
    async fn read_once(&mut self) -> Result<bool, String> {
        let n = self
            .sock
            .read(&mut self.buf)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("server closed the connection".into());
        }
        self.session
            .handle_input(&self.buf[..n])
            .map_err(|e| format!("rtmp: {e}"))?;
        let mut started = false;
        while let Some(ev) = self.session.poll_event() {
            match ev {
                ClientEvent::PublishStarted { .. } => started = true,
                ClientEvent::Error { code, description } => {
                    return Err(format!("{code}: {description}"));
                }
                _ => {}
            }
        }
        Ok(started)
    }
}

/// Publishes until the clip ends (without `looped`) or the duration is up. Fails before
/// connecting on a bad URL, file or non-loopback host; errors after that are in the report.
pub async fn publish(cfg: PublishConfig) -> Result<PublishReport, String> {
    cfg.validate()?;
    let target = Target::parse(&cfg.url).map_err(|e| e.to_string())?;
    let url = match (&target.protocol, &target.rtmp) {
        (Protocol::Rtmp, Some(u)) => u.clone(),
        _ => return Err(format!("{}: the publisher needs an rtmp:// URL", cfg.url)),
    };
    let addr = target
        .resolve(cfg.allow_remote)
        .await
        .map_err(|e| e.to_string())?;
    let data = std::fs::read(&cfg.input).map_err(|e| format!("{}: {e}", cfg.input.display()))?;
    let clip = Clip::parse(&data).map_err(|e| format!("{}: {e}", cfg.input.display()))?;
    drop(data);

    let started = Instant::now();
    let mut report = PublishReport {
        url: cfg.url.clone(),
        ..Default::default()
    };
    let limit = match cfg.duration {
        None if cfg.looped => Some(MAX_DURATION),
        d => d,
    };
    let deadline = limit.map(|d| tokio::time::Instant::from_std(started + d));
    let setup = async {
        let sock = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = sock.set_nodelay(true);
        let mut session = ClientSession::new(url.config());
        session.publish(&url.stream).map_err(|e| e.to_string())?;
        let mut c = Conn {
            sock,
            session,
            buf: vec![0u8; 16 * 1024],
            bytes: 0,
        };
        c.flush(false).await?;
        loop {
            let started = c.read_once().await?;
            c.flush(false).await?;
            if started {
                return Ok::<_, String>(c);
            }
        }
    };
    let mut c = match tokio::time::timeout(cfg.connect_timeout, setup).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            report.error = Some(e);
            report.elapsed_s = started.elapsed().as_secs_f64();
            return Ok(report);
        }
        Err(_) => {
            report.error = Some(format!(
                "no NetStream.Publish.Start within {:?}",
                cfg.connect_timeout
            ));
            report.elapsed_s = started.elapsed().as_secs_f64();
            return Ok(report);
        }
    };
    report.connect_s = started.elapsed().as_secs_f64();
    // The stream stops itself at the deadline between frames; a write blocked past it by a
    // stalled server is cut a little later.
    let res = {
        let run = stream(&mut c, &clip, cfg.looped, deadline, &mut report);
        match deadline {
            Some(d) => tokio::time::timeout_at(d + HARD_STOP_GRACE, run)
                .await
                .unwrap_or_else(|_| Err("a write was still blocked at the end".into())),
            None => run.await,
        }
    };
    match res {
        Ok(()) => {
            c.session.close();
            let _ = tokio::time::timeout(HARD_STOP_GRACE, async {
                let _ = c.flush(false).await;
                let _ = c.sock.shutdown().await;
            })
            .await;
        }
        Err(e) => report.error = Some(e),
    }
    report.bytes = c.bytes;
    report.elapsed_s = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Sends metadata, sequence headers, then the clip in real time. Returns when the clip ended (not looped) or the deadline came.
async fn stream(
    c: &mut Conn,
    clip: &Clip,
    looped: bool,
    deadline: Option<tokio::time::Instant>,
    report: &mut PublishReport,
) -> Result<(), String> {
    let rtmp = |e: weir_rtmp::RtmpError| e.to_string();
    if let Some(m) = &clip.metadata {
        c.session.send_metadata(m.clone()).map_err(rtmp)?;
    }
    for t in &clip.configs {
        if t.tag_type == TAG_VIDEO {
            c.session.send_video(0, &t.body).map_err(rtmp)?;
        } else {
            c.session.send_audio(0, &t.body).map_err(rtmp)?;
        }
    }
    c.flush(false).await?;
    let t0 = tokio::time::Instant::now();
    let mut scratch = Vec::new();
    let mut base = 0u64;
    loop {
        report.loops += 1;
        for t in &clip.media {
            let ts = base + t.ts;
            let due = t0 + Duration::from_millis(ts);
            let wake = deadline.map_or(due, |d| d.min(due));
            // Wait for the frame's time, answering the server meanwhile.
            loop {
                tokio::select! {
                    biased;
                    _ = sleep_until(wake) => break,
                    r = c.read_once() => { r?; }
                }
                c.flush(false).await?;
            }
            if wake < due {
                return Ok(());
            }
            let late = tokio::time::Instant::now().saturating_duration_since(due);
            report.max_late_ms = report.max_late_ms.max(late.as_secs_f64() * 1000.0);
            let ts32 = ts as u32;
            let mut stamped = false;
            if t.tag_type == TAG_VIDEO {
                stamped = sei::stamp_flv_video(&t.body, 0, &mut scratch);
                let body = if stamped { &scratch[..] } else { &t.body[..] };
                c.session.send_video(ts32, body).map_err(rtmp)?;
                if t.body.get(1) == Some(&1) {
                    report.video_frames += 1;
                }
                report.stamped_frames += stamped as u64;
            } else {
                c.session.send_audio(ts32, &t.body).map_err(rtmp)?;
                if t.body.get(1) != Some(&0) {
                    report.audio_frames += 1;
                }
            }
            c.flush(stamped).await?;
        }
        if !looped {
            return Ok(());
        }
        base += clip.loop_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_flv::{file_header, write_tag};

    #[test]
    fn clip_parses_and_loops() {
        let mut f = file_header(true, true).to_vec();
        let meta = amf0::encode_all(&[
            Amf0Value::String("onMetaData".into()),
            Amf0Value::object(&[("width", Amf0Value::Number(1280.0))]),
        ]);
        write_tag(&mut f, TAG_SCRIPT, 0, &meta);
        write_tag(&mut f, TAG_AUDIO, 0, &[0xaf, 0, 0x12, 0x10]);
        write_tag(
            &mut f,
            TAG_VIDEO,
            100,
            &[0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65],
        );
        write_tag(&mut f, TAG_AUDIO, 110, &[0xaf, 1, 0x21]);
        write_tag(
            &mut f,
            TAG_VIDEO,
            140,
            &[0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x41],
        );
        let clip = Clip::parse(&f).unwrap();
        assert!(clip.metadata.is_some());
        assert_eq!(clip.configs.len(), 1);
        assert_eq!(
            clip.media.iter().map(|t| t.ts).collect::<Vec<_>>(),
            [0, 10, 40]
        );
        assert_eq!(clip.loop_ms(), 80);
        assert!(Clip::parse(&file_header(true, true)).is_err());
        assert!(Clip::parse(b"nope").is_err());
    }

    #[test]
    fn bounded() {
        let cfg = PublishConfig {
            url: "rtmp://127.0.0.1/live/x".into(),
            input: "x.flv".into(),
            duration: None,
            looped: true,
            allow_remote: false,
            connect_timeout: Duration::from_secs(1),
        };
        assert!(
            cfg.validate().is_ok(),
            "looped without a duration: the hour cap"
        );
        let zero = PublishConfig {
            duration: Some(Duration::ZERO),
            ..cfg.clone()
        };
        assert!(zero.validate().is_err());
        let ok = PublishConfig {
            duration: Some(Duration::from_secs(5)),
            ..cfg.clone()
        };
        assert!(ok.validate().is_ok());
        let long = PublishConfig {
            duration: Some(Duration::from_secs(7200)),
            ..cfg
        };
        assert!(long.validate().is_err());
    }

    #[tokio::test]
    async fn refuses_remote_and_non_rtmp() {
        let cfg = PublishConfig {
            url: "rtmp://192.0.2.1/live/x".into(),
            input: "/nonexistent.flv".into(),
            duration: Some(Duration::from_secs(1)),
            looped: false,
            allow_remote: false,
            connect_timeout: Duration::from_secs(1),
        };
        let e = publish(cfg.clone()).await.unwrap_err();
        assert!(e.contains("loopback"), "{e}");
        let e = publish(PublishConfig {
            url: "http://127.0.0.1/x.flv".into(),
            ..cfg
        })
        .await
        .unwrap_err();
        assert!(e.contains("rtmp://"), "{e}");
    }
}
