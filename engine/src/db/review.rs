//! `plan --review` against the real server: each pending ALTER is run on an empty
//! probe copy of its table (`CREATE TABLE _lm_probe_… LIKE t`), first with
//! `ALGORITHM=INSTANT`, then in place without a lock, and so on down to the statement as
//! written; the first the server accepts is what the real change would get. Beside it:
//! the table's size from information_schema, who holds metadata locks on it now, and
//! transactions open too long.
//!
//! Nothing but probes is ever changed. Probes live in the table's schema under a reserved
//! prefix ([`PROBE_PREFIX`]); the caller holds the run lock, so a probe found at the
//! start is a leftover of a killed review and is dropped. Every probe this review made is
//! dropped before it returns, whatever failed; a statement that would reach another
//! table is never run (see [`crate::review::target`]).

use std::collections::HashMap;

use mysql::Conn;
use mysql::prelude::Queryable;

use super::Database;
use super::sql::{ident, words};
use crate::lint::SectionName;
use crate::review::target::{ATTEMPTS, Attempt, Probe, Target};
use crate::review::{
    Algorithm, Blocker, NEW_TABLE, Observed, PROBE_PREFIX, Question, ReviewEntry, ReviewSettings,
    Unavailable, Verdict,
};
use crate::store::StoreError;

/// The server's "this ALTER cannot be done that way" (`ER_ALTER_OPERATION_NOT_SUPPORTED`
/// and its `_REASON` form): the next, costlier way is asked.
const NOT_SUPPORTED: [u16; 2] = [1845, 1846];
/// A syntax error on an added clause (a server that does not know it): asked next way.
const PARSE_ERROR: u16 = 1064;
/// Privilege errors: the review cannot make its probes.
const DENIED: [u16; 3] = [1044, 1142, 1227];

/// A table's size, as information_schema has it.
#[derive(Clone, Copy, Default)]
struct Size {
    rows: u64,
    data: u64,
    index: u64,
    versions: Option<u64>,
}

/// The probe made for one table, and what became of it.
struct ProbeTable {
    /// Its quoted, qualified name.
    quoted: String,
    /// Its bare name.
    name: String,
    /// A statement on it was refused or not probed: later ones see an older table.
    behind: bool,
}

/// Where metadata locks can be read on this server.
#[derive(Clone, Copy, PartialEq)]
enum LockView {
    /// MySQL's `performance_schema.metadata_locks`.
    PerformanceSchema,
    /// MariaDB's `metadata_lock_info` plugin.
    MetadataLockInfo,
    /// Neither.
    None,
}

impl Database {
    /// See [`crate::store::Store::review`].
    pub(super) fn review_live(
        &mut self,
        questions: &[Question],
        settings: &ReviewSettings,
    ) -> Result<Observed, StoreError> {
        let me = u64::from(self.conn.connection_id());
        let server: String = self
            .conn
            .query_first("SELECT VERSION()")
            .map_err(denied_or("reading the server's version"))?
            .unwrap_or_default();
        check_version(&server)?;
        let mut observed = Observed {
            server,
            deadline_secs: self
                .deadline
                .as_ref()
                .map(|a| a.deadline.to_stop().as_secs_f64())
                .or(settings.deadline_secs),
            copy_rate_bytes_per_sec: settings.copy_rate_bytes_per_sec,
            ..Observed::default()
        };
        // Probes are ours alone: replicas need not make and drop them. A user without the
        // privilege to skip the binary log still gets a review.
        let _ = self.conn.query_drop("SET SESSION sql_log_bin = 0");
        observed.leftovers_dropped = drop_leftovers(&mut self.conn)?;
        observed.long_transactions =
            long_transactions(&mut self.conn, me, settings.long_transaction_secs).unwrap_or_else(
                |e| {
                    observed.unavailable.push(Unavailable {
                        what: "long transactions".into(),
                        reason: format!(
                            "information_schema.INNODB_TRX cannot be read (it needs the \
                             PROCESS privilege): {e}"
                        ),
                    });
                    Vec::new()
                },
            );
        let (view, why_not) = lock_view(&mut self.conn);
        if let Some(reason) = why_not {
            observed.unavailable.push(Unavailable {
                what: "blockers".into(),
                reason,
            });
        }
        let mut probes: HashMap<(String, String), ProbeTable> = HashMap::new();
        let mut asked = Asker {
            conn: &mut self.conn,
            me,
            view,
            settings,
            default_db: self.default_db.clone(),
            stop: self.deadline.as_ref().map(|a| a.deadline.stop_starting),
            sizes: HashMap::new(),
            blockers: HashMap::new(),
            rebuild_view: None,
            unavailable: &mut observed.unavailable,
            probes: &mut probes,
            n: 0,
        };
        let result = questions
            .iter()
            .filter_map(|q| asked.ask(q).transpose())
            .collect::<Result<Vec<_>, StoreError>>();
        // Always, also when asking failed: no probe outlives the review.
        let dropped = drop_probes(&mut self.conn, probes.into_values());
        observed.entries = result?;
        dropped?;
        Ok(observed)
    }
}

