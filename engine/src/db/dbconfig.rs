//! sql-migrate's `dbconfig.yml`: environments, each with `dialect`, `datasource`, `dir`,
//! `table`, `schema` and `ignoreunknown`. As in sql-migrate, `$VAR` and `${VAR}` in
//! `datasource` are replaced from the environment (unset variables become empty), and
//! `dir` defaults to `migrations`.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::config::{ConfigError, ConnConfig};

/// The settings of one environment, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbConfig {
    /// Where to connect (from `datasource`).
    pub conn: ConnConfig,
    /// The migrations directory (`dir`, default `migrations`).
    pub dir: String,
    /// The history table (`table`).
    pub table: Option<String>,
    /// The schema (`schema`).
    pub schema: Option<String>,
    /// `ignoreunknown`.
    pub ignore_unknown: bool,
}

/// A `dbconfig.yml` that cannot be used. Never holds the datasource's password.
#[derive(Debug, thiserror::Error)]
pub enum DbConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid YAML of the expected shape.
    #[error("{path}: {message}")]
    Yaml {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// The environment is not in the file.
    #[error("{path}: no environment {env:?}")]
    NoEnvironment {
        /// The file.
        path: String,
        /// The environment asked for.
        env: String,
    },
    /// A required key is missing.
    #[error("{path}: environment {env:?} has no {key}")]
    Missing {
        /// The file.
        path: String,
        /// The environment.
        env: String,
        /// The key.
        key: &'static str,
    },
    /// The dialect is not MySQL.
    #[error("{path}: environment {env:?}: dialect {dialect:?} is not supported (only mysql)")]
    Dialect {
        /// The file.
        path: String,
        /// The environment.
        env: String,
        /// The dialect given.
        dialect: String,
    },
    /// The datasource does not parse.
    #[error("{path}: environment {env:?}: {source}")]
    Datasource {
        /// The file.
        path: String,
        /// The environment.
        env: String,
        /// Why.
        source: ConfigError,
    },
}

#[derive(Deserialize)]
struct Environment {
    dialect: Option<String>,
    datasource: Option<String>,
    dir: Option<String>,
    table: Option<String>,
    schema: Option<String>,
    ignoreunknown: Option<bool>,
}

/// The largest `dbconfig.yml` read; real ones are a few hundred bytes.
const MAX_SIZE: u64 = 1 << 20;

