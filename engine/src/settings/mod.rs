//! Settings have one home: [`table`] lists every setting once (flag, environment
//! variable, `dbconfig.yml` key, stack option, unit, default, doc), [`value`] holds the
//! one parser of each unit, and [`Env`] reads variables through those rows.
//!
//! The engine never reads the process environment: a front end hands it a lookup
//! (`Fn(&str) -> Option<String>`), and the runtime's `settings` module is the only place
//! that reads the real one. Layering, highest first: flags, the environment,
//! `dbconfig.yml`, the table's defaults.
//!
//! One rule for empty values everywhere: a variable set to an empty or blank value is
//! treated as unset (a stack or a shell often writes `NAME=` for "not given"). The one
//! exception is `DB_SECRET_FIELD`, where empty has always meant "the secret is the
//! password itself"; its row says so.
//!
//! No name changed: each variable keeps its spelling and the unit its name says
//! (`_SECS`, `_MS`, `_MB`), and a value may now carry an explicit unit instead
//! (`LOCK_TIMEOUT_SECS=2m`, `MAX_FILE_SIZE_MB=512KiB`, `--max-file-size 4MiB`).

pub mod render;
pub mod table;
pub mod value;

use std::time::Duration;

pub use table::{DEFAULT_FOLDER, SETTINGS, Setting, Unit};
pub use value::{Bare, parse_bool, parse_count, parse_duration, parse_size};

/// A setting's value that cannot be used. Never holds a secret's value: the password
/// variables are text and never refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}={value:?}: {expected}")]
pub struct SettingError {
    /// The variable or flag.
    pub name: String,
    /// The value given.
    pub value: String,
    /// What would do.
    pub expected: String,
}

impl SettingError {
    /// `value` given to `name` is not what `expected` says.
    pub fn new(name: &str, value: &str, expected: impl Into<String>) -> SettingError {
        SettingError {
            name: name.to_owned(),
            value: value.to_owned(),
            expected: expected.into(),
        }
    }
}

/// What a setting of `unit` expects, for messages.
pub fn expected(unit: Unit, bare: Bare) -> String {
    match unit {
        Unit::Size => format!(
            "expected a size such as 4MiB, 512KiB or a whole number of {}",
            bare.suffix()
        ),
        Unit::Duration => format!(
            "expected a duration such as 10s, 2m, 1500ms or a number of {}",
            match bare {
                Bare::Millis => "milliseconds",
                _ => "seconds",
            }
        ),
        Unit::Count => "expected a whole number".into(),
        Unit::Bool => "expected true or false".into(),
        Unit::Text => "expected text".into(),
        Unit::Enum(words) => format!("expected {}", words.join(", ")),
    }
}

/// Environment variables read through the table's rows, with one rule for empty values
/// and one parser per unit.
pub struct Env<'a> {
    var: &'a dyn Fn(&str) -> Option<String>,
}

impl std::fmt::Debug for Env<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Env")
    }
}

impl<'a> Env<'a> {
    /// Variables looked up through `var` (the process environment in production).
    pub fn new(var: &'a dyn Fn(&str) -> Option<String>) -> Env<'a> {
        Env { var }
    }

    /// Any variable, exactly as set (for `dbconfig.yml`'s `$VAR` expansion).
    pub fn any(&self, name: &str) -> Option<String> {
        (self.var)(name)
    }

    /// The row's variable, `None` when unset, empty or blank; the name and the value.
    pub fn raw(&self, s: &Setting) -> Option<(&'static str, String)> {
        let name = s.env?;
        (self.var)(name)
            .filter(|v| !v.trim().is_empty())
            .map(|v| (name, v))
    }

    /// The row's variable, untrimmed, unless unset or blank.
    pub fn text(&self, s: &Setting) -> Option<String> {
        self.raw(s).map(|(_, v)| v)
    }

    fn parsed<T>(
        &self,
        s: &Setting,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, SettingError> {
        match self.raw(s) {
            None => Ok(None),
            Some((name, v)) => parse(&v)
                .map(Some)
                .ok_or_else(|| SettingError::new(name, &v, expected(s.unit, s.env_bare))),
        }
    }

    /// A size, in the row's bare unit unless the value names one.
    pub fn size(&self, s: &Setting) -> Result<Option<u64>, SettingError> {
        self.parsed(s, |v| parse_size(v, s.env_bare))
    }

    /// A duration, in the row's bare unit unless the value names one.
    pub fn duration(&self, s: &Setting) -> Result<Option<Duration>, SettingError> {
        self.parsed(s, |v| parse_duration(v, s.env_bare))
    }

    /// A whole number.
    pub fn count(&self, s: &Setting) -> Result<Option<u64>, SettingError> {
        self.parsed(s, parse_count)
    }

    /// A boolean.
    pub fn bool(&self, s: &Setting) -> Result<Option<bool>, SettingError> {
        self.parsed(s, parse_bool)
    }

    /// One of the row's words.
    pub fn word(&self, s: &Setting) -> Result<Option<&'static str>, SettingError> {
        let Unit::Enum(words) = s.unit else {
            panic!("{:?} is not an enum setting", s.env)
        };
        self.parsed(s, |v| words.iter().find(|w| **w == v.trim()).copied())
    }
}

/// Whether lambda-migrate owns variables named so: a typo in one (`DB_PASWORD`) would
/// otherwise pass silently.
pub fn watched(name: &str) -> bool {
    name.starts_with("DB_") || name.starts_with("LAMBDA_MIGRATE_")
}

/// Whether a row names this variable.
pub fn known(name: &str) -> bool {
    SETTINGS.iter().any(|s| s.env == Some(name))
}

/// The watched variables among `names` that no row knows and `used` does not vouch for
/// (a `dbconfig.yml` may expand `$DB_ANYTHING`), sorted, each once.
pub fn unknown<'n>(
    names: impl IntoIterator<Item = &'n str>,
    used: impl Fn(&str) -> bool,
) -> Vec<&'n str> {
    let mut out: Vec<&str> = names
        .into_iter()
        .filter(|n| watched(n) && !known(n) && !used(n))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The warning for an unknown variable, naming the closest known one.
