//! Rendering a command's report or failure: text for people, or one JSON object on
//! stdout with `--json`. Local and remote runs both come through here, so they print
//! the same thing.

use std::io::{self, Write};

use engine::command::{
    ErrorKind, Report, Request, ResolveReport, RunSummary, StatusReport, StepReport, StepState,
    VerifyReport,
};
use engine::plan::MigrationState;
use serde::Serialize;

use super::Failure;

pub mod sql_migrate;

/// How a report is printed when not as JSON: our own text, or a format another tool
/// reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Layout {
    /// Our own text.
    #[default]
    Text,
    /// `lint --sarif`: SARIF 2.1.0.
    Sarif,
    /// `status --format sql-migrate`: sql-migrate's status table, byte for byte.
    SqlMigrate,
}

/// A failed command's JSON object, for commands that have no report of their own to
/// carry the failure.
#[derive(Serialize)]
struct FailedJson<'a> {
    command: &'a str,
    ok: bool,
    error_kind: &'a str,
    error: &'a str,
}

/// Prints `report`. `streamed` says a run's steps were already printed as they ran.
pub fn report(out: &mut dyn Write, report: &Report, json: bool, streamed: bool) -> io::Result<()> {
    if json {
        return writeln!(out, "{}", to_json(report));
    }
    match report {
        Report::Verify(r) => verify_table(out, r),
        Report::Lint(r) => lint_text(out, r),
        Report::Status(r) => status_table(out, r),
        Report::Resolve(r) => resolve_line(out, r),
        Report::Run(r) => run_text(out, r, streamed),
    }
}

/// Prints `report` in `layout` (SARIF for a `lint` report, sql-migrate's table for a
/// `status` report), else as [`report`] does.
pub fn report_as(
    out: &mut dyn Write,
    r: &Report,
    json: bool,
    layout: Layout,
    streamed: bool,
) -> io::Result<()> {
    match (r, layout) {
        (Report::Lint(lint), Layout::Sarif) => {
            let log = engine::lint::sarif::to_sarif(lint, env!("CARGO_PKG_VERSION"));
            writeln!(out, "{}", to_json(&log))
        }
        (Report::Status(status), Layout::SqlMigrate) if !json => {
            out.write_all(sql_migrate::status(status).as_bytes())
        }
        _ => report(out, r, json, streamed),
    }
}

fn to_json(v: &impl Serialize) -> String {
    serde_json::to_string(v).expect("a report always serializes")
}

/// A failure of `kind`: its JSON object on stdout with `--json` (see [`failure_json`]),
/// and the exit code and message.
pub fn failure(
    request: &Request,
    kind: ErrorKind,
    message: String,
    json: bool,
    partial: Option<&RunSummary>,
) -> Failure {
    if json {
        // The exit code and the `error:` line say it all if stdout is gone.
        let _ = failure_json(&mut io::stdout().lock(), request, kind, &message, partial);
    }
    Failure {
        code: kind.exit_code(),
        message,
    }
}

/// Prints a failure's JSON object (text mode prints nothing here: the `error:` line on
/// stderr says it all). `partial` is a failed run's summary when there is one.
pub fn failure_json(
    out: &mut dyn Write,
    request: &Request,
    kind: ErrorKind,
    message: &str,
    partial: Option<&RunSummary>,
) -> io::Result<()> {
    if let Some(run) = partial {
        return writeln!(out, "{}", to_json(run));
    }
    writeln!(
        out,
        "{}",
        to_json(&FailedJson {
            command: request.command.as_str(),
            ok: false,
            error_kind: kind.as_str(),
            error: message,
        })
    )
}

/// Each finding as `file:line: severity rule-id`, the statement's first line, and the
/// explanation; then the counts.
fn lint_text(out: &mut dyn Write, report: &engine::lint::LintReport) -> io::Result<()> {
    for f in &report.findings {
        let suppressed = if f.suppressed { " (suppressed)" } else { "" };
        writeln!(
            out,
            "{}:{}: {} {}{suppressed}",
            f.file, f.line, f.severity, f.rule
        )?;
        if !f.excerpt.is_empty() {
            let line = crate::text::truncate(&crate::text::one_line(&f.excerpt), 120);
            writeln!(out, "    {line}")?;
        }
        let doc = engine::lint::Rule::parse(&f.rule)
            .map(|r| r.doc())
            .unwrap_or_default();
        writeln!(out, "    {} [{doc}]", f.message)?;
    }
    let s = &report.summary;
    writeln!(
        out,
        "{} migration(s), {} statement(s) ({} parsed, {} unparsed): {} error(s), {} warning(s), \
         {} notice(s), {} suppressed",
        s.migrations,
        s.statements,
        s.parsed,
        s.unparsed,
        s.errors,
        s.warnings,
        s.notices,
        s.suppressed
    )
}

