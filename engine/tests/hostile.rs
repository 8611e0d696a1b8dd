//! Hostile corpus: one crafted archive per refusal, each asserting its specific
//! [`ZipError`] variant, plus positive tests for the layouts real writers produce.
//!
//! Archives are built byte by byte by [`Zip`], a tiny builder where every field can be
//! set, so each test changes exactly one thing from a valid archive.

use std::io::Write;
use std::process::{Command, Stdio};

use engine::artifact::{Archive, Limits, ZipError, read_migrations};

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const EOCD_SIG: u32 = 0x0605_4b50;
const DD_SIG: u32 = 0x0807_4b50;

/// How an entry's data descriptor is written.
#[derive(Clone, Copy, PartialEq)]
enum Dd {
    Sig32,
    Bare32,
    Sig64,
}

/// One entry: every field the central and local headers carry.
#[derive(Clone)]
struct E {
    name: Vec<u8>,
    local_name: Option<Vec<u8>>,
    payload: Vec<u8>,
    method: u16,
    local_method: Option<u16>,
    flags: u16,
    crc: u32,
    csize: u64,
    usize: u64,
    made_by: u16,
    attrs: u32,
    descriptor: Option<Dd>,
    descriptor_crc: Option<u32>,
    zip64: bool,
    /// Write only a central record pointing at this local-header offset.
    central_only_at: Option<u64>,
}

