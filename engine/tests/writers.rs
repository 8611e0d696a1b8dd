//! Real zips from many writers must read identically.
//!
//! Each test writes one sample tree into a tempdir, archives it with a real writer
//! (Python zipfile, Info-ZIP, 7-Zip, jar, Go archive/zip, bsdtar, the `zip` crate) and
//! checks that the reader selects the same migrations in the same order with contents
//! byte-identical to the files on disk, and that `Source` + `migration::load` accept it.
//! A missing writer tool fails the test: run `.ci/install-deps`.

use std::fs;
use std::io::{Cursor, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use engine::artifact::Archive;
use engine::migration::{self, checksum};
use engine::{Limits, Source};
use tempfile::TempDir;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

const INSTALL_HINT: &str = "run .ci/install-deps to install the zip writers";

/// The sample tree: `(entry path, contents)`, byte-sorted by path so 7-Zip's own name
/// sort keeps the order every other writer is given. The repository's `migrations/`
/// files, plus the cases a reader gets wrong: CRLF, a file large enough to be deflated,
/// an empty file, a non-`.sql` file, a subfolder, a folder that only shares the prefix,
/// and unrelated entries before and after the migrations folder.
fn samples() -> &'static [(String, Vec<u8>)] {
    static SAMPLES: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        let mut add = |path: &str, data: Vec<u8>| files.push((path.to_owned(), data));
        add(
            "README.md",
            b"# service\n\nDeployed by CodePipeline.\n".to_vec(),
        );
        add(
            "app/handler.js",
            b"exports.handler = async () => ({ ok: true });\n".to_vec(),
        );
        add("assets/blob.bin", noise(20_000, 7));
        let repo = repo_migrations();
        if repo.is_empty() {
            add(
                "migrations/1_init.sql",
                b"-- +migrate Up\nCREATE TABLE people (id INT PRIMARY KEY);\n\
                  -- +migrate Down\nDROP TABLE people;\n"
                    .to_vec(),
            );
        }
        for (name, data) in repo {
            add(&format!("migrations/{name}"), data);
        }
        add(
            "migrations/2_crlf.sql",
            b"-- +migrate Up\r\n\
CREATE TABLE crlf_notes (\r\n    id INT PRIMARY KEY,\r\n    body TEXT\r\n);\r\n\
INSERT INTO crlf_notes VALUES (1, 'written on Windows');\r\n\r\n\
-- +migrate Down\r\nDROP TABLE crlf_notes;\r\n"
                .to_vec(),
        );
        add("migrations/3_big.sql", big_migration());
        add("migrations/4_empty.sql", Vec::new());
        add(
            "migrations/notes.txt",
            b"Not a migration: ignored by the selection.\n".to_vec(),
        );
        add(
            "migrations/sub/x.sql",
            b"-- +migrate Up\nTHIS IS IN A SUBFOLDER AND MUST BE IGNORED;\n".to_vec(),
        );
        add(
            "migrations_old/9_old.sql",
            b"-- +migrate Up\nTHIS FOLDER ONLY SHARES A PREFIX;\n".to_vec(),
        );
        add("zz/tail.txt", b"last entry\n".to_vec());
        files.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        files
    })
}

/// The `.sql` files of the repository's `migrations/` folder, if it has any.
fn repo_migrations() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let Ok(read) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    read.map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.ends_with(".sql")
                .then(|| (name, fs::read(e.path()).unwrap()))
        })
        .collect()
}

/// Every entry path, in archive order.
fn entries() -> Vec<&'static str> {
    samples().iter().map(|(p, _)| p.as_str()).collect()
}

/// The contents of the sample entry `path`.
fn sample(path: &str) -> &'static [u8] {
    &samples().iter().find(|(p, _)| p == path).unwrap().1
}

/// What `select("migrations")` must return, in archive order: the `.sql` files directly
/// in `migrations/`.
fn selected() -> Vec<&'static str> {
    entries()
        .into_iter()
        .filter_map(|p| p.strip_prefix("migrations/"))
        .filter(|n| n.ends_with(".sql") && !n.contains('/'))
        .collect()
}

