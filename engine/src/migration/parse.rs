//! The sql-migrate file format, with sql-migrate's exact semantics, plus MySQL's
//! `DELIMITER` command.
//!
//! The rules, as sql-migrate's `sqlparse` applies them, line by line (lines end at LF; one
//! trailing CR is dropped):
//! - A line starting with `-- ` but not `-- +` is a comment and is dropped, everywhere.
//! - `-- +migrate Up` / `-- +migrate Down` start a section; an option `notransaction` on
//!   the same line turns the section's transaction off. Starting a section while a
//!   statement is still open is an error. Unknown `-- +migrate` commands are ignored; a
//!   bare `-- +migrate ` is an error.
//! - Lines before the first section are ignored.
//! - Inside a section, every other line not starting with `-- +` joins the current
//!   statement. A statement ends on a line whose last whitespace-separated word before
//!   the first word starting with `--` ends with `;`.
//! - `-- +migrate StatementBegin` ... `-- +migrate StatementEnd` make one statement of
//!   everything between, semicolons and all. A file ending inside such a block is an error.
//! - A file with no section is an error; so is trailing text that no terminator ends.
//!
//! Our extension, `DELIMITER`: inside a section, outside a `StatementBegin` block and
//! between statements, a line `DELIMITER <token>` (keyword in any case) makes `<token>`
//! the terminator: a statement then ends on a line whose text, trailing whitespace
//! removed, ends with `<token>`, which is removed from the statement. `DELIMITER ;`
//! restores the semicolon rule, and every section starts with it. sql-migrate itself does
//! not know `DELIMITER`: files that must also run under sql-migrate should use
//! `StatementBegin`/`StatementEnd` instead.
//!
//! Statements borrow from the file's text when they are one contiguous run of LF-ended
//! lines (the common case); otherwise they are built.

use std::borrow::Cow;
use std::fmt;

use super::order::version_of;
use super::{Migration, Section, Statement, checksum};

/// Longest line sql-migrate's scanner accepts (its buffer is 1 MiB, terminator included).
const MAX_LINE: usize = 1024 * 1024;

/// Longest id `gorp_migrations.id` (`varchar(255)`) holds, in characters.
const MAX_ID_CHARS: usize = 255;

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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    None,
    Up,
    Down,
}

/// The statement being collected: a borrowed run of the source while it stays contiguous,
/// copied out the first time it is not.
struct Pending<'a> {
    src: &'a str,
    start: usize,
    end: usize,
    owned: Option<String>,
    first_line: Option<usize>,
}

impl<'a> Pending<'a> {
    fn new(src: &'a str) -> Self {
        Pending {
            src,
            start: 0,
            end: 0,
            owned: None,
            first_line: None,
        }
    }

    fn text(&self) -> &str {
        self.owned
            .as_deref()
            .unwrap_or(&self.src[self.start..self.end])
    }

    /// Only whitespace so far. `first_line` is set by the first line with anything else,
    /// so this is O(1): re-trimming the text per line made blank runs quadratic.
    fn is_blank(&self) -> bool {
        self.first_line.is_none()
    }

    /// Appends `line` plus `\n`. `at..next` is the line's span in the source including
    /// its terminator; `clean` says that terminator is exactly `\n`.
    fn push_line(&mut self, line: &str, number: usize, at: usize, next: usize, clean: bool) {
        if self.first_line.is_none() && !line.trim().is_empty() {
            self.first_line = Some(number);
        }
        match &mut self.owned {
            None if clean && (self.start == self.end || self.end == at) => {
                if self.start == self.end {
                    self.start = at;
                }
                self.end = next;
            }
            None => {
                let mut s = String::with_capacity(self.end - self.start + line.len() + 1);
                s.push_str(&self.src[self.start..self.end]);
                s.push_str(line);
                s.push('\n');
                self.owned = Some(s);
            }
            Some(s) => {
                s.push_str(line);
                s.push('\n');
            }
        }
    }

