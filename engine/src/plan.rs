//! Planning: what a run applies, reverts or records, decided from the migration files,
//! the history table (sql-migrate's `gorp_migrations`) and lambda-migrate's journal.
//!
//! Everything here is a pure function over records, so every rule (sql-migrate's
//! catch-up, unknown rows, checksum drift, adopting checksums, resuming a partial
//! migration) is tested without a database. The `db` module reads the records, calls
//! [`plan`] and executes the result.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::migration::order::{compare, version_of};
use crate::migration::{Migration, MigrationError, Statement, hex};

/// Which way a migration runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The `-- +migrate Up` section.
    Up,
    /// The `-- +migrate Down` section.
    Down,
}

impl Direction {
    /// The journal's spelling: `up` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }

    /// Parses the journal's spelling.
    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "up" => Some(Direction::Up),
            "down" => Some(Direction::Down),
            _ => None,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state a journal row records for a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum JournalState {
    /// Applied completely by lambda-migrate; the history row exists.
    Applied,
    /// Reverted completely; the history row was deleted.
    Reverted,
    /// Recorded as applied without running it (`skip`).
    Skipped,
    /// Applied by someone else (e.g. sql-migrate); the file's checksum was adopted.
    Adopted,
    /// A run started it and never finished: the connection or process died. The
    /// statements counted as applied are committed.
    Running,
    /// A statement failed; the statements counted as applied are committed.
    Failed,
    /// A person recorded with `resolve --applied` that it is applied.
    ResolvedApplied,
    /// A person recorded with `resolve --rolled-back` that it is not applied.
    ResolvedRolledBack,
}

impl JournalState {
    /// The journal's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            JournalState::Applied => "applied",
            JournalState::Reverted => "reverted",
            JournalState::Skipped => "skipped",
            JournalState::Adopted => "adopted",
            JournalState::Running => "running",
            JournalState::Failed => "failed",
            JournalState::ResolvedApplied => "resolved-applied",
            JournalState::ResolvedRolledBack => "resolved-rolled-back",
        }
    }

    /// Parses the journal's spelling.
    pub fn parse(s: &str) -> Option<JournalState> {
        Some(match s {
            "applied" => JournalState::Applied,
            "reverted" => JournalState::Reverted,
            "skipped" => JournalState::Skipped,
            "adopted" => JournalState::Adopted,
            "running" => JournalState::Running,
            "failed" => JournalState::Failed,
            "resolved-applied" => JournalState::ResolvedApplied,
            "resolved-rolled-back" => JournalState::ResolvedRolledBack,
            _ => return None,
        })
    }

    /// The row's checksum describes the file as it is applied now.
    fn vouches_for_checksum(self) -> bool {
        matches!(
            self,
            JournalState::Applied
                | JournalState::Skipped
                | JournalState::Adopted
                | JournalState::ResolvedApplied
        )
    }

    /// The run that wrote the row stopped part-way.
    fn unfinished(self) -> bool {
        matches!(self, JournalState::Running | JournalState::Failed)
    }
}

impl fmt::Display for JournalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of the history table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    /// The migration id (file base name).
    pub id: String,
    /// `applied_at` as the server formats it (UTC), if set.
    pub applied_at: Option<String>,
}

/// One row of lambda-migrate's journal table (one per migration id: its latest state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRow {
    /// The migration id.
    pub id: String,
    /// SHA-256 of the file when it was applied or adopted.
    pub sha256: Option<String>,
    /// The direction of the last run that touched it.
    pub direction: Direction,
    /// Its state.
    pub state: JournalState,
    /// How many statements of `direction` are committed, counted from the first.
    pub statements_applied: usize,
    /// [`StatementHasher`] digest of the committed statements.
    pub applied_sha256: Option<String>,
    /// [`StatementHasher`] short per-statement hashes of the committed statements, kept
    /// while the migration is unfinished so a resume can name the statement that changed.
    pub statement_hashes: Option<String>,
    /// The error that stopped it, if any.
    pub error: Option<String>,
}

/// The running hash of a migration's applied statements, and their short hashes.
#[derive(Clone, Default)]
pub struct StatementHasher {
    running: Sha256,
    shorts: String,
    count: usize,
}

impl StatementHasher {
    /// A hasher with nothing applied.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one applied statement.
    pub fn push(&mut self, sql: &str) {
        // Length-prefixed so that statement boundaries are part of what is hashed.
        self.running.update((sql.len() as u64).to_le_bytes());
        self.running.update(sql.as_bytes());
        if self.count > 0 {
            self.shorts.push(' ');
        }
        self.shorts.push_str(&short_hash(sql));
        self.count += 1;
    }

    /// Hex digest of the statements pushed so far.
    pub fn digest(&self) -> String {
        hex(&self.running.clone().finalize())
    }

    /// Space-separated short hashes, one per statement pushed.
    pub fn shorts(&self) -> &str {
        &self.shorts
    }

    /// How many statements were pushed.
    pub fn count(&self) -> usize {
        self.count
    }
}

/// The first 16 hex digits of a statement's SHA-256.
pub fn short_hash(sql: &str) -> String {
    hex(&Sha256::digest(sql.as_bytes())[..8])
}

/// What a run was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Apply pending migrations (with sql-migrate's catch-up).
    Up,
    /// Revert applied migrations, newest first.
    Down,
    /// Revert the newest applied migration and apply it again.
    Redo,
    /// Record pending migrations as applied without running them.
    Skip,
}

/// Options of a run.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// What to do.
    pub command: Command,
    /// At most this many migrations (`None`: no limit).
    pub limit: Option<usize>,
    /// Rows in the history table without a file are ignored instead of refused.
    pub ignore_unknown: bool,
    /// Checksum mismatches are reported instead of refused.
    pub allow_drift: bool,
    /// Continue a partial migration from its first uncommitted statement.
    pub resume: bool,
}

