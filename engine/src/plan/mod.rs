//! Planning: what a run applies, reverts or records, decided from the migration files,
//! the history table (sql-migrate's `gorp_migrations`) and lambda-migrate's journal.
//!
//! Everything here is a pure function over records, so every rule (sql-migrate's
//! catch-up, unknown rows, checksum drift, adopting checksums, resuming a partial
//! migration, what `resolve` records) is tested without a database. The orchestrator
//! ([`crate::command`]) reads the records through a store, calls [`plan`] and has the
//! store apply the result.

mod checks;
mod commit;
mod error;
mod join;
mod records;
mod resolve;
mod status;
#[cfg(test)]
mod tests;
mod verdict;

use serde::{Deserialize, Serialize};

use crate::migration::order::{compare, version_of};
use crate::migration::{Migration, MigrationError, Section, Statement};
use checks::{check_resume, checksums, find_partial, refuse_hidden_commits};
pub use commit::{
    commits_part_way, fails_whole, keeps_session, may_commit, replays_on_resume, several_objects,
    single_statement,
};
pub use error::PlanError;
pub(crate) use join::Joined;
pub use records::{Direction, HistoryRow, JournalRow, JournalState, StatementHasher, short_hash};
pub use resolve::{Resolved, Settled, resolution};
pub use status::{ChecksumState, MigrationState, StatusRow, status};
pub use verdict::{doubt_record, verdict};

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
    /// `up` or `down` as far as the migration whose numeric prefix is this, and no
    /// further (sql-migrate's `-version`); the limit does not apply then.
    pub version: Option<i64>,
    /// Rows in the history table without a file are ignored instead of refused.
    pub ignore_unknown: bool,
    /// Checksum mismatches are reported instead of refused.
    pub allow_drift: bool,
    /// Continue a partial migration from its first uncommitted statement.
    pub resume: bool,
    /// Revert migrations whose Down section has no statement (their history row is
    /// deleted, the schema stays as it is); otherwise refused ([`PlanError::EmptyDown`]).
    pub allow_empty_down: bool,
}

impl Options {
    /// Options for `command` with everything else off.
    pub fn new(command: Command) -> Self {
        Options {
            command,
            limit: None,
            version: None,
            ignore_unknown: false,
            allow_drift: false,
            resume: false,
            allow_empty_down: false,
        }
    }
}

/// How a step treats its migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

impl Step {
    /// The journal state the step leaves its migration in once it is done.
    pub fn final_state(&self) -> JournalState {
        match (self.action, self.direction) {
            (Action::Record, _) => JournalState::Skipped,
            (Action::Run, Direction::Up) => JournalState::Applied,
            (Action::Run, Direction::Down) => JournalState::Reverted,
        }
    }
}

/// An applied migration whose file no longer matches the checksum recorded for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// The section of `m` that runs in direction `d`.
pub fn section<'m, 'a>(m: &'m Migration<'a>, d: Direction) -> &'m Section<'a> {
    match d {
        Direction::Up => &m.up,
        Direction::Down => &m.down,
    }
}

fn statements<'m, 'a>(m: &'m Migration<'a>, d: Direction) -> &'m [Statement<'a>] {
    &section(m, d).statements
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
    let joined = Joined::new(migrations, history, journal);
    parse_needed_in(migrations, &joined, command)
}

