//! The SQL text of everything a run sends besides the migrations' own statements: the
//! bookkeeping tables, the lock, the journal and history writes, and when in a step each
//! is sent ([`StepSql`]). A run sends it ([`super::apply`]); `--dry-run --sql` prints it
//! ([`super::script`]). Both take it from here, so the script is what a run sends.

use std::time::Duration;

use super::sql::{hex_only, literal};
use crate::migration::{Migration, Statement};
use crate::plan::{self, Action, Direction, JournalState, StatementHasher, Step, may_commit};

/// Statements a run sends in one round trip (joined by [`joined`]), and a script prints
/// one by one.
pub(super) type Batch = Vec<String>;

/// A batch as one multi-statement text.
pub(super) fn joined(b: &[String]) -> String {
    b.join("; ")
}

/// The quoted table names and the lock's name.
pub(super) struct Tables {
    /// The history table, quoted and qualified with its schema.
    pub(super) history: String,
    /// The journal table, likewise.
    pub(super) journal: String,
    /// The `GET_LOCK` name: made of `[A-Za-z0-9_.:-]` only ([`super::lock_name`]), so it
    /// can be a literal.
    pub(super) lock: String,
}

impl Tables {
    /// Creates the history table exactly as sql-migrate does.
    pub(super) fn create_history_sql(&self) -> String {
        format!(
            "create table if not exists {} (`id` varchar(255) not null primary key, `applied_at` datetime) engine=InnoDB charset=UTF8",
            self.history
        )
    }

    /// Creates the journal table.
    pub(super) fn create_journal_sql(&self) -> String {
        format!(
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
        )
    }

    /// `GET_LOCK(…)`, waiting up to `timeout`: 1 when taken. A user lock: no
    /// `lock_wait_timeout` bounds the wait.
    pub(super) fn get_lock_expr(&self, timeout: Duration) -> String {
        format!("GET_LOCK('{}', {:.3})", self.lock, timeout.as_secs_f64())
    }

    /// One try at the lock, waiting up to `wait`, and who holds it when the try fails,
    /// in one statement: NULL when taken, else the holder's connection id (0 when
    /// nobody holds it any more). `GET_LOCK` is NULL on an error (a killed wait), which
    /// counts as not taken.
    pub(super) fn try_lock_sql(&self, wait: Duration) -> String {
        format!(
            "SELECT IF({} = 1, NULL, IFNULL(IS_USED_LOCK('{}'), 0))",
            self.get_lock_expr(wait),
            self.lock
        )
    }

    /// Releases the lock.
    pub(super) fn release_lock_sql(&self) -> String {
        format!("DO RELEASE_LOCK('{}')", self.lock)
    }

