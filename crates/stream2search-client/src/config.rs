//! Client settings: plain public fields with defaults, validated once by `Client::new`.

use std::fmt;
use std::time::Duration;

use crate::auth::Auth;
use crate::endpoint;

/// Everything the client needs to know, checked when the [`Client`](crate::Client) is built.
///
/// ```
/// use std::time::Duration;
/// use stream2search_client::{Auth, Config};
///
/// let mut config = Config::new("https://search-products.eu-west-1.es.amazonaws.com");
/// config.auth = Auth::basic("indexer", "correct horse battery staple");
/// config.request_timeout = Duration::from_secs(10);
/// assert!(!format!("{config:?}").contains("horse"));
/// ```
#[derive(Clone)]
pub struct Config {
    /// Base URL of the cluster, e.g. `https://search-x.eu-west-1.es.amazonaws.com`. May carry a
    /// path prefix (for a proxy); `/_bulk` is appended. Must not carry user info.
    pub endpoint: String,
    /// Accept a plain `http://` endpoint. Off by default; meant for a local test node.
    pub allow_http: bool,
    /// How requests are authenticated. Default: none.
    pub auth: Auth,
    /// One or more PEM certificates trusted in addition to the webpki roots (self-hosted
    /// clusters with a private CA).
    pub extra_ca_pem: Option<Vec<u8>>,
    /// Limit for opening a TCP connection. Default 5 s.
    pub connect_timeout: Duration,
    /// Limit for one bulk request, from sending until the whole answer is read. Default 30 s;
    /// always shortened so that the caller's deadline (less `deadline_margin`) is kept.
    pub request_timeout: Duration,
    /// gzip bulk bodies (`Content-Encoding: gzip`). Default on.
    pub gzip: bool,
    /// First retry delay scale for the core's backoff. Default 100 ms.
    pub backoff_base: Duration,
    /// Largest retry delay. Default 5 s.
    pub backoff_cap: Duration,
    /// Most requests any one item takes part in before it is given up as not durable, even if
    /// time remains. Default 8.
    pub max_attempts: u32,
    /// Time kept free before the caller's deadline: no request or wait is started that could run
    /// into it. Default 1 s.
    pub deadline_margin: Duration,
    /// How long an idle keep-alive connection is kept for reuse. Default 30 s.
    pub pool_idle_timeout: Duration,
}

impl Config {
    /// Settings for `endpoint` with every other field at its default.
    pub fn new(endpoint: impl Into<String>) -> Config {
        Config {
            endpoint: endpoint.into(),
            allow_http: false,
            auth: Auth::None,
            extra_ca_pem: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            gzip: true,
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_secs(5),
            max_attempts: 8,
            deadline_margin: Duration::from_secs(1),
            pool_idle_timeout: Duration::from_secs(30),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("endpoint", &endpoint::redacted(&self.endpoint))
            .field("allow_http", &self.allow_http)
            .field("auth", &self.auth)
            .field("extra_ca_pem", &self.extra_ca_pem.as_ref().map(Vec::len))
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("gzip", &self.gzip)
            .field("backoff_base", &self.backoff_base)
            .field("backoff_cap", &self.backoff_cap)
            .field("max_attempts", &self.max_attempts)
            .field("deadline_margin", &self.deadline_margin)
            .field("pool_idle_timeout", &self.pool_idle_timeout)
            .finish()
    }
}

/// A [`Config`] field a configuration error can be about: see
/// [`Error::setting`](crate::Error::setting).
///
/// Not `non_exhaustive` on purpose: a caller that maps settings to its own names (the Lambda's
/// environment variables) must name every one, so a new setting cannot go unnamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setting {
    /// [`Config::endpoint`], with [`Config::allow_http`] for a plain `http://` one.
    Endpoint,
    /// [`Config::auth`].
    Auth,
    /// [`Config::extra_ca_pem`].
    ExtraCaPem,
    /// [`Config::connect_timeout`].
    ConnectTimeout,
    /// [`Config::request_timeout`].
    RequestTimeout,
    /// [`Config::backoff_base`].
    BackoffBase,
    /// [`Config::backoff_cap`].
    BackoffCap,
    /// [`Config::max_attempts`].
    MaxAttempts,
}

impl Setting {
    /// The field's name: `"connect_timeout"`.
    pub fn name(self) -> &'static str {
        match self {
            Setting::Endpoint => "endpoint",
            Setting::Auth => "auth",
            Setting::ExtraCaPem => "extra_ca_pem",
            Setting::ConnectTimeout => "connect_timeout",
            Setting::RequestTimeout => "request_timeout",
            Setting::BackoffBase => "backoff_base",
            Setting::BackoffCap => "backoff_cap",
            Setting::MaxAttempts => "max_attempts",
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::Client;

    #[test]
    fn each_refused_setting_is_named_alone() {
        type Set = fn(&mut Config);
        let cases: [(Set, Setting, &str); 8] = [
            (
                |c| c.endpoint = "ftp://x".into(),
                Setting::Endpoint,
                "https://",
            ),
            (
                |c| c.endpoint = "http://127.0.0.1:9200".into(),
                Setting::Endpoint,
                "plain http",
            ),
            (
                |c| c.extra_ca_pem = Some(b"not a pem".to_vec()),
                Setting::ExtraCaPem,
                "extra CA",
            ),
            (
                |c| c.connect_timeout = Duration::ZERO,
                Setting::ConnectTimeout,
                "connect_timeout must be longer than zero",
            ),
            (
                |c| c.request_timeout = Duration::ZERO,
                Setting::RequestTimeout,
                "request_timeout must be longer than zero",
            ),
            (
                |c| c.max_attempts = 0,
                Setting::MaxAttempts,
                "max_attempts must be at least 1",
            ),
            (
                |c| c.backoff_base = Duration::ZERO,
                Setting::BackoffBase,
                "backoff base must be positive",
            ),
            (
                |c| c.backoff_cap = Duration::from_millis(50),
                Setting::BackoffCap,
                "backoff cap must be at least its base",
            ),
        ];
        for (set, setting, says) in cases {
            let mut config = Config::new("https://search.example");
            set(&mut config);
            let e = Client::new(config).unwrap_err();
            assert!(e.is_configuration(), "{e}");
            assert_eq!(e.setting(), Some(setting), "{e}");
            assert!(e.to_string().contains(says), "{setting:?}: {e}");
        }
        // The SigV4 region is checked by the signer, and named as the auth setting.
        let mut config = Config::new("https://search.example");
        config.auth = Auth::SigV4(crate::SigV4::new(
            crate::Service::Es,
            "",
            aws_credential_types::Credentials::new("AKID", "SECRET", None, None, "test"),
        ));
        let e = Client::new(config).unwrap_err();
        assert_eq!(e.setting(), Some(Setting::Auth), "{e}");
        // Both timeouts zero: the error names one of them.
        let mut config = Config::new("https://search.example");
        config.connect_timeout = Duration::ZERO;
        config.request_timeout = Duration::ZERO;
        let e = Client::new(config).unwrap_err();
        assert_eq!(e.setting(), Some(Setting::ConnectTimeout), "{e}");
        assert!(!e.to_string().contains("request_timeout"), "{e}");
        assert_eq!(Setting::ConnectTimeout.name(), "connect_timeout");
    }

    #[test]
    fn errors_that_are_not_about_configuration_name_no_setting() {
        let e = crate::error::Error::new(crate::error::Kind::Timeout);
        assert_eq!(e.setting(), None);
        assert_eq!(crate::error::Error::config("x").setting(), None);
    }
}
