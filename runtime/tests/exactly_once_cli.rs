//! Issue 19, "exactly once, never silent", through the real `lambda-migrate` binary
//! against the real MariaDB: the paths of items 7, 10 and 11 that ran on the wrong
//! database, or passed doing nothing, and now refuse or say so. Moved here from
//! `tests/issue19/exactly_once.rs` as each was closed.
//!
//! - 7: an explicit `-config`/`-env` beats an exported `DATABASE_URL`, says it did, and
//!   every writing command names its target on stderr first (`target: user@host:port/db
//!   (from …)`);
//! - 10: a source with no migration in its folder is refused (exit 2), naming where its
//!   `.sql` files are, unless `--allow-empty`;
//! - 11: reverting a migration whose Down section is missing or empty is refused (exit
//!   2) unless `--allow-empty-down`, and a dry run warns.
#![cfg(feature = "mysql")]

use std::path::Path;
use std::process::{Command, Output};

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
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "1_a.sql",
        "-- +migrate Up\nCREATE TABLE a (id int);\n",
    );
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
