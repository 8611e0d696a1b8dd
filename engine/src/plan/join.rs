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
pub(super) struct Joined<'r> {
    /// Per migration: its history row (the last, should a table without its primary key
    /// hold several) and how many rows it has.
    pub(super) history: Vec<(Option<&'r HistoryRow>, usize)>,
    /// Per migration: its journal row (the last, should there be several).
    pub(super) journal: Vec<Option<&'r JournalRow>>,
    /// History rows without a file, in apply order.
    pub(super) unknown: Vec<&'r HistoryRow>,
    /// Every history id with its loose version, in apply order.
    applied: Vec<(Option<i64>, &'r str)>,
}

impl<'r> Joined<'r> {
    /// Matches `history` and `journal` to `migrations`.
    pub(super) fn new(
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
        let mut rows: Vec<(Option<i64>, &'r HistoryRow)> = history
            .iter()
            .map(|h| (loose_version(&h.id), h))
            .collect();
        rows.sort_by(|a, b| compare(&a.1.id, a.0, &b.1.id, b.0));
        let applied = rows.iter().map(|&(v, h)| (v, h.id.as_str())).collect();
        let mut by_file = vec![(None, 0); migrations.len()];
        let mut unknown = Vec::new();
        merge(
            migrations,
            rows.into_iter().map(|(v, h)| (v, h.id.as_str(), h)),
            |i, h| by_file[i] = (Some(h), by_file[i].1 + 1),
            |h| unknown.push(h),
        );
        let mut rows: Vec<(Option<i64>, &'r JournalRow)> = journal
            .iter()
            .map(|j| (loose_version(&j.id), j))
            .collect();
        rows.sort_by(|a, b| compare(&a.1.id, a.0, &b.1.id, b.0));
        let mut journal = vec![None; migrations.len()];
        merge(
            migrations,
            rows.into_iter().map(|(v, j)| (v, j.id.as_str(), j)),
            |i, j| journal[i] = Some(j),
            |_| {},
        );
        Joined {
            history: by_file,
            journal,
            unknown,
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
