//! `up --dry-run --sql` against the real server of `LM_TEST_DATABASE_URL` (MariaDB by
//! default, MySQL with `scripts/start-mysql`): the script, piped into the real client,
//! leaves what `up` leaves (schema, routines, data, history and journal rows); a dry run
//! changes nothing and takes no lock; the script stops when another run holds the lock.
#![cfg(feature = "mysql")]

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

mod common;

use common::{json, migrations, run, text};
use testkit::{TestDb, server, sql};

/// Several migrations: a stored procedure between DELIMITER lines, a `;` inside a string,
/// a trailing comment, text that is not ASCII, a `notransaction` section, a migration
/// that sets a session variable, and a data statement after DDL.
const SET: &[(&str, &str)] = &[
    (
        "001_tables.sql",
        "-- +migrate Up\nCREATE TABLE account (\n  id int NOT NULL AUTO_INCREMENT PRIMARY KEY,\n  name varchar(100) NOT NULL,\n  note text\n) ENGINE=InnoDB; -- the first table\nINSERT INTO account (name, note) VALUES ('semi; colon', 'it''s; \"quoted\"');\nINSERT INTO account (name, note) VALUES ('héllo ✓', NULL);\nCREATE INDEX account_name ON account (name);\n\n-- +migrate Down\nDROP TABLE account;\n",
    ),
    (
        "002_procedure.sql",
        "-- +migrate Up\nCREATE TABLE ledger (v int, at varchar(20));\nDELIMITER $$\nCREATE PROCEDURE add_two(IN base int)\nBEGIN\n  INSERT INTO ledger VALUES (base + 1, 'a;b');\n  INSERT INTO ledger VALUES (base + 2, '$$');\nEND$$\nDELIMITER ;\nCALL add_two(10);\n\n-- +migrate Down\nDROP PROCEDURE add_two;\nDROP TABLE ledger;\n",
    ),
    (
        "003_notx.sql",
        "-- +migrate Up notransaction\nCREATE TABLE counter (n int) DEFAULT CHARSET=latin1;\nINSERT INTO counter VALUES (1);\nUPDATE counter SET n = n + 1;\n\n-- +migrate Down\nDROP TABLE counter;\n",
    ),
    (
        "004_session.sql",
        "-- +migrate Up\nSET @lm_seed = 40;\nINSERT INTO counter VALUES (@lm_seed + 2);\nALTER TABLE account ADD COLUMN flags int NOT NULL DEFAULT 0;\n\n-- +migrate Down\nALTER TABLE account DROP COLUMN flags;\n",
    ),
    (
        "005_view.sql",
        "-- +migrate Up\nCREATE VIEW account_names AS SELECT name FROM account;\nUPDATE account SET flags = 3 WHERE name LIKE 'semi%';\n\n-- +migrate Down\nDROP VIEW account_names;\n",
    ),
];

/// Pipes `script` into the server's client (the host's `mariadb` client, which speaks
/// both servers' authentication) in `db`.
fn pipe(db: &TestDb, script: &[u8]) -> Output {
    let mut child = server()
        .client(Some(&db.name))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the mariadb client runs");
    child.stdin.take().unwrap().write_all(script).unwrap();
    child.wait_with_output().unwrap()
}

/// What a database holds, without what differs by name, clock or session: every
/// table's and view's definition, every routine's, every table's rows, the history
/// ids and the journal rows.
fn snapshot(db: &TestDb) -> String {
    let mut out = String::new();
    for t in db.tables() {
        let create = db.q(&format!("SHOW CREATE TABLE `{t}`"));
        out.push_str(&format!("{create}\n"));
        if t != "gorp_migrations" && t != "gorp_migrations_journal" {
            let rows = db.q(&format!("SELECT * FROM `{t}`"));
            let mut rows: Vec<&str> = rows.lines().collect();
            rows.sort_unstable();
            out.push_str(&format!("rows of {t}:\n{}\n", rows.join("\n")));
        }
    }
    // Name, body, the sql_mode and character sets it was created under.
    let routines = db.q(&format!(
        "SELECT routine_name, routine_type, routine_definition, sql_mode, character_set_client, \
         collation_connection, database_collation FROM information_schema.routines \
         WHERE routine_schema = '{}' ORDER BY routine_name",
        db.name
    ));
    out.push_str(&format!("routines:\n{routines}\n"));
    out.push_str(&format!("history: {:?}\n", db.applied()));
    let journal = db.q(
        "SELECT id, sha256, direction, state, statements_total, statements_applied, \
         applied_sha256, statement_hashes, error FROM gorp_migrations_journal ORDER BY id",
    );
    out.push_str(&format!("journal:\n{journal}\n"));
    out
}

