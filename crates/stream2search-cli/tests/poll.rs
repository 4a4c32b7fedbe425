//! `stream2search poll` against moto's DynamoDB and Streams (`dev/moto start`, `MOTO_URL`) and
//! the project's real OpenSearch (`dev/opensearch start`, `OPENSEARCH_URL`).
//!
//! Tables, items and queues are set up with `dev/ddb.py` (boto3 in the dev venv); the index is
//! checked against the table by `dev/ddb.py compare`, which converts items to documents on its
//! own (decimal numbers, sorted sets, base64 binary), not with stream2search.

use std::path::Path;
use std::process::{Command, Output};

use stream2search_testkit::{OpenSearch, TestIndex};

mod common;
use common::{
    ENV, checkpoint_file, compare, ddb_with, moto, poll_once, servers_and_cargo_lambda, text,
    unique, watch_products,
};

/// `dev/ddb.py ARGS` with `stdin`, which must succeed.
fn ddb(moto: &str, args: &[&str], stdin: &str) -> Output {
    ddb_with(moto, None, args, stdin, &[0])
}
/// `poll --once` over `table` into `index`, with `extra` flags and environment.
fn poll(
    moto: &str,
    opensearch: &OpenSearch,
    table: &str,
    index: &TestIndex,
    checkpoints: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Output {
    poll_once(
        &["--table", table, "--streams-endpoint", moto],
        opensearch.url(),
        index.name(),
        checkpoints,
        extra,
        env,
    )
}

const OPS: &str = r#"{"op":"put","item":{"productId":{"S":"p-1"},"name":{"S":"Titanium bottle"},"price":{"N":"24.90"},"inStock":{"BOOL":false},"note":{"S":""},"thumb":{"B":"iVBORw0KGgo="},"tags":{"SS":["outdoor","kitchen"]},"sizes":{"NS":["0.5","1.25"]},"blobs":{"BS":["AAE=","AgM="]},"dims":{"M":{"h":{"N":"24"},"w":{"N":"7.5"}}},"history":{"L":[{"S":"created"},{"NULL":true}]}}}
{"op":"put","item":{"productId":{"S":"p-2"},"name":{"S":"Bamboo board"},"price":{"N":"19.5"}}}
{"op":"update","key":{"productId":{"S":"p-2"}},"set":{"price":{"N":"18.25"}}}
{"op":"update","key":{"productId":{"S":"p-2"}},"set":{"name":{"S":"Bamboo cutting board"}},"remove":["price"]}
{"op":"put","item":{"productId":{"S":"p-3"},"name":{"S":"Gone soon"}}}
{"op":"delete","key":{"productId":{"S":"p-3"}}}
{"op":"put","item":{"productId":{"S":"p-4"},"name":{"S":"Cast iron pan"},"price":{"N":"1E+2"}}}
"#;

#[test]
fn poll_once_leaves_the_index_equal_to_the_table() {
    let (Some(moto), Some(opensearch)) = (moto(), OpenSearch::from_env()) else {
        return;
    };
    let table = unique("Products");
    let index = opensearch.index("poll equal");
    ddb(&moto, &["create", "--table", &table], "");
    ddb(&moto, &["apply", "--table", &table, "-"], OPS);
    let cp = checkpoint_file("poll");
    let out = poll(
        &moto,
        &opensearch,
        &table,
        &index,
        &cp,
        &["--batch-size", "3"],
        &[],
    );
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    // 7 changes in batches of at most 3.
    assert_eq!(
        text(&out.stdout).lines().count(),
        3,
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("3 batches, 7 records, 0 dead-lettered"),
        "{}",
        text(&out.stderr)
    );
    compare(&moto, opensearch.url(), &table, index.name()).unwrap();
    // The exact document text, as OpenSearch keeps it: numbers as the table holds them.
    let doc = index.get_doc("p-4").json();
    assert_eq!(
        doc["_source"],
        serde_json::json!({"productId":"p-4","name":"Cast iron pan","price":1E+2})
    );
    ddb(&moto, &["drop", "--table", &table], "");
}

#[test]
fn restart_resumes_after_the_last_checkpoint() {
    let (Some(moto), Some(opensearch)) = (moto(), OpenSearch::from_env()) else {
        return;
    };
    let table = unique("Products");
    let index = opensearch.index("poll restart");
    ddb(&moto, &["create", "--table", &table], "");
    ddb(&moto, &["apply", "--table", &table, "-"], OPS);
    let cp = checkpoint_file("poll");
    let first = poll(&moto, &opensearch, &table, &index, &cp, &[], &[]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&cp).unwrap()).unwrap();
    let (_, position) = saved["shards"].as_object().unwrap().iter().next().unwrap();
    let last: u128 = position["after"].as_str().unwrap().parse().unwrap();

    // Nothing new: nothing delivered again.
    let idle = poll(&moto, &opensearch, &table, &index, &cp, &[], &[]);
    assert!(idle.status.success());
    assert_eq!(text(&idle.stdout), "");
    assert!(
        text(&idle.stderr).contains("0 batches, 0 records"),
        "{}",
        text(&idle.stderr)
    );

    let more = r#"{"op":"delete","key":{"productId":{"S":"p-1"}}}
{"op":"put","item":{"productId":{"S":"p-5"},"name":{"S":"Enamel mug"}}}
"#;
    ddb(&moto, &["apply", "--table", &table, "-"], more);
    let second = poll(&moto, &opensearch, &table, &index, &cp, &[], &[]);
    assert!(second.status.success(), "{}", text(&second.stderr));
    // Only the two new changes, starting right after the checkpoint.
    let line = text(&second.stdout);
    assert!(
        line.contains(&format!(" {}..{}: 2 records;", last + 1, last + 2)),
        "{line}"
    );
    compare(&moto, opensearch.url(), &table, index.name()).unwrap();
    ddb(&moto, &["drop", "--table", &table], "");
}

