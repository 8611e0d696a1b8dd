//! The real sql-migrate command line (Debian's build of rubenv/sql-migrate, compiled
//! offline from /usr/share/gocode) beside ours on the same database, on the test server
//! (MariaDB or MySQL, as `LM_TEST_DATABASE_URL` says), both configured by one
//! dbconfig.yml:
//! - `status --format sql-migrate` prints what its `status` prints, byte for byte, on the
//!   repository's examples and on the file names of two public sql-migrate projects, in
//!   every state a history can be in;
//! - the note that checksums were adopted appears after its `up`, and only then (not after
//!   our own `down` that failed and was fixed).
#![cfg(feature = "mysql")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

mod common;

use common::{BIN, text, write};
use testkit::{TestDb, repo};

/// The sql-migrate command, built once per test binary.
fn sql_migrate_bin() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        testkit::go_build_into(
            Path::new("/usr/share/gocode/src/github.com/rubenv/sql-migrate/sql-migrate"),
            Path::new(env!("CARGO_TARGET_TMPDIR")),
            "sql-migrate-cli",
        )
    })
}

/// A working folder with a dbconfig.yml whose environment `test` is `db`, and the
/// migrations in its `migrations/`: what both tools read.
struct Work {
    db: TestDb,
    dir: tempfile::TempDir,
}

impl Work {
    fn new(tag: &str) -> Work {
        let db = TestDb::tagged(tag);
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("migrations")).unwrap();
        write(
            dir.path(),
            "dbconfig.yml",
            &format!(
                "test:\n  dialect: mysql\n  datasource: {}\n  dir: migrations\n",
                db.dsn()
            ),
        );
        Work { db, dir }
    }

    fn migrations(&self) -> PathBuf {
        self.dir.path().join("migrations")
    }

    /// Writes a migration file that changes nothing.
    fn trivial(&self, names: &[&str]) {
        for name in names {
            write(
                &self.migrations(),
                name,
                "-- +migrate Up\nSELECT 1;\n\n-- +migrate Down\nSELECT 1;\n",
            );
        }
    }

    /// Runs the real sql-migrate with `args`, the config's environment added.
    fn theirs(&self, args: &[&str]) -> Output {
        let o = Command::new(sql_migrate_bin())
            .args(args)
            .args(["-config=dbconfig.yml", "-env=test"])
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "sql-migrate {args:?}: {}", text(&o));
        o
    }

    /// Runs ours with `args`, configured only by the same dbconfig.yml.
    fn ours(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .args(["-config=dbconfig.yml", "-env=test"])
            .env_remove("DATABASE_URL")
            .env_remove("DB_HOST")
            .env_remove("LAMBDA_MIGRATE_VIA_LAMBDA")
            .env_remove("MIGRATIONS_TABLE")
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }

    fn ours_ok(&self, args: &[&str]) -> String {
        let o = self.ours(args);
        assert!(o.status.success(), "lambda-migrate {args:?}: {}", text(&o));
        String::from_utf8(o.stdout).unwrap()
    }

    /// Both `status` outputs, which must be the same bytes; returns them.
    fn same_status(&self, state: &str) -> String {
        let theirs = self.theirs(&["status"]);
        let ours = self.ours(&["status", "--format", "sql-migrate"]);
        assert!(ours.status.success(), "{state}: {}", text(&ours));
        assert_eq!(
            String::from_utf8_lossy(&ours.stdout),
            String::from_utf8_lossy(&theirs.stdout),
            "{state}: our stdout (left) differs from sql-migrate's (right)"
        );
        assert_eq!(ours.stdout, theirs.stdout, "{state}");
        String::from_utf8(ours.stdout).unwrap()
    }
}

