//! One module per page of the flow.

pub mod accounts;
pub mod login;
pub mod progress;
pub mod records;
pub mod upgrade;
