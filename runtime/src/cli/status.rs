//! `status`: every migration, whether and when it was applied, and whether its file still
//! matches the checksum recorded for it. Reads only; takes no lock.

use clap::Args;
use engine::plan::{self, StatusRow};
use serde::Serialize;

use super::db::{DbArgs, db_failure};
use super::verify::{migration_failure, with_migrations};
use super::{Exit, Failure};

/// Arguments of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Shared database flags.
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Serialize)]
struct JsonStatus<'a> {
    command: &'static str,
    migrations: &'a [StatusRow],
}

/// Runs `status`.
pub fn run(a: &StatusArgs) -> Result<Exit, Failure> {
    let r = a.db.resolve()?;
    with_migrations(&r.source, |source, migrations| {
        let mut db = r.connect()?;
        let (history, journal) = db.read_state(false).map_err(db_failure)?;
        plan::parse_needed(migrations, &history, &journal, None)
            .map_err(|e| migration_failure(source, e))?;
        let rows = plan::status(migrations, &history, &journal);
        if a.db.json {
            let out = JsonStatus {
                command: "status",
                migrations: &rows,
            };
            println!(
                "{}",
                serde_json::to_string(&out).expect("a report always serializes")
            );
        } else {
            print_table(&rows);
        }
        Ok(Exit::Ok)
    })
}

fn print_table(rows: &[StatusRow]) {
    let w = rows
        .iter()
        .map(|r| r.id.chars().count())
        .max()
        .unwrap_or(0)
        .max("MIGRATION".len());
    println!(
        "{:<w$}  {:<19}  {:<8}  {:<10}  NOTE",
        "MIGRATION", "APPLIED (UTC)", "STATE", "CHECKSUM"
    );
    for r in rows {
        println!(
            "{:<w$}  {:<19}  {:<8}  {:<10}  {}",
            r.id,
            r.applied_at.as_deref().unwrap_or("no"),
            r.state,
            r.checksum,
            r.note.as_deref().unwrap_or("")
        );
    }
    let applied = rows.iter().filter(|r| r.applied_at.is_some()).count();
    println!("{} migration(s), {applied} applied", rows.len());
}
