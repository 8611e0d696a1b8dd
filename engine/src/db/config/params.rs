//! go-sql-driver's DSN parameters, each one honoured or refused by name, and the system
//! variables a DSN may give the session.
//!
//! go-sql-driver sends every parameter it does not know as `SET name=value`, unchecked.
//! We pass on only the variables in [`SESSION_VARS`], each value checked against its kind
//! and quoted by us, so a DSN cannot inject SQL; variables that would break our
//! transactions or our own reads are refused with the reason, as is anything unknown.
//! A refusal names the parameter (unless the name appears in the password) and never
//! echoes a value.

use super::{ConfigError, ConnConfig, Tls, parse_duration};

/// Every spelling of a TLS mode that the CLI's `--tls`, `DB_TLS`, the stack's `dbTls`
/// and the DSN's `tls` accept, and what each means. `deploy/lib/config.ts`'s
/// `DB_TLS_VALUES` must stay a subset (tests on both sides check it).
///
/// `preferred` means what it means to go-sql-driver and the `mysql` client, TLS without
/// certificate verification, except that a server without TLS is refused rather than
/// spoken to in plaintext: the driver cannot fall back on the same connection.
pub const TLS_MODES: &[(&str, Tls)] = &[
    ("required", Tls::Verify),
    ("true", Tls::Verify),
    ("verify", Tls::Verify),
    ("verify_ca", Tls::Verify),
    ("verify_identity", Tls::Verify),
    ("verify-full", Tls::Verify),
    ("preferred", Tls::SkipVerify),
    ("skip-verify", Tls::SkipVerify),
    ("disabled", Tls::Off),
    ("false", Tls::Off),
    ("off", Tls::Off),
];

/// The TLS mode a value of [`TLS_MODES`] names (any case, blanks around ignored).
pub fn tls_mode(s: &str) -> Option<Tls> {
    let s = s.trim();
    TLS_MODES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(s))
        .map(|&(_, t)| t)
}

/// How a system variable's value is checked and written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// Written as a quoted string; letters, digits and `_,+-:/.=` only.
    Text,
    /// A non-negative number, written bare.
    Number,
    /// `ON`/`OFF` (Go's boolean spellings and `on`/`off` accepted).
    Switch,
}

/// The system variables a DSN may set for the session: settings of how statements
/// behave that neither our bookkeeping nor our transactions depend on.
const SESSION_VARS: &[(&str, Kind)] = &[
    ("time_zone", Kind::Text),
    ("sql_mode", Kind::Text),
    ("transaction_isolation", Kind::Text),
    ("tx_isolation", Kind::Text),
    ("default_storage_engine", Kind::Text),
    ("default_tmp_storage_engine", Kind::Text),
    ("lc_time_names", Kind::Text),
    ("optimizer_switch", Kind::Text),
    ("alter_algorithm", Kind::Text),
    ("innodb_lock_wait_timeout", Kind::Number),
    ("max_execution_time", Kind::Number),
    ("max_statement_time", Kind::Number),
    ("wait_timeout", Kind::Number),
    ("net_read_timeout", Kind::Number),
    ("net_write_timeout", Kind::Number),
    ("group_concat_max_len", Kind::Number),
    ("div_precision_increment", Kind::Number),
    ("max_heap_table_size", Kind::Number),
    ("tmp_table_size", Kind::Number),
    ("sort_buffer_size", Kind::Number),
    ("long_query_time", Kind::Number),
    ("foreign_key_checks", Kind::Switch),
    ("unique_checks", Kind::Switch),
    ("sql_safe_updates", Kind::Switch),
    ("sql_notes", Kind::Switch),
    ("sql_log_bin", Kind::Switch),
    ("explicit_defaults_for_timestamp", Kind::Switch),
    ("innodb_strict_mode", Kind::Switch),
    ("sql_quote_show_create", Kind::Switch),
    ("sql_big_selects", Kind::Switch),
];

/// System variables refused, and why.
const REFUSED_VARS: &[(&str, &str)] = &[
    (
        "autocommit",
        "refused: a migration and its history row share one transaction, which autocommit would break",
    ),
    (
        "completion_type",
        "refused: it changes what COMMIT does to the migration's transaction",
    ),
    ("transaction_read_only", "refused: the migrator must write"),
    ("tx_read_only", "refused: the migrator must write"),
    (
        "sql_select_limit",
        "refused: it would cut short the reads of the history and journal",
    ),
    (
        "lock_wait_timeout",
        "refused: set it with --lock-wait-timeout or LOCK_WAIT_TIMEOUT_SECS",
    ),
    ("character_set_client", "refused: use charset="),
    ("character_set_connection", "refused: use charset="),
    ("character_set_results", "refused: use charset="),
    ("collation_connection", "refused: use collation="),
    ("names", "refused: use charset= and collation="),
];

