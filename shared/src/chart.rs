//! What a Helm chart accepts in `values.yaml` (formats.md, "Non-standard configuration", compatibility): the
//! chart's own values, its subcharts' values, its `values.schema.json`, and the open places where new keys are
//! legitimate. docs/formats.md lists the open places with examples.
//!
//! The rule, in order, for a key of the operator's values that the chart's values.yaml does not have:
//! 1. under a null in the chart: anything goes; under `{}`: any key (a map is expected there);
//! 2. where `values.schema.json` describes the map: the schema decides (allowed: a warning; forbidden: an error);
//! 3. an open dictionary by its name ([`open_place`]): accepted, and the report says why;
//! 4. a subchart's values (Chart.yaml `dependencies`, `charts/<name>/`): checked against the subchart's own
//!    values.yaml when the bundle carries it, open otherwise;
//! 5. otherwise `values-unknown-key`, with a typo suggestion or the same name found elsewhere in the chart.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use crate::keypath::{KeyPath, Segment};
use crate::limits::Limits;
use crate::package::Template;
use crate::report::{Finding, Severity};
use crate::schema::Schema;
use crate::secrets;
use crate::standard::VALUES_FILE;
use crate::yaml::{self, Value};

/// Typo suggestions are computed for this many unknown keys at most: each costs a comparison with every sibling,
/// and a hostile file may have a million unknown keys.
const MAX_SUGGESTIONS: usize = 1000;
/// How many accepted keys an open-place note lists.
const MAX_LISTED: usize = 20;
/// The keys Kubernetes' ResourceRequirements has: `resources` takes these and no other.
const RESOURCE_FIELDS: [&str; 3] = ["claims", "limits", "requests"];

/// A chart as the compatibility check sees it.
#[derive(Debug, Clone)]
pub struct Chart {
    /// The chart's values.yaml.
    pub values: Value,
    /// The key each subchart's values sit under (its alias, else its name) → its values.yaml, when carried.
    pub subcharts: Vec<(String, Subchart)>,
    /// The chart's values.schema.json, when it ships one that parses.
    pub schema: Option<Schema>,
    /// Problems reading Chart.yaml, a subchart's values or the schema (warnings: the check goes on without them).
    pub notes: Vec<Finding>,
}

/// A dependency of the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Subchart {
    /// The chart's name (Chart.yaml `dependencies[].name`, or the folder under `charts/`).
    pub name: String,
    /// Its values.yaml (`charts/<name>/values.yaml`), when the bundle carries it.
    pub values: Option<Value>,
}

impl Chart {
    /// Reads the chart from a template: its values.yaml, Chart.yaml's dependencies, `charts/<name>/values.yaml`
    /// and values.schema.json.
    pub fn of(template: &Template, prefix: &str, limits: &Limits) -> Chart {
        let mut chart = Chart {
            values: template.values.clone().unwrap_or(Value::Null),
            subcharts: Vec::new(),
            schema: None,
            notes: Vec::new(),
        };
        let bytes_of = |path: &str| template.files.get(path).and_then(|f| f.bytes.as_deref());
        let parse = |path: &str, chart: &mut Chart| -> Option<Value> {
            let file = format!("{prefix}{path}");
            match yaml::parse_mapping(&file, bytes_of(path)?, limits) {
                Ok(value) => Some(value),
                Err(mut finding) => {
                    finding.severity = Severity::Warning;
                    finding.message =
                        format!("{} (so the check goes on without it)", finding.message);
                    chart.notes.push(finding);
                    None
                }
            }
        };
        // Folders under charts/ that hold a values.yaml: unpacked subcharts.
        let mut carried: Vec<(String, Option<Value>)> = Vec::new();
        for path in template.files.keys() {
            if let Some(name) = path
                .strip_prefix("charts/")
                .and_then(|rest| rest.strip_suffix("/values.yaml"))
                .filter(|name| !name.contains('/'))
            {
                let values = parse(path, &mut chart);
                carried.push((name.to_string(), values));
            }
        }
        if let Some(manifest) = parse("Chart.yaml", &mut chart)
            && let Some(Value::List(dependencies)) =
                manifest.get(&KeyPath::root().key("dependencies"))
        {
            for dependency in dependencies {
                let text = |key: &str| match dependency.get(&KeyPath::root().key(key)) {
                    Some(Value::String(text)) if !text.is_empty() => Some(text.clone()),
                    _ => None,
                };
                let Some(name) = text("name") else { continue };
                let key = text("alias").unwrap_or_else(|| name.clone());
                let values = carried
                    .iter()
                    .find(|(carried, _)| *carried == name)
                    .and_then(|(_, values)| values.clone());
                chart.subcharts.push((key, Subchart { name, values }));
            }
        }
        // A subchart folder Chart.yaml does not list is still a subchart (Helm loads every chart under charts/).
        for (name, values) in carried {
            if !chart.subcharts.iter().any(|(_, s)| s.name == name) {
                chart
                    .subcharts
                    .push((name.clone(), Subchart { name, values }));
            }
        }
        // Helm gives a subchart its defaults overridden by what the parent's values.yaml sets under its key.
        for (key, sub) in &mut chart.subcharts {
            if let (Some(values), Some(parent)) =
                (&mut sub.values, chart.values.get(&KeyPath::root().key(key)))
            {
                *values = coalesce(values, parent);
            }
        }
        if let Some(bytes) = bytes_of("values.schema.json") {
            match Schema::parse(bytes) {
                Ok(schema) => chart.schema = Some(schema),
                Err(reason) => chart.notes.push(
                    Finding::warning(
                        "values-schema-invalid",
                        format!(
                            "{prefix}values.schema.json: {reason}; values are checked without it"
                        ),
                    )
                    .in_file(format!("{prefix}values.schema.json")),
                ),
            }
        }
        chart
    }