fn stored(name: impl AsRef<[u8]>, data: &[u8]) -> E {
    E {
        name: name.as_ref().to_vec(),
        local_name: None,
        payload: data.to_vec(),
        method: 0,
        local_method: None,
        flags: 0,
        crc: crc32fast::hash(data),
        csize: data.len() as u64,
        usize: data.len() as u64,
        made_by: 3 << 8 | 20,
        attrs: 0o100644 << 16,
        descriptor: None,
        descriptor_crc: None,
        zip64: false,
        central_only_at: None,
    }
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn deflated(name: impl AsRef<[u8]>, data: &[u8]) -> E {
    let z = deflate(data);
    E {
        method: 8,
        csize: z.len() as u64,
        payload: z,
        ..stored(name, data)
    }
}

/// An archive under construction.
#[derive(Clone, Default)]
struct Zip {
    entries: Vec<E>,
    comment: Vec<u8>,
    /// Added to every offset: the archive will sit this far into the file.
    base: u64,
    zip64_end: bool,
    all_sentinel: bool,
}

/// A built archive and where its parts are (offsets relative to the bytes returned).
struct Built {
    bytes: Vec<u8>,
    locals: Vec<usize>,
    centrals: Vec<usize>,
    cd: usize,
    zip64_record: Option<usize>,
    locator: Option<usize>,
    eocd: usize,
}

fn put16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn put32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn put64(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn patch16(v: &mut [u8], at: usize, x: u16) {
    v[at..at + 2].copy_from_slice(&x.to_le_bytes());
}
fn patch32(v: &mut [u8], at: usize, x: u32) {
    v[at..at + 4].copy_from_slice(&x.to_le_bytes());
}
fn patch64(v: &mut [u8], at: usize, x: u64) {
    v[at..at + 8].copy_from_slice(&x.to_le_bytes());
}

impl Zip {
    fn of(entries: Vec<E>) -> Zip {
        Zip {
            entries,
            ..Zip::default()
        }
    }

    fn build(&self) -> Built {
        let mut v = Vec::new();
        let mut locals = Vec::new();
        for e in &self.entries {
            if e.central_only_at.is_some() {
                locals.push(usize::MAX);
                continue;
            }
            locals.push(v.len());
            let name = e.local_name.as_ref().unwrap_or(&e.name);
            let dd = e.descriptor.is_some();
            let extra = if e.zip64 {
                let mut x = vec![1, 0, 16, 0];
                put64(&mut x, if dd { 0 } else { e.usize });
                put64(&mut x, if dd { 0 } else { e.csize });
                x
            } else {
                Vec::new()
            };
            put32(&mut v, LOCAL_SIG);
            put16(&mut v, if e.zip64 { 45 } else { 20 });
            put16(&mut v, e.flags | if dd { 8 } else { 0 });
            put16(&mut v, e.local_method.unwrap_or(e.method));
            put32(&mut v, 0);
            put32(&mut v, if dd { 0 } else { e.crc });
            let (c, u) = match (e.zip64, dd) {
                (true, _) => (0xFFFF_FFFF, 0xFFFF_FFFF),
                (false, true) => (0, 0),
                (false, false) => (e.csize as u32, e.usize as u32),
            };
            put32(&mut v, c);
            put32(&mut v, u);
            put16(&mut v, name.len() as u16);
            put16(&mut v, extra.len() as u16);
            v.extend_from_slice(name);
            v.extend_from_slice(&extra);
            v.extend_from_slice(&e.payload);
            let crc = e.descriptor_crc.unwrap_or(e.crc);
            match e.descriptor {
                None => {}
                Some(Dd::Sig32) | Some(Dd::Bare32) => {
                    if e.descriptor == Some(Dd::Sig32) {
                        put32(&mut v, DD_SIG);
                    }
                    put32(&mut v, crc);
                    put32(&mut v, e.csize as u32);
                    put32(&mut v, e.usize as u32);
                }
                Some(Dd::Sig64) => {
                    put32(&mut v, DD_SIG);
                    put32(&mut v, crc);
                    put64(&mut v, e.csize);
                    put64(&mut v, e.usize);
                }
            }
        }
        let cd = v.len();
        let mut centrals = Vec::new();
        for (e, &local) in self.entries.iter().zip(&locals) {
            centrals.push(v.len());
            let offset = e.central_only_at.unwrap_or(local as u64 + self.base);
            let extra = if e.zip64 {
                let mut x = vec![1, 0, 24, 0];
                put64(&mut x, e.usize);
                put64(&mut x, e.csize);
                put64(&mut x, offset);
                x
            } else {
                Vec::new()
            };
            put32(&mut v, CENTRAL_SIG);
            put16(&mut v, e.made_by);
            put16(&mut v, if e.zip64 { 45 } else { 20 });
            put16(&mut v, e.flags | if e.descriptor.is_some() { 8 } else { 0 });
            put16(&mut v, e.method);
            put32(&mut v, 0);
            put32(&mut v, e.crc);
            if e.zip64 {
                put32(&mut v, 0xFFFF_FFFF);
                put32(&mut v, 0xFFFF_FFFF);
            } else {
                put32(&mut v, e.csize as u32);
                put32(&mut v, e.usize as u32);
            }
            put16(&mut v, e.name.len() as u16);
            put16(&mut v, extra.len() as u16);
            put16(&mut v, 0); // comment
            put16(&mut v, 0); // disk
            put16(&mut v, 0); // internal attributes
            put32(&mut v, e.attrs);
            put32(&mut v, if e.zip64 { 0xFFFF_FFFF } else { offset as u32 });
            v.extend_from_slice(&e.name);
            v.extend_from_slice(&extra);
        }
        let cd_size = (v.len() - cd) as u64;
        let n = self.entries.len() as u64;
        let cd_offset = cd as u64 + self.base;
        let (mut zip64_record, mut locator) = (None, None);
        if self.zip64_end {
            zip64_record = Some(v.len());
            let at = v.len() as u64 + self.base;
            put32(&mut v, 0x0606_4b50);
            put64(&mut v, 44);
            put16(&mut v, 45);
            put16(&mut v, 45);
            put32(&mut v, 0);
            put32(&mut v, 0);
            put64(&mut v, n);
            put64(&mut v, n);
            put64(&mut v, cd_size);
            put64(&mut v, cd_offset);
            locator = Some(v.len());
            put32(&mut v, 0x0706_4b50);
            put32(&mut v, 0);
            put64(&mut v, at);
            put32(&mut v, 1);
        }
        let eocd = v.len();
        put32(&mut v, EOCD_SIG);
        if self.all_sentinel {
            for _ in 0..4 {
                put16(&mut v, 0xFFFF);
            }
            put32(&mut v, 0xFFFF_FFFF);
            put32(&mut v, 0xFFFF_FFFF);
        } else {
            put16(&mut v, 0);
            put16(&mut v, 0);
            put16(&mut v, n as u16);
            put16(&mut v, n as u16);
            put32(&mut v, cd_size as u32);
            put32(&mut v, cd_offset as u32);
        }
        put16(&mut v, self.comment.len() as u16);
        v.extend_from_slice(&self.comment);
        Built {
            bytes: v,
            locals,
            centrals,
            cd,
            zip64_record,
            locator,
            eocd,
        }
    }
}

const UP: &[u8] = b"-- +migrate Up\nCREATE TABLE t (id INT);\n-- +migrate Down\nDROP TABLE t;\n";

/// A valid archive: two migrations (stored, deflated) between two other files.
fn valid() -> Zip {
    Zip::of(vec![
        stored("README.md", b"readme"),
        stored("migrations/1_a.sql", UP),
        deflated("migrations/2_b.sql", &UP.repeat(20)),
        deflated("app/blob.bin", &[7u8; 5000]),
    ])
}

fn read(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, ZipError> {
    read_with(bytes, &Limits::default())
}

fn read_with(bytes: &[u8], limits: &Limits) -> Result<Vec<(String, Vec<u8>)>, ZipError> {
    read_migrations(bytes, "migrations", limits).map(|files| {
        files
            .into_iter()
            .map(|f| (f.name.to_owned(), f.data.into_owned()))
            .collect()
    })
}

fn names(bytes: &[u8]) -> Vec<String> {
    read(bytes).unwrap().into_iter().map(|(n, _)| n).collect()
}

/// The error for an archive built from `entries` with the usual folder.
fn err_of(entries: Vec<E>) -> ZipError {
    read(&Zip::of(entries).build().bytes).unwrap_err()
}

// ---------------------------------------------------------------- positive

#[test]
fn valid_archive_reads_stored_borrowed_and_deflated() {
    let b = valid().build();
    let files = read_migrations(&b.bytes, "migrations", &Limits::default()).unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0].name, "1_a.sql");
    assert_eq!(files[0].path, "migrations/1_a.sql");
    assert_eq!(&*files[0].data, UP);
    assert!(matches!(files[0].data, std::borrow::Cow::Borrowed(_)));
    assert_eq!(files[1].name, "2_b.sql");
    assert_eq!(&*files[1].data, &UP.repeat(20)[..]);
    assert!(matches!(files[1].data, std::borrow::Cow::Owned(_)));
}

#[test]
fn dir_with_trailing_slash_is_the_same_folder() {
    let b = valid().build();
    let a = read_migrations(&b.bytes, "migrations/", &Limits::default()).unwrap();
    assert_eq!(a.len(), 2);
}

#[test]
fn repository_archive_fallback() {
    let z = Zip::of(vec![
        stored("repo-abc/", b""),
        stored("repo-abc/README.md", b"x"),
        stored("repo-abc/migrations/1.sql", UP),
        stored("repo-abc/src/migrations/9.sql", UP),
    ]);
    let files = read(&z.build().bytes).unwrap();
    assert_eq!(files, vec![("1.sql".to_owned(), UP.to_vec())]);
}

#[test]
fn no_fallback_when_entries_have_different_tops() {
    let z = Zip::of(vec![
        stored("repo-abc/migrations/1.sql", UP),
        stored("other/x", b"x"),
    ]);
    assert!(names(&z.build().bytes).is_empty());
}

#[test]
fn root_folder_wins_over_fallback() {
    // An empty migrations/ folder at the root means the root has the folder.
    let z = Zip::of(vec![
        stored("migrations/", b""),
        stored("x/migrations/1.sql", UP),
    ]);
    assert!(names(&z.build().bytes).is_empty());
}

#[test]
fn subfolders_non_sql_and_uppercase_are_ignored() {
    let z = Zip::of(vec![
        stored("migrations/1.sql", UP),
        stored("migrations/sub/2.sql", UP),
        stored("migrations/3.SQL", UP),
        stored("migrations/4.sql.txt", UP),
        stored("migrations/notes.txt", UP),
        stored("migrations/dir.sql/", b""),
        stored("migrationsX/5.sql", UP),
        stored("6.sql", UP),
    ]);
    assert_eq!(names(&z.build().bytes), vec!["1.sql"]);
}

#[test]
fn leading_dot_slash_is_relative_to_root() {
    let z = Zip::of(vec![
        stored("./", b""),
        stored("./migrations/", b""),
        stored("./migrations/1.sql", UP),
    ]);
    let b = z.build();
    let files = read_migrations(&b.bytes, "migrations", &Limits::default()).unwrap();
    assert_eq!(files[0].name, "1.sql");
    assert_eq!(files[0].path, "./migrations/1.sql");
}

#[test]
fn empty_archive_has_no_files() {
    let b = Zip::default().build();
    assert_eq!(b.bytes.len(), 22);
    assert!(read(&b.bytes).unwrap().is_empty());
}

#[test]
fn empty_and_tiny_inputs_do_not_panic() {
    assert!(matches!(read(&[]), Err(ZipError::Truncated(_))));
    assert!(matches!(read(&[0x50]), Err(ZipError::Truncated(_))));
    assert!(matches!(read(&[0; 21]), Err(ZipError::Truncated(_))));
    assert!(matches!(read(&[0; 22]), Err(ZipError::NoEndRecord)));
}

#[test]
fn data_descriptor_with_signature() {
    let mut e = deflated("migrations/1.sql", UP);
    e.descriptor = Some(Dd::Sig32);
    let z = Zip::of(vec![e, stored("x", b"x")]);
    assert_eq!(names(&z.build().bytes), vec!["1.sql"]);
}

#[test]
fn data_descriptor_without_signature() {
    let mut e = stored("migrations/1.sql", UP);
    e.descriptor = Some(Dd::Bare32);
    let z = Zip::of(vec![e, stored("x", b"x")]);
    assert_eq!(read(&z.build().bytes).unwrap()[0].1, UP);
}

#[test]
fn data_descriptor_zip64_sizes() {
    let mut e = deflated("migrations/1.sql", UP);
    e.descriptor = Some(Dd::Sig64);
    e.zip64 = true;
    let z = Zip::of(vec![e]);
    assert_eq!(read(&z.build().bytes).unwrap()[0].1, UP);
}

#[test]
fn zip64_extras_and_end_records() {
    let mut z = valid();
    for e in &mut z.entries {
        e.zip64 = true;
    }
    z.zip64_end = true;
    let b = z.build();
    assert_eq!(names(&b.bytes), vec!["1_a.sql", "2_b.sql"]);
    assert!(Archive::new(&b.bytes).unwrap().directory().zip64.is_some());
}

#[test]
fn every_eocd_field_sentinel() {
    let mut z = valid();
    z.zip64_end = true;
    z.all_sentinel = true;
    assert_eq!(names(&z.build().bytes), vec!["1_a.sql", "2_b.sql"]);
}

#[test]
fn offsets_adjusted_stub_is_accepted() {
    // A self-extractor stub with offsets fixed up (zip -A) is a valid archive.
    let mut z = valid();
    z.base = 100;
    let mut bytes = vec![0xAB; 100];
    bytes.extend(z.build().bytes);
    assert_eq!(names(&bytes), vec!["1_a.sql", "2_b.sql"]);
}

#[test]
fn sparse_file_with_only_selected_entries_reads() {
    // Zero every byte the reader must not need: other entries' headers and data.
    let z = valid();
    let b = z.build();
    let mut bytes = b.bytes.clone();
    bytes[b.locals[0]..b.locals[1]].fill(0);
    bytes[b.locals[3]..b.cd].fill(0);
    assert_eq!(names(&bytes), vec!["1_a.sql", "2_b.sql"]);
}

fn python_zip(force_zip64: bool, streamed: bool) -> Vec<u8> {
    let script = r#"
import io, sys, zipfile
force = sys.argv[1] == "1"
streamed = sys.argv[2] == "1"
class Unseekable(io.RawIOBase):
    def __init__(self): self.buf = bytearray()
    def writable(self): return True
    def write(self, b): self.buf += b; return len(b)
    def seekable(self): return False
out = Unseekable() if streamed else io.BytesIO()
with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
    for name, data in [("README", b"r" * 100), ("migrations/1_a.sql", b"-- +migrate Up\nSELECT 1;\n" * 50),
                       ("migrations/2_b.sql", b"-- +migrate Up\nSELECT 2;\n")]:
        with z.open(name, "w", force_zip64=force) as f:
            f.write(data)
data = bytes(out.buf) if streamed else out.getvalue()
sys.stdout.buffer.write(data)
"#;
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            if force_zip64 { "1" } else { "0" },
            if streamed { "1" } else { "0" },
        ])
        .stderr(Stdio::inherit())
        .output()
        .expect("python3 is needed for this test");
    assert!(out.status.success());
    out.stdout
}

