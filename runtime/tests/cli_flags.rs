//! The command line as a sql-migrate user meets it, on the real binary and the real
//! server of `LM_TEST_DATABASE_URL`: every flag each command's help lists is taken by
//! that command; `-version N` goes as far as sql-migrate's does; `-version` before the
//! command prints ours.
#![cfg(feature = "mysql")]

use std::path::PathBuf;
use std::process::{Command, Output};

mod common;

use common::{BIN, text};
use testkit::{TestDb, repo};

/// The repository's example migrations, versions 20240101120000 … 20240105120000.
fn examples() -> PathBuf {
    repo().join("migrations")
}

fn lm(db: &TestDb, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", db.url())
        .env_remove("DB_HOST")
        .env_remove("LAMBDA_MIGRATE_VIA_LAMBDA")
        // `--via-lambda` meets a closed port at once, and gives up there.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap()
}

/// Every command as the words that name it: the root help's "Commands:", and for a
/// command with commands of its own (`fleet`), each of those (`fleet up`).
fn commands() -> Vec<Vec<String>> {
    let mut all = Vec::new();
    for c in subcommands(&[]) {
        let subs = subcommands(&[c.as_str()]);
        if subs.is_empty() {
            all.push(vec![c]);
        } else {
            all.extend(subs.into_iter().map(|s| vec![c.clone(), s]));
        }
    }
    all
}

/// The names under the "Commands:" of `path`'s help.
fn subcommands(path: &[&str]) -> Vec<String> {
    let out = Command::new(BIN).args(path).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

/// Each `--flag` a command's help lists, with the name of its value if it takes one.
fn listed_flags(command: &[String]) -> Vec<(String, Option<String>)> {
    let out = Command::new(BIN)
        .args(command)
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    help.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l
                .strip_prefix('-')
                .filter(|r| r.chars().nth(1) == Some(','))
                .map_or(l, |r| r[2..].trim_start());
            let rest = l.strip_prefix("--")?;
            let mut words = rest.split_whitespace();
            let flag = words.next()?.to_owned();
            let value = words
                .next()
                .filter(|w| w.starts_with('<'))
                .map(|w| w.trim_matches(['<', '>']).to_owned());
            Some((format!("--{flag}"), value))
        })
        .filter(|(f, _)| f != "--help")
        .collect()
}

/// What a refused flag sounds like, from clap or from our own checks.
const REFUSALS: &[&str] = &[
    "unexpected argument",
    "does not take",
    "does not use",
    "only with",
    "cannot be used with",
    "required arguments were not provided",
    "no --via-lambda support",
];

