//! What a front end asks for: a [`Request`], the same whether it comes from the command
//! line, a migrator event or a pipeline's `UserParameters`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::plan::{Command, Options};

/// The commands, by name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommandName {
    /// Read, check and parse every migration; no database.
    Verify,
    /// Report what each statement will do to production; no database.
    Lint,
    /// What `up` would do; changes nothing.
    Plan,
    /// Every migration's state, and whether a run holds the lock.
    Status,
    /// Apply pending migrations. The default: the seed's migrator event, which names no
    /// command, means `up`.
    #[default]
    Up,
    /// Revert applied migrations, newest first.
    Down,
    /// Revert the newest applied migration and apply it again.
    Redo,
    /// Record pending migrations as applied without running them.
    Skip,
    /// Record by hand what a person did about a partial migration.
    Resolve,
}

impl CommandName {
    /// Every command, in the order help texts list them.
    pub const ALL: [CommandName; 9] = [
        CommandName::Verify,
        CommandName::Lint,
        CommandName::Plan,
        CommandName::Status,
        CommandName::Up,
        CommandName::Down,
        CommandName::Redo,
        CommandName::Skip,
        CommandName::Resolve,
    ];

    /// The command's name.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandName::Verify => "verify",
            CommandName::Lint => "lint",
            CommandName::Plan => "plan",
            CommandName::Status => "status",
            CommandName::Up => "up",
            CommandName::Down => "down",
            CommandName::Redo => "redo",
            CommandName::Skip => "skip",
            CommandName::Resolve => "resolve",
        }
    }

    /// The command a name spells, if any.
    pub fn parse(s: &str) -> Option<CommandName> {
        CommandName::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Whether the command only reads (a pipeline may run it before an approval).
    pub fn read_only(self) -> bool {
        matches!(
            self,
            CommandName::Verify | CommandName::Lint | CommandName::Plan | CommandName::Status
        )
    }

    /// Whether the command runs the migrations' SQL (unless a dry run): from an inline
    /// source, that SQL skipped the pipeline's review, so it needs its own permission.
    pub fn runs_sql(self) -> bool {
        matches!(
            self,
            CommandName::Up | CommandName::Down | CommandName::Redo
        )
    }
}

impl fmt::Display for CommandName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `resolve` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resolution {
    /// The migration is now fully applied.
    Applied,
    /// The migration is now fully rolled back (not applied).
    RolledBack,
    /// The statement in doubt ([`Request::statement`]) took effect.
    StatementCommitted,
    /// The statement in doubt ([`Request::statement`]) did not take effect.
    StatementNotCommitted,
}

