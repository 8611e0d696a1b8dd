//! `plan --review`: what each pending ALTER will really do on this server, asked of the
//! server itself, beside the table's size, the run's deadline and who holds locks on the
//! table right now.
//!
//! The pure half lives here: which statements can be asked about ([`target`]), the
//! report's shape, the cost estimate and the verdicts. The database half (probe tables,
//! information_schema reads) is `db::review`; a front end renders the [`Review`] as text,
//! JSON or one self-contained HTML page ([`page`]).

pub mod page;
pub mod target;
mod verdict;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::lint::{Finding, SectionName};
pub use verdict::{bytes, judge, judge_migration};

/// The algorithm the server chose for a change, or why none was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Algorithm {
    /// Metadata only: no rows touched.
    #[serde(rename = "INSTANT")]
    Instant,
    /// In place: the table is not copied, though it may be rebuilt.
    #[serde(rename = "INPLACE")]
    Inplace,
    /// A full copy of the table.
    #[serde(rename = "COPY")]
    Copy,
    /// Not asked: see the entry's reasons.
    #[serde(rename = "not-probed")]
    NotProbed,
}

impl Algorithm {
    /// The name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Instant => "INSTANT",
            Algorithm::Inplace => "INPLACE",
            Algorithm::Copy => "COPY",
            Algorithm::NotProbed => "not-probed",
        }
    }
}

/// How the review judges a statement or a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing found that blocks or copies.
    Safe,
    /// A person should read the reasons before approving.
    Review,
    /// Will block writes past the deadline, lose data, or fail.
    Danger,
}

impl Verdict {
    /// The word, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Safe => "safe",
            Verdict::Review => "review",
            Verdict::Danger => "danger",
        }
    }
}

/// One statement the review asks the server about.
#[derive(Debug, Clone)]
pub struct Question {
    /// The migration id.
    pub migration: String,
    /// The Up statement, 1-based.
    pub statement: usize,
    /// What to ask.
    pub target: target::Target,
}

/// How the review weighs what it finds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReviewSettings {
    /// Bytes per second a copying or rebuilding change is assumed to go at.
    pub copy_rate_bytes_per_sec: f64,
    /// Transactions open longer than this are listed.
    pub long_transaction_secs: u64,
    /// The seconds one run may take, when the store has no deadline of its own (the
    /// CLI: the longest a Lambda function may run).
    pub deadline_secs: Option<f64>,
}

/// What the server said, before verdicts: the store's half of a [`Review`].
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// One entry per question that is an ALTER or index statement, verdicts not set.
    pub entries: Vec<ReviewEntry>,
    /// `VERSION()`.
    pub server: String,
    /// The seconds one run may take.
    pub deadline_secs: Option<f64>,
    /// The copy rate the estimates used, bytes per second.
    pub copy_rate_bytes_per_sec: f64,
    /// Transactions open longer than the threshold.
    pub long_transactions: Vec<Blocker>,
    /// What could not be seen.
    pub unavailable: Vec<Unavailable>,
    /// Leftover probes dropped first.
    pub leftovers_dropped: Vec<String>,
}

/// The reason an entry gives when its table does not exist yet: a pending migration
/// creates it, so it is empty when altered and nothing is copied.
pub const NEW_TABLE: &str = "the table does not exist on the server yet";

/// Reserved prefix of probe table names: a table named so is a probe, and one found
/// by a review is a leftover of a killed one (reviews hold the run lock).
pub const PROBE_PREFIX: &str = "_lm_probe_";

/// A session that may stand in the change's way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocker {
    /// The connection (processlist) id: what `KILL` takes.
    pub connection: u64,
    /// Its user.
    pub user: String,
    /// Its host.
    pub host: String,
    /// Seconds since its transaction (or, without one, its statement) started.
    pub age_secs: u64,
    /// What it is running now, cut to a line; empty when idle in a transaction.
    pub statement: String,
    /// The metadata lock it holds or waits for (`SHARED_READ granted`), when known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub lock: String,
}

