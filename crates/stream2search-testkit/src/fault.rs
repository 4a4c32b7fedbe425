//! A fault proxy: sits between the client and OpenSearch and, for `POST .../_bulk`, injects the
//! failures a real cluster produces, chosen by a seeded random source.
//!
//! ```no_run
//! use std::time::Duration;
//! use stream2search_testkit::fault::{Faults, Proxy};
//!
//! let proxy = Proxy::start("127.0.0.1:9200", Faults::default(), 7).unwrap();
//! // point the client at proxy.url(); when the client has exited:
//! assert!(proxy.wait_idle(Duration::from_secs(30)), "a request is still in flight");
//! let counts = proxy.counts(); // e.g. counts["item 429"]
//! ```
//!
//! The first bulk requests get each whole-request fault in turn; after that, per bulk request,
//! at most one of: a whole-request 503 (`request 503`), or 413 (`request 413`) when it holds
//! more than one action (a real 413 depends on size; one action alone is not refused), neither
//! forwarded; a dropped connection, before forwarding (`dropped before forwarding`) or after
//! (`dropped after forwarding`: the request then took effect, unknown to the client); a delay
//! before forwarding (`delayed`). A request without any of these may lose items: each chosen
//! item is taken out of the request before it is forwarded and answered 429 (`item 429`) or 503
//! (`item 503`), as a real cluster answers an item it did not apply; the other items' answers
//! are OpenSearch's own. Every other request passes through unchanged.
//!
//! [`Proxy::counts`] tells how many of each happened (and `bulk requests`, `forwarded`);
//! [`Proxy::wait_idle`] waits until no connection is open, so that no delayed request is still
//! on its way to OpenSearch.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::http;

/// How often each fault happens, as a fraction of bulk requests (per-item: of items).
#[derive(Debug, Clone)]
pub struct Faults {
    /// Whole request answered 503 without forwarding.
    pub request_503: f64,
    /// Whole request answered 413 without forwarding.
    pub request_413: f64,
    /// Connection closed before forwarding.
    pub drop_before: f64,
    /// Connection closed after forwarding (the request took effect).
    pub drop_after: f64,
    /// Forwarded after `delay`.
    pub slow: f64,
    /// The delay of a slow request.
    pub delay: Duration,
    /// Of the items of a request without a whole-request fault, the fraction not forwarded and
    /// answered 429 or 503 (half each, by chance).
    pub item_error: f64,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults {
            request_503: 0.05,
            request_413: 0.02,
            drop_before: 0.03,
            drop_after: 0.03,
            slow: 0.0,
            delay: Duration::from_secs(0),
            item_error: 0.05,
        }
    }
}

/// A running proxy. It stops accepting when dropped (threads end with their connections).
#[derive(Debug)]
pub struct Proxy {
    url: String,
    counts: Arc<Mutex<BTreeMap<&'static str, u64>>>,
    open: Arc<AtomicUsize>,
}

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `upstream` (`host:port`).
    pub fn start(upstream: &str, faults: Faults, seed: u64) -> io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let counts = Arc::new(Mutex::new(BTreeMap::new()));
        let open = Arc::new(AtomicUsize::new(0));
        let shared = Arc::new(Shared {
            upstream: upstream.to_string(),
            faults,
            rng: Mutex::new(Rng::new(seed)),
            counts: counts.clone(),
        });
        let connections = open.clone();
        thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let shared = shared.clone();
                let open = Open::new(&connections);
                thread::spawn(move || {
                    let _ = serve(&shared, conn);
                    drop(open);
                });
            }
        });
        Ok(Proxy { url, counts, open })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How many of each fault (and `forwarded`, `bulk requests`) so far.
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        self.counts.lock().unwrap().clone()
    }

    /// Connections accepted and not yet finished: a client still connected, or a request the
    /// proxy still holds (a delayed one on its way to OpenSearch).
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Waits, at most `limit`, until no connection is open; whether none is. Call it once the
    /// clients have exited: then every request they sent has reached OpenSearch or never will.
    pub fn wait_idle(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.open_connections() > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
        true
    }
}

/// One open connection, counted from its acceptance until its thread ends.
struct Open(Arc<AtomicUsize>);

