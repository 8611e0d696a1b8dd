//! Running one migration step: its statements, transactions around them, the journal
//! row that commits exactly with the data, and the report when a statement fails.

use std::time::{Duration, Instant};

use super::Database;
use super::bookkeeping::{StepSql, joined};
use super::control::Stop;
use super::lockwait::{ER_LOCK_WAIT_TIMEOUT, retry_delay, retry_safe};
use super::sql::{connection_lost, exec_all, literal};
use crate::migration::{Migration, Statement};
use crate::plan::{
    self, Action, Direction, JournalState, StatementHasher, fails_whole, keeps_session, may_commit,
    replays_on_resume, several_objects,
};
use crate::store::{DeadlineStop, LockWait, MigrationFailure};

/// Why a statement (or the bookkeeping after it) failed, as a failure report says it.
#[derive(Debug, Default)]
struct Cause {
    code: Option<u16>,
    message: String,
    connection_lost: bool,
    lock_wait: Option<Box<LockWait>>,
    deadline: Option<DeadlineStop>,
    interrupted: bool,
    /// The statement was not sent (the run had stopped).
    unsent: bool,
}

impl Cause {
    fn of(e: &mysql::Error) -> Cause {
        let (code, message) = match e {
            mysql::Error::MySqlError(me) => (Some(me.code), me.message.clone()),
            other => (None, super::sql::words(other)),
        };
        Cause {
            code,
            message,
            connection_lost: connection_lost(e),
            ..Cause::default()
        }
    }
}

/// Where in a statement's round trips a failure happened, which decides what is known
/// to be committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Before the statement (opening its transaction, journaling pending data
    /// statements): nothing of it ran.
    Before,
    /// The statement itself. `commits`: it commits on its own (DDL, or any statement of
    /// a `notransaction` section); `whole`: a failure of it failed it as a whole.
    Statement { commits: bool, whole: bool },
    /// The journal write after a statement that committed: the statement is committed.
    After,
    /// The history row, journal row and COMMIT at the end, after `committed` statements
    /// known to be committed (the last one included when it committed on its own).
    Finish { committed: usize },
}

/// How sending a statement failed: the cause, how many times it was sent, for how long.
type Unsent = (Cause, u32, Duration);

/// How long to wait for a lost session to be gone from the server.
const SESSION_GONE_WAIT: Duration = Duration::from_secs(60);

