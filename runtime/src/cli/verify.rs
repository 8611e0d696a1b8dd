//! `lambda-migrate verify`: read, check and parse every migration without a database.

use clap::Args;
use engine::migration::{self, Migration, MigrationError};
use engine::source::{Source, SourceFile};
use serde::Serialize;

use super::source::{FetchSummary, Opened, open_source};
use super::{Exit, Failure, SourceArgs};

/// Arguments of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Where the migrations come from.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Print one JSON object on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fetch: Option<FetchSummary>,
    digest: String,
    migrations: Vec<Row<'a>>,
}

#[derive(Serialize)]
struct Row<'a> {
    id: &'a str,
    sha256: &'a str,
    up_statements: usize,
    down_statements: usize,
    up_notransaction: bool,
    down_notransaction: bool,
}

/// Opens and reads `args`' source, then checks and orders its migrations without parsing
/// their statements (see [`migration::scan`]); failures are bad input. `with` gets the
/// migrations and parses what it needs. An S3 fetch's cost goes to stderr.
pub fn with_migrations<T>(
    args: &SourceArgs,
    with: impl FnOnce(&Source, &mut [Migration<'_>]) -> Result<T, Failure>,
) -> Result<T, Failure> {
    with_files(args, false, |opened, migrations| {
        if let Some(fetch) = &opened.fetch {
            eprintln!("{}", fetch.human());
        }
        with(&opened.source, migrations)
    })
}

/// A migration file that does not parse, as bad input naming the artifact it is in.
pub fn migration_failure(source: &Source, e: MigrationError) -> Failure {
    match source {
        // Inside an archive, the origin is the entry's path: say which archive.
        Source::Zip { .. } => Failure::bad_input(format!("{}: {e}", source.display())),
        Source::Dir { .. } => Failure::bad_input(e),
    }
}

/// Opens `args`' source, reads and scans its files (and parses them all when `parse`),
/// and hands `with` the migrations with the opened source and its fetch cost.
fn with_files<T>(
    args: &SourceArgs,
    parse: bool,
    with: impl FnOnce(&Opened, &mut [Migration<'_>]) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let limits = args.limits();
    let opened = open_source(args)?;
    let source = &opened.source;
    let files: Vec<SourceFile<'_>> = source
        .files(&args.dir, &limits)
        .map_err(Failure::bad_input)?;
    let mut migrations = migration::scan(files.iter().map(|f| (f.name, f.origin, f.data.as_ref())))
        .map_err(|e| migration_failure(source, e))?;
    if parse {
        migrations
            .iter_mut()
            .try_for_each(Migration::parse)
            .map_err(|e| migration_failure(source, e))?;
    }
    with(&opened, &mut migrations)
}

/// Runs `verify`.
pub fn run(args: &VerifyArgs) -> Result<Exit, Failure> {
    with_files(&args.source, true, |opened, migrations| {
        let report = Report {
            source: opened.source.display(),
            fetch: opened.fetch.clone(),
            digest: migration::digest(migrations),
            migrations: migrations
                .iter()
                .map(|m| Row {
                    id: m.id,
                    sha256: &m.sha256,
                    up_statements: m.up.statements.len(),
                    down_statements: m.down.statements.len(),
                    up_notransaction: m.up.no_transaction,
                    down_notransaction: m.down.no_transaction,
                })
                .collect(),
        };
        if let (false, Some(fetch)) = (args.json, &report.fetch) {
            eprintln!("{}", fetch.human());
        }
        if args.json {
            println!(
                "{}",
                serde_json::to_string(&report).expect("a report always serializes")
            );
        } else {
            print_table(&report);
        }
        Ok(Exit::Ok)
    })
}

fn print_table(report: &Report<'_>) {
    let width = report
        .migrations
        .iter()
        .map(|r| r.id.chars().count())
        .max()
        .unwrap_or(2)
        .max(2);
    println!(
        "{:<width$}  {:<64}  {:>4}  {:>4}  NOTRANSACTION",
        "ID", "SHA256", "UP", "DOWN"
    );
    for r in &report.migrations {
        let notx = match (r.up_notransaction, r.down_notransaction) {
            (true, true) => "up,down",
            (true, false) => "up",
            (false, true) => "down",
            (false, false) => "-",
        };
        println!(
            "{:<width$}  {}  {:>4}  {:>4}  {notx}",
            r.id, r.sha256, r.up_statements, r.down_statements
        );
    }
    println!(
        "{} migration(s) from {}, digest {}",
        report.migrations.len(),
        report.source,
        report.digest
    );
}
