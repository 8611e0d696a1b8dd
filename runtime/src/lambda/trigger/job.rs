//! Reading a CodePipeline job event: the artifact, its credentials, the action's
//! `UserParameters` and a follow-up's continuation token.

use aws_lambda_events::event::codepipeline_job::CodePipelineJobEvent;
use engine::command::CommandName;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::wire::ArtifactCredentials;

/// Optional settings in the action's `UserParameters` (a JSON object).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserParameters {
    /// The migrations folder inside the artifact.
    pub dir: Option<String>,
    /// `up` (default), or a read-only command: `verify`, `plan` (publishes
    /// `PendingCount` and `PendingIds` for an approval action), `status`.
    pub command: Option<CommandName>,
    /// At most this many migrations.
    pub limit: Option<usize>,
    /// `plan` only: ask the server what each pending ALTER would do (`plan --review`),
    /// and store the review's page beside the artifact for the approval.
    pub review: Option<bool>,
    /// A fleet run: the command on every target of this manifest, through the fleet
    /// state machine.
    pub fleet: Option<super::fleet::FleetParams>,
}

/// What the trigger needs from a job event.
#[derive(Debug, Clone)]
pub struct Job {
    /// The job id.
    pub id: String,
    /// The input artifact's bucket.
    pub bucket: String,
    /// The input artifact's key.
    pub key: String,
    /// The credentials CodePipeline gave for the artifact.
    pub credentials: Option<ArtifactCredentials>,
    /// Parsed `UserParameters`.
    pub params: UserParameters,
    /// The token of a follow-up invocation.
    pub continuation: Option<Continuation>,
}

/// What a follow-up invocation needs to know about the run it follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Continuation {
    /// Token format version.
    pub v: u32,
    /// The set digest validated by the first invocation.
    pub digest: String,
    /// Migrations in the artifact.
    pub total: usize,
    /// When the job started (ms since the epoch), kept for the summary.
    pub started_ms: u64,
    /// How many follow-ups ran before this one.
    pub round: u32,
    /// What the follow-up does first.
    #[serde(default)]
    pub next: Next,
    /// Migrations applied by earlier migrator runs of this job that stopped at their
    /// deadline.
    #[serde(default)]
    pub applied: usize,
    /// The first invocation's lint counts, for the final result's variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lint: Option<super::lint::LintCounts>,
    /// A fleet run being followed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<super::fleet::FleetFollow>,
}

/// What a follow-up does first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Next {
    /// A migrator run may still be going: ask for `status` until it ends.
    #[default]
    Status,
    /// The last migrator run stopped at its deadline with migrations pending: run `up`.
    Up,
}

/// Why a job event could not be used; `id` is the job id when one was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadJob {
    /// The job id, if the event has one.
    pub id: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// Reads a CodePipeline job event.
pub fn parse_job(event: &Value) -> Result<Job, BadJob> {
    let id = event
        .get("CodePipeline.job")
        .and_then(|j| j.get("id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let bad = |message: String| BadJob {
        id: id.clone(),
        message,
    };
    let parsed: CodePipelineJobEvent = serde_json::from_value(event.clone())
        .map_err(|e| bad(format!("the event is not a CodePipeline job event: {e}")))?;
    let job = parsed.code_pipeline_job;
    let id = job
        .id
        .clone()
        .ok_or_else(|| bad("the job event has no job id".into()))?;
    let data = job.data;
    let artifact = data
        .input_artifacts
        .first()
        .ok_or_else(|| bad("the action has no input artifact".into()))?;
    let loc = &artifact.location.s3_location;
    let (Some(bucket), Some(key)) = (loc.bucket_name.clone(), loc.object_key.clone()) else {
        return Err(bad("the input artifact has no S3 location".into()));
    };
    let creds = &data.artifact_credentials;
    let credentials = match (&creds.access_key_id, &creds.secret_access_key) {
        (Some(a), Some(s)) => Some(ArtifactCredentials {
            access_key_id: a.clone(),
            secret_access_key: s.clone(),
            session_token: creds.session_token.clone(),
        }),
        _ => None,
    };
    let params = match data
        .action_configuration
        .configuration
        .user_parameters
        .as_deref()
        .map(str::trim)
    {
        None | Some("") => UserParameters::default(),
        Some(text) => serde_json::from_str(text).map_err(|e| {
            bad(format!(
                "UserParameters must be a JSON object with optional \"dir\", \"command\" (up, verify, plan or status), \"limit\", \"review\" (plan) and \"fleet\" ({{\"manifest\": KEY}}): {e}"
            ))
        })?,
    };
    if let Some(c) = params.command
        && !(c == CommandName::Up || c.read_only())
    {
        return Err(bad(format!(
            "UserParameters: a pipeline runs \"up\" or a read-only command (verify, plan, status), not \"{c}\""
        )));
    }
    if params.limit.is_some()
        && !matches!(
            params.command,
            None | Some(CommandName::Up | CommandName::Plan)
        )
    {
        return Err(bad(
            "UserParameters: \"limit\" goes with \"up\" or \"plan\"".into(),
        ));
    }
    if params.fleet.is_some() && (params.limit.is_some() || params.review.is_some()) {
        return Err(bad(
            "UserParameters: a \"fleet\" run takes no \"limit\" or \"review\"".into(),
        ));
    }
    if params.review.is_some() && params.command != Some(CommandName::Plan) {
        return Err(bad("UserParameters: \"review\" goes with \"plan\"".into()));
    }
    let continuation = match data.continuation_token.as_deref() {
        None | Some("") => None,
        Some(t) => Some(
            serde_json::from_str(t)
                .map_err(|e| bad(format!("the continuation token is not ours: {e}")))?,
        ),
    };
    Ok(Job {
        id,
        bucket,
        key,
        credentials,
        params,
        continuation,
    })
}
