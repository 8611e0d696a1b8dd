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

/// A quick test for whether a name may contain a folder's last segment; never says no
/// wrongly.
///
/// Any reading [`lands_in`] tries splits the name into segments that are substrings of
/// it, so a name that some reading puts in the folder contains the folder's last
/// segment. Testing that first means only names that could matter pay for the name
/// checks. The test samples the byte pairs ending at every `(len - 1)`-th byte, the
/// way Horspool's search skips: any `len - 1` positions in a row hold one sampled
/// position, so an occurrence always has one past its first byte, where the pair ending
/// there is one of the segment's own pairs. A 30-byte name costs three table lookups;
/// measured on 20,000 names, half the cost of testing every position eight at a time.
pub(crate) struct Segment {
    /// One bit per byte pair, at [`pair`]: set for the pairs inside the segment (and
    /// the few that share their bits).
    pairs: [u64; 64],
    /// The sampling stride, `len - 1`; 0 lets every name through.
    stride: usize,
}

impl Segment {
    /// The test for `seg`; segments shorter than two bytes (the root's empty one) let
    /// every name through.
    pub(crate) fn new(seg: &[u8]) -> Segment {
        let mut pairs = [0u64; 64];
        for w in seg.windows(2) {
            let i = pair(w[0], w[1]);
            pairs[i >> 6] |= 1 << (i & 63);
        }
        Segment {
            pairs,
            stride: seg.len().saturating_sub(1),
        }
    }

    /// Whether the segment may occur in `n`.
    #[inline(always)]
    pub(crate) fn may_be_in(&self, n: &[u8]) -> bool {
        if self.stride == 0 {
            return true;
        }
        let mut p = self.stride;
        while let Some(&[a, b]) = n.get(p - 1..=p).and_then(|w| w.first_chunk::<2>()) {
            let i = pair(a, b);
            if self.pairs[i >> 6 & 63] >> (i & 63) & 1 != 0 {
                return true;
            }
            p += self.stride;
        }
        false
    }
}

/// The bit of a byte pair: 4,096 bits (512 bytes, so the table stays in L1 while the
/// central directory streams past) with 16 pairs to a bit; no pair is missed.
#[inline(always)]
fn pair(a: u8, b: u8) -> usize {
    (usize::from(a) << 4 ^ usize::from(b)) & 0xFFF
}

/// Whether `n` (the name after its one leading `./`) is canonical by a quick test that
/// never says yes wrongly: no NUL or backslash, no two `/` or `.` in a row, and no
/// leading `/`, `.` or drive letter. Every flaw needs one of those patterns, so when the
/// test says no, [`flaw`] decides exactly. Sixteen bytes a step: this runs for every
/// entry of the central directory, and almost every name passes.
#[inline]
pub(crate) fn plainly_canonical(n: &[u8]) -> bool {
    let Some(&first) = n.first() else {
        return true;
    };
    if first == b'.' || first == b'/' || n.get(1) == Some(&b':') {
        return false;
    }
    let mut carry = false;
    let mut bad = false;
    let mut rest = n;
    while let Some((c, tail)) = rest.split_first_chunk::<16>() {
        bad |= block(word(c, 0), word(c, 8), &mut carry);
        rest = tail;
    }
    if rest.is_empty() {
        return !bad;
    }
    // The tail as a last block (or word) that overlaps bytes already tested, which
    // changes nothing, with the carry of the byte before it. Built from whole-word
    // loads: a buffer written bytewise and read back as a word stalls the load.
    let before = |k: usize| n.len() > k && (n[n.len() - k - 1] | 1) == b'/';
    if let Some(c) = n.last_chunk::<16>() {
        carry = before(16);
        bad |= block(word(c, 0), word(c, 8), &mut carry);
    } else if let (Some(a), Some(b)) = (n.first_chunk::<8>(), n.last_chunk::<8>()) {
        let mut c = false;
        bad |= swar(u64::from_le_bytes(*a), &mut c) != 0;
        c = before(8);
        bad |= swar(u64::from_le_bytes(*b), &mut c) != 0;
    } else {
        // Shorter than a word: padded with a byte that is neither special nor `.`/`/`.
        let w = n
            .iter()
            .enumerate()
            .fold(u64::from_le_bytes([b'a'; 8]), |w, (i, &b)| {
                (w & !(0xFF << (8 * i))) | (u64::from(b) << (8 * i))
            });
        bad |= swar(w, &mut false) != 0;
    }
    !bad
}

