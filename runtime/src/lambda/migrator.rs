//! The `migrator` Lambda: runs any command of the engine's command layer inside the VPC.
//! It reads the artifact named by the event from S3 (or the zip sent inline by a remote
//! CLI), checks it against the digest the trigger validated, and runs the command against
//! MySQL (on a blocking thread: the engine's database API is synchronous).
//!
//! With `DB_SECRET_ARN` the password is read from Secrets Manager at invocation time
//! (see [`super::secret`]), so a rotated password is picked up by a warm instance.
//! Every invocation prints one metric line (see [`super::metrics`]).
//!
//! Every invocation runs against its deadline ([`Margins`]): no migration starts once
//! less than `DEADLINE_MARGIN_SECS` is left, and the report lists what is still pending
//! for the trigger (or a remote CLI) to carry on with; a statement still running
//! `KILL_MARGIN_SECS` before the deadline is killed on the server and reported, before
//! Lambda would kill the process and leave the statement running.
//!
//! A deployment chooses which commands it runs (`ALLOWED_COMMANDS`); any other is
//! refused before anything is read, and so is SQL sent inline (a remote CLI's local
//! folder) unless `up-inline` (`down-inline`, `redo-inline`) allows it: by default, the
//! only SQL that runs is the pipeline's artifact in S3. An event that is not one (an
//! unknown field, no `command`) is refused naming what is wrong ([`MigratorEvent`]). Failures are Lambda function errors whose
//! `errorType` is an [`ErrorKind`] name and whose `errorMessage` names the migration,
//! the statement and the server's error, with the remedy worded as a remote command.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use engine::Limits;
use engine::command::{
    self, Allowed, CommandError, CommandName, ErrorKind, Executed, Frontend, Input, Progress,
    Report, RequestError, RunLockEvent,
};
use engine::db::spec::{ConnSpec, DbSettings};
use engine::db::{ConnConfig, Database, Deadline, Settings, Tls};
use engine::fetch::FetchOptions;
use engine::fleet::{Place, Record, SecretPrefix, TargetResult};
use engine::settings::{Env, Setting, SettingError, table};
use engine::source::SourceSpecError;
use engine::store::StoreError;
use lambda_runtime::Diagnostic;
use tracing::{error, info, warn};

use super::metrics::{self, Metric, Unit};
use super::rds_iam;
use super::secret::{self, DbSecret, SecretReader, SecretSource};
use crate::open::{self, Opened};
use crate::text::one_line;
use crate::wire::{
    AppliedMigration, ArtifactCredentials, FailureType, FleetReply, MigratorEvent, MigratorReply,
    RecordPlace,
};

/// The migrator's settings, from its environment.
#[derive(Debug, Clone)]
pub struct MigratorConfig {
    /// The migrations folder inside the artifact (`MIGRATIONS_DIR`, default `migrations`).
    pub dir: String,
    /// How to fetch the artifact (`FETCH_MODE`, `TMP_CAPACITY_MB`).
    pub fetch: FetchOptions,
    /// Reader limits (`MAX_FILE_SIZE_MB`, `MAX_TOTAL_SIZE_MB`).
    pub limits: Limits,
    /// Authenticate with an RDS IAM token instead of a password (`DB_IAM_AUTH=true`).
    pub iam_auth: bool,
    /// Read the password from Secrets Manager at invocation time (`DB_SECRET_ARN`,
    /// `DB_SECRET_FIELD`).
    pub secret: Option<SecretSource>,
    /// Where and how to connect (see [`ConnSpec`]: `DATABASE_URL` or `DB_*`, `DB_TLS`,
    /// `DB_CA_BUNDLE`, `MIGRATIONS_TABLE`, `LOCK_TIMEOUT_SECS`).
    pub db: DbSettings,
    /// The commands this deployment runs (`ALLOWED_COMMANDS`, comma-separated; default
    /// `verify,plan,status,up,resolve`; `up-inline` for SQL sent inline).
    pub allowed: Allowed,
    /// This function's name, for remedies worded as remote commands.
    pub function: Option<String>,
    /// How long before the invocation's deadline to stop.
    pub margins: Margins,
    /// The severity from which a `lint` request's findings fail it, when the request
    /// does not say (`LINT_FAIL_ON`, default error).
    pub lint_fail_on: engine::lint::FailOn,
    /// The ARN prefix a fleet target's `secret` must start with (`FLEET_SECRET_PREFIX`);
    /// unset: every `secret` target is refused.
    pub fleet_secret_prefix: Option<SecretPrefix>,
}

/// How long before the invocation's deadline a run stops. A margin left unset defaults
/// to a share of the time an invocation has, so a short timeout still leaves room to work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Margins {
    /// No migration starts with less than this left (`DEADLINE_MARGIN_SECS`; default
    /// 30 s, at most a third of the invocation's time).
    pub stop: Option<Duration>,
    /// A statement still running with this left is killed (`KILL_MARGIN_SECS`; default
    /// 5 s, at most a sixth of the invocation's time, never more than `stop`): long
    /// enough to kill it, roll back, journal and answer.
    pub kill: Option<Duration>,
}

