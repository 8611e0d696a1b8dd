use super::*;
use crate::lint::{Category, Severity};
use crate::review::{Algorithm, ReviewSummary, ReviewedMigration, Unavailable};

const HOSTILE: &str = "</style><script>alert(1)</script>\"quoted\" 'single' & <b>bold</b>";
const HOSTILE_ESCAPED: &str = "&lt;/style&gt;&lt;script&gt;alert(1)&lt;/script&gt;&quot;quoted&quot; \
                               &#39;single&#39; &amp; &lt;b&gt;bold&lt;/b&gt;";

fn blocker(connection: u64, text: &str) -> Blocker {
    Blocker {
        connection,
        user: format!("app{text}"),
        host: format!("10.0.0.{connection}:5{text}"),
        age_secs: 75,
        statement: format!("SELECT * FROM orders /*{text}*/"),
        lock: format!("shared_read granted{text}"),
    }
}

fn entry(migration: &str, statement: usize, verdict: Verdict, text: &str) -> ReviewEntry {
    ReviewEntry {
        migration: migration.to_owned(),
        section: SectionName::Up,
        statement,
        table: format!("shop.orders{text}"),
        algorithm: Algorithm::Copy,
        lock: "SHARED".to_owned(),
        rebuilds: Some(true),
        rows: 1_234_567,
        data_bytes: 300 << 20,
        index_bytes: 20 << 20,
        row_versions: Some(3),
        estimate_secs: 1_800.0,
        blockers: vec![blocker(41, text)],
        verdict,
        reasons: vec![format!("copies the whole table{text}")],
    }
}

fn finding(migration: &str, statement: usize, suppressed: bool, text: &str) -> Finding {
    Finding {
        migration: migration.to_owned(),
        file: format!("migrations/{migration}.sql"),
        section: SectionName::Up,
        statement,
        line: 3,
        rule: format!("locking/type-change{text}"),
        category: Category::Locking,
        severity: Severity::Warning,
        message: format!("changes a column's type{text}"),
        suppressed,
        excerpt: String::new(),
        justification: String::new(),
    }
}

/// Three migrations, one of each verdict, with `text` appended to every string the
/// report carries.
fn fixture(text: &str) -> Review {
    let ids = [
        format!("1_danger{text}"),
        format!("2_review{text}"),
        format!("3_safe{text}"),
    ];
    let verdicts = [Verdict::Danger, Verdict::Review, Verdict::Safe];
    Review {
        entries: vec![
            entry(&ids[0], 1, Verdict::Danger, text),
            entry(&ids[1], 2, Verdict::Review, text),
        ],
        summary: ReviewSummary {
            server: format!("10.11.6-MariaDB{text}"),
            deadline_secs: Some(900.0),
            copy_rate_bytes_per_sec: 50.0 * 1024.0 * 1024.0,
            copy_rate_from: "measured".to_owned(),
            migrations: ids
                .iter()
                .zip(verdicts)
                .map(|(id, verdict)| MigrationVerdict {
                    migration: id.clone(),
                    verdict,
                    reasons: vec![format!("statement 1: because{text}")],
                })
                .collect(),
            findings: vec![
                finding(&ids[0], 1, false, text),
                finding(&ids[1], 2, true, text),
            ],
            long_transactions: vec![blocker(7, text)],
            unavailable: vec![Unavailable {
                what: format!("row_versions{text}"),
                reason: format!("needs MySQL 8.0.29{text}"),
            }],
            leftovers_dropped: vec![format!("_lm_probe_1{text}")],
            statements: ids
                .iter()
                .map(|id| ReviewedMigration {
                    migration: id.clone(),
                    file: format!("migrations/{id}.sql"),
                    up: vec![
                        format!("ALTER TABLE orders MODIFY note TEXT /*{text}*/"),
                        format!("ALTER TABLE orders ADD COLUMN x INT /*{text}*/"),
                    ],
                })
                .collect(),
        },
    }
}

/// Every tag the page may contain; anything else came from the data.
const TAGS: &[&str] = &[
    "!DOCTYPE", "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "h4",
    "dl", "dt", "dd", "ul", "ol", "li", "span", "a", "nav", "main", "section", "p", "code", "pre",
    "strong", "em", "div", "table", "colgroup", "col", "thead", "tbody", "tr", "th", "td",
];

