//! Why a fetch failed.

use crate::artifact::ZipError;

/// Why fetching an artifact from S3 failed. Every variant names the object
/// (`s3://bucket/key`); none carries credentials.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The bucket or the key does not exist.
    #[error("{object}: not found ({detail})")]
    NotFound {
        /// The object.
        object: String,
        /// What S3 said.
        detail: String,
    },
    /// S3 refused the request (credentials, policy, KMS key).
    #[error("{object}: access denied ({detail})")]
    AccessDenied {
        /// The object.
        object: String,
        /// What S3 said.
        detail: String,
    },
    /// Full mode needs the whole object in the temp directory, and it does not fit.
    #[error(
        "{object}: the object is {size} bytes, larger than the {capacity} bytes of temp \
         space allowed for a full download; use the selective mode (it fetches only the \
         central directory and the migrations) or raise the capacity"
    )]
    TooLargeForTmp {
        /// The object.
        object: String,
        /// The object's size in bytes.
        size: u64,
        /// The configured temp capacity in bytes.
        capacity: u64,
    },
    /// The temp file's filesystem has less free space than the bytes about to be written
    /// (checked, and the space reserved, before anything is written through the map).
    #[error(
        "{object}: not enough space in the temp directory {dir}: {needed} bytes needed, \
         {available} available"
    )]
    NoSpace {
        /// The object.
        object: String,
        /// The temp directory.
        dir: String,
        /// Bytes about to be written (rounded up to whole pages).
        needed: u64,
        /// Bytes free on its filesystem.
        available: u64,
    },
    /// The selective mode would download more than its budget: the archive names
    /// directories or entries far larger than reading its migrations needs.
    #[error(
        "{object}: the selective fetch would download {needed} bytes, more than its budget \
         of {budget} bytes"
    )]
    OverBudget {
        /// The object.
        object: String,
        /// Bytes fetched so far plus the ranges asked for next.
        needed: u64,
        /// The budget ([`super::FetchOptions::selective_budget`]).
        budget: u64,
    },
    /// The object is larger than this machine can map.
    #[error("{object}: the object's size {size} cannot be mapped on this machine")]
    TooLargeToMap {
        /// The object.
        object: String,
        /// The object's size in bytes.
        size: u64,
    },
    /// The object changed between two requests of one fetch (its ETag no longer matches).
    #[error("{object}: the object changed while it was being fetched")]
    Changed {
        /// The object.
        object: String,
    },
    /// A response did not match the request: a wrong or missing `Content-Range`, a body of
    /// the wrong length, a total length that differs between requests.
    #[error("{object}: bad response to range {range}: {what}")]
    BadResponse {
        /// The object.
        object: String,
        /// The requested range, as sent.
        range: String,
        /// What was wrong.
        what: String,
    },
    /// The request or the body stream failed: connection, timeout, throttling, another
    /// S3 error.
    #[error("{object}: request for range {range} failed: {detail}")]
    Request {
        /// The object.
        object: String,
        /// The requested range, as sent.
        range: String,
        /// The error and its causes.
        detail: String,
    },
    /// The body stalled: no data for longer than the stall timeout.
    #[error("{object}: no data for {seconds} s on range {range}")]
    Stalled {
        /// The object.
        object: String,
        /// The requested range, as sent.
        range: String,
        /// The stall timeout.
        seconds: u64,
    },
    /// The temp file could not be created, sized or mapped.
    #[error("{object}: temp file in {dir}: {source}")]
    TempFile {
        /// The object.
        object: String,
        /// The temp directory.
        dir: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The artifact's bytes were refused by the zip reader while locating its central
    /// directory or selecting its migrations (selective mode).
    #[error("{object}: {source}")]
    Zip {
        /// The object.
        object: String,
        /// Why the reader refused it.
        source: ZipError,
    },
}

impl FetchError {
    /// Whether the artifact's bytes are at fault (refused by the reader, or naming far
    /// more data than reading its migrations needs), as opposed to S3, the network or
    /// the temp directory.
    pub fn is_bad_artifact(&self) -> bool {
        matches!(self, FetchError::Zip { .. } | FetchError::OverBudget { .. })
    }
}
