//! How a job ends: the pure policy from a migrator answer (or failure) to the result
//! CodePipeline gets, within its API's limits.

use engine::command::{CommandName, ErrorKind, Report};
use engine::plan::MigrationState;

use super::job::Continuation;
use crate::text::{list_within, one_line, truncate};
use crate::wire::{ErrorPayload, MigratorReport};

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
        variables: Vec<(String, String)>,
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

    pub(super) fn misconfigured(message: impl Into<String>) -> Outcome {
        Outcome::Failure {
            configuration: true,
            message: message.into(),
        }
    }
}

/// The outcome of a migrator answer to `up`, `plan` or `status`.
pub fn outcome_of_report(report: &MigratorReport) -> Outcome {
    let (summary, variables) = summarize(report);
    Outcome::Success { summary, variables }
}

/// A successful answer's summary and output variables.
fn summarize(report: &MigratorReport) -> (String, Vec<(String, String)>) {
    let (head, ids, count_name) = match report.command {
        CommandName::Plan => (
            format!("Plan: {} migration(s) pending", report.pending.len()),
            report.pending.clone(),
            "PendingCount",
        ),
        CommandName::Status => (
            format!(
                "Status: {} migration(s), {} pending",
                report.migrations,
                report.pending.len()
            ),
            report.pending.clone(),
            "PendingCount",
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
            (head, ids, "AppliedCount")
        }
    };
    let summary = if ids.is_empty() {
        truncate(&head, SUMMARY_LIMIT)
    } else {
        list_within(&format!("{head}: "), &ids, SUMMARY_LIMIT)
    };
    let mut variables = vec![
        (count_name.to_owned(), ids.len().to_string()),
        ("MigrationCount".to_owned(), report.migrations.to_string()),
        ("Digest".to_owned(), report.digest.clone()),
    ];
    if count_name == "PendingCount" {
        // What an approval action shows the reviewer.
        variables.push((
            "PendingIds".to_owned(),
            if ids.is_empty() {
                "none".to_owned()
            } else {
                list_within("", &ids, VARIABLE_LIMIT)
            },
        ));
    }
    if let Some(last) = &report.last_applied {
        variables.push(("LastAppliedId".to_owned(), last.clone()));
    }
    (summary, variables)
}

/// The outcome of `verify`, which the trigger answers itself: the artifact parsed.
pub fn outcome_of_verify(digest: &str, total: usize) -> Outcome {
    Outcome::Success {
        summary: format!("Verified {total} migration(s), digest {digest}"),
        variables: vec![
            ("MigrationCount".to_owned(), total.to_string()),
            ("Digest".to_owned(), digest.to_owned()),
        ],
    }
}

/// The outcome of a migrator failure.
pub fn outcome_of_error(e: &ErrorPayload) -> Outcome {
    let kind = ErrorKind::parse(&e.error_type);
    let message = match e.error_type.as_str() {
        "Sandbox.Timedout" => format!(
            "the migrator timed out ({}); the migration it was running may be partly applied: \
             run `status` and raise the migrator's timeout",
            one_line(&e.error_message)
        ),
        _ => format!(
            "migrator failed ({}): {}",
            e.error_type,
            one_line(&e.error_message)
        ),
    };
    Outcome::Failure {
        configuration: kind == Some(ErrorKind::Configuration),
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
pub fn outcome_of_rounds(report: &MigratorReport, token: &Continuation) -> Outcome {
    let (summary, mut variables) = summarize(report);
    if token.applied == 0 {
        return Outcome::Success { summary, variables };
    }
    let total = token.applied + report.applied.len();
    for (name, value) in &mut variables {
        if name == "AppliedCount" {
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
pub fn outcome_of_status(report: &MigratorReport, token: &Continuation) -> Followed {
    let done = Followed::Done;
    if report.digest != token.digest {
        return done(Outcome::failed(format!(
            "the artifact changed while the migrator ran: digest {} now, {} validated",
            report.digest, token.digest
        )));
    }
    if report.pending.is_empty() {
        let mut variables = vec![
            ("MigrationCount".to_owned(), report.migrations.to_string()),
            ("Digest".to_owned(), report.digest.clone()),
        ];
        if let Some(last) = &report.last_applied {
            variables.push(("LastAppliedId".to_owned(), last.clone()));
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
    let rows = match report.typed() {
        Ok(Report::Status(s)) => s.migrations,
        _ => Vec::new(),
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
