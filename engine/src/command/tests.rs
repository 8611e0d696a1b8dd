//! Every command through [`execute`], against the in-memory store ([`Fake`]).

use std::time::Duration;

use super::fake::Fake;
use super::*;
use crate::Limits;
use crate::plan::{Direction, JournalState, MigrationState};
use crate::source::Source;
use crate::store::StoreError;

fn table(n: &str) -> String {
    format!(
        "-- +migrate Up\nCREATE TABLE {n} (id int);\nINSERT INTO {n} VALUES (1);\n\n-- +migrate Down\nDROP TABLE {n};\n"
    )
}

/// Migration files in memory.
struct Files(Vec<(String, String)>);

impl Files {
    fn abc() -> Files {
        Files(
            [("1_a.sql", "a"), ("2_b.sql", "b"), ("3_c.sql", "c")]
                .iter()
                .map(|(id, t)| (id.to_string(), table(t)))
                .collect(),
        )
    }

    fn set(&mut self, id: &str, text: &str) {
        match self.0.iter_mut().find(|(i, _)| i == id) {
            Some(f) => f.1 = text.to_string(),
            None => self.0.push((id.to_string(), text.to_string())),
        }
    }

    fn source(&self) -> Source {
        Source::Dir {
            path: "mem".into(),
            files: self
                .0
                .iter()
                .map(|(id, t)| (id.clone(), format!("mem/{id}"), t.as_bytes().to_vec()))
                .collect(),
        }
    }
}

/// How long the tests wait for a lock held elsewhere (the fake waits as a server would).
const LOCK_TIMEOUT: Duration = Duration::from_millis(200);

/// Runs `request` on `files` against `store`; what `progress` saw comes back too: each
/// step as `state id`, each lock event as `lock: …`.
fn exec(
    store: &mut Fake,
    files: &Files,
    request: &Request,
) -> (Result<Executed, CommandError>, Vec<String>) {
    let source = files.source();
    let limits = Limits::default();
    let input = Input {
        source: &source,
        dir: "migrations",
        limits: &limits,
        fetch: None,
        expected_digest: None,
    };
    let mut seen = Vec::new();
    let result = execute(
        request,
        &input,
        || Ok(&mut *store),
        LOCK_TIMEOUT,
        |p| {
            seen.push(match p {
                Progress::Step(s) => format!("{} {}", s.state, s.id),
                Progress::Lock(e) => format!("lock: {}", lock_event(e)),
            })
        },
    );
    (result, seen)
}

/// A lock event in short: who, without the times (the tests never assert on durations).
fn lock_event(e: &RunLockEvent) -> String {
    match e {
        RunLockEvent::Held { lock, holder, .. } => format!("held {lock} by {}", holder.connection),
        RunLockEvent::Passed { holder, .. } => format!("passed to {}", holder.connection),
        RunLockEvent::Waiting { .. } => "waiting".into(),
        RunLockEvent::Taken { .. } => "taken".into(),
    }
}

fn req(command: CommandName) -> Request {
    Request::new(command)
}

fn run(store: &mut Fake, files: &Files, request: &Request) -> Result<RunSummary, CommandError> {
    match exec(store, files, request).0?.report {
        Report::Run(r) => Ok(r),
        other => panic!("not a run report: {other:?}"),
    }
}

fn steps(r: &RunSummary) -> Vec<String> {
    r.migrations
        .iter()
        .map(|s| format!("{} {}", s.state, s.id))
        .collect()
}

fn up(store: &mut Fake, files: &Files) -> RunSummary {
    run(store, files, &req(CommandName::Up)).unwrap()
}

#[test]
fn verify_needs_no_store() {
    let files = Files::abc();
    let source = files.source();
    let limits = Limits::default();
    let input = Input {
        source: &source,
        dir: "migrations",
        limits: &limits,
        fetch: None,
        expected_digest: None,
    };
    let done = execute::<Fake>(
        &req(CommandName::Verify),
        &input,
        || panic!("verify connected"),
        Duration::from_secs(1),
        |_| {},
    )
    .unwrap();
    let Report::Verify(v) = done.report else {
        panic!("not a verify report")
    };
    assert_eq!(v.migrations.len(), 3);
    assert_eq!(v.migrations[0].up_statements, 2);
    assert_eq!(done.migrations, 3);
}

