//! Waiting for the run lock, visibly: who holds it, how long we have waited, when we
//! took it. The wait is one loop over any [`Store`] ([`wait`]): a first try that does
//! not wait, then bounded tries, each at most [`POLL`] long, so that an interrupt or
//! the store's deadline ([`Store::stop_starting`]) ends the wait within a second, and
//! a report every [`TICK`]. What it sees goes to the caller as [`RunLockEvent`]s (the
//! CLI prints them, the migrator logs them) and into the report as a [`RunLockWait`].
//! Pure data and policy; the store does the asking.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Store, StoreError};

/// The longest single try: an interrupt or a deadline ends the wait within it.
pub const POLL: Duration = Duration::from_secs(1);

/// How often a wait reports that it is still waiting.
pub const TICK: Duration = Duration::from_secs(5);

/// At most this many later holders are kept in a [`RunLockWait`].
const PASSED_MAX: usize = 10;

/// One try at the run lock ([`Store::try_lock`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockTry {
    /// Taken: we hold it now.
    Taken,
    /// Not taken: this session (its connection id) holds it.
    HeldBy(u64),
    /// Not taken, and nobody holds it any more (released as the try ended): try again.
    Free,
}

/// The session holding the run lock, as far as the server shows it to us.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunLockHolder {
    /// Its connection id (`IS_USED_LOCK`, what `KILL` takes).
    pub connection: u64,
    /// Its user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The host it connected from (with the client's port, over TCP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// What it is doing (`COMMAND`): `Sleep` when idle, `Query` while a statement runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The server's word for its state (`STATE`), when it gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Seconds in its current state (`TIME`): how long it has been idle, or busy with its
    /// statement. The server does not say since when it holds the lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u64>,
    /// The same in milliseconds, where the server says (MariaDB's `TIME_MS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms: Option<u64>,
    /// The statement it runs, on one line and cut short; `None` when idle (or withheld:
    /// one that may hold a password is never shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
    /// Why nothing but its id is known, when that is so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<String>,
}

/// Why a holder is not in the process list we can read.
pub const HIDDEN_NO_PROCESS: &str = "not visible to this user: without the PROCESS privilege \
     the server lists only the user's own sessions";

impl RunLockHolder {
    /// A holder of whom only the connection id is known, and why.
    pub fn hidden(connection: u64, why: impl Into<String>) -> RunLockHolder {
        RunLockHolder {
            connection,
            hidden: Some(why.into()),
            ..RunLockHolder::default()
        }
    }

    /// How long it has been in its current state, as precisely as the server said.
    fn in_state(&self) -> Option<String> {
        match (self.ms, self.seconds) {
            // MariaDB's milliseconds, to a tenth of a second (never `8 s` for 8.0).
            (Some(ms), _) => Some(format!("{:.1} s", ms as f64 / 1000.0)),
            (None, Some(s)) => Some(format!("{s} s")),
            (None, None) => None,
        }
    }
}

/// `connection 42 (lm@10.0.0.5:51234), idle for 8.2 s`, or what is known of it. The
/// time is the session's time in its current state: what the server can say, which is
/// not how long it has held the lock.
impl std::fmt::Display for RunLockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "connection {}", self.connection)?;
        if let Some(why) = &self.hidden {
            return write!(f, " ({})", clean(why));
        }
        match (&self.user, &self.host) {
            (Some(u), Some(h)) if !h.is_empty() => write!(f, " ({}@{})", clean(u), clean(h))?,
            (Some(u), _) => write!(f, " ({})", clean(u))?,
            (None, Some(h)) => write!(f, " (from {})", clean(h))?,
            (None, None) => {}
        }
        let time = self.in_state();
        match self.command.as_deref() {
            Some("Sleep") => match time {
                Some(t) => write!(f, ", idle for {t}"),
                None => f.write_str(", idle"),
            },
            command => {
                let what = command.map(clean).unwrap_or_else(|| "busy".into());
                write!(f, ", {what}")?;
                if let Some(s) = &self.statement {
                    write!(f, " `{}`", clean(s))?;
                }
                match (time, self.state.as_deref().filter(|s| !s.is_empty())) {
                    (Some(t), Some(st)) => write!(f, ", {t} in its current state ({})", clean(st)),
                    (Some(t), None) => write!(f, ", {t} in its current state"),
                    (None, Some(st)) => write!(f, " ({})", clean(st)),
                    (None, None) => Ok(()),
                }
            }
        }
    }
}

