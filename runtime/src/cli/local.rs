//! Running a command here: open the source and the database as the flags say, run the
//! engine's command layer, render what comes back.

use std::io::Write;
use std::path::Path;

#[cfg(feature = "mysql")]
use engine::command::CommandName;
use engine::command::{self, CommandError, Frontend, Input};
use engine::settings::table::DEFAULT_LOCAL_DIR;
use engine::source::SourceSpec;

use super::args::Invocation;
use super::{Failure, render};

/// Runs `inv` locally.
pub fn run(inv: Invocation<'_>) -> Result<(), Failure> {
    let process = crate::settings::Process::new();
    let env = |k: &str| process.get(k);
    let json = inv.source.json;
    #[allow(unused_mut)]
    let mut request = inv.request;
    #[cfg(feature = "mysql")]
    let loaded = match inv.db {
        Some(db) => Some(
            db.spec()
                .load(env)
                .map_err(|e| fail(&request, CommandError::Configuration(e.to_string()), json))?,
        ),
        None => None,
    };
    #[cfg(not(feature = "mysql"))]
    let _ = env;
    for warning in process.unknown() {
        let _ = writeln!(std::io::stderr(), "warning: {warning}");
    }
    #[cfg(feature = "mysql")]
    if loaded.as_ref().is_some_and(|r| r.ignore_unknown) && request.command != CommandName::Resolve
    {
        request.ignore_unknown = true;
    }
    #[cfg(feature = "mysql")]
    let config_dir = loaded.as_ref().and_then(|r| r.migrations_dir.clone());
    #[cfg(not(feature = "mysql"))]
    let config_dir: Option<String> = None;
    let spec = inv.source.source.clone().unwrap_or_else(|| {
        let dir = config_dir.unwrap_or_else(|| DEFAULT_LOCAL_DIR.to_owned());
        SourceSpec::local(Path::new(&dir))
    });
    let limits = inv.source.limits();
    let folder = &inv.source.folder;
    let opened = crate::source::open_blocking(&spec, folder, &limits)
        .map_err(|e| fail(&request, e, json))?;
    if let (Some(fetch), false) = (&opened.fetch, json) {
        let _ = writeln!(std::io::stderr(), "{}", fetch.human());
    }
    let input = Input {
        source: &opened.source,
        dir: folder,
        limits: &limits,
        fetch: opened.fetch.clone(),
        expected_digest: None,
    };
    let stdout = std::io::stdout();
    #[cfg(feature = "mysql")]
    let result = match &loaded {
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