#[test]
fn python_force_zip64_seekable_and_streamed() {
    for (zip64, streamed) in [(true, false), (true, true), (false, true)] {
        let bytes = python_zip(zip64, streamed);
        let files = read(&bytes).unwrap_or_else(|e| panic!("{zip64} {streamed}: {e}"));
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].1, b"-- +migrate Up\nSELECT 1;\n".repeat(50));
        assert_eq!(files[1].1, b"-- +migrate Up\nSELECT 2;\n");
    }
}

// ---------------------------------------------------------------- end records

#[test]
fn ambiguous_archive_hidden_in_comment() {
    let outer = valid();
    let outer_len = outer.build().bytes.len() as u64;
    let mut inner = Zip::of(vec![stored("migrations/1_evil.sql", b"DROP DATABASE x;")]);
    inner.base = outer_len;
    let mut z = outer;
    z.comment = inner.build().bytes;
    let bytes = z.build().bytes;
    assert!(matches!(read(&bytes), Err(ZipError::Ambiguous { .. })));
}

#[test]
fn comment_not_ending_at_eof() {
    let mut bytes = valid().build().bytes;
    bytes.extend_from_slice(b"junk");
    assert!(matches!(
        read(&bytes),
        Err(ZipError::CommentMismatch { .. })
    ));
    let mut z = valid();
    z.comment = b"a comment".to_vec();
    let mut bytes = z.build().bytes;
    bytes.truncate(bytes.len() - 3);
    assert!(matches!(
        read(&bytes),
        Err(ZipError::CommentMismatch { .. })
    ));
}