/// sql-migrate's apply order of the non-empty selected files, computed independently of
/// the engine: leading-digit version numerically, then the id byte-wise; ids without
/// digits last.
fn apply_order() -> Vec<&'static str> {
    let mut ids: Vec<&str> = selected()
        .into_iter()
        .filter(|n| !sample(&format!("migrations/{n}")).is_empty())
        .collect();
    let version = |id: &str| -> Option<u128> {
        let digits: String = id.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    ids.sort_by(|a, b| match (version(a), version(b)) {
        (Some(x), Some(y)) if x != y => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        _ => a.as_bytes().cmp(b.as_bytes()),
    });
    ids
}

/// A compressible migration larger than 64 KiB, so every deflating writer deflates it.
fn big_migration() -> Vec<u8> {
    let mut s = String::from(
        "-- +migrate Up\nCREATE TABLE big_log (id INT PRIMARY KEY, msg VARCHAR(200));\n",
    );
    for i in 0..2000 {
        s.push_str(&format!(
            "INSERT INTO big_log (id, msg) VALUES ({i}, 'log line {i} with some padding text');\n"
        ));
    }
    s.push_str("\n-- +migrate Down\nDROP TABLE big_log;\n");
    assert!(s.len() > 64 * 1024);
    s.into_bytes()
}

/// Deterministic incompressible bytes (xorshift).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A tempdir holding `src/` (the sample tree) and the archives written from it.
struct Fixture {
    dir: TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        for (path, data) in samples() {
            let file = dir.path().join("src").join(path);
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(&file, data).unwrap();
        }
        Fixture { dir }
    }

    fn src(&self) -> PathBuf {
        self.dir.path().join("src")
    }

    fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Runs a writer tool; a missing tool or a failed run fails the test.
