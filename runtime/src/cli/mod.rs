//! The `lambda-migrate` command line: arguments in, one engine
//! [`Request`](engine::command::Request) out, run here ([`local`]) or inside the migrator
//! function (`--via-lambda`, [`remote`]), and the report rendered the same either way.
//!
//! Exit codes come from [`engine::command::ErrorKind::exit_code`]: 0 done, 1 a migration
//! failed, 2 bad input or configuration (nothing applied), 3 the lock was not obtained,
//! 4 drift, 5 unknown history rows, 6 a partial migration blocks the run, 7 the database
//! or the migrator function could not be reached, 8 internal error, 9 `lint` refused
//! the migrations.

pub mod args;
pub mod database;
pub mod local;
pub mod new;
#[cfg(feature = "remote")]
pub mod remote;
pub mod render;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use engine::command::CommandName;

use crate::text::one_line;

use args::{
    Invocation, LintArgs, PlanArgs, RedoArgs, ResolveArgs, RunArgs, StatusArgs, VerifyArgs,
};

/// Applies sql-migrate migrations to MySQL from a zip artifact or a directory.
#[derive(Debug, Parser)]
#[command(name = "lambda-migrate", version, about, max_term_width = 100)]
pub struct Cli {
    /// Run the command inside the migrator Lambda FUNCTION (name or ARN) instead of here:
    /// no direct database connection needed. A local --source is sent inline.
    #[arg(
        long,
        global = true,
        env = "LAMBDA_MIGRATE_VIA_LAMBDA",
        value_name = "FUNCTION"
    )]
    pub via_lambda: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read, check and parse every migration, and list them in apply order.
    Verify(VerifyArgs),
    /// Report what each statement would do to production (drops, renames, table copies,
    /// non-atomic migrations); no database. See docs/lint.md.
    Lint(LintArgs),
    /// Show what `up` would do; change nothing.
    Plan(PlanArgs),
    /// Show every migration: applied when, checksum, partial state.
    Status(StatusArgs),
    /// Apply pending migrations (with sql-migrate's catch-up of older unapplied ones).
    Up(RunArgs),
    /// Revert applied migrations, newest first (default: one).
    Down(RunArgs),
    /// Revert the newest applied migration and apply it again.
    Redo(RedoArgs),
    /// Record pending migrations as applied without running them.
    Skip(RunArgs),
    /// Record by hand that a partial migration is now applied or rolled back.
    Resolve(ResolveArgs),
    /// Create an empty migration file named YYYYMMDDHHMMSS-NAME.sql.
    New(new::NewArgs),
}

/// A failure to report: the exit code and a one-line message.
#[derive(Debug)]
pub struct Failure {
    /// The process exit code.
    pub code: u8,
    /// What went wrong, for stderr.
    pub message: String,
}

/// The exit status after stdout was closed under us: 128 + SIGPIPE, as a shell reports
/// a filter killed by a broken pipe.
pub const BROKEN_PIPE: u8 = 141;

impl Failure {
    /// Output could not be written. A closed stdout (`| head`) ends the program quietly
    /// with [`BROKEN_PIPE`]; anything else is said.
    pub fn output(e: std::io::Error) -> Failure {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Failure {
                code: BROKEN_PIPE,
                message: String::new(),
            }
        } else {
            Failure {
                code: engine::command::ErrorKind::Internal.exit_code(),
                message: format!("writing the output failed: {e}"),
            }
        }
    }

    /// Bad input or configuration (exit 2).
    pub fn bad_input(message: impl std::fmt::Display) -> Failure {
        Failure {
            code: engine::command::ErrorKind::BadRequest.exit_code(),
            message: message.to_string(),
        }
    }
}

impl Command {
    /// The engine request this command stands for; `None` for `new`, which only writes
    /// a file here.
    fn invocation(&self) -> Option<Invocation<'_>> {
        Some(match self {
            Command::Verify(a) => a.invocation(),
            Command::Lint(a) => a.invocation(),
            Command::Plan(a) => a.invocation(),
            Command::Status(a) => a.invocation(),
            Command::Up(a) => a.invocation(CommandName::Up),
            Command::Down(a) => a.invocation(CommandName::Down),
            Command::Redo(a) => a.invocation(),
            Command::Skip(a) => a.invocation(CommandName::Skip),
            Command::Resolve(a) => a.invocation(),
            Command::New(_) => return None,
        })
    }
}

fn dispatch(cli: &Cli) -> Result<(), Failure> {
    let Some(inv) = cli.command.invocation() else {
        let Command::New(a) = &cli.command else {
            unreachable!("only `new` has no engine request")
        };
        if cli.via_lambda.is_some() {
            return Err(Failure::bad_input(
                "`new` creates a file here; it does not run --via-lambda",
            ));
        }
        return new::run(a);
    };
    if let Command::Lint(a) = &cli.command {
        let unused = a.unused();
        if !unused.is_empty() {
            return Err(Failure::bad_input(format!(
                "`lint` does not use {}{}",
                unused.join(", "),
                if a.pending {
                    ""
                } else {
                    " without --pending (only --pending reads the database)"
                }
            )));
        }
        if cli.via_lambda.is_some() && !a.pending {
            // Without a database nothing is gained by running it in the migrator.
            return Err(Failure::bad_input(
                "`lint` reads the migrations here and needs no database; it runs \
                 --via-lambda only with --pending (the migrator's database says which \
                 migrations are applied)",
            ));
        }
    }
    match cli.via_lambda.as_deref().filter(|f| !f.is_empty()) {
        #[cfg(feature = "remote")]
        Some(function) => {
            // A local run warns after reading its settings (a dbconfig.yml may use more).
            for warning in crate::settings::Process::new().unknown() {
                let _ = writeln!(std::io::stderr(), "warning: {warning}");
            }
            remote::run(function, inv)
        }
        #[cfg(not(feature = "remote"))]
        Some(_) => Err(Failure::bad_input(
            "this build has no --via-lambda support (build with the `remote` feature)",
        )),
        None => local::run(inv),
    }
}

/// Parses the arguments, runs the subcommand, prints any failure as one `error:` line.
pub fn main() -> ExitCode {
    let cli = Cli::parse_from(args::sql_migrate_flags(std::env::args_os()));
    let result = dispatch(&cli);
    #[cfg(feature = "mysql")]
    if let (Some(code), Some(sig)) = (crate::signals::exit_code(), crate::signals::received()) {
        let said = match &result {
            Err(f) if !f.message.is_empty() => format!(": {}", one_line(&f.message)),
            _ => String::new(),
        };
        // One line, whatever the message holds (file names and SQL are untrusted).
        let _ = writeln!(
            std::io::stderr(),
            "interrupted by {sig}: nothing of ours runs on the server; `status` shows what is \
             committed{said}"
        );
        return ExitCode::from(code);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                let _ = writeln!(std::io::stderr(), "error: {}", one_line(&failure.message));
            }
            ExitCode::from(failure.code)
        }
    }
}
