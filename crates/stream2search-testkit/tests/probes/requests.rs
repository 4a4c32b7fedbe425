//! Whole requests: failures that reject every item, gzip bodies, and the size limit.

use stream2search_testkit::{OpenSearch, http};

use crate::bulk::*;

#[test]
fn an_id_over_512_bytes_fails_the_whole_request_with_400() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("long-id");
    let exactly_512 = Bulk::default().index(index.name(), &"a".repeat(512), None, "{}");
    assert_eq!(items(&exactly_512, &exactly_512.send(&os)), [ok(201)]);
    let bulk = Bulk::default()
        .index(index.name(), "fine", Some(VERSION), r#"{"a":1}"#)
        .index(index.name(), &"b".repeat(513), Some(VERSION), r#"{"a":1}"#);
    let response = bulk.send(&os);

    assert_eq!(response.status, 400);
    assert_eq!(
        request_error(&response),
        "action_request_validation_exception"
    );
    assert_eq!(index.get_doc("fine").status, 404, "nothing was written");
    bulk.record(
        &os,
        "id_too_long",
        "A valid item followed by an item whose _id is 513 bytes (512 is accepted): the WHOLE \
         request fails with HTTP 400 action_request_validation_exception and nothing is \
         written, not even the valid item. The core must keep such ids out of a bulk request.",
        &response,
    );
}

#[test]
fn a_malformed_action_line_fails_the_whole_request_with_400() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("malformed-action");
    // A delete followed by a source line: the source line is read as the next action.
    let mut bulk = Bulk::default()
        .index(index.name(), "fine", Some(VERSION), r#"{"a":1}"#)
        .delete(index.name(), "k", Some(VERSION));
    bulk.ndjson.push_str("{\"a\":1}\n");
    let response = bulk.send(&os);

    assert_eq!(response.status, 400);
    assert_eq!(request_error(&response), "illegal_argument_exception");
    let not_json =
        format!("{{\"index\":{{\"_index\":\"{index}\",\"_id\":\"k\"}}}}\n{{}}\nnot json\n{{}}\n");
    let garbage = os.bulk(not_json.as_bytes());
    assert_eq!(garbage.status, 400);
    assert_eq!(request_error(&garbage), "json_parse_exception");
    assert_eq!(index.get_doc("fine").status, 404, "nothing was written");
    bulk.record(
        &os,
        "malformed_action",
        "An index item, then a delete followed by a stray source line, which the server reads \
         as the next action line: the WHOLE request fails with HTTP 400 \
         illegal_argument_exception \"Malformed action/metadata line [4] ...\" and nothing is \
         written. (An action line that is not JSON gives HTTP 400 json_parse_exception; an \
         unknown action name gives 400 illegal_argument_exception.)",
        &response,
    );
}

#[test]
fn a_gzip_request_body_is_accepted() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("gzip");
    let bulk = Bulk::default()
        .index(index.name(), "k", Some(VERSION), r#"{"a":1}"#)
        .delete(index.name(), "missing", Some(VERSION));
    let response = os.request(
        "POST",
        "/_bulk",
        &[
            ("Content-Type", "application/x-ndjson"),
            ("Content-Encoding", "gzip"),
        ],
        &http::gzip(bulk.ndjson.as_bytes()),
    );

    assert_eq!(items(&bulk, &response), [ok(201), ok(404)]);
    bulk.record(
        &os,
        "gzip_request",
        "The request body (shown uncompressed) was sent gzip-compressed with Content-Encoding: \
         gzip: accepted, answered as usual (uncompressed, since no Accept-Encoding was sent).",
        &response,
    );
}

#[test]
fn a_body_over_http_max_content_length_is_413_with_an_empty_body() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("too-large");
    // dev/opensearch sets http.max_content_length=10mb; send eleven 1 MiB documents.
    let doc = format!(r#"{{"a":"{}"}}"#, "x".repeat(1 << 20));
    let mut bulk = Bulk::default();
    for n in 0..11 {
        bulk = bulk.index(index.name(), &n.to_string(), Some(VERSION), &doc);
    }
    let response = bulk.send(&os);

    assert_eq!(response.status, 413);
    assert!(response.body.is_empty(), "{:?}", response.text());
    let compressed = os.request(
        "POST",
        "/_bulk",
        &[
            ("Content-Type", "application/x-ndjson"),
            ("Content-Encoding", "gzip"),
        ],
        &http::gzip(bulk.ndjson.as_bytes()),
    );
    assert_eq!(
        compressed.status, 413,
        "the limit applies after decompression"
    );
    let first_item: String = bulk.ndjson.lines().next().unwrap_or_default().to_string();
    bulk.record_as(
        &os,
        "too_large",
        &format!(
            "Eleven index actions with a 1 MiB document each ({} bytes) to a node with \
             http.max_content_length=10mb: HTTP 413 with an EMPTY body (no JSON), nothing \
             written. The same body gzip-compressed to a few KiB is also 413: the limit applies \
             to the decompressed size. The request field is abbreviated: it shows the first \
             action line only.",
            bulk.ndjson.len()
        ),
        &format!("{first_item}\n"),
        &response,
    );
}