impl Database {
    /// Runs one step ([`crate::store::Store::apply`]). On failure, reports what is
    /// committed now; when that cannot be known, records the migration in doubt.
    pub(super) fn run_step(
        &mut self,
        m: &Migration<'_>,
        step: &plan::Step,
        next: Option<(&Migration<'_>, &plan::Step)>,
    ) -> Result<(), Box<MigrationFailure>> {
        let started = Instant::now();
        let mut w = StepSql::new(m, step);
        let stmts = w.stmts;
        let total = w.total();
        let final_state = step.final_state();
        let run = Run {
            m,
            direction: step.direction,
            stmts,
        };
        let resume_from = step.resume_from.min(total);
        let note = literal(&format!("session {}", self.conn.connection_id()));
        // Before anything of it runs, the journal says a run is at it, on which session:
        // if this process dies, the next run knows where, and can end that session's
        // statement on the server rather than guess. The migration before it in the run
        // wrote that with its own history row (see `Tables::announce_sql`); the first
        // writes it here.
        let marked = std::mem::take(&mut self.marked).as_deref() == Some(m.id);
        if step.action == Action::Run
            && resume_from < total
            && !marked
            && let Err(e) = exec_all(&mut self.conn, &joined(&w.start(&self.tables, &note)))
        {
            return self.record_failure(&run, resume_from + 1, Stage::Before, Cause::of(&e));
        }
        if step.action == Action::Run {
            // A resumed migration runs on a fresh session: what its committed statements
            // set up for the rest (`USE`, session `SET`s) is set up again first.
            for (i, s) in stmts[..resume_from].iter().enumerate() {
                if replays_on_resume(&s.sql)
                    && let Err(e) = exec_all(&mut self.conn, &s.sql)
                {
                    let mut cause = Cause::of(&e);
                    cause.message = format!(
                        "sending it again to set up the session before resuming: {}",
                        cause.message
                    );
                    return self.record_failure(&run, i + 1, Stage::Before, cause);
                }
            }
            for (i, s) in stmts.iter().enumerate().skip(resume_from) {
                let commits = w.commits(i);
                let pre = match w.before(&self.tables, i) {
                    Some(sql) => exec_all(&mut self.conn, &sql),
                    None => Ok(()),
                };
                // The statement, then (after an implicit commit) the journal row that
                // records it.
                let result = 'statement: {
                    if let Err(e) = pre {
                        break 'statement Err((Stage::Before, Cause::of(&e)));
                    }
                    let whole = fails_whole(&s.sql);
                    // Only a statement that failed as a whole and is a kind whose lock
                    // wait comes before any of its work is sent again.
                    let retryable = commits && whole && retry_safe(&s.sql);
                    if let Err((mut cause, attempts, waited)) =
                        self.exec_retrying(&s.sql, retryable)
                    {
                        // A DDL statement's lock-wait timeout is a metadata lock's (a data
                        // statement's may be a row lock's: InnoDB's own timeout).
                        if cause.code == Some(ER_LOCK_WAIT_TIMEOUT) && may_commit(&s.sql) {
                            cause.lock_wait =
                                Some(Box::new(self.lock_wait_report(&s.sql, attempts, waited)));
                        }
                        // MariaDB drops or creates a list of objects one at a time: a
                        // failure part-way there leaves the first ones done.
                        let whole = whole && (!several_objects(&s.sql) || self.atomic_ddl());
                        break 'statement Err((Stage::Statement { commits, whole }, cause));
                    }
                    match w.after(&self.tables, i) {
                        Some(batch) => exec_all(&mut self.conn, &joined(&batch))
                            .map_err(|e| (Stage::After, Cause::of(&e))),
                        None => Ok(()),
                    }
                };
                if let Err((stage, cause)) = result {
                    // A statement never sent is as if it failed before.
                    let stage = if cause.unsent { Stage::Before } else { stage };
                    return self.record_failure(&run, i + 1, stage, cause);
                }
            }
        }
        let duration_ms = started.elapsed().as_millis() as u64;
        // History row, journal row, the next migration's start (durable at no cost of its
        // own) and COMMIT: one round trip.
        let announce = self.tables.announce_sql(next, &note);
        let finish = w.finish(
            &self.tables,
            final_state,
            Some(duration_ms),
            announce.as_ref().map(|(_, sql)| sql.as_slice()),
        );
        if let Err(e) = exec_all(&mut self.conn, &joined(&finish)) {
            return self.record_failure(
                &run,
                0,
                Stage::Finish {
                    committed: w.journaled,
                },
                Cause::of(&e),
            );
        }
        self.marked = announce.map(|(id, _)| id);
        // Only a migration that may have changed its session pays for the reset.
        if step.action == Action::Run && !stmts.iter().all(|s| keeps_session(&s.sql)) {
            self.reset_session();
        }
        Ok(())
    }

    /// After a migration that ran: the session goes back to what a new connection is
    /// (`COM_RESET_CONNECTION`: the migration may have changed its database, autocommit,
    /// isolation, character set or any variable, left a transaction open or tables
    /// locked), and our settings are sent again: two round trips, neither a durable
    /// write. The lock is on the control connection, so the reset cannot lose it. A
    /// failure leaves the session broken, which the next statement reports.
    fn reset_session(&mut self) {
        if self.conn.reset().is_ok() {
            let _ = exec_all(&mut self.conn, &joined(&self.session));
        }
    }

    /// The run did not start the migration the last one announced
    /// ([`crate::store::Store::withdraw`]): its `running` row, with nothing committed,
    /// goes, so that no later run takes it for one that died mid-statement.
    pub(super) fn withdraw_mark(&mut self) {
        if let Some(id) = self.marked.take() {
            let sql = self.tables.withdraw_sql(&id);
            let _ = exec_all(&mut self.conn, &sql);
        }
    }

