//! AWS credentials: the Lambda environment by default, any provider on request, refreshed before
//! they expire.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};

use crate::error::{Error, Kind};

/// Credentials expiring sooner than this are fetched again before signing.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// Reads `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and (if set) `AWS_SESSION_TOKEN`.
///
/// This is the only place the crate reads credentials from the environment, and it does so once:
/// in Lambda these variables hold the execution role's credentials for the life of the sandbox.
pub(crate) fn from_lambda_env() -> Result<Credentials, Error> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (Some(key), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) else {
        return Err(Error::config(
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set for SigV4",
        ));
    };
    Ok(Credentials::new(
        key,
        secret,
        var("AWS_SESSION_TOKEN"),
        None,
        "LambdaEnvironment",
    ))
}

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
