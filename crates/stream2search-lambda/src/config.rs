//! Settings from the environment, read once at cold start and checked before the first event.
//!
//! Every variable is listed in the crate README. One convention names them: `OPENSEARCH_*` says
//! which cluster and index to write and how to prove who writes (the names AWS's own tutorials
//! use); `STREAM2SEARCH_*` says how this function works (documents, request sizes, timeouts and
//! retries, dead letters, metrics); `AWS_*` and `AWS_LAMBDA_*` are Lambda's own.
//! [`Settings::from_env`] reads the process environment; [`Settings::from_lookup`] reads any map.
//! Mistakes found only when the planner and the client are built are named too
//! ([`crate::Builder::from_lookup`]).

use std::fmt;
use std::time::Duration;

use stream2search::{Config as PlanConfig, LongIdPolicy, ReservedNames, TtlPolicy};
use stream2search_client::{Auth, Config as ClientConfig, Service, SigV4};

/// A setting that cannot work. Names the variable; never echoes a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    variable: String,
    message: String,
}

impl ConfigError {
    pub(crate) fn new(variable: &str, message: impl Into<String>) -> Self {
        ConfigError {
            variable: variable.to_owned(),
            message: message.into(),
        }
    }

    /// The environment variable at fault (or the one of several that is missing).
    pub fn variable(&self) -> &str {
        &self.variable
    }
}

/// Where poison records go.
#[derive(Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The queue URL, `https://sqs.<region>.amazonaws.com/<account>/<name>`.
    pub queue_url: String,
    /// Where SendMessageBatch is posted: by default the queue URL's scheme and host.
    pub endpoint: String,
    /// The region the request is signed for.
    pub region: String,
    /// Whether a plain `http://` queue URL or endpoint is accepted (`STREAM2SEARCH_DLQ_ALLOW_HTTP`;
    /// a local mock only). Off by default: dead letters carry whole records in signed requests.
    pub allow_http: bool,
}

impl fmt::Debug for DeadLetter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeadLetter")
            .field("queue_url", &self.queue_url)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

/// Everything the function needs. `Debug` shows no credentials.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// What the planner is told.
    pub plan: PlanConfig,
    /// How bulk requests are sent (endpoint, auth, compression).
    pub client: ClientConfig,
    /// The dead-letter queue, if any.
    pub dead_letter: Option<DeadLetter>,
    /// Time allowed per invocation when Lambda's deadline is unusable (absent or already past, as
    /// `cargo lambda watch` sends). Default 60 s.
    pub fallback_budget: Duration,
    /// Write CloudWatch Embedded Metric Format lines to stdout. Default on.
    pub metrics: bool,
    /// EMF namespace. Default `stream2search`.
    pub metrics_namespace: String,
    /// The function name, an EMF dimension (`AWS_LAMBDA_FUNCTION_NAME`).
    pub function_name: String,
    /// The execution role's credentials, when set: they sign dead-letter requests.
    pub aws_credentials: Option<Secret<aws_credential_types::Credentials>>,
    /// Where every action is also sent while the index is rebuilt (`STREAM2SEARCH_MIRROR`,
    /// `STREAM2SEARCH_MIRROR_REFRESH_SECS`; `docs/reindex.md`).
    pub mirror: crate::mirror::Mirror,
}

