//! What a job's lint means for the job: the pure policy from a [`LintReport`] to a
//! refusal, or to the summary text and output variables a passing job carries, within
//! CodePipeline's limits. The full report is stored beside the artifact
//! ([`crate::lambda::beside`]); every text here ends by saying where.

use engine::lint::{FailOn, Finding, LintReport, Severity};
use serde::{Deserialize, Serialize};

use super::outcome::{FAILURE_LIMIT, Outcome, Variable};
use crate::text::{list_within, one_line, truncate};

/// The most of a job's summary the lint part takes; the command's own summary (what was
/// applied or is pending) keeps the rest.
pub const LINT_SUMMARY_LIMIT: usize = 1024;

/// The unsuppressed findings' counts, kept in a continuation token so that a follow-up's
/// result still publishes them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LintCounts {
    /// Errors.
    #[serde(rename = "e")]
    pub errors: usize,
    /// Warnings.
    #[serde(rename = "w")]
    pub warnings: usize,
    /// Notices.
    #[serde(rename = "n")]
    pub notices: usize,
}

impl LintCounts {
    /// The report's counts.
    pub fn of(report: &LintReport) -> LintCounts {
        LintCounts {
            errors: report.summary.errors,
            warnings: report.summary.warnings,
            notices: report.summary.notices,
        }
    }
}

/// A passing lint, as a job's result shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linted {
    /// The counts, for the output variables.
    pub counts: LintCounts,
    /// The full report's key in the artifact bucket.
    pub key: String,
    /// The summary's lint part (at most [`LINT_SUMMARY_LIMIT`] characters).
    pub line: String,
}

/// Whether a finding of `severity` fails the job at `fail_on`.
pub fn fails(fail_on: FailOn, severity: Severity) -> bool {
    match fail_on {
        FailOn::Error => severity == Severity::Error,
        FailOn::Warning => severity >= Severity::Warning,
        FailOn::Never => false,
    }
}

/// One finding as the pipeline shows it: the rule, then where (file names are untrusted:
/// one line).
fn cite(f: &Finding) -> String {
    format!("{} at {}:{}", f.rule, one_line(&f.file), f.line)
}

/// The job's failure message when `report` has unsuppressed findings at or above
/// `fail_on`: each finding's rule and `file:line` (as many as fit), the remedy, and where
/// the full report is (`location`, always kept).
pub fn refusal(report: &LintReport, fail_on: FailOn, location: &str) -> Option<String> {
    let failing: Vec<String> = report
        .findings
        .iter()
        .filter(|f| !f.suppressed && fails(fail_on, f.severity))
        .map(cite)
        .collect();
    if failing.is_empty() {
        return None;
    }
    let head = format!(
        "lint refused the migrations before the migrator ran: {} finding(s) at {} level or \
         above ({} error(s), {} warning(s)): ",
        failing.len(),
        fail_on.as_str(),
        report.summary.errors,
        report.summary.warnings
    );
    let tail = format!(
        ". Fix each, or suppress it with a reasoned `-- lint:ignore RULE-ID reason` comment \
         on the line above its statement (see docs/lint.md). Full report: {location}"
    );
    let room = FAILURE_LIMIT.saturating_sub(tail.chars().count());
    Some(truncate(
        &format!("{}{tail}", list_within(&head, &failing, room)),
        FAILURE_LIMIT,
    ))
}

/// A passing lint's summary part and variables: the counts, the unsuppressed findings
/// below the failing severity (as many as fit), and where the full report is.
pub fn passed(report: &LintReport, key: String, location: &str) -> Linted {
    let counts = LintCounts::of(report);
    let rest: Vec<String> = report
        .findings
        .iter()
        .filter(|f| !f.suppressed)
        .map(|f| format!("{} {}", f.severity, cite(f)))
        .collect();
    Linted {
        line: line(counts, report.summary.suppressed, &rest, location),
        counts,
        key,
    }
}

/// A follow-up's view of the lint the first invocation ran: the counts from the token.
pub fn resumed(counts: LintCounts, key: String, location: &str) -> Linted {
    Linted {
        line: line(counts, 0, &[], location),
        counts,
        key,
    }
}

fn line(counts: LintCounts, suppressed: usize, rest: &[String], location: &str) -> String {
    let mut head = format!(
        "Lint: {} error(s), {} warning(s), {} notice(s)",
        counts.errors, counts.warnings, counts.notices
    );
    if suppressed > 0 {
        head.push_str(&format!(", {suppressed} suppressed"));
    }
    let tail = format!("; full report: {location}");
    let room = LINT_SUMMARY_LIMIT.saturating_sub(tail.chars().count());
    let shown = if rest.is_empty() {
        truncate(&head, room)
    } else {
        list_within(&format!("{head}: "), rest, room)
    };
    truncate(&format!("{shown}{tail}"), LINT_SUMMARY_LIMIT)
}

