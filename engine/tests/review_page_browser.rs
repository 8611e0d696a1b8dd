//! The review page in a real browser: Debian's headless Chromium renders it, and the
//! test checks what a person would see.
//!
//! - A screenshot at 1280×2000 is kept as `target/test-artifacts/review-page.png`, beside
//!   the page itself and its printed forms.
//! - "What a person sees" is the page printed to PDF by Chromium and read back by
//!   `pdftotext`: a PDF holds only what is painted, so text clipped by an
//!   `overflow: hidden` box or run off the paper's edge is missing from it (the
//!   `a_clipped_page_fails_the_check` test shows both). The page is printed twice: at
//!   Letter width, and at a phone's width (a 100 mm wide page, about 340 CSS pixels of
//!   text) by adding an `@page` size to a copy.
//! - Everything the report says must be there whole: each migration's id after its
//!   verdict word, every statement's full text, the table names, the blockers, the
//!   reasons.
//!
//! Chromium and pdftotext come from `.ci/install-deps` (`chromium`, `poppler-utils`); the
//! test fails, naming them, when either is missing. Chromium runs with
//! `--headless --no-sandbox --disable-gpu` (it runs as root here) and no network.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use engine::lint::{Category, Finding, SectionName, Severity};
use engine::review::{
    Algorithm, Blocker, Review, ReviewEntry, ReviewSummary, ReviewedMigration, Unavailable,
    Verdict, judge, judge_migration, page,
};

/// One browser run may take this long before the test kills it and fails.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

/// Where the page and its pictures are kept: `$CARGO_TARGET_DIR/test-artifacts`, by
/// default the workspace's `target/test-artifacts`.
fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("test-artifacts");
    fs::create_dir_all(&dir).expect("create target/test-artifacts");
    dir
}

/// The page every test here looks at, written to a file, with the report it shows.
/// (The one place to change to test a live `plan --review --html` report instead.)
fn page_under_test() -> (PathBuf, Review) {
    let review = fixture();
    let dir = artifacts_dir();
    let path = dir.join("review-page.html");
    // Each test writes it (they run in parallel): whole, by a rename, so none reads it
    // half written.
    let tmp = dir.join(format!(
        "review-page.html.{:?}.tmp",
        std::thread::current().id()
    ));
    fs::write(
        &tmp,
        page::render(&review, "Review of 3 pending migrations"),
    )
    .unwrap();
    fs::rename(&tmp, &path).unwrap();
    (path, review)
}

const DEADLINE: f64 = 900.0;

fn blocker(connection: u64, user: &str, age_secs: u64, statement: &str) -> Blocker {
    Blocker {
        connection,
        user: user.to_owned(),
        host: format!("ip-10-20-3-{connection}.eu-west-1.compute.internal:51{connection}"),
        age_secs,
        statement: statement.to_owned(),
        lock: "shared_read granted".to_owned(),
    }
}

fn finding(
    migration: &str,
    statement: usize,
    line: usize,
    rule: &str,
    severity: Severity,
    message: &str,
    suppressed: bool,
) -> Finding {
    Finding {
        migration: migration.to_owned(),
        file: format!("migrations/{migration}.sql"),
        section: SectionName::Up,
        statement,
        line,
        rule: rule.to_owned(),
        category: Category::Locking,
        severity,
        message: message.to_owned(),
        suppressed,
        excerpt: String::new(),
        justification: String::new(),
    }
}

#[allow(clippy::too_many_arguments)]
fn entry(
    migration: &str,
    statement: usize,
    table: &str,
    algorithm: Algorithm,
    lock: &str,
    rebuilds: Option<bool>,
    rows: u64,
    data_bytes: u64,
    rate: f64,
    blockers: Vec<Blocker>,
) -> ReviewEntry {
    let index_bytes = data_bytes / 4;
    let copies = matches!(algorithm, Algorithm::Copy | Algorithm::Inplace);
    let mut e = ReviewEntry {
        migration: migration.to_owned(),
        section: SectionName::Up,
        statement,
        table: table.to_owned(),
        algorithm,
        lock: lock.to_owned(),
        rebuilds,
        rows,
        data_bytes,
        index_bytes,
        row_versions: None,
        estimate_secs: if copies {
            (data_bytes + index_bytes) as f64 / rate
        } else {
            0.0
        },
        blockers,
        verdict: Verdict::Safe,
        reasons: Vec::new(),
    };
    if algorithm == Algorithm::Copy {
        e.reasons.push(
            "the server refuses ALGORITHM=INSTANT: ALGORITHM=INSTANT is not supported. \
             Reason: Cannot change column type. Try ALGORITHM=COPY/INPLACE."
                .to_owned(),
        );
    }
    judge(&mut e, Some(DEADLINE));
    e
}