    /// `values-unknown-key`, `values-type-conflict` and the notes on open places for the operator's values, with
    /// file, line and column (from `text`, the values file as written).
    pub fn check_values(&self, values: &Value, text: &str) -> Vec<Finding> {
        let mut check = Check {
            chart: self,
            suggestions_left: MAX_SUGGESTIONS,
            located: Vec::new(),
            open: Vec::new(),
            names: None,
        };
        let schema = self.schema.as_ref().map(|s| s.root());
        check.values(values, &self.values, schema, &KeyPath::root(), false);
        let Check {
            mut located, open, ..
        } = check;
        for (place, note) in open {
            let first = place.key(&note.keys[0]);
            let more = note.count.saturating_sub(note.keys.len());
            let finding = Finding::new(
                Severity::Info,
                "values-open-key",
                format!(
                    "{VALUES_FILE}: `{}` accepts keys the chart's values.yaml does not list ({}{}): {}",
                    place_name(&place),
                    note.keys.join(", "),
                    if more > 0 { format!(" and {more} more") } else { String::new() },
                    note.reason
                ),
            )
            .in_file(VALUES_FILE)
            .with_path(place.to_string())
            .with_details(json!({ "open": note.reason, "keys": note.keys }));
            located.push((first, finding));
        }
        let positions = yaml::key_positions(text, located.iter().map(|(path, _)| path));
        located
            .into_iter()
            .zip(positions)
            .map(|((_, mut finding), at)| {
                if let Some((line, column)) = at {
                    finding.message = finding.message.replacen(
                        &format!("{VALUES_FILE}:"),
                        &format!("{VALUES_FILE} line {line}, column {column}:"),
                        1,
                    );
                    finding = finding.at(line, column);
                }
                finding
            })
            .collect()
    }
}

fn place_name(place: &KeyPath) -> String {
    if place.0.is_empty() {
        "the root".to_string()
    } else {
        place.to_string()
    }
}

/// Keys accepted at one open place.
struct OpenNote {
    /// Why the place is open, in an operator's words.
    reason: String,
    /// The first keys accepted there.
    keys: Vec<String>,
    /// How many were accepted.
    count: usize,
}

/// One run of the compatibility rules over the operator's values.
struct Check<'c> {
    chart: &'c Chart,
    suggestions_left: usize,
    /// Each finding with the key path whose position it takes.
    located: Vec<(KeyPath, Finding)>,
    /// Open places where keys were accepted.
    open: Vec<(KeyPath, OpenNote)>,
    /// Every key name of the chart's values → its shallowest path, built for the first misplaced key.
    names: Option<Vec<(&'c str, KeyPath)>>,
}