fn run(cmd: &mut Command) {
    let tool = cmd.get_program().to_string_lossy().into_owned();
    let output = match cmd.output() {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("writer tool `{tool}` is not installed: {INSTALL_HINT}")
        }
        Err(e) => panic!("cannot run `{tool}`: {e}"),
    };
    assert!(
        output.status.success(),
        "`{tool}` failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// What a writer's archive is expected to exercise, checked so the corpus keeps
/// covering what it claims.
#[derive(Clone, Copy, Default)]
struct Expect {
    /// Names carry a leading `./` (bsdtar).
    dot_slash: bool,
    /// The big migration is deflated (else stored).
    deflated: bool,
    /// Migration entries have general-purpose flag bit 3 (sizes in a data descriptor).
    descriptor: bool,
    /// The big migration's local header has a ZIP64 extra field.
    zip64_local: bool,
    /// The archive ends with a ZIP64 end-of-central-directory record and locator.
    zip64_eocd: bool,
}

const PYTHON: &str = r#"
import sys, zipfile
mode, out, src, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
method = zipfile.ZIP_STORED if mode == "stored" else zipfile.ZIP_DEFLATED
z = zipfile.ZipFile(out, "w", method)
z.writestr(zipfile.ZipInfo("migrations/", (2024, 1, 2, 3, 4, 6)), b"")
for name in names:
    with open(src + "/" + name, "rb") as f:
        data = f.read()
    info = zipfile.ZipInfo(name, (2024, 1, 2, 3, 4, 6))
    info.compress_type = method
    if mode == "deflated" or mode == "stored":
        z.writestr(info, data)
    else:
        # force_zip64 gives every local header a ZIP64 extra with 0xFFFFFFFF sizes.
        with z.open(info, "w", force_zip64=True) as w:
            w.write(data)
if mode == "zip64-full":
    # zipfile writes ZIP64 central extras and end records only past its limits:
    # lowering them before close() forces both for these small files.
    zipfile.ZIP64_LIMIT = 0
    zipfile.ZIP_FILECOUNT_LIMIT = 0
z.close()
"#;

fn python(f: &Fixture, mode: &str) -> PathBuf {
    let out = f.out(&format!("python-{mode}.zip"));
    run(Command::new("python3")
        .args(["-c", PYTHON, mode])
        .arg(&out)
        .arg(f.src())
        .args(entries()));
    out
}

fn infozip(f: &Fixture, stored: bool) -> PathBuf {
    let out = f.out(if stored { "zip0.zip" } else { "zip.zip" });
    let mut cmd = Command::new("zip");
    cmd.current_dir(f.src()).args(["-q", "-X"]);
    if stored {
        cmd.arg("-0");
    }
    run(cmd.arg(&out).args(entries()));
    out
}

fn sevenzip(f: &Fixture) -> PathBuf {
    let out = f.out("7zz.zip");
    run(Command::new("7zz")
        .current_dir(f.src())
        .args(["a", "-tzip", "-bd", "-bso0", "-bsp0"])
        .arg(&out)
        .args(entries()));
    out
}

fn jar(f: &Fixture) -> PathBuf {
    let out = f.out("jar.jar");
    run(Command::new("jar")
        .current_dir(f.src())
        .arg("cf")
        .arg(&out)
        .args(entries()));
    out
}

fn go(f: &Fixture) -> PathBuf {
    let program = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/writers/gozip.go");
    let bin = f.out("gozip");
    // GOPATH mode with no network; the build cache persists in the target dir.
    testkit::go_build(&program, &bin, Path::new(env!("CARGO_TARGET_TMPDIR")));
    let out = f.out("go.zip");
    let mut cmd = Command::new(&bin);
    run(cmd.arg(&out).arg(f.src()).args(entries()));
    out
}

fn bsdtar(f: &Fixture) -> PathBuf {
    let out = f.out("bsdtar.zip");
    run(Command::new("bsdtar")
        .current_dir(f.src())
        .args(["--format", "zip", "-cf"])
        .arg(&out)
        .args(entries().iter().map(|e| format!("./{e}"))));
    out
}

/// Which flavour of the `zip` crate's writer to use.
#[derive(Clone, Copy)]
enum Crate {
    /// Seekable writer; `.bin` stored, the rest deflated; a directory entry.
    Plain,
    /// Seekable writer with `large_file(true)` on every entry: ZIP64 extras.
    Zip64,
    /// Streaming writer: data descriptors.
    Stream,
}

fn zip_crate(f: &Fixture, flavour: Crate, prefix: &str) -> PathBuf {
    let out = f.out(&format!("crate-{}{}.zip", flavour as u8, prefix.len()));
    let file = fs::File::create(&out).unwrap();
    match flavour {
        Crate::Plain | Crate::Zip64 => {
            let mut w = ZipWriter::new(file);
            add_all(&mut w, flavour, prefix).unwrap();
            w.finish().unwrap();
        }
        Crate::Stream => {
            let mut w = ZipWriter::new_stream(file);
            add_all(&mut w, flavour, prefix).unwrap();
            w.finish().unwrap();
        }
    }
    out
}

fn add_all<W: Write + Seek>(
    w: &mut ZipWriter<W>,
    flavour: Crate,
    prefix: &str,
) -> zip::result::ZipResult<()> {
    let base = SimpleFileOptions::default().last_modified_time(DateTime::DEFAULT);
    if !prefix.is_empty() {
        w.add_directory(prefix, base)?;
    }
    let mut added_dir = false;
    for name in entries() {
        if name.starts_with("migrations/") && !added_dir {
            added_dir = true;
            w.add_directory(format!("{prefix}migrations/"), base)?;
        }
        let method = if name.ends_with(".bin") {
            CompressionMethod::Stored
        } else {
            CompressionMethod::Deflated
        };
        let options = base
            .compression_method(method)
            .large_file(matches!(flavour, Crate::Zip64));
        w.start_file(format!("{prefix}{name}"), options)?;
        w.write_all(sample(name))?;
    }
    Ok(())
}

/// The selected migrations of one archive: `(name, contents)` in archive order.
type Selected = Vec<(String, Vec<u8>)>;

/// Reads `path` with the engine and checks it against the files on disk.
fn check(writer: &str, path: &Path, f: &Fixture, expect: Expect) -> Selected {
    let prefix = if expect.dot_slash { "./" } else { "" };
    check_structure(writer, path, prefix, expect);

    let bytes = fs::read(path).unwrap();
    let limits = Limits::default();
    let archive = Archive::new(&bytes).unwrap_or_else(|e| panic!("{writer}: Archive::new: {e}"));
    let entries = archive
        .select("migrations", &limits)
        .unwrap_or_else(|e| panic!("{writer}: select: {e}"));
    let names: Vec<&str> = entries.iter().map(|e| e.name).collect();
    assert_eq!(names, selected(), "{writer}: selected names");

    let mut selected = Selected::new();
    for entry in &entries {
        let full = entry.path.strip_prefix("./").unwrap_or(entry.path);
        assert_eq!(
            full,
            format!("migrations/{}", entry.name),
            "{writer}: entry path"
        );
        let file = archive
            .read(entry, &limits)
            .unwrap_or_else(|e| panic!("{writer}: read {}: {e}", entry.path));
        assert_eq!(file.name, entry.name, "{writer}: read name");
        let on_disk = fs::read(f.src().join("migrations").join(entry.name)).unwrap();
        assert!(
            *file.data == *on_disk,
            "{writer}: {} differs from the file on disk ({} vs {} bytes)",
            entry.name,
            file.data.len(),
            on_disk.len()
        );
        selected.push((entry.name.to_owned(), file.data.into_owned()));
    }

    check_source(writer, path, &selected);
    selected
}

/// `Source::open` + `files` give the same files, and the migrations load in apply order.
fn check_source(writer: &str, path: &Path, selected: &Selected) {
    let limits = Limits::default();
    let source = Source::open(path, &limits).unwrap_or_else(|e| panic!("{writer}: open: {e}"));
    let files = source
        .files("migrations", &limits)
        .unwrap_or_else(|e| panic!("{writer}: files: {e}"));
    let got: Selected = files
        .iter()
        .map(|f| (f.name.to_owned(), f.data.to_vec()))
        .collect();
    assert!(
        got == *selected,
        "{writer}: Source::files differs from Archive::read"
    );

    // sql-migrate refuses a file without an Up/Down directive, so the empty one is only
    // read, not parsed.
    let parsable: Vec<_> = files.iter().filter(|f| !f.data.is_empty()).collect();
    let loaded = migration::load(parsable.iter().map(|f| (f.name, f.origin, &*f.data)))
        .unwrap_or_else(|e| panic!("{writer}: load: {e}"));
    let ids: Vec<&str> = loaded.iter().map(|m| m.id).collect();
    assert_eq!(ids, apply_order(), "{writer}: apply order");
    for m in &loaded {
        let data = &selected.iter().find(|(n, _)| n == m.id).unwrap().1;
        assert_eq!(m.sha256, checksum(data), "{writer}: checksum of {}", m.id);
    }
}

/// Checks, with the `zip` crate, that the archive holds every sample entry (so ignored
/// entries were really there) and has the features this writer is in the corpus for.
fn check_structure(writer: &str, path: &Path, prefix: &str, expect: Expect) {
    let bytes = fs::read(path).unwrap();
    let mut zip = ZipArchive::new(Cursor::new(&bytes[..]))
        .unwrap_or_else(|e| panic!("{writer}: zip crate cannot read it: {e}"));
    let names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    for entry in entries() {
        let name = format!("{prefix}{entry}");
        assert!(
            names.contains(&name),
            "{writer}: archive lacks {name}: {names:?}"
        );
    }
    let u16_at = |at: u64| {
        let at = at as usize;
        u16::from_le_bytes([bytes[at], bytes[at + 1]])
    };
    for selected in selected() {
        let file = zip
            .by_name(&format!("{prefix}migrations/{selected}"))
            .unwrap();
        let local = file.header_start();
        if expect.descriptor && !selected.contains("empty") {
            assert!(
                u16_at(local + 6) & 8 != 0,
                "{writer}: {selected} has no data descriptor flag"
            );
        }
        if selected == "3_big.sql" {
            let method = file.compression();
            let want = if expect.deflated {
                CompressionMethod::Deflated
            } else {
                CompressionMethod::Stored
            };
            assert_eq!(method, want, "{writer}: method of {selected}");
            if expect.zip64_local {
                let name_len = u64::from(u16_at(local + 26));
                let extra_len = u16_at(local + 28);
                assert!(
                    extra_len >= 4 && u16_at(local + 30 + name_len) == 1,
                    "{writer}: {selected} has no ZIP64 extra first in its local header"
                );
            }
        }
    }
    if expect.zip64_eocd {
        let tail = &bytes[bytes.len().saturating_sub(22 + 20 + 56)..];
        assert!(
            tail.windows(4).any(|w| w == b"PK\x06\x06")
                && tail.windows(4).any(|w| w == b"PK\x06\x07"),
            "{writer}: no ZIP64 end records"
        );
    }
}

const DEFLATED: Expect = Expect {
    dot_slash: false,
    deflated: true,
    descriptor: false,
    zip64_local: false,
    zip64_eocd: false,
};

/// Every writer: its name, how to build its archive, and what it must exercise.
type Writer = (&'static str, fn(&Fixture) -> PathBuf, Expect);

const WRITERS: &[Writer] = &[
    (
        "python-stored",
        |f| python(f, "stored"),
        Expect {
            deflated: false,
            ..DEFLATED
        },
    ),
    ("python-deflated", |f| python(f, "deflated"), DEFLATED),
    (
        "python-force-zip64",
        |f| python(f, "zip64-local"),
        Expect {
            zip64_local: true,
            ..DEFLATED
        },
    ),
    (
        "python-zip64-full",
        |f| python(f, "zip64-full"),
        Expect {
            zip64_local: true,
            zip64_eocd: true,
            ..DEFLATED
        },
    ),
    ("infozip", |f| infozip(f, false), DEFLATED),
    (
        "infozip-stored",
        |f| infozip(f, true),
        Expect {
            deflated: false,
            ..DEFLATED
        },
    ),
    ("7zz", sevenzip, DEFLATED),
    (
        "jar",
        jar,
        Expect {
            descriptor: true,
            ..DEFLATED
        },
    ),
    (
        "go",
        go,
        Expect {
            descriptor: true,
            ..DEFLATED
        },
    ),
    (
        "bsdtar",
        bsdtar,
        Expect {
            dot_slash: true,
            ..DEFLATED
        },
    ),
    ("zip-crate", |f| zip_crate(f, Crate::Plain, ""), DEFLATED),
    (
        "zip-crate-zip64",
        |f| zip_crate(f, Crate::Zip64, ""),
        Expect {
            zip64_local: true,
            ..DEFLATED
        },
    ),
    (
        "zip-crate-stream",
        |f| zip_crate(f, Crate::Stream, ""),
        Expect {
            descriptor: true,
            ..DEFLATED
        },
    ),
];

fn check_writer(name: &str) {
    let (_, write, expect) = WRITERS.iter().find(|w| w.0 == name).unwrap();
    let f = Fixture::new();
    let path = write(&f);
    check(name, &path, &f, *expect);
}

macro_rules! writer_tests {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                check_writer($name);
            }
        )*
    };
}

