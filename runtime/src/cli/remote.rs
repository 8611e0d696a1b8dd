//! `--via-lambda FUNCTION`: run the command inside the migrator function and print what
//! the local command would print. The request goes as the migrator's event; an
//! `s3://` source is passed through, a local one is sent inline as a zip of its migration
//! files. Credentials, region and endpoint come from the standard AWS chain
//! (`AWS_ENDPOINT_URL_LAMBDA` included).

use std::io::Write;
use std::time::Duration;

use engine::command::{ErrorKind, Report, Request};
use engine::db::StepReport;
use engine::source::SourceSpec;

use super::args::Invocation;
use super::{Failure, render};
use crate::text::one_line;
use crate::wire::{self, Invoked, MigratorEvent, MigratorReport, SYNC_PAYLOAD_LIMIT};

/// How long a remote command may take: past Lambda's 15-minute maximum.
const READ_TIMEOUT: Duration = Duration::from_secs(16 * 60);

/// Exit code when the function could not be invoked at all.
const UNREACHABLE: u8 = ErrorKind::Connection.exit_code();

/// Runs `inv` in `function`.
pub fn run(function: &str, inv: Invocation<'_>) -> Result<(), Failure> {
    let json = inv.source.json;
    let request = inv.request;
    let refuse = |message: String| fail(&request, ErrorKind::BadRequest, message, json);
    if let Some(db) = inv.db {
        let local = db.local_only();
        if !local.is_empty() {
            return Err(refuse(format!(
                "{} cannot be used with --via-lambda: the migrator connects with its own settings",
                local.join(", ")
            )));
        }
    }
    let event = event(request.clone(), inv.source).map_err(refuse)?;
    let payload = serde_json::to_vec(&event).expect("an event always serializes");
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
    let mut event = event;
    let mut payload = payload;
    // Migrations done by earlier runs that stopped at the migrator's deadline.
    let mut earlier: Vec<StepReport> = Vec::new();
    let mut out = std::io::stdout().lock();
    loop {
        let invoked = runtime.block_on(wire::invoke(&client, function, payload, READ_TIMEOUT));
        let r = answer(function, &request, invoked, json)?;
        let mut report = r.typed().map_err(|e| {
            fail(
                &request,
                ErrorKind::Internal,
                format!("{function} answered a report this CLI cannot read: {e}"),
                json,
            )
        })?;
        if let (Some(fetch), false) = (&r.fetch, json) {
            let _ = writeln!(std::io::stderr(), "{}", fetch.human());
        }
        let Report::Run(run) = &mut report else {
            return render::report(&mut out, &report, json, false).map_err(Failure::output);
        };
        let streamed = !json && !earlier.is_empty();
        if streamed {
            for s in &run.migrations {
                render::step_line(&mut out, s).map_err(Failure::output)?;
            }
        }
        match &run.stopped {
            // Stopped at its deadline having done something: carry on, as the trigger does.
            Some(stopped) if !run.migrations.is_empty() => {
                if !json && !streamed {
                    for s in &run.migrations {
                        render::step_line(&mut out, s).map_err(Failure::output)?;
                    }
                }
                let _ = writeln!(
                    std::io::stderr(),
                    "note: {function} stopped before its deadline with {} migration(s) pending; invoking it again",
                    stopped.pending.len()
                );
                event.request.limit = event
                    .request
                    .limit
                    .map(|l| l.saturating_sub(run.migrations.len()).max(1));
                earlier.append(&mut run.migrations);
                payload = serde_json::to_vec(&event).expect("an event always serializes");
            }
            stopped => {
                let stalled = stopped.as_ref().map(|s| s.pending.len());
                earlier.append(&mut run.migrations);
                run.migrations = earlier;
                render::report(&mut out, &report, json, streamed).map_err(Failure::output)?;
                return match stalled {
                    None => Ok(()),
                    Some(n) => Err(Failure {
                        code: ErrorKind::Configuration.exit_code(),
                        message: format!(
                            "{function} stopped before its deadline without applying anything \
                             ({n} migration(s) pending): its timeout leaves no time to start \
                             one; raise it, or lower its DEADLINE_MARGIN_SECS"
                        ),
                    }),
                };
            }
        }
    }
}

/// The invocation's report, or the failure it brought instead.
fn answer(
    function: &str,
    request: &Request,
    invoked: Invoked,
    json: bool,
) -> Result<Box<MigratorReport>, Failure> {
    Err(match invoked {
        Invoked::Report(r) => return Ok(r),
        Invoked::FunctionError(e) => match ErrorKind::parse(&e.error_type) {
            Some(kind) => fail(request, kind, e.error_message, json),
            // Lambda's own failures: a timeout, a crash, an init error.
            None => fail(
                request,
                ErrorKind::Sql,
                format!(
                    "the migrator failed ({}): {}",
                    e.error_type,
                    one_line(&e.error_message)
                ),
                json,
            ),
        },
        Invoked::CallFailed { message, .. } => Failure {
            code: UNREACHABLE,
            message,
        },
        Invoked::StillRunning => Failure {
            code: UNREACHABLE,
            message: format!(
                "{function} did not answer within {} s",
                READ_TIMEOUT.as_secs()
            ),
        },
    })
}

/// The migrator event for `request` on `source`.
fn event(request: Request, source: &super::args::SourceArgs) -> Result<MigratorEvent, String> {
    let spec = source.source.clone().unwrap_or_else(|| {
        SourceSpec::local(std::path::Path::new(
            engine::settings::table::DEFAULT_LOCAL_DIR,
        ))
    });
    crate::source::event_for(request, &spec, &source.folder, &source.limits())
}

/// A remote failure of `kind`: its JSON object with `--json`, and the exit and message.
fn fail(request: &Request, kind: ErrorKind, message: String, json: bool) -> Failure {
    if json {
        let _ = render::failure_json(
            &mut std::io::stdout().lock(),
            request,
            kind.as_str(),
            &message,
            None,
        );
    }
    Failure {
        code: kind.exit_code(),
        message,
    }
}
