//! Why planning refuses a run. Messages say what is wrong; what to do about it is a
//! [`crate::command::Remedy`], which each front end words in its own terms.

use super::{Direction, Drift, JournalState, Settled};

/// Why a run refuses to start. Nothing has been changed when planning fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// History rows without a migration file (sql-migrate's "unknown migration in
    /// database").
    #[error("unknown migration in database: {} (no such file)", list(ids))]
    Unknown {
        /// The ids, in apply order.
        ids: Vec<String>,
    },
    /// Applied migrations whose files changed since.
    #[error(
        "checksum mismatch: {} changed since applied (recorded {}, file {}){}",
        drift[0].id,
        short(&drift[0].recorded),
        short(&drift[0].file),
        more(drift.len())
    )]
    Drift {
        /// Every mismatch.
        drift: Vec<Drift>,
    },
    /// A migration was left part-way by an earlier run.
    #[error(
        "migration {id} ({direction}) is partial: statements 1..{applied} of {total} are committed \
         ({}){}; a resumed run continues from statement {} (line {})",
        state_words(*state),
        error.as_ref().map(|e| format!("; it stopped on: {e}")).unwrap_or_default(),
        applied + 1,
        next_line.map(|l| l.to_string()).unwrap_or_else(|| "?".into())
    )]
    Partial {
        /// The migration id.
        id: String,
        /// The direction that was running.
        direction: Direction,
        /// Statements committed.
        applied: usize,
        /// Statements in the file's section now.
        total: usize,
        /// Line of the next statement to run, if the file has one.
        next_line: Option<usize>,
        /// `running` (interrupted) or `failed`.
        state: JournalState,
        /// The recorded error.
        error: Option<String>,
    },
    /// A migration is in doubt at a statement: whether it took effect is unknown, and no
    /// run continues until a person records which it was.
    #[error(
        "migration {id} ({direction}) is in doubt at statement {statement}{}: whether it took \
         effect is unknown{}. Check on the database whether its change happened, then record \
         it with `resolve {id} --statement-committed {statement}` or \
         `resolve {id} --statement-not-committed {statement}`",
        line.map(|l| format!(" (line {l})")).unwrap_or_default(),
        error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default()
    )]
    InDoubt {
        /// The migration id.
        id: String,
        /// The direction that was running.
        direction: Direction,
        /// The statement in doubt (1-based).
        statement: usize,
        /// Its line in the file.
        line: Option<usize>,
        /// The recorded error.
        error: Option<String>,
    },
    /// A verdict on a statement that is not the one in doubt.
    #[error(
        "{id} is not in doubt at statement {statement}{}: a verdict (--statement-committed, \
         --statement-not-committed) only settles the statement `status` shows in doubt",
        state.as_ref().map(|s| format!(" (its journal says: {s})")).unwrap_or_else(|| " (it has no journal row)".into())
    )]
    NotInDoubt {
        /// The migration id.
        id: String,
        /// The statement named.
        statement: usize,
        /// What the journal says instead.
        state: Option<String>,
    },
    /// A partial migration cannot be resumed: its committed statements changed.
    #[error(
        "cannot resume {id} ({direction}): {}; the database holds the old text",
        match (statement, line) {
            (Some(s), Some(l)) => format!("statement {s} (line {l}) was committed but differs in the file now"),
            (Some(s), None) => format!("the file now has fewer than the {s} committed statements"),
            _ => "the committed statements differ from the file now".to_string(),
        }
    )]
    ResumeChanged {
        /// The migration id.
        id: String,
        /// The direction that was running.
        direction: Direction,
        /// 1-based number of the first statement that differs, when known.
        statement: Option<usize>,
        /// Its line in the file, when the file still has it.
        line: Option<usize>,
    },
    /// A statement text holds several statements, one of which MySQL commits implicitly:
    /// if a later one failed, nobody could tell what was committed.
    #[error(
        "migration {id} ({direction}): statement {statement} (line {line}) holds several \
         statements on one line, one of which MySQL commits implicitly (DDL); if a later one \
         failed, the journal could not tell what was committed. End each statement with `;` \
         at the end of its own line"
    )]
    HiddenCommit {
        /// The migration id.
        id: String,
        /// The section.
        direction: Direction,
        /// 1-based statement number in the section.
        statement: usize,
        /// Its line in the file.
        line: usize,
    },
    /// A partial migration has no file any more.
    #[error("migration {id} is partial ({applied} statements committed) but has no file")]
    PartialWithoutFile {
        /// The migration id.
        id: String,
        /// Statements committed.
        applied: usize,
    },
    /// `resolve` names an id that no file, history row or journal row knows.
    #[error("resolve {id}: no such migration file, history row or journal row")]
    NothingToResolve {
        /// The migration id.
        id: String,
    },
    /// A reversion that would run nothing: the migration's Down section is missing or
    /// empty, so only its history row would go and the schema would stay as it is.
    #[error(
        "migration {id} has no Down statements (its `-- +migrate Down` section is missing \
         or empty): {} would delete its history row and leave the schema unchanged{}",
        if *redo { "redo" } else { "reverting it" },
        if *redo { ", then fail to apply it again over what is still there" } else { "" }
    )]
    EmptyDown {
        /// The migration id (its file name).
        id: String,
        /// The command was `redo`.
        redo: bool,
    },
    /// `--version N` names no migration the command would reach: for `up`, none of the
    /// pending migrations after the newest applied one; for `down`, none of the applied
    /// ones (sql-migrate's "unknown migration with version id N").
    #[error(
        "no migration with version {version} is {}{}",
        if *down { "applied, so `down --version` cannot stop at it" }
        else { "pending after the newest applied one, so `up --version` cannot stop at it" },
        if nearest.is_empty() {
            if *down { " (nothing is applied)".to_owned() } else { " (nothing is pending)".to_owned() }
        } else {
            format!(" (nearest: {})", nearest.join(", "))
        }
    )]
    NoVersion {
        /// The version asked for.
        version: i64,
        /// The command was `down`.
        down: bool,
        /// The ids of the reachable migrations whose versions are nearest below and above.
        nearest: Vec<String>,
    },
    /// `resolve` names a migration whose records are settled: there is nothing to resolve,
    /// and recording otherwise is another command's work (`skip`, `down`).
    #[error(
        "resolve {id}: {}, so there is nothing to resolve (resolve settles a partial, failed \
         or in-doubt migration, or accepts a changed file)",
        match (settled, file) {
            (Settled::Applied, true) => "it is applied and its file is the one applied",
            (Settled::Applied, false) => "it is applied (a history row without a file) and no run left it part-way",
            (Settled::Pending, _) => "it is not applied and no run left it part-way",
        }
    )]
    Settled {
        /// The migration id.
        id: String,
        /// How it stands.
        settled: Settled,
        /// It has a migration file.
        file: bool,
    },
    /// A migration the plan would run was not parsed (see [`parse_needed`]); a bug in
    /// the caller, refused rather than run as empty.
    #[error("migration {id} was not parsed before planning (a bug in lambda-migrate)")]
    NotParsed {
        /// The migration id.
        id: String,
    },
}

fn list(ids: &[String]) -> String {
    match ids.len() {
        0 => String::new(),
        1..=5 => ids.join(", "),
        n => format!("{} and {} more", ids[..5].join(", "), n - 5),
    }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

fn more(n: usize) -> String {
    if n > 1 {
        format!(" and {} more migrations changed", n - 1)
    } else {
        String::new()
    }
}

fn state_words(state: JournalState) -> &'static str {
    match state {
        JournalState::Failed => "a statement failed",
        _ => "the run was interrupted",
    }
}