impl Open {
    fn new(count: &Arc<AtomicUsize>) -> Open {
        count.fetch_add(1, Ordering::SeqCst);
        Open(count.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Shared {
    upstream: String,
    faults: Faults,
    rng: Mutex<Rng>,
    counts: Arc<Mutex<BTreeMap<&'static str, u64>>>,
}

impl Shared {
    /// Adds `n` to `what`; the new total.
    fn count(&self, what: &'static str, n: u64) -> u64 {
        let mut counts = self.counts.lock().unwrap();
        let total = counts.entry(what).or_default();
        *total += n;
        *total
    }

    fn roll(&self) -> f64 {
        self.rng.lock().unwrap().next()
    }
}

/// xorshift64*: deterministic for a seed, no dependencies.
struct Rng(u64);

impl Rng {
    /// Seeded through splitmix64, so that small seeds start well mixed (and never at zero).
    fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One keep-alive connection: requests in, answers out, until either side closes.
fn serve(shared: &Shared, conn: TcpStream) -> io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut writer = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("GET").to_string();
        let path = parts.next().unwrap_or("/").to_string();
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((name, value)) = h.split_once(':') {
                let (name, value) = (name.trim().to_string(), value.trim().to_string());
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse().unwrap_or(0);
                } else if ["content-type", "content-encoding"]
                    .iter()
                    .any(|n| name.eq_ignore_ascii_case(n))
                {
                    headers.push((name, value));
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;

        let bulk = method == "POST" && path.split('?').next().unwrap_or("").ends_with("_bulk");
        let f = &shared.faults;
        let mut drop_after = false;
        // The items taken out of the request, and how the rest is forwarded.
        let mut taken: Option<Taken> = None;
        if bulk {
            let n = shared.count("bulk requests", 1);
            // The first bulk requests get each whole-request fault in turn (those with a
            // non-zero rate), so that every kind happens at least once; then chance decides.
            let rates = [
                f.request_503,
                f.request_413,
                f.drop_before,
                f.drop_after,
                f.slow,
            ];
            let forced = rates
                .iter()
                .enumerate()
                .filter(|(_, p)| **p > 0.0)
                .nth(n as usize - 1)
                .map(|(i, p)| rates[..i].iter().sum::<f64>() + p / 2.0);
            let r = forced.unwrap_or_else(|| shared.roll());
            let mut edge = 0.0;
            let mut hit = |p: f64| {
                let was = edge;
                edge += p;
                (was..edge).contains(&r)
            };
            let actions = plain(&headers, &body).and_then(|text| parse(&text));
            if hit(f.request_503) {
                shared.count("request 503", 1);
                answer(&mut writer, 503, br#"{"error":"injected","status":503}"#)?;
                continue;
            }
            // A real 413 depends on size: its halves fit. One action alone is never refused.
            if hit(f.request_413) && actions.as_ref().is_some_and(|a| a.len() > 1) {
                shared.count("request 413", 1);
                answer(&mut writer, 413, b"")?;
                continue;
            }
            if hit(f.drop_before) {
                shared.count("dropped before forwarding", 1);
                let _ = writer.shutdown(Shutdown::Both);
                return Ok(());
            }
            if hit(f.drop_after) {
                shared.count("dropped after forwarding", 1);
                drop_after = true;
            } else if hit(f.slow) {
                shared.count("delayed", 1);
                thread::sleep(f.delay);
            } else if let Some(actions) = actions.filter(|_| f.item_error > 0.0) {
                taken = take_items(shared, actions);
            }
        }
        if let Some(t) = &taken {
            // Forwarded without its encoding: the body is the plain remainder.
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case("content-encoding"));
            body = t.forward.clone();
            if t.kept == 0 {
                let items = merge(t, &[]).unwrap_or_default();
                let out = serde_json::json!({"took": 0, "errors": true, "items": items});
                answer(&mut writer, 200, out.to_string().as_bytes())?;
                continue;
            }
        }
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let response = match http::request(&shared.upstream, &method, &path, &pairs, &body) {
            Ok(r) => r,
            Err(_) => {
                let _ = writer.shutdown(Shutdown::Both);
                return Ok(());
            }
        };
        shared.count("forwarded", 1);
        if drop_after {
            let _ = writer.shutdown(Shutdown::Both);
            return Ok(());
        }
        let mut out = response.body.clone();
        if let Some(t) = &taken
            && response.status == 200
            && let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(&response.body)
            && let Some(items) = json["items"].as_array().and_then(|a| merge(t, a))
        {
            json["items"] = items.into();
            json["errors"] = true.into();
            out = json.to_string().into_bytes();
        }
        // Otherwise (an error status, or an answer that does not line up) OpenSearch's own
        // answer goes back: the client then knows of no item as applied.
        answer(&mut writer, response.status, &out)?;
    }
}

/// One action of a bulk body: its kind (`index`, `delete`...), `_index`, `_id`, and its lines.
struct Action {
    kind: String,
    index: serde_json::Value,
    id: serde_json::Value,
    lines: Vec<u8>,
}

/// The plain (gunzipped) bulk body.
fn plain(headers: &[(String, String)], body: &[u8]) -> Option<Vec<u8>> {
    let gzip = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("content-encoding") && v.contains("gzip"));
    if !gzip {
        return Some(body.to_vec());
    }
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut plain)
        .ok()?;
    Some(plain)
}

/// The actions of a bulk body, in order; `None` when it is not a bulk body. An action line is
/// followed by a source line except for `delete`.
fn parse(text: &[u8]) -> Option<Vec<Action>> {
    let mut lines = text.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    let mut out = Vec::new();
    while let Some(line) = lines.next() {
        let head: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(line).ok()?;
        let (kind, meta) = head.iter().next()?;
        let mut all = line.to_vec();
        all.push(b'\n');
        if kind != "delete" {
            all.extend_from_slice(lines.next()?);
            all.push(b'\n');
        }
        out.push(Action {
            kind: kind.clone(),
            index: meta["_index"].clone(),
            id: meta["_id"].clone(),
            lines: all,
        });
    }
    Some(out)
}

/// A bulk request with some items taken out, each to be answered 429 or 503.
struct Taken {
    actions: Vec<Action>,
    /// Per action: the status it is answered with instead of being forwarded.
    injected: Vec<Option<u16>>,
    /// The body of the actions that are forwarded.
    forward: Vec<u8>,
    kept: usize,
}

/// Chooses the items to take out of a request; `None` when none is chosen.
fn take_items(shared: &Shared, actions: Vec<Action>) -> Option<Taken> {
    let mut injected = Vec::with_capacity(actions.len());
    let mut forward = Vec::new();
    for a in &actions {
        if shared.roll() < shared.faults.item_error {
            let status = if shared.roll() < 0.5 { 429 } else { 503 };
            shared.count(
                if status == 429 {
                    "item 429"
                } else {
                    "item 503"
                },
                1,
            );
            injected.push(Some(status));
        } else {
            forward.extend_from_slice(&a.lines);
            injected.push(None);
        }
    }
    let kept = injected.iter().filter(|s| s.is_none()).count();
    (kept < actions.len()).then_some(Taken {
        actions,
        injected,
        forward,
        kept,
    })
}

/// The answer's items for every action of the original request: OpenSearch's answers to the
/// forwarded ones in order, an injected error for each taken out. `None` when the count of
/// OpenSearch's answers is not the count forwarded.
fn merge(t: &Taken, forwarded: &[serde_json::Value]) -> Option<Vec<serde_json::Value>> {
    if forwarded.len() != t.kept {
        return None;
    }
    let mut real = forwarded.iter();
    let items = t
        .actions
        .iter()
        .zip(&t.injected)
        .map(|(a, status)| match status {
            None => real.next().cloned().unwrap_or_default(),
            Some(status) => {
                let kind = if *status == 429 {
                    "es_rejected_execution_exception"
                } else {
                    "unavailable_shards_exception"
                };
                let mut item = serde_json::Map::new();
                item.insert(
                    a.kind.clone(),
                    serde_json::json!({
                        "_index": a.index,
                        "_id": a.id,
                        "status": status,
                        "error": {"type": kind, "reason": "injected by the fault proxy"},
                    }),
                );
                serde_json::Value::Object(item)
            }
        })
        .collect();
    Some(items)
}

fn answer(w: &mut TcpStream, status: u16, body: &[u8]) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    w.write_all(head.as_bytes())?;
    w.write_all(body)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_line_that_looks_like_an_action_stays_with_its_action() {
        let body = b"{\"index\":{\"_index\":\"i\",\"_id\":\"a\"}}\n{\"index\":1}\n\
            {\"delete\":{\"_index\":\"i\",\"_id\":\"b\"}}\n\
            {\"index\":{\"_index\":\"i\",\"_id\":\"c\"}}\n{\"delete\":true}\n";
        let actions = parse(body).unwrap();
        let kinds: Vec<(&str, &str)> = actions
            .iter()
            .map(|a| (a.kind.as_str(), a.id.as_str().unwrap()))
            .collect();
        assert_eq!(kinds, [("index", "a"), ("delete", "b"), ("index", "c")]);
        assert_eq!(
            actions[0].lines,
            b"{\"index\":{\"_index\":\"i\",\"_id\":\"a\"}}\n{\"index\":1}\n"
        );
        // An index action without its source line is not a bulk body.
        assert!(parse(b"{\"index\":{\"_id\":\"a\"}}\n").is_none());
    }

