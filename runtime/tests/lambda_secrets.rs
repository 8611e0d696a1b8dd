//! End-to-end: the migrator reads its database password from Secrets Manager (fake-aws's
//! GetSecretValue) at invocation time, and a rotation (`ALTER USER` plus a new
//! secret version) is picked up by the same warm instance without a redeploy. Also the
//! migrator's metric lines (Embedded Metric Format) in its log, in the text log format.
#![cfg(feature = "lambda")]

use serde_json::{Value, json};
use testkit::{FakeAws, TestDb, TestUser, http, s3_endpoint, s3_put, unique, zip_artifact};

/// Invokes `function` synchronously; returns whether it failed and the response body.
fn invoke(fake: &FakeAws, function: &str, event: &Value) -> (bool, String) {
    let (status, headers, body) = http(
        &fake.addr,
        "POST",
        &format!("/2015-03-31/functions/{function}/invocations"),
        &[("Content-Type", "application/json")],
        event.to_string().as_bytes(),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let failed = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("X-Amz-Function-Error"));
    (failed, String::from_utf8(body).unwrap())
}

/// The EMF lines of a log, in order.
fn metric_lines(log: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect()
}

const CREATE: &str = "-- +migrate Up\nCREATE TABLE accounts (id int primary key);\n\n-- +migrate Down\nDROP TABLE accounts;\n";
const SEED: &str =
    "-- +migrate Up\nINSERT INTO accounts VALUES (1);\n\n-- +migrate Down\nDELETE FROM accounts;\n";
const BROKEN: &str =
    "-- +migrate Up\nINSERT INTO no_such_table VALUES (1);\n\n-- +migrate Down\nSELECT 1;\n";

