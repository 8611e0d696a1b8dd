//! What the records say before anything runs: checksum drift and adoption, the one
//! migration left part-way, and whether its committed statements still match the file.

use super::join::{Joined, index_of};
use super::{
    Action, Direction, Drift, JournalRow, PlanError, StatementHasher, Step, commits_part_way,
    same_checksum, statements,
};
use crate::migration::{Migration, Statement};

/// A partial migration found in the journal.
pub(super) struct Partial<'r> {
    pub(super) row: &'r JournalRow,
    pub(super) index: Option<usize>,
}

/// Checksum drift (with each migration's index; one per history row) and the indices of
/// applied migrations whose checksum is to be adopted, both in apply order. Adopted are
/// the rows another tool applied (no journal row, or one saying we reverted it or left
/// an `up` unfinished); a `down` our own run left part-way is not one of them: its
/// journal row is the truth until it is resumed or resolved.
pub(super) fn checksums(
    migrations: &[Migration<'_>],
    joined: &Joined<'_>,
) -> (Vec<(usize, Drift)>, Vec<usize>) {
    let mut drift = Vec::new();
    let mut adopt = Vec::new();
    for (i, m) in migrations.iter().enumerate() {
        let (Some(_), rows) = joined.history[i] else {
            continue;
        };
        match joined.journal[i].and_then(recorded_checksum) {
            Some(recorded) => {
                if !same_checksum(recorded, &m.sha256) {
                    let d = Drift {
                        id: m.id.to_string(),
                        recorded: recorded.to_string(),
                        file: m.sha256.clone(),
                    };
                    drift.extend(std::iter::repeat_n((i, d), rows));
                }
            }
            None if joined.journal[i].is_some_and(reverting_part_way) => {}
            None => adopt.push(i),
        }
    }
    (drift, adopt)
}

/// The checksum a journal row records for an applied migration (one with a history
/// row), if the row vouches that the file it names is what is applied; `None`: adopt.
pub(super) fn recorded_checksum(j: &JournalRow) -> Option<&str> {
    // A revert that failed before committing anything leaves it fully applied.
    let vouches = j.state.vouches_for_checksum()
        || (j.direction == Direction::Down && j.state.unfinished() && j.statements_applied == 0);
    j.sha256.as_deref().filter(|_| vouches)
}

/// The journal row of a `down` that stopped with statements committed: the history row
/// is still there because our run has not finished reverting it.
fn reverting_part_way(j: &JournalRow) -> bool {
    j.direction == Direction::Down && j.state.unfinished() && recorded_checksum(j).is_none()
}

pub(super) fn find_partial<'r>(
    migrations: &[Migration<'_>],
    joined: &Joined<'r>,
) -> Option<Partial<'r>> {
    // Only one migration runs at a time under the lock, so at most one row can be
    // partial; taking the first keeps the refusal deterministic if a person edited rows.
    joined
        .rows
        .iter()
        .filter(|j| {
            // A run left `running` may have had its first statement in flight.
            j.state.unfinished()
                && (j.statements_applied > 0
                    || matches!(
                        j.state,
                        super::JournalState::InDoubt | super::JournalState::Running
                    ))
        })
        .filter(|j| match j.direction {
            // An unfinished `up` never wrote its history row; an unfinished `down` never
            // deleted it. Anything else means someone (sql-migrate, a person) settled it.
            Direction::Up => !joined.is_applied(&j.id),
            Direction::Down => joined.is_applied(&j.id),
        })
        .min_by(|a, b| a.id.cmp(&b.id))
        .map(|row| Partial {
            row,
            index: index_of(migrations, &row.id),
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

/// Refuses, before anything runs, a statement text that holds several statements of which
/// one commits implicitly: if a later one failed, the journal could not say what the
/// server had committed (see [`commits_part_way`]).
pub(super) fn refuse_hidden_commits(
    migrations: &[Migration<'_>],
    steps: &[Step],
) -> Result<(), PlanError> {
    for step in steps.iter().filter(|s| s.action == Action::Run) {
        let m = &migrations[step.index];
        let pending = statements(m, step.direction)
            .iter()
            .enumerate()
            .skip(step.resume_from);
        if let Some((n, s)) = pending.into_iter().find(|(_, s)| commits_part_way(&s.sql)) {
            return Err(PlanError::HiddenCommit {
                id: m.id.to_owned(),
                direction: step.direction,
                statement: n + 1,
                line: s.line,
            });
        }
    }
    Ok(())
}
