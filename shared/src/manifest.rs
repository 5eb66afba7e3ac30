//! The manifest of a version package (`version.yaml`), as formats.md defines it.
//!
//! Field names follow the YAML (camelCase); unknown fields are errors so that a typo is never ignored.
//!
//! `version.yaml` is read by the [`FromYaml`] impls at the end, from the value the bounded YAML reader parsed (the
//! console's wasm then holds no second, derived reader: docs/benchmarks.md). The serde derives are for the JSON the
//! agent writes itself (stored manifests, the local supervisor's wire); a test reads every demo manifest both ways.

use serde::{Deserialize, Serialize};

/// `version.yaml`: what a version of the product is made of and what its configuration must contain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Manifest {
    /// The version as written, e.g. `V5.1.2.04` (checked with `Version::parse`).
    pub version: String,
    /// The product's name, `[a-z0-9-]+`; the template lives under `product/<product>/`.
    pub product: String,
    /// Release date as written, for display only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_at: Option<String>,
    /// Which running versions may move to this one without downtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatibility: Option<Compatibility>,
    /// The applications, deployed in dependency order.
    pub applications: Vec<Application>,
    /// What a standard configuration must contain.
    #[serde(default)]
    pub config_items: Vec<ConfigItem>,
    /// The availability probes the agent runs during an upgrade of this version (see docs/engine.md, "Probes").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<Probe>,
    /// MD5 of every file of the version's standard configuration template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateFiles>,
}

/// `compatibility:` in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Compatibility {
    /// Running versions this one can be reached from with a rolling upgrade; absent means "any with the same
    /// first three segments".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zero_downtime_from: Option<Vec<String>>,
}

/// One application of the product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Application {
    /// Unique name within the manifest.
    pub name: String,
    /// How many ready replicas it should have, at least 1.
    pub replicas: u32,
    /// Whether it can be replaced replica by replica.
    pub rolling: bool,
    /// Applications it is deployed after.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// How to tell a replica is ready.
    pub readiness: Readiness,
    /// How the local platform starts a replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<LocalCommand>,
    /// The container image, for container platforms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// How a container platform runs the image (needs `image`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Container>,
}

/// `container:` of an application: what a container platform needs besides the image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Container {
    /// The port the application listens on inside its container (the readiness check and the traffic go there).
    pub port: u16,
    /// Absolute path of the file the platform mounts the release's values.yaml as.
    pub values_file: String,
    /// Absolute path of a directory every replica of the product shares (the platform mounts one volume there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_dir: Option<String>,
    /// Environment variables the container starts with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
}

/// One entry of `container.env`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvVar {
    /// Its name: a letter or `_`, then letters, digits and `_`.
    pub name: String,
    /// Its value, as written (`8080` is the string `8080`).
    pub value: String,
}

/// `readiness:` of an application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Readiness {
    /// HTTP path that answers 200 when the replica is ready.
    pub path: String,
    /// How long a new replica may take to become ready before the upgrade rolls back.
    pub timeout_seconds: u32,
}

/// `local:` of an application: the command the local platform runs for each replica.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LocalCommand {
    /// Program name or path.
    pub command: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
}

/// One entry of `configItems:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfigItem {
    /// Key path into values.yaml, e.g. `global.database.host`.
    pub key: String,
    /// Expected kind of value.
    #[serde(default, rename = "type")]
    pub item_type: ItemType,
    /// What the item is for, shown to the operator.
    #[serde(default)]
    pub description: String,
}

/// The `type` of a configuration item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemType {
    /// A string.
    String,
    /// A whole number.
    Integer,
    /// Any number (an integer is a valid number).
    Number,
    /// `true` or `false`.
    Boolean,
    /// A mapping.
    Map,
    /// A sequence.
    List,
    /// Anything that is not null.
    #[default]
    Any,
}

/// `template:` of the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TemplateFiles {
    /// Path relative to `product/<product>/` → lowercase MD5 hex, kept sorted by path.
    pub files: std::collections::BTreeMap<String, String>,
}

use std::collections::{BTreeMap, BTreeSet};

use crate::keypath::KeyPath;
use crate::probes::Probe;
use crate::report::Finding;
use crate::version::Version;
use crate::yaml::Value;
use crate::yaml::typed::{self, Fields, FromYaml, TypedError};