impl Resolution {
    /// The words for messages: `applied` or `rolled back`.
    pub fn words(self) -> &'static str {
        match self {
            Resolution::Applied => "applied",
            Resolution::RolledBack => "rolled back",
            Resolution::StatementCommitted => "statement committed",
            Resolution::StatementNotCommitted => "statement not committed",
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A command with its options. Options a command does not take are refused by
/// [`Request::validate`] rather than ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// What to do; `up` when absent.
    #[serde(default)]
    pub command: CommandName,
    /// At most this many migrations; `0` means all. Absent: all, except `down` (one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// `up`, `down` or `plan` as far as the migration whose id's numeric prefix is this,
    /// and no further (sql-migrate's `-version`). Not with a limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Show what would be done; change nothing (`up`, `down`, `redo`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub dry_run: bool,
    /// With a dry run (or `plan`): the report carries the SQL the run would send, as
    /// one script for the `mysql` client.
    #[serde(default, skip_serializing_if = "is_false")]
    pub sql: bool,
    /// Continue a partial migration from its first uncommitted statement.
    #[serde(default, skip_serializing_if = "is_false")]
    pub resume: bool,
    /// Proceed although applied migrations' files changed (reported).
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_drift: bool,
    /// Ignore history rows that have no migration file.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore_unknown: bool,
    /// The migration `resolve` records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// What `resolve` records about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
    /// The statement in doubt a `statement-committed` or `statement-not-committed`
    /// resolution is about (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<usize>,
    /// A source with no migration in its folder is what was meant; without it, such a
    /// source is refused (a wrong folder would otherwise pass as "nothing to do").
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_empty: bool,
    /// Revert migrations whose Down section has no statement: the history row is
    /// deleted and the schema stays as it is. Without it such a reversion is refused.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_empty_down: bool,
    /// `lint`: the severity from which findings refuse the set (absent: errors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lint_fail_on: Option<crate::lint::FailOn>,
    /// `plan`: ask the server what each pending ALTER would do ([`crate::review`]).
    #[serde(default, skip_serializing_if = "is_false")]
    pub review: bool,
    /// `lint`: only the migrations not yet applied, which needs the database (the applied
    /// ones' Up sections still build the schema model).
    #[serde(default, skip_serializing_if = "is_false")]
    pub pending: bool,
}

/// A request that asks for something its command does not do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// An option the command does not take.
    #[error("`{command}` does not take `{option}`")]
    Option {
        /// The command.
        command: CommandName,
        /// The option's name.
        option: &'static str,
    },
    /// Both a limit and a version: sql-migrate ignores the limit then; we say so.
    #[error("`limit` and `version` do not go together: give one (a version goes exactly that far)")]
    LimitAndVersion,
    /// A version below zero, which no migration's numeric prefix can be.
    #[error("`version` is a migration id's numeric prefix, 0 or more")]
    NegativeVersion,
    /// A migrator event that names no usable source.
    #[error("bad event: {0}")]
    Event(&'static str),
    /// `resolve` without an id or an outcome.
    #[error("`resolve` needs the migration id and an outcome (applied or rolled-back)")]
    Resolve,
    /// A verdict on a statement in doubt without the statement, or a statement without
    /// a verdict.
    #[error(
        "`statement` goes with a statement-committed or statement-not-committed resolution, \
         and names the statement in doubt (from 1)"
    )]
    Verdict,
    /// The deployment does not let the migrator run this command.
    #[error("`{command}` is not allowed here (allowed: {allowed})")]
    NotAllowed {
        /// The command.
        command: CommandName,
        /// The allowed commands, comma-separated.
        allowed: String,
    },
    /// The deployment does not let the migrator run SQL sent inline with this command.
    #[error(
        "`{command}` with an inline source is not allowed here: its SQL comes from the \
         caller, not from the pipeline's reviewed artifact; run it on the artifact in S3 \
         (--source s3://...), or allow it by adding `{command}-inline` to the migrator's \
         ALLOWED_COMMANDS (allowed: {allowed})"
    )]
    InlineNotAllowed {
        /// The command.
        command: CommandName,
        /// The allowed commands, comma-separated.
        allowed: String,
    },
}

impl Request {
    /// A request for `command` with every option off.
    pub fn new(command: CommandName) -> Request {
        Request {
            command,
            ..Request::default()
        }
    }

