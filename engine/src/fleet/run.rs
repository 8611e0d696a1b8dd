//! Running a fleet: the one per-target function ([`run_target`], which the AWS path's
//! migrator runs too), the order targets go in ([`order`]), and the local driver
//! ([`drive`]): canaries one at a time, then the rest on a bounded pool of threads,
//! stopping as the failure budget says.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::budget::Budget;
use super::manifest::{Manifest, Target};
use super::result::{Outcome, TargetResult};
use crate::command::{self, CommandName, Frontend, Input, Request, RequestError};
use crate::store::{Store, StoreError};

/// The commands a fleet runs.
pub const COMMANDS: [CommandName; 3] = [CommandName::Up, CommandName::Plan, CommandName::Status];

/// Targets run at once locally, by default.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// The most targets run at once locally: each holds two connections (the run's and its
/// control connection), so 64 stays well under a default `max_connections` of 151.
pub const MAX_CONCURRENCY: usize = 64;

/// The request a fleet's `command` sends each target: the command with every option off.
pub fn request(command: CommandName) -> Result<Request, RequestError> {
    if COMMANDS.contains(&command) {
        Ok(Request::new(command))
    } else {
        Err(RequestError::Option {
            command,
            option: "fleet",
        })
    }
}

/// Runs `request` on one target, `name`: the migrations of `input` against the store
/// `connect` opens, through [`command::execute`] as every other front end runs them,
/// into the target's result. Never fails: a failure is the result's.
pub fn run_target<S: Store>(
    name: &str,
    request: &Request,
    input: &Input<'_>,
    connect: impl FnOnce() -> Result<S, StoreError>,
    lock_timeout: Duration,
    frontend: &Frontend,
) -> TargetResult {
    let started = Instant::now();
    let result = command::execute(request, input, connect, lock_timeout, |_| {});
    let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match result {
        Ok(done) => TargetResult::done(name, &done, ms),
        Err(e) => TargetResult::failed(name, request, &e, frontend, ms),
    }
}

/// The order a fleet runs in: the canaries first, then the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order<'m> {
    /// Every target, in run order.
    pub targets: Vec<&'m Target>,
    /// How many of the first are canaries.
    pub canaries: usize,
    /// `--canary N` was given but the manifest's `canary` group decides.
    pub canary_ignored: bool,
}

impl Order<'_> {
    /// Whether the target `name` is a canary.
    pub fn is_canary(&self, name: &str) -> bool {
        self.targets[..self.canaries].iter().any(|t| t.name == name)
    }
}

/// The run order of `manifest`: the `canary` group in manifest order, then the rest in
/// manifest order. Without a `canary` group, the first `canary` targets are the canaries.
pub fn order(manifest: &Manifest, canary: Option<usize>) -> Order<'_> {
    let (group, rest): (Vec<&Target>, Vec<&Target>) =
        manifest.targets.iter().partition(|t| t.canary);
    if group.is_empty() {
        let all: Vec<&Target> = manifest.targets.iter().collect();
        Order {
            canaries: canary.unwrap_or(0).min(all.len()),
            targets: all,
            canary_ignored: false,
        }
    } else {
        Order {
            canaries: group.len(),
            targets: group.into_iter().chain(rest).collect(),
            canary_ignored: canary.is_some(),
        }
    }
}

/// Why the driver started no more targets.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stop {
    Canary(String),
    Budget,
    Interrupted,
}

impl Stop {
    fn why(&self, budget: Budget) -> String {
        match self {
            Stop::Canary(name) => format!("not started: the canary {name} failed"),
            Stop::Budget => format!("not started: the failure budget ({budget}) was exceeded"),
            Stop::Interrupted => "not started: the run was interrupted".to_owned(),
        }
    }
}

/// What the workers share.
struct Shared {
    next: usize,
    failed: usize,
    stop: Option<Stop>,
    results: Vec<Option<TargetResult>>,
}