impl Options {
    /// Options for `command` with everything else off.
    pub fn new(command: Command) -> Self {
        Options {
            command,
            limit: None,
            ignore_unknown: false,
            allow_drift: false,
            resume: false,
        }
    }
}

/// How a step treats its migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Run the statements and write the history row.
    Run,
    /// Only write the history row (`skip`).
    Record,
}

/// One migration to run, in plan order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Index into the migrations passed to [`plan`].
    pub index: usize,
    /// Which section runs.
    pub direction: Direction,
    /// Run it or only record it.
    pub action: Action,
    /// sql-migrate's catch-up: it sorts before the newest applied migration but was
    /// never applied.
    pub catch_up: bool,
    /// Statements already committed by an earlier, interrupted run (resume); 0 otherwise.
    pub resume_from: usize,
}

/// An applied migration whose file no longer matches the checksum recorded for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// The migration id.
    pub id: String,
    /// The checksum recorded when it was applied.
    pub recorded: String,
    /// The file's checksum now.
    pub file: String,
}

/// The outcome of planning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// What to run, in order.
    pub steps: Vec<Step>,
    /// Indices of applied migrations with no checksum recorded yet (applied by
    /// sql-migrate): the run records the file's checksum for them.
    pub adopt: Vec<usize>,
    /// Checksum mismatches that `allow_drift` let through.
    pub drift: Vec<Drift>,
    /// History rows without a file that `ignore_unknown` let through.
    pub unknown: Vec<String>,
}

/// Why a run refuses to start. Nothing has been changed when planning fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// History rows without a migration file (sql-migrate's "unknown migration in
    /// database").
    #[error(
        "unknown migration in database: {} (no such file; pass --ignore-unknown to ignore)",
        list(ids)
    )]
    Unknown {
        /// The ids, in apply order.
        ids: Vec<String>,
    },
    /// Applied migrations whose files changed since.
    #[error(
        "checksum mismatch: {} changed since applied (recorded {}, file {}){}; pass --allow-drift to proceed",
        drift[0].id,
        short(&drift[0].recorded),
        short(&drift[0].file),
        more(drift.len())
    )]
    Drift {
        /// Every mismatch.
        drift: Vec<Drift>,
    },
    /// A migration was left part-way by an earlier run.
    #[error(
        "migration {id} ({direction}) is partial: statements 1..{applied} of {total} are committed \
         ({}){}; fix it, then run with --resume to continue from statement {} (line {}), \
         or record what you did by hand with `resolve {id} --applied` or `--rolled-back`",
        state_words(*state),
        error.as_ref().map(|e| format!("; it stopped on: {e}")).unwrap_or_default(),
        applied + 1,
        next_line.map(|l| l.to_string()).unwrap_or_else(|| "?".into())
    )]
    Partial {
        /// The migration id.
        id: String,
        /// The direction that was running.
        direction: Direction,
        /// Statements committed.
        applied: usize,
        /// Statements in the file's section now.
        total: usize,
        /// Line of the next statement to run, if the file has one.
        next_line: Option<usize>,
        /// `running` (interrupted) or `failed`.
        state: JournalState,
        /// The recorded error.
        error: Option<String>,
    },
    /// A partial migration cannot be resumed: its committed statements changed.
    #[error(
        "cannot resume {id} ({direction}): {}; the database holds the old text, so fix it by hand \
         and run `resolve {id} --applied` or `--rolled-back`",
        match (statement, line) {
            (Some(s), Some(l)) => format!("statement {s} (line {l}) was committed but differs in the file now"),
            (Some(s), None) => format!("the file now has fewer than the {s} committed statements"),
            _ => "the committed statements differ from the file now".to_string(),
        }
    )]
    ResumeChanged {
        /// The migration id.
        id: String,
        /// The direction that was running.
        direction: Direction,
        /// 1-based number of the first statement that differs, when known.
        statement: Option<usize>,
        /// Its line in the file, when the file still has it.
        line: Option<usize>,
    },
    /// A partial migration has no file any more.
    #[error(
        "migration {id} is partial ({applied} statements committed) but has no file; \
         run `resolve {id} --applied` or `--rolled-back`"
    )]
    PartialWithoutFile {
        /// The migration id.
        id: String,
        /// Statements committed.
        applied: usize,
    },
    /// A migration the plan would run was not parsed (see [`parse_needed`]); a bug in
    /// the caller, refused rather than run as empty.
    #[error("migration {id} was not parsed before planning (a bug in lambda-migrate)")]
    NotParsed {
        /// The migration id.
        id: String,
    },
}

fn list(ids: &[String]) -> String {
    match ids.len() {
        0 => String::new(),
        1..=5 => ids.join(", "),
        n => format!("{} and {} more", ids[..5].join(", "), n - 5),
    }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

fn more(n: usize) -> String {
    if n > 1 {
        format!(" and {} more migrations changed", n - 1)
    } else {
        String::new()
    }
}

fn state_words(state: JournalState) -> &'static str {
    match state {
        JournalState::Failed => "a statement failed",
        _ => "the run was interrupted",
    }
}

/// A partial migration found in the journal.
struct Partial<'r> {
    row: &'r JournalRow,
    index: Option<usize>,
}

fn section<'m, 'a>(m: &'m Migration<'a>, d: Direction) -> &'m [Statement<'a>] {
    match d {
        Direction::Up => &m.up.statements,
        Direction::Down => &m.down.statements,
    }
}

