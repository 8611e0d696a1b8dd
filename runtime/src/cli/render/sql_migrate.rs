//! `status --format sql-migrate`: the table rubenv/sql-migrate's own `status` prints, byte
//! for byte for the same database, so that scripts written against it keep working.
//!
//! The reference is the build the tests run (Debian's sql-migrate snapshot of 2019-12-13
//! with olekukonko/tablewriter 0.0.5 and go-runewidth 0.0.14). Its `status`:
//! - prints `Could not find migration file: ID` for each history row without a file, in
//!   the history's `ORDER BY id` order, on **stdout** (its `BasicUi` has no error writer),
//!   before the table;
//! - lists every migration file in apply order with `no` or the history row's
//!   `applied_at` as Go's `time.Time.String()` gives it; partial or journal states do not
//!   count, only whether the history has the row;
//! - renders with tablewriter's defaults and `SetColWidth(60)`: borders, a header centred
//!   and upper-cased, cells padded by one space, a cell that looks like a number aligned
//!   right, and cells wider than 60 columns wrapped at spaces with minimal raggedness.
//!
//! Where it cannot match: a history row whose `applied_at` is NULL makes sql-migrate fail
//! (Go cannot scan NULL into a time), and shows `yes` here; with `loc=Local` in the DSN
//! sql-migrate names the local zone, which here is always `+0000 UTC` (Lambda's zone);
//! widths of characters whose width depends on the locale (East Asian "ambiguous" ones)
//! are counted as a non-CJK locale counts them; untrusted text (history ids) has its
//! control characters replaced by spaces, which sql-migrate prints raw.

use engine::command::StatusReport;
use engine::plan::MigrationState;
use unicode_width::UnicodeWidthChar;

/// tablewriter's width limit before `SetColWidth` (the header is set before it).
const HEADER_WIDTH: usize = 30;
/// sql-migrate's `SetColWidth(60)`.
const CELL_WIDTH: usize = 60;
/// tablewriter's penalty for a line longer than the limit.
const TOO_LONG_PENALTY: i64 = 100_000;

/// Everything sql-migrate's `status` prints on stdout for `report`.
pub fn status(report: &StatusReport) -> String {
    let mut out = String::new();
    for r in report
        .migrations
        .iter()
        .filter(|r| r.state == MigrationState::Unknown)
    {
        out.push_str("Could not find migration file: ");
        out.push_str(&clean(&r.id));
        out.push('\n');
    }
    let mut table = Table::new(&["Migration", "Applied"]);
    for r in report
        .migrations
        .iter()
        .filter(|r| r.state != MigrationState::Unknown)
    {
        let applied = r.applied_at.as_deref().map_or_else(|| "no".into(), go_time);
        table.append(&[&clean(&r.id), &applied]);
    }
    table.render(&mut out);
    out
}

/// `applied_at` as the server sends it (`YYYY-MM-DD HH:MM:SS[.ffffff]`, the column's
/// precision) as go-sql-driver reads it with `parseTime=true` and the default `loc=UTC`,
/// through Go's `time.Time.String()`: fraction without trailing zeros, then the zone.
fn go_time(at: &str) -> String {
    const ZONE: &str = " +0000 UTC";
    if at.is_empty() {
        // NULL: sql-migrate cannot scan it (see the module docs).
        return "yes".into();
    }
    // go-sql-driver reads an all-zero value as Go's zero time.
    if at
        .bytes()
        .all(|b| matches!(b, b'0' | b'-' | b':' | b' ' | b'.'))
    {
        return format!("0001-01-01 00:00:00{ZONE}");
    }
    let at = clean(at);
    // A DATE column reads as midnight.
    if at.len() == 10 {
        return format!("{at} 00:00:00{ZONE}");
    }
    match at.split_once('.') {
        Some((base, fraction)) => {
            let fraction = fraction.trim_end_matches('0');
            if fraction.is_empty() {
                format!("{base}{ZONE}")
            } else {
                format!("{base}.{fraction}{ZONE}")
            }
        }
        None => format!("{at}{ZONE}"),
    }
}

