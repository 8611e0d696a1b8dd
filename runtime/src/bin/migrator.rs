//! The `migrator` Lambda: applies migrations inside the VPC. See
//! [`lambda_migrate::lambda::migrator`].

use lambda_migrate::lambda::{self, migrator::Migrator};
use lambda_migrate::wire::MigratorEvent;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_logging();
    let migrator = Migrator::from_env();
    let migrator = &migrator;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<MigratorEvent>| async move {
        migrator.handle(event.payload).await
    }))
    .await
}
