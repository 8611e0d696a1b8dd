//! The apply engine against the test server (MariaDB or MySQL, as `LM_TEST_DATABASE_URL`
//! says; `scripts/test` runs this on both).
//! Each test works in a fresh database of its own, so tests run in parallel.
#![cfg(feature = "mysql")]

use std::time::Duration;

use engine::command::CommandError;
use engine::command::{MigrationFailure, RunOutcome};
use engine::db::{ConnConfig, Database, Settings};
use engine::migration::{self, Migration};
use engine::plan::{Command, Direction, JournalState, Options, PlanError};
use engine::store::{Read, Recorded, Store, StoreError};
use mysql::prelude::Queryable;

/// A fresh database (the kit's) with a connection of its own for checks.
struct TestDb {
    // Declared first so it closes before `db` drops the database.
    admin: mysql::Conn,
    cfg: ConnConfig,
    db: testkit::TestDb,
}

impl TestDb {
    fn new(tag: &str) -> TestDb {
        let db = testkit::TestDb::tagged(tag);
        let cfg = ConnConfig::parse(&db.url()).expect("LM_TEST_DATABASE_URL parses");
        let admin = mysql::Conn::new(cfg.opts()).unwrap_or_else(|e| {
            panic!(
                "the test server is not reachable at {cfg}: {e}. {}",
                testkit::START_HINT
            )
        });
        TestDb { admin, cfg, db }
    }

    fn connect(&self) -> Database {
        Database::connect(&self.cfg, &Settings::default()).unwrap()
    }

    fn count(&mut self, sql: &str) -> u64 {
        self.admin.query_first::<u64, _>(sql).unwrap().unwrap()
    }

    fn history(&mut self) -> Vec<String> {
        self.admin
            .query("SELECT id FROM gorp_migrations ORDER BY id")
            .unwrap()
    }

    fn journal(&mut self, id: &str) -> Option<(String, String, u64, Option<String>)> {
        self.admin
            .exec_first(
                "SELECT state, direction, statements_applied, error FROM gorp_migrations_journal WHERE id = ?",
                (id,),
            )
            .unwrap()
    }

    fn table_exists(&mut self, t: &str) -> bool {
        self.admin
            .exec_first::<u64, _, _>(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                (&self.db.name, t),
            )
            .unwrap()
            .unwrap()
            == 1
    }
}

/// Where the in-memory migrations come from, for naming a file that does not parse.
fn source() -> engine::source::Source {
    engine::source::Source::Dir {
        path: "files".into(),
        files: Vec::new(),
    }
}

/// Migration files held in memory: (id, text).
struct Files(Vec<(String, String)>);

impl Files {
    fn new(list: &[(&str, &str)]) -> Files {
        Files(
            list.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    }

    /// Scanned, not parsed: runs parse what they need, as the binaries do.
    fn load(&self) -> Vec<Migration<'_>> {
        migration::scan(
            self.0
                .iter()
                .map(|(id, text)| (id.as_str(), id.as_str(), text.as_bytes())),
        )
        .unwrap()
    }

    fn set(&mut self, id: &str, text: &str) {
        match self.0.iter_mut().find(|(i, _)| i == id) {
            Some(f) => f.1 = text.to_string(),
            None => self.0.push((id.to_string(), text.to_string())),
        }
    }
}

fn table(n: &str) -> String {
    format!(
        "-- +migrate Up\nCREATE TABLE {n} (id int primary key);\nINSERT INTO {n} VALUES (1);\n\n-- +migrate Down\nDROP TABLE {n};\n"
    )
}

fn opts(command: Command) -> Options {
    Options::new(command)
}

