//! The upgrade records on a real database: progress stays consistent whatever steps a run adds.

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