impl<'c> Check<'c> {
    /// Compares `values` with the chart's `template` at `path`; `in_subchart` once inside a subchart's values.
    fn values(
        &mut self,
        values: &Value,
        template: &'c Value,
        schema: Option<&'c Json>,
        path: &KeyPath,
        in_subchart: bool,
    ) {
        if matches!(values, Value::Null) {
            return;
        }
        if let Some(schema) = schema
            && let Some(expected) = self
                .chart
                .schema
                .as_ref()
                .and_then(|s| s.type_mismatch(schema, values))
        {
            let expected = format!("type {expected}");
            self.conflict(path, values, &expected, "the chart's values.schema.json");
            return;
        }
        match (values, template) {
            (Value::Map(map), Value::Null) => self.note_open(
                path,
                map.keys(),
                "the chart's default here is null, which takes anything".to_string(),
            ),
            (_, Value::Null) => {}
            (Value::Map(values), Value::Map(template)) => {
                // The keys this map takes as an open place, noted once for the map (for all the same reason).
                let mut open_keys = Vec::new();
                let mut open_reason = "";
                for (key, value) in values {
                    let child = path.key(key);
                    let child_schema =
                        schema.and_then(|s| self.chart.schema.as_ref()?.property(s, key));
                    if path.0.is_empty()
                        && !in_subchart
                        && let Some((_, sub)) = self.chart.subcharts.iter().find(|(k, _)| k == key)
                    {
                        self.subchart(sub, value, &child);
                    } else if let Some(template_value) = template.get(key) {
                        self.values(value, template_value, child_schema, &child, in_subchart);
                    } else if let Some(reason) =
                        self.new_key(path, key, template, schema, child_schema.is_some())
                    {
                        open_keys.push(key);
                        open_reason = reason;
                    }
                }
                self.note_open(path, open_keys.into_iter(), open_reason.to_string());
            }
            (Value::String(text), Value::Bool(_)) => {
                let reading = if text.is_empty() {
                    "false (an empty string)"
                } else {
                    "true (any non-empty string)"
                };
                // The value is quoted in the message: masked like any other value shown.
                let shown = secrets::masked(path, &Json::String(text.clone()));
                let finding = Finding::warning(
                    "values-type-conflict",
                    format!(
                        "{VALUES_FILE}: `{path}` is the string {shown} here but a boolean in the chart; Helm's templates read a string as {reading}: write it without quotes"
                    ),
                )
                .in_file(VALUES_FILE)
                .with_path(path.to_string())
                .with_details(json!({ "found": "string", "template": "boolean", "helm_reads": !text.is_empty() }));
                self.located.push((path.clone(), finding));
            }
            _ if values.kind() == template.kind() => {}
            _ => {
                let expected = if matches!(template, Value::Map(m) if m.is_empty()) {
                    "a map (`{}` in the chart)".to_string()
                } else {
                    format!("a {}", template.kind())
                };
                self.conflict(path, values, &expected, "the chart");
            }
        }
    }

    fn conflict(&mut self, path: &KeyPath, values: &Value, expected: &str, by: &str) {
        let finding = Finding::error(
            "values-type-conflict",
            format!(
                "{VALUES_FILE}: `{path}` is a {} here but {by} expects {expected}",
                values.kind()
            ),
        )
        .in_file(VALUES_FILE)
        .with_path(path.to_string())
        .with_details(json!({ "found": values.kind().to_string(), "template": expected.split(' ').nth(1).unwrap_or(expected) }));
        self.located.push((path.clone(), finding));
    }

    /// The values of a subchart: against its own values.yaml (with the parent's defaults for it) when carried.
    fn subchart(&mut self, sub: &'c Subchart, value: &Value, path: &KeyPath) {
        match &sub.values {
            Some(defaults) => self.values(value, defaults, None, path, true),
            None => {
                if let Value::Map(map) = value {
                    let reason = format!(
                        "values of the subchart `{}` (Chart.yaml dependencies, charts/{}/), whose own values.yaml the bundle does not carry, so they are not checked",
                        sub.name, sub.name
                    );
                    self.note_open(path, map.keys(), reason);
                }
            }
        }
    }

