//! The `trigger` Lambda: CodePipeline's job worker.
//!
//! It reads the job's input artifact (with the job's `artifactCredentials`), parses every
//! migration so a bad file fails the job before the database is touched, computes the
//! set digest, lints the set (the full report stored beside the artifact; findings at or
//! above `LINT_FAIL_ON` fail the job here, before the migrator is invoked), and invokes
//! the migrator synchronously. Every outcome ends in
//! `PutJobSuccessResult` or `PutJobFailureResult`, never in an error returned to Lambda:
//! CodePipeline invokes asynchronously, and Lambda retries a failed asynchronous
//! invocation twice, which would run the migrations up to three times.
//!
//! Every job ends with one metric line (`JobsSucceeded`, `JobFailures`; see
//! [`super::metrics`]); a job continued into a follow-up counts in neither.
//!
//! A migrator run that outlasts this invocation is followed up with a continuation token:
//! CodePipeline invokes the trigger again with it, and the trigger asks the migrator for
//! `status` until the run has applied everything or stopped. A migrator run that stops
//! at its own deadline with migrations pending is followed by another `up`, at once
//! while this invocation has time, else in a follow-up; a run that applies nothing
//! fails the job, so the chain always ends.

mod config;
pub mod fleet;
mod job;
mod job_result;
mod lint;
mod outcome;
mod review;
mod validate;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use engine::command::{CommandName, ErrorKind, Request};
use serde_json::Value;
use tracing::{error, info, warn};

