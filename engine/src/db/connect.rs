//! Opening a connection within a time limit that covers all of it: TCP, the server's
//! greeting, TLS and authentication.
//!
//! The driver bounds only the TCP connect (`tcp_connect_timeout`); a port that accepts
//! and never speaks (a half-open tunnel, a load balancer with no backend) would hold the
//! handshake for as long as the socket's read timeout, which for a migration session is
//! unbounded (a long `ALTER` is not an error). So the connect runs on its own thread and
//! the caller waits at most the limit. On expiry the thread is left to end on its own:
//! its TCP connect is bounded, and its socket closes when the peer gives up or the
//! process ends.

use std::sync::mpsc;
use std::time::Duration;

use mysql::{Conn, Opts};

/// Opens a connection with `opts`, giving up after `limit` with an I/O "timed out" error.
pub(super) fn open(opts: Opts, limit: Duration) -> Result<Conn, mysql::Error> {
    let (tx, rx) = mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("connect".into())
        .spawn(move || {
            let _ = tx.send(Conn::new(opts));
        });
    if let Err(e) = spawned {
        return Err(mysql::Error::IoError(e));
    }
    match rx.recv_timeout(limit) {
        Ok(result) => result,
        Err(_) => Err(mysql::Error::IoError(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "timed out after {}s: the server accepted the connection but did not complete \
                 the handshake (greeting, TLS, login)",
                limit.as_secs_f64()
            ),
        ))),
    }
}