#[test]
fn rejected_record_holds_the_shard_until_it_is_dead_lettered() {
    let (Some(moto), Some(opensearch)) = (moto(), OpenSearch::from_env()) else {
        return;
    };
    let table = unique("Products");
    let index = opensearch.index("poll partial");
    index.create(serde_json::json!({"mappings":{"properties":{"price":{"type":"double"}}}}));
    ddb(&moto, &["create", "--table", &table], "");
    let ops = r#"{"op":"put","item":{"productId":{"S":"a"},"price":{"N":"1"}}}
{"op":"put","item":{"productId":{"S":"b"},"price":{"S":"not a number"}}}
{"op":"put","item":{"productId":{"S":"c"},"price":{"N":"3"}}}
"#;
    ddb(&moto, &["apply", "--table", &table, "-"], ops);
    let cp = checkpoint_file("poll");

    // No dead-letter queue: the partial batch response names b; the poller resumes at b, b is
    // refused again, and it gives up after two deliveries.
    let stuck = poll(
        &moto,
        &opensearch,
        &table,
        &index,
        &cp,
        &["--max-attempts", "2"],
        &[],
    );
    assert_eq!(stuck.status.code(), Some(1), "{}", text(&stuck.stderr));
    let stdout = text(&stuck.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&cp).unwrap()).unwrap();
    let (_, position) = saved["shards"].as_object().unwrap().iter().next().unwrap();
    let b = position["at"].as_str().expect("resume at b").to_string();
    assert!(lines[0].ends_with(&format!("resume at {b}")), "{stdout}");
    // The second delivery starts at b (AT_SEQUENCE_NUMBER): 2 records, not 3.
    assert!(
        lines[1].contains(&format!(" {b}..")) && lines[1].contains(": 2 records;"),
        "{stdout}"
    );
    assert!(
        text(&stuck.stderr).contains("rejected (400)"),
        "{}",
        text(&stuck.stderr)
    );

    // With a dead-letter queue the restart sends b there and finishes the shard.
    let queue = text(&ddb(&moto, &["queue", "--name", &unique("dlq")], "").stdout)
        .trim()
        .to_string();
    let done = poll(
        &moto,
        &opensearch,
        &table,
        &index,
        &cp,
        &[],
        &[
            ("STREAM2SEARCH_DLQ_URL", &queue),
            ("STREAM2SEARCH_SQS_ENDPOINT", &moto),
            ("STREAM2SEARCH_DLQ_ALLOW_HTTP", "true"),
        ],
    );
    assert!(done.status.success(), "{}", text(&done.stderr));
    assert!(
        text(&done.stderr).contains("1 batches, 2 records, 1 dead-lettered"),
        "{}",
        text(&done.stderr)
    );
    let messages = text(&ddb(&moto, &["receive", "--queue", &queue], "").stdout);
    let messages: Vec<serde_json::Value> = messages
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["SequenceNumber"], b.as_str());
    assert_eq!(
        messages[0]["record"]["dynamodb"]["Keys"]["productId"]["S"],
        "b"
    );
    index.refresh();
    assert_eq!(index.get_doc("a").status, 200);
    assert_eq!(index.get_doc("b").status, 404);
    assert_eq!(index.get_doc("c").status, 200);
    ddb(&moto, &["drop", "--table", &table], "");
}