    #[test]
    fn withheld_items_are_answered_in_their_places() {
        let body = b"{\"index\":{\"_index\":\"i\",\"_id\":\"a\"}}\n{}\n\
            {\"delete\":{\"_index\":\"i\",\"_id\":\"b\"}}\n\
            {\"index\":{\"_index\":\"i\",\"_id\":\"c\"}}\n{}\n";
        let taken = Taken {
            actions: parse(body).unwrap(),
            injected: vec![None, Some(429), Some(503)],
            forward: Vec::new(),
            kept: 1,
        };
        let real = serde_json::json!({"index": {"_id": "a", "status": 201}});
        let items = merge(&taken, std::slice::from_ref(&real)).unwrap();
        assert_eq!(items[0], real);
        assert_eq!(items[1]["delete"]["_id"], "b");
        assert_eq!(items[1]["delete"]["status"], 429);
        assert_eq!(
            items[1]["delete"]["error"]["type"],
            "es_rejected_execution_exception"
        );
        assert_eq!(items[2]["index"]["status"], 503);
        assert_eq!(
            items[2]["index"]["error"]["type"],
            "unavailable_shards_exception"
        );
        // OpenSearch answered a different number of items than were forwarded: no merge.
        assert!(merge(&taken, &[real.clone(), real]).is_none());
    }
}
