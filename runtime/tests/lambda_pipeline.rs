//! End-to-end: CodePipeline job → trigger → migrator → the test server (MariaDB or
//! MySQL, as `LM_TEST_DATABASE_URL` says), every piece real except the AWS control
//! planes, which `scripts/fake-aws` provides with their real protocols.
//! The artifact lives on a local S3 server (moto), zipped by Info-ZIP.
#![cfg(feature = "lambda")]

use std::time::Duration;

use serde_json::{Value, json};
use testkit::{FakeAws, TestDb, http, s3_endpoint, s3_put, unique, zip_artifact};

const ARTIFACT_SECRET: &str = "artifact-secret-5e1f0a";
const ARTIFACT_TOKEN: &str = "artifact-session-token-77c2";
const WAIT: Duration = Duration::from_secs(120);

struct Pipeline {
    fake: FakeAws,
    db: TestDb,
    s3: String,
    bucket: String,
    logs: tempfile::TempDir,
}

struct Options {
    migrator_timeout: u64,
    trigger_timeout: u64,
    migrator_env: Value,
    trigger_env: Value,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            migrator_timeout: 60,
            trigger_timeout: 120,
            migrator_env: json!({}),
            trigger_env: json!({}),
        }
    }
}

fn merge(base: &mut Value, extra: &Value) {
    if let (Value::Object(b), Value::Object(e)) = (base, extra) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
}

impl Pipeline {
    fn new(opts: Options) -> Pipeline {
        let s3 = s3_endpoint();
        let fake = FakeAws::start();
        let db = TestDb::new();
        let logs = tempfile::tempdir().unwrap();
        let aws = json!({
            "AWS_ACCESS_KEY_ID": "AKIAFUNCTIONROLE",
            "AWS_SECRET_ACCESS_KEY": "function-role-secret",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": s3,
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
        });
        let mut menv = aws.clone();
        merge(
            &mut menv,
            &json!({"DATABASE_URL": db.url(), "LOCK_TIMEOUT_SECS": "5"}),
        );
        merge(&mut menv, &opts.migrator_env);
        fake.function(json!({
            "name": "migrator",
            "command": [env!("CARGO_BIN_EXE_migrator")],
            "timeout": opts.migrator_timeout,
            "env": menv,
            "log": logs.path().join("migrator.log"),
        }));
        let mut tenv = aws;
        merge(
            &mut tenv,
            &json!({
                "FunctionName": "migrator",
                "MIGRATOR_TIMEOUT_SECS": opts.migrator_timeout.to_string(),
                "AWS_ENDPOINT_URL_LAMBDA": fake.url(),
                "AWS_ENDPOINT_URL_CODEPIPELINE": fake.url(),
                "TRIGGER_MARGIN_MS": "1000",
                "TRIGGER_POLL_MS": "300",
            }),
        );
        merge(&mut tenv, &opts.trigger_env);
        fake.function(json!({
            "name": "trigger",
            "command": [env!("CARGO_BIN_EXE_trigger")],
            "timeout": opts.trigger_timeout,
            "env": tenv,
            "retry_delay": 0.2,
            "log": logs.path().join("trigger.log"),
        }));
        Pipeline {
            fake,
            db,
            s3,
            bucket: unique("lm-artifacts").replace('_', "-"),
            logs,
        }
    }

    /// Uploads a zip of `files` and returns its key.
    fn upload(&self, files: &[(&str, &str)]) -> String {
        self.upload_bytes(&zip_artifact(files))
    }

    fn upload_bytes(&self, bytes: &[u8]) -> String {
        let key = format!("pipeline/SourceArti/{}.zip", unique("src"));
        s3_put(&self.s3, &self.bucket, &key, bytes);
        key
    }

    /// Runs a pipeline job on `key` and returns the job chain.
    fn run(&self, key: &str) -> Vec<Value> {
        let id = self.fake.start_job(
            "trigger",
            &self.bucket,
            key,
            json!({"credentials": {
                "accessKeyId": "AKIAARTIFACT",
                "secretAccessKey": ARTIFACT_SECRET,
                "sessionToken": ARTIFACT_TOKEN,
            }}),
        );
        self.fake.wait_job(&id, WAIT)
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.logs.path().join(format!("{name}.log"))).unwrap_or_default()
    }

    /// The function's metric lines (Embedded Metric Format), in order.
    fn metrics(&self, name: &str) -> Vec<Value> {
        self.log(name)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v.get("_aws").is_some())
            .collect()
    }

    /// The function printed exactly one metric line, and it holds `values`.
    fn assert_one_metric_line(&self, name: &str, values: &Value) {
        let lines = self.metrics(name);
        assert_eq!(lines.len(), 1, "{name}: {lines:#?}");
        let line = &lines[0];
        assert_eq!(line["FunctionName"], name, "{line}");
        let defined = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(defined["Namespace"], "LambdaMigrate", "{line}");
        for (k, v) in values.as_object().unwrap() {
            assert_eq!(&line[k], v, "{k} in {line}");
            assert!(
                defined["Metrics"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m["Name"] == k.as_str()),
                "{k} not defined in {line}"
            );
        }
    }

    fn migrator_invokes(&self) -> Vec<Value> {
        self.fake
            .calls_of("Invoke")
            .into_iter()
            .filter(|c| c["function"] == "migrator")
            .collect()
    }

    /// No secret reached a log line.
    fn assert_logs_clean(&self) {
        for name in ["migrator", "trigger"] {
            let log = self.log(name);
            for secret in [
                ARTIFACT_SECRET,
                ARTIFACT_TOKEN,
                "function-role-secret",
                "lm:lm@",
            ] {
                assert!(!log.contains(secret), "{secret} in the {name} log:\n{log}");
            }
            // AWS_LAMBDA_LOG_FORMAT=JSON: every line is a JSON object.
            for line in log.lines().filter(|l| !l.trim().is_empty()) {
                assert!(
                    serde_json::from_str::<Value>(line).is_ok_and(|v| v.is_object()),
                    "not a JSON log line in {name}: {line}"
                );
            }
        }
    }
}

fn result(job: &Value) -> &Value {
    &job["result"]
}

