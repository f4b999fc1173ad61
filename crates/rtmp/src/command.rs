//! NetConnection and NetStream commands (spec section 7.2), parsed into a typed enum, and the
//! replies a server sends.

use weir_flv::amf0::Amf0Value;

/// A command from a client. Unknown names are kept (`Other`) and answered with `_error` when
/// they expect a result.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `connect(txid, {app, tcUrl, ...})`.
    Connect {
        /// Transaction id.
        tx: f64,
        /// The `app` property, with any `?query`.
        app: String,
        /// The `tcUrl` property, if sent.
        tc_url: Option<String>,
        /// The `objectEncoding` property (0 = AMF0, 3 = AMF3).
        object_encoding: f64,
    },
    /// `releaseStream(txid, null, name)`.
    ReleaseStream {
        /// Transaction id.
        tx: f64,
        /// Stream name.
        name: String,
    },
    /// `FCPublish(txid, null, name)`.
    FcPublish {
        /// Transaction id.
        tx: f64,
        /// Stream name.
        name: String,
    },
    /// `FCUnpublish(txid, null, name)`.
    FcUnpublish {
        /// Transaction id.
        tx: f64,
        /// Stream name.
        name: String,
    },
    /// `createStream(txid, null)`.
    CreateStream {
        /// Transaction id.
        tx: f64,
    },
    /// `publish(0, null, name, type)`.
    Publish {
        /// Transaction id.
        tx: f64,
        /// Stream name, with any `?query`.
        name: String,
        /// Publishing type: `live`, `record` or `append`.
        kind: String,
    },
    /// `play(0, null, name, start, duration, reset)`.
    Play {
        /// Transaction id.
        tx: f64,
        /// Stream name, with any `?query`.
        name: String,
    },
    /// `deleteStream(txid, null, stream_id)`.
    DeleteStream {
        /// Transaction id.
        tx: f64,
        /// The message stream to delete.
        stream_id: u32,
    },
    /// `closeStream(0, null)`.
    CloseStream {
        /// Transaction id.
        tx: f64,
    },
    /// `getStreamLength(txid, null, name)`, sent by some players before play.
    GetStreamLength {
        /// Transaction id.
        tx: f64,
    },
    /// Any other command.
    Other {
        /// Command name.
        name: String,
        /// Transaction id (0 when none).
        tx: f64,
    },
}

/// Why a command could not be understood; answered with `_error` and the connection closed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("command {name:?} (transaction {tx}): {reason}")]
pub struct CommandError {
    /// Command name, if one could be read.
    pub name: String,
    /// Transaction id, if one could be read.
    pub tx: f64,
    /// What was wrong.
    pub reason: String,
}

impl Command {
    /// Parses the AMF0 values of a command message.
    pub fn parse(values: &[Amf0Value]) -> Result<Command, CommandError> {
        let name = match values.first().and_then(Amf0Value::as_str) {
            Some(n) => n.to_owned(),
            None => {
                return Err(CommandError {
                    name: String::new(),
                    tx: 0.0,
                    reason: "first value is not a command name".into(),
                });
            }
        };
        let tx = values.get(1).and_then(Amf0Value::as_f64).unwrap_or(0.0);
        let err = |reason: &str| CommandError {
            name: name.clone(),
            tx,
            reason: reason.to_owned(),
        };
        let arg_str = |i: usize, what: &str| -> Result<String, CommandError> {
            values
                .get(i)
                .and_then(Amf0Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| err(&format!("missing {what}")))
        };
        Ok(match name.as_str() {
            "connect" => {
                let obj = values.get(2).ok_or_else(|| err("missing command object"))?;
                let app = obj
                    .get("app")
                    .and_then(Amf0Value::as_str)
                    .ok_or_else(|| err("missing 'app' property"))?;
                Command::Connect {
                    tx,
                    app: app.to_owned(),
                    tc_url: obj
                        .get("tcUrl")
                        .and_then(Amf0Value::as_str)
                        .map(str::to_owned),
                    object_encoding: obj
                        .get("objectEncoding")
                        .and_then(Amf0Value::as_f64)
                        .unwrap_or(0.0),
                }
            }
            "releaseStream" => Command::ReleaseStream {
                tx,
                name: arg_str(3, "stream name").unwrap_or_default(),
            },
            "FCPublish" => Command::FcPublish {
                tx,
                name: arg_str(3, "stream name").unwrap_or_default(),
            },
            "FCUnpublish" => Command::FcUnpublish {
                tx,
                name: arg_str(3, "stream name").unwrap_or_default(),
            },
            "createStream" => Command::CreateStream { tx },
            "publish" => Command::Publish {
                tx,
                name: arg_str(3, "stream name")?,
                kind: values
                    .get(4)
                    .and_then(Amf0Value::as_str)
                    .unwrap_or("live")
                    .to_owned(),
            },
            "play" => Command::Play {
                tx,
                name: arg_str(3, "stream name")?,
            },
            "deleteStream" => Command::DeleteStream {
                tx,
                stream_id: values
                    .get(3)
                    .and_then(Amf0Value::as_f64)
                    .map_or(0, |v| v as u32),
            },
            "closeStream" => Command::CloseStream { tx },
            "getStreamLength" => Command::GetStreamLength { tx },
            _ => Command::Other { name, tx },
        })
    }
}

