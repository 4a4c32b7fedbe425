//! The example binary as Lambda runs it: under `cargo lambda watch` (the Lambda Runtime API
//! emulator), invoked with the event files in `events/`, against the project's real OpenSearch.
//!
//! Needs `cargo lambda` (`pip install cargo-lambda`; `dev/moto start` installs it into
//! `.dev/venv`, which this test also looks in). Without it the test prints `SKIPPED: ...`, unless
//! `STREAM2SEARCH_REQUIRE_CARGO_LAMBDA=1`. The emulator builds the function into its own target
//! directory (`target/cargo-lambda-watch`), so it never waits on the lock of the running build.

use std::path::Path;

use serde_json::json;
use stream2search_testkit::OpenSearch;
use stream2search_testkit::lambda::CargoLambda;

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn example_under_cargo_lambda_watch_indexes_and_deletes() {
    let Some(opensearch) = OpenSearch::from_env() else {
        return;
    };
    let Some(cargo_lambda) = CargoLambda::find("example under cargo lambda watch") else {
        return;
    };
    let index = opensearch.index("example watch");
    index.create(json!({}));
    let log = std::env::temp_dir().join(format!("watch-{}.log", std::process::id()));
    let watch = cargo_lambda.watch(
        Path::new(MANIFEST),
        opensearch.function_env(index.name()),
        &log,
    );
    let events = Path::new(MANIFEST).join("events");
    let invoke = |event: &str| {
        let file = events.join(event);
        watch.invoke("products", [Path::new("--data-file"), file.as_path()])
    };

    // The first invocation compiles the function; the emulator waits for it.
    assert_eq!(invoke("insert.json"), json!({"batchItemFailures": []}));
    index.refresh();
    let doc = index.get_doc("p-1").json();
    assert_eq!(
        doc["_source"],
        json!({"productId":"p-1","name":"Titanium water bottle","price":24.90,"inStock":false,"tags":["outdoor","kitchen"]})
    );
    assert_eq!(doc["_version"], json!(1_767_225_600_000_000_u64));
    assert_eq!(index.get_doc("p-2").json()["_source"]["price"], json!(19.5));

    assert_eq!(invoke("remove.json"), json!({"batchItemFailures": []}));
    index.refresh();
    assert_eq!(index.get_doc("p-2").status, 404);
    assert_eq!(index.get_doc("p-1").status, 200);
}