    /// After a failure at `statement` (1-based; 0 for the finish): make sure nothing of
    /// ours still runs, learn what is committed, and journal it through the control
    /// connection (a clean session, whatever the migration did to its own). `Ok` when it
    /// turns out the migration completed (its finish committed before the session was
    /// lost).
    fn record_failure(
        &mut self,
        run: &Run<'_, '_>,
        statement: usize,
        stage: Stage,
        cause: Cause,
    ) -> Result<(), Box<MigrationFailure>> {
        let total = run.stmts.len();
        let in_doubt = if cause.connection_lost {
            // The session may still be running the statement: end it, and wait until it
            // is gone, so that what it committed is final.
            if !self.shared.end_session(SESSION_GONE_WAIT) {
                return Err(run.fail(statement, &cause, None, true));
            }
            // Its open transaction is rolled back; a statement that commits on its own
            // may or may not have.
            matches!(stage, Stage::Statement { commits: true, .. })
        } else {
            // Whatever is open on the session is rolled back (a migration may have
            // turned autocommit off): the journal's count is then exact.
            if let Err(re) = exec_all(&mut self.conn, "ROLLBACK") {
                return Err(run.fail(statement, &Cause::of(&re), None, false));
            }
            // A statement of several server statements (a CALL) that failed may have
            // committed part of its work.
            matches!(
                stage,
                Stage::Statement {
                    commits: true,
                    whole: false
                }
            )
        };
        // The journal row commits exactly with the data, so it is the truth now.
        let row = self
            .shared
            .with(|c| journal_row(c, &self.tables.journal, run.m.id));
        let (state, journaled) = match row {
            Some(Ok(r)) => r.unwrap_or_default(),
            _ => return Err(run.fail(statement, &cause, None, in_doubt)),
        };
        let mut committed = usize::try_from(journaled).unwrap_or(usize::MAX).min(total);
        match stage {
            Stage::Finish { .. } if state == run.final_state().as_str() => return Ok(()),
            // The last statement's progress rides in the finish: if that was lost, a last
            // statement that committed on its own is still committed.
            Stage::Finish { committed: known } => committed = committed.max(known.min(total)),
            // The statement committed; only its journal write failed.
            Stage::After => committed = statement.min(total),
            _ => {}
        }
        let mut hasher = StatementHasher::new();
        for s in &run.stmts[..committed] {
            hasher.push(&s.sql);
        }
        let failure = run.fail(statement, &cause, Some(committed), in_doubt);
        let state = if in_doubt {
            JournalState::InDoubt
        } else {
            JournalState::Failed
        };
        let j = self.tables.journal_sql(
            run.m,
            run.direction,
            state,
            total,
            &hasher,
            true,
            Some(&failure.to_string()),
            None,
        );
        let written = self.shared.with(|c| exec_all(c, &j));
        if !matches!(written, Some(Ok(()))) {
            return Err(run.fail(statement, &cause, None, in_doubt));
        }
        Err(failure)
    }
}

impl Database {
    /// Whether the server has atomic DDL for statements over a list of objects (MySQL
    /// 8.0 and later; not MariaDB, not MySQL 5.7). Asked on the control connection only
    /// after such a statement failed; `false` when it cannot be told, which records the
    /// migration in doubt rather than guessing.
    fn atomic_ddl(&self) -> bool {
        use mysql::prelude::Queryable;
        let version = self
            .shared
            .with(|c| c.query_first::<String, _>("SELECT VERSION()"));
        match version {
            Some(Ok(Some(v))) => atomic_ddl_version(&v),
            _ => false,
        }
    }
}

/// [`Database::atomic_ddl`] for a `VERSION()` text: MySQL from 8.0.
fn atomic_ddl_version(version: &str) -> bool {
    let major = version
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|m| m.parse::<u32>().ok());
    !version.to_ascii_lowercase().contains("mariadb") && major.is_some_and(|m| m >= 8)
}

/// The migration a step runs, for failure reports.
struct Run<'a, 'm> {
    m: &'a Migration<'m>,
    direction: Direction,
    stmts: &'a [Statement<'m>],
}