fn failure_message(job: &Value) -> String {
    result(job)["failureDetails"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

const CREATE_USERS: &str = "-- +migrate Up\nCREATE TABLE users (id int primary key, email varchar(100));\n\n-- +migrate Down\nDROP TABLE users;\n";
// The Down names its rows: a DELETE without WHERE is a lint error, which fails the job.
const SEED_USERS: &str = "-- +migrate Up\nINSERT INTO users VALUES (1, 'a@example.com');\nINSERT INTO users VALUES (2, 'b@example.com');\n\n-- +migrate Down\nDELETE FROM users WHERE id IN (1, 2);\n";

#[test]
fn a_job_applies_the_migrations_and_reports_them() {
    let p = Pipeline::new(Options::default());
    let key = p.upload(&[
        ("migrations/1_create_users.sql", CREATE_USERS),
        ("migrations/2_seed_users.sql", SEED_USERS),
        ("README.md", "not a migration"),
        ("src/main.go", "package main"),
    ]);
    let chain = p.run(&key);
    let job = chain.last().unwrap();
    assert_eq!(job["status"], "Succeeded", "{job:#}");
    let summary = result(job)["executionDetails"]["summary"].as_str().unwrap();
    assert!(
        summary.contains("Applied 2 migration(s)")
            && summary.contains("1_create_users.sql, 2_seed_users.sql"),
        "{summary}"
    );
    let vars = &result(job)["outputVariables"];
    assert_eq!(vars["AppliedCount"], "2");
    assert_eq!(vars["LastAppliedId"], "2_seed_users.sql");
    // Linted before the migrator ran: a clean set, its report beside the artifact.
    assert_eq!(vars["LintErrors"], "0");
    assert_eq!(vars["LintReportKey"], format!("{key}.lint.json"));
    assert!(summary.contains("Lint: 0 error(s)"), "{summary}");
    assert_eq!(p.db.applied(), ["1_create_users.sql", "2_seed_users.sql"]);
    assert_eq!(
        testkit::sql(Some(&p.db.name), "SELECT COUNT(*) FROM users").trim(),
        "2"
    );

    // One synchronous Invoke, carrying the digest the trigger validated and the
    // artifact credentials; the migrator's report came back in it.
    let invokes = p.migrator_invokes();
    assert_eq!(invokes.len(), 1, "{invokes:#?}");
    let inv = &invokes[0];
    assert_eq!(inv["invocation_type"], "RequestResponse");
    assert_eq!(inv["payload"]["BucketName"], p.bucket.as_str());
    assert_eq!(inv["payload"]["ObjectKey"], key.as_str());
    // Named, never left to the seed's default: the migrator requires it.
    assert_eq!(inv["payload"]["command"], "up");
    let digest = inv["payload"]["expected_digest"].as_str().unwrap();
    assert_eq!(vars["Digest"], digest);
    assert_eq!(inv["response"]["digest"], digest);
    assert_eq!(inv["response"]["applied"][0]["id"], "1_create_users.sql");
    assert_eq!(inv["response"]["applied"][1]["statements"], 2);
    assert!(inv["response"]["fetch"]["requests"].as_u64().unwrap() >= 1);
    p.assert_one_metric_line("trigger", &json!({"JobsSucceeded": 1, "JobFailures": 0}));
    p.assert_one_metric_line(
        "migrator",
        &json!({"MigrationsApplied": 2, "RunFailures": 0}),
    );
    assert!(p.metrics("migrator")[0]["BytesFetched"].as_u64().unwrap() > 0);
    p.assert_logs_clean();
}

#[test]
fn a_sql_error_fails_the_job_naming_migration_and_statement() {
    let p = Pipeline::new(Options::default());
    let key = p.upload(&[
        ("migrations/1_create_users.sql", CREATE_USERS),
        (
            "migrations/2_broken.sql",
            "-- +migrate Up\nINSERT INTO users VALUES (1, 'a');\nINSERT INTO no_such_table VALUES (1);\n",
        ),
    ]);
    let chain = p.run(&key);
    let job = chain.last().unwrap();
    assert_eq!(job["status"], "Failed", "{job:#}");
    assert_eq!(result(job)["failureDetails"]["type"], "JobFailed");
    let msg = failure_message(job);
    for part in [
        "SqlError",
        "2_broken.sql",
        "statement 2 of 2",
        "line 3",
        "1146",
    ] {
        assert!(msg.contains(part), "{part:?} missing from: {msg}");
    }
    // The first migration stays; the failed one is rolled back.
    assert_eq!(p.db.applied(), ["1_create_users.sql"]);
    assert_eq!(
        testkit::sql(Some(&p.db.name), "SELECT COUNT(*) FROM users").trim(),
        "0"
    );
    p.assert_one_metric_line("trigger", &json!({"JobsSucceeded": 0, "JobFailures": 1}));
    // The first migration is committed: it counts as applied in the failed run.
    p.assert_one_metric_line(
        "migrator",
        &json!({"MigrationsApplied": 1, "RunFailures": 1}),
    );
    p.assert_logs_clean();
}

#[test]
fn a_bad_artifact_fails_the_job_before_the_database_is_touched() {
    let p = Pipeline::new(Options::default());
    // A migration without its Up directive: sql-migrate refuses it.
    let key = p.upload(&[
        ("migrations/1_create_users.sql", CREATE_USERS),
        (
            "migrations/2_no_directive.sql",
            "CREATE TABLE x (id int);\n",
        ),
    ]);
    let job = p.run(&key).pop().unwrap();
    assert_eq!(job["status"], "Failed", "{job:#}");
    let msg = failure_message(&job);
    assert!(msg.contains("2_no_directive.sql"), "{msg}");
    assert!(p.migrator_invokes().is_empty(), "the migrator must not run");
    assert!(p.db.tables().is_empty(), "{:?}", p.db.tables());

    // Not a zip at all.
    let key = p.upload_bytes(b"this is not a zip file, just some bytes long enough to look at");
    let job = p.run(&key).pop().unwrap();
    assert_eq!(job["status"], "Failed", "{job:#}");
    assert!(
        failure_message(&job).contains("artifact"),
        "{}",
        failure_message(&job)
    );

    // A missing object.
    let job = p.run("pipeline/SourceArti/missing.zip").pop().unwrap();
    assert_eq!(job["status"], "Failed", "{job:#}");
    assert!(
        failure_message(&job).contains("missing.zip"),
        "{}",
        failure_message(&job)
    );
    assert!(p.migrator_invokes().is_empty());
}

#[test]
fn a_migrator_function_error_fails_the_job_with_its_type() {
    // The migrator cannot reach its database: a function error (HTTP 200 +
    // X-Amz-Function-Error), which the seed's trigger would have taken for success.
    let p = Pipeline::new(Options {
        migrator_env: json!({"DATABASE_URL": "mysql://lm:do-not-log-me@127.0.0.1:1/nowhere"}),
        ..Options::default()
    });
    let key = p.upload(&[("migrations/1_create_users.sql", CREATE_USERS)]);
    let job = p.run(&key).pop().unwrap();
    assert_eq!(job["status"], "Failed", "{job:#}");
    let msg = failure_message(&job);
    assert!(
        msg.contains("ConnectionError") && msg.contains("127.0.0.1:1"),
        "{msg}"
    );
    assert!(
        !msg.contains("do-not-log-me"),
        "password in the message: {msg}"
    );
    assert!(!p.log("migrator").contains("do-not-log-me"));
    let invokes = p.migrator_invokes();
    assert_eq!(invokes[0]["function_error"], "Unhandled");

    // The trigger's FunctionName names no function: a configuration error.
    let p = Pipeline::new(Options {
        trigger_env: json!({"FunctionName": "no-such-migrator"}),
        ..Options::default()
    });
    let key = p.upload(&[("migrations/1_create_users.sql", CREATE_USERS)]);
    let job = p.run(&key).pop().unwrap();
    assert_eq!(job["status"], "Failed", "{job:#}");
    assert_eq!(result(&job)["failureDetails"]["type"], "ConfigurationError");
    assert!(failure_message(&job).contains("no-such-migrator"));
}

#[test]
fn a_statement_outliving_the_migrator_is_killed_by_it_and_reported() {
    // An 8 s function: the migrator kills a statement still running 1.33 s before its
    // deadline (a sixth of its time), rolls back, journals, and answers in time.
    let p = Pipeline::new(Options {
        migrator_timeout: 8,
        ..Options::default()
    });
    let key = p.upload(&[
        ("migrations/1_create_users.sql", CREATE_USERS),
        (
            "migrations/2_slow.sql",
            "-- +migrate Up\nCREATE TABLE slow (id int);\nINSERT INTO slow SELECT 1 FROM (SELECT SLEEP(30) AS s) AS x;\n",
        ),
    ]);
    let job = p.run(&key).pop().unwrap();
    assert_eq!(job["status"], "Failed", "{job:#}");
    let msg = failure_message(&job);
    for part in [
        "migration 2_slow.sql (up) failed at statement 2 of 2 (line 3)",
        "KILL QUERY",
        "statements 1..1 of this migration",
        "raise the function's timeout",
        "--via-lambda migrator up --resume",
    ] {
        assert!(msg.contains(part), "{part:?} not in {msg}");
    }
    // The migrator answered with its own error, not Lambda's timeout.
    let invokes = p.migrator_invokes();
    assert_eq!(
        invokes.last().unwrap()["function_error"],
        "Unhandled",
        "{invokes:#?}"
    );
    assert_eq!(invokes.last().unwrap()["response"]["errorType"], "SqlError");
    assert_eq!(p.db.applied(), ["1_create_users.sql"]);
    assert_eq!(
        p.db.q(
            "SELECT state, statements_applied FROM gorp_migrations_journal WHERE id = '2_slow.sql'"
        )
        .trim(),
        "failed\t1"
    );
    assert_eq!(p.db.q("SELECT COUNT(*) FROM slow").trim(), "0");
    let left = p.db.q(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE '%SLEEP(30)%' \
         AND INFO NOT LIKE '%PROCESSLIST%'",
    );
    assert_eq!(
        left.trim(),
        "0",
        "a statement of ours is still on the server"
    );
}

/// Eight migrations of a second each: more than one 8 s migrator run may start.
fn eight_slow_migrations() -> Vec<(String, String)> {
    (1..=8)
        .map(|n| {
            (
                format!("migrations/{n}_slow.sql"),
                format!("-- +migrate Up\nCREATE TABLE s{n} (id int);\nDO SLEEP(1);\n"),
            )
        })
        .collect()
}

/// A pipeline whose migrator has 8 s and kills only 0.5 s before its deadline, so the
/// last migration it starts (2.67 s before) always finishes.
fn deadline_pipeline(trigger_env: Value) -> (Pipeline, String) {
    let p = Pipeline::new(Options {
        migrator_timeout: 8,
        migrator_env: json!({"KILL_MARGIN_SECS": "0.5"}),
        trigger_env,
        ..Options::default()
    });
    let files = eight_slow_migrations();
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let key = p.upload(&files);
    (p, key)
}

fn all_eight() -> Vec<String> {
    (1..=8).map(|n| format!("{n}_slow.sql")).collect()
}

#[test]
fn a_migrator_that_stops_at_its_deadline_is_run_again_until_the_list_is_done() {
    let (p, key) = deadline_pipeline(json!({}));
    let chain = p.run(&key);
    assert_eq!(chain.len(), 1, "{chain:#?}");
    let job = &chain[0];
    assert_eq!(job["status"], "Succeeded", "{job:#}");
    assert_eq!(p.db.applied(), all_eight());
    let invokes = p.migrator_invokes();
    assert!(invokes.len() >= 2, "{invokes:#?}");
    // Every run but the last stopped cleanly: an answer listing what it had not started.
    let (last, stopped) = invokes.split_last().unwrap();
    for c in stopped {
        assert_eq!(c["function_error"], Value::Null, "{c:#}");
        assert!(
            !c["response"]["pending"].as_array().unwrap().is_empty(),
            "{c:#}"
        );
        assert!(
            !c["response"]["applied"].as_array().unwrap().is_empty(),
            "{c:#}"
        );
    }
    assert_eq!(last["response"]["pending"], json!([]));
    let summary = result(job)["executionDetails"]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with(&format!(
            "Applied 8 migration(s) over {} migrator runs",
            invokes.len()
        )),
        "{summary}"
    );
    assert_eq!(result(job)["outputVariables"]["AppliedCount"], "8");
    assert_eq!(
        result(job)["outputVariables"]["LastAppliedId"],
        "8_slow.sql"
    );
    assert!(p.log("migrator").contains("stopped before the deadline"));
    let stops: Vec<Value> = p
        .metrics("migrator")
        .into_iter()
        .map(|m| m["StoppedAtDeadline"].clone())
        .collect();
    assert_eq!(stops.len(), invokes.len(), "{stops:?}");
    assert_eq!(stops.last(), Some(&json!(0)), "{stops:?}");
    assert!(stops[..stops.len() - 1].iter().all(|s| s == 1), "{stops:?}");
}

#[test]
fn a_trigger_out_of_time_carries_on_with_up_in_a_continuation() {
    // A poll interval longer than the trigger has left: each stop becomes a follow-up.
    let (p, key) = deadline_pipeline(json!({"TRIGGER_POLL_MS": "1000000"}));
    let chain = p.run(&key);
    assert!(chain.len() >= 2, "{chain:#?}");
    let first = &chain[0];
    assert_eq!(first["status"], "Continued", "{first:#}");
    let token: Value =
        serde_json::from_str(result(first)["continuationToken"].as_str().unwrap()).unwrap();
    assert_eq!(token["next"], "up");
    assert!(token["applied"].as_u64().unwrap() > 0, "{token}");
    let last = chain.last().unwrap();
    assert_eq!(last["status"], "Succeeded", "{chain:#?}");
    assert_eq!(p.db.applied(), all_eight());
    // The follow-ups ran `up` straight away: no status polling was needed.
    for c in p.migrator_invokes() {
        assert_eq!(
            c["payload"]["command"]
                .as_str()
                .expect("the event names its command"),
            "up",
            "{c:#}"
        );
    }
}

#[test]
fn a_retried_trigger_invocation_applies_nothing_twice() {
    let p = Pipeline::new(Options::default());
    let key = p.upload(&[
        ("migrations/1_create_users.sql", CREATE_USERS),
        ("migrations/2_seed_users.sql", SEED_USERS),
    ]);
    let job = p.run(&key).pop().unwrap();
    assert_eq!(job["status"], "Succeeded", "{job:#}");

    // Lambda delivers the same job event again (at-least-once delivery). The attempt is
    // recorded when the trigger's invocation returns, a moment after it reported the job.
    let started = std::time::Instant::now();
    let event = loop {
        let attempt = p
            .fake
            .calls_of("InvokeAsyncAttempt")
            .into_iter()
            .find(|c| c["function"] == "trigger");
        match attempt {
            Some(c) => break c["payload"].clone(),
            None if started.elapsed() < WAIT => std::thread::sleep(Duration::from_millis(50)),
            None => panic!("the trigger's invocation was never recorded"),
        }
    };
    let (status, headers, body) = http(
        &p.fake.addr,
        "POST",
        "/2015-03-31/functions/trigger/invocations",
        &[("X-Amz-Invocation-Type", "RequestResponse")],
        event.to_string().as_bytes(),
    );
    assert_eq!(status, 200);
    assert!(
        !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("X-Amz-Function-Error")),
        "the trigger must never fail: {}",
        String::from_utf8_lossy(&body)
    );

    // The second run found nothing to apply; its result was refused by CodePipeline
    // because the job already had one, and the trigger took that calmly.
    let invokes = p.migrator_invokes();
    assert_eq!(invokes.len(), 2);
    assert_eq!(invokes[1]["response"]["applied"], json!([]));
    let puts = p.fake.calls_of("PutJobSuccessResult");
    assert_eq!(puts.len(), 2);
    assert_eq!(puts[1]["error"], "InvalidJobStateException");
    assert_eq!(p.db.applied(), ["1_create_users.sql", "2_seed_users.sql"]);
    assert_eq!(
        testkit::sql(Some(&p.db.name), "SELECT COUNT(*) FROM users").trim(),
        "2"
    );
    // Never an asynchronous retry: every trigger attempt succeeded.
    for c in p.fake.calls_of("InvokeAsyncAttempt") {
        assert_eq!(c["function_error"], Value::Null, "{c:#}");
    }
}

