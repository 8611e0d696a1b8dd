//! The run's second connection, and what it is for: it holds the run lock, it stops the
//! migration session's statement (at the deadline, on SIGINT/SIGTERM, after the client
//! gave up waiting) and it learns whether that statement is still running.
//!
//! It is opened when a run takes its lock, not when it is needed: at the deadline, or
//! on Ctrl-C, the server may already be at `max_connections` or the user at
//! `max_user_connections`. A run that cannot have it starts no migration.
//!
//! Holding the lock here rather than on the migration session means the session can be
//! lost or killed (`KILL <id>`, a read timeout) without another run slipping in while
//! this one records what happened.
//!
//! The state lock orders the threads: a kill is only sent while a migration statement is
//! in flight, and the thread running statements cannot mark its statement finished (and
//! send the journal write) until the kill is delivered. A `KILL QUERY` that reaches an
//! idle session is void on the server, so a kill never lands on our bookkeeping. The
//! state lock is always taken before the connection's, never the other way round.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder};

/// Why the in-flight statement was stopped, or the next one not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    /// The run's deadline.
    Deadline,
    /// The process was asked to stop (SIGINT, SIGTERM).
    Interrupt,
}

/// What the threads share about the migration session.
#[derive(Debug, Default)]
pub(super) struct State {
    /// A migration statement is in flight.
    busy: bool,
    /// No statement may start, and why.
    stopped: Option<Stop>,
    /// The in-flight statement was killed, and why.
    killed: Option<Stop>,
    /// The run is over: the deadline thread exits.
    pub(super) done: bool,
}

/// The shared half: the state, the control connection and the session it watches.
#[derive(Debug)]
pub(super) struct Shared {
    state: Mutex<State>,
    pub(super) wake: Condvar,
    conn: Mutex<Option<Conn>>,
    /// The migration session's id (what `KILL` takes).
    session: u32,
}

impl Shared {
    pub(super) fn new(session: u32) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            conn: Mutex::new(None),
            session,
        })
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn conn(&self) -> MutexGuard<'_, Option<Conn>> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens the control connection from the session's options, unless it is open.
    pub(super) fn open(&self, opts: &mysql::Opts, connect: Duration) -> Result<(), mysql::Error> {
        let mut c = self.conn();
        if c.is_none() {
            // Its queries are short: a bounded wait on them never holds up a run.
            let opts = OptsBuilder::from_opts(opts.clone())
                .read_timeout(Some(Duration::from_secs(30)))
                .write_timeout(Some(Duration::from_secs(30)))
                .init(Vec::<String>::new());
            *c = Some(super::connect::open(opts.into(), connect)?);
        }
        Ok(())
    }

    /// Closes the control connection, if it is open: its run is over. An [`Interrupt`]
    /// may outlive the run (a signal handler keeps a list), and must not keep a
    /// connection open with it.
    pub(super) fn close(&self) {
        self.conn().take();
    }

    /// Runs `f` on the control connection; `None` when it is not open.
    pub(super) fn with<T>(&self, f: impl FnOnce(&mut Conn) -> T) -> Option<T> {
        self.conn().as_mut().map(f)
    }

    /// Marks a statement in flight; the reason instead (and nothing marked) when no
    /// statement may start: the deadline has passed or the run was interrupted.
    pub(super) fn begin(&self, kill_at: Option<Instant>) -> Result<(), Stop> {
        let mut s = self.state();
        if kill_at.is_some_and(|at| Instant::now() >= at) {
            s.stopped.get_or_insert(Stop::Deadline);
        }
        if let Some(why) = s.stopped {
            return Err(why);
        }
        s.busy = true;
        Ok(())
    }

    /// Marks the statement finished; why it was killed, if it was. A statement that
    /// still succeeded (it finished as the kill arrived) is done and journaled as such.
    pub(super) fn end(&self) -> Option<Stop> {
        let mut s = self.state();
        s.busy = false;
        s.killed.take()
    }

    /// Stops the run for `why`: no statement starts after this, and the one in flight
    /// is killed (`KILL QUERY` from the control connection). Returns whether a statement
    /// was killed.
    pub(super) fn stop(&self, why: Stop) -> bool {
        let mut s = self.state();
        s.stopped.get_or_insert(why);
        if !s.busy || s.killed.is_some() {
            return false;
        }
        // The state lock stays held until the kill is delivered (see the module's notes).
        let session = self.session;
        let sent = self
            .with(|c| c.query_drop(format!("KILL QUERY {session}")).is_ok())
            .unwrap_or(false);
        if sent {
            s.killed = Some(why);
        }
        sent
    }

    /// Whether the run was stopped (interrupted, or at its deadline).
    pub(super) fn stopped(&self) -> Option<Stop> {
        self.state().stopped
    }

    /// After the migration session was lost mid-statement: ends it on the server (its
    /// statement would otherwise run on) and waits, up to `limit`, until it is gone.
    /// `true` when it is gone: nothing of ours runs on, and what it committed is final.
    pub(super) fn end_session(&self, limit: Duration) -> bool {
        self.end_other_session(self.session, limit)
    }

    /// Ends session `session` on the server and waits, up to `limit`, until it is gone.
    pub(super) fn end_other_session(&self, session: u32, limit: Duration) -> bool {
        self.with(|c| {
            // "Unknown thread id" when it already ended: that is the goal.
            let _ = c.query_drop(format!("KILL CONNECTION {session}"));
            let started = Instant::now();
            loop {
                let left: Result<Option<u64>, _> = c.query_first(format!(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {session}"
                ));
                match left {
                    Ok(Some(0)) => return true,
                    Ok(_) if started.elapsed() < limit => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    _ => return false,
                }
            }
        })
        .unwrap_or(false)
    }
}

/// A handle that stops a run from another thread: the CLI's signal handler calls
/// [`Interrupt::interrupt`] on SIGINT or SIGTERM.
#[derive(Debug, Clone)]
pub struct Interrupt(pub(super) Arc<Shared>);

impl Interrupt {
    /// Starts no further statement or migration, and kills the statement in flight on the
    /// server. The run then journals what is committed and returns its failure. Returns
    /// whether a statement was killed.
    pub fn interrupt(&self) -> bool {
        self.0.stop(Stop::Interrupt)
    }

    /// Whether its run's database is still open (else there is nothing to stop).
    pub fn run_alive(&self) -> bool {
        Arc::strong_count(&self.0) > 1
    }
}
