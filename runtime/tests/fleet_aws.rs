//! The fleet run on AWS, end to end, on 50 schemas of the test server: a CodePipeline job
//! → the trigger (fleet mode) → the state machine the stack synthesizes
//! (`deploy/test/fleet.asl.json`) executed by moto's Amazon States Language interpreter →
//! the real migrator per target → the summary step (the real trigger) → the job's result.
//! Only the control planes are stand-ins (`scripts/fake-aws`: CodePipeline and Lambda
//! Invoke, with their wire protocols); S3 and Step Functions are moto's.
#![cfg(feature = "lambda")]

use std::time::Duration;

use engine::fleet::{Outcome, TargetResult};
use serde_json::{Value, json};
use testkit::{ARTIFACT_BUCKET, MIGRATOR_FUNCTION, StepFunctions, TRIGGER_FUNCTION};
use testkit::{TestDb, sql, unique, zip_artifact};

const WAIT: Duration = Duration::from_secs(400);

const IDS: [&str; 3] = ["1_first.sql", "2_second.sql", "3_third.sql"];

/// Three migrations: the first records when it ran (canaries first, and how many times),
/// the third has two statements so that a conflict on its second leaves it part-way.
fn artifact() -> Vec<u8> {
    zip_artifact(&[
        (
            "migrations/1_first.sql",
            "-- +migrate Up\nCREATE TABLE m1 (at datetime(6) NOT NULL);\nINSERT INTO m1 VALUES (NOW(6));\n-- +migrate Down\nDROP TABLE m1;\n",
        ),
        (
            "migrations/2_second.sql",
            "-- +migrate Up\nCREATE TABLE m2 (id int PRIMARY KEY);\n-- +migrate Down\nDROP TABLE m2;\n",
        ),
        (
            "migrations/3_third.sql",
            "-- +migrate Up\nCREATE TABLE m3a (id int);\nCREATE TABLE m3b (id int);\n-- +migrate Down\nDROP TABLE m3b;\nDROP TABLE m3a;\n",
        ),
    ])
}

const N: usize = 50;
const BROKEN: usize = 3;
const CANARY: usize = 10;
/// Its first Invoke's answer is lost after the migrator ran: Step Functions retries it.
const RETRIED: usize = 20;

struct Fleet {
    sf: StepFunctions,
    dbs: Vec<TestDb>,
    logs: tempfile::TempDir,
    artifact: String,
}

/// The state machine `name`: the stack's definition with the failure budget `tolerate`
/// (the Map's and the summary's, as the stack writes both from one setting) and the
/// retry interval cut to a second.
fn machine(sf: &StepFunctions, name: &str, tolerate: f64) -> String {
    let mut d = StepFunctions::fleet_definition();
    d["States"]["Fleet"]["ToleratedFailurePercentage"] = json!(tolerate);
    d["States"]["Summary"]["Parameters"]["Payload"]["fleet_summary"]["tolerate"] = json!(tolerate);
    for (map, task) in [("Canary", "CanaryInvoke"), ("Fleet", "TargetInvoke")] {
        d["States"][map]["ItemProcessor"]["States"][task]["Retry"][0]["IntervalSeconds"] = json!(1);
    }
    sf.call(
        "CreateStateMachine",
        &json!({
            "name": name,
            "definition": d.to_string(),
            "roleArn": "arn:aws:iam::123456789012:role/lambda-migrate-fleet",
            "type": "STANDARD",
        }),
    )["stateMachineArn"]
        .as_str()
        .unwrap()
        .to_owned()
}

impl Fleet {
    fn new() -> Fleet {
        let sf = StepFunctions::start();
        let dbs: Vec<TestDb> = (0..N).map(|_| TestDb::tagged("fleetaws")).collect();
        let logs = tempfile::tempdir().unwrap();
        let aws = json!({
            "AWS_ACCESS_KEY_ID": "AKIAFUNCTIONROLE",
            "AWS_SECRET_ACCESS_KEY": "function-role-secret",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": sf.s3_url(),
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
        });
        let mut migrator = aws.clone();
        migrator["DATABASE_URL"] = json!(dbs[0].url());
        migrator["LOCK_TIMEOUT_SECS"] = json!("5");
        sf.fake.function(json!({
            "name": MIGRATOR_FUNCTION,
            "command": [env!("CARGO_BIN_EXE_migrator")],
            "timeout": 60,
            "env": migrator,
            "log": logs.path().join("migrator.log"),
        }));
        let f = Fleet {
            artifact: format!("pipeline/Source/{}.zip", unique("fleet")),
            sf,
            dbs,
            logs,
        };
        f.sf.s3_put(ARTIFACT_BUCKET, &f.artifact, &artifact());
        // The summary step's function, and one job trigger per state machine.
        f.trigger(TRIGGER_FUNCTION, None);
        f
    }

