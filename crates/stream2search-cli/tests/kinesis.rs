//! `stream2search poll --kinesis-stream` against moto's Kinesis (and its DynamoDB, Streams and
//! SQS; `dev/moto start`, `MOTO_URL`) and the project's real OpenSearch (`OPENSEARCH_URL`).
//!
//! The Kinesis records are put as Kinesis Data Streams for DynamoDB writes them: the change
//! record (`stream2search_testkit::kinesis::change_record`, written from AWS's documentation) as
//! the record's data, the item's key as its partition key. What the index must hold is written
//! out in the tests, or is the table itself, compared by `dev/ddb.py compare` (its own
//! conversion of items to documents: number text, types, sets as sets).
//!
//! The convergence run feeds a moto table's DynamoDB stream into a Kinesis stream with faults
//! (changes put twice, later changes of an item put before earlier ones, in the same shard and
//! across shards); `STREAM2SEARCH_KINESIS_CONVERGENCE_OPS` (default 2000) and
//! `STREAM2SEARCH_KINESIS_CONVERGENCE_SEED` (default 7) size and pick it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use stream2search_testkit::{OpenSearch, kinesis};

mod common;
use common::{
    ENV, checkpoint_file, compare, created_index, ddb, env_u64, moto, poll_once,
    servers_and_cargo_lambda, text, unique, watch_products, workload,
};

/// 2026-01-01T00:00:00Z in milliseconds.
const MS: u64 = 1_767_225_600_000;

/// One call of an AWS JSON-protocol API on moto, which routes by the signing scope's service
/// name (`kinesis`, `dynamodb`) and does not check signatures; the answer must be a 200.
fn call(moto: &str, service: &str, target: &str, body: &Value) -> Value {
    let authority = moto.trim_start_matches("http://").trim_end_matches('/');
    let content_type = match service {
        "kinesis" => "application/x-amz-json-1.1",
        _ => "application/x-amz-json-1.0",
    };
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
    );
    let r = stream2search_testkit::http::request(
        authority,
        "POST",
        "/",
        &[
            ("Content-Type", content_type),
            ("X-Amz-Target", target),
            ("Authorization", &authorization),
        ],
        body.to_string().as_bytes(),
    )
    .unwrap_or_else(|e| panic!("moto {target}: {e}"));
    assert_eq!(r.status, 200, "{target}: {}", r.text());
    r.json()
}

/// A moto Kinesis data stream, deleted when dropped.
struct Stream<'a> {
    moto: &'a str,
    name: String,
}

/// Where one PutRecord went.
#[derive(Debug, Clone)]
struct Put {
    shard: String,
    sequence_number: String,
}

