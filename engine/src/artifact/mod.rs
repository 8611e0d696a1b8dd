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
//! data descriptors), [`error`], and `name` (canonical names, other tools' readings).
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
pub mod eocd;
pub mod error;
pub mod local;
mod name;

use std::borrow::Cow;

use flate2::{Decompress, FlushDecompress, Status};

use central::Record;
pub use error::ZipError;
use error::lossy;

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

/// A selection candidate found during the walk.
#[derive(Clone, Copy)]
struct Candidate {
    /// Offset of its central header: the record is parsed again when needed, which
    /// keeps a list of 10,000 candidates at a third of the memory.
    header: usize,
    /// Index of the migration file name within the record's name.
    name_start: usize,
    /// Index of this entry in the central directory.
    index: usize,
    /// The furthest estimated end of the entries before this one in the central
    /// directory, and that entry's start (`(0, 0)` for the first entry).
    before: (u64, u64),
    /// Start of the next entry in the central directory (the directory's offset after
    /// the last one).
    next_start: u64,
}

/// What the central-directory walk yields: the chosen candidates, and whether every
/// entry starts at or after the one before it in the central directory.
type Walk = (Vec<Candidate>, bool);

/// Candidates for one way of locating the migrations folder, bounded by `max_files`.
#[derive(Default)]
struct Candidates {
    list: Vec<Candidate>,
    overflow: bool,
}

impl Candidates {
    /// Adds `c` and returns its place, or notes the overflow.
    fn push(&mut self, c: Candidate, max: usize) -> Option<usize> {
        if self.list.len() < max {
            self.list.push(c);
            Some(self.list.len() - 1)
        } else {
            self.overflow = true;
            None
        }
    }
}

/// Where an entry sits, for [`Selection::visit`].
struct Visit {
    /// Offset of its central header.
    header: usize,
    /// Its index in the central directory.
    index: usize,
    /// The furthest estimated end before it, with that entry's start.
    before: (u64, u64),
}

/// What the walk decides from names: the candidates in the folder and in the repository
/// fallback `<top>/<dir>/`, and whether the fallback still applies.
struct Selection<'a, 'd> {
    dir: &'d [u8],
    max_files: usize,
    /// The central directory's offset: the next start after the last entry.
    cd_offset: u64,
    primary: Candidates,
    fallback: Candidates,
    seen_dir: bool,
    top: Option<&'a [u8]>,
    /// Every name so far sits under the one top-level folder `top`.
    one_top: bool,
    /// The candidate (primary list or not, index) kept from the last entry: it learns
    /// the next entry's start.
    waiting: Option<(bool, usize)>,
    scratch: Vec<&'a [u8]>,
}

impl<'a, 'd> Selection<'a, 'd> {
    fn new(dir: &'d [u8], max_files: usize, cd_offset: u64) -> Self {
        Selection {
            dir,
            max_files,
            cd_offset,
            primary: Candidates::default(),
            fallback: Candidates::default(),
            seen_dir: dir.is_empty(),
            top: None,
            one_top: true,
            waiting: None,
            scratch: Vec::new(),
        }
    }

    /// The quick test for the folder's last segment (empty for the root, which every
    /// name is in).
    fn segment(&self) -> name::Segment {
        name::Segment::new(self.dir.rsplit(|&b| b == b'/').next().unwrap_or(self.dir))
    }

    /// Whether `name` sits in the top-level folder every name so far shares.
    #[inline(always)]
    fn under_top(&self, name: &[u8]) -> bool {
        let n = strip_dot(name);
        // A byte loop: top folders are short, and `starts_with` calls `memcmp`.
        self.top
            .is_some_and(|t| n.get(t.len()) == Some(&b'/') && t.iter().zip(n).all(|(a, b)| a == b))
    }

    /// Records the start of the entry after the waiting candidate.
    #[cold]
    fn set_next_start(&mut self, start: u64) {
        let Some((is_primary, k)) = self.waiting.take() else {
            return;
        };
        let list = if is_primary {
            &mut self.primary
        } else {
            &mut self.fallback
        };
        list.list[k].next_start = start;
    }

