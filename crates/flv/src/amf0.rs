//! AMF0 (Action Message Format 0) values, as used by RTMP commands and FLV script tags.
//!
//! The decoder reads untrusted input: it never panics, never allocates from a length field
//! before the bytes are there, limits nesting to [`MAX_DEPTH`] and the elements of one object or
//! array to [`MAX_ITEMS`].
//!
//! Supported markers: number (0), boolean (1), string (2), object (3), null (5), undefined (6),
//! ECMA array (8), strict array (10), date (11) and long string (12). Object end (9) is only
//! valid as the terminator of an object or ECMA array. Movie clip (4), reference (7),
//! unsupported (13), XML document (15), typed object (16), the AMF3 switch (17) and unassigned
//! markers are rejected with [`Amf0Error::UnknownMarker`].

/// Marker of a number (IEEE 754 double, big-endian).
pub const MARKER_NUMBER: u8 = 0x00;
/// Marker of a boolean.
pub const MARKER_BOOLEAN: u8 = 0x01;
/// Marker of a string of up to 65535 bytes.
pub const MARKER_STRING: u8 = 0x02;
/// Marker of an anonymous object.
pub const MARKER_OBJECT: u8 = 0x03;
/// Marker of null.
pub const MARKER_NULL: u8 = 0x05;
/// Marker of undefined.
pub const MARKER_UNDEFINED: u8 = 0x06;
/// Marker of an ECMA (associative) array.
pub const MARKER_ECMA_ARRAY: u8 = 0x08;
/// Marker that ends an object or ECMA array (after an empty key).
pub const MARKER_OBJECT_END: u8 = 0x09;
/// Marker of a strict (dense) array.
pub const MARKER_STRICT_ARRAY: u8 = 0x0a;
/// Marker of a date.
pub const MARKER_DATE: u8 = 0x0b;
/// Marker of a string longer than 65535 bytes.
pub const MARKER_LONG_STRING: u8 = 0x0c;

/// Deepest nesting of objects and arrays the decoder accepts: a value with `MAX_DEPTH` nested
/// containers decodes, one more is [`Amf0Error::TooDeep`].
pub const MAX_DEPTH: usize = 32;

/// Most elements (key/value pairs or array items) one object or array may hold when decoded.
pub const MAX_ITEMS: usize = 4096;

/// Longest key or short string AMF0 can carry (16-bit length).
const MAX_SHORT_LEN: usize = u16::MAX as usize;

/// One AMF0 value.
///
/// Objects and ECMA arrays keep their pairs in wire order (keys may repeat; [`Amf0Value::get`]
/// returns the first match).
#[derive(Debug, Clone, PartialEq)]
pub enum Amf0Value {
    /// A number (marker 0).
    Number(f64),
    /// A boolean (marker 1).
    Boolean(bool),
    /// A string (marker 2). Encoded as a long string when longer than 65535 bytes.
    String(String),
    /// An anonymous object (marker 3).
    Object(Vec<(String, Amf0Value)>),
    /// Null (marker 5).
    Null,
    /// Undefined (marker 6).
    Undefined,
    /// An ECMA array (marker 8): key/value pairs like an object.
    EcmaArray(Vec<(String, Amf0Value)>),
    /// A strict array (marker 10).
    StrictArray(Vec<Amf0Value>),
    /// A date (marker 11): milliseconds since the Unix epoch and a time zone (ignored by most
    /// implementations; should be 0).
    Date {
        /// Milliseconds since 1970-01-01T00:00:00Z.
        millis: f64,
        /// Time zone offset in minutes (reserved).
        tz: i16,
    },
    /// A long string (marker 12).
    LongString(String),
}

impl Amf0Value {
    /// An anonymous object from `(key, value)` pairs, in order.
    pub fn object(pairs: &[(&str, Amf0Value)]) -> Amf0Value {
        Amf0Value::Object(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    /// The text of a [`Amf0Value::String`] or [`Amf0Value::LongString`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Amf0Value::String(s) | Amf0Value::LongString(s) => Some(s),
            _ => None,
        }
    }

