//! The index side: every document through a point in time, page by page with `search_after`
//! (no 10,000-hit cap); documents by id again (`_mget`, real time) for the recheck; and the
//! repair's writes and deletes (`_bulk`, classified by the core's `outcome::classify`).

use std::time::Duration;

use http::Method;
use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;
use stream2search::Action;
use stream2search::checkpoint::RecordOutcome;
use stream2search::outcome::{self, Response};
use stream2search_client::Client;

/// How long OpenSearch keeps the point in time between two pages.
const KEEP_ALIVE: &str = "5m";

/// One document as the index holds it.
#[derive(Debug, Deserialize)]
pub struct Hit {
    #[serde(rename = "_index")]
    pub index: String,
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(rename = "_version", default)]
    pub version: Option<i64>,
    #[serde(rename = "_routing", default)]
    pub routing: Option<String>,
    #[serde(rename = "_source", default)]
    pub source: Option<Box<RawValue>>,
    #[serde(default)]
    sort: Option<Box<RawValue>>,
}

/// A point in time over `pattern`, read page by page.
pub struct Reader<'a> {
    client: &'a Client,
    timeout: Duration,
    pit: String,
    page: u32,
    after: Option<Box<RawValue>>,
    done: bool,
    /// Pages are sorted by `_doc` (cheap: the order documents lie in) while the point in time
    /// covers one shard, where `_doc` identifies a document; by `_id` (which loads every id
    /// into the server's field data, about 20 times slower per page) over several shards, where
    /// `_doc` values repeat.
    by_doc: bool,
}

fn fault(what: &str, status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    format!("{what}: HTTP {status}: {text}")
}

/// Makes what was written visible to search (a point in time sees only refreshed documents).
/// A server that refuses it (Serverless) is told on stderr, not an error.
pub async fn refresh(client: &Client, pattern: &str, timeout: Duration) {
    let answer = client
        .call(Method::POST, &format!("{pattern}/_refresh"), None, timeout)
        .await;
    match answer {
        Ok((200, _)) => {}
        Ok((status, body)) => eprintln!("verify: warning: {}", fault("refresh", status, &body)),
        Err(e) => eprintln!("verify: warning: refresh: {e}"),
    }
}

impl<'a> Reader<'a> {
    /// Opens a point in time over `pattern`.
    pub async fn open(
        client: &'a Client,
        pattern: &str,
        page: u32,
        timeout: Duration,
    ) -> Result<Reader<'a>, String> {
        #[derive(Deserialize)]
        struct Pit {
            pit_id: String,
        }
        let path = format!("{pattern}/_search/point_in_time?keep_alive={KEEP_ALIVE}");
        let (status, body) = client
            .call(Method::POST, &path, None, timeout)
            .await
            .map_err(|e| format!("point in time: {e}"))?;
        if status != 200 {
            return Err(fault("point in time", status, &body));
        }
        let pit: Pit = serde_json::from_slice(&body)
            .map_err(|e| format!("point in time: unreadable answer: {e}"))?;
        Ok(Reader {
            client,
            timeout,
            pit: pit.pit_id,
            page,
            after: None,
            done: false,
            by_doc: true,
        })
    }

    /// The next page of documents; empty at the end.
    pub async fn next(&mut self) -> Result<Vec<Hit>, String> {
        #[derive(Deserialize)]
        struct Hits {
            hits: Vec<Hit>,
        }
        #[derive(Deserialize)]
        struct Shards {
            total: u64,
        }
        #[derive(Deserialize)]
        struct Answer {
            hits: Hits,
            #[serde(rename = "_shards")]
            shards: Shards,
            #[serde(default)]
            pit_id: Option<String>,
        }
        if self.done {
            return Ok(Vec::new());
        }
        let sort = if self.by_doc {
            json!(["_doc"])
        } else {
            json!([{"_id": "asc"}])
        };
        let mut query = json!({
            "size": self.page,
            "pit": {"id": self.pit, "keep_alive": KEEP_ALIVE},
            "sort": sort,
            "version": true,
            "track_total_hits": false,
        })
        .to_string();
        if let Some(after) = &self.after {
            query.pop();
            query.push_str(",\"search_after\":");
            query.push_str(after.get());
            query.push('}');
        }
        let (status, body) = self
            .client
            .call(
                Method::POST,
                "_search",
                Some(query.as_bytes()),
                self.timeout,
            )
            .await
            .map_err(|e| format!("search: {e}"))?;
        if status != 200 {
            return Err(fault("search", status, &body));
        }
        let answer: Answer =
            serde_json::from_slice(&body).map_err(|e| format!("search: unreadable answer: {e}"))?;
        if let Some(pit) = answer.pit_id {
            self.pit = pit;
        }
        if self.by_doc && answer.shards.total > 1 {
            // Only the first page is read by `_doc`: start again by `_id`.
            debug_assert!(self.after.is_none());
            self.by_doc = false;
            return Box::pin(self.next()).await;
        }
        let mut hits = answer.hits.hits;
        match hits.last_mut() {
            Some(last) => self.after = last.sort.take(),
            None => self.done = true,
        }
        if self.after.is_none() {
            self.done = true;
        }
        Ok(hits)
    }

    /// Lets the point in time go (it would expire by itself after its keep-alive).
    pub async fn close(self) {
        let body = json!({ "pit_id": [self.pit] }).to_string();
        let _ = self
            .client
            .call(
                Method::DELETE,
                "_search/point_in_time",
                Some(body.as_bytes()),
                self.timeout,
            )
            .await;
    }
}

