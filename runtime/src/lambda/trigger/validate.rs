//! Validating the artifact before the database is touched: every migration parsed, and
//! the set linted.

use engine::Limits;
use engine::command::Report;
use engine::command::{self, CommandError, CommandName, Frontend, Input, Request};
use engine::fetch::{FetchError, FetchOptions, ObjectRef};
use engine::lint::LintReport;
use engine::source::Source;
use tracing::info;

use super::config::{Clients, TriggerConfig};
use super::job::Job;
use crate::wire::ArtifactCredentials;

/// What validating an artifact found.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The set digest.
    pub digest: String,
    /// Migrations in the set.
    pub total: usize,
    /// The lint of the whole set.
    pub lint: LintReport,
}

/// Fetches, parses and lints the artifact.
pub(super) async fn validate(
    clients: &Clients,
    config: &TriggerConfig,
    job: &Job,
    dir: &str,
) -> Result<Checked, String> {
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

/// Parses and lints every migration of `source` (one reading of the files for both). A
/// folder with no migration is refused (the pipeline has no way to ask for an empty set),
/// saying where the artifact's `.sql` files are.
pub fn check(source: &Source, dir: &str, limits: &Limits) -> Result<Checked, String> {
    let input = Input {
        source,
        dir,
        limits,
        fetch: None,
        expected_digest: None,
    };
    let done = command::lint(&Request::new(CommandName::Lint), &input).map_err(|e| match e {
        CommandError::Migration { error, .. } => {
            format!("bad migration in {}: {error}", source.display())
        }
        // The remedy names the pipeline's `dir`, as the migrator's messages do.
        e => format!(
            "bad artifact: {}",
            e.message(&Frontend::Migrator { function: None })
        ),
    })?;
    let Report::Lint(lint) = done.report else {
        return Err("internal error: lint answered without a lint report".into());
    };
    Ok(Checked {
        digest: done.digest,
        total: done.migrations,
        lint,
    })
}