fn script(db: &TestDb, dir: &std::path::Path, extra: &[&str]) -> Output {
    let mut args = vec!["up", "--dry-run", "--sql"];
    args.extend_from_slice(extra);
    let o = run(db, dir, &args);
    assert!(o.status.success(), "{}", text(&o));
    o
}

#[test]
fn the_script_leaves_what_up_leaves() {
    let dir = migrations(SET);
    let scripted = TestDb::tagged("sqlscript");
    let applied = TestDb::tagged("sqlup");

    let o = script(&scripted, dir.path(), &[]);
    let sql = String::from_utf8(o.stdout.clone()).unwrap();
    // The target is named on stderr; stdout is the script alone.
    assert!(common::stderr(&o).contains("target: "), "{}", text(&o));
    assert!(sql.starts_with("-- lambda-migrate: "), "{sql}");
    for (n, (id, _)) in SET.iter().enumerate() {
        let header = format!("-- ==== migration {} of {}: {id} (up)", n + 1, SET.len());
        assert!(sql.contains(&header), "{header}");
    }
    assert!(
        sql.contains("DELIMITER $$$\nCREATE PROCEDURE add_two"),
        "{sql}"
    );
    assert!(
        sql.contains("GET_LOCK(") && sql.contains("RELEASE_LOCK("),
        "{sql}"
    );
    // A dry run changed nothing.
    assert!(scripted.tables().is_empty(), "{:?}", scripted.tables());

    let piped = pipe(&scripted, &o.stdout);
    assert!(piped.status.success(), "{}\n{sql}", text(&piped));
    let up = run(&applied, dir.path(), &["up"]);
    assert!(up.status.success(), "{}", text(&up));

    let (a, b) = (snapshot(&scripted), snapshot(&applied));
    assert_eq!(a, b, "script:\n{sql}");
    // The snapshot holds what it should (a comparison of two empty things proves nothing).
    for part in [
        "add_two\tPROCEDURE",
        "héllo ✓",
        "semi; colon",
        "11\ta;b",
        "12\t$$",
        "\nrows of counter:\n2\n42\n",
        "\tup\tapplied\t2\t2\t",
    ] {
        assert!(a.contains(part), "{part} missing from:\n{a}");
    }

    // The journal the script wrote is one a run understands: nothing left to do.
    let status = run(&scripted, dir.path(), &["up", "--json"]);
    assert!(status.status.success(), "{}", text(&status));
    assert_eq!(json(&status)["migrations"], serde_json::json!([]));
}

#[test]
fn limit_and_json_shape_the_script_and_a_run_carries_on_after_it() {
    let dir = migrations(SET);
    let db = TestDb::tagged("sqllimit");
    let o = script(&db, dir.path(), &["--limit", "2"]);
    let sql = String::from_utf8(o.stdout.clone()).unwrap();
    assert!(
        sql.contains("002_procedure.sql") && !sql.contains("003_notx.sql"),
        "{sql}"
    );
    // `--json` carries the same script in `sql`, beside the plan.
    let j = json(&run(
        &db,
        dir.path(),
        &["up", "--dry-run", "--sql", "--limit", "2", "--json"],
    ));
    assert_eq!(j["sql"].as_str(), Some(sql.as_str()));
    assert_eq!(j["migrations"].as_array().map(Vec::len), Some(2), "{j}");

    let piped = pipe(&db, &o.stdout);
    assert!(piped.status.success(), "{}", text(&piped));
    assert_eq!(db.applied(), ["001_tables.sql", "002_procedure.sql"]);
    // The next script starts where the first left off, with the tables already there.
    let next = String::from_utf8(script(&db, dir.path(), &[]).stdout).unwrap();
    assert!(
        !next.contains("001_tables.sql") && next.contains("003_notx.sql"),
        "{next}"
    );
    assert!(!next.contains("create table if not exists"), "{next}");
    let up = run(&db, dir.path(), &["up"]);
    assert!(up.status.success(), "{}", text(&up));
    assert_eq!(db.applied().len(), SET.len());
}

