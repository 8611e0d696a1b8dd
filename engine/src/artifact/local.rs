//! Local file headers and data descriptors.

use super::central::{Record, zip64_extra};
use super::error::lossy;
use super::{ZipError, le32, le64, sig_at};

/// Signature of a local file header.
pub const LOCAL_SIG: u32 = 0x0403_4b50;
/// Fixed size of a local file header.
pub const LOCAL_LEN: usize = 30;
/// Optional signature of a data descriptor.
pub const DESCRIPTOR_SIG: u32 = 0x0807_4b50;

/// A local file header, borrowed from the archive.
#[derive(Debug, Clone, Copy)]
pub struct LocalHeader<'a> {
    /// Raw name bytes.
    pub name: &'a [u8],
    /// Raw extra-field bytes.
    pub extra: &'a [u8],
    /// General-purpose flags.
    pub flags: u16,
    /// Compression method.
    pub method: u16,
    /// CRC-32 (zero or meaningless when a data descriptor follows).
    pub crc32: u32,
    /// Compressed size, from the ZIP64 extra field when the 32-bit field is the sentinel.
    pub compressed_size: u64,
    /// Uncompressed size, likewise.
    pub uncompressed_size: u64,
    /// Whether a ZIP64 extra field gave the sizes (so a data descriptor has 8-byte sizes).
    pub zip64: bool,
    /// Offset of the entry's data, just after the header.
    pub data_start: u64,
}

/// Parses the local header that `rec` points at. Fails if it is missing or runs past
/// `limit` (the start of the central directory).
pub fn parse<'a>(
    data: &'a [u8],
    rec: &Record<'_>,
    limit: u64,
) -> Result<LocalHeader<'a>, ZipError> {
    let offset = rec.local_offset;
    let out = || ZipError::OutOfBounds {
        name: lossy(rec.name),
    };
    let pos = usize::try_from(offset).map_err(|_| out())?;
    let fixed_end = pos.checked_add(LOCAL_LEN).ok_or_else(out)?;
    if fixed_end as u64 > limit {
        return Err(if fixed_end > data.len() {
            out()
        } else {
            ZipError::OverlapsCentralDirectory {
                name: lossy(rec.name),
            }
        });
    }
    let Some(h) = data.get(pos..).and_then(|d| d.first_chunk::<LOCAL_LEN>()) else {
        return Err(out());
    };
    if !sig_at(h, 0, LOCAL_SIG) {
        return Err(ZipError::LocalHeaderMissing {
            name: lossy(rec.name),
            offset,
        });
    }
    let f16 = |o: usize| u16::from_le_bytes([h[o], h[o + 1]]);
    let f32_ = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
    let name_end = fixed_end + usize::from(f16(26));
    let extra_end = name_end + usize::from(f16(28));
    if extra_end as u64 > limit {
        return Err(ZipError::OverlapsCentralDirectory {
            name: lossy(rec.name),
        });
    }
    let (Some(name), Some(extra)) = (data.get(fixed_end..name_end), data.get(name_end..extra_end))
    else {
        return Err(out());
    };
    let mut lh = LocalHeader {
        name,
        extra,
        flags: f16(6),
        method: f16(8),
        crc32: f32_(14),
        compressed_size: u64::from(f32_(18)),
        uncompressed_size: u64::from(f32_(22)),
        zip64: false,
        data_start: extra_end as u64,
    };
    let need_u = lh.uncompressed_size == 0xFFFF_FFFF;
    let need_c = lh.compressed_size == 0xFFFF_FFFF;
    if need_u || need_c {
        // Without the field the sizes stay sentinels; the caller's comparison with the
        // central record then refuses them unless a data descriptor carries the sizes.
        if let Some(v) = zip64_extra(extra, [need_u, need_c, false, false]) {
            lh.uncompressed_size = v[0].unwrap_or(lh.uncompressed_size);
            lh.compressed_size = v[1].unwrap_or(lh.compressed_size);
            lh.zip64 = true;
        }
    }
    Ok(lh)
}

