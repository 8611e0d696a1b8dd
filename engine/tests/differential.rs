//! Differential test: every archive of the shared corpus (testkit's `corpus`), plus benign
//! archives from real writers, goes through our reader and through Python's zipfile,
//! Go's archive/zip, Info-ZIP unzip and libarchive's bsdtar. For each archive, either we refuse it, or every
//! reading by every tool that accepts it has exactly our migrations: the same `.sql`
//! files directly under `migrations/` (or `<top>/migrations/` for a repository archive),
//! with the same bytes. A tool missing fails the test: run `.ci/install-deps`.
//!
//! Views per tool: Python's names and `ZipFile.read` ("python raw") and what
//! `extractall` writes ("python extract"); Go's `File` list ("go raw") and its `fs.FS`
//! ("go fs", cleaned names); what `unzip` and `bsdtar -x` write.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use engine::artifact::{Limits, read_migrations};
use tempfile::TempDir;
use testkit::corpus;

const INSTALL_HINT: &str =
    "run .ci/install-deps to install python3, golang-go, zip, unzip and libarchive-tools";

/// Files a tool names, with their bytes (`None`: the tool could not read that file).
type Files = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// The migrations a reading yields, by file name in the folder.
type Migrations = BTreeMap<Vec<u8>, Vec<u8>>;

/// What one view of one tool made of an archive.
#[derive(Debug)]
enum Reading {
    /// The tool refused the archive, or could not read one of its migrations.
    Refused(String),
    /// The migrations the tool sees.
    Read(Migrations),
    /// The tool sees two files with the same migration name: which one it uses is
    /// its own business, and not ours.
    Duplicate(Vec<u8>),
}

/// Ours: `None` when refused.
fn ours(bytes: &[u8]) -> Option<Migrations> {
    read_migrations(bytes, "migrations", &Limits::default())
        .ok()
        .map(|files| {
            files
                .into_iter()
                .map(|f| (f.name.as_bytes().to_vec(), f.data.into_owned()))
                .collect()
        })
}

/// The migrations in a tool's file list, with our folder rule: `migrations/` at the root
/// (after one leading `./`), or under the one top-level folder every file shares.
fn select(files: &Files) -> Reading {
    let strip = |n: &[u8]| n.strip_prefix(b"./").unwrap_or(n).to_vec();
    let names: Vec<Vec<u8>> = files.iter().map(|(n, _)| strip(n)).collect();
    let mut folder = b"migrations/".to_vec();
    if !names.iter().any(|n| n.starts_with(&folder)) {
        let top = |n: &Vec<u8>| n.iter().position(|&b| b == b'/').map(|i| n[..=i].to_vec());
        if let Some(Some(first)) = names.first().map(top)
            && names.iter().all(|n| top(n).as_ref() == Some(&first))
        {
            folder = [first, folder].concat();
        }
    }
    let mut found = Migrations::new();
    for (name, (_, data)) in names.iter().zip(files) {
        let Some(rest) = name.strip_prefix(folder.as_slice()) else {
            continue;
        };
        if !rest.ends_with(b".sql") || rest.contains(&b'/') {
            continue;
        }
        let Some(data) = data else {
            return Reading::Refused(format!("cannot read {}", String::from_utf8_lossy(name)));
        };
        if found.insert(rest.to_vec(), data.clone()).is_some() {
            return Reading::Duplicate(rest.to_vec());
        }
    }
    Reading::Read(found)
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Parses `VIEW NAME DATA` lines (hex; `error` for a file that could not be read) and
/// `VIEW-refused MESSAGE` / `refused MESSAGE` lines into one file list per view.
fn parse_views(out: &str, views: &[&'static str]) -> Vec<(&'static str, Reading)> {
    if let Some(message) = out.lines().find_map(|l| l.strip_prefix("refused ")) {
        return views
            .iter()
            .map(|&v| (v, Reading::Refused(message.to_owned())))
            .collect();
    }
    views
        .iter()
        .map(|&view| {
            let tag = view.split(' ').nth(1).unwrap();
            let refused = format!("{tag}-refused ");
            if let Some(l) = out.lines().find(|l| l.starts_with(&refused)) {
                return (view, Reading::Refused(l.to_owned()));
            }
            let files: Files = out
                .lines()
                .filter_map(|l| {
                    let mut f = l.split(' ');
                    (f.next() == Some(tag)).then(|| {
                        let name = hex(f.next().unwrap_or(""));
                        let data = match f.next().unwrap_or("") {
                            "error" => None,
                            d => Some(hex(d)),
                        };
                        (name, data)
                    })
                })
                .collect();
            (view, select(&files))
        })
        .collect()
}

fn run(cmd: &mut Command, what: &str) -> std::process::Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}: {INSTALL_HINT}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

const PYTHON: &str = r#"
import os, sys, zipfile
path, out = sys.argv[1], sys.argv[2]
def name(s):
    return s.encode("utf-8", "surrogateescape").hex()
try:
    z = zipfile.ZipFile(path)
except Exception as e:
    print("refused", repr(e).replace("\n", " "))
    sys.exit(0)
for info in z.infolist():
    if info.is_dir():
        continue
    try:
        data = z.read(info) if info.file_size <= 64 << 20 else None
    except Exception:
        data = None
    print("raw", name(info.filename), "error" if data is None else data.hex())
try:
    z.extractall(out)
except Exception as e:
    print("extract-refused", repr(e).replace("\n", " "))
    sys.exit(0)
for root, dirs, files in os.walk(out):
    for f in files:
        p = os.path.join(root, f)
        with open(p, "rb") as fh:
            print("extract", name(os.path.relpath(p, out)), fh.read().hex())
"#;

fn python(archive: &Path, dir: &Path) -> Vec<(&'static str, Reading)> {
    let out = run(
        Command::new("python3")
            .args(["-c", PYTHON])
            .arg(archive)
            .arg(dir.join("python")),
        "python3",
    );
    parse_views(
        &String::from_utf8(out.stdout).unwrap(),
        &["python raw", "python extract"],
    )
}

/// The Go reader, built once per test run (GOPATH mode, no network; the build cache
/// lives in the target dir).
fn goread() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let bin = tmp.join(format!("goread-{}", std::process::id()));
        let program = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential/goread.go");
        testkit::go_build(&program, &bin, tmp);
        bin
    })
}