/// A value kept out of `Debug` output.
#[derive(Clone)]
pub struct Secret<T>(pub T);

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (a variable's value, or `None` when unset). Empty values
    /// count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let endpoint = match (get("OPENSEARCH_ENDPOINT"), get("OPENSEARCH_DOMAIN")) {
            (Some(url), _) => url.trim().to_owned(),
            (None, Some(host)) => {
                let host = host.trim();
                if host.contains("://") || host.contains('/') {
                    return Err(ConfigError::new(
                        "OPENSEARCH_DOMAIN",
                        "must be a bare host name (use OPENSEARCH_ENDPOINT for a URL)",
                    ));
                }
                format!("https://{host}")
            }
            (None, None) => {
                return Err(ConfigError::new(
                    "OPENSEARCH_ENDPOINT",
                    "not set (nor OPENSEARCH_DOMAIN)",
                ));
            }
        };
        let index = get("OPENSEARCH_INDEX")
            .ok_or_else(|| ConfigError::new("OPENSEARCH_INDEX", "not set"))?;
        let region = get("OPENSEARCH_REGION").or_else(|| get("AWS_REGION"));

        let mut plan = PlanConfig {
            index,
            index_prefix: get("OPENSEARCH_INDEX_PREFIX"),
            ..PlanConfig::default()
        };
        if let Some(keys) = get("STREAM2SEARCH_ID_KEYS") {
            plan.id_keys = Some(list(&keys));
        }
        if let Some(v) = get("STREAM2SEARCH_VERSIONING") {
            plan.versioning = boolean("STREAM2SEARCH_VERSIONING", &v)?;
        }
        if let Some(v) = get("STREAM2SEARCH_TTL") {
            plan.ttl = match v.trim().to_ascii_lowercase().as_str() {
                "delete" => TtlPolicy::Delete,
                "skip" => TtlPolicy::Skip,
                _ => {
                    return Err(ConfigError::new(
                        "STREAM2SEARCH_TTL",
                        "must be delete or skip",
                    ));
                }
            };
        }
        if let Some(v) = get("STREAM2SEARCH_INCLUDE") {
            plan.include = Some(list(&v));
        }
        if let Some(v) = get("STREAM2SEARCH_EXCLUDE") {
            plan.exclude = list(&v);
        }
        if let Some(v) = get("STREAM2SEARCH_NUMBERS_AS_STRINGS") {
            plan.numbers_as_strings = list(&v);
        }
        plan.routing = get("STREAM2SEARCH_ROUTING");
        plan.indexed_at = get("STREAM2SEARCH_INDEXED_AT").map(|f| f.trim().to_owned());
        let reserved_prefix = get("STREAM2SEARCH_RESERVED_PREFIX").map(|p| p.trim().to_owned());
        plan.reserved = match get("STREAM2SEARCH_RESERVED_NAMES")
            .as_deref()
            .map(str::trim)
        {
            None => ReservedNames::Rename {
                prefix: reserved_prefix.unwrap_or_else(|| ReservedNames::DEFAULT_PREFIX.into()),
            },
            Some(v) if v.eq_ignore_ascii_case("rename") => ReservedNames::Rename {
                prefix: reserved_prefix.unwrap_or_else(|| ReservedNames::DEFAULT_PREFIX.into()),
            },
            Some(v) if v.eq_ignore_ascii_case("reject") => {
                if reserved_prefix.is_some() {
                    return Err(ConfigError::new(
                        "STREAM2SEARCH_RESERVED_PREFIX",
                        "applies to STREAM2SEARCH_RESERVED_NAMES=rename only",
                    ));
                }
                ReservedNames::Reject
            }
            Some(_) => {
                return Err(ConfigError::new(
                    "STREAM2SEARCH_RESERVED_NAMES",
                    "must be rename or reject",
                ));
            }
        };
        if let Some(v) = get("STREAM2SEARCH_LONG_IDS") {
            plan.long_ids = match v.trim().to_ascii_lowercase().as_str() {
                "hash" => LongIdPolicy::Hash,
                "reject" => LongIdPolicy::Reject,
                _ => {
                    return Err(ConfigError::new(
                        "STREAM2SEARCH_LONG_IDS",
                        "must be hash or reject",
                    ));
                }
            };
        }
        if let Some(v) = get("STREAM2SEARCH_MAX_CHUNK_BYTES") {
            plan.max_chunk_bytes = number("STREAM2SEARCH_MAX_CHUNK_BYTES", &v)?;
        }
        if let Some(v) = get("STREAM2SEARCH_MAX_CHUNK_ACTIONS") {
            plan.max_chunk_actions = number("STREAM2SEARCH_MAX_CHUNK_ACTIONS", &v)?;
        }

        let mut client = ClientConfig::new(endpoint);
        if let Some(v) = get("OPENSEARCH_ALLOW_HTTP") {
            client.allow_http = boolean("OPENSEARCH_ALLOW_HTTP", &v)?;
        }
        check_url(
            "OPENSEARCH_ENDPOINT",
            &client.endpoint,
            client.allow_http,
            "OPENSEARCH_ALLOW_HTTP=true for a local node; credentials go in OPENSEARCH_AUTH=basic",
        )?;
        if let Some(v) = get("STREAM2SEARCH_GZIP") {
            client.gzip = boolean("STREAM2SEARCH_GZIP", &v)?;
        }
        for (variable, field) in [
            (
                "STREAM2SEARCH_CONNECT_TIMEOUT_MS",
                &mut client.connect_timeout,
            ),
            (
                "STREAM2SEARCH_REQUEST_TIMEOUT_MS",
                &mut client.request_timeout,
            ),
            ("STREAM2SEARCH_BACKOFF_BASE_MS", &mut client.backoff_base),
            ("STREAM2SEARCH_BACKOFF_CAP_MS", &mut client.backoff_cap),
            (
                "STREAM2SEARCH_DEADLINE_MARGIN_MS",
                &mut client.deadline_margin,
            ),
        ] {
            if let Some(v) = get(variable) {
                *field = Duration::from_millis(number(variable, &v)?);
            }
        }
        if let Some(v) = get("STREAM2SEARCH_MAX_ATTEMPTS") {
            client.max_attempts = number("STREAM2SEARCH_MAX_ATTEMPTS", &v)?;
        }
        let auth = get("OPENSEARCH_AUTH").unwrap_or_else(|| "es".into());
        client.auth = match auth.trim().to_ascii_lowercase().as_str() {
            "none" => Auth::None,
            "basic" => {
                let user = get("OPENSEARCH_USERNAME").ok_or_else(|| {
                    ConfigError::new("OPENSEARCH_USERNAME", "required with OPENSEARCH_AUTH=basic")
                })?;
                let password = get("OPENSEARCH_PASSWORD").ok_or_else(|| {
                    ConfigError::new("OPENSEARCH_PASSWORD", "required with OPENSEARCH_AUTH=basic")
                })?;
                Auth::basic(user, password)
            }
            mode @ ("es" | "aoss") => {
                let service = if mode == "aoss" {
                    Service::Aoss
                } else {
                    Service::Es
                };
                let region = region.clone().ok_or_else(|| {
                    ConfigError::new(
                        "OPENSEARCH_REGION",
                        "not set (nor AWS_REGION), needed for SigV4",
                    )
                })?;
                let credentials = aws_credentials(&get)?;
                Auth::SigV4(SigV4::new(service, region, credentials))
            }
            "sigv4" => {
                return Err(ConfigError::new(
                    "OPENSEARCH_AUTH",
                    "sigv4 does not say which service signs: es (a managed domain) or aoss (Serverless)",
                ));
            }
            _ => {
                return Err(ConfigError::new(
                    "OPENSEARCH_AUTH",
                    "must be es, aoss, basic or none",
                ));
            }
        };

        let dlq_allow_http = match get("STREAM2SEARCH_DLQ_ALLOW_HTTP") {
            Some(v) => boolean("STREAM2SEARCH_DLQ_ALLOW_HTTP", &v)?,
            None => false,
        };
        let dead_letter = match get("STREAM2SEARCH_DLQ_URL") {
            None => None,
            Some(queue_url) => Some(dead_letter(
                queue_url.trim(),
                // Ours first, then the AWS SDKs' standard endpoint variables.
                [
                    "STREAM2SEARCH_SQS_ENDPOINT",
                    "AWS_ENDPOINT_URL_SQS",
                    "AWS_ENDPOINT_URL",
                ]
                .into_iter()
                .find_map(|name| get(name).map(|e| (name, e.trim().to_owned()))),
                get("AWS_REGION"),
                dlq_allow_http,
            )?),
        };
        let fallback_budget = match get("STREAM2SEARCH_FALLBACK_BUDGET_SECS") {
            Some(v) => {
                Duration::from_secs(number::<u64>("STREAM2SEARCH_FALLBACK_BUDGET_SECS", &v)?)
            }
            None => Duration::from_secs(60),
        };
        if fallback_budget.is_zero() {
            return Err(ConfigError::new(
                "STREAM2SEARCH_FALLBACK_BUDGET_SECS",
                "must be positive",
            ));
        }
        let metrics = match get("STREAM2SEARCH_METRICS") {
            Some(v) => boolean("STREAM2SEARCH_METRICS", &v)?,
            None => true,
        };
        let mirror = crate::mirror::Mirror::from_lookup(&get, &plan)?;
        Ok(Settings {
            plan,
            client,
            dead_letter,
            fallback_budget,
            metrics,
            metrics_namespace: get("STREAM2SEARCH_METRICS_NAMESPACE")
                .unwrap_or_else(|| "stream2search".into()),
            function_name: get("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "local".into()),
            aws_credentials: aws_credentials(&get).ok().map(Secret),
            mirror,
        })
    }
}

