//! Replica processes seen through `/proc`: identity (pid + start time), liveness, the marker that finds orphans, and
//! signals.
//!
//! Every replica is started with `UPGRADE_AGENT_HOME=<platform dir>` in its environment. After a restart the agent
//! trusts a table entry only when the pid is alive *and* its start time matches the one recorded (a reused pid is
//! someone else), and it stops every process carrying its marker that the table does not list (an orphan, e.g. one
//! started just before a SIGKILL, before the table was written).

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The environment variable that marks a process as started by the platform living in a given directory.
pub const MARKER: &str = "UPGRADE_AGENT_HOME";

/// The start time of `pid` in clock ticks since boot, and whether it is a zombie; `None` when it does not exist.
pub fn stat(pid: u32) -> Option<(u64, bool)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: fields count from the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = *fields.first()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((start, state == "Z" || state == "X"))
}

/// Whether `pid` is the process that was started at `start_ticks` and still runs.
pub fn is_alive(pid: u32, start_ticks: u64) -> bool {
    matches!(stat(pid), Some((start, false)) if start == start_ticks)
}

/// Every live process carrying the marker for `home`.
pub fn marked_processes(home: &Path) -> Vec<u32> {
    let needle = format!("{MARKER}={}", home.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // Processes of other users are unreadable: they are not ours.
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ
            .split(|b| *b == 0)
            .any(|var| var == needle.as_bytes())
            && matches!(stat(pid), Some((_, false)))
        {
            found.push(pid);
        }
    }
    found
}

/// Sends a signal; a process that is already gone is not an error.
pub fn signal(pid: u32, signal: Signal) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = kill(Pid::from_raw(pid), signal);
    }
}

/// Asks a process that is not our child to stop (SIGTERM), and kills it after `grace`. Returns whether it had to
/// be killed.
pub async fn terminate_foreign(pid: u32, start_ticks: Option<u64>, grace: Duration) -> bool {
    let alive = |pid| match start_ticks {
        Some(start) => is_alive(pid, start),
        None => matches!(stat(pid), Some((_, false))),
    };
    if !alive(pid) {
        return false;
    }
    signal(pid, Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !alive(pid) {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    signal(pid, Signal::SIGKILL);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_process_is_alive_with_its_start_time_and_not_with_another() {
        let me = std::process::id();
        let (start, zombie) = stat(me).unwrap();
        assert!(!zombie);
        assert!(is_alive(me, start));
        assert!(!is_alive(me, start + 1));
        assert!(stat(u32::MAX - 1).is_none());
    }
}
