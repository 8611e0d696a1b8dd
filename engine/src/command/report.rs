//! What a command reports: typed, serialisable both ways, so that a report made by the
//! migrator and read back by a remote CLI renders exactly as one made locally.

use serde::{Deserialize, Serialize};

use super::error::{CommandError, Frontend};
use super::request::{CommandName, Request, Resolution};
use crate::plan::StatusRow;
use crate::store::MigrationFailure;
use crate::store::{RunLockWait, RunOutcome, StepReport, Stopped};

/// What fetching an S3 source cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchSummary {
    /// The object, `s3://bucket/key`.
    pub object: String,
    /// `full` or `selective`.
    pub mode: String,
    /// The object's size in bytes.
    pub object_size: u64,
    /// Body bytes received.
    pub bytes_fetched: u64,
    /// GET requests sent.
    pub requests: u64,
    /// Wall time of the fetch in milliseconds.
    pub duration_ms: u64,
}

impl FetchSummary {
    /// One line for stderr.
    pub fn human(&self) -> String {
        format!(
            "fetched {}: {} mode, {} of {} bytes in {} request(s), {} ms",
            self.object,
            self.mode,
            self.bytes_fetched,
            self.object_size,
            self.requests,
            self.duration_ms
        )
    }
}

/// The database a command changes, as the `target:` line before it acts names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// `user@host:port/db`; never a password.
    pub address: String,
    /// Where that came from: `flag --database`, `env DATABASE_URL`, `env DB_HOST`, or
    /// `config FILE env NAME`.
    pub from: String,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (from {})", self.address, self.from)
    }
}

/// One migration as `verify` reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyRow {
    /// The migration id.
    pub id: String,
    /// The file's checksum.
    pub sha256: String,
    /// Statements in the Up section.
    pub up_statements: usize,
    /// Statements in the Down section.
    pub down_statements: usize,
    /// The Up section is `notransaction`.
    pub up_notransaction: bool,
    /// The Down section is `notransaction`.
    pub down_notransaction: bool,
}

/// `verify`'s report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Where the migrations came from.
    pub source: String,
    /// How an S3 source was fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch: Option<FetchSummary>,
    /// The set digest.
    pub digest: String,
    /// Every migration, in apply order.
    pub migrations: Vec<VerifyRow>,
}

/// `status`'s report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    /// Always `status`.
    pub command: CommandName,
    /// Every migration and unknown history row, in apply order.
    pub migrations: Vec<StatusRow>,
    /// Whether a run holds the migration lock right now.
    pub lock_held: bool,
}

impl StatusReport {
    /// The newest migration, in apply order, that is applied.
    pub fn last_applied(&self) -> Option<String> {
        self.migrations
            .iter()
            .rev()
            .find(|r| r.state == crate::plan::MigrationState::Applied)
            .map(|r| r.id.clone())
    }
}

/// `resolve`'s report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolveReport {
    /// Always `resolve`.
    pub command: CommandName,
    /// The migration.
    pub id: String,
    /// What was recorded.
    pub state: Resolution,
    /// The database changed, when the front end knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// The wait for the run lock, when another session held it at first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_wait: Option<RunLockWait>,
}

/// The report of a command that plans: `plan`, `up`, `down`, `redo`, `skip`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    /// The command.
    pub command: CommandName,
    /// Nothing was changed (`plan`, `--dry-run`).
    pub dry_run: bool,
    /// Everything asked for was done.
    pub ok: bool,
    /// Each migration run, reverted, recorded or (dry run) planned, in order.
    pub migrations: Vec<StepReport>,
    /// Ids whose checksum was adopted (applied before without one).
    pub adopted: Vec<String>,
    /// Checksum mismatches let through by `allow_drift`.
    pub drift: Vec<crate::plan::Drift>,
    /// History rows without a file let through by `ignore_unknown`.
    pub unknown: Vec<String>,
    /// The newest migration (in apply order) applied once the run is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied: Option<String>,
    /// The run stopped between migrations at its deadline (a migrator near its timeout);
    /// running `up` again carries on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<Stopped>,
    /// The migration that failed, and what is committed (boxed: see `target`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Box<MigrationFailure>>,
    /// The kind of failure ([`super::ErrorKind`]'s name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<String>,
    /// The failure's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The database a writing run changed (or would have), when the front end knows it
    /// (boxed: most reports have none, and `Report` keeps its variants close in size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Box<Target>>,
    /// `plan --review`: one entry per pending ALTER or index statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<Vec<crate::review::ReviewEntry>>,
    /// `plan --review`: the rest of the review (verdicts per migration, what could not
    /// be seen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_summary: Option<Box<crate::review::ReviewSummary>>,
    /// A dry run's SQL script (`--sql`): what the run would send, in order, for the
    /// `mysql` client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// The wait for the run lock, when another session held it at first (also when the
    /// run gave up waiting: then it names who held it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_wait: Option<Box<RunLockWait>>,
}