#[test]
fn poll_delivers_to_the_example_function_under_cargo_lambda_watch() {
    let Some((moto, opensearch, cargo_lambda)) =
        servers_and_cargo_lambda("poll to the example under cargo lambda watch")
    else {
        return;
    };
    let index = opensearch.index("poll function");
    let watch = watch_products(&cargo_lambda, &opensearch, index.name(), "poll");

    let table = unique("Products");
    ddb(&moto, &["create", "--table", &table], "");
    ddb(&moto, &["apply", "--table", &table, "-"], OPS);
    let url = watch.invocation_url("products");
    // The first invocation builds the function; the emulator waits for it.
    let out = Command::new(env!("CARGO_BIN_EXE_stream2search"))
        .args(["poll", "--once", "--max-attempts", "3"])
        .args([
            "--table",
            &table,
            "--streams-endpoint",
            &moto,
            "--function-url",
            &url,
        ])
        .arg("--checkpoints")
        .arg(checkpoint_file("poll"))
        .envs(ENV)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains(": 7 records; complete"),
        "{}",
        text(&out.stdout)
    );
    compare(&moto, opensearch.url(), &table, index.name()).unwrap();
    ddb(&moto, &["drop", "--table", &table], "");
}

/// Without `--streams-endpoint`, `poll` finds the stream where the AWS SDKs would:
/// `AWS_ENDPOINT_URL_DYNAMODB_STREAMS`, then `AWS_ENDPOINT_URL`.
#[test]
fn the_streams_endpoint_comes_from_the_aws_sdk_variables() {
    let (Some(moto), Some(opensearch)) = (moto(), OpenSearch::from_env()) else {
        return;
    };
    let table = unique("Endpoints");
    ddb(&moto, &["create", "--table", &table], "");
    ddb(&moto, &["apply", "--table", &table, "-"], OPS);
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    for (vars, works) in [
        (
            vec![("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", moto.as_str())],
            true,
        ),
        (vec![("AWS_ENDPOINT_URL", moto.as_str())], true),
        // The specific variable wins over the general one.
        (
            vec![
                ("AWS_ENDPOINT_URL", moto.as_str()),
                ("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", closed.as_str()),
            ],
            false,
        ),
    ] {
        let index = opensearch.index("poll endpoints");
        let out = Command::new(env!("CARGO_BIN_EXE_stream2search"))
            .args([
                "poll",
                "--once",
                "--allow-http",
                "--auth",
                "none",
                "--timeout",
                "5",
            ])
            .args(["--table", &table])
            .args(["--endpoint", opensearch.url(), "--index", index.name()])
            .arg("--checkpoints")
            .arg(checkpoint_file("poll"))
            .envs(ENV)
            .envs(vars.iter().copied())
            .output()
            .unwrap();
        assert_eq!(
            out.status.success(),
            works,
            "{vars:?}: {}",
            text(&out.stderr)
        );
        if works {
            compare(&moto, opensearch.url(), &table, index.name()).unwrap();
        }
    }
    ddb(&moto, &["drop", "--table", &table], "");
}
