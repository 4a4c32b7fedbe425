//! A fault proxy: sits between the client and OpenSearch and, for `POST .../_bulk`, injects the
//! failures a real cluster produces, chosen by a seeded random source.
//!
//! ```no_run
//! use stream2search_testkit::fault::{Faults, Proxy};
//!
//! let proxy = Proxy::start("127.0.0.1:9200", Faults::default(), 7).unwrap();
//! // point the client at proxy.url(); read proxy.counts() at the end
//! ```
//!
//! The first bulk requests get each whole-request fault in turn; after that, per bulk request,
//! at most one of: a whole-request 503, or 413 when it holds more than one
//! action (a real 413 depends on size; one action alone is not refused), neither forwarded; a dropped
//! connection, before forwarding or after (the request then took effect, unknown to the
//! client); a delay before forwarding; or per-item 429/503 written over items of a real answer
//! (the items took effect). Every other request passes through unchanged.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

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
    /// Of the items of a forwarded answer, the fraction rewritten to 429 or 503.
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
}

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `upstream` (`host:port`).
    pub fn start(upstream: &str, faults: Faults, seed: u64) -> io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let counts = Arc::new(Mutex::new(BTreeMap::new()));
        let shared = Arc::new(Shared {
            upstream: upstream.to_string(),
            faults,
            rng: Mutex::new(Rng::new(seed)),
            counts: counts.clone(),
        });
        thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let shared = shared.clone();
                thread::spawn(move || {
                    let _ = serve(&shared, conn);
                });
            }
        });
        Ok(Proxy { url, counts })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How many of each fault (and `forwarded`, `bulk requests`) so far.
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        self.counts.lock().unwrap().clone()
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
        let (mut drop_after, mut rewrite) = (false, false);
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
            if hit(f.request_503) {
                shared.count("request 503", 1);
                answer(&mut writer, 503, br#"{"error":"injected","status":503}"#)?;
                continue;
            }
            // A real 413 depends on size: its halves fit. One action alone is never refused.
            if hit(f.request_413) && actions(&headers, &body) > 1 {
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
            } else {
                rewrite = true;
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
        if rewrite && response.status == 200 && f.item_error > 0.0 {
            let (text, n) = item_errors(shared, &response.body);
            if n > 0 {
                shared.count("item 429/503", n);
                out = text;
            }
        }
        answer(&mut writer, response.status, &out)?;
    }
}

/// How many actions a bulk body holds (gzip or plain).
fn actions(headers: &[(String, String)], body: &[u8]) -> usize {
    let gzip = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("content-encoding") && v.contains("gzip"));
    let mut plain = Vec::new();
    let text = if gzip {
        if flate2::read::GzDecoder::new(body)
            .read_to_end(&mut plain)
            .is_err()
        {
            return 0;
        }
        &plain[..]
    } else {
        body
    };
    // Each action line is followed by a source line, except deletes.
    text.split(|&b| b == b'\n')
        .filter(|l| {
            l.starts_with(b"{\"index\"")
                || l.starts_with(b"{\"delete\"")
                || l.starts_with(b"{\"create\"")
                || l.starts_with(b"{\"update\"")
        })
        .count()
}

/// The bulk answer with some items' results replaced by 429 or 503 (`errors` set to true).
fn item_errors(shared: &Shared, body: &[u8]) -> (Vec<u8>, u64) {
    let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (body.to_vec(), 0);
    };
    let mut n = 0;
    if let Some(items) = json["items"].as_array_mut() {
        for item in items.iter_mut() {
            if shared.roll() >= shared.faults.item_error {
                continue;
            }
            let Some((_, result)) = item.as_object_mut().and_then(|o| o.iter_mut().next()) else {
                continue;
            };
            let status = if shared.roll() < 0.5 { 429 } else { 503 };
            let kind = if status == 429 {
                "es_rejected_execution_exception"
            } else {
                "unavailable_shards_exception"
            };
            result["status"] = status.into();
            result["error"] =
                serde_json::json!({"type": kind, "reason": "injected by the fault proxy"});
            if let Some(o) = result.as_object_mut() {
                o.remove("result");
                o.remove("_version");
            }
            n += 1;
        }
    }
    if n > 0 {
        json["errors"] = true.into();
    }
    (
        serde_json::to_vec(&json).unwrap_or_else(|_| body.to_vec()),
        n,
    )
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