/// Where a document is: its index, id and routing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Place {
    pub index: String,
    pub id: String,
    pub routing: Option<String>,
}

/// The documents at `places`, read by id in real time: `None` where there is none.
pub async fn get(
    client: &Client,
    places: &[&Place],
    timeout: Duration,
) -> Result<Vec<Option<Hit>>, String> {
    // Not `#[serde(flatten)]` over `Hit`: a flattened `RawValue` cannot be read.
    #[derive(Deserialize)]
    struct Doc {
        #[serde(default)]
        found: bool,
        #[serde(default)]
        error: Option<Box<RawValue>>,
        #[serde(rename = "_index", default)]
        index: String,
        #[serde(rename = "_id", default)]
        id: String,
        #[serde(rename = "_version", default)]
        version: Option<i64>,
        #[serde(rename = "_routing", default)]
        routing: Option<String>,
        #[serde(rename = "_source", default)]
        source: Option<Box<RawValue>>,
    }
    #[derive(Deserialize)]
    struct Answer {
        docs: Vec<Doc>,
    }
    let mut out = Vec::with_capacity(places.len());
    for chunk in places.chunks(500) {
        let docs: Vec<serde_json::Value> = chunk
            .iter()
            .map(|p| {
                let mut d = json!({"_index": p.index, "_id": p.id});
                if let Some(r) = &p.routing {
                    d["routing"] = json!(r);
                }
                d
            })
            .collect();
        let body = json!({ "docs": docs }).to_string();
        let (status, answer) = client
            .call(
                Method::POST,
                "_mget?realtime=true",
                Some(body.as_bytes()),
                timeout,
            )
            .await
            .map_err(|e| format!("mget: {e}"))?;
        if status != 200 {
            return Err(fault("mget", status, &answer));
        }
        let answer: Answer =
            serde_json::from_slice(&answer).map_err(|e| format!("mget: unreadable answer: {e}"))?;
        if answer.docs.len() != chunk.len() {
            return Err(format!(
                "mget: {} documents for {} ids",
                answer.docs.len(),
                chunk.len()
            ));
        }
        for (doc, place) in answer.docs.into_iter().zip(chunk) {
            if let Some(error) = doc.error {
                // A missing concrete index (a template's) holds no document; anything else is a
                // failure to read.
                if error.get().contains("index_not_found_exception") {
                    out.push(None);
                    continue;
                }
                return Err(format!("mget {}: {}", place.id, error.get()));
            }
            out.push(doc.found.then_some(Hit {
                index: doc.index,
                id: doc.id,
                version: doc.version,
                routing: doc.routing,
                source: doc.source,
                sort: None,
            }));
        }
    }
    Ok(out)
}

/// One repair: write `document` at `place`, or delete what is there, at external `version`.
pub struct Write {
    pub place: Place,
    pub version: u64,
    /// The document to index; `None` deletes.
    pub document: Option<Vec<u8>>,
}

/// Most actions, and most document bytes, per repair request.
const REPAIR_CHUNK: (usize, usize) = (500, 5 * 1024 * 1024);

/// Sends `writes` as bulk requests (one try each: a write that does not land is reported, and
/// the next `verify --repair` makes it again), one [`RecordOutcome`] per write, in order.
pub async fn apply(client: &Client, writes: &[Write], timeout: Duration) -> Vec<RecordOutcome> {
    let mut finals = Vec::with_capacity(writes.len());
    let mut rest = writes;
    while !rest.is_empty() {
        let mut bytes = 0;
        let n = rest
            .iter()
            .take(REPAIR_CHUNK.0)
            .take_while(|w| {
                bytes += w.document.as_ref().map_or(0, Vec::len);
                bytes <= REPAIR_CHUNK.1
            })
            .count()
            .max(1);
        let (chunk, after) = rest.split_at(n);
        rest = after;
        let mut body = Vec::new();
        let mut actions = Vec::with_capacity(chunk.len());
        for w in chunk {
            let action = if w.document.is_some() {
                Action::Index
            } else {
                Action::Delete
            };
            let mut meta = json!({
                "_index": w.place.index,
                "_id": w.place.id,
                "version": w.version,
                "version_type": "external_gte",
            });
            if let Some(r) = &w.place.routing {
                meta["routing"] = json!(r);
            }
            body.extend_from_slice(json!({ action.as_str(): meta }).to_string().as_bytes());
            body.push(b'\n');
            if let Some(doc) = &w.document {
                body.extend_from_slice(doc);
                body.push(b'\n');
            }
            actions.push(action);
        }
        let answer = client
            .call(Method::POST, "_bulk", Some(&body), timeout)
            .await;
        let chunk_finals: Vec<RecordOutcome> = match answer {
            Ok((status, bytes)) => match outcome::classify(status, &bytes, &actions) {
                Response::Items(items) => items.into_iter().map(RecordOutcome::from).collect(),
                other => vec![
                    RecordOutcome::NotDurable {
                        reason: other.to_string()
                    };
                    chunk.len()
                ],
            },
            Err(e) => vec![
                RecordOutcome::NotDurable {
                    reason: e.to_string()
                };
                chunk.len()
            ],
        };
        finals.extend(chunk_finals);
    }
    finals
}
