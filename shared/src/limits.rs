//! Upload, ZIP and YAML limits (formats.md, "Hostile and broken input"). The agent may be configured higher or
//! lower; the console uses what the agent reports.

use serde::{Deserialize, Serialize};

const MIB: u64 = 1024 * 1024;

/// The bounds every check works within.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest upload, in bytes.
    pub max_upload_bytes: u64,
    /// Most entries in one ZIP.
    pub max_zip_entries: u64,
    /// Most bytes inflated from one ZIP in total.
    pub max_zip_inflated_bytes: u64,
    /// Most bytes inflated from one ZIP entry.
    pub max_zip_entry_bytes: u64,
    /// Largest YAML document, in bytes.
    pub max_yaml_bytes: u64,
    /// Deepest YAML nesting.
    pub max_yaml_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_upload_bytes: 64 * MIB,
            max_zip_entries: 10_000,
            max_zip_inflated_bytes: 256 * MIB,
            max_zip_entry_bytes: 64 * MIB,
            max_yaml_bytes: 8 * MIB,
            max_yaml_depth: 128,
        }
    }
}