impl Margins {
    /// The deadline of an invocation that ends at `end` and has `available` in all.
    pub fn deadline(&self, end: Instant, available: Duration) -> Deadline {
        let stop = self
            .stop
            .unwrap_or_else(|| Duration::from_secs(30).min(available / 3));
        let kill = self
            .kill
            .unwrap_or_else(|| Duration::from_secs(5).min(available / 6));
        Deadline::before(end, stop, kill.min(stop))
    }
}

impl MigratorConfig {
    /// Reads the settings through `get` (the process environment in production); the
    /// names, units and defaults are the rows of [`engine::settings::table`].
    pub fn from_env(get: &dyn Fn(&str) -> Option<String>) -> Result<MigratorConfig, String> {
        let env = Env::new(get);
        let err = |e: SettingError| e.to_string();
        let iam_auth = env.bool(&table::IAM_AUTH).map_err(err)?.unwrap_or(false);
        let mut db = ConnSpec::default().load(get).map_err(|e| e.to_string())?;
        if iam_auth {
            // The token is only accepted over TLS.
            if db.conn.tls == Tls::Off {
                db.conn.tls = Tls::Verify;
            }
            if db.conn.user.is_empty() {
                return Err("DB_IAM_AUTH=true needs DB_USER".into());
            }
        }
        let secret = match env.text(&table::SECRET_ARN) {
            None => None,
            Some(id) => {
                if db.conn.password.is_some() {
                    return Err("DB_SECRET_ARN is set and so is a password (DB_PASSWORD or DATABASE_URL): give the password one way".into());
                }
                if iam_auth {
                    return Err("DB_SECRET_ARN and DB_IAM_AUTH=true exclude each other".into());
                }
                // Unset: an RDS-style JSON secret; set but empty: the secret is the
                // password (the one variable where empty is not unset; see its row).
                let field = match env.any(table::SECRET_FIELD.env.unwrap_or_default()) {
                    None => Some(table::SECRET_FIELD.default.text().to_owned()),
                    Some(f) if f.trim().is_empty() => None,
                    Some(f) => Some(f.trim().to_owned()),
                };
                Some(SecretSource {
                    id: id.trim().to_owned(),
                    cache_for: env
                        .duration(&table::SECRET_CACHE)
                        .map_err(err)?
                        .unwrap_or(secret::CACHE_TTL),
                    field,
                    username_from_secret: env.text(&table::DB_USER).is_none()
                        && env.text(&table::DATABASE_URL).is_none(),
                })
            }
        };
        let allowed = match env.text(&table::ALLOWED_COMMANDS) {
            None => Allowed::default_set(),
            Some(list) => Allowed::parse(&list).map_err(|e| format!("ALLOWED_COMMANDS: {e}"))?,
        };
        let dir = crate::settings::folder(&env).map_err(err)?;
        let limits = crate::settings::limits(&env).map_err(err)?;
        let margin = |s: &Setting| match env.duration(s).map_err(err)? {
            Some(d) if d > Duration::from_secs(900) => Err(format!(
                "{}={d:?}: expected seconds, 0 to 900",
                s.env.unwrap_or_default()
            )),
            d => Ok(d),
        };
        let margins = Margins {
            stop: margin(&table::DEADLINE_MARGIN)?,
            kill: margin(&table::KILL_MARGIN)?,
        };
        if let (Some(stop), Some(kill)) = (margins.stop, margins.kill)
            && kill > stop
        {
            return Err("KILL_MARGIN_SECS must not exceed DEADLINE_MARGIN_SECS".into());
        }
        let fleet_secret_prefix = env
            .text(&table::FLEET_SECRET_PREFIX)
            .map(|p| SecretPrefix::parse(&p).map_err(|e| format!("FLEET_SECRET_PREFIX: {e}")))
            .transpose()?;
        Ok(MigratorConfig {
            fleet_secret_prefix,
            lint_fail_on: crate::settings::lint_fail_on(&env).map_err(err)?,
            fetch: crate::settings::fetch_options(&dir, &limits, &env).map_err(err)?,
            limits,
            dir,
            iam_auth,
            secret,
            db,
            allowed,
            function: env
                .any("AWS_LAMBDA_FUNCTION_NAME")
                .filter(|f| !f.trim().is_empty()),
            margins,
        })
    }
}

/// Why an invocation failed: a kind and a message that names what it is about and never
/// carries a credential, password or token.
#[derive(Debug)]
pub struct MigratorError {
    /// The `errorType`.
    pub kind: ErrorKind,
    /// The `errorMessage`.
    pub message: String,
}

impl MigratorError {
    fn new(kind: ErrorKind, message: impl Into<String>) -> MigratorError {
        MigratorError {
            kind,
            message: message.into(),
        }
    }
}

impl From<MigratorError> for Diagnostic {
    fn from(e: MigratorError) -> Diagnostic {
        Diagnostic {
            error_type: FailureType::Ours(e.kind).into(),
            error_message: e.message,
        }
    }
}

/// The function's state across invocations: the configuration, read once at start, and
/// the database secret's reader with its short-lived cache.
#[derive(Debug)]
pub struct Migrator {
    /// The settings, or why they are unusable (reported on every invocation, so the
    /// trigger sees a `ConfigurationError` rather than an init crash).
    pub config: Result<MigratorConfig, String>,
    secrets: Option<Arc<SecretReader>>,
}

