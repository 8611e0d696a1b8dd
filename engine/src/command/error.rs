//! How a command fails: one [`CommandError`], classified by [`ErrorKind`] (the CLI's exit
//! code and the migrator's `errorType`), with a [`Remedy`] that each front end words in
//! its own terms.

use super::request::RequestError;
use crate::migration::MigrationError;
use crate::plan::{Direction, PlanError, Settled};
use crate::source::{NoMigrations, SourceError};
use crate::store::MigrationFailure;
use crate::store::StoreError;

/// The kinds of failure, distinct wherever an operator would act differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request (arguments, event, `UserParameters`) is malformed or contradictory.
    BadRequest,
    /// The deployment does not let the migrator run this command.
    NotAllowed,
    /// The settings are wrong (database settings, IAM auth, CA bundle, environment).
    Configuration,
    /// The artifact could not be fetched.
    Fetch,
    /// The artifact is not a readable zip, or its migrations folder is unusable.
    BadArtifact,
    /// A migration file does not parse or its id is unusable.
    BadMigration,
    /// The migrations differ from the set the caller validated.
    DigestMismatch,
    /// Applied migrations' files changed since they were applied.
    Drift,
    /// The history has rows without a migration file.
    UnknownMigrations,
    /// A migration was left part-way and blocks further runs.
    Partial,
    /// Another run holds the migration lock.
    LockTimeout,
    /// The database could not be reached or refused the login.
    Connection,
    /// A statement failed.
    Sql,
    /// A bug or an unexpected condition.
    Internal,
    /// `lint` found hazards at or above the failing severity.
    LintRefused,
}

impl ErrorKind {
    /// Every kind.
    pub const ALL: [ErrorKind; 15] = [
        ErrorKind::BadRequest,
        ErrorKind::NotAllowed,
        ErrorKind::Configuration,
        ErrorKind::Fetch,
        ErrorKind::BadArtifact,
        ErrorKind::BadMigration,
        ErrorKind::DigestMismatch,
        ErrorKind::Drift,
        ErrorKind::UnknownMigrations,
        ErrorKind::Partial,
        ErrorKind::LockTimeout,
        ErrorKind::Connection,
        ErrorKind::Sql,
        ErrorKind::Internal,
        ErrorKind::LintRefused,
    ];

    /// The name: the migrator's `errorType`, and `error_kind` in JSON reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "BadRequest",
            ErrorKind::NotAllowed => "CommandNotAllowed",
            ErrorKind::Configuration => "ConfigurationError",
            ErrorKind::Fetch => "FetchError",
            ErrorKind::BadArtifact => "BadArtifact",
            ErrorKind::BadMigration => "BadMigration",
            ErrorKind::DigestMismatch => "DigestMismatch",
            ErrorKind::Drift => "Drift",
            ErrorKind::UnknownMigrations => "UnknownMigrations",
            ErrorKind::Partial => "PartialMigration",
            ErrorKind::LockTimeout => "LockTimeout",
            ErrorKind::Connection => "ConnectionError",
            ErrorKind::Sql => "SqlError",
            ErrorKind::Internal => "InternalError",
            ErrorKind::LintRefused => "LintRefused",
        }
    }

    /// The kind a name spells, if it is one of ours.
    pub fn parse(s: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The CLI's exit code: 1 a migration failed, 2 bad input or configuration (nothing
    /// applied), 3 lock not obtained, 4 drift, 5 unknown history rows, 6 a partial
    /// migration blocks the run, 7 the database could not be reached, 8 internal error,
    /// 9 `lint` refused the set.
    pub const fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Sql => 1,
            ErrorKind::BadRequest
            | ErrorKind::NotAllowed
            | ErrorKind::Configuration
            | ErrorKind::Fetch
            | ErrorKind::BadArtifact
            | ErrorKind::BadMigration
            | ErrorKind::DigestMismatch => 2,
            ErrorKind::LockTimeout => 3,
            ErrorKind::Drift => 4,
            ErrorKind::UnknownMigrations => 5,
            ErrorKind::Partial => 6,
            ErrorKind::Connection => 7,
            ErrorKind::Internal => 8,
            ErrorKind::LintRefused => 9,
        }
    }
}

