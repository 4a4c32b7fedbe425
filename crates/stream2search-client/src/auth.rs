//! How requests prove who sends them: AWS SigV4 (`es`, `aoss`, `sqs`, `dynamodb`, `s3`), HTTP
//! basic, or nothing.

use std::fmt;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Request, header};

use crate::credentials::{self, Cache};
use crate::error::{Error, Kind};

/// How the client authenticates to OpenSearch.
#[derive(Clone, Default)]
pub enum Auth {
    /// Send no credentials (a local node with security disabled).
    #[default]
    None,
    /// HTTP basic auth, for self-managed clusters.
    Basic(Basic),
    /// AWS Signature Version 4, for Amazon OpenSearch Service and Serverless.
    SigV4(SigV4),
}

impl Auth {
    /// HTTP basic auth with this user name and password.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Auth {
        Auth::Basic(Basic {
            username: username.into(),
            password: password.into(),
        })
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic(basic) => basic.fmt(f),
            Auth::SigV4(sigv4) => sigv4.fmt(f),
        }
    }
}

/// User name and password for HTTP basic auth. `Debug` shows neither.
#[derive(Clone)]
pub struct Basic {
    username: String,
    password: String,
}

impl fmt::Debug for Basic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Basic { .. }")
    }
}

/// Which AWS service the signature is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// Amazon OpenSearch Service managed domains (signing name `es`).
    Es,
    /// Amazon OpenSearch Serverless collections (signing name `aoss`).
    Aoss,
    /// Amazon SQS, for dead letters (signing name `sqs`; see [`crate::Client::call_aws_json`]).
    Sqs,
    /// DynamoDB and DynamoDB Streams (signing name `dynamodb`).
    DynamoDb,
    /// Amazon Kinesis Data Streams (signing name `kinesis`; its JSON protocol is version 1.1,
    /// see [`crate::Client::call_aws_json`]).
    Kinesis,
    /// Amazon S3, for reading DynamoDB exports (signing name `s3`; see [`crate::Client::get`]).
    /// S3 signs the path as sent (encoded once, never normalized).
    S3,
}

impl Service {
    /// The SigV4 signing name.
    pub fn signing_name(self) -> &'static str {
        match self {
            Service::Es => "es",
            Service::Aoss => "aoss",
            Service::Sqs => "sqs",
            Service::DynamoDb => "dynamodb",
            Service::Kinesis => "kinesis",
            Service::S3 => "s3",
        }
    }

    /// The `content-type` of this service's AWS JSON protocol: version 1.1 for Kinesis, 1.0 for
    /// the others.
    pub(crate) fn json_content_type(self) -> &'static str {
        match self {
            Service::Kinesis => "application/x-amz-json-1.1",
            _ => "application/x-amz-json-1.0",
        }
    }
}

/// SigV4 settings: service, region and where credentials come from.
#[derive(Clone)]
pub struct SigV4 {
    service: Service,
    region: String,
    provider: SharedCredentialsProvider,
}

impl SigV4 {
    /// Signs for `service` in `region` with credentials from `provider` (any
    /// [`ProvideCredentials`], including a fixed [`Credentials`] value).
    ///
    /// Credentials that carry an expiry are fetched again from the provider a few minutes before
    /// they expire, and once more if the server answers 401/403.
    pub fn new(
        service: Service,
        region: impl Into<String>,
        provider: impl ProvideCredentials + 'static,
    ) -> SigV4 {
        SigV4 {
            service,
            region: region.into(),
            provider: SharedCredentialsProvider::new(provider),
        }
    }

    /// Signs with the standard Lambda environment: region from `AWS_REGION`, credentials from
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.
    ///
    /// The environment is read here, once, and nowhere else in this crate.
    pub fn from_lambda_env(service: Service) -> Result<SigV4, Error> {
        let region = std::env::var("AWS_REGION")
            .ok()
            .filter(|r| !r.is_empty())
            .ok_or_else(|| Error::config("AWS_REGION must be set for SigV4"))?;
        Ok(SigV4::new(service, region, credentials::from_lambda_env()?))
    }

    /// The service this signs for.
    pub fn service(&self) -> Service {
        self.service
    }

    /// The region this signs for.
    pub fn region(&self) -> &str {
        &self.region
    }
}

impl fmt::Debug for SigV4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The provider's own Debug may print an access key id: leave it out.
        f.debug_struct("SigV4")
            .field("service", &self.service)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// Applies an [`Auth`] to outgoing requests.
pub(crate) enum Signer {
    None,
    Basic(HeaderValue),
    SigV4 {
        service: Service,
        region: String,
        credentials: Cache,
    },
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Signer::None => f.write_str("None"),
            Signer::Basic(_) => f.write_str("Basic { .. }"),
            Signer::SigV4 {
                service, region, ..
            } => f
                .debug_struct("SigV4")
                .field("service", service)
                .field("region", region)
                .finish_non_exhaustive(),
        }
    }
}

impl Signer {
    pub(crate) fn new(auth: &Auth) -> Result<Signer, Error> {
        Ok(match auth {
            Auth::None => Signer::None,
            Auth::Basic(Basic { username, password }) => {
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{password}"));
                let mut value = HeaderValue::from_str(&format!("Basic {token}"))
                    .map_err(|_| Error::config("basic auth credentials are not valid"))?;
                value.set_sensitive(true);
                Signer::Basic(value)
            }
            Auth::SigV4(SigV4 {
                service,
                region,
                provider,
            }) => {
                if region.is_empty() {
                    return Err(Error::config("the SigV4 region is empty"));
                }
                Signer::SigV4 {
                    service: *service,
                    region: region.clone(),
                    credentials: Cache::new(provider.clone()),
                }
            }
        })
    }

