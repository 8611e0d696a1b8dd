//! `lambda-migrate lint` as a user runs it: on the repository's example migrations, and
//! on a folder (and a zip) of migrations written to break rules, with the expected
//! finding at each statement.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{findings, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn bad() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lint/bad")
}

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lambda-migrate"))
        .args(args)
        .env_remove("LAMBDA_MIGRATE_VIA_LAMBDA")
        .output()
        .unwrap()
}

/// What the bad set must produce, statement by statement.
const EXPECTED: &[&str] = &[
    "20250102000000-narrow-email.sql up#1 destructive/narrowing",
    "20250102000000-narrow-email.sql up#1 locking/type-change",
    "20250103000000-widen-nick.sql down#1 destructive/narrowing",
    "20250103000000-widen-nick.sql down#1 locking/type-change",
    "20250104000000-cleanup.sql up#1 destructive/drop-table +suppressed",
    "20250104000000-cleanup.sql up#1 reversibility/no-down",
    "20250104000000-cleanup.sql up#1 reversibility/no-way-back",
    "20250104000000-cleanup.sql up#2 destructive/truncate",
    "20250104000000-cleanup.sql up#2 transaction/multiple-ddl",
    "20250104000000-cleanup.sql up#2 unparsed/lint-ignore-without-reason",
    "20250104000000-cleanup.sql up#2 reversibility/no-way-back",
    "20250105000000-backfill.sql up#1 incompatible/add-not-null-without-default",
    "20250105000000-backfill.sql up#2 destructive/update-without-where",
    "20250105000000-backfill.sql up#2 transaction/mixed-ddl-dml",
    "20250105000000-backfill.sql up#2 transaction/backfill-with-ddl",
    "20250105000000-backfill.sql up#3 unparsed/statement",
];

