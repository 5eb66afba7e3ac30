//! The rolling upgrade on the test cluster measured (issue 13), not a pass/fail test: a 7-replica upgrade's
//! duration against its floor (the sum of its pods' start-to-ready), the failed calls under the mixed load at
//! 200 and at 1,000 calls a second, and the DataService queries' p99 during the upgrade against before it.
//! Reported in docs/benchmarks.md. Rerun (outside the test command, whose filter is `^kubernetes::`):
//!
//! ```text
//! scripts/k8s-cluster.sh up && source /var/cache/upgrade-manager/k8s/run/env
//! cargo nextest run -p agent --test api --run-ignored only --no-capture -E 'test(/^kubernetes_benchmark::/)'
//! scripts/k8s-cluster.sh down
//! ```

use std::time::{Duration, Instant};

use crate::kubernetes::{deploy, wait_ended};
use crate::load::percentiles;
use crate::support::UpgradeForm;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement on a cluster; run it by name (docs/benchmarks.md)"]
async fn kubernetes_benchmark_rolling_upgrade() {
    // Each rate on a fresh deployment of V5.1.2.02, upgraded to V5.1.2.04 (the demo's rolling pair).
    for rate in [200, 1_000] {
        let on = deploy().await;
        let load = on.load_at(rate);
        // A "before" sample of the same size order as the upgrade's.
        tokio::time::sleep(Duration::from_secs(30)).await;
        let began = Instant::now();
        let id = on.admin.start_upgrade(&UpgradeForm::rolling()).await;
        let record = wait_ended(&on.admin, id, Duration::from_secs(600)).await;
        let (took, ended) = (began.elapsed(), Instant::now());
        let load = load.finish().await;
        let log = on.admin.all_logs(id).await;
        // The engine's lines `<pod> (<version>) ready in 3.01 s, ...` and `<pod> drained and stopped in 9.87 s`.
        let seconds = |after: &str| -> f64 {
            log.iter()
                .filter_map(|line| {
                    let (_, rest) = line.message.split_once(after)?;
                    rest.split_once(" s")?.0.parse::<f64>().ok()
                })
                .sum()
        };
        let (floor, drains) = (seconds(" ready in "), seconds(" drained and stopped in "));
        let latencies = |sent: &dyn Fn(Instant) -> bool| -> Vec<f64> {
            load.query_ms
                .iter()
                .filter(|(at, _)| sent(*at))
                .map(|(_, ms)| *ms)
                .collect()
        };
        let ((b50, b99, bn), (d50, d99, dn)) = (
            percentiles(latencies(&|at| at < began)),
            percentiles(latencies(&|at| at >= began && at <= ended)),
        );
        println!(
            "to {}: {:?}; {:.1} s, floor (sum of start-to-ready) {floor:.1} s, {:.2}x the floor; drains {drains:.1} s, \
             {:.2}x floor + drains",
            UpgradeForm::rolling().target,
            record.summary.status,
            took.as_secs_f64(),
            took.as_secs_f64() / floor,
            took.as_secs_f64() / (floor + drains)
        );
        println!(
            "  {rate} calls/s: {} calls, {} failed {:?}; queries before p50 {b50:.1} ms p99 {b99:.1} ms ({bn}), \
             during p50 {d50:.1} ms p99 {d99:.1} ms ({dn}), p99 ratio {:.2}",
            load.requests,
            load.failures.len(),
            load.failures.iter().take(5).collect::<Vec<_>>(),
            d99 / b99
        );
    }
}