#[test]
fn up_applies_in_order_under_the_lock_and_then_has_nothing_to_do() {
    let files = Files::abc();
    let mut store = Fake::default();
    let (done, seen) = exec(&mut store, &files, &req(CommandName::Up));
    let Report::Run(r) = done.unwrap().report else {
        panic!()
    };
    assert_eq!(
        steps(&r),
        ["applied 1_a.sql", "applied 2_b.sql", "applied 3_c.sql"]
    );
    assert_eq!(seen, steps(&r), "progress sees each step as it completes");
    assert!(r.ok && !r.dry_run);
    assert_eq!(r.last_applied.as_deref(), Some("3_c.sql"));
    assert_eq!(r.migrations[0].statements, 2);
    assert_eq!(store.ids(), ["1_a.sql", "2_b.sql", "3_c.sql"]);
    assert_eq!(store.row("2_b.sql").unwrap().state, JournalState::Applied);
    assert!(!store.locked, "the guard released the lock");
    assert_eq!(store.sent.len(), 6);
    let again = up(&mut store, &files);
    assert!(again.migrations.is_empty() && again.ok);
    assert_eq!(again.last_applied.as_deref(), Some("3_c.sql"));
}

#[test]
fn up_with_a_limit() {
    let files = Files::abc();
    let mut store = Fake::default();
    let mut r = req(CommandName::Up);
    r.limit = Some(2);
    let done = run(&mut store, &files, &r).unwrap();
    assert_eq!(steps(&done), ["applied 1_a.sql", "applied 2_b.sql"]);
    assert_eq!(done.last_applied.as_deref(), Some("2_b.sql"));
    assert_eq!(steps(&up(&mut store, &files)), ["applied 3_c.sql"]);
}

#[test]
fn plan_and_dry_runs_change_nothing_and_take_no_lock() {
    let files = Files::abc();
    let mut store = Fake {
        held_elsewhere: true,
        ..Fake::default()
    };
    let plan = run(&mut store, &files, &req(CommandName::Plan)).unwrap();
    assert!(plan.dry_run && plan.ok);
    assert_eq!(
        steps(&plan),
        ["planned 1_a.sql", "planned 2_b.sql", "planned 3_c.sql"]
    );
    assert_eq!(plan.migrations[1].statements_total, 2);
    assert_eq!(plan.migrations[1].statements, 0);
    assert!(store.history.is_none(), "a dry run creates no table");
    let mut dry = req(CommandName::Up);
    dry.dry_run = true;
    let (done, seen) = exec(&mut store, &files, &dry);
    let done = done.unwrap();
    assert_eq!(done.report.pending(), ["1_a.sql", "2_b.sql", "3_c.sql"]);
    assert!(seen.is_empty());
    store.held_elsewhere = false;
    up(&mut store, &files);
    let mut down = req(CommandName::Down);
    down.dry_run = true;
    let d = run(&mut store, &files, &down).unwrap();
    assert_eq!(steps(&d), ["planned 3_c.sql"]);
    assert_eq!(d.migrations[0].direction, Direction::Down);
    assert_eq!(store.ids().len(), 3);
}

#[test]
fn status_reads_states_and_whether_the_lock_is_held() {
    let files = Files::abc();
    let mut store = Fake::default();
    let mut r = req(CommandName::Up);
    r.limit = Some(1);
    run(&mut store, &files, &r).unwrap();
    store.held_elsewhere = true;
    let Report::Status(s) = exec(&mut store, &files, &req(CommandName::Status))
        .0
        .unwrap()
        .report
    else {
        panic!()
    };
    assert!(s.lock_held);
    let states: Vec<_> = s.migrations.iter().map(|m| m.state).collect();
    assert_eq!(
        states,
        [
            MigrationState::Applied,
            MigrationState::Pending,
            MigrationState::Pending
        ]
    );
    assert_eq!(s.last_applied().as_deref(), Some("1_a.sql"));
    assert_eq!(
        Report::Status(s).pending(),
        ["2_b.sql", "3_c.sql"],
        "status's pending list"
    );
}

