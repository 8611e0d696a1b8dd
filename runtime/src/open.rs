//! Opening the migrations' source, the same way for every front end: a
//! [`SourceSpec`] parsed at the edge (a local zip artifact or directory, an S3 object
//! fetched through [`engine::fetch`] into a mapped temp file with feature `s3`, or a zip
//! sent inline in a migrator event) is opened here.
//!
//! The fetch is tuned by `FETCH_MODE` and `TMP_CAPACITY_MB` (see
//! [`crate::settings::fetch_options`]), wherever it runs.

use engine::Limits;
use engine::command::{CommandError, FetchSummary};
use engine::source::{Source, SourceSpec};

/// An opened source, and what fetching it cost when it came from S3.
pub struct Opened {
    /// The migrations' source.
    pub source: Source,
    /// The fetch's cost, for S3 sources.
    pub fetch: Option<FetchSummary>,
}

/// Opens `spec` for a synchronous caller (the CLI): a local source directly, an S3 one
/// on a current-thread runtime that lives just for the fetch (its folder `folder`), an
/// inline one from its bytes.
pub fn open_blocking(
    spec: &SourceSpec,
    folder: &str,
    limits: &Limits,
) -> Result<Opened, CommandError> {
    if let Some(local) = spec.open_local(limits) {
        return Ok(Opened {
            source: local?,
            fetch: None,
        });
    }
    match spec {
        #[cfg(feature = "s3")]
        SourceSpec::S3 { bucket, key } => {
            let env = crate::settings::var;
            let opts =
                crate::settings::fetch_options(folder, limits, &engine::settings::Env::new(&env))
                    .map_err(|e| CommandError::Configuration(e.to_string()))?;
            let object = engine::fetch::ObjectRef {
                bucket: bucket.clone(),
                key: key.clone(),
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| {
                    CommandError::Configuration(format!(
                        "{spec}: cannot start the I/O runtime: {e}"
                    ))
                })?;
            Ok(runtime.block_on(fetch(&object, None, None, &opts))?)
        }
        _ => open_other(spec, folder),
    }
}

/// Inline sources, and S3 ones in a build without S3 support.
fn open_other(spec: &SourceSpec, _folder: &str) -> Result<Opened, CommandError> {
    match spec {
        #[cfg(feature = "remote")]
        SourceSpec::Inline(zip) => Ok(Opened {
            source: crate::inline::open(zip)
                .map_err(|e| CommandError::Configuration(format!("inline source: {e}")))?,
            fetch: None,
        }),
        other => Err(CommandError::Configuration(format!(
            "{other}: this build cannot open it (build with the `s3` and `remote` features)"
        ))),
    }
}

#[cfg(feature = "s3")]
pub use s3::fetch;

#[cfg(feature = "s3")]
mod s3 {
    use engine::fetch::{self, FetchError, FetchOptions, ObjectRef, StaticCredentials};

    use super::*;

    /// Fetches `object` (with `credentials`, or the default chain) into a mapped source.
    pub async fn fetch(
        object: &ObjectRef,
        credentials: Option<StaticCredentials>,
        region: Option<String>,
        opts: &FetchOptions,
    ) -> Result<Opened, FetchError> {
        let client = fetch::s3_client(credentials, region, crate::settings::s3_endpoint()).await;
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
}

/// The migrator event that runs `request` on `spec`: an S3 source is passed by name with
/// its `folder`; a local one is sent inline as a zip of its migration files.
#[cfg(feature = "remote")]
pub fn event_for(
    request: engine::command::Request,
    spec: &SourceSpec,
    folder: &str,
    limits: &Limits,
) -> Result<crate::wire::MigratorEvent, String> {
    use crate::inline;
    let mut event = crate::wire::MigratorEvent {
        request,
        ..crate::wire::MigratorEvent::default()
    };
    match spec {
        SourceSpec::S3 { bucket, key } => {
            event.bucket_name = Some(bucket.clone());
            event.object_key = Some(key.clone());
            event.dir = Some(folder.to_owned());
        }
        SourceSpec::Inline(zip) => {
            event.inline_zip = Some(zip.clone());
            event.dir = Some(inline::DIR.into());
        }
        SourceSpec::Dir(path) | SourceSpec::Zip(path) => {
            let source = Source::open(path, limits).map_err(|e| e.to_string())?;
            let files = source.files(folder, limits).map_err(|e| e.to_string())?;
            let zip = inline::zip(&files).map_err(|e| format!("{}: {e}", path.display()))?;
            event.inline_zip = Some(aws_smithy_types::base64::encode(&zip));
            event.dir = Some(inline::DIR.into());
        }
    }
    Ok(event)
}

/// The source a migrator event names: its inline zip, or its bucket and key.
#[cfg(feature = "remote")]
pub fn event_source(
    event: &crate::wire::MigratorEvent,
) -> Result<SourceSpec, engine::source::SourceSpecError> {
    SourceSpec::from_event(
        event.bucket_name.as_deref(),
        event.object_key.as_deref(),
        event.inline_zip.as_deref(),
    )
}

/// Opens `spec` in an async caller (the migrator): S3 with `credentials` (else the
/// default chain) and `opts`, inline from its bytes, local directly.
#[cfg(feature = "remote")]
pub async fn open(
    spec: &SourceSpec,
    credentials: Option<engine::fetch::StaticCredentials>,
    opts: &engine::fetch::FetchOptions,
) -> Result<Opened, CommandError> {
    match spec {
        SourceSpec::S3 { bucket, key } => {
            let object = engine::fetch::ObjectRef {
                bucket: bucket.clone(),
                key: key.clone(),
            };
            Ok(fetch(&object, credentials, None, opts).await?)
        }
        other => match other.open_local(&opts.limits) {
            Some(local) => Ok(Opened {
                source: local?,
                fetch: None,
            }),
            None => open_other(other, &opts.dir),
        },
    }
}