/// What an operator can do about a failure. Front ends word it: the CLI names its own
/// flags, the migrator names the remote command that does the same through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remedy {
    /// Fix the file if needed, then continue the partial migration with `--resume`, or
    /// record by hand what was done.
    Resume {
        /// The migration.
        id: String,
        /// The direction that was running.
        direction: Direction,
    },
    /// Only a person can settle it: fix by hand, then record the outcome.
    Resolve {
        /// The migration.
        id: String,
    },
    /// The run's deadline stopped a migration that needs longer than a run may take.
    Deadline {
        /// The migration.
        id: String,
        /// The direction that was running.
        direction: Direction,
        /// Statements of it are committed: it continues with `--resume`.
        resume: bool,
    },
    /// A settled, applied migration: reverting it is `down`'s work, not `resolve`'s.
    Down,
    /// A settled, pending migration: recording it as applied without running it is
    /// `skip`'s work, not `resolve`'s.
    Skip,
    /// Proceed over changed files.
    AllowDrift,
    /// Proceed over history rows without a file.
    IgnoreUnknown,
    /// A statement's outcome is unknown: a person checks, then records which it was.
    InDoubt {
        /// The migration.
        id: String,
        /// The statement in doubt (1-based).
        statement: usize,
    },
    /// Revert although the Down section has no statement.
    AllowEmptyDown {
        /// `down` or `redo`.
        command: &'static str,
    },
    /// Read the migrations from this folder of the artifact (`""`: its root).
    UseFolder {
        /// The folder holding the most `.sql` files.
        folder: String,
    },
    /// Read the migrations from this directory.
    UseSource {
        /// The subdirectory holding the most `.sql` files.
        path: String,
    },
    /// Say that an empty set is meant.
    AllowEmpty,
}

/// Who words a remedy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frontend {
    /// The command line, running where it is (locally, or `--via-lambda`'s output of a
    /// local rendering): remedies name its flags.
    Cli,
    /// The migrator function, read in a pipeline's failure or a remote CLI's output:
    /// remedies name the remote command. `function` is its name, when known.
    Migrator {
        /// The function's name (`AWS_LAMBDA_FUNCTION_NAME`).
        function: Option<String>,
    },
}

impl Frontend {
    fn command(&self, args: &str) -> String {
        match self {
            Frontend::Cli => format!("`{args}`"),
            Frontend::Migrator { function } => format!(
                "`lambda-migrate --via-lambda {} {args}`",
                function.as_deref().unwrap_or("MIGRATOR")
            ),
        }
    }
}