writer_tests! {
    writer_python_stored => "python-stored",
    writer_python_deflated => "python-deflated",
    writer_python_force_zip64 => "python-force-zip64",
    writer_python_zip64_full => "python-zip64-full",
    writer_infozip => "infozip",
    writer_infozip_stored => "infozip-stored",
    writer_sevenzip => "7zz",
    writer_jar => "jar",
    writer_go_archive_zip => "go",
    writer_bsdtar => "bsdtar",
    writer_zip_crate => "zip-crate",
    writer_zip_crate_zip64 => "zip-crate-zip64",
    writer_zip_crate_stream => "zip-crate-stream",
}

/// All writers in one place: every archive gives exactly the same selection.
#[test]
fn all_writers_agree() {
    let f = Fixture::new();
    let mut first: Option<(&str, Selected)> = None;
    for (name, write, expect) in WRITERS {
        let got = check(name, &write(&f), &f, *expect);
        match &first {
            None => first = Some((name, got)),
            Some((first_name, want)) => {
                assert!(got == *want, "{name} disagrees with {first_name}")
            }
        }
    }
    assert!(WRITERS.len() >= 7);
}

/// A repository artifact (GitHub/CodeStar source action): everything sits under one
/// top-level folder, and the migrations folder is found inside it.
#[test]
fn repository_archive() {
    let f = Fixture::new();
    let path = zip_crate(&f, Crate::Plain, "repo-1a2b3c/");
    let bytes = fs::read(&path).unwrap();
    let limits = Limits::default();
    let archive = Archive::new(&bytes).expect("Archive::new");
    let entries = archive.select("migrations", &limits).expect("select");
    let names: Vec<&str> = entries.iter().map(|e| e.name).collect();
    assert_eq!(names, selected());
    for entry in &entries {
        assert_eq!(entry.path, format!("repo-1a2b3c/migrations/{}", entry.name));
        let file = archive.read(entry, &limits).expect("read");
        assert!(*file.data == *sample(&format!("migrations/{}", entry.name)));
    }
}
