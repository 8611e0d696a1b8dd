//! The migrator's event: what the trigger and the remote CLI send, and the migrator
//! reads. It refuses what it does not understand: an unknown field (a typo such as
//! `dryRun` for `dry_run`, or `cmd`) is an error naming it, never ignored, and `command`
//! is required.
//!
//! One exception, for those who switch from the seed's Go migrator: its event was exactly
//! `{"BucketName": …, "ObjectKey": …}` and meant `up`, so that two-field shape, and only
//! it, still means `up` without a `command`.
//!
//! The event reads and writes through [`RawEvent`], one flat struct with every field
//! spelled out: serde cannot refuse unknown fields next to a flattened [`Request`]. Both
//! conversions name every field of [`Request`] without `..`, so a field added to it
//! fails to compile here until the wire carries it.

use engine::command::{CommandName, Request, Resolution};
use serde::{Deserialize, Serialize};

use super::ArtifactCredentials;
use super::fleet::{FleetTarget, RecordPlace};

/// The migrator's event. `BucketName` and `ObjectKey` are the seed's Go migrator's
/// contract, unchanged; `command` and the rest are ours (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawEvent", into = "RawEvent")]
pub struct MigratorEvent {
    /// The artifact's bucket.
    pub bucket_name: Option<String>,
    /// The artifact's key.
    pub object_key: Option<String>,
    /// Instead of an S3 object: a zip of the migration files, base64-encoded (the remote
    /// CLI's local source).
    pub inline_zip: Option<String>,
    /// What to do.
    pub request: Request,
    /// The set digest the caller validated: the migrator refuses a different set.
    pub expected_digest: Option<String>,
    /// The migrations folder inside the artifact; `MIGRATIONS_DIR` when absent.
    pub dir: Option<String>,
    /// Credentials for reading the artifact; the function's role when absent.
    pub credentials: Option<ArtifactCredentials>,
    /// A fleet target to run on instead of the migrator's own database (a schema on its
    /// connection, or a secret under FLEET_SECRET_PREFIX).
    pub target: Option<FleetTarget>,
    /// A fleet run's invocation: where its record goes (needs `target`).
    pub result: Option<RecordPlace>,
}

/// Why an event is refused beyond what serde says (an unknown field, a bad value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// No `command`, and the event is not the seed's two-field shape.
    #[error(
        "the event has no \"command\" (up, status, ...){}; only the seed migrator's exact \
         {{\"BucketName\", \"ObjectKey\"}} event may leave it out, and means up",
        if fields.is_empty() { String::new() } else { format!(" beside {}", fields.join(", ")) }
    )]
    NoCommand {
        /// The fields the event has, as spelled on the wire.
        fields: Vec<&'static str>,
    },
}

/// The event as it is on the wire: every field spelled out, each optional, none unknown.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    #[serde(rename = "BucketName", skip_serializing_if = "Option::is_none")]
    bucket_name: Option<String>,
    #[serde(rename = "ObjectKey", skip_serializing_if = "Option::is_none")]
    object_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inline_zip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<CommandName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dry_run: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sql: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resume: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_drift: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ignore_unknown: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolution: Option<Resolution>,
    #[serde(skip_serializing_if = "Option::is_none")]
    statement: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_empty: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_empty_down: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lint_fail_on: Option<engine::lint::FailOn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    review: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected_digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    credentials: Option<ArtifactCredentials>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<FleetTarget>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<RecordPlace>,
}