#[test]
fn status_matches_sql_migrate_on_the_examples_in_every_state() {
    let w = Work::new("smstatus");
    for e in std::fs::read_dir(repo().join("migrations")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), w.migrations().join(e.file_name())).unwrap();
    }
    // Nothing applied, before any table exists (ours reads it as empty; sql-migrate
    // creates it), then after.
    let ours = w.ours_ok(&["status", "--format", "sql-migrate"]);
    assert!(ours.contains("| 20240101120000-create-users.sql           | no      |"));
    let none = w.same_status("nothing applied");
    assert_eq!(ours, none);

    // Some applied, by us, then the rest by sql-migrate.
    w.ours_ok(&["up", "--limit", "2"]);
    let some = w.same_status("two applied");
    assert_eq!(some.matches(" +0000 UTC ").count(), 2, "{some}");
    w.theirs(&["up"]);
    w.same_status("all applied");

    // History rows without a file: named before the table, in the server's id order
    // (case-insensitive: `alpha` before `Zeta`), on stdout as sql-migrate does.
    w.db.q(
        "INSERT INTO gorp_migrations VALUES ('Zeta-gone.sql', '2023-01-01 00:00:00'), \
         ('alpha-gone.sql', '2023-01-02 00:00:00'), ('20230101000000-gone.sql', NOW())",
    );
    let unknown = w.same_status("rows without a file");
    assert!(
        unknown.starts_with(
            "Could not find migration file: 20230101000000-gone.sql\n\
             Could not find migration file: alpha-gone.sql\n\
             Could not find migration file: Zeta-gone.sql\n+"
        ),
        "{unknown}"
    );
    // Our own table counts files as migrations and the other rows apart.
    let ours = w.ours_ok(&["status"]);
    assert!(
        ours.ends_with("5 migration(s), 5 applied, and 3 history rows without a file\n"),
        "{ours}"
    );
    // The JSON report is unchanged by the flag's existence, and refuses the mix.
    let json = w.ours_ok(&["status", "--json"]);
    assert!(json.starts_with("{\"command\":\"status\""), "{json}");
    let mixed = w.ours(&["status", "--json", "--format", "sql-migrate"]);
    assert_eq!(mixed.status.code(), Some(2), "{}", text(&mixed));
    assert!(
        String::from_utf8_lossy(&mixed.stderr).contains("cannot be used with"),
        "{}",
        text(&mixed)
    );
    w.db.q("DELETE FROM gorp_migrations WHERE id LIKE '%gone.sql'");

    // A table whose times have fractions (altered to datetime(6) or (3)): Go prints the
    // fraction without its trailing zeros, and none when it is zero.
    w.db.q("ALTER TABLE gorp_migrations MODIFY applied_at datetime(6)");
    w.db.q(
        "UPDATE gorp_migrations SET applied_at = '2024-05-06 07:08:09.120000' \
         WHERE id LIKE '20240101%'",
    );
    w.db.q(
        "UPDATE gorp_migrations SET applied_at = '2024-05-06 07:08:09.000001' \
         WHERE id LIKE '20240102%'",
    );
    let fractions = w.same_status("datetime(6)");
    assert!(
        fractions.contains(" 2024-05-06 07:08:09.12 +0000 UTC ")
            && fractions.contains(" 2024-05-06 07:08:09.000001 +0000 UTC "),
        "{fractions}"
    );
    w.db.q("ALTER TABLE gorp_migrations MODIFY applied_at datetime(3)");
    let fractions = w.same_status("datetime(3)");
    assert!(
        fractions.contains(" 2024-05-06 07:08:09.12 +0000 UTC ")
            && fractions.contains(" 2024-05-06 07:08:09 +0000 UTC "),
        "{fractions}"
    );

    // Reverted by sql-migrate; a gap (a history row deleted by hand), which our `skip`
    // records again; the rest applied by sql-migrate, whose Go clock writes fractions of
    // a second into the datetime(3) column.
    w.theirs(&["down", "-limit=3"]);
    w.same_status("three reverted");
    w.db.q("DELETE FROM gorp_migrations WHERE id LIKE '20240101%'");
    let gap = w.same_status("a gap");
    assert!(
        gap.contains("| 20240101120000-create-users.sql           | no "),
        "{gap}"
    );
    w.ours_ok(&["skip", "--limit", "1"]);
    w.same_status("the gap recorded");
    w.theirs(&["up"]);
    w.same_status("all applied again");
}

