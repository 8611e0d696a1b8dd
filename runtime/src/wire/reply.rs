//! What the migrator answers: its reply to an invocation that succeeded, the error payload
//! Lambda returns for one that failed, and what one Invoke brought back, with the one
//! mapping from a failed Invoke to an [`ErrorKind`] and a message.

use std::fmt;
use std::time::Duration;

use engine::command::{CommandName, ErrorKind, FetchSummary, Report};
use serde::{Deserialize, Serialize};

use crate::text::one_line;

/// One migration a run applied (or reverted, for `down`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedMigration {
    /// The migration id.
    pub id: String,
    /// The file's checksum.
    pub sha256: String,
    /// Statements sent.
    pub statements: usize,
    /// Time spent on it.
    pub duration_ms: u64,
}

/// The migrator's answer to a successful invocation: a summary for the trigger, and the
/// command's whole report for the remote CLI to render.
///
/// Reading one back needs its `command` to tell which report it carries, so it is read
/// through a private form holding the report as plain JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "RawReply")]
pub struct MigratorReply {
    /// The command that ran.
    pub command: CommandName,
    /// Where the migrations came from.
    pub source: String,
    /// The set digest of the migrations read.
    pub digest: String,
    /// How many migrations the artifact holds.
    pub migrations: usize,
    /// What this run applied, reverted or recorded, in order.
    pub applied: Vec<AppliedMigration>,
    /// Ids a run would still apply (`plan`, `status`), or that a run stopped before its
    /// deadline did not start, in order.
    pub pending: Vec<String>,
    /// Whether another run holds the migration lock (`status` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_held: Option<bool>,
    /// The newest applied migration after the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_applied: Option<String>,
    /// How the artifact was fetched, when it came from S3.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetch: Option<FetchSummary>,
    /// Wall time of the whole invocation.
    pub total_ms: u64,
    /// `lint`: the failing severity the migrator applied (the request's, else its
    /// LINT_FAIL_ON). A refusing lint still replies with its report, so that the caller
    /// shows the findings; [`MigratorReply::refusal`] says whether it refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lint_fail_on: Option<engine::lint::FailOn>,
    /// The command's report, as the CLI prints it with `--json`.
    pub report: Report,
}

/// [`MigratorReply`] as it arrives, before its report is read for its command.
#[derive(Deserialize)]
pub(super) struct RawReply {
    command: CommandName,
    source: String,
    digest: String,
    migrations: usize,
    #[serde(default)]
    applied: Vec<AppliedMigration>,
    #[serde(default)]
    pending: Vec<String>,
    #[serde(default)]
    lock_held: Option<bool>,
    #[serde(default)]
    last_applied: Option<String>,
    #[serde(default)]
    fetch: Option<FetchSummary>,
    total_ms: u64,
    #[serde(default)]
    lint_fail_on: Option<engine::lint::FailOn>,
    report: serde_json::Value,
}

impl TryFrom<RawReply> for MigratorReply {
    type Error = serde_json::Error;

    fn try_from(raw: RawReply) -> Result<MigratorReply, serde_json::Error> {
        Ok(MigratorReply {
            report: Report::from_value(raw.command, raw.report)?,
            command: raw.command,
            source: raw.source,
            digest: raw.digest,
            migrations: raw.migrations,
            applied: raw.applied,
            pending: raw.pending,
            lock_held: raw.lock_held,
            last_applied: raw.last_applied,
            fetch: raw.fetch,
            total_ms: raw.total_ms,
            lint_fail_on: raw.lint_fail_on,
        })
    }
}

impl MigratorReply {
    /// The refusal a `lint` report stands for under the severity the migrator applied
    /// (else `request`'s); `None` for other commands.
    pub fn refusal(
        &self,
        request: &engine::command::Request,
    ) -> Option<engine::command::CommandError> {
        let applied = engine::command::Request {
            lint_fail_on: self.lint_fail_on.or(request.lint_fail_on),
            ..request.clone()
        };
        self.report.refusal(&applied)
    }

    /// The run stopped before its deadline with migrations not started (`pending` then
    /// lists them; a dry run's `pending` is its plan instead).
    pub fn stopped(&self) -> bool {
        matches!(&self.report, Report::Run(r) if r.stopped.is_some())
    }
}