fn verify_table(out: &mut dyn Write, report: &VerifyReport) -> io::Result<()> {
    let width = report
        .migrations
        .iter()
        .map(|r| r.id.chars().count())
        .max()
        .unwrap_or(2)
        .max(2);
    writeln!(
        out,
        "{:<width$}  {:<64}  {:>4}  {:>4}  NOTRANSACTION",
        "ID", "SHA256", "UP", "DOWN"
    )?;
    for r in &report.migrations {
        let notx = match (r.up_notransaction, r.down_notransaction) {
            (true, true) => "up,down",
            (true, false) => "up",
            (false, true) => "down",
            (false, false) => "-",
        };
        writeln!(
            out,
            "{:<width$}  {}  {:>4}  {:>4}  {notx}",
            r.id, r.sha256, r.up_statements, r.down_statements
        )?;
    }
    writeln!(
        out,
        "{} migration(s) from {}, digest {}",
        report.migrations.len(),
        report.source,
        report.digest
    )
}

/// Our `status` table, then the counts: migrations are files; history rows without one
/// are counted apart.
fn status_table(out: &mut dyn Write, report: &StatusReport) -> io::Result<()> {
    let rows = &report.migrations;
    // History ids come from the database: untrusted, so shown without control characters.
    let ids: Vec<String> = rows.iter().map(|r| clean(&r.id)).collect();
    let w = ids
        .iter()
        .map(|id| id.chars().count())
        .max()
        .unwrap_or(0)
        .max("MIGRATION".len());
    let times: Vec<String> = rows
        .iter()
        .map(|r| match r.applied_at.as_deref() {
            None => "no".into(),
            Some("") => "(no time)".into(),
            Some(at) => clean(at),
        })
        .collect();
    // Seconds, or more where the column holds fractions.
    let t = times.iter().map(String::len).max().unwrap_or(0).max(19);
    writeln!(
        out,
        "{:<w$}  {:<t$}  {:<8}  {:<10}  NOTE",
        "MIGRATION", "APPLIED (UTC)", "STATE", "CHECKSUM"
    )?;
    for ((r, id), applied) in rows.iter().zip(&ids).zip(&times) {
        writeln!(
            out,
            "{id:<w$}  {applied:<t$}  {:<8}  {:<10}  {}",
            r.state.as_str(),
            r.checksum.as_str(),
            clean(r.note.as_deref().unwrap_or(""))
        )?;
    }
    let (files, unknown): (Vec<_>, Vec<_>) = rows
        .iter()
        .partition(|r| r.state != MigrationState::Unknown);
    let applied = files.iter().filter(|r| r.applied_at.is_some()).count();
    write!(out, "{} migration(s), {applied} applied", files.len())?;
    match unknown.len() {
        0 => writeln!(out),
        1 => writeln!(out, ", and 1 history row without a file"),
        n => writeln!(out, ", and {n} history rows without a file"),
    }?;
    if report.lock_held {
        writeln!(out, "a migration run holds the lock right now")?;
    }
    Ok(())
}

fn resolve_line(out: &mut dyn Write, r: &ResolveReport) -> io::Result<()> {
    writeln!(out, "recorded {} as {}", r.id, r.state.words())
}

/// One line for a migration a run completed (or, dry, would run).
pub fn step_line(out: &mut dyn Write, s: &StepReport) -> io::Result<()> {
    let mut extra = String::new();
    if s.catch_up {
        extra.push_str(", catch-up");
    }
    if s.resumed_from > 0 {
        extra.push_str(&format!(", resumed after statement {}", s.resumed_from));
    }
    if empty_down(s) {
        extra.push_str(if s.state == StepState::Planned {
            ", no Down statements: the schema would stay unchanged"
        } else {
            ", no Down statements: schema unchanged"
        });
    }
    let verb = match s.state {
        StepState::Planned => {
            writeln!(
                out,
                "would {} {} ({} statements{extra})",
                s.direction,
                s.id,
                s.statements_total - s.resumed_from
            )?;
            return Ok(());
        }
        StepState::Applied => "applied ",
        StepState::Reverted => "reverted",
        StepState::Skipped => "skipped ",
    };
    writeln!(
        out,
        "{verb} {} ({} statements, {} ms{extra})",
        s.id, s.statements, s.duration_ms
    )
}

