//! `lambda-migrate verify --source s3://bucket/key` against moto on loopback (started by
//! `scripts/start-moto`; endpoint `LM_TEST_S3_ENDPOINT`, default http://127.0.0.1:5000).
//! Without it this test fails, saying so: it never skips.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::json;
use testkit::{s3_endpoint as endpoint, s3_put};

/// The repository's migrations zipped like a CodePipeline source artifact.
fn artifact() -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("s3_verify.zip");
    let _ = std::fs::remove_file(&out);
    let st = Command::new("zip")
        .current_dir(&repo)
        .args(["-q", "-r", "-X"])
        .arg(&out)
        .args(["migrations", "README.md"])
        .status()
        .expect("zip (Info-ZIP) is installed by .ci/install-deps");
    assert!(st.success());
    out
}

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lambda-migrate"))
        .args(args)
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("FETCH_MODE")
        .output()
        .unwrap()
}

#[test]
fn verify_reads_an_s3_artifact_like_the_local_file() {
    let zip = artifact();
    let bucket = "lm-cli-verify";
    // A fresh key per run: a long-lived local S3 server may hold state from earlier runs.
    let key = format!(
        "pipeline/{}-{}/source.zip",
        std::process::id(),
        std::time::UNIX_EPOCH.elapsed().unwrap().as_nanos()
    );
    s3_put(&endpoint(), bucket, &key, &std::fs::read(&zip).unwrap());
    let url = format!("s3://{bucket}/{key}");

    let local = cli(&["verify", "--json", "--source", zip.to_str().unwrap()]);
    assert!(local.status.success(), "{local:?}");
    let local = json(&local);

    let remote = cli(&["verify", "--json", "--source", &url]);
    assert!(remote.status.success(), "{remote:?}");
    let report = json(&remote);
    assert_eq!(report["source"], url.as_str());
    assert_eq!(report["digest"], local["digest"]);
    assert_eq!(report["migrations"], local["migrations"]);
    assert_eq!(report["migrations"].as_array().unwrap().len(), 5);
    let fetch = &report["fetch"];
    assert_eq!(fetch["object"], url.as_str());
    assert_eq!(
        fetch["mode"], "full",
        "a small artifact is fetched whole in auto mode"
    );
    let size = std::fs::metadata(&zip).unwrap().len();
    assert_eq!(fetch["object_size"], size);
    assert_eq!(fetch["bytes_fetched"], size);
    assert!(fetch["requests"].as_u64().unwrap() >= 1);
    assert!(
        local.get("fetch").is_none(),
        "no fetch object for a local file"
    );

    // Selective mode on request; human mode prints the stats on stderr.
    let human = Command::new(env!("CARGO_BIN_EXE_lambda-migrate"))
        .args(["verify", "--source", &url])
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("FETCH_MODE", "selective")
        .output()
        .unwrap();
    assert!(human.status.success(), "{human:?}");
    let stderr = String::from_utf8_lossy(&human.stderr);
    assert!(
        stderr.contains(&format!("fetched {url}: selective mode")),
        "stderr: {stderr}"
    );
    let stdout = String::from_utf8_lossy(&human.stdout);
    assert!(
        stdout.contains("5 migration(s) from s3://"),
        "stdout: {stdout}"
    );
}

#[test]
fn verify_of_a_missing_object_is_bad_input() {
    // The bucket exists; the key does not.
    let ep = endpoint();
    let (status, _, _) = testkit::http(
        ep.trim_start_matches("http://").trim_end_matches('/'),
        "PUT",
        "/lm-cli-missing",
        &[],
        b"",
    );
    assert!(
        status == 200 || status == 409,
        "create bucket: HTTP {status}"
    );
    let out = cli(&["verify", "--source", "s3://lm-cli-missing/nothing.zip"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("s3://lm-cli-missing/nothing.zip: not found"),
        "stderr: {stderr}"
    );
    let out = cli(&["verify", "--source", "s3://bucket-only"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("object key is empty"));
}
