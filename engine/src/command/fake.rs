//! An in-memory store for the command layer's tests: history and journal rows, a lock
//! another session may hold, failures scripted at a statement, and a deadline that
//! passes after a number of steps. Every statement commits on its own here (as in a
//! `notransaction` section), so a failure at statement N leaves N-1 committed.

use std::time::{Duration, Instant};

use super::MigrationFailure;
use crate::migration::Migration;
use crate::plan::{self, Action, Direction, HistoryRow, JournalRow, JournalState, Resolved, Step};
use crate::store::{LockTry, Read, Recorded, RunLockHolder, Store, StoreError};

/// The in-memory store.
#[derive(Debug, Default)]
pub(crate) struct Fake {
    /// The history table; `None` until created.
    pub history: Option<Vec<HistoryRow>>,
    /// The journal rows, one per id.
    pub journal: Vec<JournalRow>,
    /// Another session holds the run lock, for good (a try waits as the server would).
    pub held_elsewhere: bool,
    /// Other sessions hold the run lock for the next tries: each try takes the first
    /// id off; once empty, the lock is free.
    pub held_by: Vec<u64>,
    /// How long each try at the lock was allowed to wait, in order.
    pub tries: Vec<Duration>,
    /// We hold the run lock.
    pub locked: bool,
    /// Fail migration `.0` at its 1-based statement `.1`.
    pub fail: Option<(String, usize)>,
    /// The deadline passes once this many steps were applied.
    pub stop_after: Option<usize>,
    /// When the deadline passed (set once `stop_after` steps were applied).
    pub stop_at: Option<Instant>,
    /// Every statement sent, as `id: sql`.
    pub sent: Vec<String>,
    /// Steps applied.
    pub applied: usize,
    /// The notes `resolve` wrote, as (id, note).
    pub notes: Vec<(String, String)>,
}

impl Fake {
    /// A store whose history holds `ids` without journal rows, as sql-migrate leaves it.
    pub fn with_history(ids: &[&str]) -> Fake {
        Fake {
            history: Some(ids.iter().map(|id| row(id)).collect()),
            ..Fake::default()
        }
    }

    /// The history's ids, in table order.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .history
            .iter()
            .flatten()
            .map(|h| h.id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// The journal row of `id`.
    pub fn row(&self, id: &str) -> Option<&JournalRow> {
        self.journal.iter().find(|j| j.id == id)
    }

    fn upsert(&mut self, row: JournalRow) {
        match self.journal.iter_mut().find(|j| j.id == row.id) {
            Some(j) => *j = row,
            None => self.journal.push(row),
        }
    }

    fn set_applied(&mut self, id: &str, applied: bool) {
        let history = self.history.get_or_insert_with(Vec::new);
        history.retain(|h| h.id != id);
        if applied {
            history.push(row(id));
        }
    }
}

/// The connection id of the session that holds the lock for good (`held_elsewhere`).
pub(super) const FOREVER: u64 = 99;

fn row(id: &str) -> HistoryRow {
    HistoryRow {
        id: id.to_string(),
        applied_at: Some("2026-01-01 00:00:00".into()),
    }
}

impl Store for Fake {
    fn read_state(&mut self, read: Read) -> Result<Recorded, StoreError> {
        if self.history.is_none() && read.creates() {
            self.history = Some(Vec::new());
        }
        let history = self.history.clone().unwrap_or_default();
        let journal = self
            .journal
            .iter()
            .map(|j| JournalRow {
                // A finished row's progress is never read (as from the real table).
                statements_applied: if j.state.unfinished() {
                    j.statements_applied
                } else {
                    0
                },
                ..j.clone()
            })
            .collect();
        Ok(Recorded { history, journal })
    }

    fn try_lock(&mut self, wait: Duration) -> Result<LockTry, StoreError> {
        self.tries.push(wait);
        if self.held_elsewhere {
            std::thread::sleep(wait);
            return Ok(LockTry::HeldBy(FOREVER));
        }
        if !self.held_by.is_empty() {
            return Ok(LockTry::HeldBy(self.held_by.remove(0)));
        }
        self.locked = true;
        Ok(LockTry::Taken)
    }

