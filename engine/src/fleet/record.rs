//! The AWS fleet run's per-invocation records, and each target's result gathered from
//! them (pure: the I/O that lists and reads them is the trigger's).
//!
//! Every migrator invocation for a target writes its own record at
//! `<prefix>targets/<name>/<follow-up>.<retry>.json`: `finished: false` before it
//! connects, then `finished: true` with the command's [`TargetResult`] once done,
//! failed or not. A retried Invoke (same follow-up, retry + 1) never overwrites an
//! earlier record, so the summary sees every invocation that ever started.

use serde::{Deserialize, Serialize};

use super::result::{Outcome, TargetResult};
use crate::command::ErrorKind;

/// Records of one target go under this folder of the run's prefix.
pub const TARGETS: &str = "targets/";

/// One invocation's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The target's name.
    pub name: String,
    /// Which follow-up of the target this invocation was (0: the first).
    pub follow_up: u32,
    /// Which try of that follow-up (Step Functions' retry count).
    pub attempt: u32,
    /// The command was done (or failed); `false`: it started and never said more.
    pub finished: bool,
    /// An `up` stopped at its deadline with migrations not started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<bool>,
    /// The command's result, once finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<TargetResult>,
}

/// The key of the record of invocation (`follow_up`, `attempt`) of target `name` under
/// the run's `prefix` (which ends in `/`), as the state machine builds it.
pub fn key(prefix: &str, name: &str, follow_up: u32, attempt: u32) -> String {
    format!("{prefix}{TARGETS}{name}/{follow_up}.{attempt}.json")
}

/// The target name, follow-up and attempt a record's key says, if it is one.
pub fn parse_key<'k>(prefix: &str, key: &'k str) -> Option<(&'k str, u32, u32)> {
    let rest = key.strip_prefix(prefix)?.strip_prefix(TARGETS)?;
    let (name, file) = rest.split_once('/')?;
    let (follow_up, attempt) = file.strip_suffix(".json")?.split_once('.')?;
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    Some((name, number(follow_up)?, number(attempt)?))
}

/// Why targets without a record did not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Aborted {
    /// The run went to the end.
    No,
    /// The canary map failed (a canary failed): nothing after it started.
    Canary,
    /// The fleet map failed (`error`: its error, e.g. the tolerance exceeded).
    Fleet(String),
}

/// Each target's result, in run order (`names`), from every record read (`records`, in
/// any order; those of other names are ignored).
///
/// Per target, the last invocation (highest follow-up, then attempt) gives the outcome,
/// `last`, the failure and what is pending; `applied` is every invocation's, in order,
/// and the duration their sum. A target whose every invocation is up to date after one
/// applied (a retried Invoke whose first answer was lost) is `applied`. A last record
/// that never finished is a failure: the migrator died mid-run. No record: `not-run`.
pub fn collect(names: &[&str], records: &[Record], aborted: &Aborted) -> Vec<TargetResult> {
    names
        .iter()
        .map(|name| {
            let mut mine: Vec<&Record> = records.iter().filter(|r| r.name == *name).collect();
            mine.sort_by_key(|r| (r.follow_up, r.attempt));
            gather(name, &mine, aborted)
        })
        .collect()
}

