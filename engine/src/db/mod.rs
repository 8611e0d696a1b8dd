//! Applying plans to MySQL/MariaDB (feature `mysql`) through the sync `mysql` crate.
//!
//! One connection does everything: the lock, one read of the history table, one read of
//! the journal (and one of its unfinished rows' progress, when there are any), and every
//! migration. The history table is sql-migrate's, created exactly as sql-migrate creates
//! it and never altered; everything of ours lives in the journal table
//! `<table>_journal`, one row per migration id.
//!
//! # Transactions and the journal
//!
//! A migration's statements and its history row share one transaction, unless the
//! section is `notransaction`. MySQL commits implicitly around DDL, so the journal row
//! is written on the same connection such that it commits exactly when the data does:
//!
//! - Before a statement that may commit implicitly (anything but `SELECT`, `INSERT`,
//!   `UPDATE`, `DELETE`, `REPLACE`, `WITH`, `DO`), if data statements are pending in
//!   the open transaction, the journal row is updated inside that transaction, so the
//!   implicit commit commits both.
//! - After such a statement, the journal row records it (autocommit), and a new
//!   transaction starts for what follows.
//! - The history row and the final journal row commit together at the end.
//!
//! On a failure the transaction is rolled back and the journal row read back: it says
//! exactly which statements are committed. A statement whose text changed can then not be
//! resumed over (see [`crate::plan`]). The one window left is between an implicit commit
//! of a DDL statement and the journal write right after it: if the process dies there,
//! the journal counts one statement fewer, and resuming re-runs that DDL, which then
//! fails visibly (e.g. "table exists") rather than silently.
//!
//! # Lock waits
//!
//! Every session sets `lock_wait_timeout` ([`Settings::lock_wait_timeout`]) with its
//! first query, so a DDL statement stuck behind a long transaction holds up the queries
//! queued behind it for at most that long. A statement that commits on its own and is a
//! single server statement failed as a whole when the wait times out: it is sent again
//! after a pause, up to [`Settings::lock_wait_retries`] times. When it gives up, the
//! failure names the table and the sessions holding it ([`LockWait`]).
//!
//! # DELIMITER
//!
//! The parser turns `DELIMITER $$` … `DELIMITER ;` blocks into single statements without
//! the delimiter, so a `CREATE PROCEDURE` or `CREATE TRIGGER` body with `;` inside is
//! sent to the server as one statement, like every other statement: on its own.

mod apply;
mod commit;
pub mod config;
pub mod dbconfig;
mod deadline;
mod error;
mod journal;
mod lock;
mod lockwait;
mod report;
mod resolve;
pub mod spec;
mod sql;
mod tables;

use std::time::{Duration, Instant};

use mysql::Conn;

use crate::migration::Migration;
use crate::plan::{self, Options, Plan, PlanError};
pub use commit::{commits_part_way, may_commit};
pub use config::{ConfigError, ConnConfig, Tls};
pub use deadline::Deadline;
use deadline::Watchdog;
pub use error::{DbError, DeadlineStop, MigrationFailure};
pub use lock::lock_name;
pub use lockwait::{Blocker, LockWait};
pub use report::{Planned, RunReport, StepReport, StepState, Stopped};
use sql::ident;

/// The history table name sql-migrate uses by default.
pub const DEFAULT_TABLE: &str = crate::settings::table::TABLE.default.text();

/// Where the tables live and how long to wait for the lock.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The history table (sql-migrate's `SetTable`).
    pub table: String,
    /// The schema holding the tables (sql-migrate's `SetSchema`); the connection's
    /// database when `None`.
    pub schema: Option<String>,
    /// How long to wait for the migration lock.
    pub lock_timeout: Duration,
    /// Every session's `lock_wait_timeout`: how long one statement may wait for a
    /// metadata lock (and so how long others queue behind it) before the server ends
    /// the wait.
    pub lock_wait_timeout: Duration,
    /// How many times a DDL statement that timed out waiting for a metadata lock, with
    /// nothing of it committed, is sent again (after 1 s, 2 s, 4 s, …).
    pub lock_wait_retries: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            table: DEFAULT_TABLE.into(),
            schema: None,
            lock_timeout: crate::settings::table::LOCK_TIMEOUT.default.duration(),
            lock_wait_timeout: crate::settings::table::LOCK_WAIT_TIMEOUT.default.duration(),
            lock_wait_retries: crate::settings::table::LOCK_WAIT_RETRIES.default.count() as u32,
        }
    }
}

