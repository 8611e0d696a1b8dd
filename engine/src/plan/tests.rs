//! Planning rules, each checked on hand-built records without a database.

use std::borrow::Cow;

use super::*;
use crate::migration::Section;

pub(super) fn stmt(sql: &'static str, line: usize) -> Statement<'static> {
    Statement {
        sql: Cow::Borrowed(sql),
        line,
    }
}

pub(super) fn mig(id: &'static str, up: &[&'static str]) -> Migration<'static> {
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

pub(super) fn set(ids: &[&'static str]) -> Vec<Migration<'static>> {
    ids.iter()
        .map(|id| mig(id, &["CREATE TABLE x (a int)", "INSERT INTO x VALUES (1)"]))
        .collect()
}

pub(super) fn hist(ids: &[&str]) -> Vec<HistoryRow> {
    ids.iter()
        .map(|id| HistoryRow {
            id: id.to_string(),
            applied_at: Some("2024-01-01 00:00:00".into()),
        })
        .collect()
}

pub(super) fn applied_row(m: &Migration<'_>) -> JournalRow {
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

pub(super) fn ids(ms: &[Migration<'_>], p: &Plan) -> Vec<(String, Direction, bool)> {
    p.steps
        .iter()
        .map(|s| (ms[s.index].id.to_string(), s.direction, s.catch_up))
        .collect()
}

pub(super) fn partial_row(m: &Migration<'_>, k: usize, state: JournalState) -> JournalRow {
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

/// Issue 22: a `down` that failed part-way, then was resumed, reported the migration's
/// checksum as adopted "applied without one (e.g. by sql-migrate)": the partial row is
/// our own run's, not another tool's.
#[test]
fn a_revert_left_part_way_is_not_adopted() {
    let mut ms = set(&["1_a.sql", "2_b.sql"]);
    ms[1].down.statements.push(stmt("DROP TABLE u", 21));
    let mut j = partial_row(&ms[1], 0, JournalState::Failed);
    let mut done = StatementHasher::new();
    done.push(&ms[1].down.statements[0].sql);
    j.direction = Direction::Down;
    j.statements_applied = 1;
    j.applied_sha256 = Some(done.digest());
    j.statement_hashes = Some(done.shorts().to_owned());
    let h = hist(&["1_a.sql", "2_b.sql"]);
    let mut o = Options::new(Command::Down);
    o.resume = true;
    let journal = [applied_row(&ms[0]), j];
    let p = plan(&ms, &h, &journal, &o).unwrap();
    assert!(p.adopt.is_empty() && p.drift.is_empty(), "{p:?}");
    assert_eq!(p.steps[0].resume_from, 1);
    // Another tool's row still is: 1_a without a journal row.
    let p = plan(&ms, &h, &journal[1..], &o).unwrap();
    assert_eq!(p.adopt, [0]);
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
fn a_reversion_that_would_run_nothing_is_refused_unless_allowed() {
    let mut ms = set(&["1_a.sql", "2_b.sql", "3_c.sql"]);
    // 2_b.sql has no Down statements (a missing section parses the same).
    ms[1].down.statements.clear();
    let h = hist(&["1_a.sql", "2_b.sql", "3_c.sql"]);
    let mut o = Options::new(Command::Down);
    o.limit = Some(1);
    // Reverting only 3_c.sql never touches 2_b.sql.
    plan(&ms, &h, &[], &o).unwrap();
    o.limit = Some(2);
    let err = plan(&ms, &h, &[], &o).unwrap_err();
    assert_eq!(
        err,
        PlanError::EmptyDown {
            id: "2_b.sql".into(),
            redo: false
        }
    );
    assert!(err.to_string().contains("no Down statements"), "{err}");
    o.allow_empty_down = true;
    let p = plan(&ms, &h, &[], &o).unwrap();
    assert!(reverts_nothing(&ms[1], &p.steps[1]));
    assert!(!reverts_nothing(&ms[2], &p.steps[0]));

    let h = hist(&["1_a.sql", "2_b.sql"]);
    let err = plan(&ms, &h, &[], &Options::new(Command::Redo)).unwrap_err();
    assert!(
        matches!(err, PlanError::EmptyDown { redo: true, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("redo"), "{err}");
    // `up` never runs a Down section.
    plan(&ms, &hist(&["1_a.sql"]), &[], &Options::new(Command::Up)).unwrap();
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
        text.contains("continues from statement 2 (line 4)"),
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

#[test]
fn in_doubt_is_never_resumed_and_a_verdict_makes_it_partial() {
    let m = mig(
        "1_a.sql",
        &[
            "CREATE TABLE a (x int)",
            "CREATE TABLE b (y int)",
            "INSERT INTO a VALUES (1)",
        ],
    );
    let ms = vec![m.clone()];
    let j = partial_row(&m, 1, JournalState::InDoubt);
    let mut o = Options::new(Command::Up);
    o.resume = true;
    match plan(&ms, &[], std::slice::from_ref(&j), &o) {
        Err(PlanError::InDoubt { statement: 2, .. }) => {}
        other => panic!("{other:?}"),
    }
    // A verdict must name the statement in doubt.
    assert!(matches!(
        verdict("1_a.sql", Some(&m), std::slice::from_ref(&j), 3, true),
        Err(PlanError::NotInDoubt { .. })
    ));
    for (committed, from) in [(true, 2), (false, 1)] {
        let r = verdict("1_a.sql", Some(&m), std::slice::from_ref(&j), 2, committed).unwrap();
        assert!(r.keep_history);
        assert_eq!(r.statements_applied, from);
        let row = JournalRow {
            state: r.state,
            statements_applied: r.statements_applied,
            applied_sha256: r.hashes.as_ref().map(|h| h.0.clone()),
            statement_hashes: r.hashes.as_ref().map(|h| h.1.clone()),
            ..j.clone()
        };
        let p = plan(&ms, &[], &[row], &o).unwrap();
        assert_eq!(p.steps[0].resume_from, from);
    }
    // A clean migration has nothing in doubt.
    let applied = applied_row(&m);
    assert!(verdict("1_a.sql", Some(&m), &[applied], 1, true).is_err());
}

#[test]
fn a_run_that_died_is_in_doubt_only_where_its_statement_commits_alone() {
    let m = mig(
        "1_a.sql",
        &[
            "CREATE TABLE a (x int)",
            "INSERT INTO a VALUES (1)",
            "CREATE TABLE b (y int)",
        ],
    );
    let ms = vec![m.clone()];
    let mut o = Options::new(Command::Up);
    o.resume = true;
    // Died during the DDL (statement 1): nobody knows whether it committed.
    let died = partial_row(&m, 0, JournalState::Running);
    assert!(matches!(
        plan(&ms, &[], &[died], &o),
        Err(PlanError::InDoubt { statement: 1, .. })
    ));
    // Died during the INSERT, inside a transaction: rolled back, so it resumes there.
    let died = partial_row(&m, 1, JournalState::Running);
    let p = plan(&ms, &[], &[died], &o).unwrap();
    assert_eq!(p.steps[0].resume_from, 1);
    // In a `notransaction` section every statement commits alone.
    let mut nt = m.clone();
    nt.up.no_transaction = true;
    let died = partial_row(&nt, 1, JournalState::Running);
    assert!(matches!(
        plan(&[nt], &[], &[died], &o),
        Err(PlanError::InDoubt { statement: 2, .. })
    ));
}

/// sql-migrate's `-version N` (its `planMigrationCommon`, and `ToApply`/`ToCatchup`):
/// `up` applies the catch-ups, then the pending migrations after the newest applied one
/// up to and including version N; `down` reverts newest first down to and including N;
/// a version not among those reached is an error (sql-migrate's "unknown migration with
/// version id N in database"), ours naming the nearest.
#[test]
fn version_goes_exactly_that_far() {
    let ms = set(&[
        "1_a.sql",
        "2_b.sql",
        "3_c.sql",
        "4_d.sql",
        "5_e.sql",
        "x_name.sql",
    ]);
    let at = |cmd, v, h: &[&str]| {
        let mut o = Options::new(cmd);
        o.version = Some(v);
        plan(&ms, &hist(h), &[], &o)
    };
    let up = at(Command::Up, 4, &["1_a.sql", "3_c.sql"]).unwrap();
    assert_eq!(
        ids(&ms, &up),
        [
            ("2_b.sql".into(), Direction::Up, true),
            ("4_d.sql".into(), Direction::Up, false)
        ]
    );
    let down = at(
        Command::Down,
        2,
        &["1_a.sql", "2_b.sql", "3_c.sql", "4_d.sql"],
    )
    .unwrap();
    let reverted: Vec<_> = down.steps.iter().map(|s| ms[s.index].id).collect();
    assert_eq!(reverted, ["4_d.sql", "3_c.sql", "2_b.sql"]);
    // A catch-up's version is not one `up` stops at; nor is an applied one.
    let err = at(Command::Up, 2, &["1_a.sql", "3_c.sql"]).unwrap_err();
    assert_eq!(
        err,
        PlanError::NoVersion {
            version: 2,
            down: false,
            nearest: vec!["4_d.sql".into()]
        }
    );
    assert!(err.to_string().contains("nearest: 4_d.sql"), "{err}");
    // Between two versions: both neighbours are named.
    let err = at(Command::Down, 3, &["1_a.sql", "2_b.sql", "4_d.sql"]).unwrap_err();
    assert_eq!(
        err,
        PlanError::NoVersion {
            version: 3,
            down: true,
            nearest: vec!["2_b.sql".into(), "4_d.sql".into()]
        }
    );
    // A non-numeric id sorts last: `down` passes over it, `up` stops there.
    let down = at(Command::Down, 5, &["1_a.sql", "5_e.sql", "x_name.sql"]).unwrap();
    let reverted: Vec<_> = down.steps.iter().map(|s| ms[s.index].id).collect();
    assert_eq!(reverted, ["x_name.sql", "5_e.sql"]);
    assert!(matches!(
        at(Command::Up, 9, &[]),
        Err(PlanError::NoVersion { .. })
    ));
    // Nothing to reach at all.
    let err = at(Command::Down, 1, &[]).unwrap_err();
    assert!(err.to_string().contains("nothing is applied"), "{err}");
}