/// Untrusted text with its control characters replaced by spaces (sql-migrate prints
/// them raw; a file's id never has one, so ordinary output is unchanged).
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Columns a string takes on a terminal, as go-runewidth counts them outside East Asian
/// locales (control characters take none).
fn width(s: &str) -> usize {
    s.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// The part of tablewriter's `Table` that sql-migrate uses.
struct Table {
    /// The header's cells, as given.
    header: Vec<String>,
    /// Each column's width: the widest line of any of its cells.
    widths: Vec<usize>,
    /// Each row's cells, each as its wrapped lines.
    rows: Vec<Vec<Vec<String>>>,
}

impl Table {
    /// `NewWriter` then `SetHeader(header)`.
    fn new(header: &[&str]) -> Table {
        let mut widths = Vec::with_capacity(header.len());
        for h in header {
            widths.push(wrap_cell(h, HEADER_WIDTH).1);
        }
        Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            widths,
            rows: Vec::new(),
        }
    }

    /// `Append(cells)`, after `SetColWidth(60)`.
    fn append(&mut self, cells: &[&str]) {
        let mut row = Vec::with_capacity(cells.len());
        for (i, cell) in cells.iter().enumerate() {
            let (lines, w) = wrap_cell(cell, CELL_WIDTH);
            match self.widths.get_mut(i) {
                Some(cw) => *cw = (*cw).max(w),
                None => self.widths.push(w),
            }
            row.push(lines);
        }
        self.rows.push(row);
    }

    /// `Render()`: the borders, the header, a line, the rows, a line.
    fn render(&self, out: &mut String) {
        self.line(out);
        out.push('|');
        for (h, &w) in self.header.iter().zip(&self.widths) {
            out.push(' ');
            out.push_str(&pad_center(&title(h), w));
            out.push_str(" |");
        }
        out.push('\n');
        self.line(out);
        for row in &self.rows {
            let height = row.iter().map(Vec::len).max().unwrap_or(0);
            for x in 0..height {
                out.push('|');
                for (cell, &w) in row.iter().zip(&self.widths) {
                    // A cell with fewer lines than its row's tallest is filled with two
                    // spaces, as tablewriter does.
                    let line = cell.get(x).map_or("  ", String::as_str);
                    out.push(' ');
                    if is_decimal(line.trim()) {
                        out.push_str(&pad_left(line, w));
                    } else {
                        out.push_str(&pad_right(line, w));
                    }
                    out.push_str(" |");
                }
                out.push('\n');
            }
        }
        self.line(out);
    }

    /// A border line: `+` at each column's edges, `-` across it and its padding.
    fn line(&self, out: &mut String) {
        out.push('+');
        for &w in &self.widths {
            out.extend(std::iter::repeat_n('-', w + 2));
            out.push('+');
        }
        out.push('\n');
    }
}

/// tablewriter's `parseDimension` with wrapping and reflow on: the cell's lines and its
/// width. Lines are joined into one paragraph and wrapped at `max` columns, or at the
/// cell's widest line if narrower, or at its longest word if wider.
fn wrap_cell(cell: &str, max: usize) -> (Vec<String>, usize) {
    let limit = cell.split('\n').map(width).max().unwrap_or(0).min(max);
    let lines = wrap_string(&cell.split('\n').collect::<Vec<_>>().join(" "), limit);
    let widest = lines.iter().map(|l| width(l)).max().unwrap_or(0);
    (lines, widest.max(limit))
}

/// tablewriter's `WrapString`: `s` split at each single space (so runs of spaces leave
/// empty words), wrapped to `limit` columns or to its longest word.
fn wrap_string(s: &str, limit: usize) -> Vec<String> {
    let s = s.replace('\n', " ");
    let words: Vec<&str> = s.split(' ').collect();
    let widths: Vec<usize> = words.iter().map(|w| width(w)).collect();
    let limit = widths.iter().copied().fold(limit, usize::max);
    let mut lines = Vec::new();
    let mut i = 0;
    let breaks = wrap_words(&widths, limit);
    while i < words.len() {
        lines.push(words[i..breaks[i]].join(" "));
        i = breaks[i];
    }
    lines
}

/// tablewriter's `WrapWords` with one column between words: for each word, where the line
/// it starts ends, chosen to minimise the sum over lines of the squared room left (a line
/// wider than `limit` costs a penalty more; the last line costs nothing). Ties go to the
/// earliest break. O(n²) in the number of words, which an id of at most 255 characters
/// bounds.
fn wrap_words(widths: &[usize], limit: usize) -> Vec<usize> {
    let n = widths.len();
    let limit = limit as i64;
    // prefix[k]: the widths of the first k words.
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0i64);
    for &w in widths {
        prefix.push(prefix.last().copied().unwrap_or(0) + w as i64);
    }
    // The width of words i..=j on one line.
    let length = |i: usize, j: usize| prefix[j + 1] - prefix[i] + (j - i) as i64;
    let mut cost = vec![i64::from(i32::MAX); n];
    let mut breaks = vec![0; n];
    for i in (0..n).rev() {
        if length(i, n - 1) <= limit {
            cost[i] = 0;
            breaks[i] = n;
            continue;
        }
        for j in i + 1..n {
            let l = length(i, j - 1);
            let d = limit - l;
            let mut c = d * d + cost[j];
            if l > limit {
                c += TOO_LONG_PENALTY;
            }
            if c < cost[i] {
                cost[i] = c;
                breaks[i] = j;
            }
        }
    }
    breaks
}