/// An open connection with the table names resolved.
pub struct Database {
    conn: Conn,
    history: String,
    journal: String,
    lock_name: String,
    locked: bool,
    target: String,
    /// How to open a second connection (to ask who blocks us); holds the password,
    /// so it is never printed.
    opts: mysql::Opts,
    /// The connection's database: where unqualified table names in migrations live.
    default_db: Option<String>,
    lock_wait_timeout: Duration,
    lock_wait_retries: u32,
    /// The session's `SET`s, sent with its first query (no round trip of their own).
    session_init: Option<String>,
    /// When runs must stop, and the thread that enforces it.
    deadline: Option<Deadline>,
    watchdog: Option<Watchdog>,
}

impl Drop for Database {
    fn drop(&mut self) {
        // Closing the connection releases the lock too; releasing first keeps a pooled
        // or proxied connection (RDS Proxy) from holding it.
        self.unlock();
    }
}

impl Database {
    /// Connects and resolves the table names and lock name from `settings`.
    pub fn connect(cfg: &ConnConfig, settings: &Settings) -> Result<Database, DbError> {
        let schema = settings
            .schema
            .clone()
            .or_else(|| cfg.database.clone())
            .ok_or(DbError::NoDatabase)?;
        let opts = cfg.opts();
        let conn = Conn::new(opts.clone()).map_err(|source| DbError::Connect {
            target: cfg.to_string(),
            source,
        })?;
        let qualify = |t: &str| match &settings.schema {
            Some(s) => format!("{}.{}", ident(s), ident(t)),
            None => ident(t),
        };
        let journal_table = format!("{}_journal", settings.table);
        Ok(Database {
            conn,
            history: qualify(&settings.table),
            journal: qualify(&journal_table),
            lock_name: lock_name(&schema, &settings.table),
            locked: false,
            target: cfg.to_string(),
            opts,
            default_db: cfg.database.clone(),
            lock_wait_timeout: settings.lock_wait_timeout,
            lock_wait_retries: settings.lock_wait_retries,
            session_init: Some(lockwait::session_sql(cfg, settings.lock_wait_timeout)),
            deadline: None,
            watchdog: None,
        })
    }

    /// Makes runs on this connection stop at `deadline`: no migration starts after
    /// [`Deadline::stop_starting`], and a statement still running at
    /// [`Deadline::kill_at`] is killed and reported (see [`Deadline`]).
    pub fn set_deadline(&mut self, deadline: Deadline) {
        self.watchdog = Some(Watchdog::start(
            deadline.kill_at,
            self.opts.clone(),
            self.conn.connection_id(),
        ));
        self.deadline = Some(deadline);
    }

    /// The redacted connection target, for messages.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The server's id for this connection (what `KILL` takes).
    pub fn connection_id(&self) -> u32 {
        self.conn.connection_id()
    }

    /// The lock's name (`GET_LOCK`), derived from the schema and table.
    pub fn lock_name(&self) -> &str {
        &self.lock_name
    }

