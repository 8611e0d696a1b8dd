//! Writing bookkeeping rows: the journal row of a migration (applied, running, failed,
//! adopted) and its history row, as SQL text that can share a round trip.

use mysql::Value;
use mysql::prelude::Queryable;

use super::sql::{hex_only, literal, query_err};
use super::{Database, StoreError};
use crate::migration::Migration;
use crate::plan::{Direction, JournalState, StatementHasher};

impl Database {
    /// Records the files' checksums for applied migrations that have none.
    pub(super) fn record_adopted(
        &mut self,
        migrations: &[Migration<'_>],
        which: &[usize],
    ) -> Result<(), StoreError> {
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
                self.tables.journal,
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
            self.tables.journal,
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

    pub(super) fn history_sql(&self, m: &Migration<'_>, direction: Direction) -> String {
        match direction {
            Direction::Up => format!(
                "INSERT INTO {} (id, applied_at) VALUES ({}, UTC_TIMESTAMP())",
                self.tables.history,
                literal(m.id)
            ),
            Direction::Down => format!(
                "DELETE FROM {} WHERE id = {}",
                self.tables.history,
                literal(m.id)
            ),
        }
    }
}