    /// The value of a [`Amf0Value::Number`].
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Amf0Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The value of a [`Amf0Value::Boolean`].
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Amf0Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The pairs of an [`Amf0Value::Object`] or [`Amf0Value::EcmaArray`].
    pub fn as_pairs(&self) -> Option<&[(String, Amf0Value)]> {
        match self {
            Amf0Value::Object(p) | Amf0Value::EcmaArray(p) => Some(p),
            _ => None,
        }
    }

    /// The value of the first pair named `key` of an [`Amf0Value::Object`] or
    /// [`Amf0Value::EcmaArray`]; `None` for other values or a missing key.
    pub fn get(&self, key: &str) -> Option<&Amf0Value> {
        self.as_pairs()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// True for [`Amf0Value::Null`] and [`Amf0Value::Undefined`].
    pub fn is_null(&self) -> bool {
        matches!(self, Amf0Value::Null | Amf0Value::Undefined)
    }
}

impl From<f64> for Amf0Value {
    fn from(n: f64) -> Self {
        Amf0Value::Number(n)
    }
}

impl From<bool> for Amf0Value {
    fn from(b: bool) -> Self {
        Amf0Value::Boolean(b)
    }
}

impl From<&str> for Amf0Value {
    fn from(s: &str) -> Self {
        Amf0Value::String(s.to_owned())
    }
}

impl From<String> for Amf0Value {
    fn from(s: String) -> Self {
        Amf0Value::String(s)
    }
}

/// Why AMF0 data could not be decoded. Every offset is a byte offset into the decoded buffer.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Amf0Error {
    /// The input ended inside the field that starts at `offset`.
    #[error("AMF0 data truncated in the field at offset {offset}")]
    Truncated {
        /// Start of the field that could not be read completely.
        offset: usize,
    },
    /// A type marker Weir does not decode (including reference, AMF3 switch and unassigned
    /// markers).
    #[error("unknown or unsupported AMF0 marker {marker:#04x} at offset {offset}")]
    UnknownMarker {
        /// The marker byte.
        marker: u8,
        /// Offset of the marker.
        offset: usize,
    },
    /// An object-end marker where a value was expected.
    #[error("AMF0 object-end marker outside an object at offset {offset}")]
    UnexpectedObjectEnd {
        /// Offset of the marker.
        offset: usize,
    },
    /// Objects and arrays nest deeper than [`MAX_DEPTH`].
    #[error("AMF0 values nested deeper than {MAX_DEPTH} at offset {offset}")]
    TooDeep {
        /// Offset of the marker of the container that is one level too deep.
        offset: usize,
    },
    /// An object or array holds more than [`MAX_ITEMS`] elements.
    #[error("AMF0 object or array with more than {MAX_ITEMS} elements at offset {offset}")]
    TooManyItems {
        /// Offset of the first element over the limit (or of the array's count field).
        offset: usize,
    },
    /// A string or key is not valid UTF-8.
    #[error("AMF0 string at offset {offset} is not valid UTF-8")]
    InvalidUtf8 {
        /// Offset of the string's first byte (after its length field).
        offset: usize,
    },
}

/// Decodes a sequence of values until `buf` is exhausted (an empty buffer is an empty sequence).
pub fn decode_all(buf: &[u8]) -> Result<Vec<Amf0Value>, Amf0Error> {
    let mut r = Reader { buf, pos: 0 };
    let mut out = Vec::new();
    while r.pos < buf.len() {
        out.push(r.value(0)?);
    }
    Ok(out)
}

/// Decodes the value at the start of `buf`; returns it and the number of bytes it took.
pub fn decode(buf: &[u8]) -> Result<(Amf0Value, usize), Amf0Error> {
    let mut r = Reader { buf, pos: 0 };
    let v = r.value(0)?;
    Ok((v, r.pos))
}

