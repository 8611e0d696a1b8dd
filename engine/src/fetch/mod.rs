//! Fetching a zip artifact from S3 into a memory-mapped temp file (feature `s3`).
//!
//! [`fetch`] sizes an unlinked temp file under [`FetchOptions::tmp_dir`] to the object's
//! length, maps it writable, streams ranged GET bodies straight into the mapping, and hands
//! back the read-only map ([`Fetched::map`]): the artifact reader then works on it exactly
//! as on a local file ([`Fetched::into_source`]). Nothing is left in the temp directory.
//!
//! Two ways to fill the file ([`Mode`]):
//! - **Full**: the whole object, in parts of [`FetchOptions::part_size`] fetched
//!   [`FetchOptions::parallelism`] at a time. Needs the object's size in temp space, so it
//!   is refused ([`FetchError::TooLargeForTmp`]) above [`FetchOptions::tmp_capacity`].
//! - **Selective**: only what reading the migrations needs, and everything the reader
//!   judges, so that it decides exactly as on the whole object. The first request GETs
//!   the tail (`Range: bytes=-N`, which also gives the total length); then the reader is
//!   asked which ranges its end-record decision reads
//!   ([`eocd::wanted`](crate::artifact::eocd::wanted): the ZIP64 record and central
//!   directory of every candidate end record), those are fetched, and it is
//!   asked again until it wants nothing missing. The reader then selects the migrations
//!   folder's entries, and one more round GETs their byte ranges (neighbours coalesced
//!   into one request, requests issued in parallel). Everything fetched counts against
//!   [`FetchOptions::selective_budget`]; one entry pulls at most what a deflate stream of
//!   its uncompressed size can need. The file is sparse: its size is the object's, its
//!   disk use what was fetched.
//!
//! Disk space is checked against the temp filesystem's free space and reserved
//! (`fallocate`) before any byte is written through the map, so a full disk is an error
//! ([`FetchError::NoSpace`]), never a SIGBUS.
//!
//! [`Mode::Auto`] (the default) is selective from [`FetchOptions::selective_threshold`]
//! up. Every fetch reports what it cost in [`FetchStats`].
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use engine::fetch::{FetchOptions, ObjectRef, fetch, s3_client};
//! let client = s3_client(None, None, None).await;
//! // `--source s3://…` is parsed once, by `engine::source::SourceSpec`.
//! let object = ObjectRef { bucket: "artifacts".into(), key: "pipeline/source.zip".into() };
//! let opts = FetchOptions::default();
//! let fetched = fetch(&client, &object, &opts).await?;
//! eprintln!("{} bytes in {} requests", fetched.stats.bytes_fetched, fetched.stats.requests);
//! let source = fetched.into_source(&object);
//! let files = source.files(&opts.dir, &opts.limits)?;
//! # let _ = files; Ok(()) }
//! ```
//!
//! The future needs a tokio runtime with the time driver enabled (the SDK's timeouts and
//! the stall timeout use it); a current-thread runtime is enough.

mod error;
mod get;
mod ranges;
mod selective;
mod space;

use std::fmt;
use std::fs::File;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use serde::Serialize;

pub use error::FetchError;

use crate::artifact::Limits;
use crate::mapped::{Mapped, MappedMut};
use crate::source::Source;
use get::Ctx;
use ranges::{Have, split};
use selective::selective;

/// Bytes GET from the end of the object first: the longest end-of-central-directory
/// record (22 bytes plus a 65,535-byte comment), the ZIP64 locator (20) and the fixed
/// ZIP64 record (56).
pub const TAIL_LEN: u64 = 22 + 0xFFFF + 20 + 56;

/// Smallest part size used, whatever the options say, to keep request counts sane.
const MIN_PART: u64 = 64 * 1024;

