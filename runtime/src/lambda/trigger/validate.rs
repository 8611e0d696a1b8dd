//! Validating the artifact before the database is touched: every migration parsed.

use engine::Limits;
use engine::command::{self, CommandError, Input};
use engine::fetch::{FetchError, ObjectRef, StaticCredentials};
use engine::source::Source;
use tracing::info;

use super::config::Clients;
use super::job::Job;

/// Fetches and parses the artifact; returns its set digest and migration count.
pub(super) async fn validate(
    clients: &Clients,
    job: &Job,
    dir: &str,
) -> Result<(String, usize), String> {
    let limits = crate::source::limits_from_env(|k| std::env::var(k).ok())?;
    let object = ObjectRef {
        bucket: job.bucket.clone(),
        key: job.key.clone(),
    };
    let opts = crate::source::fetch_options(dir, &limits, |k| std::env::var(k).ok())?;
    let credentials = job.credentials.as_ref().map(|c| StaticCredentials {
        access_key_id: c.access_key_id.clone(),
        secret_access_key: c.secret_access_key.clone(),
        session_token: c.session_token.clone(),
    });
    let opened = crate::source::fetch(&object, credentials, clients.region.clone(), &opts)
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
    check(&opened.source, dir, &limits)
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
