//! The `lambda-migrate` command line.

fn main() -> std::process::ExitCode {
    lambda_migrate::cli::main()
}
