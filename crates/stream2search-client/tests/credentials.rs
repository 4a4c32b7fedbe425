//! Credentials: read from the Lambda environment only when asked, and never shown in `Display`
//! or `Debug` of a config, a client or an error.

mod common;

use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, error::CredentialsError, future};
use common::*;
use stream2search_client::{Auth, Client, Config, Service, SigV4};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer};

const KEY_ID: &str = "AKIAEXAMPLEKEYID0001";
const SECRET: &str = "s3cr3t/EXAMPLE+secretAccessKey0000000001";
const TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLEsessionTOKEN0001";
const PASSWORD: &str = "correct-horse-battery-staple";

fn assert_no_secret(text: &str) {
    for secret in [KEY_ID, SECRET, TOKEN, PASSWORD] {
        assert!(!text.contains(secret), "{secret:?} leaked into: {text}");
    }
}

fn assert_hidden(value: &(impl std::fmt::Debug + ?Sized)) {
    assert_no_secret(&format!("{value:?}"));
    assert_no_secret(&format!("{value:#?}"));
}

fn sigv4() -> SigV4 {
    let creds = Credentials::new(KEY_ID, SECRET, Some(TOKEN.into()), None, "test");
    SigV4::new(Service::Aoss, "eu-west-1", creds)
}

#[test]
fn config_and_client_debug_show_no_credentials() {
    let mut config = Config::new("https://search.example");
    config.auth = Auth::SigV4(sigv4());
    assert_hidden(&config);
    assert_hidden(&Client::new(config).unwrap());

    let mut config = Config::new(format!("https://admin:{PASSWORD}@search.example"));
    config.auth = Auth::basic("admin", PASSWORD);
    assert_hidden(&config);
    let err = Client::new(config).unwrap_err();
    assert_hidden(&err);
    assert_no_secret(&err.to_string());

    let mut config = Config::new("https://search.example");
    config.auth = Auth::basic("admin", PASSWORD);
    assert_hidden(&Client::new(config).unwrap());
}

#[tokio::test]
async fn errors_show_no_credentials() {
    // 401 after a refresh: the error names the status, not what was sent.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(scripted(|_, _, _| Err(401)).0)
        .mount(&server)
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    for auth in [Auth::SigV4(sigv4()), Auth::basic("admin", PASSWORD)] {
        let mut config = config(&server.uri());
        config.auth = auth;
        let err = Client::new(config)
            .unwrap()
            .send(&inserts(1), deadline)
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(401));
        assert_hidden(&err);
        assert_no_secret(&err.to_string());
    }

    // A provider that fails.
    let mut config = config(&server.uri());
    config.auth = Auth::SigV4(SigV4::new(Service::Es, "eu-west-1", Failing));
    let err = Client::new(config)
        .unwrap()
        .send(&inserts(1), deadline)
        .await
        .unwrap_err();
    assert!(err.is_configuration());
    assert_hidden(&err);
}

#[tokio::test]
async fn signed_request_marks_its_secrets_sensitive() {
    let mut config = Config::new("https://search.example");
    config.auth = Auth::SigV4(sigv4());
    let request = Client::new(config)
        .unwrap()
        .bulk_request(b"{\"delete\":{\"_index\":\"t\",\"_id\":\"1\"}}\n")
        .await
        .unwrap();
    assert!(request.headers()["authorization"].is_sensitive());
    assert!(request.headers()["x-amz-security-token"].is_sensitive());
    assert_hidden(request.headers());
}

#[derive(Debug)]
struct Failing;

impl ProvideCredentials for Failing {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Err(CredentialsError::not_loaded("no credentials here")))
    }
}

/// `SigV4::from_lambda_env` is checked in a child process, so that no test changes the
/// environment of another.
#[test]
fn from_lambda_env_reads_the_standard_variables() {
    if std::env::var_os("S2S_CLIENT_ENV_CHILD").is_some() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut config = Config::new("https://search.example");
        let sigv4 = SigV4::from_lambda_env(Service::Es).unwrap();
        assert_eq!(sigv4.region(), "ap-southeast-2");
        config.auth = Auth::SigV4(sigv4);
        let request = runtime
            .block_on(Client::new(config).unwrap().bulk_request(b"\n"))
            .unwrap();
        assert_eq!(request.headers()["x-amz-security-token"], TOKEN);
        let authorization = request.headers()["authorization"].to_str().unwrap();
        assert!(authorization.contains(&format!("Credential={KEY_ID}/")));
        assert!(authorization.contains("/ap-southeast-2/es/aws4_request"));
        return;
    }
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "from_lambda_env_reads_the_standard_variables"])
        .env("S2S_CLIENT_ENV_CHILD", "1")
        .env("AWS_REGION", "ap-southeast-2")
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_SESSION_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(
        child.status.success(),
        "{}{}",
        String::from_utf8_lossy(&child.stdout),
        String::from_utf8_lossy(&child.stderr)
    );

    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "from_lambda_env_reads_the_standard_variables"])
        .env("S2S_CLIENT_ENV_CHILD", "1")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_REGION", "ap-southeast-2")
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "missing keys must be an error");
}
