//! Issue 19, "exactly once, never silent": each statement runs once, on the database
//! that was meant, and when that cannot be promised the run says so. One test per path
//! that broke the promise (the numbering), through the real `lambda-migrate`
//! binary against the test server: `scripts/test` runs it on MariaDB and on MySQL 9
//! (`LM_TEST_DATABASE_URL`).
//!
//! The interface:
//! - a statement whose outcome is unknown leaves its migration "in doubt" at that
//!   statement; `up` refuses it (exit 6) until `resolve ID --statement-committed N` or
//!   `--statement-not-committed N` says which it was;
//! - SIGINT and SIGTERM kill the in-flight statement on the server, journal the outcome
//!   and exit with 130 and 143;
//! - a run needs a second connection (its lock, and stopping a statement); without it
//!   no migration starts;
//! - `resolve` settles only what needs settling, naming `skip` or `down` otherwise;
//! - an explicit `-config`/`-env` beats an exported `DATABASE_URL`, and every writing
//!   command names its target on stderr first (`target: user@host:port/db (from …)`);
//! - a source with no migration in its folder is refused (exit 2), naming where its
//!   `.sql` files are, unless `--allow-empty`; reverting a migration whose Down section
//!   is missing or empty is refused unless `--allow-empty-down`.
#![cfg(feature = "mysql")]

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::*;
use testkit::{TestDb, sql};

