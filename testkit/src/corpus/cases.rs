//! The archives themselves: a valid one, the hostile ones (one per way another zip
//! reader could see a different artifact) and the benign ones every reader agrees on.

use super::bomb::bomb;
use super::build::*;

/// A small valid migration (Up and Down).
pub const UP: &[u8] =
    b"-- +migrate Up\nCREATE TABLE t (id INT);\n-- +migrate Down\nDROP TABLE t;\n";

/// A valid archive: two migrations (stored, deflated) between two other files.
pub fn valid() -> Zip {
    Zip::of(vec![
        stored("README.md", b"readme"),
        stored("migrations/1_a.sql", UP),
        deflated("migrations/2_b.sql", &UP.repeat(20)),
        deflated("app/blob.bin", &[7u8; 5000]),
    ])
}

/// One archive of the corpus and what our reader must do with it.
pub struct Case {
    /// A short, unique name (also a file name in the differential test).
    pub name: &'static str,
    /// The archive.
    pub bytes: Vec<u8>,
    /// Whether our reader must refuse it.
    pub refused: bool,
    /// For a refused case, texts its one-line refusal must contain: the reason and,
    /// where there is one, the entry.
    pub expect: &'static [&'static str],
}

fn refused(name: &'static str, bytes: Vec<u8>, expect: &'static [&'static str]) -> Case {
    Case {
        name,
        bytes,
        refused: true,
        expect,
    }
}

fn accepted(name: &'static str, bytes: Vec<u8>) -> Case {
    Case {
        name,
        bytes,
        refused: false,
        expect: &[],
    }
}

/// A valid archive with `extra` entries after the two migrations of [`valid`].
fn with(extra: Vec<E>) -> Vec<u8> {
    let mut z = valid();
    z.entries.extend(extra);
    z.build().bytes
}

/// What the hostile entries hold.
pub const EVIL: &[u8] = b"-- +migrate Up\nDROP DATABASE production;\n-- +migrate Down\n";

/// Every way a mainstream zip reader (Python zipfile, Go archive/zip, Info-ZIP unzip,
/// libarchive) could read an artifact differently from us, one archive per way, plus
/// the memory bombs and a few near misses that must stay accepted.
pub fn hostile() -> Vec<Case> {
    let mut cases = Vec::new();

    // A complete archive (offsets relative to itself) as the end record's comment:
    // Python, Go and unzip take the last end record and shift every offset to it.
    let mut z = valid();
    z.comment = Zip::of(vec![stored("migrations/1_evil.sql", EVIL)])
        .build()
        .bytes;
    cases.push(refused(
        "zip_in_comment",
        z.build().bytes,
        &["inside the comment", "other zip readers take the last one"],
    ));

    // The same with offsets adjusted: both end records are valid.
    let outer_len = valid().build().bytes.len() as u64;
    let mut inner = Zip::of(vec![stored("migrations/1_evil.sql", EVIL)]);
    inner.base = outer_len;
    let mut z = valid();
    z.comment = inner.build().bytes;
    cases.push(refused(
        "zip_in_comment_adjusted",
        z.build().bytes,
        &["ambiguous archive"],
    ));

    // A fake end record in the comment: Python reads it as an empty archive.
    let mut z = valid();
    let mut fake = EOCD_SIG.to_le_bytes().to_vec();
    fake.extend_from_slice(&[0; 16]);
    fake.extend_from_slice(&5u16.to_le_bytes()); // a comment that is not there
    z.comment = fake;
    cases.push(refused(
        "fake_end_record_in_comment",
        z.build().bytes,
        &["inside the comment"],
    ));

    cases.push(refused(
        "zip64_extensible_data",
        zip64_extensible_data(),
        &["extensible data"],
    ));

    // Names that other tools extract into the folder: (case, entry, expected texts).
    let names: [(&'static str, &str, &'static [&'static str]); 7] = [
        // Python cuts at NUL: two migrations/1_a.sql.
        (
            "nul_in_name",
            "migrations/1_a.sql\0.txt",
            &["NUL", "1_a.sql"],
        ),
        // Extraction collapses '//' and writes it over migrations/1_a.sql.
        (
            "double_slash",
            "migrations//1_a.sql",
            &["empty segment", "migrations//1_a.sql"],
        ),
        (
            "dot_segment",
            "migrations/./3_c.sql",
            &["'.' segment", "migrations/./3_c.sql"],
        ),
        // Python's extractall drops '..': migrations/1_evil.sql.
        (
            "dotdot_segment",
            "migrations/../1_evil.sql",
            &["'..'", "migrations/../1_evil.sql"],
        ),
        // Go's fs view resolves it to migrations/3_c.sql.
        (
            "dotdot_into_folder",
            "app/../migrations/3_c.sql",
            &["'..'", "app/../migrations/3_c.sql"],
        ),
        (
            "second_dot_slash",
            "././migrations/3_c.sql",
            &["'.' segment", "././migrations/3_c.sql"],
        ),
        (
            "absolute",
            "/migrations/3_c.sql",
            &["absolute", "/migrations/3_c.sql"],
        ),
    ];
    for (case, entry, expect) in names {
        cases.push(refused(case, with(vec![stored(entry, EVIL)]), expect));
    }
    // unzip reads backslashes as separators in archives made on MS-DOS hosts.
    let mut e = stored("migrations\\3_c.sql", EVIL);
    e.made_by = 20;
    e.attrs = 0x20;
    cases.push(refused(
        "backslash",
        with(vec![e]),
        &["backslash", "migrations\\3_c.sql"],
    ));

    // Info-ZIP's zip writes UTF-8 names without the UTF-8 flag: Python reads CP437.
    let mut e = stored("migrations/3_caf\u{e9}.sql", EVIL);
    e.flags = 0;
    cases.push(refused(
        "non_ascii_name_without_utf8_flag",
        with(vec![e]),
        &["lacks the UTF-8 flag", "3_caf\u{e9}.sql"],
    ));
    // An entry that unzip extracts under another name, into the folder.
    let mut e = stored("app/notes.txt", EVIL);
    e.extra = unicode_path(b"app/notes.txt", b"migrations/3_evil.sql");
    cases.push(refused(
        "unicode_path_extra",
        with(vec![e]),
        &["Unicode Path", "app/notes.txt", "migrations/3_evil.sql"],
    ));

    // Bytes after the deflate stream, inside the declared compressed size.
    let mut e = deflated("migrations/3_c.sql", UP);
    e.payload.extend_from_slice(b"PK\x03\x04 hidden");
    e.csize = e.payload.len() as u64;
    cases.push(refused(
        "deflate_trailing_bytes",
        with(vec![e]),
        &["follow the end of the deflate stream", "migrations/3_c.sql"],
    ));
    // A second deflate stream after the first.
    let mut e = deflated("migrations/3_c.sql", UP);
    e.payload.extend(deflate(EVIL));
    e.csize = e.payload.len() as u64;
    cases.push(refused(
        "second_deflate_stream",
        with(vec![e]),
        &["follow the end of the deflate stream", "migrations/3_c.sql"],
    ));
    // A local entry hidden between a migration and the next entry: streaming readers
    // (which walk local headers) see it, central-directory readers do not.
    let hidden = Zip::of(vec![stored("migrations/9_evil.sql", EVIL)]).build();
    let mut z = valid();
    z.entries[1].after = hidden.bytes[..hidden.cd].to_vec();
    cases.push(refused(
        "hidden_entry_after_migration",
        z.build().bytes,
        &["unaccounted bytes", "migrations/1_a.sql"],
    ));

    // Memory: 16 files of 64 MiB of zeros (each above the per-file limit), and 16 of
    // 2 MiB (each within it, 32 MiB together: above the total budget).
    cases.push(refused(
        "bomb_16x64mib",
        bomb(16, 64 << 20),
        &["above the limit", "migrations/00_bomb.sql"],
    ));
    cases.push(refused("bomb_16x2mib", bomb(16, 2 << 20), &["budget"]));

    // Refusals that no tool disagrees about but that a reader must still make.
    let mut e = stored("migrations/3_c.sql", b"/etc/passwd");
    e.attrs = 0o120777 << 16;
    cases.push(refused(
        "symlink",
        with(vec![e]),
        &["symbolic link", "migrations/3_c.sql"],
    ));
    cases.push(refused(
        "duplicate",
        with(vec![stored("./migrations/1_a.sql", EVIL)]),
        &["duplicate", "1_a.sql"],
    ));
    let mut stub = vec![b'#'; 100];
    stub.extend(valid().build().bytes);
    cases.push(refused("prepended_stub", stub, &["data prepended"]));

    // Near misses that must stay accepted.
    // An archive stored as the last entry: its end record sits before ours.
    let nested = Zip::of(vec![stored("migrations/1_evil.sql", EVIL)])
        .build()
        .bytes;
    cases.push(accepted(
        "nested_zip_stored_last",
        with(vec![stored("app/bundle.zip", &nested)]),
    ));
    // Non-canonical names that no reading puts in the folder are ignored.
    cases.push(accepted(
        "odd_names_elsewhere",
        with(vec![
            stored("docs//notes.txt", b"x"),
            stored("app/../README2.md", b"x"),
            stored("app/./x.sql", b"x"),
            stored("app\\y.sql", b"x"),
        ]),
    ));
    cases
}

/// Archives every reader must read as we do.
pub fn benign() -> Vec<Case> {
    let mut cases = vec![accepted("valid", valid().build().bytes)];
    let mut z = valid();
    for e in &mut z.entries {
        e.zip64 = true;
    }
    z.zip64_end = true;
    cases.push(accepted("zip64", z.build().bytes));
    let mut z = valid();
    z.zip64_end = true;
    z.all_sentinel = true;
    cases.push(accepted("zip64_sentinels", z.build().bytes));
    let mut z = valid();
    z.comment = b"built by CI".to_vec();
    cases.push(accepted("comment", z.build().bytes));
    let mut z = valid();
    for e in &mut z.entries {
        e.name = [b"./".as_slice(), &e.name].concat();
    }
    cases.push(accepted("dot_slash", z.build().bytes));
    let mut z = valid();
    z.entries[1].descriptor = Some(Dd::Sig32);
    z.entries[2].descriptor = Some(Dd::Bare32);
    cases.push(accepted("descriptors", z.build().bytes));
    let mut z = valid();
    for e in &mut z.entries {
        e.name = [b"repo-1a2b/".as_slice(), &e.name].concat();
    }
    cases.push(accepted("repository", z.build().bytes));
    cases.push(accepted("empty", Zip::default().build().bytes));
    cases
}

/// An Info-ZIP Unicode Path extra field renaming `stored` to `name`.
fn unicode_path(stored: &[u8], name: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    put16(&mut v, 0x7075);
    put16(&mut v, 5 + name.len() as u16);
    v.push(1);
    put32(&mut v, crc32fast::hash(stored));
    v.extend_from_slice(name);
    v
}

/// A ZIP64 end record whose extensible data ends with a second, forged ZIP64 record
/// (and the central directory it names, which leaves out `migrations/2_b.sql`) just
/// before the locator: Python assumes no extensible data and reads the forgery.
fn zip64_extensible_data() -> Vec<u8> {
    let mut z = valid();
    z.zip64_end = true;
    let b = z.build();
    let (record, locator) = (b.zip64_record.unwrap(), b.locator.unwrap());
    let mut fake_cd = Vec::new();
    for i in [0, 1, 3] {
        let end = b.centrals.get(i + 1).copied().unwrap_or(record);
        fake_cd.extend_from_slice(&b.bytes[b.centrals[i]..end]);
    }
    let mut v = b.bytes[..record].to_vec();
    v.extend_from_slice(&b.bytes[record..record + 56]);
    patch64(&mut v, record + 4, 44 + fake_cd.len() as u64 + 56);
    let fake_at = v.len() as u64;
    v.extend_from_slice(&fake_cd);
    put_zip64_record(&mut v, 3, fake_cd.len() as u64, fake_at);
    // The locator still names the real record; the end record is unchanged.
    v.extend_from_slice(&b.bytes[locator..]);
    v
}