    /// Registers the trigger as `name`, starting `machine` for fleet jobs.
    fn trigger(&self, name: &str, machine: Option<&str>) {
        let mut env = json!({
            "AWS_ACCESS_KEY_ID": "AKIAFUNCTIONROLE",
            "AWS_SECRET_ACCESS_KEY": "function-role-secret",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": self.sf.s3_url(),
            "AWS_ENDPOINT_URL_SFN": self.sf.sfn_url(),
            "AWS_ENDPOINT_URL_LAMBDA": self.sf.fake.url(),
            "AWS_ENDPOINT_URL_CODEPIPELINE": self.sf.fake.url(),
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "FunctionName": MIGRATOR_FUNCTION,
            "TRIGGER_MARGIN_MS": "1000",
            "TRIGGER_POLL_MS": "300",
        });
        if let Some(m) = machine {
            env["FLEET_STATE_MACHINE_ARN"] = json!(m);
        }
        self.sf.fake.function(json!({
            "name": name,
            "command": [env!("CARGO_BIN_EXE_trigger")],
            "timeout": 60,
            "env": env,
            "retry_delay": 0.2,
            "log": self.logs.path().join(format!("{name}.log")),
        }));
    }

    /// The manifest text of every schema, `canary` in the canary group.
    fn manifest_text(&self, canary: usize) -> String {
        let mut text = String::new();
        for (i, db) in self.dbs.iter().enumerate() {
            let group = if i == canary {
                r#","group":"canary""#
            } else {
                ""
            };
            text.push_str(&format!(
                "{{\"name\":\"t{i}\",\"database\":\"{}\"{group}}}\n",
                db.name
            ));
        }
        text
    }

    /// Uploads a manifest of every schema, `canary` in the canary group; its key.
    fn manifest(&self, canary: usize) -> String {
        let key = format!("fleet/manifests/{}.jsonl", unique("tenants"));
        self.sf
            .s3_put(ARTIFACT_BUCKET, &key, self.manifest_text(canary).as_bytes());
        key
    }

    /// `lambda-migrate ARGS` with the AWS endpoints of the harness (an operator's laptop).
    fn cli(&self, args: &[&str]) -> std::process::Output {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_lambda-migrate"));
        c.args(args)
            .env_remove("DATABASE_URL")
            .env_remove("LAMBDA_MIGRATE_VIA_LAMBDA");
        for (k, v) in self.sf.aws_env().as_object().unwrap() {
            c.env(k, v.as_str().unwrap());
        }
        c.output().unwrap()
    }

