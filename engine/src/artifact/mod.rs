//! A zero-copy reader for zip artifacts, hardened for hostile input.
//!
//! The reader works over one `&[u8]` holding the whole archive (a memory map, or a sparse
//! file where only the tail, the central directory and the selected entries were fetched):
//! it locates the end-of-central-directory record, walks the central directory once,
//! selects the entries of the migrations folder without allocating for any other, and
//! reads each selected entry (local header check, inflate, CRC-32).
//!
//! Only central-directory data is used for entries that are not selected, so the same
//! code serves a sparse, partially fetched file.
//!
//! Module layout follows the format's parts: [`eocd`] (end of central directory and its
//! ZIP64 twins), [`central`] (central-directory headers), [`local`] (local headers and
//! data descriptors), [`error`], and `name` (canonical names, other tools' readings);
//! then the reader's steps over them: `walk` (the one pass over the central directory
//! that selects the migrations), `layout` (the selected entries' exact spans: overlaps,
//! gaps, duplicates), `read` (per-entry checks against the central record and the
//! limits, and the read itself) and `inflate` (the deflate stream, to its exact end).
//!
//! # Decisions
//!
//! - **One rule: refuse what another reader could read differently.** An artifact is
//!   only accepted if Python's zipfile, Go's archive/zip, Info-ZIP unzip and libarchive
//!   would all extract the same migrations from it, byte for byte; anything ambiguous is
//!   refused rather than resolved our way, because the pipeline's reviewers, the trigger
//!   and the migrator must all be looking at the same SQL. Concretely: the end record
//!   we use must be the last end-record signature in the file (others take the last:
//!   an archive or a fake record in the comment would win there); a ZIP64 end record
//!   must have no extensible data (Python assumes none and reads the 56 bytes before the
//!   locator); every name that falls under the migrations folder, or that some tool's
//!   reading (NUL cut, `\` as separator, drive letter stripped, `..` resolved or
//!   dropped) puts there, must be canonical: no NUL, backslash, drive letter, leading
//!   `/`, empty, `.` or `..` segment, after the one leading `./` bsdtar writes; a
//!   deflate stream must end exactly at the declared compressed size, and a selected
//!   entry must end exactly where the next entry or the central directory starts
//!   (streaming readers would see whatever sits in between). `engine/tests/differential.rs`
//!   checks the rule against those tools on the shared hostile corpus. Gaps after
//!   entries we do not select are not checked: their local headers are never read.
//! - **End record.** Every signature in the last 22 + 65,535 bytes is a candidate; a
//!   candidate counts only if its comment ends exactly at the end of the file and a
//!   central-directory header sits at the offset it (or its ZIP64 record) names. Two
//!   counting candidates: [`ZipError::Ambiguous`]; a signature after the counting one
//!   (in its comment): [`ZipError::EndRecordInComment`]. The ZIP64 locator is looked for just
//!   before every candidate; when present, the record is read at the offset the locator
//!   names, must end exactly at the locator, and supplies every EOCD field that is a
//!   sentinel; a non-sentinel EOCD field that disagrees with it is refused.
//! - **Layout.** The central directory must end exactly where the end records begin;
//!   shifted offsets (a prepended stub) are refused, never searched for.
//! - **Leading `./`.** One is stripped before matching, so `./migrations/1.sql` is
//!   `migrations/1.sql`; both in one archive are duplicates. [`Entry::path`] keeps the
//!   name as stored. A second `./` is a `.` segment (see the rule above).
//! - **Migrations folder.** `dir` with trailing `/` and leading `./` removed; an empty
//!   `dir` (or `.`) means the archive root, with no repository fallback. The fallback
//!   `<top>/<dir>/` applies only if no entry starts with `<dir>/` and every entry
//!   (directories included, empty names ignored) sits under the same top-level folder.
//! - **Names elsewhere.** Entries that no reading puts in the migrations folder are
//!   never extracted or used, so their names may be anything. Every reading splits a name
//!   into substrings of it, so only a name that may contain the folder's last segment
//!   (a sampled test of byte pairs, Horspool's skip: about three lookups a name) is
//!   tested further: first a word-at-a-time test that passes only canonical names, then
//!   the exact one; only
//!   non-canonical names (which no writer we test produces) pay for trying the readings,
//!   which check both the folder and `<any top>/<dir>/` because the repository fallback
//!   is decided after the walk.
//! - **Symlinks.** Unix mode S_IFLNK for hosts Unix (3) and Darwin (19), or any host when
//!   7-Zip's 0x8000 "Unix mode present" attribute is set; the reparse-point attribute
//!   (0x400) for DOS, NTFS and VFAT hosts.
//! - **Ratio.** Refused when `uncompressed > 1032 * compressed + 1024`: deflate cannot
//!   exceed 1,032:1, and the 1 KiB slack keeps tiny files (2-byte streams) out of trouble
//!   while still bounding what one entry can declare. The other way, a deflated entry
//!   may declare at most [`max_stream`] of its size: more is padding.
//! - **Overlap.** A selected entry's span is exact: local header, data, data descriptor.
//!   Other entries' spans come from the central record only: `30 + name length +
//!   compressed size` from the local-header offset. The extra-field length is left out
//!   because central and local extra fields legitimately differ (Info-ZIP's timestamps,
//!   ZIP64, alignment padding), and counting a longer central one would refuse valid
//!   archives. Every entry must end before the central directory. When the central
//!   directory is in offset order (as every writer leaves it), the walk keeps, per
//!   candidate only, the furthest end of the entries before it and the start of the one
//!   after it: with starts in order, those are the only spans that can reach a selected
//!   entry. Otherwise a second walk collects every span and searches them.
//! - **Data descriptors.** With or without signature, 4- or 8-byte sizes; the first
//!   layout matching the central CRC and sizes wins, and one must match. For the check
//!   that nothing follows a selected entry, a matching layout that ends exactly at the
//!   next entry also counts (an 8-byte descriptor of an empty file reads as 4-byte).
//! - **Inflate.** Into a buffer of the declared size plus 320 bytes (room for the
//!   decoder's fast path on small files); any output beyond the declared size, a stream
//!   ending short of it, or input left after the stream's end is refused. One inflater
//!   per thread is reused.
//! - **Memory budget.** [`Limits`] bounds each selected file (4 MiB) and their sum
//!   (12 MiB), on the declared sizes, before anything is inflated; inflating never
//!   writes past a declared size. The total is sized for the worst input, not the
//!   reader: parsing holds up to ~3.3 bytes of statement records per byte of one-line
//!   statements, so 12 MiB keeps `verify` near 55 MB at worst.
//! - **Names** of selected entries must be UTF-8, and a non-ASCII one needs flag bit 11
//!   (Info-ZIP's `zip` leaves it clear; Python then decodes CP437). An Info-ZIP Unicode
//!   Path extra field (0x7075, which unzip and libarchive use instead of the name) that
//!   differs from the name is refused when either name reaches the folder; its CRC is
//!   not trusted to decide whether tools use it.
//! - **Duplicates** are found by sorting the selected names once, after the walk; no set
//!   of all names is built.
//! - **Memory.** The walk allocates candidate lists capped at `max_files` and nothing per
//!   other entry; the second walk for a directory out of offset order allocates one
//!   16-byte span per entry (at most the central-directory size / 46).
//! - **Order.** [`Archive::select`] returns entries in central-directory order.

