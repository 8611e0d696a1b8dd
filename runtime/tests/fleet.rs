//! `lambda-migrate fleet` on the real binary and the real server of
//! `LM_TEST_DATABASE_URL`: 50 schemas, canaries first, one schema broken mid-migration,
//! the failure budget, the recovery, `fleet status` against each schema's own `status`,
//! and manifests refused before anything runs.
#![cfg(feature = "mysql")]

use std::path::Path;
use std::process::{Command, Output};

mod common;

use common::{BIN, text};
use engine::fleet::{Outcome, TargetResult};
use testkit::{TestDb, sql};

const IDS: [&str; 5] = [
    "1_first.sql",
    "2_second.sql",
    "3_third.sql",
    "4_fourth.sql",
    "5_fifth.sql",
];

/// Five migrations; the first records when it ran (to check the canaries ran first,
/// by order and not by time), the third has two statements so that a conflict on its
/// second leaves it part-way.
fn migrations() -> tempfile::TempDir {
    common::migrations(&[
        (
            IDS[0],
            "-- +migrate Up\nCREATE TABLE m1 (at datetime(6) NOT NULL);\nINSERT INTO m1 VALUES (NOW(6));\n-- +migrate Down\nDROP TABLE m1;\n",
        ),
        (
            IDS[1],
            "-- +migrate Up\nCREATE TABLE m2 (id int PRIMARY KEY);\n-- +migrate Down\nDROP TABLE m2;\n",
        ),
        (
            IDS[2],
            "-- +migrate Up\nCREATE TABLE m3a (id int);\nCREATE TABLE m3b (id int);\n-- +migrate Down\nDROP TABLE m3b;\nDROP TABLE m3a;\n",
        ),
        (
            IDS[3],
            "-- +migrate Up\nALTER TABLE m2 ADD COLUMN v int;\n-- +migrate Down\nALTER TABLE m2 DROP COLUMN v;\n",
        ),
        (
            IDS[4],
            "-- +migrate Up\nINSERT INTO m2 VALUES (1, 1);\n-- +migrate Down\nDELETE FROM m2 WHERE id = 1;\n",
        ),
    ])
}

/// `lambda-migrate fleet ARGS` on the default connection `url`.
fn fleet(url: &str, dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("fleet")
        .args(args)
        .arg("--source")
        .arg(dir)
        .env("DATABASE_URL", url)
        .env_remove("DB_HOST")
        .env_remove("LAMBDA_MIGRATE_VIA_LAMBDA")
        .current_dir(dir)
        .output()
        .unwrap()
}

fn results(path: &Path) -> Vec<TargetResult> {
    engine::fleet::result::read_lines(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn by_name<'r>(results: &'r [TargetResult], name: &str) -> &'r TargetResult {
    results.iter().find(|r| r.name == name).unwrap()
}

fn has_history(db: &TestDb) -> bool {
    common::table_exists(&db.name, "gorp_migrations")
}

/// The targets: `t0` … `t49` on 50 fresh schemas; `t10` and `t30` are the canary group.
struct Fleet {
    dbs: Vec<TestDb>,
    manifest: tempfile::NamedTempFile,
}

const CANARIES: [usize; 2] = [10, 30];
const BROKEN: usize = 3;

impl Fleet {
    fn new() -> Fleet {
        let dbs: Vec<TestDb> = (0..50).map(|_| TestDb::tagged("fleet")).collect();
        let mut text = String::from("# fifty tenants\n");
        for (i, db) in dbs.iter().enumerate() {
            let group = if CANARIES.contains(&i) {
                r#","group":"canary""#
            } else {
                ""
            };
            text.push_str(&format!(
                "{{\"name\":\"t{i}\",\"database\":\"{}\"{group}}}\n",
                db.name
            ));
        }
        let manifest = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(manifest.path(), text).unwrap();
        Fleet { dbs, manifest }
    }

    fn url(&self) -> String {
        self.dbs[0].url()
    }

    fn manifest(&self) -> &str {
        self.manifest.path().to_str().unwrap()
    }
}