    /// `fleet COMMAND --state-machine MACHINE --manifest MANIFEST --json` on the artifact:
    /// its JSON, once it succeeded.
    fn fleet_json(&self, command: &str, machine: &str, manifest: &str) -> Value {
        let source = self.s3_artifact();
        let out = self.cli(&[
            "fleet",
            command,
            "--state-machine",
            machine,
            "--manifest",
            manifest,
            "--source",
            &source,
            "--json",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn s3_artifact(&self) -> String {
        format!("s3://{ARTIFACT_BUCKET}/{}", self.artifact)
    }

    /// Runs a pipeline job on trigger `function` with `manifest`; the last job of its chain.
    fn job(&self, function: &str, manifest: &str) -> Value {
        let id = self.sf.fake.start_job(
            function,
            ARTIFACT_BUCKET,
            &self.artifact,
            json!({"user_parameters": json!({"fleet": {"manifest": manifest}}).to_string()}),
        );
        let chain = self.sf.fake.wait_job(&id, WAIT);
        let mut last = chain.last().unwrap().clone();
        last["first_id"] = json!(id);
        last
    }

    /// The run's per-target results (`results.jsonl`), as the summary wrote them.
    fn results(&self, job: &str) -> Vec<TargetResult> {
        let body = self
            .sf
            .s3_get(ARTIFACT_BUCKET, &format!("fleet/{job}/results.jsonl"))
            .unwrap_or_else(|| panic!("no results for {job}; {}", self.log("migrator")));
        engine::fleet::result::read_lines(&String::from_utf8(body).unwrap()).unwrap()
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.logs.path().join(format!("{name}.log"))).unwrap_or_default()
    }

    /// Invokes the migrator once, as an operator would with `--via-lambda`.
    fn invoke(&self, event: &Value) -> (u16, Value) {
        let (status, headers, body) = testkit::http(
            &self.sf.fake.addr,
            "POST",
            &format!("/2015-03-31/functions/{MIGRATOR_FUNCTION}/invocations"),
            &[("Content-Type", "application/json")],
            event.to_string().as_bytes(),
        );
        let error = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("x-amz-function-error"));
        let value: Value = serde_json::from_slice(&body).unwrap();
        (if error { 500 } else { status }, value)
    }
}

/// The schema's applied ids, none when it has no history table.
fn history(db: &TestDb) -> Vec<String> {
    let has = sql(
        None,
        &format!(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '{}' AND table_name = 'gorp_migrations'",
            db.name
        ),
    );
    if has == "1" { db.applied() } else { Vec::new() }
}

fn by<'r>(results: &'r [TargetResult], name: &str) -> &'r TargetResult {
    results.iter().find(|r| r.name == name).unwrap()
}

fn message(job: &Value) -> String {
    job["result"].to_string()
}