/// What kind of failure an invocation's `errorType` names: one of the migrator's own
/// kinds, or Lambda's (kept as Lambda spells it). On the wire it is that name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum FailureType {
    /// The migrator failed and said why.
    Ours(ErrorKind),
    /// Lambda's own failure: a timeout (`Sandbox.Timedout`), a crash
    /// (`Runtime.ExitError`), an init error, or none named (empty).
    Lambda(String),
}

impl FailureType {
    /// Lambda's `errorType` when it killed the function at its timeout.
    pub const TIMED_OUT: &str = "Sandbox.Timedout";

    /// The name, as in `errorType`.
    pub fn as_str(&self) -> &str {
        match self {
            FailureType::Ours(k) => k.as_str(),
            FailureType::Lambda(s) => s,
        }
    }

    /// The migrator's own kind, when it is one.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            FailureType::Ours(k) => Some(*k),
            FailureType::Lambda(_) => None,
        }
    }
}

impl Default for FailureType {
    /// An `errorType` that is absent: none named.
    fn default() -> FailureType {
        FailureType::Lambda(String::new())
    }
}

impl From<String> for FailureType {
    fn from(s: String) -> FailureType {
        match ErrorKind::parse(&s) {
            Some(k) => FailureType::Ours(k),
            None => FailureType::Lambda(s),
        }
    }
}

impl From<FailureType> for String {
    fn from(t: FailureType) -> String {
        match t {
            FailureType::Ours(k) => k.as_str().to_owned(),
            FailureType::Lambda(s) => s,
        }
    }
}

impl fmt::Display for FailureType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of a failed invocation, as Lambda returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorPayload {
    /// What kind of failure.
    #[serde(default)]
    pub error_type: FailureType,
    /// What went wrong.
    #[serde(default)]
    pub error_message: String,
}

impl ErrorPayload {
    /// The kind of failure and its message: the migrator's own as it gave them, or
    /// Lambda's worded for a person.
    pub fn failure(&self) -> (ErrorKind, String) {
        let message = one_line(&self.error_message);
        match &self.error_type {
            FailureType::Ours(kind) => (*kind, self.error_message.clone()),
            // Lambda killed the function: a statement may have been cut off part-way.
            FailureType::Lambda(t) if t == FailureType::TIMED_OUT => (
                ErrorKind::Sql,
                format!(
                    "the migrator timed out ({message}); the migration it was running may \
                     be partly applied: run `status` and raise the migrator's timeout"
                ),
            ),
            FailureType::Lambda(t) => (
                ErrorKind::Sql,
                format!("the migrator failed ({t}): {message}"),
            ),
        }
    }
}

/// The result of one Invoke of the migrator.
#[derive(Debug, Clone)]
pub enum Invoked {
    /// The migrator answered with its reply.
    Reply(Box<MigratorReply>),
    /// The migrator failed: `X-Amz-Function-Error` was set, the body is the error.
    FunctionError(ErrorPayload),
    /// The caller's time ran out before the migrator answered; it keeps running.
    StillRunning {
        /// How long the caller waited.
        waited: Duration,
    },
    /// The Invoke call itself failed (no such function, denied, network), or the answer
    /// is not a migrator reply at all.
    CallFailed {
        /// The error and its causes.
        message: String,
        /// The function does not exist, may not be invoked, or is not a migrator: a
        /// setup fault.
        configuration: bool,
    },
    /// The migrator answered, but with a report this build cannot read (the migrator
    /// and its caller are different versions).
    Unreadable {
        /// Which function, and why the report was not read.
        message: String,
    },
}

impl Invoked {
    /// What a failed invocation of `function` means: the kind of failure and its
    /// message. `None` for a reply.
    pub fn failure(&self, function: &str) -> Option<(ErrorKind, String)> {
        Some(match self {
            Invoked::Reply(_) => return None,
            Invoked::FunctionError(e) => e.failure(),
            Invoked::StillRunning { waited } => (
                ErrorKind::Connection,
                format!("{function} did not answer within {} s", waited.as_secs()),
            ),
            Invoked::CallFailed { message, .. } => (ErrorKind::Connection, message.clone()),
            Invoked::Unreadable { message } => (ErrorKind::Internal, message.clone()),
        })
    }

