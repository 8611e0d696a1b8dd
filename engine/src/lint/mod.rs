//! `lint`: what each migration's statements will do to production, found offline.
//!
//! Pure: the input is the parsed migrations (their statements, and their raw bytes for
//! `lint:ignore` comments), the output is a [`LintReport`]. Each statement is read by
//! `sqlparser`'s MySQL dialect; one it cannot read becomes an `unparsed` finding, never a
//! silent pass. A [`schema::Schema`] replayed from the Up sections of the earlier
//! migrations tells a narrowing MODIFY from a widening one.
//!
//! A finding belongs to the statement that creates the hazard: for a pair (DML after
//! DDL, a second ALTER of a table) the later one; for the whole migration (no Down) its
//! first Up statement.

mod check;
pub mod rule;
pub mod sarif;
pub mod schema;
mod suppress;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

use crate::migration::{Migration, Statement};
use check::{Created, Effect, Hit, Kind, Loss, Restores};
pub use rule::{Category, Rule, Severity};
use schema::Schema;

/// Which section a statement is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SectionName {
    /// `-- +migrate Up`.
    Up,
    /// `-- +migrate Down`.
    Down,
}

/// One hazard at one statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The migration id.
    pub migration: String,
    /// Where the file came from.
    pub file: String,
    /// The section.
    pub section: SectionName,
    /// The statement, 1-based within its section.
    pub statement: usize,
    /// The statement's first line in the file.
    pub line: usize,
    /// The rule's id.
    pub rule: String,
    /// The rule's category.
    pub category: Category,
    /// The rule's severity.
    pub severity: Severity,
    /// The rule's explanation and what this statement did.
    pub message: String,
    /// A reasoned `lint:ignore` comment above the statement names the rule.
    pub suppressed: bool,
    /// The statement's first line, for text output (not in JSON: its shape is fixed).
    #[serde(skip)]
    pub excerpt: String,
    /// The reason a `lint:ignore` comment gave, when it suppressed this finding (for
    /// SARIF's suppressions; not in JSON: its shape is fixed).
    #[serde(skip)]
    pub justification: String,
}

/// The counts over a whole lint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Migrations linted.
    pub migrations: usize,
    /// Statements over both sections.
    pub statements: usize,
    /// Statements the parser read.
    pub parsed: usize,
    /// Statements it could not read.
    pub unparsed: usize,
    /// Unsuppressed findings of severity error.
    pub errors: usize,
    /// Unsuppressed warnings.
    pub warnings: usize,
    /// Unsuppressed notices.
    pub notices: usize,
    /// Suppressed findings (of any severity).
    pub suppressed: usize,
}

/// What `lint` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LintReport {
    /// Every finding, in apply order, suppressed ones included.
    pub findings: Vec<Finding>,
    /// The counts.
    pub summary: Summary,
}

/// The severity from which findings fail a lint (`--lint-fail-on`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    /// Errors fail it.
    #[default]
    Error,
    /// Warnings and errors fail it.
    Warning,
    /// Nothing fails it.
    Never,
}

impl FailOn {
    /// The setting a word spells: `error`, `warning` or `never`.
    pub fn parse(s: &str) -> Option<FailOn> {
        match s {
            "error" => Some(FailOn::Error),
            "warning" => Some(FailOn::Warning),
            "never" => Some(FailOn::Never),
            _ => None,
        }
    }

    /// The word.
    pub fn as_str(self) -> &'static str {
        match self {
            FailOn::Error => "error",
            FailOn::Warning => "warning",
            FailOn::Never => "never",
        }
    }
}

impl LintReport {
    /// How many unsuppressed findings fail the lint at `fail_on`.
    pub fn failing(&self, fail_on: FailOn) -> usize {
        match fail_on {
            FailOn::Error => self.summary.errors,
            FailOn::Warning => self.summary.errors + self.summary.warnings,
            FailOn::Never => 0,
        }
    }
}

