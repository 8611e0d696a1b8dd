//! The trigger's two parts in a fleet run (DESIGN.md, "Fleet on Step Functions"):
//!
//! - **fleet mode**: a job whose UserParameters name a `fleet` manifest. The artifact is
//!   validated and linted once (as for any job, by the caller); then the manifest is read
//!   from the artifact bucket and checked, the non-canary targets are written as
//!   `<prefix><job>/items.json`, and the state machine is started with an execution
//!   named after the job (a retried job finds its first execution instead of starting a
//!   second). The job follows it with continuation tokens and ends on the run's summary.
//! - **the summary step**: the state machine invokes the trigger with
//!   `{"fleet_summary": …}` at the end of every run. It reads every per-invocation
//!   record, gathers each target's result ([`engine::fleet::collect`]), judges the run
//!   ([`engine::fleet::judge`]), writes `results.jsonl` and `summary.json`, and answers
//!   `{"passed": …}`, which decides how the execution ends.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_smithy_types::error::display::DisplayErrorContext;
use engine::command::{CommandName, ErrorKind};
use engine::fleet::manifest::{self, Secrets};
use engine::fleet::{Aborted, Budget, Outcome as Ended, Record, Summary, TargetResult};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{info, warn};

use super::outcome::{FAILURE_LIMIT, Outcome, SUMMARY_LIMIT, VARIABLE_LIMIT, Variable};
use super::{Clients, Continuation, Job, Next, TriggerConfig, budget};
use crate::text::{list_within, truncate};
use crate::wire::FleetTarget;

/// The largest items file or record read back (a record holds one target's result).
const RECORD_LIMIT: i64 = 1 << 20;
/// The largest items file read back: 10,000 targets of at most ~2.2 KB.
const ITEMS_LIMIT: i64 = 32 << 20;
/// Records read at once by the summary.
const READS_AT_ONCE: usize = 16;

/// UserParameters' `fleet`: where the manifest is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetParams {
    /// The manifest's key in the artifact bucket, under `FLEET_RESULTS_PREFIX` (the
    /// trigger's role reads only there), e.g. `fleet/manifests/tenants.jsonl`.
    pub manifest: String,
}

/// An S3 object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    /// Its bucket.
    pub bucket: String,
    /// Its key.
    pub key: String,
}

/// The validated artifact the targets run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// Its bucket.
    pub bucket: String,
    /// Its key.
    pub key: String,
    /// The set digest the trigger validated.
    pub digest: String,
}

/// Where a run's records and results go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Results {
    /// The artifact bucket.
    pub bucket: String,
    /// `<FLEET_RESULTS_PREFIX><job>/`.
    pub prefix: String,
}

/// The execution's input (the contract's first table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionInput {
    /// The run's id: the execution's name.
    pub job: String,
    /// The artifact.
    pub artifact: Artifact,
    /// `up`, `plan` or `status`.
    pub command: CommandName,
    /// The canaries, in order.
    pub canary: Vec<FleetTarget>,
    /// The JSON array of the other targets.
    pub items: Object,
    /// Where the records and results go.
    pub results: Results,
}

/// The summary step's event: `{"fleet_summary": …}`.
#[derive(Debug, Clone, Deserialize)]
pub struct SummaryEvent {
    /// The run's id.
    pub job: String,
    /// The execution's ARN.
    pub execution: String,
    /// The command the targets ran.
    pub command: CommandName,
    /// The canaries.
    pub canary: Vec<FleetTarget>,
    /// The other targets' items file.
    pub items: Object,
    /// Where the records are and the results go.
    pub results: Results,
    /// `{}`, or which map failed: `{"canary": {"Error", "Cause"}}` / `{"fleet": …}`.
    pub aborted: Value,
    /// The failure budget, in percent.
    pub tolerate: f64,
}