    /// Takes the statement, cutting `cut` bytes off its end (a DELIMITER token and what
    /// follows it).
    fn take(&mut self, number: usize, cut: usize) -> Statement<'a> {
        let line = self.first_line.unwrap_or(number);
        let sql = match self.owned.take() {
            Some(mut s) => {
                s.truncate(s.len() - cut);
                Cow::Owned(s)
            }
            None => Cow::Borrowed(&self.src[self.start..self.end - cut]),
        };
        self.start = 0;
        self.end = 0;
        self.first_line = None;
        Statement { sql, line }
    }
}

/// Whether sql-migrate sees `line` as ending a statement: its last word before the first
/// word starting with `--` ends with `;`.
fn ends_with_semicolon(line: &str) -> bool {
    if line.is_ascii() {
        ends_with_semicolon_ascii(line.as_bytes())
    } else {
        ends_with_semicolon_words(line)
    }
}

/// The rule as stated, over Unicode whitespace (Go's `strings.Fields`).
fn ends_with_semicolon_words(line: &str) -> bool {
    let mut last = "";
    for word in line.split_whitespace() {
        if word.starts_with("--") {
            break;
        }
        last = word;
    }
    last.ends_with(';')
}

/// The same rule over ASCII bytes without splitting: cut at the first `--` that starts a
/// word, then look at the last non-space byte. Go's ASCII whitespace includes `\x0b`.
fn ends_with_semicolon_ascii(b: &[u8]) -> bool {
    let space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r');
    // Most lines hold no `-` at all: `contains` on bytes is a memchr.
    let end = if b.contains(&b'-') {
        (0..b.len() - 1)
            .find(|&i| b[i] == b'-' && b[i + 1] == b'-' && (i == 0 || space(b[i - 1])))
            .unwrap_or(b.len())
    } else {
        b.len()
    };
    b[..end].iter().rev().find(|&&c| !space(c)) == Some(&b';')
}

/// Parses one migration file. `id` is the file's base name, `origin` names it in errors.
pub fn parse<'a>(
    id: &'a str,
    origin: &'a str,
    bytes: &'a [u8],
) -> Result<Migration<'a>, MigrationError> {
    let mut m = header(id, origin, bytes)?;
    m.parse()?;
    Ok(m)
}

/// Checks `id` and computes the version and checksum, leaving the statements unparsed
/// (see [`Migration::parse`]).
pub fn header<'a>(
    id: &'a str,
    origin: &'a str,
    bytes: &'a [u8],
) -> Result<Migration<'a>, MigrationError> {
    let err = |kind| MigrationError {
        origin: origin.to_owned(),
        line: None,
        kind,
    };
    if let Some(c) = id.chars().find(|&c| is_format(c)) {
        return Err(MigrationError {
            // The origin holds the same character: escaped, so the message shows it.
            origin: origin.escape_debug().to_string(),
            line: None,
            kind: ParseErrorKind::FormatCharacter {
                id: id.to_owned(),
                code_point: u32::from(c),
            },
        });
    }
    check_id(id).map_err(err)?;
    let version =
        version_of(id).map_err(|()| err(ParseErrorKind::VersionTooLarge(id.to_owned())))?;
    Ok(Migration {
        id,
        origin,
        version,
        sha256: checksum(bytes),
        bytes,
        parsed: false,
        up: Section::default(),
        down: Section::default(),
    })
}

