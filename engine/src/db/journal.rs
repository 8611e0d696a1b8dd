//! Recording adopted checksums (the SQL of every bookkeeping write is in
//! [`super::bookkeeping`]).

use super::sql::{exec_all, query_err};
use super::{Database, StoreError};
use crate::migration::Migration;

/// How many adopted migrations one write records.
pub(super) const ADOPT_CHUNK: usize = 500;

impl Database {
    /// Records the files' checksums for applied migrations that have none.
    pub(super) fn record_adopted(
        &mut self,
        migrations: &[Migration<'_>],
        which: &[usize],
    ) -> Result<(), StoreError> {
        for chunk in which.chunks(ADOPT_CHUNK) {
            exec_all(&mut self.conn, &self.tables.adopt_sql(migrations, chunk))
                .map_err(query_err("recording adopted checksums"))?;
        }
        Ok(())
    }
}
