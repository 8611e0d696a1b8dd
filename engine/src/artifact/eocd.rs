//! End of central directory record, ZIP64 locator and ZIP64 record.

use super::central::{CENTRAL_LEN, CENTRAL_SIG};
use super::{ZipError, le16, le32, le64, sig_at};

/// Signature of the end-of-central-directory record.
pub const EOCD_SIG: u32 = 0x0605_4b50;
/// Signature of the ZIP64 end-of-central-directory locator.
pub const LOCATOR_SIG: u32 = 0x0706_4b50;
/// Signature of the ZIP64 end-of-central-directory record.
pub const ZIP64_SIG: u32 = 0x0606_4b50;
/// Fixed size of the end-of-central-directory record.
pub const EOCD_LEN: usize = 22;
/// Size of the ZIP64 locator.
pub const LOCATOR_LEN: usize = 20;
/// Fixed part of the ZIP64 record (signature to central-directory offset).
pub const ZIP64_LEN: usize = 56;
/// Longest comment the 16-bit length field allows.
const MAX_COMMENT: usize = 0xFFFF;

/// Where the central directory is, as the end records give it.
#[derive(Debug, Clone)]
pub struct Directory {
    /// Offset of the first central-directory header.
    pub offset: u64,
    /// Size of the central directory in bytes.
    pub size: u64,
    /// Number of entries.
    pub entries: u64,
    /// Offset where the end records begin (the ZIP64 record if present, else the EOCD):
    /// the central directory must end exactly here.
    pub end: u64,
    /// Offset of the end-of-central-directory record.
    pub eocd: u64,
    /// Number of this disk.
    pub disk: u32,
    /// Disk where the central directory starts.
    pub cd_disk: u32,
    /// Entries on this disk.
    pub entries_on_disk: u64,
    /// The ZIP64 locator and record, when present.
    pub zip64: Option<Zip64>,
}

/// What the ZIP64 locator and record say beyond the merged [`Directory`] values.
#[derive(Debug, Clone)]
pub struct Zip64 {
    /// Offset of the ZIP64 locator.
    pub locator: u64,
    /// Disk holding the ZIP64 record, from the locator.
    pub record_disk: u32,
    /// Total number of disks, from the locator.
    pub total_disks: u32,
    /// Where the ZIP64 record ends, from its own size field (`None` on overflow).
    pub record_end: Option<u64>,
}