/// What the summary writes as `summary.json`, and answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    /// Whether the run passed: the state machine reads only this.
    pub passed: bool,
    /// The run's id.
    pub job: String,
    /// The execution's ARN.
    pub execution: String,
    /// The command.
    pub command: CommandName,
    /// The verdict's numbers.
    pub summary: Summary,
    /// The verdict in one line.
    pub line: String,
    /// The failed targets (at most 100): name, kind and the message's first 300 characters.
    pub failed: Vec<Failed>,
    /// The per-target results' key.
    pub results_key: String,
}

/// A failed target, as the summary lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failed {
    /// Its name.
    pub name: String,
    /// Its failure's kind, when it has one.
    pub error_kind: Option<String>,
    /// Its message, cut.
    pub message: Option<String>,
}

/// A follow-up's memory of the run it follows (inside the continuation token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetFollow {
    /// The execution's ARN.
    pub execution: String,
    /// The run's results prefix in the job's bucket.
    pub prefix: String,
}

fn sdk_error<E: std::error::Error + ProvideErrorMetadata + 'static, R: std::fmt::Debug>(
    e: &aws_sdk_sfn::error::SdkError<E, R>,
) -> String {
    match e.as_service_error() {
        Some(s) => format!(
            "{}: {}",
            s.code().unwrap_or("error"),
            s.message().unwrap_or("no message")
        ),
        None => DisplayErrorContext(e).to_string(),
    }
}

/// Reads at most `limit` bytes of an object (more is an error, not a cut).
async fn get(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    limit: i64,
) -> Result<Vec<u8>, String> {
    let where_ = format!("s3://{bucket}/{key}");
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| format!("{where_}: {}", DisplayErrorContext(&e)))?;
    if out.content_length().unwrap_or(0) > limit {
        return Err(format!("{where_}: larger than {limit} bytes"));
    }
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| format!("{where_}: {e}"))?
        .into_bytes();
    if bytes.len() as i64 > limit {
        return Err(format!("{where_}: larger than {limit} bytes"));
    }
    Ok(bytes.to_vec())
}

async fn put(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    content_type: &str,
) -> Result<(), String> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .body(ByteStream::from(body))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("s3://{bucket}/{key}: {}", DisplayErrorContext(&e)))
}

/// The execution ARN of `name` on `state_machine`.
fn execution_arn(state_machine: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        state_machine.replacen(":stateMachine:", ":execution:", 1)
    )
}

