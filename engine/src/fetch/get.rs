//! Ranged GETs streamed straight into the shared writable map.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStream;
use futures_util::StreamExt;

use super::{FetchError, ObjectRef};
use crate::mapped::MappedMut;

/// In full mode, pages are dropped from the resident set every this many bytes written,
/// so a 1 GB download keeps a few MiB resident rather than the whole object.
const RELEASE_STEP: u64 = 1 << 20;

/// One fetch in progress: the object, its map, and the counters for the stats.
pub(crate) struct Ctx<'a> {
    pub(crate) client: &'a Client,
    pub(crate) object: &'a ObjectRef,
    /// The ETag of the first response: later requests must see the same object.
    pub(crate) etag: Option<String>,
    /// The object's length.
    pub(crate) len: u64,
    /// The temp file behind `map`, for reserving its disk space before writes.
    pub(crate) file: std::fs::File,
    /// Locked only to copy one body chunk in, never across an await.
    pub(crate) map: Mutex<MappedMut>,
    pub(crate) requests: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) stall: Duration,
    pub(crate) parallelism: usize,
    /// Drop written pages from the resident set as the download goes (full mode).
    pub(crate) release: bool,
}

impl Ctx<'_> {
    /// The map, for reading between requests.
    pub(crate) fn lock(&self) -> MutexGuard<'_, MappedMut> {
        // A panic while holding the lock cannot leave the bytes in a state worse than
        // "not fetched yet", which the reader checks anyway.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// GETs every range, at most `parallelism` at a time, each into its place in the map.
    pub(crate) async fn get_all(
        &self,
        ranges: impl Iterator<Item = Range<u64>>,
    ) -> Result<(), FetchError> {
        let mut pending = futures_util::stream::iter(ranges.map(|r| self.get(r)))
            .buffer_unordered(self.parallelism.max(1));
        while let Some(done) = pending.next().await {
            done?;
        }
        Ok(())
    }

    /// GETs `range` (non-empty, within the object) into the map.
    async fn get(&self, range: Range<u64>) -> Result<(), FetchError> {
        let header = format!("bytes={}-{}", range.start, range.end - 1);
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut request = self
            .client
            .get_object()
            .bucket(&self.object.bucket)
            .key(&self.object.key)
            .range(&header);
        if let Some(etag) = &self.etag {
            request = request.if_match(etag);
        }
        let out = match tokio::time::timeout(self.stall, request.send()).await {
            Err(_) => return Err(self.stalled(&header)),
            Ok(Err(e)) => return Err(classify(e, self.object, &header)),
            Ok(Ok(out)) => out,
        };
        let bad = |what: String| FetchError::BadResponse {
            object: self.object.to_string(),
            range: header.clone(),
            what,
        };
        let Some(content_range) = out.content_range() else {
            return Err(bad("no Content-Range in the response".into()));
        };
        let Some((start, end, total)) = parse_content_range(content_range) else {
            return Err(bad(format!("unreadable Content-Range {content_range:?}")));
        };
        if (start, end, total) != (range.start, range.end, self.len) {
            return Err(bad(format!(
                "Content-Range {content_range:?} does not match the request (object length {})",
                self.len
            )));
        }
        self.stream(out.body, range, &header).await
    }

    /// Copies `body` into the map at `range`, checking it is exactly that long.
    pub(crate) async fn stream(
        &self,
        mut body: ByteStream,
        range: Range<u64>,
        header: &str,
    ) -> Result<(), FetchError> {
        let mut at = range.start;
        let mut released = range.start;
        loop {
            let chunk = match tokio::time::timeout(self.stall, body.next()).await {
                Err(_) => return Err(self.stalled(header)),
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    return Err(FetchError::Request {
                        object: self.object.to_string(),
                        range: header.to_owned(),
                        detail: DisplayErrorContext(&e).to_string(),
                    });
                }
                Ok(Some(Ok(chunk))) => chunk,
            };
            let n = chunk.len() as u64;
            if n > range.end - at {
                return Err(FetchError::BadResponse {
                    object: self.object.to_string(),
                    range: header.to_owned(),
                    what: format!(
                        "the body is longer than the {} bytes asked",
                        range.end - range.start
                    ),
                });
            }
            // Both ends are within the map: `range` was checked against the object's
            // length, which is the map's length, and `at + n <= range.end`.
            let (from, to) = (at as usize, (at + n) as usize);
            let mut map = self.lock();
            map[from..to].copy_from_slice(&chunk);
            at += n;
            if self.release && at - released >= RELEASE_STEP {
                // Best effort: failing to drop pages only costs memory.
                let _ = map.release(released as usize, (at - released) as usize);
                released = at;
            }
            drop(map);
            self.bytes.fetch_add(n, Ordering::Relaxed);
        }
        if at != range.end {
            return Err(FetchError::BadResponse {
                object: self.object.to_string(),
                range: header.to_owned(),
                what: format!(
                    "the body ended after {} of {} bytes",
                    at - range.start,
                    range.end - range.start
                ),
            });
        }
        if self.release && at > released {
            let _ = self
                .lock()
                .release(released as usize, (at - released) as usize);
        }
        Ok(())
    }

    fn stalled(&self, header: &str) -> FetchError {
        FetchError::Stalled {
            object: self.object.to_string(),
            range: header.to_owned(),
            seconds: self.stall.as_secs(),
        }
    }
}

