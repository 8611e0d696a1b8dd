//! lambda-migrate's runtime: the command line ([`cli`]) and, later, the Lambda handlers.
//! Each binary is a thin translation of its input into engine calls and of the engine's
//! results into output.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;
#[cfg(feature = "lambda")]
pub mod lambda;
