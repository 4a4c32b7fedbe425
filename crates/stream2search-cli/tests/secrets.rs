//! No credential ever appears in what `stream2search replay` and `stream2search poll` write.
//!
//! Each run has distinctive credentials in its environment (an AWS key pair with a session
//! token, a basic-auth user and password) and `RUST_LOG=trace`, and provokes errors: a record
//! OpenSearch rejects, credentials a server refuses (401, 403), an endpoint that never answers,
//! a dead-letter queue, configuration errors with a secret right next to the bad value. Its
//! stdout and stderr are searched for each secret (and for the base64 of `user:password`, as
//! basic auth sends it); each run must also have written the errors it provoked.
//!
//! Needs the project's OpenSearch (`OPENSEARCH_URL`) and moto (`MOTO_URL`, with `dev/ddb.py`
//! in the dev venv), as `tests/poll.rs`.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use stream2search_testkit::OpenSearch;
use stream2search_testkit::loopback::{answering, hanging};
use stream2search_testkit::secrets::Credentials;

const ACCESS_KEY: &str = "AKIAS2SCLICHECK4K8M2";
const SECRET_KEY: &str = "s2sCliSecretKey/NeverInOutput+0a1b2c3d4e5f";
const SESSION_TOKEN: &str = "s2sCliSessionToken/NeverInOutput+IQoJb3JpZ2lu==";
const USERNAME: &str = "s2s-cli-indexer-3e9a";
const PASSWORD: &str = "s2s-Cli-Pa55word-NeverInOutput";

/// Every form in which one of this test's credentials could leak.
const CREDENTIALS: Credentials = Credentials {
    access_key: ACCESS_KEY,
    secret_key: SECRET_KEY,
    session_token: SESSION_TOKEN,
    username: USERNAME,
    password: PASSWORD,
};

/// The environment of every run: all the secrets, and logs at TRACE should anything read it.
fn secret_env() -> [(&'static str, &'static str); 7] {
    [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_SESSION_TOKEN", SESSION_TOKEN),
        ("OPENSEARCH_USERNAME", USERNAME),
        ("OPENSEARCH_PASSWORD", PASSWORD),
        ("AWS_REGION", "us-east-1"),
        ("RUST_LOG", "trace"),
    ]
}

/// Runs `stream2search ARGS` with the secrets and `env`; asserts its exit status, that its output
/// holds every `expected` text and no secret.
fn run(args: &[&str], env: &[(&str, &str)], status: i32, expected: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_stream2search"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(secret_env())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(status), "{args:?}\n{text}");
    for e in expected {
        assert!(text.contains(e), "{args:?}: expected {e:?} in\n{text}");
    }
    CREDENTIALS.assert_absent(&format!("{args:?}"), &text);
}

const UNAUTHORIZED: &str = r#"{"error":{"type":"security_exception","reason":"missing authentication credentials"},"status":401}"#;
const FORBIDDEN: &str = r#"{"__type":"com.amazon.coral.service#AccessDeniedException","Message":"User is not authorized"}"#;

/// p-1 is indexed; p-2's price is an object, which an index mapping price as float rejects.
const EVENT: &str = r#"{"Records":[
{"eventID":"e-1","eventName":"INSERT","dynamodb":{"ApproximateCreationDateTime":1767226000,"Keys":{"productId":{"S":"p-1"}},"NewImage":{"productId":{"S":"p-1"},"price":{"N":"5"}},"SequenceNumber":"900","StreamViewType":"NEW_AND_OLD_IMAGES"}},
{"eventID":"e-2","eventName":"INSERT","dynamodb":{"ApproximateCreationDateTime":1767226001,"Keys":{"productId":{"S":"p-2"}},"NewImage":{"productId":{"S":"p-2"},"price":{"M":{"amount":{"N":"6"}}}},"SequenceNumber":"901","StreamViewType":"NEW_AND_OLD_IMAGES"}}
]}"#;

fn scratch(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("secrets-{}-{name}", std::process::id()))
}

#[test]
fn replay_writes_no_secret_whatever_fails() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let index = opensearch.index("cli secrets replay");
    index.create(serde_json::json!({"mappings":{"properties":{"price":{"type":"float"}}}}));
    let file = scratch("event.json");
    std::fs::write(&file, EVENT).unwrap();
    let file = file.to_str().unwrap();
    let replay = |endpoint: &str, auth: &[&str]| -> Vec<String> {
        let mut args = vec![
            "replay",
            "--allow-http",
            "--timeout",
            "3",
            "--index",
            index.name(),
        ];
        args.extend_from_slice(&["--endpoint", endpoint]);
        args.extend_from_slice(auth);
        args.push(file);
        args.into_iter().map(str::to_owned).collect()
    };
    let call = |args: Vec<String>, status: i32, expected: &[&str]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args, &[], status, expected);
    };

    // Basic auth to the real node: p-2 is rejected.
    call(
        replay(opensearch.url(), &["--auth", "basic"]),
        1,
        &[
            "rejected (400)",
            "mapper_parsing_exception",
            "resume at 901",
        ],
    );
    // SigV4 with the session token, region from the environment, then from the flag.
    call(
        replay(opensearch.url(), &["--auth", "sigv4-es"]),
        1,
        &["rejected (400)"],
    );
    call(
        replay(
            opensearch.url(),
            &["--auth", "sigv4-aoss", "--region", "eu-west-1"],
        ),
        1,
        &["rejected (400)"],
    );
    // Credentials refused.
    let unauthorized = answering("401 Unauthorized", UNAUTHORIZED);
    call(
        replay(&unauthorized, &["--auth", "basic"]),
        1,
        &["401", "missing authentication credentials", "resume at 900"],
    );
    let forbidden = answering("403 Forbidden", FORBIDDEN);
    call(
        replay(&forbidden, &["--auth", "sigv4-es"]),
        1,
        &["403", "not authorized", "resume at 900"],
    );
    // Nothing answers: time runs out.
    call(
        replay(&hanging(), &["--auth", "sigv4-es"]),
        1,
        &["not durable", "out of time", "resume at 900"],
    );
    // Nothing listens.
    call(
        replay("http://127.0.0.1:9", &["--auth", "basic"]),
        1,
        &["not durable", "resume at 900"],
    );
    // A password in the endpoint is refused without being echoed.
    call(
        replay(
            &format!("https://{USERNAME}:{PASSWORD}@search.example"),
            &["--auth", "none"],
        ),
        2,
        &["user info"],
    );
}

