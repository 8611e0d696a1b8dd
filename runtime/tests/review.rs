//! `plan --review` on the real server (MariaDB, and MySQL with `LM_TEST_DATABASE_URL`):
//! on a table of 100,000 rows the server's own answers come back (ADD COLUMN at the end
//! INSTANT, ADD INDEX in place without a copy, a type change COPY), a session holding a
//! metadata lock on the table is named, no real table changes, and no probe table
//! outlives a review, even one killed mid-probe.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{json, migrations, run, spawn, text};
use testkit::TestDb;

/// A table `orders` of 100,000 rows in `db`.
fn orders(db: &TestDb) {
    db.q("CREATE TABLE d (n INT NOT NULL); \
         INSERT INTO d VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9); \
         CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, customer INT NOT NULL, \
           note VARCHAR(100), amount INT) ENGINE=InnoDB; \
         INSERT INTO orders (customer, note, amount) \
           SELECT a.n * 100 + b.n * 10 + c.n, CONCAT('note ', e.n), d.n \
           FROM d a, d b, d c, d d, d e; \
         ANALYZE TABLE orders");
}

fn probes(db: &TestDb) -> Vec<String> {
    db.q(&format!(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{}' \
         AND TABLE_NAME LIKE '\\_lm\\_probe\\_%'",
        db.name
    ))
    .lines()
    .map(str::to_owned)
    .collect()
}

const CHANGES: &str = "-- +migrate Up\n\
ALTER TABLE orders ADD COLUMN shipped_at DATETIME NULL;\n\
ALTER TABLE orders ADD INDEX orders_customer (customer);\n\
ALTER TABLE orders MODIFY amount BIGINT;\n\
ALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (customer) REFERENCES d (n);\n\
CREATE TABLE fresh (a INT);\n\
ALTER TABLE fresh ADD COLUMN b INT;\n\
-- +migrate Down\n\
DROP TABLE fresh;\n";

#[test]
fn the_server_says_what_each_alter_gets_and_who_is_in_the_way() {
    let db = TestDb::tagged("review");
    orders(&db);
    let before = db.q("SHOW CREATE TABLE orders");
    let dir = migrations(&[("1_orders.sql", CHANGES)]);

    // A session that read the table in an open transaction holds its metadata lock.
    let mut blocker = testkit::server()
        .client(Some(&db.name))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let stdin = blocker.stdin.as_mut().unwrap();
        stdin
            .write_all(b"BEGIN; SELECT COUNT(*) FROM orders;\n")
            .unwrap();
        stdin.flush().unwrap();
    }
    let started = Instant::now();
    let blocker_id = loop {
        let id = db.q(&format!(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = '{}' AND ID <> CONNECTION_ID()",
            db.name
        ));
        if !id.is_empty() {
            break id;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the blocker never connected"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // Its transaction has read the table once the session is idle again.
    std::thread::sleep(Duration::from_millis(500));

    let page = dir.path().join("review.html");
    let out = run(
        &db,
        dir.path(),
        &[
            "plan",
            "--review",
            "--json",
            "--html",
            page.to_str().unwrap(),
        ],
    );
    let _ = blocker.kill();
    let _ = blocker.wait();
    assert!(out.status.success(), "{}", text(&out));
    let v = json(&out);
    let review = v["review"].as_array().unwrap_or_else(|| panic!("{v}"));
    let entry = |k: u64| {
        review
            .iter()
            .find(|e| e["statement"] == k)
            .unwrap_or_else(|| panic!("no entry for statement {k}: {v}"))
    };
    let table = format!("{}.orders", db.name);
    for k in 1..=4 {
        let e = entry(k);
        assert_eq!(e["table"], table.as_str());
        assert_eq!(e["section"], "up");
        assert!(
            e["rows"].as_u64().unwrap() > 50_000,
            "rows is an integer estimate: {e}"
        );
        assert!(e["data_bytes"].as_u64().unwrap() > 1_000_000, "{e}");
        let blockers = e["blockers"].as_array().unwrap();
        assert!(
            blockers.iter().any(
                |b| b["connection"].as_u64().map(|c| c.to_string()).as_deref()
                    == Some(blocker_id.as_str())
            ),
            "statement {k} names the blocker {blocker_id}: {e}"
        );
    }
    assert_eq!(entry(1)["algorithm"], "INSTANT", "{}", entry(1));
    assert_eq!(entry(2)["algorithm"], "INPLACE", "{}", entry(2));
    assert_eq!(entry(2)["lock"], "NONE");
    assert_eq!(
        entry(2)["rebuilds"],
        false,
        "an index build copies nothing: {}",
        entry(2)
    );
    assert_eq!(entry(3)["algorithm"], "COPY", "{}", entry(3));
    assert!(entry(3)["estimate_secs"].as_f64().unwrap() > 0.0);
    assert_eq!(entry(4)["algorithm"], "not-probed");
    assert!(
        entry(4)["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("not probed: "),
        "{}",
        entry(4)
    );
    // Statement 5 creates a table: not an ALTER, no entry. Statement 6 alters the table
    // statement 5 creates: it is empty when altered.
    assert!(review.iter().all(|e| e["statement"] != 5));
    assert_eq!(entry(6)["algorithm"], "not-probed");
    assert_eq!(entry(6)["verdict"], "safe", "{}", entry(6));
    for k in [1, 2, 3] {
        assert_eq!(entry(k)["verdict"], "review", "the blocker: {}", entry(k));
    }
    let summary = &v["review_summary"];
    assert_eq!(summary["migrations"][0]["verdict"], "review", "{summary}");
    assert!(
        summary["long_transactions"].as_array().is_some(),
        "{summary}"
    );

    // Nothing real changed, no probe is left, and the page names what a person must see.
    assert_eq!(db.q("SHOW CREATE TABLE orders"), before);
    assert!(probes(&db).is_empty(), "{:?}", probes(&db));
    assert!(!db.tables().iter().any(|t| t == "fresh"));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains(&format!("{}.orders", db.name))
            && html.contains("COPY")
            && html.contains(">review<")
    );

    // The text form says the same for people.
    let out = run(&db, dir.path(), &["plan", "--review"]);
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("statement 3 on") && said.contains("COPY"),
        "{said}"
    );
}