/// One probed or unprobeable statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewEntry {
    /// The migration id.
    pub migration: String,
    /// The section (a review of `up` is always `up`).
    pub section: SectionName,
    /// The statement, 1-based within its section.
    pub statement: usize,
    /// `schema.table`.
    pub table: String,
    /// What the server accepted first.
    pub algorithm: Algorithm,
    /// The lock level it was accepted with: `NONE`, `SHARED`, `EXCLUSIVE`, or `DEFAULT`
    /// when only the statement as written was accepted; empty when not probed.
    pub lock: String,
    /// Whether an INPLACE change rebuilds the table (a new tablespace), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebuilds: Option<bool>,
    /// The table's row count estimate (information_schema).
    pub rows: u64,
    /// Its data length in bytes.
    pub data_bytes: u64,
    /// Its index length in bytes.
    #[serde(default)]
    pub index_bytes: u64,
    /// InnoDB's row versions (MySQL 8.0.29+), where the server has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_versions: Option<u64>,
    /// Estimated seconds for a copying or rebuilding change; 0 for metadata-only ones.
    pub estimate_secs: f64,
    /// Sessions in the way now.
    pub blockers: Vec<Blocker>,
    /// The statement's verdict.
    pub verdict: Verdict,
    /// Why: refusal texts, sizes against the deadline, blockers, lint findings.
    pub reasons: Vec<String>,
}

/// One pending migration's verdict, from its statements' and its lint findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigrationVerdict {
    /// The migration id.
    pub migration: String,
    /// The worst of its entries and findings.
    pub verdict: Verdict,
    /// The reasons behind it, worst first.
    pub reasons: Vec<String>,
}

/// What the review could not see, and why (a missing privilege, a server without the
/// view): the rest of the report still stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unavailable {
    /// What is missing: `blockers`, `row_versions`, `rebuilds`.
    pub what: String,
    /// Why, naming the privilege or plugin that would give it.
    pub reason: String,
}

/// The whole review: `plan --review --json` carries [`Review::entries`] as `review` and
/// the rest as `review_summary`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Review {
    /// One entry per probed or unprobeable statement, in apply order.
    pub entries: Vec<ReviewEntry>,
    /// Everything else the review found.
    pub summary: ReviewSummary,
}

/// The review beside its entries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReviewSummary {
    /// The server asked: `VERSION()`.
    pub server: String,
    /// The seconds one run may take (the migrator's deadline), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_secs: Option<f64>,
    /// The copy rate estimates use, in bytes per second.
    pub copy_rate_bytes_per_sec: f64,
    /// Where that rate came from: `measured` on this server, or `setting`.
    pub copy_rate_from: String,
    /// One verdict per pending migration, in apply order.
    pub migrations: Vec<MigrationVerdict>,
    /// The lint findings of the pending migrations (the page shows them beside the
    /// statements).
    pub findings: Vec<Finding>,
    /// Transactions open longer than the review's threshold, on any table: each holds
    /// its locks (and its undo) until it ends.
    pub long_transactions: Vec<Blocker>,
    /// What could not be seen.
    pub unavailable: Vec<Unavailable>,
    /// Probe tables left by a killed earlier review, dropped before this one.
    pub leftovers_dropped: Vec<String>,
    /// Each pending migration's Up statements, for the page.
    pub statements: Vec<ReviewedMigration>,
}

/// A pending migration's statements, for the page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewedMigration {
    /// The migration id.
    pub migration: String,
    /// Its file.
    pub file: String,
    /// Each Up statement's text, whole.
    pub up: Vec<String>,
}

/// The whole review from what the store observed: every entry judged against the
/// deadline, the pending migrations' Up findings kept, one verdict per migration.
pub fn assemble(
    observed: Observed,
    findings: Vec<Finding>,
    pending: &[&crate::migration::Migration<'_>],
) -> Review {
    let Observed {
        mut entries,
        server,
        deadline_secs,
        copy_rate_bytes_per_sec,
        long_transactions,
        unavailable,
        leftovers_dropped,
    } = observed;
    for e in &mut entries {
        judge(e, deadline_secs);
    }
    let findings: Vec<Finding> = findings
        .into_iter()
        .filter(|f| f.section == SectionName::Up && pending.iter().any(|m| m.id == f.migration))
        .collect();
    let migrations = pending
        .iter()
        .map(|m| judge_migration(m.id, &entries, &findings))
        .collect();
    let statements = pending
        .iter()
        .map(|m| ReviewedMigration {
            migration: m.id.to_owned(),
            file: m.origin.to_owned(),
            up: m.up.statements.iter().map(|s| s.sql.to_string()).collect(),
        })
        .collect();
    Review {
        entries,
        summary: ReviewSummary {
            server,
            deadline_secs,
            copy_rate_bytes_per_sec,
            copy_rate_from: "setting".into(),
            migrations,
            findings,
            long_transactions,
            unavailable,
            leftovers_dropped,
            statements,
        },
    }
}
