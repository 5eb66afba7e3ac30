//! The agent over real HTTP and websocket connections: the real binary on a loopback port, a temporary data
//! directory, the local platform running the demo product's processes.

mod crash;
mod logs;
mod online_difference;
mod openapi;
mod roles;
mod sessions;
mod support;
mod upgrades;
mod users;
mod versions;
