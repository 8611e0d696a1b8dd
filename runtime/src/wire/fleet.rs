//! The fleet run's wire: the target a migrator invocation runs on and where its record
//! goes (both set by the state machine), the small answer the state machine reads, the
//! execution's input, the summary step's event and the summary it writes. The contract
//! is DESIGN.md's "Fleet on Step Functions".

use engine::command::CommandName;
use engine::fleet::manifest::{self, SecretPrefix};
use engine::fleet::{Place, Summary, record};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A fleet target as the state machine passes it: a schema on the migrator's own
/// connection (`database`), or a connection held in a Secrets Manager secret (`secret`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetTarget {
    /// The target's name in the manifest.
    pub name: String,
    /// A schema on the migrator's connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// The ARN of a secret holding host, port, username, password and dbname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl FleetTarget {
    /// The event's target for a manifest's target.
    pub fn of(target: &engine::fleet::Target) -> FleetTarget {
        let (database, secret) = match &target.place {
            Place::Database(d) => (Some(d.clone()), None),
            Place::Secret(s) => (None, Some(s.clone())),
        };
        FleetTarget {
            name: target.name.clone(),
            database,
            secret,
        }
    }

    /// Where the target is, checked as the manifest checks it: a valid name, exactly one
    /// place, a valid schema name or a secret ARN under `prefix` (none: no secret is
    /// allowed). The event is untrusted, whatever the trigger checked before.
    pub fn place(&self, prefix: Option<&SecretPrefix>) -> Result<Place, String> {
        if !manifest::valid_name(&self.name) {
            return Err(format!(
                "target: the name {:?} is not 1 to {} of A-Z a-z 0-9 _ . -",
                crate::text::truncate(&self.name, 80),
                manifest::MAX_NAME
            ));
        }
        let name = &self.name;
        match (&self.database, &self.secret) {
            (Some(d), None) if manifest::valid_database(d) => Ok(Place::Database(d.clone())),
            (Some(_), None) => Err(format!("target {name}: \"database\" is not a schema name")),
            (None, Some(s)) => {
                let Some(prefix) = prefix else {
                    return Err(format!(
                        "target {name}: secret targets are refused: FLEET_SECRET_PREFIX is not set on the migrator"
                    ));
                };
                if !manifest::valid_secret(s) || !s.starts_with(prefix.as_str()) {
                    return Err(format!(
                        "target {name}: the secret is not a Secrets Manager ARN under FLEET_SECRET_PREFIX ({})",
                        prefix.as_str()
                    ));
                }
                Ok(Place::Secret(s.clone()))
            }
            _ => Err(format!(
                "target {name}: give exactly one of \"database\" and \"secret\""
            )),
        }
    }
}

/// Where an invocation's record goes: the run's bucket, and a key the state machine
/// built as `<prefix>targets/<name>/<follow-up>.<retry>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordPlace {
    /// The artifact bucket.
    pub bucket: String,
    /// The record's key.
    pub key: String,
}

impl RecordPlace {
    /// The follow-up and attempt the key says, if it is a record key of target `name`.
    pub fn invocation(&self, name: &str) -> Option<(u32, u32)> {
        let tail = format!("{}{name}/", record::TARGETS);
        let at = self.key.rfind(&tail)?;
        let (prefix, _) = self.key.split_at(at);
        match record::parse_key(prefix, &self.key) {
            Some((n, follow_up, attempt)) if n == name => Some((follow_up, attempt)),
            _ => None,
        }
    }
}

/// What the migrator answers a fleet invocation with: only what the state machine reads
/// (`stopped`) and what its history should show; the whole result is in the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetReply {
    /// The target's name.
    pub target: String,
    /// An `up` stopped at its deadline with migrations not started: invoke again.
    pub stopped: bool,
    /// The outcome (`applied`, `up-to-date`, `pending`).
    pub outcome: engine::fleet::Outcome,
    /// The record's key.
    pub record: String,
}

/// An S3 object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    /// Its bucket.
    pub bucket: String,
    /// Its key.
    pub key: String,
}

/// The validated artifact the targets run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// Its bucket.
    pub bucket: String,
    /// Its key.
    pub key: String,
    /// The set digest the trigger validated.
    pub digest: String,
}