impl Container {
    /// What is wrong with the `container:` of `app`: (field suffix, message) pairs.
    fn problems(&self, app: &Application) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let name = &app.name;
        if app.image.is_none() {
            problems.push((
                String::new(),
                format!("application `{name}` has `container:` but no `image:` to run in it"),
            ));
        }
        if self.port == 0 {
            problems.push((
                ".port".into(),
                format!("application `{name}` has `container.port: 0`; it must be 1 to 65535"),
            ));
        }
        let paths = [
            (".valuesFile", "valuesFile", Some(&self.values_file)),
            (".sharedDir", "sharedDir", self.shared_dir.as_ref()),
        ];
        for (field, key, path) in paths {
            if let Some(path) = path
                && !is_clean_absolute(path)
            {
                problems.push((
                    field.into(),
                    format!(
                        "application `{name}` has `container.{key}: {path}`; it must be an absolute path without `.`, `..` or empty segments"
                    ),
                ));
            }
        }
        if let Some(dir) = &self.shared_dir
            && is_clean_absolute(dir)
            && (self.values_file == *dir
                || self
                    .values_file
                    .strip_prefix(dir.as_str())
                    .is_some_and(|rest| rest.starts_with('/')))
        {
            problems.push((
                ".valuesFile".into(),
                format!(
                    "application `{name}` has `container.valuesFile: {}` inside `container.sharedDir: {dir}`; the values are per release, the shared directory is not",
                    self.values_file
                ),
            ));
        }
        let mut names = BTreeSet::new();
        for (e, var) in self.env.iter().enumerate() {
            let valid = var
                .name
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && var
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !valid {
                problems.push((
                    format!(".env[{e}].name"),
                    format!(
                        "application `{name}` has environment variable `{}`; a name is a letter or `_`, then letters, digits and `_`",
                        var.name
                    ),
                ));
            } else if !names.insert(var.name.as_str()) {
                problems.push((
                    format!(".env[{e}].name"),
                    format!(
                        "application `{name}` sets environment variable `{}` twice",
                        var.name
                    ),
                ));
            }
        }
        problems
    }
}

/// `/a/b`: absolute, and no empty, `.` or `..` segment (a trailing `/` is an empty segment).
fn is_clean_absolute(path: &str) -> bool {
    path.strip_prefix('/').is_some_and(|rest| {
        rest.split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
    }) && !path.contains('\\')
}

