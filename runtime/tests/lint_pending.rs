//! `lambda-migrate lint --pending` against a real server (MariaDB, or MySQL through
//! LM_TEST_DATABASE_URL): only the migrations the history does not hold are linted, and
//! the applied ones still build the schema model.
#![cfg(feature = "mysql")]

mod common;

use common::{findings, json, migrations, run, text};
use testkit::TestDb;

const CREATE: &str = "-- +migrate Up\nCREATE TABLE accounts (id int primary key, email varchar(300) not null);\n\n-- +migrate Down\nDROP TABLE accounts;\n";
// Applied: the model must know email is VARCHAR(200) after it.
const NARROW: &str = "-- +migrate Up\n-- lint:ignore destructive/narrowing,locking/type-change the column holds at most 150 characters\nALTER TABLE accounts MODIFY email varchar(200) not null;\n\n-- +migrate Down\nALTER TABLE accounts MODIFY email varchar(300) not null;\n";
const NARROW_AGAIN: &str = "-- +migrate Up\nALTER TABLE accounts MODIFY email varchar(100) not null;\n\n-- +migrate Down\nALTER TABLE accounts MODIFY email varchar(200) not null;\n";
const DROP: &str = "-- +migrate Up\nDROP TABLE accounts;\n";

#[test]
fn pending_lints_only_what_is_not_applied_with_the_applied_schema_known() {
    let db = TestDb::tagged("lint_output_pending");
    let dir = migrations(&[
        ("1_create.sql", CREATE),
        ("2_narrow.sql", NARROW),
        ("3_narrow_again.sql", NARROW_AGAIN),
        ("4_drop.sql", DROP),
    ]);
    let lint = |extra: &[&str]| {
        let mut args = vec!["lint", "--pending", "--json"];
        args.extend_from_slice(extra);
        run(&db, dir.path(), &args)
    };

    // Nothing applied: every migration is linted; reading the history created nothing.
    let all = lint(&[]);
    assert_eq!(all.status.code(), Some(9), "{}", text(&all));
    let v = json(&all);
    assert_eq!(v["summary"]["migrations"], 4, "{v:#}");
    assert!(db.tables().is_empty(), "{:?}", db.tables());

    let up = run(&db, dir.path(), &["up", "--limit", "2"]);
    assert!(up.status.success(), "{}", text(&up));

    // Two applied: only 3 and 4, and 3's narrowing is measured from 2's VARCHAR(200).
    let out = lint(&[]);
    assert_eq!(out.status.code(), Some(9), "{}", text(&out));
    let v = json(&out);
    assert_eq!(
        findings(&v),
        [
            "3_narrow_again.sql up#1 destructive/narrowing",
            "3_narrow_again.sql up#1 locking/type-change",
            "4_drop.sql up#1 destructive/drop-table",
            "4_drop.sql up#1 reversibility/no-down",
            "4_drop.sql up#1 reversibility/no-way-back",
        ],
        "{v:#}"
    );
    let narrowing = &v["findings"][0]["message"];
    assert!(
        narrowing
            .as_str()
            .unwrap()
            .contains("VARCHAR(200) -> VARCHAR(100)"),
        "{narrowing}"
    );
    let s = &v["summary"];
    assert_eq!((&s["migrations"], &s["statements"]), (&2.into(), &3.into()));

    // Without --pending the whole set is linted, the applied migrations included.
    let every = common::cli(&db.url(), dir.path(), &["lint", "--json"])
        .output()
        .unwrap();
    assert_eq!(json(&every)["summary"]["migrations"], 4);

    // SARIF from the same run: the pending findings, and where they are.
    let out = run(&db, dir.path(), &["lint", "--pending", "--sarif"]);
    let log = json(&out);
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 5, "{log:#}");
    let loc = &results[3]["locations"][0]["physicalLocation"];
    assert!(
        loc["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("/4_drop.sql"),
        "{loc}"
    );
    assert_eq!(loc["region"]["startLine"], 2);

    // All applied: nothing to lint, nothing refused.
    let up = run(&db, dir.path(), &["up"]);
    assert!(up.status.success(), "{}", text(&up));
    let none = lint(&[]);
    assert_eq!(none.status.code(), Some(0), "{}", text(&none));
    let v = json(&none);
    assert_eq!(v["findings"], serde_json::json!([]));
    assert_eq!(v["summary"]["migrations"], 0);
}

#[test]
fn pending_needs_a_reachable_database_and_says_so() {
    let dir = migrations(&[("1_create.sql", CREATE)]);
    let out = common::cli(
        "mysql://lm:lm@127.0.0.1:1/nowhere",
        dir.path(),
        &["lint", "--pending", "--connect-timeout", "2s"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    let err = common::stderr(&out);
    assert!(!err.contains("lm:lm"), "the password stays out: {err}");
}
