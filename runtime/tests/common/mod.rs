//! What the tests that drive the real `lambda-migrate` binary share: running it against
//! a test database, reading its output, writing migration files, and watching the
//! server's sessions. Each test file uses part of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use testkit::{TestDb, sql};

pub const BIN: &str = env!("CARGO_BIN_EXE_lambda-migrate");

pub fn cli(url: &str, dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .arg("--source")
        .arg(dir)
        .env("DATABASE_URL", url)
        .env_remove("DB_HOST")
        .current_dir(dir);
    c
}

pub fn run(db: &TestDb, dir: &Path, args: &[&str]) -> Output {
    cli(&db.url(), dir, args).output().unwrap()
}

pub fn spawn(db: &TestDb, dir: &Path, args: &[&str]) -> Child {
    cli(&db.url(), dir, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn write(dir: &Path, name: &str, body: &str) {
    std::fs::write(dir.join(name), body).unwrap();
}

/// A folder holding the migration files `files` (name, text).
pub fn migrations(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in files {
        write(dir.path(), name, body);
    }
    dir
}

pub fn table_exists(schema: &str, table: &str) -> bool {
    sql(
        None,
        &format!(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '{schema}' AND table_name = '{table}'"
        ),
    ) == "1"
}

/// Waits until a session of `db` runs a statement starting with `prefix`; its id.
pub fn running(db: &TestDb, prefix: &str) -> String {
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
pub fn wait(mut child: Child, limit: Duration) -> Output {
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

pub fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name} failed");
}

/// The output's stdout as JSON; the test fails showing both streams when it is not.
pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Each finding of a `lint --json` report as `migration section#statement rule`, with
/// ` +suppressed` when it is.
pub fn findings(v: &serde_json::Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {}#{} {}{}",
                f["migration"].as_str().unwrap(),
                f["section"].as_str().unwrap(),
                f["statement"],
                f["rule"].as_str().unwrap(),
                if f["suppressed"] == true {
                    " +suppressed"
                } else {
                    ""
                }
            )
        })
        .collect()
}
