//! `resolve`: recording by hand that a migration is applied or rolled back.

use std::time::Duration;

use mysql::prelude::Queryable;

use super::sql::query_err;
use super::{Database, DbError};
use crate::migration::Migration;
use crate::plan::{Direction, JournalState};

impl Database {
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