/// A wait for the run lock, for the report: who held it and how long we waited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunLockWait {
    /// Who held it when we first found it taken.
    pub holder: RunLockHolder,
    /// Sessions that took it from one another while we waited, in order (at most 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passed_to: Vec<RunLockHolder>,
    /// How long we waited, in milliseconds (until we took it, or gave up).
    pub waited_ms: u64,
}

impl RunLockWait {
    /// The session that held the lock last: the one we waited behind at the end.
    pub fn last_holder(&self) -> &RunLockHolder {
        self.passed_to.last().unwrap_or(&self.holder)
    }
}

/// What a wait for the run lock sees, as it sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunLockEvent {
    /// The first try found the lock held: by whom, and how long we will wait at most.
    Held {
        /// The lock's name (`GET_LOCK`).
        lock: String,
        /// Who holds it.
        holder: RunLockHolder,
        /// How long we wait at most (the lock timeout, or less before a deadline).
        limit: Duration,
    },
    /// Another session took the lock while we waited.
    Passed {
        /// Who holds it now.
        holder: RunLockHolder,
        /// How long we have waited so far.
        waited: Duration,
        /// How long we wait at most.
        limit: Duration,
    },
    /// Still waiting (every [`TICK`]).
    Waiting {
        /// Who holds the lock (its connection id), as last seen.
        holder: Option<u64>,
        /// How long we have waited so far.
        waited: Duration,
        /// How long we wait at most.
        limit: Duration,
    },
    /// Taken, after waiting.
    Taken {
        /// How long we waited.
        waited: Duration,
    },
}

/// One line about a wait that is over, for a report read after the fact (a run in the
/// migrator, which could not tell as it waited).
impl std::fmt::Display for RunLockWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "waited {} for the migration lock, held by {}",
            seconds(Duration::from_millis(self.waited_ms)),
            self.holder
        )?;
        match self.passed_to.last() {
            Some(last) => write!(f, ", then by {last}"),
            None => Ok(()),
        }
    }
}

/// One line for stderr or a log, as it happens: who holds the lock (at once), that it
/// is still held (every [`TICK`]), that we took it.
impl std::fmt::Display for RunLockEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunLockEvent::Held {
                lock,
                holder,
                limit,
            } => write!(
                f,
                "waiting for the migration lock `{}`: held by {holder}; waiting up to {}",
                clean(lock),
                seconds(*limit)
            ),
            RunLockEvent::Passed {
                holder,
                waited,
                limit,
            } => write!(
                f,
                "the migration lock passed to {holder}; still waiting ({} of up to {})",
                seconds(*waited),
                seconds(*limit)
            ),
            RunLockEvent::Waiting {
                holder,
                waited,
                limit,
            } => {
                f.write_str("still waiting for the migration lock")?;
                if let Some(id) = holder {
                    write!(f, " held by connection {id}")?;
                }
                write!(f, ": {} of up to {}", seconds(*waited), seconds(*limit))
            }
            RunLockEvent::Taken { waited } => {
                write!(f, "took the migration lock after {}", seconds(*waited))
            }
        }
    }
}

/// Seconds for people: whole ones as they are (`60 s`), else with a tenth under a
/// minute (`0.4 s`, `12.0 s`) and whole over it (`75 s`).
pub fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if d.subsec_nanos() == 0 || s >= 60.0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{s:.1} s")
    }
}

