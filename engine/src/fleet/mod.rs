//! Many databases from one artifact: a fleet run applies (plans, reports) the same
//! migrations to every target of a manifest, canaries first, with a failure budget, and
//! writes one result per target.
//!
//! - [`manifest`]: the target manifest (JSON Lines or CSV), parsed and checked as hostile
//!   input, every problem named with its line.
//! - [`result`]: one target's result, the JSON line both the local command and the AWS
//!   fleet run write.
//! - [`budget`]: the failure budget and the verdict on a run, pure over the results.
//! - [`record`]: the AWS run's per-invocation records, and each target's result
//!   gathered from them.
//! - [`run`]: the per-target function ([`run_target`], shared with the AWS path), the
//!   run order, and the local driver's bounded pool of threads.
//!
//! Nothing here needs a feature: the store comes in through `connect`, as in
//! [`crate::command::execute`].

pub mod budget;
pub mod manifest;
pub mod record;
pub mod result;
pub mod run;

pub use budget::{Budget, BudgetError, Counts, Summary, judge};
pub use manifest::{
    LineError, Manifest, ManifestError, Place, PrefixError, Problem, SecretPrefix, Secrets, Target,
};
pub use record::{Aborted, Record, collect};
pub use result::{Outcome, StatusSummary, TargetResult};
pub use run::{
    COMMANDS, DEFAULT_CONCURRENCY, MAX_CONCURRENCY, Order, drive, order, request, run_target,
};
