//! The MySQL/MariaDB store (feature `mysql`), through the sync `mysql` crate: reads the
//! applied state, takes the run lock and applies the steps the orchestrator
//! ([`crate::command::run`]) planned.
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
mod bookkeeping;
pub mod config;
mod connect;
mod control;
pub mod dbconfig;
mod deadline;
mod journal;
mod lock;
mod lockwait;
mod resolve;
mod review;
mod script;
pub mod spec;
mod sql;
mod tables;

use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql::Conn;

use crate::migration::Migration;
use crate::plan::{Plan, Resolved, Step};
use crate::store::MigrationFailure;
use crate::store::{LockTry, Read, Recorded, RunLockHolder, Store, StoreError};
use bookkeeping::{Batch, Tables, joined};
pub use config::{ConfigError, ConnConfig, Tls};
pub use control::Interrupt;
use control::Shared;
pub use deadline::Deadline;
use deadline::Watchdog;
pub use lock::lock_name;
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
    /// `plan --review`: bytes per second a copying or rebuilding ALTER is assumed to go.
    pub review_copy_rate: u64,
    /// `plan --review` lists transactions open longer than this.
    pub review_long_transaction: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            table: DEFAULT_TABLE.into(),
            schema: None,
            lock_timeout: crate::settings::table::LOCK_TIMEOUT.default.duration(),
            lock_wait_timeout: crate::settings::table::LOCK_WAIT_TIMEOUT.default.duration(),
            lock_wait_retries: crate::settings::table::LOCK_WAIT_RETRIES.default.count() as u32,
            review_copy_rate: crate::settings::table::REVIEW_COPY_RATE.default.size(),
            review_long_transaction: crate::settings::table::REVIEW_LONG_TRANSACTION
                .default
                .duration(),
        }
    }
}

/// Which bookkeeping tables the last read found missing (a read that creates them
/// leaves `None`): a script of the run creates them as the run would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Missing {
    /// Both exist (or were created).
    None,
    /// The journal table.
    Journal,
    /// The history table, and so (as far as a run cares) the journal table.
    Both,
}

/// How statements wait for metadata locks ([`Settings::lock_wait_timeout`],
/// [`Settings::lock_wait_retries`]).
#[derive(Clone, Copy)]
struct LockWaits {
    timeout: Duration,
    retries: u32,
}

/// A deadline, and the thread that enforces its kill point.
struct Armed {
    deadline: Deadline,
    /// Kept for its `Drop`, which ends the thread.
    _watchdog: Watchdog,
}

/// The MySQL store: the migration session with the table names resolved, and (once a
/// run takes its lock) the control connection ([`control`]).
pub struct Database {
    conn: Conn,
    tables: Tables,
    /// The redacted target, for messages.
    target: String,
    /// How to open another connection; holds the password, so it is never printed.
    opts: mysql::Opts,
    connect_timeout: Duration,
    /// The connection's database: where unqualified table names in migrations live.
    default_db: Option<String>,
    lock_wait: LockWaits,
    /// The session's `SET`s, sent with its first query (no round trip of their own).
    session_init: Option<String>,
    /// Our settings of a session, and its database: sent again after each migration's
    /// reset (see `reset_session`).
    session: Batch,
    /// The DSN names no character set: the session has the one the handshake gave.
    handshake_names: bool,
    /// Which bookkeeping tables the last read found missing.
    missing: Missing,
    /// The migration whose `running` row the last migration's finish wrote.
    marked: Option<String>,
    /// The control connection and what it shares with the watchdog and `Interrupt`.
    shared: Arc<Shared>,
    /// When runs must stop.
    deadline: Option<Armed>,
    /// How `plan --review` weighs what it finds.
    review: crate::review::ReviewSettings,
}