/// Finds the one valid end-of-central-directory record of `data` and checks the layout.
///
/// Every position in the last 22 + 65,535 bytes holding the signature is a candidate;
/// a candidate is valid when its comment ends exactly at the end of the file and a
/// central-directory header (or, for an empty archive, nothing) sits where it says.
/// Two valid candidates means an archive hidden in a comment: refused as ambiguous.
pub fn locate(data: &[u8]) -> Result<Directory, ZipError> {
    let len = data.len();
    if len < EOCD_LEN {
        return Err(ZipError::Truncated(
            "shorter than an end-of-central-directory record",
        ));
    }
    let lowest = len.saturating_sub(EOCD_LEN + MAX_COMMENT);
    let mut accepted: Option<Directory> = None;
    let mut first_err: Option<ZipError> = None;
    let mut comment_mismatch: Option<u64> = None;
    // The last signature in the file, even one too close to the end to be a record:
    // other readers take the last one, so it must be the record we use.
    let mut last = (len - EOCD_LEN + 1..=len - 4)
        .rev()
        .find(|&p| sig_at(data, p, EOCD_SIG));
    // Positions `lowest..=len - 22`, from the end, found by the signature's last byte
    // (memchr's vector search): its last byte (0x06) rather than its first ('P'), which
    // every central header in the tail of a large directory starts with.
    let tail = data
        .get(lowest + SIG_LAST_AT..len - EOCD_LEN + 1 + SIG_LAST_AT)
        .unwrap_or(&[]);
    for q in memchr::memrchr_iter(SIG_LAST, tail) {
        let p = lowest + q;
        if !sig_at(data, p, EOCD_SIG) {
            continue;
        }
        last.get_or_insert(p);
        let comment = le16(data, p + 20).map_or(usize::MAX, usize::from);
        if p + EOCD_LEN + comment != len {
            comment_mismatch.get_or_insert(p as u64);
            continue;
        }
        match candidate(data, p) {
            Ok(dir) => {
                if let Some(prev) = &accepted {
                    return Err(ZipError::Ambiguous {
                        first: prev.eocd,
                        second: dir.eocd,
                    });
                }
                accepted = Some(dir);
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    let dir = match (accepted, first_err, comment_mismatch) {
        (Some(dir), _, _) => dir,
        (None, Some(e), _) => return Err(e),
        (None, None, Some(offset)) => return Err(ZipError::CommentMismatch { offset }),
        (None, None, None) => return Err(ZipError::NoEndRecord),
    };
    if let Some(signature) = last
        && signature as u64 != dir.eocd
    {
        return Err(ZipError::EndRecordInComment {
            record: dir.eocd,
            signature: signature as u64,
        });
    }
    validate(&dir)?;
    Ok(dir)
}

/// Last byte of the end-of-central-directory signature, and where it sits in it.
const SIG_LAST: u8 = 0x06;
const SIG_LAST_AT: usize = 3;

/// Reads the record at `p` (whose comment ends at EOF), follows the ZIP64 locator, and
/// checks that a central-directory header sits where the records say.
fn candidate(data: &[u8], p: usize) -> Result<Directory, ZipError> {
    const CUT: ZipError = ZipError::Truncated("end-of-central-directory record");
    let f16 = |o: usize| le16(data, p + o).ok_or(CUT);
    let f32_ = |o: usize| le32(data, p + o).ok_or(CUT);
    let mut dir = Directory {
        disk: u32::from(f16(4)?),
        cd_disk: u32::from(f16(6)?),
        entries_on_disk: u64::from(f16(8)?),
        entries: u64::from(f16(10)?),
        size: u64::from(f32_(12)?),
        offset: u64::from(f32_(16)?),
        end: p as u64,
        eocd: p as u64,
        zip64: None,
    };
    if p >= LOCATOR_LEN && sig_at(data, p - LOCATOR_LEN, LOCATOR_SIG) {
        apply_zip64(data, p - LOCATOR_LEN, &mut dir)?;
    }
    let empty = dir.entries == 0 && dir.size == 0;
    if !empty && !offset_fits(data, dir.offset) {
        return Err(ZipError::NoCentralDirectory { offset: dir.offset });
    }
    if !empty && !sig_at(data, dir.offset as usize, CENTRAL_SIG) {
        return Err(ZipError::NoCentralDirectory { offset: dir.offset });
    }
    Ok(dir)
}

fn offset_fits(data: &[u8], offset: u64) -> bool {
    usize::try_from(offset).is_ok_and(|o| o < data.len())
}

/// Follows the locator at `l` to the ZIP64 record at the offset it names (never "just
/// before the locator") and merges its values into `dir` where the EOCD has sentinels.
fn apply_zip64(data: &[u8], l: usize, dir: &mut Directory) -> Result<(), ZipError> {
    const CUT: ZipError = ZipError::Truncated("ZIP64 end-of-central-directory locator");
    let record_disk = le32(data, l + 4).ok_or(CUT)?;
    let offset = le64(data, l + 8).ok_or(CUT)?;
    let total_disks = le32(data, l + 16).ok_or(CUT)?;
    let missing = ZipError::Zip64RecordMissing { offset };
    // The record must lie wholly before its locator.
    let r = match usize::try_from(offset) {
        Ok(r) if r.checked_add(ZIP64_LEN).is_some_and(|e| e <= l) => r,
        _ => return Err(missing),
    };
    if !sig_at(data, r, ZIP64_SIG) {
        return Err(missing);
    }
    let g32 = |o: usize| le32(data, r + o).ok_or(ZipError::Zip64RecordMissing { offset });
    let g64 = |o: usize| le64(data, r + o).ok_or(ZipError::Zip64RecordMissing { offset });
    let record_size = g64(4)?;
    // The fixed part after the signature and size field is 44 bytes; anything more is
    // extensible data, which readers that assume none (Python) read differently.
    if record_size != (ZIP64_LEN - 12) as u64 {
        return Err(ZipError::Zip64ExtensibleData { size: record_size });
    }
    let record_end = record_size.checked_add(offset + 12);
    dir.disk = merge(dir.disk.into(), 0xFFFF, g32(16)?.into(), "disk number")? as u32;
    dir.cd_disk = merge(
        dir.cd_disk.into(),
        0xFFFF,
        g32(20)?.into(),
        "central directory disk",
    )? as u32;
    dir.entries_on_disk = merge(dir.entries_on_disk, 0xFFFF, g64(24)?, "entries on disk")?;
    dir.entries = merge(dir.entries, 0xFFFF, g64(32)?, "entries")?;
    dir.size = merge(dir.size, 0xFFFF_FFFF, g64(40)?, "central directory size")?;
    dir.offset = merge(
        dir.offset,
        0xFFFF_FFFF,
        g64(48)?,
        "central directory offset",
    )?;
    dir.end = offset;
    dir.zip64 = Some(Zip64 {
        locator: l as u64,
        record_disk,
        total_disks,
        record_end,
    });
    Ok(())
}

/// The ZIP64 value where the EOCD field is the sentinel; otherwise both must agree.
fn merge(eocd: u64, sentinel: u64, zip64: u64, field: &'static str) -> Result<u64, ZipError> {
    if eocd == sentinel || eocd == zip64 {
        Ok(zip64)
    } else {
        Err(ZipError::Zip64Mismatch { field })
    }
}

/// The byte ranges [`locate`] judges beyond the end of the file, for a reader working on
/// a partially fetched copy (zeros where nothing was fetched): for every candidate end
/// record (comment ending at the end of the file), the ZIP64 record its locator names and
/// the central directory it names, from its offset up to the candidate's end records.
/// Ranges are clipped to the file. Ask again after fetching them: a ZIP64 record, once
/// present, may name a directory elsewhere. When every range asked for is present,
/// `locate` decides as it would on the whole file. The last `22 + 65,535 + 20` bytes (the
/// records and their locators) must be present first.
pub fn wanted(data: &[u8]) -> Vec<std::ops::Range<u64>> {
    let len = data.len();
    let mut out = Vec::new();
    if len < EOCD_LEN {
        return out;
    }
    let clip = |start: u64, end: u64| start.min(len as u64)..end.min(len as u64);
    for p in len.saturating_sub(EOCD_LEN + MAX_COMMENT)..=len - EOCD_LEN {
        let comment = le16(data, p + 20).map_or(usize::MAX, usize::from);
        if !sig_at(data, p, EOCD_SIG) || p + EOCD_LEN + comment != len {
            continue;
        }
        let range = match candidate(data, p) {
            Ok(dir) if dir.entries == 0 && dir.size == 0 => continue,
            Ok(dir) => clip(dir.offset, dir.end.max(dir.offset.saturating_add(4))),
            Err(ZipError::Zip64RecordMissing { offset }) => {
                clip(offset, offset.saturating_add(ZIP64_LEN as u64))
            }
            // The directory ends at the end records: the ZIP64 record when there is one
            // (then `p` over-asks by the record and locator, a few dozen bytes).
            Err(ZipError::NoCentralDirectory { offset }) => {
                clip(offset, (p as u64).max(offset.saturating_add(4)))
            }
            Err(_) => continue,
        };
        if !range.is_empty() {
            out.push(range);
        }
    }
    out
}

/// Checks the accepted records: one disk, parts back to back, a count the size can hold.
fn validate(dir: &Directory) -> Result<(), ZipError> {
    let split_zip64 = dir
        .zip64
        .as_ref()
        .is_some_and(|z| z.record_disk != 0 || z.total_disks > 1);
    if dir.disk != 0 || dir.cd_disk != 0 || dir.entries_on_disk != dir.entries || split_zip64 {
        return Err(ZipError::MultiDisk);
    }
    if let Some(z) = &dir.zip64
        && z.record_end != Some(z.locator)
    {
        return Err(ZipError::BadLayout {
            what: "the ZIP64 record does not end at its locator",
            expected: z.locator,
            found: z.record_end.unwrap_or(u64::MAX),
        });
    }
    let cd_end = dir.offset.checked_add(dir.size);
    if cd_end != Some(dir.end) {
        return Err(ZipError::BadLayout {
            what: "the central directory does not end where the end records begin",
            expected: dir.end,
            found: cd_end.unwrap_or(u64::MAX),
        });
    }
    if dir.entries > dir.size / CENTRAL_LEN as u64 {
        return Err(ZipError::TooManyEntries {
            declared: dir.entries,
            cd_size: dir.size,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eocd(entries: u16, size: u32, offset: u32, comment: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&EOCD_SIG.to_le_bytes());
        v.extend_from_slice(&[0, 0, 0, 0]);
        v.extend_from_slice(&entries.to_le_bytes());
        v.extend_from_slice(&entries.to_le_bytes());
        v.extend_from_slice(&size.to_le_bytes());
        v.extend_from_slice(&offset.to_le_bytes());
        v.extend_from_slice(&(comment.len() as u16).to_le_bytes());
        v.extend_from_slice(comment);
        v
    }

    #[test]
    fn empty_archive_parses() {
        let d = locate(&eocd(0, 0, 0, b"")).unwrap();
        assert_eq!((d.entries, d.size, d.offset, d.end), (0, 0, 0, 0));
        assert!(d.zip64.is_none());
    }

    #[test]
    fn comment_is_skipped() {
        let d = locate(&eocd(0, 0, 0, b"hello")).unwrap();
        assert_eq!(d.eocd, 0);
    }

    #[test]
    fn trailing_byte_is_comment_mismatch() {
        let mut v = eocd(0, 0, 0, b"");
        v.push(0);
        assert!(matches!(
            locate(&v),
            Err(ZipError::CommentMismatch { offset: 0 })
        ));
    }

    #[test]
    fn short_inputs_are_truncated_or_not_zip() {
        assert!(matches!(locate(&[]), Err(ZipError::Truncated(_))));
        assert!(matches!(locate(&[0x50]), Err(ZipError::Truncated(_))));
        assert!(matches!(locate(&[0; 100]), Err(ZipError::NoEndRecord)));
    }

    #[test]
    fn record_found_in_every_alignment() {
        for pad in 0..20 {
            let v = eocd(0, 0, 0, &vec![b'x'; pad]);
            assert_eq!(locate(&v).unwrap().eocd, 0, "{pad}");
            let mut w = vec![0u8; pad];
            w.extend(eocd(0, 0, pad as u32, b""));
            assert_eq!(locate(&w).unwrap().eocd, pad as u64, "{pad}");
        }
    }

    #[test]
    fn merge_prefers_zip64_only_for_sentinels() {
        assert_eq!(merge(0xFFFF, 0xFFFF, 7, "x").unwrap(), 7);
        assert_eq!(merge(7, 0xFFFF, 7, "x").unwrap(), 7);
        assert!(matches!(
            merge(6, 0xFFFF, 7, "x"),
            Err(ZipError::Zip64Mismatch { field: "x" })
        ));
    }

    #[test]
    fn count_beyond_size_is_refused_before_walking() {
        // Prepend a fake central header so the signature check passes.
        let mut v = CENTRAL_SIG.to_le_bytes().to_vec();
        v.resize(46, 0);
        v.extend(eocd(2, 46, 0, b""));
        assert!(matches!(
            locate(&v),
            Err(ZipError::TooManyEntries { declared: 2, .. })
        ));
    }
}
