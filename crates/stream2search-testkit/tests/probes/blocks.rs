//! Index blocks: an operator's write block and the flood-stage block.

use stream2search_testkit::OpenSearch;

use crate::bulk::*;

#[test]
fn a_write_blocked_index_rejects_each_of_its_items_with_403() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let blocked = os.index("write-blocked");
    let open = os.index("write-open");
    seed(&os, &blocked, "k", VERSION);
    blocked.put_settings(serde_json::json!({"index.blocks.write": true}));
    let bulk = Bulk::default()
        .index(blocked.name(), "k", Some(NEWER), r#"{"a":2}"#)
        .delete(blocked.name(), "k", Some(NEWER))
        .index(open.name(), "k", Some(VERSION), r#"{"a":1}"#);
    let response = bulk.send(&os);

    let block = err(403, "cluster_block_exception");
    assert_eq!(items(&bulk, &response), [block.clone(), block, ok(201)]);
    bulk.record(
        &os,
        "write_blocked",
        "index.blocks.write=true on the first index: its index and delete items each get 403 \
         cluster_block_exception \"blocked by: [FORBIDDEN/8/index write (api)]\" inside a 200 \
         response; the item for another index succeeds. A block that an operator set: it \
         stays until someone lifts it.",
        &response,
    );
}

#[test]
fn a_flood_stage_read_only_allow_delete_block_rejects_each_item_with_429() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("flood-stage");
    seed(&os, &index, "k", VERSION);
    index.put_settings(serde_json::json!({"index.blocks.read_only_allow_delete": true}));
    let bulk = Bulk::default()
        .index(index.name(), "k", Some(NEWER), r#"{"a":2}"#)
        .delete(index.name(), "k", Some(NEWER));
    let response = bulk.send(&os);

    let block = err(429, "cluster_block_exception");
    assert_eq!(items(&bulk, &response), [block.clone(), block]);
    bulk.record(
        &os,
        "flood_stage_blocked",
        "index.blocks.read_only_allow_delete=true, the block OpenSearch sets itself when a disk \
         passes the flood-stage watermark: index AND delete items each get 429 \
         cluster_block_exception \"blocked by: [TOO_MANY_REQUESTS/12/disk usage exceeded \
         flood-stage watermark, ...]\" inside a 200 response (\"allow delete\" means deleting \
         the index, not documents). Retryable: the server lifts it when disk frees up.",
        &response,
    );
}