#[test]
fn the_bad_set_gets_its_expected_findings_and_is_refused() {
    let dir = bad();
    let out = cli(&["lint", "--source", dir.to_str().unwrap(), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(9),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let mut got = findings(&v);
    let mut want: Vec<String> = EXPECTED.iter().map(|s| s.to_string()).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    let s = &v["summary"];
    assert_eq!(s["migrations"], 6);
    assert_eq!(s["statements"], 14);
    assert_eq!(
        (s["parsed"].as_u64(), s["unparsed"].as_u64()),
        (Some(13), Some(1))
    );
    assert_eq!(
        (s["errors"].as_u64(), s["suppressed"].as_u64()),
        (Some(4), Some(1))
    );
    let truncate = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "destructive/truncate")
        .unwrap();
    assert_eq!(truncate["line"], 5);
    assert!(
        truncate["file"]
            .as_str()
            .unwrap()
            .ends_with("20250104000000-cleanup.sql")
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("lint refused"), "{stderr}");

    // Nothing fails at `never`; warnings count at `warning`.
    let never = cli(&[
        "lint",
        "--source",
        dir.to_str().unwrap(),
        "--lint-fail-on",
        "never",
    ]);
    assert_eq!(never.status.code(), Some(0));
    let text = String::from_utf8_lossy(&never.stdout);
    assert!(
        text.contains("20250104000000-cleanup.sql:5: error destructive/truncate\n    TRUNCATE TABLE accounts;\n"),
        "{text}"
    );
    assert!(
        text.contains("[docs/lint.md#destructive-truncate]"),
        "{text}"
    );
    assert!(
        text.contains("6 migration(s), 14 statement(s) (13 parsed, 1 unparsed)"),
        "{text}"
    );
}

#[test]
fn a_zip_source_lints_like_the_folder() {
    let zip = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lint_cli_bad.zip");
    let _ = std::fs::remove_file(&zip);
    let st = Command::new("zip")
        .current_dir(bad().parent().unwrap())
        .args(["-q", "-r", "-X"])
        .arg(&zip)
        .arg("bad")
        .status()
        .expect("zip (Info-ZIP) is installed by .ci/install-deps");
    assert!(st.success());
    let out = cli(&[
        "lint",
        "--source",
        zip.to_str().unwrap(),
        "--dir",
        "bad",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(9));
    let mut got = findings(&json(&out));
    got.sort();
    let mut want: Vec<String> = EXPECTED.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn the_repositorys_examples_pass_at_the_default_severity() {
    let dir = repo().join("migrations");
    let out = cli(&["lint", "--source", dir.to_str().unwrap(), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(
        findings(&v),
        [
            "20240104110000-plans.sql up#2 transaction/mixed-ddl-dml",
            // sqlparser does not read a procedure with a BEGIN ... END body.
            "20240105120000-order-totals-procedure.sql up#1 unparsed/stored-program",
        ]
    );
    let s = &v["summary"];
    assert_eq!(
        (
            s["statements"].as_u64(),
            s["parsed"].as_u64(),
            s["unparsed"].as_u64()
        ),
        (Some(11), Some(10), Some(1))
    );
    let refused = cli(&[
        "lint",
        "--source",
        dir.to_str().unwrap(),
        "--lint-fail-on",
        "warning",
    ]);
    assert_eq!(refused.status.code(), Some(9));
}

#[test]
fn lint_does_not_run_through_the_migrator() {
    let out = cli(&[
        "--via-lambda",
        "fn",
        "lint",
        "--source",
        bad().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs no database"));
}

#[test]
fn lint_fail_on_is_read_from_its_variable_and_the_flag_beats_it() {
    let examples = repo().join("migrations");
    let run = |var: Option<&str>, flag: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_lambda-migrate"));
        c.args(["lint", "--json", "--source", examples.to_str().unwrap()])
            .env_remove("LAMBDA_MIGRATE_VIA_LAMBDA")
            .env_remove("LINT_FAIL_ON");
        if let Some(f) = flag {
            c.args(["--lint-fail-on", f]);
        }
        if let Some(v) = var {
            c.env("LINT_FAIL_ON", v);
        }
        c.output().unwrap()
    };
    // The examples hold a warning and no error.
    assert_eq!(run(None, None).status.code(), Some(0));
    assert_eq!(run(Some("warning"), None).status.code(), Some(9));
    assert_eq!(run(Some(""), None).status.code(), Some(0), "empty is unset");
    assert_eq!(run(Some("warning"), Some("error")).status.code(), Some(0));
    let bad = run(Some("loud"), None);
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("LINT_FAIL_ON") && stderr.contains("error, warning, never"),
        "{stderr}"
    );
}

#[test]
fn lint_uses_the_database_flags_only_with_pending() {
    let out = cli(&[
        "lint",
        "--source",
        bad().to_str().unwrap(),
        "--database",
        "mysql://u:secret@127.0.0.1:1/x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--database") && err.contains("--pending") && !err.contains("secret"),
        "{err}"
    );
    let out = cli(&[
        "lint",
        "--pending",
        "--source",
        bad().to_str().unwrap(),
        "--allow-drift",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-drift"));
    let out = cli(&[
        "lint",
        "--sarif",
        "--json",
        "--source",
        bad().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "--sarif and --json conflict");
}

/// The fields SARIF 2.1.0's schema requires, and the ones code-review tools read, on the
/// bad set's log (scripts/check-sarif validates the same log against the OASIS schema).
#[test]
fn sarif_output_carries_every_finding_with_rule_level_and_location() {
    let dir = bad();
    let out = cli(&["lint", "--source", dir.to_str().unwrap(), "--sarif"]);
    assert_eq!(
        out.status.code(),
        Some(9),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = json(&out);
    assert_eq!(log["version"], "2.1.0");
    assert!(
        log["$schema"]
            .as_str()
            .unwrap()
            .ends_with("sarif-schema-2.1.0.json")
    );
    let runs = log["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let driver = &runs[0]["tool"]["driver"];
    assert_eq!(driver["name"], "lambda-migrate");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    let rules = driver["rules"].as_array().unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let docs = std::fs::read_to_string(repo().join("docs/lint.md")).unwrap();
    for r in rules {
        assert!(!r["shortDescription"]["text"].as_str().unwrap().is_empty());
        assert!(matches!(
            r["defaultConfiguration"]["level"].as_str(),
            Some("error" | "warning" | "note")
        ));
        let anchor = format!(
            "docs/lint.md#{}",
            r["id"].as_str().unwrap().replace('/', "-")
        );
        assert!(
            r["help"]["text"].as_str().unwrap().contains(&anchor)
                && r["help"]["markdown"].as_str().unwrap().contains(&anchor),
            "{r}"
        );
        // The link lands on an anchor of docs/lint.md.
        let target = format!("<a id=\"{}\">", &anchor["docs/lint.md#".len()..]);
        assert!(docs.contains(&target), "docs/lint.md has no {target}");
    }
    let results = runs[0]["results"].as_array().unwrap();
    assert_eq!(results.len(), EXPECTED.len());
    let mut suppressed = 0;
    for r in results {
        let id = r["ruleId"].as_str().unwrap();
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(ids[index], id);
        assert!(matches!(
            r["level"].as_str(),
            Some("error" | "warning" | "note")
        ));
        assert!(!r["message"]["text"].as_str().unwrap().is_empty());
        let loc = &r["locations"][0]["physicalLocation"];
        let uri = loc["artifactLocation"]["uri"].as_str().unwrap();
        assert!(uri.contains("runtime/tests/lint/bad/2025"), "{uri}");
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
        if let Some(s) = r.get("suppressions") {
            suppressed += 1;
            assert_eq!(s[0]["kind"], "inSource");
            assert!(!s[0]["justification"].as_str().unwrap().is_empty(), "{r}");
        }
    }
    assert_eq!(suppressed, 1);
    let truncate = results
        .iter()
        .find(|r| r["ruleId"] == "destructive/truncate")
        .unwrap();
    assert_eq!(truncate["level"], "error");
    let loc = &truncate["locations"][0]["physicalLocation"];
    assert!(
        loc["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("20250104000000-cleanup.sql")
    );
    assert_eq!(loc["region"]["startLine"], 5);
}
