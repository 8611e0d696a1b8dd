//! A named lock (`GET_LOCK`) held by a session of the test server's user, for tests of
//! what a command does while another session holds its run lock.

use std::io::{BufRead, BufReader, Lines, Write};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};

use crate::server;

/// A session that holds lock `name` until dropped or [`HeldLock::release`]d: a `mariadb`
/// client fed one statement at a time, so the test decides when it lets go.
pub struct HeldLock {
    client: Child,
    stdin: ChildStdin,
    out: Lines<BufReader<ChildStdout>>,
    /// The lock's name.
    pub name: String,
    /// The session's connection id (`CONNECTION_ID()`), which a waiting command names.
    pub id: String,
}

impl HeldLock {
    /// Takes `name` (at once: panics if another session holds it).
    pub fn take(name: &str) -> HeldLock {
        let mut client = server()
            .client(None)
            // Unbuffered: each answer is read as soon as its statement ran.
            .arg("--unbuffered")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the mariadb client runs (run .ci/install-deps)");
        let stdin = client.stdin.take().expect("piped");
        let out = BufReader::new(client.stdout.take().expect("piped")).lines();
        let mut held = HeldLock {
            client,
            stdin,
            out,
            name: name.to_owned(),
            id: String::new(),
        };
        let got = held.ask(&format!("SELECT CONNECTION_ID(), GET_LOCK('{name}', 0);"));
        let (id, taken) = got.split_once('\t').expect("two columns");
        assert_eq!(taken, "1", "the test session could not take {name}");
        held.id = id.to_owned();
        held
    }

    /// Runs one statement in the session; its one-line answer.
    fn ask(&mut self, sql: &str) -> String {
        writeln!(self.stdin, "{sql}").expect("the client reads");
        self.stdin.flush().expect("the client reads");
        self.out
            .next()
            .expect("the client answers")
            .expect("the client's answer is text")
    }

    /// Lets the lock go; the session stays open.
    pub fn release(&mut self) {
        let name = self.name.clone();
        let released = self.ask(&format!("SELECT RELEASE_LOCK('{name}');"));
        assert_eq!(released, "1", "{name} was not held");
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        let _ = self.client.kill();
        let _ = self.client.wait();
    }
}

/// Whether `text` names `connection ID` (and not one whose id merely starts with it).
pub fn names_connection(text: &str, id: &str) -> bool {
    let needle = format!("connection {id}");
    text.match_indices(&needle).any(|(at, _)| {
        !text[at + needle.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}
