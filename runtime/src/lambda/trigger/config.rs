//! The trigger's settings and the AWS clients it calls.

use std::time::Duration;

use tracing::warn;

use engine::settings::{Env, Setting, SettingError, table};

use crate::settings;
use crate::wire;

/// The trigger's settings, from its environment.
#[derive(Debug, Clone)]
pub struct TriggerConfig {
    /// The migrator's function name or ARN (`FunctionName`, as the seed).
    pub function_name: Option<String>,
    /// The migrator's configured timeout (`MIGRATOR_TIMEOUT_SECS`, default 900): the
    /// Invoke read timeout is longer than this.
    pub migrator_timeout: Duration,
    /// Time kept back before this invocation's own deadline to report to CodePipeline
    /// (`TRIGGER_MARGIN_MS`, default 15,000).
    pub margin: Duration,
    /// Pause between `status` checks on a follow-up (`TRIGGER_POLL_MS`, default 5,000).
    pub poll_interval: Duration,
    /// The migrations folder inside the artifact (`MIGRATIONS_DIR`, default `migrations`).
    pub dir: String,
    /// Reader limits (`MAX_FILE_SIZE_MB`, `MAX_TOTAL_SIZE_MB`).
    pub limits: engine::Limits,
    /// How to fetch the artifact (`FETCH_MODE`, `TMP_CAPACITY_MB`); the folder is the job's.
    pub fetch: engine::fetch::FetchOptions,
    /// The severity from which lint findings fail the job (`LINT_FAIL_ON`, default error).
    pub lint_fail_on: engine::lint::FailOn,
    /// The fleet run's settings.
    pub fleet: FleetSettings,
}

/// What the trigger needs for a fleet run.
#[derive(Debug, Clone)]
pub struct FleetSettings {
    /// The state machine (`FLEET_STATE_MACHINE_ARN`); unset: no fleet run.
    pub state_machine: Option<String>,
    /// Where runs go in the artifact bucket (`FLEET_RESULTS_PREFIX`, default `fleet/`).
    pub results_prefix: String,
    /// Canaries of a manifest without a `canary` group (`FLEET_CANARY`, default 1).
    pub canary: usize,
    /// The allowed secret prefix (`FLEET_SECRET_PREFIX`); unset: no `secret` target.
    pub secret_prefix: Option<engine::fleet::SecretPrefix>,
}

impl TriggerConfig {
    /// Reads the settings through `get` (the process environment in production); the
    /// names, units and defaults are the rows of [`engine::settings::table`].
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<TriggerConfig, String> {
        let env = Env::new(&get);
        let err = |e: SettingError| e.to_string();
        let dir = settings::folder(&env).map_err(err)?;
        let limits = settings::limits(&env).map_err(err)?;
        let duration = |s: &Setting| -> Result<Duration, String> {
            Ok(env
                .duration(s)
                .map_err(err)?
                .unwrap_or(s.default.duration()))
        };
        Ok(TriggerConfig {
            fetch: settings::fetch_options(&dir, &limits, &env).map_err(err)?,
            limits,
            dir,
            function_name: env.text(&table::FUNCTION_NAME),
            migrator_timeout: duration(&table::MIGRATOR_TIMEOUT)?,
            margin: duration(&table::TRIGGER_MARGIN)?,
            poll_interval: duration(&table::TRIGGER_POLL)?,
            lint_fail_on: settings::lint_fail_on(&env).map_err(err)?,
            fleet: FleetSettings {
                state_machine: env.text(&table::FLEET_STATE_MACHINE),
                results_prefix: fleet_prefix(
                    env.text(&table::FLEET_RESULTS_PREFIX)
                        .unwrap_or_else(|| table::FLEET_RESULTS_PREFIX.default.text().to_owned()),
                )?,
                canary: env
                    .count(&table::FLEET_CANARY)
                    .map_err(err)?
                    .map_or(1, |n| usize::try_from(n).unwrap_or(usize::MAX)),
                secret_prefix: env
                    .text(&table::FLEET_SECRET_PREFIX)
                    .map(|p| {
                        engine::fleet::SecretPrefix::parse(&p)
                            .map_err(|e| format!("FLEET_SECRET_PREFIX: {e}"))
                    })
                    .transpose()?,
            },
        })
    }

    /// The Invoke read timeout: longer than the migrator can run.
    pub fn read_timeout(&self) -> Duration {
        self.migrator_timeout + Duration::from_secs(60)
    }
}

/// `FLEET_RESULTS_PREFIX`, which must end in `/` (or be empty) so that runs are folders.
fn fleet_prefix(p: String) -> Result<String, String> {
    if p.is_empty() || (p.ends_with('/') && !p.starts_with('/') && p.len() <= 200) {
        Ok(p)
    } else {
        Err(format!(
            "FLEET_RESULTS_PREFIX={p:?}: a key prefix ending in / (e.g. fleet/), at most 200 bytes"
        ))
    }
}

/// The AWS clients the trigger calls.
#[derive(Debug, Clone)]
pub struct Clients {
    /// Lambda, for invoking the migrator: retries off, long read timeout.
    pub lambda: aws_sdk_lambda::Client,
    /// CodePipeline, for the job result.
    pub codepipeline: aws_sdk_codepipeline::Client,
    /// S3 with the function's own role, for the reports stored beside the artifact.
    pub s3: aws_sdk_s3::Client,
    /// Step Functions, for the fleet run.
    pub sfn: aws_sdk_sfn::Client,
    /// The region, for the S3 client built from the artifact credentials.
    pub region: Option<String>,
}

impl Clients {
    /// Clients from the default configuration chain (endpoint URLs from
    /// `AWS_ENDPOINT_URL_LAMBDA` / `AWS_ENDPOINT_URL_CODEPIPELINE` are honoured).
    pub async fn from_env(config: &TriggerConfig) -> Clients {
        let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let mut lambda_conf = wire::lambda_client(&shared, config.read_timeout());
        // Keep-alive probes keep a connection that is silent for up to 15 minutes (the
        // migrator's run) from being dropped by NAT or load balancer idle timeouts.
        match keepalive_client() {
            Ok(client) => lambda_conf = lambda_conf.http_client(client),
            Err(e) => warn!(error = %e, "TCP keep-alive unavailable; using the default client"),
        }
        let lambda_conf = lambda_conf.build();
        Clients {
            lambda: aws_sdk_lambda::Client::from_conf(lambda_conf),
            codepipeline: aws_sdk_codepipeline::Client::new(&shared),
            sfn: aws_sdk_sfn::Client::new(&shared),
            s3: engine::fetch::s3_client(
                None,
                shared.region().map(|r| r.to_string()),
                settings::s3_endpoint(),
            )
            .await,
            region: shared.region().map(|r| r.to_string()),
        }
    }
}

/// An HTTPS client whose sockets send TCP keep-alive probes every 30 seconds. Its
/// connections' work runs on the current Tokio runtime.
fn keepalive_client() -> Result<aws_smithy_http_client::pool::Client, String> {
    use aws_smithy_http_client::pool::{
        Client, ConnectionPool, DriverSpawner, Partition, PartitionId,
    };
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let runtime = tokio::runtime::Handle::try_current().map_err(|e| e.to_string())?;
    let id = PartitionId::from_index(0);
    let pool = ConnectionPool::builder()
        .partitions([Partition::new(id, DriverSpawner::tokio(runtime))])
        .tcp_keepalive(Duration::from_secs(30))
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .build_https()
        .map_err(|e| e.to_string())?;
    Client::from_partition(&pool, id).map_err(|e| e.to_string())
}
