//! `up`, `down`, `redo`, `skip` and `plan`: plan against the database and apply (or, for
//! `plan` and `--dry-run`, only show) the result.

use clap::Args;
use engine::db::{DbError, RunReport, StepReport};
use engine::plan::{self, Command, Options};
use serde::Serialize;

use super::db::{DbArgs, db_failure};
use super::verify::{migration_failure, with_migrations};
use super::{Exit, Failure};

/// Arguments of `up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Apply at most N migrations (0: all).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub limit: usize,
    /// Show what would be applied; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Continue a partial migration from its first uncommitted statement.
    #[arg(long)]
    pub resume: bool,
    /// Shared database flags.
    #[command(flatten)]
    pub db: DbArgs,
}

/// Arguments of `down`.
#[derive(Debug, Args)]
pub struct DownArgs {
    /// Revert at most N migrations (0: all).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub limit: usize,
    /// Show what would be reverted; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Continue a partial revert from its first uncommitted statement.
    #[arg(long)]
    pub resume: bool,
    /// Shared database flags.
    #[command(flatten)]
    pub db: DbArgs,
}

/// Arguments of `redo` and `plan`.
#[derive(Debug, Args)]
pub struct RedoArgs {
    /// Show what would be done; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Shared database flags.
    #[command(flatten)]
    pub db: DbArgs,
}

/// Arguments of `skip`.
#[derive(Debug, Args)]
pub struct SkipArgs {
    /// Record at most N migrations (0: all).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub limit: usize,
    /// Shared database flags.
    #[command(flatten)]
    pub db: DbArgs,
}

/// Arguments of `plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Plan at most N migrations (0: all).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub limit: usize,
    /// Plan resuming a partial migration.
    #[arg(long)]
    pub resume: bool,
    /// Shared database flags.
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    command: &'static str,
    dry_run: bool,
    ok: bool,
    migrations: &'a [StepReport],
    adopted: &'a [String],
    drift: &'a [plan::Drift],
    unknown: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<&'a engine::db::MigrationFailure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn limit(n: usize) -> Option<usize> {
    (n > 0).then_some(n)
}

/// Runs `up`.
pub fn up(a: &UpArgs) -> Result<Exit, Failure> {
    let mut o = Options::new(Command::Up);
    o.limit = limit(a.limit);
    o.resume = a.resume;
    run("up", o, a.dry_run, &a.db)
}

/// Runs `down`.
pub fn down(a: &DownArgs) -> Result<Exit, Failure> {
    let mut o = Options::new(Command::Down);
    o.limit = limit(a.limit);
    o.resume = a.resume;
    run("down", o, a.dry_run, &a.db)
}

/// Runs `redo`.
pub fn redo(a: &RedoArgs) -> Result<Exit, Failure> {
    run("redo", Options::new(Command::Redo), a.dry_run, &a.db)
}

/// Runs `skip`.
pub fn skip(a: &SkipArgs) -> Result<Exit, Failure> {
    let mut o = Options::new(Command::Skip);
    o.limit = limit(a.limit);
    run("skip", o, false, &a.db)
}

/// Runs `plan`: `up --dry-run`.
pub fn plan(a: &PlanArgs) -> Result<Exit, Failure> {
    let mut o = Options::new(Command::Up);
    o.limit = limit(a.limit);
    o.resume = a.resume;
    run("plan", o, true, &a.db)
}

fn verb(s: &StepReport) -> &'static str {
    match s.state {
        "applied" => "applied ",
        "reverted" => "reverted",
        "skipped" => "skipped ",
        _ => "planned ",
    }
}

fn print_step(s: &StepReport) {
    let mut extra = String::new();
    if s.catch_up {
        extra.push_str(", catch-up");
    }
    if s.resumed_from > 0 {
        extra.push_str(&format!(", resumed after statement {}", s.resumed_from));
    }
    if s.state == "planned" {
        println!(
            "would {} {} ({} statements{extra})",
            s.direction,
            s.id,
            s.statements_total - s.resumed_from
        );
    } else {
        println!(
            "{} {} ({} statements, {} ms{extra})",
            verb(s),
            s.id,
            s.statements,
            s.duration_ms
        );
    }
}

