//! What a run reports: one entry per migration, built by one function for real runs and
//! dry runs alike ([`step_report`]). Pure data, the same from every store.

use serde::{Deserialize, Serialize};

use crate::migration::Migration;
use crate::plan::{self, Action, Direction, Drift, JournalState, Step};

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

/// The outcome of a run, as the orchestrator returns it; [`super::RunSummary`] is what
/// the command reports of it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunOutcome {
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
    /// A dry run's script of the SQL the run would send (`--sql`).
    pub sql: Option<String>,
    /// The wait for the run lock, when another session held it at first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_wait: Option<super::RunLockWait>,
}

/// A run that stopped between migrations at its deadline (the deadline (`db::Deadline`)): what
/// it did is committed and journaled, and another run carries on from there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stopped {
    /// The migrations not started, in order.
    pub pending: Vec<String>,
}

/// The report of `step` of `m`: `ran` is its wall time once it ran, `None` for a dry run
/// (it would run).
pub fn step_report(m: &Migration<'_>, step: &Step, ran: Option<u64>) -> StepReport {
    let total = plan::section(m, step.direction).statements.len();
    let resumed_from = step.resume_from.min(total);
    let (statements, duration_ms, state) = match ran {
        Some(ms) => (
            match step.action {
                Action::Run => total - resumed_from,
                Action::Record => 0,
            },
            ms,
            StepState::finished(step.final_state()),
        ),
        None => (0, 0, StepState::Planned),
    };
    StepReport {
        id: m.id.to_string(),
        sha256: m.sha256.clone(),
        direction: step.direction,
        action: step.action,
        statements,
        statements_total: total,
        resumed_from,
        catch_up: step.catch_up,
        duration_ms,
        state,
    }
}
