//! AMF0 decoding of arbitrary bytes: never panics, and whatever decodes re-encodes to bytes
//! that decode to the same values (NaN numbers compare equal to NaN).
//!
//! Seeds: `fuzz/seeds/amf0/`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_flv::amf0::{self, Amf0Value};

fuzz_target!(|data: &[u8]| {
    let Ok(values) = amf0::decode_all(data) else {
        return;
    };
    if let Ok((first, used)) = amf0::decode(data) {
        assert!(used <= data.len());
        assert!(values.first().is_some_and(|v| same(v, &first)));
    }
    let encoded = amf0::encode_all(&values);
    let again = amf0::decode_all(&encoded).expect("re-encoded AMF0 must decode");
    assert!(
        all_same(&values, &again),
        "round trip changed {values:?} into {again:?}"
    );
});

fn all_same(a: &[Amf0Value], b: &[Amf0Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
}

fn same_number(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// Equality where NaN equals NaN.
fn same(a: &Amf0Value, b: &Amf0Value) -> bool {
    use Amf0Value as V;
    match (a, b) {
        (V::Number(x), V::Number(y)) => same_number(*x, *y),
        (V::Date { millis: x, tz: tx }, V::Date { millis: y, tz: ty }) => {
            tx == ty && same_number(*x, *y)
        }
        (V::Object(x), V::Object(y)) | (V::EcmaArray(x), V::EcmaArray(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, vx), (ky, vy))| kx == ky && same(vx, vy))
        }
        (V::StrictArray(x), V::StrictArray(y)) => all_same(x, y),
        _ => a == b,
    }
}
