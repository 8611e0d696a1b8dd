//! Disk space for the temp file, reserved before anything is written through the map.
//!
//! A write through a shared file mapping that finds no free block does not fail: the
//! process gets SIGBUS. So every range is checked against the free space of the temp
//! file's filesystem and then allocated (`fallocate`) before a byte of it is written;
//! a write into allocated blocks cannot run out of space.

use std::fs::File;
use std::io;
use std::ops::Range;

use rustix::fs::{FallocateFlags, fallocate, fstatvfs};
use rustix::io::Errno;

/// Reservations are widened to whole pages: a write fault allocates the page it touches,
/// and a page straddling a range's edge must not need a block that was not reserved.
const PAGE: u64 = 4096;

/// Why space could not be reserved.
pub(crate) enum ReserveError {
    /// Not enough free space: `needed` bytes (page-rounded), `available` free.
    NoSpace {
        /// Bytes the ranges need.
        needed: u64,
        /// Bytes free on the filesystem (for unprivileged users).
        available: u64,
    },
    /// `fstatvfs` or `fallocate` failed otherwise.
    Io(io::Error),
}

/// Allocates disk blocks for `ranges` of `file` (whose length is `len`), after checking
/// that the filesystem has room for them.
///
/// A filesystem without `fallocate` (EOPNOTSUPP) keeps only the free-space check.
pub(crate) fn reserve(file: &File, ranges: &[Range<u64>], len: u64) -> Result<(), ReserveError> {
    let pages: Vec<Range<u64>> = ranges
        .iter()
        .filter(|r| !r.is_empty())
        .map(|r| (r.start / PAGE) * PAGE..r.end.div_ceil(PAGE).saturating_mul(PAGE).min(len))
        .collect();
    let needed: u64 = pages.iter().map(|r| r.end - r.start).sum();
    if needed == 0 {
        return Ok(());
    }
    let free = available(file)?;
    if needed > free {
        return Err(ReserveError::NoSpace {
            needed,
            available: free,
        });
    }
    for r in &pages {
        match fallocate(file, FallocateFlags::empty(), r.start, r.end - r.start) {
            Ok(()) => {}
            Err(Errno::OPNOTSUPP) => return Ok(()),
            // Someone else took the space between the check and the allocation.
            Err(Errno::NOSPC) => {
                return Err(ReserveError::NoSpace {
                    needed,
                    available: available(file)?,
                });
            }
            Err(e) => return Err(ReserveError::Io(e.into())),
        }
    }
    Ok(())
}

/// Free bytes on the filesystem holding `file`, as an unprivileged user may use them.
fn available(file: &File) -> Result<u64, ReserveError> {
    let st = fstatvfs(file).map_err(|e| ReserveError::Io(e.into()))?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}
