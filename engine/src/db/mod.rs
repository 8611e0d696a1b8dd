//! Applying plans to MySQL/MariaDB (feature `mysql`) through the sync `mysql` crate.
//!
//! One connection does everything: the lock, one read of the history table, one read of
//! the journal, and every migration. The history table is sql-migrate's, created exactly
//! as sql-migrate creates it and never altered; everything of ours lives in the journal
//! table `<table>_journal`, one row per migration id.
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
//! # DELIMITER
//!
//! The parser turns `DELIMITER $$` … `DELIMITER ;` blocks into single statements without
//! the delimiter, so a `CREATE PROCEDURE` or `CREATE TRIGGER` body with `;` inside is
//! sent to the server as one statement, like every other statement: on its own.

pub mod config;
pub mod dbconfig;

use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use mysql::{Conn, Value};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::migration::{Migration, MigrationError, Statement, hex};
use crate::plan::{
    self, Action, Direction, Drift, HistoryRow, JournalRow, JournalState, Options, Plan, PlanError,
    StatementHasher,
};
pub use config::{ConfigError, ConnConfig, Tls};

/// The history table name sql-migrate uses by default.
pub const DEFAULT_TABLE: &str = "gorp_migrations";

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
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            table: DEFAULT_TABLE.into(),
            schema: None,
            lock_timeout: Duration::from_secs(60),
        }
    }
}

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
#[derive(Debug, Clone, Serialize)]
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
        f.write_str(". Now committed: ")?;
        match (self.connection_lost, self.committed) {
            (true, _) => f.write_str(
                "the connection was lost; the journal records which statements are committed \
                 (see `status`); the next run refuses to guess and offers --resume",
            )?,
            (false, Some(0)) | (false, None) => {
                f.write_str("nothing of this migration (rolled back; no history row written)")?
            }
            (false, Some(c)) => write!(
                f,
                "statements 1..{c} of this migration (MySQL commits DDL implicitly), as the \
                 journal records; no history row written. Fix statement {} and run with --resume",
                c + 1
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

/// What happened to one migration of a run.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// The migration id.
    pub id: String,
    /// The file's checksum.
    pub sha256: String,
    /// The direction.
    pub direction: Direction,
    /// `run` or `record` (skip).
    pub action: Action,
    /// Statements sent in this run.
    pub statements: usize,
    /// Statements in the section.
    pub statements_total: usize,
    /// Statements an earlier run had committed (resume).
    pub resumed_from: usize,
    /// sql-migrate's catch-up.
    pub catch_up: bool,
    /// Wall time.
    pub duration_ms: u64,
    /// `applied`, `reverted`, `skipped`, or for a dry run `planned`.
    pub state: &'static str,
}

/// The outcome of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    /// Each migration, in order.
    pub steps: Vec<StepReport>,
    /// Ids whose checksum was adopted (applied before without one).
    pub adopted: Vec<String>,
    /// Checksum mismatches let through by `allow_drift`.
    pub drift: Vec<Drift>,
    /// History rows without a file let through by `ignore_unknown`.
    pub unknown: Vec<String>,
    /// The newest migration (in apply order) applied once the run is done.
    pub last_applied: Option<String>,
}

/// A plan with the state it was made from.
pub struct Planned {
    /// What the run would do.
    pub plan: Plan,
    /// The history as read.
    pub history: Vec<HistoryRow>,
    /// The journal as read.
    pub journal: Vec<JournalRow>,
}

/// Builds a failure report from (1-based statement, error, statements committed).
type FailFn<'f> = dyn Fn(usize, &mysql::Error, Option<usize>) -> Box<MigrationFailure> + 'f;

/// Runs `sql` as text, reading every result set: a multi-statement batch reports an
/// error in any of its statements (the driver's `query_drop` drops later errors).
fn exec_all(conn: &mut Conn, sql: &str) -> Result<(), mysql::Error> {
    let mut result = conn.query_iter(sql)?;
    while let Some(set) = result.iter() {
        for row in set {
            row?;
        }
    }
    Ok(())
}