impl Manifest {
    /// Everything wrong with a manifest that parsed: bad versions, product name, applications, dependencies,
    /// configuration item keys, template paths and MD5s; one `manifest-invalid` finding each.
    pub fn problems(&self, file: &str) -> Vec<Finding> {
        let mut problems = Vec::new();
        let mut problem = |path: String, message: String| {
            problems.push(
                Finding::error("manifest-invalid", format!("{file}: {message}"))
                    .in_file(file)
                    .with_path(path),
            );
        };
        if let Err(error) = Version::parse(&self.version) {
            problem("version".into(), format!("`version`: {error}"));
        }
        if self.product.is_empty()
            || !self
                .product
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            problem(
                "product".into(),
                format!(
                    "`product` is `{}`; it must be lowercase letters, digits and `-` ([a-z0-9-]+)",
                    self.product
                ),
            );
        }
        if let Some(from) = self
            .compatibility
            .as_ref()
            .and_then(|c| c.zero_downtime_from.as_ref())
        {
            for (n, text) in from.iter().enumerate() {
                if let Err(error) = Version::parse(text) {
                    problem(
                        format!("compatibility.zeroDowntimeFrom[{n}]"),
                        format!("`compatibility.zeroDowntimeFrom`: {error}"),
                    );
                }
            }
        }
        if self.applications.is_empty() {
            problem(
                "applications".into(),
                "`applications` must list at least one application".into(),
            );
        }
        let mut names = BTreeSet::new();
        for (n, app) in self.applications.iter().enumerate() {
            if app.name.is_empty() {
                problem(
                    format!("applications[{n}].name"),
                    "an application has an empty name".into(),
                );
            }
            if !names.insert(app.name.as_str()) {
                problem(
                    format!("applications[{n}].name"),
                    format!("application `{}` is listed twice", app.name),
                );
            }
            if app.replicas < 1 {
                problem(
                    format!("applications[{n}].replicas"),
                    format!(
                        "application `{}` has `replicas: 0`; it needs at least 1",
                        app.name
                    ),
                );
            }
            if let Some(container) = &app.container {
                for (field, message) in container.problems(app) {
                    problem(format!("applications[{n}].container{field}"), message);
                }
            }
            if app.readiness.timeout_seconds < 1 {
                problem(
                    format!("applications[{n}].readiness.timeoutSeconds"),
                    format!(
                        "application `{}` has `readiness.timeoutSeconds: 0`; it needs at least 1",
                        app.name
                    ),
                );
            }
        }
        for (n, app) in self.applications.iter().enumerate() {
            for (d, dependency) in app.depends_on.iter().enumerate() {
                if !names.contains(dependency.as_str()) {
                    let known: Vec<&str> = names.iter().copied().collect();
                    problem(
                        format!("applications[{n}].dependsOn[{d}]"),
                        format!(
                            "application `{}` depends on `{dependency}`, which is not an application of this version (known: {})",
                            app.name,
                            known.join(", ")
                        ),
                    );
                }
            }
        }
        if let Some(cycle) = self.dependency_cycle() {
            problem(
                "applications".into(),
                format!(
                    "the applications depend on each other in a cycle: {}",
                    cycle.join(" → ")
                ),
            );
        }
        let mut keys = BTreeSet::new();
        for (n, item) in self.config_items.iter().enumerate() {
            match KeyPath::parse(&item.key) {
                Err(error) => problem(
                    format!("configItems[{n}].key"),
                    format!("`configItems[{n}].key`: {error}"),
                ),
                Ok(path) => {
                    if !keys.insert(path.to_string()) {
                        problem(
                            format!("configItems[{n}].key"),
                            format!("configuration item `{}` is listed twice", item.key),
                        );
                    }
                }
            }
        }
        for (n, probe) in self.probes.iter().enumerate() {
            for (field, message) in probe.problems(&names) {
                problem(format!("probes[{n}]{field}"), message);
            }
        }
        let mut probe_names = BTreeSet::new();
        for (n, probe) in self.probes.iter().enumerate() {
            if !probe_names.insert(probe.name.as_str()) {
                problem(
                    format!("probes[{n}].name"),
                    format!("probe `{}` is listed twice", probe.name),
                );
            }
        }
        if let Some(template) = &self.template {
            for (path, md5) in &template.files {
                let safe = !path.is_empty()
                    && !path.starts_with('/')
                    && !path.contains('\\')
                    && !path
                        .split('/')
                        .any(|segment| segment.is_empty() || segment == "." || segment == "..");
                if !safe {
                    problem(
                        format!("template.files[\"{path}\"]"),
                        format!(
                            "template file `{path}` must be a relative path inside product/{}/",
                            self.product
                        ),
                    );
                }
                if md5.len() != 32
                    || !md5
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                {
                    problem(
                        format!("template.files[\"{path}\"]"),
                        format!(
                            "template file `{path}` has MD5 `{md5}`; expected 32 lowercase hex digits"
                        ),
                    );
                }
            }
        }
        problems
    }

    /// The first dependency cycle among the applications, as names from and back to one application.
    pub fn dependency_cycle(&self) -> Option<Vec<String>> {
        let mut edges: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for app in &self.applications {
            edges.insert(
                &app.name,
                app.depends_on.iter().map(String::as_str).collect(),
            );
        }
        // 0 unvisited, 1 on the current path, 2 done; an explicit stack so a long chain cannot overflow.
        let mut state: BTreeMap<&str, u8> = BTreeMap::new();
        for &start in edges.keys() {
            if state.get(start).copied().unwrap_or(0) != 0 {
                continue;
            }
            let mut path: Vec<(&str, usize)> = vec![(start, 0)];
            state.insert(start, 1);
            while let Some((node, next)) = path.last_mut() {
                let targets = &edges[*node];
                if *next < targets.len() {
                    let target = targets[*next];
                    *next += 1;
                    if !edges.contains_key(target) {
                        continue;
                    }
                    match state.get(target).copied().unwrap_or(0) {
                        0 => {
                            state.insert(target, 1);
                            path.push((target, 0));
                        }
                        1 => {
                            let from = path
                                .iter()
                                .position(|(name, _)| *name == target)
                                .unwrap_or(0);
                            let mut cycle: Vec<String> = path[from..]
                                .iter()
                                .map(|(name, _)| name.to_string())
                                .collect();
                            cycle.push(target.to_string());
                            return Some(cycle);
                        }
                        _ => {}
                    }
                } else {
                    let done = *node;
                    state.insert(done, 2);
                    path.pop();
                }
            }
        }
        None
    }
}

// Reading `version.yaml` from its parsed value: each struct its fields, by their names in the YAML.

