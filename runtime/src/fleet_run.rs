//! A fleet run on Step Functions, from outside it: starting the state machine on a set of
//! targets, following the execution, and reading what it left in S3; and the summary
//! step that turns the per-invocation records into results. The trigger (fleet mode, and
//! the summary step) and the CLI (`fleet … --state-machine`) both go through here; the
//! contract is DESIGN.md's "Fleet on Step Functions" and the types are in
//! [`crate::wire::fleet`].

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_smithy_types::error::display::DisplayErrorContext;
use engine::fleet::TargetResult;

use crate::text::truncate;
use crate::wire::fleet::{ExecutionInput, FleetTarget, Object, Results, RunSummary};

/// The largest summary or record read back (a record holds one target's result).
pub const RECORD_LIMIT: i64 = 1 << 20;
/// The largest items or results file read back: 10,000 targets of a few KB each.
pub const ITEMS_LIMIT: i64 = 32 << 20;

/// A Step Functions error as its code and message (or the transport's failure).
pub fn sdk_error<E: std::error::Error + ProvideErrorMetadata + 'static, R: std::fmt::Debug>(
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
pub async fn get(
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

/// Writes `body` at `bucket`/`key`.
pub async fn put(
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
pub fn execution_arn(state_machine: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        state_machine.replacen(":stateMachine:", ":execution:", 1)
    )
}

/// The state machine an execution ARN belongs to.
pub fn state_machine_of(execution: &str) -> Option<String> {
    let (head, _name) = execution.rsplit_once(':')?;
    head.contains(":execution:")
        .then(|| head.replacen(":execution:", ":stateMachine:", 1))
}

/// A started (or found) execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launched {
    /// Its ARN.
    pub execution: String,
    /// It existed already: a retried start of the same run, now followed.
    pub existed: bool,
}

/// Writes `items` where `input.items` says, then starts `machine` with `input`, named
/// `input.job`. An execution of that name that exists already is the same run started
/// before (a retried job): it is followed, never started twice, and its items are left
/// as they are (its Map may not have read them yet).
pub async fn launch(
    s3: &aws_sdk_s3::Client,
    sfn: &aws_sdk_sfn::Client,
    machine: &str,
    input: &ExecutionInput,
    items: &[FleetTarget],
) -> Result<Launched, String> {
    let execution = execution_arn(machine, &input.job);
    match sfn
        .describe_execution()
        .execution_arn(&execution)
        .send()
        .await
    {
        Ok(_) => {
            return Ok(Launched {
                execution,
                existed: true,
            });
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_execution_does_not_exist()) => {}
        Err(e) => {
            return Err(format!(
                "looking for the fleet execution {execution} failed: {}",
                sdk_error(&e)
            ));
        }
    }
    let body = serde_json::to_vec(items).expect("targets serialise");
    put(
        s3,
        &input.items.bucket,
        &input.items.key,
        body,
        "application/json",
    )
    .await
    .map_err(|e| format!("the run's items could not be written: {e}"))?;
    let started = sfn
        .start_execution()
        .state_machine_arn(machine)
        .name(&input.job)
        .input(serde_json::to_string(input).expect("the input serialises"))
        .send()
        .await;
    match started {
        Ok(out) => Ok(Launched {
            execution: out.execution_arn().to_owned(),
            existed: false,
        }),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_execution_already_exists()) =>
        {
            Ok(Launched {
                execution: execution_arn(machine, &input.job),
                existed: true,
            })
        }
        Err(e) => Err(format!(
            "starting the fleet state machine {machine} failed: {}",
            sdk_error(&e)
        )),
    }
}

/// An execution as DescribeExecution tells it.
#[derive(Debug, Clone)]
pub struct Described {
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE.
    pub status: String,
    /// A failed execution's error.
    pub error: Option<String>,
    /// And its cause.
    pub cause: Option<String>,
    /// Its input, when it is ours.
    pub input: Option<ExecutionInput>,
}

impl Described {
    /// Still going (a failed run waiting to be redriven counts as going).
    pub fn running(&self) -> bool {
        matches!(self.status.as_str(), "RUNNING" | "PENDING_REDRIVE")
    }
}

/// Describes `execution`.
pub async fn describe(sfn: &aws_sdk_sfn::Client, execution: &str) -> Result<Described, String> {
    let out = sfn
        .describe_execution()
        .execution_arn(execution)
        .send()
        .await
        .map_err(|e| {
            format!(
                "describing the fleet execution {execution} failed: {}",
                sdk_error(&e)
            )
        })?;
    Ok(Described {
        status: out.status().as_str().to_owned(),
        error: out.error().map(str::to_owned),
        cause: out.cause().map(|c| truncate(c, 1000)),
        input: out.input().and_then(|i| serde_json::from_str(i).ok()),
    })
}

