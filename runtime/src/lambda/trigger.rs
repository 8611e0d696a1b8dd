//! The `trigger` Lambda: CodePipeline's job worker.
//!
//! It reads the job's input artifact (with the job's `artifactCredentials`), parses every
//! migration so a bad file fails the job before the database is touched, computes the
//! set digest, and invokes the migrator synchronously. Every outcome ends in
//! `PutJobSuccessResult` or `PutJobFailureResult`, never in an error returned to Lambda:
//! CodePipeline invokes asynchronously, and Lambda retries a failed asynchronous
//! invocation twice, which would run the migrations up to three times.
//!
//! A migrator run that outlasts this invocation is followed up with a continuation token:
//! CodePipeline invokes the trigger again with it, and the trigger asks the migrator for
//! `status` until the run has applied everything or stopped.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::codepipeline_job::CodePipelineJobEvent;
use aws_sdk_codepipeline::error::SdkError;
use aws_sdk_codepipeline::types::{ExecutionDetails, FailureDetails, FailureType};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use engine::Limits;
use engine::fetch::{FetchError, Mode, ObjectRef};
use engine::migration;
use engine::source::Source;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{error, info, warn};

use super::artifact;
use super::event::{
    ArtifactCredentials, ErrorKind, ErrorPayload, MigratorCommand, MigratorEvent, MigratorReport,
};
use super::text::{list_within, one_line, truncate};

/// CodePipeline's limit on `executionDetails.summary`.
pub const SUMMARY_LIMIT: usize = 2048;
/// CodePipeline's limit on `failureDetails.message`.
pub const FAILURE_LIMIT: usize = 5000;
/// CodePipeline's limit on a continuation token.
pub const TOKEN_LIMIT: usize = 2048;

/// The trigger's settings, from its environment.
#[derive(Debug, Clone)]
pub struct TriggerConfig {
    /// The migrator's function name or ARN (`FunctionName`, as the seed).
    pub function_name: Option<String>,
    /// The migrator's configured timeout (`MIGRATOR_TIMEOUT_SECS`, default 900): the
    /// Invoke read timeout is longer than this.
    pub migrator_timeout: Duration,
    /// Time kept back before this invocation's own deadline to report to CodePipeline
    /// (`TRIGGER_MARGIN_MS`, default 15,000).
    pub margin: Duration,
    /// Pause between `status` checks on a follow-up (`TRIGGER_POLL_MS`, default 5,000).
    pub poll_interval: Duration,
    /// The migrations folder inside the artifact (`MIGRATIONS_DIR`, default `migrations`).
    pub dir: String,
}

impl TriggerConfig {
    /// Reads the settings through `get` (the process environment in production).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<TriggerConfig, String> {
        let num = |name: &str, default: u64| -> Result<u64, String> {
            match get(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse()
                    .map_err(|_| format!("{name}={v:?} is not a whole number")),
            }
        };
        Ok(TriggerConfig {
            function_name: get("FunctionName").filter(|s| !s.is_empty()),
            migrator_timeout: Duration::from_secs(num("MIGRATOR_TIMEOUT_SECS", 900)?),
            margin: Duration::from_millis(num("TRIGGER_MARGIN_MS", 15_000)?),
            poll_interval: Duration::from_millis(num("TRIGGER_POLL_MS", 5_000)?),
            dir: get("MIGRATIONS_DIR")
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "migrations".into()),
        })
    }

    /// The Invoke read timeout: longer than the migrator can run.
    pub fn read_timeout(&self) -> Duration {
        self.migrator_timeout + Duration::from_secs(60)
    }
}

/// The AWS clients the trigger calls.
#[derive(Debug, Clone)]
pub struct Clients {
    /// Lambda, for invoking the migrator: retries off, long read timeout.
    pub lambda: aws_sdk_lambda::Client,
    /// CodePipeline, for the job result.
    pub codepipeline: aws_sdk_codepipeline::Client,
    /// The region, for the S3 client built from the artifact credentials.
    pub region: Option<String>,
}