/// Applies one `name=value` parameter of a URL or DSN to `c`.
pub(super) fn apply(c: &mut ConnConfig, name: &str, value: &str) -> Result<(), ConfigError> {
    if let Some(&(name, kind)) = SESSION_VARS.iter().find(|(n, _)| *n == name) {
        let sql = session_value(kind, value).ok_or(ConfigError::Param {
            name,
            reason: match kind {
                Kind::Text => "expected letters, digits and _,+-:/.= only (optionally in quotes)",
                Kind::Number => "expected a non-negative number",
                Kind::Switch => "expected ON, OFF, true, false, 1 or 0",
            },
        })?;
        c.session_vars.retain(|(n, _)| *n != name);
        c.session_vars.push((name, sql));
        return Ok(());
    }
    if let Some(&(name, reason)) = REFUSED_VARS.iter().find(|(n, _)| *n == name) {
        return Err(ConfigError::Param { name, reason });
    }
    let Some(&name) = DRIVER_PARAMS.iter().find(|&&p| p == name) else {
        return Err(unknown(c, name));
    };
    let bad = |reason| ConfigError::Param { name, reason };
    let flag = |v: &str| go_bool(v).ok_or(bad("expected true or false"));
    // Accepted only at its default: the other value asks for something we do not do.
    let only = |v: &str, ok: bool, reason| match flag(v)? == ok {
        true => Ok(()),
        false => Err(bad(reason)),
    };
    let duration = |v: &str| parse_duration(v).ok_or(bad("bad duration"));
    match name {
        "tls" => {
            c.tls = if value.is_empty() {
                Tls::Off
            } else {
                tls_mode(value).ok_or(bad(
                    "expected true, false, skip-verify or preferred (custom TLS configurations are Go-only; give the CA with --tls-ca or DB_CA_BUNDLE)",
                ))?
            }
        }
        // MySQL client style.
        "ssl-mode" | "sslmode" | "ssl_mode" => {
            c.tls = match value.to_ascii_uppercase().as_str() {
                "DISABLED" => Tls::Off,
                "PREFERRED" | "REQUIRED" => Tls::SkipVerify,
                "VERIFY_CA" | "VERIFY_IDENTITY" => Tls::Verify,
                _ => {
                    return Err(bad(
                        "expected DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY",
                    ));
                }
            }
        }
        "ssl-ca" | "sslca" | "tls-ca" | "ca" => {
            if value.is_empty() {
                return Err(bad("empty path"));
            }
            c.ca = Some(value.into());
            if c.tls == Tls::Off {
                c.tls = Tls::Verify;
            }
        }
        "allowCleartextPasswords" => c.cleartext_password = flag(value)?,
        "timeout" | "connect-timeout" | "connect_timeout" => c.connect_timeout = duration(value)?,
        "readTimeout" | "read-timeout" | "read_timeout" => c.read_timeout = Some(duration(value)?),
        "writeTimeout" | "write-timeout" | "write_timeout" => {
            c.write_timeout = Some(duration(value)?)
        }
        "charset" => {
            if value.contains(',') {
                return Err(bad(
                    "give one character set: falling back through a list is not supported",
                ));
            }
            c.charset = Some(charset_name(value).ok_or(bad("not a character set name"))?);
        }
        "collation" => c.collation = Some(charset_name(value).ok_or(bad("not a collation name"))?),
        "maxAllowedPacket" => {
            let n: usize = value
                .parse()
                .map_err(|_| bad("expected a number of bytes"))?;
            // 0: ask the server, as go-sql-driver does.
            c.max_allowed_packet = (n > 0).then_some(n);
        }
        "clientFoundRows" => c.found_rows = flag(value)?,
        "compress" => c.compress = flag(value)?,
        "connectionAttributes" => {
            c.connect_attrs = connect_attrs(value).ok_or(bad(
                "expected name:value pairs separated by commas (names not starting with _)",
            ))?
        }
        // Go-side time handling. applied_at is written by the server as UTC_TIMESTAMP(),
        // which is what sql-migrate records with go-sql-driver's default loc=UTC, and
        // with loc=Local where the local zone is UTC (Lambda's). Another zone would make
        // sql-migrate record local wall time, which we do not: refused, not ignored.
        "loc" => {
            if !(value == "UTC" || value == "Local") {
                return Err(bad(
                    "only UTC or Local: applied_at is recorded in UTC (Local is UTC in Lambda)",
                ));
            }
        }
        "timeTruncate" => {
            duration(value)?;
        }
        // Options of how Go scans, interpolates and pools; they cannot change what we
        // send: migration statements go one at a time as text, our own values as
        // server-side parameters or hex literals, on one connection we never pool.
        "parseTime" | "interpolateParams" | "multiStatements" | "columnsWithAlias"
        | "checkConnLiveness" | "rejectReadOnly" => {
            flag(value)?;
        }
        "allowNativePasswords" => only(
            value,
            true,
            "the driver always offers mysql_native_password; use a user without it instead",
        )?,
        "allowFallbackToPlaintext" => only(
            value,
            false,
            "no plaintext fallback: the connection uses TLS or fails (use tls=false for no TLS)",
        )?,
        "allowOldPasswords" => only(value, false, "the pre-4.1 password scheme is not supported")?,
        "allowAllFiles" => only(value, false, "LOAD DATA LOCAL INFILE is not supported")?,
        "serverPubKey" => {
            return Err(bad(
                "Go-registered keys are not supported: use TLS, over which caching_sha2_password needs no key",
            ));
        }
        "strict" => {
            return Err(bad(
                "removed from go-sql-driver 1.4: use sql_mode='STRICT_ALL_TABLES' instead",
            ));
        }
        _ => unreachable!("every name in DRIVER_PARAMS has an arm"),
    }
    Ok(())
}

