//! The Lambdas' log subscriber, one for both binaries.
//!
//! Lambda's advanced logging controls set `AWS_LAMBDA_LOG_LEVEL` (else `RUST_LOG` is
//! read), and an operator chasing a problem turns it up to TRACE. At DEBUG and TRACE our
//! dependencies log what must never reach a log: `lambda_runtime` the raw event (with
//! CodePipeline's `artifactCredentials` and the migrator's `credentials`), the AWS SDK
//! its signed requests and responses, hyper its traffic. So the configured level applies
//! to our own code only; every other target is capped at [`DEPENDENCY_CAP`], whatever
//! the variables say. Format: JSON lines when `AWS_LAMBDA_LOG_FORMAT=JSON`, text
//! otherwise, as `lambda_runtime`'s default subscriber writes them.

use std::str::FromStr;

use lambda_runtime::tracing::subscriber::filter::{LevelFilter, filter_fn};
use lambda_runtime::tracing::subscriber::layer::SubscriberExt;
use lambda_runtime::tracing::subscriber::util::SubscriberInitExt;
use lambda_runtime::tracing::subscriber::{Layer, fmt, registry};
use lambda_runtime::tracing::{self, Metadata};

/// Crates (log targets) whose logging we wrote: they follow the configured level.
const OURS: [&str; 4] = ["lambda_migrate", "engine", "migrator", "trigger"];

/// The most any other crate may log. Nothing at INFO or above in `lambda_runtime` 1.5,
/// the AWS SDK or hyper carries a payload.
pub const DEPENDENCY_CAP: LevelFilter = LevelFilter::INFO;

/// Installs the subscriber on stdout (Lambda sends stdout to CloudWatch). A second call
/// does nothing.
pub fn init() {
    let level = level(crate::settings::var);
    let filter = filter_fn(move |meta| allowed(meta, level));
    let layer = fmt::layer()
        .with_target(false)
        .without_time()
        .with_writer(std::io::stdout);
    let layer = if crate::settings::var("AWS_LAMBDA_LOG_FORMAT")
        .is_some_and(|f| f.eq_ignore_ascii_case("json"))
    {
        layer.json().with_filter(filter).boxed()
    } else {
        layer.with_filter(filter).boxed()
    };
    if registry().with(layer).try_init().is_ok() {
        tracing::trace!(
            level = %level,
            dependencies = %level.min(DEPENDENCY_CAP),
            "logging: our code at the configured level, dependencies capped"
        );
        // A mistyped `DB_*` or `LAMBDA_MIGRATE_*` variable is said once, at start.
        for warning in crate::settings::Process::new().unknown() {
            tracing::warn!("{warning}");
        }
    }
}

/// The configured level: `AWS_LAMBDA_LOG_LEVEL` if set, else `RUST_LOG`, else INFO.
/// `RUST_LOG` may be a directive list (`info,engine=trace`): the most verbose level in
/// it applies to our code, and per-target directives cannot lift the cap. Lambda's
/// `FATAL` is ERROR.
pub fn level(var: impl Fn(&str) -> Option<String>) -> LevelFilter {
    let Some(spec) = var("AWS_LAMBDA_LOG_LEVEL")
        .filter(|s| !s.trim().is_empty())
        .or_else(|| var("RUST_LOG"))
    else {
        return LevelFilter::INFO;
    };
    spec.split(',')
        .filter_map(|directive| {
            let level = directive.rsplit('=').next().unwrap_or(directive).trim();
            if level.eq_ignore_ascii_case("fatal") {
                Some(LevelFilter::ERROR)
            } else {
                LevelFilter::from_str(level).ok()
            }
        })
        .max()
        .unwrap_or(LevelFilter::INFO)
}

/// Whether an event or span at `meta` is logged when the configured level is `level`.
pub fn allowed(meta: &Metadata<'_>, level: LevelFilter) -> bool {
    let target = meta.target();
    let ours = OURS.iter().any(|crate_name| {
        target
            .strip_prefix(crate_name)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    });
    let cap = if ours {
        level
    } else {
        level.min(DEPENDENCY_CAP)
    };
    *meta.level() <= cap
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_level_comes_from_lambda_then_rust_log() {
        let vars = |lambda: Option<&str>, rust: Option<&str>| {
            let (lambda, rust) = (lambda.map(String::from), rust.map(String::from));
            level(move |k| match k {
                "AWS_LAMBDA_LOG_LEVEL" => lambda.clone(),
                "RUST_LOG" => rust.clone(),
                _ => None,
            })
        };
        assert_eq!(vars(None, None), LevelFilter::INFO);
        assert_eq!(vars(Some("TRACE"), Some("error")), LevelFilter::TRACE);
        assert_eq!(vars(Some("FATAL"), None), LevelFilter::ERROR);
        assert_eq!(vars(None, Some("debug")), LevelFilter::DEBUG);
        assert_eq!(
            vars(None, Some("warn,lambda_runtime=trace")),
            LevelFilter::TRACE
        );
        assert_eq!(vars(None, Some("nonsense")), LevelFilter::INFO);
    }
}
