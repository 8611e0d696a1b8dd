//! Validating the artifact before the database is touched: every migration parsed.

use engine::Limits;
use engine::command::{self, CommandError, Input};
use engine::fetch::{FetchError, FetchOptions, ObjectRef};
use engine::source::Source;
use tracing::info;

use super::config::{Clients, TriggerConfig};
use super::job::Job;
use crate::wire::ArtifactCredentials;

/// Fetches and parses the artifact; returns its set digest and migration count.
pub(super) async fn validate(
    clients: &Clients,
    config: &TriggerConfig,
    job: &Job,
    dir: &str,
) -> Result<(String, usize), String> {
    let object = ObjectRef {
        bucket: job.bucket.clone(),
        key: job.key.clone(),
    };
    let opts = FetchOptions {
        dir: dir.to_owned(),
        ..config.fetch.clone()
    };
    let credentials = job.credentials.as_ref().map(ArtifactCredentials::to_static);
    let opened = crate::open::fetch(&object, credentials, clients.region.clone(), &opts)
        .await
        .map_err(|e: FetchError| {
            if e.is_bad_artifact() {
                format!("bad artifact: {e}")
            } else {
                format!("reading the artifact failed: {e}")
            }
        })?;
    if let Some(f) = &opened.fetch {
        info!(bytes = f.bytes_fetched, requests = f.requests, mode = %f.mode, "artifact fetched");
    }
    check(&opened.source, dir, &config.limits)
}

/// Parses every migration of `source`; returns the set digest and the count.
pub fn check(source: &Source, dir: &str, limits: &Limits) -> Result<(String, usize), String> {
    let input = Input {
        source,
        dir,
        limits,
        fetch: None,
        expected_digest: None,
    };
    let done = command::verify(&input).map_err(|e| match e {
        CommandError::Migration { error, .. } => {
            format!("bad migration in {}: {error}", source.display())
        }
        e => format!("bad artifact: {e}"),
    })?;
    if done.migrations == 0 {
        return Err(format!(
            "bad artifact: {} has no migrations in {dir}/",
            source.display()
        ));
    }
    Ok((done.digest, done.migrations))
}
