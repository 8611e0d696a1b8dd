//! How `gorp_migrations.id` tells ids apart, so that two files the table would take for
//! one key are refused before anything runs.
//!
//! sql-migrate creates the table with `DEFAULT CHARSET=utf8`, MySQL's 3-byte `utf8mb3`,
//! whose default collation `utf8mb3_general_ci` (`utf8_general_ci`) compares strings
//! character by character through a weight table: one 16-bit weight per BMP character,
//! no expansions or contractions (the MySQL manual, "Collation Implementation Types":
//! `a`, `A`, `À` and `á` all weigh 0x0041). Where the table has a page, a character
//! weighs its uppercase base letter with the accent removed (`é` = `E`, `ß` = `S` but
//! not `SS`, `ё` = `Е`), with quirks of its own (`ά` U+1F71 weighs its capital U+1FBB,
//! not `Α`; `Ø`, `Æ` and `Đ` keep their own weight); every other character weighs its
//! own code point. The collation is PAD SPACE: trailing spaces do not count. Characters
//! outside the BMP, which the table cannot store, are refused earlier (see
//! `parse::check_id`).
//!
//! [`RUNS`] holds every BMP character whose weight is not its code point, as runs. It was
//! read from MariaDB 10.11's `WEIGHT_STRING(... COLLATE utf8mb3_general_ci)` over the
//! whole BMP, and `engine/tests/mysql_collation.rs` compares it with the server's weight
//! of every BMP character again, so the fold is exact, not an approximation.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{Hash, Hasher};

use Rule::{Pairs, Same, Shift};

/// How the characters of one run weigh.
#[derive(Clone, Copy)]
enum Rule {
    /// Every character of the run has this weight.
    Same(char),
    /// A character weighs its code point plus this.
    Shift(i32),
    /// Capital and small letters alternate from the run's first (capital) character: a
    /// capital weighs itself, a small letter the capital before it.
    Pairs,
}

