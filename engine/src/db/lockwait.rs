//! Waiting for metadata locks: the session's `lock_wait_timeout`, retrying a DDL
//! statement that timed out waiting, and naming who blocks it when we give up.
//!
//! An `ALTER TABLE` that waits for a metadata lock behind a long transaction makes every
//! later query on the table queue behind it. A short `lock_wait_timeout` bounds that
//! queue: the server ends the wait itself (error 1205) and the statement is retried
//! after a pause that lets the queue drain. `GET_LOCK` (our migration lock) is a user
//! lock and not bound by it.

use std::time::Duration;

use super::Database;
use super::config::ConnConfig;
use super::sql::{ident, query_each};
use crate::migration::words::ddl_table;
use crate::store::{Blocker, LockWait};
use mysql::Conn;
use mysql::prelude::{FromRow, Queryable};

/// MySQL's `ER_LOCK_WAIT_TIMEOUT`.
pub(super) const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;

/// The statements that set a session up, sent in front of its first query: the DSN's
/// `SET NAMES` if any, then one `SET` of `lock_wait_timeout` (whole seconds, at least 1)
/// and the DSN's system variables, whose values [`ConnConfig`] has checked and quoted.
pub(super) fn session_sql(cfg: &ConnConfig, timeout: Duration) -> Vec<String> {
    let secs = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
    let mut set = format!(
        "SET SESSION lock_wait_timeout = {}",
        secs.clamp(1, 31_536_000)
    );
    for (name, value) in &cfg.session_vars {
        set.push_str(&format!(", {name} = {value}"));
    }
    cfg.set_names().into_iter().chain([set]).collect()
}

/// The pause before retry number `attempt + 1` of a statement that failed with `code`,
/// or `None` when it must not be retried: only a lock-wait timeout of a statement that
/// failed as a whole (`retryable`), at most `retries` times. Pauses double from 1 s.
pub(super) fn retry_delay(
    code: Option<u16>,
    retryable: bool,
    attempt: u32,
    retries: u32,
) -> Option<Duration> {
    (code == Some(ER_LOCK_WAIT_TIMEOUT) && retryable && attempt < retries)
        .then(|| Duration::from_secs(1 << attempt.min(5)))
}

/// Whether a statement may be sent again after its lock wait timed out: one DDL
/// statement on one table, of a kind that waits for its metadata lock before doing any
/// work (`ALTER TABLE`, `CREATE TABLE` without `SELECT`, `DROP`/`TRUNCATE`/`RENAME`
/// of one table, `CREATE`/`DROP INDEX`). `CALL`, data statements and anything not
/// recognised are never retried.
pub(super) fn retry_safe(sql: &str) -> bool {
    let Some((_, _)) = ddl_table(sql) else {
        return false;
    };
    let upper = sql.to_ascii_uppercase();
    let words: Vec<&str> = upper
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    let head = words.first().copied().unwrap_or_default();
    // `CREATE TABLE … SELECT` copies rows as it goes; a list of tables may be done in part.
    let copies = words.contains(&"SELECT");
    let several = matches!(head, "DROP" | "RENAME" | "TRUNCATE") && sql.contains(',');
    !copies && !several
}

impl Database {
    /// Runs `sql`, passing each row to `each` as it is decoded, with the session's
    /// pending `SET`s in front of it on the session's first query. Every run starts with
    /// such a query (the history read), so the setting costs no round trip of its own.
    pub(super) fn first_query_each<T: FromRow>(
        &mut self,
        sql: &str,
        each: impl FnMut(T),
    ) -> Result<(), mysql::Error> {
        // A multi-statement text stops at its first error, so a failed SET fails the
        // query: the run never goes on without its timeout.
        let init = self.session_init.take();
        query_each(&mut self.conn, init.as_deref(), sql, each)
    }
}

/// A blocker row: id, user, seconds, lock.
type Row = (u64, Option<String>, Option<i64>, Option<String>);

