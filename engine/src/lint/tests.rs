use super::*;
use crate::migration;

/// The base schema every rule case starts from, as the set's first migration.
const SETUP: &str = "-- +migrate Up
CREATE TABLE users (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  email VARCHAR(100) NOT NULL,
  name VARCHAR(300) NOT NULL,
  code VARCHAR(50) NOT NULL,
  age INT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE legacy (
  tag VARCHAR(100) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=latin1;
-- +migrate Down
DROP TABLE legacy;
DROP TABLE users;
";

fn lint_files(files: &[(&str, &str)]) -> LintReport {
    let set: Vec<(&str, &str, &[u8])> = files
        .iter()
        .map(|(id, text)| (*id, *id, text.as_bytes()))
        .collect();
    let migrations = migration::load(set).expect("fixtures parse");
    lint(&migrations)
}

/// A second setup migration: ENUM and SET columns near their storage sizes (an ENUM of
/// 254 members, 1 byte; a SET of 7, 1 byte).
fn enums() -> String {
    let big: Vec<String> = (0..254).map(|i| format!("'m{i}'")).collect();
    format!(
        "-- +migrate Up
CREATE TABLE flags (
  id INT NOT NULL PRIMARY KEY,
  status ENUM('new','paid','shipped') NOT NULL,
  tags SET('a','b','c','d','e','f','g') NOT NULL,
  big ENUM({}) NULL
);
-- +migrate Down
DROP TABLE flags;
",
        big.join(",")
    )
}

/// The unsuppressed rule ids found on the Up statements of a migration holding `up`
/// (and a Down that leaves nothing behind), after [`SETUP`] and [`enums`].
fn rules(up: &str) -> Vec<String> {
    let file = format!("-- +migrate Up\n{up}\n-- +migrate Down\nSELECT 1;\n");
    let enums = enums();
    let report = lint_files(&[
        ("1_setup.sql", SETUP),
        ("2_enums.sql", &enums),
        ("3_case.sql", &file),
    ]);
    report
        .findings
        .iter()
        .filter(|f| f.migration == "3_case.sql" && !f.suppressed && f.section == SectionName::Up)
        .map(|f| f.rule.clone())
        .collect()
}

#[track_caller]
fn fires(up: &str, rule: &str) {
    let got = rules(up);
    assert!(
        got.iter().any(|r| r == rule),
        "{rule} not in {got:?} for {up}"
    );
}

#[track_caller]
fn quiet(up: &str, rule: &str) {
    let got = rules(up);
    assert!(!got.iter().any(|r| r == rule), "{rule} in {got:?} for {up}");
}

#[test]
fn the_setup_itself_is_clean_but_for_its_second_ddl() {
    let report = lint_files(&[("1_setup.sql", SETUP)]);
    let ids: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
    // Down drops what Up created: the expected inverse, not a loss.
    assert_eq!(
        ids,
        ["transaction/multiple-ddl", "transaction/multiple-ddl"]
    );
    assert_eq!(report.summary.statements, 4);
    assert_eq!(report.summary.parsed, 4);
}

#[test]
fn destructive_rules() {
    fires("DROP DATABASE shop;", "destructive/drop-database");
    fires("DROP TABLE users;", "destructive/drop-table");
    quiet("DROP VIEW users_v;", "destructive/drop-table");
    fires(
        "ALTER TABLE users DROP COLUMN email;",
        "destructive/drop-column",
    );
    fires("TRUNCATE TABLE users;", "destructive/truncate");
    fires("DELETE FROM users;", "destructive/delete-without-where");
    quiet(
        "DELETE FROM users WHERE id = 1;",
        "destructive/delete-without-where",
    );
    fires(
        "UPDATE users SET email = '';",
        "destructive/update-without-where",
    );
    quiet(
        "UPDATE users SET email = '' WHERE id = 1;",
        "destructive/update-without-where",
    );
}

#[test]
fn narrowing_is_told_from_widening_by_the_replayed_schema() {
    let n = "destructive/narrowing";
    let t = "locking/type-change";
    // VARCHAR(300) -> VARCHAR(200): values over 200 characters are cut.
    fires("ALTER TABLE users MODIFY name VARCHAR(200) NOT NULL;", n);
    fires("ALTER TABLE users MODIFY name VARCHAR(200) NOT NULL;", t);
    // VARCHAR(100) -> VARCHAR(200) in utf8mb4: 400 -> 800 bytes, same 2-byte prefix.
    quiet("ALTER TABLE users MODIFY email VARCHAR(200) NOT NULL;", n);
    quiet("ALTER TABLE users MODIFY email VARCHAR(200) NOT NULL;", t);
    // VARCHAR(50) -> VARCHAR(100) in utf8mb4: 200 -> 400 bytes crosses to a 2-byte prefix.
    quiet("ALTER TABLE users MODIFY code VARCHAR(100) NOT NULL;", n);
    fires("ALTER TABLE users MODIFY code VARCHAR(100) NOT NULL;", t);
    // latin1: 100 -> 200 bytes stays under 256.
    quiet("ALTER TABLE legacy MODIFY tag VARCHAR(200) NOT NULL;", t);
    fires("ALTER TABLE legacy MODIFY tag VARCHAR(300) NOT NULL;", t);
    // Integers.
    fires("ALTER TABLE users MODIFY age TINYINT NULL;", n);
    fires("ALTER TABLE users MODIFY age INT UNSIGNED NULL;", n);
    quiet("ALTER TABLE users MODIFY age BIGINT NULL;", n);
    fires("ALTER TABLE users MODIFY age BIGINT NULL;", t);
    quiet("ALTER TABLE users MODIFY age INT NOT NULL DEFAULT 0;", t);
    // CHANGE narrows as MODIFY does.
    fires(
        "ALTER TABLE users CHANGE name name VARCHAR(10) NOT NULL;",
        n,
    );
    // A change replayed from an earlier migration is what the next one compares with.
    let widen = "-- +migrate Up\nALTER TABLE users MODIFY email VARCHAR(400) NOT NULL;\n-- +migrate Down\nALTER TABLE users MODIFY email VARCHAR(100) NOT NULL;\n";
    let report = lint_files(&[("1_setup.sql", SETUP), ("2_widen.sql", widen)]);
    let down: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.section == SectionName::Down)
        .map(|f| f.rule.as_str())
        .collect();
    assert!(down.contains(&n), "{down:?}");
    // A table the set did not create: no verdict on direction, but never silent.
    fires("ALTER TABLE elsewhere MODIFY x VARCHAR(10);", t);
    quiet("ALTER TABLE elsewhere MODIFY x VARCHAR(10);", n);
}

#[test]
fn incompatible_rules() {
    fires(
        "RENAME TABLE users TO customers;",
        "incompatible/rename-table",
    );
    fires(
        "ALTER TABLE users RENAME TO customers;",
        "incompatible/rename-table",
    );
    fires(
        "ALTER TABLE users RENAME COLUMN email TO mail;",
        "incompatible/rename-column",
    );
    fires(
        "ALTER TABLE users CHANGE email mail VARCHAR(100) NOT NULL;",
        "incompatible/rename-column",
    );
    quiet(
        "ALTER TABLE users CHANGE email email VARCHAR(100) NOT NULL;",
        "incompatible/rename-column",
    );
    quiet(
        "ALTER TABLE users CHANGE email mail VARCHAR(100) NOT NULL;",
        "locking/type-change",
    );
    fires(
        "ALTER TABLE users DROP COLUMN email;",
        "incompatible/drop-column",
    );
    let add = "incompatible/add-not-null-without-default";
    fires("ALTER TABLE users ADD COLUMN score INT NOT NULL;", add);
    quiet(
        "ALTER TABLE users ADD COLUMN score INT NOT NULL DEFAULT 0;",
        add,
    );
    quiet("ALTER TABLE users ADD COLUMN score INT NULL;", add);
}

#[test]
fn locking_rules() {
    fires(
        "ALTER TABLE users DROP PRIMARY KEY, ADD PRIMARY KEY (id, email);",
        "locking/primary-key-change",
    );
    quiet(
        "ALTER TABLE users ADD INDEX users_email (email);",
        "locking/primary-key-change",
    );
    // sqlparser refuses ENGINE= in ALTER TABLE: unparsed, and the engine change is
    // still named from the statement's words.
    let got = rules("ALTER TABLE users ENGINE=InnoDB;");
    assert!(got.contains(&"locking/engine-change".to_owned()), "{got:?}");
    assert!(got.contains(&"unparsed/statement".to_owned()), "{got:?}");
    fires(
        "ALTER TABLE users ADD FULLTEXT INDEX ft (email);",
        "locking/fulltext-or-spatial",
    );
    fires(
        "CREATE FULLTEXT INDEX ft ON users (email);",
        "locking/fulltext-or-spatial",
    );
    quiet(
        "CREATE INDEX i ON users (email);",
        "locking/fulltext-or-spatial",
    );
    fires(
        "ALTER TABLE users ADD COLUMN s INT NULL, ALGORITHM=COPY;",
        "locking/algorithm-copy",
    );
    quiet(
        "ALTER TABLE users ADD COLUMN s INT NULL, ALGORITHM=INSTANT;",
        "locking/algorithm-copy",
    );
    fires(
        "ALTER TABLE users ADD CONSTRAINT fk FOREIGN KEY (age) REFERENCES users (id);",
        "locking/add-foreign-key",
    );
    let twice =
        "ALTER TABLE users ADD COLUMN a INT NULL;\nALTER TABLE users ADD COLUMN b INT NULL;";
    fires(twice, "locking/repeated-alter");
    quiet(
        "ALTER TABLE users ADD COLUMN a INT NULL;\nALTER TABLE legacy ADD COLUMN b INT NULL;",
        "locking/repeated-alter",
    );
}

#[test]
fn transaction_rules_belong_to_the_later_statement() {
    let file = "-- +migrate Up
ALTER TABLE users ADD COLUMN score INT NULL;
UPDATE users SET score = 0 WHERE score IS NULL;
INSERT INTO legacy (tag) VALUES ('x');
ALTER TABLE legacy ADD COLUMN n INT NULL;
-- +migrate Down
SELECT 1;
";
    let report = lint_files(&[("1_setup.sql", SETUP), ("2_case.sql", file)]);
    let at = |rule: &str| -> Vec<(usize, usize)> {
        report
            .findings
            .iter()
            .filter(|f| f.migration == "2_case.sql" && f.rule == rule)
            .map(|f| (f.statement, f.line))
            .collect()
    };
    assert_eq!(at("transaction/mixed-ddl-dml"), [(2, 3), (3, 4), (4, 5)]);
    assert_eq!(at("transaction/backfill-with-ddl"), [(2, 3)]);
    assert_eq!(at("transaction/multiple-ddl"), [(4, 5)]);
    // An INSERT ... VALUES is no backfill; a backfill before its DDL is reported on the DDL.
    let before = "-- +migrate Up\nINSERT INTO legacy (tag) SELECT email FROM users;\nALTER TABLE legacy ADD COLUMN n INT NULL;\n-- +migrate Down\nSELECT 1;\n";
    let report = lint_files(&[("1_setup.sql", SETUP), ("2_case.sql", before)]);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.rule == "transaction/backfill-with-ddl" && f.statement == 2)
    );
}

