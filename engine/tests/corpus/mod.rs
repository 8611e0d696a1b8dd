//! The shared corpus of crafted archives: a byte-level builder ([`Zip`]) where every
//! field can be set, and [`hostile`], one archive per way a zip tool could read an
//! artifact differently from us (plus the refusals that guard memory), with what our
//! reader must do. Used by `hostile.rs`, `differential.rs` and the S3 parity test.
#![allow(dead_code)]

use std::io::Write;
use std::sync::OnceLock;

pub const LOCAL_SIG: u32 = 0x0403_4b50;
pub const CENTRAL_SIG: u32 = 0x0201_4b50;
pub const EOCD_SIG: u32 = 0x0605_4b50;
pub const DD_SIG: u32 = 0x0807_4b50;

/// How an entry's data descriptor is written.
#[derive(Clone, Copy, PartialEq)]
pub enum Dd {
    Sig32,
    Bare32,
    Sig64,
}

/// One entry: every field the central and local headers carry.
#[derive(Clone)]
pub struct E {
    pub name: Vec<u8>,
    pub local_name: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub method: u16,
    pub local_method: Option<u16>,
    pub flags: u16,
    pub crc: u32,
    pub csize: u64,
    pub usize: u64,
    pub made_by: u16,
    pub attrs: u32,
    pub descriptor: Option<Dd>,
    pub descriptor_crc: Option<u32>,
    pub zip64: bool,
    /// Write only a central record pointing at this local-header offset.
    pub central_only_at: Option<u64>,
    /// Bytes written after the entry (after its data descriptor), before the next one.
    pub after: Vec<u8>,
    /// Extra fields added to both headers (after any ZIP64 field).
    pub extra: Vec<u8>,
}

pub fn stored(name: impl AsRef<[u8]>, data: &[u8]) -> E {
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
        after: Vec::new(),
        extra: Vec::new(),
    }
}

pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn deflated(name: impl AsRef<[u8]>, data: &[u8]) -> E {
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
pub struct Zip {
    pub entries: Vec<E>,
    pub comment: Vec<u8>,
    /// Added to every offset: the archive will sit this far into the file.
    pub base: u64,
    pub zip64_end: bool,
    pub all_sentinel: bool,
}

/// A built archive and where its parts are (offsets relative to the bytes returned).
pub struct Built {
    pub bytes: Vec<u8>,
    pub locals: Vec<usize>,
    pub centrals: Vec<usize>,
    pub cd: usize,
    pub zip64_record: Option<usize>,
    pub locator: Option<usize>,
    pub eocd: usize,
}

pub fn put16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}
pub fn put32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}
pub fn put64(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}
pub fn patch16(v: &mut [u8], at: usize, x: u16) {
    v[at..at + 2].copy_from_slice(&x.to_le_bytes());
}
pub fn patch32(v: &mut [u8], at: usize, x: u32) {
    v[at..at + 4].copy_from_slice(&x.to_le_bytes());
}
pub fn patch64(v: &mut [u8], at: usize, x: u64) {
    v[at..at + 8].copy_from_slice(&x.to_le_bytes());
}

impl Zip {
    pub fn of(entries: Vec<E>) -> Zip {
        Zip {
            entries,
            ..Zip::default()
        }
    }

    pub fn build(&self) -> Built {
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
            let extra = [extra, e.extra.clone()].concat();
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
            v.extend_from_slice(&e.after);
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
            let extra = [extra, e.extra.clone()].concat();
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

/// `count` deflated files of `size` zero bytes each, sharing one stream.
fn bomb(count: usize, size: usize) -> Vec<u8> {
    let (z, crc) = zeros(size);
    let entries = (0..count)
        .map(|i| E {
            method: 8,
            crc,
            csize: z.len() as u64,
            usize: size as u64,
            payload: z.clone(),
            ..stored(format!("migrations/{i:02}_bomb.sql"), b"")
        })
        .collect();
    Zip::of(entries).build().bytes
}

/// [`zeros_stream`] and the CRC-32 of `size` zero bytes, computed once per size.
fn zeros(size: usize) -> (Vec<u8>, u32) {
    type Cache = std::sync::Mutex<Vec<(usize, Vec<u8>, u32)>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some((_, v, crc)) = cache.lock().unwrap().iter().find(|c| c.0 == size) {
        return (v.clone(), *crc);
    }
    let mut h = crc32fast::Hasher::new();
    let block = [0u8; 1 << 16];
    let mut left = size;
    while left > 0 {
        let n = left.min(block.len());
        h.update(&block[..n]);
        left -= n;
    }
    let (v, crc) = (zeros_stream(size), h.finalize());
    cache.lock().unwrap().push((size, v.clone(), crc));
    (v, crc)
}

/// A deflate stream of `size` zero bytes, written directly (one fixed-Huffman block: a
/// literal zero, then length-258 copies at distance 1), so building the bomb costs
/// nothing like compressing it.
pub fn zeros_stream(size: usize) -> Vec<u8> {
    let mut w = Bits::default();
    w.put(1, 1); // final block
    w.put(1, 2); // fixed Huffman
    let mut left = size;
    let literal = |w: &mut Bits| w.code(0x30, 8); // literal 0
    if left > 0 {
        literal(&mut w);
        left -= 1;
    }
    while left >= 258 {
        w.code(0xC5, 8); // length code 285: 258
        w.code(0, 5); // distance code 0: 1
        left -= 258;
    }
    for _ in 0..left {
        literal(&mut w);
    }
    w.code(0, 7); // end of block
    w.finish()
}

#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    /// `len` bits of `value`, least significant first (deflate's header fields).
    fn put(&mut self, value: u64, len: u32) {
        self.acc |= value << self.n;
        self.n += len;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// A Huffman code, most significant bit first.
    fn code(&mut self, code: u64, len: u32) {
        let reversed = (0..len).fold(0, |r, i| r | ((code >> i) & 1) << (len - 1 - i));
        self.put(reversed, len);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
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
    put32(&mut v, 0x0606_4b50);
    put64(&mut v, 44);
    put16(&mut v, 45);
    put16(&mut v, 45);
    put32(&mut v, 0);
    put32(&mut v, 0);
    put64(&mut v, 3);
    put64(&mut v, 3);
    put64(&mut v, fake_cd.len() as u64);
    put64(&mut v, fake_at);
    // The locator still names the real record; the end record is unchanged.
    v.extend_from_slice(&b.bytes[locator..]);
    v
}
