//! Where and how to connect: parsed from a URL (`mysql://user:pass@host:port/db`), from
//! go-sql-driver's DSN form that sql-migrate's `dbconfig.yml` uses
//! (`user:pass@tcp(host:port)/db?parseTime=true`), or from `DB_HOST`-style variables.
//!
//! The password never appears in `Display` or `Debug` output: messages name the target
//! as `mysql://user:***@host:port/db`.
//!
//! Every query parameter is either honoured or refused by name ([`params`]): none is
//! dropped silently. System variables a DSN gives (`sql_mode`, `time_zone`, ...) and
//! `charset`/`collation` become the session's `SET`s, sent with its first query.

mod params;

pub use params::{TLS_MODES, tls_mode};

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// How the connection uses TLS. The spellings of each mode are in [`TLS_MODES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// Plain TCP.
    Off,
    /// TLS required and the server's certificate verified against the built-in web PKI
    /// roots plus the certificates of `ca` if given: a bundle adds to the roots (the
    /// driver offers no way to replace them). RDS certificates chain only to the RDS
    /// CAs, so the RDS bundle is what verifies them; RDS Proxy's chain to Amazon's
    /// public roots, already among the built-in ones.
    Verify,
    /// TLS required, certificate not verified (go-sql-driver's `tls=skip-verify`, and
    /// `preferred` without its plaintext fallback).
    SkipVerify,
}

/// Connection settings.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnConfig {
    /// Host name or IP.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// A Unix socket path, used instead of TCP when set.
    pub socket: Option<String>,
    /// User name.
    pub user: String,
    /// Password; never displayed.
    pub password: Option<String>,
    /// The schema to connect to.
    pub database: Option<String>,
    /// TLS mode.
    pub tls: Tls,
    /// CA bundle (PEM) to verify the server with.
    pub ca: Option<PathBuf>,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Socket read timeout (`None`: wait as long as the server takes; a long migration
    /// statement is not an error).
    pub read_timeout: Option<Duration>,
    /// Socket write timeout.
    pub write_timeout: Option<Duration>,
    /// Allow the `mysql_clear_password` authentication plugin, which RDS IAM tokens need
    /// (go-sql-driver's `allowCleartextPasswords=true`). Use it only with TLS on.
    pub cleartext_password: bool,
    /// The session's character set (`charset`; `SET NAMES`).
    pub charset: Option<String>,
    /// The session's collation (`collation`; `SET NAMES ... COLLATE`).
    pub collation: Option<String>,
    /// System variables for the session, as (name, value already checked and quoted as
    /// SQL); names come only from our own list.
    pub session_vars: Vec<(&'static str, String)>,
    /// The client's packet limit (`maxAllowedPacket`); `None` asks the server.
    pub max_allowed_packet: Option<usize>,
    /// Affected-row counts count matched rows (`clientFoundRows`).
    pub found_rows: bool,
    /// Compressed protocol (`compress`).
    pub compress: bool,
    /// Connection attributes (`connectionAttributes`).
    pub connect_attrs: Vec<(String, String)>,
}

/// A connection string or setting that cannot be used. It holds only our own static
/// text, never any part of the input: a malformed string may have its password anywhere.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The URL or DSN does not parse.
    #[error("bad database URL or DSN: {0}")]
    Syntax(&'static str),
    /// A parameter has a value we cannot use, or is one we refuse.
    #[error("bad database parameter {name}: {reason}")]
    Param {
        /// The parameter, as we spell it (only parameters we know are named).
        name: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// A parameter that is neither a driver option nor a system variable we pass on.
    #[error(
        "unknown database parameter {name}: not a go-sql-driver option or a system variable \
         this tool passes to the session (see README, \"Connection options\")"
    )]
    Unknown {
        /// Its name, or a note that it is withheld (it may be part of the password).
        name: String,
    },
    /// A parameter written without `=` (`?sql_mode`): refused, not read as empty.
    #[error(
        "database parameter {name} has no value: write {name}=VALUE (an empty value is \
         {name}=)"
    )]
    NoValue {
        /// Its name, or a note that it is withheld (it may be part of the password).
        name: String,
    },
    /// No connection settings were given at all.
    #[error(
        "no database given: pass --database mysql://user:pass@host:port/db, set DATABASE_URL, \
         DB_HOST/DB_PORT/DB_USER/DB_PASSWORD/DB_NAME, or use a dbconfig.yml"
    )]
    Missing,
}

