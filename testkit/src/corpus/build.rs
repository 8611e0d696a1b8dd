//! The byte-level archive builder: every field of the local and central headers, the
//! data descriptors and the end records can be set, so a test can write archives no
//! zip tool would (and place them at an offset inside a larger file).

use std::io::Write;

/// The local file header's signature.
pub const LOCAL_SIG: u32 = 0x0403_4b50;
/// The central directory header's signature.
pub const CENTRAL_SIG: u32 = 0x0201_4b50;
/// The end of central directory record's signature.
pub const EOCD_SIG: u32 = 0x0605_4b50;
/// The ZIP64 end of central directory record's signature.
pub const ZIP64_RECORD_SIG: u32 = 0x0606_4b50;
/// The (optional) data descriptor signature.
pub const DD_SIG: u32 = 0x0807_4b50;

/// How an entry's data descriptor is written.
#[derive(Clone, Copy, PartialEq)]
pub enum Dd {
    /// Signature, then 32-bit sizes.
    Sig32,
    /// 32-bit sizes without the signature.
    Bare32,
    /// Signature, then 64-bit sizes.
    Sig64,
}

/// One entry: every field the central and local headers carry.
#[derive(Clone)]
pub struct E {
    /// The name in the central header (and the local one unless `local_name` is set).
    pub name: Vec<u8>,
    /// A different name for the local header.
    pub local_name: Option<Vec<u8>>,
    /// The entry's data as written (compressed for method 8).
    pub payload: Vec<u8>,
    /// The compression method in the central header (and the local one by default).
    pub method: u16,
    /// A different method for the local header.
    pub local_method: Option<u16>,
    /// General-purpose flags (bit 3 is added when `descriptor` is set).
    pub flags: u16,
    /// The CRC-32 in the headers.
    pub crc: u32,
    /// The compressed size.
    pub csize: u64,
    /// The uncompressed size.
    pub usize: u64,
    /// Version made by (host in the high byte).
    pub made_by: u16,
    /// External attributes (Unix mode in the high 16 bits).
    pub attrs: u32,
    /// A data descriptor after the data, and its form.
    pub descriptor: Option<Dd>,
    /// A different CRC-32 for the data descriptor.
    pub descriptor_crc: Option<u32>,
    /// ZIP64 extra fields with sentinel sizes (and offset) in the headers.
    pub zip64: bool,
    /// Write only a central record pointing at this local-header offset.
    pub central_only_at: Option<u64>,
    /// Bytes written after the entry (after its data descriptor), before the next one.
    pub after: Vec<u8>,
    /// Extra fields added to both headers (after any ZIP64 field).
    pub extra: Vec<u8>,
    /// Extra fields added to the local header only (after `extra`).
    pub local_extra: Vec<u8>,
}

/// A stored entry holding `data`, as a Unix zip tool writes it.
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
        local_extra: Vec::new(),
    }
}

/// `data` compressed as a raw deflate stream (best compression).
pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A deflated entry holding `data`.
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
    /// The entries, in archive order.
    pub entries: Vec<E>,
    /// The end record's comment.
    pub comment: Vec<u8>,
    /// Added to every offset: the archive will sit this far into the file.
    pub base: u64,
    /// Write a ZIP64 end record and locator.
    pub zip64_end: bool,
    /// Write every count and size of the end record as its ZIP64 sentinel.
    pub all_sentinel: bool,
}

/// A built archive and where its parts are (offsets relative to the bytes returned).
pub struct Built {
    /// The archive.
    pub bytes: Vec<u8>,
    /// Each entry's local header (`usize::MAX` for a central-only entry).
    pub locals: Vec<usize>,
    /// Each entry's central header.
    pub centrals: Vec<usize>,
    /// The central directory.
    pub cd: usize,
    /// The ZIP64 end record, if written.
    pub zip64_record: Option<usize>,
    /// The ZIP64 end locator, if written.
    pub locator: Option<usize>,
    /// The end record.
    pub eocd: usize,
}

/// Appends `x`, little-endian.
pub fn put16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}
/// Appends `x`, little-endian.
pub fn put32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}
/// Appends `x`, little-endian.
pub fn put64(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}
/// Overwrites the bytes at `at` with `x`, little-endian.
pub fn patch16(v: &mut [u8], at: usize, x: u16) {
    v[at..at + 2].copy_from_slice(&x.to_le_bytes());
}
/// Overwrites the bytes at `at` with `x`, little-endian.
pub fn patch32(v: &mut [u8], at: usize, x: u32) {
    v[at..at + 4].copy_from_slice(&x.to_le_bytes());
}
/// Overwrites the bytes at `at` with `x`, little-endian.
pub fn patch64(v: &mut [u8], at: usize, x: u64) {
    v[at..at + 8].copy_from_slice(&x.to_le_bytes());
}

/// Appends a ZIP64 end record (no extensible data) for `entries` entries and a central
/// directory of `cd_size` bytes at `cd_offset`.
pub fn put_zip64_record(v: &mut Vec<u8>, entries: u64, cd_size: u64, cd_offset: u64) {
    put32(v, ZIP64_RECORD_SIG);
    put64(v, 44);
    put16(v, 45);
    put16(v, 45);
    put32(v, 0);
    put32(v, 0);
    put64(v, entries);
    put64(v, entries);
    put64(v, cd_size);
    put64(v, cd_offset);
}

impl Zip {
    /// An archive of `entries`, at offset 0, without comment.
    pub fn of(entries: Vec<E>) -> Zip {
        Zip {
            entries,
            ..Zip::default()
        }
    }

    /// Writes the archive.
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
            let extra = [extra, e.extra.clone(), e.local_extra.clone()].concat();
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
            put_zip64_record(&mut v, n, cd_size, cd_offset);
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
