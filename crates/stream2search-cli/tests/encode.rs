//! `stream2search encode`, run as a user runs it.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn sample() -> String {
    format!(
        "{}/../../examples/events/products.json",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn encode(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stream2search"))
        .arg("encode")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap()
}

/// `examples/events/products-kinesis.json` holds the sample's changes as the Lambda Kinesis event
/// of Kinesis Data Streams for DynamoDB (timestamps in milliseconds): the same bulk body, byte for
/// byte, and the bad record named by its Kinesis sequence number.
#[test]
fn the_kinesis_sample_prints_the_same_bulk_body() {
    let kinesis = format!(
        "{}/../../examples/events/products-kinesis.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let streams = encode(&["--index", "products", &sample()], None);
    let out = encode(&["--index", "products", &kinesis], None);
    assert_eq!(text(&out.stdout), text(&streams.stdout));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim_end(),
        "record 3 49590338271490256608559692538361571095921575989136000004: \
         kinesis.data.NewImage.price: invalid number \"1E+999\": magnitude outside DynamoDB's \
         range 1E-130 to 9.99E+125"
    );
}

const ONE_INSERT: &str = r#"{"Records":[{"eventID":"1","eventName":"INSERT","dynamodb":{"ApproximateCreationDateTime":1700000000,"Keys":{"id":{"S":"a|b"}},"NewImage":{"id":{"S":"a|b"},"n":{"N":"007.50"}},"SequenceNumber":"5"}}]}"#;

#[test]
fn sample_event_prints_the_exact_bulk_body_and_reports_the_bad_record() {
    let out = encode(&["--index", "products", &sample()], None);
    // Written by hand from the event: ids from productId, versions = the timestamp in
    // microseconds (1767225601.25 s -> 1767225601250000),
    // numbers as their decimal text (+19.5 -> 19.5), `_id` renamed, record 3 (1E+999) refused.
    let want = concat!(
        r#"{"index":{"_index":"products","_id":"p-100","version":1767225600000000,"version_type":"external_gte"}}"#,
        "\n",
        r#"{"productId":"p-100","name":"Titanium water bottle","price":24.90,"stock":12345678901234567890123456789012345678,"inStock":false,"note":"","tags":["outdoor","kitchen"],"sizes":[0.5,1E+0],"thumbnail":"iVBORw0KGgo=","dims":{"h":24,"w":7.5},"history":["created",null],"ddb_id":"legacy-id"}"#,
        "\n",
        r#"{"index":{"_index":"products","_id":"p-101","version":1767225601250000,"version_type":"external_gte"}}"#,
        "\n",
        r#"{"productId":"p-101","name":"Bamboo cutting board","price":19.5}"#,
        "\n",
        r#"{"delete":{"_index":"products","_id":"p-102","version":1767225602000000,"version_type":"external_gte"}}"#,
        "\n",
    );
    assert_eq!(text(&out.stdout), want);
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("record 3 111000000000000000000000000000000000004: NewImage.price: invalid number \"1E+999\""),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn all_records_converting_exits_zero_with_nothing_on_stderr() {
    let out = encode(&["--index", "t", "-"], Some(ONE_INSERT.as_bytes()));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    assert_eq!(
        text(&out.stdout),
        concat!(
            r#"{"index":{"_index":"t","_id":"a\\|b","version":1700000000000000,"version_type":"external_gte"}}"#,
            "\n",
            r#"{"id":"a|b","n":7.50}"#,
            "\n"
        )
    );
}

#[test]
fn options_change_versions_and_stamp_documents() {
    let out = encode(
        &[
            "--index",
            "t",
            "--no-version",
            "--indexed-at",
            "seen",
            "--now",
            "2026-01-02T03:04:05Z",
            "-",
        ],
        Some(ONE_INSERT.as_bytes()),
    );
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines[0],
        serde_json::json!({"index": {"_index": "t", "_id": "a\\|b"}})
    );
    assert_eq!(lines[1]["seen"], "2026-01-02T03:04:05Z");
}

#[test]
fn payload_that_is_not_an_event_exits_two() {
    for input in [&b"[1,2]"[..], b"{\"Records\":[", b"not json", b"{}"] {
        let out = encode(&["-"], Some(input));
        assert_eq!(out.status.code(), Some(2), "{:?}", text(input));
        assert!(
            text(&out.stderr).starts_with("stream2search: "),
            "{}",
            text(&out.stderr)
        );
        assert_eq!(out.stdout, b"");
    }
}

#[test]
fn usage_errors_exit_two() {
    let missing = encode(&["/nonexistent/event.json"], None);
    assert_eq!(missing.status.code(), Some(2));
    let bad_index = encode(&["--index", "Bad Index", &sample()], None);
    assert_eq!(bad_index.status.code(), Some(2));
    assert!(
        text(&bad_index.stderr).contains("invalid configuration"),
        "{}",
        text(&bad_index.stderr)
    );
}

/// An event of more than 2 MiB (read from a file into huge pages, or from stdin into a `Vec`)
/// prints, either way, the bulk body written here record by record.
#[test]
fn an_event_over_two_mib_prints_the_same_body_from_a_file_and_from_stdin() {
    let pad = "x".repeat(1000);
    let n = 2500;
    let mut event = String::from(r#"{"Records":["#);
    let mut want = String::new();
    for i in 0..n {
        if i > 0 {
            event.push(',');
        }
        event.push_str(&format!(
            r#"{{"eventID":"{i}","eventName":"INSERT","dynamodb":{{"ApproximateCreationDateTime":1700000000,"Keys":{{"id":{{"S":"k{i}"}}}},"NewImage":{{"id":{{"S":"k{i}"}},"n":{{"N":"{i}.50"}},"pad":{{"S":"{pad}"}}}},"SequenceNumber":"{}"}}}}"#,
            i + 1
        ));
        want.push_str(&format!(
            "{{\"index\":{{\"_index\":\"t\",\"_id\":\"k{i}\",\"version\":1700000000000000,\"version_type\":\"external_gte\"}}}}\n{{\"id\":\"k{i}\",\"n\":{i}.50,\"pad\":\"{pad}\"}}\n"
        ));
    }
    event.push_str("]}");
    assert!(event.len() > 2 << 20, "{} bytes", event.len());
    let dir = std::env::temp_dir().join(format!("s2s-encode-big-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("big.json");
    std::fs::write(&file, &event).unwrap();
    // A chunk holds at most 1,000 actions: three bulk bodies, written one after another.
    let from_file = encode(&["--index", "t", file.to_str().unwrap()], None);
    let from_stdin = encode(&["--index", "t", "-"], Some(event.as_bytes()));
    std::fs::remove_dir_all(&dir).unwrap();
    for out in [from_file, from_stdin] {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(text(&out.stderr), "");
        assert!(text(&out.stdout) == want, "{} bytes out", out.stdout.len());
    }
}

/// The binary defines `pow` itself (src/pow.rs), so the process maps glibc's `libc.so.6` and no
/// `libm.so.6`, which it would otherwise load at every start for that one symbol. Read from
/// `/proc/PID/maps` once `encode -` sleeps waiting for its standard input (the loader done).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn the_process_loads_no_libm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stream2search"))
        .args(["encode", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let proc = format!("/proc/{}", child.id());
    let libraries = |maps: &str| -> Vec<String> {
        maps.lines()
            .filter_map(|line| line.split_whitespace().nth(5))
            .filter_map(|path| path.rsplit('/').next())
            .filter(|name| name.contains(".so"))
            .map(str::to_owned)
            .collect()
    };
    let mut maps = String::new();
    for _ in 0..1000 {
        maps = std::fs::read_to_string(format!("{proc}/maps")).unwrap();
        let stat = std::fs::read_to_string(format!("{proc}/stat")).unwrap();
        // The state follows the command's name in parentheses: S, sleeping in read(0, ..).
        let sleeping = stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('S'));
        if sleeping
            && libraries(&maps)
                .iter()
                .any(|name| name.starts_with("libc.so"))
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(br#"{"Records":[]}"#).unwrap();
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let libraries = libraries(&maps);
    // The loader has run (libc is there), and libm is not.
    assert!(
        libraries.iter().any(|name| name.starts_with("libc.so")),
        "{maps}"
    );
    assert!(
        !libraries
            .iter()
            .any(|name| name.starts_with("libm.so") || name.starts_with("libm-")),
        "{maps}"
    );
}