impl Default for ConnConfig {
    fn default() -> Self {
        ConnConfig {
            host: "127.0.0.1".into(),
            port: 3306,
            socket: None,
            user: "root".into(),
            password: None,
            database: None,
            tls: Tls::Off,
            ca: None,
            connect_timeout: Duration::from_secs(10),
            read_timeout: None,
            write_timeout: Some(Duration::from_secs(60)),
            cleartext_password: false,
            charset: None,
            collation: None,
            session_vars: Vec::new(),
            // Otherwise the driver asks the server for it: one round trip saved; the
            // server still enforces its own limit.
            max_allowed_packet: Some(64 << 20),
            found_rows: false,
            compress: false,
            connect_attrs: Vec::new(),
        }
    }
}

impl fmt::Display for ConnConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mysql://{}", self.user)?;
        if self.password.is_some() {
            f.write_str(":***")?;
        }
        match &self.socket {
            Some(s) => write!(f, "@unix({s})")?,
            None => write!(f, "@{}:{}", self.host, self.port)?,
        }
        write!(f, "/{}", self.database.as_deref().unwrap_or(""))
    }
}

impl fmt::Debug for ConnConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnConfig")
            .field("target", &self.to_string())
            .field("tls", &self.tls)
            .field("ca", &self.ca)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("charset", &self.charset)
            .field("collation", &self.collation)
            .field("session_vars", &self.session_vars)
            .finish_non_exhaustive()
    }
}

impl ConnConfig {
    /// Parses either form: a `mysql://` (or `mariadb://`) URL, or a go-sql-driver DSN.
    pub fn parse(s: &str) -> Result<ConnConfig, ConfigError> {
        let s = s.trim();
        if let Some(rest) = s
            .strip_prefix("mysql://")
            .or_else(|| s.strip_prefix("mariadb://"))
        {
            parse_url(rest)
        } else if s.contains("://") {
            Err(ConfigError::Syntax(
                "only mysql:// and mariadb:// URLs are supported",
            ))
        } else {
            parse_dsn(s)
        }
    }

    /// The driver's options for these settings.
    pub fn opts(&self) -> mysql::Opts {
        let mut b = mysql::OptsBuilder::new()
            .ip_or_hostname(Some(self.host.clone()))
            .tcp_port(self.port)
            .socket(self.socket.clone())
            .user(Some(self.user.clone()))
            .pass(self.password.clone())
            .db_name(self.database.clone())
            // Otherwise the driver asks the server for its socket and reconnects.
            .prefer_socket(false)
            .max_allowed_packet(self.max_allowed_packet)
            .tcp_connect_timeout(Some(self.connect_timeout))
            .read_timeout(self.read_timeout)
            .write_timeout(self.write_timeout)
            .tcp_nodelay(true)
            .enable_cleartext_plugin(self.cleartext_password);
        if self.found_rows {
            b = b.additional_capabilities(mysql::consts::CapabilityFlags::CLIENT_FOUND_ROWS);
        }
        if self.compress {
            b = b.compress(Some(mysql::Compression::default()));
        }
        if !self.connect_attrs.is_empty() {
            b = b.connect_attrs(Some(
                self.connect_attrs
                    .iter()
                    .cloned()
                    .collect::<std::collections::HashMap<_, _>>(),
            ));
        }
        match self.tls {
            Tls::Off => {}
            Tls::Verify => {
                let mut ssl = mysql::SslOpts::default();
                if let Some(ca) = &self.ca {
                    ssl = ssl.with_root_cert_path(Some(ca.clone()));
                }
                b = b.ssl_opts(ssl);
            }
            Tls::SkipVerify => {
                b = b.ssl_opts(
                    mysql::SslOpts::default()
                        .with_danger_accept_invalid_certs(true)
                        .with_danger_skip_domain_validation(true),
                );
            }
        }
        b.into()
    }

    /// The session's `SET NAMES`, when the DSN gives a character set or collation.
    pub fn set_names(&self) -> Option<String> {
        // Both names are checked to be letters, digits and `_` when parsed.
        let charset = self
            .charset
            .as_deref()
            .or_else(|| self.collation.as_deref().map(params::collation_charset))?;
        Some(match &self.collation {
            Some(c) => format!("SET NAMES '{charset}' COLLATE '{c}'"),
            None => format!("SET NAMES '{charset}'"),
        })
    }