/// The little-endian word at `at` of a 16-byte block.
#[inline(always)]
fn word(c: &[u8; 16], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&c[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Whether the 16 bytes `lo`, `hi` hold a NUL, a backslash, or two of `/` and `.` in a
/// row (`carry`: the byte before them was one of those; updated for the next block).
#[inline(always)]
fn block(lo: u64, hi: u64, carry: &mut bool) -> bool {
    (swar(lo, carry) | swar(hi, carry)) != 0
}

/// [`block`] for one word, eight bytes at once in a `u64`: marks (high bit of a byte)
/// the bytes that are NUL or a backslash, or `/` or `.` right after one of those.
#[inline(always)]
fn swar(w: u64, carry: &mut bool) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let dot_or_slash = zero_bytes((w | ONES) ^ (ONES * u64::from(b'/')));
    let special = zero_bytes(w) | zero_bytes(w ^ (ONES * u64::from(b'\\')));
    let after = (dot_or_slash << 8) | if *carry { 0x80 } else { 0 };
    *carry = dot_or_slash >> 63 != 0;
    special | (after & dot_or_slash)
}

/// 0x80 in every byte of `x` that is zero, 0 in every other byte (exact, no carries
/// between bytes).
#[inline(always)]
fn zero_bytes(x: u64) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
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
    fn quick_test_never_passes_a_flawed_name() {
        let names: &[&[u8]] = &[
            b"migrations/1.sql",
            b"migrations/",
            b"a/..b/c.",
            b"src/module-001/file-00001.txt",
            b"assets/12/blob-00012.bin.and-a-longer-tail/x.y",
            b"abcdefg/",
            b"abcdefg//x",
            b"abcdefg/.x",
            b"abcdefgh/./x",
            b"abcdefghijklmno/..",
            b"migrations//1.sql",
            b"migrations/./1.sql",
            b"./migrations/1.sql",
            b"/migrations/1.sql",
            b"C:migrations/1.sql",
            b"m\\..\\1.sql",
            b"/m/1.sql\0.txt",
            b"abcdefghijklmnop\0",
            b".github/x",
            b"a/b/c/d/e/f/g/h/i",
            b"a//",
            b"ab/.",
            b"a\0",
            b"abc/def/.",
        ];
        for &n in names {
            if plainly_canonical(n) {
                assert_eq!(flaw(n), None, "{}", String::from_utf8_lossy(n));
            }
        }
        assert!(plainly_canonical(b"migrations/1.sql"));
        assert!(plainly_canonical(b"src/module-001/file-00001.txt"));
        assert!(plainly_canonical(b"a/b"));
        assert!(!plainly_canonical(b"a//"));
        assert!(!plainly_canonical(b"abc/def/."));
        // Every byte pair at every position across the word boundary.
        for len in 3..40 {
            for at in 1..len - 1 {
                for pair in [b"//", b"/.", b"./", b"..", b"\0x", b"\\x", b"x\0", b"x\\"] {
                    let mut n = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"[..len].to_vec();
                    n[at..at + 2].copy_from_slice(pair);
                    assert!(!plainly_canonical(&n), "{}", String::from_utf8_lossy(&n));
                }
            }
        }
    }

    #[test]
    fn quick_segment_test_never_misses() {
        let hay = b"abcdefghijklmnopqrstuvwxyz0123456789";
        for len in 0..hay.len() {
            let n = &hay[..len];
            for a in 0..len {
                for b in a + 1..=len {
                    assert!(Segment::new(&n[a..b]).may_be_in(n), "{a}..{b} of {len}");
                }
            }
        }
        // Every place and repetition of a segment with repeated bytes, among look-alikes.
        let seg = b"migrations";
        let test = Segment::new(seg);
        for pad in 0..25 {
            for fill in [&b"x"[..], b"mi", b"ns", b"ation", b"migration"] {
                let mut n: Vec<u8> = fill.iter().copied().cycle().take(pad).collect();
                n.extend_from_slice(seg);
                n.extend(fill.iter().copied().cycle().take(pad % 7));
                assert!(test.may_be_in(&n), "{}", String::from_utf8_lossy(&n));
            }
        }
        assert!(test.may_be_in(b"x/y/../migrations/1.sql"));
        assert!(!test.may_be_in(b"src/module-001/file-00001.txt"));
        assert!(!test.may_be_in(b"migration"));
        assert!(!test.may_be_in(b"short"));
        assert!(Segment::new(b"").may_be_in(b"anything"));
        assert!(Segment::new(b"m").may_be_in(b"x"));
    }

    #[test]
    fn word_test_agrees_with_block_test() {
        let names: &[&[u8]] = &[b"abcdefgh", b"abc/.fgh", b"abcdefg/", b"ab\0defgh", b"a\\"];
        for &n in names {
            let mut w = [b'a'; 8];
            w[..n.len().min(8)].copy_from_slice(&n[..n.len().min(8)]);
            let lo = u64::from_le_bytes(w);
            let pad = u64::from_le_bytes([b'a'; 8]);
            assert_eq!(
                swar(lo, &mut false) != 0,
                block(lo, pad, &mut false),
                "{}",
                String::from_utf8_lossy(n)
            );
        }
        let mut carry = false;
        assert_eq!(swar(u64::from_le_bytes(*b"abcdefg/"), &mut carry), 0);
        assert!(carry);
        assert_ne!(swar(u64::from_le_bytes(*b".bcdefgh"), &mut carry), 0);
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