/// Refuses servers that know no `ALGORITHM=` clause (before MySQL 5.6 / MariaDB 10.0).
fn check_version(server: &str) -> Result<(), StoreError> {
    let mut parts = server
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse::<u32>().ok());
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (major, minor) < (5, 6) {
        return Err(StoreError::ReviewUnavailable {
            reason: format!(
                "server {server} has no ALGORITHM clause (MySQL 5.6 or MariaDB 10.0 and \
                 later have it)"
            ),
        });
    }
    Ok(())
}

/// A driver error as a store error; privilege errors say what the review needs.
fn denied_or(what: &'static str) -> impl Fn(mysql::Error) -> StoreError {
    move |e| match &e {
        mysql::Error::MySqlError(me) if DENIED.contains(&me.code) => {
            StoreError::ReviewUnavailable {
                reason: format!(
                    "{what}: {}; the review makes empty probe tables beside each altered \
                     table, so it needs CREATE, ALTER, INDEX and DROP on that schema",
                    words(&e)
                ),
            }
        }
        _ => StoreError::Query {
            what: what.into(),
            source: Box::new(super::sql::InWords(e)),
        },
    }
}

/// Drops every probe left by an earlier, killed review, and names them.
fn drop_leftovers(conn: &mut Conn) -> Result<Vec<String>, StoreError> {
    let like = format!("{}%", PROBE_PREFIX.replace('_', "\\_"));
    let found: Vec<(String, String)> = conn
        .exec(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_NAME LIKE ? ORDER BY 1, 2",
            (like,),
        )
        .map_err(denied_or("looking for leftover probe tables"))?;
    let mut dropped = Vec::new();
    for (schema, table) in found {
        let name = format!("{}.{}", ident(&schema), ident(&table));
        conn.query_drop(format!("DROP TABLE IF EXISTS {name}"))
            .map_err(denied_or("dropping a leftover probe table"))?;
        dropped.push(format!("{schema}.{table}"));
    }
    Ok(dropped)
}

/// Drops this review's probes; the first failure is returned after trying them all.
fn drop_probes(
    conn: &mut Conn,
    probes: impl Iterator<Item = ProbeTable>,
) -> Result<(), StoreError> {
    let mut first = Ok(());
    for p in probes {
        if let Err(e) = conn.query_drop(format!("DROP TABLE IF EXISTS {}", p.quoted))
            && first.is_ok()
        {
            first = Err(denied_or("dropping a probe table")(e));
        }
    }
    first
}

/// Transactions open longer than `secs`, oldest first.
fn long_transactions(conn: &mut Conn, me: u64, secs: u64) -> Result<Vec<Blocker>, String> {
    type Row = (u64, String, String, Option<i64>, String);
    conn.exec::<Row, _, _>(
        "SELECT p.ID, IFNULL(p.USER, ''), IFNULL(p.HOST, ''), \
         TIMESTAMPDIFF(SECOND, x.trx_started, NOW()), \
         IFNULL(x.trx_query, IFNULL(p.INFO, '')) \
         FROM information_schema.INNODB_TRX x \
         JOIN information_schema.PROCESSLIST p ON p.ID = x.trx_mysql_thread_id \
         WHERE p.ID <> ? AND x.trx_started <= NOW() - INTERVAL ? SECOND \
         ORDER BY x.trx_started LIMIT 50",
        (me, secs),
    )
    .map(|rows| {
        rows.into_iter()
            .map(|(connection, user, host, age, statement)| Blocker {
                connection,
                user,
                host,
                age_secs: age.unwrap_or(0).max(0) as u64,
                statement: cut(&statement),
                lock: String::new(),
            })
            .collect()
    })
    .map_err(|e| words(&e))
}

