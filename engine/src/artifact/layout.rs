//! The selected entries' exact layout: each one's span from its local header to the end
//! of its data descriptor, checked against every other entry's (no overlap) and against
//! the start of the next (no gap a streaming reader could see), and their names against
//! each other (no duplicate).

use super::central::Record;
use super::error::lossy;
use super::read::{check_record, data_end};
use super::walk::Candidate;
use super::{Archive, Entry, Limits, ZipError, local};

impl<'a> Archive<'a> {
    /// Checks the chosen candidates (names, flags, sizes, local headers, duplicates,
    /// overlaps) and turns them into entries.
    pub(super) fn finish(
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
}