/// Appends the encoding of `value` to `out`.
///
/// Strings longer than 65535 bytes are written as long strings. Encoding cannot fail: object
/// keys longer than 65535 bytes are cut to the longest prefix that fits on a character
/// boundary, and strings or arrays beyond `u32::MAX` bytes/items (which no peer could accept)
/// are cut likewise.
pub fn encode(value: &Amf0Value, out: &mut Vec<u8>) {
    match value {
        Amf0Value::Number(n) => {
            out.push(MARKER_NUMBER);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Amf0Value::Boolean(b) => {
            out.push(MARKER_BOOLEAN);
            out.push(u8::from(*b));
        }
        Amf0Value::String(s) if s.len() <= MAX_SHORT_LEN => {
            out.push(MARKER_STRING);
            write_short_str(s, out);
        }
        Amf0Value::String(s) | Amf0Value::LongString(s) => {
            out.push(MARKER_LONG_STRING);
            let s = cut(s, u32::MAX as usize);
            out.extend_from_slice(&(s.len() as u32).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Amf0Value::Object(pairs) => {
            out.push(MARKER_OBJECT);
            write_pairs(pairs, out);
        }
        Amf0Value::Null => out.push(MARKER_NULL),
        Amf0Value::Undefined => out.push(MARKER_UNDEFINED),
        Amf0Value::EcmaArray(pairs) => {
            out.push(MARKER_ECMA_ARRAY);
            out.extend_from_slice(&u32::try_from(pairs.len()).unwrap_or(u32::MAX).to_be_bytes());
            write_pairs(pairs, out);
        }
        Amf0Value::StrictArray(items) => {
            out.push(MARKER_STRICT_ARRAY);
            let n = u32::try_from(items.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&n.to_be_bytes());
            for item in items.iter().take(n as usize) {
                encode(item, out);
            }
        }
        Amf0Value::Date { millis, tz } => {
            out.push(MARKER_DATE);
            out.extend_from_slice(&millis.to_be_bytes());
            out.extend_from_slice(&tz.to_be_bytes());
        }
    }
}

/// Encodes a sequence of values (e.g. an RTMP command: name, transaction id, arguments).
pub fn encode_all(values: &[Amf0Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        encode(v, &mut out);
    }
    out
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut n = s.len().min(max);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    s.get(..n).unwrap_or_default()
}

fn write_short_str(s: &str, out: &mut Vec<u8>) {
    let s = cut(s, MAX_SHORT_LEN);
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn write_pairs(pairs: &[(String, Amf0Value)], out: &mut Vec<u8>) {
    for (k, v) in pairs {
        write_short_str(k, out);
        encode(v, out);
    }
    out.extend_from_slice(&[0, 0, MARKER_OBJECT_END]);
}

/// A cursor over the input; every read is bounds-checked.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Amf0Error> {
        let truncated = Amf0Error::Truncated { offset: self.pos };
        let end = self.pos.checked_add(n).ok_or(truncated.clone())?;
        let s = self.buf.get(self.pos..end).ok_or(truncated)?;
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Amf0Error> {
        let at = self.pos;
        self.take(N)?
            .try_into()
            .map_err(|_| Amf0Error::Truncated { offset: at })
    }

    fn u8(&mut self) -> Result<u8, Amf0Error> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, Amf0Error> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, Amf0Error> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn f64(&mut self) -> Result<f64, Amf0Error> {
        Ok(f64::from_be_bytes(self.array()?))
    }

    /// Reads `len` bytes of UTF-8 text; the length was read just before.
    fn text(&mut self, len: usize, len_at: usize) -> Result<String, Amf0Error> {
        let at = self.pos;
        let bytes = self
            .take(len)
            .map_err(|_| Amf0Error::Truncated { offset: len_at })?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| Amf0Error::InvalidUtf8 { offset: at })
    }

    fn short_str(&mut self) -> Result<String, Amf0Error> {
        let at = self.pos;
        let len = self.u16()? as usize;
        self.text(len, at)
    }

    fn long_str(&mut self) -> Result<String, Amf0Error> {
        let at = self.pos;
        let len = self.u32()? as usize;
        self.text(len, at)
    }

    /// Decodes one value that sits inside `depth` containers.
    fn value(&mut self, depth: usize) -> Result<Amf0Value, Amf0Error> {
        let at = self.pos;
        let marker = self.u8()?;
        let container = matches!(
            marker,
            MARKER_OBJECT | MARKER_ECMA_ARRAY | MARKER_STRICT_ARRAY
        );
        if container && depth >= MAX_DEPTH {
            return Err(Amf0Error::TooDeep { offset: at });
        }
        Ok(match marker {
            MARKER_NUMBER => Amf0Value::Number(self.f64()?),
            MARKER_BOOLEAN => Amf0Value::Boolean(self.u8()? != 0),
            MARKER_STRING => Amf0Value::String(self.short_str()?),
            MARKER_OBJECT => Amf0Value::Object(self.pairs(depth + 1, None)?),
            MARKER_NULL => Amf0Value::Null,
            MARKER_UNDEFINED => Amf0Value::Undefined,
            MARKER_ECMA_ARRAY => {
                let hint = self.u32()?;
                Amf0Value::EcmaArray(self.pairs(depth + 1, Some(hint))?)
            }
            MARKER_OBJECT_END => return Err(Amf0Error::UnexpectedObjectEnd { offset: at }),
            MARKER_STRICT_ARRAY => {
                let count_at = self.pos;
                let count = self.u32()? as usize;
                if count > MAX_ITEMS {
                    return Err(Amf0Error::TooManyItems { offset: count_at });
                }
                // Every value takes at least one byte; do not trust `count` for allocation.
                if count > self.remaining() {
                    return Err(Amf0Error::Truncated { offset: count_at });
                }
                let mut items = Vec::new();
                for _ in 0..count {
                    items.push(self.value(depth + 1)?);
                }
                Amf0Value::StrictArray(items)
            }
            MARKER_DATE => {
                let millis = self.f64()?;
                let tz = i16::from_be_bytes(self.array()?);
                Amf0Value::Date { millis, tz }
            }
            MARKER_LONG_STRING => Amf0Value::LongString(self.long_str()?),
            marker => return Err(Amf0Error::UnknownMarker { marker, offset: at }),
        })
    }

    /// Reads key/value pairs up to the empty-key + object-end terminator. Values sit inside
    /// `depth` containers.
    ///
    /// `ecma_hint` is the count field of an ECMA array. It is not trusted: the terminator decides
    /// where the array ends. The one exception tolerates encoders that omit the terminator of an
    /// ECMA array at the very end of the input: when the input ends exactly where a key would
    /// start and at least `hint` pairs were read, the array ends there.
    fn pairs(
        &mut self,
        depth: usize,
        ecma_hint: Option<u32>,
    ) -> Result<Vec<(String, Amf0Value)>, Amf0Error> {
        let mut pairs = Vec::new();
        loop {
            if self.remaining() == 0 && ecma_hint.is_some_and(|n| pairs.len() >= n as usize) {
                return Ok(pairs);
            }
            let key_at = self.pos;
            let key = self.short_str()?;
            if key.is_empty() && self.buf.get(self.pos) == Some(&MARKER_OBJECT_END) {
                self.pos += 1;
                return Ok(pairs);
            }
            if pairs.len() >= MAX_ITEMS {
                return Err(Amf0Error::TooManyItems { offset: key_at });
            }
            let value = self.value(depth)?;
            pairs.push((key, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn obj(pairs: &[(&str, Amf0Value)]) -> Amf0Value {
        Amf0Value::object(pairs)
    }

    /// A connect command as OBS sends it.
    fn connect_command() -> Vec<Amf0Value> {
        vec![
            "connect".into(),
            1.0.into(),
            obj(&[
                ("app", "live".into()),
                ("type", "nonprivate".into()),
                ("flashVer", "FMLE/3.0 (compatible; FMSc/1.0)".into()),
                ("swfUrl", "rtmp://localhost/live".into()),
                ("tcUrl", "rtmp://localhost/live".into()),
                ("fpad", false.into()),
                ("capabilities", 15.0.into()),
                ("audioCodecs", 4071.0.into()),
                ("videoCodecs", 252.0.into()),
                ("videoFunction", 1.0.into()),
                ("objectEncoding", 0.0.into()),
                (
                    "fourCcList",
                    Amf0Value::StrictArray(vec!["hvc1".into(), "avc1".into()]),
                ),
            ]),
        ]
    }

    fn assert_round_trip(v: Amf0Value, expected: &[u8]) {
        let mut out = Vec::new();
        encode(&v, &mut out);
        assert_eq!(out, expected, "encoding of {v:?}");
        assert_eq!(decode(expected), Ok((v.clone(), expected.len())));
        assert_eq!(decode_all(expected), Ok(vec![v]));
    }

    #[test]
    fn number() {
        assert_round_trip(Amf0Value::Number(1.0), &[0, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]);
        assert_round_trip(Amf0Value::Number(-2.5), &[0, 0xc0, 0x04, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn boolean() {
        assert_round_trip(Amf0Value::Boolean(true), &[1, 1]);
        assert_round_trip(Amf0Value::Boolean(false), &[1, 0]);
        // Any non-zero byte is true.
        assert_eq!(decode(&[1, 0x7f]), Ok((Amf0Value::Boolean(true), 2)));
    }

    #[test]
    fn string() {
        assert_round_trip("ab".into(), &[2, 0, 2, b'a', b'b']);
        assert_round_trip("".into(), &[2, 0, 0]);
        assert_round_trip("é".into(), &[2, 0, 2, 0xc3, 0xa9]);
    }

    #[test]
    fn long_string() {
        assert_round_trip(
            Amf0Value::LongString("xy".into()),
            &[12, 0, 0, 0, 2, b'x', b'y'],
        );
        // A String over 65535 bytes is written with the long-string marker.
        let big = "a".repeat(70_000);
        let mut out = Vec::new();
        encode(&Amf0Value::String(big.clone()), &mut out);
        assert_eq!(&out[..5], &[12, 0, 1, 0x11, 0x70]);
        assert_eq!(decode_all(&out), Ok(vec![Amf0Value::LongString(big)]));
        // Exactly 65535 bytes still fits a short string.
        let edge = "b".repeat(65_535);
        let mut out = Vec::new();
        encode(&Amf0Value::String(edge.clone()), &mut out);
        assert_eq!(&out[..3], &[2, 0xff, 0xff]);
        assert_eq!(decode_all(&out), Ok(vec![Amf0Value::String(edge)]));
    }

    #[test]
    fn object() {
        let v = obj(&[("a", 1.0.into()), ("b", Amf0Value::Null)]);
        let mut bytes = vec![3, 0, 1, b'a', 0, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0];
        bytes.extend_from_slice(&[0, 1, b'b', 5, 0, 0, 9]);
        assert_round_trip(v.clone(), &bytes);
        assert_eq!(v.get("a"), Some(&Amf0Value::Number(1.0)));
        assert_eq!(v.get("b"), Some(&Amf0Value::Null));
        assert_eq!(v.get("c"), None);
        assert_round_trip(Amf0Value::Object(vec![]), &[3, 0, 0, 9]);
    }

    #[test]
    fn empty_key_with_a_value_is_a_pair() {
        let v = Amf0Value::Object(vec![(String::new(), Amf0Value::Null)]);
        assert_round_trip(v, &[3, 0, 0, 5, 0, 0, 9]);
    }

    #[test]
    fn null_and_undefined() {
        assert_round_trip(Amf0Value::Null, &[5]);
        assert_round_trip(Amf0Value::Undefined, &[6]);
        assert!(Amf0Value::Undefined.is_null());
    }

    #[test]
    fn ecma_array() {
        let v = Amf0Value::EcmaArray(vec![("w".into(), 2.0.into())]);
        let bytes = [
            8, 0, 0, 0, 1, 0, 1, b'w', 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9,
        ];
        assert_round_trip(v.clone(), &bytes);
        assert_eq!(v.get("w").and_then(Amf0Value::as_f64), Some(2.0));
    }

    #[test]
    fn ecma_array_count_is_only_a_hint() {
        // Count says 0 (as some encoders write), one pair follows.
        let bytes = [8, 0, 0, 0, 0, 0, 1, b'k', 1, 1, 0, 0, 9];
        let want = Amf0Value::EcmaArray(vec![("k".into(), true.into())]);
        assert_eq!(decode_all(&bytes), Ok(vec![want.clone()]));
        // Count says 7, one pair follows.
        let bytes = [8, 0, 0, 0, 7, 0, 1, b'k', 1, 1, 0, 0, 9, 5];
        assert_eq!(decode_all(&bytes), Ok(vec![want.clone(), Amf0Value::Null]));
        // Terminator missing at the end of the input, count satisfied: tolerated.
        let bytes = [8, 0, 0, 0, 1, 0, 1, b'k', 1, 1];
        assert_eq!(decode_all(&bytes), Ok(vec![want]));
        // Terminator missing and fewer pairs than the count: truncated.
        let bytes = [8, 0, 0, 0, 2, 0, 1, b'k', 1, 1];
        assert_eq!(decode_all(&bytes), Err(Amf0Error::Truncated { offset: 10 }));
    }

    #[test]
    fn strict_array() {
        let v = Amf0Value::StrictArray(vec![Amf0Value::Null, true.into()]);
        assert_round_trip(v, &[10, 0, 0, 0, 2, 5, 1, 1]);
        assert_round_trip(Amf0Value::StrictArray(vec![]), &[10, 0, 0, 0, 0]);
    }

    #[test]
    fn strict_array_count_beyond_input_is_truncated_not_allocated() {
        assert_eq!(
            decode(&[10, 0, 0, 0x10, 0x01, 5]),
            Err(Amf0Error::TooManyItems { offset: 1 })
        );
        assert_eq!(
            decode(&[10, 0xff, 0xff, 0xff, 0xff]),
            Err(Amf0Error::TooManyItems { offset: 1 })
        );
        // Within the limit but more than the input holds: truncated before any allocation.
        assert_eq!(
            decode(&[10, 0, 0, 0x0f, 0xff, 5]),
            Err(Amf0Error::Truncated { offset: 1 })
        );
        assert_eq!(
            decode(&[10, 0, 0, 0, 3, 5, 5]),
            Err(Amf0Error::Truncated { offset: 1 })
        );
    }

    #[test]
    fn date() {
        let v = Amf0Value::Date {
            millis: 1.0,
            tz: -60,
        };
        assert_round_trip(v, &[11, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0xff, 0xc4]);
    }

    #[test]
    fn unknown_and_unsupported_markers() {
        for marker in [4u8, 7, 13, 14, 15, 16, 17, 18, 0x20, 0xff] {
            assert_eq!(
                decode_all(&[5, marker, 0, 0, 0, 0]),
                Err(Amf0Error::UnknownMarker { marker, offset: 1 }),
                "marker {marker}"
            );
        }
        // Nested inside an object, the offset points at the marker.
        assert_eq!(
            decode(&[3, 0, 1, b'x', 7, 0, 1]),
            Err(Amf0Error::UnknownMarker {
                marker: 7,
                offset: 4
            })
        );
    }

    #[test]
    fn stray_object_end_is_an_error() {
        assert_eq!(
            decode(&[9]),
            Err(Amf0Error::UnexpectedObjectEnd { offset: 0 })
        );
        assert_eq!(
            decode(&[10, 0, 0, 0, 1, 9]),
            Err(Amf0Error::UnexpectedObjectEnd { offset: 5 })
        );
    }

    #[test]
    fn invalid_utf8() {
        assert_eq!(
            decode(&[2, 0, 2, 0xc3, 0x28]),
            Err(Amf0Error::InvalidUtf8 { offset: 3 })
        );
        assert_eq!(
            decode(&[12, 0, 0, 0, 1, 0xff]),
            Err(Amf0Error::InvalidUtf8 { offset: 5 })
        );
        assert_eq!(
            decode(&[3, 0, 1, 0x80, 5, 0, 0, 9]),
            Err(Amf0Error::InvalidUtf8 { offset: 3 })
        );
    }

    #[test]
    fn length_beyond_input_is_truncated() {
        assert_eq!(
            decode(&[2, 0xff, 0xff, b'a']),
            Err(Amf0Error::Truncated { offset: 1 })
        );
        assert_eq!(
            decode(&[12, 0xff, 0xff, 0xff, 0xff, b'a']),
            Err(Amf0Error::Truncated { offset: 1 })
        );
        assert_eq!(decode(&[0, 1, 2]), Err(Amf0Error::Truncated { offset: 1 }));
        assert_eq!(decode(&[]), Err(Amf0Error::Truncated { offset: 0 }));
    }

    #[test]
    fn empty_input_is_an_empty_sequence() {
        assert_eq!(decode_all(&[]), Ok(vec![]));
    }

    #[test]
    fn connect_command_round_trips_and_every_truncation_fails() {
        let values = connect_command();
        let bytes = encode_all(&values);
        assert_eq!(decode_all(&bytes), Ok(values.clone()));
        // Value boundaries: a prefix ending exactly there is a shorter valid sequence.
        let mut boundaries = vec![0];
        for v in &values {
            let mut one = Vec::new();
            encode(v, &mut one);
            boundaries.push(boundaries.last().copied().unwrap_or(0) + one.len());
        }
        assert_eq!(boundaries.last(), Some(&bytes.len()));
        for cut in 0..bytes.len() {
            let res = decode_all(&bytes[..cut]);
            match boundaries.iter().position(|&b| b == cut) {
                Some(n) => assert_eq!(res, Ok(values[..n].to_vec()), "prefix of {cut} bytes"),
                None => assert!(
                    matches!(res, Err(Amf0Error::Truncated { .. })),
                    "prefix of {cut} bytes gave {res:?}"
                ),
            }
            // The command object alone: every strict prefix is an error.
            let obj_start = boundaries[2];
            if cut >= obj_start {
                let res = decode(&bytes[obj_start..cut]);
                assert!(matches!(res, Err(Amf0Error::Truncated { .. })), "{res:?}");
            }
        }
    }

    fn nested(depth: usize, array: bool) -> Amf0Value {
        let mut v = Amf0Value::Null;
        for i in 0..depth {
            v = match (array, i % 2) {
                (true, _) => Amf0Value::StrictArray(vec![v]),
                (false, 0) => Amf0Value::Object(vec![("k".into(), v)]),
                (false, _) => Amf0Value::EcmaArray(vec![("k".into(), v)]),
            };
        }
        v
    }

    #[test]
    fn depth_limit() {
        for array in [false, true] {
            let ok = nested(MAX_DEPTH, array);
            let bytes = encode_all(std::slice::from_ref(&ok));
            assert_eq!(decode_all(&bytes), Ok(vec![ok]));

            let deep = encode_all(&[nested(MAX_DEPTH + 1, array)]);
            assert!(matches!(decode_all(&deep), Err(Amf0Error::TooDeep { .. })));
            // Far deeper input must fail the same way, not overflow the stack.
            let level: &[u8] = if array {
                &[10, 0, 0, 0, 1]
            } else {
                &[3, 0, 1, b'k']
            };
            let very_deep = level.repeat(100_000);
            assert!(matches!(decode(&very_deep), Err(Amf0Error::TooDeep { .. })));
        }
        // The offset is that of the innermost container's marker: 16 objects of 4 bytes each
        // ("3, 0, 1, k") and 16 ECMA arrays of 8 bytes ("8, count, 0, 1, k") come first.
        let deep = encode_all(&[nested(MAX_DEPTH + 1, false)]);
        assert_eq!(
            decode(&deep),
            Err(Amf0Error::TooDeep {
                offset: (4 + 8) * MAX_DEPTH / 2
            })
        );
    }

    #[test]
    fn item_limit() {
        let pairs = |n: usize| (0..n).map(|i| (format!("k{i}"), Amf0Value::Null)).collect();
        for make in [Amf0Value::Object, Amf0Value::EcmaArray] {
            let ok = make(pairs(MAX_ITEMS));
            assert_eq!(
                decode_all(&encode_all(std::slice::from_ref(&ok))),
                Ok(vec![ok])
            );
            let over = encode_all(&[make(pairs(MAX_ITEMS + 1))]);
            assert!(matches!(
                decode_all(&over),
                Err(Amf0Error::TooManyItems { .. })
            ));
        }
        let ok = Amf0Value::StrictArray(vec![Amf0Value::Null; MAX_ITEMS]);
        assert_eq!(
            decode_all(&encode_all(std::slice::from_ref(&ok))),
            Ok(vec![ok])
        );
        let over = encode_all(&[Amf0Value::StrictArray(vec![Amf0Value::Null; MAX_ITEMS + 1])]);
        assert_eq!(
            decode_all(&over),
            Err(Amf0Error::TooManyItems { offset: 1 })
        );
    }

    #[test]
    fn long_keys_are_cut_on_a_char_boundary() {
        // 32768 two-byte characters = 65536 bytes: one character too long.
        let key = "é".repeat(32_768);
        let v = Amf0Value::Object(vec![(key, Amf0Value::Null)]);
        let bytes = encode_all(&[v]);
        let Ok(decoded) = decode_all(&bytes) else {
            panic!("cut key must decode")
        };
        let Some(Amf0Value::Object(pairs)) = decoded.first() else {
            panic!("{decoded:?}")
        };
        assert_eq!(pairs.first().map(|(k, _)| k.len()), Some(65_534));
    }

    #[test]
    fn accessors() {
        assert_eq!(Amf0Value::LongString("x".into()).as_str(), Some("x"));
        assert_eq!(Amf0Value::Number(1.0).as_str(), None);
        assert_eq!(Amf0Value::Boolean(true).as_f64(), None);
        assert_eq!(Amf0Value::Boolean(true).as_bool(), Some(true));
        assert_eq!(Amf0Value::StrictArray(vec![]).get("a"), None);
        let dup = obj(&[("a", 1.0.into()), ("a", 2.0.into())]);
        assert_eq!(dup.get("a"), Some(&Amf0Value::Number(1.0)));
    }

    fn finite() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>().prop_filter("finite", |n| n.is_finite()),
            Just(0.0),
            Just(-0.0),
            -1e6f64..1e6,
        ]
    }

    fn value() -> impl Strategy<Value = Amf0Value> {
        let leaf = prop_oneof![
            finite().prop_map(Amf0Value::Number),
            any::<bool>().prop_map(Amf0Value::Boolean),
            ".{0,12}".prop_map(Amf0Value::String),
            Just(Amf0Value::Null),
            Just(Amf0Value::Undefined),
            (finite(), any::<i16>()).prop_map(|(millis, tz)| Amf0Value::Date { millis, tz }),
            ".{0,12}".prop_map(Amf0Value::LongString),
        ];
        leaf.prop_recursive(6, 64, 8, |inner| {
            let pairs = prop::collection::vec((".{0,8}", inner.clone()), 0..8);
            prop_oneof![
                pairs.clone().prop_map(Amf0Value::Object),
                pairs.prop_map(Amf0Value::EcmaArray),
                prop::collection::vec(inner, 0..8).prop_map(Amf0Value::StrictArray),
            ]
        })
    }

    proptest! {
        #[test]
        fn round_trip(values in prop::collection::vec(value(), 0..6)) {
            let bytes = encode_all(&values);
            prop_assert_eq!(decode_all(&bytes), Ok(values.clone()));
            if let Some(first) = values.first() {
                let mut one = Vec::new();
                encode(first, &mut one);
                prop_assert_eq!(decode(&bytes), Ok((first.clone(), one.len())));
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(values) = decode_all(&bytes) {
                // Whatever decodes re-encodes to something that decodes to the same values
                // (NaN payloads compare by bits).
                let again = decode_all(&encode_all(&values));
                prop_assert_eq!(
                    format!("{:?}", again.map(|v| bits(&v))),
                    format!("{:?}", Ok::<_, Amf0Error>(bits(&values)))
                );
            }
        }

        #[test]
        fn mutated_commands_never_panic(
            idx in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = encode_all(&connect_command());
            let i = idx.index(bytes.len());
            bytes[i] = byte;
            let end = cut.index(bytes.len() + 1);
            let _ = decode_all(&bytes[..end]);
        }
    }

    /// The values with numbers replaced by their bit patterns, so NaN compares equal to itself.
    fn bits(values: &[Amf0Value]) -> Vec<String> {
        fn one(v: &Amf0Value) -> String {
            match v {
                Amf0Value::Number(n) => format!("N{:x}", n.to_bits()),
                Amf0Value::Date { millis, tz } => format!("D{:x}/{tz}", millis.to_bits()),
                Amf0Value::Object(p) | Amf0Value::EcmaArray(p) => {
                    let inner: Vec<String> =
                        p.iter().map(|(k, v)| format!("{k:?}={}", one(v))).collect();
                    format!(
                        "{}{{{}}}",
                        if matches!(v, Amf0Value::Object(_)) {
                            "O"
                        } else {
                            "E"
                        },
                        inner.join(",")
                    )
                }
                Amf0Value::StrictArray(items) => {
                    format!("[{}]", items.iter().map(one).collect::<Vec<_>>().join(","))
                }
                other => format!("{other:?}"),
            }
        }
        values.iter().map(one).collect()
    }
}
