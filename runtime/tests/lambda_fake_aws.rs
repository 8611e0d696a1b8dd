//! The fake AWS server (`scripts/fake-aws`) speaks CodePipeline's and Lambda's real wire
//! protocols: the real SDK clients, pointed at it, see the real APIs' answers.
#![cfg(feature = "lambda")]

use std::net::TcpListener;

use aws_sdk_codepipeline::types::{ExecutionDetails, FailureDetails, FailureType};
use aws_sdk_lambda::primitives::Blob;
use serde_json::{Value, json};
use testkit::FakeAws;

fn codepipeline(fake: &FakeAws) -> aws_sdk_codepipeline::Client {
    let conf = aws_sdk_codepipeline::Config::builder()
        .behavior_version_latest()
        .endpoint_url(fake.url())
        .region(aws_sdk_codepipeline::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_codepipeline::config::Credentials::new(
            "AKIATEST", "secret", None, None, "test",
        ))
        .build();
    aws_sdk_codepipeline::Client::from_conf(conf)
}

fn lambda(fake: &FakeAws) -> aws_sdk_lambda::Client {
    let conf = aws_sdk_lambda::Config::builder()
        .behavior_version_latest()
        .endpoint_url(fake.url())
        .region(aws_sdk_lambda::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_lambda::config::Credentials::new(
            "AKIATEST", "secret", None, None, "test",
        ))
        .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_lambda::Client::from_conf(conf)
}

fn new_job(fake: &FakeAws) -> String {
    fake.start_job("", "bucket", "key.zip", json!({"invoke": false}))
}