impl Clients {
    /// Clients from the default configuration chain (endpoint URLs from
    /// `AWS_ENDPOINT_URL_LAMBDA` / `AWS_ENDPOINT_URL_CODEPIPELINE` are honoured).
    pub async fn from_env(config: &TriggerConfig) -> Clients {
        let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        // A retried synchronous Invoke would run the migrator twice.
        let mut lambda_conf = aws_sdk_lambda::config::Builder::from(&shared)
            .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
            .timeout_config(
                aws_sdk_lambda::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .read_timeout(config.read_timeout())
                    .build(),
            );
        // Keep-alive probes keep a connection that is silent for up to 15 minutes (the
        // migrator's run) from being dropped by NAT or load balancer idle timeouts.
        match keepalive_client() {
            Ok(client) => lambda_conf = lambda_conf.http_client(client),
            Err(e) => warn!(error = %e, "TCP keep-alive unavailable; using the default client"),
        }
        let lambda_conf = lambda_conf.build();
        Clients {
            lambda: aws_sdk_lambda::Client::from_conf(lambda_conf),
            codepipeline: aws_sdk_codepipeline::Client::new(&shared),
            region: shared.region().map(|r| r.to_string()),
        }
    }
}

/// An HTTPS client whose sockets send TCP keep-alive probes every 30 seconds. Its
/// connections' work runs on the current Tokio runtime.
fn keepalive_client() -> Result<aws_smithy_http_client::pool::Client, String> {
    use aws_smithy_http_client::pool::{
        Client, ConnectionPool, DriverSpawner, Partition, PartitionId,
    };
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let runtime = tokio::runtime::Handle::try_current().map_err(|e| e.to_string())?;
    let id = PartitionId::from_index(0);
    let pool = ConnectionPool::builder()
        .partitions([Partition::new(id, DriverSpawner::tokio(runtime))])
        .tcp_keepalive(Duration::from_secs(30))
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .build_https()
        .map_err(|e| e.to_string())?;
    Client::from_partition(&pool, id).map_err(|e| e.to_string())
}

/// Optional settings in the action's `UserParameters` (a JSON object).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserParameters {
    /// The migrations folder inside the artifact.
    pub dir: Option<String>,
    /// `up` (default) or `plan`.
    pub command: Option<MigratorCommand>,
    /// At most this many migrations.
    pub limit: Option<usize>,
}

/// What the trigger needs from a job event.
#[derive(Debug, Clone)]
pub struct Job {
    /// The job id.
    pub id: String,
    /// The input artifact's bucket.
    pub bucket: String,
    /// The input artifact's key.
    pub key: String,
    /// The credentials CodePipeline gave for the artifact.
    pub credentials: Option<ArtifactCredentials>,
    /// Parsed `UserParameters`.
    pub params: UserParameters,
    /// The token of a follow-up invocation.
    pub continuation: Option<Continuation>,
}

/// What a follow-up invocation needs to know about the run it follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Continuation {
    /// Token format version.
    pub v: u32,
    /// The set digest validated by the first invocation.
    pub digest: String,
    /// Migrations in the artifact.
    pub total: usize,
    /// Pending when the first invocation planned (from the run's point of view unknown:
    /// the trigger cannot reach the database), kept for the summary.
    pub started_ms: u64,
    /// How many follow-ups ran before this one.
    pub round: u32,
}

/// Why a job event could not be used; `id` is the job id when one was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadJob {
    /// The job id, if the event has one.
    pub id: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// Reads a CodePipeline job event.