/// tablewriter's `Title` for a header: `_` becomes a space, so does a `.` not between
/// digits, then trimmed and upper-cased.
fn title(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let num_or_space = |c: char| c.is_ascii_digit() || c == ' ';
    let replaced: String = chars
        .iter()
        .enumerate()
        .map(|(i, &c)| match c {
            '_' => ' ',
            '.' if (i != 0 && !num_or_space(chars[i - 1]))
                || (i + 1 != chars.len() && !num_or_space(chars[i + 1])) =>
            {
                ' '
            }
            c => c,
        })
        .collect();
    let trimmed = replaced.trim();
    if trimmed.is_empty() && !name.is_empty() {
        return " ".into();
    }
    trimmed.to_uppercase()
}

/// Whether tablewriter aligns the text right: it matches
/// `^-?(?:\d{1,3}(?:,\d{3})*|\d+)(?:\.\d+)?$` (ASCII digits).
fn is_decimal(s: &str) -> bool {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let s = s.strip_prefix('-').unwrap_or(s);
    let (int, fraction) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    if fraction.is_some_and(|f| !digits(f)) {
        return false;
    }
    if digits(int) {
        return true;
    }
    let mut groups = int.split(',');
    let first = groups.next().unwrap_or("");
    digits(first) && first.len() <= 3 && groups.all(|g| digits(g) && g.len() == 3)
}

/// `s` centred in `w` columns, the odd space on the right.
fn pad_center(s: &str, w: usize) -> String {
    let gap = w.saturating_sub(width(s));
    let left = gap / 2;
    format!("{}{s}{}", " ".repeat(left), " ".repeat(gap - left))
}

/// `s` left-aligned in `w` columns.
fn pad_right(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(width(s))))
}