/// A string as a SQL literal that means the same under any `sql_mode`: hex, tagged utf8mb4.
fn literal(s: &str) -> String {
    if s.is_empty() {
        "''".into()
    } else {
        format!("_utf8mb4 X'{}'", hex(s.as_bytes()))
    }
}

/// `s` if it is all hex digits (our checksums), else empty: it goes into a quoted literal.
fn hex_only(s: &str) -> &str {
    if s.bytes().all(|b| b.is_ascii_hexdigit()) {
        s
    } else {
        ""
    }
}

/// Quotes an identifier with backticks.
fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// An open connection with the table names resolved.
pub struct Database {
    conn: Conn,
    history: String,
    journal: String,
    lock_name: String,
    locked: bool,
    target: String,
}

impl Drop for Database {
    fn drop(&mut self) {
        // Closing the connection releases the lock too; releasing first keeps a pooled
        // or proxied connection (RDS Proxy) from holding it.
        self.unlock();
    }
}

fn query_err(what: impl Into<String>) -> impl FnOnce(mysql::Error) -> DbError {
    let what = what.into();
    move |source| DbError::Query { what, source }
}

fn is_missing_table(e: &mysql::Error) -> bool {
    matches!(e, mysql::Error::MySqlError(m) if m.code == 1146)
}

fn connection_lost(e: &mysql::Error) -> bool {
    match e {
        mysql::Error::MySqlError(m) => matches!(m.code, 1053 | 1927 | 2006 | 2013),
        mysql::Error::IoError(_) | mysql::Error::DriverError(_) | mysql::Error::CodecError(_) => {
            true
        }
        _ => false,
    }
}

/// Whether a statement may end the open transaction (MySQL's implicit commit). Only
/// statements that can never commit are `false`; anything unrecognised is `true`, which
/// costs a journal write but is never wrong.
pub fn may_commit(sql: &str) -> bool {
    let mut s = sql.trim_start();
    loop {
        if let Some(rest) = s.strip_prefix("--").or_else(|| s.strip_prefix('#')) {
            s = rest
                .split_once('\n')
                .map(|x| x.1)
                .unwrap_or("")
                .trim_start();
        } else if s.starts_with("/*") && !s.starts_with("/*!") && !s.starts_with("/*M!") {
            match s[2..].find("*/") {
                Some(end) => s = s[2 + end + 2..].trim_start(),
                None => return true,
            }
        } else {
            break;
        }
    }
    let word: String = s
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .take(8)
        .collect::<String>()
        .to_ascii_uppercase();
    !matches!(
        word.as_str(),
        "SELECT" | "INSERT" | "UPDATE" | "DELETE" | "REPLACE" | "WITH" | "DO"
    )
}

