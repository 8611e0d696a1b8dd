//! sql-migrate's migration files: parsing ([`parse`]), ordering ([`order`]) and the
//! checksum lambda-migrate records for each file.

pub mod collation;
mod error;
mod id;
pub mod order;
pub mod parse;
mod statement;
pub(crate) mod words;

use std::borrow::Cow;

use sha2::{Digest, Sha256};

pub use order::{sort, version_of};
pub use parse::{MigrationError, ParseErrorKind};

/// One parsed migration file.
#[derive(Debug, Clone)]
pub struct Migration<'a> {
    /// The file's base name, e.g. `20240101120000-create-users.sql`; sql-migrate's id.
    pub id: &'a str,
    /// Where the file came from, for messages (e.g. `art.zip!migrations/1_a.sql`).
    pub origin: &'a str,
    /// The leading-digits version, if the id starts with digits.
    pub version: Option<i64>,
    /// SHA-256 of the file with every CRLF replaced by LF, lowercase hex.
    pub sha256: String,
    /// The file's bytes.
    pub bytes: &'a [u8],
    /// Whether `up` and `down` hold the file's statements. [`scan`] leaves them empty
    /// until [`Migration::parse`]: a run need not parse files already applied unchanged.
    pub parsed: bool,
    /// The `-- +migrate Up` section.
    pub up: Section<'a>,
    /// The `-- +migrate Down` section.
    pub down: Section<'a>,
}

/// One direction of a migration.
#[derive(Debug, Clone, Default)]
pub struct Section<'a> {
    /// The statements, in file order.
    pub statements: Vec<Statement<'a>>,
    /// `notransaction` was given on the direction's directive.
    pub no_transaction: bool,
}

/// One SQL statement, as it will be sent to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    /// The statement text. Borrowed from the file where it is one contiguous run of LF
    /// lines; built otherwise (dropped comment lines, CRLF, a DELIMITER terminator).
    pub sql: Cow<'a, str>,
    /// 1-based line of the statement's first line in the file.
    pub line: usize,
}

/// SHA-256 of `bytes` after replacing every `\r\n` with `\n`, as lowercase hex.
pub fn checksum(bytes: &[u8]) -> String {
    let mut hasher = Sha256::new();
    let mut rest = bytes;
    // `contains` on bytes is a memchr: files without CR (nearly all) hash in one call.
    while rest.contains(&b'\r') {
        match rest.windows(2).position(|w| w == b"\r\n") {
            Some(pos) => {
                hasher.update(&rest[..pos]);
                hasher.update(b"\n");
                rest = &rest[pos + 2..];
            }
            None => break,
        }
    }
    hasher.update(rest);
    hex(&hasher.finalize())
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = vec![0; bytes.len() * 2];
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 15)];
    }
    String::from_utf8(out).expect("hex digits are ASCII")
}

impl<'a> Migration<'a> {
    /// Parses the statements into `up` and `down`, once.
    pub fn parse(&mut self) -> Result<(), MigrationError> {
        if !self.parsed {
            (self.up, self.down) = parse::sections(self.origin, self.bytes)?;
            self.parsed = true;
        }
        Ok(())
    }
}

/// Parses every file and sorts the result in sql-migrate's apply order.
pub fn load<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str, &'a [u8])>,
) -> Result<Vec<Migration<'a>>, MigrationError> {
    let mut out = scan(files)?;
    out.iter_mut().try_for_each(Migration::parse)?;
    Ok(out)
}

/// Checks every file's id and checksums it, in sql-migrate's apply order, without
/// parsing statements: [`Migration::parse`] does that for the ones a run needs. Two ids
/// the history table would take for one key ([`collation`]) are refused, naming both.
pub fn scan<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str, &'a [u8])>,
) -> Result<Vec<Migration<'a>>, MigrationError> {
    // Sized up front: collecting through `Result` would grow the vector by copying.
    let files = files.into_iter();
    let mut out = Vec::with_capacity(files.size_hint().0);
    for (id, origin, bytes) in files {
        out.push(parse::header(id, origin, bytes)?);
    }
    sort(&mut out);
    if let Some((a, b)) = collation::first_collision(out.iter().map(|m| m.id)) {
        let (a, b) = (&out[a], &out[b]);
        return Err(MigrationError {
            origin: b.origin.to_owned(),
            line: None,
            kind: ParseErrorKind::IdCollision {
                id: b.id.to_owned(),
                other_id: a.id.to_owned(),
                other: a.origin.to_owned(),
            },
        });
    }
    Ok(out)
}

/// A digest of a whole ordered set: SHA-256 over each migration's id and checksum. Two
/// readings of an artifact with the same digest hold the same migrations in the same order.
pub fn digest(migrations: &[Migration<'_>]) -> String {
    let mut hasher = Sha256::new();
    for m in migrations {
        hasher.update(m.id.as_bytes());
        hasher.update([0]);
        hasher.update(m.sha256.as_bytes());
        hasher.update([b'\n']);
    }
    hex(&hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_the_history_table_takes_for_one_key_are_refused_naming_both_files() {
        let up = b"-- +migrate Up\n".as_slice();
        let e = scan([
            ("1_a.sql", "art.zip!migrations/1_a.sql", up),
            ("2_b.sql", "art.zip!migrations/2_b.sql", up),
            ("1_A.sql", "art.zip!migrations/1_A.sql", up),
        ])
        .unwrap_err();
        assert!(
            matches!(e.kind, ParseErrorKind::IdCollision { .. }),
            "{e:?}"
        );
        let text = e.to_string();
        for part in [
            "migrations/1_a.sql",
            "migrations/1_A.sql",
            "utf8_general_ci",
        ] {
            assert!(text.contains(part), "{part} missing: {text}");
        }
        for (a, b) in [
            ("3_café.sql", "3_CAFE.sql"),
            ("4_straße.sql", "4_strase.sql"),
        ] {
            assert!(scan([(a, a, up), (b, b, up)]).is_err(), "{a} {b}");
        }
        let distinct = [
            "1_a.sql", "1_b.sql", "2_ss.sql", "2_ß.sql", "3_ø.sql", "3_o.sql",
        ];
        assert!(scan(distinct.map(|id| (id, id, up))).is_ok());
    }

    #[test]
    fn checksum_is_sha256_with_crlf_as_lf() {
        let plain = |b: &[u8]| {
            let mut lf = Vec::new();
            let mut i = 0;
            while i < b.len() {
                if b[i..].starts_with(b"\r\n") {
                    lf.push(b'\n');
                    i += 2;
                } else {
                    lf.push(b[i]);
                    i += 1;
                }
            }
            hex(&Sha256::digest(&lf))
        };
        for input in [
            &b""[..],
            b"a\nb\n",
            b"a\r\nb\r\n",
            b"\r",
            b"a\r",
            b"\r\r\n",
            b"a\rb\r\n\r",
            b"\r\n\r\n\n\r",
            b"lone\rcr\rthen\r\ncrlf",
        ] {
            assert_eq!(checksum(input), plain(input), "{input:?}");
        }
        assert_eq!(checksum(b"a\r\nb"), checksum(b"a\nb"));
        assert_ne!(checksum(b"a\rb"), checksum(b"a\nb"));
    }
}