#[test]
fn a_migration_without_down_is_reported_on_its_first_up_statement() {
    let file =
        "-- a comment\n-- +migrate Up\n\nCREATE TABLE t (id INT);\nCREATE INDEX i ON t (id);\n";
    let report = lint_files(&[("1_a.sql", file)]);
    let f: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule == "reversibility/no-down")
        .collect();
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].section, f[0].statement, f[0].line),
        (SectionName::Up, 1, 4)
    );
    let with = "-- +migrate Up\nCREATE TABLE t (id INT);\n-- +migrate Down\nDROP TABLE t;\n";
    let report = lint_files(&[("1_a.sql", with)]);
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}

#[test]
fn unparsed_statements_are_findings_and_the_rest_is_still_linted() {
    let file = "-- +migrate Up
-- +migrate StatementBegin
CREATE PROCEDURE p(IN x INT)
BEGIN
  SELECT x;
END;
-- +migrate StatementEnd
FROB THE WIDGETS
  NOW;
DROP TABLE users;
-- +migrate Down
SELECT 1;
";
    let report = lint_files(&[("1_setup.sql", SETUP), ("2_case.sql", file)]);
    let mine: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.migration == "2_case.sql")
        .collect();
    let program = mine
        .iter()
        .find(|f| f.rule == "unparsed/stored-program")
        .expect("procedure");
    assert_eq!(
        (program.statement, program.line, program.severity),
        (1, 3, Severity::Notice)
    );
    // The parser's own line (2 within the statement) is the file's line 4.
    assert!(program.message.contains("Line: 4"), "{}", program.message);
    let junk = mine
        .iter()
        .find(|f| f.rule == "unparsed/statement")
        .expect("junk");
    assert_eq!(
        (junk.statement, junk.line, junk.severity),
        (2, 8, Severity::Warning)
    );
    assert!(
        mine.iter()
            .any(|f| f.rule == "destructive/drop-table" && f.statement == 3)
    );
    assert_eq!(report.summary.unparsed, 2);
    assert_eq!(
        report.summary.parsed + report.summary.unparsed,
        report.summary.statements
    );
    assert_eq!(report.summary.statements, 4 + 4);
}

