//! Running a command here: open the source and the database as the flags say, run the
//! engine's command layer, render what comes back.

use std::io::Write;
use std::path::Path;

use engine::command::{self, CommandError, CommandName, Frontend, Input, Progress, Target};
use engine::settings::table::DEFAULT_LOCAL_DIR;
use engine::source::SourceSpec;

use super::args::{Invocation, SourceArgs};
use super::{Failure, database, render};

/// Runs `inv` locally.
pub fn run(inv: Invocation<'_>) -> Result<(), Failure> {
    let process = crate::settings::Process::new();
    let env = |k: &str| process.get(k);
    let json = inv.source.json;
    let html = inv.html;
    let mut request = inv.request;
    let target = match inv.db {
        Some(db) => {
            let loaded = database::load(&db, &env).map_err(|e| fail(&request, e, json))?;
            // A fleet target here is its schema on that connection.
            let picked = db
                .fleet
                .resolve(engine::fleet::Secrets::Local)
                .map_err(|m| fail(&request, CommandError::Configuration(m), json))?;
            Some(match picked.map(|t| t.place) {
                Some(engine::fleet::Place::Database(schema)) => loaded.on_schema(&schema),
                Some(engine::fleet::Place::Secret(_)) => unreachable!("read with Secrets::Local"),
                None => loaded,
            })
        }
        None => None,
    };
    if request.command == CommandName::Lint && request.lint_fail_on.is_none() {
        // The flag beats LINT_FAIL_ON, as every flag beats its variable.
        let env = engine::settings::Env::new(&env);
        let fail_on = crate::settings::lint_fail_on(&env)
            .map_err(|e| fail(&request, CommandError::Configuration(e.to_string()), json))?;
        request.lint_fail_on = Some(fail_on);
    }
    for warning in process.unknown() {
        let _ = writeln!(std::io::stderr(), "warning: {warning}");
    }
    for ignored in target.iter().flat_map(database::Target::ignored) {
        let _ = writeln!(std::io::stderr(), "note: {ignored}");
    }
    if target
        .as_ref()
        .is_some_and(|t| t.ignore_unknown(request.command))
    {
        request.ignore_unknown = true;
    }
    let config_dir = target.as_ref().and_then(|t| t.migrations_dir());
    let opened =
        open_source(inv.source, config_dir.as_deref()).map_err(|e| fail(&request, e, json))?;
    let input = opened.input();
    // Every command that changes the database names it first, never with the password.
    let named = target.as_ref().map(database::Target::target);
    // A script is for that database too.
    if let Some(t) = named.as_ref().filter(|_| request.writes() || request.sql) {
        let _ = writeln!(std::io::stderr(), "target: {t}");
    }
    let stdout = std::io::stdout();
    let result = match &target {
        None if request.command == CommandName::Lint => command::lint(&request, &input),
        None => command::verify(&request, &input),
        Some(t) => t.execute(&request, &input, |progress| match progress {
            // A closed stdout is noticed when the report is written.
            Progress::Step(step) if !json => {
                let _ = render::step_line(&mut stdout.lock(), step);
            }
            Progress::Step(_) => {}
            // On stderr, with --json too: a person watching a waiting run wants to know
            // why, and stdout stays the report's.
            Progress::Lock(event) => {
                let _ = writeln!(std::io::stderr(), "{event}");
            }
        }),
    };
    // A run's steps were printed as they completed; a dry run's were not.
    let streamed = request.writes();
    match result {
        Ok(mut done) => {
            for warning in render::empty_down_warnings(&done.report) {
                let _ = writeln!(std::io::stderr(), "{warning}");
            }
            if let Some(t) = named.filter(|_| request.writes()) {
                done.report.set_target(t);
            }
            // One write for the whole report: stdout is line-buffered, and a table of
            // 10,000 migrations is otherwise 10,000 system calls.
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
            render::report_as(&mut out, &done.report, json, inv.layout, streamed)
                .and_then(|()| out.flush())
                .map_err(Failure::output)?;
            render::review_page(html, &done.report).map_err(Failure::output)?;
            // A refusing lint has printed its report; the exit says it refused.
            match done.report.refusal(&request) {
                Some(e) => Err(Failure {
                    code: e.kind().exit_code(),
                    message: e.message(&Frontend::Cli),
                }),
                None => Ok(()),
            }
        }
        Err(e) => Err(fail_at(
            &request,
            e,
            json,
            named.filter(|_| request.writes()),
        )),
    }
}

/// The migrations' source, opened once, with the folder and limits it was read with.
pub struct OpenedSource {
    opened: crate::open::Opened,
    folder: String,
    limits: engine::Limits,
}

impl OpenedSource {
    /// The command layer's input: these migrations, no digest expected.
    pub fn input(&self) -> Input<'_> {
        Input {
            source: &self.opened.source,
            dir: &self.folder,
            limits: &self.limits,
            fetch: self.opened.fetch.clone(),
            expected_digest: None,
        }
    }
}

/// Opens the source `args` name (else `config_dir`, dbconfig.yml's `dir`, else
/// `./migrations`); an S3 fetch's cost is said on stderr unless the output is JSON.
pub fn open_source(
    args: &SourceArgs,
    config_dir: Option<&str>,
) -> Result<OpenedSource, CommandError> {
    let spec = args
        .source
        .clone()
        .unwrap_or_else(|| SourceSpec::local(Path::new(config_dir.unwrap_or(DEFAULT_LOCAL_DIR))));
    let limits = args.limits();
    // dbconfig.yml's `dir` names a folder inside a zip only when the zip is the source:
    // a directory source is the folder itself.
    let folder = match &spec {
        SourceSpec::Dir(_) => args.folder_or(None),
        _ => args.folder_or(config_dir),
    }
    .map_err(CommandError::Configuration)?;
    let opened = crate::open::open_blocking(&spec, &folder, &limits)?;
    if let (Some(fetch), false) = (&opened.fetch, args.json) {
        let _ = writeln!(std::io::stderr(), "{}", fetch.human());
    }
    Ok(OpenedSource {
        opened,
        folder,
        limits,
    })
}

/// A local failure: its JSON object on stdout with `--json`, and the exit and message.
fn fail(request: &engine::command::Request, e: CommandError, json: bool) -> Failure {
    fail_at(request, e, json, None)
}

/// [`fail`] of a run against `target` (named in the JSON object).
fn fail_at(
    request: &engine::command::Request,
    e: CommandError,
    json: bool,
    target: Option<Target>,
) -> Failure {
    let partial = request.options().filter(|_| json).map(|_| {
        let mut r = command::RunSummary::failed(request, &e, &Frontend::Cli);
        r.target = target.map(Box::new);
        r
    });
    render::failure(
        request,
        e.kind(),
        e.message(&Frontend::Cli),
        json,
        partial.as_ref(),
    )
}