#[test]
fn a_migration_longer_than_the_trigger_is_followed_up_with_a_continuation_token() {
    let p = Pipeline::new(Options {
        trigger_timeout: 4,
        ..Options::default()
    });
    let key = p.upload(&[
        ("migrations/1_create_users.sql", CREATE_USERS),
        (
            "migrations/2_slow.sql",
            "-- +migrate Up\nSELECT SLEEP(6);\n",
        ),
        ("migrations/3_seed_users.sql", SEED_USERS),
    ]);
    let chain = p.run(&key);
    assert!(chain.len() >= 2, "expected a follow-up: {chain:#?}");
    let first = &chain[0];
    assert_eq!(first["status"], "Continued");
    let token: Value =
        serde_json::from_str(result(first)["continuationToken"].as_str().unwrap()).unwrap();
    assert_eq!(token["total"], 3);
    let last = chain.last().unwrap();
    assert_eq!(last["status"], "Succeeded", "{chain:#?}");
    let summary = result(last)["executionDetails"]["summary"]
        .as_str()
        .unwrap();
    assert!(summary.contains("All 3 migration(s) applied"), "{summary}");
    assert_eq!(
        result(last)["outputVariables"]["LastAppliedId"],
        "3_seed_users.sql"
    );
    assert_eq!(
        p.db.applied(),
        ["1_create_users.sql", "2_slow.sql", "3_seed_users.sql"]
    );
    // The follow-ups only asked for status: `up` ran once (calls are recorded as they
    // finish, so the long `up` comes after some status checks).
    let commands: Vec<String> = p
        .migrator_invokes()
        .iter()
        .map(|c| {
            c["payload"]["command"]
                .as_str()
                .expect("the event names its command")
                .to_owned()
        })
        .collect();
    assert_eq!(
        commands.iter().filter(|c| *c == "up").count(),
        1,
        "{commands:?}"
    );
    assert!(
        commands.iter().all(|c| c == "up" || c == "status"),
        "{commands:?}"
    );
    assert!(commands.len() >= 2, "{commands:?}");
}

