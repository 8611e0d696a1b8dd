//! `lambda-migrate fleet up|plan|status`: one artifact, many schemas on one server,
//! locally. For trying a manifest against local schemas; the production path is the
//! AWS fleet run (docs/fleet.md). The manifest, the order, the per-target function, the
//! budget and the results are the engine's ([`engine::fleet`]); this reads the flags,
//! opens the source and the default connection once, and prints.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use engine::command::{self, CommandName, ErrorKind, Frontend, Request};
use engine::fleet::manifest::{self, LineError, ManifestError, Problem};
use engine::fleet::{Budget, Outcome, Place, Secrets, Summary, TargetResult};
use engine::source::SourceSpec;
use serde::Serialize;

use super::args::{DbArgs, LockArgs, ReviewArgs, SourceArgs};
use super::{Failure, database, local};
use crate::text::{one_line, truncate};

/// `fleet`'s subcommand.
#[derive(Debug, Args)]
pub struct FleetArgs {
    /// What to do on every target.
    #[command(subcommand)]
    pub command: FleetCommand,
}

/// The fleet commands.
#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Apply pending migrations to every target: the canaries one at a time, then the
    /// rest, a few at once.
    Up(FleetUpArgs),
    /// Show what `up` would do on every target; change nothing.
    Plan(FleetCommon),
    /// Show every target's status.
    Status(FleetCommon),
}

/// What every fleet command takes.
#[derive(Debug, Clone, Args)]
pub struct FleetCommon {
    /// The targets: JSON Lines or CSV, one per line, each a `database` (a schema on
    /// --database) with a unique `name` (docs/fleet.md). Required, except with --from.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Run through the stack's fleet state machine (its ARN, the stack output
    /// FleetStateMachineArn) instead of here: --source is then an s3:// artifact, and
    /// the stack's settings replace --database, --concurrency and --tolerate.
    #[arg(long, value_name = "ARN", env = STATE_MACHINE_ENV)]
    pub state_machine: Option<String>,
    /// The default connection, mysql://user:pass@host:port/db; each target's `database`
    /// is a schema on it [default: DATABASE_URL, else ./dbconfig.yml's, else DB_HOST...].
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// A zip artifact, a directory of .sql files, or s3://bucket/key, read once for every
    /// target [default: ./migrations].
    #[arg(long, value_name = "ZIP|DIR|S3", value_parser = source_arg)]
    pub source: Option<SourceSpec>,
    /// The migrations folder inside a zip artifact; '' for its root [default:
    /// migrations].
    #[arg(long = "dir", value_name = "NAME", value_parser = folder_arg)]
    pub folder: Option<String>,
    /// Targets run at once after the canaries, 1 to 64; each holds at most two
    /// connections.
    #[arg(long, value_name = "N", default_value_t = engine::fleet::DEFAULT_CONCURRENCY, value_parser = concurrency_arg)]
    pub concurrency: usize,
    /// The share of targets that may fail, in percent (0 to 100): no more targets start
    /// once it is exceeded, and the command fails then. 0: stop after the first failure.
    #[arg(long, value_name = "PERCENT", default_value = "0", value_parser = budget_arg)]
    pub tolerate: Budget,
    /// Also write each target's result to FILE, one JSON object per line.
    #[arg(long, value_name = "FILE")]
    pub results: Option<PathBuf>,
    /// Print one JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The variable that names the fleet state machine (`--state-machine`).
pub const STATE_MACHINE_ENV: &str = "LAMBDA_MIGRATE_FLEET_STATE_MACHINE";

/// `fleet up --only`: which targets of the `--from` run to run again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Only {
    /// Those that failed, did not run, or were left pending.
    Failed,
}

/// `fleet up`'s arguments.
#[derive(Debug, Clone, Args)]
pub struct FleetUpArgs {
    /// When the manifest has no `canary` group: the first N targets are the canaries,
    /// run one at a time before the rest; the first that fails stops the run.
    #[arg(long, value_name = "N")]
    pub canary: Option<usize>,
    /// Run on the targets of the fleet execution EXECUTION (an ARN, on AWS) again,
    /// through its state machine; its artifact too, unless --source names another.
    #[arg(long, value_name = "EXECUTION")]
    pub from: Option<String>,
    /// With --from: only the targets that failed, did not run or were left pending.
    #[arg(long, value_name = "WHICH", value_enum, requires = "from")]
    pub only: Option<Only>,
    /// The rest.
    #[command(flatten)]
    pub common: FleetCommon,
}