/// Starts the fleet run of a validated artifact (the job's first invocation), then
/// follows it. `digest` is the validated set's.
pub(super) async fn start(
    clients: &Clients,
    config: &TriggerConfig,
    job: &Job,
    params: &FleetParams,
    command: CommandName,
    checked: (&str, usize, Option<super::lint::LintCounts>),
    deadline_ms: u64,
) -> Outcome {
    let (digest, total, lint) = checked;
    let Some(machine) = config.fleet.state_machine.as_deref() else {
        return Outcome::misconfigured(
            "UserParameters name a fleet manifest, but the trigger has no FLEET_STATE_MACHINE_ARN: deploy the stack with fleet=true",
        );
    };
    if !matches!(
        command,
        CommandName::Up | CommandName::Plan | CommandName::Status
    ) {
        return Outcome::failed(format!(
            "UserParameters: a fleet run is up, plan or status, not {command}"
        ));
    }
    let bytes = match get(
        &clients.s3,
        &job.bucket,
        &params.manifest,
        manifest::MAX_BYTES as i64 + 1,
    )
    .await
    {
        Ok(b) => b,
        Err(e) => {
            return Outcome::misconfigured(truncate(
                &format!("the fleet manifest could not be read: {e}"),
                FAILURE_LIMIT,
            ));
        }
    };
    let secrets = match &config.fleet.secret_prefix {
        Some(p) => Secrets::Prefix(p),
        None => Secrets::Unset,
    };
    let parsed = match manifest::parse(&bytes, secrets) {
        Ok(m) => m,
        Err(e) => {
            return Outcome::failed(truncate(
                &format!(
                    "fleet manifest s3://{}/{}: {e}",
                    job.bucket, params.manifest
                ),
                FAILURE_LIMIT,
            ));
        }
    };
    let order = engine::fleet::order(&parsed, Some(config.fleet.canary));
    let (canary, items) = order.targets.split_at(order.canaries);
    let prefix = format!("{}{}/", config.fleet.results_prefix, job.id);
    let items_key = format!("{prefix}items.json");
    let items: Vec<FleetTarget> = items.iter().map(|t| FleetTarget::of(t)).collect();
    let body = serde_json::to_vec(&items).expect("targets serialise");
    if let Err(e) = put(
        &clients.s3,
        &job.bucket,
        &items_key,
        body,
        "application/json",
    )
    .await
    {
        return Outcome::misconfigured(truncate(
            &format!("the fleet run's items could not be written: {e}"),
            FAILURE_LIMIT,
        ));
    }
    let input = ExecutionInput {
        job: job.id.clone(),
        artifact: Artifact {
            bucket: job.bucket.clone(),
            key: job.key.clone(),
            digest: digest.to_owned(),
        },
        command,
        canary: canary.iter().map(|t| FleetTarget::of(t)).collect(),
        items: Object {
            bucket: job.bucket.clone(),
            key: items_key,
        },
        results: Results {
            bucket: job.bucket.clone(),
            prefix: prefix.clone(),
        },
    };
    let started = clients
        .sfn
        .start_execution()
        .state_machine_arn(machine)
        .name(&job.id)
        .input(serde_json::to_string(&input).expect("the input serialises"))
        .send()
        .await;
    let execution = match started {
        Ok(out) => out.execution_arn().to_owned(),
        // The job was retried: follow the first run, never start a second.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_execution_already_exists()) =>
        {
            warn!(job = %job.id, "the fleet execution already exists; following it");
            execution_arn(machine, &job.id)
        }
        Err(e) => {
            return Outcome::misconfigured(truncate(
                &format!(
                    "starting the fleet state machine {machine} failed: {}",
                    sdk_error(&e)
                ),
                FAILURE_LIMIT,
            ));
        }
    };
    info!(
        execution = %execution,
        canaries = canary.len(),
        targets = order.targets.len(),
        "fleet run started"
    );
    let token = Continuation {
        v: 1,
        digest: digest.to_owned(),
        total,
        started_ms: super::now_ms(),
        round: 0,
        next: Next::Status,
        applied: 0,
        lint,
        fleet: Some(FleetFollow { execution, prefix }),
    };
    follow(clients, config, job, token, deadline_ms).await
}

/// Follows the run in `token` until it ends or this invocation must report, then
/// reports its summary (or continues).
pub(super) async fn follow(
    clients: &Clients,
    config: &TriggerConfig,
    job: &Job,
    mut token: Continuation,
    deadline_ms: u64,
) -> Outcome {
    let Some(run) = token.fleet.clone() else {
        return Outcome::failed("internal error: a fleet follow-up without its run");
    };
    loop {
        let described = clients
            .sfn
            .describe_execution()
            .execution_arn(&run.execution)
            .send()
            .await;
        let out = match described {
            Ok(out) => out,
            Err(e) => {
                return Outcome::misconfigured(truncate(
                    &format!(
                        "following the fleet execution {} failed: {}",
                        run.execution,
                        sdk_error(&e)
                    ),
                    FAILURE_LIMIT,
                ));
            }
        };
        let status = out.status().as_str().to_owned();
        if status != "RUNNING" && status != "PENDING_REDRIVE" {
            return ended(clients, job, &run, &status, out.error(), out.cause()).await;
        }
        if budget(deadline_ms, config.margin) <= config.poll_interval {
            token.round += 1;
            let summary = format!(
                "Fleet run {} still running (check {})",
                run.execution, token.round
            );
            return Outcome::Continue {
                token,
                summary,
                percent: 50,
            };
        }
        tokio::time::sleep(config.poll_interval).await;
    }
}

