//! Step Functions executions in moto's interpreter (moto 5.2's copy of LocalStack's
//! Amazon States Language interpreter), with every Lambda Invoke going to a function that
//! `scripts/fake-aws` runs behind the Lambda Runtime API.
//!
//! The interpreter sends its Lambda and S3 calls to `http://localhost:$MOTO_PORT`, so a
//! private moto server is started with `MOTO_PORT` set to fake-aws's port, and fake-aws
//! relays what it does not serve itself (S3, Step Functions) back to that moto:
//!
//! ```text
//! test, functions ──► fake-aws ──(Invoke)──► function processes
//!        │               └──(the rest)──► moto ◄── Step Functions API (test, trigger)
//!        │                                  └──(interpreter: Invoke, S3)──► fake-aws
//! ```
//!
//! Plain HTTP with the AWS JSON protocol (awsJson1_0, `X-Amz-Target: AWSStepFunctions.Op`;
//! moto checks no signature), so testkit needs no SDK.

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{FakeAws, http, repo, unique};

/// The bucket the fleet's definition names (`${ArtifactBucketName}` of the default stack);
/// the harness creates it, as its ResultWriter needs it.
pub const ARTIFACT_BUCKET: &str = "lambda-migrate-artifacts";

/// The state machine's name in the default stack (`<stackName>-fleet`).
pub const FLEET_STATE_MACHINE: &str = "lambda-migrate-fleet";

/// The migrator's and the trigger's names in `deploy/test/fleet.asl.json`: register the
/// functions under these in [`StepFunctions::fake`].
pub const MIGRATOR_FUNCTION: &str = "lambda-migrate-migrator";
/// See [`MIGRATOR_FUNCTION`].
pub const TRIGGER_FUNCTION: &str = "lambda-migrate-trigger";

/// The credential scope moto routes the AWS JSON calls by (it checks no signature).
const STATES_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIAHARNESS/20260101/us-east-1/states/aws4_request, SignedHeaders=host, Signature=0";
/// moto answers an anonymous GetObject 403 (a PUT or a listing it takes unsigned).
const S3_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIAHARNESS/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";

/// A private moto server executing state machines, with fake-aws in front of it; both
/// are killed on drop.
pub struct StepFunctions {
    /// fake-aws: register functions and faults here, read the recorded calls. Its
    /// [`FakeAws::url`] serves Lambda and relays S3 and Step Functions to moto.
    pub fake: FakeAws,
    moto: Child,
    moto_addr: String,
    log: PathBuf,
}

impl StepFunctions {
    /// Starts fake-aws and moto, turns state machine execution on and creates
    /// [`ARTIFACT_BUCKET`].
    pub fn start() -> StepFunctions {
        // The port is chosen before moto binds it; another process may take it in
        // between, so a server that exits at once is started again on another port.
        let mut attempts = 0;
        loop {
            attempts += 1;
            match StepFunctions::try_start() {
                Ok(sf) => return sf,
                Err(log) if attempts < 3 && log.contains("Address already in use") => {}
                Err(log) => panic!("moto did not start; its log:\n{log}"),
            }
        }
    }

