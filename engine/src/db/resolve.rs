//! `resolve`: writing what the planner decided ([`crate::plan::resolution`]): the history
//! row inserted or deleted, and the journal row, in one transaction.

use mysql::prelude::Queryable;

use super::sql::query_err;
use super::{Database, StoreError};
use crate::plan::Resolved;

impl Database {
    /// Writes `r` ([`crate::store::Store::record_resolution`]).
    pub(super) fn write_resolution(&mut self, r: &Resolved) -> Result<(), StoreError> {
        let id = r.id.as_str();
        let (history, journal) = (&self.tables.history, &self.tables.journal);
        let conn = &mut self.conn;
        let mut q = || -> Result<(), mysql::Error> {
            conn.query_drop("START TRANSACTION")?;
            if r.keep_history {
                // A verdict on a statement in doubt: the migration stays unfinished.
            } else if r.applied {
                conn.exec_drop(
                    format!(
                        "INSERT IGNORE INTO {history} (id, applied_at) VALUES (?, UTC_TIMESTAMP())"
                    ),
                    (id,),
                )?;
            } else {
                conn.exec_drop(format!("DELETE FROM {history} WHERE id = ?"), (id,))?;
            }
            conn.exec_drop(
                format!(
                    "INSERT INTO {journal} (id, sha256, direction, state, statements_total, statements_applied, \
                     applied_sha256, statement_hashes, error, note, updated_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, UTC_TIMESTAMP(6)) \
                     ON DUPLICATE KEY UPDATE sha256 = VALUES(sha256), direction = VALUES(direction), \
                     state = VALUES(state), statements_total = VALUES(statements_total), \
                     statements_applied = VALUES(statements_applied), applied_sha256 = VALUES(applied_sha256), \
                     statement_hashes = VALUES(statement_hashes), error = NULL, note = VALUES(note), updated_at = VALUES(updated_at)"
                ),
                (
                    id,
                    r.sha256.as_deref(),
                    r.direction.as_str(),
                    r.state.as_str(),
                    r.statements_total as u64,
                    r.statements_applied as u64,
                    r.hashes.as_ref().map(|h| h.0.as_str()),
                    r.hashes.as_ref().map(|h| h.1.as_str()),
                    r.note.as_str(),
                ),
            )?;
            conn.query_drop("COMMIT")
        };
        q().map_err(query_err(format!("resolving {id}")))
    }
}
