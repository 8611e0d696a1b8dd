//! The fleet's state machine as the stack deploys it (`deploy/test/fleet.asl.json`),
//! executed by moto's Step Functions interpreter, with its Lambda invokes run by
//! `scripts/fake-aws` and its S3 calls served by moto (testkit's `StepFunctions`).
//!
//! The functions here are stubs speaking the Lambda Runtime API (Python, written by the
//! test): what is under test is the definition and the harness, i.e. the contract of
//! DESIGN.md "Fleet on Step Functions" as the interpreter carries it out: the events the
//! migrator gets, the order of canaries and fleet, follow-ups, which errors are retried
//! and under which key, and how the summary's `passed` ends the execution.
#![cfg(feature = "lambda")]

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use testkit::{ARTIFACT_BUCKET, MIGRATOR_FUNCTION, StepFunctions, TRIGGER_FUNCTION};

const WAIT: Duration = Duration::from_secs(60);

/// A stand-in for the migrator (`STUB_ROLE=migrator`) or the trigger's summary step
/// (`summary`). Every invocation appends one JSON line to `STUB_LOG`: the event, when it
/// ran, and what it answered.
///
/// `STUB_PLAN`: `sleep` (seconds per invocation), `stops` (target name -> how many
/// invocations stop at the "deadline": `stopped` is true while the key's follow-up count
/// is below it), `fail` (target name -> the errorType it fails with). Like the real
/// migrator, the stub writes its record to the result key before answering, failed or not.
/// The summary reads those records back (ListObjectsV2 and GetObject through fake-aws)
/// and passes when nothing was aborted and no record failed.
const STUB: &str = r#"#!/usr/bin/env python3
import json, os, time, urllib.parse, urllib.request
import xml.etree.ElementTree as ET

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
ROLE = os.environ["STUB_ROLE"]
LOG = os.environ["STUB_LOG"]
PLAN = json.loads(os.environ.get("STUB_PLAN") or "{}")
S3 = os.environ["AWS_ENDPOINT_URL_S3"]


def s3(method, path, body=None):
    # moto refuses an anonymous GetObject (the signature it does not check), and stores
    # an empty object for a PUT with urllib's default form Content-Type.
    headers = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIASTUB/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0",
        "Content-Type": "application/json",
    }
    req = urllib.request.Request(S3 + path, data=body, method=method, headers=headers)
    with urllib.request.urlopen(req) as r:
        return r.read()


def migrator(event):
    name = event["target"]["name"]
    key = event["result"]["key"]
    follow_up, attempt = (int(x) for x in key.rsplit("/", 1)[1].split(".")[:2])
    time.sleep(PLAN.get("sleep", 0))
    stopped = follow_up < PLAN.get("stops", {}).get(name, 0)
    error = PLAN.get("fail", {}).get(name)
    record = {"name": name, "follow_up": follow_up, "attempt": attempt, "finished": True,
              "stopped": stopped, "error": error}
    s3("PUT", "/" + event["result"]["bucket"] + "/" + key, json.dumps(record).encode())
    if error:
        return {"errorType": error, "errorMessage": f"stub {error} on {name}"}, None
    return None, {"stopped": stopped}


def summary(event):
    s = event["fleet_summary"]
    bucket, prefix = s["results"]["bucket"], s["results"]["prefix"] + "targets/"
    xml = s3("GET", f"/{bucket}?list-type=2&prefix=" + urllib.parse.quote(prefix, safe=""))
    keys = [e.text for e in ET.fromstring(xml).iter() if e.tag.endswith("}Key")]
    records = [json.loads(s3("GET", f"/{bucket}/{k}")) for k in keys]
    failed = sorted({r["name"] for r in records if r["error"]})
    return None, {"passed": not s["aborted"] and not failed, "records": len(records), "failed": failed}