/// [`parse_needed`] on records already matched to `migrations`.
pub(crate) fn parse_needed_in(
    migrations: &mut [Migration<'_>],
    joined: &Joined<'_>,
    command: Option<Command>,
) -> Result<(), MigrationError> {
    let lazy = matches!(command, None | Some(Command::Up | Command::Skip));
    for (i, m) in migrations.iter_mut().enumerate() {
        let unchanged = lazy && {
            joined.applied(i)
                && joined.journal[i].is_some_and(|j| {
                    j.state.vouches_for_checksum()
                        && j.sha256
                            .as_deref()
                            .is_some_and(|sha| same_checksum(sha, &m.sha256))
                })
        };
        if !unchanged {
            m.parse()?;
        }
    }
    Ok(())
}

/// Decides what a run does, and refuses a statement text that would commit part-way
/// ([`commits_part_way`]) before anything runs. Pure: `migrations` must be in apply order (as
/// [`crate::migration::load`] returns them); the history and journal are as read.
pub fn plan(
    migrations: &[Migration<'_>],
    history: &[HistoryRow],
    journal: &[JournalRow],
    opts: &Options,
) -> Result<Plan, PlanError> {
    plan_in(migrations, &Joined::new(migrations, history, journal), opts)
}

/// [`plan`] on records already matched to `migrations`.
pub(crate) fn plan_in(
    migrations: &[Migration<'_>],
    joined: &Joined<'_>,
    opts: &Options,
) -> Result<Plan, PlanError> {
    let unknown: Vec<String> = joined.unknown.iter().map(|h| h.id.clone()).collect();
    if !unknown.is_empty() && !opts.ignore_unknown {
        return Err(PlanError::Unknown { ids: unknown });
    }

    let (drift, adopt) = checksums(migrations, joined);
    let drift: Vec<Drift> = drift.into_iter().map(|(_, d)| d).collect();
    if !drift.is_empty() && !opts.allow_drift {
        return Err(PlanError::Drift { drift });
    }

    // A run left `running` with nothing committed and its next statement inside a
    // transaction (rolled back) left nothing behind: that migration is plain pending.
    let partial = find_partial(migrations, joined).filter(|p| {
        p.row.statements_applied > 0
            || p.row.state == JournalState::InDoubt
            || p.index
                .is_some_and(|i| next_commits_alone(&migrations[i], p.row))
    });
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
        let stmts = statements(parsed(&migrations[index])?, p.row.direction);
        // A run that died (`running`, its session ended since: see the store) while the
        // next statement ran: if that statement commits on its own, nobody knows whether
        // it did. Inside a transaction it was rolled back.
        let died_mid_commit =
            p.row.state == JournalState::Running && next_commits_alone(&migrations[index], p.row);
        if p.row.state == JournalState::InDoubt || died_mid_commit {
            // Never guessed: resuming would run it again or skip it.
            return Err(PlanError::InDoubt {
                id: p.row.id.clone(),
                direction: p.row.direction,
                statement: p.row.statements_applied + 1,
                line: stmts.get(p.row.statements_applied).map(|s| s.line),
                error: p.row.error.clone(),
            });
        }
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
            let newest = joined.newest();
            for (i, m) in migrations.iter().enumerate() {
                if steps.len() >= limit {
                    break;
                }
                if joined.applied(i) || resumed == Some(i) {
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
            for i in (0..migrations.len()).rev() {
                if steps.len() >= limit {
                    break;
                }
                if joined.applied(i) && resumed != Some(i) {
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
            if let Some(i) = (0..migrations.len()).rev().find(|&i| joined.applied(i)) {
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

    if let Some(version) = opts.version {
        to_version(
            &mut steps,
            migrations,
            version,
            resumed,
            opts.command == Command::Down,
        )?;
    }
    for i in steps.iter().map(|s| s.index).chain(adopt.iter().copied()) {
        parsed(&migrations[i])?;
    }
    refuse_hidden_commits(migrations, &steps)?;
    if !opts.allow_empty_down
        && let Some(s) = steps
            .iter()
            .find(|s| reverts_nothing(&migrations[s.index], s))
    {
        return Err(PlanError::EmptyDown {
            id: migrations[s.index].id.to_owned(),
            redo: opts.command == Command::Redo,
        });
    }
    Ok(Plan {
        steps,
        adopt,
        drift,
        unknown,
    })
}

/// Cuts `steps` after the migration with `version`, as sql-migrate's `-version` does
/// (its `planMigrationCommon`): `up` reaches it among the pending migrations after the
/// newest applied one (catch-ups and a resumed migration run first, whatever the
/// version), `down` among the applied ones, newest first. Passing a version on the way
/// (higher for `up`, lower for `down`) without meeting it means it is not there. An id
/// without a numeric prefix sorts after every numbered one, so it counts as higher.
fn to_version(
    steps: &mut Vec<Step>,
    migrations: &[Migration<'_>],
    version: i64,
    resumed: Option<usize>,
    down: bool,
) -> Result<(), PlanError> {
    let reach = |s: &Step| !s.catch_up && resumed != Some(s.index);
    let past = |v: Option<i64>| match v {
        None => !down,
        Some(v) if down => v < version,
        Some(v) => v > version,
    };
    for (k, s) in steps.iter().enumerate().filter(|(_, s)| reach(s)) {
        let v = migrations[s.index].version;
        if v == Some(version) {
            steps.truncate(k + 1);
            return Ok(());
        }
        if past(v) {
            break;
        }
    }
    // The ids on either side of `version` among those the command could have reached.
    let mut candidates: Vec<(i64, &str)> = steps
        .iter()
        .filter(|s| reach(s))
        .filter_map(|s| Some((migrations[s.index].version?, migrations[s.index].id)))
        .collect();
    candidates.sort_unstable();
    let at = candidates.partition_point(|&(v, _)| v < version);
    let nearest = [at.checked_sub(1), Some(at)]
        .into_iter()
        .flatten()
        .filter_map(|i| candidates.get(i).map(|&(_, id)| id.to_owned()))
        .collect();
    Err(PlanError::NoVersion {
        version,
        down,
        nearest,
    })
}

/// Whether `step` reverts `m` without running anything: its Down section is missing or
/// has no statement, so only the history row would go (sql-migrate does that silently).
pub fn reverts_nothing(m: &Migration<'_>, step: &Step) -> bool {
    step.direction == Direction::Down
        && step.action == Action::Run
        && step.resume_from == 0
        && m.down.statements.is_empty()
}

/// The newest migration, in apply order, that is applied once `steps` have all run on
/// `history` (history rows without a file do not count).
pub fn last_applied<'m>(
    migrations: &'m [Migration<'_>],
    history: &[HistoryRow],
    steps: &[Step],
) -> Option<&'m str> {
    let joined = Joined::new(migrations, history, &[]);
    let mut applied: Vec<bool> = (0..migrations.len()).map(|i| joined.applied(i)).collect();
    for s in steps {
        applied[s.index] = s.direction == Direction::Up;
    }
    let newest = applied.iter().rposition(|&a| a)?;
    Some(migrations[newest].id)
}

/// Whether the statement after `row`'s committed ones commits on its own (in a
/// `notransaction` section, or one that commits implicitly).
fn next_commits_alone(m: &Migration<'_>, row: &JournalRow) -> bool {
    let Ok(m) = parsed(m) else {
        return false;
    };
    let s = section(m, row.direction);
    s.statements
        .get(row.statements_applied)
        .is_some_and(|st| s.no_transaction || may_commit(&st.sql))
}

fn parsed<'m, 'a>(m: &'m Migration<'a>) -> Result<&'m Migration<'a>, PlanError> {
    if m.parsed {
        Ok(m)
    } else {
        Err(PlanError::NotParsed { id: m.id.into() })
    }
}

/// Hex checksums compare without case; ours are lowercase, so the exact comparison
/// nearly always answers first.
fn same_checksum(a: &str, b: &str) -> bool {
    a == b || a.eq_ignore_ascii_case(b)
}

/// sql-migrate sorts ids whose digits overflow as if they had no version; planning only
/// needs an order for them, never a refusal.
fn loose_version(id: &str) -> Option<i64> {
    version_of(id).ok().flatten()
}