/// The names of every tag in `html`, closing ones with their `/`.
fn tags(html: &str) -> Vec<&str> {
    html.match_indices('<')
        .map(|(at, _)| {
            let rest = &html[at + 1..];
            let end = rest
                .find(|c: char| c.is_ascii_whitespace() || c == '>')
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

#[test]
fn hostile_text_is_escaped_everywhere() {
    let page = render(&fixture(HOSTILE), HOSTILE);
    // Each of these places shows the hostile text, escaped: title (twice), server, 3
    // migration ids in the summary and sections, files, reasons, statements, findings,
    // entries, blockers, long transactions, unavailable, leftovers.
    assert!(
        page.matches(HOSTILE_ESCAPED).count() >= 30,
        "{}",
        page.matches(HOSTILE_ESCAPED).count()
    );
    assert!(!page.to_ascii_lowercase().contains("<script"), "{page}");
    assert!(!page.contains("<b>"), "{page}");
    assert_eq!(page.matches("<style>").count(), 1);
    assert_eq!(page.matches("</style>").count(), 1);
    for tag in tags(&page) {
        let name = tag.trim_start_matches('/');
        assert!(TAGS.contains(&name), "unexpected tag <{tag}> in {page}");
    }
    // Every link stays on the page.
    for (at, _) in page.match_indices("href=\"") {
        assert!(page[at + 6..].starts_with('#'), "{}", &page[at..at + 40]);
    }
}

#[test]
fn escape_covers_the_five_characters_and_controls() {
    assert_eq!(
        escape("<a href='x'>&\"</a>"),
        "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
    );
    assert_eq!(escape("a\u{0}b\u{1b}c\td\r\n"), "a\\u{0}b\\u{1b}c\td\r\n");
    assert_eq!(escape("é ✓"), "é ✓");
}

#[test]
fn nothing_is_loaded_from_elsewhere() {
    let page = render(&fixture(""), "Review");
    let lower = page.to_ascii_lowercase();
    for needle in [
        "<script", "http://", "https://", "src=", "url(", "@import", "//cdn",
    ] {
        assert!(!lower.contains(needle), "{needle} in {page}");
    }
    assert!(page.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    assert!(page.ends_with("</html>\n"));
    assert!(page.contains("<meta charset=\"utf-8\">"));
    assert!(page.contains("name=\"viewport\""));
}

#[test]
fn every_verdict_shows_as_word_and_colour() {
    let page = render(&fixture(""), "Review");
    for v in ["danger", "review", "safe"] {
        // In the summary list, in the migration's own heading and in the counts.
        assert!(
            page.matches(&format!("<span class=\"badge b-{v}\">{v}</span>"))
                .count()
                >= 2,
            "{v}"
        );
        assert!(page.contains(&format!("<li class=\"v-{v}\">")), "{v}");
        assert!(
            page.contains(&format!("<section class=\"migration v-{v}\"")),
            "{v}"
        );
        assert!(
            page.contains(&format!("<span class=\"badge b-{v}\">1 {v}</span>")),
            "{v}"
        );
        assert!(CSS.contains(&format!(".b-{v}{{background:")), "{v}");
    }
    // The summary is in apply order, the dangerous one first here.
    let summary = &page[page.find("<ol class=\"summary\">").unwrap()..];
    let (d, r, s) = (
        summary.find("1_danger").unwrap(),
        summary.find("2_review").unwrap(),
        summary.find("3_safe").unwrap(),
    );
    assert!(d < r && r < s);
}

#[test]
fn long_statements_appear_whole_and_wrap() {
    let mut review = fixture("");
    let long = format!(
        "ALTER TABLE orders ADD COLUMN c_{} INT, COMMENT '{}'",
        "x".repeat(2_500),
        "a<b & c".repeat(400)
    );
    assert!(long.len() > 2_000);
    review.summary.statements[0].up[1] = long.clone();
    let page = render(&review, "Review");
    assert!(page.contains(&format!("<pre>{}</pre>", escape(&long))));
    assert!(CSS.contains("white-space:pre-wrap;overflow-wrap:anywhere"));
    // Nothing on the page hides what overflows.
    for hides in ["overflow:hidden", "text-overflow", "nowrap", "overflow-x"] {
        assert!(!CSS.contains(hides), "{hides}");
    }
}

#[test]
fn header_shows_server_deadline_rate_and_counts() {
    let page = render(&fixture(""), "Review of shop");
    assert!(page.contains("<title>Review of shop</title>"));
    assert!(page.contains("<dt>Server</dt><dd>10.11.6-MariaDB</dd>"));
    assert!(page.contains("<dd>900 s (about 15 min)</dd>"), "{page}");
    assert!(page.contains("<dd>50.0 MiB/s (measured on this server)</dd>"));

    let mut review = fixture("");
    review.summary.deadline_secs = None;
    review.summary.copy_rate_from = "setting".to_owned();
    review.summary.server.clear();
    let page = render(&review, "R");
    assert!(page.contains("<dd>none (no run deadline)</dd>"));
    assert!(page.contains("(from the setting)"));
    assert!(page.contains("<dt>Server</dt><dd>unknown</dd>"));
    assert!(page.contains("1,800 s (about 30 min) (no deadline)"));
}

#[test]
fn an_entry_shows_its_facts_and_blockers() {
    let page = render(&fixture(""), "Review");
    let start = page.find("<div class=\"entry v-danger\">").unwrap();
    let entry = &page[start..start + page[start..].find("</div>").unwrap()];
    for want in [
        "<span class=\"badge b-danger\">danger</span> Review of <code>shop.orders</code>",
        "<dt>Algorithm</dt><dd>COPY, LOCK=SHARED</dd>",
        "<dt>Rebuilds</dt><dd>yes",
        "<dt>Rows</dt><dd>1,234,567</dd>",
        "<dd>300.0 MiB data + 20.0 MiB index = 320.0 MiB</dd>",
        "<dt>Row versions</dt><dd>3 of 64</dd>",
        "1,800 s (about 30 min): over the deadline of 900 s (about 15 min) by 900 s (about 15 min)",
        "One session blocking now:",
        "<td data-label=\"Connection\">41</td><td data-label=\"User\">app</td>",
        "<td data-label=\"Host\">10.0.0.41:5</td><td data-label=\"Age\">75 s</td>",
        "<code>SELECT * FROM orders /**/</code>",
        "<li>copies the whole table</li>",
    ] {
        assert!(entry.contains(want), "{want} not in {entry}");
    }
    // The entry sits under its statement: migration 1, up, statement 1.
    let stmt = page.find("<li id=\"m1-up-1\">").unwrap();
    let next = page.find("<li id=\"m1-up-2\">").unwrap();
    assert!(stmt < start && start < next);
    assert!(page.contains("<a class=\"mid\" href=\"#m1\">1_danger</a>"));
}

#[test]
fn findings_show_rule_severity_message_and_suppression() {
    let page = render(&fixture(""), "Review");
    assert!(page.contains(
        "<li class=\"finding\"><span class=\"sev sev-warning\">warning</span> \
         <code>locking/type-change</code> (line 3): changes a column&#39;s type</li>"
    ));
    assert!(page.contains(
        "<li class=\"finding suppressed\"><span class=\"sev sev-warning\">warning</span> \
         <code>locking/type-change</code> (line 3): changes a column&#39;s type \
         <em>(suppressed by lint:ignore)</em></li>"
    ));
    assert!(CSS.contains(".suppressed{opacity:"));
    // The suppressed one is migration 2's statement 2.
    let m2 = page.find("<li id=\"m2-up-2\">").unwrap();
    assert!(
        page[m2..].find("finding suppressed").unwrap() < page[m2..].find("</li>\n</ol>").unwrap()
    );
}

#[test]
fn the_rest_of_the_review_is_listed() {
    let page = render(&fixture(""), "Review");
    assert!(page.contains("<td data-label=\"Connection\">7</td>"));
    assert!(
        page.contains("<li><strong>row_versions</strong> unavailable: needs MySQL 8.0.29</li>")
    );
    assert!(page.contains("<li><code>_lm_probe_1</code></li>"));

    let empty = render(&Review::default(), "Review");
    for want in [
        "No pending migration.",
        "None open longer than the threshold.",
        "Everything the review asks for was readable.",
        "None: no earlier review left a probe table.",
        "<span class=\"badge b-danger\">0 danger</span>",
    ] {
        assert!(empty.contains(want), "{want}");
    }
}

#[test]
fn statements_only_an_entry_or_finding_names_still_show() {
    let mut review = fixture("");
    // A migration with no verdict and no texts: judged here from its entry.
    review
        .entries
        .push(entry("4_extra", 3, Verdict::Danger, ""));
    let mut down = finding("1_danger", 1, false, "");
    down.section = SectionName::Down;
    review.summary.findings.push(down);
    let page = render(&review, "Review");
    assert!(page.contains("<a class=\"mid\" href=\"#m4\">4_extra</a>"));
    assert!(page.contains("<section class=\"migration v-danger\" id=\"m4\">"));
    assert!(page.contains("<li id=\"m4-up-3\">\n<h4>Up statement 3</h4>\n<p class=\"none\">Its text is not in the report.</p>"));
    assert!(page.contains("<li id=\"m1-down-1\">\n<h4>Down statement 1</h4>"));
    // Down statements come after the Up ones.
    assert!(page.find("id=\"m1-down-1\"").unwrap() > page.find("id=\"m1-up-2\"").unwrap());
}

#[test]
fn numbers_for_people() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1_000), "1,000");
    assert_eq!(thousands(100_000), "100,000");
    assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
    assert_eq!(secs(0.0), "0 s");
    assert_eq!(secs(0.2), "under 1 s");
    assert_eq!(secs(119.4), "119 s");
    assert_eq!(secs(3_600.0), "3,600 s (about 60 min)");
    assert_eq!(secs(f64::NAN), "unknown");
    assert_eq!(rate(0.0), "unknown");
    assert_eq!(rate(2048.0), "2.0 KiB");
}