#[test]
fn the_lock_held_elsewhere_refuses_a_run() {
    let files = Files::abc();
    let mut store = Fake {
        held_elsewhere: true,
        ..Fake::default()
    };
    let e = run(&mut store, &files, &req(CommandName::Up)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LockTimeout);
    assert_eq!(e.kind().exit_code(), 3);
    assert!(matches!(
        e,
        CommandError::Store(StoreError::LockTimeout { .. })
    ));
    // The message names who holds it, as far as the server shows.
    assert_eq!(
        e.to_string(),
        "migration lock `fake-lock` not obtained within 0.2s: held by connection 99 \
         (other@10.0.0.9:4000), idle for 99 s"
    );
    assert!(store.history.is_none() && store.sent.is_empty());
    // A failed run's JSON report carries the wait.
    let failed = RunSummary::failed(&req(CommandName::Up), &e, &Frontend::Cli);
    let json = serde_json::to_value(&failed).unwrap();
    assert_eq!(json["error_kind"], "LockTimeout");
    assert_eq!(json["lock_wait"]["holder"]["connection"], 99);
    assert_eq!(json["lock_wait"]["holder"]["user"], "other");
    assert!(json["lock_wait"]["waited_ms"].is_u64());
    let mut resolve = req(CommandName::Resolve);
    resolve.id = Some("1_a.sql".into());
    resolve.resolution = Some(Resolution::Applied);
    let (e, seen) = exec(&mut store, &files, &resolve);
    assert_eq!(e.err().unwrap().kind(), ErrorKind::LockTimeout);
    assert_eq!(seen[0], "lock: held fake-lock by 99");
}

#[test]
fn a_wait_for_the_lock_names_each_holder_and_ends_when_it_is_free() {
    let files = Files::abc();
    let mut store = Fake {
        held_by: vec![7, 7, 8],
        ..Fake::default()
    };
    let (done, seen) = exec(&mut store, &files, &req(CommandName::Up));
    let Report::Run(r) = done.unwrap().report else {
        panic!("not a run report")
    };
    // Who holds it is told at once, then each change of hands, then the taking; only
    // then the steps.
    assert_eq!(
        seen,
        [
            "lock: held fake-lock by 7",
            "lock: passed to 8",
            "lock: taken",
            "applied 1_a.sql",
            "applied 2_b.sql",
            "applied 3_c.sql"
        ]
    );
    let wait = r.lock_wait.as_deref().expect("the report has the wait");
    assert_eq!(wait.holder.connection, 7);
    assert_eq!(wait.last_holder().connection, 8);
    assert_eq!(wait.holder.user.as_deref(), Some("other"));
    // Without a wait, the report has none, and its JSON no `lock_wait`.
    let (done, seen) = exec(&mut store, &files, &req(CommandName::Down));
    let done = done.unwrap();
    assert!(done.report.lock_wait().is_none());
    assert!(seen.iter().all(|s| !s.starts_with("lock:")), "{seen:?}");
    let json = serde_json::to_value(&done.report).unwrap();
    assert!(json.get("lock_wait").is_none(), "{json}");
}

#[test]
fn the_lock_is_tried_at_once_then_in_short_tries_whatever_the_timeout() {
    // One long GET_LOCK outlived the control connection's 30 s read timeout (an I/O
    // error, exit 1, instead of a wait) and could not be interrupted: a wait is a first
    // try that does not wait, then tries of at most a second.
    let files = Files::abc();
    let mut store = Fake {
        held_by: vec![4; 5],
        ..Fake::default()
    };
    let source = files.source();
    let mut ms = crate::migration::scan(
        files
            .0
            .iter()
            .map(|(id, t)| (id.as_str(), id.as_str(), t.as_bytes())),
    )
    .unwrap();
    let opts = crate::plan::Options::new(crate::plan::Command::Up);
    let done = run::run(
        &mut store,
        &source,
        &mut ms,
        &opts,
        Duration::from_secs(600),
        |_| {},
    )
    .unwrap();
    assert_eq!(done.steps.len(), 3);
    assert_eq!(store.tries.len(), 6);
    assert_eq!(store.tries[0], Duration::ZERO);
    assert!(
        store.tries[1..]
            .iter()
            .all(|&t| t > Duration::ZERO && t <= crate::store::POLL),
        "{:?}",
        store.tries
    );
}