/// `dev/ddb.py ARGS` with `stdin`, as moto's own test user; its stdout.
fn ddb(moto: &str, args: &[&str], stdin: &str) -> String {
    let mut command = stream2search_testkit::moto::ddb(moto);
    let out = stream2search_testkit::moto::run(command.args(args), stdin, &[0]);
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn poll_writes_no_secret_whatever_fails() {
    let Some(moto) = stream2search_testkit::moto_url(&[&stream2search_testkit::moto::python()])
    else {
        return;
    };
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let index = opensearch.index("cli secrets poll");
    index.create(serde_json::json!({"mappings":{"properties":{"price":{"type":"float"}}}}));
    let table = format!("Secrets-{}", std::process::id());
    ddb(&moto, &["create", "--table", &table], "");
    ddb(
        &moto,
        &["apply", "--table", &table, "-"],
        r#"{"op":"put","item":{"productId":{"S":"p-1"},"price":{"N":"5"}}}
{"op":"put","item":{"productId":{"S":"p-2"},"price":{"M":{"amount":{"N":"6"}}}}}
"#,
    );
    let queue = ddb(
        &moto,
        &[
            "queue",
            "--name",
            &format!("secrets-{}", std::process::id()),
        ],
        "",
    )
    .trim()
    .to_owned();
    let checkpoints = scratch("poll.json");
    let checkpoints = checkpoints.to_str().unwrap();
    let poll = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["poll", "--once", "--max-attempts", "1", "--timeout", "3"];
        args.extend_from_slice(&["--table", &table, "--checkpoints", checkpoints]);
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect()
    };
    let call = |args: Vec<String>, env: &[(&str, &str)], status: i32, expected: &[&str]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args, env, status, expected);
    };
    let dlq = [
        ("STREAM2SEARCH_DLQ_URL", queue.as_str()),
        ("STREAM2SEARCH_SQS_ENDPOINT", moto.as_str()),
        ("STREAM2SEARCH_DLQ_ALLOW_HTTP", "true"),
    ];
    let node = [
        "--endpoint",
        opensearch.url(),
        "--allow-http",
        "--index",
        index.name(),
    ];

    // The queue is plain http and not allowed: refused at start, naming the variable.
    call(
        poll(&[&["--streams-endpoint", &moto, "--auth", "basic"][..], &node].concat()),
        &dlq[..2],
        2,
        &["STREAM2SEARCH_DLQ_ALLOW_HTTP"],
    );
    // OpenSearch refuses the credentials: the batch fails and the poller gives up.
    let unauthorized = answering("401 Unauthorized", UNAUTHORIZED);
    call(
        poll(&[
            "--streams-endpoint",
            &moto,
            "--auth",
            "basic",
            "--endpoint",
            &unauthorized,
            "--allow-http",
            "--index",
            index.name(),
        ]),
        &dlq,
        1,
        &["401", "missing authentication credentials"],
    );
    // OpenSearch never answers (SigV4 with the session token).
    call(
        poll(&[
            "--streams-endpoint",
            &moto,
            "--auth",
            "es",
            "--endpoint",
            &hanging(),
            "--allow-http",
            "--index",
            index.name(),
        ]),
        &dlq,
        1,
        &["not durable", "out of time"],
    );
    // The Streams API refuses the credentials.
    let forbidden = answering("403 Forbidden", FORBIDDEN);
    call(
        poll(
            &[
                &["--streams-endpoint", &forbidden, "--auth", "basic"][..],
                &node,
            ]
            .concat(),
        ),
        &dlq,
        2,
        &["403"],
    );
    // Basic auth to the real node: p-2 is rejected and dead-lettered, signed with the key pair
    // and the session token.
    call(
        poll(&[&["--streams-endpoint", &moto, "--auth", "basic"][..], &node].concat()),
        &dlq,
        0,
        &["1 batches, 2 records, 1 dead-lettered"],
    );
    let messages = ddb(&moto, &["receive", "--queue", &queue], "");
    assert!(messages.contains("\"p-2\""), "{messages}");
    ddb(&moto, &["drop", "--table", &table], "");
}
