//! Plain HTTP/1.1 over std, and the local S3 server (moto) it talks to.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use crate::repo;

/// One HTTP/1.1 request on a fresh connection to `addr` (`host:port`); returns the
/// status, the headers and the body. Panics on a connection or protocol error.
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

/// The local S3 server's URL (`LM_TEST_S3_ENDPOINT`, default moto on
/// `http://127.0.0.1:5000`), started with `scripts/start-moto` if it does not answer.
pub fn s3_endpoint() -> String {
    let url =
        std::env::var("LM_TEST_S3_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:5000".into());
    if TcpStream::connect(addr(&url)).is_err() {
        let ok = Command::new(repo().join("scripts/start-moto"))
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "no S3 server at {url} and scripts/start-moto failed");
    }
    url
}

/// Creates `bucket` (if it does not exist) and stores `body` at `key` on the S3 server at
/// `endpoint` (moto accepts unsigned requests).
pub fn s3_put(endpoint: &str, bucket: &str, key: &str, body: &[u8]) {
    let addr = addr(endpoint);
    let (status, _, out) = http(addr, "PUT", &format!("/{bucket}"), &[], b"");
    assert!(
        status == 200 || status == 409,
        "create bucket: {status} {}",
        String::from_utf8_lossy(&out)
    );
    let (status, _, out) = http(addr, "PUT", &format!("/{bucket}/{key}"), &[], body);
    assert_eq!(status, 200, "put object: {}", String::from_utf8_lossy(&out));
}

/// `host:port` of an `http://host:port/` URL.
fn addr(url: &str) -> &str {
    url.trim_start_matches("http://").trim_end_matches('/')
}
