//! The two Lambda functions' logic: the `migrator` (applies migrations inside the VPC) and
//! the `trigger` (CodePipeline's job worker outside the VPC). The binaries only wire these
//! into `lambda_runtime`.

pub mod artifact;
pub mod event;
pub mod logging;
pub mod migrator;
pub mod rds_iam;
pub mod text;
pub mod trigger;

/// Installs the log subscriber: JSON lines when `AWS_LAMBDA_LOG_FORMAT=JSON` (Lambda's
/// advanced logging controls), plain text otherwise; level from `AWS_LAMBDA_LOG_LEVEL`
/// or `RUST_LOG`, default INFO.
pub fn init_logging() {
    lambda_runtime::tracing::init_default_subscriber();
}