/// What an invocation's metric line reports besides success and duration: migrations
/// committed by this run (also those before a failed one), and artifact bytes read.
#[derive(Debug, Default)]
struct RunStats {
    applied: u64,
    bytes_fetched: u64,
    /// A failed `up`: the migrations committed before the failure.
    completed: Vec<String>,
}

impl Migrator {
    /// A migrator with these settings.
    pub fn new(config: Result<MigratorConfig, String>) -> Migrator {
        let secrets = config
            .as_ref()
            .ok()
            .and_then(|c| c.secret.clone())
            .map(|s| Arc::new(SecretReader::new(s)));
        Migrator { config, secrets }
    }

    /// Reads the configuration from the process environment.
    pub fn from_env() -> Migrator {
        Migrator::new(MigratorConfig::from_env(&crate::settings::var))
    }

    /// Handles one event as Lambda delivers it (JSON), refusing one that is not a
    /// [`MigratorEvent`] (an unknown field, no `command`) as a bad request that names
    /// what is wrong; see [`Migrator::handle`], and [`Migrator::handle_fleet`] for an
    /// invocation of a fleet run (one with `result`).
    pub async fn handle_json(
        &self,
        event: serde_json::Value,
        deadline: Option<SystemTime>,
    ) -> Result<serde_json::Value, MigratorError> {
        match serde_json::from_value::<MigratorEvent>(event) {
            Ok(event) if event.result.is_some() => self
                .handle_fleet(event, deadline)
                .await
                .map(|r| serde_json::to_value(r).expect("a fleet reply serialises")),
            Ok(event) => self
                .handle(event, deadline)
                .await
                .map(|r| serde_json::to_value(r).expect("a reply serialises")),
            Err(e) => {
                let refused: Result<MigratorReply, _> = Err(MigratorError::new(
                    ErrorKind::BadRequest,
                    format!("bad event: {e}"),
                ));
                emit_metrics(&refused, &RunStats::default(), Instant::now());
                refused.map(|_| serde_json::Value::Null)
            }
        }
    }

    /// Handles one event that must be answered by `deadline` (the invocation's), and
    /// prints its metric line.
    pub async fn handle(
        &self,
        event: MigratorEvent,
        deadline: Option<SystemTime>,
    ) -> Result<MigratorReply, MigratorError> {
        self.handle_counted(event, deadline, &mut RunStats::default())
            .await
    }

    /// One invocation of a fleet run: the target's record goes to `result` before
    /// anything connects (`finished: false`: a record left so says the function died),
    /// then again with the command's result, failed or not. The answer is what the state
    /// machine reads; the whole result is in the record. A failure is still the
    /// invocation's error, after its record is written.
    pub async fn handle_fleet(
        &self,
        event: MigratorEvent,
        deadline: Option<SystemTime>,
    ) -> Result<FleetReply, MigratorError> {
        let bad = |m: String| MigratorError::new(ErrorKind::BadRequest, format!("bad event: {m}"));
        let (Some(target), Some(place)) = (event.target.clone(), event.result.clone()) else {
            return Err(bad("\"result\" goes with a fleet \"target\"".into()));
        };
        if !engine::fleet::COMMANDS.contains(&event.request.command) {
            return Err(bad(format!(
                "a fleet invocation runs up, plan or status, not {}",
                event.request.command
            )));
        }
        let name = target.name.clone();
        let (follow_up, attempt) = place.invocation(&name).ok_or_else(|| {
            bad(format!(
                "result.key {:?} is not <prefix>targets/{name}/<follow-up>.<retry>.json",
                crate::text::truncate(&place.key, 200)
            ))
        })?;
        let mut record = Record {
            name: name.clone(),
            follow_up,
            attempt,
            finished: false,
            stopped: None,
            result: None,
        };
        let records = records_client().await;
        put_record(&records, &place, &record).await.map_err(|e| {
            MigratorError::new(
                ErrorKind::Configuration,
                format!("nothing was run: the fleet record could not be written: {e}"),
            )
        })?;
        let command = event.request.command;
        let started = Instant::now();
        let mut stats = RunStats::default();
        let result = self.handle_counted(event, deadline, &mut stats).await;
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let stopped = result.as_ref().is_ok_and(MigratorReply::stopped);
        let outcome = match &result {
            Ok(reply) => TargetResult::done(
                &name,
                &Executed {
                    report: reply.report.clone(),
                    digest: reply.digest.clone(),
                    migrations: reply.migrations,
                },
                ms,
            ),
            Err(e) => TargetResult::failed_as(
                &name,
                command,
                e.kind,
                e.message.clone(),
                std::mem::take(&mut stats.completed),
                ms,
            ),
        };
        record.finished = true;
        record.stopped = Some(stopped);
        record.result = Some(outcome);
        let written = put_record(&records, &place, &record).await;
        let outcome = record.result.map(|r| r.outcome);
        match (result, written) {
            (Ok(_), Ok(())) => Ok(FleetReply {
                target: name,
                stopped,
                outcome: outcome.expect("set above"),
                record: place.key,
            }),
            (Ok(_), Err(e)) => {
                error!(error = %e, "the fleet record could not be written after the run");
                Err(MigratorError::new(
                    ErrorKind::Internal,
                    format!(
                        "the command finished on {name} but its fleet record could not be written ({e}); run `status` on the target"
                    ),
                ))
            }
            (Err(failed), written) => {
                if let Err(e) = written {
                    error!(error = %e, "the fleet record could not be written after the failure");
                }
                Err(failed)
            }
        }
    }

