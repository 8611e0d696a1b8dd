//! RDS IAM authentication tokens, made locally: a SigV4-presigned
//! `connect` URL for the `rds-db` service. No network call, which matters inside a VPC
//! without NAT. The token is a password: it is never logged.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;

/// How long a token is valid: RDS accepts at most 15 minutes, and only checks it at
/// connection time.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(900);

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// No credentials were found in the default chain.
    #[error("RDS IAM auth: no AWS credentials: {0}")]
    Credentials(String),
    /// The region is not known.
    #[error("RDS IAM auth: no AWS region (set AWS_REGION)")]
    NoRegion,
    /// Signing failed.
    #[error("RDS IAM auth: signing the token failed: {0}")]
    Signing(String),
}

/// Percent-encodes everything but RFC 3986's unreserved characters, as SigV4 does.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The token for `user` at `host:port` in `region`, signed with `credentials` at `now`.
pub fn token(
    credentials: &Credentials,
    region: &str,
    host: &str,
    port: u16,
    user: &str,
    now: SystemTime,
) -> Result<String, TokenError> {
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(TOKEN_LIFETIME);
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("rds-db")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| TokenError::Signing(e.to_string()))?
        .into();
    let base = format!(
        "https://{host}:{port}/?Action=connect&DBUser={}",
        encode(user)
    );
    let request = SignableRequest::new("GET", &base, std::iter::empty(), SignableBody::Bytes(&[]))
        .map_err(|e| TokenError::Signing(e.to_string()))?;
    let (instructions, _signature) = sign(request, &params)
        .map_err(|e| TokenError::Signing(e.to_string()))?
        .into_parts();
    let mut url = base;
    for (name, value) in instructions.params() {
        url.push('&');
        url.push_str(name);
        url.push('=');
        url.push_str(&encode(value));
    }
    Ok(url
        .strip_prefix("https://")
        .map(str::to_owned)
        .unwrap_or(url))
}

/// A token signed with the default credential chain's credentials (in Lambda: the
/// function role's, from the environment) and the configured region.
pub async fn token_from_env(host: &str, port: u16, user: &str) -> Result<String, TokenError> {
    use aws_credential_types::provider::ProvideCredentials;
    let conf = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let region = conf.region().ok_or(TokenError::NoRegion)?.to_string();
    let provider = conf
        .credentials_provider()
        .ok_or_else(|| TokenError::Credentials("no credentials provider".into()))?;
    let credentials = provider
        .provide_credentials()
        .await
        .map_err(|e| TokenError::Credentials(e.to_string()))?;
    token(&credentials, &region, host, port, user, SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_has_the_presigned_connect_url_shape() {
        let creds = Credentials::new(
            "AKIDEXAMPLE",
            "secret/key+x",
            Some("to/ken=".into()),
            None,
            "t",
        );
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let t = token(
            &creds,
            "eu-west-1",
            "db.example.rds.amazonaws.com",
            3306,
            "app user",
            now,
        )
        .unwrap();
        assert!(
            t.starts_with("db.example.rds.amazonaws.com:3306/?Action=connect&DBUser=app%20user&"),
            "{t}"
        );
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKIDEXAMPLE%2F20231114%2Feu-west-1%2Frds-db%2Faws4_request",
            "X-Amz-Date=20231114T221320Z",
            "X-Amz-Expires=900",
            "X-Amz-SignedHeaders=host",
            "X-Amz-Security-Token=to%2Fken%3D",
        ] {
            assert!(t.contains(part), "{part} missing from {t}");
        }
        let sig = t
            .split('&')
            .find_map(|p| p.strip_prefix("X-Amz-Signature="))
            .expect("signature");
        assert_eq!(sig.len(), 64);
        assert!(sig.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(!t.contains("secret"), "the secret key must not appear");
    }

    #[test]
    fn tokens_differ_by_user_and_time() {
        let creds = Credentials::new("AKID", "s", None, None, "t");
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let a = token(&creds, "us-east-1", "h", 3306, "a", now).unwrap();
        let b = token(&creds, "us-east-1", "h", 3306, "b", now).unwrap();
        let c = token(
            &creds,
            "us-east-1",
            "h",
            3306,
            "a",
            now + Duration::from_secs(1),
        )
        .unwrap();
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert!(!a.contains("X-Amz-Security-Token"));
    }
}
