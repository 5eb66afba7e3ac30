//! The reference YAML reader of the differential check: the serde_norway-based reader `shared/src/yaml.rs` had
//! before it got a reader of its own, kept as test code. Same rules: size and UTF-8 checks, byte-order mark
//! stripped, an empty or comment-only values file is an empty mapping, mapping keys as text, duplicate keys refused,
//! merge keys (`<<`) applied with explicit keys winning, custom tags dropped, nesting and alias expansion bounded
//! by the same budget. It returns the finding's code and line only: messages are not compared.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{DeserializeSeed, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};
use shared::limits::Limits;
use shared::yaml::Value;

/// Why the reference refused a file: a finding's code and its line, if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: &'static str,
    pub line: Option<u64>,
}

impl Failure {
    fn at(code: &'static str, line: Option<u64>) -> Failure {
        Failure { code, line }
    }
}

/// A values file: its root must be a mapping; empty or comment-only is an empty mapping.
pub fn parse_mapping(bytes: &[u8], limits: &Limits) -> Result<Value, Failure> {
    let text = checked_text(bytes, limits)?;
    if has_no_content(text) {
        return Ok(Value::Map(BTreeMap::new()));
    }
    let budget = Budget::new(text.len(), limits);
    let seed = NodeSeed {
        budget: &budget,
        depth: 0,
    };
    match seed.deserialize(serde_norway::Deserializer::from_str(text)) {
        Ok(value @ Value::Map(_)) => Ok(value),
        Ok(_) => Err(Failure::at("yaml-not-mapping", Some(1))),
        Err(error) => Err(classify(&budget, &error)),
    }
}

/// An overlay: one or more documents of any kind.
pub fn parse_documents(bytes: &[u8], limits: &Limits) -> Result<Vec<Value>, Failure> {
    let text = checked_text(bytes, limits)?;
    let budget = Budget::new(text.len(), limits);
    let mut documents = Vec::new();
    for document in serde_norway::Deserializer::from_str(text) {
        let seed = NodeSeed {
            budget: &budget,
            depth: 0,
        };
        documents.push(
            seed.deserialize(document)
                .map_err(|error| classify(&budget, &error))?,
        );
    }
    Ok(documents)
}

fn has_no_content(text: &str) -> bool {
    text.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#') || line == "---" || line == "..."
    })
}

fn checked_text<'a>(bytes: &'a [u8], limits: &Limits) -> Result<&'a str, Failure> {
    if bytes.len() as u64 > limits.max_yaml_bytes {
        return Err(Failure::at("yaml-too-complex", None));
    }
    let text = std::str::from_utf8(bytes).map_err(|error| {
        let valid = &bytes[..error.valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        Failure::at("yaml-not-utf8", Some(line))
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

fn classify(budget: &Budget, error: &serde_norway::Error) -> Failure {
    let message = error.to_string();
    let code = match budget.failure.take() {
        Some(Stop::DuplicateKey) => "yaml-duplicate-key",
        Some(Stop::TooDeep | Stop::TooLarge) => "yaml-too-complex",
        None if message.contains("recursion limit exceeded")
            || message.contains("repetition limit exceeded") =>
        {
            "yaml-too-complex"
        }
        None => "yaml-syntax",
    };
    Failure::at(code, error.location().map(|at| at.line() as u64))
}

/// What one node costs besides its scalar's bytes (as in `shared::yaml` when it used serde_norway).
const NODE_COST: u64 = 16;

#[derive(Debug, Clone, Copy)]
enum Stop {
    DuplicateKey,
    TooDeep,
    TooLarge,
}

struct Budget {
    remaining: Cell<u64>,
    max_depth: u32,
    failure: Cell<Option<Stop>>,
}

impl Budget {
    fn new(input_len: usize, limits: &Limits) -> Budget {
        Budget {
            remaining: Cell::new((input_len as u64).saturating_mul(20).max(4 << 20)),
            max_depth: limits.max_yaml_depth,
            failure: Cell::new(None),
        }
    }

    fn charge<E: serde::de::Error>(&self, scalar_len: usize) -> Result<(), E> {
        match self
            .remaining
            .get()
            .checked_sub(scalar_len as u64 + NODE_COST)
        {
            Some(left) => {
                self.remaining.set(left);
                Ok(())
            }
            None => self.fail(Stop::TooLarge, "expands too much"),
        }
    }

    fn fail<T, E: serde::de::Error>(&self, stop: Stop, message: &str) -> Result<T, E> {
        self.failure.set(Some(stop));
        Err(E::custom(message))
    }
}

#[derive(Clone, Copy)]
struct NodeSeed<'b> {
    budget: &'b Budget,
    depth: u32,
}

impl<'b> NodeSeed<'b> {
    fn enter<E: serde::de::Error>(self) -> Result<NodeSeed<'b>, E> {
        self.budget.charge::<E>(0)?;
        let depth = self.depth + 1;
        if depth > self.budget.max_depth {
            return self.budget.fail(Stop::TooDeep, "too deep");
        }
        Ok(NodeSeed {
            budget: self.budget,
            depth,
        })
    }
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
        self.budget.charge(0)?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        self.budget.charge(0)?;
        Ok(Value::Integer(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        self.budget.charge(0)?;
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Integer))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        self.budget.charge(0)?;
        Ok(Value::Float(v))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        self.budget.charge(v.len())?;
        Ok(Value::String(v.to_string()))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        self.budget.charge(0)?;
        Ok(Value::Null)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.enter()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.enter()?;
        let mut entries = BTreeMap::new();
        let mut merged = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed {
            budget: self.budget,
            existing: &entries,
        })? {
            let value = map.next_value_seed(inner)?;
            if key == "<<" {
                merged.push(value);
            } else {
                entries.insert(key, value);
            }
        }
        for value in merged {
            let sources = match value {
                Value::List(items) => items,
                other => vec![other],
            };
            for source in sources {
                let Value::Map(source) = source else {
                    return Err(serde::de::Error::custom("`<<` merges mappings only"));
                };
                for (key, value) in source {
                    entries.entry(key).or_insert(value);
                }
            }
        }
        Ok(Value::Map(entries))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (_tag, variant): (String, _) = data.variant()?;
        variant.newtype_variant_seed(self)
    }
}

struct KeySeed<'m, 'b> {
    budget: &'b Budget,
    existing: &'m BTreeMap<String, Value>,
}

impl KeySeed<'_, '_> {
    fn accept<E: serde::de::Error>(self, key: String) -> Result<String, E> {
        self.budget.charge::<E>(key.len())?;
        if self.existing.contains_key(&key) {
            return self.budget.fail(Stop::DuplicateKey, "duplicate key");
        }
        Ok(key)
    }
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_, '_> {
    type Value = String;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_, '_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping key that is a string, number or boolean")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<String, E> {
        self.accept(v.to_string())
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<String, E> {
        self.accept(v.to_string())
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<String, E> {
        self.accept(v.to_string())
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<String, E> {
        self.accept(v.to_string())
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
        self.accept(v.to_string())
    }
}