// 1. `USE` inside a migration must not steer the bookkeeping, nor the next migration.
#[test]
fn use_inside_a_migration_does_not_move_the_bookkeeping() {
    let db = TestDb::tagged("use");
    let other = TestDb::tagged("use_other");
    // Another service's database, managed by sql-migrate too.
    other.q("CREATE TABLE gorp_migrations (id varchar(255) NOT NULL PRIMARY KEY, applied_at datetime) CHARSET=utf8");
    other.q("INSERT INTO gorp_migrations VALUES ('900_theirs.sql', NOW())");
    let dir = migrations(&[("1_a.sql", "-- +migrate Up\nCREATE TABLE a (id int);\n")]);
    write(
        dir.path(),
        "2_b.sql",
        &format!(
            "-- +migrate Up\nUSE {};\nCREATE TABLE b (id int);\n",
            other.name
        ),
    );
    write(
        dir.path(),
        "3_c.sql",
        "-- +migrate Up\nCREATE TABLE c (id int);\n",
    );
    let o = run(&db, dir.path(), &["up"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(db.applied(), ["1_a.sql", "2_b.sql", "3_c.sql"]);
    assert_eq!(
        other.applied(),
        ["900_theirs.sql"],
        "their history is theirs"
    );
    assert!(
        table_exists(&other.name, "b"),
        "the USE held inside its migration"
    );
    assert!(
        table_exists(&db.name, "c"),
        "the next migration starts in the target database"
    );
    // Nothing is pending, so nothing runs again.
    let o = run(&db, dir.path(), &["up"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("applied "),
        "{}",
        text(&o)
    );
}

// 2. `SET autocommit = 0` in one migration must not leave later journal writes open.
#[test]
fn autocommit_off_in_a_migration_does_not_hide_journal_writes() {
    let db = TestDb::tagged("autocommit");
    let dir = migrations(&[(
        "1_off.sql",
        "-- +migrate Up\nSET autocommit = 0;\nCREATE TABLE one (id int);\n",
    )]);
    let broken = "-- +migrate Up notransaction\nCREATE TABLE two (id int);\nCREATE TABLE three (id int);\nINSERT INTO missing VALUES (1);\n";
    write(dir.path(), "2_nt.sql", broken);
    let o = run(&db, dir.path(), &["up"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // What a fresh session sees is what the run reported: two statements committed.
    assert_eq!(
        db.q("SELECT statements_applied FROM gorp_migrations_journal WHERE id = '2_nt.sql'"),
        "2",
        "{}",
        text(&o)
    );
    write(dir.path(), "2_nt.sql", &broken.replace("missing", "two"));
    let o = run(&db, dir.path(), &["up", "--resume"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(db.q("SELECT COUNT(*) FROM two"), "1");
}

// 1-2. Whatever a migration does to its session ends with it: the next one starts as a
// new connection does, with our settings (here: strict mode, which `sql_mode = ''` in
// the first one turned off, refuses a value too long for its column).
#[test]
fn a_migrations_session_settings_end_with_it() {
    let db = TestDb::tagged("session");
    let dir = migrations(&[
        (
            "1_loose.sql",
            "-- +migrate Up\nSET SESSION sql_mode = '';\nCREATE TABLE t (c varchar(2));\nLOCK TABLES t WRITE;\n",
        ),
        (
            "2_strict.sql",
            "-- +migrate Up\nINSERT INTO t VALUES ('far too long');\n",
        ),
    ]);
    let o = run(&db, dir.path(), &["up"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(stderr(&o).contains("2_strict.sql"), "{}", text(&o));
    assert!(
        stderr(&o).contains("1406"),
        "strict mode is back: {}",
        text(&o)
    );
    assert_eq!(db.applied(), ["1_loose.sql"]);
    assert_eq!(db.q("SELECT COUNT(*) FROM t"), "0");
}

// 3. The lock-wait retry must never re-send a statement that may have done part of its work.
#[test]
fn a_call_is_never_retried_after_a_lock_wait() {
    let db = TestDb::tagged("call");
    db.q("CREATE TABLE t (id int); CREATE TABLE ledger (m varchar(64), s int)");
    let dir = migrations(&[(
        "1_p.sql",
        "-- +migrate Up\nDELIMITER $$\nCREATE PROCEDURE p()\nBEGIN\n  INSERT INTO ledger VALUES ('2_call.sql', 1);\n  ALTER TABLE t ADD COLUMN x int;\nEND$$\nDELIMITER ;\n",
    )]);
    let o = run(&db, dir.path(), &["up"]);
    assert!(o.status.success(), "{}", text(&o));
    write(dir.path(), "2_call.sql", "-- +migrate Up\nCALL p();\n");
    // A transaction that has read `t` holds its metadata lock for 4 s.
    let mut blocker = testkit::server()
        .client(Some(&db.name))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    blocker
        .stdin
        .take()
        .unwrap()
        .write_all(b"BEGIN; SELECT * FROM t; SELECT SLEEP(4); COMMIT;\n")
        .unwrap();
    running(&db, "SELECT SLEEP");
    let o = run(
        &db,
        dir.path(),
        &["up", "--lock-wait-timeout", "1", "--lock-wait-retries", "3"],
    );
    blocker.wait().unwrap();
    assert_eq!(
        db.q("SELECT COUNT(*) FROM ledger"),
        "1",
        "the procedure's INSERT ran more than once: {}",
        text(&o)
    );
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(db.applied(), ["1_p.sql"]);
}

// 4. A statement the client gave up on (read timeout) is either known or in doubt.
#[test]
fn a_read_timeout_leaves_the_statement_known_or_in_doubt() {
    let db = TestDb::tagged("readto");
    let dir = migrations(&[(
        "1_slow.sql",
        "-- +migrate Up notransaction\nCREATE TABLE slow AS SELECT SLEEP(3) AS s;\n",
    )]);
    let o = run(&db, dir.path(), &["up", "--read-timeout", "1s"]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    // Wait out the statement on the server, whatever the run did about it.
    std::thread::sleep(Duration::from_secs(3));
    let exists = table_exists(&db.name, "slow");
    let status = run(&db, dir.path(), &["status"]);
    let shown = String::from_utf8_lossy(&status.stdout).into_owned();
    let in_doubt = shown.contains("in doubt");
    let journal =
        db.q("SELECT statements_applied FROM gorp_migrations_journal WHERE id = '1_slow.sql'");
    assert!(
        in_doubt || (journal == "1") == exists,
        "the table {} but the journal says {journal:?} committed and status does not say in doubt:\n{shown}\n{}",
        if exists { "exists" } else { "does not exist" },
        text(&o)
    );
    // The next run never re-runs a statement that took effect.
    let o = run(&db, dir.path(), &["up"]);
    assert!(!stderr(&o).contains("already exists"), "{}", text(&o));
    if in_doubt {
        assert_eq!(
            o.status.code(),
            Some(6),
            "in doubt blocks the run: {}",
            text(&o)
        );
        let verdict = if exists {
            "--statement-committed"
        } else {
            "--statement-not-committed"
        };
        let r = run(&db, dir.path(), &["resolve", "1_slow.sql", verdict, "1"]);
        assert!(r.status.success(), "{}", text(&r));
        let o = run(&db, dir.path(), &["up", "--resume"]);
        assert!(o.status.success(), "{}", text(&o));
    }
}

/// After `1_int.sql`'s slow second statement was stopped: the journal counts it exactly
/// when it took effect. MariaDB ends the killed statement with an error; MySQL's `SLEEP`
/// returns early and the statement completes. Either is fine; disagreeing is not.
fn journal_agrees(db: &TestDb) {
    let slow = table_exists(&db.name, "slow");
    assert_eq!(
        db.q("SELECT statements_applied FROM gorp_migrations_journal WHERE id = '1_int.sql'"),
        if slow { "2" } else { "1" },
        "the table slow {} exist",
        if slow { "does" } else { "does not" }
    );
}

fn interrupted(sig: &str, code: i32) {
    let db = TestDb::tagged(&format!("sig{code}"));
    let dir = migrations(&[(
        "1_int.sql",
        "-- +migrate Up notransaction\nCREATE TABLE first (id int);\nCREATE TABLE slow AS SELECT SLEEP(20) AS s;\nCREATE TABLE last (id int);\n",
    )]);
    let child = spawn(&db, dir.path(), &["up"]);
    let id = running(&db, "CREATE TABLE slow");
    signal(&child, sig);
    let o = wait(child, Duration::from_secs(15));
    assert_eq!(o.status.code(), Some(code), "{}", text(&o));
    // Nothing of ours runs on after we are gone.
    let left = sql(
        None,
        &format!("SELECT COUNT(*) FROM information_schema.processlist WHERE id = {id}"),
    );
    assert_eq!(left, "0", "the statement still runs on the server");
    journal_agrees(&db);
    let status = run(&db, dir.path(), &["status"]);
    let shown = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(
        !shown.contains("running"),
        "an ended run shows as running:\n{shown}"
    );
    let o = run(&db, dir.path(), &["up", "--resume"]);
    // The resumed run re-sends the slow statement; 20 s is fine for the resume itself.
    assert!(o.status.success(), "{}", text(&o));
    assert!(table_exists(&db.name, "last"));
}

// 5. Ctrl-C, and SIGTERM as CI runners send it.
#[test]
fn sigint_kills_the_statement_journals_and_exits_130() {
    interrupted("INT", 130);
}

#[test]
fn sigterm_kills_the_statement_journals_and_exits_143() {
    interrupted("TERM", 143);
}

// 12. --connect-timeout bounds the whole handshake, not only TCP.
#[test]
fn a_server_that_never_speaks_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts and holds every connection, and never sends a byte.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            held.push(s);
        }
    });
    let dir = migrations(&[("1_a.sql", "-- +migrate Up\nCREATE TABLE a (id int);\n")]);
    let child = cli(
        &format!("mysql://lm:lm@127.0.0.1:{port}/nothing"),
        dir.path(),
        &["status", "--connect-timeout", "2s"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let o = wait(child, Duration::from_secs(30));
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    assert!(stderr(&o).contains("timed out"), "{}", text(&o));
    in_words(&o);
}

/// No driver's Debug forms in what an operator reads.
fn in_words(o: &Output) {
    let err = stderr(o);
    for debug in ["IoError {", "MySqlError {", "DriverError {", "CodecError {"] {
        assert!(!err.contains(debug), "{debug} in: {err}");
    }
}

// Errors in words: each connection failure says its next step, and a missing privilege
// before any migration is the deployment's to fix (exit 2), not a failed migration.
#[test]
fn failures_to_reach_or_to_be_allowed_say_what_to_do() {
    let dir = migrations(&[("1_a.sql", "-- +migrate Up\nCREATE TABLE a (id int);\n")]);
    // Nothing listens on a port just released.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = cli(
        &format!("mysql://lm:lm@127.0.0.1:{port}/nothing"),
        dir.path(),
        &["status"],
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    assert!(stderr(&o).contains("is the server running"), "{}", text(&o));
    in_words(&o);

    let s = testkit::server();
    let o = cli(
        &format!("mysql://lm:wrong@{}:{}/nothing", s.host, s.port),
        dir.path(),
        &["status"],
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    assert!(
        stderr(&o).contains("check the user name and password"),
        "{}",
        text(&o)
    );
    in_words(&o);

    let db = TestDb::tagged("denied");
    let user = format!("lm_read_{}", std::process::id());
    sql(
        None,
        &format!(
            "CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'; GRANT SELECT ON `{}`.* TO '{user}'@'%'",
            db.name
        ),
    );
    let url = format!("mysql://{user}:pw@{}:{}/{}", s.host, s.port, db.name);
    let o = cli(&url, dir.path(), &["up"]).output().unwrap();
    sql(None, &format!("DROP USER '{user}'@'%'"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(stderr(&o).contains("lacks a privilege"), "{}", text(&o));
    in_words(&o);
}

// 13. The connection that stops a statement is had when the run starts, or no migration
// starts; at the user's connection limit it still stops one.
#[test]
fn the_second_connection_is_had_at_the_start_or_nothing_starts() {
    let db = TestDb::tagged("limit");
    let s = testkit::server();
    let user = format!("lm_limit_{}", std::process::id());
    sql(
        None,
        &format!(
            "CREATE USER '{user}'@'%' IDENTIFIED BY 'pw' WITH MAX_USER_CONNECTIONS 1; \
             GRANT ALL ON `{}`.* TO '{user}'@'%'",
            db.name
        ),
    );
    let url = format!("mysql://{user}:pw@{}:{}/{}", s.host, s.port, db.name);
    let dir = migrations(&[(
        "1_int.sql",
        "-- +migrate Up notransaction\nCREATE TABLE first (id int);\nCREATE TABLE slow AS SELECT SLEEP(20) AS s;\n",
    )]);
    let o = cli(&url, dir.path(), &["up"]).output().unwrap();
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    let err = stderr(&o);
    assert!(
        err.contains("second connection") && err.contains("max_user_connections"),
        "{err}"
    );
    assert!(db.tables().is_empty(), "nothing ran: {:?}", db.tables());
    // With two connections allowed, the statement is stopped on the server at Ctrl-C:
    // the kill uses the connection opened at the start, not a third.
    sql(
        None,
        &format!("ALTER USER '{user}'@'%' WITH MAX_USER_CONNECTIONS 2"),
    );
    let child = cli(&url, dir.path(), &["up"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = running(&db, "CREATE TABLE slow");
    signal(&child, "INT");
    let o = wait(child, Duration::from_secs(15));
    sql(None, &format!("DROP USER '{user}'@'%'"));
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    let left = sql(
        None,
        &format!("SELECT COUNT(*) FROM information_schema.processlist WHERE id = {id}"),
    );
    assert_eq!(left, "0", "the statement still runs on the server");
    journal_agrees(&db);
}

// 6. `resolve` acts only on what needs resolving.
#[test]
fn resolve_refuses_a_clean_state() {
    let db = TestDb::tagged("resolve");
    let dir = migrations(&[
        (
            "1_a.sql",
            "-- +migrate Up\nCREATE TABLE a (id int);\n-- +migrate Down\nDROP TABLE a;\n",
        ),
        (
            "2_b.sql",
            "-- +migrate Up\nCREATE TABLE b (id int);\n-- +migrate Down\nDROP TABLE b;\n",
        ),
    ]);
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

// 7. An explicit -config/-env beats an exported DATABASE_URL, and the target is named.
#[test]
fn explicit_config_beats_an_ambient_database_url() {
    let ambient = TestDb::tagged("ambient");
    let meant = TestDb::tagged("meant");
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    write(
        &migrations,
        "1_a.sql",
        "-- +migrate Up\nCREATE TABLE a (id int);\n",
    );
    let s = testkit::server();
    write(
        dir.path(),
        "dbconfig.yml",
        &format!(
            "production:\n  dialect: mysql\n  datasource: {}:{}@tcp({}:{})/{}?parseTime=true\n  dir: migrations\n",
            s.user, s.password, s.host, s.port, meant.name
        ),
    );
    let o = Command::new(BIN)
        .args(["up", "-config", "dbconfig.yml", "-env", "production"])
        .env("DATABASE_URL", ambient.url())
        .env_remove("DB_HOST")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        ambient.tables().is_empty(),
        "went to DATABASE_URL's database: {}",
        text(&o)
    );
    assert_eq!(meant.applied(), ["1_a.sql"], "{}", text(&o));
    let err = stderr(&o);
    let target = err
        .lines()
        .find(|l| l.starts_with("target: "))
        .unwrap_or_else(|| panic!("no target line: {}", text(&o)));
    // The whole line, so no password can hide in it (the test server's password may
    // be a substring of its user name).
    assert_eq!(
        target,
        format!(
            "target: {}@{}:{}/{} (from config dbconfig.yml env production)",
            s.user, s.host, s.port, meant.name
        )
    );
    assert!(
        err.contains("DATABASE_URL"),
        "says which one won: {}",
        text(&o)
    );
    // `--json` names it too.
    let o = Command::new(BIN)
        .args([
            "up",
            "-config",
            "dbconfig.yml",
            "-env",
            "production",
            "--json",
        ])
        .env("DATABASE_URL", ambient.url())
        .env_remove("DB_HOST")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["target"]["address"],
        format!("{}@{}:{}/{}", s.user, s.host, s.port, meant.name)
    );
    assert_eq!(v["target"]["from"], "config dbconfig.yml env production");
    assert!(ambient.tables().is_empty());
}

// 10. No green on an empty set: a zip with its .sql files outside the folder.
#[test]
fn migrations_outside_the_folder_are_an_error() {
    let db = TestDb::tagged("empty");
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    write(
        &files,
        "1_a.sql",
        "-- +migrate Up\nCREATE TABLE a (id int);\n",
    );
    write(
        &files,
        "2_b.sql",
        "-- +migrate Up\nCREATE TABLE b (id int);\n",
    );
    let zip = dir.path().join("art.zip");
    let ok = Command::new("zip")
        .arg("-q")
        .arg(&zip)
        .args(["1_a.sql", "2_b.sql"])
        .current_dir(&files)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    for args in [&["up"][..], &["verify"][..]] {
        let o = Command::new(BIN)
            .args(args)
            .arg("--source")
            .arg(&zip)
            .env("DATABASE_URL", db.url())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        let err = stderr(&o);
        assert!(err.contains("migrations"), "names the folder: {err}");
        assert!(err.contains("2 .sql files at the root"), "{err}");
        assert!(err.contains("--dir ''"), "names the fix: {err}");
    }
    assert!(db.tables().is_empty());
    // The folder the message names works; an empty set needs saying so.
    let o = Command::new(BIN)
        .args(["verify", "--dir", ""])
        .arg("--source")
        .arg(&zip)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let o = Command::new(BIN)
        .args(["up", "--allow-empty"])
        .arg("--source")
        .arg(&zip)
        .env("DATABASE_URL", db.url())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(db.applied().is_empty(), "{}", text(&o));
}

// 11. A reversion that would do nothing is refused.
#[test]
fn down_of_an_empty_down_section_is_refused() {
    let db = TestDb::tagged("emptydown");
    let dir = migrations(&[("1_a.sql", "-- +migrate Up\nCREATE TABLE a (id int);\n")]);
    let o = run(&db, dir.path(), &["up"]);
    assert!(o.status.success(), "{}", text(&o));
    for command in ["down", "redo"] {
        let o = run(&db, dir.path(), &[command]);
        assert_eq!(o.status.code(), Some(2), "{command}: {}", text(&o));
        assert!(stderr(&o).contains("Down"), "{command}: {}", text(&o));
        assert_eq!(
            db.applied(),
            ["1_a.sql"],
            "{command} recorded a no-op reversion"
        );
    }
    let o = run(&db, dir.path(), &["down", "--dry-run"]);
    assert!(
        stderr(&o).contains("Down"),
        "the dry run warns: {}",
        text(&o)
    );
    let o = run(&db, dir.path(), &["down", "--allow-empty-down"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("schema unchanged"),
        "{}",
        text(&o)
    );
    assert!(db.applied().is_empty());
    assert!(table_exists(&db.name, "a"));
}
