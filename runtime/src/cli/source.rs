//! Opening `--source` for every subcommand: a local zip artifact or directory, or an S3
//! object `s3://bucket/key` (feature `s3`), fetched through the engine's [`engine::fetch`]
//! into a mapped temp file, the same code the Lambda functions use.
//!
//! For S3 sources the client honours `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_S3` (a local
//! S3 server), the default credential chain and `AWS_REGION`; `FETCH_MODE` (`full`,
//! `selective`, `auto`; default `auto`) and `FETCH_TMP_CAPACITY` (bytes of temp space a
//! full download may use; default 512 MiB) tune the download.

use engine::source::Source;
use serde::Serialize;

use super::{Failure, SourceArgs};

/// An opened source, and what fetching it cost when it came from S3.
pub struct Opened {
    /// The migrations' source.
    pub source: Source,
    /// The fetch's cost, for S3 sources.
    pub fetch: Option<FetchSummary>,
}

/// What fetching an S3 source cost: the `fetch` object of `--json` reports.
#[derive(Debug, Clone, Serialize)]
pub struct FetchSummary {
    /// The object, `s3://bucket/key`.
    pub object: String,
    /// `full` or `selective`.
    pub mode: String,
    /// The object's size in bytes.
    pub object_size: u64,
    /// Body bytes received.
    pub bytes_fetched: u64,
    /// GET requests sent.
    pub requests: u64,
    /// Wall time of the fetch in milliseconds.
    pub duration_ms: u64,
}

impl FetchSummary {
    /// One line for stderr.
    pub fn human(&self) -> String {
        format!(
            "fetched {}: {} mode, {} of {} bytes in {} request(s), {} ms",
            self.object,
            self.mode,
            self.bytes_fetched,
            self.object_size,
            self.requests,
            self.duration_ms
        )
    }
}

/// Opens `args.source`: `s3://bucket/key` is fetched from S3; anything else is a local
/// zip artifact or directory. Failures are bad input (nothing was applied).
pub fn open_source(args: &SourceArgs) -> Result<Opened, Failure> {
    if let Some(url) = args.source.to_str().filter(|s| s.starts_with("s3://")) {
        return open_s3(url, args);
    }
    let source = Source::open(&args.source, &args.limits()).map_err(Failure::bad_input)?;
    Ok(Opened {
        source,
        fetch: None,
    })
}

#[cfg(not(feature = "s3"))]
fn open_s3(url: &str, _args: &SourceArgs) -> Result<Opened, Failure> {
    Err(Failure::bad_input(format!(
        "{url}: this build has no S3 support (build with the `s3` feature)"
    )))
}

#[cfg(feature = "s3")]
fn open_s3(url: &str, args: &SourceArgs) -> Result<Opened, Failure> {
    use engine::fetch::{self, FetchOptions, Mode, ObjectRef};

    let object = ObjectRef::parse(url).map_err(Failure::bad_input)?;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let defaults = FetchOptions::default();
    let mode = match env("FETCH_MODE").as_deref().map(str::trim) {
        None | Some("auto") => Mode::Auto,
        Some("full") => Mode::Full,
        Some("selective") => Mode::Selective,
        Some(other) => {
            return Err(Failure::bad_input(format!(
                "FETCH_MODE={other:?}: expected full, selective or auto"
            )));
        }
    };
    let tmp_capacity = match env("FETCH_TMP_CAPACITY") {
        None => defaults.tmp_capacity,
        Some(v) => v.trim().parse().map_err(|_| {
            Failure::bad_input(format!(
                "FETCH_TMP_CAPACITY={v:?}: expected a number of bytes"
            ))
        })?,
    };
    let opts = FetchOptions {
        mode,
        tmp_capacity,
        dir: args.dir.clone(),
        limits: args.limits(),
        ..defaults
    };
    // The CLI is synchronous: a current-thread runtime lives just for the fetch.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::bad_input(format!("{url}: cannot start the I/O runtime: {e}")))?;
    let fetched = runtime
        .block_on(async {
            let client = fetch::s3_client(None, None).await;
            fetch::fetch(&client, &object, &opts).await
        })
        .map_err(Failure::bad_input)?;
    let stats = &fetched.stats;
    let summary = FetchSummary {
        object: object.to_string(),
        mode: stats.mode.to_string(),
        object_size: stats.object_size,
        bytes_fetched: stats.bytes_fetched,
        requests: stats.requests,
        duration_ms: stats.duration_ms,
    };
    Ok(Opened {
        source: fetched.into_source(&object),
        fetch: Some(summary),
    })
}
