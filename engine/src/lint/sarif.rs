//! A [`LintReport`] as SARIF 2.1.0 (OASIS), the format code-review tools show as
//! annotations: one run, every rule in `tool.driver.rules`, one result per finding.
//!
//! Choices the format leaves open:
//! - `helpUri` must be an absolute URI and the tool cannot know where the repository is
//!   hosted, so each rule's link to `docs/lint.md#anchor` is in `help` (text and
//!   Markdown), repository-relative, and there is no `informationUri`.
//! - A finding's `artifactLocation.uri` is the file as the source named it, with the
//!   characters a URI cannot hold percent-encoded; `region.startLine` is its `line`.
//! - A suppressed finding stays, with `suppressions: [{"kind": "inSource", ...}]` and the
//!   comment's reason as the justification (a remote run's report carries no reason).
//! - Severities map to levels: error → `error`, warning → `warning`, notice → `note`.

use serde_json::{Value, json};

use super::{Finding, LintReport, Rule, Severity};

/// The schema the output names.
pub const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The tool's name in `tool.driver.name`.
pub const TOOL: &str = "lambda-migrate";

/// SARIF's level for a severity.
pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Notice => "note",
    }
}

/// `report` as one SARIF log; `version` is the tool's.
pub fn to_sarif(report: &LintReport, version: &str) -> Value {
    let rules: Vec<Value> = Rule::ALL.iter().map(|&r| rule(r)).collect();
    let results: Vec<Value> = report.findings.iter().map(result).collect();
    let s = &report.summary;
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": TOOL,
                "version": version,
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
            "properties": {"summary": {
                "migrations": s.migrations,
                "statements": s.statements,
                "parsed": s.parsed,
                "unparsed": s.unparsed,
                "errors": s.errors,
                "warnings": s.warnings,
                "notices": s.notices,
                "suppressed": s.suppressed,
            }},
        }],
    })
}

fn rule(r: Rule) -> Value {
    let doc = r.doc();
    json!({
        "id": r.id(),
        "shortDescription": {"text": r.summary()},
        "help": {
            "text": format!("{} See {doc}.", capitalized(r.summary())),
            "markdown": format!("{} See [{doc}]({doc}).", capitalized(r.summary())),
        },
        "defaultConfiguration": {"level": level(r.severity())},
        "properties": {"category": r.category().as_str(), "tags": [r.category().as_str()]},
    })
}

fn result(f: &Finding) -> Value {
    let mut region = json!({"startLine": f.line.max(1)});
    if !f.excerpt.is_empty() {
        region["snippet"] = json!({"text": f.excerpt});
    }
    let mut v = json!({
        "ruleId": f.rule,
        "level": level(f.severity),
        "message": {"text": f.message},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": uri(&f.file)},
            "region": region,
        }}],
        "properties": {
            "migration": f.migration,
            "section": f.section,
            "statement": f.statement,
            "category": f.category,
        },
    });
    if let Some(i) = Rule::ALL.iter().position(|r| r.id() == f.rule) {
        v["ruleIndex"] = json!(i);
    }
    if f.suppressed {
        let mut s = json!({"kind": "inSource"});
        if !f.justification.is_empty() {
            s["justification"] = json!(f.justification);
        }
        v["suppressions"] = json!([s]);
    }
    v
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), c.as_str()),
        None => String::new(),
    }
}

/// A file path as a URI reference: unreserved characters, `/` and sub-delimiters kept,
/// everything else (spaces, `%`, `#`, `?`, non-ASCII, controls) percent-encoded by byte.
pub fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'/'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'@'
            );
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod sarif_tests {
    use super::*;
    use crate::lint::{Category, SectionName, Summary};

    fn finding(suppressed: bool) -> Finding {
        Finding {
            migration: "1_a.sql".into(),
            file: "dir with space/1_a.sql".into(),
            section: SectionName::Up,
            statement: 2,
            line: 7,
            rule: Rule::DropTable.id().into(),
            category: Category::Destructive,
            severity: Severity::Error,
            message: "drops a table and its rows".into(),
            suppressed,
            excerpt: "DROP TABLE t;".into(),
            justification: if suppressed {
                "empty".into()
            } else {
                String::new()
            },
        }
    }

    #[test]
    fn findings_become_results_and_suppressions() {
        let report = LintReport {
            findings: vec![finding(false), finding(true)],
            summary: Summary::default(),
        };
        let v = to_sarif(&report, "1.2.3");
        assert_eq!(v["version"], "2.1.0");
        let run = &v["runs"][0];
        assert_eq!(run["tool"]["driver"]["version"], "1.2.3");
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), Rule::ALL.len());
        let r = &run["results"][0];
        assert_eq!(r["ruleId"], "destructive/drop-table");
        assert_eq!(
            rules[r["ruleIndex"].as_u64().unwrap() as usize]["id"],
            r["ruleId"]
        );
        assert_eq!(r["level"], "error");
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "dir%20with%20space/1_a.sql");
        assert_eq!(loc["region"]["startLine"], 7);
        assert!(r.get("suppressions").is_none());
        let s = &run["results"][1]["suppressions"][0];
        assert_eq!(
            (&s["kind"], &s["justification"]),
            (&json!("inSource"), &json!("empty"))
        );
    }

    #[test]
    fn levels_and_uris() {
        assert_eq!(level(Severity::Notice), "note");
        assert_eq!(uri("a/b-1_c.sql"), "a/b-1_c.sql");
        assert_eq!(uri("a#b%?é"), "a%23b%25%3F%C3%A9");
        let notice = Rule::ALL
            .iter()
            .find(|r| r.severity() == Severity::Notice)
            .unwrap();
        let v = to_sarif(&LintReport::default(), "0");
        let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
        let got = rules.iter().find(|r| r["id"] == notice.id()).unwrap();
        assert_eq!(got["defaultConfiguration"]["level"], "note");
        assert!(
            got["help"]["markdown"]
                .as_str()
                .unwrap()
                .contains("(docs/lint.md#")
        );
        assert_eq!(v["runs"][0]["results"], json!([]));
    }
}
