//! Typed reads from an already parsed [`Value`]: `version.yaml` is parsed once, by the bounded reader, and the
//! manifest's structs are read from that value field by field ([`FromYaml`], [`Fields`]), with serde's words for
//! what does not fit (`unknown field `replcas`, expected one of ...`, `missing field ...`, `invalid type: ...`).
//! A second, typed parse of the text (serde_norway with derived readers) cost the console's wasm about 80 KB, and
//! serde's derived readers on this value still 50 KB (docs/benchmarks.md).
//!
//! An empty value (or null) is an empty list or mapping where one is expected (`dependsOn:`), and empty text where
//! text is. Where text is expected, a whole number or a boolean is read as its text (`8080` is the string `8080`). A number with a fraction is refused there, to be quoted: once parsed, `1.10` is `1.1`, and a
//! value is never read other than as written.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Unexpected};

use super::Value;
use crate::keypath::KeyPath;

/// Why a value does not fit the type, and the key path of the value (or unknown key) it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedError {
    /// Where: the root when empty.
    pub path: KeyPath,
    /// What, in serde's words (`unknown field `replcas`, expected one of ...`).
    pub message: String,
}

impl TypedError {
    fn new(path: &KeyPath, message: impl fmt::Display) -> TypedError {
        TypedError {
            path: path.clone(),
            message: message.to_string(),
        }
    }

    /// `invalid type: string "two", expected u32`, at `path`.
    fn invalid_type(value: &Value, expected: &str, path: &KeyPath) -> TypedError {
        let unexpected = match value {
            Value::Null => Unexpected::Unit,
            Value::Bool(b) => Unexpected::Bool(*b),
            Value::Integer(i) => Unexpected::Signed(*i),
            Value::Float(f) => Unexpected::Float(*f),
            Value::String(s) => Unexpected::Str(s),
            Value::List(_) => Unexpected::Seq,
            Value::Map(_) => Unexpected::Map,
        };
        TypedError::new(
            path,
            <Message as de::Error>::invalid_type(unexpected, &expected).0,
        )
    }
}

impl fmt::Display for TypedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.0.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for TypedError {}

/// serde's texts for `invalid type`, `unknown field` and `unknown variant`, written once by serde.
#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

impl de::Error for Message {
    fn custom<T: fmt::Display>(message: T) -> Message {
        Message(message.to_string())
    }
}

/// What an empty value (`dependsOn:`) is where a mapping is expected: an empty one.
static EMPTY: BTreeMap<String, Value> = BTreeMap::new();

/// A value read from its parsed YAML at a key path.
pub trait FromYaml: Sized {
    /// Reads it, or says at which key path what does not fit.
    fn from_yaml(value: &Value, path: &KeyPath) -> Result<Self, TypedError>;
}

/// The fields of one mapping, every key one of the known names.
pub struct Fields<'v> {
    map: &'v BTreeMap<String, Value>,
    path: KeyPath,
}

impl<'v> Fields<'v> {
    /// The mapping at `path`, refusing a key that is not in `known` (a typo is never ignored); `what` names it in
    /// an error (`struct Application`).
    pub fn of(
        value: &'v Value,
        path: &KeyPath,
        what: &str,
        known: &'static [&'static str],
    ) -> Result<Fields<'v>, TypedError> {
        let map = match value {
            Value::Map(map) => map,
            Value::Null => &EMPTY,
            other => return Err(TypedError::invalid_type(other, what, path)),
        };
        if let Some(unknown) = map.keys().find(|key| !known.contains(&key.as_str())) {
            return Err(TypedError::new(
                &path.key(unknown),
                <Message as de::Error>::unknown_field(unknown, known).0,
            ));
        }
        Ok(Fields {
            map,
            path: path.clone(),
        })
    }

    /// A field that must be there.
    pub fn required<T: FromYaml>(&self, name: &str) -> Result<T, TypedError> {
        match self.map.get(name) {
            Some(value) => T::from_yaml(value, &self.path.key(name)),
            None => Err(TypedError::new(
                &self.path,
                format_args!("missing field `{name}`"),
            )),
        }
    }

    /// A field that may be absent or null.
    pub fn optional<T: FromYaml>(&self, name: &str) -> Result<Option<T>, TypedError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => T::from_yaml(value, &self.path.key(name)).map(Some),
        }
    }

    /// A field that takes its default when absent.
    pub fn or_default<T: FromYaml + Default>(&self, name: &str) -> Result<T, TypedError> {
        match self.map.get(name) {
            None => Ok(T::default()),
            Some(value) => T::from_yaml(value, &self.path.key(name)),
        }
    }
}

