//! Probe-gated rollouts: a probe's calls over the sliding window its `limits:` set, and whether they cross a limit
//! (docs/engine.md, "Probe-gated rollouts"). The engine asks between replica steps of a rolling upgrade; a crossed
//! limit stops it from taking a further replica and rolls it back.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use shared::probes::{MAX_RATE, MAX_SECONDS, ProbeLimits};

use super::probe::percentile;

/// Fewest calls the window must hold before a limit is evaluated: a probe that just started says little.
pub const MIN_CALLS: usize = 20;
/// Fewest bad calls (failed, or slower than the p99 limit) that can cross a limit: one bad call never does.
pub const MIN_BAD_CALLS: usize = 2;
/// Most calls a window holds: the highest rate over the longest window (older calls are dropped first).
const MAX_CALLS: usize = MAX_RATE as usize * MAX_SECONDS as usize;

/// One call as the window keeps it.
#[derive(Debug, Clone, Copy)]
struct Call {
    /// When it ended, since the probes started.
    at: Duration,
    /// How long it took.
    ms: f64,
    /// Whether it failed.
    failed: bool,
}

/// The calls of one probe within its window.
#[derive(Debug, Clone)]
pub struct ProbeWindow {
    length: Duration,
    calls: VecDeque<Call>,
}

/// Which limit a probe crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// `limits.errorRatio`: failed calls over all calls.
    ErrorRatio,
    /// `limits.p99Ms`: the 99th percentile latency in milliseconds.
    P99Ms,
}

/// A probe whose calls over its window crossed one of its limits: what the record's reason and the log say.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitBreach {
    /// The probe's name.
    pub probe: String,
    /// The limit it crossed.
    pub kind: LimitKind,
    /// What it measured over the window.
    pub measured: f64,
    /// The limit the manifest sets.
    pub limit: f64,
    /// The window's length in seconds.
    pub window_seconds: u32,
    /// Calls in the window.
    pub calls: usize,
}

impl fmt::Display for LimitBreach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, measured, limit) = match self.kind {
            LimitKind::ErrorRatio => (
                "error ratio",
                format!("{:.3}", self.measured),
                format!("errorRatio {}", self.limit),
            ),
            LimitKind::P99Ms => (
                "p99 latency",
                format!("{:.1} ms", self.measured),
                format!("p99Ms {}", self.limit),
            ),
        };
        write!(
            f,
            "probe `{}`: {what} {measured} over the last {} s ({} calls) crossed its limit {limit}",
            self.probe, self.window_seconds, self.calls
        )
    }
}

impl ProbeWindow {
    /// An empty window of `limits`' length.
    pub fn new(limits: &ProbeLimits) -> ProbeWindow {
        ProbeWindow {
            length: Duration::from_secs(u64::from(limits.window())),
            calls: VecDeque::new(),
        }
    }

    /// Adds a call that ended `at` (since the probes started).
    pub fn record(&mut self, at: Duration, ms: f64, failed: bool) {
        if self.calls.len() >= MAX_CALLS {
            self.calls.pop_front();
        }
        self.calls.push_back(Call { at, ms, failed });
    }