// ---- Operating without a bastion: every command through the migrator ----------------

const CLI: &str = env!("CARGO_BIN_EXE_lambda-migrate");
const BROKEN_SEED: &str = "-- +migrate Up\nCREATE TABLE audit (id int primary key);\nINSERT INTO no_such_table VALUES (1);\n\n-- +migrate Down\nDROP TABLE audit;\n";
const FIXED_SEED: &str = "-- +migrate Up\nCREATE TABLE audit (id int primary key);\nINSERT INTO audit VALUES (1);\n\n-- +migrate Down\nDROP TABLE audit;\n";

impl Pipeline {
    /// Runs the CLI with `args`, `--via-lambda migrator` when `remote`, else against the
    /// test database directly.
    fn cli(&self, remote: bool, args: &[&str]) -> std::process::Output {
        self.cli_command(remote, args).output().unwrap()
    }

    /// [`Pipeline::cli`]'s command, to spawn.
    fn cli_command(&self, remote: bool, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(CLI);
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_ACCESS_KEY_ID", "AKIAOPERATOR")
            .env("AWS_SECRET_ACCESS_KEY", "operator-secret")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL_LAMBDA", self.fake.url())
            .env("AWS_ENDPOINT_URL_S3", &self.s3);
        if remote {
            c.env("LAMBDA_MIGRATE_VIA_LAMBDA", "migrator");
        } else {
            c.env("DATABASE_URL", self.db.url());
        }
        c.args(args);
        c
    }