impl Database {
    /// Finds who blocks a statement that waited `waited` for a lock on `table`, from a
    /// second, short-lived connection (ours is the one that waited). Never fails: what
    /// cannot be found is said in [`LockWait::source`].
    pub(super) fn lock_wait_report(&self, sql: &str, attempts: u32, waited: Duration) -> LockWait {
        let table =
            ddl_table(sql).map(|(schema, t)| (schema.or_else(|| self.default_db.clone()), t));
        let mut report = LockWait {
            attempts,
            timeout_secs: self.lock_wait.timeout.as_secs().max(1),
            table: table.as_ref().map(|(s, t)| match s {
                Some(s) => format!("{}.{}", ident(s), ident(t)),
                None => ident(t),
            }),
            ..LockWait::default()
        };
        let me = u64::from(self.conn.connection_id());
        // Asked on the run's control connection: at a connection limit a new one could
        // not be had.
        match self
            .shared
            .with(|conn| ask(conn, me, table, waited, &mut report))
        {
            Some(()) => {}
            None => report.source = "no control connection to ask on".into(),
        }
        report
    }
}

/// Fills in who blocks session `me` on `table`.
fn ask(
    conn: &mut Conn,
    me: u64,
    table: Option<(Option<String>, String)>,
    waited: Duration,
    report: &mut LockWait,
) {
    let mut tried = Vec::new();
    if let Some((Some(schema), t)) = &table {
        // Each view with the tables a user needs SELECT on to read it.
        let by_table: [(&str, &str, &str); 2] = [
            (
                "information_schema.METADATA_LOCK_INFO",
                "",
                "SELECT m.THREAD_ID, p.USER, \
                 IFNULL(TIMESTAMPDIFF(SECOND, x.trx_started, NOW()), p.TIME), m.LOCK_MODE \
                 FROM information_schema.METADATA_LOCK_INFO m \
                 LEFT JOIN information_schema.PROCESSLIST p ON p.ID = m.THREAD_ID \
                 LEFT JOIN information_schema.INNODB_TRX x ON x.trx_mysql_thread_id = m.THREAD_ID \
                 WHERE m.TABLE_SCHEMA = ? AND m.TABLE_NAME = ? AND m.THREAD_ID <> ? \
                 ORDER BY m.THREAD_ID LIMIT 20",
            ),
            (
                "performance_schema.metadata_locks",
                "performance_schema.metadata_locks and performance_schema.threads",
                "SELECT t.PROCESSLIST_ID, t.PROCESSLIST_USER, \
                 IFNULL(TIMESTAMPDIFF(SECOND, x.trx_started, NOW()), t.PROCESSLIST_TIME), m.LOCK_TYPE \
                 FROM performance_schema.metadata_locks m \
                 JOIN performance_schema.threads t ON t.THREAD_ID = m.OWNER_THREAD_ID \
                 LEFT JOIN information_schema.INNODB_TRX x ON x.trx_mysql_thread_id = t.PROCESSLIST_ID \
                 WHERE m.OBJECT_TYPE = 'TABLE' AND m.OBJECT_SCHEMA = ? AND m.OBJECT_NAME = ? \
                 AND m.LOCK_STATUS = 'GRANTED' AND t.PROCESSLIST_ID <> ? \
                 ORDER BY t.PROCESSLIST_ID LIMIT 20",
            ),
        ];
        for (name, needs, q) in by_table {
            match conn.exec::<Row, _, _>(q, (schema.as_str(), t.as_str(), me)) {
                Ok(rows) if !rows.is_empty() => {
                    report.blockers = rows.into_iter().map(blocker).collect();
                    report.source = name.into();
                    return;
                }
                // MariaDB keeps the views but leaves them empty while the instrument is off.
                Ok(_) if !needs.is_empty() && performance_schema_off(conn) => tried.push(format!(
                    "{name}: performance_schema is OFF (a server setting that needs a restart)"
                )),
                Ok(_) => tried.push(format!("{name}: none")),
                Err(e) => tried.push(format!("{name}: {}", unreadable(&e, needs))),
            }
        }
    }
    // Without lock tables: sessions whose transaction is older than the wait.
    let name = "information_schema.INNODB_TRX, transactions older than the wait";
    match conn.exec::<Row, _, _>(
        "SELECT p.ID, p.USER, TIMESTAMPDIFF(SECOND, x.trx_started, NOW()), NULL \
         FROM information_schema.INNODB_TRX x \
         JOIN information_schema.PROCESSLIST p ON p.ID = x.trx_mysql_thread_id \
         WHERE p.ID <> ? AND x.trx_started <= NOW() - INTERVAL ? SECOND \
         ORDER BY x.trx_started LIMIT 20",
        (me, waited.as_secs()),
    ) {
        Ok(rows) => {
            report.blockers = rows.into_iter().map(blocker).collect();
            tried.push(name.into());
        }
        Err(e) => tried.push(format!("{name}: {}", unreadable(&e, ""))),
    }
    report.source = tried.join("; ");
}