/// A realistic report: one dangerous migration (a COPY of a 100k-row table past the
/// deadline, two sessions in the way, a statement of several kilobytes), one to review,
/// one safe; long table names throughout.
fn fixture() -> Review {
    let danger = "20261201090000_fulfilment_note_to_text";
    let review = "20261202101500_customers_loyalty_tier";
    let safe = "20261203113000_audit_events";
    let long_table =
        "ecommerce_production_eu_west_1.fulfilment_shipment_line_items_archived_by_warehouse";
    let rate = 2.0 * 1024.0 * 1024.0;

    let columns: Vec<String> = (1..=60)
        .map(|i| {
            format!(
                "  `attribute_{i:02}_of_the_archived_shipment_line` VARCHAR(191) NULL DEFAULT NULL"
            )
        })
        .collect();
    let huge = format!(
        "ALTER TABLE `fulfilment_shipment_line_items_archived_by_warehouse`\n{}",
        columns
            .iter()
            .map(|c| format!("  ADD COLUMN {}", c.trim_start()))
            .collect::<Vec<_>>()
            .join(",\n")
    );
    let unbroken = format!(
        "UPDATE `fulfilment_shipment_line_items_archived_by_warehouse` SET note = CONCAT(note, '{}') WHERE id < 100",
        "0123456789abcdef".repeat(40)
    );
    assert!(huge.len() > 2_000 && unbroken.len() > 600);

    let up = vec![
        ReviewedMigration {
            migration: danger.to_owned(),
            file: format!("migrations/{danger}.sql"),
            up: vec![
                "ALTER TABLE `fulfilment_shipment_line_items_archived_by_warehouse`\n  MODIFY COLUMN note TEXT NOT NULL;".to_owned(),
                huge,
                unbroken,
            ],
        },
        ReviewedMigration {
            migration: review.to_owned(),
            file: format!("migrations/{review}.sql"),
            up: vec![
                "ALTER TABLE customers ADD COLUMN loyalty_tier ENUM('bronze','silver','gold') NOT NULL DEFAULT 'bronze' AFTER email;".to_owned(),
            ],
        },
        ReviewedMigration {
            migration: safe.to_owned(),
            file: format!("migrations/{safe}.sql"),
            up: vec![
                "CREATE TABLE audit_events (\n  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,\n  happened_at DATETIME(6) NOT NULL,\n  payload JSON NOT NULL\n);".to_owned(),
                "ALTER TABLE customers ADD COLUMN last_audit_id BIGINT UNSIGNED NULL;".to_owned(),
            ],
        },
    ];

    let entries = vec![
        entry(
            danger,
            1,
            long_table,
            Algorithm::Copy,
            "SHARED",
            Some(true),
            104_857,
            3 * 1024 * 1024 * 1024,
            rate,
            vec![
                blocker(
                    4411,
                    "reporting_batch",
                    1_320,
                    "SELECT w.name, COUNT(*) FROM fulfilment_shipment_line_items_archived_by_warehouse l JOIN warehouses w ON w.id = l.warehouse_id GROUP BY w.name",
                ),
                blocker(4419, "checkout-service", 95, ""),
            ],
        ),
        entry(
            danger,
            2,
            long_table,
            Algorithm::Inplace,
            "NONE",
            Some(true),
            104_857,
            3 * 1024 * 1024 * 1024,
            rate,
            Vec::new(),
        ),
        entry(
            review,
            1,
            "ecommerce_production_eu_west_1.customers",
            Algorithm::Inplace,
            "NONE",
            Some(true),
            250_112,
            80 * 1024 * 1024,
            rate,
            Vec::new(),
        ),
        entry(
            safe,
            2,
            "ecommerce_production_eu_west_1.customers",
            Algorithm::Instant,
            "NONE",
            None,
            250_112,
            80 * 1024 * 1024,
            rate,
            Vec::new(),
        ),
    ];
    let findings = vec![
        finding(
            danger,
            1,
            4,
            "locking/type-change",
            Severity::Warning,
            "changes a column's type: the table is copied, blocking writes",
            false,
        ),
        finding(
            danger,
            3,
            71,
            "transaction/mixed-ddl-dml",
            Severity::Warning,
            "mixes DDL and DML: MySQL commits DDL implicitly, so a failure leaves the migration half applied",
            false,
        ),
        finding(
            review,
            1,
            3,
            "incompatible/add-not-null-without-default",
            Severity::Warning,
            "adds a NOT NULL column: the running application's inserts must name it",
            false,
        ),
        finding(
            safe,
            1,
            3,
            "reversibility/no-down",
            Severity::Warning,
            "has no Down statements: the migration cannot be reverted",
            true,
        ),
    ];
    let migrations = [danger, review, safe]
        .iter()
        .map(|m| judge_migration(m, &entries, &findings))
        .collect();
    Review {
        entries,
        summary: ReviewSummary {
            server: "8.4.3 (MySQL Community Server - GPL)".to_owned(),
            deadline_secs: Some(DEADLINE),
            copy_rate_bytes_per_sec: rate,
            copy_rate_from: "measured".to_owned(),
            migrations,
            findings,
            long_transactions: vec![blocker(
                4411,
                "reporting_batch",
                1_320,
                "SELECT w.name, COUNT(*) FROM fulfilment_shipment_line_items_archived_by_warehouse l JOIN warehouses w ON w.id = l.warehouse_id GROUP BY w.name",
            )],
            unavailable: vec![Unavailable {
                what: "row_versions".to_owned(),
                reason:
                    "information_schema.INNODB_TABLES has no TOTAL_ROW_VERSIONS before MySQL 8.0.29"
                        .to_owned(),
            }],
            leftovers_dropped: vec![
                "_lm_probe_7f3a_fulfilment_shipment_line_items_archived".to_owned(),
            ],
            statements: up,
        },
    }
}

