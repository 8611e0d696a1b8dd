//! Running a [`Request`]: read and check the migrations, then the command's work against
//! the store. Front ends open the source and the connection their own way and render
//! the [`Report`]; everything between is here, once.

use std::time::Duration;

use super::error::CommandError;
use super::report::{FetchSummary, Report, ResolveReport, RunSummary, VerifyReport, VerifyRow};
use super::request::{CommandName, Request, Resolution};
use super::run::{self, Progress};
use crate::Limits;
use crate::migration::{self, Migration};
use crate::source::Source;
use crate::store::{Store, StoreError};

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
/// digest, and hands them to `with`. A source with nothing in its folder is refused
/// unless `request` takes an empty set ([`Request::refuses_empty`], `allow_empty`),
/// before anything connects.
fn with_migrations<T>(
    request: &Request,
    input: &Input<'_>,
    with: impl FnOnce(&mut [Migration<'_>], String) -> Result<T, CommandError>,
) -> Result<T, CommandError> {
    let files = input.source.files(input.dir, input.limits)?;
    if files.is_empty() && request.refuses_empty() && !request.allow_empty {
        return Err(input.source.no_migrations(input.dir).into());
    }
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

/// Parses every migration; the first that does not parse is the error, naming its file.
fn parse_all(migrations: &mut [Migration<'_>], input: &Input<'_>) -> Result<(), CommandError> {
    migrations
        .iter_mut()
        .try_for_each(Migration::parse)
        .map_err(|e| CommandError::migration(input.source, e))
}

/// `verify` (`request` says whether an empty set is allowed): parses every migration;
/// no database.
pub fn verify(request: &Request, input: &Input<'_>) -> Result<Executed, CommandError> {
    with_migrations(request, input, |migrations, digest| {
        parse_all(migrations, input)?;
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

/// `lint`: parses every migration and lints the set in apply order; no database. The
/// report is returned whatever it holds: [`Report::refusal`] says whether it fails.
pub fn lint(request: &Request, input: &Input<'_>) -> Result<Executed, CommandError> {
    with_migrations(request, input, |migrations, digest| {
        parse_all(migrations, input)?;
        Ok(Executed {
            migrations: migrations.len(),
            report: Report::Lint(crate::lint::lint(migrations)),
            digest,
        })
    })
}

/// Runs `request` on `input`'s migrations. `connect` opens the store when the command
/// needs one (never for `verify`); `progress` sees, as they happen, a wait for the run
/// lock (every command that takes it) and each migration a run completes. Every command
/// goes from read to plan to apply through [`super::run`].
pub fn execute<S: Store>(
    request: &Request,
    input: &Input<'_>,
    connect: impl FnOnce() -> Result<S, StoreError>,
    lock_timeout: Duration,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<Executed, CommandError> {
    request.validate()?;
    match request.command {
        CommandName::Verify => return verify(request, input),
        CommandName::Lint if !request.pending => return lint(request, input),
        _ => {}
    }
    let source = input.source;
    with_migrations(request, input, |migrations, digest| {
        let mut store = connect()?;
        let count = migrations.len();
        let report = match request.command {
            CommandName::Status => Report::Status(run::status(&mut store, source, migrations)?),
            CommandName::Lint => {
                parse_all(migrations, input)?;
                Report::Lint(run::lint_pending(&mut store, migrations)?)
            }
            CommandName::Resolve => {
                let id = request.id.as_deref().unwrap_or_default();
                let resolution = request.resolution.unwrap_or(Resolution::Applied);
                let on_lock = |e: &_| progress(Progress::Lock(e));
                let lock_wait = match (resolution, request.statement) {
                    (
                        Resolution::StatementCommitted | Resolution::StatementNotCommitted,
                        Some(n),
                    ) => {
                        let committed = resolution == Resolution::StatementCommitted;
                        run::settle(
                            &mut store,
                            source,
                            migrations,
                            id,
                            n,
                            committed,
                            lock_timeout,
                            on_lock,
                        )?
                    }
                    _ => {
                        let applied = resolution == Resolution::Applied;
                        run::resolve(
                            &mut store,
                            source,
                            migrations,
                            id,
                            applied,
                            lock_timeout,
                            on_lock,
                        )?
                    }
                };
                Report::Resolve(ResolveReport {
                    command: CommandName::Resolve,
                    id: id.to_owned(),
                    state: resolution,
                    target: None,
                    lock_wait,
                })
            }
            _ => {
                let opts = request.options().expect("a planning command has options");
                let dry_run = !request.writes();
                if request.review {
                    let on_lock = |e: &_| progress(Progress::Lock(e));
                    let (done, review) =
                        run::review(&mut store, source, migrations, &opts, lock_timeout, on_lock)?;
                    let mut summary = RunSummary::done(request.command, dry_run, done);
                    summary.review = Some(review.entries);
                    summary.review_summary = Some(Box::new(review.summary));
                    return Ok(Executed {
                        report: Report::Run(summary),
                        digest,
                        migrations: count,
                    });
                }
                let done = if dry_run {
                    let script = request.sql.then_some(lock_timeout);
                    run::dry_run(&mut store, source, migrations, &opts, script)?
                } else {
                    run::run(
                        &mut store,
                        source,
                        migrations,
                        &opts,
                        lock_timeout,
                        progress,
                    )?
                };
                Report::Run(RunSummary::done(request.command, dry_run, done))
            }
        };
        Ok(Executed {
            report,
            digest,
            migrations: count,
        })
    })
}