fn obj(pairs: &[(&str, Amf0Value)]) -> Amf0Value {
    Amf0Value::object(pairs)
}

fn s(v: &str) -> Amf0Value {
    Amf0Value::String(v.to_owned())
}

/// `_result` for `connect`.
pub fn connect_result(tx: f64) -> Vec<Amf0Value> {
    vec![
        s("_result"),
        Amf0Value::Number(tx),
        obj(&[
            ("fmsVer", s("FMS/3,5,7,7009")),
            ("capabilities", Amf0Value::Number(31.0)),
            ("mode", Amf0Value::Number(1.0)),
        ]),
        obj(&[
            ("level", s("status")),
            ("code", s("NetConnection.Connect.Success")),
            ("description", s("Connection succeeded.")),
            ("objectEncoding", Amf0Value::Number(0.0)),
        ]),
    ]
}

/// A plain `_result(tx, null, value)`.
pub fn result(tx: f64, value: Amf0Value) -> Vec<Amf0Value> {
    vec![s("_result"), Amf0Value::Number(tx), Amf0Value::Null, value]
}

/// `_error(tx, null, {level: error, code, description})`.
pub fn error(tx: f64, code: &str, description: &str) -> Vec<Amf0Value> {
    vec![
        s("_error"),
        Amf0Value::Number(tx),
        Amf0Value::Null,
        obj(&[
            ("level", s("error")),
            ("code", s(code)),
            ("description", s(description)),
        ]),
    ]
}

/// `onStatus(0, null, {level, code, description})`.
pub fn on_status(level: &str, code: &str, description: &str) -> Vec<Amf0Value> {
    vec![
        s("onStatus"),
        Amf0Value::Number(0.0),
        Amf0Value::Null,
        obj(&[
            ("level", s(level)),
            ("code", s(code)),
            ("description", s(description)),
        ]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_connect_and_publish() {
        let connect = vec![
            s("connect"),
            Amf0Value::Number(1.0),
            obj(&[("app", s("live?key=1")), ("tcUrl", s("rtmp://h/live"))]),
        ];
        assert_eq!(
            Command::parse(&connect).unwrap(),
            Command::Connect {
                tx: 1.0,
                app: "live?key=1".into(),
                tc_url: Some("rtmp://h/live".into()),
                object_encoding: 0.0
            }
        );
        let publish = vec![
            s("publish"),
            Amf0Value::Number(5.0),
            Amf0Value::Null,
            s("mystream"),
            s("live"),
        ];
        assert_eq!(
            Command::parse(&publish).unwrap(),
            Command::Publish {
                tx: 5.0,
                name: "mystream".into(),
                kind: "live".into()
            }
        );
    }

    #[test]
    fn malformed_commands_are_errors() {
        assert!(Command::parse(&[Amf0Value::Number(1.0)]).is_err());
        let e =
            Command::parse(&[s("connect"), Amf0Value::Number(1.0), Amf0Value::Null]).unwrap_err();
        assert!(e.reason.contains("app"), "{e}");
        let e =
            Command::parse(&[s("publish"), Amf0Value::Number(2.0), Amf0Value::Null]).unwrap_err();
        assert_eq!(e.tx, 2.0);
        assert!(matches!(
            Command::parse(&[s("_checkbw"), Amf0Value::Number(3.0)]),
            Ok(Command::Other { .. })
        ));
    }
}
