//! The test server of `LM_TEST_DATABASE_URL`: MariaDB 10.11 (`scripts/start-mariadb`,
//! 127.0.0.1:3306, the default) or MySQL 9.7 (`scripts/start-mysql`, 127.0.0.1:3307).
//! Where it is, SQL through the `mariadb` client (which speaks to both), a fresh database
//! per test and users of a test's own. `scripts/test` runs every suite that uses it once
//! per server.

use std::process::Command;

use crate::unique;

/// The server tests use when `LM_TEST_DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str = "mysql://lm:lm@127.0.0.1:3306/lm_test";

/// The server of `LM_TEST_DATABASE_URL` (its database is ignored).
#[derive(Debug, Clone)]
pub struct Server {
    /// The user name.
    pub user: String,
    /// The password (empty for none).
    pub password: String,
    /// The host.
    pub host: String,
    /// The port.
    pub port: u16,
    /// `mysql://user:password@host:port` as given.
    url: String,
}

/// The server of `LM_TEST_DATABASE_URL`, or [`DEFAULT_DATABASE_URL`]'s.
pub fn server() -> Server {
    let url = std::env::var("LM_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.into());
    Server::parse(&url).unwrap_or_else(|| {
        panic!("LM_TEST_DATABASE_URL is not mysql://user:password@host:port/database")
    })
}

/// The server's URL without a database: `mysql://user:password@host:port`.
pub fn server_url() -> String {
    server().url
}

impl Server {
    /// Parses `mysql://user[:password]@host[:port][/database][?…]`.
    pub fn parse(url: &str) -> Option<Server> {
        let rest = url.strip_prefix("mysql://")?;
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (cred, hostport) = rest[..end].rsplit_once('@')?;
        let (user, password) = cred.split_once(':').unwrap_or((cred, ""));
        let (host, port) = match hostport.strip_prefix('[') {
            // An IPv6 address: `[::1]:3306`.
            Some(v6) => {
                let (h, after) = v6.split_once(']')?;
                match after.strip_prefix(':') {
                    Some(p) => (h, p.parse().ok()?),
                    None if after.is_empty() => (h, 3306),
                    None => return None,
                }
            }
            None => match hostport.split_once(':') {
                Some((h, p)) => (h, p.parse().ok()?),
                None => (hostport, 3306),
            },
        };
        Some(Server {
            user: percent_decode(user)?,
            password: percent_decode(password)?,
            host: host.into(),
            port,
            url: format!("mysql://{}", &rest[..end]),
        })
    }

    /// A `mariadb` client command for this server (MariaDB or MySQL), tab-separated output
    /// without column names; the password goes through the environment, not the command
    /// line.
    pub fn client(&self, db: Option<&str>) -> Command {
        let mut cmd = Command::new("mariadb");
        cmd.args(["-N", "-B", "-h", &self.host, "-P", &self.port.to_string()])
            .args(["-u", &self.user])
            .env("MYSQL_PWD", &self.password);
        if let Some(db) = db {
            cmd.arg(db);
        }
        cmd
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// What a test says when the server does not answer: which one, and how to start it.
pub const START_HINT: &str = "Start the server LM_TEST_DATABASE_URL names: scripts/start-mariadb \
     (127.0.0.1:3306, the default) or scripts/start-mysql (127.0.0.1:3307).";

/// Runs `query` (one or more statements) with the `mariadb` client, in `db` if given;
/// returns its tab-separated output without trailing blanks. Panics if it fails.
pub fn sql(db: Option<&str>, query: &str) -> String {
    let s = server();
    let out = s
        .client(db)
        .arg("-e")
        .arg(query)
        .output()
        .expect("the mariadb client runs (run .ci/install-deps)");
    assert!(
        out.status.success(),
        "query on {}:{} failed ({query}): {} {START_HINT}",
        s.host,
        s.port,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut text = String::from_utf8(out.stdout).expect("the mariadb client prints UTF-8");
    text.truncate(text.trim_end().len());
    text
}

/// The server's `VERSION()`, e.g. `10.11.19-MariaDB-0+deb12u1` or `9.7.4-2`.
pub fn server_version() -> String {
    sql(None, "SELECT VERSION()")
}

/// Whether the server is MariaDB (else MySQL).
pub fn is_mariadb() -> bool {
    server_version().contains("MariaDB")
}

/// A user of a test's own on the server, `'name'@'127.0.0.1'` (the host the tests
/// connect from), with only the grants it is given; dropped on drop, also when the test
/// fails. Created with the server's default authentication plugin
/// (`caching_sha2_password` on MySQL 8.0 and later, `mysql_native_password` on MariaDB).
pub struct TestUser {
    /// Its name: unique to the test process and call.
    pub name: String,
    /// Its password.
    pub password: String,
}

impl TestUser {
    /// Creates one with `password`, then runs each of `grants` for it: `{user}` in them
    /// stands for the account (`GRANT ALL ON db.* TO {user}`).
    pub fn create(password: &str, grants: &[&str]) -> TestUser {
        let name = unique("lmt_user");
        let account = format!("'{name}'@'127.0.0.1'");
        let mut q = format!("CREATE USER {account} IDENTIFIED BY '{password}'");
        for g in grants {
            q.push_str("; ");
            q.push_str(&g.replace("{user}", &account));
        }
        sql(None, &q);
        TestUser {
            name,
            password: password.into(),
        }
    }

    /// Its account, quoted: `'name'@'127.0.0.1'`.
    pub fn account(&self) -> String {
        format!("'{}'@'127.0.0.1'", self.name)
    }

    /// The URL of `db` on the server, logged in as this user.
    pub fn url(&self, db: &str) -> String {
        let s = server();
        format!(
            "mysql://{}:{}@{}:{}/{db}",
            self.name, self.password, s.host, s.port
        )
    }

    /// Sets its password.
    pub fn set_password(&self, password: &str) {
        sql(
            None,
            &format!("ALTER USER {} IDENTIFIED BY '{password}'", self.account()),
        );
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = server()
            .client(None)
            .arg("-e")
            .arg(format!("DROP USER IF EXISTS {}", self.account()))
            .output();
    }
}

/// A fresh, empty database on the test server, dropped on drop.
pub struct TestDb {
    /// Its name: unique to the test process and call.
    pub name: String,
}

impl TestDb {
    /// Creates one.
    #[allow(clippy::new_without_default)]
    pub fn new() -> TestDb {
        TestDb::tagged("db")
    }

    /// Creates one whose name carries `tag` (letters, digits, `_`), to tell leftovers apart.
    pub fn tagged(tag: &str) -> TestDb {
        let name = unique(&format!("lmt_{tag}"));
        sql(
            None,
            &format!("DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}`"),
        );
        TestDb { name }
    }

    /// Its URL: `mysql://user:password@host:port/name`.
    pub fn url(&self) -> String {
        format!("{}/{}", server_url(), self.name)
    }

    /// Its Go MySQL driver DSN, as sql-migrate takes it.
    pub fn dsn(&self) -> String {
        let s = server();
        format!(
            "{}:{}@tcp({}:{})/{}?parseTime=true",
            s.user, s.password, s.host, s.port, self.name
        )
    }

    /// Runs `query` in it ([`sql`]).
    pub fn q(&self, query: &str) -> String {
        sql(Some(&self.name), query)
    }

    /// The ids in the history table `gorp_migrations`, in apply order.
    pub fn applied(&self) -> Vec<String> {
        self.lines("SELECT id FROM gorp_migrations ORDER BY applied_at, id")
    }

    /// Its tables.
    pub fn tables(&self) -> Vec<String> {
        self.lines("SHOW TABLES")
    }

    fn lines(&self, query: &str) -> Vec<String> {
        self.q(query).lines().map(str::to_owned).collect()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Best effort, and never a panic while a failing test unwinds.
        let _ = server()
            .client(None)
            .arg("-e")
            .arg(format!("DROP DATABASE IF EXISTS `{}`", self.name))
            .output();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_parse() {
        let s = Server::parse("mysql://lm:p%40ss@db.example:3307/lm_test?tls=true").unwrap();
        assert_eq!(
            (
                s.user.as_str(),
                s.password.as_str(),
                s.host.as_str(),
                s.port
            ),
            ("lm", "p@ss", "db.example", 3307)
        );
        assert_eq!(s.url, "mysql://lm:p%40ss@db.example:3307");
        let s = Server::parse("mysql://root@[::1]").unwrap();
        assert_eq!(
            (s.password.as_str(), s.host.as_str(), s.port),
            ("", "::1", 3306)
        );
        assert!(Server::parse("postgres://a@b/c").is_none());
        assert!(Server::parse("mysql://a@b:port/c").is_none());
    }
}
