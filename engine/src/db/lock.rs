//! The migration lock: one `GET_LOCK` per schema and history table, so two runs never
//! apply migrations to the same tables at once.

use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::{Conn, Row};
use sha2::{Digest, Sha256};

use super::sql::query_err;
use super::{Database, StoreError};
use crate::migration::hex;
use crate::store::{HIDDEN_NO_PROCESS, LockTry, RunLockHolder};

impl Database {
    /// Opens the control connection and tries once to take the migration lock on it,
    /// waiting up to `wait` ([`crate::store::Store::try_lock`]). The lock lives there so
    /// that the migration session can be lost or killed without losing it
    /// ([`super::control`]). Who holds it comes back in the same statement.
    pub(super) fn try_get_lock(&mut self, wait: Duration) -> Result<LockTry, StoreError> {
        self.open_control()?;
        let sql = self.tables.try_lock_sql(wait);
        let got: Option<Option<u64>> = self
            .shared
            .with(|c| c.query_first(&sql))
            .transpose()
            .map_err(query_err("taking the migration lock"))?
            .flatten();
        Ok(match got {
            Some(None) => LockTry::Taken,
            Some(Some(id)) if id > 0 => LockTry::HeldBy(id),
            _ => LockTry::Free,
        })
    }

    /// What the server shows of session `connection`, asked on the control connection
    /// ([`crate::store::Store::lock_holder`]).
    pub(super) fn holder(&mut self, connection: u64) -> RunLockHolder {
        self.shared
            .with(|c| ask(c, connection))
            .unwrap_or_else(|| RunLockHolder::hidden(connection, "no control connection to ask on"))
    }

    /// Whether any session holds the migration lock right now ([`crate::store::Store::lock_held`]).
    pub(super) fn is_lock_used(&mut self) -> Result<bool, StoreError> {
        let holder: Option<Option<u64>> = self
            .conn
            .query_first(format!("SELECT IS_USED_LOCK('{}')", self.tables.lock))
            .map_err(query_err("checking the migration lock"))?;
        Ok(holder.flatten().is_some())
    }

    /// Releases the lock ([`crate::store::Store::release`]); errors are ignored (closing the
    /// connection releases it). Releasing rather than waiting for the close keeps a
    /// pooled or proxied connection (RDS Proxy) from holding it.
    pub(super) fn release_lock(&mut self) {
        let sql = self.tables.release_lock_sql();
        self.shared.with(|c| c.query_drop(&sql));
    }
}

/// Where a session is listed: MySQL's performance_schema first (its information_schema
/// table is deprecated, and takes a mutex over all sessions), else information_schema
/// (MariaDB, which adds `TIME_MS`; or MySQL with performance_schema off, which leaves
/// its table empty). Both list only the user's own sessions without PROCESS.
const PROCESS_LISTS: [&str; 2] = [
    "performance_schema.processlist",
    "information_schema.PROCESSLIST",
];

/// Finds session `connection` in the process list.
fn ask(conn: &mut Conn, connection: u64) -> RunLockHolder {
    let mut read = false;
    let mut failed = None;
    for table in PROCESS_LISTS {
        let found: Result<Option<Row>, _> =
            conn.query_first(format!("SELECT * FROM {table} WHERE ID = {connection}"));
        match found {
            Ok(Some(row)) => return listed(connection, &row),
            // Not ours to see, or (MySQL with performance_schema off) not listed there.
            Ok(None) => read = true,
            Err(e) => failed = Some(e),
        }
    }
    match failed.filter(|_| !read) {
        // Neither list could be read (a server error names no secret).
        Some(e) => RunLockHolder::hidden(
            connection,
            format!("the process list could not be read: {e}"),
        ),
        None => RunLockHolder::hidden(connection, HIDDEN_NO_PROCESS),
    }
}

/// A process-list row, read by column name (the two tables differ).
fn listed(connection: u64, row: &Row) -> RunLockHolder {
    let text = |name: &str| -> Option<String> {
        row.get_opt::<Option<String>, _>(name)
            .and_then(Result::ok)
            .flatten()
    };
    let number = |name: &str| -> Option<f64> {
        row.get_opt::<Option<f64>, _>(name)
            .and_then(Result::ok)
            .flatten()
    };
    let statement = text("INFO").map(|s| {
        if may_hold_password(&s) {
            WITHHELD.to_owned()
        } else {
            super::review::cut(&s)
        }
    });
    RunLockHolder {
        connection,
        user: text("USER"),
        host: text("HOST"),
        command: text("COMMAND"),
        state: text("STATE"),
        seconds: number("TIME").map(|t| t.max(0.0) as u64),
        ms: number("TIME_MS").map(|t| t.max(0.0).round() as u64),
        statement,
        hidden: None,
    }
}

/// What stands for a statement that is not shown.
const WITHHELD: &str = "(statement not shown: it may hold a password)";

/// A statement that may carry a password (`CREATE USER … IDENTIFIED BY`, `SET
/// PASSWORD`, `CHANGE REPLICATION SOURCE … PASSWORD`): never shown or logged.
fn may_hold_password(sql: &str) -> bool {
    let upper = sql.to_ascii_uppercase();
    upper.contains("IDENTIFIED") || upper.contains("PASSWORD")
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