/// letsencrypt/boulder, `sa/db-next/boulder_sa/` at commit
/// 71130312599aea3523f249fe3f5346f4e0ffd983 (its dbconfig: `dialect: mysql`,
/// `parseTime=true`): the file names only.
const BOULDER: [&str; 22] = [
    "20230419000000_CombinedSchema.sql",
    "20230419000001_DropCertStatusSubscriberApproved.sql",
    "20230419000002_DropCertStatusLockCol.sql",
    "20230419000003_OrderToAuthzID.sql",
    "20230519000000_CrlShards.sql",
    "20230919000000_RevokedCertificates.sql",
    "20240119000000_ReplacementOrders.sql",
    "20240304000000_CertificateProfiles.sql",
    "20240503000000_RemoveRequestedNames.sql",
    "20240514000000_Paused.sql",
    "20241218000000_RemoveOldRateLimitTables.sql",
    "20250110000000_NullRegistrationsLockCol.sql",
    "20250113000000_DropRegistrationsInitialIP.sql",
    "20250115000000_AuthzProfiles.sql",
    "20250304000000_OrdersReplaces.sql",
    "20250417000000_RateLimitOverrides.sql",
    "20250519000000_NullRegistrationsContact.sql",
    "20250520000000_DropRegistrationsContact.sql",
    "20250708000000_DropRegistrationsLockCol.sql",
    "20251002000000_AddRevokedSerialsIndex.sql",
    "20251024000000_TheAuthzsAreInTheOrder.sql",
    "20251203000000_CreatedDatetimes.sql",
];

/// LearningBay24/LearningBay24-backend, `migrations/` at commit
/// 8d3e09c11108dd201e02a0587158bdbae56c232b (its dbconfig.yml: `dialect: mysql`,
/// `parseTime=true`; names made by `sql-migrate new`): the file names only.
const LEARNINGBAY24: [&str; 9] = [
    "20220510114608-initial.sql",
    "20220510123901-field_of_study_semesters_as_int.sql",
    "20220510173806-user_email_unique.sql",
    "20220603170646-standard_roles.sql",
    "20220610150925-add_user_exam_upload.sql",
    "20220610161111-add_appointment_duration.sql",
    "20220621195849-user_file_upload_size.sql",
    "20220622121330-no_standard_admin_user.sql",
    "20220622125423-no_standard_roles.sql",
];

/// Names that exercise the table itself: numeric order (`10_` after `2_`), ids without a
/// version after the others, ids over 60 columns with and without spaces (wrapped, or
/// widening the column), a wrapped line that reads as a number (aligned right), runs of
/// spaces, and characters two columns wide or none.
fn odd_names() -> Vec<String> {
    vec![
        "1_first.sql".into(),
        "2_second.sql".into(),
        "10_tenth.sql".into(),
        "20240101000000-表と é.sql".into(),
        "create table with a rather long descriptive name that keeps going past sixty columns.sql"
            .into(),
        "an_identifier_without_any_spaces_that_is_longer_than_the_sixty_column_limit.sql".into(),
        format!("{} 2024 {}.sql", "a".repeat(58), "b".repeat(58)),
        "x  y   z.sql".into(),
    ]
}

