//! Formats, checks and API types shared by the console (wasm32) and the agent (native).
//!
//! Everything here is a pure function from bytes and already-fetched data to typed values and reports: no file
//! system, network, clock or randomness, so that the browser and the agent give the same answer.
//!
//! # Layout
//! - `version`: version numbers; `compat`: the zero-downtime decision.
//! - `limits`: upload, ZIP and YAML limits; `archive`: the bounded ZIP reader; `yaml`: the bounded YAML reader.
//! - `keypath`: key paths into values; `manifest`, `package`: version packages and the template digest.
//! - `standard`, `nonstandard`: the configuration checks; `report`: findings and the report.
//! - `api`: bodies of the agent's HTTP and websocket API.

pub mod api;
pub mod limits;
pub mod manifest;
pub mod report;