/// Parses the statements of `bytes` into its Up and Down sections.
pub(super) fn sections<'a>(
    origin: &str,
    bytes: &'a [u8],
) -> Result<(Section<'a>, Section<'a>), MigrationError> {
    let err = |line: Option<usize>, kind| MigrationError {
        origin: origin.to_owned(),
        line,
        kind,
    };
    let src = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        err(Some(line), ParseErrorKind::InvalidUtf8)
    })?;

    let mut up = Section::default();
    let mut down = Section::default();
    let mut direction = Direction::None;
    let mut in_block = false;
    let mut block_line = 0;
    let mut block_ended = false;
    let mut delimiter: Option<&'a str> = None;
    let mut pending = Pending::new(src);
    let mut number = 0;
    let mut at = 0;

    while at < src.len() {
        number += 1;
        let (raw, next) = match src[at..].find('\n') {
            Some(i) => (&src[at..at + i], at + i + 1),
            None => (&src[at..], src.len()),
        };
        if next - at > MAX_LINE {
            return Err(err(Some(number), ParseErrorKind::LineTooLong));
        }
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let clean = line.len() == raw.len() && next > at + raw.len();
        let line_at = at;
        at = next;

        if line.starts_with("-- ") && !line.starts_with("-- +") {
            continue;
        }
        if let Some(command) = line.strip_prefix("-- +migrate ") {
            let mut words = command.split_whitespace();
            let Some(name) = words.next() else {
                return Err(err(Some(number), ParseErrorKind::IncompleteCommand));
            };
            match name {
                "Up" | "Down" => {
                    if !pending.is_blank() {
                        return Err(err(
                            Some(number),
                            ParseErrorKind::SectionInsideStatement {
                                section: if name == "Up" { "Up" } else { "Down" },
                                started: pending.first_line.unwrap_or(number),
                            },
                        ));
                    }
                    let (dir, section) = if name == "Up" {
                        (Direction::Up, &mut up)
                    } else {
                        (Direction::Down, &mut down)
                    };
                    direction = dir;
                    if words.any(|w| w == "notransaction") {
                        section.no_transaction = true;
                    }
                    delimiter = None;
                }
                "StatementBegin" if direction != Direction::None => {
                    in_block = true;
                    block_line = number;
                }
                "StatementEnd" if direction != Direction::None => {
                    block_ended = in_block;
                    in_block = false;
                }
                _ => {}
            }
        }
        if direction == Direction::None {
            continue;
        }

        if !in_block && pending.is_blank() && is_delimiter_command(line) {
            let mut words = line.split_whitespace().skip(1);
            match (words.next(), words.next()) {
                (Some(token), None) => delimiter = (token != ";").then_some(token),
                _ => return Err(err(Some(number), ParseErrorKind::DelimiterSyntax)),
            }
            pending = Pending::new(src);
            continue;
        }
        if !in_block && delimiter.is_some() && is_delimiter_command(line) {
            let started = pending.first_line.unwrap_or(number);
            return Err(err(
                Some(number),
                ParseErrorKind::DelimiterInsideStatement(started),
            ));
        }

        if !line.starts_with("-- +") {
            pending.push_line(line, number, line_at, next, clean);
        }

        let mut cut = 0;
        let ends = block_ended
            || (!in_block
                && match delimiter {
                    None => ends_with_semicolon(line),
                    Some(d) => {
                        let trimmed = line.trim_end();
                        let found = trimmed.ends_with(d) && !line.starts_with("-- +");
                        if found {
                            // The statement text ends with this line plus "\n".
                            cut = line.len() - trimmed.len() + d.len() + 1;
                        }
                        found
                    }
                });
        if ends {
            block_ended = false;
            let statement = pending.take(number, cut);
            match direction {
                Direction::Up => up.statements.push(statement),
                Direction::Down => down.statements.push(statement),
                Direction::None => unreachable!("statements are collected only inside a section"),
            }
        }
    }

    if in_block {
        return Err(err(Some(block_line), ParseErrorKind::UnterminatedBlock));
    }
    if direction == Direction::None {
        return Err(err(
            None,
            ParseErrorKind::NoSections(src.starts_with('\u{feff}')),
        ));
    }
    if !pending.is_blank() && !pending.text().starts_with("-- +") {
        let terminator = match delimiter {
            None => Terminator::Semicolon,
            Some(d) => Terminator::Delimiter(d.to_owned()),
        };
        return Err(err(
            pending.first_line,
            ParseErrorKind::Unterminated(terminator),
        ));
    }

    Ok((up, down))
}

/// `DELIMITER` (any case) as the first word of the line.
fn is_delimiter_command(line: &str) -> bool {
    let line = line.trim_start();
    // The keyword is ASCII, so when it matches, byte 9 starts a character.
    line.len() >= 9
        && line.as_bytes()[..9].eq_ignore_ascii_case(b"delimiter")
        && line[9..].chars().next().is_none_or(char::is_whitespace)
}

