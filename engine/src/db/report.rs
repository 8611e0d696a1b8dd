//! What a run reports: one entry per migration, and the plan with the state it came from.

use serde::{Deserialize, Serialize};

use crate::plan::{Action, Direction, Drift, HistoryRow, JournalRow, JournalState, Plan};

/// What a run did with one migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepState {
    /// Its Up section ran and its history row was written.
    Applied,
    /// Its Down section ran and its history row was deleted.
    Reverted,
    /// Recorded as applied without running (`skip`).
    Skipped,
    /// A dry run: it would run.
    Planned,
}

impl std::fmt::Display for StepState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl StepState {
    /// The name reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Applied => "applied",
            StepState::Reverted => "reverted",
            StepState::Skipped => "skipped",
            StepState::Planned => "planned",
        }
    }

    /// The state of a step that ended with its journal row in `state`.
    pub fn finished(state: JournalState) -> StepState {
        match state {
            JournalState::Reverted | JournalState::ResolvedRolledBack => StepState::Reverted,
            JournalState::Skipped => StepState::Skipped,
            _ => StepState::Applied,
        }
    }
}

/// What happened to one migration of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepReport {
    /// The migration id.
    pub id: String,
    /// The file's checksum.
    pub sha256: String,
    /// The direction.
    pub direction: Direction,
    /// `run` or `record` (skip).
    pub action: Action,
    /// Statements sent in this run.
    pub statements: usize,
    /// Statements in the section.
    pub statements_total: usize,
    /// Statements an earlier run had committed (resume).
    pub resumed_from: usize,
    /// sql-migrate's catch-up.
    pub catch_up: bool,
    /// Wall time.
    pub duration_ms: u64,
    /// What was done.
    pub state: StepState,
}

/// The outcome of a run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunReport {
    /// Each migration, in order.
    pub steps: Vec<StepReport>,
    /// Ids whose checksum was adopted (applied before without one).
    pub adopted: Vec<String>,
    /// Checksum mismatches let through by `allow_drift`.
    pub drift: Vec<Drift>,
    /// History rows without a file let through by `ignore_unknown`.
    pub unknown: Vec<String>,
    /// The newest migration (in apply order) applied once the run is done.
    pub last_applied: Option<String>,
    /// The run stopped between migrations at its deadline; these had not started.
    pub stopped: Option<Stopped>,
}

/// A run that stopped between migrations at its deadline ([`super::Deadline`]): what
/// it did is committed and journaled, and another run carries on from there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stopped {
    /// The migrations not started, in order.
    pub pending: Vec<String>,
}

/// A plan with the state it was made from.
pub struct Planned {
    /// What the run would do.
    pub plan: Plan,
    /// The history as read.
    pub history: Vec<HistoryRow>,
    /// The journal as read.
    pub journal: Vec<JournalRow>,
}
