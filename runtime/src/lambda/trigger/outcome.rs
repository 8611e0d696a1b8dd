//! How a job ends: the pure policy from a migrator answer (or failure) to the result
//! CodePipeline gets, within its API's limits.

use engine::command::{CommandName, ErrorKind, Report};
use engine::plan::MigrationState;

use super::job::Continuation;
use crate::text::{list_within, one_line, truncate};
use crate::wire::{ErrorPayload, FailureType, MigratorReply};

/// CodePipeline's limit on `executionDetails.summary`.
pub const SUMMARY_LIMIT: usize = 2048;
/// CodePipeline's limit on `failureDetails.message`.
pub const FAILURE_LIMIT: usize = 5000;
/// CodePipeline's limit on a continuation token.
pub const TOKEN_LIMIT: usize = 2048;
/// Kept well under CodePipeline's limit on all output variables of an action together
/// (122,880 characters), so a long list still leaves room for the others.
pub const VARIABLE_LIMIT: usize = 1000;

/// How a job ends (or continues).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `PutJobSuccessResult` with a summary and output variables.
    Success {
        /// The execution summary (≤ 2,048 characters).
        summary: String,
        /// Output variables for later actions.
        variables: Vec<(Variable, String)>,
    },
    /// `PutJobSuccessResult` with a continuation token: CodePipeline calls back.
    Continue {
        /// The token's content.
        token: Continuation,
        /// The execution summary.
        summary: String,
        /// Progress, 0–100.
        percent: i32,
    },
    /// `PutJobFailureResult`.
    Failure {
        /// `ConfigurationError` for the setup's faults, `JobFailed` otherwise.
        configuration: bool,
        /// The message (≤ 5,000 characters).
        message: String,
    },
}

impl Outcome {
    pub(super) fn failed(message: impl Into<String>) -> Outcome {
        Outcome::Failure {
            configuration: false,
            message: message.into(),
        }
    }

    /// A success with `line` after its summary (its own text cut to make room within
    /// CodePipeline's limit) and `extra` among its variables; anything else as it is.
    pub(super) fn annotated(
        self,
        line: &str,
        extra: impl IntoIterator<Item = (Variable, String)>,
    ) -> Outcome {
        let Outcome::Success {
            summary,
            mut variables,
        } = self
        else {
            return self;
        };
        let room = SUMMARY_LIMIT.saturating_sub(line.chars().count() + 2);
        let summary = truncate(
            &format!("{}. {line}", truncate(&summary, room)),
            SUMMARY_LIMIT,
        );
        variables.extend(extra);
        Outcome::Success { summary, variables }
    }

    pub(super) fn misconfigured(message: impl Into<String>) -> Outcome {
        Outcome::Failure {
            configuration: true,
            message: message.into(),
        }
    }
}

/// The outcome of a migrator reply to `up`, `plan` or `status`.
pub fn outcome_of_reply(report: &MigratorReply) -> Outcome {
    let (summary, variables) = summarize(report);
    Outcome::Success { summary, variables }
}

/// The output variables a job publishes for later actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variable {
    /// Migrations applied (`up`).
    AppliedCount,
    /// Migrations pending (`plan`, `status`).
    PendingCount,
    /// The pending ids, for an approval action to show (`plan`, `status`).
    PendingIds,
    /// Migrations in the artifact.
    MigrationCount,
    /// The set digest.
    Digest,
    /// The newest applied migration.
    LastAppliedId,
    /// Unsuppressed lint errors in the set (below the failing severity, or the job
    /// would have failed).
    LintErrors,
    /// Unsuppressed lint warnings.
    LintWarnings,
    /// Unsuppressed lint notices.
    LintNotices,
    /// The full lint report's key in the artifact bucket.
    LintReportKey,
    /// `plan --review`: the worst verdict of the pending migrations.
    ReviewVerdict,
    /// `plan --review`: how many migrations got each verdict.
    ReviewCounts,
    /// `plan --review`: the review page's key in the artifact bucket.
    ReviewReportKey,
    /// `plan --review`: the S3 console's link to the page (the approval's review URL).
    ReviewUrl,
    /// `plan --review`: the key of the SQL script `up` would send, beside the page.
    PlanSqlKey,
    /// A fleet run: the execution's ARN.
    FleetExecution,
    /// A fleet run: the per-target results' key in the artifact bucket.
    FleetResultsKey,
    /// A fleet run: targets that applied migrations.
    FleetApplied,
    /// A fleet run: targets already up to date.
    FleetUpToDate,
    /// A fleet run: targets with migrations pending (`plan`, `status`).
    FleetPending,
    /// A fleet run: targets that failed (within the budget, or the job would have).
    FleetFailed,
    /// A fleet run: targets never started.
    FleetNotRun,
    /// A fleet run: the failed targets' names.
    FleetFailedTargets,
}

