//! No credential ever appears in what the function writes: its logs (at TRACE, text and JSON),
//! its EMF metrics, its error reports and `Debug` output, whatever goes wrong.
//!
//! The test runs itself again as a child process per scenario, with distinctive credentials in
//! the child's real environment: the child sets up logging exactly as a function's `main` does
//! (`init_logging`, `RUST_LOG=trace`), builds the handler from the environment and calls it as
//! the runtime would. Everything the child writes to stdout and stderr is captured and searched
//! for each secret (and the base64 of `user:password`, as basic auth sends it). Each scenario
//! also must write the errors it provokes, so an empty or silent run fails.
//!
//! Needs the project's OpenSearch (`OPENSEARCH_URL`) and moto (`MOTO_URL`), as `tests/handler.rs`.

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use stream2search_lambda::lambda_runtime::{Context, Diagnostic, LambdaEvent};
use stream2search_lambda::{Handler, Settings};
use stream2search_testkit::loopback::{answering, hanging};
use stream2search_testkit::secrets::Credentials;
use stream2search_testkit::{MotoSqs, OpenSearch};

const ACCESS_KEY: &str = "AKIAS2SLEAKCHECK7Q3Z";
const SECRET_KEY: &str = "s2sSecretKey/NeverInOutput+9f8e7d6c5b4a";
const SESSION_TOKEN: &str = "s2sSessionToken/NeverInOutput+FwoGZXIvYXdzEJr==";
const USERNAME: &str = "s2s-indexer-7c1d";
const PASSWORD: &str = "s2s-Pa55word-NeverInOutput";

/// The environment variable that makes this test binary a scenario's child.
const CHILD: &str = "STREAM2SEARCH_SECRETS_SCENARIO";

