//! SQS SendMessageBatch over the JSON protocol, signed with SigV4 for service `sqs`.
//!
//! `stream2search-client` signs only its own bulk requests, so this module signs with
//! `aws-sigv4` directly and sends with the same stack (hyper 1, rustls with ring).

use std::collections::HashSet;
use std::fmt;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, header};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

use crate::config::DeadLetter;
use crate::dead_letter::{self, Message};

/// A dead-letter queue writer. Build once; clones share the connection pool.
#[derive(Clone)]
pub struct Queue {
    target: DeadLetter,
    credentials: Option<Credentials>,
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    uri: http::Uri,
    host: HeaderValue,
}

impl fmt::Debug for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("target", &self.target)
            .field("signed", &self.credentials.is_some())
            .finish_non_exhaustive()
    }
}

/// Why a batch (or the whole queue) failed. The message never holds credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dead-letter queue: {0}")]
pub struct QueueError(String);

impl Queue {
    /// A writer for `target`, signing with `credentials` (`None`: unsigned, for a local mock).
    pub fn new(target: DeadLetter, credentials: Option<Credentials>) -> Result<Queue, QueueError> {
        let uri: http::Uri = format!("{}/", target.endpoint.trim_end_matches('/'))
            .parse()
            .map_err(|_| QueueError("the SQS endpoint is not a URL".into()))?;
        let authority = uri
            .authority()
            .ok_or_else(|| QueueError("the SQS endpoint has no host".into()))?;
        let host = HeaderValue::from_str(authority.as_str())
            .map_err(|_| QueueError("the SQS endpoint host is not valid".into()))?;
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|_| QueueError("TLS setup failed".into()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(Duration::from_secs(5)));
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        Ok(Queue {
            target,
            credentials,
            http: Client::builder(TokioExecutor::new()).build(connector),
            uri,
            host,
        })
    }

    /// The queue URL.
    pub fn url(&self) -> &str {
        &self.target.queue_url
    }

    /// Sends `messages` in as few SendMessageBatch calls as the limits allow, each within
    /// `limit`. Returns the positions SQS accepted; every other message was not delivered.
    pub async fn send(
        &self,
        messages: &[Message],
        limit: Duration,
    ) -> (HashSet<usize>, Vec<QueueError>) {
        let mut delivered = HashSet::new();
        let mut errors = Vec::new();
        for range in dead_letter::batches(messages) {
            let batch = &messages[range];
            match self.send_batch(batch, limit).await {
                Ok(ok) => {
                    for m in batch {
                        if ok.contains(&dead_letter::entry_id(m.position)) {
                            delivered.insert(m.position);
                        }
                    }
                    if ok.len() < batch.len() {
                        errors.push(QueueError(format!(
                            "{} of {} messages refused",
                            batch.len() - ok.len(),
                            batch.len()
                        )));
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        (delivered, errors)
    }

    /// One SendMessageBatch; the entry ids SQS reports as successful.
    async fn send_batch(
        &self,
        batch: &[Message],
        limit: Duration,
    ) -> Result<HashSet<String>, QueueError> {
        let body = Bytes::from(dead_letter::request_body(&self.target.queue_url, batch));
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .header(header::HOST, self.host.clone())
            .header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-amz-json-1.0"),
            )
            .header("x-amz-target", "AmazonSQS.SendMessageBatch")
            .header(header::CONTENT_LENGTH, HeaderValue::from(body.len()))
            .body(body)
            .map_err(|_| QueueError("could not build the request".into()))?;
        if let Some(creds) = &self.credentials {
            sign_sqs(&mut request, creds, &self.target.region, SystemTime::now())?;
        }
        let round_trip = async {
            let response = self
                .http
                .request(request.map(Full::new))
                .await
                .map_err(|e| QueueError(format!("request failed: {e}")))?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), 1024 * 1024)
                .collect()
                .await
                .map_err(|_| QueueError("could not read the answer".into()))?
                .to_bytes();
            Ok::<_, QueueError>((status, body))
        };
        let (status, body) = tokio::time::timeout(limit, round_trip)
            .await
            .map_err(|_| QueueError("no answer in time".into()))??;
        successful(status, &body)
    }
}

/// The entry ids a SendMessageBatch answer reports as successful.
fn successful(status: u16, body: &[u8]) -> Result<HashSet<String>, QueueError> {
    #[derive(Deserialize)]
    struct Entry {
        #[serde(rename = "Id")]
        id: String,
    }
    #[derive(Deserialize)]
    struct Answer {
        #[serde(rename = "Successful", default)]
        successful: Vec<Entry>,
    }
    if !(200..300).contains(&status) {
        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        return Err(QueueError(format!("HTTP {status}: {text}")));
    }
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|_| QueueError(format!("unreadable answer (HTTP {status})")))?;
    Ok(answer.successful.into_iter().map(|e| e.id).collect())
}

fn sign_sqs(
    request: &mut Request<Bytes>,
    creds: &Credentials,
    region: &str,
    time: SystemTime,
) -> Result<(), QueueError> {
    let failed = |_| QueueError("could not sign the request".into());
    let identity: Identity = creds.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sqs")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|_| QueueError("could not sign the request".into()))?
        .into();
    let uri = request.uri().to_string();
    let headers: Vec<(&str, &str)> = request
        .headers()
        .iter()
        .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str(), v)))
        .collect();
    let signable = SignableRequest::new(
        request.method().as_str(),
        uri,
        headers.into_iter(),
        SignableBody::Bytes(request.body()),
    )
    .map_err(failed)?;
    let (instructions, _) = sign(signable, &params).map_err(failed)?.into_parts();
    instructions.apply_to_request_http1x(request);
    for name in [header::AUTHORIZATION.as_str(), "x-amz-security-token"] {
        if let Some(v) = request.headers_mut().get_mut(name) {
            v.set_sensitive(true);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_lists_successful_ids_and_errors_name_the_status() {
        let ok = successful(
            200,
            br#"{"Successful":[{"Id":"r1","MessageId":"m"}],"Failed":[{"Id":"r2","SenderFault":true,"Code":"X"}]}"#,
        )
        .unwrap();
        assert_eq!(ok, HashSet::from(["r1".to_string()]));
        let err = successful(403, br#"{"__type":"AccessDenied"}"#).unwrap_err();
        assert!(err.to_string().contains("403"));
    }

    #[test]
    fn signature_covers_the_target_header_and_stays_out_of_debug() {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri("https://sqs.eu-west-1.amazonaws.com/")
            .header(header::HOST, "sqs.eu-west-1.amazonaws.com")
            .header("x-amz-target", "AmazonSQS.SendMessageBatch")
            .body(Bytes::from_static(b"{}"))
            .unwrap();
        let creds = Credentials::new("AKIDEXAMPLE", "secret", Some("tok".into()), None, "t");
        sign_sqs(&mut request, &creds, "eu-west-1", SystemTime::UNIX_EPOCH).unwrap();
        let auth = request.headers()[header::AUTHORIZATION].to_str().unwrap();
        assert!(auth.contains("/eu-west-1/sqs/aws4_request"));
        assert!(auth.contains("x-amz-target"));
        assert!(!format!("{:?}", request.headers()).contains("AKIDEXAMPLE"));
    }
}
