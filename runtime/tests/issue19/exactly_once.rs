//! NOT YET A TEST TARGET: cargo builds `tests/*.rs`, not this folder. Every test here fails
//! on today's code (checked against MariaDB 10.11 when written); issue 19's work moves the
//! file to `runtime/tests/` as each path is closed, so none can be forgotten.
//!
//! Issue 19, "exactly once, never silent": each statement runs once, on the database that
//! was meant, and when that cannot be promised the run says so. One test per path that
//! broke the promise on MariaDB 10.11 (the numbering), through the real
//! `lambda-migrate` binary against the real server.
//!
//! The interface these tests fix (decided with the issue):
//! - a statement whose outcome is unknown leaves its migration "in doubt" at that
//!   statement; `up` refuses it (exit 6) until `resolve ID --statement-committed N` or
//!   `--statement-not-committed N` says which it was;
//! - SIGINT and SIGTERM kill the in-flight statement on the server, journal the outcome
//!   and exit with 130 and 143;
//! - every command that changes the database first prints `target: user@host:port/db
//!   (from …)` on stderr;
//! - an empty migration set, an empty Down section and a bare DSN parameter are refused
//!   (exit 2), naming what is wrong.
#![cfg(feature = "mysql")]

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use testkit::{TestDb, sql};

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

fn spawn(db: &TestDb, dir: &Path, args: &[&str]) -> Child {
    cli(&db.url(), dir, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
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

fn table_exists(schema: &str, table: &str) -> bool {
    sql(
        None,
        &format!(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '{schema}' AND table_name = '{table}'"
        ),
    ) == "1"
}

/// Waits until a session of `db` runs a statement starting with `prefix`; its id.
fn running(db: &TestDb, prefix: &str) -> String {
    let started = Instant::now();
    loop {
        let id = sql(
            None,
            &format!(
                "SELECT id FROM information_schema.processlist WHERE db = '{}' AND info LIKE '{prefix}%' AND command <> 'Sleep'",
                db.name
            ),
        );
        if !id.is_empty() {
            return id;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no session of {} ever ran {prefix}…",
            db.name
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for `child` at most `limit` (a guard against a hang, not a speed check).
fn wait(mut child: Child, limit: Duration) -> Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            let o = child.wait_with_output().unwrap();
            panic!("still running after {limit:?}, killed: {}", text(&o));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name} failed");
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

// 9. A bare `?sql_mode`: closed, tested in `mysql_cli.rs` (`a_bare_dsn_parameter_is_refused`).

// 7, 10, 11: moved to `exactly_once_cli.rs`; 1-5, 12, 13: in `exactly_once_db.rs`.
