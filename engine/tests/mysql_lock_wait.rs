//! Metadata-lock waits against the test server (MariaDB or MySQL, as
//! `LM_TEST_DATABASE_URL` says; `scripts/test` runs this on both): a
//! DDL statement stuck behind a long transaction gives up within its lock_wait_timeout,
//! is retried, lets other sessions through meanwhile, and names who blocks it.
#![cfg(feature = "mysql")]

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use engine::command::CommandError;
use engine::db::{ConnConfig, Database, Settings};
use engine::migration;
use engine::plan::{Command, Options, PlanError};
use mysql::Conn;
use mysql::prelude::Queryable;

/// A fresh database with tables `t` (one row) and `u` (empty).
struct Fixture {
    cfg: ConnConfig,
    db: testkit::TestDb,
}

impl Fixture {
    fn new(tag: &str) -> Fixture {
        let db = testkit::TestDb::tagged(tag);
        let cfg = ConnConfig::parse(&db.url()).expect("LM_TEST_DATABASE_URL parses");
        let mut c = Conn::new(cfg.opts()).unwrap_or_else(|e| {
            panic!(
                "the test server is not reachable at {cfg}: {e}. {}",
                testkit::START_HINT
            )
        });
        c.query_drop(
            "CREATE TABLE t (id int PRIMARY KEY) ENGINE=InnoDB; INSERT INTO t VALUES (1); \
             CREATE TABLE u (id int PRIMARY KEY) ENGINE=InnoDB",
        )
        .unwrap();
        Fixture { cfg, db }
    }

    fn conn(&self) -> Conn {
        Conn::new(self.cfg.opts()).unwrap()
    }

    /// A session that reads `t` in a transaction and holds it until told (or `hold`).
    fn blocker(&self, hold: Duration) -> (u32, mpsc::Sender<()>, thread::JoinHandle<()>) {
        let mut c = self.conn();
        let id = c.connection_id();
        c.query_drop("START TRANSACTION").unwrap();
        let _: Vec<u32> = c.query("SELECT id FROM t").unwrap();
        let (tx, rx) = mpsc::channel::<()>();
        let h = thread::spawn(move || {
            let _ = rx.recv_timeout(hold);
            c.query_drop("COMMIT").unwrap();
        });
        (id, tx, h)
    }

    /// Runs `up` over one migration file with a 1 s lock_wait_timeout and `retries`.
    fn up(&self, text: &str, retries: u32) -> (Database, Result<(), CommandError>) {
        self.up_as(&self.cfg, text, retries)
    }

    /// [`Fixture::up`] as the user of `cfg`.
    fn up_as(
        &self,
        cfg: &ConnConfig,
        text: &str,
        retries: u32,
    ) -> (Database, Result<(), CommandError>) {
        let settings = Settings {
            lock_wait_timeout: Duration::from_secs(1),
            lock_wait_retries: retries,
            ..Settings::default()
        };
        let mut db = Database::connect(cfg, &settings).unwrap();
        let mut ms = migration::scan([("1_alter.sql", "1_alter.sql", text.as_bytes())]).unwrap();
        let r = engine::command::run::run(
            &mut db,
            &source(),
            &mut ms,
            &Options::new(Command::Up),
            Duration::from_secs(5),
            |_| {},
        )
        .map(|_| ());
        (db, r)
    }

    fn journal(&self) -> (String, u64) {
        self.conn()
            .query_first("SELECT state, statements_applied FROM gorp_migrations_journal")
            .unwrap()
            .unwrap()
    }

    fn count(&self, sql: &str) -> u64 {
        self.conn().query_first(sql).unwrap().unwrap()
    }
}

/// Where the in-memory migrations come from, for naming a file that does not parse.
fn source() -> engine::source::Source {
    engine::source::Source::Dir {
        path: "files".into(),
        files: Vec::new(),
    }
}

const MIGRATION: &str = "-- +migrate Up\nINSERT INTO u VALUES (1);\nALTER TABLE t ADD COLUMN c int;\nINSERT INTO t (id, c) VALUES (2, 5);\n\n-- +migrate Down\n";