#[test]
fn a_review_killed_mid_probe_leaves_a_probe_the_next_one_drops() {
    let db = TestDb::tagged("review_kill");
    orders(&db);
    // Enough statements that the probe lives long enough to be seen.
    let mut up = String::from("-- +migrate Up\n");
    for i in 0..400 {
        up.push_str(&format!("ALTER TABLE orders ADD COLUMN c{i} INT NULL;\n"));
    }
    let dir = migrations(&[("1_many.sql", &up)]);
    let child = spawn(&db, dir.path(), &["plan", "--review", "--json"]);
    let started = Instant::now();
    while probes(&db).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no probe was ever made"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    common::signal(&child, "KILL");
    let _ = common::wait(child, Duration::from_secs(30));
    let left = probes(&db);
    // Killed with the probe made: it is still there (the process could not drop it).
    assert_eq!(left.len(), 1, "{left:?}");

    let out = run(&db, dir.path(), &["plan", "--review", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v = json(&out);
    let dropped: Vec<String> = v["review_summary"]["leftovers_dropped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    assert!(
        dropped.contains(&format!("{}.{}", db.name, left[0])),
        "{dropped:?} names {left:?}"
    );
    assert!(probes(&db).is_empty(), "{:?}", probes(&db));
    assert_eq!(v["review"].as_array().unwrap().len(), 400);
    assert!(!db.q("SHOW CREATE TABLE orders").contains("c0"));
}

#[test]
fn a_user_who_cannot_make_probes_is_told_which_privilege_is_missing() {
    let db = TestDb::tagged("review_ro");
    orders(&db);
    let user = format!("{}_ro", db.name);
    let user = &user[user.len().saturating_sub(30)..];
    let server = testkit::server();
    db.q(&format!(
        "DROP USER IF EXISTS '{user}'@'127.0.0.1'; \
         CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY 'ro'; \
         GRANT SELECT ON `{}`.* TO '{user}'@'127.0.0.1'",
        db.name
    ));
    let url = format!(
        "mysql://{user}:ro@{}:{}/{}",
        server.host, server.port, db.name
    );
    let dir = migrations(&[("1_a.sql", "-- +migrate Up\nALTER TABLE orders ADD c INT;\n")]);
    let out = common::cli(&url, dir.path(), &["plan", "--review"])
        .output()
        .unwrap();
    db.q(&format!("DROP USER '{user}'@'127.0.0.1'"));
    assert_eq!(
        out.status.code(),
        Some(2),
        "the configuration kind: {}",
        text(&out)
    );
    let said = common::stderr(&out);
    assert!(
        said.contains("CREATE") && said.contains("probe"),
        "names the privilege: {said}"
    );
    assert!(probes(&db).is_empty());
    // `--review` is `plan`'s alone.
    let out = run(&db, dir.path(), &["up", "--review"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}
