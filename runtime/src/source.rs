//! Opening the migrations' source, the same way for every front end: a local zip
//! artifact or directory, an S3 object (feature `s3`, fetched through
//! [`engine::fetch`] into a mapped temp file), or a zip sent inline in a migrator event.
//!
//! The fetch is tuned by `FETCH_MODE` (`full`, `selective`, `auto`; default `auto`) and
//! `TMP_CAPACITY_MB` (temp space a full download may use; default 512, Lambda's default
//! ephemeral storage), wherever it runs.

use std::path::Path;

use engine::command::FetchSummary;
use engine::source::Source;
use engine::{Limits, SourceError};

/// An opened source, and what fetching it cost when it came from S3.
pub struct Opened {
    /// The migrations' source.
    pub source: Source,
    /// The fetch's cost, for S3 sources.
    pub fetch: Option<FetchSummary>,
}

/// The reader limits, with `MAX_FILE_SIZE_MB` and `MAX_TOTAL_SIZE_MB` read through `var`
/// (the Lambdas' settings; the CLI has flags).
pub fn limits_from_env(var: impl Fn(&str) -> Option<String>) -> Result<Limits, String> {
    let mut limits = Limits::default();
    for (name, field) in [
        ("MAX_FILE_SIZE_MB", &mut limits.max_file_size),
        ("MAX_TOTAL_SIZE_MB", &mut limits.max_total_size),
    ] {
        if let Some(v) = var(name).filter(|v| !v.trim().is_empty()) {
            let mb: u64 = v
                .trim()
                .parse()
                .map_err(|_| format!("{name}={v:?}: expected a whole number"))?;
            *field = mb.saturating_mul(1 << 20);
        }
    }
    Ok(limits)
}

/// Opens a local zip artifact or directory.
pub fn open_local(path: &Path, limits: &Limits) -> Result<Opened, SourceError> {
    Ok(Opened {
        source: Source::open(path, limits)?,
        fetch: None,
    })
}

#[cfg(feature = "s3")]
pub use s3::{fetch, fetch_options, open_blocking};

#[cfg(feature = "s3")]
mod s3 {
    use engine::fetch::{self, FetchError, FetchOptions, Mode, ObjectRef, StaticCredentials};

    use super::*;

    /// The fetch options for `dir` and `limits`, with `FETCH_MODE` and `TMP_CAPACITY_MB`
    /// read through `var`.
    pub fn fetch_options(
        dir: &str,
        limits: &Limits,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<FetchOptions, String> {
        let env = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let defaults = FetchOptions::default();
        let mode = match env("FETCH_MODE").as_deref().map(str::trim) {
            None | Some("auto") => Mode::Auto,
            Some("full") => Mode::Full,
            Some("selective") => Mode::Selective,
            Some(other) => {
                return Err(format!(
                    "FETCH_MODE={other:?}: expected full, selective or auto"
                ));
            }
        };
        let tmp_capacity = match env("TMP_CAPACITY_MB") {
            None => defaults.tmp_capacity,
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map_err(|_| format!("TMP_CAPACITY_MB={v:?}: expected a whole number"))?
                .saturating_mul(1 << 20),
        };
        Ok(FetchOptions {
            mode,
            tmp_capacity,
            dir: dir.to_owned(),
            limits: limits.clone(),
            ..defaults
        })
    }

    /// Fetches `object` (with `credentials`, or the default chain) into a mapped source.
    pub async fn fetch(
        object: &ObjectRef,
        credentials: Option<StaticCredentials>,
        region: Option<String>,
        opts: &FetchOptions,
    ) -> Result<Opened, FetchError> {
        let client = fetch::s3_client(credentials, region).await;
        let fetched = fetch::fetch(&client, object, opts).await?;
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
            source: fetched.into_source(object),
            fetch: Some(summary),
        })
    }

    /// Opens `path` for a synchronous caller: `s3://bucket/key` is fetched on a
    /// current-thread runtime that lives just for the fetch; anything else is local.
    pub fn open_blocking(
        path: &Path,
        dir: &str,
        limits: &Limits,
    ) -> Result<Opened, engine::command::CommandError> {
        use engine::command::CommandError;
        let Some(url) = path.to_str().filter(|s| s.starts_with("s3://")) else {
            return Ok(open_local(path, limits)?);
        };
        let object =
            ObjectRef::parse(url).map_err(|e| CommandError::Configuration(e.to_string()))?;
        let opts = fetch_options(dir, limits, |k| std::env::var(k).ok())
            .map_err(CommandError::Configuration)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                CommandError::Configuration(format!("{url}: cannot start the I/O runtime: {e}"))
            })?;
        Ok(runtime.block_on(fetch(&object, None, None, &opts))?)
    }
}