/// Whether the server's performance_schema is switched off (MariaDB's default).
fn performance_schema_off(conn: &mut Conn) -> bool {
    matches!(
        conn.query_first::<i64, _>("SELECT @@performance_schema"),
        Ok(Some(0))
    )
}

/// Why a view could not be read, naming the privilege that is missing: a user without
/// it sees no blockers, and only the grant's name tells the operator what to ask for.
/// `needs`: the tables the view reads, for a refused SELECT.
fn unreadable(e: &mysql::Error, needs: &str) -> String {
    match e {
        // ER_TABLEACCESS_DENIED_ERROR, ER_COLUMNACCESS_DENIED_ERROR, ER_DBACCESS_DENIED_ERROR
        mysql::Error::MySqlError(m)
            if matches!(m.code, 1142 | 1143 | 1044) && !needs.is_empty() =>
        {
            format!("needs SELECT on {needs} (MySQL error {})", m.code)
        }
        // ER_SPECIFIC_ACCESS_DENIED_ERROR: INNODB_TRX (and a full PROCESSLIST) need PROCESS.
        mysql::Error::MySqlError(m) if m.code == 1227 => format!(
            "needs the PROCESS privilege to see other sessions (MySQL error {})",
            m.code
        ),
        // ER_UNKNOWN_TABLE, ER_NO_SUCH_TABLE: MySQL has no METADATA_LOCK_INFO; MariaDB has
        // it once `INSTALL SONAME 'metadata_lock_info'` is run.
        mysql::Error::MySqlError(m) if matches!(m.code, 1109 | 1146) => "not on this server".into(),
        mysql::Error::MySqlError(m) => format!("not available (MySQL error {})", m.code),
        _ => "not available (the query failed)".into(),
    }
}