use super::beside;
use super::metrics::{self, Metric, Unit};
use crate::text::{one_line, truncate};
use crate::wire::{self, Chain, FailureType, Invoked, MigratorEvent, Progress, Step};
pub use config::{Clients, TriggerConfig};
pub use job::{BadJob, Continuation, Job, Next, UserParameters, parse_job};
pub use job_result::put_job_result;
pub use lint::{LINT_SUMMARY_LIMIT, LintCounts, Linted};
pub use outcome::{
    FAILURE_LIMIT, Followed, Outcome, SUMMARY_LIMIT, TOKEN_LIMIT, Variable, outcome_of_error,
    outcome_of_reply, outcome_of_rounds, outcome_of_status,
};
pub use validate::{Checked, check};

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
                put_job_result(
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
    put_job_result(clients, &job.id, &outcome, request_id).await;
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

/// Handles the fleet state machine's summary step (`{"fleet_summary": …}`): see
/// [`crate::fleet_run`]. Unlike a job, a failure here is the invocation's error, which fails the
/// execution (and so the job that follows it).
pub async fn handle_summary(clients: &Clients, event: &Value) -> Result<Value, String> {
    let summary: crate::wire::fleet::SummaryEvent =
        serde_json::from_value(event["fleet_summary"].clone())
            .map_err(|e| format!("bad fleet_summary event: {e}"))?;
    let run = crate::fleet_run::summarize(&clients.s3, &summary)
        .await
        .inspect_err(|e| {
            error!(message = %one_line(e), "the fleet summary failed");
        })?;
    info!(job = %run.job, passed = run.passed, line = %run.line, "fleet run summarised");
    Ok(serde_json::to_value(run).expect("a summary serialises"))
}

async fn run(clients: &Clients, config: &TriggerConfig, job: &Job, deadline_ms: u64) -> Outcome {
    if let Some(token) = job.continuation.as_ref().filter(|t| t.fleet.is_some()) {
        let outcome = fleet::follow(clients, config, job, token.clone(), deadline_ms).await;
        return with_lint(job, token, outcome);
    }
    let function = config.function_name.as_deref();
    if function.is_none() && job.params.fleet.is_none() {
        return Outcome::misconfigured(
            "the trigger's FunctionName environment variable (the migrator's name) is not set",
        );
    }
    let function = function.unwrap_or_default();
    // Checked as `--dir` is: "" is the artifact's root; `..` and absolute paths are refused.
    let dir = match job.params.dir.as_deref().map(engine::source::parse_folder) {
        None => config.dir.clone(),
        Some(Ok(d)) => d,
        Some(Err(e)) => return Outcome::failed(format!("UserParameters: dir: {e}")),
    };
    let command = job.params.command.unwrap_or(CommandName::Up);
    let mut event = MigratorEvent {
        bucket_name: Some(job.bucket.clone()),
        object_key: Some(job.key.clone()),
        request: Request {
            limit: job.params.limit,
            review: job.params.review == Some(true) && command == CommandName::Plan,
            ..Request::new(command)
        },
        // Unless the pipeline names a folder, the migrator uses its own MIGRATIONS_DIR;
        // a different folder shows up as a digest mismatch, not a silent no-op.
        dir: job.params.dir.as_ref().map(|_| dir.clone()),
        credentials: job.credentials.clone(),
        ..MigratorEvent::default()
    };
    let round = Round {
        clients,
        config,
        function,
        deadline_ms,
    };
    if let Some(token) = &job.continuation {
        event.expected_digest = Some(token.digest.clone());
        let outcome = match token.next {
            Next::Up => round.apply(event, token.clone()).await,
            Next::Status => round.follow_up(event, token.clone()).await,
        };
        // The first invocation linted and stored the report; its counts came along.
        return with_lint(job, token, outcome);
    }

    // Validate and lint before the database is touched.
    let checked = match validate::validate(clients, config, job, &dir).await {
        Ok(v) => v,
        Err(message) => return Outcome::failed(message),
    };
    info!(digest = %checked.digest, migrations = checked.total, "artifact validated");
    let linted = match lint_job(clients, config, job, &checked.lint).await {
        Ok(linted) => linted,
        Err(refused) => return refused,
    };
    if command == CommandName::Verify {
        return linted.annotate(outcome::outcome_of_verify(&checked.digest, checked.total));
    }
    if let Some(params) = &job.params.fleet {
        let outcome = fleet::start(
            clients,
            config,
            job,
            params,
            command,
            (&checked.digest, checked.total, Some(linted.counts)),
            deadline_ms,
        )
        .await;
        return linted.annotate(outcome);
    }
    event.expected_digest = Some(checked.digest.clone());
    let token = Continuation {
        v: 1,
        digest: checked.digest,
        total: checked.total,
        started_ms: now_ms(),
        round: 0,
        next: Next::Status,
        applied: 0,
        lint: Some(linted.counts),
        fleet: None,
    };
    let outcome = if command != CommandName::Up {
        match round.invoke(&event).await {
            Invoked::Reply(reply) => match reply.report.run().and_then(|r| r.review()) {
                Some(r) => {
                    round
                        .reviewed(job, event, &r, outcome_of_reply(&reply))
                        .await
                }
                None => outcome_of_reply(&reply),
            },
            other => round.not_answered(other, token),
        }
    } else {
        round.apply(event, token).await
    };
    linted.annotate(outcome)
}

/// A follow-up's outcome with the first invocation's lint counts, which came along in
/// the token (the report was stored then).
fn with_lint(job: &Job, token: &Continuation, outcome: Outcome) -> Outcome {
    match token.lint {
        Some(counts) => {
            let key = beside::key_beside(&job.key, beside::LINT_REPORT);
            let location = format!("s3://{}/{key}", job.bucket);
            lint::resumed(counts, key, &location).annotate(outcome)
        }
        None => outcome,
    }
}

/// Stores the set's lint report beside the artifact, then refuses the job when findings
/// reach the failing severity: before the migrator is invoked, naming each finding and
/// where the full report is. A report that cannot be stored fails the job too (as a
/// configuration error when the lint itself passed): the pipeline promised it.
async fn lint_job(
    clients: &Clients,
    config: &TriggerConfig,
    job: &Job,
    report: &engine::lint::LintReport,
) -> Result<Linted, Outcome> {
    let body = serde_json::to_vec(report).map_err(|e| {
        Outcome::failed(format!(
            "internal error: the lint report does not serialize: {e}"
        ))
    })?;
    let stored = beside::store_beside(
        &clients.s3,
        &job.bucket,
        &job.key,
        beside::LINT_REPORT,
        body,
    )
    .await;
    let location = match &stored {
        Ok(key) => format!("s3://{}/{key}", job.bucket),
        Err(e) => format!("not stored ({e})"),
    };
    let s = &report.summary;
    info!(
        errors = s.errors,
        warnings = s.warnings,
        notices = s.notices,
        suppressed = s.suppressed,
        unparsed = s.unparsed,
        fail_on = config.lint_fail_on.as_str(),
        report = %location,
        "artifact linted"
    );
    if let Some(message) = lint::refusal(report, config.lint_fail_on, &location) {
        warn!(message = %one_line(&message), "lint refused the job");
        return Err(Outcome::failed(message));
    }
    match stored {
        Ok(key) => Ok(lint::passed(report, key, &location)),
        Err(e) => {
            error!(message = %one_line(&e.to_string()), "the lint report was not stored");
            Err(Outcome::misconfigured(truncate(
                &format!(
                    "{e}; the trigger's role needs s3:PutObject on the artifact bucket's \
                     *.{} keys",
                    beside::LINT_REPORT.suffix
                ),
                FAILURE_LIMIT,
            )))
        }
    }
}

/// One trigger invocation's dealings with the migrator.
struct Round<'a> {
    clients: &'a Clients,
    config: &'a TriggerConfig,
    function: &'a str,
    deadline_ms: u64,
}

