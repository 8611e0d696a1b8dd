//! Every setting, one row each: how each front end spells it (flag, environment variable,
//! `dbconfig.yml` key, CDK stack option), its unit, its default and one line of doc.
//! The README's table and the stack's defaults are generated from these rows
//! ([`super::render`]); the loaders read the rows' names instead of writing their own.

use std::time::Duration;

use super::value::Bare;

/// What kind of value a setting takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A size in bytes (`4MiB`).
    Size,
    /// A duration (`10s`).
    Duration,
    /// A whole number.
    Count,
    /// `true` or `false`.
    Bool,
    /// Free text: a name, a path, a URL.
    Text,
    /// One of a fixed list of words.
    Enum(&'static [&'static str]),
}

impl Unit {
    /// The unit's name in the README.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Size => "size",
            Unit::Duration => "duration",
            Unit::Count => "count",
            Unit::Bool => "bool",
            Unit::Text => "text",
            Unit::Enum(_) => "enum",
        }
    }
}

/// A setting's default, typed so the code that needs it reads it from here.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Default {
    /// Bytes.
    Size(u64),
    /// A duration.
    Duration(Duration),
    /// A number.
    Count(u64),
    /// A boolean.
    Bool(bool),
    /// A word, name or path.
    Text(&'static str),
    /// Computed where it is used; the text says how.
    Said(&'static str),
    /// None: unset means off, or not given.
    None,
}

impl Default {
    /// The duration, for a duration setting (a mistake in the table fails at compile time
    /// where this is used in a constant).
    pub const fn duration(self) -> Duration {
        match self {
            Default::Duration(d) => d,
            _ => panic!("not a duration default"),
        }
    }

    /// The size, for a size setting.
    pub const fn size(self) -> u64 {
        match self {
            Default::Size(n) => n,
            _ => panic!("not a size default"),
        }
    }

    /// The number, for a count setting.
    pub const fn count(self) -> u64 {
        match self {
            Default::Count(n) => n,
            _ => panic!("not a count default"),
        }
    }

    /// The text, for a text or enum setting.
    pub const fn text(self) -> &'static str {
        match self {
            Default::Text(s) => s,
            _ => panic!("not a text default"),
        }
    }
}

/// Which front ends read a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readers {
    /// The command line.
    pub cli: bool,
    /// The migrator Lambda.
    pub migrator: bool,
    /// The trigger Lambda.
    pub trigger: bool,
}

const CLI: Readers = Readers {
    cli: true,
    migrator: false,
    trigger: false,
};
const MIGRATOR: Readers = Readers {
    cli: false,
    migrator: true,
    trigger: false,
};
const TRIGGER: Readers = Readers {
    cli: false,
    migrator: false,
    trigger: true,
};
const CLI_MIGRATOR: Readers = Readers {
    cli: true,
    migrator: true,
    trigger: false,
};
const LAMBDAS: Readers = Readers {
    cli: false,
    migrator: true,
    trigger: true,
};
const ALL: Readers = Readers {
    cli: true,
    migrator: true,
    trigger: true,
};

/// One setting.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The CLI flag, with its dashes.
    pub flag: Option<&'static str>,
    /// What a bare number given to the flag means.
    pub flag_bare: Bare,
    /// The environment variable.
    pub env: Option<&'static str>,
    /// What a bare number in the variable means (the unit its name has always said).
    pub env_bare: Bare,
    /// The key in a `dbconfig.yml` environment.
    pub dbconfig: Option<&'static str>,
    /// The CDK stack's option (`-c NAME=...`).
    pub stack: Option<&'static str>,
    /// The stack's default when it differs from the binaries' (the stack sizes its
    /// functions itself).
    pub stack_default: Option<u64>,
    /// The kind of value.
    pub unit: Unit,
    /// The default.
    pub default: Default,
    /// Who reads it.
    pub readers: Readers,
    /// One line of doc.
    pub doc: &'static str,
}

