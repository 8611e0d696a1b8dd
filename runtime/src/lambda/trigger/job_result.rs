//! Sending a job's outcome to CodePipeline.

use std::collections::HashMap;

use aws_sdk_codepipeline::error::SdkError;
use aws_sdk_codepipeline::types::{ExecutionDetails, FailureDetails, FailureType};
use tracing::{error, info, warn};

use super::config::Clients;
use super::outcome::{FAILURE_LIMIT, Outcome, SUMMARY_LIMIT, TOKEN_LIMIT};
use crate::text::truncate;
use crate::wire::error_chain;

/// Sends the outcome to CodePipeline. A job that already has a result (a retried
/// delivery of an event whose first run finished) is logged, not an error.
pub async fn put_job_result(clients: &Clients, job_id: &str, outcome: &Outcome, request_id: &str) {
    let external = truncate(request_id, 1500);
    // (already has a result, message) for any failure to send.
    fn classify<E: std::error::Error + 'static, R: std::fmt::Debug>(
        e: SdkError<E, R>,
        invalid_state: impl Fn(&E) -> bool,
    ) -> (bool, String) {
        (
            e.as_service_error().is_some_and(invalid_state),
            error_chain(&e),
        )
    }
    let success = |summary: &str, percent: i32| {
        clients
            .codepipeline
            .put_job_success_result()
            .job_id(job_id)
            .execution_details(
                ExecutionDetails::builder()
                    .summary(truncate(summary, SUMMARY_LIMIT))
                    .external_execution_id(&external)
                    .percent_complete(percent)
                    .build(),
            )
    };
    let result = match outcome {
        Outcome::Success { summary, variables } => success(summary, 100)
            .set_output_variables(Some(
                variables
                    .iter()
                    .map(|(name, value)| (name.as_str().to_owned(), value.clone()))
                    .collect::<HashMap<_, _>>(),
            ))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(e, |s| s.is_invalid_job_state_exception())),
        Outcome::Continue {
            token,
            summary,
            percent,
        } => {
            let text = serde_json::to_string(token).unwrap_or_default();
            success(summary, *percent)
                .continuation_token(truncate(&text, TOKEN_LIMIT))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify(e, |s| s.is_invalid_job_state_exception()))
        }
        Outcome::Failure {
            configuration,
            message,
        } => {
            let details = FailureDetails::builder()
                .r#type(if *configuration {
                    FailureType::ConfigurationError
                } else {
                    FailureType::JobFailed
                })
                .message(truncate(message, FAILURE_LIMIT))
                .external_execution_id(&external)
                .build();
            match details {
                Err(e) => Err((false, e.to_string())),
                Ok(details) => clients
                    .codepipeline
                    .put_job_failure_result()
                    .job_id(job_id)
                    .failure_details(details)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| classify(e, |s| s.is_invalid_job_state_exception())),
            }
        }
    };
    match result {
        Ok(()) => info!(job = %job_id, outcome = ?outcome_name(outcome), "job result sent"),
        Err((true, message)) => warn!(
            job = %job_id,
            message = %message,
            "the job already has a result (a repeated delivery); nothing sent"
        ),
        Err((false, message)) => {
            error!(job = %job_id, message = %message, "sending the job result failed")
        }
    }
}

fn outcome_name(o: &Outcome) -> &'static str {
    match o {
        Outcome::Success { .. } => "success",
        Outcome::Continue { .. } => "continue",
        Outcome::Failure { .. } => "failure",
    }
}