pub mod central;
mod elsewhere;
pub mod eocd;
pub mod error;
mod inflate;
mod layout;
pub mod local;
mod name;
mod read;
mod walk;

use central::Record;
pub use elsewhere::SqlFolders;
pub use error::ZipError;
pub use read::max_stream;
use std::borrow::Cow;
use walk::Candidate;

/// Limits on what the reader accepts from an archive.
///
/// The defaults keep a process that reads and parses every selected file at once (as
/// `verify` and the trigger do) under 64 MiB of memory on any input: sizes are checked
/// against the declared values before anything is inflated, and inflating never writes
/// past them. The total is what bounds memory: parsing adds about 3.3 bytes of
/// statement records per input byte when every line is a statement (measured: 4 files
/// of 8 MiB of `SELECT 1;` lines peak at 142 MB in `verify`).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest uncompressed size of one selected file (default 4 MiB).
    pub max_file_size: u64,
    /// Largest sum of the uncompressed sizes of all selected files (default 12 MiB).
    pub max_total_size: u64,
    /// Most files selected from the migrations folder (default 100,000).
    pub max_files: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_size: 4 * 1024 * 1024,
            max_total_size: 12 * 1024 * 1024,
            max_files: 100_000,
        }
    }
}

/// A validated archive: its end-of-central-directory data has been located and checked.
#[derive(Debug, Clone)]
pub struct Archive<'a> {
    data: &'a [u8],
    directory: eocd::Directory,
}