#[test]
fn every_command_that_takes_the_lock_tells_of_the_wait() {
    let files = Files::abc();
    let mut store = Fake::default();
    up(&mut store, &files);
    let mut resolve = req(CommandName::Resolve);
    resolve.id = Some("3_c.sql".into());
    resolve.resolution = Some(Resolution::RolledBack);
    let mut settle = req(CommandName::Resolve);
    settle.id = Some("3_c.sql".into());
    settle.resolution = Some(Resolution::StatementNotCommitted);
    settle.statement = Some(1);
    let mut review = req(CommandName::Plan);
    review.review = true;
    for request in [
        req(CommandName::Down),
        req(CommandName::Redo),
        req(CommandName::Skip),
        req(CommandName::Up),
        resolve,
        settle,
        review,
    ] {
        store.held_by = vec![5];
        let (done, seen) = exec(&mut store, &files, &request);
        assert_eq!(
            seen[..2],
            ["lock: held fake-lock by 5", "lock: taken"],
            "{:?}",
            request.command
        );
        // Whatever the command then made of it (the fake cannot review, and settles
        // only what is in doubt), a report that was made has the wait.
        if let Ok(done) = done {
            let wait = done.report.lock_wait().expect("the report has the wait");
            assert_eq!(wait.holder.connection, 5, "{:?}", request.command);
        }
    }
}

#[test]
fn a_failure_part_way_reports_what_is_committed_and_resume_finishes_it() {
    let mut files = Files::abc();
    files.set(
        "2_b.sql",
        "-- +migrate Up\nCREATE TABLE b (id int);\nCREATE TABLE b2 (id int);\nCREATE TABLE b3 (id int);\n-- +migrate Down\nDROP TABLE b;\n",
    );
    let mut store = Fake {
        fail: Some(("2_b.sql".into(), 2)),
        ..Fake::default()
    };
    let request = req(CommandName::Up);
    let (e, seen) = exec(&mut store, &files, &request);
    let e = e.err().unwrap();
    assert_eq!(seen, ["applied 1_a.sql"]);
    assert_eq!(e.kind(), ErrorKind::Sql);
    let f = e.failure().expect("a migration failure");
    assert_eq!((f.statement, f.total, f.committed), (2, 3, Some(1)));
    assert_eq!(f.line, Some(3));
    assert_eq!(f.completed.len(), 1);
    assert_eq!(
        e.message(&Frontend::Cli),
        "migration 2_b.sql (up) failed at statement 2 of 3 (line 3): MySQL error 1064: \
         scripted failure. Now committed: statements 1..1 of this migration (MySQL commits \
         DDL implicitly), as the journal records; no history row written. Earlier in this \
         run 1 migration(s) completed and are committed; fix the file if needed and \
         continue with `up --resume`, or fix it by hand and record that with \
         `resolve 2_b.sql --applied` or `resolve 2_b.sql --rolled-back`"
    );
    let summary = RunSummary::failed(&request, &e, &Frontend::Cli);
    assert!(!summary.ok);
    assert_eq!(summary.error_kind.as_deref(), Some("SqlError"));
    assert_eq!(steps(&summary), ["applied 1_a.sql"]);
    assert!(!store.locked, "released after a failure");
    assert_eq!(store.ids(), ["1_a.sql"]);

    // Without --resume the partial migration blocks every run.
    store.fail = None;
    let e = run(&mut store, &files, &request).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Partial);
    assert!(matches!(
        e,
        CommandError::Plan(crate::plan::PlanError::Partial { applied: 1, .. })
    ));
    assert!(
        e.message(&Frontend::Cli)
            .contains("continue with `up --resume`"),
        "{e}"
    );

    let mut resume = req(CommandName::Up);
    resume.resume = true;
    let sent_before = store.sent.len();
    let done = run(&mut store, &files, &resume).unwrap();
    assert_eq!(steps(&done), ["applied 2_b.sql", "applied 3_c.sql"]);
    assert_eq!(done.migrations[0].resumed_from, 1);
    assert_eq!(done.migrations[0].statements, 2);
    assert_eq!(
        store.sent[sent_before],
        "2_b.sql: CREATE TABLE b2 (id int);"
    );
    assert_eq!(store.ids(), ["1_a.sql", "2_b.sql", "3_c.sql"]);
}

#[test]
fn a_changed_committed_statement_cannot_be_resumed() {
    let mut files = Files::abc();
    let mut store = Fake {
        fail: Some(("1_a.sql".into(), 2)),
        ..Fake::default()
    };
    run(&mut store, &files, &req(CommandName::Up)).unwrap_err();
    store.fail = None;
    files.set("1_a.sql", &table("z"));
    let mut resume = req(CommandName::Up);
    resume.resume = true;
    let e = run(&mut store, &files, &resume).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Partial);
    assert!(
        e.message(&Frontend::Cli)
            .contains("resolve 1_a.sql --applied")
    );
}

