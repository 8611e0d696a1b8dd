//! Shared helpers of the Lambda end-to-end tests: the fake AWS server
//! (`scripts/fake-aws`), the local S3 server (moto, `scripts/start-moto`), MariaDB
//! (`scripts/start-mariadb`), and artifacts zipped by Info-ZIP.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A unique name for this test process and call.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// One HTTP/1.1 request on a fresh connection; returns status, headers and body.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut hs = Vec::new();
    let mut len = None;
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').unwrap();
        if k.eq_ignore_ascii_case("content-length") {
            len = v.trim().parse::<usize>().ok();
        }
        hs.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let mut out = Vec::new();
    match len {
        Some(n) => {
            out.resize(n, 0);
            r.read_exact(&mut out).unwrap();
        }
        None => {
            r.read_to_end(&mut out).unwrap();
        }
    }
    (status, hs, out)
}

/// `scripts/fake-aws` on a free loopback port; killed on drop.
pub struct FakeAws {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl FakeAws {
    /// Starts the server and waits for its ready line.
    pub fn start() -> FakeAws {
        let mut child = Command::new("python3")
            .arg(repo().join("scripts/fake-aws"))
            .args(["--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 scripts/fake-aws");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .rsplit("http://")
            .next()
            .filter(|a| a.contains(':'))
            .unwrap_or_else(|| panic!("fake-aws did not start: {line:?}"))
            .to_owned();
        FakeAws { child, addr }
    }

    /// The endpoint URL for SDK clients.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// GET a control path, as JSON.
    pub fn get(&self, path: &str) -> Value {
        let (status, _, body) = http(&self.addr, "GET", path, &[], b"");
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).unwrap()
    }