    /// The migrator itself answered (with a reply, an error of its own or Lambda's, or a
    /// report this build cannot read), rather than not at all.
    pub fn answered(&self) -> bool {
        !matches!(
            self,
            Invoked::StillRunning { .. } | Invoked::CallFailed { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{reply, run, up};
    use super::*;

    #[test]
    fn only_a_run_stopped_at_its_deadline_is_stopped() {
        assert!(up(&["1_a.sql"], &["2_b.sql"]).stopped());
        assert!(!up(&["1_a.sql", "2_b.sql"], &[]).stopped());
        // A dry run lists its plan as pending too, without having stopped.
        let plan = reply(
            "plan",
            run("plan", &["2_b.sql"], true, None),
            &[],
            &["2_b.sql"],
        );
        assert!(!plan.stopped());
    }

    #[test]
    fn a_reply_reads_back_and_writes_the_same_bytes() {
        let sent = serde_json::to_string(&up(&["1_a.sql"], &["2_b.sql"])).unwrap();
        let read: MigratorReply = serde_json::from_str(&sent).unwrap();
        assert_eq!(serde_json::to_string(&read).unwrap(), sent);
        // The report is the command's own JSON, as the CLI prints it with `--json`.
        let value: serde_json::Value = serde_json::from_str(&sent).unwrap();
        assert_eq!(
            value["report"].to_string(),
            serde_json::to_string(&read.report).unwrap()
        );
        assert_eq!(value["report"]["stopped"]["pending"][0], "2_b.sql");
    }

    #[test]
    fn a_report_that_does_not_fit_its_command_is_refused() {
        let mut value = serde_json::to_value(up(&["1_a.sql"], &[])).unwrap();
        value["command"] = "status".into();
        assert!(serde_json::from_value::<MigratorReply>(value).is_err());
    }

    #[test]
    fn failure_types_read_and_write_their_names() {
        for kind in ErrorKind::ALL {
            let json = format!(r#"{{"errorType":"{}","errorMessage":"m"}}"#, kind.as_str());
            let e: ErrorPayload = serde_json::from_str(&json).unwrap();
            assert_eq!(e.error_type, FailureType::Ours(kind));
            assert_eq!(serde_json::to_string(&e).unwrap(), json);
        }
        let e: ErrorPayload =
            serde_json::from_str(r#"{"errorType":"Sandbox.Timedout","errorMessage":"t"}"#).unwrap();
        assert_eq!(
            e.error_type,
            FailureType::Lambda(FailureType::TIMED_OUT.into())
        );
        assert_eq!(e.error_type.kind(), None);
        let e: ErrorPayload = serde_json::from_str("{}").unwrap();
        assert_eq!(e.error_type.as_str(), "");
    }

    #[test]
    fn one_mapping_from_a_failed_invoke_to_a_kind_and_message() {
        let lambda = |t: &str| {
            Invoked::FunctionError(ErrorPayload {
                error_type: FailureType::from(t.to_owned()),
                error_message: "Task timed out\nafter 1.00 seconds".into(),
            })
        };
        let (kind, message) = lambda("Sandbox.Timedout").failure("m").unwrap();
        assert_eq!(kind, ErrorKind::Sql);
        assert!(
            message.contains("timed out (Task timed out after 1.00 seconds)")
                && message.contains("run `status`"),
            "{message}"
        );
        let (kind, message) = lambda("Runtime.ExitError").failure("m").unwrap();
        assert_eq!(kind, ErrorKind::Sql);
        assert!(message.starts_with("the migrator failed (Runtime.ExitError): "));
        let (kind, _) = lambda("DigestMismatch").failure("m").unwrap();
        assert_eq!(kind, ErrorKind::DigestMismatch);
        let unreached = Invoked::CallFailed {
            message: "invoking m failed: denied".into(),
            configuration: true,
        };
        assert_eq!(
            unreached.failure("m"),
            Some((ErrorKind::Connection, "invoking m failed: denied".into()))
        );
        assert!(!unreached.answered() && lambda("x").answered());
        assert!(
            Invoked::Reply(Box::new(up(&[], &[])))
                .failure("m")
                .is_none()
        );
    }
}