#[test]
fn drift_is_refused_unless_allowed() {
    let mut files = Files::abc();
    let mut store = Fake::default();
    up(&mut store, &files);
    files.set("2_b.sql", &table("bb"));
    files.set("4_d.sql", &table("d"));
    let e = run(&mut store, &files, &req(CommandName::Up)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Drift);
    assert_eq!(e.kind().exit_code(), 4);
    assert!(
        e.message(&Frontend::Cli)
            .ends_with("to proceed anyway, run again with --allow-drift (e.g. `up --allow-drift`)")
    );
    let mut allow = req(CommandName::Up);
    allow.allow_drift = true;
    let done = run(&mut store, &files, &allow).unwrap();
    assert_eq!(steps(&done), ["applied 4_d.sql"]);
    assert_eq!(done.drift.len(), 1);
    assert_eq!(done.drift[0].id, "2_b.sql");
}

#[test]
fn unknown_history_rows_are_refused_unless_ignored() {
    let files = Files::abc();
    let mut store = Fake::with_history(&["0_gone.sql"]);
    let e = run(&mut store, &files, &req(CommandName::Up)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnknownMigrations);
    assert_eq!(e.kind().exit_code(), 5);
    assert!(store.sent.is_empty());
    let mut ignore = req(CommandName::Up);
    ignore.ignore_unknown = true;
    let done = run(&mut store, &files, &ignore).unwrap();
    assert_eq!(done.unknown, ["0_gone.sql"]);
    assert_eq!(done.migrations.len(), 3);
}

#[test]
fn checksums_of_migrations_applied_elsewhere_are_adopted() {
    let files = Files::abc();
    let mut store = Fake::with_history(&["1_a.sql", "2_b.sql"]);
    let done = up(&mut store, &files);
    assert_eq!(done.adopted, ["1_a.sql", "2_b.sql"]);
    assert_eq!(steps(&done), ["applied 3_c.sql"]);
    assert_eq!(store.row("1_a.sql").unwrap().state, JournalState::Adopted);
    let mut plan = run(&mut store, &files, &req(CommandName::Plan)).unwrap();
    plan.adopted.sort();
    assert!(plan.adopted.is_empty() && plan.migrations.is_empty());
}

#[test]
fn a_run_stops_between_migrations_at_its_deadline_and_the_next_carries_on() {
    let files = Files::abc();
    let mut store = Fake {
        stop_after: Some(1),
        ..Fake::default()
    };
    let (done, _) = exec(&mut store, &files, &req(CommandName::Up));
    let done = done.unwrap();
    assert_eq!(done.report.pending(), ["2_b.sql", "3_c.sql"]);
    let Report::Run(r) = done.report else {
        panic!()
    };
    assert!(!r.ok);
    assert_eq!(steps(&r), ["applied 1_a.sql"]);
    assert_eq!(r.last_applied.as_deref(), Some("1_a.sql"));
    assert!(!store.locked);
    store.stop_after = None;
    let mut fresh = Fake {
        history: store.history.take(),
        journal: std::mem::take(&mut store.journal),
        ..Fake::default()
    };
    let next = up(&mut fresh, &files);
    assert_eq!(steps(&next), ["applied 2_b.sql", "applied 3_c.sql"]);
    assert!(next.ok && next.stopped.is_none());
}

#[test]
fn nothing_starts_once_the_deadline_has_passed() {
    let files = Files::abc();
    let mut store = Fake {
        stop_after: Some(0),
        ..Fake::default()
    };
    let r = up(&mut store, &files);
    assert!(r.migrations.is_empty());
    assert_eq!(r.stopped.unwrap().pending.len(), 3);
    assert!(store.sent.is_empty());
}

#[test]
fn down_reverts_one_by_default_and_redo_reverts_and_reapplies_the_newest() {
    let files = Files::abc();
    let mut store = Fake::default();
    up(&mut store, &files);
    let d = run(&mut store, &files, &req(CommandName::Down)).unwrap();
    assert_eq!(steps(&d), ["reverted 3_c.sql"]);
    assert_eq!(d.last_applied.as_deref(), Some("2_b.sql"));
    assert_eq!(store.row("3_c.sql").unwrap().state, JournalState::Reverted);
    assert_eq!(store.ids(), ["1_a.sql", "2_b.sql"]);
    let mut all = req(CommandName::Down);
    all.limit = Some(0);
    let redo = run(&mut store, &files, &req(CommandName::Redo)).unwrap();
    assert_eq!(steps(&redo), ["reverted 2_b.sql", "applied 2_b.sql"]);
    assert_eq!(
        store.sent.last().unwrap(),
        "2_b.sql: INSERT INTO b VALUES (1);"
    );
    let d = run(&mut store, &files, &all).unwrap();
    assert_eq!(steps(&d), ["reverted 2_b.sql", "reverted 1_a.sql"]);
    assert_eq!(d.last_applied, None);
    assert!(store.ids().is_empty());
}

