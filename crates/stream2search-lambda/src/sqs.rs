//! SQS SendMessageBatch over the JSON protocol, through the signed client
//! (`stream2search_client::Client::call_aws_json`, SigV4 service `sqs`).

use std::collections::HashSet;
use std::fmt;
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use serde::Deserialize;
use stream2search_client::{Auth, Client, Config, Service, SigV4};

use crate::config::DeadLetter;
use crate::dead_letter::{self, Message};

/// A dead-letter queue writer. Build once; clones share the connection pool.
#[derive(Clone)]
pub struct Queue {
    target: DeadLetter,
    signed: bool,
    client: Client,
}

impl fmt::Debug for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("target", &self.target)
            .field("signed", &self.signed)
            .finish_non_exhaustive()
    }
}

/// Why a batch (or the whole queue) failed. The message never holds credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dead-letter queue: {0}")]
pub struct QueueError(String);

impl Queue {
    /// A writer for `target`, signing with `credentials` (`None`: unsigned, for a local mock).
    /// A plain `http://` endpoint is refused unless `target.allow_http` (a local mock).
    pub fn new(
        target: DeadLetter,
        credentials: Option<Credentials>,
    ) -> Result<Queue, stream2search_client::Error> {
        let mut config = Config::new(target.endpoint.as_str());
        config.allow_http = target.allow_http;
        config.connect_timeout = Duration::from_secs(5);
        let signed = credentials.is_some();
        config.auth = match credentials {
            Some(c) => Auth::SigV4(SigV4::new(Service::Sqs, target.region.clone(), c)),
            None => Auth::None,
        };
        let client = Client::new(config)?;
        Ok(Queue {
            target,
            signed,
            client,
        })
    }

    /// The queue URL.
    pub fn url(&self) -> &str {
        &self.target.queue_url
    }

    /// Sends `messages` in as few SendMessageBatch calls as the limits allow, one after another,
    /// all of them ended by `stop`: each call gets only the time left, and none is started once
    /// it has passed. Returns the positions SQS accepted; every other message was not delivered
    /// (the errors say why).
    pub async fn send(
        &self,
        messages: &[Message],
        stop: Instant,
    ) -> (HashSet<usize>, Vec<QueueError>) {
        let mut delivered = HashSet::new();
        let mut errors = Vec::new();
        for range in dead_letter::batches(messages) {
            let Some(left) = stop
                .checked_duration_since(Instant::now())
                .filter(|left| !left.is_zero())
            else {
                errors.push(QueueError(format!(
                    "out of time: {} of {} messages not sent",
                    messages.len() - range.start,
                    messages.len()
                )));
                break;
            };
            let batch = &messages[range];
            match self.send_batch(batch, left).await {
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
        let body = dead_letter::request_body(&self.target.queue_url, batch);
        let (status, body) = self
            .client
            .call_aws_json("AmazonSQS.SendMessageBatch", body, limit)
            .await
            .map_err(|e| QueueError(format!("request failed: {e}")))?;
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
    let answer: Answer = stream2search_client::aws::answer("SendMessageBatch", status, body)
        .map_err(|fault| QueueError(fault.message))?;
    Ok(answer.successful.into_iter().map(|e| e.id).collect())
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
        assert_eq!(
            err.to_string(),
            "dead-letter queue: SendMessageBatch: HTTP 403 AccessDenied: {\"__type\":\"AccessDenied\"}"
        );
    }
}