fn go(archive: &Path) -> Vec<(&'static str, Reading)> {
    let out = run(Command::new(goread()).arg(archive), "goread");
    parse_views(
        &String::from_utf8(out.stdout).unwrap(),
        &["go raw", "go fs"],
    )
}

/// Runs an extracting tool into `dir/<view>`: its exit status says whether it accepted
/// the archive (`ok` lists the accepting codes), the files it wrote are its reading.
fn extract(
    view: &'static str,
    cmd: &mut Command,
    to: &Path,
    ok: &[i32],
) -> (&'static str, Reading) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{view}: {e}: {INSTALL_HINT}"));
    if !out.status.code().is_some_and(|c| ok.contains(&c)) {
        let message = String::from_utf8_lossy(&out.stderr).into_owned();
        return (view, Reading::Refused(message));
    }
    let mut files = Files::new();
    let mut stack = vec![to.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(read) = fs::read_dir(&d) else { continue };
        for e in read {
            let p = e.unwrap().path();
            let meta = fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(to).unwrap();
                let name = rel.to_str().unwrap().as_bytes().to_vec();
                files.push((name, fs::read(&p).ok()));
            }
        }
    }
    (view, select(&files))
}

fn unzip(archive: &Path, dir: &Path) -> (&'static str, Reading) {
    let to = dir.join("unzip");
    let mut cmd = Command::new("unzip");
    cmd.args(["-qq", "-o"]).arg(archive).arg("-d").arg(&to);
    // 1 is unzip's "warnings, but processing completed".
    extract("unzip", &mut cmd, &to, &[0, 1])
}

fn bsdtar(archive: &Path, dir: &Path) -> (&'static str, Reading) {
    let to = dir.join("bsdtar");
    fs::create_dir_all(&to).unwrap();
    let mut cmd = Command::new("bsdtar");
    cmd.arg("-xf").arg(archive).arg("-C").arg(&to);
    extract("bsdtar", &mut cmd, &to, &[0])
}

/// Every view of every tool on `bytes`.
fn readings(name: &str, bytes: &[u8]) -> Vec<(&'static str, Reading)> {
    let dir = TempDir::new().unwrap();
    let archive = dir.path().join(format!("{name}.zip"));
    fs::write(&archive, bytes).unwrap();
    let mut all = python(&archive, dir.path());
    all.extend(go(&archive));
    all.push(unzip(&archive, dir.path()));
    all.push(bsdtar(&archive, dir.path()));
    all
}

fn show(m: &Migrations) -> String {
    let names: Vec<String> = m
        .iter()
        .map(|(n, d)| format!("{} ({} bytes)", String::from_utf8_lossy(n), d.len()))
        .collect();
    names.join(", ")
}

