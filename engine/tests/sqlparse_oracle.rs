//! Differential test: our parser against sql-migrate's own `sqlparse` (Go, from Debian's
//! golang-github-rubenv-sql-migrate-dev, installed by .ci/install-deps) on thousands of
//! generated files. Both must accept or refuse the same files and, when they accept,
//! produce the same statements, byte for byte, and the same notransaction flags.

use std::path::{Path, PathBuf};
use std::process::Command;

use engine::migration::parse::parse;

/// Builds the Go program once per test binary run, in GOPATH mode.
fn oracle() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sqlparse-oracle");
    let bin = dir.join("sqlparse-oracle");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sqlparse_oracle/main.go");
    testkit::go_build(&src, &bin, &dir);
    bin
}

/// A small deterministic generator (xorshift64*), so failures reproduce by seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const LINES: &[&str] = &[
    "-- +migrate Up",
    "-- +migrate Down",
    "-- +migrate Up notransaction",
    "-- +migrate Down notransaction",
    "-- +migrate StatementBegin",
    "-- +migrate StatementEnd",
    "-- +migrate Unknown",
    "-- +migrate  Up",
    "-- +migrate",
    "-- +migrate ",
    "--+migrate Up",
    "-- a comment;",
    "-- +other",
    "--no space;",
    "",
    "   ",
    "\t",
    "CREATE TABLE t (",
    "  id int primary key",
    ");",
    "SELECT 1;",
    "SELECT 1 ; -- trailing",
    "SELECT 2; -- x;",
    "SELECT 'a -- b';",
    "SELECT 3 --;",
    "INSERT INTO t VALUES (1), (2);   ",
    "BEGIN",
    "END;",
    "UPDATE t SET x = ';' WHERE y",
    ";",
    "  ;  ",
    "x;--y",
    "abc\u{a0};",
    "\u{3000}SELECT 4;\u{3000}",
    "SELECT 5;\u{b}",
    "a --b;",
    "SELECT 7; --",
    "--;",
    "\u{b}--x;",
    "a;\u{c}",
    // DELIMITER lines are our extension (sql-migrate sees an unterminated statement):
    // only the non-command form is shared.
    "DELIMITER;",
];

fn generate(rng: &mut Rng) -> String {
    let n = 1 + rng.next() % 14;
    let mut out = String::new();
    let crlf = rng.next().is_multiple_of(5);
    for _ in 0..n {
        out.push_str(rng.pick(LINES));
        out.push_str(if crlf { "\r\n" } else { "\n" });
    }
    match rng.next() % 4 {
        0 => {
            out.pop();
        }
        1 => out.push_str(rng.pick(LINES)),
        _ => {}
    }
    out
}

#[derive(serde::Deserialize)]
struct GoResult {
    up: Option<Vec<String>>,
    down: Option<Vec<String>>,
    up_notx: bool,
    down_notx: bool,
    error: String,
}

#[test]
fn parser_matches_sql_migrate() {
    let bin = oracle();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut files = Vec::new();
    // Hand-picked cases first, then generated ones.
    let mut sources: Vec<String> = vec![
        "-- +migrate Up\nSELECT 1;\n\n-- +migrate Down\nSELECT 2;\n".into(),
        "-- +migrate Up\n-- +migrate StatementBegin\n-- +migrate StatementEnd\n".into(),
        "-- +migrate Down\n-- +migrate StatementBegin\n-- +migrate Up\nSELECT 1;\n-- +migrate StatementEnd\n".into(),
    ];
    sources.extend((0..3000).map(|_| generate(&mut rng)));
    for (i, src) in sources.iter().enumerate() {
        let path = dir.path().join(format!("{i}.sql"));
        std::fs::write(&path, src).unwrap();
        files.push(path);
    }
    let output = Command::new(&bin).args(&files).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<GoResult> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), sources.len());

    let mut accepted = 0;
    for (src, go) in sources.iter().zip(&results) {
        let ours = parse("1_x.sql", "1_x.sql", src.as_bytes());
        match ours {
            Err(e) => assert!(
                !go.error.is_empty(),
                "we refuse ({e}) what sql-migrate accepts:\n{src:?}"
            ),
            Ok(m) => {
                assert!(
                    go.error.is_empty(),
                    "we accept what sql-migrate refuses ({}):\n{src:?}",
                    go.error
                );
                accepted += 1;
                let up: Vec<&str> = m.up.statements.iter().map(|s| s.sql.as_ref()).collect();
                let down: Vec<&str> = m.down.statements.iter().map(|s| s.sql.as_ref()).collect();
                let go_up: Vec<&str> = go.up.iter().flatten().map(String::as_str).collect();
                let go_down: Vec<&str> = go.down.iter().flatten().map(String::as_str).collect();
                assert_eq!(up, go_up, "up statements differ:\n{src:?}");
                assert_eq!(down, go_down, "down statements differ:\n{src:?}");
                assert_eq!(
                    (m.up.no_transaction, m.down.no_transaction),
                    (go.up_notx, go.down_notx),
                    "{src:?}"
                );
            }
        }
    }
    // The generator must exercise both outcomes, or the comparison proves little.
    assert!(
        accepted > 300 && accepted < sources.len() - 300,
        "accepted {accepted} of {}",
        sources.len()
    );
}