/// Every form in which one of this test's credentials could leak.
const CREDENTIALS: Credentials = Credentials {
    access_key: ACCESS_KEY,
    secret_key: SECRET_KEY,
    session_token: SESSION_TOKEN,
    username: USERNAME,
    password: PASSWORD,
};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The environment every scenario starts from: all the secrets, logs at TRACE, metrics on.
fn base_env() -> Vec<(&'static str, String)> {
    [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_SESSION_TOKEN", SESSION_TOKEN),
        ("OPENSEARCH_USERNAME", USERNAME),
        ("OPENSEARCH_PASSWORD", PASSWORD),
        ("AWS_REGION", "us-east-1"),
        ("AWS_LAMBDA_FUNCTION_NAME", "secrets-check"),
        ("OPENSEARCH_ALLOW_HTTP", "true"),
        ("STREAM2SEARCH_DLQ_ALLOW_HTTP", "true"),
        ("STREAM2SEARCH_METRICS", "true"),
        ("RUST_LOG", "trace"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect()
}

/// Runs `scenario` in a child process with `env` (on top of [`base_env`]); its whole output.
fn run(scenario: &str, env: &[(&'static str, String)]) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "every_secret_stays_out_of_logs_metrics_and_errors",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, scenario)
        .env_remove("AWS_LAMBDA_LOG_FORMAT")
        .env_remove("AWS_LAMBDA_LOG_LEVEL")
        .envs(base_env())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let text = format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "scenario {scenario} {env:?} failed:\n{text}"
    );
    text
}

fn assert_contains(scenario: &str, text: &str, expected: &[&str]) {
    for e in expected {
        assert!(
            text.contains(e),
            "scenario {scenario}: expected {e:?} in its output:\n{text}"
        );
    }
}

/// A scenario: what the child does (`invoke` or `cold-start`), its environment on top of
/// [`base_env`], and what its output must contain.
struct Scenario(&'static str, Vec<(&'static str, String)>, Vec<&'static str>);

#[test]
fn every_secret_stays_out_of_logs_metrics_and_errors() {
    if let Ok(scenario) = std::env::var(CHILD) {
        child(&scenario);
        return;
    }
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let Some(sqs) = MotoSqs::from_env() else {
        return;
    };
    let index = opensearch.index("lambda secrets");
    index.create(json!({"mappings": {"properties": {"price": {"type": "float"}}}}));
    let os = || ("OPENSEARCH_ENDPOINT", opensearch.url().to_owned());
    let idx = || ("OPENSEARCH_INDEX", index.name().to_owned());
    let forbidden = answering(
        "403 Forbidden",
        r#"{"__type":"com.amazonaws.sqs#AccessDenied","message":"Access to the resource is denied."}"#,
    );
    let unauthorized = answering(
        "401 Unauthorized",
        r#"{"error":{"type":"security_exception","reason":"missing authentication credentials"},"status":401}"#,
    );

    let mut scenarios: Vec<Scenario> = vec![
        // Basic auth; a rejected and an unconvertible record, both dead-lettered to moto
        // (SigV4 with the session token); text logs.
        Scenario(
            "invoke",
            vec![
                os(),
                idx(),
                ("OPENSEARCH_AUTH", "basic".into()),
                ("STREAM2SEARCH_DLQ_URL", sqs.create_queue("secrets")),
                ("STREAM2SEARCH_SQS_ENDPOINT", sqs.url()),
            ],
            vec![
                "poison record dead-lettered",
                "mapper_parsing_exception",
                "\"DeadLettered\":2",
                "\"batchItemFailures\":[]",
                "Handler {",
            ],
        ),
        // SigV4 to OpenSearch with the session token; the queue refuses (403); JSON logs.
        Scenario(
            "invoke",
            vec![
                os(),
                idx(),
                ("OPENSEARCH_AUTH", "es".into()),
                ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
                (
                    "STREAM2SEARCH_DLQ_URL",
                    format!("{forbidden}/123456789012/dlq"),
                ),
            ],
            vec![
                "dead-lettering failed",
                "HTTP 403",
                "AccessDenied",
                "record not durable",
                "\"itemIdentifier\":\"501\"",
            ],
        ),
        // OpenSearch refuses the credentials (401): the invocation fails; no queue.
        Scenario(
            "invoke",
            vec![
                ("OPENSEARCH_ENDPOINT", unauthorized),
                idx(),
                ("OPENSEARCH_AUTH", "basic".into()),
            ],
            vec![
                "Stream2Search.OpenSearch",
                "401",
                "missing authentication credentials",
            ],
        ),
        // OpenSearch never answers and the queue is not there: timeouts, then failures.
        Scenario(
            "invoke",
            vec![
                ("OPENSEARCH_ENDPOINT", hanging()),
                idx(),
                ("OPENSEARCH_AUTH", "es".into()),
                (
                    "STREAM2SEARCH_DLQ_URL",
                    "http://127.0.0.1:9/123456789012/gone".into(),
                ),
                ("STREAM2SEARCH_DEADLINE_SECS", "3".into()),
            ],
            vec![
                "record not durable",
                "out of time",
                "dead-lettering failed",
                "\"Failed\":4",
            ],
        ),
    ];
    // Cold starts that fail, each with the secrets set and a bad value next to them.
    for (variable, value) in [
        (
            "OPENSEARCH_ENDPOINT",
            format!("https://{USERNAME}:{PASSWORD}@search.example"),
        ),
        (
            "STREAM2SEARCH_DLQ_URL",
            format!("https://{USERNAME}:{PASSWORD}@sqs.us-east-1.amazonaws.com/1/q"),
        ),
        (
            "STREAM2SEARCH_SQS_ENDPOINT",
            format!("https://{ACCESS_KEY}:{SECRET_KEY}@vpce.example"),
        ),
        ("STREAM2SEARCH_GZIP", PASSWORD.to_owned()),
        ("OPENSEARCH_AUTH", SECRET_KEY.to_owned()),
    ] {
        let mut env = vec![
            ("OPENSEARCH_ENDPOINT", "https://search.example".to_owned()),
            ("OPENSEARCH_INDEX", "products".to_owned()),
            ("OPENSEARCH_AUTH", "basic".to_owned()),
            (
                "STREAM2SEARCH_DLQ_URL",
                "https://sqs.us-east-1.amazonaws.com/123456789012/dlq".to_owned(),
            ),
        ];
        env.retain(|(k, _)| *k != variable);
        env.push((variable, value));
        scenarios.push(Scenario(
            "cold-start",
            env,
            vec![variable, "Stream2Search.Config"],
        ));
    }
    // Basic auth configured with the password only: the error names the missing user name.
    scenarios.push(Scenario(
        "cold-start",
        vec![
            os(),
            idx(),
            ("OPENSEARCH_AUTH", "basic".into()),
            ("OPENSEARCH_USERNAME", String::new()),
        ],
        vec!["OPENSEARCH_USERNAME", "required with OPENSEARCH_AUTH=basic"],
    ));

    for Scenario(scenario, env, expected) in &scenarios {
        let output = run(scenario, env);
        assert_contains(scenario, &output, expected);
        CREDENTIALS.assert_absent(&format!("scenario {scenario} {env:?}"), &output);
    }
}

/// One scenario, in the child: set up as a function's `main` does, then print what a function
/// and its runtime would show.
fn child(scenario: &str) {
    stream2search_lambda::init_logging();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let handler = match Handler::from_env() {
        Ok(h) => h,
        Err(e) => {
            assert_eq!(scenario, "cold-start", "{e}");
            // What `main`'s `?` prints (the Debug of the boxed error), and what the runtime
            // reports.
            eprintln!("Error: {e:?}");
            print_diagnostic(e);
            return;
        }
    };
    assert_eq!(scenario, "invoke", "the configuration was accepted");
    println!("{handler:?}");
    stream2search_lambda::lambda_runtime::tracing::debug!(?handler, settings = ?handler.settings(), "built");
    let seconds =
        std::env::var("STREAM2SEARCH_DEADLINE_SECS").map_or(30, |s| s.parse::<u64>().unwrap());
    let deadline = SystemTime::now() + Duration::from_secs(seconds);
    let mut context = Context::default();
    context.deadline = deadline.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    context.request_id = "secrets-check".into();
    let payload = serde_json::value::RawValue::from_string(fixture("poison.json")).unwrap();
    match runtime.block_on(handler.call(LambdaEvent::new(payload, context))) {
        Ok(response) => println!("{}", serde_json::to_string(&response).unwrap()),
        Err(e) => {
            eprintln!("Error: {e:?}");
            print_diagnostic(e);
        }
    }
}

/// The error report the runtime sends for a failed invocation (it ends up in the logs too).
fn print_diagnostic(e: stream2search_lambda::Error) {
    let diagnostic = Diagnostic::from(e);
    println!(
        "{}",
        json!({"errorType": diagnostic.error_type, "errorMessage": diagnostic.error_message})
    );
}

#[test]
fn debug_of_settings_handler_queue_and_client_hides_every_secret() {
    let vars: HashMap<&str, &str> = HashMap::from([
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_SESSION_TOKEN", SESSION_TOKEN),
        ("AWS_REGION", "us-east-1"),
        ("OPENSEARCH_ENDPOINT", "https://search.example"),
        ("OPENSEARCH_INDEX", "products"),
        ("OPENSEARCH_AUTH", "basic"),
        ("OPENSEARCH_USERNAME", USERNAME),
        ("OPENSEARCH_PASSWORD", PASSWORD),
        (
            "STREAM2SEARCH_DLQ_URL",
            "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
        ),
    ]);
    let lookup = |k: &str| vars.get(k).map(|v| (*v).to_owned());
    let basic = Settings::from_lookup(lookup).unwrap();
    let mut sigv4_vars = vars.clone();
    sigv4_vars.insert("OPENSEARCH_AUTH", "es");
    let sigv4 = Settings::from_lookup(|k| sigv4_vars.get(k).map(|v| (*v).to_owned())).unwrap();
    for settings in [basic, sigv4] {
        let client = stream2search_client::Client::new(settings.client.clone()).unwrap();
        let handler = Handler::new(settings.clone()).unwrap();
        let debug = format!(
            "{settings:?}\n{settings:#?}\n{handler:?}\n{handler:#?}\n{client:?}\n{:?}\n{:?}",
            settings.client, settings.aws_credentials
        );
        // The Debug output is there, and names what it hides.
        assert!(
            debug.contains("search.example") && debug.contains("<redacted>"),
            "{debug}"
        );
        // The handler's Debug shows its dead-letter queue writer.
        assert!(debug.contains("Queue {"), "{debug}");
        CREDENTIALS.assert_absent("Debug output", &debug);
    }
}