    fn lock_holder(&mut self, connection: u64) -> RunLockHolder {
        RunLockHolder {
            connection,
            user: Some("other".into()),
            host: Some("10.0.0.9:4000".into()),
            command: Some("Sleep".into()),
            seconds: Some(connection),
            ..RunLockHolder::default()
        }
    }

    fn lock_name(&self) -> &str {
        "fake-lock"
    }

    fn release(&mut self) {
        self.locked = false;
    }

    fn lock_held(&mut self) -> Result<bool, StoreError> {
        Ok(self.held_elsewhere || self.locked)
    }

    fn adopt(&mut self, migrations: &[Migration<'_>], which: &[usize]) -> Result<(), StoreError> {
        for &i in which {
            let m = &migrations[i];
            self.upsert(JournalRow {
                id: m.id.into(),
                sha256: Some(m.sha256.clone()),
                direction: Direction::Up,
                state: JournalState::Adopted,
                statements_applied: m.up.statements.len(),
                applied_sha256: None,
                statement_hashes: None,
                error: None,
            });
        }
        Ok(())
    }

    fn apply(
        &mut self,
        m: &Migration<'_>,
        step: &Step,
        _next: Option<(&Migration<'_>, &Step)>,
    ) -> Result<(), Box<MigrationFailure>> {
        let stmts = &plan::section(m, step.direction).statements;
        let mut hasher = plan::StatementHasher::new();
        for s in &stmts[..step.resume_from] {
            hasher.push(&s.sql);
        }
        if step.action == Action::Run {
            for (i, s) in stmts.iter().enumerate().skip(step.resume_from) {
                if self
                    .fail
                    .as_ref()
                    .is_some_and(|(id, n)| id == m.id && *n == i + 1)
                {
                    let failure = MigrationFailure {
                        id: m.id.into(),
                        direction: step.direction,
                        statement: i + 1,
                        total: stmts.len(),
                        line: Some(s.line),
                        code: Some(1064),
                        message: "scripted failure".into(),
                        committed: Some(i),
                        connection_lost: false,
                        completed: Vec::new(),
                        lock_wait: None,
                        deadline: None,
                        interrupted: false,
                        in_doubt: false,
                    };
                    self.upsert(JournalRow {
                        id: m.id.into(),
                        sha256: Some(m.sha256.clone()),
                        direction: step.direction,
                        state: JournalState::Failed,
                        statements_applied: i,
                        applied_sha256: Some(hasher.digest()),
                        statement_hashes: Some(hasher.shorts().to_string()),
                        error: Some(failure.to_string()),
                    });
                    return Err(Box::new(failure));
                }
                self.sent.push(format!("{}: {}", m.id, s.sql.trim_end()));
                hasher.push(&s.sql);
            }
        }
        self.set_applied(m.id, step.direction == Direction::Up);
        self.upsert(JournalRow {
            id: m.id.into(),
            sha256: Some(m.sha256.clone()),
            direction: step.direction,
            state: step.final_state(),
            statements_applied: stmts.len(),
            applied_sha256: None,
            statement_hashes: None,
            error: None,
        });
        self.applied += 1;
        if self.stop_after == Some(self.applied) {
            self.stop_at = Some(Instant::now());
        }
        Ok(())
    }

    fn record_resolution(&mut self, r: &Resolved) -> Result<(), StoreError> {
        if !r.keep_history {
            self.set_applied(&r.id, r.applied);
        }
        self.upsert(JournalRow {
            id: r.id.clone(),
            sha256: r.sha256.clone(),
            direction: r.direction,
            state: r.state,
            statements_applied: r.statements_applied,
            applied_sha256: r.hashes.as_ref().map(|h| h.0.clone()),
            statement_hashes: r.hashes.as_ref().map(|h| h.1.clone()),
            error: None,
        });
        self.notes.push((r.id.clone(), r.note.clone()));
        Ok(())
    }

    fn stop_starting(&self) -> Option<Instant> {
        self.stop_at
            .or_else(|| (self.stop_after == Some(0)).then(Instant::now))
    }
}
