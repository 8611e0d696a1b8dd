//! `resolve`: what recording by hand that a migration is applied or rolled back writes.
//! The store only writes what is decided here.

use super::{Direction, HistoryRow, JournalRow, JournalState, PlanError};
use crate::migration::Migration;

/// The rows a `resolve` writes: the history row inserted (applied) or deleted (rolled
/// back), and the journal row below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The migration id.
    pub id: String,
    /// Recorded as applied (history row inserted) or rolled back (deleted).
    pub applied: bool,
    /// The history row is left as it is (a verdict on a statement in doubt).
    pub keep_history: bool,
    /// The journal row's state.
    pub state: JournalState,
    /// The journal row's direction.
    pub direction: Direction,
    /// The file's checksum, else the one the journal had.
    pub sha256: Option<String>,
    /// Statements in the file's Up section (0 without a file).
    pub statements_total: usize,
    /// Statements counted as applied: all of them, or none (or, for a verdict, those
    /// before or up to the statement in doubt).
    pub statements_applied: usize,
    /// The committed statements' digest and short hashes, which `--resume` checks.
    pub hashes: Option<(String, String)>,
    /// The journal row's note: what was recorded, and what the row said before.
    pub note: String,
}

/// Decides what recording `id` as applied (`applied`) or rolled back writes. `migration`
/// is its file, parsed, when there is one. Refused when nothing knows the id.
pub fn resolution(
    id: &str,
    migration: Option<&Migration<'_>>,
    history: &[HistoryRow],
    journal: &[JournalRow],
    applied: bool,
) -> Result<Resolved, PlanError> {
    let in_history = history.iter().any(|h| h.id == id);
    let row = journal.iter().find(|j| j.id == id);
    if migration.is_none() && row.is_none() && !in_history {
        return Err(PlanError::NothingToResolve { id: id.into() });
    }
    let (state, direction) = if applied {
        (JournalState::ResolvedApplied, Direction::Up)
    } else {
        (JournalState::ResolvedRolledBack, Direction::Down)
    };
    let total = migration.map(|m| m.up.statements.len()).unwrap_or(0);
    let note = format!(
        "resolved by hand as {}{}",
        if applied { "applied" } else { "rolled back" },
        row.filter(|r| r.state.unfinished())
            .map(|r| format!(
                " (was {} {} with {} statements committed)",
                r.direction, r.state, r.statements_applied
            ))
            .unwrap_or_default()
    );
    Ok(Resolved {
        id: id.into(),
        applied,
        keep_history: false,
        state,
        direction,
        sha256: migration
            .map(|m| m.sha256.clone())
            .or_else(|| row.and_then(|r| r.sha256.clone())),
        statements_total: total,
        statements_applied: if applied { total } else { 0 },
        hashes: None,
        note,
    })
}