impl<'a> Stream<'a> {
    fn create(moto: &'a str, shards: u32) -> Stream<'a> {
        let name = unique("s2s-kinesis");
        let kinesis =
            |op: &str, body: Value| call(moto, "kinesis", &format!("Kinesis_20131202.{op}"), &body);
        kinesis(
            "CreateStream",
            json!({"StreamName": name, "ShardCount": shards}),
        );
        let summary = kinesis("DescribeStreamSummary", json!({"StreamName": name}));
        assert_eq!(
            summary["StreamDescriptionSummary"]["StreamStatus"], "ACTIVE",
            "{summary}"
        );
        Stream { moto, name }
    }

    fn arn(&self) -> String {
        let summary = call(
            self.moto,
            "kinesis",
            "Kinesis_20131202.DescribeStreamSummary",
            &json!({"StreamName": self.name}),
        );
        summary["StreamDescriptionSummary"]["StreamARN"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// PutRecord: `data` (sent base64, as the API takes it) under `partition_key`.
    fn put(&self, data: &[u8], partition_key: &str) -> Put {
        let answer = call(
            self.moto,
            "kinesis",
            "Kinesis_20131202.PutRecord",
            &json!({"StreamName": self.name, "Data": STANDARD.encode(data), "PartitionKey": partition_key}),
        );
        Put {
            shard: answer["ShardId"].as_str().unwrap().to_string(),
            sequence_number: answer["SequenceNumber"].as_str().unwrap().to_string(),
        }
    }
}

impl Drop for Stream<'_> {
    fn drop(&mut self) {
        let authority = self
            .moto
            .trim_start_matches("http://")
            .trim_end_matches('/');
        let _ = stream2search_testkit::http::request(
            authority,
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-amz-json-1.1"),
                ("X-Amz-Target", "Kinesis_20131202.DeleteStream"),
                (
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=0",
                ),
            ],
            json!({"StreamName": self.name}).to_string().as_bytes(),
        );
    }
}

/// The Kinesis data of one DynamoDB change of item `key`, created at `creation`
/// (`ApproximateCreationDateTime`, milliseconds or microseconds).
fn change(name: &str, key: &str, new_image: Option<Value>, creation: u64) -> Vec<u8> {
    let mut dynamodb = json!({"Keys": {"productId": {"S": key}}, "SizeBytes": 64});
    if let Some(image) = new_image {
        dynamodb["NewImage"] = image;
    }
    let record = json!({
        "eventID": format!("{key}-{creation}"),
        "eventName": name,
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": dynamodb,
    });
    kinesis::change_record(&record, "Products", Some(json!(creation)))
        .to_string()
        .into_bytes()
}

/// `stream2search poll --once --kinesis-stream STREAM` into `index`, with `extra` flags and
/// environment.
fn poll(
    opensearch: &str,
    stream: &str,
    index: &str,
    checkpoints: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Output {
    poll_once(
        &["--kinesis-stream", stream],
        opensearch,
        index,
        checkpoints,
        extra,
        env,
    )
}

/// The checkpoint file's positions, by shard.
fn positions(checkpoints: &Path, arn: &str) -> BTreeMap<String, Value> {
    let saved: Value = serde_json::from_slice(&std::fs::read(checkpoints).unwrap()).unwrap();
    assert_eq!(saved["stream"], arn, "{saved}");
    saved["shards"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Every document of `index` as `dev/ddb.py documents` prints it: `ID<TAB>SOURCE`, sorted by id,
/// numbers exactly as OpenSearch returns them.
fn documents(moto: &str, opensearch: &str, index: &str) -> String {
    text(&ddb(moto, opensearch, &["documents", "--index", index], "").stdout)
}

/// The last sequence number put into each shard.
fn last_by_shard(puts: &[Put]) -> BTreeMap<String, Value> {
    puts.iter()
        .map(|p| (p.shard.clone(), json!({"after": p.sequence_number})))
        .collect()
}

#[test]
fn poll_reads_every_shard_resumes_and_dead_letters_bad_data() {
    let (Some(moto), Some(opensearch)) = (moto(), OpenSearch::from_env()) else {
        return;
    };
    let os = opensearch.url().to_string();
    let stream = Stream::create(&moto, 2);
    let arn = stream.arn();
    // The index as a user makes it (its mapping refuses no DynamoDB item).
    let index = unique("s2s-kinesis-poll");
    let _cleanup = created_index(&opensearch, index.clone());

    let p1 = json!({"productId":{"S":"p-1"},"name":{"S":"Titanium bottle"},"price":{"N":"24.90"},"inStock":{"BOOL":false},"tags":{"SS":["outdoor","kitchen"]},"thumb":{"B":"iVBORw0KGgo="},"dims":{"M":{"h":{"N":"24"},"w":{"N":"7.5"}}}});
    let mut puts = Vec::new();
    for (name, key, image, at) in [
        ("INSERT", "p-1", Some(p1.clone()), MS + 1),
        (
            "INSERT",
            "p-2",
            Some(json!({"productId":{"S":"p-2"},"name":{"S":"Bamboo board"},"price":{"N":"19.5"}})),
            MS + 2,
        ),
        (
            "MODIFY",
            "p-2",
            Some(
                json!({"productId":{"S":"p-2"},"name":{"S":"Bamboo cutting board"},"price":{"N":"18.25"}}),
            ),
            MS + 3,
        ),
        (
            "INSERT",
            "p-3",
            Some(json!({"productId":{"S":"p-3"},"name":{"S":"Gone soon"}})),
            MS + 4,
        ),
        ("REMOVE", "p-3", None, MS + 5),
        (
            "INSERT",
            "p-4",
            Some(
                json!({"productId":{"S":"p-4"},"price":{"N":"1E+2"},"big":{"N":"12345678901234567890123456789012345678"}}),
            ),
            MS + 6,
        ),
    ] {
        puts.push(stream.put(&change(name, key, image, at), key));
    }
    // Two bad records, then a good one, in p-5's shard: data that is not JSON, and JSON that
    // is not a DynamoDB change.
    let not_json = b"not json at all".as_slice();
    let not_a_change = br#"{"hello":"world"}"#.as_slice();
    let bad = [stream.put(not_json, "p-5"), stream.put(not_a_change, "p-5")];
    puts.extend(bad.iter().cloned());
    puts.push(stream.put(
        &change(
            "INSERT",
            "p-5",
            Some(json!({"productId":{"S":"p-5"},"note":{"S":""}})),
            MS + 7,
        ),
        "p-5",
    ));
    let shards: BTreeMap<&str, usize> = puts.iter().fold(BTreeMap::new(), |mut m, p| {
        *m.entry(p.shard.as_str()).or_default() += 1;
        m
    });
    assert_eq!(shards.len(), 2, "the records fill both shards: {shards:?}");
    assert_eq!(bad[0].shard, bad[1].shard);

    // No dead-letter queue: the partial batch response names the first bad record, and the
    // poller gives up on its shard after two deliveries; the other shard is done.
    let cp = checkpoint_file("kinesis");
    let endpoint = ["--kinesis-endpoint", moto.as_str()];
    let stuck = poll(
        &os,
        &stream.name,
        &index,
        &cp,
        &[&endpoint[..], &["--max-attempts", "2"]].concat(),
        &[],
    );
    assert_eq!(stuck.status.code(), Some(1), "{}", text(&stuck.stderr));
    let stderr = text(&stuck.stderr);
    assert!(
        stderr.contains(&format!(" {}: ", bad[0].sequence_number)),
        "the bad record is named: {stderr}"
    );
    let at = positions(&cp, &arn);
    assert_eq!(
        at[&bad[0].shard],
        json!({"at": bad[0].sequence_number}),
        "{at:?}"
    );

    // With a dead-letter queue the bad records go there and the rest of the shard is indexed.
    let queue = text(&ddb(&moto, &os, &["queue", "--name", &unique("kinesis-dlq")], "").stdout)
        .trim()
        .to_string();
    let dlq = [
        ("STREAM2SEARCH_DLQ_URL", queue.as_str()),
        ("STREAM2SEARCH_SQS_ENDPOINT", moto.as_str()),
        ("STREAM2SEARCH_DLQ_ALLOW_HTTP", "true"),
    ];
    let done = poll(&os, &stream.name, &index, &cp, &endpoint, &dlq);
    assert!(done.status.success(), "{}", text(&done.stderr));
    assert!(
        text(&done.stderr).contains("2 dead-lettered"),
        "{}",
        text(&done.stderr)
    );
    let messages: Vec<Value> = text(&ddb(&moto, &os, &["receive", "--queue", &queue], "").stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let dead: Vec<(&str, &str)> = messages
        .iter()
        .map(|m| {
            (
                m["SequenceNumber"].as_str().unwrap(),
                m["record"]["kinesis"]["data"].as_str().unwrap(),
            )
        })
        .collect();
    let (bad_data_0, bad_data_1) = (STANDARD.encode(not_json), STANDARD.encode(not_a_change));
    assert_eq!(
        dead,
        [
            (bad[0].sequence_number.as_str(), bad_data_0.as_str()),
            (bad[1].sequence_number.as_str(), bad_data_1.as_str())
        ],
        "{messages:?}"
    );
    // The documents, written out: numbers as the records carried them, attributes in the
    // order the records carried them (`json!` sorts an object's names); p-3 was deleted.
    assert_eq!(
        documents(&moto, &os, &index),
        concat!(
            "p-1\t{\"dims\":{\"h\":24,\"w\":7.5},\"inStock\":false,\"name\":\"Titanium bottle\",\"price\":24.90,\"productId\":\"p-1\",\"tags\":[\"outdoor\",\"kitchen\"],\"thumb\":\"iVBORw0KGgo=\"}\n",
            "p-2\t{\"name\":\"Bamboo cutting board\",\"price\":18.25,\"productId\":\"p-2\"}\n",
            "p-4\t{\"big\":12345678901234567890123456789012345678,\"price\":1E+2,\"productId\":\"p-4\"}\n",
            "p-5\t{\"note\":\"\",\"productId\":\"p-5\"}\n",
        )
    );
    // The checkpoint names each shard's last sequence number.
    assert_eq!(positions(&cp, &arn), last_by_shard(&puts));

    // More changes; the stream named by its ARN and moto found through AWS_ENDPOINT_URL_KINESIS:
    // only the new records are read, each shard from just after its checkpoint.
    let mut p1_new = p1;
    p1_new["price"] = json!({"N": "26.00"});
    let more = [
        stream.put(&change("MODIFY", "p-1", Some(p1_new), MS + 10), "p-1"),
        stream.put(&change("REMOVE", "p-4", None, MS + 11), "p-4"),
        stream.put(
            &change(
                "INSERT",
                "p-6",
                Some(json!({"productId":{"S":"p-6"},"sizes":{"NS":["1.500","1E+2"]}})),
                MS + 12,
            ),
            "p-6",
        ),
    ];
    let again = poll(
        &os,
        &arn,
        &index,
        &cp,
        &[],
        &[&dlq[..], &[("AWS_ENDPOINT_URL_KINESIS", moto.as_str())]].concat(),
    );
    assert!(again.status.success(), "{}", text(&again.stderr));
    let stdout = text(&again.stdout);
    let mut read = 0;
    for line in stdout.lines() {
        // SHARD FIRST..LAST: N records; ...
        let (shard, rest) = line.split_once(' ').unwrap();
        let (range, rest) = rest.split_once(": ").unwrap();
        let first = range.split_once("..").unwrap().0;
        let new: Vec<&Put> = more.iter().filter(|p| p.shard == shard).collect();
        assert_eq!(first, new[0].sequence_number, "{stdout}");
        read += rest
            .split_once(" records;")
            .unwrap()
            .0
            .parse::<usize>()
            .unwrap();
    }
    assert_eq!(read, more.len(), "{stdout}");
    assert!(
        text(&again.stderr).contains("3 records, 0 dead-lettered"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(
        documents(&moto, &os, &index),
        concat!(
            "p-1\t{\"dims\":{\"h\":24,\"w\":7.5},\"inStock\":false,\"name\":\"Titanium bottle\",\"price\":26.00,\"productId\":\"p-1\",\"tags\":[\"outdoor\",\"kitchen\"],\"thumb\":\"iVBORw0KGgo=\"}\n",
            "p-2\t{\"name\":\"Bamboo cutting board\",\"price\":18.25,\"productId\":\"p-2\"}\n",
            "p-5\t{\"note\":\"\",\"productId\":\"p-5\"}\n",
            "p-6\t{\"productId\":\"p-6\",\"sizes\":[1.500,1E+2]}\n",
        )
    );
    puts.extend(more);
    assert_eq!(positions(&cp, &arn), last_by_shard(&puts));
    let _ = std::fs::remove_file(&cp);
}

/// A proxy in front of moto that answers with AWS exceptions instead of forwarding: each
/// `(operation, exception)` of its script, in order, to the next call of that operation (the
/// head of the script waits for its operation); everything else is forwarded.
struct Faulty {
    url: String,
    script: Arc<Mutex<VecDeque<(&'static str, &'static str)>>>,
}

impl Faulty {
    fn start(moto: &str, script: &[(&'static str, &'static str)]) -> Faulty {
        let upstream = moto
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let left = Arc::clone(&script);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (upstream, left) = (upstream.clone(), Arc::clone(&left));
                std::thread::spawn(move || Faulty::serve(stream, &upstream, &left));
            }
        });
        Faulty { url, script }
    }

    /// Answers the requests of one connection until the client closes it.
    fn serve(
        stream: TcpStream,
        upstream: &str,
        script: &Mutex<VecDeque<(&'static str, &'static str)>>,
    ) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        loop {
            let mut head = Vec::new();
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) if line == "\r\n" => break,
                    Ok(_) => head.push(line.trim_end().to_string()),
                }
            }
            let headers: Vec<(String, String)> = head[1..]
                .iter()
                .filter_map(|h| h.split_once(": "))
                .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
                .collect();
            let header = |name: &str| {
                headers
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.as_str())
            };
            let length: usize = header("content-length").map_or(0, |l| l.parse().unwrap());
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            let operation = header("x-amz-target")
                .and_then(|t| t.split_once('.'))
                .map_or("", |(_, op)| op);
            let fault = {
                let mut script = script.lock().unwrap();
                match script.front() {
                    Some(&(op, exception)) if op == operation => {
                        script.pop_front();
                        Some(exception)
                    }
                    _ => None,
                }
            };
            let (status, content_type, answer) = match fault {
                Some(exception) => (
                    400,
                    "application/x-amz-json-1.1".to_string(),
                    json!({"__type": exception, "message": "injected by the test"})
                        .to_string()
                        .into_bytes(),
                ),
                None => {
                    let forwarded: Vec<(&str, &str)> = headers
                        .iter()
                        .filter(|(n, _)| n != "host" && n != "content-length")
                        .map(|(n, v)| (n.as_str(), v.as_str()))
                        .collect();
                    let r = stream2search_testkit::http::request(
                        upstream, "POST", "/", &forwarded, &body,
                    )
                    .unwrap();
                    let content_type = r.header("content-type").unwrap_or("").to_string();
                    (r.status, content_type, r.body)
                }
            };
            let mut out = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
                answer.len()
            )
            .into_bytes();
            out.extend_from_slice(&answer);
            if writer.write_all(&out).is_err() {
                return;
            }
        }
    }

    /// The faults not served yet.
    fn left(&self) -> Vec<(&'static str, &'static str)> {
        self.script.lock().unwrap().iter().copied().collect()
    }
}