/// Parses the statements a run of `command` may use (`None`: `status`). For `up`, `skip`
/// and `status`, files applied with a recorded checksum they still match are left
/// unparsed: they parsed when they were applied or adopted, and those commands never use
/// their statements. `down` and `redo` parse everything.
pub fn parse_needed(
    migrations: &mut [Migration<'_>],
    history: &[HistoryRow],
    journal: &[JournalRow],
    command: Option<Command>,
) -> Result<(), MigrationError> {
    let lazy = matches!(command, None | Some(Command::Up | Command::Skip));
    let vouched: HashMap<&str, &str> = if lazy {
        let applied: HashSet<&str> = history.iter().map(|h| h.id.as_str()).collect();
        journal
            .iter()
            .filter(|j| j.state.vouches_for_checksum() && applied.contains(j.id.as_str()))
            .filter_map(|j| Some((j.id.as_str(), j.sha256.as_deref()?)))
            .collect()
    } else {
        HashMap::new()
    };
    for m in migrations.iter_mut() {
        let unchanged = vouched
            .get(m.id)
            .is_some_and(|sha| sha.eq_ignore_ascii_case(&m.sha256));
        if !unchanged {
            m.parse()?;
        }
    }
    Ok(())
}

/// Decides what a run does. Pure: `migrations` must be in apply order (as
/// [`crate::migration::load`] returns them); the history and journal are as read.
pub fn plan(
    migrations: &[Migration<'_>],
    history: &[HistoryRow],
    journal: &[JournalRow],
    opts: &Options,
) -> Result<Plan, PlanError> {
    let by_id: HashMap<&str, usize> = migrations
        .iter()
        .enumerate()
        .map(|(i, m)| (m.id, i))
        .collect();
    let applied: HashSet<&str> = history.iter().map(|h| h.id.as_str()).collect();
    let journal_by_id: HashMap<&str, &JournalRow> =
        journal.iter().map(|j| (j.id.as_str(), j)).collect();

    let mut unknown: Vec<&str> = history
        .iter()
        .map(|h| h.id.as_str())
        .filter(|id| !by_id.contains_key(id))
        .collect();
    unknown.sort_by(|a, b| compare(a, loose_version(a), b, loose_version(b)));
    if !unknown.is_empty() && !opts.ignore_unknown {
        return Err(PlanError::Unknown {
            ids: unknown.iter().map(|s| s.to_string()).collect(),
        });
    }

    let (drift, adopt) = checksums(migrations, history, &by_id, &journal_by_id);
    if !drift.is_empty() && !opts.allow_drift {
        return Err(PlanError::Drift { drift });
    }

    let partial = find_partial(journal, &applied, &by_id);
    let mut steps = Vec::new();
    let mut resumed: Option<usize> = None;
    if let Some(p) = partial {
        let wanted = match opts.command {
            Command::Up => Some(Direction::Up),
            Command::Down => Some(Direction::Down),
            Command::Redo | Command::Skip => None,
        };
        let Some(index) = p.index else {
            return Err(PlanError::PartialWithoutFile {
                id: p.row.id.clone(),
                applied: p.row.statements_applied,
            });
        };
        let stmts = section(parsed(&migrations[index])?, p.row.direction);
        if !opts.resume || wanted != Some(p.row.direction) {
            return Err(PlanError::Partial {
                id: p.row.id.clone(),
                direction: p.row.direction,
                applied: p.row.statements_applied,
                total: stmts.len(),
                next_line: stmts.get(p.row.statements_applied).map(|s| s.line),
                state: p.row.state,
                error: p.row.error.clone(),
            });
        }
        check_resume(p.row, stmts)?;
        steps.push(Step {
            index,
            direction: p.row.direction,
            action: Action::Run,
            catch_up: false,
            resume_from: p.row.statements_applied,
        });
        resumed = Some(index);
    }

    let limit = opts.limit.unwrap_or(usize::MAX);
    match opts.command {
        Command::Up | Command::Skip => {
            let action = if opts.command == Command::Skip {
                Action::Record
            } else {
                Action::Run
            };
            let newest = history
                .iter()
                .map(|h| h.id.as_str())
                .max_by(|a, b| compare(a, loose_version(a), b, loose_version(b)));
            for (i, m) in migrations.iter().enumerate() {
                if steps.len() >= limit {
                    break;
                }
                if applied.contains(m.id) || resumed == Some(i) {
                    continue;
                }
                let catch_up = newest.is_some_and(|n| {
                    compare(m.id, m.version, n, loose_version(n)) == std::cmp::Ordering::Less
                });
                steps.push(Step {
                    index: i,
                    direction: Direction::Up,
                    action,
                    catch_up,
                    resume_from: 0,
                });
            }
        }
        Command::Down => {
            for (i, m) in migrations.iter().enumerate().rev() {
                if steps.len() >= limit {
                    break;
                }
                if applied.contains(m.id) && resumed != Some(i) {
                    steps.push(Step {
                        index: i,
                        direction: Direction::Down,
                        action: Action::Run,
                        catch_up: false,
                        resume_from: 0,
                    });
                }
            }
        }
        Command::Redo => {
            if let Some((i, _)) = migrations
                .iter()
                .enumerate()
                .rev()
                .find(|(_, m)| applied.contains(m.id))
            {
                for direction in [Direction::Down, Direction::Up] {
                    steps.push(Step {
                        index: i,
                        direction,
                        action: Action::Run,
                        catch_up: false,
                        resume_from: 0,
                    });
                }
            }
        }
    }

    for i in steps.iter().map(|s| s.index).chain(adopt.iter().copied()) {
        parsed(&migrations[i])?;
    }
    Ok(Plan {
        steps,
        adopt,
        drift,
        unknown: unknown.iter().map(|s| s.to_string()).collect(),
    })
}

/// The newest migration, in apply order, that is applied once `steps` have all run on
/// `history` (history rows without a file do not count).
pub fn last_applied<'m>(
    migrations: &'m [Migration<'_>],
    history: &[HistoryRow],
    steps: &[Step],
) -> Option<&'m str> {
    let mut applied: HashSet<&str> = history.iter().map(|h| h.id.as_str()).collect();
    for s in steps {
        let id = migrations[s.index].id;
        match s.direction {
            Direction::Up => applied.insert(id),
            Direction::Down => applied.remove(id),
        };
    }
    migrations
        .iter()
        .rev()
        .find(|m| applied.contains(m.id))
        .map(|m| m.id)
}

