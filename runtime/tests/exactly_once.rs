//! Issue 19, "exactly once, never silent": each statement runs once, on the database that
//! was meant, and when that cannot be promised the run says so. One test per path that
//! broke the promise on MariaDB 10.11 (the numbering), through the real
//! `lambda-migrate` binary against the real server (start it with `scripts/start-mariadb`).
//! The paths still open wait in `tests/issue19/exactly_once.rs` until they are closed.
#![cfg(feature = "mysql")]

use std::path::Path;
use std::process::{Command, Output};

use testkit::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_lambda-migrate");

fn cli(url: &str, dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .arg("--source")
        .arg(dir)
        .env("DATABASE_URL", url)
        .env_remove("DB_HOST")
        .current_dir(dir);
    c
}

fn run(db: &TestDb, dir: &Path, args: &[&str]) -> Output {
    cli(&db.url(), dir, args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write(dir: &Path, name: &str, body: &str) {
    std::fs::write(dir.join(name), body).unwrap();
}

// 6. `resolve` acts only on what needs resolving.
#[test]
fn resolve_refuses_a_clean_state() {
    let db = TestDb::tagged("resolve");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "1_a.sql",
        "-- +migrate Up\nCREATE TABLE a (id int);\n-- +migrate Down\nDROP TABLE a;\n",
    );
    write(
        dir.path(),
        "2_b.sql",
        "-- +migrate Up\nCREATE TABLE b (id int);\n-- +migrate Down\nDROP TABLE b;\n",
    );
    let o = run(&db, dir.path(), &["up", "--limit", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    // A pending migration that never ran: that is `skip`.
    let o = run(&db, dir.path(), &["resolve", "2_b.sql", "--applied"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(stderr(&o).contains("skip"), "{}", text(&o));
    // A cleanly applied migration: that is `down`.
    let o = run(&db, dir.path(), &["resolve", "1_a.sql", "--rolled-back"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(stderr(&o).contains("down"), "{}", text(&o));
    assert_eq!(db.applied(), ["1_a.sql"], "nothing was recorded");
}
