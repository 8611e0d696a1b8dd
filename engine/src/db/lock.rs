//! The migration lock: one `GET_LOCK` per schema and history table, so two runs never
//! apply migrations to the same tables at once.

use std::time::Duration;

use mysql::prelude::Queryable;
use sha2::{Digest, Sha256};

use super::sql::query_err;
use super::{Database, StoreError};
use crate::migration::hex;

impl Database {
    /// Opens the control connection and takes the migration lock on it, waiting up to
    /// `timeout` ([`crate::store::Store::acquire`]). The lock lives there so that the
    /// migration session can be lost or killed without losing it ([`super::control`]).
    pub(super) fn get_lock(&mut self, timeout: Duration) -> Result<(), StoreError> {
        self.open_control()?;
        let sql = format!("SELECT {}", self.tables.get_lock_expr(timeout));
        let got: Option<Option<i64>> = self
            .shared
            .with(|c| c.query_first(&sql))
            .transpose()
            .map_err(query_err("taking the migration lock"))?
            .flatten();
        match got.flatten() {
            Some(1) => Ok(()),
            _ => Err(StoreError::LockTimeout {
                name: self.tables.lock.clone(),
                timeout,
            }),
        }
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
