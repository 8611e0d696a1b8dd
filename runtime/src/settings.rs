//! The one module that reads the process environment. Everything else is handed a
//! lookup (`Fn(&str) -> Option<String>`) and reads it through the engine's settings
//! table ([`engine::settings`]), so names, units, defaults and the empty-value rule are
//! the same in the CLI and both Lambdas.
//!
//! It also warns about variables that look like ours but are not (`DB_PASWORD`): on
//! stderr in the CLI, as a tracing warning in the Lambdas.

use std::cell::RefCell;
use std::collections::HashSet;

use engine::Limits;
use engine::settings::{Env, SettingError, table};

/// One process variable, exactly as set; `None` when unset or not UTF-8.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A custom S3 endpoint: `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL` (a local S3
/// server in tests), as the AWS SDKs name them.
pub fn s3_endpoint() -> Option<String> {
    ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|v| var(v).filter(|u| !u.trim().is_empty()))
}

/// The process environment, remembering which names were asked for (a `dbconfig.yml`
/// may expand any `$DB_SOMETHING`, which is then no typo).
#[derive(Debug, Default)]
pub struct Process {
    asked: RefCell<HashSet<String>>,
}

impl Process {
    /// A fresh lookup.
    pub fn new() -> Process {
        Process::default()
    }

    /// Looks `name` up, and remembers it was asked for.
    pub fn get(&self, name: &str) -> Option<String> {
        self.asked.borrow_mut().insert(name.to_owned());
        var(name)
    }

    /// The warnings for the process's unknown `DB_*` and `LAMBDA_MIGRATE_*` variables.
    pub fn unknown(&self) -> Vec<String> {
        let names: Vec<String> = std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .collect();
        let asked = self.asked.borrow();
        engine::settings::unknown(names.iter().map(String::as_str), |n| asked.contains(n))
            .into_iter()
            .map(engine::settings::unknown_warning)
            .collect()
    }
}

/// The reader limits, from `MAX_FILE_SIZE_MB` and `MAX_TOTAL_SIZE_MB` (the Lambdas'; the
/// CLI has flags).
pub fn limits(env: &Env<'_>) -> Result<Limits, SettingError> {
    let defaults = Limits::default();
    Ok(Limits {
        max_file_size: env
            .size(&table::MAX_FILE_SIZE)?
            .unwrap_or(defaults.max_file_size),
        max_total_size: env
            .size(&table::MAX_TOTAL_SIZE)?
            .unwrap_or(defaults.max_total_size),
        ..defaults
    })
}

/// The fetch options for `folder` and `limits`, with `FETCH_MODE` and `TMP_CAPACITY_MB`.
#[cfg(feature = "s3")]
pub fn fetch_options(
    folder: &str,
    limits: &Limits,
    env: &Env<'_>,
) -> Result<engine::fetch::FetchOptions, SettingError> {
    use engine::fetch::{FetchOptions, Mode};
    let defaults = FetchOptions::default();
    let mode = match env.word(&table::FETCH_MODE)? {
        None | Some("auto") => Mode::Auto,
        Some("full") => Mode::Full,
        Some(_) => Mode::Selective,
    };
    Ok(FetchOptions {
        mode,
        tmp_capacity: env
            .size(&table::TMP_CAPACITY)?
            .unwrap_or(defaults.tmp_capacity),
        dir: folder.to_owned(),
        limits: limits.clone(),
        ..defaults
    })
}

/// The severity from which lint findings fail, from `LINT_FAIL_ON` (`--lint-fail-on`'s
/// variable); the table's default when unset.
pub fn lint_fail_on(env: &Env<'_>) -> Result<engine::lint::FailOn, SettingError> {
    let word = env
        .word(&table::LINT_FAIL_ON)?
        .unwrap_or(table::LINT_FAIL_ON.default.text());
    // The row's words are the linter's (a test in the table says so).
    Ok(engine::lint::FailOn::parse(word).unwrap_or_default())
}

/// The in-zip migrations folder, from `MIGRATIONS_DIR` (the Lambdas'), checked as
/// `--dir` is ([`engine::source::parse_folder`]).
pub fn folder(env: &Env<'_>) -> Result<String, SettingError> {
    match env.raw(&table::FOLDER) {
        None => Ok(engine::settings::DEFAULT_FOLDER.into()),
        Some((name, v)) => {
            engine::source::parse_folder(&v).map_err(|e| SettingError::new(name, &v, e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use engine::settings::fixed as env;

    #[test]
    fn lint_fail_on_reads_its_variable() {
        use engine::lint::FailOn;
        let unset = env(&[]);
        assert_eq!(lint_fail_on(&Env::new(&unset)), Ok(FailOn::Error));
        let vars = env(&[("LINT_FAIL_ON", "warning")]);
        assert_eq!(lint_fail_on(&Env::new(&vars)), Ok(FailOn::Warning));
        let vars = env(&[("LINT_FAIL_ON", "errors")]);
        let e = lint_fail_on(&Env::new(&vars)).unwrap_err().to_string();
        assert!(
            e.contains("LINT_FAIL_ON") && e.contains("error, warning, never"),
            "{e}"
        );
    }

    #[test]
    fn limits_keep_their_megabytes_and_take_units() {
        let vars = env(&[("MAX_FILE_SIZE_MB", "4"), ("MAX_TOTAL_SIZE_MB", "")]);
        let l = limits(&Env::new(&vars)).unwrap();
        assert_eq!(l.max_file_size, 4 << 20);
        assert_eq!(l.max_total_size, Limits::default().max_total_size);
        let vars = env(&[("MAX_FILE_SIZE_MB", "512KiB")]);
        assert_eq!(limits(&Env::new(&vars)).unwrap().max_file_size, 512 << 10);
        let vars = env(&[("MAX_FILE_SIZE_MB", "big")]);
        let e = limits(&Env::new(&vars)).unwrap_err().to_string();
        assert!(e.contains("MAX_FILE_SIZE_MB"), "{e}");
    }

    #[cfg(feature = "s3")]
    #[test]
    fn fetch_options_from_the_table() {
        use engine::fetch::Mode;
        let vars = env(&[("FETCH_MODE", "full"), ("TMP_CAPACITY_MB", "64")]);
        let o = fetch_options("db", &Limits::default(), &Env::new(&vars)).unwrap();
        assert_eq!(
            (o.mode, o.tmp_capacity, o.dir.as_str()),
            (Mode::Full, 64 << 20, "db")
        );
        let vars = env(&[("FETCH_MODE", "some")]);
        let e = fetch_options("db", &Limits::default(), &Env::new(&vars)).unwrap_err();
        assert!(e.to_string().contains("FETCH_MODE"), "{e}");
    }

    #[test]
    fn the_tables_defaults_are_the_runtimes() {
        use engine::command::Allowed;
        assert_eq!(
            Allowed::parse(table::ALLOWED_COMMANDS.default.text()),
            Ok(Allowed::default_set())
        );
        #[cfg(feature = "lambda")]
        assert_eq!(
            crate::lambda::secret::CACHE_TTL,
            table::SECRET_CACHE.default.duration()
        );
    }

    #[test]
    fn the_process_lookup_remembers_what_it_was_asked() {
        let p = Process::new();
        let _ = p.get("DB_FROM_DBCONFIG");
        assert!(p.asked.borrow().contains("DB_FROM_DBCONFIG"));
    }
}
