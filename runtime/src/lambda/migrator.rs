//! The `migrator` Lambda: reads the artifact named by the event from S3, checks it
//! against the digest the trigger validated, and runs the command against MySQL through
//! the engine (on a blocking thread: the engine's database API is synchronous).
//!
//! Failures are Lambda function errors whose `errorType` is an [`ErrorKind`] and whose
//! `errorMessage` names the migration, the statement and the server's error.

use std::time::{Duration, Instant};

use engine::db::{ConnConfig, Database, DbError, Settings, Tls};
use engine::fetch::{FetchError, Mode, ObjectRef};
use engine::migration;
use engine::plan::{self, Command, Options};
use engine::source::Source;
use engine::{Limits, SourceError};
use lambda_runtime::Diagnostic;
use tracing::{error, info};

use super::artifact;
use super::event::{
    AppliedMigration, ErrorKind, FetchReport, MigratorCommand, MigratorEvent, MigratorReport,
    StatusEntry,
};
use super::rds_iam;
use super::text::one_line;

/// The migrator's settings, from its environment.
#[derive(Debug, Clone)]
pub struct MigratorConfig {
    /// The migrations folder inside the artifact (`MIGRATIONS_DIR`, default `migrations`).
    pub dir: String,
    /// sql-migrate's history table (`MIGRATIONS_TABLE`, default `gorp_migrations`).
    pub table: String,
    /// How long to wait for the migration lock (`LOCK_TIMEOUT_SECS`, default 60).
    pub lock_timeout: Duration,
    /// How to fetch the artifact (`FETCH_MODE`: full, selective, auto).
    pub fetch_mode: Mode,
    /// Temp space a full download may use (`TMP_CAPACITY_MB`, default 512: Lambda's
    /// default ephemeral storage; raise it with the function's).
    pub tmp_capacity: u64,
    /// Authenticate with an RDS IAM token instead of a password (`DB_IAM_AUTH=true`).
    pub iam_auth: bool,
    /// Where and how to connect: `DATABASE_URL`, else `DB_HOST`, `DB_PORT`, `DB_USER`,
    /// `DB_PASSWORD`, `DB_NAME`; TLS from `DB_TLS` and `DB_CA_BUNDLE`.
    pub conn: ConnConfig,
}

impl MigratorConfig {
    /// Reads the settings through `get` (the process environment in production).
    pub fn from_env(get: &dyn Fn(&str) -> Option<String>) -> Result<MigratorConfig, String> {
        let nonempty = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let lock_timeout = match nonempty("LOCK_TIMEOUT_SECS") {
            None => 60,
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| format!("LOCK_TIMEOUT_SECS={v:?} is not a whole number"))?,
        };
        let tmp_mb: u64 = match nonempty("TMP_CAPACITY_MB") {
            None => 512,
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| format!("TMP_CAPACITY_MB={v:?} is not a whole number"))?,
        };
        let iam_auth = match nonempty("DB_IAM_AUTH").as_deref().map(str::trim) {
            None | Some("false" | "0" | "no") => false,
            Some("true" | "1" | "yes") => true,
            Some(v) => return Err(format!("DB_IAM_AUTH={v:?}: expected true or false")),
        };
        let mut conn = match nonempty("DATABASE_URL") {
            Some(url) => ConnConfig::parse(&url).map_err(|e| format!("DATABASE_URL: {e}"))?,
            None => ConnConfig::from_vars(|k| get(k))
                .map_err(|e| e.to_string())?
                .ok_or("set DATABASE_URL or DB_HOST (with DB_USER, DB_PASSWORD, DB_NAME)")?,
        };
        if let Some(tls) = nonempty("DB_TLS") {
            conn.tls = match tls.trim().to_ascii_lowercase().as_str() {
                "required" | "true" | "verify" | "verify_ca" | "verify_identity" => Tls::Verify,
                "skip-verify" => Tls::SkipVerify,
                "false" | "off" | "disabled" => Tls::Off,
                _ => {
                    return Err(format!(
                        "DB_TLS={tls:?}: expected required, skip-verify or disabled"
                    ));
                }
            };
        }
        if let Some(ca) = nonempty("DB_CA_BUNDLE") {
            if !std::path::Path::new(&ca).is_file() {
                return Err(format!("DB_CA_BUNDLE={ca:?} is not a readable file"));
            }
            conn.ca = Some(ca.into());
            if conn.tls == Tls::Off {
                conn.tls = Tls::Verify;
            }
        }
        if iam_auth {
            // The token is only accepted over TLS.
            if conn.tls == Tls::Off {
                conn.tls = Tls::Verify;
            }
            if conn.user.is_empty() {
                return Err("DB_IAM_AUTH=true needs DB_USER".into());
            }
        }
        Ok(MigratorConfig {
            dir: nonempty("MIGRATIONS_DIR").unwrap_or_else(|| "migrations".into()),
            table: nonempty("MIGRATIONS_TABLE").unwrap_or_else(|| "gorp_migrations".into()),
            lock_timeout: Duration::from_secs(lock_timeout),
            fetch_mode: artifact::mode_from_env(nonempty("FETCH_MODE").as_deref())?,
            tmp_capacity: tmp_mb.saturating_mul(1 << 20),
            iam_auth,
            conn,
        })
    }
}