    /// Checks one entry's name and Unicode Path field, and keeps it if it is a migration
    /// (it then waits for the next entry's start).
    #[inline(never)]
    fn visit(
        &mut self,
        rec: &central::Skim<'a>,
        segment: &name::Segment,
        at: Visit,
    ) -> Result<(), ZipError> {
        let dir = self.dir;
        let n = strip_dot(rec.name);
        if n.is_empty() {
            return Ok(());
        }
        // Of the names that may contain the folder's last segment, only non-canonical
        // ones (rare) pay for the exact test and the readings of other tools.
        if segment.may_be_in(n)
            && !name::plainly_canonical(n)
            && let Some(flaw) = name::flaw(n)
            && name::lands_in(n, dir, &mut self.scratch)
        {
            return Err(flaw.error(rec.name));
        }
        // Info-ZIP's Unicode Path field renames the entry for unzip and libarchive.
        if !rec.extra.is_empty()
            && let Some(other) = name::unicode_path(rec.extra)
            && other != rec.name
            && (name::lands_in(n, dir, &mut self.scratch)
                || name::lands_in(strip_dot(other), dir, &mut self.scratch))
        {
            return Err(ZipError::UnicodePathMismatch {
                name: lossy(rec.name),
                other: lossy(other),
            });
        }
        // Only needed for the fallback, which a second top-level folder rules out.
        if self.one_top {
            match n.iter().position(|&b| b == b'/') {
                Some(i) => match self.top {
                    None => self.top = Some(&n[..i]),
                    Some(t) => self.one_top = t == &n[..i],
                },
                None => self.one_top = false,
            }
        }
        let candidate = |rest: &[u8]| Candidate {
            header: at.header,
            name_start: rec.name.len() - rest.len(),
            index: at.index,
            before: at.before,
            next_start: self.cd_offset,
        };
        let mut waiting = None;
        if dir.is_empty() {
            if is_migration(n) {
                waiting = self
                    .primary
                    .push(candidate(n), self.max_files)
                    .map(|k| (true, k));
            }
            self.waiting = waiting;
            return Ok(());
        }
        if let Some(rest) = n.strip_prefix(dir)
            && let Some(rest) = rest.strip_prefix(b"/")
        {
            self.seen_dir = true;
            if is_migration(rest) {
                waiting = self
                    .primary
                    .push(candidate(rest), self.max_files)
                    .map(|k| (true, k));
            }
        }
        if !self.seen_dir
            && self.one_top
            && let Some(t) = self.top
            && let Some(rest) = n.get(t.len()..).and_then(|r| in_folder(r, dir))
            && is_migration(rest)
        {
            waiting = self
                .fallback
                .push(candidate(rest), self.max_files)
                .map(|k| (false, k));
        }
        self.waiting = waiting;
        Ok(())
    }

    /// The candidates of the folder, or of the fallback when the archive has no entry
    /// under the folder and a single top-level folder.
    fn finish(self) -> Result<Vec<Candidate>, ZipError> {
        let chosen = if self.seen_dir || !self.one_top {
            self.primary
        } else {
            self.fallback
        };
        if chosen.overflow {
            return Err(ZipError::TooManyFiles {
                limit: self.max_files,
            });
        }
        Ok(chosen.list)
    }
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

