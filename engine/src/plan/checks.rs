//! What the records say before anything runs: checksum drift and adoption, the one
//! migration left part-way, and whether its committed statements still match the file.

use std::collections::{HashMap, HashSet};

use super::{Direction, Drift, HistoryRow, JournalRow, PlanError, StatementHasher};
use crate::migration::{Migration, Statement};

/// A partial migration found in the journal.
pub(super) struct Partial<'r> {
    pub(super) row: &'r JournalRow,
    pub(super) index: Option<usize>,
}

pub(super) fn checksums(
    migrations: &[Migration<'_>],
    history: &[HistoryRow],
    by_id: &HashMap<&str, usize>,
    journal: &HashMap<&str, &JournalRow>,
) -> (Vec<Drift>, Vec<usize>) {
    let mut drift = Vec::new();
    let mut adopt = Vec::new();
    for h in history {
        let Some(&i) = by_id.get(h.id.as_str()) else {
            continue;
        };
        let m = &migrations[i];
        match journal.get(h.id.as_str()) {
            // A revert that failed before committing anything leaves it fully applied.
            Some(j)
                if j.sha256.is_some()
                    && (j.state.vouches_for_checksum()
                        || (j.direction == Direction::Down
                            && j.state.unfinished()
                            && j.statements_applied == 0)) =>
            {
                let recorded = j.sha256.as_deref().unwrap_or_default();
                if !recorded.eq_ignore_ascii_case(&m.sha256) {
                    drift.push(Drift {
                        id: m.id.to_string(),
                        recorded: recorded.to_string(),
                        file: m.sha256.clone(),
                    });
                }
            }
            _ => adopt.push(i),
        }
    }
    adopt.sort_unstable();
    adopt.dedup();
    drift.sort_by_key(|d| by_id.get(d.id.as_str()).copied());
    (drift, adopt)
}

pub(super) fn find_partial<'r>(
    journal: &'r [JournalRow],
    applied: &HashSet<&str>,
    by_id: &HashMap<&str, usize>,
) -> Option<Partial<'r>> {
    // Only one migration runs at a time under the lock, so at most one row can be
    // partial; taking the first keeps the refusal deterministic if a person edited rows.
    journal
        .iter()
        .filter(|j| j.state.unfinished() && j.statements_applied > 0)
        .filter(|j| match j.direction {
            // An unfinished `up` never wrote its history row; an unfinished `down` never
            // deleted it. Anything else means someone (sql-migrate, a person) settled it.
            Direction::Up => !applied.contains(j.id.as_str()),
            Direction::Down => applied.contains(j.id.as_str()),
        })
        .min_by(|a, b| a.id.cmp(&b.id))
        .map(|row| Partial {
            row,
            index: by_id.get(row.id.as_str()).copied(),
        })
}

pub(super) fn check_resume(row: &JournalRow, stmts: &[Statement<'_>]) -> Result<(), PlanError> {
    let changed = |statement: Option<usize>| PlanError::ResumeChanged {
        id: row.id.clone(),
        direction: row.direction,
        statement,
        line: statement.and_then(|s| stmts.get(s - 1)).map(|s| s.line),
    };
    let k = row.statements_applied;
    if k > stmts.len() {
        return Err(changed(Some(stmts.len() + 1)));
    }
    let mut hasher = StatementHasher::new();
    for s in &stmts[..k] {
        hasher.push(&s.sql);
    }
    if let Some(recorded) = &row.statement_hashes {
        for (n, (old, new)) in recorded
            .split(' ')
            .zip(hasher.shorts().split(' '))
            .enumerate()
        {
            if old != new {
                return Err(changed(Some(n + 1)));
            }
        }
    }
    match &row.applied_sha256 {
        Some(d) if d.eq_ignore_ascii_case(&hasher.digest()) => Ok(()),
        _ => Err(changed(None)),
    }
}
