//! The trigger's two parts in a fleet run (DESIGN.md, "Fleet on Step Functions"):
//!
//! - **fleet mode**: a job whose UserParameters name a `fleet` manifest. The artifact is
//!   validated and linted once (as for any job, by the caller); then the manifest is read
//!   from the artifact bucket and checked, the non-canary targets are written as
//!   `<prefix><job>/items.json`, and the state machine is started with an execution
//!   named after the job (a retried job finds its first execution instead of starting a
//!   second). The job follows it with continuation tokens and ends on the run's summary.
//! - **the summary step**: the state machine invokes the trigger with
//!   `{"fleet_summary": …}` at the end of every run ([`super::handle_summary`], which
//!   runs [`crate::fleet_run::summarize`]: the records gathered into each target's
//!   result, the run judged, `results.jsonl` and `summary.json` written, and `{"passed":
//!   …}` answered, which decides how the execution ends).
//!
//! Starting, following and reading a run are [`crate::fleet_run`]'s, shared with the CLI.

use engine::command::CommandName;
use engine::fleet::manifest::{self, Secrets};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::outcome::{FAILURE_LIMIT, Outcome, SUMMARY_LIMIT, VARIABLE_LIMIT, Variable};
use super::{Clients, Continuation, Job, Next, TriggerConfig, budget};
use crate::fleet_run::{self, get};
use crate::text::{list_within, truncate};
use crate::wire::fleet::{Artifact, ExecutionInput, FleetTarget, Object, Results, RunSummary};

/// UserParameters' `fleet`: where the manifest is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetParams {
    /// The manifest's key in the artifact bucket, under `FLEET_RESULTS_PREFIX` (the
    /// trigger's role reads only there), e.g. `fleet/manifests/tenants.jsonl`.
    pub manifest: String,
}

/// A follow-up's memory of the run it follows (inside the continuation token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetFollow {
    /// The execution's ARN.
    pub execution: String,
    /// The run's results prefix in the job's bucket.
    pub prefix: String,
}

/// Starts the fleet run of a validated artifact (the job's first invocation), then
/// follows it. `checked` is the validated set's digest and size, and the lint's counts.
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
    if !engine::fleet::COMMANDS.contains(&command) {
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
                &format!(
                    "the fleet manifest could not be read: {e} (it must be uploaded to the artifact bucket first, and objects there expire with the bucket's lifecycle, 90 days by default: upload it again)"
                ),
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
    let execution =
        match fleet_run::launch(&clients.s3, &clients.sfn, machine, &input, &items).await {
            Ok(l) => {
                if l.existed {
                    // The job was retried: follow the first run, never start a second.
                    warn!(job = %job.id, "the fleet execution already exists; following it");
                }
                l.execution
            }
            Err(e) => return Outcome::misconfigured(truncate(&e, FAILURE_LIMIT)),
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
        let d = match fleet_run::describe(&clients.sfn, &run.execution).await {
            Ok(d) => d,
            Err(e) => return Outcome::misconfigured(truncate(&e, FAILURE_LIMIT)),
        };
        if !d.running() {
            return ended(clients, job, &run, &d).await;
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

/// The job's end once the execution has ended: its summary, or why there is none.
async fn ended(
    clients: &Clients,
    job: &Job,
    run: &FleetFollow,
    d: &fleet_run::Described,
) -> Outcome {
    let results = Results {
        bucket: job.bucket.clone(),
        prefix: run.prefix.clone(),
    };
    match fleet_run::read_summary(&clients.s3, &results).await {
        Ok(summary) => outcome_of_summary(&summary, &job.bucket),
        Err(e) => Outcome::failed(truncate(
            &format!(
                "the fleet execution {} ended {} ({}: {}) without a summary: {e}",
                run.execution,
                d.status,
                d.error.as_deref().unwrap_or("no error"),
                d.cause.as_deref().unwrap_or_default()
            ),
            FAILURE_LIMIT,
        )),
    }
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