    /// The central-directory walk of [`Archive::select`]: the chosen candidates, with
    /// what the overlap check needs of their neighbours when the directory is in offset
    /// order (as every writer leaves it). Nothing is kept per unselected entry.
    ///
    /// The loop keeps only what every entry needs (the header, the span bookkeeping) and
    /// hands the few entries whose name or extra field could matter to
    /// [`Selection::visit`], out of line: with the selection state in the loop, the
    /// compiler spilled the hot counters to the stack and the walk ran 2.5x slower.
    // One copy for `select` and `candidates`: inlined into each, the loop's code (and
    // speed, by up to 40% in the bench) depended on its caller.
    #[inline(never)]
    fn walk(&self, dir: &str, limits: &Limits) -> Result<Walk, ZipError> {
        let data = self.data;
        let cd = &self.directory;
        let (cd_start, cd_end) = self.bounds()?;
        let directory = data.get(..cd_end).ok_or(ZipError::NoEndRecord)?;
        let mut sel = Selection::new(normalize_dir(dir.as_bytes()), limits.max_files, cd.offset);
        let segment = sel.segment();
        let mut pos = cd_start;
        let mut walked = 0u64;
        // Overlap bookkeeping: whether starts never decrease, and the furthest end so far
        // (with its entry's start). The selection keeps the candidate waiting for its
        // successor's start, out of the loop's registers.
        let mut in_order = true;
        let mut prev_start = 0u64;
        let mut furthest = (0u64, 0u64);
        // The entry count is compared after the walk, which the directory's size bounds.
        while pos < cd_end {
            let header = pos;
            let rec = match central::skim(directory, pos) {
                Some(rec) => rec,
                None => central::skim_slow(data, pos, cd_end)?,
            };
            pos = rec.next;
            walked += 1;
            let Some((start, end)) = estimated_span(&rec, cd.offset) else {
                return Err(span_error(&rec, data.len() as u64, cd.offset));
            };
            in_order &= start >= prev_start;
            prev_start = start;
            if sel.waiting.is_some() {
                sel.set_next_start(start);
            }
            let before = furthest;
            if end > furthest.0 {
                furthest = (end, start);
            }
            // Every reading of a name is made of its substrings, so a name without the
            // folder's last segment lands in no folder of that name; the Unicode Path
            // field is the other way in. While the repository fallback is possible, a
            // name outside its top folder must be seen too (one under it changes
            // nothing: repository archives put every name there).
            if !rec.extra.is_empty()
                || segment.may_be_in(rec.name)
                || (sel.one_top && !sel.under_top(rec.name))
            {
                let at = Visit {
                    header,
                    index: (walked - 1) as usize,
                    before,
                };
                sel.visit(&rec, &segment, at)?;
            }
        }
        if walked != cd.entries {
            return Err(ZipError::EntryCountMismatch {
                declared: cd.entries,
                found: walked,
            });
        }
        sel.finish().map(|chosen| (chosen, in_order))
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

    /// Every entry's estimated span, in central-directory order: a second walk, for the
    /// overlap check of a directory that is not in offset order.
    fn spans(&self) -> Result<Vec<(u64, u64)>, ZipError> {
        let cd = &self.directory;
        let (mut pos, cd_end) = self.bounds()?;
        let mut spans = Vec::with_capacity(usize::try_from(cd.entries).unwrap_or(0));
        while pos < cd_end {
            let rec = central::skim_slow(self.data, pos, cd_end)?;
            pos = rec.next;
            let span = estimated_span(&rec, cd.offset);
            spans.push(span.ok_or_else(|| span_error(&rec, self.data.len() as u64, cd.offset))?);
        }
        Ok(spans)
    }

    /// Checks the chosen candidates (names, flags, sizes, local headers, duplicates,
    /// overlaps) and turns them into entries.
    fn finish(
        &self,
        chosen: Vec<Candidate>,
        in_order: bool,
        limits: &Limits,
    ) -> Result<Vec<Entry<'a>>, ZipError> {
        let mut entries = Vec::with_capacity(chosen.len());
        // (start, end, candidate index, entry index, data end): exact spans of the
        // selected entries.
        let mut exact = Vec::with_capacity(chosen.len());
        let mut total = 0u64;
        for (ci, c) in chosen.iter().enumerate() {
            let rec = &self.record(c)?;
            let path = std::str::from_utf8(rec.name).map_err(|_| ZipError::NotUtf8 {
                name: lossy(rec.name),
            })?;
            // Without the flag, Python and the zip crate decode the name as CP437.
            if !path.is_ascii() && rec.flags & 0x800 == 0 {
                return Err(ZipError::NameEncoding {
                    name: path.to_owned(),
                });
            }
            check_record(rec, limits)?;
            total = total.saturating_add(rec.uncompressed_size);
            if total > limits.max_total_size {
                return Err(ZipError::TotalTooLarge {
                    total,
                    limit: limits.max_total_size,
                });
            }
            let (start, data_end, end) = self.exact_span(rec)?;
            exact.push((start, end, ci, entries.len(), data_end));
            entries.push(Entry {
                path,
                // `name_start` is the start of a suffix found by byte search after '/',
                // so it is a char boundary; `get` keeps this panic-free regardless.
                name: path.get(c.name_start..).unwrap_or(path),
                record: *rec,
            });
        }

        let mut names: Vec<&str> = entries.iter().map(|e| e.name).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(ZipError::Duplicate {
                name: w[0].to_owned(),
            });
        }