    fn try_start() -> Result<StepFunctions, String> {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let moto_addr = format!("127.0.0.1:{port}");
        let fake = FakeAws::with_upstream(&format!("http://{moto_addr}"));
        let fake_port = fake.addr.rsplit(':').next().unwrap().to_owned();
        let log = std::env::temp_dir().join(format!("{}.log", unique("lm-sfn-moto")));
        let out = File::create(&log).unwrap();
        let moto = Command::new(moto_python())
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            // Where the interpreter sends its Lambda and S3 calls.
            .env("MOTO_PORT", &fake_port)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("moto's server (scripts/start-moto --python)");
        let mut sf = StepFunctions {
            fake,
            moto,
            moto_addr,
            log,
        };
        let start = Instant::now();
        loop {
            if TcpStream::connect(&sf.moto_addr).is_ok()
                && http(&sf.moto_addr, "GET", "/moto-api/", &[], b"").0 == 200
            {
                break;
            }
            if sf.moto.try_wait().unwrap().is_some() || start.elapsed() > Duration::from_secs(30) {
                return Err(sf.moto_log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let (status, _, body) = http(
            &sf.moto_addr,
            "POST",
            "/moto-api/config",
            &[("Content-Type", "application/json")],
            json!({"stepfunctions": {"execute_state_machine": true}})
                .to_string()
                .as_bytes(),
        );
        // 201, answering with the config of the services that are not Step Functions.
        assert!(
            status == 200 || status == 201,
            "moto-api/config: {status} {}",
            String::from_utf8_lossy(&body)
        );
        sf.s3(
            "PUT",
            &format!("/{ARTIFACT_BUCKET}"),
            b"",
            &[200],
            "create the bucket",
        );
        Ok(sf)
    }

    /// The Step Functions endpoint URL (moto itself) for SDK clients, e.g. the trigger's
    /// `AWS_ENDPOINT_URL_SFN`. fake-aws's URL works too (relayed, and recorded).
    pub fn sfn_url(&self) -> String {
        format!("http://{}", self.moto_addr)
    }

    /// The S3 endpoint URL for SDK clients (`force_path_style`): fake-aws, which relays
    /// to moto and records each request in its calls. [`StepFunctions::sfn_url`] is moto
    /// itself, which serves S3 as well.
    pub fn s3_url(&self) -> String {
        self.fake.url()
    }

    /// The environment a function (or a CLI run) needs to reach these endpoints: static
    /// credentials, the region, and the endpoint URLs of S3 (the relay), Step Functions
    /// (moto), Lambda, CodePipeline and Secrets Manager (fake-aws). Merge a function's
    /// own variables into it.
    pub fn aws_env(&self) -> Value {
        json!({
            "AWS_ACCESS_KEY_ID": "AKIAFUNCTIONROLE",
            "AWS_SECRET_ACCESS_KEY": "function-role-secret",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": self.s3_url(),
            "AWS_ENDPOINT_URL_SFN": self.sfn_url(),
            "AWS_ENDPOINT_URL_LAMBDA": self.fake.url(),
            "AWS_ENDPOINT_URL_CODEPIPELINE": self.fake.url(),
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": self.fake.url(),
        })
    }

    /// moto's log so far (the interpreter's tracebacks land here).
    pub fn moto_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `deploy/test/fleet.asl.json`, the default stack's definition: a test may set a
    /// number in it (a MaxConcurrency, an IntervalSeconds), and says so.
    pub fn fleet_definition() -> Value {
        let path = repo().join("deploy/test/fleet.asl.json");
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// One Step Functions API call; the answer, or the HTTP status and the error body
    /// (`{"__type": "…#ExecutionDoesNotExist", "message"}`).
    pub fn try_call(&self, op: &str, input: &Value) -> Result<Value, (u16, Value)> {
        let target = format!("AWSStepFunctions.{op}");
        let (status, _, body) = http(
            &self.moto_addr,
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-amz-json-1.0"),
                ("X-Amz-Target", &target),
                ("Authorization", STATES_AUTHORIZATION),
            ],
            input.to_string().as_bytes(),
        );
        let value = serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
        if status == 200 {
            Ok(value)
        } else {
            Err((status, value))
        }
    }

    /// One Step Functions API call that must succeed.
    pub fn call(&self, op: &str, input: &Value) -> Value {
        self.try_call(op, input).unwrap_or_else(|(status, body)| {
            panic!(
                "{op}: HTTP {status} {body}\nmoto's log:\n{}",
                tail(&self.moto_log())
            )
        })
    }

    /// Creates [`FLEET_STATE_MACHINE`] from `definition`; returns its ARN.
    pub fn create_state_machine(&self, definition: &str) -> String {
        let out = self.call(
            "CreateStateMachine",
            &json!({
                "name": FLEET_STATE_MACHINE,
                "definition": definition,
                "roleArn": "arn:aws:iam::123456789012:role/lambda-migrate-fleet",
                "type": "STANDARD",
            }),
        );
        out["stateMachineArn"].as_str().unwrap().to_owned()
    }

    /// Starts an execution named `name` with `input`; returns its ARN.
    pub fn start_execution(&self, state_machine: &str, name: &str, input: &Value) -> String {
        let out = self.call(
            "StartExecution",
            &json!({"stateMachineArn": state_machine, "name": name, "input": input.to_string()}),
        );
        out["executionArn"].as_str().unwrap().to_owned()
    }

    /// Waits until the execution is no longer RUNNING; returns its DescribeExecution
    /// answer (`status`, `output` or `error`/`cause`). Panics after `limit`, with the
    /// calls fake-aws saw and moto's log.
    pub fn wait(&self, execution: &str, limit: Duration) -> Value {
        let start = Instant::now();
        loop {
            let out = self.call("DescribeExecution", &json!({"executionArn": execution}));
            if out["status"] != "RUNNING" {
                return out;
            }
            assert!(
                start.elapsed() < limit,
                "{execution} still RUNNING after {limit:?}; calls: {:#}\nmoto's log:\n{}",
                Value::Array(self.fake.calls()),
                tail(&self.moto_log())
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The execution's history events, oldest first. A Distributed Map's child
    /// executions are not in it; an inline Map's iterations are.
    pub fn history(&self, execution: &str) -> Vec<Value> {
        let mut events = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut input = json!({"executionArn": execution, "maxResults": 1000});
            if let Some(t) = &token {
                input["nextToken"] = json!(t);
            }
            let out = self.call("GetExecutionHistory", &input);
            events.extend(out["events"].as_array().unwrap().iter().cloned());
            match out["nextToken"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return events,
            }
        }
    }

    /// Stores `body` at `bucket`/`key` (straight to moto).
    pub fn s3_put(&self, bucket: &str, key: &str, body: &[u8]) {
        self.s3("PUT", &format!("/{bucket}/{key}"), body, &[200], key);
    }

    /// The object at `bucket`/`key`, or None when there is none.
    pub fn s3_get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let (status, body) = self.s3("GET", &format!("/{bucket}/{key}"), b"", &[200, 404], key);
        (status == 200).then_some(body)
    }

    /// The keys under `prefix` in `bucket`, in S3's order (ListObjectsV2, one page).
    pub fn s3_list(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let path = format!(
            "/{bucket}?list-type=2&max-keys=1000&prefix={}",
            query(prefix)
        );
        let (_, body) = self.s3("GET", &path, b"", &[200], prefix);
        let xml = String::from_utf8(body).unwrap();
        assert!(
            !xml.contains("<IsTruncated>true</IsTruncated>"),
            "more than 1,000 keys under {prefix}"
        );
        xml.split("<Key>")
            .skip(1)
            .map(|s| unescape_xml(s.split("</Key>").next().unwrap()))
            .collect()
    }

    fn s3(&self, method: &str, path: &str, body: &[u8], ok: &[u16], what: &str) -> (u16, Vec<u8>) {
        let (status, _, out) = http(
            &self.moto_addr,
            method,
            path,
            &[("Authorization", S3_AUTHORIZATION)],
            body,
        );
        assert!(
            ok.contains(&status),
            "S3 {method} {what}: {status} {}",
            String::from_utf8_lossy(&out)
        );
        (status, out)
    }
}

impl Drop for StepFunctions {
    fn drop(&mut self) {
        let _ = self.moto.kill();
        let _ = self.moto.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The Python that has a suitable moto (`scripts/start-moto --python`, which installs it
/// the first time), asked once per test process.
fn moto_python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new(repo().join("scripts/start-moto"))
            .arg("--python")
            .stderr(Stdio::inherit())
            .output()
            .expect("scripts/start-moto --python");
        assert!(out.status.success(), "scripts/start-moto --python failed");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    })
}

/// The last 40 lines.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// `s` percent-encoded for a query string value.
fn query(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// XML text with its five predefined entities resolved (all S3 keys need).
fn unescape_xml(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}
