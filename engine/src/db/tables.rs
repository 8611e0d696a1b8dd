//! The history and journal tables: creating them, and reading both in one query each
//! (plus one for the progress of unfinished journal rows, when there are any).

use mysql::prelude::Queryable;

use std::time::Duration;

use super::sql::{is_missing_table, query_each, query_err};
use super::{Database, Missing, StoreError};
use crate::plan::{Direction, HistoryRow, JournalRow, JournalState};
use crate::store::Recorded;

impl Database {
    /// Creates the history table exactly as sql-migrate does, and the journal table.
    pub(super) fn create_tables(&mut self) -> Result<(), StoreError> {
        self.conn
            .query_drop(self.tables.create_history_sql())
            .map_err(query_err(format!(
                "creating the history table {}",
                self.tables.history
            )))?;
        self.create_journal()
    }

    fn create_journal(&mut self) -> Result<(), StoreError> {
        self.conn
            .query_drop(self.tables.create_journal_sql())
            .map_err(query_err(format!(
                "creating the journal table {}",
                self.tables.journal
            )))
    }

    /// Reads the history and the journal: one query each, and one more for the progress
    /// of unfinished journal rows when there are any. Missing tables read as empty,
    /// and are created when `create` is set; `applied_at` is read only when `times`.
    pub(super) fn read(&mut self, create: bool, times: bool) -> Result<Recorded, StoreError> {
        self.missing = Missing::None;
        // `status` reads `applied_at` as the server sends it to sql-migrate (the column's
        // own precision: sql-migrate's `datetime` has none, a table altered to
        // `datetime(6)` has microseconds), a NULL as '' (the row is there, its time is
        // not), and the rows in sql-migrate's order, which names rows without a file in it.
        let history_q = if times {
            format!(
                "SELECT id, IFNULL(CAST(applied_at AS CHAR), '') FROM {} ORDER BY id",
                self.tables.history
            )
        } else {
            format!("SELECT id, NULL FROM {}", self.tables.history)
        };
        let mut history = Vec::new();
        let read = self.first_query_each(&history_q, |(id, applied_at)| {
            history.push(HistoryRow { id, applied_at })
        });
        match read {
            Ok(()) => {}
            Err(e) if is_missing_table(&e) => {
                if create {
                    self.create_tables()?;
                } else {
                    self.missing = Missing::Both;
                }
                return Ok(Recorded::default());
            }
            Err(e) => return Err(query_err(format!("reading {}", self.tables.history))(e)),
        }
        // Progress and errors matter only for unfinished rows, which are few: a second
        // query reads them, only when this one finds such a row. Per-row expressions cost
        // the server more than the rows (server CPU for 10,000 rows: 21.7 ms with the
        // progress columns behind four `IF`s, 8.7 ms with the one kept here, which sends
        // the usual direction `up` as NULL: a NULL costs the driver no allocation). A
        // NULL stored in `direction` reads as the empty string, which is refused below.
        let journal_q = format!(
            "SELECT id, sha256, IF(CAST(direction AS BINARY) = '{up}', NULL, IFNULL(direction, '')), \
             state FROM {}",
            self.tables.journal,
            up = Direction::Up.as_str(),
        );
        // Nearly every history row has a journal row.
        let mut journal = Vec::with_capacity(history.len());
        let mut unfinished = Vec::new();
        let mut bad = None;
        let read = query_each(
            &mut self.conn,
            None,
            &journal_q,
            |(id, sha256, direction, state): (String, Option<String>, Option<String>, String)| {
                if bad.is_some() {
                    return;
                }
                let direction = match direction.as_deref().map(Direction::parse) {
                    None => Direction::Up,
                    Some(Some(d)) => d,
                    Some(None) => {
                        bad = Some((id, format!("direction {:?}", direction.unwrap_or_default())));
                        return;
                    }
                };
                let Some(state) = JournalState::parse(&state) else {
                    bad = Some((id, format!("state {state:?}")));
                    return;
                };
                if state.unfinished() {
                    unfinished.push(journal.len());
                }
                journal.push(JournalRow {
                    id,
                    sha256,
                    direction,
                    state,
                    statements_applied: 0,
                    applied_sha256: None,
                    statement_hashes: None,
                    error: None,
                });
            },
        );
        match read {
            Ok(()) => {}
            Err(e) if is_missing_table(&e) => {
                if create {
                    self.create_journal()?;
                } else {
                    self.missing = Missing::Journal;
                }
            }
            Err(e) => return Err(query_err(format!("reading {}", self.tables.journal))(e)),
        }
        if let Some((id, detail)) = bad {
            return Err(StoreError::BadJournal { id, detail });
        }
        if !unfinished.is_empty() {
            self.read_progress(&mut journal, unfinished)?;
        }
        Ok(Recorded { history, journal })
    }