/// `(first, last, rule)`, sorted, not overlapping: every BMP character whose
/// `utf8_general_ci` weight differs from its code point.
#[rustfmt::skip]
const RUNS: [(u16, u16, Rule); 283] = [
    (0x0061, 0x007A, Shift(-32)), (0x00B5, 0x00B5, Same('\u{39C}')), (0x00C0, 0x00C5, Same('A')),
    (0x00C7, 0x00C7, Same('C')), (0x00C8, 0x00CB, Same('E')), (0x00CC, 0x00CF, Same('I')),
    (0x00D1, 0x00D1, Same('N')), (0x00D2, 0x00D6, Same('O')), (0x00D9, 0x00DC, Same('U')),
    (0x00DD, 0x00DD, Same('Y')), (0x00DF, 0x00DF, Same('S')), (0x00E0, 0x00E5, Same('A')),
    (0x00E6, 0x00E6, Same('\u{C6}')), (0x00E7, 0x00E7, Same('C')), (0x00E8, 0x00EB, Same('E')),
    (0x00EC, 0x00EF, Same('I')), (0x00F0, 0x00F0, Same('\u{D0}')), (0x00F1, 0x00F1, Same('N')),
    (0x00F2, 0x00F6, Same('O')), (0x00F8, 0x00F8, Same('\u{D8}')), (0x00F9, 0x00FC, Same('U')),
    (0x00FD, 0x00FD, Same('Y')), (0x00FE, 0x00FE, Same('\u{DE}')), (0x00FF, 0x00FF, Same('Y')),
    (0x0100, 0x0105, Same('A')), (0x0106, 0x010D, Same('C')), (0x010E, 0x010F, Same('D')),
    (0x0111, 0x0111, Same('\u{110}')), (0x0112, 0x011B, Same('E')), (0x011C, 0x0123, Same('G')),
    (0x0124, 0x0125, Same('H')), (0x0127, 0x0127, Same('\u{126}')), (0x0128, 0x0131, Same('I')),
    (0x0133, 0x0133, Same('\u{132}')), (0x0134, 0x0135, Same('J')), (0x0136, 0x0137, Same('K')),
    (0x0139, 0x013E, Same('L')), (0x013F, 0x0142, Pairs), (0x0143, 0x0148, Same('N')),
    (0x014B, 0x014B, Same('\u{14A}')), (0x014C, 0x0151, Same('O')),
    (0x0153, 0x0153, Same('\u{152}')), (0x0154, 0x0159, Same('R')), (0x015A, 0x0161, Same('S')),
    (0x0162, 0x0165, Same('T')), (0x0167, 0x0167, Same('\u{166}')), (0x0168, 0x0173, Same('U')),
    (0x0174, 0x0175, Same('W')), (0x0176, 0x0178, Same('Y')), (0x0179, 0x017E, Same('Z')),
    (0x017F, 0x017F, Same('S')), (0x0182, 0x0185, Pairs), (0x0188, 0x0188, Same('\u{187}')),
    (0x018C, 0x018C, Same('\u{18B}')), (0x0192, 0x0192, Same('\u{191}')),
    (0x0195, 0x0195, Same('\u{1F6}')), (0x0199, 0x0199, Same('\u{198}')),
    (0x01A0, 0x01A1, Same('O')), (0x01A2, 0x01A5, Pairs), (0x01A8, 0x01A8, Same('\u{1A7}')),
    (0x01AD, 0x01AD, Same('\u{1AC}')), (0x01AF, 0x01B0, Same('U')), (0x01B3, 0x01B6, Pairs),
    (0x01B9, 0x01B9, Same('\u{1B8}')), (0x01BD, 0x01BD, Same('\u{1BC}')),
    (0x01BF, 0x01BF, Same('\u{1F7}')), (0x01C5, 0x01C6, Same('\u{1C4}')),
    (0x01C8, 0x01C9, Same('\u{1C7}')), (0x01CB, 0x01CC, Same('\u{1CA}')),
    (0x01CD, 0x01CE, Same('A')), (0x01CF, 0x01D0, Same('I')), (0x01D1, 0x01D2, Same('O')),
    (0x01D3, 0x01DC, Same('U')), (0x01DD, 0x01DD, Same('\u{18E}')), (0x01DE, 0x01E1, Same('A')),
    (0x01E2, 0x01E3, Same('\u{C6}')), (0x01E5, 0x01E5, Same('\u{1E4}')),
    (0x01E6, 0x01E7, Same('G')), (0x01E8, 0x01E9, Same('K')), (0x01EA, 0x01ED, Same('O')),
    (0x01EE, 0x01EF, Same('\u{1B7}')), (0x01F0, 0x01F0, Same('J')),
    (0x01F2, 0x01F3, Same('\u{1F1}')), (0x01F4, 0x01F5, Same('G')), (0x01F8, 0x01F9, Same('N')),
    (0x01FA, 0x01FB, Same('A')), (0x01FC, 0x01FD, Same('\u{C6}')),
    (0x01FE, 0x01FF, Same('\u{D8}')), (0x0200, 0x0203, Same('A')), (0x0204, 0x0207, Same('E')),
    (0x0208, 0x020B, Same('I')), (0x020C, 0x020F, Same('O')), (0x0210, 0x0213, Same('R')),
    (0x0214, 0x0217, Same('U')), (0x0218, 0x0219, Same('S')), (0x021A, 0x021B, Same('T')),
    (0x021D, 0x021D, Same('\u{21C}')), (0x021E, 0x021F, Same('H')), (0x0222, 0x0225, Pairs),
    (0x0226, 0x0227, Same('A')), (0x0228, 0x0229, Same('E')), (0x022A, 0x0231, Same('O')),
    (0x0232, 0x0233, Same('Y')), (0x0253, 0x0253, Same('\u{181}')),
    (0x0254, 0x0254, Same('\u{186}')), (0x0256, 0x0256, Same('\u{189}')),
    (0x0257, 0x0257, Same('\u{18A}')), (0x0259, 0x0259, Same('\u{18F}')),
    (0x025B, 0x025B, Same('\u{190}')), (0x0260, 0x0260, Same('\u{193}')),
    (0x0263, 0x0263, Same('\u{194}')), (0x0268, 0x0268, Same('\u{197}')),
    (0x0269, 0x0269, Same('\u{196}')), (0x026F, 0x026F, Same('\u{19C}')),
    (0x0272, 0x0272, Same('\u{19D}')), (0x0275, 0x0275, Same('\u{19F}')),
    (0x0280, 0x0280, Same('\u{1A6}')), (0x0283, 0x0283, Same('\u{1A9}')),
    (0x0288, 0x0288, Same('\u{1AE}')), (0x028A, 0x028A, Same('\u{1B1}')),
    (0x028B, 0x028B, Same('\u{1B2}')), (0x0292, 0x0292, Same('\u{1B7}')),
    (0x0345, 0x0345, Same('\u{399}')), (0x0386, 0x0386, Same('\u{391}')),
    (0x0388, 0x0388, Same('\u{395}')), (0x0389, 0x0389, Same('\u{397}')),
    (0x038A, 0x038A, Same('\u{399}')), (0x038C, 0x038C, Same('\u{39F}')),
    (0x038E, 0x038E, Same('\u{3A5}')), (0x038F, 0x038F, Same('\u{3A9}')),
    (0x0390, 0x0390, Same('\u{399}')), (0x03AA, 0x03AA, Same('\u{399}')),
    (0x03AB, 0x03AB, Same('\u{3A5}')), (0x03AC, 0x03AC, Same('\u{391}')),
    (0x03AD, 0x03AD, Same('\u{395}')), (0x03AE, 0x03AE, Same('\u{397}')),
    (0x03AF, 0x03AF, Same('\u{399}')), (0x03B0, 0x03B0, Same('\u{3A5}')),
    (0x03B1, 0x03C1, Shift(-32)), (0x03C2, 0x03C3, Same('\u{3A3}')), (0x03C4, 0x03C9, Shift(-32)),
    (0x03CA, 0x03CA, Same('\u{399}')), (0x03CB, 0x03CB, Same('\u{3A5}')),
    (0x03CC, 0x03CC, Same('\u{39F}')), (0x03CD, 0x03CD, Same('\u{3A5}')),
    (0x03CE, 0x03CE, Same('\u{3A9}')), (0x03D0, 0x03D0, Same('\u{392}')),
    (0x03D1, 0x03D1, Same('\u{398}')), (0x03D3, 0x03D4, Same('\u{3D2}')),
    (0x03D5, 0x03D5, Same('\u{3A6}')), (0x03D6, 0x03D6, Same('\u{3A0}')), (0x03DA, 0x03EF, Pairs),
    (0x03F0, 0x03F0, Same('\u{39A}')), (0x03F1, 0x03F1, Same('\u{3A1}')),
    (0x03F2, 0x03F2, Same('\u{3A3}')), (0x0400, 0x0401, Same('\u{415}')),
    (0x0403, 0x0403, Same('\u{413}')), (0x0407, 0x0407, Same('\u{406}')),
    (0x040C, 0x040C, Same('\u{41A}')), (0x040D, 0x040D, Same('\u{418}')),
    (0x040E, 0x040E, Same('\u{423}')), (0x0430, 0x044F, Shift(-32)),
    (0x0450, 0x0451, Same('\u{415}')), (0x0452, 0x0452, Same('\u{402}')),
    (0x0453, 0x0453, Same('\u{413}')), (0x0454, 0x0456, Shift(-80)),
    (0x0457, 0x0457, Same('\u{406}')), (0x0458, 0x045B, Shift(-80)),
    (0x045C, 0x045C, Same('\u{41A}')), (0x045D, 0x045D, Same('\u{418}')),
    (0x045E, 0x045E, Same('\u{423}')), (0x045F, 0x045F, Same('\u{40F}')), (0x0460, 0x0475, Pairs),
    (0x0476, 0x0477, Same('\u{474}')), (0x0478, 0x0481, Pairs), (0x048C, 0x04BF, Pairs),
    (0x04C1, 0x04C2, Same('\u{416}')), (0x04C4, 0x04C4, Same('\u{4C3}')),
    (0x04C8, 0x04C8, Same('\u{4C7}')), (0x04CC, 0x04CC, Same('\u{4CB}')),
    (0x04D0, 0x04D3, Same('\u{410}')), (0x04D5, 0x04D5, Same('\u{4D4}')),
    (0x04D6, 0x04D7, Same('\u{415}')), (0x04D9, 0x04DB, Same('\u{4D8}')),
    (0x04DC, 0x04DD, Same('\u{416}')), (0x04DE, 0x04DF, Same('\u{417}')),
    (0x04E1, 0x04E1, Same('\u{4E0}')), (0x04E2, 0x04E5, Same('\u{418}')),
    (0x04E6, 0x04E7, Same('\u{41E}')), (0x04E9, 0x04EB, Same('\u{4E8}')),
    (0x04EC, 0x04ED, Same('\u{42D}')), (0x04EE, 0x04F3, Same('\u{423}')),
    (0x04F4, 0x04F5, Same('\u{427}')), (0x04F8, 0x04F9, Same('\u{42B}')),
    (0x0561, 0x0586, Shift(-48)), (0x1E00, 0x1E01, Same('A')), (0x1E02, 0x1E07, Same('B')),
    (0x1E08, 0x1E09, Same('C')), (0x1E0A, 0x1E13, Same('D')), (0x1E14, 0x1E1D, Same('E')),
    (0x1E1E, 0x1E1F, Same('F')), (0x1E20, 0x1E21, Same('G')), (0x1E22, 0x1E2B, Same('H')),
    (0x1E2C, 0x1E2F, Same('I')), (0x1E30, 0x1E35, Same('K')), (0x1E36, 0x1E3D, Same('L')),
    (0x1E3E, 0x1E43, Same('M')), (0x1E44, 0x1E4B, Same('N')), (0x1E4C, 0x1E53, Same('O')),
    (0x1E54, 0x1E57, Same('P')), (0x1E58, 0x1E5F, Same('R')), (0x1E60, 0x1E69, Same('S')),
    (0x1E6A, 0x1E71, Same('T')), (0x1E72, 0x1E7B, Same('U')), (0x1E7C, 0x1E7F, Same('V')),
    (0x1E80, 0x1E89, Same('W')), (0x1E8A, 0x1E8D, Same('X')), (0x1E8E, 0x1E8F, Same('Y')),
    (0x1E90, 0x1E95, Same('Z')), (0x1E96, 0x1E96, Same('H')), (0x1E97, 0x1E97, Same('T')),
    (0x1E98, 0x1E98, Same('W')), (0x1E99, 0x1E99, Same('Y')), (0x1E9B, 0x1E9B, Same('S')),
    (0x1EA0, 0x1EB7, Same('A')), (0x1EB8, 0x1EC7, Same('E')), (0x1EC8, 0x1ECB, Same('I')),
    (0x1ECC, 0x1EE3, Same('O')), (0x1EE4, 0x1EF1, Same('U')), (0x1EF2, 0x1EF9, Same('Y')),
    (0x1F00, 0x1F0F, Same('\u{391}')), (0x1F10, 0x1F15, Same('\u{395}')),
    (0x1F18, 0x1F1D, Same('\u{395}')), (0x1F20, 0x1F2F, Same('\u{397}')),
    (0x1F30, 0x1F3F, Same('\u{399}')), (0x1F40, 0x1F45, Same('\u{39F}')),
    (0x1F48, 0x1F4D, Same('\u{39F}')), (0x1F50, 0x1F57, Same('\u{3A5}')),
    (0x1F59, 0x1F59, Same('\u{3A5}')), (0x1F5B, 0x1F5B, Same('\u{3A5}')),
    (0x1F5D, 0x1F5D, Same('\u{3A5}')), (0x1F5F, 0x1F5F, Same('\u{3A5}')),
    (0x1F60, 0x1F6F, Same('\u{3A9}')), (0x1F70, 0x1F70, Same('\u{391}')),
    (0x1F71, 0x1F71, Same('\u{1FBB}')), (0x1F72, 0x1F72, Same('\u{395}')),
    (0x1F73, 0x1F73, Same('\u{1FC9}')), (0x1F74, 0x1F74, Same('\u{397}')),
    (0x1F75, 0x1F75, Same('\u{1FCB}')), (0x1F76, 0x1F76, Same('\u{399}')),
    (0x1F77, 0x1F77, Same('\u{1FDB}')), (0x1F78, 0x1F78, Same('\u{39F}')),
    (0x1F79, 0x1F79, Same('\u{1FF9}')), (0x1F7A, 0x1F7A, Same('\u{3A5}')),
    (0x1F7B, 0x1F7B, Same('\u{1FEB}')), (0x1F7C, 0x1F7C, Same('\u{3A9}')),
    (0x1F7D, 0x1F7D, Same('\u{1FFB}')), (0x1F80, 0x1F8F, Same('\u{391}')),
    (0x1F90, 0x1F9F, Same('\u{397}')), (0x1FA0, 0x1FAF, Same('\u{3A9}')),
    (0x1FB0, 0x1FB4, Same('\u{391}')), (0x1FB6, 0x1FBA, Same('\u{391}')),
    (0x1FBC, 0x1FBC, Same('\u{391}')), (0x1FBE, 0x1FBE, Same('\u{399}')),
    (0x1FC2, 0x1FC4, Same('\u{397}')), (0x1FC6, 0x1FC7, Same('\u{397}')),
    (0x1FC8, 0x1FC8, Same('\u{395}')), (0x1FCA, 0x1FCA, Same('\u{397}')),
    (0x1FCC, 0x1FCC, Same('\u{397}')), (0x1FD0, 0x1FD2, Same('\u{399}')),
    (0x1FD6, 0x1FDA, Same('\u{399}')), (0x1FE0, 0x1FE2, Same('\u{3A5}')),
    (0x1FE4, 0x1FE5, Same('\u{3A1}')), (0x1FE6, 0x1FEA, Same('\u{3A5}')),
    (0x1FEC, 0x1FEC, Same('\u{3A1}')), (0x1FF2, 0x1FF4, Same('\u{3A9}')),
    (0x1FF6, 0x1FF7, Same('\u{3A9}')), (0x1FF8, 0x1FF8, Same('\u{39F}')),
    (0x1FFA, 0x1FFA, Same('\u{3A9}')), (0x1FFC, 0x1FFC, Same('\u{3A9}')),
    (0x2170, 0x217F, Shift(-16)), (0x24D0, 0x24E9, Shift(-26)), (0xFF41, 0xFF5A, Shift(-32)),
];

