//! Running a command here: open the source and the database as the flags say, run the
//! engine's command layer, render what comes back.

use std::io::Write;
use std::path::PathBuf;

#[cfg(feature = "mysql")]
use engine::command::CommandName;
use engine::command::{self, CommandError, Frontend, Input};

use super::args::Invocation;
use super::{Failure, render};

/// Runs `inv` locally.
pub fn run(inv: Invocation<'_>) -> Result<(), Failure> {
    let env = |k: &str| std::env::var(k).ok();
    let json = inv.source.json;
    #[allow(unused_mut)]
    let mut request = inv.request;
    #[cfg(feature = "mysql")]
    let resolved = match inv.db {
        Some(db) => Some(
            db.spec()
                .resolve(env)
                .map_err(|e| fail(&request, CommandError::Configuration(e.to_string()), json))?,
        ),
        None => None,
    };
    #[cfg(not(feature = "mysql"))]
    let _ = env;
    #[cfg(feature = "mysql")]
    if resolved.as_ref().is_some_and(|r| r.ignore_unknown)
        && request.command != CommandName::Resolve
    {
        request.ignore_unknown = true;
    }
    #[cfg(feature = "mysql")]
    let config_dir = resolved.as_ref().and_then(|r| r.dir.clone());
    #[cfg(not(feature = "mysql"))]
    let config_dir: Option<String> = None;
    let path = inv
        .source
        .source
        .clone()
        .or_else(|| config_dir.map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("./migrations"));
    let limits = inv.source.limits();
    let opened = open(&path, &inv.source.dir, &limits).map_err(|e| fail(&request, e, json))?;
    if let (Some(fetch), false) = (&opened.fetch, json) {
        let _ = writeln!(std::io::stderr(), "{}", fetch.human());
    }
    let input = Input {
        source: &opened.source,
        dir: &inv.source.dir,
        limits: &limits,
        fetch: opened.fetch.clone(),
        expected_digest: None,
    };
    let stdout = std::io::stdout();
    #[cfg(feature = "mysql")]
    let result = match &resolved {
        None => command::verify(&input),
        Some(r) => command::execute(
            &request,
            &input,
            || engine::db::Database::connect(&r.conn, &r.settings),
            r.settings.lock_timeout,
            |step| {
                if !json {
                    // A closed stdout is noticed when the report is written.
                    let _ = render::step_line(&mut stdout.lock(), step);
                }
            },
        ),
    };
    #[cfg(not(feature = "mysql"))]
    let result = command::verify(&input);
    // A run's steps were printed as they completed; a dry run's were not.
    let streamed = request.writes();
    match result {
        Ok(done) => {
            // One write for the whole report: stdout is line-buffered, and a table of
            // 10,000 migrations is otherwise 10,000 system calls.
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
            render::report(&mut out, &done.report, json, streamed)
                .and_then(|()| out.flush())
                .map_err(Failure::output)
        }
        Err(e) => Err(fail(&request, e, json)),
    }
}

fn open(
    path: &std::path::Path,
    dir: &str,
    limits: &engine::Limits,
) -> Result<crate::source::Opened, CommandError> {
    #[cfg(feature = "s3")]
    return crate::source::open_blocking(path, dir, limits);
    #[cfg(not(feature = "s3"))]
    {
        let _ = dir;
        if path.to_str().is_some_and(|s| s.starts_with("s3://")) {
            return Err(CommandError::Configuration(format!(
                "{}: this build has no S3 support (build with the `s3` feature)",
                path.display()
            )));
        }
        Ok(crate::source::open_local(path, limits)?)
    }
}

/// A local failure: its JSON object on stdout with `--json`, and the exit and message.
fn fail(request: &engine::command::Request, e: CommandError, json: bool) -> Failure {
    #[cfg(feature = "mysql")]
    let partial = request
        .options()
        .filter(|_| json)
        .map(|_| command::RunSummary::failed(request, &e, &Frontend::Cli));
    render::failure(
        request,
        e.kind(),
        e.message(&Frontend::Cli),
        json,
        #[cfg(feature = "mysql")]
        partial.as_ref(),
    )
}