    async fn handle_counted(
        &self,
        event: MigratorEvent,
        deadline: Option<SystemTime>,
        stats: &mut RunStats,
    ) -> Result<MigratorReply, MigratorError> {
        let started = Instant::now();
        // Lambda's deadline is always ahead; one that is not (a local emulator's) says
        // nothing, and would stop every run before it started.
        let ends = deadline
            .and_then(|d| d.duration_since(SystemTime::now()).ok())
            .filter(|left| !left.is_zero())
            .map(|left| (started + left, left));
        if deadline.is_some() && ends.is_none() {
            warn!("the invocation's deadline has already passed; running without one");
        }
        let result = self.run(event, ends, stats).await;
        if let Ok(reply) = &result {
            stats.applied = reply.applied.len() as u64;
        }
        emit_metrics(&result, stats, started);
        result
    }

    async fn run(
        &self,
        event: MigratorEvent,
        ends: Option<(Instant, Duration)>,
        stats: &mut RunStats,
    ) -> Result<MigratorReply, MigratorError> {
        let started = Instant::now();
        let config = self
            .config
            .as_ref()
            .map_err(|e| MigratorError::new(ErrorKind::Configuration, e.clone()))?;
        let frontend = Frontend::Migrator {
            function: config.function.clone(),
        };
        let refused = |e: RequestError| {
            let e = CommandError::from(e);
            MigratorError::new(e.kind(), e.message(&frontend))
        };
        // Refused before anything is read or connected to. SQL sent inline skipped the
        // pipeline's review, so running it is a permission of its own (`up-inline`).
        config
            .allowed
            .check(&event.request, event.inline_zip.is_some())
            .map_err(refused)?;
        event.request.validate().map_err(refused)?;
        // A fleet target is untrusted input too: checked before anything is read.
        let place = match &event.target {
            Some(t) => Some(t.place(config.fleet_secret_prefix.as_ref()).map_err(|m| {
                MigratorError::new(ErrorKind::BadRequest, format!("bad event: {m}"))
            })?),
            None if event.result.is_some() => {
                return Err(MigratorError::new(
                    ErrorKind::BadRequest,
                    "bad event: \"result\" goes with a fleet \"target\"",
                ));
            }
            None => None,
        };
        // The event's `dir` is checked as `--dir` is: "" is the artifact's root, and a
        // folder outside the artifact (absolute, `..`) is refused, never read as empty.
        let dir = match &event.dir {
            Some(d) => engine::source::parse_folder(d).map_err(|e| {
                MigratorError::new(ErrorKind::BadRequest, format!("bad event: dir: {e}"))
            })?,
            None => config.dir.clone(),
        };
        info!(
            command = event.request.command.as_str(),
            dir = %dir,
            inline = event.inline_zip.is_some(),
            "invocation"
        );
        let opened = open(config, &event, &dir)
            .await
            .map_err(|e| MigratorError::new(e.kind(), e.message(&frontend)))?;
        if let Some(f) = &opened.fetch {
            stats.bytes_fetched = f.bytes_fetched;
            info!(mode = %f.mode, bytes = f.bytes_fetched, requests = f.requests, ms = f.duration_ms, "artifact fetched");
        }
        let mut conn = config.db.conn.clone();
        if config.iam_auth {
            let c = &config.db.conn;
            // An RDS IAM token is sent as a cleartext password; TLS is forced on with it.
            conn.password = Some(
                rds_iam::token_from_env(&c.host, c.port, &c.user)
                    .await
                    .map_err(|e| MigratorError::new(ErrorKind::Configuration, e.to_string()))?,
            );
            conn.cleartext_password = true;
        }
        let mut from_cache = false;
        let own_connection = !matches!(place, Some(Place::Secret(_)));
        if let Some(reader) = self
            .secrets
            .as_ref()
            .filter(|_| own_connection && event.request.command != CommandName::Verify)
        {
            let (secret, cached) = reader
                .get()
                .await
                .map_err(|e| MigratorError::new(ErrorKind::Configuration, e.to_string()))?;
            use_secret(&mut conn, reader, &secret);
            from_cache = cached;
        }
        let secrets = self.secrets.clone().filter(|_| from_cache);
        match &place {
            Some(Place::Database(schema)) => conn.database = Some(schema.clone()),
            Some(Place::Secret(arn)) if event.request.command != CommandName::Verify => {
                let reader = SecretReader::new(SecretSource {
                    id: arn.clone(),
                    field: None,
                    username_from_secret: true,
                    cache_for: Duration::ZERO,
                });
                let c = reader
                    .connection()
                    .await
                    .map_err(|e| MigratorError::new(ErrorKind::Configuration, e.to_string()))?;
                conn.host = c.host;
                conn.port = c.port.unwrap_or(3306);
                conn.socket = None;
                conn.user = c.username;
                conn.password = Some(c.password);
                conn.cleartext_password = false;
                conn.database = Some(c.database);
            }
            _ => {}
        }
        if let Some(t) = &event.target {
            info!(fleet_target = %t.name, "fleet target");
        }
        // Every command that changes the database names it before it acts.
        // (With the user a secret may have supplied.)
        let target = event.request.writes().then(|| {
            DbSettings {
                conn: conn.clone(),
                ..config.db.clone()
            }
            .target()
        });
        if let Some(t) = &target {
            info!(target = %t.address, from = %t.from, "target");
        }
        let runtime = tokio::runtime::Handle::current();
        let settings = config.db.settings.clone();
        let fetch = opened.fetch.clone();
        let source_name = opened.source.display();
        let mut request = event.request.clone();
        if request.command == CommandName::Lint && request.lint_fail_on.is_none() {
            request.lint_fail_on = Some(config.lint_fail_on);
        }
        let asked = request.clone();
        let expected = event.expected_digest.clone();
        let limits = config.limits.clone();
        let deadline = ends.map(|(end, available)| config.margins.deadline(end, available));
        let worker = tokio::task::spawn_blocking(move || {
            let input = Input {
                source: &opened.source,
                dir: &dir,
                limits: &limits,
                fetch: opened.fetch.clone(),
                expected_digest: expected.as_deref(),
            };
            command::execute(
                &request,
                &input,
                || {
                    let mut db = connect(&conn, &settings, secrets.as_deref(), &runtime)?;
                    if let Some(d) = deadline {
                        db.set_deadline(d);
                    }
                    // SIGTERM (Lambda shutting the environment down) stops the statement on
                    // the server and journals, rather than leaving it running.
                    crate::signals::arm(db.interrupt_handle());
                    Ok(db)
                },
                settings.lock_timeout,
                |progress| match progress {
                    Progress::Step(step) => info!(
                        id = %step.id,
                        statements = step.statements,
                        ms = step.duration_ms,
                        state = step.state.as_str(),
                        "migration done"
                    ),
                    Progress::Lock(event) => log_lock(event),
                },
            )
        });
        let result = worker.await.map_err(|e| {
            MigratorError::new(
                ErrorKind::Internal,
                format!("the worker thread failed: {e}"),
            )
        })?;
        match result {
            Ok(mut done) => {
                if let Some(e) = done.report.refusal(&asked) {
                    // Refused, as the CLI's would be; the reply still carries the findings
                    // and the severity applied, so that the caller shows and judges them.
                    let message = e.message(&frontend);
                    warn!(kind = e.kind().as_str(), message = %one_line(&message), "lint refused");
                }
                if let Some(t) = target {
                    done.report.set_target(t);
                }
                let mut reply = reply(&event, done, source_name, fetch, started);
                reply.lint_fail_on = asked
                    .lint_fail_on
                    .filter(|_| asked.command == CommandName::Lint);
                if reply.stopped() {
                    warn!(
                        applied = reply.applied.len(),
                        pending = reply.pending.len(),
                        "stopped before the deadline with migrations pending; run the command again to carry on"
                    );
                }
                info!(
                    applied = reply.applied.len(),
                    pending = reply.pending.len(),
                    ms = reply.total_ms,
                    "done"
                );
                Ok(reply)
            }
            Err(e) => {
                if let Some(f) = e.failure() {
                    // Those before the failed one are committed.
                    stats.applied = f.completed.len() as u64;
                    stats.completed = f.completed.iter().map(|s| s.id.clone()).collect();
                }
                let message = e.message(&frontend);
                error!(kind = e.kind().as_str(), message = %one_line(&message), "failed");
                Err(MigratorError::new(e.kind(), message))
            }
        }
    }
}