const ROW: Setting = Setting {
    flag: None,
    flag_bare: Bare::None,
    env: None,
    env_bare: Bare::None,
    dbconfig: None,
    stack: None,
    stack_default: None,
    unit: Unit::Text,
    default: Default::None,
    readers: ALL,
    doc: "",
};

/// The folder inside a zip artifact that holds the migrations, and the default local
/// directory: sql-migrate's `migrations`.
pub const DEFAULT_FOLDER: &str = "migrations";

/// The CLI's local migrations directory when neither `--source` nor a `dbconfig.yml`
/// names one (and `new`'s): [`DEFAULT_FOLDER`] here.
pub const DEFAULT_LOCAL_DIR: &str = "./migrations";

/// Where the migrations come from (CLI).
pub const SOURCE: Setting = Setting {
    flag: Some("--source"),
    dbconfig: Some("dir"),
    default: Default::Text(DEFAULT_LOCAL_DIR),
    readers: CLI,
    doc: "a zip artifact, a directory of .sql files, or s3://bucket/key; dbconfig.yml's `dir` is a local directory",
    ..ROW
};
/// The migrations folder inside a zip artifact.
pub const FOLDER: Setting = Setting {
    flag: Some("--dir"),
    env: Some("MIGRATIONS_DIR"),
    stack: Some("migrationsDir"),
    default: Default::Text(DEFAULT_FOLDER),
    doc: "the migrations folder inside a zip artifact; '' or . is its root, an absolute path or '..' is refused (the CLI reads the flag, else dbconfig.yml's `dir` for a zip source)",
    ..ROW
};
/// Largest migration file.
pub const MAX_FILE_SIZE: Setting = Setting {
    flag: Some("--max-file-size"),
    flag_bare: Bare::Bytes,
    env: Some("MAX_FILE_SIZE_MB"),
    env_bare: Bare::MiB,
    unit: Unit::Size,
    default: Default::Size(4 << 20),
    doc: "largest migration file accepted",
    ..ROW
};
/// Largest total of the migration files read.
pub const MAX_TOTAL_SIZE: Setting = Setting {
    flag: Some("--max-total-size"),
    flag_bare: Bare::Bytes,
    env: Some("MAX_TOTAL_SIZE_MB"),
    env_bare: Bare::MiB,
    unit: Unit::Size,
    default: Default::Size(12 << 20),
    doc: "largest total of all migration files read from an artifact: what bounds memory on a hostile one",
    ..ROW
};
/// How an S3 artifact is fetched.
pub const FETCH_MODE: Setting = Setting {
    env: Some("FETCH_MODE"),
    stack: Some("fetchMode"),
    unit: Unit::Enum(&["auto", "full", "selective"]),
    default: Default::Text("auto"),
    doc: "how an S3 artifact is read: whole, only the ranges holding the migrations, or chosen by size",
    ..ROW
};
/// Temp space a full download may use.
pub const TMP_CAPACITY: Setting = Setting {
    env: Some("TMP_CAPACITY_MB"),
    env_bare: Bare::MiB,
    unit: Unit::Size,
    default: Default::Size(512 << 20),
    doc: "temp space a full S3 download may use (Lambda's default ephemeral storage)",
    ..ROW
};
/// The database URL or DSN.
pub const DATABASE_URL: Setting = Setting {
    flag: Some("--database"),
    env: Some("DATABASE_URL"),
    dbconfig: Some("datasource"),
    readers: CLI_MIGRATOR,
    doc: "mysql://user:pass@host:port/db or go-sql-driver's user:pass@tcp(host:port)/db; the variable yields to --config/--env (the order is above the table)",
    ..ROW
};
/// The seed's host variable.
pub const DB_HOST: Setting = Setting {
    env: Some("DB_HOST"),
    stack: Some("dbHost"),
    readers: CLI_MIGRATOR,
    doc: "database host, when no URL is given (with DB_PORT, DB_USER, DB_PASSWORD, DB_NAME)",
    ..ROW
};
/// The seed's port variable.
pub const DB_PORT: Setting = Setting {
    env: Some("DB_PORT"),
    stack: Some("dbPort"),
    unit: Unit::Count,
    default: Default::Count(3306),
    readers: CLI_MIGRATOR,
    doc: "database TCP port",
    ..ROW
};
/// The seed's user variable.
pub const DB_USER: Setting = Setting {
    env: Some("DB_USER"),
    stack: Some("dbUser"),
    readers: CLI_MIGRATOR,
    doc: "database user",
    ..ROW
};
/// The seed's password variable.
pub const DB_PASSWORD: Setting = Setting {
    env: Some("DB_PASSWORD"),
    readers: CLI_MIGRATOR,
    doc: "database password (the stack uses DB_SECRET_ARN or DB_IAM_AUTH instead)",
    ..ROW
};
/// The seed's database-name variable.
pub const DB_NAME: Setting = Setting {
    env: Some("DB_NAME"),
    stack: Some("dbName"),
    readers: CLI_MIGRATOR,
    doc: "database (schema) to connect to",
    ..ROW
};
/// sql-migrate's configuration file.
pub const CONFIG: Setting = Setting {
    flag: Some("--config"),
    default: Default::Said("./dbconfig.yml if it exists"),
    readers: CLI,
    doc: "sql-migrate's configuration file; named by --config or --env, it beats DATABASE_URL, DB_* and MIGRATIONS_TABLE",
    ..ROW
};
/// The environment in the configuration file.
pub const CONFIG_ENV: Setting = Setting {
    flag: Some("--env"),
    default: Default::Text("development"),
    readers: CLI,
    doc: "the environment in the configuration file",
    ..ROW
};
/// The history table.
pub const TABLE: Setting = Setting {
    flag: Some("--table"),
    env: Some("MIGRATIONS_TABLE"),
    dbconfig: Some("table"),
    stack: Some("migrationsTable"),
    default: Default::Text("gorp_migrations"),
    readers: CLI_MIGRATOR,
    doc: "sql-migrate's history table",
    ..ROW
};
/// The schema holding the tables.
pub const SCHEMA: Setting = Setting {
    flag: Some("--schema"),
    dbconfig: Some("schema"),
    default: Default::Said("the connection's database"),
    readers: CLI,
    doc: "the schema holding the history table",
    ..ROW
};
/// Ignore history rows without a file.
pub const IGNORE_UNKNOWN: Setting = Setting {
    flag: Some("--ignore-unknown"),
    dbconfig: Some("ignoreunknown"),
    unit: Unit::Bool,
    default: Default::Bool(false),
    readers: CLI,
    doc: "ignore history rows that have no migration file",
    ..ROW
};
/// How long to wait for the migration lock.
pub const LOCK_TIMEOUT: Setting = Setting {
    flag: Some("--lock-timeout"),
    flag_bare: Bare::Secs,
    env: Some("LOCK_TIMEOUT_SECS"),
    env_bare: Bare::Secs,
    stack: Some("lockTimeoutSecs"),
    unit: Unit::Duration,
    default: Default::Duration(Duration::from_secs(60)),
    readers: CLI_MIGRATOR,
    doc: "how long to wait for the migration lock",
    ..ROW
};
/// Every session's `lock_wait_timeout`.
pub const LOCK_WAIT_TIMEOUT: Setting = Setting {
    flag: Some("--lock-wait-timeout"),
    flag_bare: Bare::Secs,
    env: Some("LOCK_WAIT_TIMEOUT_SECS"),
    env_bare: Bare::Secs,
    stack: Some("lockWaitTimeoutSecs"),
    unit: Unit::Duration,
    default: Default::Duration(Duration::from_secs(10)),
    readers: CLI_MIGRATOR,
    doc: "how long a statement may wait for a table's metadata lock (every session's lock_wait_timeout)",
    ..ROW
};
/// The copy rate `plan --review` assumes.
pub const REVIEW_COPY_RATE: Setting = Setting {
    flag: Some("--review-copy-rate"),
    flag_bare: Bare::Bytes,
    env: Some("REVIEW_COPY_RATE_MB"),
    env_bare: Bare::MiB,
    unit: Unit::Size,
    default: Default::Size(50 << 20),
    readers: CLI_MIGRATOR,
    doc: "bytes per second `plan --review` assumes a copying or rebuilding ALTER goes at (per second; measure yours: docs/review.md)",
    ..ROW
};
/// Transactions older than this are listed by `plan --review`.
pub const REVIEW_LONG_TRANSACTION: Setting = Setting {
    flag: Some("--review-long-transaction"),
    flag_bare: Bare::Secs,
    env: Some("REVIEW_LONG_TRANSACTION_SECS"),
    env_bare: Bare::Secs,
    unit: Unit::Duration,
    default: Default::Duration(Duration::from_secs(10)),
    readers: CLI_MIGRATOR,
    doc: "`plan --review` lists transactions open longer than this",
    ..ROW
};
/// Retries of DDL that timed out on a metadata lock.
pub const LOCK_WAIT_RETRIES: Setting = Setting {
    flag: Some("--lock-wait-retries"),
    env: Some("LOCK_WAIT_RETRIES"),
    stack: Some("lockWaitRetries"),
    unit: Unit::Count,
    default: Default::Count(3),
    readers: CLI_MIGRATOR,
    doc: "times a DDL statement that timed out waiting for a metadata lock is sent again, after 1s, 2s, 4s, ...",
    ..ROW
};
/// The TLS mode.
pub const TLS: Setting = Setting {
    flag: Some("--tls"),
    env: Some("DB_TLS"),
    stack: Some("dbTls"),
    unit: Unit::Enum(&["required", "preferred", "skip-verify", "disabled"]),
    default: Default::Said("the URL's tls=, else disabled"),
    readers: CLI_MIGRATOR,
    doc: "TLS mode; the flag means required (verify the server)",
    ..ROW
};
/// The CA bundle.
pub const TLS_CA: Setting = Setting {
    flag: Some("--tls-ca"),
    env: Some("DB_CA_BUNDLE"),
    stack: Some("dbCaBundle"),
    readers: CLI_MIGRATOR,
    doc: "CA bundle (PEM) to verify the server with; implies required TLS",
    ..ROW
};
/// TCP connect timeout.
pub const CONNECT_TIMEOUT: Setting = Setting {
    flag: Some("--connect-timeout"),
    flag_bare: Bare::Secs,
    unit: Unit::Duration,
    default: Default::Duration(Duration::from_secs(10)),
    readers: CLI,
    doc: "TCP connect timeout (also the URL's timeout=)",
    ..ROW
};
/// Socket read timeout.
pub const READ_TIMEOUT: Setting = Setting {
    flag: Some("--read-timeout"),
    flag_bare: Bare::Secs,
    unit: Unit::Duration,
    readers: CLI,
    doc: "socket read timeout (also the URL's readTimeout=)",
    ..ROW
};
/// Run inside the migrator function.
pub const VIA_LAMBDA: Setting = Setting {
    flag: Some("--via-lambda"),
    env: Some("LAMBDA_MIGRATE_VIA_LAMBDA"),
    readers: CLI,
    doc: "run the command inside this migrator function (name or ARN) instead of here",
    ..ROW
};
/// RDS IAM authentication.
pub const IAM_AUTH: Setting = Setting {
    env: Some("DB_IAM_AUTH"),
    stack: Some("dbIamAuth"),
    unit: Unit::Bool,
    default: Default::Bool(false),
    readers: MIGRATOR,
    doc: "log in with an RDS IAM token (needs DB_USER; forces TLS)",
    ..ROW
};
/// The password's secret.
pub const SECRET_ARN: Setting = Setting {
    env: Some("DB_SECRET_ARN"),
    stack: Some("dbSecretArn"),
    readers: MIGRATOR,
    doc: "Secrets Manager secret holding the password, read at invocation time",
    ..ROW
};
/// The secret's JSON key.
pub const SECRET_FIELD: Setting = Setting {
    env: Some("DB_SECRET_FIELD"),
    stack: Some("dbSecretField"),
    default: Default::Text("password"),
    readers: MIGRATOR,
    doc: "the secret's JSON key holding the password; set but empty: the secret is the password",
    ..ROW
};
/// How long a secret read is reused.
pub const SECRET_CACHE: Setting = Setting {
    env: Some("DB_SECRET_CACHE_SECS"),
    env_bare: Bare::Secs,
    unit: Unit::Duration,
    default: Default::Duration(Duration::from_secs(60)),
    readers: MIGRATOR,
    doc: "how long a secret read is reused before Secrets Manager is asked again",
    ..ROW
};
/// The commands the migrator runs.
pub const ALLOWED_COMMANDS: Setting = Setting {
    env: Some("ALLOWED_COMMANDS"),
    stack: Some("migratorCommands"),
    default: Default::Text("verify,plan,status,up,resolve"),
    readers: MIGRATOR,
    doc: "the commands this migrator runs, comma-separated (`all` for every one); SQL sent inline by `--via-lambda` from a local source needs `up-inline` (`down-inline`, `redo-inline`), not `up`",
    ..ROW
};
/// No migration starts with less than this left.
pub const DEADLINE_MARGIN: Setting = Setting {
    env: Some("DEADLINE_MARGIN_SECS"),
    env_bare: Bare::Secs,
    stack: Some("deadlineMarginSecs"),
    unit: Unit::Duration,
    default: Default::Duration(Duration::from_secs(30)),
    readers: MIGRATOR,
    doc: "no migration starts with less time left (unset: at most a third of the invocation's time)",
    ..ROW
};
/// A statement still running with this left is killed.
pub const KILL_MARGIN: Setting = Setting {
    env: Some("KILL_MARGIN_SECS"),
    env_bare: Bare::Secs,
    stack: Some("killMarginSecs"),
    unit: Unit::Duration,
    default: Default::Duration(Duration::from_secs(5)),
    readers: MIGRATOR,
    doc: "a statement still running with this left is killed (unset: at most a sixth; never over the deadline margin)",
    ..ROW
};
/// The severity from which lint findings fail the command or the pipeline job.
pub const LINT_FAIL_ON: Setting = Setting {
    flag: Some("--lint-fail-on"),
    env: Some("LINT_FAIL_ON"),
    stack: Some("lintFailOn"),
    unit: Unit::Enum(&["error", "warning", "never"]),
    default: Default::Text("error"),
    doc: "the severity from which unsuppressed lint findings fail `lint` (exit 9) and the pipeline job, before the migrator runs; `never` only reports",
    ..ROW
};
/// The migrator's function, for the trigger.
pub const FUNCTION_NAME: Setting = Setting {
    env: Some("FunctionName"),
    readers: TRIGGER,
    doc: "the migrator's function name or ARN (the seed's spelling)",
    ..ROW
};
/// The migrator's timeout, for the trigger.
pub const MIGRATOR_TIMEOUT: Setting = Setting {
    env: Some("MIGRATOR_TIMEOUT_SECS"),
    env_bare: Bare::Secs,
    stack: Some("migratorTimeoutSecs"),
    stack_default: Some(300),
    unit: Unit::Duration,
    default: Default::Duration(Duration::from_secs(900)),
    readers: TRIGGER,
    doc: "the migrator's timeout (the stack's default is 300 s): the trigger's Invoke waits longer",
    ..ROW
};
/// Time the trigger keeps to report to CodePipeline.
pub const TRIGGER_MARGIN: Setting = Setting {
    env: Some("TRIGGER_MARGIN_MS"),
    env_bare: Bare::Millis,
    unit: Unit::Duration,
    default: Default::Duration(Duration::from_secs(15)),
    readers: TRIGGER,
    doc: "time kept before the trigger's own deadline to report to CodePipeline",
    ..ROW
};
/// Pause between the trigger's status checks.
pub const TRIGGER_POLL: Setting = Setting {
    env: Some("TRIGGER_POLL_MS"),
    env_bare: Bare::Millis,
    unit: Unit::Duration,
    default: Default::Duration(Duration::from_secs(5)),
    readers: TRIGGER,
    doc: "pause between status checks while a long run continues",
    ..ROW
};
/// The secrets a fleet manifest may name.
pub const FLEET_SECRET_PREFIX: Setting = Setting {
    env: Some("FLEET_SECRET_PREFIX"),
    stack: Some("fleetSecretPrefix"),
    readers: LAMBDAS,
    doc: "the ARN prefix (arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:, then optionally the start of a name) every `secret` target of a fleet manifest must start with; unset: every `secret` target is refused (docs/fleet.md)",
    ..ROW
};
/// The fleet state machine the trigger starts (set by the stack with `fleet=true`).
pub const FLEET_STATE_MACHINE: Setting = Setting {
    env: Some("FLEET_STATE_MACHINE_ARN"),
    readers: TRIGGER,
    default: Default::Said("set by the stack with fleet=true"),
    doc: "the fleet state machine's ARN: a job whose UserParameters name a `fleet` manifest starts it (docs/fleet.md)",
    ..ROW
};
/// Where a fleet run's items and results go in the artifact bucket.
pub const FLEET_RESULTS_PREFIX: Setting = Setting {
    env: Some("FLEET_RESULTS_PREFIX"),
    stack: Some("fleetResultsPrefix"),
    default: Default::Text("fleet/"),
    readers: TRIGGER,
    doc: "the artifact bucket's key prefix for fleet runs: `<prefix><job>/` holds a run's items, per-invocation records, results.jsonl and summary.json",
    ..ROW
};
/// Canaries of a fleet manifest without a `canary` group.
pub const FLEET_CANARY: Setting = Setting {
    env: Some("FLEET_CANARY"),
    stack: Some("fleetCanary"),
    unit: Unit::Count,
    default: Default::Count(1),
    readers: TRIGGER,
    doc: "how many of a fleet manifest's first targets run first, one at a time, when it has no `canary` group",
    ..ROW
};
/// The Lambdas' log level.
pub const LOG_LEVEL: Setting = Setting {
    env: Some("AWS_LAMBDA_LOG_LEVEL"),
    default: Default::Said("RUST_LOG, else INFO"),
    readers: LAMBDAS,
    doc: "our code's log level (Lambda's logging controls set it); dependencies stay at INFO at most",
    ..ROW
};