/// An S3 object: `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// The bucket name.
    pub bucket: String,
    /// The object key (may contain slashes).
    pub key: String,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// How much of the object to download.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The whole object (refused above [`FetchOptions::tmp_capacity`]).
    Full,
    /// Only the tail, the central directory and the migrations' entries.
    Selective,
    /// Selective from [`FetchOptions::selective_threshold`] up, full below.
    Auto,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Full => "full",
            Mode::Selective => "selective",
            Mode::Auto => "auto",
        })
    }
}

/// How [`fetch`] downloads. `Default` suits a Lambda function with its default /tmp.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Full, selective, or chosen by size (default [`Mode::Auto`]).
    pub mode: Mode,
    /// Objects of at least this many bytes are fetched selectively in [`Mode::Auto`]
    /// (default 8 MiB).
    pub selective_threshold: u64,
    /// Where the temp file is created (and at once unlinked): `TMPDIR`, else `/tmp`.
    pub tmp_dir: PathBuf,
    /// Temp space a full download may use (default 512 MiB, Lambda's default /tmp). The
    /// selective mode's file is sparse and needs only what it fetches.
    pub tmp_capacity: u64,
    /// Size of each ranged GET when a large range is split for parallel requests
    /// (default 8 MiB; at least 64 KiB is used).
    pub part_size: u64,
    /// Most requests in flight at once (default 4).
    pub parallelism: usize,
    /// The migrations folder inside the artifact, for the selective mode's selection
    /// (default `migrations`); the same value must be given to the reader.
    pub dir: String,
    /// The reader's limits, for the selective mode's selection.
    pub limits: Limits,
    /// A request fails when its response or body yields nothing for this long
    /// (default 30 s), so a stalled connection cannot hang the fetch.
    pub stall_timeout: Duration,
    /// Most bytes the selective mode downloads in all, end records, candidate directories
    /// and entries included (default 256 MiB: a central directory of a million entries
    /// and a large migrations folder fit many times over). Beyond it the fetch is refused
    /// ([`FetchError::OverBudget`]) before the request is sent.
    pub selective_budget: u64,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            mode: Mode::Auto,
            selective_threshold: 8 << 20,
            tmp_dir: std::env::temp_dir(),
            tmp_capacity: crate::settings::table::TMP_CAPACITY.default.size(),
            part_size: 8 << 20,
            parallelism: 4,
            dir: crate::settings::DEFAULT_FOLDER.into(),
            limits: Limits::default(),
            stall_timeout: Duration::from_secs(30),
            selective_budget: 256 << 20,
        }
    }
}

/// What a fetch cost.
#[derive(Debug, Clone, Serialize)]
pub struct FetchStats {
    /// The mode used: [`Mode::Full`] or [`Mode::Selective`] (never `Auto`).
    pub mode: Mode,
    /// The object's size in bytes.
    pub object_size: u64,
    /// Body bytes received.
    pub bytes_fetched: u64,
    /// GET requests sent.
    pub requests: u64,
    /// Wall time of the whole fetch, in milliseconds.
    pub duration_ms: u64,
}

/// A fetched artifact: the read-only map of its (unlinked) temp file.
pub struct Fetched {
    /// The object's bytes at their offsets. In selective mode, bytes that were not
    /// fetched read as zeros; the reader never looks at them.
    pub map: Mapped,
    /// The object's length (the map's length).
    pub len: u64,
    /// What the fetch cost.
    pub stats: FetchStats,
}

impl Fetched {
    /// The artifact as a [`Source`], named `s3://bucket/key` in messages.
    pub fn into_source(self, object: &ObjectRef) -> Source {
        Source::Zip {
            path: PathBuf::from(object.to_string()),
            map: self.map,
        }
    }
}

/// Explicit credentials, e.g. the `artifactCredentials` CodePipeline hands a job.
#[derive(Clone)]
pub struct StaticCredentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token, for temporary credentials.
    pub session_token: Option<String>,
}

