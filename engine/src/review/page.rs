//! The review as one self-contained HTML page: no scripts, no assets from elsewhere, so
//! an approver can open it from a private bucket and see every verdict at a glance.
//!
//! Every piece of text from the report (statements, ids, file and table names, the
//! sessions of blockers, reasons) goes through [`escape`]; the page's own markup is
//! constant. Anchors are numbered (`m2-up-3`), never made from ids. Statements wrap
//! (`pre-wrap`, `overflow-wrap: anywhere`) so a long line is never cut off, on a phone or
//! on paper.

use std::fmt::Write as _;

use super::verdict::bytes;
use super::{Blocker, MigrationVerdict, Review, ReviewEntry, Verdict, judge_migration};
use crate::lint::{Finding, SectionName};

/// The page's only style sheet, inline. Colour never carries a verdict alone: the badge
/// says the word too.
const CSS: &str = r#"
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0 auto;max-width:72rem;padding:1rem 1.25rem 3rem;color:#1c1917;background:#fff;
 font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;
 overflow-wrap:anywhere;font-variant-ligatures:none}
h1{font-size:1.5rem;margin:.2rem 0 .6rem}
h2{font-size:1.2rem;margin:1.6rem 0 .5rem}
h3{font-size:1rem;margin:1rem 0 .4rem}
h4{font-size:.95rem;margin:0 0 .3rem}
a{color:inherit}
pre,code{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:.85rem;
 font-variant-ligatures:none}