fn gather(name: &str, records: &[&Record], aborted: &Aborted) -> TargetResult {
    let Some(last) = records.last() else {
        let why = match aborted {
            Aborted::No => "no invocation of the migrator recorded a start for it",
            Aborted::Canary => "not started: a canary failed",
            Aborted::Fleet(_) => "not started: the fleet map stopped",
        };
        let mut r = TargetResult::not_run(name, why);
        if let Aborted::Fleet(error) = aborted {
            r.message = Some(format!("{why} ({error})"));
        }
        return r;
    };
    let applied: Vec<String> = records
        .iter()
        .filter_map(|r| r.result.as_ref())
        .flat_map(|r| r.applied.iter().cloned())
        .collect();
    let duration_ms = records
        .iter()
        .filter_map(|r| r.result.as_ref())
        .map(|r| r.duration_ms)
        .fold(0u64, u64::saturating_add);
    let mut out = match (&last.result, last.finished) {
        (Some(result), true) => result.clone(),
        _ => {
            let mut r = TargetResult::not_run(name, "");
            r.outcome = Outcome::Failed;
            r.error_kind = Some(ErrorKind::Internal);
            r.message = Some(format!(
                "the migrator's invocation {}.{} started and never finished (it ran out of memory or time, or its environment was stopped); run `status` on the target to see where it stands",
                last.follow_up, last.attempt
            ));
            r.last = records
                .iter()
                .rev()
                .find_map(|r| r.result.as_ref().and_then(|r| r.last.clone()));
            r
        }
    };
    out.name = name.to_owned();
    if out.outcome == Outcome::UpToDate && !applied.is_empty() {
        out.outcome = Outcome::Applied;
    }
    out.applied = applied;
    out.duration_ms = duration_ms;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str, follow_up: u32, attempt: u32, result: Option<TargetResult>) -> Record {
        Record {
            name: name.into(),
            follow_up,
            attempt,
            finished: result.is_some(),
            stopped: result.as_ref().map(|r| r.outcome == Outcome::Pending),
            result,
        }
    }

    fn done(name: &str, outcome: Outcome, applied: &[&str], ms: u64) -> TargetResult {
        let mut r = TargetResult::not_run(name, "");
        r.message = None;
        r.outcome = outcome;
        r.applied = applied.iter().map(|s| s.to_string()).collect();
        r.last = r.applied.last().cloned();
        r.duration_ms = ms;
        r
    }

    #[test]
    fn keys_round_trip_and_strangers_are_not_keys() {
        let k = key("fleet/job-1/", "acme", 2, 1);
        assert_eq!(k, "fleet/job-1/targets/acme/2.1.json");
        assert_eq!(parse_key("fleet/job-1/", &k), Some(("acme", 2, 1)));
        for bad in [
            "fleet/job-1/targets/acme/2.json",
            "fleet/job-1/targets/acme/x.1.json",
            "fleet/job-1/targets/acme/+2.1.json",
            "fleet/job-1/items.json",
            "fleet/job-2/targets/acme/0.0.json",
            "fleet/job-1/targets/acme/0.0.json.tmp",
        ] {
            assert_eq!(parse_key("fleet/job-1/", bad), None, "{bad}");
        }
    }

    #[test]
    fn the_last_invocation_decides_and_applied_adds_up() {
        let names = ["a", "b", "c", "d", "e"];
        let records = vec![
            // a: two follow-ups, the first stopped at its deadline.
            rec("a", 1, 0, Some(done("a", Outcome::Applied, &["3"], 5))),
            rec("a", 0, 0, Some(done("a", Outcome::Pending, &["1", "2"], 7))),
            // b: the first answer was lost; the retry found nothing to do.
            rec(
                "b",
                0,
                0,
                Some(done("b", Outcome::Applied, &["1", "2", "3"], 9)),
            ),
            rec("b", 0, 1, Some(done("b", Outcome::UpToDate, &[], 1))),
            // c: died after a good first follow-up.
            rec("c", 0, 0, Some(done("c", Outcome::Pending, &["1"], 4))),
            rec("c", 1, 0, None),
            // d: failed.
            rec("d", 0, 0, {
                let mut r = done("d", Outcome::Failed, &["1"], 3);
                r.error_kind = Some(ErrorKind::Sql);
                r.message = Some("2_b.sql statement 1: boom".into());
                Some(r)
            }),
            // someone else's record is ignored
            rec("zz", 0, 0, Some(done("zz", Outcome::Applied, &["1"], 1))),
        ];
        let got = collect(&names, &records, &Aborted::No);
        let by = |n: &str| got.iter().find(|r| r.name == n).unwrap();
        assert_eq!(got.len(), 5);
        assert_eq!(by("a").outcome, Outcome::Applied);
        assert_eq!(by("a").applied, ["1", "2", "3"]);
        assert_eq!(by("a").duration_ms, 12);
        assert_eq!(by("b").outcome, Outcome::Applied);
        assert_eq!(by("b").applied, ["1", "2", "3"]);
        assert_eq!(by("c").outcome, Outcome::Failed);
        assert_eq!(by("c").last.as_deref(), Some("1"));
        assert!(
            by("c")
                .message
                .as_deref()
                .unwrap()
                .contains("1.0 started and never finished")
        );
        assert_eq!(by("d").error_kind, Some(ErrorKind::Sql));
        assert_eq!(by("e").outcome, Outcome::NotRun);
        let canary = collect(&["e"], &[], &Aborted::Canary);
        assert_eq!(
            canary[0].message.as_deref(),
            Some("not started: a canary failed")
        );
        let fleet = collect(
            &["e"],
            &[],
            &Aborted::Fleet("States.ExceedToleratedFailureThreshold".into()),
        );
        assert!(
            fleet[0]
                .message
                .as_deref()
                .unwrap()
                .contains("ExceedTolerated")
        );
    }

    #[test]
    fn a_record_is_strict_json() {
        let r = rec("a", 0, 0, Some(done("a", Outcome::Applied, &["1"], 2)));
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Record>(&text).unwrap(), r);
        let started = r#"{"name":"a","follow_up":0,"attempt":0,"finished":false}"#;
        assert!(!serde_json::from_str::<Record>(started).unwrap().finished);
        assert!(
            serde_json::from_str::<Record>(
                r#"{"name":"a","follow_up":0,"attempt":0,"finished":false,"extra":1}"#
            )
            .is_err()
        );
    }
}