/// Finds the data descriptor at `at` (just after the data) and checks it against the
/// central record. It may start with the optional signature and carries 4- or 8-byte
/// sizes; the layouts are tried in the likely order (`wide` first when the local header
/// used ZIP64) and the first one that matches the central record and ends at or before
/// `limit` (and, when `end` is given, ends exactly there) wins. Returns its length.
pub fn descriptor(
    data: &[u8],
    at: u64,
    limit: u64,
    rec: &Record<'_>,
    wide: bool,
    end: Option<u64>,
) -> Option<u64> {
    let at = usize::try_from(at).ok()?;
    let signed = sig_at(data, at, DESCRIPTOR_SIG);
    let layouts = [
        (signed, wide),
        (signed, !wide),
        (false, wide),
        (false, !wide),
    ];
    layouts.iter().find_map(|&(sig, wide)| {
        let body = at + if sig { 4 } else { 0 };
        let len = body - at + if wide { 20 } else { 12 };
        if (at + len) as u64 > limit || end.is_some_and(|e| e != (at + len) as u64) {
            return None;
        }
        let (csize, usize_) = if wide {
            (le64(data, body + 4)?, le64(data, body + 12)?)
        } else {
            (
                u64::from(le32(data, body + 4)?),
                u64::from(le32(data, body + 8)?),
            )
        };
        let ok = le32(data, body)? == rec.crc32
            && csize == rec.compressed_size
            && usize_ == rec.uncompressed_size;
        ok.then_some(len as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &[u8]) -> Record<'_> {
        Record {
            name,
            extra: &[],
            version_made_by: 0,
            flags: 8,
            method: 0,
            crc32: 0x1234_5678,
            compressed_size: 5,
            uncompressed_size: 5,
            local_offset: 0,
            disk_start: 0,
            external_attributes: 0,
        }
    }

    fn local(name: &[u8], extra: &[u8], csize: u32, usize_: u32) -> Vec<u8> {
        let mut v = LOCAL_SIG.to_le_bytes().to_vec();
        v.extend_from_slice(&[20, 0, 8, 0, 0, 0, 0, 0, 0, 0]); // version, flags, method, time, date
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&csize.to_le_bytes());
        v.extend_from_slice(&usize_.to_le_bytes());
        v.extend_from_slice(&(name.len() as u16).to_le_bytes());
        v.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        v.extend_from_slice(name);
        v.extend_from_slice(extra);
        v
    }

    #[test]
    fn parses_header_and_zip64_sizes() {
        let mut extra = vec![1, 0, 16, 0];
        extra.extend_from_slice(&5u64.to_le_bytes());
        extra.extend_from_slice(&6u64.to_le_bytes());
        let v = local(b"x.sql", &extra, 0xFFFF_FFFF, 0xFFFF_FFFF);
        let lh = parse(&v, &rec(b"x.sql"), v.len() as u64).unwrap();
        assert_eq!(lh.name, b"x.sql");
        assert_eq!((lh.uncompressed_size, lh.compressed_size), (5, 6));
        assert!(lh.zip64);
        assert_eq!(lh.data_start, v.len() as u64);
        assert_eq!(lh.flags, 8);
    }

    #[test]
    fn header_running_into_limit_is_refused() {
        let v = local(b"x.sql", &[], 1, 1);
        assert!(matches!(
            parse(&v, &rec(b"x.sql"), v.len() as u64 - 1),
            Err(ZipError::OverlapsCentralDirectory { .. })
        ));
        let mut w = v.clone();
        w[0] = 0;
        assert!(matches!(
            parse(&w, &rec(b"x.sql"), w.len() as u64),
            Err(ZipError::LocalHeaderMissing { .. })
        ));
        assert!(parse(&v[..20], &rec(b"x.sql"), 100).is_err());
    }

    #[test]
    fn descriptor_layouts() {
        let r = rec(b"a");
        let mut signed32 = DESCRIPTOR_SIG.to_le_bytes().to_vec();
        signed32.extend_from_slice(&0x1234_5678u32.to_le_bytes());
        signed32.extend_from_slice(&5u32.to_le_bytes());
        signed32.extend_from_slice(&5u32.to_le_bytes());
        assert_eq!(descriptor(&signed32, 0, 16, &r, false, None), Some(16));
        assert_eq!(descriptor(&signed32, 0, 15, &r, false, None), None);
        let bare32 = &signed32[4..];
        assert_eq!(descriptor(bare32, 0, 12, &r, false, None), Some(12));
        let mut signed64 = DESCRIPTOR_SIG.to_le_bytes().to_vec();
        signed64.extend_from_slice(&0x1234_5678u32.to_le_bytes());
        signed64.extend_from_slice(&5u64.to_le_bytes());
        signed64.extend_from_slice(&5u64.to_le_bytes());
        assert_eq!(descriptor(&signed64, 0, 24, &r, true, None), Some(24));
        assert_eq!(descriptor(&signed64, 0, 24, &r, false, None), Some(24));
        assert_eq!(descriptor(&signed64, 0, 24, &r, false, Some(24)), Some(24));
        assert_eq!(descriptor(&signed64, 0, 24, &r, false, Some(20)), None);
        let mut wrong = signed32.clone();
        wrong[4] ^= 1;
        assert_eq!(descriptor(&wrong, 0, 16, &r, false, None), None);
    }
}