/// The driver parameters: go-sql-driver's, and MySQL-client spellings we also accept.
const DRIVER_PARAMS: &[&str] = &[
    "tls",
    "ssl-mode",
    "sslmode",
    "ssl_mode",
    "ssl-ca",
    "sslca",
    "tls-ca",
    "ca",
    "allowCleartextPasswords",
    "timeout",
    "connect-timeout",
    "connect_timeout",
    "readTimeout",
    "read-timeout",
    "read_timeout",
    "writeTimeout",
    "write-timeout",
    "write_timeout",
    "charset",
    "collation",
    "maxAllowedPacket",
    "clientFoundRows",
    "compress",
    "connectionAttributes",
    "loc",
    "timeTruncate",
    "parseTime",
    "interpolateParams",
    "multiStatements",
    "columnsWithAlias",
    "checkConnLiveness",
    "rejectReadOnly",
    "allowNativePasswords",
    "allowFallbackToPlaintext",
    "allowOldPasswords",
    "allowAllFiles",
    "serverPubKey",
    "strict",
];

/// The refusal of a parameter we do not know.
fn unknown(c: &ConnConfig, name: &str) -> ConfigError {
    ConfigError::Unknown {
        name: shown(c, name),
    }
}

/// The refusal of a parameter written without `=`: go-sql-driver skips it, and reading
/// it as an empty value would change the session (`?sql_mode` would turn strict mode
/// off), so neither meaning is guessed.
pub(super) fn bare(c: &ConnConfig, name: &str) -> ConfigError {
    ConfigError::NoValue {
        name: shown(c, name),
    }
}

/// A parameter's name as a message may show it: only when it looks like a parameter name
/// and is no part of the password, since a malformed string can put a piece of the
/// password where a parameter would be.
fn shown(c: &ConnConfig, name: &str) -> String {
    let in_password = c
        .password
        .as_deref()
        .is_some_and(|p| !p.is_empty() && (p.contains(name) || name.contains(p)));
    let plain = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if plain && !in_password {
        name.to_string()
    } else {
        "(name withheld: it is not a plain name or is part of the password)".to_string()
    }
}

/// Go's `strconv.ParseBool`.
fn go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// A character set or collation name: ASCII letters, digits and `_`.
fn charset_name(v: &str) -> Option<String> {
    let ok =
        !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then(|| v.to_ascii_lowercase())
}

/// go-sql-driver's `connectionAttributes`: `name:value,name:value`.
fn connect_attrs(v: &str) -> Option<Vec<(String, String)>> {
    v.split(',')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, val) = pair.split_once(':')?;
            let k = k.trim();
            (!k.is_empty() && !k.starts_with('_')).then(|| (k.to_string(), val.to_string()))
        })
        .collect()
}