/// The `utf8_general_ci` weight of `c`. Characters outside the BMP, which the collation
/// cannot tell apart from one another, all weigh U+FFFD, as in the server.
pub fn weight(c: char) -> u16 {
    // Below U+0080 the table has one run, a-z to A-Z (`ascii_is_upper_case` checks it).
    if c.is_ascii() {
        return u16::from(c.to_ascii_uppercase() as u8);
    }
    let Ok(cp) = u16::try_from(u32::from(c)) else {
        return 0xFFFD;
    };
    table_weight(cp)
}

/// The weight [`RUNS`] gives the BMP character `cp`.
fn table_weight(cp: u16) -> u16 {
    let i = RUNS.partition_point(|&(first, _, _)| first <= cp);
    match i.checked_sub(1).map(|i| RUNS[i]) {
        Some((first, last, rule)) if cp <= last => match rule {
            Same(w) => u16::try_from(u32::from(w)).expect("weights are BMP"),
            Shift(d) => u16::try_from(i32::from(cp) + d).expect("weights are BMP"),
            Pairs => cp - (cp - first) % 2,
        },
        _ => cp,
    }
}

/// The collation key of `id`: the weights of its characters without trailing spaces. Two
/// ids are one key in `gorp_migrations.id` exactly when their keys are equal.
pub fn key(id: &str) -> Vec<u16> {
    Folded::new(id).weights().collect()
}

