//! `lambda-migrate fleet up|plan|status --state-machine ARN` and `fleet up --from
//! EXECUTION [--only failed]`: the same fleet command, run by the stack's state machine
//! instead of here. This translates the flags into an execution ([`crate::fleet_run`]:
//! the same start, follow and results as the trigger's fleet mode) and prints the run's
//! results as the local command prints its own.

use std::time::Duration;

use engine::command::{self, CommandName, ErrorKind, Frontend, Request};
use engine::fleet::{Outcome, SecretPrefix, Secrets, TargetResult};
use engine::settings::table;
use engine::source::SourceSpec;

use super::fleet::{FleetRun, Only, finish, load_manifest, note};
use super::{Failure, local};
use crate::fleet_run::{self, Described};
use crate::wire::fleet::{Artifact, ExecutionInput, FleetTarget, Object, Results};

/// How often the execution is asked how it goes.
const POLL: Duration = Duration::from_secs(1);

/// What a run starts from: the targets, in run order, and how many are canaries.
struct Targets {
    canary: Vec<FleetTarget>,
    rest: Vec<FleetTarget>,
}

/// Runs `run` through the state machine.
pub fn run(run: &FleetRun<'_>, request: &Request) -> Result<(), Failure> {
    let common = run.common;
    let json = common.json;
    let fail = |kind: ErrorKind, message: String| {
        super::render::failure(request, kind, message, json, None)
    };
    let bad = |message: String| fail(ErrorKind::BadRequest, message);
    let machine = match (&common.state_machine, run.from) {
        (Some(m), _) => m.clone(),
        (None, Some(from)) => fleet_run::state_machine_of(from).ok_or_else(|| {
            bad(format!(
                "--from {from:?} is not a Step Functions execution ARN (arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME)"
            ))
        })?,
        (None, None) => unreachable!("the caller checked"),
    };
    let artifact = match &common.source {
        Some(SourceSpec::S3 { bucket, key }) => Some((bucket.clone(), key.clone())),
        Some(_) => {
            return Err(bad(
                "a fleet run on AWS reads its artifact from S3: give --source s3://BUCKET/KEY, in the bucket the stack's functions read"
                    .into(),
            ));
        }
        None if run.from.is_some() => None,
        None => {
            return Err(bad(
                "--source s3://BUCKET/KEY is required with --state-machine".into(),
            ));
        }
    };
    let process = crate::settings::Process::new();
    let manifest = match &common.manifest {
        Some(path) => {
            // The migrator refuses a secret outside its prefix anyway; checking here too
            // names the line before anything starts.
            let prefix = process
                .get(table::FLEET_SECRET_PREFIX.env.unwrap_or_default())
                .map(|p| SecretPrefix::parse(&p))
                .transpose()
                .map_err(|e| {
                    fail(
                        ErrorKind::Configuration,
                        format!("FLEET_SECRET_PREFIX: {e}"),
                    )
                })?;
            let secrets = prefix.as_ref().map_or(Secrets::Unset, Secrets::Prefix);
            Some(load_manifest(request, path, secrets, json)?)
        }
        None if run.from.is_some() => None,
        None => {
            return Err(bad(
                "--manifest FILE is required (or --from EXECUTION)".into()
            ));
        }
    };
    // The artifact is read and checked here first, as the trigger does: a bad one starts
    // nothing.
    let digest = match &artifact {
        Some(_) => {
            let source = local::open_source(&common.source_args(), None)
                .map_err(|e| fail(e.kind(), e.message(&Frontend::Cli)))?;
            let done = command::verify(&Request::new(CommandName::Verify), &source.input())
                .map_err(|e| fail(e.kind(), e.message(&Frontend::Cli)))?;
            Some(done.digest)
        }
        None => None,
    };
    let prefix = process
        .get(table::FLEET_RESULTS_PREFIX.env.unwrap_or_default())
        .unwrap_or_else(|| table::FLEET_RESULTS_PREFIX.default.text().to_owned());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            fail(
                ErrorKind::Internal,
                format!("cannot start the async runtime: {e}"),
            )
        })?;
    let ran = runtime.block_on(async {
        let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let sfn = aws_sdk_sfn::Client::new(&shared);
        let s3 = engine::fetch::s3_client(
            None,
            shared.region().map(|r| r.to_string()),
            crate::settings::s3_endpoint(),
        )
        .await;
        // The run to take targets (and, without --source, the artifact) from.
        let previous = match run.from {
            Some(from) => Some(previous(&sfn, &s3, from, run.only).await?),
            None => None,
        };
        let targets = match (&manifest, &previous) {
            (Some(m), previous) => {
                let order = engine::fleet::order(m, run.canary);
                if order.canary_ignored {
                    note("--canary is ignored: the manifest's `canary` group names the canaries");
                }
                if let Some(p) = previous {
                    // Every target to run again must be in this manifest: one left out
                    // would be skipped, and the run reported as if it had been done.
                    let missing: Vec<&str> = p
                        .names
                        .iter()
                        .filter(|n| !m.targets.iter().any(|t| &t.name == *n))
                        .map(String::as_str)
                        .collect();
                    if !missing.is_empty() {
                        return Err(format!(
                            "the manifest names no target {} of that run; give the run's own targets (drop --manifest) or a manifest that has them",
                            missing.join(", ")
                        ));
                    }
                }
                let pick = |ts: &[&engine::fleet::Target]| -> Vec<FleetTarget> {
                    ts.iter()
                        .filter(|t| previous.as_ref().is_none_or(|p| p.names.contains(&t.name)))
                        .map(|t| FleetTarget::of(t))
                        .collect()
                };
                let (canary, rest) = order.targets.split_at(order.canaries);
                Targets {
                    canary: pick(canary),
                    rest: pick(rest),
                }
            }
            (None, Some(p)) => Targets {
                canary: p
                    .input
                    .canary
                    .iter()
                    .filter(|t| p.names.contains(&t.name))
                    .cloned()
                    .collect(),
                rest: p
                    .items
                    .iter()
                    .filter(|t| p.names.contains(&t.name))
                    .cloned()
                    .collect(),
            },
            (None, None) => unreachable!("checked above"),
        };
        let artifact = match (artifact, digest, &previous) {
            (Some((bucket, key)), Some(digest), _) => Artifact {
                bucket,
                key,
                digest,
            },
            (_, _, Some(p)) => p.input.artifact.clone(),
            _ => unreachable!("checked above"),
        };
        let total = targets.canary.len() + targets.rest.len();
        if total == 0 {
            return Ok(None);
        }
        let job = job_id();
        let results = Results {
            bucket: artifact.bucket.clone(),
            prefix: format!("{prefix}{job}/"),
        };
        let input = ExecutionInput {
            job: job.clone(),
            command: run.command,
            canary: targets.canary,
            items: Object {
                bucket: artifact.bucket.clone(),
                key: format!("{}items.json", results.prefix),
            },
            artifact,
            results: results.clone(),
        };
        let launched = fleet_run::launch(&s3, &sfn, &machine, &input, &targets.rest).await?;
        note(&format!(
            "fleet {}: started {} ({total} target(s), {} canary)",
            run.command,
            launched.execution,
            input.canary.len()
        ));
        let ended = loop {
            let d = fleet_run::describe(&sfn, &launched.execution).await?;
            if !d.running() {
                break d;
            }
            tokio::time::sleep(POLL).await;
        };
        let summary = fleet_run::read_summary(&s3, &results).await.map_err(|e| {
            format!(
                "the fleet execution {} ended {} ({}: {}) without a summary: {e}",
                launched.execution,
                ended.status,
                ended.error.as_deref().unwrap_or("no error"),
                ended.cause.as_deref().unwrap_or_default()
            )
        })?;
        let targets = fleet_run::read_results(&s3, &results).await?;
        let canaries: Vec<String> = input.canary.iter().map(|t| t.name.clone()).collect();
        Ok::<_, String>(Some((summary, targets, canaries)))
    });
    match ran {
        Ok(Some((summary, results, canaries))) => finish(
            run,
            request,
            &|n| canaries.iter().any(|c| c == n),
            &results,
            &summary.summary,
        ),
        Ok(None) => {
            note(&format!(
                "fleet {}: nothing to run: {}",
                run.command,
                match run.only {
                    Some(Only::Failed) =>
                        "no target of that run failed, was left pending or did not run",
                    None => "no target",
                }
            ));
            finish(
                run,
                request,
                &|_| false,
                &[],
                &engine::fleet::judge(&[], run.command, engine::fleet::Budget::NONE, |_| false),
            )
        }
        Err(message) => Err(fail(ErrorKind::Configuration, message)),
    }
}