#[tokio::test]
async fn codepipeline_job_results_follow_the_api() {
    let fake = FakeAws::start();
    let cp = codepipeline(&fake);

    let job = new_job(&fake);
    let details = cp.get_job_details().job_id(&job).send().await.unwrap();
    let data = details.job_details().unwrap().data().unwrap();
    let loc = data.input_artifacts()[0]
        .location()
        .unwrap()
        .s3_location()
        .unwrap();
    assert_eq!((loc.bucket_name(), loc.object_key()), ("bucket", "key.zip"));
    assert!(data.artifact_credentials().is_some());

    cp.put_job_success_result()
        .job_id(&job)
        .execution_details(ExecutionDetails::builder().summary("ok").build())
        .output_variables("AppliedCount", "2")
        .send()
        .await
        .unwrap();
    // A job takes one result.
    let again = cp
        .put_job_success_result()
        .job_id(&job)
        .send()
        .await
        .unwrap_err();
    assert!(
        again
            .as_service_error()
            .unwrap()
            .is_invalid_job_state_exception(),
        "{again:?}"
    );

    // The summary's 2,048-character limit.
    let job = new_job(&fake);
    let long = cp
        .put_job_success_result()
        .job_id(&job)
        .execution_details(
            ExecutionDetails::builder()
                .summary("x".repeat(2049))
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        long.as_service_error().unwrap().meta().code(),
        Some("ValidationException")
    );

    // Output variables only without a continuation token.
    let both = cp
        .put_job_success_result()
        .job_id(&job)
        .continuation_token("t")
        .output_variables("A", "1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        both.as_service_error().unwrap().meta().code(),
        Some("ValidationException")
    );

    // The failure message's 5,000-character limit, then a good failure.
    let failure = |msg: String| {
        FailureDetails::builder()
            .r#type(FailureType::JobFailed)
            .message(msg)
            .build()
            .unwrap()
    };
    let long = cp
        .put_job_failure_result()
        .job_id(&job)
        .failure_details(failure("m".repeat(5001)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        long.as_service_error().unwrap().meta().code(),
        Some("ValidationException")
    );
    cp.put_job_failure_result()
        .job_id(&job)
        .failure_details(failure("broken".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(fake.get(&format!("/_fake/jobs/{job}"))["status"], "Failed");

    let unknown = cp
        .put_job_success_result()
        .job_id("00000000-0000-0000-0000-000000000000")
        .send()
        .await
        .unwrap_err();
    assert!(
        unknown
            .as_service_error()
            .unwrap()
            .is_job_not_found_exception()
    );

    // Every call is recorded with its body.
    let calls = fake.calls_of("PutJobFailureResult");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1]["request"]["failureDetails"]["message"], "broken");
}

#[tokio::test]
async fn a_continuation_token_makes_a_follow_up_job() {
    let fake = FakeAws::start();
    let cp = codepipeline(&fake);
    let job = new_job(&fake);
    cp.put_job_success_result()
        .job_id(&job)
        .continuation_token("{\"round\":1}")
        .send()
        .await
        .unwrap();
    let first = fake.get(&format!("/_fake/jobs/{job}"));
    assert_eq!(first["status"], "Continued");
    let next = first["continued_by"].as_str().unwrap();
    let details = cp.get_job_details().job_id(next).send().await.unwrap();
    assert_eq!(
        details
            .job_details()
            .unwrap()
            .data()
            .unwrap()
            .continuation_token(),
        Some("{\"round\":1}")
    );
}

#[tokio::test]
async fn a_function_error_is_http_200_with_the_function_error_header() {
    let fake = FakeAws::start();
    fake.function(json!({
        "name": "migrator",
        "command": [env!("CARGO_BIN_EXE_migrator")],
        "timeout": 30,
        "env": {"DATABASE_URL": "mysql://lm:secret-pw@127.0.0.1:1/none"},
    }));
    let out = lambda(&fake)
        .invoke()
        .function_name("migrator")
        .payload(Blob::new(b"{}".to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status_code(), 200);
    assert_eq!(out.function_error(), Some("Unhandled"));
    let body: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(body["errorType"], "BadRequest", "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("BucketName"),
        "{body}"
    );
    // A field the event does not have is refused by name, never ignored.
    let out = lambda(&fake)
        .invoke()
        .function_name("migrator")
        .payload(Blob::new(br#"{"cmd":"status"}"#.to_vec()))
        .send()
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(body["errorType"], "BadRequest", "{body}");
    let message = body["errorMessage"].as_str().unwrap();
    assert!(message.contains("unknown field `cmd`"), "{body}");
    // The instance stays warm: a second call reuses the process.
    lambda(&fake)
        .invoke()
        .function_name("migrator")
        .payload(Blob::new(b"{}".to_vec()))
        .send()
        .await
        .unwrap();
    let instances = fake.get("/_fake/instances");
    assert_eq!(instances.as_array().unwrap().len(), 1, "{instances}");

    // A function whose environment is wrong fails every invocation with a
    // ConfigurationError, not an init crash.
    fake.function(json!({"name": "bare", "command": [env!("CARGO_BIN_EXE_migrator")]}));
    let out = lambda(&fake)
        .invoke()
        .function_name("bare")
        .payload(Blob::new(br#"{"command":"status"}"#.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.function_error(), Some("Unhandled"));
    let body: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(body["errorType"], "ConfigurationError", "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("DATABASE_URL")
    );
}

#[tokio::test]
async fn a_timeout_kills_the_instance_and_says_sandbox_timedout() {
    // An S3 endpoint that accepts connections and never answers: the fetch hangs.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let fake = FakeAws::start();
    fake.function(json!({
        "name": "migrator",
        "command": [env!("CARGO_BIN_EXE_migrator")],
        "timeout": 1,
        "env": {
            "AWS_ENDPOINT_URL_S3": format!("http://{}", silent.local_addr().unwrap()),
            "AWS_ACCESS_KEY_ID": "AKIATEST",
            "AWS_SECRET_ACCESS_KEY": "secret",
            "DATABASE_URL": "mysql://lm:secret-pw@127.0.0.1:1/none",
        },
    }));
    let out = lambda(&fake)
        .invoke()
        .function_name("migrator")
        .payload(Blob::new(
            json!({"BucketName": "b", "ObjectKey": "k.zip"})
                .to_string()
                .into_bytes(),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status_code(), 200);
    assert_eq!(out.function_error(), Some("Unhandled"));
    let body: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(body["errorType"], "Sandbox.Timedout", "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Task timed out after 1.00 seconds")
    );
    let instances = fake.get("/_fake/instances");
    assert_eq!(instances[0]["dead"], true, "{instances}");
}

#[tokio::test]
async fn a_crashing_runtime_is_an_exit_error_and_unknown_functions_are_404() {
    let fake = FakeAws::start();
    fake.function(json!({"name": "crash", "command": ["false"]}));
    let out = lambda(&fake)
        .invoke()
        .function_name("crash")
        .send()
        .await
        .unwrap();
    assert_eq!(out.function_error(), Some("Unhandled"));
    let body: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(body["errorType"], "Runtime.ExitError", "{body}");

    // A bootstrap that cannot be started at all is a function error too, not a hang.
    fake.function(json!({"name": "absent", "command": ["/nonexistent/bootstrap"]}));
    let out = lambda(&fake)
        .invoke()
        .function_name("absent")
        .send()
        .await
        .unwrap();
    assert_eq!(out.function_error(), Some("Unhandled"));
    let body: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(body["errorType"], "Runtime.InvalidEntrypoint", "{body}");

    let missing = lambda(&fake)
        .invoke()
        .function_name("nope")
        .send()
        .await
        .unwrap_err();
    assert!(
        missing
            .as_service_error()
            .unwrap()
            .is_resource_not_found_exception(),
        "{missing:?}"
    );
}
