//! Real-peer test helpers: start the built `weir` binary on free ports, generate a fixture clip
//! with ffmpeg once, publish it, and read streams back with ffmpeg/ffprobe.
//!
//! Every child process is started here and stopped by its own PID when its handle drops.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Frames per second of the fixture clip.
pub const FPS: u32 = 30;
/// Keyframe interval of the fixture clip, in frames (one second).
pub const GOP: u32 = 30;

/// Panics with an install hint when a tool is missing.
pub fn require(tool: &str) {
    let ok = Command::new(tool)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        ok,
        "{tool} is not installed; run ./weir.sh setup (it installs ffmpeg) and retry"
    );
}

/// Panics with an install hint when `tool` cannot run with `args`.
pub fn require_cmd(tool: &str, args: &[&str]) {
    let ok = Command::new(tool)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(ok, "{tool} is not installed; run ./weir.sh setup and retry");
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

/// A UDP port that was free a moment ago on 127.0.0.1.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral UDP port")
}

/// Limits how many heavy (ffmpeg-running) tests run at once in one test binary.
pub struct HeavyPermit;

static HEAVY: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());
/// Heavy tests allowed at once.
pub const MAX_HEAVY: usize = 2;

/// Waits for a slot among [`MAX_HEAVY`] concurrent heavy tests.
pub fn heavy() -> HeavyPermit {
    let (m, cv) = &HEAVY;
    let mut n = m.lock().unwrap_or_else(|e| e.into_inner());
    while *n >= MAX_HEAVY {
        n = cv.wait(n).unwrap_or_else(|e| e.into_inner());
    }
    *n += 1;
    HeavyPermit
}

impl Drop for HeavyPermit {
    fn drop(&mut self) {
        let (m, cv) = &HEAVY;
        *m.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        cv.notify_one();
    }
}

/// A child process killed (by its PID) when dropped.
pub struct Proc {
    /// The child.
    pub child: Child,
    name: String,
}

impl Proc {
    /// Starts `cmd`, naming it for messages.
    pub fn spawn(name: &str, cmd: &mut Command) -> Proc {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc {
            child,
            name: name.to_owned(),
        }
    }

    /// Sends a signal to the child (by PID).
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status();
    }

    /// Waits up to `timeout` for the child to exit; returns its exit code.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<i32> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Whether the child is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = &self.name;
    }
}

/// A running Weir server on free loopback ports.
pub struct Weir {
    /// The process.
    pub proc: Proc,
    /// RTMP port.
    pub rtmp_port: u16,
    /// HTTP port.
    pub http_port: u16,
    /// SRT port (UDP).
    pub srt_port: u16,
    /// File the server logs to.
    pub log: PathBuf,
}

