//! Read-only memory maps of files: the one place the engine needs `unsafe`.

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
        // but possibly SIGBUS if the file is truncated). The engine maps only files it
        // created itself under /tmp or artifacts the caller handed it to read; every
        // value read from the map is bounds-checked against the map's length, so a
        // concurrent writer can at worst make the reader return an error.
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
