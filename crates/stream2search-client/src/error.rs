//! One opaque error for everything that stops the transport.
//!
//! Per-record problems are never errors: a document OpenSearch rejects, or one that could not be
//! sent before the deadline, is a `checkpoint::RecordOutcome` value. An [`Error`] is what is
//! left: a configuration that cannot work, or one failed HTTP exchange (used internally to decide
//! whether to retry, and surfaced as the reason of a not-durable item).

use std::error::Error as StdError;
use std::fmt;

use crate::config::Setting;

type Source = Box<dyn StdError + Send + Sync>;

/// A failure of the transport or of its configuration.
///
/// Ask it questions ([`is_retryable`](Error::is_retryable), [`is_timeout`](Error::is_timeout),
/// [`is_configuration`](Error::is_configuration), [`status`](Error::status)) rather than matching
/// on its message: the text is for people and may change.
///
/// Neither `Display` nor `Debug` ever contains a credential: errors carry no header values, and
/// server reasons are cut short.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: Kind,
    source: Option<Source>,
}

#[derive(Debug)]
pub(crate) enum Kind {
    /// The configuration cannot work (bad endpoint, unreadable CA, invalid backoff, ...), with
    /// the setting at fault when one is.
    Config {
        setting: Option<Setting>,
        message: String,
    },
    /// Credentials could not be loaded from their provider.
    Credentials,
    /// The request could not be signed.
    Signing,
    /// No connection could be opened.
    Connect,
    /// The server's TLS certificate is not trusted (wrong CA, wrong name, expired).
    Certificate,
    /// The connection broke while sending or receiving.
    Transport,
    /// No complete answer within the time allowed.
    Timeout,
    /// The server refused our credentials even after a refresh (401/403 on the whole request).
    Unauthorized { status: u16, reason: String },
}

/// Server reasons are kept short: enough to diagnose, never a whole echoed request.
const REASON_LIMIT: usize = 300;

fn shorten(reason: &str) -> String {
    if reason.len() <= REASON_LIMIT {
        return reason.to_owned();
    }
    let mut end = REASON_LIMIT;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &reason[..end])
}

impl Error {
    pub(crate) fn new(kind: Kind) -> Self {
        Error {
            inner: Box::new(Inner { kind, source: None }),
        }
    }

    pub(crate) fn with_source(kind: Kind, source: impl Into<Source>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                source: Some(source.into()),
            }),
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::new(Kind::Config {
            setting: None,
            message: message.into(),
        })
    }

    /// A configuration error about `setting`.
    pub(crate) fn invalid(setting: Setting, message: impl Into<String>) -> Self {
        Error::new(Kind::Config {
            setting: Some(setting),
            message: message.into(),
        })
    }

    /// The same error, about `setting` if it is a configuration error about no setting yet.
    pub(crate) fn about(mut self, setting: Setting) -> Self {
        if let Kind::Config {
            setting: s @ None, ..
        } = &mut self.inner.kind
        {
            *s = Some(setting);
        }
        self
    }

    pub(crate) fn unauthorized(status: u16, reason: &str) -> Self {
        Error::new(Kind::Unauthorized {
            status,
            reason: shorten(reason),
        })
    }

    /// Would the same request, sent again later, plausibly succeed?
    ///
    /// True for connection failures and timeouts. False for configuration problems, including
    /// credentials the server keeps refusing.
    pub fn is_retryable(&self) -> bool {
        match &self.inner.kind {
            Kind::Connect | Kind::Transport | Kind::Timeout => true,
            Kind::Config { .. }
            | Kind::Certificate
            | Kind::Credentials
            | Kind::Signing
            | Kind::Unauthorized { .. } => false,
        }
    }

    /// Did a connect or request timeout (or the caller's deadline) cut the exchange short?
    pub fn is_timeout(&self) -> bool {
        matches!(self.inner.kind, Kind::Timeout)
    }

    /// Is this a setup problem that retrying cannot fix (endpoint, TLS, credentials, auth)?
    pub fn is_configuration(&self) -> bool {
        matches!(
            self.inner.kind,
            Kind::Config { .. }
                | Kind::Certificate
                | Kind::Credentials
                | Kind::Signing
                | Kind::Unauthorized { .. }
        )
    }

    /// For a configuration that cannot work, the one [`Config`](crate::Config) field at fault.
    ///
    /// ```
    /// use std::time::Duration;
    /// use stream2search_client::{Client, Config, Setting};
    ///
    /// let mut config = Config::new("https://search.example");
    /// config.connect_timeout = Duration::ZERO;
    /// let e = Client::new(config).unwrap_err();
    /// assert_eq!(e.setting(), Some(Setting::ConnectTimeout));
    /// ```
    pub fn setting(&self) -> Option<Setting> {
        match &self.inner.kind {
            Kind::Config { setting, .. } => *setting,
            _ => None,
        }
    }

    /// The HTTP status of the answer that caused this error, if there was one.
    pub fn status(&self) -> Option<u16> {
        match &self.inner.kind {
            Kind::Unauthorized { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner.kind {
            Kind::Config { message, .. } => write!(f, "invalid client configuration: {message}"),
            Kind::Credentials => f.write_str("could not load AWS credentials"),
            Kind::Signing => f.write_str("could not sign the request"),
            Kind::Connect => f.write_str("could not connect to OpenSearch"),
            Kind::Certificate => f.write_str("the OpenSearch TLS certificate is not trusted"),
            Kind::Transport => f.write_str("connection to OpenSearch failed"),
            Kind::Timeout => f.write_str("OpenSearch did not answer in time"),
            Kind::Unauthorized { status, reason } => write!(
                f,
                "OpenSearch refused the credentials (HTTP {status}) after a refresh: {reason}"
            ),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind);
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|s| &**s as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_reasons_are_cut_on_a_char_boundary() {
        let reason = "é".repeat(400);
        let e = Error::unauthorized(403, &reason);
        assert!(e.to_string().len() < 700);
        assert!(e.to_string().ends_with('…'));
    }

    #[test]
    fn unauthorized_is_a_configuration_error_with_a_status() {
        let e = Error::unauthorized(401, "");
        assert!(!e.is_retryable());
        assert!(e.is_configuration());
        assert_eq!(e.status(), Some(401));
    }

    #[test]
    fn timeouts_are_retryable() {
        let e = Error::new(Kind::Timeout);
        assert!(e.is_timeout() && e.is_retryable() && !e.is_configuration());
        assert_eq!(e.status(), None);
    }
}