impl Weir {
    /// Starts `bin` (the `weir` binary) with `extra` TOML appended to a loopback config.
    pub fn start(bin: &str, dir: &Path, extra: &str) -> Weir {
        std::fs::create_dir_all(dir).expect("create test dir");
        let rtmp_port = free_port();
        let http_port = free_port();
        let srt_port = free_udp_port();
        let cfg = dir.join("weir.toml");
        let base = format!(
            "[server]\ndrain_timeout_ms = 2000\n[rtmp]\nlisten = \"127.0.0.1:{rtmp_port}\"\n[http]\nlisten = \"127.0.0.1:{http_port}\"\n[srt]\nlisten = \"127.0.0.1:{srt_port}\"\n"
        );
        let toml = merge_toml(&base, extra);
        std::fs::write(&cfg, toml).expect("write config");
        let log = dir.join("weir.log");
        let logf = std::fs::File::create(&log).expect("create log");
        let proc = Proc::spawn(
            "weir",
            Command::new(bin)
                .arg("--config")
                .arg(&cfg)
                .env("RUST_LOG", "info")
                .stdout(Stdio::null())
                .stderr(logf),
        );
        let w = Weir {
            proc,
            rtmp_port,
            http_port,
            srt_port,
            log,
        };
        let end = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", w.http_port)).is_err()
            || TcpStream::connect(("127.0.0.1", w.rtmp_port)).is_err()
        {
            assert!(
                Instant::now() < end,
                "weir did not start listening; log:\n{}",
                w.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        w
    }

    /// `rtmp://127.0.0.1:PORT/path`.
    pub fn rtmp(&self, path: &str) -> String {
        format!("rtmp://127.0.0.1:{}/{path}", self.rtmp_port)
    }

    /// `srt://127.0.0.1:PORT?streamid=STREAMID`, the streamid written as is (as ffmpeg and
    /// srt-live-transmit users write it: neither decodes %-escapes in it).
    pub fn srt(&self, streamid: &str) -> String {
        format!("srt://127.0.0.1:{}?streamid={streamid}", self.srt_port)
    }

    /// `http://127.0.0.1:PORT/path`.
    pub fn http(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.http_port)
    }

    /// The server's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the server process is still running.
    pub fn alive(&mut self) -> bool {
        self.proc.running()
    }

    /// A plain HTTP/1.1 GET: (status, headers, body). `raw_path` is sent as is.
    pub fn get(&self, raw_path: &str) -> (u16, String, Vec<u8>) {
        http_get(self.http_port, raw_path)
    }

    /// Waits until the API lists `path` (`app/stream`) with two tracks.
    pub fn wait_live(&self, path: &str) {
        let probe_path = format!("/{path}.flv");
        // The stream is live once the API lists it with tracks.
        let ok = wait_until(Duration::from_secs(15), || {
            let (_, _, body) = self.get("/api/v1/streams");
            let j: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            j["streams"].as_array().is_some_and(|a| {
                a.iter().any(|s| {
                    s["path"] == path && s["tracks"].as_array().is_some_and(|t| t.len() == 2)
                })
            })
        });
        assert!(
            ok,
            "{probe_path} never went live; log:\n{}",
            self.log_text()
        );
    }

    /// Waits until `path` answers 200 (for example a playlist with segments).
    pub fn wait_http_ok(&self, raw_path: &str, timeout: Duration) -> Vec<u8> {
        let end = Instant::now() + timeout;
        loop {
            let (status, _, body) = self.get(raw_path);
            if status == 200 {
                return body;
            }
            assert!(
                Instant::now() < end,
                "{raw_path} not 200 within {timeout:?} (last {status}); log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Merges two simple TOML documents (section headers and `key = value` lines) section by section.
fn merge_toml(base: &str, extra: &str) -> String {
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    for doc in [base, extra] {
        let mut current = String::new();
        for line in doc.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if line.starts_with("[[") {
                // An array of tables: every header is a new element.
                current = format!("{line}#{}", sections.len());
                sections.push((current.clone(), Vec::new()));
            } else if line.starts_with('[') {
                current = line.to_owned();
                if !sections.iter().any(|(h, _)| *h == current) {
                    sections.push((current.clone(), Vec::new()));
                }
            } else if let Some((_, lines)) = sections.iter_mut().find(|(h, _)| *h == current) {
                lines.push(line.to_owned());
            }
        }
    }
    sections
        .into_iter()
        .map(|(h, lines)| {
            let h = h
                .split_once("]]#")
                .map_or(h.clone(), |(h, _)| format!("{h}]]"));
            format!("{h}\n{}\n", lines.join("\n"))
        })
        .collect()
}

/// A minimal HTTP/1.1 GET with `Connection: close`; the path is sent exactly as given.
pub fn http_get(port: u16, raw_path: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect HTTP");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    write!(
        s,
        "GET {raw_path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("send request");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(buf.len());
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut body = buf.get(split + 4..).unwrap_or_default().to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(p) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..p]).trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        let start = p + 2;
        let Some(chunk) = b.get(start..start + n) else {
            break;
        };
        out.extend_from_slice(chunk);
        b = b.get(start + n + 2..).unwrap_or_default();
    }
    out
}

/// The fixture clip: 10 s of testsrc2 1280x720 at 30 fps, H.264 (1 s GOP, B-frames) + AAC
/// 44.1 kHz stereo, in FLV. Made once per machine in the temp dir.
pub fn clip() -> PathBuf {
    static CLIP: OnceLock<PathBuf> = OnceLock::new();
    CLIP.get_or_init(|| {
        require("ffmpeg");
        let dir = std::env::temp_dir().join("weir-fixtures");
        std::fs::create_dir_all(&dir).expect("fixture dir");
        let path = dir.join("testsrc2-720p30-h264-aac-10s-v1.flv");
        if path.exists() {
            return path;
        }
        let tmp = dir.join(format!("clip-{}.tmp.flv", std::process::id()));
        let out = Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=1280x720:rate=30",
                "-f",
                "lavfi",
                "-i",
            ])
            .arg("sine=frequency=440:sample_rate=44100")
            .args([
                "-t", "10", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g",
                "30", "-bf", "2",
            ])
            .args([
                "-b:v", "2500k", "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-f", "flv",
            ])
            .arg(&tmp)
            .output()
            .expect("run ffmpeg");
        assert!(
            out.status.success(),
            "ffmpeg could not make the fixture: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::rename(&tmp, &path).expect("move fixture into place");
        path
    })
    .clone()
}

