//! One target's result: one JSON line per target, the same whether the local `fleet`
//! command or the AWS fleet run wrote it.
//!
//! ```json
//! {"name":"t1","outcome":"applied","applied":["3_c.sql"],"last":"3_c.sql","duration_ms":41,"error_kind":null,"message":null}
//! ```
//!
//! - `outcome`: `applied` (this run applied at least one migration), `up-to-date`
//!   (nothing to do), `pending` (`plan` or `status`: migrations are still to apply; or
//!   an `up` stopped at its deadline with work left), `failed`, `not-run` (never started:
//!   a canary failed, the failure budget was exceeded, or the run was interrupted; the
//!   message says which).
//! - `applied`: the ids this run applied, in order (for a failed `up`, those completed
//!   before the failure); empty for `plan` and `status`.
//! - `last`: the newest applied migration once the command was done, in apply order
//!   (`up`, `status`); for a failed `up`, the last one it completed; `null` when none is
//!   known, and always for `plan` (a plan reports what it would do; `status` names it).
//! - `duration_ms`: the target's wall time, 0 when not run.
//! - `error_kind`: the failure's [`ErrorKind`] name (`SqlError`, `PartialMigration`, …),
//!   else `null`; `message`: the failure's whole message, or why a target did not run,
//!   else `null`.
//! - `pending` (only `plan`, `status`, and an `up` stopped with work left): the ids still
//!   to apply, in order.
//! - `status` (only `status`): [`StatusSummary`], counts per state, the partial
//!   migration and whether a run holds the lock.

use serde::{Deserialize, Serialize};

use crate::command::{CommandError, CommandName, ErrorKind, Executed, Frontend, Report, Request};
use crate::plan::MigrationState;

/// What happened to a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// This run applied at least one migration.
    Applied,
    /// Nothing to do.
    UpToDate,
    /// Migrations are still to apply (`plan`, `status`, an `up` stopped at its deadline).
    Pending,
    /// The command failed.
    Failed,
    /// The target was never started.
    NotRun,
}

impl Outcome {
    /// Every outcome, in the order summaries list them.
    pub const ALL: [Outcome; 5] = [
        Outcome::Applied,
        Outcome::UpToDate,
        Outcome::Pending,
        Outcome::Failed,
        Outcome::NotRun,
    ];

    /// The name results use.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::UpToDate => "up-to-date",
            Outcome::Pending => "pending",
            Outcome::Failed => "failed",
            Outcome::NotRun => "not-run",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `status` of one target, in counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusSummary {
    /// Migrations applied.
    pub applied: usize,
    /// Migrations still to apply (pending, catch-up and partial).
    pub pending: usize,
    /// The migration left part-way, if one is.
    pub partial: Option<String>,
    /// History rows without a migration file.
    pub unknown: usize,
    /// Applied migrations whose file changed since.
    pub drifted: usize,
    /// A run holds the migration lock right now.
    pub lock_held: bool,
}

/// One target's result (the module's doc has the format).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetResult {
    /// The target's name.
    pub name: String,
    /// What happened.
    pub outcome: Outcome,
    /// The ids this run applied, in order.
    pub applied: Vec<String>,
    /// The newest applied migration afterwards (see the module's doc).
    pub last: Option<String>,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// The failure's kind.
    #[serde(with = "kind")]
    pub error_kind: Option<ErrorKind>,
    /// The failure's message, or why the target did not run.
    pub message: Option<String>,
    /// `plan`, `status`, a stopped `up`: the ids still to apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Vec<String>>,
    /// `status`: the target's state in counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusSummary>,
}

/// [`ErrorKind`] as its name in JSON (`null` for none); an unknown name is an error.
pub(super) mod kind {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::command::ErrorKind;