#[test]
fn deep_nesting_is_refused_by_the_parser_not_a_crash() {
    let deep = format!("SELECT {}1{};", "(".repeat(500), ")".repeat(500));
    let file = format!("-- +migrate Up\n{deep}\n-- +migrate Down\nSELECT 1;\n");
    let report = lint_files(&[("1_a.sql", &file)]);
    assert_eq!(report.summary.unparsed, 1);
}

#[test]
fn suppression_needs_a_reason_and_keeps_the_finding() {
    let file = "-- +migrate Up
-- lint:ignore destructive/drop-table the table was emptied and archived in 2023
DROP TABLE users;
-- lint:ignore destructive/truncate
TRUNCATE TABLE legacy;
-- lint:ignore destructive/no-such-rule because
SELECT 1;
-- +migrate Down
SELECT 1;
";
    let report = lint_files(&[("1_setup.sql", SETUP), ("2_case.sql", file)]);
    let find = |rule: &str| {
        report
            .findings
            .iter()
            .find(|f| f.rule == rule && f.migration == "2_case.sql")
    };
    let drop = find("destructive/drop-table").unwrap();
    assert!(drop.suppressed);
    let truncate = find("destructive/truncate").unwrap();
    assert!(!truncate.suppressed, "no reason, no suppression");
    let bare = find("unparsed/lint-ignore-without-reason").unwrap();
    assert_eq!((bare.statement, bare.line), (2, 5));
    assert!(bare.message.contains("line 4"), "{}", bare.message);
    let unknown = find("unparsed/lint-ignore-unknown-rule").unwrap();
    assert_eq!(unknown.statement, 3);
    assert!(unknown.message.contains("destructive/no-such-rule"));
    assert_eq!(report.summary.suppressed, 1);
    assert_eq!(report.summary.errors, 1, "{:?}", report.findings);
    // A comment two lines above (a blank line between) does not apply.
    let far = "-- +migrate Up\n-- lint:ignore destructive/drop-table reason\n\nDROP TABLE users;\n-- +migrate Down\nSELECT 1;\n";
    let report = lint_files(&[("1_setup.sql", SETUP), ("2_case.sql", far)]);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.rule == "destructive/drop-table" && !f.suppressed)
    );
}

#[test]
fn json_has_exactly_the_documented_shape() {
    let report = lint_files(&[(
        "1_a.sql",
        "-- +migrate Up\nCREATE TABLE t (id INT);\nDROP TABLE u;\n",
    )]);
    let v = serde_json::to_value(&report).unwrap();
    let keys = |o: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = o.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&v), ["findings", "summary"]);
    assert_eq!(
        keys(&v["summary"]),
        [
            "errors",
            "migrations",
            "notices",
            "parsed",
            "statements",
            "suppressed",
            "unparsed",
            "warnings"
        ]
    );
    let f = &v["findings"][0];
    assert_eq!(
        keys(f),
        [
            "category",
            "file",
            "line",
            "message",
            "migration",
            "rule",
            "section",
            "severity",
            "statement",
            "suppressed"
        ]
    );
    let drop = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "destructive/drop-table")
        .unwrap();
    assert_eq!(drop["section"], "up");
    assert_eq!(drop["statement"], 2);
    assert_eq!(drop["line"], 3);
    assert_eq!(drop["category"], "destructive");
    assert_eq!(drop["severity"], "error");
    assert_eq!(drop["suppressed"], false);
    assert_eq!(v["summary"]["errors"], 1);
    let back: LintReport = serde_json::from_value(v).unwrap();
    assert_eq!(back.findings.len(), report.findings.len());
}

#[test]
fn every_rule_has_a_unique_id_in_its_category_and_a_documented_anchor() {
    let doc = include_str!("../../../docs/lint.md");
    let mut ids: Vec<&str> = Rule::ALL.iter().map(|r| r.id()).collect();
    for r in Rule::ALL {
        assert!(
            r.id().starts_with(&format!("{}/", r.category().as_str())),
            "{r}"
        );
        assert_eq!(Rule::parse(r.id()), Some(*r));
        let anchor = r.doc().split_once('#').unwrap().1.to_owned();
        assert!(
            doc.contains(&format!("<a id=\"{anchor}\"></a>")),
            "{anchor} not in docs/lint.md"
        );
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), Rule::ALL.len());
}

#[test]
fn fail_on_counts_the_unsuppressed_findings_at_or_above_it() {
    // drop-table (error); no-down and no-way-back (warnings).
    let report = lint_files(&[("1_a.sql", "-- +migrate Up\nDROP TABLE u;\n")]);
    assert_eq!((report.summary.errors, report.summary.warnings), (1, 2));
    assert_eq!(report.failing(FailOn::Error), 1);
    assert_eq!(report.failing(FailOn::Warning), 3);
    assert_eq!(report.failing(FailOn::Never), 0);
}

