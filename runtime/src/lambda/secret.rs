//! The database password from AWS Secrets Manager (`DB_SECRET_ARN`), read at invocation
//! time so a rotation takes effect without a redeploy.
//!
//! A value is kept for a short while ([`CACHE_TTL`] by default) to spare a Secrets Manager call per invocation; a
//! login refused with a kept value makes the caller [`SecretReader::refresh`] once.
//! The value is never logged and never part of an error: errors name the secret id, the
//! field and what is wrong, nothing read from the secret.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::error::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use serde_json::Value;

/// How long a value read from Secrets Manager is used before it is read again, unless
/// `DB_SECRET_CACHE_SECS` says otherwise.
pub const CACHE_TTL: Duration = Duration::from_secs(60);

/// Where the password is: the secret and, for a JSON secret, its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSource {
    /// The secret's ARN or name (`DB_SECRET_ARN`).
    pub id: String,
    /// The JSON key holding the password (`DB_SECRET_FIELD`, default `password`); `None`
    /// when the secret is the password in plain text (`DB_SECRET_FIELD` set empty).
    pub field: Option<String>,
    /// Take the user name from the secret's `username` key when it has one (no user was
    /// configured: `DB_USER` and `DATABASE_URL` unset).
    pub username_from_secret: bool,
    /// How long a value read is used (`DB_SECRET_CACHE_SECS`, default [`CACHE_TTL`]).
    pub cache_for: Duration,
}

/// What the secret gives: the password and, from a JSON secret, the user name.
#[derive(Clone, PartialEq, Eq)]
pub struct DbSecret {
    /// The password.
    pub password: String,
    /// The JSON secret's `username`, when it has one.
    pub username: Option<String>,
}

impl fmt::Debug for DbSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbSecret")
            .field("password", &"<redacted>")
            .field("username", &self.username)
            .finish()
    }
}

/// Why the password could not be read. Never holds any part of the secret's value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The GetSecretValue call failed.
    #[error("reading secret {id} from Secrets Manager failed: {reason}")]
    Fetch {
        /// The secret's ARN or name.
        id: String,
        /// The service's error code and message, or the transport failure.
        reason: String,
    },
    /// The secret holds binary data, not a string.
    #[error("secret {id} has no SecretString (binary secrets are not supported)")]
    NotString {
        /// The secret's ARN or name.
        id: String,
    },
    /// `DB_SECRET_FIELD` names a key, but the secret is not a JSON object.
    #[error(
        "secret {id} is not a JSON object, so DB_SECRET_FIELD={field:?} cannot be read (set DB_SECRET_FIELD to an empty string for a plain-text secret)"
    )]
    NotJson {
        /// The secret's ARN or name.
        id: String,
        /// The configured field.
        field: String,
    },
    /// The JSON secret has no such string field.
    #[error("secret {id} has no string field {field:?} (DB_SECRET_FIELD)")]
    NoField {
        /// The secret's ARN or name.
        id: String,
        /// The configured field.
        field: String,
    },
    /// A fleet target's secret lacks what a connection needs.
    #[error(
        "secret {id} is not a fleet target's connection: it has no {field} (a target's secret holds host, port, username, password and dbname, as RDS writes them)"
    )]
    NotConnection {
        /// The secret's ARN.
        id: String,
        /// What is missing or malformed.
        field: String,
    },
    /// The password is empty.
    #[error("secret {id} holds an empty password")]
    Empty {
        /// The secret's ARN or name.
        id: String,
    },
}

/// Reads the password out of a secret's `SecretString` as `source` says.
pub fn parse(source: &SecretSource, text: &str) -> Result<DbSecret, SecretError> {
    let id = || source.id.clone();
    let secret = match &source.field {
        None => DbSecret {
            password: text.to_owned(),
            username: None,
        },
        Some(field) => {
            // The parser's own message is not kept: it could quote the value.
            let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) else {
                return Err(SecretError::NotJson {
                    id: id(),
                    field: field.clone(),
                });
            };
            let password =
                map.get(field)
                    .and_then(Value::as_str)
                    .ok_or_else(|| SecretError::NoField {
                        id: id(),
                        field: field.clone(),
                    })?;
            DbSecret {
                password: password.to_owned(),
                username: map
                    .get("username")
                    .and_then(Value::as_str)
                    .filter(|u| !u.is_empty())
                    .map(str::to_owned),
            }
        }
    };
    if secret.password.is_empty() {
        return Err(SecretError::Empty { id: id() });
    }
    Ok(secret)
}