/// The job's end once the execution has ended with `status`.
async fn ended(
    clients: &Clients,
    job: &Job,
    run: &FleetFollow,
    status: &str,
    error: Option<&str>,
    cause: Option<&str>,
) -> Outcome {
    let key = format!("{}summary.json", run.prefix);
    let read = get(&clients.s3, &job.bucket, &key, RECORD_LIMIT).await;
    let summary = match read.map(|b| serde_json::from_slice::<RunSummary>(&b)) {
        Ok(Ok(s)) => s,
        other => {
            let why = match other {
                Ok(Err(e)) => format!("its summary is unreadable: {e}"),
                Err(e) => format!("no summary: {e}"),
                Ok(Ok(_)) => unreachable!(),
            };
            return Outcome::failed(truncate(
                &format!(
                    "the fleet execution {} ended {status} ({}: {}) and {why}",
                    run.execution,
                    error.unwrap_or("no error"),
                    cause.map(|c| truncate(c, 1000)).unwrap_or_default()
                ),
                FAILURE_LIMIT,
            ));
        }
    };
    outcome_of_summary(&summary, &job.bucket)
}

/// The job's result for a run's summary: success when it passed, listing the failures
/// either way.
pub fn outcome_of_summary(s: &RunSummary, bucket: &str) -> Outcome {
    let failures: Vec<String> = s
        .failed
        .iter()
        .map(|f| match &f.error_kind {
            Some(k) => format!("{} ({k})", f.name),
            None => f.name.clone(),
        })
        .collect();
    let head = format!(
        "Fleet {}: {}. Results: s3://{bucket}/{}",
        s.command, s.line, s.results_key
    );
    if !s.passed {
        let detail: Vec<String> = s
            .failed
            .iter()
            .map(|f| {
                format!(
                    "{}: {}{}",
                    f.name,
                    f.error_kind
                        .as_deref()
                        .map(|k| format!("{k}: "))
                        .unwrap_or_default(),
                    f.message.as_deref().unwrap_or("")
                )
            })
            .collect();
        return Outcome::failed(list_within(
            &format!("{head}. Failed: "),
            &detail,
            FAILURE_LIMIT,
        ));
    }
    let summary = if failures.is_empty() {
        truncate(&head, SUMMARY_LIMIT)
    } else {
        list_within(&format!("{head}. Failed: "), &failures, SUMMARY_LIMIT)
    };
    let c = &s.summary.counts;
    let names: Vec<String> = s.failed.iter().map(|f| f.name.clone()).collect();
    Outcome::Success {
        summary,
        variables: vec![
            (
                Variable::FleetExecution,
                truncate(&s.execution, VARIABLE_LIMIT),
            ),
            (
                Variable::FleetResultsKey,
                truncate(&s.results_key, VARIABLE_LIMIT),
            ),
            (Variable::FleetApplied, c.applied.to_string()),
            (Variable::FleetUpToDate, c.up_to_date.to_string()),
            (Variable::FleetPending, c.pending.to_string()),
            (Variable::FleetFailed, c.failed.to_string()),
            (Variable::FleetNotRun, c.not_run.to_string()),
            (
                Variable::FleetFailedTargets,
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    list_within("", &names, VARIABLE_LIMIT)
                },
            ),
        ],
    }
}

