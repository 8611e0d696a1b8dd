//! The failure budget and the verdict on a fleet run: pure functions over the results,
//! so that the local runner, the AWS summary step and the trigger judge a run the same.
//!
//! A run **passes** when no canary failed, every target ran (and, for `up`, finished:
//! none stopped at its deadline with migrations pending), and
//! `failed / total * 100 <= tolerate`. While a run goes, it stops starting targets once
//! the budget is exceeded ([`Budget::exceeded`]): with 0 % that is the first failure.

use serde::{Deserialize, Serialize};

use super::result::{Outcome, TargetResult};
use crate::command::{CommandName, ErrorKind};

/// The share of targets that may fail, in percent (0 to 100).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Budget(f64);

/// A budget that is not a number from 0 to 100.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the failure budget {0:?} is not a percentage from 0 to 100 (e.g. 0, 5 or 2.5)")]
pub struct BudgetError(String);

impl Budget {
    /// No failure tolerated: the run stops starting targets after the first.
    pub const NONE: Budget = Budget(0.0);

    /// `percent`, if it is a finite number from 0 to 100.
    pub fn new(percent: f64) -> Option<Budget> {
        (percent.is_finite() && (0.0..=100.0).contains(&percent)).then_some(Budget(percent))
    }

    /// Parses `5`, `2.5` or `5%`.
    pub fn parse(s: &str) -> Result<Budget, BudgetError> {
        let t = s.trim();
        let t = t.strip_suffix('%').unwrap_or(t).trim_end();
        t.parse::<f64>()
            .ok()
            .and_then(Budget::new)
            .ok_or_else(|| BudgetError(s.chars().take(40).collect()))
    }

    /// The percentage.
    pub fn percent(self) -> f64 {
        self.0
    }

    /// Whether `failed` of `total` targets is more than the budget allows.
    pub fn exceeded(self, failed: usize, total: usize) -> bool {
        // No division: 1 of 20 at 5 % is within, never a rounding error away.
        failed > 0 && (failed as f64) * 100.0 > self.0 * (total as f64)
    }
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}%", self.0)
    }
}

/// How many targets ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// `applied`.
    pub applied: usize,
    /// `up-to-date`.
    #[serde(rename = "up-to-date")]
    pub up_to_date: usize,
    /// `pending`.
    pub pending: usize,
    /// `failed`.
    pub failed: usize,
    /// `not-run`.
    #[serde(rename = "not-run")]
    pub not_run: usize,
}

impl Counts {
    /// The count of `outcome`.
    pub fn of(&self, outcome: Outcome) -> usize {
        match outcome {
            Outcome::Applied => self.applied,
            Outcome::UpToDate => self.up_to_date,
            Outcome::Pending => self.pending,
            Outcome::Failed => self.failed,
            Outcome::NotRun => self.not_run,
        }
    }

    fn add(&mut self, outcome: Outcome) {
        let n = match outcome {
            Outcome::Applied => &mut self.applied,
            Outcome::UpToDate => &mut self.up_to_date,
            Outcome::Pending => &mut self.pending,
            Outcome::Failed => &mut self.failed,
            Outcome::NotRun => &mut self.not_run,
        };
        *n += 1;
    }
}

/// The verdict on a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Targets in the run.
    pub total: usize,
    /// Targets per outcome.
    pub counts: Counts,
    /// `failed / total * 100`.
    pub failed_percent: f64,
    /// The budget, in percent.
    pub tolerate: f64,
    /// A canary failed (the run stopped there).
    pub canary_failed: bool,
    /// The run passes: no canary failed, every target ran (an `up`: and finished),
    /// failures within the budget.
    pub passed: bool,
    /// An `up` left targets `pending` (stopped at their deadline, follow-ups spent).
    #[serde(default)]
    pub unfinished: bool,
    /// The first failed target, in run order.
    pub first_failure: Option<String>,
    /// Its failure's kind.
    #[serde(with = "super::result::kind")]
    pub error_kind: Option<ErrorKind>,
}

/// Judges `results` (in run order) of `command` against `budget`; `canary` says which
/// targets were canaries.
pub fn judge(
    results: &[TargetResult],
    command: CommandName,
    budget: Budget,
    canary: impl Fn(&str) -> bool,
) -> Summary {
    let mut counts = Counts::default();
    for r in results {
        counts.add(r.outcome);
    }
    let total = results.len();
    let first = results.iter().find(|r| r.outcome == Outcome::Failed);
    let canary_failed = results
        .iter()
        .any(|r| r.outcome == Outcome::Failed && canary(&r.name));
    let failed_percent = if total == 0 {
        0.0
    } else {
        counts.failed as f64 * 100.0 / total as f64
    };
    // `plan` and `status` report pending work; an `up` that leaves some did not finish.
    let unfinished = command == CommandName::Up && counts.pending > 0;
    Summary {
        total,
        counts,
        failed_percent,
        tolerate: budget.percent(),
        canary_failed,
        passed: !canary_failed
            && counts.not_run == 0
            && !unfinished
            && !budget.exceeded(counts.failed, total),
        unfinished,
        first_failure: first.map(|r| r.name.clone()),
        error_kind: first.and_then(|r| r.error_kind),
    }
}

