//! Small SQL helpers: running a text batch, quoting literals and identifiers, and
//! classifying driver errors.

use mysql::Conn;
use mysql::prelude::{FromRow, Queryable};

use super::StoreError;
use crate::migration::hex;

/// Runs `sql` as text, reading every result set: a multi-statement batch reports an
/// error in any of its statements (the driver's `query_drop` drops later errors).
pub(super) fn exec_all(conn: &mut Conn, sql: &str) -> Result<(), mysql::Error> {
    let mut result = conn.query_iter(sql)?;
    while let Some(set) = result.iter() {
        for row in set {
            row?;
        }
    }
    Ok(())
}

/// Runs `sql`, after `first` (statements that return no rows, e.g. a session's `SET`s)
/// in the same round trip when given, and passes each row to `each` as it is decoded:
/// a large result is never held twice. A row that does not convert to `T` is an error.
pub(super) fn query_each<T: FromRow>(
    conn: &mut Conn,
    first: Option<&str>,
    sql: &str,
    mut each: impl FnMut(T),
) -> Result<(), mysql::Error> {
    let mut result = match first {
        Some(first) => conn.query_iter(format!("{first}; {sql}"))?,
        None => conn.query_iter(sql)?,
    };
    while let Some(set) = result.iter() {
        for row in set {
            each(T::from_row_opt(row?)?);
        }
    }
    Ok(())
}

/// A string as a SQL literal that means the same under any `sql_mode`: hex, tagged utf8mb4.
pub(super) fn literal(s: &str) -> String {
    if s.is_empty() {
        "''".into()
    } else {
        format!("_utf8mb4 X'{}'", hex(s.as_bytes()))
    }
}

/// `s` if it is all hex digits (our checksums), else empty: it goes into a quoted literal.
pub(super) fn hex_only(s: &str) -> &str {
    if s.bytes().all(|b| b.is_ascii_hexdigit()) {
        s
    } else {
        ""
    }
}

/// Quotes an identifier with backticks.
pub(super) fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

pub(super) fn query_err(what: impl Into<String>) -> impl FnOnce(mysql::Error) -> StoreError {
    let what = what.into();
    move |source| match &source {
        // A missing privilege is the deployment's to fix, not a failed migration.
        mysql::Error::MySqlError(me) if PRIVILEGE_ERRORS.contains(&me.code) => StoreError::Denied {
            what,
            source: Box::new(InWords(source)),
        },
        _ => StoreError::Query {
            what,
            source: Box::new(InWords(source)),
        },
    }
}

/// A driver error in words: what the server or the network said, without the driver's
/// `IoError { … }` wrapping, on one line.
#[derive(Debug)]
pub(super) struct InWords(pub(super) mysql::Error);

impl std::fmt::Display for InWords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&words(&self.0))
    }
}

/// [`InWords`]' text.
pub(super) fn words(e: &mysql::Error) -> String {
    use mysql::Error as E;
    let text = match e {
        E::MySqlError(e) => format!("MySQL error {}: {}", e.code, e.message),
        E::IoError(e) => e.to_string(),
        E::CodecError(e) => e.to_string(),
        E::DriverError(e) => e.to_string(),
        E::UrlError(e) => e.to_string(),
        E::TlsError(e) => format!("TLS: {e}"),
        other => other.to_string(),
    };
    // Server messages can span lines; a table or a log line cannot.
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl std::error::Error for InWords {}

/// A failed connect to `target`, with the next step for its kind; a refused login is
/// told apart, so a caller holding a cached secret knows to read it again.
pub(super) fn connect_err(target: String, e: mysql::Error) -> StoreError {
    let hint = connect_hint(&e);
    let source: Box<dyn std::error::Error + Send + Sync> = Box::new(Hinted(InWords(e), hint));
    match source.downcast_ref::<Hinted>().map(|h| &h.0.0) {
        Some(mysql::Error::MySqlError(me)) if me.code == ER_ACCESS_DENIED => {
            StoreError::AccessDenied { target, source }
        }
        _ => StoreError::Connect { target, source },
    }
}

/// An error and what to do about it.
#[derive(Debug)]
struct Hinted(InWords, &'static str);

impl std::fmt::Display for Hinted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.1.is_empty() {
            self.0.fmt(f)
        } else {
            write!(f, "{} ({})", self.0, self.1)
        }
    }
}

impl std::error::Error for Hinted {}

/// The next step for a failed connect, by kind.
fn connect_hint(e: &mysql::Error) -> &'static str {
    use std::io::ErrorKind as K;
    let io_hint = |kind: K| match kind {
        K::TimedOut | K::WouldBlock => {
            "timed out: check the host, the port and the network path (security group, \
             tunnel, proxy), or raise --connect-timeout"
        }
        K::ConnectionRefused => "connection refused: is the server running on that host and port?",
        _ => "",
    };
    match e {
        mysql::Error::MySqlError(me) => match me.code {
            ER_ACCESS_DENIED => "check the user name and password, or the secret they come from",
            1044 => "the user has no access to that database: grant it, or name another",
            1049 => "unknown database: create it, or fix its name in the URL or DB_NAME",
            1040 | 1203 | 1226 => {
                "the server's max_connections or the user's max_user_connections is reached"
            }
            _ => "",
        },
        mysql::Error::IoError(io) => io_hint(io.kind()),
        mysql::Error::DriverError(mysql::DriverError::CouldNotConnect(Some((_, _, kind)))) => {
            io_hint(*kind)
        }
        mysql::Error::DriverError(mysql::DriverError::ConnectTimeout) => {
            "timed out: check the host, the port and the network path, or raise --connect-timeout"
        }
        mysql::Error::TlsError(_) => {
            "the server's certificate was not accepted: give its CA with --tls-ca (DB_TLS_CA), \
             or use tls=skip-verify on a network you trust"
        }
        _ => "",
    }
}

/// The server's "you may not" errors: database, table, column, procedure and global
/// privileges (1044, 1142, 1143, 1370, 1227).
const PRIVILEGE_ERRORS: [u16; 5] = [1044, 1142, 1143, 1370, 1227];

/// MySQL's `ER_ACCESS_DENIED_ERROR`: wrong user name or password.
const ER_ACCESS_DENIED: u16 = 1045;

pub(super) fn is_missing_table(e: &mysql::Error) -> bool {
    matches!(e, mysql::Error::MySqlError(m) if m.code == 1146)
}

pub(super) fn connection_lost(e: &mysql::Error) -> bool {
    match e {
        mysql::Error::MySqlError(m) => matches!(m.code, 1053 | 1927 | 2006 | 2013),
        mysql::Error::IoError(_) | mysql::Error::DriverError(_) | mysql::Error::CodecError(_) => {
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idents_are_quoted() {
        assert_eq!(ident("a`b"), "`a``b`");
    }
}