impl RunSummary {
    /// The review, when the run was a `plan --review`.
    pub fn review(&self) -> Option<crate::review::Review> {
        Some(crate::review::Review {
            entries: self.review.clone()?,
            summary: (**self.review_summary.as_ref()?).clone(),
        })
    }
}

/// Any command's report.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Report {
    /// `verify`.
    Verify(VerifyReport),
    /// `lint`.
    Lint(crate::lint::LintReport),
    /// `status`.
    Status(StatusReport),
    /// `resolve`.
    Resolve(ResolveReport),
    /// `plan`, `up`, `down`, `redo`, `skip`.
    Run(RunSummary),
}

impl Report {
    /// The run summary, for `plan`, `up`, `down`, `redo` and `skip`.
    pub fn run(&self) -> Option<&RunSummary> {
        match self {
            Report::Run(r) => Some(r),
            _ => None,
        }
    }

    /// Names the database a writing command changed (`--json`'s `target`).
    pub fn set_target(&mut self, target: Target) {
        match self {
            Report::Run(r) => r.target = Some(Box::new(target)),
            Report::Resolve(r) => r.target = Some(target),
            Report::Verify(_) | Report::Lint(_) | Report::Status(_) => {}
        }
    }

    /// Reads a report of `command` back from its JSON form.
    pub fn from_value(
        command: CommandName,
        json: serde_json::Value,
    ) -> Result<Report, serde_json::Error> {
        Ok(match command {
            CommandName::Verify => Report::Verify(serde_json::from_value(json)?),
            CommandName::Lint => Report::Lint(serde_json::from_value(json)?),
            CommandName::Status => Report::Status(serde_json::from_value(json)?),
            CommandName::Resolve => Report::Resolve(serde_json::from_value(json)?),
            _ => Report::Run(serde_json::from_value(json)?),
        })
    }

    /// The wait for the run lock, when the command waited for it.
    pub fn lock_wait(&self) -> Option<&RunLockWait> {
        match self {
            Report::Run(r) => r.lock_wait.as_deref(),
            Report::Resolve(r) => r.lock_wait.as_ref(),
            Report::Verify(_) | Report::Lint(_) | Report::Status(_) => None,
        }
    }

    /// Ids still to apply: what `plan` would run, what `status` shows as pending, or what
    /// a run stopped at its deadline did not start.
    pub fn pending(&self) -> Vec<String> {
        match self {
            Report::Status(s) => s
                .migrations
                .iter()
                .filter(|r| r.state.pending())
                .map(|r| r.id.clone())
                .collect(),
            Report::Run(r) if r.dry_run => r.migrations.iter().map(|s| s.id.clone()).collect(),
            Report::Run(r) => r
                .stopped
                .as_ref()
                .map(|s| s.pending.clone())
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

impl Report {
    /// The failure a finished `lint` report stands for under `request`'s failing
    /// severity: the report is still shown, and the command exits as refused.
    pub fn refusal(&self, request: &Request) -> Option<CommandError> {
        let Report::Lint(r) = self else {
            return None;
        };
        let fail_on = request.lint_fail_on.unwrap_or_default();
        let failing = r.failing(fail_on);
        (failing > 0).then(|| CommandError::LintRefused {
            failing,
            fail_on: fail_on.as_str(),
            errors: r.summary.errors,
            warnings: r.summary.warnings,
        })
    }
}

impl RunSummary {
    /// A run that did everything asked, or stopped at its deadline between migrations.
    pub fn done(command: CommandName, dry_run: bool, r: RunOutcome) -> RunSummary {
        RunSummary {
            command,
            dry_run,
            ok: r.stopped.is_none(),
            migrations: r.steps,
            adopted: r.adopted,
            drift: r.drift,
            unknown: r.unknown,
            last_applied: r.last_applied,
            stopped: r.stopped,
            failure: None,
            error_kind: None,
            error: None,
            target: None,
            review: None,
            review_summary: None,
            sql: r.sql,
            lock_wait: r.lock_wait.map(Box::new),
        }
    }

    /// A run that failed with `e`: what completed before, the failure, and its
    /// message as `frontend` words it.
    pub fn failed(request: &Request, e: &CommandError, frontend: &Frontend) -> RunSummary {
        let failure = e.failure().cloned().map(Box::new);
        RunSummary {
            command: request.command,
            dry_run: !request.writes(),
            ok: false,
            migrations: failure
                .as_ref()
                .map(|f| f.completed.clone())
                .unwrap_or_default(),
            adopted: Vec::new(),
            drift: Vec::new(),
            unknown: Vec::new(),
            last_applied: None,
            stopped: None,
            failure,
            error_kind: Some(e.kind().as_str().to_owned()),
            error: Some(e.message(frontend)),
            target: None,
            review: None,
            review_summary: None,
            sql: None,
            lock_wait: e.lock_wait().cloned().map(Box::new),
        }
    }
}