/// Where a run's records and results go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Results {
    /// The artifact bucket.
    pub bucket: String,
    /// `<FLEET_RESULTS_PREFIX><job>/`.
    pub prefix: String,
}

/// The execution's input (the contract's first table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionInput {
    /// The run's id: the execution's name.
    pub job: String,
    /// The artifact.
    pub artifact: Artifact,
    /// `up`, `plan` or `status`.
    pub command: CommandName,
    /// The canaries, in order.
    pub canary: Vec<FleetTarget>,
    /// The JSON array of the other targets.
    pub items: Object,
    /// Where the records and results go.
    pub results: Results,
}

/// The summary step's event: `{"fleet_summary": …}`.
#[derive(Debug, Clone, Deserialize)]
pub struct SummaryEvent {
    /// The run's id.
    pub job: String,
    /// The execution's ARN.
    pub execution: String,
    /// The command the targets ran.
    pub command: CommandName,
    /// The canaries.
    pub canary: Vec<FleetTarget>,
    /// The other targets' items file.
    pub items: Object,
    /// Where the records are and the results go.
    pub results: Results,
    /// `{}`, or which map failed: `{"canary": {"Error", "Cause"}}` / `{"fleet": …}`.
    pub aborted: Value,
    /// The failure budget, in percent.
    pub tolerate: f64,
}

/// What the summary writes as `summary.json`, and answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    /// Whether the run passed: the state machine reads only this.
    pub passed: bool,
    /// The run's id.
    pub job: String,
    /// The execution's ARN.
    pub execution: String,
    /// The command.
    pub command: CommandName,
    /// The verdict's numbers.
    pub summary: Summary,
    /// The verdict in one line.
    pub line: String,
    /// The failed targets (at most 100): name, kind and the message's first 300 characters.
    pub failed: Vec<Failed>,
    /// The per-target results' key.
    pub results_key: String,
}

/// A failed target, as the summary lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failed {
    /// Its name.
    pub name: String,
    /// Its failure's kind, when it has one.
    pub error_kind: Option<String>,
    /// Its message, cut.
    pub message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(json: &str) -> FleetTarget {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_target_is_checked_as_untrusted_input() {
        let prefix =
            SecretPrefix::parse("arn:aws:secretsmanager:eu-west-1:123456789012:secret:tenants/")
                .unwrap();
        let db = target(r#"{"name":"acme","database":"tenant_acme"}"#);
        assert_eq!(
            db.place(None).unwrap(),
            Place::Database("tenant_acme".into())
        );
        let ok = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:tenants/acme-AbCdEf";
        let s = target(&format!(r#"{{"name":"acme","secret":"{ok}"}}"#));
        assert_eq!(s.place(Some(&prefix)).unwrap(), Place::Secret(ok.into()));
        assert!(
            s.place(None)
                .unwrap_err()
                .contains("FLEET_SECRET_PREFIX is not set")
        );
        let outside = target(
            r#"{"name":"acme","secret":"arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/root-AbCdEf"}"#,
        );
        assert!(
            outside
                .place(Some(&prefix))
                .unwrap_err()
                .contains("not a Secrets Manager ARN under")
        );
        for bad in [
            r#"{"name":"acme"}"#,
            r#"{"name":"acme","database":"a","secret":"b"}"#,
            r#"{"name":"a b","database":"x"}"#,
            r#"{"name":"acme","database":"x`; DROP"}"#,
        ] {
            assert!(target(bad).place(Some(&prefix)).is_err(), "{bad}");
        }
        assert!(
            serde_json::from_str::<FleetTarget>(r#"{"name":"a","database":"x","host":"evil"}"#)
                .is_err()
        );
    }

    #[test]
    fn the_record_key_says_the_invocation() {
        let p = RecordPlace {
            bucket: "b".into(),
            key: "fleet/job-1/targets/acme/3.1.json".into(),
        };
        assert_eq!(p.invocation("acme"), Some((3, 1)));
        assert_eq!(p.invocation("other"), None);
        let odd = RecordPlace {
            bucket: "b".into(),
            key: "fleet/job-1/targets/acme/x.json".into(),
        };
        assert_eq!(odd.invocation("acme"), None);
    }
}