    /// Adds the auth headers to `request`, whose body is exactly the bytes that will be sent.
    pub(crate) async fn sign(
        &self,
        request: &mut Request<Bytes>,
        now: SystemTime,
    ) -> Result<(), Error> {
        match self {
            Signer::None => Ok(()),
            Signer::Basic(value) => {
                request
                    .headers_mut()
                    .insert(header::AUTHORIZATION, value.clone());
                Ok(())
            }
            Signer::SigV4 {
                service,
                region,
                credentials,
            } => {
                let creds = credentials.get(now).await?;
                sign_v4(request, &creds, *service, region, now)
            }
        }
    }

    /// After a 401/403: fetches credentials again. Returns whether there was anything to
    /// refresh (basic auth and no auth have nothing that could change).
    pub(crate) async fn refresh(&self) -> Result<bool, Error> {
        match self {
            Signer::None | Signer::Basic(_) => Ok(false),
            Signer::SigV4 { credentials, .. } => credentials.refresh().await.map(|_| true),
        }
    }
}

/// Signs `request` in place with SigV4, over its headers and its body as they are.
///
/// Adds `x-amz-date`, `x-amz-content-sha256` (required by `aoss` and `s3`, accepted by `es`),
/// `x-amz-security-token` when the credentials have a session token, and `authorization`.
///
/// For `s3` the canonical path is the request's path as it is (S3 encodes once and never
/// normalizes `.`, `..` or `//` in a key); every other service gets the default double encoding
/// and normalization.
pub(crate) fn sign_v4(
    request: &mut Request<Bytes>,
    creds: &Credentials,
    service: Service,
    region: &str,
    time: SystemTime,
) -> Result<(), Error> {
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    if service == Service::S3 {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    }
    let service = service.signing_name();
    let identity: Identity = creds.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| Error::with_source(Kind::Signing, e))?
        .into();
    let uri = request.uri().to_string();
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            value
                .to_str()
                .map(|v| (name.as_str(), v))
                .map_err(|_| Error::new(Kind::Signing))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let signable = SignableRequest::new(
        request.method().as_str(),
        uri,
        headers.into_iter(),
        SignableBody::Bytes(request.body()),
    )
    .map_err(|e| Error::with_source(Kind::Signing, e))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| Error::with_source(Kind::Signing, e))?
        .into_parts();
    instructions.apply_to_request_http1x(request);
    // The authorization names the access key id; keep both out of any header dump.
    for name in [header::AUTHORIZATION.as_str(), "x-amz-security-token"] {
        if let Some(value) = request.headers_mut().get_mut(name) {
            value.set_sensitive(true);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    /// The example of the S3 API reference ("Authenticating Requests: Using the Authorization
    /// Header", Signature Version 4): its keys, its time (2013-05-24T00:00:00Z), its region.
    fn s3_example(path_and_query: &str, headers: &[(&str, &str)]) -> String {
        let creds = Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "example",
        );
        let mut builder = Request::builder()
            .method("GET")
            .uri(format!(
                "https://examplebucket.s3.amazonaws.com{path_and_query}"
            ))
            .header("host", "examplebucket.s3.amazonaws.com");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut request = builder.body(Bytes::new()).unwrap();
        let time = UNIX_EPOCH + Duration::from_secs(1_369_353_600);
        sign_v4(&mut request, &creds, Service::S3, "us-east-1", time).unwrap();
        request.headers()["authorization"]
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn s3_ranged_get_object_signs_as_the_s3_reference_example() {
        let auth = s3_example("/test.txt", &[("range", "bytes=0-9")]);
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn s3_list_objects_signs_as_the_s3_reference_example() {
        let auth = s3_example("/?max-keys=2&prefix=J", &[]);
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;x-amz-content-sha256;x-amz-date, \
             Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        );
    }

    // The next two signatures were computed by a second implementation, botocore 1.44's
    // `S3SigV4Auth`, for the same keys, time and region (it gives the two examples above too).

    #[test]
    fn s3_key_with_reserved_characters_is_signed_as_sent_encoded_once() {
        let auth = s3_example(
            "/exports/AWSDynamoDB/01-a/data/a%20b%2Bc%3D~%25.json.gz",
            &[("range", "bytes=0-9")],
        );
        assert!(
            auth.ends_with(
                "Signature=1e27c32dae391d195a890a06b22a71c72ad153ed579eda5fb35035ad24a6b27e"
            ),
            "{auth}"
        );
    }

    #[test]
    fn s3_listing_query_with_encoded_prefix_and_token_is_signed_as_botocore_signs_it() {
        let auth = s3_example(
            "/?list-type=2&prefix=exports%2Fa%20b%2B%2F&continuation-token=1ueGcxLPRx1Tr%2FXYExHnhbYLgveDs2J%2Fwm36Hy4vbOwM%3D",
            &[],
        );
        assert!(
            auth.ends_with(
                "Signature=ec0ec6cf3873a1e338ceae755e245a079f6834655e26375ec098c53dbd9ba4d2"
            ),
            "{auth}"
        );
    }
}
