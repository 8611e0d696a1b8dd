//! The store: what the orchestrator ([`crate::command`]) needs from a database, and
//! nothing more. It reads the applied state, takes the run lock, applies one planned
//! step and writes what the planner decided; it decides nothing itself. The MySQL
//! `db::Database` (feature `mysql`) is one; the command layer's tests use an in-memory
//! one.

mod failure;
mod outcome;
mod runlock;

pub use failure::{Blocker, DeadlineStop, LockWait, MigrationFailure};
pub use outcome::{RunOutcome, StepReport, StepState, Stopped, step_report};
pub use runlock::{
    HIDDEN_NO_PROCESS, LockTry, POLL, RunLockEvent, RunLockHolder, RunLockWait, TICK, seconds,
};

use std::time::{Duration, Instant};

use crate::migration::Migration;
use crate::plan::{HistoryRow, JournalRow, Plan, Resolved, Step};

/// A boxed driver error, kept as the source of a [`StoreError`].
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// What a store could not do. Messages name the target and what was being done, and
/// never a password.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The connection could not be opened.
    #[error("cannot connect to {target}: {source}")]
    Connect {
        /// The redacted target.
        target: String,
        /// The driver's error.
        source: Cause,
    },
    /// The server refused the login (wrong user name or password); a caller holding a
    /// cached secret may read it again and retry.
    #[error("cannot connect to {target}: {source}")]
    AccessDenied {
        /// The redacted target.
        target: String,
        /// The driver's error.
        source: Cause,
    },
    /// A run's second connection, which holds its lock and stops its statements (at the
    /// deadline, on Ctrl-C), could not be opened: no migration was started.
    #[error(
        "cannot open the run's second connection to {target}, which holds the migration \
         lock and can stop a running statement (at the deadline, on Ctrl-C); no migration \
         was started. A run needs two connections: check the server's max_connections and \
         the user's max_user_connections: {source}"
    )]
    SecondConnection {
        /// The redacted target.
        target: String,
        /// The driver's error.
        source: Cause,
    },
    /// Neither the settings nor the connection name a schema.
    #[error(
        "no database selected: name it in the URL (mysql://…/DB), DB_NAME, or the config's schema"
    )]
    NoDatabase,
    /// Another session holds the lock.
    #[error(
        "migration lock `{name}` not obtained within {}s: {}",
        timeout.as_secs_f64(),
        held_by(wait.as_deref())
    )]
    LockTimeout {
        /// The lock's name.
        name: String,
        /// How long we waited.
        timeout: Duration,
        /// Who held it, and how long we waited, when we saw who.
        wait: Option<Box<RunLockWait>>,
    },
    /// One of our own bookkeeping queries failed.
    #[error("{what}: {source}")]
    Query {
        /// What we were doing.
        what: String,
        /// The driver's error.
        source: Cause,
    },
    /// The user lacks a privilege our own bookkeeping needs (before any migration, or
    /// around one): the deployment's grants are to fix.
    #[error(
        "{what}: {source}; the database user lacks a privilege that lambda-migrate's own \
         tables need: grant it on the target schema (nothing was applied by this step)"
    )]
    Denied {
        /// What we were doing.
        what: String,
        /// The driver's error.
        source: Cause,
    },
    /// `plan --review` cannot be done on this server at all (a privilege, the server's
    /// version): the deployment is to fix.
    #[error("the review cannot ask this server: {reason}")]
    ReviewUnavailable {
        /// Why, naming the privilege or version.
        reason: String,
    },
    /// A journal row holds something we did not write.
    #[error("journal row for {id}: {detail}")]
    BadJournal {
        /// The migration id.
        id: String,
        /// What is wrong.
        detail: String,
    },
}

/// Who holds the lock, for [`StoreError::LockTimeout`]'s message.
fn held_by(wait: Option<&RunLockWait>) -> String {
    match wait {
        Some(w) => format!("held by {}", w.last_holder()),
        None => "another migration run holds it".into(),
    }
}

/// What a read is for, which decides whether missing tables are created and whether
/// `applied_at` is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// `status`: with `applied_at`; missing tables read as empty.
    Status,
    /// A dry run: changes nothing, so missing tables read as empty.
    DryRun,
    /// A run or a `resolve`, under the lock: missing tables are created.
    Run,
}

impl Read {
    /// Missing tables are created.
    pub fn creates(self) -> bool {
        self == Read::Run
    }

    /// `applied_at` is read (runs never show it, and a no-op run's cost is mostly the
    /// reads).
    pub fn applied_at(self) -> bool {
        self == Read::Status
    }
}

/// What the database records: the history table and the journal, as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// The history rows.
    pub history: Vec<HistoryRow>,
    /// The journal rows.
    pub journal: Vec<JournalRow>,
}

/// A database the orchestrator runs commands against.
pub trait Store {
    /// Reads the history and the journal (see [`Read`]).
    fn read_state(&mut self, read: Read) -> Result<Recorded, StoreError>;

    /// One try at the run lock, waiting up to `wait` (zero: not at all), and who holds
    /// it when it is not taken. Call [`Store::lock`], whose guard releases it.
    fn try_lock(&mut self, wait: Duration) -> Result<LockTry, StoreError>;

    /// What the server shows of session `connection`, which holds the run lock. Never
    /// fails: what cannot be seen is said in [`RunLockHolder::hidden`].
    fn lock_holder(&mut self, connection: u64) -> RunLockHolder;

    /// The run lock's name, for messages.
    fn lock_name(&self) -> &str;

    /// Releases the run lock taken by [`Store::lock`]; errors are ignored (closing
    /// the connection releases it too). Called by [`Locked`]'s drop.
    fn release(&mut self);

