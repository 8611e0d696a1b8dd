//! The `trigger` Lambda: CodePipeline's job worker. See [`lambda_migrate::lambda::trigger`].

use lambda_migrate::lambda::{logging, trigger};
use lambda_runtime::{LambdaEvent, service_fn, tracing};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    logging::init();
    let config = trigger::TriggerConfig::from_env(lambda_migrate::settings::var)?;
    let clients = trigger::Clients::from_env(&config).await;
    let (config, clients) = (&config, &clients);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Never an error: Lambda would retry the asynchronous invocation (see the module).
        let deadline = event.context.deadline;
        let request_id = event.context.request_id.clone();
        tracing::trace!(request_id = %request_id, "trigger invoked");
        // The fleet state machine's summary step: its failure is the invocation's error.
        if event.payload.get("fleet_summary").is_some() {
            return trigger::handle_summary(clients, &event.payload)
                .await
                .map_err(|message| lambda_runtime::Diagnostic {
                    error_type: "FleetSummaryFailed".into(),
                    error_message: message,
                });
        }
        Ok::<Value, lambda_runtime::Diagnostic>(
            trigger::handle(clients, config, &event.payload, deadline, &request_id).await,
        )
    }))
    .await
}
