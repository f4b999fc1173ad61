//! FLV/RTMP tag bodies and the FLV file reader on arbitrary bytes: never panic; a parsed
//! decoder configuration survives `config_body` and parsing again; the reader yields the same
//! tags whether the input is pushed at once or in pieces.
//!
//! Seeds: `fuzz/seeds/flv_tag/`.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use weir_flv::{FlvReader, FlvTag, TagBody, TagError, config_body, parse_audio, parse_video};

fuzz_target!(|data: &[u8]| {
    let body = Bytes::copy_from_slice(data);
    let video = parse_video(body.clone());
    let audio = parse_audio(body);
    for (parsed, is_video) in [(video, true), (audio, false)] {
        match parsed {
            Ok(TagBody::Config(codec)) => {
                let Some(rebuilt) = config_body(&codec) else {
                    panic!("parsed config {} has no FLV body", codec.name());
                };
                let again = if is_video {
                    parse_video(rebuilt)
                } else {
                    parse_audio(rebuilt)
                };
                assert_eq!(again, Ok(TagBody::Config(codec)));
            }
            Ok(TagBody::Media { data: payload, .. }) => {
                assert!(!payload.is_empty() && payload.len() < data.len());
            }
            Ok(TagBody::Ignore) | Err(_) => {}
        }
    }

    let mut whole = FlvReader::new();
    whole.push(data);
    let (tags, failed) = drain(&mut whole);

    let mut pieces = FlvReader::new();
    let (mut piece_tags, mut piece_failed) = (Vec::new(), false);
    for chunk in data.chunks(7) {
        pieces.push(chunk);
        let (t, f) = drain(&mut pieces);
        piece_tags.extend(t);
        if f {
            piece_failed = true;
            break;
        }
    }
    assert_eq!(tags, piece_tags);
    assert_eq!(failed, piece_failed);
});

/// Pulls tags until more input is needed (`false`) or the reader fails (`true`).
fn drain(reader: &mut FlvReader) -> (Vec<FlvTag>, bool) {
    let mut tags = Vec::new();
    loop {
        match reader.next_tag() {
            Ok(Some(tag)) => tags.push(tag),
            Ok(None) => return (tags, false),
            Err(TagError::Truncated(_)) => panic!("the reader waits for input instead"),
            Err(_) => return (tags, true),
        }
    }
}
