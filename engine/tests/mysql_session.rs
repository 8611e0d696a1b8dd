//! A DSN's session options against the test server (MariaDB or MySQL, as
//! `LM_TEST_DATABASE_URL` says; `scripts/test` runs this on both):
//! `charset`, `collation` and system variables such as `time_zone` and `sql_mode` are in
//! force for the migrations `up` runs, beside our `lock_wait_timeout`; values that could
//! inject SQL never reach the server.
#![cfg(feature = "mysql")]

use std::time::Duration;

use engine::command::CommandError;
use engine::db::{ConfigError, ConnConfig, Database, Settings};
use engine::migration;
use engine::plan::{Command, Options};
use mysql::Conn;
use mysql::prelude::Queryable;

/// The session as a migration sees it.
const PROBE: &str = "-- +migrate Up\n\
CREATE TABLE seen AS SELECT @@session.time_zone AS tz, @@session.sql_mode AS mode, \
@@session.character_set_client AS cs, @@session.collation_connection AS coll, \
@@session.lock_wait_timeout AS lwt, @@session.foreign_key_checks AS fk, \
@@session.innodb_lock_wait_timeout AS ilwt;\n\n-- +migrate Down\nDROP TABLE seen;\n";

/// The test database as a go-sql-driver DSN with `params`.
fn dsn(db: &testkit::TestDb, params: &str) -> String {
    let s = testkit::server();
    format!(
        "{}:{}@tcp({}:{})/{}?{params}",
        s.user, s.password, s.host, s.port, db.name
    )
}

/// Where the in-memory migrations come from, for naming a file that does not parse.
fn source() -> engine::source::Source {
    engine::source::Source::Dir {
        path: "files".into(),
        files: Vec::new(),
    }
}

fn up(cfg: &ConnConfig) -> Result<(), CommandError> {
    let settings = Settings {
        lock_wait_timeout: Duration::from_secs(7),
        ..Settings::default()
    };
    let mut db = Database::connect(cfg, &settings).unwrap_or_else(|e| {
        panic!(
            "the test server is not reachable at {cfg}: {e}. {}",
            testkit::START_HINT
        )
    });
    let mut ms = migration::scan([("1_probe.sql", "1_probe.sql", PROBE.as_bytes())]).unwrap();
    engine::command::run::run(
        &mut db,
        &source(),
        &mut ms,
        &Options::new(Command::Up),
        Duration::from_secs(5),
        |_| {},
    )
    .map(|_| ())
}

type Seen = (String, String, String, String, u64, u64, u64);

fn seen(cfg: &ConnConfig) -> Seen {
    let mut c = Conn::new(cfg.opts()).unwrap();
    let row: mysql::Row = c
        .query_first("SELECT tz, mode, cs, coll, lwt, fk, ilwt FROM seen")
        .unwrap()
        .expect("the probe ran");
    mysql::from_row(row)
}

#[test]
fn dsn_charset_collation_and_system_variables_are_the_sessions() {
    let db = testkit::TestDb::tagged("session");
    let cfg = ConnConfig::parse(&dsn(
        &db,
        "parseTime=true&loc=Local&charset=utf8mb4&collation=utf8mb4_bin\
         &time_zone=%27%2B03:00%27&sql_mode=%27STRICT_ALL_TABLES,NO_ZERO_DATE%27\
         &foreign_key_checks=0&innodb_lock_wait_timeout=4",
    ))
    .unwrap();
    up(&cfg).unwrap();
    let (tz, mode, cs, coll, lwt, fk, ilwt) = seen(&cfg);
    assert_eq!(tz, "+03:00");
    assert_eq!(mode, "STRICT_ALL_TABLES,NO_ZERO_DATE");
    assert_eq!((cs.as_str(), coll.as_str()), ("utf8mb4", "utf8mb4_bin"));
    assert_eq!((lwt, fk, ilwt), (7, 0, 4), "ours and the DSN's, together");
}

#[test]
fn without_options_the_server_defaults_stay() {
    let db = testkit::TestDb::tagged("session_plain");
    let cfg = ConnConfig::parse(&dsn(&db, "parseTime=true")).unwrap();
    up(&cfg).unwrap();
    let mut c = Conn::new(cfg.opts()).unwrap();
    let (tz, fk): (String, u64) = c
        .query_first("SELECT @@global.time_zone, @@global.foreign_key_checks")
        .unwrap()
        .unwrap();
    let (seen_tz, _, _, _, lwt, seen_fk, _) = seen(&cfg);
    assert_eq!((seen_tz, seen_fk, lwt), (tz, fk, 7));
}

#[test]
fn injected_values_are_refused_before_anything_is_sent() {
    let db = testkit::TestDb::tagged("session_inject");
    let probe = ConnConfig::parse(&dsn(&db, "")).unwrap();
    Conn::new(probe.opts())
        .unwrap()
        .query_drop("CREATE TABLE victim (id int)")
        .unwrap();
    for params in [
        "time_zone=%27%2B00:00%27;DROP TABLE victim",
        "time_zone=%27%2B00:00%27%3BDROP%20TABLE%20victim",
        "sql_mode=%27%27,foreign_key_checks=(SELECT 1 FROM victim)",
        "sql_mode=x%27;DROP TABLE victim;--",
        "innodb_lock_wait_timeout=1;DROP TABLE victim",
        "charset=utf8mb4;DROP TABLE victim",
        "collation=utf8mb4_bin%27 COLLATE %27x",
        "autocommit=0",
        "DROP TABLE victim=1",
    ] {
        let e = ConnConfig::parse(&dsn(&db, params)).expect_err(params);
        assert!(
            matches!(e, ConfigError::Param { .. } | ConfigError::Unknown { .. }),
            "{params}: {e:?}"
        );
        assert!(!e.to_string().contains("DROP"), "{params}: {e}");
    }
    // A value of the right shape that the server refuses fails the run before any
    // migration: it rides on the session's first query.
    let cfg = ConnConfig::parse(&dsn(&db, "time_zone=%27No%2FSuch_Zone%27")).unwrap();
    let e = up(&cfg).unwrap_err();
    assert!(e.to_string().contains("time zone"), "{e}");
    let mut c = Conn::new(probe.opts()).unwrap();
    let tables: Vec<String> = c.query("SHOW TABLES").unwrap();
    assert!(tables.contains(&"victim".to_string()), "{tables:?}");
    assert!(!tables.contains(&"seen".to_string()), "{tables:?}");
}
