//! One driver, without I/O, for a command that may take several migrator runs.
//!
//! A migrator run stops between migrations at its deadline and lists what it did not
//! start; running the command again carries on. [`Chain`] says what to send next and
//! reads each answer: a run that stopped having done something is followed by another,
//! its limit reduced by what the chain has done; a run that stopped having done nothing
//! stalls the chain (its timeout leaves no time to start a migration, so another run
//! would do the same); any other answer ends it. The remote CLI and the trigger both
//! drive it, each with its own Invoke; the trigger may stop between runs and resume from
//! the [`Progress`] it keeps in its continuation token.

use engine::command::StepReport;
use engine::command::{ErrorKind, Report};

use super::{Invoked, MigratorEvent, MigratorReply};

/// The most migrator runs a chain takes. Every run but the last applies at least one
/// migration, so a real chain is far shorter; this only bounds a migrator that keeps
/// reporting progress without any.
pub const MAX_RUNS: u32 = 1000;

/// How far a chain has come: what a caller keeps to resume it later.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Migrations done by the chain's earlier runs.
    pub applied: usize,
    /// Earlier runs, each stopped at its deadline. The trigger keeps its token's `round`
    /// here, which counts its follow-ups too.
    pub runs: u32,
}

/// A command run to the end over as many migrator runs as it takes.
#[derive(Debug, Clone)]
pub struct Chain {
    /// The caller's event, its limit as the caller asked.
    event: MigratorEvent,
    progress: Progress,
    /// The steps of the earlier runs this driver read, in order.
    earlier: Vec<StepReport>,
    max_runs: u32,
    over: bool,
}

/// What to do after an answer.
#[derive(Debug)]
pub enum Step {
    /// The run stopped at its deadline having done `steps`, with `pending` migrations
    /// not started: invoke the migrator again with `event`.
    Invoke {
        /// The next run's event.
        event: Box<MigratorEvent>,
        /// What the run that stopped did, in order.
        steps: Vec<StepReport>,
        /// How many migrations it did not start.
        pending: usize,
    },
    /// The command is done: nothing is left, or it was never a run that stops.
    Done(Finished),
    /// The run stopped at its deadline without doing anything.
    Stalled(Finished),
    /// The run stopped at its deadline, and the chain has taken its most runs.
    RunLimit(Finished),
    /// The migrator gave no reply: see [`Invoked::failure`].
    Failed(Invoked),
}

/// How a chain ended with a reply.
#[derive(Debug)]
pub struct Finished {
    /// The last run's reply. Its report's steps are preceded by those of the earlier
    /// runs this driver read; its other fields are the last run's own.
    pub reply: Box<MigratorReply>,
    /// How many of the report's steps came from earlier runs.
    pub earlier: usize,
    /// The chain's progress before the last run.
    pub before: Progress,
}

impl Chain {
    /// A chain that starts with `event`.
    pub fn new(event: MigratorEvent) -> Chain {
        Chain::resume(event, Progress::default())
    }

    /// A chain that carries on after `progress` (from a stopped caller's state). `event`
    /// holds the request as first asked, its limit unreduced.
    pub fn resume(event: MigratorEvent, progress: Progress) -> Chain {
        Chain {
            event,
            progress,
            earlier: Vec::new(),
            max_runs: MAX_RUNS,
            over: false,
        }
    }

    /// The same chain, taking at most `max_runs` runs (counting those in its progress).
    pub fn with_max_runs(mut self, max_runs: u32) -> Chain {
        self.max_runs = max_runs;
        self
    }

    /// How far the chain has come.
    pub fn progress(&self) -> Progress {
        self.progress
    }

    /// The event to send now; `None` once the chain is over.
    pub fn next_request(&self) -> Option<MigratorEvent> {
        (!self.over).then(|| self.request())
    }

    fn request(&self) -> MigratorEvent {
        let mut event = self.event.clone();
        event.request.limit = match event.request.limit {
            // What earlier runs did counts against the limit. A stopped run left some of
            // it undone, so it stays at least 1 (0 would mean no limit).
            Some(l) if l > 0 => Some(l.saturating_sub(self.progress.applied).max(1)),
            other => other,
        };
        event
    }

