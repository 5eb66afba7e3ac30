//! A chart's `values.schema.json`, honoured as Helm does, for the subset of JSON Schema draft 7 that decides
//! which keys and kinds a values file may have (docs/formats.md lists it): `properties`, `patternProperties`,
//! `additionalProperties` (true, false or a schema), `type` (a name or a list), and `$ref` to a place in the same
//! file (`#/definitions/x`, `#/$defs/x`). Other keywords (`enum`, `minimum`, `required`, `allOf`...) are not
//! checked here: Helm checks them when it installs, and a key they constrain is still a known key.

use serde_json::Value as Json;

use crate::yaml::Value;

/// How many `$ref` jumps one lookup follows (a cycle of references must not loop).
const MAX_REFS: usize = 32;

/// A parsed values.schema.json.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// The whole document.
    root: Json,
}

impl Schema {
    /// Parses the file; an error says why it is not a JSON Schema object.
    pub fn parse(bytes: &[u8]) -> Result<Schema, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_string())?;
        // From text, as the console already reads reports: one JSON reader in its wasm, not two.
        match serde_json::from_str::<Json>(text.strip_prefix('\u{feff}').unwrap_or(text)) {
            Ok(root @ Json::Object(_)) => Ok(Schema { root }),
            Ok(_) => Err("it is not a JSON object".to_string()),
            Err(error) => Err(format!("it is not JSON ({error})")),
        }
    }

    /// The schema of the whole values file.
    pub fn root(&self) -> &Json {
        self.resolve(&self.root)
    }

    /// A schema with its `$ref` followed.
    fn resolve<'a>(&'a self, mut node: &'a Json) -> &'a Json {
        for _ in 0..MAX_REFS {
            let Some(Json::String(reference)) = node.get("$ref") else {
                return node;
            };
            match reference
                .strip_prefix('#')
                .and_then(|pointer| self.root.pointer(pointer))
            {
                Some(target) => node = target,
                None => return &Json::Null,
            }
        }
        &Json::Null
    }

    /// The schema of `key` inside the object schema `node`, when the schema says.
    pub fn property<'a>(&'a self, node: &'a Json, key: &str) -> Option<&'a Json> {
        let node = self.resolve(node);
        if let Some(found) = node.get("properties").and_then(|p| p.get(key)) {
            return Some(self.resolve(found));
        }
        if let Some(Json::Object(patterns)) = node.get("patternProperties")
            && let Some((_, found)) = patterns
                .iter()
                .find(|(pattern, _)| pattern_matches(pattern, key))
        {
            return Some(self.resolve(found));
        }
        match node.get("additionalProperties") {
            Some(found @ Json::Object(_)) => Some(self.resolve(found)),
            _ => None,
        }
    }

    /// What the object schema `node` says of `key`: allowed when it names it (`properties`, a matching
    /// `patternProperties`) or takes any key (`additionalProperties: true` or a schema), refused with
    /// `additionalProperties: false`, and no say otherwise (JSON Schema's default allows it, but a typo must stay
    /// an error, so the chart's values.yaml decides then).
    pub fn allows(&self, node: &Json, key: &str, described: bool) -> Option<bool> {
        let node = self.resolve(node);
        if described || self.property(node, key).is_some() {
            return Some(true);
        }
        match node.get("additionalProperties") {
            Some(Json::Bool(allowed)) => Some(*allowed),
            _ => None,
        }
    }

    /// The types `node` requires, in words, when `value` has none of them.
    pub fn type_mismatch(&self, node: &Json, value: &Value) -> Option<String> {
        let node = self.resolve(node);
        let types: Vec<&str> = match node.get("type")? {
            Json::String(one) => vec![one.as_str()],
            Json::Array(many) => many.iter().filter_map(Json::as_str).collect(),
            _ => return None,
        };
        let fits = |name: &str| {
            matches!(
                (name, value),
                ("null", Value::Null)
                    | ("boolean", Value::Bool(_))
                    | ("string", Value::String(_))
                    | ("integer" | "number", Value::Integer(_))
                    | ("number", Value::Float(_))
                    | ("array", Value::List(_))
                    | ("object", Value::Map(_))
            )
        };
        (!types.is_empty() && !types.iter().any(|name| fits(name))).then(|| types.join(" or "))
    }
}

/// Whether a `patternProperties` pattern matches a key. Understood: a literal (with `\.`, `\-`, `\/` escapes)
/// anchored with `^` and/or `$` or not, and `.*` / `.+` at either end; any other pattern is taken as matching, so a
/// schema this subset cannot read never turns a key into an error.
fn pattern_matches(pattern: &str, key: &str) -> bool {
    let (mut start, mut end) = (false, false);
    let mut body = pattern;
    if let Some(rest) = body.strip_prefix('^') {
        start = true;
        body = rest;
    }
    if let Some(rest) = body.strip_suffix('$').filter(|rest| !rest.ends_with('\\')) {
        end = true;
        body = rest;
    }
    for wildcard in [".*", ".+"] {
        if let Some(rest) = body.strip_prefix(wildcard) {
            start = false;
            body = rest;
        }
        if let Some(rest) = body.strip_suffix(wildcard) {
            end = false;
            body = rest;
        }
    }
    let mut literal = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped @ ('.' | '-' | '/' | '_' | '$' | '^')) => literal.push(escaped),
                _ => return true,
            },
            '.' | '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|' | '^' | '$' => {
                return true;
            }
            c => literal.push(c),
        }
    }
    match (start, end) {
        (true, true) => key == literal,
        (true, false) => key.starts_with(&literal),
        (false, true) => key.ends_with(&literal),
        (false, false) => key.contains(&literal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_of_the_subset() {
        assert!(pattern_matches("^x-", "x-custom"));
        assert!(!pattern_matches("^x-", "y-custom"));
        assert!(pattern_matches(
            "^resource\\.customizations\\..*$",
            "resource.customizations.health.apps_Deployment"
        ));
        assert!(pattern_matches("\\.io/os$", "kubernetes.io/os"));
        assert!(
            pattern_matches("^[a-z]+$", "anything"),
            "beyond the subset: lenient"
        );
    }

    #[test]
    fn properties_additional_properties_refs_and_types() {
        let schema = Schema::parse(
            br##"{"type": "object", "additionalProperties": false,
                 "properties": {"replicaCount": {"type": "integer"}, "service": {"$ref": "#/definitions/service"}},
                 "definitions": {"service": {"type": "object", "properties": {"port": {"type": ["integer", "string"]}}}}}"##,
        )
        .unwrap();
        let root = schema.root();
        assert_eq!(schema.allows(root, "replicaCount", false), Some(true));
        assert_eq!(schema.allows(root, "replicas", false), Some(false));
        let service = schema.property(root, "service").unwrap();
        assert_eq!(
            schema.allows(service, "extra", false),
            None,
            "no say: values.yaml decides"
        );
        let port = schema.property(service, "port").unwrap();
        assert_eq!(
            schema.type_mismatch(port, &Value::Bool(true)).as_deref(),
            Some("integer or string")
        );
        assert_eq!(schema.type_mismatch(port, &Value::Integer(80)), None);
        assert!(Schema::parse(b"[1]").is_err());
    }
}