impl FromYaml for Manifest {
    fn from_yaml(value: &Value, path: &KeyPath) -> Result<Manifest, TypedError> {
        let fields = Fields::of(
            value,
            path,
            "struct Manifest",
            &[
                "version",
                "product",
                "releasedAt",
                "compatibility",
                "applications",
                "configItems",
                "probes",
                "template",
            ],
        )?;
        Ok(Manifest {
            version: fields.required("version")?,
            product: fields.required("product")?,
            released_at: fields.optional("releasedAt")?,
            compatibility: fields.optional("compatibility")?,
            applications: fields.required("applications")?,
            config_items: fields.or_default("configItems")?,
            probes: fields.or_default("probes")?,
            template: fields.optional("template")?,
        })
    }
}

impl FromYaml for Compatibility {
    fn from_yaml(value: &Value, path: &KeyPath) -> Result<Compatibility, TypedError> {
        let fields = Fields::of(value, path, "struct Compatibility", &["zeroDowntimeFrom"])?;
        Ok(Compatibility {
            zero_downtime_from: fields.optional("zeroDowntimeFrom")?,
        })
    }
}

impl FromYaml for Application {
    fn from_yaml(value: &Value, path: &KeyPath) -> Result<Application, TypedError> {
        let fields = Fields::of(
            value,
            path,
            "struct Application",
            &[
                "name",
                "replicas",
                "rolling",
                "dependsOn",
                "readiness",
                "local",
                "image",
                "container",
            ],
        )?;
        Ok(Application {
            name: fields.required("name")?,
            replicas: fields.required("replicas")?,
            rolling: fields.required("rolling")?,
            depends_on: fields.or_default("dependsOn")?,
            readiness: fields.required("readiness")?,
            local: fields.optional("local")?,
            image: fields.optional("image")?,
            container: fields.optional("container")?,
        })
    }
}

impl FromYaml for Container {
    fn from_yaml(value: &Value, path: &KeyPath) -> Result<Container, TypedError> {
        let fields = Fields::of(
            value,
            path,
            "struct Container",
            &["port", "valuesFile", "sharedDir", "env"],
        )?;
        Ok(Container {
            port: fields.required("port")?,
            values_file: fields.required("valuesFile")?,
            shared_dir: fields.optional("sharedDir")?,
            env: fields.or_default("env")?,
        })
    }
}

impl FromYaml for EnvVar {
    fn from_yaml(value: &Value, path: &KeyPath) -> Result<EnvVar, TypedError> {
        let fields = Fields::of(value, path, "struct EnvVar", &["name", "value"])?;
        Ok(EnvVar {
            name: fields.required("name")?,
            value: fields.required("value")?,
        })
    }
}

impl FromYaml for Readiness {
    fn from_yaml(value: &Value, path: &KeyPath) -> Result<Readiness, TypedError> {
        let fields = Fields::of(value, path, "struct Readiness", &["path", "timeoutSeconds"])?;
        Ok(Readiness {
            path: fields.required("path")?,
            timeout_seconds: fields.required("timeoutSeconds")?,
        })
    }
}

impl FromYaml for LocalCommand {
    fn from_yaml(value: &Value, path: &KeyPath) -> Result<LocalCommand, TypedError> {
        let fields = Fields::of(value, path, "struct LocalCommand", &["command", "args"])?;
        Ok(LocalCommand {
            command: fields.required("command")?,
            args: fields.or_default("args")?,
        })
    }
}

impl FromYaml for ConfigItem {
    fn from_yaml(value: &Value, path: &KeyPath) -> Result<ConfigItem, TypedError> {
        let fields = Fields::of(
            value,
            path,
            "struct ConfigItem",
            &["key", "type", "description"],
        )?;
        Ok(ConfigItem {
            key: fields.required("key")?,
            item_type: fields.or_default("type")?,
            description: fields.or_default("description")?,
        })
    }
}

impl FromYaml for ItemType {
    fn from_yaml(value: &Value, path: &KeyPath) -> Result<ItemType, TypedError> {
        typed::word(
            value,
            path,
            &[
                "string", "integer", "number", "boolean", "map", "list", "any",
            ],
            &[
                ItemType::String,
                ItemType::Integer,
                ItemType::Number,
                ItemType::Boolean,
                ItemType::Map,
                ItemType::List,
                ItemType::Any,
            ],
        )
    }
}

impl FromYaml for TemplateFiles {
    fn from_yaml(value: &Value, path: &KeyPath) -> Result<TemplateFiles, TypedError> {
        let fields = Fields::of(value, path, "struct TemplateFiles", &["files"])?;
        Ok(TemplateFiles {
            files: fields.required("files")?,
        })
    }
}