#[test]
fn skip_records_without_running() {
    let files = Files::abc();
    let mut store = Fake::default();
    let mut skip = req(CommandName::Skip);
    skip.limit = Some(2);
    let r = run(&mut store, &files, &skip).unwrap();
    assert_eq!(steps(&r), ["skipped 1_a.sql", "skipped 2_b.sql"]);
    assert_eq!(r.migrations[0].statements, 0);
    assert!(store.sent.is_empty());
    assert_eq!(store.ids(), ["1_a.sql", "2_b.sql"]);
    assert_eq!(store.row("1_a.sql").unwrap().state, JournalState::Skipped);
    assert_eq!(steps(&up(&mut store, &files)), ["applied 3_c.sql"]);
}

#[test]
fn resolve_records_applied_or_rolled_back_and_refuses_an_unknown_id() {
    let mut files = Files::abc();
    let mut store = Fake {
        fail: Some(("1_a.sql".into(), 2)),
        ..Fake::default()
    };
    run(&mut store, &files, &req(CommandName::Up)).unwrap_err();
    store.fail = None;
    let mut resolve = req(CommandName::Resolve);
    resolve.id = Some("1_a.sql".into());
    resolve.resolution = Some(Resolution::Applied);
    let Report::Resolve(r) = exec(&mut store, &files, &resolve).0.unwrap().report else {
        panic!()
    };
    assert_eq!((r.id.as_str(), r.state), ("1_a.sql", Resolution::Applied));
    assert_eq!(store.ids(), ["1_a.sql"]);
    let row = store.row("1_a.sql").unwrap();
    assert_eq!(row.state, JournalState::ResolvedApplied);
    assert_eq!(row.statements_applied, 2);
    assert_eq!(
        store.notes[0].1,
        "resolved by hand as applied (was up failed with 1 statements committed)"
    );
    assert!(!store.locked);
    assert_eq!(
        steps(&up(&mut store, &files)),
        ["applied 2_b.sql", "applied 3_c.sql"]
    );

    // A changed file is something to resolve: here, reverted by hand.
    files.set("3_c.sql", &table("cc"));
    resolve.id = Some("3_c.sql".into());
    resolve.resolution = Some(Resolution::RolledBack);
    exec(&mut store, &files, &resolve).0.unwrap();
    assert_eq!(store.ids(), ["1_a.sql", "2_b.sql"]);
    let row = store.row("3_c.sql").unwrap();
    assert_eq!(
        (row.state, row.direction),
        (JournalState::ResolvedRolledBack, Direction::Down)
    );
    assert_eq!(
        store.notes[1].1,
        "resolved by hand as rolled back (its file had changed since it was applied)"
    );

    resolve.id = Some("9_nope.sql".into());
    let e = exec(&mut store, &files, &resolve).0.err().unwrap();
    assert_eq!(e.kind(), ErrorKind::BadRequest);
    assert_eq!(
        e.to_string(),
        "resolve 9_nope.sql: no such migration file, history row or journal row"
    );
}

