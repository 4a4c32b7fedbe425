//! `--function-url`: a function behind the Lambda Invoke API
//! (`http://HOST:PORT/2015-03-31/functions/NAME/invocations`, as `cargo lambda watch` serves it),
//! over plain HTTP: local emulators only. `poll` delivers batches to it, `backfill` jobs.

use std::time::Duration;

use stream2search_client::{Client, Config};

/// A function behind the Lambda Invoke API.
pub struct Function {
    client: Client,
    path: String,
    wait: Duration,
}

impl Function {
    /// `url`: `http://HOST:PORT/2015-03-31/functions/NAME/invocations`. `wait`: how long one
    /// invocation may take (the first one under `cargo lambda watch` compiles the function).
    pub fn new(url: &str, wait: Duration) -> Result<Function, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("--function-url {url:?}: only http:// (a local emulator)"))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        if authority.is_empty() || path.is_empty() {
            return Err(format!(
                "--function-url {url:?}: expected http://HOST:PORT/2015-03-31/functions/NAME/invocations"
            ));
        }
        let mut config = Config::new(format!("http://{authority}"));
        config.allow_http = true;
        config.gzip = false;
        config.request_timeout = wait;
        let client = Client::new(config).map_err(|e| format!("--function-url: {e}"))?;
        Ok(Function {
            client,
            path: format!("/{path}"),
            wait,
        })
    }

    /// One invocation with `payload`: the HTTP status and body, or why there is none.
    pub async fn invoke(&self, payload: &[u8]) -> Result<(u16, Vec<u8>), String> {
        let (status, answer) = self
            .client
            .call(http::Method::POST, &self.path, Some(payload), self.wait)
            .await
            .map_err(|e| format!("invoking the function: {e}"))?;
        Ok((status, answer.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_url_is_plain_http_with_a_path() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _inside = runtime.enter();
        let wait = Duration::from_secs(1);
        let f = Function::new(
            "http://127.0.0.1:9000/2015-03-31/functions/b/invocations",
            wait,
        )
        .unwrap();
        assert_eq!(f.path, "/2015-03-31/functions/b/invocations");
        assert!(Function::new("https://lambda.eu-west-1.amazonaws.com/x", wait).is_err());
        assert!(Function::new("https://x/", wait).is_err());
        assert!(Function::new("http://127.0.0.1:9000", wait).is_err());
        assert!(Function::new("http:///2015-03-31/functions/b/invocations", wait).is_err());
    }
}