    /// Refuses options the command does not take.
    pub fn validate(&self) -> Result<(), RequestError> {
        use CommandName::*;
        let c = self.command;
        let takes = |option: &'static str, ok: bool, set: bool| {
            if set && !ok {
                Err(RequestError::Option { command: c, option })
            } else {
                Ok(())
            }
        };
        takes(
            "limit",
            matches!(c, Plan | Up | Down | Skip),
            self.limit.is_some(),
        )?;
        takes(
            "version",
            matches!(c, Plan | Up | Down),
            self.version.is_some(),
        )?;
        if self.version.is_some() && self.limit.is_some_and(|n| n > 0) {
            return Err(RequestError::LimitAndVersion);
        }
        if self.version.is_some_and(|v| v < 0) {
            return Err(RequestError::NegativeVersion);
        }
        takes("dry_run", matches!(c, Up | Down | Redo), self.dry_run)?;
        takes(
            "sql",
            c == Plan || (self.dry_run && matches!(c, Up | Down | Redo)),
            self.sql,
        )?;
        takes("resume", matches!(c, Plan | Up | Down), self.resume)?;
        let runs = matches!(c, Plan | Up | Down | Redo | Skip | Status);
        takes("allow_drift", runs, self.allow_drift)?;
        takes("ignore_unknown", runs, self.ignore_unknown)?;
        takes("id", c == Resolve, self.id.is_some())?;
        takes("resolution", c == Resolve, self.resolution.is_some())?;
        takes("allow_empty", self.refuses_empty(), self.allow_empty)?;
        takes(
            "allow_empty_down",
            matches!(c, Down | Redo),
            self.allow_empty_down,
        )?;
        takes("lint_fail_on", c == Lint, self.lint_fail_on.is_some())?;
        takes("review", c == Plan, self.review)?;
        // One report at a time: a review is asked under the lock, a script only read.
        takes("sql", !self.review, self.sql)?;
        takes("pending", c == Lint, self.pending)?;
        if c == Resolve
            && (self.id.as_deref().is_none_or(str::is_empty) || self.resolution.is_none())
        {
            return Err(RequestError::Resolve);
        }
        let verdict = matches!(
            self.resolution,
            Some(Resolution::StatementCommitted | Resolution::StatementNotCommitted)
        );
        if verdict != self.statement.is_some_and(|n| n > 0) {
            return Err(RequestError::Verdict);
        }
        Ok(())
    }

    /// Whether this command refuses a source with no migration in its folder unless
    /// [`Request::allow_empty`]: every one that reads the set as a whole. `status` shows
    /// the history whatever the files, and `resolve` names one migration.
    pub fn refuses_empty(&self) -> bool {
        !matches!(self.command, CommandName::Status | CommandName::Resolve)
    }

    /// The planning options of a command that plans (`plan` plans an `up`); `None` for
    /// `verify`, `status` and `resolve`.
    pub fn options(&self) -> Option<Options> {
        let command = match self.command {
            CommandName::Plan | CommandName::Up => Command::Up,
            CommandName::Down => Command::Down,
            CommandName::Redo => Command::Redo,
            CommandName::Skip => Command::Skip,
            CommandName::Verify
            | CommandName::Lint
            | CommandName::Status
            | CommandName::Resolve => return None,
        };
        let mut o = Options::new(command);
        o.limit = match (self.command, self.limit) {
            // Reverting is explicit: one migration unless told otherwise (sql-migrate's).
            (CommandName::Down, None) => Some(1),
            (_, None | Some(0)) => None,
            (_, Some(n)) => Some(n),
        };
        if self.version.is_some() {
            o.limit = None;
        }
        o.version = self.version;
        o.resume = self.resume;
        o.allow_drift = self.allow_drift;
        o.ignore_unknown = self.ignore_unknown;
        o.allow_empty_down = self.allow_empty_down;
        Some(o)
    }

    /// Whether this request may change the database (`verify`, `plan`, `status` and dry
    /// runs never do).
    pub fn writes(&self) -> bool {
        !(self.command.read_only() || self.dry_run)
    }
}

/// One thing a deployment lets the migrator do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Permission {
    /// Run the command (for a command that runs SQL: from the artifact in S3).
    Run(CommandName),
    /// Run SQL sent inline with a command that runs SQL (`up-inline`, `down-inline`,
    /// `redo-inline`).
    Inline(CommandName),
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Permission::Run(c) => write!(f, "{c}"),
            Permission::Inline(c) => write!(f, "{c}-inline"),
        }
    }
}

/// What a deployment lets the migrator do (`ALLOWED_COMMANDS`): commands by name, and for
/// the commands that run SQL, running it from an inline source (`up-inline`), a separate
/// permission because that SQL skipped the pipeline's review and the trigger's digest
/// check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed(Vec<Permission>);

impl Allowed {
    /// The default: read-only commands, `up` of the artifact in S3 (the pipeline's, resume
    /// included) and `resolve`. Not `down`, `redo` and `skip`, which a pipeline never needs
    /// and which change history in ways an operator should choose to allow, nor SQL sent
    /// inline, which no pipeline stage reviewed.
    pub fn default_set() -> Allowed {
        Allowed(
            [
                CommandName::Verify,
                CommandName::Plan,
                CommandName::Status,
                CommandName::Up,
                CommandName::Resolve,
            ]
            .map(Permission::Run)
            .to_vec(),
        )
    }

