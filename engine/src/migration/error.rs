//! Why a migration file cannot be used, naming the file and, where it applies, the line.

use std::fmt;

use super::parse::MAX_LINE;

/// A migration file that cannot be used, naming the file and, where it applies, the line.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
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
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// The file is not valid UTF-8.
    #[error("the file is not valid UTF-8")]
    InvalidUtf8,
    /// A line longer than sql-migrate can read.
    #[error("line is longer than {MAX_LINE} bytes (sql-migrate cannot read it)")]
    LineTooLong,
    /// `-- +migrate ` with no command.
    #[error("incomplete '-- +migrate' command")]
    IncompleteCommand,
    /// No `-- +migrate Up` or `-- +migrate Down` in the file.
    #[error("no '-- +migrate Up' or '-- +migrate Down' annotation found{}", if *.0 { " (the file starts with a UTF-8 byte order mark, which hides the annotation on the first line)" } else { "" })]
    NoSections(bool),
    /// A section starts while the statement begun on `.0` is not terminated.
    #[error(
        "'-- +migrate {section}' while the statement starting at line {started} is not terminated by a semicolon or '-- +migrate StatementEnd'"
    )]
    SectionInsideStatement {
        /// `Up` or `Down`.
        section: &'static str,
        /// Line the open statement started on.
        started: usize,
    },
    /// The file ends inside a `StatementBegin` block.
    #[error("'-- +migrate StatementBegin' has no matching '-- +migrate StatementEnd'")]
    UnterminatedBlock,
    /// The file ends with a statement no terminator ends.
    #[error("the last statement must be ended by {0} or '-- +migrate StatementEnd'")]
    Unterminated(Terminator),
    /// `DELIMITER` with no token, or with more than one.
    #[error("DELIMITER needs exactly one terminator token")]
    DelimiterSyntax,
    /// `DELIMITER` while a statement is open.
    #[error("DELIMITER while the statement starting at line {0} is not terminated")]
    DelimiterInsideStatement(usize),
    /// The id's leading digits do not fit a 64-bit version.
    #[error("the version prefix of {0:?} does not fit in a 64-bit integer")]
    VersionTooLarge(String),
    /// The id cannot be stored in `gorp_migrations.id`.
    #[error("migration id {id:?} {reason}")]
    BadId {
        /// The id.
        id: String,
        /// Why.
        reason: &'static str,
    },
    /// The id holds an invisible Unicode format character (general category Cf: bidi
    /// controls, zero-width characters, the BOM) or a line or paragraph separator, which
    /// make a name read differently from what it is.
    #[error(
        "migration id {id:?} contains the invisible format character U+{code_point:04X}, which makes the name read differently from what it is"
    )]
    FormatCharacter {
        /// The id.
        id: String,
        /// The first such character.
        code_point: u32,
    },
    /// `gorp_migrations.id` would take this id and another file's for one key: its
    /// `utf8_general_ci` collation ignores case, accents and trailing spaces, so the
    /// second history row would fail as a duplicate (error 1062).
    #[error(
        "migration id {id:?} is the same key as {other_id:?} (from {other}) in gorp_migrations.id, whose utf8_general_ci collation ignores case and accents: rename one of them"
    )]
    IdCollision {
        /// This file's id.
        id: String,
        /// The other file's id.
        other_id: String,
        /// Where the other file came from.
        other: String,
    },
}

/// The statement terminator in force at the end of a file, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Terminator {
    /// The semicolon rule.
    Semicolon,
    /// A `DELIMITER` token.
    Delimiter(String),
}

impl fmt::Display for Terminator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Terminator::Semicolon => f.write_str("a semicolon"),
            Terminator::Delimiter(d) => write!(f, "the delimiter {d:?}"),
        }
    }
}