/// Reads environment `env` of the file at `path`; `var` looks up environment variables.
pub fn load(
    path: &Path,
    env: &str,
    var: impl Fn(&str) -> Option<String>,
) -> Result<DbConfig, DbConfigError> {
    let p = path.display().to_string();
    let read_err = |source| DbConfigError::Read {
        path: p.clone(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if meta.len() > MAX_SIZE {
        return Err(DbConfigError::Yaml {
            path: p,
            message: format!("larger than {MAX_SIZE} bytes"),
        });
    }
    let text = std::fs::read_to_string(path).map_err(read_err)?;
    parse(&text, &p, env, var)
}

/// Parses `text` (the contents of `path`) and resolves environment `env`.
pub fn parse(
    text: &str,
    path: &str,
    env: &str,
    var: impl Fn(&str) -> Option<String>,
) -> Result<DbConfig, DbConfigError> {
    let all: HashMap<String, Environment> =
        serde_saphyr::from_str(text).map_err(|e| DbConfigError::Yaml {
            path: path.to_string(),
            message: e.to_string(),
        })?;
    let e = all.get(env).ok_or_else(|| DbConfigError::NoEnvironment {
        path: path.to_string(),
        env: env.to_string(),
    })?;
    let missing = |key| DbConfigError::Missing {
        path: path.to_string(),
        env: env.to_string(),
        key,
    };
    let dialect = e
        .dialect
        .as_deref()
        .filter(|d| !d.is_empty())
        .ok_or_else(|| missing("dialect"))?;
    if dialect != "mysql" {
        return Err(DbConfigError::Dialect {
            path: path.to_string(),
            env: env.to_string(),
            dialect: dialect.to_string(),
        });
    }
    let datasource = e
        .datasource
        .as_deref()
        .filter(|d| !d.is_empty())
        .ok_or_else(|| missing("datasource"))?;
    let conn = ConnConfig::parse(&expand_env(datasource, &var)).map_err(|source| {
        DbConfigError::Datasource {
            path: path.to_string(),
            env: env.to_string(),
            source,
        }
    })?;
    let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    Ok(DbConfig {
        conn,
        dir: nonempty(&e.dir).unwrap_or_else(|| crate::settings::DEFAULT_FOLDER.into()),
        table: nonempty(&e.table),
        schema: nonempty(&e.schema),
        ignore_unknown: e.ignoreunknown.unwrap_or(false),
    })
}

/// Go's `os.ExpandEnv`: `${NAME}`, `$NAME`, and `$` with one special character.
pub fn expand_env(s: &str, var: &impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(0) => rest = &inner[1..], // `${}`: bad syntax, eaten
                Some(end) => {
                    out.push_str(&var(&inner[..end]).unwrap_or_default());
                    rest = &inner[end + 1..];
                }
                None => rest = inner, // unclosed: Go eats the `${`
            }
        } else if let Some(c) = after
            .chars()
            .next()
            .filter(|c| "*#$@!?-".contains(*c) || c.is_ascii_digit())
        {
            out.push_str(&var(&c.to_string()).unwrap_or_default());
            rest = &after[c.len_utf8()..];
        } else {
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if len == 0 {
                out.push('$');
            } else {
                out.push_str(&var(&after[..len]).unwrap_or_default());
            }
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(k: &str) -> Option<String> {
        match k {
            "DB_PASS" => Some("pw".into()),
            "HOST" => Some("db.internal".into()),
            _ => None,
        }
    }

    const FILE: &str = "
development:
    dialect: mysql
    datasource: app:${DB_PASS}@tcp($HOST:3307)/shop?parseTime=true
    dir: db/migrations
    table: schema_history
    ignoreunknown: true

production:
    dialect: postgres
    datasource: dbname=x

bare:
    dialect: mysql
    datasource: root@/x
";

    #[test]
    fn environment_with_expansion() {
        let c = parse(FILE, "dbconfig.yml", "development", vars).unwrap();
        assert_eq!(c.conn.host, "db.internal");
        assert_eq!(c.conn.port, 3307);
        assert_eq!(c.conn.password.as_deref(), Some("pw"));
        assert_eq!(c.conn.database.as_deref(), Some("shop"));
        assert_eq!(c.dir, "db/migrations");
        assert_eq!(c.table.as_deref(), Some("schema_history"));
        assert!(c.ignore_unknown);
        let b = parse(FILE, "dbconfig.yml", "bare", vars).unwrap();
        assert_eq!(b.dir, "migrations");
        assert!(!b.ignore_unknown);
    }

    #[test]
    fn refusals() {
        assert!(matches!(
            parse(FILE, "f", "staging", vars),
            Err(DbConfigError::NoEnvironment { .. })
        ));
        assert!(matches!(
            parse(FILE, "f", "production", vars),
            Err(DbConfigError::Dialect { .. })
        ));
        assert!(matches!(
            parse("x: [", "f", "x", vars),
            Err(DbConfigError::Yaml { .. })
        ));
        assert!(matches!(
            parse("d:\n  dialect: mysql\n", "f", "d", vars),
            Err(DbConfigError::Missing {
                key: "datasource",
                ..
            })
        ));
        // A datasource error does not echo the password.
        let e = parse(
            "d:\n  dialect: mysql\n  datasource: u:secret@tcp(h:99999)/x\n",
            "f",
            "d",
            vars,
        )
        .unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
    }

    #[test]
    fn go_expand_env_rules() {
        let v = |k: &str| Some(format!("<{k}>"));
        assert_eq!(expand_env("a$B c", &v), "a<B> c");
        assert_eq!(expand_env("${X_Y}z", &v), "<X_Y>z");
        assert_eq!(expand_env("$1x", &v), "<1>x");
        assert_eq!(expand_env("a$ b", &v), "a$ b");
        assert_eq!(expand_env("a${}b", &v), "ab");
        assert_eq!(expand_env("a${b", &v), "ab");
        assert_eq!(expand_env("end$", &v), "end$");
        assert_eq!(expand_env("$UNSET", &|_: &str| None), "");
    }
}
