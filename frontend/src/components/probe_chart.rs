//! One probe's latency and failures over the upgrade, drawn as inline SVG (no chart library: the console's size
//! goal): its p99 latency as a line, and the share of failed calls of each bucket as a red bar from the bottom.

use leptos::prelude::*;
use shared::api::ProbeSeries;

/// Width of the drawing in SVG units (it is stretched to the card's width).
const WIDTH: f64 = 300.0;
/// Height of the drawing in SVG units.
const HEIGHT: f64 = 48.0;

/// What the chart draws, in SVG units, computed from a series: two SVG paths (one element each, rather than an
/// element per bar, which keeps the console's wasm small).
#[derive(Debug, Clone, PartialEq)]
pub struct ChartShape {
    /// The p99 latency line through the buckets that had calls: `M x,y L x,y …`.
    pub latency: String,
    /// One bar per bucket with failures, its height the failed share of its calls: `M x,y h w v h h -w z …`.
    pub failures: String,
    /// The latency at the top of the drawing, in milliseconds.
    pub top_ms: f64,
    /// Seconds the series covers.
    pub seconds: u64,
}

/// The shape of `series`; `None` when it has no bucket.
pub fn shape(series: &ProbeSeries) -> Option<ChartShape> {
    let n = series.points.len();
    if n == 0 {
        return None;
    }
    let step = WIDTH / n as f64;
    // A little headroom over the slowest bucket, and never a scale under 1 ms.
    let top_ms = series
        .points
        .iter()
        .fold(1.0_f64, |top, p| top.max(p.p99_ms * 1.1));
    let mut latency = String::new();
    let mut failures = String::new();
    for (i, point) in series.points.iter().enumerate() {
        if point.calls == 0 {
            continue;
        }
        let x = i as f64 * step;
        let y = HEIGHT - point.p99_ms / top_ms * HEIGHT;
        let pen = if latency.is_empty() { "M" } else { " L" };
        latency.push_str(&format!("{pen}{:.1},{y:.1}", x + step / 2.0));
        if point.failures > 0 {
            let h = f64::from(point.failures) / f64::from(point.calls) * HEIGHT;
            failures.push_str(&format!(
                "M{x:.1},{:.1}h{step:.1}v{h:.1}h-{step:.1}z",
                HEIGHT - h
            ));
        }
    }
    Some(ChartShape {
        latency,
        failures,
        top_ms,
        seconds: n as u64 * u64::from(series.bucket_seconds),
    })
}

/// The chart of one probe, with a line saying what the axes are.
#[component]
pub fn ProbeChart(
    /// The probe's name, for the accessible label.
    name: String,
    /// Its calls over time.
    series: ProbeSeries,
) -> impl IntoView {
    shape(&series).map(|s| {
        let label = format!(
            "{name}: p99 latency over {} s (top {:.0} ms), failed share in red",
            s.seconds, s.top_ms
        );
        view! {
            <div class="probe-chart">
                <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") preserveAspectRatio="none" role="img" aria-label=label.clone()>
                    <path class="chart-failures" d=s.failures />
                    <path class="chart-latency" d=s.latency />
                </svg>
                <span class="muted">{label}</span>
            </div>
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::api::SeriesPoint;

    fn point(calls: u32, failures: u32, p99_ms: f64) -> SeriesPoint {
        SeriesPoint {
            calls,
            failures,
            p99_ms,
            max_ms: p99_ms,
        }
    }

    #[test]
    fn the_line_skips_empty_buckets_and_bars_show_the_failed_share() {
        let series = ProbeSeries {
            bucket_seconds: 2,
            points: vec![point(4, 0, 10.0), point(0, 0, 0.0), point(4, 2, 100.0)],
        };
        let s = shape(&series).unwrap();
        assert!((s.top_ms - 110.0).abs() < 1e-9 && s.seconds == 6, "{s:?}");
        // Buckets 100 units wide; p99 100 ms of a 110 ms top is 43.6 units up a 48-unit drawing.
        assert_eq!(s.latency, "M50.0,43.6 L250.0,4.4");
        assert_eq!(s.failures, "M200.0,24.0h100.0v24.0h-100.0z");
    }

    #[test]
    fn no_bucket_no_chart() {
        assert_eq!(shape(&ProbeSeries::default()), None);
    }
}