/// A fleet target's connection as its secret holds it, in the layout RDS writes:
/// `host`, `port`, `username` (or `user`), `password`, `dbname` (or `database`).
#[derive(Clone, PartialEq, Eq)]
pub struct ConnSecret {
    /// The server's host name.
    pub host: String,
    /// Its port, when the secret gives one.
    pub port: Option<u16>,
    /// The user.
    pub username: String,
    /// The password.
    pub password: String,
    /// The schema: required, so that a target never lands on whatever schema the
    /// function's own connection names.
    pub database: String,
}

impl fmt::Debug for ConnSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnSecret")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("database", &self.database)
            .finish()
    }
}

/// Reads a fleet target's connection out of its secret `id`'s text. Errors name the
/// secret and the field, never a value.
pub fn parse_connection(id: &str, text: &str) -> Result<ConnSecret, SecretError> {
    let missing = |field: &str| SecretError::NotConnection {
        id: id.to_owned(),
        field: field.to_owned(),
    };
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) else {
        return Err(missing("JSON object"));
    };
    let text = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| map.get(*k).and_then(Value::as_str))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let required = |keys: &[&str]| text(keys).ok_or_else(|| missing(&keys.join(" or ")));
    let port = match map.get("port") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
        Some(Value::String(p)) => p.parse().ok(),
        Some(_) => None,
    };
    if map.get("port").is_some_and(|p| !p.is_null()) && port.is_none() {
        return Err(missing("valid port (a number from 1 to 65535)"));
    }
    Ok(ConnSecret {
        host: required(&["host"])?,
        port,
        username: required(&["username", "user"])?,
        password: required(&["password"])?,
        database: required(&["dbname", "database"])?,
    })
}

/// Reads the secret through Secrets Manager, keeping the value for a while.
/// The client comes from the default chain (credentials, region, and the endpoint from
/// `AWS_ENDPOINT_URL_SECRETS_MANAGER`), made on first use.
pub struct SecretReader {
    source: SecretSource,
    client: Mutex<Option<aws_sdk_secretsmanager::Client>>,
    cached: Mutex<Option<(Instant, DbSecret)>>,
}

impl fmt::Debug for SecretReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretReader")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl SecretReader {
    /// A reader of `source`; nothing is read yet.
    pub fn new(source: SecretSource) -> SecretReader {
        SecretReader {
            source,
            client: Mutex::new(None),
            cached: Mutex::new(None),
        }
    }

    /// Where the password is read from.
    pub fn source(&self) -> &SecretSource {
        &self.source
    }

    /// The secret, and whether it came from the cache (`true`) rather than a fresh read.
    pub async fn get(&self) -> Result<(DbSecret, bool), SecretError> {
        let kept = lock(&self.cached)
            .as_ref()
            .filter(|(at, _)| at.elapsed() < self.source.cache_for)
            .map(|(_, s)| s.clone());
        match kept {
            Some(s) => Ok((s, true)),
            None => Ok((self.refresh().await?, false)),
        }
    }

    /// Reads the secret now and keeps it.
    pub async fn refresh(&self) -> Result<DbSecret, SecretError> {
        let text = self.text().await?;
        let secret = parse(&self.source, &text)?;
        *lock(&self.cached) = Some((Instant::now(), secret.clone()));
        Ok(secret)
    }

    /// The secret's `SecretString`, read now (never cached, never logged).
    async fn text(&self) -> Result<String, SecretError> {
        let client = self.client().await;
        let out = client
            .get_secret_value()
            .secret_id(&self.source.id)
            .send()
            .await
            .map_err(|e| SecretError::Fetch {
                id: self.source.id.clone(),
                reason: describe(e),
            })?;
        out.secret_string()
            .map(str::to_owned)
            .ok_or_else(|| SecretError::NotString {
                id: self.source.id.clone(),
            })
    }

    /// A fleet target's whole connection, read now from the secret.
    pub async fn connection(&self) -> Result<ConnSecret, SecretError> {
        parse_connection(&self.source.id, &self.text().await?)
    }

    async fn client(&self) -> aws_sdk_secretsmanager::Client {
        if let Some(c) = lock(&self.client).as_ref() {
            return c.clone();
        }
        let conf = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let client = aws_sdk_secretsmanager::Client::new(&conf);
        *lock(&self.client) = Some(client.clone());
        client
    }
}

