//! The rules a migration's id (its file's base name) must follow to be stored in
//! `gorp_migrations.id` and read as what it is.

use super::ParseErrorKind;

/// Longest id `gorp_migrations.id` (`varchar(255)`) holds, in characters.
const MAX_ID_CHARS: usize = 255;

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
pub(super) fn is_format(c: char) -> bool {
    let c = u32::from(c);
    FORMAT
        .iter()
        .any(|&(first, last)| (first..=last).contains(&c))
}

/// Ids must fit `gorp_migrations.id`: `varchar(255)` in MySQL's 3-byte `utf8`.
pub(super) fn check_id(id: &str) -> Result<(), ParseErrorKind> {
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