/// The SQL text of a system variable's value, or `None` if it is not of `kind`. Values
/// in quotes (go-sql-driver's way to pass a string) lose them; what is left must be made
/// of characters that cannot end a quoted string or a statement.
fn session_value(kind: Kind, v: &str) -> Option<String> {
    let v = v
        .strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .or_else(|| v.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
        .unwrap_or(v);
    if v.len() > 1024 {
        return None;
    }
    if v.is_empty() {
        // `sql_mode=''` clears the modes; no number or switch is empty.
        return (kind == Kind::Text).then(|| "''".to_string());
    }
    match kind {
        Kind::Text => v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_,+-:/.=".contains(&b))
            .then(|| format!("'{v}'")),
        Kind::Number => {
            let digits = v.bytes().filter(u8::is_ascii_digit).count();
            let dots = v.bytes().filter(|&b| b == b'.').count();
            (digits > 0 && digits + dots == v.len() && dots <= 1 && v.len() <= 24)
                .then(|| v.to_string())
        }
        Kind::Switch => match v.to_ascii_lowercase().as_str() {
            "on" | "1" | "t" | "true" => Some("ON".into()),
            "off" | "0" | "f" | "false" => Some("OFF".into()),
            _ => None,
        },
    }
}

/// The character set a collation belongs to: its name up to the first `_`.
pub(super) fn collation_charset(collation: &str) -> &str {
    collation.split('_').next().unwrap_or(collation)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<ConnConfig, ConfigError> {
        ConnConfig::parse(&format!("app:pw@tcp(db:3306)/shop?{q}"))
    }

    /// The refusal's text, which must name `name`.
    fn refusal(q: &str, name: &str) -> String {
        let e = parse(q).expect_err(q).to_string();
        assert!(e.contains(name), "{q}: {e}");
        e
    }

    #[test]
    fn every_driver_parameter_has_an_arm_and_a_verdict() {
        // A value each parameter accepts; a panic here means a name without an arm.
        for &name in DRIVER_PARAMS {
            let value = match name {
                "tls" => "true",
                "ssl-mode" | "sslmode" | "ssl_mode" => "VERIFY_CA",
                // go-sql-driver too needs a `/` in a value escaped.
                "ssl-ca" | "sslca" | "tls-ca" | "ca" => "%2Fetc%2Fca.pem",
                "timeout" | "connect-timeout" | "connect_timeout" | "readTimeout"
                | "read-timeout" | "read_timeout" | "writeTimeout" | "write-timeout"
                | "write_timeout" | "timeTruncate" => "5s",
                "charset" => "utf8mb4",
                "collation" => "utf8mb4_bin",
                "maxAllowedPacket" => "0",
                "connectionAttributes" => "app:x",
                "loc" => "Local",
                "allowNativePasswords" => "true",
                "serverPubKey" | "strict" => {
                    refusal(&format!("{name}=x"), name);
                    continue;
                }
                _ => "false",
            };
            parse(&format!("{name}={value}")).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn honoured_parameters_change_the_settings() {
        let c = parse(
            "charset=latin1&collation=latin1_bin&maxAllowedPacket=0&clientFoundRows=true\
             &compress=1&connectionAttributes=team:db,app:mig&timeout=2s&readTimeout=1m\
             &writeTimeout=3s&allowCleartextPasswords=true&tls=skip-verify",
        )
        .unwrap();
        assert_eq!(c.charset.as_deref(), Some("latin1"));
        assert_eq!(c.collation.as_deref(), Some("latin1_bin"));
        assert_eq!(c.max_allowed_packet, None);
        assert!(c.found_rows && c.compress && c.cleartext_password);
        assert_eq!(c.connect_attrs.len(), 2);
        assert_eq!(c.connect_timeout.as_secs(), 2);
        assert_eq!(c.read_timeout.map(|d| d.as_secs()), Some(60));
        assert_eq!(c.write_timeout.map(|d| d.as_secs()), Some(3));
        assert_eq!(c.tls, Tls::SkipVerify);
        let d = parse("parseTime=true").unwrap();
        assert_eq!(d.max_allowed_packet, Some(64 << 20));
        assert_eq!(
            parse("maxAllowedPacket=4194304")
                .unwrap()
                .max_allowed_packet,
            Some(4 << 20)
        );
    }

    #[test]
    fn harmless_go_options_are_accepted_but_checked() {
        for q in [
            "parseTime=true&interpolateParams=true&multiStatements=true&columnsWithAlias=false",
            "checkConnLiveness=false&rejectReadOnly=true&loc=UTC&timeTruncate=1ms",
            "loc=Local&allowNativePasswords=1&allowFallbackToPlaintext=false",
            "allowOldPasswords=false&allowAllFiles=false",
        ] {
            let c = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
            assert!(c.session_vars.is_empty() && c.charset.is_none(), "{q}");
        }
        refusal("parseTime=yes", "parseTime");
        refusal("loc=..%2Fetc", "loc");
        // sql-migrate would record local wall time there; we record UTC.
        refusal("loc=America%2FArgentina%2FBuenos_Aires", "loc");
        refusal("timeTruncate=soon", "timeTruncate");
    }

    #[test]
    fn options_we_cannot_honour_are_refused_by_name() {
        for (q, name) in [
            ("allowFallbackToPlaintext=true", "allowFallbackToPlaintext"),
            ("allowNativePasswords=false", "allowNativePasswords"),
            ("allowOldPasswords=true", "allowOldPasswords"),
            ("allowAllFiles=true", "allowAllFiles"),
            ("serverPubKey=mykey", "serverPubKey"),
            ("strict=true", "strict"),
            ("charset=utf8mb4,utf8", "charset"),
            ("charset=utf8;DROP", "charset"),
            ("collation=", "collation"),
            ("tls=custom-config", "tls"),
            ("maxAllowedPacket=-1", "maxAllowedPacket"),
            (
                "connectionAttributes=_client_name:x",
                "connectionAttributes",
            ),
            ("autocommit=0", "autocommit"),
            ("completion_type=RELEASE", "completion_type"),
            ("transaction_read_only=1", "transaction_read_only"),
            ("sql_select_limit=1", "sql_select_limit"),
            ("lock_wait_timeout=5", "lock_wait_timeout"),
            ("character_set_client=latin1", "character_set_client"),
            ("no_such_option=1", "no_such_option"),
            ("ParseTime=true", "ParseTime"),
        ] {
            refusal(q, name);
        }
    }

    #[test]
    fn session_variables_are_checked_and_quoted_by_us() {
        let c = parse(
            "time_zone=%27%2B00:00%27&sql_mode=%27STRICT_ALL_TABLES,NO_ZERO_DATE%27\
             &foreign_key_checks=0&innodb_lock_wait_timeout=5&max_statement_time=1.5\
             &transaction_isolation=READ-COMMITTED&time_zone=Europe%2FParis",
        )
        .unwrap();
        assert_eq!(
            c.session_vars,
            [
                ("sql_mode", "'STRICT_ALL_TABLES,NO_ZERO_DATE'".to_string()),
                ("foreign_key_checks", "OFF".into()),
                ("innodb_lock_wait_timeout", "5".into()),
                ("max_statement_time", "1.5".into()),
                ("transaction_isolation", "'READ-COMMITTED'".into()),
                // Given twice: the last one wins, as in go-sql-driver.
                ("time_zone", "'Europe/Paris'".into()),
            ]
        );
        assert_eq!(
            parse("sql_mode=").unwrap().session_vars,
            [("sql_mode", "''".into())]
        );
        // Injections: a quote, a statement separator, a comment, a backslash.
        for q in [
            "time_zone=%27%2B00:00%27;DROP TABLE t",
            "sql_mode=x%27,(SELECT SLEEP(5)),%27",
            "sql_mode=ANSI%27 --",
            "time_zone=a\\%27",
            "innodb_lock_wait_timeout=5;KILL 1",
            "innodb_lock_wait_timeout=0x10",
            "foreign_key_checks=maybe",
        ] {
            let e = parse(q).expect_err(q).to_string();
            assert!(
                !e.contains("DROP") && !e.contains("SLEEP") && !e.contains("KILL"),
                "{e}"
            );
        }
    }

    #[test]
    fn refusals_never_echo_values_or_the_password() {
        let e = ConnConfig::parse("app:hunter2@tcp(db:3306)/shop?hunter2=1")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
        let e = ConnConfig::parse("app:hunter2@tcp(db:3306)/shop?hunt=1")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunt"), "{e}");
        let e = ConnConfig::parse("app:pw@tcp(db:3306)/shop?sql_mode=s3cret%27")
            .unwrap_err()
            .to_string();
        assert!(e.contains("sql_mode") && !e.contains("s3cret"), "{e}");
        let e = ConnConfig::parse("app:pw@tcp(db:3306)/shop?we%20ird=1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("withheld"), "{e}");
    }

    #[test]
    fn tls_modes_are_one_list() {
        for &(name, mode) in TLS_MODES {
            assert_eq!(tls_mode(name), Some(mode), "{name}");
            assert_eq!(tls_mode(&name.to_ascii_uppercase()), Some(mode), "{name}");
            assert_eq!(parse(&format!("tls={name}")).unwrap().tls, mode, "{name}");
        }
        assert_eq!(tls_mode("sometimes"), None);
        assert_eq!(collation_charset("utf8mb4_0900_ai_ci"), "utf8mb4");
        assert_eq!(collation_charset("binary"), "binary");
    }
}
