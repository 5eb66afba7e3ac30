//! Version numbers `V<major>.<minor>.<patch>.<build>` (formats.md, "Version numbers").
//!
//! Segments compare numerically while the text is kept as written, so `V5.1.2.04` is shown as the operator typed
//! it (a lowercase `v` is shown as `V`).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The form every version must have, shown in error messages.
pub const EXPECTED_FORM: &str = "V<major>.<minor>.<patch>.<build>, e.g. V5.1.2.04";

/// A version number: four numeric segments and the text as written.
#[derive(Debug, Clone)]
pub struct Version {
    segments: [u64; 4],
    text: String,
}

/// Why a text is not a version number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a version number: expected {EXPECTED_FORM}")]
pub struct VersionError {
    /// The text that was given.
    pub text: String,
}

impl Version {
    /// Parses `V5.1.2.04` (or `v5.1.2.04`).
    pub fn parse(text: &str) -> Result<Version, VersionError> {
        let error = || VersionError {
            text: text.to_string(),
        };
        let rest = text
            .strip_prefix('V')
            .or_else(|| text.strip_prefix('v'))
            .ok_or_else(error)?;
        let mut segments = [0u64; 4];
        let mut count = 0;
        for part in rest.split('.') {
            if count == 4
                || part.is_empty()
                || part.len() > 18
                || !part.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(error());
            }
            segments[count] = part.parse().map_err(|_| error())?;
            count += 1;
        }
        if count != 4 {
            return Err(error());
        }
        Ok(Version {
            segments,
            text: format!("V{rest}"),
        })
    }

    /// The four segments as numbers.
    pub fn segments(&self) -> [u64; 4] {
        self.segments
    }

    /// Whether both share major, minor and patch (the first rule of zero-downtime compatibility).
    pub fn same_release_line(&self, other: &Version) -> bool {
        self.segments[..3] == other.segments[..3]
    }

    /// The text as written, with an upper-case `V`.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for Version {
    type Err = VersionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Version::parse(text)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

// Equality follows the numbers, so `V5.1.2.4` and `V5.1.2.04` are the same version (and the same key in a store).
impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.segments == other.segments
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.segments.cmp(&other.segments)
    }
}

impl std::hash::Hash for Version {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.segments.hash(state);
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Version::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_compare_as_numbers() {
        let older = Version::parse("V5.1.2.9").unwrap();
        let newer = Version::parse("V5.1.2.10").unwrap();
        assert!(newer > older);
        assert!(Version::parse("V5.2.0.01").unwrap() > Version::parse("V5.1.2.04").unwrap());
    }

    #[test]
    fn text_is_kept_and_lowercase_v_shown_upper() {
        assert_eq!(
            Version::parse("V5.1.2.04").unwrap().to_string(),
            "V5.1.2.04"
        );
        assert_eq!(
            Version::parse("v5.1.2.04").unwrap().to_string(),
            "V5.1.2.04"
        );
        assert_eq!(
            serde_json::to_string(&Version::parse("V5.1.2.04").unwrap()).unwrap(),
            "\"V5.1.2.04\""
        );
    }

    #[test]
    fn malformed_versions_show_the_expected_form() {
        for text in [
            "V5.1.2",
            "5.1.2.04",
            "V5.1.2.x",
            "V5.1.2.04.1",
            "",
            "V",
            "V5..2.04",
            "V+5.1.2.04",
            "V5.1.2.-4",
        ] {
            let error = Version::parse(text).unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("V<major>.<minor>.<patch>.<build>"),
                "{text}: {error}"
            );
        }
    }
}