impl Remedy {
    /// The remedy in `frontend`'s terms.
    pub fn words(&self, frontend: &Frontend) -> String {
        let resolve = |id: &str| {
            format!(
                "{} or {}",
                frontend.command(&format!("resolve {id} --applied")),
                frontend.command(&format!("resolve {id} --rolled-back"))
            )
        };
        match self {
            Remedy::Resume { id, direction } => format!(
                "fix the file if needed and continue with {}, or fix it by hand and record that with {}",
                frontend.command(&format!("{direction} --resume")),
                resolve(id)
            ),
            Remedy::Resolve { id } => {
                format!("fix it by hand, then record that with {}", resolve(id))
            }
            Remedy::Deadline {
                id,
                direction,
                resume,
            } => format!(
                "it needs longer than the migrator may run: raise the function's timeout \
                 (Lambda allows up to 900 s) and run {} again, or apply it by hand and record \
                 that with {}",
                frontend.command(&if *resume {
                    format!("{direction} --resume")
                } else {
                    direction.to_string()
                }),
                resolve(id)
            ),
            Remedy::Down => format!(
                "to revert it, use {}, which runs Down sections, newest first",
                frontend.command("down")
            ),
            Remedy::Skip => format!(
                "to record it as applied without running it, use {}, which records pending \
                 migrations, oldest first",
                frontend.command("skip")
            ),
            Remedy::AllowDrift => format!(
                "to proceed anyway, run again with --allow-drift (e.g. {})",
                frontend.command("up --allow-drift")
            ),
            Remedy::InDoubt { id, statement } => format!(
                "check on the database whether statement {statement} of {id} took effect, then \
                 record it with {} or {}, and continue with {}",
                frontend.command(&format!("resolve {id} --statement-committed {statement}")),
                frontend.command(&format!(
                    "resolve {id} --statement-not-committed {statement}"
                )),
                frontend.command("up --resume"),
            ),
            Remedy::IgnoreUnknown => format!(
                "to proceed anyway, run again with --ignore-unknown (e.g. {})",
                frontend.command("up --ignore-unknown")
            ),
            Remedy::AllowEmptyDown { command } => format!(
                "write the Down statements, or record the reversion as it is with {}",
                frontend.command(&format!("{command} --allow-empty-down"))
            ),
            Remedy::UseFolder { folder } => {
                let flag = if folder.is_empty() {
                    "--dir ''".to_string()
                } else {
                    format!("--dir {folder}")
                };
                match frontend {
                    Frontend::Cli => format!("use {flag}"),
                    Frontend::Migrator { .. } => format!(
                        "set `dir` to {folder:?} (the event's or the pipeline's UserParameters' \
                         `dir`, MIGRATIONS_DIR, or {flag} through --via-lambda)"
                    ),
                }
            }
            Remedy::UseSource { path } => format!("use --source {path}"),
            Remedy::AllowEmpty => match frontend {
                Frontend::Cli => "pass --allow-empty if an empty set is meant".to_string(),
                Frontend::Migrator { .. } => format!(
                    "send \"allow_empty\": true if an empty set is meant (e.g. {})",
                    frontend.command("up --allow-empty")
                ),
            },
        }
    }
}

/// Why a command failed. Messages name the file, migration and statement where there is
/// one, and never a password.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The request is malformed, or not allowed here.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The settings are unusable.
    #[error("configuration: {0}")]
    Configuration(String),
    /// The migrations could not be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The artifact could not be fetched.
    #[cfg(feature = "s3")]
    #[error(transparent)]
    Fetch(Box<crate::fetch::FetchError>),
    /// A migration file is unusable.
    #[error("{prefix}{error}")]
    Migration {
        /// `ARTIFACT: ` for files inside an archive, else empty.
        prefix: String,
        /// What is wrong.
        error: Box<MigrationError>,
    },
    /// The migrations are not the set the caller validated.
    #[error(
        "{artifact}: the migrations' digest is {actual}, but {expected} was validated; \
         the artifact or its migrations folder differs from what was checked"
    )]
    DigestMismatch {
        /// The artifact.
        artifact: String,
        /// What the caller expected.
        expected: String,
        /// What was read.
        actual: String,
    },
    /// Planning refused; nothing was changed.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A migration failed part-way; what is committed is in the failure.
    #[error(transparent)]
    Failed(Box<MigrationFailure>),
    /// The store failed (connecting, locking, its own bookkeeping).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The source has no migration in its folder, and an empty set was not asked for.
    #[error(transparent)]
    NoMigrations(Box<NoMigrations>),
    /// `lint` found hazards at or above the failing severity (the report says which).
    #[error(
        "lint refused the migrations: {failing} finding(s) at {fail_on} level or above \
         ({errors} error(s), {warnings} warning(s)); fix them, or suppress each with a \
         reasoned `-- lint:ignore RULE-ID reason` comment above its statement"
    )]
    LintRefused {
        /// Unsuppressed findings at or above `fail_on`.
        failing: usize,
        /// The failing severity.
        fail_on: &'static str,
        /// Unsuppressed errors.
        errors: usize,
        /// Unsuppressed warnings.
        warnings: usize,
    },
}

impl From<NoMigrations> for CommandError {
    fn from(e: NoMigrations) -> CommandError {
        CommandError::NoMigrations(Box::new(e))
    }
}

#[cfg(feature = "s3")]
impl From<crate::fetch::FetchError> for CommandError {
    fn from(e: crate::fetch::FetchError) -> CommandError {
        CommandError::Fetch(Box::new(e))
    }
}