/// Logs a wait for the run lock as it happens (the reply cannot stream; its report
/// carries the wait): who holds the lock by its connection id, user and host (never a
/// password), then how long we have waited.
fn log_lock(event: &RunLockEvent) {
    match event {
        RunLockEvent::Held { holder, limit, .. } | RunLockEvent::Passed { holder, limit, .. } => {
            warn!(
                connection = holder.connection,
                user = holder.user.as_deref(),
                host = holder.host.as_deref(),
                command = holder.command.as_deref(),
                seconds = holder.seconds,
                limit_ms = limit.as_millis() as u64,
                "{}",
                one_line(&event.to_string())
            )
        }
        RunLockEvent::Waiting { waited, limit, .. } => info!(
            waited_ms = waited.as_millis() as u64,
            limit_ms = limit.as_millis() as u64,
            "{event}"
        ),
        RunLockEvent::Taken { waited } => {
            info!(waited_ms = waited.as_millis() as u64, "{event}")
        }
    }
}

/// Prints an invocation's metric line.
fn emit_metrics(result: &Result<MigratorReply, MigratorError>, stats: &RunStats, started: Instant) {
    let stopped = result.as_ref().is_ok_and(MigratorReply::stopped);
    metrics::emit(&[
        Metric::new("MigrationsApplied", Unit::Count, stats.applied),
        Metric::new(
            "RunDuration",
            Unit::Milliseconds,
            started.elapsed().as_millis() as u64,
        ),
        Metric::new("RunFailures", Unit::Count, u64::from(result.is_err())),
        Metric::new("BytesFetched", Unit::Bytes, stats.bytes_fetched),
        Metric::new("StoppedAtDeadline", Unit::Count, u64::from(stopped)),
    ]);
}

