//! The command line's arguments, and their translation into an engine
//! [`Request`](engine::command::Request) plus where the migrations and the database are.
//! Flags are the top layer of the settings (see [`engine::settings`]): their names,
//! units and defaults are the table's rows.

use std::ffi::OsString;

use clap::Args;
use engine::Limits;
use engine::command::{CommandName, Request, Resolution};
use engine::lint::FailOn;
use engine::settings::DEFAULT_FOLDER;
use engine::settings::value::size_flag;
use engine::source::SourceSpec;

use super::render::Layout;

/// Where the migrations come from; shared by every subcommand that reads them.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// A zip artifact, a directory of .sql files, or s3://bucket/key [default: the
    /// config's dir, else ./migrations].
    #[arg(long, value_name = "ZIP|DIR|S3", value_parser = source_arg)]
    pub source: Option<SourceSpec>,
    /// The migrations folder inside a zip artifact; '' for its root [default: the
    /// config's dir, else migrations].
    #[arg(long = "dir", value_name = "NAME", value_parser = folder_arg)]
    pub folder: Option<String>,
    /// Largest migration file accepted, e.g. 4MiB or 512KiB (a bare number is bytes).
    #[arg(long, default_value_t = Limits::default().max_file_size, value_name = "SIZE", value_parser = size_flag)]
    pub max_file_size: u64,
    /// Largest total size of all migration files read from an artifact, e.g. 12MiB (a
    /// bare number is bytes): what bounds memory on a hostile artifact.
    #[arg(long, default_value_t = Limits::default().max_total_size, value_name = "SIZE", value_parser = size_flag)]
    pub max_total_size: u64,
    /// Print one JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// Run the command inside the migrator Lambda FUNCTION (name or ARN) instead of here:
    /// no direct database connection needed. A local --source is sent inline.
    #[arg(long, env = VIA_LAMBDA_ENV, value_name = "FUNCTION")]
    pub via_lambda: Option<String>,
}

/// The variable that sends every command through the migrator (`--via-lambda`).
pub const VIA_LAMBDA_ENV: &str = "LAMBDA_MIGRATE_VIA_LAMBDA";

fn source_arg(s: &str) -> Result<SourceSpec, String> {
    SourceSpec::parse(s).map_err(|e| e.to_string())
}

fn folder_arg(s: &str) -> Result<String, String> {
    engine::source::parse_folder(s).map_err(|e| e.to_string())
}

impl SourceArgs {
    /// The folder inside a zip artifact: `--dir`, else `config_dir` (dbconfig.yml's
    /// `dir`, which sql-migrate reads its migrations from, so a repository zip holds them
    /// there), else `migrations`.
    pub fn folder_or(&self, config_dir: Option<&str>) -> Result<String, String> {
        match (&self.folder, config_dir) {
            (Some(f), _) => Ok(f.clone()),
            (None, Some(d)) => engine::source::parse_folder(d)
                .map_err(|e| format!("dbconfig.yml's dir: {e}; pass --dir")),
            (None, None) => Ok(DEFAULT_FOLDER.to_owned()),
        }
    }

    /// The reader limits these arguments ask for.
    pub fn limits(&self) -> Limits {
        Limits {
            max_file_size: self.max_file_size,
            max_total_size: self.max_total_size,
            ..Limits::default()
        }
    }
}

/// `--allow-empty`, taken by the commands that read the set as a whole (not `status`,
/// which shows the history whatever the files, nor `resolve`, which names one).
#[derive(Debug, Clone, Copy, Args)]
pub struct EmptyArg {
    /// Accept a source with no migration in its folder (otherwise an error, naming where
    /// its .sql files are).
    #[arg(long)]
    pub allow_empty: bool,
}

/// How history that does not match the files is treated, by the commands that plan
/// against it.
#[derive(Debug, Clone, Copy, Args)]
pub struct HistoryArgs {
    /// Ignore history rows that have no migration file.
    #[arg(long)]
    pub ignore_unknown: bool,
    /// Proceed although applied migrations' files changed (reported).
    #[arg(long)]
    pub allow_drift: bool,
}