impl Variable {
    /// The name later actions read it by.
    pub fn as_str(self) -> &'static str {
        match self {
            Variable::AppliedCount => "AppliedCount",
            Variable::PendingCount => "PendingCount",
            Variable::PendingIds => "PendingIds",
            Variable::MigrationCount => "MigrationCount",
            Variable::Digest => "Digest",
            Variable::LastAppliedId => "LastAppliedId",
            Variable::LintErrors => "LintErrors",
            Variable::LintWarnings => "LintWarnings",
            Variable::LintNotices => "LintNotices",
            Variable::LintReportKey => "LintReportKey",
            Variable::ReviewVerdict => "ReviewVerdict",
            Variable::ReviewCounts => "ReviewCounts",
            Variable::ReviewReportKey => "ReviewReportKey",
            Variable::ReviewUrl => "ReviewUrl",
            Variable::PlanSqlKey => "PlanSqlKey",
            Variable::FleetExecution => "FleetExecution",
            Variable::FleetResultsKey => "FleetResultsKey",
            Variable::FleetApplied => "FleetApplied",
            Variable::FleetUpToDate => "FleetUpToDate",
            Variable::FleetPending => "FleetPending",
            Variable::FleetFailed => "FleetFailed",
            Variable::FleetNotRun => "FleetNotRun",
            Variable::FleetFailedTargets => "FleetFailedTargets",
        }
    }
}

/// A successful answer's summary and output variables.
fn summarize(report: &MigratorReply) -> (String, Vec<(Variable, String)>) {
    let (head, ids, count) = match report.command {
        CommandName::Plan => (
            format!("Plan: {} migration(s) pending", report.pending.len()),
            report.pending.clone(),
            Variable::PendingCount,
        ),
        CommandName::Status => (
            format!(
                "Status: {} migration(s), {} pending",
                report.migrations,
                report.pending.len()
            ),
            report.pending.clone(),
            Variable::PendingCount,
        ),
        _ => {
            let ids: Vec<String> = report.applied.iter().map(|a| a.id.clone()).collect();
            let head = if ids.is_empty() {
                "No migrations to apply: the database is up to date".to_owned()
            } else {
                format!(
                    "Applied {} migration(s) in {} ms",
                    ids.len(),
                    report.total_ms
                )
            };
            (head, ids, Variable::AppliedCount)
        }
    };
    let summary = if ids.is_empty() {
        truncate(&head, SUMMARY_LIMIT)
    } else {
        list_within(&format!("{head}: "), &ids, SUMMARY_LIMIT)
    };
    let mut variables = vec![
        (count, ids.len().to_string()),
        (Variable::MigrationCount, report.migrations.to_string()),
        (Variable::Digest, report.digest.clone()),
    ];
    if count == Variable::PendingCount {
        // What an approval action shows the reviewer.
        variables.push((
            Variable::PendingIds,
            if ids.is_empty() {
                "none".to_owned()
            } else {
                list_within("", &ids, VARIABLE_LIMIT)
            },
        ));
    }
    if let Some(last) = &report.last_applied {
        variables.push((Variable::LastAppliedId, last.clone()));
    }
    (summary, variables)
}

/// The outcome of `verify`, which the trigger answers itself: the artifact parsed.
pub fn outcome_of_verify(digest: &str, total: usize) -> Outcome {
    Outcome::Success {
        summary: format!("Verified {total} migration(s), digest {digest}"),
        variables: vec![
            (Variable::MigrationCount, total.to_string()),
            (Variable::Digest, digest.to_owned()),
        ],
    }
}

/// The outcome of a migrator failure.
pub fn outcome_of_error(e: &ErrorPayload) -> Outcome {
    let (kind, message) = e.failure();
    let message = match &e.error_type {
        // The pipeline shows only the message: it names the migrator's kind.
        FailureType::Ours(kind) => format!(
            "migrator failed ({kind}): {}",
            one_line(&e.error_message),
            kind = kind.as_str()
        ),
        FailureType::Lambda(_) => message,
    };
    Outcome::Failure {
        configuration: kind == ErrorKind::Configuration,
        message: truncate(&message, FAILURE_LIMIT),
    }
}

/// What a follow-up's `status` answer says about the run it follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followed {
    /// The job is over.
    Done(Outcome),
    /// A run holds the lock: it is still going.
    Running,
    /// No run holds the lock, migrations are pending and none of them failed: the run
    /// stopped cleanly (at its deadline), and `up` carries on.
    Stopped,
}

