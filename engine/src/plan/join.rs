//! Which history and journal rows belong to which migration file.
//!
//! Ids are untrusted, so they are matched by sorting and merging rather than hashing: the
//! rows are sorted in apply order (the files already are) and walked once beside the
//! files. A server returns the rows in primary-key order, which is apply order for
//! zero-padded or timestamped ids, so the sort is usually one linear pass; whatever the
//! ids, it is O(n log n) and no input can make it degrade further.

use std::cmp::Ordering;

use super::{HistoryRow, JournalRow, loose_version};
use crate::migration::Migration;
use crate::migration::order::compare;

/// The history and the journal, matched to the migrations (which must be in apply order
/// with distinct ids, as [`crate::migration::scan`] returns them).
pub(crate) struct Joined<'r> {
    /// Per migration: its history row (the last, should a table without its primary key
    /// hold several) and how many rows it has.
    pub(super) history: Vec<(Option<&'r HistoryRow>, usize)>,
    /// Per migration: its journal row (the last, should there be several).
    pub(super) journal: Vec<Option<&'r JournalRow>>,
    /// History rows without a file, in apply order.
    pub(super) unknown: Vec<&'r HistoryRow>,
    /// The journal as read.
    pub(super) rows: &'r [JournalRow],
    /// Every history id with its loose version, in apply order.
    applied: Vec<(Option<i64>, &'r str)>,
}

impl<'r> Joined<'r> {
    /// Matches `history` and `journal` to `migrations`.
    pub(crate) fn new(
        migrations: &[Migration<'_>],
        history: &'r [HistoryRow],
        journal: &'r [JournalRow],
    ) -> Self {
        debug_assert!(
            migrations
                .windows(2)
                .all(|w| compare(w[0].id, w[0].version, w[1].id, w[1].version).is_lt()),
            "migrations in apply order with distinct ids"
        );
        let rows = in_apply_order(migrations, history, |h| &h.id);
        let applied = rows.iter().map(|&(v, h)| (v, h.id.as_str())).collect();
        let mut history = vec![(None, 0); migrations.len()];
        let mut unknown = Vec::new();
        merge(
            migrations,
            rows.into_iter().map(|(v, h)| (v, h.id.as_str(), h)),
            |i, h| history[i] = (Some(h), history[i].1 + 1),
            |h| unknown.push(h),
        );
        let by_id = in_apply_order(migrations, journal, |j| &j.id);
        let mut by_file = vec![None; migrations.len()];
        merge(
            migrations,
            by_id.into_iter().map(|(v, j)| (v, j.id.as_str(), j)),
            |i, j| by_file[i] = Some(j),
            |_| {},
        );
        Joined {
            history,
            journal: by_file,
            unknown,
            rows: journal,
            applied,
        }
    }

    /// Whether the history holds `id` (any id, with or without a file).
    pub(super) fn is_applied(&self, id: &str) -> bool {
        let v = loose_version(id);
        self.applied
            .binary_search_by(|&(hv, h)| compare(h, hv, id, v))
            .is_ok()
    }

    /// The newest history id in apply order.
    pub(super) fn newest(&self) -> Option<&'r str> {
        self.applied.last().map(|&(_, id)| id)
    }

    /// Whether migration `i` is in the history.
    pub(super) fn applied(&self, i: usize) -> bool {
        self.history[i].0.is_some()
    }
}

/// The index of the migration with `id`, if any.
pub(super) fn index_of(migrations: &[Migration<'_>], id: &str) -> Option<usize> {
    let v = loose_version(id);
    migrations
        .binary_search_by(|m| compare(m.id, m.version, id, v))
        .ok()
}

/// `rows` with their loose versions, in apply order (a stable sort). A server returns
/// rows in key order, which for most ids is the files' order: when every row is the id of
/// a file at or after the previous row's, the versions are the files' and nothing is
/// parsed or sorted.
fn in_apply_order<'r, T>(
    migrations: &[Migration<'_>],
    rows: &'r [T],
    id: impl Fn(&T) -> &str,
) -> Vec<(Option<i64>, &'r T)> {
    let mut out = Vec::with_capacity(rows.len());
    let mut i = 0;
    for row in rows {
        let id = id(row);
        while migrations.get(i).is_some_and(|m| m.id != id) {
            i += 1;
        }
        let Some(m) = migrations.get(i) else {
            break;
        };
        out.push((m.version, row));
    }
    if out.len() < rows.len() {
        out.clear();
        out.extend(rows.iter().map(|r| (loose_version(id(r)), r)));
        out.sort_by(|a, b| compare(id(a.1), a.0, id(b.1), b.0));
    }
    out
}

/// Walks `rows` (sorted in apply order) beside `migrations`, calling `matched` with the
/// migration's index for each row that has one and `unmatched` for the others.
fn merge<'s, T>(
    migrations: &[Migration<'_>],
    rows: impl Iterator<Item = (Option<i64>, &'s str, T)>,
    mut matched: impl FnMut(usize, T),
    mut unmatched: impl FnMut(T),
) {
    let mut i = 0;
    for (v, id, row) in rows {
        loop {
            let Some(m) = migrations.get(i) else {
                unmatched(row);
                break;
            };
            match compare(m.id, m.version, id, v) {
                Ordering::Less => i += 1,
                Ordering::Equal => {
                    matched(i, row);
                    break;
                }
                Ordering::Greater => {
                    unmatched(row);
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::{applied_row, hist, set};

    fn matched(j: &Joined<'_>) -> Vec<(Option<String>, usize)> {
        j.history
            .iter()
            .map(|(h, n)| (h.map(|h| h.id.clone()), *n))
            .collect()
    }

    #[test]
    fn rows_in_file_order_and_out_of_it_match_alike() {
        let ms = set(&["1_a.sql", "2_b.sql", "10_c.sql", "x.sql"]);
        let journal = vec![applied_row(&ms[3]), applied_row(&ms[0])];
        for ids in [
            &["1_a.sql", "10_c.sql", "x.sql"][..],
            &["x.sql", "10_c.sql", "1_a.sql"],
        ] {
            let h = hist(ids);
            let j = Joined::new(&ms, &h, &journal);
            let some = |id: &str| (Some(id.to_string()), 1);
            assert_eq!(
                matched(&j),
                [some("1_a.sql"), (None, 0), some("10_c.sql"), some("x.sql")]
            );
            assert!(j.unknown.is_empty());
            assert_eq!(j.newest(), Some("x.sql"));
            let journaled: Vec<_> = j.journal.iter().map(|r| r.map(|r| r.id.as_str())).collect();
            assert_eq!(journaled, [Some("1_a.sql"), None, None, Some("x.sql")]);
            assert!(j.is_applied("10_c.sql") && !j.is_applied("2_b.sql"));
        }
    }

    #[test]
    fn unknown_rows_come_in_apply_order_and_duplicates_count() {
        let ms = set(&["2_b.sql", "3_c.sql"]);
        let h = hist(&[
            "3_c.sql", "9_z.sql", "3_c.sql", "10_y.sql", "1_x.sql", "a.sql",
        ]);
        let j = Joined::new(&ms, &h, &[]);
        let unknown: Vec<_> = j.unknown.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(unknown, ["1_x.sql", "9_z.sql", "10_y.sql", "a.sql"]);
        assert_eq!(matched(&j), [(None, 0), (Some("3_c.sql".into()), 2)]);
        assert_eq!(j.newest(), Some("a.sql"));
        assert!(j.is_applied("9_z.sql") && !j.is_applied("2_b.sql"));
        assert_eq!(index_of(&ms, "3_c.sql"), Some(1));
        assert_eq!(index_of(&ms, "3_C.sql"), None);
    }
}
