//! lambda-migrate's front ends: the command line ([`cli`]), the remote path to the
//! migrator ([`wire`], [`inline`]) and the two Lambda functions ([`lambda`]). Each only
//! translates its input into an engine [`Request`](engine::command::Request) and the
//! report or error that comes back into its output; the commands themselves live in
//! [`engine::command`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;
#[cfg(feature = "remote")]
pub mod fleet_run;
#[cfg(feature = "remote")]
pub mod inline;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod open;
pub mod settings;
#[cfg(feature = "mysql")]
pub mod signals;
pub mod text;
#[cfg(feature = "remote")]
pub mod wire;
