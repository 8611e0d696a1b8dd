//! The `trigger` Lambda: CodePipeline's job worker.
//!
//! It reads the job's input artifact (with the job's `artifactCredentials`), parses every
//! migration so a bad file fails the job before the database is touched, computes the
//! set digest, and invokes the migrator synchronously. Every outcome ends in
//! `PutJobSuccessResult` or `PutJobFailureResult`, never in an error returned to Lambda:
//! CodePipeline invokes asynchronously, and Lambda retries a failed asynchronous
//! invocation twice, which would run the migrations up to three times.
//!
//! Every job ends with one metric line (`JobsSucceeded`, `JobFailures`; see
//! [`super::metrics`]); a job continued into a follow-up counts in neither.
//!
//! A migrator run that outlasts this invocation is followed up with a continuation token:
//! CodePipeline invokes the trigger again with it, and the trigger asks the migrator for
//! `status` until the run has applied everything or stopped.

mod config;
mod job;
mod outcome;
mod report;
mod validate;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use engine::command::{CommandName, ErrorKind, Request};
use serde_json::Value;
use tracing::{error, info, warn};

use super::metrics::{self, Metric, Unit};
use crate::text::{one_line, truncate};
use crate::wire::{self, Invoked, MigratorEvent};
pub use config::{Clients, TriggerConfig};
pub use job::{BadJob, Continuation, Job, UserParameters, parse_job};
pub use outcome::{
    FAILURE_LIMIT, Outcome, SUMMARY_LIMIT, TOKEN_LIMIT, outcome_of_error, outcome_of_report,
    outcome_of_status,
};
pub use report::report;
pub use validate::check;

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
            job_metrics(false, true);
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
    job_metrics(
        matches!(outcome, Outcome::Success { .. }),
        matches!(outcome, Outcome::Failure { .. }),
    );
    serde_json::json!({"jobId": job.id, "result": result})
}

/// Prints the job's metric line.
fn job_metrics(succeeded: bool, failed: bool) {
    metrics::emit(&[
        Metric::new("JobsSucceeded", Unit::Count, u64::from(succeeded)),
        Metric::new("JobFailures", Unit::Count, u64::from(failed)),
    ]);
}

async fn run(clients: &Clients, config: &TriggerConfig, job: &Job, deadline_ms: u64) -> Outcome {
    let Some(function) = config.function_name.as_deref() else {
        return Outcome::misconfigured(
            "the trigger's FunctionName environment variable (the migrator's name) is not set",
        );
    };
    let dir = job.params.dir.clone().unwrap_or_else(|| config.dir.clone());
    let command = job.params.command.unwrap_or(CommandName::Up);
    let mut event = MigratorEvent {
        bucket_name: Some(job.bucket.clone()),
        object_key: Some(job.key.clone()),
        request: Request {
            limit: job.params.limit,
            ..Request::new(command)
        },
        // Unless the pipeline names a folder, the migrator uses its own MIGRATIONS_DIR;
        // a different folder shows up as a digest mismatch, not a silent no-op.
        dir: job.params.dir.clone(),
        credentials: job.credentials.clone(),
        ..MigratorEvent::default()
    };
    if let Some(token) = &job.continuation {
        return follow_up(clients, config, function, event, token.clone(), deadline_ms).await;
    }

    // Validate before the database is touched.
    let (digest, total) = match validate::validate(clients, config, job, &dir).await {
        Ok(v) => v,
        Err(message) => return Outcome::failed(message),
    };
    info!(digest = %digest, migrations = total, "artifact validated");
    if command == CommandName::Verify {
        return outcome::outcome_of_verify(&digest, total);
    }
    event.expected_digest = Some(digest.clone());
    let wait = budget(deadline_ms, config.margin).min(config.read_timeout());
    let token = Continuation {
        v: 1,
        digest,
        total,
        started_ms: now_ms(),
        round: 0,
    };
    match invoke(clients, function, &event, wait).await {
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
    event.request = Request::new(CommandName::Status);
    event.expected_digest = Some(token.digest.clone());
    loop {
        let wait = budget(deadline_ms, config.margin).min(config.read_timeout());
        let report = match invoke(clients, function, &event, wait).await {
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

/// Invokes the migrator with `event`, waiting at most `wait`.
async fn invoke(
    clients: &Clients,
    function: &str,
    event: &MigratorEvent,
    wait: Duration,
) -> Invoked {
    let payload = serde_json::to_vec(event).expect("an event always serializes");
    wire::invoke(&clients.lambda, function, payload, wait).await
}
