//! Hostile corpus: one crafted archive per refusal, each asserting its specific
//! [`ZipError`] variant, plus positive tests for the layouts real writers produce.
//!
//! Archives are built byte by byte by [`Zip`] (testkit's `corpus`), a tiny builder where every
//! field can be set, so each test changes exactly one thing from a valid archive. The
//! shared corpus ([`corpus::hostile`]) gets one test per case here: what other tools
//! make of the same archives is checked by `differential.rs`.

use std::io::Read;
use std::process::{Command, Stdio};

use engine::artifact::{Archive, Limits, ZipError, read_migrations};

use testkit::corpus::{self, *};

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

/// Reads the corpus case `name` and checks it against what the case says: refused with
/// a one-line message holding each expected text, or accepted.
fn corpus_case(name: &str) {
    let cases = corpus::hostile();
    let case = cases.iter().find(|c| c.name == name).expect("no such case");
    match read(&case.bytes) {
        Err(e) => {
            let message = e.to_string();
            assert!(case.refused, "{name}: refused: {message}");
            assert!(!message.contains('\n'), "{name}: {message}");
            for want in case.expect {
                assert!(message.contains(want), "{name}: {message:?} lacks {want:?}");
            }
        }
        Ok(files) => assert!(
            !case.refused,
            "{name}: accepted {:?}",
            files.iter().map(|f| &f.0).collect::<Vec<_>>()
        ),
    }
}

macro_rules! corpus_tests {
    ($($case:ident,)*) => {
        $(
            #[test]
            fn $case() {
                corpus_case(stringify!($case));
            }
        )*

        /// Every case of the corpus has its test above.
        #[test]
        fn every_corpus_case_is_tested() {
            let tested = [$(stringify!($case)),*];
            for case in corpus::hostile() {
                assert!(tested.contains(&case.name), "{} has no test", case.name);
            }
        }
    };
}

corpus_tests! {
    zip_in_comment,
    zip_in_comment_adjusted,
    fake_end_record_in_comment,
    zip64_extensible_data,
    nul_in_name,
    double_slash,
    dot_segment,
    dotdot_segment,
    dotdot_into_folder,
    second_dot_slash,
    absolute,
    backslash,
    non_ascii_name_without_utf8_flag,
    unicode_path_extra,
    deflate_trailing_bytes,
    second_deflate_stream,
    hidden_entry_after_migration,
    bomb_16x64mib,
    bomb_16x2mib,
    symlink,
    duplicate,
    prepended_stub,
    nested_zip_stored_last,
    odd_names_elsewhere,
}

#[test]
fn benign_corpus_is_accepted() {
    for case in corpus::benign() {
        let files = read(&case.bytes).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let want = if case.name == "empty" { 0 } else { 2 };
        assert_eq!(files.len(), want, "{}", case.name);
    }
}

#[test]
fn zeros_stream_inflates_to_zeros() {
    for size in [0, 1, 257, 258, 259, 1000, 1 << 20] {
        let z = zeros_stream(size);
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(&z[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out.len(), size);
        assert!(out.iter().all(|&b| b == 0));
    }
}

#[test]
fn total_budget_is_configurable_and_checked_on_declared_sizes() {
    let bytes = valid().build().bytes;
    let sizes = UP.len() + UP.len() * 20;
    let limits = |total: usize| Limits {
        max_total_size: total as u64,
        ..Limits::default()
    };
    assert_eq!(read_with(&bytes, &limits(sizes)).unwrap().len(), 2);
    assert!(matches!(
        read_with(&bytes, &limits(sizes - 1)),
        Err(ZipError::TotalTooLarge { total, .. }) if total == sizes as u64
    ));
    // The bomb's sizes are only declared: it is refused before anything is inflated,
    // also when the stream would produce less than declared.
    let mut z = Zip::of(vec![deflated("migrations/1.sql", b"tiny")]);
    z.entries[0].usize = 3000;
    assert!(matches!(
        read_with(&z.build().bytes, &limits(2000)),
        Err(ZipError::TotalTooLarge { .. })
    ));
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
    // Junk between the record and its locator.
    let loc = b.locator.unwrap();
    let mut bytes = b.bytes[..loc].to_vec();
    bytes.extend_from_slice(&[0; 8]);
    bytes.extend_from_slice(&b.bytes[loc..]);
    assert!(matches!(read(&bytes), Err(ZipError::BadLayout { .. })));
    // A record that declares a different size (extensible data, or none at all).
    for size in [40, 52] {
        let mut bytes = b.bytes.clone();
        patch64(&mut bytes, b.zip64_record.unwrap() + 4, size);
        assert!(
            matches!(read(&bytes), Err(ZipError::Zip64ExtensibleData { size: s }) if s == size),
            "{size}"
        );
    }
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
