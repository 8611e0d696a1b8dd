//! CloudWatch metrics as Embedded Metric Format lines on stdout: CloudWatch Logs turns
//! each line into metric data points, with no PutMetricData call (none is possible from
//! a VPC without NAT) and no agent.
//!
//! The lines are written directly, not through the tracing subscriber: they must appear
//! whatever the log level and in the text log format too. They hold only names and
//! numbers, never SQL or secrets.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "LambdaMigrate";

/// A metric's CloudWatch unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count.
    Count,
    /// A duration in milliseconds.
    Milliseconds,
    /// A size in bytes.
    Bytes,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Bytes => "Bytes",
        }
    }
}

/// One metric value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// The metric name.
    pub name: &'static str,
    /// Its unit.
    pub unit: Unit,
    /// Its value.
    pub value: u64,
}

impl Metric {
    /// A metric of `value` in `unit`.
    pub const fn new(name: &'static str, unit: Unit, value: u64) -> Metric {
        Metric { name, unit, value }
    }
}

/// The EMF document for `metrics` of `function` at `timestamp_ms` (ms since the epoch),
/// dimensioned by `FunctionName`.
pub fn document(function: &str, metrics: &[Metric], timestamp_ms: u64) -> Value {
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|m| json!({"Name": m.name, "Unit": m.unit.as_str()}))
        .collect();
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["FunctionName"]],
                "Metrics": definitions,
            }],
        }),
    );
    doc.insert("FunctionName".into(), function.into());
    for m in metrics {
        doc.insert(m.name.into(), m.value.into());
    }
    Value::Object(doc)
}

/// Prints `metrics` as one EMF line on stdout, dimensioned by this function's name
/// (`AWS_LAMBDA_FUNCTION_NAME`). A write error is ignored: metrics never fail a run.
pub fn emit(metrics: &[Metric]) {
    let function =
        crate::settings::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "unknown".into());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let line = document(&function, metrics, now).to_string();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_has_the_emf_shape() {
        let doc = document(
            "prod-migrator",
            &[
                Metric::new("MigrationsApplied", Unit::Count, 3),
                Metric::new("RunDuration", Unit::Milliseconds, 1250),
                Metric::new("BytesFetched", Unit::Bytes, 4096),
            ],
            1_700_000_000_123,
        );
        assert_eq!(
            doc,
            json!({
                "_aws": {
                    "Timestamp": 1_700_000_000_123u64,
                    "CloudWatchMetrics": [{
                        "Namespace": "LambdaMigrate",
                        "Dimensions": [["FunctionName"]],
                        "Metrics": [
                            {"Name": "MigrationsApplied", "Unit": "Count"},
                            {"Name": "RunDuration", "Unit": "Milliseconds"},
                            {"Name": "BytesFetched", "Unit": "Bytes"},
                        ],
                    }],
                },
                "FunctionName": "prod-migrator",
                "MigrationsApplied": 3,
                "RunDuration": 1250,
                "BytesFetched": 4096,
            })
        );
        // One line: CloudWatch reads one JSON object per log line.
        assert!(!doc.to_string().contains('\n'));
    }
}