fn source_arg(s: &str) -> Result<SourceSpec, String> {
    SourceSpec::parse(s).map_err(|e| e.to_string())
}

fn folder_arg(s: &str) -> Result<String, String> {
    engine::source::parse_folder(s).map_err(|e| e.to_string())
}

fn concurrency_arg(s: &str) -> Result<usize, String> {
    let max = engine::fleet::MAX_CONCURRENCY;
    s.parse::<usize>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| format!("{s:?} is not a number from 1 to {max}"))
}

fn budget_arg(s: &str) -> Result<Budget, String> {
    Budget::parse(s).map_err(|e| e.to_string())
}

/// A fleet command as it runs: what the flags ask for, in one place.
#[derive(Debug)]
pub struct FleetRun<'a> {
    /// `up`, `plan` or `status`.
    pub command: CommandName,
    /// The shared flags.
    pub common: &'a FleetCommon,
    /// `--canary N`.
    pub canary: Option<usize>,
    /// `--from EXECUTION`.
    pub from: Option<&'a str>,
    /// `--only failed`.
    pub only: Option<Only>,
}

impl FleetArgs {
    /// The run the flags ask for.
    pub fn run(&self) -> FleetRun<'_> {
        match &self.command {
            FleetCommand::Up(a) => FleetRun {
                command: CommandName::Up,
                common: &a.common,
                canary: a.canary,
                from: a.from.as_deref(),
                only: a.only,
            },
            FleetCommand::Plan(c) => FleetRun {
                command: CommandName::Plan,
                common: c,
                canary: None,
                from: None,
                only: None,
            },
            FleetCommand::Status(c) => FleetRun {
                command: CommandName::Status,
                common: c,
                canary: None,
                from: None,
                only: None,
            },
        }
    }
}

impl FleetCommon {
    /// These flags as the source flags other commands take.
    pub(super) fn source_args(&self) -> SourceArgs {
        SourceArgs {
            source: self.source.clone(),
            folder: self.folder.clone(),
            max_file_size: engine::Limits::default().max_file_size,
            max_total_size: engine::Limits::default().max_total_size,
            json: self.json,
            via_lambda: None,
        }
    }

    /// These flags as the database flags other commands take.
    fn db_args(&self) -> DbArgs {
        DbArgs {
            source: self.source_args(),
            database: self.database.clone(),
            config: None,
            env: None,
            table: None,
            schema: None,
            tls: false,
            tls_ca: None,
            connect_timeout: None,
            read_timeout: None,
            fleet: Default::default(),
            lock: LockArgs::default(),
            review: ReviewArgs::default(),
        }
    }
}

/// `--json`'s object.
#[derive(Serialize)]
pub(super) struct FleetJson<'a> {
    command: CommandName,
    targets: &'a [TargetResult],
    summary: &'a Summary,
}

