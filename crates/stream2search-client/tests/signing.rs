//! What goes on the wire: SigV4 headers and a signature recomputed here by hand from the AWS
//! specification (not with aws-sigv4), and a gzip body that decodes to exactly the plan's NDJSON.

mod common;

use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use common::*;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use stream2search_client::{Client, Service, SigV4};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request};

const KEY_ID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "FQoGZXIvYXdzEXAMPLESESSIONTOKEN//////////wEaDN";

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")
fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date);
    let k_region = hmac(&k_date, region);
    let k_service = hmac(&k_region, service);
    hmac(&k_service, "aws4_request")
}

#[test]
fn hand_written_signing_key_matches_the_published_aws_example() {
    // "Examples of how to derive a signing key for Signature Version 4", AWS General Reference.
    assert_eq!(
        hex::encode(signing_key(SECRET, "20150830", "us-east-1", "iam")),
        "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
    );
}

fn header<'a>(request: &'a Request, name: &str) -> &'a str {
    request
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

/// Checks the SigV4 headers of a received request and recomputes its signature.
fn assert_signed(request: &Request, service: &str, region: &str, signed: &[&str]) {
    let sha = hex::encode(Sha256::digest(&request.body));
    assert_eq!(
        header(request, "x-amz-content-sha256"),
        sha,
        "the signed payload hash is of the bytes received"
    );
    let amz_date = header(request, "x-amz-date");
    let date = &amz_date[..8];
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let signed_headers = signed.join(";");

    let mut canonical = format!("POST\n{}\n\n", request.url.path());
    for name in signed {
        canonical.push_str(&format!("{name}:{}\n", header(request, name).trim()));
    }
    canonical.push_str(&format!("\n{signed_headers}\n{sha}"));
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let signature = hex::encode(hmac(
        &signing_key(SECRET, date, region, service),
        &string_to_sign,
    ));

    assert_eq!(
        header(request, "authorization"),
        format!(
            "AWS4-HMAC-SHA256 Credential={KEY_ID}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
        )
    );
}

async fn send_one(service: Service, token: Option<&str>, gzip: bool) -> (Request, Vec<u8>) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/_bulk"))
        .respond_with(scripted(|_, _, _| Ok(201)).0)
        .mount(&server)
        .await;
    let credentials = Credentials::new(KEY_ID, SECRET, token.map(str::to_owned), None, "test");
    let mut config = config(&server.uri());
    config.gzip = gzip;
    config.auth = stream2search_client::Auth::SigV4(SigV4::new(service, "eu-west-1", credentials));
    let plan = inserts(3);
    let report = Client::new(config)
        .unwrap()
        .send(&plan, Instant::now() + Duration::from_secs(30))
        .await
        .unwrap();
    assert!(report.finals.iter().all(|f| *f
        == stream2search::checkpoint::RecordOutcome::Applied(
            stream2search::outcome::Applied::Indexed
        )));
    let mut expected = Vec::new();
    plan.encode(&[0, 1, 2], &mut expected);
    let mut requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    (requests.remove(0), expected)
}

const WITH_TOKEN: &[&str] = &[
    "content-encoding",
    "content-length",
    "content-type",
    "host",
    "x-amz-content-sha256",
    "x-amz-date",
    "x-amz-security-token",
];

#[tokio::test]
async fn es_signature_with_session_token_matches_a_hand_computed_one() {
    let (request, _) = send_one(Service::Es, Some(TOKEN), true).await;
    assert_eq!(header(&request, "x-amz-security-token"), TOKEN);
    assert_eq!(header(&request, "content-encoding"), "gzip");
    assert_signed(&request, "es", "eu-west-1", WITH_TOKEN);
}

#[tokio::test]
async fn aoss_signature_with_session_token_matches_a_hand_computed_one() {
    let (request, _) = send_one(Service::Aoss, Some(TOKEN), true).await;
    assert_eq!(request.method.as_str(), "POST");
    assert_signed(&request, "aoss", "eu-west-1", WITH_TOKEN);
}

