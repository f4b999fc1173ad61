use std::fmt;

/// Longest accepted stream path, in bytes.
pub const MAX_PATH_LEN: usize = 256;
/// Most `/`-separated segments in a stream path.
pub const MAX_PATH_SEGMENTS: usize = 8;

/// Why a string is not a valid [`StreamPath`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path is empty or has an empty segment (`live//x`, trailing `/`).
    #[error("stream path {0:?} is empty or has an empty segment")]
    Empty(String),
    /// The path is longer than [`MAX_PATH_LEN`].
    #[error("stream path is {0} bytes long; the limit is {MAX_PATH_LEN}")]
    TooLong(usize),
    /// The path has more than [`MAX_PATH_SEGMENTS`] segments.
    #[error("stream path {0:?} has more than {MAX_PATH_SEGMENTS} segments")]
    TooDeep(String),
    /// A segment is `.` or `..`.
    #[error("stream path {0:?} contains a '.' or '..' segment")]
    DotSegment(String),
    /// A character outside `A-Z a-z 0-9 - _ . ~ @ :`.
    #[error(
        "stream path {path:?} contains the character {ch:?}; allowed are letters, digits and - _ . ~ @ :"
    )]
    BadChar {
        /// The offending path.
        path: String,
        /// The offending character.
        ch: char,
    },
}

/// The one name of a stream, whatever protocol published it: `APP/STREAM`, such as `live/mystream`.
///
/// Validated on construction: non-empty segments of URL-safe characters, no `.`/`..` segments,
/// bounded length and depth. Safe to use in URLs and file names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamPath(String);

impl StreamPath {
    /// Validates `s` as a stream path.
    pub fn new(s: &str) -> Result<Self, PathError> {
        if s.len() > MAX_PATH_LEN {
            return Err(PathError::TooLong(s.len()));
        }
        if s.is_empty() {
            return Err(PathError::Empty(s.to_owned()));
        }
        let mut n = 0;
        for seg in s.split('/') {
            n += 1;
            if seg.is_empty() {
                return Err(PathError::Empty(s.to_owned()));
            }
            if seg == "." || seg == ".." {
                return Err(PathError::DotSegment(s.to_owned()));
            }
            if let Some(ch) = seg.chars().find(|c| {
                !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '@' | ':'))
            }) {
                return Err(PathError::BadChar {
                    path: s.to_owned(),
                    ch,
                });
            }
        }
        if n > MAX_PATH_SEGMENTS {
            return Err(PathError::TooDeep(s.to_owned()));
        }
        Ok(Self(s.to_owned()))
    }

    /// Joins an RTMP-style application name and stream name (`live` + `key` = `live/key`).
    pub fn from_app_stream(app: &str, stream: &str) -> Result<Self, PathError> {
        let app = app.trim_matches('/');
        let stream = stream.trim_matches('/');
        if app.is_empty() {
            Self::new(stream)
        } else {
            Self::new(&format!("{app}/{stream}"))
        }
    }

    /// The path as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StreamPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for StreamPath {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// Query parameters attached to a publish or play request (`?key=value&...`), kept for
/// authorisation. Keys and values are percent-decoded; invalid escapes are kept verbatim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Splits `name?query` into the name and its parsed query.
    pub fn split(s: &str) -> (&str, Query) {
        match s.split_once('?') {
            Some((name, q)) => (name, Query::parse(q)),
            None => (s, Query::default()),
        }
    }

    /// Parses `a=1&b=2`.
    pub fn parse(q: &str) -> Query {
        Query(
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (percent_decode(k), percent_decode(v)),
                    None => (percent_decode(p), String::new()),
                })
                .collect(),
        )
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Merges `other` into `self` (used for app-level and stream-level queries).
    pub fn extend(&mut self, other: Query) {
        self.0.extend(other.0);
    }

    /// True when there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// All pairs in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_paths() {
        assert_eq!(
            StreamPath::new("live/mystream").unwrap().as_str(),
            "live/mystream"
        );
        assert_eq!(
            StreamPath::from_app_stream("live", "key").unwrap().as_str(),
            "live/key"
        );
        assert_eq!(
            StreamPath::from_app_stream("", "key").unwrap().as_str(),
            "key"
        );
    }

    #[test]
    fn hostile_paths_rejected() {
        assert!(matches!(
            StreamPath::new("live/../etc"),
            Err(PathError::DotSegment(_))
        ));
        assert!(matches!(
            StreamPath::new("live//x"),
            Err(PathError::Empty(_))
        ));
        assert!(matches!(
            StreamPath::new("live/a b"),
            Err(PathError::BadChar { .. })
        ));
        assert!(matches!(
            StreamPath::new("live/%2e"),
            Err(PathError::BadChar { .. })
        ));
        assert!(matches!(
            StreamPath::new(&"a".repeat(MAX_PATH_LEN + 1)),
            Err(PathError::TooLong(_))
        ));
        assert!(matches!(
            StreamPath::new(&"a/".repeat(MAX_PATH_SEGMENTS).to_string().add("a")),
            Err(PathError::TooDeep(_))
        ));
    }

    trait Add {
        fn add(self, s: &str) -> String;
    }
    impl Add for String {
        fn add(mut self, s: &str) -> String {
            self.push_str(s);
            self
        }
    }

    #[test]
    fn query_parsing() {
        let (name, q) = Query::split("mystream?token=a%20b&x&y=1+2");
        assert_eq!(name, "mystream");
        assert_eq!(q.get("token"), Some("a b"));
        assert_eq!(q.get("x"), Some(""));
        assert_eq!(q.get("y"), Some("1 2"));
        assert_eq!(Query::parse("a=%zz%").get("a"), Some("%zz%"));
    }
}