/// The outcome of `up` answered with nothing pending, after `token.round` earlier
/// migrator runs that stopped at their deadline (applying `token.applied` in all).
pub fn outcome_of_rounds(report: &MigratorReply, token: &Continuation) -> Outcome {
    let (summary, mut variables) = summarize(report);
    if token.applied == 0 {
        return Outcome::Success { summary, variables };
    }
    let total = token.applied + report.applied.len();
    for (name, value) in &mut variables {
        if *name == Variable::AppliedCount {
            *value = total.to_string();
        }
    }
    let summary = truncate(
        &format!(
            "Applied {total} migration(s) over {} migrator runs (each stopped before its \
             deadline and the next carried on); last: {}",
            token.round + 1,
            report.last_applied.as_deref().unwrap_or("-")
        ),
        SUMMARY_LIMIT,
    );
    Outcome::Success { summary, variables }
}

/// What a follow-up's `status` answer means for the run it follows.
pub fn outcome_of_status(report: &MigratorReply, token: &Continuation) -> Followed {
    let done = Followed::Done;
    if report.digest != token.digest {
        return done(Outcome::failed(format!(
            "the artifact changed while the migrator ran: digest {} now, {} validated",
            report.digest, token.digest
        )));
    }
    if report.pending.is_empty() {
        let mut variables = vec![
            (Variable::MigrationCount, report.migrations.to_string()),
            (Variable::Digest, report.digest.clone()),
        ];
        if let Some(last) = &report.last_applied {
            variables.push((Variable::LastAppliedId, last.clone()));
        }
        let summary = truncate(
            &format!(
                "All {} migration(s) applied (followed up {} time(s)); last: {}",
                report.migrations,
                token.round + 1,
                report.last_applied.as_deref().unwrap_or("-")
            ),
            SUMMARY_LIMIT,
        );
        return done(Outcome::Success { summary, variables });
    }
    if report.lock_held == Some(true) {
        return Followed::Running;
    }
    // The run ended (nobody holds the lock) with migrations still pending: it failed.
    let first = &report.pending[0];
    let rows = match &report.report {
        Report::Status(s) => s.migrations.as_slice(),
        _ => &[],
    };
    let failed = rows
        .iter()
        .find(|r| r.state == MigrationState::Partial || (&r.id == first && r.note.is_some()));
    if failed.is_none() {
        return Followed::Stopped;
    }
    let note = failed
        .map(|r| {
            format!(
                "; {} is {}{}",
                r.id,
                r.state.as_str(),
                r.note
                    .as_deref()
                    .map(|n| format!(": {}", one_line(n)))
                    .unwrap_or_default()
            )
        })
        .unwrap_or_default();
    done(Outcome::failed(truncate(
        &format!(
            "the migrator run ended with {} migration(s) still pending (first: {first}){note}; \
             see the migrator's logs",
            report.pending.len()
        ),
        FAILURE_LIMIT,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fixtures::{reply, run, up};

    fn token(applied: usize, round: u32) -> Continuation {
        Continuation {
            v: 1,
            digest: "d".into(),
            total: 8,
            started_ms: 0,
            round,
            next: Default::default(),
            applied,
            lint: None,
            fleet: None,
        }
    }

    fn variable(o: &Outcome, name: Variable) -> Option<&str> {
        let Outcome::Success { variables, .. } = o else {
            return None;
        };
        variables
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_migrator_failure_names_its_kind_and_a_setup_fault_is_a_configuration_error() {
        let failed = |t: &str| ErrorPayload {
            error_type: FailureType::from(t.to_owned()),
            error_message: "what\nhappened".into(),
        };
        let Outcome::Failure {
            configuration,
            message,
        } = outcome_of_error(&failed("SqlError"))
        else {
            panic!("a failure")
        };
        assert!(!configuration);
        assert_eq!(message, "migrator failed (SqlError): what happened");
        let o = outcome_of_error(&failed("ConfigurationError"));
        assert!(
            matches!(
                o,
                Outcome::Failure {
                    configuration: true,
                    ..
                }
            ),
            "{o:?}"
        );
        let Outcome::Failure { message, .. } = outcome_of_error(&failed("Sandbox.Timedout")) else {
            panic!("a failure")
        };
        assert!(
            message.starts_with("the migrator timed out (what happened)"),
            "{message}"
        );
    }

    #[test]
    fn a_plan_publishes_what_is_pending_and_rounds_add_up() {
        let plan = reply(
            "plan",
            run("plan", &["1", "2"], true, None),
            &[],
            &["1", "2"],
        );
        let o = outcome_of_reply(&plan);
        assert_eq!(variable(&o, Variable::PendingCount), Some("2"));
        assert_eq!(variable(&o, Variable::PendingIds), Some("1, 2"));
        assert_eq!(variable(&o, Variable::AppliedCount), None);

        let o = outcome_of_rounds(&up(&["7", "8"], &[]), &token(6, 2));
        assert_eq!(variable(&o, Variable::AppliedCount), Some("8"));
        let Outcome::Success { summary, .. } = o else {
            panic!("a success")
        };
        assert!(
            summary.starts_with("Applied 8 migration(s) over 3 migrator runs"),
            "{summary}"
        );
    }
}