fn parsed<'m, 'a>(m: &'m Migration<'a>) -> Result<&'m Migration<'a>, PlanError> {
    if m.parsed {
        Ok(m)
    } else {
        Err(PlanError::NotParsed { id: m.id.into() })
    }
}

/// sql-migrate sorts ids whose digits overflow as if they had no version; planning only
/// needs an order for them, never a refusal.
fn loose_version(id: &str) -> Option<i64> {
    version_of(id).ok().flatten()
}

fn checksums(
    migrations: &[Migration<'_>],
    history: &[HistoryRow],
    by_id: &HashMap<&str, usize>,
    journal: &HashMap<&str, &JournalRow>,
) -> (Vec<Drift>, Vec<usize>) {
    let mut drift = Vec::new();
    let mut adopt = Vec::new();
    for h in history {
        let Some(&i) = by_id.get(h.id.as_str()) else {
            continue;
        };
        let m = &migrations[i];
        match journal.get(h.id.as_str()) {
            // A revert that failed before committing anything leaves it fully applied.
            Some(j)
                if j.sha256.is_some()
                    && (j.state.vouches_for_checksum()
                        || (j.direction == Direction::Down
                            && j.state.unfinished()
                            && j.statements_applied == 0)) =>
            {
                let recorded = j.sha256.as_deref().unwrap_or_default();
                if !recorded.eq_ignore_ascii_case(&m.sha256) {
                    drift.push(Drift {
                        id: m.id.to_string(),
                        recorded: recorded.to_string(),
                        file: m.sha256.clone(),
                    });
                }
            }
            _ => adopt.push(i),
        }
    }
    adopt.sort_unstable();
    adopt.dedup();
    drift.sort_by_key(|d| by_id.get(d.id.as_str()).copied());
    (drift, adopt)
}

fn find_partial<'r>(
    journal: &'r [JournalRow],
    applied: &HashSet<&str>,
    by_id: &HashMap<&str, usize>,
) -> Option<Partial<'r>> {
    // Only one migration runs at a time under the lock, so at most one row can be
    // partial; taking the first keeps the refusal deterministic if a person edited rows.
    journal
        .iter()
        .filter(|j| j.state.unfinished() && j.statements_applied > 0)
        .filter(|j| match j.direction {
            // An unfinished `up` never wrote its history row; an unfinished `down` never
            // deleted it. Anything else means someone (sql-migrate, a person) settled it.
            Direction::Up => !applied.contains(j.id.as_str()),
            Direction::Down => applied.contains(j.id.as_str()),
        })
        .min_by(|a, b| a.id.cmp(&b.id))
        .map(|row| Partial {
            row,
            index: by_id.get(row.id.as_str()).copied(),
        })
}

fn check_resume(row: &JournalRow, stmts: &[Statement<'_>]) -> Result<(), PlanError> {
    let changed = |statement: Option<usize>| PlanError::ResumeChanged {
        id: row.id.clone(),
        direction: row.direction,
        statement,
        line: statement.and_then(|s| stmts.get(s - 1)).map(|s| s.line),
    };
    let k = row.statements_applied;
    if k > stmts.len() {
        return Err(changed(Some(stmts.len() + 1)));
    }
    let mut hasher = StatementHasher::new();
    for s in &stmts[..k] {
        hasher.push(&s.sql);
    }
    if let Some(recorded) = &row.statement_hashes {
        for (n, (old, new)) in recorded
            .split(' ')
            .zip(hasher.shorts().split(' '))
            .enumerate()
        {
            if old != new {
                return Err(changed(Some(n + 1)));
            }
        }
    }
    match &row.applied_sha256 {
        Some(d) if d.eq_ignore_ascii_case(&hasher.digest()) => Ok(()),
        _ => Err(changed(None)),
    }
}

/// What `status` shows for one migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusRow {
    /// The migration id.
    pub id: String,
    /// The history row's `applied_at`, if applied.
    pub applied_at: Option<String>,
    /// `applied`, `pending`, `catch-up` (pending but older than the newest applied),
    /// `partial` or `unknown` (history row without a file).
    pub state: &'static str,
    /// `ok`, `drift`, `unrecorded` (applied without a checksum: adopted on the next
    /// run), or `-` where it does not apply.
    pub checksum: &'static str,
    /// The journal's note: the recorded error or partial progress.
    pub note: Option<String>,
}