/// The waits of a command that takes the migration lock and writes.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct LockArgs {
    /// How long to wait for the migration lock, e.g. 60 or 2m (bare: seconds)
    /// [default: LOCK_TIMEOUT_SECS, else 60s].
    #[arg(long, value_name = "DURATION", value_parser = engine::settings::value::duration_flag)]
    pub lock_timeout: Option<std::time::Duration>,
    /// How long a statement may wait for a table's metadata lock (every session's
    /// lock_wait_timeout; others queue behind a waiting ALTER), bare: seconds [default:
    /// LOCK_WAIT_TIMEOUT_SECS, else 10s].
    #[arg(long, value_name = "DURATION", value_parser = engine::settings::value::duration_flag)]
    pub lock_wait_timeout: Option<std::time::Duration>,
    /// Times a DDL statement that timed out waiting for a metadata lock is retried, after
    /// 1s, 2s, 4s, … [default: LOCK_WAIT_RETRIES, else 3].
    #[arg(long, value_name = "N")]
    pub lock_wait_retries: Option<u32>,
}

/// `plan --review`'s assumptions.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct ReviewArgs {
    /// With --review: the rate a copying or rebuilding ALTER is assumed to go at, per
    /// second, e.g. 50MiB (bare: bytes) [default: REVIEW_COPY_RATE_MB, else 50MiB].
    #[arg(long, value_name = "SIZE", value_parser = engine::settings::value::size_flag, requires = "review")]
    pub review_copy_rate: Option<u64>,
    /// With --review: list transactions open longer than this, bare: seconds [default:
    /// REVIEW_LONG_TRANSACTION_SECS, else 10s].
    #[arg(long, value_name = "DURATION", value_parser = engine::settings::value::duration_flag, requires = "review")]
    pub review_long_transaction: Option<std::time::Duration>,
}

/// Arguments of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Where the migrations come from.
    #[command(flatten)]
    pub source: SourceArgs,
    /// An empty set.
    #[command(flatten)]
    pub empty: EmptyArg,
}

/// Arguments of `lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Where the migrations come from, and (with --pending) the database.
    #[command(flatten)]
    pub db: DbArgs,
    /// An empty set.
    #[command(flatten)]
    pub empty: EmptyArg,
    /// Lint only the migrations the database has not applied (the applied ones still
    /// build the schema model); needs the database, as `plan` does, or --via-lambda.
    #[arg(long)]
    pub pending: bool,
    /// Print the findings as SARIF 2.1.0 (for code-review annotations) instead of text.
    #[arg(long, conflicts_with = "json")]
    pub sarif: bool,
    /// The severity from which unsuppressed findings fail the command (exit 9): error,
    /// warning, or never [default: LINT_FAIL_ON, else error].
    #[arg(long, value_name = "SEVERITY", value_parser = fail_on_arg)]
    pub lint_fail_on: Option<FailOn>,
}

fn fail_on_arg(s: &str) -> Result<FailOn, String> {
    FailOn::parse(s).ok_or_else(|| format!("{s:?} is not error, warning or never"))
}

