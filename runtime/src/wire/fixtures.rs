//! Migrator replies for unit tests, made from the JSON the migrator sends.

use serde_json::{Value, json};

use super::MigratorReply;

/// A reply of `command` with `report` (its JSON), listing `pending`.
pub fn reply(command: &str, report: Value, applied: &[&str], pending: &[&str]) -> MigratorReply {
    let applied: Vec<Value> = applied
        .iter()
        .map(|id| json!({"id": id, "sha256": "00", "statements": 1, "duration_ms": 1}))
        .collect();
    serde_json::from_value(json!({
        "command": command,
        "source": "s3://b/k",
        "digest": "d",
        "migrations": 8,
        "applied": applied,
        "pending": pending,
        "total_ms": 1,
        "report": report,
    }))
    .expect("a test reply reads")
}

/// The report of a run of `command` whose steps are `steps` (each one applied, or
/// planned when `dry`), stopped at its deadline with `stopped` not started when given.
pub fn run(command: &str, steps: &[&str], dry: bool, stopped: Option<&[&str]>) -> Value {
    let state = if dry { "planned" } else { "applied" };
    let steps: Vec<Value> = steps
        .iter()
        .map(|id| {
            json!({
                "id": id, "sha256": "00", "direction": "up", "action": "run",
                "statements": 1, "statements_total": 1, "resumed_from": 0,
                "catch_up": false, "duration_ms": 1, "state": state,
            })
        })
        .collect();
    let mut report = json!({
        "command": command, "dry_run": dry, "ok": true, "migrations": steps,
        "adopted": [], "drift": [], "unknown": [],
    });
    if let Some(pending) = stopped {
        report["stopped"] = json!({ "pending": pending });
    }
    report
}

/// The reply of an `up` that applied `done`, and stopped at its deadline with `left`
/// not started unless `left` is empty.
pub fn up(done: &[&str], left: &[&str]) -> MigratorReply {
    let stopped = (!left.is_empty()).then_some(left);
    reply("up", run("up", done, false, stopped), done, left)
}
