//! A migration that failed part-way, and what is committed now: which statement failed,
//! whether the run's deadline or a lock wait stopped it, and who held the lock. Pure
//! data, the same from every store, so front ends render it without a database.

use serde::{Deserialize, Serialize};

use super::outcome::StepReport;
use crate::plan::Direction;

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
    /// When the run's deadline stopped the statement (the deadline (`db::Deadline`)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DeadlineStop>,
    /// The run was interrupted (SIGINT, SIGTERM): the statement was killed on the server
    /// or not sent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// Whether statement `statement` took effect is unknown (the connection was lost
    /// while it ran, or a statement that is several server statements, such as a `CALL`,
    /// failed part-way): the migration is recorded in doubt there, and only a person who
    /// looked can say which it was (`resolve ID --statement-committed N` or
    /// `--statement-not-committed N`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_doubt: bool,
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
        if let Some(fix) = self.code.and_then(server_fix) {
            write!(f, " ({fix})")?;
        }
        if let Some(w) = &self.lock_wait {
            write!(f, "; {w}")?;
        }
        if self.interrupted {
            f.write_str(
                "; the run was interrupted (SIGINT/SIGTERM): the statement was stopped on the \
                 server, or not sent",
            )?;
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
        if self.in_doubt {
            let before = match self.committed {
                Some(c) if c > 0 => format!("statements 1..{c} of this migration; "),
                _ => String::new(),
            };
            write!(
                f,
                "{before}whether statement {n} took effect is unknown, so the migration is \
                 recorded in doubt at statement {n}: check on the database whether its change \
                 happened (it is not running any more), then record what you found with \
                 `resolve {id} --statement-committed {n}` or `--statement-not-committed {n}`",
                n = self.statement,
                id = self.id
            )?;
        } else {
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

/// The fix for a server refusal whose cause is a server setting or a grant rather than
/// the migration's SQL, named where the server's own message leaves it vague.
fn server_fix(code: u16) -> Option<&'static str> {
    match code {
        // ER_BINLOG_CREATE_ROUTINE_NEED_SUPER: a trigger or function created by a user
        // without SUPER while binary logging is on (MySQL's default since 8.0; RDS and
        // Aurora grant no SUPER).
        1419 => Some(
            "binary logging is on and this user lacks SUPER: set the server variable \
             log_bin_trust_function_creators = 1 (on RDS and Aurora, in the DB parameter \
             group), then run it again",
        ),
        // ER_BINLOG_UNSAFE_ROUTINE: a function without a determinism declaration.
        1418 => Some(
            "binary logging is on: declare the function DETERMINISTIC, NO SQL or READS SQL \
             DATA, or set log_bin_trust_function_creators = 1 (on RDS and Aurora, in the DB \
             parameter group)",
        ),
        _ => None,
    }
}

/// What a statement that timed out waiting for a lock waited on, and who held it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LockWait {
    /// How many times the statement was sent.
    pub attempts: u32,
    /// The session's `lock_wait_timeout` in seconds.
    pub timeout_secs: u64,
    /// The table, as `schema`.`table`, when the statement names it plainly.
    pub table: Option<String>,
    /// The sessions found holding it (or, where the server cannot tell, holding a
    /// transaction older than the wait); at most 20.
    pub blockers: Vec<Blocker>,
    /// Where the blockers were found, or why none could be.
    pub source: String,
}

/// A session that blocks a statement of ours.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Blocker {
    /// The server's session id (what `KILL` takes).
    pub id: u64,
    /// Its user.
    pub user: Option<String>,
    /// How long its transaction has been open (else how long it has been in its
    /// current state), in seconds.
    pub seconds: Option<i64>,
    /// The lock it holds, when the server says.
    pub lock: Option<String>,
}

impl std::fmt::Display for LockWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "gave up waiting for a metadata lock on {} after {} attempt(s) of {}s each \
             (lock_wait_timeout)",
            self.table.as_deref().unwrap_or("its table"),
            self.attempts,
            self.timeout_secs
        )?;
        if self.blockers.is_empty() {
            return write!(f, "; no blocking session found ({})", self.source);
        }
        f.write_str("; blocked by ")?;
        for (i, b) in self.blockers.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "session {}", b.id)?;
            let mut about = Vec::new();
            if let Some(u) = &b.user {
                about.push(format!("user {u}"));
            }
            if let Some(l) = &b.lock {
                about.push(format!("holds {l}"));
            }
            if let Some(s) = b.seconds {
                about.push(format!("transaction open {s}s"));
            }
            if !about.is_empty() {
                write!(f, " ({})", about.join(", "))?;
            }
        }
        write!(f, " (from {})", self.source)
    }
}