/// The findings of the last of `files` (after [`SETUP`]) as `section#statement rule`.
fn placed(file: &str) -> Vec<String> {
    let report = lint_files(&[("1_setup.sql", SETUP), ("2_case.sql", file)]);
    report
        .findings
        .iter()
        .filter(|f| f.migration == "2_case.sql")
        .map(|f| {
            let section = match f.section {
                SectionName::Up => "up",
                SectionName::Down => "down",
            };
            let s = if f.suppressed { " +suppressed" } else { "" };
            format!("{section}#{} {}{s}", f.statement, f.rule)
        })
        .collect()
}

#[test]
fn enum_and_set_edits_are_judged_by_members_and_storage_size() {
    let r = "locking/enum-set-change";
    let appended =
        "ALTER TABLE flags MODIFY status ENUM('new','paid','shipped','returned') NOT NULL;";
    for rule in [r, "locking/type-change", "destructive/narrowing"] {
        quiet(appended, rule);
    }
    // Reordered, or a member inserted in the middle: a copy, nothing lost.
    let reordered = "ALTER TABLE flags MODIFY status ENUM('paid','new','shipped') NOT NULL;";
    fires(reordered, r);
    quiet(reordered, "destructive/narrowing");
    quiet(reordered, "locking/type-change");
    fires(
        "ALTER TABLE flags MODIFY status ENUM('new','held','paid','shipped') NOT NULL;",
        r,
    );
    // A member removed: rows holding it lose their value.
    let removed = "ALTER TABLE flags MODIFY status ENUM('new','paid') NOT NULL;";
    fires(removed, r);
    fires(removed, "destructive/narrowing");
    // SET: 7 -> 8 members stays 1 byte; 7 -> 9 becomes 2 bytes.
    quiet(
        "ALTER TABLE flags MODIFY tags SET('a','b','c','d','e','f','g','h') NOT NULL;",
        r,
    );
    fires(
        "ALTER TABLE flags MODIFY tags SET('a','b','c','d','e','f','g','h','i') NOT NULL;",
        r,
    );
    // ENUM: 254 -> 255 members stays 1 byte; 254 -> 256 becomes 2 bytes.
    let big = |extra: usize| {
        let m: Vec<String> = (0..254 + extra).map(|i| format!("'m{i}'")).collect();
        format!("ALTER TABLE flags MODIFY big ENUM({}) NULL;", m.join(","))
    };
    quiet(&big(1), r);
    fires(&big(2), r);
    // A change of kind is a type change, not a member edit.
    let to_set = "ALTER TABLE flags MODIFY status SET('new','paid','shipped') NOT NULL;";
    fires(to_set, "locking/type-change");
    quiet(to_set, r);
    // CHANGE judges the same way.
    fires(
        "ALTER TABLE flags CHANGE status status ENUM('shipped','paid','new') NOT NULL;",
        r,
    );
    // A column the set did not create: its members are unknown, never silent.
    let unknown = "ALTER TABLE elsewhere MODIFY s ENUM('a','b') NOT NULL;";
    fires(unknown, "locking/type-change");
    quiet(unknown, r);
}

#[test]
fn stored_generated_and_auto_increment_columns_rebuild() {
    let stored = "locking/add-stored-generated";
    fires(
        "ALTER TABLE users ADD COLUMN lower_email VARCHAR(100) AS (lower(email)) STORED;",
        stored,
    );
    fires(
        "ALTER TABLE users ADD COLUMN lower_email VARCHAR(100) GENERATED ALWAYS AS (lower(email)) STORED;",
        stored,
    );
    quiet(
        "ALTER TABLE users ADD COLUMN lower_email VARCHAR(100) AS (lower(email)) VIRTUAL;",
        stored,
    );
    quiet(
        "ALTER TABLE users ADD COLUMN lower_email VARCHAR(100) AS (lower(email));",
        stored,
    );
    // MariaDB's PERSISTENT is not read by the parser: found from the words.
    let persistent = rules(
        "ALTER TABLE users ADD COLUMN lower_email VARCHAR(100) AS (lower(email)) PERSISTENT;",
    );
    assert!(persistent.contains(&stored.to_owned()), "{persistent:?}");
    assert!(persistent.contains(&"unparsed/statement".to_owned()));
    // A new table is no rebuild.
    quiet(
        "CREATE TABLE t (a INT, b INT AS (a + 1) STORED, id INT NOT NULL AUTO_INCREMENT PRIMARY KEY);",
        stored,
    );
    let auto = "locking/add-auto-increment";
    fires(
        "ALTER TABLE legacy ADD COLUMN id BIGINT NOT NULL AUTO_INCREMENT, ADD UNIQUE KEY (id);",
        auto,
    );
    quiet(
        "ALTER TABLE legacy ADD COLUMN id BIGINT NOT NULL DEFAULT 0;",
        auto,
    );
    quiet(
        "CREATE TABLE t (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY);",
        auto,
    );
}

#[test]
fn column_positions_and_reorders() {
    let pos = "locking/column-position";
    fires(
        "ALTER TABLE users ADD COLUMN nick VARCHAR(20) NULL AFTER email;",
        pos,
    );
    fires(
        "ALTER TABLE users ADD COLUMN nick VARCHAR(20) NULL FIRST;",
        pos,
    );
    quiet("ALTER TABLE users ADD COLUMN nick VARCHAR(20) NULL;", pos);
    let file = "-- +migrate Up\nALTER TABLE users ADD COLUMN nick VARCHAR(20) NULL FIRST;\n-- +migrate Down\nALTER TABLE users DROP COLUMN nick;\n";
    let report = lint_files(&[("1_setup.sql", SETUP), ("2_case.sql", file)]);
    let f = report.findings.iter().find(|f| f.rule == pos).unwrap();
    assert_eq!(f.severity, Severity::Notice);
    assert!(f.message.contains("MySQL before 8.0.29"), "{}", f.message);
    assert!(f.message.contains("users.nick FIRST"), "{}", f.message);
    let reorder = "locking/reorder-column";
    let moved = "ALTER TABLE users MODIFY email VARCHAR(100) NOT NULL AFTER name;";
    fires(moved, reorder);
    quiet(moved, "locking/type-change");
    quiet(moved, pos);
    fires(
        "ALTER TABLE users CHANGE email email VARCHAR(100) NOT NULL FIRST;",
        reorder,
    );
    quiet(
        "ALTER TABLE users MODIFY email VARCHAR(100) NOT NULL;",
        reorder,
    );
}