#[test]
fn status_matches_sql_migrate_on_real_world_and_odd_file_names() {
    let odd = odd_names();
    let odd: Vec<&str> = odd.iter().map(String::as_str).collect();
    for (tag, names) in [
        ("smboulder", &BOULDER[..]),
        ("smlb24", &LEARNINGBAY24[..]),
        ("smodd", &odd[..]),
    ] {
        let w = Work::new(tag);
        w.trivial(names);
        w.same_status(&format!("{tag}: nothing applied"));
        // Rows written by both tools: recorded by us, applied by sql-migrate, applied
        // by us.
        w.ours_ok(&["skip", "--limit", "3"]);
        w.same_status(&format!("{tag}: three skipped"));
        w.theirs(&["up", "-limit=2"]);
        w.same_status(&format!("{tag}: two more"));
        w.ours_ok(&["up"]);
        let all = w.same_status(&format!("{tag}: all applied"));
        assert_eq!(
            all.matches(" +0000 UTC ").count(),
            names.len(),
            "{tag}: {all}"
        );
        // A file removed: its row is named, the rest still match.
        std::fs::remove_file(w.migrations().join(names[1])).unwrap();
        let gone = w.same_status(&format!("{tag}: a file removed"));
        assert!(
            gone.starts_with(&format!("Could not find migration file: {}\n", names[1])),
            "{gone}"
        );
    }
}

#[test]
fn checksums_adopted_after_sql_migrate_applied_and_noted_once() {
    let w = Work::new("smadopt");
    w.trivial(&["1_a.sql", "2_b.sql", "3_c.sql"]);
    w.theirs(&["up", "-limit=2"]);
    let up = w.ours_ok(&["up"]);
    assert!(
        up.contains(
            "note: recorded checksums for 2 migration(s) applied without one (e.g. by \
             sql-migrate): 1_a.sql, 2_b.sql"
        ),
        "{up}"
    );
    let again = w.ours_ok(&["up"]);
    assert!(!again.contains("note:"), "{again}");
}

