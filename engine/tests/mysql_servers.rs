//! Where MariaDB and MySQL differ, on the test server (`LM_TEST_DATABASE_URL`;
//! `scripts/test` runs this on MariaDB 10.11 and on MySQL 9.7): each test reads which
//! server it is on and asserts that server's behaviour, so both branches are exercised
//! in CI. Authentication plugins, DDL atomicity over a list of objects, and the binary
//! log's rule for triggers created without SUPER.
#![cfg(feature = "mysql")]

use std::time::Duration;

use engine::command::CommandError;
use engine::db::{ConnConfig, Database, Settings};
use engine::migration;
use engine::plan::{Command, Options};
use engine::store::StoreError;
use mysql::prelude::Queryable;
use testkit::{TestDb, TestUser, is_mariadb, sql};

/// Runs `up` over one migration file `1_m.sql` as `url`'s user.
fn up(url: &str, text: &str) -> Result<(), CommandError> {
    let cfg = ConnConfig::parse(url).expect("the URL parses");
    let mut db = Database::connect(&cfg, &Settings::default()).unwrap_or_else(|e| {
        panic!(
            "the test server is not reachable at {cfg}: {e}. {}",
            testkit::START_HINT
        )
    });
    let mut ms = migration::scan([("1_m.sql", "1_m.sql", text.as_bytes())]).unwrap();
    let source = engine::source::Source::Dir {
        path: "files".into(),
        files: Vec::new(),
    };
    engine::command::run::run(
        &mut db,
        &source,
        &mut ms,
        &Options::new(Command::Up),
        Duration::from_secs(30),
        |_| {},
    )
    .map(|_| ())
}

/// The journal row of `1_m.sql`: state and statements applied.
fn journal(db: &TestDb) -> String {
    db.q("SELECT CONCAT(state, ' ', statements_applied) FROM gorp_migrations_journal")
}

#[test]
fn a_new_user_logs_in_first_time_with_the_servers_default_plugin() {
    let db = TestDb::tagged("auth");
    let user = TestUser::create(
        "first-login-9",
        &[&format!("GRANT ALL ON `{}`.* TO {{user}}", db.name)],
    );
    let plugin = sql(
        None,
        &format!(
            "SELECT plugin FROM mysql.user WHERE user = '{}' AND host = '127.0.0.1'",
            user.name
        ),
    );
    // MySQL 8.0+ defaults to caching_sha2_password (9.x has no mysql_native_password):
    // a first login over plain TCP is its full exchange (the server's RSA key), later
    // ones its cached fast path. MariaDB 10.11 keeps mysql_native_password.
    let want = if is_mariadb() {
        "mysql_native_password"
    } else {
        "caching_sha2_password"
    };
    assert_eq!(plugin, want);
    // The server forgets what it cached, so the first login below is a full one.
    sql(None, "FLUSH PRIVILEGES");
    let url = user.url(&db.name);
    up(
        &url,
        "-- +migrate Up\nCREATE TABLE t (id int);\n-- +migrate Down\nDROP TABLE t;\n",
    )
    .expect("the first login and the run succeed");
    // The second login takes the cached path.
    let cfg = ConnConfig::parse(&url).unwrap();
    let mut conn = mysql::Conn::new(cfg.opts()).expect("a cached login succeeds");
    let n: Option<u64> = conn
        .query_first("SELECT COUNT(*) FROM gorp_migrations")
        .unwrap();
    assert_eq!(n, Some(1));
    // A changed password is refused as access denied, the kind a cached secret re-reads on.
    user.set_password("second-9");
    let e = Database::connect(&cfg, &Settings::default())
        .err()
        .expect("the old password is refused");
    assert!(matches!(e, StoreError::AccessDenied { .. }), "{e:?}");
}

#[test]
fn a_drop_of_several_tables_that_fails_is_in_doubt_only_where_ddl_is_not_atomic() {
    let db = TestDb::tagged("atomic");
    db.q("CREATE TABLE a (id int)");
    let err = up(
        &db.url(),
        "-- +migrate Up\nCREATE TABLE x (id int);\nDROP TABLE a, missing;\n-- +migrate Down\n",
    )
    .expect_err("`missing` does not exist");
    let CommandError::Failed(fail) = &err else {
        panic!("expected a migration failure: {err}");
    };
    assert_eq!((fail.statement, fail.code), (2, Some(1051)), "{err}");
    let a_left = db.tables().contains(&"a".to_string());
    if is_mariadb() {
        // MariaDB drops `a`, then fails on `missing`: statement 2 took effect in part, so
        // the journal must not say "1 statement committed" and leave it at that.
        assert!(!a_left, "MariaDB drops the tables before the missing one");
        assert!(fail.in_doubt, "{err}");
        assert_eq!(journal(&db), "in-doubt 1");
        assert!(
            err.to_string()
                .contains("whether statement 2 took effect is unknown")
        );
    } else {
        // MySQL 8.0+ has atomic DDL: nothing of the statement happened.
        assert!(a_left, "MySQL's atomic DROP TABLE leaves every table");
        assert!(!fail.in_doubt, "{err}");
        assert_eq!(journal(&db), "failed 1");
    }
}

#[test]
fn a_trigger_created_without_super_under_binary_logging_names_the_fix() {
    let db = TestDb::tagged("binlog");
    // Everything on its own database, nothing server-wide: what an RDS or Aurora master
    // user has in effect (no SUPER there).
    let user = TestUser::create(
        "no-super-9",
        &[&format!("GRANT ALL ON `{}`.* TO {{user}}", db.name)],
    );
    let binlog = sql(
        None,
        "SELECT CONCAT(@@log_bin, ' ', @@log_bin_trust_function_creators)",
    );
    if !is_mariadb() {
        // MySQL logs binary by default since 8.0; CI's server keeps the default, so the
        // refusal below is what this test sees there.
        assert_eq!(binlog, "1 0");
    }
    let r = up(
        &user.url(&db.name),
        "-- +migrate Up\nCREATE TABLE t (id int, n int);\n\
         CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW SET NEW.n = NEW.id * 2;\n\
         -- +migrate Down\nDROP TABLE t;\n",
    );
    if binlog == "1 0" {
        let err = r.expect_err("error 1419: no SUPER under binary logging");
        let CommandError::Failed(fail) = &err else {
            panic!("expected a migration failure: {err}");
        };
        assert_eq!((fail.statement, fail.code), (2, Some(1419)), "{err}");
        let text = err.to_string();
        for part in [
            "log_bin_trust_function_creators = 1",
            "DB parameter group",
            "lacks SUPER",
        ] {
            assert!(text.contains(part), "{part:?} missing from: {text}");
        }
        assert_eq!(journal(&db), "failed 1");
    } else {
        // MariaDB's default writes no binary log: the trigger is created.
        r.expect("without a binary log a trigger needs no SUPER");
        db.q("INSERT INTO t (id) VALUES (21)");
        assert_eq!(db.q("SELECT n FROM t"), "42");
    }
}
