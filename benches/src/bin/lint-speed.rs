//! `lint-speed DIR [ROUNDS]`: how long `lint` takes over the `.sql` files of DIR, against
//! its lower bound, the bare `sqlparser` parse of the same statements. Prints one JSON
//! object: medians over ROUNDS (default 7) and the statement counts. Used by
//! `scripts/bench-lint`, which generates the files and runs the peer (sqlfluff).
//!
//! Three timings, each over every file in memory (read once, before timing):
//! - `parse_ns`: every statement of both sections (as sql-migrate splits them) through
//!   `sqlparser`'s MySQL dialect, results dropped: the floor;
//! - `lint_ns`: `engine::lint::lint` over the split migrations (its own parse, the rules,
//!   the schema model, suppressions);
//! - `whole_ns`: what the command does after reading the files: id checks, ordering,
//!   checksums, splitting, then the lint.

use std::time::Instant;

use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

fn median(mut v: Vec<u128>) -> u128 {
    v.sort_unstable();
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: lint-speed DIR [ROUNDS]");
    let rounds: usize = args
        .next()
        .map_or(7, |r| r.parse().expect("ROUNDS is a number"));
    let mut files: Vec<(String, String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("DIR is readable")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let origin = p.to_string_lossy().into_owned();
            let data = std::fs::read(&p).expect("a readable file");
            (name, origin, data)
        })
        .collect();
    files.sort();
    let load = || {
        engine::migration::load(
            files
                .iter()
                .map(|(n, o, d)| (n.as_str(), o.as_str(), d.as_slice())),
        )
        .expect("the generated migrations are valid")
    };
    let migrations = load();
    let statements: Vec<&str> = migrations
        .iter()
        .flat_map(|m| m.up.statements.iter().chain(&m.down.statements))
        .map(|s| s.sql.as_ref())
        .collect();

    let (mut parse, mut lint, mut whole) = (Vec::new(), Vec::new(), Vec::new());
    let mut parsed = 0;
    let mut report = engine::lint::LintReport::default();
    for _ in 0..rounds {
        let t = Instant::now();
        parsed = statements
            .iter()
            .filter(|s| Parser::parse_sql(&MySqlDialect {}, s).is_ok())
            .count();
        parse.push(t.elapsed().as_nanos());

        let t = Instant::now();
        report = engine::lint::lint(&migrations);
        lint.push(t.elapsed().as_nanos());

        let t = Instant::now();
        let fresh = load();
        std::hint::black_box(engine::lint::lint(&fresh));
        whole.push(t.elapsed().as_nanos());
    }
    let s = &report.summary;
    assert_eq!(s.statements, statements.len(), "lint saw every statement");
    println!(
        "{{\"migrations\":{},\"statements\":{},\"parser_ok\":{parsed},\"parsed\":{},\"unparsed\":{},\"findings\":{},\"rounds\":{rounds},\"parse_ns\":{},\"lint_ns\":{},\"whole_ns\":{}}}",
        migrations.len(),
        statements.len(),
        s.parsed,
        s.unparsed,
        report.findings.len(),
        median(parse),
        median(lint),
        median(whole),
    );
}