/// The status of every migration file and every unknown history row, in apply order
/// (unknown rows last).
pub fn status(
    migrations: &[Migration<'_>],
    history: &[HistoryRow],
    journal: &[JournalRow],
) -> Vec<StatusRow> {
    let by_id: HashMap<&str, usize> = migrations
        .iter()
        .enumerate()
        .map(|(i, m)| (m.id, i))
        .collect();
    let applied: HashMap<&str, &HistoryRow> = history.iter().map(|h| (h.id.as_str(), h)).collect();
    let journal_by_id: HashMap<&str, &JournalRow> =
        journal.iter().map(|j| (j.id.as_str(), j)).collect();
    let (drift, adopt) = checksums(migrations, history, &by_id, &journal_by_id);
    let drifted: HashSet<&str> = drift.iter().map(|d| d.id.as_str()).collect();
    let adopt: HashSet<usize> = adopt.into_iter().collect();
    let partial = find_partial(journal, &applied.keys().copied().collect(), &by_id);
    let newest = history
        .iter()
        .map(|h| h.id.as_str())
        .max_by(|a, b| compare(a, loose_version(a), b, loose_version(b)));

    let mut rows = Vec::with_capacity(migrations.len());
    for (i, m) in migrations.iter().enumerate() {
        let h = applied.get(m.id);
        let is_partial = partial.as_ref().is_some_and(|p| p.index == Some(i));
        let state = if is_partial {
            "partial"
        } else if h.is_some() {
            "applied"
        } else if newest.is_some_and(|n| {
            compare(m.id, m.version, n, loose_version(n)) == std::cmp::Ordering::Less
        }) {
            "catch-up"
        } else {
            "pending"
        };
        let checksum = if h.is_none() {
            "-"
        } else if drifted.contains(m.id) {
            "drift"
        } else if adopt.contains(&i) {
            "unrecorded"
        } else {
            "ok"
        };
        let note = journal_by_id.get(m.id).and_then(|j| {
            if is_partial {
                Some(format!(
                    "{} {}: {} of {} statements committed{}",
                    j.direction,
                    j.state,
                    j.statements_applied,
                    section(m, j.direction).len(),
                    j.error
                        .as_ref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                ))
            } else if h.is_none() && j.state == JournalState::Failed {
                j.error
                    .as_ref()
                    .map(|e| format!("last attempt failed: {e}"))
            } else {
                None
            }
        });
        rows.push(StatusRow {
            id: m.id.to_string(),
            applied_at: h.and_then(|h| h.applied_at.clone()),
            state,
            checksum,
            note,
        });
    }
    let mut unknown: Vec<&HistoryRow> = history
        .iter()
        .filter(|h| !by_id.contains_key(h.id.as_str()))
        .collect();
    unknown.sort_by(|a, b| compare(&a.id, loose_version(&a.id), &b.id, loose_version(&b.id)));
    rows.extend(unknown.into_iter().map(|h| StatusRow {
        id: h.id.clone(),
        applied_at: h.applied_at.clone(),
        state: "unknown",
        checksum: "-",
        note: Some("no migration file".into()),
    }));
    rows
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::migration::Section;

    fn stmt(sql: &'static str, line: usize) -> Statement<'static> {
        Statement {
            sql: Cow::Borrowed(sql),
            line,
        }
    }

    fn mig(id: &'static str, up: &[&'static str]) -> Migration<'static> {
        Migration {
            id,
            origin: id,
            version: version_of(id).unwrap(),
            sha256: format!("sha-of-{id}"),
            bytes: b"",
            parsed: true,
            up: Section {
                statements: up
                    .iter()
                    .enumerate()
                    .map(|(i, s)| stmt(s, 2 + i * 2))
                    .collect(),
                no_transaction: false,
            },
            down: Section {
                statements: vec![stmt("DROP TABLE t", 20)],
                no_transaction: false,
            },
        }
    }

    fn set(ids: &[&'static str]) -> Vec<Migration<'static>> {
        ids.iter()
            .map(|id| mig(id, &["CREATE TABLE x (a int)", "INSERT INTO x VALUES (1)"]))
            .collect()
    }

    fn hist(ids: &[&str]) -> Vec<HistoryRow> {
        ids.iter()
            .map(|id| HistoryRow {
                id: id.to_string(),
                applied_at: Some("2024-01-01 00:00:00".into()),
            })
            .collect()
    }

    fn applied_row(m: &Migration<'_>) -> JournalRow {
        JournalRow {
            id: m.id.to_string(),
            sha256: Some(m.sha256.clone()),
            direction: Direction::Up,
            state: JournalState::Applied,
            statements_applied: m.up.statements.len(),
            applied_sha256: None,
            statement_hashes: None,
            error: None,
        }
    }

    fn ids(ms: &[Migration<'_>], p: &Plan) -> Vec<(String, Direction, bool)> {
        p.steps
            .iter()
            .map(|s| (ms[s.index].id.to_string(), s.direction, s.catch_up))
            .collect()
    }

    fn partial_row(m: &Migration<'_>, k: usize, state: JournalState) -> JournalRow {
        let mut h = StatementHasher::new();
        for s in &m.up.statements[..k] {
            h.push(&s.sql);
        }
        JournalRow {
            id: m.id.to_string(),
            sha256: Some(m.sha256.clone()),
            direction: Direction::Up,
            state,
            statements_applied: k,
            applied_sha256: Some(h.digest()),
            statement_hashes: Some(h.shorts().to_string()),
            error: Some("MySQL error 1064".into()),
        }
    }

    #[test]
    fn fresh_up_applies_everything_in_order() {
        let ms = set(&["1_a.sql", "2_b.sql", "10_c.sql"]);
        let p = plan(&ms, &[], &[], &Options::new(Command::Up)).unwrap();
        assert_eq!(
            ids(&ms, &p),
            [
                ("1_a.sql".into(), Direction::Up, false),
                ("2_b.sql".into(), Direction::Up, false),
                ("10_c.sql".into(), Direction::Up, false)
            ]
        );
        assert!(p.adopt.is_empty());
    }

    #[test]
    fn second_up_is_a_no_op() {
        let ms = set(&["1_a.sql", "2_b.sql"]);
        let j: Vec<_> = ms.iter().map(applied_row).collect();
        let p = plan(
            &ms,
            &hist(&["1_a.sql", "2_b.sql"]),
            &j,
            &Options::new(Command::Up),
        )
        .unwrap();
        assert!(p.steps.is_empty());
        assert!(p.adopt.is_empty() && p.drift.is_empty());
    }

    #[test]
    fn catch_up_is_applied_and_marked() {
        let ms = set(&["1_a.sql", "2_b.sql", "3_c.sql", "4_d.sql"]);
        let j: Vec<_> = [&ms[0], &ms[2]].into_iter().map(applied_row).collect();
        let p = plan(
            &ms,
            &hist(&["1_a.sql", "3_c.sql"]),
            &j,
            &Options::new(Command::Up),
        )
        .unwrap();
        assert_eq!(
            ids(&ms, &p),
            [
                ("2_b.sql".into(), Direction::Up, true),
                ("4_d.sql".into(), Direction::Up, false)
            ]
        );
    }

    #[test]
    fn limit_counts_catch_up_first() {
        let ms = set(&["1_a.sql", "2_b.sql", "3_c.sql", "4_d.sql"]);
        let mut o = Options::new(Command::Up);
        o.limit = Some(1);
        let p = plan(&ms, &hist(&["1_a.sql", "3_c.sql"]), &[], &o).unwrap();
        assert_eq!(ids(&ms, &p), [("2_b.sql".into(), Direction::Up, true)]);
    }

    #[test]
    fn unknown_rows_refused_unless_ignored() {
        let ms = set(&["1_a.sql"]);
        let h = hist(&["1_a.sql", "0_gone.sql"]);
        let err = plan(&ms, &h, &[], &Options::new(Command::Up)).unwrap_err();
        assert_eq!(
            err,
            PlanError::Unknown {
                ids: vec!["0_gone.sql".into()]
            }
        );
        assert!(
            err.to_string()
                .contains("unknown migration in database: 0_gone.sql")
        );
        let mut o = Options::new(Command::Up);
        o.ignore_unknown = true;
        let p = plan(&ms, &h, &[], &o).unwrap();
        assert_eq!(p.unknown, ["0_gone.sql"]);
        assert!(p.steps.is_empty());
    }

    #[test]
    fn unknown_newest_row_makes_older_files_catch_up() {
        let ms = set(&["1_a.sql", "2_b.sql"]);
        let mut o = Options::new(Command::Up);
        o.ignore_unknown = true;
        let p = plan(&ms, &hist(&["9_gone.sql"]), &[], &o).unwrap();
        assert_eq!(
            ids(&ms, &p),
            [
                ("1_a.sql".into(), Direction::Up, true),
                ("2_b.sql".into(), Direction::Up, true)
            ]
        );
    }

    #[test]
    fn drift_refused_unless_allowed() {
        let ms = set(&["1_a.sql", "2_b.sql"]);
        let mut j = applied_row(&ms[0]);
        j.sha256 = Some("0123456789abcdef".into());
        let err = plan(
            &ms,
            &hist(&["1_a.sql"]),
            std::slice::from_ref(&j),
            &Options::new(Command::Up),
        )
        .unwrap_err();
        let PlanError::Drift { drift } = &err else {
            panic!("{err}")
        };
        assert_eq!(drift[0].id, "1_a.sql");
        assert!(err.to_string().contains("1_a.sql changed since applied"));
        let mut o = Options::new(Command::Up);
        o.allow_drift = true;
        let p = plan(&ms, &hist(&["1_a.sql"]), &[j], &o).unwrap();
        assert_eq!(p.drift.len(), 1);
        assert_eq!(ids(&ms, &p), [("2_b.sql".into(), Direction::Up, false)]);
    }

    #[test]
    fn checksums_adopted_for_rows_without_journal() {
        let ms = set(&["1_a.sql", "2_b.sql"]);
        let mut reverted = applied_row(&ms[1]);
        reverted.state = JournalState::Reverted;
        reverted.sha256 = Some("old".into());
        // 2_b was reverted by us and re-applied by sql-migrate: adopt, not drift.
        let p = plan(
            &ms,
            &hist(&["1_a.sql", "2_b.sql"]),
            &[reverted],
            &Options::new(Command::Up),
        )
        .unwrap();
        assert_eq!(p.adopt, [0, 1]);
        assert!(p.drift.is_empty());
    }

    #[test]
    fn failed_revert_with_nothing_committed_keeps_its_checksum() {
        let ms = set(&["1_a.sql"]);
        let mut j = applied_row(&ms[0]);
        j.direction = Direction::Down;
        j.state = JournalState::Failed;
        j.statements_applied = 0;
        let p = plan(
            &ms,
            &hist(&["1_a.sql"]),
            std::slice::from_ref(&j),
            &Options::new(Command::Up),
        )
        .unwrap();
        assert!(p.adopt.is_empty());
        j.sha256 = Some("other".into());
        let err = plan(&ms, &hist(&["1_a.sql"]), &[j], &Options::new(Command::Up)).unwrap_err();
        assert!(matches!(err, PlanError::Drift { .. }));
    }

    #[test]
    fn down_reverts_newest_first_with_limit() {
        let ms = set(&["1_a.sql", "2_b.sql", "3_c.sql"]);
        let h = hist(&["1_a.sql", "2_b.sql"]);
        let mut o = Options::new(Command::Down);
        o.limit = Some(1);
        let p = plan(&ms, &h, &[], &o).unwrap();
        assert_eq!(ids(&ms, &p), [("2_b.sql".into(), Direction::Down, false)]);
        o.limit = None;
        let p = plan(&ms, &h, &[], &o).unwrap();
        assert_eq!(
            ids(&ms, &p),
            [
                ("2_b.sql".into(), Direction::Down, false),
                ("1_a.sql".into(), Direction::Down, false)
            ]
        );
    }

    #[test]
    fn redo_is_down_then_up_of_newest() {
        let ms = set(&["1_a.sql", "2_b.sql"]);
        let p = plan(
            &ms,
            &hist(&["1_a.sql", "2_b.sql"]),
            &[],
            &Options::new(Command::Redo),
        )
        .unwrap();
        assert_eq!(
            ids(&ms, &p),
            [
                ("2_b.sql".into(), Direction::Down, false),
                ("2_b.sql".into(), Direction::Up, false)
            ]
        );
        let p = plan(&ms, &[], &[], &Options::new(Command::Redo)).unwrap();
        assert!(p.steps.is_empty());
    }

    #[test]
    fn skip_records_pending() {
        let ms = set(&["1_a.sql", "2_b.sql"]);
        let mut o = Options::new(Command::Skip);
        o.limit = Some(1);
        let p = plan(&ms, &[], &[], &o).unwrap();
        assert_eq!(p.steps.len(), 1);
        assert_eq!(p.steps[0].action, Action::Record);
        assert_eq!(ms[p.steps[0].index].id, "1_a.sql");
    }

    #[test]
    fn partial_refused_without_resume() {
        let ms = vec![mig(
            "1_a.sql",
            &[
                "CREATE TABLE a (x int)",
                "CREATE TABLE b (",
                "INSERT INTO a VALUES (1)",
            ],
        )];
        let j = partial_row(&ms[0], 1, JournalState::Failed);
        let err = plan(&ms, &[], &[j], &Options::new(Command::Up)).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(
                err,
                PlanError::Partial {
                    applied: 1,
                    total: 3,
                    next_line: Some(4),
                    ..
                }
            ),
            "{text}"
        );
        assert!(
            text.contains("statements 1..1 of 3 are committed"),
            "{text}"
        );
        assert!(
            text.contains("continue from statement 2 (line 4)"),
            "{text}"
        );
        // A down or skip must not step over it either.
        let j = partial_row(&ms[0], 1, JournalState::Running);
        assert!(
            plan(
                &ms,
                &[],
                std::slice::from_ref(&j),
                &Options::new(Command::Skip)
            )
            .is_err()
        );
        let mut o = Options::new(Command::Down);
        o.resume = true;
        assert!(plan(&ms, &[], &[j], &o).is_err());
    }

    #[test]
    fn partial_resumes_when_committed_statements_unchanged() {
        let old = mig(
            "1_a.sql",
            &[
                "CREATE TABLE a (x int)",
                "CREATE TABLE b (",
                "INSERT INTO a VALUES (1)",
            ],
        );
        let j = partial_row(&old, 1, JournalState::Failed);
        // The person fixed statement 2; statement 1 is the same.
        let mut ms = vec![mig(
            "1_a.sql",
            &[
                "CREATE TABLE a (x int)",
                "CREATE TABLE b (y int)",
                "INSERT INTO a VALUES (1)",
            ],
        )];
        ms.push(mig("2_b.sql", &["SELECT 1"]));
        let mut o = Options::new(Command::Up);
        o.resume = true;
        let p = plan(&ms, &[], &[j], &o).unwrap();
        assert_eq!(p.steps[0].resume_from, 1);
        assert_eq!(ms[p.steps[0].index].id, "1_a.sql");
        assert_eq!(ms[p.steps[1].index].id, "2_b.sql");
        assert_eq!(p.steps[1].resume_from, 0);
        assert_eq!(p.steps.len(), 2);
    }

    #[test]
    fn resume_refused_when_committed_statement_changed() {
        let old = mig(
            "1_a.sql",
            &[
                "CREATE TABLE a (x int)",
                "CREATE TABLE b (x int)",
                "CREATE TABLE c (",
            ],
        );
        let j = partial_row(&old, 2, JournalState::Failed);
        let ms = vec![mig(
            "1_a.sql",
            &[
                "CREATE TABLE a (x int)",
                "CREATE TABLE b (x bigint)",
                "CREATE TABLE c (x int)",
            ],
        )];
        let mut o = Options::new(Command::Up);
        o.resume = true;
        let err = plan(&ms, &[], std::slice::from_ref(&j), &o).unwrap_err();
        assert_eq!(
            err,
            PlanError::ResumeChanged {
                id: "1_a.sql".into(),
                direction: Direction::Up,
                statement: Some(2),
                line: Some(4)
            }
        );
        assert!(
            err.to_string()
                .contains("statement 2 (line 4) was committed but differs")
        );
        let shorter = vec![mig("1_a.sql", &["CREATE TABLE a (x int)"])];
        let err = plan(&shorter, &[], &[j], &o).unwrap_err();
        assert!(matches!(
            err,
            PlanError::ResumeChanged {
                statement: Some(2),
                line: None,
                ..
            }
        ));
    }

    #[test]
    fn failed_with_nothing_committed_is_just_pending() {
        let ms = set(&["1_a.sql"]);
        let j = partial_row(&ms[0], 0, JournalState::Failed);
        let p = plan(&ms, &[], &[j], &Options::new(Command::Up)).unwrap();
        assert_eq!(p.steps.len(), 1);
        assert_eq!(p.steps[0].resume_from, 0);
    }

    #[test]
    fn unfinished_row_settled_by_history_is_ignored() {
        let ms = set(&["1_a.sql"]);
        // sql-migrate (or a person) applied it after our run failed part-way.
        let j = partial_row(&ms[0], 1, JournalState::Failed);
        let p = plan(&ms, &hist(&["1_a.sql"]), &[j], &Options::new(Command::Up)).unwrap();
        assert!(p.steps.is_empty());
        assert_eq!(p.adopt, [0]);
    }

    #[test]
    fn partial_without_file() {
        let ms = set(&["1_a.sql"]);
        let mut j = partial_row(&ms[0], 1, JournalState::Running);
        j.id = "0_gone.sql".into();
        let err = plan(&ms, &[], &[j], &Options::new(Command::Up)).unwrap_err();
        assert!(matches!(err, PlanError::PartialWithoutFile { .. }));
    }

    #[test]
    fn status_rows() {
        let ms = set(&["1_a.sql", "2_b.sql", "3_c.sql", "4_d.sql"]);
        let mut drifted = applied_row(&ms[2]);
        drifted.sha256 = Some("different".into());
        let j = vec![applied_row(&ms[0]), drifted];
        let rows = status(&ms, &hist(&["1_a.sql", "3_c.sql", "0_gone.sql"]), &j);
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.id.as_str(), r.state, r.checksum))
            .collect();
        assert_eq!(
            got,
            [
                ("1_a.sql", "applied", "ok"),
                ("2_b.sql", "catch-up", "-"),
                ("3_c.sql", "applied", "drift"),
                ("4_d.sql", "pending", "-"),
                ("0_gone.sql", "unknown", "-"),
            ]
        );
    }

    #[test]
    fn hasher_is_boundary_sensitive() {
        let mut a = StatementHasher::new();
        a.push("ab");
        a.push("c");
        let mut b = StatementHasher::new();
        b.push("a");
        b.push("bc");
        assert_ne!(a.digest(), b.digest());
        assert_eq!(a.count(), 2);
        assert_eq!(a.shorts().split(' ').count(), 2);
        assert_eq!(a.shorts().len(), 33);
    }

    #[test]
    fn states_round_trip() {
        for s in [
            JournalState::Applied,
            JournalState::Reverted,
            JournalState::Skipped,
            JournalState::Adopted,
            JournalState::Running,
            JournalState::Failed,
            JournalState::ResolvedApplied,
            JournalState::ResolvedRolledBack,
        ] {
            assert_eq!(JournalState::parse(s.as_str()), Some(s));
        }
        assert_eq!(JournalState::parse("bogus"), None);
        assert_eq!(Direction::parse("up"), Some(Direction::Up));
    }

    #[test]
    fn up_parses_only_what_is_not_applied_unchanged() {
        const FILE: &[u8] =
            b"-- +migrate Up\nCREATE TABLE t (a int);\n-- +migrate Down\nDROP TABLE t;\n";
        const CHANGED: &[u8] =
            b"-- +migrate Up\nCREATE TABLE t (b int);\n-- +migrate Down\nDROP TABLE t;\n";
        let files: [(&str, &[u8]); 4] = [
            ("1_same.sql", FILE),
            ("2_changed.sql", CHANGED),
            ("3_unrecorded.sql", FILE),
            ("4_new.sql", FILE),
        ];
        let scan = || crate::migration::scan(files.iter().map(|(id, b)| (*id, *id, *b))).unwrap();
        let mut ms = scan();
        assert!(ms.iter().all(|m| !m.parsed && m.up.statements.is_empty()));
        let history = hist(&["1_same.sql", "2_changed.sql", "3_unrecorded.sql"]);
        let recorded = crate::migration::checksum(FILE);
        let journal: Vec<JournalRow> = ["1_same.sql", "2_changed.sql"]
            .iter()
            .map(|id| JournalRow {
                sha256: Some(recorded.clone()),
                ..applied_row(&mig(id, &[]))
            })
            .collect();
        let parsed = |ms: &[Migration<'_>]| ms.iter().map(|m| m.parsed).collect::<Vec<_>>();

        parse_needed(&mut ms, &history, &journal, Some(Command::Up)).unwrap();
        // Only the file applied with a checksum it still matches is skipped.
        assert_eq!(parsed(&ms), [false, true, true, true]);
        assert_eq!(ms[3].up.statements.len(), 1);
        let mut o = Options::new(Command::Up);
        o.allow_drift = true;
        let p = plan(&ms, &history, &journal, &o).unwrap();
        assert_eq!(p.steps.len(), 1);
        assert_eq!(p.adopt, [2]);

        // `down` needs the statements of everything applied.
        let mut ms = scan();
        parse_needed(&mut ms, &history, &journal, Some(Command::Down)).unwrap();
        assert_eq!(parsed(&ms), [true; 4]);
    }

    #[test]
    fn planning_refuses_unparsed_migrations_it_would_run() {
        let mut ms = set(&["1_a.sql", "2_b.sql"]);
        ms[1].parsed = false;
        let err = plan(&ms, &[], &[], &Options::new(Command::Up)).unwrap_err();
        assert!(
            matches!(err, PlanError::NotParsed { ref id } if id == "2_b.sql"),
            "{err}"
        );
    }

    #[test]
    fn last_applied_after_the_steps() {
        let ms = set(&["1_a.sql", "2_b.sql", "3_c.sql"]);
        let h = hist(&["1_a.sql", "2_b.sql", "9_gone.sql"]);
        let last = |o: Options| {
            let p = plan(&ms, &h, &[], &o).unwrap();
            last_applied(&ms, &h, &p.steps).map(str::to_owned)
        };
        let mut o = Options::new(Command::Up);
        o.ignore_unknown = true;
        assert_eq!(last(o).as_deref(), Some("3_c.sql"));
        o.command = Command::Redo;
        assert_eq!(last(o).as_deref(), Some("2_b.sql"));
        o.command = Command::Down;
        o.limit = Some(1);
        assert_eq!(last(o).as_deref(), Some("1_a.sql"));
        o.limit = None;
        assert_eq!(last(o).as_deref(), None);
        assert_eq!(last_applied(&ms, &[], &[]), None);
    }
}
