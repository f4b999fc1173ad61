//! A libsrt listener and caller talking over loopback.

use std::sync::Arc;
use std::time::Duration;

use weir_srt::{
    Admitted, CallerConfig, ListenerConfig, Mode, RejectReason, Rejection, SrtError, SrtListener,
    SrtOptions, connect,
};

fn listener(options: SrtOptions) -> SrtListener {
    let admit = Arc::new(|req: &weir_srt::AdmitRequest<'_>| {
        match (req.streamid.mode, req.streamid.resource.as_str()) {
            (_, "live/busy") => Err(Rejection::new(RejectReason::Conflict, "busy")),
            (Mode::Read, "live/missing") => Err(Rejection::new(RejectReason::NotFound, "missing")),
            (_, "live/secret") => Ok(Admitted {
                passphrase: Some(Some("per-path-secret".into())),
                latency_ms: Some(300),
            }),
            _ => Ok(Admitted::default()),
        }
    });
    let cfg = ListenerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        options,
        backlog: 16,
    };
    SrtListener::bind(&cfg, admit).expect("bind")
}

fn caller(l: &SrtListener, streamid: &str, passphrase: Option<&str>) -> CallerConfig {
    CallerConfig {
        remote: l.local_addr().expect("local addr"),
        streamid: streamid.into(),
        options: SrtOptions {
            latency_ms: 120,
            passphrase: passphrase.map(Into::into),
            pbkeylen: 16,
        },
        connect_timeout: Duration::from_secs(2),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_flow_both_ways_in_order() {
    let l = listener(SrtOptions::default());
    let cfg = caller(&l, "publish:live/a", None);
    let (server, client) = tokio::join!(l.accept(), connect(&cfg));
    let (server, client) = (server.expect("accept"), client.expect("connect"));
    assert_eq!(server.streamid(), "publish:live/a");
    assert!(server.peer_addr().is_some());

    // A burst bigger than a GOP flush: 2000 messages of 1316 bytes, sent at once.
    let n = 2000u32;
    let send = async {
        for i in 0..n {
            let mut msg = vec![0u8; weir_srt::TS_PAYLOAD];
            msg[..4].copy_from_slice(&i.to_be_bytes());
            client.send(&msg).await.expect("send");
        }
    };
    let recv = async {
        let mut buf = [0u8; 1500];
        for i in 0..n {
            let len = tokio::time::timeout(Duration::from_secs(5), server.recv(&mut buf))
                .await
                .expect("recv timed out")
                .expect("recv");
            assert_eq!(len, weir_srt::TS_PAYLOAD);
            assert_eq!(u32::from_be_bytes(buf[..4].try_into().unwrap()), i);
        }
    };
    tokio::join!(send, recv);
    let stats = server.stats(false).expect("stats");
    assert!(stats.packets_received >= i64::from(n), "{stats:?}");
    assert_eq!(stats.packets_dropped, 0);

    // The server answers back.
    server.send(b"pong").await.expect("send back");
    let mut buf = [0u8; 1500];
    let len = client.recv(&mut buf).await.expect("recv back");
    assert_eq!(&buf[..len], b"pong");

    // Closing one side ends the other.
    drop(client);
    let end = tokio::time::timeout(Duration::from_secs(10), server.recv(&mut buf)).await;
    assert_eq!(end.expect("close not seen"), Err(SrtError::Closed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_carry_their_reason() {
    let addr_l = listener(SrtOptions::default());
    for (sid, code) in [
        ("publish:live/busy", 1409),
        ("read:live/missing", 1404),
        ("#!::r=live/a,m=bidirectional", 1405),
        ("#!::m=publish", 1400),
    ] {
        let err = connect(&caller(&addr_l, sid, None)).await.expect_err(sid);
        match err {
            SrtError::Rejected { code: c, .. } => assert_eq!(c, code, "{sid}"),
            other => panic!("{sid}: {other}"),
        }
    }
    // Nothing rejected reaches accept.
    let pending = tokio::time::timeout(Duration::from_millis(300), addr_l.accept()).await;
    assert!(pending.is_err(), "a rejected caller was accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passphrases_global_and_per_path() {
    let l = listener(SrtOptions {
        passphrase: Some("global-secret".into()),
        ..SrtOptions::default()
    });
    let addr = &l;
    // Wrong and missing passphrases are refused by libsrt with its own reasons.
    for pass in [Some("wrong-secret!"), None] {
        let err = connect(&caller(addr, "publish:live/a", pass))
            .await
            .expect_err("refused");
        assert!(matches!(err, SrtError::Rejected { .. }), "{err}");
    }
    // The per-path passphrase replaces the global one.
    let err = connect(&caller(addr, "publish:live/secret", Some("global-secret")))
        .await
        .expect_err("global passphrase on a per-path stream");
    assert!(matches!(err, SrtError::Rejected { .. }), "{err}");
    let cfg = caller(addr, "publish:live/secret", Some("per-path-secret"));
    let (server, client) = tokio::join!(l.accept(), connect(&cfg));
    let (server, client) = (server.expect("accept"), client.expect("connect"));
    client.send(b"encrypted hello").await.unwrap();
    let mut buf = [0u8; 1500];
    let len = tokio::time::timeout(Duration::from_secs(3), server.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..len], b"encrypted hello");
    assert_eq!(server.stats(false).unwrap().receive_latency_ms, 300);
    // And the global one works on other paths.
    let cfg = caller(addr, "publish:live/b", Some("global-secret"));
    let (s2, c2) = tokio::join!(l.accept(), connect(&cfg));
    s2.expect("accept");
    c2.expect("connect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_to_nobody_times_out() {
    let cfg = CallerConfig {
        remote: "127.0.0.1:9".parse().unwrap(),
        streamid: "read:live/x".into(),
        options: SrtOptions::default(),
        connect_timeout: Duration::from_millis(500),
    };
    let started = std::time::Instant::now();
    let err = connect(&cfg).await.expect_err("nobody listens");
    assert!(started.elapsed() < Duration::from_secs(3), "{err}");
}
