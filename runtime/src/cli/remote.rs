//! `--via-lambda FUNCTION`: run the command inside the migrator function and print what
//! the local command would print. The request goes as the migrator's event; an
//! `s3://` source is passed through, a local one is sent inline as a zip of its migration
//! files. Credentials, region and endpoint come from the standard AWS chain
//! (`AWS_ENDPOINT_URL_LAMBDA` included).

use std::io::Write;
use std::time::Duration;

use engine::command::{ErrorKind, Request};
use engine::source::SourceSpec;

use super::args::Invocation;
use super::{Failure, render};
use crate::wire::{self, Chain, Invoked, MigratorEvent, SYNC_PAYLOAD_LIMIT, Step};

/// How long a remote command may take: past Lambda's 15-minute maximum.
const READ_TIMEOUT: Duration = Duration::from_secs(16 * 60);

/// Runs `inv` in `function`.
pub fn run(function: &str, inv: Invocation<'_>) -> Result<(), Failure> {
    let json = inv.source.json;
    let inv_html = inv.html;
    let layout = inv.layout;
    let request = inv.request;
    let refuse = |message: String| fail(&request, ErrorKind::BadRequest, message, json);
    if let Some(db) = &inv.db {
        let local = db.local_only();
        if !local.is_empty() {
            return Err(refuse(format!(
                "{} cannot be used with --via-lambda: the migrator connects with its own settings",
                local.join(", ")
            )));
        }
    }
    let mut event = event(request.clone(), inv.source).map_err(refuse)?;
    if let Some(db) = &inv.db {
        // Checked here for its lines; the migrator checks the target again.
        let prefix = crate::settings::var("FLEET_SECRET_PREFIX")
            .map(|p| engine::fleet::SecretPrefix::parse(&p))
            .transpose()
            .map_err(|e| refuse(format!("FLEET_SECRET_PREFIX: {e}")))?;
        let secrets = prefix.as_ref().map_or(
            engine::fleet::Secrets::Unset,
            engine::fleet::Secrets::Prefix,
        );
        event.target = db
            .fleet
            .resolve(secrets)
            .map_err(refuse)?
            .map(|t| wire::FleetTarget::of(&t));
    }
    let mut payload = serde_json::to_vec(&event).expect("an event always serializes");
    if payload.len() > SYNC_PAYLOAD_LIMIT {
        return Err(refuse(format!(
            "the migrations sent inline make a {} byte request, over Lambda's {} byte limit \
             for a synchronous invocation; upload the artifact to S3 and pass --source s3://BUCKET/KEY",
            payload.len(),
            SYNC_PAYLOAD_LIMIT
        )));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| refuse(format!("cannot start the I/O runtime: {e}")))?;
    let client = runtime.block_on(async {
        let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        aws_sdk_lambda::Client::from_conf(wire::lambda_client(&shared, READ_TIMEOUT).build())
    });
    let mut out = std::io::stdout().lock();
    // A run that stops at the migrator's deadline is carried on, as the trigger does.
    let mut chain = Chain::new(event);
    loop {
        let invoked = runtime.block_on(wire::invoke(&client, function, payload, READ_TIMEOUT));
        if let (Invoked::Reply(r), false) = (&invoked, json)
            && let Some(fetch) = &r.fetch
        {
            let _ = writeln!(std::io::stderr(), "{}", fetch.human());
        }
        let step = chain.feed(invoked);
        let failure = step.failure(function);
        let finished = match step {
            Step::Invoke {
                event,
                steps,
                pending,
            } => {
                if !json {
                    for s in &steps {
                        render::step_line(&mut out, s).map_err(Failure::output)?;
                    }
                }
                let _ = writeln!(
                    std::io::stderr(),
                    "note: {function} stopped before its deadline with {pending} migration(s) pending; invoking it again"
                );
                payload = serde_json::to_vec(&event).expect("an event always serializes");
                continue;
            }
            Step::Done(f) | Step::Stalled(f) | Step::RunLimit(f) => f,
            Step::Failed(invoked) => {
                let (kind, message) = failure.expect("a failed step has a failure");
                // Only the migrator's own answers are a command's result to print; a
                // function never reached has none.
                return Err(if invoked.answered() {
                    fail(&request, kind, message, json)
                } else {
                    Failure {
                        code: kind.exit_code(),
                        message,
                    }
                });
            }
        };
        // The migrator could not tell of a wait for the lock as it waited: its report
        // does (with --json, in `lock_wait`).
        if let (Some(wait), false) = (finished.reply.report.lock_wait(), json) {
            let _ = writeln!(std::io::stderr(), "{wait}");
        }
        // The earlier runs' steps were printed as they came.
        let streamed = !json && finished.earlier > 0;
        if streamed {
            for s in finished.last_steps() {
                render::step_line(&mut out, s).map_err(Failure::output)?;
            }
        }
        render::report_as(&mut out, &finished.reply.report, json, layout, streamed)
            .map_err(Failure::output)?;
        render::review_page(inv_html, &finished.reply.report).map_err(Failure::output)?;
        // A refusing lint has printed its report; the exit says it refused.
        let refusal = finished
            .reply
            .refusal(&request)
            .map(|e| (e.kind(), e.message(&engine::command::Frontend::Cli)));
        return match failure.or(refusal) {
            None => Ok(()),
            Some((kind, message)) => Err(Failure {
                code: kind.exit_code(),
                message,
            }),
        };
    }
}

/// The migrator event for `request` on `source`.
fn event(request: Request, source: &super::args::SourceArgs) -> Result<MigratorEvent, String> {
    let spec = source.source.clone().unwrap_or_else(|| {
        SourceSpec::local(std::path::Path::new(
            engine::settings::table::DEFAULT_LOCAL_DIR,
        ))
    });
    // The remote side reads no dbconfig.yml: the folder is --dir's, else the default.
    let folder = source.folder_or(None)?;
    crate::open::event_for(request, &spec, &folder, &source.limits())
}

/// A remote failure of `kind`: its JSON object with `--json`, and the exit and message.
fn fail(request: &Request, kind: ErrorKind, message: String, json: bool) -> Failure {
    render::failure(request, kind, message, json, None)
}
