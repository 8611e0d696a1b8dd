//! Waiting for the run lock, seen from the `lambda-migrate` binary against the test
//! server (MariaDB or MySQL, as `LM_TEST_DATABASE_URL` says; `scripts/test` runs this on
//! both): while another session holds the lock, a command says at once who holds it,
//! then that it is still waiting, and it goes on once the lock is let go; a lock never
//! let go ends in exit 3 naming the holder, in text and in `--json`.
//!
//! No test asserts on a duration: each reads the command's stderr as it comes, and lets
//! the lock go only after the line it waits for was printed, so "printed while still
//! waiting" holds by construction.
#![cfg(feature = "mysql")]

use std::io::{BufRead, BufReader, Lines};
use std::process::{Child, ChildStderr, Stdio};

mod common;

use common::{cli, json, text, wait};
use testkit::{HeldLock, TestDb, TestUser, names_connection, server};

const MIGRATION: &str =
    "-- +migrate Up\nCREATE TABLE a (id int);\n\n-- +migrate Down\nDROP TABLE a;\n";

/// The run lock of `db`, held by a session of the test server's user.
fn hold(db: &TestDb) -> HeldLock {
    HeldLock::take(&engine::db::lock_name(&db.name, "gorp_migrations"))
}

/// Reads `stderr` until a line for which `want` holds; every line read, that one last.
/// The command ending first (its stderr closing) fails the test, showing what it said.
fn until(stderr: &mut Lines<BufReader<ChildStderr>>, want: impl Fn(&str) -> bool) -> Vec<String> {
    let mut seen = Vec::new();
    for line in stderr.by_ref() {
        let line = line.unwrap();
        let done = want(&line);
        seen.push(line);
        if done {
            return seen;
        }
    }
    panic!("stderr ended before the line looked for: {seen:#?}");
}