#[test]
fn resolve_refuses_a_settled_migration_naming_skip_or_down() {
    let mut files = Files::abc();
    let mut store = Fake::default();
    let mut one = req(CommandName::Up);
    one.limit = Some(1);
    run(&mut store, &files, &one).unwrap();
    let resolve = |id: &str, resolution| Request {
        id: Some(id.into()),
        resolution: Some(resolution),
        ..req(CommandName::Resolve)
    };
    let why = "so there is nothing to resolve (resolve settles a partial, failed or in-doubt \
               migration, or accepts a changed file); ";
    // Never ran: recording it as applied is `skip`.
    for r in [Resolution::Applied, Resolution::RolledBack] {
        let e = exec(&mut store, &files, &resolve("2_b.sql", r))
            .0
            .err()
            .unwrap();
        assert_eq!(e.kind().exit_code(), 2);
        assert_eq!(
            e.message(&Frontend::Cli),
            format!(
                "resolve 2_b.sql: it is not applied and no run left it part-way, {why}to record \
                 it as applied without running it, use `skip`, which records pending \
                 migrations, oldest first"
            )
        );
    }
    // Applied cleanly: recording it as rolled back is `down`.
    for r in [Resolution::RolledBack, Resolution::Applied] {
        let e = exec(&mut store, &files, &resolve("1_a.sql", r))
            .0
            .err()
            .unwrap();
        assert_eq!(e.kind(), ErrorKind::BadRequest);
        let remote = e.message(&Frontend::Migrator {
            function: Some("db-migrator".into()),
        });
        assert_eq!(
            remote,
            format!(
                "resolve 1_a.sql: it is applied and its file is the one applied, {why}to revert \
                 it, use `lambda-migrate --via-lambda db-migrator down`, which runs Down \
                 sections, newest first"
            )
        );
    }
    assert!(store.notes.is_empty(), "nothing was recorded");
    assert_eq!(store.ids(), ["1_a.sql"]);

    // A drifted file is resolvable: `--applied` accepts it, and runs carry on.
    files.set("1_a.sql", &table("aa"));
    assert_eq!(
        run(&mut store, &files, &req(CommandName::Up))
            .unwrap_err()
            .kind(),
        ErrorKind::Drift
    );
    exec(&mut store, &files, &resolve("1_a.sql", Resolution::Applied))
        .0
        .unwrap();
    assert!(
        store.notes[0].1.contains("accepted the changed file"),
        "{:?}",
        store.notes
    );
    assert_eq!(
        steps(&up(&mut store, &files)),
        ["applied 2_b.sql", "applied 3_c.sql"]
    );
}

#[test]
fn a_statement_that_would_commit_part_way_is_refused_before_anything_runs() {
    let mut files = Files::abc();
    files.set(
        "2_b.sql",
        "-- +migrate Up\nINSERT INTO a VALUES (2); CREATE TABLE b (id int);\n",
    );
    let mut store = Fake::default();
    for command in [CommandName::Plan, CommandName::Up] {
        let e = run(&mut store, &files, &req(command)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadMigration);
        assert!(e.to_string().contains("statement 1 (line 2)"), "{e}");
    }
    assert!(store.sent.is_empty());
}

#[test]
fn a_file_that_does_not_parse_is_named() {
    let mut files = Files::abc();
    files.set(
        "4_bad.sql",
        "-- +migrate Up\n-- +migrate StatementBegin\nSELECT 1;\n",
    );
    let mut store = Fake::default();
    let e = run(&mut store, &files, &req(CommandName::Up)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadMigration);
    assert!(e.to_string().contains("4_bad.sql"), "{e}");
}

#[test]
fn a_store_that_cannot_connect_is_a_connection_error() {
    let files = Files::abc();
    let source = files.source();
    let limits = Limits::default();
    let input = Input {
        source: &source,
        dir: "migrations",
        limits: &limits,
        fetch: None,
        expected_digest: None,
    };
    let e = execute::<Fake>(
        &req(CommandName::Status),
        &input,
        || {
            Err(StoreError::AccessDenied {
                target: "mysql://u@h/db".into(),
                source: "Access denied".into(),
            })
        },
        Duration::from_secs(1),
        |_| {},
    )
    .err()
    .unwrap();
    assert_eq!(e.kind(), ErrorKind::Connection);
    assert_eq!(
        e.to_string(),
        "cannot connect to mysql://u@h/db: Access denied"
    );
}

#[test]
fn run_reports_round_trip_through_json() {
    let files = Files::abc();
    let mut store = Fake::default();
    let done = exec(&mut store, &files, &req(CommandName::Up)).0.unwrap();
    let json = serde_json::to_value(&done.report).unwrap();
    let back = Report::from_value(CommandName::Up, json.clone()).unwrap();
    assert_eq!(serde_json::to_value(&back).unwrap(), json);
    assert_eq!(json["migrations"][0]["state"], "applied");
}

