//! A refused login against the test server (MariaDB or MySQL, as `LM_TEST_DATABASE_URL`
//! says; `scripts/test` runs this on both) is its own error, so a caller holding a cached
//! secret knows to read it again; its message, kind and exit code are those of any other
//! failed connect.
#![cfg(feature = "mysql")]

use engine::command::{CommandError, ErrorKind};
use engine::db::{ConnConfig, Database, Settings};
use engine::store::StoreError;

#[test]
fn a_wrong_password_is_access_denied_and_an_unreachable_server_is_not() {
    let db = testkit::TestDb::new();
    let s = testkit::server();
    let dsn = |password: &str, port: u16| {
        format!("{}:{password}@tcp({}:{port})/{}", s.user, s.host, db.name)
    };
    let wrong = ConnConfig::parse(&dsn("not-the-password", s.port)).unwrap();
    let e = Database::connect(&wrong, &Settings::default())
        .err()
        .expect("a wrong password is refused");
    assert!(matches!(e, StoreError::AccessDenied { .. }), "{e:?}");
    let message = e.to_string();
    assert!(
        message.starts_with(&format!("cannot connect to {wrong}: ")) && message.contains("1045"),
        "{message}"
    );
    assert!(!message.contains("not-the-password"), "{message}");
    let kind = CommandError::Store(e).kind();
    assert_eq!((kind, kind.exit_code()), (ErrorKind::Connection, 7));

    let closed = ConnConfig::parse(&dsn(&s.password, 1)).unwrap();
    let e = Database::connect(&closed, &Settings::default())
        .err()
        .expect("nothing listens on port 1");
    assert!(matches!(e, StoreError::Connect { .. }), "{e:?}");
}