/// The execution role's credentials, as Lambda sets them (the client's one reader).
fn aws_credentials(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<aws_credential_types::Credentials, ConfigError> {
    stream2search_client::credentials_from_env(get)
        .map_err(|missing| ConfigError::new(missing.variable(), "not set, needed for SigV4"))
}

/// The planner and the OpenSearch client `settings` describe, for every handler's cold start. A
/// refusal names its variable: the setting's, or for the endpoint the one it came from
/// (`OPENSEARCH_ENDPOINT` when set, else `OPENSEARCH_DOMAIN`).
pub(crate) fn planner_and_client(
    settings: &Settings,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<(stream2search::Planner, stream2search_client::Client), ConfigError> {
    let endpoint_variable = if lookup("OPENSEARCH_ENDPOINT").is_some_and(|v| !v.trim().is_empty()) {
        "OPENSEARCH_ENDPOINT"
    } else {
        "OPENSEARCH_DOMAIN"
    };
    let planner =
        stream2search::Planner::new(settings.plan.clone()).map_err(|e| planner_error(&e))?;
    let client = stream2search_client::Client::new(settings.client.clone())
        .map_err(|e| client_error(endpoint_variable, &e))?;
    Ok((planner, client))
}

/// Where a function reads its table (backfill, verify): the region, the execution role's
/// credentials and the DynamoDB endpoint.
pub(crate) struct TableAccess {
    /// `AWS_REGION`, trimmed.
    pub(crate) region: String,
    pub(crate) credentials: aws_credential_types::Credentials,
    /// `AWS_ENDPOINT_URL_DYNAMODB`, else `AWS_ENDPOINT_URL`, else DynamoDB's in the region.
    pub(crate) endpoint: String,
    /// The variable the endpoint came from (`AWS_REGION` for the default), for its errors.
    pub(crate) endpoint_variable: &'static str,
}

impl TableAccess {
    /// Reads them through `get` (which treats blank values as unset); a missing one names its
    /// variable.
    pub(crate) fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let region = get("AWS_REGION")
            .map(|r| r.trim().to_owned())
            .ok_or_else(|| ConfigError::new("AWS_REGION", "not set, needed to read the table"))?;
        let credentials = stream2search_client::credentials_from_env(&get).map_err(|missing| {
            ConfigError::new(missing.variable(), "not set, needed to read the table")
        })?;
        let (endpoint_variable, endpoint) = ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"]
            .into_iter()
            .find_map(|name| get(name).map(|e| (name, e.trim().to_owned())))
            .unwrap_or_else(|| {
                (
                    "AWS_REGION",
                    format!("https://dynamodb.{region}.amazonaws.com"),
                )
            });
        Ok(TableAccess {
            region,
            credentials,
            endpoint,
            endpoint_variable,
        })
    }
}

/// The variable behind a planner that refused its configuration: the one that sets the
/// setting the error names.
pub(crate) fn planner_error(error: &stream2search::ConfigError) -> ConfigError {
    use stream2search::Setting;
    let variable = match error.setting() {
        Setting::Index => "OPENSEARCH_INDEX",
        Setting::IndexPrefix => "OPENSEARCH_INDEX_PREFIX",
        Setting::IdKeys => "STREAM2SEARCH_ID_KEYS",
        Setting::Reserved => "STREAM2SEARCH_RESERVED_PREFIX",
        Setting::NumbersAsStrings => "STREAM2SEARCH_NUMBERS_AS_STRINGS",
        Setting::IndexedAt => "STREAM2SEARCH_INDEXED_AT",
        Setting::MaxChunkBytes => "STREAM2SEARCH_MAX_CHUNK_BYTES",
        Setting::MaxChunkActions => "STREAM2SEARCH_MAX_CHUNK_ACTIONS",
        Setting::BackoffBase => "STREAM2SEARCH_BACKOFF_BASE_MS",
        Setting::BackoffCap => "STREAM2SEARCH_BACKOFF_CAP_MS",
    };
    let message = error.to_string();
    let message = message
        .strip_prefix("invalid configuration: ")
        .unwrap_or(&message);
    ConfigError::new(variable, message)
}

/// The variable behind a client that refused its configuration, as [`planner_error`] does.
/// `endpoint_variable` is the one the endpoint came from; an error that names no setting is
/// put on it too.
pub(crate) fn client_error(
    endpoint_variable: &str,
    error: &stream2search_client::Error,
) -> ConfigError {
    use stream2search_client::Setting;
    let variable = match error.setting() {
        // No variable sets an extra CA: the endpoint's TLS is what it is about.
        None | Some(Setting::Endpoint | Setting::ExtraCaPem) => endpoint_variable,
        Some(Setting::Auth) => "OPENSEARCH_AUTH",
        Some(Setting::ConnectTimeout) => "STREAM2SEARCH_CONNECT_TIMEOUT_MS",
        Some(Setting::RequestTimeout) => "STREAM2SEARCH_REQUEST_TIMEOUT_MS",
        Some(Setting::BackoffBase) => "STREAM2SEARCH_BACKOFF_BASE_MS",
        Some(Setting::BackoffCap) => "STREAM2SEARCH_BACKOFF_CAP_MS",
        Some(Setting::MaxAttempts) => "STREAM2SEARCH_MAX_ATTEMPTS",
    };
    let message = error.to_string();
    // One level: neither the client's prefix nor the core's (the backoff's) is repeated.
    let message = message
        .strip_prefix("invalid client configuration: ")
        .unwrap_or(&message);
    let message = message
        .strip_prefix("invalid configuration: ")
        .unwrap_or(message);
    ConfigError::new(variable, message)
}

/// The queue's endpoint and signing region: from the URL (`https://sqs.<region>.amazonaws.com/…`)
/// unless given. Plain http (in the queue URL or the endpoint) only when `allow_http`.
fn dead_letter(
    queue_url: &str,
    endpoint: Option<(&'static str, String)>,
    aws_region: Option<String>,
    allow_http: bool,
) -> Result<DeadLetter, ConfigError> {
    const HINT: &str = "STREAM2SEARCH_DLQ_ALLOW_HTTP=true for a local mock \
                        (dead letters carry whole records in signed requests)";
    let uri = check_url("STREAM2SEARCH_DLQ_URL", queue_url, allow_http, HINT)?;
    let endpoint = match endpoint {
        Some((variable, url)) => {
            check_url(variable, &url, allow_http, HINT)?;
            url
        }
        None => format!(
            "{}://{}",
            uri.scheme_str().unwrap_or("https"),
            uri.authority().map_or("", |a| a.as_str())
        ),
    };
    let from_host = uri
        .host()
        .and_then(|h| h.strip_prefix("sqs."))
        .and_then(|rest| rest.split('.').next())
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    let region = from_host.or(aws_region).ok_or_else(|| {
        ConfigError::new("AWS_REGION", "not set, and the queue URL names no region")
    })?;
    Ok(DeadLetter {
        queue_url: queue_url.to_owned(),
        endpoint,
        region,
        allow_http,
    })
}

/// Checks that `variable`'s `value` is an absolute `https://` URL without user info (or
/// `http://` when `allow_http`). Never echoes the value: it may hold a password. `hint` says how
/// to allow plain http.
fn check_url(
    variable: &str,
    value: &str,
    allow_http: bool,
    hint: &str,
) -> Result<http::Uri, ConfigError> {
    let uri: http::Uri = value
        .trim()
        .parse()
        .map_err(|_| ConfigError::new(variable, "not a URL"))?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(ConfigError::new(variable, "must be an absolute https URL"));
    };
    if authority.as_str().contains('@') {
        return Err(ConfigError::new(variable, "must not contain user info"));
    }
    let after_host = authority
        .as_str()
        .get(authority.host().len()..)
        .unwrap_or("");
    if !after_host.is_empty() && authority.port_u16().is_none() {
        return Err(ConfigError::new(
            variable,
            "has a port that is not a number",
        ));
    }
    match scheme {
        "https" => Ok(uri),
        "http" if allow_http => Ok(uri),
        "http" => Err(ConfigError::new(
            variable,
            format!("plain http:// is refused; use https, or set {hint}"),
        )),
        _ => Err(ConfigError::new(variable, "must be an https URL")),
    }
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn boolean(variable: &str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::new(variable, "must be true or false")),
    }
}

