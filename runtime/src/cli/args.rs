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
    /// Accept a source with no migration in its folder (otherwise an error, naming where
    /// its .sql files are).
    #[arg(long)]
    pub allow_empty: bool,
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
}

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

/// Arguments of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Where the migrations come from.
    #[command(flatten)]
    pub source: SourceArgs,
}

/// Arguments of `lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Where the migrations come from, and (with --pending) the database.
    #[command(flatten)]
    pub db: DbArgs,
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

/// Flags shared by the database subcommands.
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
    /// Ignore history rows that have no migration file.
    #[arg(long)]
    pub ignore_unknown: bool,
    /// Proceed although applied migrations' files changed (reported).
    #[arg(long)]
    pub allow_drift: bool,
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
    /// `plan --review`: the rate a copying or rebuilding ALTER is assumed to go at, per
    /// second, e.g. 50MiB (bare: bytes) [default: REVIEW_COPY_RATE_MB, else 50MiB].
    #[arg(long, value_name = "SIZE", value_parser = engine::settings::value::size_flag)]
    pub review_copy_rate: Option<u64>,
    /// `plan --review`: list transactions open longer than this, bare: seconds
    /// [default: REVIEW_LONG_TRANSACTION_SECS, else 10s].
    #[arg(long, value_name = "DURATION", value_parser = engine::settings::value::duration_flag)]
    pub review_long_transaction: Option<std::time::Duration>,
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
        flag(self.database.is_some(), "--database");
        flag(self.config.is_some(), "--config");
        flag(self.env.is_some(), "--env");
        flag(self.table.is_some(), "--table");
        flag(self.schema.is_some(), "--schema");
        flag(self.lock_timeout.is_some(), "--lock-timeout");
        flag(self.lock_wait_timeout.is_some(), "--lock-wait-timeout");
        flag(self.lock_wait_retries.is_some(), "--lock-wait-retries");
        flag(self.review_copy_rate.is_some(), "--review-copy-rate");
        flag(
            self.review_long_transaction.is_some(),
            "--review-long-transaction",
        );
        flag(self.tls, "--tls");
        flag(self.tls_ca.is_some(), "--tls-ca");
        flag(self.connect_timeout.is_some(), "--connect-timeout");
        flag(self.read_timeout.is_some(), "--read-timeout");
        set
    }

    fn request(&self, command: CommandName) -> Request {
        let runs = command != CommandName::Resolve;
        Request {
            allow_drift: runs && self.allow_drift,
            ignore_unknown: runs && self.ignore_unknown,
            allow_empty: self.source.allow_empty,
            ..Request::new(command)
        }
    }
}

/// Arguments of `up`, `down` and `skip`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// At most N migrations (0: all) [default: all; `down`: 1].
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Show what would be done; change nothing (not for `skip`).
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: print the SQL the run would send, in order, as one script for the
    /// mysql client (session, lock, statements, bookkeeping).
    #[arg(long, requires = "dry_run")]
    pub sql: bool,
    /// Continue a partial migration from its first uncommitted statement (not for `skip`).
    #[arg(long)]
    pub resume: bool,
    /// `down`: revert migrations whose Down section is missing or empty (only their
    /// history row goes; the schema stays unchanged) instead of refusing.
    #[arg(long)]
    pub allow_empty_down: bool,
    /// Shared database flags.
    #[command(flatten)]
    pub db: DbArgs,
}

/// Arguments of `plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Plan at most N migrations (0: all).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
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
    /// Print the SQL `up` would send, in order, as one script for the mysql client.
    #[arg(long)]
    pub sql: bool,
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
    /// Shared database flags.
    #[command(flatten)]
    pub db: DbArgs,
}

/// A command to run through the engine's command layer: the request, where the
/// migrations are, and where the database is (`None` for `verify`).
pub struct Invocation<'a> {
    /// The request.
    pub request: Request,
    /// Where the migrations come from, and `--json`.
    pub source: &'a SourceArgs,
    /// The database flags.
    pub db: Option<&'a DbArgs>,
    /// `plan --review --html`: where the review's page goes.
    pub html: Option<&'a std::path::Path>,
    /// `lint --sarif`, `status --format sql-migrate`: the report in another tool's format.
    pub layout: Layout,
}