#[test]
fn an_empty_set_is_refused_before_connecting_unless_asked_for() {
    let files = Files(Vec::new());
    let mut store = Fake::default();
    for command in [
        CommandName::Verify,
        CommandName::Plan,
        CommandName::Up,
        CommandName::Down,
    ] {
        let e = run_or_verify(&mut store, &files, &req(command)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadArtifact, "{command}");
        let m = e.message(&Frontend::Cli);
        assert!(m.contains("no .sql files"), "{m}");
        assert!(m.contains("--allow-empty"), "{m}");
    }
    assert!(store.ids().is_empty(), "nothing was created");
    for command in [CommandName::Verify, CommandName::Up] {
        let r = Request {
            allow_empty: true,
            ..req(command)
        };
        run_or_verify(&mut store, &files, &r).unwrap();
    }
    // `status` shows the history whatever the files.
    exec(&mut store, &files, &req(CommandName::Status))
        .0
        .unwrap();
}

fn run_or_verify(store: &mut Fake, files: &Files, r: &Request) -> Result<(), CommandError> {
    exec(store, files, r).0.map(|_| ())
}

#[test]
fn a_down_without_down_statements_is_refused_warned_or_recorded() {
    let mut files = Files::abc();
    files.set("3_c.sql", "-- +migrate Up\nCREATE TABLE c (id int);\n");
    let mut store = Fake::default();
    up(&mut store, &files);
    for command in [CommandName::Down, CommandName::Redo] {
        let e = run(&mut store, &files, &req(command)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadMigration, "{command}");
        let m = e.message(&Frontend::Cli);
        assert!(m.contains("3_c.sql") && m.contains("Down"), "{m}");
        assert!(
            m.contains(&format!("`{command} --allow-empty-down`")),
            "{m}"
        );
        assert_eq!(store.ids().len(), 3, "{command} recorded nothing");
    }
    // A dry run shows the step, with no statement to run; the front end warns.
    let dry = Request {
        dry_run: true,
        ..req(CommandName::Down)
    };
    let r = run(&mut store, &files, &dry).unwrap();
    assert_eq!(r.migrations[0].statements_total, 0);
    assert_eq!(r.migrations[0].direction, Direction::Down);
    let allowed = Request {
        allow_empty_down: true,
        ..req(CommandName::Down)
    };
    let r = run(&mut store, &files, &allowed).unwrap();
    assert_eq!(steps(&r), ["reverted 3_c.sql"]);
    assert_eq!(store.ids(), ["1_a.sql", "2_b.sql"]);
}

#[test]
fn lint_pending_lints_what_the_history_lacks_on_the_model_the_applied_ones_built() {
    let mut files = Files::abc();
    files.set(
        "1_a.sql",
        "-- +migrate Up\nCREATE TABLE a (id int, email varchar(300));\n\n-- +migrate Down\nDROP TABLE a;\n",
    );
    files.set(
        "2_b.sql",
        "-- +migrate Up\nALTER TABLE a MODIFY email varchar(100);\n\n-- +migrate Down\nALTER TABLE a MODIFY email varchar(300);\n",
    );
    let mut store = Fake::with_history(&["1_a.sql"]);
    let request = Request {
        pending: true,
        ..req(CommandName::Lint)
    };
    let Report::Lint(r) = exec(&mut store, &files, &request).0.unwrap().report else {
        panic!("not a lint report")
    };
    let linted: std::collections::BTreeSet<&str> =
        r.findings.iter().map(|f| f.migration.as_str()).collect();
    assert!(!linted.contains("1_a.sql"), "{linted:?}");
    let narrowing = r
        .findings
        .iter()
        .find(|f| f.rule == "destructive/narrowing")
        .expect("2_b's MODIFY is measured against 1_a's CREATE");
    assert_eq!(narrowing.migration, "2_b.sql");
    assert_eq!(r.summary.migrations, 2);
    assert_eq!(store.ids(), ["1_a.sql"], "nothing was applied or recorded");

    // Without `pending`, lint never connects.
    let source = files.source();
    let limits = Limits::default();
    let input = Input {
        source: &source,
        dir: "migrations",
        limits: &limits,
        fetch: None,
        expected_digest: None,
    };
    let done = execute::<Fake>(
        &req(CommandName::Lint),
        &input,
        || panic!("plain lint needs no store"),
        Duration::from_secs(1),
        |_| {},
    )
    .unwrap();
    let Report::Lint(all) = done.report else {
        panic!("not a lint report")
    };
    assert_eq!(all.summary.migrations, 3);
    let mut up = req(CommandName::Up);
    up.pending = true;
    assert!(up.validate().is_err(), "only lint takes pending");
}
