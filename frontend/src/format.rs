//! Dates, durations and sizes as the console shows them.

/// `2026-11-25T10:03:07.123Z` → `2026-11-25 10:03:07` (UTC as the agent writes it); other text as is.
pub fn timestamp(rfc3339: &str) -> String {
    match rfc3339.get(..19) {
        Some(head) if head.as_bytes().get(10) == Some(&b'T') => head.replacen('T', " ", 1),
        _ => rfc3339.to_string(),
    }
}

/// `HH:MM:SS.mmm` of a log line's timestamp.
pub fn clock(rfc3339: &str) -> String {
    rfc3339
        .get(11..23)
        .filter(|t| t.len() == 12)
        .map(String::from)
        .unwrap_or_else(|| timestamp(rfc3339))
}

/// Seconds since 1970 of `YYYY-MM-DDTHH:MM:SS…`, when it parses.
pub fn epoch_seconds(rfc3339: &str) -> Option<i64> {
    let num = |range: std::ops::Range<usize>| rfc3339.get(range)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// `1 min 05 s` between two timestamps, or empty when one is missing.
pub fn duration(start: &str, end: Option<&str>) -> String {
    match (epoch_seconds(start), end.and_then(epoch_seconds)) {
        (Some(a), Some(b)) if b >= a => seconds(b - a),
        _ => String::new(),
    }
}

/// `45 s`, `2 min 05 s`, `1 h 02 min`.
pub fn seconds(total: i64) -> String {
    match total {
        t if t < 60 => format!("{t} s"),
        t if t < 3600 => format!("{} min {:02} s", t / 60, t % 60),
        t => format!("{} h {:02} min", t / 3600, (t % 3600) / 60),
    }
}

/// `12.3 MB`, `850 KB`, `312 B`.
pub fn bytes(n: u64) -> String {
    match n {
        n if n >= 1_000_000 => format!("{:.1} MB", n as f64 / 1_000_000.0),
        n if n >= 1_000 => format!("{} KB", n / 1_000),
        n => format!("{n} B"),
    }
}

/// Percent of done over total, 0 when there is nothing planned yet.
pub fn percent(done: u32, total: u32) -> u32 {
    if total == 0 {
        0
    } else {
        (u64::from(done.min(total)) * 100 / u64::from(total)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_like_a_log() {
        assert_eq!(timestamp("2026-11-25T10:03:07.123Z"), "2026-11-25 10:03:07");
        assert_eq!(clock("2026-11-25T10:03:07.123Z"), "10:03:07.123");
        assert_eq!(
            duration("2026-11-25T10:03:07Z", Some("2026-11-25T10:05:12Z")),
            "2 min 05 s"
        );
        assert_eq!(
            duration("2026-12-31T23:59:59Z", Some("2027-01-01T00:00:04Z")),
            "5 s"
        );
        assert_eq!(duration("garbage", Some("2027-01-01T00:00:04Z")), "");
    }

    #[test]
    fn progress_and_sizes() {
        assert_eq!(percent(3, 12), 25);
        assert_eq!(percent(0, 0), 0);
        assert_eq!(percent(13, 12), 100);
        assert_eq!(bytes(52_428_800), "52.4 MB");
    }
}
