//! The `migrator` Lambda: applies migrations inside the VPC. See
//! [`lambda_migrate::lambda::migrator`].
// The handler awaits the S3 fetch through several async layers (the SDK nests deeply);
// computing the future's layout needs more than the default 128 levels.
#![recursion_limit = "256"]

use lambda_migrate::lambda::{logging, migrator::Migrator};
use lambda_runtime::{LambdaEvent, service_fn, tracing};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    logging::init();
    let migrator = Migrator::from_env();
    let migrator = &migrator;
    lambda_runtime::run(service_fn(
        // Read as JSON and parsed by the handler, so a bad event is a BadRequest naming
        // what is wrong, not lambda_runtime's deserialization error.
        move |event: LambdaEvent<Value>| async move {
            tracing::trace!(request_id = %event.context.request_id, "migrator invoked");
            migrator
                .handle_json(event.payload, Some(event.context.deadline()))
                .await
        },
    ))
    .await
}
