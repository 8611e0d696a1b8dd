//! What every database subcommand shares: where the migrations and the database are
//! (flags, `DATABASE_URL`, sql-migrate's `dbconfig.yml`, `DB_*` variables), and how
//! engine errors map to exit codes.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use engine::Limits;
use engine::db::config::parse_duration;
use engine::db::{ConnConfig, Database, DbError, Settings, Tls, dbconfig};

use super::{Exit, Failure, SourceArgs};

/// Flags shared by the database subcommands.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// A zip artifact or a directory of .sql files [default: the config's dir, else ./migrations].
    #[arg(long, value_name = "ZIP|DIR")]
    pub source: Option<PathBuf>,
    /// The migrations folder inside a zip artifact.
    #[arg(long, default_value = "migrations", value_name = "NAME")]
    pub dir: String,
    /// Largest migration file accepted, in bytes.
    #[arg(long, default_value_t = Limits::default().max_file_size, value_name = "BYTES")]
    pub max_file_size: u64,
    /// The database: mysql://user:pass@host:port/db or user:pass@tcp(host:port)/db.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub database: Option<String>,
    /// sql-migrate's configuration file (read when given, or when ./dbconfig.yml exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The environment in the configuration file.
    #[arg(long, default_value = "development", value_name = "NAME")]
    pub env: String,
    /// The history table [default: the config's table, else gorp_migrations].
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
    /// Seconds to wait for the migration lock.
    #[arg(long, default_value = "60", value_name = "SECONDS", value_parser = duration_arg)]
    pub lock_timeout: Duration,
    /// Require TLS and verify the server's certificate.
    #[arg(long)]
    pub tls: bool,
    /// CA bundle (PEM) to verify the server with (e.g. RDS's); implies --tls.
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// Connect timeout, e.g. 10s.
    #[arg(long, value_name = "DURATION", value_parser = duration_arg)]
    pub connect_timeout: Option<Duration>,
    /// Read timeout, e.g. 10m [default: none].
    #[arg(long, value_name = "DURATION", value_parser = duration_arg)]
    pub read_timeout: Option<Duration>,
    /// Print one JSON object on stdout describing what was (or would be) done.
    #[arg(long)]
    pub json: bool,
}

fn duration_arg(s: &str) -> Result<Duration, String> {
    parse_duration(s).ok_or_else(|| format!("not a duration: {s:?} (e.g. 60, 30s, 2m)"))
}

/// Everything a database subcommand needs, resolved.
pub struct Resolved {
    /// The connection settings.
    pub conn: ConnConfig,
    /// Tables, schema, lock timeout.
    pub settings: Settings,
    /// Where the migrations come from.
    pub source: SourceArgs,
    /// `--ignore-unknown` or the config's `ignoreunknown`.
    pub ignore_unknown: bool,
}

impl DbArgs {
    /// Resolves the flags with `dbconfig.yml` and the environment.
    pub fn resolve(&self) -> Result<Resolved, Failure> {
        let var = |k: &str| std::env::var(k).ok();
        let config_path = self
            .config
            .clone()
            .or_else(|| Some(PathBuf::from("dbconfig.yml")).filter(|p| p.is_file()));
        let file = match &config_path {
            Some(p) => Some(dbconfig::load(p, &self.env, var).map_err(Failure::bad_input)?),
            None => None,
        };
        let mut conn = if let Some(url) = self.database.as_deref().filter(|u| !u.is_empty()) {
            ConnConfig::parse(url).map_err(Failure::bad_input)?
        } else if let Some(f) = &file {
            f.conn.clone()
        } else {
            ConnConfig::from_vars(var)
                .map_err(Failure::bad_input)?
                .ok_or_else(|| Failure::bad_input(engine::db::ConfigError::Missing))?
        };
        if self.tls && conn.tls == Tls::Off {
            conn.tls = Tls::Verify;
        }
        if let Some(ca) = &self.tls_ca {
            conn.ca = Some(ca.clone());
            if conn.tls == Tls::Off {
                conn.tls = Tls::Verify;
            }
        }
        if let Some(t) = self.connect_timeout {
            conn.connect_timeout = t;
        }
        if let Some(t) = self.read_timeout {
            conn.read_timeout = Some(t);
        }
        let settings = Settings {
            table: self
                .table
                .clone()
                .or_else(|| file.as_ref().and_then(|f| f.table.clone()))
                .unwrap_or_else(|| engine::db::DEFAULT_TABLE.into()),
            schema: self
                .schema
                .clone()
                .or_else(|| file.as_ref().and_then(|f| f.schema.clone())),
            lock_timeout: self.lock_timeout,
        };
        let source = SourceArgs {
            source: self
                .source
                .clone()
                .or_else(|| file.as_ref().map(|f| PathBuf::from(&f.dir)))
                .unwrap_or_else(|| PathBuf::from("./migrations")),
            dir: self.dir.clone(),
            max_file_size: self.max_file_size,
        };
        Ok(Resolved {
            conn,
            settings,
            source,
            ignore_unknown: self.ignore_unknown || file.as_ref().is_some_and(|f| f.ignore_unknown),
        })
    }
}

impl Resolved {
    /// Connects.
    pub fn connect(&self) -> Result<Database, Failure> {
        Database::connect(&self.conn, &self.settings).map_err(db_failure)
    }
}

/// Maps an engine database error to its exit code.
pub fn db_failure(e: DbError) -> Failure {
    let exit = match &e {
        DbError::LockTimeout { .. } => Exit::LockTimeout,
        DbError::Migration(_) | DbError::Query { .. } => Exit::MigrationFailed,
        DbError::Connect { .. }
        | DbError::NoDatabase
        | DbError::BadJournal { .. }
        | DbError::Plan(_)
        | DbError::Parse(_)
        | DbError::Resolve { .. } => Exit::BadInput,
    };
    Failure {
        exit,
        message: e.to_string(),
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
