//! The fake AWS server (`scripts/fake-aws`) speaks CodePipeline's and Lambda's real wire
//! protocols: the real SDK clients, pointed at it, see the real APIs' answers.
#![cfg(feature = "lambda")]

use std::net::TcpListener;

use aws_sdk_codepipeline::types::{ExecutionDetails, FailureDetails, FailureType};
use aws_sdk_lambda::operation::RequestId;
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

#[tokio::test]
async fn invoke_takes_arns_and_injected_faults_answer_lambda_service_errors() {
    let fake = FakeAws::start();
    fake.function(json!({
        "name": "migrator",
        "command": [env!("CARGO_BIN_EXE_migrator")],
        "timeout": 30,
        "env": {"DATABASE_URL": "mysql://lm:secret-pw@127.0.0.1:1/none"},
    }));
    let invoke = |function: &str, payload: &str| {
        lambda(&fake)
            .invoke()
            .function_name(function)
            .payload(Blob::new(payload.as_bytes().to_vec()))
            .send()
    };
    // Step Functions names the function by its ARN (the SDK URL-encodes it); a partial
    // ARN and `name:qualifier` name it too. Each reaches the migrator, which refuses `{}`.
    for function in [
        "arn:aws:lambda:us-east-1:123456789012:function:migrator",
        "arn:aws:lambda:us-east-1:123456789012:function:migrator:$LATEST",
        "123456789012:function:migrator",
        "migrator:$LATEST",
    ] {
        let out = invoke(function, "{}").await.unwrap();
        assert_eq!(out.function_error(), Some("Unhandled"), "{function}");
        let body: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
        assert_eq!(body["errorType"], "BadRequest", "{function}: {body}");
    }
    let calls = fake.calls_of("Invoke");
    assert!(
        calls.iter().all(|c| c["function"] == "migrator"),
        "{calls:#?}"
    );

    // A throttle, before the function runs; a lost answer, after it ran. Each matches
    // only payloads holding its text, and only `times` of them.
    fake.fault(json!({
        "function": "migrator", "match": "throttle-me", "times": 1, "when": "before",
        "status": 429, "error_type": "TooManyRequestsException", "message": "Rate Exceeded.",
    }));
    fake.fault(json!({
        "function": "migrator", "match": "lose-me", "times": 1, "when": "after",
        "status": 500, "error_type": "ServiceException", "message": "the answer was lost",
    }));
    let throttled = invoke("migrator", r#"{"x":"throttle-me"}"#)
        .await
        .unwrap_err();
    let e = throttled.as_service_error().unwrap();
    assert!(e.is_too_many_requests_exception(), "{throttled:?}");
    assert_eq!(e.meta().message(), Some("Rate Exceeded."));
    assert!(throttled.request_id().is_some(), "{throttled:?}");
    let lost = invoke("migrator", r#"{"x":"lose-me"}"#).await.unwrap_err();
    let e = lost.as_service_error().unwrap();
    assert!(e.is_service_exception(), "{lost:?}");
    assert_eq!(e.meta().message(), Some("the answer was lost"));
    // Used up: the same payloads now reach the function.
    for payload in [r#"{"x":"throttle-me"}"#, r#"{"x":"lose-me"}"#] {
        let out = invoke("migrator", payload).await.unwrap();
        assert_eq!(out.function_error(), Some("Unhandled"), "{payload}");
    }
    let faulted: Vec<Value> = fake
        .calls_of("Invoke")
        .into_iter()
        .filter(|c| c.get("fault").is_some())
        .collect();
    assert_eq!(faulted.len(), 2, "{faulted:#?}");
    // The throttled call never ran; the lost one did, and its function error is recorded.
    assert_eq!(faulted[0]["status"], 429);
    assert_eq!(faulted[0]["fault"]["when"], "before");
    assert!(faulted[0].get("request_id").is_none(), "{:#}", faulted[0]);
    assert_eq!(faulted[1]["status"], 500);
    assert_eq!(faulted[1]["fault"]["error_type"], "ServiceException");
    assert_eq!(
        faulted[1]["function_error"], "Unhandled",
        "{:#}",
        faulted[1]
    );

    // A fault is validated when it is added.
    for bad in [
        r#"{"function": "migrator", "when": "during"}"#,
        r#"{"function": "migrator", "status": 200}"#,
        r#"{"when": "after"}"#,
    ] {
        let (status, _, _) =
            testkit::http(&fake.addr, "POST", "/_fake/faults", &[], bad.as_bytes());
        assert_eq!(status, 400, "{bad}");
    }
}

fn s3(endpoint: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .endpoint_url(endpoint)
        .force_path_style(true)
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "AKIATEST", "secret", None, None, "test",
        ))
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

#[tokio::test]
async fn requests_it_does_not_serve_are_relayed_upstream_unchanged() {
    let moto = testkit::s3_endpoint();
    let fake = FakeAws::with_upstream(&moto);
    let (relayed, direct) = (s3(&fake.url()), s3(&moto));
    let bucket = testkit::unique("lm-relay").replace('_', "-");
    relayed
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();

    // 300 KB: the SDK's streaming upload (aws-chunked, a checksum trailer) goes through.
    let body: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let put = relayed
        .put_object()
        .bucket(&bucket)
        .key("a/b.bin")
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    let etag = put.e_tag().unwrap().to_owned();

    let head = relayed
        .head_object()
        .bucket(&bucket)
        .key("a/b.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(body.len() as i64));
    assert_eq!(head.e_tag(), Some(etag.as_str()));

    let range = relayed
        .get_object()
        .bucket(&bucket)
        .key("a/b.bin")
        .range("bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(
        range.content_range(),
        Some(format!("bytes 1000-1999/{}", body.len()).as_str())
    );
    let part = range.body.collect().await.unwrap().into_bytes();
    assert_eq!(&part[..], &body[1000..2000]);

    // What was relayed is what moto itself stored and answers.
    let whole = direct
        .get_object()
        .bucket(&bucket)
        .key("a/b.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(whole.e_tag(), Some(etag.as_str()));
    assert_eq!(
        &whole.body.collect().await.unwrap().into_bytes()[..],
        &body[..]
    );

    let listed = relayed
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("a/")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["a/b.bin"]);

    // moto's errors come back as moto wrote them (status, XML code).
    let missing = relayed
        .get_object()
        .bucket(&bucket)
        .key("a/none")
        .send()
        .await
        .unwrap_err();
    assert!(
        missing.as_service_error().unwrap().is_no_such_key(),
        "{missing:?}"
    );
    relayed
        .delete_object()
        .bucket(&bucket)
        .key("a/b.bin")
        .send()
        .await
        .unwrap();

    let upstream: Vec<Value> = fake
        .calls()
        .into_iter()
        .filter(|c| c["service"] == "upstream")
        .collect();
    let seen: Vec<(&str, u64)> = upstream
        .iter()
        .map(|c| (c["method"].as_str().unwrap(), c["status"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("PUT", 200),
            ("PUT", 200),
            ("HEAD", 200),
            ("GET", 206),
            ("GET", 200),
            ("GET", 404),
            ("DELETE", 204),
        ]
    );

    // Its own control paths are never relayed; without an upstream, nothing is.
    let (status, _, _) = testkit::http(&fake.addr, "GET", "/_fake/nothing", &[], b"");
    assert_eq!(status, 404);
    let alone = FakeAws::start();
    let (status, _, _) = testkit::http(&alone.addr, "GET", &format!("/{bucket}"), &[], b"");
    assert_eq!(status, 404);
}