    /// Parses a comma-separated list (`ALLOWED_COMMANDS`) of commands and `up-inline`,
    /// `down-inline`, `redo-inline`; `all` allows everything.
    pub fn parse(list: &str) -> Result<Allowed, String> {
        let mut out = Vec::new();
        for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let lower = word.to_ascii_lowercase();
            if lower == "all" {
                let inline = CommandName::ALL.into_iter().filter(|c| c.runs_sql());
                let all = CommandName::ALL.map(Permission::Run).into_iter();
                return Ok(Allowed(all.chain(inline.map(Permission::Inline)).collect()));
            }
            let permission = match lower.strip_suffix("-inline") {
                None => CommandName::parse(&lower).map(Permission::Run),
                Some(c) => CommandName::parse(c)
                    .filter(|c| c.runs_sql())
                    .map(Permission::Inline),
            }
            .ok_or_else(|| {
                format!("{word:?} is not a command (nor up-inline, down-inline or redo-inline)")
            })?;
            if !out.contains(&permission) {
                out.push(permission);
            }
        }
        Ok(Allowed(out))
    }

    /// Refuses a request the deployment does not allow. `inline`: its migrations came in
    /// the event, not from S3; a request that would run their SQL then needs the
    /// command's `-inline` permission instead of the command's own.
    pub fn check(&self, request: &Request, inline: bool) -> Result<(), RequestError> {
        let command = request.command;
        let runs_inline_sql = inline && request.writes() && command.runs_sql();
        if runs_inline_sql && self.0.contains(&Permission::Inline(command)) {
            return Ok(());
        }
        let allowed = self.to_string();
        match (self.0.contains(&Permission::Run(command)), runs_inline_sql) {
            (true, false) => Ok(()),
            (true, true) => Err(RequestError::InlineNotAllowed { command, allowed }),
            // Not allowed at all: the source does not matter.
            (false, _) => Err(RequestError::NotAllowed { command, allowed }),
        }
    }
}