/// A poisoned lock only means another invocation panicked; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The failure without the response body (a response that did not parse could hold the
/// value).
fn describe<E, R>(e: SdkError<E, R>) -> String
where
    E: aws_sdk_secretsmanager::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug,
{
    match &e {
        SdkError::ServiceError(s) => {
            let err = s.err();
            format!(
                "{}: {}",
                err.code().unwrap_or("service error"),
                err.message().unwrap_or("no message")
            )
        }
        SdkError::ResponseError(_) => "the response could not be read".into(),
        _ => DisplayErrorContext(&e).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(field: Option<&str>) -> SecretSource {
        SecretSource {
            id: "arn:aws:secretsmanager:eu-west-1:1:secret:db-AbC".into(),
            field: field.map(str::to_owned),
            username_from_secret: true,
            cache_for: CACHE_TTL,
        }
    }

    #[test]
    fn plain_text_and_json_fields() {
        let s = parse(&source(None), "p@ss {word}").unwrap();
        assert_eq!(
            (s.password.as_str(), s.username),
            ("p@ss {word}", None::<String>)
        );
        let rds = r#"{"engine":"mysql","username":"admin","password":"hunter2","host":"h"}"#;
        let s = parse(&source(Some("password")), rds).unwrap();
        assert_eq!(s.password, "hunter2");
        assert_eq!(s.username.as_deref(), Some("admin"));
        let s = parse(&source(Some("pw")), r#"{"pw":"x"}"#).unwrap();
        assert_eq!((s.password.as_str(), s.username), ("x", None));
    }

    #[test]
    fn errors_name_the_secret_and_field_but_never_the_value() {
        let cases = [
            (Some("password"), "hunter2-plain"),
            (Some("password"), r#"["hunter2-array"]"#),
            (Some("pw"), r#"{"password":"hunter2-other-field"}"#),
            (Some("password"), r#"{"password":12345678}"#),
            (Some("password"), r#"{"password":""}"#),
            (None, ""),
        ];
        for (field, text) in cases {
            let e = parse(&source(field), text).unwrap_err().to_string();
            assert!(e.contains("secret:db-AbC"), "{e}");
            assert!(!e.contains("hunter2") && !e.contains("12345678"), "{e}");
            if let Some(f) = field {
                assert!(e.contains(f) || e.contains("empty"), "{e}");
            }
        }
        let s = parse(&source(None), "hunter2").unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn a_targets_connection_is_read_in_rds_layout_and_never_shown() {
        let id = "arn:aws:secretsmanager:eu-west-1:1:secret:tenants/acme-AbC";
        let c = parse_connection(
            id,
            r#"{"engine":"mysql","host":"db.internal","port":3307,"username":"app","password":"hunter2","dbname":"acme"}"#,
        )
        .unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.username.as_str()),
            ("db.internal", Some(3307), "app")
        );
        assert_eq!(c.database, "acme");
        assert!(!format!("{c:?}").contains("hunter2"));
        let c = parse_connection(
            id,
            r#"{"host":"h","port":"3306","user":"u","password":"p","database":"d"}"#,
        )
        .unwrap();
        assert_eq!(
            (c.port, c.username.as_str(), c.database.as_str()),
            (Some(3306), "u", "d")
        );
        for (text, field) in [
            (
                r#"{"port":3306,"username":"u","password":"hunter2"}"#,
                "host",
            ),
            (r#"{"host":"h","password":"hunter2"}"#, "username or user"),
            (r#"{"host":"h","username":"u","password":""}"#, "password"),
            (
                r#"{"host":"h","username":"u","password":"hunter2"}"#,
                "dbname or database",
            ),
            (
                r#"{"host":"h","username":"u","password":"hunter2","port":99999}"#,
                "port",
            ),
            ("hunter2", "JSON object"),
        ] {
            let e = parse_connection(id, text).unwrap_err().to_string();
            assert!(e.contains("tenants/acme-AbC") && e.contains(field), "{e}");
            assert!(
                !e.contains("hunter2") && !e.contains("DB_SECRET_FIELD"),
                "{e}"
            );
        }
    }
}
