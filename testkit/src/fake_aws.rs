//! The fake AWS control planes (`scripts/fake-aws`: CodePipeline, Lambda, Secrets
//! Manager with their real protocols, and a relay to moto for the rest) for the Lambda
//! end-to-end tests (feature `fake-aws`, which adds serde_json: its control API speaks
//! JSON).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{http, repo};

/// `scripts/fake-aws` on a free loopback port; killed on drop.
pub struct FakeAws {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl FakeAws {
    /// Starts the server and waits for its ready line.
    pub fn start() -> FakeAws {
        FakeAws::spawn(&[])
    }

    /// Starts the server relaying every request it does not serve itself (S3, Step
    /// Functions, ...) to `upstream` (`http://HOST:PORT`, a moto server).
    pub fn with_upstream(upstream: &str) -> FakeAws {
        FakeAws::spawn(&["--upstream", upstream])
    }

    fn spawn(args: &[&str]) -> FakeAws {
        let mut child = Command::new("python3")
            .arg(repo().join("scripts/fake-aws"))
            .args(["--port", "0"])
            .args(args)
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

    /// Injects a fault: the next `times` synchronous Invokes of `function` whose payload
    /// contains `match` answer an HTTP error (`spec`: `{"function", "match", "times",
    /// "when": "before" | "after", "status", "error_type", "message"}`, as
    /// `scripts/fake-aws` documents).
    pub fn fault(&self, spec: Value) {
        self.post("/_fake/faults", &spec);
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