    /// A key the chart's map at `path` does not have: a finding, or why the place takes it.
    fn new_key(
        &mut self,
        path: &KeyPath,
        key: &str,
        template: &'c BTreeMap<String, Value>,
        schema: Option<&'c Json>,
        schema_has_it: bool,
    ) -> Option<&'static str> {
        let child = path.key(key);
        let resources = is_resources(path);
        if resources && !RESOURCE_FIELDS.contains(&key) && !template.contains_key(key) {
            let suggestion = self
                .take_suggestion()
                .then(|| closest(key, RESOURCE_FIELDS.into_iter()))
                .flatten();
            self.unknown(
                &child,
                key,
                suggestion.map(|near| path.key(near)),
                "Kubernetes resources take only limits, requests and claims",
                Severity::Error,
            );
            return None;
        }
        let verdict =
            schema.and_then(|node| self.chart.schema.as_ref()?.allows(node, key, schema_has_it));
        if verdict == Some(false) {
            let suggestion = self.typo(key, template, path);
            self.unknown(
                &child,
                key,
                suggestion,
                "the chart's values.schema.json does not allow it",
                Severity::Error,
            );
            return None;
        }
        if template.is_empty() {
            return Some("the chart's default here is `{}`, an empty map to fill");
        }
        if resources {
            return Some("Kubernetes resources take limits, requests and claims");
        }
        if let Some(reason) = open_place(path) {
            return Some(reason);
        }
        if verdict == Some(true) {
            let suggestion = self.typo(key, template, path);
            self.unknown(
                &child,
                key,
                suggestion,
                "the chart's values.schema.json allows it, so Helm accepts it",
                Severity::Warning,
            );
            return None;
        }
        let suggestion = self
            .typo(key, template, path)
            .or_else(|| self.elsewhere(key, path));
        self.unknown(&child, key, suggestion, "", Severity::Error);
        None
    }

    fn take_suggestion(&mut self) -> bool {
        let left = self.suggestions_left > 0;
        self.suggestions_left = self.suggestions_left.saturating_sub(1);
        left
    }

    fn typo(
        &mut self,
        key: &str,
        siblings: &BTreeMap<String, Value>,
        parent: &KeyPath,
    ) -> Option<KeyPath> {
        if !self.take_suggestion() {
            return None;
        }
        closest(key, siblings.keys().map(String::as_str)).map(|near| parent.key(near))
    }

    /// The same key name elsewhere in the chart (a misplaced key), at its shallowest place.
    fn elsewhere(&mut self, key: &str, path: &KeyPath) -> Option<KeyPath> {
        if self.suggestions_left == 0 {
            return None;
        }
        let chart = self.chart;
        let names = self.names.get_or_insert_with(|| names_of(&chart.values));
        let at = names.partition_point(|(name, _)| *name < key);
        names
            .get(at)
            .filter(|(name, _)| *name == key)
            .map(|(_, found)| found)
            .filter(|found| found.0.len() != path.0.len() + 1 || !found.0.starts_with(&path.0))
            .cloned()
    }

    fn unknown(
        &mut self,
        child: &KeyPath,
        key: &str,
        suggestion: Option<KeyPath>,
        why: &str,
        severity: Severity,
    ) {
        let misplaced = suggestion
            .as_ref()
            .is_some_and(|near| near.0.last() == child.0.last());
        let mut message = match &suggestion {
            Some(near) if misplaced => format!(
                "{VALUES_FILE}: `{child}` is not in the chart here; the chart has `{key}` at `{near}`, did you mean `{near}`?"
            ),
            Some(near) => {
                format!("{VALUES_FILE}: `{child}` is not in the chart; did you mean `{near}`?")
            }
            None => format!("{VALUES_FILE}: `{child}` is not in the chart"),
        };
        if !why.is_empty() {
            message = format!("{message} ({why})");
        }
        let mut finding = Finding::new(severity, "values-unknown-key", message)
            .in_file(VALUES_FILE)
            .with_path(child.to_string());
        if let Some(near) = suggestion {
            finding = finding.with_details(json!({ "suggestion": near.to_string() }));
        }
        self.located.push((child.clone(), finding));
    }

    /// Notes the keys one open place took (nothing when there are none).
    fn note_open<'k>(
        &mut self,
        place: &KeyPath,
        keys: impl Iterator<Item = &'k String>,
        reason: String,
    ) {
        let mut note = OpenNote {
            reason,
            keys: Vec::new(),
            count: 0,
        };
        for key in keys {
            note.count += 1;
            if note.keys.len() < MAX_LISTED {
                note.keys.push(key.clone());
            }
        }
        if note.count > 0 {
            self.open.push((place.clone(), note));
        }
    }
}

/// Whether `path` is a container's `resources` (Kubernetes ResourceRequirements).
fn is_resources(path: &KeyPath) -> bool {
    matches!(path.0.last(), Some(Segment::Key(key)) if key == "resources" || key.ends_with("Resources"))
}

