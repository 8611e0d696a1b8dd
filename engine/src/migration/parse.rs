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

pub use super::error::{MigrationError, ParseErrorKind, Terminator};
use super::id::{check_id, is_format};
use super::order::version_of;
use super::statement::{Pending, ends_with_semicolon};
use super::{Migration, Section, checksum};

/// Longest line sql-migrate's scanner accepts (its buffer is 1 MiB, terminator included).
pub(super) const MAX_LINE: usize = 1024 * 1024;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    None,
    Up,
    Down,
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

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::super::statement::{ends_with_semicolon_ascii, ends_with_semicolon_words};
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