/// Every setting, in the README's order.
pub const SETTINGS: &[Setting] = &[
    SOURCE,
    FOLDER,
    MAX_FILE_SIZE,
    MAX_TOTAL_SIZE,
    FETCH_MODE,
    TMP_CAPACITY,
    DATABASE_URL,
    DB_HOST,
    DB_PORT,
    DB_USER,
    DB_PASSWORD,
    DB_NAME,
    CONFIG,
    CONFIG_ENV,
    TABLE,
    SCHEMA,
    IGNORE_UNKNOWN,
    LOCK_TIMEOUT,
    LOCK_WAIT_TIMEOUT,
    LOCK_WAIT_RETRIES,
    REVIEW_COPY_RATE,
    REVIEW_LONG_TRANSACTION,
    TLS,
    TLS_CA,
    CONNECT_TIMEOUT,
    READ_TIMEOUT,
    VIA_LAMBDA,
    IAM_AUTH,
    SECRET_ARN,
    SECRET_FIELD,
    SECRET_CACHE,
    ALLOWED_COMMANDS,
    DEADLINE_MARGIN,
    KILL_MARGIN,
    LINT_FAIL_ON,
    FUNCTION_NAME,
    MIGRATOR_TIMEOUT,
    TRIGGER_MARGIN,
    TRIGGER_POLL,
    FLEET_SECRET_PREFIX,
    FLEET_STATE_MACHINE,
    FLEET_RESULTS_PREFIX,
    FLEET_CANARY,
    LOG_LEVEL,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::value::{parse_duration, parse_size};

    #[test]
    fn names_are_unique_and_bare_units_fit_the_unit() {
        let mut seen = std::collections::HashSet::new();
        for s in SETTINGS {
            for name in [s.flag, s.env, s.stack].into_iter().flatten() {
                assert!(seen.insert(name), "{name} is in two rows");
            }
            assert!(!s.doc.is_empty());
            let bare_ok = |b: Bare| match s.unit {
                Unit::Size => matches!(b, Bare::Bytes | Bare::MiB),
                Unit::Duration => matches!(b, Bare::Secs | Bare::Millis),
                _ => b == Bare::None,
            };
            if s.flag.is_some() && s.unit != Unit::Bool {
                assert!(bare_ok(s.flag_bare), "{:?}", s.flag);
            }
            if s.env.is_some() {
                assert!(bare_ok(s.env_bare), "{:?}", s.env);
            }
            // The names that carry a unit say the bare one.
            if let Some(env) = s.env {
                let want = match env.rsplit('_').next() {
                    Some("SECS") => Some(Bare::Secs),
                    Some("MS") => Some(Bare::Millis),
                    Some("MB") => Some(Bare::MiB),
                    _ => None,
                };
                if let Some(want) = want {
                    assert_eq!(s.env_bare, want, "{env}");
                }
            }
        }
    }

    #[test]
    fn lint_fail_on_spells_the_linters_words() {
        use crate::lint::FailOn;
        let Unit::Enum(words) = LINT_FAIL_ON.unit else {
            panic!("an enum")
        };
        for w in words {
            assert_eq!(FailOn::parse(w).map(FailOn::as_str), Some(*w));
        }
        assert_eq!(
            FailOn::parse(LINT_FAIL_ON.default.text()),
            Some(FailOn::default())
        );
    }

    #[test]
    fn the_local_default_is_the_folder_here() {
        assert_eq!(DEFAULT_LOCAL_DIR, format!("./{DEFAULT_FOLDER}"));
    }

    #[test]
    fn defaults_match_their_unit_and_read_back() {
        use super::super::value::{show_duration, show_size};
        for s in SETTINGS {
            match (s.unit, s.default) {
                (Unit::Size, Default::Size(n)) => {
                    assert_eq!(parse_size(&show_size(n), Bare::Bytes), Some(n))
                }
                (Unit::Duration, Default::Duration(d)) => {
                    assert_eq!(parse_duration(&show_duration(d), Bare::Secs), Some(d))
                }
                (Unit::Enum(words), Default::Text(t)) => assert!(words.contains(&t), "{t}"),
                (Unit::Count, Default::Count(_))
                | (Unit::Bool, Default::Bool(_))
                | (Unit::Text, Default::Text(_))
                | (_, Default::Said(_) | Default::None) => {}
                (u, d) => panic!("{:?}: {u:?} with default {d:?}", s.env.or(s.flag)),
            }
        }
        assert_eq!(
            crate::Limits::default().max_file_size,
            MAX_FILE_SIZE.default.size()
        );
        assert_eq!(
            crate::Limits::default().max_total_size,
            MAX_TOTAL_SIZE.default.size()
        );
    }
}