impl CommandError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CommandError::Request(
                RequestError::NotAllowed { .. } | RequestError::InlineNotAllowed { .. },
            ) => ErrorKind::NotAllowed,
            CommandError::Request(_) => ErrorKind::BadRequest,
            CommandError::Configuration(_) => ErrorKind::Configuration,
            CommandError::Source(_) => ErrorKind::BadArtifact,
            #[cfg(feature = "s3")]
            CommandError::Fetch(e) if e.is_bad_artifact() => ErrorKind::BadArtifact,
            #[cfg(feature = "s3")]
            CommandError::Fetch(_) => ErrorKind::Fetch,
            CommandError::Migration { .. } => ErrorKind::BadMigration,
            CommandError::DigestMismatch { .. } => ErrorKind::DigestMismatch,
            CommandError::Plan(e) => plan_kind(e),
            CommandError::Failed(_) => ErrorKind::Sql,
            CommandError::Store(e) => store_kind(e),
            CommandError::NoMigrations(_) => ErrorKind::BadArtifact,
            CommandError::LintRefused { .. } => ErrorKind::LintRefused,
        }
    }

    /// What an operator can do about it, if anything specific.
    pub fn remedy(&self) -> Option<Remedy> {
        match self {
            CommandError::Plan(e) => plan_remedy(e),
            CommandError::Failed(f) => failure_remedy(f),
            CommandError::NoMigrations(e) => Some(match (e.likely_folder(), &e.folder) {
                (None, _) => Remedy::AllowEmpty,
                (Some(f), Some(_)) => Remedy::UseFolder {
                    folder: f.to_owned(),
                },
                (Some(f), None) => Remedy::UseSource {
                    path: std::path::Path::new(&e.artifact)
                        .join(f)
                        .display()
                        .to_string(),
                },
            }),
            _ => None,
        }
    }

    /// The migration that failed part-way, if that is what happened.
    pub fn failure(&self) -> Option<&MigrationFailure> {
        match self {
            CommandError::Failed(f) => Some(f),
            _ => None,
        }
    }

    /// The wait for the run lock that timed out, when it saw who held the lock.
    pub fn lock_wait(&self) -> Option<&crate::store::RunLockWait> {
        match self {
            CommandError::Store(StoreError::LockTimeout { wait, .. }) => wait.as_deref(),
            _ => None,
        }
    }

    /// The whole message for `frontend`: what went wrong, then what to do about it.
    pub fn message(&self, frontend: &Frontend) -> String {
        match self.remedy() {
            Some(r) => format!("{self}; {}", r.words(frontend)),
            None => self.to_string(),
        }
    }

    /// The command-line failure for a migration file that does not parse, naming the
    /// archive it is in when it came from one.
    pub fn migration(source: &crate::source::Source, error: MigrationError) -> CommandError {
        let prefix = match source {
            crate::source::Source::Zip { .. } => format!("{}: ", source.display()),
            crate::source::Source::Dir { .. } => String::new(),
        };
        CommandError::Migration {
            prefix,
            error: Box::new(error),
        }
    }
}

fn store_kind(e: &StoreError) -> ErrorKind {
    match e {
        StoreError::Connect { .. }
        | StoreError::AccessDenied { .. }
        | StoreError::SecondConnection { .. } => ErrorKind::Connection,
        StoreError::NoDatabase
        | StoreError::Denied { .. }
        | StoreError::ReviewUnavailable { .. } => ErrorKind::Configuration,
        StoreError::LockTimeout { .. } => ErrorKind::LockTimeout,
        StoreError::Query { .. } => ErrorKind::Sql,
        StoreError::BadJournal { .. } => ErrorKind::Internal,
    }
}