/// The disagreements on one archive: empty when we refuse it or every tool that
/// accepts it reads our migrations.
fn disagreements(name: &str, bytes: &[u8]) -> Vec<String> {
    let Some(want) = ours(bytes) else {
        return Vec::new();
    };
    readings(name, bytes)
        .into_iter()
        .filter_map(|(view, reading)| match reading {
            Reading::Refused(_) => None,
            Reading::Read(got) if got == want => None,
            Reading::Read(got) => Some(format!(
                "{name}: {view} reads [{}], we read [{}]",
                show(&got),
                show(&want)
            )),
            Reading::Duplicate(n) => Some(format!(
                "{name}: {view} sees {} twice",
                String::from_utf8_lossy(&n)
            )),
        })
        .collect()
}

/// Archives written by real tools, with the sample names of the corpus.
fn written_by_tools() -> Vec<(String, Vec<u8>)> {
    let dir = TempDir::new().unwrap();
    let src = dir.path().join("src");
    fs::create_dir_all(src.join("migrations/sub")).unwrap();
    fs::create_dir_all(src.join("app")).unwrap();
    fs::write(src.join("migrations/1_a.sql"), corpus::UP).unwrap();
    fs::write(src.join("migrations/2_b.sql"), corpus::UP.repeat(50)).unwrap();
    fs::write(src.join("migrations/sub/3.sql"), corpus::UP).unwrap();
    fs::write(src.join("app/readme.txt"), b"readme").unwrap();
    let infozip = dir.path().join("infozip.zip");
    run(
        Command::new("zip")
            .current_dir(&src)
            .args(["-q", "-r", "-X"])
            .arg(&infozip)
            .args(["app", "migrations"]),
        "zip",
    );
    let python = dir.path().join("python.zip");
    run(
        Command::new("python3")
            .current_dir(&src)
            .args([
                "-c",
                "import sys, zipfile, os\n\
                 with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n\
                 \x20   for root, dirs, files in os.walk('.'):\n\
                 \x20       for f in sorted(files): z.write(os.path.join(root, f))\n",
            ])
            .arg(&python),
        "python3",
    );
    [("infozip", infozip), ("python-dot-slash", python)]
        .into_iter()
        .map(|(n, p)| (n.to_owned(), fs::read(p).unwrap()))
        .collect()
}

#[test]
fn every_reader_agrees_or_we_refuse() {
    let mut archives: Vec<(String, Vec<u8>)> = corpus::hostile()
        .into_iter()
        .chain(corpus::benign())
        .map(|c| (c.name.to_owned(), c.bytes))
        .collect();
    archives.extend(written_by_tools());
    let mut accepted = 0;
    let mut problems = Vec::new();
    for (name, bytes) in &archives {
        accepted += usize::from(ours(bytes).is_some());
        problems.extend(disagreements(name, bytes));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The benign archives are read, so the comparison above compared something.
    assert!(accepted >= corpus::benign().len() + 2, "{accepted}");
}

/// The hostile cases are hostile: each of these, which our reader refuses, is read by
/// at least one tool differently from what a reader without the rule reads: the
/// archive it extends (`corpus::valid`), plus the added migration where such a reader
/// would select it.
#[test]
fn hostile_cases_fool_some_tool() {
    let valid = ours(&corpus::valid().build().bytes).unwrap();
    let cases = corpus::hostile();
    for name in [
        "zip_in_comment",
        "zip_in_comment_adjusted",
        "fake_end_record_in_comment",
        "zip64_extensible_data",
        "nul_in_name",
        "double_slash",
        "dot_segment",
        "dotdot_segment",
        "dotdot_into_folder",
        "absolute",
        "backslash",
        "non_ascii_name_without_utf8_flag",
        "unicode_path_extra",
    ] {
        let case = cases.iter().find(|c| c.name == name).unwrap();
        let mut baseline = valid.clone();
        if name == "non_ascii_name_without_utf8_flag" {
            baseline.insert("3_caf\u{e9}.sql".as_bytes().to_vec(), corpus::EVIL.to_vec());
        }
        assert!(ours(&case.bytes).is_none(), "{name} is accepted");
        let mut fooled = Vec::new();
        for (view, reading) in readings(name, &case.bytes) {
            match reading {
                Reading::Read(got) if got != baseline => fooled.push(view),
                Reading::Duplicate(_) => fooled.push(view),
                Reading::Refused(why) => eprintln!("{name}: {view} refuses: {why}"),
                Reading::Read(_) => {}
            }
        }
        eprintln!("{name}: read differently by {fooled:?}");
        assert!(!fooled.is_empty(), "{name}: every tool reads the baseline");
    }
}