#[test]
fn throttled_calls_and_expired_iterators_never_fail_the_run() {
    let (Some(moto), Some(opensearch)) = (moto(), OpenSearch::from_env()) else {
        return;
    };
    let os = opensearch.url().to_string();
    let stream = Stream::create(&moto, 1);
    let index = unique("s2s-kinesis-throttled");
    let _cleanup = created_index(&opensearch, index.clone());
    for (i, key) in ["a", "b", "c"].into_iter().enumerate() {
        let image = json!({"productId": {"S": key}, "n": {"N": format!("{i}.50")}});
        stream.put(&change("INSERT", key, Some(image), MS + i as u64), key);
    }
    // Every read call throttled once or more, and the iterator expired under the reader: with
    // --max-attempts 1, any of them taken for a failed batch would end the run with exit 1.
    let throttled = "ProvisionedThroughputExceededException";
    let proxy = Faulty::start(
        &moto,
        &[
            ("ListShards", "LimitExceededException"),
            ("GetShardIterator", throttled),
            ("GetRecords", throttled),
            ("GetRecords", throttled),
            ("GetRecords", "ExpiredIteratorException"),
            ("GetRecords", throttled),
        ],
    );
    let cp = checkpoint_file("kinesis");
    let out = poll(
        &os,
        &stream.name,
        &index,
        &cp,
        &[
            "--kinesis-endpoint",
            &proxy.url,
            "--max-attempts",
            "1",
            "--batch-size",
            "2",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(proxy.left(), [], "every fault was served");
    assert!(
        text(&out.stderr).contains("2 batches, 3 records"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        documents(&moto, &os, &index),
        "a\t{\"n\":0.50,\"productId\":\"a\"}\nb\t{\"n\":1.50,\"productId\":\"b\"}\nc\t{\"n\":2.50,\"productId\":\"c\"}\n"
    );
    let _ = std::fs::remove_file(&cp);
}

#[test]
fn the_example_function_gets_kinesis_batches_and_its_partial_batch_response_is_honoured() {
    let Some((moto, opensearch, cargo_lambda)) =
        servers_and_cargo_lambda("poll --kinesis-stream to the example function")
    else {
        return;
    };
    let os = opensearch.url().to_string();
    let index = unique("s2s-kinesis-function");
    let _cleanup = created_index(&opensearch, index.clone());
    let watch = watch_products(&cargo_lambda, &opensearch, &index, "kinesis");
    let stream = Stream::create(&moto, 1);
    let put = |key: &str, at: u64| {
        let image = json!({"productId": {"S": key}, "price": {"N": "1.500"}});
        stream.put(&change("INSERT", key, Some(image), MS + at), key)
    };
    put("a", 1);
    put("b", 2);
    // The function has no dead-letter queue: it names this record in its partial batch
    // response, and the shard resumes there.
    let bad = stream.put(b"{not json", "bad");
    let last = put("c", 3);
    let cp = checkpoint_file("kinesis");
    // The first invocation builds the function; the emulator waits for it.
    let out = poll(
        &os,
        &stream.name,
        &index,
        &cp,
        &[
            "--kinesis-endpoint",
            &moto,
            "--function-url",
            &watch.invocation_url("products"),
            "--max-attempts",
            "2",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let (shard, bad_seq) = (&bad.shard, &bad.sequence_number);
    assert_eq!(
        lines.len(),
        2,
        "a delivery, then one from the bad record: {stdout}"
    );
    assert!(
        lines[0].ends_with(&format!(": 4 records; resume at {bad_seq}")),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with(&format!(
            "{shard} {bad_seq}..{}: 2 records;",
            last.sequence_number
        )) && lines[1].ends_with(&format!("resume at {bad_seq}")),
        "{stdout}"
    );
    let saved: Value = serde_json::from_slice(&std::fs::read(&cp).unwrap()).unwrap();
    assert_eq!(saved["shards"][shard], json!({"at": bad_seq}), "{saved}");
    // The good records were written, c too (the function wrote it before answering).
    assert_eq!(
        documents(&moto, &os, &index),
        "a\t{\"price\":1.500,\"productId\":\"a\"}\nb\t{\"price\":1.500,\"productId\":\"b\"}\nc\t{\"price\":1.500,\"productId\":\"c\"}\n"
    );
    let _ = std::fs::remove_file(&cp);
}

#[test]
fn kinesis_stream_is_one_source_among_table_and_stream_arn() {
    for args in [
        &["--kinesis-stream", "s", "--table", "t"][..],
        &["--kinesis-stream", "s", "--stream-arn", "arn"],
        &["--kinesis-endpoint", "http://127.0.0.1:1", "--table", "t"],
        &[],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_stream2search"))
            .arg("poll")
            .args(args)
            .envs(ENV)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

/// A small seeded generator (xorshift64*), so that a run's faults can be repeated.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// What the feeder did, from its own records.
#[derive(Debug, Default)]
struct Fed {
    /// Changes read from the DynamoDB stream.
    changes: u64,
    /// Records put into Kinesis, each put counted.
    puts: u64,
    /// Changes put a second time.
    duplicates: u64,
    /// Changes put after a later change of the same item.
    reorders: u64,
    /// Of those, the ones that landed in another shard than the later change.
    reorders_across_shards: u64,
}

/// Reads a table's DynamoDB stream in order and puts each change into a Kinesis stream as
/// Kinesis Data Streams for DynamoDB does (the change record as data, the item's key as
/// partition key, `ApproximateCreationDateTime` in microseconds, increasing in stream order),
/// with faults: some changes put twice, some held back and put after the item's next change
/// (under the item's key: the same shard, swapped; or under another key: maybe another shard).
struct Feeder<'a> {
    moto: &'a str,
    table: String,
    /// The DynamoDB stream's ARN.
    source: String,
    kinesis: &'a Stream<'a>,
    /// The last DynamoDB Streams sequence number read, by shard.
    read: HashMap<String, String>,
    /// The microsecond clock the changes get their creation time from.
    clock: u64,
    /// Changes held back, by item key: data and partition key.
    held: BTreeMap<String, (Vec<u8>, String)>,
    rng: Rng,
    fed: Fed,
}

impl Feeder<'_> {
    fn streams(&self, op: &str, body: Value) -> Value {
        call(
            self.moto,
            "dynamodb",
            &format!("DynamoDBStreams_20120810.{op}"),
            &body,
        )
    }

    fn put(&mut self, data: &[u8], partition_key: &str) -> Put {
        self.fed.puts += 1;
        self.kinesis.put(data, partition_key)
    }

    /// Feeds every change the DynamoDB stream holds beyond what was read, then puts what was
    /// held back (in order: nothing later of those items came).
    fn feed(&mut self) {
        let description = self.streams("DescribeStream", json!({"StreamArn": self.source}));
        let shards: Vec<String> = description["StreamDescription"]["Shards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["ShardId"].as_str().unwrap().to_string())
            .collect();
        for shard in shards {
            let mut request = json!({"StreamArn": self.source, "ShardId": shard});
            match self.read.get(&shard) {
                Some(seq) => {
                    request["ShardIteratorType"] = json!("AFTER_SEQUENCE_NUMBER");
                    request["SequenceNumber"] = json!(seq);
                }
                None => request["ShardIteratorType"] = json!("TRIM_HORIZON"),
            }
            let mut iterator = self.streams("GetShardIterator", request)["ShardIterator"]
                .as_str()
                .map(str::to_string);
            while let Some(it) = iterator.take() {
                let page = self.streams("GetRecords", json!({"ShardIterator": it, "Limit": 1000}));
                let records = page["Records"].as_array().cloned().unwrap_or_default();
                if records.is_empty() {
                    break;
                }
                for record in &records {
                    self.read.insert(
                        shard.clone(),
                        record["dynamodb"]["SequenceNumber"]
                            .as_str()
                            .unwrap()
                            .to_string(),
                    );
                    self.one(record);
                }
                iterator = page["NextShardIterator"].as_str().map(str::to_string);
            }
        }
        for (_, (data, partition_key)) in std::mem::take(&mut self.held) {
            self.put(&data, &partition_key);
        }
    }

    fn one(&mut self, record: &Value) {
        self.fed.changes += 1;
        self.clock += 1;
        let key = record["dynamodb"]["Keys"]["productId"]["S"]
            .as_str()
            .unwrap()
            .to_string();
        let data = kinesis::change_record(record, &self.table, Some(json!(self.clock)))
            .to_string()
            .into_bytes();
        let earlier = self.held.remove(&key);
        if earlier.is_none() && self.rng.chance(0.08) {
            let partition_key = if self.rng.chance(0.5) {
                key.clone()
            } else {
                format!("{key}#late")
            };
            self.held.insert(key, (data, partition_key));
            return;
        }
        let put = self.put(&data, &key);
        if self.rng.chance(0.08) {
            self.put(&data, &key);
            self.fed.duplicates += 1;
        }
        if let Some((data, partition_key)) = earlier {
            let late = self.put(&data, &partition_key);
            self.fed.reorders += 1;
            if late.shard != put.shard {
                self.fed.reorders_across_shards += 1;
            }
        }
    }
}

#[test]
fn index_equals_the_table_fed_through_kinesis_with_duplicates_and_reordering() {
    let (Some(moto), Some(opensearch)) = (moto(), OpenSearch::from_env()) else {
        return;
    };
    let ops = env_u64("STREAM2SEARCH_KINESIS_CONVERGENCE_OPS", 2000);
    let seed = env_u64("STREAM2SEARCH_KINESIS_CONVERGENCE_SEED", 7);
    let keys = 40u64;
    let os = opensearch.url().to_string();
    let pid = std::process::id();

    // The index as a user makes it: `stream2search index create` (deletes remembered for 24 h,
    // so that an older change arriving after a delete is refused).
    let index = format!("s2s-kinesis-converge-{pid}");
    let _cleanup = created_index(&opensearch, index.clone());
    let table = format!("KinesisConverge-{pid}");
    let source = text(&ddb(&moto, &os, &["create", "--table", &table], "").stdout)
        .trim()
        .to_string();
    assert!(source.starts_with("arn:"), "the table's stream: {source:?}");
    let workload = workload(&moto, &os, seed, ops, keys, 0);
    let lines: Vec<&str> = workload.lines().collect();
    let stream = Stream::create(&moto, 3);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let mut feeder = Feeder {
        moto: &moto,
        table: table.clone(),
        source,
        kinesis: &stream,
        read: HashMap::new(),
        clock: now.as_micros() as u64,
        held: BTreeMap::new(),
        rng: Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
        fed: Fed::default(),
    };
    let cp =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("kinesis-converge-{pid}.json"));
    let _ = std::fs::remove_file(&cp);
    let endpoint = ["--kinesis-endpoint", moto.as_str(), "--batch-size", "100"];

    // Three rounds: a part of the workload applied to the table, fed through, polled, and the
    // index compared with the table (exit 0 equal, 3 differs; anything else fails in `ddb_with`).
    let (mut delivered, mut stale) = (0u64, 0u64);
    let parts = lines.chunks(lines.len().div_ceil(3)).count();
    for (i, part) in lines.chunks(lines.len().div_ceil(3)).enumerate() {
        ddb(
            &moto,
            &os,
            &["apply", "--table", &table, "-"],
            &(part.join("\n") + "\n"),
        );
        feeder.feed();
        let out = poll(&os, &stream.name, &index, &cp, &endpoint, &[]);
        assert!(out.status.success(), "poll: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        for line in stdout.lines() {
            assert!(line.ends_with("; complete"), "{line}");
            let records = line.split_once(": ").unwrap().1;
            delivered += records
                .split_once(" records;")
                .unwrap()
                .0
                .parse::<u64>()
                .unwrap();
            stale += line
                .split_once(", stale ")
                .map_or(0, |(_, s)| s.split_once(',').unwrap().0.parse().unwrap());
        }
        if let Err(differences) = compare(&moto, &os, &table, &index) {
            panic!(
                "after round {} of {parts}: the index differs from the table:\n{differences}",
                i + 1
            );
        }
    }
    let fed = &feeder.fed;
    eprintln!(
        "kinesis convergence: seed {seed}, {} operations over {keys} keys, {parts} rounds; \
         {fed:?}; {delivered} records delivered, {stale} stale",
        lines.len()
    );
    // The faults happened (the feeder's own counts), and every record put was delivered once.
    assert!(fed.changes > 0 && fed.duplicates > 0, "{fed:?}");
    assert!(
        fed.reorders > 0 && fed.reorders_across_shards > 0,
        "{fed:?}"
    );
    assert_eq!(delivered, fed.puts, "{fed:?}");
    // ... and older changes reached OpenSearch after newer ones and were refused by version.
    assert!(stale > 0, "no stale writes: {fed:?}");
    ddb(&moto, &os, &["drop", "--table", &table], "");
    let _ = std::fs::remove_file(&cp);
}