/// Why an invocation failed. Every message names what it is about; none carries a
/// credential, password or token.
#[derive(Debug, thiserror::Error)]
pub enum MigratorError {
    /// The event lacks something or is contradictory.
    #[error("bad event: {0}")]
    BadEvent(String),
    /// The environment is wrong.
    #[error("configuration: {0}")]
    Configuration(String),
    /// The artifact could not be fetched (or its zip structure was refused while
    /// selecting).
    #[error("{0}")]
    Fetch(#[from] FetchError),
    /// The artifact's migrations could not be read.
    #[error("{0}")]
    Source(#[from] SourceError),
    /// A migration file does not parse.
    #[error("{0}")]
    Migration(String),
    /// The migrations are not the set the trigger validated.
    #[error(
        "{artifact}: the migrations' digest is {actual}, but {expected} was validated; \
         the artifact or MIGRATIONS_DIR differs from what the trigger checked"
    )]
    DigestMismatch {
        /// The artifact.
        artifact: String,
        /// What the event expected.
        expected: String,
        /// What was read.
        actual: String,
    },
    /// The database said no: a kind and a message naming migration and statement.
    #[error("{message}")]
    Database {
        /// Which kind of database failure.
        kind: ErrorKind,
        /// What happened.
        message: String,
    },
    /// An unexpected condition (a panicked worker thread).
    #[error("internal error: {0}")]
    Internal(String),
}