        exact.sort_unstable();
        let overlap = |i: usize, other_offset: u64| ZipError::Overlap {
            name: entries[i].path.to_owned(),
            other_offset,
        };
        if let Some(w) = exact.windows(2).find(|w| w[0].1 > w[1].0) {
            return Err(overlap(w[1].3, w[0].0));
        }
        // Every other entry's (estimated) span against the sorted, disjoint exact spans.
        // In offset order (every writer's), the entries before a selected one start at or
        // before it and those after it at or after it, so it overlaps another exactly when
        // the furthest end before it passes its start, or the next start falls short of
        // its end; that next start is also the one it must end at.
        let next_starts = if in_order {
            for &(start, end, ci, i, _) in &exact {
                let c = &chosen[ci];
                if c.before.0 > start {
                    return Err(overlap(i, c.before.1));
                }
                if c.next_start < end {
                    return Err(overlap(i, c.next_start));
                }
            }
            exact.iter().map(|s| chosen[s.2].next_start).collect()
        } else {
            self.unordered_overlaps(&chosen, &exact, &overlap)?
        };
        // Each selected entry ends exactly where the next entry (or the central directory)
        // starts: bytes in between could hold an entry that streaming readers see.
        for (&(_, end, _, i, data_end), &next) in exact.iter().zip(&next_starts) {
            if end == next {
                continue;
            }
            let rec = &entries[i].record;
            // A data descriptor may also be read in a longer layout that ends there.
            let other_layout = rec.has_descriptor()
                && local::descriptor(self.data, data_end, next, rec, true, Some(next)).is_some();
            if !other_layout {
                return Err(ZipError::Gap {
                    name: lossy(rec.name),
                    gap: next.saturating_sub(end),
                });
            }
        }
        Ok(entries)
    }

    /// The overlap check for a central directory out of offset order: every entry's span
    /// (from a second walk) is searched against the sorted exact spans. Returns, for each
    /// exact span, the start of the entry that follows it in the file.
    fn unordered_overlaps(
        &self,
        chosen: &[Candidate],
        exact: &[(u64, u64, usize, usize, u64)],
        overlap: &dyn Fn(usize, u64) -> ZipError,
    ) -> Result<Vec<u64>, ZipError> {
        let spans = self.spans()?;
        for (j, &(start, end)) in spans.iter().enumerate() {
            let from = exact.partition_point(|s| s.1 <= start);
            for s in exact[from..].iter().take_while(|s| s.0 < end) {
                if chosen[s.2].index != j {
                    return Err(overlap(s.3, start));
                }
            }
        }
        let mut starts: Vec<u64> = spans.iter().map(|s| s.0).collect();
        starts.sort_unstable();
        Ok(exact
            .iter()
            .map(|&(start, ..)| {
                let k = starts.partition_point(|&x| x <= start);
                starts.get(k).copied().unwrap_or(self.directory.offset)
            })
            .collect())
    }

    /// The exact span of a selected entry (local header, data, data descriptor) as
    /// `(start, data end, end)`.
    fn exact_span(&self, rec: &Record<'_>) -> Result<(u64, u64, u64), ZipError> {
        let limit = self.directory.offset;
        let lh = local::parse(self.data, rec, limit)?;
        let data_end = data_end(&lh, rec, limit)?;
        let descriptor = if rec.has_descriptor() {
            local::descriptor(self.data, data_end, limit, rec, lh.zip64, None).ok_or_else(|| {
                ZipError::DataDescriptorMismatch {
                    name: lossy(rec.name),
                }
            })?
        } else {
            0
        };
        Ok((rec.local_offset, data_end, data_end + descriptor))
    }

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

/// Where an entry's data ends (the central compressed size from the data start), which
/// must be at or before `limit`, the start of the central directory.
fn data_end(lh: &local::LocalHeader<'_>, rec: &Record<'_>, limit: u64) -> Result<u64, ZipError> {
    match lh.data_start.checked_add(rec.compressed_size) {
        Some(end) if end <= limit => Ok(end),
        _ => Err(ZipError::OverlapsCentralDirectory {
            name: lossy(rec.name),
        }),
    }
}

/// The span an entry occupies as far as the central record tells: local header offset to
/// `30 + name + compressed data`; `None` unless it ends before the central directory at
/// `cd_offset` ([`span_error`] says why).
#[inline(always)]
fn estimated_span(rec: &central::Skim<'_>, cd_offset: u64) -> Option<(u64, u64)> {
    let start = rec.local_offset;
    // Saturating: an end past u64::MAX is past the directory too, and this compiles to
    // no branch.
    let end = start
        .saturating_add(local::LOCAL_LEN as u64 + rec.name.len() as u64)
        .saturating_add(rec.compressed_size);
    (end <= cd_offset).then_some((start, end))
}

/// Why [`estimated_span`] refused an entry: it runs into the central directory, or
/// leaves the file of length `len`.
#[cold]
#[inline(never)]
fn span_error(rec: &central::Skim<'_>, len: u64, cd_offset: u64) -> ZipError {
    let name = lossy(rec.name);
    let end = (rec.local_offset)
        .checked_add(local::LOCAL_LEN as u64 + rec.name.len() as u64)
        .and_then(|e| e.checked_add(rec.compressed_size));
    match end {
        Some(end) if end <= len && rec.local_offset < cd_offset => {
            ZipError::OverlapsCentralDirectory { name }
        }
        _ => ZipError::OutOfBounds { name },
    }
}