    pub fn serialize<S: Serializer>(k: &Option<ErrorKind>, s: S) -> Result<S::Ok, S::Error> {
        match k {
            Some(k) => s.serialize_str(k.as_str()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ErrorKind>, D::Error> {
        let name: Option<String> = Option::deserialize(d)?;
        name.map(|n| {
            ErrorKind::parse(&n)
                .ok_or_else(|| serde::de::Error::custom(format!("unknown error kind {n:?}")))
        })
        .transpose()
    }
}

impl TargetResult {
    /// The result of a command that finished on target `name`.
    pub fn done(name: &str, done: &Executed, duration_ms: u64) -> TargetResult {
        let mut r = TargetResult::empty(name, Outcome::UpToDate, duration_ms);
        match &done.report {
            Report::Run(run) if run.dry_run => {
                let pending = done.report.pending();
                r.outcome = outcome_of_pending(&pending);
                r.last = run.last_applied.clone();
                r.pending = Some(pending);
            }
            Report::Run(run) => {
                r.applied = run.migrations.iter().map(|s| s.id.clone()).collect();
                r.last = run.last_applied.clone();
                if run.stopped.is_some() {
                    r.outcome = Outcome::Pending;
                    r.pending = Some(done.report.pending());
                } else if !r.applied.is_empty() {
                    r.outcome = Outcome::Applied;
                }
            }
            Report::Status(s) => {
                let pending = done.report.pending();
                r.outcome = outcome_of_pending(&pending);
                r.last = s.last_applied();
                let count = |state| s.migrations.iter().filter(|m| m.state == state).count();
                r.status = Some(StatusSummary {
                    applied: count(MigrationState::Applied),
                    pending: pending.len(),
                    partial: s
                        .migrations
                        .iter()
                        .find(|m| m.state == MigrationState::Partial)
                        .map(|m| m.id.clone()),
                    unknown: count(MigrationState::Unknown),
                    drifted: s
                        .migrations
                        .iter()
                        .filter(|m| m.checksum == crate::plan::ChecksumState::Drift)
                        .count(),
                    lock_held: s.lock_held,
                });
                r.pending = Some(pending);
            }
            // Verify, lint and resolve are not fleet commands; they did what was asked.
            Report::Verify(_) | Report::Lint(_) | Report::Resolve(_) => {}
        }
        r
    }

    /// The result of `request` failing on target `name` with `e`, worded for `frontend`.
    pub fn failed(
        name: &str,
        request: &Request,
        e: &CommandError,
        frontend: &Frontend,
        duration_ms: u64,
    ) -> TargetResult {
        let completed = e
            .failure()
            .map(|f| f.completed.iter().map(|s| s.id.clone()).collect())
            .unwrap_or_default();
        TargetResult::failed_as(
            name,
            request.command,
            e.kind(),
            e.message(frontend),
            completed,
            duration_ms,
        )
    }

    /// The result of `command` failing on target `name` with `kind` and `message`, after
    /// committing `completed` (an `up`'s migrations before the failed one).
    pub fn failed_as(
        name: &str,
        command: CommandName,
        kind: ErrorKind,
        message: String,
        completed: Vec<String>,
        duration_ms: u64,
    ) -> TargetResult {
        let mut r = TargetResult::empty(name, Outcome::Failed, duration_ms);
        r.last = completed.last().cloned();
        r.applied = completed;
        if matches!(command, CommandName::Plan | CommandName::Status) {
            r.pending = Some(Vec::new());
        }
        r.error_kind = Some(kind);
        r.message = Some(message);
        r
    }

    /// A target that was never started, and why.
    pub fn not_run(name: &str, why: impl Into<String>) -> TargetResult {
        let mut r = TargetResult::empty(name, Outcome::NotRun, 0);
        r.message = Some(why.into());
        r
    }

    fn empty(name: &str, outcome: Outcome, duration_ms: u64) -> TargetResult {
        TargetResult {
            name: name.to_owned(),
            outcome,
            applied: Vec::new(),
            last: None,
            duration_ms,
            error_kind: None,
            message: None,
            pending: None,
            status: None,
        }
    }

    /// One JSON line, without its newline.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a result always serialises")
    }
}

fn outcome_of_pending(pending: &[String]) -> Outcome {
    if pending.is_empty() {
        Outcome::UpToDate
    } else {
        Outcome::Pending
    }
}

/// Reads results back from JSON Lines (blank lines skipped), naming the first bad line.
pub fn read_lines(text: &str) -> Result<Vec<TargetResult>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_format_is_exactly_the_documented_one() {
        let r = TargetResult {
            applied: vec!["1_a.sql".into(), "2_b.sql".into()],
            last: Some("2_b.sql".into()),
            outcome: Outcome::Applied,
            ..TargetResult::empty("t1", Outcome::Applied, 41)
        };
        assert_eq!(
            r.to_line(),
            r#"{"name":"t1","outcome":"applied","applied":["1_a.sql","2_b.sql"],"last":"2_b.sql","duration_ms":41,"error_kind":null,"message":null}"#
        );
        let f = TargetResult {
            error_kind: Some(ErrorKind::Partial),
            message: Some("m".into()),
            pending: Some(vec![]),
            ..TargetResult::empty("t2", Outcome::Failed, 3)
        };
        assert_eq!(
            f.to_line(),
            r#"{"name":"t2","outcome":"failed","applied":[],"last":null,"duration_ms":3,"error_kind":"PartialMigration","message":"m","pending":[]}"#
        );
        let n = TargetResult::not_run("t3", "not started: the canary t0 failed");
        assert_eq!(
            n.to_line(),
            r#"{"name":"t3","outcome":"not-run","applied":[],"last":null,"duration_ms":0,"error_kind":null,"message":"not started: the canary t0 failed"}"#
        );
        let s = TargetResult {
            status: Some(StatusSummary {
                applied: 2,
                pending: 1,
                partial: Some("3_c.sql".into()),
                ..StatusSummary::default()
            }),
            pending: Some(vec!["3_c.sql".into()]),
            ..TargetResult::empty("t4", Outcome::Pending, 5)
        };
        assert!(
            s.to_line().ends_with(r#""pending":["3_c.sql"],"status":{"applied":2,"pending":1,"partial":"3_c.sql","unknown":0,"drifted":0,"lock_held":false}}"#),
            "{}",
            s.to_line()
        );
        let text = [
            r.to_line(),
            String::new(),
            f.to_line(),
            n.to_line(),
            s.to_line(),
        ]
        .join("\n");
        assert_eq!(read_lines(&text).unwrap(), [r, f, n, s]);
        let e = read_lines("{\"name\":\"x\"}\n").unwrap_err();
        assert!(e.starts_with("line 1: "), "{e}");
        let bad = r#"{"name":"t","outcome":"failed","applied":[],"last":null,"duration_ms":1,"error_kind":"Nope","message":null}"#;
        assert!(read_lines(bad).unwrap_err().contains("unknown error kind"));
    }
}