/// Where the database is: shared by the database subcommands. The waits and the
/// review's assumptions are set from the commands that take them.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Where the migrations come from.
    #[command(flatten)]
    pub source: SourceArgs,
    /// The database: mysql://user:pass@host:port/db or user:pass@tcp(host:port)/db
    /// [default: --config/--env's, else DATABASE_URL, else ./dbconfig.yml's, else DB_HOST...].
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// sql-migrate's configuration file (read when given, or when ./dbconfig.yml exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// The environment in the configuration file.
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    /// The history table [default: MIGRATIONS_TABLE, the config's table, gorp_migrations].
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
    /// The schema holding the tables [default: the connection's database].
    #[arg(long, value_name = "NAME")]
    pub schema: Option<String>,
    /// Require TLS and verify the server's certificate [default: DB_TLS].
    #[arg(long)]
    pub tls: bool,
    /// CA bundle (PEM) to verify the server with (e.g. RDS's); implies --tls
    /// [default: DB_CA_BUNDLE].
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<std::path::PathBuf>,
    /// Connect timeout, e.g. 10s.
    #[arg(long, value_name = "DURATION", value_parser = engine::settings::value::duration_flag)]
    pub connect_timeout: Option<std::time::Duration>,
    /// Read timeout, e.g. 10m [default: none].
    #[arg(long, value_name = "DURATION", value_parser = engine::settings::value::duration_flag)]
    pub read_timeout: Option<std::time::Duration>,
    /// One target of a fleet manifest instead of the configured database.
    #[command(flatten)]
    pub fleet: TargetArgs,
    /// The waits, from a command that takes the lock ([`LockArgs`]).
    #[arg(skip)]
    pub lock: LockArgs,
    /// The review's assumptions, from `plan` ([`ReviewArgs`]).
    #[arg(skip)]
    pub review: ReviewArgs,
}

/// One target of a fleet manifest (`--target NAME --manifest FILE`): here, its schema on
/// the connection; with `--via-lambda`, the target as the migrator takes a fleet's.
#[derive(Debug, Clone, Default, Args)]
pub struct TargetArgs {
    /// Run on target NAME of --manifest: its `database` schema on the connection here;
    /// with --via-lambda, the target as a fleet run sends it to the migrator (a `secret`
    /// target too, under its FLEET_SECRET_PREFIX).
    #[arg(long, value_name = "NAME", requires = "manifest")]
    pub target: Option<String>,
    /// The fleet manifest --target names a target of.
    #[arg(long, value_name = "FILE", requires = "target")]
    pub manifest: Option<std::path::PathBuf>,
}

impl TargetArgs {
    /// The target --target names in --manifest, read with `secrets` allowed; `None`
    /// without the flags.
    pub fn resolve(
        &self,
        secrets: engine::fleet::Secrets<'_>,
    ) -> Result<Option<engine::fleet::Target>, String> {
        let (Some(name), Some(path)) = (&self.target, &self.manifest) else {
            return Ok(None);
        };
        let shown = path.display();
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read the manifest {shown}: {e}"))?;
        let manifest =
            engine::fleet::manifest::parse(&bytes, secrets).map_err(|e| format!("{shown}: {e}"))?;
        manifest
            .targets
            .into_iter()
            .find(|t| &t.name == name)
            .map(Some)
            .ok_or_else(|| format!("{shown} names no target {name:?}"))
    }
}

impl DbArgs {
    /// The flags that describe the database here, which a remote run cannot use (the
    /// migrator has its own settings): their names, if any were given.
    pub fn local_only(&self) -> Vec<&'static str> {
        let mut set = Vec::new();
        let mut flag = |on: bool, name| {
            if on {
                set.push(name)
            }
        };
        let (l, r) = (&self.lock, &self.review);
        flag(self.database.is_some(), "--database");
        flag(self.config.is_some(), "--config");
        flag(self.env.is_some(), "--env");
        flag(self.table.is_some(), "--table");
        flag(self.schema.is_some(), "--schema");
        flag(l.lock_timeout.is_some(), "--lock-timeout");
        flag(l.lock_wait_timeout.is_some(), "--lock-wait-timeout");
        flag(l.lock_wait_retries.is_some(), "--lock-wait-retries");
        flag(r.review_copy_rate.is_some(), "--review-copy-rate");
        flag(
            r.review_long_transaction.is_some(),
            "--review-long-transaction",
        );
        flag(self.tls, "--tls");
        flag(self.tls_ca.is_some(), "--tls-ca");
        flag(self.connect_timeout.is_some(), "--connect-timeout");
        flag(self.read_timeout.is_some(), "--read-timeout");
        set
    }

    /// These flags with the waits a locking command was given.
    fn locking(&self, lock: LockArgs) -> DbArgs {
        DbArgs {
            lock,
            ..self.clone()
        }
    }
}

