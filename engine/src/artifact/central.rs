//! Central-directory file headers.

use super::error::lossy;
use super::{ZipError, le16, le32};

/// Signature of a central-directory file header.
pub const CENTRAL_SIG: u32 = 0x0201_4b50;
/// Fixed size of a central-directory file header.
pub const CENTRAL_LEN: usize = 46;
/// Id of the ZIP64 extended-information extra field.
pub const ZIP64_EXTRA: u16 = 0x0001;

/// A central-directory file header, borrowed from the archive.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Raw name bytes.
    pub name: &'a [u8],
    /// Raw extra-field bytes.
    pub extra: &'a [u8],
    /// "Version made by": the high byte is the host system (3 = Unix).
    pub version_made_by: u16,
    /// General-purpose flags.
    pub flags: u16,
    /// Compression method.
    pub method: u16,
    /// Declared CRC-32 of the uncompressed data.
    pub crc32: u32,
    /// Compressed size (from the ZIP64 extra field when the 32-bit field is the sentinel).
    pub compressed_size: u64,
    /// Uncompressed size (likewise).
    pub uncompressed_size: u64,
    /// Offset of the local header (likewise).
    pub local_offset: u64,
    /// Disk where the entry starts (likewise).
    pub disk_start: u32,
    /// External attributes: for Unix hosts, the mode in the upper 16 bits.
    pub external_attributes: u32,
}

impl Record<'_> {
    /// Whether any encryption is flagged: traditional (bit 0), strong (bit 6), or AES
    /// (method 99).
    pub fn is_encrypted(&self) -> bool {
        self.flags & 0x41 != 0 || self.method == 99
    }

    /// Whether a data descriptor follows the data (flag bit 3).
    pub fn has_descriptor(&self) -> bool {
        self.flags & 0x08 != 0
    }

    /// Whether the entry is a symbolic link: the Unix mode (upper 16 bits of the external
    /// attributes) is S_IFLNK when the host is Unix (3) or Darwin (19), or when 7-Zip's
    /// 0x8000 flag says those bits hold a Unix mode; or, for DOS/NTFS/VFAT hosts, the
    /// reparse-point attribute (0x400) is set.
    pub fn is_symlink(&self) -> bool {
        const S_IFMT: u32 = 0o170000;
        const S_IFLNK: u32 = 0o120000;
        let host = self.version_made_by >> 8;
        let unix_mode = matches!(host, 3 | 19) || self.external_attributes & 0x8000 != 0;
        let unix_link = unix_mode && (self.external_attributes >> 16) & S_IFMT == S_IFLNK;
        let reparse = matches!(host, 0 | 10 | 14) && self.external_attributes & 0x400 != 0;
        unix_link || reparse
    }
}

/// Parses the header at `pos`, which must end at or before `end` (the end of the central
/// directory). Returns the record and the offset of the next header.
// Inlined into the walk: returned through memory, the record costs a store-forwarding
// stall per entry.
#[inline(always)]
pub fn parse(data: &[u8], pos: usize, end: usize) -> Result<(Record<'_>, usize), ZipError> {
    // Built only on failure: an error value made up front costs its drop on every entry.
    let bad = || ZipError::BadCentralHeader { offset: pos as u64 };
    let Some(h) = data
        .get(pos..end.min(data.len()))
        .and_then(|d| d.first_chunk::<CENTRAL_LEN>())
    else {
        return Err(bad());
    };
    if u32::from_le_bytes([h[0], h[1], h[2], h[3]]) != CENTRAL_SIG {
        return Err(bad());
    }
    let f16 = |o: usize| u16::from_le_bytes([h[o], h[o + 1]]);
    let f32_ = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
    let name_len = usize::from(f16(28));
    let extra_len = usize::from(f16(30));
    let comment_len = usize::from(f16(32));
    let name_start = pos + CENTRAL_LEN;
    let extra_start = name_start + name_len;
    let next = extra_start + extra_len + comment_len;
    if next > end {
        return Err(bad());
    }
    let (Some(name), Some(extra)) = (
        data.get(name_start..extra_start),
        data.get(extra_start..extra_start + extra_len),
    ) else {
        return Err(bad());
    };
    let mut rec = Record {
        name,
        extra,
        version_made_by: f16(4),
        flags: f16(8),
        method: f16(10),
        crc32: f32_(16),
        compressed_size: u64::from(f32_(20)),
        uncompressed_size: u64::from(f32_(24)),
        disk_start: u32::from(f16(34)),
        external_attributes: f32_(38),
        local_offset: u64::from(f32_(42)),
    };
    let need = [
        rec.uncompressed_size == 0xFFFF_FFFF,
        rec.compressed_size == 0xFFFF_FFFF,
        rec.local_offset == 0xFFFF_FFFF,
        rec.disk_start == 0xFFFF,
    ];
    if need.iter().any(|&n| n) {
        let v = zip64_extra(extra, need)
            .ok_or_else(|| ZipError::BadZip64Extra { name: lossy(name) })?;
        rec.uncompressed_size = v[0].unwrap_or(rec.uncompressed_size);
        rec.compressed_size = v[1].unwrap_or(rec.compressed_size);
        rec.local_offset = v[2].unwrap_or(rec.local_offset);
        // The disk number is 4 bytes in the extra field; it never exceeds u32.
        rec.disk_start = v[3].map_or(rec.disk_start, |d| d as u32);
    }
    Ok((rec, next))
}