#[test]
fn partitioning_changes_are_named_though_the_parser_refuses_them() {
    let p = "locking/partition-change";
    for sql in [
        "ALTER TABLE users PARTITION BY HASH(id) PARTITIONS 4;",
        "ALTER TABLE users REMOVE PARTITIONING;",
        "ALTER TABLE users ADD PARTITION (PARTITION p3 VALUES LESS THAN (2000));",
        "ALTER TABLE users REORGANIZE PARTITION p0 INTO (PARTITION a VALUES LESS THAN (10), PARTITION b VALUES LESS THAN (20));",
        "ALTER TABLE users COALESCE PARTITION 2;",
        "ALTER TABLE users EXCHANGE PARTITION p1 WITH TABLE legacy;",
        "ALTER TABLE shop.users ADD COLUMN x INT NULL PARTITION BY KEY(id) PARTITIONS 2;",
    ] {
        let got = rules(sql);
        assert!(got.contains(&p.to_owned()), "{got:?} for {sql}");
        assert!(got.contains(&"unparsed/statement".to_owned()), "{sql}");
        assert!(
            !got.contains(&"destructive/drop-partition".to_owned()),
            "{sql}"
        );
    }
    for sql in [
        "ALTER TABLE users DROP PARTITION p1;",
        "ALTER TABLE users TRUNCATE PARTITION p1, p2;",
    ] {
        fires(sql, p);
        fires(sql, "destructive/drop-partition");
    }
    // A new partitioned table is only unparsed; the words in a comment are no clause.
    let create = rules("CREATE TABLE t (id INT) PARTITION BY HASH(id) PARTITIONS 4;");
    assert_eq!(create, ["unparsed/statement"]);
    let comment = rules("ALTER TABLE users COMMENT = 'partition by day, drop partition p1';");
    assert_eq!(comment, ["unparsed/statement"]);
    quiet("ALTER TABLE users ADD INDEX i (email);", p);
}

#[test]
fn engine_change_is_a_clause_not_a_word() {
    let e = "locking/engine-change";
    fires("ALTER TABLE users ENGINE=InnoDB;", e);
    fires("ALTER TABLE users ENGINE = InnoDB, ALGORITHM=COPY;", e);
    fires("ALTER TABLE users COMMENT = 'x', ENGINE = MyISAM;", e);
    // A column named engine, in an ALTER the parser refuses for another reason.
    let column = rules("ALTER TABLE users ADD COLUMN engine VARCHAR(10) NULL, COMMENT = 'e';");
    assert!(
        column.contains(&"unparsed/statement".to_owned()),
        "{column:?}"
    );
    assert!(!column.contains(&e.to_owned()), "{column:?}");
    quiet("CREATE TABLE t (id INT) ENGINE=InnoDB;", e);
}

#[test]
fn a_down_that_destroys_older_data_is_reported_on_the_down_statement() {
    let got = placed(
        "-- +migrate Up
ALTER TABLE users ADD COLUMN score INT NULL;
-- +migrate Down
ALTER TABLE users DROP COLUMN score;
ALTER TABLE users DROP COLUMN email;
DROP TABLE legacy;
TRUNCATE TABLE users;
",
    );
    let down = |n: usize| -> Vec<&str> {
        let prefix = format!("down#{n} ");
        got.iter().filter_map(|f| f.strip_prefix(&prefix)).collect()
    };
    assert!(
        !down(1).contains(&"reversibility/down-destroys-data"),
        "{got:?}"
    );
    assert!(!down(1).contains(&"destructive/drop-column"), "{got:?}");
    for n in 2..=4 {
        assert!(
            down(n).contains(&"reversibility/down-destroys-data"),
            "{n}: {got:?}"
        );
    }
    assert!(down(2).contains(&"destructive/drop-column"));
    assert!(down(3).contains(&"destructive/drop-table"));
    // What the Up created, the Down drops quietly, tables too.
    let got = placed("-- +migrate Up\nCREATE TABLE t (id INT);\n-- +migrate Down\nDROP TABLE t;\n");
    assert!(got.is_empty(), "{got:?}");
    // Nor for what the Up added in a statement the parser refuses (read by its words),
    // nor for a table the Up dropped already (the second DROP destroys nothing).
    let got = placed(
        "-- +migrate Up
ALTER TABLE `users` ADD COLUMN (
  `key` MEDIUMBLOB,
  `kind` VARCHAR(10) NULL
);
DROP TABLE legacy;
-- +migrate Down
ALTER TABLE `users` DROP COLUMN `key`, DROP COLUMN kind;
DROP TABLE legacy;
CREATE TABLE legacy (tag VARCHAR(100) NOT NULL);
",
    );
    assert!(
        got.iter().any(|f| f == "up#1 unparsed/statement"),
        "{got:?}"
    );
    assert!(
        !got.iter()
            .any(|f| f.starts_with("down#") && !f.ends_with("multiple-ddl")),
        "{got:?}"
    );
    // Never in an Up: an Up's drop is the destructive rules' and no-way-back's.
    quiet("DROP TABLE legacy;", "reversibility/down-destroys-data");
}