impl Round<'_> {
    /// A reviewed plan's result: the review's page and JSON stored beside the artifact,
    /// then the SQL script `up` would send (asked of the migrator as `plan --sql`) beside
    /// them, for a DBA who applies by hand; the variables the approval shows and links.
    async fn reviewed(
        &self,
        job: &Job,
        mut event: MigratorEvent,
        r: &engine::review::Review,
        outcome: Outcome,
    ) -> Outcome {
        let region = self.clients.region.as_deref();
        let stored = review::store(&self.clients.s3, &job.bucket, &job.key, region, r).await;
        let mut outcome = match stored {
            Ok(reviewed) => reviewed.annotate(outcome),
            Err(e) => {
                return Outcome::misconfigured(format!(
                    "the review could not be stored for the approval: {e}; the trigger's \
                     role needs s3:PutObject on *.{} and *.{}",
                    beside::REVIEW_PAGE.suffix,
                    beside::REVIEW_JSON.suffix
                ));
            }
        };
        event.request = Request {
            limit: event.request.limit,
            sql: true,
            ..Request::new(CommandName::Plan)
        };
        let script = match self.invoke(&event).await {
            Invoked::Reply(reply) => reply.report.run().and_then(|r| r.sql.clone()),
            _ => None,
        };
        let Some(script) = script else {
            return Outcome::failed(
                "the migrator did not return the SQL script of the reviewed plan",
            );
        };
        let body = script.into_bytes();
        match beside::store_beside(
            &self.clients.s3,
            &job.bucket,
            &job.key,
            beside::PLAN_SQL,
            body,
        )
        .await
        {
            Ok(key) => {
                if let Outcome::Success { variables, .. } = &mut outcome {
                    variables.push((outcome::Variable::PlanSqlKey, key));
                }
                outcome
            }
            Err(e) => Outcome::misconfigured(format!(
                "the plan's SQL script could not be stored: {e}; the trigger's role needs \
                 s3:PutObject on *.{}",
                beside::PLAN_SQL.suffix
            )),
        }
    }

    /// Time left for another migrator call.
    fn budget(&self) -> Duration {
        budget(self.deadline_ms, self.config.margin)
    }

    /// Invokes the migrator with `event`, waiting at most what this invocation has left.
    async fn invoke(&self, event: &MigratorEvent) -> Invoked {
        let wait = self.budget().min(self.config.read_timeout());
        let payload = serde_json::to_vec(event).expect("an event always serializes");
        wire::invoke(&self.clients.lambda, self.function, payload, wait).await
    }

    /// Runs `up` until nothing is pending: each migrator run that stops at its deadline
    /// (having applied something) is followed by another, here while this invocation
    /// has time, else in a follow-up that resumes the chain from the token.
    async fn apply(&self, mut event: MigratorEvent, mut token: Continuation) -> Outcome {
        event.request = Request {
            limit: event.request.limit,
            ..Request::new(CommandName::Up)
        };
        let progress = Progress {
            applied: token.applied,
            runs: token.round,
        };
        let mut chain = Chain::resume(event, progress);
        while let Some(event) = chain.next_request() {
            let step = chain.feed(self.invoke(&event).await);
            let failure = step.failure(self.function);
            match step {
                Step::Invoke { steps, pending, .. } => {
                    let progress = chain.progress();
                    (token.applied, token.round) = (progress.applied, progress.runs);
                    info!(
                        applied = steps.len(),
                        pending, "the migrator stopped at its deadline; running up again"
                    );
                    if self.budget() <= self.config.poll_interval {
                        token.next = Next::Up;
                        return continue_with(token, "The migrator stopped at its deadline");
                    }
                }
                Step::Done(done) => return outcome::outcome_of_rounds(&done.reply, &token),
                Step::Stalled(_) | Step::RunLimit(_) => {
                    let (_, message) = failure.expect("a stopped chain has a failure");
                    return Outcome::failed(truncate(&message, FAILURE_LIMIT));
                }
                Step::Failed(invoked) => return self.not_answered(invoked, token),
            }
        }
        unreachable!("a chain is over only after a step that ends this loop")
    }

    /// What a call that gave no reply means for the job.
    fn not_answered(&self, invoked: Invoked, mut token: Continuation) -> Outcome {
        token.next = Next::Status;
        match invoked {
            Invoked::Reply(reply) => outcome_of_reply(&reply),
            Invoked::FunctionError(e)
                if e.error_type == FailureType::Ours(ErrorKind::LockTimeout) =>
            {
                // Another run (a retried delivery of this job, or another pipeline) holds
                // the lock: follow it rather than failing a job whose migrations apply.
                warn!(message = %one_line(&e.error_message), "migration lock busy; following up");
                Outcome::Continue {
                    token,
                    summary: "Another run holds the migration lock; waiting for it".into(),
                    percent: 0,
                }
            }
            Invoked::FunctionError(e) => outcome_of_error(&e),
            Invoked::StillRunning { .. } => continue_with(token, "The migrator is still running"),
            Invoked::CallFailed {
                message,
                configuration,
            } => Outcome::Failure {
                configuration,
                message: truncate(&message, FAILURE_LIMIT),
            },
            Invoked::Unreadable { message } => {
                Outcome::misconfigured(truncate(&message, FAILURE_LIMIT))
            }
        }
    }

    /// Polls the migrator's `status` until the run it follows is done or this
    /// invocation's time is nearly up; a run that stopped cleanly with migrations
    /// pending (at its deadline) is carried on with `up`.
    async fn follow_up(&self, mut event: MigratorEvent, token: Continuation) -> Outcome {
        let up = event.request.clone();
        event.request = Request::new(CommandName::Status);
        loop {
            let reply = match self.invoke(&event).await {
                Invoked::Reply(r) => r,
                Invoked::StillRunning { .. } => {
                    return continue_with(token, "The migrator is still running");
                }
                other => return self.not_answered(other, token),
            };
            match outcome_of_status(&reply, &token) {
                Followed::Done(outcome) => return outcome,
                Followed::Stopped => {
                    event.request = up;
                    return self.apply(event, token).await;
                }
                Followed::Running => {}
            }
            info!(
                pending = reply.pending.len(),
                "migrator still running; checking again"
            );
            if self.budget() <= self.config.poll_interval {
                return continue_with(token, "The migrator is still running");
            }
            tokio::time::sleep(self.config.poll_interval).await;
        }
    }
}

fn continue_with(mut token: Continuation, head: &str) -> Outcome {
    token.round += 1;
    let applied = token.applied;
    let percent = (applied * 100)
        .checked_div(token.total)
        .map_or(0, |p| p.min(99) as i32);
    Outcome::Continue {
        summary: format!(
            "{head}: following up ({applied} of {} migration(s) applied by earlier runs)",
            token.total
        ),
        token,
        percent,
    }
}