#[test]
fn zip64_locator_pointing_elsewhere() {
    let mut z = valid();
    z.zip64_end = true;
    let b = z.build();
    let loc = b.locator.unwrap();
    // The record sits just before the locator, but the locator names another offset.
    for wrong in [0u64, 1, b.zip64_record.unwrap() as u64 + 4, u64::MAX] {
        let mut bytes = b.bytes.clone();
        patch64(&mut bytes, loc + 8, wrong);
        assert!(
            matches!(read(&bytes), Err(ZipError::Zip64RecordMissing { offset }) if offset == wrong),
            "{wrong}"
        );
    }
}

#[test]
fn zip64_record_not_ending_at_locator() {
    let mut z = valid();
    z.zip64_end = true;
    let b = z.build();
    let mut bytes = b.bytes.clone();
    patch64(&mut bytes, b.zip64_record.unwrap() + 4, 40);
    assert!(matches!(read(&bytes), Err(ZipError::BadLayout { .. })));
}

#[test]
fn zip64_record_disagreeing_with_eocd() {
    let mut z = valid();
    z.zip64_end = true;
    let b = z.build();
    let mut bytes = b.bytes.clone();
    // The EOCD count is not a sentinel, so it must equal the ZIP64 record's.
    patch64(&mut bytes, b.zip64_record.unwrap() + 24, 3);
    patch64(&mut bytes, b.zip64_record.unwrap() + 32, 3);
    assert!(matches!(read(&bytes), Err(ZipError::Zip64Mismatch { .. })));
}