    /// Whether any session holds the run lock right now; takes nothing, so a `status`
    /// never gets in a run's way.
    fn lock_held(&mut self) -> Result<bool, StoreError>;

    /// Records the files' checksums for the applied migrations `which` (indices into
    /// `migrations`) that have none.
    fn adopt(&mut self, migrations: &[Migration<'_>], which: &[usize]) -> Result<(), StoreError>;

    /// Applies one planned step of `m`: its statements (from `step.resume_from`) and
    /// its history and journal rows. On failure, says what is committed now. `next` is
    /// the step the run means to start after it: a store may record in the same write
    /// that it is about to start (see [`Store::withdraw`]).
    fn apply(
        &mut self,
        m: &Migration<'_>,
        step: &Step,
        next: Option<(&Migration<'_>, &Step)>,
    ) -> Result<(), Box<MigrationFailure>>;

    /// The run will not start the `next` step it last passed to [`Store::apply`] (it
    /// stopped at its deadline, or was interrupted): undo what announcing it wrote.
    fn withdraw(&mut self) {}

    /// Writes what `resolve` decided.
    fn record_resolution(&mut self, r: &Resolved) -> Result<(), StoreError>;

    /// No migration starts at or after this instant (a caller with a deadline).
    fn stop_starting(&self) -> Option<Instant> {
        None
    }

    /// `plan --review`'s live half: asks the server what each question's change would
    /// get, on probe tables it drops again, weighed by the store's own settings, with
    /// the run lock held by the caller.
    /// Stores that cannot be asked refuse.
    fn review(
        &mut self,
        questions: &[crate::review::Question],
    ) -> Result<crate::review::Observed, StoreError> {
        let _ = questions;
        Err(StoreError::ReviewUnavailable {
            reason: "this store has no server to ask".into(),
        })
    }

    /// After a dry run's [`Store::read_state`]: the SQL a run of `plan` over
    /// `migrations` would send, in order, as one script for the `mysql` client, waiting
    /// up to `lock_timeout` for the lock. `None` when the store has no SQL to show.
    fn script(
        &mut self,
        migrations: &[Migration<'_>],
        plan: &Plan,
        lock_timeout: Duration,
    ) -> Result<Option<String>, StoreError> {
        let _ = (migrations, plan, lock_timeout);
        Ok(None)
    }

    /// Takes the run lock, waiting up to `timeout` (less before [`Store::stop_starting`]),
    /// telling `on` who holds it and how long it has waited ([`RunLockEvent`]); the guard
    /// releases it when dropped, whatever happened meanwhile.
    fn lock(
        &mut self,
        timeout: Duration,
        on: &mut dyn FnMut(&RunLockEvent),
    ) -> Result<Locked<'_, Self>, StoreError>
    where
        Self: Sized,
    {
        let waited = runlock::wait(self, timeout, on)?;
        Ok(Locked {
            store: self,
            waited,
        })
    }
}

/// The run lock, held: the store is used through it, and dropping it releases the lock.
pub struct Locked<'s, S: Store> {
    store: &'s mut S,
    waited: Option<RunLockWait>,
}

impl<S: Store> Locked<'_, S> {
    /// The wait for the lock, when it was held by another session at first.
    pub fn waited(&self) -> Option<RunLockWait> {
        self.waited.clone()
    }
}

impl<S: Store> std::ops::Deref for Locked<'_, S> {
    type Target = S;
    fn deref(&self) -> &S {
        self.store
    }
}

impl<S: Store> std::ops::DerefMut for Locked<'_, S> {
    fn deref_mut(&mut self) -> &mut S {
        self.store
    }
}

impl<S: Store> Drop for Locked<'_, S> {
    fn drop(&mut self) {
        self.store.release();
    }
}

/// A borrowed store is a store: a caller keeps its store (to inspect or reuse it) while
/// [`crate::command::execute`] runs a command on it.
impl<S: Store> Store for &mut S {
    fn read_state(&mut self, read: Read) -> Result<Recorded, StoreError> {
        (**self).read_state(read)
    }
    fn try_lock(&mut self, wait: Duration) -> Result<LockTry, StoreError> {
        (**self).try_lock(wait)
    }
    fn lock_holder(&mut self, connection: u64) -> RunLockHolder {
        (**self).lock_holder(connection)
    }
    fn lock_name(&self) -> &str {
        (**self).lock_name()
    }
    fn release(&mut self) {
        (**self).release()
    }
    fn lock_held(&mut self) -> Result<bool, StoreError> {
        (**self).lock_held()
    }
    fn adopt(&mut self, migrations: &[Migration<'_>], which: &[usize]) -> Result<(), StoreError> {
        (**self).adopt(migrations, which)
    }
    fn apply(
        &mut self,
        m: &Migration<'_>,
        step: &Step,
        next: Option<(&Migration<'_>, &Step)>,
    ) -> Result<(), Box<MigrationFailure>> {
        (**self).apply(m, step, next)
    }
    fn withdraw(&mut self) {
        (**self).withdraw()
    }
    fn record_resolution(&mut self, r: &Resolved) -> Result<(), StoreError> {
        (**self).record_resolution(r)
    }
    fn stop_starting(&self) -> Option<Instant> {
        (**self).stop_starting()
    }
    fn review(
        &mut self,
        questions: &[crate::review::Question],
    ) -> Result<crate::review::Observed, StoreError> {
        (**self).review(questions)
    }
    fn script(
        &mut self,
        migrations: &[Migration<'_>],
        plan: &Plan,
        lock_timeout: Duration,
    ) -> Result<Option<String>, StoreError> {
        (**self).script(migrations, plan, lock_timeout)
    }
}