/// `s` right-aligned in `w` columns.
fn pad_left(s: &str, w: usize) -> String {
    format!("{}{s}", " ".repeat(w.saturating_sub(width(s))))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{row, status_report as report};
    use super::*;

    #[test]
    fn an_empty_set_is_the_header_alone() {
        assert_eq!(
            status(&report(Vec::new())),
            "+-----------+---------+\n\
             | MIGRATION | APPLIED |\n\
             +-----------+---------+\n\
             +-----------+---------+\n"
        );
    }

    #[test]
    fn applied_times_read_as_go_prints_them_and_unknown_rows_warn_first() {
        let got = status(&report(vec![
            row(
                "1_init.sql",
                Some("2024-01-02 03:04:05"),
                MigrationState::Applied,
            ),
            row(
                "2_b.sql",
                Some("2024-01-02 03:04:05.120000"),
                MigrationState::Applied,
            ),
            // A partial `down` still has its history row: applied, as sql-migrate says.
            row(
                "3_c.sql",
                Some("2024-01-02 03:04:05.000000"),
                MigrationState::Partial,
            ),
            row("4_d.sql", None, MigrationState::Partial),
            row("5_e.sql", None, MigrationState::CatchUp),
            row(
                "0_gone.sql",
                Some("2020-01-01 00:00:00"),
                MigrationState::Unknown,
            ),
            row("x\u{1b}[31m\n.sql", None, MigrationState::Unknown),
        ]));
        // Checked against tablewriter 0.0.5 rendering the same rows.
        assert_eq!(
            got,
            "Could not find migration file: 0_gone.sql\n\
             Could not find migration file: x [31m .sql\n\
             +------------+----------------------------------+\n\
             | MIGRATION  |             APPLIED              |\n\
             +------------+----------------------------------+\n\
             | 1_init.sql | 2024-01-02 03:04:05 +0000 UTC    |\n\
             | 2_b.sql    | 2024-01-02 03:04:05.12 +0000 UTC |\n\
             | 3_c.sql    | 2024-01-02 03:04:05 +0000 UTC    |\n\
             | 4_d.sql    | no                               |\n\
             | 5_e.sql    | no                               |\n\
             +------------+----------------------------------+\n"
        );
    }

    #[test]
    fn go_times() {
        assert_eq!(
            go_time("2024-01-02 03:04:05"),
            "2024-01-02 03:04:05 +0000 UTC"
        );
        assert_eq!(
            go_time("2024-01-02 03:04:05.500"),
            "2024-01-02 03:04:05.5 +0000 UTC"
        );
        assert_eq!(
            go_time("2024-01-02 03:04:05.000001"),
            "2024-01-02 03:04:05.000001 +0000 UTC"
        );
        assert_eq!(go_time("2024-01-02"), "2024-01-02 00:00:00 +0000 UTC");
        assert_eq!(
            go_time("0000-00-00 00:00:00.000000"),
            "0001-01-01 00:00:00 +0000 UTC"
        );
        assert_eq!(go_time(""), "yes");
    }

    #[test]
    fn an_id_over_60_columns_without_spaces_widens_its_column() {
        let id = format!("{}.sql", "a".repeat(70));
        let got = status(&report(vec![row(&id, None, MigrationState::Pending)]));
        let lines: Vec<&str> = got.lines().collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[3], format!("| {id} | no      |"));
        assert_eq!(lines[1], format!("| {:^74} | APPLIED |", "MIGRATION"));
    }

    #[test]
    fn an_id_over_60_columns_with_spaces_wraps_with_minimal_raggedness() {
        // The last line costs nothing, so 54 + 36 columns (6² room left) beats 43 + 47
        // (17²); the column takes the 60-column limit, and the APPLIED cell's second line
        // is tablewriter's filler of two spaces. Checked against tablewriter 0.0.5.
        let words: Vec<String> = (0..8).map(|i| format!("word{i:06}")).collect();
        let id = format!("{}.sql", words.join(" "));
        let got = status(&report(vec![row(&id, None, MigrationState::Pending)]));
        let lines: Vec<&str> = got.lines().collect();
        assert_eq!(
            lines[1],
            "|                          MIGRATION                           | APPLIED |"
        );
        assert_eq!(
            lines[3],
            "| word000000 word000001 word000002 word000003 word000004       | no      |"
        );
        assert_eq!(
            lines[4],
            "| word000005 word000006 word000007.sql                         |         |"
        );
        assert_eq!(lines.len(), 6);
    }

    #[test]
    fn a_wrapped_line_that_reads_as_a_number_is_aligned_right() {
        // The longest word (62 columns) sets the limit; "2024" fits beside neither
        // neighbour, so it stands alone, and a number is aligned right.
        let id = format!("{} 2024 {}.sql", "a".repeat(58), "b".repeat(58));
        let got = status(&report(vec![row(&id, None, MigrationState::Pending)]));
        let lines: Vec<&str> = got.lines().collect();
        assert_eq!(lines[3], format!("| {:<62} | no      |", "a".repeat(58)));
        assert_eq!(lines[4], format!("| {:>62} |         |", "2024"));
        assert_eq!(lines[5], format!("| {}.sql |         |", "b".repeat(58)));
        assert!(is_decimal("2024") && is_decimal("-1,234.50") && is_decimal("12345"));
        assert!(!is_decimal("1234,567") && !is_decimal("1.") && !is_decimal(""));
        assert!(!is_decimal("1,23") && !is_decimal(".5") && !is_decimal("1.2.3"));
        assert!(!is_decimal("2024 1,234.5"));
    }

    #[test]
    fn runs_of_spaces_and_an_empty_cell_keep_their_width() {
        let got = status(&report(vec![
            row("x  y   z.sql", None, MigrationState::Pending),
            row(
                "ab.sql",
                Some("2024-01-02 03:04:05"),
                MigrationState::Applied,
            ),
        ]));
        assert_eq!(
            got.lines().nth(3).unwrap(),
            "| x  y   z.sql | no                            |"
        );
    }

    #[test]
    fn wide_and_combining_characters_count_as_terminals_show_them() {
        // CJK ideographs take two columns, a combining accent none.
        let got = status(&report(vec![
            row("1_表.sql", None, MigrationState::Pending),
            row("2_e\u{301}.sql", None, MigrationState::Pending),
        ]));
        let lines: Vec<&str> = got.lines().collect();
        assert_eq!(lines[1], "| MIGRATION | APPLIED |");
        assert_eq!(lines[3], "| 1_表.sql  | no      |");
        assert_eq!(lines[4], "| 2_e\u{301}.sql   | no      |");
    }

    #[test]
    fn titles_and_padding_follow_tablewriter() {
        assert_eq!(title("Migration"), "MIGRATION");
        assert_eq!(title("applied_at"), "APPLIED AT");
        assert_eq!(title("v1.2 x.y"), "V1.2 X Y");
        assert_eq!(title("_"), " ");
        assert_eq!(pad_center("ab", 7), "  ab   ");
        assert_eq!(wrap_string("a  b", 1), ["a", "", "b"]);
        assert_eq!(wrap_string("", 0), [""]);
    }
}
