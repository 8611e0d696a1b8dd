//! SIGINT (Ctrl-C) and SIGTERM (what CI runners send on cancel, and Lambda before it
//! shuts an environment down) during a database run, for the CLI and the migrator.
//!
//! Dying at once would leave the statement in flight running on the server, and the
//! journal saying it did not run. So the first signal only stops the run: the statement
//! is killed on the server from the run's control connection, the run journals what is
//! committed and returns, and the process exits with 128 + the signal's number (130,
//! 143). A second signal exits at once. Before a database run is under way there is
//! nothing to stop, and the first signal exits at once too.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use engine::db::Interrupt;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// The first signal received, 0 for none.
static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// The runs to stop, once one is under way (`fleet` runs several at once); finished
/// ones are dropped as new ones come.
static RUNS: Mutex<Vec<Interrupt>> = Mutex::new(Vec::new());
static STARTED: OnceLock<bool> = OnceLock::new();

/// Makes SIGINT and SIGTERM stop `run` (and every other run still alive) instead of
/// killing the process; idempotent.
pub fn arm(run: Interrupt) {
    {
        let mut runs = RUNS.lock().unwrap_or_else(PoisonError::into_inner);
        runs.retain(Interrupt::run_alive);
        runs.push(run);
    }
    listen();
}

/// Makes SIGINT and SIGTERM only be noted ([`received`]) while no run is under way,
/// rather than end the process: a `fleet` run then starts no more targets, and still
/// writes what the finished ones did.
pub fn note_between_runs() {
    BETWEEN_RUNS.store(true, Ordering::SeqCst);
    listen();
}

/// Signals are noted between runs ([`note_between_runs`]).
static BETWEEN_RUNS: AtomicBool = AtomicBool::new(false);

/// Starts the thread that handles the signals; idempotent.
fn listen() {
    STARTED.get_or_init(|| {
        let Ok(mut signals) = Signals::new([SIGINT, SIGTERM]) else {
            return false;
        };
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for sig in signals.forever() {
                    handle(sig);
                }
            })
            .is_ok()
    });
}

fn handle(sig: i32) {
    let code = 128 + sig;
    if RECEIVED.swap(sig, Ordering::SeqCst) != 0 {
        eprintln!("{}: second signal, exiting now", name(sig));
        std::process::exit(code);
    }
    let runs: Vec<Interrupt> = RUNS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter(|r| r.run_alive())
        .cloned()
        .collect();
    if runs.is_empty() {
        if BETWEEN_RUNS.load(Ordering::SeqCst) {
            eprintln!(
                "{}: starting no more targets; send it again to exit at once",
                name(sig)
            );
            return;
        }
        std::process::exit(code);
    }
    // Between statements (waiting for the lock, say) there is nothing to kill: a run
    // just stops before its next step.
    let mut killed = false;
    for run in runs {
        killed |= run.interrupt();
    }
    let what = if killed {
        "stopped the running statement on the server"
    } else {
        "stopping before the next step"
    };
    eprintln!("{}: {what}; send it again to exit at once", name(sig));
}

/// The exit code for the signal that stopped the run, if one did: 128 + its number.
pub fn exit_code() -> Option<u8> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        sig => u8::try_from(128 + sig).ok(),
    }
}

/// What the signal that stopped the run was, for the closing line.
pub fn received() -> Option<&'static str> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(name(sig)),
    }
}

fn name(sig: i32) -> &'static str {
    if sig == SIGTERM { "SIGTERM" } else { "SIGINT" }
}
