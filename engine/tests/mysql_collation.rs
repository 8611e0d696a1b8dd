//! The id fold of `engine::migration::collation` against the test server (MariaDB or
//! MySQL, as `LM_TEST_DATABASE_URL` says; `scripts/test` runs this on both): the server's `utf8_general_ci` weight of every BMP
//! character, and a history table created as sql-migrate creates it.
#![cfg(feature = "mysql")]

use engine::db::ConnConfig;
use engine::migration::{self, collation};
use mysql::prelude::Queryable;

const DEFAULT_URL: &str = "mysql://lm:lm@127.0.0.1:3306/lm_test";

fn connect() -> mysql::Conn {
    let url = std::env::var("LM_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.into());
    let cfg = ConnConfig::parse(&url).expect("LM_TEST_DATABASE_URL parses");
    mysql::Conn::new(cfg.opts()).unwrap_or_else(|e| {
        panic!(
            "the test server is not reachable at {cfg}: {e}. {}",
            testkit::START_HINT
        )
    })
}

/// A database of its own, dropped at the end.
struct Scratch {
    conn: mysql::Conn,
    name: String,
}

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let mut conn = connect();
        let name = format!("lmt_{tag}_{}", std::process::id());
        conn.query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
            .unwrap();
        conn.query_drop(format!("CREATE DATABASE `{name}`"))
            .unwrap();
        conn.query_drop(format!("USE `{name}`")).unwrap();
        Scratch { conn, name }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = self
            .conn
            .query_drop(format!("DROP DATABASE IF EXISTS `{}`", self.name));
    }
}

#[test]
fn the_fold_is_the_servers_weight_for_every_bmp_character() {
    let mut conn = connect();
    let all: Vec<char> = (0..=0xFFFF_u32).filter_map(char::from_u32).collect();
    let mut differ = Vec::new();
    for chunk in all.chunks(4096) {
        // A final 'x': the collation drops trailing spaces from the weight string.
        let text: String = chunk.iter().chain(['x'].iter()).collect();
        let weights: Vec<u8> = conn
            .exec_first(
                "SELECT WEIGHT_STRING(CONVERT(? USING utf8mb3) COLLATE utf8mb3_general_ci)",
                (text,),
            )
            .unwrap()
            .unwrap();
        assert_eq!(
            weights.len(),
            2 * (chunk.len() + 1),
            "one 2-byte weight per character"
        );
        for (&c, w) in chunk.iter().zip(weights.chunks(2)) {
            let server = u16::from_be_bytes([w[0], w[1]]);
            if collation::weight(c) != server {
                differ.push(format!(
                    "U+{:04X}: ours {:04X}, server {server:04X}",
                    u32::from(c),
                    collation::weight(c)
                ));
            }
        }
    }
    assert!(
        differ.is_empty(),
        "{} differ: {:?}",
        differ.len(),
        &differ[..differ.len().min(20)]
    );
}

/// Pairs our fold calls one key, and pairs it tells apart.
const SAME: &[(&str, &str)] = &[
    ("1_A.sql", "1_a.sql"),
    ("2_café.sql", "2_CAFE.sql"),
    ("3_straße.sql", "3_STRASE.sql"),
    ("4_ÅNGSTRÖM.sql", "4_angstrom.sql"),
    ("5_ёлка.sql", "5_ЕЛКА.sql"),
    ("6_ǅ.sql", "6_ǆ.sql"),
    ("7_ｆｕｌｌ.sql", "7_ＦＵＬＬ.sql"),
    ("8_ⅻ.sql", "8_Ⅻ.sql"),
    ("9_ı.sql", "9_I.sql"),
    ("10_x", "10_x  "),
];
const DIFFERENT: &[(&str, &str)] = &[
    ("1_ß.sql", "1_ss.sql"),
    ("2_ø.sql", "2_o.sql"),
    ("3_æ.sql", "3_ae.sql"),
    ("4_Ω.sql", "4_\u{2126}.sql"),
    ("5_a.sql", "5_b.sql"),
    ("6_x", " 6_x"),
];

#[test]
fn ids_the_fold_calls_one_key_collide_in_a_sql_migrate_history_table() {
    let mut db = Scratch::new("collation");
    // sql-migrate's table, as gorp creates it for MySQL.
    db.conn
        .query_drop(
            "CREATE TABLE gorp_migrations (id varchar(255) not null primary key, applied_at datetime) ENGINE=InnoDB DEFAULT CHARSET=UTF8",
        )
        .unwrap();
    let up = b"-- +migrate Up\n".as_slice();
    for &(a, b) in SAME.iter().chain(DIFFERENT) {
        let ours = collation::key(a) == collation::key(b);
        let server: bool = db
            .conn
            .exec_first("SELECT CONVERT(? USING utf8mb3) = CONVERT(? USING utf8mb3) COLLATE utf8mb3_general_ci", (a, b))
            .unwrap()
            .unwrap();
        assert_eq!(ours, server, "{a:?} vs {b:?}");
        assert_eq!(ours, SAME.contains(&(a, b)), "{a:?} vs {b:?}");

        db.conn.query_drop("DELETE FROM gorp_migrations").unwrap();
        let insert = "INSERT INTO gorp_migrations VALUES (?, NOW())";
        db.conn.exec_drop(insert, (a,)).unwrap();
        match db.conn.exec_drop(insert, (b,)) {
            Err(mysql::Error::MySqlError(e)) if ours => assert_eq!(e.code, 1062, "{e}"),
            Ok(()) if !ours => {}
            other => panic!("{a:?} then {b:?}: {other:?}"),
        }
        // And `scan` refuses exactly the pairs the table cannot hold.
        let scanned = migration::scan([(a, a, up), (b, b, up)]);
        assert_eq!(scanned.is_err(), ours, "{a:?} vs {b:?}: {scanned:?}");
    }
}
