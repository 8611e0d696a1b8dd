//! Settling a migration in doubt: a person looked at the database and says whether the
//! statement in doubt took effect. The migration is then partial at a known point, and
//! `up --resume` continues it from there. Nothing is guessed: the answer must name the
//! very statement the journal holds in doubt.

use super::{JournalRow, JournalState, PlanError, Resolved, StatementHasher, section};
use crate::migration::Migration;

/// Decides what recording that statement `statement` of `id` took effect (`committed`)
/// or not writes. Refused unless the journal holds `id` in doubt (or left running by a
/// run that ended) at exactly that statement, and the file is there to count from.
pub fn verdict(
    id: &str,
    migration: Option<&Migration<'_>>,
    journal: &[JournalRow],
    statement: usize,
    committed: bool,
) -> Result<Resolved, PlanError> {
    let row = journal.iter().find(|j| j.id == id);
    let doubt = row
        .filter(|r| matches!(r.state, JournalState::InDoubt | JournalState::Running))
        .map(|r| r.statements_applied + 1);
    let (Some(row), Some(at)) = (row, doubt) else {
        return Err(PlanError::NotInDoubt {
            id: id.into(),
            statement,
            state: row.map(|r| r.state.to_string()),
        });
    };
    if at != statement {
        return Err(PlanError::NotInDoubt {
            id: id.into(),
            statement,
            state: Some(format!("{} at statement {at}", row.state)),
        });
    }
    let Some(m) = migration else {
        return Err(PlanError::PartialWithoutFile {
            id: id.into(),
            applied: row.statements_applied,
        });
    };
    let stmts = &section(m, row.direction).statements;
    let done = if committed { statement } else { statement - 1 }.min(stmts.len());
    let mut hasher = StatementHasher::new();
    for s in &stmts[..done] {
        hasher.push(&s.sql);
    }
    Ok(Resolved {
        id: id.into(),
        applied: false,
        keep_history: true,
        state: JournalState::Failed,
        direction: row.direction,
        sha256: Some(m.sha256.clone()),
        statements_total: stmts.len(),
        statements_applied: done,
        hashes: Some((hasher.digest(), hasher.shorts().to_owned())),
        note: format!(
            "statement {statement} recorded by hand as {}committed (it was {} at statement \
             {statement}); statements 1..{done} are committed",
            if committed { "" } else { "not " },
            row.state
        ),
    })
}

/// What marking `row`, left `running` by a run that died, in doubt writes: the same
/// progress, in the state that makes `status` and every run say so.
pub fn doubt_record(row: &JournalRow, total: usize) -> Resolved {
    Resolved {
        id: row.id.clone(),
        applied: false,
        keep_history: true,
        state: JournalState::InDoubt,
        direction: row.direction,
        sha256: row.sha256.clone(),
        statements_total: total,
        statements_applied: row.statements_applied,
        hashes: row
            .applied_sha256
            .clone()
            .map(|d| (d, row.statement_hashes.clone().unwrap_or_default())),
        note: format!(
            "the run that was at statement {} ended without a word (killed, or its host \
             lost); whether that statement took effect is unknown",
            row.statements_applied + 1
        ),
    }
}
