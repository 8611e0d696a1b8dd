//! The `lambda-migrate` command line: argument parsing, exit codes, error printing.
//! Each subcommand lives in its own module.

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
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Verify(args) => verify::run(&args),
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
