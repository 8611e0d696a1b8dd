//! The `lambda-migrate` command line: argument parsing, exit codes, error printing.
//! Each subcommand lives in its own module.

pub mod broken_pipe;
#[cfg(feature = "mysql")]
pub mod db;
pub mod new;
#[cfg(feature = "mysql")]
pub mod resolve;
pub mod source;
#[cfg(feature = "mysql")]
pub mod status;
#[cfg(feature = "mysql")]
pub mod up;
pub mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use engine::Limits;

/// Applies sql-migrate migrations to MySQL from a zip artifact or a directory.
#[derive(Debug, Parser)]
#[command(name = "lambda-migrate", version, about, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read, check and parse every migration, and list them in apply order.
    Verify(verify::VerifyArgs),
    /// Apply pending migrations (with sql-migrate's catch-up of older unapplied ones).
    #[cfg(feature = "mysql")]
    Up(up::UpArgs),
    /// Revert applied migrations, newest first (default: one).
    #[cfg(feature = "mysql")]
    Down(up::DownArgs),
    /// Revert the newest applied migration and apply it again.
    #[cfg(feature = "mysql")]
    Redo(up::RedoArgs),
    /// Show every migration: applied when, checksum, partial state.
    #[cfg(feature = "mysql")]
    Status(status::StatusArgs),
    /// Show what `up` would do; change nothing.
    #[cfg(feature = "mysql")]
    Plan(up::PlanArgs),
    /// Record pending migrations as applied without running them.
    #[cfg(feature = "mysql")]
    Skip(up::SkipArgs),
    /// Record by hand that a partial migration is now applied or rolled back.
    #[cfg(feature = "mysql")]
    Resolve(resolve::ResolveArgs),
    /// Create an empty migration file named YYYYMMDDHHMMSS-NAME.sql.
    New(new::NewArgs),
}

/// Where the migrations come from; shared by every subcommand that reads them.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// A zip artifact or a directory of .sql files.
    #[arg(long, default_value = "./migrations", value_name = "ZIP|DIR")]
    pub source: PathBuf,
    /// The migrations folder inside a zip artifact.
    #[arg(long, default_value = "migrations", value_name = "NAME")]
    pub dir: String,
    /// Largest migration file accepted, in bytes.
    #[arg(long, default_value_t = Limits::default().max_file_size, value_name = "BYTES")]
    pub max_file_size: u64,
}

impl SourceArgs {
    /// The reader limits these arguments ask for.
    pub fn limits(&self) -> Limits {
        Limits {
            max_file_size: self.max_file_size,
            ..Limits::default()
        }
    }
}

/// The process exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything asked for was done.
    Ok = 0,
    /// A migration failed.
    MigrationFailed = 1,
    /// Bad input or configuration: nothing was applied.
    BadInput = 2,
    /// The migration lock was not obtained.
    LockTimeout = 3,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// A failure to report: the exit code and a one-line message.
#[derive(Debug)]
pub struct Failure {
    /// How the process exits.
    pub exit: Exit,
    /// What went wrong, for stderr.
    pub message: String,
}

impl Failure {
    /// Bad input or configuration.
    pub fn bad_input(message: impl std::fmt::Display) -> Failure {
        Failure {
            exit: Exit::BadInput,
            message: message.to_string(),
        }
    }
}

/// Parses the arguments, runs the subcommand, prints any failure as one `error:` line.
pub fn main() -> ExitCode {
    broken_pipe::exit_quietly_on_broken_pipe();
    #[cfg(feature = "mysql")]
    let cli = Cli::parse_from(db::sql_migrate_flags(std::env::args_os()));
    #[cfg(not(feature = "mysql"))]
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Verify(args) => verify::run(&args),
        #[cfg(feature = "mysql")]
        Command::Up(args) => up::up(&args),
        #[cfg(feature = "mysql")]
        Command::Down(args) => up::down(&args),
        #[cfg(feature = "mysql")]
        Command::Redo(args) => up::redo(&args),
        #[cfg(feature = "mysql")]
        Command::Status(args) => status::run(&args),
        #[cfg(feature = "mysql")]
        Command::Plan(args) => up::plan(&args),
        #[cfg(feature = "mysql")]
        Command::Skip(args) => up::skip(&args),
        #[cfg(feature = "mysql")]
        Command::Resolve(args) => resolve::run(&args),
        Command::New(args) => new::run(&args),
    };
    match result {
        Ok(exit) => exit.into(),
        Err(failure) => {
            // One line, whatever the message holds (file names and SQL are untrusted).
            let line: String = failure
                .message
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            eprintln!("error: {line}");
            failure.exit.into()
        }
    }
}