/// Which metadata-lock view this server lets us read, and if none, why.
fn lock_view(conn: &mut Conn) -> (LockView, Option<String>) {
    // MariaDB's plugin first: MariaDB also has performance_schema.metadata_locks, but
    // with performance_schema off (its default) that table is silently empty.
    let mli = conn.query_drop("SELECT 1 FROM information_schema.METADATA_LOCK_INFO LIMIT 1");
    if mli.is_ok() {
        return (LockView::MetadataLockInfo, None);
    }
    let ps = conn
        .query_first::<i64, _>("SELECT @@performance_schema")
        .and_then(|on| match on {
            Some(1) => conn.query_drop("SELECT 1 FROM performance_schema.metadata_locks LIMIT 1"),
            _ => Err(mysql::Error::MySqlError(mysql::MySqlError {
                state: String::new(),
                code: 0,
                message: "performance_schema is off".into(),
            })),
        });
    if ps.is_ok() {
        return (LockView::PerformanceSchema, None);
    }
    let why = |r: Result<(), mysql::Error>| r.err().map(|e| words(&e)).unwrap_or_default();
    (
        LockView::None,
        Some(format!(
            "who holds metadata locks cannot be read: performance_schema.metadata_locks \
             ({}; MySQL: grant SELECT ON performance_schema.* and keep the \
             wait/lock/metadata/sql/mdl instrument on), information_schema.METADATA_LOCK_INFO \
             ({}; MariaDB: INSTALL SONAME 'metadata_lock_info'); long transactions are \
             listed instead",
            why(ps),
            why(mli)
        )),
    )
}

/// A statement or query text cut to one short line for reports.
pub(super) fn cut(s: &str) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match one.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &one[..i]),
        None => one,
    }
}

/// The state of one review while it asks.
struct Asker<'a> {
    conn: &'a mut Conn,
    me: u64,
    view: LockView,
    settings: &'a ReviewSettings,
    default_db: Option<String>,
    stop: Option<std::time::Instant>,
    sizes: HashMap<(String, String), Option<Size>>,
    blockers: HashMap<(String, String), Vec<Blocker>>,
    /// The information_schema table that has InnoDB table ids, once found (`""`: none).
    rebuild_view: Option<&'static str>,
    unavailable: &'a mut Vec<Unavailable>,
    probes: &'a mut HashMap<(String, String), ProbeTable>,
    n: u32,
}

