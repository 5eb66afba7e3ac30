//! The manifest of a version package (`version.yaml`), as formats.md defines it.
//!
//! Field names follow the YAML (camelCase); unknown fields are errors so that a typo is never ignored.

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