while True:
    with urllib.request.urlopen(API + "next") as r:
        request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
    t0 = time.time()
    error, reply = (migrator if ROLE == "migrator" else summary)(event)
    line = {"role": ROLE, "t0": t0, "t1": time.time(), "event": event, "error": error, "reply": reply}
    fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, (json.dumps(line) + "\n").encode())
    os.close(fd)
    path, body = (request_id + "/error", error) if error else (request_id + "/response", reply)
    req = urllib.request.Request(API + path, data=json.dumps(body).encode(), method="POST")
    urllib.request.urlopen(req).read()
"#;

/// One fleet run's set-up: the harness, the two stub functions, the job's names.
struct Fleet {
    sf: StepFunctions,
    dir: tempfile::TempDir,
    job: String,
}

impl Fleet {
    fn new(plan: Value) -> Fleet {
        let sf = StepFunctions::start();
        let dir = tempfile::tempdir().unwrap();
        let stub = dir.path().join("bootstrap");
        std::fs::write(&stub, STUB).unwrap();
        for (role, name) in [
            ("migrator", MIGRATOR_FUNCTION),
            ("summary", TRIGGER_FUNCTION),
        ] {
            let mut env = sf.aws_env();
            env["STUB_ROLE"] = json!(role);
            env["STUB_LOG"] = json!(dir.path().join("invocations.jsonl"));
            env["STUB_PLAN"] = json!(plan.to_string());
            sf.fake.function(json!({
                "name": name,
                "command": ["python3", stub],
                "timeout": 30,
                "env": env,
                "log": dir.path().join(format!("{role}.log")),
            }));
        }
        Fleet {
            sf,
            dir,
            job: "0a1b2c3d-1111-2222-3333-444455556666".into(),
        }
    }

    fn prefix(&self) -> String {
        format!("fleet/{}/", self.job)
    }

    /// Runs `definition` on these canaries and items, as the trigger would start it;
    /// returns DescribeExecution's answer.
    fn run(&self, definition: &Value, canary: &[&str], items: &[&str]) -> Value {
        let target = |name: &&str| json!({"name": name, "database": format!("tenant_{name}")});
        let items_key = format!("{}items.json", self.prefix());
        let items: Vec<Value> = items.iter().map(target).collect();
        self.sf.s3_put(
            ARTIFACT_BUCKET,
            &items_key,
            Value::Array(items).to_string().as_bytes(),
        );
        let machine = self.sf.create_state_machine(&definition.to_string());
        let input = json!({
            "job": self.job,
            "artifact": {"bucket": ARTIFACT_BUCKET, "key": "LambdaMigrate-Pipe/Source/abc123.zip", "digest": "digest-the-trigger-validated"},
            "command": "up",
            "canary": canary.iter().map(target).collect::<Vec<_>>(),
            "items": {"bucket": ARTIFACT_BUCKET, "key": items_key},
            "results": {"bucket": ARTIFACT_BUCKET, "prefix": self.prefix()},
        });
        let execution = self.sf.start_execution(&machine, &self.job, &input);
        let out = self.sf.wait(&execution, WAIT);
        assert_eq!(out["executionArn"], execution.as_str());
        out
    }