impl Summary {
    /// The exit code: 0 when the run passed, else the first failure's kind's
    /// ([`ErrorKind::exit_code`]); a run that did not pass without a failure (targets not
    /// run, or left pending) exits as an internal error.
    pub fn exit_code(&self) -> u8 {
        if self.passed {
            0
        } else {
            self.error_kind.unwrap_or(ErrorKind::Internal).exit_code()
        }
    }

    /// One line: the counts, the share failed against the budget, and the verdict.
    pub fn line(&self) -> String {
        let counts: Vec<String> = Outcome::ALL
            .iter()
            .map(|o| format!("{} {o}", self.counts.of(*o)))
            .collect();
        let verdict = if self.passed {
            "passed".to_owned()
        } else if self.canary_failed {
            "FAILED: a canary failed".to_owned()
        } else if self.counts.not_run > 0 && self.counts.failed == 0 {
            "FAILED: not every target ran".to_owned()
        } else if self.unfinished && self.counts.failed == 0 {
            "FAILED: targets stopped with migrations pending".to_owned()
        } else {
            "FAILED: over the failure budget".to_owned()
        };
        format!(
            "{} target(s): {}; failed {:.1}% (tolerated {}%): {verdict}",
            self.total,
            counts.join(", "),
            self.failed_percent,
            self.tolerate
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, outcome: Outcome) -> TargetResult {
        let mut r = TargetResult::not_run(name, "");
        r.outcome = outcome;
        r.message = None;
        if outcome == Outcome::Failed {
            r.error_kind = Some(ErrorKind::Partial);
        }
        r
    }

    #[test]
    fn budgets_parse_and_bound() {
        assert_eq!(Budget::parse("5").unwrap().percent(), 5.0);
        assert_eq!(Budget::parse("2.5%").unwrap().percent(), 2.5);
        assert_eq!(Budget::parse("100").unwrap().percent(), 100.0);
        for bad in ["-1", "100.1", "NaN", "inf", "", "five", "5%%"] {
            assert!(Budget::parse(bad).is_err(), "{bad}");
        }
        let b = Budget::parse("5").unwrap();
        assert!(!b.exceeded(1, 20) && b.exceeded(2, 20) && !b.exceeded(2, 50));
        assert!(b.exceeded(3, 50));
        assert!(Budget::NONE.exceeded(1, 10_000) && !Budget::NONE.exceeded(0, 1));
        assert!(!Budget::parse("100").unwrap().exceeded(10, 10));
        assert!(!b.exceeded(0, 0));
    }

    #[test]
    fn the_verdict() {
        let ok = [
            result("a", Outcome::Applied),
            result("b", Outcome::UpToDate),
            result("c", Outcome::Failed),
        ];
        let none = |_: &str| false;
        let s = judge(&ok, CommandName::Up, Budget::NONE, none);
        assert!(!s.passed);
        assert_eq!(s.first_failure.as_deref(), Some("c"));
        assert_eq!(s.exit_code(), ErrorKind::Partial.exit_code());
        assert!(s.line().contains("over the failure budget"), "{}", s.line());
        let s = judge(&ok, CommandName::Up, Budget::new(34.0).unwrap(), none);
        assert!(s.passed && s.exit_code() == 0, "{s:?}");
        assert_eq!(
            s.line(),
            "3 target(s): 1 applied, 1 up-to-date, 0 pending, 1 failed, 0 not-run; failed 33.3% (tolerated 34%): passed"
        );
        // A failed canary fails the run whatever the budget.
        let s = judge(&ok, CommandName::Up, Budget::new(100.0).unwrap(), |n| {
            n == "c"
        });
        assert!(!s.passed && s.canary_failed);
        // Targets that never ran fail it too.
        let s = judge(
            &[result("a", Outcome::Applied), result("b", Outcome::NotRun)],
            CommandName::Up,
            Budget::new(100.0).unwrap(),
            none,
        );
        assert!(!s.passed);
        assert_eq!(s.exit_code(), ErrorKind::Internal.exit_code());
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["counts"]["not-run"], 1);
        assert_eq!(json["error_kind"], serde_json::Value::Null);
        assert!(judge(&[], CommandName::Up, Budget::NONE, none).passed);
        // Pending work is the point of a plan, and an unfinished up.
        let pending = [result("a", Outcome::Applied), result("b", Outcome::Pending)];
        assert!(judge(&pending, CommandName::Plan, Budget::NONE, none).passed);
        let s = judge(&pending, CommandName::Up, Budget::new(100.0).unwrap(), none);
        assert!(!s.passed && s.unfinished, "{s:?}");
        assert!(
            s.line()
                .ends_with("FAILED: targets stopped with migrations pending"),
            "{}",
            s.line()
        );
    }
}