#[test]
fn a_dry_run_takes_no_lock_and_its_script_stops_when_another_run_holds_it() {
    let dir = migrations(SET);
    let db = TestDb::tagged("sqllock");
    let lock = format!("lambda-migrate:{}.gorp_migrations", db.name);
    // Another run holds the lock for the next 20 s.
    let mut holder = server()
        .client(None)
        .arg("-e")
        .arg(format!("DO GET_LOCK('{lock}', 5); DO SLEEP(20)"))
        .spawn()
        .unwrap();
    let held = || sql(None, &format!("SELECT IS_USED_LOCK('{lock}') IS NOT NULL"));
    for _ in 0..200 {
        if held() == "1" {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(held(), "1");
    // A dry run neither waits for the lock nor takes it, and creates nothing.
    let o = script(&db, dir.path(), &["--lock-timeout", "1"]);
    assert!(db.tables().is_empty());
    assert!(String::from_utf8_lossy(&o.stdout).contains("GET_LOCK('lambda-migrate:"));

    // Its script, run while the lock is held, stops at the lock with nothing applied.
    let piped = pipe(&db, &o.stdout);
    assert!(!piped.status.success(), "{}", text(&piped));
    assert!(
        common::stderr(&piped).contains("lambda_migrate_lock_not_obtained"),
        "{}",
        text(&piped)
    );
    assert!(db.tables().is_empty(), "{:?}", db.tables());
    holder.kill().unwrap();
    holder.wait().unwrap();
    // The client's session may outlive it a moment; then the lock is free.
    for _ in 0..250 {
        if held() == "0" {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(held(), "0");
}

#[test]
fn sql_goes_only_with_a_dry_run() {
    let dir = migrations(SET);
    let db = TestDb::tagged("sqlflag");
    let o = run(&db, dir.path(), &["up", "--sql"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(db.tables().is_empty());
    // `plan --sql` is `up --dry-run --sql`.
    let plan = run(&db, dir.path(), &["plan", "--sql", "--lock-timeout", "1"]);
    let dry = script(&db, dir.path(), &["--lock-timeout", "1"]);
    assert!(plan.status.success(), "{}", text(&plan));
    assert_eq!(plan.stdout, dry.stdout);
}

/// The same script through MySQL's own client (9.x, inside the MySQL server's chroot
/// that `scripts/start-mysql` makes), whichever server the tests run against.
#[test]
fn mysqls_own_client_runs_the_script_too() {
    let root = std::env::var("MYSQL_ROOT").unwrap_or_else(|_| "/srv/lambda-migrate-mysql".into());
    assert!(
        std::path::Path::new(&root).join("usr/bin/mysql").exists(),
        "no MySQL client under {root}: run scripts/start-mysql"
    );
    let s = server();
    let dir = migrations(SET);
    let db = TestDb::tagged("sqlmysqlc");
    let o = script(&db, dir.path(), &[]);
    let mut child = Command::new("chroot")
        .arg(&root)
        .args(["mysql", "-N", "-B", "--protocol=TCP", "-h", &s.host])
        .args(["-P", &s.port.to_string(), "-u", &s.user, &db.name])
        .env("MYSQL_PWD", &s.password)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&o.stdout).unwrap();
    let piped = child.wait_with_output().unwrap();
    assert!(piped.status.success(), "{}", text(&piped));
    let applied = TestDb::tagged("sqlmysqlup");
    let up = run(&applied, dir.path(), &["up"]);
    assert!(up.status.success(), "{}", text(&up));
    assert_eq!(snapshot(&db), snapshot(&applied));
}