#[test]
fn a_rotated_secret_is_read_by_the_warm_migrator_and_metrics_are_printed() {
    let server = testkit::server();
    let s3 = s3_endpoint();
    let bucket = unique("lm-secrets").replace('_', "-");
    let fake = FakeAws::start();
    let db = TestDb::tagged("secret");
    let first = format!("pwA-{}", unique("r"));
    let second = format!("pwB-{}", unique("r"));
    let user = TestUser::create(
        &first,
        &[&format!("GRANT ALL ON `{}`.* TO {{user}}", db.name)],
    );
    // An RDS-style secret: the user name comes from it too (DB_USER is not set).
    let created = fake.post(
        "/_fake/secrets",
        &json!({"name": unique("lm/db"), "value": {"engine": "mysql", "username": user.name, "password": first}}),
    );
    let arn = created["ARN"].as_str().unwrap().to_owned();
    let logs = tempfile::tempdir().unwrap();
    let log_path = logs.path().join("migrator.log");
    fake.function(json!({
        "name": "migrator",
        "command": [env!("CARGO_BIN_EXE_migrator")],
        "timeout": 60,
        "log": log_path,
        "env": {
            "AWS_ACCESS_KEY_ID": "AKIAFUNCTIONROLE",
            "AWS_SECRET_ACCESS_KEY": "function-role-secret",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": s3,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": fake.url(),
            "DB_HOST": server.host,
            "DB_PORT": server.port.to_string(),
            "DB_NAME": db.name,
            "DB_SECRET_ARN": arn,
            // Long enough that the second invocation uses the kept value: the refused
            // login must make it read the secret again.
            "DB_SECRET_CACHE_SECS": "3600",
            "LOCK_TIMEOUT_SECS": "5",
            // Text logs: the metric lines are JSON lines all the same.
            "AWS_LAMBDA_LOG_FORMAT": "Text",
            // Everything our code logs, and the dependencies up to their cap: still no
            // password.
            "AWS_LAMBDA_LOG_LEVEL": "TRACE",
        },
    }));
    let upload = |files: &[(&str, &str)]| {
        let bytes = zip_artifact(files);
        let key = format!("{}.zip", unique("src"));
        s3_put(&s3, &bucket, &key, &bytes);
        json!({"BucketName": bucket, "ObjectKey": key})
    };
    let mut responses = Vec::new();

    let event = upload(&[("migrations/1_create.sql", CREATE)]);
    let (failed, body) = invoke(&fake, "migrator", &event);
    assert!(!failed, "{body}");
    assert_eq!(db.applied(), ["1_create.sql"]);
    responses.push(body);

    user.set_password(&second);
    let rotated = fake.post(
        "/_fake/secrets",
        &json!({"name": created["Name"], "value": {"username": user.name, "password": second}}),
    );
    let event = upload(&[
        ("migrations/1_create.sql", CREATE),
        ("migrations/2_seed.sql", SEED),
    ]);
    let (failed, body) = invoke(&fake, "migrator", &event);
    assert!(!failed, "{body}");
    assert_eq!(db.applied(), ["1_create.sql", "2_seed.sql"]);
    responses.push(body);

    // A failing run: the statement fails on the server.
    let event = upload(&[
        ("migrations/1_create.sql", CREATE),
        ("migrations/2_seed.sql", SEED),
        ("migrations/3_broken.sql", BROKEN),
    ]);
    let (failed, body) = invoke(&fake, "migrator", &event);
    assert!(failed, "{body}");
    assert!(body.contains("3_broken.sql"), "{body}");
    responses.push(body);

    // One warm instance served all three: no redeploy, no restart.
    let instances: Vec<Value> = fake
        .get("/_fake/instances")
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["function"] == "migrator")
        .cloned()
        .collect();
    assert_eq!(instances.len(), 1, "{instances:#?}");
    // Read once, then again only when the kept value was refused; signed, and the
    // second read got the rotated version.
    let reads = fake.calls_of("GetSecretValue");
    assert_eq!(reads.len(), 2, "{reads:#?}");
    for r in &reads {
        assert_eq!(r["request"]["SecretId"], arn.as_str());
        assert_eq!(r["sigv4"], true);
        assert_eq!(r["status"], 200);
    }
    assert_eq!(reads[0]["version_id"], created["VersionId"]);
    assert_eq!(reads[1]["version_id"], rotated["VersionId"]);

    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("login refused with the cached secret"),
        "{log}"
    );
    let recorded = Value::Array(fake.calls()).to_string();
    for password in [&first, &second] {
        assert!(
            !log.contains(password.as_str()),
            "a password in the log:\n{log}"
        );
        assert!(
            !recorded.contains(password.as_str()),
            "a password in the calls"
        );
        for r in &responses {
            assert!(
                !r.contains(password.as_str()),
                "a password in a response: {r}"
            );
        }
    }

    let metrics = metric_lines(&log);
    assert_eq!(metrics.len(), 3, "{log}");
    let definition = json!([{
        "Namespace": "LambdaMigrate",
        "Dimensions": [["FunctionName"]],
        "Metrics": [
            {"Name": "MigrationsApplied", "Unit": "Count"},
            {"Name": "RunDuration", "Unit": "Milliseconds"},
            {"Name": "RunFailures", "Unit": "Count"},
            {"Name": "BytesFetched", "Unit": "Bytes"},
            {"Name": "StoppedAtDeadline", "Unit": "Count"},
        ],
    }]);
    for (m, applied, failures) in [
        (&metrics[0], 1, 0),
        (&metrics[1], 1, 0),
        (&metrics[2], 0, 1),
    ] {
        assert_eq!(m["_aws"]["CloudWatchMetrics"], definition, "{m}");
        assert!(
            m["_aws"]["Timestamp"].as_u64().unwrap() > 1_600_000_000_000,
            "{m}"
        );
        assert_eq!(m["FunctionName"], "migrator", "{m}");
        assert_eq!(m["MigrationsApplied"], applied, "{m}");
        assert_eq!(m["RunFailures"], failures, "{m}");
        assert!(m["RunDuration"].is_u64(), "{m}");
        assert!(m["BytesFetched"].as_u64().unwrap() > 0, "{m}");
    }
    // Names and numbers only: no SQL in a metric line.
    assert!(
        !log.lines()
            .any(|l| l.contains("_aws") && l.contains("INSERT"))
    );
}
