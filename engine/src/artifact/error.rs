//! Everything the artifact reader refuses, one variant per reason.

/// A refusal from the zip reader; entry-specific variants name the entry.
#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    /// The archive is cut short.
    #[error("truncated archive: {0}")]
    Truncated(&'static str),
}