impl fmt::Debug for StaticCredentials {
    // Never print secrets, even in debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Builds an S3 client: `credentials` if given, else the default chain (environment,
/// profile, web identity, container, instance metadata); `region` if given, else the
/// environment's, else `us-east-1`. A custom `endpoint` (the caller reads
/// `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`: a local S3 server in tests) is used with
/// path-style addressing.
pub async fn s3_client(
    credentials: Option<StaticCredentials>,
    region: Option<String>,
    endpoint: Option<String>,
) -> Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(c) = credentials {
        loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
            c.access_key_id,
            c.secret_access_key,
            c.session_token,
            None,
            "lambda-migrate-static",
        ));
    }
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r));
    }
    let shared = loader.load().await;
    let mut config = aws_sdk_s3::config::Builder::from(&shared);
    if shared.region().is_none() {
        config = config.region(aws_config::Region::from_static("us-east-1"));
    }
    if let Some(url) = endpoint.filter(|u| !u.is_empty()) {
        // Local S3 servers have no per-bucket DNS names.
        config = config.endpoint_url(url).force_path_style(true);
    }
    Client::from_conf(config.build())
}

/// Fetches `object` into an unlinked, mapped temp file: fully or selectively (see the
/// [module docs](self)). The selective mode already checks the archive's end records and
/// central directory and selects [`FetchOptions::dir`]; reading and checking the entries
/// is left to the reader (e.g. [`Source::files`] on [`Fetched::into_source`]).
pub async fn fetch(
    client: &Client,
    object: &ObjectRef,
    opts: &FetchOptions,
) -> Result<Fetched, FetchError> {
    let started = Instant::now();
    let name = object.to_string();
    let stall = opts.stall_timeout;

    // First request: the tail, which also tells the total length (Content-Range).
    let header = format!("bytes=-{TAIL_LEN}");
    let request = client
        .get_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .range(&header)
        .send();
    let first = match tokio::time::timeout(stall, request).await {
        Err(_) => {
            return Err(FetchError::Stalled {
                object: name,
                range: header,
                seconds: stall.as_secs(),
            });
        }
        // A suffix range is unsatisfiable only on an empty object: nothing to stream.
        Ok(Err(e)) if get::is_unsatisfiable(&e) => None,
        Ok(Err(e)) => return Err(get::classify(e, object, &header)),
        Ok(Ok(out)) => Some(out),
    };
    let bad = |what: String| FetchError::BadResponse {
        object: name.clone(),
        range: header.clone(),
        what,
    };
    let (start, end, len) = match &first {
        None => (0, 0, 0),
        Some(first) => match first.content_range() {
            Some(v) => get::parse_content_range(v)
                .filter(|&(_, end, total)| end == total)
                .ok_or_else(|| bad(format!("Content-Range {v:?} is not a suffix of the object")))?,
            // A server may answer a range covering the whole object with the whole object.
            None => match first.content_length().and_then(|n| u64::try_from(n).ok()) {
                Some(n) => (0, n, n),
                None => return Err(bad("neither Content-Range nor Content-Length".into())),
            },
        },
    };
    let mode = resolve(opts, len);
    if mode == Mode::Full && len > opts.tmp_capacity {
        return Err(FetchError::TooLargeForTmp {
            object: name,
            size: len,
            capacity: opts.tmp_capacity,
        });
    }
    if usize::try_from(len).is_err() || isize::try_from(len).is_err() {
        return Err(FetchError::TooLargeToMap {
            object: name,
            size: len,
        });
    }
    let (file, map) = temp_map(&name, opts, len)?;
    let ctx = Ctx {
        client,
        object,
        etag: first.as_ref().and_then(|f| f.e_tag()).map(str::to_owned),
        len,
        file,
        map: Mutex::new(map),
        requests: AtomicU64::new(1),
        bytes: AtomicU64::new(0),
        stall,
        parallelism: opts.parallelism,
        release: mode == Mode::Full,
    };
    // Full mode writes the whole file: reserve it all before the first byte.
    let first_range = if mode == Mode::Full {
        0..len
    } else {
        start..end
    };
    reserve(&ctx, opts, &[first_range])?;
    if let Some(first) = first {
        ctx.stream(first.body, start..end, &header).await?;
    }
    let mut have = Have::default();
    have.add(start..end);
    let part = opts.part_size.max(MIN_PART);
    match mode {
        Mode::Selective => selective(&ctx, &mut have, opts).await?,
        _ => ctx.get_all(split(std::iter::once(0..start), part)).await?,
    }
    let Ctx {
        map,
        requests,
        bytes,
        ..
    } = ctx;
    let map = map
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .make_read_only()
        .map_err(|source| temp_err(&name, opts, source))?;
    Ok(Fetched {
        map,
        len,
        stats: FetchStats {
            mode,
            object_size: len,
            bytes_fetched: bytes.into_inner(),
            requests: requests.into_inner(),
            duration_ms: millis(started),
        },
    })
}