/// A reversion that runs nothing: its Down section has no statement, so only the history
/// row goes (allowed by `--allow-empty-down`, or planned by a dry run).
pub fn empty_down(s: &StepReport) -> bool {
    s.direction == engine::plan::Direction::Down
        && s.action == engine::plan::Action::Run
        && s.statements_total == 0
}

/// The warning a dry run gives for each planned reversion that would run nothing.
pub fn empty_down_warnings(r: &Report) -> Vec<String> {
    let Report::Run(run) = r else {
        return Vec::new();
    };
    run.migrations
        .iter()
        .filter(|s| run.dry_run && empty_down(s))
        .map(|s| {
            format!(
                "warning: {} has no Down statements: reverting it would only delete its history \
                 row; the run refuses it without --allow-empty-down",
                s.id
            )
        })
        .collect()
}

fn run_text(out: &mut dyn Write, r: &RunSummary, streamed: bool) -> io::Result<()> {
    // `--sql`: the script alone, so that stdout can go straight to the mysql client.
    if let Some(sql) = &r.sql {
        return out.write_all(sql.as_bytes());
    }
    if !streamed {
        for s in &r.migrations {
            step_line(out, s)?;
        }
    }
    if !r.adopted.is_empty() {
        writeln!(
            out,
            "note: recorded checksums for {} migration(s) applied without one (e.g. by sql-migrate): {}",
            r.adopted.len(),
            short_list(&r.adopted)
        )?;
    }
    for d in &r.drift {
        writeln!(
            out,
            "warning: {} changed since applied (recorded {}, file {}); proceeding (--allow-drift)",
            d.id, d.recorded, d.file
        )?;
    }
    if !r.unknown.is_empty() {
        writeln!(
            out,
            "note: ignoring {} history row(s) without a file: {}",
            r.unknown.len(),
            short_list(&r.unknown)
        )?;
    }
    if let Some(s) = &r.stopped {
        writeln!(
            out,
            "stopped before the deadline: {} migration(s) not started: {}",
            s.pending.len(),
            short_list(&s.pending)
        )?;
    }
    if let Some(review) = r.review() {
        review_text(out, &review)?;
    }
    let n = r.migrations.len();
    match (n, r.dry_run) {
        (0, _) => writeln!(out, "nothing to do"),
        (_, true) => writeln!(out, "{n} migration(s) planned, nothing changed"),
        (_, false) => writeln!(out, "{n} migration(s) done"),
    }
}

fn short_list(ids: &[String]) -> String {
    if ids.len() <= 5 {
        ids.join(", ")
    } else {
        format!("{}, … ({} more)", ids[..5].join(", "), ids.len() - 5)
    }
}

/// `plan --review` for people: each pending migration's verdict and reasons, then each
/// probed statement's answer.
fn review_text(out: &mut dyn Write, review: &engine::review::Review) -> io::Result<()> {
    let s = &review.summary;
    let deadline = s
        .deadline_secs
        .map(|d| format!("{d:.0} s"))
        .unwrap_or_else(|| "none".into());
    writeln!(
        out,
        "review on {} (deadline {deadline}, copy rate {}/s from {})",
        clean(&s.server),
        engine::review::bytes(s.copy_rate_bytes_per_sec as u64),
        s.copy_rate_from
    )?;
    for m in &s.migrations {
        writeln!(
            out,
            "  {} {}",
            m.verdict.as_str().to_ascii_uppercase(),
            clean(&m.migration)
        )?;
        for reason in &m.reasons {
            writeln!(out, "      - {}", clean(reason))?;
        }
    }
    for e in &review.entries {
        let lock = if e.lock.is_empty() {
            String::new()
        } else {
            format!(", LOCK={}", e.lock)
        };
        writeln!(
            out,
            "  {} statement {} on {}: {}{lock}, {} rows, {}, estimate {:.1} s, {}",
            clean(&e.migration),
            e.statement,
            clean(&e.table),
            e.algorithm.as_str(),
            e.rows,
            engine::review::bytes(e.data_bytes + e.index_bytes),
            e.estimate_secs,
            e.verdict.as_str()
        )?;
        for b in &e.blockers {
            writeln!(out, "      blocker: {}", session(b))?;
        }
    }
    for t in &s.long_transactions {
        writeln!(out, "  long transaction: {}", session(t))?;
    }
    for u in &s.unavailable {
        writeln!(out, "  unavailable: {}: {}", u.what, clean(&u.reason))?;
    }
    if !s.leftovers_dropped.is_empty() {
        writeln!(
            out,
            "  dropped {} probe table(s) a killed review left: {}",
            s.leftovers_dropped.len(),
            clean(&s.leftovers_dropped.join(", "))
        )?;
    }
    Ok(())
}