fn number<T: std::str::FromStr>(variable: &str, v: &str) -> Result<T, ConfigError> {
    v.trim()
        .parse()
        .map_err(|_| ConfigError::new(variable, "must be a non-negative integer"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    const AWS: [(&str, &str); 3] = [
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "very-secret-key"),
    ];

    #[test]
    fn bare_domain_becomes_an_https_endpoint_signed_for_es() {
        let mut vars = AWS.to_vec();
        vars.extend([
            (
                "OPENSEARCH_DOMAIN",
                "search-products.eu-west-1.es.amazonaws.com",
            ),
            ("OPENSEARCH_INDEX", "products"),
        ]);
        let s = settings(&vars).unwrap();
        assert_eq!(
            s.client.endpoint,
            "https://search-products.eu-west-1.es.amazonaws.com"
        );
        let Auth::SigV4(sig) = &s.client.auth else {
            panic!("not sigv4")
        };
        assert_eq!((sig.service(), sig.region()), (Service::Es, "eu-west-1"));
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let mut vars = AWS.to_vec();
        vars.extend([
            ("OPENSEARCH_ENDPOINT", "https://node.example"),
            ("OPENSEARCH_INDEX", "products"),
        ]);
        let debug = format!("{:?}", settings(&vars).unwrap());
        assert!(!debug.contains("very-secret-key") && !debug.contains("AKIDEXAMPLE"));
        let basic = settings(&[
            ("OPENSEARCH_ENDPOINT", "https://node.example"),
            ("OPENSEARCH_INDEX", "products"),
            ("OPENSEARCH_AUTH", "basic"),
            ("OPENSEARCH_USERNAME", "indexer"),
            ("OPENSEARCH_PASSWORD", "hunter2"),
        ])
        .unwrap();
        assert!(!format!("{basic:?}").contains("hunter2"));
    }

    #[test]
    fn missing_and_bad_values_name_their_variable() {
        let err = settings(&[("OPENSEARCH_INDEX", "p")]).unwrap_err();
        assert_eq!(err.variable, "OPENSEARCH_ENDPOINT");
        let base = [
            ("OPENSEARCH_ENDPOINT", "https://n"),
            ("OPENSEARCH_INDEX", "p"),
        ];
        for (var, value) in [
            ("OPENSEARCH_AUTH", "kerberos"),
            ("STREAM2SEARCH_TTL", "archive"),
            ("STREAM2SEARCH_VERSIONING", "maybe"),
            ("STREAM2SEARCH_MAX_CHUNK_BYTES", "-1"),
            ("STREAM2SEARCH_FALLBACK_BUDGET_SECS", "0"),
        ] {
            let mut vars = base.to_vec();
            vars.extend([("OPENSEARCH_AUTH", "none"), (var, value)]);
            if var == "OPENSEARCH_AUTH" {
                vars.retain(|(k, v)| !(*k == "OPENSEARCH_AUTH" && *v == "none"));
            }
            assert_eq!(settings(&vars).unwrap_err().variable, var, "{var}={value}");
        }
        // SigV4 without credentials.
        let err = settings(&[base[0], base[1], ("AWS_REGION", "eu-west-1")]).unwrap_err();
        assert_eq!(err.variable, "AWS_ACCESS_KEY_ID");
    }

    #[test]
    fn dead_letter_region_comes_from_the_queue_url() {
        let vars = [
            ("OPENSEARCH_ENDPOINT", "https://n"),
            ("OPENSEARCH_INDEX", "p"),
            ("OPENSEARCH_AUTH", "none"),
            (
                "STREAM2SEARCH_DLQ_URL",
                "https://sqs.us-east-2.amazonaws.com/123456789012/products-dlq",
            ),
        ];
        let dl = settings(&vars).unwrap().dead_letter.unwrap();
        assert_eq!(dl.endpoint, "https://sqs.us-east-2.amazonaws.com");
        assert_eq!(dl.region, "us-east-2");
        assert!(!dl.allow_http);
    }

    #[test]
    fn the_sqs_endpoint_comes_from_ours_then_the_aws_sdk_variables() {
        let base = [
            ("OPENSEARCH_ENDPOINT", "https://n"),
            ("OPENSEARCH_INDEX", "p"),
            ("OPENSEARCH_AUTH", "none"),
            (
                "STREAM2SEARCH_DLQ_URL",
                "https://sqs.us-east-2.amazonaws.com/123456789012/products-dlq",
            ),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut vars = base.to_vec();
            vars.extend_from_slice(extra);
            settings(&vars)
        };
        let endpoint = |extra: &[(&'static str, &'static str)]| {
            with(extra).unwrap().dead_letter.unwrap().endpoint
        };
        assert_eq!(endpoint(&[]), "https://sqs.us-east-2.amazonaws.com");
        assert_eq!(
            endpoint(&[("AWS_ENDPOINT_URL", "https://all.example")]),
            "https://all.example"
        );
        assert_eq!(
            endpoint(&[
                ("AWS_ENDPOINT_URL", "https://all.example"),
                ("AWS_ENDPOINT_URL_SQS", "https://sqs.example")
            ]),
            "https://sqs.example"
        );
        assert_eq!(
            endpoint(&[
                ("AWS_ENDPOINT_URL_SQS", "https://sqs.example"),
                ("STREAM2SEARCH_SQS_ENDPOINT", "https://ours.example")
            ]),
            "https://ours.example"
        );
        // A plain http endpoint is refused under the name it came from.
        let err = with(&[("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:5055")]).unwrap_err();
        assert_eq!(err.variable(), "AWS_ENDPOINT_URL_SQS");
    }

    #[test]
    fn plain_http_dead_letter_queue_is_refused_unless_allowed() {
        let base = [
            ("OPENSEARCH_ENDPOINT", "https://n"),
            ("OPENSEARCH_INDEX", "p"),
            ("OPENSEARCH_AUTH", "none"),
            ("AWS_REGION", "us-east-1"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut vars = base.to_vec();
            vars.extend_from_slice(extra);
            settings(&vars)
        };
        let http_queue = (
            "STREAM2SEARCH_DLQ_URL",
            "http://127.0.0.1:5055/123456789012/dlq",
        );
        let err = with(&[http_queue]).unwrap_err();
        assert_eq!(err.variable, "STREAM2SEARCH_DLQ_URL");
        assert!(
            err.to_string()
                .contains("STREAM2SEARCH_DLQ_ALLOW_HTTP=true"),
            "{err}"
        );
        // An https queue whose requests would go to a plain http endpoint is refused too.
        let err = with(&[
            (
                "STREAM2SEARCH_DLQ_URL",
                "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
            ),
            ("STREAM2SEARCH_SQS_ENDPOINT", "http://127.0.0.1:5055"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "STREAM2SEARCH_SQS_ENDPOINT");
        assert!(
            err.to_string().contains("STREAM2SEARCH_DLQ_ALLOW_HTTP"),
            "{err}"
        );
        for no in ["false", "0"] {
            let err = with(&[http_queue, ("STREAM2SEARCH_DLQ_ALLOW_HTTP", no)]).unwrap_err();
            assert_eq!(err.variable, "STREAM2SEARCH_DLQ_URL", "{no}");
        }
        let err = with(&[http_queue, ("STREAM2SEARCH_DLQ_ALLOW_HTTP", "sometimes")]).unwrap_err();
        assert_eq!(err.variable, "STREAM2SEARCH_DLQ_ALLOW_HTTP");

        let dl = with(&[http_queue, ("STREAM2SEARCH_DLQ_ALLOW_HTTP", "true")])
            .unwrap()
            .dead_letter
            .unwrap();
        assert_eq!(
            (dl.endpoint.as_str(), dl.region.as_str(), dl.allow_http),
            ("http://127.0.0.1:5055", "us-east-1", true)
        );
        // The queue writer itself refuses plain http that the settings did not allow.
        let refused = crate::sqs::Queue::new(
            DeadLetter {
                allow_http: false,
                ..dl.clone()
            },
            None,
        );
        assert!(refused.is_err());
        assert!(crate::sqs::Queue::new(dl, None).is_ok());
    }

    #[test]
    fn urls_with_user_info_are_refused_without_echoing_them() {
        let err = settings(&[
            ("OPENSEARCH_ENDPOINT", "https://n"),
            ("OPENSEARCH_INDEX", "p"),
            ("OPENSEARCH_AUTH", "none"),
            (
                "STREAM2SEARCH_DLQ_URL",
                "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
            ),
            (
                "STREAM2SEARCH_SQS_ENDPOINT",
                "https://me:hunter2@vpce.example",
            ),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "STREAM2SEARCH_SQS_ENDPOINT");
        assert!(!format!("{err} {err:?}").contains("hunter2"));
        // A slash in the password ends the authority early: the rest is no port.
        let err = settings(&[
            ("OPENSEARCH_ENDPOINT", "https://me:hun/ter2@search.example"),
            ("OPENSEARCH_INDEX", "p"),
            ("OPENSEARCH_AUTH", "none"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "OPENSEARCH_ENDPOINT");
        assert!(!format!("{err} {err:?}").contains("hun"));
        let ok = settings(&[
            ("OPENSEARCH_ENDPOINT", "https://[::1]:9200/prefix"),
            ("OPENSEARCH_INDEX", "p"),
            ("OPENSEARCH_AUTH", "none"),
        ]);
        assert!(ok.is_ok(), "{ok:?}");
    }

    fn build(vars: &[(&str, &str)]) -> Result<crate::Handler, crate::Error> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        crate::Handler::builder().from_lookup(|k| map.get(k).cloned())
    }

    const LOCAL: [(&str, &str); 3] = [
        ("OPENSEARCH_ENDPOINT", "https://n"),
        ("OPENSEARCH_INDEX", "p"),
        ("OPENSEARCH_AUTH", "none"),
    ];

    #[test]
    fn mistakes_found_while_building_name_their_variable() {
        for (var, value, says) in [
            ("OPENSEARCH_INDEX", "Products", "lower case"),
            (
                "OPENSEARCH_INDEX",
                "{category}",
                "starts with a placeholder",
            ),
            (
                "STREAM2SEARCH_MAX_CHUNK_ACTIONS",
                "0",
                "max_chunk_actions must be positive",
            ),
            (
                "STREAM2SEARCH_MAX_CHUNK_BYTES",
                "0",
                "max_chunk_bytes must be positive",
            ),
            (
                "STREAM2SEARCH_RESERVED_PREFIX",
                "_x",
                "reserved-name prefix",
            ),
            ("STREAM2SEARCH_INDEXED_AT", "_id", "not a usable name"),
            ("STREAM2SEARCH_ID_KEYS", " , ", "at least one key"),
            (
                "STREAM2SEARCH_NUMBERS_AS_STRINGS",
                "dims..weight",
                "empty segment",
            ),
            ("STREAM2SEARCH_MAX_ATTEMPTS", "0", "max_attempts"),
            (
                "STREAM2SEARCH_REQUEST_TIMEOUT_MS",
                "0",
                "request_timeout must be longer than zero",
            ),
            (
                "STREAM2SEARCH_CONNECT_TIMEOUT_MS",
                "0",
                "connect_timeout must be longer than zero",
            ),
            (
                "STREAM2SEARCH_BACKOFF_BASE_MS",
                "0",
                "backoff base must be positive",
            ),
            (
                "STREAM2SEARCH_BACKOFF_CAP_MS",
                "50",
                "backoff cap must be at least its base",
            ),
        ] {
            let mut vars = LOCAL.to_vec();
            vars.retain(|(k, _)| *k != var);
            vars.push((var, value));
            let err = build(&vars).unwrap_err();
            assert_eq!(err.variable(), Some(var), "{var}={value}: {err}");
            assert!(err.is_configuration(), "{var}={value}");
            let text = err.to_string();
            assert!(text.starts_with(&format!("{var}: ")), "{text}");
            assert!(text.contains(says), "{var}={value}: {text}");
            assert!(!text.contains("invalid configuration"), "{text}");
            assert!(!format!("{err:?}").contains('\n'), "{err:?}");
        }
        // Two settings wrong at once: each error names one of them, and says the same one.
        let mut vars = LOCAL.to_vec();
        vars.extend([
            ("STREAM2SEARCH_CONNECT_TIMEOUT_MS", "0"),
            ("STREAM2SEARCH_REQUEST_TIMEOUT_MS", "0"),
        ]);
        let err = build(&vars).unwrap_err();
        assert_eq!(
            err.variable(),
            Some("STREAM2SEARCH_CONNECT_TIMEOUT_MS"),
            "{err}"
        );
        assert!(!err.to_string().contains("request_timeout"), "{err}");
        let mut vars = LOCAL.to_vec();
        vars.extend([
            ("STREAM2SEARCH_MAX_CHUNK_BYTES", "0"),
            ("STREAM2SEARCH_MAX_CHUNK_ACTIONS", "0"),
        ]);
        let err = build(&vars).unwrap_err();
        assert_eq!(
            err.variable(),
            Some("STREAM2SEARCH_MAX_CHUNK_BYTES"),
            "{err}"
        );
        assert!(!err.to_string().contains("max_chunk_actions"), "{err}");
        // A template whose prefix is refused names the prefix, not the template.
        let mut vars = LOCAL.to_vec();
        vars.retain(|(k, _)| *k != "OPENSEARCH_INDEX");
        vars.extend([
            ("OPENSEARCH_INDEX", "products-{category}"),
            ("OPENSEARCH_INDEX_PREFIX", "Products-"),
        ]);
        let err = build(&vars).unwrap_err();
        assert_eq!(err.variable(), Some("OPENSEARCH_INDEX_PREFIX"), "{err}");
        // Plain http without the opt-in is refused before the client is built.
        let err = build(&[
            ("OPENSEARCH_ENDPOINT", "http://127.0.0.1:9200"),
            ("OPENSEARCH_INDEX", "p"),
            ("OPENSEARCH_AUTH", "none"),
        ])
        .unwrap_err();
        assert_eq!(err.variable(), Some("OPENSEARCH_ENDPOINT"), "{err}");
        assert!(
            err.to_string().contains("OPENSEARCH_ALLOW_HTTP=true"),
            "{err}"
        );
        // And each of those settings on its own good value builds.
        assert!(build(&LOCAL).is_ok());
    }

    #[test]
    fn every_setting_reaches_the_planner_and_the_client() {
        let mut vars = LOCAL.to_vec();
        vars.extend([
            ("STREAM2SEARCH_INDEXED_AT", "indexedAt"),
            ("STREAM2SEARCH_RESERVED_PREFIX", "attr"),
            ("STREAM2SEARCH_LONG_IDS", "reject"),
            ("STREAM2SEARCH_CONNECT_TIMEOUT_MS", "1500"),
            ("STREAM2SEARCH_REQUEST_TIMEOUT_MS", "12000"),
            ("STREAM2SEARCH_MAX_ATTEMPTS", "3"),
            ("STREAM2SEARCH_BACKOFF_BASE_MS", "50"),
            ("STREAM2SEARCH_BACKOFF_CAP_MS", "800"),
            ("STREAM2SEARCH_DEADLINE_MARGIN_MS", "2000"),
        ]);
        let s = settings(&vars).unwrap();
        assert_eq!(s.plan.indexed_at.as_deref(), Some("indexedAt"));
        assert_eq!(
            s.plan.reserved,
            ReservedNames::Rename {
                prefix: "attr".into()
            }
        );
        assert_eq!(s.plan.long_ids, LongIdPolicy::Reject);
        let c = &s.client;
        assert_eq!(
            (c.connect_timeout, c.request_timeout, c.max_attempts),
            (Duration::from_millis(1500), Duration::from_secs(12), 3)
        );
        assert_eq!(
            (c.backoff_base, c.backoff_cap, c.deadline_margin),
            (
                Duration::from_millis(50),
                Duration::from_millis(800),
                Duration::from_secs(2)
            )
        );
        let defaults = settings(&LOCAL).unwrap();
        assert_eq!(
            defaults.plan,
            PlanConfig {
                index: "p".into(),
                ..PlanConfig::default()
            }
        );
        let reject = settings(&[
            LOCAL[0],
            LOCAL[1],
            LOCAL[2],
            ("STREAM2SEARCH_RESERVED_NAMES", "reject"),
        ])
        .unwrap();
        assert_eq!(reject.plan.reserved, ReservedNames::Reject);
        for (var, value) in [
            ("STREAM2SEARCH_RESERVED_NAMES", "drop"),
            ("STREAM2SEARCH_LONG_IDS", "truncate"),
            ("STREAM2SEARCH_MAX_ATTEMPTS", "many"),
            ("STREAM2SEARCH_DEADLINE_MARGIN_MS", "1s"),
        ] {
            let mut vars = LOCAL.to_vec();
            vars.push((var, value));
            assert_eq!(settings(&vars).unwrap_err().variable, var, "{var}={value}");
        }
        // A prefix only means something when names are renamed.
        let err = settings(&[
            LOCAL[0],
            LOCAL[1],
            LOCAL[2],
            ("STREAM2SEARCH_RESERVED_NAMES", "reject"),
            ("STREAM2SEARCH_RESERVED_PREFIX", "attr"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "STREAM2SEARCH_RESERVED_PREFIX");
    }

    #[test]
    fn sigv4_is_refused_because_it_does_not_say_es_or_aoss() {
        let mut vars = AWS.to_vec();
        vars.extend([LOCAL[0], LOCAL[1], ("OPENSEARCH_AUTH", "sigv4")]);
        let err = settings(&vars).unwrap_err();
        assert_eq!(err.variable, "OPENSEARCH_AUTH");
        assert!(
            err.to_string().contains("es (a managed domain) or aoss"),
            "{err}"
        );
        vars.retain(|(k, _)| *k != "OPENSEARCH_AUTH");
        vars.push(("OPENSEARCH_AUTH", "aoss"));
        let Auth::SigV4(sig) = settings(&vars).unwrap().client.auth else {
            panic!("not sigv4")
        };
        assert_eq!(sig.service(), Service::Aoss);
    }
}
