//! One connection spec for every front end: the CLI's flags, the migrator's environment
//! and sql-migrate's `dbconfig.yml` all fill a [`ConnSpec`], and [`ConnSpec::load`]
//! layers it into connection settings the same way everywhere, so an option works the
//! same wherever it is given. The variables' names, units and defaults are the rows of
//! [`crate::settings::table`].
//!
//! Precedence, highest first: what the front end set explicitly (a flag); then a
//! `dbconfig.yml` named explicitly (`--config` or `--env`, as a sql-migrate user names
//! one); then the environment (`DATABASE_URL`, `DB_TLS`, `DB_CA_BUNDLE`,
//! `MIGRATIONS_TABLE`, `LOCK_TIMEOUT_SECS`, `LOCK_WAIT_TIMEOUT_SECS`,
//! `LOCK_WAIT_RETRIES`); then a `./dbconfig.yml` found without being named; then the
//! `DB_HOST`-style variables; then the defaults. An exported `DATABASE_URL` used to beat
//! `-config dbconfig.yml -env production` silently and migrate the wrong database: an
//! explicit choice now wins, and what it overrode is reported ([`DbSettings::ignored`]).

use std::path::PathBuf;
use std::time::Duration;

use super::Settings;
use super::config::{ConfigError, ConnConfig, Tls};
use super::dbconfig::{self, DbConfigError};
use crate::settings::{Env, SettingError, table};

/// Everything that can describe a connection, before one is chosen.
#[derive(Debug, Clone, Default)]
pub struct ConnSpec {
    /// A `mysql://` URL or go-sql-driver DSN (`--database`); else `DATABASE_URL`.
    pub url: Option<String>,
    /// sql-migrate's configuration file (`--config`); else `./dbconfig.yml` if it exists
    /// and `look_for_config` is set.
    pub config_file: Option<PathBuf>,
    /// Look for `./dbconfig.yml` when no file is named (the CLI does; a Lambda does not).
    pub look_for_config: bool,
    /// The environment in the configuration file (default `development`).
    pub config_env: Option<String>,
    /// TLS mode (`--tls`); else `DB_TLS`.
    pub tls: Option<Tls>,
    /// CA bundle (`--tls-ca`); else `DB_CA_BUNDLE`. Implies TLS.
    pub ca: Option<PathBuf>,
    /// TCP connect timeout.
    pub connect_timeout: Option<Duration>,
    /// Socket read timeout.
    pub read_timeout: Option<Duration>,
    /// The history table (`--table`); else `MIGRATIONS_TABLE`, the file's, `gorp_migrations`.
    pub table: Option<String>,
    /// The schema holding the tables; else the file's, else the connection's database.
    pub schema: Option<String>,
    /// How long to wait for the migration lock; else `LOCK_TIMEOUT_SECS`, else 60 s.
    pub lock_timeout: Option<Duration>,
    /// Every session's `lock_wait_timeout`; else `LOCK_WAIT_TIMEOUT_SECS`, else 10 s.
    pub lock_wait_timeout: Option<Duration>,
    /// Retries of a DDL statement that timed out waiting for a metadata lock; else
    /// `LOCK_WAIT_RETRIES`, else 3.
    pub lock_wait_retries: Option<u32>,
    /// `plan --review`'s copy rate, bytes per second; else `REVIEW_COPY_RATE_MB`.
    pub review_copy_rate: Option<u64>,
    /// `plan --review`'s long-transaction threshold; else `REVIEW_LONG_TRANSACTION_SECS`.
    pub review_long_transaction: Option<Duration>,
}

/// Where the connection settings came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The front end's own setting (`--database`).
    Flag,
    /// An environment of a `dbconfig.yml`.
    Config {
        /// The file, as named or found.
        file: String,
        /// The environment.
        env: String,
    },
    /// A variable holding a URL or DSN (`DATABASE_URL`).
    Url(&'static str),
    /// The `DB_HOST`-style variables.
    Vars,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Flag => f.write_str("flag --database"),
            Origin::Config { file, env } => write!(f, "config {file} env {env}"),
            Origin::Url(name) => write!(f, "env {name}"),
            Origin::Vars => f.write_str("env DB_HOST"),
        }
    }
}

