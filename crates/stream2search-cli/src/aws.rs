//! What `poll`, `backfill` and `verify` need to reach AWS: where (an endpoint from a flag or
//! the standard `AWS_ENDPOINT_URL_<SERVICE>` and `AWS_ENDPOINT_URL` variables), the signing
//! region and credentials from the environment, a client signing for service `dynamodb`, the S3
//! client an `s3://` export needs, and (from `stream2search_client::aws`) reading an answer or
//! the exception AWS named.

use std::time::Duration;

use aws_credential_types::Credentials;
use stream2search_client::{Client, Service, SigV4};
use stream2search_lambda::backfill::s3::S3;

pub(crate) use stream2search_client::aws::answer;

/// A client for `endpoint` (an AWS endpoint, or a local mock over plain `http://`), signing for
/// `region` with `credentials`. Bodies are sent uncompressed.
pub(crate) fn client(
    endpoint: &str,
    region: String,
    credentials: Credentials,
) -> Result<Client, stream2search_client::Error> {
    stream2search_client::aws::client(endpoint, SigV4::new(Service::DynamoDb, region, credentials))
}

/// A service's endpoint: `flag`, else the service's variable (`AWS_ENDPOINT_URL_DYNAMODB`), else
/// `AWS_ENDPOINT_URL`; `None` when none is set (the caller knows AWS's own).
pub(crate) fn endpoint(flag: Option<&str>, variable: &str) -> Option<String> {
    flag.map(str::to_owned)
        .or_else(|| crate::env(variable))
        .or_else(|| crate::env("AWS_ENDPOINT_URL"))
}

/// DynamoDB's endpoint: `flag`, `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL`, else
/// `https://dynamodb.<region>.amazonaws.com`.
pub(crate) fn dynamodb_endpoint(flag: Option<&str>, region: &str) -> String {
    endpoint(flag, "AWS_ENDPOINT_URL_DYNAMODB")
        .unwrap_or_else(|| format!("https://dynamodb.{region}.amazonaws.com"))
}

/// The region a table is read in: `region` (--region), else AWS_REGION.
pub(crate) fn table_region(region: Option<String>) -> Result<String, String> {
    region
        .or_else(|| crate::env("AWS_REGION"))
        .ok_or_else(|| "AWS_REGION (or --region) must name the table's region".to_owned())
}

/// The credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; the error
/// names the missing variable, never a value.
pub(crate) fn credentials() -> Result<Credentials, String> {
    stream2search_client::credentials_from_env(crate::env).map_err(|missing| {
        format!("{missing}: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")
    })
}

/// The S3 client an export at `location` needs: for `s3://`, one for `flag` (--s3-endpoint),
/// else `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, else AWS, signing as `signing` says; `None`
/// for a local directory.
pub(crate) fn s3(
    location: &str,
    flag: Option<&str>,
    signing: impl FnOnce() -> Result<(String, Credentials), String>,
    timeout: Duration,
) -> Result<Option<S3>, String> {
    if !location.starts_with("s3://") {
        return Ok(None);
    }
    let (region, credentials) = signing()?;
    let endpoint = endpoint(flag, "AWS_ENDPOINT_URL_S3");
    S3::new(endpoint.as_deref(), &region, credentials, timeout)
        .map(Some)
        .map_err(|e| format!("s3 endpoint: {e}"))
}
