//! How `Client::send` reacts to what a server does: per-item and whole-request failures, broken
//! and slow connections, 413, 401, and a server that never answers.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use stream2search::checkpoint::RecordOutcome;
use stream2search::outcome::Applied;
use stream2search_client::{Auth, Client, Service, SigV4};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn deadline_in(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

async fn bulk_server<F>(rule: F) -> (MockServer, Arc<AtomicUsize>)
where
    F: Fn(usize, &str, &str) -> Result<u16, u16> + Send + Sync + 'static,
{
    let server = MockServer::start().await;
    let (responder, count) = scripted(rule);
    Mock::given(method("POST"))
        .and(path("/_bulk"))
        .respond_with(responder)
        .mount(&server)
        .await;
    (server, count)
}

async fn sent_ids(server: &MockServer) -> Vec<Vec<String>> {
    let requests = server.received_requests().await.unwrap();
    requests.iter().map(|r| ids(&ndjson(r))).collect()
}

#[tokio::test]
async fn per_item_429_resends_only_the_failed_items() {
    let (server, _) = bulk_server(|n, _, id| match (n, id) {
        (0, "d1" | "d3") => Ok(429),
        (_, _) => Ok(201),
    })
    .await;
    let plan = inserts(5);

    let report = client(&server.uri())
        .send(&plan, deadline_in(30))
        .await
        .unwrap();

    assert_eq!(
        report.finals,
        vec![RecordOutcome::Applied(Applied::Indexed); 5]
    );
    assert_eq!(
        sent_ids(&server).await,
        vec![vec!["d0", "d1", "d2", "d3", "d4"], vec!["d1", "d3"]]
    );
    assert_eq!(report.counters.attempts, 2);
    assert_eq!(report.counters.retries, 1);
}

#[tokio::test]
async fn whole_request_503_resends_everything_then_succeeds() {
    let (server, _) = bulk_server(|n, _, _| if n == 0 { Err(503) } else { Ok(201) }).await;
    let plan = inserts(3);

    let report = client(&server.uri())
        .send(&plan, deadline_in(30))
        .await
        .unwrap();

    assert_eq!(
        report.finals,
        vec![RecordOutcome::Applied(Applied::Indexed); 3]
    );
    assert_eq!(
        sent_ids(&server).await,
        vec![vec!["d0", "d1", "d2"], vec!["d0", "d1", "d2"]]
    );
}

#[tokio::test]
async fn retryable_items_that_keep_failing_end_not_durable_after_max_attempts() {
    let (server, count) = bulk_server(|_, _, id| Ok(if id == "d0" { 429 } else { 201 })).await;
    let plan = inserts(2);
    let mut config = config(&server.uri());
    config.max_attempts = 3;

    let report = Client::new(config)
        .unwrap()
        .send(&plan, deadline_in(30))
        .await
        .unwrap();

    assert_eq!(count.load(Ordering::SeqCst), 3);
    assert_eq!(report.finals[1], RecordOutcome::Applied(Applied::Indexed));
    let RecordOutcome::NotDurable { reason } = &report.finals[0] else {
        panic!("{:?}", report.finals[0]);
    };
    assert!(
        reason.contains("3 attempts") && reason.contains("429"),
        "{reason}"
    );
}

#[tokio::test]
async fn too_large_splits_in_half_until_it_fits_and_rejects_a_lone_giant() {
    // The server takes at most 2 items per request, and d4 only on its own (and then not).
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(|request: &wiremock::Request| {
            let ids = ids(&ndjson(request));
            if ids.len() > 2 || ids.iter().any(|id| id == "d4") {
                return ResponseTemplate::new(413).set_body_string("Request Entity Too Large");
            }
            let items: Vec<_> = ids
                .into_iter()
                .map(|id| ("index".into(), id, 201))
                .collect();
            ResponseTemplate::new(200).set_body_json(bulk_answer(&items))
        })
        .mount(&server)
        .await;
    let plan = inserts(5);

    let report = client(&server.uri())
        .send(&plan, deadline_in(30))
        .await
        .unwrap();

    let mut expected = vec![RecordOutcome::Applied(Applied::Indexed); 4];
    expected.push(RecordOutcome::Rejected {
        status: 413,
        reason: "the document alone is larger than the server accepts in one request".into(),
    });
    assert_eq!(report.finals, expected);
    assert_eq!(
        sent_ids(&server).await,
        vec![
            vec!["d0", "d1", "d2", "d3", "d4"],
            vec!["d0", "d1"],
            vec!["d2", "d3", "d4"],
            vec!["d2"],
            vec!["d3", "d4"],
            vec!["d3"],
            vec!["d4"],
        ]
    );
    assert_eq!(report.counters.splits, 3);
}

#[tokio::test]
async fn unauthorized_refreshes_credentials_once_then_is_a_configuration_error() {
    let (server, count) = bulk_server(|_, _, _| Err(401)).await;
    let provider = common_provider::Counting::default();
    let calls = provider.calls.clone();
    let mut config = config(&server.uri());
    config.auth = Auth::SigV4(SigV4::new(Service::Es, "eu-west-1", provider));

    let err = Client::new(config)
        .unwrap()
        .send(&inserts(2), deadline_in(30))
        .await
        .unwrap_err();

    assert!(err.is_configuration());
    assert!(!err.is_retryable());
    assert_eq!(err.status(), Some(401));
    assert_eq!(
        count.load(Ordering::SeqCst),
        2,
        "sent once, then once after the refresh"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "credentials loaded, then refreshed"
    );
}

#[tokio::test]
async fn forbidden_with_basic_auth_gives_up_at_once() {
    let (server, count) = bulk_server(|_, _, _| Err(403)).await;
    let mut config = config(&server.uri());
    config.auth = Auth::basic("indexer", "wrong");

    let err = Client::new(config)
        .unwrap()
        .send(&inserts(1), deadline_in(30))
        .await
        .unwrap_err();

    assert_eq!(err.status(), Some(403));
    assert_eq!(count.load(Ordering::SeqCst), 1, "nothing to refresh");
}

#[tokio::test]
async fn a_server_slower_than_the_request_timeout_is_retried() {
    let server = MockServer::start().await;
    let slow = bulk_answer(&[("index".into(), "d0".into(), 201)]);
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(slow.clone())
                .set_delay(Duration::from_secs(20)),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(slow))
        .with_priority(2)
        .mount(&server)
        .await;
    let mut config = config(&server.uri());
    // Generous for a local answer even on a busy machine; far below the slow one.
    config.request_timeout = Duration::from_secs(2);

    let report = Client::new(config)
        .unwrap()
        .send(&inserts(1), deadline_in(30))
        .await
        .unwrap();

    assert_eq!(
        report.finals,
        vec![RecordOutcome::Applied(Applied::Indexed)]
    );
    assert_eq!(report.counters.attempts, 2);
}

