//! `status`: one row per migration file and per unknown history row.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::checks::{checksums, find_partial};
use super::{HistoryRow, JournalRow, JournalState, loose_version, section};
use crate::migration::Migration;
use crate::migration::order::compare;

/// What `status` shows for one migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusRow {
    /// The migration id.
    pub id: String,
    /// The history row's `applied_at`, if applied.
    pub applied_at: Option<String>,
    /// `applied`, `pending`, `catch-up` (pending but older than the newest applied),
    /// `partial` or `unknown` (history row without a file).
    pub state: &'static str,
    /// `ok`, `drift`, `unrecorded` (applied without a checksum: adopted on the next
    /// run), or `-` where it does not apply.
    pub checksum: &'static str,
    /// The journal's note: the recorded error or partial progress.
    pub note: Option<String>,
}

/// The status of every migration file and every unknown history row, in apply order
/// (unknown rows last).
pub fn status(
    migrations: &[Migration<'_>],
    history: &[HistoryRow],
    journal: &[JournalRow],
) -> Vec<StatusRow> {
    let by_id: HashMap<&str, usize> = migrations
        .iter()
        .enumerate()
        .map(|(i, m)| (m.id, i))
        .collect();
    let applied: HashMap<&str, &HistoryRow> = history.iter().map(|h| (h.id.as_str(), h)).collect();
    let journal_by_id: HashMap<&str, &JournalRow> =
        journal.iter().map(|j| (j.id.as_str(), j)).collect();
    let (drift, adopt) = checksums(migrations, history, &by_id, &journal_by_id);
    let drifted: HashSet<&str> = drift.iter().map(|d| d.id.as_str()).collect();
    let adopt: HashSet<usize> = adopt.into_iter().collect();
    let partial = find_partial(journal, &applied.keys().copied().collect(), &by_id);
    let newest = history
        .iter()
        .map(|h| h.id.as_str())
        .max_by(|a, b| compare(a, loose_version(a), b, loose_version(b)));

    let mut rows = Vec::with_capacity(migrations.len());
    for (i, m) in migrations.iter().enumerate() {
        let h = applied.get(m.id);
        let is_partial = partial.as_ref().is_some_and(|p| p.index == Some(i));
        let state = if is_partial {
            "partial"
        } else if h.is_some() {
            "applied"
        } else if newest.is_some_and(|n| {
            compare(m.id, m.version, n, loose_version(n)) == std::cmp::Ordering::Less
        }) {
            "catch-up"
        } else {
            "pending"
        };
        let checksum = if h.is_none() {
            "-"
        } else if drifted.contains(m.id) {
            "drift"
        } else if adopt.contains(&i) {
            "unrecorded"
        } else {
            "ok"
        };
        let note = journal_by_id.get(m.id).and_then(|j| {
            if is_partial {
                Some(format!(
                    "{} {}: {} of {} statements committed{}",
                    j.direction,
                    j.state,
                    j.statements_applied,
                    section(m, j.direction).len(),
                    j.error
                        .as_ref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                ))
            } else if h.is_none() && j.state == JournalState::Failed {
                j.error
                    .as_ref()
                    .map(|e| format!("last attempt failed: {e}"))
            } else {
                None
            }
        });
        rows.push(StatusRow {
            id: m.id.to_string(),
            applied_at: h.and_then(|h| h.applied_at.clone()),
            state,
            checksum,
            note,
        });
    }
    let mut unknown: Vec<&HistoryRow> = history
        .iter()
        .filter(|h| !by_id.contains_key(h.id.as_str()))
        .collect();
    unknown.sort_by(|a, b| compare(&a.id, loose_version(&a.id), &b.id, loose_version(&b.id)));
    rows.extend(unknown.into_iter().map(|h| StatusRow {
        id: h.id.clone(),
        applied_at: h.applied_at.clone(),
        state: "unknown",
        checksum: "-",
        note: Some("no migration file".into()),
    }));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::{applied_row, hist, set};

    #[test]
    fn status_rows() {
        let ms = set(&["1_a.sql", "2_b.sql", "3_c.sql", "4_d.sql"]);
        let mut drifted = applied_row(&ms[2]);
        drifted.sha256 = Some("different".into());
        let j = vec![applied_row(&ms[0]), drifted];
        let rows = status(&ms, &hist(&["1_a.sql", "3_c.sql", "0_gone.sql"]), &j);
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.id.as_str(), r.state, r.checksum))
            .collect();
        assert_eq!(
            got,
            [
                ("1_a.sql", "applied", "ok"),
                ("2_b.sql", "catch-up", "-"),
                ("3_c.sql", "applied", "drift"),
                ("4_d.sql", "pending", "-"),
                ("0_gone.sql", "unknown", "-"),
            ]
        );
    }
}
