//! What can go wrong talking to the database, and the report of a failed migration:
//! which statement failed and what is committed now.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{LockWait, StepReport};
use crate::migration::MigrationError;
use crate::plan::{Direction, PlanError};

/// A database operation failed. Messages name the migration, statement and MySQL error
/// where there is one, and never the password.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The connection could not be opened.
    #[error("cannot connect to {target}: {source}")]
    Connect {
        /// The redacted target.
        target: String,
        /// The driver's error.
        source: mysql::Error,
    },
    /// The server refused the login (MySQL error 1045): a wrong user name or password,
    /// such as a secret rotated since it was read.
    #[error("cannot connect to {target}: {source}")]
    AccessDenied {
        /// The redacted target.
        target: String,
        /// The driver's error.
        source: mysql::Error,
    },
    /// Neither the settings nor the connection name a schema.
    #[error(
        "no database selected: name it in the URL (mysql://…/DB), DB_NAME, or the config's schema"
    )]
    NoDatabase,
    /// Another run holds the lock.
    #[error(
        "migration lock `{name}` not obtained within {}s: another migration run holds it",
        timeout.as_secs_f64()
    )]
    LockTimeout {
        /// The lock's name.
        name: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// One of our own bookkeeping queries failed.
    #[error("{what}: {source}")]
    Query {
        /// What we were doing.
        what: String,
        /// The driver's error.
        source: mysql::Error,
    },
    /// A journal row holds something we did not write.
    #[error("journal row for {id}: {detail}")]
    BadJournal {
        /// The migration id.
        id: String,
        /// What is wrong.
        detail: String,
    },
    /// Planning refused; nothing was changed.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A migration file the run needs does not parse; nothing was changed.
    #[error(transparent)]
    Parse(#[from] MigrationError),
    /// A migration failed.
    #[error(transparent)]
    Migration(Box<MigrationFailure>),
    /// `resolve` was asked for something impossible.
    #[error("resolve {id}: {reason}")]
    Resolve {
        /// The migration id.
        id: String,
        /// Why.
        reason: String,
    },
}

/// A migration that failed, and what is committed now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MigrationFailure {
    /// The migration id.
    pub id: String,
    /// The direction that ran.
    pub direction: Direction,
    /// 1-based number of the failing statement; 0 when the history or journal write failed.
    pub statement: usize,
    /// Statements in the section.
    pub total: usize,
    /// The failing statement's line in the file.
    pub line: Option<usize>,
    /// MySQL's error code, when the server sent one.
    pub code: Option<u16>,
    /// The error message.
    pub message: String,
    /// Statements of this migration committed now (from the journal), when known.
    pub committed: Option<usize>,
    /// The connection was lost; what is committed is what the journal says.
    pub connection_lost: bool,
    /// Migrations of this run that completed before it (all committed).
    pub completed: Vec<StepReport>,
    /// When the statement timed out waiting for a lock: what it waited on and who held it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_wait: Option<Box<LockWait>>,
    /// When the run's deadline stopped the statement ([`super::Deadline`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DeadlineStop>,
}

/// How a run's deadline stopped a migration part-way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineStop {
    /// The statement was still running at the deadline and was killed (`KILL QUERY`).
    Killed,
    /// The deadline passed between two statements: the next one was not sent.
    NotSent,
}

impl std::error::Error for MigrationFailure {}

impl std::fmt::Display for MigrationFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "migration {} ({}) failed", self.id, self.direction)?;
        if self.statement > 0 {
            write!(f, " at statement {} of {}", self.statement, self.total)?;
            if let Some(l) = self.line {
                write!(f, " (line {l})")?;
            }
        } else {
            f.write_str(" writing its history and journal rows")?;
        }
        match self.code {
            Some(c) => write!(f, ": MySQL error {c}: {}", self.message)?,
            None => write!(f, ": {}", self.message)?,
        }
        if let Some(w) = &self.lock_wait {
            write!(f, "; {w}")?;
        }
        match self.deadline {
            Some(DeadlineStop::Killed) => f.write_str(
                "; it was still running at the run's deadline (just before the function's \
                 timeout) and was stopped with KILL QUERY",
            )?,
            Some(DeadlineStop::NotSent) => {
                f.write_str("; the migration started in time but did not finish before it")?
            }
            None => {}
        }
        f.write_str(". Now committed: ")?;
        match (self.connection_lost, self.committed) {
            (true, _) => f.write_str(
                "the connection was lost; the journal records which statements are committed \
                 (see `status`)",
            )?,
            (false, Some(0)) | (false, None) => {
                f.write_str("nothing of this migration (rolled back; no history row written)")?
            }
            (false, Some(c)) => write!(
                f,
                "statements 1..{c} of this migration (MySQL commits DDL implicitly), as the \
                 journal records; no history row written"
            )?,
        }
        if !self.completed.is_empty() {
            write!(
                f,
                ". Earlier in this run {} migration(s) completed and are committed",
                self.completed.len()
            )?;
        }
        Ok(())
    }
}