/// Refusals that depend only on the central record and the limits.
fn check_record(rec: &Record<'_>, limits: &Limits) -> Result<(), ZipError> {
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

/// Removes the one leading "./" that bsdtar writes; a second one makes the name
/// non-canonical.
fn strip_dot(n: &[u8]) -> &[u8] {
    n.strip_prefix(b"./").unwrap_or(n)
}

/// The migrations folder without leading "./" or trailing '/'; empty means the root.
fn normalize_dir(mut d: &[u8]) -> &[u8] {
    while let Some(rest) = d.strip_prefix(b"./") {
        d = rest;
    }
    while let Some(rest) = d.strip_suffix(b"/") {
        d = rest;
    }
    if d == b"." { b"" } else { d }
}

/// If `n` is `/<dir>/<rest>` returns `rest`.
fn in_folder<'n>(n: &'n [u8], dir: &[u8]) -> Option<&'n [u8]> {
    n.strip_prefix(b"/")?.strip_prefix(dir)?.strip_prefix(b"/")
}

/// A `.sql` file directly in the folder (no further '/'); case-sensitive like sql-migrate.
fn is_migration(rest: &[u8]) -> bool {
    rest.ends_with(b".sql") && !rest.contains(&b'/')
}

/// Inflates a raw deflate stream into exactly `size` bytes: shorter and longer streams
/// are refused.
///
/// The buffer has spare room ([`OUT_SLACK`]) so a stream that is too long shows as more
/// than `size` bytes of output, and a correct one ends in a single call (with no room to spare, zlib keeps
/// the end-of-block code for a second call and first copies its 32 KiB window). The
/// inflater is reused per thread: its state is a few KiB that would otherwise be
/// allocated and zeroed for every entry.
fn inflate(input: &[u8], size: usize, name: &[u8]) -> Result<Vec<u8>, ZipError> {
    thread_local! {
        static INFLATER: std::cell::RefCell<Option<Decompress>> = const { std::cell::RefCell::new(None) };
    }
    INFLATER.with(|cell| {
        // Re-entrancy cannot happen here; fall back to a fresh inflater if it ever does.
        let mut fresh = None;
        let mut guard = cell.try_borrow_mut().ok();
        let d = match guard.as_deref_mut() {
            Some(slot) => slot.get_or_insert_with(|| Decompress::new(false)),
            None => fresh.insert(Decompress::new(false)),
        };
        d.reset(false);
        inflate_with(d, input, size, name)
    })
}

/// Spare output room: more than one byte so the decoder's fast path (which wants 258
/// bytes of room) runs to the end of small files; it also bounds what a too-long stream
/// can write before it is refused.
const OUT_SLACK: usize = 320;

fn inflate_with(
    d: &mut Decompress,
    input: &[u8],
    size: usize,
    name: &[u8],
) -> Result<Vec<u8>, ZipError> {
    let mut out = Vec::with_capacity(size.saturating_add(OUT_SLACK));
    loop {
        let (in_before, out_before) = (d.total_in(), d.total_out());
        let rest = input.get(in_before as usize..).unwrap_or(&[]);
        let status = d
            .decompress_vec(rest, &mut out, FlushDecompress::Finish)
            .map_err(|e| ZipError::Inflate {
                name: lossy(name),
                reason: e.to_string(),
            })?;
        if out.len() > size {
            return Err(ZipError::InflatedLonger {
                name: lossy(name),
                declared: size as u64,
            });
        }
        if status == Status::StreamEnd {
            // The stream must fill the declared compressed size: readers that find an
            // entry's end by its stream (streaming readers) would otherwise read the rest
            // as a next entry.
            let extra = (input.len() as u64).saturating_sub(d.total_in());
            if extra != 0 {
                return Err(ZipError::TrailingData {
                    name: lossy(name),
                    extra,
                });
            }
            break;
        }
        if d.total_in() == in_before && d.total_out() == out_before {
            return Err(ZipError::Inflate {
                name: lossy(name),
                reason: "deflate stream is cut short".into(),
            });
        }
    }
    if out.len() != size {
        return Err(ZipError::InflatedShorter {
            name: lossy(name),
            declared: size as u64,
            actual: out.len() as u64,
        });
    }
    // Hand the slack back (in place): a run holds every file at once, and 10,000 small
    // files with 320 spare bytes each would spread over three times the pages.
    out.shrink_to_fit();
    Ok(out)
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
mod tests {
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
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
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
}