/// The mode to use for an object of `len` bytes.
fn resolve(opts: &FetchOptions, len: u64) -> Mode {
    match opts.mode {
        Mode::Auto if len >= opts.selective_threshold => Mode::Selective,
        Mode::Auto => Mode::Full,
        m => m,
    }
}

/// Reserves disk space for `ranges` of the temp file before they are written.
pub(super) fn reserve(
    ctx: &Ctx<'_>,
    opts: &FetchOptions,
    ranges: &[Range<u64>],
) -> Result<(), FetchError> {
    let object = ctx.object.to_string();
    space::reserve(&ctx.file, ranges, ctx.len).map_err(|e| match e {
        space::ReserveError::NoSpace { needed, available } => FetchError::NoSpace {
            object,
            dir: opts.tmp_dir.display().to_string(),
            needed,
            available,
        },
        space::ReserveError::Io(source) => temp_err(&object, opts, source),
    })
}

/// Creates an unlinked temp file of `len` bytes (sparse) and maps it writable.
fn temp_map(name: &str, opts: &FetchOptions, len: u64) -> Result<(File, MappedMut), FetchError> {
    let err = |source| temp_err(name, opts, source);
    // tempfile() never gives the file a name that outlives the call (O_TMPFILE, or
    // create-then-unlink), so a crash leaves nothing behind in the temp directory.
    let file = tempfile::tempfile_in(&opts.tmp_dir).map_err(err)?;
    file.set_len(len).map_err(err)?;
    let map = MappedMut::from_file(&file).map_err(err)?;
    Ok((file, map))
}

fn temp_err(name: &str, opts: &FetchOptions, source: std::io::Error) -> FetchError {
    FetchError::TempFile {
        object: name.to_owned(),
        dir: opts.tmp_dir.display().to_string(),
        source,
    }
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_refs_display_as_urls() {
        let o = ObjectRef {
            bucket: "b".into(),
            key: "k/with/slashes.zip".into(),
        };
        assert_eq!(o.to_string(), "s3://b/k/with/slashes.zip");
    }

    #[test]
    fn auto_mode_switches_at_threshold() {
        let opts = FetchOptions {
            selective_threshold: 100,
            ..FetchOptions::default()
        };
        assert_eq!(resolve(&opts, 99), Mode::Full);
        assert_eq!(resolve(&opts, 100), Mode::Selective);
        let full = FetchOptions {
            mode: Mode::Full,
            ..opts
        };
        assert_eq!(resolve(&full, 1 << 40), Mode::Full);
    }

    #[test]
    fn credentials_debug_hides_secrets() {
        let c = StaticCredentials {
            access_key_id: "AKID".into(),
            secret_access_key: "very-secret".into(),
            session_token: Some("token-secret".into()),
        };
        let s = format!("{c:?}");
        assert!(s.contains("AKID") && !s.contains("secret\"") && !s.contains("very-secret"));
        assert!(!s.contains("token-secret"));
    }
}
