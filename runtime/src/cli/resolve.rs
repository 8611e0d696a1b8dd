//! `resolve ID --applied | --rolled-back`: record what a person fixed by hand after a
//! partial migration. Writes the history row (or deletes it) and the journal row together.

use clap::Args;

use super::db::{DbArgs, db_failure};
use super::verify::{migration_failure, with_migrations};
use super::{Exit, Failure};

/// Arguments of `resolve`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("outcome").required(true).args(["applied", "rolled_back"])))]
pub struct ResolveArgs {
    /// The migration id (file name).
    pub id: String,
    /// The migration is now fully applied.
    #[arg(long)]
    pub applied: bool,
    /// The migration is now fully rolled back (not applied).
    #[arg(long)]
    pub rolled_back: bool,
    /// Shared database flags.
    #[command(flatten)]
    pub db: DbArgs,
}

/// Runs `resolve`.
pub fn run(a: &ResolveArgs) -> Result<Exit, Failure> {
    let r = a.db.resolve()?;
    with_migrations(&r.source, |source, migrations| {
        let mut db = r.connect()?;
        let mut m = migrations.iter_mut().find(|m| m.id == a.id);
        if let Some(m) = m.as_deref_mut() {
            m.parse().map_err(|e| migration_failure(source, e))?;
        }
        let m = m.as_deref();
        db.resolve(&a.id, m, a.applied, r.settings.lock_timeout)
            .map_err(db_failure)?;
        let what = if a.applied { "applied" } else { "rolled back" };
        if a.db.json {
            println!(
                "{}",
                serde_json::json!({"command": "resolve", "id": a.id, "state": what})
            );
        } else {
            println!("recorded {} as {what}", a.id);
        }
        Ok(Exit::Ok)
    })
}