/// A setting that was given but lost to a higher layer: said, never silently dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    /// What was ignored: a variable's name, or `./dbconfig.yml`.
    pub what: String,
    /// What won over it.
    pub winner: String,
}

impl std::fmt::Display for Ignored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is set but ignored: {} wins", self.what, self.winner)
    }
}

/// A spec's settings, once layered.
#[derive(Debug, Clone)]
pub struct DbSettings {
    /// Where and how to connect.
    pub conn: ConnConfig,
    /// Tables, schema, lock timeout.
    pub settings: Settings,
    /// The configuration file's local migrations directory (`dir`), when one was read.
    pub migrations_dir: Option<String>,
    /// The configuration file's `ignoreunknown`.
    pub ignore_unknown: bool,
    /// Where the connection came from.
    pub origin: Origin,
    /// Settings given but overridden by a higher layer.
    pub ignored: Vec<Ignored>,
}

impl DbSettings {
    /// The database a command changes, as `user@host:port/db` (never the password), and
    /// where that came from: the `target:` line and `--json`'s `target`.
    pub fn target(&self) -> crate::command::Target {
        let c = &self.conn;
        let place = match &c.socket {
            Some(s) => format!("unix({s})"),
            None => format!("{}:{}", c.host, c.port),
        };
        let db = self
            .settings
            .schema
            .as_deref()
            .or(c.database.as_deref())
            .unwrap_or("");
        crate::command::Target {
            address: format!("{}@{place}/{db}", c.user),
            from: self.origin.to_string(),
        }
    }
}

/// Why a spec cannot be used. Never holds a password.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The URL, DSN or `DB_*` variables are unusable.
    #[error(transparent)]
    Conn(#[from] ConfigError),
    /// The configuration file is unusable.
    #[error(transparent)]
    File(#[from] DbConfigError),
    /// A setting has a value we cannot use.
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// `--env` names an environment, but no configuration file is named or found.
    #[error(
        "--env {env} names an environment of dbconfig.yml, but there is no ./dbconfig.yml \
         (pass --config FILE)"
    )]
    NoConfigFile {
        /// The environment asked for.
        env: String,
    },
}

/// Parses a TLS mode as the CLI, `DB_TLS`, the stack's `dbTls` and go-sql-driver's `tls`
/// parameter spell it: one list for all, [`TLS_MODES`](super::config::TLS_MODES).
pub fn parse_tls(s: &str) -> Option<Tls> {
    super::config::tls_mode(s)
}

/// Connection settings from the seed's variables `DB_HOST`, `DB_PORT`, `DB_USER`,
/// `DB_PASSWORD`, `DB_NAME`; `None` when `DB_HOST` is not set.
pub fn conn_from_vars(env: &Env<'_>) -> Result<Option<ConnConfig>, ConfigError> {
    let Some(host) = env.text(&table::DB_HOST) else {
        return Ok(None);
    };
    let mut c = ConnConfig {
        host,
        ..ConnConfig::default()
    };
    if let Some(p) = env.text(&table::DB_PORT) {
        c.port = super::config::parse_port(&p)?;
    }
    if let Some(u) = env.text(&table::DB_USER) {
        c.user = u;
    }
    c.password = env.text(&table::DB_PASSWORD);
    c.database = env.text(&table::DB_NAME);
    Ok(Some(c))
}