#[test]
fn an_up_that_drops_data_its_down_does_not_recreate_has_no_way_back() {
    let nwb = "reversibility/no-way-back";
    let has = |file: &str, want: &str| {
        let got = placed(file);
        assert!(got.iter().any(|f| f == want), "{want} not in {got:?}");
    };
    let hasnt = |file: &str| {
        let got = placed(file);
        assert!(!got.iter().any(|f| f.ends_with(nwb)), "{got:?}");
    };
    // No Down at all: reported on the dropping statement, not the first one.
    has(
        "-- +migrate Up\nCREATE TABLE t (id INT);\nDROP TABLE legacy;\n",
        "up#2 reversibility/no-way-back",
    );
    let report = lint_files(&[
        ("1_setup.sql", SETUP),
        ("2_case.sql", "-- +migrate Up\nDROP TABLE legacy;\n"),
    ]);
    let f = report.findings.iter().find(|f| f.rule == nwb).unwrap();
    assert!(
        f.message.contains("table legacy; there is no Down"),
        "{}",
        f.message
    );
    // A Down that does not recreate it.
    has(
        "-- +migrate Up\nDROP TABLE legacy;\n-- +migrate Down\nSELECT 1;\n",
        "up#1 reversibility/no-way-back",
    );
    has(
        "-- +migrate Up\nALTER TABLE users DROP COLUMN age;\n-- +migrate Down\nALTER TABLE users ADD COLUMN other INT NULL;\n",
        "up#1 reversibility/no-way-back",
    );
    has(
        "-- +migrate Up\nDELETE FROM legacy WHERE tag = 'x';\n-- +migrate Down\nSELECT 1;\n",
        "up#1 reversibility/no-way-back",
    );
    has(
        "-- +migrate Up\nTRUNCATE TABLE legacy;\n-- +migrate Down\nCREATE TABLE legacy (tag VARCHAR(100));\n",
        "up#1 reversibility/no-way-back",
    );
    // Near misses: the Down puts it back.
    hasnt(
        "-- +migrate Up\nDROP TABLE legacy;\n-- +migrate Down\nCREATE TABLE legacy (tag VARCHAR(100) NOT NULL);\n",
    );
    hasnt(
        "-- +migrate Up\nALTER TABLE users DROP COLUMN age;\n-- +migrate Down\nALTER TABLE users ADD COLUMN age INT NULL;\n",
    );
    hasnt(
        "-- +migrate Up\nDELETE FROM legacy WHERE tag = 'x';\n-- +migrate Down\nINSERT INTO legacy (tag) VALUES ('x');\n",
    );
    // ... even through a statement the parser refuses, read by its words.
    hasnt(
        "-- +migrate Up\nDROP TABLE legacy;\n-- +migrate Down\nCREATE TABLE `legacy` (tag VARCHAR(100)) PARTITION BY KEY(tag) PARTITIONS 2;\n",
    );
    hasnt(
        "-- +migrate Up\nALTER TABLE users DROP COLUMN age;\n-- +migrate Down\nALTER TABLE users ADD COLUMN age INT NULL, COMMENT = 'back';\n",
    );
    hasnt(
        "-- +migrate Up\nALTER TABLE users DROP COLUMN age;\n-- +migrate Down\nALTER TABLE users ADD COLUMN (\n  other INT NULL,\n  `age` INT NULL\n);\n",
    );
    has(
        "-- +migrate Up\nALTER TABLE users DROP COLUMN age;\n-- +migrate Down\nALTER TABLE users ADD COLUMN (\n  other INT NULL,\n  older DECIMAL(10, 2) NULL\n);\n",
        "up#1 reversibility/no-way-back",
    );
    // What the same Up made first is no older data.
    hasnt(
        "-- +migrate Up\nCREATE TABLE tmp (id INT);\nDROP TABLE tmp;\n-- +migrate Down\nSELECT 1;\n",
    );
    hasnt(
        "-- +migrate Up\nALTER TABLE users ADD COLUMN tmp INT NULL;\nALTER TABLE users DROP COLUMN tmp;\n-- +migrate Down\nSELECT 1;\n",
    );
    hasnt(
        "-- +migrate Up\nINSERT INTO legacy (tag) VALUES ('x');\n-- +migrate Down\nDELETE FROM legacy WHERE tag = 'x';\n",
    );
}

#[test]
fn an_unused_suppression_is_a_notice_of_its_own() {
    let got = placed(
        "-- +migrate Up
-- lint:ignore destructive/drop-table the statement below drops nothing
ALTER TABLE users ADD COLUMN a INT NULL;
-- lint:ignore destructive/drop-table,reversibility/no-way-back archived (OPS-12)
DROP TABLE legacy;
-- lint:ignore destructive/truncate
SELECT 1;
-- +migrate Down
SELECT 1;
",
    );
    assert_eq!(
        got,
        [
            "up#1 unparsed/lint-ignore-unused",
            "up#2 destructive/drop-table +suppressed",
            "up#2 transaction/multiple-ddl",
            "up#2 reversibility/no-way-back +suppressed",
            "up#3 unparsed/lint-ignore-without-reason",
        ]
    );
    let report = lint_files(&[
        ("1_setup.sql", SETUP),
        (
            "2_case.sql",
            "-- +migrate Up\n-- lint:ignore locking/type-change why\nSELECT 1;\n-- +migrate Down\nSELECT 1;\n",
        ),
    ]);
    let f = report
        .findings
        .iter()
        .find(|f| f.rule == "unparsed/lint-ignore-unused")
        .unwrap();
    assert_eq!(f.severity, Severity::Notice);
    assert!(
        f.message.contains("locking/type-change (line 2)"),
        "{}",
        f.message
    );
    assert_eq!(report.summary.notices, 1);
}

#[test]
fn delimiter_blocks_and_stored_programs_do_not_break_the_rest() {
    let file = "-- +migrate Up
DELIMITER //
CREATE TRIGGER users_bi BEFORE INSERT ON users FOR EACH ROW
BEGIN
  SET NEW.email = LOWER(NEW.email);
END//
CREATE PROCEDURE p()
BEGIN
  DELETE FROM legacy;
END//
DELIMITER ;
ALTER TABLE users DROP COLUMN age;
-- +migrate Down
ALTER TABLE users ADD COLUMN age INT NULL;
";
    let report = lint_files(&[("1_setup.sql", SETUP), ("2_case.sql", file)]);
    let s = &report.summary;
    assert_eq!(s.statements, 4 + 4);
    assert_eq!(s.parsed + s.unparsed, s.statements);
    let got = placed(file);
    // Nothing is read into the procedure's body (its DELETE is not the migration's).
    assert!(
        !got.iter().any(|f| f.contains("delete-without-where")),
        "{got:?}"
    );
    assert!(
        got.iter().any(|f| f == "up#3 destructive/drop-column"),
        "{got:?}"
    );
    assert!(!got.iter().any(|f| f.ends_with("no-way-back")), "{got:?}");
    // Every statement is either parsed or reported.
    let unparsed = got
        .iter()
        .filter(|f| f.contains(" unparsed/statement") || f.contains(" unparsed/stored-program"))
        .count();
    assert_eq!(unparsed, s.unparsed);
}