    /// Reads the answer to the event last sent.
    pub fn feed(&mut self, invoked: Invoked) -> Step {
        debug_assert!(!self.over, "a chain that is over was fed");
        let mut reply = match invoked {
            Invoked::Reply(r) => r,
            other => {
                self.over = true;
                return Step::Failed(other);
            }
        };
        let before = self.progress;
        let steps = match &reply.report {
            Report::Run(r) if !r.dry_run => r.migrations.clone(),
            _ => Vec::new(),
        };
        let more = reply.stopped() && !reply.pending.is_empty();
        let room = before.runs.saturating_add(2) <= self.max_runs;
        if more && !steps.is_empty() && room {
            self.progress.applied += steps.len();
            self.progress.runs += 1;
            self.earlier.extend(steps.iter().cloned());
            return Step::Invoke {
                event: Box::new(self.request()),
                steps,
                pending: reply.pending.len(),
            };
        }
        self.over = true;
        let earlier = self.earlier.len();
        if let Report::Run(r) = &mut reply.report {
            let mut all = std::mem::take(&mut self.earlier);
            all.append(&mut r.migrations);
            r.migrations = all;
        }
        let finished = Finished {
            reply,
            earlier,
            before,
        };
        match (more, steps.is_empty()) {
            (false, _) => Step::Done(finished),
            (true, true) => Step::Stalled(finished),
            (true, false) => Step::RunLimit(finished),
        }
    }
}

impl Finished {
    /// The steps of the last run.
    pub fn last_steps(&self) -> &[StepReport] {
        match &self.reply.report {
            Report::Run(r) => &r.migrations[self.earlier.min(r.migrations.len())..],
            _ => &[],
        }
    }
}

