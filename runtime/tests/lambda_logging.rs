//! Both Lambda binaries at the most verbose log levels, through a whole pipeline job
//! (fake CodePipeline and Lambda from `scripts/fake-aws`, S3 on moto, the test server:
//! MariaDB or MySQL): the levels reach our own code, yet no credential, token or event
//! payload reaches a log.
#![cfg(feature = "lambda")]

use std::time::Duration;

use serde_json::{Value, json};
use testkit::{FakeAws, TestDb, s3_endpoint, s3_put, unique, zip_artifact};

/// In every secret below; must appear in no log line.
const MARK: &str = "mark-q7Zx";

/// Runs one job that applies one migration, with `log_env` added to both functions'
/// environments; returns the (migrator, trigger) logs.
fn run_job(log_env: &Value) -> (String, String) {
    let s3 = s3_endpoint();
    let fake = FakeAws::start();
    let db = TestDb::new();
    let logs = tempfile::tempdir().unwrap();
    let mut env = json!({
        "AWS_ACCESS_KEY_ID": "AKIAFUNCTIONROLE",
        "AWS_SECRET_ACCESS_KEY": format!("role-secret-{MARK}"),
        "AWS_SESSION_TOKEN": format!("role-token-{MARK}"),
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": s3,
    });
    for (k, v) in log_env.as_object().unwrap() {
        env[k] = v.clone();
    }
    let mut menv = env.clone();
    menv["DATABASE_URL"] = json!(db.url());
    fake.function(json!({
        "name": "migrator",
        "command": [env!("CARGO_BIN_EXE_migrator")],
        "timeout": 60,
        "env": menv,
        "log": logs.path().join("migrator.log"),
    }));
    let mut tenv = env;
    for (k, v) in [
        ("FunctionName", "migrator".to_owned()),
        ("AWS_ENDPOINT_URL_LAMBDA", fake.url()),
        ("AWS_ENDPOINT_URL_CODEPIPELINE", fake.url()),
        ("TRIGGER_POLL_MS", "300".to_owned()),
    ] {
        tenv[k] = json!(v);
    }
    fake.function(json!({
        "name": "trigger",
        "command": [env!("CARGO_BIN_EXE_trigger")],
        "timeout": 120,
        "env": tenv,
        "log": logs.path().join("trigger.log"),
    }));

    let bucket = unique("lm-logs").replace('_', "-");
    let key = format!("pipeline/SourceArti/{}.zip", unique("src"));
    let artifact = zip_artifact(&[(
        "migrations/1_t.sql",
        "-- +migrate Up\nCREATE TABLE t (id int);\n-- +migrate Down\nDROP TABLE t;\n",
    )]);
    s3_put(&s3, &bucket, &key, &artifact);
    let job = fake.start_job(
        "trigger",
        &bucket,
        &key,
        json!({"credentials": {
            "accessKeyId": "AKIAARTIFACT",
            "secretAccessKey": format!("artifact-secret-{MARK}"),
            "sessionToken": format!("artifact-token-{MARK}"),
        }}),
    );
    let job = fake.wait_job(&job, Duration::from_secs(120)).pop().unwrap();
    assert_eq!(job["status"], "Succeeded", "{job:#}");
    assert_eq!(db.applied(), ["1_t.sql"]);
    // The migrator's event carried the artifact credentials too.
    let invoke = fake
        .calls_of("Invoke")
        .into_iter()
        .find(|c| c["function"] == "migrator")
        .expect("the migrator was invoked");
    assert!(invoke["payload"].to_string().contains(MARK), "{invoke:#}");

    let read = |name: &str| std::fs::read_to_string(logs.path().join(name)).unwrap();
    (read("migrator.log"), read("trigger.log"))
}

fn assert_clean(name: &str, log: &str, is_trace_line: impl Fn(&str) -> bool) {
    assert!(!log.contains(MARK), "a secret in the {name} log:\n{log}");
    assert!(
        !log.contains("lm:lm@"),
        "the database URL in the {name} log:\n{log}"
    );
    assert!(
        !log.contains("raw JSON event"),
        "lambda_runtime logged the event in {name}:\n{log}"
    );
    let invoked = format!("{name} invoked");
    assert!(
        log.lines()
            .any(|l| is_trace_line(l) && l.contains(&invoked)),
        "no TRACE line of ours in the {name} log:\n{log}"
    );
}

#[test]
fn at_lambda_log_level_trace_no_secret_reaches_the_json_logs() {
    let (migrator, trigger) = run_job(&json!({
        "AWS_LAMBDA_LOG_LEVEL": "TRACE",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
    }));
    for (name, log) in [("migrator", &migrator), ("trigger", &trigger)] {
        assert_clean(name, log, |l| {
            serde_json::from_str::<Value>(l).is_ok_and(|v| v["level"] == "TRACE")
        });
        for line in log.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                serde_json::from_str::<Value>(line).is_ok_and(|v| v.is_object()),
                "not a JSON log line in {name}: {line}"
            );
        }
    }
}

#[test]
fn rust_log_trace_directives_cannot_lift_the_cap_on_dependencies() {
    let (migrator, trigger) = run_job(&json!({
        "RUST_LOG": "trace,lambda_runtime=trace,lambda_runtime_api_client=trace,aws_smithy_runtime=trace,aws_sigv4=trace,hyper=trace",
    }));
    for (name, log) in [("migrator", &migrator), ("trigger", &trigger)] {
        assert_clean(name, log, |l| l.contains("TRACE"));
    }
}