/// Publishes the fixture clip in a loop, in real time, to `url` (RTMP).
pub fn publish(url: &str) -> Proc {
    let clip = clip();
    Proc::spawn(
        "ffmpeg publisher",
        Command::new("ffmpeg")
            .args(["-v", "error", "-re", "-stream_loop", "-1", "-i"])
            .arg(clip)
            .args(["-c", "copy", "-f", "flv", url])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
}

/// One stream as ffprobe reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbedStream {
    /// `video` or `audio`.
    pub kind: String,
    /// Codec name (`h264`, `aac`).
    pub codec: String,
    /// Width for video.
    pub width: u64,
    /// Height for video.
    pub height: u64,
}

/// Runs ffprobe on `url` and returns its streams.
pub fn probe(url: &str) -> Vec<ProbedStream> {
    let out = run_bounded(
        Command::new("ffprobe").args([
            "-v",
            "error",
            "-rw_timeout",
            "10000000",
            "-of",
            "json",
            "-show_streams",
            url,
        ]),
        Duration::from_secs(30),
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("ffprobe {url}: bad JSON ({e}); stderr: {}", out.stderr));
    j["streams"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| ProbedStream {
                    kind: s["codec_type"].as_str().unwrap_or("").to_owned(),
                    codec: s["codec_name"].as_str().unwrap_or("").to_owned(),
                    width: s["width"].as_u64().unwrap_or(0),
                    height: s["height"].as_u64().unwrap_or(0),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What decoding a stream for a while produced.
#[derive(Debug, Clone, Default)]
pub struct Decoded {
    /// Video frames decoded.
    pub video_frames: u64,
    /// Audio frames decoded.
    pub audio_frames: u64,
    /// ffmpeg's error output (empty when clean).
    pub errors: String,
    /// Wall-clock time the decode took.
    pub elapsed: Duration,
    /// PTS (seconds) of the first video frame.
    pub first_video_pts: Option<f64>,
}

/// Decodes `seconds` of media from `url` with ffmpeg, counting frames per stream.
pub fn decode(url: &str, seconds: u32) -> Decoded {
    decode_args(url, seconds, &[])
}

/// Like [`decode`], with extra input options.
pub fn decode_args(url: &str, seconds: u32, input_args: &[&str]) -> Decoded {
    let start = Instant::now();
    let out = run_bounded(
        Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-rw_timeout", "10000000"])
            .args(input_args)
            .args(["-i", url, "-t", &seconds.to_string(), "-f", "framecrc", "-"]),
        Duration::from_secs(seconds as u64 + 30),
    );
    let mut d = Decoded {
        errors: out.stderr,
        elapsed: start.elapsed(),
        ..Default::default()
    };
    // framecrc lines: "stream, dts, pts, duration, size, crc"; the header gives each stream's
    // type as "#media_type N: video".
    let text = String::from_utf8_lossy(&out.stdout);
    let mut kinds = std::collections::HashMap::new();
    let mut timebases = std::collections::HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("#media_type ") {
            if let Some((n, k)) = rest.split_once(": ") {
                kinds.insert(n.trim().to_owned(), k.trim().to_owned());
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("#tb ") {
            if let Some((n, tb)) = rest.split_once(": ") {
                let (a, b) = tb.trim().split_once('/').unwrap_or(("1", "1"));
                timebases.insert(
                    n.trim().to_owned(),
                    a.parse::<f64>().unwrap_or(1.0) / b.parse::<f64>().unwrap_or(1.0),
                );
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        let Some(idx) = cols.first() else { continue };
        match kinds.get(*idx).map(String::as_str) {
            Some("video") => {
                d.video_frames += 1;
                if d.first_video_pts.is_none() {
                    let pts = cols
                        .get(2)
                        .and_then(|p| p.parse::<f64>().ok())
                        .unwrap_or(0.0);
                    d.first_video_pts = Some(pts * timebases.get(*idx).copied().unwrap_or(1.0));
                }
            }
            Some("audio") => d.audio_frames += 1,
            _ => {}
        }
    }
    d
}

/// Output of a bounded command.
pub struct Output {
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error, as text.
    pub stderr: String,
    /// Whether the command exited with status 0 (false when it was killed at the limit).
    pub status_ok: bool,
}

/// Runs `cmd` to completion, killing it (by PID) after `limit`.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> Output {
    let mut p = Proc::spawn(
        "tool",
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let mut so = p.child.stdout.take().expect("piped stdout");
    let mut se = p.child.stderr.take().expect("piped stderr");
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let code = p.wait_timeout(limit);
    if code.is_none() {
        let _ = p.child.kill();
        let _ = p.child.wait();
    }
    Output {
        status_ok: code == Some(0),
        stdout: t_out.join().unwrap_or_default(),
        stderr: String::from_utf8_lossy(&t_err.join().unwrap_or_default()).into_owned(),
    }
}

/// Polls `f` until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Asserts H.264 1280x720 + AAC, ≥ 90 % of the expected frames, and no decode errors.
pub fn assert_plays(url: &str, seconds: u32) -> Decoded {
    let streams = probe(url);
    let video = streams
        .iter()
        .find(|s| s.kind == "video")
        .unwrap_or_else(|| panic!("{url}: no video in {streams:?}"));
    assert_eq!(
        (video.codec.as_str(), video.width, video.height),
        ("h264", 1280, 720),
        "{url}"
    );
    assert!(
        streams
            .iter()
            .any(|s| s.kind == "audio" && s.codec == "aac"),
        "{url}: no AAC in {streams:?}"
    );
    let d = decode(url, seconds);
    let expected = (seconds * FPS) as u64;
    assert!(
        d.video_frames * 10 >= expected * 9,
        "{url}: {} of {expected} video frames; errors: {}",
        d.video_frames,
        d.errors
    );
    // AAC at 44.1 kHz: 1024 samples per frame.
    let expected_audio = (seconds as u64 * 44100) / 1024;
    assert!(
        d.audio_frames * 10 >= expected_audio * 9,
        "{url}: {} of {expected_audio} audio frames",
        d.audio_frames
    );
    assert!(
        d.errors.trim().is_empty(),
        "{url}: decode errors:\n{}",
        d.errors
    );
    assert!(
        d.elapsed < Duration::from_secs(seconds as u64 + 15),
        "{url}: took {:?}",
        d.elapsed
    );
    d
}

/// A UDP relay on loopback that impairs the path between a client and a server: it delays
/// every datagram by a fixed time in both directions and drops a share of the client's
/// datagrams (deterministically, from a fixed seed). The kernels these tests run on have no
/// `sch_netem`, so this stands in for `tc qdisc ... netem loss 5% delay 20ms` on the
/// publisher's link. Stops (and joins its threads) when dropped.
pub struct LossyRelay {
    /// The address clients send to.
    pub addr: std::net::SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    /// Datagrams dropped so far (client to server).
    pub dropped: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl LossyRelay {
    /// Relays to `server` (UDP), dropping `loss_percent` % of client datagrams and delaying
    /// each datagram by `delay`, for at most `max_life`.
    pub fn start(
        server: std::net::SocketAddr,
        loss_percent: u32,
        delay: Duration,
        max_life: Duration,
    ) -> LossyRelay {
        use std::collections::VecDeque;
        use std::net::UdpSocket;
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        use std::sync::{Arc, Mutex};

        let front = UdpSocket::bind("127.0.0.1:0").expect("relay bind");
        let back = UdpSocket::bind("127.0.0.1:0").expect("relay bind");
        back.connect(server).expect("relay connect");
        for s in [&front, &back] {
            s.set_read_timeout(Some(Duration::from_millis(1))).ok();
        }
        let addr = front.local_addr().expect("relay addr");
        let stop = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicU64::new(0));
        let client: Arc<Mutex<Option<std::net::SocketAddr>>> = Arc::new(Mutex::new(None));
        let (front, back) = (Arc::new(front), Arc::new(back));
        let deadline = Instant::now() + max_life;
        let mut threads = Vec::new();
        for upstream in [true, false] {
            let (front, back, stop, dropped, client) = (
                front.clone(),
                back.clone(),
                stop.clone(),
                dropped.clone(),
                client.clone(),
            );
            threads.push(std::thread::spawn(move || {
                let mut queue: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
                let mut buf = [0u8; 2048];
                let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let got = if upstream {
                        front.recv_from(&mut buf).ok().map(|(n, from)| {
                            *client.lock().unwrap_or_else(|e| e.into_inner()) = Some(from);
                            n
                        })
                    } else {
                        back.recv(&mut buf).ok()
                    };
                    if let Some(n) = got {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        if upstream && (rng % 100) < u64::from(loss_percent) {
                            dropped.fetch_add(1, Ordering::Relaxed);
                        } else if queue.len() < 100_000 {
                            queue.push_back((Instant::now() + delay, buf[..n].to_vec()));
                        }
                    }
                    while queue.front().is_some_and(|(due, _)| *due <= Instant::now()) {
                        let (_, data) = queue.pop_front().expect("front exists");
                        if upstream {
                            let _ = back.send(&data);
                        } else if let Some(c) = *client.lock().unwrap_or_else(|e| e.into_inner()) {
                            let _ = front.send_to(&data, c);
                        }
                    }
                }
            }));
        }
        LossyRelay {
            addr,
            stop,
            threads,
            dropped,
        }
    }
}

impl Drop for LossyRelay {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// What [`browser_play`] saw: the JSON object that `crates/weir/tests/js/play.mjs` prints.
#[derive(Debug, Clone)]
pub struct BrowserReport {
    /// The driver's verdict: the player became ready, the video advanced, no player error.
    pub ok: bool,
    /// Whether the video started playing (`window.weirPlayer.ready` on the `/play/` page).
    pub ready: bool,
    /// `weirPlayer.mode` (`ll`, `hls`, `fmp4`, `dash`), when the page has a `weirPlayer`.
    pub mode: Option<String>,
    /// `weirPlayer.engine` (`hls.js`, `dash.js`, `native`).
    pub engine: Option<String>,
    /// `video.currentTime` at the first sample, s.
    pub first_time: f64,
    /// `video.currentTime` at the last sample, s.
    pub last_time: f64,
    /// `last_time - first_time`: how far the video played while sampled, s.
    pub advanced_s: f64,
    /// `weirPlayer.latency` every 500 ms (only the samples where it was known), s.
    pub latency_samples: Vec<f64>,
    /// Median of `latency_samples`.
    pub latency_median: Option<f64>,
    /// Median of the `weirPlayer.bitrateKbps` samples.
    pub bitrate_kbps: Option<f64>,
    /// `weirPlayer.errors` at the end: fatal player errors and unavailable sources.
    pub errors: Vec<String>,
    /// `weirPlayer.warnings`: errors the player recovered from.
    pub warnings: Vec<String>,
    /// Console errors and uncaught exceptions of the page.
    pub console_errors: Vec<String>,
    /// The screenshot, when one was taken.
    pub screenshot: Option<PathBuf>,
    /// The driver's own failure (never ready, timeout, no browser), if any.
    pub error: Option<String>,
    /// The whole JSON object.
    pub json: serde_json::Value,
    /// The driver's standard error.
    pub stderr: String,
}

/// The headless-Chromium driver script.
pub fn browser_driver() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../weir/tests/js/play.mjs")
}

/// Loads `page_url` in headless Chromium (Playwright from `web/node_modules`, the system
/// `/usr/bin/chromium`), waits for its video to play (at most 30 s), samples it every 500 ms
/// for `seconds`, saves a screenshot to `screenshot` and reports. Bounded in time; panics with
/// the driver's stderr when it prints no JSON.
pub fn browser_play(page_url: &str, seconds: u32, screenshot: &Path) -> BrowserReport {
    require_cmd("node", &["--version"]);
    const READY_TIMEOUT_S: u64 = 30;
    let script = browser_driver();
    let out = run_bounded(
        Command::new("node")
            .arg(&script)
            .arg(page_url)
            .arg(seconds.to_string())
            .arg(screenshot)
            .arg(READY_TIMEOUT_S.to_string()),
        // The driver bounds itself at READY + seconds + 40 s; this is the backstop.
        Duration::from_secs(READY_TIMEOUT_S + u64::from(seconds) + 70),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: serde_json::Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l.trim()).ok())
        .unwrap_or_else(|| {
            panic!(
                "the browser driver ({}) printed no JSON for {page_url}\nstdout:\n{stdout}\nstderr:\n{}",
                script.display(),
                out.stderr
            )
        });
    let f = |k: &str| json[k].as_f64();
    let s = |k: &str| json[k].as_str().map(str::to_owned);
    let strings = |k: &str| -> Vec<String> {
        json[k]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    BrowserReport {
        ok: json["ok"].as_bool().unwrap_or(false),
        ready: json["ready"].as_bool().unwrap_or(false),
        mode: s("mode"),
        engine: s("engine"),
        first_time: f("first_time").unwrap_or(0.0),
        last_time: f("last_time").unwrap_or(0.0),
        advanced_s: f("advanced_s").unwrap_or(0.0),
        latency_samples: json["latency_samples"]
            .as_array()
            .map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect())
            .unwrap_or_default(),
        latency_median: f("latency_median"),
        bitrate_kbps: f("bitrate_kbps"),
        errors: strings("errors"),
        warnings: strings("warnings"),
        console_errors: strings("console_errors"),
        screenshot: s("screenshot").map(PathBuf::from),
        error: s("error"),
        stderr: out.stderr,
        json,
    }
}

/// CPU time (user + system, seconds) a process has used, from `/proc/PID/stat`.
pub fn proc_cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 (1-based) of the whole line: 11 and 12 here.
    (ticks(11) + ticks(12)) / 100.0
}