/// Unicode's format characters (general category Cf, Unicode 14) in the BMP, plus the
/// line and paragraph separators U+2028 and U+2029. Those outside the BMP are refused
/// with every other character there.
const FORMAT: [(u32, u32); 15] = [
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0xE0001, 0xE007F),
];

/// An invisible character that changes how a name reads (see [`FORMAT`]).
fn is_format(c: char) -> bool {
    let c = u32::from(c);
    FORMAT
        .iter()
        .any(|&(first, last)| (first..=last).contains(&c))
}

/// Ids must fit `gorp_migrations.id`: `varchar(255)` in MySQL's 3-byte `utf8`.
fn check_id(id: &str) -> Result<(), ParseErrorKind> {
    let bad = |reason| {
        Err(ParseErrorKind::BadId {
            id: id.to_owned(),
            reason,
        })
    };
    if id.chars().count() > MAX_ID_CHARS {
        return bad("is longer than 255 characters (gorp_migrations.id is varchar(255))");
    }
    if id.chars().any(char::is_control) {
        return bad("contains a control character");
    }
    if id.chars().any(|c| c.len_utf8() > 3) {
        return bad(
            "contains a character outside the Basic Multilingual Plane, which the table's utf8 charset cannot store",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(src: &str) -> Migration<'_> {
        parse("1_test.sql", "1_test.sql", src.as_bytes()).unwrap()
    }

    fn fail(src: &str) -> MigrationError {
        parse("1_test.sql", "1_test.sql", src.as_bytes()).unwrap_err()
    }

    fn texts<'a>(s: &'a Section<'_>) -> Vec<&'a str> {
        s.statements.iter().map(|s| s.sql.as_ref()).collect()
    }

    #[test]
    fn basic_up_down() {
        let m = ok(
            "-- +migrate Up\nCREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\n\n-- +migrate Down\nDROP TABLE a;\n",
        );
        assert_eq!(
            texts(&m.up),
            ["CREATE TABLE a (id int);\n", "INSERT INTO a VALUES (1);\n"]
        );
        assert_eq!(texts(&m.down), ["\nDROP TABLE a;\n"]);
        assert_eq!(m.up.statements[1].line, 3);
        assert_eq!(m.down.statements[0].line, 6);
        assert!(!m.up.no_transaction && !m.down.no_transaction);
        assert_eq!(m.version, Some(1));
        assert!(
            m.up.statements
                .iter()
                .all(|s| matches!(s.sql, Cow::Borrowed(_)))
        );
    }

    #[test]
    fn multi_line_and_comments() {
        let m = ok(
            "ignored before\n-- +migrate Up\n-- a comment\nCREATE TABLE a (\n  id int -- trailing; not an end\n);\n--no-space comment stays\nSELECT 1; -- done\n",
        );
        assert_eq!(
            texts(&m.up),
            [
                "CREATE TABLE a (\n  id int -- trailing; not an end\n);\n",
                "--no-space comment stays\nSELECT 1; -- done\n"
            ]
        );
        // The dropped comment line makes the first statement start at line 4 and borrow.
        assert_eq!(m.up.statements[0].line, 4);
        assert!(matches!(m.up.statements[0].sql, Cow::Borrowed(_)));
    }

    #[test]
    fn comment_inside_statement_forces_a_copy() {
        let m = ok("-- +migrate Up\nSELECT\n-- gone\n1;\n");
        assert_eq!(texts(&m.up), ["SELECT\n1;\n"]);
        assert!(matches!(m.up.statements[0].sql, Cow::Owned(_)));
    }

    #[test]
    fn notransaction_and_unknown_commands() {
        let m = ok(
            "-- +migrate Up notransaction\n-- +migrate Whatever\nSELECT 1;\n-- +migrate Down\nSELECT 2;",
        );
        assert!(m.up.no_transaction);
        assert!(!m.down.no_transaction);
        assert_eq!(texts(&m.down), ["SELECT 2;\n"]);
    }

    #[test]
    fn statement_blocks() {
        let src = "-- +migrate Up\n-- +migrate StatementBegin\nCREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\nEND;\n-- +migrate StatementEnd\nSELECT 2;\n";
        let m = ok(src);
        assert_eq!(
            texts(&m.up),
            [
                "CREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\nEND;\n",
                "SELECT 2;\n"
            ]
        );
        assert_eq!(m.up.statements[0].line, 3);
    }

    #[test]
    fn crlf_input() {
        let m = ok("-- +migrate Up\r\nSELECT 1;\r\n-- +migrate Down\r\nSELECT 2;\r\n");
        assert_eq!(texts(&m.up), ["SELECT 1;\n"]);
        assert_eq!(texts(&m.down), ["SELECT 2;\n"]);
        assert_eq!(
            m.sha256,
            checksum(b"-- +migrate Up\nSELECT 1;\n-- +migrate Down\nSELECT 2;\n")
        );
    }

    #[test]
    fn comment_only_down_is_fine() {
        let m = ok("-- +migrate Up\nSELECT 1;\n-- +migrate Down\n-- nothing to undo\n");
        assert!(m.down.statements.is_empty());
    }

    #[test]
    fn errors() {
        assert_eq!(fail("SELECT 1;\n").kind, ParseErrorKind::NoSections(false));
        assert_eq!(
            fail("\u{feff}-- +migrate Up\nSELECT 1;\n").kind,
            ParseErrorKind::NoSections(true)
        );
        let e = fail("-- +migrate Up\nSELECT 1\n");
        assert_eq!(
            (e.line, e.kind),
            (Some(2), ParseErrorKind::Unterminated(Terminator::Semicolon))
        );
        let e = fail("-- +migrate Up\n\nSELECT 1\n-- +migrate Down\nSELECT 2;\n");
        assert_eq!(e.line, Some(4));
        assert_eq!(
            e.kind,
            ParseErrorKind::SectionInsideStatement {
                section: "Down",
                started: 3
            }
        );
        let e = fail("-- +migrate Up\n-- +migrate StatementBegin\nSELECT 1;\n");
        assert_eq!(
            (e.line, e.kind),
            (Some(2), ParseErrorKind::UnterminatedBlock)
        );
        assert_eq!(
            fail("-- +migrate \n").kind,
            ParseErrorKind::IncompleteCommand
        );
        let e = parse("1.sql", "1.sql", b"-- +migrate Up\nSELECT '\xff';\n").unwrap_err();
        assert_eq!((e.line, e.kind), (Some(2), ParseErrorKind::InvalidUtf8));
        let e = parse("99999999999999999999_x.sql", "o", b"-- +migrate Up\n").unwrap_err();
        assert!(matches!(e.kind, ParseErrorKind::VersionTooLarge(_)));
        assert!(e.to_string().starts_with("o: "), "{e}");
        let long = format!("-- +migrate Up\nSELECT '{}';\n", "x".repeat(MAX_LINE));
        assert_eq!(fail(&long).kind, ParseErrorKind::LineTooLong);
    }

    #[test]
    fn bad_ids() {
        for id in ["a\nb.sql", "\u{1F600}.sql"] {
            let e = parse(id, id, b"-- +migrate Up\n").unwrap_err();
            assert!(matches!(e.kind, ParseErrorKind::BadId { .. }), "{id:?}");
        }
        let long = format!("{}.sql", "a".repeat(252));
        assert!(parse(&long, "o", b"-- +migrate Up\n").is_err());
    }

    #[test]
    fn invisible_format_characters_are_refused_by_code_point() {
        for c in [
            '\u{202E}',
            '\u{2066}',
            '\u{2069}',
            '\u{200B}',
            '\u{200F}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{2028}',
            '\u{E0041}',
        ] {
            let id = format!("1_ab{c}c.sql");
            let origin = format!("dir/{id}");
            let e = parse(&id, &origin, b"-- +migrate Up\n").unwrap_err();
            assert_eq!(
                e.kind,
                ParseErrorKind::FormatCharacter {
                    id: id.clone(),
                    code_point: u32::from(c)
                }
            );
            let text = e.to_string();
            assert!(text.contains(&format!("U+{:04X}", u32::from(c))), "{text}");
            assert!(text.starts_with("dir/1_ab\\u{"), "{text}");
            assert!(
                !text.contains(c),
                "the message shows the character raw: {text:?}"
            );
        }
        // Visible neighbours are fine.
        for id in [
            "1_\u{2010}.sql",
            "1_\u{2030}.sql",
            "1_\u{FEFE}.sql",
            "1_é.sql",
        ] {
            parse(id, id, b"-- +migrate Up\n").unwrap();
        }
    }

    #[test]
    fn delimiter() {
        let src = "-- +migrate Up\nDELIMITER $$\nCREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\nEND $$  \ndelimiter ;\nSELECT 2;\n-- +migrate Down\nDROP PROCEDURE p;\n";
        let m = ok(src);
        assert_eq!(
            texts(&m.up),
            [
                "CREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\nEND ",
                "SELECT 2;\n"
            ]
        );
        assert_eq!(m.up.statements[0].line, 3);
        assert!(matches!(m.up.statements[0].sql, Cow::Borrowed(_)));
        assert_eq!(texts(&m.down), ["DROP PROCEDURE p;\n"]);
    }

    #[test]
    fn delimiter_resets_per_section_and_errors() {
        let m = ok("-- +migrate Up\nDELIMITER //\nSELECT 1//\n-- +migrate Down\nSELECT 2;\n");
        assert_eq!(texts(&m.up), ["SELECT 1"]);
        assert_eq!(texts(&m.down), ["SELECT 2;\n"]);
        assert_eq!(
            fail("-- +migrate Up\nDELIMITER\n").kind,
            ParseErrorKind::DelimiterSyntax
        );
        let e = fail("-- +migrate Up\nDELIMITER //\nSELECT 1\nDELIMITER ;\n");
        assert_eq!(
            (e.line, e.kind),
            (Some(4), ParseErrorKind::DelimiterInsideStatement(3))
        );
        let e = fail("-- +migrate Up\nDELIMITER //\nSELECT 1;\n");
        assert_eq!(
            e.kind,
            ParseErrorKind::Unterminated(Terminator::Delimiter("//".into()))
        );
    }

    #[test]
    fn last_line_without_newline() {
        let m = ok("-- +migrate Up\nSELECT 1;");
        assert_eq!(texts(&m.up), ["SELECT 1;\n"]);
    }

    #[test]
    fn semicolon_rule_fast_path_matches_the_word_rule() {
        // Every string of up to 6 bytes over the alphabet that matters.
        let alphabet = [b' ', b'\t', b'\x0b', b'-', b';', b'a'];
        let mut line = Vec::new();
        fn walk(line: &mut Vec<u8>, alphabet: &[u8], depth: usize, checked: &mut usize) {
            let s = std::str::from_utf8(line).unwrap();
            assert_eq!(
                ends_with_semicolon_ascii(line),
                ends_with_semicolon_words(s),
                "{s:?}"
            );
            *checked += 1;
            if depth > 0 {
                for &c in alphabet {
                    line.push(c);
                    walk(line, alphabet, depth - 1, checked);
                    line.pop();
                }
            }
        }
        let mut checked = 0;
        walk(&mut line, &alphabet, 6, &mut checked);
        assert_eq!(checked, (0..=6).map(|k| 6usize.pow(k)).sum::<usize>());
    }

    #[test]
    fn long_blank_runs_parse_in_linear_time() {
        // 2 MB of blank lines inside a section: quadratic re-trimming took minutes.
        let src = format!("-- +migrate Up\n{}SELECT 1;\n", "\n".repeat(2_000_000));
        let m = ok(&src);
        assert_eq!(m.up.statements.len(), 1);
        assert_eq!(m.up.statements[0].line, 2_000_002);
    }
}