    fn s3_url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

fn out(o: &std::process::Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn migrations_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in files {
        std::fs::write(dir.path().join(name), body).unwrap();
    }
    dir
}

#[test]
fn a_partial_migration_is_fixed_from_a_laptop_through_the_migrator() {
    let p = Pipeline::new(Options::default());
    let broken = p.upload(&[
        ("migrations/1_create_users.sql", CREATE_USERS),
        ("migrations/2_audit.sql", BROKEN_SEED),
    ]);
    let job = p.run(&broken).pop().unwrap();
    assert_eq!(job["status"], "Failed", "{job:#}");
    let message = failure_message(&job);
    // The pipeline's message words the remedy as a command through the migrator.
    assert!(
        message.contains("statement 2") && message.contains("--via-lambda migrator up --resume"),
        "{message}"
    );

    // From a laptop: the state, through the migrator, of the artifact the pipeline ran.
    let o = p.cli(true, &["status", "--source", &p.s3_url(&broken)]);
    assert!(o.status.success(), "{}", out(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let row = text.lines().find(|l| l.starts_with("2_audit.sql")).unwrap();
    assert!(
        row.contains("partial") && row.contains("1 of 2 statements committed"),
        "{text}"
    );
    // A plain `up` refuses to guess, with its own exit code and a remedy in CLI terms.
    let o = p.cli(true, &["up", "--source", &p.s3_url(&broken)]);
    assert_eq!(o.status.code(), Some(6), "{}", out(&o));

    // The file is fixed on the laptop, but the default deployment runs no SQL sent
    // inline: it skipped the pipeline's review (that needs `up-inline`).
    let fixed = migrations_dir(&[
        ("1_create_users.sql", CREATE_USERS),
        ("2_audit.sql", FIXED_SEED),
    ]);
    let dir = fixed.path().to_str().unwrap();
    let o = p.cli(true, &["up", "--resume", "--source", dir]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`up` with an inline source is not allowed")
            && err.contains("`up-inline`")
            && err.contains("ALLOWED_COMMANDS"),
        "{err}"
    );
    assert_eq!(
        testkit::sql(Some(&p.db.name), "SELECT COUNT(*) FROM audit").trim(),
        "0"
    );

    // The fix is pushed; the pipeline's new artifact is resumed from a laptop.
    let good = p.upload(&[
        ("migrations/1_create_users.sql", CREATE_USERS),
        ("migrations/2_audit.sql", FIXED_SEED),
    ]);
    let o = p.cli(true, &["up", "--resume", "--source", &p.s3_url(&good)]);
    assert!(o.status.success(), "{}", out(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("applied  2_audit.sql (1 statements")
            && text.contains("resumed after statement 1"),
        "{text}"
    );
    assert_eq!(
        testkit::sql(Some(&p.db.name), "SELECT COUNT(*) FROM audit").trim(),
        "1"
    );

    // The pipeline's run of that artifact succeeds with nothing left to do.
    let job = p.run(&good).pop().unwrap();
    assert_eq!(job["status"], "Succeeded", "{job:#}");
    p.assert_logs_clean();
}

#[test]
fn resolve_runs_remotely_and_a_command_the_deployment_does_not_allow_is_refused() {
    let p = Pipeline::new(Options::default());
    let broken = migrations_dir(&[
        ("1_create_users.sql", CREATE_USERS),
        ("2_audit.sql", BROKEN_SEED),
    ]);
    let dir = broken.path().to_str().unwrap();
    let artifact = p.upload(&[
        ("migrations/1_create_users.sql", CREATE_USERS),
        ("migrations/2_audit.sql", BROKEN_SEED),
    ]);
    let o = p.cli(true, &["up", "--source", &p.s3_url(&artifact)]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no_such_table"), "{err}");

    // `down` is not in the default ALLOWED_COMMANDS: refused, and nothing ran.
    let calls_before = p.migrator_invokes().len();
    let o = p.cli(true, &["down", "--source", dir]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("`down` is not allowed here"), "{err}");
    assert_eq!(p.migrator_invokes().len(), calls_before + 1);
    assert!(p.db.tables().contains(&"users".to_owned()));

    // A person dropped the half-made table; they record it through the migrator.
    testkit::sql(Some(&p.db.name), "DROP TABLE audit");
    let o = p.cli(
        true,
        &["resolve", "2_audit.sql", "--rolled-back", "--source", dir],
    );
    assert!(o.status.success(), "{}", out(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "recorded 2_audit.sql as rolled back"
    );
    let o = p.cli(true, &["status", "--json", "--source", dir]);
    let status: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(status["migrations"][1]["state"], "pending", "{status:#}");

    // A function that does not exist: one clear line, exit 7, no stack trace.
    let o = p.cli(
        true,
        &[
            "--via-lambda",
            "no-such-function",
            "status",
            "--source",
            dir,
        ],
    );
    assert_eq!(o.status.code(), Some(7), "{}", out(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: invoking no-such-function failed"),
        "{err}"
    );

    // Flags that describe a database here make no sense remotely.
    let o = p.cli(
        true,
        &["status", "--database", "mysql://x@y/z", "--source", dir],
    );
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--database"));
}

#[test]
fn local_and_remote_reports_are_byte_identical() {
    let p = Pipeline::new(Options::default());
    let files = migrations_dir(&[
        ("1_create_users.sql", CREATE_USERS),
        ("2_seed_users.sql", SEED_USERS),
        ("3_audit.sql", FIXED_SEED),
    ]);
    let dir = files.path().to_str().unwrap();
    let o = p.cli(false, &["up", "--limit", "1", "--source", dir]);
    assert!(o.status.success(), "{}", out(&o));
    for args in [
        &["status", "--json", "--source", dir][..],
        &["plan", "--json", "--source", dir],
        &["status", "--source", dir],
        &["status", "--format", "sql-migrate", "--source", dir],
        &["plan", "--source", dir],
    ] {
        let local = p.cli(false, args);
        let remote = p.cli(true, args);
        assert!(local.status.success(), "{}", out(&local));
        assert_eq!(
            String::from_utf8_lossy(&local.stdout),
            String::from_utf8_lossy(&remote.stdout),
            "{args:?}"
        );
        assert_eq!(local.status.code(), remote.status.code());
    }
}

#[test]
fn a_remote_run_that_waited_for_the_lock_logs_and_reports_who_held_it() {
    let p = Pipeline::new(Options {
        // Long enough that only the test letting go ends the wait.
        migrator_env: json!({"LOCK_TIMEOUT_SECS": "300"}),
        ..Options::default()
    });
    let lock = engine::db::lock_name(&p.db.name, "gorp_migrations");
    let one = p.upload(&[("migrations/1_create_users.sql", CREATE_USERS)]);
    let two = p.upload(&[
        ("migrations/1_create_users.sql", CREATE_USERS),
        ("migrations/2_seed_users.sql", SEED_USERS),
    ]);
    for (key, json) in [(one, true), (two, false)] {
        // Each run's holder is a new session, with an id of its own.
        let mut held = testkit::HeldLock::take(&lock);
        let source = p.s3_url(&key);
        let mut args = vec!["up", "--source", &source];
        if json {
            args.push("--json");
        }
        let child = p
            .cli_command(true, &args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The migrator cannot stream to the laptop; it logs who holds the lock at once.
        let started = std::time::Instant::now();
        let logged = |log: &str| {
            log.lines().any(|l| {
                l.contains("waiting for the migration lock")
                    && testkit::names_connection(l, &held.id)
            })
        };
        while !logged(&p.log("migrator")) {
            assert!(
                started.elapsed() < WAIT,
                "no wait logged:\n{}",
                p.log("migrator")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        held.release();
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", out(&o));
        if json {
            // The report carries the wait.
            let v: Value = serde_json::from_slice(&o.stdout).unwrap();
            let holder = &v["lock_wait"]["holder"];
            assert_eq!(holder["connection"].to_string(), held.id, "{v}");
            assert!(v["lock_wait"]["waited_ms"].is_u64(), "{v}");
        } else {
            // Text: the CLI says afterwards what the migrator waited for.
            let err = String::from_utf8_lossy(&o.stderr);
            let line = err
                .lines()
                .find(|l| l.starts_with("waited ") && l.contains("for the migration lock, held by"))
                .unwrap_or_else(|| panic!("{}", out(&o)));
            assert!(testkit::names_connection(line, &held.id), "{line}");
        }
    }
    let log = p.log("migrator");
    assert!(log.contains("took the migration lock after"), "{log}");
    p.assert_logs_clean();
}

#[test]
fn the_migrator_returns_the_dry_runs_sql_script_and_it_applies() {
    let p = Pipeline::new(Options::default());
    let proc = "-- +migrate Up\nDELIMITER $$\nCREATE PROCEDURE audit_one()\nBEGIN\n  INSERT INTO users VALUES (9, 'x;y');\nEND$$\nDELIMITER ;\n\n-- +migrate Down\nDROP PROCEDURE audit_one;\n";
    let files = migrations_dir(&[
        ("1_create_users.sql", CREATE_USERS),
        ("2_seed_users.sql", SEED_USERS),
        ("3_proc.sql", proc),
    ]);
    let dir = files.path().to_str().unwrap();
    let remote = p.cli(true, &["up", "--dry-run", "--sql", "--source", dir]);
    assert!(remote.status.success(), "{}", out(&remote));
    let script = String::from_utf8(remote.stdout.clone()).unwrap();
    assert!(
        script.starts_with("-- lambda-migrate: ")
            && script.contains("DELIMITER $$\nCREATE PROCEDURE audit_one()"),
        "{script}"
    );
    // The same script in `--json`'s `sql`.
    let json = p.cli(
        true,
        &["up", "--dry-run", "--sql", "--json", "--source", dir],
    );
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["sql"].as_str(), Some(script.as_str()), "{}", out(&json));
    // Nothing changed; piped into the client, it applies the set as `up` would.
    assert!(p.db.tables().is_empty(), "{:?}", p.db.tables());
    let mut client = testkit::server()
        .client(Some(&p.db.name))
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut client.stdin.take().unwrap(), script.as_bytes()).unwrap();
    let piped = client.wait_with_output().unwrap();
    assert!(piped.status.success(), "{}", out(&piped));
    assert_eq!(
        p.db.applied(),
        ["1_create_users.sql", "2_seed_users.sql", "3_proc.sql"]
    );
    let status = p.cli(true, &["plan", "--json", "--source", dir]);
    let v: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(v["migrations"], json!([]), "{}", out(&status));
}

#[test]
fn an_inline_source_over_the_invoke_limit_says_to_use_s3() {
    let p = Pipeline::new(Options::default());
    let dir = tempfile::tempdir().unwrap();
    // Incompressible bytes: seven files of 1 MiB each.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for i in 0..7 {
        let bytes: Vec<u8> = (0..1 << 20)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        std::fs::write(dir.path().join(format!("{i}_big.sql")), bytes).unwrap();
    }
    let o = p.cli(true, &["verify", "--source", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--source s3://"), "{err}");
    assert!(p.migrator_invokes().is_empty());
}

#[test]
fn a_plan_action_publishes_what_an_approval_shows() {
    let p = Pipeline::new(Options::default());
    let key = p.upload(&[
        ("migrations/1_create_users.sql", CREATE_USERS),
        ("migrations/2_seed_users.sql", SEED_USERS),
    ]);
    let id = p.fake.start_job(
        "trigger",
        &p.bucket,
        &key,
        json!({"user_parameters": r#"{"command":"plan"}"#}),
    );
    let job = p.fake.wait_job(&id, WAIT).pop().unwrap();
    assert_eq!(job["status"], "Succeeded", "{job:#}");
    let vars = &result(&job)["outputVariables"];
    assert_eq!(vars["PendingCount"], "2", "{job:#}");
    assert_eq!(vars["PendingIds"], "1_create_users.sql, 2_seed_users.sql");
    // A plan creates nothing, not even the history table.
    assert!(p.db.tables().is_empty(), "plan changed the database");
}

#[test]
fn a_remote_up_carries_on_across_migrator_runs_that_stop_at_their_deadline() {
    let (p, key) = deadline_pipeline(json!({}));
    let o = p.cli(true, &["up", "--source", &p.s3_url(&key)]);
    assert!(o.status.success(), "{}", out(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    // Every migration printed once, in order, and the total counts them all.
    let printed: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.split_whitespace().find(|w| w.ends_with("_slow.sql")))
        .collect();
    assert_eq!(printed, all_eight(), "{}", out(&o));
    assert!(stdout.ends_with("8 migration(s) done\n"), "{}", out(&o));
    assert!(
        stderr.contains("stopped before its deadline") && stderr.contains("invoking it again"),
        "{}",
        out(&o)
    );
    assert!(p.migrator_invokes().len() >= 2);
    assert_eq!(p.db.applied(), all_eight());
}

const DROP_USERS: &str = "-- +migrate Up\nDROP TABLE users;\n\n-- +migrate Down\nCREATE TABLE users (id int primary key, email varchar(100));\n";
const DROP_USERS_REASONED: &str = "-- +migrate Up\n-- lint:ignore destructive/drop-table the users moved to the accounts service (OPS-12)\nDROP TABLE users;\n\n-- +migrate Down\nCREATE TABLE users (id int primary key, email varchar(100));\n";

/// The lint report the trigger stored beside the artifact at `key`, read with credentials
/// (the trigger wrote it with its role's; moto then refuses anonymous reads, as a private
/// bucket does).
fn lint_report(p: &Pipeline, key: &str) -> Value {
    let (content_type, body) = stored(p, &format!("{key}.lint.json"));
    assert_eq!(content_type, "application/json");
    serde_json::from_slice(&body).unwrap()
}

/// An object the trigger stored in the artifact bucket: its content type and bytes. It is
/// private: an anonymous read is refused.
fn stored(p: &Pipeline, key: &str) -> (String, Vec<u8>) {
    let addr = p.s3.trim_start_matches("http://").trim_end_matches('/');
    let (status, _, _) = http(addr, "GET", &format!("/{}/{key}", p.bucket), &[], b"");
    assert_eq!(status, 403, "{key} must not be readable anonymously");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(&p.s3)
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "AKIAREVIEWER",
                "reviewer-secret",
                None,
                None,
                "test",
            ))
            .build();
        let out = aws_sdk_s3::Client::from_conf(conf)
            .get_object()
            .bucket(&p.bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("nothing stored at {key}: {e:?}"));
        let content_type = out.content_type().unwrap_or_default().to_owned();
        (
            content_type,
            out.body.collect().await.unwrap().into_bytes().to_vec(),
        )
    })
}

#[test]
fn a_reviewed_plan_stores_the_page_the_approval_links_to() {
    let p = Pipeline::new(Options::default());
    p.db.q("CREATE TABLE orders (id INT PRIMARY KEY, amount INT); INSERT INTO orders VALUES (1, 1), (2, 2)");
    let key = p.upload(&[(
        "migrations/1_orders.sql",
        "-- +migrate Up\nALTER TABLE orders ADD COLUMN note VARCHAR(20) NULL;\nALTER TABLE orders MODIFY amount BIGINT;\n",
    )]);
    let id = p.fake.start_job(
        "trigger",
        &p.bucket,
        &key,
        json!({"user_parameters": r#"{"command":"plan","review":true}"#}),
    );
    let job = p.fake.wait_job(&id, WAIT).pop().unwrap();
    assert_eq!(job["status"], "Succeeded", "{job:#}");
    let vars = &result(&job)["outputVariables"];
    assert_eq!(vars["PendingCount"], "1", "{job:#}");
    assert_eq!(vars["ReviewVerdict"], "review", "{job:#}");
    assert_eq!(vars["ReviewCounts"], "0 danger, 1 review, 0 safe");
    let page_key = format!("{key}.review.html");
    assert_eq!(vars["ReviewReportKey"], page_key.as_str());
    let url = vars["ReviewUrl"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "https://console.aws.amazon.com/s3/object/{}?region=us-east-1&prefix=",
            p.bucket
        )) && url.ends_with(".review.html"),
        "{url}"
    );
    let summary = result(&job)["executionDetails"]["summary"]
        .as_str()
        .unwrap_or_default();
    assert!(
        summary.contains("Review: 0 danger, 1 review, 0 safe"),
        "{summary}"
    );

    let (content_type, page) = stored(&p, &page_key);
    assert_eq!(content_type, "text/html; charset=utf-8");
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains(&format!("{}.orders", p.db.name)) && page.contains("COPY"));
    let (_, review) = stored(&p, &format!("{key}.review.json"));
    let review: Value = serde_json::from_slice(&review).unwrap();
    let algorithms: Vec<&str> = review["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["algorithm"].as_str().unwrap())
        .collect();
    assert_eq!(algorithms, ["INSTANT", "COPY"], "{review:#}");
    // The SQL `up` would send, beside the page, for a DBA who applies by hand.
    let sql_key = format!("{key}.plan.sql");
    assert_eq!(vars["PlanSqlKey"], sql_key.as_str());
    let (_, script) = stored(&p, &sql_key);
    let script = String::from_utf8(script).unwrap();
    assert!(
        script.contains("GET_LOCK") && script.contains("ALTER TABLE orders MODIFY amount BIGINT"),
        "{script}"
    );
    // The same review from a laptop through the migrator: the JSON comes back and the
    // page is rendered here.
    let page = tempfile::tempdir().unwrap();
    let html = page.path().join("review.html");
    let source = p.s3_url(&key);
    let o = p.cli(
        true,
        &[
            "plan",
            "--review",
            "--json",
            "--html",
            html.to_str().unwrap(),
            "--source",
            &source,
        ],
    );
    assert!(o.status.success(), "{}", out(&o));
    let remote: Value = serde_json::from_slice(&o.stdout).unwrap();
    let algorithms: Vec<&str> = remote["review"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["algorithm"].as_str().unwrap())
        .collect();
    assert_eq!(algorithms, ["INSTANT", "COPY"], "{remote:#}");
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.contains(&format!("{}.orders", p.db.name)));
    // Nothing real changed and no probe is left: the table as it was, alone.
    assert_eq!(p.db.tables(), ["orders"]);
    assert!(!p.db.q("SHOW CREATE TABLE orders").contains("note"));
}

fn drop_table_findings(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "destructive/drop-table")
        .collect()
}

#[test]
fn a_job_that_drops_a_table_fails_at_the_trigger_until_the_drop_carries_a_reason() {
    let p = Pipeline::new(Options::default());
    let set = |third: &'static str| {
        p.upload(&[
            ("migrations/1_create_users.sql", CREATE_USERS),
            ("migrations/2_seed_users.sql", SEED_USERS),
            ("migrations/3_drop_users.sql", third),
        ])
    };

    // Unreasoned: the trigger refuses the job; the migrator is never invoked.
    let key = set(DROP_USERS);
    let job = p.run(&key).pop().unwrap();
    assert_eq!(job["status"], "Failed", "{job:#}");
    assert_eq!(result(&job)["failureDetails"]["type"], "JobFailed");
    let msg = failure_message(&job);
    let location = format!("s3://{}/{key}.lint.json", p.bucket);
    for part in [
        "lint refused the migrations before the migrator ran",
        "1 finding(s) at error level",
        "destructive/drop-table at ",
        "3_drop_users.sql:2",
        "lint:ignore",
        &format!("Full report: {location}"),
    ] {
        assert!(msg.contains(part), "{part:?} not in {msg}");
    }
    assert!(p.migrator_invokes().is_empty(), "the migrator must not run");
    assert!(p.db.tables().is_empty(), "{:?}", p.db.tables());
    // The full report is beside the artifact, in `lint --json`'s shape.
    let report = lint_report(&p, &key);
    assert_eq!(report["summary"]["errors"], 1, "{report:#}");
    assert_eq!(report["summary"]["migrations"], 3);
    let drops = drop_table_findings(&report);
    assert_eq!(drops.len(), 1, "{report:#}");
    assert_eq!(drops[0]["migration"], "3_drop_users.sql");
    assert_eq!(drops[0]["section"], "up");
    assert_eq!(drops[0]["line"], 2);
    assert_eq!(drops[0]["suppressed"], false);
    p.assert_one_metric_line("trigger", &json!({"JobsSucceeded": 0, "JobFailures": 1}));
    let linted = p
        .log("trigger")
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["fields"]["message"] == "artifact linted")
        .unwrap_or_else(|| panic!("no log line for the lint:\n{}", p.log("trigger")));
    assert_eq!(linted["fields"]["errors"], 1, "{linted}");

    // Reasoned: the same job passes, the migrator applies the set, and the result
    // publishes the lint for later actions.
    let key = set(DROP_USERS_REASONED);
    let job = p.run(&key).pop().unwrap();
    assert_eq!(job["status"], "Succeeded", "{job:#}");
    assert_eq!(
        p.db.applied(),
        ["1_create_users.sql", "2_seed_users.sql", "3_drop_users.sql"]
    );
    assert_eq!(p.migrator_invokes().len(), 1);
    let vars = &result(&job)["outputVariables"];
    let report = lint_report(&p, &key);
    let summary = &report["summary"];
    assert_eq!(vars["LintErrors"], "0", "{vars:#}");
    assert_eq!(vars["LintWarnings"], summary["warnings"].to_string());
    assert_eq!(vars["LintNotices"], summary["notices"].to_string());
    assert_eq!(vars["LintReportKey"], format!("{key}.lint.json"));
    assert_eq!(summary["suppressed"], 1, "{report:#}");
    assert_eq!(drop_table_findings(&report)[0]["suppressed"], true);
    let text = result(&job)["executionDetails"]["summary"]
        .as_str()
        .unwrap();
    assert!(
        text.starts_with("Applied 3 migration(s)")
            && text.contains("Lint: 0 error(s)")
            && text.contains("1 suppressed")
            && text.ends_with(&format!("full report: s3://{}/{key}.lint.json", p.bucket)),
        "{text}"
    );
    p.assert_logs_clean();
}

#[test]
fn lint_fail_on_sets_the_severity_that_fails_a_job() {
    // `never`: the unreasoned drop is reported, and applied.
    let p = Pipeline::new(Options {
        trigger_env: json!({"LINT_FAIL_ON": "never"}),
        ..Options::default()
    });
    let key = p.upload(&[
        ("migrations/1_create_users.sql", CREATE_USERS),
        ("migrations/3_drop_users.sql", DROP_USERS),
    ]);
    let job = p.run(&key).pop().unwrap();
    assert_eq!(job["status"], "Succeeded", "{job:#}");
    let vars = &result(&job)["outputVariables"];
    assert_eq!(vars["LintErrors"], "1", "{vars:#}");
    let text = result(&job)["executionDetails"]["summary"]
        .as_str()
        .unwrap();
    assert!(
        text.contains("error destructive/drop-table at ") && text.contains("3_drop_users.sql:2"),
        "{text}"
    );

    // `warning`: a migration without a Down (a warning) fails the job.
    let p = Pipeline::new(Options {
        trigger_env: json!({"LINT_FAIL_ON": "warning"}),
        ..Options::default()
    });
    let key = p.upload(&[(
        "migrations/1_no_down.sql",
        "-- +migrate Up\nCREATE TABLE t (id int);\n",
    )]);
    let job = p.run(&key).pop().unwrap();
    assert_eq!(job["status"], "Failed", "{job:#}");
    let msg = failure_message(&job);
    assert!(
        msg.contains("at warning level") && msg.contains("reversibility/no-down at "),
        "{msg}"
    );
    assert!(p.migrator_invokes().is_empty());
}

#[test]
fn lint_pending_runs_in_the_migrator_as_it_runs_here() {
    let p = Pipeline::new(Options {
        migrator_env: json!({"ALLOWED_COMMANDS": "verify,lint,plan,status,up,resolve"}),
        ..Options::default()
    });
    let narrow = "-- +migrate Up\nALTER TABLE users MODIFY email varchar(50);\n\n-- +migrate Down\nALTER TABLE users MODIFY email varchar(100);\n";
    let files = migrations_dir(&[
        ("1_create_users.sql", CREATE_USERS),
        ("2_seed_users.sql", SEED_USERS),
        ("3_narrow.sql", narrow),
    ]);
    let dir = files.path().to_str().unwrap();
    let o = p.cli(false, &["up", "--limit", "1", "--source", dir]);
    assert!(o.status.success(), "{}", out(&o));
    let args = ["lint", "--pending", "--json", "--source", dir];
    let local = p.cli(false, &args);
    let remote = p.cli(true, &args);
    // 3's narrowing (measured from 1's applied CREATE) refuses the set, here and there.
    assert_eq!(local.status.code(), Some(9), "{}", out(&local));
    assert_eq!(remote.status.code(), Some(9), "{}", out(&remote));
    // The same report but for `file`: here the folder's path, there the path inside the
    // zip the CLI sent inline.
    let without_files = |o: &std::process::Output| {
        let mut v: Value = serde_json::from_slice(&o.stdout).unwrap();
        for f in v["findings"].as_array_mut().unwrap() {
            let file = f["file"].take();
            let name = f["migration"].as_str().unwrap();
            assert!(
                file.as_str().unwrap().ends_with(&format!("/{name}")),
                "{file}"
            );
        }
        v
    };
    assert_eq!(without_files(&local), without_files(&remote));
    let v: Value = serde_json::from_slice(&remote.stdout).unwrap();
    assert_eq!(v["summary"]["migrations"], 2, "{v:#}");
    let narrowing = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "destructive/narrowing")
        .unwrap_or_else(|| panic!("{v:#}"));
    assert_eq!(narrowing["migration"], "3_narrow.sql");
    assert!(String::from_utf8_lossy(&remote.stderr).contains("lint refused"));
}