fn run(
    command: &'static str,
    mut opts: Options,
    dry_run: bool,
    args: &DbArgs,
) -> Result<Exit, Failure> {
    let r = args.resolve()?;
    opts.ignore_unknown = r.ignore_unknown;
    opts.allow_drift = args.allow_drift;
    let json = args.json;
    with_migrations(&r.source, |source, migrations| {
        let mut db = r.connect()?;
        let result: Result<RunReport, DbError> = if dry_run {
            // No lock: nothing is written, and a dry run must not wait behind a real one.
            (|| {
                let p = db.planned(migrations, &opts, false)?.plan;
                Ok(RunReport {
                    steps: p
                        .steps
                        .iter()
                        .map(|s| {
                            let m = &migrations[s.index];
                            let total = match s.direction {
                                plan::Direction::Up => m.up.statements.len(),
                                plan::Direction::Down => m.down.statements.len(),
                            };
                            StepReport {
                                id: m.id.to_string(),
                                sha256: m.sha256.clone(),
                                direction: s.direction,
                                action: s.action,
                                statements: 0,
                                statements_total: total,
                                resumed_from: s.resume_from,
                                catch_up: s.catch_up,
                                duration_ms: 0,
                                state: "planned",
                            }
                        })
                        .collect(),
                    adopted: p
                        .adopt
                        .iter()
                        .map(|&i| migrations[i].id.to_string())
                        .collect(),
                    drift: p.drift,
                    unknown: p.unknown,
                    last_applied: None,
                })
            })()
        } else {
            db.run(migrations, &opts, r.settings.lock_timeout, |s| {
                if !json {
                    print_step(s)
                }
            })
        };
        match result {
            Ok(report) => {
                if json {
                    print_json(command, dry_run, &report, None, None);
                } else {
                    if dry_run {
                        report.steps.iter().for_each(print_step);
                    }
                    print_notes(&report);
                    let n = report.steps.len();
                    match (n, dry_run) {
                        (0, _) => println!("nothing to do"),
                        (_, true) => println!("{n} migration(s) planned, nothing changed"),
                        (_, false) => println!("{n} migration(s) done"),
                    }
                }
                Ok(Exit::Ok)
            }
            Err(e) => {
                if json {
                    let empty = RunReport::default();
                    let (done, failure) = match &e {
                        DbError::Migration(f) => (
                            RunReport {
                                steps: f.completed.clone(),
                                ..RunReport::default()
                            },
                            Some(f.as_ref()),
                        ),
                        _ => (empty, None),
                    };
                    print_json(command, dry_run, &done, failure, Some(e.to_string()));
                }
                Err(match e {
                    DbError::Parse(e) => migration_failure(source, e),
                    e => db_failure(e),
                })
            }
        }
    })
}

fn print_notes(r: &RunReport) {
    if !r.adopted.is_empty() {
        println!(
            "note: recorded checksums for {} migration(s) applied without one (e.g. by sql-migrate): {}",
            r.adopted.len(),
            short_list(&r.adopted)
        );
    }
    for d in &r.drift {
        println!(
            "warning: {} changed since applied (recorded {}, file {}); proceeding (--allow-drift)",
            d.id, d.recorded, d.file
        );
    }
    if !r.unknown.is_empty() {
        println!(
            "note: ignoring {} history row(s) without a file: {}",
            r.unknown.len(),
            short_list(&r.unknown)
        );
    }
}

fn short_list(ids: &[String]) -> String {
    if ids.len() <= 5 {
        ids.join(", ")
    } else {
        format!("{}, … ({} more)", ids[..5].join(", "), ids.len() - 5)
    }
}

fn print_json(
    command: &'static str,
    dry_run: bool,
    r: &RunReport,
    failure: Option<&engine::db::MigrationFailure>,
    error: Option<String>,
) {
    let out = JsonReport {
        command,
        dry_run,
        ok: error.is_none(),
        migrations: &r.steps,
        adopted: &r.adopted,
        drift: &r.drift,
        unknown: &r.unknown,
        failure,
        error,
    };
    println!(
        "{}",
        serde_json::to_string(&out).expect("a report always serializes")
    );
}