#[test]
fn multi_disk_refused() {
    let b = valid().build();
    let mut bytes = b.bytes.clone();
    patch16(&mut bytes, b.eocd + 4, 1);
    assert!(matches!(read(&bytes), Err(ZipError::MultiDisk)));
    let mut bytes = b.bytes.clone();
    patch16(&mut bytes, b.eocd + 8, 1); // entries on this disk != total
    assert!(matches!(read(&bytes), Err(ZipError::MultiDisk)));
    let mut z = valid();
    z.zip64_end = true;
    let b = z.build();
    let mut bytes = b.bytes.clone();
    patch32(&mut bytes, b.locator.unwrap() + 16, 2);
    assert!(matches!(read(&bytes), Err(ZipError::MultiDisk)));
    // An entry starting on another disk.
    let b = valid().build();
    let mut bytes = b.bytes.clone();
    patch16(&mut bytes, b.centrals[0] + 34, 1);
    assert!(matches!(read(&bytes), Err(ZipError::MultiDisk)));
}

#[test]
fn truncated_anywhere_is_refused_without_panic() {
    let bytes = valid().build().bytes;
    for cut in 0..bytes.len() {
        assert!(read(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    assert!(matches!(read(&bytes[..10]), Err(ZipError::Truncated(_))));
}

#[test]
fn offsets_outside_file() {
    let b = valid().build();
    let mut bytes = b.bytes.clone();
    patch32(&mut bytes, b.centrals[0] + 42, 0x7FFF_0000);
    assert!(matches!(read(&bytes), Err(ZipError::OutOfBounds { .. })));
    let mut bytes = b.bytes.clone();
    patch32(&mut bytes, b.eocd + 16, 0x7FFF_0000);
    assert!(matches!(
        read(&bytes),
        Err(ZipError::NoCentralDirectory {
            offset: 0x7FFF_0000
        })
    ));
    let mut bytes = b.bytes.clone();
    patch32(&mut bytes, b.centrals[2] + 20, 0xFFFF_0000); // csize
    assert!(matches!(read(&bytes), Err(ZipError::OutOfBounds { .. })));
}

#[test]
fn entry_overlapping_central_directory() {
    let b = valid().build();
    let mut bytes = b.bytes.clone();
    // The last entry's data claims to run 10 bytes into the central directory.
    let last = b.cd - b.locals[3] - 30 - "app/blob.bin".len();
    patch32(&mut bytes, b.centrals[3] + 20, last as u32 + 10);
    assert!(matches!(
        read(&bytes),
        Err(ZipError::OverlapsCentralDirectory { .. })
    ));
}

#[test]
fn prepended_stub_refused() {
    let mut bytes = vec![b'#'; 100];
    bytes.extend(valid().build().bytes);
    assert!(matches!(
        read(&bytes),
        Err(ZipError::NoCentralDirectory { .. })
    ));
}

#[test]
fn junk_between_central_directory_and_eocd_refused() {
    let b = valid().build();
    let mut bytes = b.bytes[..b.eocd].to_vec();
    bytes.extend_from_slice(&[0; 8]);
    bytes.extend_from_slice(&b.bytes[b.eocd..]);
    assert!(matches!(read(&bytes), Err(ZipError::BadLayout { .. })));
}

#[test]
fn entry_count_mismatch() {
    let b = valid().build();
    for count in [3u16, 5] {
        let mut bytes = b.bytes.clone();
        patch16(&mut bytes, b.eocd + 8, count);
        patch16(&mut bytes, b.eocd + 10, count);
        assert!(
            matches!(read(&bytes), Err(ZipError::EntryCountMismatch { declared, .. }) if declared == u64::from(count)),
            "{count}"
        );
    }
}

#[test]
fn huge_declared_count_with_tiny_file() {
    let b = valid().build();
    let mut bytes = b.bytes.clone();
    patch16(&mut bytes, b.eocd + 8, 0xFFFF);
    patch16(&mut bytes, b.eocd + 10, 0xFFFF);
    assert!(matches!(
        read(&bytes),
        Err(ZipError::TooManyEntries {
            declared: 0xFFFF,
            ..
        })
    ));
    let mut z = valid();
    z.zip64_end = true;
    z.all_sentinel = true;
    let b = z.build();
    let mut bytes = b.bytes.clone();
    let huge = u64::MAX / 2;
    patch64(&mut bytes, b.zip64_record.unwrap() + 24, huge);
    patch64(&mut bytes, b.zip64_record.unwrap() + 32, huge);
    assert!(
        matches!(read(&bytes), Err(ZipError::TooManyEntries { declared, .. }) if declared == huge)
    );
}

#[test]
fn bad_central_header_signature() {
    let b = valid().build();
    let mut bytes = b.bytes.clone();
    bytes[b.centrals[2]] = b'X';
    assert!(matches!(
        read(&bytes),
        Err(ZipError::BadCentralHeader { .. })
    ));
}

// ---------------------------------------------------------------- entries

#[test]
fn encrypted_entries_refused() {
    for flags in [1u16, 0x40, 0x41] {
        let mut e = stored("migrations/1.sql", UP);
        e.flags = flags;
        assert!(
            matches!(err_of(vec![e]), ZipError::Encrypted { .. }),
            "{flags}"
        );
    }
    let mut e = stored("migrations/1.sql", UP);
    e.method = 99;
    assert!(matches!(err_of(vec![e]), ZipError::Encrypted { .. }));
}

#[test]
fn encrypted_entry_outside_folder_is_ignored() {
    let mut e = stored("secret.bin", b"x");
    e.flags = 1;
    assert_eq!(
        names(
            &Zip::of(vec![e, stored("migrations/1.sql", UP)])
                .build()
                .bytes
        ),
        vec!["1.sql"]
    );
}

#[test]
fn unsupported_methods_refused() {
    for method in [1u16, 12, 14, 93, 95] {
        let mut e = stored("migrations/1.sql", UP);
        e.method = method;
        assert!(
            matches!(err_of(vec![e]), ZipError::UnsupportedMethod { method: m, .. } if m == method),
            "{method}"
        );
    }
}

#[test]
fn records_sharing_a_local_header_refused() {
    // A non-selected record and a selected one at the same offset.
    let mut alias = stored("README", UP);
    alias.central_only_at = Some(0);
    let z = Zip::of(vec![stored("migrations/1.sql", UP), alias]);
    assert!(matches!(
        read(&z.build().bytes),
        Err(ZipError::Overlap {
            other_offset: 0,
            ..
        })
    ));
    // The same, with the central directory out of offset order (searched, not swept).
    let mut alias = stored("README", UP);
    alias.central_only_at = Some(0);
    let z = Zip::of(vec![
        stored("migrations/1.sql", UP),
        stored("b.txt", b"b"),
        alias,
    ]);
    assert!(matches!(
        read(&z.build().bytes),
        Err(ZipError::Overlap {
            other_offset: 0,
            ..
        })
    ));
    // Two selected records at the same offset, with different names.
    let mut alias = stored("migrations/2.sql", UP);
    alias.central_only_at = Some(0);
    let z = Zip::of(vec![stored("migrations/1.sql", UP), alias]);
    assert!(matches!(
        read(&z.build().bytes),
        Err(ZipError::Overlap { .. })
    ));
}

#[test]
fn zipbomb_style_overlap_refused() {
    // The first entry's data is declared to run over the second entry's local header
    // (bamsoftware's non-recursive zip bomb), with a CRC that matches the overlap.
    let z = Zip::of(vec![
        stored("migrations/1.sql", UP),
        stored("migrations/2.sql", UP),
    ]);
    let b = z.build();
    let mut bytes = b.bytes.clone();
    let data_start = 30 + "migrations/1.sql".len();
    let span = &b.bytes[data_start..b.cd];
    let (len, crc) = (span.len() as u32, crc32fast::hash(span));
    for header in [0, b.centrals[0]] {
        let base = if header == 0 { 14 } else { 16 };
        patch32(&mut bytes, header + base, crc);
        patch32(&mut bytes, header + base + 4, len);
        patch32(&mut bytes, header + base + 8, len);
    }
    assert!(matches!(read(&bytes), Err(ZipError::Overlap { .. })));
    // The same with the covered entry outside the folder (never read, central data only).
    let z = Zip::of(vec![
        stored("migrations/1.sql", UP),
        stored("other.txt", UP),
    ]);
    let b = z.build();
    let mut bytes = b.bytes.clone();
    let span = &b.bytes[data_start..b.cd];
    let (len, crc) = (span.len() as u32, crc32fast::hash(span));
    for header in [0, b.centrals[0]] {
        let base = if header == 0 { 14 } else { 16 };
        patch32(&mut bytes, header + base, crc);
        patch32(&mut bytes, header + base + 4, len);
        patch32(&mut bytes, header + base + 8, len);
    }
    assert!(matches!(read(&bytes), Err(ZipError::Overlap { .. })));
}

#[test]
fn declared_size_above_limit() {
    let limits = Limits {
        max_file_size: 10,
        ..Limits::default()
    };
    let bytes = Zip::of(vec![deflated("migrations/1.sql", UP)])
        .build()
        .bytes;
    assert!(matches!(
        read_with(&bytes, &limits),
        Err(ZipError::TooLarge { limit: 10, .. })
    ));
}

#[test]
fn ratio_above_deflate_maximum() {
    let mut e = deflated("migrations/1.sql", &[0u8; 1 << 20]);
    e.usize = e.csize * 1032 + 2000;
    assert!(matches!(err_of(vec![e]), ZipError::RatioTooHigh { .. }));
    // A real 1 MiB of zeros is within the ratio.
    let e = deflated("migrations/1.sql", &[0u8; 1 << 20]);
    assert_eq!(
        read(&Zip::of(vec![e]).build().bytes).unwrap()[0].1.len(),
        1 << 20
    );
}

#[test]
fn too_many_files() {
    let z = Zip::of(
        (0..3)
            .map(|i| stored(format!("migrations/{i}.sql"), UP))
            .collect(),
    );
    let limits = Limits {
        max_files: 2,
        ..Limits::default()
    };
    assert!(matches!(
        read_with(&z.build().bytes, &limits),
        Err(ZipError::TooManyFiles { limit: 2 })
    ));
}

#[test]
fn inflated_shorter_and_longer_than_declared() {
    let mut e = deflated("migrations/1.sql", UP);
    e.usize += 1;
    assert!(matches!(err_of(vec![e]), ZipError::InflatedShorter { .. }));
    let mut e = deflated("migrations/1.sql", UP);
    e.usize -= 1;
    assert!(matches!(err_of(vec![e]), ZipError::InflatedLonger { .. }));
}

#[test]
fn corrupt_deflate_stream() {
    let mut e = deflated("migrations/1.sql", &UP.repeat(10));
    e.payload.truncate(e.payload.len() / 2);
    e.csize = e.payload.len() as u64;
    assert!(matches!(err_of(vec![e]), ZipError::Inflate { .. }));
    let mut e = deflated("migrations/1.sql", UP);
    e.payload = vec![0xFF; e.payload.len()]; // invalid block type
    assert!(matches!(err_of(vec![e]), ZipError::Inflate { .. }));
}

#[test]
fn stored_size_mismatch() {
    let mut e = stored("migrations/1.sql", UP);
    e.usize += 1;
    assert!(matches!(
        err_of(vec![e]),
        ZipError::StoredSizeMismatch { .. }
    ));
}

#[test]
fn crc_mismatch_stored_and_deflated() {
    for mut e in [
        stored("migrations/1.sql", UP),
        deflated("migrations/1.sql", UP),
    ] {
        e.crc ^= 1;
        assert!(matches!(err_of(vec![e]), ZipError::CrcMismatch { .. }));
    }
}

#[test]
fn local_header_mismatches() {
    let mut e = stored("migrations/1.sql", UP);
    e.local_name = Some(b"migrations/9.sql".to_vec());
    assert!(matches!(
        err_of(vec![e]),
        ZipError::LocalMismatch { field: "name", .. }
    ));
    let mut e = deflated("migrations/1.sql", UP);
    e.local_method = Some(0);
    assert!(matches!(
        err_of(vec![e]),
        ZipError::LocalMismatch {
            field: "method",
            ..
        }
    ));
    let b = Zip::of(vec![stored("migrations/1.sql", UP)]).build();
    let mut bytes = b.bytes.clone();
    patch16(&mut bytes, 6, 1); // local says encrypted, central does not
    assert!(matches!(
        read(&bytes),
        Err(ZipError::LocalMismatch { field: "flags", .. })
    ));
    let mut bytes = b.bytes.clone();
    patch32(&mut bytes, 14, 0); // local CRC
    assert!(matches!(
        read(&bytes),
        Err(ZipError::LocalMismatch {
            field: "CRC-32",
            ..
        })
    ));
    let mut bytes = b.bytes.clone();
    patch32(&mut bytes, 22, 1); // local uncompressed size
    assert!(matches!(
        read(&bytes),
        Err(ZipError::LocalMismatch { field: "sizes", .. })
    ));
    let mut bytes = b.bytes.clone();
    bytes[0] = b'X';
    assert!(matches!(
        read(&bytes),
        Err(ZipError::LocalHeaderMissing { offset: 0, .. })
    ));
}

#[test]
fn data_descriptor_mismatch() {
    let mut e = stored("migrations/1.sql", UP);
    e.descriptor = Some(Dd::Sig32);
    e.descriptor_crc = Some(e.crc ^ 1);
    assert!(matches!(
        err_of(vec![e]),
        ZipError::DataDescriptorMismatch { .. }
    ));
}

#[test]
fn symlinks_refused() {
    let mut e = stored("migrations/1.sql", b"/etc/passwd");
    e.attrs = 0o120777 << 16;
    assert!(matches!(err_of(vec![e]), ZipError::Symlink { .. }));
    let mut e = stored("migrations/1.sql", b"x");
    e.made_by = 10 << 8 | 20; // NTFS
    e.attrs = 0x400; // reparse point
    assert!(matches!(err_of(vec![e]), ZipError::Symlink { .. }));
    let mut e = stored("migrations/1.sql", b"x");
    e.made_by = 20; // DOS host, 7-Zip's Unix-mode marker
    e.attrs = 0o120777 << 16 | 0x8000;
    assert!(matches!(err_of(vec![e]), ZipError::Symlink { .. }));
    // The same mode bits on a DOS host without the marker mean nothing.
    let mut e = stored("migrations/1.sql", b"x");
    e.made_by = 20;
    e.attrs = 0o120777 << 16;
    assert_eq!(names(&Zip::of(vec![e]).build().bytes), vec!["1.sql"]);
}

#[test]
fn absolute_paths_refused() {
    for name in ["/migrations/1.sql", "C:/migrations/1.sql"] {
        let e = err_of(vec![
            stored(name, UP),
            stored(format!("{}x", &name[..name.len() - 5]), b""),
        ]);
        assert!(matches!(e, ZipError::AbsolutePath { .. }), "{name}: {e}");
    }
}

#[test]
fn parent_component_refused() {
    let e = err_of(vec![stored("../migrations/1.sql", UP)]);
    assert!(matches!(e, ZipError::ParentComponent { .. }), "{e}");
}

#[test]
fn backslash_refused() {
    assert!(matches!(
        err_of(vec![stored("migrations/a\\b.sql", UP)]),
        ZipError::Backslash { .. }
    ));
    assert!(matches!(
        err_of(vec![stored("migrations\\1.sql", UP)]),
        ZipError::Backslash { .. }
    ));
}

#[test]
fn nul_refused() {
    assert!(matches!(
        err_of(vec![stored("migrations/a\0.sql", UP)]),
        ZipError::NulInName { .. }
    ));
}

#[test]
fn duplicate_names_refused() {
    let e = err_of(vec![
        stored("migrations/1.sql", UP),
        stored("migrations/1.sql", b"x"),
    ]);
    assert!(matches!(e, ZipError::Duplicate { ref name } if name == "1.sql"));
    let e = err_of(vec![
        stored("migrations/1.sql", UP),
        stored("./migrations/1.sql", b"x"),
    ]);
    assert!(matches!(e, ZipError::Duplicate { .. }));
}

#[test]
fn non_utf8_selected_name_refused() {
    assert!(matches!(
        err_of(vec![stored(b"migrations/\xff.sql", UP)]),
        ZipError::NotUtf8 { .. }
    ));
    // Outside the folder it does not matter.
    let z = Zip::of(vec![
        stored(b"\xff.txt", b""),
        stored("migrations/1.sql", UP),
    ]);
    assert_eq!(names(&z.build().bytes), vec!["1.sql"]);
}

#[test]
fn single_byte_flips_never_panic() {
    let mut z = valid();
    z.zip64_end = true;
    let bytes = z.build().bytes;
    for i in 0..bytes.len() {
        for x in [0x01, 0x80, 0xFF] {
            let mut m = bytes.clone();
            m[i] ^= x;
            let _ = read(&m);
        }
    }
}

#[test]
fn python_more_than_65535_entries_uses_zip64_count() {
    let script = r#"
import io, sys, zipfile
out = io.BytesIO()
with zipfile.ZipFile(out, "w") as z:
    for i in range(70000):
        z.writestr("a/%d" % i, b"")
    z.writestr("migrations/1_a.sql", b"SELECT 1;\n")
sys.stdout.buffer.write(out.getvalue())
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .stderr(Stdio::inherit())
        .output()
        .expect("python3 is needed for this test");
    assert!(out.status.success());
    let bytes = out.stdout;
    let archive = Archive::new(&bytes).unwrap();
    assert_eq!(archive.directory().entries, 70_001);
    assert!(archive.directory().zip64.is_some());
    assert_eq!(
        read(&bytes).unwrap(),
        vec![("1_a.sql".to_owned(), b"SELECT 1;\n".to_vec())]
    );
}