/// A request for `command` with the history and empty-set flags its command takes.
fn request(command: CommandName, history: Option<HistoryArgs>, empty: Option<EmptyArg>) -> Request {
    Request {
        allow_drift: history.is_some_and(|h| h.allow_drift),
        ignore_unknown: history.is_some_and(|h| h.ignore_unknown),
        allow_empty: empty.is_some_and(|e| e.allow_empty),
        ..Request::new(command)
    }
}

/// Arguments of `up`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// At most N migrations (0: all) [default: all; `down`: 1].
    #[arg(long, value_name = "N", conflicts_with = "version")]
    pub limit: Option<usize>,
    /// Go as far as the migration whose id starts with the number N, and no further:
    /// `up` applies the pending ones up to and including it, `down` reverts down to and
    /// including it (sql-migrate's -version; before the command, --version prints ours).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub version: Option<i64>,
    /// Show what would be done; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: print the SQL the run would send, in order, as one script for the
    /// mysql client (session, lock, statements, bookkeeping).
    #[arg(long, requires = "dry_run")]
    pub sql: bool,
    /// Continue a partial migration from its first uncommitted statement.
    #[arg(long)]
    pub resume: bool,
    /// The lock and the metadata-lock waits.
    #[command(flatten)]
    pub lock: LockArgs,
    /// History that does not match the files.
    #[command(flatten)]
    pub history: HistoryArgs,
    /// An empty set.
    #[command(flatten)]
    pub empty: EmptyArg,
    /// Shared database flags.
    #[command(flatten)]
    pub db: DbArgs,
}

/// Arguments of `down`: `up`'s, and reverting an empty Down section.
#[derive(Debug, Args)]
pub struct DownArgs {
    /// Revert migrations whose Down section is missing or empty (only their history row
    /// goes; the schema stays unchanged) instead of refusing.
    #[arg(long)]
    pub allow_empty_down: bool,
    /// The rest, as `up`'s.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Arguments of `skip`.
#[derive(Debug, Args)]
pub struct SkipArgs {
    /// Record at most N migrations (0: all).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// The lock and the metadata-lock waits.
    #[command(flatten)]
    pub lock: LockArgs,
    /// History that does not match the files.
    #[command(flatten)]
    pub history: HistoryArgs,
    /// An empty set.
    #[command(flatten)]
    pub empty: EmptyArg,
    /// Shared database flags.
    #[command(flatten)]
    pub db: DbArgs,
}

/// Arguments of `plan`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("takes_lock").args(["review", "sql"]).multiple(true)))]
pub struct PlanArgs {
    /// Plan at most N migrations (0: all).
    #[arg(long, value_name = "N", conflicts_with = "version")]
    pub limit: Option<usize>,
    /// Plan `up` as far as the migration whose id starts with the number N (as
    /// `up --version N`).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub version: Option<i64>,
    /// Plan resuming a partial migration.
    #[arg(long)]
    pub resume: bool,
    /// Ask the server what each pending ALTER would do, on empty probe copies of its
    /// tables, beside the table's size, the deadline and who holds locks on it now
    /// (takes the migration lock; changes no real table).
    #[arg(long)]
    pub review: bool,
    /// With --review: also write the review as one self-contained HTML page to FILE.
    #[arg(long, value_name = "FILE", requires = "review")]
    pub html: Option<std::path::PathBuf>,
    /// With --review (which takes the migration lock) or --sql (whose script takes it):
    /// how long to wait for it, e.g. 60 or 2m (bare: seconds) [default:
    /// LOCK_TIMEOUT_SECS, else 60s].
    #[arg(long, value_name = "DURATION", value_parser = engine::settings::value::duration_flag, requires = "takes_lock")]
    pub lock_timeout: Option<std::time::Duration>,
    /// The review's assumptions.
    #[command(flatten)]
    pub review_args: ReviewArgs,
    /// Print the SQL `up` would send, in order, as one script for the mysql client.
    #[arg(long)]
    pub sql: bool,
    /// History that does not match the files.
    #[command(flatten)]
    pub history: HistoryArgs,
    /// An empty set.
    #[command(flatten)]
    pub empty: EmptyArg,
    /// Shared database flags.
    #[command(flatten)]
    pub db: DbArgs,
}

/// Arguments of `redo`.
#[derive(Debug, Args)]
pub struct RedoArgs {
    /// Show what would be done; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: print the SQL the run would send, as one script for the mysql
    /// client.
    #[arg(long, requires = "dry_run")]
    pub sql: bool,
    /// Redo a migration whose Down section is missing or empty (its history row goes, the
    /// schema stays, then Up runs again) instead of refusing.
    #[arg(long)]
    pub allow_empty_down: bool,
    /// The lock and the metadata-lock waits.
    #[command(flatten)]
    pub lock: LockArgs,
    /// History that does not match the files.
    #[command(flatten)]
    pub history: HistoryArgs,
    /// An empty set.
    #[command(flatten)]
    pub empty: EmptyArg,
    /// Shared database flags.
    #[command(flatten)]
    pub db: DbArgs,
}

/// Arguments of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// text: ours (state, checksum, notes); sql-migrate: the table sql-migrate's `status`
    /// prints, byte for byte, for scripts that read it [default: text].
    #[arg(long, value_name = "FORMAT", value_enum, conflicts_with = "json")]
    pub format: Option<StatusFormat>,
    /// History that does not match the files.
    #[command(flatten)]
    pub history: HistoryArgs,
    /// Shared database flags.
    #[command(flatten)]
    pub db: DbArgs,
}