impl FromYaml for String {
    fn from_yaml(value: &Value, path: &KeyPath) -> Result<String, TypedError> {
        match value {
            Value::String(s) => Ok(s.clone()),
            Value::Integer(i) => Ok(i.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Null => Ok(String::new()),
            Value::Float(_) => Err(TypedError::new(
                path,
                "a number with a fraction where text is expected: write it in quotes (`'1.10'`), as it is meant",
            )),
            Value::List(_) | Value::Map(_) => {
                Err(TypedError::invalid_type(value, "a string", path))
            }
        }
    }
}

impl FromYaml for bool {
    fn from_yaml(value: &Value, path: &KeyPath) -> Result<bool, TypedError> {
        match value {
            Value::Bool(b) => Ok(*b),
            other => Err(TypedError::invalid_type(other, "a boolean", path)),
        }
    }
}

impl FromYaml for f64 {
    fn from_yaml(value: &Value, path: &KeyPath) -> Result<f64, TypedError> {
        match value {
            Value::Integer(i) => Ok(*i as f64),
            Value::Float(f) => Ok(*f),
            other => Err(TypedError::invalid_type(other, "f64", path)),
        }
    }
}

/// A whole number from 0 to `max`; `what` names the type in an error (`u16`).
fn whole(value: &Value, path: &KeyPath, max: u32, what: &str) -> Result<u32, TypedError> {
    match value {
        Value::Integer(i) => u32::try_from(*i).ok().filter(|n| *n <= max).ok_or_else(|| {
            TypedError::new(
                path,
                <Message as de::Error>::invalid_value(Unexpected::Signed(*i), &what).0,
            )
        }),
        other => Err(TypedError::invalid_type(other, what, path)),
    }
}

impl FromYaml for u32 {
    fn from_yaml(value: &Value, path: &KeyPath) -> Result<u32, TypedError> {
        whole(value, path, u32::MAX, "u32")
    }
}

impl FromYaml for u16 {
    fn from_yaml(value: &Value, path: &KeyPath) -> Result<u16, TypedError> {
        whole(value, path, u16::MAX.into(), "u16").map(|n| n as u16)
    }
}

/// Any value, as the JSON it is sent as (a probe's `body`, a job's `doneValue`).
impl FromYaml for serde_json::Value {
    fn from_yaml(value: &Value, _path: &KeyPath) -> Result<serde_json::Value, TypedError> {
        Ok(value.to_json())
    }
}

impl<T: FromYaml> FromYaml for Vec<T> {
    fn from_yaml(value: &Value, path: &KeyPath) -> Result<Vec<T>, TypedError> {
        let items = match value {
            Value::List(items) => items.as_slice(),
            Value::Null => &[],
            other => return Err(TypedError::invalid_type(other, "a sequence", path)),
        };
        let mut read = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            read.push(T::from_yaml(item, &path.index(index))?);
        }
        Ok(read)
    }
}

impl<T: FromYaml> FromYaml for BTreeMap<String, T> {
    fn from_yaml(value: &Value, path: &KeyPath) -> Result<BTreeMap<String, T>, TypedError> {
        let map = match value {
            Value::Map(map) => map,
            Value::Null => &EMPTY,
            other => return Err(TypedError::invalid_type(other, "a map", path)),
        };
        let mut read = BTreeMap::new();
        for (key, value) in map {
            read.insert(key.clone(), T::from_yaml(value, &path.key(key))?);
        }
        Ok(read)
    }
}

/// One of a closed set of words (`type: string`), as serde names a wrong one.
pub fn word<T: Copy>(
    value: &Value,
    path: &KeyPath,
    words: &'static [&'static str],
    meanings: &[T],
) -> Result<T, TypedError> {
    let Value::String(text) = value else {
        return Err(TypedError::invalid_type(value, "a word", path));
    };
    words
        .iter()
        .position(|word| word == text)
        .and_then(|at| meanings.get(at).copied())
        .ok_or_else(|| {
            TypedError::new(path, <Message as de::Error>::unknown_variant(text, words).0)
        })
}