/// Runs a fleet command: here, or through the state machine with `--state-machine` or
/// `--from` ([`super::fleet_aws`]).
pub fn run(args: &FleetArgs) -> Result<(), Failure> {
    let run = args.run();
    let common = run.common;
    let json = common.json;
    let request = engine::fleet::request(run.command).map_err(Failure::bad_input)?;
    let fail = |kind: ErrorKind, message: String| {
        super::render::failure(&request, kind, message, json, None)
    };
    if common.state_machine.is_some() || run.from.is_some() {
        #[cfg(feature = "remote")]
        return super::fleet_aws::run(&run, &request);
        #[cfg(not(feature = "remote"))]
        return Err(fail(
            ErrorKind::Configuration,
            "this build has no AWS support (feature `remote`): --state-machine and --from are not available".into(),
        ));
    }
    let Some(path) = &common.manifest else {
        return Err(fail(
            ErrorKind::BadRequest,
            "--manifest FILE is required (a run here has no --from)".into(),
        ));
    };
    let manifest = load_manifest(&request, path, Secrets::Local, json)?;
    let order = engine::fleet::order(&manifest, run.canary);
    if order.canary_ignored {
        note("--canary is ignored: the manifest's `canary` group names the canaries");
    }
    let process = crate::settings::Process::new();
    let env = |k: &str| process.get(k);
    let db = database::load(&common.db_args(), &env)
        .map_err(|e| fail(e.kind(), e.message(&Frontend::Cli)))?;
    for warning in process.unknown() {
        note(&format!("warning: {warning}"));
    }
    for ignored in db.ignored() {
        note(&format!("note: {ignored}"));
    }
    let source = local::open_source(&common.source_args(), db.migrations_dir().as_deref())
        .map_err(|e| fail(e.kind(), e.message(&Frontend::Cli)))?;
    let input = source.input();
    // Read and parse the set once, before any target: a bad artifact touches no database.
    let check = Request {
        allow_empty: !request.refuses_empty(),
        ..Request::new(CommandName::Verify)
    };
    command::verify(&check, &input).map_err(|e| fail(e.kind(), e.message(&Frontend::Cli)))?;
    if request.writes() {
        // The default connection's own database is not a target: each schema is.
        let t = db.target();
        let server = t.address.rsplit_once('/').map_or(&*t.address, |(s, _)| s);
        note(&format!(
            "target: {} schema(s) named in {} on {server} (from {})",
            order.targets.len(),
            path.display(),
            t.from
        ));
    }
    database::note_signals_between_runs();
    let results = engine::fleet::drive(
        &order,
        common.concurrency,
        common.tolerate,
        |t| match &t.place {
            Place::Database(schema) => db.on_schema(schema).run_target(&t.name, &request, &input),
            // The manifest was read with `Secrets::Local`, which refuses every secret.
            Place::Secret(_) => TargetResult {
                outcome: Outcome::Failed,
                error_kind: Some(ErrorKind::Configuration),
                message: Some(Problem::SecretLocal.to_string()),
                ..TargetResult::not_run(&t.name, "")
            },
        },
        database::interrupted,
    );
    let summary = engine::fleet::judge(&results, request.command, common.tolerate, |n| {
        order.is_canary(n)
    });
    finish(&run, &request, &|n| order.is_canary(n), &results, &summary)
}

/// Reads and parses the manifest at `path`, allowing `secrets`; a refused one is the
/// failure, each problem named with its line.
pub(super) fn load_manifest(
    request: &Request,
    path: &Path,
    secrets: Secrets<'_>,
    json: bool,
) -> Result<manifest::Manifest, Failure> {
    let bytes = read_manifest(path).map_err(|e| match e {
        Unread::Io(e) => super::render::failure(
            request,
            ErrorKind::BadRequest,
            format!("cannot read the manifest {}: {e}", path.display()),
            json,
            None,
        ),
        Unread::Refused(e) => manifest_failure(request, path, &e, json),
    })?;
    manifest::parse(&bytes, secrets).map_err(|e| manifest_failure(request, path, &e, json))
}

/// Writes `--results`, prints the table (or `--json`) and the verdict, and exits as the
/// verdict says: the same for a run here and one on AWS.
pub(super) fn finish(
    run: &FleetRun<'_>,
    request: &Request,
    is_canary: &dyn Fn(&str) -> bool,
    results: &[TargetResult],
    summary: &Summary,
) -> Result<(), Failure> {
    let common = run.common;
    let json = common.json;
    let fail = |kind: ErrorKind, message: String| {
        super::render::failure(request, kind, message, json, None)
    };
    if let Some(file) = &common.results {
        write_results(file, results).map_err(|e| {
            fail(
                ErrorKind::Internal,
                format!("writing the results to {}: {e}", file.display()),
            )
        })?;
    }
    let mut out = io::BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    if json {
        let object = FleetJson {
            command: run.command,
            targets: results,
            summary,
        };
        let text = serde_json::to_string(&object).expect("results always serialise");
        writeln!(out, "{text}").map_err(Failure::output)?;
    } else {
        table(&mut out, run.command, is_canary, results).map_err(Failure::output)?;
        writeln!(out, "fleet {}: {}", run.command, summary.line()).map_err(Failure::output)?;
    }
    out.flush().map_err(Failure::output)?;
    match summary.exit_code() {
        0 => Ok(()),
        code => Err(Failure {
            code,
            message: match &summary.first_failure {
                Some(name) => format!(
                    "fleet {}: {}; the first failure: {name} ({})",
                    run.command,
                    summary.line(),
                    summary.error_kind.map_or("", ErrorKind::as_str)
                ),
                None => format!("fleet {}: {}", run.command, summary.line()),
            },
        }),
    }
}

/// Why a manifest was not read.
enum Unread {
    Io(io::Error),
    Refused(ManifestError),
}