    /// Every stub invocation, in the order they answered.
    fn invocations(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("invocations.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn migrator_calls(&self) -> Vec<Value> {
        self.invocations()
            .into_iter()
            .filter(|i| i["role"] == "migrator")
            .collect()
    }

    fn summary_calls(&self) -> Vec<Value> {
        self.invocations()
            .into_iter()
            .filter(|i| i["role"] == "summary")
            .collect()
    }

    /// The result keys each target was invoked with, `<follow-up>.<retry>`, in order.
    fn keys_by_target(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut calls = self.migrator_calls();
        calls.sort_by(|a, b| a["t0"].as_f64().partial_cmp(&b["t0"].as_f64()).unwrap());
        for c in calls {
            let key = c["event"]["result"]["key"].as_str().unwrap();
            let name = c["event"]["target"]["name"].as_str().unwrap().to_owned();
            let expected_prefix = format!("{}targets/{name}/", self.prefix());
            let tail = key
                .strip_prefix(&expected_prefix)
                .unwrap_or_else(|| panic!("{key} is not under {expected_prefix}"));
            out.entry(name)
                .or_default()
                .push(tail.trim_end_matches(".json").to_owned());
        }
        out
    }

    /// The records the stub migrator wrote, by key below `<prefix>targets/`.
    fn records(&self) -> Vec<String> {
        let under = format!("{}targets/", self.prefix());
        self.sf
            .s3_list(ARTIFACT_BUCKET, &under)
            .into_iter()
            .map(|k| k.strip_prefix(&under).unwrap().to_owned())
            .collect()
    }

    /// The TaskFailed errors of the execution's own history (the canaries': an inline
    /// Map's iterations are in it, a Distributed Map's children are not).
    fn task_failures(&self) -> Vec<String> {
        let execution = format!(
            "arn:aws:states:us-east-1:123456789012:execution:{}:{}",
            testkit::FLEET_STATE_MACHINE,
            self.job
        );
        self.sf
            .history(&execution)
            .iter()
            .filter(|e| e["type"] == "TaskFailed")
            .map(|e| {
                e["taskFailedEventDetails"]["error"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }
}

fn name_of(call: &Value) -> &str {
    call["event"]["target"]["name"].as_str().unwrap()
}

fn t(call: &Value, which: &str) -> f64 {
    call[which].as_f64().unwrap()
}

#[test]
fn canaries_run_one_at_a_time_then_every_item_with_follow_ups_and_retried_service_errors() {
    let fleet = Fleet::new(json!({"sleep": 0.2, "stops": {"can-2": 1, "item-b": 2}}));
    let result_key = |key: &str| format!("targets/{key}.json");
    // A throttle (the call never ran) and a lost answer (it ran) on a canary each, whose
    // errors the parent's history shows, and the same two on fleet items.
    for target in ["can-1", "item-c"] {
        fleet.sf.fake.fault(json!({
            "function": MIGRATOR_FUNCTION, "match": result_key(&format!("{target}/0.0")), "times": 1,
            "when": "before", "status": 429, "error_type": "TooManyRequestsException", "message": "Rate Exceeded.",
        }));
    }
    for target in ["can-2", "item-d"] {
        fleet.sf.fake.fault(json!({
            "function": MIGRATOR_FUNCTION, "match": result_key(&format!("{target}/0.0")), "times": 1,
            "when": "after", "status": 500, "error_type": "ServiceException", "message": "the answer was lost",
        }));
    }
    let canary = ["can-1", "can-2"];
    let items = [
        "item-a", "item-b", "item-c", "item-d", "item-e", "item-f", "item-g", "item-h",
    ];
    let out = fleet.run(&StepFunctions::fleet_definition(), &canary, &items);
    assert_eq!(out["status"], "SUCCEEDED", "{out:#}");
    let output: Value = serde_json::from_str(out["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["aborted"], json!({}), "{output:#}");
    assert_eq!(output["summary"], json!({"passed": true}), "{output:#}");

    // Every invocation carries the contract's event.
    let calls = fleet.migrator_calls();
    for c in &calls {
        let e = &c["event"];
        let name = name_of(c);
        let mut fields: Vec<&str> = e.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "BucketName",
                "ObjectKey",
                "command",
                "expected_digest",
                "result",
                "target"
            ],
            "{e}"
        );
        assert_eq!(e["BucketName"], ARTIFACT_BUCKET);
        assert_eq!(e["ObjectKey"], "LambdaMigrate-Pipe/Source/abc123.zip");
        assert_eq!(e["expected_digest"], "digest-the-trigger-validated");
        assert_eq!(e["command"], "up");
        assert_eq!(
            e["target"],
            json!({"name": name, "database": format!("tenant_{name}")})
        );
        assert_eq!(e["result"]["bucket"], ARTIFACT_BUCKET);
    }

    // Follow-ups count up in the key, retries in its second number; each target ran
    // until its stub said it was not stopped. A throttled call never ran, so its first
    // record is the retry's; a lost answer's work happened, so both records exist.
    let keys = fleet.keys_by_target();
    let expected: BTreeMap<String, Vec<String>> = [
        ("can-1", vec!["0.1"]),
        ("can-2", vec!["0.0", "0.1", "1.0"]),
        ("item-a", vec!["0.0"]),
        ("item-b", vec!["0.0", "1.0", "2.0"]),
        ("item-c", vec!["0.1"]),
        ("item-d", vec!["0.0", "0.1"]),
        ("item-e", vec!["0.0"]),
        ("item-f", vec!["0.0"]),
        ("item-g", vec!["0.0"]),
        ("item-h", vec!["0.0"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(keys, expected);
    let mut records = fleet.records();
    records.sort();
    let mut written: Vec<String> = expected
        .iter()
        .flat_map(|(name, keys)| keys.iter().map(move |k| format!("{name}/{k}.json")))
        .collect();
    written.sort();
    assert_eq!(records, written);

    // The interpreter's names for the two faults, as the Retry rules list them.
    assert_eq!(
        fleet.task_failures(),
        ["Lambda.TooManyRequestsException", "Lambda.ServiceException"]
    );
    let faulted: Vec<Value> = fleet
        .sf
        .fake
        .calls_of("Invoke")
        .into_iter()
        .filter(|c| c.get("fault").is_some())
        .collect();
    assert_eq!(faulted.len(), 4, "{faulted:#?}");
    for c in &faulted {
        let ran = c.get("request_id").is_some();
        assert_eq!(ran, c["fault"]["when"] == "after", "{c:#}");
    }

    // Canaries first, one at a time and in order; the fleet after the last canary.
    let (canaries, fleet_calls): (Vec<&Value>, Vec<&Value>) =
        calls.iter().partition(|c| name_of(c).starts_with("can-"));
    let mut canaries = canaries;
    canaries.sort_by(|a, b| t(a, "t0").partial_cmp(&t(b, "t0")).unwrap());
    for pair in canaries.windows(2) {
        assert!(t(pair[0], "t1") <= t(pair[1], "t0"), "overlap: {pair:#?}");
    }
    let order: Vec<&str> = canaries.iter().map(|c| name_of(c)).collect();
    assert_eq!(order, ["can-1", "can-2", "can-2", "can-2"]);
    let last_canary = canaries.iter().map(|c| t(c, "t1")).fold(0.0, f64::max);
    assert!(fleet_calls.iter().all(|c| t(c, "t0") >= last_canary));

    // The items were read from S3 through fake-aws's relay, and ResultWriter wrote its
    // manifest under the constant prefix.
    let reads: Vec<Value> = fleet
        .sf
        .fake
        .calls()
        .into_iter()
        .filter(|c| c["service"] == "upstream" && c["method"] == "GET")
        .collect();
    assert!(
        reads.iter().any(|c| c["path"]
            == format!("/{ARTIFACT_BUCKET}/{}items.json", fleet.prefix())
            && c["status"] == 200),
        "{reads:#?}"
    );
    assert!(
        fleet
            .sf
            .s3_list(ARTIFACT_BUCKET, "fleet/map/")
            .iter()
            .any(|k| k.ends_with("/manifest.json"))
    );

    // The summary ran once, after everything, with the run's fields and `aborted: {}`,
    // and found every record.
    let summary = fleet.summary_calls();
    assert_eq!(summary.len(), 1, "{summary:#?}");
    let s = &summary[0]["event"]["fleet_summary"];
    assert_eq!(s["job"], fleet.job.as_str());
    assert_eq!(
        s["execution"],
        format!(
            "arn:aws:states:us-east-1:123456789012:execution:lambda-migrate-fleet:{}",
            fleet.job
        )
    );
    assert_eq!(s["command"], "up");
    assert_eq!(s["canary"].as_array().unwrap().len(), 2);
    assert_eq!(
        s["items"],
        json!({"bucket": ARTIFACT_BUCKET, "key": format!("{}items.json", fleet.prefix())})
    );
    assert_eq!(
        s["results"],
        json!({"bucket": ARTIFACT_BUCKET, "prefix": fleet.prefix()})
    );
    assert_eq!(s["aborted"], json!({}));
    assert_eq!(s["tolerate"], json!(0.0));
    assert_eq!(summary[0]["reply"]["records"], written.len());
    assert!(t(&summary[0], "t0") >= calls.iter().map(|c| t(c, "t1")).fold(0.0, f64::max));
}

#[test]
fn a_failing_canary_sends_the_run_to_the_summary_and_the_fleet_never_starts() {
    let fleet = Fleet::new(json!({"fail": {"can-1": "SqlError"}}));
    let out = fleet.run(
        &StepFunctions::fleet_definition(),
        &["can-1", "can-2"],
        &["item-a", "item-b", "item-c"],
    );
    assert_eq!(out["status"], "FAILED", "{out:#}");
    assert_eq!(out["error"], "FleetFailed", "{out:#}");

    // The function error is the state's error and is not retried; nothing else ran.
    let keys = fleet.keys_by_target();
    assert_eq!(
        keys,
        BTreeMap::from([("can-1".to_owned(), vec!["0.0".to_owned()])])
    );
    assert_eq!(fleet.task_failures(), ["SqlError"]);

    let summary = fleet.summary_calls();
    assert_eq!(summary.len(), 1, "{summary:#?}");
    let aborted = &summary[0]["event"]["fleet_summary"]["aborted"];
    assert_eq!(
        aborted.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["canary"],
        "{aborted}"
    );
    assert_eq!(aborted["canary"]["Error"], "SqlError", "{aborted}");
    let cause: Value = serde_json::from_str(aborted["canary"]["Cause"].as_str().unwrap()).unwrap();
    assert_eq!(cause["errorType"], "SqlError");
    assert_eq!(cause["errorMessage"], "stub SqlError on can-1");
    assert_eq!(summary[0]["reply"]["passed"], false);
}

#[test]
fn a_failed_item_leaves_the_fleet_running_in_moto_and_the_summary_decides() {
    let fleet = Fleet::new(json!({"sleep": 0.3, "fail": {"item-c": "SqlError"}}));
    // A number the test sets: two items at a time.
    let mut definition = StepFunctions::fleet_definition();
    definition["States"]["Fleet"]["MaxConcurrency"] = json!(2);
    let items = ["item-a", "item-b", "item-c", "item-d", "item-e", "item-f"];
    let out = fleet.run(&definition, &[], &items);
    assert_eq!(out["status"], "FAILED", "{out:#}");
    assert_eq!(out["error"], "FleetFailed", "{out:#}");

    // No canary; every item ran once (the SqlError is not retried), never more than two
    // at once.
    let keys = fleet.keys_by_target();
    let names: Vec<&str> = keys.keys().map(String::as_str).collect();
    assert_eq!(names, items);
    assert!(keys.values().all(|k| k == &["0.0"]), "{keys:?}");
    let calls = fleet.migrator_calls();
    for c in &calls {
        let at = t(c, "t0") + 0.05;
        let running = calls
            .iter()
            .filter(|o| t(o, "t0") <= at && at < t(o, "t1"))
            .count();
        assert!(running <= 2, "{running} items running at {at}: {calls:#?}");
    }

    // moto does not enforce ToleratedFailurePercentage (AWS would stop the Map at 0 %):
    // the Map completes, `aborted` stays empty, and the summary's own verdict from the
    // records fails the execution.
    let summary = fleet.summary_calls();
    assert_eq!(summary.len(), 1, "{summary:#?}");
    assert_eq!(summary[0]["event"]["fleet_summary"]["aborted"], json!({}));
    assert_eq!(summary[0]["event"]["fleet_summary"]["canary"], json!([]));
    assert_eq!(
        summary[0]["reply"],
        json!({"passed": false, "records": 6, "failed": ["item-c"]})
    );
}