    fn apply_query(&mut self, query: &str) -> Result<(), ConfigError> {
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let Some((k, v)) = pair.split_once('=') else {
                return Err(params::bare(self, &percent_decode(pair)?));
            };
            let k = percent_decode(k)?;
            let v = percent_decode(v)?;
            params::apply(self, &k, &v)?;
        }
        Ok(())
    }
}

pub(super) fn parse_port(p: &str) -> Result<u16, ConfigError> {
    p.parse::<u16>()
        .ok()
        .filter(|&p| p != 0)
        .ok_or(ConfigError::Syntax(
            "the port is not a number from 1 to 65535",
        ))
}

/// A host must look like one: a password that lost its way (`mysql://app:pw:3306/db`,
/// `user:pw@host/db` in the DSN form) must not be taken for a host and printed with it.
fn check_host(host: &str) -> Result<(), ConfigError> {
    if host.is_empty() {
        return Err(ConfigError::Syntax("no host"));
    }
    if !host
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err(ConfigError::Syntax(
            "the host holds characters a host name cannot (user and password go before an '@'; write an IPv6 address in [ ])",
        ));
    }
    Ok(())
}

/// An IPv6 address between `[` and `]`, with an optional `%zone`.
fn check_ipv6(host: &str) -> Result<(), ConfigError> {
    let (addr, zone) = host.split_once('%').unwrap_or((host, ""));
    if addr.parse::<std::net::Ipv6Addr>().is_err()
        || !zone
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-' || c == '_')
    {
        return Err(ConfigError::Syntax(
            "the host between [ ] is not an IPv6 address",
        ));
    }
    Ok(())
}

fn parse_url(rest: &str) -> Result<ConnConfig, ConfigError> {
    let mut c = ConnConfig::default();
    let (main, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = main.split_once('/').unwrap_or((main, ""));
    // The user info ends at the first '/' or '?': an '@' after one means a password
    // holds it unencoded, and the database or a parameter would be a piece of it.
    if path.contains('@') || query.contains('@') {
        return Err(ConfigError::Syntax(
            "'@' after the host: percent-encode '/' as %2F and '?' as %3F in the password (and '@' as %40 anywhere)",
        ));
    }
    // The password may contain '@' only percent-encoded; the last '@' ends the user info.
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    if let Some(ui) = userinfo {
        let (u, p) = match ui.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (ui, None),
        };
        c.user = percent_decode(u)?;
        c.password = p.map(percent_decode).transpose()?;
    }
    if hostport.starts_with('[') {
        let end = hostport
            .find(']')
            .ok_or(ConfigError::Syntax("unclosed [ in host"))?;
        c.host = hostport[1..end].to_string();
        check_ipv6(&c.host)?;
        match &hostport[end + 1..] {
            "" => {}
            rest => {
                c.port = parse_port(rest.strip_prefix(':').ok_or(ConfigError::Syntax(
                    "expected :port after the ] of an IPv6 host",
                ))?)?
            }
        }
    } else {
        if let Some((h, p)) = hostport.rsplit_once(':') {
            c.host = percent_decode(h)?;
            c.port = parse_port(p)?;
        } else if !hostport.is_empty() {
            c.host = percent_decode(hostport)?;
        }
        check_host(&c.host)?;
    }
    let db = percent_decode(path.trim_end_matches('/'))?;
    c.database = (!db.is_empty()).then_some(db);
    c.apply_query(query)?;
    Ok(c)
}

fn parse_dsn(dsn: &str) -> Result<ConnConfig, ConfigError> {
    let mut c = ConnConfig::default();
    let slash = dsn.rfind('/').ok_or(ConfigError::Syntax(
        "expected mysql://… or user:pass@tcp(host:port)/db",
    ))?;
    let (head, tail) = (&dsn[..slash], &dsn[slash + 1..]);
    let (db, query) = tail.split_once('?').unwrap_or((tail, ""));
    c.database = (!db.is_empty()).then(|| db.to_string());
    // go-sql-driver: the last '@' ends the user info, the first ':' in it ends the user.
    let (userinfo, net) = match head.rfind('@') {
        Some(i) => (Some(&head[..i]), &head[i + 1..]),
        None => (None, head),
    };
    if let Some(ui) = userinfo {
        match ui.split_once(':') {
            Some((u, p)) => {
                c.user = u.to_string();
                c.password = Some(p.to_string());
            }
            None => c.user = ui.to_string(),
        }
    }
    if !net.is_empty() {
        let (proto, addr) = match net.split_once('(') {
            Some((p, a)) => (
                p,
                a.strip_suffix(')')
                    .ok_or(ConfigError::Syntax("unclosed ( in the DSN's address"))?,
            ),
            None => (net, ""),
        };
        match proto {
            "tcp" | "tcp6" | "" => {
                if !addr.is_empty() {
                    let (h, p) = addr.rsplit_once(':').unwrap_or((addr, "3306"));
                    match h.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
                        Some(v6) => {
                            check_ipv6(v6)?;
                            c.host = v6.to_string();
                        }
                        None if h.is_empty() => {}
                        None => {
                            check_host(h)?;
                            c.host = h.to_string();
                        }
                    }
                    c.port = parse_port(p)?;
                }
            }
            "unix" => {
                c.socket = Some(if addr.is_empty() {
                    "/tmp/mysql.sock".to_string()
                } else {
                    addr.to_string()
                })
            }
            // Not named: without an '@' before it, this is the user info, password and all.
            _ => {
                return Err(ConfigError::Syntax(
                    "unsupported network before the address (expected tcp(host:port) or unix(path))",
                ));
            }
        }
    }
    c.apply_query(query)?;
    Ok(c)
}

