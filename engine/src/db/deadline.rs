//! Running against a deadline: a caller that will be killed at a known time (a Lambda
//! function at its timeout) stops cleanly instead.
//!
//! Two instants, both before the caller's own deadline:
//! - no migration starts after [`Deadline::stop_starting`]: the run ends between
//!   migrations and reports what is still pending, for another run to continue;
//! - a statement still running at [`Deadline::kill_at`] is stopped with `KILL QUERY` from
//!   a second connection, so the server rolls it back while we are alive to journal
//!   exactly what is committed. Killing the caller instead leaves the statement running
//!   on the server (a client that dies does not stop its query) and the journal unsure.
//!
//! The watchdog thread only kills while a migration's own statement is in flight, and
//! holds the state lock while it does, so a kill never lands on our bookkeeping: the main
//! thread cannot mark its statement finished (and send the journal write) until the kill
//! is delivered, and a `KILL QUERY` that reaches an idle session is void on the server.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder};

/// When a run must stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    /// No migration starts at or after this instant.
    pub stop_starting: Instant,
    /// A statement still running at this instant is killed.
    pub kill_at: Instant,
}

impl Deadline {
    /// The instants for a caller killed at `end`: stop starting migrations `start_margin`
    /// before it, kill a running statement `kill_margin` before it.
    pub fn before(end: Instant, start_margin: Duration, kill_margin: Duration) -> Deadline {
        let at = |margin| end.checked_sub(margin).unwrap_or_else(Instant::now);
        Deadline {
            stop_starting: at(start_margin),
            kill_at: at(kill_margin),
        }
    }

    /// Time left before [`Deadline::stop_starting`].
    pub fn to_stop(&self) -> Duration {
        self.stop_starting.saturating_duration_since(Instant::now())
    }

    /// Time left before [`Deadline::kill_at`].
    pub fn to_kill(&self) -> Duration {
        self.kill_at.saturating_duration_since(Instant::now())
    }
}

/// What the watchdog and the thread running statements share.
#[derive(Debug, Default)]
struct State {
    /// A migration statement is in flight.
    busy: bool,
    /// The deadline passed: no statement may start.
    expired: bool,
    /// The in-flight statement was killed.
    killed: bool,
    /// The run is over: the watchdog exits.
    done: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The thread that kills a statement still running at the deadline.
#[derive(Debug)]
pub(super) struct Watchdog {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts the watchdog for the session `connection_id`, reachable with `opts`.
    pub(super) fn start(kill_at: Instant, opts: mysql::Opts, connection_id: u32) -> Watchdog {
        let shared = Arc::new(Shared::default());
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("deadline-watchdog".into())
            .spawn(move || watch(&theirs, kill_at, opts, connection_id))
            .ok();
        if thread.is_none() {
            // Without a watchdog the deadline still stops new statements.
            shared.lock().expired = Instant::now() >= kill_at;
        }
        Watchdog { shared, thread }
    }

    /// Marks a statement in flight; `false` (and nothing marked) once the deadline has
    /// passed: the statement must not be sent.
    pub(super) fn begin(&self, kill_at: Instant) -> bool {
        let mut s = self.shared.lock();
        if s.expired || Instant::now() >= kill_at {
            s.expired = true;
            return false;
        }
        s.busy = true;
        true
    }

    /// Marks the statement finished; `true` when the watchdog killed it. A statement
    /// that still succeeded (it finished as the kill arrived, or, like `SLEEP`, ends
    /// normally when interrupted) is done and must be journaled as such.
    pub(super) fn end(&self) -> bool {
        let mut s = self.shared.lock();
        s.busy = false;
        std::mem::take(&mut s.killed)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.shared.lock().done = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn watch(shared: &Shared, kill_at: Instant, opts: mysql::Opts, connection_id: u32) {
    let mut s = shared.lock();
    loop {
        if s.done {
            return;
        }
        let now = Instant::now();
        if now >= kill_at {
            break;
        }
        s = shared
            .wake
            .wait_timeout(s, kill_at - now)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
    s.expired = true;
    if !s.busy {
        return;
    }
    // The lock stays held until the kill is delivered (see the module's notes).
    let opts = OptsBuilder::from_opts(opts)
        .tcp_connect_timeout(Some(Duration::from_secs(3)))
        .read_timeout(Some(Duration::from_secs(5)))
        .write_timeout(Some(Duration::from_secs(5)))
        .init(Vec::<String>::new());
    // If the kill cannot be delivered the statement runs on; should it still finish in
    // time it is journaled as done, and the next one is not sent.
    s.killed = Conn::new(opts)
        .and_then(|mut c| c.query_drop(format!("KILL QUERY {connection_id}")))
        .is_ok();
}
