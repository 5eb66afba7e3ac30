//! The upgrade log as the console holds it: every line once, in order, whatever reconnections happen.

use shared::api::LogEntry;

/// Lines kept in the browser; older ones stay downloadable from the agent (`/logs?after=N`).
pub const MAX_LINES: usize = 50_000;

/// The lines received so far, keyed by their sequence number.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogBuffer {
    /// Received lines, by increasing `seq`.
    lines: Vec<LogEntry>,
    /// The highest `seq` received: a reconnect asks for the lines after it.
    last_seq: u64,
    /// Lines dropped from the front to stay within [`MAX_LINES`].
    dropped: usize,
}

impl LogBuffer {
    /// Adds a line; returns false for a line already held (a repeat after reconnecting), which is ignored.
    pub fn push(&mut self, entry: LogEntry) -> bool {
        if entry.seq <= self.last_seq {
            return false;
        }
        self.last_seq = entry.seq;
        self.lines.push(entry);
        if self.lines.len() > MAX_LINES {
            let excess = self.lines.len() - MAX_LINES;
            self.lines.drain(..excess);
            self.dropped += excess;
        }
        true
    }

    /// The `after` to ask for when (re)connecting.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Every line held, in order.
    pub fn lines(&self) -> &[LogEntry] {
        &self.lines
    }

    /// How many old lines were let go to bound memory.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// Applications that appear in the log, sorted, for the filter.
    pub fn applications(&self) -> Vec<String> {
        let mut apps: Vec<String> = self.lines.iter().filter_map(|l| l.app.clone()).collect();
        apps.sort_unstable();
        apps.dedup();
        apps
    }
}

/// The lowest level a filter shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MinLevel {
    /// Every line.
    #[default]
    Info,
    /// Warnings and errors.
    Warn,
    /// Errors only.
    Error,
}

impl MinLevel {
    /// From the filter's `<select>` value.
    pub fn from_choice(choice: &str) -> MinLevel {
        match choice {
            "warn" => MinLevel::Warn,
            "error" => MinLevel::Error,
            _ => MinLevel::Info,
        }
    }

    fn admits(self, level: &str) -> bool {
        let rank = match level {
            "error" => 2,
            "warn" | "warning" => 1,
            _ => 0,
        };
        rank >= self as u8
    }
}

/// What the operator chose to see.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogFilter {
    /// Only this application, or all.
    pub app: Option<String>,
    /// The lowest level shown.
    pub min_level: MinLevel,
}

impl LogFilter {
    /// Whether a line passes the filter.
    pub fn admits(&self, entry: &LogEntry) -> bool {
        let app_ok = match &self.app {
            Some(app) => entry.app.as_deref() == Some(app.as_str()),
            None => true,
        };
        app_ok && self.min_level.admits(&entry.level)
    }
}

/// Whether a scrolled log view is at its bottom (within a few pixels), i.e. should keep following new lines.
pub fn at_bottom(scroll_top: f64, client_height: f64, scroll_height: f64) -> bool {
    scroll_height - scroll_top - client_height <= 24.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seq: u64, level: &str, app: Option<&str>) -> LogEntry {
        LogEntry {
            seq,
            ts: "2026-11-25T10:00:00.000Z".into(),
            level: level.into(),
            app: app.map(String::from),
            message: format!("line {seq}"),
        }
    }

    #[test]
    fn lines_repeated_after_a_reconnect_are_shown_once() {
        let mut log = LogBuffer::default();
        for seq in 1..=3 {
            assert!(log.push(line(seq, "info", None)));
        }
        assert_eq!(log.last_seq(), 3);
        // The stream broke; the reconnect asked for after=2 by mistake and got 3 again, then 4.
        assert!(!log.push(line(3, "info", None)));
        assert!(log.push(line(4, "info", None)));
        let seqs: Vec<u64> = log.lines().iter().map(|l| l.seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4]);
    }

    #[test]
    fn filter_by_application_and_level() {
        let filter = LogFilter {
            app: Some("web".into()),
            min_level: MinLevel::from_choice("warn"),
        };
        assert!(filter.admits(&line(1, "warn", Some("web"))));
        assert!(filter.admits(&line(2, "error", Some("web"))));
        assert!(!filter.admits(&line(3, "info", Some("web"))));
        assert!(!filter.admits(&line(4, "error", Some("dataservice"))));
        assert!(LogFilter::default().admits(&line(5, "info", None)));
    }

    #[test]
    fn memory_stays_bounded() {
        let mut log = LogBuffer::default();
        for seq in 1..=(MAX_LINES as u64 + 10) {
            log.push(line(seq, "info", None));
        }
        assert_eq!(log.lines().len(), MAX_LINES);
        assert_eq!(log.dropped(), 10);
        assert_eq!(log.lines()[0].seq, 11);
    }

    #[test]
    fn following_stops_when_scrolled_up() {
        assert!(at_bottom(600.0, 400.0, 1000.0));
        assert!(!at_bottom(300.0, 400.0, 1000.0));
    }
}
