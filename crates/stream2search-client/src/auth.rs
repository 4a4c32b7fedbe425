//! How requests prove who sends them: AWS SigV4 (`es` or `aoss`), HTTP basic, or nothing.

use std::fmt;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign,
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
}

impl Service {
    /// The SigV4 signing name.
    pub fn signing_name(self) -> &'static str {
        match self {
            Service::Es => "es",
            Service::Aoss => "aoss",
            Service::Sqs => "sqs",
            Service::DynamoDb => "dynamodb",
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
                sign_v4(request, &creds, service.signing_name(), region, now)
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
/// Adds `x-amz-date`, `x-amz-content-sha256` (required by `aoss`, accepted by `es`),
/// `x-amz-security-token` when the credentials have a session token, and `authorization`.
pub(crate) fn sign_v4(
    request: &mut Request<Bytes>,
    creds: &Credentials,
    service: &str,
    region: &str,
    time: SystemTime,
) -> Result<(), Error> {
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
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