#[tokio::test]
async fn a_server_that_is_always_too_slow_leaves_items_not_durable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(10)))
        .mount(&server)
        .await;
    let mut config = config(&server.uri());
    config.request_timeout = Duration::from_millis(200);
    config.max_attempts = 2;

    let report = Client::new(config)
        .unwrap()
        .send(&inserts(1), deadline_in(30))
        .await
        .unwrap();

    let RecordOutcome::NotDurable { reason } = &report.finals[0] else {
        panic!("{:?}", report.finals[0]);
    };
    assert!(reason.contains("did not answer in time"), "{reason}");
}

/// A raw TCP server: the first `resets` connections are reset after the request is read, the
/// next get `answer` (a 200 bulk body for `ids`).
async fn resetting_server(resets: usize, ids: &[&str]) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let items: Vec<_> = ids
        .iter()
        .map(|id| ("index".to_owned(), (*id).to_owned(), 201))
        .collect();
    let body = bulk_answer(&items).to_string();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = vec![0; 64 * 1024];
                let _ = socket.read(&mut buf).await;
                if n < resets {
                    socket.set_zero_linger().unwrap();
                    drop(socket);
                    return;
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.flush().await;
                // Keep the connection open until the client is done with it.
                let _ = socket.read(&mut buf).await;
            });
        }
    });
    (base, accepted)
}

#[tokio::test]
async fn a_reset_connection_is_retried() {
    let (base, accepted) = resetting_server(1, &["d0"]).await;

    let report = client(&base)
        .send(&inserts(1), deadline_in(30))
        .await
        .unwrap();

    assert_eq!(
        report.finals,
        vec![RecordOutcome::Applied(Applied::Indexed)]
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    assert_eq!(report.counters.retries, 1);
}

#[tokio::test]
async fn a_hanging_server_returns_before_the_deadline_with_items_not_durable() {
    // Accepts connections, reads, never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mut config = config(&base);
    config.request_timeout = Duration::from_secs(60);
    config.deadline_margin = Duration::from_millis(500);
    let deadline = Instant::now() + Duration::from_secs(2);

    let report = Client::new(config)
        .unwrap()
        .send(&inserts(3), deadline)
        .await
        .unwrap();

    assert!(Instant::now() < deadline, "returned after the deadline");
    for f in &report.finals {
        assert!(matches!(f, RecordOutcome::NotDurable { .. }), "{f:?}");
    }
    let results = inserts(3).resolve(&report.finals);
    assert!(results.iter().all(|r| !r.outcome.is_durable()));
}

#[tokio::test]
async fn a_deadline_already_past_sends_nothing() {
    let (server, count) = bulk_server(|_, _, _| Ok(201)).await;

    let report = client(&server.uri())
        .send(&inserts(2), Instant::now())
        .await
        .unwrap();

    assert_eq!(count.load(Ordering::SeqCst), 0);
    assert!(
        report
            .finals
            .iter()
            .all(|f| matches!(f, RecordOutcome::NotDurable { .. }))
    );
}

mod common_provider {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_credential_types::Credentials;
    use aws_credential_types::provider::{ProvideCredentials, future};

    /// Hands out fixed credentials and counts how often it was asked.
    #[derive(Debug, Default)]
    pub struct Counting {
        pub calls: Arc<AtomicUsize>,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            self.calls.fetch_add(1, Ordering::SeqCst);
            future::ProvideCredentials::ready(Ok(Credentials::new(
                "AKIDEXAMPLE",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                None,
                None,
                "test",
            )))
        }
    }
}