/// `status --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFormat {
    /// Our own table.
    Text,
    /// sql-migrate's table.
    SqlMigrate,
}

/// Arguments of `resolve`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("outcome").required(true).args([
    "applied",
    "rolled_back",
    "statement_committed",
    "statement_not_committed",
])))]
pub struct ResolveArgs {
    /// The migration id (file name).
    pub id: String,
    /// The migration is now fully applied.
    #[arg(long)]
    pub applied: bool,
    /// The migration is now fully rolled back (not applied).
    #[arg(long)]
    pub rolled_back: bool,
    /// The statement N that `status` shows in doubt took effect: statements 1..N are
    /// committed, and `up --resume` continues after it.
    #[arg(long, value_name = "N")]
    pub statement_committed: Option<usize>,
    /// The statement N that `status` shows in doubt did not take effect: `up --resume`
    /// runs it again.
    #[arg(long, value_name = "N")]
    pub statement_not_committed: Option<usize>,
    /// The lock and the metadata-lock waits.
    #[command(flatten)]
    pub lock: LockArgs,
    /// Shared database flags.
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug)]
/// A command to run through the engine's command layer: the request, where the
/// migrations are, and where the database is (`None` for `verify`).
pub struct Invocation<'a> {
    /// The request.
    pub request: Request,
    /// Where the migrations come from, `--json` and `--via-lambda`.
    pub source: &'a SourceArgs,
    /// The database flags, with the waits and assumptions of this command.
    pub db: Option<DbArgs>,
    /// `plan --review --html`: where the review's page goes.
    pub html: Option<&'a std::path::Path>,
    /// `lint --sarif`, `status --format sql-migrate`: the report in another tool's format.
    pub layout: Layout,
}

impl VerifyArgs {
    /// As an engine request.
    pub fn invocation(&self) -> Invocation<'_> {
        Invocation {
            request: request(CommandName::Verify, None, Some(self.empty)),
            source: &self.source,
            db: None,
            html: None,
            layout: Layout::Text,
        }
    }
}

