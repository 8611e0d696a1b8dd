//! The two Lambda functions' logic: the `migrator` (applies migrations inside the VPC) and
//! the `trigger` (CodePipeline's job worker outside the VPC). The binaries only wire these
//! into `lambda_runtime`.

pub mod beside;
pub mod logging;
pub mod metrics;
pub mod migrator;
pub mod rds_iam;
pub mod secret;
pub mod trigger;
