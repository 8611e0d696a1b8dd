//! End-to-end: CodePipeline job → trigger → migrator → MariaDB, every piece real except
//! the AWS control planes, which `scripts/fake-aws` provides with their real protocols.
//! The artifact lives on a local S3 server (moto), zipped by Info-ZIP.
#![cfg(feature = "lambda")]

#[path = "support/lambda.rs"]
mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{FakeAws, TestDb, http, s3_endpoint, s3_put, unique, zip_artifact};

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
const SEED_USERS: &str = "-- +migrate Up\nINSERT INTO users VALUES (1, 'a@example.com');\nINSERT INTO users VALUES (2, 'b@example.com');\n\n-- +migrate Down\nDELETE FROM users;\n";

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
    assert_eq!(p.db.applied(), ["1_create_users.sql", "2_seed_users.sql"]);
    assert_eq!(
        support::sql(Some(&p.db.name), "SELECT COUNT(*) FROM users").trim(),
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
    let digest = inv["payload"]["expected_digest"].as_str().unwrap();
    assert_eq!(vars["Digest"], digest);
    assert_eq!(inv["response"]["digest"], digest);
    assert_eq!(inv["response"]["applied"][0]["id"], "1_create_users.sql");
    assert_eq!(inv["response"]["applied"][1]["statements"], 2);
    assert!(inv["response"]["fetch"]["requests"].as_u64().unwrap() >= 1);
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
        support::sql(Some(&p.db.name), "SELECT COUNT(*) FROM users").trim(),
        "0"
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
fn a_migrator_timeout_fails_the_job() {
    let p = Pipeline::new(Options {
        migrator_timeout: 2,
        ..Options::default()
    });
    let key = p.upload(&[
        ("migrations/1_create_users.sql", CREATE_USERS),
        (
            "migrations/2_slow.sql",
            "-- +migrate Up\nSELECT SLEEP(30);\n",
        ),
    ]);
    let job = p.run(&key).pop().unwrap();
    assert_eq!(job["status"], "Failed", "{job:#}");
    let msg = failure_message(&job);
    assert!(msg.contains("timed out"), "{msg}");
    assert_eq!(p.db.applied(), ["1_create_users.sql"]);
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

    // Lambda delivers the same job event again (at-least-once delivery).
    let event = p
        .fake
        .calls_of("InvokeAsyncAttempt")
        .into_iter()
        .find(|c| c["function"] == "trigger")
        .unwrap()["payload"]
        .clone();
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
        support::sql(Some(&p.db.name), "SELECT COUNT(*) FROM users").trim(),
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
        .map(|c| c["payload"]["command"].as_str().unwrap_or("up").to_owned())
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
