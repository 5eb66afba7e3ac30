//! A probe's calls over time, in buckets, for the record and the console's chart: 1 s buckets at first; when there
//! would be more than `MAX_SERIES_POINTS`, neighbours merge two by two and the buckets last twice as long, so that
//! an upgrade of any length keeps at most that many (plus the one filling) in its record.

use std::time::Duration;

use shared::api::{MAX_SERIES_POINTS, ProbeSeries, SeriesPoint};

use super::probe::percentile;

/// The bucket still filling: its calls' latencies are kept until it closes, for its percentile.
#[derive(Debug, Default)]
struct Filling {
    calls: u32,
    failures: u32,
    latencies_ms: Vec<f64>,
    /// The p99 of a closed bucket merged into this one (0 when none): an upper bound is kept.
    merged_p99_ms: f64,
    max_ms: f64,
}

impl Filling {
    fn point(&self) -> SeriesPoint {
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        SeriesPoint {
            calls: self.calls,
            failures: self.failures,
            p99_ms: tenth(percentile(&sorted, 0.99).max(self.merged_p99_ms)),
            max_ms: tenth(self.max_ms),
        }
    }
}

/// Milliseconds to a tenth: finer says nothing on a chart and makes the record longer.
fn tenth(ms: f64) -> f64 {
    (ms * 10.0).round() / 10.0
}

/// One probe's buckets.
#[derive(Debug)]
pub struct Timeline {
    bucket_seconds: u32,
    closed: Vec<SeriesPoint>,
    filling: Filling,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            bucket_seconds: 1,
            closed: Vec::new(),
            filling: Filling::default(),
        }
    }
}

impl Timeline {
    /// Adds a call that ended `at` (since the probes started). A call ending in a bucket already closed (calls end
    /// out of order by a few milliseconds) counts in the one filling.
    pub fn record(&mut self, at: Duration, ms: f64, failed: bool) {
        while at.as_secs() / u64::from(self.bucket_seconds) > self.closed.len() as u64 {
            let point = std::mem::take(&mut self.filling).point();
            self.closed.push(point);
            if self.closed.len() == MAX_SERIES_POINTS {
                self.halve();
            }
        }
        let filling = &mut self.filling;
        filling.calls += 1;
        filling.failures += u32::from(failed);
        filling.latencies_ms.push(ms);
        filling.max_ms = filling.max_ms.max(ms);
    }

    /// Merges the closed buckets two by two (their count is even here: [`MAX_SERIES_POINTS`] is); the one filling
    /// falls within the first half of its doubled bucket, so it goes on filling.
    fn halve(&mut self) {
        self.bucket_seconds *= 2;
        self.closed = self
            .closed
            .chunks(2)
            .map(|pair| {
                pair.iter()
                    .fold(SeriesPoint::default(), |sum, point| SeriesPoint {
                        calls: sum.calls + point.calls,
                        failures: sum.failures + point.failures,
                        p99_ms: sum.p99_ms.max(point.p99_ms),
                        max_ms: sum.max_ms.max(point.max_ms),
                    })
            })
            .collect();
    }

    /// The buckets so far, the one filling last (when it has calls).
    pub fn series(&self) -> ProbeSeries {
        let mut points = self.closed.clone();
        if self.filling.calls > 0 {
            points.push(self.filling.point());
        }
        ProbeSeries {
            bucket_seconds: self.bucket_seconds,
            points,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn calls_fall_into_one_second_buckets_with_empty_ones_between() {
        let mut timeline = Timeline::default();
        timeline.record(ms(100), 5.0, false);
        timeline.record(ms(900), 7.0, true);
        timeline.record(ms(3200), 2.04, false);
        let series = timeline.series();
        assert_eq!(series.bucket_seconds, 1);
        let seen: Vec<(u32, u32, f64)> = series
            .points
            .iter()
            .map(|p| (p.calls, p.failures, p.max_ms))
            .collect();
        assert_eq!(
            seen,
            [(2, 1, 7.0), (0, 0, 0.0), (0, 0, 0.0), (1, 0, 2.0)],
            "bucket 3 still filling"
        );
        assert_eq!(series.points[0].p99_ms, 7.0);
    }

    #[test]
    fn a_long_run_keeps_at_most_the_bound_by_doubling_the_bucket_length() {
        let mut timeline = Timeline::default();
        // An hour at 5 calls a second, one slow failed call at 1000.5 s.
        for tenth_second in 0..36_000u64 {
            if tenth_second % 2 == 0 {
                timeline.record(ms(tenth_second * 100), 3.0, false);
            }
            if tenth_second == 10_005 {
                timeline.record(ms(tenth_second * 100), 900.0, true);
            }
        }
        let series = timeline.series();
        assert!(
            series.points.len() <= MAX_SERIES_POINTS + 1,
            "{}",
            series.points.len()
        );
        // 3600 s in at most 120 buckets: 32 s each (120 s × 2⁵ = 3840 s).
        assert_eq!(series.bucket_seconds, 32);
        let calls: u32 = series.points.iter().map(|p| p.calls).sum();
        assert_eq!(calls, 18_001, "every call counted once");
        let slow = &series.points[1000 / 32];
        assert_eq!((slow.failures, slow.max_ms, slow.p99_ms), (1, 900.0, 900.0));
        assert!(
            series
                .points
                .iter()
                .enumerate()
                .all(|(i, p)| i == 1000 / 32 || (p.failures, p.max_ms) == (0, 3.0)),
            "{series:?}"
        );
    }
}
