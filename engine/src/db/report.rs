//! What a run reports: one entry per migration, and the plan with the state it came from.

use serde::Serialize;

use crate::plan::{Action, Direction, Drift, HistoryRow, JournalRow, Plan};

/// What happened to one migration of a run.
#[derive(Debug, Clone, Serialize)]
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
    /// `applied`, `reverted`, `skipped`, or for a dry run `planned`.
    pub state: &'static str,
}

/// The outcome of a run.
#[derive(Debug, Clone, Default, Serialize)]
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
