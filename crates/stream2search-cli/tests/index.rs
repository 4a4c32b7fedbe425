//! `stream2search index`, run as a user runs it, against the project's real OpenSearch: an index
//! that refuses no DynamoDB item, aliases that write exactly as the index itself, a create that
//! is idempotent and leaves nothing half done.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stream2search::checkpoint::{Checkpoint, RecordOutcome};
use stream2search::outcome::Applied;
use stream2search_lambda::{Handler, Settings};
use stream2search_testkit::OpenSearch;

mod common;
use common::{Generations, text};

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stream2search"))
        .args(args)
        .output()
        .unwrap()
}

/// `stream2search index SUBCOMMAND NAME ... --endpoint URL --allow-http`.
fn index_cmd(opensearch: &OpenSearch, sub: &str, name: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "index",
        sub,
        name,
        "--endpoint",
        opensearch.url(),
        "--allow-http",
    ];
    args.extend_from_slice(extra);
    cli(&args)
}

/// A name no other test or run uses.
fn unique(purpose: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("s2s-{purpose}-{}-{nanos}", std::process::id())
}

fn scratch(name: &str, contents: &str) -> PathBuf {
    let path =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

fn handler(opensearch: &OpenSearch, index: &str) -> Handler {
    let vars: HashMap<&str, &str> = HashMap::from([
        ("OPENSEARCH_ENDPOINT", opensearch.url()),
        ("OPENSEARCH_INDEX", index),
        ("OPENSEARCH_AUTH", "none"),
        ("OPENSEARCH_ALLOW_HTTP", "true"),
        ("STREAM2SEARCH_METRICS", "false"),
        ("AWS_REGION", "us-east-1"),
    ]);
    Handler::new(Settings::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap()).unwrap()
}

/// A map nested `depth` levels deep (DynamoDB allows 32), with a string at the bottom.
fn nested(depth: usize) -> String {
    let mut value = r#"{"S":"bottom"}"#.to_string();
    for _ in 0..depth {
        value = format!(r#"{{"M":{{"z":{value}}}}}"#);
    }
    value
}

/// One INSERT of `id` with the attributes `image` (AttributeValue JSON, without braces).
fn insert(id: &str, seq: usize, image: &str) -> String {
    format!(
        r#"{{"eventID":"{seq}","eventName":"INSERT","eventSource":"aws:dynamodb","dynamodb":{{"ApproximateCreationDateTime":1767225600,"Keys":{{"pk":{{"S":"{id}"}}}},"NewImage":{{"pk":{{"S":"{id}"}},{image}}},"SequenceNumber":"{seq:021}","StreamViewType":"NEW_IMAGE"}}}}"#
    )
}

/// Items that refuse each other under dynamic mapping: every value class DynamoDB has, and
/// attributes that are a map in one item and a string, number, list or boolean in another.
fn every_value_class() -> Vec<(String, String)> {
    let many: Vec<String> = (0..3000)
        .map(|i| format!(r#""attr{i:04}":{{"N":"{i}"}}"#))
        .collect();
    vec![
        (
            "numbers".into(),
            r#""name":{"S":"Titanium water bottle"},"category":{"S":"kitchen"},"price":{"N":"24.90"},"stock":{"N":"12345678901234567890123456789012345678"},"debt":{"N":"-12345678901234567890123456789012345678"},"huge":{"N":"1E+125"},"tiny":{"N":"1E-130"},"zero":{"N":"-0"},"sizes":{"NS":["0.5","1","1.5"]},"dims":{"M":{"h":{"N":"24"},"w":{"N":"7.5"}}},"flag":{"BOOL":false}"#.into(),
        ),
        (
            "strings".into(),
            r#""name":{"S":"Bamboo cutting board"},"category":{"S":"garden"},"price":{"S":"call us"},"stock":{"M":{"warehouse":{"N":"3"}}},"dims":{"S":"30x20"},"sizes":{"L":[{"S":"small"},{"N":"2"},{"M":{"cm":{"N":"30"}}},{"BOOL":true},{"NULL":true},{"L":[]}]},"flag":{"M":{}},"note":{"S":""}"#.into(),
        ),
        (
            "others".into(),
            r#""name":{"S":"Cast iron pan"},"price":{"M":{"amount":{"N":"49"},"currency":{"S":"EUR"}}},"dims":{"N":"26"},"stock":{"L":[{"N":"1"},{"S":"two"}]},"flag":{"L":[{"BOOL":true}]},"thumb":{"B":"iVBORw0KGgo="},"blobs":{"BS":["AAE=","AgM="]},"tags":{"SS":["iron","heavy"]},"gone":{"NULL":true}"#.into(),
        ),
        (
            "first-mixed-list".into(),
            r#""fresh":{"L":[{"M":{"a":{"N":"1"}}},{"S":"b"},{"N":"3"},{"BOOL":false},{"L":[{"S":"c"}]}]},"empty":{"L":[]},"emptymap":{"M":{}}"#.into(),
        ),
        ("deep".into(), format!(r#""deep":{}"#, nested(32))),
        ("many-names".into(), format!(r#""wide":{{"M":{{{}}}}}"#, many.join(","))),
        ("flags".into(), r#""dims":{"BOOL":true},"price":{"L":[{"N":"1"}]},"flag":{"S":"yes"}"#.into()),
    ]
}

/// Every item through the Lambda handler, writing through the alias `index create` made: zero
/// rejections, `_source` exactly the bulk body's document, and each query kind finds its
/// document.
#[test]
fn every_value_class_through_the_handler_is_accepted_exactly_and_searchable() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let name = unique("values");
    let _cleanup = Generations(&opensearch, name.clone());
    let out = index_cmd(&opensearch, "create", &name, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let items = every_value_class();
    let records: Vec<String> = items
        .iter()
        .enumerate()
        .map(|(i, (id, image))| insert(id, i + 1, image))
        .collect();
    let event = format!(r#"{{"Records":[{}]}}"#, records.join(","));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let handler = handler(&opensearch, &name);
    let invocation = runtime
        .block_on(handler.handle(event.as_bytes(), Instant::now() + Duration::from_secs(60)))
        .unwrap();
    for (result, (id, _)) in invocation.results.iter().zip(&items) {
        assert_eq!(
            result.outcome,
            RecordOutcome::Applied(Applied::Indexed),
            "{id}: {result:?}"
        );
    }
    assert_eq!(invocation.checkpoint, Checkpoint::Complete);
    assert!(invocation.dead_lettered.is_empty());

    // `_source` is byte for byte the document the planner wrote for the item.
    let encoded = {
        let file = scratch("values.json", &event);
        let out = cli(&["encode", "--index", &name, file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let documents: Vec<&str> = encoded.lines().skip(1).step_by(2).collect();
    assert_eq!(documents.len(), items.len());
    opensearch.request("POST", &format!("/{name}/_refresh"), &[], b"");
    for ((id, _), document) in items.iter().zip(&documents) {
        let raw = opensearch.get(&format!("/{name}/_source/{id}"));
        assert_eq!(raw.status, 200, "{id}: {}", raw.text());
        assert_eq!(raw.text(), *document, "{id}");
    }
    // Spot checks written by hand, independent of the planner.
    let numbers = opensearch.get(&format!("/{name}/_source/numbers"));
    for literal in [
        r#""price":24.90"#,
        r#""stock":12345678901234567890123456789012345678"#,
        r#""huge":1E+125"#,
        r#""tiny":1E-130"#,
        r#""sizes":[0.5,1,1.5]"#,
        r#""flag":false"#,
    ] {
        assert!(
            numbers.text().contains(literal),
            "{literal} in {}",
            numbers.text()
        );
    }

    let hits = |query: Value| -> Vec<String> {
        let r = opensearch.send_json(
            "POST",
            &format!("/{name}-read/_search"),
            &json!({"query": query}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let mut ids: Vec<String> = r.json()["hits"]["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["_id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(
        hits(json!({"match": {"name": "water bottle"}})),
        ["numbers"]
    );
    assert_eq!(
        hits(json!({"term": {"category.keyword": "garden"}})),
        ["strings"]
    );
    assert_eq!(
        hits(json!({"range": {"price.number": {"gte": 20, "lte": 30}}})),
        ["numbers"]
    );
    assert_eq!(
        hits(json!({"range": {"stock.number": {"gte": 1e37}}})),
        ["numbers"]
    );
    // The exact number text is a keyword too.
    assert_eq!(
        hits(json!({"term": {"price.keyword": "24.90"}})),
        ["numbers"]
    );
}

/// The same versioned actions, sent once through the write alias and once to a plain index
/// with the same mapping, get the same answers item by item.
#[test]
fn versioned_writes_and_deletes_through_the_alias_answer_as_the_index_itself() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let name = unique("alias");
    let _cleanup = Generations(&opensearch, name.clone());
    let out = index_cmd(&opensearch, "create", &name, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plain = format!("{name}-plain");
    let body = cli(&["index", "mapping"]);
    let body: Value = serde_json::from_slice(&body.stdout).unwrap();
    assert_eq!(
        opensearch
            .send_json("PUT", &format!("/{plain}"), &body)
            .status,
        200
    );

    let action = |target: &str, op: &str, id: &str, version: u64, doc: Option<&str>| {
        let meta = format!(
            r#"{{"{op}":{{"_index":"{target}","_id":"{id}","version":{version},"version_type":"external_gte"}}}}"#
        );
        match doc {
            Some(doc) => format!("{meta}\n{doc}\n"),
            None => format!("{meta}\n"),
        }
    };
    let steps = |target: &str| -> Vec<String> {
        vec![
            action(target, "index", "a", 2_000_000, Some(r#"{"v":"two"}"#)),
            action(target, "index", "a", 1_000_000, Some(r#"{"v":"one"}"#)), // older: 409
            action(
                target,
                "index",
                "a",
                2_000_000,
                Some(r#"{"v":"two again"}"#),
            ), // equal: written
            action(target, "delete", "a", 1_000_000, None),                  // older delete: 409
            action(target, "delete", "a", 3_000_000, None),
            action(
                target,
                "index",
                "a",
                2_000_000,
                Some(r#"{"v":"older than the delete"}"#),
            ), // 409
            action(target, "delete", "a", 4_000_000, None), // already gone: 404
            action(target, "delete", "missing", 1_000_000, None), // never there: 404
            action(target, "index", "b", 5_000_000, Some(r#"{"v":{"m":1}}"#)),
        ]
    };
    let answers = |target: &str| -> Vec<Value> {
        steps(target)
            .iter()
            .map(|body| {
                let r = opensearch.bulk(body.as_bytes());
                assert_eq!(r.status, 200, "{}", r.text());
                let item = r.json()["items"][0].clone();
                let (op, answer) = item.as_object().unwrap().iter().next().unwrap();
                json!({
                    "op": op,
                    "status": answer["status"],
                    "result": answer["result"],
                    "version": answer["_version"],
                    "error": answer["error"]["type"],
                })
            })
            .collect()
    };
    let through_alias = answers(&name);
    let direct = answers(&plain);
    assert_eq!(through_alias, direct);
    // And the answers are the versioned ones, not some uniform failure.
    let statuses: Vec<u64> = direct
        .iter()
        .map(|a| a["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [201, 409, 200, 409, 200, 409, 404, 404, 201]);
    // The alias wrote into the generation it names.
    let doc = opensearch.get(&format!("/{name}-000001/_doc/b"));
    assert_eq!(doc.status, 200, "{}", doc.text());
}

#[test]
fn create_is_idempotent_and_says_so() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let name = unique("twice");
    let _cleanup = Generations(&opensearch, name.clone());
    let first = index_cmd(&opensearch, "create", &name, &["--replicas", "0"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert_eq!(
        text(&first.stdout),
        format!(
            "created index {name}-000001: catch-all rules 1, 0 mapped attributes, gc_deletes 24h, 0 replicas\n\
             alias {name} -> {name}-000001 (write index)\nalias {name}-read -> {name}-000001\n"
        )
    );
    let before = opensearch.get(&format!("/{name}-000001")).json();
    let second = index_cmd(&opensearch, "create", &name, &["--replicas", "0"]);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));
    assert!(
        text(&second.stdout).ends_with("nothing changed\n"),
        "{}",
        text(&second.stdout)
    );
    let after = opensearch.get(&format!("/{name}-000001")).json();
    assert_eq!(before, after);

    // What `index mapping NAME` prints is what create sent.
    let printed = cli(&["index", "mapping", &name, "--replicas", "0"]);
    let printed: Value = serde_json::from_slice(&printed.stdout).unwrap();
    let live = &after[format!("{name}-000001")];
    assert_eq!(live["mappings"], printed["mappings"]);
    assert_eq!(live["aliases"][&name]["is_write_index"], true);
    assert!(live["aliases"].get(format!("{name}-read")).is_some());
    let settings = &live["settings"]["index"];
    assert_eq!(settings["gc_deletes"], "24h");
    assert_eq!(settings["mapping"]["ignore_malformed"], "true");
    assert_eq!(settings["number_of_replicas"], "0");

    // Other settings on a finished setup: refused, nothing changed.
    let other = index_cmd(&opensearch, "create", &name, &["--gc-deletes", "1h"]);
    assert_eq!(other.status.code(), Some(1));
    assert!(text(&other.stderr).contains(&format!("{name}-000001 was created with another mapping or other settings (see `index status {name}`); nothing changed")));
    assert_eq!(opensearch.get(&format!("/{name}-000001")).json(), after);

    let status = index_cmd(&opensearch, "status", &name, &[]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status.stdout));
    let status = text(&status.stdout);
    assert!(
        status.contains(&format!("{name} (write alias) -> {name}-000001\n")),
        "{status}"
    );
    assert!(status.contains("index.gc_deletes 24h;"), "{status}");
    assert!(
        status.contains("index.refresh_interval 1s (default)"),
        "{status}"
    );
}

#[test]
fn create_finishes_a_setup_begun_before() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let name = unique("half");
    let _cleanup = Generations(&opensearch, name.clone());
    // The index alone, made from the printed body without aliases (as a template tool might).
    let body: Value = serde_json::from_slice(&cli(&["index", "mapping"]).stdout).unwrap();
    assert_eq!(
        opensearch
            .send_json("PUT", &format!("/{name}-000001"), &body)
            .status,
        200
    );
    let out = index_cmd(&opensearch, "create", &name, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "alias {name} -> {name}-000001 (write index)\nalias {name}-read -> {name}-000001\n\
             {name}: finished a setup begun before\n"
        )
    );
    let status = index_cmd(&opensearch, "status", &name, &[]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status.stdout));
}

#[test]
fn anything_in_the_way_is_an_error_and_is_left_as_it_is() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    // An index with the alias's name.
    let name = unique("taken");
    let _cleanup = Generations(&opensearch, name.clone());
    assert_eq!(
        opensearch
            .send_json("PUT", &format!("/{name}"), &json!({}))
            .status,
        200
    );
    let out = index_cmd(&opensearch, "create", &name, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "stream2search: {name} is an index, not an alias; index create needs the name for its write alias; nothing changed\n"
        )
    );
    assert_eq!(opensearch.get(&format!("/{name}-000001")).status, 404);

    // An alias that names someone else's index.
    let name = unique("other");
    let _cleanup2 = Generations(&opensearch, name.clone());
    let theirs = format!("{name}-theirs");
    assert_eq!(
        opensearch
            .send_json(
                "PUT",
                &format!("/{theirs}"),
                &json!({"aliases": {&name: {}}})
            )
            .status,
        200
    );
    let out = index_cmd(&opensearch, "create", &name, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!("the alias {name} names {theirs}")),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(opensearch.get(&format!("/{name}-000001")).status, 404);
    let aliases = opensearch.get(&format!("/_alias/{name}")).json();
    assert_eq!(
        aliases.as_object().unwrap().keys().collect::<Vec<_>>(),
        [&theirs]
    );

    // A first generation that someone else made.
    let name = unique("foreign");
    let _cleanup3 = Generations(&opensearch, name.clone());
    assert_eq!(
        opensearch
            .send_json("PUT", &format!("/{name}-000001"), &json!({}))
            .status,
        200
    );
    let out = index_cmd(&opensearch, "create", &name, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .contains("was not created by stream2search index create; nothing changed")
    );
    assert_eq!(opensearch.get(&format!("/_alias/{name}")).status, 404);
}

#[test]
fn a_user_mapping_merges_and_a_contradicting_one_is_refused_before_anything_is_made() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let name = unique("user");
    let _cleanup = Generations(&opensearch, name.clone());
    let good = scratch(
        "good-mapping.json",
        r#"{"properties":{"price":{"type":"double"},"sku":{"type":"keyword"}}}"#,
    );
    let out = index_cmd(
        &opensearch,
        "create",
        &name,
        &["--mapping", good.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mapping = opensearch.get(&format!("/{name}-000001/_mapping")).json();
    let properties = &mapping[format!("{name}-000001")]["mappings"]["properties"];
    assert_eq!(properties["price"]["type"], "double");
    assert_eq!(properties["sku"]["type"], "keyword");
    // A map where the user mapped a number is still accepted, and the number is a number.
    let bulk = format!(
        "{{\"index\":{{\"_index\":\"{name}\",\"_id\":\"m\"}}}}\n{{\"price\":{{\"amount\":1}}}}\n\
         {{\"index\":{{\"_index\":\"{name}\",\"_id\":\"n\"}}}}\n{{\"price\":24.90}}\n"
    );
    let r = opensearch.bulk(bulk.as_bytes());
    assert_eq!(r.json()["errors"], false, "{}", r.text());
    opensearch.request("POST", &format!("/{name}/_refresh"), &[], b"");
    let r = opensearch.send_json(
        "POST",
        &format!("/{name}-read/_search"),
        &json!({"query": {"range": {"price": {"gt": 24}}}}),
    );
    assert_eq!(r.json()["hits"]["hits"][0]["_id"], "n");

    for (contents, message) in [
        (
            r#"{"properties":{"price":{"type":"scaled_float","scaling_factor":100}}}"#,
            "price: OpenSearch refuses a map in a scaled_float field",
        ),
        (
            r#"{"properties":{"dims":{"properties":{"h":{"type":"long"}}}}}"#,
            "dims: OpenSearch refuses a string, number, boolean or set in a object field",
        ),
        (r#"{"properties":{"price":"#, "not JSON"),
    ] {
        let name = unique("refused");
        let file = scratch("bad-mapping.json", contents);
        let out = index_cmd(
            &opensearch,
            "create",
            &name,
            &["--mapping", file.to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(2), "{contents}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(file.to_str().unwrap()) && stderr.contains(message),
            "{stderr}"
        );
        assert_eq!(opensearch.get(&format!("/{name}-000001")).status, 404);
    }
}

#[test]
fn an_unreachable_server_is_a_clear_error() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let endpoint = format!("http://127.0.0.1:{port}");
    let out = cli(&[
        "index",
        "create",
        "products",
        "--endpoint",
        &endpoint,
        "--allow-http",
        "--timeout",
        "5",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("stream2search: GET /_resolve/index/products: "),
        "{stderr}"
    );
    assert!(stderr.contains("connect"), "{stderr}");
}

/// A server that answers every request 403, as a domain whose access policy leaves us out.
#[test]
fn a_forbidden_answer_names_the_request_and_the_remedy() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let mut requests = Vec::new();
        listener.set_nonblocking(false).unwrap();
        if let Ok((mut stream, _)) = listener.accept() {
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            requests.push(
                String::from_utf8_lossy(&buf[..n])
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string(),
            );
            let body = r#"{"error":{"type":"security_exception","reason":"no permissions for [indices:admin/resolve/index]"},"status":403}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        requests
    });
    let out = cli(&[
        "index",
        "create",
        "products",
        "--endpoint",
        &endpoint,
        "--allow-http",
        "--timeout",
        "5",
    ]);
    let requests = server.join().unwrap();
    assert_eq!(requests, ["GET /_resolve/index/products HTTP/1.1"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "stream2search: GET /_resolve/index/products: 403 security_exception: no permissions for \
         [indices:admin/resolve/index]: check --auth and the credentials' permissions\n"
    );
}

/// An item with more new top-level attributes than the mapping has room for: on an index made
/// by `index create`, dynamic mapping stops and the item goes in, exactly; on another index it
/// is refused, as before.
#[test]
fn at_the_field_limit_dynamic_mapping_stops_and_nothing_is_refused() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let name = unique("limit");
    let _cleanup = Generations(&opensearch, name.clone());
    let out = index_cmd(&opensearch, "create", &name, &["--field-limit", "20"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plain = format!("{name}-plain");
    let body = json!({"settings": {"index.mapping.total_fields.limit": 20}});
    assert_eq!(
        opensearch
            .send_json("PUT", &format!("/{plain}"), &body)
            .status,
        200
    );

    let wide: Vec<String> = (0..30)
        .map(|i| format!(r#""a{i:02}":{{"S":"v{i}"}}"#))
        .collect();
    let event = format!(
        r#"{{"Records":[{},{}]}}"#,
        insert("wide", 1, &wide.join(",")),
        insert(
            "later",
            2,
            r#""name":{"S":"kettle"},"brand":{"S":"new attribute"}"#
        )
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (index, want) in [
        (&plain, [false, true]), // `later` fits: only `wide` is refused
        (&name, [true, true]),
    ] {
        let invocation = runtime
            .block_on(
                handler(&opensearch, index)
                    .handle(event.as_bytes(), Instant::now() + Duration::from_secs(60)),
            )
            .unwrap();
        let indexed: Vec<bool> = invocation
            .results
            .iter()
            .map(|r| r.outcome == RecordOutcome::Applied(Applied::Indexed))
            .collect();
        assert_eq!(indexed, want, "{index}: {:?}", invocation.results);
    }
    let refused = &runtime
        .block_on(
            handler(&opensearch, &plain)
                .handle(event.as_bytes(), Instant::now() + Duration::from_secs(60)),
        )
        .unwrap()
        .results[0]
        .outcome;
    assert!(
        matches!(refused, RecordOutcome::Rejected { status: 400, reason } if reason.contains("Limit of total fields [20]")),
        "{refused:?}"
    );

    let mapping = opensearch.get(&format!("/{name}-000001/_mapping")).json();
    assert_eq!(
        mapping[format!("{name}-000001")]["mappings"]["dynamic"],
        "false"
    );
    opensearch.request("POST", &format!("/{name}/_refresh"), &[], b"");
    let source = opensearch.get(&format!("/{name}/_source/wide"));
    assert!(
        source.text().contains(r#""a29":"v29""#),
        "{}",
        source.text()
    );
    let status = text(&index_cmd(&opensearch, "status", &name, &[]).stdout);
    assert!(status.contains("dynamic mapping stopped"), "{status}");
}

/// A request the stand-in saw: request line, head, body.
type Seen = (String, String, String);

/// A fake OpenSearch Serverless collection on loopback: answers `_resolve` with 404 and a create
/// with 200, and keeps every request (request line, headers, body).
fn fake_serverless() -> (String, std::thread::JoinHandle<Vec<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let mut seen = Vec::new();
        while let Ok((mut stream, _)) = listener.accept() {
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut data = Vec::new();
            let mut buf = [0u8; 8192];
            let (head, body) = loop {
                let n = stream.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    return seen;
                }
                data.extend_from_slice(&buf[..n]);
                let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&data[..end]).to_string();
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                while data.len() < end + 4 + length {
                    let n = stream.read(&mut buf).unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    data.extend_from_slice(&buf[..n]);
                }
                break (head, String::from_utf8_lossy(&data[end + 4..]).to_string());
            };
            let line = head.lines().next().unwrap_or("").to_string();
            let (status, answer) = if line.starts_with("GET /_resolve/index/") {
                (
                    "404 Not Found",
                    r#"{"error":{"type":"index_not_found_exception","reason":"no such index"},"status":404}"#,
                )
            } else if line.starts_with("PUT /") {
                ("200 OK", r#"{"acknowledged":true}"#)
            } else {
                (
                    "400 Bad Request",
                    r#"{"error":{"type":"unexpected","reason":"not served here"},"status":400}"#,
                )
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
            let last = line.starts_with("PUT /");
            seen.push((line, head, body));
            if last {
                return seen;
            }
        }
        seen
    });
    (endpoint, server)
}

/// On OpenSearch Serverless (`--auth sigv4-aoss`) create sends mappings and aliases, no index
/// settings (AWS documents only the refresh interval and k-NN settings there), signs for `aoss`,
/// and says what it could not set.
#[test]
fn on_serverless_create_sends_no_index_settings_and_says_so() {
    let (endpoint, server) = fake_serverless();
    let out = Command::new(env!("CARGO_BIN_EXE_stream2search"))
        .args([
            "index",
            "create",
            "products",
            "--endpoint",
            &endpoint,
            "--allow-http",
        ])
        .args([
            "--auth",
            "sigv4-aoss",
            "--region",
            "eu-west-1",
            "--timeout",
            "5",
        ])
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        )
        .output()
        .unwrap();
    let seen = server.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<&str> = seen.iter().map(|(l, _, _)| l.as_str()).collect();
    assert_eq!(
        lines,
        [
            "GET /_resolve/index/products HTTP/1.1",
            "GET /_resolve/index/products-000001 HTTP/1.1",
            "GET /_resolve/index/products-read HTTP/1.1",
            "PUT /products-000001 HTTP/1.1",
        ]
    );
    for (line, head, _) in &seen {
        assert!(
            head.contains("/eu-west-1/aoss/aws4_request"),
            "{line} not signed for aoss: {head}"
        );
    }
    let body: Value = serde_json::from_str(&seen[3].2).unwrap();
    assert!(body.get("settings").is_none(), "{body}");
    assert_eq!(body["aliases"]["products"]["is_write_index"], true);
    assert_eq!(
        body["mappings"]["dynamic_templates"][0]["stream2search_any"]["match_mapping_type"],
        "*"
    );
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("OpenSearch Serverless: index.mapping.ignore_malformed and index.gc_deletes cannot be set there"), "{stdout}");
    assert!(stdout.contains("created index products-000001"), "{stdout}");

    // Settings Serverless cannot take are refused before anything is sent.
    let out = cli(&[
        "index",
        "create",
        "products",
        "--endpoint",
        &endpoint,
        "--allow-http",
        "--auth",
        "sigv4-aoss",
        "--shards",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("drop --shards, --replicas and --field-limit"));
}