/// One selected entry, described by its central-directory record. Borrowed from the map.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// Full path inside the archive, e.g. `migrations/1_init.sql`.
    pub path: &'a str,
    /// File name within the migrations folder, e.g. `1_init.sql`: the migration id.
    pub name: &'a str,
    /// The parsed central-directory record.
    pub record: central::Record<'a>,
}

/// One selected file, read and checked.
#[derive(Debug, Clone)]
pub struct ZipFile<'a> {
    /// Full path inside the archive.
    pub path: &'a str,
    /// File name within the migrations folder: the migration id.
    pub name: &'a str,
    /// The contents: borrowed from the map for stored entries, owned when inflated.
    pub data: Cow<'a, [u8]>,
}
impl<'a> Archive<'a> {
    /// Locates and validates the end-of-central-directory data of `data`.
    pub fn new(data: &'a [u8]) -> Result<Archive<'a>, ZipError> {
        let directory = eocd::locate(data)?;
        Ok(Archive { data, directory })
    }

    /// Where the central directory is, as the end records give it.
    pub fn directory(&self) -> &eocd::Directory {
        &self.directory
    }

    /// Walks the central directory once and returns the `.sql` files directly inside the
    /// migrations folder `dir` (see the module docs for the repository-archive fallback).
    pub fn select(&self, dir: &str, limits: &Limits) -> Result<Vec<Entry<'a>>, ZipError> {
        let (chosen, in_order) = self.walk(dir, limits)?;
        self.finish(chosen, in_order, limits)
    }

    /// The central records [`Archive::select`] would choose, from the central directory
    /// alone: no local header is read and nothing past the walk is checked. For a
    /// partially fetched file, to learn which entries' bytes to fetch before `select`.
    pub fn candidates(&self, dir: &str, limits: &Limits) -> Result<Vec<Record<'a>>, ZipError> {
        let (chosen, _) = self.walk(dir, limits)?;
        chosen.iter().map(|c| self.record(c)).collect()
    }

    /// A candidate's central record (the walk has parsed it once already).
    fn record(&self, c: &Candidate) -> Result<Record<'a>, ZipError> {
        Ok(central::parse(self.data, c.header, self.bounds()?.1)?.0)
    }

    /// Where the central directory starts and ends, as offsets into the data.
    fn bounds(&self) -> Result<(usize, usize), ZipError> {
        // Validated by `eocd::locate`: the directory lies inside `data`.
        let at = |x: u64| usize::try_from(x).map_err(|_| ZipError::NoEndRecord);
        Ok((at(self.directory.offset)?, at(self.directory.end)?))
    }
}

/// Convenience: [`Archive::new`], [`Archive::select`], then [`Archive::read`] on each entry.
pub fn read_migrations<'a>(
    data: &'a [u8],
    dir: &str,
    limits: &Limits,
) -> Result<Vec<ZipFile<'a>>, ZipError> {
    let archive = Archive::new(data)?;
    let entries = archive.select(dir, limits)?;
    entries.iter().map(|e| archive.read(e, limits)).collect()
}

/// Little-endian u16 at `at`, if in bounds.
pub(crate) fn le16(d: &[u8], at: usize) -> Option<u16> {
    d.get(at..)?.first_chunk().map(|b| u16::from_le_bytes(*b))
}

/// Little-endian u32 at `at`, if in bounds.
pub(crate) fn le32(d: &[u8], at: usize) -> Option<u32> {
    d.get(at..)?.first_chunk().map(|b| u32::from_le_bytes(*b))
}

/// Little-endian u64 at `at`, if in bounds.
pub(crate) fn le64(d: &[u8], at: usize) -> Option<u64> {
    d.get(at..)?.first_chunk().map(|b| u64::from_le_bytes(*b))
}

/// Whether the 4-byte signature `sig` sits at `at`.
pub(crate) fn sig_at(d: &[u8], at: usize, sig: u32) -> bool {
    le32(d, at) == Some(sig)
}
#[cfg(test)]
mod tests;
