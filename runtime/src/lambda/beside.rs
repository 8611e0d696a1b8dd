//! Reports stored beside the pipeline's artifact, in the artifact bucket: the trigger's
//! lint report today; the Plan stage's review page and SQL script are stored the same way.
//!
//! A report's key is the artifact's key plus a fixed suffix (`<key>.lint.json`), so the
//! report sits next to the artifact it describes, is kept and expires with it, and the
//! stack's IAM policy grants `s3:PutObject` on exactly those suffixes (`*.lint.json`),
//! never on the artifacts themselves. The write uses the function's own role: CodePipeline's
//! artifact credentials may only read the input artifact.

use aws_sdk_s3::primitives::ByteStream;

use crate::wire::error_chain;

/// A kind of report stored beside an artifact: its key suffix and content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Named {
    /// Appended to the artifact's key after a dot; the stack's IAM grant names it.
    pub suffix: &'static str,
    /// The object's `Content-Type`.
    pub content_type: &'static str,
}

/// The trigger's lint report (`lint --json`'s shape).
pub const LINT_REPORT: Named = Named {
    suffix: "lint.json",
    content_type: "application/json",
};

/// The Plan stage's review page (`plan --review --html`).
pub const REVIEW_PAGE: Named = Named {
    suffix: "review.html",
    content_type: "text/html; charset=utf-8",
};

/// The Plan stage's review (`plan --review --json`'s `review` and `review_summary`).
pub const REVIEW_JSON: Named = Named {
    suffix: "review.json",
    content_type: "application/json",
};

/// The SQL `up` would send for the reviewed plan (`plan --sql`), for applying by hand.
pub const PLAN_SQL: Named = Named {
    suffix: "plan.sql",
    content_type: "application/sql; charset=utf-8",
};

/// S3's limit on a key, in bytes of UTF-8.
const KEY_LIMIT: usize = 1024;

/// Where a stored report went, or why it could not be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storing the report s3://{bucket}/{key} failed: {message}")]
pub struct StoreError {
    /// The artifact bucket.
    pub bucket: String,
    /// The report's key.
    pub key: String,
    /// What S3 (or the key's length) said.
    pub message: String,
}

/// The key of the `named` report beside `artifact_key`.
pub fn key_beside(artifact_key: &str, named: Named) -> String {
    format!("{artifact_key}.{}", named.suffix)
}

/// Stores `body` as the `named` report beside `artifact_key` in `bucket`; returns its key.
/// Private like the bucket: no ACL is set, and the bucket's default encryption applies.
pub async fn store_beside(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    artifact_key: &str,
    named: Named,
    body: Vec<u8>,
) -> Result<String, StoreError> {
    let key = key_beside(artifact_key, named);
    let fail = |message: String| StoreError {
        bucket: bucket.to_owned(),
        key: key.clone(),
        message,
    };
    if key.len() > KEY_LIMIT {
        return Err(fail(format!(
            "the key would be {} bytes, over S3's {KEY_LIMIT}",
            key.len()
        )));
    }
    s3.put_object()
        .bucket(bucket)
        .key(&key)
        .content_type(named.content_type)
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| fail(error_chain(&e)))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_sits_beside_its_artifact() {
        assert_eq!(
            key_beside("pipe/SourceArti/Ab12Cd", LINT_REPORT),
            "pipe/SourceArti/Ab12Cd.lint.json"
        );
    }

    #[tokio::test]
    async fn a_key_over_s3s_limit_is_refused_before_any_request() {
        // No endpoint is reachable here: the refusal must come first.
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:1")
            .build();
        let s3 = aws_sdk_s3::Client::from_conf(conf);
        let long = "k".repeat(1020);
        let e = store_beside(&s3, "b", &long, LINT_REPORT, b"{}".to_vec())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("over S3's 1024"), "{e}");
        assert!(e.key.ends_with(".lint.json"));
    }
}