/// Issue 22: after our own `down` failed part-way and was fixed, the next run said it
/// had recorded checksums for a migration "applied without one (e.g. by sql-migrate)",
/// and `status` called its checksum unrecorded. The partial row is ours: it is resumed
/// or resolved, never adopted.
#[test]
fn no_adoption_note_after_a_failed_down_is_fixed() {
    let w = Work::new("smdownfix");
    let broken = "-- +migrate Up\nCREATE TABLE b (id int);\nCREATE TABLE b2 (id int);\n\n\
                  -- +migrate Down\nDROP TABLE b2;\nDROP TABLE no_such_table;\n";
    let fixed = broken.replace("no_such_table", "b");
    w.trivial(&["1_a.sql"]);
    for resume in [true, false] {
        write(&w.migrations(), "2_b.sql", broken);
        w.ours_ok(&["up"]);
        let o = w.ours(&["down"]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let status = w.ours_ok(&["status"]);
        let row = status.lines().find(|l| l.starts_with("2_b.sql")).unwrap();
        assert!(
            row.contains("partial   -") && !status.contains("unrecorded"),
            "{status}"
        );
        // sql-migrate's view: the history row is still there.
        w.same_status("a down left part-way");
        write(&w.migrations(), "2_b.sql", &fixed);
        let finished = if resume {
            w.ours_ok(&["down", "--resume"])
        } else {
            w.db.q("DROP TABLE b");
            w.ours_ok(&["resolve", "2_b.sql", "--rolled-back"])
        };
        assert!(!finished.contains("note:"), "{finished}");
        let up = w.ours_ok(&["up"]);
        assert!(
            up.contains("applied  2_b.sql") && !up.contains("note:"),
            "{up}"
        );
        let status = w.ours_ok(&["status"]);
        assert!(
            status
                .lines()
                .skip(1)
                .take(2)
                .all(|l| l.contains("applied   ok")),
            "{status}"
        );
        w.ours_ok(&["down"]);
    }
}

/// A small deterministic generator (an LCG): the cases are the same on every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Pseudo-random ids: words of 0 to 70 columns (ASCII, wide, combining and accented
/// characters), joined by one or two spaces; sometimes a number alone.
fn random_id(g: &mut Lcg) -> String {
    const CHARS: [&str; 22] = [
        "a", "b", "x", "_", "-", ".", "0", "1", "7", "9", ",", "表", "é", "e\u{301}", "ß", "Ω",
        "ｱ", "한", "☕", "·", "—", "ñ",
    ];
    let words = [1, 1, 1, 2, 3, 5, 8, 12, 20][g.below(9)];
    let mut id = String::new();
    for w in 0..words {
        if w > 0 {
            id.push_str(g.pick(&[" ", " ", " ", "  "]));
        }
        if g.below(8) == 0 {
            id.push_str(g.pick(&["2024", "1,234", "-12.5", "007"]));
            continue;
        }
        let len = [0, 1, 2, 3, 4, 5, 8, 10, 13, 20, 30, 45, 59, 60, 61, 70][g.below(16)];
        for _ in 0..len {
            id.push_str(if g.below(10) == 0 {
                g.pick(&CHARS[11..])
            } else {
                g.pick(&CHARS[..11])
            });
        }
    }
    id.push_str(".sql");
    id
}

/// Our renderer against Go's tablewriter, set up as sql-migrate's `status` sets it up,
/// on 2,000 generated tables: ids that wrap, widen their column, hold wide or combining
/// characters or runs of spaces, wrapped lines that read as numbers; times with and
/// without fractions; rows without a file.
#[test]
fn status_table_matches_tablewriter_on_generated_rows() {
    use engine::command::{CommandName, StatusReport};
    use engine::plan::{ChecksumState, MigrationState, StatusRow};

    let go = testkit::go_build_into(
        &repo().join("runtime/tests/sql_migrate_table/main.go"),
        Path::new(env!("CARGO_TARGET_TMPDIR")),
        "sql-migrate-table",
    );
    let mut g = Lcg(22);
    let mut input = String::new();
    let mut ours = String::new();
    for _ in 0..2000 {
        let mut rows = Vec::new();
        for _ in 0..[0, 1, 1, 2, 3, 6][g.below(6)] {
            let id = random_id(&mut g);
            let (state, applied_at) = match g.below(6) {
                0 => (MigrationState::Unknown, None),
                1 | 2 => (MigrationState::Pending, None),
                3 => (
                    MigrationState::Applied,
                    Some("2024-01-02 03:04:05".to_owned()),
                ),
                _ => {
                    let digits = 1 + g.below(6);
                    let fraction: String =
                        (0..digits).map(|_| g.pick(&["0", "0", "5", "9"])).collect();
                    (
                        MigrationState::Applied,
                        Some(format!("2024-12-31 23:59:59.{fraction}")),
                    )
                }
            };
            match (&state, &applied_at) {
                (MigrationState::Unknown, _) => input.push_str(&format!("?\t{id}\n")),
                (_, None) => input.push_str(&format!("{id}\t-\n")),
                (_, Some(at)) => input.push_str(&format!("{id}\t{at}\n")),
            }
            rows.push(StatusRow {
                id,
                applied_at,
                state,
                checksum: ChecksumState::NotApplicable,
                note: None,
            });
        }
        // Rows without a file come first in the report, as in sql-migrate's output.
        rows.sort_by_key(|r| r.state != MigrationState::Unknown);
        input.push_str("@@\n");
        ours.push_str(&lambda_migrate::cli::render::sql_migrate::status(
            &StatusReport {
                command: CommandName::Status,
                migrations: rows,
                lock_held: false,
            },
        ));
    }
    let mut child = Command::new(&go)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feed = std::thread::spawn(move || {
        use std::io::Write;
        stdin.write_all(input.as_bytes()).unwrap();
    });
    let theirs = child.wait_with_output().unwrap();
    feed.join().unwrap();
    assert!(theirs.status.success());
    let theirs = String::from_utf8(theirs.stdout).unwrap();
    if ours != theirs {
        let at = ours
            .lines()
            .zip(theirs.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "differs at line {at}:\nours:   {:?}\ntheirs: {:?}",
            ours.lines().nth(at),
            theirs.lines().nth(at)
        );
    }
}