impl LintArgs {
    /// As an engine request: with `--pending` the database flags go with it.
    pub fn invocation(&self) -> Invocation<'_> {
        Invocation {
            request: Request {
                lint_fail_on: self.lint_fail_on,
                pending: self.pending,
                ..request(CommandName::Lint, None, Some(self.empty))
            },
            source: &self.db.source,
            db: self.pending.then(|| self.db.clone()),
            html: None,
            layout: if self.sarif {
                Layout::Sarif
            } else {
                Layout::Text
            },
        }
    }

    /// The database flags given without `--pending`, which only then reads the database.
    pub fn unused(&self) -> Vec<&'static str> {
        if self.pending {
            Vec::new()
        } else {
            self.db.local_only()
        }
    }
}

impl RunArgs {
    /// As an engine request for `command` (`up` or `down`).
    pub fn invocation(&self, command: CommandName) -> Invocation<'_> {
        let mut r = request(command, Some(self.history), Some(self.empty));
        r.limit = self.limit;
        r.version = self.version;
        r.dry_run = self.dry_run;
        r.sql = self.sql;
        r.resume = self.resume;
        on(r, &self.db, self.db.locking(self.lock))
    }
}

impl DownArgs {
    /// As an engine request.
    pub fn invocation(&self) -> Invocation<'_> {
        let mut inv = self.run.invocation(CommandName::Down);
        inv.request.allow_empty_down = self.allow_empty_down;
        inv
    }
}

impl SkipArgs {
    /// As an engine request.
    pub fn invocation(&self) -> Invocation<'_> {
        let mut r = request(CommandName::Skip, Some(self.history), Some(self.empty));
        r.limit = self.limit;
        on(r, &self.db, self.db.locking(self.lock))
    }
}

impl PlanArgs {
    /// As an engine request.
    pub fn invocation(&self) -> Invocation<'_> {
        let mut r = request(CommandName::Plan, Some(self.history), Some(self.empty));
        r.limit = self.limit;
        r.version = self.version;
        r.resume = self.resume;
        r.review = self.review;
        r.sql = self.sql;
        let lock = LockArgs {
            lock_timeout: self.lock_timeout,
            ..LockArgs::default()
        };
        let db = DbArgs {
            review: self.review_args,
            ..self.db.locking(lock)
        };
        Invocation {
            html: self.html.as_deref(),
            ..on(r, &self.db, db)
        }
    }
}

impl RedoArgs {
    /// As an engine request.
    pub fn invocation(&self) -> Invocation<'_> {
        let mut r = request(CommandName::Redo, Some(self.history), Some(self.empty));
        r.dry_run = self.dry_run;
        r.sql = self.sql;
        r.allow_empty_down = self.allow_empty_down;
        on(r, &self.db, self.db.locking(self.lock))
    }
}

impl StatusArgs {
    /// As an engine request.
    pub fn invocation(&self) -> Invocation<'_> {
        let r = request(CommandName::Status, Some(self.history), None);
        Invocation {
            layout: match self.format {
                Some(StatusFormat::SqlMigrate) => Layout::SqlMigrate,
                Some(StatusFormat::Text) | None => Layout::Text,
            },
            ..on(r, &self.db, self.db.clone())
        }
    }
}

impl ResolveArgs {
    /// As an engine request.
    pub fn invocation(&self) -> Invocation<'_> {
        let mut r = request(CommandName::Resolve, None, None);
        r.id = Some(self.id.clone());
        r.resolution = Some(
            match (self.statement_committed, self.statement_not_committed) {
                (Some(n), _) => {
                    r.statement = Some(n);
                    Resolution::StatementCommitted
                }
                (_, Some(n)) => {
                    r.statement = Some(n);
                    Resolution::StatementNotCommitted
                }
                _ if self.applied => Resolution::Applied,
                _ => Resolution::RolledBack,
            },
        );
        on(r, &self.db, self.db.locking(self.lock))
    }
}

/// An invocation of `request` on the database `db` (with this command's waits), reading
/// the migrations `flags` name.
fn on(request: Request, flags: &DbArgs, db: DbArgs) -> Invocation<'_> {
    Invocation {
        request,
        source: &flags.source,
        db: Some(db),
        html: None,
        layout: Layout::Text,
    }
}

