//! The reader's unit tests.

use super::inflate::inflate;
use super::walk::{in_folder, is_migration, normalize_dir, strip_dot};
use super::*;

#[test]
fn little_endian_reads_are_bounded() {
    let d = [1, 2, 3, 4, 5, 6, 7, 8];
    assert_eq!(le16(&d, 0), Some(0x0201));
    assert_eq!(le32(&d, 4), Some(0x0807_0605));
    assert_eq!(le64(&d, 0), Some(0x0807_0605_0403_0201));
    assert_eq!(le16(&d, 7), None);
    assert_eq!(le64(&d, 1), None);
    assert_eq!(le32(&d, usize::MAX), None);
}

#[test]
fn dir_and_names_are_normalized() {
    assert_eq!(normalize_dir(b"migrations/"), b"migrations");
    assert_eq!(normalize_dir(b"./db/migrations//"), b"db/migrations");
    assert_eq!(normalize_dir(b"."), b"");
    assert_eq!(strip_dot(b"././migrations/1.sql"), b"./migrations/1.sql");
    assert_eq!(
        in_folder(b"/migrations/1.sql", b"migrations"),
        Some(&b"1.sql"[..])
    );
    assert_eq!(in_folder(b"/migrationsX/1.sql", b"migrations"), None);
    assert!(is_migration(b"1.sql"));
    assert!(!is_migration(b"sub/1.sql"));
    assert!(!is_migration(b"1.SQL"));
}

/// A stored zip of `(name, data)` entries, written by the zip crate, and the offsets
/// of its central records.
fn stored_zip(entries: &[(&str, &[u8])]) -> (Vec<u8>, Vec<usize>) {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    let bytes = w.finish().unwrap().into_inner();
    let dir = eocd::locate(&bytes).unwrap();
    let mut at = dir.offset as usize;
    let mut centrals = Vec::new();
    while at < dir.end as usize {
        centrals.push(at);
        at = central::parse(&bytes, at, dir.end as usize).unwrap().1;
    }
    (bytes, centrals)
}

#[test]
fn overlap_from_a_span_further_back_is_refused() {
    // a.txt's central record claims data up into the selected entry's local header,
    // with b.txt (which ends before it) in between: in offset order, the furthest end
    // before the selected entry is a.txt's, not its neighbour's.
    let (mut bytes, centrals) = stored_zip(&[
        ("a.txt", &[b'a'; 100]),
        ("b.txt", &[b'b'; 100]),
        ("migrations/1.sql", b"-- +migrate Up\nSELECT 1;\n"),
    ]);
    let limits = Limits::default();
    assert_eq!(
        read_migrations(&bytes, "migrations", &limits)
            .unwrap()
            .len(),
        1
    );
    let selected = le32(&bytes, centrals[2] + 42).unwrap() as usize;
    let reach = (selected + 1 - (30 + "a.txt".len())) as u32;
    bytes[centrals[0] + 20..centrals[0] + 24].copy_from_slice(&reach.to_le_bytes());
    assert!(matches!(
        read_migrations(&bytes, "migrations", &limits),
        Err(ZipError::Overlap {
            other_offset: 0,
            ..
        })
    ));
    // Ending exactly at the selected entry is no overlap; b.txt is then covered, which
    // only matters for selected entries.
    let reach = reach - 1;
    bytes[centrals[0] + 20..centrals[0] + 24].copy_from_slice(&reach.to_le_bytes());
    assert_eq!(
        read_migrations(&bytes, "migrations", &limits)
            .unwrap()
            .len(),
        1
    );
}

fn deflate(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn inflate_exact_shorter_longer() {
    let plain = b"hello hello hello hello".repeat(100);
    let z = deflate(&plain);
    assert_eq!(inflate(&z, plain.len(), b"a").unwrap(), plain);
    assert!(matches!(
        inflate(&z, plain.len() + 1, b"a"),
        Err(ZipError::InflatedShorter { .. })
    ));
    assert!(matches!(
        inflate(&z, plain.len() - 1, b"a"),
        Err(ZipError::InflatedLonger { .. })
    ));
    assert!(matches!(
        inflate(&z[..z.len() / 2], plain.len(), b"a"),
        Err(ZipError::Inflate { .. })
    ));
    let empty = deflate(b"");
    assert_eq!(inflate(&empty, 0, b"a").unwrap(), b"");
    assert!(matches!(
        inflate(&z, 0, b"a"),
        Err(ZipError::InflatedLonger { .. })
    ));
}