/// Runs every target of `order` with `run`: the canaries one at a time, stopping at the
/// first that fails; then the rest on at most `concurrency` threads, starting no more
/// once `budget` is exceeded or `interrupted` says so. Targets in flight finish; those
/// never started are `not-run`. The results come back in run order.
pub fn drive(
    order: &Order<'_>,
    concurrency: usize,
    budget: Budget,
    run: impl Fn(&Target) -> TargetResult + Sync,
    interrupted: impl Fn() -> bool + Sync,
) -> Vec<TargetResult> {
    let total = order.targets.len();
    let shared = Mutex::new(Shared {
        next: 0,
        failed: 0,
        stop: None,
        results: vec![None; total],
    });
    let lock = || {
        shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    // One step of a worker: take the next target, run it, record its result; false
    // when there is nothing more to start.
    let step = |canary_phase: bool| -> bool {
        let i = {
            let mut s = lock();
            if s.stop.is_none() && interrupted() {
                s.stop = Some(Stop::Interrupted);
            }
            let end = if canary_phase { order.canaries } else { total };
            if s.stop.is_some() || s.next >= end {
                return false;
            }
            s.next += 1;
            s.next - 1
        };
        let target = order.targets[i];
        let result = run(target);
        let mut s = lock();
        // A target that failed because the run was interrupted is the interrupt's doing.
        if interrupted() {
            s.stop.get_or_insert(Stop::Interrupted);
        }
        if result.outcome == Outcome::Failed {
            s.failed += 1;
            if canary_phase {
                s.stop.get_or_insert(Stop::Canary(target.name.clone()));
            } else if budget.exceeded(s.failed, total) {
                s.stop.get_or_insert(Stop::Budget);
            }
        }
        s.results[i] = Some(result);
        true
    };
    while step(true) {}
    let workers = concurrency
        .clamp(1, MAX_CONCURRENCY)
        .min(total.saturating_sub(lock().next));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| while step(false) {});
        }
    });
    let s = shared
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let why = s.stop.map(|stop| stop.why(budget)).unwrap_or_default();
    s.results
        .into_iter()
        .zip(&order.targets)
        .map(|(r, t)| r.unwrap_or_else(|| TargetResult::not_run(&t.name, why.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::command::ErrorKind;
    use crate::fleet::manifest::{Secrets, parse};

    fn manifest(n: usize, canaries: &[usize]) -> Manifest {
        let text: String = (0..n)
            .map(|i| {
                let group = if canaries.contains(&i) {
                    r#","group":"canary""#
                } else {
                    ""
                };
                format!("{{\"name\":\"t{i}\",\"database\":\"d{i}\"{group}}}\n")
            })
            .collect();
        parse(text.as_bytes(), Secrets::Local).unwrap()
    }

    fn names(order: &Order<'_>) -> Vec<String> {
        order.targets.iter().map(|t| t.name.clone()).collect()
    }

    fn fake(name: &str, fail: bool) -> TargetResult {
        let mut r = TargetResult::not_run(name, "");
        r.message = None;
        r.outcome = if fail {
            r.error_kind = Some(ErrorKind::Sql);
            Outcome::Failed
        } else {
            Outcome::Applied
        };
        r
    }

    #[test]
    fn the_canary_group_goes_first_then_manifest_order() {
        let m = manifest(6, &[4, 2]);
        let o = order(&m, Some(3));
        assert_eq!(names(&o), ["t2", "t4", "t0", "t1", "t3", "t5"]);
        assert_eq!((o.canaries, o.canary_ignored), (2, true));
        assert!(o.is_canary("t4") && !o.is_canary("t0"));
        let m = manifest(4, &[]);
        let o = order(&m, Some(2));
        assert_eq!(names(&o), ["t0", "t1", "t2", "t3"]);
        assert_eq!((o.canaries, o.canary_ignored), (2, false));
        assert_eq!(order(&m, Some(10)).canaries, 4);
        assert_eq!(order(&m, None).canaries, 0);
    }

    #[test]
    fn canaries_run_alone_and_first() {
        let m = manifest(20, &[7, 3]);
        let o = order(&m, None);
        let running = AtomicUsize::new(0);
        let seen = Mutex::new(Vec::new());
        let results = drive(
            &o,
            8,
            Budget::NONE,
            |t| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                seen.lock().unwrap().push((t.name.clone(), now));
                std::thread::sleep(Duration::from_millis(2));
                running.fetch_sub(1, Ordering::SeqCst);
                fake(&t.name, false)
            },
            || false,
        );
        let seen = seen.into_inner().unwrap();
        assert_eq!(seen[0], ("t3".into(), 1));
        assert_eq!(seen[1], ("t7".into(), 1));
        assert!(seen.iter().all(|(_, n)| *n <= 8), "{seen:?}");
        assert_eq!(results.len(), 20);
        assert!(results.iter().all(|r| r.outcome == Outcome::Applied));
        let result_names: Vec<&str> = results.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(result_names[..3], ["t3", "t7", "t0"]);
    }

    #[test]
    fn a_failed_canary_stops_the_run() {
        let m = manifest(10, &[]);
        let o = order(&m, Some(3));
        let results = drive(
            &o,
            4,
            Budget::new(100.0).unwrap(),
            |t| fake(&t.name, t.name == "t1"),
            || false,
        );
        let outcomes: Vec<Outcome> = results.iter().map(|r| r.outcome).collect();
        assert_eq!(outcomes[..2], [Outcome::Applied, Outcome::Failed]);
        assert!(outcomes[2..].iter().all(|o| *o == Outcome::NotRun));
        assert_eq!(
            results[5].message.as_deref(),
            Some("not started: the canary t1 failed")
        );
    }

    #[test]
    fn no_budget_stops_at_the_first_failure_and_a_budget_later() {
        let m = manifest(40, &[]);
        let o = order(&m, None);
        let fails = |t: &Target| ["t5", "t6", "t7", "t30"].contains(&t.name.as_str());
        // One at a time the stop is exact.
        let results = drive(&o, 1, Budget::NONE, |t| fake(&t.name, fails(t)), || false);
        assert_eq!(results[5].outcome, Outcome::Failed);
        assert!(results[6..].iter().all(|r| r.outcome == Outcome::NotRun));
        assert!(
            results[6]
                .message
                .as_deref()
                .unwrap()
                .contains("budget (0%)")
        );
        // 5 % of 40 is 2 failures: the third stops it.
        let results = drive(
            &o,
            1,
            Budget::new(5.0).unwrap(),
            |t| fake(&t.name, fails(t)),
            || false,
        );
        assert_eq!(results[7].outcome, Outcome::Failed);
        assert!(results[8..].iter().all(|r| r.outcome == Outcome::NotRun));
        // 10 %: everything runs.
        let results = drive(
            &o,
            4,
            Budget::new(10.0).unwrap(),
            |t| fake(&t.name, fails(t)),
            || false,
        );
        assert!(results.iter().all(|r| r.outcome != Outcome::NotRun));
        // With threads, targets in flight finish; nothing starts after the stop.
        let started = AtomicUsize::new(0);
        let results = drive(
            &o,
            4,
            Budget::NONE,
            |t| {
                started.fetch_add(1, Ordering::SeqCst);
                fake(&t.name, fails(t))
            },
            || false,
        );
        let ran = results
            .iter()
            .filter(|r| r.outcome != Outcome::NotRun)
            .count();
        assert_eq!(ran, started.load(Ordering::SeqCst));
        assert!(ran < 40 && results[5].outcome == Outcome::Failed, "{ran}");
    }

    #[test]
    fn an_interrupt_starts_nothing_more() {
        let m = manifest(10, &[]);
        let o = order(&m, None);
        let done = AtomicUsize::new(0);
        let results = drive(
            &o,
            2,
            Budget::NONE,
            |t| {
                done.fetch_add(1, Ordering::SeqCst);
                fake(&t.name, false)
            },
            || done.load(Ordering::SeqCst) >= 3,
        );
        let not_run = results
            .iter()
            .filter(|r| r.outcome == Outcome::NotRun)
            .count();
        assert!(not_run >= 5, "{not_run}");
        assert_eq!(
            results[9].message.as_deref(),
            Some("not started: the run was interrupted")
        );
    }

    #[test]
    fn the_per_target_function_runs_the_command_layer() {
        use crate::Limits;
        use crate::command::fake::Fake;
        use crate::source::Source;
        let source = Source::Dir {
            path: "mem".into(),
            files: ["1_a.sql", "2_b.sql"]
                .iter()
                .map(|id| {
                    let text = format!(
                        "-- +migrate Up\nCREATE TABLE t{id} (id int);\n-- +migrate Down\nDROP TABLE t{id};\n"
                    );
                    (id.to_string(), format!("mem/{id}"), text.into_bytes())
                })
                .collect(),
        };
        let limits = Limits::default();
        let input = Input {
            source: &source,
            dir: "migrations",
            limits: &limits,
            fetch: None,
            expected_digest: None,
        };
        let mut store = Fake::default();
        let second = Duration::from_secs(1);
        let run = |store: &mut Fake, command| {
            run_target(
                "t",
                &request(command).unwrap(),
                &input,
                || Ok(store),
                second,
                &Frontend::Cli,
            )
        };
        let plan = run(&mut store, CommandName::Plan);
        assert_eq!(plan.outcome, Outcome::Pending);
        assert_eq!(plan.pending.as_deref().unwrap(), ["1_a.sql", "2_b.sql"]);
        let up = run(&mut store, CommandName::Up);
        assert_eq!(up.outcome, Outcome::Applied);
        assert_eq!(up.applied, ["1_a.sql", "2_b.sql"]);
        assert_eq!(up.last.as_deref(), Some("2_b.sql"));
        let again = run(&mut store, CommandName::Up);
        assert_eq!((again.outcome, again.applied.len()), (Outcome::UpToDate, 0));
        let status = run(&mut store, CommandName::Status);
        assert_eq!(status.outcome, Outcome::UpToDate);
        assert_eq!(status.status.as_ref().unwrap().applied, 2);
        assert_eq!(status.last.as_deref(), Some("2_b.sql"));
        let mut held = Fake {
            held_elsewhere: true,
            ..Fake::default()
        };
        let failed = run(&mut held, CommandName::Up);
        assert_eq!(failed.outcome, Outcome::Failed);
        assert_eq!(failed.error_kind, Some(ErrorKind::LockTimeout));
        assert!(failed.message.is_some());
        assert!(request(CommandName::Down).is_err());
    }
}
