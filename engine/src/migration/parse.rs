//! The sql-migrate file format.

use super::Migration;

/// A migration file that cannot be used, naming the file and, where it applies, the line.
#[derive(Debug, thiserror::Error)]
#[error("{origin}{}: {kind}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct MigrationError {
    /// Where the file came from.
    pub origin: String,
    /// 1-based line, where the error has one.
    pub line: Option<usize>,
    /// What is wrong.
    pub kind: ParseErrorKind,
}

/// What is wrong with a migration file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// Placeholder.
    #[error("todo")]
    Todo,
}

/// Parses one migration file.
pub fn parse<'a>(id: &'a str, origin: &'a str, bytes: &'a [u8]) -> Result<Migration<'a>, MigrationError> {
    let _ = (id, origin, bytes);
    todo!()
}