impl Linted {
    /// `outcome` with the lint added: a success's summary gains the lint part (its own
    /// text cut to make room) and its variables the counts and the report's key. A
    /// continuation carries the counts in its token instead (CodePipeline takes output
    /// variables only with the final result); a failure is left as it is.
    pub fn annotate(&self, outcome: Outcome) -> Outcome {
        outcome.annotated(
            &self.line,
            [
                (Variable::LintErrors, self.counts.errors.to_string()),
                (Variable::LintWarnings, self.counts.warnings.to_string()),
                (Variable::LintNotices, self.counts.notices.to_string()),
                (Variable::LintReportKey, self.key.clone()),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::outcome::SUMMARY_LIMIT;
    use super::*;
    use engine::lint::{Category, SectionName, Summary};

    fn finding(rule: &str, severity: Severity, file: &str, line: usize) -> Finding {
        Finding {
            migration: file.rsplit('/').next().unwrap_or(file).to_owned(),
            file: file.to_owned(),
            section: SectionName::Up,
            statement: 1,
            line,
            rule: rule.to_owned(),
            category: Category::Destructive,
            severity,
            message: "m".into(),
            suppressed: false,
            excerpt: String::new(),
            justification: String::new(),
        }
    }

    fn report(findings: Vec<Finding>) -> LintReport {
        let mut summary = Summary::default();
        for f in &findings {
            match (f.suppressed, f.severity) {
                (true, _) => summary.suppressed += 1,
                (false, Severity::Error) => summary.errors += 1,
                (false, Severity::Warning) => summary.warnings += 1,
                (false, Severity::Notice) => summary.notices += 1,
            }
        }
        LintReport { findings, summary }
    }

    const AT: &str = "s3://bucket/pipe/Src/abc.lint.json";

    #[test]
    fn findings_at_the_failing_severity_refuse_the_job_naming_rule_and_line() {
        let r = report(vec![
            finding(
                "destructive/drop-table",
                Severity::Error,
                "migrations/3_drop.sql",
                2,
            ),
            finding(
                "reversibility/no-down",
                Severity::Warning,
                "migrations/3_drop.sql",
                2,
            ),
        ]);
        let m = refusal(&r, FailOn::Error, AT).expect("refused");
        assert!(
            m.contains("1 finding(s) at error level")
                && m.contains("destructive/drop-table at migrations/3_drop.sql:2")
                && !m.contains("no-down")
                && m.ends_with(&format!("Full report: {AT}")),
            "{m}"
        );
        let m = refusal(&r, FailOn::Warning, AT).expect("refused");
        assert!(
            m.contains("2 finding(s)") && m.contains("reversibility/no-down"),
            "{m}"
        );
        assert_eq!(refusal(&r, FailOn::Never, AT), None);
        // A suppressed finding fails nothing.
        let mut quiet = r.clone();
        quiet.findings[0].suppressed = true;
        quiet.summary.errors = 0;
        assert_eq!(refusal(&quiet, FailOn::Error, AT), None);
    }

    #[test]
    fn thousands_of_findings_fit_the_message_and_keep_the_reports_location() {
        let long = format!("migrations/{}.sql", "x".repeat(300));
        let r = report(
            (0..5000)
                .map(|i| finding("destructive/drop-table", Severity::Error, &long, i + 1))
                .collect(),
        );
        let m = refusal(&r, FailOn::Error, AT).unwrap();
        assert!(m.chars().count() <= FAILURE_LIMIT, "{}", m.chars().count());
        assert!(m.contains(" more. Fix each"), "{m}");
        assert!(m.ends_with(AT), "{m}");

        let linted = passed(&r, "k".into(), AT);
        assert!(linted.line.chars().count() <= LINT_SUMMARY_LIMIT);
        assert!(linted.line.ends_with(AT), "{}", linted.line);
        let huge = Outcome::Success {
            summary: "é".repeat(5000),
            variables: vec![],
        };
        let Outcome::Success { summary, .. } = linted.annotate(huge) else {
            panic!("a success")
        };
        assert!(summary.chars().count() <= SUMMARY_LIMIT);
        assert!(summary.ends_with(AT), "{summary}");
    }

    #[test]
    fn a_passing_lint_adds_its_counts_and_key_to_a_success_only() {
        let r = report(vec![
            finding(
                "reversibility/no-down",
                Severity::Warning,
                "migrations/1_a.sql",
                2,
            ),
            finding(
                "unparsed/stored-program",
                Severity::Notice,
                "migrations/2_b.sql",
                5,
            ),
        ]);
        let linted = passed(&r, "pipe/Src/abc.lint.json".into(), AT);
        assert_eq!(
            linted.line,
            format!(
                "Lint: 0 error(s), 1 warning(s), 1 notice(s): warning reversibility/no-down at \
                 migrations/1_a.sql:2, notice unparsed/stored-program at migrations/2_b.sql:5; \
                 full report: {AT}"
            )
        );
        let ok = Outcome::Success {
            summary: "Applied 2 migration(s)".into(),
            variables: vec![(Variable::AppliedCount, "2".into())],
        };
        let Outcome::Success { summary, variables } = linted.annotate(ok) else {
            panic!("a success")
        };
        assert!(
            summary.starts_with("Applied 2 migration(s). Lint: 0 error(s)"),
            "{summary}"
        );
        let var = |v: Variable| {
            variables
                .iter()
                .find(|(n, _)| *n == v)
                .map(|(_, x)| x.as_str())
        };
        assert_eq!(var(Variable::LintErrors), Some("0"));
        assert_eq!(var(Variable::LintWarnings), Some("1"));
        assert_eq!(var(Variable::LintNotices), Some("1"));
        assert_eq!(var(Variable::LintReportKey), Some("pipe/Src/abc.lint.json"));
        let failed = Outcome::failed("no");
        assert_eq!(linted.annotate(failed.clone()), failed);
        let resumed = resumed(linted.counts, linted.key.clone(), AT);
        assert_eq!(
            resumed.line,
            format!("Lint: 0 error(s), 1 warning(s), 1 notice(s); full report: {AT}")
        );
    }
}
