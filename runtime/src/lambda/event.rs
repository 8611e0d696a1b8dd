//! The migrator's wire contract: the event it accepts, the report it answers with, and the
//! error payload Lambda returns when it fails. The trigger builds the events and reads the
//! reports, so both sides share these types.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What the migrator is asked to do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MigratorCommand {
    /// Apply pending migrations.
    #[default]
    Up,
    /// Report what `up` would run, changing nothing.
    Plan,
    /// Report every migration's state and whether a run holds the lock.
    Status,
    /// Revert applied migrations, newest first (`limit`, default 1).
    Down,
}

impl MigratorCommand {
    /// The command's name, as in the event.
    pub fn as_str(self) -> &'static str {
        match self {
            MigratorCommand::Up => "up",
            MigratorCommand::Plan => "plan",
            MigratorCommand::Status => "status",
            MigratorCommand::Down => "down",
        }
    }
}

/// Temporary credentials for reading the artifact (CodePipeline's `artifactCredentials`).
/// `Debug` shows only the access key id.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactCredentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token, for temporary credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
}

impl fmt::Debug for ArtifactCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArtifactCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// The migrator's event. `BucketName` and `ObjectKey` are the seed's Go migrator's
/// contract, unchanged; everything else is optional and ours.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigratorEvent {
    /// The artifact's bucket.
    #[serde(
        rename = "BucketName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub bucket_name: Option<String>,
    /// The artifact's key.
    #[serde(rename = "ObjectKey", default, skip_serializing_if = "Option::is_none")]
    pub object_key: Option<String>,
    /// What to do; `up` when absent.
    #[serde(default)]
    pub command: MigratorCommand,
    /// At most this many migrations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// The set digest the caller validated: the migrator refuses a different set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_digest: Option<String>,
    /// The migrations folder inside the artifact; `MIGRATIONS_DIR` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    /// Credentials for reading the artifact; the function's role when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<ArtifactCredentials>,
}

/// One migration a run applied (or reverted, for `down`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedMigration {
    /// The migration id.
    pub id: String,
    /// The file's checksum.
    pub sha256: String,
    /// Statements sent.
    pub statements: usize,
    /// Time spent on it.
    pub duration_ms: u64,
}

/// One row of `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusEntry {
    /// The migration id.
    pub id: String,
    /// `applied`, `pending`, `catch-up`, `partial` or `unknown`.
    pub state: String,
    /// When it was applied, as the history table says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<String>,
    /// `ok`, `drift`, `unrecorded` or `-`.
    pub checksum: String,
    /// The journal's note, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// How the artifact was fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchReport {
    /// `s3://bucket/key`.
    pub object: String,
    /// `full` or `selective`.
    pub mode: String,
    /// The object's length.
    pub object_bytes: u64,
    /// Bytes transferred.
    pub bytes_fetched: u64,
    /// HTTP requests made.
    pub requests: u64,
    /// Time spent fetching.
    pub duration_ms: u64,
}

/// The migrator's answer to a successful invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigratorReport {
    /// The command that ran.
    pub command: MigratorCommand,
    /// Where the migrations came from.
    pub source: String,
    /// The set digest of the migrations read.
    pub digest: String,
    /// How many migrations the artifact holds.
    pub migrations: usize,
    /// What this run applied (`up`) or reverted (`down`), in order.
    #[serde(default)]
    pub applied: Vec<AppliedMigration>,
    /// Ids a run would still apply (`plan`, `status`), in order.
    #[serde(default)]
    pub pending: Vec<String>,
    /// Every migration's state (`status` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Vec<StatusEntry>>,
    /// Whether another run holds the migration lock (`status` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_held: Option<bool>,
    /// The newest applied migration after the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied: Option<String>,
    /// How the artifact was fetched, when it came from S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch: Option<FetchReport>,
    /// Wall time of the whole invocation.
    pub total_ms: u64,
}

/// The kinds of migrator failure: a failed invocation's `errorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The event is malformed or incomplete.
    BadEvent,
    /// The function's environment is wrong (database settings, IAM auth, CA bundle).
    Configuration,
    /// The artifact could not be fetched.
    Fetch,
    /// The artifact is not a readable zip, or its migrations folder is unusable.
    BadArtifact,
    /// A migration file does not parse.
    BadMigration,
    /// The migrations differ from the set the caller validated.
    DigestMismatch,
    /// Applied migrations changed since, or the history has rows without files.
    Drift,
    /// Another run holds the migration lock.
    LockTimeout,
    /// The database could not be reached or refused the login.
    Connection,
    /// A statement failed.
    Sql,
    /// A bug or an unexpected condition.
    Internal,
}

impl ErrorKind {
    /// Every kind, for parsing.
    pub const ALL: [ErrorKind; 11] = [
        ErrorKind::BadEvent,
        ErrorKind::Configuration,
        ErrorKind::Fetch,
        ErrorKind::BadArtifact,
        ErrorKind::BadMigration,
        ErrorKind::DigestMismatch,
        ErrorKind::Drift,
        ErrorKind::LockTimeout,
        ErrorKind::Connection,
        ErrorKind::Sql,
        ErrorKind::Internal,
    ];

    /// The `errorType` string.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadEvent => "BadEvent",
            ErrorKind::Configuration => "ConfigurationError",
            ErrorKind::Fetch => "FetchError",
            ErrorKind::BadArtifact => "BadArtifact",
            ErrorKind::BadMigration => "BadMigration",
            ErrorKind::DigestMismatch => "DigestMismatch",
            ErrorKind::Drift => "Drift",
            ErrorKind::LockTimeout => "LockTimeout",
            ErrorKind::Connection => "ConnectionError",
            ErrorKind::Sql => "SqlError",
            ErrorKind::Internal => "InternalError",
        }
    }

    /// The kind an `errorType` names, if it is one of ours.
    pub fn parse(s: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The body of a failed invocation, as Lambda returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorPayload {
    /// What kind of failure: one of [`ErrorKind`], or Lambda's own (`Sandbox.Timedout`,
    /// `Runtime.ExitError`, ...).
    #[serde(default)]
    pub error_type: String,
    /// What went wrong.
    #[serde(default)]
    pub error_message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_event_parses_unchanged() {
        let e: MigratorEvent =
            serde_json::from_str(r#"{"BucketName":"b","ObjectKey":"k/a.zip"}"#).unwrap();
        assert_eq!(e.bucket_name.as_deref(), Some("b"));
        assert_eq!(e.object_key.as_deref(), Some("k/a.zip"));
        assert_eq!(e.command, MigratorCommand::Up);
        assert!(e.expected_digest.is_none() && e.credentials.is_none());
    }

    #[test]
    fn our_fields_round_trip() {
        let e = MigratorEvent {
            bucket_name: Some("b".into()),
            object_key: Some("k".into()),
            command: MigratorCommand::Status,
            limit: Some(3),
            expected_digest: Some("ab".into()),
            dir: Some("db/migrations".into()),
            credentials: Some(ArtifactCredentials {
                access_key_id: "AKIA".into(),
                secret_access_key: "secret".into(),
                session_token: None,
            }),
        };
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains(r#""command":"status""#), "{json}");
        assert_eq!(serde_json::from_str::<MigratorEvent>(&json).unwrap(), e);
    }

    #[test]
    fn unknown_commands_are_refused() {
        assert!(serde_json::from_str::<MigratorEvent>(r#"{"command":"drop"}"#).is_err());
    }

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

    #[test]
    fn error_kinds_round_trip() {
        for k in ErrorKind::ALL {
            assert_eq!(ErrorKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(ErrorKind::parse("Sandbox.Timedout"), None);
    }
}
