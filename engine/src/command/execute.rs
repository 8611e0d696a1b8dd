//! Running a [`Request`]: read and check the migrations, then the command's work against
//! the database. Front ends open the source and the connection their own way and render
//! the [`Report`]; everything between is here, once.

use crate::Limits;
use crate::migration::{self, Migration};
use crate::source::Source;

use super::error::CommandError;
use super::report::{FetchSummary, Report, VerifyReport, VerifyRow};

/// The migrations a command works on, and where they came from.
pub struct Input<'s> {
    /// The opened source.
    pub source: &'s Source,
    /// The migrations folder inside a zip artifact.
    pub dir: &'s str,
    /// Reader limits.
    pub limits: &'s Limits,
    /// How an S3 source was fetched, for `verify`'s report.
    pub fetch: Option<FetchSummary>,
    /// The set digest the caller validated; a different set is refused.
    pub expected_digest: Option<&'s str>,
}

/// A command's report, with what every front end shows about the migrations read.
pub struct Executed {
    /// The command's own report.
    pub report: Report,
    /// The set digest of the migrations read.
    pub digest: String,
    /// How many migrations the source holds.
    pub migrations: usize,
}

/// Reads, checks and orders the migrations (without parsing statements), checks the
/// digest, and hands them to `with`.
fn with_migrations<T>(
    input: &Input<'_>,
    with: impl FnOnce(&mut [Migration<'_>], String) -> Result<T, CommandError>,
) -> Result<T, CommandError> {
    let files = input.source.files(input.dir, input.limits)?;
    let mut migrations = migration::scan(files.iter().map(|f| (f.name, f.origin, f.data.as_ref())))
        .map_err(|e| CommandError::migration(input.source, e))?;
    let digest = migration::digest(&migrations);
    if let Some(expected) = input.expected_digest
        && expected != digest
    {
        return Err(CommandError::DigestMismatch {
            artifact: input.source.display(),
            expected: expected.to_owned(),
            actual: digest,
        });
    }
    with(&mut migrations, digest)
}

/// `verify`: parses every migration; no database.
pub fn verify(input: &Input<'_>) -> Result<Executed, CommandError> {
    with_migrations(input, |migrations, digest| {
        migrations
            .iter_mut()
            .try_for_each(Migration::parse)
            .map_err(|e| CommandError::migration(input.source, e))?;
        Ok(Executed {
            migrations: migrations.len(),
            report: Report::Verify(VerifyReport {
                source: input.source.display(),
                fetch: input.fetch.clone(),
                digest: digest.clone(),
                migrations: migrations
                    .iter()
                    .map(|m| VerifyRow {
                        id: m.id.to_owned(),
                        sha256: m.sha256.clone(),
                        up_statements: m.up.statements.len(),
                        down_statements: m.down.statements.len(),
                        up_notransaction: m.up.no_transaction,
                        down_notransaction: m.down.no_transaction,
                    })
                    .collect(),
            }),
            digest,
        })
    })
}

#[cfg(feature = "mysql")]
pub use with_db::execute;

#[cfg(feature = "mysql")]
mod with_db {
    use std::time::Duration;

    use super::*;
    use crate::command::report::{ResolveReport, RunSummary, StatusReport};
    use crate::command::request::{CommandName, Request, Resolution};
    use crate::db::{Database, DbError, RunReport, StepReport, StepState};
    use crate::plan::{self, Direction};

    /// Runs `request` on `input`'s migrations. `connect` opens the database when the
    /// command needs one (never for `verify`); `progress` sees each migration a run
    /// completes, as it completes.
    pub fn execute(
        request: &Request,
        input: &Input<'_>,
        connect: impl FnOnce() -> Result<Database, DbError>,
        lock_timeout: Duration,
        progress: impl FnMut(&StepReport),
    ) -> Result<Executed, CommandError> {
        request.validate()?;
        if request.command == CommandName::Verify {
            return verify(input);
        }
        let source = input.source;
        let parse_err = |e: DbError| match e {
            DbError::Parse(e) => CommandError::migration(source, e),
            e => CommandError::Db(e),
        };
        with_migrations(input, |migrations, digest| {
            let mut db = connect()?;
            let count = migrations.len();
            let report = match request.command {
                CommandName::Status => Report::Status(status(&mut db, migrations, source)?),
                CommandName::Resolve => {
                    let id = request.id.as_deref().unwrap_or_default();
                    let resolution = request.resolution.unwrap_or(Resolution::Applied);
                    let mut m = migrations.iter_mut().find(|m| m.id == id);
                    if let Some(m) = m.as_deref_mut() {
                        m.parse().map_err(|e| CommandError::migration(source, e))?;
                    }
                    db.resolve(
                        id,
                        m.as_deref(),
                        resolution == Resolution::Applied,
                        lock_timeout,
                    )?;
                    Report::Resolve(ResolveReport {
                        command: CommandName::Resolve,
                        id: id.to_owned(),
                        state: resolution,
                    })
                }
                _ => {
                    let opts = request.options().expect("a planning command has options");
                    let dry_run = !request.writes();
                    let run = if dry_run {
                        // No lock: nothing is written, and a dry run must not wait behind
                        // a real one.
                        planned(&mut db, migrations, &opts).map_err(parse_err)?
                    } else {
                        db.run(migrations, &opts, lock_timeout, progress)
                            .map_err(parse_err)?
                    };
                    Report::Run(RunSummary::done(request.command, dry_run, run))
                }
            };
            Ok(Executed {
                report,
                digest,
                migrations: count,
            })
        })
    }

    fn status(
        db: &mut Database,
        migrations: &mut [Migration<'_>],
        source: &Source,
    ) -> Result<StatusReport, CommandError> {
        let (history, journal) = db.read_state(false)?;
        plan::parse_needed(migrations, &history, &journal, None)
            .map_err(|e| CommandError::migration(source, e))?;
        Ok(StatusReport {
            command: CommandName::Status,
            migrations: plan::status(migrations, &history, &journal),
            lock_held: db.lock_held()?,
        })
    }

    fn planned(
        db: &mut Database,
        migrations: &mut [Migration<'_>],
        opts: &plan::Options,
    ) -> Result<RunReport, DbError> {
        let p = db.planned(migrations, opts, false)?.plan;
        Ok(RunReport {
            steps: p
                .steps
                .iter()
                .map(|s| {
                    let m = &migrations[s.index];
                    let total = match s.direction {
                        Direction::Up => m.up.statements.len(),
                        Direction::Down => m.down.statements.len(),
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
                        state: StepState::Planned,
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
            stopped: None,
        })
    }

    impl RunSummary {
        /// A run that did everything asked, or stopped at its deadline between migrations.
        pub fn done(command: CommandName, dry_run: bool, r: RunReport) -> RunSummary {
            RunSummary {
                command,
                dry_run,
                ok: r.stopped.is_none(),
                migrations: r.steps,
                adopted: r.adopted,
                drift: r.drift,
                unknown: r.unknown,
                last_applied: r.last_applied,
                stopped: r.stopped,
                failure: None,
                error_kind: None,
                error: None,
            }
        }

        /// A run that failed with `e`: what completed before, the failure, and its
        /// message as `frontend` words it.
        pub fn failed(
            request: &Request,
            e: &CommandError,
            frontend: &crate::command::Frontend,
        ) -> RunSummary {
            let failure = match e {
                CommandError::Db(DbError::Migration(f)) => Some(f.as_ref().clone()),
                _ => None,
            };
            RunSummary {
                command: request.command,
                dry_run: !request.writes(),
                ok: false,
                migrations: failure
                    .as_ref()
                    .map(|f| f.completed.clone())
                    .unwrap_or_default(),
                adopted: Vec::new(),
                drift: Vec::new(),
                unknown: Vec::new(),
                last_applied: None,
                stopped: None,
                failure,
                error_kind: Some(e.kind().as_str().to_owned()),
                error: Some(e.message(frontend)),
            }
        }
    }
}
