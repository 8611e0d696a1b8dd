//! The orchestrator: read → plan → check → apply, over any [`Store`]. Every command that
//! touches a database goes through here ([`super::execute`] picks which); the store
//! only reads, locks and writes what the planner decided.

use std::time::{Duration, Instant};

use super::error::CommandError;
use super::report::StatusReport;
use super::request::CommandName;
use crate::migration::Migration;
use crate::plan::{self, Options, Plan};
use crate::source::Source;
use crate::store::{Read, Recorded, RunLockEvent, RunLockWait, Store};
use crate::store::{RunOutcome, StepReport, Stopped, step_report};

/// What a command tells its caller while it runs, as it happens.
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// A migration the run completed.
    Step(&'a StepReport),
    /// Waiting for the run lock: who holds it, how long so far, taken.
    Lock(&'a RunLockEvent),
}

/// `status`: every migration's state, and whether a run holds the lock. Takes no lock
/// and changes nothing. `source` names a file that does not parse.
pub fn status<S: Store>(
    store: &mut S,
    source: &Source,
    migrations: &mut [Migration<'_>],
) -> Result<StatusReport, CommandError> {
    let r = store.read_state(Read::Status)?;
    plan::parse_needed(migrations, &r.history, &r.journal, None)
        .map_err(|e| CommandError::migration(source, e))?;
    Ok(StatusReport {
        command: CommandName::Status,
        migrations: plan::status(migrations, &r.history, &r.journal),
        lock_held: store.lock_held()?,
    })
}

/// `lint --pending`: lints the migrations that are not applied (pending, catch-up, or a
/// partial one), every migration already parsed. Reads the history like a dry run: no
/// lock, nothing created, nothing changed.
pub fn lint_pending<S: Store>(
    store: &mut S,
    migrations: &[Migration<'_>],
) -> Result<crate::lint::LintReport, CommandError> {
    let r = store.read_state(Read::DryRun)?;
    let rows = plan::status(migrations, &r.history, &r.journal);
    let applied: std::collections::HashSet<&str> = rows
        .iter()
        .filter(|row| row.state == plan::MigrationState::Applied)
        .map(|row| row.id.as_str())
        .collect();
    Ok(crate::lint::lint_selected(migrations, |i| {
        !applied.contains(migrations[i].id)
    }))
}

/// What a run of `opts` would do (`plan`, `--dry-run`). Takes no lock: it changes
/// nothing, and must not wait behind a real run. With `script` (the lock timeout a run
/// would wait), the outcome carries the SQL the run would send ([`Store::script`]).
pub fn dry_run<S: Store>(
    store: &mut S,
    source: &Source,
    migrations: &mut [Migration<'_>],
    opts: &Options,
    script: Option<Duration>,
) -> Result<RunOutcome, CommandError> {
    let recorded = store.read_state(Read::DryRun)?;
    // A dry run shows a reversion that would run nothing (the front end warns: a
    // planned Down step with no statement); only the real run refuses it.
    let opts = Options {
        allow_empty_down: true,
        ..*opts
    };
    let plan = planned(source, migrations, &recorded, &opts)?;
    let steps = plan
        .steps
        .iter()
        .map(|s| step_report(&migrations[s.index], s, None))
        .collect();
    let sql = match script {
        Some(lock_timeout) => Some(store.script(migrations, &plan, lock_timeout)?.ok_or_else(
            || CommandError::Configuration("this store has no SQL to show (--sql)".into()),
        )?),
        None => None,
    };
    Ok(RunOutcome {
        sql,
        ..report(migrations, plan, steps)
    })
}

/// `plan --review`: what `plan` shows, and the server's answer about each pending Up
/// statement that alters a table ([`crate::review`]), with the pending migrations' lint
/// findings and verdicts. Holds the run lock while it asks: its probe tables must never
/// meet a real run, and a probe it finds is a killed review's leftover. `on_lock` sees
/// a wait for the lock.
pub fn review<S: Store>(
    store: &mut S,
    source: &Source,
    migrations: &mut [Migration<'_>],
    opts: &Options,
    lock_timeout: Duration,
    mut on_lock: impl FnMut(&RunLockEvent),
) -> Result<(RunOutcome, crate::review::Review), CommandError> {
    use crate::review::{Question, target::target};
    let mut store = store.lock(lock_timeout, &mut on_lock)?;
    let recorded = store.read_state(Read::DryRun)?;
    let opts = Options {
        allow_empty_down: true,
        ..*opts
    };
    let plan = planned(source, migrations, &recorded, &opts)?;
    // The lint's schema model replays every earlier migration: all are parsed.
    migrations
        .iter_mut()
        .try_for_each(Migration::parse)
        .map_err(|e| CommandError::migration(source, e))?;
    let pending: Vec<(usize, usize)> = plan
        .steps
        .iter()
        .filter(|s| s.direction == plan::Direction::Up && s.action == plan::Action::Run)
        .map(|s| (s.index, s.resume_from))
        .collect();
    let questions: Vec<Question> = pending
        .iter()
        .flat_map(|&(i, from)| {
            let m = &migrations[i];
            m.up.statements
                .iter()
                .enumerate()
                .skip(from)
                .map(|(k, st)| Question {
                    migration: m.id.to_owned(),
                    statement: k + 1,
                    target: target(&st.sql),
                })
        })
        .collect();
    let observed = store.review(&questions)?;
    let lint = crate::lint::lint(migrations);
    let pending_migrations: Vec<&Migration<'_>> =
        pending.iter().map(|&(i, _)| &migrations[i]).collect();
    let review = crate::review::assemble(observed, lint.findings, &pending_migrations);
    let steps = plan
        .steps
        .iter()
        .map(|s| step_report(&migrations[s.index], s, None))
        .collect();
    Ok((
        RunOutcome {
            lock_wait: store.waited(),
            ..report(migrations, plan, steps)
        },
        review,
    ))
}

/// A whole `up`, `down`, `redo` or `skip`: locks, reads, parses what the run needs,
/// plans, adopts checksums and applies each step; `progress` sees a wait for the lock
/// and each step as it completes. No step starts past the store's
/// [`Store::stop_starting`] (nor does the lock wait go on past it): the run then reports
/// what is still pending. The lock is released when this returns, whatever happened.
pub fn run<S: Store>(
    store: &mut S,
    source: &Source,
    migrations: &mut [Migration<'_>],
    opts: &Options,
    lock_timeout: Duration,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<RunOutcome, CommandError> {
    let mut store = store.lock(lock_timeout, &mut |e| progress(Progress::Lock(e)))?;
    let lock_wait = store.waited();
    let recorded = store.read_state(Read::Run)?;
    let plan = match planned(source, migrations, &recorded, opts) {
        Ok(plan) => plan,
        Err(e) => {
            if let CommandError::Plan(plan::PlanError::InDoubt { id, .. }) = &e {
                record_died(&mut *store, migrations, &recorded, id)?;
            }
            return Err(e);
        }
    };
    store.adopt(migrations, &plan.adopt)?;
    let mut steps = Vec::with_capacity(plan.steps.len());
    let mut stopped = None;
    for (n, step) in plan.steps.iter().enumerate() {
        if store.stop_starting().is_some_and(|at| Instant::now() >= at) {
            if n > 0 {
                // The step before announced this one.
                store.withdraw();
            }
            let pending = plan.steps[n..].iter();
            stopped = Some(Stopped {
                pending: pending.map(|s| migrations[s.index].id.to_owned()).collect(),
            });
            break;
        }
        let m = &migrations[step.index];
        let started = Instant::now();
        let next = plan.steps.get(n + 1).map(|s| (&migrations[s.index], s));
        if let Err(mut failure) = store.apply(m, step, next) {
            failure.completed = steps;
            return Err(CommandError::Failed(failure));
        }
        let done = step_report(m, step, Some(started.elapsed().as_millis() as u64));
        progress(Progress::Step(&done));
        steps.push(done);
    }
    // A run stopped at its deadline did only the first steps.
    let last_applied =
        plan::last_applied(migrations, &recorded.history, &plan.steps[..steps.len()])
            .map(str::to_owned);
    Ok(RunOutcome {
        last_applied,
        stopped,
        lock_wait,
        ..report(migrations, plan, steps)
    })
}

/// `resolve`: records by hand that `id` is applied (`applied`) or rolled back, under the
/// lock; journaled. The planner decides what is written ([`plan::resolution`]).
/// `on_lock` sees a wait for the lock, which comes back when there was one.
pub fn resolve<S: Store>(
    store: &mut S,
    source: &Source,
    migrations: &mut [Migration<'_>],
    id: &str,
    applied: bool,
    lock_timeout: Duration,
    on_lock: impl FnMut(&RunLockEvent),
) -> Result<Option<RunLockWait>, CommandError> {
    by_hand(
        store,
        source,
        migrations,
        id,
        lock_timeout,
        on_lock,
        |file, r| plan::resolution(id, file, &r.history, &r.journal, applied),
    )
}

/// `resolve ID --statement-committed N` / `--statement-not-committed N`: records a
/// person's verdict on the statement in doubt, under the lock ([`plan::verdict`]). The
/// migration is then partial at a known point, for `up --resume`. `on_lock` sees a wait
/// for the lock, which comes back when there was one.
#[allow(clippy::too_many_arguments)]
pub fn settle<S: Store>(
    store: &mut S,
    source: &Source,
    migrations: &mut [Migration<'_>],
    id: &str,
    statement: usize,
    committed: bool,
    lock_timeout: Duration,
    on_lock: impl FnMut(&RunLockEvent),
) -> Result<Option<RunLockWait>, CommandError> {
    by_hand(
        store,
        source,
        migrations,
        id,
        lock_timeout,
        on_lock,
        |file, r| plan::verdict(id, file, &r.journal, statement, committed),
    )
}

/// What both kinds of `resolve` share: parse `id`'s file if there is one, lock (telling
/// `on_lock` of a wait), read, let `decide` say what to write, write it.
fn by_hand<S: Store>(
    store: &mut S,
    source: &Source,
    migrations: &mut [Migration<'_>],
    id: &str,
    lock_timeout: Duration,
    mut on_lock: impl FnMut(&RunLockEvent),
    decide: impl FnOnce(Option<&Migration<'_>>, &Recorded) -> Result<plan::Resolved, plan::PlanError>,
) -> Result<Option<RunLockWait>, CommandError> {
    let mut file = migrations.iter_mut().find(|m| m.id == id);
    if let Some(m) = file.as_deref_mut() {
        m.parse().map_err(|e| CommandError::migration(source, e))?;
    }
    let mut store = store.lock(lock_timeout, &mut on_lock)?;
    let r = store.read_state(Read::Run)?;
    let decided = decide(file.as_deref(), &r)?;
    store.record_resolution(&decided)?;
    Ok(store.waited())
}

/// A run that died mid-statement left `id`'s row `running`, and the planner found that
/// statement's outcome unknown: the row is recorded in doubt, so `status` says so too.
fn record_died<S: Store + ?Sized>(
    store: &mut S,
    migrations: &[Migration<'_>],
    recorded: &Recorded,
    id: &str,
) -> Result<(), CommandError> {
    let left = recorded
        .journal
        .iter()
        .find(|j| j.id == id && j.state == plan::JournalState::Running);
    if let Some(row) = left {
        let total = migrations
            .iter()
            .find(|m| m.id == id)
            .map(|m| plan::section(m, row.direction).statements.len())
            .unwrap_or(0);
        store.record_resolution(&plan::doubt_record(row, total))?;
    }
    Ok(())
}

/// Parses what a run of `opts` needs ([`plan::parse_needed`]) and plans it.
fn planned(
    source: &Source,
    migrations: &mut [Migration<'_>],
    recorded: &Recorded,
    opts: &Options,
) -> Result<Plan, CommandError> {
    let joined = plan::Joined::new(migrations, &recorded.history, &recorded.journal);
    plan::parse_needed_in(migrations, &joined, Some(opts.command))
        .map_err(|e| CommandError::migration(source, e))?;
    Ok(plan::plan_in(migrations, &joined, opts)?)
}

/// A run's report of `steps`, with what `plan` adopted and let through.
fn report(migrations: &[Migration<'_>], plan: Plan, steps: Vec<StepReport>) -> RunOutcome {
    RunOutcome {
        steps,
        adopted: plan
            .adopt
            .iter()
            .map(|&i| migrations[i].id.to_string())
            .collect(),
        drift: plan.drift,
        unknown: plan.unknown,
        last_applied: None,
        stopped: None,
        sql: None,
        lock_wait: None,
    }
}