impl VerifyArgs {
    /// As an engine request.
    pub fn invocation(&self) -> Invocation<'_> {
        Invocation {
            request: Request {
                allow_empty: self.source.allow_empty,
                ..Request::new(CommandName::Verify)
            },
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
                allow_empty: self.db.source.allow_empty,
                lint_fail_on: self.lint_fail_on,
                pending: self.pending,
                ..Request::new(CommandName::Lint)
            },
            source: &self.db.source,
            db: self.pending.then_some(&self.db),
            html: None,
            layout: if self.sarif {
                Layout::Sarif
            } else {
                Layout::Text
            },
        }
    }

    /// The flags given that this lint does not use: database flags without `--pending`,
    /// and the ones no lint uses (it takes no lock and plans no run).
    pub fn unused(&self) -> Vec<&'static str> {
        let d = &self.db;
        let mut unused = if self.pending {
            Vec::new()
        } else {
            d.local_only()
        };
        let mut flag = |on: bool, name| {
            if on && !unused.contains(&name) {
                unused.push(name)
            }
        };
        flag(d.allow_drift, "--allow-drift");
        flag(d.ignore_unknown, "--ignore-unknown");
        flag(d.lock_timeout.is_some(), "--lock-timeout");
        flag(d.lock_wait_timeout.is_some(), "--lock-wait-timeout");
        flag(d.lock_wait_retries.is_some(), "--lock-wait-retries");
        flag(d.review_copy_rate.is_some(), "--review-copy-rate");
        flag(
            d.review_long_transaction.is_some(),
            "--review-long-transaction",
        );
        unused
    }
}

fn with_db(request: Request, db: &DbArgs) -> Invocation<'_> {
    Invocation {
        request,
        source: &db.source,
        db: Some(db),
        html: None,
        layout: Layout::Text,
    }
}

impl RunArgs {
    /// As an engine request for `command` (`up`, `down` or `skip`).
    pub fn invocation(&self, command: CommandName) -> Invocation<'_> {
        let mut r = self.db.request(command);
        r.limit = self.limit;
        r.dry_run = self.dry_run;
        r.sql = self.sql;
        r.resume = self.resume;
        r.allow_empty_down = self.allow_empty_down;
        with_db(r, &self.db)
    }
}

impl PlanArgs {
    /// As an engine request.
    pub fn invocation(&self) -> Invocation<'_> {
        let mut r = self.db.request(CommandName::Plan);
        r.limit = self.limit;
        r.resume = self.resume;
        r.review = self.review;
        r.sql = self.sql;
        Invocation {
            html: self.html.as_deref(),
            ..with_db(r, &self.db)
        }
    }
}

impl RedoArgs {
    /// As an engine request.
    pub fn invocation(&self) -> Invocation<'_> {
        let mut r = self.db.request(CommandName::Redo);
        r.dry_run = self.dry_run;
        r.sql = self.sql;
        r.allow_empty_down = self.allow_empty_down;
        with_db(r, &self.db)
    }
}

impl StatusArgs {
    /// As an engine request.
    pub fn invocation(&self) -> Invocation<'_> {
        Invocation {
            layout: match self.format {
                Some(StatusFormat::SqlMigrate) => Layout::SqlMigrate,
                Some(StatusFormat::Text) | None => Layout::Text,
            },
            ..with_db(self.db.request(CommandName::Status), &self.db)
        }
    }
}

impl ResolveArgs {
    /// As an engine request.
    pub fn invocation(&self) -> Invocation<'_> {
        let mut r = self.db.request(CommandName::Resolve);
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
        with_db(r, &self.db)
    }
}

/// Rewrites sql-migrate's single-dash flags (`-config=x`, `-env x`, `-limit=1`,
/// `-dryrun`) to ours, so its users' scripts keep working.
pub fn sql_migrate_flags(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    args.into_iter()
        .map(|a| {
            let Some(s) = a.to_str() else { return a };
            for (old, new) in [
                ("-config", "--config"),
                ("-env", "--env"),
                ("-limit", "--limit"),
                ("-dryrun", "--dry-run"),
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
            ]
            .map(OsString::from),
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
                "-l"
            ]
            .map(OsString::from)
        );
    }
}
