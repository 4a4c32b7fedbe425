//! The server's ceiling for a backfill from an export: the same bulk requests, made ahead of
//! time, sent with nothing else to do.
//!
//! usage: `ceiling EXPORT_DIR --endpoint URL --index NAME [--keys pk] [--concurrency K]
//! [--page-items N] [--page-bytes B] [--version SECONDS] [--no-gzip]`
//!
//! First, untimed: the export is read with the backfill's reader, each page planned as the
//! backfill plans it, and every chunk's request built by `stream2search_client::Client`
//! (`stream2search_benches::ceiling`): NDJSON, gzip, headers. Then, timed: K tasks on one thread
//! (the CLI's runtime is single-threaded too) take the requests in order and send them on a
//! pooled keep-alive HTTP/1.1 client, so that K requests are in flight at any time until the
//! last ones; each answer is read whole and its items' statuses counted. No reading, decoding,
//! planning, compressing or retrying is timed. An item not answered 200/201 is counted as failed
//! (the run is then not a valid ceiling: exit 1).
//!
//! Prints one line: items, requests, bytes, seconds, the process's CPU seconds while sending,
//! items/s and MB/s (10^6 bytes of the export's decompressed lines per second); and on stderr
//! the CPU seconds the untimed preparation took.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client as Http;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use stream2search::{Config, Planner};
use stream2search_benches::ceiling;

const USAGE: &str = "usage: ceiling EXPORT_DIR --endpoint URL --index NAME [--keys pk] \
                     [--concurrency K] [--page-items N] [--page-bytes B] [--version SECONDS] \
                     [--no-gzip]";

struct Args {
    dir: String,
    endpoint: String,
    index: String,
    keys: Vec<String>,
    concurrency: usize,
    page_items: usize,
    page_bytes: usize,
    version: u64,
    gzip: bool,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut dir = None;
    let mut endpoint = None;
    let mut index = None;
    let mut out = Args {
        dir: String::new(),
        endpoint: String::new(),
        index: String::new(),
        keys: vec!["pk".into()],
        concurrency: 2,
        page_items: 1000,
        // The backfill's FILE_PAGE_BYTES: 1 MiB of decompressed lines a page.
        page_bytes: 1024 * 1024,
        // 2026-01-01T00:00:00Z (the generator's exportTime) less 300 s.
        version: 1_767_225_300,
        gzip: true,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value")).cloned();
        let number = |name: &str, text: String| -> Result<u64, String> {
            text.parse()
                .map_err(|_| format!("{name} {text:?}: not a whole number"))
        };
        match arg.as_str() {
            "--endpoint" => endpoint = Some(value(arg)?),
            "--index" => index = Some(value(arg)?),
            "--keys" => out.keys = value(arg)?.split(',').map(str::to_owned).collect(),
            "--concurrency" => out.concurrency = number(arg, value(arg)?)?.max(1) as usize,
            "--page-items" => out.page_items = number(arg, value(arg)?)?.max(1) as usize,
            "--page-bytes" => out.page_bytes = number(arg, value(arg)?)?.max(1) as usize,
            "--version" => out.version = number(arg, value(arg)?)?,
            "--no-gzip" => out.gzip = false,
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            path if dir.is_none() => dir = Some(path.to_owned()),
            extra => return Err(format!("one EXPORT_DIR only ({extra:?})")),
        }
    }
    out.dir = dir.ok_or("EXPORT_DIR is required")?;
    out.endpoint = endpoint.ok_or("--endpoint is required")?;
    out.index = index.ok_or("--index is required")?;
    Ok(out)
}

/// What was counted while sending.
#[derive(Default)]
struct Counts {
    ok: u64,
    failed: u64,
    bad_answers: u64,
    first_failure: Option<String>,
}

#[derive(Deserialize)]
struct Answer {
    items: Vec<HashMap<String, ItemStatus>>,
}