impl fmt::Display for Allowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.0.iter().map(Permission::to_string).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_event_is_up() {
        let r: Request = serde_json::from_str("{}").unwrap();
        assert_eq!(r, Request::new(CommandName::Up));
        r.validate().unwrap();
        assert_eq!(r.options().unwrap().limit, None);
    }

    #[test]
    fn round_trip_and_defaults() {
        let r = Request {
            command: CommandName::Resolve,
            id: Some("1_a.sql".into()),
            resolution: Some(Resolution::RolledBack),
            ..Request::default()
        };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(
            json,
            r#"{"command":"resolve","id":"1_a.sql","resolution":"rolled-back"}"#
        );
        assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), r);
        r.validate().unwrap();
        let down: Request = serde_json::from_str(r#"{"command":"down"}"#).unwrap();
        assert_eq!(down.options().unwrap().limit, Some(1));
        let all: Request = serde_json::from_str(r#"{"command":"down","limit":0}"#).unwrap();
        assert_eq!(all.options().unwrap().limit, None);
    }

    #[test]
    fn options_a_command_does_not_take_are_refused() {
        let mut r = Request::new(CommandName::Status);
        r.resume = true;
        assert_eq!(
            r.validate(),
            Err(RequestError::Option {
                command: CommandName::Status,
                option: "resume"
            })
        );
        assert_eq!(
            Request::new(CommandName::Resolve).validate(),
            Err(RequestError::Resolve)
        );
        assert!(serde_json::from_str::<Request>(r#"{"command":"drop"}"#).is_err());
        for (command, ok) in [
            (CommandName::Down, true),
            (CommandName::Redo, true),
            (CommandName::Up, false),
        ] {
            let r = Request {
                allow_empty_down: true,
                ..Request::new(command)
            };
            assert_eq!(r.validate().is_ok(), ok, "{command}");
        }
        let r = Request {
            allow_empty: true,
            ..Request::new(CommandName::Status)
        };
        assert!(r.validate().is_err());
        let r: Request = serde_json::from_str(
            r#"{"command":"redo","allow_empty":true,"allow_empty_down":true}"#,
        )
        .unwrap();
        r.validate().unwrap();
        assert!(r.options().unwrap().allow_empty_down);
    }

    #[test]
    fn a_version_goes_with_up_down_and_plan_never_with_a_limit() {
        let down: Request = serde_json::from_str(r#"{"command":"down","version":3}"#).unwrap();
        down.validate().unwrap();
        // `down`'s default of one migration gives way: the version says how far.
        let o = down.options().unwrap();
        assert_eq!((o.limit, o.version), (None, Some(3)));
        let both = Request {
            limit: Some(2),
            ..down.clone()
        };
        assert_eq!(both.validate(), Err(RequestError::LimitAndVersion));
        let skip = Request {
            command: CommandName::Skip,
            ..down.clone()
        };
        assert!(matches!(
            skip.validate(),
            Err(RequestError::Option {
                option: "version",
                ..
            })
        ));
        let below = Request {
            version: Some(-1),
            ..down
        };
        assert_eq!(below.validate(), Err(RequestError::NegativeVersion));
    }

    #[test]
    fn allowed_commands() {
        let a = Allowed::default_set();
        assert_eq!(a.to_string(), "verify,plan,status,up,resolve");
        assert!(a.check(&Request::new(CommandName::Up), false).is_ok());
        let e = a
            .check(&Request::new(CommandName::Down), false)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "`down` is not allowed here (allowed: verify,plan,status,up,resolve)"
        );
        assert_eq!(
            Allowed::parse(" Status, plan,status ").unwrap().to_string(),
            "status,plan"
        );
        assert_eq!(
            Allowed::parse("all").unwrap().to_string(),
            "verify,lint,plan,status,up,down,redo,skip,resolve,up-inline,down-inline,redo-inline"
        );
        assert!(Allowed::parse("up,drop").unwrap_err().contains("drop"));
        let e = Allowed::parse("status-inline").unwrap_err();
        assert!(e.contains("\"status-inline\" is not a command"), "{e}");
    }

    #[test]
    fn sql_sent_inline_needs_its_own_permission() {
        let a = Allowed::default_set();
        let up = Request::new(CommandName::Up);
        let resume = Request {
            resume: true,
            ..up.clone()
        };
        // The pipeline's artifact in S3, resume included.
        assert!(a.check(&up, false).is_ok() && a.check(&resume, false).is_ok());
        // Inline: reading and recording are the commands' own; running SQL is not.
        for command in [
            CommandName::Verify,
            CommandName::Plan,
            CommandName::Status,
            CommandName::Resolve,
        ] {
            assert!(a.check(&Request::new(command), true).is_ok(), "{command}");
        }
        let dry = Request {
            dry_run: true,
            ..up.clone()
        };
        assert!(a.check(&dry, true).is_ok(), "a dry run runs no SQL");
        for r in [&up, &resume] {
            let e = a.check(r, true).unwrap_err();
            assert!(matches!(e, RequestError::InlineNotAllowed { .. }));
            let m = e.to_string();
            assert!(
                m.contains("`up-inline`") && m.contains("ALLOWED_COMMANDS"),
                "{m}"
            );
        }
        let with = Allowed::parse("status,up,Up-Inline,down").unwrap();
        assert_eq!(with.to_string(), "status,up,up-inline,down");
        assert!(with.check(&resume, true).is_ok());
        let down = Request::new(CommandName::Down);
        assert!(with.check(&down, false).is_ok());
        let e = with.check(&down, true).unwrap_err();
        assert!(e.to_string().contains("`down-inline`"), "{e}");
        // `up-inline` is its own permission: it does not allow `up` of an S3 artifact.
        let only = Allowed::parse("up-inline").unwrap();
        assert!(only.check(&up, true).is_ok() && only.check(&up, false).is_err());
        // A command not allowed at all is refused as such, whatever the source.
        let e = a.check(&down, true).unwrap_err();
        assert!(matches!(e, RequestError::NotAllowed { .. }), "{e}");
    }
}