/// Why the map at `path` is an open dictionary, when it is one by its name (docs/formats.md lists these).
pub fn open_place(path: &KeyPath) -> Option<&'static str> {
    let mut keys = path.0.iter().rev().filter_map(|s| match s {
        Segment::Key(key) => Some(key.as_str()),
        Segment::Index(_) => None,
    });
    let last = keys.next()?;
    let parent = keys.next().unwrap_or("");
    let lower = last.to_ascii_lowercase();
    if lower.ends_with("labels") || lower.ends_with("annotations") {
        Some("Kubernetes labels and annotations take any keys")
    } else if lower.ends_with("nodeselector") {
        Some("a Kubernetes node selector takes any node labels")
    } else if matches!(last, "limits" | "requests")
        && is_resources(&KeyPath(path.0[..path.0.len() - 1].to_vec()))
    {
        Some("Kubernetes resource limits and requests take any resource name")
    } else if matches!(last, "data" | "stringData" | "binaryData") {
        Some("a ConfigMap's or Secret's data takes any keys")
    } else if parent == "configs" && matches!(last, "cm" | "params" | "rbac") {
        Some(
            "written into a ConfigMap's data (Argo CD configs.cm, configs.params, configs.rbac), which takes any keys",
        )
    } else {
        None
    }
}

/// `overrides` over `defaults` as Helm coalesces values: maps merge key by key, anything else replaces. (Helm
/// drops a key set to null; here it stays as null, so a difference shows it as set to null.)
pub fn coalesce(defaults: &Value, overrides: &Value) -> Value {
    match (defaults, overrides) {
        (Value::Map(defaults), Value::Map(overrides)) => {
            let mut merged = defaults.clone();
            for (key, value) in overrides {
                match (merged.get(key), value) {
                    (Some(default), value) => {
                        let value = coalesce(default, value);
                        merged.insert(key.clone(), value);
                    }
                    (None, value) => {
                        merged.insert(key.clone(), value.clone());
                    }
                }
            }
            Value::Map(merged)
        }
        (_, overrides) => overrides.clone(),
    }
}

/// Every key name of a values tree with its shallowest path (the first in key order at that depth), sorted by
/// name for a binary search.
fn names_of(values: &Value) -> Vec<(&str, KeyPath)> {
    let mut names = Vec::new();
    let mut level: Vec<(KeyPath, &Value)> = vec![(KeyPath::root(), values)];
    while !level.is_empty() {
        let mut next = Vec::new();
        for (path, value) in level {
            if let Value::Map(map) = value {
                for (key, child) in map {
                    let child_path = path.key(key);
                    names.push((key.as_str(), child_path.clone()));
                    next.push((child_path, child));
                }
            }
        }
        level = next;
    }
    // Stable: the shallowest of equal names stays first.
    names.sort_by(|a, b| a.0.cmp(b.0));
    names
}

/// The sibling nearest to `key` by edit distance, when it is near enough to be a typo.
pub fn closest<'a>(key: &str, siblings: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let key_len = key.chars().count();
    // Long keys and huge maps are not typo-checked: the distance is quadratic in the lengths.
    if key_len > 128 {
        return None;
    }
    let allowed = (key_len / 3).clamp(1, 3);
    siblings
        .take(10_000)
        .filter(|sibling| sibling.chars().count().abs_diff(key_len) <= allowed)
        .map(|sibling| (edit_distance(key, sibling), sibling))
        .filter(|&(distance, _)| distance <= allowed && distance < key_len)
        .min_by_key(|&(distance, sibling)| (distance, sibling))
        .map(|(_, sibling)| sibling)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typo_suggests_the_sibling() {
        assert_eq!(
            closest("replcas", ["image", "replicas", "resources"].into_iter()),
            Some("replicas")
        );
        assert_eq!(closest("zzz", ["image", "replicas"].into_iter()), None);
    }

    #[test]
    fn open_places_by_name() {
        for open in [
            "controller.nodeSelector",
            "podAnnotations",
            "commonLabels",
            "controller.resources.limits",
            "configs.cm",
            "extraDeploy[0].stringData",
        ] {
            assert!(
                open_place(&KeyPath::parse(open).unwrap()).is_some(),
                "{open}"
            );
        }
        for closed in [
            "controller",
            "controller.limits",
            "configs",
            "cm",
            "resources",
        ] {
            assert!(
                open_place(&KeyPath::parse(closed).unwrap()).is_none(),
                "{closed}"
            );
        }
    }
}