impl RawEvent {
    /// The fields present, by their wire names.
    fn fields(&self) -> Vec<&'static str> {
        let present = [
            ("BucketName", self.bucket_name.is_some()),
            ("ObjectKey", self.object_key.is_some()),
            ("inline_zip", self.inline_zip.is_some()),
            ("command", self.command.is_some()),
            ("limit", self.limit.is_some()),
            ("version", self.version.is_some()),
            ("dry_run", self.dry_run.is_some()),
            ("sql", self.sql.is_some()),
            ("resume", self.resume.is_some()),
            ("allow_drift", self.allow_drift.is_some()),
            ("ignore_unknown", self.ignore_unknown.is_some()),
            ("id", self.id.is_some()),
            ("resolution", self.resolution.is_some()),
            ("statement", self.statement.is_some()),
            ("allow_empty", self.allow_empty.is_some()),
            ("allow_empty_down", self.allow_empty_down.is_some()),
            ("lint_fail_on", self.lint_fail_on.is_some()),
            ("review", self.review.is_some()),
            ("pending", self.pending.is_some()),
            ("expected_digest", self.expected_digest.is_some()),
            ("dir", self.dir.is_some()),
            ("credentials", self.credentials.is_some()),
            ("target", self.target.is_some()),
            ("result", self.result.is_some()),
        ];
        present
            .into_iter()
            .filter(|&(_, set)| set)
            .map(|(name, _)| name)
            .collect()
    }
}

impl TryFrom<RawEvent> for MigratorEvent {
    type Error = EventError;

    fn try_from(raw: RawEvent) -> Result<MigratorEvent, EventError> {
        let fields = raw.fields();
        let command = match raw.command {
            Some(c) => c,
            // The seed's event, exactly: it meant `up`.
            None if fields == ["BucketName", "ObjectKey"] => CommandName::Up,
            None => return Err(EventError::NoCommand { fields }),
        };
        Ok(MigratorEvent {
            bucket_name: raw.bucket_name,
            object_key: raw.object_key,
            inline_zip: raw.inline_zip,
            request: Request {
                command,
                limit: raw.limit,
                version: raw.version,
                dry_run: raw.dry_run.unwrap_or(false),
                sql: raw.sql.unwrap_or(false),
                resume: raw.resume.unwrap_or(false),
                allow_drift: raw.allow_drift.unwrap_or(false),
                ignore_unknown: raw.ignore_unknown.unwrap_or(false),
                id: raw.id,
                resolution: raw.resolution,
                statement: raw.statement,
                allow_empty: raw.allow_empty.unwrap_or(false),
                allow_empty_down: raw.allow_empty_down.unwrap_or(false),
                lint_fail_on: raw.lint_fail_on,
                review: raw.review.unwrap_or(false),
                pending: raw.pending.unwrap_or(false),
            },
            expected_digest: raw.expected_digest,
            dir: raw.dir,
            credentials: raw.credentials,
            target: raw.target,
            result: raw.result,
        })
    }
}

