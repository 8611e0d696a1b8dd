//! The shared corpus of crafted archives (feature `corpus`): a byte-level builder
//! ([`Zip`]) where every field can be set, and [`hostile`], one archive per way a zip
//! tool could read an artifact differently from us (plus the refusals that guard
//! memory), with what our reader must do. Used by the engine's `hostile.rs`,
//! `differential.rs` and the S3 parity and range tests.

mod bomb;
mod build;
mod cases;

pub use bomb::zeros_stream;
pub use build::*;
pub use cases::*;