#[derive(Deserialize)]
struct ItemStatus {
    status: u16,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ceiling: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    runtime.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let planner = match Planner::new(Config {
        index: args.index.clone(),
        ..Config::default()
    }) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ceiling: {e}");
            return ExitCode::from(2);
        }
    };
    let mut config = stream2search_client::Config::new(&args.endpoint);
    config.allow_http = true;
    config.gzip = args.gzip;
    let client = match stream2search_client::Client::new(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ceiling: {e}");
            return ExitCode::from(2);
        }
    };
    let prepare_cpu = cpu_time::ProcessTime::now();
    let prepared = match ceiling::prepare(
        &args.dir,
        &planner,
        &client,
        &args.keys,
        args.version,
        args.page_items,
        args.page_bytes,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ceiling: {e}");
            return ExitCode::FAILURE;
        }
    };
    let requests = prepared.requests.len();
    eprintln!(
        "ceiling: {} items in {} pages, {requests} requests ready ({} NDJSON bytes, {} sent), \
         in {:.2} s of CPU",
        prepared.items,
        prepared.pages,
        prepared.ndjson_bytes,
        prepared.sent_bytes,
        prepare_cpu.elapsed().as_secs_f64()
    );

    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    let http: Http<HttpConnector, Full<Bytes>> = Http::builder(TokioExecutor::new()).build(http);
    let queue: Rc<RefCell<VecDeque<Request<Bytes>>>> =
        Rc::new(RefCell::new(prepared.requests.into()));
    let counts = Rc::new(RefCell::new(Counts::default()));
    let local = tokio::task::LocalSet::new();
    let started = Instant::now();
    let send_cpu = cpu_time::ProcessTime::now();
    for _ in 0..args.concurrency {
        let (queue, counts, http) = (Rc::clone(&queue), Rc::clone(&counts), http.clone());
        local.spawn_local(async move {
            loop {
                let Some(request) = queue.borrow_mut().pop_front() else {
                    return;
                };
                let answer = send(&http, request).await;
                let mut c = counts.borrow_mut();
                match answer {
                    Ok(statuses) => {
                        for status in statuses {
                            if status == 200 || status == 201 {
                                c.ok += 1;
                            } else {
                                c.failed += 1;
                                c.first_failure
                                    .get_or_insert_with(|| format!("an item answered {status}"));
                            }
                        }
                    }
                    Err(e) => {
                        c.bad_answers += 1;
                        c.first_failure.get_or_insert(e);
                    }
                }
            }
        });
    }
    local.await;
    let seconds = started.elapsed().as_secs_f64().max(1e-6);
    let cpu = send_cpu.elapsed().as_secs_f64();
    let c = counts.borrow();
    println!(
        "ceiling {} -> {}: items {}, indexed {}, failed {}, requests {requests}, failed requests \
         {}, bytes read {}, ndjson bytes {}, sent bytes {}, concurrency {}, gzip {}, seconds \
         {seconds:.2}, cpu seconds {cpu:.2}, items/s {:.0}, MB/s {:.2}",
        args.dir,
        args.index,
        prepared.items,
        c.ok,
        c.failed,
        c.bad_answers,
        prepared.line_bytes,
        prepared.ndjson_bytes,
        prepared.sent_bytes,
        args.concurrency,
        args.gzip,
        c.ok as f64 / seconds,
        prepared.line_bytes as f64 / 1e6 / seconds,
    );
    if let Some(failure) = &c.first_failure {
        eprintln!("ceiling: not a valid ceiling: {failure}");
        return ExitCode::FAILURE;
    }
    if c.ok != prepared.items {
        eprintln!("ceiling: {} of {} items answered", c.ok, prepared.items);
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Sends one request and reads the per-item statuses of its answer.
async fn send(
    http: &Http<HttpConnector, Full<Bytes>>,
    request: Request<Bytes>,
) -> Result<Vec<u16>, String> {
    let response = tokio::time::timeout(Duration::from_secs(120), async {
        let response = http
            .request(request.map(Full::new))
            .await
            .map_err(|e| format!("sending: {e}"))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes();
        Ok::<_, String>((status, body))
    })
    .await
    .map_err(|_| "no answer within 120 s".to_string())??;
    let (status, body) = response;
    if status != 200 {
        return Err(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ));
    }
    let answer: Answer =
        serde_json::from_slice(&body).map_err(|e| format!("not a bulk answer: {e}"))?;
    Ok(answer
        .items
        .iter()
        .map(|item| item.values().next().map_or(0, |s| s.status))
        .collect())
}