    /// Drops the calls that ended more than the window's length before `now`, then checks `limits` against the
    /// rest: `None` while fewer than [`MIN_CALLS`] calls or fewer than [`MIN_BAD_CALLS`] bad ones are in it.
    pub fn crossed(
        &mut self,
        now: Duration,
        probe: &str,
        limits: &ProbeLimits,
    ) -> Option<LimitBreach> {
        while self
            .calls
            .front()
            .is_some_and(|call| now.saturating_sub(call.at) > self.length)
        {
            self.calls.pop_front();
        }
        let calls = self.calls.len();
        if calls < MIN_CALLS {
            return None;
        }
        let breach = |kind, measured, limit| LimitBreach {
            probe: probe.to_string(),
            kind,
            measured,
            limit,
            window_seconds: limits.window(),
            calls,
        };
        if let Some(limit) = limits.error_ratio {
            let failed = self.calls.iter().filter(|call| call.failed).count();
            let ratio = failed as f64 / calls as f64;
            if failed >= MIN_BAD_CALLS && ratio > limit {
                return Some(breach(LimitKind::ErrorRatio, ratio, limit));
            }
        }
        if let Some(limit) = limits.p99_ms {
            let slow = self.calls.iter().filter(|call| call.ms > limit).count();
            if slow >= MIN_BAD_CALLS {
                let mut sorted: Vec<f64> = self.calls.iter().map(|call| call.ms).collect();
                sorted.sort_by(f64::total_cmp);
                let p99 = percentile(&sorted, 0.99);
                if p99 > limit {
                    return Some(breach(LimitKind::P99Ms, p99, limit));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(error_ratio: Option<f64>, p99_ms: Option<f64>, window: u32) -> ProbeLimits {
        ProbeLimits {
            error_ratio,
            p99_ms,
            window_seconds: Some(window),
        }
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn one_early_failure_does_not_cross_a_zero_error_limit() {
        let limits = limits(Some(0.0), None, 10);
        let mut window = ProbeWindow::new(&limits);
        window.record(secs(0.1), 5.0, true);
        for i in 1..=50 {
            window.record(secs(0.1 + f64::from(i) * 0.1), 5.0, false);
            assert_eq!(
                window.crossed(secs(0.1 + f64::from(i) * 0.1), "q", &limits),
                None
            );
        }
        // A second failure in the window does.
        window.record(secs(5.2), 5.0, true);
        let breach = window
            .crossed(secs(5.2), "q", &limits)
            .expect("two failures cross 0");
        assert_eq!((breach.kind, breach.calls), (LimitKind::ErrorRatio, 52));
        assert!((breach.measured - 2.0 / 52.0).abs() < 1e-9, "{breach:?}");
    }

    #[test]
    fn failures_are_not_judged_before_the_window_holds_enough_calls() {
        let limits = limits(Some(0.1), None, 60);
        let mut window = ProbeWindow::new(&limits);
        for i in 0..MIN_CALLS - 1 {
            window.record(secs(i as f64), 5.0, true);
        }
        assert_eq!(window.crossed(secs(19.0), "q", &limits), None, "19 calls");
        window.record(secs(19.0), 5.0, true);
        let breach = window.crossed(secs(19.0), "q", &limits).unwrap();
        assert_eq!(breach.measured, 1.0);
        assert_eq!(
            breach.to_string(),
            "probe `q`: error ratio 1.000 over the last 60 s (20 calls) crossed its limit errorRatio 0.1"
        );
    }

    #[test]
    fn calls_older_than_the_window_no_longer_count() {
        let limits = limits(Some(0.05), None, 10);
        let mut window = ProbeWindow::new(&limits);
        for i in 0..10 {
            window.record(secs(f64::from(i) * 0.1), 5.0, true);
        }
        for i in 0..30 {
            window.record(secs(11.0 + f64::from(i) * 0.1), 5.0, false);
        }
        // At 12 s the ten failures (0 to 0.9 s) are more than 10 s old: only successes remain.
        assert_eq!(window.crossed(secs(12.0), "q", &limits), None);
        assert_eq!(window.calls.len(), 30);
    }

    #[test]
    fn a_ratio_at_the_limit_does_not_cross_it() {
        let limits = limits(Some(0.1), None, 30);
        let mut window = ProbeWindow::new(&limits);
        for i in 0..100 {
            window.record(secs(f64::from(i) * 0.1), 5.0, i % 10 == 0);
        }
        assert_eq!(
            window.crossed(secs(10.0), "q", &limits),
            None,
            "10 of 100 is 0.1"
        );
        window.record(secs(10.0), 5.0, true);
        assert!(
            window.crossed(secs(10.0), "q", &limits).is_some(),
            "11 of 101"
        );
    }

    #[test]
    fn the_p99_limit_needs_two_slow_calls_and_reports_the_percentile() {
        let limits = limits(None, Some(200.0), 30);
        let mut window = ProbeWindow::new(&limits);
        for i in 0..40 {
            window.record(secs(f64::from(i) * 0.1), 10.0, false);
        }
        window.record(secs(4.0), 900.0, false);
        assert_eq!(
            window.crossed(secs(4.0), "slow", &limits),
            None,
            "one slow call"
        );
        window.record(secs(4.1), 700.0, false);
        let breach = window.crossed(secs(4.1), "slow", &limits).unwrap();
        assert_eq!(
            (breach.kind, breach.measured, breach.calls),
            (LimitKind::P99Ms, 900.0, 42)
        );
        assert_eq!(
            breach.to_string(),
            "probe `slow`: p99 latency 900.0 ms over the last 30 s (42 calls) crossed its limit p99Ms 200"
        );
    }

    #[test]
    fn the_window_keeps_at_most_the_highest_rate_over_the_longest_window() {
        let limits = limits(Some(0.5), None, MAX_SECONDS);
        let mut window = ProbeWindow::new(&limits);
        for i in 0..MAX_CALLS + 10 {
            window.record(Duration::from_millis(i as u64), 1.0, false);
        }
        assert_eq!(window.calls.len(), MAX_CALLS);
    }
}