/// Sorts an SDK error into the variants callers act on: missing object, denied, changed
/// during the fetch, or anything else (network, throttling, server errors).
pub(crate) fn classify(
    err: SdkError<GetObjectError>,
    object: &ObjectRef,
    range: &str,
) -> FetchError {
    let detail = DisplayErrorContext(&err).to_string();
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.as_service_error().and_then(|e| e.code());
    let object = object.to_string();
    match (status, code) {
        (_, Some("NoSuchKey" | "NoSuchBucket")) | (Some(404), _) => {
            FetchError::NotFound { object, detail }
        }
        (_, Some("AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch"))
        | (Some(403), _) => FetchError::AccessDenied { object, detail },
        (_, Some("PreconditionFailed")) | (Some(412), _) => FetchError::Changed { object },
        _ => FetchError::Request {
            object,
            range: range.to_owned(),
            detail,
        },
    }
}

/// Whether an SDK error says the range cannot be satisfied (HTTP 416): for a suffix range,
/// that means the object is empty.
pub(crate) fn is_unsatisfiable(err: &SdkError<GetObjectError>) -> bool {
    err.raw_response()
        .is_some_and(|r| r.status().as_u16() == 416)
        || err
            .as_service_error()
            .and_then(|e| e.code())
            .is_some_and(|c| c == "InvalidRange")
}

/// Parses `bytes START-END/TOTAL` into `(START, END + 1, TOTAL)`, with `START <= END <
/// TOTAL`. A `*` total or anything malformed is `None`.
pub(crate) fn parse_content_range(v: &str) -> Option<(u64, u64, u64)> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (span, total) = rest.split_once('/')?;
    let (start, end) = span.split_once('-')?;
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let (start, end, total) = (num(start)?, num(end)?, num(total)?);
    (start <= end && end < total).then_some((start, end + 1, total))
}

#[cfg(test)]
mod tests {
    use super::parse_content_range;

    #[test]
    fn content_range() {
        assert_eq!(parse_content_range("bytes 0-9/10"), Some((0, 10, 10)));
        assert_eq!(parse_content_range("bytes 90-99/100"), Some((90, 100, 100)));
        assert_eq!(parse_content_range("bytes 5-4/10"), None);
        assert_eq!(parse_content_range("bytes 0-10/10"), None);
        assert_eq!(parse_content_range("bytes 0-9/*"), None);
        assert_eq!(parse_content_range("bytes +0-9/10"), None);
        assert_eq!(parse_content_range("items 0-9/10"), None);
        assert_eq!(parse_content_range("bytes 0-99999999999999999999/1"), None);
    }
}
