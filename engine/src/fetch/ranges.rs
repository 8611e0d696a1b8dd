//! Byte-range bookkeeping for partial downloads: what is already in the temp file, what is
//! missing, and how to group what is missing into few requests.

use std::ops::Range;

/// A set of byte ranges, kept sorted, disjoint and non-adjacent.
#[derive(Debug, Clone, Default)]
pub(crate) struct Have {
    ranges: Vec<Range<u64>>,
}

impl Have {
    /// Records that `r` is present.
    pub(crate) fn add(&mut self, r: Range<u64>) {
        if r.is_empty() {
            return;
        }
        // Everything that touches or overlaps `r` merges into it.
        let first = self.ranges.partition_point(|h| h.end < r.start);
        let last = self.ranges.partition_point(|h| h.start <= r.end);
        let mut merged = r;
        if first < last {
            merged.start = merged.start.min(self.ranges[first].start);
            merged.end = merged.end.max(self.ranges[last - 1].end);
        }
        self.ranges.splice(first..last, [merged]);
    }

    /// The parts of `r` not present, in order.
    pub(crate) fn missing(&self, r: Range<u64>) -> Vec<Range<u64>> {
        let mut out = Vec::new();
        let mut at = r.start;
        let first = self.ranges.partition_point(|h| h.end <= r.start);
        for h in &self.ranges[first..] {
            if h.start >= r.end {
                break;
            }
            if h.start > at {
                out.push(at..h.start);
            }
            at = at.max(h.end);
        }
        if at < r.end {
            out.push(at..r.end);
        }
        out
    }
}

/// Sorts `ranges` and merges those that overlap or are at most `gap` bytes apart, so that
/// neighbouring files (writers put a folder's files together) come in one request.
pub(crate) fn coalesce(mut ranges: Vec<Range<u64>>, gap: u64) -> Vec<Range<u64>> {
    ranges.retain(|r| !r.is_empty());
    ranges.sort_by_key(|r| r.start);
    let mut out: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end.saturating_add(gap) => {
                last.end = last.end.max(r.end);
            }
            _ => out.push(r),
        }
    }
    out
}

/// Cuts each range into pieces of at most `part` bytes (at least 1), for parallel
/// requests; lazily, so a huge range never becomes a huge list.
pub(crate) fn split(
    ranges: impl IntoIterator<Item = Range<u64>>,
    part: u64,
) -> impl Iterator<Item = Range<u64>> {
    let part = part.max(1);
    ranges.into_iter().flat_map(move |r| {
        let pieces = (r.end.saturating_sub(r.start)).div_ceil(part);
        (0..pieces).map(move |i| {
            let start = r.start + i * part;
            start..r.end.min(start.saturating_add(part))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_merges_overlapping_and_adjacent() {
        let mut h = Have::default();
        h.add(10..20);
        h.add(30..40);
        h.add(50..60);
        assert_eq!(h.ranges, vec![10..20, 30..40, 50..60]);
        h.add(20..30);
        assert_eq!(h.ranges, vec![10..40, 50..60]);
        h.add(5..55);
        assert_eq!(h.ranges, vec![5..60]);
        h.add(0..0);
        assert_eq!(h.ranges, vec![5..60]);
    }

    #[test]
    fn missing_subtracts() {
        let mut h = Have::default();
        h.add(10..20);
        h.add(30..40);
        assert_eq!(h.missing(0..50), vec![0..10, 20..30, 40..50]);
        assert_eq!(h.missing(12..18), Vec::<Range<u64>>::new());
        assert_eq!(h.missing(15..35), vec![20..30]);
        assert_eq!(h.missing(40..45), vec![40..45]);
        assert_eq!(Have::default().missing(3..4), vec![3..4]);
    }

    #[test]
    fn coalesce_joins_near_ranges_only() {
        let got = coalesce(vec![50..60, 0..10, 12..20, 100..110, 5..8], 2);
        assert_eq!(got, vec![0..20, 50..60, 100..110]);
        assert_eq!(coalesce(vec![0..10, 40..50], 30), vec![0..50]);
        assert!(coalesce(std::iter::once(3..3).collect(), 0).is_empty());
    }

    #[test]
    fn split_bounds_parts() {
        let got: Vec<_> = split([0..10, 20..25], 4).collect();
        assert_eq!(got, vec![0..4, 4..8, 8..10, 20..24, 24..25]);
        let got: Vec<_> = split([0..3, 7..7], 0).collect();
        assert_eq!(got, vec![0..1, 1..2, 2..3]);
    }
}
