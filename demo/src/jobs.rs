//! Asynchronous jobs. Each job is a JSON file in `<state dir>/jobs/`, replaced atomically (temp file + rename) at
//! every change, so any replica can answer for any job, before, during and after an upgrade. A replica that stops
//! gracefully first finishes the jobs it runs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::{Error, Result};

/// A job as stored and as `GET /api/jobs/{id}` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Its id.
    pub id: String,
    /// `pending`, `running` or `done`.
    pub status: String,
    /// The result once done.
    pub result: Option<String>,
    /// What it was given.
    pub input: String,
    /// The replica that ran it.
    pub replica: String,
    /// When it was submitted (ms since the Unix epoch).
    #[serde(default)]
    pub submitted_ms: u64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// A job's result: its input reversed.
fn result_of(input: &str) -> String {
    input.chars().rev().collect()
}

/// The jobs of the product, as one replica sees them.
pub struct JobStore {
    dir: PathBuf,
    duration: Duration,
    counter: AtomicU64,
    /// Jobs this replica is running.
    running: Arc<watch::Sender<usize>>,
}

impl JobStore {
    /// Opens (creating) `<state dir>/jobs`.
    pub fn open(state_dir: &Path, duration: Duration) -> Result<JobStore> {
        let dir = state_dir.join("jobs");
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            what: format!("creating {}", dir.display()),
            source,
        })?;
        Ok(JobStore {
            dir,
            duration,
            counter: AtomicU64::new(0),
            running: Arc::new(watch::channel(0).0),
        })
    }

    fn path(&self, id: &str) -> Option<PathBuf> {
        // Ids are ours: anything else (a path, a dot) is simply not found.
        let valid = !id.is_empty()
            && id.len() <= 64
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        valid.then(|| self.dir.join(format!("{id}.json")))
    }

    fn write(dir: &Path, job: &Job) -> std::io::Result<()> {
        let path = dir.join(format!("{}.json", job.id));
        let tmp = dir.join(format!(".{}.tmp", job.id));
        std::fs::write(
            &tmp,
            serde_json::to_vec(job).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(&tmp, &path)
    }

    /// Records a new job and runs it in the background; returns it as first stored.
    pub fn submit(&self, input: String, replica: &str) -> Result<Job> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let job = Job {
            id: format!("{replica}-{nanos:x}-{n}"),
            status: "pending".into(),
            result: None,
            input,
            replica: replica.into(),
            submitted_ms: now_ms(),
        };
        Self::write(&self.dir, &job).map_err(|source| Error::Io {
            what: format!("storing job {}", job.id),
            source,
        })?;
        self.running.send_modify(|n| *n += 1);
        let (dir, duration, running, mut work) = (
            self.dir.clone(),
            self.duration,
            self.running.clone(),
            job.clone(),
        );
        tokio::spawn(async move {
            tokio::time::sleep(duration / 4).await;
            work.status = "running".into();
            let _ = Self::write(&dir, &work);
            tokio::time::sleep(duration - duration / 4).await;
            work.status = "done".into();
            work.result = Some(result_of(&work.input));
            if let Err(e) = Self::write(&dir, &work) {
                eprintln!("job {}: cannot store its result: {e}", work.id);
            }
            running.send_modify(|n| *n -= 1);
        });
        Ok(job)
    }

    /// A job by id, from whichever replica ran it. A job left unfinished long past its duration (its replica
    /// crashed) is finished here: the result is the same whoever computes it.
    pub fn get(&self, id: &str) -> Option<Job> {
        let bytes = std::fs::read(self.path(id)?).ok()?;
        let mut job: Job = serde_json::from_slice(&bytes).ok()?;
        let stale_after = self.duration.as_millis() as u64 * 5 + 2000;
        if job.status != "done" && now_ms().saturating_sub(job.submitted_ms) > stale_after {
            job.status = "done".into();
            job.result = Some(result_of(&job.input));
            if let Err(e) = Self::write(&self.dir, &job) {
                eprintln!("job {id}: cannot store the result of the abandoned job: {e}");
            }
        }
        Some(job)
    }

    /// Waits until this replica runs no job (or `limit` passed).
    pub async fn wait_idle(&self, limit: Duration) {
        let mut rx = self.running.subscribe();
        let _ = tokio::time::timeout(limit, rx.wait_for(|n| *n == 0)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_job_runs_to_done_and_another_replica_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let one = JobStore::open(dir.path(), Duration::from_millis(40)).unwrap();
        let other = JobStore::open(dir.path(), Duration::from_millis(40)).unwrap();
        let job = one.submit("abc".into(), "dataservice-1").unwrap();
        assert_eq!(other.get(&job.id).unwrap().status, "pending");
        one.wait_idle(Duration::from_secs(5)).await;
        let done = other.get(&job.id).unwrap();
        assert_eq!(
            (done.status.as_str(), done.result.as_deref()),
            ("done", Some("cba"))
        );
        assert!(other.get("../etc/passwd").is_none());
    }

    #[test]
    fn a_job_abandoned_by_a_crashed_replica_is_finished_by_the_next_reader() {
        let dir = tempfile::tempdir().unwrap();
        let store = JobStore::open(dir.path(), Duration::from_millis(40)).unwrap();
        let abandoned = Job {
            id: "dataservice-3-1-0".into(),
            status: "running".into(),
            result: None,
            input: "xyz".into(),
            replica: "dataservice-3".into(),
            submitted_ms: now_ms() - 60_000,
        };
        JobStore::write(&store.dir, &abandoned).unwrap();
        let job = store.get(&abandoned.id).unwrap();
        assert_eq!(
            (job.status.as_str(), job.result.as_deref()),
            ("done", Some("zyx"))
        );
    }
}