/// Every command, every flag its help lists: run with it (and the flags it needs beside
/// it), it is never refused as a flag the command does not take. What the command then
/// does with the database is its own business here (other suites check that).
#[test]
fn every_flag_every_help_lists_is_taken() {
    let work = tempfile::tempdir().unwrap();
    let db = TestDb::tagged("flags");
    let config = work.path().join("dbconfig.yml");
    let dsn = db.dsn();
    std::fs::write(
        &config,
        format!("development:\n  dialect: mysql\n  datasource: {dsn}\n  dir: migrations\n"),
    )
    .unwrap();
    let ca = work.path().join("ca.pem");
    std::fs::write(&ca, "not a certificate\n").unwrap();
    let examples = examples();
    let examples = examples.to_str().unwrap();
    let url = db.url();
    let page = work.path().join("review.html");
    let page = page.to_str().unwrap();
    let config = config.to_str().unwrap();
    let ca = ca.to_str().unwrap();
    // `fleet`'s targets: the test's own schema.
    let manifest = work.path().join("targets.jsonl");
    std::fs::write(
        &manifest,
        format!("{{\"name\":\"t\",\"database\":\"{}\"}}\n", db.name),
    )
    .unwrap();
    let manifest = manifest.to_str().unwrap();
    let results = work.path().join("results.jsonl");
    let results = results.to_str().unwrap();
    let value = |flag: &str, name: &str| -> String {
        match (flag, name) {
            ("--version", "N") => "20240101120000".into(),
            ("--statement-committed" | "--statement-not-committed", "N") => "1".into(),
            (_, "N") => "1".into(),
            (_, "DURATION") => "5s".into(),
            (_, "SIZE") => "4MiB".into(),
            (_, "URL") => url.clone(),
            ("--config", "FILE") => config.into(),
            ("--tls-ca", "FILE") => ca.into(),
            ("--html", "FILE") => page.into(),
            ("--manifest", "FILE") => manifest.into(),
            ("--results", "FILE") => results.into(),
            (_, "PERCENT") => "5".into(),
            ("--env", "NAME") => "development".into(),
            ("--table", "NAME") => "gorp_migrations".into(),
            ("--schema", "NAME") => db.name.clone(),
            ("--target", "NAME") => "t".into(),
            ("--dir", "NAME") => "migrations".into(),
            (_, "ZIP|DIR|S3") => examples.into(),
            (_, "FUNCTION") => "lm-no-such-function".into(),
            (_, "SEVERITY") => "never".into(),
            (_, "FORMAT") => "sql-migrate".into(),
            // Refused before any AWS call: --source is a local folder here.
            (_, "ARN") => "arn:aws:states:us-east-1:123456789012:stateMachine:lm-none".into(),
            (_, "EXECUTION") => "arn:aws:states:us-east-1:123456789012:execution:lm-none:x".into(),
            (_, "WHICH") => "failed".into(),
            (f, n) => panic!("{f} <{n}>: no sample value; add one"),
        }
    };
    let mut tried = 0;
    let mut fleet_flags = 0;
    for path in commands() {
        if path == ["new"] {
            continue; // Writes a file; its flags are checked by its own tests.
        }
        let command = path.join(" ");
        let fleet = path[0] == "fleet";
        for (flag, name) in listed_flags(&path) {
            let outcome = ["--applied", "--rolled-back"].contains(&flag.as_str())
                || flag.starts_with("--statement-");
            let mut args: Vec<String> = path.clone();
            if fleet && flag != "--manifest" {
                args.extend(["--manifest".into(), manifest.into()]);
                fleet_flags += 1;
            }
            if command == "resolve" {
                args.push("20240101120000-create-users.sql".into());
                if !outcome {
                    args.push("--applied".into());
                }
            }
            if flag != "--source" {
                args.extend(["--source".into(), examples.into()]);
            }
            let needs: &[&str] = match (command.as_str(), flag.as_str()) {
                ("up" | "down" | "redo", "--sql") => &["--dry-run"],
                (
                    "plan",
                    "--html"
                    | "--lock-timeout"
                    | "--review-copy-rate"
                    | "--review-long-transaction",
                ) => &["--review"],
                (
                    "lint",
                    "--config" | "--database" | "--table" | "--schema" | "--tls" | "--tls-ca"
                    | "--connect-timeout" | "--read-timeout" | "--via-lambda",
                ) => &["--pending"],
                ("lint", "--env") => &["--pending", "--config", config],
                ("lint", "--target") => &["--pending", "--manifest", manifest],
                ("lint", "--manifest") => &["--pending", "--target", "t"],
                (c, "--target") if !c.starts_with("fleet") => &["--manifest", manifest],
                (c, "--manifest") if !c.starts_with("fleet") => &["--target", "t"],
                ("fleet up", "--only") => &[
                    "--from",
                    "arn:aws:states:us-east-1:123456789012:execution:lm-none:x",
                ],
                (_, "--env") => &["--config", config],
                _ => &[],
            };
            args.extend(needs.iter().map(|s| s.to_string()));
            args.push(flag.clone());
            if let Some(name) = &name {
                args.push(value(&flag, name));
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = lm(&db, &args);
            let err = String::from_utf8_lossy(&out.stderr);
            for refusal in REFUSALS {
                assert!(
                    !err.contains(refusal),
                    "`{}` lists {flag} but refuses it: {}",
                    args.join(" "),
                    text(&out)
                );
            }
            assert_ne!(out.status.code(), Some(8), "internal error: {}", text(&out));
            tried += 1;
        }
    }
    assert!(tried > 100, "only {tried} flags tried");
    // fleet up, plan and status: 8, 7 and 7 flags beside --manifest.
    assert!(fleet_flags >= 22, "only {fleet_flags} fleet flags tried");
}

/// sql-migrate's `-version N` (today's source, `planMigrationCommon` in migrate.go; the
/// Debian build the other suites run predates the flag): `up` applies the pending
/// migrations after the newest applied one up to and including the one numbered N,
/// `down` reverts from the newest down to and including it, and a version that is not
/// among them is an error. Ours names the nearest ids.
#[test]
fn up_and_down_go_exactly_to_a_version() {
    let db = TestDb::tagged("version");
    let dir = examples();
    let source = dir.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["--source", source]);
        lm(&db, &a)
    };
    let out = run(&["up", "-version", "20240103100000"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        db.applied(),
        [
            "20240101120000-create-users.sql",
            "20240102090000-create-orders.sql",
            "20240103100000-unique-user-email.sql"
        ]
    );
    // Already applied: not among the pending ones, so an error naming the nearest.
    let out = run(&["up", "--version", "20240102090000"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no migration with version 20240102090000 is pending")
            && err.contains("nearest: 20240104110000-plans.sql"),
        "{err}"
    );
    // `plan` shows the same cut.
    let out = run(&["plan", "--version", "20240104110000", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let plan = common::json(&out);
    let pending: Vec<&str> = plan["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(pending, ["20240104110000-plans.sql"]);
    // `down -version=N` reverts down to and including N (not just one, as plain `down`).
    let out = run(&["down", "-version=20240102090000"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(db.applied(), ["20240101120000-create-users.sql"]);
    // Between two applied versions: both neighbours named; nothing reverted.
    run(&["up"]);
    let out = run(&["down", "--version", "20240102000000"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nearest: 20240101120000-create-users.sql, 20240102090000-create-orders.sql"),
        "{err}"
    );
    assert_eq!(db.applied().len(), 5);
    // A limit beside a version is refused rather than ignored (sql-migrate ignores it).
    let out = run(&["up", "-version", "1", "-limit", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

/// `-version`, `--version` or `-v` before any command prints ours and exits 0, as
/// today's sql-migrate does.
#[test]
fn version_before_the_command_prints_ours() {
    for flag in ["-version", "--version", "-v"] {
        let out = Command::new(BIN).arg(flag).output().unwrap();
        assert!(out.status.success(), "{flag}: {}", text(&out));
        let said = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            said.trim(),
            format!("lambda-migrate {}", env!("CARGO_PKG_VERSION")),
            "{flag}"
        );
    }
}
