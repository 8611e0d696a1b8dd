//! Central-directory file headers.

/// A central-directory file header, borrowed from the archive.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    /// Raw name bytes.
    pub name: &'a [u8],
}