pub fn unknown_warning(name: &str) -> String {
    let closest = SETTINGS
        .iter()
        .filter_map(|s| s.env)
        .filter(|k| watched(k))
        .min_by_key(|k| distance(name, k))
        .filter(|k| distance(name, k) <= 3);
    match closest {
        Some(k) => {
            format!("{name} is not a lambda-migrate setting (did you mean {k}?); it is ignored")
        }
        None => format!("{name} is not a lambda-migrate setting; it is ignored"),
    }
}

/// Levenshtein distance, for suggestions.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// A fixed environment of `(name, value)` pairs, as a lookup: for tests and tools that
/// must not read the process's.
pub fn fixed<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |k| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_unset_and_units_are_the_rows() {
        let vars = fixed(&[
            ("MAX_FILE_SIZE_MB", "4"),
            ("MAX_TOTAL_SIZE_MB", "512KiB"),
            ("LOCK_TIMEOUT_SECS", " "),
            ("TRIGGER_POLL_MS", "1500"),
            ("MIGRATOR_TIMEOUT_SECS", "2m"),
        ]);
        let e = Env::new(&vars);
        assert_eq!(e.size(&table::MAX_FILE_SIZE), Ok(Some(4 << 20)));
        assert_eq!(e.size(&table::MAX_TOTAL_SIZE), Ok(Some(512 << 10)));
        assert_eq!(e.duration(&table::LOCK_TIMEOUT), Ok(None));
        assert_eq!(
            e.duration(&table::TRIGGER_POLL),
            Ok(Some(Duration::from_millis(1500)))
        );
        assert_eq!(
            e.duration(&table::MIGRATOR_TIMEOUT),
            Ok(Some(Duration::from_secs(120)))
        );
        let vars = fixed(&[("LOCK_TIMEOUT_SECS", "soon"), ("FETCH_MODE", "most")]);
        let e = Env::new(&vars);
        let err = e.duration(&table::LOCK_TIMEOUT).unwrap_err().to_string();
        assert!(
            err.contains("LOCK_TIMEOUT_SECS") && err.contains("seconds"),
            "{err}"
        );
        let err = e.word(&table::FETCH_MODE).unwrap_err().to_string();
        assert!(err.contains("auto, full, selective"), "{err}");
    }

    #[test]
    fn unknown_variables_are_named_with_a_suggestion() {
        let names = [
            "DB_PASWORD",
            "DB_HOST",
            "PATH",
            "LAMBDA_MIGRATE_VIA_LAMDA",
            "DB_X",
        ];
        let got = unknown(names, |n| n == "DB_X");
        assert_eq!(got, ["DB_PASWORD", "LAMBDA_MIGRATE_VIA_LAMDA"]);
        let w = unknown_warning("DB_PASWORD");
        assert!(w.contains("DB_PASWORD") && w.contains("DB_PASSWORD"), "{w}");
        assert!(!unknown_warning("DB_ZZZZZZZZZZ").contains("mean"));
    }
}
