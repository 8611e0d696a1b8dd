//! The command layer: every command (verify, plan, status, up, down, redo, skip,
//! resolve) implemented once, as a typed [`Request`] in and a typed, serialisable
//! [`Report`] out.
//!
//! The CLI, the migrator Lambda and the remote CLI (`--via-lambda`) only translate their
//! input into a [`Request`] and render the [`Report`] or [`CommandError`] that comes back.
//! A report made by the migrator and parsed back by a remote CLI renders byte for byte as
//! one made locally. Failures carry an [`ErrorKind`] (the exit code and the migrator's
//! `errorType`) and a [`Remedy`] that each front end words in its own terms.

mod error;
mod execute;
mod report;
mod request;

pub use error::{CommandError, ErrorKind, Frontend, Remedy};
#[cfg(feature = "mysql")]
pub use execute::execute;
pub use execute::{Executed, Input, verify};
#[cfg(feature = "mysql")]
pub use report::RunSummary;
pub use report::{FetchSummary, Report, ResolveReport, StatusReport, VerifyReport, VerifyRow};
pub use request::{Allowed, CommandName, Request, RequestError, Resolution};
