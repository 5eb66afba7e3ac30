//! The upgrade records on a real database: progress stays consistent whatever steps a run adds, and writing them
//! holds up no async task.

use std::time::{Duration, Instant};

use agent::engine::{Level, PlatformConfig, UpgradeEvents as _};
use agent::platform::local::LocalConfig;
use agent::records::{Created, create, finish_step, set_total, start_step};
use shared::api::Progress;

#[path = "fixtures/record.rs"]
mod fixtures;
use fixtures::record;

#[test]
fn steps_beyond_the_plan_grow_the_total_so_done_never_exceeds_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = agent::db::Db::open(dir.path()).expect("database");
    let mut conn = db.lock();
    let id = match create(&mut conn, &record()) {
        Ok(Created::Started(id)) => id,
        other => panic!("record not created: {other:?}"),
    };
    set_total(&conn, id, 2).expect("plan");
    let mut last = Progress::default();
    // Two planned steps, then a failure's extra step (what a rollback adds).
    for action in ["start", "ready", "rollback"] {
        let seq = start_step(&mut conn, id, "web", Some("web-1"), action, "").expect("step");
        last = finish_step(&mut conn, id, seq, "done", "").expect("finish");
        assert!(last.done <= last.total, "{last:?}");
    }
    assert_eq!(last, Progress { done: 3, total: 3 });
    // A later, smaller plan does not shrink the total below the steps already recorded.
    assert_eq!(
        set_total(&conn, id, 1).expect("plan"),
        Progress { done: 3, total: 3 }
    );
}

/// "Records are written off the async worker threads": a log line that waits for the database holds up no other
/// task, even with a single worker thread, and is persisted when the call returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_log_line_waiting_for_the_database_holds_up_no_other_task() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).expect("data dir");
    let db = agent::db::Db::open(&data_dir).expect("database");
    let engine = agent::engine::for_platform(&PlatformConfig::Local(LocalConfig::new(
        &data_dir,
        dir.path(),
    )))
    .await
    .expect("the local engine");
    let ops = agent::operations::Operations::new(db.clone(), engine, Default::default());
    let id = match create(&mut db.lock(), &record()) {
        Ok(Created::Started(id)) => id,
        other => panic!("record not created: {other:?}"),
    };
    // A long statement elsewhere holds the database for a second.
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let holder_db = db.clone();
    let holder = std::thread::spawn(move || {
        let _conn = holder_db.lock();
        held_tx.send(()).expect("tell");
        std::thread::sleep(Duration::from_secs(1));
    });
    held_rx.recv().expect("the database is held");
    let started = Instant::now();
    let events = ops.events(id);
    let reader_db = db.clone();
    let writer = tokio::spawn(async move {
        events.log(Level::Info, None, "written while the database is busy");
        let persisted = agent::records::logs(&reader_db.lock(), id, 0, 10).expect("logs");
        (Instant::now(), persisted.len())
    });
    // Let the writer take the only worker and wait for the database.
    std::thread::sleep(Duration::from_millis(100));
    let other = tokio::spawn(async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Instant::now()
    });
    let other_done = other.await.expect("the other task");
    let (written, persisted) = writer.await.expect("the writer");
    holder.join().expect("the holder");
    assert_eq!(
        persisted, 1,
        "the line is in the database when the call returns"
    );
    assert!(
        other_done < written && other_done - started < Duration::from_millis(700),
        "the other task ran while the line waited for the database: it ended after {:?}, the line after {:?}",
        other_done - started,
        written - started
    );
}
