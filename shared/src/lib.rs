//! Formats, checks and API types shared by the console (wasm32) and the agent (native).
//!
//! Everything here is a pure function from bytes and already-fetched data to typed values and reports: no file
//! system, network, clock or randomness, so that the browser and the agent give the same answer.
//!
//! # Layout
//! - `version`: version numbers; `compat`: the zero-downtime decision.
//! - `limits`: upload, ZIP and YAML limits; `archive`: the bounded ZIP reader; `yaml`: the bounded YAML reader
//!   (`yaml::typed`: the manifest's structs read from its values).
//! - `keypath`: key paths into values; `manifest`, `package`: version packages and the template digest;
//!   `probes`: the manifest's availability probes.
//! - `standard`, `nonstandard`: the configuration checks; `chart`: what a Helm chart accepts in values.yaml (open
//!   places, subcharts, `schema`: values.schema.json); `secrets`: the one masking rule; `report`: findings and the
//!   report.
//! - `start`: whether an upgrade may start, and every reason it may not.
//! - `api`: bodies of the agent's HTTP and websocket API (and what a role may do).
//!
//! # Checking an upload
//! In one call (the agent, the validation command, small files in the console):
//! [`package::check_version_package`], then with the package [`standard::check_standard_config`] or
//! [`nonstandard::check_non_standard_config`], and [`compat::zero_downtime`] for the mode. Each returns a
//! [`report::Report`] that serializes exactly as formats.md shows.
//!
//! # Checking a large ZIP in the browser without freezing the page
//! Each `check_*` on a ZIP is `ZipScan::open` + `step` until finished + `finish` + `check_*_bundle`; do the same
//! by hand and yield to the event loop between steps:
//! ```
//! # use shared::{archive::ZipScan, limits::Limits, report::Report, standard, package::VersionPackage};
//! # fn example(package: &VersionPackage, file_name: &str, bytes: &[u8]) -> Report {
//! let limits = Limits::default();
//! let mut scan = match ZipScan::open(file_name, bytes, &limits) {
//!     Ok(scan) => scan,
//!     Err(finding) => return Report::single(finding),
//! };
//! loop {
//!     match scan.step(4 << 20) {
//!         Ok(progress) if progress.finished => break,
//!         // Update the progress bar with done_bytes / total_bytes, then yield (e.g. a zero-delay timer).
//!         Ok(progress) => { let _ = progress.done_bytes * 100 / progress.total_bytes.max(1); }
//!         Err(finding) => return Report::single(finding),
//!     }
//! }
//! match scan.finish() {
//!     Ok(bundle) => standard::check_standard_bundle(package, bundle, &limits).0,
//!     Err(finding) => Report::single(finding),
//! }
//! # }
//! ```
//! Whether an upload is a ZIP at all: [`archive::is_zip`] (by name or first bytes); YAML uploads go straight to the
//! `check_*` functions.

// A `Finding` is the error of every check and travels once per upload, never in a hot loop: its size is no cost.
#![allow(clippy::result_large_err)]

pub mod api;
pub mod archive;
pub mod chart;
pub mod compat;
pub mod keypath;
pub mod limits;
pub mod manifest;
pub mod nonstandard;
pub mod package;
pub mod probes;
pub mod report;
pub mod schema;
pub mod secrets;
pub mod standard;
pub mod start;
pub mod version;
pub mod yaml;
