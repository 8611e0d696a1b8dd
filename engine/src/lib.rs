//! lambda-migrate's engine: reads sql-migrate migrations out of a zip artifact (or a
//! directory), checks and parses them, plans against what a MySQL database has applied,
//! and applies them. [`command`] is the one entry point every front end uses: a typed
//! request in, a typed report (or a classified error) out.
//!
//! Parsing and planning are pure functions over bytes and records; files, maps and the
//! database sit at the edges ([`mapped`], [`source`], and the `mysql`-feature modules).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod artifact;
pub mod command;
#[cfg(feature = "mysql")]
pub mod db;
#[cfg(feature = "s3")]
pub mod fetch;
pub mod fleet;
// The memory maps (the workspace's only unsafe code) live in a crate of their own.
pub use mapped;
pub mod lint;
pub mod migration;
pub mod plan;
pub mod review;
pub mod settings;
pub mod source;
pub mod store;

pub use artifact::{Limits, ZipError};
pub use migration::{Migration, MigrationError, Section, Statement};
pub use source::{Source, SourceError, SourceFile};
