//! Key paths into values (formats.md, "Key paths"): `dataservice.gateway.hosts[0]`,
//! `labels["app.kubernetes.io/name"]`.
//!
//! Parsing and printing are inverse: a key that contains `.`, `[`, `]` or `"` (or is empty) is printed quoted, with
//! `"` and `\` escaped, so every path in a report can be pasted back into a manifest.

use std::fmt;
use std::str::FromStr;

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment {
    /// A mapping key.
    Key(String),
    /// A list index, from 0.
    Index(usize),
}

/// A path from the root of a values document to one value.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyPath(pub Vec<Segment>);

/// Why a text is not a key path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{text}` is not a key path ({reason}); expected keys joined by `.`, `[N]` for list elements and `[\"...\"]` for keys with `.`, `[`, `]` or `\"`"
)]
pub struct KeyPathError {
    /// The text that was given.
    pub text: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl KeyPath {
    /// The empty path: the root.
    pub fn root() -> KeyPath {
        KeyPath(Vec::new())
    }

    /// This path with one more key.
    pub fn key(&self, key: &str) -> KeyPath {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.to_string()));
        KeyPath(segments)
    }

    /// This path with one more list index.
    pub fn index(&self, index: usize) -> KeyPath {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        KeyPath(segments)
    }

    /// The mapping keys along the path (not the indexes).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|segment| match segment {
            Segment::Key(key) => Some(key.as_str()),
            Segment::Index(_) => None,
        })
    }

    /// Parses the written form.
    pub fn parse(text: &str) -> Result<KeyPath, KeyPathError> {
        let error = |reason| KeyPathError {
            text: text.to_string(),
            reason,
        };
        let bytes = text.as_bytes();
        let mut segments = Vec::new();
        let mut i = 0;
        // Whether a `.` must come before the next plain key (after any segment).
        let mut after_segment = false;
        if text.is_empty() {
            return Err(error("it is empty"));
        }
        while i < bytes.len() {
            match bytes[i] {
                b'.' => {
                    if !after_segment {
                        return Err(error("a `.` without a key before it"));
                    }
                    i += 1;
                    if i == bytes.len() {
                        return Err(error("it ends with `.`"));
                    }
                    if bytes[i] == b'.' || bytes[i] == b'[' {
                        return Err(error("an empty key"));
                    }
                    after_segment = false;
                }
                b'[' => {
                    if i + 1 < bytes.len() && bytes[i + 1] == b'"' {
                        let (key, next) = parse_quoted(text, i + 2)
                            .ok_or_else(|| error("an unterminated `[\"`"))?;
                        segments.push(Segment::Key(key));
                        i = next;
                    } else {
                        let close = text[i..]
                            .find(']')
                            .ok_or_else(|| error("a `[` without `]`"))?
                            + i;
                        let digits = &text[i + 1..close];
                        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                            return Err(error("a list index that is not a number"));
                        }
                        let index = digits
                            .parse()
                            .map_err(|_| error("a list index that is too large"))?;
                        segments.push(Segment::Index(index));
                        i = close + 1;
                    }
                    after_segment = true;
                }
                b']' | b'"' => return Err(error("a `]` or `\"` outside `[\"...\"]`")),
                _ => {
                    if after_segment {
                        return Err(error("a key that does not follow a `.`"));
                    }
                    let end = text[i..]
                        .find(['.', '[', ']', '"'])
                        .map_or(text.len(), |at| at + i);
                    segments.push(Segment::Key(text[i..end].to_string()));
                    i = end;
                    after_segment = true;
                }
            }
        }
        Ok(KeyPath(segments))
    }
}

/// Reads `...\"]` from `start` (just after `["`): the unescaped key and the index after `"]`.
fn parse_quoted(text: &str, start: usize) -> Option<(String, usize)> {
    let mut key = String::new();
    let mut chars = text[start..].char_indices();
    while let Some((offset, c)) = chars.next() {
        match c {
            '\\' => key.push(chars.next()?.1),
            '"' => {
                let after = start + offset + 1;
                return text[after..].starts_with(']').then_some((key, after + 1));
            }
            _ => key.push(c),
        }
    }
    None
}

fn needs_quotes(key: &str) -> bool {
    key.is_empty() || key.contains(['.', '[', ']', '"'])
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Index(index) => write!(f, "[{index}]")?,
                Segment::Key(key) if needs_quotes(key) => {
                    f.write_str("[\"")?;
                    for c in key.chars() {
                        if c == '"' || c == '\\' {
                            f.write_str("\\")?;
                        }
                        write!(f, "{c}")?;
                    }
                    f.write_str("\"]")?;
                }
                Segment::Key(key) => {
                    if n > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(key)?;
                }
            }
        }
        Ok(())
    }
}

impl FromStr for KeyPath {
    type Err = KeyPathError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        KeyPath::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Segment {
        Segment::Key(k.to_string())
    }

    #[test]
    fn parses_keys_indexes_and_quoted_keys() {
        assert_eq!(
            KeyPath::parse("dataservice.gateway.hosts[0]").unwrap().0,
            vec![
                key("dataservice"),
                key("gateway"),
                key("hosts"),
                Segment::Index(0)
            ]
        );
        assert_eq!(
            KeyPath::parse("labels[\"app.kubernetes.io/name\"]")
                .unwrap()
                .0,
            vec![key("labels"), key("app.kubernetes.io/name")]
        );
        assert_eq!(
            KeyPath::parse("a[1][2].b").unwrap().0,
            vec![key("a"), Segment::Index(1), Segment::Index(2), key("b")]
        );
        assert_eq!(
            KeyPath::parse(r#"["q\"uo\\te"]"#).unwrap().0,
            vec![key("q\"uo\\te")]
        );
    }

    #[test]
    fn prints_what_it_parses() {
        for text in [
            "dataservice.gateway.hosts[0]",
            "labels[\"app.kubernetes.io/name\"]",
            "a[1][2].b",
            r#"["q\"uo\\te"].x"#,
            r#"a[""]"#,
        ] {
            assert_eq!(KeyPath::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(
            KeyPath::root().key("a.b").index(3).key("c").to_string(),
            "[\"a.b\"][3].c"
        );
    }

    #[test]
    fn rejects_malformed_paths_with_the_expected_form() {
        for text in [
            "", ".a", "a.", "a..b", "a[", "a[x]", "a[\"b", "a[\"b\"", "a]b", "a\"b", "a[0]b",
            "a.[0]",
        ] {
            let error = KeyPath::parse(text).unwrap_err();
            assert!(error.to_string().contains("[N]"), "{text}: {error}");
        }
    }
}
