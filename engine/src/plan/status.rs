//! `status`: one row per migration file and per unknown history row.

use serde::{Deserialize, Serialize};

use super::checks::{checksums, find_partial};
use super::join::{Joined, index_of};
use super::{HistoryRow, JournalRow, JournalState, loose_version, section};
use crate::migration::Migration;
use crate::migration::order::compare;

/// Where a migration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MigrationState {
    /// Applied: the history has it.
    Applied,
    /// Not applied yet.
    Pending,
    /// Not applied, but older than the newest applied one (sql-migrate applies it).
    CatchUp,
    /// Left part-way by a run that failed or was interrupted.
    Partial,
    /// A history row without a migration file.
    Unknown,
}

impl std::fmt::Display for MigrationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl MigrationState {
    /// The name `status` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationState::Applied => "applied",
            MigrationState::Pending => "pending",
            MigrationState::CatchUp => "catch-up",
            MigrationState::Partial => "partial",
            MigrationState::Unknown => "unknown",
        }
    }

    /// A run still has to apply it.
    pub fn pending(self) -> bool {
        matches!(
            self,
            MigrationState::Pending | MigrationState::CatchUp | MigrationState::Partial
        )
    }
}

/// Whether an applied migration's file still matches what was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChecksumState {
    /// It matches the recorded checksum.
    Ok,
    /// It changed since it was applied.
    Drift,
    /// Applied without a checksum (e.g. by sql-migrate): adopted on the next run.
    Unrecorded,
    /// Not applied, or left part-way: nothing to compare.
    #[serde(rename = "-")]
    NotApplicable,
}

impl std::fmt::Display for ChecksumState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ChecksumState {
    /// The name `status` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumState::Ok => "ok",
            ChecksumState::Drift => "drift",
            ChecksumState::Unrecorded => "unrecorded",
            ChecksumState::NotApplicable => "-",
        }
    }
}

/// What `status` shows for one migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRow {
    /// The migration id.
    pub id: String,
    /// The history row's `applied_at` (UTC, in the column's precision), if applied: there
    /// is a history row; `""` when its time is NULL.
    pub applied_at: Option<String>,
    /// Where it stands.
    pub state: MigrationState,
    /// Whether its file matches what was applied.
    pub checksum: ChecksumState,
    /// The journal's note: the recorded error or partial progress.
    pub note: Option<String>,
}

/// The status of every migration file, in apply order, then of every history row without
/// a file, in the history's order (the server's `ORDER BY id`, in which sql-migrate's
/// `status` names them).
pub fn status(
    migrations: &[Migration<'_>],
    history: &[HistoryRow],
    journal: &[JournalRow],
) -> Vec<StatusRow> {
    let joined = Joined::new(migrations, history, journal);
    let (drift, adopt) = checksums(migrations, &joined);
    let partial = find_partial(migrations, &joined);
    let newest = joined.newest();

    let mut rows = Vec::with_capacity(migrations.len() + joined.unknown.len());
    for (i, m) in migrations.iter().enumerate() {
        let h = joined.history[i].0;
        let is_partial = partial.as_ref().is_some_and(|p| p.index == Some(i));
        let state = if is_partial {
            MigrationState::Partial
        } else if h.is_some() {
            MigrationState::Applied
        } else if newest.is_some_and(|n| {
            compare(m.id, m.version, n, loose_version(n)) == std::cmp::Ordering::Less
        }) {
            MigrationState::CatchUp
        } else {
            MigrationState::Pending
        };
        let checksum = if h.is_none() || is_partial {
            ChecksumState::NotApplicable
        } else if drift.binary_search_by_key(&i, |&(d, _)| d).is_ok() {
            ChecksumState::Drift
        } else if adopt.binary_search(&i).is_ok() {
            ChecksumState::Unrecorded
        } else {
            ChecksumState::Ok
        };
        let note = joined.journal[i].and_then(|j| {
            if is_partial && j.state == JournalState::InDoubt {
                Some(format!(
                    "{} in doubt at statement {}: check whether it took effect, then `resolve {} \
                     --statement-committed {}` or `--statement-not-committed {}`{}",
                    j.direction,
                    j.statements_applied + 1,
                    m.id,
                    j.statements_applied + 1,
                    j.statements_applied + 1,
                    j.error
                        .as_ref()
                        .map(|e| format!(": {}", one_line(e)))
                        .unwrap_or_default()
                ))
            } else if is_partial {
                Some(format!(
                    "{} {}: {} of {} statements committed{}",
                    j.direction,
                    j.state,
                    j.statements_applied,
                    section(m, j.direction).statements.len(),
                    j.error
                        .as_ref()
                        .map(|e| format!(": {}", one_line(e)))
                        .unwrap_or_default()
                ))
            } else if h.is_none() && j.state == JournalState::Failed {
                j.error
                    .as_ref()
                    .map(|e| format!("last attempt failed: {}", one_line(e)))
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
    let unknown = history
        .iter()
        .filter(|h| index_of(migrations, &h.id).is_none());
    rows.extend(unknown.map(|h| StatusRow {
        id: h.id.clone(),
        applied_at: h.applied_at.clone(),
        state: MigrationState::Unknown,
        checksum: ChecksumState::NotApplicable,
        note: Some("no migration file".into()),
    }));
    rows
}

/// A recorded error on one line: server messages quote SQL with its line breaks, and a
/// note is one cell of a table.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::{applied_row, hist, partial_row, set};

    #[test]
    fn status_rows() {
        let ms = set(&["1_a.sql", "2_b.sql", "3_c.sql", "4_d.sql"]);
        let mut drifted = applied_row(&ms[2]);
        drifted.sha256 = Some("different".into());
        let j = vec![applied_row(&ms[0]), drifted];
        let rows = status(&ms, &hist(&["1_a.sql", "3_c.sql", "0_gone.sql"]), &j);
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.id.as_str(), r.state.as_str(), r.checksum.as_str()))
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

    #[test]
    fn unknown_rows_come_in_the_history_order() {
        // The server's `ORDER BY id` under utf8_general_ci: case folded, so `b` before
        // `C`, which apply order (and byte order) puts first.
        let ms = set(&["2_b.sql"]);
        let rows = status(&ms, &hist(&["1_x.sql", "2_b.sql", "b.sql", "C.sql"]), &[]);
        let unknown: Vec<_> = rows[1..].iter().map(|r| r.id.as_str()).collect();
        assert_eq!(unknown, ["1_x.sql", "b.sql", "C.sql"]);
    }

    #[test]
    fn a_revert_left_part_way_is_partial_not_unrecorded() {
        let ms = set(&["1_a.sql", "2_b.sql"]);
        let mut reverting = partial_row(&ms[1], 1, JournalState::Failed);
        reverting.direction = crate::plan::Direction::Down;
        let j = vec![applied_row(&ms[0]), reverting];
        let rows = status(&ms, &hist(&["1_a.sql", "2_b.sql"]), &j);
        let got: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.state.as_str(),
                    r.checksum.as_str(),
                    r.applied_at.is_some(),
                )
            })
            .collect();
        assert_eq!(got, [("applied", "ok", true), ("partial", "-", true)]);
    }
}
