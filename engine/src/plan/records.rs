//! The records planning reads and writes: the history table's rows, the journal's rows
//! with their direction and state, and the hash of a migration's committed statements.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::migration::hex;

/// Which way a migration runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The `-- +migrate Up` section.
    Up,
    /// The `-- +migrate Down` section.
    Down,
}

impl Direction {
    /// The journal's spelling: `up` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }

    /// Parses the journal's spelling.
    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "up" => Some(Direction::Up),
            "down" => Some(Direction::Down),
            _ => None,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state a journal row records for a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum JournalState {
    /// Applied completely by lambda-migrate; the history row exists.
    Applied,
    /// Reverted completely; the history row was deleted.
    Reverted,
    /// Recorded as applied without running it (`skip`).
    Skipped,
    /// Applied by someone else (e.g. sql-migrate); the file's checksum was adopted.
    Adopted,
    /// A run started it and never finished: the connection or process died. The
    /// statements counted as applied are committed.
    Running,
    /// A statement failed; the statements counted as applied are committed.
    Failed,
    /// Whether the statement after the committed ones took effect is unknown (the
    /// connection was lost while it ran, or a `CALL` failed part-way); no run continues
    /// until a person says which it was.
    InDoubt,
    /// A person recorded with `resolve --applied` that it is applied.
    ResolvedApplied,
    /// A person recorded with `resolve --rolled-back` that it is not applied.
    ResolvedRolledBack,
}

impl JournalState {
    /// The journal's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            JournalState::Applied => "applied",
            JournalState::Reverted => "reverted",
            JournalState::Skipped => "skipped",
            JournalState::Adopted => "adopted",
            JournalState::Running => "running",
            JournalState::Failed => "failed",
            JournalState::InDoubt => "in-doubt",
            JournalState::ResolvedApplied => "resolved-applied",
            JournalState::ResolvedRolledBack => "resolved-rolled-back",
        }
    }

    /// Parses the journal's spelling.
    pub fn parse(s: &str) -> Option<JournalState> {
        Some(match s {
            "applied" => JournalState::Applied,
            "reverted" => JournalState::Reverted,
            "skipped" => JournalState::Skipped,
            "adopted" => JournalState::Adopted,
            "running" => JournalState::Running,
            "failed" => JournalState::Failed,
            "in-doubt" => JournalState::InDoubt,
            "resolved-applied" => JournalState::ResolvedApplied,
            "resolved-rolled-back" => JournalState::ResolvedRolledBack,
            _ => return None,
        })
    }

    /// The row's checksum describes the file as it is applied now.
    pub(super) fn vouches_for_checksum(self) -> bool {
        matches!(
            self,
            JournalState::Applied
                | JournalState::Skipped
                | JournalState::Adopted
                | JournalState::ResolvedApplied
        )
    }

    /// Nothing about the migration is left open: a run (or a person) finished with it.
    /// Listed, not derived, so a state added later counts as open until said otherwise.
    pub(crate) fn settled(self) -> bool {
        matches!(
            self,
            JournalState::Applied
                | JournalState::Reverted
                | JournalState::Skipped
                | JournalState::Adopted
                | JournalState::ResolvedApplied
                | JournalState::ResolvedRolledBack
        )
    }

    /// The states of a row whose run stopped part-way.
    pub(crate) const UNFINISHED: [JournalState; 3] = [
        JournalState::Running,
        JournalState::Failed,
        JournalState::InDoubt,
    ];

    /// The run that wrote the row stopped part-way.
    pub(crate) fn unfinished(self) -> bool {
        Self::UNFINISHED.contains(&self)
    }
}

impl fmt::Display for JournalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of the history table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    /// The migration id (file base name).
    pub id: String,
    /// `applied_at` as the server formats it (UTC, in the column's precision) when it was
    /// read (only `status` reads it): `""` for a NULL.
    pub applied_at: Option<String>,
}

/// One row of lambda-migrate's journal table (one per migration id: its latest state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRow {
    /// The migration id.
    pub id: String,
    /// SHA-256 of the file when it was applied or adopted.
    pub sha256: Option<String>,
    /// The direction of the last run that touched it.
    pub direction: Direction,
    /// Its state.
    pub state: JournalState,
    /// How many statements of `direction` are committed, counted from the first. Only
    /// an unfinished row's count is read from the table (it means nothing once a run
    /// finished); a finished row reads 0.
    pub statements_applied: usize,
    /// [`StatementHasher`] digest of the committed statements.
    pub applied_sha256: Option<String>,
    /// [`StatementHasher`] short per-statement hashes of the committed statements, kept
    /// while the migration is unfinished so a resume can name the statement that changed.
    pub statement_hashes: Option<String>,
    /// The error that stopped it, if any.
    pub error: Option<String>,
}

/// The running hash of a migration's applied statements, and their short hashes.
#[derive(Clone, Default)]
pub struct StatementHasher {
    running: Sha256,
    shorts: String,
    count: usize,
}

impl StatementHasher {
    /// A hasher with nothing applied.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one applied statement.
    pub fn push(&mut self, sql: &str) {
        // Length-prefixed so that statement boundaries are part of what is hashed.
        self.running.update((sql.len() as u64).to_le_bytes());
        self.running.update(sql.as_bytes());
        if self.count > 0 {
            self.shorts.push(' ');
        }
        self.shorts.push_str(&short_hash(sql));
        self.count += 1;
    }

    /// Hex digest of the statements pushed so far.
    pub fn digest(&self) -> String {
        hex(&self.running.clone().finalize())
    }

    /// Space-separated short hashes, one per statement pushed.
    pub fn shorts(&self) -> &str {
        &self.shorts
    }

    /// How many statements were pushed.
    pub fn count(&self) -> usize {
        self.count
    }
}

/// The first 16 hex digits of a statement's SHA-256.
pub fn short_hash(sql: &str) -> String {
    hex(&Sha256::digest(sql.as_bytes())[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hasher_is_boundary_sensitive() {
        let mut a = StatementHasher::new();
        a.push("ab");
        a.push("c");
        let mut b = StatementHasher::new();
        b.push("a");
        b.push("bc");
        assert_ne!(a.digest(), b.digest());
        assert_eq!(a.count(), 2);
        assert_eq!(a.shorts().split(' ').count(), 2);
        assert_eq!(a.shorts().len(), 33);
    }

    #[test]
    fn states_round_trip() {
        for s in [
            JournalState::Applied,
            JournalState::Reverted,
            JournalState::Skipped,
            JournalState::Adopted,
            JournalState::Running,
            JournalState::Failed,
            JournalState::ResolvedApplied,
            JournalState::ResolvedRolledBack,
        ] {
            assert_eq!(JournalState::parse(s.as_str()), Some(s));
        }
        assert_eq!(JournalState::parse("bogus"), None);
        assert_eq!(Direction::parse("up"), Some(Direction::Up));
    }
}
