//! `resolve`: what recording by hand that a migration is applied or rolled back writes.
//! The store only writes what is decided here.
//!
//! `resolve` settles only what a run left open, or a file that changed: a partial or
//! failed migration (and any other state a run leaves unsettled, such as one in doubt),
//! or an applied migration whose file no longer matches its recorded checksum
//! (`--applied` accepts the file as it is now). A migration whose records are settled is
//! refused ([`PlanError::Settled`]): recording a pending one as applied is `skip`, and
//! recording an applied one as rolled back is `down`, each with its own permission.

use super::checks::recorded_checksum;
use super::{Direction, HistoryRow, JournalRow, JournalState, PlanError, same_checksum};
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

/// How a migration stands when nothing about it needs resolving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Applied, and its file (if it has one) is the one applied: reverting it is `down`.
    Applied,
    /// Not applied, and no run left it part-way: recording it as applied is `skip`.
    Pending,
}

/// Decides what recording `id` as applied (`applied`) or rolled back writes. `migration`
/// is its file, parsed, when there is one. Refused when nothing knows the id, and when
/// its records are settled (see the module docs).
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
    let drifted = in_history
        .then(|| migration.zip(row.and_then(recorded_checksum)))
        .flatten()
        .filter(|(m, recorded)| !same_checksum(recorded, &m.sha256))
        .map(|(m, recorded)| (recorded, m.sha256.as_str()));
    if let Some(settled) = settled(in_history, row, drifted.is_some()) {
        return Err(PlanError::Settled {
            id: id.into(),
            settled,
            file: migration.is_some(),
        });
    }
    let (state, direction) = if applied {
        (JournalState::ResolvedApplied, Direction::Up)
    } else {
        (JournalState::ResolvedRolledBack, Direction::Down)
    };
    let total = migration.map(|m| m.up.statements.len()).unwrap_or(0);
    let before = match (row.filter(|r| !r.state.settled()), drifted) {
        (Some(r), _) => format!(
            " (was {} {} with {} statements committed)",
            r.direction, r.state, r.statements_applied
        ),
        (None, Some((recorded, file))) if applied => format!(
            " (accepted the changed file: recorded {}, file {})",
            short(recorded),
            short(file)
        ),
        (None, Some(_)) => " (its file had changed since it was applied)".into(),
        (None, None) => String::new(),
    };
    let note = format!(
        "resolved by hand as {}{before}",
        if applied { "applied" } else { "rolled back" },
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

/// How the records stand when they need no resolving; `None` when they do. Only states
/// known to be settled count: any other (a run's unfinished states, and any added later)
/// is left for `resolve` to settle.
fn settled(in_history: bool, row: Option<&JournalRow>, drifted: bool) -> Option<Settled> {
    if row.is_some_and(|r| !r.state.settled()) || drifted {
        return None;
    }
    Some(if in_history {
        Settled::Applied
    } else {
        Settled::Pending
    })
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::{applied_row, hist, partial_row, set};

    fn refused(r: Result<Resolved, PlanError>) -> (Settled, bool) {
        match r {
            Err(PlanError::Settled { settled, file, .. }) => (settled, file),
            other => panic!("not refused as settled: {other:?}"),
        }
    }

    #[test]
    fn a_settled_migration_is_refused_either_way() {
        let ms = set(&["1_a.sql", "2_b.sql", "3_c.sql"]);
        // 1 applied by us, 2 applied by sql-migrate (no journal row), 3 never ran.
        let history = hist(&["1_a.sql", "2_b.sql"]);
        let journal = vec![applied_row(&ms[0])];
        for applied in [true, false] {
            for (m, settled) in [(&ms[0], Settled::Applied), (&ms[1], Settled::Applied)] {
                let r = resolution(m.id, Some(m), &history, &journal, applied);
                assert_eq!(refused(r), (settled, true), "{} {applied}", m.id);
            }
            let r = resolution("3_c.sql", Some(&ms[2]), &history, &journal, applied);
            assert_eq!(refused(r), (Settled::Pending, true));
        }
        // Reverted by a run, or by sql-migrate (history row gone): pending again.
        let mut reverted = applied_row(&ms[0]);
        reverted.state = JournalState::Reverted;
        reverted.direction = Direction::Down;
        for row in [reverted, applied_row(&ms[0])] {
            let r = resolution("1_a.sql", Some(&ms[0]), &[], &[row], true);
            assert_eq!(refused(r), (Settled::Pending, true));
        }
        // A history row without a file, settled.
        let r = resolution("0_gone.sql", None, &hist(&["0_gone.sql"]), &[], false);
        assert_eq!(refused(r), (Settled::Applied, false));
    }

    #[test]
    fn partial_and_failed_migrations_are_resolved() {
        let ms = set(&["1_a.sql"]);
        for (k, state) in [
            (1, JournalState::Failed),
            (1, JournalState::Running),
            (0, JournalState::Failed),
        ] {
            let journal = vec![partial_row(&ms[0], k, state)];
            for applied in [true, false] {
                let r = resolution("1_a.sql", Some(&ms[0]), &[], &journal, applied).unwrap();
                assert_eq!(r.applied, applied);
                assert_eq!(r.statements_applied, if applied { 2 } else { 0 });
                assert!(r.note.contains(&format!("was up {state}")), "{}", r.note);
            }
        }
        // A revert that failed part-way: the history row is still there.
        let mut down = partial_row(&ms[0], 1, JournalState::Failed);
        down.direction = Direction::Down;
        let r = resolution("1_a.sql", Some(&ms[0]), &hist(&["1_a.sql"]), &[down], false);
        assert!(r.unwrap().note.contains("was down failed"));
    }

    #[test]
    fn a_drifted_file_is_accepted_or_rolled_back() {
        let ms = set(&["1_a.sql"]);
        let mut row = applied_row(&ms[0]);
        row.sha256 = Some("0123456789abcdef-old".into());
        let history = hist(&["1_a.sql"]);
        let r = resolution("1_a.sql", Some(&ms[0]), &history, &[row.clone()], true).unwrap();
        assert_eq!(r.state, JournalState::ResolvedApplied);
        assert_eq!(r.sha256.as_deref(), Some("sha-of-1_a.sql"));
        assert_eq!(
            r.note,
            "resolved by hand as applied (accepted the changed file: recorded 0123456789ab, file sha-of-1_a.s)"
        );
        let r = resolution("1_a.sql", Some(&ms[0]), &history, &[row], false).unwrap();
        assert_eq!(r.state, JournalState::ResolvedRolledBack);
        assert!(
            r.note
                .ends_with("(its file had changed since it was applied)")
        );
    }

    #[test]
    fn an_id_nothing_knows_is_refused() {
        assert_eq!(
            resolution("9_x.sql", None, &[], &[], true),
            Err(PlanError::NothingToResolve {
                id: "9_x.sql".into()
            })
        );
    }
}
