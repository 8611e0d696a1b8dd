//! Running against a deadline: a caller that will be killed at a known time (a Lambda
//! function at its timeout) stops cleanly instead.
//!
//! Two instants, both before the caller's own deadline:
//! - no migration starts after [`Deadline::stop_starting`]: the run ends between
//!   migrations and reports what is still pending, for another run to continue;
//! - a statement still running at [`Deadline::kill_at`] is stopped with `KILL QUERY` from
//!   the run's control connection, opened with the lock ([`super::control`]), so the
//!   server rolls it back while we are alive to journal exactly what is committed.
//!   Killing the caller instead leaves the statement running on the server (a client
//!   that dies does not stop its query) and the journal unsure.

use std::sync::{Arc, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::control::{Shared, Stop};

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

/// The thread that stops the run at [`Deadline::kill_at`]: from then on no statement is
/// sent, and one in flight is killed from the control connection ([`super::control`]).
#[derive(Debug)]
pub(super) struct Watchdog {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts the watchdog over `shared`'s session.
    pub(super) fn start(kill_at: Instant, shared: Arc<Shared>) -> Watchdog {
        let theirs = Arc::clone(&shared);
        // Without the thread the deadline still stops new statements (`Shared::begin`).
        let thread = std::thread::Builder::new()
            .name("deadline-watchdog".into())
            .spawn(move || watch(&theirs, kill_at))
            .ok();
        Watchdog { shared, thread }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.shared.state().done = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn watch(shared: &Shared, kill_at: Instant) {
    let mut s = shared.state();
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
    drop(s);
    // If the kill cannot be delivered the statement runs on; should it still finish in
    // time it is journaled as done, and the next one is not sent.
    shared.stop(Stop::Deadline);
}
