//! The agent over real HTTP and websocket connections: the real binary on a loopback port, a temporary data
//! directory, the local platform running the demo product's processes.

mod crash;
mod kubernetes;
mod logs;
mod openapi;
mod roles;
mod sessions;
mod support;
mod upgrades;
mod users;
mod versions;