/// Puts the secret's password (and user name, if configured so) into `conn`.
fn use_secret(conn: &mut ConnConfig, reader: &SecretReader, secret: &DbSecret) {
    conn.password = Some(secret.password.clone());
    if reader.source().username_from_secret
        && let Some(user) = &secret.username
    {
        conn.user = user.clone();
    }
}

/// Connects. `cached` is the secret's reader when the password came from its cache: a
/// refused login then reads the secret again (it may have been rotated) and retries once.
fn connect(
    conn: &ConnConfig,
    settings: &Settings,
    cached: Option<&SecretReader>,
    runtime: &tokio::runtime::Handle,
) -> Result<Database, StoreError> {
    let first = Database::connect(conn, settings);
    let Some(reader) = cached else {
        return first;
    };
    if !matches!(first, Err(StoreError::AccessDenied { .. })) {
        return first;
    }
    info!("login refused with the cached secret; reading it again");
    // This runs on a blocking thread while the runtime's own thread awaits it, so the
    // runtime can drive the request.
    match runtime.block_on(reader.refresh()) {
        Ok(secret) => {
            let mut conn = conn.clone();
            use_secret(&mut conn, reader, &secret);
            Database::connect(&conn, settings)
        }
        Err(e) => {
            warn!(error = %e, "reading the secret again failed");
            first
        }
    }
}

/// Opens the event's source: the inline zip, or the S3 object.
async fn open(
    config: &MigratorConfig,
    event: &MigratorEvent,
    dir: &str,
) -> Result<Opened, CommandError> {
    // The event's source fields are parsed once, into the same type the CLI uses.
    let spec = open::event_source(event).map_err(|e| match e {
        SourceSpecError::Event(m) => CommandError::from(RequestError::Event(m)),
        other => CommandError::Configuration(other.to_string()),
    })?;
    let credentials = event
        .credentials
        .as_ref()
        .map(ArtifactCredentials::to_static);
    let opts = FetchOptions {
        dir: dir.to_owned(),
        ..config.fetch.clone()
    };
    open::open(&spec, credentials, &opts).await
}

/// The S3 client that writes fleet records, with the function's own role.
async fn records_client() -> aws_sdk_s3::Client {
    engine::fetch::s3_client(
        None,
        crate::settings::var("AWS_REGION"),
        crate::settings::s3_endpoint(),
    )
    .await
}

/// Writes one fleet record at `place`.
async fn put_record(
    client: &aws_sdk_s3::Client,
    place: &RecordPlace,
    record: &Record,
) -> Result<(), String> {
    let body = serde_json::to_vec(record).expect("a record serialises");
    crate::fleet_run::put(client, &place.bucket, &place.key, body, "application/json").await
}

