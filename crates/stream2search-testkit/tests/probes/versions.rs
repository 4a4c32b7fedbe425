//! external_gte versions: creates, updates, deletes, conflicts, and what `index.gc_deletes` does.

use stream2search_testkit::OpenSearch;

use crate::bulk::*;

#[test]
fn index_creates_then_updates_including_at_the_same_version() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("indexed");
    seed(&os, &index, "old", VERSION);
    seed(&os, &index, "same", VERSION);
    let bulk = Bulk::default()
        .index(index.name(), "new", Some(VERSION), r#"{"a":1}"#)
        .index(index.name(), "old", Some(NEWER), r#"{"a":2}"#)
        .index(index.name(), "same", Some(VERSION), r#"{"a":3}"#);
    let response = bulk.send(&os);

    assert_eq!(items(&bulk, &response), [ok(201), ok(200), ok(200)]);
    assert_eq!(response.json()["errors"], false);
    let results: Vec<_> = (0..3).map(|n| result_of(&response, n, "index")).collect();
    assert_eq!(results, ["created", "updated", "updated"]);
    bulk.record(
        &os,
        "indexed",
        "Three external_gte index actions: a new id (201 created), an existing id at a newer \
         version (200 updated), an existing id at the same version (200 updated: external_gte \
         accepts an equal version, so a replayed record is indexed again, not a conflict).",
        &response,
    );
}

#[test]
fn delete_of_an_existing_document_is_200_deleted() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("deleted");
    seed(&os, &index, "k", VERSION);
    let bulk = Bulk::default().delete(index.name(), "k", Some(NEWER));
    let response = bulk.send(&os);

    assert_eq!(items(&bulk, &response), [ok(200)]);
    assert_eq!(result_of(&response, 0, "delete"), "deleted");
    bulk.record(
        &os,
        "deleted",
        "An external_gte delete, newer than the stored document: 200, result deleted.",
        &response,
    );
}

#[test]
fn delete_of_a_missing_document_is_404_not_found_and_leaves_a_tombstone() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("delete-missing");
    seed(&os, &index, "other", VERSION); // the index exists; this id never did
    let bulk = Bulk::default().delete(index.name(), "k", Some(VERSION));
    let response = bulk.send(&os);

    assert_eq!(items(&bulk, &response), [ok(404)]);
    assert_eq!(result_of(&response, 0, "delete"), "not_found");
    assert_eq!(response.json()["errors"], false, "a 404 delete is no error");
    let older = Bulk::default().index(index.name(), "k", Some(OLDER), r#"{"a":1}"#);
    let after = older.send(&os);
    assert_eq!(
        items(&older, &after),
        [err(409, "version_conflict_engine_exception")],
        "the versioned delete of a missing id still records its version"
    );
    bulk.record(
        &os,
        "delete_missing",
        "An external_gte delete of an id that does not exist (the index does): item status 404, \
         result not_found, no error object, and \"errors\":false. The version is still \
         recorded as a delete tombstone: an older index of the same id right after it gets 409.",
        &response,
    );
}

#[test]
fn older_index_is_a_409_version_conflict() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("stale-index");
    seed(&os, &index, "k", VERSION);
    let bulk = Bulk::default().index(index.name(), "k", Some(OLDER), r#"{"a":0}"#);
    let response = bulk.send(&os);

    assert_eq!(
        items(&bulk, &response),
        [err(409, "version_conflict_engine_exception")]
    );
    bulk.record(
        &os,
        "stale_index",
        "An external_gte index one second older than the stored version: item 409 \
         version_conflict_engine_exception (the stored document is newer; nothing changes).",
        &response,
    );
}

#[test]
fn older_delete_is_a_409_version_conflict() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("stale-delete");
    seed(&os, &index, "k", VERSION);
    let bulk = Bulk::default().delete(index.name(), "k", Some(OLDER));
    let response = bulk.send(&os);

    assert_eq!(
        items(&bulk, &response),
        [err(409, "version_conflict_engine_exception")]
    );
    assert_eq!(index.get_doc("k").status, 200, "the document survives");
    bulk.record(
        &os,
        "stale_delete",
        "An external_gte delete one second older than the stored version: item 409 \
         version_conflict_engine_exception; the document stays.",
        &response,
    );
}

#[test]
fn versioned_delete_blocks_an_older_index_only_until_gc_deletes_expires() {
    let Some(os) = OpenSearch::from_env() else {
        return;
    };
    let index = os.index("gc-deletes");
    seed(&os, &index, "k", OLDER);
    let delete = Bulk::default().delete(index.name(), "k", Some(NEWER));
    assert_eq!(items(&delete, &delete.send(&os)), [ok(200)]);

    // Inside index.gc_deletes (default 60s): the tombstone wins.
    let older = Bulk::default().index(index.name(), "k", Some(VERSION), r#"{"a":2}"#);
    let inside = older.send(&os);
    assert_eq!(
        items(&older, &inside),
        [err(409, "version_conflict_engine_exception")]
    );
    older.record(
        &os,
        "stale_index_after_delete",
        "Index at version V after a delete at V+1s, inside index.gc_deletes (default 60s): item \
         409 version_conflict_engine_exception, the deleted document stays deleted.",
        &inside,
    );

    // After it: the engine forgets the tombstone (pruned on refresh) and the older index
    // resurrects the document.
    index.put_settings(serde_json::json!({"index.gc_deletes": "0s"}));
    let mut after = None;
    for _ in 0..40 {
        index.refresh();
        let response = older.send(&os);
        if items(&older, &response)[0].0 != 409 {
            after = Some(response);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let after = after.expect("the tombstone was never pruned after gc_deletes was set to 0s");
    assert_eq!(items(&older, &after), [ok(201)]);
    assert_eq!(result_of(&after, 0, "index"), "created");
    assert_eq!(
        index.get_doc("k").status,
        200,
        "the deleted document is back"
    );
    older.record(
        &os,
        "older_index_after_gc_deletes",
        "The same index at version V after a delete at V+1s, once index.gc_deletes has expired \
         (set to 0s here, then a refresh prunes the tombstone): item 201 created. The delete is \
         forgotten and the OLDER document comes back: versioning protects a delete only for \
         gc_deletes (default 60s).",
        &after,
    );
}