pre{white-space:pre-wrap;overflow-wrap:anywhere;word-break:normal;margin:.3rem 0 .5rem;
 padding:.5rem .6rem;background:#f5f5f4;border:1px solid #d6d3d1;border-radius:4px}
dl.kv{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.15rem 1rem;margin:.3rem 0}
dl.kv dt{font-weight:600;color:#44403c}
dl.kv dd{margin:0;min-width:0}
.badge{display:inline-block;padding:.1em .55em;border-radius:4px;border:2px solid transparent;
 color:#fff;font-weight:700;text-transform:uppercase;letter-spacing:.04em;line-height:1.3;
 -webkit-print-color-adjust:exact;print-color-adjust:exact}
.b-danger{background:#b91c1c;border-color:#7f1d1d}
.b-review{background:#b45309;border-color:#78350f}
.b-safe{background:#15803d;border-color:#14532d}
.counts{display:flex;flex-wrap:wrap;gap:.5rem;margin:.6rem 0 0;padding:0;list-style:none}
.counts .badge{font-size:1rem}
ol.summary{list-style:none;margin:0;padding:0}
ol.summary li{display:flex;flex-wrap:wrap;align-items:baseline;gap:.3rem .8rem;margin:.35rem 0;
 padding:.5rem .7rem;border:1px solid #d6d3d1;border-left-width:.5rem;border-radius:4px}
ol.summary .badge{font-size:1.15rem;min-width:6.2em;text-align:center}
ol.summary .mid{font-weight:600}
ol.summary .why{flex-basis:100%;color:#44403c;font-size:.9rem}
.v-danger{border-color:#b91c1c !important;background:#fef2f2}
.v-review{border-color:#b45309 !important;background:#fffbeb}
.v-safe{border-color:#15803d !important}
section.migration{margin:1.5rem 0;padding:.6rem .9rem;border:1px solid #d6d3d1;
 border-left-width:.5rem;border-radius:4px}
section.migration>h2{margin-top:.2rem}
.file{color:#57534e;margin:.1rem 0 .4rem}
ol.statements{list-style:none;margin:0;padding:0}
ol.statements>li{margin:.8rem 0;padding-top:.5rem;border-top:1px dashed #d6d3d1}
ul.findings,ul.reasons,ul.plain{margin:.3rem 0;padding-left:1.2rem}
.sev{font-weight:700;text-transform:uppercase;font-size:.8rem}
.sev-error{color:#991b1b}.sev-warning{color:#92400e}.sev-notice{color:#44403c}
.suppressed{opacity:.55}
.entry{margin:.5rem 0;padding:.4rem .6rem;background:#fafaf9;border:1px solid #e7e5e4;border-radius:4px}
.over{color:#991b1b;font-weight:700}
table{border-collapse:collapse;width:100%;table-layout:fixed;margin:.3rem 0;font-size:.9rem}
th,td{border:1px solid #d6d3d1;padding:.2rem .4rem;text-align:left;vertical-align:top;
 overflow-wrap:anywhere}
th{background:#f5f5f4}
col.n{width:7rem}col.age{width:6.5rem}
td code{white-space:pre-wrap}
.none{color:#57534e;font-style:italic}
@media (max-width:40rem){
 body{padding:.5rem .6rem 2rem;font-size:14px}
 dl.kv{grid-template-columns:minmax(0,1fr)}
 dl.kv dd{margin-bottom:.3rem}
 section.migration{padding:.5rem .5rem}
 table,thead,tbody,tr,th,td{display:block;width:auto}
 thead{display:none}
 tr{margin:.3rem 0;border:1px solid #d6d3d1}
 td{border:0}
 td::before{content:attr(data-label) ": ";font-weight:600}
}
@page{margin:12mm}
@media print{
 body{max-width:none;padding:0;font-size:10.5pt}
 a{text-decoration:none}
 ol.summary li,tr{break-inside:avoid-page}
 pre{break-inside:auto}
}
"#;

/// Renders `review` as a complete HTML document titled `title`.
pub fn render(review: &Review, title: &str) -> String {
    let s = &review.summary;
    let migrations = migrations(review);
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(out, "<title>{}</title>", escape(title));
    let _ = writeln!(out, "<style>{CSS}</style>\n</head>\n<body>");

    // The header: where, against what, and the counts.
    out.push_str("<header>\n");
    let _ = writeln!(out, "<h1>{}</h1>", escape(title));
    out.push_str("<dl class=\"kv\">\n");
    let _ = writeln!(
        out,
        "<dt>Server</dt><dd>{}</dd>",
        text_or(&s.server, "unknown")
    );
    let deadline = match s.deadline_secs {
        Some(d) => secs(d),
        None => "none (no run deadline)".to_owned(),
    };
    let _ = writeln!(out, "<dt>Deadline of one run</dt><dd>{deadline}</dd>");
    let from = match s.copy_rate_from.as_str() {
        "measured" => "measured on this server".to_owned(),
        "setting" => "from the setting".to_owned(),
        other => escape(other),
    };
    let _ = writeln!(
        out,
        "<dt>Copy rate</dt><dd>{}/s ({from})</dd>",
        rate(s.copy_rate_bytes_per_sec)
    );
    out.push_str("</dl>\n<ul class=\"counts\" aria-label=\"Verdicts\">\n");
    for v in [Verdict::Danger, Verdict::Review, Verdict::Safe] {
        let n = migrations.iter().filter(|m| m.verdict.verdict == v).count();
        let _ = writeln!(
            out,
            "<li><span class=\"badge b-{0}\">{n} {0}</span></li>",
            v.as_str()
        );
    }
    out.push_str("</ul>\n</header>\n");

    // The summary: one line per migration, its verdict first.
    out.push_str("<nav aria-label=\"Migrations\">\n<h2>Migrations</h2>\n");
    if migrations.is_empty() {
        out.push_str("<p class=\"none\">No pending migration.</p>\n");
    } else {
        out.push_str("<ol class=\"summary\">\n");
        for (i, m) in migrations.iter().enumerate() {
            let v = m.verdict.verdict.as_str();
            let _ = write!(
                out,
                "<li class=\"v-{v}\">{} <a class=\"mid\" href=\"#m{}\">{}</a>",
                badge(m.verdict.verdict),
                i + 1,
                escape(&m.verdict.migration)
            );
            if let Some(first) = m.verdict.reasons.first() {
                let more = m.verdict.reasons.len() - 1;
                let _ = write!(out, "<span class=\"why\">{}", escape(first));
                if more > 0 {
                    let _ = write!(out, " (and {more} more)");
                }
                out.push_str("</span>");
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ol>\n");
    }
    out.push_str("</nav>\n<main>\n");

    for (i, m) in migrations.iter().enumerate() {
        migration(&mut out, i + 1, m, review);
    }

    out.push_str("<section id=\"long-transactions\">\n<h2>Long transactions</h2>\n");
    if s.long_transactions.is_empty() {
        out.push_str("<p class=\"none\">None open longer than the threshold.</p>\n");
    } else {
        out.push_str(
            "<p>Each holds its locks and its undo until it ends, whatever table it is on.</p>\n",
        );
        blockers(&mut out, &s.long_transactions);
    }
    out.push_str("</section>\n<section id=\"unavailable\">\n<h2>Not seen</h2>\n");
    if s.unavailable.is_empty() {
        out.push_str("<p class=\"none\">Everything the review asks for was readable.</p>\n");
    } else {
        out.push_str("<ul class=\"plain\">\n");
        for u in &s.unavailable {
            let _ = writeln!(
                out,
                "<li><strong>{}</strong> unavailable: {}</li>",
                escape(&u.what),
                escape(&u.reason)
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n<section id=\"leftovers\">\n<h2>Leftover probes dropped</h2>\n");
    if s.leftovers_dropped.is_empty() {
        out.push_str("<p class=\"none\">None: no earlier review left a probe table.</p>\n");
    } else {
        out.push_str("<ul class=\"plain\">\n");
        for t in &s.leftovers_dropped {
            let _ = writeln!(out, "<li><code>{}</code></li>", escape(t));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n</main>\n</body>\n</html>\n");
    out
}

/// One migration of the page, gathered from the report's several lists.
struct Page<'r> {
    verdict: MigrationVerdict,
    file: Option<&'r str>,
    up: &'r [String],
}

/// The migrations in apply order: those with a verdict first, then any that only the
/// statements, entries or findings name (judged here, so none is shown without one).
fn migrations(review: &Review) -> Vec<Page<'_>> {
    let s = &review.summary;
    let mut ids: Vec<&str> = Vec::new();
    let names = s
        .migrations
        .iter()
        .map(|m| m.migration.as_str())
        .chain(s.statements.iter().map(|m| m.migration.as_str()))
        .chain(review.entries.iter().map(|e| e.migration.as_str()))
        .chain(s.findings.iter().map(|f| f.migration.as_str()));
    for id in names {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids.into_iter()
        .map(|id| {
            let verdict = s
                .migrations
                .iter()
                .find(|m| m.migration == id)
                .cloned()
                .unwrap_or_else(|| judge_migration(id, &review.entries, &s.findings));
            let texts = s.statements.iter().find(|m| m.migration == id);
            Page {
                verdict,
                file: texts.map(|t| t.file.as_str()),
                up: texts.map(|t| t.up.as_slice()).unwrap_or(&[]),
            }
        })
        .collect()
}

/// A migration's section: its reasons, then each statement with its findings and entries.
fn migration(out: &mut String, n: usize, m: &Page<'_>, review: &Review) {
    let id = m.verdict.migration.as_str();
    let v = m.verdict.verdict;
    let _ = writeln!(
        out,
        "<section class=\"migration v-{}\" id=\"m{n}\">\n<h2>{} {}</h2>",
        v.as_str(),
        badge(v),
        escape(id)
    );
    if let Some(file) = m.file {
        let _ = writeln!(
            out,
            "<p class=\"file\">File: <code>{}</code></p>",
            escape(file)
        );
    }
    if !m.verdict.reasons.is_empty() {
        out.push_str("<h3>Why</h3>\n<ul class=\"reasons\">\n");
        for r in &m.verdict.reasons {
            let _ = writeln!(out, "<li>{}</li>", escape(r));
        }
        out.push_str("</ul>\n");
    }

    let entries: Vec<&ReviewEntry> = review
        .entries
        .iter()
        .filter(|e| e.migration == id)
        .collect();
    let findings: Vec<&Finding> = review
        .summary
        .findings
        .iter()
        .filter(|f| f.migration == id)
        .collect();
    // Every statement of the Up section, and any other a finding or entry points at.
    let mut keys: Vec<(SectionName, usize)> =
        (1..=m.up.len()).map(|k| (SectionName::Up, k)).collect();
    let pointed = entries
        .iter()
        .map(|e| (e.section, e.statement))
        .chain(findings.iter().map(|f| (f.section, f.statement)));
    for key in pointed {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys.sort_by_key(|(section, k)| (*section == SectionName::Down, *k));

    out.push_str("<h3>Statements</h3>\n");
    if keys.is_empty() {
        out.push_str("<p class=\"none\">No statements in the report.</p>\n");
    }
    out.push_str("<ol class=\"statements\">\n");
    for (section, k) in keys {
        let name = section_name(section);
        let _ = writeln!(
            out,
            "<li id=\"m{n}-{name}-{k}\">\n<h4>{} statement {k}</h4>",
            if section == SectionName::Up {
                "Up"
            } else {
                "Down"
            }
        );
        match (section, m.up.get(k.wrapping_sub(1))) {
            (SectionName::Up, Some(text)) => {
                let _ = writeln!(out, "<pre>{}</pre>", escape(text));
            }
            _ => out.push_str("<p class=\"none\">Its text is not in the report.</p>\n"),
        }
        let here: Vec<&&Finding> = findings
            .iter()
            .filter(|f| f.section == section && f.statement == k)
            .collect();
        if !here.is_empty() {
            out.push_str("<ul class=\"findings\">\n");
            for f in here {
                finding(out, f);
            }
            out.push_str("</ul>\n");
        }
        for e in entries
            .iter()
            .filter(|e| e.section == section && e.statement == k)
        {
            entry(out, e, review.summary.deadline_secs);
        }
        out.push_str("</li>\n");
    }
    out.push_str("</ol>\n</section>\n");
}

/// One lint finding: rule, severity, message; a suppressed one dimmed and said so.
fn finding(out: &mut String, f: &Finding) {
    let sev = f.severity.as_str();
    let _ = write!(
        out,
        "<li class=\"finding{}\"><span class=\"sev sev-{sev}\">{sev}</span> <code>{}</code>",
        if f.suppressed { " suppressed" } else { "" },
        escape(&f.rule)
    );
    if f.line > 0 {
        let _ = write!(out, " (line {})", f.line);
    }
    let _ = write!(out, ": {}", escape(&f.message));
    if f.suppressed {
        out.push_str(" <em>(suppressed by lint:ignore)</em>");
    }
    out.push_str("</li>\n");
}

/// One review entry: what the server said, the table's size, the estimate against the
/// deadline, the blockers, the verdict and its reasons.
fn entry(out: &mut String, e: &ReviewEntry, deadline: Option<f64>) {
    let _ = writeln!(
        out,
        "<div class=\"entry v-{}\">\n<p>{} Review of <code>{}</code></p>\n<dl class=\"kv\">",
        e.verdict.as_str(),
        badge(e.verdict),
        escape(&e.table)
    );
    let lock = if e.lock.is_empty() {
        String::new()
    } else {
        format!(", LOCK={}", escape(&e.lock))
    };
    let _ = writeln!(
        out,
        "<dt>Algorithm</dt><dd>{}{lock}</dd>",
        e.algorithm.as_str()
    );
    if let Some(r) = e.rebuilds {
        let _ = writeln!(
            out,
            "<dt>Rebuilds</dt><dd>{}</dd>",
            if r {
                "yes: a new copy of the table is built in place"
            } else {
                "no"
            }
        );
    }
    let _ = writeln!(out, "<dt>Rows</dt><dd>{}</dd>", thousands(e.rows));
    let _ = writeln!(
        out,
        "<dt>Size</dt><dd>{} data + {} index = {}</dd>",
        bytes(e.data_bytes),
        bytes(e.index_bytes),
        bytes(e.data_bytes.saturating_add(e.index_bytes))
    );
    if let Some(v) = e.row_versions {
        let _ = writeln!(out, "<dt>Row versions</dt><dd>{v} of 64</dd>");
    }
    let estimate = secs(e.estimate_secs);
    let against = match deadline {
        Some(d) if e.estimate_secs > d => format!(
            "<span class=\"over\">{estimate}: over the deadline of {} by {}</span>",
            secs(d),
            secs(e.estimate_secs - d)
        ),
        Some(d) => format!("{estimate}, within the deadline of {}", secs(d)),
        None => format!("{estimate} (no deadline)"),
    };
    let _ = writeln!(out, "<dt>Estimate</dt><dd>{against}</dd>\n</dl>");
    if e.blockers.is_empty() {
        out.push_str("<p>Blockers: none now.</p>\n");
    } else {
        let _ = writeln!(
            out,
            "<p class=\"over\">{} blocking now:</p>",
            match e.blockers.len() {
                1 => "One session".to_owned(),
                n => format!("{n} sessions"),
            }
        );
        blockers(out, &e.blockers);
    }
    if !e.reasons.is_empty() {
        out.push_str("<ul class=\"reasons\">\n");
        for r in &e.reasons {
            let _ = writeln!(out, "<li>{}</li>", escape(r));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</div>\n");
}

/// Sessions as a table: what `KILL` takes, who, from where, how long, doing what.
fn blockers(out: &mut String, list: &[Blocker]) {
    out.push_str(
        "<table class=\"blockers\">\n<colgroup><col class=\"n\"><col><col><col class=\"age\"><col></colgroup>\n\
         <thead><tr><th>Connection</th><th>User</th><th>Host</th><th>Age</th><th>Statement</th></tr></thead>\n<tbody>\n",
    );
    for b in list {
        let statement = if b.statement.is_empty() {
            "<span class=\"none\">idle in a transaction</span>".to_owned()
        } else {
            format!("<code>{}</code>", escape(&b.statement))
        };
        // The lock it holds or waits for, beside what it runs.
        let statement = if b.lock.is_empty() {
            statement
        } else {
            format!(
                "{statement} <span class=\"none\">({})</span>",
                escape(&b.lock)
            )
        };
        let _ = writeln!(
            out,
            "<tr><td data-label=\"Connection\">{}</td><td data-label=\"User\">{}</td>\
             <td data-label=\"Host\">{}</td><td data-label=\"Age\">{}</td>\
             <td data-label=\"Statement\">{statement}</td></tr>",
            b.connection,
            escape(&b.user),
            escape(&b.host),
            secs(b.age_secs as f64)
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

/// A verdict's badge: its colour and its word.
fn badge(v: Verdict) -> String {
    format!("<span class=\"badge b-{0}\">{0}</span>", v.as_str())
}

fn section_name(s: SectionName) -> &'static str {
    match s {
        SectionName::Up => "up",
        SectionName::Down => "down",
    }
}

/// `text` escaped, or `fallback` when it is empty.
fn text_or(text: &str, fallback: &str) -> String {
    if text.is_empty() {
        fallback.to_owned()
    } else {
        escape(text)
    }
}

/// Seconds for people: `42 s`, `1,834 s (about 31 min)`.
fn secs(s: f64) -> String {
    if !s.is_finite() {
        return "unknown".to_owned();
    }
    if s > 0.0 && s < 1.0 {
        return "under 1 s".to_owned();
    }
    let whole = s.max(0.0).round() as u64;
    if whole >= 120 {
        format!("{} s (about {} min)", thousands(whole), (whole + 30) / 60)
    } else {
        format!("{whole} s")
    }
}

/// A rate in bytes per second, as a byte count.
fn rate(r: f64) -> String {
    if r.is_finite() && r > 0.0 {
        bytes(r as u64)
    } else {
        "unknown".to_owned()
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `text` safe inside an element or a quoted attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and line ends are not allowed in HTML text;
            // show them rather than drop them.
            c if c.is_control() && !matches!(c, '\n' | '\t' | '\r') => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
