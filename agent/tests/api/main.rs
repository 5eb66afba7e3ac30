//! The agent over real HTTP and websocket connections: the real binary on a loopback port, a temporary data
//! directory, the local platform running the demo product's processes.

mod accounts;
mod crash;
mod kubernetes;
mod kubernetes_benchmark;
#[path = "../common/load.rs"]
mod load;
mod logs;
mod metrics;
mod online_difference;
mod openapi;
mod product;
mod roles;
mod sessions;
mod support;
mod tls;
mod upgrades;
mod users;
mod versions;
