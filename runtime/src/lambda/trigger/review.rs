//! The Plan stage's live review: the migrator's `plan --review` answer stored beside the
//! artifact as a page (for the approver) and as JSON (for tools), and published as output
//! variables the approval action shows and links to.
//!
//! The approval's review URL is the S3 console's page for the stored object, not a
//! presigned link: a presigned URL signed with a Lambda role's session credentials dies
//! with the session (hours), long before an approval may be read, and would hand the
//! page to whoever holds the link. The console link needs the approver's own sign-in and
//! `s3:GetObject` on the bucket, which stays private; "Open" shows the page.

use engine::review::{Review, Verdict};

use super::outcome::{Outcome, Variable};
use crate::lambda::beside;

/// What a stored review adds to the job's result.
pub struct Reviewed {
    /// One line for the summary.
    line: String,
    /// The variables.
    variables: Vec<(Variable, String)>,
}

/// The console link to `bucket/key` in `region`.
pub fn console_url(bucket: &str, key: &str, region: Option<&str>) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let region = region
        .map(|r| format!("region={}&", enc(r)))
        .unwrap_or_default();
    format!(
        "https://console.aws.amazon.com/s3/object/{}?{region}prefix={}",
        enc(bucket),
        enc(key)
    )
}

/// Stores `review`'s page and JSON beside `artifact_key`; what the result gains.
pub async fn store(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    artifact_key: &str,
    region: Option<&str>,
    review: &Review,
) -> Result<Reviewed, beside::StoreError> {
    let title = format!(
        "lambda-migrate review: {} pending migration(s)",
        review.summary.migrations.len()
    );
    let page = engine::review::page::render(review, &title);
    let html = beside::store_beside(
        s3,
        bucket,
        artifact_key,
        beside::REVIEW_PAGE,
        page.into_bytes(),
    )
    .await?;
    let json = serde_json::to_vec(review).expect("a review always serializes");
    beside::store_beside(s3, bucket, artifact_key, beside::REVIEW_JSON, json).await?;
    let count = |v: Verdict| {
        review
            .summary
            .migrations
            .iter()
            .filter(|m| m.verdict == v)
            .count()
    };
    let worst = review
        .summary
        .migrations
        .iter()
        .map(|m| m.verdict)
        .max()
        .unwrap_or(Verdict::Safe);
    let (danger, needs_review, safe) = (
        count(Verdict::Danger),
        count(Verdict::Review),
        count(Verdict::Safe),
    );
    Ok(Reviewed {
        line: format!(
            "Review: {danger} danger, {needs_review} review, {safe} safe; page s3://{bucket}/{html}"
        ),
        variables: vec![
            (Variable::ReviewVerdict, worst.as_str().to_owned()),
            (
                Variable::ReviewCounts,
                format!("{danger} danger, {needs_review} review, {safe} safe"),
            ),
            (Variable::ReviewUrl, console_url(bucket, &html, region)),
            (Variable::ReviewReportKey, html),
        ],
    })
}

impl Reviewed {
    /// `outcome` with the review added to a success's summary and variables.
    pub fn annotate(self, outcome: Outcome) -> Outcome {
        outcome.annotated(&self.line, self.variables)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_link_names_the_object_encoded() {
        assert_eq!(
            console_url(
                "art-bucket",
                "pipe/Src/a b+c.review.html",
                Some("eu-west-1")
            ),
            "https://console.aws.amazon.com/s3/object/art-bucket?region=eu-west-1&prefix=pipe%2FSrc%2Fa%20b%2Bc.review.html"
        );
    }
}
