//! The binary: embedded defaults, `config default`, config errors, and graceful drain.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use weir_testkit::{self as tk, Weir};

#[test]
fn config_default_prints_a_file_that_loads() {
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["config", "default"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("[rtmp]") && text.contains("listen = \"0.0.0.0:1935\""));
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli_default");
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("default.toml");
    std::fs::write(&f, &text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("--config")
        .arg(&f)
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn config_error_names_the_key() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli_bad");
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.toml");
    std::fs::write(&f, "[hls]\ntarget_duration_ms = \"two seconds\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("--config")
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("hls.target_duration_ms"), "{err}");
}

#[test]
fn sigterm_drains_and_exits_cleanly() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli_sigterm");
    let mut w = Weir::start(env!("CARGO_BIN_EXE_weir"), &dir, "");
    let (status, _, body) = w.get("/");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("/assets/hls.min.js"));
    let (status, _, _) = w.get("/assets/hls.min.js");
    assert_eq!(status, 200);
    w.proc.signal("TERM");
    let code = w.proc.wait_timeout(Duration::from_secs(10));
    assert_eq!(code, Some(0), "log:\n{}", w.log_text());
    assert!(w.log_text().contains("drained"), "{}", w.log_text());
    let _ = tk::free_port();
}