    /// POST JSON to a control path.
    pub fn post(&self, path: &str, body: &Value) -> Value {
        let (status, _, out) = http(
            &self.addr,
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        );
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&out));
        serde_json::from_slice(&out).unwrap()
    }

    /// Registers a function.
    pub fn function(&self, spec: Value) {
        self.post("/_fake/functions", &spec);
    }

    /// Every recorded call.
    pub fn calls(&self) -> Vec<Value> {
        self.get("/_fake/calls").as_array().unwrap().clone()
    }

    /// Recorded calls of one service operation.
    pub fn calls_of(&self, op: &str) -> Vec<Value> {
        self.calls().into_iter().filter(|c| c["op"] == op).collect()
    }

    /// Starts a pipeline job for `function` on `s3://bucket/key`.
    pub fn start_job(&self, function: &str, bucket: &str, key: &str, extra: Value) -> String {
        let mut spec = json!({"function": function, "bucket": bucket, "key": key});
        if let Value::Object(m) = extra {
            for (k, v) in m {
                spec[k] = v;
            }
        }
        self.post("/_fake/jobs", &spec)["jobId"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Waits until job `id` (and the follow-ups it continued into) is finished; returns
    /// the chain of jobs, first to last. Bounded: panics after `limit`.
    pub fn wait_job(&self, id: &str, limit: Duration) -> Vec<Value> {
        let start = Instant::now();
        let mut chain = Vec::new();
        let mut id = id.to_owned();
        loop {
            let job = self.get(&format!("/_fake/jobs/{id}"));
            match job["status"].as_str().unwrap() {
                "Continued" => {
                    id = job["continued_by"].as_str().unwrap().to_owned();
                    chain.push(job);
                }
                "InProgress" => {
                    assert!(
                        start.elapsed() < limit,
                        "job {id} still in progress; calls: {:#}",
                        Value::Array(self.calls())
                    );
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => {
                    chain.push(job);
                    return chain;
                }
            }
        }
    }
}

impl Drop for FakeAws {
    fn drop(&mut self) {
        // SIGTERM lets it stop the function processes it started.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// The local S3 server's address (`LM_TEST_S3_ENDPOINT`, default moto on port 5000),
/// started with `scripts/start-moto` if it does not answer.
pub fn s3_endpoint() -> String {
    let url =
        std::env::var("LM_TEST_S3_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:5000".into());
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    if TcpStream::connect(&addr).is_err() {
        let ok = Command::new(repo().join("scripts/start-moto"))
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "no S3 server at {url} and scripts/start-moto failed");
    }
    url
}

/// Creates `bucket` and stores `body` at `key` on the S3 server (moto accepts
/// unsigned requests).
pub fn s3_put(endpoint: &str, bucket: &str, key: &str, body: &[u8]) {
    let addr = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let (status, _, out) = http(addr, "PUT", &format!("/{bucket}"), &[], b"");
    assert!(
        status == 200 || status == 409,
        "create bucket: {status} {}",
        String::from_utf8_lossy(&out)
    );
    let (status, _, out) = http(addr, "PUT", &format!("/{bucket}/{key}"), &[], body);
    assert_eq!(status, 200, "put object: {}", String::from_utf8_lossy(&out));
}

/// Zips `files` (path inside the archive, contents) with Info-ZIP, as a source
/// artifact; returns the zip's bytes.
pub fn zip_artifact(files: &[(&str, &str)]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    for (path, body) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    let out = dir.path().join("artifact.zip");
    let status = Command::new("zip")
        .current_dir(dir.path())
        .args(["-q", "-r", "-X"])
        .arg(&out)
        .args(files.iter().map(|(p, _)| *p))
        .status()
        .expect("zip (Info-ZIP)");
    assert!(status.success());
    std::fs::read(out).unwrap()
}

/// A fresh, empty database on the local MariaDB; dropped on drop.
pub struct TestDb {
    /// Its name.
    pub name: String,
}

/// The server URL without a database (`LM_TEST_DATABASE_URL`'s server).
pub fn server_url() -> String {
    let url = std::env::var("LM_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "mysql://lm:lm@127.0.0.1:3306/lm_test".into());
    match url.rfind('/') {
        Some(i) if i > "mysql://".len() => url[..i].to_owned(),
        _ => url,
    }
}

fn mariadb_args() -> Vec<String> {
    // mysql://user:pass@host:port
    let url = server_url();
    let rest = url.trim_start_matches("mysql://");
    let (cred, hostport) = rest.split_once('@').unwrap();
    let (user, pass) = cred.split_once(':').unwrap_or((cred, ""));
    let (host, port) = hostport.split_once(':').unwrap_or((hostport, "3306"));
    vec![
        format!("-h{host}"),
        format!("-P{port}"),
        format!("-u{user}"),
        format!("-p{pass}"),
        "--batch".into(),
        "--skip-column-names".into(),
    ]
}

/// Runs SQL with the `mariadb` client; returns its stdout.
pub fn sql(db: Option<&str>, query: &str) -> String {
    let mut cmd = Command::new("mariadb");
    cmd.args(mariadb_args());
    if let Some(db) = db {
        cmd.arg(db);
    }
    let out = cmd.arg("-e").arg(query).output().expect("mariadb client");
    assert!(
        out.status.success(),
        "{query}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

impl TestDb {
    /// Creates it.
    pub fn new() -> TestDb {
        let name = unique("lm_lambda");
        sql(None, &format!("CREATE DATABASE `{name}`"));
        TestDb { name }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("{}/{}", server_url(), self.name)
    }

    /// The ids in the history table, in apply order.
    pub fn applied(&self) -> Vec<String> {
        sql(
            Some(&self.name),
            "SELECT id FROM gorp_migrations ORDER BY applied_at, id",
        )
        .lines()
        .map(str::to_owned)
        .collect()
    }

    /// Tables in the database.
    pub fn tables(&self) -> Vec<String> {
        sql(Some(&self.name), "SHOW TABLES")
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = Command::new("mariadb")
            .args(mariadb_args())
            .arg("-e")
            .arg(format!("DROP DATABASE IF EXISTS `{}`", self.name))
            .status();
    }
}
