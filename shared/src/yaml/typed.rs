//! Typed reads from an already parsed [`Value`]: `version.yaml` is parsed once, by the bounded reader, and the
//! manifest's structs are filled from that value by their own serde derives (field names, defaults,
//! `deny_unknown_fields`). A second, typed parse of the text by serde_norway cost the console's wasm about 80 KB
//! (docs/benchmarks.md).
//!
//! Where text is expected, a whole number or a boolean is read as its text (`8080` is the string `8080`) and a
//! null as empty text. A number with a fraction is refused there, to be quoted: once parsed, `1.10` is `1.1`, and a
//! value is never read other than as written.

use std::fmt;

use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Unexpected, Visitor};

use super::Value;
use crate::keypath::KeyPath;

/// Why a value does not fit the type, and the key path of the value (or unknown key) it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedError {
    /// Where: the root when empty.
    pub path: KeyPath,
    /// What, in serde's words (`unknown field `replcas`, expected one of ...`).
    pub message: String,
    /// Whether `path` is set yet: an error is raised without it and takes the path of the innermost value it
    /// passes through.
    placed: bool,
}

impl TypedError {
    fn within(mut self, path: &KeyPath) -> TypedError {
        if !self.placed {
            self.path = path.clone();
            self.placed = true;
        }
        self
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

impl de::Error for TypedError {
    fn custom<T: fmt::Display>(message: T) -> TypedError {
        TypedError {
            path: KeyPath::root(),
            message: message.to_string(),
            placed: false,
        }
    }
}

/// Reads a `T` from a parsed YAML value.
pub fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, TypedError> {
    let root = KeyPath::root();
    T::deserialize(At { value, path: &root }).map_err(|error| error.within(&root))
}

/// One value and its key path, as a serde deserializer.
struct At<'v, 'p> {
    value: &'v Value,
    path: &'p KeyPath,
}

impl At<'_, '_> {
    fn unexpected(&self) -> Unexpected<'_> {
        match self.value {
            Value::Null => Unexpected::Unit,
            Value::Bool(b) => Unexpected::Bool(*b),
            Value::Integer(i) => Unexpected::Signed(*i),
            Value::Float(f) => Unexpected::Float(*f),
            Value::String(s) => Unexpected::Str(s),
            Value::List(_) => Unexpected::Seq,
            Value::Map(_) => Unexpected::Map,
        }
    }

    fn invalid<T>(&self, expected: &dyn de::Expected) -> Result<T, TypedError> {
        Err(de::Error::invalid_type(self.unexpected(), expected))
    }

    /// A boolean or number: the visitor says whether it fits.
    fn scalar<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypedError> {
        let result = match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Integer(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::String(s) => visitor.visit_str(s),
            Value::List(_) | Value::Map(_) => self.invalid(&visitor),
        };
        result.map_err(|error| error.within(self.path))
    }
}

macro_rules! scalars {
    ($($method:ident)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypedError> {
            self.scalar(visitor)
        })*
    };
}

impl<'de> de::Deserializer<'de> for At<'_, '_> {
    type Error = TypedError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypedError> {
        match self.value {
            Value::List(items) => visitor.visit_seq(Items::new(items, self.path)),
            Value::Map(map) => visitor.visit_map(Entries::new(map, self.path)),
            _ => return self.scalar(visitor),
        }
        .map_err(|error| error.within(self.path))
    }

    scalars!(deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_u8
        deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_unit);

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypedError> {
        let whole;
        let text = match self.value {
            Value::String(s) => s.as_str(),
            Value::Integer(i) => {
                whole = i.to_string();
                &whole
            }
            Value::Bool(true) => "true",
            Value::Bool(false) => "false",
            Value::Null => "",
            Value::Float(_) => {
                let error: TypedError = de::Error::custom(
                    "a number with a fraction where text is expected: write it in quotes (`'1.10'`), as it is meant",
                );
                return Err(error.within(self.path));
            }
            Value::List(_) | Value::Map(_) => {
                return self
                    .invalid(&visitor)
                    .map_err(|error: TypedError| error.within(self.path));
            }
        };
        visitor
            .visit_str::<TypedError>(text)
            .map_err(|error| error.within(self.path))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypedError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypedError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypedError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypedError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypedError> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(At {
                value: self.value,
                path: self.path,
            }),
        }
        .map_err(|error| error.within(self.path))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypedError> {
        match self.value {
            Value::List(items) => visitor.visit_seq(Items::new(items, self.path)),
            _ => self.invalid(&visitor),
        }
        .map_err(|error| error.within(self.path))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, TypedError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, TypedError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypedError> {
        match self.value {
            Value::Map(map) => visitor.visit_map(Entries::new(map, self.path)),
            _ => self.invalid(&visitor),
        }
        .map_err(|error| error.within(self.path))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TypedError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, TypedError> {
        self.scalar(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, TypedError> {
        visitor.visit_newtype_struct(self)
    }

    /// Unit variants only (`type: string`), as the manifest has.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TypedError> {
        match self.value {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            _ => self.invalid(&visitor),
        }
        .map_err(|error| error.within(self.path))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypedError> {
        visitor.visit_unit()
    }
}

/// The items of a list, each with its index in the path.
struct Items<'v, 'p> {
    items: std::iter::Enumerate<std::slice::Iter<'v, Value>>,
    path: &'p KeyPath,
}

impl<'v, 'p> Items<'v, 'p> {
    fn new(items: &'v [Value], path: &'p KeyPath) -> Items<'v, 'p> {
        Items {
            items: items.iter().enumerate(),
            path,
        }
    }
}

impl<'de> de::SeqAccess<'de> for Items<'_, '_> {
    type Error = TypedError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, TypedError> {
        let Some((index, value)) = self.items.next() else {
            return Ok(None);
        };
        let path = self.path.index(index);
        seed.deserialize(At { value, path: &path }).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// The entries of a mapping, each key with its path: an unknown key is reported where it is written.
struct Entries<'v, 'p> {
    entries: std::collections::btree_map::Iter<'v, String, Value>,
    path: &'p KeyPath,
    /// The path and value of the key just read.
    pending: Option<(KeyPath, &'v Value)>,
}

impl<'v, 'p> Entries<'v, 'p> {
    fn new(
        map: &'v std::collections::BTreeMap<String, Value>,
        path: &'p KeyPath,
    ) -> Entries<'v, 'p> {
        Entries {
            entries: map.iter(),
            path,
            pending: None,
        }
    }
}

impl<'de> de::MapAccess<'de> for Entries<'_, '_> {
    type Error = TypedError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, TypedError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        let path = self.path.key(key);
        let key: StrDeserializer<'_, TypedError> = key.as_str().into_deserializer();
        let read = seed.deserialize(key).map_err(|error| error.within(&path))?;
        self.pending = Some((path, value));
        Ok(Some(read))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, TypedError> {
        let Some((path, value)) = self.pending.take() else {
            return Err(de::Error::custom(
                "a mapping value was asked before its key",
            ));
        };
        seed.deserialize(At { value, path: &path })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}