pub fn parse_job(event: &Value) -> Result<Job, BadJob> {
    let id = event
        .get("CodePipeline.job")
        .and_then(|j| j.get("id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let bad = |message: String| BadJob {
        id: id.clone(),
        message,
    };
    let parsed: CodePipelineJobEvent = serde_json::from_value(event.clone())
        .map_err(|e| bad(format!("the event is not a CodePipeline job event: {e}")))?;
    let job = parsed.code_pipeline_job;
    let id = job
        .id
        .clone()
        .ok_or_else(|| bad("the job event has no job id".into()))?;
    let data = job.data;
    let artifact = data
        .input_artifacts
        .first()
        .ok_or_else(|| bad("the action has no input artifact".into()))?;
    let loc = &artifact.location.s3_location;
    let (Some(bucket), Some(key)) = (loc.bucket_name.clone(), loc.object_key.clone()) else {
        return Err(bad("the input artifact has no S3 location".into()));
    };
    let creds = &data.artifact_credentials;
    let credentials = match (&creds.access_key_id, &creds.secret_access_key) {
        (Some(a), Some(s)) => Some(ArtifactCredentials {
            access_key_id: a.clone(),
            secret_access_key: s.clone(),
            session_token: creds.session_token.clone(),
        }),
        _ => None,
    };
    let params = match data
        .action_configuration
        .configuration
        .user_parameters
        .as_deref()
        .map(str::trim)
    {
        None | Some("") => UserParameters::default(),
        Some(text) => serde_json::from_str(text).map_err(|e| {
            bad(format!(
                "UserParameters must be a JSON object with optional \"dir\", \"command\" (up or plan) and \"limit\": {e}"
            ))
        })?,
    };
    if matches!(
        params.command,
        Some(MigratorCommand::Down | MigratorCommand::Status)
    ) {
        return Err(bad(
            "UserParameters: a pipeline may only run \"up\" or \"plan\"".into(),
        ));
    }
    let continuation = match data.continuation_token.as_deref() {
        None | Some("") => None,
        Some(t) => Some(
            serde_json::from_str(t)
                .map_err(|e| bad(format!("the continuation token is not ours: {e}")))?,
        ),
    };
    Ok(Job {
        id,
        bucket,
        key,
        credentials,
        params,
        continuation,
    })
}

/// How a job ends (or continues).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `PutJobSuccessResult` with a summary and output variables.
    Success {
        /// The execution summary (≤ 2,048 characters).
        summary: String,
        /// Output variables for later actions.
        variables: Vec<(String, String)>,
    },
    /// `PutJobSuccessResult` with a continuation token: CodePipeline calls back.
    Continue {
        /// The token's content.
        token: Continuation,
        /// The execution summary.
        summary: String,
        /// Progress, 0–100.
        percent: i32,
    },
    /// `PutJobFailureResult`.
    Failure {
        /// `ConfigurationError` for the setup's faults, `JobFailed` otherwise.
        configuration: bool,
        /// The message (≤ 5,000 characters).
        message: String,
    },
}

impl Outcome {
    fn failed(message: impl Into<String>) -> Outcome {
        Outcome::Failure {
            configuration: false,
            message: message.into(),
        }
    }

    fn misconfigured(message: impl Into<String>) -> Outcome {
        Outcome::Failure {
            configuration: true,
            message: message.into(),
        }
    }
}

/// The result of one Invoke of the migrator.
#[derive(Debug, Clone)]
pub enum Invoked {
    /// The migrator answered with its report.
    Report(MigratorReport),
    /// The migrator failed: `X-Amz-Function-Error` was set, the body is the error.
    FunctionError(ErrorPayload),
    /// This invocation's time ran out before the migrator answered; it keeps running.
    StillRunning,
    /// The Invoke call itself failed (no such function, denied, network).
    CallFailed {
        /// The error and its causes.
        message: String,
        /// The function does not exist or may not be invoked: a setup fault.
        configuration: bool,
    },
}