/// The whole story on 50 schemas: canaries first; a broken schema stops a run with no
/// budget (the rest `not-run`, a non-zero exit); with a 5 % budget the other 49 finish;
/// once fixed, only the broken one does work; every history is right; `fleet status`
/// agrees with each schema's own `status` along the way.
#[test]
fn fifty_schemas_canaries_budget_and_recovery() {
    let dir = migrations();
    let dir = dir.path();
    let f = Fleet::new();
    let url = f.url();
    let broken = &f.dbs[BROKEN];
    // Migration 3's second statement will find its table there.
    broken.q("CREATE TABLE m3b (id int)");
    let work = tempfile::tempdir().unwrap();
    let r1 = work.path().join("r1.jsonl");

    // 1. No budget: the run stops starting targets at the broken one.
    let out = fleet(
        &url,
        dir,
        &[
            "up",
            "--manifest",
            f.manifest(),
            "--concurrency",
            "4",
            "--results",
            r1.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = common::stderr(&out);
    assert!(
        stderr.contains("the first failure: t3 (SqlError)"),
        "{}",
        text(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("t10 (canary)"), "{stdout}");
    assert!(
        stdout.contains("FAILED: over the failure budget"),
        "{stdout}"
    );
    let first = results(&r1);
    assert_eq!(first.len(), 50);
    // Results come in run order: the canary group first, then the manifest's order.
    let order: Vec<&str> = first.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(order[..4], ["t10", "t30", "t0", "t1"]);
    let t3 = by_name(&first, "t3");
    assert_eq!(t3.outcome, Outcome::Failed);
    assert_eq!(t3.error_kind.unwrap().as_str(), "SqlError");
    assert!(t3.message.as_deref().unwrap().contains("m3b"), "{t3:?}");
    assert_eq!(t3.applied, IDS[..2]);
    let at = order.iter().position(|n| *n == "t3").unwrap();
    // Everything before the broken one ran; nothing not run comes before it.
    assert!(first[..at].iter().all(|r| r.outcome == Outcome::Applied));
    let not_run: Vec<&TargetResult> = first
        .iter()
        .filter(|r| r.outcome == Outcome::NotRun)
        .collect();
    assert!(!not_run.is_empty(), "the run never stopped: {first:?}");
    assert!(
        not_run[0]
            .message
            .as_deref()
            .unwrap()
            .contains("budget (0%)"),
        "{:?}",
        not_run[0]
    );
    for (i, db) in f.dbs.iter().enumerate() {
        let r = by_name(&first, &format!("t{i}"));
        match r.outcome {
            Outcome::Applied => {
                assert_eq!(r.applied, IDS, "{r:?}");
                assert_eq!(r.last.as_deref(), Some(IDS[4]));
                assert_eq!(db.applied(), IDS, "t{i}");
            }
            Outcome::NotRun => assert!(!has_history(db), "t{i} was not to be touched"),
            Outcome::Failed => assert_eq!(i, BROKEN),
            o => panic!("t{i}: {o}"),
        }
    }
    // The canaries ran before any other target started: each schema's first migration
    // wrote its NOW(6); every canary's is before every other's.
    let times = |which: &dyn Fn(usize) -> bool| {
        let parts: Vec<String> = f
            .dbs
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                which(*i) && by_name(&first, &format!("t{i}")).outcome == Outcome::Applied
            })
            .map(|(_, db)| format!("SELECT at FROM `{}`.m1", db.name))
            .collect();
        parts.join(" UNION ALL ")
    };
    let canary_last = sql(
        None,
        &format!(
            "SELECT MAX(at) FROM ({}) c",
            times(&|i| CANARIES.contains(&i))
        ),
    );
    let others_first = sql(
        None,
        &format!(
            "SELECT MIN(at) FROM ({}) o",
            times(&|i| !CANARIES.contains(&i))
        ),
    );
    assert!(
        canary_last < others_first,
        "canaries ended {canary_last}, others began {others_first}"
    );

    // `fleet status` on this mixed state agrees with each schema's own `status`, and
    // `fleet plan` with what each would apply.
    status_agrees(&f, dir, &url);
    let out = fleet(
        &url,
        dir,
        &[
            "plan",
            "--manifest",
            f.manifest(),
            "--tolerate",
            "5",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let plan = common::json(&out);
    for t in plan["targets"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        let r = by_name(&first, name);
        let pending: Vec<&str> = t["pending"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        match r.outcome {
            Outcome::Applied => assert_eq!(t["outcome"], "up-to-date", "{t}"),
            Outcome::NotRun => assert_eq!(pending, IDS, "{t}"),
            // Part-way: planning refuses until it is resumed or resolved.
            _ => assert_eq!(t["error_kind"], "PartialMigration", "{t}"),
        }
    }
    assert_eq!(plan["summary"]["counts"]["failed"], 1);
    assert_eq!(plan["summary"]["passed"], true, "{plan}");

    // 2. A 5 % budget: the broken one fails again (now part-way), the other 49 finish.
    let r2 = work.path().join("r2.jsonl");
    let out = fleet(
        &url,
        dir,
        &[
            "up",
            "--manifest",
            f.manifest(),
            "--tolerate",
            "5",
            "--results",
            r2.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let json = common::json(&out);
    assert_eq!(json["summary"]["counts"]["failed"], 1, "{json}");
    assert_eq!(json["summary"]["counts"]["not-run"], 0, "{json}");
    assert_eq!(json["summary"]["first_failure"], "t3");
    assert_eq!(json["summary"]["error_kind"], "PartialMigration");
    assert_eq!(json["summary"]["passed"], true);
    let second = results(&r2);
    assert_eq!(
        serde_json::to_value(&second).unwrap(),
        json["targets"],
        "--results and --json hold the same results"
    );
    for r in &second {
        let before = by_name(&first, &r.name).outcome;
        let want = match before {
            _ if r.name == "t3" => Outcome::Failed,
            Outcome::Applied => Outcome::UpToDate,
            _ => Outcome::Applied,
        };
        assert_eq!(r.outcome, want, "{r:?}");
    }
    for (i, db) in f.dbs.iter().enumerate().filter(|(i, _)| *i != BROKEN) {
        assert_eq!(db.applied(), IDS, "t{i}");
    }

    // 3. Fixed as its journal requires: the conflicting table and the half-applied one
    // dropped, migration 3 recorded rolled back; then only the broken one does work.
    broken.q("DROP TABLE m3b; DROP TABLE m3a");
    // On the broken target alone, named by the manifest, on the default connection.
    let out = common::cli(
        &url,
        dir,
        &[
            "resolve",
            IDS[2],
            "--rolled-back",
            "--manifest",
            f.manifest(),
            "--target",
            &format!("t{BROKEN}"),
        ],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(f.dbs[0].applied(), IDS, "t0 was not the target");
    let r3 = work.path().join("r3.jsonl");
    let out = fleet(
        &url,
        dir,
        &[
            "up",
            "--manifest",
            f.manifest(),
            "--results",
            r3.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    for r in results(&r3) {
        if r.name == "t3" {
            assert_eq!(r.outcome, Outcome::Applied, "{r:?}");
            assert_eq!(r.applied, IDS[2..]);
        } else {
            assert_eq!(r.outcome, Outcome::UpToDate, "{r:?}");
            assert!(r.applied.is_empty());
        }
    }
    for (i, db) in f.dbs.iter().enumerate() {
        assert_eq!(db.applied(), IDS, "t{i}");
        assert_eq!(db.q("SELECT COUNT(*) FROM m2"), "1", "t{i}");
    }
    status_agrees(&f, dir, &url);
}

/// `fleet status --json` says for each target what that schema's own `status --json`
/// says: the newest applied, the pending ids, the part-way one.
fn status_agrees(f: &Fleet, dir: &Path, url: &str) {
    let out = fleet(url, dir, &["status", "--manifest", f.manifest(), "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let all = common::json(&out);
    let targets = all["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 50);
    for (i, db) in f.dbs.iter().enumerate() {
        let t = targets
            .iter()
            .find(|t| t["name"] == format!("t{i}"))
            .unwrap();
        let own = common::json(&common::run(db, dir, &["status", "--json"]));
        let rows = own["migrations"].as_array().unwrap();
        let ids = |pick: &dyn Fn(&str) -> bool| -> Vec<String> {
            rows.iter()
                .filter(|r| pick(r["state"].as_str().unwrap()))
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect()
        };
        let applied = ids(&|s| s == "applied");
        let pending = ids(&|s| ["pending", "catch-up", "partial"].contains(&s));
        let partial = ids(&|s| s == "partial");
        assert_eq!(
            t["last"].as_str(),
            applied.last().map(String::as_str),
            "t{i}: {t} vs {own}"
        );
        assert_eq!(t["status"]["applied"], applied.len(), "t{i}: {t}");
        assert_eq!(t["pending"], serde_json::json!(pending), "t{i}: {t}");
        assert_eq!(
            t["status"]["partial"].as_str(),
            partial.first().map(String::as_str),
            "t{i}: {t}"
        );
        assert_eq!(t["status"]["lock_held"], own["lock_held"], "t{i}");
        let outcome = if pending.is_empty() {
            "up-to-date"
        } else {
            "pending"
        };
        assert_eq!(t["outcome"], outcome, "t{i}: {t}");
    }
}

/// A manifest with a duplicate name, an unknown field or a `secret` target is refused
/// before anything connects, each problem naming its line, all of them at once.
#[test]
fn a_bad_manifest_is_refused_before_anything_runs() {
    let dir = migrations();
    let dir = dir.path();
    let a = TestDb::tagged("fleet_bad");
    let b = TestDb::tagged("fleet_bad");
    let manifest = dir.join("targets.jsonl");
    let secret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:tenants/acme-AbCdEf";
    std::fs::write(
        &manifest,
        format!(
            "{{\"name\":\"a\",\"database\":\"{}\"}}\n{{\"name\":\"a\",\"database\":\"{}\"}}\n{{\"name\":\"c\",\"database\":\"x\",\"owner\":\"me\"}}\n{{\"name\":\"s\",\"secret\":\"{secret}\"}}\n",
            a.name, b.name
        ),
    )
    .unwrap();
    for command in ["up", "plan", "status"] {
        let out = fleet(
            &a.url(),
            dir,
            &[command, "--manifest", manifest.to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let err = common::stderr(&out);
        let name = manifest.display();
        for want in [
            format!("{name}:2: name \"a\" is already used on line 1"),
            format!("{name}:3: unknown field \"owner\""),
            format!("{name}:4: secret targets are for the AWS path"),
            format!("error: {name}: the manifest is refused (3 error(s)); nothing was run"),
        ] {
            assert!(
                err.contains(&want),
                "{command}: no {want:?} in {}",
                text(&out)
            );
        }
        assert!(out.stdout.is_empty(), "{}", text(&out));
    }
    assert!(!has_history(&a) && !has_history(&b), "nothing may run");
    // The same as JSON.
    let out = fleet(
        &a.url(),
        dir,
        &["up", "--manifest", manifest.to_str().unwrap(), "--json"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let json = common::json(&out);
    assert_eq!(json["error_kind"], "BadRequest");
    let lines: Vec<u64> = json["manifest_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [2, 3, 4]);
    // A schema that is not there fails that target only, as a connection's failure.
    std::fs::write(
        &manifest,
        format!(
            "name,database\na,{}\nmissing,lmt_fleet_no_such_schema_{}\n",
            a.name,
            std::process::id()
        ),
    )
    .unwrap();
    let out = fleet(
        &a.url(),
        dir,
        &[
            "up",
            "--manifest",
            manifest.to_str().unwrap(),
            "--tolerate",
            "50",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let json = common::json(&out);
    assert_eq!(json["targets"][0]["outcome"], "applied", "{json}");
    assert_eq!(json["targets"][1]["outcome"], "failed", "{json}");
    assert_eq!(a.applied(), IDS);
}

/// SIGINT while targets run: their statements are stopped on the server, no more targets
/// start, the results of all are still written, and the process exits 130.
#[test]
fn an_interrupt_stops_the_fleet_and_keeps_the_results() {
    let dir = common::migrations(&[(
        "1_slow.sql",
        "-- +migrate Up\nSELECT SLEEP(60);\nCREATE TABLE s (id int);\n-- +migrate Down\nDROP TABLE s;\n",
    )]);
    let dbs: Vec<TestDb> = (0..6).map(|_| TestDb::tagged("fleet_int")).collect();
    let manifest = dir.path().join("targets.csv");
    let mut rows = String::from("name,database\n");
    for (i, db) in dbs.iter().enumerate() {
        rows.push_str(&format!("t{i},{}\n", db.name));
    }
    std::fs::write(&manifest, rows).unwrap();
    let results_file = dir.path().join("results.jsonl");
    let child = Command::new(BIN)
        .args(["fleet", "up", "--concurrency", "2", "--manifest"])
        .arg(&manifest)
        .arg("--results")
        .arg(&results_file)
        .arg("--source")
        .arg(dir.path())
        .env("DATABASE_URL", dbs[0].url())
        .env_remove("DB_HOST")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    common::running(&dbs[0], "SELECT SLEEP");
    common::signal(&child, "INT");
    let out = common::wait(child, std::time::Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(
        common::stderr(&out).contains("interrupted by SIGINT"),
        "{}",
        text(&out)
    );
    let got = results(&results_file);
    assert_eq!(got.len(), 6);
    assert_eq!(got[0].outcome, Outcome::Failed, "{:?}", got[0]);
    assert!(!common::table_exists(&dbs[0].name, "s"));
    let not_run: Vec<&TargetResult> = got
        .iter()
        .filter(|r| r.outcome == Outcome::NotRun)
        .collect();
    assert!(not_run.len() >= 4, "{got:?}");
    assert_eq!(
        not_run[0].message.as_deref(),
        Some("not started: the run was interrupted")
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("not-run"),
        "{}",
        text(&out)
    );
}