/// Lints `migrations`, in apply order. Each must be parsed ([`Migration::parse`]); one
/// that is not counts as having no statements.
pub fn lint(migrations: &[Migration<'_>]) -> LintReport {
    lint_selected(migrations, |_| true)
}

/// Lints the migrations `selected` picks by index (`--pending`: those not applied), in
/// apply order. The others are not linted, but their Up sections are still replayed onto
/// the schema model, so a pending MODIFY knows the type an applied CREATE gave.
pub fn lint_selected(migrations: &[Migration<'_>], selected: impl Fn(usize) -> bool) -> LintReport {
    let mut report = LintReport::default();
    let mut schema = Schema::default();
    for (i, m) in migrations.iter().enumerate() {
        if selected(i) {
            lint_one(m, &mut schema, &mut report);
            report.summary.migrations += 1;
        } else {
            replay(m, &mut schema);
        }
    }
    for f in &report.findings {
        let s = &mut report.summary;
        match (f.suppressed, f.severity) {
            (true, _) => s.suppressed += 1,
            (false, Severity::Error) => s.errors += 1,
            (false, Severity::Warning) => s.warnings += 1,
            (false, Severity::Notice) => s.notices += 1,
        }
    }
    report
}

/// Applies the Up section of a migration that is not linted to the model; a statement
/// the parser refuses changes nothing (as when it is linted).
fn replay(m: &Migration<'_>, schema: &mut Schema) {
    for s in &m.up.statements {
        for ast in Parser::parse_sql(&MySqlDialect {}, &s.sql).unwrap_or_default() {
            schema.apply(&ast);
        }
    }
}

/// One migration: its Up against the model (replaying it), its Down against the model
/// as the Up leaves it (not replayed: the set moves forward), the Up's losses against
/// what the Down puts back, then its suppressions.
fn lint_one(m: &Migration<'_>, schema: &mut Schema, report: &mut LintReport) {
    let text = String::from_utf8_lossy(m.bytes);
    let lines: Vec<&str> = text.lines().collect();
    let start = report.findings.len();
    let mut trail = Trail::default();
    let mut at = At {
        m,
        section: SectionName::Up,
    };
    section(&at, &m.up.statements, schema, &mut trail, report);
    at.section = SectionName::Down;
    section(&at, &m.down.statements, schema, &mut trail, report);
    at.section = SectionName::Up;
    if m.down.statements.is_empty()
        && let Some(first) = m.up.statements.first()
    {
        at.push(report, 1, first, Rule::NoDown, "");
    }
    for (index, loss) in &trail.losses {
        if trail.restores.restores(loss) {
            continue;
        }
        let why = if m.down.statements.is_empty() {
            "there is no Down"
        } else {
            "the Down does not recreate it"
        };
        at.push(
            report,
            *index,
            &m.up.statements[*index - 1],
            Rule::NoWayBack,
            &format!("{loss}; {why}"),
        );
    }
    suppress(m, &lines, &mut report.findings, start);
}

/// What one migration's sections leave for the rules that span both.
#[derive(Default)]
struct Trail {
    /// What the Up created or dropped: dropping it in the Down loses nothing older.
    created: Created,
    /// Data the Up removes, by its statement's 1-based index.
    losses: Vec<(usize, Loss)>,
    /// What the Down puts back.
    restores: Restores,
}

/// Where findings go: a migration's section, with its file's lines.
struct At<'m, 'a> {
    m: &'m Migration<'a>,
    section: SectionName,
}

impl At<'_, '_> {
    fn push(
        &self,
        report: &mut LintReport,
        index: usize,
        s: &Statement<'_>,
        rule: Rule,
        detail: &str,
    ) {
        let message = if detail.is_empty() {
            rule.summary().to_owned()
        } else {
            format!("{} ({detail})", rule.summary())
        };
        let excerpt = s
            .sql
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default()
            .trim()
            .to_owned();
        report.findings.push(Finding {
            migration: self.m.id.to_owned(),
            file: self.m.origin.to_owned(),
            section: self.section,
            statement: index,
            line: s.line,
            rule: rule.id().to_owned(),
            category: rule.category(),
            severity: rule.severity(),
            message,
            suppressed: false,
            excerpt,
            justification: String::new(),
        });
    }
}

/// What the section's earlier statements did, for the rules about pairs.
#[derive(Default)]
struct Seen {
    ddl: bool,
    dml: bool,
    defined: Vec<String>,
    altered: Vec<String>,
    backfilled: Vec<String>,
}

/// Lints one section's statements: the Up (replayed onto `schema`, recorded in `trail`),
/// then the Down (checked against what the Up created, not replayed).
fn section(
    at: &At<'_, '_>,
    statements: &[Statement<'_>],
    schema: &mut Schema,
    trail: &mut Trail,
    report: &mut LintReport,
) {
    let down = at.section == SectionName::Down;
    let mut seen = Seen::default();
    for (i, s) in statements.iter().enumerate() {
        let index = i + 1;
        report.summary.statements += 1;
        let asts = match Parser::parse_sql(&MySqlDialect {}, &s.sql) {
            Ok(asts) => asts,
            Err(e) => {
                report.summary.unparsed += 1;
                let rule = if is_stored_program(&s.sql) {
                    Rule::UnparsedProgram
                } else {
                    Rule::Unparsed
                };
                at.push(report, index, s, rule, &reason(&e.to_string(), s.line));
                let made = down.then_some(&trail.created);
                for Hit { rule, detail } in check::refused(&s.sql, made) {
                    at.push(report, index, s, rule, &detail);
                }
                if down {
                    trail.restores.record_refused(&s.sql);
                } else {
                    trail.created.record_refused(&s.sql);
                }
                continue;
            }
        };
        report.summary.parsed += 1;
        for ast in &asts {
            let made = down.then_some(&trail.created);
            let (hits, effect) = check::statement(ast, schema, made);
            for Hit { rule, detail } in hits {
                at.push(report, index, s, rule, &detail);
            }
            for (rule, detail) in pairs(&mut seen, &effect) {
                at.push(report, index, s, rule, &detail);
            }
            if down {
                trail.restores.record(ast);
            } else {
                let losses = check::losses(ast, &trail.created);
                trail.losses.extend(losses.into_iter().map(|l| (index, l)));
                trail.created.record(ast);
                schema.apply(ast);
            }
        }
    }
}

/// The rules about a statement and the ones before it in its section, then records it.
fn pairs(seen: &mut Seen, e: &Effect) -> Vec<(Rule, String)> {
    let mut out = Vec::new();
    match e.kind {
        Kind::Ddl => {
            if seen.dml {
                out.push((Rule::MixedDdlDml, "DDL after DML".to_owned()));
            }
            if seen.ddl {
                out.push((Rule::MultipleDdl, String::new()));
            }
            for t in &e.alters {
                if seen.altered.contains(t) {
                    out.push((Rule::RepeatedAlter, t.clone()));
                }
            }
            for t in &e.defines {
                if seen.backfilled.contains(t) {
                    out.push((Rule::BackfillWithDdl, format!("{t} was backfilled before")));
                }
            }
            seen.ddl = true;
        }
        Kind::Dml => {
            if seen.ddl {
                out.push((Rule::MixedDdlDml, "DML after DDL".to_owned()));
            }
            for t in &e.backfills {
                if seen.defined.contains(t) {
                    out.push((Rule::BackfillWithDdl, t.clone()));
                }
            }
            seen.dml = true;
        }
        Kind::Other => {}
    }
    seen.defined.extend(e.defines.iter().cloned());
    seen.altered.extend(e.alters.iter().cloned());
    seen.backfilled.extend(e.backfills.iter().cloned());
    out
}

/// The parser's reason, its `Line: N` (counted within the statement) made the file's.
fn reason(message: &str, first_line: usize) -> String {
    const AT: &str = "Line: ";
    let message = message
        .strip_prefix("sql parser error: ")
        .unwrap_or(message);
    let Some(pos) = message.find(AT) else {
        return message.to_owned();
    };
    let digits = &message[pos + AT.len()..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    match digits[..end].parse::<usize>() {
        Ok(n) if n > 0 => format!(
            "{}{AT}{}{}",
            &message[..pos],
            first_line + n - 1,
            &digits[end..]
        ),
        _ => message.to_owned(),
    }
}

/// Whether `sql` defines a stored program (the parser's MySQL coverage of their bodies is
/// partial, so one it refuses is a notice, not a warning).
fn is_stored_program(sql: &str) -> bool {
    let upper = sql.trim_start().to_ascii_uppercase();
    let Some(rest) = upper.strip_prefix("CREATE") else {
        return false;
    };
    rest.split_whitespace()
        .filter(|w| !w.starts_with("DEFINER") && !w.starts_with('=') && !w.contains('@'))
        .take(3)
        .any(|w| matches!(w, "PROCEDURE" | "FUNCTION" | "TRIGGER" | "EVENT"))
}

/// Marks findings from `start` on that a reasoned `lint:ignore` names, and reports the
/// comments that cannot suppress anything (no reason, unknown rule) or that name a rule
/// with nothing to suppress at their statement.
fn suppress(m: &Migration<'_>, lines: &[&str], findings: &mut Vec<Finding>, start: usize) {
    let sections = [
        (SectionName::Up, &m.up.statements),
        (SectionName::Down, &m.down.statements),
    ];
    let mut extra = Vec::new();
    for (name, statements) in sections {
        for (i, s) in statements.iter().enumerate() {
            let at = At { m, section: name };
            let mut scratch = LintReport::default();
            for (line, d) in suppress::above(lines, s.line) {
                for id in &d.rules {
                    if Rule::parse(id).is_none() {
                        at.push(
                            &mut scratch,
                            i + 1,
                            s,
                            Rule::IgnoreUnknownRule,
                            &format!("{id} (line {line})"),
                        );
                    }
                }
                if d.reason.is_empty() {
                    at.push(
                        &mut scratch,
                        i + 1,
                        s,
                        Rule::IgnoreWithoutReason,
                        &format!("line {line}"),
                    );
                    continue;
                }
                let mut used = vec![false; d.rules.len()];
                for f in findings[start..].iter_mut() {
                    if f.section != name || f.statement != i + 1 {
                        continue;
                    }
                    if let Some(k) = d.rules.iter().position(|r| *r == f.rule) {
                        f.suppressed = true;
                        used[k] = true;
                        f.justification = d.reason.clone();
                    }
                }
                for (id, used) in d.rules.iter().zip(used) {
                    if !used && Rule::parse(id).is_some() {
                        at.push(
                            &mut scratch,
                            i + 1,
                            s,
                            Rule::IgnoreUnused,
                            &format!("{id} (line {line})"),
                        );
                    }
                }
            }
            extra.extend(scratch.findings);
        }
    }
    findings.extend(extra);
    // Keep a migration's findings in file order whatever pass made them.
    findings[start..].sort_by_key(|f| (f.section == SectionName::Down, f.statement));
}
