//! The command layer: every command (verify, plan, status, up, down, redo, skip,
//! resolve) implemented once, as a typed [`Request`] in and a typed, serialisable
//! [`Report`] out.
//!
//! The CLI, the migrator Lambda and the remote CLI (`--via-lambda`) only translate their
//! input into a [`Request`] and render the [`Report`] or [`CommandError`] that comes back.
//! A report made by the migrator and parsed back by a remote CLI renders byte for byte as
//! one made locally. Failures carry an [`ErrorKind`] (the exit code and the migrator's
//! `errorType`) and a [`Remedy`] that each front end words in its own terms.
//!
//! [`execute`] is the one path from reading the migrations to planning and applying them;
//! [`run`] is its orchestrator over any [`crate::store::Store`] (the MySQL `db::Database`,
//! or the in-memory one the tests use). Nothing here needs a feature.

mod error;
mod execute;
mod report;
mod request;
pub mod run;

#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
mod tests;

pub use error::{CommandError, ErrorKind, Frontend, Remedy};
pub use execute::{Executed, Input, execute, lint, verify};
// What a run produced is the store's vocabulary (it reports it); front ends find it here.
pub use crate::store::{
    Blocker, DeadlineStop, LockWait, MigrationFailure, RunLockEvent, RunLockHolder, RunLockWait,
    RunOutcome, StepReport, StepState, Stopped, step_report,
};
pub use report::{
    FetchSummary, Report, ResolveReport, RunSummary, StatusReport, Target, VerifyReport, VerifyRow,
};
pub use request::{Allowed, CommandName, Request, RequestError, Resolution};
pub use run::Progress;