fn percent_decode(s: &str) -> Result<String, ConfigError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(ConfigError::Syntax("bad %-escape"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ConfigError::Syntax("%-escapes are not UTF-8"))
}

/// Parses `10`, `10s`, `500ms`, `1m30s` (Go's duration form; a bare number is seconds):
/// the settings' one duration parser.
pub fn parse_duration(s: &str) -> Option<Duration> {
    crate::settings::parse_duration(s, crate::settings::Bare::Secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_without_a_value_is_refused_not_read_as_empty() {
        for dsn in [
            "mysql://u:p@h/db?sql_mode",
            "u:p@tcp(h:3306)/db?parseTime=true&sql_mode",
        ] {
            let e = ConnConfig::parse(dsn).unwrap_err();
            assert_eq!(
                e,
                ConfigError::NoValue {
                    name: "sql_mode".into()
                },
                "{dsn}"
            );
            assert!(e.to_string().contains("sql_mode=VALUE"), "{e}");
        }
        // Written out, an empty value is what the user asked for.
        let c = ConnConfig::parse("mysql://u:p@h/db?sql_mode=").unwrap();
        assert_eq!(c.session_vars.len(), 1);
        // A bare piece of the password is never shown.
        let e = ConnConfig::parse("mysql://u:s3cret@h/db?s3cret").unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[test]
    fn url() {
        let c = ConnConfig::parse("mysql://app:s%40cret:x@db.example:3307/shop?tls=true&ssl-ca=/etc/rds.pem&read-timeout=30s").unwrap();
        assert_eq!(c.user, "app");
        assert_eq!(c.password.as_deref(), Some("s@cret:x"));
        assert_eq!((c.host.as_str(), c.port), ("db.example", 3307));
        assert_eq!(c.database.as_deref(), Some("shop"));
        assert_eq!(c.tls, Tls::Verify);
        assert_eq!(c.ca, Some(PathBuf::from("/etc/rds.pem")));
        assert_eq!(c.read_timeout, Some(Duration::from_secs(30)));
        let c = ConnConfig::parse("mysql://root@localhost").unwrap();
        assert_eq!((c.port, c.password, c.database), (3306, None, None));
        let c = ConnConfig::parse("mariadb://u:p@[::1]:3306/d").unwrap();
        assert_eq!(c.host, "::1");
    }

    #[test]
    fn dsn() {
        let c = ConnConfig::parse(
            "app:p@ss:w@tcp(10.0.0.5:3306)/shop?parseTime=true&tls=skip-verify&timeout=5s",
        )
        .unwrap();
        assert_eq!(c.user, "app");
        assert_eq!(c.password.as_deref(), Some("p@ss:w"));
        assert_eq!((c.host.as_str(), c.port), ("10.0.0.5", 3306));
        assert_eq!(c.database.as_deref(), Some("shop"));
        assert_eq!(c.tls, Tls::SkipVerify);
        assert_eq!(c.connect_timeout, Duration::from_secs(5));
        assert!(!c.cleartext_password);
        let c =
            ConnConfig::parse("u:t@tcp(db:3306)/x?tls=true&allowCleartextPasswords=true").unwrap();
        assert!(c.cleartext_password);
        assert!(ConnConfig::parse("u@tcp(db:3306)/x?allowCleartextPasswords=maybe").is_err());
        let c = ConnConfig::parse("root@unix(/run/mysqld/mysqld.sock)/x").unwrap();
        assert_eq!(c.socket.as_deref(), Some("/run/mysqld/mysqld.sock"));
        let c = ConnConfig::parse("/only_db").unwrap();
        assert_eq!(c.database.as_deref(), Some("only_db"));
        assert_eq!(c.host, "127.0.0.1");
    }

    #[test]
    fn refusals() {
        for bad in [
            "postgres://u@h/d",
            "mysql://u@h:notaport/d",
            "mysql://u@h:0/d",
            "u@tcp(h:1/d",
            "u@udp(h:1)/d",
            "no-slash-at-all",
            "mysql://u@h/d?tls=maybe",
            "mysql://u@h/d?timeout=5parsecs",
            "mysql://u%zz@h/d",
        ] {
            assert!(ConnConfig::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_and_debug_redact_the_password() {
        let c = ConnConfig::parse("mysql://app:hunter2@db:3306/shop?tls=true").unwrap();
        assert_eq!(c.to_string(), "mysql://app:***@db:3306/shop");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("***"), "{dbg}");
        let c = ConnConfig::parse("app:hunter2@tcp(db:3306)/shop").unwrap();
        assert!(!c.to_string().contains("hunter2"));
        // Errors never echo the input.
        let e = ConnConfig::parse("mysql://app:hunter2@db:99999/shop").unwrap_err();
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn malformed_strings_never_echo_a_piece_of_the_password() {
        // The secret is "s3cr" + a separator + "Et9x"; neither half may appear.
        let secret_free = |text: &str| !text.contains("s3cr") && !text.contains("Et9x");
        for bad in [
            "mysql://app:3306/s3crEt9x@host/db",
            "mysql://app:s3cr/Et9x@host:3306/db",
            "mysql://app:s3cr?Et9x@host:3306/db",
            "mysql://app:1234?s3crEt9x@host/db",
            "mysql://app:s3crEt9x:3306/db",
            "mysql://app:s3crEt9x/db",
            "mysql://app:s3crEt9x@host:33o6/db",
            "mysql://app:s3crEt9x@[::1/db",
            "mysql://app:s3crEt9x@[s3cr:Et9x]:3306/db",
            "mysql://app:s3crEt9x@[::1]x/db",
            "mysql://app:s3crEt9x@/db?tls=s3crEt9x",
            "mysql://app:s3cr%zzEt9x@host/db",
            "mysql://app:s3cr%FFEt9x@host/db",
            "postgres://app:s3crEt9x@host/db",
            "app:s3crEt9x",
            "app:s3cr/Et9x",
            "app:s3crEt9x@host:3306/db",
            "app:s3crEt9x@tcp(host:3306/db",
            "app:s3crEt9x@udp(host:3306)/db",
            "app:s3crEt9x@tcp(s3cr:Et9x:3306)/db",
            "app:s3crEt9x@tcp(host:s3crEt9x)/db",
            "app:s3crEt9x@tcp(host:3306)/db?timeout=s3crEt9x",
            "app:s3crEt9x@tcp(host:3306)/db?readTimeout=s3cr&ssl-mode=Et9x",
        ] {
            let e = ConnConfig::parse(bad).expect_err(bad);
            let (display, debug) = (e.to_string(), format!("{e:?}"));
            assert!(secret_free(&display), "{bad} -> {display}");
            assert!(secret_free(&debug), "{bad} -> {debug}");
        }
        // Well-formed: the password is parsed and never shown.
        for good in [
            "mysql://app:s3cr%2FEt9x@host:3306/db",
            "mysql://app:s3cr%3FEt9x@host/db?tls=false",
            "app:s3cr/Et9x@tcp(host:3306)/db",
            "app:s3cr?Et9x@tcp([::1]:3306)/db",
        ] {
            let c = ConnConfig::parse(good).unwrap_or_else(|e| panic!("{good}: {e}"));
            assert!(c.password.as_deref().is_some_and(|p| p.starts_with("s3cr")));
            assert!(
                secret_free(&c.to_string()) && secret_free(&format!("{c:?}")),
                "{c}"
            );
        }
        assert_eq!(
            ConnConfig::parse("mysql://u@[fe80::1%eth0]:3307/d")
                .unwrap()
                .host,
            "fe80::1%eth0"
        );
        assert_eq!(ConnConfig::parse("mysql://u@/d").unwrap().host, "127.0.0.1");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration("s"), None);
    }
}