/// A session in someone's way: what `KILL` takes, who, for how long, doing what.
fn session(b: &engine::review::Blocker) -> String {
    format!(
        "connection {} {}@{} for {} s: {}",
        b.connection,
        clean(&b.user),
        clean(&b.host),
        b.age_secs,
        clean(&b.statement)
    )
}

/// Untrusted text (names, SQL, server messages) on one line, without control characters.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `plan --review --html FILE`: writes the review's page (no-op for other reports).
pub fn review_page(path: Option<&std::path::Path>, report: &Report) -> io::Result<()> {
    let (Some(path), Report::Run(r)) = (path, report) else {
        return Ok(());
    };
    let Some(review) = r.review() else {
        return Ok(());
    };
    let title = format!(
        "lambda-migrate review: {} pending migration(s)",
        review.summary.migrations.len()
    );
    std::fs::write(path, engine::review::page::render(&review, &title))
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::command::CommandName;
    use engine::plan::{ChecksumState, StatusRow};

    /// A status row with no checksum or note.
    pub(super) fn row(id: &str, applied_at: Option<&str>, state: MigrationState) -> StatusRow {
        StatusRow {
            id: id.into(),
            applied_at: applied_at.map(Into::into),
            state,
            checksum: ChecksumState::NotApplicable,
            note: None,
        }
    }

    /// A status report of `rows`.
    pub(super) fn status_report(rows: Vec<StatusRow>) -> StatusReport {
        StatusReport {
            command: CommandName::Status,
            migrations: rows,
            lock_held: false,
        }
    }

    fn text(rows: Vec<StatusRow>) -> String {
        let report = Report::Status(status_report(rows));
        let mut out = Vec::new();
        super::report(&mut out, &report, false, false).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn status_counts_files_as_migrations_and_rows_without_one_apart() {
        let at = Some("2024-01-02 03:04:05");
        let rows = |unknown: usize| {
            let mut rows = vec![
                row("1_a.sql", at, MigrationState::Applied),
                // A partial `down` still has its history row.
                row("2_b.sql", at, MigrationState::Partial),
                row("3_c.sql", None, MigrationState::Pending),
            ];
            for i in 0..unknown {
                rows.push(row(&format!("9{i}_gone.sql"), at, MigrationState::Unknown));
            }
            rows
        };
        let last = |t: String| t.lines().last().unwrap().to_owned();
        assert_eq!(last(text(rows(0))), "3 migration(s), 2 applied");
        assert_eq!(
            last(text(rows(1))),
            "3 migration(s), 2 applied, and 1 history row without a file"
        );
        assert_eq!(
            last(text(rows(2))),
            "3 migration(s), 2 applied, and 2 history rows without a file"
        );
        assert_eq!(last(text(Vec::new())), "0 migration(s), 0 applied");
    }

    #[test]
    fn status_text_neutralises_history_ids_and_widens_for_fractions() {
        let t = text(vec![
            row(
                "1_a.sql",
                Some("2024-01-02 03:04:05.123456"),
                MigrationState::Applied,
            ),
            row("2_b.sql", Some(""), MigrationState::Applied),
            row(
                "x\u{1b}[2J\n.sql",
                Some("2024-01-02 03:04:05"),
                MigrationState::Unknown,
            ),
        ]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 5, "{t}");
        assert!(!t.contains('\u{1b}'), "{t:?}");
        assert!(lines[3].starts_with("x [2J .sql  2024-01-02 03:04:05         unknown"));
        assert!(lines[1].starts_with("1_a.sql     2024-01-02 03:04:05.123456  applied"));
        assert!(lines[2].starts_with("2_b.sql     (no time)                   applied"));
    }
}