impl Asker<'_> {
    /// The entry for `q`, or `None` when it is not an ALTER or index statement.
    fn ask(&mut self, q: &Question) -> Result<Option<ReviewEntry>, StoreError> {
        let (schema, table, probe, not_probed) = match &q.target {
            Target::Other => return Ok(None),
            Target::Unprobeable { table, reason } => {
                let Some((schema, table)) = table.clone() else {
                    return Ok(Some(self.entry(q, None, format!("not probed: {reason}"))));
                };
                (schema, table, None, Some(format!("not probed: {reason}")))
            }
            Target::Probe(p) => (p.schema.clone(), p.table.clone(), Some(p), None),
        };
        let Some(schema) = schema.or_else(|| self.default_db.clone()) else {
            return Ok(Some(self.entry(
                q,
                None,
                "not probed: no schema selected".into(),
            )));
        };
        let key = (schema, table);
        let mut entry = self.entry(q, Some(&key), String::new());
        entry.reasons.clear();
        let Some(size) = self.size(&key)? else {
            entry.reasons.push(format!(
                "{NEW_TABLE} (a pending migration creates it): nothing to copy"
            ));
            return Ok(Some(entry));
        };
        entry.rows = size.rows;
        entry.data_bytes = size.data;
        entry.index_bytes = size.index;
        entry.row_versions = size.versions;
        entry.blockers = self.blockers(&key)?;
        let probe = match (probe, not_probed) {
            (Some(p), _) => p,
            (None, reason) => {
                entry.reasons.extend(reason);
                if let Some(t) = self.probes.get_mut(&key) {
                    t.behind = true;
                }
                return Ok(Some(entry));
            }
        };
        if self.stop.is_some_and(|s| std::time::Instant::now() >= s) {
            entry
                .reasons
                .push("not probed: the run's deadline came first".into());
            return Ok(Some(entry));
        }
        self.probe(probe, &key, size, &mut entry)?;
        Ok(Some(entry))
    }

    /// A blank entry for `q` on `key`'s table, with one reason.
    fn entry(&self, q: &Question, key: Option<&(String, String)>, reason: String) -> ReviewEntry {
        ReviewEntry {
            migration: q.migration.clone(),
            section: SectionName::Up,
            statement: q.statement,
            table: key.map(|(s, t)| format!("{s}.{t}")).unwrap_or_default(),
            algorithm: Algorithm::NotProbed,
            lock: String::new(),
            rebuilds: None,
            rows: 0,
            data_bytes: 0,
            index_bytes: 0,
            row_versions: None,
            estimate_secs: 0.0,
            blockers: Vec::new(),
            verdict: Verdict::Safe,
            reasons: vec![reason],
        }
    }

    /// Runs the attempts on `key`'s probe (made on first use) and fills in what the
    /// server accepted.
    fn probe(
        &mut self,
        probe: &Probe,
        key: &(String, String),
        size: Size,
        entry: &mut ReviewEntry,
    ) -> Result<(), StoreError> {
        if !self.probes.contains_key(key) {
            self.n += 1;
            let name = format!("{PROBE_PREFIX}{}_{}", self.me, self.n);
            let quoted = format!("{}.{}", ident(&key.0), ident(&name));
            let real = format!("{}.{}", ident(&key.0), ident(&key.1));
            // Registered before it exists: a failure after the CREATE still drops it.
            self.probes.insert(
                key.clone(),
                ProbeTable {
                    quoted: quoted.clone(),
                    name,
                    behind: false,
                },
            );
            self.conn
                .query_drop(format!("CREATE TABLE {quoted} LIKE {real}"))
                .map_err(denied_or("creating a probe table"))?;
        }
        let (name, behind) = {
            let p = &self.probes[key];
            (p.name.clone(), p.behind)
        };
        if behind {
            entry.reasons.push(
                "an earlier statement on this table was not run on the probe: the answer \
                 is for the table without it"
                    .into(),
            );
        }
        let before = self.table_id(&key.0, &name);
        let attempts: &[Attempt] = if probe.explicit {
            &ATTEMPTS[ATTEMPTS.len() - 1..]
        } else if probe.adds_index {
            &ATTEMPTS[1..]
        } else {
            &ATTEMPTS
        };
        let mut refusals = Vec::new();
        let mut accepted = None;
        for a in attempts {
            match self.conn.query_drop(probe.sql(&name, *a)) {
                Ok(()) => {
                    accepted = Some(*a);
                    break;
                }
                Err(mysql::Error::MySqlError(me))
                    if NOT_SUPPORTED.contains(&me.code)
                        || (me.code == PARSE_ERROR && a.algorithm.is_some()) =>
                {
                    refusals.push(format!("{}: {}", label(*a), me.message));
                }
                Err(e @ mysql::Error::MySqlError(_)) => {
                    refusals.push(format!("the server refuses it: {}", words(&e)));
                    break;
                }
                Err(e) => return Err(denied_or("asking about a change on a probe table")(e)),
            }
        }
        let Some(a) = accepted else {
            if let Some(p) = self.probes.get_mut(key) {
                p.behind = true;
            }
            entry.reasons.extend(refusals);
            return Ok(());
        };
        let (algorithm, lock) = match (a.algorithm, a.lock) {
            (Some("INSTANT"), _) => (Algorithm::Instant, "NONE"),
            (Some("INPLACE"), Some(l)) => (Algorithm::Inplace, l),
            (Some(_), Some(l)) => (Algorithm::Copy, l),
            _ => explicit_choice(&probe.sql(&name, a)),
        };
        entry.algorithm = algorithm;
        entry.lock = lock.into();
        entry.rebuilds = match algorithm {
            Algorithm::Instant => Some(false),
            Algorithm::Copy => Some(true),
            _ => match (before, self.table_id(&key.0, &name)) {
                (Some(b), Some(after)) => Some(b != after),
                _ => None,
            },
        };
        let rate = self.settings.copy_rate_bytes_per_sec.max(1.0);
        entry.estimate_secs = match algorithm {
            Algorithm::Instant | Algorithm::NotProbed => 0.0,
            // An index build reads the rows and writes the index; a rebuild or a copy
            // writes everything again.
            Algorithm::Inplace if entry.rebuilds == Some(false) => size.data as f64 / rate,
            _ => (size.data + size.index) as f64 / rate,
        };
        // Keep only the refusals that say why a cheaper way was not taken.
        entry.reasons.extend(refusals);
        Ok(())
    }

    /// The table's size, or `None` when it does not exist (yet).
    fn size(&mut self, key: &(String, String)) -> Result<Option<Size>, StoreError> {
        if let Some(s) = self.sizes.get(key) {
            return Ok(*s);
        }
        let row: Option<(Option<u64>, Option<u64>, Option<u64>)> = self
            .conn
            .exec_first(
                "SELECT TABLE_ROWS, DATA_LENGTH, INDEX_LENGTH FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                (&key.0, &key.1),
            )
            .map_err(denied_or("reading the table's size"))?;
        let size = row.map(|(rows, data, index)| Size {
            rows: rows.unwrap_or(0),
            data: data.unwrap_or(0),
            index: index.unwrap_or(0),
            versions: None,
        });
        let size = size.map(|mut s| {
            // MySQL 8.0.29+ only; MariaDB has no such budget.
            s.versions = self
                .conn
                .exec_first::<u64, _, _>(
                    "SELECT TOTAL_ROW_VERSIONS FROM information_schema.INNODB_TABLES \
                     WHERE NAME = ?",
                    (format!("{}/{}", key.0, key.1),),
                )
                .ok()
                .flatten();
            s
        });
        self.sizes.insert(key.clone(), size);
        Ok(size)
    }

    /// InnoDB's id of `schema.name`: a rebuild gives the table a new one.
    fn table_id(&mut self, schema: &str, name: &str) -> Option<u64> {
        let candidates: &[&'static str] = match self.rebuild_view {
            Some("") => return None,
            Some(v) => &[v][..],
            None => &[
                "information_schema.INNODB_TABLES",
                "information_schema.INNODB_SYS_TABLES",
            ],
        };
        let candidates: Vec<&'static str> = candidates.to_vec();
        for view in candidates {
            let q = format!("SELECT TABLE_ID FROM {view} WHERE NAME = ?");
            match self
                .conn
                .exec_first::<u64, _, _>(q, (format!("{schema}/{name}"),))
            {
                Ok(id) => {
                    self.rebuild_view = Some(view);
                    return id;
                }
                Err(_) => continue,
            }
        }
        self.rebuild_view = Some("");
        self.unavailable.push(Unavailable {
            what: "rebuilds".into(),
            reason: "whether an in-place change rebuilds the table cannot be seen: \
                     information_schema.INNODB_TABLES / INNODB_SYS_TABLES need the PROCESS \
                     privilege; such changes are assumed to rebuild"
                .into(),
        });
        None
    }

    /// Sessions holding or waiting for metadata locks on `key`'s table now.
    fn blockers(&mut self, key: &(String, String)) -> Result<Vec<Blocker>, StoreError> {
        if let Some(b) = self.blockers.get(key) {
            return Ok(b.clone());
        }
        type Row = (u64, String, String, Option<i64>, String, String);
        let q = match self.view {
            LockView::PerformanceSchema => {
                "SELECT t.PROCESSLIST_ID, IFNULL(t.PROCESSLIST_USER, ''), \
                 IFNULL(t.PROCESSLIST_HOST, ''), \
                 IFNULL(TIMESTAMPDIFF(SECOND, x.trx_started, NOW()), t.PROCESSLIST_TIME), \
                 IFNULL(t.PROCESSLIST_INFO, ''), CONCAT(m.LOCK_TYPE, ' ', LOWER(m.LOCK_STATUS)) \
                 FROM performance_schema.metadata_locks m \
                 JOIN performance_schema.threads t ON t.THREAD_ID = m.OWNER_THREAD_ID \
                 LEFT JOIN information_schema.INNODB_TRX x \
                   ON x.trx_mysql_thread_id = t.PROCESSLIST_ID \
                 WHERE m.OBJECT_TYPE = 'TABLE' AND m.OBJECT_SCHEMA = ? AND m.OBJECT_NAME = ? \
                 AND t.PROCESSLIST_ID IS NOT NULL AND t.PROCESSLIST_ID <> ? \
                 ORDER BY t.PROCESSLIST_ID LIMIT 50"
            }
            LockView::MetadataLockInfo => {
                "SELECT m.THREAD_ID, IFNULL(p.USER, ''), IFNULL(p.HOST, ''), \
                 IFNULL(TIMESTAMPDIFF(SECOND, x.trx_started, NOW()), p.TIME), \
                 IFNULL(p.INFO, ''), CONCAT(m.LOCK_TYPE, ' granted') \
                 FROM information_schema.METADATA_LOCK_INFO m \
                 LEFT JOIN information_schema.PROCESSLIST p ON p.ID = m.THREAD_ID \
                 LEFT JOIN information_schema.INNODB_TRX x ON x.trx_mysql_thread_id = m.THREAD_ID \
                 WHERE m.TABLE_SCHEMA = ? AND m.TABLE_NAME = ? AND m.THREAD_ID <> ? \
                 ORDER BY m.THREAD_ID LIMIT 50"
            }
            LockView::None => return Ok(Vec::new()),
        };
        let rows: Vec<Row> = self
            .conn
            .exec(q, (&key.0, &key.1, self.me))
            .map_err(denied_or("reading who holds locks on the table"))?;
        let mut found: Vec<Blocker> = Vec::new();
        for (connection, user, host, age, statement, lock) in rows {
            // One line per session: its strongest lock is enough to name it.
            if found.iter().any(|b| b.connection == connection) {
                continue;
            }
            found.push(Blocker {
                connection,
                user,
                host,
                age_secs: age.unwrap_or(0).max(0) as u64,
                statement: cut(&statement),
                lock: lock.to_ascii_lowercase(),
            });
        }
        self.blockers.insert(key.clone(), found.clone());
        Ok(found)
    }
}

/// How an attempt is named in a refusal.
fn label(a: Attempt) -> String {
    match (a.algorithm, a.lock) {
        (Some(al), Some(l)) => format!("ALGORITHM={al}, LOCK={l}"),
        (Some(al), None) => format!("ALGORITHM={al}"),
        _ => "as written".into(),
    }
}

/// The algorithm and lock a statement accepted only as written asks for itself; without
/// its own clauses every cheaper way was refused, so it copies.
fn explicit_choice(sql: &str) -> (Algorithm, &'static str) {
    let upper = sql.to_ascii_uppercase().replace(' ', "");
    let algorithm = if upper.contains("ALGORITHM=INSTANT") {
        Algorithm::Instant
    } else if upper.contains("ALGORITHM=INPLACE") || upper.contains("ALGORITHM=NOCOPY") {
        Algorithm::Inplace
    } else {
        Algorithm::Copy
    };
    let lock = if upper.contains("LOCK=NONE") {
        "NONE"
    } else if upper.contains("LOCK=SHARED") {
        "SHARED"
    } else if upper.contains("LOCK=EXCLUSIVE") {
        "EXCLUSIVE"
    } else {
        "DEFAULT"
    };
    (algorithm, lock)
}
