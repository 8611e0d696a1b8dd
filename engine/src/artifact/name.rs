//! Entry names: the canonical form the migrations folder requires, and the readings other
//! tools give a name that is not canonical.
//!
//! A name is canonical when it has no NUL, no backslash, no drive letter, and no empty,
//! `.` or `..` segment (a trailing `/`, which marks a directory, is allowed). Tools read
//! other names in different ways: Python cuts at NUL and drops `..` segments on
//! extraction, Go and Info-ZIP resolve `..` against the previous segment, Windows tools and
//! Go's `fs` view treat `\` as a separator and strip drive letters. [`lands_in`] tries
//! every combination of those readings.

use super::ZipError;
use super::error::lossy;

/// Why a name is not canonical; the variants are ordered from most to least specific,
/// and the refusal names the first that applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Flaw {
    Nul,
    Backslash,
    Absolute,
    Parent,
    Dot,
    Empty,
}

impl Flaw {
    /// The refusal for entry `raw` (the name as stored).
    pub(crate) fn error(self, raw: &[u8]) -> ZipError {
        let name = lossy(raw);
        match self {
            Flaw::Nul => ZipError::NulInName { name },
            Flaw::Backslash => ZipError::Backslash { name },
            Flaw::Absolute => ZipError::AbsolutePath { name },
            Flaw::Parent => ZipError::ParentComponent { name },
            Flaw::Dot => ZipError::NotCanonical {
                name,
                what: "a '.' segment",
            },
            Flaw::Empty => ZipError::NotCanonical {
                name,
                what: "an empty segment ('//')",
            },
        }
    }
}

/// The most specific flaw of `n` (the name after its one leading `./`), or `None` when
/// it is canonical. One pass over the bytes, no allocation: this runs for every entry.
pub(crate) fn flaw(n: &[u8]) -> Option<Flaw> {
    let mut worst: Option<Flaw> = None;
    let mut note = |f: Flaw| {
        if worst.is_none_or(|w| f < w) {
            worst = Some(f);
        }
    };
    if drive(n) {
        note(Flaw::Absolute);
    }
    let mut seg = 0;
    for (i, &b) in n.iter().enumerate() {
        match b {
            0 => note(Flaw::Nul),
            b'\\' => note(Flaw::Backslash),
            b'/' => {
                match &n[seg..i] {
                    b"" if seg == 0 => note(Flaw::Absolute),
                    b"" => note(Flaw::Empty),
                    b"." => note(Flaw::Dot),
                    b".." => note(Flaw::Parent),
                    _ => {}
                }
                seg = i + 1;
            }
            _ => {}
        }
    }
    match &n[seg..] {
        b"." => note(Flaw::Dot),
        b".." => note(Flaw::Parent),
        _ => {}
    }
    worst
}

/// Whether `n` starts with a drive letter (`C:`).
fn drive(n: &[u8]) -> bool {
    n.len() >= 2 && n[0].is_ascii_alphabetic() && n[1] == b':'
}

/// Whether some tool's reading of the non-canonical name `n` puts it inside `dir` (a
/// normalized folder, empty for the archive root) or inside `<top>/<dir>` for any `top`
/// (the repository fallback is decided only after the walk). `scratch` is reused across
/// calls so the walk allocates at most once for all non-canonical names.
pub(crate) fn lands_in<'n>(n: &'n [u8], dir: &[u8], scratch: &mut Vec<&'n [u8]>) -> bool {
    if dir.is_empty() {
        // Every name is under the root.
        return true;
    }
    for readings in 0u8..16 {
        let (cut_nul, backslash, strip_drive, pop) = (
            readings & 1 != 0,
            readings & 2 != 0,
            readings & 4 != 0,
            readings & 8 != 0,
        );
        let mut name = n;
        if cut_nul && let Some(i) = name.iter().position(|&b| b == 0) {
            name = &name[..i];
        }
        if strip_drive && drive(name) {
            name = &name[2..];
        }
        scratch.clear();
        let separator = |b: &u8| *b == b'/' || (backslash && *b == b'\\');
        for s in name.split(separator) {
            match s {
                b"" | b"." => {}
                b".." => {
                    if pop {
                        scratch.pop();
                    }
                }
                _ => scratch.push(s),
            }
        }
        if under(scratch, dir) || scratch.get(1..).is_some_and(|rest| under(rest, dir)) {
            return true;
        }
    }
    false
}

/// The name in an Info-ZIP Unicode Path extra field (0x7075: version, CRC-32 of the
/// stored name, UTF-8 name), if the entry has one.
pub(crate) fn unicode_path(extra: &[u8]) -> Option<&[u8]> {
    super::central::find_extra(extra, 0x7075)?.get(5..)
}

/// Whether the segments `segs` name something strictly inside the folder `dir`.
fn under(segs: &[&[u8]], dir: &[u8]) -> bool {
    let mut i = 0;
    for want in dir.split(|&b| b == b'/') {
        if segs.get(i) != Some(&want) {
            return false;
        }
        i += 1;
    }
    segs.len() > i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flaws_most_specific_first() {
        assert_eq!(flaw(b"migrations/1.sql"), None);
        assert_eq!(flaw(b"migrations/"), None);
        assert_eq!(flaw(b"a/..b/c."), None);
        assert_eq!(flaw(b"migrations//1.sql"), Some(Flaw::Empty));
        assert_eq!(flaw(b"migrations/./1.sql"), Some(Flaw::Dot));
        assert_eq!(flaw(b"./migrations/1.sql"), Some(Flaw::Dot));
        assert_eq!(flaw(b"migrations/.."), Some(Flaw::Parent));
        assert_eq!(flaw(b"migrations/../x//y"), Some(Flaw::Parent));
        assert_eq!(flaw(b"/migrations/1.sql"), Some(Flaw::Absolute));
        assert_eq!(flaw(b"C:migrations/1.sql"), Some(Flaw::Absolute));
        assert_eq!(flaw(b"m\\..\\1.sql"), Some(Flaw::Backslash));
        assert_eq!(flaw(b"/m/1.sql\0.txt"), Some(Flaw::Nul));
    }

    #[test]
    fn readings_that_land_in_the_folder() {
        let mut s = Vec::new();
        let mut l = |n: &'static [u8]| lands_in(n, b"migrations", &mut s);
        assert!(l(b"migrations//1.sql"));
        assert!(l(b"migrations/./1.sql"));
        // Python drops '..': migrations/1_evil.sql.
        assert!(l(b"migrations/../1_evil.sql"));
        assert!(l(b"x/../migrations/1.sql"));
        assert!(l(b"/migrations/1.sql"));
        assert!(l(b"C:\\migrations\\1.sql"));
        assert!(l(b"migrations\\1.sql"));
        assert!(l(b"migrations/1_a.sql\0.txt"));
        assert!(l(b"repo//migrations/1.sql"));
        assert!(!l(b"other//x.sql"));
        assert!(!l(b"a/../b/c.sql"));
        assert!(!l(b"migrations/.."));
        assert!(!l(b"x/y/../migrationsX/1.sql"));
        let mut s = Vec::new();
        assert!(lands_in(b"db//migrations/1.sql", b"db/migrations", &mut s));
        assert!(!lands_in(b"db//other/1.sql", b"db/migrations", &mut s));
        assert!(lands_in(b"anything//x", b"", &mut s));
    }
}