    /// Records the files' checksums for applied migrations that have none (`which`:
    /// indices into `migrations`, at most a few hundred).
    pub(super) fn adopt_sql(&self, migrations: &[Migration<'_>], which: &[usize]) -> String {
        let rows: Vec<String> = which
            .iter()
            .map(|&i| {
                let m = &migrations[i];
                let n = m.up.statements.len();
                format!(
                    "({}, '{}', 'up', 'adopted', {n}, {n}, NULL, NULL, NULL, UTC_TIMESTAMP(6))",
                    literal(m.id),
                    hex_only(&m.sha256)
                )
            })
            .collect();
        format!(
            "INSERT INTO {} (id, sha256, direction, state, statements_total, statements_applied, \
             applied_sha256, statement_hashes, error, updated_at) VALUES {} \
             ON DUPLICATE KEY UPDATE sha256 = VALUES(sha256), direction = 'up', state = 'adopted', \
             statements_total = VALUES(statements_total), statements_applied = VALUES(statements_applied), \
             applied_sha256 = NULL, statement_hashes = NULL, error = NULL, updated_at = VALUES(updated_at)",
            self.journal,
            rows.join(", ")
        )
    }

    /// The journal upsert for `m`: values are literals (strings as hex, which mean the
    /// same under any `sql_mode` and carry no quote), so it can share a round trip with
    /// the history row and the COMMIT.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn journal_sql(
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
    pub(super) fn running_sql(
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

    /// The journal row saying a run is at `m` on the session `note` (an SQL expression
    /// giving `session <id>`), with nothing of it committed past `hasher`'s statements.
    pub(super) fn mark_sql(
        &self,
        m: &Migration<'_>,
        direction: Direction,
        total: usize,
        hasher: &StatementHasher,
        note: &str,
    ) -> Batch {
        vec![
            self.running_sql(m, direction, total, hasher),
            format!(
                "UPDATE {} SET note = {note} WHERE id = {}",
                self.journal,
                literal(m.id)
            ),
        ]
    }

    /// Deletes the `running` row a finish announced for a migration the run then did
    /// not start.
    pub(super) fn withdraw_sql(&self, id: &str) -> String {
        format!(
            "DELETE FROM {} WHERE id = {} AND CAST(state AS BINARY) = 'running' \
             AND statements_applied = 0",
            self.journal,
            literal(id)
        )
    }

    /// The history row's write: inserted by `up` (the server's clock, as sql-migrate),
    /// deleted by `down`.
    pub(super) fn history_sql(&self, m: &Migration<'_>, direction: Direction) -> String {
        match direction {
            Direction::Up => format!(
                "INSERT INTO {} (id, applied_at) VALUES ({}, UTC_TIMESTAMP())",
                self.history,
                literal(m.id)
            ),
            Direction::Down => format!("DELETE FROM {} WHERE id = {}", self.history, literal(m.id)),
        }
    }

    /// The `running` row the finish of the step before `next` writes for it, so that its
    /// start costs no round trip of its own: `(id, SQL)`, when `next` runs statements.
    pub(super) fn announce_sql(
        &self,
        next: Option<(&Migration<'_>, &Step)>,
        note: &str,
    ) -> Option<(String, Batch)> {
        let (n, s) = next.filter(|(_, s)| s.action == Action::Run)?;
        let stmts = &plan::section(n, s.direction).statements;
        let mut prefix = StatementHasher::new();
        for st in &stmts[..s.resume_from.min(stmts.len())] {
            prefix.push(&st.sql);
        }
        (!stmts.is_empty()).then(|| {
            let mark = self.mark_sql(n, s.direction, stmts.len(), &prefix, note);
            (n.id.to_owned(), mark)
        })
    }
}

/// What one step sends around its statements, in order, as it goes: where transactions
/// open, and the journal writes that commit exactly with the data (see [`super`]'s
/// notes). A run calls it as it sends, and stops where a statement fails; a script calls
/// it for every statement.
pub(super) struct StepSql<'a, 'm> {
    pub(super) m: &'a Migration<'m>,
    pub(super) direction: Direction,
    pub(super) stmts: &'a [Statement<'m>],
    /// The section runs in transactions (not `notransaction`).
    tx: bool,
    /// The statements sent (and, before them, the ones an earlier run committed).
    pub(super) hasher: StatementHasher,
    /// How many statements the journal counts as committed once what was sent commits.
    pub(super) journaled: usize,
    /// A transaction is open.
    pub(super) in_tx: bool,
}

impl<'a, 'm> StepSql<'a, 'm> {
    /// The writer for `step` of `m`, from its first statement not yet committed.
    pub(super) fn new(m: &'a Migration<'m>, step: &Step) -> Self {
        let section = plan::section(m, step.direction);
        let stmts: &[Statement<'_>] = &section.statements;
        let resume_from = step.resume_from.min(stmts.len());
        let mut hasher = StatementHasher::new();
        for s in &stmts[..resume_from] {
            hasher.push(&s.sql);
        }
        StepSql {
            m,
            direction: step.direction,
            stmts,
            tx: !section.no_transaction,
            hasher,
            journaled: resume_from,
            in_tx: false,
        }
    }

    /// How many statements the step has.
    pub(super) fn total(&self) -> usize {
        self.stmts.len()
    }

    /// Whether statement `i` commits on its own: DDL, or any statement of a
    /// `notransaction` section.
    pub(super) fn commits(&self, i: usize) -> bool {
        !self.tx || may_commit(&self.stmts[i].sql)
    }

    /// Before anything of the step runs: the journal says a run is at it, on the
    /// session `note`.
    pub(super) fn start(&self, t: &Tables, note: &str) -> Batch {
        let mut b = t.mark_sql(self.m, self.direction, self.total(), &self.hasher, note);
        b.push("COMMIT".into());
        b
    }

    /// What goes before statement `i`: the transaction a data statement opens, or the
    /// journal row of pending data statements that a committing one commits with them.
    pub(super) fn before(&mut self, t: &Tables, i: usize) -> Option<String> {
        let commits = self.commits(i);
        if !commits && !self.in_tx {
            self.in_tx = true;
            Some("START TRANSACTION".into())
        } else if commits && self.in_tx && i > self.journaled {
            Some(t.running_sql(self.m, self.direction, self.total(), &self.hasher))
        } else {
            None
        }
    }

    /// Statement `i` succeeded: what goes after it. After a statement that committed,
    /// the journal row records it (with a COMMIT: a migration may have turned autocommit
    /// off), and the next data statement's transaction opens in the same round trip. The
    /// last statement's progress is written with the finish instead.
    pub(super) fn after(&mut self, t: &Tables, i: usize) -> Option<Batch> {
        self.hasher.push(&self.stmts[i].sql);
        if !self.commits(i) {
            return None;
        }
        self.in_tx = false;
        self.journaled = i + 1;
        if i + 1 == self.total() {
            return None;
        }
        let mut batch = vec![
            t.running_sql(self.m, self.direction, self.total(), &self.hasher),
            "COMMIT".into(),
        ];
        if self.tx && !may_commit(&self.stmts[i + 1].sql) {
            batch.push("START TRANSACTION".into());
            self.in_tx = true;
        }
        Some(batch)
    }

    /// The end of the step: its history row, its final journal row, the next step's
    /// `announce` (see [`Tables::announce_sql`]) and the COMMIT, in one round trip.
    pub(super) fn finish(
        &self,
        t: &Tables,
        final_state: JournalState,
        duration_ms: Option<u64>,
        announce: Option<&[String]>,
    ) -> Batch {
        let mut b = Vec::with_capacity(6);
        if !self.in_tx {
            b.push("START TRANSACTION".into());
        }
        b.push(t.history_sql(self.m, self.direction));
        b.push(t.journal_sql(
            self.m,
            self.direction,
            final_state,
            self.total(),
            &self.hasher,
            false,
            None,
            duration_ms,
        ));
        b.extend(announce.unwrap_or_default().iter().cloned());
        b.push("COMMIT".into());
        b
    }
}
