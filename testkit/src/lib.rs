//! Test set-up shared by lambda-migrate's integration tests, and the one home of every
//! helper more than one test uses:
//! - a fresh database per test on the test server, MariaDB or MySQL as
//!   `LM_TEST_DATABASE_URL` says ([`TestDb`], [`TestUser`], SQL through the `mariadb`
//!   client);
//! - the local S3 server ([`s3_endpoint`], [`s3_put`]) and plain HTTP ([`http`]);
//! - a named lock held by another session until the test lets it go ([`HeldLock`]);
//! - artifacts zipped by Info-ZIP ([`zip_artifact`]), Go peers built offline ([`go_build`]);
//! - unique names ([`unique`]) so that tests and worktrees can share both servers;
//! - feature `corpus`: the crafted-archive builder and the hostile corpus ([`corpus`]);
//! - feature `fake-aws`: the fake AWS control planes of the Lambda tests (`FakeAws`), and
//!   state machines executed by moto's Step Functions interpreter with their Lambda
//!   invokes run by fake-aws (`StepFunctions`).
//!
//! Real services only: `scripts/start-mariadb`, `scripts/start-mysql` and
//! `scripts/start-moto` start them.
//! Without features it is std only, so every test binary can link it cheaply.
#![warn(missing_docs)]

#[cfg(feature = "corpus")]
pub mod corpus;
#[cfg(feature = "fake-aws")]
mod fake_aws;
mod go;
mod http;
mod infozip;
mod lock;
mod server;
#[cfg(feature = "fake-aws")]
mod step_functions;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

#[cfg(feature = "fake-aws")]
pub use fake_aws::FakeAws;
pub use go::{go_build, go_build_into};
pub use http::{http, s3_endpoint, s3_put};
pub use infozip::zip_artifact;
pub use lock::{HeldLock, names_connection};
pub use server::{
    DEFAULT_DATABASE_URL, START_HINT, Server, TestDb, TestUser, is_mariadb, server, server_url,
    server_version, sql,
};
#[cfg(feature = "fake-aws")]
pub use step_functions::{
    ARTIFACT_BUCKET, FLEET_STATE_MACHINE, MIGRATOR_FUNCTION, StepFunctions, TRIGGER_FUNCTION,
};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit/ sits in the repository root")
        .to_path_buf()
}

/// A name unique to this test process and call: `{prefix}_{pid}_{n}`.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
