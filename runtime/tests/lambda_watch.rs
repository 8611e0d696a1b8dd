//! The migrator binary under cargo-lambda's runtime emulator (`cargo lambda watch
//! --only-lambda-apis`), against the test server (MariaDB or MySQL) and the local S3 server.
//!
//! Unlike real Lambda, the emulator answers a function error with HTTP 500: the
//! `X-Amz-Function-Error` behaviour is tested against `scripts/fake-aws` instead.
#![cfg(feature = "lambda")]

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testkit::{TestDb, http, repo, s3_endpoint, s3_put, unique, zip_artifact};

fn cargo_lambda() -> PathBuf {
    let venv = PathBuf::from("/opt/cargo-lambda/bin/cargo-lambda");
    if venv.exists() {
        return venv;
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("cargo-lambda"))
            .find(|p| p.exists())
    });
    found.expect("cargo-lambda is not installed: run .ci/install-deps")
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn invoke(addr: &str, event: &Value) -> (u16, Value) {
    let (status, _, body) = http(
        addr,
        "POST",
        "/2015-03-31/functions/_/invocations",
        &[("Content-Type", "application/json")],
        event.to_string().as_bytes(),
    );
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[test]
fn the_migrator_runs_under_cargo_lambda_watch() {
    let s3 = s3_endpoint();
    let db = TestDb::new();
    let bucket = unique("lm-watch").replace('_', "-");
    let good = format!("{}.zip", unique("good"));
    s3_put(
        &s3,
        &bucket,
        &good,
        &zip_artifact(&[
            (
                "migrations/1_t.sql",
                "-- +migrate Up\nCREATE TABLE t (id int);\n-- +migrate Down\nDROP TABLE t;\n",
            ),
            (
                "migrations/2_rows.sql",
                "-- +migrate Up\nINSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);\n",
            ),
        ]),
    );
    let bad = format!("{}.zip", unique("bad"));
    s3_put(
        &s3,
        &bucket,
        &bad,
        &zip_artifact(&[
            (
                "migrations/1_t.sql",
                "-- +migrate Up\nCREATE TABLE t (id int);\n-- +migrate Down\nDROP TABLE t;\n",
            ),
            (
                "migrations/2_rows.sql",
                "-- +migrate Up\nINSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);\n",
            ),
            (
                "migrations/3_bad.sql",
                "-- +migrate Up\nALTER TABLE missing ADD c int;\n",
            ),
        ]),
    );

    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let _emulator = Killed(
        Command::new(cargo_lambda())
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            .arg("--manifest-path")
            .arg(repo().join("runtime/Cargo.toml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cargo lambda watch"),
    );
    let start = Instant::now();
    while TcpStream::connect(&addr).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the emulator did not listen on {addr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _function = Killed(
        Command::new(env!("CARGO_BIN_EXE_migrator"))
            .env("AWS_LAMBDA_RUNTIME_API", format!("http://{addr}/.rt"))
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "AKIAWATCH")
            .env("AWS_SECRET_ACCESS_KEY", "watch-secret")
            .env("AWS_ENDPOINT_URL_S3", &s3)
            .env("DATABASE_URL", db.url())
            .env("FETCH_MODE", "selective")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("migrator"),
    );

    let (status, report) = invoke(&addr, &json!({"BucketName": bucket, "ObjectKey": good}));
    assert_eq!(status, 200, "{report}");
    let ids: Vec<&str> = report["applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1_t.sql", "2_rows.sql"], "{report}");
    assert_eq!(report["fetch"]["mode"], "selective");
    assert_eq!(db.applied(), ["1_t.sql", "2_rows.sql"]);

    // Again: nothing to apply, and `status` agrees.
    let (status, report) = invoke(&addr, &json!({"BucketName": bucket, "ObjectKey": good}));
    assert_eq!(status, 200);
    assert_eq!(report["applied"], json!([]));
    let (_, report) = invoke(
        &addr,
        &json!({"BucketName": bucket, "ObjectKey": good, "command": "status"}),
    );
    assert_eq!(report["pending"], json!([]), "{report}");
    assert_eq!(report["lock_held"], false);
    assert_eq!(report["last_applied"], "2_rows.sql");

    // A plan of the bad artifact names what would run; applying it fails with SqlError.
    let (_, report) = invoke(
        &addr,
        &json!({"BucketName": bucket, "ObjectKey": bad, "command": "plan"}),
    );
    assert_eq!(report["pending"], json!(["3_bad.sql"]), "{report}");
    let (status, err) = invoke(&addr, &json!({"BucketName": bucket, "ObjectKey": bad}));
    assert_eq!(
        status, 500,
        "cargo lambda answers function errors with 500: {err}"
    );
    assert_eq!(err["errorType"], "SqlError", "{err}");
    let msg = err["errorMessage"].as_str().unwrap();
    assert!(
        msg.contains("3_bad.sql") && msg.contains("statement 1 of 1"),
        "{msg}"
    );

    // A digest other than the one read is refused before the database is touched.
    let (_, err) = invoke(
        &addr,
        &json!({"BucketName": bucket, "ObjectKey": good, "command": "up", "expected_digest": "0000"}),
    );
    assert_eq!(err["errorType"], "DigestMismatch", "{err}");
}
