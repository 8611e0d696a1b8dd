//! Everything the artifact reader refuses, one variant per reason.
//!
//! Entry-specific variants carry the entry's name (lossily decoded: it may not be UTF-8),
//! built only when the error is: the happy path never allocates for names.

/// A refusal from the zip reader; entry-specific variants name the entry.
#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    /// The archive is cut short.
    #[error("truncated archive: {0}")]
    Truncated(&'static str),
    /// No end-of-central-directory record in the last 64 KiB + 22 bytes.
    #[error("not a zip archive: no end-of-central-directory record")]
    NoEndRecord,
    /// An end-of-central-directory record was found but its comment does not end exactly
    /// at the end of the file (trailing data, or a cut comment).
    #[error(
        "end-of-central-directory record at offset {offset}: its comment does not end at the end of the file"
    )]
    CommentMismatch {
        /// Offset of the record.
        offset: u64,
    },
    /// Two end-of-central-directory records are both valid: an archive is hidden in the
    /// comment of another, and readers disagree on which one they see.
    #[error(
        "ambiguous archive: valid end-of-central-directory records at offsets {first} and {second}"
    )]
    Ambiguous {
        /// Offset of the record nearer the end of the file.
        first: u64,
        /// Offset of the other valid record.
        second: u64,
    },
    /// An end-of-central-directory signature sits after the start of the record we would
    /// use (in its comment, or overlapping it): Python, Go and Info-ZIP take the last
    /// signature, so they would read another archive, or fail.
    #[error(
        "end-of-central-directory signature at offset {signature} lies inside the comment of the record at offset {record}: other zip readers take the last one"
    )]
    EndRecordInComment {
        /// Offset of the record whose comment ends at the end of the file.
        record: u64,
        /// Offset of the last signature.
        signature: u64,
    },
    /// The ZIP64 end-of-central-directory record is not exactly 56 bytes: extensible
    /// data (or a forged size). Python reads the 56 bytes just before the locator as the
    /// record, which extensible data can forge.
    #[error(
        "the ZIP64 end-of-central-directory record declares {size} bytes after its size field, not 44: extensible data that readers assuming none read differently"
    )]
    Zip64ExtensibleData {
        /// The record's declared size (after the size field).
        size: u64,
    },
    /// The ZIP64 locator names an offset that holds no ZIP64 end-of-central-directory record.
    #[error(
        "no ZIP64 end-of-central-directory record at offset {offset} named by the ZIP64 locator"
    )]
    Zip64RecordMissing {
        /// The offset the locator names.
        offset: u64,
    },
    /// A field of the end-of-central-directory record is neither the ZIP64 sentinel nor
    /// equal to the ZIP64 record's value.
    #[error("end-of-central-directory field {field} disagrees with the ZIP64 record")]
    Zip64Mismatch {
        /// The field.
        field: &'static str,
    },
    /// No central-directory header at the offset the end records name: bytes were
    /// prepended to the archive (every offset shifted) or the layout is forged.
    #[error(
        "no central-directory header at offset {offset} named by the end record (data prepended or offsets shifted)"
    )]
    NoCentralDirectory {
        /// The offset the end records name.
        offset: u64,
    },
    /// The parts of the archive are not laid out back to back: the central directory does
    /// not end where the end records begin, or the ZIP64 record does not end at its
    /// locator (junk between them, or data prepended).
    #[error("bad layout: {what} (expected offset {expected}, found {found})")]
    BadLayout {
        /// Which boundary is wrong.
        what: &'static str,
        /// Where the boundary should be.
        expected: u64,
        /// Where the archive puts it.
        found: u64,
    },
    /// The archive spans several disks (a split archive).
    #[error("multi-disk (split) archives are not supported")]
    MultiDisk,
    /// The declared entry count cannot fit in the declared central-directory size.
    #[error("declared {declared} entries cannot fit in a central directory of {cd_size} bytes")]
    TooManyEntries {
        /// The declared number of entries.
        declared: u64,
        /// The declared central-directory size.
        cd_size: u64,
    },
    /// The central directory holds a different number of entries than declared.
    #[error("the end record declares {declared} entries but the central directory holds {found}")]
    EntryCountMismatch {
        /// The declared number.
        declared: u64,
        /// The number walked (at least this many when more than declared).
        found: u64,
    },
    /// A central-directory header is missing its signature or runs past the directory.
    #[error("bad central-directory header at offset {offset}")]
    BadCentralHeader {
        /// Offset of the header.
        offset: u64,
    },
    /// A ZIP64 extended-information extra field is missing or too short for the values
    /// whose 32-bit fields are the sentinel.
    #[error("{name}: missing or short ZIP64 extra field")]
    BadZip64Extra {
        /// The entry.
        name: String,
    },
    /// An entry's bytes lie outside the file.
    #[error("{name}: entry lies outside the file")]
    OutOfBounds {
        /// The entry.
        name: String,
    },
    /// An entry's bytes run into the central directory.
    #[error("{name}: entry overlaps the central directory")]
    OverlapsCentralDirectory {
        /// The entry.
        name: String,
    },
    /// A selected entry's bytes overlap another entry's (overlapping-file zip bomb, or two
    /// records sharing one local header).
    #[error("{name}: entry overlaps another entry whose local header is at offset {other_offset}")]
    Overlap {
        /// The selected entry.
        name: String,
        /// Local-header offset of the entry it overlaps.
        other_offset: u64,
    },
    /// The entry is encrypted.
    #[error("{name}: entry is encrypted")]
    Encrypted {
        /// The entry.
        name: String,
    },
    /// The entry uses a compression method other than stored (0) or deflate (8).
    #[error("{name}: unsupported compression method {method}")]
    UnsupportedMethod {
        /// The entry.
        name: String,
        /// The method number.
        method: u16,
    },
    /// The entry is a symbolic link.
    #[error("{name}: entry is a symbolic link")]
    Symlink {
        /// The entry.
        name: String,
    },
    /// The entry's path is absolute (leading '/' or a drive letter).
    #[error("{name}: absolute path (other tools may extract it into the migrations folder)")]
    AbsolutePath {
        /// The entry.
        name: String,
    },
    /// The entry's path has a ".." component.
    #[error(
        "{name}: path has a '..' component (other tools may extract it into the migrations folder)"
    )]
    ParentComponent {
        /// The entry.
        name: String,
    },
    /// The entry's path has a backslash.
    #[error("{name}: path has a backslash (Windows tools read it as a folder separator)")]
    Backslash {
        /// The entry.
        name: String,
    },
    /// The entry's path has a NUL byte.
    #[error("{name:?}: path has a NUL byte (other tools cut the name there)")]
    NulInName {
        /// The entry.
        name: String,
    },
    /// An entry that falls under (or, read by some tool, resolves into) the migrations
    /// folder has a `.` or empty path segment.
    #[error("{name}: path has {what}; other tools may extract it into the migrations folder")]
    NotCanonical {
        /// The entry, as stored.
        name: String,
        /// The non-canonical part.
        what: &'static str,
    },
    /// A selected entry's name is not ASCII and the UTF-8 flag is not set.
    #[error(
        "{name}: name is not ASCII and the entry lacks the UTF-8 flag (other tools decode it as CP437)"
    )]
    NameEncoding {
        /// The entry.
        name: String,
    },
    /// An entry's Info-ZIP Unicode Path extra field names another path, and one of the
    /// two reaches the migrations folder.
    #[error("{name}: its Unicode Path extra field names {other:?}, which unzip extracts instead")]
    UnicodePathMismatch {
        /// The entry, as stored.
        name: String,
        /// The name in the extra field.
        other: String,
    },
    /// Two selected entries have the same name.
    #[error("{name}: duplicate entry in the migrations folder")]
    Duplicate {
        /// The entry.
        name: String,
    },
    /// A selected entry's name is not valid UTF-8.
    #[error("{name}: entry name is not valid UTF-8")]
    NotUtf8 {
        /// The name, lossily decoded.
        name: String,
    },
    /// A selected entry's declared uncompressed size is above the limit.
    #[error("{name}: declared size {size} is above the limit of {limit} bytes")]
    TooLarge {
        /// The entry.
        name: String,
        /// The declared uncompressed size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A deflated entry declares more compressed bytes than any deflate stream of its
    /// size needs ([`super::max_stream`]): padding other readers may treat differently.
    #[error(
        "{name}: declares {compressed} compressed bytes for {uncompressed} bytes, more than \
         any deflate stream of it needs (padding after the stream)"
    )]
    PaddedStream {
        /// The entry.
        name: String,
        /// Declared compressed size.
        compressed: u64,
        /// Declared uncompressed size.
        uncompressed: u64,
    },
    /// A selected entry declares more expansion than deflate can produce (1,032:1).
    #[error("{name}: compression ratio {uncompressed}/{compressed} is above deflate's maximum")]
    RatioTooHigh {
        /// The entry.
        name: String,
        /// Declared compressed size.
        compressed: u64,
        /// Declared uncompressed size.
        uncompressed: u64,
    },
    /// The selected files together declare more bytes than the budget.
    #[error("the migration files declare {total} bytes in all, above the budget of {limit} bytes")]
    TotalTooLarge {
        /// Sum of the declared uncompressed sizes, up to the entry that crossed the budget.
        total: u64,
        /// The budget.
        limit: u64,
    },
    /// More selected files than the limit.
    #[error("more than {limit} migration files")]
    TooManyFiles {
        /// The limit.
        limit: usize,
    },
    /// A stored entry's compressed and uncompressed sizes differ.
    #[error(
        "{name}: stored entry with compressed size {compressed} != uncompressed size {uncompressed}"
    )]
    StoredSizeMismatch {
        /// The entry.
        name: String,
        /// Declared compressed size.
        compressed: u64,
        /// Declared uncompressed size.
        uncompressed: u64,
    },
    /// No local file header at the offset the central record names.
    #[error("{name}: no local file header at offset {offset}")]
    LocalHeaderMissing {
        /// The entry.
        name: String,
        /// The offset the central record names.
        offset: u64,
    },
    /// The local header disagrees with the central record.
    #[error("{name}: local header {field} differs from the central directory")]
    LocalMismatch {
        /// The entry.
        name: String,
        /// The field that differs.
        field: &'static str,
    },
    /// The data descriptor is missing or disagrees with the central record.
    #[error("{name}: data descriptor missing or differs from the central directory")]
    DataDescriptorMismatch {
        /// The entry.
        name: String,
    },
    /// The deflate stream is corrupt or cut short.
    #[error("{name}: bad deflate data: {reason}")]
    Inflate {
        /// The entry.
        name: String,
        /// What went wrong.
        reason: String,
    },
    /// Bytes follow the end of an entry's deflate stream within its declared compressed
    /// size (a second stream, or a hidden entry a streaming reader would see).
    #[error("{name}: {extra} bytes follow the end of the deflate stream")]
    TrailingData {
        /// The entry.
        name: String,
        /// Bytes between the stream's end and the declared compressed size.
        extra: u64,
    },
    /// Bytes lie between the end of a selected entry and whatever follows it (the next
    /// entry's local header, or the central directory).
    #[error("{name}: {gap} unaccounted bytes between the end of this entry and the next")]
    Gap {
        /// The entry.
        name: String,
        /// Bytes between the entry's end and the next entry or the central directory.
        gap: u64,
    },
    /// The deflate stream ends before the declared size.
    #[error("{name}: inflated to {actual} bytes, declared {declared}")]
    InflatedShorter {
        /// The entry.
        name: String,
        /// Declared uncompressed size.
        declared: u64,
        /// Bytes produced.
        actual: u64,
    },
    /// The deflate stream produces more than the declared size.
    #[error("{name}: inflates to more than the declared {declared} bytes")]
    InflatedLonger {
        /// The entry.
        name: String,
        /// Declared uncompressed size.
        declared: u64,
    },
    /// The entry's CRC-32 does not match.
    #[error("{name}: CRC-32 {actual:08x} does not match the declared {expected:08x}")]
    CrcMismatch {
        /// The entry.
        name: String,
        /// Declared CRC-32.
        expected: u32,
        /// CRC-32 of the data read.
        actual: u32,
    },
}

/// An entry name for messages: lossy, so non-UTF-8 names still show.
pub(crate) fn lossy(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}