/// Invokes the migrator synchronously and waits at most `wait`.
pub async fn invoke(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    event: &MigratorEvent,
    wait: Duration,
) -> Invoked {
    let payload = match serde_json::to_vec(event) {
        Ok(p) => p,
        Err(e) => {
            return Invoked::CallFailed {
                message: format!("could not encode the migrator event: {e}"),
                configuration: false,
            };
        }
    };
    let call = lambda
        .invoke()
        .function_name(function)
        .invocation_type(InvocationType::RequestResponse)
        .payload(Blob::new(payload))
        .send();
    let out = match tokio::time::timeout(wait, call).await {
        Err(_) => return Invoked::StillRunning,
        Ok(Err(e)) => {
            let configuration = e.as_service_error().is_some_and(|s| {
                s.is_resource_not_found_exception() || s.is_invalid_parameter_value_exception()
            }) || e
                .raw_response()
                .is_some_and(|r| matches!(r.status().as_u16(), 403 | 404));
            return Invoked::CallFailed {
                message: format!("invoking {function} failed: {}", aws_smithy_error_chain(&e)),
                configuration,
            };
        }
        Ok(Ok(out)) => out,
    };
    let body = out.payload().map(|b| b.as_ref()).unwrap_or_default();
    // Invoke answers 200 when the function fails: the failure is only in FunctionError.
    if out.function_error().is_some() {
        let payload =
            serde_json::from_slice::<ErrorPayload>(body).unwrap_or_else(|_| ErrorPayload {
                error_type: out.function_error().unwrap_or("Unhandled").to_owned(),
                error_message: truncate(&String::from_utf8_lossy(body), FAILURE_LIMIT),
            });
        return Invoked::FunctionError(payload);
    }
    match serde_json::from_slice::<MigratorReport>(body) {
        Ok(report) => Invoked::Report(report),
        Err(e) => Invoked::CallFailed {
            message: format!(
                "{function} answered something that is not a migrator report ({e}): {}",
                truncate(&String::from_utf8_lossy(body), 500)
            ),
            configuration: true,
        },
    }
}

/// The error and its sources, on one line.
fn aws_smithy_error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    one_line(&out)
}

/// The outcome of a migrator answer to `up` or `plan`.
pub fn outcome_of_report(report: &MigratorReport) -> Outcome {
    let ids: Vec<String> = match report.command {
        MigratorCommand::Plan => report.pending.clone(),
        _ => report.applied.iter().map(|a| a.id.clone()).collect(),
    };
    let head = match report.command {
        MigratorCommand::Plan => format!("Plan: {} migration(s) pending", ids.len()),
        _ if ids.is_empty() => "No migrations to apply: the database is up to date".to_owned(),
        _ => format!(
            "Applied {} migration(s) in {} ms",
            ids.len(),
            report.total_ms
        ),
    };
    let summary = if ids.is_empty() {
        truncate(&head, SUMMARY_LIMIT)
    } else {
        list_within(&format!("{head}: "), &ids, SUMMARY_LIMIT)
    };
    let mut variables = vec![
        (
            if report.command == MigratorCommand::Plan {
                "PendingCount".to_owned()
            } else {
                "AppliedCount".to_owned()
            },
            ids.len().to_string(),
        ),
        ("MigrationCount".to_owned(), report.migrations.to_string()),
        ("Digest".to_owned(), report.digest.clone()),
    ];
    if let Some(last) = &report.last_applied {
        variables.push(("LastAppliedId".to_owned(), last.clone()));
    }
    Outcome::Success { summary, variables }
}

/// The outcome of a migrator failure.
pub fn outcome_of_error(e: &ErrorPayload) -> Outcome {
    let kind = ErrorKind::parse(&e.error_type);
    let message = match e.error_type.as_str() {
        "Sandbox.Timedout" => format!(
            "the migrator timed out ({}); the migration it was running may be partly applied: \
             run `status` and raise the migrator's timeout",
            one_line(&e.error_message)
        ),
        _ => format!(
            "migrator failed ({}): {}",
            e.error_type,
            one_line(&e.error_message)
        ),
    };
    Outcome::Failure {
        configuration: kind == Some(ErrorKind::Configuration),
        message: truncate(&message, FAILURE_LIMIT),
    }
}

