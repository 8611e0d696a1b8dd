//! Running a command here: open the source and the database as the flags say, run the
//! engine's command layer, render what comes back.

use std::io::Write;
use std::path::Path;

use engine::command::{self, CommandError, Frontend, Input};
use engine::settings::table::DEFAULT_LOCAL_DIR;
use engine::source::SourceSpec;

use super::args::Invocation;
use super::{Failure, database, render};

/// Runs `inv` locally.
pub fn run(inv: Invocation<'_>) -> Result<(), Failure> {
    let process = crate::settings::Process::new();
    let env = |k: &str| process.get(k);
    let json = inv.source.json;
    let mut request = inv.request;
    let target = match inv.db {
        Some(db) => Some(database::load(db, &env).map_err(|e| fail(&request, e, json))?),
        None => None,
    };
    for warning in process.unknown() {
        let _ = writeln!(std::io::stderr(), "warning: {warning}");
    }
    if target
        .as_ref()
        .is_some_and(|t| t.ignore_unknown(request.command))
    {
        request.ignore_unknown = true;
    }
    let spec = inv.source.source.clone().unwrap_or_else(|| {
        let dir = target.as_ref().and_then(|t| t.migrations_dir());
        SourceSpec::local(Path::new(dir.as_deref().unwrap_or(DEFAULT_LOCAL_DIR)))
    });
    let limits = inv.source.limits();
    let folder = &inv.source.folder;
    let opened =
        crate::open::open_blocking(&spec, folder, &limits).map_err(|e| fail(&request, e, json))?;
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
    let result = match &target {
        None => command::verify(&input),
        Some(t) => t.execute(&request, &input, |step| {
            if !json {
                // A closed stdout is noticed when the report is written.
                let _ = render::step_line(&mut stdout.lock(), step);
            }
        }),
    };
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
    let partial = request
        .options()
        .filter(|_| json)
        .map(|_| command::RunSummary::failed(request, &e, &Frontend::Cli));
    render::failure(
        request,
        e.kind(),
        e.message(&Frontend::Cli),
        json,
        partial.as_ref(),
    )
}
