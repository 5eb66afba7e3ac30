//! The bounded YAML reader: every YAML file (manifests, values, overlays) goes through here.
//!
//! [`reader`] reads the text into our own [`Value`] in one pass, and this is where the bounds live:
//! - size: at most `max_yaml_bytes`, checked before parsing;
//! - nesting: at most `max_yaml_depth` containers deep;
//! - alias expansion: each node built costs [`NODE_COST`] plus its scalar's length (roughly the memory it takes),
//!   and a document may cost at most `max(20 × its size, 4 MiB)`. Without aliases a document costs at most about
//!   17 × its size (`{a,b,c}`: 2 bytes per key for a key and a null), so only expansion (a "billion laughs", or one
//!   big anchor used many times) reaches the bound, and it fails having built no more than a file without aliases
//!   of the largest allowed size could;
//! - duplicate keys are reported at the duplicate's line, which a `BTreeMap` alone would silently merge.
//!
//! Mapping keys are kept as text (`1: a` has the key `"1"`), maps are sorted by key, and YAML merge keys (`<<`) are
//! applied, explicit keys winning.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;

use crate::keypath::{KeyPath, Segment};
use crate::limits::Limits;
use crate::report::Finding;

mod reader;
pub mod typed;

/// A YAML value as the checks see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A whole number.
    Integer(i64),
    /// A number with a fraction (or too large for an integer).
    Float(f64),
    /// Text.
    String(String),
    /// A sequence.
    List(Vec<Value>),
    /// A mapping, sorted by key.
    Map(BTreeMap<String, Value>),
}

/// The three kinds the compatibility rules compare (formats.md: "a map, list or scalar where the template has
/// another kind"), plus null.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Null.
    Null,
    /// A string, number or boolean.
    Scalar,
    /// A sequence.
    List,
    /// A mapping.
    Map,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Null => "null",
            Kind::Scalar => "scalar",
            Kind::List => "list",
            Kind::Map => "map",
        })
    }
}

impl Value {
    /// Map, list, scalar or null.
    pub fn kind(&self) -> Kind {
        match self {
            Value::Null => Kind::Null,
            Value::Bool(_) | Value::Integer(_) | Value::Float(_) | Value::String(_) => Kind::Scalar,
            Value::List(_) => Kind::List,
            Value::Map(_) => Kind::Map,
        }
    }

    /// The type in an operator's words: `string`, `integer`, `number`, `boolean`, `map`, `list` or `null`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Integer(_) => "integer",
            Value::Float(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "map",
        }
    }

    /// The mapping, if this is one.
    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(map) => Some(map),
            _ => None,
        }
    }

    /// The value at `path`, if it exists.
    pub fn get(&self, path: &KeyPath) -> Option<&Value> {
        path.0
            .iter()
            .try_fold(self, |value, segment| match (value, segment) {
                (Value::Map(map), Segment::Key(key)) => map.get(key),
                (Value::List(items), Segment::Index(index)) => items.get(*index),
                _ => None,
            })
    }

    /// The same value as JSON, for report details.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Integer(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::List(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json).collect())
            }
            Value::Map(map) => {
                // Inserted one by one: collecting would sort again what is already sorted.
                let mut object = serde_json::Map::new();
                for (key, value) in map {
                    object.insert(key.clone(), value.to_json());
                }
                serde_json::Value::Object(object)
            }
        }
    }
}

/// Parses a YAML file whose root must be a mapping (`values.yaml`, `version.yaml`). An empty or comment-only file
/// is an empty mapping, as Helm reads it (no overrides).
pub fn parse_mapping(file: &str, bytes: &[u8], limits: &Limits) -> Result<Value, Finding> {
    let text = checked_text(file, bytes, limits)?;
    if has_no_content(text) {
        return Ok(Value::Map(BTreeMap::new()));
    }
    let budget = Budget::new(text.len(), limits);
    let value = parse_one(file, text, &budget)?;
    match value {
        Value::Map(_) => Ok(value),
        other => Err(Finding::error(
            "yaml-not-mapping",
            format!(
                "{file}: the root must be a mapping of keys to values, not {}",
                describe_root(&other)
            ),
        )
        .in_file(file)
        .at(1, 1)),
    }
}

