//! The handler under the real `lambda_runtime`, in both of the runtime's idioms:
//! `lambda_runtime::run(handler)` (the handler is a `tower::Service`) and
//! `lambda_runtime::run(service_fn(|event| handler.call(event)))`.
//!
//! Each runs in a child process (the runtime reads its environment) against a stand-in of the
//! Lambda Runtime API and the fake OpenSearch of the `testing` feature, both on loopback: the
//! child takes one event from `/runtime/invocation/next`, indexes it, and posts the partial batch
//! response to `/runtime/invocation/<id>/response`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use stream2search_lambda::testing::{FakeOpenSearch, event, insert};
use stream2search_lambda::{Handler, lambda_runtime};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CHILD: &str = "S2S_RUNTIME_CHILD";

fn payload() -> Vec<u8> {
    event([insert(
        1,
        json!({"productId": {"S": "p-1"}}),
        json!({"productId": {"S": "p-1"}, "price": {"N": "24.90"}}),
    )])
}

/// The child: serves events as a function's `main` would, in the idiom named by `CHILD`.
fn child(idiom: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let handler = Handler::from_env().unwrap();
    let result = runtime.block_on(async {
        match idiom {
            "service" => lambda_runtime::run(handler).await,
            "service_fn" => {
                lambda_runtime::run(lambda_runtime::service_fn(|event| handler.call(event))).await
            }
            other => panic!("unknown idiom {other}"),
        }
    });
    panic!("the runtime returned: {result:?}");
}

/// Runs the child in `idiom` and returns the response it posted for the one event.
fn serve_one_event(idiom: &str) -> (Value, FakeOpenSearchRequests) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (api, opensearch) = rt.block_on(async {
        let api = MockServer::start().await;
        let deadline = SystemTime::now() + Duration::from_secs(60);
        let deadline_ms = deadline.duration_since(UNIX_EPOCH).unwrap().as_millis();
        Mock::given(method("GET"))
            .and(path("/2018-06-01/runtime/invocation/next"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("lambda-runtime-aws-request-id", "req-1")
                    .insert_header(
                        "lambda-runtime-deadline-ms",
                        deadline_ms.to_string().as_str(),
                    )
                    .insert_header(
                        "lambda-runtime-invoked-function-arn",
                        "arn:aws:lambda:eu-west-1:123456789012:function:products",
                    )
                    .set_body_raw(payload(), "application/json"),
            )
            .up_to_n_times(1)
            .mount(&api)
            .await;
        // The next event never comes: the child waits until it is stopped.
        Mock::given(method("GET"))
            .and(path("/2018-06-01/runtime/invocation/next"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(600)))
            .mount(&api)
            .await;
        Mock::given(method("POST"))
            .and(path("/2018-06-01/runtime/invocation/req-1/response"))
            .respond_with(ResponseTemplate::new(202))
            .mount(&api)
            .await;
        (api, FakeOpenSearch::start().await)
    });
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "--nocapture",
            "both_runtime_idioms_answer_an_event",
        ])
        .env(CHILD, idiom)
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            api.uri().trim_start_matches("http://"),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", "products")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .envs(opensearch.env("products"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let response = loop {
        let posted = rt.block_on(api.received_requests()).unwrap_or_default();
        if let Some(r) = posted
            .iter()
            .find(|r| r.url.path().ends_with("/req-1/response"))
        {
            break serde_json::from_slice::<Value>(&r.body).unwrap();
        }
        if start.elapsed() > Duration::from_secs(30) || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("{idiom}: no response was posted");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    let sent = opensearch
        .requests()
        .iter()
        .flat_map(|b| b.items.iter().map(|i| (i.id.clone(), i.document.clone())))
        .collect();
    (response, sent)
}

type FakeOpenSearchRequests = Vec<(String, Option<String>)>;

#[test]
fn both_runtime_idioms_answer_an_event() {
    if let Ok(idiom) = std::env::var(CHILD) {
        child(&idiom);
        return;
    }
    for idiom in ["service", "service_fn"] {
        let (response, sent) = serve_one_event(idiom);
        assert_eq!(response, json!({"batchItemFailures": []}), "{idiom}");
        assert_eq!(
            sent,
            [(
                "p-1".to_owned(),
                Some(r#"{"price":24.90,"productId":"p-1"}"#.to_owned())
            )],
            "{idiom}"
        );
    }
}