impl Run<'_, '_> {
    fn final_state(&self) -> JournalState {
        match self.direction {
            Direction::Up => JournalState::Applied,
            Direction::Down => JournalState::Reverted,
        }
    }

    /// The report of a failure at `statement` (1-based), with what is committed.
    fn fail(
        &self,
        statement: usize,
        cause: &Cause,
        committed: Option<usize>,
        in_doubt: bool,
    ) -> Box<MigrationFailure> {
        Box::new(MigrationFailure {
            id: self.m.id.to_string(),
            direction: self.direction,
            statement,
            total: self.stmts.len(),
            line: statement
                .checked_sub(1)
                .and_then(|i| self.stmts.get(i))
                .map(|s| s.line),
            code: cause.code,
            message: cause.message.clone(),
            committed,
            connection_lost: cause.connection_lost && committed.is_none(),
            completed: Vec::new(),
            lock_wait: cause.lock_wait.clone(),
            deadline: cause.deadline,
            interrupted: cause.interrupted,
            in_doubt,
        })
    }
}

/// The journal row's state and count of committed statements, read by a session that
/// sees only what is committed.
fn journal_row(
    conn: &mut mysql::Conn,
    journal: &str,
    id: &str,
) -> Result<Option<(String, u64)>, mysql::Error> {
    use mysql::prelude::Queryable;
    conn.exec_first(
        format!("SELECT state, statements_applied FROM {journal} WHERE id = ?"),
        (id,),
    )
}

impl Database {
    /// Sends `sql`; when it times out waiting for a lock and is `retryable`, sends it
    /// again after a pause, up to the configured retries and within the deadline. The
    /// server ends each wait itself (`lock_wait_timeout`), so nothing of ours is left
    /// waiting between tries. Once the run is stopped (its deadline, an interrupt) it is
    /// not sent, and while it runs it may be killed ([`super::control`]).
    fn exec_retrying(&mut self, sql: &str, retryable: bool) -> Result<(), Unsent> {
        let started = Instant::now();
        let kill_at = self.deadline.as_ref().map(|a| a.deadline.kill_at);
        let mut attempt = 0;
        loop {
            if let Err(why) = self.shared.begin(kill_at) {
                let cause = match why {
                    Stop::Deadline => Cause {
                        message: "not sent: the run's deadline had passed".into(),
                        deadline: Some(DeadlineStop::NotSent),
                        unsent: true,
                        ..Cause::default()
                    },
                    Stop::Interrupt => Cause {
                        message: "not sent: the run was interrupted".into(),
                        interrupted: true,
                        unsent: true,
                        ..Cause::default()
                    },
                };
                return Err((cause, attempt, started.elapsed()));
            }
            let result = exec_all(&mut self.conn, sql);
            let killed = self.shared.end();
            let e = match result {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            let mut cause = Cause::of(&e);
            match killed {
                Some(Stop::Deadline) => {
                    cause.deadline = Some(DeadlineStop::Killed);
                    return Err((cause, attempt + 1, started.elapsed()));
                }
                Some(Stop::Interrupt) => {
                    cause.interrupted = true;
                    return Err((cause, attempt + 1, started.elapsed()));
                }
                None => {}
            }
            let pause =
                retry_delay(cause.code, retryable, attempt, self.lock_wait.retries).filter(|p| {
                    self.deadline
                        .as_ref()
                        .is_none_or(|a| *p < a.deadline.to_kill())
                });
            match pause {
                Some(pause) => {
                    attempt += 1;
                    std::thread::sleep(pause);
                }
                None => return Err((cause, attempt + 1, started.elapsed())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::atomic_ddl_version;

    #[test]
    fn atomic_ddl_is_mysql_8_and_later() {
        for (v, atomic) in [
            ("9.7.4-2", true),
            ("8.0.39", true),
            ("8.0.mysql_aurora.3.08.0", true),
            ("5.7.44-log", false),
            ("10.11.19-MariaDB-0+deb12u1", false),
            ("11.4.2-MariaDB", false),
            ("", false),
        ] {
            assert_eq!(atomic_ddl_version(v), atomic, "{v}");
        }
    }
}