impl Database {
    /// Connects (within `cfg.connect_timeout`, handshake included) and resolves the
    /// table names and lock name from `settings`.
    pub fn connect(cfg: &ConnConfig, settings: &Settings) -> Result<Database, StoreError> {
        let schema = settings
            .schema
            .clone()
            .or_else(|| cfg.database.clone())
            .ok_or(StoreError::NoDatabase)?;
        let opts = cfg.opts();
        let conn = connect::open(opts.clone(), cfg.connect_timeout)
            .map_err(|e| sql::connect_err(cfg.to_string(), e))?;
        // Always qualified: a `USE` inside a migration must not move our bookkeeping.
        let qualify = |t: &str| format!("{}.{}", ident(&schema), ident(t));
        let journal_table = format!("{}_journal", settings.table);
        let session = lockwait::session_sql(cfg, settings.lock_wait_timeout);
        // The database first: a reset is documented to keep it, but nothing is assumed.
        let again: Batch = cfg
            .database
            .as_deref()
            .map(|d| format!("USE {}", ident(d)))
            .into_iter()
            .chain(session.iter().cloned())
            .collect();
        let shared = Shared::new(conn.connection_id());
        Ok(Database {
            conn,
            tables: Tables {
                history: qualify(&settings.table),
                journal: qualify(&journal_table),
                lock: lock_name(&schema, &settings.table),
            },
            target: cfg.to_string(),
            opts,
            connect_timeout: cfg.connect_timeout,
            default_db: cfg.database.clone(),
            lock_wait: LockWaits {
                timeout: settings.lock_wait_timeout,
                retries: settings.lock_wait_retries,
            },
            session_init: Some(joined(&session)),
            session: again,
            handshake_names: cfg.set_names().is_none(),
            missing: Missing::None,
            marked: None,
            shared,
            deadline: None,
            review: crate::review::ReviewSettings {
                copy_rate_bytes_per_sec: settings.review_copy_rate as f64,
                long_transaction_secs: settings.review_long_transaction.as_secs(),
                // Without a deadline of its own (the CLI), a change is weighed against
                // the longest a Lambda function may run.
                deadline_secs: Some(
                    crate::settings::table::MIGRATOR_TIMEOUT
                        .default
                        .duration()
                        .as_secs_f64(),
                ),
            },
        })
    }

    /// Makes runs on this connection stop at `deadline`: no migration starts after
    /// [`Deadline::stop_starting`], and a statement still running at
    /// [`Deadline::kill_at`] is killed and reported (see [`Deadline`]).
    pub fn set_deadline(&mut self, deadline: Deadline) {
        let watchdog = Watchdog::start(deadline.kill_at, Arc::clone(&self.shared));
        self.deadline = Some(Armed {
            deadline,
            _watchdog: watchdog,
        });
    }

    /// A handle that stops a run from another thread (a signal handler): the statement
    /// in flight is killed on the server, and the run journals and returns its failure.
    pub fn interrupt_handle(&self) -> Interrupt {
        Interrupt(Arc::clone(&self.shared))
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
        &self.tables.lock
    }

    /// Opens the control connection, which a run needs before it starts any migration.
    fn open_control(&mut self) -> Result<(), StoreError> {
        self.shared
            .open(&self.opts, self.connect_timeout)
            .map_err(|e| StoreError::SecondConnection {
                target: self.target.clone(),
                source: Box::new(sql::InWords(e)),
            })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // The control connection ends with its run, not with the last `Interrupt`.
        self.shared.close();
    }
}

impl Store for Database {
    fn read_state(&mut self, read: Read) -> Result<Recorded, StoreError> {
        let recorded = self.read(read.creates(), read.applied_at())?;
        if read == Read::Run {
            self.end_orphans(&recorded.journal)?;
        }
        Ok(recorded)
    }

    fn try_lock(&mut self, wait: Duration) -> Result<LockTry, StoreError> {
        self.try_get_lock(wait)
    }

    fn lock_holder(&mut self, connection: u64) -> RunLockHolder {
        self.holder(connection)
    }

    fn lock_name(&self) -> &str {
        &self.tables.lock
    }

    fn release(&mut self) {
        self.release_lock();
    }

    fn lock_held(&mut self) -> Result<bool, StoreError> {
        self.is_lock_used()
    }

    fn adopt(&mut self, migrations: &[Migration<'_>], which: &[usize]) -> Result<(), StoreError> {
        self.record_adopted(migrations, which)
    }

    fn apply(
        &mut self,
        m: &Migration<'_>,
        step: &Step,
        next: Option<(&Migration<'_>, &Step)>,
    ) -> Result<(), Box<MigrationFailure>> {
        self.run_step(m, step, next)
    }

    fn withdraw(&mut self) {
        self.withdraw_mark();
    }

    fn record_resolution(&mut self, r: &Resolved) -> Result<(), StoreError> {
        self.write_resolution(r)
    }

    fn script(
        &mut self,
        migrations: &[Migration<'_>],
        plan: &Plan,
        lock_timeout: Duration,
    ) -> Result<Option<String>, StoreError> {
        Database::script(self, migrations, plan, lock_timeout).map(Some)
    }

    fn stop_starting(&self) -> Option<Instant> {
        // An interrupted run starts nothing more.
        if self.shared.stopped() == Some(control::Stop::Interrupt) {
            return Some(Instant::now());
        }
        self.deadline.as_ref().map(|a| a.deadline.stop_starting)
    }

    fn review(
        &mut self,
        questions: &[crate::review::Question],
    ) -> Result<crate::review::Observed, StoreError> {
        let settings = self.review;
        self.review_live(questions, &settings)
    }
}

/// The `mysql://…` target described without the password; re-exported for binaries.
pub fn redacted(cfg: &ConnConfig) -> String {
    cfg.to_string()
}
