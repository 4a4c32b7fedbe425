//! The bulk requests a backfill from an export sends, made ahead of time, for measuring the
//! server's own ceiling (`src/bin/ceiling.rs`).
//!
//! [`prepare`] reads the export with the backfill's own reader
//! (`stream2search_lambda::backfill::export`), page by page with the same page limits, turns each
//! page into the DynamoDB Streams event the backfill makes of it
//! ([`stream2search_lambda::backfill::event`]: one `INSERT` record per item, `Keys` by the key
//! names, `NewImage` the item's text as read, `ApproximateCreationDateTime` the version second),
//! plans it with the same planner, and builds
//! every chunk's request with [`Client::bulk_request`]: the NDJSON body, gzip-compressed unless
//! the client's config turns it off, with the headers the client sends. Nothing of this is timed;
//! the ceiling only sends the results.

use bytes::Bytes;
use http::Request;
use stream2search::Planner;
use stream2search_client::Client;
use stream2search_lambda::backfill::event;
use stream2search_lambda::backfill::export::{Export, Reader};

/// What [`prepare`] made.
#[derive(Debug, Default)]
pub struct Prepared {
    /// One request per chunk, pages in file order, files in the reader's order.
    pub requests: Vec<Request<Bytes>>,
    /// Items planned (one bulk action each).
    pub items: u64,
    /// Decompressed bytes of the export's lines, newlines included.
    pub line_bytes: u64,
    /// NDJSON bytes before compression.
    pub ndjson_bytes: u64,
    /// Body bytes as sent.
    pub sent_bytes: u64,
    /// Pages read.
    pub pages: u64,
}

/// Reads the export at `dir` page by page (`page_items` lines or `page_bytes` decompressed
/// bytes a page, as the backfill's reader cuts them), plans every page at version `seconds` and
/// builds each chunk's request with `client`.
pub async fn prepare(
    dir: &str,
    planner: &Planner,
    client: &Client,
    keys: &[String],
    seconds: u64,
    page_items: usize,
    page_bytes: usize,
) -> Result<Prepared, String> {
    let export = Export::open(dir, None).await.map_err(|e| e.to_string())?;
    let mut out = Prepared::default();
    for file in &export.files {
        let mut reader = Reader::open(&file.location, 0, None)
            .await
            .map_err(|e| e.to_string())?;
        loop {
            let page = reader
                .page(page_items, page_bytes)
                .await
                .map_err(|e| e.to_string())?;
            if let Some(bad) = page.bad.first() {
                return Err(format!(
                    "{} line {}: {}",
                    file.location, bad.line, bad.reason
                ));
            }
            out.pages += 1;
            out.line_bytes += page.uncompressed_bytes;
            let items: Vec<&str> = page.items.iter().map(|i| i.item.get()).collect();
            let plan = planner
                .plan(&event(&items, keys, seconds), None)
                .map_err(|e| format!("planning a page of {}: {e}", file.location))?;
            out.items += plan.items().len() as u64;
            for chunk in plan.chunks() {
                let chunk: Vec<usize> = chunk.collect();
                if chunk.is_empty() {
                    continue;
                }
                let ndjson = plan.body(&chunk);
                out.ndjson_bytes += ndjson.len() as u64;
                let request = client
                    .bulk_request(&ndjson)
                    .await
                    .map_err(|e| e.to_string())?;
                out.sent_bytes += request.body().len() as u64;
                out.requests.push(request);
            }
            if page.done {
                break;
            }
        }
    }
    Ok(out)
}
