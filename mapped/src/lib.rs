//! Memory maps of files: the one place lambda-migrate needs `unsafe`, kept out of the
//! engine so that the engine can `forbid(unsafe_code)`.
//!
//! Three blocks are unsafe, each allowed where it stands with its SAFETY reasoning:
//! mapping a file read-only ([`Mapped::from_file`]), mapping a fresh temp file writable
//! ([`MappedMut::from_file`]), and dropping written pages from the resident set
//! ([`MappedMut::release`]). Everything else here, and everything the engine does with
//! the bytes, is safe code over `&[u8]` / `&mut [u8]`.
#![deny(unsafe_code)]
#![warn(missing_docs)]

use std::fs::File;
use std::io;
use std::ops::Deref;
use std::path::Path;

/// A file mapped read-only into memory, or an empty buffer for an empty file
/// (mapping zero bytes is an error on Linux).
pub struct Mapped {
    map: Option<memmap2::Mmap>,
}

impl Mapped {
    /// Maps `path` read-only.
    pub fn open(path: &Path) -> io::Result<Mapped> {
        let file = File::open(path)?;
        Self::from_file(&file)
    }

    /// Maps an open file read-only.
    pub fn from_file(file: &File) -> io::Result<Mapped> {
        if file.metadata()?.len() == 0 {
            return Ok(Mapped { map: None });
        }
        // SAFETY: memmap2 requires that the file is not modified while mapped, or reads
        // of the map may see torn data (never memory unsafety for `&[u8]` reads on Linux,
        // but possibly SIGBUS if the file is truncated). lambda-migrate maps only temp
        // files it created itself (the S3 fetch, the runtime's inline zip) or artifacts
        // the caller handed it to read; every value the engine reads from the map is
        // bounds-checked against the map's length, so a concurrent writer can at worst
        // make the reader return an error.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(file)? };
        Ok(Mapped { map: Some(map) })
    }
}

impl Deref for Mapped {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}

/// A file mapped writable and shared, for filling a freshly created temp file in place
/// (the S3 fetch streams response bodies straight into it), then turned read-only.
pub struct MappedMut {
    map: Option<memmap2::MmapMut>,
}

impl MappedMut {
    /// Maps an open file read-write and shared: writes land in the file's page cache.
    /// The file must be open for reading and writing; size it (`set_len`) first.
    pub fn from_file(file: &File) -> io::Result<MappedMut> {
        if file.metadata()?.len() == 0 {
            return Ok(MappedMut { map: None });
        }
        // SAFETY: as for `Mapped::from_file`; in addition lambda-migrate maps writable
        // only temp files it has just created and unlinked (the S3 fetch), so no other
        // process holds a path to them and nothing but this map writes to them.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::MmapMut::map_mut(file)? };
        Ok(MappedMut { map: Some(map) })
    }

    /// Drops the pages holding `offset..offset + len` from this process's resident set
    /// once they are written, so filling a large file does not grow RSS by the file's
    /// size. The data stays in the file (its page cache); reads fault it back in.
    pub fn release(&self, offset: usize, len: usize) -> io::Result<()> {
        let Some(map) = &self.map else {
            return Ok(());
        };
        // madvise works on whole pages: widen the range to page boundaries (harmless for
        // the neighbouring bytes, see below).
        const PAGE: usize = 4096;
        let start = (offset / PAGE) * PAGE;
        let end = offset
            .saturating_add(len)
            .min(map.len())
            .div_ceil(PAGE)
            .saturating_mul(PAGE)
            .min(map.len());
        if end <= start {
            return Ok(());
        }
        // SAFETY: MADV_DONTNEED on a MAP_SHARED file mapping only unmaps the pages from
        // this process; their contents (dirty or not) stay in the file's page cache and
        // are faulted back in on the next access, so no byte of the map changes and no
        // reference into it is invalidated. (It would zero a private mapping, but
        // `from_file` maps shared.) The range lies within the map.
        #[allow(unsafe_code)]
        unsafe {
            map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
        }
    }

    /// Turns the map read-only (no copy, no remap of the contents).
    pub fn make_read_only(self) -> io::Result<Mapped> {
        Ok(Mapped {
            map: self.map.map(memmap2::MmapMut::make_read_only).transpose()?,
        })
    }
}

impl Deref for MappedMut {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}

impl std::ops::DerefMut for MappedMut {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.map.as_deref_mut().unwrap_or(&mut [])
    }
}