#[test]
fn a_blocked_alter_gives_up_names_its_blocker_and_never_queues_others_long() {
    let f = Fixture::new("lockwait");
    let (blocker, release, held) = f.blocker(Duration::from_secs(15));
    // A third session reads t while the ALTER waits: it may queue behind the ALTER's
    // wait, but not for the blocker's whole life.
    let cfg = f.cfg.clone();
    let reader = thread::spawn(move || {
        thread::sleep(Duration::from_millis(1500));
        let mut c = Conn::new(cfg.opts()).unwrap();
        let started = Instant::now();
        let n: Option<u64> = c.query_first("SELECT COUNT(*) FROM t").unwrap();
        (n, started.elapsed())
    });
    let (db, r) = f.up(MIGRATION, 2);
    let err = r.expect_err("the ALTER cannot get its lock while the blocker holds t");
    let CommandError::Failed(fail) = &err else {
        panic!("expected a migration failure: {err}");
    };
    let text = err.to_string();
    assert_eq!(
        (fail.statement, fail.line, fail.code),
        (2, Some(3), Some(1205)),
        "{text}"
    );
    assert_eq!(fail.committed, Some(1), "{text}");
    let wait = fail.lock_wait.as_ref().expect("the lock wait is described");
    assert_eq!(wait.attempts, 3, "{text}");
    assert!(
        wait.blockers.iter().any(|b| b.id == u64::from(blocker)),
        "{text}"
    );
    for part in [
        "migration 1_alter.sql (up) failed at statement 2 of 3 (line 3)",
        &format!("`{}`.`t`", f.db.name),
        &format!("session {blocker}"),
        "after 3 attempt(s) of 1s each",
        "statements 1..1 of this migration",
    ] {
        assert!(text.contains(part), "{part:?} missing from: {text}");
    }
    assert!(!text.contains(":lm@"), "{text}");
    // Nothing of ours is left waiting on the server, while the blocker still holds t.
    let ours = f.count(&format!(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {} AND COMMAND <> 'Sleep'",
        db.connection_id()
    ));
    let waiting = f.count(&format!(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = '{}' AND STATE LIKE '%metadata lock%'",
        f.db.name
    ));
    assert_eq!((ours, waiting), (0, 0));
    assert!(!held.is_finished(), "the blocker outlived the run");
    let (n, waited) = reader.join().unwrap();
    assert_eq!(n, Some(1));
    assert!(
        waited < Duration::from_secs(8),
        "a plain SELECT queued {waited:?} behind the waiting ALTER"
    );
    // The journal says exactly what is committed: the INSERT before the ALTER.
    assert_eq!(f.journal(), ("failed".into(), 1));
    assert_eq!(f.count("SELECT COUNT(*) FROM u"), 1);
    assert_eq!(
        f.count("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 't'"),
        1
    );
    drop(release);
    held.join().unwrap();
}

#[test]
fn a_blocker_that_commits_during_the_retries_lets_the_migration_through() {
    let f = Fixture::new("lockwait_ok");
    let (_, release, held) = f.blocker(Duration::from_secs(60));
    let cfg = f.cfg.clone();
    // Mid-retries the journal already says exactly what is committed; then the blocker
    // commits.
    let watcher = thread::spawn(move || {
        thread::sleep(Duration::from_millis(2500));
        let mut c = Conn::new(cfg.opts()).unwrap();
        let row: Option<(String, u64)> = c
            .query_first("SELECT state, statements_applied FROM gorp_migrations_journal")
            .unwrap();
        release.send(()).unwrap();
        row
    });
    let (_db, r) = f.up(MIGRATION, 3);
    r.expect("the ALTER gets its lock once the blocker commits");
    held.join().unwrap();
    assert_eq!(watcher.join().unwrap(), Some(("running".into(), 1)));
    assert_eq!(f.journal(), ("applied".into(), 3));
    assert_eq!(f.count("SELECT COUNT(*) FROM gorp_migrations"), 1);
    assert_eq!(f.count("SELECT COUNT(*) FROM u"), 1);
    assert_eq!(f.count("SELECT COUNT(*) FROM t WHERE c = 5"), 1);
}

