//! AWS credentials: the Lambda environment by default, any provider on request, refreshed before
//! they expire.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};

use crate::error::{Error, Kind};

/// Credentials expiring sooner than this are fetched again before signing.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// Reads `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and (if set) `AWS_SESSION_TOKEN` from the
/// process environment, as Lambda sets them for the execution role.
pub(crate) fn from_lambda_env() -> Result<Credentials, Error> {
    from_env_with(|name| std::env::var(name).ok()).map_err(|missing| {
        Error::config(format!(
            "{missing} (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY sign SigV4 requests)"
        ))
    })
}

/// Reads `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and (if set) `AWS_SESSION_TOKEN` through
/// `lookup` (a variable's value, or `None` when unset; empty values count as unset).
///
/// This is the one reader of credentials from environment variables: [`SigV4::from_lambda_env`],
/// the Lambda crate's settings and the command line all use it. The error names the first
/// required variable that is missing and never holds a value.
///
/// ```
/// let env = [("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"), ("AWS_SECRET_ACCESS_KEY", "secret")];
/// let lookup = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
/// let credentials = stream2search_client::credentials_from_env(lookup).unwrap();
/// assert_eq!(credentials.access_key_id(), "AKIDEXAMPLE");
/// assert_eq!(credentials.session_token(), None);
///
/// let missing = stream2search_client::credentials_from_env(|_| None).unwrap_err();
/// assert_eq!(missing.variable(), "AWS_ACCESS_KEY_ID");
/// ```
///
/// [`SigV4::from_lambda_env`]: crate::SigV4::from_lambda_env
pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> Result<Credentials, Missing> {
    let var = |name: &'static str| {
        lookup(name)
            .filter(|v| !v.trim().is_empty())
            .ok_or(Missing(name))
    };
    let key = var("AWS_ACCESS_KEY_ID")?;
    let secret = var("AWS_SECRET_ACCESS_KEY")?;
    Ok(Credentials::new(
        key,
        secret,
        var("AWS_SESSION_TOKEN").ok(),
        None,
        "Environment",
    ))
}

/// A credentials variable that is not set (see [`credentials_from_env`](crate::credentials_from_env)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missing(&'static str);

impl Missing {
    /// The variable's name, e.g. `AWS_ACCESS_KEY_ID`.
    pub fn variable(&self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is not set", self.0)
    }
}

impl std::error::Error for Missing {}

/// The credentials last obtained from a provider, reused until they are about to expire.
#[derive(Debug)]
pub(crate) struct Cache {
    provider: SharedCredentialsProvider,
    current: Mutex<Option<Credentials>>,
}

impl Cache {
    pub(crate) fn new(provider: SharedCredentialsProvider) -> Self {
        Cache {
            provider,
            current: Mutex::new(None),
        }
    }

    /// Credentials good for signing at `now`: the cached ones, or fresh ones if those are absent
    /// or expire within a few minutes.
    pub(crate) async fn get(&self, now: SystemTime) -> Result<Credentials, Error> {
        let cached = self.lock().clone();
        if let Some(creds) = &cached
            && !expires_within(creds, now, REFRESH_BEFORE_EXPIRY)
        {
            return Ok(creds.clone());
        }
        match self.load().await {
            Ok(fresh) => Ok(fresh),
            // The provider failed, but what we hold is still valid: keep signing with it.
            Err(e) => match cached {
                Some(creds) if !expires_within(&creds, now, Duration::ZERO) => Ok(creds),
                _ => Err(e),
            },
        }
    }

    /// Drops what is cached and asks the provider again (after the server refused them).
    pub(crate) async fn refresh(&self) -> Result<Credentials, Error> {
        self.lock().take();
        self.load().await
    }

    async fn load(&self) -> Result<Credentials, Error> {
        let fresh = self
            .provider
            .provide_credentials()
            .await
            .map_err(|e| Error::with_source(Kind::Credentials, e))?;
        *self.lock() = Some(fresh.clone());
        Ok(fresh)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Credentials>> {
        // A panic elsewhere cannot leave an Option half-written; keep going.
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn expires_within(creds: &Credentials, now: SystemTime, window: Duration) -> bool {
    creds.expiry().is_some_and(|expiry| expiry <= now + window)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::provider::future;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Hands out credentials that expire `lifetime` after a fixed start, counting calls.
    #[derive(Debug)]
    struct Counting {
        calls: AtomicUsize,
        expiry: Option<SystemTime>,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            future::ProvideCredentials::ready(Ok(Credentials::new(
                format!("AKID{n}"),
                "secret",
                None,
                self.expiry,
                "test",
            )))
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn credentials_without_expiry_are_loaded_once() {
        let provider = std::sync::Arc::new(Counting {
            calls: AtomicUsize::new(0),
            expiry: None,
        });
        let cache = Cache::new(SharedCredentialsProvider::from(
            provider.clone() as std::sync::Arc<dyn ProvideCredentials>
        ));
        let now = SystemTime::now();
        block_on(async {
            assert_eq!(cache.get(now).await.unwrap().access_key_id(), "AKID0");
            assert_eq!(cache.get(now).await.unwrap().access_key_id(), "AKID0");
        });
        assert_eq!(provider.calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn credentials_close_to_expiry_are_refreshed() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let provider = std::sync::Arc::new(Counting {
            calls: AtomicUsize::new(0),
            expiry: Some(start + Duration::from_secs(3600)),
        });
        let cache = Cache::new(SharedCredentialsProvider::from(
            provider.clone() as std::sync::Arc<dyn ProvideCredentials>
        ));
        block_on(async {
            assert_eq!(cache.get(start).await.unwrap().access_key_id(), "AKID0");
            // 10 minutes before expiry: still fine.
            let later = start + Duration::from_secs(3000);
            assert_eq!(cache.get(later).await.unwrap().access_key_id(), "AKID0");
            // 2 minutes before expiry: fetched again.
            let close = start + Duration::from_secs(3480);
            assert_eq!(cache.get(close).await.unwrap().access_key_id(), "AKID1");
            // An explicit refresh always asks the provider.
            assert_eq!(cache.refresh().await.unwrap().access_key_id(), "AKID2");
        });
    }
}