impl MigratorError {
    /// The `errorType` kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            MigratorError::BadEvent(_) => ErrorKind::BadEvent,
            MigratorError::Configuration(_) => ErrorKind::Configuration,
            MigratorError::Fetch(FetchError::Zip { .. }) => ErrorKind::BadArtifact,
            MigratorError::Fetch(_) => ErrorKind::Fetch,
            MigratorError::Source(_) => ErrorKind::BadArtifact,
            MigratorError::Migration(_) => ErrorKind::BadMigration,
            MigratorError::DigestMismatch { .. } => ErrorKind::DigestMismatch,
            MigratorError::Database { kind, .. } => *kind,
            MigratorError::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl From<MigratorError> for Diagnostic {
    fn from(e: MigratorError) -> Diagnostic {
        Diagnostic {
            error_type: e.kind().as_str().to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// The function's state across invocations: the configuration, read once at start.
#[derive(Debug)]
pub struct Migrator {
    /// The settings, or why they are unusable (reported on every invocation, so the
    /// trigger sees a `ConfigurationError` rather than an init crash).
    pub config: Result<MigratorConfig, String>,
}

impl Migrator {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Migrator {
        Migrator {
            config: MigratorConfig::from_env(&|k| std::env::var(k).ok()),
        }
    }

    /// Handles one event.
    pub async fn handle(&self, event: MigratorEvent) -> Result<MigratorReport, MigratorError> {
        let started = Instant::now();
        let config = self
            .config
            .as_ref()
            .map_err(|e| MigratorError::Configuration(e.clone()))?;
        let (Some(bucket), Some(key)) = (event.bucket_name.clone(), event.object_key.clone())
        else {
            return Err(MigratorError::BadEvent(
                "BucketName and ObjectKey are required".into(),
            ));
        };
        if bucket.is_empty() || key.is_empty() {
            return Err(MigratorError::BadEvent(
                "BucketName and ObjectKey must not be empty".into(),
            ));
        }
        let object = ObjectRef { bucket, key };
        let dir = event.dir.clone().unwrap_or_else(|| config.dir.clone());
        info!(
            command = event.command.as_str(),
            object = %object,
            dir = %dir,
            limit = ?event.limit,
            "invocation"
        );
        let (source, fetch) = artifact::fetch_source(
            &object,
            event.credentials.as_ref(),
            None,
            &dir,
            config.fetch_mode,
            Some(config.tmp_capacity),
        )
        .await?;
        info!(
            mode = %fetch.mode,
            bytes = fetch.bytes_fetched,
            requests = fetch.requests,
            ms = fetch.duration_ms,
            "artifact fetched"
        );
        let password = if config.iam_auth {
            let c = &config.conn;
            Some(
                rds_iam::token_from_env(&c.host, c.port, &c.user)
                    .await
                    .map_err(|e| MigratorError::Configuration(e.to_string()))?,
            )
        } else {
            None
        };
        let config = config.clone();
        let result = tokio::task::spawn_blocking(move || {
            run_blocking(&config, &source, &dir, &event, password, fetch)
        })
        .await
        .map_err(|e| MigratorError::Internal(format!("the worker thread failed: {e}")))?;
        match result {
            Ok(mut report) => {
                report.total_ms = started.elapsed().as_millis() as u64;
                info!(
                    applied = report.applied.len(),
                    pending = report.pending.len(),
                    ms = report.total_ms,
                    "done"
                );
                Ok(report)
            }
            Err(e) => {
                error!(kind = e.kind().as_str(), message = %one_line(&e.to_string()), "failed");
                Err(e)
            }
        }
    }
}

/// Reads and checks the migrations, then runs the command against the database.
fn run_blocking(
    config: &MigratorConfig,
    source: &Source,
    dir: &str,
    event: &MigratorEvent,
    password: Option<String>,
    fetch: FetchReport,
) -> Result<MigratorReport, MigratorError> {
    let limits = Limits::default();
    let files = source.files(dir, &limits)?;
    let bad = |e| MigratorError::Migration(format!("{}: {e}", source.display()));
    // Statements are parsed after the database is read: files applied unchanged are not.
    let mut migrations =
        migration::scan(files.iter().map(|f| (f.name, f.origin, f.data.as_ref()))).map_err(bad)?;
    let digest = migration::digest(&migrations);
    if let Some(expected) = &event.expected_digest
        && *expected != digest
    {
        return Err(MigratorError::DigestMismatch {
            artifact: source.display(),
            expected: expected.clone(),
            actual: digest,
        });
    }
    let mut report = MigratorReport {
        command: event.command,
        source: source.display(),
        digest,
        migrations: migrations.len(),
        applied: Vec::new(),
        pending: Vec::new(),
        status: None,
        lock_held: None,
        last_applied: None,
        fetch: Some(fetch),
        total_ms: 0,
    };
    let mut conn = config.conn.clone();
    if let Some(token) = password {
        // An RDS IAM token is sent as a cleartext password; TLS is forced on with it.
        conn.password = Some(token);
        conn.cleartext_password = true;
    }
    let settings = Settings {
        table: config.table.clone(),
        schema: None,
        lock_timeout: config.lock_timeout,
    };
    let mut db = Database::connect(&conn, &settings).map_err(db_error)?;
    match event.command {
        MigratorCommand::Up | MigratorCommand::Down => {
            let mut opts = Options::new(if event.command == MigratorCommand::Up {
                Command::Up
            } else {
                Command::Down
            });
            opts.limit = match event.command {
                // Reverting is explicit: one migration unless told otherwise.
                MigratorCommand::Down => Some(event.limit.unwrap_or(1)),
                _ => event.limit,
            };
            let run = db
                .run(&mut migrations, &opts, config.lock_timeout, |step| {
                    info!(
                        id = %step.id,
                        statements = step.statements,
                        ms = step.duration_ms,
                        state = step.state,
                        "migration done"
                    );
                })
                .map_err(db_error)?;
            report.applied = run
                .steps
                .iter()
                .map(|s| AppliedMigration {
                    id: s.id.clone(),
                    sha256: s.sha256.clone(),
                    statements: s.statements,
                    duration_ms: s.duration_ms,
                })
                .collect();
            report.last_applied = run.last_applied;
        }
        MigratorCommand::Plan => {
            let mut opts = Options::new(Command::Up);
            opts.limit = event.limit;
            let planned = db
                .planned(&mut migrations, &opts, false)
                .map_err(db_error)?;
            report.pending = planned
                .plan
                .steps
                .iter()
                .map(|s| migrations[s.index].id.to_owned())
                .collect();
            report.last_applied = last_applied(&plan::status(
                &migrations,
                &planned.history,
                &planned.journal,
            ));
        }
        MigratorCommand::Status => {
            let (history, journal) = db.read_state(false).map_err(db_error)?;
            plan::parse_needed(&mut migrations, &history, &journal, None).map_err(bad)?;
            let rows = plan::status(&migrations, &history, &journal);
            report.pending = rows
                .iter()
                .filter(|r| matches!(r.state, "pending" | "catch-up" | "partial"))
                .map(|r| r.id.clone())
                .collect();
            report.last_applied = last_applied(&rows);
            report.status = Some(
                rows.into_iter()
                    .map(|r| StatusEntry {
                        id: r.id,
                        state: r.state.to_owned(),
                        applied_at: r.applied_at,
                        checksum: r.checksum.to_owned(),
                        note: r.note,
                    })
                    .collect(),
            );
            // A lock taken without waiting means no run holds it; give it straight back.
            report.lock_held = Some(match db.lock(Duration::ZERO) {
                Ok(()) => {
                    db.unlock();
                    false
                }
                Err(DbError::LockTimeout { .. }) => true,
                Err(e) => return Err(db_error(e)),
            });
        }
    }
    Ok(report)
}

/// The newest applied migration in apply order.
fn last_applied(rows: &[plan::StatusRow]) -> Option<String> {
    rows.iter()
        .rev()
        .find(|r| r.state == "applied")
        .map(|r| r.id.clone())
}

/// Classifies a database error for the trigger.
fn db_error(e: DbError) -> MigratorError {
    let kind = match &e {
        DbError::Connect { .. } => ErrorKind::Connection,
        DbError::NoDatabase => ErrorKind::Configuration,
        DbError::LockTimeout { .. } => ErrorKind::LockTimeout,
        DbError::Plan(_) => ErrorKind::Drift,
        DbError::Parse(_) => ErrorKind::BadMigration,
        DbError::Migration(_) | DbError::Query { .. } => ErrorKind::Sql,
        DbError::BadJournal { .. } | DbError::Resolve { .. } => ErrorKind::Internal,
    };
    MigratorError::Database {
        kind,
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn defaults() {
        assert!(
            MigratorConfig::from_env(&env(&[]))
                .unwrap_err()
                .contains("DATABASE_URL")
        );
        let c =
            MigratorConfig::from_env(&env(&[("DB_HOST", "db"), ("DB_PASSWORD", "pw")])).unwrap();
        assert_eq!((c.conn.host.as_str(), c.conn.port), ("db", 3306));
        assert_eq!(c.conn.tls, Tls::Off);
        assert_eq!(c.dir, "migrations");
        assert_eq!(c.table, "gorp_migrations");
        assert_eq!(c.lock_timeout, Duration::from_secs(60));
        assert_eq!(c.fetch_mode, Mode::Auto);
        assert_eq!(c.tmp_capacity, 512 << 20);
        assert!(!c.iam_auth);
    }

    #[test]
    fn bad_values_are_named() {
        let e = MigratorConfig::from_env(&env(&[("DB_HOST", "h"), ("LOCK_TIMEOUT_SECS", "soon")]))
            .unwrap_err();
        assert!(e.contains("LOCK_TIMEOUT_SECS"), "{e}");
        let e = MigratorConfig::from_env(&env(&[("DB_HOST", "h"), ("DB_IAM_AUTH", "maybe")]))
            .unwrap_err();
        assert!(e.contains("DB_IAM_AUTH"), "{e}");
        let e = MigratorConfig::from_env(&env(&[("DB_HOST", "h"), ("DB_TLS", "sometimes")]))
            .unwrap_err();
        assert!(e.contains("DB_TLS"), "{e}");
        let e = MigratorConfig::from_env(&env(&[("DATABASE_URL", "postgres://x")])).unwrap_err();
        assert!(e.contains("DATABASE_URL"), "{e}");
    }

    #[test]
    fn iam_auth_requires_tls_and_passwords_never_show() {
        let c = MigratorConfig::from_env(&env(&[
            ("DB_HOST", "db.example"),
            ("DB_USER", "app"),
            ("DB_IAM_AUTH", "true"),
        ]))
        .unwrap();
        assert!(c.iam_auth);
        assert_eq!(c.conn.tls, Tls::Verify);
        let c =
            MigratorConfig::from_env(&env(&[("DATABASE_URL", "mysql://u:hunter2@h/db")])).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn errors_map_to_their_kind() {
        let d: Diagnostic = MigratorError::Configuration("x".into()).into();
        assert_eq!(d.error_type, "ConfigurationError");
        let d: Diagnostic = MigratorError::DigestMismatch {
            artifact: "s3://b/k".into(),
            expected: "aa".into(),
            actual: "bb".into(),
        }
        .into();
        assert_eq!(d.error_type, "DigestMismatch");
        assert!(d.error_message.contains("s3://b/k"));
    }
}
