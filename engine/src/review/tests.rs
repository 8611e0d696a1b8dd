use super::target::{ATTEMPTS, Target, target};
use super::*;

fn probe(sql: &str) -> target::Probe {
    match target(sql) {
        Target::Probe(p) => p,
        other => panic!("{sql}: {other:?}"),
    }
}

#[test]
fn alters_and_index_statements_are_aimed_at_the_probe() {
    let p = probe("ALTER TABLE shop.orders ADD COLUMN note varchar(20)");
    assert_eq!(
        (p.schema.as_deref(), p.table.as_str()),
        (Some("shop"), "orders")
    );
    assert_eq!(
        p.sql("_lm_probe_1", ATTEMPTS[0]),
        "ALTER TABLE `shop`.`_lm_probe_1` ALGORITHM=INSTANT, ADD COLUMN note varchar(20)"
    );
    assert_eq!(
        p.sql("_lm_probe_1", ATTEMPTS[1]),
        "ALTER TABLE `shop`.`_lm_probe_1` ALGORITHM=INPLACE, LOCK=NONE, ADD COLUMN note varchar(20)"
    );
    assert_eq!(
        p.sql("_lm_probe_1", ATTEMPTS[5]),
        "ALTER TABLE `shop`.`_lm_probe_1` ADD COLUMN note varchar(20)"
    );
    let p = probe("CREATE UNIQUE INDEX i ON `t``x` (a) -- why");
    assert_eq!((p.schema.as_deref(), p.table.as_str()), (None, "t`x"));
    assert_eq!(
        p.sql("_lm_probe_2", ATTEMPTS[1]),
        "CREATE UNIQUE INDEX i ON `_lm_probe_2` (a) -- why\nALGORITHM=INPLACE LOCK=NONE"
    );
    assert!(p.adds_index);
    let p = probe("drop index i on t");
    assert_eq!(
        p.sql("p", ATTEMPTS[0]),
        "drop index i on `p`\nALGORITHM=INSTANT"
    );
    assert!(!p.explicit && !p.adds_index);
    assert!(probe("ALTER TABLE t ADD INDEX (a)").adds_index);
    assert!(probe("ALTER TABLE t ADD COLUMN c int UNIQUE").adds_index);
    assert!(!probe("ALTER TABLE t ADD COLUMN c int").adds_index);
    assert!(probe("ALTER TABLE t ADD c int, ALGORITHM=COPY").explicit);
    assert!(!probe("ALTER TABLE t RENAME COLUMN algorithm TO lock_").explicit);
    // A keyword inside a string is not the statement's.
    assert!(matches!(
        target("ALTER TABLE t COMMENT 'SELECT * FROM other; REFERENCES'"),
        Target::Probe(_)
    ));
}

#[test]
fn statements_that_could_reach_another_table_are_not_probed() {
    for (sql, why) in [
        (
            "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES p (id)",
            "foreign key",
        ),
        (
            "ALTER TABLE t ADD COLUMN p INT REFERENCES p (id)",
            "another table",
        ),
        ("ALTER TABLE t DROP FOREIGN KEY f", "foreign key"),
        ("ALTER TABLE t RENAME TO u", "renames the table"),
        ("ALTER TABLE t RENAME u", "renames the table"),
        (
            "ALTER TABLE t EXCHANGE PARTITION p WITH TABLE u",
            "partition",
        ),
        ("ALTER TABLE t DISCARD TABLESPACE", "tablespace"),
        ("ALTER TABLE IF EXISTS t ADD c int", "IF EXISTS"),
        ("CREATE INDEX i", "could not be read"),
    ] {
        match target(sql) {
            Target::Unprobeable { reason, .. } => assert!(reason.contains(why), "{sql}: {reason}"),
            other => panic!("{sql}: {other:?}"),
        }
    }
    for sql in [
        "CREATE TABLE t (a int)",
        "DROP TABLE t",
        "INSERT INTO t VALUES (1)",
        "ALTER VIEW v AS SELECT 1",
        "",
    ] {
        assert_eq!(target(sql), Target::Other, "{sql}");
    }
}

fn entry(algorithm: Algorithm, lock: &str) -> ReviewEntry {
    ReviewEntry {
        migration: "1".into(),
        section: crate::lint::SectionName::Up,
        statement: 1,
        table: "s.t".into(),
        algorithm,
        lock: lock.into(),
        rebuilds: Some(false),
        rows: 100_000,
        data_bytes: 10 << 20,
        index_bytes: 0,
        row_versions: None,
        estimate_secs: 0.0,
        blockers: Vec::new(),
        verdict: Verdict::Safe,
        reasons: Vec::new(),
    }
}

#[test]
fn verdicts_follow_algorithm_size_deadline_and_blockers() {
    let mut e = entry(Algorithm::Instant, "NONE");
    judge(&mut e, Some(900.0));
    assert_eq!(e.verdict, Verdict::Safe, "{:?}", e.reasons);

    let mut e = entry(Algorithm::Inplace, "NONE");
    judge(&mut e, Some(900.0));
    assert_eq!(
        e.verdict,
        Verdict::Safe,
        "an index build that writes go on beside"
    );

    let mut e = entry(Algorithm::Copy, "SHARED");
    e.estimate_secs = 10.0;
    judge(&mut e, Some(900.0));
    assert_eq!(e.verdict, Verdict::Review);
    assert!(e.reasons[0].contains("copies the whole table (100000 rows, 10.0 MiB)"));

    let mut e = entry(Algorithm::Copy, "SHARED");
    e.estimate_secs = 1000.0;
    judge(&mut e, Some(900.0));
    assert_eq!(e.verdict, Verdict::Danger);
    assert!(
        e.reasons.iter().any(|r| r.contains("gh-ost")),
        "{:?}",
        e.reasons
    );

    let mut e = entry(Algorithm::Instant, "NONE");
    e.blockers.push(Blocker {
        connection: 42,
        user: "app".into(),
        host: "10.0.0.1".into(),
        age_secs: 30,
        statement: String::new(),
        lock: String::new(),
    });
    judge(&mut e, None);
    assert_eq!(e.verdict, Verdict::Review);
    assert!(e.reasons[0].contains("42 (app@10.0.0.1, 30 s)"));

    let mut e = entry(Algorithm::Instant, "NONE");
    e.row_versions = Some(63);
    judge(&mut e, None);
    assert_eq!(e.verdict, Verdict::Review);

    let m = judge_migration("1", &[e], &[]);
    assert_eq!(m.verdict, Verdict::Review);
    assert!(m.reasons[0].starts_with("statement 1 (s.t): "));
}