/// The whole story: a broken canary stops the run before the fleet under no budget; a
/// 5 % budget lets the other 49 finish and the job succeed listing the broken one; a
/// lost Invoke answer is retried and migrates nothing twice; `resolve` through the
/// migrator fixes the broken one and `fleet up --only failed --from` finishes it; `fleet
/// status` through the state machine agrees with each schema's own; every history is
/// right.
#[test]
fn fifty_schemas_through_the_state_machine() {
    let f = Fleet::new();
    let broken = &f.dbs[BROKEN];
    broken.q("CREATE TABLE m3b (id int)");
    let strict = machine(&f.sf, "lambda-migrate-fleet", 0.0);
    let lenient = machine(&f.sf, "lambda-migrate-fleet-5", 5.0);
    f.trigger("trigger-strict", Some(&strict));
    f.trigger("trigger-lenient", Some(&lenient));

    // 0. A manifest with a secret (none is allowed: no FLEET_SECRET_PREFIX) and an
    // unknown field fails the job naming both lines, before any execution starts.
    let bad = format!(
        "{{\"name\":\"t0\",\"database\":\"{}\"}}\n{{\"name\":\"x\",\"secret\":\"arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/root-AbCdEf\"}}\n{{\"name\":\"y\",\"database\":\"d\",\"host\":\"evil\"}}\n",
        f.dbs[0].name
    );
    let key = format!("fleet/manifests/{}.jsonl", unique("bad"));
    f.sf.s3_put(ARTIFACT_BUCKET, &key, bad.as_bytes());
    let job = f.job("trigger-strict", &key);
    assert_eq!(job["status"], "Failed", "{job:#}");
    let text = message(&job);
    assert!(
        text.contains("the manifest is refused (2 error(s))"),
        "{text}"
    );
    assert!(
        text.contains("line 2:") && text.contains("line 3:"),
        "{text}"
    );
    let executions =
        f.sf.call("ListExecutions", &json!({"stateMachineArn": strict}));
    assert_eq!(executions["executions"], json!([]), "{executions}");
    assert!(history(&f.dbs[0]).is_empty());

    // 1. The broken schema is the canary, no budget: the job fails naming it, and no
    // other target is touched.
    let job = f.job("trigger-strict", &f.manifest(BROKEN));
    assert_eq!(job["status"], "Failed", "{job:#}");
    let text = message(&job);
    assert!(
        text.contains("t3 (SqlError") || text.contains("t3: SqlError"),
        "{text}"
    );
    assert!(text.contains("a canary failed"), "{text}");
    let first_job = job["first_id"].as_str().unwrap().to_owned();
    let first = f.results(&first_job);
    assert_eq!(first.len(), N);
    assert_eq!(first[0].name, "t3", "the canary comes first");
    assert_eq!(by(&first, "t3").outcome, Outcome::Failed);
    assert_eq!(by(&first, "t3").applied, IDS[..2]);
    for r in &first[1..] {
        assert_eq!(r.outcome, Outcome::NotRun, "{r:?}");
    }
    for (i, db) in f.dbs.iter().enumerate().filter(|(i, _)| *i != BROKEN) {
        assert!(history(db).is_empty(), "t{i} was touched");
    }

    // 2. A 5 % budget, canary t10, and the first answer for t20 lost after its run.
    f.sf.fake.fault(json!({
        "function": MIGRATOR_FUNCTION,
        "match": format!("targets/t{RETRIED}/0.0.json"),
        "times": 1,
        "when": "after",
        "status": 500,
        "error_type": "ServiceException",
        "message": "the answer was lost",
    }));
    let job = f.job("trigger-lenient", &f.manifest(CANARY));
    assert_eq!(
        job["status"],
        "Succeeded",
        "{job:#}\n{}",
        f.log("trigger-lenient")
    );
    let summary = job["result"]["executionDetails"]["summary"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        summary.contains("Failed: t3 (PartialMigration)"),
        "{summary}"
    );
    assert!(summary.contains("(tolerated 5%): passed"), "{summary}");
    let vars = &job["result"]["outputVariables"];
    assert_eq!(vars["FleetFailed"], "1", "{job:#}");
    assert_eq!(vars["FleetApplied"], "49", "{job:#}");
    assert_eq!(vars["FleetFailedTargets"], "t3", "{job:#}");
    let id = job["first_id"].as_str().unwrap();
    assert_eq!(vars["FleetResultsKey"], format!("fleet/{id}/results.jsonl"));
    let second = f.results(id);
    assert_eq!(second[0].name, "t10", "the canary comes first");
    for r in &second {
        let want = if r.name == "t3" {
            Outcome::Failed
        } else {
            Outcome::Applied
        };
        assert_eq!(r.outcome, want, "{r:?}");
    }
    // The canary ran before any other target: its first migration's NOW(6) is earliest.
    let at = |i: usize| sql(None, &format!("SELECT MAX(at) FROM `{}`.m1", f.dbs[i].name));
    let canary_at = at(CANARY);
    for i in (0..N).filter(|i| *i != CANARY && *i != BROKEN) {
        assert!(canary_at < at(i), "t{i} ran before the canary");
    }
    // t20: invoked twice (the retry got a new key), migrated once.
    let keys =
        f.sf.s3_list(ARTIFACT_BUCKET, &format!("fleet/{id}/targets/t{RETRIED}/"));
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.iter().any(|k| k.ends_with("/0.1.json")), "{keys:?}");
    let t20 = &f.dbs[RETRIED];
    assert_eq!(t20.applied(), IDS);
    assert_eq!(
        sql(None, &format!("SELECT COUNT(*) FROM `{}`.m1", t20.name)),
        "1"
    );
    assert_eq!(by(&second, &format!("t{RETRIED}")).applied, IDS);

    // 3. Fixed as its journal requires, through the migrator: the conflicting and the
    // half-made tables dropped, migration 3 resolved as rolled back, on that target
    // (`resolve --via-lambda --manifest --target`).
    broken.q("DROP TABLE m3b; DROP TABLE m3a");
    let manifest = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(manifest.path(), f.manifest_text(CANARY)).unwrap();
    let manifest = manifest.path().to_str().unwrap().to_owned();
    let out = f.cli(&[
        "resolve",
        IDS[2],
        "--rolled-back",
        "--via-lambda",
        MIGRATOR_FUNCTION,
        "--manifest",
        &manifest,
        "--target",
        "t3",
        "--source",
        &f.s3_artifact(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent = f.sf.fake.calls_of("Invoke");
    let resolve = sent
        .iter()
        .rev()
        .find(|c| c["function"] == MIGRATOR_FUNCTION)
        .unwrap();
    assert_eq!(
        resolve["payload"]["target"],
        json!({"name": "t3", "database": broken.name}),
        "{resolve}"
    );
    // `fleet plan` through the state machine: only the resolved one has work left.
    let plan = f.fleet_json("plan", &strict, &manifest);
    for t in plan["targets"].as_array().unwrap() {
        if t["name"] == "t3" {
            assert_eq!(t["outcome"], "pending", "{t}");
            assert_eq!(t["pending"], json!([IDS[2]]), "{t}");
        } else {
            assert_eq!(t["outcome"], "up-to-date", "{t}");
            assert_eq!(t["pending"], json!([]), "{t}");
        }
    }
    assert_eq!(plan["summary"]["counts"]["pending"], 1, "{plan}");

    // 4. From a laptop: only the targets of that run that failed, through its state
    // machine (taken from the execution's ARN), on its artifact.
    let execution = vars["FleetExecution"].as_str().unwrap().to_owned();
    let out = f.cli(&[
        "fleet", "up", "--only", "failed", "--from", &execution, "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rerun: Value = serde_json::from_slice(&out.stdout).unwrap();
    let targets = rerun["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1, "{rerun}");
    assert_eq!(targets[0]["name"], "t3");
    assert_eq!(targets[0]["outcome"], "applied", "{rerun}");
    assert_eq!(targets[0]["applied"], json!([IDS[2]]), "{rerun}");
    assert_eq!(rerun["summary"]["passed"], true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(":execution:lambda-migrate-fleet-5:cli-"),
        "{stderr}"
    );

    // Running that first run's targets again from a manifest that lacks them is refused:
    // they would be skipped and the run reported as done.
    let one = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        one.path(),
        format!("{{\"name\":\"t0\",\"database\":\"{}\"}}\n", f.dbs[0].name),
    )
    .unwrap();
    let first_execution = format!(
        "{}:{first_job}",
        strict.replacen(":stateMachine:", ":execution:", 1)
    );
    let out = f.cli(&[
        "fleet",
        "up",
        "--only",
        "failed",
        "--from",
        &first_execution,
        "--manifest",
        one.path().to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the manifest names no target t3, t1"),
        "{stderr}"
    );

    // 5. `fleet status` through the state machine agrees with each schema's own status.
    let status = f.fleet_json("status", &strict, &manifest);
    let targets = status["targets"].as_array().unwrap();
    assert_eq!(targets.len(), N);
    for t in targets {
        let name = t["name"].as_str().unwrap();
        let i: usize = name[1..].parse().unwrap();
        let own = std::process::Command::new(env!("CARGO_BIN_EXE_lambda-migrate"))
            .args(["status", "--json", "--source", &f.s3_artifact()])
            .env("DATABASE_URL", f.dbs[i].url())
            .envs(
                f.sf.aws_env()
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())),
            )
            .output()
            .unwrap();
        let own: Value = serde_json::from_slice(&own.stdout).unwrap();
        assert_eq!(t["outcome"], "up-to-date", "{t}");
        assert_eq!(
            t["last"],
            own["migrations"].as_array().unwrap().last().unwrap()["id"],
            "{t} {own}"
        );
        assert_eq!(t["status"]["applied"], 3, "{t}");
        assert_eq!(t["status"]["partial"], Value::Null, "{t}");
    }

    // Every history is right, and migration 1 ran once everywhere.
    for (i, db) in f.dbs.iter().enumerate() {
        assert_eq!(db.applied(), IDS, "t{i}");
        assert_eq!(
            sql(None, &format!("SELECT COUNT(*) FROM `{}`.m1", db.name)),
            "1",
            "t{i}: migration 1 ran more than once"
        );
    }
}

/// A target naming a secret outside FLEET_SECRET_PREFIX is refused by the migrator
/// before anything is read, and its record says so.
#[test]
fn the_migrator_refuses_a_secret_outside_the_prefix() {
    let f = Fleet::new();
    let key = "fleet/cli-x/targets/evil/0.0.json";
    let (status, reply) = f.invoke(&json!({
        "BucketName": ARTIFACT_BUCKET,
        "ObjectKey": f.artifact,
        "command": "up",
        "target": {"name": "evil", "secret": "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/root-AbCdEf"},
        "result": {"bucket": ARTIFACT_BUCKET, "key": key},
    }));
    assert_eq!(status, 500, "{reply}");
    assert_eq!(reply["errorType"], "BadRequest", "{reply}");
    assert!(
        reply["errorMessage"]
            .as_str()
            .unwrap()
            .contains("FLEET_SECRET_PREFIX is not set"),
        "{reply}"
    );
    let record: Value =
        serde_json::from_slice(&f.sf.s3_get(ARTIFACT_BUCKET, key).unwrap()).unwrap();
    assert_eq!(record["finished"], true, "{record}");
    assert_eq!(record["result"]["outcome"], "failed", "{record}");
    assert_eq!(record["result"]["error_kind"], "BadRequest", "{record}");
    assert!(history(&f.dbs[0]).is_empty());
}

/// A `secret` target: the migrator connects with the host, port, user, password and
/// schema its secret holds (the function's own connection is a dead port here), once its
/// ARN is under FLEET_SECRET_PREFIX on both functions.
#[test]
fn a_secret_target_runs_on_the_connection_its_secret_holds() {
    let f = Fleet::new();
    let prefix = "arn:aws:secretsmanager:us-east-1:123456789012:secret:tenants/";
    let db = &f.dbs[7];
    let server = testkit::server();
    let created = f.sf.fake.post(
        "/_fake/secrets",
        &json!({"name": "tenants/acme", "value": {
            "engine": "mysql", "host": server.host, "port": server.port,
            "username": server.user, "password": server.password, "dbname": db.name,
        }}),
    );
    let arn = created["ARN"].as_str().unwrap().to_owned();
    assert!(arn.starts_with(prefix), "{arn}");
    // The migrator's own connection goes nowhere: only the secret can reach the schema.
    let mut env = f.sf.aws_env();
    env["DATABASE_URL"] = json!("mysql://lm:wrong@127.0.0.1:1/none");
    env["FLEET_SECRET_PREFIX"] = json!(prefix);
    env["LOCK_TIMEOUT_SECS"] = json!("5");
    f.sf.fake.function(json!({
        "name": MIGRATOR_FUNCTION,
        "command": [env!("CARGO_BIN_EXE_migrator")],
        "timeout": 60,
        "env": env,
        "log": f.logs.path().join("migrator-secret.log"),
    }));
    let machine = machine(&f.sf, "lambda-migrate-fleet", 0.0);
    let mut trigger_env = f.sf.aws_env();
    trigger_env["FLEET_STATE_MACHINE_ARN"] = json!(machine);
    trigger_env["FLEET_SECRET_PREFIX"] = json!(prefix);
    trigger_env["FunctionName"] = json!(MIGRATOR_FUNCTION);
    trigger_env["TRIGGER_POLL_MS"] = json!("300");
    trigger_env["TRIGGER_MARGIN_MS"] = json!("1000");
    f.sf.fake.function(json!({
        "name": "trigger-secret",
        "command": [env!("CARGO_BIN_EXE_trigger")],
        "timeout": 60,
        "env": trigger_env,
        "log": f.logs.path().join("trigger-secret.log"),
    }));
    let key = format!("fleet/manifests/{}.jsonl", unique("secret"));
    f.sf.s3_put(
        ARTIFACT_BUCKET,
        &key,
        format!("{{\"name\":\"acme\",\"secret\":\"{arn}\"}}\n").as_bytes(),
    );
    let job = f.job("trigger-secret", &key);
    assert_eq!(
        job["status"],
        "Succeeded",
        "{job:#}\n{}",
        f.log("migrator-secret")
    );
    assert_eq!(
        job["result"]["outputVariables"]["FleetApplied"], "1",
        "{job:#}"
    );
    assert_eq!(db.applied(), IDS);
}

/// A run longer than one trigger invocation: the trigger hands it over with a
/// continuation token, and the follow-up job reports the same run's summary.
#[test]
fn a_fleet_run_outlasting_the_trigger_is_followed_up_with_a_continuation_token() {
    let f = Fleet::new();
    let machine = machine(&f.sf, "lambda-migrate-fleet", 0.0);
    let mut env = f.sf.aws_env();
    env["FLEET_STATE_MACHINE_ARN"] = json!(machine);
    env["FunctionName"] = json!(MIGRATOR_FUNCTION);
    env["TRIGGER_POLL_MS"] = json!("300");
    env["TRIGGER_MARGIN_MS"] = json!("1500");
    f.sf.fake.function(json!({
        "name": "trigger-short",
        "command": [env!("CARGO_BIN_EXE_trigger")],
        "timeout": 4,
        "env": env,
        "log": f.logs.path().join("trigger-short.log"),
    }));
    let id = f.sf.fake.start_job(
        "trigger-short",
        ARTIFACT_BUCKET,
        &f.artifact,
        json!({"user_parameters": json!({"fleet": {"manifest": f.manifest(0)}}).to_string()}),
    );
    let chain = f.sf.fake.wait_job(&id, WAIT);
    assert!(chain.len() >= 2, "never continued: {chain:#?}");
    assert!(
        chain[..chain.len() - 1]
            .iter()
            .all(|j| j["status"] == "Continued")
    );
    let last = chain.last().unwrap();
    assert_eq!(
        last["status"],
        "Succeeded",
        "{last:#}\n{}",
        f.log("trigger-short")
    );
    let vars = &last["result"]["outputVariables"];
    assert_eq!(vars["FleetApplied"], json!(N.to_string()), "{last:#}");
    // One run, named after the first job: the follow-ups followed it.
    assert_eq!(vars["FleetResultsKey"], format!("fleet/{id}/results.jsonl"));
    let executions =
        f.sf.call("ListExecutions", &json!({"stateMachineArn": machine}));
    assert_eq!(
        executions["executions"].as_array().unwrap().len(),
        1,
        "{executions}"
    );
    for (i, db) in f.dbs.iter().enumerate() {
        assert_eq!(db.applied(), IDS, "t{i}");
    }
}

/// A retried start of the same run (a trigger invocation that Lambda retries) finds the
/// running execution and leaves its items alone: the Map may not have read them yet, and
/// the manifest may have changed since.
#[test]
fn a_retried_launch_follows_the_first_run_and_keeps_its_items() {
    use lambda_migrate::fleet_run;
    use lambda_migrate::wire::fleet::{Artifact, ExecutionInput, FleetTarget, Object, Results};
    let sf = StepFunctions::start();
    let machine = machine(&sf, "lambda-migrate-fleet", 0.0);
    let target = |name: &str| FleetTarget {
        name: name.into(),
        database: Some(format!("tenant_{name}")),
        secret: None,
    };
    let input = ExecutionInput {
        job: unique("job").replace('_', "-"),
        artifact: Artifact {
            bucket: ARTIFACT_BUCKET.into(),
            key: "none.zip".into(),
            digest: "0".repeat(64),
        },
        command: engine::command::CommandName::Status,
        canary: Vec::new(),
        items: Object {
            bucket: ARTIFACT_BUCKET.into(),
            key: "fleet/retried/items.json".into(),
        },
        results: Results {
            bucket: ARTIFACT_BUCKET.into(),
            prefix: "fleet/retried/".into(),
        },
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (first, second) = runtime.block_on(async {
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sfn::config::Credentials::new(
                "AKIAOPERATOR",
                "operator-secret",
                None,
                None,
                "test",
            ))
            .endpoint_url(sf.sfn_url())
            .load()
            .await;
        let sfn = aws_sdk_sfn::Client::new(&shared);
        let s3 = engine::fetch::s3_client(
            Some(engine::fetch::StaticCredentials {
                access_key_id: "AKIAOPERATOR".into(),
                secret_access_key: "operator-secret".into(),
                session_token: None,
            }),
            Some("us-east-1".into()),
            Some(sf.s3_url()),
        )
        .await;
        let first = fleet_run::launch(&s3, &sfn, &machine, &input, &[target("a")])
            .await
            .unwrap();
        let second = fleet_run::launch(&s3, &sfn, &machine, &input, &[target("b")])
            .await
            .unwrap();
        (first, second)
    });
    assert!(!first.existed && second.existed, "{first:?} {second:?}");
    assert_eq!(first.execution, second.execution);
    let items: Vec<FleetTarget> = serde_json::from_slice(
        &sf.s3_get(ARTIFACT_BUCKET, "fleet/retried/items.json")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(items, [target("a")]);
}
