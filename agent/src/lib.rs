//! The upgrade agent.
pub mod engine;
pub mod platform;