    /// Fills in the progress, checksums and error of the unfinished journal rows
    /// (`unfinished`: their indices in `journal`).
    fn read_progress(
        &mut self,
        journal: &mut [JournalRow],
        mut unfinished: Vec<usize>,
    ) -> Result<(), StoreError> {
        unfinished.sort_unstable_by(|&a, &b| journal[a].id.cmp(&journal[b].id));
        let states: Vec<String> = JournalState::UNFINISHED
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        let q = format!(
            "SELECT id, statements_applied, applied_sha256, statement_hashes, error FROM {} \
             WHERE CAST(state AS BINARY) IN ({})",
            self.tables.journal,
            states.join(", ")
        );
        type Raw = (String, u64, Option<String>, Option<String>, Option<String>);
        query_each(
            &mut self.conn,
            None,
            &q,
            |(id, applied, sha, hashes, error): Raw| {
                // A row that changed since the first read (a dry run holds no lock) is left
                // as that read saw it.
                let Ok(k) = unfinished.binary_search_by(|&i| journal[i].id.as_str().cmp(&id))
                else {
                    return;
                };
                let row = &mut journal[unfinished[k]];
                row.statements_applied = usize::try_from(applied).unwrap_or(usize::MAX);
                row.applied_sha256 = sha;
                row.statement_hashes = hashes;
                row.error = error;
            },
        )
        .map_err(query_err(format!("reading {}", self.tables.journal)))
    }
}

impl Database {
    /// Under the run lock, a `running` journal row was left by a run that died (SIGKILL,
    /// a lost host): its session may still be running the statement it sent. Ends such
    /// sessions (ours: same id and user) from the control connection and waits until
    /// they are gone, so what they committed is final before anything is planned.
    pub(super) fn end_orphans(&mut self, journal: &[JournalRow]) -> Result<(), StoreError> {
        if !journal.iter().any(|j| j.state == JournalState::Running) {
            return Ok(());
        }
        let q = format!(
            "SELECT note FROM {} WHERE CAST(state AS BINARY) = 'running'",
            self.tables.journal
        );
        let notes: Vec<Option<String>> = self
            .conn
            .query(q)
            .map_err(query_err(format!("reading {}", self.tables.journal)))?;
        for note in notes.into_iter().flatten() {
            let Some(id) = note
                .strip_prefix("session ")
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let ours: Option<Result<Option<u64>, _>> = self.shared.with(|c| {
                c.query_first(format!(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                     WHERE ID = {id} AND USER = SUBSTRING_INDEX(USER(), '@', 1)"
                ))
            });
            if matches!(ours, Some(Ok(Some(n))) if n > 0)
                && !self.shared.end_other_session(id, Duration::from_secs(60))
            {
                return Err(StoreError::BadJournal {
                    id: format!("session {id}"),
                    detail: "a dead run's session still runs its statement and could not be \
                             ended; end it (KILL) and run again"
                        .into(),
                });
            }
        }
        Ok(())
    }
}