/// Rewrites sql-migrate's single-dash flags (`-config=x`, `-env x`, `-limit=1`,
/// `-dryrun`, `-version N`) to ours, so its users' scripts keep working. As in
/// sql-migrate, position decides what `-version` means: before the command it (and
/// `-v`) asks for this program's version, after `up`, `down` or `plan` it names a
/// migration version to go to. `commands` are the subcommands' names.
pub fn sql_migrate_flags(
    args: impl IntoIterator<Item = OsString>,
    commands: &[&str],
) -> Vec<OsString> {
    let mut before_command = true;
    args.into_iter()
        .enumerate()
        .map(|(i, a)| {
            let Some(s) = a.to_str() else { return a };
            if i > 0 && commands.contains(&s) {
                before_command = false;
            }
            if before_command && s == "-v" {
                return OsString::from("--version");
            }
            for (old, new) in [
                ("-config", "--config"),
                ("-env", "--env"),
                ("-limit", "--limit"),
                ("-dryrun", "--dry-run"),
                ("-version", "--version"),
            ] {
                if s == old {
                    return OsString::from(new);
                }
                if let Some(v) = s.strip_prefix(old).and_then(|r| r.strip_prefix('=')) {
                    return OsString::from(format!("{new}={v}"));
                }
            }
            a
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_a_unit_or_bare_bytes_and_sources_are_parsed_once() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cmd {
            #[command(flatten)]
            source: SourceArgs,
        }
        let parse = |args: &[&str]| Cmd::try_parse_from(args).map(|c| c.source);
        let size = |args: &[&str]| parse(args).unwrap().limits().max_file_size;
        assert_eq!(size(&["x", "--max-file-size", "4194304"]), 4 << 20);
        assert_eq!(size(&["x", "--max-file-size", "4MiB"]), 4 << 20);
        assert_eq!(size(&["x"]), Limits::default().max_file_size);
        let total = parse(&["x", "--max-total-size", "512KiB"]).unwrap();
        assert_eq!(total.limits().max_total_size, 512 << 10);
        assert!(parse(&["x", "--max-file-size", "big"]).is_err());
        assert_eq!(parse(&["x"]).unwrap().folder, None);
        assert_eq!(
            parse(&["x"]).unwrap().folder_or(None).unwrap(),
            DEFAULT_FOLDER
        );
        assert_eq!(
            parse(&["x"]).unwrap().folder_or(Some("./db/")).unwrap(),
            "db"
        );
        assert!(parse(&["x"]).unwrap().folder_or(Some("/abs")).is_err());
        assert_eq!(
            parse(&["x", "--dir", ""]).unwrap().folder.as_deref(),
            Some("")
        );
        assert_eq!(
            parse(&["x", "--dir", "db/sql/"]).unwrap().folder.as_deref(),
            Some("db/sql")
        );
        for bad in ["/", "..", "../m", "/abs"] {
            assert!(parse(&["x", "--dir", bad]).is_err(), "{bad}");
        }
        assert!(matches!(
            parse(&["x", "--source", "s3://b/k.zip"]).unwrap().source,
            Some(SourceSpec::S3 { .. })
        ));
        assert!(parse(&["x", "--source", "s3://b"]).is_err());
    }

    #[test]
    fn single_dash_flags() {
        let got = sql_migrate_flags(
            [
                "x",
                "up",
                "-config=c.yml",
                "-env",
                "prod",
                "-limit=2",
                "-dryrun",
                "-l",
                "-version=3",
                "-v",
            ]
            .map(OsString::from),
            &["up"],
        );
        assert_eq!(
            got,
            [
                "x",
                "up",
                "--config=c.yml",
                "--env",
                "prod",
                "--limit=2",
                "--dry-run",
                "-l",
                "--version=3",
                "-v"
            ]
            .map(OsString::from)
        );
        // Before the command, both ask for the program's version.
        for v in ["-v", "-version", "--version"] {
            let got = sql_migrate_flags(["x", v].map(OsString::from), &["up"]);
            assert_eq!(got, ["x", "--version"].map(OsString::from));
        }
    }
}