/// The unsuppressed rule ids in both sections of `file`, after [`SETUP`] and [`enums`].
fn all_rules(file: &str) -> Vec<String> {
    let enums = enums();
    let report = lint_files(&[
        ("1_setup.sql", SETUP),
        ("2_enums.sql", &enums),
        ("3_case.sql", file),
    ]);
    report
        .findings
        .iter()
        .filter(|f| f.migration == "3_case.sql" && !f.suppressed)
        .map(|f| f.rule.clone())
        .collect()
}

/// A migration of `up` with a Down that does nothing.
fn up(sql: &str) -> String {
    format!("-- +migrate Up\n{sql}\n-- +migrate Down\nSELECT 1;\n")
}

/// A migration of `up` and `down`.
fn up_down(up: &str, down: &str) -> String {
    format!("-- +migrate Up\n{up}\n-- +migrate Down\n{down}\n")
}

#[test]
fn every_rule_fires_on_its_case_and_stays_quiet_on_its_near_miss() {
    let program = "-- +migrate StatementBegin\nCREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\nEND;\n-- +migrate StatementEnd";
    let trigger = "-- +migrate StatementBegin\nCREATE TRIGGER users_bi BEFORE INSERT ON users FOR EACH ROW\nBEGIN\n  SET NEW.email = LOWER(NEW.email);\nEND;\n-- +migrate StatementEnd";
    let cases: Vec<(&str, String, String)> = vec![
        (
            "destructive/drop-database",
            up("DROP DATABASE shop;"),
            up("CREATE DATABASE shop;"),
        ),
        (
            "destructive/drop-table",
            up("DROP TABLE users;"),
            up_down("CREATE TABLE t (id INT);", "DROP TABLE t;"),
        ),
        (
            "destructive/drop-column",
            up("ALTER TABLE users DROP COLUMN email;"),
            up("ALTER TABLE users DROP INDEX i;"),
        ),
        (
            "destructive/truncate",
            up("TRUNCATE TABLE users;"),
            up("DELETE FROM users WHERE id = 1;"),
        ),
        (
            "destructive/delete-without-where",
            up("DELETE FROM users;"),
            up("DELETE FROM users WHERE id = 1;"),
        ),
        (
            "destructive/update-without-where",
            up("UPDATE users SET age = 1;"),
            up("UPDATE users SET age = 1 WHERE id = 1;"),
        ),
        (
            "destructive/narrowing",
            up("ALTER TABLE users MODIFY name VARCHAR(200) NOT NULL;"),
            up("ALTER TABLE users MODIFY email VARCHAR(200) NOT NULL;"),
        ),
        (
            "destructive/drop-partition",
            up("ALTER TABLE users DROP PARTITION p1;"),
            up("ALTER TABLE users ADD PARTITION (PARTITION p9 VALUES LESS THAN (9));"),
        ),
        (
            "incompatible/rename-table",
            up("RENAME TABLE users TO customers;"),
            up("CREATE TABLE customers LIKE users;"),
        ),
        (
            "incompatible/rename-column",
            up("ALTER TABLE users RENAME COLUMN email TO mail;"),
            up("ALTER TABLE users CHANGE email email VARCHAR(100) NOT NULL;"),
        ),
        (
            "incompatible/drop-column",
            up("ALTER TABLE users DROP COLUMN email;"),
            up_down(
                "ALTER TABLE users ADD COLUMN s INT NULL;",
                "ALTER TABLE users DROP COLUMN s;",
            ),
        ),
        (
            "incompatible/add-not-null-without-default",
            up("ALTER TABLE users ADD COLUMN s INT NOT NULL;"),
            up("ALTER TABLE users ADD COLUMN s INT NOT NULL DEFAULT 0;"),
        ),
        (
            "locking/type-change",
            up("ALTER TABLE users MODIFY code VARCHAR(100) NOT NULL;"),
            up("ALTER TABLE users MODIFY email VARCHAR(200) NOT NULL;"),
        ),
        (
            "locking/primary-key-change",
            up("ALTER TABLE users DROP PRIMARY KEY, ADD PRIMARY KEY (id, email);"),
            up("ALTER TABLE users ADD INDEX i (email);"),
        ),
        (
            "locking/engine-change",
            up("ALTER TABLE users ENGINE=InnoDB;"),
            up("CREATE TABLE t (id INT) ENGINE=InnoDB;"),
        ),
        (
            "locking/fulltext-or-spatial",
            up("ALTER TABLE users ADD FULLTEXT INDEX ft (email);"),
            up("ALTER TABLE users ADD INDEX i (email);"),
        ),
        (
            "locking/algorithm-copy",
            up("ALTER TABLE users ADD COLUMN s INT NULL, ALGORITHM=COPY;"),
            up("ALTER TABLE users ADD COLUMN s INT NULL, ALGORITHM=INSTANT;"),
        ),
        (
            "locking/add-foreign-key",
            up("ALTER TABLE users ADD CONSTRAINT fk FOREIGN KEY (age) REFERENCES users (id);"),
            up("ALTER TABLE users ADD CONSTRAINT u UNIQUE (email);"),
        ),
        (
            "locking/enum-set-change",
            up("ALTER TABLE flags MODIFY status ENUM('paid','new','shipped') NOT NULL;"),
            up("ALTER TABLE flags MODIFY status ENUM('new','paid','shipped','returned') NOT NULL;"),
        ),
        (
            "locking/add-stored-generated",
            up("ALTER TABLE users ADD COLUMN l VARCHAR(100) AS (lower(email)) STORED;"),
            up("ALTER TABLE users ADD COLUMN l VARCHAR(100) AS (lower(email)) VIRTUAL;"),
        ),
        (
            "locking/add-auto-increment",
            up(
                "ALTER TABLE legacy ADD COLUMN id INT NOT NULL AUTO_INCREMENT, ADD UNIQUE KEY (id);",
            ),
            up("ALTER TABLE legacy ADD COLUMN id INT NOT NULL DEFAULT 0;"),
        ),
        (
            "locking/column-position",
            up("ALTER TABLE users ADD COLUMN s INT NULL AFTER email;"),
            up("ALTER TABLE users ADD COLUMN s INT NULL;"),
        ),
        (
            "locking/reorder-column",
            up("ALTER TABLE users MODIFY age INT NULL FIRST;"),
            up("ALTER TABLE users MODIFY age INT NULL;"),
        ),
        (
            "locking/partition-change",
            up("ALTER TABLE users PARTITION BY HASH(id) PARTITIONS 4;"),
            up("CREATE TABLE t (id INT) PARTITION BY HASH(id) PARTITIONS 4;"),
        ),
        (
            "locking/repeated-alter",
            up(
                "ALTER TABLE users ADD COLUMN a INT NULL;\nALTER TABLE users ADD COLUMN b INT NULL;",
            ),
            up(
                "ALTER TABLE users ADD COLUMN a INT NULL;\nALTER TABLE legacy ADD COLUMN b INT NULL;",
            ),
        ),
        (
            "transaction/mixed-ddl-dml",
            up(
                "ALTER TABLE users ADD COLUMN a INT NULL;\nUPDATE legacy SET tag = 'x' WHERE tag = 'y';",
            ),
            up(
                "UPDATE users SET age = 1 WHERE id = 1;\nUPDATE legacy SET tag = 'x' WHERE tag = 'y';",
            ),
        ),
        (
            "transaction/multiple-ddl",
            up(
                "ALTER TABLE users ADD COLUMN a INT NULL;\nALTER TABLE legacy ADD COLUMN b INT NULL;",
            ),
            up("ALTER TABLE users ADD COLUMN a INT NULL, ADD COLUMN b INT NULL;"),
        ),
        (
            "transaction/backfill-with-ddl",
            up("ALTER TABLE users ADD COLUMN a INT NULL;\nUPDATE users SET a = 1 WHERE a IS NULL;"),
            up(
                "ALTER TABLE users ADD COLUMN a INT NULL;\nUPDATE legacy SET tag = 'x' WHERE tag = 'y';",
            ),
        ),
        (
            "reversibility/no-down",
            "-- +migrate Up\nCREATE TABLE t (id INT);\n".to_owned(),
            up_down("CREATE TABLE t (id INT);", "DROP TABLE t;"),
        ),
        (
            "reversibility/down-destroys-data",
            up_down(
                "ALTER TABLE users ADD COLUMN s INT NULL;",
                "ALTER TABLE users DROP COLUMN email;",
            ),
            up_down(
                "ALTER TABLE users ADD COLUMN s INT NULL;",
                "ALTER TABLE users DROP COLUMN s;",
            ),
        ),
        (
            "reversibility/no-way-back",
            up("DROP TABLE legacy;"),
            up_down(
                "DROP TABLE legacy;",
                "CREATE TABLE legacy (tag VARCHAR(100) NOT NULL);",
            ),
        ),
        (
            "unparsed/statement",
            up("FROB THE WIDGETS;"),
            up("SELECT 1;"),
        ),
        ("unparsed/stored-program", up(program), up(trigger)),
        (
            "unparsed/lint-ignore-without-reason",
            up("-- lint:ignore destructive/drop-table\nDROP TABLE users;"),
            up("-- lint:ignore destructive/drop-table archived\nDROP TABLE users;"),
        ),
        (
            "unparsed/lint-ignore-unknown-rule",
            up("-- lint:ignore destructive/drop-tables archived\nDROP TABLE users;"),
            up("-- lint:ignore destructive/drop-table archived\nDROP TABLE users;"),
        ),
        (
            "unparsed/lint-ignore-unused",
            up("-- lint:ignore destructive/drop-table archived\nSELECT 1;"),
            up("-- lint:ignore destructive/drop-table archived\nDROP TABLE users;"),
        ),
    ];
    for (rule, fire, miss) in &cases {
        let got = all_rules(fire);
        assert!(
            got.iter().any(|r| r == rule),
            "{rule} not in {got:?} for\n{fire}"
        );
        let got = all_rules(miss);
        assert!(
            !got.iter().any(|r| r == rule),
            "{rule} in {got:?} for\n{miss}"
        );
    }
    let mut covered: Vec<&str> = cases.iter().map(|c| c.0).collect();
    covered.sort_unstable();
    let mut all: Vec<&str> = Rule::ALL.iter().map(|r| r.id()).collect();
    all.sort_unstable();
    assert_eq!(covered, all, "every rule has its case");
}