impl ConnSpec {
    /// Layers the spec over the environment (`var` looks variables up), the
    /// configuration file and the defaults.
    pub fn load(&self, var: impl Fn(&str) -> Option<String>) -> Result<DbSettings, SpecError> {
        let env = Env::new(&var);
        let config_path = self.config_file.clone().or_else(|| {
            Some(PathBuf::from("dbconfig.yml")).filter(|p| self.look_for_config && p.is_file())
        });
        // Naming the file or its environment is an explicit choice; a file merely found
        // in the working directory is not.
        let explicit = self.config_file.is_some() || self.config_env.is_some();
        if config_path.is_none()
            && let Some(e) = &self.config_env
        {
            return Err(SpecError::NoConfigFile { env: e.clone() });
        }
        let config_env = self
            .config_env
            .as_deref()
            .unwrap_or(table::CONFIG_ENV.default.text());
        let file = match &config_path {
            Some(p) => Some(dbconfig::load(p, config_env, &var)?),
            None => None,
        };
        let file_origin = config_path.as_ref().map(|p| Origin::Config {
            file: p.display().to_string(),
            env: config_env.to_owned(),
        });
        let env_url = env.text(&table::DATABASE_URL);
        let url_var = table::DATABASE_URL.env.unwrap_or_default();
        let vars = conn_from_vars(&env)?;
        let mut ignored = Vec::new();
        let (mut conn, origin) = if let Some(url) = &self.url {
            (ConnConfig::parse(url)?, Origin::Flag)
        } else if let (true, Some(f), Some(o)) = (explicit, &file, &file_origin) {
            (f.conn.clone(), o.clone())
        } else if let Some(url) = &env_url {
            (ConnConfig::parse(url)?, Origin::Url(url_var))
        } else if let (Some(f), Some(o)) = (&file, &file_origin) {
            (f.conn.clone(), o.clone())
        } else {
            (vars.clone().ok_or(ConfigError::Missing)?, Origin::Vars)
        };
        let winner = || origin.to_string();
        if env_url.is_some() && origin != Origin::Url(url_var) {
            ignored.push(Ignored {
                what: url_var.to_owned(),
                winner: winner(),
            });
        }
        if vars.is_some() && origin != Origin::Vars {
            ignored.push(Ignored {
                what: table::DB_HOST.env.unwrap_or_default().to_owned(),
                winner: winner(),
            });
        }
        if let Some(o) = &file_origin
            && *o != origin
        {
            ignored.push(Ignored {
                what: format!("{o} (for the connection; pass --config or --env to use it)"),
                winner: winner(),
            });
        }
        let tls = match self.tls {
            Some(t) => Some(t),
            None => match env.raw(&table::TLS) {
                Some((name, v)) => Some(parse_tls(&v).ok_or_else(|| {
                    SettingError::new(
                        name,
                        &v,
                        "expected required, preferred, skip-verify or disabled",
                    )
                })?),
                None => None,
            },
        };
        if let Some(t) = tls {
            conn.tls = t;
        }
        if let Some(ca) = self
            .ca
            .clone()
            .or_else(|| env.text(&table::TLS_CA).map(PathBuf::from))
        {
            if !ca.is_file() {
                return Err(SettingError::new(
                    "DB_CA_BUNDLE",
                    &ca.display().to_string(),
                    "not a readable file",
                )
                .into());
            }
            conn.ca = Some(ca);
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
        let defaults = Settings::default();
        let lock_timeout = match self.lock_timeout {
            Some(t) => t,
            None => env
                .duration(&table::LOCK_TIMEOUT)?
                .unwrap_or(defaults.lock_timeout),
        };
        let lock_wait_timeout = match self.lock_wait_timeout {
            Some(t) => t,
            None => env
                .duration(&table::LOCK_WAIT_TIMEOUT)?
                .unwrap_or(defaults.lock_wait_timeout),
        };
        let lock_wait_retries = match self.lock_wait_retries {
            Some(n) => n,
            None => env
                .count(&table::LOCK_WAIT_RETRIES)?
                .map_or(defaults.lock_wait_retries, |n| {
                    u32::try_from(n).unwrap_or(u32::MAX)
                }),
        };
        let review_copy_rate = match self.review_copy_rate {
            Some(r) => r,
            None => env
                .size(&table::REVIEW_COPY_RATE)?
                .unwrap_or(defaults.review_copy_rate),
        };
        let review_long_transaction = match self.review_long_transaction {
            Some(t) => t,
            None => env
                .duration(&table::REVIEW_LONG_TRANSACTION)?
                .unwrap_or(defaults.review_long_transaction),
        };
        let file_table = file.as_ref().and_then(|f| f.table.clone());
        let env_table = env.text(&table::TABLE);
        let table = match (&self.table, &file_table, &env_table) {
            (Some(t), _, _) => t.clone(),
            (None, Some(t), Some(_)) if explicit => {
                ignored.push(Ignored {
                    what: table::TABLE.env.unwrap_or_default().to_owned(),
                    winner: format!(
                        "the table of {}",
                        file_origin
                            .as_ref()
                            .map(Origin::to_string)
                            .unwrap_or_default()
                    ),
                });
                t.clone()
            }
            (None, file_table, env_table) => env_table
                .clone()
                .or_else(|| file_table.clone())
                .unwrap_or(defaults.table),
        };
        let settings = Settings {
            table,
            schema: self
                .schema
                .clone()
                .or_else(|| file.as_ref().and_then(|f| f.schema.clone())),
            lock_timeout,
            lock_wait_timeout,
            lock_wait_retries,
            review_copy_rate,
            review_long_transaction,
        };
        Ok(DbSettings {
            conn,
            settings,
            ignore_unknown: file.as_ref().is_some_and(|f| f.ignore_unknown),
            migrations_dir: file.map(|f| f.dir),
            origin,
            ignored,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::settings::fixed as env;

    #[test]
    fn the_environment_fills_what_no_flag_sets() {
        let r = ConnSpec::default()
            .load(env(&[
                ("DB_HOST", "db"),
                ("DB_PASSWORD", "pw"),
                ("DB_TLS", "skip-verify"),
                ("MIGRATIONS_TABLE", "history"),
                ("LOCK_TIMEOUT_SECS", "5"),
            ]))
            .unwrap();
        assert_eq!((r.conn.host.as_str(), r.conn.port), ("db", 3306));
        assert_eq!(r.conn.tls, Tls::SkipVerify);
        assert_eq!(r.settings.table, "history");
        assert_eq!(r.settings.lock_timeout, Duration::from_secs(5));
        assert_eq!(r.settings.lock_wait_timeout, Duration::from_secs(10));
        assert_eq!(r.settings.lock_wait_retries, 3);
        let r = ConnSpec::default()
            .load(env(&[
                ("DB_HOST", "db"),
                ("LOCK_WAIT_TIMEOUT_SECS", "2"),
                ("LOCK_WAIT_RETRIES", "0"),
            ]))
            .unwrap();
        assert_eq!(r.settings.lock_wait_timeout, Duration::from_secs(2));
        assert_eq!(r.settings.lock_wait_retries, 0);
        let r = ConnSpec {
            lock_wait_timeout: Some(Duration::from_secs(1)),
            lock_wait_retries: Some(5),
            ..ConnSpec::default()
        }
        .load(env(&[
            ("DB_HOST", "db"),
            ("LOCK_WAIT_TIMEOUT_SECS", "2"),
            ("LOCK_WAIT_RETRIES", "0"),
        ]))
        .unwrap();
        assert_eq!(r.settings.lock_wait_timeout, Duration::from_secs(1));
        assert_eq!(r.settings.lock_wait_retries, 5);
        let flags = ConnSpec {
            url: Some("mysql://u@h/d".into()),
            tls: Some(Tls::Off),
            table: Some("t".into()),
            ..ConnSpec::default()
        };
        let r = flags
            .load(env(&[
                ("DATABASE_URL", "mysql://x@y/z"),
                ("DB_TLS", "required"),
            ]))
            .unwrap();
        assert_eq!(r.conn.host, "h");
        assert_eq!(r.conn.tls, Tls::Off);
        assert_eq!(r.settings.table, "t");
    }

    #[test]
    fn db_vars() {
        let vars = env(&[
            ("DB_HOST", "h"),
            ("DB_PORT", "3310"),
            ("DB_USER", "u"),
            ("DB_PASSWORD", "pw"),
            ("DB_NAME", "d"),
        ]);
        let c = conn_from_vars(&Env::new(&vars)).unwrap().unwrap();
        assert_eq!((c.host.as_str(), c.port, c.user.as_str()), ("h", 3310, "u"));
        assert_eq!(c.password.as_deref(), Some("pw"));
        assert_eq!(c.database.as_deref(), Some("d"));
        assert_eq!(conn_from_vars(&Env::new(&|_| None)).unwrap(), None);
    }

    #[test]
    fn bad_values_are_named_and_missing_settings_said() {
        let e = ConnSpec::default()
            .load(env(&[("DB_HOST", "h"), ("DB_TLS", "sometimes")]))
            .unwrap_err();
        assert!(e.to_string().contains("DB_TLS"), "{e}");
        let e = ConnSpec::default()
            .load(env(&[("DB_HOST", "h"), ("LOCK_TIMEOUT_SECS", "soon")]))
            .unwrap_err();
        assert!(e.to_string().contains("LOCK_TIMEOUT_SECS"), "{e}");
        for var in ["LOCK_WAIT_TIMEOUT_SECS", "LOCK_WAIT_RETRIES"] {
            let e = ConnSpec::default()
                .load(env(&[("DB_HOST", "h"), (var, "-1")]))
                .unwrap_err();
            assert!(e.to_string().contains(var), "{e}");
        }
        assert!(matches!(
            ConnSpec::default().load(env(&[])),
            Err(SpecError::Conn(ConfigError::Missing))
        ));
        for v in ["required", "true", "verify_identity"] {
            assert_eq!(parse_tls(v), Some(Tls::Verify));
        }
        assert_eq!(parse_tls("disabled"), Some(Tls::Off));
    }

    /// The stack's `dbTls` list, read from `deploy/lib/config.ts`.
    fn stack_tls_values() -> Vec<String> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/lib/config.ts");
        let ts = std::fs::read_to_string(path).expect("deploy/lib/config.ts is readable");
        let line = ts
            .lines()
            .find(|l| l.starts_with("export const DB_TLS_VALUES = ["))
            .expect("config.ts declares DB_TLS_VALUES");
        let list = &line[line.find('[').unwrap() + 1..line.find(']').unwrap()];
        list.split(',')
            .map(|v| v.trim().trim_matches('\'').to_string())
            .filter(|v| !v.is_empty())
            .collect()
    }

    #[test]
    fn every_tls_value_the_stack_accepts_the_binary_accepts() {
        let values = stack_tls_values();
        assert!(values.len() >= 3, "{values:?}");
        for v in &values {
            let mode = parse_tls(v).unwrap_or_else(|| panic!("dbTls={v} is not in TLS_MODES"));
            let r = ConnSpec::default()
                .load(env(&[("DB_HOST", "h"), ("DB_TLS", v)]))
                .unwrap_or_else(|e| panic!("DB_TLS={v}: {e}"));
            assert_eq!(r.conn.tls, mode, "{v}");
            let url = ConnConfig::parse(&format!("u@tcp(h:3306)/d?tls={v}")).unwrap();
            assert_eq!(url.tls, mode, "tls={v}");
        }
        // What each means is decided here, once.
        assert_eq!(parse_tls("required"), Some(Tls::Verify));
        assert_eq!(parse_tls("preferred"), Some(Tls::SkipVerify));
        assert_eq!(parse_tls("disabled"), Some(Tls::Off));
    }

    #[test]
    fn dbconfig_and_url_options_follow_the_same_rules() {
        let dir = std::env::temp_dir().join(format!("lm-spec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("dbconfig.yml");
        let spec = |datasource: &str| {
            std::fs::write(
                &file,
                format!("development:\n  dialect: mysql\n  datasource: {datasource}\n"),
            )
            .unwrap();
            ConnSpec {
                config_file: Some(file.clone()),
                ..ConnSpec::default()
            }
            .load(env(&[]))
        };
        let r = spec("u:pw@tcp(h:3306)/d?charset=utf8mb4&sql_mode=TRADITIONAL").unwrap();
        assert_eq!(r.conn.charset.as_deref(), Some("utf8mb4"));
        assert_eq!(r.conn.session_vars, [("sql_mode", "'TRADITIONAL'".into())]);
        let e = spec("u:pw@tcp(h:3306)/d?autocommit=0")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("autocommit") && e.contains("dbconfig.yml"),
            "{e}"
        );
        let e = ConnSpec::default()
            .load(env(&[("DATABASE_URL", "mysql://u:pw@h/d?bogus_option=1")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bogus_option"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_explicit_config_beats_the_ambient_environment_and_says_so() {
        let dir = std::env::temp_dir().join(format!("lm-spec-prec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("dbconfig.yml");
        std::fs::write(
            &file,
            "production:\n  dialect: mysql\n  datasource: app:pw@tcp(meant:3307)/shop\n  table: history\n",
        )
        .unwrap();
        let ambient = [
            ("DATABASE_URL", "mysql://x:secret@ambient/other"),
            ("DB_HOST", "vars"),
            ("MIGRATIONS_TABLE", "theirs"),
        ];
        let explicit = ConnSpec {
            config_file: Some(file.clone()),
            config_env: Some("production".into()),
            ..ConnSpec::default()
        };
        let r = explicit.load(env(&ambient)).unwrap();
        assert_eq!(r.conn.host, "meant");
        assert_eq!(r.settings.table, "history");
        let t = r.target();
        assert_eq!(t.address, "app@meant:3307/shop");
        assert_eq!(t.from, format!("config {} env production", file.display()));
        assert!(!t.to_string().contains("pw"), "{t}");
        let ignored: Vec<String> = r.ignored.iter().map(|i| i.to_string()).collect();
        assert_eq!(ignored.len(), 3, "{ignored:?}");
        assert!(
            ignored[0].starts_with("DATABASE_URL is set but ignored: config "),
            "{ignored:?}"
        );
        assert!(
            ignored.iter().any(|i| i.starts_with("DB_HOST")),
            "{ignored:?}"
        );
        assert!(
            ignored.iter().any(|i| i.starts_with("MIGRATIONS_TABLE")),
            "{ignored:?}"
        );
        // The flag beats everything; the file's keys still apply.
        let flag = ConnSpec {
            url: Some("mysql://u@flag/d".into()),
            ..explicit.clone()
        };
        let r = flag.load(env(&ambient)).unwrap();
        assert_eq!(
            (r.conn.host.as_str(), r.origin.clone()),
            ("flag", Origin::Flag)
        );
        assert_eq!(r.target().from, "flag --database");
        // Without flag or explicit file: DATABASE_URL, then the DB_* variables.
        let r = ConnSpec::default().load(env(&ambient)).unwrap();
        assert_eq!(r.origin, Origin::Url("DATABASE_URL"));
        assert_eq!(
            r.target().to_string(),
            "x@ambient:3306/other (from env DATABASE_URL)"
        );
        assert_eq!(r.settings.table, "theirs");
        assert_eq!(r.ignored.len(), 1, "{:?}", r.ignored);
        let r = ConnSpec::default()
            .load(env(&[("DB_HOST", "vars")]))
            .unwrap();
        assert_eq!((r.origin, r.ignored.len()), (Origin::Vars, 0));
        // `--env` alone needs a file to name an environment of.
        let e = ConnSpec {
            config_env: Some("production".into()),
            ..ConnSpec::default()
        }
        .load(env(&ambient))
        .unwrap_err();
        assert!(matches!(e, SpecError::NoConfigFile { .. }), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