/// What the central-directory walk needs of every header: the name and extra field, where
/// the entry's local header is, how much data it has, and where the next header starts.
/// The other fields are parsed ([`parse`]) only for the few entries the walk selects.
#[derive(Debug, Clone, Copy)]
pub struct Skim<'a> {
    /// Raw name bytes.
    pub name: &'a [u8],
    /// Raw extra-field bytes.
    pub extra: &'a [u8],
    /// Offset of the local header (ZIP64-resolved).
    pub local_offset: u64,
    /// Compressed size (ZIP64-resolved).
    pub compressed_size: u64,
    /// Offset of the next header.
    pub next: usize,
}

/// [`parse`] for the walk: only the fields every entry needs. `None` for anything but
/// the common case (a bad header, a ZIP64 sentinel, another disk): [`skim_slow`] then
/// parses it in full and names the refusal. Returning no error value keeps the result in
/// registers; a `Result` carrying [`ZipError`] went through the stack, and reading it back
/// stalled on store forwarding (measured: 45% of the walk).
///
/// `dir` is the archive up to the end of the central directory.
#[inline(always)]
pub fn skim(dir: &[u8], pos: usize) -> Option<Skim<'_>> {
    let h = dir.get(pos..)?.first_chunk::<CENTRAL_LEN>()?;
    let f16 = |o: usize| u16::from_le_bytes([h[o], h[o + 1]]);
    let f32_ = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
    let (compressed, uncompressed, offset) = (f32_(20), f32_(24), f32_(42));
    if f32_(0) != CENTRAL_SIG
        || compressed == u32::MAX
        || uncompressed == u32::MAX
        || offset == u32::MAX
        || f16(34) != 0
    {
        return None;
    }
    let name_start = pos + CENTRAL_LEN;
    let extra_start = name_start + usize::from(f16(28));
    let extra_end = extra_start + usize::from(f16(30));
    let next = extra_end + usize::from(f16(32));
    Some(Skim {
        name: dir.get(name_start..extra_start)?,
        extra: dir.get(extra_start..extra_end)?,
        local_offset: u64::from(offset),
        compressed_size: u64::from(compressed),
        // The comment must end inside the directory too.
        next: (next <= dir.len()).then_some(next)?,
    })
}

/// [`skim`]'s rare path, with [`parse`]'s refusals: a bad header, ZIP64 values, or
/// another disk.
#[cold]
#[inline(never)]
pub fn skim_slow(data: &[u8], pos: usize, end: usize) -> Result<Skim<'_>, ZipError> {
    let (rec, next) = parse(data, pos, end)?;
    if rec.disk_start != 0 {
        return Err(ZipError::MultiDisk);
    }
    Ok(Skim {
        name: rec.name,
        extra: rec.extra,
        local_offset: rec.local_offset,
        compressed_size: rec.compressed_size,
        next,
    })
}

/// Reads the ZIP64 extended-information extra field: only the values whose 32-bit (or,
/// for the disk, 16-bit) field is the sentinel are present, in the order uncompressed
/// size, compressed size, local-header offset (8 bytes each), disk number (4 bytes).
/// `None` when the field is absent, malformed, or too short for what is needed.
pub fn zip64_extra(extra: &[u8], need: [bool; 4]) -> Option<[Option<u64>; 4]> {
    let body = find_extra(extra, ZIP64_EXTRA)?;
    let mut out = [None; 4];
    let mut at = 0usize;
    for (i, &needed) in need.iter().enumerate() {
        if !needed {
            continue;
        }
        if i < 3 {
            out[i] = Some(super::le64(body, at)?);
            at += 8;
        } else {
            out[i] = Some(u64::from(le32(body, at)?));
            at += 4;
        }
    }
    Some(out)
}