/// Starts `args` against `db` and reads its stderr until it says who holds the lock:
/// the command, the rest of its stderr, and that line.
fn start_waiting(
    db: &TestDb,
    dir: &std::path::Path,
    args: &[&str],
) -> (Child, Lines<BufReader<ChildStderr>>, String) {
    let mut child = cli(&db.url(), dir, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let said = until(&mut stderr, |l| {
        l.starts_with("waiting for the migration lock")
    });
    (child, stderr, said.last().unwrap().clone())
}

#[test]
fn up_names_the_holder_while_it_waits_and_applies_once_it_is_let_go() {
    let db = TestDb::tagged("runlock");
    let dir = common::migrations(&[("1_a.sql", MIGRATION)]);
    let mut holder = hold(&db);
    // The holder is named while the lock is still held: the test has not let it go.
    let (child, mut stderr, line) = start_waiting(&db, dir.path(), &["up"]);
    assert!(names_connection(&line, &holder.id), "{line}");
    assert!(line.contains(&holder.name), "{line}");
    // The test's session is the server user's own: its user is shown.
    assert!(line.contains(&format!("({}@", server().user)), "{line}");
    assert!(line.contains("waiting up to 60 s"), "{line}");
    // Then, still held, that it is still waiting.
    let said = until(&mut stderr, |l| {
        l.starts_with("still waiting for the migration lock")
    });
    assert!(
        names_connection(said.last().unwrap(), &holder.id),
        "{said:#?}"
    );
    assert!(
        !db.tables().contains(&"a".to_string()),
        "applied while held"
    );
    holder.release();
    let rest: Vec<String> = stderr.map(Result::unwrap).collect();
    let o = wait(child, std::time::Duration::from_secs(60));
    assert!(o.status.success(), "{}\n{rest:#?}", text(&o));
    assert!(
        rest.iter()
            .any(|l| l.starts_with("took the migration lock after ")),
        "{rest:#?}"
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("applied  1_a.sql"),
        "{}",
        text(&o)
    );
    assert_eq!(db.applied(), ["1_a.sql"]);
}

#[test]
fn a_lock_never_let_go_exits_3_naming_the_holder() {
    let db = TestDb::tagged("runlock");
    let dir = common::migrations(&[("1_a.sql", MIGRATION)]);
    let holder = hold(&db);
    // --json: the report has the wait, and stderr still tells of it as it happens.
    let o = cli(
        &db.url(),
        dir.path(),
        &["up", "--lock-timeout", "2", "--json"],
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let v = json(&o);
    assert_eq!(v["error_kind"], "LockTimeout", "{v}");
    assert_eq!(
        v["lock_wait"]["holder"]["connection"].to_string(),
        holder.id
    );
    assert_eq!(v["lock_wait"]["holder"]["user"], server().user.as_str());
    assert!(v["lock_wait"]["waited_ms"].is_u64(), "{v}");
    let error = v["error"].as_str().unwrap();
    assert!(
        error.contains("not obtained within 2s: held by connection"),
        "{error}"
    );
    assert!(names_connection(error, &holder.id), "{error}");
    let stderr = common::stderr(&o);
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("waiting for the migration lock")
                && names_connection(l, &holder.id)),
        "{stderr}"
    );
    // Text: the error line names the holder.
    let o = cli(&db.url(), dir.path(), &["up", "--lock-timeout", "1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let error = common::stderr(&o)
        .lines()
        .find(|l| l.starts_with("error: "))
        .map(str::to_owned)
        .unwrap_or_default();
    assert!(
        error.contains("not obtained within 1s: held by ") && names_connection(&error, &holder.id),
        "{}",
        text(&o)
    );
    assert!(
        db.tables().is_empty(),
        "nothing created while the lock was held"
    );
}

#[test]
fn every_command_that_takes_the_lock_names_the_holder() {
    let db = TestDb::tagged("runlock");
    let dir = common::migrations(&[("1_a.sql", MIGRATION)]);
    let holder = hold(&db);
    let commands: [&[&str]; 6] = [
        &["down"],
        &["redo"],
        &["skip"],
        &["resolve", "1_a.sql", "--applied"],
        &["resolve", "1_a.sql", "--statement-committed", "1"],
        &["plan", "--review"],
    ];
    // All at once: each waits its second behind the same holder.
    let children: Vec<(&[&str], Child)> = commands
        .iter()
        .map(|args| {
            let mut all = args.to_vec();
            all.extend(["--lock-timeout", "1"]);
            let child = cli(&db.url(), dir.path(), &all)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (*args, child)
        })
        .collect();
    for (args, child) in children {
        let o = wait(child, std::time::Duration::from_secs(60));
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", text(&o));
        let stderr = common::stderr(&o);
        let held = stderr
            .lines()
            .find(|l| l.starts_with("waiting for the migration lock"));
        assert!(
            held.is_some_and(|l| names_connection(l, &holder.id)),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn a_holder_this_user_cannot_see_is_still_named_by_its_id() {
    let db = TestDb::tagged("runlock");
    let dir = common::migrations(&[("1_a.sql", MIGRATION)]);
    // No PROCESS privilege: the server lists only this user's own sessions.
    let user = TestUser::create(
        "lock-wait-pw",
        &[&format!("GRANT ALL ON `{}`.* TO {{user}}", db.name)],
    );
    let holder = hold(&db);
    let o = cli(
        &user.url(&db.name),
        dir.path(),
        &["up", "--lock-timeout", "1"],
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let stderr = common::stderr(&o);
    let held = stderr
        .lines()
        .find(|l| l.starts_with("waiting for the migration lock"))
        .unwrap_or_default();
    assert!(
        held.contains(&format!(
            "connection {} (not visible to this user",
            holder.id
        )) && held.contains("PROCESS privilege"),
        "{stderr}"
    );
    // The password is never printed.
    assert!(!stderr.contains("lock-wait-pw"), "{stderr}");
}

#[test]
fn ctrl_c_ends_a_wait_for_the_lock() {
    let db = TestDb::tagged("runlock");
    let dir = common::migrations(&[("1_a.sql", MIGRATION)]);
    let holder = hold(&db);
    // A timeout far past the guard below: only the signal can end this wait in time.
    let (child, stderr, line) = start_waiting(&db, dir.path(), &["up", "--lock-timeout", "600"]);
    assert!(names_connection(&line, &holder.id), "{line}");
    common::signal(&child, "INT");
    let rest: Vec<String> = stderr.map(Result::unwrap).collect();
    // A guard against a hang, not a speed check.
    let o = wait(child, std::time::Duration::from_secs(60));
    assert_eq!(o.status.code(), Some(130), "{}\n{rest:#?}", text(&o));
    assert!(
        rest.iter()
            .any(|l| l.starts_with("SIGINT: stopping before the next step")),
        "{rest:#?}"
    );
    assert!(
        rest.iter()
            .any(|l| l.starts_with("interrupted by SIGINT: ") && l.contains("not obtained within")),
        "{rest:#?}"
    );
    assert!(db.tables().is_empty(), "nothing created");
}
