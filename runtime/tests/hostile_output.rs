//! The real `lambda-migrate` binary writing to a stdout nobody reads any more
//! (`lambda-migrate verify --json | head -c 1`): it ends quietly with 141, the status of
//! a process killed by SIGPIPE, not with a panic (101).

use std::io::{self, Read};
use std::process::{Command, Output, Stdio};

/// Enough migrations that any listing of them overflows a pipe's 64 KiB buffer.
fn many_migrations() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for i in 1..=2000 {
        std::fs::write(
            dir.path().join(format!("{i:05}_create_table_{i}.sql")),
            format!(
                "-- +migrate Up\nCREATE TABLE t{i} (id int);\n-- +migrate Down\nDROP TABLE t{i};\n"
            ),
        )
        .unwrap();
    }
    dir
}

fn verify(dir: &tempfile::TempDir, json: bool) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lambda-migrate"));
    cmd.arg("verify").arg("--source").arg(dir.path());
    if json {
        cmd.arg("--json");
    }
    cmd.stderr(Stdio::piped());
    cmd
}

fn assert_quiet_exit(what: &str, out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(101), "{what}: a panic\n{stderr}");
    assert_eq!(
        out.status.code(),
        Some(141),
        "{what}: {:?}\n{stderr}",
        out.status
    );
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert!(stderr.is_empty(), "{what}: {stderr}");
}

#[test]
fn a_stdout_closed_before_the_first_write_ends_the_program_quietly() {
    let dir = many_migrations();
    for json in [true, false] {
        let (reader, writer) = io::pipe().unwrap();
        drop(reader);
        let out = verify(&dir, json).stdout(writer).output().unwrap();
        assert_quiet_exit(&format!("verify json={json}"), &out);
    }
}

#[test]
fn a_reader_that_leaves_after_one_byte_ends_the_program_quietly() {
    let dir = many_migrations();
    for json in [true, false] {
        let mut child = verify(&dir, json).stdout(Stdio::piped()).spawn().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 1];
        stdout.read_exact(&mut first).unwrap();
        assert_eq!(first[0], if json { b'{' } else { b'I' });
        drop(stdout);
        let out = child.wait_with_output().unwrap();
        assert_quiet_exit(&format!("verify json={json}, head -c 1"), &out);
    }
}

#[test]
fn a_read_stdout_still_gets_everything() {
    let dir = many_migrations();
    let out = verify(&dir, true).stdout(Stdio::piped()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["migrations"].as_array().unwrap().len(), 2000);
}