/// An id standing for its collation key without building it: equal and hashed as the
/// key is, so a set of ids costs no allocation per id.
struct Folded<'a>(&'a str);

impl<'a> Folded<'a> {
    /// Only U+0020 weighs 0x20 (`only_space_weighs_space` checks it), so dropping
    /// trailing spaces from the id drops them from the key.
    fn new(id: &'a str) -> Self {
        Folded(id.trim_end_matches(' '))
    }

    fn weights(&self) -> impl Iterator<Item = u16> + '_ {
        self.0.chars().map(weight)
    }
}

impl PartialEq for Folded<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.weights().eq(other.weights())
    }
}

impl Eq for Folded<'_> {}

impl Hash for Folded<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // The key's bytes in fixed chunks: equal keys feed the hasher the same calls.
        let mut chunk = [0u8; 64];
        let mut n = 0;
        for w in self.weights() {
            chunk[n..n + 2].copy_from_slice(&w.to_le_bytes());
            n += 2;
            if n == chunk.len() {
                state.write(&chunk);
                n = 0;
            }
        }
        state.write(&chunk[..n]);
    }
}

/// The first pair of `ids` (by position) that `utf8_general_ci` takes for one key, as
/// indices `(earlier, later)`.
pub fn first_collision<'a>(ids: impl IntoIterator<Item = &'a str>) -> Option<(usize, usize)> {
    let ids = ids.into_iter();
    let mut seen = HashMap::with_capacity(ids.size_hint().0);
    for (i, id) in ids.enumerate() {
        match seen.entry(Folded::new(id)) {
            Entry::Occupied(earlier) => return Some((*earlier.get(), i)),
            Entry::Vacant(slot) => {
                slot.insert(i);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_sorted_and_disjoint() {
        for w in RUNS.windows(2) {
            assert!(w[0].0 <= w[0].1 && w[0].1 < w[1].0, "{:#x}", w[1].0);
        }
    }

    #[test]
    fn ascii_is_upper_case() {
        for cp in 0..0x80u16 {
            let c = char::from(cp as u8);
            assert_eq!(weight(c), table_weight(cp), "{c:?}");
        }
    }

    #[test]
    fn only_space_weighs_space() {
        for c in (0..=0xFFFFu32).filter_map(char::from_u32) {
            assert_eq!(weight(c) == 0x20, c == ' ', "{c:?}");
        }
    }

    #[test]
    fn case_and_accents_fold() {
        let same = [
            ("1_A.sql", "1_a.sql"),
            ("1_é.sql", "1_E.sql"),
            ("1_ß.sql", "1_s.sql"),
            ("1_Ǆ.sql", "1_ǆ.sql"),
            ("1_ё.sql", "1_Е.sql"),
            ("1_ı.sql", "1_i.sql"),
            ("1_ａ.sql", "1_Ａ.sql"),
            ("1_Ω.sql", "1_ω.sql"),
            ("a", "a  "),
        ];
        for (a, b) in same {
            assert_eq!(key(a), key(b), "{a} {b}");
        }
        let different = [
            ("1_ß.sql", "1_ss.sql"),
            ("1_ø.sql", "1_o.sql"),
            ("1_æ.sql", "1_ae.sql"),
            ("1_a.sql", "1_b.sql"),
            ("a", " a"),
            ("1_Ω.sql", "1_\u{2126}.sql"),
        ];
        for (a, b) in different {
            assert_ne!(key(a), key(b), "{a} {b}");
        }
        assert_eq!(weight('\u{1F600}'), 0xFFFD);
    }

    #[test]
    fn collisions_are_found_by_position() {
        assert_eq!(
            first_collision(["1_a.sql", "2_b.sql", "1_A.sql"]),
            Some((0, 2))
        );
        assert_eq!(first_collision(["1_a.sql", "2_b.sql"]), None);
        assert_eq!(first_collision(["x", "x"]), Some((0, 1)));
    }
}