impl Step {
    /// Why the chain failed, if it did: the kind and the message, with `function` the
    /// migrator's name. A stall is the function's configuration at fault.
    pub fn failure(&self, function: &str) -> Option<(ErrorKind, String)> {
        let pending = |f: &Finished| {
            let p = &f.reply.pending;
            format!(
                "{} migration(s) pending (next: {})",
                p.len(),
                p.first().map_or("-", String::as_str)
            )
        };
        match self {
            Step::Invoke { .. } | Step::Done(_) => None,
            Step::Stalled(f) => Some((
                ErrorKind::Configuration,
                format!(
                    "{function} stopped before its deadline without applying anything ({}): \
                     its timeout leaves no time to start one; raise it, or lower its \
                     DEADLINE_MARGIN_SECS",
                    pending(f)
                ),
            )),
            Step::RunLimit(f) => Some((
                ErrorKind::Internal,
                format!(
                    "{function} stopped before its deadline {} times with work left ({}); \
                     giving up: run the command again to carry on",
                    f.before.runs + 1,
                    pending(f)
                ),
            )),
            Step::Failed(invoked) => invoked.failure(function),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::fixtures::{self, up};
    use super::super::{ErrorPayload, FailureType};
    use super::*;
    use engine::command::{CommandName, Request};

    fn event(limit: Option<usize>) -> MigratorEvent {
        MigratorEvent {
            request: Request {
                limit,
                ..Request::new(CommandName::Up)
            },
            ..MigratorEvent::default()
        }
    }

    fn reply(r: MigratorReply) -> Invoked {
        Invoked::Reply(Box::new(r))
    }

    fn ids(steps: &[StepReport]) -> Vec<&str> {
        steps.iter().map(|s| s.id.as_str()).collect()
    }

    #[test]
    fn runs_that_stop_at_their_deadline_are_carried_on_until_nothing_is_left() {
        let mut chain = Chain::new(event(Some(5)));
        assert_eq!(chain.next_request().unwrap().request.limit, Some(5));
        let Step::Invoke {
            event,
            steps,
            pending,
        } = chain.feed(reply(up(&["1", "2"], &["3", "4", "5"])))
        else {
            panic!("a run that stopped having done something is carried on")
        };
        assert_eq!((ids(&steps), pending), (vec!["1", "2"], 3));
        // What the chain did counts against the limit.
        assert_eq!(event.request.limit, Some(3));
        assert_eq!(chain.next_request().unwrap().request.limit, Some(3));
        let Step::Invoke { event, .. } = chain.feed(reply(up(&["3"], &["4", "5"]))) else {
            panic!("carried on again")
        };
        assert_eq!(event.request.limit, Some(2));
        assert_eq!(
            chain.progress(),
            Progress {
                applied: 3,
                runs: 2
            }
        );
        let Step::Done(done) = chain.feed(reply(up(&["4", "5"], &[]))) else {
            panic!("a run with nothing left ends the chain")
        };
        assert_eq!(done.earlier, 3);
        assert_eq!(done.before, chain.progress());
        assert_eq!(ids(done.last_steps()), ["4", "5"]);
        let Report::Run(run) = &done.reply.report else {
            panic!("an up reports a run")
        };
        assert_eq!(ids(&run.migrations), ["1", "2", "3", "4", "5"]);
        assert_eq!(
            done.reply.applied.len(),
            2,
            "the summary is the last run's own"
        );
        assert!(chain.next_request().is_none());
    }

    #[test]
    fn a_run_that_stops_having_done_nothing_stalls_the_chain() {
        let mut chain = Chain::new(event(None));
        assert!(matches!(
            chain.feed(reply(up(&["1"], &["2", "3"]))),
            Step::Invoke { .. }
        ));
        assert_eq!(chain.next_request().unwrap().request.limit, None);
        let step = chain.feed(reply(up(&[], &["2", "3"])));
        let (kind, message) = step.failure("db-migrator").unwrap();
        assert_eq!(kind, ErrorKind::Configuration);
        assert!(
            message.starts_with("db-migrator stopped before its deadline without applying")
                && message.contains("2 migration(s) pending (next: 2)")
                && message.contains("DEADLINE_MARGIN_SECS"),
            "{message}"
        );
        let Step::Stalled(stalled) = step else {
            panic!("stalled")
        };
        // What the earlier run did is still reported.
        let Report::Run(run) = &stalled.reply.report else {
            panic!("a run")
        };
        assert_eq!(ids(&run.migrations), ["1"]);
        assert!(chain.next_request().is_none());
    }

    #[test]
    fn a_chain_takes_at_most_its_most_runs() {
        let mut chain = Chain::new(event(None)).with_max_runs(3);
        for n in 1..=2 {
            let id = n.to_string();
            assert!(
                matches!(chain.feed(reply(up(&[&id], &["9"]))), Step::Invoke { .. }),
                "run {n}"
            );
        }
        let step = chain.feed(reply(up(&["3"], &["9"])));
        let (kind, message) = step.failure("m").unwrap();
        assert_eq!(kind, ErrorKind::Internal);
        assert!(message.contains("3 times"), "{message}");
        assert!(matches!(step, Step::RunLimit(_)));
        assert!(chain.next_request().is_none());

        // A resumed chain counts the runs its caller kept.
        let kept = Progress {
            applied: 4,
            runs: 2,
        };
        let mut chain = Chain::resume(event(Some(6)), kept).with_max_runs(3);
        assert_eq!(chain.next_request().unwrap().request.limit, Some(2));
        assert!(matches!(
            chain.feed(reply(up(&["5"], &["6"]))),
            Step::RunLimit(_)
        ));
    }

    #[test]
    fn other_answers_end_the_chain() {
        let mut chain = Chain::new(event(None));
        let failed = Invoked::FunctionError(ErrorPayload {
            error_type: FailureType::Ours(ErrorKind::LockTimeout),
            error_message: "lock".into(),
        });
        let step = chain.feed(failed);
        assert_eq!(
            step.failure("m"),
            Some((ErrorKind::LockTimeout, "lock".into()))
        );
        assert!(matches!(step, Step::Failed(Invoked::FunctionError(_))));
        assert!(chain.next_request().is_none());

        let mut chain = Chain::new(event(None));
        let step = chain.feed(Invoked::StillRunning {
            waited: Duration::from_secs(3),
        });
        assert_eq!(
            step.failure("m"),
            Some((ErrorKind::Connection, "m did not answer within 3 s".into()))
        );

        // A command that is not a run, or a dry run listing its plan, is done at once.
        for r in [
            fixtures::reply(
                "plan",
                fixtures::run("plan", &["1"], true, None),
                &[],
                &["1"],
            ),
            fixtures::reply(
                "status",
                serde_json::json!({"command": "status", "migrations": [], "lock_held": false}),
                &[],
                &[],
            ),
        ] {
            let mut chain = Chain::new(event(None));
            let Step::Done(done) = chain.feed(reply(r)) else {
                panic!("done")
            };
            assert_eq!(done.earlier, 0);
        }
    }

    #[test]
    fn a_limit_of_zero_means_none_and_stays_so() {
        let mut chain = Chain::new(event(Some(0)));
        assert_eq!(chain.next_request().unwrap().request.limit, Some(0));
        let Step::Invoke { event, .. } = chain.feed(reply(up(&["1"], &["2"]))) else {
            panic!("carried on")
        };
        assert_eq!(event.request.limit, Some(0));
    }
}
