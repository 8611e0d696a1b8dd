//! Runs against a deadline on the test server (MariaDB or MySQL, as
//! `LM_TEST_DATABASE_URL` says; `scripts/test` runs this on both): a
//! run stops between migrations once it may not start another, and a statement still
//! running at the kill point is killed on the server, rolled back and journaled exactly.
#![cfg(feature = "mysql")]

use std::time::{Duration, Instant};

use engine::command::CommandError;
use engine::command::DeadlineStop;
use engine::command::RunOutcome;
use engine::db::{ConnConfig, Database, Deadline, Settings};
use engine::migration;
use engine::plan::{Command, Options};

/// Where the in-memory migrations come from, for naming a file that does not parse.
fn source() -> engine::source::Source {
    engine::source::Source::Dir {
        path: "files".into(),
        files: Vec::new(),
    }
}

fn run(
    db: &testkit::TestDb,
    files: &[(&str, &str)],
    deadline: Deadline,
) -> Result<RunOutcome, CommandError> {
    let cfg = ConnConfig::parse(&db.url()).expect("LM_TEST_DATABASE_URL parses");
    let mut conn = Database::connect(&cfg, &Settings::default()).unwrap_or_else(|e| {
        panic!(
            "the test server is not reachable at {cfg}: {e}. {}",
            testkit::START_HINT
        )
    });
    conn.set_deadline(deadline);
    let mut ms = migration::scan(
        files
            .iter()
            .map(|(name, text)| (*name, *name, text.as_bytes())),
    )
    .unwrap();
    engine::command::run::run(
        &mut conn,
        &source(),
        &mut ms,
        &Options::new(Command::Up),
        Duration::from_secs(5),
        |_| {},
    )
}

fn after(stop: Duration, kill: Duration) -> Deadline {
    let now = Instant::now();
    Deadline {
        stop_starting: now + stop,
        kill_at: now + kill,
    }
}

#[test]
fn a_run_stops_between_migrations_and_the_next_run_carries_on() {
    let db = testkit::TestDb::tagged("deadline_stop");
    let files = [
        (
            "1_slow.sql",
            "-- +migrate Up\nCREATE TABLE a (id int);\nDO SLEEP(3);\n",
        ),
        ("2_b.sql", "-- +migrate Up\nCREATE TABLE b (id int);\n"),
        ("3_c.sql", "-- +migrate Up\nCREATE TABLE c (id int);\n"),
    ];
    // The first migration starts well before the stop point and ends after it.
    let r = run(
        &db,
        &files,
        after(Duration::from_secs(1), Duration::from_secs(60)),
    )
    .unwrap();
    let done: Vec<&str> = r.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(done, ["1_slow.sql"]);
    assert_eq!(r.stopped.unwrap().pending, ["2_b.sql", "3_c.sql"]);
    assert_eq!(r.last_applied.as_deref(), Some("1_slow.sql"));
    assert_eq!(db.applied(), ["1_slow.sql"]);

    // Past the stop point nothing starts, and nothing is changed.
    let r = run(&db, &files, after(Duration::ZERO, Duration::from_secs(60))).unwrap();
    assert!(r.steps.is_empty());
    assert_eq!(r.stopped.unwrap().pending, ["2_b.sql", "3_c.sql"]);

    let r = run(
        &db,
        &files,
        after(Duration::from_secs(60), Duration::from_secs(60)),
    )
    .unwrap();
    assert_eq!(r.steps.len(), 2);
    assert!(r.stopped.is_none());
    assert_eq!(db.applied(), ["1_slow.sql", "2_b.sql", "3_c.sql"]);
}

#[test]
fn a_statement_running_at_the_deadline_is_killed_rolled_back_and_journaled() {
    let db = testkit::TestDb::tagged("deadline_kill");
    let slow = "-- +migrate Up\nCREATE TABLE k (id int PRIMARY KEY);\nINSERT INTO k VALUES (1);\n\
                INSERT INTO k SELECT 2 FROM (SELECT SLEEP(40) AS s) AS x;\nINSERT INTO k VALUES (3);\n";
    let e = run(
        &db,
        &[("1_slow.sql", slow)],
        after(Duration::from_secs(30), Duration::from_secs(2)),
    )
    .unwrap_err();
    let CommandError::Failed(f) = &e else {
        panic!("expected a migration failure, got {e}");
    };
    // Killed on the server: the statement ends with "interrupted", long before its sleep
    // would have, and the transaction around it is rolled back.
    assert_eq!(
        (f.statement, f.code, f.deadline),
        (3, Some(1317), Some(DeadlineStop::Killed)),
        "{f:?}"
    );
    assert_eq!(f.committed, Some(1), "{e}");
    let message = e.to_string();
    assert!(
        message.contains("migration 1_slow.sql (up) failed at statement 3 of 4 (line 4)"),
        "{message}"
    );
    assert!(message.contains("KILL QUERY"), "{message}");

    assert_eq!(db.q("SELECT COUNT(*) FROM k").trim(), "0");
    assert!(db.applied().is_empty());
    let journal = db.q("SELECT state, statements_applied FROM gorp_migrations_journal");
    assert_eq!(journal.trim(), "failed\t1");
    // Nothing of ours is left running on the server.
    let left = db.q(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE '%SLEEP(40)%' \
         AND INFO NOT LIKE '%PROCESSLIST%'",
    );
    assert_eq!(left.trim(), "0");
}
