//! A closed stdout (`lambda-migrate verify --json | head -c 1`) ends the program
//! quietly, as it ends any Unix filter, rather than in a panic.
//!
//! Rust starts programs with SIGPIPE ignored, so writing to a pipe whose reader is gone
//! fails with EPIPE, and `println!` panics on that: exit 101 and a panic message.
//! Restoring SIGPIPE's default action takes `sigaction`, which is `unsafe` (this crate
//! forbids it), and no crate in the lock file offers it behind a safe API; routing every
//! print through a checking writer would reach into every subcommand. A panic hook sees
//! every such panic in one place: when it is std's "failed printing to stdout" (or
//! stderr) with a broken-pipe error, the process exits at once with 141, the status a
//! shell reports for a process killed by SIGPIPE, so `set -o pipefail` scripts see what
//! they see from any other tool. Any other panic goes on to the default hook.

use std::io;
use std::panic;

/// The exit status after a broken pipe: 128 + SIGPIPE (13), as a shell reports it.
pub const EXIT_STATUS: i32 = 141;

/// Installs the hook; call first thing in `main`.
pub fn exit_quietly_on_broken_pipe() {
    let default = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if info.payload_as_str().is_some_and(is_broken_pipe_print) {
            std::process::exit(EXIT_STATUS);
        }
        default(info);
    }));
}

/// Whether `message` is std's panic for a print whose OS error is EPIPE, e.g.
/// `failed printing to stdout: Broken pipe (os error 32)`.
fn is_broken_pipe_print(message: &str) -> bool {
    let Some(error) = ["stdout", "stderr"]
        .iter()
        .find_map(|stream| message.strip_prefix(&format!("failed printing to {stream}: ")))
    else {
        return false;
    };
    // std maps the OS error code to its kind: no errno table of our own.
    error
        .strip_suffix(')')
        .and_then(|e| e.rsplit_once("(os error "))
        .and_then(|(_, code)| code.parse::<i32>().ok())
        .is_some_and(|code| io::Error::from_raw_os_error(code).kind() == io::ErrorKind::BrokenPipe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_broken_pipe_print_is_quiet() {
        let epipe = io::Error::from(io::ErrorKind::BrokenPipe);
        // The OS error std would report for EPIPE, found by writing to a closed pipe.
        let (reader, mut writer) = io::pipe().unwrap();
        drop(reader);
        let real = io::Write::write(&mut writer, b"x").unwrap_err();
        assert_eq!(real.kind(), epipe.kind());
        assert!(is_broken_pipe_print(&format!(
            "failed printing to stdout: {real}"
        )));
        assert!(is_broken_pipe_print(&format!(
            "failed printing to stderr: {real}"
        )));
        let enospc = io::Error::from_raw_os_error(28);
        assert!(!is_broken_pipe_print(&format!(
            "failed printing to stdout: {enospc}"
        )));
        assert!(!is_broken_pipe_print(&format!("something else: {real}")));
        assert!(!is_broken_pipe_print(
            "failed printing to stdout: (os error x)"
        ));
    }
}
