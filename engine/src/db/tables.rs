//! The history and journal tables: creating them, and reading both in one query each.

use mysql::prelude::Queryable;

use super::sql::{is_missing_table, query_err};
use super::{Database, DbError};
use crate::plan::{Direction, HistoryRow, JournalRow, JournalState};

impl Database {
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
    pub(super) fn read(
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
        let history: Vec<(String, Option<String>)> = match self.first_query(&history_q) {
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
}
