//! Running one migration step: its statements, transactions around them, the journal
//! row that commits exactly with the data, and the report when a statement fails.

use std::time::{Duration, Instant};

use super::Database;
use super::lockwait::{ER_LOCK_WAIT_TIMEOUT, retry_delay};
use super::sql::{connection_lost, exec_all};
use crate::migration::{Migration, Statement};
use crate::plan::{
    self, Action, Direction, JournalState, StatementHasher, may_commit, single_statement,
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
}

impl Cause {
    fn of(e: &mysql::Error) -> Cause {
        let (code, message) = match e {
            mysql::Error::MySqlError(me) => (Some(me.code), me.message.clone()),
            other => (None, other.to_string()),
        };
        Cause {
            code,
            message,
            connection_lost: connection_lost(e),
            ..Cause::default()
        }
    }
}

/// Builds a failure report from (1-based statement, cause, statements committed).
type FailFn<'f> = dyn Fn(usize, &Cause, Option<usize>) -> Box<MigrationFailure> + 'f;

/// How sending a statement failed: the cause, how many times it was sent, for how long.
type Unsent = (Cause, u32, Duration);

impl Database {
    /// Runs one step ([`crate::store::Store::apply`]). On failure, reports what is
    /// committed now.
    pub(super) fn run_step(
        &mut self,
        m: &Migration<'_>,
        step: &plan::Step,
    ) -> Result<(), Box<MigrationFailure>> {
        let started = Instant::now();
        let section = plan::section(m, step.direction);
        let stmts: &[Statement<'_>] = &section.statements;
        let total = stmts.len();
        let tx = !section.no_transaction;
        let final_state = step.final_state();
        let fail = |statement: usize, cause: &Cause, committed: Option<usize>| {
            Box::new(MigrationFailure {
                id: m.id.to_string(),
                direction: step.direction,
                statement,
                total,
                line: statement
                    .checked_sub(1)
                    .and_then(|i| stmts.get(i))
                    .map(|s| s.line),
                code: cause.code,
                message: cause.message.clone(),
                committed,
                connection_lost: cause.connection_lost,
                completed: Vec::new(),
                lock_wait: cause.lock_wait.clone(),
                deadline: cause.deadline,
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
                    if let Err(e) = pre {
                        break 'statement Err(Cause::of(&e));
                    }
                    // A statement that commits on its own and is one server statement
                    // failed as a whole if it failed: nothing of it is committed, and
                    // what the journal says is still exact, so it can be sent again.
                    let retryable = commits && single_statement(&s.sql);
                    if let Err((mut cause, attempts, waited)) =
                        self.exec_retrying(&s.sql, retryable)
                    {
                        // A DDL statement's lock-wait timeout is a metadata lock's (a data
                        // statement's may be a row lock's: InnoDB's own timeout).
                        if cause.code == Some(ER_LOCK_WAIT_TIMEOUT) && may_commit(&s.sql) {
                            cause.lock_wait =
                                Some(Box::new(self.lock_wait_report(&s.sql, attempts, waited)));
                        }
                        break 'statement Err(cause);
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
                    exec_all(&mut self.conn, &batch).map_err(|e| Cause::of(&e))
                };
                if let Err(cause) = result {
                    return Err(self.record_failure(
                        m,
                        step.direction,
                        stmts,
                        total,
                        i + 1,
                        cause,
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
            return Err(self.record_failure(
                m,
                step.direction,
                stmts,
                total,
                0,
                Cause::of(&e),
                true,
                &fail,
            ));
        }
        Ok(())
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
        cause: Cause,
        in_tx: bool,
        fail: &FailFn<'_>,
    ) -> Box<MigrationFailure> {
        if cause.connection_lost {
            return fail(statement, &cause, None);
        }
        if in_tx && let Err(re) = exec_all(&mut self.conn, "ROLLBACK") {
            return fail(statement, &Cause::of(&re), None);
        }
        // The journal row commits exactly with the data, so it is the truth now.
        let committed = match self.journal_applied(m.id) {
            Ok(n) => n
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
                .unwrap_or(0),
            Err(_) => return fail(statement, &cause, None),
        };
        let committed = committed.min(total);
        let mut hasher = StatementHasher::new();
        for s in &stmts[..committed] {
            hasher.push(&s.sql);
        }
        let message = fail(statement, &cause, Some(committed)).to_string();
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
        fail(statement, &cause, Some(committed))
    }
}

impl Database {
    /// Sends `sql`; when it times out waiting for a lock and is `retryable`, sends it
    /// again after a pause, up to the configured retries and within the deadline. The
    /// server ends each wait itself (`lock_wait_timeout`), so nothing of ours is left
    /// waiting between tries. Past the deadline it is not sent, and while it runs the
    /// watchdog may kill it ([`super::deadline`]).
    fn exec_retrying(&mut self, sql: &str, retryable: bool) -> Result<(), Unsent> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let watched = match &self.deadline {
                Some(a) if !a.watchdog.begin(a.deadline.kill_at) => {
                    let cause = Cause {
                        message: "not sent: the run's deadline had passed".into(),
                        deadline: Some(DeadlineStop::NotSent),
                        ..Cause::default()
                    };
                    return Err((cause, attempt, started.elapsed()));
                }
                Some(a) => Some(&a.watchdog),
                None => None,
            };
            let result = exec_all(&mut self.conn, sql);
            let killed = watched.is_some_and(|w| w.end());
            let e = match result {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            let mut cause = Cause::of(&e);
            if killed {
                cause.deadline = Some(DeadlineStop::Killed);
                return Err((cause, attempt + 1, started.elapsed()));
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