#[tokio::test]
async fn uncompressed_signature_without_token_signs_no_token_header() {
    let (request, expected) = send_one(Service::Es, None, false).await;
    assert!(request.headers.get("x-amz-security-token").is_none());
    assert!(request.headers.get("content-encoding").is_none());
    assert_eq!(request.body, expected);
    assert_signed(
        &request,
        "es",
        "eu-west-1",
        &[
            "content-length",
            "content-type",
            "host",
            "x-amz-content-sha256",
            "x-amz-date",
        ],
    );
}

#[tokio::test]
async fn gzip_body_decodes_to_exactly_the_ndjson() {
    let (request, expected) = send_one(Service::Es, None, true).await;
    assert_eq!(header(&request, "content-type"), "application/x-ndjson");
    assert_ne!(request.body, expected);
    assert_eq!(ndjson(&request), expected);
    assert_eq!(
        header(&request, "content-length"),
        request.body.len().to_string()
    );
}

#[tokio::test]
async fn basic_auth_sends_the_standard_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(scripted(|_, _, _| Ok(201)).0)
        .mount(&server)
        .await;
    let mut config = config(&server.uri());
    config.auth = stream2search_client::Auth::basic("Aladdin", "open sesame");
    Client::new(config)
        .unwrap()
        .send(&inserts(1), Instant::now() + Duration::from_secs(30))
        .await
        .unwrap();
    let requests = server.received_requests().await.unwrap();
    // RFC 7617's example.
    assert_eq!(
        header(&requests[0], "authorization"),
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    );
}

#[tokio::test]
async fn aws_json_calls_are_signed_for_their_service_with_the_target_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_string(r#"{"Successful":[]}"#))
        .mount(&server)
        .await;
    let credentials = Credentials::new(KEY_ID, SECRET, Some(TOKEN.to_owned()), None, "test");
    let mut config = config(&server.uri());
    config.auth =
        stream2search_client::Auth::SigV4(SigV4::new(Service::Sqs, "eu-west-1", credentials));
    let client = Client::new(config).unwrap();
    let (status, body) = client
        .call_aws_json(
            "AmazonSQS.SendMessageBatch",
            br#"{"QueueUrl":"q","Entries":[]}"#.to_vec(),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(&body[..], br#"{"Successful":[]}"#);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.body, br#"{"QueueUrl":"q","Entries":[]}"#);
    assert_eq!(
        header(request, "x-amz-target"),
        "AmazonSQS.SendMessageBatch"
    );
    assert_eq!(
        header(request, "content-type"),
        "application/x-amz-json-1.0"
    );
    assert_signed(
        request,
        "sqs",
        "eu-west-1",
        &[
            "content-length",
            "content-type",
            "host",
            "x-amz-content-sha256",
            "x-amz-date",
            "x-amz-security-token",
            "x-amz-target",
        ],
    );
}

#[tokio::test]
async fn kinesis_calls_are_signed_for_kinesis_with_json_1_1() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_string(r#"{"Shards":[]}"#))
        .mount(&server)
        .await;
    let credentials = Credentials::new(KEY_ID, SECRET, None, None, "test");
    let mut config = config(&server.uri());
    config.auth =
        stream2search_client::Auth::SigV4(SigV4::new(Service::Kinesis, "eu-west-1", credentials));
    let client = Client::new(config).unwrap();
    let (status, _) = client
        .call_aws_json(
            "Kinesis_20131202.ListShards",
            br#"{"StreamName":"s"}"#.to_vec(),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let requests = server.received_requests().await.unwrap();
    let request = &requests[0];
    assert_eq!(
        header(request, "x-amz-target"),
        "Kinesis_20131202.ListShards"
    );
    // Kinesis speaks JSON 1.1 (botocore's kinesis service model: "jsonVersion": "1.1").
    assert_eq!(
        header(request, "content-type"),
        "application/x-amz-json-1.1"
    );
    assert_signed(
        request,
        "kinesis",
        "eu-west-1",
        &[
            "content-length",
            "content-type",
            "host",
            "x-amz-content-sha256",
            "x-amz-date",
            "x-amz-target",
        ],
    );
}