/// The summary step: gathers the run's records into results, judges the run, writes
/// `results.jsonl` and `summary.json`, and answers the summary. An error (S3 refused) is
/// the invocation's error: the state machine then fails, and the job with it.
pub async fn summarize(
    s3: &aws_sdk_s3::Client,
    event: &SummaryEvent,
) -> Result<RunSummary, String> {
    let budget = Budget::new(event.tolerate)
        .ok_or_else(|| format!("tolerate {} is not a percentage", event.tolerate))?;
    let items = get(s3, &event.items.bucket, &event.items.key, ITEMS_LIMIT).await?;
    let items: Vec<FleetTarget> = serde_json::from_slice(&items)
        .map_err(|e| format!("s3://{}/{}: {e}", event.items.bucket, event.items.key))?;
    let names: Vec<&str> = event
        .canary
        .iter()
        .chain(&items)
        .map(|t| t.name.as_str())
        .collect();
    let records = read_records(s3, &event.results).await?;
    let aborted = match event.aborted.as_object() {
        Some(o) if o.contains_key("canary") => Aborted::Canary,
        Some(o) if o.contains_key("fleet") => Aborted::Fleet(
            o["fleet"]
                .get("Error")
                .and_then(Value::as_str)
                .unwrap_or("an error")
                .to_owned(),
        ),
        _ => Aborted::No,
    };
    let results = engine::fleet::collect(&names, &records, &aborted);
    let canaries: Vec<&str> = event.canary.iter().map(|t| t.name.as_str()).collect();
    let summary = engine::fleet::judge(&results, event.command, budget, |n| canaries.contains(&n));
    let results_key = format!("{}results.jsonl", event.results.prefix);
    let mut lines = String::new();
    for r in &results {
        lines.push_str(&r.to_line());
        lines.push('\n');
    }
    put(
        s3,
        &event.results.bucket,
        &results_key,
        lines.into_bytes(),
        "application/x-ndjson",
    )
    .await?;
    let run = RunSummary {
        passed: summary.passed,
        job: event.job.clone(),
        execution: event.execution.clone(),
        command: event.command,
        line: summary.line(),
        summary,
        failed: failed(&results),
        results_key,
    };
    let key = format!("{}summary.json", event.results.prefix);
    let body = serde_json::to_vec_pretty(&run).expect("a summary serialises");
    put(s3, &event.results.bucket, &key, body, "application/json").await?;
    info!(job = %run.job, passed = run.passed, line = %run.line, "fleet run summarised");
    Ok(run)
}

/// The failed targets (then those not run) for the job's report, at most 100.
fn failed(results: &[TargetResult]) -> Vec<Failed> {
    results
        .iter()
        .filter(|r| r.outcome == Ended::Failed)
        .chain(results.iter().filter(|r| r.outcome == Ended::NotRun))
        .take(100)
        .map(|r| Failed {
            name: r.name.clone(),
            error_kind: r
                .error_kind
                .map(|k: ErrorKind| k.as_str().to_owned())
                .or_else(|| (r.outcome == Ended::NotRun).then(|| "not-run".to_owned())),
            message: r.message.as_deref().map(|m| truncate(m, 300)),
        })
        .collect()
}

/// Every record under the run's `targets/`, checked against its key (a record whose
/// content disagrees with where it is is left out, with a warning).
async fn read_records(s3: &aws_sdk_s3::Client, results: &Results) -> Result<Vec<Record>, String> {
    let folder = format!("{}{}", results.prefix, engine::fleet::record::TARGETS);
    let mut keys = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(&results.bucket)
        .prefix(&folder)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            format!(
                "listing s3://{}/{folder}: {}",
                results.bucket,
                DisplayErrorContext(&e)
            )
        })?;
        for o in page.contents() {
            if let Some(k) = o.key() {
                keys.push(k.to_owned());
            }
        }
    }
    let reads = futures_util::stream::iter(keys.into_iter().map(|key| async move {
        let bytes = get(s3, &results.bucket, &key, RECORD_LIMIT).await;
        (key, bytes)
    }))
    .buffer_unordered(READS_AT_ONCE)
    .collect::<Vec<_>>()
    .await;
    let mut records = Vec::new();
    for (key, bytes) in reads {
        let Some((name, follow_up, attempt)) =
            engine::fleet::record::parse_key(&results.prefix, &key)
        else {
            warn!(key = %key, "not a record key; ignored");
            continue;
        };
        let record: Record = match serde_json::from_slice(&bytes?) {
            Ok(r) => r,
            Err(e) => {
                warn!(key = %key, error = %e, "an unreadable record; ignored");
                continue;
            }
        };
        if record.name != name || record.follow_up != follow_up || record.attempt != attempt {
            warn!(key = %key, "a record that disagrees with its key; ignored");
            continue;
        }
        records.push(record);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_execution_arn_is_the_machines_with_the_name() {
        assert_eq!(
            execution_arn(
                "arn:aws:states:us-east-1:123456789012:stateMachine:lm-fleet",
                "job-1"
            ),
            "arn:aws:states:us-east-1:123456789012:execution:lm-fleet:job-1"
        );
    }
}
