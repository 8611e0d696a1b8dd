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
    move |source| StoreError::Query {
        what,
        source: Box::new(source),
    }
}

/// A failed connect to `target`; a refused login is told apart, so a caller holding a
/// cached secret knows to read it again.
pub(super) fn connect_err(target: String, e: mysql::Error) -> StoreError {
    let source = Box::new(e);
    match &*source {
        mysql::Error::MySqlError(me) if me.code == ER_ACCESS_DENIED => {
            StoreError::AccessDenied { target, source }
        }
        _ => StoreError::Connect { target, source },
    }
}

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
