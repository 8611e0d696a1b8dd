//! The one pass over the central directory: every entry's span is estimated for the
//! overlap check, and only the few names that may reach the migrations folder (or carry a
//! Unicode Path field) are looked at closely, out of the hot loop.

use super::error::lossy;
use super::{Archive, Limits, ZipError, central, local, name};

/// A selection candidate found during the walk.
#[derive(Clone, Copy)]
pub(super) struct Candidate {
    /// Offset of its central header: the record is parsed again when needed, which
    /// keeps a list of 10,000 candidates at a third of the memory.
    pub(super) header: usize,
    /// Index of the migration file name within the record's name.
    pub(super) name_start: usize,
    /// Index of this entry in the central directory.
    pub(super) index: usize,
    /// The furthest estimated end of the entries before this one in the central
    /// directory, and that entry's start (`(0, 0)` for the first entry).
    pub(super) before: (u64, u64),
    /// Start of the next entry in the central directory (the directory's offset after
    /// the last one).
    pub(super) next_start: u64,
}

/// What the central-directory walk yields: the chosen candidates, and whether every
/// entry starts at or after the one before it in the central directory.
pub(super) type Walk = (Vec<Candidate>, bool);

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
    pub(super) fn walk(&self, dir: &str, limits: &Limits) -> Result<Walk, ZipError> {
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

    /// Every entry's estimated span, in central-directory order: a second walk, for the
    /// overlap check of a directory that is not in offset order.
    pub(super) fn spans(&self) -> Result<Vec<(u64, u64)>, ZipError> {
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

/// Removes the one leading "./" that bsdtar writes; a second one makes the name
/// non-canonical.
pub(super) fn strip_dot(n: &[u8]) -> &[u8] {
    n.strip_prefix(b"./").unwrap_or(n)
}

/// The migrations folder without leading "./" or trailing '/'; empty means the root.
pub(super) fn normalize_dir(mut d: &[u8]) -> &[u8] {
    while let Some(rest) = d.strip_prefix(b"./") {
        d = rest;
    }
    while let Some(rest) = d.strip_suffix(b"/") {
        d = rest;
    }
    if d == b"." { b"" } else { d }
}

/// If `n` is `/<dir>/<rest>` returns `rest`.
pub(super) fn in_folder<'n>(n: &'n [u8], dir: &[u8]) -> Option<&'n [u8]> {
    n.strip_prefix(b"/")?.strip_prefix(dir)?.strip_prefix(b"/")
}

/// A `.sql` file directly in the folder (no further '/'); case-sensitive like sql-migrate.
pub(super) fn is_migration(rest: &[u8]) -> bool {
    rest.ends_with(b".sql") && !rest.contains(&b'/')
}
