//! Reading the artifact from S3 through the engine's fetch, into a [`Source`].

use engine::fetch::{self, FetchError, FetchOptions, Mode, ObjectRef, StaticCredentials};
use engine::source::Source;

use super::event::{ArtifactCredentials, FetchReport};

/// The fetch mode named by `FETCH_MODE` (`full`, `selective`, `auto`; default `auto`).
pub fn mode_from_env(value: Option<&str>) -> Result<Mode, String> {
    match value.map(str::trim).unwrap_or("") {
        "" | "auto" => Ok(Mode::Auto),
        "full" => Ok(Mode::Full),
        "selective" => Ok(Mode::Selective),
        other => Err(format!(
            "FETCH_MODE={other:?}: expected full, selective or auto"
        )),
    }
}

/// Fetches `s3://bucket/key` (with `credentials`, or the default chain) into a mapped
/// source, and says how. `dir` is the migrations folder the selective mode selects;
/// `tmp_capacity` the temp space a full download may use (default: Lambda's 512 MiB).
pub async fn fetch_source(
    object: &ObjectRef,
    credentials: Option<&ArtifactCredentials>,
    region: Option<&str>,
    dir: &str,
    mode: Mode,
    tmp_capacity: Option<u64>,
) -> Result<(Source, FetchReport), FetchError> {
    let client = fetch::s3_client(
        credentials.map(|c| StaticCredentials {
            access_key_id: c.access_key_id.clone(),
            secret_access_key: c.secret_access_key.clone(),
            session_token: c.session_token.clone(),
        }),
        region.map(str::to_owned),
    )
    .await;
    let mut opts = FetchOptions {
        mode,
        dir: dir.to_owned(),
        ..FetchOptions::default()
    };
    if let Some(capacity) = tmp_capacity {
        opts.tmp_capacity = capacity;
    }
    let fetched = fetch::fetch(&client, object, &opts).await?;
    let report = FetchReport {
        object: object.to_string(),
        mode: fetched.stats.mode.to_string(),
        object_bytes: fetched.stats.object_size,
        bytes_fetched: fetched.stats.bytes_fetched,
        requests: fetched.stats.requests,
        duration_ms: fetched.stats.duration_ms,
    };
    Ok((fetched.into_source(object), report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_modes_parse() {
        assert_eq!(mode_from_env(None), Ok(Mode::Auto));
        assert_eq!(mode_from_env(Some("full")), Ok(Mode::Full));
        assert_eq!(mode_from_env(Some(" selective ")), Ok(Mode::Selective));
        assert!(mode_from_env(Some("fast")).is_err());
    }
}