fn plan_kind(e: &PlanError) -> ErrorKind {
    match e {
        PlanError::Unknown { .. } => ErrorKind::UnknownMigrations,
        PlanError::Drift { .. } => ErrorKind::Drift,
        PlanError::Partial { .. }
        | PlanError::InDoubt { .. }
        | PlanError::ResumeChanged { .. }
        | PlanError::PartialWithoutFile { .. } => ErrorKind::Partial,
        PlanError::NotParsed { .. } => ErrorKind::Internal,
        PlanError::HiddenCommit { .. } | PlanError::EmptyDown { .. } => ErrorKind::BadMigration,
        PlanError::NothingToResolve { .. }
        | PlanError::NotInDoubt { .. }
        | PlanError::Settled { .. }
        | PlanError::NoVersion { .. } => ErrorKind::BadRequest,
    }
}

fn plan_remedy(e: &PlanError) -> Option<Remedy> {
    match e {
        PlanError::Unknown { .. } => Some(Remedy::IgnoreUnknown),
        PlanError::Drift { .. } => Some(Remedy::AllowDrift),
        PlanError::Partial { id, direction, .. } => Some(Remedy::Resume {
            id: id.clone(),
            direction: *direction,
        }),
        PlanError::InDoubt { id, statement, .. } => Some(Remedy::InDoubt {
            id: id.clone(),
            statement: *statement,
        }),
        PlanError::ResumeChanged { id, .. } | PlanError::PartialWithoutFile { id, .. } => {
            Some(Remedy::Resolve { id: id.clone() })
        }
        PlanError::EmptyDown { redo, .. } => Some(Remedy::AllowEmptyDown {
            command: if *redo { "redo" } else { "down" },
        }),
        PlanError::Settled { settled, file, .. } => match (settled, file) {
            (Settled::Applied, true) => Some(Remedy::Down),
            (Settled::Applied, false) => Some(Remedy::IgnoreUnknown),
            (Settled::Pending, true) => Some(Remedy::Skip),
            // Only a journal row is left of it: there is nothing to skip.
            (Settled::Pending, false) => None,
        },
        _ => None,
    }
}

fn failure_remedy(f: &MigrationFailure) -> Option<Remedy> {
    if f.in_doubt {
        return Some(Remedy::InDoubt {
            id: f.id.clone(),
            statement: f.statement,
        });
    }
    let resume = f.connection_lost || f.committed.is_some_and(|c| c > 0);
    if f.deadline.is_some() {
        Some(Remedy::Deadline {
            id: f.id.clone(),
            direction: f.direction,
            resume,
        })
    } else if resume {
        Some(Remedy::Resume {
            id: f.id.clone(),
            direction: f.direction,
        })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::CommandName;

    #[test]
    fn kinds_round_trip_and_exit_codes_are_distinct_where_it_matters() {
        for k in ErrorKind::ALL {
            assert_eq!(ErrorKind::parse(k.as_str()), Some(k));
        }
        let codes: Vec<u8> = [
            ErrorKind::Sql,
            ErrorKind::BadRequest,
            ErrorKind::LockTimeout,
            ErrorKind::Drift,
            ErrorKind::UnknownMigrations,
            ErrorKind::Partial,
            ErrorKind::Connection,
            ErrorKind::Internal,
            ErrorKind::LintRefused,
        ]
        .map(ErrorKind::exit_code)
        .to_vec();
        let mut dedup = codes.clone();
        dedup.sort_unstable();
        dedup.dedup();
        assert_eq!(dedup.len(), codes.len(), "{codes:?}");
    }

    #[test]
    fn remedies_are_worded_per_front_end() {
        let r = Remedy::Resume {
            id: "2_b.sql".into(),
            direction: Direction::Up,
        };
        let local = r.words(&Frontend::Cli);
        assert!(local.contains("`up --resume`"), "{local}");
        assert!(local.contains("`resolve 2_b.sql --applied`"), "{local}");
        let remote = r.words(&Frontend::Migrator {
            function: Some("db-migrator".into()),
        });
        assert!(
            remote.contains("`lambda-migrate --via-lambda db-migrator up --resume`"),
            "{remote}"
        );
        let kind = CommandError::Request(RequestError::NotAllowed {
            command: CommandName::Down,
            allowed: "up".into(),
        })
        .kind();
        assert_eq!(kind, ErrorKind::NotAllowed);
    }
}