/// The run's `summary.json`, once the summary step has written it.
pub async fn read_summary(
    s3: &aws_sdk_s3::Client,
    results: &Results,
) -> Result<RunSummary, String> {
    let key = format!("{}summary.json", results.prefix);
    let bytes = get(s3, &results.bucket, &key, RECORD_LIMIT).await?;
    serde_json::from_slice(&bytes).map_err(|e| format!("s3://{}/{key}: {e}", results.bucket))
}

/// The run's `results.jsonl`: one result per target, in run order.
pub async fn read_results(
    s3: &aws_sdk_s3::Client,
    results: &Results,
) -> Result<Vec<TargetResult>, String> {
    let key = format!("{}results.jsonl", results.prefix);
    let bytes = get(s3, &results.bucket, &key, ITEMS_LIMIT).await?;
    let text =
        String::from_utf8(bytes).map_err(|e| format!("s3://{}/{key}: {e}", results.bucket))?;
    engine::fleet::result::read_lines(&text)
        .map_err(|e| format!("s3://{}/{key}: {e}", results.bucket))
}

/// The run's items (the targets after the canaries).
pub async fn read_items(
    s3: &aws_sdk_s3::Client,
    items: &Object,
) -> Result<Vec<FleetTarget>, String> {
    let bytes = get(s3, &items.bucket, &items.key, ITEMS_LIMIT).await?;
    serde_json::from_slice(&bytes).map_err(|e| format!("s3://{}/{}: {e}", items.bucket, items.key))
}

/// The summary step (the trigger's part in a run), behind the Lambdas' feature.
#[cfg(feature = "lambda")]
mod summary {
    use aws_smithy_types::error::display::DisplayErrorContext;
    use engine::command::ErrorKind;
    use engine::fleet::{Aborted, Budget, Outcome, Record, TargetResult};
    use futures_util::StreamExt;
    use serde_json::Value;

    use super::{RECORD_LIMIT, get, put, read_items};
    use crate::text::truncate;
    use crate::wire::fleet::{Failed, Results, RunSummary, SummaryEvent};

    /// Records read at once.
    const READS_AT_ONCE: usize = 16;

    /// The summary step: gathers the run's records into results, judges the run, writes
    /// `results.jsonl` and `summary.json`, and answers the summary. An error (S3 refused) is
    /// the invocation's error: the state machine then fails, and the job with it.
    pub async fn summarize(
        s3: &aws_sdk_s3::Client,
        event: &SummaryEvent,
    ) -> Result<RunSummary, String> {
        let budget = Budget::new(event.tolerate)
            .ok_or_else(|| format!("tolerate {} is not a percentage", event.tolerate))?;
        let items = read_items(s3, &event.items).await?;
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
        let summary =
            engine::fleet::judge(&results, event.command, budget, |n| canaries.contains(&n));
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
        Ok(run)
    }

    /// The failed targets (then those not run) for the job's report, at most 100.
    fn failed(results: &[TargetResult]) -> Vec<Failed> {
        results
            .iter()
            .filter(|r| r.outcome == Outcome::Failed)
            .chain(results.iter().filter(|r| r.outcome == Outcome::NotRun))
            .take(100)
            .map(|r| Failed {
                name: r.name.clone(),
                error_kind: r
                    .error_kind
                    .map(|k: ErrorKind| k.as_str().to_owned())
                    .or_else(|| (r.outcome == Outcome::NotRun).then(|| "not-run".to_owned())),
                message: r.message.as_deref().map(|m| truncate(m, 300)),
            })
            .collect()
    }

    /// Every record under the run's `targets/`, checked against its key (a record whose
    /// content disagrees with where it is is left out, with a warning).
    async fn read_records(
        s3: &aws_sdk_s3::Client,
        results: &Results,
    ) -> Result<Vec<Record>, String> {
        let folder = format!("{}{}", results.prefix, engine::fleet::record::TARGETS);
        // Only record keys are read; anything else under the folder is not ours.
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
            for k in page.contents().iter().filter_map(|o| o.key()) {
                match engine::fleet::record::parse_key(&results.prefix, k) {
                    Some((name, follow_up, attempt)) => {
                        keys.push((k.to_owned(), name.to_owned(), follow_up, attempt));
                    }
                    None => tracing::warn!(key = %k, "not a record key; ignored"),
                }
            }
        }
        let reads = futures_util::stream::iter(keys.into_iter().map(|key| async move {
            let bytes = get(s3, &results.bucket, &key.0, RECORD_LIMIT).await;
            (key, bytes)
        }))
        .buffer_unordered(READS_AT_ONCE)
        .collect::<Vec<_>>()
        .await;
        let mut records = Vec::new();
        for ((key, name, follow_up, attempt), bytes) in reads {
            let record: Record = match serde_json::from_slice(&bytes?) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(key = %key, error = %e, "an unreadable record; ignored");
                    continue;
                }
            };
            if record.name != name || record.follow_up != follow_up || record.attempt != attempt {
                tracing::warn!(key = %key, "a record that disagrees with its key; ignored");
                continue;
            }
            records.push(record);
        }
        Ok(records)
    }
}

#[cfg(feature = "lambda")]
pub use summary::summarize;

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