/// The Chromium binary, or a failure saying how to get it.
fn chromium() -> PathBuf {
    which("chromium").unwrap_or_else(|| {
        panic!(
            "chromium is not installed: the review page's browser test needs Debian's \
             `chromium` package (run .ci/install-deps, or apt-get install chromium)"
        )
    })
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Runs headless Chromium on `page` with `args`, in a profile of its own and without a
/// network, and fails the test if it fails or overruns.
fn run_chromium(page: &Path, args: &[String]) {
    let profile = tempfile::tempdir().unwrap();
    let child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-sync",
            "--disable-background-networking",
            "--disable-component-update",
            "--hide-scrollbars",
            // Nothing may come from elsewhere: any request fails.
            "--proxy-server=127.0.0.1:9",
            "--proxy-bypass-list=<-loopback>",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let out = finish(child, &format!("chromium {args:?}"));
    assert!(
        out.status.success(),
        "chromium {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits for `child` (`what`), killing it and failing the test after [`BROWSER_TIMEOUT`].
fn finish(mut child: std::process::Child, what: &str) -> std::process::Output {
    // Read the pipes as it runs, so a full pipe never stalls it.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} took over {BROWSER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    std::process::Output {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

/// The text a person sees on `page` printed, read back by pdftotext. The PDF is kept
/// beside the page as `pdf_name`. `page_size` (a CSS `@page` size) is added to a copy of
/// the page first, to print at another width.
fn printed_text(page: &Path, pdf_name: &str, page_size: Option<&str>) -> String {
    let dir = artifacts_dir();
    let page = match page_size {
        None => page.to_owned(),
        Some(size) => {
            let html = fs::read_to_string(page).unwrap();
            let sized = html.replacen(
                "</head>",
                &format!("<style>@page{{size:{size};margin:5mm}}</style></head>"),
                1,
            );
            let copy = dir.join(pdf_name.replace(".pdf", ".html"));
            fs::write(&copy, sized).unwrap();
            copy
        }
    };
    let pdf = dir.join(pdf_name);
    let _ = fs::remove_file(&pdf);
    run_chromium(
        &page,
        &[
            "--no-pdf-header-footer".to_owned(),
            format!("--print-to-pdf={}", pdf.display()),
        ],
    );
    assert!(pdf.is_file(), "chromium wrote no {}", pdf.display());
    let pdftotext = which("pdftotext").unwrap_or_else(|| {
        panic!(
            "pdftotext is not installed: the review page's browser test needs Debian's \
             `poppler-utils` package (run .ci/install-deps)"
        )
    });
    // `-raw`: in the order painted, and without the default mode's joining of a line that
    // ends in `-` to the next (which turned `eu-west-1` wrapped after `west-` into
    // `eu-west1`). Clipped text stays out either way.
    let out = Command::new(pdftotext)
        .args(["-raw", "-enc", "UTF-8"])
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("run pdftotext");
    assert!(
        out.status.success(),
        "pdftotext: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("pdftotext's UTF-8")
}

/// What a person sees of the page on a screen `width` CSS pixels wide, from
/// `review_page/inspect.py` driving Chromium over the DevTools protocol.
struct Screen {
    /// `document.body.innerText`.
    text: String,
    /// How wide the document is: wider than the screen means it scrolls sideways.
    page_width: u64,
    /// How wide the screen is.
    viewport_width: u64,
    /// Elements whose content is clipped or scrolled away, or that end past the screen.
    overflows: Vec<String>,
}

fn on_screen(page: &Path, width: u32) -> Screen {
    let python = which("python3").unwrap_or_else(|| {
        panic!(
            "python3 is not installed: the review page's browser test runs review_page/inspect.py"
        )
    });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/review_page/inspect.py");
    let child = Command::new(python)
        .arg(&script)
        .arg(chromium())
        .arg(page)
        .arg(width.to_string())
        .arg("900")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python3");
    let out = finish(child, &format!("inspect.py at {width} px"));
    assert!(
        out.status.success(),
        "inspect.py at {width} px failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "inspect.py's output: {e}: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    Screen {
        text: v["text"].as_str().expect("text").to_owned(),
        page_width: v["page_width"].as_u64().expect("page_width"),
        viewport_width: v["viewport_width"].as_u64().expect("viewport_width"),
        overflows: v["overflows"]
            .as_array()
            .expect("overflows")
            .iter()
            .map(|o| o.as_str().unwrap_or_default().to_owned())
            .collect(),
    }
}

/// What is wrong with `screen` for a person: text they cannot read there, clipped boxes,
/// a page that scrolls sideways. Empty when nothing is.
fn screen_problems(screen: &Screen, want: &[(String, String)]) -> Vec<String> {
    let mut problems = unseen(&screen.text, want);
    problems.extend(screen.overflows.iter().cloned());
    if screen.page_width > screen.viewport_width {
        problems.push(format!(
            "the page is {} px wide on a {} px screen: it scrolls sideways",
            screen.page_width, screen.viewport_width
        ));
    }
    problems
}

/// Text compared as a person reads it: line breaks and spacing (where wrapping and page
/// breaks put them) and letter case (the badges are upper case) do not count.
fn normalize(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// What the report says that a person must be able to read, each labelled.
fn must_see(review: &Review) -> Vec<(String, String)> {
    let s = &review.summary;
    let mut want = Vec::new();
    for m in &s.migrations {
        // The verdict word is the badge just before the id, in the summary and heading.
        want.push((
            format!("{}'s verdict", m.migration),
            format!("{}{}", m.verdict.as_str(), m.migration),
        ));
        for r in &m.reasons {
            want.push((format!("{}'s reason", m.migration), r.clone()));
        }
    }
    for m in &s.statements {
        want.push((format!("{}'s file", m.migration), m.file.clone()));
        for (i, text) in m.up.iter().enumerate() {
            want.push((format!("{} statement {}", m.migration, i + 1), text.clone()));
        }
    }
    for e in &review.entries {
        let at = format!("{} statement {}", e.migration, e.statement);
        want.push((format!("{at}'s table"), e.table.clone()));
        want.push((
            format!("{at}'s verdict"),
            format!("{}reviewof", e.verdict.as_str()),
        ));
        for r in &e.reasons {
            want.push((format!("{at}'s reason"), r.clone()));
        }
        for b in &e.blockers {
            want.push((format!("{at}'s blocker {}", b.connection), b.host.clone()));
            want.push((
                format!("{at}'s blocker {}", b.connection),
                b.statement.clone(),
            ));
        }
    }
    for f in &s.findings {
        want.push((format!("{} finding", f.migration), f.message.clone()));
    }
    for u in &s.unavailable {
        want.push(("unavailable".to_owned(), u.reason.clone()));
    }
    for t in &s.leftovers_dropped {
        want.push(("leftover probe".to_owned(), t.clone()));
    }
    want
}

/// What of `wanted` a person cannot read in `visible`: empty when everything is there.
fn unseen(visible: &str, wanted: &[(String, String)]) -> Vec<String> {
    let visible = normalize(visible);
    wanted
        .iter()
        .filter(|(_, text)| !visible.contains(&normalize(text)))
        .map(|(label, text)| {
            let short: String = text.chars().take(60).collect();
            format!("{label}: {short:?}")
        })
        .collect()
}

#[test]
fn screenshot_is_kept() {
    let (page, _) = page_under_test();
    let png = artifacts_dir().join("review-page.png");
    let _ = fs::remove_file(&png);
    run_chromium(
        &page,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,2000".to_owned(),
        ],
    );
    let bytes = fs::read(&png).expect("chromium wrote no screenshot");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    // IHDR: width and height, big-endian, at bytes 16..24.
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 2000));
    // A blank page compresses to a few kilobytes; this one has text and colour.
    assert!(
        bytes.len() > 50_000,
        "screenshot only {} bytes",
        bytes.len()
    );
}

#[test]
fn everything_is_readable_printed() {
    let (page, review) = page_under_test();
    let text = printed_text(&page, "review-page.pdf", None);
    let missing = unseen(&text, &must_see(&review));
    assert!(
        missing.is_empty(),
        "not visible on the printed page:\n{}",
        missing.join("\n")
    );
    // Each verdict is written out in the header's counts.
    let visible = normalize(&text);
    for want in ["1danger", "1review", "1safe"] {
        assert!(visible.contains(want), "{want}");
    }
}

#[test]
fn everything_is_readable_at_a_phones_width() {
    let (page, review) = page_under_test();
    let text = printed_text(&page, "review-page-narrow.pdf", Some("100mm 600mm"));
    let missing = unseen(&text, &must_see(&review));
    assert!(
        missing.is_empty(),
        "not visible at a phone's width:\n{}",
        missing.join("\n")
    );
}

#[test]
fn everything_fits_a_phone_screen() {
    let (page, review) = page_under_test();
    let problems = screen_problems(&on_screen(&page, 390), &must_see(&review));
    assert!(
        problems.is_empty(),
        "on a 390 px screen:\n{}",
        problems.join("\n")
    );
    // The phone's own screenshot, for people to look at.
    let png = artifacts_dir().join("review-page-phone.png");
    run_chromium(
        &page,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=390,2400".to_owned(),
        ],
    );
    assert!(png.is_file());
}

#[test]
fn everything_fits_a_desktop_screen() {
    let (page, review) = page_under_test();
    let problems = screen_problems(&on_screen(&page, 1280), &must_see(&review));
    assert!(
        problems.is_empty(),
        "on a 1280 px screen:\n{}",
        problems.join("\n")
    );
}

/// The checks can fail: the same page with its statements clipped, or run off the
/// paper's (and the screen's) edge, loses the widest statement's text. (Chromium shrinks a page that is too
/// wide to print by up to about a half, so narrower overflows may still fit.)
#[test]
fn a_clipped_page_fails_the_check() {
    let (page, review) = page_under_test();
    let html = fs::read_to_string(&page).unwrap();
    let want = must_see(&review);
    // The label of the statement with the longest line, as `unseen` reports it.
    let (widest, _) = want
        .iter()
        .filter(|(label, _)| label.contains(" statement ") && !label.contains("'s "))
        .max_by_key(|(_, text)| text.lines().map(str::len).max())
        .unwrap();
    let widest = format!("{widest}: ");
    for (name, css) in [
        (
            "clipped",
            "pre{white-space:pre !important;overflow:hidden !important}",
        ),
        (
            "off-edge",
            "pre{white-space:pre !important;overflow:visible !important}",
        ),
    ] {
        let broken = artifacts_dir().join(format!("review-page-broken-{name}.html"));
        fs::write(
            &broken,
            html.replacen("</head>", &format!("<style>{css}</style></head>"), 1),
        )
        .unwrap();
        let text = printed_text(&broken, &format!("review-page-broken-{name}.pdf"), None);
        let missing = unseen(&text, &want);
        assert!(
            missing.iter().any(|m| m.starts_with(&widest)),
            "{name}: the check missed the cut-off statement; it reported {missing:?}"
        );
        // On a phone's screen: the clipped boxes, or the page scrolling sideways.
        let problems = screen_problems(&on_screen(&broken, 390), &want);
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("pre: content") || p.contains("scrolls sideways")),
            "{name}: the screen check missed it; it reported {problems:?}"
        );
        // What is not in a <pre> is still seen: the check is about what was cut.
        assert!(
            !missing.iter().any(|m| m.contains("'s verdict")),
            "{name}: {missing:?}"
        );
    }
}