/// One line of untrusted text (user names, hosts, statements) without control characters.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Takes the run lock of `store`, waiting up to `timeout` (less when the store must
/// stop sooner: [`Store::stop_starting`], which an interrupt brings forward), telling
/// `on` what it sees. The report of the wait, when there was one.
pub(super) fn wait<S: Store + ?Sized>(
    store: &mut S,
    timeout: Duration,
    on: &mut dyn FnMut(&RunLockEvent),
) -> Result<Option<RunLockWait>, StoreError> {
    let started = Instant::now();
    // Of the time from `started`, how much may be spent waiting now.
    let limit_now = |store: &S| match store.stop_starting() {
        Some(at) => timeout.min(at.saturating_duration_since(started)),
        None => timeout,
    };
    let limit = limit_now(store);
    let mut attempt = store.try_lock(Duration::ZERO)?;
    let mut seen: Option<RunLockWait> = None;
    let mut last: Option<u64> = None;
    let mut next_tick = TICK;
    loop {
        let waited = started.elapsed();
        match attempt {
            LockTry::Taken => {
                return Ok(seen.map(|mut w| {
                    w.waited_ms = waited.as_millis() as u64;
                    on(&RunLockEvent::Taken { waited });
                    w
                }));
            }
            LockTry::HeldBy(id) if last != Some(id) => {
                last = Some(id);
                let holder = store.lock_holder(id);
                match &mut seen {
                    None => {
                        on(&RunLockEvent::Held {
                            lock: store.lock_name().to_owned(),
                            holder: holder.clone(),
                            limit,
                        });
                        seen = Some(RunLockWait {
                            holder,
                            passed_to: Vec::new(),
                            waited_ms: 0,
                        });
                    }
                    Some(w) => {
                        on(&RunLockEvent::Passed {
                            holder: holder.clone(),
                            waited,
                            limit,
                        });
                        if w.passed_to.len() < PASSED_MAX {
                            w.passed_to.push(holder);
                        }
                    }
                }
            }
            LockTry::HeldBy(_) | LockTry::Free => {}
        }
        // An interrupt or a deadline may have come while we waited.
        let bound = limit_now(store);
        let waited = started.elapsed();
        if waited >= bound {
            // Who holds it now, not as it was when the wait began (it may have been idle
            // for 8 s then, and for 68 s now).
            if let (Some(w), Some(id)) = (seen.as_mut(), last) {
                let held = w.passed_to.last_mut().unwrap_or(&mut w.holder);
                if held.connection == id {
                    *held = store.lock_holder(id);
                }
            }
            return Err(StoreError::LockTimeout {
                name: store.lock_name().to_owned(),
                // Whole milliseconds: cut short by an interrupt, it is any instant.
                timeout: Duration::from_millis(bound.as_millis() as u64),
                wait: seen.map(|mut w| {
                    w.waited_ms = waited.as_millis() as u64;
                    Box::new(w)
                }),
            });
        }
        if waited >= next_tick {
            on(&RunLockEvent::Waiting {
                holder: last,
                waited,
                limit,
            });
            while next_tick <= waited {
                next_tick += TICK;
            }
        }
        let chunk = (bound - waited).min(next_tick - waited).min(POLL);
        attempt = store.try_lock(chunk)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder() -> RunLockHolder {
        RunLockHolder {
            connection: 42,
            user: Some("deploy".into()),
            host: Some("10.0.0.5:51234".into()),
            command: Some("Sleep".into()),
            state: Some(String::new()),
            seconds: Some(8),
            ms: None,
            statement: None,
            hidden: None,
        }
    }

    #[test]
    fn a_holder_is_described_by_what_the_server_says() {
        assert_eq!(
            holder().to_string(),
            "connection 42 (deploy@10.0.0.5:51234), idle for 8 s"
        );
        let mariadb = RunLockHolder {
            ms: Some(8_213),
            ..holder()
        };
        assert_eq!(
            mariadb.to_string(),
            "connection 42 (deploy@10.0.0.5:51234), idle for 8.2 s"
        );
        let busy = RunLockHolder {
            command: Some("Query".into()),
            state: Some("User sleep".into()),
            seconds: Some(3),
            statement: Some("SELECT SLEEP(20)".into()),
            ..holder()
        };
        assert_eq!(
            busy.to_string(),
            "connection 42 (deploy@10.0.0.5:51234), Query `SELECT SLEEP(20)`, 3 s in its \
             current state (User sleep)"
        );
        let hidden = RunLockHolder::hidden(7, HIDDEN_NO_PROCESS);
        let text = hidden.to_string();
        assert!(
            text.starts_with("connection 7 (not visible to this user: ")
                && text.contains("PROCESS privilege"),
            "{text}"
        );
        // Untrusted text stays on one line.
        let odd = RunLockHolder {
            user: Some("a\nb".into()),
            ..holder()
        };
        assert!(!odd.to_string().contains('\n'));
    }

    #[test]
    fn each_event_is_one_line_for_people() {
        let held = RunLockEvent::Held {
            lock: "lambda-migrate:shop.gorp_migrations".into(),
            holder: holder(),
            limit: Duration::from_secs(60),
        };
        assert_eq!(
            held.to_string(),
            "waiting for the migration lock `lambda-migrate:shop.gorp_migrations`: held by \
             connection 42 (deploy@10.0.0.5:51234), idle for 8 s; waiting up to 60 s"
        );
        let passed = RunLockEvent::Passed {
            holder: RunLockHolder::hidden(43, HIDDEN_NO_PROCESS),
            waited: Duration::from_millis(5_300),
            limit: Duration::from_secs(60),
        };
        assert!(
            passed.to_string().starts_with(
                "the migration lock passed to connection 43 (not visible to this user: "
            ) && passed
                .to_string()
                .ends_with("; still waiting (5.3 s of up to 60 s)"),
            "{passed}"
        );
        let waiting = RunLockEvent::Waiting {
            holder: Some(42),
            waited: Duration::from_millis(10_004),
            limit: Duration::from_millis(12_500),
        };
        assert_eq!(
            waiting.to_string(),
            "still waiting for the migration lock held by connection 42: 10.0 s of up to 12.5 s"
        );
        let taken = RunLockEvent::Taken {
            waited: Duration::from_millis(7_340),
        };
        assert_eq!(taken.to_string(), "took the migration lock after 7.3 s");
        let wait = RunLockWait {
            holder: holder(),
            passed_to: vec![RunLockHolder::hidden(43, "x")],
            waited_ms: 12_000,
        };
        assert_eq!(
            wait.to_string(),
            "waited 12 s for the migration lock, held by connection 42 \
             (deploy@10.0.0.5:51234), idle for 8 s, then by connection 43 (x)"
        );
    }

    #[test]
    fn seconds_are_shown_to_a_tenth_under_a_minute() {
        assert_eq!(seconds(Duration::from_millis(400)), "0.4 s");
        assert_eq!(seconds(Duration::from_millis(12_040)), "12.0 s");
        assert_eq!(seconds(Duration::from_millis(75_300)), "75 s");
        assert_eq!(seconds(Duration::from_secs(2)), "2 s");
        assert_eq!(seconds(Duration::ZERO), "0 s");
    }

    #[test]
    fn a_wait_serializes_without_what_it_does_not_know() {
        let w = RunLockWait {
            holder: RunLockHolder::hidden(7, "x"),
            passed_to: Vec::new(),
            waited_ms: 5012,
        };
        let json = serde_json::to_value(&w).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"holder": {"connection": 7, "hidden": "x"}, "waited_ms": 5012})
        );
        let back: RunLockWait = serde_json::from_value(json).unwrap();
        assert_eq!(back, w);
    }
}