    /// Executes `plan`'s checksum adoptions and steps; `progress` sees each completed step.
    pub fn execute(
        &mut self,
        migrations: &[Migration<'_>],
        plan: &Plan,
        mut progress: impl FnMut(&StepReport),
    ) -> Result<RunReport, DbError> {
        self.adopt(migrations, &plan.adopt)?;
        let mut report = RunReport {
            steps: Vec::with_capacity(plan.steps.len()),
            adopted: plan
                .adopt
                .iter()
                .map(|&i| migrations[i].id.to_string())
                .collect(),
            drift: plan.drift.clone(),
            unknown: plan.unknown.clone(),
            last_applied: None,
            stopped: None,
        };
        for (n, step) in plan.steps.iter().enumerate() {
            if self
                .deadline
                .is_some_and(|d| Instant::now() >= d.stop_starting)
            {
                let pending = plan.steps[n..].iter();
                report.stopped = Some(Stopped {
                    pending: pending.map(|s| migrations[s.index].id.to_owned()).collect(),
                });
                break;
            }
            match self.run_step(&migrations[step.index], step) {
                Ok(r) => {
                    progress(&r);
                    report.steps.push(r);
                }
                Err(mut f) => {
                    f.completed = std::mem::take(&mut report.steps);
                    return Err(DbError::Migration(f));
                }
            }
        }
        Ok(report)
    }

    /// Reads the history and journal (creating the tables when `create`), parses what
    /// `opts.command` needs ([`plan::parse_needed`]) and plans. Takes no lock: with
    /// `create` off it changes nothing, so a dry run never waits behind a real one.
    pub fn planned(
        &mut self,
        migrations: &mut [Migration<'_>],
        opts: &Options,
        create: bool,
    ) -> Result<Planned, DbError> {
        let (history, journal) = self.read(create, false)?;
        let joined = plan::Joined::new(migrations, &history, &journal);
        plan::parse_needed_in(migrations, &joined, Some(opts.command))?;
        let plan = plan::plan_in(migrations, &joined, opts)?;
        refuse_hidden_commits(migrations, &plan)?;
        Ok(Planned {
            plan,
            history,
            journal,
        })
    }

    /// Locks, reads, parses what the run needs ([`plan::parse_needed`]), plans and
    /// executes: a whole `up`/`down`/`redo`/`skip`. The lock is released when this
    /// returns, whatever happened.
    pub fn run(
        &mut self,
        migrations: &mut [Migration<'_>],
        opts: &Options,
        lock_timeout: Duration,
        progress: impl FnMut(&StepReport),
    ) -> Result<RunReport, DbError> {
        // Waiting for the lock past the point where no migration may start is pointless.
        let lock_timeout = match self.deadline {
            Some(d) => lock_timeout.min(d.to_stop()),
            None => lock_timeout,
        };
        self.lock(lock_timeout)?;
        let result = (|| {
            let p = self.planned(migrations, opts, true)?;
            let mut report = self.execute(migrations, &p.plan, progress)?;
            // A run stopped at its deadline did only the first steps.
            let done = &p.plan.steps[..report.steps.len()];
            report.last_applied =
                plan::last_applied(migrations, &p.history, done).map(str::to_owned);
            Ok(report)
        })();
        self.unlock();
        result
    }
}

/// The `mysql://…` target described without the password; re-exported for binaries.
pub fn redacted(cfg: &ConnConfig) -> String {
    cfg.to_string()
}
/// Refuses, before anything runs, a statement text that holds several statements of which
/// one commits implicitly: if a later one failed, the journal could not say what the
/// server had committed (see [`commits_part_way`]).
fn refuse_hidden_commits(migrations: &[Migration<'_>], plan: &Plan) -> Result<(), PlanError> {
    for step in plan.steps.iter().filter(|s| s.action == plan::Action::Run) {
        let m = &migrations[step.index];
        let section = match step.direction {
            plan::Direction::Up => &m.up,
            plan::Direction::Down => &m.down,
        };
        let pending = section.statements.iter().enumerate().skip(step.resume_from);
        if let Some((n, s)) = pending.into_iter().find(|(_, s)| commits_part_way(&s.sql)) {
            return Err(PlanError::HiddenCommit {
                id: m.id.to_owned(),
                direction: step.direction,
                statement: n + 1,
                line: s.line,
            });
        }
    }
    Ok(())
}
