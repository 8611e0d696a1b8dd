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
pub mod fleet;
#[cfg(feature = "remote")]
mod fleet_aws;
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
    DownArgs, Invocation, LintArgs, PlanArgs, RedoArgs, ResolveArgs, RunArgs, SkipArgs, StatusArgs,
    VerifyArgs,
};

/// Applies sql-migrate migrations to MySQL from a zip artifact or a directory.
#[derive(Debug, Parser)]
#[command(
    name = "lambda-migrate",
    version,
    about,
    max_term_width = 100,
    after_help = "Position decides what --version means, as in sql-migrate: before the \
                  command (also -version, -v) it prints this program's version; after `up`, \
                  `down` or `plan` (also -version N) it names the migration version to go to."
)]
pub struct Cli {
    /// Run the command inside the migrator Lambda FUNCTION (name or ARN) instead of here:
    /// no direct database connection needed. A local --source is sent inline. Also after
    /// the command, or from LAMBDA_MIGRATE_VIA_LAMBDA.
    #[arg(long, value_name = "FUNCTION")]
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
    Down(DownArgs),
    /// Revert the newest applied migration and apply it again.
    Redo(RedoArgs),
    /// Record pending migrations as applied without running them.
    Skip(SkipArgs),
    /// Record by hand that a partial migration is now applied or rolled back.
    Resolve(ResolveArgs),
    /// Create an empty migration file named YYYYMMDDHHMMSS-NAME.sql.
    New(new::NewArgs),
    /// Many schemas from one artifact, locally: up, plan or status on every target of a
    /// manifest, canaries first, with a failure budget (docs/fleet.md).
    Fleet(fleet::FleetArgs),
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
    /// a file here, and `fleet`, which runs one per target ([`fleet::FleetRun`]).
    fn invocation(&self) -> Option<Invocation<'_>> {
        Some(match self {
            Command::Verify(a) => a.invocation(),
            Command::Lint(a) => a.invocation(),
            Command::Plan(a) => a.invocation(),
            Command::Status(a) => a.invocation(),
            Command::Up(a) => a.invocation(CommandName::Up),
            Command::Down(a) => a.invocation(),
            Command::Redo(a) => a.invocation(),
            Command::Skip(a) => a.invocation(),
            Command::Resolve(a) => a.invocation(),
            Command::New(_) | Command::Fleet(_) => return None,
        })
    }
}