impl From<MigratorEvent> for RawEvent {
    fn from(e: MigratorEvent) -> RawEvent {
        let Request {
            command,
            limit,
            version,
            dry_run,
            sql,
            resume,
            allow_drift,
            ignore_unknown,
            id,
            resolution,
            statement,
            allow_empty,
            allow_empty_down,
            lint_fail_on,
            review,
            pending,
        } = e.request;
        let set = |b: bool| b.then_some(true);
        RawEvent {
            bucket_name: e.bucket_name,
            object_key: e.object_key,
            inline_zip: e.inline_zip,
            // Always written: the migrator requires it (the seed's shape aside).
            command: Some(command),
            limit,
            version,
            dry_run: set(dry_run),
            sql: set(sql),
            resume: set(resume),
            allow_drift: set(allow_drift),
            ignore_unknown: set(ignore_unknown),
            id,
            resolution,
            statement,
            allow_empty: set(allow_empty),
            allow_empty_down: set(allow_empty_down),
            lint_fail_on,
            review: set(review),
            pending: set(pending),
            expected_digest: e.expected_digest,
            dir: e.dir,
            credentials: e.credentials,
            target: e.target,
            result: e.result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<MigratorEvent, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn the_seeds_event_parses_unchanged_and_means_up() {
        let e = parse(r#"{"BucketName":"b","ObjectKey":"k/a.zip"}"#).unwrap();
        assert_eq!(e.bucket_name.as_deref(), Some("b"));
        assert_eq!(e.object_key.as_deref(), Some("k/a.zip"));
        assert_eq!(e.request, Request::new(CommandName::Up));
        assert!(e.expected_digest.is_none() && e.credentials.is_none());
    }

    #[test]
    fn unknown_fields_are_refused_by_name() {
        for (json, field) in [
            (r#"{"cmd":"status"}"#, "`cmd`"),
            (r#"{"command":"up","dryRun":true}"#, "`dryRun`"),
            (
                r#"{"BucketName":"b","ObjectKey":"k","bucket":"c"}"#,
                "`bucket`",
            ),
            (
                r#"{"command":"up","credentials":{"accessKeyId":"a","secretAccessKey":"s","region":"x"}}"#,
                "`region`",
            ),
        ] {
            let e = parse(json).unwrap_err();
            assert!(e.contains(&format!("unknown field {field}")), "{json}: {e}");
        }
    }

    #[test]
    fn command_is_required_beyond_the_seeds_exact_shape() {
        for (json, beside) in [
            ("{}", ""),
            (r#"{"BucketName":"b"}"#, " beside BucketName"),
            (
                r#"{"BucketName":"b","ObjectKey":"k","dry_run":true}"#,
                " beside BucketName, ObjectKey, dry_run",
            ),
            (r#"{"inline_zip":"UEsFBg=="}"#, " beside inline_zip"),
        ] {
            let e = parse(json).unwrap_err();
            assert!(
                e.starts_with(&format!("the event has no \"command\" (up, status, ...){beside}; only the seed migrator's exact {{\"BucketName\", \"ObjectKey\"}} event")),
                "{json}: {e}"
            );
        }
        assert!(parse(r#"{"command":"drop"}"#).is_err());
    }

    #[test]
    fn every_field_round_trips_and_command_is_always_sent() {
        let e = MigratorEvent {
            bucket_name: Some("b".into()),
            object_key: Some("k".into()),
            inline_zip: Some("UEsFBg==".into()),
            request: Request {
                command: CommandName::Resolve,
                limit: Some(3),
                version: Some(20240101120000),
                dry_run: true,
                sql: true,
                resume: true,
                allow_drift: true,
                ignore_unknown: true,
                id: Some("2_b.sql".into()),
                resolution: Some(Resolution::StatementCommitted),
                statement: Some(2),
                allow_empty: true,
                allow_empty_down: true,
                lint_fail_on: Some(engine::lint::FailOn::Warning),
                review: true,
                pending: true,
            },
            expected_digest: Some("ab".into()),
            dir: Some("db/migrations".into()),
            credentials: Some(ArtifactCredentials {
                access_key_id: "AKIA".into(),
                secret_access_key: "secret".into(),
                session_token: Some("t".into()),
            }),
            target: Some(FleetTarget {
                name: "acme".into(),
                database: Some("tenant_acme".into()),
                secret: None,
            }),
            result: Some(RecordPlace {
                bucket: "b".into(),
                key: "fleet/j/targets/acme/0.0.json".into(),
            }),
        };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<MigratorEvent>(&json).unwrap(), e);
        // What the trigger and the remote CLI send names its command, even `up` with
        // nothing else set, which the migrator would otherwise refuse.
        let up = serde_json::to_value(MigratorEvent::default()).unwrap();
        assert_eq!(up, serde_json::json!({"command": "up"}));
        let status = MigratorEvent {
            bucket_name: Some("b".into()),
            object_key: Some("k".into()),
            request: Request::new(CommandName::Status),
            ..MigratorEvent::default()
        };
        let json = serde_json::to_string(&status).unwrap();
        assert_eq!(
            json,
            r#"{"BucketName":"b","ObjectKey":"k","command":"status"}"#
        );
        assert_eq!(
            serde_json::from_str::<MigratorEvent>(&json).unwrap(),
            status
        );
        let options = parse(r#"{"command":"up","resume":true,"limit":2}"#).unwrap();
        assert!(options.request.resume);
        assert_eq!(options.request.limit, Some(2));
    }
}