/// The reply: the trigger's summary fields, and the command's whole report.
fn reply(
    event: &MigratorEvent,
    done: Executed,
    source: String,
    fetch: Option<engine::command::FetchSummary>,
    started: Instant,
) -> MigratorReply {
    let (applied, last_applied, lock_held) = match &done.report {
        Report::Run(r) if !r.dry_run => (
            r.migrations
                .iter()
                .map(|s| AppliedMigration {
                    id: s.id.clone(),
                    sha256: s.sha256.clone(),
                    statements: s.statements,
                    duration_ms: s.duration_ms,
                })
                .collect(),
            r.last_applied.clone(),
            None,
        ),
        Report::Status(s) => (Vec::new(), s.last_applied(), Some(s.lock_held)),
        _ => (Vec::new(), None, None),
    };
    MigratorReply {
        command: event.request.command,
        source,
        digest: done.digest,
        migrations: done.migrations,
        applied,
        pending: done.report.pending(),
        lock_held,
        last_applied,
        fetch,
        total_ms: started.elapsed().as_millis() as u64,
        lint_fail_on: None,
        report: done.report,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::command::Request;
    use serde_json::json;

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
        assert_eq!((c.db.conn.host.as_str(), c.db.conn.port), ("db", 3306));
        assert_eq!(c.db.conn.tls, Tls::Off);
        assert_eq!(c.dir, "migrations");
        assert_eq!(c.db.settings.table, "gorp_migrations");
        assert_eq!(c.db.settings.lock_timeout, Duration::from_secs(60));
        assert_eq!(c.fetch.tmp_capacity, 512 << 20);
        assert_eq!(c.allowed, Allowed::default_set());
        assert!(!c.iam_auth);
    }

    #[test]
    fn bad_values_are_named() {
        for (name, value) in [
            ("LOCK_TIMEOUT_SECS", "soon"),
            ("DB_IAM_AUTH", "maybe"),
            ("DB_TLS", "sometimes"),
            ("ALLOWED_COMMANDS", "up,drop"),
            ("FETCH_MODE", "fast"),
        ] {
            let e = MigratorConfig::from_env(&env(&[("DB_HOST", "h"), (name, value)])).unwrap_err();
            assert!(e.contains(name), "{e}");
        }
        let e = MigratorConfig::from_env(&env(&[("DATABASE_URL", "postgres://x")])).unwrap_err();
        assert!(e.contains("mysql://"), "{e}");
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
        assert_eq!(c.db.conn.tls, Tls::Verify);
        let c =
            MigratorConfig::from_env(&env(&[("DATABASE_URL", "mysql://u:hunter2@h/db")])).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn a_secret_replaces_the_password() {
        let arn = "arn:aws:secretsmanager:us-east-1:1:secret:db-x";
        let c =
            MigratorConfig::from_env(&env(&[("DB_HOST", "h"), ("DB_SECRET_ARN", arn)])).unwrap();
        let s = c.secret.unwrap();
        assert_eq!(s.id, arn);
        assert_eq!(s.field.as_deref(), Some("password"));
        assert!(s.username_from_secret);
        let c = MigratorConfig::from_env(&env(&[
            ("DB_HOST", "h"),
            ("DB_USER", "app"),
            ("DB_SECRET_ARN", arn),
            ("DB_SECRET_FIELD", ""),
        ]))
        .unwrap();
        let s = c.secret.unwrap();
        assert_eq!(s.field, None);
        assert!(!s.username_from_secret);
        let e = MigratorConfig::from_env(&env(&[
            ("DB_HOST", "h"),
            ("DB_SECRET_ARN", arn),
            ("DB_SECRET_CACHE_SECS", "a minute"),
        ]))
        .unwrap_err();
        assert!(e.contains("DB_SECRET_CACHE_SECS"), "{e}");
        for extra in [
            [("DB_HOST", "h"), ("DB_PASSWORD", "hunter2")],
            [("DATABASE_URL", "mysql://u:hunter2@h/db"), ("DB_HOST", "")],
            [("DB_HOST", "h"), ("DB_IAM_AUTH", "true")],
        ] {
            let mut vars = vec![("DB_SECRET_ARN", arn), ("DB_USER", "u")];
            vars.extend(extra);
            let e = MigratorConfig::from_env(&env(&vars)).unwrap_err();
            assert!(e.contains("DB_SECRET_ARN"), "{e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn margins_default_and_are_capped_by_the_time_an_invocation_has() {
        let c = MigratorConfig::from_env(&env(&[("DB_HOST", "h")])).unwrap();
        assert_eq!(c.margins, Margins::default());
        let end = Instant::now() + Duration::from_secs(900);
        let d = c.margins.deadline(end, Duration::from_secs(900));
        assert_eq!(end - d.stop_starting, Duration::from_secs(30));
        assert_eq!(end - d.kill_at, Duration::from_secs(5));
        let d = c.margins.deadline(end, Duration::from_secs(6));
        assert_eq!(end - d.stop_starting, Duration::from_secs(2));
        assert_eq!(end - d.kill_at, Duration::from_secs(1));
        let c = MigratorConfig::from_env(&env(&[
            ("DB_HOST", "h"),
            ("DEADLINE_MARGIN_SECS", "2.5"),
            ("KILL_MARGIN_SECS", "0.5"),
        ]))
        .unwrap();
        assert_eq!(c.margins.stop, Some(Duration::from_millis(2500)));
        assert_eq!(c.margins.kill, Some(Duration::from_millis(500)));
        // Given margins are honoured as given, whatever the timeout.
        let d = c.margins.deadline(end, Duration::from_secs(6));
        assert_eq!(end - d.stop_starting, Duration::from_millis(2500));
        assert_eq!(end - d.kill_at, Duration::from_millis(500));
        for bad in [
            [("DEADLINE_MARGIN_SECS", "soon"), ("KILL_MARGIN_SECS", "1")],
            [("DEADLINE_MARGIN_SECS", "1"), ("KILL_MARGIN_SECS", "-1")],
            [("DEADLINE_MARGIN_SECS", "1"), ("KILL_MARGIN_SECS", "2")],
        ] {
            let mut vars = vec![("DB_HOST", "h")];
            vars.extend(bad);
            let e = MigratorConfig::from_env(&env(&vars)).unwrap_err();
            assert!(e.contains("_MARGIN_SECS"), "{e}");
        }
    }

    #[tokio::test]
    async fn a_command_the_deployment_does_not_allow_is_refused_before_anything_runs() {
        let m = Migrator::new(MigratorConfig::from_env(&env(&[
            ("DB_HOST", "203.0.113.1"),
            ("ALLOWED_COMMANDS", "status"),
        ])));
        // No bucket, no database reachable: a refusal must come before either matters.
        let e = m
            .handle(
                MigratorEvent {
                    request: engine::command::Request::new(CommandName::Down),
                    ..MigratorEvent::default()
                },
                None,
            )
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotAllowed);
        assert!(e.message.contains("`down` is not allowed"), "{}", e.message);
        let d: Diagnostic = e.into();
        assert_eq!(d.error_type, "CommandNotAllowed");
    }

    #[tokio::test]
    async fn the_events_dir_is_checked_as_dir_is() {
        let m = Migrator::new(MigratorConfig::from_env(&env(&[(
            "DB_HOST",
            "203.0.113.1",
        )])));
        for bad in ["..", "/", "/migrations", "db/../x"] {
            let e = m
                .handle(
                    MigratorEvent {
                        request: engine::command::Request::new(CommandName::Verify),
                        inline_zip: Some("eg==".into()),
                        dir: Some(bad.into()),
                        ..MigratorEvent::default()
                    },
                    None,
                )
                .await
                .unwrap_err();
            assert_eq!(e.kind, ErrorKind::BadRequest, "{bad}: {}", e.message);
            assert!(e.message.contains("dir"), "{}", e.message);
        }
        let e = MigratorConfig::from_env(&env(&[("DB_HOST", "h"), ("MIGRATIONS_DIR", "../m")]))
            .unwrap_err();
        assert!(e.contains("MIGRATIONS_DIR"), "{e}");
    }

    /// A migrator whose database and artifact are unreachable: whatever it answers was
    /// decided before either mattered.
    fn unreachable(allowed: Option<&str>) -> Migrator {
        let mut vars = vec![("DB_HOST", "203.0.113.1")];
        vars.extend(allowed.map(|a| ("ALLOWED_COMMANDS", a)));
        Migrator::new(MigratorConfig::from_env(&env(&vars)))
    }

    #[tokio::test]
    async fn an_event_with_an_unknown_field_or_no_command_is_refused_naming_it() {
        let m = unreachable(None);
        for (event, named) in [
            (json!({"cmd": "status"}), "unknown field `cmd`"),
            (
                json!({"command": "up", "dryRun": true, "inline_zip": "UEsFBg=="}),
                "unknown field `dryRun`",
            ),
            (
                json!({"BucketName": "b", "ObjectKey": "k", "dry_run": true}),
                "the event has no \"command\"",
            ),
        ] {
            let e = m.handle_json(event.clone(), None).await.unwrap_err();
            assert_eq!(e.kind, ErrorKind::BadRequest, "{event}");
            assert!(e.message.starts_with("bad event: "), "{}", e.message);
            assert!(e.message.contains(named), "{event}: {}", e.message);
        }
        // The seed's exact event means `up`: here refused as `up`, before any fetch.
        let status_only = unreachable(Some("status"));
        let e = status_only
            .handle_json(json!({"BucketName": "b", "ObjectKey": "k"}), None)
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotAllowed);
        assert!(e.message.contains("`up` is not allowed"), "{}", e.message);
    }

    #[tokio::test]
    async fn a_lint_request_refuses_at_lint_fail_on_unless_it_names_its_own() {
        use engine::lint::FailOn;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("1_drop.sql"),
            "-- +migrate Up\nDROP TABLE t;\n\n-- +migrate Down\nCREATE TABLE t (id int);\n",
        )
        .unwrap();
        let event = |fail_on: Option<FailOn>| {
            let request = Request {
                lint_fail_on: fail_on,
                ..Request::new(CommandName::Lint)
            };
            let spec = engine::source::SourceSpec::local(dir.path());
            crate::open::event_for(request, &spec, "migrations", &Limits::default()).unwrap()
        };
        let migrator = |fail_on: Option<&str>| {
            let mut vars = vec![("DB_HOST", "203.0.113.1"), ("ALLOWED_COMMANDS", "all")];
            vars.extend(fail_on.map(|f| ("LINT_FAIL_ON", f)));
            Migrator::new(MigratorConfig::from_env(&env(&vars)))
        };
        // No database is reachable: lint needs none. A refusing lint replies with its
        // findings and the severity it applied; the caller judges and shows them.
        let refusal = |reply: &MigratorReply| {
            reply
                .refusal(&Request::new(CommandName::Lint))
                .map(|e| (e.kind(), e.message(&engine::command::Frontend::Cli)))
        };
        let reply = migrator(None).handle(event(None), None).await.unwrap();
        assert_eq!(reply.lint_fail_on, Some(FailOn::Error));
        let (kind, message) = refusal(&reply).expect("refused");
        assert_eq!(kind, ErrorKind::LintRefused, "{message}");
        assert!(message.contains("1 finding(s) at error level"), "{message}");
        let reply = migrator(Some("never"))
            .handle(event(None), None)
            .await
            .unwrap();
        let Report::Lint(r) = &reply.report else {
            panic!("a lint report: {:?}", reply.report)
        };
        assert_eq!(r.summary.errors, 1);
        assert_eq!(refusal(&reply), None);
        // The request's own severity beats the variable, as a flag beats it.
        let reply = migrator(Some("never"))
            .handle(event(Some(FailOn::Error)), None)
            .await
            .unwrap();
        assert_eq!(
            refusal(&reply).map(|(k, _)| k),
            Some(ErrorKind::LintRefused)
        );
        let e = MigratorConfig::from_env(&env(&[("DB_HOST", "h"), ("LINT_FAIL_ON", "loud")]))
            .unwrap_err();
        assert!(e.contains("LINT_FAIL_ON"), "{e}");
    }

    #[tokio::test]
    async fn sql_sent_inline_needs_up_inline() {
        let inline = |request: Request| MigratorEvent {
            inline_zip: Some("UEsFBg==".into()),
            request,
            ..MigratorEvent::default()
        };
        let resume = Request {
            resume: true,
            ..Request::new(CommandName::Up)
        };
        let e = unreachable(None)
            .handle(inline(resume.clone()), None)
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotAllowed);
        assert!(
            e.message
                .contains("`up` with an inline source is not allowed")
                && e.message.contains("`up-inline`")
                && e.message.contains("ALLOWED_COMMANDS"),
            "{}",
            e.message
        );
        // Allowed, the request gets past the permission and fails on the (empty) zip.
        let e = unreachable(Some("status,up,up-inline"))
            .handle(inline(resume), None)
            .await
            .unwrap_err();
        assert_ne!(e.kind, ErrorKind::NotAllowed, "{}", e.message);
    }
}