#[test]
fn a_drop_column_inside_an_alter_the_parser_refuses_is_still_found() {
    // `DROP KEY` is beyond the parser; the DROP COLUMN beside it is read from the words.
    let sql = "ALTER TABLE users DROP KEY users_age, DROP COLUMN age;";
    let got = rules(sql);
    for rule in [
        "unparsed/statement",
        "destructive/drop-column",
        "incompatible/drop-column",
    ] {
        assert!(got.contains(&rule.to_owned()), "{rule} not in {got:?}");
    }
    fires(
        "ALTER TABLE users DROP KEY users_age, DROP name;",
        "destructive/drop-column",
    );
    fires(
        "ALTER TABLE users DROP KEY users_age, DROP PRIMARY KEY;",
        "locking/primary-key-change",
    );
    quiet(
        "ALTER TABLE users DROP KEY users_age, DROP INDEX i;",
        "destructive/drop-column",
    );
    // In a Down, a column its Up added is quiet; an older one is a loss.
    let got = placed(
        "-- +migrate Up
ALTER TABLE users ADD COLUMN s INT NULL;
-- +migrate Down
ALTER TABLE users DROP KEY users_s, DROP COLUMN s;
ALTER TABLE users DROP KEY users_age, DROP COLUMN IF EXISTS age;
",
    );
    assert!(
        !got.iter().any(|f| f == "down#1 destructive/drop-column"),
        "{got:?}"
    );
    assert!(
        got.iter().any(|f| f == "down#2 destructive/drop-column"),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|f| f == "down#2 reversibility/down-destroys-data"),
        "{got:?}"
    );
}
