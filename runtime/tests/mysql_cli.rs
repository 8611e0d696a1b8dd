//! The `lambda-migrate` binary against the test server (MariaDB or MySQL, as
//! `LM_TEST_DATABASE_URL` says; `scripts/test` runs this on both): concurrent runs, a connection killed mid-migration, the real
//! sql-migrate on the same database both ways, dbconfig.yml, exit codes, JSON output.
#![cfg(feature = "mysql")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod common;

use common::{BIN, cli as cli_url, run, text, write};
use testkit::{TestDb, repo, server, sql};

fn table_migration(t: &str) -> String {
    format!(
        "-- +migrate Up\nCREATE TABLE {t} (id int primary key);\nINSERT INTO {t} VALUES (1);\n\n-- +migrate Down\nDROP TABLE {t};\n"
    )
}

/// Builds the sql-migrate driver (engine/tests/sqlmigrate), once per test binary.
fn sqlmigrate() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        testkit::go_build_into(
            &repo().join("engine/tests/sqlmigrate/main.go"),
            Path::new(env!("CARGO_TARGET_TMPDIR")),
            "sqlmigrate-helper",
        )
    })
}

fn sqlm(db: &TestDb, dir: &Path, args: &[&str]) -> String {
    let o = Command::new(sqlmigrate())
        .arg(db.dsn())
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "sql-migrate {args:?}: {}", text(&o));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn eight_concurrent_ups_apply_each_migration_once() {
    let db = TestDb::tagged("conc");
    let dir = tempfile::tempdir().unwrap();
    db.q("CREATE TABLE applied_log (n int)");
    for i in 1..=30 {
        write(
            dir.path(),
            &format!("{i:03}_m.sql"),
            &format!(
                "-- +migrate Up\nCREATE TABLE t{i} (id int);\nINSERT INTO applied_log VALUES ({i});\n-- +migrate Down\nDROP TABLE t{i};\n"
            ),
        );
    }
    let children: Vec<Child> = (0..8)
        .map(|_| {
            cli_url(&db.url(), dir.path(), &["up"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
    }
    assert_eq!(
        db.q("SELECT COUNT(*), COUNT(DISTINCT n) FROM applied_log"),
        "30\t30"
    );
    assert_eq!(db.q("SELECT COUNT(*) FROM gorp_migrations"), "30");
    assert_eq!(
        db.q("SELECT COUNT(*) FROM gorp_migrations_journal WHERE state = 'applied'"),
        "30"
    );
}

#[test]
fn killed_connection_mid_migration_is_journaled_and_resumed() {
    let db = TestDb::tagged("kill");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "1_k.sql",
        "-- +migrate Up\nCREATE TABLE k (id int);\nSELECT SLEEP(3);\nINSERT INTO k VALUES (1);\n-- +migrate Down\nDROP TABLE k;\n",
    );
    write(dir.path(), "2_after.sql", &table_migration("after"));
    let child = cli_url(&db.url(), dir.path(), &["up"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Find the migrating connection from a second session, by what it is running.
    let started = Instant::now();
    let id = loop {
        let id = sql(
            None,
            &format!(
                "SELECT id FROM information_schema.processlist WHERE db = '{}' AND info LIKE 'SELECT SLEEP%'",
                db.name
            ),
        );
        if !id.is_empty() {
            break id;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the migration never reached its SLEEP"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    sql(None, &format!("KILL CONNECTION {id}"));
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("1_k.sql (up) failed at statement 2 of 3 (line 3)"),
        "{err}"
    );
    // The statement was inside a transaction, which the lost session rolled back: the
    // run learned that from its second connection and says what is committed.
    assert!(
        err.contains("server disconnected") && err.contains("statements 1..1 of this migration"),
        "{err}"
    );

    // The journal is true: CREATE committed, nothing after it, no history row.
    assert_eq!(
        db.q("SELECT state, statements_applied FROM gorp_migrations_journal WHERE id = '1_k.sql'"),
        "failed\t1"
    );
    assert_eq!(db.q("SELECT COUNT(*) FROM gorp_migrations"), "0");
    assert_eq!(db.q("SELECT COUNT(*) FROM k"), "0");

    // The next run refuses to guess...
    let o = run(&db, dir.path(), &["up"]);
    assert_eq!(o.status.code(), Some(6), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("statements 1..1 of 3 are committed"), "{err}");
    assert!(err.contains("`up --resume`"), "{err}");
    assert_eq!(db.q("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'after'"), "0");
    // ...and --resume continues from statement 2.
    let o = run(&db, dir.path(), &["up", "--resume"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("resumed after statement 1"),
        "{}",
        text(&o)
    );
    assert_eq!(db.q("SELECT COUNT(*) FROM k"), "1");
    assert_eq!(
        db.q("SELECT id FROM gorp_migrations ORDER BY id"),
        "1_k.sql\n2_after.sql"
    );
}

#[test]
fn sql_migrate_interop_both_ways() {
    let db = TestDb::tagged("interop");
    let dir = tempfile::tempdir().unwrap();
    for (i, t) in ["a", "b", "c", "d"].iter().enumerate() {
        write(
            dir.path(),
            &format!("{}_{t}.sql", i + 1),
            &table_migration(t),
        );
    }
    // sql-migrate first, then lambda-migrate carries on.
    assert_eq!(sqlm(&db, dir.path(), &["up", "2"]).trim(), "2");
    let o = run(&db, dir.path(), &["up"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("applied  3_c.sql") && out.contains("applied  4_d.sql"),
        "{out}"
    );
    assert!(
        out.contains("recorded checksums for 2 migration(s)"),
        "{out}"
    );
    // sql-migrate reads our rows (its SELECT * sees only its own columns).
    let status = sqlm(&db, dir.path(), &["status"]);
    let ids: Vec<&str> = status
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(ids, ["1_a.sql", "2_b.sql", "3_c.sql", "4_d.sql"]);
    // sql-migrate reverts what we applied; we see it as pending again.
    assert_eq!(sqlm(&db, dir.path(), &["down", "1"]).trim(), "1");
    let o = run(&db, dir.path(), &["status"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("4_d.sql"),
        "{}",
        text(&o)
    );
    let o = run(&db, dir.path(), &["up"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("applied  4_d.sql"),
        "{}",
        text(&o)
    );
    // We revert; sql-migrate re-applies; we adopt and verify.
    let o = run(&db, dir.path(), &["down", "--limit", "2"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(sqlm(&db, dir.path(), &["up"]).trim(), "2");
    let o = run(&db, dir.path(), &["up", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["migrations"].as_array().unwrap().len(), 0);
    assert_eq!(v["adopted"], serde_json::json!(["3_c.sql", "4_d.sql"]));
    assert_eq!(db.q("SELECT COUNT(*) FROM d"), "1");
}

#[test]
fn exit_codes_json_and_no_password_in_output() {
    let db = TestDb::tagged("exits");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "1_a.sql", &table_migration("a"));

    let o = run(&db, dir.path(), &["up", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let m = &v["migrations"][0];
    assert_eq!(m["id"], "1_a.sql");
    assert_eq!(m["direction"], "up");
    assert_eq!(m["statements"], 2);
    assert_eq!(m["state"], "applied");
    assert_eq!(m["sha256"].as_str().unwrap().len(), 64);
    assert!(m["duration_ms"].is_u64());

    // A failing migration: exit 1, the statement, line and MySQL error named.
    write(
        dir.path(),
        "2_bad.sql",
        "-- +migrate Up\nINSERT INTO a VALUES (2);\nINSERT INTO nope VALUES (1);\n-- +migrate Down\n",
    );
    let o = run(&db, dir.path(), &["up"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("2_bad.sql (up) failed at statement 2 of 2 (line 3): MySQL error 1146"),
        "{err}"
    );
    assert_eq!(db.q("SELECT COUNT(*) FROM a"), "1");
    std::fs::remove_file(dir.path().join("2_bad.sql")).unwrap();

    // A pending file that does not parse (found after the history is read, since
    // applied files are not parsed again): exit 2, file and line named, nothing run.
    write(
        dir.path(),
        "3_broken.sql",
        "-- +migrate Up\nCREATE TABLE broken (id int);\nINSERT INTO broken VALUES (1)\n",
    );
    let o = run(&db, dir.path(), &["up"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("3_broken.sql:3: "), "{err}");
    assert_eq!(
        db.q("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'broken'"),
        "0"
    );
    assert_eq!(db.q("SELECT COUNT(*) FROM gorp_migrations"), "1");
    std::fs::remove_file(dir.path().join("3_broken.sql")).unwrap();

    // An unreachable database: exit 7, and the password never shows.
    let o = cli_url(&db.url(), dir.path(), &["status"])
        .env("DATABASE_URL", "mysql://lm:Sup3r-S3cret@127.0.0.1:1/x")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    assert!(!text(&o).contains("Sup3r-S3cret"), "{}", text(&o));
    assert!(text(&o).contains("lm:***@127.0.0.1:1"), "{}", text(&o));

    // Lock held by another session: exit 3.
    let lock = format!("lambda-migrate:{}.gorp_migrations", db.name);
    let mut holder = server()
        .client(None)
        .arg("-e")
        .arg(format!("SELECT GET_LOCK('{lock}', 0); SELECT SLEEP(20)"))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while sql(None, &format!("SELECT IS_USED_LOCK('{lock}') IS NOT NULL")) != "1" {
        assert!(started.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = run(&db, dir.path(), &["up", "--lock-timeout", "1"]);
    holder.kill().unwrap();
    let _ = holder.wait();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not obtained within 1s"),
        "{}",
        text(&o)
    );
}

#[test]
fn dbconfig_yml_and_sql_migrate_flags() {
    let db = TestDb::tagged("dbconfig");
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir(work.path().join("db")).unwrap();
    write(&work.path().join("db"), "1_a.sql", &table_migration("a"));
    let c = server();
    write(
        work.path(),
        "dbconfig.yml",
        &format!(
            "production:\n  dialect: mysql\n  datasource: {}:${{LM_TEST_PW}}@tcp({}:{})/{}?parseTime=true\n  dir: db\n  table: history\n",
            c.user, c.host, c.port, db.name
        ),
    );
    // The binary in the folder, configured only by dbconfig.yml (the password comes from
    // the environment, as sql-migrate's `${VAR}` does).
    let configured = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("DB_HOST")
            .env("LM_TEST_PW", &c.password)
            .current_dir(work.path())
            .output()
            .unwrap()
    };
    let o = configured(&["up", "-env=production"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(db.q("SELECT id FROM history"), "1_a.sql");
    // `new` names files as sql-migrate does.
    let o = Command::new(BIN)
        .args(["new", "add-users", "--source", "db"])
        .current_dir(work.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let names: Vec<String> = std::fs::read_dir(work.path().join("db"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with("-add-users.sql"))
        .collect();
    assert_eq!(names.len(), 1);
    assert_eq!(names[0].len(), "YYYYMMDDHHMMSS-add-users.sql".len());
    assert!(names[0][..14].bytes().all(|b| b.is_ascii_digit()));
    // Without --source, `new` writes where the config's `dir` says, as sql-migrate's does.
    let o = Command::new(BIN)
        .args(["new", "add-orders", "-env=production"])
        .env("LM_TEST_PW", &c.password)
        .current_dir(work.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let created = std::fs::read_dir(work.path().join("db"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().ends_with("-add-orders.sql")
        })
        .count();
    assert_eq!(created, 1, "{}", text(&o));
    // A zip of the repository holds the migrations under the config's `dir`, which is
    // where `--dir` looks unless given.
    let zip = work.path().join("repo.zip");
    let ok = Command::new("zip")
        .arg("-qr")
        .arg(&zip)
        .arg("db")
        .current_dir(work.path())
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let o = configured(&["plan", "-env=production", "--source", zip.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("add-users.sql"),
        "{}",
        text(&o)
    );
}

/// Issue 19, item 9: a bare `?sql_mode` once set `sql_mode=''` on the session, turning
/// strict mode off without a word.
#[test]
fn a_bare_dsn_parameter_is_refused() {
    let db = TestDb::tagged("baremode");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "1_a.sql", &table_migration("a"));
    let o = cli_url(&db.url(), dir.path(), &["up"])
        .env("DATABASE_URL", format!("{}?sql_mode", db.url()))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("sql_mode has no value"),
        "{}",
        text(&o)
    );
    assert!(db.tables().is_empty(), "nothing may run: {}", text(&o));
}