/// Parses a YAML file of one or more documents (`---`) of any kind (overlays).
pub fn parse_documents(file: &str, bytes: &[u8], limits: &Limits) -> Result<Vec<Value>, Finding> {
    let text = checked_text(file, bytes, limits)?;
    let budget = Budget::new(text.len(), limits);
    reader::documents(text, &budget, usize::MAX)
        .map(|(documents, _)| documents)
        .map_err(|error| finding(file, error))
}

/// Whether a YAML text holds nothing but blank lines, comments and document markers.
fn has_no_content(text: &str) -> bool {
    text.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#') || line == "---" || line == "..."
    })
}

/// The UTF-8 byte-order mark Windows editors write: not content (YAML 1.2, 5.2).
const BOM: &str = "\u{feff}";

/// The size and encoding checks every YAML file gets before it is parsed; the text returned starts after a
/// byte-order mark, if the file has one.
pub fn checked_text<'a>(file: &str, bytes: &'a [u8], limits: &Limits) -> Result<&'a str, Finding> {
    if bytes.len() as u64 > limits.max_yaml_bytes {
        return Err(Finding::error(
            "yaml-too-complex",
            format!(
                "{file}: {} bytes is more than the {} bytes a YAML file may have",
                bytes.len(),
                limits.max_yaml_bytes
            ),
        )
        .in_file(file));
    }
    let text = std::str::from_utf8(bytes).map_err(|error| {
        let valid = &bytes[..error.valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        let line_start = valid
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |at| at + 1);
        let column = String::from_utf8_lossy(&valid[line_start..])
            .chars()
            .count() as u64
            + 1;
        Finding::error(
            "yaml-not-utf8",
            format!(
                "{file} line {line}, column {column}: the file is not UTF-8 text (byte offset {})",
                error.valid_up_to()
            ),
        )
        .in_file(file)
        .at(line, column)
    })?;
    Ok(text.strip_prefix(BOM).unwrap_or(text))
}

fn describe_root(value: &Value) -> String {
    match value {
        Value::Null => "an empty document".to_string(),
        other => format!("a {}", other.type_name()),
    }
}

fn parse_one(file: &str, text: &str, budget: &Budget) -> Result<Value, Finding> {
    let (mut documents, more) =
        reader::documents(text, budget, 1).map_err(|error| finding(file, error))?;
    if more {
        return Err(Finding::error(
            "yaml-syntax",
            format!("{file}: more than one document (`---`) where one is expected"),
        )
        .in_file(file));
    }
    Ok(documents.pop().unwrap_or(Value::Null))
}

/// The finding for a reader's error: its code, line and column.
fn finding(file: &str, error: reader::Error) -> Finding {
    let code = match error.failure {
        Some(Failure::DuplicateKey) => "yaml-duplicate-key",
        Some(Failure::TooDeep | Failure::TooLarge) => "yaml-too-complex",
        None => "yaml-syntax",
    };
    Finding::error(
        code,
        format!(
            "{file} line {}, column {}: {}",
            error.line, error.column, error.message
        ),
    )
    .at(error.line, error.column)
    .in_file(file)
}

/// Line and column (1-based) of each wanted key path in a YAML text, or of its nearest written ancestor.
///
/// [`Value`] keeps no positions, so the findings that name a key path (`values-unknown-key`,
/// `values-type-conflict`) get theirs from this scan of the text the parse has already accepted. It follows block
/// mappings and sequences by indentation (quoted keys, `- ` items, comments, `|`/`>` block strings and multi-line
/// flow collections are skipped as content); a key written inside a flow collection (`{a: 1}`) or brought in by
/// a merge key (`<<`) gets the position of the nearest ancestor written in block style. One pass over the text,
/// run only when a finding needs it.
pub fn key_positions<'p>(
    text: &str,
    wanted: impl IntoIterator<Item = &'p KeyPath>,
) -> Vec<Option<(u64, u64)>> {
    let wanted: Vec<&KeyPath> = wanted.into_iter().collect();
    // Every prefix too: a path that is not written in block style falls back to its nearest ancestor.
    let mut sought: BTreeMap<&[Segment], Option<(u64, u64)>> = BTreeMap::new();
    for path in &wanted {
        for end in 1..=path.0.len() {
            sought.insert(&path.0[..end], None);
        }
    }
    scan_keys(text.strip_prefix(BOM).unwrap_or(text), &mut sought);
    wanted
        .iter()
        .map(|path| {
            (1..=path.0.len())
                .rev()
                .find_map(|end| sought.get(&path.0[..end]).copied().flatten())
        })
        .collect()
}

