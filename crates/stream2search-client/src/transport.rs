//! One HTTP exchange over a pooled keep-alive connection, inside a time limit.

use std::error::Error as StdError;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::ClientConfig;

use crate::error::{Error, Kind};

/// Bulk answers are at most a few hundred bytes per item; anything beyond this is not one.
const MAX_ANSWER_BYTES: usize = 256 * 1024 * 1024;

/// The pooled HTTP/1.1 client. Built once per [`Client`](crate::Client) and shared by clones.
pub(crate) type Http = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// What came back: the status, the headers and the whole body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

pub(crate) fn build(
    tls: ClientConfig,
    allow_http: bool,
    connect_timeout: Duration,
    pool_idle_timeout: Duration,
) -> Http {
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_connect_timeout(Some(connect_timeout));
    tcp.set_nodelay(true);
    tcp.set_keepalive(Some(Duration::from_secs(60)));
    let https = HttpsConnectorBuilder::new().with_tls_config(tls);
    let https = if allow_http {
        https.https_or_http()
    } else {
        https.https_only()
    };
    let connector = https.enable_http1().wrap_connector(tcp);
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(pool_idle_timeout)
        .build(connector)
}

/// Sends `request` and reads the whole answer, or gives up after `limit`.
pub(crate) async fn exchange(
    http: &Http,
    request: Request<Bytes>,
    limit: Duration,
) -> Result<Answer, Error> {
    let request = request.map(Full::new);
    let round_trip = async {
        let response = http.request(request).await.map_err(request_error)?;
        let status = response.status().as_u16();
        let (parts, body) = response.into_parts();
        let headers = parts.headers;
        let body = Limited::new(body, MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| Error::with_source(Kind::Transport, e))?
            .to_bytes();
        Ok(Answer {
            status,
            headers,
            body,
        })
    };
    tokio::time::timeout(limit, round_trip)
        .await
        .map_err(|_| Error::new(Kind::Timeout))?
}

fn request_error(e: hyper_util::client::legacy::Error) -> Error {
    let mut timed_out = false;
    let mut bad_certificate = false;
    let mut source: Option<&(dyn StdError + 'static)> = e.source();
    while let Some(s) = source {
        // io::Error::source skips the error it wraps (hyper-rustls nests io::Error in io::Error
        // around the rustls::Error), so unwrap those by hand.
        let mut inner = Some(s);
        while let Some(io) = inner.and_then(|i| i.downcast_ref::<std::io::Error>()) {
            timed_out |= io.kind() == std::io::ErrorKind::TimedOut;
            inner = io.get_ref().map(|i| i as &(dyn StdError + 'static));
        }
        bad_certificate |= inner
            .and_then(|i| i.downcast_ref::<rustls::Error>())
            .is_some_and(|tls| matches!(tls, rustls::Error::InvalidCertificate(_)));
        source = s.source();
    }
    let kind = if bad_certificate {
        Kind::Certificate
    } else if timed_out {
        Kind::Timeout
    } else if e.is_connect() {
        Kind::Connect
    } else {
        Kind::Transport
    };
    Error::with_source(kind, e)
}