fn dispatch(cli: &Cli) -> Result<(), Failure> {
    let Some(inv) = cli.command.invocation() else {
        return match &cli.command {
            Command::New(_) | Command::Fleet(_) if cli.via_lambda.is_some() => {
                Err(Failure::bad_input(
                    "`new` and `fleet` run here; they do not run --via-lambda (a fleet on \
                     AWS is the fleet state machine's, docs/fleet.md)",
                ))
            }
            Command::New(a) => new::run(a),
            Command::Fleet(a) => fleet::run(a),
            _ => unreachable!("only `new` and `fleet` have no engine request"),
        };
    };
    // The flag before the command, else after it or from the environment.
    let via_lambda = cli
        .via_lambda
        .as_deref()
        .or(inv.source.via_lambda.as_deref())
        .filter(|f| !f.is_empty());
    if let Command::Lint(a) = &cli.command {
        let unused = a.unused();
        if !unused.is_empty() {
            return Err(Failure::bad_input(format!(
                "`lint` uses {} only with --pending (only --pending reads the database)",
                unused.join(", "),
            )));
        }
        if via_lambda.is_some() && !a.pending {
            // Without a database nothing is gained by running it in the migrator.
            return Err(Failure::bad_input(
                "`lint` reads the migrations here and needs no database; it runs \
                 --via-lambda only with --pending (the migrator's database says which \
                 migrations are applied)",
            ));
        }
    }
    match via_lambda {
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
    let commands: Vec<String> = <Cli as clap::CommandFactory>::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    let commands: Vec<&str> = commands.iter().map(String::as_str).collect();
    let cli = Cli::parse_from(args::sql_migrate_flags(std::env::args_os(), &commands));
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// A value for a flag, by the name its help shows; a new kind of value must be
    /// added here, so that no flag goes untried.
    fn sample(value_name: &str) -> &'static str {
        match value_name {
            "N" => "1",
            "DURATION" => "5s",
            "SIZE" => "1MiB",
            "FILE" => "x",
            "URL" => "mysql://u@h/d",
            "NAME" => "x",
            "ZIP|DIR|S3" => "m",
            "FUNCTION" => "f",
            "SEVERITY" => "never",
            "FORMAT" => "sql-migrate",
            "PERCENT" => "5",
            "ARN" => "arn:aws:states:us-east-1:123456789012:stateMachine:lm-fleet",
            "EXECUTION" => "arn:aws:states:us-east-1:123456789012:execution:lm-fleet:job-1",
            "WHICH" => "failed",
            other => panic!("no sample value for {other}: add one"),
        }
    }

    /// The flags a flag needs beside it to mean anything, per command.
    fn companions(command: &str, flag: &str) -> Vec<&'static str> {
        let db = [
            "--database",
            "--config",
            "--env",
            "--table",
            "--schema",
            "--tls",
            "--tls-ca",
            "--connect-timeout",
            "--read-timeout",
            "--via-lambda",
        ];
        match (command, flag) {
            ("up" | "down" | "redo", "--sql") => vec!["--dry-run"],
            (
                "plan",
                "--html" | "--lock-timeout" | "--review-copy-rate" | "--review-long-transaction",
            ) => vec!["--review"],
            ("lint", "--target") => vec!["--pending", "--manifest", "x"],
            ("lint", "--manifest") => vec!["--pending", "--target", "x"],
            ("lint", f) if db.contains(&f) => vec!["--pending"],
            (_, "--target") => vec!["--manifest", "x"],
            (_, "--manifest") => vec!["--target", "x"],
            _ => Vec::new(),
        }
    }

    /// Every flag each command's help lists is taken: it parses, the engine accepts the
    /// request, and it changes what is run (a flag listed and then ignored would leave
    /// the invocation as it was).
    #[test]
    fn every_listed_flag_is_taken_and_changes_the_invocation() {
        let root = Cli::command();
        let mut tried = 0;
        for sub in root.get_subcommands() {
            let name = sub.get_name();
            if name == "new" {
                continue; // Only writes a file; it has no engine request.
            }
            if name == "fleet" {
                continue; // One request per target: `every_fleet_flag_is_taken_...`.
            }
            for arg in sub.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                if long == "help" {
                    continue;
                }
                let flag = format!("--{long}");
                let outcome = ["--applied", "--rolled-back"].contains(&flag.as_str())
                    || flag.starts_with("--statement-");
                let mut base: Vec<String> = vec!["lambda-migrate".into(), name.into()];
                if name == "resolve" {
                    base.push("1_a.sql".into());
                    if !outcome {
                        base.push("--applied".into());
                    }
                }
                base.extend(companions(name, &flag).into_iter().map(String::from));
                let mut with = base.clone();
                with.push(flag.clone());
                if arg.get_action().takes_values() {
                    let value_name = arg
                        .get_value_names()
                        .and_then(|v| v.first())
                        .map(|v| v.as_str())
                        .unwrap_or_default();
                    with.push(sample(value_name).into());
                }
                let parsed = Cli::try_parse_from(&with)
                    .unwrap_or_else(|e| panic!("{with:?} does not parse: {e}"));
                let inv = parsed.command.invocation().unwrap();
                inv.request
                    .validate()
                    .unwrap_or_else(|e| panic!("{with:?}: the engine refuses it: {e}"));
                if let Command::Lint(a) = &parsed.command {
                    assert!(a.unused().is_empty(), "{with:?}: lint does not use it");
                }
                let before = match Cli::try_parse_from(&base) {
                    Ok(c) => format!("{:?}", c.command.invocation().unwrap()),
                    // Resolve needs an outcome, and --target and --manifest each other:
                    // without the flag there is no invocation.
                    Err(_) if outcome || ["--target", "--manifest"].contains(&flag.as_str()) => {
                        String::new()
                    }
                    Err(e) => panic!("{base:?} does not parse: {e}"),
                };
                assert_ne!(
                    before,
                    format!("{inv:?}"),
                    "{with:?}: the flag changes nothing"
                );
                tried += 1;
            }
        }
        assert!(tried > 100, "only {tried} flags tried");
    }

    /// `fleet`'s commands send one request per target, so the test above passes them by:
    /// here every flag each one's help lists parses, is taken, and changes the run it
    /// asks for ([`fleet::FleetRun`]).
    #[test]
    fn every_fleet_flag_is_taken_and_changes_the_run() {
        let root = Cli::command();
        let fleet = root.find_subcommand("fleet").expect("a fleet command");
        let mut tried = 0;
        for sub in fleet.get_subcommands() {
            let name = sub.get_name();
            for arg in sub.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                if long == "help" {
                    continue;
                }
                let flag = format!("--{long}");
                let args = |extra: &[&str]| -> Vec<String> {
                    let mut a: Vec<String> =
                        vec!["lambda-migrate".into(), "fleet".into(), name.into()];
                    // The manifest is required: the base names one, the flag another.
                    if flag != "--manifest" {
                        a.extend(["--manifest".into(), "base.jsonl".into()]);
                    }
                    a.extend(extra.iter().map(|s| s.to_string()));
                    a
                };
                let value = arg
                    .get_value_names()
                    .and_then(|v| v.first())
                    .filter(|_| arg.get_action().takes_values())
                    .map(|v| sample(v.as_str()));
                let mut with = vec![flag.as_str()];
                with.extend(value);
                if flag == "--only" {
                    // It picks among the targets of --from's run.
                    with.extend(["--from", sample("EXECUTION")]);
                }
                let with = args(&with);
                let base = if flag == "--manifest" {
                    args(&["--manifest", "base.jsonl"])
                } else {
                    args(&[])
                };
                let run = |argv: &[String]| {
                    let cli = Cli::try_parse_from(argv)
                        .unwrap_or_else(|e| panic!("{argv:?} does not parse: {e}"));
                    let Command::Fleet(f) = cli.command else {
                        panic!("{argv:?} is not fleet")
                    };
                    let run = f.run();
                    engine::fleet::request(run.command)
                        .unwrap_or_else(|e| panic!("{argv:?}: the engine refuses it: {e}"));
                    format!("{run:?}")
                };
                assert_ne!(run(&base), run(&with), "{with:?}: the flag changes nothing");
                tried += 1;
            }
        }
        // up: 12 flags, plan and status 9 each.
        assert_eq!(tried, 30);
        // `--canary` is `up`'s alone: read-only commands have nothing to protect.
        assert!(
            Cli::try_parse_from([
                "lambda-migrate",
                "fleet",
                "status",
                "--manifest",
                "m",
                "--canary",
                "1"
            ])
            .is_err()
        );
        for bad in [
            ["--concurrency", "0"],
            ["--concurrency", "65"],
            ["--tolerate", "101"],
        ] {
            let mut argv = vec!["lambda-migrate", "fleet", "up", "--manifest", "m"];
            argv.extend(bad);
            assert!(Cli::try_parse_from(&argv).is_err(), "{argv:?}");
        }
    }

    /// sql-migrate's `-version`: before the command, the version; after `up`, `down` or
    /// `plan`, the migration version to go to.
    #[test]
    fn version_by_position() {
        let commands: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_owned())
            .collect();
        let commands: Vec<&str> = commands.iter().map(String::as_str).collect();
        let parse = |args: &[&str]| {
            Cli::try_parse_from(args::sql_migrate_flags(
                args.iter().map(std::ffi::OsString::from),
                &commands,
            ))
        };
        for v in ["-version", "--version", "-v", "-V"] {
            let e = parse(&["lambda-migrate", v]).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::DisplayVersion, "{v}");
            assert!(e.to_string().starts_with("lambda-migrate "), "{v}: {e}");
        }
        for args in [
            ["lambda-migrate", "up", "-version", "20240101120000"],
            ["lambda-migrate", "down", "-version=20240101120000", ""],
            ["lambda-migrate", "plan", "--version", "20240101120000"],
        ] {
            let args: Vec<&str> = args.into_iter().filter(|a| !a.is_empty()).collect();
            let cli = parse(&args).unwrap();
            let inv = cli.command.invocation().unwrap();
            assert_eq!(inv.request.version, Some(20240101120000), "{args:?}");
            inv.request.validate().unwrap();
        }
        // `skip` and `status` take no version, as in sql-migrate.
        assert!(parse(&["lambda-migrate", "skip", "-version", "1"]).is_err());
        assert!(parse(&["lambda-migrate", "up", "-version", "1", "-limit", "2"]).is_err());
    }
}
