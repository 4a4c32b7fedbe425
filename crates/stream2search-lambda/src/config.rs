//! Settings from the environment, read once at cold start and checked before the first event.
//!
//! Every variable is listed in the crate README and `docs/deploy.md`. [`Settings::from_env`]
//! reads the process environment; [`Settings::from_lookup`] reads any map (tests).

use std::fmt;
use std::time::Duration;

use stream2search::{Config as PlanConfig, TtlPolicy};
use stream2search_client::{Auth, Config as ClientConfig, Service, SigV4};

/// A setting that cannot work. Names the variable; never echoes a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault (or the ones of which one is missing).
    pub variable: String,
    message: String,
}

impl ConfigError {
    pub(crate) fn new(variable: &str, message: impl Into<String>) -> Self {
        ConfigError {
            variable: variable.to_owned(),
            message: message.into(),
        }
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
            mode @ ("es" | "aoss" | "sigv4") => {
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
                let credentials = lambda_credentials(&get)?;
                Auth::SigV4(SigV4::new(service, region, credentials))
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
                get("STREAM2SEARCH_SQS_ENDPOINT").map(|e| e.trim().to_owned()),
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
        Ok(Settings {
            plan,
            client,
            dead_letter,
            fallback_budget,
            metrics,
            metrics_namespace: get("STREAM2SEARCH_METRICS_NAMESPACE")
                .unwrap_or_else(|| "stream2search".into()),
            function_name: get("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "local".into()),
            aws_credentials: lambda_credentials(&get).ok().map(Secret),
        })
    }
}

/// The execution role's credentials, as Lambda sets them.
fn lambda_credentials(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<aws_credential_types::Credentials, ConfigError> {
    let key = get("AWS_ACCESS_KEY_ID")
        .ok_or_else(|| ConfigError::new("AWS_ACCESS_KEY_ID", "not set, needed for SigV4"))?;
    let secret = get("AWS_SECRET_ACCESS_KEY")
        .ok_or_else(|| ConfigError::new("AWS_SECRET_ACCESS_KEY", "not set, needed for SigV4"))?;
    Ok(aws_credential_types::Credentials::new(
        key,
        secret,
        get("AWS_SESSION_TOKEN"),
        None,
        "LambdaEnvironment",
    ))
}

/// The queue's endpoint and signing region: from the URL (`https://sqs.<region>.amazonaws.com/…`)
/// unless given. Plain http (in the queue URL or the endpoint) only when `allow_http`.
fn dead_letter(
    queue_url: &str,
    endpoint: Option<String>,
    aws_region: Option<String>,
    allow_http: bool,
) -> Result<DeadLetter, ConfigError> {
    const HINT: &str = "STREAM2SEARCH_DLQ_ALLOW_HTTP=true for a local mock \
                        (dead letters carry whole records in signed requests)";
    let uri = check_url("STREAM2SEARCH_DLQ_URL", queue_url, allow_http, HINT)?;
    let endpoint = match endpoint {
        Some(url) => {
            check_url("STREAM2SEARCH_SQS_ENDPOINT", &url, allow_http, HINT)?;
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
        let refused = crate::Queue::new(
            DeadLetter {
                allow_http: false,
                ..dl.clone()
            },
            None,
        );
        assert!(refused.is_err());
        assert!(crate::Queue::new(dl, None).is_ok());
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
}
