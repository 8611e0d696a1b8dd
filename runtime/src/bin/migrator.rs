//! The `migrator` Lambda: applies migrations inside the VPC. See
//! [`lambda_migrate::lambda::migrator`].
// The handler awaits the S3 fetch through several async layers (the SDK nests deeply);
// computing the future's layout needs more than the default 128 levels.
#![recursion_limit = "256"]

use lambda_migrate::lambda::{logging, migrator::Migrator};
use lambda_migrate::wire::MigratorEvent;
use lambda_runtime::{LambdaEvent, service_fn, tracing};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    logging::init();
    let migrator = Migrator::from_env();
    let migrator = &migrator;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<MigratorEvent>| async move {
            tracing::trace!(request_id = %event.context.request_id, "migrator invoked");
            migrator
                .handle(event.payload, Some(event.context.deadline()))
                .await
        },
    ))
    .await
}
