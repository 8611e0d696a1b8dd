//! The selective mode: the end records and central directories the reader judges, then
//! the selected migrations' entries (estimated from their central records, then made
//! exact from their local headers), each round coalesced and within the budget.

use std::ops::Range;
use std::sync::atomic::Ordering;

use super::get::Ctx;
use super::ranges::{Have, coalesce, split};
use super::{FetchError, FetchOptions, MIN_PART, reserve};
use crate::artifact::central::Record;
use crate::artifact::{Archive, Limits, eocd, le16, local, max_stream};

/// Extra bytes asked after each selected entry's estimated end: the local header's extra
/// field is not in the central directory and is often a little longer than the central
/// one (timestamps, ZIP64 sizes). A header longer still costs one more request.
const LOCAL_SLACK: u64 = 64;

/// Entries at most this far apart are fetched in one request.
const COALESCE_GAP: u64 = 16 * 1024;

/// Longest data descriptor: signature, CRC-32 and two 8-byte sizes.
const DESCRIPTOR_MAX: u64 = 24;

/// Fixed size of a local file header.
const LOCAL_LEN: u64 = local::LOCAL_LEN as u64;

/// Rounds of asking the reader which end-record ranges it judges. Two suffice: the
/// candidates' ZIP64 records, then the directories they name; a third finds nothing.
const END_ROUNDS: usize = 4;

/// Fetches what the end-record decision judges (asking the reader until it wants
/// nothing missing), selects the migrations, and fetches their entries.
pub(super) async fn selective(
    ctx: &Ctx<'_>,
    have: &mut Have,
    opts: &FetchOptions,
) -> Result<(), FetchError> {
    let zip_err = |source| FetchError::Zip {
        object: ctx.object.to_string(),
        source,
    };
    // Every candidate end record is judged on real bytes: a candidate whose directory
    // was not fetched would read as zeros and drop out, leaving another one accepted.
    for _ in 0..END_ROUNDS {
        let wanted = eocd::wanted(&ctx.lock());
        if wanted.iter().all(|r| have.missing(r.clone()).is_empty()) {
            break;
        }
        fill(ctx, have, opts, wanted).await?;
    }

    // Byte ranges of the selected entries, estimated from their central records.
    let plans = {
        let map = ctx.lock();
        let archive = Archive::new(&map).map_err(zip_err)?;
        // Entries end before the central directory (the reader checks it).
        let limit = archive.directory().offset.min(ctx.len);
        let records = archive
            .candidates(&opts.dir, &opts.limits)
            .map_err(zip_err)?;
        let plans: Vec<Plan> = records
            .iter()
            .map(|r| Plan::new(r, &opts.limits, limit))
            .collect();
        plans
    };
    fill(ctx, have, opts, plans.iter().map(Plan::estimate).collect()).await?;

    // The exact ranges, now that the local headers are here: a local extra field longer
    // than the central one, or a capped entry's data descriptor, costs one more round.
    let exact = {
        let map = ctx.lock();
        plans.iter().flat_map(|p| p.exact(&map)).collect::<Vec<_>>()
    };
    fill(ctx, have, opts, exact).await?;

    Ok(())
}

/// What one selected entry needs: its local header, at most `pull` bytes of data, and its
/// data descriptor.
struct Plan {
    start: u64,
    /// Name and extra field lengths of the central record (the local ones usually match).
    central_names: u64,
    compressed: u64,
    /// Data bytes fetched: the compressed size, capped by [`max_stream`].
    pull: u64,
    descriptor: bool,
    limit: u64,
}

impl Plan {
    fn new(r: &Record<'_>, limits: &Limits, limit: u64) -> Plan {
        Plan {
            start: r.local_offset.min(limit),
            central_names: (r.name.len() + r.extra.len()) as u64,
            compressed: r.compressed_size,
            pull: pull(r, limits),
            descriptor: r.has_descriptor(),
            limit,
        }
    }

    /// Header, data and descriptor, guessed from the central record.
    fn estimate(&self) -> Range<u64> {
        let descriptor = if self.descriptor && self.pull == self.compressed {
            DESCRIPTOR_MAX
        } else {
            0
        };
        let len = LOCAL_LEN
            .saturating_add(self.central_names)
            .saturating_add(LOCAL_SLACK)
            .saturating_add(self.pull)
            .saturating_add(descriptor);
        self.start..self.start.saturating_add(len).min(self.limit)
    }

    /// Header, data and descriptor, from the local header in `map`.
    fn exact(&self, map: &[u8]) -> [Range<u64>; 2] {
        let field = |at: u64| -> u64 {
            usize::try_from(at)
                .ok()
                .and_then(|at| le16(map, at))
                .map_or(0, u64::from)
        };
        let data = self
            .start
            .saturating_add(LOCAL_LEN)
            .saturating_add(field(self.start.saturating_add(26)))
            .saturating_add(field(self.start.saturating_add(28)));
        let head = self.start..data.saturating_add(self.pull).min(self.limit);
        let descriptor = if self.descriptor {
            let at = data.saturating_add(self.compressed).min(self.limit);
            at..at.saturating_add(DESCRIPTOR_MAX).min(self.limit)
        } else {
            0..0
        };
        [head, descriptor]
    }
}

/// Data bytes fetched for an entry: its compressed size, capped by [`max_stream`] of its
/// uncompressed size (above the size limit the reader refuses the entry from its record
/// alone, without reading its data).
fn pull(r: &Record<'_>, limits: &Limits) -> u64 {
    let uncompressed = r.uncompressed_size.min(limits.max_file_size);
    r.compressed_size.min(max_stream(uncompressed))
}

/// Fetches the parts of `ranges` not present yet, neighbours coalesced: within the
/// selective budget, into reserved disk space.
async fn fill(
    ctx: &Ctx<'_>,
    have: &mut Have,
    opts: &FetchOptions,
    ranges: Vec<Range<u64>>,
) -> Result<(), FetchError> {
    let missing = ranges.into_iter().flat_map(|r| have.missing(r)).collect();
    let ranges = coalesce(missing, COALESCE_GAP);
    if ranges.is_empty() {
        return Ok(());
    }
    let asked = ranges
        .iter()
        .fold(0u64, |n, r| n.saturating_add(r.end - r.start));
    let needed = ctx.bytes.load(Ordering::Relaxed).saturating_add(asked);
    if needed > opts.selective_budget {
        return Err(FetchError::OverBudget {
            object: ctx.object.to_string(),
            needed,
            budget: opts.selective_budget,
        });
    }
    reserve(ctx, opts, &ranges)?;
    ctx.get_all(split(ranges.iter().cloned(), opts.part_size.max(MIN_PART)))
        .await?;
    for r in ranges {
        have.add(r);
    }
    Ok(())
}