/// Reads the manifest at `path`, refusing one over [`manifest::MAX_BYTES`] without
/// reading more of it.
fn read_manifest(path: &Path) -> Result<Vec<u8>, Unread> {
    let file = std::fs::File::open(path).map_err(Unread::Io)?;
    let mut bytes = Vec::new();
    file.take(manifest::MAX_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(Unread::Io)?;
    if bytes.len() > manifest::MAX_BYTES {
        let size = std::fs::metadata(path).map_or(bytes.len(), |m| m.len() as usize);
        return Err(Unread::Refused(ManifestError {
            errors: vec![LineError {
                line: 0,
                problem: Problem::TooLarge(size),
            }],
            more: 0,
        }));
    }
    Ok(bytes)
}

/// A refused manifest: each problem on its own line of stderr (`FILE:LINE: problem`),
/// and the failure; with `--json`, the problems in the failure's object.
fn manifest_failure(request: &Request, path: &Path, e: &ManifestError, json: bool) -> Failure {
    let shown = path.display();
    let message = format!(
        "{shown}: the manifest is refused ({} error(s)); nothing was run",
        e.errors.len() + e.more
    );
    if json {
        let object = serde_json::json!({
            "command": request.command,
            "ok": false,
            "error_kind": ErrorKind::BadRequest.as_str(),
            "error": message,
            "manifest_errors": e.errors.iter().map(|l| serde_json::json!({
                "line": l.line,
                "error": l.problem.to_string(),
            })).collect::<Vec<_>>(),
            "more_errors": e.more,
        });
        let _ = writeln!(io::stdout().lock(), "{object}");
    }
    let mut err = io::stderr().lock();
    for l in &e.errors {
        let _ = match l.line {
            0 => writeln!(err, "{shown}: {}", l.problem),
            n => writeln!(err, "{shown}:{n}: {}", l.problem),
        };
    }
    if e.more > 0 {
        let _ = writeln!(err, "{shown}: and {} more error(s)", e.more);
    }
    Failure {
        code: ErrorKind::BadRequest.exit_code(),
        message,
    }
}

/// Writes `results` to `file` as JSON Lines, in run order.
fn write_results(file: &Path, results: &[TargetResult]) -> io::Result<()> {
    let mut out = io::BufWriter::new(std::fs::File::create(file)?);
    for r in results {
        writeln!(out, "{}", r.to_line())?;
    }
    out.flush()
}

/// One row per target, in run order: name, outcome, how many applied (`up`) or
/// pending (`plan`, `status`), the newest applied, and the error.
fn table(
    out: &mut dyn Write,
    command: CommandName,
    is_canary: &dyn Fn(&str) -> bool,
    results: &[TargetResult],
) -> io::Result<()> {
    let count_title = if command == CommandName::Up {
        "APPLIED"
    } else {
        "PENDING"
    };
    let rows: Vec<[String; 5]> = results
        .iter()
        .map(|r| {
            let count = if command == CommandName::Up {
                r.applied.len()
            } else {
                r.pending.as_ref().map_or(0, Vec::len)
            };
            let name = if is_canary(&r.name) {
                format!("{} (canary)", r.name)
            } else {
                r.name.clone()
            };
            let error = match (&r.error_kind, &r.message) {
                (Some(k), Some(m)) => format!("{}: {}", k.as_str(), m),
                (None, Some(m)) => m.clone(),
                _ => "-".to_owned(),
            };
            [
                name,
                r.outcome.as_str().to_owned(),
                count.to_string(),
                one_line(r.last.as_deref().unwrap_or("-")),
                truncate(&one_line(&error), 160),
            ]
        })
        .collect();
    let titles = ["TARGET", "OUTCOME", count_title, "LAST", "ERROR"];
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([titles[i].len()])
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2, w3) = (width(0), width(1), width(2), width(3));
    writeln!(
        out,
        "{:<w0$}  {:<w1$}  {:>w2$}  {:<w3$}  {}",
        titles[0], titles[1], titles[2], titles[3], titles[4]
    )?;
    for r in &rows {
        writeln!(
            out,
            "{:<w0$}  {:<w1$}  {:>w2$}  {:<w3$}  {}",
            r[0], r[1], r[2], r[3], r[4]
        )?;
    }
    Ok(())
}

pub(super) fn note(line: &str) {
    let _ = writeln!(io::stderr(), "{line}");
}