/// What `--from` takes from an earlier run.
struct Previous {
    input: ExecutionInput,
    items: Vec<FleetTarget>,
    /// The targets to run again.
    names: Vec<String>,
}

/// Reads the run `from`: its input, its items and, with `--only failed`, which targets
/// failed, did not run or were left pending.
async fn previous(
    sfn: &aws_sdk_sfn::Client,
    s3: &aws_sdk_s3::Client,
    from: &str,
    only: Option<Only>,
) -> Result<Previous, String> {
    let d: Described = fleet_run::describe(sfn, from).await?;
    if d.running() {
        return Err(format!(
            "{from} is still running ({}); wait for it to end",
            d.status
        ));
    }
    let input = d
        .input
        .ok_or_else(|| format!("{from} is not a lambda-migrate fleet run: its input is not one"))?;
    let items = fleet_run::read_items(s3, &input.items).await?;
    let results: Vec<TargetResult> = fleet_run::read_results(s3, &input.results).await?;
    let again = |r: &TargetResult| match only {
        Some(Only::Failed) => matches!(
            r.outcome,
            Outcome::Failed | Outcome::NotRun | Outcome::Pending
        ),
        None => true,
    };
    let names = results
        .iter()
        .filter(|r| again(r))
        .map(|r| r.name.clone())
        .collect();
    Ok(Previous {
        input,
        items,
        names,
    })
}

/// A run's id from the CLI: `cli-<yyyymmddThhmmss UTC>-<8 hex>`, a valid execution name.
fn job_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let stamp = super::new::timestamp(now.as_secs());
    // Not secret, only unlikely to repeat: the clock's nanoseconds and the process id.
    let salt = u64::from(now.subsec_nanos()) ^ (u64::from(std::process::id()) << 32);
    format!(
        "cli-{}T{}-{:08x}",
        &stamp[..8],
        &stamp[8..],
        salt.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cli_run_id_is_an_execution_name() {
        let id = job_id();
        assert_eq!(id.len(), 28, "{id}");
        assert!(id.starts_with("cli-2") && id.as_bytes()[12] == b'T', "{id}");
        assert!(
            id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "{id}"
        );
    }
}
