//! Reading one selected entry, and the refusals that depend only on its central record
//! and the limits (method, size, ratio, symlink, encryption).

use std::borrow::Cow;

use super::central::Record;
use super::error::lossy;
use super::inflate::inflate;
use super::{Archive, Entry, Limits, ZipError, ZipFile, local};

/// Deflate's maximum expansion.
const MAX_RATIO: u64 = 1032;

/// The most compressed bytes a deflate stream of `uncompressed` bytes needs: fixed-Huffman
/// literals take at most 9 bits per byte (1/8 more) and stored blocks 5 bytes per 64 KiB;
/// a quarter plus 4 KiB covers both with room to spare. A larger declared size is padding
/// (e.g. empty blocks) that readers may treat differently, and it would make a selective
/// fetch pull bytes the entry does not need, so it is refused.
pub fn max_stream(uncompressed: u64) -> u64 {
    uncompressed
        .saturating_add(uncompressed / 4)
        .saturating_add(4096)
}
/// Slack on the ratio check for tiny entries.
const RATIO_SLACK: u64 = 1024;

impl<'a> Archive<'a> {
    /// Reads one selected entry: checks its local header against the central record,
    /// inflates it if needed and checks its size and CRC-32.
    pub fn read(&self, entry: &Entry<'a>, limits: &Limits) -> Result<ZipFile<'a>, ZipError> {
        let rec = &entry.record;
        check_record(rec, limits)?;
        let limit = self.directory.offset;
        let lh = local::parse(self.data, rec, limit)?;
        let mismatch = |field| ZipError::LocalMismatch {
            name: lossy(rec.name),
            field,
        };
        if lh.name != rec.name {
            return Err(mismatch("name"));
        }
        if lh.method != rec.method {
            return Err(mismatch("method"));
        }
        // Encryption (bits 0, 6) and data descriptor (bit 3) must agree.
        if (lh.flags ^ rec.flags) & 0x49 != 0 {
            return Err(mismatch("flags"));
        }
        if !rec.has_descriptor() {
            if lh.crc32 != rec.crc32 {
                return Err(mismatch("CRC-32"));
            }
            if lh.compressed_size != rec.compressed_size
                || lh.uncompressed_size != rec.uncompressed_size
            {
                return Err(mismatch("sizes"));
            }
        }
        let end = data_end(&lh, rec, limit)?;
        if rec.has_descriptor()
            && local::descriptor(self.data, end, limit, rec, lh.zip64, None).is_none()
        {
            return Err(ZipError::DataDescriptorMismatch {
                name: lossy(rec.name),
            });
        }
        let raw = self
            .data
            .get(lh.data_start as usize..end as usize)
            .ok_or_else(|| ZipError::OutOfBounds {
                name: lossy(rec.name),
            })?;
        let data = match rec.method {
            0 => Cow::Borrowed(raw),
            // `check_record` bounded the size by the limit, so it fits in memory.
            _ => Cow::Owned(inflate(raw, rec.uncompressed_size as usize, rec.name)?),
        };
        let actual = crc32fast::hash(&data);
        if actual != rec.crc32 {
            return Err(ZipError::CrcMismatch {
                name: lossy(rec.name),
                expected: rec.crc32,
                actual,
            });
        }
        Ok(ZipFile {
            path: entry.path,
            name: entry.name,
            data,
        })
    }
}

/// Where an entry's data ends (the central compressed size from the data start), which
/// must be at or before `limit`, the start of the central directory.
pub(super) fn data_end(
    lh: &local::LocalHeader<'_>,
    rec: &Record<'_>,
    limit: u64,
) -> Result<u64, ZipError> {
    match lh.data_start.checked_add(rec.compressed_size) {
        Some(end) if end <= limit => Ok(end),
        _ => Err(ZipError::OverlapsCentralDirectory {
            name: lossy(rec.name),
        }),
    }
}

/// Refusals that depend only on the central record and the limits.
pub(super) fn check_record(rec: &Record<'_>, limits: &Limits) -> Result<(), ZipError> {
    let name = || lossy(rec.name);
    if rec.is_symlink() {
        return Err(ZipError::Symlink { name: name() });
    }
    if rec.is_encrypted() {
        return Err(ZipError::Encrypted { name: name() });
    }
    if rec.method != 0 && rec.method != 8 {
        return Err(ZipError::UnsupportedMethod {
            name: name(),
            method: rec.method,
        });
    }
    let (c, u) = (rec.compressed_size, rec.uncompressed_size);
    if u > limits.max_file_size || usize::try_from(u).is_err() {
        return Err(ZipError::TooLarge {
            name: name(),
            size: u,
            limit: limits.max_file_size,
        });
    }
    if rec.method == 0 && c != u {
        return Err(ZipError::StoredSizeMismatch {
            name: name(),
            compressed: c,
            uncompressed: u,
        });
    }
    if rec.method == 8 && c > max_stream(u) {
        return Err(ZipError::PaddedStream {
            name: name(),
            compressed: c,
            uncompressed: u,
        });
    }
    if u > c.saturating_mul(MAX_RATIO).saturating_add(RATIO_SLACK) {
        return Err(ZipError::RatioTooHigh {
            name: name(),
            compressed: c,
            uncompressed: u,
        });
    }
    Ok(())
}
