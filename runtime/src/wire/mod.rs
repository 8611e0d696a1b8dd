//! The migrator's wire contract: the event it accepts ([`MigratorEvent`]), the reply it answers with and the
//! error payload Lambda returns when it fails ([`reply`]), the one synchronous Invoke
//! that the trigger and the remote CLI (`--via-lambda`) both use, and the one driver of a
//! command that takes several migrator runs ([`continuation`]).

use std::fmt;
use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use serde::{Deserialize, Serialize};

use crate::text::{one_line, truncate};

pub mod continuation;
mod event;
pub mod fleet;
pub mod reply;

pub use continuation::{Chain, Finished, Progress, Step};
pub use event::{EventError, MigratorEvent};
pub use fleet::{FleetReply, FleetTarget, RecordPlace};
pub use reply::{AppliedMigration, ErrorPayload, FailureType, Invoked, MigratorReply};

/// Lambda's limit on a synchronous invocation's request payload.
pub const SYNC_PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;

/// Temporary credentials for reading the artifact (CodePipeline's `artifactCredentials`).
/// `Debug` shows only the access key id.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArtifactCredentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token, for temporary credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
}

impl ArtifactCredentials {
    /// The same credentials, for the S3 client that reads the artifact.
    pub fn to_static(&self) -> engine::fetch::StaticCredentials {
        engine::fetch::StaticCredentials {
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
            session_token: self.session_token.clone(),
        }
    }
}

impl fmt::Debug for ArtifactCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArtifactCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// A Lambda client for invoking the migrator: retries off (a retried synchronous Invoke
/// would run the migrator twice) and a read timeout of `read_timeout`. Endpoint, region
/// and credentials come from the standard chain (`AWS_ENDPOINT_URL_LAMBDA` included).
pub fn lambda_client(
    shared: &aws_config::SdkConfig,
    read_timeout: Duration,
) -> aws_sdk_lambda::config::Builder {
    aws_sdk_lambda::config::Builder::from(shared)
        .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
        .timeout_config(
            aws_sdk_lambda::config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .read_timeout(read_timeout)
                .build(),
        )
}

/// Invokes the migrator synchronously with `payload` (an event's JSON) and waits at most
/// `wait`.
pub async fn invoke(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    payload: Vec<u8>,
    wait: Duration,
) -> Invoked {
    let call = lambda
        .invoke()
        .function_name(function)
        .invocation_type(InvocationType::RequestResponse)
        .payload(Blob::new(payload))
        .send();
    let out = match tokio::time::timeout(wait, call).await {
        Err(_) => return Invoked::StillRunning { waited: wait },
        Ok(Err(e)) => {
            let configuration = e.as_service_error().is_some_and(|s| {
                s.is_resource_not_found_exception() || s.is_invalid_parameter_value_exception()
            }) || e
                .raw_response()
                .is_some_and(|r| matches!(r.status().as_u16(), 403 | 404));
            return Invoked::CallFailed {
                message: format!("invoking {function} failed: {}", error_chain(&e)),
                configuration,
            };
        }
        Ok(Ok(out)) => out,
    };
    let body = out.payload().map(|b| b.as_ref()).unwrap_or_default();
    // Invoke answers 200 when the function fails: the failure is only in FunctionError.
    if out.function_error().is_some() {
        let payload =
            serde_json::from_slice::<ErrorPayload>(body).unwrap_or_else(|_| ErrorPayload {
                error_type: FailureType::from(
                    out.function_error().unwrap_or("Unhandled").to_owned(),
                ),
                error_message: truncate(&String::from_utf8_lossy(body), 5000),
            });
        return Invoked::FunctionError(payload);
    }
    let raw = match serde_json::from_slice::<reply::RawReply>(body) {
        Ok(raw) => raw,
        Err(e) => {
            return Invoked::CallFailed {
                message: format!(
                    "{function} answered something that is not a migrator report ({e}): {}",
                    truncate(&String::from_utf8_lossy(body), 500)
                ),
                configuration: true,
            };
        }
    };
    match MigratorReply::try_from(raw) {
        Ok(reply) => Invoked::Reply(Box::new(reply)),
        Err(e) => Invoked::Unreadable {
            message: format!("{function} answered a report this build cannot read: {e}"),
        },
    }
}

/// An error and its sources, on one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    one_line(&out)
}

#[cfg(test)]
pub(crate) mod fixtures;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_debug_hides_the_secrets() {
        let c = ArtifactCredentials {
            access_key_id: "AKIAID".into(),
            secret_access_key: "s3cr3t".into(),
            session_token: Some("t0k3n".into()),
        };
        let shown = format!("{c:?}");
        assert!(shown.contains("AKIAID"));
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("t0k3n"),
            "{shown}"
        );
    }
}
