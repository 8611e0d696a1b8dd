//! End of central directory record, ZIP64 locator and ZIP64 record.

/// Where the central directory is, as the end records give it.
#[derive(Debug, Clone)]
pub struct Directory {
    /// Offset of the first central-directory header.
    pub offset: u64,
    /// Size of the central directory in bytes.
    pub size: u64,
    /// Number of entries.
    pub entries: u64,
}