#[test]
fn a_text_of_several_statements_with_ddl_is_refused_before_it_waits() {
    let f = Fixture::new("lockwait_multi");
    f.conn().query_drop("CREATE TABLE log (n int)").unwrap();
    let (_blocker, release, held) = f.blocker(Duration::from_secs(30));
    // One migration statement, two server statements: the INSERT would commit on its own
    // before the ALTER waits, and neither a retry nor the journal could account for it.
    let (_db, r) = f.up(
        "-- +migrate Up\nINSERT INTO log VALUES (1); ALTER TABLE t ADD COLUMN c int;\n-- +migrate Down\n",
        3,
    );
    drop(release);
    held.join().unwrap();
    let err = r.expect_err("the text is refused");
    assert!(
        matches!(
            err,
            CommandError::Plan(PlanError::HiddenCommit { statement: 1, .. })
        ),
        "{err}"
    );
    assert_eq!(f.count("SELECT COUNT(*) FROM log"), 0);
}

#[test]
fn a_user_who_cannot_see_the_blockers_is_told_which_privileges_it_lacks() {
    let f = Fixture::new("lockwait_priv");
    let granted = Fixture::new("lockwait_priv2");
    // All on its own databases and nothing else: no SELECT on performance_schema, no
    // PROCESS (what a least-privilege migration user often has).
    let user = testkit::TestUser::create(
        "lockwait-9",
        &[
            &format!("GRANT ALL ON `{}`.* TO {{user}}", f.db.name),
            &format!("GRANT ALL ON `{}`.* TO {{user}}", granted.db.name),
        ],
    );
    let (_, release, held) = f.blocker(Duration::from_secs(30));
    let cfg = ConnConfig::parse(&user.url(&f.db.name)).unwrap();
    let (_db, r) = f.up_as(&cfg, MIGRATION, 0);
    drop(release);
    held.join().unwrap();
    let text = r.expect_err("the blocker holds t").to_string();
    for part in [
        "no blocking session found",
        "performance_schema.metadata_locks: needs SELECT on performance_schema.metadata_locks \
         and performance_schema.threads",
        "information_schema.INNODB_TRX, transactions older than the wait: needs the PROCESS \
         privilege",
    ] {
        assert!(text.contains(part), "{part:?} missing from: {text}");
    }
    // Granted both, the same user sees the blocker: from the lock table where the server
    // keeps one (MySQL; MariaDB with the metadata_lock_info plugin), else from the open
    // transactions, saying why (MariaDB's default has performance_schema off).
    granted
        .conn()
        .query_drop(format!(
            "GRANT SELECT ON performance_schema.* TO {a}; GRANT PROCESS ON *.* TO {a}",
            a = user.account()
        ))
        .unwrap();
    let (blocker, release, held) = granted.blocker(Duration::from_secs(30));
    let cfg = ConnConfig::parse(&user.url(&granted.db.name)).unwrap();
    let (_db, r) = granted.up_as(&cfg, MIGRATION, 0);
    drop(release);
    held.join().unwrap();
    let text = r.expect_err("the blocker holds t").to_string();
    assert!(text.contains(&format!("session {blocker}")), "{text}");
    let plugin = testkit::sql(
        None,
        "SELECT COUNT(*) FROM information_schema.PLUGINS \
         WHERE PLUGIN_NAME = 'METADATA_LOCK_INFO' AND PLUGIN_STATUS = 'ACTIVE'",
    ) == "1";
    let found_in = match (testkit::is_mariadb(), plugin) {
        (false, _) => "(from performance_schema.metadata_locks)",
        (true, true) => "(from information_schema.METADATA_LOCK_INFO)",
        (true, false) => "performance_schema.metadata_locks: performance_schema is OFF",
    };
    assert!(text.contains(found_in), "{found_in:?} missing from: {text}");
}