/// The block-style scan of [`key_positions`]: where each sought path is first written.
fn scan_keys(text: &str, sought: &mut BTreeMap<&[Segment], Option<(u64, u64)>>) {
    // The open nodes: their column and segment.
    let mut indents: Vec<usize> = Vec::new();
    let mut segments: Vec<Segment> = Vec::new();
    // Lines indented more than this column are a block string's content.
    let mut block_string: Option<usize> = None;
    // Open brackets of a flow collection that goes on over several lines.
    let mut flow_depth = 0i64;
    for (n, line) in text.lines().enumerate() {
        let line_number = n as u64 + 1;
        let indent = line.len() - line.trim_start_matches(' ').len();
        let mut rest = line[indent..].trim_end();
        if let Some(limit) = block_string {
            if rest.is_empty() || indent > limit {
                continue;
            }
            block_string = None;
        }
        if flow_depth > 0 {
            flow_depth = (flow_depth + flow_balance(rest)).max(0);
            continue;
        }
        if rest.is_empty() || rest.starts_with('#') {
            continue;
        }
        if indent == 0 && (rest == "---" || rest.starts_with("--- ") || rest == "...") {
            indents.clear();
            segments.clear();
            continue;
        }
        let mut column = indent;
        // Sequence entries, possibly several on one line (`- - a`).
        while rest == "-" || rest.starts_with("- ") {
            let mut next = 0;
            while let Some(&top) = indents.last() {
                let sibling = top == column && matches!(segments.last(), Some(Segment::Index(_)));
                if top > column || sibling {
                    if let (true, Some(Segment::Index(index))) = (sibling, segments.last()) {
                        next = index + 1;
                    }
                    indents.pop();
                    segments.pop();
                } else {
                    break;
                }
            }
            indents.push(column);
            segments.push(Segment::Index(next));
            note(&segments, sought, line_number, column);
            let after = &rest[1..];
            let trimmed = after.trim_start();
            column += 1 + after.len() - trimmed.len();
            rest = trimmed;
        }
        if rest.is_empty() || rest.starts_with('#') {
            continue;
        }
        let value = match split_key(rest) {
            Some((key, value)) => {
                while indents.last().is_some_and(|&top| top >= column) {
                    indents.pop();
                    segments.pop();
                }
                indents.push(column);
                segments.push(Segment::Key(key));
                note(&segments, sought, line_number, column);
                value
            }
            None => rest,
        };
        // Skip what follows the key or item as content: anchors and tags first.
        let mut value = value.trim_start();
        while value.starts_with(['&', '!']) {
            value = value
                .split_once(' ')
                .map_or("", |(_, after)| after.trim_start());
        }
        if value.starts_with(['|', '>']) {
            block_string = Some(column);
        } else if value.starts_with(['{', '[']) {
            flow_depth = flow_balance(value).max(0);
        }
    }
}

fn note(
    segments: &[Segment],
    sought: &mut BTreeMap<&[Segment], Option<(u64, u64)>>,
    line: u64,
    column: usize,
) {
    if let Some(found) = sought.get_mut(segments) {
        found.get_or_insert((line, column as u64 + 1));
    }
}

/// `key: value` → the key's text and what follows the `:`; `None` when the line does not start with a key.
fn split_key(rest: &str) -> Option<(String, &str)> {
    let (key, after) = match rest.chars().next()? {
        quote @ ('"' | '\'') => {
            let body = &rest[1..];
            let mut key = String::new();
            let mut chars = body.char_indices();
            let end = loop {
                let (at, c) = chars.next()?;
                match c {
                    '\\' if quote == '"' => key.push(chars.next()?.1),
                    '\'' if quote == '\'' && body[at + 1..].starts_with('\'') => {
                        key.push('\'');
                        chars.next();
                    }
                    c if c == quote => break at + 1,
                    c => key.push(c),
                }
            };
            let after = body[end..].trim_start().strip_prefix(':')?;
            (key, after)
        }
        '{' | '[' | '#' | '&' | '*' | '!' | '|' | '>' | '%' | '@' | '`' | '?' => return None,
        _ => {
            let mut at = 0;
            let end = loop {
                let colon = rest[at..].find(':')? + at;
                let after = &rest[colon + 1..];
                if after.is_empty() || after.starts_with([' ', '\t']) {
                    break colon;
                }
                at = colon + 1;
            };
            let key = rest[..end].trim_end();
            if key.contains(" #") {
                return None;
            }
            (key.to_string(), &rest[end + 1..])
        }
    };
    Some((key, after))
}

