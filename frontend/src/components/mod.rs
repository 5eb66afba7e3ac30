//! Reusable pieces of the pages.

pub mod banner;
pub mod log_viewer;
pub mod probe_chart;
pub mod progress_bar;
pub mod replica_map;
pub mod report_view;
