//! The upgrade agent.
pub mod engine;