/// A whole run of `o` over `ms` through the orchestrator, with a 5 s lock timeout.
fn apply(
    db: &mut Database,
    ms: &mut [Migration<'_>],
    o: &Options,
) -> Result<RunOutcome, CommandError> {
    engine::command::run::run(db, &source(), ms, o, Duration::from_secs(5), |_| {})
}

fn run(db: &mut Database, files: &Files, o: Options) -> Result<Vec<String>, CommandError> {
    apply(db, &mut files.load(), &o).map(|r| {
        r.steps
            .iter()
            .map(|s| format!("{} {}", s.state, s.id))
            .collect()
    })
}

/// The migration failure `err` must be.
fn failure(err: &CommandError) -> &MigrationFailure {
    match err {
        CommandError::Failed(f) => f,
        other => panic!("expected a migration failure: {other}"),
    }
}

#[test]
fn fresh_apply_then_idempotent() {
    let mut t = TestDb::new("fresh");
    let files = Files::new(&[
        ("1_a.sql", &table("a")),
        ("2_b.sql", &table("b")),
        ("10_c.sql", &table("c")),
    ]);
    let mut db = t.connect();
    let done = run(&mut db, &files, opts(Command::Up)).unwrap();
    assert_eq!(
        done,
        ["applied 1_a.sql", "applied 2_b.sql", "applied 10_c.sql"]
    );
    assert_eq!(t.history(), ["10_c.sql", "1_a.sql", "2_b.sql"]);
    assert_eq!(t.count("SELECT COUNT(*) FROM c"), 1);
    // The history table is exactly sql-migrate's: two columns, nothing of ours.
    let cols: Vec<(String, String)> = t
        .admin
        .query("SELECT column_name, column_type FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'gorp_migrations' ORDER BY ordinal_position")
        .unwrap();
    assert_eq!(
        cols,
        [
            ("id".into(), "varchar(255)".into()),
            ("applied_at".into(), "datetime".into())
        ]
    );
    // applied_at is UTC.
    let skew = t.count(
        "SELECT ABS(TIMESTAMPDIFF(SECOND, MAX(applied_at), UTC_TIMESTAMP())) FROM gorp_migrations",
    );
    assert!(skew < 120, "applied_at is {skew}s away from UTC now");
    let j = t.journal("2_b.sql").unwrap();
    assert_eq!((j.0.as_str(), j.1.as_str(), j.2), ("applied", "up", 2));
    let sha: String = t
        .admin
        .query_first("SELECT sha256 FROM gorp_migrations_journal WHERE id = '2_b.sql'")
        .unwrap()
        .unwrap();
    assert_eq!(
        sha,
        files
            .load()
            .iter()
            .find(|m| m.id == "2_b.sql")
            .unwrap()
            .sha256
    );

    let again = run(&mut db, &files, opts(Command::Up)).unwrap();
    assert!(again.is_empty());
    assert_eq!(t.count("SELECT COUNT(*) FROM a"), 1);
}

#[test]
fn down_redo_skip_limit() {
    let mut t = TestDb::new("downredo");
    let files = Files::new(&[
        ("1_a.sql", &table("a")),
        ("2_b.sql", &table("b")),
        ("3_c.sql", &table("c")),
    ]);
    let mut db = t.connect();
    let mut o = opts(Command::Up);
    o.limit = Some(2);
    assert_eq!(
        run(&mut db, &files, o).unwrap(),
        ["applied 1_a.sql", "applied 2_b.sql"]
    );
    let mut o = opts(Command::Down);
    o.limit = Some(1);
    assert_eq!(run(&mut db, &files, o).unwrap(), ["reverted 2_b.sql"]);
    assert!(!t.table_exists("b"));
    assert_eq!(t.history(), ["1_a.sql"]);
    assert_eq!(t.journal("2_b.sql").unwrap().0, "reverted");
    assert_eq!(
        run(&mut db, &files, opts(Command::Redo)).unwrap(),
        ["reverted 1_a.sql", "applied 1_a.sql"]
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM a"), 1);
    let mut o = opts(Command::Skip);
    o.limit = Some(1);
    assert_eq!(run(&mut db, &files, o).unwrap(), ["skipped 2_b.sql"]);
    assert!(!t.table_exists("b"), "skip must not run the migration");
    assert_eq!(t.history(), ["1_a.sql", "2_b.sql"]);
    assert_eq!(
        run(&mut db, &files, opts(Command::Up)).unwrap(),
        ["applied 3_c.sql"]
    );
    let mut o = opts(Command::Down);
    o.limit = None;
    // 2_b was skipped, so its down (DROP TABLE b) fails: the table never existed.
    let err = run(&mut db, &files, o).unwrap_err();
    let f = failure(&err);
    assert_eq!(f.id, "2_b.sql");
    assert_eq!(f.code, Some(1051));
    assert_eq!(f.completed.len(), 1);
    assert_eq!(f.completed[0].id, "3_c.sql");
    assert_eq!(t.history(), ["1_a.sql", "2_b.sql"]);
}

#[test]
fn catch_up_applies_older_unapplied() {
    let mut t = TestDb::new("catchup");
    let mut files = Files::new(&[("1_a.sql", &table("a")), ("3_c.sql", &table("c"))]);
    let mut db = t.connect();
    run(&mut db, &files, opts(Command::Up)).unwrap();
    // A branch merged an older migration.
    files.set("2_b.sql", &table("b"));
    let mut ms = files.load();
    let report = apply(&mut db, &mut ms, &opts(Command::Up)).unwrap();
    assert_eq!(report.steps.len(), 1);
    assert_eq!(report.steps[0].id, "2_b.sql");
    assert!(report.steps[0].catch_up);
    assert_eq!(t.history(), ["1_a.sql", "2_b.sql", "3_c.sql"]);
}

#[test]
fn unknown_rows_refused_unless_ignored() {
    let mut t = TestDb::new("unknown");
    let files = Files::new(&[("1_a.sql", &table("a"))]);
    let mut db = t.connect();
    run(&mut db, &files, opts(Command::Up)).unwrap();
    t.admin
        .query_drop("INSERT INTO gorp_migrations VALUES ('0_elsewhere.sql', UTC_TIMESTAMP())")
        .unwrap();
    let more = Files::new(&[("1_a.sql", &table("a")), ("2_b.sql", &table("b"))]);
    let err = run(&mut db, &more, opts(Command::Up)).unwrap_err();
    assert!(
        matches!(err, CommandError::Plan(PlanError::Unknown { .. })),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("unknown migration in database: 0_elsewhere.sql")
    );
    assert!(!t.table_exists("b"), "nothing applied after a refusal");
    let mut o = opts(Command::Up);
    o.ignore_unknown = true;
    assert_eq!(run(&mut db, &more, o).unwrap(), ["applied 2_b.sql"]);
}

#[test]
fn drift_refused_before_anything_is_applied() {
    let mut t = TestDb::new("drift");
    let mut files = Files::new(&[("1_a.sql", &table("a"))]);
    let mut db = t.connect();
    run(&mut db, &files, opts(Command::Up)).unwrap();
    files.set("1_a.sql", &format!("{}\n-- edited\n", table("a")));
    files.set("2_b.sql", &table("b"));
    let err = run(&mut db, &files, opts(Command::Up)).unwrap_err();
    assert!(
        matches!(err, CommandError::Plan(PlanError::Drift { .. })),
        "{err}"
    );
    assert!(!t.table_exists("b"));
    let mut o = opts(Command::Up);
    o.allow_drift = true;
    let mut ms = files.load();
    let r = apply(&mut db, &mut ms, &o).unwrap();
    assert_eq!(r.drift.len(), 1);
    assert_eq!(r.drift[0].id, "1_a.sql");
    assert_eq!(r.steps.len(), 1);
}

#[test]
fn checksums_adopted_from_sql_migrate_rows() {
    let mut t = TestDb::new("adopt");
    let files = Files::new(&[("1_a.sql", &table("a")), ("2_b.sql", &table("b"))]);
    // As sql-migrate leaves it: its table, its row, no journal.
    t.admin.query_drop("create table if not exists `gorp_migrations` (`id` varchar(255) not null primary key, `applied_at` datetime) engine=InnoDB charset=UTF8").unwrap();
    t.admin
        .query_drop("CREATE TABLE a (id int primary key)")
        .unwrap();
    t.admin
        .query_drop("INSERT INTO gorp_migrations VALUES ('1_a.sql', UTC_TIMESTAMP())")
        .unwrap();
    let mut db = t.connect();
    let mut ms = files.load();
    let r = apply(&mut db, &mut ms, &opts(Command::Up)).unwrap();
    assert_eq!(r.adopted, ["1_a.sql"]);
    assert_eq!(r.steps.len(), 1);
    assert_eq!(t.journal("1_a.sql").unwrap().0, "adopted");
    // Adopted once: the next run finds nothing to adopt and verifies the checksum.
    let r = apply(&mut db, &mut ms, &opts(Command::Up)).unwrap();
    assert!(r.adopted.is_empty() && r.steps.is_empty());
}

#[test]
fn failing_dml_rolls_back_and_records_nothing() {
    let mut t = TestDb::new("dmlfail");
    t.admin
        .query_drop("CREATE TABLE t (id int primary key)")
        .unwrap();
    let files = Files::new(&[(
        "1_dml.sql",
        "-- +migrate Up\nINSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);\nINSERT INTO t VALUES (1);\n-- +migrate Down\nDELETE FROM t;\n",
    )]);
    let mut db = t.connect();
    let err = run(&mut db, &files, opts(Command::Up)).unwrap_err();
    let f = failure(&err);
    assert_eq!(
        (f.statement, f.total, f.line, f.code),
        (3, 3, Some(4), Some(1062))
    );
    assert_eq!(f.committed, Some(0));
    let text = err.to_string();
    assert!(
        text.contains("1_dml.sql (up) failed at statement 3 of 3 (line 4): MySQL error 1062"),
        "{text}"
    );
    assert!(text.contains("nothing of this migration"), "{text}");
    assert_eq!(t.count("SELECT COUNT(*) FROM t"), 0, "rolled back");
    assert!(t.history().is_empty());
    let j = t.journal("1_dml.sql").unwrap();
    assert_eq!((j.0.as_str(), j.2), ("failed", 0));
    assert!(j.3.unwrap().contains("1062"));
    // Nothing committed: the next run simply tries again (and fails the same way).
    assert!(matches!(
        run(&mut db, &files, opts(Command::Up)),
        Err(CommandError::Failed(_))
    ));
}

#[test]
fn an_error_in_a_later_statement_of_one_line_is_not_missed() {
    let mut t = TestDb::new("multi");
    t.admin
        .query_drop("CREATE TABLE t (id int primary key)")
        .unwrap();
    // sql-migrate's rules make this line one statement; the server sees two.
    let files = Files::new(&[(
        "1_two.sql",
        "-- +migrate Up\nINSERT INTO t VALUES (1); INSERT INTO nope VALUES (1);\n-- +migrate Down\n",
    )]);
    let mut db = t.connect();
    let err = run(&mut db, &files, opts(Command::Up)).unwrap_err();
    let f = failure(&err);
    assert_eq!((f.statement, f.code), (1, Some(1146)));
    assert_eq!(t.count("SELECT COUNT(*) FROM t"), 0, "rolled back");
    assert!(t.history().is_empty());
}

#[test]
fn ddl_failure_after_ddl_is_journaled_and_resumable() {
    let mut t = TestDb::new("ddlfail");
    let broken = "-- +migrate Up\nCREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\nCREATE TABLE b (id int,);\nCREATE TABLE c (id int);\n-- +migrate Down\nDROP TABLE c;\nDROP TABLE b;\nDROP TABLE a;\n";
    let mut files = Files::new(&[("1_x.sql", broken), ("2_y.sql", &table("y"))]);
    let mut db = t.connect();
    let err = run(&mut db, &files, opts(Command::Up)).unwrap_err();
    let f = failure(&err);
    assert_eq!((f.statement, f.line, f.code), (3, Some(4), Some(1064)));
    // CREATE a committed itself; the INSERT after it was in a transaction that the
    // failing CREATE's parse error did not commit, so it was rolled back.
    assert_eq!(f.committed, Some(1), "{err}");
    assert!(
        err.to_string()
            .contains("statements 1..1 of this migration"),
        "{err}"
    );
    assert!(t.table_exists("a"));
    assert_eq!(t.count("SELECT COUNT(*) FROM a"), 0);
    assert!(t.history().is_empty());
    let j = t.journal("1_x.sql").unwrap();
    assert_eq!((j.0.as_str(), j.2), ("failed", 1));
    // An unfinished row's progress, checksums and error come from the second read.
    let journal = db.read_state(Read::Status).unwrap().journal;
    let row = journal.iter().find(|r| r.id == "1_x.sql").unwrap();
    assert_eq!(
        (row.state, row.statements_applied),
        (JournalState::Failed, 1)
    );
    assert!(
        row.applied_sha256.is_some() && row.statement_hashes.is_some() && row.error.is_some(),
        "{row:?}"
    );

    // The next run refuses to guess.
    let err = run(&mut db, &files, opts(Command::Up)).unwrap_err();
    assert!(
        matches!(
            err,
            CommandError::Plan(PlanError::Partial { applied: 1, .. })
        ),
        "{err}"
    );
    let remedy = err.message(&engine::command::Frontend::Cli);
    assert!(remedy.contains("`up --resume`"), "{remedy}");
    assert!(!t.table_exists("y"));

    // Fix the broken statement; resume continues from statement 2.
    files.set("1_x.sql", &broken.replace("(id int,)", "(id int)"));
    let mut o = opts(Command::Up);
    o.resume = true;
    let mut ms = files.load();
    let r = apply(&mut db, &mut ms, &o).unwrap();
    assert_eq!(r.steps[0].resumed_from, 1);
    assert_eq!(r.steps[0].statements, 3);
    assert_eq!(r.steps.len(), 2);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM a"),
        1,
        "the INSERT ran exactly once"
    );
    assert!(t.table_exists("b") && t.table_exists("c") && t.table_exists("y"));
    assert_eq!(t.history(), ["1_x.sql", "2_y.sql"]);
    assert_eq!(t.journal("1_x.sql").unwrap().0, "applied");
}

#[test]
fn data_committed_by_a_failing_ddls_implicit_commit_is_journaled() {
    let mut t = TestDb::new("implicit");
    t.admin
        .query_drop("CREATE TABLE t (id int primary key)")
        .unwrap();
    t.admin.query_drop("CREATE TABLE taken (id int)").unwrap();
    // MySQL commits the INSERT before it runs the CREATE, which then fails: the journal
    // row written inside that transaction commits with the INSERT and says so.
    let files = Files::new(&[(
        "1_imp.sql",
        "-- +migrate Up\nINSERT INTO t VALUES (1);\nCREATE TABLE taken (id int);\nINSERT INTO t VALUES (2);\n-- +migrate Down\n",
    )]);
    let mut db = t.connect();
    let err = run(&mut db, &files, opts(Command::Up)).unwrap_err();
    let f = failure(&err);
    assert_eq!(
        (f.statement, f.code, f.committed),
        (2, Some(1050), Some(1)),
        "{err}"
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM t"), 1);
    let j = t.journal("1_imp.sql").unwrap();
    assert_eq!((j.0.as_str(), j.2), ("failed", 1));
}

#[test]
fn resume_refused_when_a_committed_statement_changed() {
    let mut t = TestDb::new("resumechg");
    let broken = "-- +migrate Up\nCREATE TABLE a (id int);\nCREATE TABLE b (id int,);\n-- +migrate Down\nDROP TABLE b;\nDROP TABLE a;\n";
    let mut files = Files::new(&[("1_x.sql", broken)]);
    let mut db = t.connect();
    run(&mut db, &files, opts(Command::Up)).unwrap_err();
    files.set("1_x.sql", "-- +migrate Up\nCREATE TABLE a (id bigint);\nCREATE TABLE b (id int);\n-- +migrate Down\nDROP TABLE b;\nDROP TABLE a;\n");
    let mut o = opts(Command::Up);
    o.resume = true;
    let err = run(&mut db, &files, o).unwrap_err();
    assert!(
        matches!(
            err,
            CommandError::Plan(PlanError::ResumeChanged {
                statement: Some(1),
                line: Some(2),
                ..
            })
        ),
        "{err}"
    );
    // resolve records the manual fix, journaled; then up carries on.
    let mut ms = files.load();
    ms.iter_mut().for_each(|m| m.parse().unwrap());
    engine::command::run::resolve(
        &mut db,
        &source(),
        &mut ms,
        "1_x.sql",
        true,
        Duration::from_secs(5),
        |_| {},
    )
    .unwrap();
    assert_eq!(t.history(), ["1_x.sql"]);
    let note: String = t
        .admin
        .query_first("SELECT note FROM gorp_migrations_journal WHERE id = '1_x.sql'")
        .unwrap()
        .unwrap();
    assert!(note.contains("resolved by hand as applied"), "{note}");
    assert!(run(&mut db, &files, opts(Command::Up)).unwrap().is_empty());
}

#[test]
fn notransaction_runs_each_statement_on_its_own() {
    let mut t = TestDb::new("notx");
    let files = Files::new(&[(
        "1_n.sql",
        "-- +migrate Up notransaction\nCREATE TABLE n (id int primary key);\nINSERT INTO n VALUES (1);\nINSERT INTO n VALUES (1);\n-- +migrate Down\nDROP TABLE n;\n",
    )]);
    let mut db = t.connect();
    let err = run(&mut db, &files, opts(Command::Up)).unwrap_err();
    let f = failure(&err);
    // Without a transaction the first INSERT stays, and the journal says so.
    assert_eq!((f.statement, f.committed), (3, Some(2)));
    assert_eq!(t.count("SELECT COUNT(*) FROM n"), 1);
    assert_eq!(t.journal("1_n.sql").unwrap().2, 2);
}

#[test]
fn delimiter_bodies_are_sent_whole() {
    let mut t = TestDb::new("delim");
    let files = Files::new(&[(
        "1_proc.sql",
        "-- +migrate Up\nCREATE TABLE log (v int);\nDELIMITER $$\nCREATE PROCEDURE add_two()\nBEGIN\n  INSERT INTO log VALUES (1);\n  INSERT INTO log VALUES (2);\nEND$$\nCREATE TRIGGER log_bi BEFORE INSERT ON log FOR EACH ROW\nBEGIN\n  SET NEW.v = NEW.v * 10;\nEND$$\nDELIMITER ;\nCALL add_two();\n-- +migrate Down\nDROP PROCEDURE add_two;\nDROP TABLE log;\n",
    )]);
    let mut db = t.connect();
    let done = run(&mut db, &files, opts(Command::Up)).unwrap();
    assert_eq!(done, ["applied 1_proc.sql"]);
    assert_eq!(t.count("SELECT SUM(v) FROM log"), 30);
    assert_eq!(t.journal("1_proc.sql").unwrap().2, 4);
}

#[test]
fn lock_not_obtained_while_held() {
    let mut t = TestDb::new("lock");
    let files = Files::new(&[("1_a.sql", &table("a"))]);
    let mut db = t.connect();
    let name = db.lock_name().to_string();
    let got: Option<i64> = t
        .admin
        .exec_first("SELECT GET_LOCK(?, 0)", (&name,))
        .unwrap()
        .unwrap();
    assert_eq!(got, Some(1));
    let mut ms = files.load();
    let err = engine::command::run::run(
        &mut db,
        &source(),
        &mut ms,
        &opts(Command::Up),
        Duration::from_millis(300),
        |_| {},
    )
    .unwrap_err();
    assert!(
        matches!(err, CommandError::Store(StoreError::LockTimeout { .. })),
        "{err}"
    );
    assert!(!t.table_exists("a"));
    t.admin.exec_drop("DO RELEASE_LOCK(?)", (&name,)).unwrap();
    run(&mut db, &files, opts(Command::Up)).unwrap();
    // Released after the run: another session can take it at once.
    let got: Option<i64> = t
        .admin
        .exec_first("SELECT GET_LOCK(?, 0)", (&name,))
        .unwrap()
        .unwrap();
    assert_eq!(got, Some(1));
}

#[test]
fn custom_table_name() {
    let mut t = TestDb::new("table");
    let files = Files::new(&[("1_a.sql", &table("a"))]);
    let settings = Settings {
        table: "schema_history".into(),
        ..Settings::default()
    };
    let mut db = Database::connect(&t.cfg, &settings).unwrap();
    let mut ms = files.load();
    apply(&mut db, &mut ms, &opts(Command::Up)).unwrap();
    assert_eq!(t.count("SELECT COUNT(*) FROM schema_history"), 1);
    assert_eq!(t.count("SELECT COUNT(*) FROM schema_history_journal"), 1);
    assert!(!t.table_exists("gorp_migrations"));
}

#[test]
fn connect_error_names_target_without_password() {
    let s = testkit::server();
    let at = format!("{}:{}/lm_test", s.host, s.port);
    let cfg = ConnConfig::parse(&format!("mysql://{}:wrong-secret@{at}", s.user)).unwrap();
    let err = Database::connect(&cfg, &Settings::default())
        .err()
        .expect("bad password refused");
    let text = err.to_string();
    assert!(
        text.contains(&format!("mysql://{}:***@{at}", s.user)),
        "{text}"
    );
    assert!(!text.contains("wrong-secret"), "{text}");
}

#[test]
fn several_statements_on_one_line_with_ddl_are_refused_before_anything_runs() {
    let mut t = TestDb::new("multiddl");
    t.admin.query_drop("CREATE TABLE t2 (id int)").unwrap();
    // One statement to sql-migrate, two to the server: the CREATE would commit the INSERT,
    // and a failure after it would leave the journal unable to say so.
    let files = Files::new(&[(
        "1_mixed.sql",
        "-- +migrate Up\nINSERT INTO t2 VALUES (1);\nINSERT INTO t2 VALUES (2); CREATE TABLE t3 (id int);\nINSERT INTO nope VALUES (1);\n-- +migrate Down\n",
    )]);
    let mut db = t.connect();
    let err = run(&mut db, &files, opts(Command::Up)).unwrap_err();
    assert!(
        matches!(
            err,
            CommandError::Plan(PlanError::HiddenCommit {
                statement: 2,
                line: 3,
                ..
            })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("1_mixed.sql"), "{err}");
    assert!(!t.table_exists("t3"));
    assert_eq!(t.count("SELECT COUNT(*) FROM t2"), 0);
}

/// The journal read leaves out what a finished row never needs (its progress, the usual
/// direction), yet a row it cannot take is still refused, never a panic: a direction or
/// state that differs from ours only in case or a trailing space, or a NULL.
#[test]
fn journal_read_is_narrow_and_refuses_bad_values() {
    let mut t = TestDb::new("journal_read");
    let files = Files::new(&[("1_a.sql", &table("a")), ("2_b.sql", &table("b"))]);
    let mut db = t.connect();
    run(&mut db, &files, opts(Command::Up)).unwrap();
    let Recorded { history, journal } = db.read_state(Read::Status).unwrap();
    assert_eq!(history.len(), 2);
    for j in &journal {
        assert_eq!(
            (j.direction, j.state),
            (Direction::Up, JournalState::Applied)
        );
        assert_eq!(
            j.statements_applied, 0,
            "a finished row's progress is not read"
        );
        assert!(j.sha256.is_some());
    }
    assert!(run(&mut db, &files, opts(Command::Up)).unwrap().is_empty());
    t.admin
        .query_drop(
            "ALTER TABLE gorp_migrations_journal MODIFY direction varchar(4) NULL, \
             MODIFY state varchar(24) NULL",
        )
        .unwrap();
    for (column, value) in [
        ("direction", "'UP'"),
        ("direction", "'up '"),
        ("direction", "NULL"),
        ("state", "'Applied'"),
        ("state", "'applied '"),
        ("state", "NULL"),
    ] {
        t.admin
            .query_drop(format!(
                "UPDATE gorp_migrations_journal SET {column} = {value} WHERE id = '2_b.sql'"
            ))
            .unwrap();
        let err = run(&mut db, &files, opts(Command::Up)).unwrap_err();
        match &err {
            CommandError::Store(StoreError::BadJournal { id, .. }) => assert_eq!(id, "2_b.sql"),
            other => assert!(
                value == "NULL" && other.to_string().contains("gorp_migrations_journal"),
                "{column} = {value}: {other}"
            ),
        }
        t.admin
            .query_drop(
                "UPDATE gorp_migrations_journal SET direction = 'up', state = 'applied' \
                 WHERE id = '2_b.sql'",
            )
            .unwrap();
    }
    assert!(run(&mut db, &files, opts(Command::Up)).unwrap().is_empty());
}