/// The outcome of a follow-up's `status` answer; `None` means the run is still going.
pub fn outcome_of_status(report: &MigratorReport, token: &Continuation) -> Option<Outcome> {
    if report.digest != token.digest {
        return Some(Outcome::failed(format!(
            "the artifact changed while the migrator ran: digest {} now, {} validated",
            report.digest, token.digest
        )));
    }
    if report.pending.is_empty() {
        let mut variables = vec![
            ("MigrationCount".to_owned(), report.migrations.to_string()),
            ("Digest".to_owned(), report.digest.clone()),
        ];
        if let Some(last) = &report.last_applied {
            variables.push(("LastAppliedId".to_owned(), last.clone()));
        }
        let summary = truncate(
            &format!(
                "All {} migration(s) applied (followed up {} time(s)); last: {}",
                report.migrations,
                token.round + 1,
                report.last_applied.as_deref().unwrap_or("-")
            ),
            SUMMARY_LIMIT,
        );
        return Some(Outcome::Success { summary, variables });
    }
    if report.lock_held == Some(true) {
        return None;
    }
    // The run ended (nobody holds the lock) with migrations still pending: it failed.
    let first = &report.pending[0];
    let note = report
        .status
        .as_ref()
        .and_then(|rows| {
            rows.iter()
                .find(|r| r.state == "partial" || (&r.id == first && r.note.is_some()))
        })
        .map(|r| {
            format!(
                "; {} is {}{}",
                r.id,
                r.state,
                r.note
                    .as_deref()
                    .map(|n| format!(": {}", one_line(n)))
                    .unwrap_or_default()
            )
        })
        .unwrap_or_default();
    Some(Outcome::failed(truncate(
        &format!(
            "the migrator run ended with {} migration(s) still pending (first: {first}){note}; \
             see the migrator's logs",
            report.pending.len()
        ),
        FAILURE_LIMIT,
    )))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Time left before `deadline_ms` (ms since the epoch) minus `margin`.
pub fn budget(deadline_ms: u64, margin: Duration) -> Duration {
    Duration::from_millis(deadline_ms.saturating_sub(now_ms())).saturating_sub(margin)
}

/// Handles one job event: never fails, always reports to CodePipeline when the event
/// names a job. `deadline_ms` is the invocation's deadline; `request_id` its id.
pub async fn handle(
    clients: &Clients,
    config: &TriggerConfig,
    event: &Value,
    deadline_ms: u64,
    request_id: &str,
) -> Value {
    let job = match parse_job(event) {
        Ok(job) => job,
        Err(bad) => {
            error!(message = %one_line(&bad.message), "unusable job event");
            if let Some(id) = &bad.id {
                report(
                    clients,
                    id,
                    &Outcome::misconfigured(bad.message.clone()),
                    request_id,
                )
                .await;
            }
            return serde_json::json!({"jobId": bad.id, "result": "failed"});
        }
    };
    info!(
        job = %job.id,
        object = %format!("s3://{}/{}", job.bucket, job.key),
        follow_up = job.continuation.is_some(),
        "job received"
    );
    let outcome = run(clients, config, &job, deadline_ms).await;
    let result = match &outcome {
        Outcome::Success { .. } => "succeeded",
        Outcome::Continue { .. } => "continued",
        Outcome::Failure { .. } => "failed",
    };
    report(clients, &job.id, &outcome, request_id).await;
    serde_json::json!({"jobId": job.id, "result": result})
}

async fn run(clients: &Clients, config: &TriggerConfig, job: &Job, deadline_ms: u64) -> Outcome {
    let Some(function) = config.function_name.as_deref() else {
        return Outcome::misconfigured(
            "the trigger's FunctionName environment variable (the migrator's name) is not set",
        );
    };
    let dir = job.params.dir.clone().unwrap_or_else(|| config.dir.clone());
    let mut event = MigratorEvent {
        bucket_name: Some(job.bucket.clone()),
        object_key: Some(job.key.clone()),
        command: job.params.command.unwrap_or(MigratorCommand::Up),
        limit: job.params.limit,
        expected_digest: None,
        // Unless the pipeline names a folder, the migrator uses its own MIGRATIONS_DIR;
        // a different folder shows up as a digest mismatch, not a silent no-op.
        dir: job.params.dir.clone(),
        credentials: job.credentials.clone(),
    };
    if let Some(token) = &job.continuation {
        return follow_up(clients, config, function, event, token.clone(), deadline_ms).await;
    }

    // Validate before the database is touched.
    let (digest, total) = match validate(clients, job, &dir).await {
        Ok(v) => v,
        Err(message) => return Outcome::failed(message),
    };
    info!(digest = %digest, migrations = total, "artifact validated");
    event.expected_digest = Some(digest.clone());
    let wait = budget(deadline_ms, config.margin).min(config.read_timeout());
    let token = Continuation {
        v: 1,
        digest,
        total,
        started_ms: now_ms(),
        round: 0,
    };
    match invoke(&clients.lambda, function, &event, wait).await {
        Invoked::Report(report) => outcome_of_report(&report),
        Invoked::FunctionError(e) if e.error_type == ErrorKind::LockTimeout.as_str() => {
            // Another run (a retried delivery of this job, or another pipeline) holds the
            // lock: follow it rather than failing a job whose migrations are applying.
            warn!(message = %one_line(&e.error_message), "migration lock busy; following up");
            Outcome::Continue {
                token,
                summary: "Another run holds the migration lock; waiting for it".into(),
                percent: 0,
            }
        }
        Invoked::FunctionError(e) => outcome_of_error(&e),
        Invoked::StillRunning => Outcome::Continue {
            token,
            summary: "The migrator is still running; following up".into(),
            percent: 0,
        },
        Invoked::CallFailed {
            message,
            configuration,
        } => Outcome::Failure {
            configuration,
            message: truncate(&message, FAILURE_LIMIT),
        },
    }
}

/// Polls the migrator's `status` until the run it follows is done or this invocation's
/// time is nearly up.
async fn follow_up(
    clients: &Clients,
    config: &TriggerConfig,
    function: &str,
    mut event: MigratorEvent,
    token: Continuation,
    deadline_ms: u64,
) -> Outcome {
    event.command = MigratorCommand::Status;
    event.limit = None;
    event.expected_digest = Some(token.digest.clone());
    loop {
        let wait = budget(deadline_ms, config.margin).min(config.read_timeout());
        let report = match invoke(&clients.lambda, function, &event, wait).await {
            Invoked::Report(r) => r,
            Invoked::FunctionError(e) => return outcome_of_error(&e),
            Invoked::CallFailed {
                message,
                configuration,
            } => {
                return Outcome::Failure {
                    configuration,
                    message: truncate(&message, FAILURE_LIMIT),
                };
            }
            Invoked::StillRunning => break,
        };
        if let Some(done) = outcome_of_status(&report, &token) {
            return done;
        }
        info!(
            pending = report.pending.len(),
            "migrator still running; checking again"
        );
        if budget(deadline_ms, config.margin) <= config.poll_interval {
            let applied = report.migrations.saturating_sub(report.pending.len());
            return continue_with(token, applied);
        }
        tokio::time::sleep(config.poll_interval).await;
    }
    continue_with(token, 0)
}

fn continue_with(mut token: Continuation, applied: usize) -> Outcome {
    token.round += 1;
    let percent = (applied * 100)
        .checked_div(token.total)
        .map_or(0, |p| p.min(99) as i32);
    Outcome::Continue {
        summary: format!(
            "The migrator is still running: {applied} of {} migration(s) applied",
            token.total
        ),
        token,
        percent,
    }
}

/// Fetches and parses the artifact; returns its set digest and migration count.
async fn validate(clients: &Clients, job: &Job, dir: &str) -> Result<(String, usize), String> {
    let limits = Limits::default();
    let object = ObjectRef {
        bucket: job.bucket.clone(),
        key: job.key.clone(),
    };
    let (source, fetched) = artifact::fetch_source(
        &object,
        job.credentials.as_ref(),
        clients.region.as_deref(),
        dir,
        Mode::Auto,
        None,
    )
    .await
    .map_err(|e| match e {
        FetchError::Zip { .. } => format!("bad artifact: {e}"),
        _ => format!("reading the artifact failed: {e}"),
    })?;
    info!(
        bytes = fetched.bytes_fetched,
        requests = fetched.requests,
        mode = %fetched.mode,
        "artifact fetched"
    );
    check(&source, dir, &limits)
}

/// Parses every migration of `source`; returns the set digest and the count.
pub fn check(source: &Source, dir: &str, limits: &Limits) -> Result<(String, usize), String> {
    let files = source
        .files(dir, limits)
        .map_err(|e| format!("bad artifact: {e}"))?;
    let migrations = migration::load(files.iter().map(|f| (f.name, f.origin, f.data.as_ref())))
        .map_err(|e| format!("bad migration in {}: {e}", source.display()))?;
    if migrations.is_empty() {
        return Err(format!(
            "bad artifact: {} has no migrations in {dir}/",
            source.display()
        ));
    }
    Ok((migration::digest(&migrations), migrations.len()))
}

/// Sends the outcome to CodePipeline. A job that already has a result (a retried
/// delivery of an event whose first run finished) is logged, not an error.
pub async fn report(clients: &Clients, job_id: &str, outcome: &Outcome, request_id: &str) {
    let external = truncate(request_id, 1500);
    // (already has a result, message) for any failure to send.
    fn classify<E: std::error::Error + 'static, R: std::fmt::Debug>(
        e: SdkError<E, R>,
        invalid_state: impl Fn(&E) -> bool,
    ) -> (bool, String) {
        (
            e.as_service_error().is_some_and(invalid_state),
            aws_smithy_error_chain(&e),
        )
    }
    let success = |summary: &str, percent: i32| {
        clients
            .codepipeline
            .put_job_success_result()
            .job_id(job_id)
            .execution_details(
                ExecutionDetails::builder()
                    .summary(truncate(summary, SUMMARY_LIMIT))
                    .external_execution_id(&external)
                    .percent_complete(percent)
                    .build(),
            )
    };
    let result = match outcome {
        Outcome::Success { summary, variables } => success(summary, 100)
            .set_output_variables(Some(variables.iter().cloned().collect::<HashMap<_, _>>()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(e, |s| s.is_invalid_job_state_exception())),
        Outcome::Continue {
            token,
            summary,
            percent,
        } => {
            let text = serde_json::to_string(token).unwrap_or_default();
            success(summary, *percent)
                .continuation_token(truncate(&text, TOKEN_LIMIT))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify(e, |s| s.is_invalid_job_state_exception()))
        }
        Outcome::Failure {
            configuration,
            message,
        } => {
            let details = FailureDetails::builder()
                .r#type(if *configuration {
                    FailureType::ConfigurationError
                } else {
                    FailureType::JobFailed
                })
                .message(truncate(message, FAILURE_LIMIT))
                .external_execution_id(&external)
                .build();
            match details {
                Err(e) => Err((false, e.to_string())),
                Ok(details) => clients
                    .codepipeline
                    .put_job_failure_result()
                    .job_id(job_id)
                    .failure_details(details)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| classify(e, |s| s.is_invalid_job_state_exception())),
            }
        }
    };
    match result {
        Ok(()) => info!(job = %job_id, outcome = ?outcome_name(outcome), "job result sent"),
        Err((true, message)) => warn!(
            job = %job_id,
            message = %message,
            "the job already has a result (a repeated delivery); nothing sent"
        ),
        Err((false, message)) => {
            error!(job = %job_id, message = %message, "sending the job result failed")
        }
    }
}

fn outcome_name(o: &Outcome) -> &'static str {
    match o {
        Outcome::Success { .. } => "success",
        Outcome::Continue { .. } => "continue",
        Outcome::Failure { .. } => "failure",
    }
}