/// Opening minus closing brackets of a flow collection on one line, outside quotes and comments.
fn flow_balance(line: &str) -> i64 {
    let mut balance = 0;
    let mut quote = None;
    let mut previous = ' ';
    for c in line.chars() {
        match (quote, c) {
            (Some('"'), '\\') if previous != '\\' => {}
            (Some(q), c) if c == q && previous != '\\' => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') if previous == ' ' => break,
            (None, '[' | '{') => balance += 1,
            (None, ']' | '}') => balance -= 1,
            _ => {}
        }
        previous = c;
    }
    balance
}

/// Why the reader stopped, when a bound (not the syntax) stopped it.
#[derive(Debug, Clone, Copy)]
enum Failure {
    DuplicateKey,
    TooDeep,
    TooLarge,
}

/// What one node costs besides its scalar's bytes: about the memory a [`Value`] takes.
pub const NODE_COST: u64 = 16;

/// What building the value may still cost, and how deep it may go.
struct Budget {
    remaining: Cell<u64>,
    max_depth: u32,
}

impl Budget {
    fn new(input_len: usize, limits: &Limits) -> Budget {
        Budget {
            remaining: Cell::new((input_len as u64).saturating_mul(20).max(4 << 20)),
            max_depth: limits.max_yaml_depth,
        }
    }

    /// Takes `cost` from what is left; false when not enough is.
    fn charge(&self, cost: u64) -> bool {
        match self.remaining.get().checked_sub(cost) {
            Some(left) => {
                self.remaining.set(left);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Value, Finding> {
        parse_mapping("values.yaml", text.as_bytes(), &Limits::default())
    }

    #[test]
    fn merge_keys_apply_and_explicit_keys_win() {
        let value = parse("base: &b {a: 1, b: 2}\nchild:\n  <<: *b\n  b: 3\n").unwrap();
        let child = value.get(&KeyPath::parse("child").unwrap()).unwrap();
        assert_eq!(
            child.get(&KeyPath::parse("a").unwrap()),
            Some(&Value::Integer(1))
        );
        assert_eq!(
            child.get(&KeyPath::parse("b").unwrap()),
            Some(&Value::Integer(3))
        );
    }

    #[test]
    fn duplicate_key_reported_at_the_duplicate() {
        let finding = parse("a: 1\nb:\n  c: 1\n  c: 2\n").unwrap_err();
        assert_eq!(finding.code, "yaml-duplicate-key");
        assert_eq!(finding.line, Some(4));
        assert!(finding.message.contains("`c`"), "{}", finding.message);
    }

    #[test]
    fn key_positions_follow_block_style() {
        let text = "\u{feff}# comment\ncontroller:\n  nodeSelector:\n    kubernetes.io/os: linux\n  script: |\n    fake: 1\n  \"quoted.key\": 2\n  list:\n  - name: a\n    value: b\n  - name: c\n  flow: {x: 1,\n    y: 2}\n  after: 3\n";
        let paths = [
            "controller.nodeSelector[\"kubernetes.io/os\"]",
            "controller.script",
            "controller[\"quoted.key\"]",
            "controller.list[1].name",
            "controller.list[0].value",
            "controller.flow.y",
            "controller.after",
            "controller.script.fake",
        ]
        .map(|p| KeyPath::parse(p).unwrap());
        let at = key_positions(text, &paths);
        assert_eq!(
            at,
            [
                Some((4, 5)),
                Some((5, 3)),
                Some((7, 3)),
                Some((11, 5)),
                Some((10, 5)),
                Some((12, 3)),
                Some((14, 3)),
                Some((5, 3)),
            ]
        );
    }

    #[test]
    fn custom_tags_keep_the_value() {
        let value = parse("a: !secret hunter2\n").unwrap();
        assert_eq!(
            value.get(&KeyPath::parse("a").unwrap()),
            Some(&Value::String("hunter2".into()))
        );
    }
}