/// The body of the first extra field with this id; `None` if absent or if the extra
/// block is malformed before it.
pub fn find_extra(extra: &[u8], id: u16) -> Option<&[u8]> {
    let mut at = 0usize;
    while at + 4 <= extra.len() {
        let this = le16(extra, at)?;
        let len = usize::from(le16(extra, at + 2)?);
        let body = extra.get(at + 4..at + 4 + len)?;
        if this == id {
            return Some(body);
        }
        at += 4 + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &[u8], extra: &[u8], sizes: [u32; 3], disk: u16) -> Vec<u8> {
        let mut v = CENTRAL_SIG.to_le_bytes().to_vec();
        v.extend_from_slice(&(3u16 << 8 | 20).to_le_bytes()); // made by Unix
        v.extend_from_slice(&20u16.to_le_bytes()); // needed
        v.extend_from_slice(&0x0800u16.to_le_bytes()); // flags
        v.extend_from_slice(&8u16.to_le_bytes()); // method
        v.extend_from_slice(&[0; 4]); // time, date
        v.extend_from_slice(&0xDEADBEEFu32.to_le_bytes());
        v.extend_from_slice(&sizes[0].to_le_bytes()); // csize
        v.extend_from_slice(&sizes[1].to_le_bytes()); // usize
        v.extend_from_slice(&(name.len() as u16).to_le_bytes());
        v.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        v.extend_from_slice(&3u16.to_le_bytes()); // comment
        v.extend_from_slice(&disk.to_le_bytes());
        v.extend_from_slice(&[0; 2]);
        v.extend_from_slice(&(0o120777u32 << 16).to_le_bytes());
        v.extend_from_slice(&sizes[2].to_le_bytes()); // offset
        v.extend_from_slice(name);
        v.extend_from_slice(extra);
        v.extend_from_slice(b"abc");
        v
    }

    #[test]
    fn parses_fixed_fields() {
        let v = header(b"migrations/1.sql", &[], [10, 20, 30], 0);
        let (r, next) = parse(&v, 0, v.len()).unwrap();
        assert_eq!(next, v.len());
        assert_eq!(r.name, b"migrations/1.sql");
        assert_eq!(
            (r.compressed_size, r.uncompressed_size, r.local_offset),
            (10, 20, 30)
        );
        assert_eq!((r.method, r.flags, r.crc32), (8, 0x0800, 0xDEADBEEF));
        assert!(r.is_symlink());
        assert!(!r.is_encrypted());
    }

    #[test]
    fn zip64_extra_supplies_only_sentinel_fields() {
        // Only csize and offset are sentinels: the extra holds them in that order.
        let mut extra = vec![0x99, 0x99, 0, 0]; // an unrelated empty field first
        extra.extend_from_slice(&[1, 0, 16, 0]);
        extra.extend_from_slice(&5_000_000_000u64.to_le_bytes());
        extra.extend_from_slice(&6_000_000_000u64.to_le_bytes());
        let v = header(b"a", &extra, [0xFFFF_FFFF, 7, 0xFFFF_FFFF], 0);
        let (r, _) = parse(&v, 0, v.len()).unwrap();
        assert_eq!(r.uncompressed_size, 7);
        assert_eq!(r.compressed_size, 5_000_000_000);
        assert_eq!(r.local_offset, 6_000_000_000);
    }

    #[test]
    fn zip64_disk_number_is_four_bytes() {
        let mut extra = vec![1, 0, 4, 0];
        extra.extend_from_slice(&2u32.to_le_bytes());
        let v = header(b"a", &extra, [1, 1, 1], 0xFFFF);
        assert_eq!(parse(&v, 0, v.len()).unwrap().0.disk_start, 2);
    }

    #[test]
    fn short_or_missing_zip64_extra_is_refused() {
        let extra = [1, 0, 4, 0, 0, 0, 0, 0];
        let v = header(b"a", &extra, [0xFFFF_FFFF, 1, 1], 0);
        assert!(matches!(
            parse(&v, 0, v.len()),
            Err(ZipError::BadZip64Extra { .. })
        ));
        let v = header(b"a", &[], [1, 0xFFFF_FFFF, 1], 0);
        assert!(matches!(
            parse(&v, 0, v.len()),
            Err(ZipError::BadZip64Extra { .. })
        ));
    }

    #[test]
    fn header_past_end_or_bad_signature_is_refused() {
        let v = header(b"abc", &[], [1, 1, 1], 0);
        assert!(matches!(
            parse(&v, 0, v.len() - 1),
            Err(ZipError::BadCentralHeader { offset: 0 })
        ));
        let mut w = v.clone();
        w[0] = b'X';
        assert!(parse(&w, 0, w.len()).is_err());
        assert!(parse(&v, 5, v.len()).is_err());
        assert!(parse(&v, v.len() + 10, v.len() + 20).is_err());
    }

    #[test]
    fn malformed_extra_block_is_not_followed() {
        assert_eq!(find_extra(&[1, 0, 200, 0, 1, 2], 1), None);
        assert_eq!(find_extra(&[2, 0, 1, 0, 9, 1, 0, 0, 0], 1), Some(&[][..]));
    }
}