impl Database {
    /// Connects and resolves the table names and lock name from `settings`.
    pub fn connect(cfg: &ConnConfig, settings: &Settings) -> Result<Database, DbError> {
        let schema = settings
            .schema
            .clone()
            .or_else(|| cfg.database.clone())
            .ok_or(DbError::NoDatabase)?;
        let conn = Conn::new(cfg.opts()).map_err(|source| DbError::Connect {
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
        })
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

    /// Takes the migration lock, waiting up to `timeout`.
    pub fn lock(&mut self, timeout: Duration) -> Result<(), DbError> {
        // The name is made of [A-Za-z0-9_.:-] only (see `lock_name`), so it can be a literal.
        let got: Option<Option<i64>> = self
            .conn
            .query_first(format!(
                "SELECT GET_LOCK('{}', {:.3})",
                self.lock_name,
                timeout.as_secs_f64()
            ))
            .map_err(query_err("taking the migration lock"))?;
        match got.flatten() {
            Some(1) => {
                self.locked = true;
                Ok(())
            }
            _ => Err(DbError::LockTimeout {
                name: self.lock_name.clone(),
                timeout,
            }),
        }
    }

    /// Releases the lock if held; errors are ignored (closing the connection releases it).
    pub fn unlock(&mut self) {
        if self.locked {
            self.locked = false;
            let _ = self
                .conn
                .query_drop(format!("DO RELEASE_LOCK('{}')", self.lock_name));
        }
    }

    /// Creates the history table exactly as sql-migrate does, and the journal table.
    pub fn create_tables(&mut self) -> Result<(), DbError> {
        self.conn
            .query_drop(format!(
                "create table if not exists {} (`id` varchar(255) not null primary key, `applied_at` datetime) engine=InnoDB charset=UTF8;",
                self.history
            ))
            .map_err(query_err(format!("creating the history table {}", self.history)))?;
        self.create_journal()
    }

    fn create_journal(&mut self) -> Result<(), DbError> {
        self.conn
            .query_drop(format!(
                "CREATE TABLE IF NOT EXISTS {} (\
                 `id` varchar(255) NOT NULL PRIMARY KEY, \
                 `sha256` char(64) NULL, \
                 `direction` varchar(4) NOT NULL, \
                 `state` varchar(24) NOT NULL, \
                 `statements_total` int unsigned NOT NULL DEFAULT 0, \
                 `statements_applied` int unsigned NOT NULL DEFAULT 0, \
                 `applied_sha256` char(64) NULL, \
                 `statement_hashes` mediumtext NULL, \
                 `error` text NULL, \
                 `note` text NULL, \
                 `duration_ms` bigint unsigned NULL, \
                 `updated_at` datetime(6) NOT NULL\
                 ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
                self.journal
            ))
            .map_err(query_err(format!(
                "creating the journal table {}",
                self.journal
            )))
    }

    /// Reads the history and the journal: one query each. Missing tables read as empty,
    /// and are created when `create` is set.
    pub fn read_state(
        &mut self,
        create: bool,
    ) -> Result<(Vec<HistoryRow>, Vec<JournalRow>), DbError> {
        self.read(create, true)
    }

    /// [`Database::read_state`]; `applied_at` is read only when `times` (runs never
    /// show it, and a no-op run's cost is mostly these two reads).
    fn read(
        &mut self,
        create: bool,
        times: bool,
    ) -> Result<(Vec<HistoryRow>, Vec<JournalRow>), DbError> {
        let history_q = format!(
            "SELECT id, {} FROM {}",
            if times {
                "DATE_FORMAT(applied_at, '%Y-%m-%d %H:%i:%s')"
            } else {
                "NULL"
            },
            self.history
        );
        let history: Vec<(String, Option<String>)> = match self.conn.query(&history_q) {
            Ok(rows) => rows,
            Err(e) if is_missing_table(&e) => {
                if create {
                    self.create_tables()?;
                }
                return Ok((Vec::new(), Vec::new()));
            }
            Err(e) => return Err(query_err(format!("reading {}", self.history))(e)),
        };
        let history = history
            .into_iter()
            .map(|(id, applied_at)| HistoryRow { id, applied_at })
            .collect();
        type Raw = (
            String,
            Option<String>,
            String,
            String,
            u64,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        // Progress hashes and errors matter only for unfinished rows; leaving them out
        // of the others keeps a no-op run's read small.
        let unfinished = format!(
            "state IN ('{}', '{}')",
            JournalState::Running.as_str(),
            JournalState::Failed.as_str()
        );
        let journal_q = format!(
            "SELECT id, sha256, direction, state, statements_applied, \
             IF({unfinished}, applied_sha256, NULL), IF({unfinished}, statement_hashes, NULL), \
             IF({unfinished}, error, NULL) FROM {}",
            self.journal
        );
        let raw: Vec<Raw> = match self.conn.query(&journal_q) {
            Ok(rows) => rows,
            Err(e) if is_missing_table(&e) => {
                if create {
                    self.create_journal()?;
                }
                Vec::new()
            }
            Err(e) => return Err(query_err(format!("reading {}", self.journal))(e)),
        };
        let mut journal = Vec::with_capacity(raw.len());
        for (id, sha256, direction, state, applied, applied_sha256, hashes, error) in raw {
            let bad = |detail: String| DbError::BadJournal {
                id: id.clone(),
                detail,
            };
            let direction = Direction::parse(&direction)
                .ok_or_else(|| bad(format!("direction {direction:?}")))?;
            let state =
                JournalState::parse(&state).ok_or_else(|| bad(format!("state {state:?}")))?;
            journal.push(JournalRow {
                id,
                sha256,
                direction,
                state,
                statements_applied: usize::try_from(applied).unwrap_or(usize::MAX),
                applied_sha256,
                statement_hashes: hashes,
                error,
            });
        }
        Ok((history, journal))
    }

    /// Records the files' checksums for applied migrations that have none.
    pub fn adopt(&mut self, migrations: &[Migration<'_>], which: &[usize]) -> Result<(), DbError> {
        for chunk in which.chunks(500) {
            let rows = vec![
                "(?, ?, 'up', 'adopted', ?, ?, NULL, NULL, NULL, UTC_TIMESTAMP(6))";
                chunk.len()
            ];
            let sql = format!(
                "INSERT INTO {} (id, sha256, direction, state, statements_total, statements_applied, \
                 applied_sha256, statement_hashes, error, updated_at) VALUES {} \
                 ON DUPLICATE KEY UPDATE sha256 = VALUES(sha256), direction = 'up', state = 'adopted', \
                 statements_total = VALUES(statements_total), statements_applied = VALUES(statements_applied), \
                 applied_sha256 = NULL, statement_hashes = NULL, error = NULL, updated_at = VALUES(updated_at)",
                self.journal,
                rows.join(", ")
            );
            let mut params: Vec<Value> = Vec::with_capacity(chunk.len() * 4);
            for &i in chunk {
                let m = &migrations[i];
                let n = m.up.statements.len() as u64;
                params.extend([m.id.into(), m.sha256.as_str().into(), n.into(), n.into()]);
            }
            self.conn
                .exec_drop(sql, params)
                .map_err(query_err("recording adopted checksums"))?;
        }
        Ok(())
    }

    /// The journal upsert for `m` as text: values are literals (strings as hex), so it can
    /// share a round trip with the history row and the COMMIT.
    #[allow(clippy::too_many_arguments)]
    fn journal_sql(
        &self,
        m: &Migration<'_>,
        direction: Direction,
        state: JournalState,
        total: usize,
        hasher: &StatementHasher,
        keep_hashes: bool,
        error: Option<&str>,
        duration_ms: Option<u64>,
    ) -> String {
        format!(
            "INSERT INTO {} (id, sha256, direction, state, statements_total, statements_applied, \
             applied_sha256, statement_hashes, error, duration_ms, updated_at) \
             VALUES ({}, '{}', '{}', '{}', {total}, {}, '{}', {}, {}, {}, UTC_TIMESTAMP(6)) \
             ON DUPLICATE KEY UPDATE sha256 = VALUES(sha256), direction = VALUES(direction), \
             state = VALUES(state), statements_total = VALUES(statements_total), \
             statements_applied = VALUES(statements_applied), applied_sha256 = VALUES(applied_sha256), \
             statement_hashes = VALUES(statement_hashes), error = VALUES(error), \
             duration_ms = VALUES(duration_ms), updated_at = VALUES(updated_at)",
            self.journal,
            literal(m.id),
            hex_only(&m.sha256),
            direction.as_str(),
            state.as_str(),
            hasher.count(),
            hasher.digest(),
            if keep_hashes {
                literal(hasher.shorts())
            } else {
                "NULL".into()
            },
            error.map(literal).unwrap_or_else(|| "NULL".into()),
            duration_ms
                .map(|d| d.to_string())
                .unwrap_or_else(|| "NULL".into()),
        )
    }

    /// The journal upsert for a migration part-way: its committed statements and their
    /// hashes, which `--resume` checks.
    fn running_sql(
        &self,
        m: &Migration<'_>,
        direction: Direction,
        total: usize,
        hasher: &StatementHasher,
    ) -> String {
        self.journal_sql(
            m,
            direction,
            JournalState::Running,
            total,
            hasher,
            true,
            None,
            None,
        )
    }

    fn history_sql(&self, m: &Migration<'_>, direction: Direction) -> String {
        match direction {
            Direction::Up => format!(
                "INSERT INTO {} (id, applied_at) VALUES ({}, UTC_TIMESTAMP())",
                self.history,
                literal(m.id)
            ),
            Direction::Down => format!("DELETE FROM {} WHERE id = {}", self.history, literal(m.id)),
        }
    }

    fn journal_applied(&mut self, id: &str) -> Result<Option<u64>, mysql::Error> {
        self.conn.exec_first(
            format!(
                "SELECT statements_applied FROM {} WHERE id = ?",
                self.journal
            ),
            (id,),
        )
    }

    /// Runs one step. On failure, reports what is committed now.
    fn run_step(
        &mut self,
        m: &Migration<'_>,
        step: &plan::Step,
    ) -> Result<StepReport, Box<MigrationFailure>> {
        let started = Instant::now();
        let section = match step.direction {
            Direction::Up => &m.up,
            Direction::Down => &m.down,
        };
        let stmts: &[Statement<'_>] = &section.statements;
        let total = stmts.len();
        let tx = !section.no_transaction;
        let final_state = match (step.action, step.direction) {
            (Action::Record, _) => JournalState::Skipped,
            (Action::Run, Direction::Up) => JournalState::Applied,
            (Action::Run, Direction::Down) => JournalState::Reverted,
        };
        let fail = |statement: usize, e: &mysql::Error, committed: Option<usize>| {
            let (code, message) = match e {
                mysql::Error::MySqlError(me) => (Some(me.code), me.message.clone()),
                other => (None, other.to_string()),
            };
            Box::new(MigrationFailure {
                id: m.id.to_string(),
                direction: step.direction,
                statement,
                total,
                line: statement
                    .checked_sub(1)
                    .and_then(|i| stmts.get(i))
                    .map(|s| s.line),
                code,
                message,
                committed,
                connection_lost: connection_lost(e),
                completed: Vec::new(),
            })
        };

        let mut hasher = StatementHasher::new();
        let resume_from = step.resume_from.min(total);
        for s in &stmts[..resume_from] {
            hasher.push(&s.sql);
        }
        let mut journaled = resume_from;
        let mut in_tx = false;
        if step.action == Action::Run {
            for (i, s) in stmts.iter().enumerate().skip(resume_from) {
                let commits = !tx || may_commit(&s.sql);
                let pre = if !commits && !in_tx {
                    in_tx = true;
                    exec_all(&mut self.conn, "START TRANSACTION")
                } else if commits && in_tx && i > journaled {
                    // Pending data statements commit with this one: record them with them.
                    let j = self.running_sql(m, step.direction, total, &hasher);
                    exec_all(&mut self.conn, &j)
                } else {
                    Ok(())
                };
                // The statement, then (after an implicit commit) the journal row that
                // records it; a failure in either is reported the same way.
                let result = 'statement: {
                    if let Err(e) = pre.and_then(|_| exec_all(&mut self.conn, &s.sql)) {
                        break 'statement Err(e);
                    }
                    hasher.push(&s.sql);
                    if !commits {
                        break 'statement Ok(());
                    }
                    in_tx = false;
                    journaled = i + 1;
                    // The last statement's progress is written with the history row below.
                    if i + 1 == total {
                        break 'statement Ok(());
                    }
                    let mut batch = self.running_sql(m, step.direction, total, &hasher);
                    // Open the next data statement's transaction in the same round trip.
                    if tx && !may_commit(&stmts[i + 1].sql) {
                        batch.push_str("; START TRANSACTION");
                        in_tx = true;
                    }
                    exec_all(&mut self.conn, &batch)
                };
                if let Err(e) = result {
                    return Err(self.record_failure(
                        m,
                        step.direction,
                        stmts,
                        total,
                        i + 1,
                        &e,
                        in_tx,
                        &fail,
                    ));
                }
            }
        }
        let duration_ms = started.elapsed().as_millis() as u64;
        // History row, journal row and COMMIT: one round trip.
        let finish = format!(
            "{}{}; {}; COMMIT",
            if in_tx { "" } else { "START TRANSACTION; " },
            self.history_sql(m, step.direction),
            self.journal_sql(
                m,
                step.direction,
                final_state,
                total,
                &hasher,
                false,
                None,
                Some(duration_ms),
            )
        );
        let finish = exec_all(&mut self.conn, &finish);
        if let Err(e) = finish {
            return Err(self.record_failure(m, step.direction, stmts, total, 0, &e, true, &fail));
        }
        Ok(StepReport {
            id: m.id.to_string(),
            sha256: m.sha256.clone(),
            direction: step.direction,
            action: step.action,
            statements: if step.action == Action::Run {
                total - resume_from
            } else {
                0
            },
            statements_total: total,
            resumed_from: resume_from,
            catch_up: step.catch_up,
            duration_ms: started.elapsed().as_millis() as u64,
            state: final_state.as_str(),
        })
    }

    /// After a failure: roll back what is uncommitted, read back what the journal says is
    /// committed, and record the failure there.
    #[allow(clippy::too_many_arguments)]
    fn record_failure(
        &mut self,
        m: &Migration<'_>,
        direction: Direction,
        stmts: &[Statement<'_>],
        total: usize,
        statement: usize,
        e: &mysql::Error,
        in_tx: bool,
        fail: &FailFn<'_>,
    ) -> Box<MigrationFailure> {
        if connection_lost(e) {
            return fail(statement, e, None);
        }
        if in_tx && let Err(re) = exec_all(&mut self.conn, "ROLLBACK") {
            return fail(statement, &re, None);
        }
        // The journal row commits exactly with the data, so it is the truth now.
        let committed = match self.journal_applied(m.id) {
            Ok(n) => n
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
                .unwrap_or(0),
            Err(_) => return fail(statement, e, None),
        };
        let committed = committed.min(total);
        let mut hasher = StatementHasher::new();
        for s in &stmts[..committed] {
            hasher.push(&s.sql);
        }
        let message = fail(statement, e, Some(committed)).to_string();
        let j = self.journal_sql(
            m,
            direction,
            JournalState::Failed,
            total,
            &hasher,
            true,
            Some(&message),
            None,
        );
        let _ = exec_all(&mut self.conn, &j);
        fail(statement, e, Some(committed))
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
        };
        for step in &plan.steps {
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
        plan::parse_needed(migrations, &history, &journal, Some(opts.command))?;
        let plan = plan::plan(migrations, &history, &journal, opts)?;
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
        self.lock(lock_timeout)?;
        let result = (|| {
            let p = self.planned(migrations, opts, true)?;
            let last_applied = plan::last_applied(migrations, &p.history, &p.plan.steps);
            let mut report = self.execute(migrations, &p.plan, progress)?;
            report.last_applied = last_applied.map(str::to_owned);
            Ok(report)
        })();
        self.unlock();
        result
    }

    /// Records by hand that `id` is applied (`applied`) or not; journaled. `migration` is
    /// its file, when there is one.
    pub fn resolve(
        &mut self,
        id: &str,
        migration: Option<&Migration<'_>>,
        applied: bool,
        lock_timeout: Duration,
    ) -> Result<(), DbError> {
        self.lock(lock_timeout)?;
        let result = (|| {
            let (history, journal) = self.read_state(true)?;
            let in_history = history.iter().any(|h| h.id == id);
            let row = journal.iter().find(|j| j.id == id);
            if migration.is_none() && row.is_none() && !in_history {
                return Err(DbError::Resolve {
                    id: id.into(),
                    reason: "no such migration file, history row or journal row".into(),
                });
            }
            let (state, direction) = if applied {
                (JournalState::ResolvedApplied, Direction::Up)
            } else {
                (JournalState::ResolvedRolledBack, Direction::Down)
            };
            let sha = migration
                .map(|m| m.sha256.clone())
                .or_else(|| row.and_then(|r| r.sha256.clone()));
            let total = migration.map(|m| m.up.statements.len()).unwrap_or(0) as u64;
            let note = format!(
                "resolved by hand as {}{}",
                if applied { "applied" } else { "rolled back" },
                row.filter(|r| matches!(r.state, JournalState::Running | JournalState::Failed))
                    .map(|r| format!(
                        " (was {} {} with {} statements committed)",
                        r.direction, r.state, r.statements_applied
                    ))
                    .unwrap_or_default()
            );
            let q = || -> Result<(), mysql::Error> {
                self.conn.query_drop("START TRANSACTION")?;
                if applied {
                    self.conn.exec_drop(
                        format!(
                            "INSERT IGNORE INTO {} (id, applied_at) VALUES (?, UTC_TIMESTAMP())",
                            self.history
                        ),
                        (id,),
                    )?;
                } else {
                    self.conn
                        .exec_drop(format!("DELETE FROM {} WHERE id = ?", self.history), (id,))?;
                }
                self.conn.exec_drop(
                    format!(
                        "INSERT INTO {} (id, sha256, direction, state, statements_total, statements_applied, \
                         applied_sha256, statement_hashes, error, note, updated_at) \
                         VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, NULL, ?, UTC_TIMESTAMP(6)) \
                         ON DUPLICATE KEY UPDATE sha256 = VALUES(sha256), direction = VALUES(direction), \
                         state = VALUES(state), statements_total = VALUES(statements_total), \
                         statements_applied = VALUES(statements_applied), applied_sha256 = NULL, \
                         statement_hashes = NULL, error = NULL, note = VALUES(note), updated_at = VALUES(updated_at)",
                        self.journal
                    ),
                    (id, sha, direction.as_str(), state.as_str(), total, if applied { total } else { 0 }, note),
                )?;
                self.conn.query_drop("COMMIT")
            };
            q().map_err(query_err(format!("resolving {id}")))
        })();
        self.unlock();
        result
    }
}

/// The `GET_LOCK` name for a schema and table: readable when it can be, else hashed;
/// always at most 64 characters of `[A-Za-z0-9_.:-]`.
pub fn lock_name(schema: &str, table: &str) -> String {
    let plain = format!("lambda-migrate:{schema}.{table}");
    let safe = plain
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    if safe && plain.len() <= 64 {
        plain
    } else {
        let digest = Sha256::digest(format!("{schema}\0{table}").as_bytes());
        format!("lambda-migrate:{}", &hex(&digest)[..40])
    }
}

/// The `mysql://…` target described without the password; re-exported for binaries.
pub fn redacted(cfg: &ConnConfig) -> String {
    cfg.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_classification() {
        for dml in [
            "INSERT INTO t VALUES (1)",
            "  update t set a = 1",
            "-- note\nDELETE FROM t",
            "/* c */ select sleep(1)",
            "# x\nREPLACE INTO t VALUES (1)",
            "WITH x AS (SELECT 1) SELECT * FROM x",
        ] {
            assert!(!may_commit(dml), "{dml}");
        }
        for ddl in [
            "CREATE TABLE t (a int)",
            "alter table t add b int",
            "DROP TABLE t",
            "SET autocommit = 1",
            "CALL p()",
            "/*!50001 CREATE VIEW v AS SELECT 1 */",
            "/* unterminated",
            "",
            "SELECTX",
            "(SELECT 1)",
        ] {
            assert!(may_commit(ddl), "{ddl}");
        }
    }

    #[test]
    fn lock_names() {
        assert_eq!(
            lock_name("shop", "gorp_migrations"),
            "lambda-migrate:shop.gorp_migrations"
        );
        let long = lock_name(&"s".repeat(60), "gorp_migrations");
        assert!(long.len() <= 64 && long.starts_with("lambda-migrate:"));
        let odd = lock_name("x'); DROP", "t");
        assert!(!odd.contains('\''));
    }

    #[test]
    fn idents_are_quoted() {
        assert_eq!(ident("a`b"), "`a``b`");
    }
}