fn blocker((id, user, seconds, lock): Row) -> Blocker {
    Blocker {
        id,
        user,
        seconds,
        lock,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_single_table_ddl_is_sent_again() {
        for yes in [
            "ALTER TABLE t ADD COLUMN c int, ADD INDEX (c)",
            "CREATE INDEX i ON t (c)",
            "DROP TABLE IF EXISTS t",
            "CREATE TABLE t (id int)",
            "RENAME TABLE a TO b",
        ] {
            assert!(retry_safe(yes), "{yes}");
        }
        for no in [
            "CALL p()",
            "INSERT INTO t VALUES (1)",
            "CREATE TABLE t AS SELECT * FROM u",
            "DROP TABLE a, b",
            "RENAME TABLE a TO b, c TO d",
            "CREATE PROCEDURE p() BEGIN END",
        ] {
            assert!(!retry_safe(no), "{no}");
        }
    }

    #[test]
    fn only_lock_wait_timeouts_of_whole_statements_are_retried() {
        let d = |code, retryable, attempt| retry_delay(code, retryable, attempt, 3);
        assert_eq!(d(Some(1205), true, 0), Some(Duration::from_secs(1)));
        assert_eq!(d(Some(1205), true, 1), Some(Duration::from_secs(2)));
        assert_eq!(d(Some(1205), true, 2), Some(Duration::from_secs(4)));
        assert_eq!(d(Some(1205), true, 3), None, "retries used up");
        assert_eq!(d(Some(1205), false, 0), None, "not a whole statement");
        assert_eq!(
            d(Some(1213), true, 0),
            None,
            "a deadlock is not a lock wait"
        );
        assert_eq!(d(None, true, 0), None);
        assert_eq!(retry_delay(Some(1205), true, 0, 0), None, "retries off");
        assert_eq!(
            retry_delay(Some(1205), true, 40, 100),
            Some(Duration::from_secs(32)),
            "pauses are capped"
        );
    }

    #[test]
    fn session_timeouts_are_whole_seconds() {
        let plain = ConnConfig::default();
        assert_eq!(
            session_sql(&plain, Duration::from_secs(10)).join("; "),
            "SET SESSION lock_wait_timeout = 10"
        );
        assert_eq!(
            session_sql(&plain, Duration::from_millis(1500)).join("; "),
            "SET SESSION lock_wait_timeout = 2"
        );
        assert_eq!(
            session_sql(&plain, Duration::ZERO).join("; "),
            "SET SESSION lock_wait_timeout = 1"
        );
    }

    #[test]
    fn dsn_session_settings_share_the_timeouts_set() {
        let cfg = ConnConfig::parse(
            "u@tcp(h:3306)/d?collation=utf8mb4_bin&time_zone=%27%2B00:00%27&sql_mode=TRADITIONAL",
        )
        .unwrap();
        assert_eq!(
            session_sql(&cfg, Duration::from_secs(3)).join("; "),
            "SET NAMES 'utf8mb4' COLLATE 'utf8mb4_bin'; SET SESSION lock_wait_timeout = 3, \
             time_zone = '+00:00', sql_mode = 'TRADITIONAL'"
        );
        let cfg = ConnConfig::parse("u@tcp(h:3306)/d?charset=latin1").unwrap();
        assert_eq!(
            session_sql(&cfg, Duration::from_secs(3)).join("; "),
            "SET NAMES 'latin1'; SET SESSION lock_wait_timeout = 3"
        );
    }

    #[test]
    fn a_refused_view_names_the_privilege_it_needs() {
        let err = |code| {
            mysql::Error::MySqlError(mysql::MySqlError {
                state: "42000".into(),
                message: "denied".into(),
                code,
            })
        };
        let ps = "performance_schema.metadata_locks and performance_schema.threads";
        assert_eq!(
            unreadable(&err(1142), ps),
            "needs SELECT on performance_schema.metadata_locks and performance_schema.threads \
             (MySQL error 1142)"
        );
        assert_eq!(
            unreadable(&err(1227), ""),
            "needs the PROCESS privilege to see other sessions (MySQL error 1227)"
        );
        assert_eq!(unreadable(&err(1109), ""), "not on this server");
        assert_eq!(
            unreadable(&err(1142), ""),
            "not available (MySQL error 1142)"
        );
        assert_eq!(
            unreadable(&err(2013), ps),
            "not available (MySQL error 2013)"
        );
    }

    #[test]
    fn the_message_names_table_attempts_and_blockers() {
        let mut w = LockWait {
            attempts: 3,
            timeout_secs: 1,
            table: Some("`d`.`t`".into()),
            blockers: vec![Blocker {
                id: 42,
                user: Some("app".into()),
                seconds: Some(15),
                lock: Some("MDL_SHARED_READ".into()),
            }],
            source: "information_schema.METADATA_LOCK_INFO".into(),
        };
        assert_eq!(
            w.to_string(),
            "gave up waiting for a metadata lock on `d`.`t` after 3 attempt(s) of 1s each \
             (lock_wait_timeout); blocked by session 42 (user app, holds MDL_SHARED_READ, \
             transaction open 15s) (from information_schema.METADATA_LOCK_INFO)"
        );
        w.blockers.clear();
        w.table = None;
        w.source = "x: none".into();
        assert!(
            w.to_string()
                .ends_with("on its table after 3 attempt(s) of 1s each (lock_wait_timeout); no blocking session found (x: none)"),
            "{w}"
        );
    }
}
