//! `lambda-migrate verify`: read, check and parse every migration without a database.

use clap::Args;
use engine::migration::{self, Migration};
use engine::source::{Source, SourceFile};
use serde::Serialize;

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

/// Opens and reads `args`' source, then parses and orders its migrations; failures are
/// bad input. `with` gets the migrations.
pub fn with_migrations<T>(
    args: &SourceArgs,
    with: impl FnOnce(&Source, &[Migration<'_>]) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let limits = args.limits();
    let source = Source::open(&args.source, &limits).map_err(Failure::bad_input)?;
    let files: Vec<SourceFile<'_>> = source
        .files(&args.dir, &limits)
        .map_err(Failure::bad_input)?;
    let migrations = migration::load(files.iter().map(|f| (f.name, f.origin, f.data.as_ref())))
        .map_err(|e| match source {
            // Inside an archive, the origin is the entry's path: say which archive.
            Source::Zip { .. } => Failure::bad_input(format!("{}: {e}", source.display())),
            Source::Dir { .. } => Failure::bad_input(e),
        })?;
    with(&source, &migrations)
}

/// Runs `verify`.
pub fn run(args: &VerifyArgs) -> Result<Exit, Failure> {
    with_migrations(&args.source, |source, migrations| {
        let report = Report {
            source: source.display(),
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
